//! Rewrites a JavaScript module for the browser: hot context, accepted deps, freshness.

use super::graph::{ModuleGraph, resolve, strip_query};
use super::{ScanResult, scan};
use std::ops::Range;

/// The URL of the HMR client module. Every hot context imports it by exactly this URL: a
/// second spelling would load a second client with its own socket.
pub const CLIENT_URL: &str = crate::client::CLIENT_PATH;

/// A module ready to send, and what serving it changed in the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewritten {
    /// The rewritten source.
    pub code: String,
    /// Modules no longer imported by anyone: send them in a `prune` payload.
    pub pruned: Vec<String>,
}

/// Scans the module served at `url`, records it in `graph`, and rewrites it; the one call the
/// HTTP layer makes for each `.js`/`.mjs` response.
///
/// `url` is the percent-decoded request path; a query (`?t=…`) is ignored.
pub fn serve_module(graph: &mut ModuleGraph, url: &str, source: &str) -> Rewritten {
    serve(graph, url, source, None)
}

/// [`serve_module`], with `env` (the `import.meta.env = …;` statement) put first when the
/// module uses `import.meta.env`.
pub(crate) fn serve(
    graph: &mut ModuleGraph,
    url: &str,
    source: &str,
    env: Option<&str>,
) -> Rewritten {
    let scanned = scan(source);
    let pruned = graph.update_module(url, &scanned);
    let code = transform_scanned(url, source, &scanned, graph, env);
    Rewritten { code, pruned }
}

/// Rewrites the module at `url` for serving, without recording it in the graph.
///
/// - A module that uses `import.meta.hot` gets its hot context created on its first line,
///   before the original code and without a line break, so the browser's line numbers
///   still match the file.
/// - Dep literals in `hot.accept("./dep.js", …)` become resolved URL paths, because the
///   client matches them against update paths as plain strings.
/// - Relative and absolute import specifiers whose target was hot-updated get
///   `?t=<timestamp>` (`&t=` after an existing query), so a re-imported boundary loads the
///   fresh chain while untouched modules keep their instances. Bare specifiers are kept.
pub fn transform_module(url: &str, source: &str, graph: &ModuleGraph) -> String {
    transform_scanned(url, source, &scan(source), graph, None)
}

fn transform_scanned(
    url: &str,
    source: &str,
    scanned: &ScanResult,
    graph: &ModuleGraph,
    env: Option<&str>,
) -> String {
    let url = strip_query(url);
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    for spec in scanned.imports.iter().filter_map(|i| i.specifier.as_ref()) {
        // Imports of stylesheets, JSON and assets say so (`?import`), so that the server
        // answers them with a module and a page's `<link>`/`<img>` with the file.
        let marked = super::wrap::mark_import(&spec.value);
        let value = marked.as_deref().unwrap_or(&spec.value);
        let timestamp =
            resolve(url, value).and_then(|target| graph.module(&target)?.last_hmr_timestamp());
        match timestamp {
            Some(t) => edits.push((spec.range.clone(), with_timestamp(value, t))),
            None if marked.is_some() => edits.push((spec.range.clone(), value.to_owned())),
            None => {}
        }
    }
    for dep in &scanned.hot.accepted_deps {
        if let Some(resolved) = resolve(url, &dep.value) {
            edits.push((dep.range.clone(), resolved));
        }
    }
    edits.sort_by_key(|(range, _)| range.start);

    let mut out = String::with_capacity(source.len() + 200);
    let mut copied = 0;
    if scanned.hot.mentioned || env.is_some() {
        // A byte-order mark and a hashbang must stay first; after a hashbang the preamble
        // goes at the start of the next line.
        copied = if source.starts_with('\u{FEFF}') { 3 } else { 0 };
        if source[copied..].starts_with("#!") {
            copied = source.find('\n').map_or(source.len(), |i| i + 1);
        }
        out.push_str(&source[..copied]);
    }
    if scanned.hot.mentioned {
        let owner = serde_json::Value::from(url).to_string();
        out.push_str(&format!(
            "import {{ createHotContext as __vite__createHotContext }} from \"{CLIENT_URL}\";\
             import.meta.hot = __vite__createHotContext({owner});"
        ));
    }
    if let Some(env) = env {
        out.push_str(env);
    }
    for (range, text) in edits {
        if range.start < copied {
            continue;
        }
        let quote = source
            .as_bytes()
            .get(range.start.wrapping_sub(1))
            .copied()
            .unwrap_or(b'"');
        out.push_str(&source[copied..range.start]);
        out.push_str(&escape(&text, quote));
        copied = range.end;
    }
    out.push_str(&source[copied..]);
    out
}

/// `specifier` with `t=<timestamp>` added to its query (before any hash), replacing an old
/// `t=` so repeated updates do not pile up parameters.
pub(super) fn with_timestamp(specifier: &str, timestamp: u64) -> String {
    let (path_query, hash) = specifier.split_at(specifier.find('#').unwrap_or(specifier.len()));
    let (path, query) = path_query.split_at(path_query.find('?').unwrap_or(path_query.len()));
    let kept: Vec<&str> = query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("t="))
        .collect();
    let mut out = String::from(path);
    for (i, param) in kept.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(param);
    }
    out.push(if kept.is_empty() { '?' } else { '&' });
    out.push_str(&format!("t={timestamp}{hash}"));
    out
}

/// Escapes `text` for the inside of a string literal delimited by `quote`.
fn escape(text: &str, quote: u8) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c as u32 == u32::from(quote) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}
