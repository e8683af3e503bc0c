//! The hub and the session through channels: a [`Pipe`] stands in for the socket, so each
//! rule (what goes out first, overflow, shutdown, what a client may say) is checked without
//! a network. The real sockets are covered by `tests/hmr.rs`.

use super::Hub;
use super::queue::{CLIENT_QUEUE, Next, Stop};
use super::session;
use crate::events::Event;
use crate::protocol::{ErrorInfo, Payload};
use futures_util::{Sink, Stream};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000))
}

fn hub() -> Hub {
    Hub::with_keepalive(Duration::from_secs(30))
}

/// The session's end of an in-memory socket.
struct Pipe {
    incoming: mpsc::UnboundedReceiver<Result<Message, WsError>>,
    outgoing: mpsc::UnboundedSender<Message>,
}

/// The client's end: what it says, and what it receives.
struct Client {
    says: mpsc::UnboundedSender<Result<Message, WsError>>,
    hears: mpsc::UnboundedReceiver<Message>,
}

impl Client {
    async fn text(&mut self) -> serde_json::Value {
        match self.hears.recv().await {
            Some(Message::Text(text)) => serde_json::from_str(&text).unwrap(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    async fn close_code(&mut self) -> CloseCode {
        match self.hears.recv().await {
            Some(Message::Close(Some(frame))) => frame.code,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    fn say(&self, text: &str) {
        self.says.send(Ok(Message::text(text))).unwrap();
    }
}

fn pipe() -> (Pipe, Client) {
    let (says, incoming) = mpsc::unbounded_channel();
    let (outgoing, hears) = mpsc::unbounded_channel();
    (Pipe { incoming, outgoing }, Client { says, hears })
}

impl Stream for Pipe {
    type Item = Result<Message, WsError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.incoming.poll_recv(cx)
    }
}

impl Sink<Message> for Pipe {
    type Error = WsError;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), WsError> {
        self.outgoing
            .send(item)
            .map_err(|_| WsError::ConnectionClosed)
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Poll::Ready(Ok(()))
    }
}

/// A session running on `hub`, and its client's end once `connected` has arrived.
async fn connect(hub: &Hub) -> (Client, tokio::task::JoinHandle<()>) {
    let (socket, mut client) = pipe();
    let task = tokio::spawn(session::serve(socket, hub.clone(), peer()));
    assert_eq!(client.text().await["type"], "connected");
    (client, task)
}

fn error_payload(message: &str) -> ErrorInfo {
    ErrorInfo {
        message: message.into(),
        ..Default::default()
    }
}

// ---- hub ----

#[tokio::test]
async fn a_new_client_gets_connected_before_anything_else() {
    let hub = hub();
    let mut registration = hub.register(peer()).unwrap();
    hub.full_reload();
    let Next::Payload(first) = registration.queue.next().await else {
        panic!("no payload")
    };
    assert_eq!(first, r#"{"type":"connected"}"#);
    let Next::Payload(second) = registration.queue.next().await else {
        panic!("no payload")
    };
    assert!(second.contains("full-reload"));
}

#[tokio::test]
async fn an_error_sent_while_nobody_is_connected_waits_for_the_next_client() {
    let hub = hub();
    hub.error(error_payload("build failed"));
    let mut registration = hub.register(peer()).unwrap();
    let _connected = registration.queue.next().await;
    let Next::Payload(pending) = registration.queue.next().await else {
        panic!("no pending payload")
    };
    assert!(pending.contains("build failed"));
    // Delivered once: the next client does not get it again.
    let mut later = hub.register(peer()).unwrap();
    let _connected = later.queue.next().await;
    hub.custom("marker", None);
    let Next::Payload(next) = later.queue.next().await else {
        panic!("no payload")
    };
    assert!(next.contains("marker"));
}

#[tokio::test]
async fn every_client_gets_the_same_payload() {
    let hub = hub();
    let mut a = hub.register(peer()).unwrap();
    let mut b = hub.register(peer()).unwrap();
    hub.reload_page("/index.html");
    for registration in [&mut a, &mut b] {
        let _connected = registration.queue.next().await;
        let Next::Payload(text) = registration.queue.next().await else {
            panic!("no payload")
        };
        assert_eq!(
            text, r#"{"type":"full-reload","path":"/index.html"}"#,
            "one serialization, fanned out"
        );
    }
    assert_eq!(hub.client_count(), 2);
}

#[tokio::test]
async fn a_client_whose_queue_overflows_is_stopped_and_forgotten() {
    let hub = hub();
    let mut stalled = hub.register(peer()).unwrap();
    for _ in 0..CLIENT_QUEUE {
        hub.custom("tick", None);
    }
    assert_eq!(hub.client_count(), 0, "removed when its queue overflowed");
    assert!(matches!(
        stalled.queue.next().await,
        Next::Stop(Stop::Overflow)
    ));
}

#[tokio::test]
async fn client_local_event_names_are_not_sent() {
    let hub = hub();
    let mut registration = hub.register(peer()).unwrap();
    let _connected = registration.queue.next().await;
    hub.custom("vite:ws:connect", None);
    hub.custom("app:ready", None);
    let Next::Payload(text) = registration.queue.next().await else {
        panic!("no payload")
    };
    assert!(text.contains("app:ready"), "{text}");
}

#[tokio::test]
async fn sends_report_how_many_clients_they_reached() {
    let hub = hub();
    let mut events = hub.events();
    hub.full_reload();
    let _registration = hub.register(peer()).unwrap();
    hub.full_reload();
    let mut reached = Vec::new();
    while reached.len() < 2 {
        if let Some(Event::PayloadSent { clients, .. }) = events.next().await {
            reached.push(clients);
        }
    }
    assert_eq!(reached, [0, 1]);
}

#[tokio::test]
async fn after_shutdown_no_client_is_registered() {
    let hub = hub();
    hub.close_all(Duration::from_secs(1)).await;
    assert!(hub.register(peer()).is_none());
}

// ---- session ----

#[tokio::test]
async fn a_session_writes_broadcasts_in_order() {
    let hub = hub();
    let (mut client, _task) = connect(&hub).await;
    hub.reload_page("/a.html");
    hub.send(Payload::Prune {
        paths: vec!["/b.js".into()],
    });
    assert_eq!(client.text().await["path"], "/a.html");
    assert_eq!(client.text().await["type"], "prune");
}

#[tokio::test]
async fn shutdown_closes_every_session_with_1001_and_waits_for_it() {
    let hub = hub();
    let (mut client, task) = connect(&hub).await;
    hub.close_all(Duration::from_secs(10)).await;
    assert_eq!(hub.client_count(), 0);
    assert_eq!(client.close_code().await, CloseCode::Away);
    task.await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_session_that_falls_behind_gets_one_reload_then_1008() {
    let hub = hub();
    let (mut client, task) = connect(&hub).await;
    // The session task cannot run between these sends (one thread, no await), so its
    // queue fills exactly as a stalled socket's would.
    for _ in 0..=CLIENT_QUEUE {
        hub.custom("tick", None);
    }
    assert_eq!(client.text().await["type"], "full-reload");
    assert_eq!(client.close_code().await, CloseCode::Policy);
    task.await.unwrap();
}

#[tokio::test]
async fn hot_invalidate_from_a_client_goes_to_the_planner_queue() {
    let hub = hub();
    let mut invalidations = hub.take_invalidations().unwrap();
    let (client, _task) = connect(&hub).await;
    client.say(r#"{"type":"custom","event":"vite:invalidate","data":{"path":"/a.js"}}"#);
    let message = invalidations.recv().await.unwrap();
    assert_eq!(message.path, "/a.js");
}

#[tokio::test]
async fn custom_messages_become_events_and_garbage_is_ignored() {
    let hub = hub();
    let mut events = hub.events();
    let (client, _task) = connect(&hub).await;
    client.say("not json");
    client.say(r#"{"type":"custom","event":"vite:invalidate","data":"not an object"}"#);
    client.say(r#"{"type":"custom","event":"app:saved","data":{"n":1}}"#);
    loop {
        match events.next().await {
            Some(Event::ClientCustom { name, data, .. }) => {
                assert_eq!(name, "app:saved");
                assert_eq!(data.unwrap()["n"], 1);
                break;
            }
            Some(Event::Invalidate { .. }) => panic!("a malformed invalidate was accepted"),
            Some(_) => {}
            None => panic!("event stream ended"),
        }
    }
}

#[tokio::test]
async fn a_client_that_closes_is_unregistered() {
    let hub = hub();
    let mut events = hub.events();
    let (client, task) = connect(&hub).await;
    drop(client);
    task.await.unwrap();
    assert_eq!(hub.client_count(), 0);
    loop {
        if let Some(Event::ClientDisconnected { reason, .. }) = events.next().await {
            assert_eq!(reason, "closed by client");
            break;
        }
    }
}
