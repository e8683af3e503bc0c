//! Shared pieces of the Rust benchmarks (`bench_hmr`, `bench_watch`): the server child
//! process, HMR clients, /proc readings and percentiles. Included with `#[path]`.
#![allow(dead_code)]

use futures_util::StreamExt;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Raise the soft open-file limit to the hard limit; returns the new soft limit.
pub fn raise_nofile() -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur
    }
}

pub fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

pub fn now_utc() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M:%S UTC"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

pub fn header(title: &str, command: &str) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("# {title}");
    println!(
        "machine: {cores} cores, load average {} (1/5/15 min), {}, open-file limit {}",
        load_avg(),
        now_utc(),
        raise_nofile()
    );
    println!("command: {command}");
}

pub fn footer() {
    println!("load average at the end: {} ({})", load_avg(), now_utc());
}

/// A field of /proc/<pid>/status in KiB (VmRSS, RssAnon, ...).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

/// Inotify watches held by a process: `inotify wd:` lines over its inotify descriptors.
pub fn inotify_watches(pid: u32) -> (usize, usize) {
    let (mut fds, mut watches) = (0, 0);
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return (0, 0);
    };
    for entry in entries.flatten() {
        let is_inotify = std::fs::read_link(entry.path())
            .map(|t| t.to_string_lossy().contains("inotify"))
            .unwrap_or(false);
        if !is_inotify {
            continue;
        }
        fds += 1;
        let info = format!("/proc/{pid}/fdinfo/{}", entry.file_name().to_string_lossy());
        if let Ok(text) = std::fs::read_to_string(info) {
            watches += text
                .lines()
                .filter(|l| l.starts_with("inotify wd:"))
                .count();
        }
    }
    (fds, watches)
}

/// The benchmark's own arguments (`--flag value` pairs and bare flags), each handed to
/// `on` with a way to take its value; `on` panics on a flag it does not know.
pub fn each_flag(mut on: impl FnMut(&str, &mut Value)) {
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        on(
            &flag,
            &mut Value {
                flag: &flag,
                args: &mut args,
            },
        );
    }
}

/// The value after a flag, taken on demand.
pub struct Value<'a> {
    flag: &'a str,
    args: &'a mut std::iter::Skip<std::env::Args>,
}

impl Value<'_> {
    /// The next argument, as given.
    pub fn text(&mut self) -> String {
        let flag = self.flag;
        self.args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"))
    }

    /// The next argument as a number (`1_000` allowed).
    pub fn count<T: std::str::FromStr>(&mut self) -> T {
        let flag = self.flag;
        self.text()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{flag} needs a number"))
    }
}

/// `--clients 1,100,1_000` as counts.
pub fn client_counts(list: &str) -> Vec<usize> {
    list.split(',')
        .map(|n| n.trim().replace('_', "").parse().expect("client count"))
        .collect()
}

/// Nearest-rank percentile of sorted values.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ---------------------------------------------------------------------------------------
// The server process.

/// When this process was started as the server (`--serve ROOT ...`), serve and return true.
pub fn serve_if_asked() -> bool {
    let started = Instant::now();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("--serve") {
        return false;
    }
    let root = std::path::PathBuf::from(&args[2]);
    serve_main(started, &root, &args[3..]);
    true
}

/// The command that reproduces this run, for the header.
pub fn command_line(example: &str) -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut command = format!("cargo run --release --example {example}");
    if !args.is_empty() {
        command.push_str(" -- ");
        command.push_str(&args.join(" "));
    }
    command
}

/// Entry point of the server child: `--serve ROOT [--watch] [--send-from-thread]
/// [--settle-us N]`. Prints
/// `ready PORT MICROS` (MICROS: process main to bound), then reads commands on stdin:
/// `broadcast SEQ` sends a custom `bench` event and answers `sent SEQ MICROS` (time spent in
/// `hub.custom`); `quit` or end of input stops the server. The send runs on a runtime task,
/// as the watcher's payloads do, unless `--send-from-thread` (the stdin thread calls the hub).
pub fn serve_main(started: Instant, root: &Path, args: &[String]) {
    let flag = |f: &str| args.iter().any(|a| a == f);
    let (watch, from_thread) = (flag("--watch"), flag("--send-from-thread"));
    // `--settle-us N`: the watcher's settle (Config::debounce), for experiments.
    let settle = args
        .iter()
        .position(|a| a == "--settle-us")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .map(Duration::from_micros);
    raise_nofile();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let mut config = hotserve::Config::new(root).port(0).watch(watch);
        if let Some(settle) = settle {
            config = config.debounce(settle);
        }
        let server = hotserve::Server::bind(config).await.expect("server binds");
        let port = server.local_addr().port();
        let hub = server.service().hub().clone();
        println!("ready {port} {}", started.elapsed().as_micros());
        std::io::stdout().flush().ok();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let broadcast = move |seq: u64| {
            let t = Instant::now();
            hub.custom("bench", Some(serde_json::json!({ "seq": seq })));
            let took = t.elapsed().as_micros();
            let mut out = std::io::stdout();
            writeln!(out, "sent {seq} {took}").ok();
            out.flush().ok();
        };
        let (seq_tx, mut seq_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let sender = if from_thread {
            None
        } else {
            let broadcast = broadcast.clone();
            Some(tokio::spawn(async move {
                while let Some(seq) = seq_rx.recv().await {
                    broadcast(seq);
                }
            }))
        };
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                let Ok(line) = line else { break };
                let mut words = line.split_whitespace();
                match (words.next(), words.next()) {
                    (Some("broadcast"), Some(seq)) => {
                        let seq: u64 = seq.parse().unwrap_or(0);
                        if from_thread {
                            broadcast(seq);
                        } else {
                            let _ = seq_tx.send(seq);
                        }
                    }
                    (Some("quit"), _) => break,
                    _ => {}
                }
            }
            let _ = stop_tx.send(());
        });
        server
            .run(async {
                let _ = stop_rx.await;
            })
            .await;
        if let Some(sender) = sender {
            sender.abort();
        }
    });
}

/// CPU time (user + system) used so far by all threads of a process, from schedstat (ns).
pub fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// A server child process, killed when dropped.
pub struct ServerProc {
    child: Child,
    stdin: ChildStdin,
    pub pid: u32,
    pub addr: SocketAddr,
    /// From `spawn()` in this process to the `ready` line.
    pub spawn_to_ready: Duration,
    /// Reported by the child: its `main` to `Server::bind` returned.
    pub child_ready: Duration,
    pub ready_at: Instant,
    lines: mpsc::Receiver<String>,
}

impl ServerProc {
    pub fn spawn(root: &Path, args: &[&str], env: &[(String, String)]) -> ServerProc {
        let exe = std::env::current_exe().expect("current exe");
        let mut cmd = Command::new(exe);
        cmd.arg("--serve").arg(root).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        let spawned = Instant::now();
        let mut child = cmd.spawn().expect("spawn server");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take().expect("stdin");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("server ready within 30 s");
        let ready_at = Instant::now();
        let mut words = line.split_whitespace();
        assert_eq!(
            words.next(),
            Some("ready"),
            "unexpected first line {line:?}"
        );
        let port: u16 = words.next().and_then(|p| p.parse().ok()).expect("port");
        let micros: u64 = words.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        ServerProc {
            pid: child.id(),
            child,
            stdin,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            spawn_to_ready: ready_at - spawned,
            child_ready: Duration::from_micros(micros),
            ready_at,
            lines,
        }
    }

    pub fn command(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to server");
        self.stdin.flush().expect("flush to server");
    }

    /// The next line the server printed, within `timeout`.
    pub fn line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid)
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// HTTP and HMR clients.

/// One `GET` with `Connection: close`; returns the status code.
pub async fn get(addr: SocketAddr, path: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("response within 10 s")
        .expect("read");
    std::str::from_utf8(&out[..out.len().min(16)])
        .ok()
        .and_then(|s| s.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Decides whether a message answers the current round.
pub type Matcher = dyn Fn(&str, u64) -> bool + Send + Sync;

/// State shared by the clients: per round, when each client got the round's message.
pub struct Clients {
    pub base: Instant,
    round: AtomicU64,
    /// Nanoseconds since `base` + 1 (0 = not yet) per client, for the current round.
    times: Vec<AtomicU64>,
    got: AtomicUsize,
    all: Notify,
    connected: AtomicUsize,
    failed: AtomicUsize,
    matcher: Box<Matcher>,
    /// Every message client 0 received after `connected`: (ns since base, text).
    pub log: Mutex<Vec<(u64, String)>>,
    n: AtomicUsize,
}

impl Clients {
    pub fn new(capacity: usize, matcher: Box<Matcher>) -> Arc<Clients> {
        Arc::new(Clients {
            base: Instant::now(),
            round: AtomicU64::new(0),
            times: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            got: AtomicUsize::new(0),
            all: Notify::new(),
            connected: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            matcher,
            log: Mutex::new(Vec::new()),
            n: AtomicUsize::new(0),
        })
    }

    /// How many clients got the current round's message so far.
    pub fn got(&self) -> usize {
        self.got.load(Ordering::Acquire)
    }

    pub fn connected(&self) -> usize {
        self.connected.load(Ordering::Acquire)
    }

    /// Open clients up to `total` (index `from..total`), `concurrency` handshakes at a time,
    /// and wait until each got `connected`. Returns how long that took.
    pub async fn connect(
        self: &Arc<Self>,
        addr: SocketAddr,
        from: usize,
        total: usize,
        concurrency: usize,
    ) -> Duration {
        let started = Instant::now();
        self.n.store(total, Ordering::Release);
        let gate = Arc::new(Semaphore::new(concurrency));
        for idx in from..total {
            let permit = gate.clone().acquire_owned().await.expect("semaphore");
            let clients = self.clone();
            tokio::spawn(async move {
                clients.client(addr, idx, permit).await;
            });
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.connected() + self.failed.load(Ordering::Acquire) < total {
            assert!(Instant::now() < deadline, "clients not connected in 120 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let failed = self.failed.load(Ordering::Acquire);
        assert_eq!(failed, 0, "{failed} clients failed to connect");
        started.elapsed()
    }

    async fn client(
        self: Arc<Self>,
        addr: SocketAddr,
        idx: usize,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) {
        let mut ws = match open(addr).await {
            Ok(ws) => ws,
            Err(err) => {
                eprintln!("client {idx}: {err}");
                self.failed.fetch_add(1, Ordering::AcqRel);
                return;
            }
        };
        // `connected` first.
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.contains("connected") => {}
            other => {
                eprintln!("client {idx}: no connected message: {other:?}");
                self.failed.fetch_add(1, Ordering::AcqRel);
                return;
            }
        }
        drop(permit);
        self.connected.fetch_add(1, Ordering::AcqRel);
        while let Some(Ok(message)) = ws.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let at = self.base.elapsed().as_nanos() as u64 + 1;
            if idx == 0 {
                self.log.lock().unwrap().push((at, text.to_string()));
            }
            let round = self.round.load(Ordering::Acquire);
            if round == 0 || !(self.matcher)(&text, round) {
                continue;
            }
            if self.times[idx]
                .compare_exchange(0, at, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
                && self.got.fetch_add(1, Ordering::AcqRel) + 1 == self.n.load(Ordering::Acquire)
            {
                self.all.notify_one();
            }
        }
    }

    /// Start round `round` (>0): clear the receipt times.
    pub fn arm(&self, round: u64) {
        for t in &self.times {
            t.store(0, Ordering::Release);
        }
        self.got.store(0, Ordering::Release);
        self.round.store(round, Ordering::Release);
    }

    /// Wait until every client got the round's message (or `timeout`); returns each client's
    /// receipt time relative to `t0` (in ms), missing ones left out.
    pub async fn wait(&self, t0: Instant, timeout: Duration) -> Vec<f64> {
        let n = self.n.load(Ordering::Acquire);
        let deadline = tokio::time::Instant::from_std(t0 + timeout);
        while self.got.load(Ordering::Acquire) < n {
            if tokio::time::timeout_at(deadline, self.all.notified())
                .await
                .is_err()
            {
                break;
            }
        }
        self.round.store(0, Ordering::Release);
        let t0_ns = (t0 - self.base).as_nanos() as f64;
        self.times[..n]
            .iter()
            .map(|t| t.load(Ordering::Acquire))
            .filter(|&t| t != 0)
            .map(|t| ((t - 1) as f64 - t0_ns) / 1e6)
            .collect()
    }
}

type ClientWs = tokio_tungstenite::WebSocketStream<TcpStream>;

/// An HMR client as a tool opens it: subprotocol `vite-hmr`, no Origin, small read buffer.
async fn open(addr: SocketAddr) -> Result<ClientWs, String> {
    let mut request = format!("ws://{addr}/")
        .into_client_request()
        .map_err(|e| e.to_string())?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "vite-hmr".parse().unwrap());
    let mut last = String::new();
    for attempt in 0..5 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
        }
        let stream = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(err) => {
                last = format!("connect: {err}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // Small: tungstenite zero-fills the free part of its read buffer before each read.
        let config = WebSocketConfig::default().read_buffer_size(1024);
        match tokio_tungstenite::client_async_with_config(request.clone(), stream, Some(config))
            .await
        {
            Ok((ws, _)) => return Ok(ws),
            Err(err) => last = format!("handshake: {err}"),
        }
    }
    Err(last)
}
