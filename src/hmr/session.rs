//! One HMR socket: what the server sends and when, and what it does with what a client says.
//!
//! A session takes payloads from its client's queue and writes them, pings every keepalive
//! interval and drops a peer that stays silent, and ends the way the hub asks: after an
//! overflow with one last `full-reload` and 1008, at shutdown with 1001. Client messages
//! are parsed here; nothing a client sends can read files or fetch modules
//! (CVE-2026-39363).

use super::Hub;
use super::hub::Registration;
use super::queue::{Next, QueueRx, Stop};
use crate::events::{ClientId, Event};
use crate::protocol::{ClientMessage, INVALIDATE_EVENT, InvalidateMessage};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// The subprotocol of the HMR channel.
pub(crate) const HMR_PROTOCOL: &str = "vite-hmr";
/// The subprotocol clients use to see whether a restarted server is back.
pub(crate) const PING_PROTOCOL: &str = "vite-ping";

/// Incoming messages larger than this close the socket with 1009: clients only send small
/// JSON (pings, custom events), and a cap keeps a hostile page from using our memory.
pub(crate) const MAX_MESSAGE: usize = 64 * 1024;

/// A write that cannot complete in this time means the peer is gone.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);

/// What a session needs of its socket: frames in, frames out. A WebSocket in the server,
/// a pair of channels in tests.
pub(crate) trait Socket:
    Sink<Message, Error = WsError> + Stream<Item = Result<Message, WsError>> + Unpin + Send
{
}

impl<S> Socket for S where
    S: Sink<Message, Error = WsError> + Stream<Item = Result<Message, WsError>> + Unpin + Send
{
}

/// Take over a connection upgraded with `protocol` (`vite-hmr`, or `vite-ping`, which is
/// closed at once: it only asks whether the server is back). Runs until the session ends.
pub(crate) async fn accept(
    upgraded: hyper::upgrade::Upgraded,
    protocol: &'static str,
    hub: Hub,
    peer: SocketAddr,
    in_place: bool,
) {
    let mut ws =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(ws_config()))
            .await;
    if protocol == PING_PROTOCOL {
        close(&mut ws, CloseCode::Normal, "").await;
    } else {
        serve(&mut ws, hub, peer, in_place).await;
    }
    // A Close frame answering a client's own goes out with the next write: push it now.
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.flush()).await;
    linger(ws.get_mut()).await;
}

/// How long, and how many bytes, a closed socket keeps reading what its peer still sends.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// The end of every HMR socket, after our Close frame: stop writing (a FIN), then read and
/// drop what the peer still sends until it closes too, for [`LINGER_TIME`] and
/// [`LINGER_BYTES`] at most. Closing a socket with unread bytes in it makes the kernel send
/// a reset, and a reset can destroy our Close frame before the peer reads it: a client
/// still sending a frame that is too big would see 1006 instead of 1009 (RFC 6455 §7.1.1:
/// the server closes the TCP connection first, but not by throwing away the peer's data).
async fn linger<IO>(io: &mut IO)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let drain = async {
        let _ = io.shutdown().await;
        let mut buf = [0u8; 8192];
        let mut total = 0;
        while total < LINGER_BYTES {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

/// Small buffers: an idle browser costs a few KiB, not tungstenite's default 128 KiB read
/// buffer. Larger client messages grow the buffer while they last.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(512)
        .write_buffer_size(0)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// Serve one HMR client (`in_place`: it announced in-place updates) until it leaves,
/// stalls, goes silent, or the server shuts down.
pub(crate) async fn serve(mut ws: impl Socket, hub: Hub, peer: SocketAddr, in_place: bool) {
    let Some(Registration { id, mut queue }) = hub.register(peer, in_place) else {
        close(ws, CloseCode::Away, "server shutting down").await;
        return;
    };
    tracing::debug!(id, %peer, "HMR client connected");
    // Ping every `keepalive`; a peer silent for two and a half intervals (no pong, no
    // message) is gone: a closed laptop lid or a dropped network never sends a Close.
    let every = hub.keepalive();
    let silent_limit = every * 5 / 2;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut last_heard = Instant::now();
    let reason: String = loop {
        tokio::select! {
            biased;
            next = queue.next() => match next {
                Next::Payload(text) => {
                    if let Err(reason) = send(&mut ws, &queue, Message::Text(text)).await {
                        break reason;
                    }
                }
                Next::Stop(Stop::Shutdown) => {
                    close(ws, CloseCode::Away, "server shutting down").await;
                    break "server shutdown".into();
                }
                Next::Stop(Stop::Overflow) => {
                    // One last full-reload if the socket still takes it, then 1008.
                    let reload = Message::text(r#"{"type":"full-reload","path":"*"}"#);
                    let _ = tokio::time::timeout(Duration::from_millis(500), ws.send(reload)).await;
                    close(ws, CloseCode::Policy, "too slow to read HMR messages").await;
                    break "queue overflow".into();
                }
                Next::Closed => break "removed".into(),
            },
            incoming = ws.next() => {
                last_heard = Instant::now();
                match incoming {
                    Some(Ok(Message::Text(text))) => receive(&hub, id, &text),
                    Some(Ok(Message::Close(_))) | None => break "closed by client".into(),
                    Some(Ok(_)) => {} // pongs, pings (answered by tungstenite), binary: ignored
                    Some(Err(err)) => {
                        let (code, reason) = protocol_error(&err);
                        tracing::debug!(id, %peer, %err, "closing HMR socket");
                        close(ws, code, reason).await;
                        break format!("protocol error: {err}");
                    }
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > silent_limit {
                    tracing::debug!(id, %peer, "HMR client silent for {silent_limit:?}; dropping it");
                    break "no answer to pings".into();
                }
                if let Err(reason) = send(&mut ws, &queue, Message::Ping(Default::default())).await {
                    break reason;
                }
            }
        }
    };
    tracing::debug!(id, %peer, reason, "HMR client disconnected");
    hub.unregister(id, &reason);
}

/// Handle a text message from a client. Anything unknown is ignored with a debug log.
fn receive(hub: &Hub, id: ClientId, text: &str) {
    match serde_json::from_str::<ClientMessage>(text) {
        Ok(ClientMessage::Ping) => {}
        Ok(ClientMessage::Custom { event, data }) if event == INVALIDATE_EVENT => {
            match data.map(serde_json::from_value::<InvalidateMessage>) {
                Some(Ok(message)) => hub.invalidate(id, message),
                _ => tracing::debug!(id, "ignoring malformed vite:invalidate"),
            }
        }
        Ok(ClientMessage::Custom { event, data }) => {
            hub.emit(Event::ClientCustom {
                id,
                name: event,
                data,
            });
        }
        Err(err) => tracing::debug!(id, %err, "ignoring unknown client message"),
    }
}

/// Send one message, giving up when the client is told to stop or the write stalls.
///
/// Almost every write completes at once (the socket buffer has room), so the first attempt
/// runs without a deadline: arming a timer for each of a thousand clients is a large part
/// of a broadcast's cost. Only a write that has to wait gets [`WRITE_DEADLINE`].
async fn send(ws: &mut impl Socket, queue: &QueueRx, message: Message) -> Result<(), String> {
    let mut sending = std::pin::pin!(ws.send(message));
    let first = std::future::poll_fn(|cx| Poll::Ready(sending.as_mut().poll(cx))).await;
    let sent = match first {
        Poll::Ready(sent) => Ok(sent),
        Poll::Pending => tokio::select! {
            sent = tokio::time::timeout(WRITE_DEADLINE, sending) => sent,
            // Abandon the write; the caller's loop sees the stop next and closes the socket
            // (tungstenite keeps whole frames buffered, so nothing goes out half-written).
            _ = queue.stopped() => Ok(Ok(())),
        },
    };
    match sent {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(format!("write failed: {err}")),
        Err(_) => Err("write timed out".into()),
    }
}

/// Map a read error to the close code RFC 6455 §7.4.1 gives it.
fn protocol_error(err: &WsError) -> (CloseCode, &'static str) {
    use tokio_tungstenite::tungstenite::error::CapacityError;
    match err {
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => {
            (CloseCode::Size, "message too big")
        }
        WsError::Utf8(_) => (CloseCode::Invalid, "invalid UTF-8"),
        _ => (CloseCode::Protocol, "protocol error"),
    }
}

/// Send a Close frame (giving up after a second: the peer may be gone).
async fn close(mut ws: impl Socket, code: CloseCode, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ =
        tokio::time::timeout(Duration::from_secs(1), ws.send(Message::Close(Some(frame)))).await;
}
