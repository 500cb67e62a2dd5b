//! The read side of the archive handle: one consistent reading per request, resolved to a
//! log position once, then every field read at it.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Archive;
use crate::domain::{Article, ArticleId, Author, AuthorId, StreamKind};
use crate::project::search::{SearchRequest, SearchResults};
use crate::project::views::{ArticleFacts, Group, Page, Snapshot};
use crate::project::{At, Projections, ProjectorStatus};
use crate::store::RecordedEvent;
use crate::{Error, Position, Result};

/// How long a read waits for the projectors to reach the position it asks for.
pub const READ_YOUR_WRITES_WAIT: Duration = Duration::from_secs(5);

/// One change in an entity's history, as readers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revision {
    /// The stream version it made.
    pub version: u64,
    /// The event type.
    pub event_type: String,
    /// When it took effect.
    pub effective_at: DateTime<Utc>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who wrote it.
    pub actor: Option<String>,
    /// The editor's words on it.
    pub note: Option<String>,
    /// The fields it set.
    pub changed_fields: Vec<&'static str>,
    /// Its position in the log.
    pub position: Position,
}

/// Parses an instant as readers write it: RFC 3339 with any offset, or a bare date
/// (`1920-12-31`), meaning the start of that day, UTC.
/// Instants outside the years 1 to 9999 are refused: every path (the views, the index, the
/// log) reads and writes exactly those years.
pub fn parse_instant(text: &str) -> std::result::Result<DateTime<Utc>, String> {
    use crate::store::limits::{MAX_YEAR, MIN_YEAR, instant_in_range};
    const LONGEST: usize = 64;
    let text = text.trim();
    if text.len() > LONGEST {
        return Err(format!("an instant is at most {LONGEST} characters; this one has {}", text.len()));
    }
    let parsed = DateTime::parse_from_rfc3339(text).map(|t| t.to_utc()).ok().or_else(|| {
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
    });
    match parsed {
        Some(t) if instant_in_range(t) => Ok(t),
        Some(_) => Err(format!("{text:?} is outside the years {MIN_YEAR} to {MAX_YEAR}")),
        None => {
            Err(format!("{text:?} is not an RFC 3339 instant (2024-05-01T12:00:00Z) or a date (2024-05-01)"))
        }
    }
}

/// What a reader asks for: the instant, what the archive knew, and who is reading.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadRequest {
    /// Effective instant (`asOf`); `None` or a future instant means now.
    pub as_of: Option<DateTime<Utc>>,
    /// Recording instant (`knownAt`): only events recorded by then.
    pub known_at: Option<DateTime<Utc>>,
    /// A log position (`basis`), in place of `known_at`: reproduces a cited answer.
    pub basis: Option<Position>,
    /// Wait until the projectors include this position (read your writes).
    pub min_position: Option<Position>,
    /// Whether the reader is staff (an editor's or an admin's token): staff see drafts, the
    /// raw log and who wrote what; everyone else sees only what was public.
    pub staff: bool,
}

/// A resolved reading: every field of one response is read at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    /// The point read at.
    pub at: At,
    /// The log position the answer is computed at (`extensions.basis`).
    pub basis: Position,
    /// Whether the reader is staff; see [`ReadRequest::staff`].
    pub staff: bool,
}

impl Archive {
    pub(super) fn projections_or_err(&self) -> Result<&Projections> {
        self.projections.as_ref().ok_or_else(|| Error::BadInput("this archive has no read side".into()))
    }

    /// Resolves a read request to a reading: waits for `min_position` (or fails STALE), turns
    /// `knownAt` into the last position recorded by then, and pins the basis.
    pub async fn reading(&self, request: ReadRequest) -> Result<Reading> {
        let snapshot = self.snapshot(request.staff, request.min_position).await?;
        snapshot.reading(request.as_of, request.known_at, request.basis, None)
    }

    /// The last position recorded at or before `instant` (0 if none): a binary search, since
    /// recording instants increase with position.
    pub fn position_known_at(&self, instant: DateTime<Utc>) -> Result<Position> {
        let reader = self.store.reader()?;
        let (mut lo, mut hi) = (0u64, reader.head()?.get());
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if reader.event(Position(mid))?.recorded_at <= instant {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(Position(lo))
    }

    /// Refuses the raw log (events, their actors and payloads) to anyone but staff.
    pub fn staff_only(staff: bool, what: &str) -> Result<()> {
        if staff {
            Ok(())
        } else {
            Err(Error::Unauthenticated(format!(
                "{what} is for staff: send an editor's or an admin's token (`Authorization: Bearer <token>`)"
            )))
        }
    }

    /// An article as of the reading; `None` if it did not exist then (or was a draft and the
    /// reader may not see drafts, or it is taken down: [`Archive::check_takedown`] says so).
    pub fn article(&self, reading: &Reading, id: ArticleId) -> Result<Option<Snapshot<Article>>> {
        let views = self.projections_or_err()?.views();
        let found = views.read()?.article(id, reading.at)?;
        self.visible(reading, found)
    }

    /// An article by slug, as of the reading; UNAVAILABLE_FOR_LEGAL_REASONS for a reader when
    /// it is taken down.
    pub fn article_by_slug(&self, reading: &Reading, slug: &str) -> Result<Option<Snapshot<Article>>> {
        if slug.is_empty() {
            return Err(Error::BadInput("the slug is empty".into()));
        }
        super::limits::check_name("slug", slug, crate::domain::commands::limits::SLUG)?;
        let views = self.projections_or_err()?.views();
        let r = views.read()?;
        let Some(id) = r.article_by_slug(slug)? else { return Ok(None) };
        drop(r);
        // Asked for by name: a takedown answers with its notice rather than as if absent.
        self.check_takedown(reading, id)?;
        let views = self.projections_or_err()?.views();
        let found = views.read()?.article(id, reading.at)?;
        self.visible(reading, found)
    }

    /// An author as of the reading.
    pub fn author(&self, reading: &Reading, id: AuthorId) -> Result<Option<Snapshot<Author>>> {
        let views = self.projections_or_err()?.views();
        Ok(views.read()?.author(id, reading.at)?)
    }

    /// Every version of an article the reader may see (for its revision history), oldest
    /// first, up to the reading.
    pub fn article_history(&self, reading: &Reading, id: ArticleId) -> Result<Vec<Snapshot<Article>>> {
        if self.taken_down_for(reading, id)? {
            return Ok(Vec::new());
        }
        let views = self.projections_or_err()?.views();
        Ok(Self::readable(reading, views.read()?.history::<Article>(StreamKind::Article(id))?))
    }

    /// [`Archive::article_history`] without the text: every version the reader may see, oldest
    /// first, up to the reading, for lists of versions (feeds, TimeMaps) that must stay cheap
    /// whatever the length of the history and of the article.
    pub fn article_history_facts(
        &self,
        reading: &Reading,
        id: ArticleId,
    ) -> Result<Vec<Snapshot<ArticleFacts>>> {
        if self.taken_down_for(reading, id)? {
            return Ok(Vec::new());
        }
        let views = self.projections_or_err()?.views();
        Ok(Self::readable(reading, views.read()?.article_facts(id)?))
    }

    /// The articles written to by the last `events` events up to the reading's basis, most
    /// recent first: ids only, for callers that then read each through [`Archive::may_see`]
    /// (feeds of what changed). Bounded by `events`.
    pub fn recently_changed_articles(&self, reading: &Reading, events: u64) -> Result<Vec<ArticleId>> {
        let from = Position(reading.basis.get().saturating_sub(events));
        let limit = usize::try_from(reading.basis.get() - from.get()).unwrap_or(usize::MAX);
        let mut seen = std::collections::HashSet::new();
        let mut ids = Vec::new();
        for stream in self.store.reader()?.streams_after(from, limit)?.into_iter().rev() {
            if let Some(StreamKind::Article(id)) = StreamKind::parse(&stream)
                && seen.insert(id)
            {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Every version of an author, oldest first, up to the reading.
    pub fn author_history(&self, reading: &Reading, id: AuthorId) -> Result<Vec<Snapshot<Author>>> {
        let views = self.projections_or_err()?.views();
        let all = views.read()?.history::<Author>(StreamKind::Author(id))?;
        Ok(all.into_iter().take_while(|s| s.position <= reading.basis).collect())
    }

    /// Published articles of a group, newest first, from the views' listings: only for a
    /// reading of the present whose position the views stand exactly at (checked in the same
    /// read transaction as the listing); `None` otherwise, and the caller reads the index's
    /// windows instead ([`Archive::list_at`]).
    pub fn list(
        &self,
        reading: &Reading,
        group: &Group,
        after: Option<&str>,
        first: usize,
    ) -> Result<Option<Page<ArticleId>>> {
        use crate::domain::commands::limits;
        super::limits::check_cursor(after)?;
        match group {
            Group::Section(s) => super::limits::check_name("section", s, limits::SECTION)?,
            Group::Tag(t) => super::limits::check_name("tag", t, limits::TAG)?,
            _ => {}
        }
        if reading.at.as_of.is_some() {
            return Ok(None);
        }
        let views = self.projections_or_err()?.views();
        let r = views.read()?;
        if r.checkpoint()? != reading.basis {
            return Ok(None);
        }
        Ok(Some(r.list(group, after, first)?))
    }

    /// Authors by name.
    pub fn authors(&self, after: Option<&str>, first: usize) -> Result<Page<AuthorId>> {
        super::limits::check_cursor(after)?;
        let views = self.projections_or_err()?.views();
        Ok(views.read()?.authors(after, first)?)
    }

    /// A search at the reading's instant. For readers, the versions of taken-down articles
    /// are left out of hits, counts and facets, at every instant.
    pub fn search(&self, reading: &Reading, mut request: SearchRequest) -> Result<SearchResults> {
        super::limits::check_search(&request)?;
        request.at = reading.at;
        self.hide_taken_down(reading, &mut request)?;
        if request.query.contains("caption:") {
            request.query = self.captions_joined(reading, &request.query)?;
        }
        let projections = self.projections_or_err()?;
        Ok(projections.search().search(&request, &projections.views())?)
    }

    fn hide_taken_down(&self, reading: &Reading, request: &mut SearchRequest) -> Result<()> {
        if !reading.staff {
            let hidden = self.projections_or_err()?.views().read()?.hidden_positions()?;
            request.hidden = crate::project::search::Hidden(std::sync::Arc::new(hidden));
        }
        Ok(())
    }

    /// Published articles at the reading's instant, newest publication first: from the search
    /// index's windows, so any instant is one query. `offset` and `first` page through them.
    pub fn list_at(
        &self,
        reading: &Reading,
        filter: SearchRequest,
        offset: usize,
        first: usize,
    ) -> Result<(Vec<ArticleId>, u64)> {
        let request = SearchRequest {
            query: String::new(),
            first,
            offset,
            sort: crate::project::search::Sort::Date,
            ..filter
        };
        let results = self.search(reading, request)?;
        Ok((results.hits.into_iter().map(|h| h.article).collect(), results.total.unwrap_or_default()))
    }

    /// Authors registered at the reading's instant, by present name.
    pub fn authors_at(&self, reading: &Reading, after: Option<&str>, first: usize) -> Result<Page<AuthorId>> {
        super::limits::check_cursor(after)?;
        let views = self.projections_or_err()?.views();
        let r = views.read()?;
        let mut items = Vec::new();
        let mut cursor = after.map(str::to_owned);
        let mut has_next = false;
        'pages: loop {
            let page = r.authors(cursor.as_deref(), 256)?;
            for (c, id) in page.items {
                cursor = Some(c.clone());
                if r.author(id, reading.at)?.is_some() {
                    if items.len() == first {
                        has_next = true;
                        break 'pages;
                    }
                    items.push((c, id));
                }
            }
            if !page.has_next {
                break;
            }
        }
        let total = if reading.at.as_of.is_none() && r.checkpoint()? == reading.basis {
            r.authors(None, 0)?.total
        } else {
            // Count every author registered at the instant (one seek each).
            let mut count = 0u64;
            let mut cursor: Option<String> = None;
            loop {
                let page = r.authors(cursor.as_deref(), 1024)?;
                for (c, id) in &page.items {
                    count += u64::from(r.author(*id, reading.at)?.is_some());
                    cursor = Some(c.clone());
                }
                if !page.has_next {
                    break;
                }
            }
            count
        };
        Ok(Page { items, has_next, total })
    }

    /// An article's state at one of its versions, if that version was recorded by the reading.
    pub fn article_version(
        &self,
        reading: &Reading,
        id: ArticleId,
        version: u64,
    ) -> Result<Option<Snapshot<Article>>> {
        Ok(self.article_history(reading, id)?.into_iter().find(|s| s.version == version))
    }

    /// How many published articles (matching `filter.query`) each bucket held at the reading.
    pub fn timeline(
        &self,
        reading: &Reading,
        filter: SearchRequest,
        bucket: super::history::Bucket,
    ) -> Result<Vec<(DateTime<Utc>, u64)>> {
        super::limits::check_search(&filter)?;
        let (from, to) = (filter.published_from, filter.published_to);
        let mut request = filter;
        request.at = reading.at;
        self.hide_taken_down(reading, &mut request)?;
        let instants = self.projections_or_err()?.search().published_instants(&request)?;
        super::history::timeline(&instants, bucket, from, to).map_err(Error::BadInput)
    }

    /// A stream's changes up to version `upto` that the reading knows of, oldest first. A
    /// reader who is not staff gets only the changes that left an article public (none from
    /// its draft days), and no actors.
    pub fn revisions(&self, reading: &Reading, stream: &str, upto: u64) -> Result<Vec<Revision>> {
        let public_versions = match (reading.staff, StreamKind::parse(stream)) {
            (false, Some(StreamKind::Article(id))) => {
                let versions = self.article_history(reading, id)?.into_iter().map(|s| s.version);
                Some(versions.collect::<std::collections::BTreeSet<_>>())
            }
            _ => None,
        };
        self.raw_events(Position::ZERO, Some(stream), usize::MAX)?
            .into_iter()
            .filter(|e| e.version <= upto && e.position <= reading.basis)
            .filter(|e| public_versions.as_ref().is_none_or(|v| v.contains(&e.version)))
            .map(|e| {
                let (event, _) = super::decode(&e)?;
                Ok(Revision {
                    version: e.version,
                    event_type: e.event_type.clone(),
                    effective_at: e.effective_at,
                    recorded_at: e.recorded_at,
                    actor: if reading.staff { e.actor.clone() } else { None },
                    note: event.note().map(str::to_owned),
                    changed_fields: event.changed_fields(),
                    position: e.position,
                })
            })
            .collect()
    }

    /// A page of the raw log after `after`, optionally one stream's: staff only.
    pub fn events(
        &self,
        staff: bool,
        after: Position,
        stream: Option<&str>,
        first: usize,
    ) -> Result<Vec<RecordedEvent>> {
        Self::staff_only(staff, "the raw log")?;
        if let Some(stream) = stream {
            super::limits::check_name("streamId", stream, crate::store::limits::MAX_NAME)?;
            if stream.is_empty() {
                return Err(Error::BadInput("streamId is empty".into()));
            }
        }
        self.raw_events(after, stream, first)
    }

    fn raw_events(&self, after: Position, stream: Option<&str>, first: usize) -> Result<Vec<RecordedEvent>> {
        match stream {
            None => Ok(self.store.read_all(after, first)?),
            Some(stream) => {
                let reader = self.store.reader()?;
                let mut out = Vec::new();
                for p in reader.stream_positions(stream, 1)? {
                    let p = p?;
                    if p <= after {
                        continue;
                    }
                    if out.len() == first {
                        break;
                    }
                    out.push(reader.event(p)?);
                }
                Ok(out)
            }
        }
    }

    /// Rebuilds a projector from the log into a new generation while the serving one keeps
    /// answering, then switches (see [`Projections::rebuild`]). Returns its status after.
    pub async fn rebuild(&self, which: crate::project::Which) -> Result<ProjectorStatus> {
        let p = self.projections_or_err()?.clone();
        let started = std::time::Instant::now();
        let status = tokio::task::spawn_blocking(move || -> Result<ProjectorStatus> {
            p.rebuild(which, |_, _| {})?;
            let name = match which {
                crate::project::Which::Views => "views",
                crate::project::Which::Search => "search",
            };
            p.status()
                .into_iter()
                .find(|s| s.name == name)
                .ok_or_else(|| Error::BadInput(format!("no projector {name}")))
        })
        .await
        .map_err(|e| Error::BadInput(format!("the rebuild stopped: {e}")))??;
        tracing::info!(projector = status.name, seconds = started.elapsed().as_secs_f64(), "rebuilt");
        Ok(status)
    }

    /// The head position and each projector's checkpoint and lag.
    pub fn status(&self) -> (Position, Vec<ProjectorStatus>) {
        let status = self.projections.as_ref().map(Projections::status).unwrap_or_default();
        (self.store.head(), status)
    }
}
