//! Erasure in the views: every row an erased entity left is deleted in the transaction that
//! applies its erasure, so no read finds it at any instant. The pages LMDB frees keep the old
//! bytes until reused; `morgue compact` rebuilds the views into a fresh file.

use heed::types::Bytes;
use heed::{Database, RwTxn};

use super::{State, Views};
use crate::domain::{Event, StreamKind};

impl Views {
    /// Deletes every row of `entity`: its snapshots at every version, its validity index, its
    /// slug, its listings and counts, its takedown and its name (an image: where it was used).
    pub(super) fn erase(
        &self,
        wtxn: &mut RwTxn,
        entity: &[u8; 17],
        kind: StreamKind,
        previous: Option<&State>,
    ) -> super::Result<()> {
        match (kind, previous) {
            (StreamKind::Article(id), Some(State::Article(old))) => {
                self.index_article(wtxn, id, Some(old), None, &Event::Shredded)?;
                self.t.slugs.delete(wtxn, &old.slug)?;
                self.t.takedowns.delete(wtxn, &id.0.to_bytes())?;
            }
            (StreamKind::Author(id), Some(State::Author(old))) => {
                self.index_author(wtxn, id, Some(old), None)?;
            }
            (StreamKind::Image(id), _) => {
                delete_prefix(self.t.image_uses.remap_data_type::<Bytes>(), wtxn, &id.0.to_bytes())?;
            }
            _ => {}
        }
        delete_prefix(self.t.states, wtxn, entity)?;
        delete_prefix(self.t.effective.remap_data_type::<Bytes>(), wtxn, entity)?;
        Ok(())
    }
}

fn delete_prefix(table: Database<Bytes, Bytes>, wtxn: &mut RwTxn, prefix: &[u8]) -> heed::Result<()> {
    let keys: Vec<Vec<u8>> =
        table.prefix_iter(wtxn, prefix)?.map(|e| e.map(|(k, _)| k.to_vec())).collect::<heed::Result<_>>()?;
    for key in keys {
        table.delete(wtxn, &key)?;
    }
    Ok(())
}
