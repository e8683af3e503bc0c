//! Shared test helpers: a real server on port 0 over a real temp folder, and a raw HTTP/1.1
//! client over `TcpStream` (so tests can send malformed targets byte for byte).
#![allow(dead_code)]

pub mod blocking;
pub mod browser;
pub mod npm;

use hotserve::{Config, Server};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server; dropped or `stop`ped at the end of the test.
pub struct TestServer {
    pub addr: SocketAddr,
    pub hub: hotserve::Hub,
    pub service: hotserve::HotService,
    pub token: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(config: Config) -> Self {
        Self::run(Server::bind(config.port(0)).await.expect("server binds"))
    }

    /// Run an already bound server until the test stops it.
    pub fn run(server: Server) -> Self {
        let addr = server.local_addr();
        let service = server.service().clone();
        let hub = service.hub().clone();
        let token = service.token().to_owned();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            hub,
            service,
            token,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Ask for shutdown and wait until `run` returns.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("server stops within 10 s")
                .expect("server task did not panic");
        }
    }

    pub async fn get(&self, target: &str) -> Reply {
        request(self.addr, "GET", target, &[]).await
    }

    /// The value of header `name` in the answer to `GET path`.
    pub async fn header_of(&self, path: &str, name: &str) -> String {
        let reply = self.get(path).await;
        reply
            .header(name)
            .unwrap_or_else(|| panic!("{path} answers with {name}"))
            .to_owned()
    }

    pub async fn get_with(&self, target: &str, headers: &[(&str, &str)]) -> Reply {
        request(self.addr, "GET", target, headers).await
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Send one request with `Connection: close` and read the whole response.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    raw(addr, head.as_bytes()).await
}

/// Send raw bytes, read until the server closes, parse the response.
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("response within 10 s")
        .expect("read");
    parse_reply(&out, method_is_head(bytes))
}

fn method_is_head(bytes: &[u8]) -> bool {
    bytes.starts_with(b"HEAD ")
}

pub fn parse_reply(out: &[u8], head_only: bool) -> Reply {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response has a head");
    let head = std::str::from_utf8(&out[..split]).expect("utf-8 head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = out[split + 4..].to_vec();
    if !head_only && let Some(len) = headers.get("content-length") {
        assert_eq!(
            body.len(),
            len.parse::<usize>().unwrap(),
            "content-length matches body"
        );
    }
    Reply {
        status,
        headers,
        body,
    }
}

/// Write a file, creating its parent folders.
/// Copy the folder `from` to `to` (installed npm packages into a test project), symlinks as
/// symlinks (npm links package binaries into `node_modules/.bin`).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if kind.is_symlink() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

pub fn write(root: &Path, relative: &str, contents: impl AsRef<[u8]>) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

pub type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

/// Open a WebSocket to `path` offering `protocol`, with extra headers. Returns the socket or
/// the HTTP status of the refusal.
pub async fn ws_connect(
    addr: SocketAddr,
    path: &str,
    protocol: &str,
    headers: &[(&str, &str)],
) -> Result<Ws, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    if !protocol.is_empty() {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    }
    for (name, value) in headers {
        let name = hyper::header::HeaderName::from_bytes(name.as_bytes()).unwrap();
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    let stream = TcpStream::connect(addr).await.expect("connect");
    match tokio_tungstenite::client_async(request, stream).await {
        Ok((ws, response)) => {
            if !protocol.is_empty() {
                assert_eq!(
                    response.headers().get("sec-websocket-protocol").unwrap(),
                    protocol,
                    "subprotocol echoed"
                );
            }
            Ok(ws)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(err) => panic!("handshake failed unexpectedly: {err}"),
    }
}

/// Open an HMR socket as a non-browser tool would (no Origin).
pub async fn hmr_client(addr: SocketAddr) -> Ws {
    ws_connect(addr, "/", "vite-hmr", &[])
        .await
        .expect("HMR upgrade accepted")
}

/// The next text message as JSON, within 5 s (pings and pongs skipped, and the
/// `hotserve:reload` payload that says why a `full-reload` follows: tests of the reason
/// read it with [`next_message`]). Works over plain TCP and TLS alike.
pub async fn next_json<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> serde_json::Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let payload = next_message(ws).await;
        if payload["event"] != "hotserve:reload" {
            return payload;
        }
    }
}

/// The next text message as JSON, within 5 s (pings and pongs skipped).
pub async fn next_message<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> serde_json::Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s")
            .expect("socket open")
            .expect("valid frame");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON payload"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Read until the server closes; return the close code.
pub async fn close_code(ws: &mut Ws) -> Option<u16> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_))) | Ok(None) => return None,
            Err(_) => panic!("no close within 5 s"),
        }
    }
}
