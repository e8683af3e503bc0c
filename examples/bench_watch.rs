//! Watcher benchmark: save -> HMR message latency at 1 / 100 / 1,000 clients, a 1,000-file
//! burst, and startup on a big tree (90,000 files in `node_modules/` + 10,000 sources).
//!
//!   cargo run --release --example bench_watch
//!   cargo run --release --example bench_watch -- --edits 100 --startup-runs 10
//!   cargo run --release --example bench_watch -- --only latency   # or burst, startup
//!   cargo run --release --example bench_watch -- --only latency --latency-file ts
//!
//! The server is this example re-executed with `--serve ROOT --watch`: the library's
//! `Server` with the watcher on, in its own process (so its RSS and inotify watches are its
//! own). Clients are tokio-tungstenite sockets in this process; every time is taken on this
//! process's monotonic clock, from just before the write to the receipt at the client.

#[path = "bench/common.rs"]
mod common;

use common::{Clients, ServerProc, get, ms, pct, sorted};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

struct Options {
    clients: Vec<usize>,
    edits: u64,
    burst_files: usize,
    burst_rounds: usize,
    startup_runs: usize,
    packages: usize,
    files_per_package: usize,
    sources: usize,
    only: Option<String>,
    /// What the latency part edits: `css` (a stylesheet a page links) or `ts` (a
    /// TypeScript module that accepts its own updates).
    latency_file: String,
    server_args: Vec<String>,
}

fn parse() -> Options {
    let mut opts = Options {
        clients: vec![1, 100, 1_000],
        edits: 40,
        burst_files: 1_000,
        burst_rounds: 3,
        startup_runs: 5,
        packages: 900,
        files_per_package: 100,
        sources: 10_000,
        only: None,
        latency_file: "css".into(),
        server_args: vec!["--watch".into()],
    };
    common::each_flag(|flag, value| match flag {
        "--clients" => opts.clients = common::client_counts(&value.text()),
        "--edits" => opts.edits = value.count(),
        "--burst-files" => opts.burst_files = value.count(),
        "--burst-rounds" => opts.burst_rounds = value.count(),
        "--startup-runs" => opts.startup_runs = value.count(),
        "--packages" => opts.packages = value.count(),
        "--files-per-package" => opts.files_per_package = value.count(),
        "--sources" => opts.sources = value.count(),
        "--only" => opts.only = Some(value.text()),
        "--latency-file" => opts.latency_file = value.text(),
        "--settle-us" => {
            let v = value.text();
            opts.server_args.extend(["--settle-us".into(), v]);
        }
        other => panic!("unknown argument {other}"),
    });
    opts
}

fn main() {
    if common::serve_if_asked() {
        return;
    }
    let opts = parse();
    let command = common::command_line("bench_watch");
    common::header("hotserve watcher", &command);
    println!(
        "server: separate process, hotserve::Server with the watcher on ({}, 50 ms max \
         hold); temp folders on {}",
        match opts.server_args.iter().position(|a| a == "--settle-us") {
            Some(i) => format!("settle {} us via Config::debounce", opts.server_args[i + 1]),
            None => "default 2 ms settle".into(),
        },
        std::env::temp_dir().display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let wants = |section: &str| opts.only.as_deref().is_none_or(|o| o == section);
    runtime.block_on(async {
        if wants("latency") {
            latency(&opts).await;
        }
        if wants("burst") {
            burst(&opts).await;
        }
        if wants("startup") {
            startup(&opts).await;
        }
    });
    common::footer();
}

fn server_args(opts: &Options) -> Vec<&str> {
    opts.server_args.iter().map(String::as_str).collect()
}

/// Matches an `update` naming `path`.
fn update_of(path: &'static str) -> Box<common::Matcher> {
    Box::new(move |text: &str, _round: u64| {
        text.contains("\"type\":\"update\"") && text.contains(path)
    })
}

// ---------------------------------------------------------------------------------------

async fn latency(opts: &Options) {
    // A stylesheet a page links, or a TypeScript module that accepts its own updates (it is
    // compiled when requested, not when saved: the save only goes through the planner).
    let (url, content): (&'static str, fn(u64) -> String) = match opts.latency_file.as_str() {
        "css" => ("/style.css", |n| format!("body {{ color: #{n:06x}; }}\n")),
        "ts" => ("/src/main.ts", |n| {
            format!("const round: number = {n};\nexport {{ round }};\nimport.meta.hot?.accept();\n")
        }),
        other => panic!("--latency-file css or ts, not {other}"),
    };
    println!();
    println!(
        "## save -> update latency: {} edits of a served {url} per client count, 100 ms apart \
         (std::fs::write: open+truncate, write, close)",
        opts.edits
    );
    let site = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        site.path().join("index.html"),
        "<link rel=stylesheet href=/style.css><script type=module src=/src/main.ts></script>\n",
    )
    .unwrap();
    let file = site.path().join(url.trim_start_matches('/'));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, content(0)).unwrap();
    let server = ServerProc::spawn(site.path(), &server_args(opts), &[]);
    assert_eq!(get(server.addr, url).await, 200);
    let max = opts.clients.iter().copied().max().unwrap_or(1);
    let clients = Clients::new(max, update_of(url));
    println!(
        "{:>7} | {:>31} | {:>23} | {:>7} | {:>12}",
        "clients", "per client ms p50/p99/max", "last client ms p50/p99", "missing", "load avg"
    );
    let mut connected = 0;
    let mut round = 0;
    for &n in &opts.clients {
        if n > connected {
            clients.connect(server.addr, connected, n, 64).await;
            connected = n;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (mut pooled, mut lasts, mut missing) = (Vec::new(), Vec::new(), 0);
        for _ in 0..opts.edits {
            round += 1;
            clients.arm(round);
            let t0 = Instant::now();
            std::fs::write(&file, content(round)).unwrap();
            let times = clients.wait(t0, Duration::from_secs(5)).await;
            missing += n - times.len();
            lasts.push(times.iter().copied().fold(0.0, f64::max));
            pooled.extend(times);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (pooled, lasts) = (sorted(pooled), sorted(lasts));
        println!(
            "{:>7} | {:>9.2} {:>9.2} {:>9.2} | {:>11.2} {:>11.2} | {:>7} | {:>12}",
            n,
            pct(&pooled, 50.0),
            pct(&pooled, 99.0),
            pct(&pooled, 100.0),
            pct(&lasts, 50.0),
            pct(&lasts, 99.0),
            missing,
            common::load_avg()
        );
    }
    drop(server);
}

// ---------------------------------------------------------------------------------------

async fn burst(opts: &Options) {
    let n = opts.burst_files;
    println!();
    println!(
        "## burst: {n} served CSS files (css/f0000.css ...) rewritten back to back by one thread, \
         1 client; {} rounds per write mode",
        opts.burst_rounds
    );
    println!(
        "modes: truncate = std::fs::write (open O_TRUNC, write, close; ext4 starts writeback at \
         the close of a truncated file, so this is slow on ext4); in-place = open without \
         O_TRUNC, write same-length new content, close"
    );
    let site = tempfile::tempdir().expect("temp dir");
    std::fs::write(site.path().join("index.html"), "<h1>burst</h1>\n").unwrap();
    std::fs::create_dir(site.path().join("css")).unwrap();
    let names: Vec<String> = (0..n).map(|i| format!("css/f{i:04}.css")).collect();
    for (i, name) in names.iter().enumerate() {
        std::fs::write(
            site.path().join(name),
            format!(".f{i} {{ color: #000000; }}\n"),
        )
        .unwrap();
    }
    let server = ServerProc::spawn(site.path(), &server_args(opts), &[]);
    for name in &names {
        assert_eq!(get(server.addr, &format!("/{name}")).await, 200);
    }
    let clients = Clients::new(1, update_of("never"));
    clients.connect(server.addr, 0, 1, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "{:>8} | {:>5} | {:>8} | {:>8} | {:>22} | {:>12} | {:>11} | {:>4} | {:>12}",
        "mode",
        "round",
        "write ms",
        "messages",
        "first/last message ms",
        "paths in upd",
        "full-reload",
        "lost",
        "load avg"
    );
    let paths: Vec<_> = names.iter().map(|name| site.path().join(name)).collect();
    let modes = ["truncate", "in-place"];
    let runs = modes
        .iter()
        .flat_map(|m| (1..=opts.burst_rounds).map(move |r| (*m, r)));
    for (stamp, (mode, round)) in (0x100001..).zip(runs) {
        clients.log.lock().unwrap().clear();
        let contents: Vec<String> = (0..n)
            .map(|i| format!(".f{i} {{ color: #{stamp:06x}; }}\n"))
            .collect();
        let t0 = Instant::now();
        for (path, content) in paths.iter().zip(&contents) {
            if mode == "truncate" {
                std::fs::write(path, content).unwrap();
            } else {
                use std::io::Write;
                let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
                file.write_all(content.as_bytes()).unwrap();
            }
        }
        let written = t0.elapsed();
        // Collect until 1 s without a new message (15 s at most).
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut seen = 0;
        let mut quiet_since = Instant::now();
        while Instant::now() < deadline && quiet_since.elapsed() < Duration::from_secs(1) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let now = clients.log.lock().unwrap().len();
            if now != seen {
                seen = now;
                quiet_since = Instant::now();
            }
        }
        let log = clients.log.lock().unwrap().clone();
        let t0_ns = (t0 - clients.base).as_nanos() as f64;
        let at = |ns: u64| (ns as f64 - 1.0 - t0_ns) / 1e6;
        let mut covered = BTreeSet::new();
        let mut reload = false;
        for (_, text) in &log {
            let value: serde_json::Value = serde_json::from_str(text).expect("JSON");
            match value["type"].as_str() {
                Some("update") => {
                    for update in value["updates"].as_array().into_iter().flatten() {
                        if let Some(path) = update["path"].as_str() {
                            covered.insert(path.to_owned());
                        }
                    }
                }
                Some("full-reload") => reload = true,
                _ => {}
            }
        }
        let lost = names
            .iter()
            .filter(|name| !covered.contains(&format!("/{name}")))
            .count();
        let (first, last) = match (log.first(), log.last()) {
            (Some(f), Some(l)) => (at(f.0), at(l.0)),
            _ => (f64::NAN, f64::NAN),
        };
        println!(
            "{:>8} | {:>5} | {:>8.1} | {:>8} | {:>10.1} {:>11.1} | {:>12} | {:>11} | {:>4} | {:>12}",
            mode,
            round,
            ms(written),
            log.len(),
            first,
            last,
            covered.len(),
            if reload { "yes" } else { "no" },
            if reload { 0 } else { lost },
            common::load_avg()
        );
        if log.len() > 1 {
            let sizes: Vec<String> = log
                .iter()
                .map(|(ns, text)| format!("{:.1}ms:{}", at(*ns), text.matches("\"path\"").count()))
                .collect();
            println!("           messages (arrival: paths): {}", sizes.join(" "));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(server);
}

// ---------------------------------------------------------------------------------------

fn build_tree(root: &Path, opts: &Options) -> (usize, usize) {
    let (mut modules, mut sources) = (0, 0);
    for p in 0..opts.packages {
        let pkg = root.join(format!("node_modules/pkg-{p:03}"));
        std::fs::create_dir_all(pkg.join("lib")).unwrap();
        std::fs::write(
            pkg.join("package.json"),
            format!("{{\"name\":\"pkg-{p:03}\",\"main\":\"lib/f00.js\"}}\n"),
        )
        .unwrap();
        modules += 1;
        for f in 0..opts.files_per_package.saturating_sub(1) {
            std::fs::write(
                pkg.join(format!("lib/f{f:02}.js")),
                format!("export const v{f} = {p};\n"),
            )
            .unwrap();
            modules += 1;
        }
    }
    // src/aX/bY/cZ/mNN.js: 10 x 10 x 5 folders of 20 files for 10,000 sources.
    let per_dir = 20;
    let dirs = opts.sources.div_ceil(per_dir);
    for d in 0..dirs {
        let dir = root.join(format!("src/a{}/b{}/c{}", d / 50, (d / 5) % 10, d % 5));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..per_dir {
            if sources == opts.sources {
                break;
            }
            std::fs::write(
                dir.join(format!("m{f:02}.js")),
                format!("export const m = {d}{f};\n"),
            )
            .unwrap();
            sources += 1;
        }
    }
    std::fs::write(
        root.join("index.html"),
        "<link rel=stylesheet href=/style.css><script type=module src=/src/a0/b0/c0/m00.js></script>\n",
    )
    .unwrap();
    std::fs::write(root.join("style.css"), "body { color: #000000; }\n").unwrap();
    (modules, sources)
}

async fn startup(opts: &Options) {
    println!();
    let site = tempfile::tempdir().expect("temp dir");
    let t = Instant::now();
    let (modules, sources) = build_tree(site.path(), opts);
    let dirs = 1 + count_dirs(&site.path().join("src"));
    println!(
        "## startup on a big tree: {modules} files in node_modules/ ({} packages), {sources} \
         sources in {dirs} folders outside node_modules (tree written in {:.1} s, so the page \
         cache is warm); {} runs",
        opts.packages,
        t.elapsed().as_secs_f64(),
        opts.startup_runs
    );
    println!(
        "ready: spawn() to the server's `ready` line (Server::bind returned: tree walked and \
         watched, port bound); detected: ready to the update arriving at a client, writing a \
         served /style.css every 5 ms from ready (after one GET and one WebSocket)"
    );
    println!(
        "{:>3} | {:>8} | {:>9} | {:>11} | {:>13} | {:>6} | {:>15} | {:>8} | {:>12}",
        "run",
        "ready ms",
        "(in main)",
        "detected ms",
        "from spawn ms",
        "writes",
        "RSS ready/after",
        "watches",
        "load avg"
    );
    let css = site.path().join("style.css");
    let mut readies = Vec::new();
    let mut detects = Vec::new();
    let mut rsses = Vec::new();
    for run in 1..=opts.startup_runs {
        let server = ServerProc::spawn(site.path(), &server_args(opts), &[]);
        let ready = server.ready_at;
        let rss_ready = server.rss_kib();
        let (_, watches) = common::inotify_watches(server.pid);
        assert_eq!(get(server.addr, "/style.css").await, 200);
        let clients = Clients::new(1, update_of("/style.css"));
        clients.connect(server.addr, 0, 1, 1).await;
        clients.arm(run as u64);
        let mut writes = 0;
        while clients.got() == 0 && ready.elapsed() < Duration::from_secs(3) {
            writes += 1;
            std::fs::write(&css, format!("body {{ color: #{run:03x}{writes:03x}; }}\n")).unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let times = clients.wait(ready, Duration::from_secs(3)).await;
        let detected = times.first().copied().unwrap_or(f64::NAN);
        let rss_after = server.rss_kib();
        let spawn_ms = ms(server.spawn_to_ready);
        println!(
            "{:>3} | {:>8.1} | {:>9.1} | {:>11.1} | {:>13.1} | {:>6} | {:>6.1} {:>4.1} MiB | {:>8} | {:>12}",
            run,
            spawn_ms,
            ms(server.child_ready),
            detected,
            spawn_ms + detected,
            writes,
            rss_ready as f64 / 1024.0,
            rss_after as f64 / 1024.0,
            watches,
            common::load_avg()
        );
        readies.push(spawn_ms);
        detects.push(detected);
        rsses.push(rss_after as f64 / 1024.0);
        drop(server);
    }
    let (readies, detects, rsses) = (sorted(readies), sorted(detects), sorted(rsses));
    println!(
        "median | ready {:.1} ms | detected {:.1} ms after ready | RSS {:.1} MiB",
        pct(&readies, 50.0),
        pct(&detects, 50.0),
        pct(&rsses, 50.0)
    );
}

fn count_dirs(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| 1 + count_dirs(&e.path()))
        .sum()
}
