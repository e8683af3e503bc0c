//! Changes -> payloads: the decision of what each browser must do about a change.
//!
//! Precision matters as much as speed: a file no browser has loaded produces no message,
//! a save that leaves a loaded file's bytes unchanged produces no message, stylesheets swap
//! in place, modules follow the module graph, and everything else reloads the page.
//!
//! Two kinds of client get different answers to some changes. hotserve's own client
//! announces in-place updates when it connects: a stylesheet pulled in through `@import`,
//! a file referenced by `url()`, or an image shown by the page is swapped without a reload.
//! Vite's client cannot do that (it only swaps `<link>`s named by the update), so it gets
//! the full reload it always got, and no change is lost on either.
//!
//! [`decide`] is that decision as a function of the changes, what was served, the module
//! and stylesheet graphs and a way to read a file's content hash; it does no I/O of its
//! own. [`Plan`] holds the state between changes and does the reading (before it takes any
//! lock).

use crate::css::{Pull, StyleGraph, Stylesheets};
use crate::events::{InPlaceKind, InPlaceReason, InPlaceUpdate};
use crate::modules::{ModuleGraph, Modules, Propagation, kind_of};
use crate::protocol::{InvalidateMessage, Payload, Update, UpdateKind, next_timestamp};
use crate::sync::{content_hash, lock};
use crate::watch::{Change, ChangeKind};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Files up to this size have their content hash kept, so a save that rewrites the same
/// bytes (touch, a formatter with nothing to do) sends nothing. Larger files always count
/// as changed.
const HASHED_LIMIT: u64 = 4 * 1024 * 1024;

/// What the browsers have loaded, and the module graph of the scripts among it.
#[derive(Debug)]
pub(crate) struct Plan {
    rules: Rules,
    served: Mutex<ServedFiles>,
    /// The module graph the transform stage builds.
    modules: Arc<Modules>,
    /// What each served stylesheet pulls in (built by the transform stage too).
    styles: Arc<Stylesheets>,
}

/// What does not change while the server runs.
#[derive(Debug)]
pub(crate) struct Rules {
    /// Canonical root.
    pub root: PathBuf,
    /// Files that reload every page when they change (templates a backend renders).
    pub reload_on: Option<globset::GlobSet>,
}

/// Real file path -> what was served from it.
#[derive(Debug, Default)]
pub(crate) struct ServedFiles(HashMap<PathBuf, ServedFile>);

#[derive(Debug, Default)]
struct ServedFile {
    /// URL paths (as requested, without query) that served this file as it is.
    urls: BTreeSet<String>,
    /// URL paths of listing pages that showed this folder.
    listings: BTreeSet<String>,
    /// Whether it was also served as a module (transformed): its changes follow the graph.
    module: bool,
    /// The validator of the version last served, to hash each version once.
    etag: String,
    /// Content hash of the version last served or seen.
    hash: Option<u64>,
}

/// The payloads for one batch of changes, in sending order.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Outcome {
    /// For every client; when [`in_place`](Self::in_place) is set, only for clients that
    /// did not announce in-place updates (Vite's own client).
    pub payloads: Vec<Payload>,
    /// What clients that announced in-place updates get instead, when it differs.
    pub in_place: Option<InPlace>,
    /// Why the `full-reload` among the payloads reloads, when there is one.
    pub reason: Option<Reason>,
}

/// The payloads for clients that apply in-place updates, and what they swap.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct InPlace {
    pub payloads: Vec<Payload>,
    /// Stylesheets and images swapped without a reload.
    pub updates: Vec<InPlaceUpdate>,
}

impl Outcome {
    /// The same payloads for every client.
    fn for_all(payloads: Vec<Payload>) -> Self {
        Outcome {
            payloads,
            in_place: None,
            reason: None,
        }
    }
}

/// The event name of the payload that swaps images in place: a `custom` payload, so the
/// wire format stays Vite's, sent only to clients that announced they understand it.
pub(crate) const ASSETS_EVENT: &str = "hotserve:assets";

pub(crate) use crate::protocol::RELOAD_EVENT;

/// Why pages reload instead of updating in place. A full reload is the expensive outcome,
/// so the terminal line, the `--json` event stream and the browser console all name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The update of `file` walked up its importers (`chain`, from `file` to the module
    /// that nothing imports) and no module on the way accepts it.
    NotAccepted { file: String, chain: Vec<String> },
    /// `file` has no hot update of its kind: a script outside the module graph, a
    /// stylesheet pulled in by `@import`, an image (for Vite's client, which cannot swap
    /// them in place).
    NoHotUpdate { file: String },
    /// `file`, which a page had loaded, was deleted.
    Removed { file: String },
    /// An HTML page was edited (pages are never hot-updated).
    PageEdited { pages: Vec<String> },
    /// The watcher lost events: nobody knows what changed.
    EventsLost,
    /// `file` matches a `--reload-on` pattern.
    ReloadOn { file: String },
    /// An `.env` file changed, so `import.meta.env` did.
    Env { file: String },
    /// A `tsconfig.json`/`jsconfig.json` changed: modules compiled with the old options
    /// are stale.
    CompilerOptions { file: String },
    /// The installed packages changed (`file`: the lockfile or folder that did).
    #[cfg_attr(not(feature = "node"), allow(dead_code))]
    Packages { file: String },
    /// `hot.invalidate()` from `file` reached no module that accepts it, or came back
    /// to where it started.
    Invalidated { file: String, chain: Vec<String> },
    /// `file` was added to or removed from `folder`, whose listing page is open.
    FolderChanged { folder: String, file: String },
    /// A page imported packages that the pre-bundle did not have yet (`entries`): the
    /// new build replaces the chunks the page holds, and two copies of a package (two
    /// Reacts) must never run in one page.
    #[cfg_attr(not(feature = "bundle"), allow(dead_code))]
    NewDependencies { entries: Vec<String> },
}

impl Reason {
    /// The short name of the cause, for tools (`data.reason` of the payload).
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::NotAccepted { .. } => "not-accepted",
            Reason::NoHotUpdate { .. } => "no-hot-update",
            Reason::Removed { .. } => "removed",
            Reason::PageEdited { .. } => "page-edited",
            Reason::EventsLost => "events-lost",
            Reason::ReloadOn { .. } => "reload-on",
            Reason::Env { .. } => "env",
            Reason::CompilerOptions { .. } => "compiler-options",
            Reason::Packages { .. } => "packages",
            Reason::Invalidated { .. } => "invalidated",
            Reason::FolderChanged { .. } => "folder-changed",
            Reason::NewDependencies { .. } => "new-dependencies",
        }
    }

    /// The file whose change caused the reload, if one did.
    pub fn file(&self) -> Option<&str> {
        match self {
            Reason::NotAccepted { file, .. }
            | Reason::NoHotUpdate { file }
            | Reason::Removed { file }
            | Reason::ReloadOn { file }
            | Reason::Env { file }
            | Reason::CompilerOptions { file }
            | Reason::Packages { file }
            | Reason::Invalidated { file, .. }
            | Reason::FolderChanged { file, .. } => Some(file),
            Reason::PageEdited { pages } => pages.first().map(String::as_str),
            Reason::EventsLost | Reason::NewDependencies { .. } => None,
        }
    }

    /// One sentence for a person.
    pub fn message(&self) -> String {
        let chain = |chain: &[String]| chain.join(" -> ");
        match self {
            Reason::NotAccepted { file, chain: c } if c.len() > 1 => format!(
                "{file} changed and no module accepts the update ({}, which nothing imports)",
                chain(c)
            ),
            Reason::NotAccepted { file, .. } => {
                format!("{file} changed; it does not accept updates and nothing imports it")
            }
            Reason::NoHotUpdate { file } => {
                format!("{file} changed and this kind of file has no hot update here")
            }
            Reason::Removed { file } => format!("{file} was deleted"),
            Reason::PageEdited { pages } => {
                format!("{} edited (HTML is never hot-updated)", pages.join(", "))
            }
            Reason::EventsLost => "file events were lost (too many changes at once)".into(),
            Reason::ReloadOn { file } => format!("{file} changed (a --reload-on file)"),
            Reason::Env { file } => format!("{file} changed (import.meta.env)"),
            Reason::CompilerOptions { file } => {
                format!("{file} changed the options modules are compiled with")
            }
            Reason::Packages { file } => format!("packages changed ({file})"),
            Reason::Invalidated { file, chain: c } if c.len() > 1 => format!(
                "{file} called hot.invalidate() and no importer accepts it ({})",
                chain(c)
            ),
            Reason::Invalidated { file, .. } => {
                format!("{file} called hot.invalidate() and nothing above it takes the update")
            }
            Reason::FolderChanged { folder, file } => {
                format!("{file} came or went in {folder} (its listing is open)")
            }
            Reason::NewDependencies { entries } => format!(
                "new dependencies were pre-bundled ({}), replacing the chunks pages hold",
                entries.join(", ")
            ),
        }
    }

    /// The `custom` payload sent just before the `full-reload` it explains.
    pub fn payload(&self) -> Payload {
        let mut data = serde_json::json!({
            "reason": self.kind(),
            "message": self.message(),
        });
        if let Some(file) = self.file() {
            data["file"] = file.into();
        }
        if let Reason::NotAccepted { chain, .. } | Reason::Invalidated { chain, .. } = self {
            data["chain"] = chain.clone().into();
        }
        Payload::Custom {
            event: RELOAD_EVENT.into(),
            data: Some(data),
        }
    }
}

/// What one kind of client gets for a change set, while it is being decided.
#[derive(Debug, Default)]
struct Side {
    updates: Vec<Update>,
    reload_all: Option<Reason>,
    /// Served asset URL -> the stylesheets that reference it (swapped by `updates`).
    assets: BTreeMap<String, Vec<String>>,
    report: Vec<InPlaceUpdate>,
}

impl Side {
    /// Reload every page; the first reason is the one given.
    fn reload(&mut self, reason: Reason) {
        self.reload_all.get_or_insert(reason);
    }

    /// Why this side's payloads reload, if they do.
    fn reason(&self, pages: &BTreeSet<String>) -> Option<Reason> {
        match &self.reload_all {
            Some(reason) => Some(reason.clone()),
            None if pages.is_empty() => None,
            None => Some(Reason::PageEdited {
                pages: pages.iter().cloned().collect(),
            }),
        }
    }

    /// Swap the stylesheets that pull in `changed`.
    fn swap_sheets(&mut self, changed: &str, pulls: &[Pull], timestamp: u64) {
        for pull in pulls {
            self.updates
                .push(Update::css(pull.sheet.clone(), timestamp));
            self.report.push(InPlaceUpdate {
                url: pull.sheet.clone(),
                kind: InPlaceKind::Stylesheet,
                changed: changed.to_owned(),
                reason: if pull.import {
                    InPlaceReason::Imports(pull.via.clone())
                } else {
                    InPlaceReason::References(pull.via.clone())
                },
            });
        }
    }

    fn payloads(&self, pages: &BTreeSet<String>, timestamp: u64) -> Vec<Payload> {
        if let Some(reason) = &self.reload_all {
            return vec![Payload::FullReload {
                path: Some("*".into()),
                triggered_by: reason.file().map(str::to_owned),
            }];
        }
        let mut payloads = Vec::new();
        if !self.updates.is_empty() {
            let mut updates = self.updates.clone();
            dedupe(&mut updates);
            payloads.push(Payload::Update { updates });
        }
        if !self.assets.is_empty() {
            let assets: Vec<serde_json::Value> = self
                .assets
                .iter()
                .map(|(path, sheets)| serde_json::json!({ "path": path, "sheets": sheets }))
                .collect();
            payloads.push(Payload::Custom {
                event: ASSETS_EVENT.into(),
                data: Some(serde_json::json!({ "timestamp": timestamp, "assets": assets })),
            });
        }
        match pages.len() {
            0 => {}
            1 => payloads.push(Payload::FullReload {
                path: pages.first().cloned(),
                triggered_by: None,
            }),
            _ => payloads.push(Payload::full_reload_all()),
        }
        payloads
    }
}

/// Hot-updates the style modules (`import './a.css'`) whose stylesheet pulls in `changed`:
/// every client, Vite's included, re-imports them, and they are served again with fresh
/// references. Vite's CSS plugin does the same for the files a CSS module depends on.
fn update_style_modules(
    graph: &mut ModuleGraph,
    inlined: &[Pull],
    changed: &str,
    timestamp: u64,
    mut sides: [&mut Side; 2],
) {
    for pull in inlined {
        let outcome = graph.propagate(&pull.sheet, timestamp);
        for side in sides.iter_mut() {
            match &outcome {
                Propagation::Updates(found) => side.updates.extend(found.iter().cloned()),
                Propagation::FullReload { chain, .. } => side.reload(Reason::NotAccepted {
                    file: changed.to_owned(),
                    chain: chain.clone(),
                }),
                Propagation::NotInGraph => side.reload(Reason::NoHotUpdate {
                    file: changed.to_owned(),
                }),
            }
        }
    }
}

impl ServedFiles {
    /// Note that `url` served the file at `real` (version `etag`), as a module or as it is;
    /// `body` is the file's content when the server had it in memory.
    pub fn record(
        &mut self,
        real: &Path,
        url: &str,
        module: bool,
        etag: &str,
        body: Option<&[u8]>,
    ) {
        let entry = self.0.entry(real.to_path_buf()).or_default();
        if module {
            entry.module = true;
        } else if !entry.urls.contains(url) {
            entry.urls.insert(url.to_owned());
        }
        if entry.etag != etag {
            entry.etag = etag.to_owned();
            entry.hash = body.map(content_hash);
        }
    }

    /// The URLs that served the file as it is, and whether it was served as a module.
    fn served_as(&self, path: &Path) -> (Vec<String>, bool) {
        self.0
            .get(path)
            .map(|e| (e.urls.iter().cloned().collect(), e.module))
            .unwrap_or_default()
    }

    /// Note that the listing page at `url` showed the folder at `real`.
    pub fn record_listing(&mut self, real: &Path, url: &str) {
        let entry = self.0.entry(real.to_path_buf()).or_default();
        if !entry.listings.contains(url) {
            entry.listings.insert(url.to_owned());
        }
    }

    /// The URL of the listing page that showed the folder at `path`, if one did.
    fn listing(&self, path: &Path) -> Option<&str> {
        self.0.get(path)?.listings.first().map(String::as_str)
    }

    /// Whether a content hash of the version browsers have is known.
    fn has_hash(&self, path: &Path) -> bool {
        self.0.get(path).is_some_and(|e| e.hash.is_some())
    }

    /// Whether the file's content (`now`, `None` when unreadable) equals the version
    /// browsers have; keeps `now` as the known version.
    fn unchanged(&mut self, path: &Path, now: Option<u64>) -> bool {
        let Some(entry) = self.0.get_mut(path) else {
            return false;
        };
        let (Some(known), Some(now)) = (entry.hash, now) else {
            return false;
        };
        entry.hash = Some(now);
        known == now
    }
}

impl Plan {
    pub fn new(root: PathBuf, modules: Arc<Modules>, styles: Arc<Stylesheets>) -> Self {
        Plan {
            rules: Rules {
                root,
                reload_on: None,
            },
            served: Mutex::new(ServedFiles::default()),
            modules,
            styles,
        }
    }

    /// Reload every page when a file matching `globs` changes, loaded by a browser or not.
    pub fn reload_on(mut self, globs: Option<globset::GlobSet>) -> Self {
        self.rules.reload_on = globs;
        self
    }

    /// See [`ServedFiles::record_listing`].
    pub fn record_listing(&self, real: &Path, url: &str) {
        lock(&self.served).record_listing(real, url);
    }

    /// Note that `url` served the file at `real` (version `etag`), as a module or as it is;
    /// `body` is the file's content when the server had it in memory.
    pub fn record_served(
        &self,
        real: &Path,
        url: &str,
        module: bool,
        etag: &str,
        body: Option<&[u8]>,
    ) {
        lock(&self.served).record(real, url, module, etag, body);
    }

    /// Decide the payloads for `changes` (`overflowed`: events were lost). Reads changed
    /// files to compare content, so call it on a blocking thread.
    pub fn plan(&self, changes: &[Change], overflowed: bool) -> Outcome {
        // Read before locking: a large file must not hold up requests that record.
        let known: Vec<PathBuf> = {
            let served = lock(&self.served);
            changes
                .iter()
                .filter(|c| c.kind != ChangeKind::Removed && served.has_hash(&c.path))
                .map(|c| c.path.clone())
                .collect()
        };
        let hashes: HashMap<PathBuf, u64> = known
            .into_iter()
            .filter_map(|path| Some((hash_file(&path)?, path)))
            .map(|(hash, path)| (path, hash))
            .collect();
        let read = |path: &Path| hashes.get(path).copied();
        let mut served = lock(&self.served);
        decide(
            &Changes {
                changes,
                overflowed,
            },
            &self.rules,
            &mut served,
            &mut self.modules.graph(),
            &mut self.styles.graph(),
            &read,
            next_timestamp(),
        )
    }

    /// `hot.invalidate()` from a client: propagate to the module's importers.
    /// The payload, and for a `full-reload` why.
    pub fn invalidate(&self, message: &InvalidateMessage) -> Option<(Payload, Option<Reason>)> {
        let path = message.path.as_str();
        let first = message.first_invalidated_by.as_deref();
        match self
            .modules
            .graph()
            .invalidate(path, first, next_timestamp())
        {
            Propagation::Updates(updates) if updates.is_empty() => None,
            Propagation::Updates(updates) => Some((Payload::Update { updates }, None)),
            Propagation::FullReload {
                triggered_by,
                chain,
            } => {
                let reason = Reason::Invalidated {
                    file: triggered_by.clone(),
                    chain,
                };
                let payload = Payload::FullReload {
                    path: Some("*".into()),
                    triggered_by: Some(triggered_by),
                };
                Some((payload, Some(reason)))
            }
            Propagation::NotInGraph => None,
        }
    }
}

/// One batch of changes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Changes<'a> {
    pub changes: &'a [Change],
    /// Events were lost: nobody knows what changed.
    pub overflowed: bool,
}

/// The payloads for one batch of changes, in sending order.
///
/// `read` gives the content hash of a file as it is now (`None`: unreadable or too large
/// to hash); it is only asked about files whose served version has a known hash.
/// `timestamp` goes into every update. Updates the served files' known hashes, forgets
/// removed files, stamps the modules a hot update walks through, and marks the stylesheets
/// on a swapped `@import`/`url()` chain so they are served with `?t=` from now on.
///
/// The outcome has the payloads for clients without in-place updates and, when it differs,
/// what in-place clients get and swap ([`Outcome::in_place`]).
pub(crate) fn decide(
    batch: &Changes<'_>,
    rules: &Rules,
    served: &mut ServedFiles,
    graph: &mut ModuleGraph,
    styles: &mut StyleGraph,
    read: &dyn Fn(&Path) -> Option<u64>,
    timestamp: u64,
) -> Outcome {
    if batch.overflowed {
        return Outcome {
            reason: Some(Reason::EventsLost),
            ..Outcome::for_all(vec![Payload::full_reload_all()])
        };
    }
    // What clients without in-place support get, and what hotserve's client gets.
    let mut plain = Side::default();
    let mut rich = Side::default();
    let mut pages = BTreeSet::new();
    let mut listed: Option<Reason> = None;
    for change in batch.changes {
        let path = change.path.as_path();
        let Some(url) = url_path(&rules.root, path) else {
            continue;
        };
        // A folder shown as a listing page: a file that comes or goes changes the page
        // (`/docs/index.html` is the page at `/docs/` for both clients).
        if change.kind != ChangeKind::Modified
            && let Some(folder) = path.parent().and_then(|p| served.listing(p))
        {
            pages.insert(format!("{folder}index.html"));
            listed.get_or_insert_with(|| Reason::FolderChanged {
                folder: folder.to_owned(),
                file: url.clone(),
            });
        }
        if change.kind != ChangeKind::Removed && served.listing(path).is_some() {
            continue; // the folder itself: its entries' events say what changed
        }
        if let Some(globs) = &rules.reload_on
            && globs.is_match(&url[1..])
        {
            let reason = Reason::ReloadOn { file: url };
            plain.reload(reason.clone());
            rich.reload(reason);
            continue;
        }
        if crate::modules::transform::changes_compile_options(path) {
            // A tsconfig: modules compiled with the old options are stale in every page.
            let reason = Reason::CompilerOptions { file: url };
            plain.reload(reason.clone());
            rich.reload(reason);
            continue;
        }
        if crate::modules::env::is_env_file(&url) {
            // `import.meta.env` changed (the composition root has reloaded it): every page
            // runs modules that may read it.
            let reason = Reason::Env { file: url };
            plain.reload(reason.clone());
            rich.reload(reason);
            continue;
        }
        let unchanged = |served: &mut ServedFiles| served.unchanged(path, read(path));
        let ext = extension(path);
        if ext == "html" || ext == "htm" {
            if change.kind != ChangeKind::Removed && unchanged(served) {
                tracing::debug!(url, "page saved without changes");
            } else {
                pages.insert(url);
            }
            continue;
        }
        let (served_urls, as_module) = served.served_as(path);
        let loaded = !served_urls.is_empty() || as_module;
        let script = kind_of(path).is_some();
        let pulls = if script {
            Vec::new()
        } else {
            styles.pulled_in_by(&url)
        };
        // Stylesheets served from now on ask for `url` and the sheets that pull it in with
        // `?t=<timestamp>`, so every sheet on the chain is fetched anew.
        let marked: Vec<String> = pulls.iter().map(|p| p.sheet.clone()).collect();
        let mark = |styles: &mut StyleGraph| {
            let sheets = marked.iter().map(String::as_str);
            styles.mark_updated(std::iter::once(url.as_str()).chain(sheets), timestamp);
        };
        // Sheets in a `<style>` that a module adds (`import './a.css'`) are updated through
        // the module graph, for every client; the others (`pulls`) have `<link>`s.
        let (inlined, pulls): (Vec<Pull>, Vec<Pull>) = pulls
            .into_iter()
            .partition(|pull| graph.module(&pull.sheet).is_some());
        if change.kind == ChangeKind::Removed {
            served.0.remove(path);
            if ext == "css" {
                styles.remove(&url);
            }
            let pulled_in = !pulls.is_empty() || !inlined.is_empty();
            if pulled_in && (ext == "css" || served_urls.is_empty()) {
                // Sheets that import (or reference) it are fetched anew and lose its
                // rules: the page shows what the files now say.
                mark(styles);
                update_style_modules(graph, &inlined, &url, timestamp, [&mut plain, &mut rich]);
                if !pulls.is_empty() {
                    rich.swap_sheets(&url, &pulls, timestamp);
                    plain.reload(Reason::Removed { file: url.clone() });
                }
            } else if loaded || graph.module(&url).is_some() {
                let reason = Reason::Removed { file: url };
                plain.reload(reason.clone());
                rich.reload(reason);
            }
            continue;
        }
        if loaded && unchanged(served) {
            tracing::debug!(url, "saved without changes");
            continue;
        }
        if as_module && !script {
            // Imported from JavaScript (`import './x.css'`, JSON, an asset): a module of the
            // graph, updated through it; a `<link>` or `<img>` of the same file below.
            match graph.propagate(&url, timestamp) {
                Propagation::Updates(found) => {
                    plain.updates.extend(found.iter().cloned());
                    rich.updates.extend(found);
                }
                // No boundary, or not in the graph (a public file): reload.
                Propagation::FullReload { chain, .. } => {
                    let reason = Reason::NotAccepted {
                        file: url.clone(),
                        chain,
                    };
                    plain.reload(reason.clone());
                    rich.reload(reason);
                }
                Propagation::NotInGraph => {
                    let reason = Reason::NoHotUpdate { file: url.clone() };
                    plain.reload(reason.clone());
                    rich.reload(reason);
                }
            }
            if served_urls.is_empty() && pulls.is_empty() && inlined.is_empty() {
                continue;
            }
        }
        if ext == "css" {
            if served_urls.is_empty() && pulls.is_empty() && inlined.is_empty() {
                tracing::debug!(url, "changed, but no browser has loaded it");
                continue;
            }
            mark(styles);
            update_style_modules(graph, &inlined, &url, timestamp, [&mut plain, &mut rich]);
            let own = served_urls
                .iter()
                .map(|u| Update::css(u.clone(), timestamp));
            if pulls.is_empty() {
                // A page stylesheet: every client swaps its `<link>`, as Vite does.
                let own: Vec<Update> = own.collect();
                plain.updates.extend(own.iter().cloned());
                rich.updates.extend(own);
                continue;
            }
            // Imported: only the page's stylesheets have `<link>`s, and only hotserve's
            // client knows to fetch them anew for a change further down.
            rich.updates.extend(own);
            rich.report
                .extend(served_urls.iter().map(|u| InPlaceUpdate {
                    url: u.clone(),
                    kind: InPlaceKind::Stylesheet,
                    changed: url.clone(),
                    reason: InPlaceReason::Changed,
                }));
            rich.swap_sheets(&url, &pulls, timestamp);
            plain.reload(Reason::NoHotUpdate { file: url });
            continue;
        }
        if script {
            match graph.propagate(&url, timestamp) {
                Propagation::Updates(found) => {
                    plain.updates.extend(found.iter().cloned());
                    rich.updates.extend(found);
                    continue;
                }
                // No boundary, or served as a module that the graph does not know (too large
                // to scan): reload.
                Propagation::FullReload { chain, .. } => {
                    let reason = Reason::NotAccepted { file: url, chain };
                    plain.reload(reason.clone());
                    rich.reload(reason);
                    continue;
                }
                Propagation::NotInGraph if as_module => {
                    let reason = Reason::NoHotUpdate { file: url };
                    plain.reload(reason.clone());
                    rich.reload(reason);
                    continue;
                }
                Propagation::NotInGraph => {}
            }
        }
        if served_urls.is_empty() {
            tracing::debug!(url, "changed, but no browser has loaded it");
            continue;
        }
        plain.reload(Reason::NoHotUpdate { file: url.clone() });
        if script {
            rich.reload(Reason::NoHotUpdate { file: url });
            continue;
        }
        // An image, font or other file a page loaded: elements that show it and sheets
        // that reference it take the new file in place.
        mark(styles);
        update_style_modules(graph, &inlined, &url, timestamp, [&mut plain, &mut rich]);
        rich.swap_sheets(&url, &pulls, timestamp);
        for served_url in &served_urls {
            rich.report.push(InPlaceUpdate {
                url: served_url.clone(),
                kind: InPlaceKind::Asset,
                changed: url.clone(),
                reason: InPlaceReason::Changed,
            });
            let sheets = pulls
                .iter()
                .chain(&inlined)
                .map(|p| p.sheet.clone())
                .collect();
            rich.assets.insert(served_url.clone(), sheets);
        }
    }
    let payloads = plain.payloads(&pages, timestamp);
    let rich_payloads = rich.payloads(&pages, timestamp);
    // Whatever reloads in-place clients reloads the others too, for the same first reason
    // (both sides see the changes in one order): one reason serves both.
    let reason = match (plain.reason(&pages), listed) {
        // Only listings changed: say so rather than "page edited".
        (Some(Reason::PageEdited { pages: edited }), Some(listed))
            if edited.iter().all(|p| p.ends_with("/index.html")) =>
        {
            Some(listed)
        }
        (reason, _) => reason,
    };
    // Whatever reloads in-place clients reloads the others too: one payload for all then.
    let in_place = if rich.reload_all.is_none() && rich_payloads != payloads {
        Some(InPlace {
            payloads: rich_payloads,
            updates: rich.report,
        })
    } else {
        None
    };
    Outcome {
        payloads,
        in_place,
        reason,
    }
}

/// The `reload_on` patterns: relative to the root; a pattern without `/` also matches file
/// names in any folder (like `.gitignore`). `None` when there are none.
pub(crate) fn reload_globs(patterns: &[String]) -> Result<Option<globset::GlobSet>, crate::Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let glob_of = |pattern: &str| {
        let trimmed = pattern.trim_start_matches('/');
        if trimmed.contains('/') {
            trimmed.to_owned()
        } else {
            format!("**/{trimmed}")
        }
    };
    crate::config::glob_set(patterns, glob_of, false).map(Some)
}

/// The decoded URL path of a file under `root` (`/css/site.css`); `None` outside it.
pub(crate) fn url_path(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    let mut url = String::new();
    for part in relative.components() {
        url.push('/');
        url.push_str(&part.as_os_str().to_string_lossy());
    }
    (!url.is_empty()).then_some(url)
}

/// The content hash of the file at `path`; `None` when unreadable or over [`HASHED_LIMIT`].
fn hash_file(path: &Path) -> Option<u64> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > HASHED_LIMIT {
        return None;
    }
    std::fs::read(path).ok().map(|bytes| content_hash(&bytes))
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default()
}

/// Keep the first of identical (kind, path, acceptedPath) entries.
fn dedupe(updates: &mut Vec<Update>) {
    let mut seen = BTreeSet::new();
    updates.retain(|u| {
        seen.insert((
            u.kind == UpdateKind::CssUpdate,
            u.path.clone(),
            u.accepted_path.clone(),
        ))
    });
}

/// One human line per payload, for the log; a `full-reload` names its `reason`.
pub(crate) fn describe_why(payload: &Payload, reason: Option<&Reason>) -> String {
    match (payload, reason) {
        (Payload::FullReload { path, .. }, Some(reason)) => {
            let pages = match path.as_deref() {
                Some(page) if page != "*" => page,
                _ => "all pages",
            };
            format!("page reload ({pages}): {}", reason.message())
        }
        _ => describe(payload),
    }
}

/// One human line per payload, for the log.
pub(crate) fn describe(payload: &Payload) -> String {
    match payload {
        Payload::Update { updates } => {
            let paths: Vec<&str> = updates.iter().map(|u| u.path.as_str()).collect();
            format!("hmr update {}", paths.join(", "))
        }
        Payload::FullReload { path, triggered_by } => match (path.as_deref(), triggered_by) {
            (Some(page), _) if page != "*" => format!("page reload {page}"),
            (_, Some(trigger)) => format!("page reload (all pages, {trigger} changed)"),
            _ => "page reload (all pages)".into(),
        },
        Payload::Prune { paths } => format!("hmr prune {}", paths.join(", ")),
        Payload::Error { err } => format!("error {}", err.message),
        Payload::Custom { event, .. } => format!("custom {event}"),
        Payload::Connected | Payload::Ping => payload.kind().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::css::{Placement, serve_stylesheet};
    use crate::modules::serve_module;
    use ChangeKind::{Created, Modified, Removed};

    const T: u64 = 1000;

    /// One rule of the planner: the state before, the changes, and the payloads expected.
    struct Case {
        rule: &'static str,
        /// `(file under /site, URL, bytes as served)`.
        served: &'static [(&'static str, &'static str, &'static str)],
        /// `(URL, source)` of modules served, in order.
        modules: &'static [(&'static str, &'static str)],
        /// `(URL, source)` of stylesheets served, in order (the stylesheet graph).
        sheets: &'static [(&'static str, &'static str)],
        changes: &'static [(&'static str, ChangeKind)],
        /// Files' content now; a file not listed cannot be read.
        now: &'static [(&'static str, &'static str)],
        reload_on: &'static [&'static str],
        overflowed: bool,
        /// What every client gets; when `in_place` is `Some`, only clients that did not
        /// announce in-place updates (Vite's).
        expect: fn() -> Vec<Payload>,
        /// What clients that announced in-place updates get instead, and swap.
        in_place: fn() -> Option<InPlace>,
    }

    const BASE: Case = Case {
        rule: "",
        served: &[],
        modules: &[],
        sheets: &[],
        changes: &[],
        now: &[],
        reload_on: &[],
        overflowed: false,
        expect: Vec::new,
        in_place: || None,
    };

    fn reload_all_by(url: &str) -> Payload {
        Payload::FullReload {
            path: Some("*".into()),
            triggered_by: Some(url.into()),
        }
    }

    fn swapped(
        url: &str,
        kind: InPlaceKind,
        changed: &str,
        reason: InPlaceReason,
    ) -> InPlaceUpdate {
        InPlaceUpdate {
            url: url.into(),
            kind,
            changed: changed.into(),
            reason,
        }
    }

    /// The update of a stylesheet module: the browser must ask for it with `?import`.
    fn imported_css_update(url: &str) -> Update {
        Update {
            explicit_import_required: true,
            ..Update::js(url, url, T)
        }
    }

    fn assets(assets: serde_json::Value) -> Payload {
        Payload::Custom {
            event: ASSETS_EVENT.into(),
            data: Some(serde_json::json!({ "timestamp": T, "assets": assets })),
        }
    }

    fn run(case: &Case) -> Outcome {
        let root = PathBuf::from("/site");
        let rules = Rules {
            root: root.clone(),
            reload_on: reload_globs(
                &case
                    .reload_on
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>(),
            )
            .unwrap(),
        };
        let mut served = ServedFiles::default();
        for (file, url, body) in case.served {
            let path = root.join(file);
            let module = crate::modules::kind_of(&path).is_some() || url.ends_with("?import");
            served.record(&path, url, module, "\"v1\"", Some(body.as_bytes()));
        }
        let mut graph = ModuleGraph::new();
        for (url, source) in case.modules {
            serve_module(&mut graph, url, source);
        }
        let mut styles = StyleGraph::new();
        for (url, source) in case.sheets {
            // A sheet that is also a module was imported from JavaScript.
            let placement = if case.modules.iter().any(|(m, _)| m == url) {
                Placement::Inlined
            } else {
                Placement::Linked
            };
            serve_stylesheet(&mut styles, url, source, placement, crate::css::NO_PACKAGES);
        }
        let changes: Vec<Change> = case
            .changes
            .iter()
            .map(|(file, kind)| Change {
                path: root.join(file),
                kind: *kind,
            })
            .collect();
        let now: HashMap<PathBuf, u64> = case
            .now
            .iter()
            .map(|(file, body)| (root.join(file), content_hash(body.as_bytes())))
            .collect();
        let read = |path: &Path| now.get(path).copied();
        let batch = Changes {
            changes: &changes,
            overflowed: case.overflowed,
        };
        decide(
            &batch,
            &rules,
            &mut served,
            &mut graph,
            &mut styles,
            &read,
            T,
        )
    }

    #[test]
    fn every_rule_of_the_planner() {
        let cases = [
            Case {
                rule: "lost events reload every page",
                overflowed: true,
                changes: &[("a.css", Modified)],
                expect: || vec![Payload::full_reload_all()],
                ..BASE
            },
            Case {
                rule: "a file no browser loaded sends nothing",
                changes: &[("a.css", Modified), ("img.png", Created)],
                now: &[("a.css", "b{}")],
                ..BASE
            },
            Case {
                rule: "a loaded stylesheet is swapped at every URL that served it",
                served: &[("a.css", "/a.css", "a{}"), ("a.css", "/./a.css", "a{}")],
                changes: &[("a.css", Modified)],
                now: &[("a.css", "b{}")],
                expect: || {
                    vec![Payload::Update {
                        updates: vec![Update::css("/./a.css", T), Update::css("/a.css", T)],
                    }]
                },
                ..BASE
            },
            Case {
                rule: "a save that leaves a loaded file's bytes unchanged sends nothing",
                served: &[("a.css", "/a.css", "a{}"), ("p.html", "/p.html", "<p>")],
                changes: &[("a.css", Modified), ("p.html", Modified)],
                now: &[("a.css", "a{}"), ("p.html", "<p>")],
                ..BASE
            },
            Case {
                rule: "a file whose new content cannot be read counts as changed",
                served: &[("a.css", "/a.css", "a{}")],
                changes: &[("a.css", Modified)],
                expect: || {
                    vec![Payload::Update {
                        updates: vec![Update::css("/a.css", T)],
                    }]
                },
                ..BASE
            },
            Case {
                rule: "a changed page reloads the tabs showing it, loaded or not",
                changes: &[("docs/p.html", Modified)],
                expect: || {
                    vec![Payload::FullReload {
                        path: Some("/docs/p.html".into()),
                        triggered_by: None,
                    }]
                },
                ..BASE
            },
            Case {
                rule: "an index page served at its folder's URL is a page, not a listing",
                served: &[("index.html", "/", "<h1>hi</h1>")],
                changes: &[("index.html", Modified)],
                now: &[("index.html", "<h1>changed</h1>")],
                expect: || {
                    vec![Payload::FullReload {
                        path: Some("/index.html".into()),
                        triggered_by: None,
                    }]
                },
                ..BASE
            },
            Case {
                rule: "two changed pages reload every page",
                changes: &[("a.html", Modified), ("b.htm", Removed)],
                expect: || vec![Payload::full_reload_all()],
                ..BASE
            },
            Case {
                rule: "a removed file that was loaded reloads every page",
                served: &[("a.css", "/a.css", "a{}")],
                changes: &[("a.css", Removed)],
                expect: || vec![reload_all_by("/a.css")],
                ..BASE
            },
            Case {
                rule: "a removed module that is only imported reloads every page",
                modules: &[("/main.js", "import './gone.js'")],
                changes: &[("gone.js", Removed)],
                expect: || vec![reload_all_by("/gone.js")],
                ..BASE
            },
            Case {
                rule: "a removed file nobody loaded sends nothing",
                changes: &[("gone.css", Removed)],
                ..BASE
            },
            Case {
                rule: "a reload_on match reloads every page even if nobody loaded it",
                reload_on: &["*.tmpl"],
                changes: &[("views/home.tmpl", Modified)],
                expect: || vec![reload_all_by("/views/home.tmpl")],
                ..BASE
            },
            Case {
                rule: "a self-accepting module is hot-updated",
                served: &[("app.js", "/app.js", "v1")],
                modules: &[("/app.js", "import.meta.hot.accept()")],
                changes: &[("app.js", Modified)],
                now: &[("app.js", "v2")],
                expect: || {
                    vec![Payload::Update {
                        updates: vec![Update::js("/app.js", "/app.js", T)],
                    }]
                },
                ..BASE
            },
            Case {
                rule: "an importer that accepts the module is the boundary",
                modules: &[
                    (
                        "/main.js",
                        "import './dep.js'; import.meta.hot.accept('./dep.js', () => {})",
                    ),
                    ("/dep.js", "export const x = 1"),
                ],
                changes: &[("dep.js", Modified)],
                expect: || {
                    vec![Payload::Update {
                        updates: vec![Update::js("/main.js", "/dep.js", T)],
                    }]
                },
                ..BASE
            },
            Case {
                rule: "a module change nobody accepts reloads every page",
                modules: &[("/main.js", "import './dep.js'"), ("/dep.js", "export {}")],
                changes: &[("dep.js", Modified)],
                expect: || vec![reload_all_by("/dep.js")],
                ..BASE
            },
            Case {
                rule: "a loaded module outside the graph reloads every page",
                served: &[("big.js", "/big.js", "v1")],
                changes: &[("big.js", Modified)],
                now: &[("big.js", "v2")],
                expect: || vec![reload_all_by("/big.js")],
                ..BASE
            },
            Case {
                rule: "an image the page shows is swapped in place; other clients reload",
                served: &[("logo.svg", "/logo.svg", "<svg>")],
                changes: &[("logo.svg", Modified)],
                now: &[("logo.svg", "<svg/>")],
                expect: || vec![reload_all_by("/logo.svg")],
                in_place: || {
                    Some(InPlace {
                        payloads: vec![assets(
                            serde_json::json!([{ "path": "/logo.svg", "sheets": [] }]),
                        )],
                        updates: vec![swapped(
                            "/logo.svg",
                            InPlaceKind::Asset,
                            "/logo.svg",
                            InPlaceReason::Changed,
                        )],
                    })
                },
                ..BASE
            },
            Case {
                rule: "a sheet changed down an @import chain swaps every sheet on it in place",
                served: &[
                    ("a.css", "/a.css", "@import 'b.css';"),
                    ("b.css", "/b.css", "@import 'sub/c.css';"),
                    ("sub/c.css", "/sub/c.css", "h1{}"),
                ],
                sheets: &[
                    ("/a.css", "@import 'b.css';"),
                    ("/b.css", "@import 'sub/c.css';"),
                    ("/sub/c.css", "h1{}"),
                ],
                changes: &[("sub/c.css", Modified)],
                now: &[("sub/c.css", "h2{}")],
                expect: || vec![reload_all_by("/sub/c.css")],
                in_place: || {
                    Some(InPlace {
                        payloads: vec![Payload::Update {
                            updates: vec![
                                Update::css("/sub/c.css", T),
                                Update::css("/b.css", T),
                                Update::css("/a.css", T),
                            ],
                        }],
                        updates: vec![
                            swapped(
                                "/sub/c.css",
                                InPlaceKind::Stylesheet,
                                "/sub/c.css",
                                InPlaceReason::Changed,
                            ),
                            swapped(
                                "/b.css",
                                InPlaceKind::Stylesheet,
                                "/sub/c.css",
                                InPlaceReason::Imports("/sub/c.css".into()),
                            ),
                            swapped(
                                "/a.css",
                                InPlaceKind::Stylesheet,
                                "/sub/c.css",
                                InPlaceReason::Imports("/b.css".into()),
                            ),
                        ],
                    })
                },
                ..BASE
            },
            Case {
                rule: "a file a sheet references with url() swaps that sheet in place",
                served: &[
                    ("a.css", "/a.css", "p{background:url(bg.png)}"),
                    ("bg.png", "/bg.png", "png1"),
                ],
                sheets: &[("/a.css", "p{background:url(bg.png)}")],
                changes: &[("bg.png", Modified)],
                now: &[("bg.png", "png2")],
                expect: || vec![reload_all_by("/bg.png")],
                in_place: || {
                    Some(InPlace {
                        payloads: vec![
                            Payload::Update {
                                updates: vec![Update::css("/a.css", T)],
                            },
                            assets(
                                serde_json::json!([{ "path": "/bg.png", "sheets": ["/a.css"] }]),
                            ),
                        ],
                        updates: vec![
                            swapped(
                                "/a.css",
                                InPlaceKind::Stylesheet,
                                "/bg.png",
                                InPlaceReason::References("/bg.png".into()),
                            ),
                            swapped(
                                "/bg.png",
                                InPlaceKind::Asset,
                                "/bg.png",
                                InPlaceReason::Changed,
                            ),
                        ],
                    })
                },
                ..BASE
            },
            Case {
                rule: "a removed imported sheet: its importer is fetched anew in place, \
                       clients without in-place updates reload",
                served: &[
                    ("a.css", "/a.css", "@import 'b.css';"),
                    ("b.css", "/b.css", "h1{}"),
                ],
                sheets: &[("/a.css", "@import 'b.css';"), ("/b.css", "h1{}")],
                changes: &[("b.css", Removed)],
                expect: || vec![reload_all_by("/b.css")],
                in_place: || {
                    Some(InPlace {
                        payloads: vec![Payload::Update {
                            updates: vec![Update::css("/a.css", T)],
                        }],
                        updates: vec![swapped(
                            "/a.css",
                            InPlaceKind::Stylesheet,
                            "/b.css",
                            InPlaceReason::Imports("/b.css".into()),
                        )],
                    })
                },
                ..BASE
            },
            Case {
                rule: "a sheet @imported by one imported from JavaScript re-imports that module, \
                       for every client",
                served: &[
                    ("src/a.css", "/src/a.css?import", "@import 'b.css';"),
                    ("src/b.css", "/src/b.css", "h1{}"),
                ],
                modules: &[
                    ("/src/main.js", "import './a.css'"),
                    ("/src/a.css", "import.meta.hot.accept()"),
                ],
                sheets: &[("/src/a.css", "@import 'b.css';"), ("/src/b.css", "h1{}")],
                changes: &[("src/b.css", Modified)],
                now: &[("src/b.css", "h2{}")],
                expect: || {
                    vec![Payload::Update {
                        updates: vec![
                            imported_css_update("/src/a.css"),
                            Update::css("/src/b.css", T),
                        ],
                    }]
                },
                ..BASE
            },
            Case {
                rule: "an image a sheet imported from JavaScript references re-imports that \
                       module; clients without in-place updates reload as for any image",
                served: &[
                    ("a.css", "/a.css?import", "p{background:url(bg.png)}"),
                    ("bg.png", "/bg.png", "png1"),
                ],
                modules: &[
                    ("/main.js", "import './a.css'"),
                    ("/a.css", "import.meta.hot.accept()"),
                ],
                sheets: &[("/a.css", "p{background:url(bg.png)}")],
                changes: &[("bg.png", Modified)],
                now: &[("bg.png", "png2")],
                expect: || vec![reload_all_by("/bg.png")],
                in_place: || {
                    Some(InPlace {
                        payloads: vec![
                            Payload::Update {
                                updates: vec![imported_css_update("/a.css")],
                            },
                            assets(
                                serde_json::json!([{ "path": "/bg.png", "sheets": ["/a.css"] }]),
                            ),
                        ],
                        updates: vec![swapped(
                            "/bg.png",
                            InPlaceKind::Asset,
                            "/bg.png",
                            InPlaceReason::Changed,
                        )],
                    })
                },
                ..BASE
            },
            Case {
                rule: "a page stylesheet with no importers is the same css-update for every client",
                served: &[("a.css", "/a.css", "@import 'b.css';")],
                sheets: &[("/a.css", "@import 'b.css';")],
                changes: &[("a.css", Modified)],
                now: &[("a.css", "@import 'c.css';")],
                expect: || {
                    vec![Payload::Update {
                        updates: vec![Update::css("/a.css", T)],
                    }]
                },
                ..BASE
            },
            Case {
                rule: "a full reload for in-place clients too is one payload for every client",
                served: &[
                    ("a.css", "/a.css", "@import 'b.css';"),
                    ("b.css", "/b.css", "h1{}"),
                    ("app.js", "/app.js", "v1"),
                ],
                sheets: &[("/a.css", "@import 'b.css';"), ("/b.css", "h1{}")],
                changes: &[("b.css", Modified), ("app.js", Modified)],
                now: &[("b.css", "h2{}"), ("app.js", "v2")],
                expect: || vec![reload_all_by("/b.css")],
                ..BASE
            },
            Case {
                rule: "a full reload replaces the batch's updates and names the first trigger",
                served: &[
                    ("a.css", "/a.css", "a{}"),
                    ("logo.svg", "/logo.svg", "<svg>"),
                ],
                changes: &[
                    ("a.css", Modified),
                    ("logo.svg", Modified),
                    ("x.tmpl", Modified),
                ],
                reload_on: &["*.tmpl"],
                expect: || vec![reload_all_by("/logo.svg")],
                ..BASE
            },
            Case {
                rule: "updates come before a page reload, duplicates dropped",
                served: &[("a.css", "/a.css", "a{}")],
                changes: &[
                    ("a.css", Modified),
                    ("a.css", Modified),
                    ("p.html", Modified),
                ],
                expect: || {
                    vec![
                        Payload::Update {
                            updates: vec![Update::css("/a.css", T)],
                        },
                        Payload::FullReload {
                            path: Some("/p.html".into()),
                            triggered_by: None,
                        },
                    ]
                },
                ..BASE
            },
            Case {
                rule: "a path outside the root is ignored",
                changes: &[("/elsewhere/a.html", Modified)],
                ..BASE
            },
        ];
        let mut failures = Vec::new();
        for case in &cases {
            let got = run(case);
            let want = Outcome {
                payloads: (case.expect)(),
                in_place: (case.in_place)(),
                // Reasons have their own test below.
                reason: got.reason.clone(),
            };
            if got != want {
                failures.push(format!("{}:\n  want {want:?}\n  got  {got:?}", case.rule));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn every_full_reload_names_its_reason() {
        let cases: [(Case, Option<Reason>); 6] = [
            (
                Case {
                    modules: &[("/main.js", "import './util.js'"), ("/util.js", "")],
                    served: &[("util.js", "/util.js", "a")],
                    changes: &[("util.js", Modified)],
                    ..BASE
                },
                Some(Reason::NotAccepted {
                    file: "/util.js".into(),
                    chain: vec!["/util.js".into(), "/main.js".into()],
                }),
            ),
            (
                Case {
                    served: &[("logo.png", "/logo.png", "a")],
                    changes: &[("logo.png", Modified)],
                    ..BASE
                },
                Some(Reason::NoHotUpdate {
                    file: "/logo.png".into(),
                }),
            ),
            (
                Case {
                    served: &[("a.css", "/a.css", "a{}")],
                    changes: &[("a.css", Removed)],
                    ..BASE
                },
                Some(Reason::Removed {
                    file: "/a.css".into(),
                }),
            ),
            (
                Case {
                    changes: &[("docs/p.html", Modified)],
                    ..BASE
                },
                Some(Reason::PageEdited {
                    pages: vec!["/docs/p.html".into()],
                }),
            ),
            (
                Case {
                    overflowed: true,
                    ..BASE
                },
                Some(Reason::EventsLost),
            ),
            (
                Case {
                    served: &[("a.css", "/a.css", "a{}")],
                    changes: &[("a.css", Modified)],
                    ..BASE
                },
                None,
            ),
        ];
        for (case, want) in &cases {
            let got = run(case);
            assert_eq!(&got.reason, want, "{:?}", got.payloads);
            let reloads = got
                .payloads
                .iter()
                .any(|p| matches!(p, Payload::FullReload { .. }));
            assert_eq!(reloads, want.is_some(), "{:?}", got.payloads);
        }
        let reason = Reason::NotAccepted {
            file: "/util.js".into(),
            chain: vec!["/util.js".into(), "/main.js".into()],
        };
        let Payload::Custom { event, data } = reason.payload() else {
            panic!("a custom payload");
        };
        assert_eq!(event, RELOAD_EVENT);
        let data = data.unwrap();
        assert_eq!(data["reason"], "not-accepted");
        assert_eq!(data["file"], "/util.js");
        assert_eq!(data["chain"], serde_json::json!(["/util.js", "/main.js"]));
        assert!(
            data["message"]
                .as_str()
                .unwrap()
                .contains("/util.js -> /main.js"),
            "{data}"
        );
    }

    #[test]
    fn the_known_version_follows_each_save() {
        let root = Path::new("/site");
        let mut served = ServedFiles::default();
        served.record(&root.join("a.css"), "/a.css", false, "\"v1\"", Some(b"a{}"));
        let v2 = Some(content_hash(b"b{}"));
        assert!(!served.unchanged(&root.join("a.css"), v2));
        assert!(
            served.unchanged(&root.join("a.css"), v2),
            "b{{}} is now known"
        );
    }

    #[test]
    fn a_version_served_again_is_not_hashed_again() {
        let path = Path::new("/site/a.css");
        let mut served = ServedFiles::default();
        served.record(path, "/a.css", false, "\"v1\"", Some(b"a{}"));
        // Same tag without bytes (a 304): the known hash stays.
        served.record(path, "/a.css", false, "\"v1\"", None);
        assert!(served.unchanged(path, Some(content_hash(b"a{}"))));
        // A new tag without bytes (streamed): nothing known any more.
        served.record(path, "/a.css", false, "\"v2\"", None);
        assert!(!served.has_hash(path));
    }
}
