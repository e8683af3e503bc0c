//! The library as build tools use it: explicit change notification, direct payloads, the
//! service mounted in their own hyper server, and the event stream for watch-mode tests.

mod common;

use common::{TestServer, hmr_client, next_json, write};
use hotserve::protocol::Payload;
use hotserve::{Config, Event, HotService};
use std::time::Duration;

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "index.html",
        "<link rel=stylesheet href=/style.css>",
    );
    write(dir.path(), "style.css", "a{}");
    write(
        dir.path(),
        "app.js",
        "export const v = 1;\nimport.meta.hot?.accept();\n",
    );
    dir
}

#[tokio::test]
async fn notify_changed_turns_a_css_output_into_a_css_update() {
    let dir = site();
    let server = TestServer::start(Config::new(dir.path()).watch(false)).await;
    let mut ws = hmr_client(server.addr).await;
    next_json(&mut ws).await;
    server.get("/style.css").await;
    write(dir.path(), "style.css", "b{}");
    let service = server.service.clone();
    let sent = service.notify_changed(["style.css"]).await;
    assert!(matches!(&sent[..], [Payload::Update { updates }] if updates[0].path == "/style.css"));
    let payload = next_json(&mut ws).await;
    assert_eq!(payload["updates"][0]["type"], "css-update");
}

#[tokio::test]
async fn notify_changed_follows_the_module_graph_for_scripts() {
    let dir = site();
    let server = TestServer::start(Config::new(dir.path()).watch(false)).await;
    server.get("/app.js").await;
    write(
        dir.path(),
        "app.js",
        "export const v = 2;\nimport.meta.hot?.accept();\n",
    );
    let sent = server
        .service
        .notify_changed([dir.path().join("app.js")])
        .await;
    let [Payload::Update { updates }] = &sent[..] else {
        panic!("{sent:?}")
    };
    assert_eq!(updates[0].path, "/app.js");
    assert_eq!(updates[0].accepted_path, "/app.js");
}

#[tokio::test]
async fn notify_changed_for_a_removed_output_reloads_pages() {
    let dir = site();
    let server = TestServer::start(Config::new(dir.path()).watch(false)).await;
    server.get("/style.css").await;
    std::fs::remove_file(dir.path().join("style.css")).unwrap();
    let sent = server.service.notify_changed(["style.css"]).await;
    assert!(matches!(&sent[..], [Payload::FullReload { path: Some(p), .. }] if p == "*"));
}

#[tokio::test]
async fn events_report_changes_and_the_payloads_they_caused() {
    let dir = site();
    let server = TestServer::start(Config::new(dir.path())).await;
    let mut events = server.service.events();
    server.get("/style.css").await;
    write(dir.path(), "style.css", "c{}");
    let changed = events
        .wait_for(
            |e| matches!(e, Event::FilesChanged { .. }),
            Duration::from_secs(5),
        )
        .await
        .expect("files-changed event");
    let Event::FilesChanged { changes } = changed else {
        unreachable!()
    };
    assert_eq!(changes[0].url, "/style.css");
    let update = events
        .wait_for(|e| e.mentions("/style.css"), Duration::from_secs(5))
        .await;
    assert!(update.is_some(), "an update that mentions /style.css");
}

/// `examples/mount.rs` itself: a build tool's own hyper server with an API route, and
/// hotserve mounted for the rest.
#[allow(dead_code)]
#[path = "../examples/mount.rs"]
mod mount;

/// Start the example's host server over `hot` on a free port.
async fn mounted(hot: HotService) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mount::serve(listener, hot));
    addr
}

#[tokio::test]
async fn a_mounted_service_serves_files_and_hmr_beside_the_hosts_own_routes() {
    let dir = site();
    let hot = HotService::new(Config::new(dir.path())).await.unwrap();
    let addr = mounted(hot.clone()).await;
    let api = common::request(addr, "GET", "/api/time", &[]).await;
    assert!(api.text().starts_with("{\"now\":"), "{}", api.text());
    let css = common::request(addr, "GET", "/style.css", &[]).await;
    assert_eq!(css.status, 200);
    assert_eq!(css.text(), "a{}");
    let mut ws = hmr_client(addr).await;
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    write(dir.path(), "style.css", "d{}");
    let payload = next_json(&mut ws).await;
    assert_eq!(payload["updates"][0]["path"], "/style.css");
    hot.shutdown().await;
    assert_eq!(common::close_code(&mut ws).await, Some(1001));
}

#[tokio::test]
async fn build_errors_and_custom_events_go_straight_to_browsers() {
    let dir = site();
    let server = TestServer::start(Config::new(dir.path()).watch(false)).await;
    let mut ws = hmr_client(server.addr).await;
    next_json(&mut ws).await;
    server.hub.error(hotserve::protocol::ErrorInfo {
        message: "Unexpected token".into(),
        id: Some("/src/app.js".into()),
        loc: Some(hotserve::protocol::ErrorLocation {
            file: None,
            line: 3,
            column: 7,
        }),
        ..Default::default()
    });
    let error = next_json(&mut ws).await;
    assert_eq!(
        error["err"]["loc"],
        serde_json::json!({"line": 3, "column": 7})
    );
    server
        .hub
        .custom("my-tool:rebuilt", Some(serde_json::json!({"ms": 41})));
    let custom = next_json(&mut ws).await;
    assert_eq!(
        custom,
        serde_json::json!({"type":"custom","event":"my-tool:rebuilt","data":{"ms":41}})
    );
    // Client-local event names are never sent.
    server.hub.custom("vite:ws:disconnect", None);
    server.hub.full_reload();
    assert_eq!(next_json(&mut ws).await["type"], "full-reload");
}

#[tokio::test]
async fn a_mounted_service_refuses_a_fragment_as_its_own_server_does() {
    let dir = site();
    let hot = HotService::new(Config::new(dir.path())).await.unwrap();
    let addr = mounted(hot).await;
    let crafted = b"GET /style.css#x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    assert_eq!(common::raw(addr, crafted).await.status, 400);
    let plain = b"GET /style.css HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    assert_eq!(common::raw(addr, plain).await.status, 200);
}

#[tokio::test]
async fn a_fragment_after_a_host_route_on_the_same_connection_is_still_caught() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = site();
    let hot = HotService::new(Config::new(dir.path())).await.unwrap();
    let addr = mounted(hot).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"GET /api/time HTTP/1.1\r\nHost: localhost\r\n\r\n\
              GET /style.css#x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("answers within 10 s")
        .unwrap();
    // The API's JSON body has no line break, so the second status line follows it directly.
    let text = String::from_utf8_lossy(&out);
    let statuses: Vec<&str> = text
        .match_indices("HTTP/1.1 ")
        .map(|(at, _)| &text[at..at + 12])
        .collect();
    assert_eq!(statuses, ["HTTP/1.1 200", "HTTP/1.1 400"], "{text}");
}

#[tokio::test]
async fn a_mounted_service_sees_each_clients_real_address() {
    let dir = site();
    let hot = HotService::new(Config::new(dir.path())).await.unwrap();
    let mut events = hot.events();
    let addr = mounted(hot.clone()).await;
    let _ws = hmr_client(addr).await;
    let connected = events
        .wait_for(
            |e| matches!(e, Event::ClientConnected { .. }),
            Duration::from_secs(5),
        )
        .await;
    let Some(Event::ClientConnected { peer, .. }) = connected else {
        panic!("no client connected: {connected:?}");
    };
    assert_eq!(peer.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
    assert_ne!(peer.port(), 0);
}
