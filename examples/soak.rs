//! Soak run (issue 16): continuous edits to a stylesheet, a module and a page under the
//! file watcher, 50 HMR clients that disconnect and reconnect at random, and a steady
//! stream of requests; RSS, open file descriptors, the server's live tasks and the
//! updates lost are printed at the start, the middle and the end.
//!
//!   cargo run --release --example soak                  # 30 minutes
//!   cargo run --release --example soak -- 10            # 10 minutes (fractions allowed)
//!   cargo run --release --example soak -- 10 --in-process
//!
//! By default the server is this example re-executed as a child process (`--serve ROOT
//! --watch`, as the benchmarks do), so RSS and open descriptors are the server's alone.
//! With `--in-process` it runs on a tokio runtime of its own in this process, which adds
//! the count of its live tasks; RSS and descriptors are then the whole process's.
//!
//! An update is lost when a client was connected from before an edit until well after it
//! (`SETTLE`) and never received a payload naming the edited file. A client that was away
//! during an edit is not counted: it reloads when it comes back, as Vite's does.

#[path = "bench/common.rs"]
mod common;

use futures_util::StreamExt;
use hotserve::{Config, Server};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CLIENTS: usize = 50;
const EDIT_EVERY: Duration = Duration::from_millis(300);
/// How long after an edit a connected client must have heard of it.
const SETTLE: Duration = Duration::from_secs(5);
const FILES: [&str; 3] = ["/style.css", "/main.js", "/index.html"];

/// One connection of one client: when it was open and what it heard, when.
struct Session {
    opened: Instant,
    closed: Option<Instant>,
    heard: Vec<(Instant, String)>,
}

#[derive(Default)]
struct Log {
    sessions: Vec<Arc<Mutex<Session>>>,
    edits: Vec<(Instant, &'static str)>,
    requests: u64,
    failed_requests: u64,
}

/// Where the server runs, and how to read its resources.
enum Served {
    Child(common::ServerProc),
    InProcess {
        metrics: tokio::runtime::RuntimeMetrics,
    },
}

impl Served {
    /// RSS (KiB), open descriptors and live tasks (in process only).
    fn resources(&self) -> (String, usize, String) {
        match self {
            Served::Child(child) => (
                child.rss_kib().to_string(),
                fds(&format!("/proc/{}/fd", child.pid)),
                "-".into(),
            ),
            Served::InProcess { metrics } => (
                status("VmRSS:"),
                fds("/proc/self/fd"),
                metrics.num_alive_tasks().to_string(),
            ),
        }
    }
}

fn main() {
    if common::serve_if_asked() {
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let in_process = args.iter().any(|a| a == "--in-process");
    let minutes: f64 = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(|m| m.parse().expect("minutes"))
        .unwrap_or(30.0);
    let total = Duration::from_secs_f64(minutes * 60.0);
    let site = tempfile::tempdir().expect("temp dir");
    let root = site.path().to_path_buf();
    write(
        &root,
        "index.html",
        "<!doctype html><link rel=stylesheet href=/style.css><script type=module src=/main.js></script><p>0</p>",
    );
    write(&root, "style.css", "body { --n: 0; }\n");
    write(
        &root,
        "main.js",
        "export const n = 0;\nimport.meta.hot?.accept();\n",
    );

    // The server: a child process, or its own runtime here (so its task count is its own).
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (served, addr, serving) = if in_process {
        let server = server_rt
            .block_on(Server::bind(Config::new(&root).port(0)))
            .expect("server binds");
        let addr = server.local_addr();
        let metrics = server_rt.handle().metrics();
        let serving = server_rt.spawn(server.run(async {
            let _ = stopped.await;
        }));
        (Served::InProcess { metrics }, addr, Some(serving))
    } else {
        let child = common::ServerProc::spawn(&root, &["--watch"], &[]);
        let addr = child.addr;
        (Served::Child(child), addr, None)
    };
    let where_ = if in_process {
        "in this process"
    } else {
        "a child process"
    };

    let clients_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime");
    let log = Arc::new(Mutex::new(Log::default()));
    let started = Instant::now();
    println!(
        "soak: {minutes} min, {CLIENTS} clients, an edit every {EDIT_EVERY:?}, server at {addr} \
         ({where_}); {}",
        common::load_avg()
    );
    println!(
        "{:>8} {:>10} {:>6} {:>7} {:>9} {:>8} {:>6} {:>9}",
        "at", "RSS KiB", "fds", "tasks", "edits", "checked", "lost", "requests"
    );
    clients_rt.block_on(async {
        // Every file is loaded once, so that its changes concern a browser.
        for path in FILES {
            get(addr, path).await;
        }
        for i in 0..CLIENTS {
            tokio::spawn(client(addr, log.clone(), i as u64));
        }
        tokio::spawn(requests(addr, log.clone()));
        tokio::time::sleep(Duration::from_secs(2)).await;
        report(&log, &served, started, "start");
        let mut next_report = started + total / 2;
        let mut reported_middle = false;
        let mut n = 0u64;
        while started.elapsed() < total {
            n += 1;
            let file = FILES[(n % 3) as usize];
            let edited = Instant::now();
            match file {
                "/style.css" => write(&root, "style.css", &format!("body {{ --n: {n}; }}\n")),
                "/main.js" => write(&root, "main.js", &format!("export const n = {n};\nimport.meta.hot?.accept();\n")),
                _ => write(&root, "index.html", &format!("<!doctype html><link rel=stylesheet href=/style.css><script type=module src=/main.js></script><p>{n}</p>")),
            }
            log.lock().unwrap().edits.push((edited, file));
            tokio::time::sleep(EDIT_EVERY).await;
            if !reported_middle && Instant::now() >= next_report {
                report(&log, &served, started, "middle");
                reported_middle = true;
                next_report = started + total;
            }
        }
        tokio::time::sleep(SETTLE + Duration::from_secs(1)).await;
        report(&log, &served, started, "end");
    });
    let _ = stop.send(());
    if let Some(serving) = serving {
        let _ = server_rt.block_on(serving);
    }
    drop(served);
}

fn write(root: &Path, name: &str, text: &str) {
    std::fs::write(root.join(name), text).expect("write");
}

/// A client that connects, listens for a random while (0.5 to 8 s), leaves, and comes back.
async fn client(addr: std::net::SocketAddr, log: Arc<Mutex<Log>>, seed: u64) {
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    loop {
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                format!("ws://{addr}/"),
            )
            .expect("request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "vite-hmr".parse().expect("header"),
        );
        let connected = match TcpStream::connect(addr).await {
            Ok(stream) => tokio_tungstenite::client_async(request, stream).await.ok(),
            Err(_) => None,
        };
        let Some((mut ws, _)) = connected else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let session = Arc::new(Mutex::new(Session {
            opened: Instant::now(),
            closed: None,
            heard: Vec::new(),
        }));
        log.lock().unwrap().sessions.push(session.clone());
        let stay = Duration::from_millis(500 + next() % 7_500);
        let until = tokio::time::Instant::now() + stay;
        loop {
            let message = tokio::select! {
                m = ws.next() => m,
                () = tokio::time::sleep_until(until) => break,
            };
            let Some(Ok(message)) = message else { break };
            if let Ok(text) = message.to_text()
                && let Ok(payload) = serde_json::from_str::<serde_json::Value>(text)
            {
                for file in named(&payload) {
                    session.lock().unwrap().heard.push((Instant::now(), file));
                }
            }
        }
        session.lock().unwrap().closed = Some(Instant::now());
        let _ = ws.close(None).await;
        tokio::time::sleep(Duration::from_millis(next() % 1_000)).await;
    }
}

/// The files a payload is about.
fn named(payload: &serde_json::Value) -> Vec<String> {
    let mut files = Vec::new();
    if let Some(updates) = payload["updates"].as_array() {
        files.extend(
            updates
                .iter()
                .filter_map(|u| u["path"].as_str().map(str::to_owned)),
        );
    }
    if payload["type"] == "full-reload" {
        for key in ["path", "triggeredBy"] {
            if let Some(path) = payload[key].as_str() {
                files.push(path.to_owned());
            }
        }
    }
    files
}

/// Requests all along: the page, the stylesheet, the module, a listing-free 404.
async fn requests(addr: std::net::SocketAddr, log: Arc<Mutex<Log>>) {
    let paths = ["/", "/style.css", "/main.js", "/missing.txt"];
    for i in 0.. {
        let ok = get(addr, paths[i % paths.len()]).await;
        {
            let mut log = log.lock().unwrap();
            log.requests += 1;
            if !ok {
                log.failed_requests += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One GET on its own connection; whether an answer came.
async fn get(addr: std::net::SocketAddr, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return false;
    };
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(head.as_bytes()).await.is_err() {
        return false;
    }
    let mut out = Vec::new();
    matches!(
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await,
        Ok(Ok(_))
    ) && out.starts_with(b"HTTP/1.1 ")
}

/// `(edits checked, updates lost)` so far: every edit older than `SETTLE`, for every
/// session that covered it from start to settle.
fn lost(log: &Log) -> (u64, u64) {
    let now = Instant::now();
    let (mut checked, mut lost) = (0, 0);
    for (edited, file) in log.edits.iter().filter(|(t, _)| *t + SETTLE < now) {
        for session in &log.sessions {
            let session = session.lock().unwrap();
            let covered = session.opened + Duration::from_millis(100) < *edited
                && session.closed.is_none_or(|c| c > *edited + SETTLE);
            if !covered {
                continue;
            }
            checked += 1;
            let heard = session
                .heard
                .iter()
                .any(|(t, f)| t >= edited && *t <= *edited + SETTLE && (f == file || f == "*"));
            if !heard {
                lost += 1;
                if std::env::var_os("SOAK_DEBUG").is_some() {
                    let after: Vec<_> = session
                        .heard
                        .iter()
                        .filter(|(t, _)| t >= edited)
                        .take(3)
                        .map(|(t, f)| (t.duration_since(*edited), f.clone()))
                        .collect();
                    eprintln!(
                        "lost {file} at {:?}: heard after {after:?}",
                        edited.duration_since(session.opened)
                    );
                }
            }
        }
    }
    (checked, lost)
}

fn report(log: &Mutex<Log>, served: &Served, started: Instant, when: &str) {
    let log = log.lock().unwrap();
    let (checked, lost) = lost(&log);
    let (rss, fds, tasks) = served.resources();
    println!(
        "{:>8} {:>10} {:>6} {:>7} {:>9} {:>8} {:>6} {:>9}  ({when}; {} sessions, {} failed requests)",
        format!("{:.0}s", started.elapsed().as_secs_f64()),
        rss,
        fds,
        tasks,
        log.edits.len(),
        checked,
        lost,
        log.requests,
        log.sessions.len(),
        log.failed_requests,
    );
}

fn status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l[field.len()..].trim().trim_end_matches(" kB").to_owned())
        })
        .unwrap_or_default()
}

fn fds(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}
