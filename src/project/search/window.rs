//! Validity windows: which documents a read at (`as_of`, `basis`) sees, and the dump of every
//! live document's window that "identical indexes" compares.

use std::ops::Bound;

use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{TantivyDocument, Term};

use super::{OPEN, OPEN_I, SearchIndex};
use crate::project::{At, Result};

impl SearchIndex {
    /// The clauses that keep only the documents valid at `at`.
    pub(super) fn window(&self, at: At) -> Vec<(Occur, Box<dyn Query>)> {
        let f = self.fields;
        if at == At::default() {
            return vec![(
                Occur::Must,
                Box::new(TermQuery::new(Term::from_field_u64(f.current, 1), IndexRecordOption::Basic)),
            )];
        }
        let as_of = at.as_of.map_or(OPEN_I - 1, |t| t.timestamp_micros());
        let basis = at.basis.map_or(OPEN - 1, |p| p.get());
        let i64_range = |field, lower: Bound<i64>, upper: Bound<i64>| -> Box<dyn Query> {
            Box::new(RangeQuery::new(
                lower.map(|v| Term::from_field_i64(field, v)),
                upper.map(|v| Term::from_field_i64(field, v)),
            ))
        };
        let u64_range = |field, lower: Bound<u64>, upper: Bound<u64>| -> Box<dyn Query> {
            Box::new(RangeQuery::new(
                lower.map(|v| Term::from_field_u64(field, v)),
                upper.map(|v| Term::from_field_u64(field, v)),
            ))
        };
        let ended_later: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
            (Occur::Should, i64_range(f.eff_to, Bound::Excluded(as_of), Bound::Unbounded)),
            (Occur::Should, u64_range(f.pos_to, Bound::Excluded(basis), Bound::Unbounded)),
        ]));
        vec![
            (Occur::Must, i64_range(f.eff_from, Bound::Unbounded, Bound::Included(as_of))),
            (Occur::Must, u64_range(f.pos_from, Bound::Unbounded, Bound::Included(basis))),
            (Occur::Must, ended_later),
        ]
    }

    /// Every live document's (key, window), sorted: what "identical indexes" compares.
    pub fn dump(&self) -> Result<Vec<String>> {
        let searcher = self.reader.searcher();
        let f = self.fields;
        let mut out = Vec::new();
        for (segment_ord, segment) in searcher.segment_readers().iter().enumerate() {
            let columns = segment.fast_fields();
            let eff_from = columns.i64("eff_from")?;
            let eff_to = columns.i64("eff_to")?;
            let pos_from = columns.u64("pos_from")?;
            let pos_to = columns.u64("pos_to")?;
            for doc_id in segment.doc_ids_alive() {
                let doc: TantivyDocument =
                    searcher.doc(tantivy::DocAddress::new(segment_ord as u32, doc_id))?;
                let article =
                    doc.get_first(f.article).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                let version = doc.get_first(f.version).and_then(|v| v.as_u64()).unwrap_or(0);
                let line = format!(
                    "{article} v{version} eff[{:?},{:?}) pos[{:?},{:?}) {}",
                    eff_from.first(doc_id),
                    eff_to.first(doc_id),
                    pos_from.first(doc_id),
                    pos_to.first(doc_id),
                    doc.get_first(f.headline).and_then(|v| v.as_str()).unwrap_or_default()
                );
                out.push(line);
            }
        }
        out.sort();
        Ok(out)
    }
}
