//! Helpers shared by the integration tests.

use morgue::Position;
use morgue::domain::events::Event;
use morgue::store::{ProposedEvent, Store, StoreOptions};

/// A store in a fresh temporary directory (kept alive by the returned guard).
pub fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("log"), StoreOptions { map_size: 1 << 30 }).expect("open store");
    (dir, store)
}

/// A domain event as the store would be asked to append it.
pub fn proposed(event: &Event) -> ProposedEvent {
    ProposedEvent {
        event_type: event.event_type().into(),
        schema_version: event.schema_version(),
        payload: event.to_payload(),
        effective_at: None,
    }
}

/// Every stored record, raw: what "the log is unchanged" compares.
pub fn raw_log(store: &Store) -> Vec<(Position, Vec<u8>)> {
    let reader = store.reader().expect("reader");
    reader
        .raw_after(Position::ZERO)
        .expect("iterate")
        .map(|r| r.map(|(p, b)| (p, b.to_vec())))
        .collect::<Result<_, _>>()
        .expect("read")
}
