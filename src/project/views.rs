//! Materialized views in LMDB: every entity's state at every version (for present and past
//! reads), slugs, newest-first listings by section, author, tag and year, their counts, and
//! authors by name. Written only by [`Views::apply`], which stores the checkpoint in the same
//! transaction as the output, so views and checkpoint never disagree.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;

use chrono::{DateTime, Datelike, Utc};
use heed::byteorder::BigEndian;
use heed::types::{Bytes, Str, U64, Unit};
use heed::{Database, EnvOpenOptions, RoTxn, RwTxn, WithoutTls};

use super::{At, Error, Result};
use crate::Position;
use crate::domain::events::Event;
use crate::domain::{Article, ArticleId, Author, AuthorId, StreamKind};
use crate::store::{Env, RecordedEvent};

/// What built a views generation; a different value means "rebuild".
pub const VIEWS_VERSION: &str = "views/1";

/// The names of the views' LMDB tables.
pub mod db_name {
    /// entity ‖ position → state snapshot after that event.
    pub const STATES: &str = "states";
    /// entity ‖ effective instant ‖ position → (): "the last version in effect at T".
    pub const EFFECTIVE: &str = "effective";
    /// slug → article id.
    pub const SLUGS: &str = "slugs";
    /// group ‖ 0 ‖ published instant ‖ article id → (): published articles, by group.
    pub const LISTINGS: &str = "listings";
    /// group → number of published articles in it (facet counts).
    pub const COUNTS: &str = "counts";
    /// lowercased name ‖ 0 ‖ author id → ().
    pub const AUTHOR_NAMES: &str = "author_names";
    /// `checkpoint`, `built_by`.
    pub const META: &str = "meta";
}

#[derive(Clone, Copy)]
struct Tables {
    states: Database<Bytes, Bytes>,
    effective: Database<Bytes, Unit>,
    slugs: Database<Str, Bytes>,
    listings: Database<Bytes, Unit>,
    counts: Database<Bytes, U64<BigEndian>>,
    author_names: Database<Bytes, Unit>,
    meta: Database<Str, Bytes>,
}

/// A state and the envelope facts of the event that produced it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot<T> {
    /// The state.
    pub state: T,
    /// Stream version.
    pub version: u64,
    /// Position of the event that produced it.
    pub position: Position,
    /// When that event took effect.
    pub effective_at: DateTime<Utc>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// A group of published articles, listed newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Group {
    /// Every published article.
    All,
    /// One section.
    Section(String),
    /// One author's.
    Author(AuthorId),
    /// One tag.
    Tag(String),
    /// One publication year.
    Year(i32),
}

impl Group {
    fn key(&self) -> Vec<u8> {
        let mut k = Vec::new();
        match self {
            Group::All => k.push(b'*'),
            Group::Section(s) => {
                k.push(b'S');
                k.extend_from_slice(s.as_bytes());
            }
            Group::Author(a) => {
                k.push(b'A');
                k.extend_from_slice(&a.0.to_bytes());
            }
            Group::Tag(t) => {
                k.push(b'T');
                k.extend_from_slice(t.as_bytes());
            }
            Group::Year(y) => {
                k.push(b'Y');
                k.extend_from_slice(&y.to_be_bytes());
            }
        }
        k.push(0);
        k
    }

    fn of(article: &Article) -> Vec<Group> {
        let Some(published) = article.published_at.filter(|_| article.is_public()) else {
            return Vec::new();
        };
        let mut groups =
            vec![Group::All, Group::Section(article.section.clone()), Group::Year(published.year())];
        groups.extend(article.bylines.iter().map(|b| Group::Author(b.author_id)));
        groups.extend(article.tags.iter().map(|t| Group::Tag(t.clone())));
        groups
    }
}

/// One row of [`ViewReader::dump`]: table, key, value.
pub type DumpRow = (String, Vec<u8>, Vec<u8>);

/// One page of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// Items with their opaque cursors.
    pub items: Vec<(String, T)>,
    /// Whether more follow.
    pub has_next: bool,
    /// How many there are in all.
    pub total: u64,
}

enum State {
    Article(Box<Article>),
    Author(Author),
}

/// Maps an i64 to a u64 whose big-endian bytes sort like the i64.
fn ordered(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

fn entity_key(kind: StreamKind) -> [u8; 17] {
    let mut key = [0u8; 17];
    let (tag, id) = match kind {
        StreamKind::Article(id) => (b'a', id.0),
        StreamKind::Author(id) => (b'u', id.0),
    };
    key[0] = tag;
    key[1..].copy_from_slice(&id.to_bytes());
    key
}

fn state_key(entity: &[u8; 17], position: Position) -> [u8; 25] {
    let mut key = [0u8; 25];
    key[..17].copy_from_slice(entity);
    key[17..].copy_from_slice(&position.0.to_be_bytes());
    key
}

fn effective_key(entity: &[u8; 17], effective_us: i64, position: Position) -> [u8; 33] {
    let mut key = [0u8; 33];
    key[..17].copy_from_slice(entity);
    key[17..25].copy_from_slice(&ordered(effective_us));
    key[25..].copy_from_slice(&position.0.to_be_bytes());
    key
}

fn listing_key(group: &Group, published: DateTime<Utc>, id: ArticleId) -> Vec<u8> {
    let mut key = group.key();
    key.extend_from_slice(&ordered(published.timestamp_micros()));
    key.extend_from_slice(&id.0.to_bytes());
    key
}

fn encode_snapshot(event: &RecordedEvent, state: &State) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&event.version.to_be_bytes());
    out.extend_from_slice(&event.position.0.to_be_bytes());
    out.extend_from_slice(&event.effective_at.timestamp_micros().to_be_bytes());
    out.extend_from_slice(&event.recorded_at.timestamp_micros().to_be_bytes());
    let json = match state {
        State::Article(a) => serde_json::to_writer(&mut out, a),
        State::Author(a) => serde_json::to_writer(&mut out, a),
    };
    json.expect("states of strings, ids and instants always serialize");
    out
}

fn decode_snapshot<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<Snapshot<T>> {
    let corrupt = || Error::Corrupt("state snapshot is damaged".into());
    if bytes.len() < 32 {
        return Err(corrupt());
    }
    let word = |i: usize| -> [u8; 8] { bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes") };
    let instant = |i| DateTime::from_timestamp_micros(i64::from_be_bytes(word(i))).ok_or_else(corrupt);
    Ok(Snapshot {
        version: u64::from_be_bytes(word(0)),
        position: Position(u64::from_be_bytes(word(1))),
        effective_at: instant(2)?,
        recorded_at: instant(3)?,
        state: serde_json::from_slice(&bytes[32..]).map_err(|e| Error::Corrupt(e.to_string()))?,
    })
}

/// The views of one generation.
pub struct Views {
    env: Env,
    t: Tables,
}

impl Views {
    /// Opens (or creates) a views generation in `dir`.
    pub fn open(dir: &Path, map_size: usize) -> Result<Views> {
        std::fs::create_dir_all(dir)?;
        // SAFETY: this directory belongs to this views generation alone and is opened once per
        // process (the runner holds the only handle).
        let env =
            unsafe { EnvOpenOptions::new().read_txn_without_tls().map_size(map_size).max_dbs(8).open(dir)? };
        let mut wtxn = env.write_txn()?;
        let t = Tables {
            states: env.create_database(&mut wtxn, Some(db_name::STATES))?,
            effective: env.create_database(&mut wtxn, Some(db_name::EFFECTIVE))?,
            slugs: env.create_database(&mut wtxn, Some(db_name::SLUGS))?,
            listings: env.create_database(&mut wtxn, Some(db_name::LISTINGS))?,
            counts: env.create_database(&mut wtxn, Some(db_name::COUNTS))?,
            author_names: env.create_database(&mut wtxn, Some(db_name::AUTHOR_NAMES))?,
            meta: env.create_database(&mut wtxn, Some(db_name::META))?,
        };
        if t.meta.get(&wtxn, "built_by")?.is_none() {
            t.meta.put(&mut wtxn, "built_by", VIEWS_VERSION.as_bytes())?;
        }
        wtxn.commit()?;
        Ok(Views { env, t })
    }

    /// What built this generation.
    pub fn built_by(&self) -> Result<String> {
        let rtxn = self.env.read_txn()?;
        Ok(self
            .t
            .meta
            .get(&rtxn, "built_by")?
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default())
    }

    /// The last position applied.
    pub fn checkpoint(&self) -> Result<Position> {
        let rtxn = self.env.read_txn()?;
        read_checkpoint(&self.t, &rtxn)
    }

    /// Applies a batch of consecutive events and stores the checkpoint, in one transaction.
    pub fn apply(&self, events: &[RecordedEvent]) -> Result<()> {
        let Some(last) = events.last() else { return Ok(()) };
        let mut wtxn = self.env.write_txn()?;
        let checkpoint = read_checkpoint(&self.t, &wtxn)?;
        if events[0].position != checkpoint.next() {
            return Err(Error::Gap { checkpoint, next: events[0].position });
        }
        let mut cache: HashMap<[u8; 17], Option<State>> = HashMap::new();
        for event in events {
            self.apply_one(&mut wtxn, &mut cache, event)?;
        }
        self.t.meta.put(&mut wtxn, "checkpoint", &last.position.0.to_be_bytes())?;
        wtxn.commit()?;
        Ok(())
    }

    fn apply_one(
        &self,
        wtxn: &mut RwTxn,
        cache: &mut HashMap<[u8; 17], Option<State>>,
        event: &RecordedEvent,
    ) -> Result<()> {
        let Some(kind) = StreamKind::parse(&event.stream) else { return Ok(()) };
        let (decoded, meta) = crate::domain::decode(event)
            .map_err(|e| Error::Event(format!("position {}: {e}", event.position)))?;
        let entity = entity_key(kind);
        let previous = match cache.entry(entity) {
            Entry::Occupied(e) => e.remove(),
            Entry::Vacant(_) => self.load_current(wtxn, &entity, kind)?,
        };
        let next = match (kind, previous.as_ref()) {
            (StreamKind::Article(id), prev) => {
                let old = match prev {
                    Some(State::Article(a)) => Some(a.as_ref().clone()),
                    _ => None,
                };
                let new = Article::apply(old.clone(), id, &decoded, meta);
                self.index_article(wtxn, id, old.as_ref(), new.as_ref(), &decoded)?;
                new.map(|a| State::Article(Box::new(a)))
            }
            (StreamKind::Author(id), prev) => {
                let old = match prev {
                    Some(State::Author(a)) => Some(a.clone()),
                    _ => None,
                };
                let new = Author::apply(old.clone(), id, &decoded, meta);
                self.index_author(wtxn, id, old.as_ref(), new.as_ref())?;
                new.map(State::Author)
            }
        };
        if let Some(state) = &next {
            let key = state_key(&entity, event.position);
            self.t.states.put(wtxn, &key, &encode_snapshot(event, state))?;
            let key = effective_key(&entity, event.effective_at.timestamp_micros(), event.position);
            self.t.effective.put(wtxn, &key, &())?;
        }
        cache.insert(entity, next);
        Ok(())
    }

    fn load_current(&self, txn: &RoTxn, entity: &[u8; 17], kind: StreamKind) -> Result<Option<State>> {
        let key = state_key(entity, Position(u64::MAX));
        let Some((found, bytes)) = self.t.states.get_lower_than_or_equal_to(txn, &key)? else {
            return Ok(None);
        };
        if &found[..17] != entity {
            return Ok(None);
        }
        Ok(Some(match kind {
            StreamKind::Article(_) => State::Article(Box::new(decode_snapshot::<Article>(bytes)?.state)),
            StreamKind::Author(_) => State::Author(decode_snapshot::<Author>(bytes)?.state),
        }))
    }

    fn index_article(
        &self,
        wtxn: &mut RwTxn,
        id: ArticleId,
        old: Option<&Article>,
        new: Option<&Article>,
        event: &Event,
    ) -> Result<()> {
        if let (Event::ArticleDrafted(d), None) = (event, old) {
            self.t.slugs.put(wtxn, &d.slug, &id.0.to_bytes())?;
        }
        let keys = |a: Option<&Article>| -> Vec<(Vec<u8>, Vec<u8>)> {
            let Some(a) = a else { return Vec::new() };
            let Some(published) = a.published_at.filter(|_| a.is_public()) else { return Vec::new() };
            Group::of(a).iter().map(|g| (g.key(), listing_key(g, published, id))).collect()
        };
        let (before, after) = (keys(old), keys(new));
        for (group, key) in &before {
            if !after.iter().any(|(_, k)| k == key) {
                self.t.listings.delete(wtxn, key)?;
                self.bump(wtxn, group, -1)?;
            }
        }
        for (group, key) in &after {
            if !before.iter().any(|(_, k)| k == key) {
                self.t.listings.put(wtxn, key, &())?;
                self.bump(wtxn, group, 1)?;
            }
        }
        Ok(())
    }

    fn bump(&self, wtxn: &mut RwTxn, group: &[u8], by: i64) -> Result<()> {
        let count = self.t.counts.get(wtxn, group)?.unwrap_or(0);
        let count = count.saturating_add_signed(by);
        if count == 0 {
            self.t.counts.delete(wtxn, group)?;
        } else {
            self.t.counts.put(wtxn, group, &count)?;
        }
        Ok(())
    }

    fn index_author(
        &self,
        wtxn: &mut RwTxn,
        id: AuthorId,
        old: Option<&Author>,
        new: Option<&Author>,
    ) -> Result<()> {
        let key = |a: &Author| {
            let mut k = a.name.to_lowercase().into_bytes();
            k.push(0);
            k.extend_from_slice(&id.0.to_bytes());
            k
        };
        if let Some(old) = old {
            self.t.author_names.delete(wtxn, &key(old))?;
        }
        if let Some(new) = new {
            self.t.author_names.put(wtxn, &key(new), &())?;
        }
        Ok(())
    }

    /// A read transaction for a consistent set of reads.
    pub fn read(&self) -> Result<ViewReader<'_>> {
        Ok(ViewReader { txn: self.env.read_txn()?, t: &self.t })
    }
}

fn read_checkpoint(t: &Tables, txn: &RoTxn) -> Result<Position> {
    Ok(Position(match t.meta.get(txn, "checkpoint")? {
        Some(bytes) => u64::from_be_bytes(bytes.try_into().map_err(|_| Error::Corrupt("checkpoint".into()))?),
        None => 0,
    }))
}

/// A consistent snapshot of the views.
pub struct ViewReader<'v> {
    txn: RoTxn<'v, WithoutTls>,
    t: &'v Tables,
}

impl ViewReader<'_> {
    /// The last position these views include.
    pub fn checkpoint(&self) -> Result<Position> {
        read_checkpoint(self.t, &self.txn)
    }

    fn snapshot_at<T: serde::de::DeserializeOwned>(
        &self,
        kind: StreamKind,
        at: At,
    ) -> Result<Option<Snapshot<T>>> {
        let entity = entity_key(kind);
        let basis = at.basis.unwrap_or(Position(u64::MAX));
        let mut position =
            match self.t.states.get_lower_than_or_equal_to(&self.txn, &state_key(&entity, basis))? {
                Some((key, _)) if key[..17] == entity => {
                    u64::from_be_bytes(key[17..25].try_into().expect("8 bytes"))
                }
                _ => return Ok(None),
            };
        if let Some(as_of) = at.as_of {
            let probe = effective_key(&entity, as_of.timestamp_micros(), Position(u64::MAX));
            match self.t.effective.get_lower_than_or_equal_to(&self.txn, &probe)? {
                // Effective instants never go back within a stream, so the events in effect at
                // `as_of` and those at or before `basis` are both prefixes: take the shorter.
                Some((key, _)) if key[..17] == entity => {
                    position = position.min(u64::from_be_bytes(key[25..33].try_into().expect("8 bytes")));
                }
                _ => return Ok(None),
            }
        }
        match self.t.states.get(&self.txn, &state_key(&entity, Position(position)))? {
            Some(bytes) => decode_snapshot(bytes).map(Some),
            None => Err(Error::Corrupt(format!("no state at position {position}"))),
        }
    }

    /// An article as it stood at `at` (drafts included; callers filter for readers).
    pub fn article(&self, id: ArticleId, at: At) -> Result<Option<Snapshot<Article>>> {
        self.snapshot_at(StreamKind::Article(id), at)
    }

    /// An author as they stood at `at`.
    pub fn author(&self, id: AuthorId, at: At) -> Result<Option<Snapshot<Author>>> {
        self.snapshot_at(StreamKind::Author(id), at)
    }

    /// Every version of an entity's state, oldest first.
    pub fn history<T: serde::de::DeserializeOwned>(&self, kind: StreamKind) -> Result<Vec<Snapshot<T>>> {
        let entity = entity_key(kind);
        let mut out = Vec::new();
        for entry in self.t.states.prefix_iter(&self.txn, &entity)? {
            out.push(decode_snapshot(entry?.1)?);
        }
        Ok(out)
    }

    /// The article holding a slug.
    pub fn article_by_slug(&self, slug: &str) -> Result<Option<ArticleId>> {
        Ok(self
            .t
            .slugs
            .get(&self.txn, slug)?
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .map(|b| ArticleId(b.into())))
    }

    /// How many published articles a group holds now.
    pub fn count(&self, group: &Group) -> Result<u64> {
        Ok(self.t.counts.get(&self.txn, &group.key())?.unwrap_or(0))
    }

    /// Every group of one kind (`b'S'` sections, `b'Y'` years, `b'A'` authors) and its count.
    pub fn counts(&self, kind: u8) -> Result<Vec<(Vec<u8>, u64)>> {
        let mut out = Vec::new();
        for entry in self.t.counts.prefix_iter(&self.txn, &[kind])? {
            let (key, count) = entry?;
            out.push((key[1..key.len() - 1].to_vec(), count));
        }
        Ok(out)
    }

    /// Published articles of a group, newest first, after an opaque cursor.
    pub fn list(&self, group: &Group, after: Option<&str>, first: usize) -> Result<Page<ArticleId>> {
        let prefix = group.key();
        let upper = match after {
            Some(cursor) => {
                let mut k = prefix.clone();
                k.extend_from_slice(&decode_cursor(cursor)?);
                std::ops::Bound::Excluded(k)
            }
            None => {
                // The group's keys all start with `prefix`, which ends in a 0 byte.
                let mut end = prefix.clone();
                *end.last_mut().expect("a group key is never empty") = 1;
                std::ops::Bound::Excluded(end)
            }
        };
        let lower = std::ops::Bound::Included(prefix.clone());
        let range = (lower.as_ref().map(Vec::as_slice), upper.as_ref().map(Vec::as_slice));
        let mut items = Vec::new();
        let mut has_next = false;
        for entry in self.t.listings.rev_range(&self.txn, &range)? {
            let (key, ()) = entry?;
            if !key.starts_with(&prefix) {
                break;
            }
            if items.len() == first {
                has_next = true;
                break;
            }
            let tail = &key[prefix.len()..];
            let id: [u8; 16] = tail[8..].try_into().map_err(|_| Error::Corrupt("listing key".into()))?;
            items.push((hex(tail), ArticleId(id.into())));
        }
        Ok(Page { items, has_next, total: self.count(group)? })
    }

    /// Authors by name, after an opaque cursor.
    pub fn authors(&self, after: Option<&str>, first: usize) -> Result<Page<AuthorId>> {
        let lower = match after {
            Some(cursor) => std::ops::Bound::Excluded(decode_cursor(cursor)?),
            None => std::ops::Bound::Unbounded,
        };
        let range = (lower.as_ref().map(Vec::as_slice), std::ops::Bound::Unbounded);
        let mut items = Vec::new();
        let mut has_next = false;
        for entry in self.t.author_names.range(&self.txn, &range)? {
            let (key, ()) = entry?;
            if items.len() == first {
                has_next = true;
                break;
            }
            let id: [u8; 16] =
                key[key.len() - 16..].try_into().map_err(|_| Error::Corrupt("author key".into()))?;
            items.push((hex(key), AuthorId(id.into())));
        }
        Ok(Page { items, has_next, total: self.t.author_names.len(&self.txn)? })
    }

    /// Every table's content, in key order: what "identical views" compares.
    pub fn dump(&self) -> Result<Vec<DumpRow>> {
        let mut out = Vec::new();
        let raw = |db: Database<Bytes, Bytes>, name: &str, out: &mut Vec<_>| -> Result<()> {
            for entry in db.iter(&self.txn)? {
                let (k, v) = entry?;
                out.push((name.to_owned(), k.to_vec(), v.to_vec()));
            }
            Ok(())
        };
        raw(self.t.states, db_name::STATES, &mut out)?;
        raw(self.t.effective.remap_data_type(), db_name::EFFECTIVE, &mut out)?;
        raw(self.t.slugs.remap_key_type(), db_name::SLUGS, &mut out)?;
        raw(self.t.listings.remap_data_type(), db_name::LISTINGS, &mut out)?;
        raw(self.t.counts.remap_data_type(), db_name::COUNTS, &mut out)?;
        raw(self.t.author_names.remap_data_type(), db_name::AUTHOR_NAMES, &mut out)?;
        Ok(out)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(cursor: &str) -> Result<Vec<u8>> {
    let bad = || Error::BadCursor(cursor.to_owned());
    if cursor.is_empty() || !cursor.len().is_multiple_of(2) || cursor.len() > 2048 {
        return Err(bad());
    }
    (0..cursor.len())
        .step_by(2)
        .map(|i| cursor.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or_else(bad))
        .collect()
}
