//! The meaning of events: ids, events (with upcasting), commands (with limits), and for each
//! entity a pure fold (events → state) and a pure decide (state + command → events).
//!
//! Nothing here does I/O or knows about LMDB, GraphQL or HTTP. Only this module knows what an
//! event means.

pub mod article;
pub mod author;
pub mod authored;
pub mod commands;
pub mod events;
pub mod ids;
pub mod image;
pub mod lifecycle;
pub mod schedule;

use chrono::{DateTime, Utc};

pub use article::{Article, ArticleStatus, Byline, Correction, Takedown};
pub use author::Author;
pub use commands::{ArticleCommand, AuthorCommand, Command};
pub use events::Event;
pub use ids::{ArticleId, AuthorId, ImageId, StreamKind};
pub use image::{Image, ImageCommand, Placement};
pub use lifecycle::Lifecycle;

/// What a fold needs of an event's envelope besides its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    /// The event's stream version.
    pub version: u64,
    /// When it took effect.
    pub effective_at: DateTime<Utc>,
}

/// Reads a stored event as a domain event with the envelope facts a fold needs. The log's
/// record type is the store's; what its bytes mean is decided here. An event the store could
/// not open (its stream was erased) reads as [`Event::Shredded`].
pub fn decode(event: &crate::store::RecordedEvent) -> Result<(Event, Meta), events::DecodeError> {
    let meta = Meta { version: event.version, effective_at: event.effective_at };
    if event.sealed {
        return Ok((Event::Shredded, meta));
    }
    let decoded = Event::decode(&event.event_type, event.schema_version, &event.payload)?;
    Ok((decoded, meta))
}

/// The unique names (slugs) an event claims in the log; every append and restore carries them.
pub fn claims(event: &Event) -> Vec<crate::store::Claim> {
    event
        .claims()
        .into_iter()
        .map(|(namespace, value)| crate::store::Claim { namespace: namespace.to_owned(), value })
        .collect()
}

/// Why a command was refused. Nothing is appended for a refused command.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A field is malformed or empty.
    #[error("{field}: {message}")]
    Invalid {
        /// The input field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A field is over its size limit.
    #[error("{field} is {size} bytes, limit is {limit} bytes")]
    TooLarge {
        /// The input field.
        field: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The entity addressed, or one referred to, does not exist.
    #[error("{kind} {id} does not exist")]
    NotFound {
        /// `article`, `author` or `image`.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The command does not fit the entity's current state.
    #[error("{0}")]
    Conflict(String),
    /// The entity is under a legal hold, which forbids erasing it.
    #[error("{0}")]
    LegalHold(String),
}

impl Rejection {
    /// An [`Rejection::Invalid`] for `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Rejection {
        Rejection::Invalid { field: field.to_owned(), message: message.into() }
    }
}
