//! HMR fan-out benchmark: N WebSocket clients (100, 1,000, 10,000 by default) on a hotserve
//! server running in its own process; per N, the time one broadcast takes to reach every
//! client (over `--broadcasts` broadcasts) and the server's memory per idle client.
//!
//!   cargo run --release --example bench_hmr
//!   cargo run --release --example bench_hmr -- --clients 100,1000 --broadcasts 50
//!   cargo run --release --example bench_hmr -- --malloc-arena-max 2   # server env only
//!
//! The example re-executes itself with `--serve ROOT` to become the server (library API,
//! `Config::watch(false)`); the parent opens the clients with tokio-tungstenite, writes
//! `broadcast SEQ` on the server's stdin, and times each client's receipt from just before
//! that write (one monotonic clock, in the parent). Clients and server share the machine's
//! cores, so the figures include the clients' own reading.

#[path = "bench/common.rs"]
mod common;

use common::{Clients, ServerProc, ms, pct, sorted};
use std::time::{Duration, Instant};

struct Options {
    clients: Vec<usize>,
    broadcasts: u64,
    warmup: u64,
    concurrency: usize,
    env: Vec<(String, String)>,
    server_args: Vec<&'static str>,
    idle_before: Duration,
}

fn parse() -> Options {
    let mut opts = Options {
        clients: vec![100, 1_000, 10_000],
        broadcasts: 20,
        warmup: 2,
        concurrency: 64,
        env: Vec::new(),
        server_args: Vec::new(),
        idle_before: Duration::from_millis(300),
    };
    common::each_flag(|flag, value| match flag {
        "--clients" => opts.clients = common::client_counts(&value.text()),
        "--broadcasts" => opts.broadcasts = value.count(),
        "--warmup" => opts.warmup = value.count(),
        "--concurrency" => opts.concurrency = value.count(),
        "--malloc-arena-max" => opts.env.push(("MALLOC_ARENA_MAX".into(), value.text())),
        // Any variable for the server process only, e.g. LD_PRELOAD for a heap profiler.
        "--server-env" => {
            let pair = value.text();
            let (k, v) = pair.split_once('=').expect("--server-env KEY=VALUE");
            opts.env.push((k.into(), v.into()));
        }
        "--send-from-thread" => opts.server_args.push("--send-from-thread"),
        // Time to attach a profiler (heaptrack -p, perf) before the clients connect.
        "--idle-before-ms" => opts.idle_before = Duration::from_millis(value.count()),
        other => panic!("unknown argument {other}"),
    });
    opts
}

fn main() {
    if common::serve_if_asked() {
        return;
    }
    let opts = parse();
    let command = common::command_line("bench_hmr");
    common::header("hotserve HMR fan-out", &command);
    let server_env = if opts.env.is_empty() {
        "default".to_owned()
    } else {
        opts.env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "server: separate process, Config::watch(false), env {server_env}, hub.custom called from {}; \
         {} broadcasts per N after {} warm-up, 100 ms apart; payload \
         {{\"type\":\"custom\",\"event\":\"bench\",\"data\":{{\"seq\":N}}}}",
        if opts.server_args.is_empty() {
            "a runtime task (like the watcher stage)"
        } else {
            "the stdin thread (outside the runtime)"
        },
        opts.broadcasts,
        opts.warmup
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut rows = Vec::new();
    for &n in &opts.clients {
        let row = runtime.block_on(run(n, &opts));
        rows.push(row);
    }
    println!();
    println!(
        "{:>7} | {:>9} | {:>27} | {:>33} | {:>8} | {:>25}",
        "clients",
        "connect",
        "per client ms p50/p99/max",
        "last client ms p50/p90/max (min)",
        "send ms",
        "server RSS idle, per client"
    );
    for r in &rows {
        println!(
            "{:>7} | {:>7.0}ms | {:>8.2} {:>8.2} {:>8.2} | {:>7.2} {:>7.2} {:>7.2} ({:>6.2}) | {:>8.2} | {:>7.1} -> {:>7.1} MiB, {:>5.2} KiB",
            r.n,
            r.connect_ms,
            r.client_p50,
            r.client_p99,
            r.client_max,
            r.last_p50,
            r.last_p90,
            r.last_max,
            r.last_min,
            r.send_p50,
            r.rss_before as f64 / 1024.0,
            r.rss_idle as f64 / 1024.0,
            r.per_client_kib,
        );
    }
    println!();
    println!(
        "per client: pooled over clients x broadcasts; last client: time until the last client \
         had it, distribution over broadcasts; send: time inside hub.custom (serialize + queue \
         to all), p50"
    );
    println!("CPU per broadcast (schedstat) and RSS after the broadcasts:");
    for r in &rows {
        println!(
            "  N={:>6}: CPU server {:.1} ms + clients {:.1} ms; VmRSS {} KiB (RssAnon {} KiB); idle RssAnon delta/N {:.2} KiB; warm-up last client {:?} ms",
            r.n,
            r.server_cpu_ms,
            r.client_cpu_ms,
            r.rss_after,
            r.anon_after,
            r.anon_per_client_kib,
            r.warmup_last
                .iter()
                .map(|v| (v * 100.0).round() / 100.0)
                .collect::<Vec<_>>()
        );
    }
    common::footer();
}

struct Row {
    n: usize,
    connect_ms: f64,
    client_p50: f64,
    client_p99: f64,
    client_max: f64,
    last_p50: f64,
    last_p90: f64,
    last_max: f64,
    last_min: f64,
    send_p50: f64,
    rss_before: u64,
    rss_idle: u64,
    per_client_kib: f64,
    anon_per_client_kib: f64,
    rss_after: u64,
    anon_after: u64,
    warmup_last: Vec<f64>,
    server_cpu_ms: f64,
    client_cpu_ms: f64,
}

async fn run(n: usize, opts: &Options) -> Row {
    let site = tempfile::tempdir().expect("temp dir");
    std::fs::write(site.path().join("index.html"), "<h1>bench</h1>\n").unwrap();
    let mut server = ServerProc::spawn(site.path(), &opts.server_args, &opts.env);
    tokio::time::sleep(opts.idle_before).await;
    let rss_before = server.rss_kib();
    let anon_before = common::status_kib(server.pid, "RssAnon");
    let clients = Clients::new(
        n,
        Box::new(|text: &str, round: u64| {
            // `..."data":{"seq":N}}`: read N without allocating.
            let seq = text.rfind("\"seq\":").and_then(|i| {
                let digits = &text[i + 6..];
                let end = digits
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(digits.len());
                digits[..end].parse::<u64>().ok()
            });
            seq == Some(round) && text.contains("\"bench\"")
        }),
    );
    let connect = clients
        .connect(server.addr, 0, n, opts.concurrency.min(n))
        .await;
    // Let the last handshakes' transient buffers go.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle = server.rss_kib();
    let anon_idle = common::status_kib(server.pid, "RssAnon");
    eprintln!(
        "N={n}: connected in {:.0} ms; server RSS {rss_before} -> {rss_idle} KiB (load {})",
        ms(connect),
        common::load_avg()
    );

    let mut pooled = Vec::with_capacity(n * opts.broadcasts as usize);
    let mut lasts = Vec::new();
    let mut warmup_last = Vec::new();
    let mut sends = Vec::new();
    let (mut server_cpu, mut client_cpu) = (0u64, 0u64);
    let me = std::process::id();
    for seq in 1..=opts.warmup + opts.broadcasts {
        let cpu0 = (common::cpu_ns(server.pid), common::cpu_ns(me));
        clients.arm(seq);
        let t0 = Instant::now();
        server.command(&format!("broadcast {seq}"));
        let times = clients.wait(t0, Duration::from_secs(20)).await;
        assert_eq!(
            times.len(),
            n,
            "broadcast {seq}: only {} of {n} clients got it within 20 s",
            times.len()
        );
        let sent = server.line(Duration::from_secs(5)).unwrap_or_default();
        let send_us: f64 = sent
            .split_whitespace()
            .nth(2)
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        let cpu1 = (common::cpu_ns(server.pid), common::cpu_ns(me));
        let last = times.iter().copied().fold(0.0, f64::max);
        if seq <= opts.warmup {
            warmup_last.push(last);
        } else {
            lasts.push(last);
            sends.push(send_us / 1e3);
            server_cpu += cpu1.0 - cpu0.0;
            client_cpu += cpu1.1 - cpu0.1;
            pooled.extend(times);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rss_after = server.rss_kib();
    let anon_after = common::status_kib(server.pid, "RssAnon");
    drop(server);
    let pooled = sorted(pooled);
    let lasts = sorted(lasts);
    let sends = sorted(sends);
    Row {
        n,
        connect_ms: ms(connect),
        client_p50: pct(&pooled, 50.0),
        client_p99: pct(&pooled, 99.0),
        client_max: pct(&pooled, 100.0),
        last_p50: pct(&lasts, 50.0),
        last_p90: pct(&lasts, 90.0),
        last_max: pct(&lasts, 100.0),
        last_min: pct(&lasts, 0.0),
        send_p50: pct(&sends, 50.0),
        rss_before,
        rss_idle,
        per_client_kib: (rss_idle as f64 - rss_before as f64) / n as f64,
        anon_per_client_kib: (anon_idle as f64 - anon_before as f64) / n as f64,
        rss_after,
        anon_after,
        warmup_last,
        server_cpu_ms: server_cpu as f64 / 1e6 / opts.broadcasts as f64,
        client_cpu_ms: client_cpu as f64 / 1e6 / opts.broadcasts as f64,
    }
}
