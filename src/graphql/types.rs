//! Output types of the schema.

use crate::Code;
use async_graphql::{Context, Enum, ID, Object, SimpleObject};

use super::lifecycle::{ArticleStatusGql, TakedownObj};
use super::scalars::{Instant, Pos};
use super::to_gql;
use crate::archive::Snapshot;
use crate::archive::{Archive, Reading};
use crate::domain::{self, ArticleStatus as DomainStatus};

fn int(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// An article as of a reading.
pub struct ArticleObj {
    pub snap: Snapshot<domain::Article>,
    pub reading: Reading,
}

/// A news article as it stood at the instant of the read (the `asOf`, `knownAt` and `basis` of
/// the query that returned it); every nested field is read at that same instant.
#[Object(name = "Article")]
impl ArticleObj {
    /// The article's id: a ULID, fixed for its whole life (its log stream is `article-<id>`).
    async fn id(&self) -> ID {
        ID(self.snap.state.id.to_string())
    }
    /// The URL name: lowercase letters, digits and single hyphens; unique across the archive
    /// and never changed after the draft.
    async fn slug(&self) -> &str {
        &self.snap.state.slug
    }
    /// The headline, plain text.
    async fn headline(&self) -> &str {
        &self.snap.state.headline
    }
    /// The standfirst, plain text; `null` if it has none.
    async fn summary(&self) -> Option<&str> {
        self.snap.state.summary.as_deref()
    }
    /// The text, Markdown.
    async fn body(&self) -> &str {
        &self.snap.state.body
    }
    /// The desk or section it belongs to (`politics`, `science`).
    async fn section(&self) -> &str {
        &self.snap.state.section
    }
    /// Free tags, in the order the editor gave them (at most 32).
    async fn tags(&self) -> &[String] {
        &self.snap.state.tags
    }
    /// Its language, as a language tag (`en`); `null` if not given.
    async fn language(&self) -> Option<&str> {
        self.snap.state.language.as_deref()
    }
    /// Draft, published or retracted, at the instant of the read.
    async fn status(&self) -> ArticleStatusGql {
        match (self.snap.state.status, self.snap.state.scheduled_at) {
            (DomainStatus::Draft, Some(_)) => ArticleStatusGql::Scheduled,
            (status, _) => status.into(),
        }
    }
    /// When a scheduled publication takes effect (status SCHEDULED); `null` otherwise.
    async fn scheduled_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.snap.state.scheduled_at
    }
    /// Revisions and corrections scheduled ahead and not yet in effect at the read's instant
    /// (staff only: readers get none, and see each change from its instant on).
    async fn scheduled_changes(&self) -> Vec<super::lifecycle::ScheduledChangeObj> {
        let staff = self.reading.staff;
        self.snap.state.pending.iter().filter(|_| staff).map(Into::into).collect()
    }
    /// Why it was retracted; `null` unless it is retracted.
    async fn retraction_reason(&self) -> Option<&str> {
        self.snap.state.retraction_reason.as_deref()
    }
    /// The takedown in force at this version, for staff (readers never see a taken-down
    /// article); `null` when none.
    async fn takedown(&self) -> Option<TakedownObj> {
        self.snap.state.takedown.as_ref().map(|t| TakedownObj {
            at: t.at,
            reason: t.reason.clone(),
            legal_reference: t.legal_reference.clone(),
        })
    }
    /// Bylines as they stood at the instant of the read, with the authors' names as of then.
    async fn bylines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<BylineObj>> {
        let archive = ctx.data::<Archive>()?;
        let mut out = Vec::new();
        for b in &self.snap.state.bylines {
            if let Some(author) = archive.author(&self.reading, b.author_id).map_err(to_gql)? {
                out.push(BylineObj {
                    author: AuthorObj { snap: author, reading: self.reading },
                    role: b.role.clone(),
                });
            }
        }
        Ok(out)
    }
    /// The images placed in it at the instant of the read, in the order placed, each with its
    /// caption and credit as of then.
    async fn images(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<super::images::PlacementObj>> {
        super::images::placements(ctx.data::<Archive>()?, &self.reading, &self.snap.state)
    }
    /// Corrections appended since publication, oldest first, up to the instant of the read.
    async fn corrections(&self) -> Vec<CorrectionObj> {
        self.snap
            .state
            .corrections
            .iter()
            .map(|c| CorrectionObj { text: c.text.clone(), effective_at: Instant(c.effective_at) })
            .collect()
    }
    /// When it was first published (effective time); `null` if it has not been published.
    async fn first_published_at(&self) -> Option<Instant> {
        self.snap.state.first_published_at.map(Instant)
    }
    /// When it was last published (effective time); `null` if it has not been published.
    /// Kept after a retraction.
    async fn published_at(&self) -> Option<Instant> {
        self.snap.state.published_at.map(Instant)
    }
    /// The stream version this state is at (gapless, from 1): pass it as `expectedVersion`
    /// to write on top of exactly this state.
    async fn version(&self) -> i32 {
        int(self.snap.version)
    }
    /// The log position of the event that made this state.
    async fn position(&self) -> Pos {
        Pos(self.snap.position)
    }
    /// Every change up to the instant of the read, oldest first.
    #[graphql(complexity = "super::list_cost(None, 10, child_complexity)")]
    async fn revisions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RevisionObj>> {
        revisions(ctx, &self.snap.state.id.stream(), &self.reading, self.snap.version)
    }
    /// A word-level diff of headline, summary and body between two versions (fields that did
    /// not change are left out).
    async fn diff(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The version to diff from (a stream version, from 1); NOT_FOUND if it does not \
                          exist at the instant of the read.")]
        from_version: i32,
        #[graphql(desc = "The version to diff to (a stream version, from 1); NOT_FOUND if it does not \
                          exist at the instant of the read.")]
        to_version: i32,
    ) -> async_graphql::Result<ArticleDiff> {
        let archive = ctx.data::<Archive>()?;
        let version = |v: i32| -> async_graphql::Result<domain::Article> {
            let found = u64::try_from(v)
                .ok()
                .map(|v| archive.article_version(&self.reading, self.snap.state.id, v))
                .transpose()
                .map_err(to_gql)?
                .flatten();
            found.map(|s| s.state).ok_or_else(|| {
                super::error(
                    Code::NotFound,
                    format!("version {v} of this article does not exist at the instant of the read"),
                )
            })
        };
        let (old, new) = (version(from_version)?, version(to_version)?);
        let fields = crate::archive::history::diff(&old, &new)
            .into_iter()
            .map(|f| FieldDiff {
                field: f.field.to_owned(),
                hunks: f
                    .hunks
                    .into_iter()
                    .map(|(op, text)| DiffHunk {
                        op: match op {
                            crate::archive::history::Op::Equal => DiffOp::Equal,
                            crate::archive::history::Op::Insert => DiffOp::Insert,
                            crate::archive::history::Op::Delete => DiffOp::Delete,
                        },
                        text,
                    })
                    .collect(),
            })
            .collect();
        Ok(ArticleDiff { from_version, to_version, fields })
    }
}

/// What a diff hunk does.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DiffOp {
    /// In both versions.
    Equal,
    /// Only in the later version.
    Insert,
    /// Only in the earlier version.
    Delete,
}

/// A word-level diff between two versions of an article.
#[derive(SimpleObject)]
pub struct ArticleDiff {
    /// The earlier version.
    pub from_version: i32,
    /// The later version.
    pub to_version: i32,
    /// The fields that changed.
    pub fields: Vec<FieldDiff>,
}

/// One field's diff.
#[derive(SimpleObject)]
pub struct FieldDiff {
    /// `headline`, `summary` or `body`.
    pub field: String,
    /// Runs of equal, inserted and deleted text, in order.
    pub hunks: Vec<DiffHunk>,
}

/// A run of text.
#[derive(SimpleObject)]
pub struct DiffHunk {
    /// What it is.
    pub op: DiffOp,
    /// The text, spaces included.
    pub text: String,
}

/// Timeline bucket sizes.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum TimelineBucket {
    /// Calendar years.
    Year,
    /// Calendar months.
    Month,
    /// Days.
    Day,
}

/// How many published articles a bucket held.
#[derive(SimpleObject)]
pub struct TimelineCount {
    /// The bucket's first instant.
    pub start: Instant,
    /// Published articles (matching the query) in it.
    pub count: i32,
}

/// How search hits are ordered.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum SearchSort {
    /// BM25 relevance, headline boosted.
    #[default]
    Relevance,
    /// Newest publication first.
    Date,
}

fn revisions(
    ctx: &Context<'_>,
    stream: &str,
    reading: &Reading,
    upto: u64,
) -> async_graphql::Result<Vec<RevisionObj>> {
    let archive = ctx.data::<Archive>()?;
    Ok(archive.revisions(reading, stream, upto).map_err(to_gql)?.into_iter().map(RevisionObj::from).collect())
}

/// One change in an entity's history.
#[derive(SimpleObject)]
#[graphql(name = "Revision")]
pub struct RevisionObj {
    /// The stream version this change made (gapless, from 1).
    version: i32,
    /// The event type, such as `ArticleRevised` or `AuthorRenamed`.
    event_type: String,
    /// When the change took effect in the world.
    effective_at: Instant,
    /// When the archive recorded it (strictly increasing across the log).
    recorded_at: Instant,
    /// Who wrote it (the token's name, or the importer's); `null` if not recorded.
    actor: Option<String>,
    /// The editor's words on the change: a revision's note or a retraction's reason; `null`
    /// otherwise.
    note: Option<String>,
    /// The fields the change set (`headline`, `body`, `status`, `bylines`, `name`, ...).
    changed_fields: Vec<String>,
    /// The change's position in the log.
    position: Pos,
}

impl From<crate::archive::Revision> for RevisionObj {
    fn from(r: crate::archive::Revision) -> RevisionObj {
        RevisionObj {
            version: int(r.version),
            event_type: r.event_type,
            effective_at: Instant(r.effective_at),
            recorded_at: Instant(r.recorded_at),
            actor: r.actor,
            note: r.note,
            changed_fields: r.changed_fields.into_iter().map(str::to_owned).collect(),
            position: Pos(r.position),
        }
    }
}

/// An author's credit.
pub struct BylineObj {
    author: AuthorObj,
    role: Option<String>,
}

/// An author's credit on an article, as it stood at the instant of the read.
#[Object(name = "Byline")]
impl BylineObj {
    /// The credited author, read at the same instant.
    async fn author(&self) -> &AuthorObj {
        &self.author
    }
    /// The name as printed at the instant of the read.
    async fn name(&self) -> &str {
        &self.author.snap.state.name
    }
    /// Their role on the piece, free text (`reporter`, `photographer`); `null` if not given.
    async fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }
}

/// A correction.
#[derive(SimpleObject)]
#[graphql(name = "Correction")]
pub struct CorrectionObj {
    /// The correction as printed.
    text: String,
    /// When it took effect.
    effective_at: Instant,
}

/// An author as of a reading.
pub struct AuthorObj {
    pub snap: Snapshot<domain::Author>,
    pub reading: Reading,
}

/// A contributor, as registered at the instant of the read; every nested field is read at that
/// same instant.
#[Object(name = "Author")]
impl AuthorObj {
    /// The author's id: a ULID, fixed for good (their log stream is `author-<id>`).
    async fn id(&self) -> ID {
        ID(self.snap.state.id.to_string())
    }
    /// The name at the instant of the read.
    async fn name(&self) -> &str {
        &self.snap.state.name
    }
    /// A short biography; `null` if none.
    async fn bio(&self) -> Option<&str> {
        self.snap.state.bio.as_deref()
    }
    /// The stream version this state is at (gapless, from 1).
    async fn version(&self) -> i32 {
        int(self.snap.version)
    }
    /// Their published articles, newest first.
    #[graphql(complexity = "super::list_cost(first, 20, child_complexity)")]
    async fn articles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many articles per page: default 20, at most 100.")] first: Option<i32>,
        #[graphql(desc = "An opaque cursor: the `endCursor` of the previous page; omit for the first \
                          page.")]
        after: Option<String>,
    ) -> async_graphql::Result<ArticleConnection> {
        super::query::articles_page(ctx, &self.reading, None, Some(self.snap.state.id), None, first, after)
    }
    /// Every change up to the instant of the read.
    #[graphql(complexity = "super::list_cost(None, 10, child_complexity)")]
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RevisionObj>> {
        revisions(ctx, &self.snap.state.id.stream(), &self.reading, self.snap.version)
    }
}

/// Relay page information.
#[derive(SimpleObject, Default)]
pub struct PageInfo {
    /// Whether more items follow this page.
    pub has_next_page: bool,
    /// Whether items precede this page (it was asked for after a cursor).
    pub has_previous_page: bool,
    /// The opaque cursor of the page's first item; `null` if the page is empty.
    pub start_cursor: Option<String>,
    /// The opaque cursor of the page's last item: pass it as `after` for the next page; `null`
    /// if the page is empty.
    pub end_cursor: Option<String>,
}

impl PageInfo {
    pub fn of(cursors: &[String], has_next: bool, has_previous: bool) -> PageInfo {
        PageInfo {
            has_next_page: has_next,
            has_previous_page: has_previous,
            start_cursor: cursors.first().cloned(),
            end_cursor: cursors.last().cloned(),
        }
    }
}

/// A page of articles.
#[derive(SimpleObject)]
pub struct ArticleConnection {
    /// The articles of this page, in order.
    pub edges: Vec<ArticleEdge>,
    /// Where this page stands in the list.
    pub page_info: PageInfo,
    /// How many articles the whole list holds, over all pages.
    pub total_count: i32,
}

/// An article in a page.
#[derive(SimpleObject)]
pub struct ArticleEdge {
    /// An opaque cursor: pass it as `after` to continue after this article.
    pub cursor: String,
    /// The article.
    pub node: ArticleObj,
}

/// A page of authors.
#[derive(SimpleObject)]
pub struct AuthorConnection {
    /// The authors of this page, in order.
    pub edges: Vec<AuthorEdge>,
    /// Where this page stands in the list.
    pub page_info: PageInfo,
    /// How many authors the whole list holds; for a read of the past (`asOf`, `knownAt` or
    /// `basis` before now), only those on this page.
    pub total_count: i32,
}

/// An author in a page.
#[derive(SimpleObject)]
pub struct AuthorEdge {
    /// An opaque cursor: pass it as `after` to continue after this author.
    pub cursor: String,
    /// The author.
    pub node: AuthorObj,
}

/// Search results.
#[derive(SimpleObject)]
pub struct SearchResults {
    /// How many published articles match, over all pages.
    pub total_count: i32,
    /// This page of hits, in the order asked for.
    pub hits: Vec<SearchHit>,
    /// Counts by section, publication year and author over every match, not only this page.
    pub facets: SearchFacets,
    /// Where this page stands in the results.
    pub page_info: PageInfo,
}

/// One hit.
#[derive(SimpleObject)]
pub struct SearchHit {
    /// An opaque cursor: pass it as `after` to continue after this hit.
    pub cursor: String,
    /// The matching article, read at the search's instant.
    pub article: ArticleObj,
    /// BM25 relevance (higher is better; headline matches weigh most); 0 when sorted by DATE.
    pub score: f64,
    /// Highlighted fragments of the fields the query matched (`headline`, `summary`, `body`);
    /// empty when no words matched (an empty query).
    pub snippets: Vec<Snippet>,
}

/// A fragment of a matched field; matched words wrapped in <mark>…</mark>, everything else
/// HTML-escaped.
#[derive(SimpleObject)]
pub struct Snippet {
    /// The field the fragment is from: `headline`, `summary` or `body`.
    pub field: String,
    /// The fragment as HTML, ready to insert (at most about 240 characters of body text, 400
    /// of the others).
    pub html: String,
}

/// Counts over every match.
#[derive(SimpleObject)]
pub struct SearchFacets {
    /// Matches per section, most first (ties by value).
    pub sections: Vec<FacetCount>,
    /// Matches per publication year (UTC, such as `1920`), most first (ties by value).
    pub years: Vec<FacetCount>,
    /// Matches per credited author, by author id, most first (ties by value).
    pub authors: Vec<FacetCount>,
}

/// One facet value.
#[derive(SimpleObject)]
pub struct FacetCount {
    /// A section, a year or an author id, depending on the facet.
    pub value: String,
    /// How many matching articles have it.
    pub count: i32,
}

pub use super::node::*;
