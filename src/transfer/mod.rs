//! Import and export: the log as JSON Lines, one event per line.
//!
//! An exported line carries the whole envelope (position, instants, hashes) and the payload
//! exactly as stored; importing an export into an empty store restores an identical log, hash
//! chain included. An authored line (the fixtures, other systems' data) carries only `stream`,
//! `version`, `type`, `effective_at`, `actor` and `payload`: it is checked against the domain's
//! rules and appended, with an idempotency key derived from its content, so running the same
//! import twice appends nothing the second time.

pub mod corpus;

use std::collections::HashMap;
use std::io::Write;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::Position;
use crate::domain::events::{Event, current_version};
use crate::domain::{Article, Author, Meta, StreamKind};
use crate::store::{
    self, AppendRequest, Claim, ExpectedVersion, ProposedEvent, RecordedEvent, Restored, Store,
};

/// Lines per transaction when importing, unless set otherwise.
pub const DEFAULT_BATCH: usize = 5000;

/// One line of the JSON Lines format.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// Global position (exports only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// `article-<id>` or `author-<id>`.
    pub stream: String,
    /// Version within the stream; checked to follow on from the stream's last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Payload schema version (default: today's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u16>,
    /// When recorded (exports only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<DateTime<Utc>>,
    /// When it took effect (default: when imported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_at: Option<DateTime<Utc>>,
    /// Who made the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Idempotency key (default for authored lines: derived from the content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The payload, kept byte for byte.
    pub payload: Box<RawValue>,
    /// Previous checksum, hex (exports only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_hash: Option<String>,
    /// Checksum, hex (exports only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

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

/// Writes the log after `from` as JSON Lines; returns how many events were written.
pub fn export(
    store: &Store,
    from: Position,
    out: &mut impl Write,
    mut progress: impl FnMut(Position),
) -> crate::Result<u64> {
    let reader = store.reader()?;
    let mut count = 0;
    for event in reader.events_after(from)? {
        let event = event?;
        let line = Line::of(&event);
        serde_json::to_writer(&mut *out, &line).map_err(|e| store::Error::Io(e.into()))?;
        out.write_all(b"\n").map_err(store::Error::Io)?;
        count += 1;
        progress(event.position);
    }
    out.flush().map_err(store::Error::Io)?;
    Ok(count)
}

impl Line {
    /// The line `morgue export` writes for an event; also the payload of a published event.
    pub fn of(e: &RecordedEvent) -> Line {
        let payload = std::str::from_utf8(&e.payload)
            .ok()
            .and_then(|s| RawValue::from_string(s.to_owned()).ok())
            .unwrap_or_else(|| RawValue::from_string("null".into()).expect("null is JSON"));
        Line {
            position: Some(e.position.get()),
            stream: e.stream.clone(),
            version: Some(e.version),
            event_type: e.event_type.clone(),
            schema_version: Some(e.schema_version),
            recorded_at: Some(e.recorded_at),
            effective_at: Some(e.effective_at),
            actor: e.actor.clone(),
            idempotency_key: e.idempotency_key.clone(),
            correlation_id: e.correlation_id.clone(),
            payload,
            prev_hash: Some(hex(&e.prev_hash)),
            checksum: Some(hex(&e.checksum)),
        }
    }

    /// The stored record an exported line describes (every envelope field must be present).
    pub fn record(&self, schema_version: u16, position: Position) -> Result<RecordedEvent, FieldError> {
        let missing = |field: &str| FieldError::new(field, "an exported line needs it");
        let need = |v: Option<&str>, field: &str| -> Result<[u8; 32], FieldError> {
            v.and_then(unhex)
                .ok_or_else(|| FieldError::new(field, "an exported line needs this as 64 hex digits"))
        };
        Ok(RecordedEvent {
            position,
            stream: self.stream.clone(),
            version: self.version.ok_or_else(|| missing("version"))?,
            event_type: self.event_type.clone(),
            schema_version,
            recorded_at: self.recorded_at.ok_or_else(|| missing("recorded_at"))?,
            effective_at: self.effective_at.ok_or_else(|| missing("effective_at"))?,
            actor: self.actor.clone(),
            idempotency_key: self.idempotency_key.clone(),
            correlation_id: self.correlation_id.clone(),
            payload: self.payload.get().as_bytes().to_vec(),
            prev_hash: need(self.prev_hash.as_deref(), "prev_hash")?,
            checksum: need(self.checksum.as_deref(), "checksum")?,
        })
    }
}

/// A field of a line at fault, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field}: {message}")]
pub struct FieldError {
    /// The field (`payload.headline`, `checksum`, ...).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError { field: field.to_owned(), message: message.into() }
    }
}

/// The record an exported (or published) line describes, with the claims its event makes:
/// what a restore or a replica writes to its log.
pub fn restored(line: &Line) -> Result<Restored, FieldError> {
    let (schema_version, event) = event_of(line)?;
    let position = line.position.ok_or_else(|| FieldError::new("position", "an exported line needs it"))?;
    Ok(Restored { event: line.record(schema_version, Position(position))?, claims: claims_of(&event) })
}

/// The line's schema version and its payload decoded as that event.
fn event_of(line: &Line) -> Result<(u16, Event), FieldError> {
    use crate::domain::events::DecodeError;
    let schema_version = line.schema_version.unwrap_or_else(|| current_version(&line.event_type));
    let event = Event::decode(&line.event_type, schema_version, line.payload.get().as_bytes()).map_err(
        |e| match &e {
            DecodeError::UnknownType(_) => FieldError::new("type", e.to_string()),
            DecodeError::UnknownVersion { .. } => FieldError::new("schema_version", e.to_string()),
            DecodeError::Payload { source, .. } => {
                let (field, message) = json_field(source);
                FieldError::new(
                    &format!("payload.{}", field.trim_start_matches('(').trim_end_matches(')')),
                    message,
                )
            }
        },
    )?;
    Ok((schema_version, event))
}

fn claims_of(event: &Event) -> Vec<Claim> {
    event
        .claims()
        .into_iter()
        .map(|(namespace, value)| Claim { namespace: namespace.to_owned(), value })
        .collect()
}

/// Reads JSON Lines and appends (or restores) them in batches of `batch` lines, each batch
/// one transaction. `progress(lines)` is called after each batch.
pub fn import(
    store: &Store,
    input: impl Iterator<Item = std::io::Result<String>>,
    batch: usize,
    mut progress: impl FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let mut importer = Importer {
        store,
        report: ImportReport::default(),
        pending: Vec::new(),
        states: HashMap::new(),
        prev_states: HashMap::new(),
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
    report: ImportReport,
    pending: Vec<Pending>,
    /// States of the streams the current batch touches (dropped two batches later, so memory
    /// stays bounded whatever the file's size).
    states: HashMap<String, (u64, Option<State>)>,
    /// States the batch being committed left (the log does not show them yet).
    prev_states: HashMap<String, (u64, Option<State>)>,
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

    fn error(&self, line: u64, field: &str, message: impl Into<String>) -> ImportError {
        ImportError { line, field: field.to_owned(), message: message.into(), committed: self.committed() }
    }

    fn add(&mut self, number: u64, line: Line) -> Result<(), ImportError> {
        let kind = StreamKind::parse(&line.stream).ok_or_else(|| {
            self.error(
                number,
                "stream",
                format!("{:?} is not `article-<ULID>` or `author-<ULID>`", line.stream),
            )
        })?;
        let (schema_version, event) = event_of(&line).map_err(|e| self.error(number, &e.field, e.message))?;
        let payload = line.payload.get().as_bytes();
        let claims = claims_of(&event);

        if let Some(position) = line.position {
            let record = line
                .record(schema_version, Position(position))
                .map_err(|e| self.error(number, &e.field, e.message))?;
            // Re-running a restore: records already in the log are skipped if identical.
            if record.position <= self.store.head() {
                let stored = self
                    .store
                    .reader()
                    .and_then(|r| r.event(record.position))
                    .map_err(|e| self.error(number, "position", e.to_string()))?;
                if stored.checksum != record.checksum {
                    return Err(self.error(
                        number,
                        "position",
                        "this position already holds a different event",
                    ));
                }
                self.report.skipped += 1;
                return Ok(());
            }
            self.pending.push(Pending::Restore(number, Restored { event: record, claims }));
            return Ok(());
        }

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
            };
            self.states.insert(line.stream.clone(), (next, new_state));
        } else {
            self.states.insert(line.stream.clone(), (version, state));
        }
        let key = line.idempotency_key.clone().unwrap_or_else(|| derived_key(&line, payload));
        let mut request = AppendRequest::new(
            line.stream,
            expected,
            vec![ProposedEvent {
                event_type: line.event_type,
                schema_version,
                payload: payload.to_vec(),
                effective_at: line.effective_at,
            }],
        );
        request.idempotency_key = Some(key);
        request.actor = line.actor;
        request.correlation_id = line.correlation_id;
        request.claims = claims;
        self.pending.push(Pending::Append(number, request));
        Ok(())
    }

    /// The stream's version and state: from this batch, or folded from the log.
    fn state(&mut self, kind: StreamKind) -> crate::Result<(u64, Option<State>)> {
        let stream = match kind {
            StreamKind::Article(id) => id.stream(),
            StreamKind::Author(id) => id.stream(),
        };
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
        };
        Ok((version, state))
    }

    /// Would the domain have written this event on this state?
    fn check(
        &mut self,
        number: u64,
        kind: StreamKind,
        state: &Option<State>,
        event: &Event,
    ) -> Result<(), ImportError> {
        use crate::domain::{ArticleCommand as A, AuthorCommand as U, article, author, events::Event as E};
        let refused = |this: &Self, e: crate::domain::Rejection| this.error(number, "type", e.to_string());
        match kind {
            StreamKind::Article(id) => {
                let current = match state {
                    Some(State::Article(a)) => Some(a.as_ref()),
                    _ => None,
                };
                let command = match event.clone() {
                    E::ArticleDrafted(d) => A::Draft {
                        slug: Some(d.slug),
                        headline: d.headline,
                        summary: d.summary,
                        body: d.body,
                        section: d.section,
                        tags: d.tags,
                        language: d.language,
                    },
                    E::ArticleRevised(r) => A::Revise {
                        headline: r.headline,
                        summary: r.summary,
                        body: r.body,
                        section: r.section,
                        tags: r.tags,
                        note: r.note,
                    },
                    E::ArticlePublished(_) => A::Publish,
                    E::ArticleRetracted(r) => A::Retract { reason: r.reason },
                    E::CorrectionAppended(c) => A::AppendCorrection { text: c.text },
                    E::BylineAdded(b) => A::AddByline { author_id: b.author_id, role: b.role },
                    E::BylineRemoved(b) => A::RemoveByline { author_id: b.author_id },
                    other => {
                        return Err(self.error(
                            number,
                            "type",
                            format!("{} is not an article event", other.event_type()),
                        ));
                    }
                };
                let command_full = crate::domain::Command::Article(id, command.clone());
                command_full
                    .validate()
                    .map_err(|e| self.error(number, &rejected_field(&e), e.to_string()))?;
                let author = match &command {
                    A::AddByline { author_id, .. } => {
                        match self
                            .state(StreamKind::Author(*author_id))
                            .map_err(|e| self.error(number, "payload.author_id", e.to_string()))?
                        {
                            (v, Some(State::Author(a))) => {
                                let a2 = a.clone();
                                self.states.insert(author_id.stream(), (v, Some(State::Author(a))));
                                Some(a2)
                            }
                            (v, s) => {
                                self.states.insert(author_id.stream(), (v, s));
                                None
                            }
                        }
                    }
                    _ => None,
                };
                let decided =
                    article::decide(current, id, &command, author.as_ref()).map_err(|e| refused(self, e))?;
                if decided.first() != Some(event) {
                    return Err(self.error(
                        number,
                        "payload",
                        "the event repeats the article's current values",
                    ));
                }
            }
            StreamKind::Author(id) => {
                let current = match state {
                    Some(State::Author(a)) => Some(a),
                    _ => None,
                };
                let command = match event.clone() {
                    E::AuthorRegistered(r) => U::Register { name: r.name, bio: r.bio },
                    E::AuthorRenamed(r) => U::Rename { name: r.name },
                    other => {
                        return Err(self.error(
                            number,
                            "type",
                            format!("{} is not an author event", other.event_type()),
                        ));
                    }
                };
                crate::domain::Command::Author(id, command.clone())
                    .validate()
                    .map_err(|e| self.error(number, &rejected_field(&e), e.to_string()))?;
                author::decide(current, id, &command).map_err(|e| refused(self, e))?;
            }
        }
        Ok(())
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

/// The field a serde_json error is about, and its message without the position suffix.
fn json_field(e: &serde_json::Error) -> (String, String) {
    let message = e.to_string();
    let field = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|p| message.split(p).nth(1).and_then(|rest| rest.split('`').next()).map(str::to_owned))
        .unwrap_or_else(|| "(json)".to_owned());
    let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
    (field, message)
}

/// An idempotency key from the line's content: a re-run of the same file finds it again.
fn derived_key(line: &Line, payload: &[u8]) -> String {
    let mut h = blake3::Hasher::new();
    for part in [line.stream.as_bytes(), line.event_type.as_bytes(), payload] {
        h.update(&(part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.update(&line.version.unwrap_or(0).to_be_bytes());
    h.update(&line.effective_at.map_or(i64::MIN, |t| t.timestamp_micros()).to_be_bytes());
    format!("import:{}", &hex(h.finalize().as_bytes())[..32])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}
