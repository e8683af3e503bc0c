//! Proxy mode: requests that hotserve does not answer itself go to a backend (a Django,
//! Rails or Express app), and HTML pages coming back get the HMR client, so a server-rendered
//! site reloads and swaps stylesheets like a static one.
//!
//! Decide, then forward: [`Proxy::route`] picks the backend for a request (or none), and
//! [`Proxy::forward`] sends it and turns the answer (or the failure) into a response.

use super::inject::{CLIENT_TAG, inject_client};
use super::{Body, BoxError, OverTls, escape_html, request_host, ws};
use crate::Error;
use crate::client::CLIENT_PATH;
use bytes::{Buf, Bytes};
use http_body_util::{BodyExt, combinators::UnsyncBoxBody};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::uri::{Authority, PathAndQuery, Scheme};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::io::Read;
use std::time::Duration;

type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

/// HTML pages larger than this are passed through without the client.
const MAX_HTML: usize = 32 * 1024 * 1024;

/// The proxy settings as given, checked by [`Proxy::new`].
#[derive(Clone, Debug)]
pub(crate) struct ProxyConfig {
    /// The backend for requests no file answers.
    pub fallback: Option<String>,
    /// `(prefix, backend)` pairs, matched before files.
    pub prefixes: Vec<(String, String)>,
    /// Send everything to `fallback`, files included.
    pub all: bool,
    /// Limit for connecting and receiving the response head.
    pub timeout: Duration,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            fallback: None,
            prefixes: Vec::new(),
            all: false,
            timeout: Duration::from_secs(30),
        }
    }
}

/// A backend: where requests go, checked once at startup.
#[derive(Debug)]
pub(crate) struct Target {
    scheme: Scheme,
    authority: Authority,
    /// The target URL's path without its trailing slash, put before forwarded paths.
    base: String,
    /// As given, for pages and logs.
    url: String,
}

/// Why a request did not get an answer from the backend.
pub(crate) enum SendError {
    /// No connection (refused, unreachable, TLS handshake failed).
    Connect(String),
    /// The backend failed while answering.
    Answer(String),
}

/// The backends and the client that reaches them.
pub(crate) struct Proxy {
    fallback: Option<Target>,
    /// Longest prefix first, so the first match wins.
    prefixes: Vec<(String, Target)>,
    all: bool,
    timeout: Duration,
    client: Client<HttpConnector, ProxyBody>,
    /// hotserve's HMR secret: stripped from forwarded URLs.
    token: String,
    /// Put the client into HTML pages (`Config::inject`).
    inject: bool,
    /// Cancelled at shutdown: ends the tunnelled WebSockets.
    tunnels: tokio_util::sync::CancellationToken,
    /// The client for `https://` backends on this machine.
    #[cfg(feature = "tls")]
    tls: Option<super::proxy_tls::TlsBackend>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("fallback", &self.fallback)
            .field("prefixes", &self.prefixes)
            .field("all", &self.all)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// Check the targets; `None` when no proxy is configured.
    pub fn new(config: &ProxyConfig, token: &str, inject: bool) -> Result<Option<Self>, Error> {
        if config.fallback.is_none() && config.prefixes.is_empty() {
            return Ok(None);
        }
        let fallback = config.fallback.as_deref().map(Target::parse).transpose()?;
        let mut prefixes = config
            .prefixes
            .iter()
            .map(|(prefix, url)| Ok((check_prefix(prefix, url)?, Target::parse(url)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        prefixes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        #[cfg(feature = "tls")]
        let any_https = fallback
            .iter()
            .chain(prefixes.iter().map(|(_, t)| t))
            .any(|t| t.scheme == Scheme::HTTPS);
        #[cfg(feature = "tls")]
        let tls = if any_https {
            let backend = super::proxy_tls::TlsBackend::new().map_err(|err| Error::Tls {
                source: Box::new(err),
            })?;
            Some(backend)
        } else {
            None
        };
        Ok(Some(Proxy {
            fallback,
            prefixes,
            all: config.all,
            timeout: config.timeout,
            client,
            token: token.to_owned(),
            inject,
            tunnels: Default::default(),
            #[cfg(feature = "tls")]
            tls,
        }))
    }

    /// The backend for a request before files are looked at: a matching prefix, the
    /// fallback for everything with `all`, for methods files do not answer, and for
    /// WebSocket upgrades that are not HMR. `None`: hotserve answers (and may still fall
    /// back with [`after_files`](Proxy::after_files)).
    pub fn route<B>(&self, req: &Request<B>) -> Option<&Target> {
        let path = req.uri().path();
        if ws::is_upgrade(req) {
            if ws::offered_protocol(req).is_some() {
                return None;
            }
            return self.by_prefix(path).or(self.fallback.as_ref());
        }
        if path == CLIENT_PATH {
            return None;
        }
        if let Some(target) = self.by_prefix(path) {
            return Some(target);
        }
        let files_answer = req.method() == Method::GET || req.method() == Method::HEAD;
        if self.all || !files_answer {
            return self.fallback.as_ref();
        }
        None
    }

    /// End every tunnelled WebSocket (server shutdown): hyper's graceful shutdown does not
    /// see upgraded connections.
    pub fn close_tunnels(&self) {
        self.tunnels.cancel();
    }

    /// The backend for a request no file answered.
    pub fn after_files(&self) -> Option<&Target> {
        self.fallback.as_ref()
    }

    fn by_prefix(&self, path: &str) -> Option<&Target> {
        self.prefixes
            .iter()
            .find(|(prefix, _)| {
                path.strip_prefix(prefix.as_str()).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with('/') || prefix.ends_with('/')
                })
            })
            .map(|(_, target)| target)
    }

    /// Send `req` to `target` and answer with what comes back: HTML gets the client,
    /// redirects to the backend point back here, upgrades become a tunnel, and a backend
    /// that is down or slow gets a page that says so (and reloads itself).
    pub async fn forward<B>(&self, mut req: Request<B>, target: &Target) -> Response<Body>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        // Our own TLS marks the request; an HTTP/2 request (mounted `HotService` behind
        // someone else's TLS) carries its scheme.
        let secure = req.extensions().get::<OverTls>().is_some()
            || req.uri().scheme() == Some(&Scheme::HTTPS);
        let scheme = if secure { "https" } else { "http" };
        let upgrade = ws::is_upgrade(&req);
        let head = req.method() == Method::HEAD;
        let version = req.version();
        let wants_page = wants_page(req.headers());
        let host = request_host(&req).map(str::to_owned);
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let backend_req = match self.backend_request(req, target, scheme, upgrade) {
            Ok(backend_req) => backend_req,
            Err(reason) => {
                return self.error_page(StatusCode::BAD_GATEWAY, target, &reason);
            }
        };
        let sent = tokio::time::timeout(self.timeout, self.send(target, backend_req)).await;
        let mut res = match sent {
            Ok(Ok(res)) => res,
            Ok(Err(err)) => {
                let reason = match err {
                    SendError::Connect(why) => format!("cannot be reached ({why})"),
                    SendError::Answer(why) => format!("failed to answer ({why})"),
                };
                tracing::warn!("proxy to {}: {reason}", target.url);
                return self.error_page(StatusCode::BAD_GATEWAY, target, &reason);
            }
            Err(_) => {
                let reason = format!("did not answer within {:?}", self.timeout);
                tracing::warn!("proxy to {}: {reason}", target.url);
                return self.error_page(StatusCode::GATEWAY_TIMEOUT, target, &reason);
            }
        };
        if let Some(client_upgrade) = client_upgrade
            && res.status() == StatusCode::SWITCHING_PROTOCOLS
        {
            let backend_upgrade = hyper::upgrade::on(&mut res);
            let closed = self.tunnels.clone().cancelled_owned();
            tokio::spawn(tunnel(client_upgrade, backend_upgrade, closed));
            let (mut parts, _) = res.into_parts();
            parts.version = version;
            return Response::from_parts(parts, super::empty());
        }
        let (mut parts, body) = res.into_parts();
        // The browser's connection keeps its own version: an HTTP/1.0 backend must not turn
        // the answer into HTTP/1.0 (which would end keep-alive).
        parts.version = version;
        remove_hop_by_hop(&mut parts.headers);
        if let Some(location) = parts.headers.get(header::LOCATION)
            && let Some(rewritten) = location
                .to_str()
                .ok()
                .and_then(|l| rewrite_location(l, target, scheme, host.as_deref()))
            && let Ok(value) = HeaderValue::from_str(&rewritten)
        {
            parts.headers.insert(header::LOCATION, value);
        }
        let has_body = !head
            && !parts.status.is_informational()
            && parts.status != StatusCode::NO_CONTENT
            && parts.status != StatusCode::NOT_MODIFIED;
        let injectable =
            self.inject && wants_page && is_html(&parts.headers) && fits(&parts.headers);
        if injectable && has_body {
            return self.inject(parts, body, target).await;
        }
        if injectable && head && !parts.headers.contains_key(header::CONTENT_ENCODING) {
            // HEAD announces the length GET will have: the page plus the client's tag.
            if let Some(len) = content_length(&parts.headers) {
                parts.headers.insert(
                    header::CONTENT_LENGTH,
                    HeaderValue::from(len + CLIENT_TAG.len()),
                );
            }
        }
        Response::from_parts(parts, Body::new(body))
    }

    /// One request to the backend: pooled HTTP/1.1 for `http://`, a TLS connection of its
    /// own for `https://`.
    async fn send(
        &self,
        target: &Target,
        req: Request<ProxyBody>,
    ) -> Result<Response<hyper::body::Incoming>, SendError> {
        #[cfg(feature = "tls")]
        if target.scheme == Scheme::HTTPS
            && let Some(tls) = &self.tls
        {
            let mut req = req;
            // A connection of our own speaks origin-form (RFC 9112 §3.2.1).
            let origin_form = req
                .uri()
                .path_and_query()
                .map_or("/", PathAndQuery::as_str)
                .parse()
                .map_err(|err: hyper::http::uri::InvalidUri| SendError::Answer(err.to_string()))?;
            *req.uri_mut() = origin_form;
            if !req.headers().contains_key(header::HOST)
                && let Ok(host) = HeaderValue::from_str(target.authority.as_str())
            {
                req.headers_mut().insert(header::HOST, host);
            }
            let port = target.authority.port_u16().unwrap_or(443);
            return tls.send(target.authority.host(), port, req).await;
        }
        let _ = target;
        self.client.request(req).await.map_err(|err| {
            if err.is_connect() {
                SendError::Connect(error_chain(&err))
            } else {
                SendError::Answer(error_chain(&err))
            }
        })
    }

    /// The request as the backend gets it.
    fn backend_request<B>(
        &self,
        req: Request<B>,
        target: &Target,
        scheme: &str,
        upgrade: bool,
    ) -> Result<Request<ProxyBody>, String>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let peer = req.extensions().get::<ws::Peer>().map(|p| p.0.ip());
        let (parts, body) = req.into_parts();
        let path_and_query = parts.uri.path_and_query().map_or("/", PathAndQuery::as_str);
        let path_and_query = format!(
            "{}{}",
            target.base,
            strip_token(path_and_query, &self.token)
        );
        let uri = Uri::builder()
            .scheme(target.scheme.clone())
            .authority(target.authority.clone())
            .path_and_query(path_and_query)
            .build()
            .map_err(|err| format!("cannot build the URL ({err})"))?;
        let mut headers = parts.headers;
        let original_host = headers.get(header::HOST).cloned().or_else(|| {
            let authority = parts.uri.authority()?;
            HeaderValue::from_str(authority.as_str()).ok()
        });
        let upgrade_to = headers.get(header::UPGRADE).cloned();
        remove_hop_by_hop(&mut headers);
        // The backend sees the host the browser asked for (like Vite's default
        // `changeOrigin: false`), so the links it builds point at the dev server.
        if let Some(host) = &original_host {
            headers.insert(header::HOST, host.clone());
            headers.insert(HeaderName::from_static("x-forwarded-host"), host.clone());
        }
        headers.insert(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static(if scheme == "https" { "https" } else { "http" }),
        );
        if let Some(ip) = peer {
            let forwarded_for = HeaderName::from_static("x-forwarded-for");
            let value = match headers.get(&forwarded_for).and_then(|v| v.to_str().ok()) {
                Some(earlier) => format!("{earlier}, {ip}"),
                None => ip.to_string(),
            };
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(forwarded_for, value);
            }
        }
        let body = if upgrade {
            // An upgrade keeps its hop-by-hop pair: it is what asks the backend to switch.
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            if let Some(to) = upgrade_to {
                headers.insert(header::UPGRADE, to);
            }
            super::empty().map_err(BoxError::from).boxed_unsync()
        } else {
            // Plain bytes, so that pages can get the client without decoding every
            // compression a backend might pick.
            headers.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_static("identity"),
            );
            body.map_frame(|frame| frame.map_data(|mut data| data.copy_to_bytes(data.remaining())))
                .map_err(Into::into)
                .boxed_unsync()
        };
        let mut backend_req = Request::new(body);
        *backend_req.method_mut() = parts.method;
        *backend_req.uri_mut() = uri;
        *backend_req.headers_mut() = headers;
        // The backend connection is HTTP/1.1 whatever the browser spoke to us.
        *backend_req.version_mut() = hyper::Version::HTTP_11;
        Ok(backend_req)
    }

    /// An HTML answer with the client inserted (decompressed first if the backend
    /// compressed it anyway) and its length fixed.
    async fn inject(
        &self,
        mut parts: hyper::http::response::Parts,
        body: hyper::body::Incoming,
        target: &Target,
    ) -> Response<Body> {
        let collected = tokio::time::timeout(self.timeout, gather(body, MAX_HTML)).await;
        let bytes = match collected {
            Ok(Ok(Gathered::Whole(bytes))) => bytes,
            Ok(Ok(Gathered::TooBig(body))) => {
                // Too big to hold (only an unsized page gets here: a sized one is judged by
                // its length): passed on as it comes, untouched, like a sized big page.
                tracing::debug!(
                    "backend page over {MAX_HTML} bytes; passed through without the client"
                );
                return Response::from_parts(parts, body);
            }
            Ok(Err(err)) => {
                let reason = format!("sent a page that could not be read ({err})");
                return self.error_page(StatusCode::BAD_GATEWAY, target, &reason);
            }
            Err(_) => {
                let reason = format!("did not finish sending a page within {:?}", self.timeout);
                return self.error_page(StatusCode::GATEWAY_TIMEOUT, target, &reason);
            }
        };
        let encoding = parts
            .headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase());
        let html = match encoding.as_deref() {
            None | Some("identity") => Some(bytes.to_vec()),
            Some("gzip" | "x-gzip") => decode(flate2::read::MultiGzDecoder::new(&bytes[..])),
            Some("deflate") => decode(flate2::read::ZlibDecoder::new(&bytes[..]))
                .or_else(|| decode(flate2::read::DeflateDecoder::new(&bytes[..]))),
            Some(other) => {
                tracing::debug!(
                    encoding = other,
                    "backend page in an encoding hotserve cannot decode; passed through without the client"
                );
                None
            }
        };
        let Some(html) = html else {
            return Response::from_parts(parts, super::full(bytes));
        };
        let injected = inject_client(&html);
        let headers = &mut parts.headers;
        headers.remove(header::CONTENT_ENCODING);
        // The page differs from the backend's: its validators would describe other bytes.
        headers.remove(header::ETAG);
        headers.remove(header::LAST_MODIFIED);
        headers.remove(HeaderName::from_static("content-md5"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(injected.len()));
        Response::from_parts(parts, super::full(injected))
    }
}

impl Target {
    fn parse(url: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::BadProxy {
            target: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|_| bad("not a URL (expected something like http://127.0.0.1:8000)"))?;
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::HTTP,
            Some("https") => Scheme::HTTPS,
            Some(_) => return Err(bad("only http:// and https:// backends can be proxied")),
            None => return Err(bad("the URL needs a scheme (http://)")),
        };
        let authority = uri
            .authority()
            .filter(|a| !a.host().is_empty())
            .ok_or_else(|| bad("the URL needs a host"))?
            .clone();
        if authority.as_str().contains('@') {
            return Err(bad("credentials in the URL are not supported"));
        }
        if uri.query().is_some() {
            return Err(bad("the URL must not have a query"));
        }
        if scheme == Scheme::HTTPS {
            if cfg!(not(feature = "tls")) {
                return Err(bad("https:// backends need hotserve's `tls` feature"));
            }
            // The backend's certificate is not checked (a dev backend's is self-signed),
            // which is only safe when the connection stays on this machine.
            let host = authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']');
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(bad(
                    "https:// backends must be on this machine (localhost, 127.0.0.1, ::1), \
                     because their certificate is not verified; use the backend's http:// \
                     address or a local proxy",
                ));
            }
        }
        Ok(Target {
            scheme,
            authority,
            base: uri.path().trim_end_matches('/').to_owned(),
            url: url.to_owned(),
        })
    }

    /// Whether `uri` (scheme and authority) points at this backend.
    fn is_origin_of(&self, uri: &Uri) -> bool {
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return false;
        };
        let default_port = |s: &Scheme| if *s == Scheme::HTTPS { 443 } else { 80 };
        *scheme == self.scheme
            && authority.host().eq_ignore_ascii_case(self.authority.host())
            && authority.port_u16().unwrap_or(default_port(scheme))
                == self
                    .authority
                    .port_u16()
                    .unwrap_or(default_port(&self.scheme))
    }
}

fn check_prefix(prefix: &str, url: &str) -> Result<String, Error> {
    if !prefix.starts_with('/') || prefix.contains(['?', '#']) {
        return Err(Error::BadProxy {
            target: format!("{prefix}={url}"),
            reason: "the path prefix must start with / (like /api)".into(),
        });
    }
    Ok(prefix.to_owned())
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never forwarded,
/// nor any header the `Connection` header names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

/// `path?query` without a `token=` parameter carrying hotserve's secret: the HMR token
/// never leaves the dev server.
fn strip_token(path_and_query: &str, token: &str) -> String {
    let Some((path, query)) = path_and_query.split_once('?') else {
        return path_and_query.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            pair.strip_prefix("token=").is_none_or(|value| {
                percent_encoding::percent_decode_str(value).decode_utf8_lossy() != token
            })
        })
        .collect();
    if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

/// A `Location` that points at the backend, pointed at the dev server instead.
fn rewrite_location(
    location: &str,
    target: &Target,
    scheme: &str,
    host: Option<&str>,
) -> Option<String> {
    let uri: Uri = location.parse().ok()?;
    if !target.is_origin_of(&uri) {
        return None;
    }
    let rest = uri.path_and_query().map_or("/", PathAndQuery::as_str);
    Some(format!("{scheme}://{}{rest}", host?))
}

/// Whether the browser asked for a page (a navigation, or anything that accepts HTML), as
/// opposed to a script fetching an HTML fragment (htmx, `fetch()` with `Accept: */*`), which
/// must come back byte for byte.
fn wants_page(headers: &HeaderMap) -> bool {
    let navigate = headers
        .get("sec-fetch-mode")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"navigate"));
    let mut accepts = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .peekable();
    let no_accept = accepts.peek().is_none();
    navigate || no_accept || accepts.any(|v| v.contains("text/html"))
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .get(..9)
                .is_some_and(|m| m.eq_ignore_ascii_case("text/html"))
        })
}

/// Whether a page is small enough to hold in memory (unknown lengths are tried).
fn fits(headers: &HeaderMap) -> bool {
    content_length(headers).is_none_or(|len| len <= MAX_HTML)
}

fn content_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// A backend page read into memory, or found too big to be.
enum Gathered {
    Whole(Bytes),
    /// Over the limit: what was read so far followed by the rest, as it comes.
    TooBig(Body),
}

/// Read `body` whole if it stays within `limit` bytes; past that, hand back a body that
/// replays the frames read so far and then streams the rest, so nothing is lost.
async fn gather(mut body: hyper::body::Incoming, limit: usize) -> Result<Gathered, BoxError> {
    let mut frames: Vec<hyper::body::Frame<Bytes>> = Vec::new();
    let mut size = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        size += frame.data_ref().map_or(0, Buf::remaining);
        frames.push(frame);
        if size > limit {
            let read = futures_util::stream::iter(frames.into_iter().map(Ok::<_, BoxError>));
            let rest = futures_util::TryStreamExt::map_err(
                http_body_util::BodyStream::new(body),
                BoxError::from,
            );
            let stream = futures_util::StreamExt::chain(read, rest);
            return Ok(Gathered::TooBig(Body::new(
                http_body_util::StreamBody::new(stream),
            )));
        }
    }
    let mut whole = bytes::BytesMut::with_capacity(size);
    for frame in frames {
        if let Ok(data) = frame.into_data() {
            whole.extend_from_slice(&data);
        }
    }
    Ok(Gathered::Whole(whole.freeze()))
}

/// Decompress, refusing output beyond [`MAX_HTML`] (a compression bomb stays a page).
fn decode(reader: impl Read) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    reader
        .take(MAX_HTML as u64 + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() <= MAX_HTML).then_some(out)
}

/// Copy bytes both ways once the browser and the backend have both switched protocols,
/// until either side closes or the server shuts down (which drops both connections).
async fn tunnel(
    client: hyper::upgrade::OnUpgrade,
    backend: hyper::upgrade::OnUpgrade,
    closed: tokio_util::sync::WaitForCancellationFutureOwned,
) {
    let (client, backend) = tokio::join!(client, backend);
    match (client, backend) {
        (Ok(client), Ok(backend)) => {
            let mut client = TokioIo::new(client);
            let mut backend = TokioIo::new(backend);
            tokio::select! {
                copied = tokio::io::copy_bidirectional(&mut client, &mut backend) => {
                    if let Err(err) = copied {
                        tracing::debug!(%err, "proxied WebSocket ended");
                    }
                }
                () = closed => tracing::debug!("proxied WebSocket closed at shutdown"),
            }
        }
        (Err(err), _) | (_, Err(err)) => tracing::debug!(%err, "proxied upgrade failed"),
    }
}

/// `err` and its sources, for a one-line reason.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// While the backend is down the page asks again every second and reloads once it answers;
/// the HMR client (injected too) keeps reloading it on file changes.
const RETRY_SCRIPT: &str = "<script type=module>for(;;){await new Promise(r=>setTimeout(r,1000));\
try{const r=await fetch(location.href,{method:'HEAD',cache:'no-store'});\
if(r.status!==502&&r.status!==504){location.reload();break}}catch{}}</script>";

impl Proxy {
    /// 502 or 504 with a page that names the backend, with the client and a retry loop.
    fn error_page(&self, status: StatusCode, target: &Target, reason: &str) -> Response<Body> {
        let title = if status == StatusCode::GATEWAY_TIMEOUT {
            "Gateway timeout"
        } else {
            "Bad gateway"
        };
        let html = format!(
            "<!doctype html><meta charset=utf-8><title>{code} {title}</title>\
         <h1>{code} {title}</h1><p>The backend <code>{url}</code> {reason}.</p>\
         <p>This page reloads itself when the backend answers again.</p>\
         <hr><small>hotserve</small>{RETRY_SCRIPT}\n",
            code = status.as_u16(),
            url = escape_html(&target.url),
            reason = escape_html(reason),
        );
        let html = if self.inject {
            inject_client(html.as_bytes())
        } else {
            html.into_bytes()
        };
        super::html_response(status, html)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::parse(url).unwrap()
    }

    #[test]
    fn targets_must_be_http_urls_with_a_host() {
        assert!(Target::parse("http://127.0.0.1:8000").is_ok());
        assert!(Target::parse("http://localhost:8000/app/").is_ok());
        #[cfg(feature = "tls")]
        for local in [
            "https://localhost:8443",
            "https://127.0.0.1:8443",
            "https://[::1]:8443",
        ] {
            assert!(Target::parse(local).is_ok(), "{local}");
        }
        let remote = Target::parse("https://api.example.com").unwrap_err();
        assert!(matches!(remote, Error::BadProxy { .. }), "{remote:?}");
        for bad in ["ftp://x", "127.0.0.1:8000", "localhost", "http://", "/api"] {
            assert!(
                matches!(Target::parse(bad), Err(Error::BadProxy { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_token_parameter_with_our_secret_is_not_forwarded() {
        assert_eq!(strip_token("/a?token=s3cret", "s3cret"), "/a");
        assert_eq!(
            strip_token("/a?x=1&token=s3cret&y=2", "s3cret"),
            "/a?x=1&y=2"
        );
        assert_eq!(strip_token("/a?token=other", "s3cret"), "/a?token=other");
        assert_eq!(strip_token("/a", "s3cret"), "/a");
    }

    #[test]
    fn locations_at_the_backend_point_back_at_the_dev_server() {
        let t = target("http://127.0.0.1:8000");
        let rw = |l: &str| rewrite_location(l, &t, "https", Some("localhost:5173"));
        assert_eq!(
            rw("http://127.0.0.1:8000/login?next=/").as_deref(),
            Some("https://localhost:5173/login?next=/")
        );
        assert_eq!(rw("http://127.0.0.1:9000/x"), None);
        assert_eq!(rw("/relative"), None);
        assert_eq!(rw("https://example.com/"), None);
        let default_port = target("http://backend.test");
        assert!(default_port.is_origin_of(&"http://backend.test:80/".parse().unwrap()));
    }

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_names_are_dropped() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key(header::ACCEPT));
    }
}
