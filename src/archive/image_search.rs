//! Finding images by their words: the newest images (up to [`IMAGES_SCANNED`]) as the reader
//! may see them at the reading, whose caption, credit or alt text as they stood then holds one
//! of the query's words (as the search index analyses words: lowercased and stemmed).
//!
//! The images are read through the reader rule one by one, rather than from the article
//! index: an article's indexed text cannot follow its images' captions as they change, are
//! retired or are taken down, and a reader must find only what was public at the instant.
//! An article search's `caption:` clauses are answered the same way, then joined to the
//! articles whose version at the instant places one of the images found.

use std::collections::HashSet;

use super::{Archive, ImageReading, Reading, Snapshot};
use crate::domain::Image;
use crate::project::search::query::join_captions;
use crate::project::search::query::stems;
use crate::{Error, Result};

/// The most images an image search looks through, newest first.
pub const IMAGES_SCANNED: usize = 10_000;
/// The most images one `caption:` clause of an article search joins to.
pub const CAPTION_IMAGES: usize = 1_000;
/// The most `caption:` clauses one article search may hold (LIMIT beyond).
pub const CAPTION_CLAUSES: usize = 4;

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
        self.images_where(reading, first, &stems(query))
    }

    /// The article query `query` with its `caption:` clauses joined to the images that answer
    /// them (see [`join_captions`]): for each clause, the images (up to [`CAPTION_IMAGES`]) the
    /// reader may see at the reading whose caption, credit or alt text as it stood then holds
    /// every word of the clause. The images are read once for all the clauses.
    pub(super) fn captions_joined(&self, reading: &Reading, query: &str) -> Result<String> {
        let mut clauses: Vec<HashSet<String>> = Vec::new();
        join_captions(query, |text| -> Result<Vec<String>> {
            if clauses.len() == CAPTION_CLAUSES {
                return Err(Error::Limit(format!("a search may hold {CAPTION_CLAUSES} caption: clauses")));
            }
            clauses.push(stems(text));
            Ok(Vec::new())
        })?;
        let mut found: Vec<Vec<String>> = vec![Vec::new(); clauses.len()];
        if clauses.iter().any(|words| !words.is_empty()) {
            self.scan_images(reading, |snap, own| {
                for (words, ids) in clauses.iter().zip(found.iter_mut()) {
                    let room = ids.len() < CAPTION_IMAGES;
                    if room && !words.is_empty() && words.iter().all(|w| own.contains(w)) {
                        ids.push(snap.state.id.to_string());
                    }
                }
                found.iter().all(|ids| ids.len() >= CAPTION_IMAGES)
            })?;
        }
        let mut answers = found.into_iter();
        join_captions(query, |_| -> Result<Vec<String>> { Ok(answers.next().unwrap_or_default()) })
    }

    /// The newest images the reader may see at the reading whose words (caption, credit and
    /// alt text as they stood then, analysed as the search index does) hold one of `words`:
    /// at most `first`. No words, nothing.
    fn images_where(
        &self,
        reading: &Reading,
        first: usize,
        words: &HashSet<String>,
    ) -> Result<Vec<Snapshot<Image>>> {
        let mut out = Vec::new();
        if first == 0 || words.is_empty() {
            return Ok(out);
        }
        self.scan_images(reading, |snap, own| {
            if words.iter().any(|w| own.contains(w)) {
                out.push(snap.clone());
            }
            out.len() >= first
        })?;
        Ok(out)
    }

    /// Shows `visit` the newest images (up to [`IMAGES_SCANNED`]) the reader may see at the
    /// reading, each with its words (caption, credit and alt text as they stood then, analysed
    /// as the search index does), until it answers true.
    fn scan_images(
        &self,
        reading: &Reading,
        mut visit: impl FnMut(&Snapshot<Image>, &HashSet<String>) -> bool,
    ) -> Result<()> {
        let ids = self.projections_or_err()?.views().read()?.newest_images(IMAGES_SCANNED)?;
        for id in ids {
            let ImageReading::Found(snap) = self.image(reading, id)? else { continue };
            let i = &snap.state;
            let texts = [i.caption.as_deref(), i.credit.as_deref(), i.alt.as_deref()];
            let own: HashSet<String> = texts.into_iter().flatten().flat_map(stems).collect();
            if visit(&snap, &own) {
                break;
            }
        }
        Ok(())
    }
}
