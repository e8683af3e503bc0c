//! The HMR WebSocket: upgrade checks, the 101 answer, and one session per client.
//!
//! Each failed check gets its own status so a developer can tell what is wrong; the
//! `vite-hmr` checks are Vite's fix for CVE-2025-24010 (cross-site WebSocket hijacking).

use super::{Body, empty, host::HostPolicy};
use crate::hub::{Hub, Next, QueueRx, Registration, Stop};
use futures_util::{SinkExt, StreamExt};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
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

/// The peer address of a connection, stored in request extensions by the server.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer(pub SocketAddr);

/// Whether a request asks for a WebSocket upgrade (RFC 6455 §4.2.1).
pub(crate) fn is_upgrade<B>(req: &Request<B>) -> bool {
    header_has_token(req.headers(), header::UPGRADE, "websocket")
        && header_has_token(req.headers(), header::CONNECTION, "upgrade")
}

/// Which of our subprotocols a request offers, in our order of preference.
pub(crate) fn offered_protocol<B>(req: &Request<B>) -> Option<&'static str> {
    [HMR_PROTOCOL, PING_PROTOCOL]
        .into_iter()
        .find(|p| header_has_token(req.headers(), header::SEC_WEBSOCKET_PROTOCOL, p))
}

fn header_has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Check and answer an upgrade that offers `protocol`. On success the returned 101 is sent
/// by hyper and a task takes over the upgraded connection.
pub(crate) fn upgrade<B>(
    mut req: Request<B>,
    protocol: &'static str,
    hosts: &HostPolicy,
    token: &str,
    hub: &Hub,
) -> Response<Body> {
    if req.method() != Method::GET {
        let mut res = reject(
            StatusCode::METHOD_NOT_ALLOWED,
            "WebSocket upgrades use GET.",
        );
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return res;
    }
    let version_ok = req
        .headers()
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v.as_bytes() == b"13");
    if !version_ok {
        let mut res = reject(
            StatusCode::BAD_REQUEST,
            "Unsupported WebSocket version; use 13.",
        );
        res.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return res;
    }
    let Some(key) = req
        .headers()
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|k| valid_key(k.as_bytes()))
        .map(|k| derive_accept_key(k.as_bytes()))
    else {
        return reject(
            StatusCode::BAD_REQUEST,
            "Missing or malformed Sec-WebSocket-Key.",
        );
    };
    if protocol == HMR_PROTOCOL
        && let Some(reason) = hmr_refusal(&req, hosts, token)
    {
        tracing::debug!(uri = %req.uri(), reason, "refused HMR upgrade");
        return reject(StatusCode::BAD_REQUEST, reason);
    }
    let peer = req
        .extensions()
        .get::<Peer>()
        .map_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)), |p| p.0);
    let upgrade = hyper::upgrade::on(&mut req);
    let hub = hub.clone();
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(upgraded) => upgraded,
            Err(err) => {
                tracing::debug!(%peer, %err, "upgrade failed");
                return;
            }
        };
        let ws = WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            Some(ws_config()),
        )
        .await;
        if protocol == PING_PROTOCOL {
            close(ws, CloseCode::Normal, "").await;
        } else {
            serve_client(ws, hub, peer).await;
        }
    });
    let mut res = Response::new(empty());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = res.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(protocol),
    );
    if let Ok(accept) = HeaderValue::from_str(&key) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    res
}

/// A key is the base64 of 16 bytes: 24 characters ending in `==`.
fn valid_key(key: &[u8]) -> bool {
    use base64::Engine;
    key.len() == 24
        && base64::engine::general_purpose::STANDARD
            .decode(key)
            .is_ok_and(|raw| raw.len() == 16)
}

/// The CVE-2025-24010 checks: the Host must be ours, and a browser (which always sends
/// `Origin`) must prove it loaded our client by presenting the per-process token.
fn hmr_refusal<B>(req: &Request<B>, hosts: &HostPolicy, token: &str) -> Option<&'static str> {
    if let Some(host) = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        && !hosts.allows(host)
    {
        return Some("Host not allowed (see --allowed-host).");
    }
    if req.headers().contains_key(header::ORIGIN) {
        let given = req
            .uri()
            .query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|pair| pair.strip_prefix("token="))
            .map(|t| percent_encoding::percent_decode_str(t).decode_utf8_lossy());
        match given {
            Some(given) if constant_time_eq(given.as_bytes(), token.as_bytes()) => {}
            _ => return Some("Invalid or missing token for a browser WebSocket."),
        }
    }
    None
}

/// Compare without an early exit, so response timing does not reveal a token prefix.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn reject(status: StatusCode, message: &str) -> Response<Body> {
    let mut res = Response::new(super::full(format!("{message}\n")));
    *res.status_mut() = status;
    close_after(&mut res);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// A refused upgrade ends the connection: the client meant to leave HTTP behind, so
/// keeping it alive would leave it waiting on a protocol it did not get.
pub(crate) fn close_after(res: &mut Response<Body>) {
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
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

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Serve one HMR client until it leaves, stalls, goes silent, or the server shuts down.
async fn serve_client(mut ws: Socket, hub: Hub, peer: SocketAddr) {
    let Some(Registration { id, mut queue }) = hub.register(peer) else {
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
                    Some(Ok(Message::Text(text))) => hub.receive(id, &text),
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

/// Send one message, giving up when the client is told to stop or the write stalls.
///
/// Almost every write completes at once (the socket buffer has room), so the first attempt
/// runs without a deadline: arming a timer for each of a thousand clients is a large part
/// of a broadcast's cost. Only a write that has to wait gets [`WRITE_DEADLINE`].
async fn send(ws: &mut Socket, queue: &QueueRx, message: Message) -> Result<(), String> {
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

async fn close<S>(mut ws: WebSocketStream<S>, code: CloseCode, reason: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(Some(frame))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison_needs_equal_bytes() {
        assert!(constant_time_eq(b"abcdef", b"abcdef"));
        assert!(!constant_time_eq(b"abcdef", b"abcdeg"));
        assert!(!constant_time_eq(b"abc", b"abcdef"));
    }

    #[test]
    fn keys_must_be_base64_of_sixteen_bytes() {
        assert!(valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!valid_key(b"short"));
        assert!(!valid_key(b"dGhlIHNhbXBsZSBub25jZQ!!"));
    }
}
