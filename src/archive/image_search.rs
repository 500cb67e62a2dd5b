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
use crate::Result;
use crate::domain::{Image, ImageId};
use crate::project::search::query::stems;

/// The most images an image search looks through, newest first.
pub const IMAGES_SCANNED: usize = 10_000;
/// The most images one `caption:` clause of an article search joins to.
pub const CAPTION_IMAGES: usize = 1_000;
/// The most `caption:` clauses one article search may hold (LIMIT beyond): each reads images.
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
        self.images_where(reading, first, &stems(query), false)
    }

    /// The images (up to [`CAPTION_IMAGES`]) that a search's `caption:` clause with `text`
    /// finds articles through: those the reader may see at the reading whose caption, credit or
    /// alt text as it stood then holds every word of `text`.
    pub(super) fn images_captioned(&self, reading: &Reading, text: &str) -> Result<Vec<ImageId>> {
        let found = self.images_where(reading, CAPTION_IMAGES, &stems(text), true)?;
        Ok(found.into_iter().map(|snap| snap.state.id).collect())
    }

    /// The newest images the reader may see at the reading whose words (caption, credit and
    /// alt text as they stood then, analysed as the search index does) hold one of `words`, or
    /// `all` of them: at most `first`. No words, nothing.
    fn images_where(
        &self,
        reading: &Reading,
        first: usize,
        words: &HashSet<String>,
        all: bool,
    ) -> Result<Vec<Snapshot<Image>>> {
        if first == 0 || words.is_empty() {
            return Ok(Vec::new());
        }
        let ids = self.projections_or_err()?.views().read()?.newest_images(IMAGES_SCANNED)?;
        let mut out = Vec::new();
        for id in ids {
            let ImageReading::Found(snap) = self.image(reading, id)? else { continue };
            let i = &snap.state;
            let texts = [i.caption.as_deref(), i.credit.as_deref(), i.alt.as_deref()];
            let own: HashSet<String> = texts.into_iter().flatten().flat_map(stems).collect();
            let holds = |w: &String| own.contains(w);
            if if all { words.iter().all(holds) } else { words.iter().any(holds) } {
                out.push(*snap);
                if out.len() >= first {
                    break;
                }
            }
        }
        Ok(out)
    }
}
