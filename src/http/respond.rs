//! The respond stage: turns what the earlier stages produced into a response. Every function
//! here is a function of its arguments: no file reads, no recording, no broadcasting.

use super::files::{self, FileBody, FileRequest, FoundFile, Outcome};
use super::host::HostFault;
use super::router::Refusal;
use super::{Body, Ready, inject, ws};
use bytes::Bytes;
use http_body_util::StreamBody;
use hyper::body::Frame;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode, Uri};
use std::path::Path;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

/// Chunk size for streamed files: large enough for throughput, small enough to keep memory
/// flat with many concurrent downloads.
const STREAM_CHUNK: usize = 64 * 1024;

/// The response for a file request after the transform stage.
pub(crate) fn respond(ready: Ready, req: &FileRequest, uri: &Uri) -> Response<Body> {
    match ready {
        // Its entity tag is the hash of what is sent: the rewrite changes when imported
        // modules get hot-updated even though the file itself did not change.
        // Every module is JavaScript, whatever file it was made from (`style.css?import`).
        Ready::Module { code } => {
            let etag = format!("\"m-{:x}\"", crate::sync::content_hash(&code));
            let script = HeaderValue::from_static("text/javascript; charset=utf-8");
            revalidated(&etag, req, script, code)
        }
        // A `.css` file, or what a transform compiled for a `<link>` (`.scss`).
        Ready::Stylesheet { code } => {
            let etag = format!("\"m-{:x}\"", crate::sync::content_hash(&code));
            let css = HeaderValue::from_static("text/css; charset=utf-8");
            revalidated(&etag, req, css, code)
        }
        #[cfg(feature = "transform")]
        Ready::Helper(module) => {
            let etag = format!("\"h-{:x}\"", crate::sync::content_hash(module.as_bytes()));
            let script = HeaderValue::from_static("text/javascript; charset=utf-8");
            revalidated(&etag, req, script, Bytes::from(module))
        }
        Ready::Broken(err) => {
            // The import that asked sees the message and the code frame (devtools'
            // network tab); the overlay gets them through the hub.
            let text = match &err.frame {
                Some(frame) => format!("{}\n\n{frame}\n", err.message),
                None => format!("{}\n", err.message),
            };
            uncached(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                text,
            )
        }
        Ready::Page(found) => {
            let mut res = file_response(found);
            // Ranges of the file do not apply to the page as sent.
            res.headers_mut().remove(header::ACCEPT_RANGES);
            res
        }
        Ready::Loaded(outcome) => loaded(outcome, req, uri),
        Ready::Failed(err) => {
            let code = err.module();
            let len = code.len();
            let mut res = Response::new(if req.head { empty() } else { full(code) });
            let headers = res.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            );
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            // Never kept: the next load must try again (the package may be installed now).
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
    }
}

/// The client script: rendered once at startup, revalidated by its entity tag.
pub(crate) fn client(client: &crate::client::Rendered, req: &FileRequest) -> Response<Body> {
    let script = HeaderValue::from_static("text/javascript; charset=utf-8");
    revalidated(&client.etag, req, script, client.body.clone())
}

/// Bytes made in memory (a rewritten module, the client): `no-cache` with an entity tag, and
/// a 304 when the browser's copy has that tag.
fn revalidated(
    etag: &str,
    req: &FileRequest,
    content_type: HeaderValue,
    body: Bytes,
) -> Response<Body> {
    let fresh = req
        .if_none_match
        .as_deref()
        .is_some_and(|inm| files::etag_list_matches(inm, etag, false));
    let mut res = if fresh {
        status_only(StatusCode::NOT_MODIFIED)
    } else {
        let len = body.len();
        let mut res = Response::new(if req.head { empty() } else { full(body) });
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_TYPE, content_type);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        res
    };
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, etag);
    }
    res
}

/// What the load stage decided, sent as it is.
fn loaded(outcome: Outcome, req: &FileRequest, uri: &Uri) -> Response<Body> {
    match outcome {
        Outcome::File(found) => file_response(found),
        Outcome::NotModified { validators, .. } => {
            let mut res = status_only(StatusCode::NOT_MODIFIED);
            set_validators(res.headers_mut(), &validators);
            res
        }
        Outcome::RangeNotSatisfiable { len } => {
            let mut res = status_only(StatusCode::RANGE_NOT_SATISFIABLE);
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
            // Temporary: in a dev folder a directory may become a file at any time, and a
            // cached permanent redirect would outlive it.
            let mut res = status_only(StatusCode::TEMPORARY_REDIRECT);
            if let Ok(value) = HeaderValue::from_str(&location) {
                res.headers_mut().insert(header::LOCATION, value);
            }
            res
        }
        Outcome::NotFound => {
            let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
            let body = format!("No file at <code>{}</code>.", escape_html(&path));
            if req.inject_client {
                // The 404 page gets the client too: it reloads once the file exists.
                let html = page_html(StatusCode::NOT_FOUND, "Not found", &body);
                let html = inject::inject_client(html.as_bytes());
                html_response(StatusCode::NOT_FOUND, html)
            } else {
                page(StatusCode::NOT_FOUND, "Not found", &body)
            }
        }
        Outcome::Forbidden => forbidden(),
        Outcome::Listing(listing) => {
            let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
            let html = listing_html(&path, &listing.entries);
            let html = if req.inject_client {
                // With the client, the page reloads when files come and go.
                inject::inject_client(html.as_bytes())
            } else {
                html.into_bytes()
            };
            html_response(StatusCode::OK, html)
        }
    }
}

/// The listing page of the folder at URL path `path` (decoded): links, sizes, dates.
pub(crate) fn listing_html(path: &str, entries: &[files::ListedEntry]) -> String {
    use std::fmt::Write;
    let title = escape_html(path);
    let mut html = format!(
        "<!doctype html><html><head><meta charset=utf-8><title>Index of {title}</title>\
         <style>body{{font:14px system-ui,sans-serif;margin:2em}}\
         td{{padding:.15em 1.5em .15em 0}}td.n{{text-align:right}}</style></head>\
         <body><h1>Index of {title}</h1><table>\
         <tr><th align=left>Name</th><th align=right>Size</th><th align=left>Modified</th></tr>\n"
    );
    if path != "/" {
        html.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for entry in entries {
        // The href is one path segment, percent-encoded (a `?`, `#` or `%` in a name stays
        // part of the name), then escaped for the attribute.
        let mut href = percent_encoding::utf8_percent_encode(&entry.name, SEGMENT).to_string();
        let mut name = escape_html(&entry.name);
        if entry.dir {
            href.push('/');
            name.push('/');
        }
        let size = if entry.dir {
            String::new()
        } else {
            human_size(entry.len)
        };
        let _ = writeln!(
            html,
            "<tr><td><a href=\"{}\">{name}</a></td><td class=n title=\"{} bytes\">{size}</td>\
             <td>{}</td></tr>",
            escape_html(&href),
            entry.len,
            httpdate::fmt_http_date(entry.modified),
        );
    }
    html.push_str("</table><hr><small>hotserve</small></body></html>\n");
    html
}

/// What is percent-encoded in one path segment of a listing's links.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// `1536` -> `1.5 KiB`.
fn human_size(len: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if len < 1024 {
        return format!("{len} B");
    }
    let mut value = len as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The answer to a HEAD request: the GET answer's head, with the `Content-Length` its body
/// has (RFC 9110 §9.3.2), and no body. Every route of our own goes through this, so none
/// can forget it; the proxy's answers are the backend's own.
pub(crate) fn head_of(mut res: Response<Body>) -> Response<Body> {
    use hyper::body::Body as _;
    if !res.headers().contains_key(header::CONTENT_LENGTH)
        && let Some(len) = res.body().size_hint().exact().filter(|len| *len > 0)
    {
        res.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    *res.body_mut() = empty();
    res
}

/// The answer to a request the router refused.
pub(crate) fn refusal(refusal: &Refusal) -> Response<Body> {
    let mut res = match refusal {
        Refusal::NotTheSocketPath { socket } => page(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("The HMR socket is at <code>{}</code>.", escape_html(socket)),
        ),
        Refusal::NoSubprotocol => page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "WebSocket upgrades here need the <code>vite-hmr</code> subprotocol \
             (or <code>vite-ping</code>).",
        ),
        Refusal::BlockedHost(host) => blocked_host(host),
        Refusal::BadHost(fault) => page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            match fault {
                HostFault::Duplicate => "A request must carry exactly one <code>Host</code>.",
                HostFault::Missing => "An HTTP/1.1 request must carry a <code>Host</code>.",
                HostFault::Unreadable => "The <code>Host</code> header is not readable text.",
            },
        ),
        // Browsers never send fragments; one in the target is a crafted request.
        Refusal::Fragment => page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "A request target must not contain <code>#</code>.",
        ),
        Refusal::Method => {
            let mut res = page(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
                "This dev server only answers GET and HEAD.",
            );
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            res
        }
        Refusal::MalformedPath => page(StatusCode::BAD_REQUEST, "Bad request", "Malformed path."),
        Refusal::Forbidden => forbidden(),
    };
    // A request whose host cannot be told is not worth a kept connection either.
    if refusal.was_upgrade() || matches!(refusal, Refusal::BadHost(_)) {
        ws::close_after(&mut res);
    }
    res
}

/// A stage failed unexpectedly (a panic on the blocking pool); the log has the details.
pub(crate) fn internal_error() -> Response<Body> {
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal error",
        "See the server log.",
    )
}

/// 503: what was asked for is still being made (a pre-bundle build that did not finish).
#[cfg(feature = "bundle")]
pub(crate) fn unavailable() -> Response<Body> {
    let mut res = page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Not ready",
        "The dependencies are still being pre-bundled; see the server log.",
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn status_only(status: StatusCode) -> Response<Body> {
    let mut res = Response::new(empty());
    *res.status_mut() = status;
    res
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
            Body::from_io(StreamBody::new(frames))
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
    Body::empty()
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Body::full(bytes)
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

pub(crate) fn html_response(status: StatusCode, html: impl Into<Bytes>) -> Response<Body> {
    uncached(status, "text/html; charset=utf-8", html)
}

/// A generated answer (an error page, a failed wrapper): never cached, since the next
/// request may well succeed.
fn uncached(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut res = Response::new(full(body));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
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

    #[test]
    fn a_module_is_revalidated_by_the_hash_of_what_is_sent() {
        let ready = || Ready::Module {
            code: Bytes::from_static(b"export {}"),
        };
        let uri: Uri = "/app.js".parse().unwrap();
        let first = respond(ready(), &FileRequest::default(), &uri);
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()[header::CACHE_CONTROL], "no-cache");
        let etag = first.headers()[header::ETAG].to_str().unwrap().to_owned();
        let again = FileRequest {
            if_none_match: Some(etag),
            ..FileRequest::default()
        };
        assert_eq!(
            respond(ready(), &again, &uri).status(),
            StatusCode::NOT_MODIFIED
        );
    }

    #[test]
    fn refused_upgrades_close_the_connection_and_other_refusals_do_not() {
        let upgrade = refusal(&Refusal::NoSubprotocol);
        assert_eq!(upgrade.status(), StatusCode::BAD_REQUEST);
        assert_eq!(upgrade.headers()[header::CONNECTION], "close");
        let method = refusal(&Refusal::Method);
        assert_eq!(method.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(method.headers()[header::ALLOW], "GET, HEAD");
        assert!(method.headers().get(header::CONNECTION).is_none());
    }
}
