//! Proxy mode against a real backend: a small hyper server on port 0 started by each test.
#![cfg(feature = "proxy")]

mod common;

use bytes::Bytes;
use common::TestServer;
use futures_util::{SinkExt, StreamExt};
use hotserve::Config;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

const CLIENT_TAG: &str = r#"<script type="module" src="/@vite/client"></script>"#;
const PAGE: &str =
    "<!doctype html><html><head><title>backend</title></head><body>from the backend</body></html>";

/// A backend app: pages, a gzip page that ignores Accept-Encoding, a redirect, a header
/// echo, a slow route, an API, and a WebSocket echo.
struct Backend {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backend {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| backend(req, addr));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Backend { addr, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn respond(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap()
}

async fn backend(
    mut req: Request<hyper::body::Incoming>,
    me: SocketAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let res = match path.as_str() {
        "/" | "/page" => {
            let mut res = respond(200, "text/html; charset=utf-8", PAGE);
            res.headers_mut()
                .insert("etag", "\"backend-1\"".parse().unwrap());
            res
        }
        "/gz" => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(PAGE.as_bytes()).unwrap();
            let mut res = respond(200, "text/html", gz.finish().unwrap());
            res.headers_mut()
                .insert("content-encoding", "gzip".parse().unwrap());
            res
        }
        "/redirect" => {
            let mut res = respond(302, "text/plain", "moved");
            let location = format!("http://{me}/login?next=%2Fpage");
            res.headers_mut()
                .insert("location", location.parse().unwrap());
            res
        }
        "/headers" => {
            let mut lines: Vec<String> = req
                .headers()
                .iter()
                .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap_or("?")))
                .collect();
            lines.push(format!("target: {}", req.uri()));
            respond(200, "text/plain", lines.join("\n"))
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(20)).await;
            respond(200, "text/plain", "late")
        }
        "/ws" => return Ok(websocket_echo(&mut req)),
        p if p.starts_with("/api/") => {
            let method = req.method().clone();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let text = format!(
                "{{\"method\":\"{method}\",\"path\":\"{p}\",\"at\":\"{me}\",\"body\":{}}}",
                String::from_utf8_lossy(&body)
            );
            respond(200, "application/json", text)
        }
        _ => respond(404, "text/plain", "backend 404"),
    };
    Ok(res)
}

fn websocket_echo(req: &mut Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    use tokio_tungstenite::tungstenite::protocol::Role;
    let key = req.headers()["sec-websocket-key"].as_bytes().to_vec();
    let upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            None,
        )
        .await;
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Text(text) = message {
                let echo = format!("echo: {text}");
                if ws.send(Message::text(echo)).await.is_err() {
                    break;
                }
            }
        }
    });
    Response::builder()
        .status(101)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", derive_accept_key(&key))
        .body(Full::new(Bytes::new()))
        .unwrap()
}

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::write(dir.path(), "style.css", "body { color: red }");
    common::write(dir.path(), "api-docs.html", "<h1>local file</h1>");
    dir
}

#[tokio::test]
async fn a_backend_page_gets_the_client_and_a_correct_length() {
    let backend = Backend::start().await;
    let root = site();
    let server = TestServer::start(Config::new(root.path()).proxy(backend.url())).await;
    let reply = server.get("/page").await; // parse_reply checks Content-Length
    assert_eq!(reply.status, 200);
    let text = reply.text();
    assert!(text.contains("from the backend"), "{text}");
    assert!(text.contains(&format!("<head>{CLIENT_TAG}")), "{text}");
    assert_eq!(text.len(), PAGE.len() + CLIENT_TAG.len());
    assert_eq!(
        reply.header("etag"),
        None,
        "the backend's validator is dropped"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_gzip_page_from_a_backend_that_ignores_accept_encoding_is_decoded_and_injected() {
    let backend = Backend::start().await;
    let root = site();
    let server = TestServer::start(Config::new(root.path()).proxy(backend.url())).await;
    let reply = server.get_with("/gz", &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-encoding"), None);
    let text = reply.text();
    assert!(
        text.contains(CLIENT_TAG) && text.contains("from the backend"),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn files_under_the_root_win_and_other_paths_go_to_the_backend() {
    let backend = Backend::start().await;
    let root = site();
    let server = TestServer::start(Config::new(root.path()).proxy(backend.url())).await;
    let css = server.get("/style.css").await;
    assert_eq!(css.text(), "body { color: red }");
    let missing = server.get("/nothing-here").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.text(), "backend 404");
    // Methods files do not answer go to the backend too.
    let post = common::request(server.addr, "POST", "/api/form", &[("Content-Length", "0")]).await;
    assert_eq!(post.status, 200);
    assert!(post.text().contains("\"method\":\"POST\""));
    server.stop().await;
}

#[tokio::test]
async fn forwarded_requests_carry_x_forwarded_headers_and_ask_for_identity_encoding() {
    let backend = Backend::start().await;
    let root = site();
    let server = TestServer::start(
        Config::new(root.path())
            .proxy(backend.url())
            .token("s3cret-token"),
    )
    .await;
    let host = format!("localhost:{}", server.addr.port());
    let reply = server
        .get_with(
            "/headers?token=s3cret-token&q=1",
            &[
                ("Host", &host),
                ("Accept-Encoding", "gzip, br"),
                ("Connection", "close, x-hop"),
                ("X-Hop", "secret"),
            ],
        )
        .await;
    let text = reply.text();
    assert!(text.contains(&format!("host: {host}")), "{text}");
    assert!(
        text.contains(&format!("x-forwarded-host: {host}")),
        "{text}"
    );
    assert!(text.contains("x-forwarded-proto: http"), "{text}");
    assert!(text.contains("x-forwarded-for: 127.0.0.1"), "{text}");
    assert!(text.contains("accept-encoding: identity"), "{text}");
    assert!(
        !text.contains("x-hop"),
        "hop-by-hop headers stay here: {text}"
    );
    assert!(
        !text.contains("s3cret-token"),
        "the HMR token is never forwarded: {text}"
    );
    assert!(text.contains("target: /headers?q=1"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn a_redirect_to_the_backend_points_back_at_the_dev_server() {
    let backend = Backend::start().await;
    let root = site();
    let server = TestServer::start(Config::new(root.path()).proxy(backend.url())).await;
    let host = format!("localhost:{}", server.addr.port());
    let reply = server.get_with("/redirect", &[("Host", &host)]).await;
    assert_eq!(reply.status, 302);
    assert_eq!(
        reply.header("location"),
        Some(format!("http://{host}/login?next=%2Fpage").as_str())
    );
    server.stop().await;
}

#[tokio::test]
async fn an_api_prefix_goes_to_the_backend_while_files_are_served_from_the_root() {
    let backend = Backend::start().await;
    let root = site();
    let other = Backend::start().await;
    let server = TestServer::start(
        Config::new(root.path())
            .proxy_path("/api", other.url())
            .proxy_path("/api/v2", backend.url()),
    )
    .await;
    let css = server.get("/style.css").await;
    assert_eq!(css.text(), "body { color: red }");
    // `/api-docs.html` shares the characters but not the path segment.
    let docs = server.get("/api-docs.html").await;
    assert!(docs.text().contains("local file"), "{}", docs.text());
    let api = server.get("/api/users").await;
    assert_eq!(api.status, 200);
    assert!(
        api.text().contains("\"path\":\"/api/users\""),
        "{}",
        api.text()
    );
    let body = "{\"name\":\"x\"}";
    let len = body.len().to_string();
    let mut head = format!(
        "POST /api/v2/items HTTP/1.1\r\nHost: {}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n",
        server.addr
    )
    .into_bytes();
    head.extend_from_slice(body.as_bytes());
    let posted = common::raw(server.addr, &head).await;
    assert_eq!(posted.status, 200);
    assert!(
        posted.text().contains("\"method\":\"POST\""),
        "{}",
        posted.text()
    );
    assert!(
        posted.text().contains("\"body\":{\"name\":\"x\"}"),
        "{}",
        posted.text()
    );
    assert!(
        posted.text().contains(&backend.addr.to_string()),
        "the longest prefix wins: {}",
        posted.text()
    );
    // No fallback proxy: unknown paths are still hotserve's 404.
    let missing = server.get("/nothing-here").await;
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("No file at"));
    server.stop().await;
}

#[tokio::test]
async fn proxy_all_forwards_even_paths_that_are_files() {
    let backend = Backend::start().await;
    let root = site();
    common::write(root.path(), "page", "local copy");
    let server = TestServer::start(
        Config::new(root.path())
            .proxy(backend.url())
            .proxy_all(true),
    )
    .await;
    let reply = server.get("/page").await;
    assert!(
        reply.text().contains("from the backend"),
        "{}",
        reply.text()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_websocket_that_is_not_hmr_is_tunnelled_to_the_backend() {
    let backend = Backend::start().await;
    let root = site();
    let server = TestServer::start(Config::new(root.path()).proxy(backend.url())).await;
    let mut ws = common::ws_connect(server.addr, "/ws", "", &[])
        .await
        .expect("the backend's upgrade comes through");
    ws.send(Message::text("hello")).await.unwrap();
    let echoed = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("echo within 5 s")
        .unwrap()
        .unwrap();
    assert_eq!(echoed, Message::text("echo: hello"));
    // The HMR socket is still hotserve's own.
    let mut hmr = common::hmr_client(server.addr).await;
    assert_eq!(common::next_json(&mut hmr).await["type"], "connected");
    server.stop().await;
}

#[tokio::test]
async fn the_host_check_applies_to_proxied_requests() {
    let backend = Backend::start().await;
    let root = site();
    let server = TestServer::start(Config::new(root.path()).proxy(backend.url())).await;
    let reply = server
        .get_with("/page", &[("Host", "evil.example:5173")])
        .await;
    assert_eq!(reply.status, 403);
    assert!(!reply.text().contains("from the backend"));
    server.stop().await;
}

#[tokio::test]
async fn a_backend_that_is_down_gets_a_502_page_that_names_it_and_reloads_itself() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let root = site();
    let server = TestServer::start(Config::new(root.path()).proxy(&url)).await;
    let reply = tokio::time::timeout(Duration::from_secs(10), server.get("/page"))
        .await
        .expect("no hang");
    assert_eq!(reply.status, 502);
    let text = reply.text();
    assert!(text.contains(&url), "{text}");
    assert!(text.contains(CLIENT_TAG), "{text}");
    assert!(text.contains("location.reload()"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn a_slow_backend_gets_a_504_after_the_timeout() {
    let backend = Backend::start().await;
    let root = site();
    let server = TestServer::start(
        Config::new(root.path())
            .proxy(backend.url())
            .proxy_timeout(Duration::from_millis(300)),
    )
    .await;
    let reply = tokio::time::timeout(Duration::from_secs(10), server.get("/slow"))
        .await
        .expect("no hang");
    assert_eq!(reply.status, 504);
    assert!(reply.text().contains(&backend.url()));
    server.stop().await;
}

#[tokio::test]
async fn proxy_targets_that_are_not_http_urls_are_refused_at_startup() {
    let root = site();
    for bad in ["ftp://127.0.0.1:21", "127.0.0.1:8000", "http://"] {
        let err = hotserve::Server::bind(Config::new(root.path()).port(0).proxy(bad))
            .await
            .expect_err("refused");
        assert!(
            matches!(err, hotserve::Error::BadProxy { .. }),
            "{bad}: {err:?}"
        );
    }
    let err = hotserve::Server::bind(
        Config::new(root.path())
            .port(0)
            .proxy_path("api", "http://127.0.0.1:1"),
    )
    .await
    .expect_err("a prefix without a slash is refused");
    assert!(err.to_string().contains("must start with /"), "{err}");
}

#[tokio::test]
async fn reload_on_sends_a_full_reload_for_a_matching_file() {
    let root = site();
    common::write(root.path(), "templates/base.html", "<p>v1</p>");
    let server = TestServer::start(Config::new(root.path()).reload_on("templates/**")).await;
    let mut hmr = common::hmr_client(server.addr).await;
    assert_eq!(common::next_json(&mut hmr).await["type"], "connected");
    common::write(root.path(), "templates/base.html", "<p>v2</p>");
    let reload = common::next_json(&mut hmr).await;
    assert_eq!(reload["type"], "full-reload");
    assert_eq!(reload["path"], "*");
    assert_eq!(reload["triggeredBy"], "/templates/base.html");
    server.stop().await;
}

#[tokio::test]
async fn head_for_a_backend_page_announces_the_injected_length() {
    let backend = Backend::start().await;
    let root = site();
    let server = TestServer::start(Config::new(root.path()).proxy(backend.url())).await;
    let reply = common::request(server.addr, "HEAD", "/page", &[]).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty());
    let expected = (PAGE.len() + CLIENT_TAG.len()).to_string();
    assert_eq!(reply.header("content-length"), Some(expected.as_str()));
    server.stop().await;
}

#[tokio::test]
async fn no_inject_leaves_backend_pages_as_they_are() {
    let backend = Backend::start().await;
    let root = site();
    let server =
        TestServer::start(Config::new(root.path()).proxy(backend.url()).inject(false)).await;
    let reply = server.get("/page").await;
    assert_eq!(reply.text(), PAGE);
    assert_eq!(reply.header("etag"), Some("\"backend-1\""));
    server.stop().await;
}

#[tokio::test]
async fn the_client_route_and_the_hmr_socket_stay_local_with_proxy_all() {
    let backend = Backend::start().await;
    let root = site();
    let server = TestServer::start(
        Config::new(root.path())
            .proxy(backend.url())
            .proxy_all(true),
    )
    .await;
    let client = server.get("/@vite/client").await;
    assert_eq!(client.status, 200);
    assert!(
        client
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/javascript")),
        "{:?}",
        client.headers
    );
    assert!(client.text().contains("createHotContext"));
    let mut hmr = common::hmr_client(server.addr).await;
    assert_eq!(common::next_json(&mut hmr).await["type"], "connected");
    server.stop().await;
}

#[tokio::test]
async fn tunnelled_websockets_end_when_the_server_stops() {
    let backend = Backend::start().await;
    let root = site();
    let server = TestServer::start(Config::new(root.path()).proxy(backend.url())).await;
    let mut ws = common::ws_connect(server.addr, "/ws", "", &[])
        .await
        .expect("tunnel opens");
    ws.send(Message::text("ping")).await.unwrap();
    assert!(ws.next().await.is_some());
    server.stop().await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the tunnel was closed at shutdown");
}

#[tokio::test]
async fn html_fetched_by_a_script_is_not_injected_but_navigations_are() {
    let backend = Backend::start().await;
    let root = site();
    let server = TestServer::start(Config::new(root.path()).proxy(backend.url())).await;
    // fetch() and htmx ask with `Accept: */*` for fragments they insert themselves.
    let fragment = server.get_with("/page", &[("Accept", "*/*")]).await;
    assert_eq!(fragment.text(), PAGE);
    let navigation = server
        .get_with(
            "/page",
            &[
                ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
                ("Sec-Fetch-Mode", "navigate"),
            ],
        )
        .await;
    assert!(navigation.text().contains(CLIENT_TAG));
    server.stop().await;
}

#[tokio::test]
async fn an_http_1_0_backend_answer_goes_out_in_the_browsers_http_version() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let body = "<head></head>old server";
                let head = format!(
                    "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
            });
        }
    });
    let root = site();
    let server =
        TestServer::start(Config::new(root.path()).proxy(format!("http://{backend}"))).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET /old HTTP/1.1\r\nHost: {}\r\nAccept: text/html\r\nConnection: close\r\n\r\n",
        server.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let reply = common::parse_reply(&out, false);
    assert!(reply.text().contains(CLIENT_TAG), "{text}");
    server.stop().await;
}
