//! Images' bytes beside the feed: a JetStream object store (`<stream>_BLOBS`), one object per
//! image, named by the image's stream (`image-<id>`). The writer puts an image's bytes before
//! it publishes the upload; a replica fetches them, checks them against the hash the upload
//! names and stores them (synced) before it restores the upload, so every replica serves the
//! same bytes as the writer. An erasure deletes the object before it is published.

use async_nats::jetstream::{self, object_store};
use tokio::io::AsyncReadExt;

use super::NatsConfig;
use crate::store::blobs::{BlobId, Blobs};

/// The bucket's name for a stream name.
pub fn bucket(config: &NatsConfig) -> String {
    format!("{}_BLOBS", config.stream)
}

/// Opens the bucket, creating it (the writer) when it is missing.
pub async fn open(
    js: &jetstream::Context,
    config: &NatsConfig,
    create: bool,
) -> Result<object_store::ObjectStore, String> {
    let name = bucket(config);
    if let Ok(store) = js.get_object_store(&name).await {
        return Ok(store);
    }
    if !create {
        return Err(format!("blob bucket {name} is missing (is the writer publishing?)"));
    }
    js.create_object_store(object_store::Config {
        bucket: name.clone(),
        description: Some("morgue: the images' bytes, each named by its BLAKE3 hash".into()),
        storage: jetstream::stream::StorageType::File,
        num_replicas: config.replicas.max(1),
        ..Default::default()
    })
    .await
    .map_err(|e| format!("creating blob bucket {name}: {e}"))
}

/// Puts a local blob in the bucket as `object` unless it is already there (checked against its
/// hash on the way: a damaged blob is never published).
pub async fn put(
    bucket: &object_store::ObjectStore,
    local: &Blobs,
    id: BlobId,
    object: &str,
) -> Result<(), String> {
    let name = object.to_owned();
    if bucket.info(&name).await.is_ok_and(|info| !info.deleted) {
        return Ok(());
    }
    let path = local.path(id);
    let bytes = tokio::task::spawn_blocking({
        let local = local.clone();
        move || local.get(id, crate::archive::MAX_UPLOAD as u64)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("reading blob {}: {e}", path.display()))?;
    if BlobId::of(&bytes) != id {
        return Err(format!("blob {id} is damaged here: it is not published (run `morgue verify`)"));
    }
    bucket
        .put(name.as_str(), &mut bytes.as_slice())
        .await
        .map(drop)
        .map_err(|e| format!("putting blob {id}: {e}"))
}

/// Fetches `object` from the bucket into the local store as blob `id` unless it is there
/// already: at most the upload limit, and only if its bytes hash to `id`.
pub async fn fetch(
    bucket: &object_store::ObjectStore,
    local: &Blobs,
    id: BlobId,
    object: &str,
) -> Result<(), String> {
    if local.contains(id) {
        return Ok(());
    }
    let object = bucket.get(object).await.map_err(|e| format!("fetching blob {id}: {e}"))?;
    let limit = crate::archive::MAX_UPLOAD as u64;
    let mut bytes = Vec::new();
    object.take(limit + 1).read_to_end(&mut bytes).await.map_err(|e| format!("reading blob {id}: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("blob {id} in the bucket is over {limit} bytes"));
    }
    if BlobId::of(&bytes) != id {
        return Err(format!("the bytes in the bucket for blob {id} do not hash to it"));
    }
    let local = local.clone();
    tokio::task::spawn_blocking(move || local.put(&bytes))
        .await
        .map_err(|e| e.to_string())?
        .map(drop)
        .map_err(|e| format!("storing blob {id}: {e}"))
}

/// Deletes an erased image's object (its chunks are purged from the bucket's stream). An
/// object that is not there is no error.
pub async fn forget(bucket: &object_store::ObjectStore, object: &str) -> Result<(), String> {
    match bucket.info(object).await {
        Ok(info) if !info.deleted => {
            bucket.delete(object).await.map_err(|e| format!("deleting the bytes of {object}: {e}"))
        }
        _ => Ok(()),
    }
}
