//! Validity windows, kept outside the inverted index so that no text is indexed twice.
//!
//! A document is indexed once, when its version is written, with where its window opens
//! (`pos_from`, `eff_from`). The window closes at the article's next change; that closing is
//! recorded by the next document of the article (its `closes` field names the version it ends:
//! a new version, or a text-less marker when the article stopped being public). In memory,
//! [`Closed`] holds where each ended version ended, rebuilt from those fields at open.
//!
//! A read at (`as_of`, `basis`) sees the document where `from <= (as_of, basis)` in both clocks
//! and the end is past it in at least one, or there is no end yet.

use std::sync::Arc;

use tantivy::columnar::ColumnValues;
use tantivy::fastfield::AliveBitSet;
use tantivy::schema::{Field, Value};
use tantivy::{DocId, Searcher, SegmentReader, TantivyDocument};

use super::SearchIndex;
use crate::Position;
use crate::project::{At, Result};

/// Where each ended version's window ended: for the version at position `p`, the position and
/// the effective instant (µs) of the change that ended it. Dense arrays indexed by position (16
/// bytes per event of the log), because every candidate of a search is tested against them:
/// a lookup is one load, usually from the cache line of the previous candidate's.
#[derive(Default)]
pub(super) struct Closed {
    /// End position by version position; 0 while open.
    pos_to: Vec<u64>,
    /// End effective instant by version position.
    eff_to: Vec<i64>,
    /// By version position, whether the end lies ahead of when it was recorded (a change
    /// scheduled ahead): a read of the present sees the version until that instant.
    ahead: Vec<bool>,
}

impl Closed {
    /// Records that the version at `from` ended at (`eff`, `pos`), an instant that lies ahead
    /// of the ending's recording when `ahead`.
    pub(super) fn insert(&mut self, from: u64, (eff, pos, ahead): (i64, u64, bool)) {
        let i = from as usize;
        if i >= self.pos_to.len() {
            let len = (i + 1).max(self.pos_to.len() * 5 / 4);
            self.pos_to.resize(len, 0);
            self.eff_to.resize(len, 0);
            self.ahead.resize(len, false);
        }
        self.pos_to[i] = pos;
        self.eff_to[i] = eff;
        self.ahead[i] = ahead;
    }

    /// Where the version at `from` ended, if it has.
    pub(super) fn get(&self, from: u64) -> Option<(i64, u64)> {
        let i = usize::try_from(from).ok()?;
        match self.pos_to.get(i) {
            Some(&pos) if pos != 0 => Some((self.eff_to[i], pos)),
            _ => None,
        }
    }

    fn pos_to(&self, from: u64) -> u64 {
        self.pos_to.get(from as usize).copied().unwrap_or(0)
    }
}

impl Extend<(u64, (i64, u64, bool))> for Closed {
    fn extend<T: IntoIterator<Item = (u64, (i64, u64, bool))>>(&mut self, iter: T) {
        for (from, end) in iter {
            self.insert(from, end);
        }
    }
}

/// Every ended window recorded in the committed documents of `searcher`.
pub(super) fn closed_in(searcher: &Searcher) -> Result<Closed> {
    let mut closed = Closed::default();
    for segment in searcher.segment_readers() {
        let columns = segment.fast_fields();
        let closes = columns.u64("closes")?.first_or_default_col(0);
        let pos_from = columns.u64("pos_from")?.first_or_default_col(0);
        let closes_at = columns.i64("closes_at")?.first_or_default_col(0);
        let public = columns.u64("public")?.first_or_default_col(0);
        for doc in 0..segment.max_doc() {
            let ended = closes.get_val(doc);
            if ended != 0 {
                // The text of a change scheduled ahead (3) ends the version before at its instant.
                let ahead = public.get_val(doc) == 3;
                closed.insert(ended, (closes_at.get_val(doc), pos_from.get_val(doc), ahead));
            }
        }
    }
    Ok(closed)
}

/// Set in an opening's position when the document is not a version's text (only the mark
/// that ends a window): no read sees it.
const NOT_TEXT: u64 = 1 << 63;

/// Where each document of one segment opens its window, read once per segment (segments never
/// change) into plain arrays: the test on every candidate is then two loads. With the
/// segment's range of positions and its token counts, for statistics at a basis (`stats`).
pub(super) struct Openings {
    segment: tantivy::index::SegmentId,
    /// Position by document, with [`NOT_TEXT`] set for marks.
    pos_from: Vec<u64>,
    /// Effective instant (µs) by document.
    eff_from: Vec<i64>,
    /// The lowest and highest position of the segment's documents.
    range: (u64, u64),
    /// Tokens of each field with norms, summed over the documents' field norms.
    tokens: Vec<(Field, u64)>,
    /// By document, whether it is a publication scheduled at its opening (empty when the
    /// segment has none).
    scheduled: Vec<bool>,
}

impl Openings {
    /// The position of `doc`'s event (a version's or a mark's).
    pub(super) fn position(&self, doc: DocId) -> u64 {
        self.pos_from.get(doc as usize).map_or(u64::MAX, |p| p & !NOT_TEXT)
    }

    /// Whether `doc` is a publication scheduled at its opening.
    pub(super) fn is_scheduled(&self, doc: DocId) -> bool {
        self.scheduled.get(doc as usize).copied().unwrap_or(false)
    }

    /// The lowest position in the segment.
    pub(super) fn first(&self) -> u64 {
        self.range.0
    }

    /// The highest position in the segment.
    pub(super) fn last(&self) -> u64 {
        self.range.1
    }

    /// The tokens of `field` in the segment (field norms summed).
    pub(super) fn tokens(&self, field: Field) -> u64 {
        self.tokens.iter().find(|(f, _)| *f == field).map_or(0, |(_, n)| *n)
    }
}

/// The openings of every segment of `searcher`, reusing those of `previous` that it still has.
pub(super) fn openings(searcher: &Searcher, previous: &[Arc<Openings>]) -> Result<Vec<Arc<Openings>>> {
    let mut out = Vec::with_capacity(searcher.segment_readers().len());
    for segment in searcher.segment_readers() {
        let id = segment.segment_id();
        if let Some(known) = previous.iter().find(|o| o.segment == id) {
            out.push(known.clone());
            continue;
        }
        let columns = segment.fast_fields();
        let pos = dense(columns.u64("pos_from")?, 0);
        let eff = dense(columns.i64("eff_from")?, i64::MAX);
        let public = dense(columns.u64("public")?, 0);
        let docs = segment.max_doc();
        // `public`: 0 for a mark, 1 for a version's text, 2 or 3 for one that opens at a later
        // instant.
        let pos_from: Vec<u64> = (0..docs)
            .map(|d| if public.get_val(d) >= 1 { pos.get_val(d) } else { pos.get_val(d) | NOT_TEXT })
            .collect();
        let mut scheduled: Vec<bool> = (0..docs).map(|d| public.get_val(d) >= 2).collect();
        if !scheduled.iter().any(|&s| s) {
            scheduled = Vec::new();
        }
        let eff_from = (0..docs).map(|d| eff.get_val(d)).collect();
        let plain = pos_from.iter().map(|p| p & !NOT_TEXT);
        let range = plain.fold((u64::MAX, 0), |(lo, hi), p| (lo.min(p), hi.max(p)));
        // Every field with norms (the text fields, and the keywords a query may name).
        let mut tokens = Vec::new();
        for (field, _) in searcher.schema().fields() {
            if let Some(norms) = segment.fieldnorms_readers().get_field(field)? {
                tokens.push((field, (0..docs).map(|d| u64::from(norms.fieldnorm(d))).sum()));
            }
        }
        out.push(Arc::new(Openings { segment: id, pos_from, eff_from, range, tokens, scheduled }));
    }
    Ok(out)
}

/// The instant a read is at, in the index's units, with the windows that ended.
pub(super) struct Window<'a> {
    as_of: i64,
    /// The instant a read of the present is made: a publication scheduled for later is not
    /// seen before its instant.
    now: i64,
    basis: u64,
    closed: &'a Closed,
    openings: &'a [Arc<Openings>],
    hidden: &'a std::collections::HashSet<u64>,
}

impl<'a> Window<'a> {
    /// A read at `at` of an index committed up to `checkpoint`: a basis past the checkpoint
    /// (or none) reads the checkpoint. `openings` are those of the searcher's segments, in
    /// order.
    pub(super) fn new(
        at: At,
        checkpoint: Position,
        closed: &'a Closed,
        openings: &'a [Arc<Openings>],
        hidden: &'a super::Hidden,
    ) -> Window<'a> {
        Window {
            as_of: at.as_of.map_or(i64::MAX, |t| t.timestamp_micros()),
            now: chrono::Utc::now().timestamp_micros(),
            basis: at.basis.map_or(checkpoint, |b| b.min(checkpoint)).get(),
            closed,
            openings,
            hidden: &hidden.0,
        }
    }

    /// Whether a document of `searcher` opens after this read's instant (a publication
    /// scheduled for later): a set of what the read sees then goes stale as time passes.
    pub(super) fn sees_later_openings(&self) -> bool {
        let now = if self.as_of == i64::MAX { self.now } else { self.as_of };
        self.openings.iter().any(|o| {
            o.scheduled.iter().enumerate().any(|(d, &s)| s && o.eff_from.get(d).is_some_and(|&e| e > now))
        })
    }

    /// The basis the read is at (a position).
    pub(super) fn basis(&self) -> u64 {
        self.basis
    }

    /// This window's test, for the segment at `ord`.
    pub(super) fn segment(&self, ord: usize, segment: &SegmentReader) -> Result<SegmentWindow<'_>> {
        let open = self.openings.get(ord).filter(|o| o.segment == segment.segment_id()).ok_or_else(|| {
            crate::project::Error::Corrupt("search: a segment without its window openings".into())
        })?;
        Ok(SegmentWindow { window: self, open, alive: segment.alive_bitset().cloned() })
    }
}

/// A column's values by document: read directly when every document has one (they all do
/// here), which skips the row lookup of a column that may have gaps.
fn dense<T: tantivy::columnar::MonotonicallyMappableToU64 + std::fmt::Debug + Default>(
    column: tantivy::columnar::Column<T>,
    default: T,
) -> Arc<dyn ColumnValues<T>> {
    if column.get_cardinality() == tantivy::columnar::Cardinality::Full {
        column.values
    } else {
        column.first_or_default_col(default)
    }
}

/// A window's test over one segment.
pub(super) struct SegmentWindow<'a> {
    window: &'a Window<'a>,
    open: &'a Openings,
    alive: Option<AliveBitSet>,
}

impl SegmentWindow<'_> {
    /// The position of `doc`'s version: ties in score or date rank the later first.
    pub(super) fn position(&self, doc: DocId) -> u64 {
        self.open.position(doc)
    }

    /// Whether the read sees `doc`. Cheapest and most selective tests first: most candidates
    /// of a broad query are versions that have since ended.
    pub(super) fn sees(&self, doc: DocId) -> bool {
        let w = self.window;
        // A mark's position has the top bit set, so it is always past the basis.
        let Some(&from) = self.open.pos_from.get(doc as usize) else { return false };
        if from > w.basis {
            return false;
        }
        let ended = w.closed.pos_to(from);
        if ended != 0 && ended <= w.basis {
            // Ended as far as the basis knows: seen only if it ended after `as_of`. A read of
            // the present sees a version whose end was scheduled ahead until that instant.
            let t = match w.as_of {
                i64::MAX if w.closed.ahead[from as usize] => w.now,
                i64::MAX => i64::MAX,
                as_of => as_of,
            };
            if w.closed.eff_to[from as usize] <= t {
                return false;
            }
        }
        let opens = self.open.eff_from[doc as usize];
        if w.as_of != i64::MAX && opens > w.as_of {
            return false;
        }
        if w.as_of == i64::MAX && opens > w.now && self.open.is_scheduled(doc) {
            return false;
        }
        if !w.hidden.is_empty() && w.hidden.contains(&from) {
            return false;
        }
        !self.alive.as_ref().is_some_and(|a| a.is_deleted(doc))
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
            for doc_id in segment.doc_ids_alive().filter(|&d| public.get_val(d) >= 1) {
                let doc: TantivyDocument =
                    served.searcher.doc(tantivy::DocAddress::new(segment_ord as u32, doc_id))?;
                let article =
                    doc.get_first(f.article).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                let version = doc.get_first(f.version).and_then(|v| v.as_u64()).unwrap_or(0);
                let from = pos_from.get_val(doc_id);
                let (eff_to, pos_to) = served.closed.get(from).unzip();
                let line = format!(
                    "{article} v{version} eff[{},{eff_to:?}) pos[{from},{pos_to:?})",
                    eff_from.get_val(doc_id)
                );
                out.push(line);
            }
        }
        out.sort();
        Ok(out)
    }
}
