//! A replica's follower: the stream, through a durable pull consumer, into the replica's own
//! log, verbatim.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::{consumer, stream};
use futures_util::{FutureExt, StreamExt};

use super::Link;
use super::wire::WireEvent;
use crate::store::{Restored, Store, StreamKey};

/// Most events restored in one transaction.
const BATCH: usize = 1000;

/// Follows the stream into `store` for as long as the task runs, reconnecting with backoff.
pub async fn follow(store: Store, link: Arc<Link>) {
    super::keep_running(&link, "following", || session(&store, &link)).await;
}

/// One connection's worth of following; returns only on error.
async fn session(store: &Store, link: &Link) -> Result<(), String> {
    let config = &link.config;
    let js = super::connect(config, "morgue-replica").await?;
    let mut stream = js
        .get_stream(&config.stream)
        .await
        .map_err(|e| format!("stream {} (is the writer publishing?): {e}", config.stream))?;
    let last = super::last_sequence(&mut stream).await?;
    let head = store.head().get();
    if let Err(reason) = check_same_log(store, &stream, head, last).await {
        link.halt(format!("{reason}; this replica stopped following"));
        return Err(reason);
    }
    link.remote.store(last.max(head), Ordering::Release);
    let bucket = super::keys::open(&js, config, false).await?;
    let objects = super::blobs::open(&js, config, false).await?;
    let local = store.blobs();

    // The log is the checkpoint: start the consumer where it ends.
    let _ = stream.delete_consumer(&config.consumer).await;
    let consumer: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some(config.consumer.clone()),
            description: Some("a morgue read replica".into()),
            deliver_policy: if head == 0 {
                consumer::DeliverPolicy::All
            } else {
                consumer::DeliverPolicy::ByStartSequence { start_sequence: head + 1 }
            },
            ack_policy: consumer::AckPolicy::All,
            max_ack_pending: 100_000,
            // A replica gone for good does not keep its consumer forever.
            inactive_threshold: Duration::from_secs(3600),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("creating consumer {}: {e}", config.consumer))?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(BATCH)
        .heartbeat(Duration::from_secs(2))
        .expires(Duration::from_secs(10))
        .messages()
        .await
        .map_err(|e| format!("consuming: {e}"))?;
    link.set_connected(true);
    if last <= head {
        link.caught_up.store(true, Ordering::Release);
    }
    tracing::info!(target = %config.describe(), head, last, consumer = %config.consumer, "following the stream");

    let mut next = head + 1;
    loop {
        // Wait for one message, then take whatever else has already arrived.
        let mut batch = Vec::new();
        let first = messages.next().await.ok_or("the consumer ended")?;
        batch.push(first.map_err(|e| format!("consuming: {e}"))?);
        while batch.len() < BATCH {
            match messages.next().now_or_never() {
                Some(Some(m)) => batch.push(m.map_err(|e| format!("consuming: {e}"))?),
                Some(None) => return Err("the consumer ended".into()),
                None => break,
            }
        }
        // The batch's lines, in order, skipping what the log already holds.
        let mut lines = Vec::with_capacity(batch.len());
        let mut remote = 0;
        let mut expected = next;
        for message in &batch {
            let info = message.info().map_err(|e| format!("a message without JetStream info: {e}"))?;
            let sequence = info.stream_sequence;
            remote = sequence + info.pending;
            if sequence < expected {
                continue; // redelivered: already in the log
            }
            if sequence > expected {
                return Err(format!("the stream skipped from {} to {sequence}", expected - 1));
            }
            let line = WireEvent::line(&message.payload).map_err(|e| format!("sequence {sequence}: {e}"))?;
            lines.push((sequence, message, line));
            expected += 1;
        }
        let mut keys = batch_keys(store, &bucket, lines.iter().map(|(_, _, line)| line)).await?;
        let mut records: Vec<Restored> = Vec::with_capacity(lines.len());
        for (sequence, _, line) in &lines {
            let sequence = *sequence;
            let key = keys.get(&line.stream).copied().flatten();
            let record = WireEvent::restored(line, key).map_err(|e| format!("sequence {sequence}: {e}"))?;
            if record.erases {
                keys.insert(line.stream.clone(), None);
            }
            if record.event.position.get() != sequence {
                return Err(format!("sequence {sequence} holds position {}", record.event.position));
            }
            records.push(record);
            next += 1;
        }
        // The writer signs every event's checksum, and each checksum covers the one before:
        // the batch's last signature vouches for the whole batch once the log has checked that
        // the batch continues its chain (which restoring does, all or nothing). Only when it
        // fails is each one checked, to name the first event that is not the writer's.
        if let Some(key) = config.writer_key.as_ref().filter(|_| !records.is_empty()) {
            let signed = |i: usize| {
                let signature = lines[i].1.headers.as_ref().and_then(|h| h.get(super::trust::H_SIGNATURE));
                key.verifies(&records[i].event.checksum, signature.map(|v| v.as_str()))
            };
            if !signed(records.len() - 1) {
                let bad = (0..records.len()).find(|&i| !signed(i)).unwrap_or(records.len() - 1);
                let reason = format!(
                    "the stream's event at sequence {} is not signed by the writer's key \
                     {key:?}: this replica stopped following, and serves the log up to position {}",
                    lines[bad].0,
                    store.head()
                );
                link.halt(reason.clone());
                return Err(reason);
            }
        }
        // The bytes the batch's events name are here, checked and synced, before the events.
        for record in &records {
            for claim in record.claims.iter().filter(|c| c.namespace == "blob") {
                let id = crate::store::blobs::BlobId::parse(&claim.value).ok_or_else(|| {
                    format!("position {} names a blob {:?}", record.event.position, claim.value)
                })?;
                super::blobs::fetch(&objects, &local, id, &record.event.stream).await?;
            }
        }
        // An erased image's bytes go once its tombstone is restored: which they are is read
        // from the image's upload while this log can still open it.
        let forgotten = erased_blobs(store, &records).map_err(|e| format!("reading an erased image: {e}"))?;
        if !records.is_empty() {
            let later = store.restore_later(records).map_err(|e| format!("restoring: {e}"))?;
            tokio::task::spawn_blocking(move || later.wait())
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("restoring: {e}"))?;
            link.done.store(next - 1, Ordering::Release);
        }
        for hash in forgotten {
            crate::archive::forget_image_bytes(store, hash)
                .map_err(|e| format!("destroying blob {hash}: {e}"))?;
        }
        link.remote.store(remote.max(next - 1), Ordering::Release);
        if remote < next {
            link.caught_up.store(true, Ordering::Release);
        }
        if let Some(last) = batch.last() {
            last.ack().await.map_err(|e| format!("acknowledging: {e}"))?;
        }
    }
}

/// Most key lookups in flight at once.
const KEY_LOOKUPS: usize = 64;

/// The keys of the sealed streams `lines` name: from the log when it has them, otherwise from
/// the bucket, many lookups at once (a new replica meets thousands of streams, and one round
/// trip after another would bound how fast it fills). `None` for a stream erased since.
async fn batch_keys<'l>(
    store: &Store,
    bucket: &async_nats::jetstream::kv::Store,
    lines: impl Iterator<Item = &'l crate::transfer::Line>,
) -> Result<rustc_hash::FxHashMap<String, Option<StreamKey>>, String> {
    let mut keys: rustc_hash::FxHashMap<String, Option<StreamKey>> = Default::default();
    let mut missing = Vec::new();
    {
        let mut asked = rustc_hash::FxHashSet::default();
        let reader = store.reader().map_err(|e| e.to_string())?;
        for line in lines.filter(|l| l.sealed) {
            if keys.contains_key(&line.stream) || !asked.insert(line.stream.as_str()) {
                continue;
            }
            match reader.key(&line.stream).map_err(|e| e.to_string())? {
                Some(key) => {
                    keys.insert(line.stream.clone(), Some(key));
                }
                None => missing.push(line.stream.clone()),
            }
        }
    }
    let fetched: Vec<(String, Option<StreamKey>)> = futures_util::stream::iter(missing)
        .map(|stream| async move { super::keys::get(bucket, &stream).await.map(|key| (stream, key)) })
        .buffered(KEY_LOOKUPS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, String>>()?;
    keys.extend(fetched);
    Ok(keys)
}

/// A replica's log must be a prefix of the stream: the stream's event at the replica's head
/// must carry the checksum of the replica's last event.
async fn check_same_log(store: &Store, stream: &stream::Stream, head: u64, last: u64) -> Result<(), String> {
    if head == 0 {
        return Ok(());
    }
    if last < head {
        return Err(format!(
            "this log holds {head} events but the stream only {last}: the replica is ahead of its writer"
        ));
    }
    if !super::same_event(store, stream, head).await? {
        return Err(format!(
            "this log's event {head} differs from the stream's: it is not this writer's log"
        ));
    }
    Ok(())
}

/// The blobs of the images the batch erases, read from their uploads in this log. An upload
/// this log cannot open (it met the image only after its key was destroyed) never brought its
/// bytes here: there is nothing to destroy.
fn erased_blobs(store: &Store, records: &[Restored]) -> crate::Result<Vec<crate::store::blobs::BlobId>> {
    let mut out = Vec::new();
    let reader = store.reader()?;
    for record in records.iter().filter(|r| r.erases && crate::archive::names_blobs_in(&r.event.stream)) {
        let Some(first) = reader.stream_positions(&record.event.stream, 1)?.next() else { continue };
        let upload = reader.event(first?);
        match upload.map_err(crate::Error::from).and_then(|e| crate::archive::blobs_named(&e)) {
            Ok(ids) => out.extend(ids),
            Err(e) => {
                tracing::debug!(stream = %record.event.stream, error = %e, "an erased image's upload cannot be read here")
            }
        }
    }
    Ok(out)
}
