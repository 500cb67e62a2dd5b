//! Validity windows, kept outside the inverted index so that no text is indexed twice.
//!
//! A document is indexed once, when its version is written, with where its window opens
//! (`pos_from`, `eff_from`). The window closes at the article's next change; that closing is
//! recorded by the next document of the article (its `closes` field names the version it ends:
//! a new version, or a text-less marker when the article stopped being public). In memory,
//! [`Closed`] maps each ended version to where it ended, rebuilt from those fields at open.
//!
//! A read at (`as_of`, `basis`) sees the document where `from <= (as_of, basis)` in both clocks
//! and the end is past it in at least one, or there is no end yet.

use rustc_hash::FxHashMap;
use tantivy::columnar::ColumnValues;
use tantivy::fastfield::AliveBitSet;
use tantivy::schema::Value;
use tantivy::{DocId, Searcher, SegmentReader, TantivyDocument};

use super::SearchIndex;
use crate::Position;
use crate::project::{At, Result};

/// Where each ended version's window ended: keyed by the version's position, the (effective
/// instant in µs, position) of the change that ended it.
pub(super) type Closed = FxHashMap<u64, (i64, u64)>;

/// Every ended window recorded in the committed documents of `searcher`.
pub(super) fn closed_in(searcher: &Searcher) -> Result<Closed> {
    let mut closed = Closed::default();
    for segment in searcher.segment_readers() {
        let columns = segment.fast_fields();
        let closes = columns.u64("closes")?.first_or_default_col(0);
        let pos_from = columns.u64("pos_from")?.first_or_default_col(0);
        let eff_from = columns.i64("eff_from")?.first_or_default_col(0);
        for doc in 0..segment.max_doc() {
            let ended = closes.get_val(doc);
            if ended != 0 {
                closed.insert(ended, (eff_from.get_val(doc), pos_from.get_val(doc)));
            }
        }
    }
    Ok(closed)
}

/// The instant a read is at, in the index's units, with the windows that ended.
pub(super) struct Window<'a> {
    as_of: i64,
    basis: u64,
    closed: &'a Closed,
}

impl<'a> Window<'a> {
    /// A read at `at` of an index committed up to `checkpoint`: a basis past the checkpoint
    /// (or none) reads the checkpoint.
    pub(super) fn new(at: At, checkpoint: Position, closed: &'a Closed) -> Window<'a> {
        Window {
            as_of: at.as_of.map_or(i64::MAX, |t| t.timestamp_micros()),
            basis: at.basis.map_or(checkpoint, |b| b.min(checkpoint)).get(),
            closed,
        }
    }

    /// This window's test, for one segment.
    pub(super) fn segment(&self, segment: &SegmentReader) -> Result<SegmentWindow<'_>> {
        let columns = segment.fast_fields();
        Ok(SegmentWindow {
            window: self,
            pos_from: columns.u64("pos_from")?.first_or_default_col(0),
            eff_from: columns.i64("eff_from")?.first_or_default_col(i64::MAX),
            public: columns.u64("public")?.first_or_default_col(0),
            alive: segment.alive_bitset().cloned(),
        })
    }
}

/// A window's test over one segment's fast fields.
pub(super) struct SegmentWindow<'a> {
    window: &'a Window<'a>,
    pos_from: std::sync::Arc<dyn ColumnValues<u64>>,
    eff_from: std::sync::Arc<dyn ColumnValues<i64>>,
    public: std::sync::Arc<dyn ColumnValues<u64>>,
    alive: Option<AliveBitSet>,
}

impl SegmentWindow<'_> {
    /// The position of `doc`'s version: ties in score or date rank the later first.
    pub(super) fn position(&self, doc: DocId) -> u64 {
        self.pos_from.get_val(doc)
    }

    /// Whether the read sees `doc`.
    pub(super) fn sees(&self, doc: DocId) -> bool {
        let w = self.window;
        let from = self.pos_from.get_val(doc);
        if from > w.basis || self.public.get_val(doc) != 1 || self.eff_from.get_val(doc) > w.as_of {
            return false;
        }
        if self.alive.as_ref().is_some_and(|a| a.is_deleted(doc)) {
            return false;
        }
        match w.closed.get(&from) {
            None => true,
            Some(&(eff_to, pos_to)) => pos_to > w.basis || eff_to > w.as_of,
        }
    }
}

impl SearchIndex {
    /// Every public document's (key, window), sorted: what "identical indexes" compares.
    pub fn dump(&self) -> Result<Vec<String>> {
        let served = self.served();
        let f = self.fields;
        let mut out = Vec::new();
        for (segment_ord, segment) in served.searcher.segment_readers().iter().enumerate() {
            let columns = segment.fast_fields();
            let eff_from = columns.i64("eff_from")?.first_or_default_col(0);
            let pos_from = columns.u64("pos_from")?.first_or_default_col(0);
            let public = columns.u64("public")?.first_or_default_col(0);
            for doc_id in segment.doc_ids_alive().filter(|&d| public.get_val(d) == 1) {
                let doc: TantivyDocument =
                    served.searcher.doc(tantivy::DocAddress::new(segment_ord as u32, doc_id))?;
                let article =
                    doc.get_first(f.article).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                let version = doc.get_first(f.version).and_then(|v| v.as_u64()).unwrap_or(0);
                let from = pos_from.get_val(doc_id);
                let (eff_to, pos_to) = served.closed.get(&from).copied().unzip();
                let line = format!(
                    "{article} v{version} eff[{},{eff_to:?}) pos[{from},{pos_to:?}) {}",
                    eff_from.get_val(doc_id),
                    doc.get_first(f.headline).and_then(|v| v.as_str()).unwrap_or_default()
                );
                out.push(line);
            }
        }
        out.sort();
        Ok(out)
    }
}
