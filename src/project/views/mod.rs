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
use heed::{Database, EnvOpenOptions, RoTxn, RwTxn};

use super::{Error, Result};
use crate::Position;
use crate::domain::events::Event;
use crate::domain::{Article, ArticleId, Author, AuthorId, Image, StreamKind};
use crate::store::{Env, RecordedEvent};

mod encoder;
mod erase;
mod read;
mod snapshot;

use encoder::Encoder;
pub use read::ViewReader;
pub use snapshot::{ArticleFacts, Stated};
use snapshot::{Envelope, decode_facts, decode_snapshot};

/// What built a views generation; a different value means "rebuild".
pub const VIEWS_VERSION: &str = "views/2 (snapshots zstd)";

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
    /// article id → the positions of every version of an article taken down now (8 bytes
    /// each): what no reader sees, at any instant.
    pub const TAKEDOWNS: &str = "takedowns";
    /// image id ‖ article id → (): every article that ever placed the image.
    pub const IMAGE_USES: &str = "image_uses";
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
    takedowns: Database<Bytes, Bytes>,
    image_uses: Database<Bytes, Unit>,
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
        let Some(published) = article.public_from() else {
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

#[derive(Clone)]
enum State {
    Article(Box<Article>),
    Author(Author),
    Image(Box<Image>),
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
        StreamKind::Image(id) => (b'i', id.0),
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

/// The views of one generation.
pub struct Views {
    env: Env,
    t: Tables,
}

impl Views {
    /// Opens (or creates) a views generation in `dir`.
    pub fn open(dir: &Path, map_size: usize) -> Result<Views> {
        std::fs::create_dir_all(dir)?;
        let open = || -> Result<Env> {
            // SAFETY: this directory belongs to this views generation alone and is opened once
            // per process (the runner holds the only handle).
            Ok(unsafe {
                EnvOpenOptions::new().read_txn_without_tls().map_size(map_size).max_dbs(12).open(dir)?
            })
        };
        let mut env = open()?;
        let built_by = {
            let rtxn = env.read_txn()?;
            let meta: Option<Database<Str, Bytes>> = env.open_database(&rtxn, Some(db_name::META))?;
            meta.map(|m| m.get(&rtxn, "built_by").map(|b| b.map(<[u8]>::to_vec))).transpose()?.flatten()
        };
        if let Some(other) = built_by.filter(|b| b != VIEWS_VERSION.as_bytes()) {
            // Views an older morgue built in another format: they are derived from the log, so
            // start them again from position 0 rather than misread them.
            tracing::warn!(built_by = %String::from_utf8_lossy(&other), dir = %dir.display(),
                "views were built in another format; rebuilding them from the log");
            env.prepare_for_closing().wait();
            std::fs::remove_dir_all(dir)?;
            std::fs::create_dir_all(dir)?;
            env = open()?;
        }
        let mut wtxn = env.write_txn()?;
        let t = Tables {
            states: env.create_database(&mut wtxn, Some(db_name::STATES))?,
            effective: env.create_database(&mut wtxn, Some(db_name::EFFECTIVE))?,
            slugs: env.create_database(&mut wtxn, Some(db_name::SLUGS))?,
            listings: env.create_database(&mut wtxn, Some(db_name::LISTINGS))?,
            counts: env.create_database(&mut wtxn, Some(db_name::COUNTS))?,
            author_names: env.create_database(&mut wtxn, Some(db_name::AUTHOR_NAMES))?,
            takedowns: env.create_database(&mut wtxn, Some(db_name::TAKEDOWNS))?,
            image_uses: env.create_database(&mut wtxn, Some(db_name::IMAGE_USES))?,
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
        let mut cache: HashMap<[u8; 17], (Option<State>, u64)> = HashMap::new();
        Encoder::run(&self.t, &mut wtxn, events.len(), |wtxn, encoder| {
            for event in events {
                self.apply_one(wtxn, &mut cache, encoder, event)?;
            }
            Ok(())
        })?;
        self.t.meta.put(&mut wtxn, "checkpoint", &last.position.0.to_be_bytes())?;
        wtxn.commit()?;
        Ok(())
    }

    fn apply_one(
        &self,
        wtxn: &mut RwTxn,
        cache: &mut HashMap<[u8; 17], (Option<State>, u64)>,
        encoder: &mut Encoder,
        event: &RecordedEvent,
    ) -> Result<()> {
        let Some(kind) = StreamKind::parse(&event.stream) else { return Ok(()) };
        let (decoded, meta) = crate::domain::decode(event)
            .map_err(|e| Error::Event(format!("position {}: {e}", event.position)))?;
        let entity = entity_key(kind);
        // The state before, and the position of the snapshot that holds its body.
        let (previous, body_at) = match cache.entry(entity) {
            Entry::Occupied(e) => e.remove(),
            Entry::Vacant(_) => self.load_current(wtxn, &entity, kind)?,
        };
        if decoded.erases() {
            // Every state handed to the encoder is written before the erasure deletes them all.
            // (A shredded stream's events no longer open, so a batch read after the erasure
            // holds none of its states; this keeps the order right whatever the batch.)
            encoder.flush(&self.t, wtxn)?;
            self.erase(wtxn, &entity, kind, previous.as_ref())?;
            cache.insert(entity, (None, 0));
            return Ok(());
        }
        let next = match (kind, previous.as_ref()) {
            (StreamKind::Article(id), prev) => {
                let old = match prev {
                    Some(State::Article(a)) => Some(a.as_ref().clone()),
                    _ => None,
                };
                let new = Article::apply(old.clone(), id, &decoded, meta);
                self.index_article(wtxn, id, old.as_ref(), new.as_ref(), &decoded)?;
                if let Event::ImagePlaced(p) = &decoded {
                    let mut key = p.image_id.0.to_bytes().to_vec();
                    key.extend_from_slice(&id.0.to_bytes());
                    self.t.image_uses.put(wtxn, &key, &())?;
                }
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
            (StreamKind::Image(id), prev) => {
                let old = match prev {
                    Some(State::Image(i)) => Some(i.as_ref().clone()),
                    _ => None,
                };
                Image::apply(old, id, &decoded, meta).map(|i| State::Image(Box::new(i)))
            }
        };
        // A body is stored once per version that changed it; later snapshots point at it.
        let same_body = match (&previous, &next) {
            (Some(State::Article(old)), Some(State::Article(new))) => body_at != 0 && old.body == new.body,
            _ => false,
        };
        let body_at = if same_body { body_at } else { event.position.get() };
        if let Some(state) = &next {
            let key = state_key(&entity, event.position);
            let shared = same_body.then_some(body_at);
            encoder.put(&self.t, wtxn, key, Envelope::of(event), state, shared)?;
            let key = effective_key(&entity, event.effective_at.timestamp_micros(), event.position);
            self.t.effective.put(wtxn, &key, &())?;
        }
        if let (StreamKind::Article(id), Some(State::Article(new))) = (kind, &next) {
            let was = matches!(&previous, Some(State::Article(old)) if old.takedown.is_some());
            if new.takedown.is_some() {
                // The takedown lists every version's state, this one's included.
                encoder.flush(&self.t, wtxn)?;
            }
            self.index_takedown(wtxn, &entity, id, was, new.takedown.is_some())?;
        }
        cache.insert(entity, (next, body_at));
        Ok(())
    }

    /// An entity's last state, and the position of the snapshot that holds its body.
    fn load_current(&self, txn: &RoTxn, entity: &[u8; 17], kind: StreamKind) -> Result<(Option<State>, u64)> {
        let key = state_key(entity, Position(u64::MAX));
        let Some((found, bytes)) = self.t.states.get_lower_than_or_equal_to(txn, &key)? else {
            return Ok((None, 0));
        };
        if &found[..17] != entity {
            return Ok((None, 0));
        }
        let here = u64::from_be_bytes(found[17..25].try_into().expect("8 bytes"));
        Ok(match kind {
            StreamKind::Article(_) => {
                let (snap, at) = snapshot::decode_with_body::<Article>(&self.t, txn, entity, bytes)?;
                (Some(State::Article(Box::new(snap.state))), at.unwrap_or(here))
            }
            StreamKind::Author(_) => {
                (Some(State::Author(decode_snapshot::<Author>(&self.t, txn, entity, bytes)?.state)), here)
            }
            StreamKind::Image(_) => {
                let image = decode_snapshot::<Image>(&self.t, txn, entity, bytes)?.state;
                (Some(State::Image(Box::new(image))), here)
            }
        })
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
            // Scheduled publications are listed at their instant; reads skip them until then.
            let Some(published) = a.public_from() else { return Vec::new() };
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

    /// Keeps the positions of every version of a taken-down article (this event's included),
    /// or forgets them when the takedown is undone.
    fn index_takedown(
        &self,
        wtxn: &mut RwTxn,
        entity: &[u8; 17],
        id: ArticleId,
        was: bool,
        is: bool,
    ) -> Result<()> {
        let key = id.0.to_bytes();
        if is {
            let mut positions = Vec::new();
            for entry in self.t.states.prefix_iter(wtxn, entity)? {
                positions.extend_from_slice(&entry?.0[17..25]);
            }
            self.t.takedowns.put(wtxn, &key, &positions)?;
        } else if was {
            self.t.takedowns.delete(wtxn, &key)?;
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
