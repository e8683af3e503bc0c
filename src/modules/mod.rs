//! What a browser gets for a module: the transform stage of the request path, and the module
//! graph it builds as a side product.
//!
//! - [`lexer`]: a byte-level scan of a module's imports and `import.meta.hot` use.
//! - [`graph`]: who imports whom, who accepts hot updates, and where an update stops.
//! - [`rewrite`]: the edits a served module gets (hot context, accepted deps, `?t=`,
//!   `?import` on imports of non-JS files, `import.meta.env`).
//! - [`wrap`]: stylesheets, JSON and assets imported from JavaScript, as modules.
//! - [`env`]: what `import.meta.env` holds (the mode and `VITE_` variables).
//! - [`transform`]: TypeScript/JSX through oxc, and embedders' transforms, before rewriting.
//!
//! The request path (`http`) hands every loaded file that [`Modules::kind_of`] names a
//! module to [`Modules::transform`], compiling [`Kind::Compiled`] ones with
//! [`Modules::compile`] first; the planner (`plan`) reads the graph through [`Modules::graph`].
//! Nothing here does I/O or knows about HTTP, the hub or the watcher.

pub(crate) mod env;
pub(crate) mod graph;
pub(crate) mod lexer;
pub(crate) mod rewrite;
pub(crate) mod transform;
pub(crate) mod wrap;

pub use graph::{ModuleGraph, ModuleNode, Propagation, resolve};
pub use lexer::{HotUsage, Import, ImportKind, ScanResult, Specifier, scan};
pub use rewrite::{CLIENT_URL, Rewritten, serve_module, transform_module};

use crate::protocol::{ErrorInfo, ErrorLocation};
use bytes::Bytes;
use env::Env;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use transform::{Output, Pipeline, Transforms};
use wrap::Wrap;

/// What kind of module a loaded file is served as. The load stage asks [`kind_of`] so it
/// reads such files whole; the transform stage matches on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `.js` / `.mjs`: scanned into the graph and rewritten for HMR.
    JavaScript,
    /// A file of another kind imported from JavaScript (`./style.css?import`, `?raw`, ...):
    /// the request, not the extension, decides ([`wrap::decide`]).
    Wrapped(Wrap),
    /// Compiled to JavaScript (or CSS) first ([`Modules::compile`]): TypeScript and JSX
    /// (`.ts .mts .tsx .jsx`, with the `transform` feature) and the file types of the
    /// embedder's transforms. `imported`: a module import asked for it (`?import`, or
    /// `Sec-Fetch-Dest: script`), so compiled CSS becomes a style module rather than a
    /// stylesheet for a `<link>`.
    Compiled { imported: bool },
}

impl Kind {
    /// Whether the transform reads the file's content (an asset's URL module does not, so
    /// a large video imported for its URL is never read into memory).
    pub fn needs_source(self) -> bool {
        self != Kind::Wrapped(Wrap::Url)
    }

    /// Whether the module puts the file's stylesheet into a `<style>` (`import './a.css'`),
    /// so its `@import`s and `url()`s belong to the stylesheet graph.
    pub fn is_stylesheet(self) -> bool {
        matches!(self, Kind::Wrapped(Wrap::Style | Wrap::CssModule))
    }
}

/// The module kind of the file at `path`, from its extension alone (without the embedder's
/// transforms: see [`Modules::kind_of`]); `None` for files that are not modules
/// (stylesheets are rewritten by `css`, pages get the client tag in `http`, images go as
/// they are).
pub(crate) fn kind_of(path: &Path) -> Option<Kind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "js" | "mjs" => Some(Kind::JavaScript),
        #[cfg(feature = "transform")]
        "ts" | "mts" | "tsx" | "jsx" => Some(Kind::Compiled { imported: true }),
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
    /// The file could not be made into a module (invalid JSON, a broken CSS module): the
    /// request fails and the error goes to the browsers' overlay; `code` is empty.
    pub failure: Option<ErrorInfo>,
}

impl Transformed {
    fn module(rewritten: Rewritten) -> Self {
        Transformed {
            code: Bytes::from(rewritten.code),
            pruned: rewritten.pruned,
            failure: None,
        }
    }

    fn failed(failure: ErrorInfo) -> Self {
        Transformed {
            code: Bytes::new(),
            pruned: Vec::new(),
            failure: Some(failure),
        }
    }
}

/// The module graph of everything served so far, shared by the request path (which records
/// into it while transforming) and the planner (which walks it when files change).
#[derive(Debug)]
pub(crate) struct Modules {
    graph: Mutex<ModuleGraph>,
    /// `import.meta.env`; replaced when a `.env` file changes.
    env: Mutex<Arc<Env>>,
    /// The compilers: the embedder's transforms, then TypeScript/JSX.
    compilers: Pipeline,
}

impl Default for Modules {
    fn default() -> Self {
        Modules::new(Path::new("/"), Transforms::default())
    }
}

impl Modules {
    /// Modules of the site at `root` (canonical), with the embedder's `transforms`.
    pub fn new(root: &Path, transforms: Transforms) -> Self {
        Modules {
            graph: Mutex::default(),
            env: Mutex::default(),
            compilers: Pipeline::new(root, transforms),
        }
    }

    /// The module kind of the file at `path`: [`kind_of`], or [`Kind::Compiled`] when an
    /// embedder's transform takes its extension.
    pub fn kind_of(&self, path: &Path) -> Option<Kind> {
        if self.compilers.handles(path) {
            return Some(Kind::Compiled { imported: true });
        }
        kind_of(path)
    }

    /// Whether a transform compiles files with the extension of `url_path` (a URL path or a
    /// file path): such files are modules, never wrapped as assets.
    pub fn compiles(&self, url_path: &str) -> bool {
        self.compilers.handles(Path::new(url_path))
    }

    /// The Fast Refresh runtime pages load and component modules connect to, when the
    /// project has one installed (`react-refresh`) and this build compiles JSX.
    #[cfg(feature = "transform")]
    pub fn refresh_runtime(&self) -> Option<transform::refresh::Runtime> {
        self.compilers.refresh_runtime()
    }

    /// The tag that loads the Fast Refresh runtime in pages, right after the client's.
    pub fn refresh_preamble(&self) -> Option<&'static str> {
        #[cfg(feature = "transform")]
        return self.refresh_runtime().map(|runtime| runtime.page_tag());
        #[cfg(not(feature = "transform"))]
        None
    }

    /// A file changed: when it is a tsconfig or package.json, the compile options read
    /// before are forgotten (the planner reloads the pages: [`transform::changes_compile_options`]).
    pub fn file_changed(&self, path: &Path) {
        self.compilers.file_changed(path);
    }

    /// The compile step, before [`transform`](Self::transform): the JavaScript or CSS the
    /// file at `path` (served at `url`, decoded) compiles to, with its source map inline.
    /// `Ok(None)`: every transform declined, the file goes out as it is. An error is a file
    /// that does not compile, ready for the overlay: the browser keeps the last good version.
    /// CPU work (milliseconds): call it on a blocking thread.
    pub fn compile(
        &self,
        path: &Path,
        url: &str,
        source: &[u8],
    ) -> Result<Option<Arc<Output>>, Box<ErrorInfo>> {
        let failed = |err: transform::TransformError| Box::new(compile_error(url, &err));
        let text = std::str::from_utf8(source).map_err(|err| {
            failed(
                transform::TransformError::new(format!("the file is not UTF-8 text ({err})"))
                    .located(path, "hotserve", ""),
            )
        })?;
        self.compilers.run(path, text).map_err(failed)
    }

    /// The transform stage: what the browser gets for the module loaded from `source`,
    /// served at `url` (the percent-decoded request path; a query is ignored).
    ///
    /// This is the one seam for turning a loaded file into what a browser runs: compilers
    /// live in [`transform`] and run in [`compile`](Self::compile), whose JavaScript comes
    /// here (after the package step resolved its bare imports) so the graph and the HMR
    /// rewrites see the code the browser runs; wrappers of non-JS files are a [`Kind`] of
    /// their own. More specifier rewriting belongs in [`rewrite`], next to `?t=`. Failures
    /// become an error overlay payload, never a silently wrong module.
    pub fn transform(&self, kind: Kind, url: &str, source: &Bytes) -> Transformed {
        let env = self.env();
        match kind {
            Kind::JavaScript => match std::str::from_utf8(source) {
                Ok(text) => {
                    let env = env::is_used(text).then(|| env.preamble());
                    let mut graph = self.graph();
                    Transformed::module(rewrite::serve(&mut graph, url, text, env.as_deref()))
                }
                // Not UTF-8: the browser will reject it too; send it unchanged.
                Err(_) => Transformed {
                    code: source.clone(),
                    pruned: Vec::new(),
                    failure: None,
                },
            },
            // The request path compiles first ([`Modules::compile`]) and hands on the
            // output as JavaScript or a style module; plain JavaScript if it did not.
            Kind::Compiled { .. } => self.transform(Kind::JavaScript, url, source),
            Kind::Wrapped(wrap) => match wrapped(wrap, url, source) {
                // The wrapper goes through the same rewrite as any module, so the graph
                // sees its imports and a style module's `import.meta.hot` gets its context.
                Ok(code) => {
                    Transformed::module(rewrite::serve(&mut self.graph(), url, &code, None))
                }
                Err(failure) => Transformed::failed(*failure),
            },
        }
    }

    /// What `import.meta.env` holds now.
    pub fn env(&self) -> Arc<Env> {
        crate::sync::lock(&self.env).clone()
    }

    /// Replace `import.meta.env` (at startup, and when a `.env` file changed).
    pub fn set_env(&self, env: Env) {
        *crate::sync::lock(&self.env) = Arc::new(env);
    }

    /// The graph, locked. Hold it briefly: requests for modules wait on it.
    pub fn graph(&self) -> MutexGuard<'_, ModuleGraph> {
        crate::sync::lock(&self.graph)
    }
}

/// The overlay's error for a module at `url` (decoded) that did not compile. The message
/// names the file and position, so the terminal line alone says where to look.
fn compile_error(url: &str, err: &transform::TransformError) -> ErrorInfo {
    let file = err.file().map(|f| f.display().to_string());
    let place = match (err.line(), err.column()) {
        (Some(line), Some(column)) => format!("{url}:{line}:{column}"),
        _ => url.to_owned(),
    };
    ErrorInfo {
        message: format!("{place}: {}", err.message()),
        stack: String::new(),
        id: Some(file.clone().unwrap_or_else(|| url.to_owned())),
        frame: err.frame().map(str::to_owned),
        plugin: err.plugin().map(str::to_owned),
        loc: err
            .line()
            .zip(err.column())
            .map(|(line, column)| ErrorLocation { file, line, column }),
    }
}

/// The JavaScript for a non-JS file imported at `url` (decoded path) as `wrap`.
fn wrapped(wrap: Wrap, url: &str, source: &[u8]) -> Result<String, Box<ErrorInfo>> {
    let text = || String::from_utf8_lossy(source);
    let path = graph::strip_query(url);
    Ok(match wrap {
        Wrap::Style => wrap::style_module(path, &text(), ""),
        Wrap::CssModule => {
            let scoped = wrap::scope_css_module(path, &text()).map_err(|bad| {
                Box::new(ErrorInfo {
                    message: format!("{path}: {}", bad.message),
                    id: Some(path.to_owned()),
                    plugin: Some("hotserve:css-modules".into()),
                    loc: bad.loc.map(|(line, column)| ErrorLocation {
                        file: Some(path.to_owned()),
                        line,
                        column,
                    }),
                    ..ErrorInfo::default()
                })
            })?;
            wrap::style_module(path, &scoped.css, &scoped.exports)
        }
        Wrap::InlineStyle | Wrap::Raw => wrap::string_module(&text()),
        Wrap::Json => wrap::json_module(&text()).map_err(|bad| {
            Box::new(ErrorInfo {
                message: format!("{path}: invalid JSON: {}", bad.message),
                id: Some(path.to_owned()),
                plugin: Some("hotserve:json".into()),
                loc: Some(ErrorLocation {
                    file: Some(path.to_owned()),
                    line: bad.line,
                    column: bad.column,
                }),
                ..ErrorInfo::default()
            })
        })?,
        Wrap::Url => wrap::url_module(&encode_path(path)),
        Wrap::DataUrl => {
            let mime = mime_guess::from_path(path).first_or_octet_stream();
            wrap::data_url_module(mime.essence_str(), source)
        }
    })
}

/// A decoded URL path made safe to use as a URL again (`my logo.svg` -> `my%20logo.svg`).
pub(crate) fn encode_path(path: &str) -> String {
    use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
    const PATH: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}');
    utf8_percent_encode(path, PATH).to_string()
}

#[cfg(test)]
mod tests;
