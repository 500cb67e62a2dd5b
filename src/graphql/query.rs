//! Reads.

use std::sync::Mutex;

use async_graphql::{Context, ID, Object};

use super::scalars::{Instant, Pos};
use super::types::*;
use super::{Viewer, error, page_size, to_gql};
use crate::archive::{Archive, ReadRequest, Reading};
use crate::domain::{ArticleId, AuthorId};
use crate::project::search::SearchRequest;
use crate::project::views::Group;

/// The positions the request's answers were computed at: the HTTP layer reports the last as
/// `extensions.basis`.
#[derive(Default)]
pub struct Bases(pub Mutex<Vec<crate::Position>>);

/// How a request carries its [`Bases`] (shared with the HTTP layer).
#[derive(Clone)]
pub struct BasesHandle(pub std::sync::Arc<Bases>);

/// The root of reads.
pub struct QueryRoot;

pub(crate) async fn reading(
    ctx: &Context<'_>,
    as_of: Option<Instant>,
    known_at: Option<Instant>,
    basis: Option<Pos>,
    min_position: Option<Pos>,
) -> async_graphql::Result<Reading> {
    let archive = ctx.data::<Archive>()?;
    let drafts = ctx.data_opt::<Viewer>().is_some_and(Viewer::sees_drafts);
    let reading = archive
        .reading(ReadRequest {
            as_of: as_of.map(|i| i.0),
            known_at: known_at.map(|i| i.0),
            basis: basis.map(|b| b.0),
            min_position: min_position.map(|p| p.0),
            drafts,
        })
        .await
        .map_err(to_gql)?;
    if let Some(BasesHandle(bases)) = ctx.data_opt::<BasesHandle>() {
        bases.0.lock().expect("lock poisoned").push(reading.basis);
    }
    Ok(reading)
}

fn article_id(id: &ID) -> async_graphql::Result<ArticleId> {
    id.parse().map_err(|_| error("BAD_INPUT", format!("{:?} is not an article id", id.as_str())))
}

fn author_id(id: &ID) -> async_graphql::Result<AuthorId> {
    id.parse().map_err(|_| error("BAD_INPUT", format!("{:?} is not an author id", id.as_str())))
}

pub(crate) fn list(
    ctx: &Context<'_>,
    reading: &Reading,
    group: &Group,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<ArticleConnection> {
    let archive = ctx.data::<Archive>()?;
    let first = page_size(first, 20)?;
    let page = archive.list(group, after.as_deref(), first).map_err(to_gql)?;
    let mut edges = Vec::with_capacity(page.items.len());
    for (cursor, id) in page.items {
        if let Some(snap) = archive.article(reading, id).map_err(to_gql)? {
            edges.push(ArticleEdge { cursor, node: ArticleObj { snap, reading: *reading } });
        }
    }
    let cursors: Vec<String> = edges.iter().map(|e| e.cursor.clone()).collect();
    Ok(ArticleConnection {
        page_info: PageInfo::of(&cursors, page.has_next, after.is_some()),
        edges,
        total_count: i32::try_from(page.total).unwrap_or(i32::MAX),
    })
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
    if archive.is_present(r) {
        let group = match (&section, author, &tag) {
            (None, None, None) => Group::All,
            (Some(s), None, None) => Group::Section(s.clone()),
            (None, Some(a), None) => Group::Author(a),
            (None, None, Some(t)) => Group::Tag(t.clone()),
            _ => return Err(error("BAD_INPUT", "filter by at most one of section, authorId and tag")),
        };
        return list(ctx, r, &group, first, after);
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

#[Object(name = "Query")]
impl QueryRoot {
    /// One article by id or slug; `null` if it did not exist at that instant (or is a draft and
    /// you are not an editor).
    #[allow(clippy::too_many_arguments)]
    async fn article(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        slug: Option<String>,
        as_of: Option<Instant>,
        known_at: Option<Instant>,
        basis: Option<Pos>,
        min_position: Option<Pos>,
    ) -> async_graphql::Result<Option<ArticleObj>> {
        let r = reading(ctx, as_of, known_at, basis, min_position).await?;
        let archive = ctx.data::<Archive>()?;
        let snap = match (id, slug) {
            (Some(id), None) => archive.article(&r, article_id(&id)?),
            (None, Some(slug)) => archive.article_by_slug(&r, &slug),
            _ => return Err(error("BAD_INPUT", "give exactly one of id and slug")),
        }
        .map_err(to_gql)?;
        Ok(snap.map(|snap| ArticleObj { snap, reading: r }))
    }

    /// Published articles, newest publication first, optionally of one section, author or tag;
    /// at any instant.
    #[allow(clippy::too_many_arguments)]
    async fn articles(
        &self,
        ctx: &Context<'_>,
        section: Option<String>,
        author_id: Option<ID>,
        tag: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        as_of: Option<Instant>,
        known_at: Option<Instant>,
        basis: Option<Pos>,
        min_position: Option<Pos>,
    ) -> async_graphql::Result<ArticleConnection> {
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
        query: Option<String>,
        from: Option<Instant>,
        to: Option<Instant>,
        bucket: TimelineBucket,
        as_of: Option<Instant>,
        known_at: Option<Instant>,
        basis: Option<Pos>,
        min_position: Option<Pos>,
    ) -> async_graphql::Result<Vec<TimelineCount>> {
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
    /// `headline:`, `author:`, `section:`. Ranked by relevance.
    #[allow(clippy::too_many_arguments)]
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        section: Option<String>,
        author_id: Option<ID>,
        published_from: Option<Instant>,
        published_to: Option<Instant>,
        first: Option<i32>,
        after: Option<String>,
        as_of: Option<Instant>,
        known_at: Option<Instant>,
        basis: Option<Pos>,
        min_position: Option<Pos>,
        tag: Option<String>,
        sort: Option<SearchSort>,
    ) -> async_graphql::Result<SearchResults> {
        let r = reading(ctx, as_of, known_at, basis, min_position).await?;
        let archive = ctx.data::<Archive>()?;
        let first = page_size(first, 10)?;
        let offset = offset_of(after.as_deref())?;
        let request = SearchRequest {
            query,
            section,
            author_id: author_id.as_ref().map(author_id_of).transpose()?,
            published_from: published_from.map(|i| i.0),
            published_to: published_to.map(|i| i.0),
            tag,
            first,
            offset,
            sort: match sort.unwrap_or_default() {
                SearchSort::Relevance => crate::project::search::Sort::Relevance,
                SearchSort::Date => crate::project::search::Sort::Date,
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
        let total = results.total as usize;
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
        id: ID,
        as_of: Option<Instant>,
        known_at: Option<Instant>,
        basis: Option<Pos>,
        min_position: Option<Pos>,
    ) -> async_graphql::Result<Option<AuthorObj>> {
        let r = reading(ctx, as_of, known_at, basis, min_position).await?;
        let archive = ctx.data::<Archive>()?;
        let snap = archive.author(&r, author_id(&id)?).map_err(to_gql)?;
        Ok(snap.map(|snap| AuthorObj { snap, reading: r }))
    }

    /// Authors by name.
    #[allow(clippy::too_many_arguments)]
    async fn authors(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        as_of: Option<Instant>,
        known_at: Option<Instant>,
        basis: Option<Pos>,
        min_position: Option<Pos>,
    ) -> async_graphql::Result<AuthorConnection> {
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

    /// A page of the raw log, in position order, after `after` (exclusive).
    async fn events(
        &self,
        ctx: &Context<'_>,
        after: Option<Pos>,
        stream_id: Option<ID>,
        first: Option<i32>,
    ) -> async_graphql::Result<EventConnection> {
        let archive = ctx.data::<Archive>()?;
        let first = page_size(first, 50)?;
        let after = after.map_or(crate::Position::ZERO, |p| p.0);
        let mut events =
            archive.events(after, stream_id.as_ref().map(|s| s.as_str()), first + 1).map_err(to_gql)?;
        let has_next = events.len() > first;
        events.truncate(first);
        let edges: Vec<EventEdge> = events
            .into_iter()
            .map(|e| EventEdge { cursor: e.position.to_string(), node: EventObj(e) })
            .collect();
        let cursors: Vec<String> = edges.iter().map(|e| e.cursor.clone()).collect();
        Ok(EventConnection { page_info: PageInfo::of(&cursors, has_next, after.get() > 0), edges })
    }

    /// The head position and each projector's checkpoint and lag.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<Status> {
        let archive = ctx.data::<Archive>()?;
        let (head, projectors) = archive.status();
        Ok(Status {
            head: Pos(head),
            projectors: projectors
                .into_iter()
                .map(|p| ProjectorStatus {
                    name: p.name.into(),
                    checkpoint: Pos(p.checkpoint),
                    lag: i32::try_from(p.lag).unwrap_or(i32::MAX),
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
            .map(|n| n + 1)
            .ok_or_else(|| error("BAD_INPUT", format!("cursor {c:?} is not a cursor of this list"))),
    }
}
