//! An image: its events, its commands, fold and decide; and where articles place images.
//!
//! An image's bytes are not in the log. They live once in the content-addressed blob store,
//! under their BLAKE3 hash; `ImageUploaded` names that hash, and everything later (captions,
//! credits, crops, retirement) is an event of the image's own stream.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::Event;
use super::ids::ImageId;
use super::{Meta, Rejection};

/// Size limits of an image's fields, in bytes unless said otherwise.
pub mod limits {
    /// A caption.
    pub const CAPTION: usize = 4 * 1024;
    /// Alt text.
    pub const ALT: usize = 1024;
    /// A credit.
    pub const CREDIT: usize = 256;
    /// Rights or licence.
    pub const RIGHTS: usize = 1024;
    /// A crop's name.
    pub const CROP_NAME: usize = 32;
    /// Crops on one image (a count).
    pub const CROPS: usize = 16;
    /// Images placed in one article (a count).
    pub const PLACEMENTS: usize = 64;
}

/// What the file said about itself (IPTC/EXIF), read at upload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddedFacts {
    /// Who made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    /// The credit line it carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit: Option<String>,
    /// Its copyright notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copyright: Option<String>,
    /// When it was taken, as the file says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
    /// A caption embedded in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
}

/// An image's bytes were stored; the stream begins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageUploaded {
    /// BLAKE3 of the bytes, 64 lowercase hex digits: the blob's name.
    pub hash: String,
    /// `image/jpeg`, `image/png`, `image/webp` or `image/gif`, read from the content.
    pub media_type: String,
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
    /// Size of the file.
    pub bytes: u64,
    /// What the file said about itself.
    #[serde(default)]
    pub embedded: EmbeddedFacts,
    /// The caption given at upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// The credit given at upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit: Option<String>,
    /// The alt text given at upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
}

/// Some of an image's descriptive fields changed; only the changed ones are present.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDescribed {
    /// New caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// New alt text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
    /// New credit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit: Option<String>,
    /// New rights or licence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights: Option<String>,
    /// When the rights run out: readers get 410 from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights_expire_at: Option<DateTime<Utc>>,
}

/// A named crop of an image, in the master's pixels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crop {
    /// Its name (`square`, `wide`): the `{crop}` of rendition URLs.
    pub name: String,
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Focal point, across, in the master's pixels.
    pub focal_x: u32,
    /// Focal point, down.
    pub focal_y: u32,
}

/// The image's named crops were set (the whole list).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageCropped {
    /// Every crop, replacing the earlier list.
    pub crops: Vec<Crop>,
}

/// The image was retired: readers get 410 for it from then on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRetired {
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The image was taken down (a court order, a legal demand): no reader gets it at any instant
/// until it is restored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageTakenDown {
    /// Why (for staff).
    pub reason: String,
    /// The order or demand it follows, shown to readers in the notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_reference: Option<String>,
}

/// A takedown was undone: readers get the image again where it was public.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRestored {
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The image was erased: its bytes are destroyed on every node, and its stream keeps only this
/// tombstone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageErased {
    /// Why (kept in the tombstone).
    pub reason: String,
}

/// Where an image sits in an article.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// At the top.
    Lead,
    /// In the text.
    Inline,
    /// In a gallery.
    Gallery,
}

/// An image placed in an article (or its placement changed: the same image again replaces it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The image.
    pub image_id: ImageId,
    /// Where it sits.
    pub role: Role,
    /// The crop shown (`full` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop: Option<String>,
    /// A caption for this article only; the image's own caption otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// A credit for this article only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit: Option<String>,
}

/// An image was placed in the article (the `ImagePlaced` event).
pub type ImagePlaced = Placement;

/// An image was taken out of the article.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRemoved {
    /// The image.
    pub image_id: ImageId,
}

/// An image as of some point of its stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Id.
    pub id: ImageId,
    /// The upload: hash, type, size, embedded facts.
    pub upload: ImageUploaded,
    /// Caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Alt text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
    /// Credit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit: Option<String>,
    /// Rights or licence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights: Option<String>,
    /// When the rights run out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights_expire_at: Option<DateTime<Utc>>,
    /// Named crops.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crops: Vec<Crop>,
    /// Retired: readers get 410.
    #[serde(default)]
    pub retired: bool,
    /// The takedown in force, if any: readers get it at no instant (451).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub takedown: Option<super::article::Takedown>,
    /// Stream version folded so far.
    pub version: u64,
}

impl Image {
    /// Applies one event (`None`: before the upload). Other events leave the state as it is.
    pub fn apply(state: Option<Image>, id: ImageId, event: &Event, meta: Meta) -> Option<Image> {
        let mut image = match (state, event) {
            (None, Event::ImageUploaded(u)) => Image {
                id,
                caption: u.caption.clone().or_else(|| u.embedded.caption.clone()),
                credit: u.credit.clone().or_else(|| u.embedded.credit.clone()),
                alt: u.alt.clone(),
                rights: u.embedded.copyright.clone(),
                rights_expire_at: None,
                crops: Vec::new(),
                retired: false,
                takedown: None,
                version: 0,
                upload: u.clone(),
            },
            (Some(mut i), Event::ImageDescribed(d)) => {
                i.caption = d.caption.clone().or(i.caption);
                i.alt = d.alt.clone().or(i.alt);
                i.credit = d.credit.clone().or(i.credit);
                i.rights = d.rights.clone().or(i.rights);
                i.rights_expire_at = d.rights_expire_at.or(i.rights_expire_at);
                i
            }
            (Some(mut i), Event::ImageCropped(c)) => {
                i.crops = c.crops.clone();
                i
            }
            (Some(mut i), Event::ImageRetired(_)) => {
                i.retired = true;
                i
            }
            (Some(mut i), Event::ImageTakenDown(t)) => {
                i.takedown = Some(super::article::Takedown {
                    at: meta.effective_at,
                    reason: t.reason.clone(),
                    legal_reference: t.legal_reference.clone(),
                });
                i
            }
            (Some(mut i), Event::ImageRestored(_)) => {
                i.takedown = None;
                i
            }
            // Nothing is left of an erased image but its tombstone.
            (_, Event::ImageErased(_)) => return None,
            (state, _) => return state,
        };
        image.version = meta.version;
        Some(image)
    }

    /// Folds a whole stream.
    pub fn fold<'a>(id: ImageId, events: impl IntoIterator<Item = (&'a Event, Meta)>) -> Option<Image> {
        events.into_iter().fold(None, |state, (event, meta)| Image::apply(state, id, event, meta))
    }

    /// A crop by name; `full` is the whole image.
    pub fn crop(&self, name: &str) -> Option<Crop> {
        if name == "full" {
            let (w, h) = (self.upload.width, self.upload.height);
            return Some(Crop {
                name: "full".into(),
                x: 0,
                y: 0,
                width: w,
                height: h,
                focal_x: w / 2,
                focal_y: h / 2,
            });
        }
        self.crops.iter().find(|c| c.name == name).cloned()
    }

    /// Whether readers may fetch it at `at`: not retired, and its rights not run out.
    pub fn servable_at(&self, at: DateTime<Utc>) -> bool {
        !self.retired && self.rights_expire_at.is_none_or(|end| at < end)
    }
}

/// A command on an image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ImageCommand {
    /// Start the image's stream: its bytes are already stored under `upload.hash`.
    Upload(Box<ImageUploaded>),
    /// Change its caption, alt text, credit or rights.
    Describe(ImageDescribed),
    /// Set its named crops.
    Crop(Vec<Crop>),
    /// Retire it.
    Retire {
        /// Why.
        reason: Option<String>,
    },
    /// Take it down: no reader gets it, at any instant, until it is restored (admins).
    TakeDown {
        /// Why (for staff).
        reason: String,
        /// The order or demand it follows, shown to readers.
        legal_reference: Option<String>,
    },
    /// Undo a takedown.
    Restore {
        /// Why.
        reason: Option<String>,
    },
    /// Erase it: its bytes are destroyed everywhere; only a tombstone stays (admins).
    Erase {
        /// Why (kept in the tombstone).
        reason: String,
    },
}

fn text(field: &str, value: Option<&str>, limit: usize) -> Result<(), Rejection> {
    match value {
        Some(v) if v.len() > limit => {
            Err(Rejection::TooLarge { field: field.to_owned(), size: v.len(), limit })
        }
        Some(v) if v.chars().any(|c| c.is_control() && c != '\n') => {
            Err(Rejection::invalid(field, "must not hold control characters"))
        }
        _ => Ok(()),
    }
}

impl ImageCommand {
    /// Checks every field's shape and size.
    pub fn validate(&self) -> Result<(), Rejection> {
        let describe = |caption: Option<&str>, alt: Option<&str>, credit: Option<&str>| {
            text("caption", caption, limits::CAPTION)?;
            text("alt", alt, limits::ALT)?;
            text("credit", credit, limits::CREDIT)
        };
        match self {
            ImageCommand::Upload(u) => describe(u.caption.as_deref(), u.alt.as_deref(), u.credit.as_deref()),
            ImageCommand::Describe(d) => {
                if *d == ImageDescribed::default() {
                    return Err(Rejection::invalid(
                        "input",
                        "change at least one of caption, alt, credit, rights",
                    ));
                }
                describe(d.caption.as_deref(), d.alt.as_deref(), d.credit.as_deref())?;
                text("rights", d.rights.as_deref(), limits::RIGHTS)
            }
            ImageCommand::Crop(crops) => {
                if crops.len() > limits::CROPS {
                    return Err(Rejection::invalid("crops", format!("at most {} crops", limits::CROPS)));
                }
                for (i, c) in crops.iter().enumerate() {
                    let ok = !c.name.is_empty()
                        && c.name.len() <= limits::CROP_NAME
                        && c.name != "full"
                        && c.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                    if !ok {
                        return Err(Rejection::invalid(
                            &format!("crops[{i}].name"),
                            "1 to 32 of a-z, 0-9 and -, and not `full`",
                        ));
                    }
                    if crops[..i].iter().any(|o| o.name == c.name) {
                        return Err(Rejection::invalid(&format!("crops[{i}].name"), "named twice"));
                    }
                }
                Ok(())
            }
            ImageCommand::Retire { reason } | ImageCommand::Restore { reason } => {
                text("reason", reason.as_deref(), super::commands::limits::NOTE)
            }
            ImageCommand::Erase { reason } => {
                if reason.trim().is_empty() {
                    return Err(Rejection::invalid("reason", "an erasure needs its reason"));
                }
                text("reason", Some(reason), super::commands::limits::NOTE)
            }
            ImageCommand::TakeDown { reason, legal_reference } => {
                if reason.trim().is_empty() {
                    return Err(Rejection::invalid("reason", "a takedown needs its reason"));
                }
                text("reason", Some(reason), super::commands::limits::NOTE)?;
                text("legalReference", legal_reference.as_deref(), super::commands::limits::NOTE)
            }
        }
    }
}

/// Checks a placement's fields.
pub fn validate_placement(p: &Placement) -> Result<(), Rejection> {
    text("caption", p.caption.as_deref(), limits::CAPTION)?;
    text("credit", p.credit.as_deref(), limits::CREDIT)?;
    text("crop", p.crop.as_deref(), limits::CROP_NAME)
}

/// Decides the events for an image command.
pub fn decide(state: Option<&Image>, id: ImageId, command: &ImageCommand) -> Result<Vec<Event>, Rejection> {
    match (state, command) {
        (None, ImageCommand::Upload(u)) => Ok(vec![Event::ImageUploaded(u.as_ref().clone())]),
        (Some(_), ImageCommand::Upload(_)) => {
            Err(Rejection::Conflict(format!("image {id} is already uploaded")))
        }
        (None, _) => Err(Rejection::NotFound { kind: "image", id: id.to_string() }),
        // A retired or taken-down image can still be erased.
        (Some(_), ImageCommand::Erase { reason }) => {
            Ok(vec![Event::ImageErased(ImageErased { reason: reason.clone() })])
        }
        // A retired image can still be taken down, or restored.
        (Some(i), ImageCommand::TakeDown { reason, legal_reference }) => match &i.takedown {
            Some(_) => Err(Rejection::Conflict(format!("image {id} is already taken down"))),
            None => Ok(vec![Event::ImageTakenDown(ImageTakenDown {
                reason: reason.clone(),
                legal_reference: legal_reference.clone(),
            })]),
        },
        (Some(i), ImageCommand::Restore { reason }) => match &i.takedown {
            None => Err(Rejection::Conflict(format!("image {id} is not taken down"))),
            Some(_) => Ok(vec![Event::ImageRestored(ImageRestored { reason: reason.clone() })]),
        },
        (Some(i), _) if i.retired => Err(Rejection::Conflict(format!("image {id} is retired"))),
        (Some(_), ImageCommand::Describe(d)) => Ok(vec![Event::ImageDescribed(d.clone())]),
        (Some(i), ImageCommand::Crop(crops)) => {
            for (n, c) in crops.iter().enumerate() {
                let inside = c.width > 0
                    && c.height > 0
                    && c.x.checked_add(c.width).is_some_and(|r| r <= i.upload.width)
                    && c.y.checked_add(c.height).is_some_and(|b| b <= i.upload.height)
                    && (c.x..c.x + c.width).contains(&c.focal_x)
                    && (c.y..c.y + c.height).contains(&c.focal_y);
                if !inside {
                    return Err(Rejection::invalid(
                        &format!("crops[{n}]"),
                        format!(
                            "must lie within the {}×{} image, with its focal point inside",
                            i.upload.width, i.upload.height
                        ),
                    ));
                }
            }
            Ok(vec![Event::ImageCropped(ImageCropped { crops: crops.clone() })])
        }
        (Some(_), ImageCommand::Retire { reason }) => {
            Ok(vec![Event::ImageRetired(ImageRetired { reason: reason.clone() })])
        }
    }
}

/// The placements after one more placement event.
pub fn place(mut placements: Vec<Placement>, event: &Event) -> Vec<Placement> {
    match event {
        Event::ImagePlaced(p) => {
            match placements.iter_mut().find(|o| o.image_id == p.image_id) {
                Some(slot) => *slot = p.clone(),
                None => placements.push(p.clone()),
            }
            // One lead image: a new lead makes the old one inline.
            if p.role == Role::Lead {
                for o in placements.iter_mut().filter(|o| o.image_id != p.image_id && o.role == Role::Lead) {
                    o.role = Role::Inline;
                }
            }
        }
        Event::ImageRemoved(r) => placements.retain(|o| o.image_id != r.image_id),
        _ => {}
    }
    placements
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uploaded() -> ImageUploaded {
        ImageUploaded {
            hash: "0".repeat(64),
            media_type: "image/png".into(),
            width: 100,
            height: 50,
            bytes: 10,
            embedded: EmbeddedFacts { caption: Some("embedded".into()), ..Default::default() },
            caption: None,
            credit: Some("Desk".into()),
            alt: None,
        }
    }

    #[test]
    fn captions_fold_and_crops_must_lie_inside() {
        let id = ImageId::generate();
        let meta = |version| Meta { version, effective_at: Utc::now() };
        let up = Event::ImageUploaded(uploaded());
        let image = Image::fold(id, [(&up, meta(1))]).expect("uploaded");
        assert_eq!(image.caption.as_deref(), Some("embedded"), "the file's caption until one is given");
        let described =
            Event::ImageDescribed(ImageDescribed { caption: Some("given".into()), ..Default::default() });
        let image = Image::apply(Some(image), id, &described, meta(2)).expect("described");
        assert_eq!(
            (image.caption.as_deref(), image.credit.as_deref(), image.version),
            (Some("given"), Some("Desk"), 2)
        );
        let crop = |x, w| Crop { name: "wide".into(), x, y: 0, width: w, height: 50, focal_x: x, focal_y: 0 };
        assert!(decide(Some(&image), id, &ImageCommand::Crop(vec![crop(0, 100)])).is_ok());
        assert!(decide(Some(&image), id, &ImageCommand::Crop(vec![crop(1, 100)])).is_err());
        assert!(decide(Some(&image), id, &ImageCommand::Crop(vec![crop(u32::MAX, 2)])).is_err());
        let retired = Image::apply(Some(image), id, &Event::ImageRetired(ImageRetired::default()), meta(3))
            .expect("retired");
        assert!(!retired.servable_at(Utc::now()));
        assert!(decide(Some(&retired), id, &ImageCommand::Retire { reason: None }).is_err());
    }

    #[test]
    fn one_lead_and_removal() {
        let (a, b) = (ImageId::generate(), ImageId::generate());
        let p = |image_id, role| Placement { image_id, role, crop: None, caption: None, credit: None };
        let placed = place(Vec::new(), &Event::ImagePlaced(p(a, Role::Lead)));
        let placed = place(placed, &Event::ImagePlaced(p(b, Role::Lead)));
        assert_eq!(placed.iter().map(|p| p.role).collect::<Vec<_>>(), [Role::Inline, Role::Lead]);
        let placed = place(placed, &Event::ImageRemoved(ImageRemoved { image_id: a }));
        assert_eq!(placed.len(), 1);
        assert_eq!(placed[0].image_id, b);
    }
}
