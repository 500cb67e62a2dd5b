//! Collecting matches inside a read's window: the ranked top k (with Tantivy's block-max
//! pruning kept, since the window is a test on candidates, not a query clause), the newest k,
//! and the counts, facets and instants of every visible match.
//!
//! Scores are the same on every node that holds the same log: no document is ever deleted, so
//! the term statistics are sums over the same documents whatever the segments, and the top
//! hits are scored again one by one in the query's own clause order, which pruning's summing
//! does not keep. Equal scores rank the later version first.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use tantivy::collector::{Collector, FacetCollector, SegmentCollector};
use tantivy::query::Weight;
use tantivy::{DocAddress, DocSet, Score, Searcher};

use super::window::Window;
use crate::project::Result;

/// One collected document with the key it is ranked by (higher first).
#[derive(Clone, Copy, Debug)]
pub(super) struct Ranked<K> {
    /// Score or publication instant.
    pub key: K,
    /// The version's position: equal keys rank the later version first.
    pub position: u64,
    /// Where the document is.
    pub address: DocAddress,
}

trait Key: Copy {
    fn order(&self, other: &Self) -> Ordering;
}

impl Key for Score {
    fn order(&self, other: &Self) -> Ordering {
        self.total_cmp(other)
    }
}

impl Key for i64 {
    fn order(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
}

impl<K: Key> PartialEq for Ranked<K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<K: Key> Eq for Ranked<K> {}
impl<K: Key> PartialOrd for Ranked<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K: Key> Ord for Ranked<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.order(&other.key).then(self.position.cmp(&other.position))
    }
}

/// The best `k`, kept in a min-heap.
struct Best<K: Key> {
    k: usize,
    heap: BinaryHeap<Reverse<Ranked<K>>>,
}

impl<K: Key> Best<K> {
    fn new(k: usize) -> Self {
        Best { k, heap: BinaryHeap::with_capacity(k + 1) }
    }

    fn push(&mut self, item: Ranked<K>) {
        if self.heap.len() < self.k {
            self.heap.push(Reverse(item));
        } else if self.heap.peek().is_some_and(|least| item > least.0) {
            self.heap.pop();
            self.heap.push(Reverse(item));
        }
    }

    /// The key a candidate must reach to enter (ties may enter on position).
    fn least(&self) -> Option<K> {
        (self.heap.len() >= self.k).then(|| self.heap.peek().map(|r| r.0.key)).flatten()
    }

    fn into_sorted(self) -> Vec<Ranked<K>> {
        let mut v: Vec<Ranked<K>> = self.heap.into_iter().map(|r| r.0).collect();
        v.sort_by(|a, b| b.cmp(a));
        v
    }
}

/// The `k` best-scored visible documents, best first, scored in clause order.
pub(super) fn top_by_score(
    searcher: &Searcher,
    weight: &dyn Weight,
    window: &Window<'_>,
    k: usize,
) -> Result<Vec<Ranked<Score>>> {
    let mut best = Best::<Score>::new(k);
    if k == 0 {
        return Ok(Vec::new());
    }
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        let sees = window.segment(ord, segment)?;
        // The threshold carries across segments; it sits just below the k-th score so a tie
        // still reaches the heap, where the later version wins it.
        let mut threshold = best.least().map_or(Score::MIN, f32::next_down);
        weight.for_each_pruning(threshold, segment, &mut |doc, score| {
            if sees.sees(doc) {
                let address = DocAddress::new(ord as u32, doc);
                best.push(Ranked { key: score, position: sees.position(doc), address });
                threshold = best.least().map_or(Score::MIN, f32::next_down);
            }
            threshold
        })?;
    }
    // Score the hits again with the query's own scorer: block-max pruning sums a document's
    // term scores in an order that depends on the segment's history, which can move the last
    // bit of a float.
    let mut hits = best.into_sorted();
    let mut by_segment: Vec<usize> = (0..hits.len()).collect();
    by_segment.sort_by_key(|&i| (hits[i].address.segment_ord, hits[i].address.doc_id));
    let mut current: Option<(u32, Box<dyn tantivy::query::Scorer>)> = None;
    for i in by_segment {
        let DocAddress { segment_ord, doc_id } = hits[i].address;
        if current.as_ref().is_none_or(|(ord, _)| *ord != segment_ord) {
            let segment = searcher.segment_reader(segment_ord);
            current = Some((segment_ord, weight.scorer(segment, 1.0)?));
        }
        if let Some((_, scorer)) = current.as_mut()
            && (scorer.doc() == doc_id || scorer.seek(doc_id) == doc_id)
        {
            hits[i].key = scorer.score();
        }
    }
    hits.sort_by(|a, b| b.cmp(a));
    Ok(hits)
}

/// How the exhaustive pass ranks, if it does.
#[derive(Clone, Copy)]
pub(super) enum Rank {
    /// By score (the weight must score).
    Score,
    /// By the `published` fast field.
    Date,
}

/// What a pass over every visible match gathers.
#[derive(Default)]
pub(super) struct Gathered {
    /// Matches in all.
    pub count: u64,
    /// Facet counts, when asked for.
    pub facets: Option<tantivy::collector::FacetCounts>,
    /// Publication instants (µs), when asked for.
    pub instants: Vec<i64>,
    /// The best `k` by score, when ranked by score.
    pub by_score: Vec<Ranked<Score>>,
    /// The newest `k`, when ranked by date.
    pub by_date: Vec<Ranked<i64>>,
}

/// One pass over every visible match: counts them, gathers `facets` and publication instants
/// when asked, and keeps the best `k` by `rank`. Only visible matches are scored.
pub(super) fn gather(
    searcher: &Searcher,
    weight: &dyn Weight,
    window: &Window<'_>,
    facets: Option<FacetCollector>,
    instants: bool,
    rank: Option<(Rank, usize)>,
) -> Result<Gathered> {
    let mut out = Gathered::default();
    let mut by_score =
        matches!(rank, Some((Rank::Score, _))).then(|| Best::<Score>::new(rank.map_or(0, |r| r.1)));
    let mut by_date =
        matches!(rank, Some((Rank::Date, _))).then(|| Best::<i64>::new(rank.map_or(0, |r| r.1)));
    let mut fruits = Vec::new();
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        let sees = window.segment(ord, segment)?;
        let mut child = facets.as_ref().map(|f| f.for_segment(ord as u32, segment)).transpose()?;
        let published = (instants || by_date.is_some())
            .then(|| segment.fast_fields().column_opt::<i64>("published"))
            .transpose()?
            .flatten();
        let mut scorer = weight.scorer(segment, 1.0)?;
        let mut doc = scorer.doc();
        while doc != tantivy::TERMINATED {
            if sees.sees(doc) {
                out.count += 1;
                if let Some(child) = child.as_mut() {
                    child.collect(doc, 0.0);
                }
                let at = published.as_ref().and_then(|c| c.first(doc));
                if let (true, Some(at)) = (instants, at) {
                    out.instants.push(at);
                }
                let address = DocAddress::new(ord as u32, doc);
                if let Some(best) = by_score.as_mut() {
                    best.push(Ranked { key: scorer.score(), position: sees.position(doc), address });
                }
                if let Some(best) = by_date.as_mut() {
                    best.push(Ranked { key: at.unwrap_or(i64::MIN), position: sees.position(doc), address });
                }
            }
            doc = scorer.advance();
        }
        if let Some(child) = child {
            fruits.push(child.harvest());
        }
    }
    if let Some(f) = facets {
        out.facets = Some(f.merge_fruits(fruits)?);
    }
    out.by_score = by_score.map(Best::into_sorted).unwrap_or_default();
    out.by_date = by_date.map(Best::into_sorted).unwrap_or_default();
    Ok(out)
}
