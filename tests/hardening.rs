//! The rough edges found by abuse testing (issue 16), each against a real server on port 0,
//! over raw TCP where the request must be malformed byte for byte.

mod common;

use common::{TestServer, parse_reply, raw, request, write};
use hotserve::Config;
use std::net::SocketAddr;
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
#[cfg(feature = "proxy")]
use tokio::net::TcpListener;
use tokio::net::TcpStream;

const CLIENT_TAG: &str = r#"<script type="module" src="/@vite/client"></script>"#;

fn site() -> TempDir {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "index.html",
        "<!doctype html><title>home</title>",
    );
    write(dir.path(), "style.css", "body { color: teal; }\n");
    write(dir.path(), ".env", "SECRET=1");
    let big: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    write(dir.path(), "big.bin", big);
    dir
}

async fn serve(dir: &TempDir) -> TestServer {
    TestServer::start(Config::new(dir.path()).watch(false)).await
}

#[tokio::test]
async fn two_host_headers_are_a_bad_request_whichever_comes_first() {
    let dir = site();
    let server = serve(&dir).await;
    let addr = server.addr;
    for hosts in [
        format!("Host: {addr}\r\nHost: evil.example"),
        format!("Host: evil.example\r\nHost: {addr}"),
        format!("Host: {addr}\r\nHost: {addr}"),
    ] {
        let head = format!("GET /style.css HTTP/1.1\r\n{hosts}\r\nConnection: close\r\n\r\n");
        let reply = raw(addr, head.as_bytes()).await;
        assert_eq!(reply.status, 400, "{hosts}");
        assert!(reply.text().contains("exactly one"), "{}", reply.text());
    }
}

#[tokio::test]
async fn an_http_1_1_request_without_host_is_a_bad_request_and_http_1_0_is_served() {
    let dir = site();
    let server = serve(&dir).await;
    let reply = raw(
        server.addr,
        b"GET /style.css HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 400);
    let reply = raw(server.addr, b"GET /style.css HTTP/1.0\r\n\r\n").await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn localhost_with_one_trailing_dot_is_localhost_and_more_dots_are_refused() {
    let dir = site();
    let server = serve(&dir).await;
    let port = server.addr.port();
    let dotted = format!("localhost.:{port}");
    let reply = request(server.addr, "GET", "/style.css", &[("Host", &dotted)]).await;
    assert_eq!(reply.status, 200);
    let dots = format!("localhost..:{port}");
    let reply = request(server.addr, "GET", "/style.css", &[("Host", &dots)]).await;
    assert_eq!(reply.status, 403);
}

#[tokio::test]
async fn the_authority_of_an_absolute_form_target_is_checked_as_the_host() {
    let dir = site();
    let server = serve(&dir).await;
    let addr = server.addr;
    let head = format!(
        "GET http://evil.test/style.css HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let reply = raw(addr, head.as_bytes()).await;
    assert_eq!(reply.status, 403);
    assert!(reply.text().contains("evil.test"), "{}", reply.text());
    let head = format!(
        "GET http://localhost:{}/style.css HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
        addr.port()
    );
    assert_eq!(raw(addr, head.as_bytes()).await.status, 200);
}

#[tokio::test]
async fn an_upgrade_with_an_absolute_form_target_for_another_host_is_refused() {
    let dir = site();
    let server = serve(&dir).await;
    let addr = server.addr;
    let head = format!(
        "GET http://evil.test/ HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: vite-hmr\r\n\r\n"
    );
    assert_eq!(raw(addr, head.as_bytes()).await.status, 400);
}

#[tokio::test]
async fn head_answers_like_get_on_every_route_content_length_included() {
    let dir = site();
    let server = serve(&dir).await;
    let addr = server.addr;
    let evil = [("Host", "evil.example")];
    let cases: [(&str, &[(&str, &str)]); 7] = [
        ("/", &[]),
        ("/style.css", &[]),
        ("/missing.txt", &[("Accept", "text/html")]),
        ("/missing.txt", &[]),
        ("/@vite/client", &[]),
        ("/.env", &[]),
        ("/style.css", &evil),
    ];
    for (path, headers) in cases {
        let get = request(addr, "GET", path, headers).await;
        let head = request(addr, "HEAD", path, headers).await;
        assert_eq!(head.status, get.status, "{path} {headers:?}");
        assert_eq!(
            head.header("content-length"),
            Some(get.body.len().to_string().as_str()),
            "HEAD {path} {headers:?} announces GET's length"
        );
        assert!(head.body.is_empty(), "HEAD {path} has no body");
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_last_byte_past_u64_means_to_the_end() {
    let dir = site();
    let server = serve(&dir).await;
    let reply = server
        .get_with(
            "/style.css",
            &[("Range", "bytes=7-99999999999999999999999")],
        )
        .await;
    assert_eq!(reply.status, 206);
    assert_eq!(reply.text(), "color: teal; }\n");
    assert_eq!(reply.header("content-range"), Some("bytes 7-21/22"));
}

/// Send `bytes` one at a time, `gap` apart, until the server closes; whether it did.
async fn dribble(stream: &mut TcpStream, bytes: &[u8], gap: Duration) -> bool {
    for byte in bytes {
        if stream.write_all(&[*byte]).await.is_err() {
            return true;
        }
        tokio::time::sleep(gap).await;
    }
    // All sent: closed only if the server ends the connection without answering.
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    matches!(read, Ok(Ok(0)) | Ok(Err(_)))
}

/// Read until the server closes the connection; the bytes read.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("the server closes the connection within 10 s")
        .ok();
    out
}

#[tokio::test]
async fn a_client_that_sends_its_head_a_byte_at_a_time_is_cut_off() {
    let dir = site();
    let config = Config::new(dir.path())
        .watch(false)
        .header_timeout(Duration::from_millis(300));
    let server = TestServer::start(config).await;
    let head = format!(
        "GET /style.css HTTP/1.1\r\nHost: {}\r\nX-Slow: {}\r\n\r\n",
        server.addr,
        "a".repeat(200)
    );
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    assert!(
        dribble(&mut stream, head.as_bytes(), Duration::from_millis(20)).await,
        "the connection was closed before the head was complete"
    );
}

#[tokio::test]
async fn a_silent_connection_and_an_idle_kept_alive_one_are_closed() {
    let dir = site();
    let config = Config::new(dir.path())
        .watch(false)
        .header_timeout(Duration::from_millis(300));
    let server = TestServer::start(config).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    assert!(until_closed(&mut silent).await.is_empty());
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    let head = format!("GET /style.css HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr);
    idle.write_all(head.as_bytes()).await.unwrap();
    let out = until_closed(&mut idle).await;
    assert_eq!(parse_reply(&out, false).status, 200);
}

#[tokio::test]
async fn a_slow_download_and_a_quiet_hmr_socket_outlive_the_header_timeout() {
    let dir = site();
    let config = Config::new(dir.path())
        .watch(false)
        .header_timeout(Duration::from_millis(200));
    let server = TestServer::start(config).await;
    let mut ws = common::hmr_client(server.addr).await;
    common::next_json(&mut ws).await;
    let mut download = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "GET /big.bin HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr
    );
    download.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    let mut slow_reads = 0;
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), download.read(&mut chunk))
            .await
            .expect("data keeps coming")
            .expect("read");
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
        // Far slower than the header timeout, while the response is being sent.
        if slow_reads < 8 {
            slow_reads += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let reply = parse_reply(&out, false);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), 4 * 1024 * 1024);
    server.hub.full_reload();
    assert_eq!(common::next_json(&mut ws).await["type"], "full-reload");
}

/// A backend that answers every request with an HTML page of `size` bytes and no length
/// (chunked), then closes.
#[cfg(feature = "proxy")]
async fn unsized_page_backend(size: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let start = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\
                    Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
                if stream.write_all(start).await.is_err() {
                    return;
                }
                let line = b"<p>0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdef</p>\n";
                let mut sent = 0;
                let mut page =
                    b"<!doctype html><html><head><title>big</title></head><body>\n".to_vec();
                while sent + page.len() < size {
                    while page.len() < 64 * 1024 {
                        page.extend_from_slice(line);
                    }
                    let chunk = format!("{:x}\r\n", page.len());
                    let ok = stream.write_all(chunk.as_bytes()).await.is_ok()
                        && stream.write_all(&page).await.is_ok()
                        && stream.write_all(b"\r\n").await.is_ok();
                    if !ok {
                        return;
                    }
                    sent += page.len();
                    page.clear();
                }
                let end = b"</body></html>\n";
                let last = format!("{:x}\r\n", end.len());
                let _ = stream.write_all(last.as_bytes()).await;
                let _ = stream.write_all(end).await;
                let _ = stream.write_all(b"\r\n0\r\n\r\n").await;
            });
        }
    });
    addr
}

/// Undo chunked transfer coding.
#[cfg(feature = "proxy")]
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap(), 16).unwrap();
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

#[cfg(feature = "proxy")]
#[tokio::test]
async fn an_unsized_page_over_the_injection_limit_passes_through_whole_and_untouched() {
    let size = 33 * 1024 * 1024;
    let backend = unsized_page_backend(size).await;
    let dir = TempDir::new().unwrap();
    let config = Config::new(dir.path())
        .watch(false)
        .proxy(format!("http://{backend}"));
    let server = TestServer::start(config).await;
    let reply = request(server.addr, "GET", "/page", &[("Accept", "text/html")]).await;
    assert_eq!(reply.status, 200);
    let page = dechunk(&reply.body);
    assert!(page.len() > size, "{}", page.len());
    assert!(page.starts_with(b"<!doctype html><html><head><title>big</title>"));
    assert!(page.ends_with(b"</body></html>\n"));
    let client = CLIENT_TAG.as_bytes();
    assert!(!page.windows(client.len()).any(|w| w == client));
}

#[cfg(feature = "proxy")]
#[tokio::test]
async fn an_unsized_small_page_still_gets_the_client() {
    let backend = unsized_page_backend(100 * 1024).await;
    let dir = TempDir::new().unwrap();
    let config = Config::new(dir.path())
        .watch(false)
        .proxy(format!("http://{backend}"));
    let server = TestServer::start(config).await;
    let reply = request(server.addr, "GET", "/page", &[("Accept", "text/html")]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text().matches(CLIENT_TAG).count(), 1);
}

/// Open a raw HMR socket, start sending a 10 MiB frame, and return the close code the
/// server's Close frame carries (`None`: the connection ended without one).
async fn close_code_while_sending_a_huge_frame(addr: SocketAddr) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: vite-hmr\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1);
        seen.push(byte[0]);
    }
    assert!(seen.starts_with(b"HTTP/1.1 101"));
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        // A masked text frame announcing 10 MiB (64-bit length), then its payload.
        let len: u64 = 10 * 1024 * 1024;
        let mut frame = vec![0x81, 0x80 | 127];
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&[1, 2, 3, 4]);
        if write.write_all(&frame).await.is_err() {
            return;
        }
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..len / chunk.len() as u64 {
            if write.write_all(&chunk).await.is_err() {
                return;
            }
        }
    });
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), read.read_to_end(&mut out)).await;
    writer.abort();
    // Server frames are unmasked: walk them until the Close frame.
    let mut at = 0;
    while at + 2 <= out.len() {
        let opcode = out[at] & 0x0f;
        let (len, start) = match out[at + 1] & 0x7f {
            126 => (
                u16::from_be_bytes([out[at + 2], out[at + 3]]) as usize,
                at + 4,
            ),
            127 => return None,
            n => (n as usize, at + 2),
        };
        if opcode == 8 && len >= 2 && start + 2 <= out.len() {
            return Some(u16::from_be_bytes([out[start], out[start + 1]]));
        }
        at = start + len;
    }
    None
}

#[tokio::test]
async fn a_client_still_sending_a_huge_frame_always_reads_the_1009_close() {
    let dir = site();
    let server = serve(&dir).await;
    let tries: Vec<_> = (0..16)
        .map(|_| tokio::spawn(close_code_while_sending_a_huge_frame(server.addr)))
        .collect();
    for attempt in tries {
        assert_eq!(attempt.await.unwrap(), Some(1009));
    }
}

/// The next payload of type `kind`, skipping others (pings, `connected`).
async fn next_of(ws: &mut common::Ws, kind: &str) -> serde_json::Value {
    loop {
        let payload = common::next_message(ws).await;
        if payload["type"] == kind {
            return payload;
        }
    }
}

#[tokio::test]
async fn a_folder_without_index_html_lists_what_a_browser_may_open_sorted_and_escaped() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    write(root, "b.txt", "12345");
    write(root, "A.txt", "1");
    write(root, "<b>&.txt", "tricky");
    write(root, "sub dir/x.txt", "x");
    write(root, ".env", "SECRET=1");
    write(root, ".hidden", "h");
    write(root, "server.pem", "key");
    write(root, ".gitignore", "*.log\n");
    write(root, "debug.log", "ignored");
    write(root, "node_modules/p/index.js", "");
    let server = serve(&dir).await;
    let reply = request(server.addr, "GET", "/", &[("Accept", "text/html")]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = reply.text();
    for absent in [
        ".env",
        ".hidden",
        "server.pem",
        "debug.log",
        "node_modules",
        ".gitignore",
    ] {
        assert!(!page.contains(absent), "{absent} listed:\n{page}");
    }
    let links: Vec<&str> = page
        .split("<a href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(links, ["sub%20dir/", "%3Cb%3E&amp;.txt", "A.txt", "b.txt"]);
    assert!(page.contains("&lt;b&gt;&amp;.txt</a>"), "{page}");
    assert!(page.contains("title=\"5 bytes\">5 B<"), "{page}");
    assert!(page.contains(" GMT<"), "dates are shown:\n{page}");
    assert_eq!(
        page.matches(CLIENT_TAG).count(),
        1,
        "the page reloads itself"
    );
    // The links lead where they say.
    assert_eq!(server.get("/%3Cb%3E&.txt").await.text(), "tricky");
    let sub = server.get("/sub%20dir/").await.text();
    assert!(
        sub.contains("<a href=\"../\">") && sub.contains("x.txt"),
        "{sub}"
    );
}

#[tokio::test]
async fn listings_leave_out_what_the_ignore_option_ignores_but_still_serve_it() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    write(root, "keep.txt", "k");
    write(root, "build.map", "m");
    write(root, "dist/out.js", "o");
    write(root, "docs/notes.txt", "n");
    let config = Config::new(root).ignore("*.map").ignore("dist/");
    let server = TestServer::start(config).await;
    let page = request(server.addr, "GET", "/", &[("Accept", "text/html")])
        .await
        .text();
    assert!(
        page.contains("keep.txt") && page.contains("docs/"),
        "{page}"
    );
    for absent in ["build.map", "dist"] {
        assert!(!page.contains(absent), "{absent} listed:\n{page}");
    }
    // Left out of the listing, not forbidden: a link from a page still works.
    assert_eq!(server.get("/build.map").await.text(), "m");
    assert_eq!(server.get("/dist/out.js").await.status, 200);
}

#[tokio::test]
async fn a_listing_reloads_when_a_file_is_added_to_its_folder_and_says_why() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "docs/a.txt", "a");
    let server = TestServer::start(Config::new(dir.path())).await;
    let mut ws = common::hmr_client(server.addr).await;
    let mut events = server.service.events();
    assert_eq!(server.get("/docs/").await.status, 200);
    write(dir.path(), "docs/b.txt", "b");
    let why = next_of(&mut ws, "custom").await;
    assert_eq!(why["event"], "hotserve:reload");
    assert_eq!(why["data"]["reason"], "folder-changed");
    assert_eq!(why["data"]["file"], "/docs/b.txt");
    let reload = next_of(&mut ws, "full-reload").await;
    assert_eq!(reload["path"], "/docs/index.html");
    // The same reason reaches the event stream (`--json`).
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("an event within 5 s")
            .expect("events open");
        let json = serde_json::to_value(&event).unwrap();
        if json["payload"]["event"] == "hotserve:reload" {
            assert_eq!(json["payload"]["data"]["reason"], "folder-changed");
            break;
        }
    }
}

#[tokio::test]
async fn a_module_nobody_accepts_reloads_naming_the_chain_of_importers() {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "index.html",
        "<script type=module src=/main.js></script>",
    );
    write(dir.path(), "main.js", "import './util.js';\n");
    write(dir.path(), "util.js", "export const x = 1;\n");
    let server = TestServer::start(Config::new(dir.path())).await;
    let mut ws = common::hmr_client(server.addr).await;
    server.get("/main.js").await;
    server.get("/util.js").await;
    write(dir.path(), "util.js", "export const x = 2;\n");
    let why = next_of(&mut ws, "custom").await;
    assert_eq!(why["event"], "hotserve:reload");
    assert_eq!(why["data"]["reason"], "not-accepted");
    assert_eq!(
        why["data"]["chain"],
        serde_json::json!(["/util.js", "/main.js"])
    );
    let message = why["data"]["message"].as_str().unwrap();
    assert!(message.contains("/util.js -> /main.js"), "{message}");
    let reload = next_of(&mut ws, "full-reload").await;
    assert_eq!(reload["triggeredBy"], "/util.js");
}
