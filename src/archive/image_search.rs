//! Finding images by their words: the articles whose images' captions, credits or alt texts
//! match (the search index's `caption:` field, at the reading's instant), then each image
//! those articles show whose own words match, under the reader rule for images.

use std::collections::HashSet;

use super::{Archive, ImageReading, Reading, SearchRequest, Snapshot};
use crate::Result;
use crate::domain::{Image, ImageId};
use crate::project::search::query::stems;

/// The most articles an image search looks through.
const ARTICLES_SCANNED: usize = 100;

impl Archive {
    /// Images whose caption, credit or alt text (or a placement's own caption or credit)
    /// matches `query`'s words, as the reader may see them at the reading: at most `first`,
    /// in the order of the articles that show them (best match first).
    pub fn images_matching(
        &self,
        reading: &Reading,
        query: &str,
        first: usize,
    ) -> Result<Vec<Snapshot<Image>>> {
        let words = stems(query);
        if words.is_empty() || first == 0 {
            return Ok(Vec::new());
        }
        let request = SearchRequest {
            query: format!("caption:({query})"),
            first: ARTICLES_SCANNED,
            skip_facets: true,
            skip_snippets: true,
            skip_total: true,
            ..Default::default()
        };
        let results = self.search(reading, request)?;
        let mut seen: HashSet<ImageId> = HashSet::new();
        let mut out = Vec::new();
        for hit in results.hits {
            let Some(article) = self.article(reading, hit.article)? else { continue };
            for placement in &article.state.images {
                if out.len() >= first {
                    return Ok(out);
                }
                if seen.contains(&placement.image_id) {
                    continue;
                }
                let ImageReading::Found(snap) = self.image(reading, placement.image_id)? else { continue };
                let i = &snap.state;
                let texts = [
                    placement.caption.as_deref(),
                    placement.credit.as_deref(),
                    i.caption.as_deref(),
                    i.credit.as_deref(),
                    i.alt.as_deref(),
                ];
                let own: HashSet<String> = texts.into_iter().flatten().flat_map(stems).collect();
                if words.iter().any(|w| own.contains(w)) {
                    seen.insert(placement.image_id);
                    out.push(*snap);
                }
            }
        }
        Ok(out)
    }
}
