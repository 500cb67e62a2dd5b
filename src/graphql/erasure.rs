//! The mutations of the lifecycle's last level (admin only): erasure, and the legal holds
//! that forbid it. Retraction and takedown are in `mutation`.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Union};

use super::mutation::{ArticlePayload, AuthorPayload, Outcome, admin, execute, options, writable};
use super::scalars::Pos;
use super::{error, to_gql};
use crate::Code;
use crate::archive::Archive;
use crate::domain::{ArticleCommand, ArticleId, AuthorCommand, AuthorId, Command, Lifecycle, StreamKind};

/// The lifecycle's mutations, merged into the schema's `Mutation`.
#[derive(Default)]
pub struct ErasureMutation;

/// Erase an article: its content becomes unrecoverable everywhere.
#[derive(InputObject)]
pub struct EraseArticleInput {
    /// The article's id.
    pub id: ID,
    /// Why (kept in the tombstone): not blank, at most 16 KiB.
    pub reason: String,
    /// Makes retries safe (see the other mutations).
    pub idempotency_key: Option<String>,
}

/// Erase an author: name and biography become unrecoverable everywhere.
#[derive(InputObject)]
pub struct EraseAuthorInput {
    /// The author's id.
    pub id: ID,
    /// Why (kept in the tombstone): not blank, at most 16 KiB.
    pub reason: String,
    /// Makes retries safe.
    pub idempotency_key: Option<String>,
}

/// Erase an image: its bytes are destroyed on every node.
#[derive(InputObject)]
pub struct EraseImageInput {
    /// The image's id.
    pub id: ID,
    /// Why (kept in the tombstone): not blank, at most 16 KiB.
    pub reason: String,
    /// Makes retries safe.
    pub idempotency_key: Option<String>,
}

/// Place a legal hold on an article or an author.
#[derive(InputObject)]
pub struct PlaceLegalHoldInput {
    /// The article's or author's id.
    pub id: ID,
    /// Why (the litigation or inquiry): not blank, at most 16 KiB.
    pub reason: String,
    /// Makes retries safe.
    pub idempotency_key: Option<String>,
}

/// Release a legal hold.
#[derive(InputObject)]
pub struct ReleaseLegalHoldInput {
    /// The article's or author's id.
    pub id: ID,
    /// Makes retries safe.
    pub idempotency_key: Option<String>,
}

/// What an erasure answers: the tombstone's place in the log.
#[derive(SimpleObject)]
pub struct ErasurePayload {
    /// The id erased.
    pub id: ID,
    /// The position of the erasure (its tombstone): pass it as `minPosition` to read after it.
    pub position: Pos,
}

/// The article or author a legal hold was placed on or released from.
#[derive(Union)]
pub enum HoldTarget {
    /// An article, after the write.
    Article(Box<ArticlePayload>),
    /// An author, after the write.
    Author(AuthorPayload),
}

fn ulid(id: &ID) -> async_graphql::Result<ulid::Ulid> {
    id.parse().map_err(|_| error(Code::BadInput, format!("{:?} is not an id", id.as_str())))
}

async fn erase(
    ctx: &Context<'_>,
    command: Command,
    id: ID,
    key: Option<String>,
) -> async_graphql::Result<ErasurePayload> {
    match execute(ctx, command, options(None, None, key)?).await? {
        Outcome::Erased(position) => Ok(ErasurePayload { id, position }),
        _ => Err(error(Code::Internal, "the erasure wrote no tombstone")),
    }
}

async fn hold(
    ctx: &Context<'_>,
    id: &ID,
    lifecycle: Lifecycle,
    key: Option<String>,
) -> async_graphql::Result<HoldTarget> {
    let target = ulid(id)?;
    let kind = ctx.data::<Archive>()?.kind_of(target).map_err(to_gql)?;
    let command = match kind {
        Some(StreamKind::Article(a)) => Command::Article(a, ArticleCommand::Lifecycle(lifecycle)),
        Some(StreamKind::Author(a)) => Command::Author(a, AuthorCommand::Lifecycle(lifecycle)),
        Some(StreamKind::Image(_)) => {
            return Err(error(
                Code::BadInput,
                format!("{} is an image: images are not held (erase one with eraseImage)", id.as_str()),
            ));
        }
        None => return Err(error(Code::NotFound, format!("no article or author has id {}", id.as_str()))),
    };
    Ok(match execute(ctx, command, options(None, None, key)?).await? {
        Outcome::Article(p) => HoldTarget::Article(p),
        Outcome::Author(p) => HoldTarget::Author(p),
        Outcome::Erased(_) => return Err(error(Code::Internal, "a hold erased its target")),
        Outcome::Image(_) => return Err(error(Code::Internal, "a hold reached an image")),
    })
}

#[Object]
impl ErasureMutation {
    /// Erase an article beyond recovery (crypto-shredding): its stream's key is destroyed, so
    /// every version, correction and note becomes unreadable in the log, the views, the search
    /// index, every replica, the feed and every export made afterwards. A tombstone stays:
    /// position, stream, type, times and the reason. `morgue compact` then removes the freed
    /// bytes from the node's files. Not reversible. Admin token only. Errors: BAD_INPUT,
    /// NOT_FOUND (no such article, or already erased), LEGAL_HOLD (under a legal hold; the
    /// refusal is logged and nothing is written), UNAUTHENTICATED, FORBIDDEN.
    async fn erase_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The erasure.")] input: EraseArticleInput,
    ) -> async_graphql::Result<ErasurePayload> {
        writable(ctx)?;
        admin(ctx, "an erasure")?;
        let id: ArticleId = input
            .id
            .parse()
            .map_err(|_| error(Code::BadInput, format!("{:?} is not an article id", input.id.as_str())))?;
        let command =
            Command::Article(id, ArticleCommand::Lifecycle(Lifecycle::Erase { reason: input.reason }));
        erase(ctx, command, input.id, input.idempotency_key).await
    }

    /// Erase an author beyond recovery: name and biography, at every instant, on every node.
    /// Articles keep their other bylines. Admin token only. Errors as `eraseArticle`.
    async fn erase_author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The erasure.")] input: EraseAuthorInput,
    ) -> async_graphql::Result<ErasurePayload> {
        writable(ctx)?;
        admin(ctx, "an erasure")?;
        let id: AuthorId = input
            .id
            .parse()
            .map_err(|_| error(Code::BadInput, format!("{:?} is not an author id", input.id.as_str())))?;
        let command =
            Command::Author(id, AuthorCommand::Lifecycle(Lifecycle::Erase { reason: input.reason }));
        erase(ctx, command, input.id, input.idempotency_key).await
    }

    /// Erase an image beyond recovery: its stream's key is destroyed (its captions, credits
    /// and facts become unreadable in the log, the views and every export made afterwards),
    /// and its bytes and renditions are destroyed on this node and on every replica as it
    /// restores the tombstone. Articles that placed it show it to no one. A tombstone stays.
    /// Not reversible. Admin token only. Errors: BAD_INPUT, NOT_FOUND (no such image, or
    /// already erased), UNAUTHENTICATED, FORBIDDEN.
    async fn erase_image(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The erasure.")] input: EraseImageInput,
    ) -> async_graphql::Result<ErasurePayload> {
        writable(ctx)?;
        admin(ctx, "an erasure")?;
        let id: crate::domain::ImageId = input
            .id
            .parse()
            .map_err(|_| error(Code::BadInput, format!("{:?} is not an image id", input.id.as_str())))?;
        let actor = match ctx.data_opt::<super::Viewer>() {
            Some(super::Viewer::Staff { name, .. }) => Some(name.clone()),
            _ => None,
        };
        let o = options(None, None, input.idempotency_key)?;
        let archive = ctx.data::<Archive>()?;
        let written = archive.erase_image(actor.as_deref(), id, input.reason, o).await.map_err(to_gql)?;
        match super::mutation::answer(ctx, written).await? {
            Outcome::Erased(position) => Ok(ErasurePayload { id: input.id, position }),
            _ => Err(error(Code::Internal, "the erasure wrote no tombstone")),
        }
    }

    /// Place a legal hold on an article or an author: erasing it is refused with LEGAL_HOLD
    /// until the hold is released. A takedown stays allowed. Admin token only. Errors:
    /// BAD_INPUT, NOT_FOUND, CONFLICT (already held), UNAUTHENTICATED, FORBIDDEN.
    async fn place_legal_hold(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The hold.")] input: PlaceLegalHoldInput,
    ) -> async_graphql::Result<HoldTarget> {
        writable(ctx)?;
        admin(ctx, "a legal hold")?;
        hold(ctx, &input.id, Lifecycle::PlaceLegalHold { reason: input.reason }, input.idempotency_key).await
    }

    /// Release a legal hold. Admin token only. Errors: BAD_INPUT, NOT_FOUND, CONFLICT (not
    /// held), UNAUTHENTICATED, FORBIDDEN.
    async fn release_legal_hold(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The release.")] input: ReleaseLegalHoldInput,
    ) -> async_graphql::Result<HoldTarget> {
        writable(ctx)?;
        admin(ctx, "releasing a legal hold")?;
        hold(ctx, &input.id, Lifecycle::ReleaseLegalHold, input.idempotency_key).await
    }
}
