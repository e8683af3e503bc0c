//! What a browser gets for a module: the transform stage of the request path, and the module
//! graph it builds as a side product.
//!
//! - [`lexer`]: a byte-level scan of a module's imports and `import.meta.hot` use.
//! - [`graph`]: who imports whom, who accepts hot updates, and where an update stops.
//! - [`rewrite`]: the edits a served module gets (hot context, accepted deps, `?t=`).
//!
//! The request path (`http`) hands every loaded file that [`kind_of`] names a module to
//! [`Modules::transform`]; the planner (`plan`) reads the graph through [`Modules::graph`].
//! Nothing here does I/O or knows about HTTP, the hub or the watcher.

pub(crate) mod env;
pub(crate) mod graph;
pub(crate) mod lexer;
pub(crate) mod rewrite;
pub(crate) mod wrap;

pub use graph::{ModuleGraph, ModuleNode, Propagation, resolve};
pub use lexer::{HotUsage, Import, ImportKind, ScanResult, Specifier, scan};
pub use rewrite::{CLIENT_URL, Rewritten, serve_module, transform_module};

use bytes::Bytes;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// What kind of module a loaded file is served as. The load stage asks [`kind_of`] so it
/// reads such files whole; the transform stage matches on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `.js` / `.mjs`: scanned into the graph and rewritten for HMR.
    JavaScript,
}

/// The module kind of the file at `path`, from its extension; `None` for files sent as
/// they are (stylesheets, images, pages: pages get the client tag in `http`, not here).
pub(crate) fn kind_of(path: &Path) -> Option<Kind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "js" | "mjs" => Some(Kind::JavaScript),
        _ => None,
    }
}

/// A module after the transform stage.
#[derive(Debug)]
pub(crate) struct Transformed {
    /// The bytes to send.
    pub code: Bytes,
    /// Modules this version stopped importing, that no other module imports: the
    /// composition root sends them in a `prune` payload.
    pub pruned: Vec<String>,
}

/// The module graph of everything served so far, shared by the request path (which records
/// into it while transforming) and the planner (which walks it when files change).
#[derive(Debug, Default)]
pub(crate) struct Modules {
    graph: Mutex<ModuleGraph>,
}

impl Modules {
    /// The transform stage: what the browser gets for the module loaded from `source`,
    /// served at `url` (the percent-decoded request path; a query is ignored).
    ///
    /// This is the one seam for turning a loaded file into what a browser runs. To add a
    /// transform (TypeScript/JSX via oxc, a CSS/JSON/asset wrapper, rewriting bare specifiers
    /// to package URLs), add a [`Kind`] and its extension in [`kind_of`], then a branch here
    /// that produces JavaScript and hands it to [`serve_module`] so the graph and the HMR
    /// rewrites see the code the browser runs. More specifier rewriting belongs in
    /// [`rewrite`], next to `?t=`. Failures should become an error overlay payload, never a
    /// silently wrong module.
    pub fn transform(&self, kind: Kind, url: &str, source: &Bytes) -> Transformed {
        match kind {
            Kind::JavaScript => match std::str::from_utf8(source) {
                Ok(text) => {
                    let rewritten = serve_module(&mut self.graph(), url, text);
                    Transformed {
                        code: Bytes::from(rewritten.code),
                        pruned: rewritten.pruned,
                    }
                }
                // Not UTF-8: the browser will reject it too; send it unchanged.
                Err(_) => Transformed {
                    code: source.clone(),
                    pruned: Vec::new(),
                },
            },
        }
    }

    /// The graph, locked. Hold it briefly: requests for modules wait on it.
    pub fn graph(&self) -> MutexGuard<'_, ModuleGraph> {
        crate::sync::lock(&self.graph)
    }
}

#[cfg(test)]
mod tests;
