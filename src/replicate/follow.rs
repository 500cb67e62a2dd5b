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
        let mut records: Vec<Restored> = Vec::with_capacity(batch.len());
        // Keys fetched for this batch's streams (the log learns them when it restores it).
        let mut keys: rustc_hash::FxHashMap<String, Option<StreamKey>> = Default::default();
        let mut remote = 0;
        for message in &batch {
            let info = message.info().map_err(|e| format!("a message without JetStream info: {e}"))?;
            let sequence = info.stream_sequence;
            remote = sequence + info.pending;
            if sequence < next {
                continue; // redelivered: already in the log
            }
            if sequence > next {
                return Err(format!("the stream skipped from {} to {sequence}", next - 1));
            }
            let line = WireEvent::line(&message.payload).map_err(|e| format!("sequence {sequence}: {e}"))?;
            let key = match keys.get(&line.stream) {
                Some(key) => *key,
                None if !line.sealed => None,
                None => {
                    let local =
                        store.reader().and_then(|r| r.key(&line.stream)).map_err(|e| e.to_string())?;
                    // A key the bucket no longer holds belongs to an erased stream.
                    let key = match local {
                        Some(key) => Some(key),
                        None => super::keys::get(&bucket, &line.stream).await?,
                    };
                    keys.insert(line.stream.clone(), key);
                    key
                }
            };
            let record = WireEvent::restored(&line, key).map_err(|e| format!("sequence {sequence}: {e}"))?;
            if record.erases {
                keys.insert(line.stream.clone(), None);
            }
            if let Some(key) = &config.writer_key {
                let signature = message.headers.as_ref().and_then(|h| h.get(super::trust::H_SIGNATURE));
                if !key.verifies(&record.event.checksum, signature.map(|v| v.as_str())) {
                    let reason = format!(
                        "the stream's event at sequence {sequence} is not signed by the writer's key \
                         {key:?}: this replica stopped following, and serves the log up to position {}",
                        next - 1
                    );
                    link.halt(reason.clone());
                    return Err(reason);
                }
            }
            if record.event.position.get() != sequence {
                return Err(format!("sequence {sequence} holds position {}", record.event.position));
            }
            records.push(record);
            next += 1;
        }
        if !records.is_empty() {
            let later = store.restore_later(records).map_err(|e| format!("restoring: {e}"))?;
            tokio::task::spawn_blocking(move || later.wait())
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("restoring: {e}"))?;
            link.done.store(next - 1, Ordering::Release);
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
