//! TypeScript compile benchmark: every `.ts`/`.tsx` file of real sources requested once from
//! an in-process hotserve (first request: oxc compile + import rewriting; the server's file
//! cache is warm, the compile cache is cold), then again (compile cache hit), with p50/p99
//! per module for each pass. The figures include one local HTTP round trip per module.
//!
//!   cargo run --release --example bench_transform
//!   cargo run --release --example bench_transform -- DIR...   # other source folders
//!
//! By default the sources are rxjs's `src/` (≈250 TypeScript files) from tests/js (run
//! `npm ci --prefix tests/js` first).

#[path = "bench/common.rs"]
mod common;

use common::{get, ms, pct, sorted};
use hotserve::{Config, Server};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if let Some(name) = path.file_name().and_then(|n| n.to_str())
            && (name.ends_with(".ts") || name.ends_with(".tsx"))
            && !name.ends_with(".d.ts")
        {
            out.push(path);
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut dirs: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if dirs.is_empty() {
        dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/node_modules/rxjs/src"));
    }
    common::header(
        "TypeScript compile per module (oxc), through the server",
        &common::command_line("bench_transform"),
    );
    // A copy outside node_modules, so tsconfig discovery runs as in a project.
    let site = tempfile::tempdir()?;
    let mut files = Vec::new();
    let mut bytes = 0;
    for (i, dir) in dirs.iter().enumerate() {
        let mut found = Vec::new();
        sources(dir, &mut found);
        for file in found {
            let relative = file.strip_prefix(dir)?;
            let target = site.path().join(format!("s{i}")).join(relative);
            std::fs::create_dir_all(target.parent().unwrap_or(site.path()))?;
            std::fs::copy(&file, &target)?;
            bytes += std::fs::metadata(&target)?.len();
            files.push(format!("/s{i}/{}", relative.to_string_lossy()));
        }
    }
    if files.is_empty() {
        return Err(format!("no .ts/.tsx files under {dirs:?} (npm ci --prefix tests/js?)").into());
    }
    println!(
        "sources: {} files, {} KiB, from {}",
        files.len(),
        bytes / 1024,
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );

    let server = Server::bind(Config::new(site.path()).port(0).watch(false)).await?;
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    // Warm the HTTP path with one file, so the first timing is not the first connection.
    get(addr, &files[0]).await;
    for pass in ["first request (compile)", "second request (cached)"] {
        let mut times = Vec::with_capacity(files.len());
        let mut failed = 0;
        for file in &files {
            let started = Instant::now();
            let status = get(addr, file).await;
            times.push(ms(started.elapsed()));
            if status != 200 {
                failed += 1;
            }
        }
        let total: f64 = times.iter().sum();
        let times = sorted(times);
        println!(
            "{pass}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, total {:.0} ms; {} not 200",
            pct(&times, 50.0),
            pct(&times, 99.0),
            times.last().copied().unwrap_or_default(),
            total,
            failed
        );
    }
    let _ = stop.send(());
    running.await?;
    common::footer();
    Ok(())
}
