//! The browser client over HTTP: served at `/@vite/client` with this server's values, and
//! injected into every HTML page (with correct lengths and validators), unless turned off.

mod common;

use common::{TestServer, request, write};
use hotserve::Config;
use tempfile::TempDir;

const TAG: &str = r#"<script type="module" src="/@vite/client"></script>"#;

fn site() -> TempDir {
    let site = TempDir::new().unwrap();
    let root = site.path();
    write(
        root,
        "index.html",
        "<!doctype html><html><head><title>home</title></head><body><header>h</header></body></html>",
    );
    write(
        root,
        "about.htm",
        "<HTML><HEAD>\n<title>about</title></HEAD></HTML>",
    );
    write(root, "docs/index.html", "<h1>docs</h1>");
    write(root, "page.txt", "<head>not html</head>");
    write(root, "style.css", "body { color: red }");
    site
}

/// The JSON object the server filled in for the client's configuration.
fn client_config(source: &str) -> serde_json::Value {
    let line = source
        .lines()
        .find(|l| l.starts_with("const __HOTSERVE_CONFIG__ = "))
        .expect("config line");
    let json = line
        .trim_start_matches("const __HOTSERVE_CONFIG__ = ")
        .trim_end_matches(';');
    serde_json::from_str(json).expect("the config is JSON")
}

#[tokio::test]
async fn the_client_is_served_as_javascript_with_the_token_embedded() {
    let site = site();
    let server = TestServer::start(Config::new(site.path())).await;
    let reply = server.get("/@vite/client").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(reply.header("cache-control"), Some("no-cache"));
    assert!(reply.header("etag").is_some_and(|e| e.starts_with('"')));
    let text = reply.text();
    assert!(text.contains("export function createHotContext"));
    let config = client_config(&text);
    assert_eq!(config["token"], server.token.as_str());
    assert_eq!(config["path"], "/");
    assert_eq!(config["host"], serde_json::Value::Null);
    assert_eq!(config["port"], serde_json::Value::Null);
    assert_eq!(config["directHost"], "127.0.0.1");
    assert_eq!(config["directPort"], server.addr.port());
    server.stop().await;
}

#[tokio::test]
async fn the_client_answers_304_to_its_own_etag_and_head_without_a_body() {
    let site = site();
    let server = TestServer::start(Config::new(site.path())).await;
    let first = server.get("/@vite/client?t=1").await;
    let etag = first.header("etag").unwrap().to_owned();
    let again = server
        .get_with("/@vite/client", &[("If-None-Match", &etag)])
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let head = request(server.addr, "HEAD", "/@vite/client", &[]).await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(first.body.len().to_string().as_str())
    );
    server.stop().await;
}

#[tokio::test]
async fn hmr_overrides_reach_the_client() {
    let site = site();
    let config = Config::new(site.path())
        .hmr_host("dev.example.test")
        .hmr_port(8443)
        .hmr_path("hmr")
        .spa(true);
    let server = TestServer::start(config).await;
    let config = client_config(&server.get("/@vite/client").await.text());
    assert_eq!(config["host"], "dev.example.test");
    assert_eq!(config["port"], 8443);
    assert_eq!(config["path"], "/hmr");
    assert_eq!(config["spa"], true);
    server.stop().await;
}

#[tokio::test]
async fn the_client_is_not_served_to_a_host_that_is_not_allowed() {
    // The client carries the token: DNS rebinding must not be able to read it.
    let site = site();
    let server = TestServer::start(Config::new(site.path())).await;
    let reply = server
        .get_with("/@vite/client", &[("Host", "evil.example")])
        .await;
    assert_eq!(reply.status, 403);
    assert!(!reply.text().contains(&server.token));
    server.stop().await;
}

#[tokio::test]
async fn index_pages_and_htm_files_get_the_tag_at_the_top_of_head() {
    let site = site();
    let server = TestServer::start(Config::new(site.path())).await;
    let index = server.get("/").await;
    assert_eq!(index.status, 200);
    assert_eq!(
        index.text(),
        format!(
            "<!doctype html><html><head>{TAG}<title>home</title></head><body><header>h</header></body></html>"
        )
    );
    let named = server.get("/index.html").await;
    assert_eq!(named.text(), index.text());
    let about = server.get("/about.htm").await;
    assert_eq!(
        about.text(),
        format!("<HTML><HEAD>{TAG}\n<title>about</title></HEAD></HTML>")
    );
    let docs = server.get("/docs/").await;
    assert_eq!(docs.text(), format!("{TAG}<h1>docs</h1>"));
    server.stop().await;
}

#[tokio::test]
async fn content_length_counts_the_injected_tag_for_get_and_head() {
    let site = site();
    let server = TestServer::start(Config::new(site.path())).await;
    let file_len = std::fs::metadata(site.path().join("index.html"))
        .unwrap()
        .len() as usize;
    let get = server.get("/").await;
    // `common::parse_reply` also checks that the body has exactly this length.
    assert_eq!(
        get.header("content-length"),
        Some((file_len + TAG.len()).to_string().as_str())
    );
    let head = request(server.addr, "HEAD", "/", &[]).await;
    assert_eq!(head.header("content-length"), get.header("content-length"));
    assert_eq!(head.header("etag"), get.header("etag"));
    server.stop().await;
}

#[tokio::test]
async fn injected_pages_revalidate_with_their_own_etag_and_ignore_ranges() {
    let site = site();
    let server = TestServer::start(Config::new(site.path())).await;
    let page = server.get("/").await;
    let etag = page.header("etag").unwrap().to_owned();
    assert!(etag.ends_with("-hmr\""), "{etag}");
    let again = server.get_with("/", &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert_eq!(again.header("etag"), Some(etag.as_str()));

    let ranged = server.get_with("/", &[("Range", "bytes=0-4")]).await;
    assert_eq!(ranged.status, 200);
    assert_eq!(ranged.text(), page.text());
    assert!(ranged.header("content-range").is_none());

    // Other files keep their ranges and plain validators.
    let css = server
        .get_with("/style.css", &[("Range", "bytes=0-3")])
        .await;
    assert_eq!(css.status, 206);
    assert_eq!(css.text(), "body");
    assert!(!css.header("etag").unwrap().contains("-hmr"));
    server.stop().await;
}

#[tokio::test]
async fn a_page_cached_without_the_tag_is_not_revalidated_as_the_injected_one() {
    let site = site();
    let plain = TestServer::start(Config::new(site.path()).inject(false)).await;
    let plain_etag = plain.get("/").await.header("etag").unwrap().to_owned();
    plain.stop().await;
    let server = TestServer::start(Config::new(site.path())).await;
    let reply = server
        .get_with("/", &[("If-None-Match", &plain_etag)])
        .await;
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains(TAG));
    server.stop().await;
}

#[tokio::test]
async fn the_spa_fallback_and_the_404_page_get_the_tag() {
    let site = site();
    let server = TestServer::start(Config::new(site.path()).spa(true)).await;
    let route = server
        .get_with("/users/42", &[("Accept", "text/html")])
        .await;
    assert_eq!(route.status, 200);
    assert!(route.text().contains(&format!("<head>{TAG}<title>home")));
    let missing = server.get("/nope.js").await;
    assert_eq!(missing.status, 404);
    assert!(
        missing.text().starts_with(&format!("<!doctype html>{TAG}")),
        "{}",
        missing.text()
    );
    server.stop().await;
}

#[tokio::test]
async fn files_that_are_not_html_are_served_untouched() {
    let site = site();
    let server = TestServer::start(Config::new(site.path())).await;
    assert_eq!(
        server.get("/page.txt").await.text(),
        "<head>not html</head>"
    );
    assert_eq!(server.get("/style.css").await.text(), "body { color: red }");
    server.stop().await;
}

#[tokio::test]
async fn inject_false_serves_pages_as_they_are_but_keeps_the_client() {
    let site = site();
    let server = TestServer::start(Config::new(site.path()).inject(false)).await;
    let index = server.get("/").await;
    assert!(!index.text().contains(TAG));
    assert_eq!(
        index.body,
        std::fs::read(site.path().join("index.html")).unwrap()
    );
    assert!(!index.header("etag").unwrap().contains("-hmr"));
    let missing = server.get("/nope").await;
    assert!(!missing.text().contains(TAG));
    assert_eq!(server.get("/@vite/client").await.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn the_no_inject_flag_turns_injection_off_in_the_binary() {
    use std::io::{BufRead, BufReader};
    let site = site();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hotserve"))
        .arg(site.path())
        .args(["--port", "0", "--no-inject", "--hmr-port", "9999"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    // Keep reading: a closed pipe would make the server's next line of output fail.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split("Local:").nth(1) {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let url = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("banner has the Local URL");
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("address");
    let index = request(addr, "GET", "/", &[]).await;
    let client = request(addr, "GET", "/@vite/client", &[]).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(index.status, 200);
    assert!(!index.text().contains(TAG));
    assert_eq!(client_config(&client.text())["port"], 9999);
}

#[tokio::test]
async fn a_page_larger_than_the_in_memory_limit_still_gets_the_tag_and_a_correct_length() {
    let site = site();
    let filler = "<p>filler</p>\n".repeat(40_000);
    let html =
        format!("<!doctype html><html><head><title>big</title></head><body>{filler}</body></html>");
    write(site.path(), "big.html", &html);
    let server = TestServer::start(Config::new(site.path())).await;
    let reply = server.get("/big.html").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), html.len() + TAG.len());
    assert!(
        reply
            .text()
            .starts_with(&format!("<!doctype html><html><head>{TAG}<title>big"))
    );
    server.stop().await;
}

#[tokio::test]
async fn a_mounted_service_serves_the_client_and_leaves_the_direct_address_to_the_page() {
    use http_body_util::BodyExt;
    let site = site();
    let hot = hotserve::HotService::new(Config::new(site.path()).watch(false))
        .await
        .unwrap();
    let req = hyper::Request::get("/@vite/client")
        .header("Host", "127.0.0.1")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let res = hot.handle(req).await;
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let config = client_config(&String::from_utf8_lossy(&body));
    assert_eq!(config["token"], hot.token());
    assert_eq!(config["directHost"], serde_json::Value::Null);
    assert_eq!(config["directPort"], serde_json::Value::Null);
    hot.shutdown().await;
}
