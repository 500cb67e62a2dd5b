//! Writes: every mutation is one domain command, executed by the archive on behalf of the
//! token's holder.

use crate::Code;
use async_graphql::{Context, ID, Object, SimpleObject};

use super::inputs::*;
use super::scalars::{Instant, Pos};
use super::types::{ArticleObj, AuthorObj};
use super::{Viewer, error, to_gql};
use crate::archive::At;
use crate::archive::{Archive, Entity, READ_YOUR_WRITES_WAIT, Reading, WriteOptions};
use crate::domain::{ArticleCommand as A, ArticleId, AuthorCommand as U, AuthorId, Command};

/// The root of writes.
#[derive(Default)]
pub struct MutationRoot;

/// What an article mutation answers.
#[derive(SimpleObject)]
pub struct ArticlePayload {
    /// The article after the write.
    pub(super) article: ArticleObj,
    /// Its stream version.
    pub(super) version: i32,
    /// The position written: pass it as `minPosition` to read your write.
    pub(super) position: Pos,
}

/// What an author mutation answers.
#[derive(SimpleObject)]
pub struct AuthorPayload {
    /// The author after the write.
    pub(super) author: AuthorObj,
    /// Their stream version.
    pub(super) version: i32,
    /// The position written.
    pub(super) position: Pos,
}

pub(super) fn options(
    expected_version: Option<i32>,
    effective_at: Option<Instant>,
    idempotency_key: Option<String>,
) -> async_graphql::Result<WriteOptions> {
    let expected_version = expected_version
        .map(|v| {
            u64::try_from(v).map_err(|_| error(Code::BadInput, format!("expectedVersion {v} is negative")))
        })
        .transpose()?;
    Ok(WriteOptions { expected_version, effective_at: effective_at.map(|i| i.0), idempotency_key })
}

fn article(id: &ID) -> async_graphql::Result<ArticleId> {
    id.parse().map_err(|_| error(Code::BadInput, format!("{:?} is not an article id", id.as_str())))
}

fn author(id: &ID) -> async_graphql::Result<AuthorId> {
    id.parse().map_err(|_| error(Code::BadInput, format!("{:?} is not an author id", id.as_str())))
}

/// A change whose `effectiveAt` lies ahead is scheduled for then (recorded now).
fn later(o: &mut WriteOptions, change: A) -> A {
    match o.effective_at.filter(|at| *at > chrono::Utc::now()) {
        Some(at) => {
            o.effective_at = None;
            A::Later { at, change: Box::new(change) }
        }
        None => change,
    }
}

/// Refuses anyone but an admin: UNAUTHENTICATED without a token, FORBIDDEN with an editor's.
pub(super) fn admin(ctx: &Context<'_>, what: &str) -> async_graphql::Result<()> {
    match ctx.data_opt::<Viewer>() {
        Some(Viewer::Staff { role: super::Role::Admin, .. }) => Ok(()),
        Some(Viewer::Staff { .. }) => Err(error(Code::Forbidden, format!("{what} needs an admin token"))),
        _ => Err(error(Code::Unauthenticated, format!("{what} needs an admin token"))),
    }
}

/// A read replica refuses every mutation before looking at its input or token: READ_ONLY.
pub(super) fn writable(ctx: &Context<'_>) -> async_graphql::Result<()> {
    ctx.data::<Archive>()?.read_only().map_err(to_gql)
}

/// Runs a command for the token holder; anonymous callers are UNAUTHENTICATED.
pub(super) async fn execute(
    ctx: &Context<'_>,
    command: Command,
    options: WriteOptions,
) -> async_graphql::Result<Outcome> {
    let actor = match ctx.data_opt::<Viewer>() {
        Some(Viewer::Staff { name, .. }) => name.clone(),
        _ => {
            return Err(error(
                Code::Unauthenticated,
                "mutations need an editor token: send `Authorization: Bearer <token>`",
            ));
        }
    };
    let archive = ctx.data::<Archive>()?;
    let written = archive.execute(Some(&actor), command, options).await.map_err(to_gql)?;
    answer(ctx, written).await
}

/// The answer to a write: the entity as the views hold it at the position written.
pub(super) async fn answer(
    ctx: &Context<'_>,
    written: crate::archive::Written,
) -> async_graphql::Result<Outcome> {
    let archive = ctx.data::<Archive>()?;
    // Nested fields (byline names) are read from the views: wait until they hold the write.
    if let Some(p) = archive.projections() {
        p.wait_for_views(written.position, READ_YOUR_WRITES_WAIT).await.map_err(|e| to_gql(e.into()))?;
    }
    // Answer with the state as the views hold it at the position written.
    let reading = Reading {
        at: At { as_of: None, basis: Some(written.position) },
        basis: written.position,
        staff: true,
    };
    let version = i32::try_from(written.version).unwrap_or(i32::MAX);
    let position = Pos(written.position);
    let missing = || error(Code::Internal, "the write is not in the views");
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
        Entity::Image(i) => {
            let found = archive.image(&reading, i.id).map_err(to_gql)?;
            let crate::archive::ImageReading::Found(snap) = found else { return Err(missing()) };
            Outcome::Image(Box::new(super::image_mutation::ImagePayload {
                image: super::images::ImageObj { snap: *snap, reading },
                version,
                position,
                existing: false,
            }))
        }
        Entity::Erased(_) => Outcome::Erased(position),
    })
}

pub(super) enum Outcome {
    Article(Box<ArticlePayload>),
    Author(AuthorPayload),
    Image(Box<super::image_mutation::ImagePayload>),
    Erased(Pos),
}

impl Outcome {
    fn article(self) -> async_graphql::Result<ArticlePayload> {
        match self {
            Outcome::Article(p) => Ok(*p),
            _ => Err(error(Code::Internal, "expected an article")),
        }
    }
    fn author(self) -> async_graphql::Result<AuthorPayload> {
        match self {
            Outcome::Author(p) => Ok(p),
            _ => Err(error(Code::Internal, "expected an author")),
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

/// The editors' writes (merged into `Mutation`, which documents them).
#[Object(name = "EditorMutation")]
impl MutationRoot {
    /// Rebuild a projector from the log into a new generation while the current one keeps
    /// serving, then switch to it atomically; answers its status after. Admin token only:
    /// UNAUTHENTICATED without a token, FORBIDDEN with an editor token.
    async fn rebuild_projector(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which projector to rebuild: VIEWS or SEARCH.")] projector: Projector,
    ) -> async_graphql::Result<super::types::ProjectorStatus> {
        writable(ctx)?;
        admin(ctx, "rebuilding")?;
        let which = match projector {
            Projector::Views => crate::archive::Which::Views,
            Projector::Search => crate::archive::Which::Search,
        };
        let status = ctx.data::<Archive>()?.rebuild(which).await.map_err(to_gql)?;
        Ok(super::types::ProjectorStatus {
            name: status.name.into(),
            checkpoint: Pos(status.checkpoint),
            lag: i32::try_from(status.lag).unwrap_or(i32::MAX),
            error: status.error,
        })
    }

    /// Register a new author. Editor or admin token. Errors: BAD_INPUT (blank or oversized name
    /// or bio, bad `effectiveAt`), CONFLICT (`expectedVersion` mismatch, with
    /// `extensions.actualVersion`; idempotency key reused with other input), UNAUTHENTICATED.
    async fn register_author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change, with its write options.")] input: RegisterAuthorInput,
    ) -> async_graphql::Result<AuthorPayload> {
        writable(ctx)?;
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        let command = Command::Author(AuthorId::generate(), U::Register { name: input.name, bio: input.bio });
        execute(ctx, command, o).await?.author()
    }

    /// Rename an author; the past keeps the old name (reads `asOf` before the rename show it).
    /// Editor or admin token. Errors: BAD_INPUT (bad id, blank, oversized or unchanged name, bad
    /// `effectiveAt`), NOT_FOUND (no such author), CONFLICT (`expectedVersion` mismatch, with
    /// `extensions.actualVersion`; idempotency key reused with other input), UNAUTHENTICATED.
    async fn rename_author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change, with its write options.")] input: RenameAuthorInput,
    ) -> async_graphql::Result<AuthorPayload> {
        writable(ctx)?;
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        let command = Command::Author(author(&input.id)?, U::Rename { name: input.name });
        execute(ctx, command, o).await?.author()
    }

    /// Draft a new article (not visible to readers until published). Editor or admin token.
    /// Errors: BAD_INPUT (blank or oversized field, malformed slug, more than 32 tags, bad
    /// `effectiveAt`), CONFLICT (the slug given is taken; `expectedVersion` mismatch, with
    /// `extensions.actualVersion`; idempotency key reused with other input), UNAUTHENTICATED.
    async fn draft_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change, with its write options.")] input: DraftArticleInput,
    ) -> async_graphql::Result<ArticlePayload> {
        writable(ctx)?;
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

    /// Revise an article's fields (only the given ones). A future `effectiveAt` schedules a
    /// revision of the text (headline, summary, body): recorded now, no reader sees it before
    /// that instant, every read shows it from then on with no further write, and until then
    /// the article takes no other change but `unscheduleArticle` (which calls it off). Editor
    /// or admin token. Errors: BAD_INPUT (bad id, nothing given or nothing changed, blank or
    /// oversized field, bad `effectiveAt`, section or tags scheduled ahead), NOT_FOUND (no such
    /// article), CONFLICT (the article is retracted, or has a change scheduled;
    /// `expectedVersion` mismatch, with `extensions.actualVersion`; idempotency key reused with
    /// other input), UNAUTHENTICATED.
    async fn revise_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change, with its write options.")] input: ReviseArticleInput,
    ) -> async_graphql::Result<ArticlePayload> {
        writable(ctx)?;
        let mut o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        let revise = A::Revise {
            headline: input.headline,
            summary: input.summary,
            body: input.body,
            section: input.section,
            tags: input.tags,
            note: input.note,
        };
        let command = Command::Article(article(&input.id)?, later(&mut o, revise));
        execute(ctx, command, o).await?.article()
    }

    /// Publish a draft, now or later: an `effectiveAt` in the future schedules the publication
    /// (recorded now, it takes effect then; readers see nothing of it before, on any path, and
    /// everything from then on with no further write; staff see status SCHEDULED and
    /// `scheduledAt`). Publishing a scheduled draft again reschedules it (or, without
    /// `effectiveAt`, publishes it now); `unscheduleArticle` calls it off. Editor or admin
    /// token. Errors: BAD_INPUT (bad id, bad `effectiveAt`),
    /// NOT_FOUND (no such article), CONFLICT (already published or retracted; `expectedVersion`
    /// mismatch, with `extensions.actualVersion`; idempotency key reused with other input),
    /// UNAUTHENTICATED.
    async fn publish_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change, with its write options.")] input: PublishArticleInput,
    ) -> async_graphql::Result<ArticlePayload> {
        writable(ctx)?;
        let mut o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        let id = article(&input.id)?;
        // A future instant schedules the publication: recorded now, in effect then.
        let command = match o.effective_at.filter(|at| *at > chrono::Utc::now()) {
            Some(at) => {
                o.effective_at = None;
                A::Schedule { at }
            }
            None => A::Publish,
        };
        execute(ctx, Command::Article(id, command), o).await?.article()
    }

    /// Call off a scheduled publication before it takes effect: the article is a draft
    /// again. Editor or admin token. Errors: BAD_INPUT (bad id), NOT_FOUND, CONFLICT (no
    /// publication scheduled, or it has taken effect), UNAUTHENTICATED.
    async fn unschedule_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change, with its write options.")] input: UnscheduleArticleInput,
    ) -> async_graphql::Result<ArticlePayload> {
        writable(ctx)?;
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        execute(ctx, Command::Article(article(&input.id)?, A::Unschedule), o).await?.article()
    }

    /// Retract a published article; it stays in the archive, marked, and leaves listings and
    /// search. Editor or admin token. Errors: BAD_INPUT (bad id, blank or oversized reason, bad
    /// `effectiveAt`), NOT_FOUND (no such article), CONFLICT (a draft or already retracted;
    /// `expectedVersion` mismatch, with `extensions.actualVersion`; idempotency key reused with
    /// other input), UNAUTHENTICATED.
    async fn retract_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change, with its write options.")] input: RetractArticleInput,
    ) -> async_graphql::Result<ArticlePayload> {
        writable(ctx)?;
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        execute(ctx, Command::Article(article(&input.id)?, A::Retract { reason: input.reason }), o)
            .await?
            .article()
    }

    /// Take an article down (a court order, a legal demand): from now on no reader sees any
    /// version of it, at any instant, past `asOf` included; its pages answer 451 and GraphQL
    /// `null` with UNAVAILABLE_FOR_LEGAL_REASONS. Staff still read it. Reversible with
    /// `restoreArticle`; logged like every change. Admin token only. Errors: BAD_INPUT (bad
    /// id, blank or oversized reason or reference), NOT_FOUND, CONFLICT (already taken down),
    /// UNAUTHENTICATED, FORBIDDEN (an editor token).
    async fn take_down_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The takedown, with its write options.")] input: TakeDownArticleInput,
    ) -> async_graphql::Result<ArticlePayload> {
        writable(ctx)?;
        admin(ctx, "a takedown")?;
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        let command = A::TakeDown { reason: input.reason, legal_reference: input.legal_reference };
        execute(ctx, Command::Article(article(&input.id)?, command), o).await?.article()
    }

    /// Undo a takedown: readers see the article again, as they did before it. Admin token
    /// only. Errors: BAD_INPUT, NOT_FOUND, CONFLICT (not taken down), UNAUTHENTICATED,
    /// FORBIDDEN (an editor token).
    async fn restore_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The restoration, with its write options.")] input: RestoreArticleInput,
    ) -> async_graphql::Result<ArticlePayload> {
        writable(ctx)?;
        admin(ctx, "restoring an article")?;
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        let command = A::Restore { reason: input.reason };
        execute(ctx, Command::Article(article(&input.id)?, command), o).await?.article()
    }

    /// Append a correction to a published article. A future `effectiveAt` schedules it, as for
    /// `reviseArticle`. Editor or admin token. Errors: BAD_INPUT (bad id, blank or oversized
    /// text, bad `effectiveAt`), NOT_FOUND (no such article), CONFLICT (not published, or a
    /// change is scheduled; `expectedVersion` mismatch, with `extensions.actualVersion`;
    /// idempotency key reused with other input), UNAUTHENTICATED.
    async fn append_correction(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change, with its write options.")] input: AppendCorrectionInput,
    ) -> async_graphql::Result<ArticlePayload> {
        writable(ctx)?;
        let mut o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        let command = later(&mut o, A::AppendCorrection { text: input.text });
        execute(ctx, Command::Article(article(&input.id)?, command), o).await?.article()
    }

    /// Credit an author on an article. Editor or admin token. Errors: BAD_INPUT (bad id,
    /// oversized role, bad `effectiveAt`), NOT_FOUND (no such article or author), CONFLICT (the
    /// author is already credited, or the article is retracted; `expectedVersion` mismatch, with
    /// `extensions.actualVersion`; idempotency key reused with other input), UNAUTHENTICATED.
    async fn add_byline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change, with its write options.")] input: AddBylineInput,
    ) -> async_graphql::Result<ArticlePayload> {
        writable(ctx)?;
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        let command = Command::Article(
            article(&input.article_id)?,
            A::AddByline { author_id: author(&input.author_id)?, role: input.role },
        );
        execute(ctx, command, o).await?.article()
    }

    /// Remove an author's credit. Editor or admin token. Errors: BAD_INPUT (bad id, bad
    /// `effectiveAt`), NOT_FOUND (no such article, or the author is not credited on it), CONFLICT
    /// (the article is retracted; `expectedVersion` mismatch, with `extensions.actualVersion`;
    /// idempotency key reused with other input), UNAUTHENTICATED.
    async fn remove_byline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change, with its write options.")] input: RemoveBylineInput,
    ) -> async_graphql::Result<ArticlePayload> {
        writable(ctx)?;
        let o = options(input.expected_version, input.effective_at, input.idempotency_key)?;
        let command = Command::Article(
            article(&input.article_id)?,
            A::RemoveByline { author_id: author(&input.author_id)? },
        );
        execute(ctx, command, o).await?.article()
    }
}
