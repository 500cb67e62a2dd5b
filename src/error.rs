//! The crate's error, and the one table from error to the machine-readable code clients see:
//! [`Code`], with its HTTP status. GraphQL (`extensions.code`), the HTTP layer and the web
//! pages all take their codes and statuses from here.

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
    /// The article was taken down: no reader sees it, at any instant (RFC 7725's 451).
    #[error("{}", takedown_notice(.at, .legal_reference))]
    UnavailableForLegalReasons {
        /// When the takedown took effect.
        at: chrono::DateTime<chrono::Utc>,
        /// The order or demand it follows, when given.
        legal_reference: Option<String>,
    },
    /// This node is a read replica: writes go to the writer.
    #[error("this is a read replica following {follows}; send writes to the writer{}", writer_note(.writer))]
    ReadOnly {
        /// The stream it follows.
        follows: String,
        /// Where the writer takes writes, when configured.
        writer: Option<String>,
    },
}

fn takedown_notice(at: &chrono::DateTime<chrono::Utc>, reference: &Option<String>) -> String {
    let day = at.format("%-d %B %Y");
    match reference {
        Some(r) => format!("This article was taken down on {day} for legal reasons (reference: {r})."),
        None => format!("This article was taken down on {day} for legal reasons."),
    }
}

fn writer_note(writer: &Option<String>) -> String {
    writer.as_ref().map(|w| format!(" at {w}")).unwrap_or_default()
}

/// The machine-readable error codes clients see (`extensions.code`), each with the HTTP status
/// a page or a request-level error answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// The input is malformed or outside what the field accepts.
    BadInput,
    /// The request is over one of the node's limits.
    Limit,
    /// What was asked for does not exist.
    NotFound,
    /// The write lost to another (a version, a slug, an idempotency key).
    Conflict,
    /// The projectors have not reached the position asked for in time.
    Stale,
    /// This node takes no writes (a replica, or a writer that parted from its stream).
    ReadOnly,
    /// A token is needed, or the one given is unknown or revoked.
    Unauthenticated,
    /// The token's role does not allow it.
    Forbidden,
    /// Our fault; logged, not described.
    Internal,
    /// Taken down for legal reasons: hidden from readers (RFC 7725).
    UnavailableForLegalReasons,
    /// Under a legal hold, which forbids erasing it.
    LegalHold,
}

impl Code {
    /// Every code, for tables and tests.
    pub const ALL: [Code; 11] = [
        Code::BadInput,
        Code::Limit,
        Code::NotFound,
        Code::Conflict,
        Code::Stale,
        Code::ReadOnly,
        Code::Unauthenticated,
        Code::Forbidden,
        Code::Internal,
        Code::UnavailableForLegalReasons,
        Code::LegalHold,
    ];

    /// The code as clients read it (`BAD_INPUT`).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadInput => "BAD_INPUT",
            Code::Limit => "LIMIT",
            Code::NotFound => "NOT_FOUND",
            Code::Conflict => "CONFLICT",
            Code::Stale => "STALE",
            Code::ReadOnly => "READ_ONLY",
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::Internal => "INTERNAL",
            Code::UnavailableForLegalReasons => "UNAVAILABLE_FOR_LEGAL_REASONS",
            Code::LegalHold => "LEGAL_HOLD",
        }
    }

    /// The HTTP status of a page, or of a request-level error, with this code.
    pub fn http_status(self) -> u16 {
        match self {
            Code::BadInput | Code::Limit => 400,
            Code::NotFound => 404,
            Code::Conflict => 409,
            Code::Stale => 503,
            Code::ReadOnly | Code::Forbidden => 403,
            Code::Unauthenticated => 401,
            Code::Internal => 500,
            Code::UnavailableForLegalReasons => 451,
            Code::LegalHold => 409,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The machine-readable code (`extensions.code` in GraphQL). One exhaustive match, so a new
    /// error forces a decision here.
    pub fn code(&self) -> Code {
        match self {
            Error::Rejected(r) => match r {
                Rejection::Invalid { .. } | Rejection::TooLarge { .. } => Code::BadInput,
                Rejection::NotFound { .. } => Code::NotFound,
                Rejection::Conflict(_) => Code::Conflict,
                Rejection::LegalHold(_) => Code::LegalHold,
            },
            Error::Store(e) => store_code(e),
            Error::Decode { .. } => Code::Internal,
            Error::Project(e) => match e {
                project::Error::Stale { .. } => Code::Stale,
                project::Error::BadCursor(_) | project::Error::Query(_) => Code::BadInput,
                project::Error::Lmdb(_)
                | project::Error::Tantivy(_)
                | project::Error::Io(_)
                | project::Error::Gap { .. }
                | project::Error::Event(_)
                | project::Error::Corrupt(_)
                | project::Error::Stopped => Code::Internal,
                project::Error::Store(_) => Code::Internal,
            },
            Error::BadInput(_) => Code::BadInput,
            Error::Limit(_) => Code::Limit,
            Error::Internal(_) => Code::Internal,
            Error::Unauthenticated(_) => Code::Unauthenticated,
            Error::ReadOnly { .. } | Error::Fenced(_) => Code::ReadOnly,
            Error::UnavailableForLegalReasons { .. } => Code::UnavailableForLegalReasons,
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

fn store_code(e: &store::Error) -> Code {
    match e {
        store::Error::InBatch { source, .. } => store_code(source),
        store::Error::WrongVersion { .. }
        | store::Error::IdempotencyMismatch { .. }
        | store::Error::ClaimTaken { .. } => Code::Conflict,
        store::Error::EffectiveInFuture { .. }
        | store::Error::EffectiveOutOfOrder { .. }
        | store::Error::Invalid(_) => Code::BadInput,
        store::Error::Erased { .. } => Code::NotFound,
        store::Error::Unsealed { .. } => Code::Conflict,
        store::Error::Full { .. }
        | store::Error::Corrupt { .. }
        | store::Error::Format { .. }
        | store::Error::WriteFailed(_)
        | store::Error::Lmdb(_)
        | store::Error::Io(_)
        | store::Error::Closed
        | store::Error::ReadOnly
        | store::Error::Owned { .. } => Code::Internal,
    }
}
