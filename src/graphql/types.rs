//! Output types of the schema.

use async_graphql::{Context, Enum, ID, Json, Object, SimpleObject};

use super::scalars::{Instant, Pos};
use super::to_gql;
use crate::archive::{Archive, Reading};
use crate::domain::events::Event as DomainEvent;
use crate::domain::{self, ArticleStatus as DomainStatus};
use crate::project::views::Snapshot;
use crate::store::RecordedEvent;

/// Where an article is in its life.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "ArticleStatus")]
pub enum ArticleStatusGql {
    /// Written, not public.
    Draft,
    /// Public.
    Published,
    /// Withdrawn; kept and marked.
    Retracted,
}

impl From<DomainStatus> for ArticleStatusGql {
    fn from(s: DomainStatus) -> Self {
        match s {
            DomainStatus::Draft => ArticleStatusGql::Draft,
            DomainStatus::Published => ArticleStatusGql::Published,
            DomainStatus::Retracted => ArticleStatusGql::Retracted,
        }
    }
}

fn int(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// An article as of a reading.
pub struct ArticleObj {
    pub snap: Snapshot<domain::Article>,
    pub reading: Reading,
}

#[Object(name = "Article")]
impl ArticleObj {
    async fn id(&self) -> ID {
        ID(self.snap.state.id.to_string())
    }
    async fn slug(&self) -> &str {
        &self.snap.state.slug
    }
    async fn headline(&self) -> &str {
        &self.snap.state.headline
    }
    async fn summary(&self) -> Option<&str> {
        self.snap.state.summary.as_deref()
    }
    /// The text, Markdown.
    async fn body(&self) -> &str {
        &self.snap.state.body
    }
    async fn section(&self) -> &str {
        &self.snap.state.section
    }
    async fn tags(&self) -> &[String] {
        &self.snap.state.tags
    }
    async fn language(&self) -> Option<&str> {
        self.snap.state.language.as_deref()
    }
    async fn status(&self) -> ArticleStatusGql {
        self.snap.state.status.into()
    }
    /// Why it was retracted.
    async fn retraction_reason(&self) -> Option<&str> {
        self.snap.state.retraction_reason.as_deref()
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
    async fn corrections(&self) -> Vec<CorrectionObj> {
        self.snap
            .state
            .corrections
            .iter()
            .map(|c| CorrectionObj { text: c.text.clone(), effective_at: Instant(c.effective_at) })
            .collect()
    }
    async fn first_published_at(&self) -> Option<Instant> {
        self.snap.state.first_published_at.map(Instant)
    }
    async fn published_at(&self) -> Option<Instant> {
        self.snap.state.published_at.map(Instant)
    }
    /// The stream version this state is at.
    async fn version(&self) -> i32 {
        int(self.snap.version)
    }
    /// The position of the event that made this state.
    async fn position(&self) -> Pos {
        Pos(self.snap.position)
    }
    /// Every change up to the instant of the read, oldest first.
    async fn revisions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RevisionObj>> {
        revisions(ctx, &self.snap.state.id.stream(), &self.reading, self.snap.version)
    }
    /// A word-level diff of headline, summary and body between two versions (fields that did
    /// not change are left out).
    async fn diff(
        &self,
        ctx: &Context<'_>,
        from_version: i32,
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
                    "NOT_FOUND",
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
    let events = archive.events(crate::Position::ZERO, Some(stream), usize::MAX).map_err(to_gql)?;
    events
        .into_iter()
        .filter(|e| e.version <= upto && e.position <= reading.basis)
        .map(|e| {
            let (event, _) = crate::archive::decode(&e).map_err(to_gql)?;
            Ok(RevisionObj::new(&e, &event))
        })
        .collect()
}

/// One change in an entity's history.
#[derive(SimpleObject)]
#[graphql(name = "Revision")]
pub struct RevisionObj {
    version: i32,
    event_type: String,
    effective_at: Instant,
    recorded_at: Instant,
    actor: Option<String>,
    note: Option<String>,
    changed_fields: Vec<String>,
    position: Pos,
}

impl RevisionObj {
    fn new(e: &RecordedEvent, event: &DomainEvent) -> RevisionObj {
        RevisionObj {
            version: int(e.version),
            event_type: e.event_type.clone(),
            effective_at: Instant(e.effective_at),
            recorded_at: Instant(e.recorded_at),
            actor: e.actor.clone(),
            note: event.note().map(str::to_owned),
            changed_fields: event.changed_fields().into_iter().map(str::to_owned).collect(),
            position: Pos(e.position),
        }
    }
}

/// An author's credit.
pub struct BylineObj {
    author: AuthorObj,
    role: Option<String>,
}

#[Object(name = "Byline")]
impl BylineObj {
    async fn author(&self) -> &AuthorObj {
        &self.author
    }
    /// The name as printed at the instant of the read.
    async fn name(&self) -> &str {
        &self.author.snap.state.name
    }
    async fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }
}

/// A correction.
#[derive(SimpleObject)]
#[graphql(name = "Correction")]
pub struct CorrectionObj {
    text: String,
    effective_at: Instant,
}

/// An author as of a reading.
pub struct AuthorObj {
    pub snap: Snapshot<domain::Author>,
    pub reading: Reading,
}

#[Object(name = "Author")]
impl AuthorObj {
    async fn id(&self) -> ID {
        ID(self.snap.state.id.to_string())
    }
    /// The name at the instant of the read.
    async fn name(&self) -> &str {
        &self.snap.state.name
    }
    async fn bio(&self) -> Option<&str> {
        self.snap.state.bio.as_deref()
    }
    async fn version(&self) -> i32 {
        int(self.snap.version)
    }
    /// Their published articles, newest first.
    async fn articles(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ArticleConnection> {
        super::query::articles_page(ctx, &self.reading, None, Some(self.snap.state.id), None, first, after)
    }
    /// Every change up to the instant of the read.
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RevisionObj>> {
        revisions(ctx, &self.snap.state.id.stream(), &self.reading, self.snap.version)
    }
}

/// Relay page information.
#[derive(SimpleObject, Default)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
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
    pub edges: Vec<ArticleEdge>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

/// An article in a page.
#[derive(SimpleObject)]
pub struct ArticleEdge {
    pub cursor: String,
    pub node: ArticleObj,
}

/// A page of authors.
#[derive(SimpleObject)]
pub struct AuthorConnection {
    pub edges: Vec<AuthorEdge>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

/// An author in a page.
#[derive(SimpleObject)]
pub struct AuthorEdge {
    pub cursor: String,
    pub node: AuthorObj,
}

/// Search results.
#[derive(SimpleObject)]
pub struct SearchResults {
    pub total_count: i32,
    pub hits: Vec<SearchHit>,
    pub facets: SearchFacets,
    pub page_info: PageInfo,
}

/// One hit.
#[derive(SimpleObject)]
pub struct SearchHit {
    pub cursor: String,
    pub article: ArticleObj,
    pub score: f64,
    pub snippets: Vec<Snippet>,
}

/// A fragment of a matched field; matched words wrapped in <mark>…</mark>, everything else
/// HTML-escaped.
#[derive(SimpleObject)]
pub struct Snippet {
    pub field: String,
    pub html: String,
}

/// Counts over every match.
#[derive(SimpleObject)]
pub struct SearchFacets {
    pub sections: Vec<FacetCount>,
    pub years: Vec<FacetCount>,
    pub authors: Vec<FacetCount>,
}

/// One facet value.
#[derive(SimpleObject)]
pub struct FacetCount {
    pub value: String,
    pub count: i32,
}

/// One event of the log, with its envelope.
pub struct EventObj(pub RecordedEvent);

#[Object(name = "Event")]
impl EventObj {
    async fn position(&self) -> Pos {
        Pos(self.0.position)
    }
    async fn stream_id(&self) -> ID {
        ID(self.0.stream.clone())
    }
    async fn version(&self) -> i32 {
        int(self.0.version)
    }
    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    async fn schema_version(&self) -> i32 {
        i32::from(self.0.schema_version)
    }
    async fn recorded_at(&self) -> Instant {
        Instant(self.0.recorded_at)
    }
    async fn effective_at(&self) -> Instant {
        Instant(self.0.effective_at)
    }
    async fn actor(&self) -> Option<&str> {
        self.0.actor.as_deref()
    }
    async fn correlation_id(&self) -> Option<&str> {
        self.0.correlation_id.as_deref()
    }
    /// The payload as stored.
    async fn payload(&self) -> Json<serde_json::Value> {
        Json(serde_json::from_slice(&self.0.payload).unwrap_or(serde_json::Value::Null))
    }
}

/// A page of the log.
#[derive(SimpleObject)]
pub struct EventConnection {
    pub edges: Vec<EventEdge>,
    pub page_info: PageInfo,
}

/// An event in a page.
#[derive(SimpleObject)]
pub struct EventEdge {
    pub cursor: String,
    pub node: EventObj,
}

/// The archive's state.
#[derive(SimpleObject)]
pub struct Status {
    pub head: Pos,
    pub projectors: Vec<ProjectorStatus>,
}

/// A projector's state.
#[derive(SimpleObject)]
pub struct ProjectorStatus {
    pub name: String,
    pub checkpoint: Pos,
    pub lag: i32,
}
