//! Dependency pre-bundling, the way Vite's optimizer does it, with the same engine
//! (rolldown): the installed packages the application imports by bare name are bundled
//! into a few ES modules served at [`DEPS_PREFIX`]. CommonJS packages (`react`, `react-dom`,
//! `scheduler`) because a browser cannot load them as modules; ES packages because, served
//! file by file, a page waits on a waterfall of requests (`lit`: 18 requests in four
//! levels; `lodash-es`: 640).
//!
//! - **Entries** are the bare imports that need it, found two ways: an up-front crawl of
//!   the pages' module graphs when the server starts (so the first page load does not
//!   trigger a second build), and every module the request path prepares. All entries are
//!   bundled together, so what they share is one chunk: one `react` for `react-dom` and the
//!   application.
//! - **Builds** run on the blocking pool, one at a time, always for the newest set of
//!   entries; a request for a chunk waits for the build that was wanted when it arrived, so
//!   it never gets a chunk of an older build mixed with newer ones. A build that adds
//!   entries after a page loaded chunks of the previous one reloads the pages (a second copy
//!   of a package in one page would break it, hooks in React's case).
//! - **The cache** on disk (`node_modules/.hotserve/deps/`) is keyed by the dependency
//!   version (lockfiles and install markers, and hotserve's version), the entries and their
//!   package versions; a restart with the same key reads it back without running rolldown.
//!   A lockfile change rebuilds (and the service reloads the pages).
//! - **Importers** of a CommonJS bundle are rewritten ([`interop`]): the bundle's only
//!   export is `module.exports`, named imports become property reads.

mod build;
mod cache;
pub(crate) mod interop;

use super::ModuleError;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Where the chunks are served: a route of its own, answered from memory, that names no
/// file (see [`Prebundle::file`]).
pub(crate) const DEPS_PREFIX: &str = "/@deps/";

/// How long a request for a chunk waits for a build before it gives up with a 503.
const BUILD_WAIT: Duration = Duration::from_secs(120);

/// Why a package is bundled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum EntryKind {
    /// CommonJS: importers need [`interop`].
    CommonJs,
    /// ES modules: imported as they are.
    Esm,
}

/// One bundled import.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Entry {
    /// The chunk's name (`react-dom_client` for `react-dom/client`).
    pub name: String,
    /// The resolved file.
    pub file: PathBuf,
    pub kind: EntryKind,
    /// The `version` of the entry's `package.json`.
    pub version: String,
}

/// What happened to a build, for the composition root (terminal, events, reloads).
#[derive(Clone, Debug)]
pub(crate) enum Notice {
    Bundled {
        /// The entries' names.
        entries: Vec<String>,
        /// Read back from the cache on disk, without running rolldown.
        reused: bool,
        took: Duration,
        /// Pages loaded chunks of the previous build: reload them.
        reload: bool,
        /// Entries that could not be bundled, with the message.
        failed: Vec<(String, String)>,
    },
}

/// What a request for a chunk gets.
#[derive(Debug)]
pub(crate) enum DepsFile {
    Code {
        code: Bytes,
        /// The URL names this exact content (a hashed chunk, or an entry asked for with the
        /// current build's key): cache it for good.
        immutable: bool,
    },
    /// An entry that failed to bundle: the module that shows the overlay.
    Failed(Box<ModuleError>),
    NotFound,
    /// Not a name this route serves (a path, a dotfile, an encoded anything).
    Refused,
    /// No build finished in time.
    Unavailable,
}

/// One finished build, held in memory.
#[derive(Debug, Default)]
struct Build {
    generation: u64,
    key: String,
    files: HashMap<String, Bytes>,
    failed: HashMap<String, String>,
    /// A browser got a chunk of this build.
    served: AtomicBool,
}

#[derive(Debug)]
struct State {
    /// By resolved file.
    entries: BTreeMap<PathBuf, Entry>,
    deps_version: Option<String>,
    /// The generation requests must wait for; bumped whenever the entries or the packages
    /// change.
    wanted: u64,
    /// A build task is running (or the start-up crawl, which runs the first build).
    running: bool,
    /// The next build follows a discovery after pages loaded chunks: reload them.
    reload: bool,
    /// Which kind (if any) each resolved file needs, by file: read once per install.
    kinds: HashMap<PathBuf, Option<EntryKind>>,
}

/// What one build made (or read back from the cache).
#[derive(Default)]
struct Made {
    /// The chunks, by file name.
    files: HashMap<String, Bytes>,
    /// Entries that could not be bundled, with the message.
    failed: HashMap<String, String>,
    /// Read from the cache, without running rolldown.
    reused: bool,
    /// The entries' chunk names.
    names: Vec<String>,
}

/// The pre-bundler of one root.
pub(crate) struct Prebundle {
    root: PathBuf,
    /// Where files outside the root that bundled code imports (a linked package's CSS) are
    /// allowed, for the `/@fs/` route.
    allow: Arc<super::allow::AllowList>,
    cache_dir: PathBuf,
    state: Mutex<State>,
    published: watch::Sender<Arc<Build>>,
    notice: OnceLock<Box<dyn Fn(Notice) + Send + Sync>>,
}

impl std::fmt::Debug for Prebundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prebundle")
            .field("cache_dir", &self.cache_dir)
            .finish_non_exhaustive()
    }
}

impl Prebundle {
    /// The pre-bundler for the canonical `root`. Nothing is built until [`Self::start`].
    pub fn new(
        root: &Path,
        deps_version: Option<String>,
        allow: Arc<super::allow::AllowList>,
    ) -> Self {
        Prebundle {
            root: root.to_path_buf(),
            allow,
            cache_dir: cache::dir(root),
            state: Mutex::new(State {
                entries: BTreeMap::new(),
                deps_version,
                wanted: 1,
                // Until `start` has crawled the pages, discoveries only add entries.
                running: true,
                reload: false,
                kinds: HashMap::new(),
            }),
            published: watch::Sender::new(Arc::new(Build::default())),
            notice: OnceLock::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where build results go (set once, by the composition root).
    pub fn on_notice(&self, notice: impl Fn(Notice) + Send + Sync + 'static) {
        let _ = self.notice.set(Box::new(notice));
    }

    /// After the start-up crawl found `entries`: adopt those of the cached build too when it
    /// was made for the same dependency version (so a restart reuses it even if pages had
    /// discovered more entries than the crawl finds), then run the first build. Must be
    /// called inside a tokio runtime.
    pub fn start(self: &Arc<Self>, entries: Vec<Entry>) {
        {
            let mut state = self.state();
            for entry in entries {
                add(&mut state, entry);
            }
            if let Some(meta) = cache::read_meta(&self.cache_dir)
                && meta.deps_version == state.deps_version
            {
                for (name, file) in meta.entries {
                    let known = state.kinds.get(&file).copied().flatten();
                    if !state.entries.contains_key(&file)
                        && let Some(kind) = known.or_else(|| kind_of_file(&file))
                    {
                        let version = package_version(&file);
                        add(
                            &mut state,
                            Entry {
                                name,
                                file,
                                kind,
                                version,
                            },
                        );
                    }
                }
            }
        }
        tokio::spawn(self.clone().run());
    }

    /// The kind `file` needs, if any, as far as already known.
    pub fn known_kind(&self, file: &Path) -> Option<Option<EntryKind>> {
        self.state().kinds.get(file).copied()
    }

    /// Remember the kind `file` needs.
    pub fn set_kind(&self, file: &Path, kind: Option<EntryKind>) {
        self.state().kinds.insert(file.to_path_buf(), kind);
    }

    /// Make `entry` part of the bundle (a new one schedules a build) and return its name.
    pub fn want(self: &Arc<Self>, entry: Entry) -> String {
        let mut state = self.state();
        if let Some(known) = state.entries.get(&entry.file) {
            return known.name.clone();
        }
        let name = add(&mut state, entry);
        state.wanted += 1;
        if self.published.borrow().served.load(Ordering::Relaxed) {
            state.reload = true;
        }
        self.schedule(&mut state);
        name
    }

    /// The URL of the entry `name` for the entries wanted now.
    pub fn url(&self, name: &str) -> String {
        let state = self.state();
        format!("{DEPS_PREFIX}{name}.js?v={}", key(&state))
    }

    /// The installed packages changed: forget what was read, drop entries whose file is
    /// gone, and rebuild (the service reloads the pages itself).
    pub fn refresh(self: &Arc<Self>, deps_version: Option<String>) {
        let mut state = self.state();
        state.deps_version = deps_version;
        state.kinds.clear();
        state.entries.retain(|file, _| file.is_file());
        for entry in state.entries.values_mut() {
            entry.version = package_version(&entry.file);
        }
        state.wanted += 1;
        state.reload = false;
        self.schedule(&mut state);
    }

    fn schedule(self: &Arc<Self>, state: &mut State) {
        if state.running {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        state.running = true;
        runtime.spawn(self.clone().run());
    }

    /// Build until the newest wanted generation is published.
    async fn run(self: Arc<Self>) {
        loop {
            let (generation, entries, deps_version, key, reload) = {
                let mut state = self.state();
                if self.published.borrow().generation >= state.wanted {
                    state.running = false;
                    return;
                }
                let reload = std::mem::take(&mut state.reload);
                let entries: Vec<Entry> = state.entries.values().cloned().collect();
                (
                    state.wanted,
                    entries,
                    state.deps_version.clone(),
                    key(&state),
                    reload,
                )
            };
            let started = Instant::now();
            let this = self.clone();
            let key_for_build = key.clone();
            // A thread of its own rather than the blocking pool: a runtime that shuts down
            // waits for its blocking tasks, and would wait for a build it can no longer run.
            // If the server goes away first, the build ends on its own and is dropped.
            let (done, made) = tokio::sync::oneshot::channel();
            let spawned = std::thread::Builder::new()
                .name("hotserve-prebundle".into())
                .spawn(move || {
                    let _ = done.send(this.build_or_load(&entries, deps_version, &key_for_build));
                });
            let made = match spawned {
                Ok(_) => made.await.map_err(|_| "the build panicked".to_owned()),
                Err(err) => Err(format!("cannot start a thread ({err})")),
            };
            let Made {
                files,
                failed,
                reused,
                names,
            } = match made {
                Ok(made) => made,
                Err(err) => Made {
                    failed: HashMap::from([("*".into(), format!("pre-bundling stopped: {err}"))]),
                    ..Made::default()
                },
            };
            let mut failed_list: Vec<(String, String)> =
                failed.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            failed_list.sort();
            self.published.send_replace(Arc::new(Build {
                generation,
                key,
                files,
                failed,
                served: AtomicBool::new(false),
            }));
            if let Some(notice) = self.notice.get() {
                notice(Notice::Bundled {
                    entries: names,
                    reused,
                    took: started.elapsed(),
                    reload,
                    failed: failed_list,
                });
            }
        }
    }

    /// Read the cached build for `key`, or bundle `entries` and cache the result. Blocking.
    fn build_or_load(&self, entries: &[Entry], deps_version: Option<String>, key: &str) -> Made {
        let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
        if entries.is_empty() {
            return Made {
                names,
                ..Made::default()
            };
        }
        if let Some(cached) = cache::load(&self.cache_dir, key) {
            return Made {
                files: cached
                    .files
                    .into_iter()
                    .map(|(name, code)| (name, Bytes::from(code)))
                    .collect(),
                failed: cached.meta.failed.into_iter().collect(),
                reused: true,
                names,
            };
        }
        let inputs: Vec<build::Input> = entries
            .iter()
            .map(|e| build::Input {
                name: e.name.clone(),
                file: e.file.clone(),
            })
            .collect();
        let served_url = self.served_url(deps_version.clone());
        let bundle =
            |inputs: &[build::Input]| build::bundle(&self.root, inputs, served_url.clone());
        let mut failed = HashMap::new();
        let output = match bundle(&inputs) {
            Ok(output) => output,
            Err(all) if inputs.len() == 1 => {
                failed.insert(inputs[0].name.clone(), self.message(&entries[0], &all));
                build::Output::default()
            }
            Err(_) => {
                // Find the entries that fail on their own, and bundle the others together.
                let mut good = Vec::new();
                for (input, entry) in inputs.iter().zip(entries) {
                    match bundle(std::slice::from_ref(input)) {
                        Ok(_) => good.push(input.clone()),
                        Err(why) => {
                            failed.insert(input.name.clone(), self.message(entry, &why));
                        }
                    }
                }
                match bundle(&good) {
                    Ok(output) => output,
                    Err(why) => {
                        for input in &good {
                            failed.insert(input.name.clone(), why.clone());
                        }
                        build::Output::default()
                    }
                }
            }
        };
        // One URL per module, or the browser runs it twice: an entry another chunk imports
        // (`react.js` from `react-dom_client.js`) gets the `?v=` the application uses.
        let entry_files: std::collections::HashSet<String> =
            entries.iter().map(|e| format!("./{}.js", e.name)).collect();
        let mut output = output;
        for (_, code) in &mut output.files {
            *code = version_entry_imports(code, &entry_files, key);
        }
        let meta = cache::Meta {
            key: key.to_owned(),
            deps_version,
            entries: entries
                .iter()
                .map(|e| (e.name.clone(), e.file.clone()))
                .collect(),
            files: output.files.iter().map(|(name, _)| name.clone()).collect(),
            failed: failed.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        if let Err(err) = cache::store(&self.cache_dir, &meta, &output.files) {
            tracing::warn!(
                "could not write the pre-bundled dependencies to {}: {err}",
                self.cache_dir.display()
            );
        }
        Made {
            files: output
                .files
                .into_iter()
                .map(|(name, code)| (name, Bytes::from(code)))
                .collect(),
            failed,
            reused: false,
            names,
        }
    }

    /// The URLs of the stylesheets and assets bundled code imports: what a module of the
    /// package served file by file would import (`/node_modules/ui/a.css?import&v=…`), so
    /// the server's wrappers answer them. Files outside the root (a `node_modules` hoisted
    /// above it) go through `/@fs/`, once their package's folder is allowed, as the
    /// resolver allows a linked package's.
    fn served_url(&self, deps_version: Option<String>) -> Arc<build::ServedUrl> {
        let root = self.root.clone();
        let allow = self.allow.clone();
        Arc::new(move |file: &Path, query: &str| {
            if !file.starts_with(&root) {
                // Only an installed package's file, and then the whole package, so the
                // stylesheet's own `url(../fonts/x.woff2)` is served too. Package code
                // reaching elsewhere opens nothing.
                let dir = super::url::installed_package_dir(file)?;
                if !allow.allow(&dir, &root) {
                    return None;
                }
            }
            let url = super::url::package_url(&root, file, None).url;
            let mut url = crate::modules::wrap::mark_import(&format!("{url}{query}"))?;
            if let Some(version) = &deps_version {
                let at = url.find('#').unwrap_or(url.len());
                url.insert_str(at, &format!("&v={version}"));
            }
            Some(url)
        })
    }

    fn message(&self, entry: &Entry, why: &str) -> String {
        format!(
            "Could not pre-bundle the package \"{}\" ({}): {why}",
            package_name(&entry.file),
            super::shown(&self.root, &entry.file)
        )
    }

    /// The chunk `name` (the path after [`DEPS_PREFIX`], as sent), waiting for the build that
    /// is wanted now. `version` is the request's `v` parameter.
    pub async fn file(&self, name: &str, version: Option<&str>) -> DepsFile {
        if !cache::safe_name(name) {
            return DepsFile::Refused;
        }
        let wanted = self.state().wanted;
        let mut published = self.published.subscribe();
        let waited = tokio::time::timeout(
            BUILD_WAIT,
            published.wait_for(|build| build.generation >= wanted),
        )
        .await;
        let build = match waited {
            Ok(Ok(build)) => build.clone(),
            _ => return DepsFile::Unavailable,
        };
        let entry = name.strip_suffix(".js").unwrap_or(name);
        if let Some(message) = build.failed.get(entry) {
            return DepsFile::Failed(Box::new(ModuleError {
                message: message.clone(),
                url: format!("{DEPS_PREFIX}{name}"),
                loc: None,
            }));
        }
        match build.files.get(name) {
            Some(code) => {
                build.served.store(true, Ordering::Relaxed);
                DepsFile::Code {
                    code: code.clone(),
                    immutable: name.starts_with("chunk-") || version == Some(build.key.as_str()),
                }
            }
            None => DepsFile::NotFound,
        }
    }
}

/// `code` with its imports of the entry files `entries` (`./react.js`) given `?v=key`.
fn version_entry_imports(
    code: &str,
    entries: &std::collections::HashSet<String>,
    key: &str,
) -> String {
    let scanned = crate::modules::scan(code);
    let mut out = String::with_capacity(code.len());
    let mut copied = 0;
    for spec in scanned.imports.iter().filter_map(|i| i.specifier.as_ref()) {
        if entries.contains(&spec.value) && spec.range.start >= copied {
            out.push_str(&code[copied..spec.range.end]);
            out.push_str("?v=");
            out.push_str(key);
            copied = spec.range.end;
        }
    }
    out.push_str(&code[copied..]);
    out
}

/// Adds `entry` under a name no other entry has; returns the name.
fn add(state: &mut State, mut entry: Entry) -> String {
    if let Some(known) = state.entries.get(&entry.file) {
        return known.name.clone();
    }
    let taken = |name: &str, state: &State| state.entries.values().any(|e| e.name == name);
    if taken(&entry.name, state) || entry.name.starts_with("chunk-") {
        let base = entry.name.clone();
        let mut n = 2;
        while taken(&format!("{base}_{n}"), state) {
            n += 1;
        }
        entry.name = format!("{base}_{n}");
    }
    state.kinds.insert(entry.file.clone(), Some(entry.kind));
    let name = entry.name.clone();
    state.entries.insert(entry.file.clone(), entry);
    name
}

/// The key of a build of the entries wanted now.
fn key(state: &State) -> String {
    let mut hasher = DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    state.deps_version.hash(&mut hasher);
    for entry in state.entries.values() {
        entry.hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

/// A chunk name for an import specifier: `react-dom/client` -> `react-dom_client`.
pub(crate) fn entry_name(specifier: &str) -> String {
    let name: String = specifier
        .trim_start_matches('#')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_start_matches('.');
    if name.is_empty() {
        "dep".to_owned()
    } else {
        name.to_owned()
    }
}

/// Which kind of entry the installed package file `file` needs, if any. Every JavaScript
/// file is bundled: CommonJS (no module syntax, and `require` or `module.exports`) and ES
/// modules. Not: stylesheets and assets imported by bare name (`bootstrap/dist/css/…`),
/// which the server's wrappers answer, and plain scripts (no module syntax, no CommonJS),
/// which run as they are. Blocking: reads the file.
pub(crate) fn kind_of_file(file: &Path) -> Option<EntryKind> {
    if crate::modules::wrap::served_as_wrapper(&file.to_string_lossy()) {
        return None;
    }
    let source = std::fs::read_to_string(file).ok()?;
    if crate::modules::scan(&source).module_syntax {
        Some(EntryKind::Esm)
    } else {
        super::resolver::looks_commonjs(&source).then_some(EntryKind::CommonJs)
    }
}

/// `name` of the package `file` belongs to (the folder after the last `node_modules`).
pub(crate) fn package_name(file: &Path) -> String {
    let text = file.to_string_lossy();
    text.rsplit_once("node_modules/")
        .map(|(_, rest)| {
            let mut parts = rest.split('/');
            match (parts.next(), parts.next()) {
                (Some(scope), Some(name)) if scope.starts_with('@') => format!("{scope}/{name}"),
                (Some(name), _) => name.to_owned(),
                _ => rest.to_owned(),
            }
        })
        .unwrap_or_else(|| text.into_owned())
}

/// The `version` in the nearest `package.json` above `file`, or `""`.
pub(crate) fn package_version(file: &Path) -> String {
    for dir in file.ancestors().skip(1) {
        if let Ok(text) = std::fs::read(dir.join("package.json")) {
            return serde_json::from_slice::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("version")?.as_str().map(str::to_owned))
                .unwrap_or_default();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_single_safe_segments() {
        assert_eq!(entry_name("react-dom/client"), "react-dom_client");
        assert_eq!(entry_name("@scope/pkg/sub.js"), "@scope_pkg_sub.js");
        assert_eq!(entry_name("#internal"), "internal");
        assert_eq!(entry_name("../x"), "_x");
        for spec in ["react", "react/jsx-dev-runtime", "@a/b", "..", "a b/c%2f"] {
            assert!(
                cache::safe_name(&format!("{}.js", entry_name(spec))),
                "{spec}"
            );
        }
    }

    #[test]
    fn javascript_entries_are_told_apart_from_stylesheets_and_plain_scripts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let files = [
            ("cjs.js", "module.exports = require('./x');"),
            ("esm.mjs", "import './a.js'; export default 1;"),
            ("plain.js", "window.answer = 42;"),
            ("style.css", "@import './a.css'; .x { color: red }"),
            ("export.css", "export default 1;"),
        ];
        for (name, text) in files {
            std::fs::write(root.join(name), text).unwrap();
        }
        let kind = |name: &str| kind_of_file(&root.join(name));
        assert_eq!(kind("cjs.js"), Some(EntryKind::CommonJs));
        assert_eq!(kind("esm.mjs"), Some(EntryKind::Esm));
        assert_eq!(kind("plain.js"), None, "a plain script runs as it is");
        assert_eq!(kind("style.css"), None);
        assert_eq!(
            kind("export.css"),
            None,
            "decided by the extension, not the text"
        );
        assert_eq!(kind("missing.js"), None);
    }

    #[test]
    fn a_name_taken_by_another_file_gets_a_suffix() {
        let mut state = State {
            entries: BTreeMap::new(),
            deps_version: None,
            wanted: 1,
            running: true,
            reload: false,
            kinds: HashMap::new(),
        };
        let entry = |file: &str| Entry {
            name: "react".into(),
            file: PathBuf::from(file),
            kind: EntryKind::CommonJs,
            version: "19".into(),
        };
        let before = key(&state);
        assert_eq!(add(&mut state, entry("/a/react/index.js")), "react");
        assert_ne!(key(&state), before, "the key follows the entries");
        assert_eq!(add(&mut state, entry("/b/react/index.js")), "react_2");
    }
}
