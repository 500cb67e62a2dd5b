//! Import: JSON Lines appended (authored lines, checked as the domain would decide them) or
//! restored verbatim (exported lines, their hash chain checked), in batches, each batch one
//! transaction. A bad line stops the import with its line number and field; nothing of its
//! batch is appended.

use std::collections::HashMap;

use chrono::Utc;

use crate::domain::events::Event;
use crate::domain::{Article, Author, Meta, StreamKind};
use crate::store::blobs::{BlobId, Blobs};
use crate::store::{self, AppendRequest, ExpectedVersion, ProposedEvent, Restored, Store};
use crate::transfer::{Line, event_of, hex, json_field};

/// Why an import stopped. Nothing of the batch holding the bad line was appended.
#[derive(Debug, thiserror::Error)]
#[error("line {line}, field {field}: {message}{}", committed_note(*.committed))]
pub struct ImportError {
    /// 1-based line number.
    pub line: u64,
    /// The field at fault (`payload.headline`, `version`, `(json)`).
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// Lines before the failing batch that were imported.
    pub committed: u64,
}

fn committed_note(committed: u64) -> String {
    if committed == 0 {
        " (nothing was imported)".into()
    } else {
        format!(" (lines 1 to {committed} were imported; nothing after)")
    }
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Lines read.
    pub lines: u64,
    /// Events appended (or restored).
    pub appended: u64,
    /// Lines already in the log (same idempotency key, or same restored record).
    pub skipped: u64,
}

/// Reads JSON Lines and appends (or restores) them in batches of `batch` lines, each batch
/// one transaction. `progress(lines)` is called after each batch.
pub fn import(
    store: &Store,
    input: impl Iterator<Item = std::io::Result<String>>,
    batch: usize,
    progress: impl FnMut(u64),
) -> Result<ImportReport, ImportError> {
    import_with_blobs(store, input, batch, None, progress)
}

/// [`import`], with the images' bytes read from `blobs` (where `morgue export` wrote them).
/// Each blob an exported `ImageUploaded` names is checked against its hash and stored, synced,
/// before the batch that names it is handed to the writer.
pub fn import_with_blobs(
    store: &Store,
    input: impl Iterator<Item = std::io::Result<String>>,
    batch: usize,
    blobs: Option<&Blobs>,
    mut progress: impl FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let mut importer = Importer {
        store,
        source: blobs,
        stored: store.blobs(),
        report: ImportReport::default(),
        pending: Vec::new(),
        states: HashMap::new(),
        prev_states: HashMap::new(),
        keys: HashMap::new(),
        salt: None,
        in_flight: None,
    };
    let run = || -> Result<(), ImportError> {
        for (index, text) in input.enumerate() {
            let number = index as u64 + 1;
            let text = text.map_err(|e| importer.error(number, "(line)", e.to_string()))?;
            importer.report.lines = number;
            if text.trim().is_empty() {
                continue;
            }
            let line: Line = serde_json::from_str(&text).map_err(|e| {
                let (field, message) = json_field(&e);
                importer.error(number, &field, message)
            })?;
            importer.add(number, line)?;
            if importer.pending.len() >= batch.max(1) {
                importer.flush()?;
                progress(number);
            }
        }
        importer.flush()
    };
    let outcome = run();
    // The batch handed to the writer last commits whatever happened since: wait for it, and
    // report its failure first (its lines come first).
    importer.settle()?;
    outcome?;
    progress(importer.report.lines);
    Ok(importer.report)
}

enum Pending {
    Append(u64, AppendRequest),
    Restore(u64, Restored),
}

enum State {
    Article(Box<Article>),
    Author(Author),
}

struct Importer<'s> {
    store: &'s Store,
    /// Where an export's image bytes are read from.
    source: Option<&'s Blobs>,
    /// The blob store beside the log.
    stored: Blobs,
    report: ImportReport,
    pending: Vec<Pending>,
    /// States of the streams the current batch touches (dropped two batches later, so memory
    /// stays bounded whatever the file's size).
    states: HashMap<String, (u64, Option<State>)>,
    /// States the batch being committed left (the log does not show them yet).
    prev_states: HashMap<String, (u64, Option<State>)>,
    /// The stream keys exported lines gave, for the later lines of their streams.
    keys: HashMap<String, store::StreamKey>,
    /// The log's salt, read once.
    salt: Option<[u8; 32]>,
    /// The batch the writer is committing while the next one is prepared.
    in_flight: Option<InFlight>,
}

struct InFlight {
    later: store::Later,
    /// Line numbers of its items, in order.
    numbers: Vec<u64>,
}

impl Importer<'_> {
    fn committed(&self) -> u64 {
        match self.pending.first() {
            Some(Pending::Append(n, _) | Pending::Restore(n, _)) => n - 1,
            None => self.report.lines.saturating_sub(1),
        }
    }

    fn salt(&mut self, number: u64) -> Result<[u8; 32], ImportError> {
        if let Some(salt) = self.salt {
            return Ok(salt);
        }
        let salt = self.store.salt().map_err(|e| self.error(number, "(store)", e.to_string()))?;
        self.salt = Some(salt);
        Ok(salt)
    }

    /// An exported line: restored verbatim, its payload sealed again with its stream's key.
    fn add_exported(&mut self, number: u64, line: Line) -> Result<(), ImportError> {
        let known = match self.keys.get(&line.stream) {
            Some(key) => Some(*key),
            None => self
                .store
                .reader()
                .and_then(|r| r.key(&line.stream))
                .map_err(|e| self.error(number, "key", e.to_string()))?,
        };
        let record =
            crate::transfer::restored(&line, known).map_err(|e| self.error(number, &e.field, e.message))?;
        if let Some(key) = record.key {
            self.keys.insert(line.stream.clone(), key);
        }
        if record.erases {
            self.keys.remove(&line.stream);
        }
        for claim in record.claims.iter().filter(|c| c.namespace == "blob") {
            self.fetch_blob(number, &claim.value)?;
        }
        // Re-running a restore: records already in the log are skipped if identical.
        if record.event.position <= self.store.head() {
            let stored = self
                .store
                .reader()
                .and_then(|r| r.stored_event(record.event.position))
                .map_err(|e| self.error(number, "position", e.to_string()))?;
            if stored.checksum != record.event.checksum {
                return Err(self.error(number, "position", "this position already holds a different event"));
            }
            self.report.skipped += 1;
            return Ok(());
        }
        self.pending.push(Pending::Restore(number, record));
        Ok(())
    }

    /// Stores the blob an image event names (checked against its hash) unless it is stored.
    fn fetch_blob(&mut self, number: u64, hash: &str) -> Result<(), ImportError> {
        let field = "payload.hash";
        let id = BlobId::parse(hash).ok_or_else(|| self.error(number, field, "not a BLAKE3 hash in hex"))?;
        if self.stored.contains(id) {
            return Ok(());
        }
        let Some(source) = self.source else {
            return Err(self.error(
                number,
                field,
                format!("the image's bytes (blob {id}) are not here: pass --blobs, the directory `morgue export` wrote them to"),
            ));
        };
        let bytes = source.get(id, super::images::MAX_UPLOAD as u64).map_err(|e| {
            self.error(number, field, format!("blob {id} in {}: {e}", source.dir().display()))
        })?;
        if BlobId::of(&bytes) != id {
            return Err(self.error(
                number,
                field,
                format!("blob {id} in {} is damaged", source.dir().display()),
            ));
        }
        self.stored.put(&bytes).map_err(|e| self.error(number, field, format!("storing blob {id}: {e}")))?;
        Ok(())
    }

    fn error(&self, line: u64, field: &str, message: impl Into<String>) -> ImportError {
        ImportError { line, field: field.to_owned(), message: message.into(), committed: self.committed() }
    }

    fn add(&mut self, number: u64, line: Line) -> Result<(), ImportError> {
        let kind = StreamKind::parse(&line.stream).ok_or_else(|| {
            self.error(
                number,
                "stream",
                format!("{:?} is not `article-<ULID>`, `author-<ULID>` or `image-<ULID>`", line.stream),
            )
        })?;
        if line.position.is_some() {
            return self.add_exported(number, line);
        }
        let (schema_version, event) = event_of(&line).map_err(|e| self.error(number, &e.field, e.message))?;
        if line.sealed || line.key.is_some() {
            return Err(self.error(number, "sealed", "an authored line carries its payload in the clear"));
        }
        let payload = line.payload.get().as_bytes();

        // An authored line: check it against the stream's state as the domain would.
        let (version, state) = self.state(kind).map_err(|e| self.error(number, "stream", e.to_string()))?;
        let next = version + 1;
        let expected = match line.version {
            Some(0) => return Err(self.error(number, "version", "stream versions start at 1")),
            Some(v) if v == next => ExpectedVersion::Exact(version),
            // Already imported (a re-run): the same line finds its idempotency key; a different
            // line at a taken version is a conflict.
            Some(v) if v < next => ExpectedVersion::Exact(v - 1),
            Some(v) => {
                return Err(self.error(
                    number,
                    "version",
                    format!(
                        "{} is at version {version}, so the next line must have version {next}, not {v}",
                        line.stream
                    ),
                ));
            }
            None => ExpectedVersion::Any,
        };
        let replay = line.version.is_some_and(|v| v < next);
        if !replay {
            self.check(number, kind, &state, &event)?;
            let meta = Meta { version: next, effective_at: line.effective_at.unwrap_or_else(Utc::now) };
            let new_state = match (kind, state) {
                (StreamKind::Article(id), s) => {
                    let old = match s {
                        Some(State::Article(a)) => Some(*a),
                        _ => None,
                    };
                    Article::apply(old, id, &event, meta).map(|a| State::Article(Box::new(a)))
                }
                (StreamKind::Author(id), s) => {
                    let old = match s {
                        Some(State::Author(a)) => Some(a),
                        _ => None,
                    };
                    Author::apply(old, id, &event, meta).map(State::Author)
                }
                // `check` refused image events above.
                (StreamKind::Image(_), _) => None,
            };
            self.states.insert(line.stream.clone(), (next, new_state));
        } else {
            self.states.insert(line.stream.clone(), (version, state));
        }
        let key = match line.idempotency_key.clone() {
            Some(key) => key,
            None => derived_key(&line, payload, &self.salt(number)?),
        };
        let proposed = vec![ProposedEvent {
            event_type: line.event_type,
            schema_version,
            payload: payload.to_vec(),
            effective_at: line.effective_at,
        }];
        let provenance = super::Provenance {
            idempotency_key: Some(key),
            fingerprint: None,
            actor: line.actor,
            correlation_id: line.correlation_id,
        };
        let request =
            super::append_request(&line.stream, expected, proposed, std::slice::from_ref(&event), provenance);
        self.pending.push(Pending::Append(number, request));
        Ok(())
    }

    /// The stream's version and state: from this batch, or folded from the log.
    fn state(&mut self, kind: StreamKind) -> crate::Result<(u64, Option<State>)> {
        let stream = kind.stream();
        if let Some((version, state)) = self.states.remove(&stream) {
            return Ok((version, state));
        }
        if let Some((version, state)) = self.prev_states.remove(&stream) {
            return Ok((version, state));
        }
        let reader = self.store.reader()?;
        let mut events = Vec::new();
        for p in reader.stream_positions(&stream, 1)? {
            let event = reader.event(p?)?;
            let decoded = crate::domain::decode(&event)
                .map_err(|source| crate::Error::Decode { position: event.position, source })?;
            events.push(decoded);
        }
        let version = events.len() as u64;
        let iter = events.iter().map(|(e, m)| (e, *m));
        let state = match kind {
            StreamKind::Article(id) => Article::fold(id, iter).map(|a| State::Article(Box::new(a))),
            StreamKind::Author(id) => Author::fold(id, iter).map(State::Author),
            StreamKind::Image(_) => None,
        };
        Ok((version, state))
    }

    /// Would the domain have written this event on this state? (`domain::authored` decides.)
    fn check(
        &mut self,
        number: u64,
        kind: StreamKind,
        state: &Option<State>,
        event: &Event,
    ) -> Result<(), ImportError> {
        use crate::domain::authored::{self, AuthoredFault};
        let fault = |this: &Self, f: AuthoredFault| {
            let field = match &f {
                AuthoredFault::WrongStream(_) | AuthoredFault::Refused(_) => "type".to_owned(),
                AuthoredFault::Invalid(r) => rejected_field(r),
                AuthoredFault::Differs => "payload".to_owned(),
            };
            this.error(number, &field, f.to_string())
        };
        match authored::command_of(kind, event).map_err(|f| fault(self, f))? {
            crate::domain::Command::Article(id, command) => {
                let current = match state {
                    Some(State::Article(a)) => Some(a.as_ref()),
                    _ => None,
                };
                let author = match &command {
                    crate::domain::ArticleCommand::AddByline { author_id, .. } => {
                        let (v, s) = self
                            .state(StreamKind::Author(*author_id))
                            .map_err(|e| self.error(number, "payload.author_id", e.to_string()))?;
                        let found = match &s {
                            Some(State::Author(a)) => Some(a.clone()),
                            _ => None,
                        };
                        self.states.insert(author_id.stream(), (v, s));
                        found
                    }
                    _ => None,
                };
                authored::check_article(current, id, &command, author.as_ref(), event)
                    .map_err(|f| fault(self, f))
            }
            crate::domain::Command::Author(id, command) => {
                let current = match state {
                    Some(State::Author(a)) => Some(a),
                    _ => None,
                };
                authored::check_author(current, id, &command).map_err(|f| fault(self, f))
            }
            crate::domain::Command::Image(..) => {
                Err(self.error(number, "type", "images are uploaded, not imported"))
            }
        }
    }

    /// Hands the prepared batch to the writer without waiting for it (after the previous one
    /// has been answered): the next batch is prepared while this one commits.
    fn flush(&mut self) -> Result<(), ImportError> {
        self.settle()?;
        self.prev_states = std::mem::take(&mut self.states);
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let numbers: Vec<u64> = pending
            .iter()
            .map(|p| match p {
                Pending::Append(n, _) | Pending::Restore(n, _) => *n,
            })
            .collect();
        let first = numbers[0];
        let mixed = |n: u64| ImportError {
            line: n,
            field: "position".into(),
            message: "a file mixes exported lines (with positions) and authored lines".into(),
            committed: first - 1,
        };
        let submitted = if matches!(pending[0], Pending::Restore(..)) {
            let mut records = Vec::with_capacity(pending.len());
            for p in pending {
                match p {
                    Pending::Restore(_, r) => records.push(r),
                    Pending::Append(n, _) => return Err(mixed(n)),
                }
            }
            self.store.restore_later(records)
        } else {
            let mut requests = Vec::with_capacity(pending.len());
            for p in pending {
                match p {
                    Pending::Append(_, r) => requests.push(r),
                    Pending::Restore(n, _) => return Err(mixed(n)),
                }
            }
            self.store.append_all_later(requests)
        };
        let later = submitted.map_err(|e| ImportError {
            line: first,
            field: "(batch)".into(),
            message: e.to_string(),
            committed: first - 1,
        })?;
        self.in_flight = Some(InFlight { later, numbers });
        Ok(())
    }

    /// Waits for the batch being committed, if any, and counts what it did.
    fn settle(&mut self) -> Result<(), ImportError> {
        let Some(InFlight { later, numbers }) = self.in_flight.take() else { return Ok(()) };
        let first = numbers[0];
        match later.wait() {
            Ok(appended) => {
                let dedup = appended.iter().filter(|a| a.deduplicated).count() as u64;
                self.report.appended += appended.len() as u64 - dedup;
                self.report.skipped += dedup;
                Ok(())
            }
            Err(store::Error::InBatch { index, source }) => {
                let field = match *source {
                    store::Error::WrongVersion { .. } => "version",
                    store::Error::ClaimTaken { .. } => "payload.slug",
                    store::Error::EffectiveInFuture { .. } | store::Error::EffectiveOutOfOrder { .. } => {
                        "effective_at"
                    }
                    store::Error::IdempotencyMismatch { .. } => "idempotency_key",
                    _ => "(event)",
                };
                Err(ImportError {
                    line: numbers[index],
                    field: field.into(),
                    message: source.to_string(),
                    committed: first - 1,
                })
            }
            Err(e) => Err(ImportError {
                line: first,
                field: "(batch)".into(),
                message: e.to_string(),
                committed: first - 1,
            }),
        }
    }
}

fn rejected_field(e: &crate::domain::Rejection) -> String {
    match e {
        crate::domain::Rejection::Invalid { field, .. }
        | crate::domain::Rejection::TooLarge { field, .. } => {
            format!("payload.{field}")
        }
        _ => "payload".into(),
    }
}

/// An idempotency key from the line's content: a re-run of the same file finds it again. The
/// hash is keyed with the log's salt, so the key (which the record keeps, in the clear, after
/// an erasure too) cannot confirm a guess at the text to anyone without the log itself.
fn derived_key(line: &Line, payload: &[u8], salt: &[u8; 32]) -> String {
    let mut h = blake3::Hasher::new_keyed(salt);
    for part in [line.stream.as_bytes(), line.event_type.as_bytes(), payload] {
        h.update(&(part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.update(&line.version.unwrap_or(0).to_be_bytes());
    h.update(&line.effective_at.map_or(i64::MIN, |t| t.timestamp_micros()).to_be_bytes());
    format!("import:{}", &hex(h.finalize().as_bytes())[..32])
}
