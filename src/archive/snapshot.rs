//! One read snapshot per request. Every field of a request reads at one log position, pinned
//! once when the request starts (after waiting for the highest `minPosition` it names), and
//! the choice between the views and the search index is made against that position: a
//! present-day listing comes from the views only when they stand exactly at it, and a
//! present-day search uses the index's current documents only when the index does; otherwise
//! both read the index's validity windows at the pinned position. So a count and the page it
//! counts always come from the same instant.

use chrono::{DateTime, Utc};

use super::Archive;
use super::read::{READ_YOUR_WRITES_WAIT, Reading};
use crate::project::At;
use crate::{Position, Result};

/// The position every read of one request is computed at, and who is reading.
#[derive(Clone)]
pub struct ReadSnapshot {
    archive: Archive,
    staff: bool,
    basis: Position,
}

impl Archive {
    /// Pins a request's snapshot: waits until the projectors include `min_position` (STALE
    /// after [`READ_YOUR_WRITES_WAIT`]), then takes the position both have reached.
    pub async fn snapshot(&self, staff: bool, min_position: Option<Position>) -> Result<ReadSnapshot> {
        let p = self.projections_or_err()?;
        if let Some(min) = min_position {
            p.wait_for(min, READ_YOUR_WRITES_WAIT).await?;
        }
        Ok(ReadSnapshot { archive: self.clone(), staff, basis: p.checkpoint() })
    }
}

impl Archive {
    /// A reading for a request that reads the views alone (an image's bytes): one position,
    /// the views' own, so a write the views hold is seen without waiting for the search index.
    pub fn views_reading(
        &self,
        staff: bool,
        as_of: Option<DateTime<Utc>>,
        basis: Option<Position>,
    ) -> Result<Reading> {
        let here = self.projections_or_err()?.views_checkpoint();
        let at = basis.map_or(here, |b| b.min(here));
        let as_of = as_of.filter(|t| *t < Utc::now());
        Ok(Reading { at: At { as_of, basis: Some(at) }, basis: at, staff })
    }
}

impl ReadSnapshot {
    /// The pinned position: `extensions.basis`.
    pub fn basis(&self) -> Position {
        self.basis
    }

    /// Whether the reader is staff.
    pub fn staff(&self) -> bool {
        self.staff
    }

    /// A field's reading within the snapshot. `asOf` picks the effective instant (a future one
    /// is now); `knownAt` and `basis` can only take the position earlier than the pinned one.
    /// A `minPosition` past the pinned position is STALE: the request pinned its position
    /// after waiting for the highest one it names.
    pub fn reading(
        &self,
        as_of: Option<DateTime<Utc>>,
        known_at: Option<DateTime<Utc>>,
        basis: Option<Position>,
        min_position: Option<Position>,
    ) -> Result<Reading> {
        if let Some(wanted) = min_position
            && wanted > self.basis
        {
            return Err(crate::project::Error::Stale { wanted, reached: self.basis, waited_ms: 0 }.into());
        }
        let mut at = basis.map_or(self.basis, |b| b.min(self.basis));
        if let Some(known_at) = known_at {
            at = at.min(self.archive.position_known_at(known_at)?);
        }
        let as_of = as_of.filter(|t| *t < Utc::now());
        Ok(Reading { at: At { as_of, basis: Some(at) }, basis: at, staff: self.staff })
    }
}
