//! Import of IPTC ninjs lines, each one version of an article (what `morgue export --format
//! ninjs` writes, or another system's items). A line is written through the commands editors
//! send: register an author, draft, credit, revise, publish, correct, retract, each checked and
//! decided by the domain on the article's state, with the instants the line gives. A line
//! that differs from the article's state makes only the commands that bring the article to
//! it, so an export's versions come back one event each.
//!
//! Lines are appended in batches, each batch one transaction; a bad line stops the import with
//! its number and field, and nothing of its batch is appended. A line's identity (a hash of
//! what it says) is the idempotency key of its events, so a line already imported is skipped
//! and re-running an import appends nothing.

mod plan;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::{ImportError, ImportReport};
use crate::domain::events::Event;
use crate::domain::{Article, ArticleId, Author, AuthorId};
use crate::domain::{Command, Meta, Rejection};
use crate::store::{self, AppendRequest, ExpectedVersion, ProposedEvent, Store};

/// The retraction notice of a `canceled` line that gives none.
pub const DEFAULT_RETRACTION: &str = "Withdrawn by its provider (ninjs pubStatus \"canceled\").";

/// Reads ninjs JSON Lines and writes the articles they describe, `batch` lines per transaction.
/// `progress(lines)` is called after each batch. In the report, `appended` counts events and
/// `skipped` the lines that brought nothing new (already imported, or equal to the article).
pub fn import_ninjs(
    store: &Store,
    input: impl Iterator<Item = std::io::Result<String>>,
    batch: usize,
    mut progress: impl FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let mut importer = Importer::new(store).map_err(|e| fail(1, "(log)", e.to_string(), 0))?;
    for (index, text) in input.enumerate() {
        let number = index as u64 + 1;
        importer.report.lines = number;
        let text = text.map_err(|e| importer.error(number, "(line)", e.to_string()))?;
        if text.trim().is_empty() {
            continue;
        }
        importer.add(number, &text)?;
        if importer.lines_pending >= batch.max(1) {
            importer.flush()?;
            progress(number);
        }
    }
    importer.flush()?;
    progress(importer.report.lines);
    Ok(importer.report)
}

fn fail(line: u64, field: &str, message: impl Into<String>, committed: u64) -> ImportError {
    ImportError { line, field: field.to_owned(), message: message.into(), committed }
}

struct Importer<'s> {
    store: &'s Store,
    report: ImportReport,
    /// Articles this batch touched: stream version and state after its pending events.
    articles: HashMap<ArticleId, (u64, Option<Article>)>,
    /// Authors this batch touched, likewise.
    authors: HashMap<AuthorId, Option<Author>>,
    /// Every author's present name: the log's, then this import's registrations.
    by_name: HashMap<String, AuthorId>,
    /// Slugs this batch claims, and for which article.
    slugs: HashMap<String, ArticleId>,
    /// Line identities this batch writes.
    keys: HashSet<String>,
    /// The batch's requests, each with its line.
    pending: Vec<(u64, AppendRequest)>,
    /// The first line of the batch and how many lines it holds.
    first_pending: Option<u64>,
    lines_pending: usize,
}

impl<'s> Importer<'s> {
    fn new(store: &'s Store) -> crate::Result<Importer<'s>> {
        let reader = store.reader()?;
        let mut by_name = HashMap::new();
        for stream in reader.streams(AuthorId::STREAM_PREFIX)? {
            let Some(id) = AuthorId::from_stream(&stream) else { continue };
            if let Some(author) = super::ninjs::fold_author(&reader, id)? {
                by_name.entry(author.name).or_insert(id);
            }
        }
        Ok(Importer {
            store,
            report: ImportReport::default(),
            articles: HashMap::new(),
            authors: HashMap::new(),
            by_name,
            slugs: HashMap::new(),
            keys: HashSet::new(),
            pending: Vec::new(),
            first_pending: None,
            lines_pending: 0,
        })
    }

    fn committed(&self, line: u64) -> u64 {
        self.first_pending.unwrap_or(line) - 1
    }

    fn error(&self, line: u64, field: &str, message: impl Into<String>) -> ImportError {
        fail(line, field, message, self.committed(line))
    }

    fn add(&mut self, number: u64, text: &str) -> Result<(), ImportError> {
        let incoming =
            crate::transfer::ninjs::parse(text).map_err(|e| self.error(number, &e.field, e.message))?;
        let key = incoming.key();
        let seen = self
            .store
            .reader()
            .and_then(|r| r.idempotency(&key))
            .map_err(|e| self.error(number, "(log)", e.to_string()))?;
        if seen.is_some() || self.keys.contains(&key) {
            self.report.skipped += 1;
            return Ok(());
        }
        let (version, state) =
            self.article(incoming.id).map_err(|e| self.error(number, "uri", e.to_string()))?;
        let mut registrations = Vec::new();
        let steps = self.steps(number, &incoming, state.as_ref(), &mut registrations)?;
        if steps.is_empty() {
            self.report.skipped += 1;
            return Ok(());
        }
        let now = Utc::now();
        let (mut current, mut next) = (state, version);
        let mut decided = Vec::new();
        for step in steps {
            let refused =
                |this: &Self, r: Rejection| this.error(number, &ninjs_field(&r, &step.field), r.to_string());
            if step.at > now {
                return Err(self.error(number, step.at_field, format!("{} is in the future", step.at)));
            }
            if let Some(last) = current.as_ref().map(|a| a.updated_at).filter(|last| step.at < *last) {
                return Err(self.error(
                    number,
                    step.at_field,
                    format!("{} is earlier than {last}, when the article last changed", step.at),
                ));
            }
            let command = Command::Article(incoming.id, step.command.clone());
            command.validate().map_err(|r| refused(self, r))?;
            let author = match command.referenced_author() {
                Some(id) => self.author(id).map_err(|e| self.error(number, &step.field, e.to_string()))?,
                None => None,
            };
            let events =
                crate::domain::article::decide(current.as_ref(), incoming.id, &step.command, author.as_ref())
                    .map_err(|r| refused(self, r))?;
            for event in events {
                next += 1;
                current = Article::apply(
                    current,
                    incoming.id,
                    &event,
                    Meta { version: next, effective_at: step.at },
                );
                decided.push((event, step.at));
            }
        }
        for (id, event, at) in registrations {
            let proposed = vec![proposed(&event, at)];
            let request = super::append_request(
                &id.stream(),
                ExpectedVersion::NoStream,
                proposed,
                &[event],
                provenance(None),
            );
            self.pending.push((number, request));
        }
        if let Some(Event::ArticleDrafted(draft)) = decided.first().map(|(e, _)| e) {
            self.slugs.insert(draft.slug.clone(), incoming.id);
        }
        let expected = if version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) };
        let events: Vec<Event> = decided.iter().map(|(e, _)| e.clone()).collect();
        let proposed = decided.iter().map(|(e, at)| proposed(e, *at)).collect();
        let request = super::append_request(
            &incoming.id.stream(),
            expected,
            proposed,
            &events,
            provenance(Some(key.clone())),
        );
        self.pending.push((number, request));
        self.articles.insert(incoming.id, (next, current));
        self.keys.insert(key);
        self.first_pending.get_or_insert(number);
        self.lines_pending += 1;
        Ok(())
    }
    fn article(&mut self, id: ArticleId) -> crate::Result<(u64, Option<Article>)> {
        if let Some(found) = self.articles.get(&id) {
            return Ok(found.clone());
        }
        let found = super::ninjs::fold_article(&self.store.reader()?, id)?;
        self.articles.insert(id, found.clone());
        Ok(found)
    }

    fn author(&mut self, id: AuthorId) -> crate::Result<Option<Author>> {
        if let Some(found) = self.authors.get(&id) {
            return Ok(found.clone());
        }
        let found = super::ninjs::fold_author(&self.store.reader()?, id)?;
        self.authors.insert(id, found.clone());
        Ok(found)
    }

    /// Appends the batch in one transaction, all or nothing.
    fn flush(&mut self) -> Result<(), ImportError> {
        let Some(first) = self.first_pending.take() else { return Ok(()) };
        let pending = std::mem::take(&mut self.pending);
        let lines: Vec<u64> = pending.iter().map(|(n, _)| *n).collect();
        let requests = pending.into_iter().map(|(_, r)| r).collect();
        match self.store.append_all(requests) {
            Ok(appended) => {
                for a in appended.iter().filter(|a| !a.deduplicated) {
                    self.report.appended += a.last_position.get() - a.first_position.get() + 1;
                }
            }
            Err(store::Error::InBatch { index, source }) => {
                let field = match *source {
                    store::Error::ClaimTaken { .. } => "slugline",
                    store::Error::EffectiveInFuture { .. } | store::Error::EffectiveOutOfOrder { .. } => {
                        "contentCreated"
                    }
                    _ => "uri",
                };
                return Err(fail(lines[index], field, source.to_string(), first - 1));
            }
            Err(e) => return Err(fail(first, "(batch)", e.to_string(), first - 1)),
        }
        self.articles.clear();
        self.authors.clear();
        self.slugs.clear();
        self.keys.clear();
        self.lines_pending = 0;
        Ok(())
    }
}

fn proposed(event: &Event, at: DateTime<Utc>) -> ProposedEvent {
    ProposedEvent {
        event_type: event.event_type().to_owned(),
        schema_version: event.schema_version(),
        payload: event.to_payload(),
        effective_at: Some(at),
    }
}

fn provenance(key: Option<String>) -> super::Provenance {
    super::Provenance { correlation_id: key.clone(), idempotency_key: key, fingerprint: None, actor: None }
}

/// The ninjs field a refused command's field comes from; `fallback` for the rest.
fn ninjs_field(r: &Rejection, fallback: &str) -> String {
    let field = match r {
        Rejection::Invalid { field, .. } | Rejection::TooLarge { field, .. } => field.as_str(),
        _ => return fallback.to_owned(),
    };
    match field {
        "headline" => "headlines",
        "summary" | "reason" | "text" => "descriptions",
        "body" => "bodies",
        "section" | "tags" => "subjects",
        "language" => "language",
        "slug" => "slugline",
        "role" => return format!("{fallback}.rel"),
        _ => fallback,
    }
    .to_owned()
}
