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
