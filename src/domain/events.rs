//! The events of morgue, their payloads, and how old payloads are read as today's (upcasting).
//!
//! Payloads are JSON objects with snake_case keys. Each event type has a schema version; when
//! a payload's shape changes, the version goes up and [`Event::decode`] keeps reading every
//! older version, turning it into today's shape, so the log never needs rewriting.

use serde::{Deserialize, Serialize};

use super::ids::AuthorId;
pub use super::image::{
    ImageCropped, ImageDescribed, ImageErased, ImagePlaced, ImageRemoved, ImageRestored, ImageRetired,
    ImageTakenDown, ImageUploaded,
};
pub use super::lifecycle::{ArticleErased, AuthorErased, LegalHoldPlaced, LegalHoldReleased};
pub use super::schedule::ChangeScheduled;

/// An author joined the archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorRegistered {
    /// Name as printed in bylines.
    pub name: String,
    /// A short biography.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
}

/// An author's name changed (from now on; the past keeps the old name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorRenamed {
    /// The new name.
    pub name: String,
}

/// A new article, as a draft.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleDrafted {
    /// URL name, unique across the archive.
    pub slug: String,
    /// The headline.
    pub headline: String,
    /// A standfirst.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The text (Markdown).
    pub body: String,
    /// The desk or section (`politics`, `science`).
    pub section: String,
    /// Free tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Language tag (`en`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// Schema version 1 of `ArticleDrafted`: the headline was called `title`.
#[derive(Deserialize)]
struct ArticleDraftedV1 {
    slug: String,
    title: String,
    #[serde(default)]
    summary: Option<String>,
    body: String,
    section: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    language: Option<String>,
}

impl From<ArticleDraftedV1> for ArticleDrafted {
    fn from(v1: ArticleDraftedV1) -> Self {
        ArticleDrafted {
            slug: v1.slug,
            headline: v1.title,
            summary: v1.summary,
            body: v1.body,
            section: v1.section,
            tags: v1.tags,
            language: v1.language,
        }
    }
}

/// Some fields of an article changed; only the changed ones are present.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleRevised {
    /// New headline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
    /// New summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// New body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// New section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// New tags (the whole list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// The editor's note on why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ArticleRevised {
    /// The names of the fields this revision changes, in a fixed order.
    pub fn changed_fields(&self) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if self.headline.is_some() {
            fields.push("headline");
        }
        if self.summary.is_some() {
            fields.push("summary");
        }
        if self.body.is_some() {
            fields.push("body");
        }
        if self.section.is_some() {
            fields.push("section");
        }
        if self.tags.is_some() {
            fields.push("tags");
        }
        fields
    }
}

/// The article went public.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticlePublished {}

/// The article was withdrawn; it stays in the archive, marked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleRetracted {
    /// Why.
    pub reason: String,
}

/// A correction was appended to a published article.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionAppended {
    /// The correction as printed.
    pub text: String,
}

/// An author was credited on the article.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BylineAdded {
    /// The author.
    pub author_id: AuthorId,
    /// `reporter`, `photographer`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// An author's credit was removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BylineRemoved {
    /// The author.
    pub author_id: AuthorId,
}

/// The article's publication was scheduled: recorded now, it takes effect at `at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleScheduled {
    /// When readers see it.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A scheduled publication was called off before it took effect: the article is a draft again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleUnscheduled {}

/// The article was taken down: hidden from readers at every instant, kept for staff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleTakenDown {
    /// Why.
    pub reason: String,
    /// The order or demand it follows, shown to readers in the notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_reference: Option<String>,
}

/// A takedown was undone: readers see the article again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleRestored {
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Every event morgue writes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is its payload type, documented above
pub enum Event {
    AuthorRegistered(AuthorRegistered),
    AuthorRenamed(AuthorRenamed),
    ArticleDrafted(ArticleDrafted),
    ArticleRevised(ArticleRevised),
    ArticlePublished(ArticlePublished),
    ArticleRetracted(ArticleRetracted),
    CorrectionAppended(CorrectionAppended),
    BylineAdded(BylineAdded),
    BylineRemoved(BylineRemoved),
    ArticleTakenDown(ArticleTakenDown),
    ArticleRestored(ArticleRestored),
    ArticleScheduled(ArticleScheduled),
    ArticleUnscheduled(ArticleUnscheduled),
    ArticleErased(ArticleErased),
    AuthorErased(AuthorErased),
    LegalHoldPlaced(LegalHoldPlaced),
    LegalHoldReleased(LegalHoldReleased),
    ChangeScheduled(ChangeScheduled),
    ImageUploaded(ImageUploaded),
    ImageDescribed(ImageDescribed),
    ImageCropped(ImageCropped),
    ImageRetired(ImageRetired),
    /// See [`ImageTakenDown`].
    ImageTakenDown(ImageTakenDown),
    /// See [`ImageRestored`].
    ImageRestored(ImageRestored),
    /// See [`ImageErased`].
    ImageErased(ImageErased),
    ImagePlaced(ImagePlaced),
    ImageRemoved(ImageRemoved),
    /// Not a stored type: an event of an erased stream, whose payload can no longer be read.
    /// Only its envelope is left; every fold passes over it.
    Shredded,
}

/// Why a stored event could not be read as a morgue event.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The type is not one morgue knows.
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    /// The schema version is newer than this build, or never existed.
    #[error("{event_type} schema version {version} is not supported (this build reads up to {current})")]
    UnknownVersion {
        /// The event type.
        event_type: String,
        /// The version found.
        version: u16,
        /// The newest this build knows.
        current: u16,
    },
    /// The payload does not fit the schema.
    #[error("{event_type} payload: {source}")]
    Payload {
        /// The event type.
        event_type: String,
        /// What serde said.
        source: serde_json::Error,
    },
}

/// Every event type's name, in a fixed order.
pub const EVENT_TYPES: [&str; 27] = [
    "AuthorRegistered",
    "AuthorRenamed",
    "ArticleDrafted",
    "ArticleRevised",
    "ArticlePublished",
    "ArticleRetracted",
    "CorrectionAppended",
    "BylineAdded",
    "BylineRemoved",
    "ArticleTakenDown",
    "ArticleRestored",
    "ArticleScheduled",
    "ArticleUnscheduled",
    "ArticleErased",
    "AuthorErased",
    "LegalHoldPlaced",
    "LegalHoldReleased",
    "ChangeScheduled",
    "ImageUploaded",
    "ImageDescribed",
    "ImageCropped",
    "ImageRetired",
    "ImagePlaced",
    "ImageRemoved",
    "ImageTakenDown",
    "ImageRestored",
    "ImageErased",
];

/// The type name [`Event::Shredded`] reports (never stored, never decoded).
pub const SHREDDED: &str = "Shredded";

impl Event {
    /// The stored type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::AuthorRegistered(_) => EVENT_TYPES[0],
            Event::AuthorRenamed(_) => EVENT_TYPES[1],
            Event::ArticleDrafted(_) => EVENT_TYPES[2],
            Event::ArticleRevised(_) => EVENT_TYPES[3],
            Event::ArticlePublished(_) => EVENT_TYPES[4],
            Event::ArticleRetracted(_) => EVENT_TYPES[5],
            Event::CorrectionAppended(_) => EVENT_TYPES[6],
            Event::BylineAdded(_) => EVENT_TYPES[7],
            Event::BylineRemoved(_) => EVENT_TYPES[8],
            Event::ArticleTakenDown(_) => EVENT_TYPES[9],
            Event::ArticleRestored(_) => EVENT_TYPES[10],
            Event::ArticleScheduled(_) => EVENT_TYPES[11],
            Event::ArticleUnscheduled(_) => EVENT_TYPES[12],
            Event::ArticleErased(_) => EVENT_TYPES[13],
            Event::AuthorErased(_) => EVENT_TYPES[14],
            Event::LegalHoldPlaced(_) => EVENT_TYPES[15],
            Event::LegalHoldReleased(_) => EVENT_TYPES[16],
            Event::ChangeScheduled(_) => EVENT_TYPES[17],
            Event::ImageUploaded(_) => EVENT_TYPES[18],
            Event::ImageDescribed(_) => EVENT_TYPES[19],
            Event::ImageCropped(_) => EVENT_TYPES[20],
            Event::ImageRetired(_) => EVENT_TYPES[21],
            Event::ImagePlaced(_) => EVENT_TYPES[22],
            Event::ImageRemoved(_) => EVENT_TYPES[23],
            Event::ImageTakenDown(_) => EVENT_TYPES[24],
            Event::ImageRestored(_) => EVENT_TYPES[25],
            Event::ImageErased(_) => EVENT_TYPES[26],
            Event::Shredded => SHREDDED,
        }
    }

    /// The schema version written today for this type.
    pub fn schema_version(&self) -> u16 {
        current_version(self.event_type())
    }

    /// The payload as written today (JSON).
    pub fn to_payload(&self) -> Vec<u8> {
        let value = match self {
            Event::AuthorRegistered(p) => serde_json::to_vec(p),
            Event::AuthorRenamed(p) => serde_json::to_vec(p),
            Event::ArticleDrafted(p) => serde_json::to_vec(p),
            Event::ArticleRevised(p) => serde_json::to_vec(p),
            Event::ArticlePublished(p) => serde_json::to_vec(p),
            Event::ArticleRetracted(p) => serde_json::to_vec(p),
            Event::CorrectionAppended(p) => serde_json::to_vec(p),
            Event::BylineAdded(p) => serde_json::to_vec(p),
            Event::BylineRemoved(p) => serde_json::to_vec(p),
            Event::ArticleTakenDown(p) => serde_json::to_vec(p),
            Event::ArticleRestored(p) => serde_json::to_vec(p),
            Event::ArticleScheduled(p) => serde_json::to_vec(p),
            Event::ArticleUnscheduled(p) => serde_json::to_vec(p),
            Event::ArticleErased(p) => serde_json::to_vec(p),
            Event::AuthorErased(p) => serde_json::to_vec(p),
            Event::LegalHoldPlaced(p) => serde_json::to_vec(p),
            Event::LegalHoldReleased(p) => serde_json::to_vec(p),
            Event::ChangeScheduled(p) => serde_json::to_vec(p),
            Event::ImageUploaded(p) => serde_json::to_vec(p),
            Event::ImageDescribed(p) => serde_json::to_vec(p),
            Event::ImageCropped(p) => serde_json::to_vec(p),
            Event::ImageRetired(p) => serde_json::to_vec(p),
            Event::ImageTakenDown(p) => serde_json::to_vec(p),
            Event::ImageRestored(p) => serde_json::to_vec(p),
            Event::ImageErased(p) => serde_json::to_vec(p),
            Event::ImagePlaced(p) => serde_json::to_vec(p),
            Event::ImageRemoved(p) => serde_json::to_vec(p),
            Event::Shredded => Ok(b"null".to_vec()),
        };
        value.expect("payload structs of strings and ids always serialize")
    }

    /// Reads a stored payload of any supported schema version as today's event.
    pub fn decode(event_type: &str, schema_version: u16, payload: &[u8]) -> Result<Event, DecodeError> {
        let current = current_version(event_type);
        if current == 0 {
            return Err(DecodeError::UnknownType(event_type.to_owned()));
        }
        if schema_version == 0 || schema_version > current {
            return Err(DecodeError::UnknownVersion {
                event_type: event_type.to_owned(),
                version: schema_version,
                current,
            });
        }
        let bad = |source| DecodeError::Payload { event_type: event_type.to_owned(), source };
        let event = match event_type {
            "AuthorRegistered" => Event::AuthorRegistered(serde_json::from_slice(payload).map_err(bad)?),
            "AuthorRenamed" => Event::AuthorRenamed(serde_json::from_slice(payload).map_err(bad)?),
            "ArticleDrafted" if schema_version == 1 => Event::ArticleDrafted(
                serde_json::from_slice::<ArticleDraftedV1>(payload).map_err(bad)?.into(),
            ),
            "ArticleDrafted" => Event::ArticleDrafted(serde_json::from_slice(payload).map_err(bad)?),
            "ArticleRevised" => Event::ArticleRevised(serde_json::from_slice(payload).map_err(bad)?),
            "ArticlePublished" => Event::ArticlePublished(serde_json::from_slice(payload).map_err(bad)?),
            "ArticleRetracted" => Event::ArticleRetracted(serde_json::from_slice(payload).map_err(bad)?),
            "CorrectionAppended" => Event::CorrectionAppended(serde_json::from_slice(payload).map_err(bad)?),
            "BylineAdded" => Event::BylineAdded(serde_json::from_slice(payload).map_err(bad)?),
            "BylineRemoved" => Event::BylineRemoved(serde_json::from_slice(payload).map_err(bad)?),
            "ArticleTakenDown" => Event::ArticleTakenDown(serde_json::from_slice(payload).map_err(bad)?),
            "ArticleRestored" => Event::ArticleRestored(serde_json::from_slice(payload).map_err(bad)?),
            "ArticleScheduled" => Event::ArticleScheduled(serde_json::from_slice(payload).map_err(bad)?),
            "ArticleUnscheduled" => Event::ArticleUnscheduled(serde_json::from_slice(payload).map_err(bad)?),
            "ArticleErased" => Event::ArticleErased(serde_json::from_slice(payload).map_err(bad)?),
            "AuthorErased" => Event::AuthorErased(serde_json::from_slice(payload).map_err(bad)?),
            "LegalHoldPlaced" => Event::LegalHoldPlaced(serde_json::from_slice(payload).map_err(bad)?),
            "LegalHoldReleased" => Event::LegalHoldReleased(serde_json::from_slice(payload).map_err(bad)?),
            "ChangeScheduled" => Event::ChangeScheduled(serde_json::from_slice(payload).map_err(bad)?),
            "ImageUploaded" => Event::ImageUploaded(serde_json::from_slice(payload).map_err(bad)?),
            "ImageDescribed" => Event::ImageDescribed(serde_json::from_slice(payload).map_err(bad)?),
            "ImageCropped" => Event::ImageCropped(serde_json::from_slice(payload).map_err(bad)?),
            "ImageRetired" => Event::ImageRetired(serde_json::from_slice(payload).map_err(bad)?),
            "ImageTakenDown" => Event::ImageTakenDown(serde_json::from_slice(payload).map_err(bad)?),
            "ImageRestored" => Event::ImageRestored(serde_json::from_slice(payload).map_err(bad)?),
            "ImageErased" => Event::ImageErased(serde_json::from_slice(payload).map_err(bad)?),
            "ImagePlaced" => Event::ImagePlaced(serde_json::from_slice(payload).map_err(bad)?),
            "ImageRemoved" => Event::ImageRemoved(serde_json::from_slice(payload).map_err(bad)?),
            other => return Err(DecodeError::UnknownType(other.to_owned())),
        };
        Ok(event)
    }

    /// The fields of its entity this event changes, for revision histories.
    pub fn changed_fields(&self) -> Vec<&'static str> {
        match self {
            Event::AuthorRegistered(r) => {
                if r.bio.is_some() {
                    vec!["name", "bio"]
                } else {
                    vec!["name"]
                }
            }
            Event::AuthorRenamed(_) => vec!["name"],
            Event::ArticleDrafted(d) => {
                let mut f = vec!["slug", "headline"];
                if d.summary.is_some() {
                    f.push("summary");
                }
                f.extend(["body", "section", "tags"]);
                if d.language.is_some() {
                    f.push("language");
                }
                f
            }
            Event::ArticleRevised(r) => r.changed_fields(),
            Event::ArticlePublished(_) | Event::ArticleRetracted(_) => vec!["status"],
            Event::CorrectionAppended(_) => vec!["corrections"],
            Event::BylineAdded(_) | Event::BylineRemoved(_) => vec!["bylines"],
            Event::ArticleTakenDown(_) | Event::ArticleRestored(_) => vec!["takedown"],
            Event::ArticleScheduled(_) | Event::ArticleUnscheduled(_) => vec!["scheduledAt"],
            Event::ArticleErased(_) | Event::AuthorErased(_) | Event::ImageErased(_) | Event::Shredded => {
                Vec::new()
            }
            Event::LegalHoldPlaced(_) | Event::LegalHoldReleased(_) => vec!["legalHold"],
            Event::ChangeScheduled(_) => vec!["scheduledChanges"],
            Event::ImageUploaded(_) => vec!["file", "caption", "credit", "alt"],
            Event::ImageDescribed(d) => {
                let mut f = Vec::new();
                for (name, set) in [
                    ("caption", d.caption.is_some()),
                    ("alt", d.alt.is_some()),
                    ("credit", d.credit.is_some()),
                    ("rights", d.rights.is_some() || d.rights_expire_at.is_some()),
                ] {
                    if set {
                        f.push(name);
                    }
                }
                f
            }
            Event::ImageCropped(_) => vec!["crops"],
            Event::ImageRetired(_) => vec!["retired"],
            Event::ImageTakenDown(_) | Event::ImageRestored(_) => vec!["takedown"],
            Event::ImagePlaced(_) | Event::ImageRemoved(_) => vec!["images"],
        }
    }

    /// The editor's words on the change: a revision's note, a retraction's reason.
    pub fn note(&self) -> Option<&str> {
        match self {
            Event::ArticleRevised(r) => r.note.as_deref(),
            Event::ArticleRetracted(r) => Some(&r.reason),
            Event::ArticleTakenDown(t) => Some(&t.reason),
            Event::ArticleRestored(r) => r.reason.as_deref(),
            Event::LegalHoldPlaced(h) => Some(&h.reason),
            Event::ImageRetired(r) => r.reason.as_deref(),
            Event::ImageTakenDown(t) => Some(&t.reason),
            Event::ImageRestored(r) => r.reason.as_deref(),
            Event::ImageErased(e) => Some(&e.reason),
            _ => None,
        }
    }

    /// Whether this event erases its stream (see `store::AppendRequest::erase`).
    pub fn erases(&self) -> bool {
        is_erasure(self.event_type())
    }

    /// The unique values this event takes: `("slug", slug)` for a draft.
    pub fn claims(&self) -> Vec<(&'static str, String)> {
        match self {
            Event::ArticleDrafted(d) => vec![("slug", d.slug.clone())],
            // Identical bytes are one image: a second upload of them is refused by the log.
            Event::ImageUploaded(u) => vec![("blob", u.hash.clone())],
            _ => Vec::new(),
        }
    }
}

/// How a change scheduled ahead touches an article's versions, read from an event's type
/// alone: it schedules one, or it may call one off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ahead {
    /// `ChangeScheduled`.
    Schedules,
    /// `ArticleUnscheduled`.
    CallsOff,
}

impl Ahead {
    /// The role of events of this type, if any.
    pub fn of(event_type: &str) -> Option<Ahead> {
        match event_type {
            t if t == EVENT_TYPES[17] => Some(Ahead::Schedules),
            t if t == EVENT_TYPES[12] => Some(Ahead::CallsOff),
            _ => None,
        }
    }
}

/// Whether events of this type erase their stream (read from the type alone, without the
/// payload).
pub fn is_erasure(event_type: &str) -> bool {
    event_type == EVENT_TYPES[13] || event_type == EVENT_TYPES[14] || event_type == EVENT_TYPES[26]
}

/// Whether events of this type name bytes kept beside the log (an image's upload names its
/// blob), read from the type alone: only these need their payload read to find them.
pub fn names_blobs(event_type: &str) -> bool {
    event_type == EVENT_TYPES[18]
}

/// The schema version written today for an event type; 0 for an unknown type.
pub fn current_version(event_type: &str) -> u16 {
    match event_type {
        // v2 renamed `title` to `headline`.
        "ArticleDrafted" => 2,
        t if EVENT_TYPES.contains(&t) => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_drafts_read_as_today_s_drafts() {
        let v1 = br#"{"slug":"s","title":"Old name","body":"b","section":"news"}"#;
        let Event::ArticleDrafted(d) = Event::decode("ArticleDrafted", 1, v1).expect("v1 reads") else {
            panic!("not a draft")
        };
        assert_eq!(d.headline, "Old name");
        assert!(Event::decode("ArticleDrafted", 2, v1).is_err(), "v2 has no title field");
        assert!(matches!(
            Event::decode("ArticleDrafted", 3, v1),
            Err(DecodeError::UnknownVersion { version: 3, .. })
        ));
        assert!(matches!(Event::decode("Nope", 1, b"{}"), Err(DecodeError::UnknownType(_))));
    }
}
