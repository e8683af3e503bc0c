//! The static file server, over real sockets against a real temp folder.

mod common;

use common::{TestServer, raw, request, write};
use hotserve::{Config, Error, Server};
use tempfile::TempDir;

const CSS: &str = "body { color: rebeccapurple; }\n";

/// A site with awkward names, secrets next to assets, and links out of the root.
struct Fixture {
    site: TempDir,
    _outside: TempDir,
}

impl Fixture {
    fn new() -> Self {
        let site = TempDir::new().unwrap();
        let outside = TempDir::new().unwrap();
        let root = site.path();
        write(
            root,
            "index.html",
            "<!doctype html><title>home</title><h1>home</h1>",
        );
        write(root, "style.css", CSS);
        write(root, "main.js", "export const x = 1;\n");
        write(root, "lib.mjs", "export default 1;\n");
        write(root, "app.wasm", b"\0asm\x01\0\0\0");
        write(root, "with space.txt", "spaced");
        write(root, "été/ünï.css", "unicode");
        write(root, "docs/index.html", "<h1>docs</h1>");
        write(root, "empty-dir/.keep", "");
        write(root, "public/a.txt", "public");
        write(root, "public-x/b.txt", "sibling");
        write(root, ".env", "SECRET=root-env");
        write(root, ".env.local", "SECRET=local");
        write(root, "certs/server.pem", "-----BEGIN PRIVATE KEY-----");
        write(root, "id.KEY", "key");
        write(root, ".npmrc", "//registry/:_authToken=secret");
        write(root, ".yarnrc.yml", "npmAuthToken: secret");
        write(root, ".git/config", "[core]");
        write(root, ".well-known/security.txt", "contact");
        let big: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        write(root, "big.bin", &big);
        write(outside.path(), "secret.txt", "outside-secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink(outside.path().join("secret.txt"), root.join("link-out.txt")).unwrap();
            symlink(outside.path(), root.join("dir-out")).unwrap();
            symlink(root.join("style.css"), root.join("link-in.css")).unwrap();
            symlink(root.join(".env"), root.join("innocent.txt")).unwrap();
        }
        Fixture {
            site,
            _outside: outside,
        }
    }

    fn config(&self) -> Config {
        Config::new(self.site.path())
    }

    async fn serve(&self) -> TestServer {
        TestServer::start(self.config()).await
    }
}

#[tokio::test]
async fn serves_a_file_with_content_type_length_and_validators() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let reply = server.get("/style.css").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), CSS);
    assert_eq!(
        reply.header("content-type"),
        Some("text/css; charset=utf-8")
    );
    assert_eq!(
        reply.header("content-length"),
        Some(&*CSS.len().to_string())
    );
    assert_eq!(reply.header("cache-control"), Some("no-cache"));
    assert!(reply.header("etag").unwrap().starts_with('"'));
    assert!(reply.header("last-modified").unwrap().ends_with("GMT"));
    assert_eq!(reply.header("accept-ranges"), Some("bytes"));
}

#[tokio::test]
async fn javascript_and_wasm_get_the_types_browsers_require() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    for path in ["/main.js", "/lib.mjs"] {
        let reply = server.get(path).await;
        assert_eq!(
            reply.header("content-type"),
            Some("text/javascript; charset=utf-8")
        );
    }
    let reply = server.get("/app.wasm").await;
    assert_eq!(reply.header("content-type"), Some("application/wasm"));
}

#[tokio::test]
async fn a_timestamp_query_does_not_change_the_file_served_but_import_asks_for_a_module() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let reply = server.get("/style.css?t=123").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), CSS);
    // Vite's marker for an import from JavaScript: the stylesheet as a module.
    let module = server.get("/style.css?t=123&import").await;
    assert_eq!(module.status, 200);
    assert!(module.text().contains("__vite__updateStyle"));
}

#[tokio::test]
async fn directories_serve_their_index_html() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    assert!(server.get("/").await.text().contains("home"));
    let docs = server.get("/docs/").await;
    assert_eq!(docs.status, 200);
    assert_eq!(
        docs.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(docs.text().contains("docs"));
}

#[tokio::test]
async fn a_directory_without_its_slash_redirects_keeping_the_query() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let reply = server.get("/docs?x=1").await;
    assert_eq!(reply.status, 307);
    assert_eq!(reply.header("location"), Some("/docs/?x=1"));
}

#[tokio::test]
async fn a_directory_without_index_gets_a_listing_without_its_dotfiles() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let reply = server.get("/empty-dir/").await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.text().contains("Index of /empty-dir/"),
        "{}",
        reply.text()
    );
    assert!(!reply.text().contains(".keep"), "{}", reply.text());
}

#[tokio::test]
async fn a_missing_file_gets_a_404_page_naming_the_escaped_path() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let reply = server.get("/nope/%3Cscript%3E.js").await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let text = reply.text();
    assert!(text.contains("/nope/&lt;script&gt;.js"), "{text}");
    assert!(!text.contains("<script>"));
}

#[tokio::test]
async fn names_with_spaces_and_non_ascii_are_served() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    assert_eq!(server.get("/with%20space.txt").await.text(), "spaced");
    assert_eq!(
        server.get("/%C3%A9t%C3%A9/%C3%BCn%C3%AF.css").await.text(),
        "unicode"
    );
}

#[tokio::test]
async fn head_answers_headers_without_a_body() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let reply = request(server.addr, "HEAD", "/style.css", &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-length"),
        Some(&*CSS.len().to_string())
    );
    assert!(reply.body.is_empty());
}

#[tokio::test]
async fn other_methods_get_405_with_allow() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
        let reply = request(
            server.addr,
            method,
            "/style.css",
            &[("Content-Length", "0")],
        )
        .await;
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("allow"), Some("GET, HEAD"));
    }
}

#[tokio::test]
async fn if_none_match_with_the_current_etag_returns_304() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let etag = server.header_of("/style.css", "etag").await;
    let reply = server
        .get_with("/style.css", &[("If-None-Match", &etag)])
        .await;
    assert_eq!(reply.status, 304);
    assert!(reply.body.is_empty());
    assert_eq!(reply.header("etag"), Some(&*etag));
    let weak = format!("W/{etag}");
    let reply = server
        .get_with("/style.css", &[("If-None-Match", &weak)])
        .await;
    assert_eq!(reply.status, 304);
    let reply = server
        .get_with("/style.css", &[("If-None-Match", "*")])
        .await;
    assert_eq!(reply.status, 304);
}

#[tokio::test]
async fn a_changed_file_is_served_fresh_despite_the_old_etag() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let etag = server.header_of("/style.css", "etag").await;
    write(fx.site.path(), "style.css", "body { color: red; }\n");
    let reply = server
        .get_with("/style.css", &[("If-None-Match", &etag)])
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "body { color: red; }\n");
    assert_ne!(reply.header("etag"), Some(&*etag));
}

#[tokio::test]
async fn if_modified_since_returns_304_unless_if_none_match_disagrees() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let date = server.header_of("/style.css", "last-modified").await;
    let reply = server
        .get_with("/style.css", &[("If-Modified-Since", &date)])
        .await;
    assert_eq!(reply.status, 304);
    let old = "Mon, 01 Jan 2001 00:00:00 GMT";
    assert_eq!(
        server
            .get_with("/style.css", &[("If-Modified-Since", old)])
            .await
            .status,
        200
    );
    let both = [
        ("If-Modified-Since", date.as_str()),
        ("If-None-Match", "\"other\""),
    ];
    assert_eq!(server.get_with("/style.css", &both).await.status, 200);
}

#[tokio::test]
async fn a_single_range_returns_206_with_content_range() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let reply = server
        .get_with("/style.css", &[("Range", "bytes=0-3")])
        .await;
    assert_eq!(reply.status, 206);
    assert_eq!(reply.text(), "body");
    assert_eq!(
        reply.header("content-range"),
        Some(&*format!("bytes 0-3/{}", CSS.len()))
    );
    let reply = server
        .get_with("/style.css", &[("Range", "bytes=-2")])
        .await;
    assert_eq!(reply.text(), "}\n");
}

#[tokio::test]
async fn an_unsatisfiable_range_returns_416() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let reply = server
        .get_with("/style.css", &[("Range", "bytes=9999-")])
        .await;
    assert_eq!(reply.status, 416);
    assert_eq!(
        reply.header("content-range"),
        Some(&*format!("bytes */{}", CSS.len()))
    );
}

#[tokio::test]
async fn a_range_with_a_stale_if_range_returns_the_whole_file() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let headers = [("Range", "bytes=0-3"), ("If-Range", "\"stale\"")];
    let reply = server.get_with("/style.css", &headers).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), CSS);
    let etag = server.header_of("/style.css", "etag").await;
    let headers = [("Range", "bytes=0-3"), ("If-Range", etag.as_str())];
    assert_eq!(server.get_with("/style.css", &headers).await.status, 206);
}

#[tokio::test]
async fn large_files_stream_completely_and_ranges_reach_deep_offsets() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let reply = server.get("/big.bin").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), 3 * 1024 * 1024);
    assert!(
        reply
            .body
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i % 251) as u8)
    );
    let start = 2 * 1024 * 1024 + 7;
    let range = format!("bytes={start}-");
    let reply = server.get_with("/big.bin", &[("Range", &range)]).await;
    assert_eq!(reply.status, 206);
    assert_eq!(reply.body.len(), 3 * 1024 * 1024 - start);
    assert_eq!(reply.body[0], (start % 251) as u8);
}

#[tokio::test]
async fn keep_alive_serves_several_requests_on_one_connection() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let host = server.addr.to_string();
    let two = format!(
        "GET /style.css HTTP/1.1\r\nHost: {host}\r\n\r\nGET /main.js HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    );
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(two.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
    assert!(out.contains(CSS) && out.contains("export const x"));
}

#[tokio::test]
async fn the_spa_fallback_serves_index_html_to_navigations_only() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config().spa(true)).await;
    let nav = server
        .get_with("/app/route/42", &[("Accept", "text/html,*/*")])
        .await;
    assert_eq!(nav.status, 200);
    assert!(nav.text().contains("home"));
    let asset = server.get_with("/missing.js", &[("Accept", "*/*")]).await;
    assert_eq!(asset.status, 404);
    let plain = TestServer::start(fx.config()).await;
    let nav = plain
        .get_with("/app/route/42", &[("Accept", "text/html")])
        .await;
    assert_eq!(nav.status, 404);
}

#[tokio::test]
async fn a_fragment_in_the_request_target_is_a_bad_request() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let reply = raw(
        server.addr,
        b"GET /style.css#x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 400);
    let reply = raw(
        server.addr,
        b"GET /style.css?a#/../.env HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 400);
    // The next request on a kept-alive connection is judged on its own.
    let host = server.addr.to_string();
    let two = format!(
        "GET /a#b HTTP/1.1\r\nHost: {host}\r\n\r\nGET /style.css HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    );
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(two.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    let first = out.find("HTTP/1.1 400").expect("first is 400");
    let second = out.find("HTTP/1.1 200").expect("second is 200");
    assert!(first < second);
}

/// The minimum negative table from the protocol notes plus our own: none of these may
/// return a secret or anything from outside the root.
#[tokio::test]
async fn traversal_and_encoding_tricks_never_leak_files() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let cases: &[(&str, u16)] = &[
        ("/../secret.txt", 403),
        ("/..%2fsecret.txt", 403),
        ("/%2e%2e/secret.txt", 403),
        ("/%2E%2E/%2e%2e/etc/passwd", 403),
        ("/%252e%252e/%252e%252e/etc/passwd", 404),
        ("/public/..%5c..%5c.env", 403),
        ("/public\\..\\.env", 403),
        ("/public/%5c..%5csecret.txt", 403),
        ("/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", 400),
        ("/style.css%00.html", 400),
        ("/.env/.", 403),
        ("/.env.", 403),
        ("/.env%20", 403),
        ("/C:/Windows/win.ini", 403),
        ("/c:%5cboot.ini", 403),
        ("/index.html::$DATA", 403),
        ("/public%5c", 403),
        ("/public/../.env", 403),
        ("/public/a.txt?/../../.env", 200),
        ("/public-x/b.txt", 200),
        ("//etc/passwd", 404),
        ("/link-out.txt", 403),
        ("/dir-out/secret.txt", 403),
        ("/dir-out/missing.txt", 403),
        ("/innocent.txt", 403),
    ];
    for (target, expected) in cases {
        let reply = request(server.addr, "GET", target, &[]).await;
        let text = reply.text();
        assert_eq!(reply.status, *expected, "{target}: {text}");
        assert!(
            !text.contains("SECRET") && !text.contains("outside-secret"),
            "{target}"
        );
        assert!(!text.contains("root:"), "{target}");
    }
}

#[tokio::test]
async fn a_symlink_that_stays_inside_the_root_is_served() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let reply = server.get("/link-in.css").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), CSS);
}

#[tokio::test]
async fn secrets_on_the_deny_list_get_403_case_insensitively() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    for target in [
        "/.env",
        "/.ENV",
        "/.env.local",
        "/certs/server.pem",
        "/id.KEY",
        "/.npmrc",
        "/.yarnrc.yml",
        "/.git/config",
        "/.GIT/config",
        "/.git/",
    ] {
        let reply = server.get(target).await;
        assert_eq!(reply.status, 403, "{target}");
        assert!(!reply.text().contains("secret"), "{target}");
    }
    assert_eq!(server.get("/.well-known/security.txt").await.status, 200);
}

#[tokio::test]
async fn extra_deny_patterns_are_refused_too() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config().deny("*.txt").deny("docs/**")).await;
    assert_eq!(server.get("/with%20space.txt").await.status, 403);
    assert_eq!(server.get("/docs/index.html").await.status, 403);
    assert_eq!(server.get("/style.css").await.status, 200);
}

#[tokio::test]
async fn an_unknown_host_is_blocked_with_instructions() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let reply = server.get_with("/", &[("Host", "evil.example:5173")]).await;
    assert_eq!(reply.status, 403);
    assert!(
        reply.text().contains("--allowed-host evil.example"),
        "{}",
        reply.text()
    );
    for host in ["localhost:1", "app.localhost", "127.0.0.1", "[::1]:5173"] {
        assert_eq!(
            server.get_with("/", &[("Host", host)]).await.status,
            200,
            "{host}"
        );
    }
}

#[tokio::test]
async fn an_allowed_host_is_accepted() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config().allowed_host("dev.example")).await;
    let reply = server.get_with("/", &[("Host", "dev.example:5173")]).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn a_taken_port_moves_to_the_next_free_one() {
    let fx = Fixture::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let server = Server::bind(fx.config().port(port)).await.unwrap();
    assert_ne!(server.local_addr().port(), port);
    assert!(server.local_addr().port() > port);
}

#[tokio::test]
async fn a_taken_port_with_strict_port_is_an_error() {
    let fx = Fixture::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = Server::bind(fx.config().port(port).strict_port(true))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::PortInUse { port: p } if p == port),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_or_non_folder_root_is_a_typed_error() {
    let err = Server::bind(Config::new("/definitely/not/here").port(0))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RootMissing(_)), "{err}");
    let fx = Fixture::new();
    let file = fx.site.path().join("style.css");
    let err = Server::bind(Config::new(file).port(0)).await.unwrap_err();
    assert!(matches!(err, Error::RootNotDir(_)), "{err}");
}

#[tokio::test]
async fn a_pre_bound_listener_is_used_as_is() {
    let fx = Fixture::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::from_listener(listener, fx.config()).await.unwrap();
    assert_eq!(server.local_addr(), addr);
    tokio::spawn(server.run(std::future::pending()));
    assert_eq!(request(addr, "GET", "/style.css", &[]).await.status, 200);
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_download_finish() {
    let fx = Fixture::new();
    let server = fx.serve().await;
    let addr = server.addr;
    let download = tokio::spawn(async move { request(addr, "GET", "/big.bin", &[]).await });
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    server.stop().await;
    let reply = download.await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), 3 * 1024 * 1024);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn http2_with_prior_knowledge_is_served() {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let fx = Fixture::new();
    let server = fx.serve().await;
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let request = hyper::Request::get(format!("http://{}/style.css", server.addr))
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), hyper::Version::HTTP_2);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, CSS.as_bytes());
}
