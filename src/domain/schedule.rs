//! Changes scheduled ahead: a revision or a correction recorded now that takes effect at a
//! later instant. Until then it is pending in the article's state and no read shows it; from
//! then on every read settles it in (see [`super::Article::settled`]), with no further write.
//!
//! While a change is pending the article takes no other editorial change (it would have to be
//! ordered against the pending one): call it off with `unscheduleArticle` first, or wait.
//! Only text can be scheduled (headline, summary, body, a correction): a section or tags
//! change moves the article between listings, which happens when it is recorded.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::ArticleRevised;

/// A change was scheduled: recorded now, it takes effect at `at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeScheduled {
    /// When readers see it.
    pub at: DateTime<Utc>,
    /// A revision of the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<ArticleRevised>,
    /// A correction, as printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<String>,
}

/// A change scheduled and not yet in effect.
pub type PendingChange = ChangeScheduled;

/// Applies a pending change's text to the fields it names (`corrections` gets a correction
/// that took effect at the change's instant).
pub fn apply_text(
    change: &ChangeScheduled,
    headline: &mut String,
    summary: &mut Option<String>,
    body: Option<&mut String>,
    corrections: &mut Vec<super::Correction>,
) {
    if let Some(r) = &change.revision {
        if let Some(h) = &r.headline {
            headline.clone_from(h);
        }
        if let Some(s) = &r.summary {
            *summary = Some(s.clone());
        }
        if let (Some(b), Some(body)) = (&r.body, body) {
            body.clone_from(b);
        }
    }
    if let Some(text) = &change.correction {
        corrections.push(super::Correction { text: text.clone(), effective_at: change.at });
    }
}
