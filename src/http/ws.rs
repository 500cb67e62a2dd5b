//! GraphQL over WebSocket, the `graphql-transport-ws` protocol, with its close codes:
//! 4400 for a message that is not one of the protocol's, 4401 for a subscribe before the
//! connection is acknowledged, 4408 when no `connection_init` arrives in time, 4409 for a
//! subscription id already in use, 4429 for a second `connection_init`.

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::futures_util::StreamExt;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::AppState;
use crate::graphql::Viewer;

/// The subprotocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";
/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Upgrades to a WebSocket speaking `graphql-transport-ws`.
pub async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.protocols([PROTOCOL]).on_upgrade(move |socket| session(state, socket))
}

fn close(code: u16, reason: impl Into<String>) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into().into() }))
}

fn text(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

async fn session(state: AppState, mut socket: WebSocket) {
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(256);
    let mut acknowledged = false;
    let mut viewer = Viewer::Anonymous;
    let mut running: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(init_deadline);
    loop {
        tokio::select! {
            _ = &mut init_deadline, if !acknowledged => {
                let _ = socket.send(close(4408, "Connection initialisation timeout")).await;
                break;
            }
            Some(message) = out_rx.recv() => {
                if socket.send(message).await.is_err() {
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
                let kind = msg.get("type").and_then(Value::as_str).unwrap_or_default();
                match kind {
                    "connection_init" => {
                        if acknowledged {
                            let _ = socket.send(close(4429, "Too many initialisation requests")).await;
                            break;
                        }
                        let auth = msg
                            .get("payload")
                            .and_then(|p| p.get("authorization").or_else(|| p.get("Authorization")))
                            .and_then(Value::as_str);
                        match state.tokens.viewer(auth) {
                            Ok(v) => viewer = v,
                            Err(_) => {
                                let _ = socket.send(close(4403, "Forbidden: the token is unknown or revoked")).await;
                                break;
                            }
                        }
                        acknowledged = true;
                        if socket.send(text(json!({"type": "connection_ack"}))).await.is_err() {
                            break;
                        }
                    }
                    "ping" => {
                        if socket.send(text(json!({"type": "pong"}))).await.is_err() {
                            break;
                        }
                    }
                    "pong" => {}
                    "subscribe" => {
                        if !acknowledged {
                            let _ = socket.send(close(4401, "Unauthorized")).await;
                            break;
                        }
                        let (Some(id), Some(payload)) =
                            (msg.get("id").and_then(Value::as_str), msg.get("payload").and_then(Value::as_object))
                        else {
                            let _ = socket.send(close(4400, "Invalid message: subscribe needs an id and a payload")).await;
                            break;
                        };
                        running.retain(|_, task| !task.is_finished());
                        if running.contains_key(id) {
                            let _ = socket.send(close(4409, format!("Subscriber for {id} already exists"))).await;
                            break;
                        }
                        let Some(query) = payload.get("query").and_then(Value::as_str) else {
                            let _ = socket.send(close(4400, "Invalid message: the payload needs a query")).await;
                            break;
                        };
                        let mut request = async_graphql::Request::new(query).data(viewer.clone());
                        if let Some(name) = payload.get("operationName").and_then(Value::as_str) {
                            request = request.operation_name(name);
                        }
                        if let Some(vars) = payload.get("variables").filter(|v| v.is_object()) {
                            request = request.variables(async_graphql::Variables::from_json(vars.clone()));
                        }
                        let id = id.to_owned();
                        let schema = state.schema.clone();
                        let tx = out_tx.clone();
                        let task_id = id.clone();
                        running.insert(id, tokio::spawn(async move {
                            let mut stream = schema.execute_stream(request);
                            let mut first = true;
                            while let Some(response) = stream.next().await {
                                let is_request_error = first
                                    && response.data == async_graphql::Value::Null
                                    && !response.errors.is_empty()
                                    && response.errors.iter().all(|e| e.path.is_empty());
                                first = false;
                                let message = if is_request_error {
                                    json!({"id": task_id, "type": "error", "payload": response.errors})
                                } else {
                                    json!({"id": task_id, "type": "next", "payload": response})
                                };
                                if tx.send(text(message)).await.is_err() || is_request_error {
                                    return;
                                }
                            }
                            let _ = tx.send(text(json!({"id": task_id, "type": "complete"}))).await;
                        }));
                    }
                    "complete" => {
                        if let Some(task) = msg.get("id").and_then(Value::as_str).and_then(|id| running.remove(id)) {
                            task.abort();
                        }
                    }
                    other => {
                        let _ = socket.send(close(4400, format!("Invalid message type {other:?}"))).await;
                        break;
                    }
                }
            }
        }
    }
    for (_, task) in running {
        task.abort();
    }
}
