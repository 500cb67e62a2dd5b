//! The documents a read sees, as a set per segment, and as a query clause that scores 0: put
//! beside a phrase, it leads the intersection, so positions are checked only on the versions
//! the read sees rather than on every version a broad phrase's words share.

use std::fmt;
use std::sync::Arc;

use tantivy::query::{
    BitSetDocSet, BooleanQuery, BoostQuery, ConstScorer, EnableScoring, Explanation, Occur, PhraseQuery,
    Query, Scorer, Weight,
};
use tantivy::{BitSet, DocId, Score, Searcher, SegmentReader};

use super::window::Window;
use crate::project::Result;

/// The documents a read sees, one set per segment of a searcher, in its order.
#[derive(Clone)]
pub(super) struct Visible {
    sets: Arc<Vec<(tantivy::index::SegmentId, BitSet)>>,
}

impl fmt::Debug for Visible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Visible({} segments)", self.sets.len())
    }
}

impl Visible {
    /// Tests every document of `searcher` against `window`.
    pub(super) fn of(searcher: &Searcher, window: &Window<'_>) -> Result<Visible> {
        let mut sets = Vec::with_capacity(searcher.segment_readers().len());
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let sees = window.segment(ord, segment)?;
            let mut set = BitSet::with_max_value(segment.max_doc());
            for doc in (0..segment.max_doc()).filter(|&d| sees.sees(d)) {
                set.insert(doc);
            }
            sets.push((segment.segment_id(), set));
        }
        Ok(Visible { sets: Arc::new(sets) })
    }

    /// `query` with every phrase (and every boosted clause, which is how the parser wraps a
    /// field's phrase) required to be in this set. Scores are unchanged: the set scores 0.
    pub(super) fn around_phrases(&self, query: &dyn Query) -> Box<dyn Query> {
        if let Some(boolean) = query.downcast_ref::<BooleanQuery>() {
            let clauses =
                boolean.clauses().iter().map(|(occur, q)| (*occur, self.around_phrases(&**q))).collect();
            return Box::new(BooleanQuery::new(clauses));
        }
        if query.is::<PhraseQuery>() || query.is::<BoostQuery>() {
            return Box::new(BooleanQuery::new(vec![
                (Occur::Must, query.box_clone()),
                (Occur::Must, Box::new(self.clone())),
            ]));
        }
        query.box_clone()
    }
}

impl Query for Visible {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for Visible {
    fn scorer(&self, reader: &SegmentReader, _boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let set = self
            .sets
            .iter()
            .find(|(id, _)| *id == reader.segment_id())
            .map_or_else(|| BitSet::with_max_value(reader.max_doc()), |(_, set)| set.clone());
        Ok(Box::new(ConstScorer::new(BitSetDocSet::from(set), 0.0)))
    }

    fn explain(&self, _reader: &SegmentReader, _doc: DocId) -> tantivy::Result<Explanation> {
        Ok(Explanation::new("seen at the read's instant", 0.0))
    }
}
