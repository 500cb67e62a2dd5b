//! The read side of the search index: the reader's query parsed and filtered, then run
//! inside the read's window (`window`, `visible`, `collect`), with snippets made from the
//! views.

use std::ops::Bound;

use chrono::{DateTime, Utc};
use tantivy::collector::FacetCollector;
use tantivy::query::{BooleanQuery, EnableScoring, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{TantivyDocument, Term};

use super::query::published_in_micros;
use super::window::Window;
use super::{Hit, SearchIndex, SearchRequest, SearchResults, Snippet, Sort, collect, visible};
use crate::Position;
use crate::project::views::Views;
use crate::project::{At, Error, Result};

impl SearchIndex {
    fn parser(&self) -> QueryParser {
        let f = &self.fields;
        let mut parser = QueryParser::for_index(&self.index, vec![f.headline, f.summary, f.body, f.author]);
        parser.set_conjunction_by_default();
        parser.set_field_boost(f.headline, 3.0);
        parser.set_field_boost(f.summary, 1.5);
        parser
    }

    /// The reader's query, parsed (for snippets), and the whole query with its filters (for
    /// matching). The window is not a clause: it is tested on candidates, so a plain query
    /// keeps Tantivy's block-max pruning.
    fn query_of(&self, request: &SearchRequest) -> Result<(Box<dyn Query>, Box<dyn Query>)> {
        let f = self.fields;
        let parsed = if request.query.trim().is_empty() {
            // Every public version (1; 2 or 3 when it opens at a later instant), all scoring 1
            // (so the later version ranks first).
            let is = |v: u64| -> Box<dyn Query> {
                Box::new(TermQuery::new(Term::from_field_u64(f.public, v), IndexRecordOption::Basic))
            };
            let public = BooleanQuery::new(vec![
                (Occur::Should, is(1)),
                (Occur::Should, is(2)),
                (Occur::Should, is(3)),
            ]);
            Box::new(tantivy::query::ConstScoreQuery::new(Box::new(public), 1.0)) as Box<dyn Query>
        } else {
            let query = published_in_micros(&request.query)?;
            self.parser().parse_query(&query).map_err(|e| Error::Query(e.to_string()))?
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let term = |field, text: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::Basic))
        };
        if let Some(section) = &request.section {
            clauses.push((Occur::Must, term(f.section, &section.to_lowercase())));
        }
        if let Some(author) = &request.author_id {
            clauses.push((Occur::Must, term(f.author_id, &author.to_string())));
        }
        if let Some(tag) = &request.tag {
            clauses.push((Occur::Must, term(f.tag, &tag.to_lowercase())));
        }
        if request.published_from.is_some() || request.published_to.is_some() {
            let date = |d: DateTime<Utc>| Term::from_field_i64(f.published, d.timestamp_micros());
            let lower = request.published_from.map_or(Bound::Unbounded, |d| Bound::Included(date(d)));
            let upper = request.published_to.map_or(Bound::Unbounded, |d| Bound::Excluded(date(d)));
            clauses.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
        }
        if clauses.is_empty() {
            let query = parsed.box_clone();
            return Ok((parsed, query));
        }
        clauses.insert(0, (Occur::Must, parsed.box_clone()));
        Ok((parsed, Box::new(BooleanQuery::new(clauses))))
    }

    /// Runs a search; snippets are made from the versions' text in `views`.
    pub fn search(&self, request: &SearchRequest, views: &Views) -> Result<SearchResults> {
        let f = self.fields;
        let (parsed, query) = self.query_of(request)?;
        let served = self.served();
        let searcher = &served.searcher;
        let window =
            Window::new(request.at, served.checkpoint, &served.closed, &served.openings, &request.hidden);
        // Statistics as of the read's basis: the same on every node that holds the log that far.
        let stats = super::stats::AtBasis::new(searcher, &served.openings, window.basis());
        let scoring = match request.sort {
            Sort::Relevance => EnableScoring::enabled_from_statistics_provider(&stats, searcher),
            Sort::Date => EnableScoring::disabled_from_searcher(searcher),
        };
        // A phrase checks positions on every document holding its words: only on those the
        // read sees, then.
        let query = if request.query.contains('"') {
            let present =
                request.at.as_of.is_none() && request.at.basis.is_none_or(|b| b >= served.checkpoint);
            let seen = match served.present.get() {
                Some(seen) if present => seen.clone(),
                _ => {
                    // Taken-down versions are left out by the collectors' window test; this set
                    // keeps them, so that one cached set serves every reader.
                    let everyone = super::Hidden::default();
                    let superset = Window::new(
                        request.at,
                        served.checkpoint,
                        &served.closed,
                        &served.openings,
                        &everyone,
                    );
                    let seen = visible::Visible::of(searcher, &superset)?;
                    // A publication scheduled for later would join the set at its instant:
                    // keep no set while one is pending.
                    if present && !superset.sees_later_openings() {
                        // Another search may have made it meanwhile: either is the same set.
                        let _ = served.present.set(seen.clone());
                    }
                    seen
                }
            };
            seen.around_phrases(&*query)
        } else {
            query
        };
        let weight = query.weight(scoring).map_err(query_error)?;

        let facets = (!request.skip_facets).then(|| {
            let mut facets = FacetCollector::for_field("facets");
            for root in ["/section", "/year", "/author"] {
                facets.add_facet(root);
            }
            facets
        });
        let k = request.offset.saturating_add(request.first.max(1));
        let rank = match request.sort {
            Sort::Relevance => collect::Rank::Score,
            Sort::Date => collect::Rank::Date,
        };
        // Counting visits every match anyway, so it ranks in the same pass; without a count,
        // ranking by score prunes.
        type Found = Vec<(f32, tantivy::DocAddress, u64)>;
        let (gathered, hits): (Option<collect::Gathered>, Found) =
            if request.skip_total && facets.is_none() && request.sort == Sort::Relevance {
                let top = collect::top_by_score(searcher, &*weight, &window, k)?;
                (None, top.into_iter().map(|r| (r.key, r.address, r.position)).collect())
            } else {
                let mut g = collect::gather(searcher, &*weight, &window, facets, false, Some((rank, k)))?;
                let hits = match request.sort {
                    Sort::Relevance => std::mem::take(&mut g.by_score)
                        .into_iter()
                        .map(|r| (r.key, r.address, r.position))
                        .collect(),
                    Sort::Date => std::mem::take(&mut g.by_date)
                        .into_iter()
                        .map(|r| (0.0, r.address, r.position))
                        .collect(),
                };
                (Some(g), hits)
            };

        let fields: &[(&str, Field)] = if request.skip_snippets {
            &[]
        } else {
            &[("headline", f.headline), ("summary", f.summary), ("body", f.body)]
        };
        let generators = fields
            .iter()
            .copied()
            .map(|(name, field)| {
                let chars = if name == "body" { 240 } else { 400 };
                Ok((name, stats.snippets(&*parsed, field, chars)?))
            })
            .collect::<Result<Vec<_>>>()?;
        let texts = if generators.is_empty() { None } else { Some(views.read()?) };
        let mut out = Vec::with_capacity(hits.len());
        for (score, address, position) in hits.into_iter().skip(request.offset) {
            let doc: TantivyDocument = searcher.doc(address)?;
            let id = doc
                .get_first(f.article)
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| Error::Corrupt("search document without an article id".into()))?;
            let version = doc.get_first(f.version).and_then(|v| v.as_u64()).unwrap_or(0);
            let mut snippets = Vec::new();
            // The text as it stands at the read's instant: a change scheduled ahead that has
            // taken effect by then is in it.
            let instant = request.at.as_of.unwrap_or_else(chrono::Utc::now);
            let text = match &texts {
                Some(r) => r
                    .article(id, At { as_of: None, basis: Some(Position(position)) })?
                    .map(|s| crate::domain::Article::settled(s.state, instant)),
                None => None,
            };
            if let Some(a) = text.as_ref() {
                for (name, generator) in &generators {
                    let field = match *name {
                        "headline" => a.headline.as_str(),
                        "summary" => a.summary.as_deref().unwrap_or_default(),
                        _ => a.body.as_str(),
                    };
                    let mut snippet = generator.snippet(field);
                    if snippet.highlighted().is_empty() {
                        continue;
                    }
                    snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
                    snippets.push(Snippet { field: name, html: snippet.to_html() });
                }
            }
            out.push(Hit { article: id, version, score, snippets });
        }
        let counts = |root: &str| -> Vec<(String, u64)> {
            let Some(facet_counts) = gathered.as_ref().and_then(|g| g.facets.as_ref()) else {
                return Vec::new();
            };
            let mut v: Vec<(String, u64)> = facet_counts
                .get(root)
                .map(|(facet, count)| {
                    (facet.to_path().last().map(|s| s.to_string()).unwrap_or_default(), count)
                })
                .collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v
        };
        Ok(SearchResults {
            total: gathered.as_ref().map(|g| g.count),
            sections: counts("/section"),
            years: counts("/year"),
            authors: counts("/author"),
            hits: out,
        })
    }

    /// The publication instants (µs) of every article matching `request` at its instant:
    /// what a timeline buckets.
    pub fn published_instants(&self, request: &SearchRequest) -> Result<Vec<i64>> {
        let (_, query) = self.query_of(request)?;
        let served = self.served();
        let window =
            Window::new(request.at, served.checkpoint, &served.closed, &served.openings, &request.hidden);
        let weight =
            query.weight(EnableScoring::disabled_from_searcher(&served.searcher)).map_err(query_error)?;
        Ok(collect::gather(&served.searcher, &*weight, &window, None, true, None)?.instants)
    }
}

/// A search the index refuses for its shape (`headline:*` asks whether a field exists, which
/// only fast fields answer) is the reader's query at fault, not the index.
fn query_error(e: tantivy::TantivyError) -> Error {
    match e {
        tantivy::TantivyError::SchemaError(m) | tantivy::TantivyError::InvalidArgument(m) => Error::Query(m),
        other => Error::Tantivy(other),
    }
}
