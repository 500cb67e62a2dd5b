//! `Position`, the one clock of morgue.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A global log position: the place of one event in the whole log.
///
/// Positions are assigned by the store's single writer, in commit order, starting at 1 and
/// without gaps: if position `p` exists, so does every position in `1..p`. Position 0 is the
/// empty log ("before the first event"); it names no event.
///
/// Everything derived from the log speaks this clock. "A read at position P" sees exactly the
/// events at positions `1..=P` and nothing recorded after them; a projector's checkpoint is the
/// last position it applied; a mutation answers with the position of the last event it wrote,
/// and a read that asks for at least that position sees the write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Position(pub u64);

impl Position {
    /// The empty log: before the first event.
    pub const ZERO: Position = Position(0);

    /// The position right after this one.
    pub fn next(self) -> Position {
        Position(self.0 + 1)
    }

    /// The raw number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Position {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse().map(Position)
    }
}

impl From<u64> for Position {
    fn from(value: u64) -> Self {
        Position(value)
    }
}
