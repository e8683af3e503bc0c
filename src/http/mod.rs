//! The hyper service: checks every request (host, method, path), then answers it from the
//! file system.

pub(crate) mod files;
pub(crate) mod fragment;
pub(crate) mod host;
pub(crate) mod inject;
#[cfg(feature = "proxy")]
pub(crate) mod proxy;
#[cfg(all(feature = "proxy", feature = "tls"))]
pub(crate) mod proxy_tls;
pub(crate) mod resolve;
pub(crate) mod ws;

use bytes::Bytes;
use files::{FileBody, FileRequest, FoundFile, Outcome, Rewrite};
use http_body_util::{BodyExt, Empty, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::Frame;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use resolve::{DenyList, Refusal};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

/// What a request body may fail with.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The response body type of hotserve's service.
pub type Body = UnsyncBoxBody<Bytes, io::Error>;

/// Chunk size for streamed files: large enough for throughput, small enough to keep memory
/// flat with many concurrent downloads.
const STREAM_CHUNK: usize = 64 * 1024;

/// Marks a request that arrived over TLS (set by the server, read by the proxy).
#[derive(Clone, Copy, Debug)]
pub(crate) struct OverTls;

/// Everything the service needs to answer requests; shared by all connections.
#[derive(Debug)]
pub(crate) struct Site {
    /// Canonical root folder.
    pub root: PathBuf,
    pub deny: DenyList,
    pub hosts: host::HostPolicy,
    pub spa: bool,
    /// The HMR channel.
    pub hub: crate::hub::Hub,
    /// The per-process secret a browser must present to open the HMR socket.
    pub token: String,
    /// Where the HMR socket listens.
    pub hmr_path: String,
    /// What browsers loaded, and the module graph.
    pub plan: Arc<crate::plan::Plan>,
    /// Small files by request path.
    pub cache: files::FileCache,
    /// The backends requests are forwarded to, if any.
    #[cfg(feature = "proxy")]
    pub proxy: Option<proxy::Proxy>,
    /// The browser client served at `/@vite/client`.
    pub client: crate::client::ServedClient,
    /// Put the client's `<script>` into served HTML pages.
    pub inject: bool,
}

impl Site {
    /// Answer one request. Never fails: every problem is a status code.
    pub async fn handle<B>(self: Arc<Self>, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let response = self.route(req).await;
        tracing::debug!(
            "{method} {path} {} {:.1?}",
            response.status().as_u16(),
            started.elapsed()
        );
        response
    }

    async fn route<B>(self: Arc<Self>, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        #[cfg(feature = "proxy")]
        if let Some(proxy) = &self.proxy
            && req.extensions().get::<fragment::FragmentSeen>().is_none()
            && let Some(target) = proxy.route(&req)
        {
            // The DNS-rebinding check protects the backend too.
            if let Some(host) = request_host(&req)
                && !self.hosts.allows(host)
            {
                return blocked_host(host);
            }
            return proxy.forward(req, target).await;
        }
        if ws::is_upgrade(&req) {
            let mut res = match ws::offered_protocol(&req) {
                Some(ws::PING_PROTOCOL) => {
                    ws::upgrade(req, ws::PING_PROTOCOL, &self.hosts, &self.token, &self.hub)
                }
                Some(protocol) if req.uri().path() == self.hmr_path => {
                    ws::upgrade(req, protocol, &self.hosts, &self.token, &self.hub)
                }
                Some(_) => page(
                    StatusCode::NOT_FOUND,
                    "Not found",
                    &format!(
                        "The HMR socket is at <code>{}</code>.",
                        escape_html(&self.hmr_path)
                    ),
                ),
                None => page(
                    StatusCode::BAD_REQUEST,
                    "Bad request",
                    "WebSocket upgrades here need the <code>vite-hmr</code> subprotocol \
                     (or <code>vite-ping</code>).",
                ),
            };
            if res.status() != StatusCode::SWITCHING_PROTOCOLS {
                ws::close_after(&mut res);
            }
            return res;
        }
        if let Some(host) = request_host(&req)
            && !self.hosts.allows(host)
        {
            return blocked_host(host);
        }
        if req.extensions().get::<fragment::FragmentSeen>().is_some() {
            // Browsers never send fragments; one in the target is a crafted request.
            return page(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "A request target must not contain <code>#</code>.",
            );
        }
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let mut res = page(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
                "This dev server only answers GET and HEAD.",
            );
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return res;
        }
        if req.uri().path() == crate::client::CLIENT_PATH {
            return serve_client(self.client.current(), &req);
        }
        let safe = match resolve::resolve(req.uri().path()) {
            Ok(safe) => safe,
            Err(Refusal::BadRequest) => {
                return page(StatusCode::BAD_REQUEST, "Bad request", "Malformed path.");
            }
            Err(Refusal::Forbidden) => return forbidden(),
        };
        let file_req = file_request(&req, self.inject);
        if let Some(outcome) = self.cache.lookup(&self.root, &safe, &file_req) {
            return self.render(outcome, &file_req, req.uri());
        }
        let site = self.clone();
        let decided = tokio::task::spawn_blocking(move || {
            let outcome = files::decide(
                &site.root,
                &site.deny,
                site.spa,
                &site.cache,
                &safe,
                &file_req,
            );
            (outcome, file_req)
        })
        .await;
        match decided {
            Ok((outcome, file_req)) => {
                #[cfg(feature = "proxy")]
                if matches!(outcome, Outcome::NotFound)
                    && let Some(proxy) = &self.proxy
                    && let Some(target) = proxy.after_files()
                {
                    return proxy.forward(req, target).await;
                }
                self.render(outcome, &file_req, req.uri())
            }
            Err(err) => {
                tracing::warn!(%err, "file task failed");
                page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "See the server log.",
                )
            }
        }
    }
}

/// The host the client asked for: `Host` in HTTP/1, the authority in HTTP/2.
fn request_host<B>(req: &Request<B>) -> Option<&str> {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
}

fn file_request<B>(req: &Request<B>, inject_client: bool) -> FileRequest {
    let headers = req.headers();
    let text = |name: header::HeaderName| header_text(headers, name);
    FileRequest {
        if_none_match: text(header::IF_NONE_MATCH),
        if_modified_since: text(header::IF_MODIFIED_SINCE),
        range: if req.method() == Method::GET {
            text(header::RANGE)
        } else {
            None
        },
        if_range: text(header::IF_RANGE),
        head: req.method() == Method::HEAD,
        accepts_html: headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("text/html")),
        inject_client,
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl Site {
    /// Turn a decision into a response.
    fn render(&self, outcome: Outcome, req: &FileRequest, uri: &hyper::Uri) -> Response<Body> {
        match outcome {
            Outcome::File(found) if found.rewrite == Rewrite::Script => {
                self.render_script(found, req, uri)
            }
            Outcome::File(found) if found.rewrite == Rewrite::Page => self.render_page(found, uri),
            Outcome::File(found) => {
                let whole = found.range.is_none();
                let body = match &found.body {
                    FileBody::Bytes(bytes) if whole => Some(&bytes[..]),
                    _ => None,
                };
                self.plan
                    .record_served(&found.path, uri.path(), &found.validators.etag, body);
                file_response(found)
            }
            Outcome::NotModified { path, validators } => {
                self.plan
                    .record_served(&path, uri.path(), &validators.etag, None);
                let mut res = Response::new(empty());
                *res.status_mut() = StatusCode::NOT_MODIFIED;
                set_validators(res.headers_mut(), &validators);
                res
            }
            Outcome::RangeNotSatisfiable { len } => {
                let mut res = Response::new(empty());
                *res.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    res.headers_mut().insert(header::CONTENT_RANGE, value);
                }
                res
            }
            Outcome::AddSlash => {
                let location = match uri.query() {
                    Some(query) => format!("{}/?{query}", uri.path()),
                    None => format!("{}/", uri.path()),
                };
                let mut res = Response::new(empty());
                // Temporary: in a dev folder a directory may become a file at any time, and a
                // cached permanent redirect would outlive it.
                *res.status_mut() = StatusCode::TEMPORARY_REDIRECT;
                if let Ok(value) = HeaderValue::from_str(&location) {
                    res.headers_mut().insert(header::LOCATION, value);
                }
                res
            }
            Outcome::NotFound => {
                let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
                let body = format!("No file at <code>{}</code>.", escape_html(&path));
                let mut res = if req.inject_client {
                    // The 404 page gets the client too: it reloads once the file exists.
                    let html = page_html(StatusCode::NOT_FOUND, "Not found", &body);
                    let html = inject::inject_client(html.as_bytes());
                    html_response(StatusCode::NOT_FOUND, html)
                } else {
                    page(StatusCode::NOT_FOUND, "Not found", &body)
                };
                if req.head {
                    *res.body_mut() = empty();
                }
                res
            }
            Outcome::Forbidden => forbidden(),
        }
    }

    /// An HTML page: recorded as served (with the file's own bytes), then sent with the
    /// client's `<script>` tag at the top of its head.
    fn render_page(&self, found: FoundFile, uri: &hyper::Uri) -> Response<Body> {
        let raw = match &found.body {
            FileBody::Bytes(bytes) => Some(&bytes[..]),
            _ => None,
        };
        self.plan
            .record_served(&found.path, uri.path(), &found.validators.etag, raw);
        let body = match found.body {
            FileBody::Bytes(bytes) => FileBody::Bytes(Bytes::from(inject::inject_client(&bytes))),
            other => other,
        };
        let mut res = file_response(FoundFile {
            len: found.len + inject::CLIENT_TAG.len() as u64,
            body,
            ..found
        });
        // Ranges of the file do not apply to the page as sent.
        res.headers_mut().remove(header::ACCEPT_RANGES);
        res
    }

    /// A JavaScript module: recorded in the module graph and rewritten for HMR. Its ETag is
    /// the hash of what is sent, because the rewrite changes when imported modules get
    /// hot-updated even though the file itself did not change.
    fn render_script(
        &self,
        found: FoundFile,
        req: &FileRequest,
        uri: &hyper::Uri,
    ) -> Response<Body> {
        let FileBody::Bytes(source) = &found.body else {
            return file_response(found);
        };
        self.plan.record_served(
            &found.path,
            uri.path(),
            &found.validators.etag,
            Some(&source[..]),
        );
        let code = match std::str::from_utf8(source) {
            Ok(text) => {
                let url = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
                let served = self.plan.serve_module(&url, text);
                if !served.pruned.is_empty() {
                    self.hub.send(crate::protocol::Payload::Prune {
                        paths: served.pruned,
                    });
                }
                Bytes::from(served.code)
            }
            Err(_) => source.clone(),
        };
        let etag = format!("\"m-{:x}\"", hash_of(&code));
        let matches = req
            .if_none_match
            .as_deref()
            .is_some_and(|inm| files::etag_list_matches(inm, &etag, false));
        let mut res = if matches {
            let mut res = Response::new(empty());
            *res.status_mut() = StatusCode::NOT_MODIFIED;
            res
        } else {
            let len = code.len();
            let mut res = Response::new(if req.head { empty() } else { full(code) });
            res.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            res.headers_mut()
                .insert(header::CONTENT_TYPE, content_type(&found.path));
            res
        };
        let headers = res.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if let Ok(etag) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, etag);
        }
        res
    }
}

/// The client script: rendered once at startup, revalidated by its entity tag.
fn serve_client<B>(client: &crate::client::Rendered, req: &Request<B>) -> Response<Body> {
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|inm| files::etag_list_matches(inm, &client.etag, false));
    let mut res = if fresh {
        let mut res = Response::new(empty());
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        res
    } else {
        let body = if req.method() == Method::HEAD {
            empty()
        } else {
            full(client.body.clone())
        };
        let mut res = Response::new(body);
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(client.body.len()));
        res
    };
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(&client.etag) {
        headers.insert(header::ETAG, etag);
    }
    res
}

fn hash_of(bytes: &[u8]) -> u64 {
    use std::hash::{DefaultHasher, Hasher};
    let mut hasher = DefaultHasher::new();
    hasher.write(bytes);
    hasher.finish()
}

/// 200 or 206 with the file's bytes and headers.
fn file_response(found: FoundFile) -> Response<Body> {
    let status = if found.range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let send_len = match found.range {
        Some((start, end)) => end - start + 1,
        None => found.len,
    };
    let body = match found.body {
        FileBody::Empty => empty(),
        FileBody::Bytes(bytes) => full(bytes),
        FileBody::Stream { file, len } => {
            let reader = tokio::fs::File::from_std(file).take(len);
            let stream = ReaderStream::with_capacity(reader, STREAM_CHUNK);
            let frames = futures_util::StreamExt::map(stream, |chunk| chunk.map(Frame::data));
            StreamBody::new(frames).boxed_unsync()
        }
    };
    let mut res = Response::new(body);
    *res.status_mut() = status;
    let headers = res.headers_mut();
    set_validators(headers, &found.validators);
    headers.insert(header::CONTENT_TYPE, content_type(&found.path));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(send_len));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some((start, end)) = found.range {
        let value = format!("bytes {start}-{end}/{}", found.len);
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(header::CONTENT_RANGE, value);
        }
    }
    res
}

fn set_validators(headers: &mut HeaderMap, validators: &files::Validators) {
    // `no-cache` = always revalidate: the browser keeps its copy but asks each time, and
    // gets a cheap 304 while the file is unchanged. Never serve stale code in development.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(&validators.etag) {
        headers.insert(header::ETAG, etag);
    }
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(validators.last_modified)) {
        headers.insert(header::LAST_MODIFIED, date);
    }
}

/// `Content-Type` from the extension, with the choices browsers need for modules and wasm.
pub(crate) fn content_type(path: &Path) -> HeaderValue {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    // Module scripts must be served with a JavaScript MIME type (HTML spec); the IANA
    // registration names text/javascript, which mime_guess does not pick.
    let mime = match ext.as_str() {
        "js" | "mjs" | "cjs" | "jsx" => "text/javascript",
        "wasm" => "application/wasm",
        "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        _ => {
            let guess = mime_guess::from_ext(&ext).first_or_octet_stream();
            return with_charset(guess.essence_str());
        }
    };
    with_charset(mime)
}

fn with_charset(mime: &str) -> HeaderValue {
    let texty = mime.starts_with("text/")
        || mime.ends_with("+json")
        || mime.ends_with("+xml")
        || mime == "application/json"
        || mime == "application/xml";
    let value = if texty {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    HeaderValue::from_str(&value)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

pub(crate) fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A small HTML page for errors, so a person in a browser sees what happened.
pub(crate) fn page(status: StatusCode, title: &str, body_html: &str) -> Response<Body> {
    html_response(status, page_html(status, title, body_html))
}

fn page_html(status: StatusCode, title: &str, body_html: &str) -> String {
    format!(
        "<!doctype html><meta charset=utf-8><title>{status_code} {title}</title>\
         <h1>{status_code} {title}</h1><p>{body_html}</p><hr><small>hotserve</small>\n",
        status_code = status.as_u16(),
    )
}

fn html_response(status: StatusCode, html: impl Into<Bytes>) -> Response<Body> {
    let mut res = Response::new(full(html));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn forbidden() -> Response<Body> {
    page(
        StatusCode::FORBIDDEN,
        "Forbidden",
        "This path is outside the served folder or on the deny list.",
    )
}

fn blocked_host(host: &str) -> Response<Body> {
    let name = escape_html(host.rsplit_once(':').map_or(host, |(name, _)| name));
    tracing::debug!(host, "blocked request for an unknown Host");
    page(
        StatusCode::FORBIDDEN,
        "Blocked request",
        &format!(
            "This host (<code>{name}</code>) is not allowed, to protect against DNS rebinding. \
             To allow it, start hotserve with <code>--allowed-host {name}</code> \
             (or <code>Config::allowed_host</code>)."
        ),
    )
}

/// Escape text for HTML element content and attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_text_javascript_and_text_has_utf8() {
        let ct = |p: &str| content_type(Path::new(p)).to_str().unwrap().to_owned();
        assert_eq!(ct("a.js"), "text/javascript; charset=utf-8");
        assert_eq!(ct("a.MJS"), "text/javascript; charset=utf-8");
        assert_eq!(ct("a.wasm"), "application/wasm");
        assert_eq!(ct("a.css"), "text/css; charset=utf-8");
        assert_eq!(ct("a.html"), "text/html; charset=utf-8");
        assert_eq!(ct("a.json"), "application/json; charset=utf-8");
        assert_eq!(ct("a.svg"), "image/svg+xml; charset=utf-8");
        assert_eq!(ct("a.png"), "image/png");
        assert_eq!(ct("noext"), "application/octet-stream");
    }

    #[test]
    fn html_escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape_html("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
    }
}
