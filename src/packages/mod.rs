//! npm packages for the browser: bare specifiers (`lit`, `preact/hooks`, `#internal`)
//! resolved the way Node resolves them and rewritten to URLs this server answers, package
//! files cached by version, and the `/@fs/` route for linked packages outside the root.
//!
//! The request path calls [`Packages::prepare`] for each JavaScript module before the module
//! graph sees it (the graph then records the resolved URLs as edges), [`Packages::fs_target`]
//! for `/@fs/` requests, and [`Packages::cache_for_good`] when it sets `Cache-Control`. The
//! service polls [`Packages::refresh`] and reloads the pages when the installed packages
//! change.
//!
//! Resolution itself is `oxc_resolver`, behind the `node` feature; without it specifiers are
//! sent as written (pages that use an import map keep working) and the `/@fs/` route allows
//! nothing.

// Without `node` nothing resolves, so the version and allow-list are kept but never fed.
#![cfg_attr(not(feature = "node"), allow(dead_code))]

mod allow;
#[cfg(feature = "bundle")]
mod crawl;
#[cfg(feature = "node")]
mod page;
#[cfg(feature = "bundle")]
pub(crate) mod prebundle;
#[cfg(feature = "node")]
mod resolver;
mod rewrite;
mod url;
mod version;

pub(crate) use allow::FsTarget;
pub(crate) use url::FS_PREFIX;

use crate::protocol::{ErrorInfo, ErrorLocation};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use version::Stamp;

/// Package resolution and versioning for one served root.
pub(crate) struct Packages {
    root: PathBuf,
    allow: std::sync::Arc<allow::AllowList>,
    markers: Vec<PathBuf>,
    state: RwLock<State>,
    #[cfg(feature = "node")]
    resolver: resolver::NodeResolver,
    /// Installed packages imported by bare name, bundled by rolldown, served at `/@deps/`.
    #[cfg(feature = "bundle")]
    prebundle: std::sync::Arc<prebundle::Prebundle>,
    /// ES packages served file by file all the same ([`crate::Config::exclude_from_prebundle`]).
    #[cfg_attr(not(feature = "bundle"), allow(dead_code))]
    unbundled: Vec<String>,
}

impl std::fmt::Debug for Packages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packages")
            .field("root", &self.root)
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct State {
    stamp: Stamp,
    /// `None` while no lockfile or install marker exists: then nothing is cached for good.
    version: Option<String>,
}

/// What a module becomes before the module graph and the HMR rewrite see it.
#[derive(Debug)]
pub(crate) enum Prepared {
    /// Serve the source as it is.
    Unchanged,
    /// Serve this instead (specifiers resolved, `process.env.NODE_ENV` replaced).
    Code(String),
    /// The module cannot run: serve [`ModuleError::module`] and report it.
    Failed(Box<ModuleError>),
}

/// A module that cannot be served as it is, with a message a person can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ModuleError {
    /// One line, for the terminal and the overlay's headline.
    pub message: String,
    /// The module's URL path.
    pub url: String,
    /// Where in the module, when the problem is one import.
    pub loc: Option<(PathBuf, u32, u32, String)>,
}

impl ModuleError {
    /// The `err` object of the `error` payload.
    pub fn info(&self) -> ErrorInfo {
        ErrorInfo {
            message: self.message.clone(),
            stack: String::new(),
            id: Some(self.url.clone()),
            frame: self
                .loc
                .as_ref()
                .map(|(_, line, _, text)| format!("{line} | {text}")),
            plugin: Some("hotserve:resolve".into()),
            loc: self
                .loc
                .as_ref()
                .map(|(file, line, column, _)| ErrorLocation {
                    file: Some(file.display().to_string()),
                    line: *line,
                    column: *column,
                }),
        }
    }

    /// A module that shows the overlay and throws: served in place of the broken module, so
    /// the page shows the error even before its HMR socket is open.
    pub fn module(&self) -> String {
        let err = serde_json::to_string(&self.info()).unwrap_or_else(|_| "{}".into());
        format!(
            "import {{ ErrorOverlay }} from \"{client}\";\n\
             const err = {err};\n\
             if (typeof document !== \"undefined\" && !document.querySelector(\"vite-error-overlay\"))\n  \
             document.body.appendChild(new ErrorOverlay(err));\n\
             throw new Error(err.message);\n",
            client = crate::modules::CLIENT_URL,
        )
    }
}

impl Packages {
    /// Packages for the canonical `root`. Reads the lockfiles once (blocking).
    pub fn new(root: &Path, unbundled: Vec<String>) -> Self {
        let markers = version::marker_files(root);
        let state = State {
            stamp: Stamp::take(&markers),
            version: version::version_of(&markers),
        };
        let allow = std::sync::Arc::new(allow::AllowList::default());
        #[cfg(feature = "bundle")]
        let prebundle = std::sync::Arc::new(prebundle::Prebundle::new(
            root,
            state.version.clone(),
            allow.clone(),
        ));
        Packages {
            root: root.to_path_buf(),
            allow,
            markers,
            state: RwLock::new(state),
            #[cfg(feature = "node")]
            resolver: resolver::NodeResolver::new(),
            #[cfg(feature = "bundle")]
            prebundle,
            unbundled,
        }
    }

    /// The current dependency version, when a lockfile or install marker exists.
    pub fn version(&self) -> Option<String> {
        self.state
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .version
            .clone()
    }

    /// Check the lockfiles and install markers (one `stat` each). When they changed, the
    /// resolver forgets what it read, package URLs get a new version, and the marker that
    /// changed is returned so the caller reloads the pages. Blocking.
    pub fn refresh(&self) -> Option<PathBuf> {
        let stamp = Stamp::take(&self.markers);
        let old = {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            if state.stamp == stamp {
                return None;
            }
            state.stamp.clone()
        };
        let changed = self
            .markers
            .iter()
            .zip(stamp.diff(&old))
            .find_map(|(file, changed)| changed.then(|| file.clone()));
        #[cfg(feature = "node")]
        self.resolver.clear_cache();
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.version = version::version_of(&self.markers);
        state.stamp = stamp;
        #[cfg(feature = "bundle")]
        self.prebundle.refresh(state.version.clone());
        changed.or_else(|| self.markers.first().cloned())
    }

    /// Whether the file at `real`, requested with `query`, may be cached by the browser for
    /// good: an installed package file, asked for with the current version.
    pub fn cache_for_good(&self, real: &Path, query: Option<&str>) -> bool {
        cfg!(feature = "node")
            && url::is_installed_package(real)
            && self
                .version()
                .is_some_and(|v| url::version_param(query) == Some(v.as_str()))
    }

    /// Decide a `/@fs/` request; `encoded` is the path after `/@fs` as sent. Blocking.
    pub fn fs_target(&self, encoded: &str, deny: &crate::http::resolve::DenyList) -> FsTarget {
        self.allow.decide(encoded, deny)
    }

    /// A tsconfig changed: forget what resolution read, so its `paths` apply anew.
    pub fn config_changed(&self) {
        #[cfg(feature = "node")]
        self.resolver.clear_cache();
    }

    /// Resolve the imports of the module at `real` (served at `url`) and, in dependency
    /// code, replace `process.env.NODE_ENV`. Dependency code gets every import resolved (for
    /// the version in the URL, extension-less paths and the `browser` field). Application
    /// code gets its bare specifiers resolved, with the tsconfig's `paths` and `baseUrl`,
    /// and its relative ones when they do not name a file as written (TypeScript's bundler
    /// mode: `./counter` finds `counter.ts`, `./a.js` finds `a.ts`), to the file's URL.
    /// `written` is the module as written when `source` is what it compiled to: an import
    /// that does not resolve is located there, so the overlay and the terminal point at the
    /// line in the editor, not in the compiled code. Blocking: reads `package.json` files.
    #[cfg(feature = "node")]
    pub fn prepare(&self, real: &Path, url: &str, source: &str, written: Option<&str>) -> Prepared {
        let scanned = crate::modules::scan(source);
        let dependency = url::is_installed_package(real) || !real.starts_with(&self.root);
        if dependency && !scanned.module_syntax && resolver::looks_commonjs(source) {
            return Prepared::Failed(Box::new(ModuleError {
                message: resolver::commonjs_message(&self.root, real),
                url: url.to_owned(),
                loc: None,
            }));
        }
        let version = self.version();
        let Some(dir) = real.parent() else {
            return Prepared::Unchanged;
        };
        // Resolve every import first, so that the entries this module adds to the
        // pre-bundle are all known before any of their URLs (which carry the build's key)
        // is written.
        let mut targets = Vec::new();
        for spec in scanned.imports.iter().filter_map(|i| i.specifier.as_ref()) {
            let target = self.target(real, dir, &spec.value, dependency, version.as_deref());
            let failed = target.is_err();
            targets.push(target);
            if failed {
                break;
            }
        }
        let mut targets = targets.into_iter();
        let result = rewrite::rewrite(source, &scanned, dependency, |_| match targets.next() {
            Some(Ok(Some(Pending::Url(url)))) => Ok(Some(rewrite::Target::Url(url))),
            #[cfg(feature = "bundle")]
            Some(Ok(Some(Pending::Bundled(name, kind)))) => {
                let url = self.prebundle.url(&name);
                Ok(Some(match kind {
                    prebundle::EntryKind::CommonJs => rewrite::Target::CommonJs(url),
                    prebundle::EntryKind::Esm => rewrite::Target::Url(url),
                }))
            }
            Some(Ok(None)) | None => Ok(None),
            Some(Err(failure)) => Err(failure),
        });
        match result {
            Ok(Some(code)) => Prepared::Code(code),
            Ok(None) => Prepared::Unchanged,
            Err(unresolved) => {
                let (line, column, text) = written
                    .and_then(|written| {
                        let scanned = crate::modules::scan(written);
                        let spec = scanned
                            .imports
                            .iter()
                            .filter_map(|i| i.specifier.as_ref())
                            .find(|s| s.value == unresolved.specifier)?;
                        Some(rewrite::line_of(written, spec.range.start))
                    })
                    .unwrap_or_else(|| rewrite::line_of(source, unresolved.range.start));
                let message =
                    unresolved
                        .error
                        .message(&self.root, real, dir, &unresolved.specifier);
                Prepared::Failed(Box::new(ModuleError {
                    message,
                    url: url.to_owned(),
                    loc: Some((real.to_path_buf(), line, column, text.to_owned())),
                }))
            }
        }
    }

    /// Where the import `spec` of a module in `dir` goes; `dependency`: the module is
    /// package code (its relative imports get versions too). Blocking.
    #[cfg(feature = "node")]
    fn target(
        &self,
        real: &Path,
        dir: &Path,
        spec: &str,
        dependency: bool,
        version: Option<&str>,
    ) -> Result<Option<Pending>, resolver::Failure> {
        let kind = url::classify(spec);
        let wanted = match kind {
            url::SpecifierKind::Bare => true,
            url::SpecifierKind::Relative => dependency || !names_a_file(dir, spec),
            url::SpecifierKind::Absolute | url::SpecifierKind::Url => false,
        };
        if !wanted {
            return Ok(None);
        }
        let resolved = if dependency {
            self.resolver.resolve(dir, spec)?
        } else {
            let path = query_of(spec).map_or(spec, |q| &spec[..spec.len() - q.len()]);
            self.resolver.resolve_app(real, path)?
        };
        let file = match resolved {
            resolver::Resolved::File { path, package_dir } => {
                if !path.starts_with(&self.root) {
                    let allowed = folder_to_allow(&path, package_dir, dir, spec)
                        .is_some_and(|folder| self.allow.allow(&folder, &self.root));
                    if !allowed {
                        return Err(resolver::Failure::OutsideRoot(path));
                    }
                }
                path
            }
            resolver::Resolved::Empty => {
                return Ok(Some(Pending::Url(resolver::EMPTY_MODULE.into())));
            }
        };
        #[cfg(feature = "bundle")]
        if kind == url::SpecifierKind::Bare
            && let Some(entry) = self.bundle_entry(&file, spec)
        {
            let kind = entry.kind;
            return Ok(Some(Pending::Bundled(self.prebundle.want(entry), kind)));
        }
        // Application files under the root go without the version: they are revalidated,
        // and the module graph knows them by their plain path.
        let app_file = file.starts_with(&self.root) && !url::is_installed_package(&file);
        let version = version.filter(|_| !app_file);
        let mut url = url::package_url(&self.root, &file, version).url;
        if !dependency && let Some(query) = query_of(spec) {
            // `./counter?raw` keeps asking for what it asked for.
            url.push_str(query);
        }
        Ok(Some(Pending::Url(url)))
    }

    /// The pre-bundle entry for the installed package file `file` imported as `spec`, when
    /// it needs one (see [`prebundle::kind_of_file`]). An import with a query
    /// (`pkg/x.js?raw`) asks for the file itself. Blocking: reads it once.
    #[cfg(feature = "bundle")]
    fn bundle_entry(&self, file: &Path, spec: &str) -> Option<prebundle::Entry> {
        if !url::is_installed_package(file) || query_of(spec).is_some() {
            return None;
        }
        let kind = match self.prebundle.known_kind(file) {
            Some(kind) => kind,
            None => {
                let kind = prebundle::kind_of_file(file);
                self.prebundle.set_kind(file, kind);
                kind
            }
        }?;
        if kind == prebundle::EntryKind::Esm
            && self
                .unbundled
                .iter()
                .any(|p| *p == prebundle::package_name(file))
        {
            return None;
        }
        Some(prebundle::Entry {
            name: prebundle::entry_name(spec),
            file: file.to_path_buf(),
            kind,
            version: prebundle::package_version(file),
        })
    }

    /// Crawl the pages' module graphs for the packages to pre-bundle, then build them (or
    /// read them back from the cache): before the first page asks. `compile` turns a module
    /// the crawl reads into what the browser will get (see [`CrawlCompile`]). Needs a tokio
    /// runtime.
    #[cfg(feature = "bundle")]
    pub fn start_prebundle(self: &std::sync::Arc<Self>, compile: Box<CrawlCompile>) {
        let packages = self.clone();
        tokio::spawn(async move {
            let crawler = packages.clone();
            let entries = tokio::task::spawn_blocking(move || crawler.crawl(&*compile))
                .await
                .unwrap_or_default();
            packages.prebundle.start(entries);
        });
    }

    /// Where pre-bundle results go (the composition root's terminal, events and reloads).
    #[cfg(feature = "bundle")]
    pub fn on_prebundle_notice(&self, notice: impl Fn(prebundle::Notice) + Send + Sync + 'static) {
        self.prebundle.on_notice(notice);
    }

    /// A pre-bundled chunk for the `/@deps/` route: `name` is the path after the prefix, as
    /// sent; `query` the request's. Waits for the build wanted now.
    #[cfg(feature = "bundle")]
    pub async fn deps_file(&self, name: &str, query: Option<&str>) -> prebundle::DepsFile {
        self.prebundle.file(name, url::version_param(query)).await
    }

    /// The page at `real` (served at `url`) with the imports of its inline
    /// `<script type="module">` blocks resolved as a module's next to it would be (`import
    /// { html } from 'lit'` in a page works, as on Vite), and the errors of those that do
    /// not resolve (their block stays as written: the browser reports it too). `None` when
    /// nothing changed. Blocking.
    #[cfg(feature = "node")]
    pub fn prepare_page(&self, real: &Path, url: &str, html: &str) -> PreparedPage {
        let (_, inline) = page::module_scripts(html);
        let mut out = String::new();
        let mut copied = 0;
        let mut errors = Vec::new();
        for range in inline {
            match self.prepare(real, url, &html[range.clone()], None) {
                Prepared::Code(code) => {
                    out.push_str(&html[copied..range.start]);
                    out.push_str(&code);
                    copied = range.end;
                }
                Prepared::Unchanged => {}
                Prepared::Failed(err) => errors.push(*err),
            }
        }
        let html = (copied > 0).then(|| {
            out.push_str(&html[copied..]);
            out
        });
        PreparedPage { html, errors }
    }

    /// Where the `@import` `value` of the stylesheet at `sheet` (a real path) goes when it
    /// names an installed package's stylesheet rather than a file beside it: `@import
    /// 'normalize.css'` or `@import '@fontsource/inter'`, as Vite resolves them (the
    /// package's `style` condition or field first). The URL carries the dependency version
    /// for package files; outside the root it is a `/@fs/` URL of an allowed package.
    /// `None`: keep it as written (a relative file, which CSS means first, or nothing found,
    /// which is said in the terminal). Blocking: reads `package.json` files.
    #[cfg(feature = "node")]
    pub fn stylesheet_import(&self, sheet: &Path, value: &str) -> Option<String> {
        let path = value.split(['?', '#']).next()?;
        if path.is_empty() || url::classify(path) != url::SpecifierKind::Bare {
            return None;
        }
        let dir = sheet.parent()?;
        let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
        if dir.join(&*decoded).exists() {
            return None;
        }
        let file = match self.resolver.resolve_css(dir, path) {
            Ok(resolver::Resolved::File { path, package_dir }) => {
                if !path.starts_with(&self.root) {
                    let folder = folder_to_allow(&path, package_dir, dir, value)?;
                    if !self.allow.allow(&folder, &self.root) {
                        return None;
                    }
                }
                path
            }
            _ => {
                tracing::warn!(
                    "{}: @import \"{value}\" is neither a file beside it nor an installed \
                     package's stylesheet",
                    shown(&self.root, sheet)
                );
                return None;
            }
        };
        let version = self.version().filter(|_| url::is_installed_package(&file));
        Some(url::package_url(&self.root, &file, version.as_deref()).url)
    }

    /// Without the `node` feature specifiers are sent as written.
    #[cfg(not(feature = "node"))]
    pub fn prepare(
        &self,
        _real: &Path,
        _url: &str,
        _source: &str,
        _written: Option<&str>,
    ) -> Prepared {
        Prepared::Unchanged
    }

    /// Without the `node` feature `@import`s are sent as written.
    #[cfg(not(feature = "node"))]
    pub fn stylesheet_import(&self, _sheet: &Path, _value: &str) -> Option<String> {
        None
    }
}

/// Whether the page `html` has an inline `<script type="module">` (whose imports
/// [`Packages::prepare_page`] resolves). A scan of the page, without I/O.
#[cfg(feature = "node")]
pub fn has_inline_modules(html: &[u8]) -> bool {
    std::str::from_utf8(html).is_ok_and(|html| !page::module_scripts(html).1.is_empty())
}

/// The compile step as the start-up crawl sees it: the JavaScript the module at `path`
/// (with `source`) becomes, or `None` to scan it as written. Compiled JSX imports its
/// runtime (`react/jsx-dev-runtime`), which the source never names: without this the first
/// page load would add an entry, rebuild and reload.
#[cfg(feature = "bundle")]
pub type CrawlCompile = dyn Fn(&Path, &str) -> Option<String> + Send + Sync;

/// A page after [`Packages::prepare_page`].
#[cfg(feature = "node")]
pub struct PreparedPage {
    /// The page with its inline modules' imports resolved, if any changed.
    pub html: Option<String>,
    /// Inline modules with an import that does not resolve.
    pub errors: Vec<ModuleError>,
}

/// An import, resolved, before its URL is written.
#[cfg(feature = "node")]
enum Pending {
    Url(String),
    /// An entry of the pre-bundle, by name.
    #[cfg(feature = "bundle")]
    Bundled(String, prebundle::EntryKind),
}

/// The folder the `/@fs/` route must open for `path`, a file outside the root that
/// `specifier`, imported from `dir`, resolved to; `None`: nothing, refuse it.
///
/// The package it was resolved through, when the file lies inside it. A file outside every
/// package opens its own folder only when it was not reached through an installed package:
/// a tsconfig `paths` alias, yes; `pkg/../../x`, or a `main` or `style` field pointing out of
/// its package, no.
#[cfg(feature = "node")]
fn folder_to_allow(
    path: &Path,
    package_dir: Option<PathBuf>,
    dir: &Path,
    specifier: &str,
) -> Option<PathBuf> {
    match package_dir {
        Some(package) => path.starts_with(&package).then_some(package),
        None if url::classify(specifier) == url::SpecifierKind::Bare => {
            let mut parts = specifier.split('/');
            let name = match (parts.next(), parts.next()) {
                (Some(scope), Some(name)) if scope.starts_with('@') => format!("{scope}/{name}"),
                (Some(name), _) => name.to_owned(),
                _ => return None,
            };
            let through_a_package = dir
                .ancestors()
                .any(|d| d.join("node_modules").join(&name).exists());
            let walks_up = specifier.split('/').any(|part| part == "..");
            (!through_a_package && !walks_up).then(|| path.with_file_name(""))
        }
        None => Some(path.with_file_name("")),
    }
}

/// Whether the relative `specifier` names a file that exists as written (without its query
/// or fragment): then the browser's own resolution is right and nothing is rewritten.
#[cfg(feature = "node")]
fn names_a_file(dir: &Path, specifier: &str) -> bool {
    let path = query_of(specifier).map_or(specifier, |q| &specifier[..specifier.len() - q.len()]);
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    dir.join(&*decoded).is_file()
}

/// The `?query` (and `#fragment`) part of a specifier, from its `?` or `#` (not the `#`
/// that starts a package import such as `#util`).
#[cfg(feature = "node")]
fn query_of(specifier: &str) -> Option<&str> {
    let start = specifier.chars().next()?.len_utf8();
    specifier[start..]
        .find(['?', '#'])
        .map(|i| &specifier[start + i..])
}

/// `path` relative to `root` for messages, or in full when it lies outside.
fn shown(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(relative) => relative.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}
