//! Finding images by their words: the newest images (up to [`IMAGES_SCANNED`]) as the reader
//! may see them at the reading, whose caption, credit or alt text as they stood then holds one
//! of the query's words (as the search index analyses words: lowercased and stemmed).
//!
//! The images are read through the reader rule one by one, rather than from the article
//! index: an article's indexed text cannot follow its images' captions as they change, are
//! retired or are taken down, and a reader must find only what was public at the instant.

use std::collections::HashSet;

use super::{Archive, ImageReading, Reading, Snapshot};
use crate::Result;
use crate::domain::Image;
use crate::project::search::query::stems;

/// The most images an image search looks through, newest first.
pub const IMAGES_SCANNED: usize = 10_000;

impl Archive {
    /// Images whose caption, credit or alt text at the reading holds one of `query`'s words,
    /// among those the reader may see then: at most `first`, newest first.
    pub fn images_matching(
        &self,
        reading: &Reading,
        query: &str,
        first: usize,
    ) -> Result<Vec<Snapshot<Image>>> {
        super::limits::check_query_text(query)?;
        let words = stems(query);
        if words.is_empty() || first == 0 {
            return Ok(Vec::new());
        }
        let ids = self.projections_or_err()?.views().read()?.newest_images(IMAGES_SCANNED)?;
        let mut out = Vec::new();
        for id in ids {
            let ImageReading::Found(snap) = self.image(reading, id)? else { continue };
            let i = &snap.state;
            let texts = [i.caption.as_deref(), i.credit.as_deref(), i.alt.as_deref()];
            let own: HashSet<String> = texts.into_iter().flatten().flat_map(stems).collect();
            if words.iter().any(|w| own.contains(w)) {
                out.push(*snap);
                if out.len() >= first {
                    break;
                }
            }
        }
        Ok(out)
    }
}
