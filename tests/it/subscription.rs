//! Subscriptions over graphql-transport-ws with a real WebSocket client.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use morgue::archive::WriteOptions;
use morgue::domain::{AuthorCommand, AuthorId, Command};

use crate::server::Server;

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn connect(s: &Server) -> Ws {
    let mut request =
        format!("{}/graphql/ws", s.base.replace("http://", "ws://")).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.headers().get("sec-websocket-protocol").unwrap(), "graphql-transport-ws");
    ws
}

pub(crate) async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

pub(crate) async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match ws.next().await.expect("the server closed").unwrap() {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => continue,
        }
    }
}

pub(crate) async fn close_code(ws: &mut Ws) -> u16 {
    loop {
        match ws.next().await {
            Some(Ok(Message::Close(Some(frame)))) => return frame.code.into(),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

fn append_authors(s: &Server, n: usize) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for i in 0..n {
        let command = Command::Author(
            AuthorId::generate(),
            AuthorCommand::Register { name: format!("Writer {i}"), bio: None },
        );
        rt.block_on(s.archive.execute(Some("test"), command, WriteOptions::default())).unwrap();
    }
}

#[test]
fn catch_up_then_live_with_no_gap_and_no_duplicate() {
    let s = Server::start();
    append_authors(&s, 40);
    let total = 200u64;
    std::thread::scope(|scope| {
        let received = s.rt.block_on(async {
            let mut ws = connect(&s).await;
            // The log is staff's: the socket carries an editor's token.
            send(&mut ws, json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", s.editor)}})).await;
            assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
            send(
                &mut ws,
                json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { events(after: \"0\") { position type } }"}}),
            )
            .await;
            // Writes race the catch-up: they start once the subscription is running.
            let first = next_json(&mut ws).await;
            scope.spawn(|| append_authors(&s, total as usize - 40));
            let mut positions = vec![first["payload"]["data"]["events"]["position"].as_str().unwrap().parse::<u64>().unwrap()];
            while positions.len() < total as usize {
                let msg = next_json(&mut ws).await;
                assert_eq!(msg["type"], "next", "{msg}");
                assert_eq!(msg["id"], "1");
                positions.push(msg["payload"]["data"]["events"]["position"].as_str().unwrap().parse().unwrap());
            }
            send(&mut ws, json!({"id": "1", "type": "complete"})).await;
            positions
        });
        assert_eq!(received, (1..=total).collect::<Vec<_>>());
    });
}

#[test]
fn protocol_violations_close_with_the_protocol_s_codes() {
    let s = Server::start();
    s.rt.block_on(async {
        let sub = json!({"id": "a", "type": "subscribe", "payload": {"query": "subscription { events { position } }"}});
        // Subscribe before the connection is acknowledged: 4401.
        let mut ws = connect(&s).await;
        send(&mut ws, sub.clone()).await;
        assert_eq!(close_code(&mut ws).await, 4401);
        // A message the protocol does not have: 4400.
        let mut ws = connect(&s).await;
        send(&mut ws, json!({"type": "connection_init"})).await;
        next_json(&mut ws).await;
        send(&mut ws, json!({"type": "shout"})).await;
        assert_eq!(close_code(&mut ws).await, 4400);
        // A second connection_init: 4429.
        let mut ws = connect(&s).await;
        send(&mut ws, json!({"type": "connection_init"})).await;
        next_json(&mut ws).await;
        send(&mut ws, json!({"type": "connection_init"})).await;
        assert_eq!(close_code(&mut ws).await, 4429);
        // A subscription id already in use: 4409 (a staff socket, so the first one runs on).
        let mut ws = connect(&s).await;
        send(&mut ws, json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", s.editor)}})).await;
        next_json(&mut ws).await;
        send(&mut ws, sub.clone()).await;
        send(&mut ws, sub).await;
        assert_eq!(close_code(&mut ws).await, 4409);
        // Ping is answered with pong; a bad query gets an `error` message.
        let mut ws = connect(&s).await;
        send(&mut ws, json!({"type": "connection_init"})).await;
        next_json(&mut ws).await;
        send(&mut ws, json!({"type": "ping"})).await;
        assert_eq!(next_json(&mut ws).await["type"], "pong");
        send(&mut ws, json!({"id": "b", "type": "subscribe", "payload": {"query": "subscription { nope }"}})).await;
        let msg = next_json(&mut ws).await;
        assert_eq!((msg["type"].as_str(), msg["id"].as_str()), (Some("error"), Some("b")), "{msg}");
    });
}

/// The socket's bounds: message size, operations per socket, the token checked on every
/// operation and event, and queries and mutations over the socket answered like over HTTP.
#[test]
fn the_socket_is_bounded_and_its_token_is_checked_on_every_operation() {
    let s = Server::start();
    let bearer = format!("Bearer {}", s.editor);
    s.rt.block_on(async {
        // A message over 2 MiB ends the socket; the node goes on.
        let mut ws = connect(&s).await;
        send(&mut ws, json!({"type": "connection_init", "payload": {"authorization": bearer}})).await;
        assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
        let huge = json!({"id": "x", "type": "subscribe", "payload": {"query": "x".repeat(3 << 20)}});
        let _ = ws.send(Message::Text(huge.to_string().into())).await;
        let ended = loop {
            match ws.next().await {
                None | Some(Err(_)) => break None,
                Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
            }
        };
        assert!(ended.is_none_or(|code| code == 1009), "closed with {ended:?}");

        // 32 operations at once on one socket; the 33rd is refused with LIMIT.
        let mut ws = connect(&s).await;
        send(&mut ws, json!({"type": "connection_init", "payload": {"authorization": bearer}})).await;
        assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
        let head = s.head().to_string();
        for i in 0..32 {
            let q = format!("subscription {{ events(after: \"{head}\") {{ position }} }}");
            send(&mut ws, json!({"id": i.to_string(), "type": "subscribe", "payload": {"query": q}})).await;
        }
        send(&mut ws, json!({"id": "33", "type": "subscribe", "payload": {"query": "{ status { head } }"}})).await;
        let refused = next_json(&mut ws).await;
        assert_eq!((refused["id"].as_str(), refused["type"].as_str()), (Some("33"), Some("error")), "{refused}");
        assert_eq!(refused["payload"][0]["extensions"]["code"], "LIMIT", "{refused}");
        // Completing one makes room.
        send(&mut ws, json!({"id": "0", "type": "complete"})).await;
        send(&mut ws, json!({"id": "34", "type": "subscribe", "payload": {"query": "{ status { head } }"}})).await;
        let answer = next_json(&mut ws).await;
        assert_eq!((answer["id"].as_str(), answer["type"].as_str()), (Some("34"), Some("next")), "{answer}");

        // A mutation over the socket is answered once, then completed.
        send(&mut ws, json!({"id": "m", "type": "subscribe", "payload": {"query": "mutation { registerAuthor(input: {name: \"Socket Writer\"}) { position } }"}})).await;
        // Its answer, then `complete`; meanwhile the running subscriptions see its event.
        let mut mine = Vec::new();
        loop {
            let m = next_json(&mut ws).await;
            if m["id"] == "m" {
                let done = m["type"] == "complete";
                mine.push(m);
                if done {
                    break;
                }
            } else if m["id"] != "34" {
                assert_eq!(m["type"], "next", "{m}");
            }
        }
        assert_eq!(mine.len(), 2, "{mine:?}");
        assert!(mine[0]["payload"]["data"]["registerAuthor"]["position"].is_string(), "{mine:?}");

        // Revoked while the socket is open: the next event closes it with 4403.
        morgue::auth::Tokens::load(s.data()).unwrap().revoke("night-desk").unwrap();
        let command = Command::Author(AuthorId::generate(), AuthorCommand::Register { name: "After".into(), bio: None });
        s.archive.execute(Some("test"), command, WriteOptions::default()).await.unwrap();
        assert_eq!(close_code(&mut ws).await, 4403);

        // And a new operation on a socket whose token was revoked is refused the same way.
        let editor = morgue::auth::Tokens::load(s.data()).unwrap().create("late-desk", morgue::graphql::Role::Editor).unwrap();
        let mut ws = connect(&s).await;
        send(&mut ws, json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {editor}")}})).await;
        assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
        morgue::auth::Tokens::load(s.data()).unwrap().revoke("late-desk").unwrap();
        send(&mut ws, json!({"id": "1", "type": "subscribe", "payload": {"query": "{ status { head } }"}})).await;
        assert_eq!(close_code(&mut ws).await, 4403);
    });
    // The node is still serving.
    let (status, _) = s.post(None, "{ status { head } }", json!({}));
    assert_eq!(status, 200);
}
