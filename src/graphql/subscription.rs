//! The live log: catch up from a position, then follow, with no gap and no duplicate at the
//! seam (the head is watched before the catch-up read, and the last position sent is tracked).

use async_graphql::futures_util::Stream;
use async_graphql::futures_util::stream;
use async_graphql::{Context, ID, Subscription};

use super::scalars::Pos;
use super::to_gql;
use super::types::EventObj;
use crate::Position;
use crate::archive::Archive;

/// The root of subscriptions.
pub struct SubscriptionRoot;

struct Follow {
    archive: Archive,
    head: tokio::sync::watch::Receiver<Position>,
    last: Position,
    stream: Option<String>,
    buffer: std::collections::VecDeque<crate::archive::RecordedEvent>,
}

/// Live feeds, over the `graphql-transport-ws` WebSocket protocol.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Catch-up from `after` (exclusive), then live; no gap and no duplicate at the seam. For
    /// staff only, like the `events` query: without a token it answers UNAUTHENTICATED, and a
    /// token revoked while the socket is open ends the subscription.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Start after this position (exclusive): the log's events after it are sent \
                          first, then each new one as it is recorded. Default: from the start of the \
                          log.")]
        after: Option<Pos>,
        #[graphql(desc = "Only this stream's events: `article-<id>` or `author-<id>`, where `<id>` is \
                          an article's or an author's `id`.")]
        stream_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<EventObj>> + use<>> {
        let archive = ctx.data::<Archive>()?.clone();
        let staff = ctx.data_opt::<super::Viewer>().is_some_and(super::Viewer::is_staff);
        Archive::staff_only(staff, "the live log").map_err(to_gql)?;
        let head = archive.store().subscribe();
        let state = Follow {
            archive,
            head,
            last: after.map_or(Position::ZERO, |p| p.0),
            stream: stream_id.map(|s| s.0),
            buffer: Default::default(),
        };
        Ok(stream::unfold(state, |mut s| async move {
            loop {
                if let Some(event) = s.buffer.pop_front() {
                    return Some((Ok(EventObj(event)), s));
                }
                // Mark the head seen before reading, so an append after the read wakes us.
                s.head.borrow_and_update();
                let (archive, last, stream) = (s.archive.clone(), s.last, s.stream.clone());
                let read =
                    tokio::task::spawn_blocking(move || archive.events(true, last, stream.as_deref(), 500))
                        .await
                        .unwrap_or_else(|e| Err(crate::Error::Internal(format!("the read stopped: {e}"))));
                match read {
                    Ok(events) if !events.is_empty() => {
                        s.last = events.last().map(|e| e.position).unwrap_or(s.last);
                        s.buffer.extend(events);
                        continue;
                    }
                    Ok(_) => {
                        if s.stream.is_some() {
                            // A stream's events after `last` are read by version; keep the
                            // log position we have seen so far as the new floor.
                            s.last = s.last.max(Position::ZERO);
                        }
                    }
                    Err(e) => return Some((Err(to_gql(e)), s)),
                }
                if s.head.changed().await.is_err() {
                    return None;
                }
            }
        }))
    }
}
