//! The HMR channel over real WebSockets: handshake checks, fan-out, limits, shutdown.

mod common;

use common::{TestServer, Ws, close_code, hmr_client, next_json, next_message, raw, ws_connect};
use futures_util::SinkExt;
use hotserve::protocol::{ErrorInfo, Payload};
use hotserve::{Config, Event};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

async fn serve() -> (TestServer, tempfile::TempDir) {
    let site = tempfile::tempdir().unwrap();
    common::write(site.path(), "index.html", "<h1>hi</h1>");
    let server = TestServer::start(Config::new(site.path())).await;
    (server, site)
}

async fn wait_for_clients(server: &TestServer, n: usize) {
    for _ in 0..1000 {
        if server.hub.client_count() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("expected {n} clients, have {}", server.hub.client_count());
}

#[tokio::test]
async fn the_handshake_echoes_vite_hmr_and_connected_comes_first() {
    let (server, _site) = serve().await;
    let mut ws = hmr_client(server.addr).await;
    assert_eq!(next_json(&mut ws).await, json!({"type": "connected"}));
}

#[tokio::test]
async fn vite_ping_completes_the_handshake_then_closes_with_1000_without_checks() {
    let (server, _site) = serve().await;
    let headers = [("Host", "evil.example"), ("Origin", "http://evil.example")];
    let mut ws = ws_connect(server.addr, "/", "vite-ping", &headers)
        .await
        .unwrap();
    assert_eq!(close_code(&mut ws).await, Some(1000));
}

#[tokio::test]
async fn a_browser_origin_needs_the_right_token() {
    let (server, _site) = serve().await;
    let origin = [("Origin", "http://localhost:5173")];
    assert_eq!(
        ws_connect(server.addr, "/", "vite-hmr", &origin)
            .await
            .err(),
        Some(400)
    );
    let wrong = "/?token=not-the-token";
    assert_eq!(
        ws_connect(server.addr, wrong, "vite-hmr", &origin)
            .await
            .err(),
        Some(400)
    );
    let right = format!("/?token={}", server.token);
    let mut ws = ws_connect(server.addr, &right, "vite-hmr", &origin)
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "connected");
}

#[tokio::test]
async fn a_tool_without_origin_needs_no_token() {
    let (server, _site) = serve().await;
    let mut ws = ws_connect(server.addr, "/", "vite-hmr", &[]).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "connected");
}

/// CVE-2025-24010: a page on another site must not be able to open our HMR socket, with
/// or without DNS rebinding, nor by guessing where the token goes.
#[tokio::test]
async fn cross_site_websocket_hijacking_attempts_are_refused() {
    let (server, _site) = serve().await;
    let token = server.token.clone();
    let attempts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/".into(), vec![("Origin", "http://evil.example")]),
        ("/".into(), vec![("Origin", "null")]),
        ("/?x=1".into(), vec![("Origin", "http://evil.example")]),
        (
            format!("/?tokens={token}"),
            vec![("Origin", "http://evil.example")],
        ),
        (
            format!("/?token={token}"),
            vec![("Host", "evil.example:5173")],
        ),
        (
            format!("/?token={token}"),
            vec![("Host", "evil.example"), ("Origin", "http://evil.example")],
        ),
        ("/?token=".into(), vec![("Origin", "http://127.0.0.1:5173")]),
    ];
    for (path, headers) in attempts {
        let result = ws_connect(server.addr, &path, "vite-hmr", &headers).await;
        assert_eq!(result.err(), Some(400), "{path} {headers:?}");
    }
    assert_eq!(server.hub.client_count(), 0);
}

#[tokio::test]
async fn an_unknown_host_gets_400_on_the_socket() {
    let (server, _site) = serve().await;
    let headers = [("Host", "rebound.example")];
    assert_eq!(
        ws_connect(server.addr, "/", "vite-hmr", &headers)
            .await
            .err(),
        Some(400)
    );
}

#[tokio::test]
async fn an_upgrade_without_a_known_subprotocol_is_refused_with_a_reason() {
    let (server, _site) = serve().await;
    assert_eq!(ws_connect(server.addr, "/", "", &[]).await.err(), Some(400));
    let reply = raw(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Protocol: chat\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(reply.text().contains("vite-hmr"), "{}", reply.text());
}

#[tokio::test]
async fn each_broken_upgrade_gets_its_own_status() {
    let (server, _site) = serve().await;
    let upgrade = |method: &str, version: &str, key: &str| {
        format!(
            "{method} / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: {version}\r\nSec-WebSocket-Key: {key}\r\n\
             Sec-WebSocket-Protocol: vite-hmr\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let reply = raw(server.addr, upgrade("POST", "13", key).as_bytes()).await;
    assert_eq!(reply.status, 405);
    let reply = raw(server.addr, upgrade("GET", "8", key).as_bytes()).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.header("sec-websocket-version"), Some("13"));
    let reply = raw(server.addr, upgrade("GET", "13", "short").as_bytes()).await;
    assert_eq!(reply.status, 400);
    assert!(reply.text().contains("Sec-WebSocket-Key"));
}

#[tokio::test]
async fn a_thousand_clients_all_receive_one_broadcast() {
    let (server, _site) = serve().await;
    let mut clients = Vec::new();
    for _ in 0..1000 {
        let mut ws = hmr_client(server.addr).await;
        assert_eq!(next_json(&mut ws).await["type"], "connected");
        clients.push(ws);
    }
    wait_for_clients(&server, 1000).await;
    server.hub.full_reload();
    let received = futures_util::future::join_all(clients.iter_mut().map(next_json)).await;
    assert!(
        received
            .iter()
            .all(|p| p == &json!({"type":"full-reload","path":"*"}))
    );
}

#[tokio::test]
async fn an_embedder_reload_says_why_before_reloading() {
    let (server, _site) = serve().await;
    let mut ws = hmr_client(server.addr).await;
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    wait_for_clients(&server, 1).await;
    server.hub.full_reload_because("the site was rebuilt");
    assert_eq!(
        next_message(&mut ws).await,
        json!({"type": "custom", "event": "hotserve:reload",
               "data": {"reason": "embedder", "message": "the site was rebuilt"}})
    );
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "full-reload", "path": "*"})
    );
}

/// Connect a raw client that completes the handshake and then never reads again.
async fn stalled_client(server: &TestServer) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
              Sec-WebSocket-Protocol: vite-hmr\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
    stream
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_delay_the_others_and_is_dropped() {
    let (server, _site) = serve().await;
    let mut events = server.hub.events();
    let _stalled = stalled_client(&server).await;
    let mut healthy = hmr_client(server.addr).await;
    next_json(&mut healthy).await;
    wait_for_clients(&server, 2).await;

    // 64 KiB payloads (loopback receive buffers autotune up to 32 MiB): enough of them fill the stalled socket's kernel buffers and then
    // its queue, while the healthy client must receive every one as it is sent.
    let blob = "x".repeat(64 * 1024);
    let mut dropped = false;
    for i in 0..2000 {
        server
            .hub
            .custom("test:blob", Some(json!({ "i": i, "blob": blob })));
        let got = next_json(&mut healthy).await;
        assert_eq!(got["data"]["i"], i, "healthy client keeps up");
        if server.hub.client_count() == 1 {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "the stalled client was dropped");
    let overflow = |e: &Event| matches!(e, Event::ClientDisconnected { reason, .. } if reason == "queue overflow");
    assert!(
        events
            .wait_for(overflow, Duration::from_secs(5))
            .await
            .is_some()
    );
    assert_eq!(server.hub.client_count(), 1);
    server.hub.full_reload();
    assert_eq!(next_json(&mut healthy).await["type"], "full-reload");
}

#[tokio::test]
async fn an_oversized_message_closes_only_that_socket_with_1009() {
    let (server, _site) = serve().await;
    let mut big = hmr_client(server.addr).await;
    let mut other = hmr_client(server.addr).await;
    next_json(&mut big).await;
    next_json(&mut other).await;
    let huge = format!(
        r#"{{"type":"custom","event":"x","data":"{}"}}"#,
        "y".repeat(70_000)
    );
    let _ = big.send(Message::text(huge)).await;
    assert_eq!(close_code(&mut big).await, Some(1009));
    wait_for_clients(&server, 1).await;
    server.hub.full_reload();
    assert_eq!(next_json(&mut other).await["type"], "full-reload");
}

#[tokio::test]
async fn invalid_utf8_closes_that_socket_with_1007_and_bad_json_is_ignored() {
    use tokio_tungstenite::tungstenite::protocol::frame::{
        Frame,
        coding::{Data, OpCode},
    };
    let (server, _site) = serve().await;
    let mut bad = hmr_client(server.addr).await;
    let mut sloppy = hmr_client(server.addr).await;
    next_json(&mut bad).await;
    next_json(&mut sloppy).await;
    sloppy.send(Message::text("{not json")).await.unwrap();
    sloppy
        .send(Message::text(r#"{"type":"mystery"}"#))
        .await
        .unwrap();
    let frame = Frame::message(vec![0xff, 0xfe, 0x41], OpCode::Data(Data::Text), true);
    let _ = bad.send(Message::Frame(frame)).await;
    assert_eq!(close_code(&mut bad).await, Some(1007));
    wait_for_clients(&server, 1).await;
    server.hub.full_reload();
    assert_eq!(next_json(&mut sloppy).await["type"], "full-reload");
}

#[tokio::test]
async fn an_error_sent_while_nobody_listens_reaches_the_next_client() {
    let (server, _site) = serve().await;
    server.hub.error(ErrorInfo {
        message: "build failed".into(),
        ..Default::default()
    });
    let mut ws = hmr_client(server.addr).await;
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    let error = next_json(&mut ws).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["err"]["message"], "build failed");
    // Delivered once: the client after that starts clean.
    let mut later = hmr_client(server.addr).await;
    assert_eq!(next_json(&mut later).await["type"], "connected");
    server.hub.custom("probe", None);
    assert_eq!(next_json(&mut later).await["event"], "probe");
}

#[tokio::test]
async fn a_full_reload_sent_while_nobody_listens_reaches_the_next_client() {
    let (server, _site) = serve().await;
    server.hub.reload_page("/index.html");
    let mut ws = hmr_client(server.addr).await;
    next_json(&mut ws).await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type":"full-reload","path":"/index.html"})
    );
}

#[tokio::test]
async fn client_custom_messages_reach_library_subscribers_and_pings_do_not() {
    let (server, _site) = serve().await;
    let mut events = server.hub.events();
    let mut ws = hmr_client(server.addr).await;
    next_json(&mut ws).await;
    ws.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    ws.send(Message::text(
        r#"{"type":"custom","event":"my-app:hello","data":{"a":1}}"#,
    ))
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let event = tokio::time::timeout_at(deadline, events.next())
            .await
            .unwrap()
            .unwrap();
        match event {
            Event::ClientCustom { name, data, .. } => {
                assert_eq!(name, "my-app:hello");
                assert_eq!(data, Some(json!({"a": 1})));
                break;
            }
            Event::ClientConnected { .. } => {}
            other => panic!("unexpected event {other:?}"),
        }
    }
}

#[tokio::test]
async fn shutdown_closes_every_socket_with_1001() {
    let (server, _site) = serve().await;
    let mut clients: Vec<Ws> = Vec::new();
    for _ in 0..3 {
        let mut ws = hmr_client(server.addr).await;
        next_json(&mut ws).await;
        clients.push(ws);
    }
    wait_for_clients(&server, 3).await;
    server.stop().await;
    for ws in &mut clients {
        assert_eq!(close_code(ws).await, Some(1001));
    }
}

#[tokio::test]
async fn sending_with_no_clients_is_fine_and_counts_zero() {
    let (server, _site) = serve().await;
    let mut events = server.hub.events();
    server.hub.send(Payload::Ping);
    match events.next().await.unwrap() {
        Event::PayloadSent { clients, .. } => assert_eq!(clients, 0),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_peer_that_never_answers_pings_is_dropped() {
    use futures_util::StreamExt;
    let site = tempfile::tempdir().unwrap();
    let config = Config::new(site.path()).keepalive(Duration::from_millis(50));
    let server = TestServer::start(config).await;
    let mut events = server.hub.events();
    // A healthy client reads all the time, so tungstenite answers every ping with a pong.
    let mut healthy = hmr_client(server.addr).await;
    let (texts, mut received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = healthy.next().await {
            if let Message::Text(text) = message {
                let _ = texts.send(text.to_string());
            }
        }
    });
    // This one completes the handshake, then neither reads nor answers pings.
    let _silent = stalled_client(&server).await;
    let gone = |e: &Event| matches!(e, Event::ClientDisconnected { reason, .. } if reason == "no answer to pings");
    assert!(
        events
            .wait_for(gone, Duration::from_secs(5))
            .await
            .is_some()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.hub.client_count(), 1, "the healthy client stays");
    server.hub.full_reload();
    let mut last = String::new();
    while !last.contains("full-reload") {
        last = tokio::time::timeout(Duration::from_secs(5), received.recv())
            .await
            .unwrap()
            .unwrap();
    }
}
