//! Reads.

use crate::Code;
use std::sync::Mutex;

use async_graphql::{Context, ID, Object};

use super::scalars::{Instant, Pos};
use super::types::*;
use super::{Viewer, error, page_size, to_gql};
use crate::archive::Group;
use crate::archive::SearchRequest;
use crate::archive::{Archive, ReadRequest, ReadSnapshot, Reading};
use crate::domain::{ArticleId, AuthorId};

/// The readings the request's answers were computed at: the HTTP layer reports the last as
/// `extensions.basis` (and `extensions.asOf` when it was in the past).
#[derive(Default)]
pub struct Bases(pub Mutex<Vec<Reading>>);

/// How a request carries its [`Bases`] (shared with the HTTP layer).
#[derive(Clone)]
pub struct BasesHandle(pub std::sync::Arc<Bases>);

pub(crate) async fn reading(
    ctx: &Context<'_>,
    as_of: Option<Instant>,
    known_at: Option<Instant>,
    basis: Option<Pos>,
    min_position: Option<Pos>,
) -> async_graphql::Result<Reading> {
    // The request's snapshot, pinned by the HTTP layer; a schema run without one (tools,
    // tests) pins one per field.
    let reading = match ctx.data_opt::<ReadSnapshot>() {
        Some(snapshot) => snapshot.reading(
            as_of.map(|i| i.0),
            known_at.map(|i| i.0),
            basis.map(|b| b.0),
            min_position.map(|p| p.0),
        ),
        None => {
            let archive = ctx.data::<Archive>()?;
            let staff = ctx.data_opt::<Viewer>().is_some_and(Viewer::is_staff);
            archive
                .reading(ReadRequest {
                    as_of: as_of.map(|i| i.0),
                    known_at: known_at.map(|i| i.0),
                    basis: basis.map(|b| b.0),
                    min_position: min_position.map(|p| p.0),
                    staff,
                })
                .await
        }
    }
    .map_err(to_gql)?;
    if let Some(BasesHandle(bases)) = ctx.data_opt::<BasesHandle>() {
        bases.0.lock().expect("lock poisoned").push(reading);
    }
    Ok(reading)
}

fn article_id(id: &ID) -> async_graphql::Result<ArticleId> {
    id.parse().map_err(|_| error(Code::BadInput, format!("{:?} is not an article id", id.as_str())))
}

fn author_id(id: &ID) -> async_graphql::Result<AuthorId> {
    id.parse().map_err(|_| error(Code::BadInput, format!("{:?} is not an author id", id.as_str())))
}

/// A page of published articles at a reading: the views' listings for the present, the search
/// index's windows for the past.
pub(crate) fn articles_page(
    ctx: &Context<'_>,
    r: &Reading,
    section: Option<String>,
    author: Option<AuthorId>,
    tag: Option<String>,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<ArticleConnection> {
    let archive = ctx.data::<Archive>()?;
    let group = match (&section, author, &tag) {
        (None, None, None) => Group::All,
        (Some(s), None, None) => Group::Section(s.clone()),
        (None, Some(a), None) => Group::Author(a),
        (None, None, Some(t)) => Group::Tag(t.clone()),
        _ => return Err(error(Code::BadInput, "filter by at most one of section, authorId and tag")),
    };
    // The views' listing when they stand exactly at the reading; the index's windows otherwise.
    let listed = match after.as_deref() {
        Some(c) if c.starts_with("hit:") => None,
        _ => archive.list(r, &group, after.as_deref(), page_size(first, 20)?).map_err(to_gql)?,
    };
    if let Some(page) = listed {
        let mut edges = Vec::with_capacity(page.items.len());
        for (cursor, id) in page.items {
            if let Some(snap) = archive.article(r, id).map_err(to_gql)? {
                edges.push(ArticleEdge { cursor, node: ArticleObj { snap, reading: *r } });
            }
        }
        let cursors: Vec<String> = edges.iter().map(|e| e.cursor.clone()).collect();
        return Ok(ArticleConnection {
            page_info: PageInfo::of(&cursors, page.has_next, after.is_some()),
            edges,
            total_count: i32::try_from(page.total).unwrap_or(i32::MAX),
        });
    }
    let first = page_size(first, 20)?;
    let offset = offset_of(after.as_deref())?;
    let filter = SearchRequest { section, author_id: author, tag, ..Default::default() };
    let (ids, total) = archive.list_at(r, filter, offset, first).map_err(to_gql)?;
    let mut edges = Vec::new();
    for (i, id) in ids.into_iter().enumerate() {
        if let Some(snap) = archive.article(r, id).map_err(to_gql)? {
            edges.push(ArticleEdge {
                cursor: format!("hit:{}", offset + i),
                node: ArticleObj { snap, reading: *r },
            });
        }
    }
    let cursors: Vec<String> = edges.iter().map(|e| e.cursor.clone()).collect();
    Ok(ArticleConnection {
        page_info: PageInfo::of(&cursors, offset + cursors.len() < total as usize, offset > 0),
        edges,
        total_count: i32::try_from(total).unwrap_or(i32::MAX),
    })
}

/// Declares, once, the four time arguments of every read of the archive's past: each field
/// written inside gets `asOf`, `knownAt`, `basis` and `minPosition` (named by its `times(..)`),
/// with one description each.
macro_rules! time_travel_fields {
    (
        // The attribute's own tokens, so that what it binds (`child_complexity`) is seen by
        // the complexity expressions written at the call site.
        $hash:tt $attribute:tt
        impl $ty:ident {
            $(
                $(#[$attr:meta])*
                async fn $name:ident(&self, $ctx:ident: &Context<'_>, $($param:tt)*)
                    times($as_of:ident, $known_at:ident, $basis:ident, $min_position:ident) -> $ret:ty $body:block
            )*
        }
    ) => {
        $hash $attribute
        impl $ty {
            $(
                $(#[$attr])*
                async fn $name(
                    &self,
                    $ctx: &Context<'_>,
                    $($param)*
                    #[graphql(desc = "Read the archive as it stood at this instant (effective time, inclusive). \
                                      Default: now; a future instant is read as now.")]
                    $as_of: Option<Instant>,
                    #[graphql(desc = "Only events the archive had recorded by this instant: what it knew then. \
                                      Default: now.")]
                    $known_at: Option<Instant>,
                    #[graphql(desc = "Only events at log positions up to this one: pass an answer's \
                                      `extensions.basis` to reproduce that answer exactly. With `knownAt`, the \
                                      earlier wins.")]
                    $basis: Option<Pos>,
                    #[graphql(desc = "Wait (up to 5 s) until the projectors include this position, such as a \
                                      mutation's `position` (read your writes); fails with STALE if they do not.")]
                    $min_position: Option<Pos>,
                ) -> $ret $body
            )*
        }
    };
}

/// Reads. Anonymous readers see published content only; editor and admin tokens also see
/// drafts (through `article`). A read taking `asOf`, `knownAt`, `basis` and `minPosition` is
/// answered at one log position, reported in the response as `extensions.basis`; something
/// that did not exist at the instant read is `null` or absent, not an error. Errors carry
/// `extensions.code`: BAD_INPUT (a bad id, cursor, query or `first`), STALE (`minPosition`
/// not reached in time).
///
/// Limits on every request, refused with LIMIT beyond them: a query text of at most 2 MiB
/// (2097152 bytes) with brackets nested at most 64 deep; selections at most 12 deep
/// (introspection aside); fragment spreads nested at most 32 deep; at most 10000 selections
/// with every fragment expanded; a complexity of at most 2000 (one per field, a list's
/// selections counted once per item its page asks for); at most 8 directives on a field; a
/// request body of at most 2 MiB; 15 seconds per request. A page holds at most 100 items.
/// Over WebSocket: messages of at most 2 MiB, at most 32 operations per socket.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(TimeTravelQuery, LogQuery, super::images::ImageQuery);

/// The reads of the archive at any instant.
#[derive(Default)]
pub struct TimeTravelQuery;

time_travel_fields! {
    #[Object]
    impl TimeTravelQuery {
    /// One article by id or slug; `null` if it did not exist at that instant (or is a draft and
    /// you are not an editor).
    #[allow(clippy::too_many_arguments)]
    async fn article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's id. Give exactly one of `id` and `slug` (BAD_INPUT otherwise).")]
        id: Option<ID>,
        #[graphql(desc = "The article's slug. Give exactly one of `id` and `slug` (BAD_INPUT otherwise).")]
        slug: Option<String>,
    ) times(as_of, known_at, basis, min_position) -> async_graphql::Result<Option<ArticleObj>> {
        let r = reading(ctx, as_of, known_at, basis, min_position).await?;
        let archive = ctx.data::<Archive>()?;
        let snap = match (id, slug) {
            (Some(id), None) => {
                let id = article_id(&id)?;
                archive.check_takedown(&r, id).and_then(|()| archive.article(&r, id))
            }
            (None, Some(slug)) => archive.article_by_slug(&r, &slug),
            _ => return Err(error(Code::BadInput, "give exactly one of id and slug")),
        }
        .map_err(to_gql)?;
        Ok(snap.map(|snap| ArticleObj { snap, reading: r }))
    }

    /// Published articles, newest publication first, optionally of one section, author or tag;
    /// at any instant.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::list_cost(first, 20, child_complexity)")]
    async fn articles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this section (`politics`). At most one of `section`, `authorId` and \
                          `tag` (BAD_INPUT otherwise).")]
        section: Option<String>,
        #[graphql(desc = "Only articles crediting this author. At most one of `section`, `authorId` \
                          and `tag` (BAD_INPUT otherwise).")]
        author_id: Option<ID>,
        #[graphql(desc = "Only articles with this tag. At most one of `section`, `authorId` and `tag` \
                          (BAD_INPUT otherwise).")]
        tag: Option<String>,
        #[graphql(desc = "How many per page: default 20, at most 100.")] first: Option<i32>,
        #[graphql(desc = "An opaque cursor: the `endCursor` of the previous page (asked with the same \
                          arguments); omit for the first page.")]
        after: Option<String>,
    ) times(as_of, known_at, basis, min_position) -> async_graphql::Result<ArticleConnection> {
        let r = reading(ctx, as_of, known_at, basis, min_position).await?;
        let author = author_id.as_ref().map(author_id_of).transpose()?;
        articles_page(ctx, &r, section, author, tag, first, after)
    }

    /// How many published articles (matching `query`, when given) each year, month or day
    /// held, from `from` to `to` (exclusive), at any instant.
    #[allow(clippy::too_many_arguments)]
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Count only articles matching this search query (the syntax of `search`); \
                          omit to count every published article.")]
        query: Option<String>,
        #[graphql(desc = "Count from the bucket holding this instant (publication time, inclusive). \
                          Default: the earliest publication.")]
        from: Option<Instant>,
        #[graphql(desc = "Count publications before this instant (exclusive). Default: up to the \
                          latest publication.")]
        to: Option<Instant>,
        #[graphql(desc = "The bucket size: calendar YEAR, MONTH or DAY, in UTC; at most 100000 \
                          buckets (BAD_INPUT beyond). Empty buckets are included.")]
        bucket: TimelineBucket,
    ) times(as_of, known_at, basis, min_position) -> async_graphql::Result<Vec<TimelineCount>> {
        let r = reading(ctx, as_of, known_at, basis, min_position).await?;
        let archive = ctx.data::<Archive>()?;
        let filter = SearchRequest {
            query: query.unwrap_or_default(),
            published_from: from.map(|i| i.0),
            published_to: to.map(|i| i.0),
            ..Default::default()
        };
        let bucket = match bucket {
            TimelineBucket::Year => crate::archive::history::Bucket::Year,
            TimelineBucket::Month => crate::archive::history::Bucket::Month,
            TimelineBucket::Day => crate::archive::history::Bucket::Day,
        };
        let counts = archive.timeline(&r, filter, bucket).map_err(to_gql)?;
        Ok(counts
            .into_iter()
            .map(|(start, count)| TimelineCount {
                start: Instant(start),
                count: i32::try_from(count).unwrap_or(i32::MAX),
            })
            .collect())
    }

    /// Full-text search over published articles: words, "phrases", AND/OR, -word,
    /// `headline:`, `author:`, `section:`, `caption:`. Ranked by relevance.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::list_cost(first, 10, child_complexity)")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The query: words (all must match), \"phrases\", AND/OR, -word to exclude, \
                          and `headline:`, `author:`, `section:` to search one field; `caption:word` or \
                          `caption:\"a phrase\"` finds articles through their images' captions, credits \
                          and alt text as they stood at the search's instant (at most 4 such clauses, \
                          LIMIT beyond). An empty query matches every published article. Bad syntax \
                          is BAD_INPUT.")]
        query: String,
        #[graphql(desc = "Only this section (`politics`).")] section: Option<String>,
        #[graphql(desc = "Only articles crediting this author.")] author_id: Option<ID>,
        #[graphql(desc = "Only articles published at or after this instant (inclusive; a bare date \
                          means its start, UTC).")]
        published_from: Option<Instant>,
        #[graphql(desc = "Only articles published before this instant (exclusive; a bare date means \
                          its start, UTC, so `1921-01-01` stops at the end of 1920).")]
        published_to: Option<Instant>,
        #[graphql(desc = "How many hits per page: default 10, at most 100.")] first: Option<i32>,
        #[graphql(desc = "An opaque cursor: a hit's `cursor` or the previous page's `endCursor` (asked \
                          with the same arguments); omit for the first page.")]
        after: Option<String>,
        #[graphql(desc = "Only articles with this tag.")] tag: Option<String>,
        #[graphql(desc = "The order of hits: RELEVANCE (default) or DATE (newest publication first).")]
        sort: Option<SearchSort>,
    ) times(as_of, known_at, basis, min_position) -> async_graphql::Result<SearchResults> {
        let r = reading(ctx, as_of, known_at, basis, min_position).await?;
        let archive = ctx.data::<Archive>()?;
        let first = page_size(first, 10)?;
        let offset = offset_of(after.as_deref())?;
        // Facet counts and snippets cost work on broad queries: only when asked for.
        let asked = ctx.look_ahead();
        let request = SearchRequest {
            skip_facets: !asked.field("facets").exists(),
            skip_snippets: !asked.field("hits").field("snippets").exists(),
            skip_total: !asked.field("totalCount").exists() && !asked.field("pageInfo").exists(),
            query,
            section,
            author_id: author_id.as_ref().map(author_id_of).transpose()?,
            published_from: published_from.map(|i| i.0),
            published_to: published_to.map(|i| i.0),
            tag,
            first,
            offset,
            sort: match sort.unwrap_or_default() {
                SearchSort::Relevance => crate::archive::Sort::Relevance,
                SearchSort::Date => crate::archive::Sort::Date,
            },
            ..Default::default()
        };
        let results = archive.search(&r, request).map_err(to_gql)?;
        let mut hits = Vec::new();
        for (i, hit) in results.hits.into_iter().enumerate() {
            let Some(snap) = archive.article(&r, hit.article).map_err(to_gql)? else { continue };
            hits.push(SearchHit {
                cursor: format!("hit:{}", offset + i),
                article: ArticleObj { snap, reading: r },
                score: f64::from(hit.score),
                snippets: hit
                    .snippets
                    .into_iter()
                    .map(|s| Snippet { field: s.field.into(), html: s.html })
                    .collect(),
            });
        }
        let facets = |v: Vec<(String, u64)>| {
            v.into_iter()
                .map(|(value, count)| FacetCount { value, count: i32::try_from(count).unwrap_or(i32::MAX) })
                .collect()
        };
        let cursors: Vec<String> = hits.iter().map(|h| h.cursor.clone()).collect();
        // Counted whenever `totalCount` or `pageInfo` is asked for.
        let total = results.total.unwrap_or_default() as usize;
        Ok(SearchResults {
            total_count: i32::try_from(total).unwrap_or(i32::MAX),
            page_info: PageInfo::of(&cursors, offset + cursors.len() < total, offset > 0),
            hits,
            facets: SearchFacets {
                sections: facets(results.sections),
                years: facets(results.years),
                authors: facets(results.authors),
            },
        })
    }

    /// One author; `null` if not registered at that instant.
    async fn author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The author's id.")] id: ID,
    ) times(as_of, known_at, basis, min_position) -> async_graphql::Result<Option<AuthorObj>> {
        let r = reading(ctx, as_of, known_at, basis, min_position).await?;
        let archive = ctx.data::<Archive>()?;
        let snap = archive.author(&r, author_id(&id)?).map_err(to_gql)?;
        Ok(snap.map(|snap| AuthorObj { snap, reading: r }))
    }

    /// Authors registered at that instant, by current name (ignoring case).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::list_cost(first, 20, child_complexity)")]
    async fn authors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many per page: default 20, at most 100.")] first: Option<i32>,
        #[graphql(desc = "An opaque cursor: the `endCursor` of the previous page (asked with the same \
                          arguments); omit for the first page.")]
        after: Option<String>,
    ) times(as_of, known_at, basis, min_position) -> async_graphql::Result<AuthorConnection> {
        let r = reading(ctx, as_of, known_at, basis, min_position).await?;
        let archive = ctx.data::<Archive>()?;
        let page = archive.authors_at(&r, after.as_deref(), page_size(first, 20)?).map_err(to_gql)?;
        let mut edges = Vec::new();
        for (cursor, id) in page.items {
            if let Some(snap) = archive.author(&r, id).map_err(to_gql)? {
                edges.push(AuthorEdge { cursor, node: AuthorObj { snap, reading: r } });
            }
        }
        let cursors: Vec<String> = edges.iter().map(|e| e.cursor.clone()).collect();
        Ok(AuthorConnection {
            page_info: PageInfo::of(&cursors, page.has_next, after.is_some()),
            edges,
            total_count: i32::try_from(page.total).unwrap_or(i32::MAX),
        })
    }

    }
}

/// The reads of the raw log and of the node.
#[derive(Default)]
pub struct LogQuery;

#[Object]
impl LogQuery {
    /// A page of the raw log, in position order, after `after` (exclusive). For staff only:
    /// without an editor's or an admin's token it answers UNAUTHENTICATED.
    #[graphql(complexity = "super::list_cost(first, 50, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Start after this position (exclusive; an edge's `cursor` works too). \
                          Default: from the start of the log.")]
        after: Option<Pos>,
        #[graphql(desc = "Only this stream's events: `article-<id>` or `author-<id>`, where `<id>` is \
                          an article's or an author's `id`.")]
        stream_id: Option<ID>,
        #[graphql(desc = "How many events per page: default 50, at most 100.")] first: Option<i32>,
    ) -> async_graphql::Result<EventConnection> {
        let archive = ctx.data::<Archive>()?;
        let staff = ctx.data_opt::<Viewer>().is_some_and(Viewer::is_staff);
        let first = page_size(first, 50)?;
        let after = after.map_or(crate::Position::ZERO, |p| p.0);
        let mut events = archive
            .events(staff, after, stream_id.as_ref().map(|s| s.as_str()), first + 1)
            .map_err(to_gql)?;
        let has_next = events.len() > first;
        events.truncate(first);
        let edges: Vec<EventEdge> = events
            .into_iter()
            .map(|e| EventEdge { cursor: e.position.to_string(), node: EventObj(e) })
            .collect();
        let cursors: Vec<String> = edges.iter().map(|e| e.cursor.clone()).collect();
        Ok(EventConnection { page_info: PageInfo::of(&cursors, has_next, after.get() > 0), edges })
    }

    /// The head position, each projector's checkpoint and lag, and the node's role and link
    /// to NATS JetStream (publisher or replica lag).
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<Status> {
        let archive = ctx.data::<Archive>()?;
        let (head, projectors) = archive.status();
        let link = archive.link_report();
        Ok(Status {
            role: match &link {
                Some(l) if l.replica => NodeRole::Replica,
                _ => NodeRole::Writer,
            },
            replication: link.map(|l| Replication {
                target: l.target,
                connected: l.connected,
                position: Pos(crate::Position(l.position)),
                lag: i32::try_from(l.lag).unwrap_or(i32::MAX),
                caught_up: l.caught_up,
                error: l.error,
            }),
            head: Pos(head),
            projectors: projectors
                .into_iter()
                .map(|p| ProjectorStatus {
                    name: p.name.into(),
                    checkpoint: Pos(p.checkpoint),
                    lag: i32::try_from(p.lag).unwrap_or(i32::MAX),
                    error: p.error,
                })
                .collect(),
        })
    }
}

fn author_id_of(id: &ID) -> async_graphql::Result<AuthorId> {
    author_id(id)
}

/// The offset after an opaque `hit:N` cursor.
fn offset_of(after: Option<&str>) -> async_graphql::Result<usize> {
    match after {
        None => Ok(0),
        Some(c) => c
            .strip_prefix("hit:")
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| n.checked_add(1))
            .ok_or_else(|| error(Code::BadInput, format!("cursor {c:?} is not a cursor of this list"))),
    }
}
