//! The ES module graph: who imports whom, who accepts hot updates, and where an update stops.
//!
//! The transform stage ([`Modules::transform`](super::Modules::transform)) records every
//! JavaScript module it serves here through [`serve_module`](super::serve_module). When a
//! file changes,
//! [`ModuleGraph::propagate`] walks importers upward the way Vite's `propagateUpdate` does
//! (`packages/vite/src/node/server/hmr.ts`) and answers with the `js-update`s to send or a
//! full reload; [`ModuleGraph::invalidate`] does the same for `hot.invalidate()`.
//!
//! Modules are keyed by percent-decoded URL path from the server root (`/src/app.js`), with
//! no query or hash: the same string the client receives as `path`/`acceptedPath` and passes
//! to `createHotContext`. HTML pages are not modules; a module loaded by a
//! `<script type="module">` has no JS importers, so a change to it that it does not accept
//! itself is a dead end and reloads the page.

use super::ScanResult;
use crate::protocol::{Update, next_timestamp};
use percent_encoding::percent_decode_str;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// One module as the browser knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleNode {
    imports: BTreeSet<String>,
    importers: BTreeSet<String>,
    self_accepting: bool,
    accepted_deps: BTreeSet<String>,
    last_hmr_timestamp: Option<u64>,
    served: bool,
    invalidation_received: bool,
}

impl ModuleNode {
    /// Modules this one imports (static, re-exported and literal dynamic imports).
    pub fn imports(&self) -> impl Iterator<Item = &str> {
        self.imports.iter().map(String::as_str)
    }

    /// Modules that import this one; empty for entries loaded by an HTML page.
    pub fn importers(&self) -> impl Iterator<Item = &str> {
        self.importers.iter().map(String::as_str)
    }

    /// Whether the module accepts its own updates, which makes it an HMR boundary.
    pub fn is_self_accepting(&self) -> bool {
        self.self_accepting
    }

    /// Imported modules whose updates this one handles through `hot.accept(dep, cb)`.
    pub fn accepted_deps(&self) -> impl Iterator<Item = &str> {
        self.accepted_deps.iter().map(String::as_str)
    }

    /// The timestamp of the last hot update that replaced this module in the browser;
    /// importers served afterwards ask for `?t=<it>` so they get the fresh instance.
    pub fn last_hmr_timestamp(&self) -> Option<u64> {
        self.last_hmr_timestamp
    }

    /// Whether the module itself was served (and scanned), rather than only named by an
    /// importer: a lazily imported module nobody has loaded yet, or a JSON module.
    pub fn is_served(&self) -> bool {
        self.served
    }
}

/// What to do about a changed or invalidated module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Propagation {
    /// Send these updates in one `update` payload. Empty when there is nothing to send
    /// (a repeated `hot.invalidate()` for the same update).
    Updates(Vec<Update>),
    /// No module accepts the change: reload the page.
    FullReload {
        /// The module whose change caused it, for the payload's `triggeredBy`.
        triggered_by: String,
        /// The importers walked from the changed module to the first one that nothing
        /// imports and that accepts nothing (where the update got stuck), both ends
        /// included; empty when the reload has another cause (an invalidation loop). Said
        /// to the person who asks why the page reloaded.
        chain: Vec<String>,
    },
    /// The browser has not loaded this URL as a module; the caller decides (a stylesheet,
    /// an HTML page, an asset, or a module no page has imported yet).
    NotInGraph,
}

/// Imports and HMR acceptance of every module served so far.
#[derive(Clone, Debug, Default)]
pub struct ModuleGraph {
    modules: BTreeMap<String, ModuleNode>,
}

/// Where an update stops: `boundary` runs its accept callback for `accepted_via`.
struct Boundary {
    boundary: String,
    accepted_via: String,
    within_circular_import: bool,
}

#[derive(Default)]
struct Walk {
    traversed: BTreeSet<String>,
    boundaries: Vec<Boundary>,
    /// The chain to the first dead end found.
    dead_end: Option<Vec<String>>,
}

impl ModuleGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// The module at `url` (query and hash ignored), if the graph knows it.
    pub fn module(&self, url: &str) -> Option<&ModuleNode> {
        self.modules.get(strip_query(url))
    }

    /// Records the imports and accepts of the module just served at `url`, replacing what
    /// an earlier version of it declared.
    ///
    /// Returns the modules that no longer have any importer because this version dropped
    /// them: the caller sends them in a `prune` payload so their `hot.prune` handlers run.
    /// They stay in the graph with a fresh timestamp, so a later import loads a new instance
    /// rather than the disposed one (Vite's `handlePrunedModules`).
    pub fn update_module(&mut self, url: &str, scan: &ScanResult) -> Vec<String> {
        let url = strip_query(url);
        let specifiers = scan.imports.iter().filter_map(|i| i.specifier.as_ref());
        let imports: BTreeSet<String> = specifiers.filter_map(|s| resolve(url, &s.value)).collect();
        let accepted = scan.hot.accepted_deps.iter();
        let accepted_deps = accepted.filter_map(|s| resolve(url, &s.value)).collect();

        let node = self.modules.entry(url.to_owned()).or_default();
        node.served = true;
        node.self_accepting = scan.hot.self_accepting;
        node.accepted_deps = accepted_deps;
        let old = std::mem::replace(&mut node.imports, imports.clone());

        for added in imports.difference(&old) {
            let target = self.modules.entry(added.clone()).or_default();
            target.importers.insert(url.to_owned());
        }
        let mut pruned = Vec::new();
        for removed in old.difference(&imports) {
            let Some(target) = self.modules.get_mut(removed) else {
                continue;
            };
            target.importers.remove(url);
            if !target.importers.is_empty() {
                continue;
            }
            if target.served {
                target.last_hmr_timestamp = Some(next_timestamp());
                target.invalidation_received = false;
                pruned.push(removed.clone());
            } else {
                // Only ever named, never loaded: nothing to tell the browser.
                self.modules.remove(removed);
            }
        }
        pruned
    }

    /// Works out the hot updates for a change to the module at `changed`.
    ///
    /// Walks importers upward from the module: a self-accepting module is a boundary, an
    /// importer that accepts the module it was reached from is a boundary, and a module with
    /// no importers that accepts nothing is a dead end that forces a full reload. Cycles stop
    /// at modules already on the chain; a change that only reaches cycles without a boundary
    /// also reloads, since the cycle's entry is held by a page. On success every module
    /// walked through (the changed one, the modules between it and the boundaries, and
    /// self-accepting boundaries) gets `timestamp` as its last-HMR time.
    pub fn propagate(&mut self, changed: &str, timestamp: u64) -> Propagation {
        let changed = strip_query(changed);
        if !self.is_loaded(changed) {
            return Propagation::NotInGraph;
        }
        let mut walk = Walk::default();
        let dead_end = self.walk(changed, &mut walk, &mut vec![changed.to_owned()]);
        self.finish(walk, dead_end, changed, None, timestamp)
    }

    /// Handles `hot.invalidate()` from the module at `path`: its accept callback saw an
    /// update it cannot apply, so the update moves on to its importers as if they changed.
    ///
    /// `first_invalidated_by` is the module that started this chain of invalidations (the
    /// client sends it; `None` means `path`). An update that would reach that module again
    /// turns into a full reload, which breaks invalidation loops. As in Vite, only the first
    /// invalidation after each hot update of a module counts, so several open tabs asking at
    /// once cause one propagation; the others get an empty [`Propagation::Updates`]. A module
    /// that has never been hot-updated has nothing to invalidate. Unlike Vite, a module with
    /// no JS importers (a page's entry) gets a full reload rather than nothing, because the
    /// page is then the only thing that can take the change.
    pub fn invalidate(
        &mut self,
        path: &str,
        first_invalidated_by: Option<&str>,
        timestamp: u64,
    ) -> Propagation {
        let path = strip_query(path);
        if !self.is_loaded(path) {
            return Propagation::NotInGraph;
        }
        let Some(node) = self.modules.get_mut(path) else {
            return Propagation::NotInGraph;
        };
        if node.last_hmr_timestamp.is_none() || node.invalidation_received {
            return Propagation::Updates(Vec::new());
        }
        node.invalidation_received = true;
        let importers: Vec<String> = node
            .importers
            .iter()
            .filter(|i| *i != path)
            .cloned()
            .collect();
        let first = first_invalidated_by.map_or(path, strip_query);
        let mut walk = Walk::default();
        let mut dead_end = importers.is_empty();
        for importer in &importers {
            if self.walk(importer, &mut walk, &mut vec![importer.clone()]) {
                dead_end = true;
                break;
            }
        }
        let looped = walk.boundaries.iter().any(|b| b.accepted_via == first);
        self.finish(walk, dead_end || looped, path, Some(first), timestamp)
    }

    fn finish(
        &mut self,
        walk: Walk,
        reload: bool,
        trigger: &str,
        first_invalidated_by: Option<&str>,
        timestamp: u64,
    ) -> Propagation {
        if reload || walk.boundaries.is_empty() {
            return Propagation::FullReload {
                triggered_by: trigger.to_owned(),
                chain: walk.dead_end.unwrap_or_default(),
            };
        }
        for url in &walk.traversed {
            if let Some(node) = self.modules.get_mut(url) {
                node.last_hmr_timestamp = Some(timestamp);
                node.invalidation_received = false;
            }
        }
        let mut seen = HashSet::new();
        let updates = walk
            .boundaries
            .into_iter()
            .filter(|b| seen.insert((b.boundary.clone(), b.accepted_via.clone())))
            .map(|b| Update {
                // A stylesheet, JSON or asset module is re-imported as `?import&t=`, or the
                // server would send the file itself.
                explicit_import_required: super::wrap::explicit_import_required(&b.accepted_via),
                is_within_circular_import: b.within_circular_import,
                first_invalidated_by: first_invalidated_by.map(str::to_owned),
                ..Update::js(b.boundary, b.accepted_via, timestamp)
            })
            .collect();
        Propagation::Updates(updates)
    }

    /// Whether the browser can hold an instance of `url`: served, or imported by a module
    /// that was (a JSON module, say).
    fn is_loaded(&self, url: &str) -> bool {
        self.modules
            .get(url)
            .is_some_and(|n| n.served || !n.importers.is_empty())
    }

    /// Vite's `propagateUpdate`: collects boundaries above `url` into `walk`; returns true on
    /// a dead end. `chain` is the path from the changed module to `url`, inclusive.
    fn walk(&self, url: &str, walk: &mut Walk, chain: &mut Vec<String>) -> bool {
        if !walk.traversed.insert(url.to_owned()) {
            return false;
        }
        let Some(node) = self.modules.get(url) else {
            return false;
        };
        if node.self_accepting {
            walk.boundaries.push(Boundary {
                boundary: url.to_owned(),
                accepted_via: url.to_owned(),
                within_circular_import: self.within_circular_import(url, chain),
            });
            return false;
        }
        if node.importers.is_empty() {
            walk.dead_end.get_or_insert_with(|| chain.clone());
            return true;
        }
        for importer in &node.importers {
            let accepts = self
                .modules
                .get(importer)
                .is_some_and(|i| i.accepted_deps.contains(url));
            if chain.contains(importer) && !accepts {
                continue;
            }
            chain.push(importer.clone());
            let dead_end = if accepts {
                walk.boundaries.push(Boundary {
                    boundary: importer.clone(),
                    accepted_via: url.to_owned(),
                    within_circular_import: self.within_circular_import(importer, chain),
                });
                false
            } else {
                self.walk(importer, walk, chain)
            };
            chain.pop();
            if dead_end {
                return true;
            }
        }
        false
    }

    /// Vite's `isNodeWithinCircularImports`: whether some importer of `url`, directly or
    /// further up, is already on `chain`, so that re-importing the boundary re-enters a
    /// cycle and the client must evaluate it in a defined order.
    fn within_circular_import(&self, url: &str, chain: &[String]) -> bool {
        let mut seen = HashSet::new();
        let mut stack = vec![url];
        while let Some(current) = stack.pop() {
            if !seen.insert(current) {
                continue;
            }
            let Some(node) = self.modules.get(current) else {
                continue;
            };
            for importer in node.importers.iter().filter(|i| *i != current) {
                if chain.contains(importer) {
                    return true;
                }
                stack.push(importer);
            }
        }
        false
    }
}

/// The URL path `specifier` names when imported from the module at `importer`, or `None`
/// for bare specifiers (`vue`) and full URLs (`https://…`, `data:`), which are not edges.
///
/// Relative (`./`, `../`) and root-absolute (`/x.js`) specifiers resolve like URLs: query and
/// hash dropped, `.` and `..` collapsed without ever climbing above `/`, percent-escapes
/// decoded. No extension is guessed: the browser requests exactly what is written.
pub fn resolve(importer: &str, specifier: &str) -> Option<String> {
    let spec = strip_query(specifier);
    let joined = if spec.starts_with("//") {
        return None;
    } else if spec.starts_with('/') {
        spec.to_owned()
    } else if spec.starts_with("./") || spec.starts_with("../") || spec == "." || spec == ".." {
        let importer = strip_query(importer);
        let dir = &importer[..=importer.rfind('/')?];
        format!("{dir}{spec}")
    } else {
        return None;
    };
    let decoded = percent_decode_str(&joined).decode_utf8_lossy();
    Some(normalize(&decoded))
}

/// Collapses `.` and `..` segments of an absolute path; `..` at the root stays at the root.
fn normalize(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
        // A trailing `.` or `..` names a directory: keep the trailing slash.
        if i + 1 == segments.len() && matches!(*segment, "." | "..") {
            out.push("");
        }
    }
    format!("/{}", out.join("/"))
}

/// `url` without its `?query` or `#hash`.
pub(crate) fn strip_query(url: &str) -> &str {
    url.find(['?', '#']).map_or(url, |i| &url[..i])
}
