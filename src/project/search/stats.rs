//! BM25's statistics as of a basis: over the documents of the log up to the read's basis, so
//! that a read at a basis scores alike on every node, whatever each has indexed since.
//!
//! Documents are never deleted, so these are sums over a set the log fixes. A segment wholly
//! within the basis answers from its dictionary (or from sums made once per segment); only a
//! segment holding documents on both sides of the basis is counted document by document.

use std::collections::BTreeMap;
use std::sync::Arc;

use tantivy::query::{Bm25StatisticsProvider, Query};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocSet, Score, Searcher, TERMINATED, Term};

use super::window::Openings;

/// BM25's statistics over the documents at or before `basis`.
pub(super) struct AtBasis<'a> {
    searcher: &'a Searcher,
    openings: &'a [Arc<Openings>],
    basis: u64,
}

impl<'a> AtBasis<'a> {
    /// The statistics of `searcher` (whose segments' openings are `openings`) at `basis`.
    pub(super) fn new(searcher: &'a Searcher, openings: &'a [Arc<Openings>], basis: u64) -> AtBasis<'a> {
        AtBasis { searcher, openings, basis }
    }

    fn segments(&self) -> impl Iterator<Item = (&Openings, &tantivy::SegmentReader)> {
        self.openings.iter().map(|o| o.as_ref()).zip(self.searcher.segment_readers())
    }

    /// A snippet generator for `field` whose term weights come from these statistics (Tantivy's
    /// own would use the whole index).
    pub(super) fn snippets(
        &self,
        query: &dyn Query,
        field: Field,
        chars: usize,
    ) -> tantivy::Result<SnippetGenerator> {
        let mut terms = Vec::new();
        query.query_terms(&mut |term, _| {
            if term.field() == field {
                terms.push(term.clone());
            }
        });
        let mut weights: BTreeMap<String, Score> = BTreeMap::new();
        for term in terms {
            let Some(text) = term.value().as_str().map(str::to_owned) else { continue };
            let doc_freq = self.doc_freq(&term)?;
            if doc_freq > 0 {
                weights.insert(text, 1.0 / (1.0 + doc_freq as Score));
            }
        }
        let tokenizer = self.searcher.index().tokenizer_for_field(field)?;
        Ok(SnippetGenerator::new(weights, tokenizer, field, chars))
    }
}

impl Bm25StatisticsProvider for AtBasis<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        let mut total = 0;
        for (open, segment) in self.segments() {
            if open.last() <= self.basis {
                total += open.tokens(field);
            } else if open.first() <= self.basis {
                let Some(norms) = segment.fieldnorms_readers().get_field(field)? else { continue };
                for doc in (0..segment.max_doc()).filter(|&d| open.position(d) <= self.basis) {
                    total += u64::from(norms.fieldnorm(doc));
                }
            }
        }
        Ok(total)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        let mut total = 0;
        for (open, segment) in self.segments() {
            if open.last() <= self.basis {
                total += u64::from(segment.max_doc());
            } else if open.first() <= self.basis {
                total += (0..segment.max_doc()).filter(|&d| open.position(d) <= self.basis).count() as u64;
            }
        }
        Ok(total)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        let mut total = 0;
        for (open, segment) in self.segments() {
            let index = segment.inverted_index(term.field())?;
            if open.last() <= self.basis {
                total += u64::from(index.doc_freq(term)?);
            } else if open.first() <= self.basis {
                let Some(mut postings) = index.read_postings(term, IndexRecordOption::Basic)? else {
                    continue;
                };
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    if open.position(doc) <= self.basis {
                        total += 1;
                    }
                    doc = postings.advance();
                }
            }
        }
        Ok(total)
    }
}
