//! The crate's error, and the one table from error to the machine-readable code clients see.

use crate::domain::Rejection;
use crate::domain::events::DecodeError;
use crate::{project, store};

/// Everything that can go wrong in morgue, by boundary.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The domain refused the command.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The log refused or failed.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// A stored event could not be read as a morgue event.
    #[error("event at position {position}: {source}")]
    Decode {
        /// Where.
        position: crate::Position,
        /// Why.
        source: DecodeError,
    },
    /// A projector or a read of derived data failed.
    #[error(transparent)]
    Project(#[from] crate::project::Error),
    /// The caller gave a bad argument outside any command (a bad id, a bad cursor).
    #[error("{0}")]
    BadInput(String),
    /// The request is over one of the node's limits (result window, query size, nesting).
    #[error("{0}")]
    Limit(String),
    /// A failure on our side that is not the caller's (a read that stopped).
    #[error("{0}")]
    Internal(String),
    /// What was asked is for staff only: send an editor's or an admin's token.
    #[error("{0}")]
    Unauthenticated(String),
    /// This writer stopped taking writes: its log parted from the stream it publishes to
    /// (restored from an old backup, or another writer publishes there).
    #[error("this writer refuses writes: {0}")]
    Fenced(String),
    /// This node is a read replica: writes go to the writer.
    #[error("this is a read replica following {follows}; send writes to the writer{}", writer_note(.writer))]
    ReadOnly {
        /// The stream it follows.
        follows: String,
        /// Where the writer takes writes, when configured.
        writer: Option<String>,
    },
}

fn writer_note(writer: &Option<String>) -> String {
    writer.as_ref().map(|w| format!(" at {w}")).unwrap_or_default()
}

/// A `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The machine-readable code (`extensions.code` in GraphQL). One exhaustive match, so a new
    /// error forces a decision here.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Rejected(r) => match r {
                Rejection::Invalid { .. } | Rejection::TooLarge { .. } => "BAD_INPUT",
                Rejection::NotFound { .. } => "NOT_FOUND",
                Rejection::Conflict(_) => "CONFLICT",
            },
            Error::Store(e) => store_code(e),
            Error::Decode { .. } => "INTERNAL",
            Error::Project(e) => match e {
                project::Error::Stale { .. } => "STALE",
                project::Error::BadCursor(_) | project::Error::Query(_) => "BAD_INPUT",
                project::Error::Lmdb(_)
                | project::Error::Tantivy(_)
                | project::Error::Io(_)
                | project::Error::Gap { .. }
                | project::Error::Event(_)
                | project::Error::Corrupt(_)
                | project::Error::Stopped => "INTERNAL",
                project::Error::Store(_) => "INTERNAL",
            },
            Error::BadInput(_) => "BAD_INPUT",
            Error::Limit(_) => "LIMIT",
            Error::Internal(_) => "INTERNAL",
            Error::Unauthenticated(_) => "UNAUTHENTICATED",
            Error::ReadOnly { .. } | Error::Fenced(_) => "READ_ONLY",
        }
    }

    /// The stream's actual version, for a version conflict.
    pub fn actual_version(&self) -> Option<u64> {
        match self {
            Error::Store(store::Error::WrongVersion { actual, .. }) => Some(*actual),
            _ => None,
        }
    }
}

fn store_code(e: &store::Error) -> &'static str {
    match e {
        store::Error::InBatch { source, .. } => store_code(source),
        store::Error::WrongVersion { .. }
        | store::Error::IdempotencyMismatch { .. }
        | store::Error::ClaimTaken { .. } => "CONFLICT",
        store::Error::EffectiveInFuture { .. }
        | store::Error::EffectiveOutOfOrder { .. }
        | store::Error::Invalid(_) => "BAD_INPUT",
        store::Error::Full { .. }
        | store::Error::Corrupt { .. }
        | store::Error::Format { .. }
        | store::Error::WriteFailed(_)
        | store::Error::Lmdb(_)
        | store::Error::Io(_)
        | store::Error::Closed => "INTERNAL",
    }
}
