//! The writer's outbox: the log, in position order, into the JetStream stream.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::{context::PublishAckFuture, stream};

use super::Link;
use super::wire::WireEvent;
use crate::Position;
use crate::store::Store;
use crate::store::blobs::BlobId;

/// Events read from the log per round.
const BATCH: usize = 1024;
/// Publishes awaiting their acknowledgement at once.
const WINDOW: usize = 256;

/// Publishes the log to the stream for as long as the task runs: connects (and reconnects,
/// with backoff), creates the stream if it is missing, resumes after its last sequence, then
/// follows the log's head. Appends never wait for it.
pub async fn publish(store: Store, link: Arc<Link>) {
    super::keep_running(&link, "publishing", || session(&store, &link)).await;
}

/// One connection's worth of publishing; returns only on error (or when the log closes).
async fn session(store: &Store, link: &Link) -> Result<(), String> {
    let config = &link.config;
    let js = super::connect(config, "morgue-writer").await?;
    let mut stream = js
        .get_or_create_stream(stream::Config {
            name: config.stream.clone(),
            description: Some(
                "morgue: the archive's event log, one message per event, sequence = position".into(),
            ),
            subjects: subjects(),
            storage: stream::StorageType::File,
            num_replicas: config.replicas.max(1),
            // The archive forgets nothing.
            deny_delete: true,
            deny_purge: true,
            allow_direct: true,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("creating stream {}: {e}", config.stream))?;
    // A stream made before images were published: it takes their subject too.
    let mut existing =
        stream.info().await.map_err(|e| format!("stream {}: {e}", config.stream))?.config.clone();
    if existing.subjects != subjects() {
        existing.subjects = subjects();
        js.update_stream(existing)
            .await
            .map_err(|e| format!("adding subjects to stream {}: {e}", config.stream))?;
    }
    let last = super::last_sequence(&mut stream).await?;
    if let Err(reason) = check_same_log(store, &stream, last).await {
        // Publishing on would fork the feed: stop for good and refuse writes.
        link.halt(format!("{reason}; this writer refuses writes until an operator reconciles it"));
        return Err(reason);
    }
    let bucket = super::keys::open(&js, config, true).await?;
    let objects = super::blobs::open(&js, config, true).await?;
    let local = store.blobs();
    link.done.store(last, Ordering::Release);
    link.set_connected(true);
    tracing::info!(target = %config.describe(), last, head = %store.head(), "publishing the log");

    let mut heads = store.subscribe();
    let mut next = last + 1;
    loop {
        let head = *heads.borrow_and_update();
        if next > head.get() {
            if heads.changed().await.is_err() {
                return Ok(());
            }
            continue;
        }
        let reader = store.clone();
        let after = Position(next - 1);
        let (events, keys, named) = tokio::task::spawn_blocking(move || batch(&reader, after))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("reading the log: {e}"))?;
        let mut acks: VecDeque<(u64, PublishAckFuture)> = VecDeque::with_capacity(WINDOW);
        for ((event, key), blobs) in events.iter().zip(keys).zip(named) {
            // The bytes an event names are in the bucket before the event is on the stream.
            for id in blobs {
                super::blobs::put(&objects, &local, id, &event.stream).await?;
            }
            // A stream's key is in the bucket before its first event is on the stream; an
            // erasure destroys it there before the erasure itself is published (and an erased
            // image's bytes leave the blob bucket).
            match key {
                KeyChange::None => {}
                KeyChange::Put(key) => super::keys::put(&bucket, &event.stream, &key).await?,
                KeyChange::Shred => {
                    super::keys::shred(&bucket, &event.stream).await?;
                    if crate::archive::names_blobs_in(&event.stream) {
                        super::blobs::forget(&objects, &event.stream).await?;
                    }
                }
            }
            let (subject, message) = WireEvent::of(event, config.signing_key.as_deref()).into_message();
            let position = event.position;
            let ack = js.send_publish(subject, message).await.map_err(|e| {
                format!(
                    "publishing position {position}: {e} (an event can be over 1 MiB: give the NATS \
                     servers `max_payload: 8MB`)"
                )
            })?;
            acks.push_back((event.position.get(), ack));
            if acks.len() >= WINDOW
                && let Some(pending) = acks.pop_front()
            {
                settle(link, pending).await?;
            }
        }
        while let Some(pending) = acks.pop_front() {
            settle(link, pending).await?;
        }
        next = link.done.load(Ordering::Acquire) + 1;
    }
}

/// What the bucket of keys must learn before an event is published.
enum KeyChange {
    None,
    Put(crate::store::StreamKey),
    Shred,
}

/// The subjects of the stream: one per kind of stream.
fn subjects() -> Vec<String> {
    vec!["morgue.article.*".into(), "morgue.author.*".into(), "morgue.image.*".into()]
}

/// What [`batch`] answers: the events, each one's key change, and the blobs each names.
type Batch = (Vec<crate::store::RecordedEvent>, Vec<KeyChange>, Vec<Vec<BlobId>>);

/// The next events as stored (sealed payloads stay sealed on the feed), and for each the key
/// change it brings (a stream's first event puts its key, an erasure shreds it) and the blobs
/// it names.
fn batch(store: &Store, after: Position) -> crate::Result<Batch> {
    let reader = store.reader()?;
    let erased: rustc_hash::FxHashMap<String, Position> = reader.erased()?.into_iter().collect();
    let events: Vec<_> = reader.stored_after(after)?.take(BATCH).collect::<crate::store::Result<_>>()?;
    let mut changes = Vec::with_capacity(events.len());
    let mut named = Vec::with_capacity(events.len());
    for e in &events {
        named.push(if crate::archive::names_blobs(&e.event_type) {
            crate::archive::blobs_named(&reader.event(e.position)?)?
        } else {
            Vec::new()
        });
        changes.push(if erased.get(&e.stream) == Some(&e.position) {
            KeyChange::Shred
        } else if e.version == 1 && e.sealed {
            reader.key(&e.stream)?.map_or(KeyChange::None, KeyChange::Put)
        } else {
            KeyChange::None
        });
    }
    Ok((events, changes, named))
}

/// Waits for one acknowledgement and records it: the stream must have put the event at its
/// own position.
async fn settle(link: &Link, (position, ack): (u64, PublishAckFuture)) -> Result<(), String> {
    let ack = ack.await.map_err(|e| format!("position {position} was not acknowledged: {e}"))?;
    if ack.sequence != position {
        let reason = format!(
            "position {position} was stored at sequence {}: another log publishes to this stream; \
             this writer refuses writes until an operator reconciles it",
            ack.sequence
        );
        link.halt(reason.clone());
        return Err(reason);
    }
    link.done.store(position, Ordering::Release);
    Ok(())
}

/// A stream that already holds events must hold *this* log's: its last message's checksum
/// must be the one of the event at that position here.
async fn check_same_log(store: &Store, stream: &stream::Stream, last: u64) -> Result<(), String> {
    if last == 0 {
        return Ok(());
    }
    let head = store.head().get();
    if last > head {
        return Err(format!(
            "the stream holds {last} events but this log only {head}: it was published by another log"
        ));
    }
    if !super::same_event(store, stream, last).await? {
        return Err(format!("the stream's event {last} is not this log's: it was published by another log"));
    }
    Ok(())
}
