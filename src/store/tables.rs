//! Every LMDB table of the log, named and opened in one place.

use heed::byteorder::BigEndian;
use heed::types::{Bytes, Str, U64};
use heed::{Database, RwTxn};

use super::Env;

/// The names of the log's LMDB tables.
pub mod db_name {
    /// position (u64 BE) → event record.
    pub const EVENTS: &str = "events";
    /// stream ‖ 0 ‖ version (u64 BE) → position (u64 BE).
    pub const STREAMS: &str = "streams";
    /// idempotency key → fingerprint ‖ first position ‖ last position.
    pub const IDEMPOTENCY: &str = "idempotency";
    /// namespace ‖ 0 ‖ value → the stream holding it.
    pub const CLAIMS: &str = "claims";
    /// store-wide settings (`format`).
    pub const META: &str = "meta";
    /// stream → its 32-byte sealing key: outside the hash chain, deleted by an erasure.
    pub const KEYS: &str = "keys";
    /// stream → the position (u64 BE) of the event that erased it.
    pub const ERASED: &str = "erased";
}

/// How many named tables the log environment holds.
pub const TABLE_COUNT: u32 = 7;

/// The log's tables, typed.
#[derive(Clone, Copy)]
pub struct Tables {
    /// The log itself.
    pub events: Database<U64<BigEndian>, Bytes>,
    /// Each stream's versions and where they are in the log.
    pub streams: Database<Bytes, U64<BigEndian>>,
    /// Idempotency keys seen.
    pub idempotency: Database<Str, Bytes>,
    /// Unique values and their holders.
    pub claims: Database<Bytes, Str>,
    /// Store-wide settings.
    pub meta: Database<Str, Bytes>,
    /// Each sealed stream's key, until it is erased.
    pub keys: Database<Str, Bytes>,
    /// The erased streams, and where each was erased.
    pub erased: Database<Str, U64<BigEndian>>,
}

impl Tables {
    /// Opens the tables, creating them when missing.
    pub fn create(env: &Env, wtxn: &mut RwTxn) -> heed::Result<Tables> {
        Ok(Tables {
            events: env.create_database(wtxn, Some(db_name::EVENTS))?,
            streams: env.create_database(wtxn, Some(db_name::STREAMS))?,
            idempotency: env.create_database(wtxn, Some(db_name::IDEMPOTENCY))?,
            claims: env.create_database(wtxn, Some(db_name::CLAIMS))?,
            meta: env.create_database(wtxn, Some(db_name::META))?,
            keys: env.create_database(wtxn, Some(db_name::KEYS))?,
            erased: env.create_database(wtxn, Some(db_name::ERASED))?,
        })
    }
}
