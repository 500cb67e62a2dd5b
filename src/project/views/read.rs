//! Reads of the views in one LMDB read transaction: an entity at any (basis, asOf), its
//! versions, slugs, listings, counts and authors by name.

use heed::types::Bytes;
use heed::{Database, RoTxn, WithoutTls};

use super::{
    ArticleFacts, DumpRow, Group, Page, Snapshot, Stated, Tables, db_name, decode_facts, decode_snapshot,
    effective_key, entity_key, read_checkpoint, state_key,
};
use crate::Position;
use crate::domain::{Article, ArticleId, Author, AuthorId, Image, ImageId, StreamKind};
use crate::project::{At, Error, Result};

/// A consistent snapshot of the views.
pub struct ViewReader<'v> {
    pub(super) txn: RoTxn<'v, WithoutTls>,
    pub(super) t: &'v Tables,
}

impl ViewReader<'_> {
    /// The last position these views include.
    pub fn checkpoint(&self) -> Result<Position> {
        read_checkpoint(self.t, &self.txn)
    }

    fn snapshot_at<T: Stated>(&self, kind: StreamKind, at: At) -> Result<Option<Snapshot<T>>> {
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
            Some(bytes) => decode_snapshot(self.t, &self.txn, &entity, bytes).map(Some),
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

    /// An image as it stood at `at` (retired ones included; callers filter for readers).
    pub fn image(&self, id: ImageId, at: At) -> Result<Option<Snapshot<Image>>> {
        self.snapshot_at(StreamKind::Image(id), at)
    }

    /// The ids of the newest images (by id, which is time-ordered), at most `limit` of them,
    /// newest first.
    pub fn newest_images(&self, limit: usize) -> Result<Vec<ImageId>> {
        let mut out: Vec<ImageId> = Vec::new();
        for entry in self.t.states.rev_prefix_iter(&self.txn, b"i")? {
            let key = entry?.0;
            let bytes: [u8; 16] = key
                .get(1..17)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| Error::Corrupt("image state key".into()))?;
            let id = ImageId(ulid::Ulid::from_bytes(bytes));
            if out.last() != Some(&id) {
                if out.len() >= limit {
                    break;
                }
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Every article that ever placed the image, oldest id first.
    pub fn image_uses(&self, id: ImageId) -> Result<Vec<ArticleId>> {
        let mut out = Vec::new();
        for entry in self.t.image_uses.prefix_iter(&self.txn, &id.0.to_bytes())? {
            let key = entry?.0;
            let bytes: [u8; 16] =
                key[16..32].try_into().map_err(|_| Error::Corrupt("image use key".into()))?;
            out.push(ArticleId(ulid::Ulid::from_bytes(bytes)));
        }
        Ok(out)
    }

    /// Every version of an entity's state, oldest first.
    pub fn history<T: Stated>(&self, kind: StreamKind) -> Result<Vec<Snapshot<T>>> {
        let entity = entity_key(kind);
        let mut out = Vec::new();
        for entry in self.t.states.prefix_iter(&self.txn, &entity)? {
            out.push(decode_snapshot(self.t, &self.txn, &entity, entry?.1)?);
        }
        Ok(out)
    }

    /// Every version of an article without its text, oldest first.
    pub fn article_facts(&self, id: ArticleId) -> Result<Vec<Snapshot<ArticleFacts>>> {
        let entity = entity_key(StreamKind::Article(id));
        let mut out = Vec::new();
        for entry in self.t.states.prefix_iter(&self.txn, &entity)? {
            out.push(decode_facts(entry?.1)?);
        }
        Ok(out)
    }

    /// Whether the article is taken down now (whatever the read's instant).
    pub fn taken_down(&self, id: ArticleId) -> Result<bool> {
        Ok(self.t.takedowns.get(&self.txn, &id.0.to_bytes())?.is_some())
    }

    /// The positions of every version of every article taken down now: what no reader sees.
    pub fn hidden_positions(&self) -> Result<std::collections::HashSet<u64>> {
        let mut hidden = std::collections::HashSet::new();
        for entry in self.t.takedowns.iter(&self.txn)? {
            for p in entry?.1.chunks_exact(8) {
                hidden.insert(u64::from_be_bytes(p.try_into().expect("8 bytes")));
            }
        }
        Ok(hidden)
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
        // Publications scheduled for later are listed at their instant (newest first, so at
        // the top): left out, and out of the count, until it comes.
        let now = super::ordered(chrono::Utc::now().timestamp_micros());
        let mut scheduled = 0u64;
        for entry in self.t.listings.rev_range(&self.txn, &range)? {
            let (key, ()) = entry?;
            if !key.starts_with(&prefix) {
                break;
            }
            let tail = &key[prefix.len()..];
            if tail.get(..8).is_some_and(|at| at > &now[..]) {
                scheduled += 1;
                continue;
            }
            if items.len() == first {
                has_next = true;
                break;
            }
            let id: [u8; 16] = tail[8..].try_into().map_err(|_| Error::Corrupt("listing key".into()))?;
            items.push((hex(tail), ArticleId(id.into())));
        }
        if after.is_some() {
            // A later page starts below the scheduled ones: count them from the top.
            scheduled = self.scheduled_in(&prefix, &now)?;
        }
        Ok(Page { items, has_next, total: self.count(group)?.saturating_sub(scheduled) })
    }

    /// How many of a group's listings are scheduled after `now` (they sit at its top).
    fn scheduled_in(&self, prefix: &[u8], now: &[u8]) -> Result<u64> {
        let mut end = prefix.to_vec();
        *end.last_mut().expect("a group key is never empty") = 1;
        let range = (std::ops::Bound::Included(prefix), std::ops::Bound::Excluded(end.as_slice()));
        let mut n = 0;
        for entry in self.t.listings.rev_range(&self.txn, &range)? {
            let (key, ()) = entry?;
            match key.get(prefix.len()..prefix.len() + 8) {
                Some(at) if at > now => n += 1,
                _ => break,
            }
        }
        Ok(n)
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
        raw(self.t.takedowns, db_name::TAKEDOWNS, &mut out)?;
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
