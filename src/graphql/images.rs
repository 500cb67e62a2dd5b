//! Images in GraphQL: the `Image` type, `Article.images`, `image(id)` and `images(query)`.
//! The writes are in [`super::image_mutation`].

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};

use super::query::reading;
use super::scalars::{Instant, Pos};
use super::types::ArticleObj;
use super::{error, to_gql};
use crate::Code;
use crate::archive::{Archive, ImageReading, Reading, Snapshot};
use crate::domain::image::{Placement, Role};
use crate::domain::{self, ArticleId, ImageId};

/// An image as of a reading.
pub struct ImageObj {
    pub(super) snap: Snapshot<domain::Image>,
    pub(super) reading: Reading,
}

/// One rendition's address.
#[derive(SimpleObject)]
pub struct RenditionObj {
    /// Pixels across: the width asked for, or the crop's own when it is narrower.
    width: i32,
    /// Its path: `/images/{id}/{crop}/{width}.jpg` (`.webp` works too).
    url: String,
}

/// A named crop, in the master's pixels.
#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "CropInput")]
pub struct CropObj {
    /// Its name: 1 to 32 of a-z, 0-9 and `-` (not `full`, which is the whole image).
    pub(super) name: String,
    /// Left edge.
    pub(super) x: i32,
    /// Top edge.
    pub(super) y: i32,
    /// Width.
    pub(super) width: i32,
    /// Height.
    pub(super) height: i32,
    /// The focal point, across; inside the crop.
    pub(super) focal_x: i32,
    /// The focal point, down; inside the crop.
    pub(super) focal_y: i32,
}

fn int(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// A photograph or graphic in the archive, as it stood at the instant of the read. Its bytes
/// are stored once under their BLAKE3 hash; renditions are made from them on request.
#[Object(name = "Image")]
impl ImageObj {
    /// The image's id: a ULID (its log stream is `image-<id>`).
    async fn id(&self) -> ID {
        ID(self.snap.state.id.to_string())
    }
    /// The caption at the instant read.
    async fn caption(&self) -> Option<&str> {
        self.snap.state.caption.as_deref()
    }
    /// The credit at the instant read.
    async fn credit(&self) -> Option<&str> {
        self.snap.state.credit.as_deref()
    }
    /// Alt text for screen readers.
    async fn alt(&self) -> Option<&str> {
        self.snap.state.alt.as_deref()
    }
    /// Rights or licence.
    async fn rights(&self) -> Option<&str> {
        self.snap.state.rights.as_deref()
    }
    /// When the rights run out; readers get 410 for the image from then on.
    async fn rights_expire_at(&self) -> Option<Instant> {
        self.snap.state.rights_expire_at.map(Instant)
    }
    /// Pixels across.
    async fn width(&self) -> i32 {
        int(self.snap.state.upload.width)
    }
    /// Pixels down.
    async fn height(&self) -> i32 {
        int(self.snap.state.upload.height)
    }
    /// `image/jpeg`, `image/png`, `image/webp` or `image/gif`, read from the content.
    async fn media_type(&self) -> &str {
        &self.snap.state.upload.media_type
    }
    /// The master's size in bytes.
    async fn byte_size(&self) -> f64 {
        self.snap.state.upload.bytes as f64
    }
    /// BLAKE3 of the master's bytes (64 hex digits).
    async fn content_hash(&self) -> &str {
        &self.snap.state.upload.hash
    }
    /// What the file says of itself (its IPTC and EXIF data), read when it was uploaded.
    async fn embedded(&self) -> EmbeddedObj {
        EmbeddedObj(self.snap.state.upload.embedded.clone())
    }
    /// Retired: readers get 410 for it.
    async fn retired(&self) -> bool {
        self.snap.state.retired
    }
    /// The takedown in force at this version, for staff (readers never get a taken-down image).
    async fn takedown(&self) -> Option<super::lifecycle::TakedownObj> {
        self.snap.state.takedown.as_ref().map(|t| super::lifecycle::TakedownObj {
            at: t.at,
            reason: t.reason.clone(),
            legal_reference: t.legal_reference.clone(),
        })
    }
    /// Its named crops.
    async fn crops(&self) -> Vec<CropObj> {
        self.snap
            .state
            .crops
            .iter()
            .map(|c| CropObj {
                name: c.name.clone(),
                x: int(c.x),
                y: int(c.y),
                width: int(c.width),
                height: int(c.height),
                focal_x: int(c.focal_x),
                focal_y: int(c.focal_y),
            })
            .collect()
    }
    /// The stream version at the instant read.
    async fn version(&self) -> i32 {
        i32::try_from(self.snap.version).unwrap_or(i32::MAX)
    }
    /// The master's path: `/images/{id}/original`.
    async fn original(&self) -> String {
        format!("/images/{}/original", self.snap.state.id)
    }
    /// Renditions of a crop (`full` by default) at the widths asked for (default 320, 640,
    /// 1280), each never wider than the crop. BAD_INPUT for a width outside 160, 320, 640,
    /// 1280, 1920, 2560 or an unknown crop.
    async fn renditions(
        &self,
        #[graphql(desc = "Widths in pixels.")] widths: Option<Vec<i32>>,
        #[graphql(desc = "A crop's name, or `full`.", default = "full")] crop: String,
    ) -> async_graphql::Result<Vec<RenditionObj>> {
        let Some(c) = self.snap.state.crop(&crop) else {
            return Err(error(Code::BadInput, format!("the image has no crop named {crop:?}")));
        };
        let widths = widths.unwrap_or_else(|| vec![320, 640, 1280]);
        if widths.len() > crate::archive::IMAGE_WIDTHS.len() {
            return Err(error(Code::Limit, "ask for at most 6 widths"));
        }
        let mut out = Vec::new();
        for w in widths {
            let ok = u32::try_from(w).ok().filter(|w| crate::archive::IMAGE_WIDTHS.contains(w));
            let Some(w) = ok else {
                return Err(error(
                    Code::BadInput,
                    format!("width {w} is not one of 160, 320, 640, 1280, 1920, 2560"),
                ));
            };
            out.push(RenditionObj {
                width: int(w.min(c.width)),
                url: format!("/images/{}/{crop}/{w}.jpg", self.snap.state.id),
            });
        }
        Ok(out)
    }
    /// Every version of the image up to the instant read, oldest first: captions over time.
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ImageObj>> {
        let archive = ctx.data::<Archive>()?;
        let all = archive.image_history(&self.reading, self.snap.state.id).map_err(to_gql)?;
        Ok(all.into_iter().map(|snap| ImageObj { snap, reading: self.reading }).collect())
    }
    /// The articles that place the image at an instant (default: the instant read), as you
    /// may see them.
    async fn usages(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The instant; default: the instant read.")] as_of: Option<Instant>,
    ) -> async_graphql::Result<Vec<ArticleObj>> {
        let r = match as_of {
            Some(_) => reading(ctx, as_of, None, None, None).await?,
            None => self.reading,
        };
        let archive = ctx.data::<Archive>()?;
        let found = archive.image_usages(&r, self.snap.state.id).map_err(to_gql)?;
        Ok(found.into_iter().map(|snap| ArticleObj { snap, reading: r }).collect())
    }
}

/// Where an image sits in an article.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "ImageRole")]
pub enum RoleGql {
    /// At the top.
    Lead,
    /// In the text.
    Inline,
    /// In a gallery.
    Gallery,
}

impl From<RoleGql> for Role {
    fn from(r: RoleGql) -> Role {
        match r {
            RoleGql::Lead => Role::Lead,
            RoleGql::Inline => Role::Inline,
            RoleGql::Gallery => Role::Gallery,
        }
    }
}

impl From<Role> for RoleGql {
    fn from(r: Role) -> RoleGql {
        match r {
            Role::Lead => RoleGql::Lead,
            Role::Inline => RoleGql::Inline,
            Role::Gallery => RoleGql::Gallery,
        }
    }
}

/// An image placed in an article, as of the article's reading.
pub struct PlacementObj {
    pub(super) placement: Placement,
    pub(super) image: ImageObj,
}

/// An image in an article: the image as it stood then, and how the article shows it.
#[Object(name = "ImagePlacement")]
impl PlacementObj {
    /// The image, as of the article's reading.
    async fn image(&self) -> &ImageObj {
        &self.image
    }
    /// Where it sits.
    async fn role(&self) -> RoleGql {
        self.placement.role.into()
    }
    /// The crop shown (`full`: the whole image).
    async fn crop(&self) -> &str {
        self.placement.crop.as_deref().unwrap_or("full")
    }
    /// The caption printed: the placement's own, else the image's at the instant read.
    async fn caption(&self) -> Option<&str> {
        self.placement.caption.as_deref().or(self.image.snap.state.caption.as_deref())
    }
    /// The credit printed: the placement's own, else the image's at the instant read.
    async fn credit(&self) -> Option<&str> {
        self.placement.credit.as_deref().or(self.image.snap.state.credit.as_deref())
    }
}

/// The placements of an article version, each with its image as the reader may see it then.
pub(super) fn placements(
    archive: &Archive,
    reading: &Reading,
    article: &domain::Article,
) -> async_graphql::Result<Vec<PlacementObj>> {
    let mut out = Vec::new();
    for p in &article.images {
        // The article is visible to this reader, so its images are too, unless retired or
        // past their rights; staff see those as well.
        if let ImageReading::Found(snap) = archive.image(reading, p.image_id).map_err(to_gql)? {
            out.push(PlacementObj {
                placement: p.clone(),
                image: ImageObj { snap: *snap, reading: *reading },
            });
        }
    }
    Ok(out)
}

pub(super) fn image_id(id: &ID) -> async_graphql::Result<ImageId> {
    id.parse().map_err(|_| error(Code::BadInput, format!("{:?} is not an image id", id.as_str())))
}

pub(super) fn article_id(id: &ID) -> async_graphql::Result<ArticleId> {
    id.parse().map_err(|_| error(Code::BadInput, format!("{:?} is not an article id", id.as_str())))
}

/// The image reads.
#[derive(Default)]
pub struct ImageQuery;

#[Object]
impl ImageQuery {
    /// One image by id; `null` if it did not exist at that instant, or, for readers, if no
    /// article they may see placed it then, or it is retired or past its rights.
    async fn image(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The image's id.")] id: ID,
        #[graphql(desc = "Read the image as it stood at this instant. Default: now.")] as_of: Option<Instant>,
        #[graphql(desc = "Wait (up to 5 s) until the projectors include this position.")]
        min_position: Option<Pos>,
    ) -> async_graphql::Result<Option<ImageObj>> {
        let id = image_id(&id)?;
        let r = reading(ctx, as_of, None, None, min_position).await?;
        Ok(match ctx.data::<Archive>()?.image(&r, id).map_err(to_gql)? {
            ImageReading::Found(snap) => Some(ImageObj { snap: *snap, reading: r }),
            ImageReading::Gone | ImageReading::Missing => None,
            ImageReading::TakenDown { at, legal_reference } => {
                return Err(to_gql(crate::Error::UnavailableForLegalReasons { at, legal_reference }));
            }
        })
    }

    /// Images whose caption, credit or alt text holds one of the query's words (lowercased and
    /// stemmed, as search does), as they stood at the instant read, among those you may see
    /// then: newest first, looking through the newest 10,000 images.
    #[graphql(complexity = "super::list_cost(first, 10, child_complexity)")]
    async fn images(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Words to find in captions, credits and alt texts.")] query: String,
        #[graphql(desc = "Read the images as they stood at this instant. Default: now.")] as_of: Option<
            Instant,
        >,
        #[graphql(desc = "How many images: default 10, at most 100.")] first: Option<i32>,
        #[graphql(desc = "Wait (up to 5 s) until the projectors include this position.")]
        min_position: Option<Pos>,
    ) -> async_graphql::Result<Vec<ImageObj>> {
        let first = super::page_size(first, 10)?;
        let r = reading(ctx, as_of, None, None, min_position).await?;
        let found = ctx.data::<Archive>()?.images_matching(&r, &query, first).map_err(to_gql)?;
        Ok(found.into_iter().map(|snap| ImageObj { snap, reading: r }).collect())
    }
}

/// The facts an image file carries.
pub struct EmbeddedObj(domain::image::EmbeddedFacts);

/// The facts an image file carries (IPTC first, EXIF where IPTC is silent), read when it was
/// uploaded.
#[Object(name = "EmbeddedFacts")]
impl EmbeddedObj {
    /// Who made it (IPTC By-line, or EXIF Artist).
    async fn creator(&self) -> Option<&str> {
        self.0.creator.as_deref()
    }
    /// Its credit line (IPTC Credit).
    async fn credit(&self) -> Option<&str> {
        self.0.credit.as_deref()
    }
    /// Its copyright notice (IPTC Copyright Notice, or EXIF Copyright).
    async fn copyright(&self) -> Option<&str> {
        self.0.copyright.as_deref()
    }
    /// When it was taken, as the file says (IPTC Date Created `YYYY-MM-DD`, or EXIF
    /// DateTimeOriginal `YYYY-MM-DDTHH:MM:SS`, local time of the camera).
    async fn taken_at(&self) -> Option<&str> {
        self.0.taken_at.as_deref()
    }
    /// The caption it carries (IPTC Caption/Abstract, or EXIF ImageDescription).
    async fn caption(&self) -> Option<&str> {
        self.0.caption.as_deref()
    }
}
