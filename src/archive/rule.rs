//! The one rule of what a reader sees of an article, in one place: drafts never; a
//! publication, a revision or a correction scheduled for later not before its instant (each
//! version is settled at the reading's instant); nothing of an article taken down now, at any
//! instant; nothing of an article erased. Every read of an article for readers passes here (its state, its
//! versions, revisions and diffs, and through the views' `takedowns` the searches, listings
//! and timelines).

use chrono::{DateTime, Utc};

use super::{Archive, Reading};
use crate::domain::{Article, ArticleId, ArticleStatus};
use crate::project::views::Snapshot;
use crate::{Error, Result};

impl Archive {
    /// The one rule of what a reader may see of an article: staff see every version; anyone
    /// else sees a version only if it was public (published or retracted, with its notice) and
    /// the article is not taken down now ([`Archive::taken_down_for`]: a takedown hides every
    /// version, at every instant). Every read of an article's state, its versions, its
    /// revisions and its diffs passes here; searches, listings and timelines leave out the
    /// versions of taken-down articles by the same table ([`Archive::search`]).
    pub fn may_see(reading: &Reading, article: &Article) -> bool {
        Self::may_see_version(reading, article.status, article.takedown.is_some(), article.scheduled_at)
    }

    /// [`Archive::may_see`] on a version's status, whether a takedown was in force then, and
    /// its scheduled publication: a draft scheduled for an instant the reading has reached is
    /// published; one scheduled later is not, on any path, until that instant.
    pub fn may_see_version(
        reading: &Reading,
        status: ArticleStatus,
        taken_down: bool,
        scheduled_at: Option<DateTime<Utc>>,
    ) -> bool {
        let reached = |at: DateTime<Utc>| at <= reading.at.as_of.unwrap_or_else(Utc::now);
        reading.staff
            || (!taken_down && (status != ArticleStatus::Draft || scheduled_at.is_some_and(reached)))
    }

    /// The instant a reading reads: its `asOf`, or now.
    pub(super) fn instant(reading: &Reading) -> DateTime<Utc> {
        reading.at.as_of.unwrap_or_else(Utc::now)
    }

    /// Whether a takedown hides the article from this reader (never from staff).
    pub fn taken_down_for(&self, reading: &Reading, id: ArticleId) -> Result<bool> {
        if reading.staff {
            return Ok(false);
        }
        Ok(self.projections_or_err()?.views().read()?.taken_down(id)?)
    }

    /// Why a reader may not see an article, when a takedown hides it: the notice (the date
    /// and the legal reference) as an UNAVAILABLE_FOR_LEGAL_REASONS error. `Ok` otherwise.
    pub fn check_takedown(&self, reading: &Reading, id: ArticleId) -> Result<()> {
        if !self.taken_down_for(reading, id)? {
            return Ok(());
        }
        let views = self.projections_or_err()?.views();
        let head = views.read()?.article(id, crate::project::At::default())?;
        match head.and_then(|s| s.state.takedown) {
            Some(t) => {
                Err(Error::UnavailableForLegalReasons { at: t.at, legal_reference: t.legal_reference })
            }
            None => Ok(()),
        }
    }

    pub(super) fn visible(
        &self,
        reading: &Reading,
        snapshot: Option<Snapshot<Article>>,
    ) -> Result<Option<Snapshot<Article>>> {
        let Some(mut s) = snapshot.filter(|s| Self::may_see(reading, &s.state)) else { return Ok(None) };
        if self.taken_down_for(reading, s.state.id)? {
            return Ok(None);
        }
        // A scheduled publication that has taken effect reads as the publication it is.
        s.state = s.state.settled(Self::instant(reading));
        Ok(Some(s))
    }

    /// Which versions of a history (oldest first, up to the basis) the reader may see. A
    /// version scheduled for publication is seen only if the reading has reached its instant
    /// and the version was still in effect then (not replaced, or called off, before it).
    pub(crate) fn seen_versions<T: Version>(reading: &Reading, all: &[Snapshot<T>]) -> Vec<bool> {
        (0..all.len())
            .map(|i| {
                let (status, taken_down, scheduled_at) = all[i].state.facts();
                let replaced_before =
                    |at: DateTime<Utc>| all.get(i + 1).is_some_and(|n| n.effective_at <= at);
                let scheduled = match (status, scheduled_at) {
                    (ArticleStatus::Draft, Some(at)) if replaced_before(at) => None,
                    _ => scheduled_at,
                };
                Self::may_see_version(reading, status, taken_down, scheduled)
            })
            .collect()
    }

    /// The versions of a history (oldest first) the reader may see, up to the reading's basis,
    /// each as it stands at the reading's instant.
    pub(super) fn readable<T: Version>(reading: &Reading, mut all: Vec<Snapshot<T>>) -> Vec<Snapshot<T>> {
        all.retain(|s| s.position <= reading.basis);
        let seen = Self::seen_versions(reading, &all);
        let t = Self::instant(reading);
        all.into_iter()
            .zip(seen)
            .filter(|(_, seen)| *seen)
            .map(|(s, _)| Snapshot { state: s.state.settled(t), ..s })
            .collect()
    }
}

/// What the one rule reads of an article version, whole or without its text.
pub(crate) trait Version {
    /// Its status, whether a takedown was in force, and its scheduled publication.
    fn facts(&self) -> (ArticleStatus, bool, Option<DateTime<Utc>>);
    /// As it stands at `t` (a scheduled publication in effect by then is a publication).
    fn settled(self, t: DateTime<Utc>) -> Self;
}

impl Version for Article {
    fn facts(&self) -> (ArticleStatus, bool, Option<DateTime<Utc>>) {
        (self.status, self.takedown.is_some(), self.scheduled_at)
    }
    fn settled(self, t: DateTime<Utc>) -> Article {
        Article::settled(self, t)
    }
}

impl Version for crate::project::views::ArticleFacts {
    fn facts(&self) -> (ArticleStatus, bool, Option<DateTime<Utc>>) {
        (self.status, self.takedown.is_some(), self.scheduled_at)
    }
    fn settled(self, t: DateTime<Utc>) -> Self {
        crate::project::views::ArticleFacts::settled(self, t)
    }
}
