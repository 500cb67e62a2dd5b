//! The image writes: `uploadImage` (by the GraphQL multipart request spec), `describeImage`,
//! `cropImage`, `retireImage`, `placeImage`, `removeImage`, and for admins `takeDownImage` and
//! `restoreImage`.

use std::io::Read;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Upload};

use super::images::{CropObj, ImageObj, RoleGql, article_id, image_id};
use super::mutation::{ArticlePayload, Outcome, admin, answer, execute, options, writable};
use super::scalars::{Instant, Pos};
use super::{Viewer, error, to_gql};
use crate::Code;
use crate::archive::Archive;
use crate::domain::image::{Crop, ImageCommand, ImageDescribed, Placement};
use crate::domain::{ArticleCommand, Command};

/// What an image mutation answers.
#[derive(SimpleObject)]
pub struct ImagePayload {
    /// The image after the write.
    pub(super) image: ImageObj,
    /// Its stream version.
    pub(super) version: i32,
    /// The position written (for an upload of bytes already stored: the image's last).
    pub(super) position: Pos,
    /// True when the bytes were already stored: the answer is the existing image and nothing
    /// was written.
    pub(super) existing: bool,
}

/// Upload an image.
#[derive(InputObject)]
pub struct UploadImageInput {
    /// The file (a multipart part, by the GraphQL multipart request spec): JPEG, PNG, WebP or
    /// GIF, at most 50 MiB and 40 million pixels; its type is read from its content and must
    /// agree with its name.
    pub file: Upload,
    /// Caption, at most 4 KiB.
    pub caption: Option<String>,
    /// Credit, at most 256 bytes.
    pub credit: Option<String>,
    /// Alt text, at most 1 KiB.
    pub alt: Option<String>,
}

/// Describe an image: only the fields given change.
#[derive(InputObject)]
pub struct DescribeImageInput {
    /// The image.
    pub id: ID,
    /// New caption.
    pub caption: Option<String>,
    /// New alt text.
    pub alt: Option<String>,
    /// New credit.
    pub credit: Option<String>,
    /// New rights or licence.
    pub rights: Option<String>,
    /// When the rights run out.
    pub rights_expire_at: Option<Instant>,
}

/// Set an image's named crops (the whole list).
#[derive(InputObject)]
pub struct CropImageInput {
    /// The image.
    pub id: ID,
    /// Every crop, at most 16; each inside the image with its focal point inside it.
    pub crops: Vec<CropObj>,
}

/// Take an image down.
#[derive(InputObject)]
pub struct TakeDownImageInput {
    /// The image.
    pub id: ID,
    /// Why (for staff).
    pub reason: String,
    /// The order or demand it follows, shown to readers in the notice.
    pub legal_reference: Option<String>,
}

/// Undo an image's takedown.
#[derive(InputObject)]
pub struct RestoreImageInput {
    /// The image.
    pub id: ID,
    /// Why.
    pub reason: Option<String>,
}

/// Retire an image.
#[derive(InputObject)]
pub struct RetireImageInput {
    /// The image.
    pub id: ID,
    /// Why.
    pub reason: Option<String>,
}

/// Place an image in an article (again: change how it is placed).
#[derive(InputObject)]
pub struct PlaceImageInput {
    /// The article.
    pub article_id: ID,
    /// The image.
    pub image_id: ID,
    /// Where it sits; one LEAD per article (a new lead makes the old one INLINE).
    pub role: RoleGql,
    /// The crop shown; default the whole image.
    pub crop: Option<String>,
    /// A caption for this article only.
    pub caption: Option<String>,
    /// A credit for this article only.
    pub credit: Option<String>,
}

/// Take an image out of an article.
#[derive(InputObject)]
pub struct RemoveImageInput {
    /// The article.
    pub article_id: ID,
    /// The image.
    pub image_id: ID,
}

fn image_outcome(outcome: Outcome) -> async_graphql::Result<ImagePayload> {
    match outcome {
        Outcome::Image(p) => Ok(*p),
        _ => Err(error(Code::Internal, "expected an image")),
    }
}

fn article_outcome(outcome: Outcome) -> async_graphql::Result<ArticlePayload> {
    match outcome {
        Outcome::Article(p) => Ok(*p),
        _ => Err(error(Code::Internal, "expected an article")),
    }
}

fn crop_of(c: CropObj) -> async_graphql::Result<Crop> {
    let u = |field: &str, v: i32| {
        u32::try_from(v).map_err(|_| error(Code::BadInput, format!("crops: {field} {v} is negative")))
    };
    Ok(Crop {
        x: u("x", c.x)?,
        y: u("y", c.y)?,
        width: u("width", c.width)?,
        height: u("height", c.height)?,
        focal_x: u("focalX", c.focal_x)?,
        focal_y: u("focalY", c.focal_y)?,
        name: c.name,
    })
}

/// The image writes (merged into `Mutation`).
#[derive(Default)]
pub struct ImageMutation;

#[Object]
impl ImageMutation {
    /// Upload an image (multipart, by the GraphQL multipart request spec). Editor or admin
    /// token. Bytes already stored answer with the existing image (`existing: true`) and
    /// write nothing. Errors: BAD_INPUT (not a JPEG, PNG, WebP or GIF; truncated or damaged;
    /// content not matching its name; over 40 million pixels), LIMIT (over 50 MiB),
    /// UNAUTHENTICATED.
    async fn upload_image(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change.")] input: UploadImageInput,
    ) -> async_graphql::Result<ImagePayload> {
        writable(ctx)?;
        let actor = match ctx.data_opt::<Viewer>() {
            Some(Viewer::Staff { name, .. }) => name.clone(),
            _ => return Err(error(Code::Unauthenticated, "uploading needs an editor token")),
        };
        let value = input.file.value(ctx).map_err(|e| error(Code::BadInput, format!("file: {e}")))?;
        let limit = crate::archive::MAX_UPLOAD as u64;
        let mut bytes = Vec::new();
        value
            .content
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| error(Code::Internal, format!("reading the upload: {e}")))?;
        if bytes.len() as u64 > limit {
            return Err(error(Code::Limit, format!("the file is over {limit} bytes")));
        }
        let upload = crate::archive::Upload {
            bytes,
            filename: Some(value.filename).filter(|f| !f.is_empty()),
            content_type: value.content_type,
            caption: input.caption,
            credit: input.credit,
            alt: input.alt,
        };
        let archive = ctx.data::<Archive>()?;
        let written = archive.upload_image(Some(&actor), upload, Default::default()).await.map_err(to_gql)?;
        let existing = written.replayed;
        let mut payload = image_outcome(answer(ctx, written).await?)?;
        payload.existing = existing;
        Ok(payload)
    }

    /// Change an image's caption, alt text, credit or rights (only the fields given). Editor
    /// or admin token. Errors: BAD_INPUT, NOT_FOUND, CONFLICT (retired), UNAUTHENTICATED.
    async fn describe_image(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change.")] input: DescribeImageInput,
    ) -> async_graphql::Result<ImagePayload> {
        writable(ctx)?;
        let d = ImageDescribed {
            caption: input.caption,
            alt: input.alt,
            credit: input.credit,
            rights: input.rights,
            rights_expire_at: input.rights_expire_at.map(|i| i.0),
        };
        let command = Command::Image(image_id(&input.id)?, ImageCommand::Describe(d));
        image_outcome(execute(ctx, command, options(None, None, None)?).await?)
    }

    /// Set an image's named crops. Editor or admin token.
    async fn crop_image(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change.")] input: CropImageInput,
    ) -> async_graphql::Result<ImagePayload> {
        writable(ctx)?;
        let crops = input.crops.into_iter().map(crop_of).collect::<async_graphql::Result<Vec<_>>>()?;
        let command = Command::Image(image_id(&input.id)?, ImageCommand::Crop(crops));
        image_outcome(execute(ctx, command, options(None, None, None)?).await?)
    }

    /// Take an image down (a court order, a legal demand): from now on no reader gets it at any
    /// instant, past `asOf` included. Its bytes and pages answer 451, `image` answers `null`
    /// with UNAVAILABLE_FOR_LEGAL_REASONS, and articles show it to no reader. Staff still see
    /// it. Reversible with `restoreImage`. Admin token only. Errors: BAD_INPUT (bad id, blank
    /// or oversized reason or reference), NOT_FOUND, CONFLICT (already taken down),
    /// UNAUTHENTICATED, FORBIDDEN (an editor token).
    async fn take_down_image(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The takedown.")] input: TakeDownImageInput,
    ) -> async_graphql::Result<ImagePayload> {
        writable(ctx)?;
        admin(ctx, "a takedown")?;
        let command = ImageCommand::TakeDown { reason: input.reason, legal_reference: input.legal_reference };
        image_outcome(
            execute(ctx, Command::Image(image_id(&input.id)?, command), options(None, None, None)?).await?,
        )
    }

    /// Undo an image's takedown: readers get it again where it was public. Admin token only.
    /// Errors: BAD_INPUT, NOT_FOUND, CONFLICT (not taken down), UNAUTHENTICATED, FORBIDDEN.
    async fn restore_image(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The restoration.")] input: RestoreImageInput,
    ) -> async_graphql::Result<ImagePayload> {
        writable(ctx)?;
        admin(ctx, "restoring an image")?;
        let command = ImageCommand::Restore { reason: input.reason };
        image_outcome(
            execute(ctx, Command::Image(image_id(&input.id)?, command), options(None, None, None)?).await?,
        )
    }

    /// Retire an image: readers get 410 for it from now on. Editor or admin token.
    async fn retire_image(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change.")] input: RetireImageInput,
    ) -> async_graphql::Result<ImagePayload> {
        writable(ctx)?;
        let command = Command::Image(image_id(&input.id)?, ImageCommand::Retire { reason: input.reason });
        image_outcome(execute(ctx, command, options(None, None, None)?).await?)
    }

    /// Place an image in an article, or change its placement. Editor or admin token. Errors:
    /// NOT_FOUND (article or image), CONFLICT (retired image, retracted article, nothing
    /// changes), BAD_INPUT.
    async fn place_image(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change.")] input: PlaceImageInput,
    ) -> async_graphql::Result<ArticlePayload> {
        writable(ctx)?;
        let placement = Placement {
            image_id: image_id(&input.image_id)?,
            role: input.role.into(),
            crop: input.crop.filter(|c| c != "full"),
            caption: input.caption,
            credit: input.credit,
        };
        let command = Command::Article(article_id(&input.article_id)?, ArticleCommand::PlaceImage(placement));
        article_outcome(execute(ctx, command, options(None, None, None)?).await?)
    }

    /// Take an image out of an article. Editor or admin token.
    async fn remove_image(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change.")] input: RemoveImageInput,
    ) -> async_graphql::Result<ArticlePayload> {
        writable(ctx)?;
        let command = Command::Article(
            article_id(&input.article_id)?,
            ArticleCommand::RemoveImage { image_id: image_id(&input.image_id)? },
        );
        article_outcome(execute(ctx, command, options(None, None, None)?).await?)
    }
}
