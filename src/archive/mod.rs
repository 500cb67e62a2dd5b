//! The one handle the API calls: execute a command, read entities.
//!
//! `execute` is the write path in one screen: validate, load, decide, append (with the version
//! that was decided on), answer with the new state, its version and the position written.

pub mod embedded;
pub mod history;
mod image_search;
mod images;
mod import;
mod import_ninjs;
pub mod limits;
pub mod ninjs;
mod read;
mod rule;
mod snapshot;

pub use images::{
    ImageReading, MAX_UPLOAD, Rendition, Upload, WIDTHS as IMAGE_WIDTHS, blobs_named, forget_image_bytes,
    names_blobs, names_blobs_in,
};
pub use import::{ImportError, ImportReport, import, import_with_blobs};
pub use import_ninjs::{DEFAULT_RETRACTION, import_ninjs};
pub use ninjs::export_ninjs;
pub use read::{READ_YOUR_WRITES_WAIT, ReadRequest, Reading, Revision, parse_instant};
pub use snapshot::ReadSnapshot;

// What the read side answers with, re-exported so the API layers speak only to the archive.
pub use crate::project::search::{SearchRequest, SearchResults, Sort};
pub use crate::project::views::{ArticleFacts, Group, Page, Snapshot};
pub use crate::project::{At, ProjectorStatus, Which};
pub use crate::store::RecordedEvent;

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::domain::events::Event;
use crate::domain::{self, Article, ArticleCommand, ArticleId, Author, AuthorId, Command, Meta};
use crate::project::Projections;
use crate::store::{self, AppendRequest, ExpectedVersion, ProposedEvent, Store, StoreOptions};
use crate::{Error, Position, Result};

/// How many times a write whose caller gave no expected version is retried after losing a
/// race with another writer on the same stream.
const RETRIES: usize = 8;

/// Options of a write.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// The stream version the caller based the command on; a mismatch is a CONFLICT.
    pub expected_version: Option<u64>,
    /// When the change took effect (imports of old content); default: when recorded.
    pub effective_at: Option<DateTime<Utc>>,
    /// Makes retries safe.
    pub idempotency_key: Option<String>,
}

/// An entity's state after a write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entity {
    /// An article.
    Article(Box<Article>),
    /// An author.
    Author(Author),
    /// An image.
    Image(Box<domain::Image>),
    /// An article or author erased by the write: only its tombstone is left.
    Erased(domain::StreamKind),
}

/// The answer to a write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The new state.
    pub entity: Entity,
    /// The stream's version after the write.
    pub version: u64,
    /// The position of the last event written: read at least this to see the write.
    pub position: Position,
    /// True when an idempotency key made this a replay of an earlier write.
    pub replayed: bool,
}

/// The archive: the log and everything derived from it.
#[derive(Clone)]
pub struct Archive {
    store: Store,
    projections: Option<Projections>,
    link: Option<std::sync::Arc<dyn Linked>>,
}

/// A node's link to a replicated log, as the archive sees it: whether writes may pass, and
/// a report for status, `/readyz` and metrics. How the link works (NATS JetStream) is
/// `replicate`'s business; the archive only asks.
pub trait Linked: Send + Sync {
    /// Why writes are refused (a read replica; a writer whose log parted from its stream).
    fn refuse_writes(&self) -> Option<Error>;
    /// The link's state; `head` is the local log's head.
    fn report(&self, head: Position) -> LinkReport;
}

/// A link's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkReport {
    /// A read replica (follows the stream; refuses writes), or a writer (publishes its log).
    pub replica: bool,
    /// Servers and stream, never with credentials.
    pub target: String,
    /// Connected now.
    pub connected: bool,
    /// Writer: the last position the stream holds. Replica: the last applied.
    pub position: u64,
    /// Writer: events not yet published. Replica: events not yet applied.
    pub lag: u64,
    /// Replica: has reached the stream's end since it started.
    pub caught_up: bool,
    /// The last error, until the link recovers.
    pub error: Option<String>,
    /// Why the link stopped for good, if it did.
    pub halted: Option<String>,
    /// Whether the link lets the node report ready.
    pub ready: bool,
}

impl Archive {
    /// An archive that writes to `store` and reads nothing derived (tools, tests of the log).
    pub fn new(store: Store) -> Archive {
        Archive { store, projections: None, link: None }
    }

    /// Opens the archive in a data directory: the log in `log/`, views and search beside it;
    /// starts the projectors.
    pub fn open(data: &Path, map_size: usize) -> Result<Archive> {
        let store = Store::open(data.join("log"), StoreOptions { map_size })?;
        let projections = Projections::open(store.clone(), data, map_size)?;
        projections.start()?;
        Ok(Archive { store, projections: Some(projections), link: None })
    }

    /// An archive over projections the caller opened and runs itself (tools, tests that hold
    /// one projector back).
    pub fn from_parts(store: Store, projections: Projections) -> Archive {
        Archive { store, projections: Some(projections), link: None }
    }

    /// The log.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// This archive, linked to a replicated log: publishing its log (a writer) or following
    /// it (a read replica, which refuses every write with READ_ONLY).
    pub fn with_link(mut self, link: std::sync::Arc<dyn Linked>) -> Archive {
        self.link = Some(link);
        self
    }

    /// The link's state, if the archive has a link.
    pub fn link_report(&self) -> Option<LinkReport> {
        self.link.as_ref().map(|l| l.report(self.store.head()))
    }

    /// Why this archive refuses writes, if it does: its link says.
    pub fn read_only(&self) -> Result<()> {
        match self.link.as_ref().and_then(|l| l.refuse_writes()) {
            Some(refusal) => Err(refusal),
            None => Ok(()),
        }
    }

    /// The projectors (views and search).
    pub fn projections(&self) -> Option<&Projections> {
        self.projections.as_ref()
    }

    /// Stops the projectors (committing what they applied).
    pub fn close(&self) {
        if let Some(p) = &self.projections {
            p.stop();
        }
    }

    /// The on-disk formats of the derived data this build writes: views, then search. A data
    /// directory holding another format is rebuilt from the log when opened.
    pub fn formats() -> (&'static str, &'static str) {
        (crate::project::views::VIEWS_VERSION, crate::project::search::SEARCH_VERSION)
    }

    /// Bytes on disk in the data directory, by part: `log`, `views`, `search` and `other`
    /// (tokens, keys, locks). A walk of the directory: for metrics, not for hot paths.
    pub fn disk_usage(&self) -> [(&'static str, u64); 4] {
        fn walk(path: &Path, depth: usize) -> u64 {
            let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
            if !meta.is_dir() {
                return meta.len();
            }
            if depth > 8 {
                return 0;
            }
            std::fs::read_dir(path)
                .map(|entries| entries.flatten().map(|e| walk(&e.path(), depth + 1)).sum())
                .unwrap_or(0)
        }
        let mut usage = [("log", 0), ("views", 0), ("search", 0), ("other", 0)];
        let log = self.store.path();
        usage[0].1 = self.store.env().real_disk_size().unwrap_or_else(|_| walk(log, 0));
        let Some(data) = log.parent() else { return usage };
        for entry in std::fs::read_dir(data).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let slot = match name.to_str() {
                Some("log") => continue,
                Some("views") => 1,
                Some("search") => 2,
                _ => 3,
            };
            usage[slot].1 += walk(&entry.path(), 0);
        }
        usage
    }

    /// Validates, decides and appends a command on behalf of `actor`.
    pub async fn execute(
        &self,
        actor: Option<&str>,
        command: Command,
        options: WriteOptions,
    ) -> Result<Written> {
        self.read_only()?;
        command.validate()?;
        if let Some(key) = &options.idempotency_key {
            let limit = store::limits::MAX_NAME;
            if key.is_empty() {
                return Err(domain::Rejection::invalid("idempotencyKey", "must not be empty").into());
            }
            if key.len() > limit {
                return Err(domain::Rejection::TooLarge {
                    field: "idempotencyKey".into(),
                    size: key.len(),
                    limit,
                }
                .into());
            }
        }
        let fingerprint = fingerprint(&command, &options);
        if let Some(key) = &options.idempotency_key
            && let Some(written) = self.replay(key, &fingerprint)?
        {
            return Ok(written);
        }
        let correlation_id = ulid::Ulid::new().to_string();
        let stream = command.stream();
        // The instant the command takes effect: a schedule must lie after it, and a scheduled
        // publication that took effect by then counts as a publication.
        let at = options.effective_at.unwrap_or_else(Utc::now);
        if let Command::Article(
            _,
            ArticleCommand::Schedule { at: when } | ArticleCommand::Later { at: when, .. },
        ) = &command
            && *when <= at
        {
            return Err(domain::Rejection::invalid(
                "effectiveAt",
                format!("a change scheduled ahead lies in the future; {when} is not after {at}"),
            )
            .into());
        }
        for _ in 0..RETRIES {
            let (version, events) = self.decide(&command, at).inspect_err(|e| {
                if let Error::Rejected(domain::Rejection::LegalHold(why)) = e {
                    tracing::warn!(actor, %stream, refusal = %why, "erasure refused: legal hold");
                }
            })?;
            if let Some(expected) = options.expected_version
                && expected != version
            {
                return Err(store::Error::WrongVersion {
                    stream,
                    expected: ExpectedVersion::Exact(expected),
                    actual: version,
                }
                .into());
            }
            let proposed = events
                .iter()
                .map(|e| ProposedEvent {
                    event_type: e.event_type().to_owned(),
                    schema_version: e.schema_version(),
                    payload: e.to_payload(),
                    effective_at: options.effective_at,
                })
                .collect();
            let expected =
                if version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) };
            let request = append_request(
                &stream,
                expected,
                proposed,
                &events,
                Provenance {
                    idempotency_key: options.idempotency_key.clone(),
                    fingerprint: Some(fingerprint),
                    actor: actor.map(str::to_owned),
                    correlation_id: Some(correlation_id.clone()),
                },
            );
            match self.store.append_async(request).await {
                Ok(appended) => return self.written(&stream, appended.last_position, appended.deduplicated),
                // Someone else wrote to the stream between our read and our append: decide again
                // on the new state, unless the caller pinned the version.
                Err(store::Error::WrongVersion { .. }) if options.expected_version.is_none() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(domain::Rejection::Conflict(format!("stream {stream} is changing too fast; try again")).into())
    }

    /// Loads state, decides, and works out the claims of the events.
    fn decide(&self, command: &Command, at: DateTime<Utc>) -> Result<(u64, Vec<Event>)> {
        let (version, mut events) = match command {
            Command::Article(id, cmd) => {
                let (version, state) = self.article_state(*id)?;
                let state = state.map(|a| a.settled(at));
                let author = match command.referenced_author() {
                    Some(author_id) => self.author_state(author_id)?.1,
                    None => None,
                };
                (version, domain::article::decide(state.as_ref(), *id, cmd, author.as_ref())?)
            }
            Command::Author(id, cmd) => {
                let (version, state) = self.author_state(*id)?;
                (version, domain::author::decide(state.as_ref(), *id, cmd)?)
            }
            Command::Image(id, cmd) => {
                let (version, state) = self.image_state(*id)?;
                (version, domain::image::decide(state.as_ref(), *id, cmd)?)
            }
        };
        // A placement names an image that exists and is not retired.
        if let Some(image_id) = command.referenced_image() {
            match self.image_state(image_id)?.1 {
                None => {
                    return Err(
                        domain::Rejection::NotFound { kind: "image", id: image_id.to_string() }.into()
                    );
                }
                Some(i) if i.retired => {
                    return Err(domain::Rejection::Conflict(format!("image {image_id} is retired")).into());
                }
                Some(_) => {}
            }
        }
        // A slug derived from the headline gets a numeric suffix when taken; a slug the editor
        // chose is theirs or a CONFLICT.
        if let Command::Article(_, ArticleCommand::Draft { slug: None, .. }) = command
            && let Some(Event::ArticleDrafted(draft)) = events.first_mut()
        {
            draft.slug = self.free_slug(&draft.slug)?;
        }
        Ok((version, events))
    }

    fn free_slug(&self, base: &str) -> Result<String> {
        let reader = self.store.reader()?;
        let mut candidate = base.to_owned();
        for n in 2.. {
            if reader.claim_holder("slug", &candidate)?.is_none() {
                break;
            }
            candidate = format!("{base}-{n}");
        }
        Ok(candidate)
    }

    /// Answers a repeated idempotency key from what the first write did.
    fn replay(&self, key: &str, fingerprint: &store::Hash) -> Result<Option<Written>> {
        let reader = self.store.reader()?;
        match reader.idempotency(key)? {
            None => Ok(None),
            Some((seen, _, last)) if seen == *fingerprint => {
                let stream = reader.event(last)?.stream;
                self.written(&stream, last, true).map(Some)
            }
            Some(_) => Err(store::Error::IdempotencyMismatch { key: key.to_owned() }.into()),
        }
    }

    fn written(&self, stream: &str, position: Position, replayed: bool) -> Result<Written> {
        let events = self.stream_until(stream, position)?;
        let kind = domain::StreamKind::parse(stream);
        let entity = match kind {
            Some(domain::StreamKind::Article(id)) => {
                fold_article(id, &events).map(|a| Entity::Article(Box::new(a)))
            }
            Some(domain::StreamKind::Author(id)) => fold_author(id, &events).map(Entity::Author),
            Some(domain::StreamKind::Image(id)) => {
                domain::Image::fold(id, events.iter().map(|(e, m)| (e, *m)))
                    .map(|i| Entity::Image(Box::new(i)))
            }
            None => None,
        };
        let erased = events.last().is_some_and(|(e, _)| e.erases());
        let entity = entity.or_else(|| kind.filter(|_| erased).map(Entity::Erased));
        let entity = entity.ok_or_else(|| Error::BadInput(format!("stream {stream} holds no entity")))?;
        let version = match &entity {
            Entity::Article(a) => a.version,
            Entity::Author(a) => a.version,
            Entity::Image(i) => i.version,
            Entity::Erased(_) => events.last().map_or(0, |(_, m)| m.version),
        };
        Ok(Written { entity, version, position, replayed })
    }

    /// A stream's events up to `position`, decoded.
    fn stream_until(&self, stream: &str, position: Position) -> Result<Vec<(Event, Meta)>> {
        let reader = self.store.reader()?;
        let mut out = Vec::new();
        for p in reader.stream_positions(stream, 1)? {
            let p = p?;
            if p > position {
                break;
            }
            out.push(decode(&reader.event(p)?)?);
        }
        Ok(out)
    }

    /// Whether `id` names an article, an author or an image, by the stream the log holds for it.
    pub fn kind_of(&self, id: ulid::Ulid) -> Result<Option<domain::StreamKind>> {
        let reader = self.store.reader()?;
        for kind in [
            domain::StreamKind::Article(ArticleId(id)),
            domain::StreamKind::Author(AuthorId(id)),
            domain::StreamKind::Image(domain::ImageId(id)),
        ] {
            if reader.stream_head(&kind.stream())?.is_some() {
                return Ok(Some(kind));
            }
        }
        Ok(None)
    }

    /// An article's current state and stream version.
    ///
    /// When the views already hold the stream's last event, its state is read there (two
    /// seeks, whatever the history's length); otherwise it is folded from the log.
    pub fn article_state(&self, id: ArticleId) -> Result<(u64, Option<Article>)> {
        if let Some(found) = self.head_from_views(&id.stream(), |r, at| r.article(id, at))? {
            return Ok(found);
        }
        let events = self.stream_until(&id.stream(), Position(u64::MAX))?;
        Ok((events.len() as u64, fold_article(id, &events)))
    }

    /// An author's current state and stream version.
    pub fn author_state(&self, id: AuthorId) -> Result<(u64, Option<Author>)> {
        if let Some(found) = self.head_from_views(&id.stream(), |r, at| r.author(id, at))? {
            return Ok(found);
        }
        let events = self.stream_until(&id.stream(), Position(u64::MAX))?;
        Ok((events.len() as u64, fold_author(id, &events)))
    }

    /// An image's current state and stream version.
    pub fn image_state(&self, id: domain::ImageId) -> Result<(u64, Option<domain::Image>)> {
        if let Some(found) = self.head_from_views(&id.stream(), |r, at| r.image(id, at))? {
            return Ok(found);
        }
        let events = self.stream_until(&id.stream(), Position(u64::MAX))?;
        Ok((events.len() as u64, domain::Image::fold(id, events.iter().map(|(e, m)| (e, *m)))))
    }

    /// The state after a stream's last event, if the views hold it: `None` means "fold it".
    fn head_from_views<T>(
        &self,
        stream: &str,
        read: impl Fn(
            &crate::project::views::ViewReader<'_>,
            crate::project::At,
        ) -> crate::project::Result<Option<crate::project::views::Snapshot<T>>>,
    ) -> Result<Option<(u64, Option<T>)>> {
        let Some((version, position)) = self.store.reader()?.stream_head(stream)? else {
            return Ok(Some((0, None)));
        };
        let Some(projections) = &self.projections else { return Ok(None) };
        let views = projections.views();
        let r = views.read()?;
        if r.checkpoint()? < position {
            return Ok(None);
        }
        let at = crate::project::At { as_of: None, basis: Some(position) };
        Ok(read(&r, at)?.filter(|s| s.version == version).map(|s| (version, Some(s.state))))
    }
}

/// Who and what asked for an append: the idempotency key and the request's fingerprint, the
/// actor, the correlation id.
pub(crate) struct Provenance {
    pub(crate) idempotency_key: Option<String>,
    pub(crate) fingerprint: Option<store::Hash>,
    pub(crate) actor: Option<String>,
    pub(crate) correlation_id: Option<String>,
}

/// Every append the archive makes is built here, whether a mutation decided its events or an
/// import checked them: the events, expected on top of the stream version they were decided
/// on, the unique names they claim, and their provenance.
pub(crate) fn append_request(
    stream: &str,
    expected: ExpectedVersion,
    proposed: Vec<ProposedEvent>,
    events: &[Event],
    provenance: Provenance,
) -> AppendRequest {
    AppendRequest {
        stream: stream.to_owned(),
        expected,
        events: proposed,
        idempotency_key: provenance.idempotency_key,
        fingerprint: provenance.fingerprint,
        actor: provenance.actor,
        correlation_id: provenance.correlation_id,
        claims: events.iter().flat_map(domain::claims).collect(),
        erase: events.iter().any(Event::erases),
    }
}

fn fold_article(id: ArticleId, events: &[(Event, Meta)]) -> Option<Article> {
    Article::fold(id, events.iter().map(|(e, m)| (e, *m)))
}

fn fold_author(id: AuthorId, events: &[(Event, Meta)]) -> Option<Author> {
    Author::fold(id, events.iter().map(|(e, m)| (e, *m)))
}

/// Reads a stored event as a domain event with the envelope facts a fold needs.
pub fn decode(event: &RecordedEvent) -> Result<(Event, Meta)> {
    domain::decode(event).map_err(|source| Error::Decode { position: event.position, source })
}

/// What "the same request" means for an idempotency key: the command and its options, but not
/// the id a creating command was given (a retry of a create gets a fresh id before it is sent).
fn fingerprint(command: &Command, options: &WriteOptions) -> store::Hash {
    let mut hasher = blake3::Hasher::new();
    let body = match command {
        Command::Article(id, c) => {
            let target = if command.creates() { String::new() } else { id.to_string() };
            serde_json::json!({ "article": target, "command": c })
        }
        Command::Author(id, c) => {
            let target = if command.creates() { String::new() } else { id.to_string() };
            serde_json::json!({ "author": target, "command": c })
        }
        Command::Image(id, c) => {
            let target = if command.creates() { String::new() } else { id.to_string() };
            serde_json::json!({ "image": target, "command": c })
        }
    };
    hasher.update(body.to_string().as_bytes());
    hasher.update(
        format!("{:?}|{:?}", options.expected_version, options.effective_at.map(|t| t.timestamp_micros()))
            .as_bytes(),
    );
    *hasher.finalize().as_bytes()
}
