//! GraphQL over WebSocket, the `graphql-transport-ws` protocol, with its close codes:
//! 4400 for a message that is not one of the protocol's, 4401 for a subscribe before the
//! connection is acknowledged, 4408 when no `connection_init` arrives in time, 4409 for a
//! subscription id already in use, 4429 for a second `connection_init`, 4403 for a token
//! unknown at `connection_init` or revoked since (it is checked again on every operation and
//! before every event sent).
//!
//! Bounds: messages of at most [`MAX_MESSAGE`] bytes, [`MAX_OPERATIONS`] operations running
//! per socket (more get an `error` with code LIMIT) and [`MAX_SOCKETS`] sockets per node (more
//! get a 503). Queries and mutations sent over the socket run as those over HTTP do: on the
//! blocking pool, under the same timeout.

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::futures_util::StreamExt;
use async_graphql::parser::types::OperationType;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::AppState;
use crate::Code;
use crate::graphql::Viewer;

/// The subprotocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";
/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest message (and frame) a client may send, bytes.
pub const MAX_MESSAGE: usize = 2 << 20;
/// Operations (subscriptions, queries, mutations) running at once on one socket.
pub const MAX_OPERATIONS: usize = 32;
/// Open sockets per node.
pub const MAX_SOCKETS: usize = 1024;

/// Upgrades to a WebSocket speaking `graphql-transport-ws`, if the node has a place for it.
pub async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    let Ok(place) = state.sockets.clone().try_acquire_owned() else {
        return super::request_error(
            super::Media::Json,
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Code::Limit,
            format!("this node has {MAX_SOCKETS} sockets open, its limit; try again later"),
        );
    };
    ws.protocols([PROTOCOL]).max_message_size(MAX_MESSAGE).max_frame_size(MAX_MESSAGE).on_upgrade(
        move |socket| async move {
            session(state, socket).await;
            drop(place);
        },
    )
}

fn close(code: u16, reason: impl Into<String>) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into().into() }))
}

fn revoked() -> Message {
    close(4403, "Forbidden: the token is unknown or revoked")
}

fn text(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

fn coded_error(id: &str, code: Code, message: String) -> Message {
    text(
        json!({"id": id, "type": "error", "payload": [{"message": message, "extensions": {"code": code.as_str()}}]}),
    )
}

/// Who the socket's token names now: `None` once it is revoked.
fn current_viewer(state: &AppState, auth: Option<&str>) -> Option<Viewer> {
    state.tokens.viewer(auth).ok()
}

/// What a socket has said so far.
struct Connection {
    acknowledged: bool,
    auth: Option<String>,
    running: HashMap<String, tokio::task::JoinHandle<()>>,
}

/// What the session loop does after a client message.
enum Next {
    Continue,
    /// Send this (a close frame) and end.
    Close(Message),
    /// Send this and go on.
    Reply(Message),
}

async fn session(state: AppState, mut socket: WebSocket) {
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(256);
    let mut conn = Connection { acknowledged: false, auth: None, running: HashMap::new() };
    let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(init_deadline);
    loop {
        tokio::select! {
            _ = &mut init_deadline, if !conn.acknowledged => {
                let _ = socket.send(close(4408, "Connection initialisation timeout")).await;
                break;
            }
            Some(message) = out_rx.recv() => {
                let closing = matches!(message, Message::Close(_));
                if socket.send(message).await.is_err() || closing {
                    break;
                }
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { break };
                let raw = match message {
                    Message::Text(t) => t.as_str().to_owned(),
                    Message::Binary(_) => {
                        let _ = socket.send(close(4400, "Binary messages are not part of the protocol")).await;
                        break;
                    }
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                let Ok(Value::Object(msg)) = serde_json::from_str::<Value>(&raw) else {
                    let _ = socket.send(close(4400, "Invalid message: not a JSON object")).await;
                    break;
                };
                match on_message(&state, &mut conn, &msg, &out_tx) {
                    Next::Continue => {}
                    Next::Reply(m) => {
                        if socket.send(m).await.is_err() {
                            break;
                        }
                    }
                    Next::Close(m) => {
                        let _ = socket.send(m).await;
                        break;
                    }
                }
            }
        }
    }
    for (_, task) in conn.running {
        task.abort();
    }
}

fn on_message(
    state: &AppState,
    conn: &mut Connection,
    msg: &Map<String, Value>,
    out: &mpsc::Sender<Message>,
) -> Next {
    match msg.get("type").and_then(Value::as_str).unwrap_or_default() {
        "connection_init" => {
            if conn.acknowledged {
                return Next::Close(close(4429, "Too many initialisation requests"));
            }
            let auth = msg
                .get("payload")
                .and_then(|p| p.get("authorization").or_else(|| p.get("Authorization")))
                .and_then(Value::as_str);
            if current_viewer(state, auth).is_none() {
                return Next::Close(revoked());
            }
            conn.auth = auth.map(str::to_owned);
            conn.acknowledged = true;
            Next::Reply(text(json!({"type": "connection_ack"})))
        }
        "ping" => Next::Reply(text(json!({"type": "pong"}))),
        "pong" => Next::Continue,
        "subscribe" => subscribe(state, conn, msg, out),
        "complete" => {
            if let Some(task) = msg.get("id").and_then(Value::as_str).and_then(|id| conn.running.remove(id)) {
                task.abort();
            }
            Next::Continue
        }
        other => Next::Close(close(4400, format!("Invalid message type {other:?}"))),
    }
}

fn subscribe(
    state: &AppState,
    conn: &mut Connection,
    msg: &Map<String, Value>,
    out: &mpsc::Sender<Message>,
) -> Next {
    if !conn.acknowledged {
        return Next::Close(close(4401, "Unauthorized"));
    }
    let (Some(id), Some(payload)) =
        (msg.get("id").and_then(Value::as_str), msg.get("payload").and_then(Value::as_object))
    else {
        return Next::Close(close(4400, "Invalid message: subscribe needs an id and a payload"));
    };
    conn.running.retain(|_, task| !task.is_finished());
    if conn.running.contains_key(id) {
        return Next::Close(close(4409, format!("Subscriber for {id} already exists")));
    }
    let Some(query) = payload.get("query").and_then(Value::as_str) else {
        return Next::Close(close(4400, "Invalid message: the payload needs a query"));
    };
    // The token is checked on every operation: one revoked since the socket opened ends it.
    let Some(viewer) = current_viewer(state, conn.auth.as_deref()) else { return Next::Close(revoked()) };
    if conn.running.len() >= MAX_OPERATIONS {
        return Next::Reply(coded_error(
            id,
            Code::Limit,
            format!("{MAX_OPERATIONS} operations are running on this socket, its limit; complete one first"),
        ));
    }
    if let Err(message) = crate::graphql::limits::check_text(query) {
        return Next::Reply(coded_error(id, Code::Limit, message));
    }
    let operation_name = payload.get("operationName").and_then(Value::as_str);
    let is_subscription = async_graphql::parser::parse_query(query).is_ok_and(|doc| {
        doc.operations.iter().any(|(name, op)| {
            op.node.ty == OperationType::Subscription
                && (operation_name.is_none() || name.map(|n| n.as_str()) == operation_name)
        })
    });
    let staff = viewer.is_staff();
    let mut request = async_graphql::Request::new(query).data(viewer);
    if let Some(name) = operation_name {
        request = request.operation_name(name);
    }
    if let Some(vars) = payload.get("variables").filter(|v| v.is_object()) {
        request = request.variables(async_graphql::Variables::from_json(vars.clone()));
    }
    let task = if is_subscription {
        tokio::spawn(follow(state.clone(), conn.auth.clone(), id.to_owned(), request, out.clone()))
    } else {
        tokio::spawn(answer_once(state.clone(), staff, id.to_owned(), request, out.clone()))
    };
    conn.running.insert(id.to_owned(), task);
    Next::Continue
}

fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// A query or a mutation over the socket: one answer, then `complete`.
async fn answer_once(
    state: AppState,
    staff: bool,
    id: String,
    request: async_graphql::Request,
    out: mpsc::Sender<Message>,
) {
    // One snapshot for the operation, as over HTTP.
    let request = match state.archive.snapshot(staff, crate::graphql::highest_min_position(&request)).await {
        Ok(snapshot) => request.data(snapshot),
        Err(e) => {
            let _ = out.send(coded_error(&id, e.code(), e.to_string())).await;
            return;
        }
    };
    let schema = state.schema.clone();
    let message = match state.pool.run_async(async move { schema.execute(request).await }).await {
        Ok(response) if is_request_error(&response) => {
            json!({"id": id, "type": "error", "payload": response.errors})
        }
        Ok(response) => json!({"id": id, "type": "next", "payload": response}),
        Err(refused @ super::offload::Refused::TimedOut(_)) => {
            let _ = out.send(coded_error(&id, Code::Limit, refused.to_string())).await;
            return;
        }
        Err(refused) => {
            let _ = out.send(coded_error(&id, Code::Internal, refused.to_string())).await;
            return;
        }
    };
    let done = message["type"] == "error";
    if out.send(text(message)).await.is_ok() && !done {
        let _ = out.send(text(json!({"id": id, "type": "complete"}))).await;
    }
}

/// A subscription: every event, each sent only while the socket's token is still valid.
async fn follow(
    state: AppState,
    auth: Option<String>,
    id: String,
    request: async_graphql::Request,
    out: mpsc::Sender<Message>,
) {
    let mut stream = state.schema.execute_stream(request);
    let mut first = true;
    while let Some(response) = stream.next().await {
        if current_viewer(&state, auth.as_deref()).is_none() {
            let _ = out.send(revoked()).await;
            return;
        }
        let request_error = first && is_request_error(&response);
        first = false;
        let message = if request_error {
            json!({"id": id, "type": "error", "payload": response.errors})
        } else {
            json!({"id": id, "type": "next", "payload": response})
        };
        if out.send(text(message)).await.is_err() || request_error {
            return;
        }
    }
    let _ = out.send(text(json!({"id": id, "type": "complete"}))).await;
}
