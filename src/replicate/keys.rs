//! Stream keys beside the feed: a JetStream key-value bucket (`<stream>_KEYS`), one entry per
//! sealed stream, keyed by stream id.
//!
//! The feed itself only ever carries sealed payloads, and it can never be purged (the archive
//! forgets nothing), so erasure reaches it by destroying the key here: the writer puts a
//! stream's key before it publishes the stream's first event, and on an erasure deletes the
//! entry's message (which JetStream overwrites on disk) and purges the key. Replicas fetch a
//! key the first time they meet its stream, and drop it when they restore the erasure.

use async_nats::jetstream::{self, kv};
use bytes::Bytes;

use super::NatsConfig;
use crate::store::StreamKey;

/// The bucket's name for a stream name.
pub fn bucket(config: &NatsConfig) -> String {
    format!("{}_KEYS", config.stream)
}

/// Opens the bucket, creating it (the writer) when it is missing.
pub async fn open(js: &jetstream::Context, config: &NatsConfig, create: bool) -> Result<kv::Store, String> {
    let name = bucket(config);
    if let Ok(store) = js.get_key_value(&name).await {
        return Ok(store);
    }
    if !create {
        return Err(format!("key bucket {name} is missing (is the writer publishing?)"));
    }
    // The bucket's stream is made here rather than by `create_key_value`, which reads account
    // details older servers do not send, and which would deny deleting a message.
    js.get_or_create_stream(jetstream::stream::Config {
        name: format!("KV_{name}"),
        description: Some("morgue: each sealed stream's key; an erasure destroys it".into()),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        storage: jetstream::stream::StorageType::File,
        num_replicas: config.replicas.max(1),
        allow_rollup: true,
        deny_delete: false,
        deny_purge: false,
        allow_direct: true,
        discard: jetstream::stream::DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("creating key bucket {name}: {e}"))?;
    js.get_key_value(&name).await.map_err(|e| format!("opening key bucket {name}: {e}"))
}

/// Puts a stream's key.
pub async fn put(bucket: &kv::Store, stream: &str, key: &StreamKey) -> Result<(), String> {
    bucket
        .put(stream, Bytes::copy_from_slice(&key.0))
        .await
        .map(drop)
        .map_err(|e| format!("putting the key of {stream}: {e}"))
}

/// A stream's key; `None` when the bucket shows it destroyed (the purge an erasure leaves).
/// A key the bucket has no entry for at all is not visible yet (a server of the bucket that
/// lags): an error, so the follower retries rather than take the stream for erased.
pub async fn get(bucket: &kv::Store, stream: &str) -> Result<Option<StreamKey>, String> {
    let entry = bucket.entry(stream).await.map_err(|e| format!("reading the key of {stream}: {e}"))?;
    match entry {
        None => Err(format!("the key of {stream} is not in the key bucket yet")),
        Some(entry) if entry.operation != kv::Operation::Put => Ok(None),
        Some(entry) => StreamKey::from_slice(&entry.value).map(Some).ok_or_else(|| {
            format!("the bucket's key of {stream} is not {} bytes", crate::store::seal::KEY_LEN)
        }),
    }
}

/// Destroys a stream's key: its message is deleted (JetStream overwrites it on disk), then the
/// key is purged, leaving no value behind.
pub async fn shred(bucket: &kv::Store, stream: &str) -> Result<(), String> {
    let entry = bucket.entry(stream).await.map_err(|e| format!("reading the key of {stream}: {e}"))?;
    if let Some(entry) = entry
        && entry.operation == kv::Operation::Put
    {
        bucket
            .stream
            .delete_message(entry.revision)
            .await
            .map_err(|e| format!("deleting the key of {stream}: {e}"))?;
    }
    bucket.purge(stream).await.map_err(|e| format!("purging the key of {stream}: {e}"))
}
