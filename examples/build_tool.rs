//! A toy build tool that embeds hotserve: it watches a source folder, "builds" every file
//! into an output folder, serves the output, and pushes updates and build errors through
//! the library API (the server's own watcher is off: the tool knows when its output is
//! ready).
//!
//! ```sh
//! cargo run --example build_tool                      # builds examples/site into a temp dir
//! cargo run --example build_tool -- SRC OUT
//! ```
//! Put the words `BUILD ERROR` in a source file to see the error overlay; remove them and
//! the next successful build clears it.

use hotserve::protocol::{ErrorInfo, ErrorLocation};
use hotserve::watch::{ChangeKind, WatchOptions, Watcher};
use hotserve::{Config, Server};
use std::path::{Path, PathBuf};

const MARKER: &str = "BUILD ERROR";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let src =
        PathBuf::from(args.next().unwrap_or_else(|| "examples/site".into())).canonicalize()?;
    let out = match args.next() {
        Some(out) => PathBuf::from(out),
        None => std::env::temp_dir().join(format!("hotserve-build-{}", std::process::id())),
    };
    std::fs::create_dir_all(&out)?;

    // A first full build, so the server has something to serve.
    for entry in walk(&src) {
        if let Err(err) = build_file(&src, &out, &entry) {
            eprintln!("build error: {}", err.message);
        }
    }

    let server = Server::bind(Config::new(&out).watch(false)).await?;
    println!(
        "serving the build of {} at http://{}/",
        src.display(),
        server.local_addr()
    );
    let service = server.service().clone();
    let (_watcher, mut changes) = Watcher::start(WatchOptions::new(&src))?;

    tokio::spawn(async move {
        while let Some(set) = changes.recv().await {
            let mut built = Vec::new();
            for change in set.changes {
                if change.kind == ChangeKind::Removed {
                    let target = out.join(change.path.strip_prefix(&src).unwrap_or(&change.path));
                    let _ = std::fs::remove_file(&target);
                    built.push(target);
                    continue;
                }
                match build_file(&src, &out, &change.path) {
                    Ok(target) => built.push(target),
                    // A failed build shows the overlay in every open browser.
                    Err(error) => service.hub().error(*error),
                }
            }
            if !built.is_empty() {
                for payload in service.notify_changed(&built).await {
                    println!(
                        "sent {}",
                        serde_json::to_string(&payload).unwrap_or_default()
                    );
                }
            }
        }
    });

    server
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}

/// "Build" one file: copy it, unless it contains the error marker.
fn build_file(src: &Path, out: &Path, file: &Path) -> Result<PathBuf, Box<ErrorInfo>> {
    let relative = file.strip_prefix(src).unwrap_or(file);
    let bytes = std::fs::read(file).map_err(|err| {
        Box::new(ErrorInfo {
            message: format!("cannot read {}: {err}", relative.display()),
            ..Default::default()
        })
    })?;
    let text = String::from_utf8_lossy(&bytes);
    if let Some(offset) = text.find(MARKER) {
        let line = text[..offset].matches('\n').count() as u32 + 1;
        let column = (offset - text[..offset].rfind('\n').map_or(0, |n| n + 1)) as u32 + 1;
        let source_line = text.lines().nth(line as usize - 1).unwrap_or_default();
        return Err(Box::new(ErrorInfo {
            message: format!("{MARKER} marker found in {}", relative.display()),
            stack: String::new(),
            id: Some(file.display().to_string()),
            frame: Some(format!(
                "{line} | {source_line}\n  | {}^",
                " ".repeat(column as usize - 1)
            )),
            plugin: Some("build_tool".into()),
            loc: Some(ErrorLocation {
                file: Some(file.display().to_string()),
                line,
                column,
            }),
        }));
    }
    let target = out.join(relative);
    if let Some(parent) = target.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(&target, &bytes).map_err(|err| {
        Box::new(ErrorInfo {
            message: format!("cannot write {}: {err}", target.display()),
            ..Default::default()
        })
    })?;
    Ok(target)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
