//! Stylesheets as the browser sees them: what each served sheet pulls in through `@import`
//! and `url(...)`, and the copy it is served so that an update reaches every sheet in a
//! chain.
//!
//! The HTTP layer feeds every stylesheet it serves through [`serve_stylesheet`], which scans
//! it ([`scan`]), records its edges in the [`StyleGraph`] and rewrites references to files
//! that were hot-updated with `?t=<timestamp>`, the way module imports are rewritten. When a
//! file changes, [`StyleGraph::pulled_in_by`] names the stylesheets that must be swapped.
//!
//! URLs are keyed like the module graph's: percent-decoded URL paths from the server root,
//! without query or hash. Unlike module specifiers, CSS URLs without `./` (`url(bg.png)`,
//! `@import "b.css"`) are relative too.

mod graph;
mod scan;

pub use graph::{Pull, StyleGraph};
use scan::ReferenceKind;
pub use scan::{Reference, scan};

use bytes::Bytes;
use std::ops::Range;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Whether the file at `path` is served as a stylesheet (`.css`), and so scanned.
pub(crate) fn is_stylesheet(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("css"))
}

/// The stylesheet graph of everything served so far, shared by the request path (which
/// records into it in the transform stage) and the planner (which asks it what a change
/// pulls in).
#[derive(Debug, Default)]
pub(crate) struct Stylesheets {
    graph: Mutex<StyleGraph>,
}

impl Stylesheets {
    /// The transform stage for a stylesheet loaded from `source` and served at `url` (the
    /// percent-decoded request path): recorded in the graph, and the bytes to send when
    /// references to hot-updated files were rewritten; `None` when it goes as it is (so the
    /// file's own validators and ranges apply). A stylesheet that is not UTF-8 (a legacy
    /// `@charset`) is neither scanned nor rewritten.
    pub fn transform(
        &self,
        url: &str,
        source: &Bytes,
        packages: &PackageImport<'_>,
    ) -> Option<Bytes> {
        let text = std::str::from_utf8(source).ok()?;
        let served = serve_stylesheet(&mut self.graph(), url, text, Placement::Linked, packages);
        (served.code != text).then(|| Bytes::from(served.code))
    }

    /// The same for a stylesheet imported from JavaScript (`import './a.css'`), before it
    /// is wrapped into a module: its text ends up in a `<style>` element, where relative
    /// references would resolve against the page, so every one is written from the root.
    pub fn transform_inlined(
        &self,
        url: &str,
        source: &Bytes,
        packages: &PackageImport<'_>,
    ) -> Bytes {
        let text = String::from_utf8_lossy(source);
        let served = serve_stylesheet(&mut self.graph(), url, &text, Placement::Inlined, packages);
        Bytes::from(served.code)
    }

    /// The graph, locked. Hold it briefly: stylesheet requests wait on it.
    pub fn graph(&self) -> MutexGuard<'_, StyleGraph> {
        crate::sync::lock(&self.graph)
    }
}

/// The URL an `@import` goes to when its value names an installed package's stylesheet
/// (`@import 'normalize.css'`), `None` otherwise: the packages step, handed in by the HTTP
/// layer (this module does no I/O). [`NO_PACKAGES`] where there are none.
pub type PackageImport<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// For stylesheets served without package resolution.
#[cfg(any(test, fuzzing))]
pub const NO_PACKAGES: &PackageImport<'static> = &|_| None;

/// A stylesheet ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedSheet {
    /// The rewritten source.
    pub code: String,
}

/// Where a served stylesheet's text ends up, which decides how its references are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Its own URL (a `<link>`, an `@import`): references resolve against that URL, so
    /// they stay as written.
    Linked,
    /// A `<style>` element that a module adds: references would resolve against the page,
    /// so each one that resolves is written as a path from the root.
    Inlined,
}

/// Scans the stylesheet served at `url`, records it in `graph`, and rewrites references to
/// hot-updated files with `?t=<their last update>`, and `@import`s of package stylesheets
/// to the URL `packages` gives; the one call the HTTP layer makes for each `.css`
/// response. `url` is the percent-decoded request path; a query is ignored.
pub fn serve_stylesheet(
    graph: &mut StyleGraph,
    url: &str,
    source: &str,
    placement: Placement,
    packages: &PackageImport<'_>,
) -> ServedSheet {
    let url = strip_query(url);
    let written = scan(source);
    // The references as they will be sent: a package `@import` points at the package.
    let references: Vec<Reference> = written
        .iter()
        .map(|reference| {
            // Only `@import`s are asked about: a `url()` is never a package's stylesheet,
            // and asking would cost a lookup (and a warning) per image.
            let package = match reference.kind {
                ReferenceKind::Import { .. } => packages(&reference.value),
                ReferenceKind::Url => None,
            };
            match package {
                Some(package) => Reference {
                    value: package,
                    ..reference.clone()
                },
                None => reference.clone(),
            }
        })
        .collect();
    graph.record(url, &references);
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    for (reference, original) in references.iter().zip(&written) {
        let Some(target) = resolve(url, &reference.value) else {
            continue;
        };
        let written = match placement {
            Placement::Linked => reference.value.clone(),
            Placement::Inlined => from_root(&target, &reference.value),
        };
        let fresh = match graph.last_update(&target) {
            Some(t) => with_timestamp(&written, t),
            None => written,
        };
        if fresh != original.value {
            edits.push((reference.range.clone(), reference.respell(&fresh)));
        }
    }
    let mut code = String::with_capacity(source.len() + edits.len() * 20);
    let mut at = 0;
    for (range, text) in edits {
        code.push_str(&source[at..range.start]);
        code.push_str(&text);
        at = range.end;
    }
    code.push_str(&source[at..]);
    ServedSheet { code }
}

/// The URL path a reference written in the stylesheet at `sheet` points at, or `None` when
/// it leaves the server (`https:`, `//host`, `data:`) or names a fragment of the document
/// (`url(#clip)`), which are not edges.
pub fn resolve(sheet: &str, value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() || value.starts_with('#') || value.starts_with("//") || has_scheme(value) {
        return None;
    }
    if value.starts_with('/') || value.starts_with("./") || value.starts_with("../") {
        crate::modules::resolve(sheet, value)
    } else {
        crate::modules::resolve(sheet, &format!("./{value}"))
    }
}

/// The reference `value` written from the root: `target` (its decoded path) encoded again,
/// with the query and fragment `value` had (`font.woff2?v=2`, `icons.svg#close`).
fn from_root(target: &str, value: &str) -> String {
    let value = value.trim();
    let suffix = value.find(['?', '#']).map_or("", |i| &value[i..]);
    format!("{}{suffix}", crate::modules::encode_path(target))
}

/// `scheme:` as URLs spell it (RFC 3986 §3.1): a letter, then letters, digits, `+-.`.
fn has_scheme(value: &str) -> bool {
    let Some((scheme, _)) = value.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `url` with `t=<timestamp>` first in its query (replacing an earlier `t=`), keeping the
/// rest of the query and any `#fragment` (an SVG sprite's `#id`): the spelling the client's
/// `injectQuery` uses.
pub fn with_timestamp(url: &str, timestamp: u64) -> String {
    let (rest, hash) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, query),
        None => (rest, ""),
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && *pair != "t" && !pair.starts_with("t="))
        .collect();
    let mut out = format!("{path}?t={timestamp}");
    for pair in kept {
        out.push('&');
        out.push_str(pair);
    }
    out.push_str(hash);
    out
}

/// `url` without its `?query` or `#hash`.
fn strip_query(url: &str) -> &str {
    url.find(['?', '#']).map_or(url, |i| &url[..i])
}

#[cfg(test)]
mod tests;
