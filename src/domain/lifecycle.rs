//! Erasure and legal holds, for articles and authors alike.
//!
//! An erasure destroys its stream's key (see `store::seal`): every earlier event of the stream
//! becomes unreadable everywhere the log was copied, and the erasure event stays, unsealed, as
//! the tombstone. A legal hold forbids erasure until it is released; takedown stays allowed.

use serde::{Deserialize, Serialize};

use super::Rejection;
use super::events::Event;

/// An article was erased: its content is gone, its events remain as envelopes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleErased {
    /// Why (an erasure request under the GDPR's Article 17, a court order).
    pub reason: String,
}

/// An author was erased: name and biography are gone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorErased {
    /// Why.
    pub reason: String,
}

/// A legal hold was placed on an article or an author: it cannot be erased until released.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHoldPlaced {
    /// Why (the litigation or inquiry it preserves evidence for).
    pub reason: String,
}

/// A legal hold was released.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHoldReleased {}

/// What an admin asks of an entity's lifecycle, whatever its kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Lifecycle {
    /// Erase it, beyond recovery (crypto-shredding).
    Erase {
        /// Why.
        reason: String,
    },
    /// Forbid its erasure until released.
    PlaceLegalHold {
        /// Why.
        reason: String,
    },
    /// Lift a legal hold.
    ReleaseLegalHold,
}

impl Lifecycle {
    /// Checks the fields' shape and size.
    pub fn validate(&self) -> Result<(), Rejection> {
        match self {
            Lifecycle::Erase { reason } | Lifecycle::PlaceLegalHold { reason } => {
                if reason.trim().is_empty() {
                    return Err(Rejection::invalid("reason", "must not be empty"));
                }
                let limit = super::commands::limits::NOTE;
                if reason.len() > limit {
                    return Err(Rejection::TooLarge { field: "reason".into(), size: reason.len(), limit });
                }
                Ok(())
            }
            Lifecycle::ReleaseLegalHold => Ok(()),
        }
    }

    /// Decides the events for an entity (`what`: `article 01J…`) under `hold`, the reason of
    /// the legal hold in force, if any. `erased` is the event an erasure of this kind writes.
    pub fn decide(
        &self,
        what: &str,
        hold: Option<&str>,
        erased: impl FnOnce(String) -> Event,
    ) -> Result<Vec<Event>, Rejection> {
        match (self, hold) {
            (Lifecycle::Erase { reason: _ }, Some(held)) => {
                Err(Rejection::LegalHold(format!("{what} is under a legal hold ({held}); release it first")))
            }
            (Lifecycle::Erase { reason }, None) => Ok(vec![erased(reason.clone())]),
            (Lifecycle::PlaceLegalHold { .. }, Some(_)) => {
                Err(Rejection::Conflict(format!("{what} is already under a legal hold")))
            }
            (Lifecycle::PlaceLegalHold { reason }, None) => {
                Ok(vec![Event::LegalHoldPlaced(LegalHoldPlaced { reason: reason.clone() })])
            }
            (Lifecycle::ReleaseLegalHold, Some(_)) => {
                Ok(vec![Event::LegalHoldReleased(LegalHoldReleased {})])
            }
            (Lifecycle::ReleaseLegalHold, None) => {
                Err(Rejection::Conflict(format!("{what} is not under a legal hold")))
            }
        }
    }
}

/// The legal hold an event leaves in force, given the one before it.
pub fn hold_after(before: Option<String>, event: &Event) -> Option<String> {
    match event {
        Event::LegalHoldPlaced(h) => Some(h.reason.clone()),
        Event::LegalHoldReleased(_) => None,
        _ => before,
    }
}
