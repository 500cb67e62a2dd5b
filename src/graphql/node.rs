//! Output types of the log and of the node: events, and the node's status (head, projectors,
//! replication).

use async_graphql::{ID, Json, Object, SimpleObject};

use super::scalars::{Instant, Pos};
use super::types::PageInfo;
use crate::archive::RecordedEvent;

fn int(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// One event of the log, with its envelope.
pub struct EventObj(pub RecordedEvent);

/// One event of the log with its envelope: the raw record every other answer is derived from.
#[Object(name = "Event")]
impl EventObj {
    /// Its position in the log (gapless, from 1).
    async fn position(&self) -> Pos {
        Pos(self.0.position)
    }
    /// The stream it belongs to: `article-<id>` or `author-<id>`.
    async fn stream_id(&self) -> ID {
        ID(self.0.stream.clone())
    }
    /// Its version within its stream (gapless, from 1).
    async fn version(&self) -> i32 {
        int(self.0.version)
    }
    /// The event type: `AuthorRegistered`, `AuthorRenamed`, `ArticleDrafted`,
    /// `ArticleRevised`, `ArticlePublished`, `ArticleRetracted`, `CorrectionAppended`,
    /// `BylineAdded` or `BylineRemoved`.
    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// The version of the payload's shape for its type (older shapes stay readable).
    async fn schema_version(&self) -> i32 {
        i32::from(self.0.schema_version)
    }
    /// When the archive recorded it: strictly increasing along the log.
    async fn recorded_at(&self) -> Instant {
        Instant(self.0.recorded_at)
    }
    /// When it took effect in the world: never after `recordedAt`, never before the previous
    /// event of its stream.
    async fn effective_at(&self) -> Instant {
        Instant(self.0.effective_at)
    }
    /// Who wrote it (the token's name, or the importer's); `null` if not recorded.
    async fn actor(&self) -> Option<&str> {
        self.0.actor.as_deref()
    }
    /// Shared by every event written for one command; `null` if not recorded.
    async fn correlation_id(&self) -> Option<&str> {
        self.0.correlation_id.as_deref()
    }
    /// The payload: a JSON object with snake_case keys, shaped by `type` and
    /// `schemaVersion`; `null` for an event of an erased stream (only its envelope is left).
    async fn payload(&self) -> Json<serde_json::Value> {
        if self.0.sealed {
            return Json(serde_json::Value::Null);
        }
        Json(serde_json::from_slice(&self.0.payload).unwrap_or(serde_json::Value::Null))
    }

    /// Whether the event's content was erased with its stream: its payload is gone for good.
    async fn erased(&self) -> bool {
        self.0.sealed
    }
}

/// A page of the log.
#[derive(SimpleObject)]
pub struct EventConnection {
    /// The events of this page, in position order.
    pub edges: Vec<EventEdge>,
    /// Where this page stands in the log.
    pub page_info: PageInfo,
}

/// An event in a page.
#[derive(SimpleObject)]
pub struct EventEdge {
    /// The event's position as a decimal string: pass it as `after` to continue after it.
    pub cursor: String,
    /// The event.
    pub node: EventObj,
}

/// The archive's state.
#[derive(SimpleObject)]
pub struct Status {
    /// The position of the last event in the log (`0` when it is empty).
    pub head: Pos,
    /// Each projector's checkpoint and lag.
    pub projectors: Vec<ProjectorStatus>,
    /// WRITER, or REPLICA (a read replica: refuses every mutation with READ_ONLY).
    pub role: NodeRole,
    /// The link to NATS JetStream: the writer's publisher or the replica's follower; null
    /// when this node neither publishes nor follows.
    pub replication: Option<Replication>,
}

/// What a node does with writes.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum NodeRole {
    /// Takes writes (and may publish its log).
    Writer,
    /// A read replica following a writer's published log.
    Replica,
}

/// A node's link to the NATS JetStream stream that carries the log.
#[derive(SimpleObject)]
pub struct Replication {
    /// `nats://host:port/STREAM`.
    pub target: String,
    /// Connected to NATS and the stream now.
    pub connected: bool,
    /// Writer: the last position the stream holds. Replica: the last position applied to its
    /// own log.
    pub position: Pos,
    /// Writer: events not yet published. Replica: events in the stream not yet applied.
    pub lag: i32,
    /// Replica: it has reached the end of the stream at least once since it started.
    pub caught_up: bool,
    /// The last error, until the link recovers.
    pub error: Option<String>,
}

/// A projector's state.
#[derive(SimpleObject)]
pub struct ProjectorStatus {
    /// `views` (the views that answer reads) or `search` (the full-text index).
    pub name: String,
    /// The last log position it has durably applied: reads include everything up to it.
    pub checkpoint: Pos,
    /// Events it has still to apply: head minus checkpoint.
    pub lag: i32,
    /// Why it is stuck (it retries when the log moves, and the node reports not ready until
    /// it recovers); `null` while it works.
    pub error: Option<String>,
}
