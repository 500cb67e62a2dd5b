//! Writes: every mutation is one domain command, executed by the archive on behalf of the
//! token's holder.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::scalars::{Instant, Pos};
use super::types::{ArticleObj, AuthorObj};
use super::{Viewer, error, to_gql};
use crate::archive::{Archive, Entity, READ_YOUR_WRITES_WAIT, Reading, WriteOptions};
use crate::domain::{ArticleCommand as A, ArticleId, AuthorCommand as U, AuthorId, Command};
use crate::project::At;

/// The root of writes.
pub struct MutationRoot;

/// What an article mutation answers.
#[derive(SimpleObject)]
pub struct ArticlePayload {
    /// The article after the write.
    article: ArticleObj,
    /// Its stream version.
    version: i32,
    /// The position written: pass it as `minPosition` to read your write.
    position: Pos,
}

/// What an author mutation answers.
#[derive(SimpleObject)]
pub struct AuthorPayload {
    /// The author after the write.
    author: AuthorObj,
    /// Their stream version.
    version: i32,
    /// The position written.
    position: Pos,
}

macro_rules! inputs {
    ($($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? })*) => {$(
        $(#[$doc])*
        #[derive(InputObject)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: $ty,)*
            /// The stream version you based this on; a mismatch is a CONFLICT naming the actual one.
            pub expected_version: Option<i32>,
            /// When the change took effect (imports of old content); default: now.
            pub effective_at: Option<Instant>,
            /// Makes retries safe: the same key and input answer the first write again.
            pub idempotency_key: Option<String>,
        }
    )*};
}

inputs! {
    /// Register an author.
    RegisterAuthorInput { name: String, bio: Option<String> }
    /// Rename an author from now on.
    RenameAuthorInput { id: ID, name: String }
    /// Draft a new article.
    DraftArticleInput {
        slug: Option<String>, headline: String, summary: Option<String>, body: String, section: String,
        tags: Option<Vec<String>>, language: Option<String>,
    }
    /// Change an article's text or classification.
    ReviseArticleInput {
        id: ID, headline: Option<String>, summary: Option<String>, body: Option<String>,
        section: Option<String>, tags: Option<Vec<String>>, note: Option<String>,
    }
    /// Publish a draft.
    PublishArticleInput { id: ID }
    /// Retract a published article.
    RetractArticleInput { id: ID, reason: String }
    /// Append a correction to a published article.
    AppendCorrectionInput { id: ID, text: String }
    /// Credit an author on an article.
    AddBylineInput { article_id: ID, author_id: ID, role: Option<String> }
    /// Remove an author's credit.
    RemoveBylineInput { article_id: ID, author_id: ID }
}

fn options(
    expected_version: Option<i32>,
    effective_at: Option<Instant>,
    idempotency_key: Option<String>,
) -> async_graphql::Result<WriteOptions> {
    let expected_version = expected_version
        .map(|v| u64::try_from(v).map_err(|_| error("BAD_INPUT", format!("expectedVersion {v} is negative"))))
        .transpose()?;
    Ok(WriteOptions { expected_version, effective_at: effective_at.map(|i| i.0), idempotency_key })
}

fn article(id: &ID) -> async_graphql::Result<ArticleId> {
    id.parse().map_err(|_| error("BAD_INPUT", format!("{:?} is not an article id", id.as_str())))
}

fn author(id: &ID) -> async_graphql::Result<AuthorId> {
    id.parse().map_err(|_| error("BAD_INPUT", format!("{:?} is not an author id", id.as_str())))
}

/// Runs a command for the token holder; anonymous callers are UNAUTHENTICATED.
async fn execute(
    ctx: &Context<'_>,
    command: Command,
    options: WriteOptions,
) -> async_graphql::Result<Outcome> {
    let actor = match ctx.data_opt::<Viewer>() {
        Some(Viewer::Staff { name, .. }) => name.clone(),
        _ => {
            return Err(error(
                "UNAUTHENTICATED",
                "mutations need an editor token: send `Authorization: Bearer <token>`",
            ));
        }
    };
    let archive = ctx.data::<Archive>()?;
    let written = archive.execute(Some(&actor), command, options).await.map_err(to_gql)?;
    // Nested fields (byline names) are read from the views: wait until they hold the write.
    if let Some(p) = archive.projections() {
        p.wait_for_views(written.position, READ_YOUR_WRITES_WAIT).await.map_err(|e| to_gql(e.into()))?;
    }
    // Answer with the state as the views hold it at the position written.
    let reading = Reading {
        at: At { as_of: None, basis: Some(written.position) },
        basis: written.position,
        drafts: true,
    };
    let version = i32::try_from(written.version).unwrap_or(i32::MAX);
    let position = Pos(written.position);
    let missing = || error("INTERNAL", "the write is not in the views");
    Ok(match &written.entity {
        Entity::Article(a) => {
            let snap = archive.article(&reading, a.id).map_err(to_gql)?.ok_or_else(missing)?;
            Outcome::Article(Box::new(ArticlePayload {
                article: ArticleObj { snap, reading },
                version,
                position,
            }))
        }
        Entity::Author(a) => {
            let snap = archive.author(&reading, a.id).map_err(to_gql)?.ok_or_else(missing)?;
            Outcome::Author(AuthorPayload { author: AuthorObj { snap, reading }, version, position })
        }
    })
}

enum Outcome {
    Article(Box<ArticlePayload>),
    Author(AuthorPayload),
}

impl Outcome {
    fn article(self) -> async_graphql::Result<ArticlePayload> {
        match self {
            Outcome::Article(p) => Ok(*p),
            Outcome::Author(_) => Err(error("INTERNAL", "expected an article")),
        }
    }
    fn author(self) -> async_graphql::Result<AuthorPayload> {
        match self {
            Outcome::Author(p) => Ok(p),
            Outcome::Article(_) => Err(error("INTERNAL", "expected an author")),
        }
    }
}

/// The projectors an admin can rebuild.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq)]
pub enum Projector {
    /// The LMDB views.
    Views,
    /// The Tantivy search index.
    Search,
}

#[Object(name = "Mutation")]
impl MutationRoot {
    /// Rebuild a projector from the log into a new generation while the current one keeps
    /// serving, then switch to it atomically. Admins only.
    async fn rebuild_projector(
        &self,
        ctx: &Context<'_>,
        projector: Projector,
    ) -> async_graphql::Result<super::types::ProjectorStatus> {
        match ctx.data_opt::<Viewer>() {
            Some(Viewer::Staff { role: super::Role::Admin, .. }) => {}
            Some(Viewer::Staff { .. }) => return Err(error("FORBIDDEN", "rebuilding needs an admin token")),
            _ => return Err(error("UNAUTHENTICATED", "rebuilding needs an admin token")),
        }
        let which = match projector {
            Projector::Views => crate::project::Which::Views,
            Projector::Search => crate::project::Which::Search,
        };
        let status = ctx.data::<Archive>()?.rebuild(which).await.map_err(to_gql)?;
        Ok(super::types::ProjectorStatus {
            name: status.name.into(),
            checkpoint: Pos(status.checkpoint),
            lag: i32::try_from(status.lag).unwrap_or(i32::MAX),
        })
    }

    /// Register a new author.
    async fn register_author(
        &self,
        ctx: &Context<'_>,
        input: RegisterAuthorInput,
    ) -> async_graphql::Result<AuthorPayload> {
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        let command = Command::Author(AuthorId::generate(), U::Register { name: input.name, bio: input.bio });
        execute(ctx, command, o).await?.author()
    }

    /// Rename an author; the past keeps the old name.
    async fn rename_author(
        &self,
        ctx: &Context<'_>,
        input: RenameAuthorInput,
    ) -> async_graphql::Result<AuthorPayload> {
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        let command = Command::Author(author(&input.id)?, U::Rename { name: input.name });
        execute(ctx, command, o).await?.author()
    }

    /// Draft a new article (not visible to readers until published).
    async fn draft_article(
        &self,
        ctx: &Context<'_>,
        input: DraftArticleInput,
    ) -> async_graphql::Result<ArticlePayload> {
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        let command = Command::Article(
            ArticleId::generate(),
            A::Draft {
                slug: input.slug,
                headline: input.headline,
                summary: input.summary,
                body: input.body,
                section: input.section,
                tags: input.tags.unwrap_or_default(),
                language: input.language,
            },
        );
        execute(ctx, command, o).await?.article()
    }

    /// Revise an article's fields (only the given ones).
    async fn revise_article(
        &self,
        ctx: &Context<'_>,
        input: ReviseArticleInput,
    ) -> async_graphql::Result<ArticlePayload> {
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        let command = Command::Article(
            article(&input.id)?,
            A::Revise {
                headline: input.headline,
                summary: input.summary,
                body: input.body,
                section: input.section,
                tags: input.tags,
                note: input.note,
            },
        );
        execute(ctx, command, o).await?.article()
    }

    /// Publish a draft.
    async fn publish_article(
        &self,
        ctx: &Context<'_>,
        input: PublishArticleInput,
    ) -> async_graphql::Result<ArticlePayload> {
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        execute(ctx, Command::Article(article(&input.id)?, A::Publish), o).await?.article()
    }

    /// Retract a published article; it stays in the archive, marked.
    async fn retract_article(
        &self,
        ctx: &Context<'_>,
        input: RetractArticleInput,
    ) -> async_graphql::Result<ArticlePayload> {
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        execute(ctx, Command::Article(article(&input.id)?, A::Retract { reason: input.reason }), o)
            .await?
            .article()
    }

    /// Append a correction to a published article.
    async fn append_correction(
        &self,
        ctx: &Context<'_>,
        input: AppendCorrectionInput,
    ) -> async_graphql::Result<ArticlePayload> {
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        execute(ctx, Command::Article(article(&input.id)?, A::AppendCorrection { text: input.text }), o)
            .await?
            .article()
    }

    /// Credit an author on an article.
    async fn add_byline(
        &self,
        ctx: &Context<'_>,
        input: AddBylineInput,
    ) -> async_graphql::Result<ArticlePayload> {
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        let command = Command::Article(
            article(&input.article_id)?,
            A::AddByline { author_id: author(&input.author_id)?, role: input.role },
        );
        execute(ctx, command, o).await?.article()
    }

    /// Remove an author's credit.
    async fn remove_byline(
        &self,
        ctx: &Context<'_>,
        input: RemoveBylineInput,
    ) -> async_graphql::Result<ArticlePayload> {
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        let command = Command::Article(
            article(&input.article_id)?,
            A::RemoveByline { author_id: author(&input.author_id)? },
        );
        execute(ctx, command, o).await?.article()
    }
}
