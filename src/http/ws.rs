//! The WebSocket handshake: upgrade checks and the 101 answer; the upgraded connection goes
//! to the HMR channel ([`crate::hmr::session::accept`]), which owns everything after it.
//!
//! Each failed check gets its own status so a developer can tell what is wrong; the
//! `vite-hmr` checks are Vite's fix for CVE-2025-24010 (cross-site WebSocket hijacking).

use super::{Body, empty, host::HostPolicy};
use crate::hmr::Hub;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::net::SocketAddr;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

pub(crate) use crate::hmr::session::{HMR_PROTOCOL, PING_PROTOCOL};

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
    let in_place = announces_in_place(&req);
    let upgrade = hyper::upgrade::on(&mut req);
    let hub = hub.clone();
    tokio::spawn(async move {
        match upgrade.await {
            Ok(upgraded) => {
                crate::hmr::session::accept(upgraded, protocol, hub, peer, in_place).await
            }
            Err(err) => tracing::debug!(%peer, %err, "upgrade failed"),
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

/// The query parameter with which hotserve's client says, when it connects, that it applies
/// in-place updates (stylesheets pulled in through `@import`, images swapped without a
/// reload). A query parameter rather than a first message, so the hub knows before the
/// first payload; Vite's client never sends it and keeps getting full reloads for those.
pub(crate) const IN_PLACE_PARAM: &str = "hotserve-in-place";

/// Whether the socket URL carries [`IN_PLACE_PARAM`]`=1`.
fn announces_in_place<B>(req: &Request<B>) -> bool {
    req.uri()
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .any(|pair| pair.strip_prefix(IN_PLACE_PARAM) == Some("=1"))
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
    // The router already refused a request whose host cannot be told (two `Host`s...).
    let allowed = super::host::claimed_hosts(req, false)
        .is_ok_and(|claimed| claimed.iter().all(|host| hosts.allows(host)));
    if !allowed {
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
