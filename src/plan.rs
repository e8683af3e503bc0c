//! Change sets -> payloads: the decision of what each browser must do about a change.
//!
//! Precision matters as much as speed: a file no browser has loaded produces no message,
//! a save that leaves a loaded file's bytes unchanged produces no message, stylesheets swap
//! in place, modules follow the module graph, and everything else reloads the page.

use crate::modules::{Modules, Propagation};
use crate::protocol::{InvalidateMessage, Payload, Update, UpdateKind, next_timestamp};
use crate::sync::{content_hash, lock};
use crate::watch::{ChangeKind, ChangeSet};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Files up to this size have their content hash kept, so a save that rewrites the same
/// bytes (touch, a formatter with nothing to do) sends nothing. Larger files always count
/// as changed.
const HASHED_LIMIT: u64 = 4 * 1024 * 1024;

/// What the browsers have loaded, and the module graph of the scripts among it.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Canonical root.
    root: PathBuf,
    /// Real file path -> what was served from it.
    served: Mutex<HashMap<PathBuf, ServedFile>>,
    /// The module graph the transform stage builds.
    modules: Arc<Modules>,
    /// Files that reload every page when they change (templates a backend renders).
    reload_on: Option<globset::GlobSet>,
}

#[derive(Debug, Default)]
struct ServedFile {
    /// URL paths (as requested, without query) that served this file as it is.
    urls: BTreeSet<String>,
    /// Whether it was also served as a module (transformed): its changes follow the graph.
    module: bool,
    /// The validator of the version last served, to hash each version once.
    etag: String,
    /// Content hash of the version last served or seen.
    hash: Option<u64>,
}

/// The payloads for one change set, in sending order.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Outcome {
    pub payloads: Vec<Payload>,
}

impl Plan {
    pub fn new(root: PathBuf, modules: Arc<Modules>) -> Self {
        Plan {
            root,
            served: Mutex::new(HashMap::new()),
            modules,
            reload_on: None,
        }
    }

    /// Reload every page when a file matching `globs` changes, loaded by a browser or not.
    pub fn reload_on(mut self, globs: Option<globset::GlobSet>) -> Self {
        self.reload_on = globs;
        self
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
        let mut served = lock(&self.served);
        let entry = served.entry(real.to_path_buf()).or_default();
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

    /// Decide the payloads for a change set. Reads changed files (to compare content), so
    /// call it on a blocking thread.
    pub fn plan(&self, set: &ChangeSet) -> Outcome {
        if set.overflowed {
            tracing::warn!("file events were lost (too many at once); reloading all pages");
            return Outcome {
                payloads: vec![Payload::full_reload_all()],
            };
        }
        let timestamp = next_timestamp();
        let mut updates: Vec<Update> = Vec::new();
        let mut pages = BTreeSet::new();
        let mut reload_all: Option<String> = None;
        for change in &set.changes {
            let Some(url) = self.url_of(&change.path) else {
                continue;
            };
            if let Some(globs) = &self.reload_on
                && globs.is_match(&url[1..])
            {
                reload_all.get_or_insert(url);
                continue;
            }
            if crate::modules::env::is_env_file(&url) {
                // `import.meta.env` changed (the composition root has reloaded it): every
                // page runs modules that may read it.
                reload_all.get_or_insert(url);
                continue;
            }
            let ext = extension(&change.path);
            if ext == "html" || ext == "htm" {
                if change.kind != ChangeKind::Removed && self.content_unchanged(&change.path) {
                    tracing::debug!(url, "page saved without changes");
                } else {
                    pages.insert(url);
                }
                continue;
            }
            let (served_urls, as_module) = self.served_as(&change.path);
            let loaded = !served_urls.is_empty() || as_module;
            if change.kind == ChangeKind::Removed {
                lock(&self.served).remove(&change.path);
                if loaded || self.modules.graph().module(&url).is_some() {
                    reload_all.get_or_insert(url);
                }
                continue;
            }
            if loaded && self.content_unchanged(&change.path) {
                tracing::debug!(url, "saved without changes");
                continue;
            }
            if ext == "css" && !served_urls.is_empty() {
                // `<link>`ed: swapped in place. The same file imported from JavaScript is a
                // module too, updated through the graph below.
                updates.extend(
                    served_urls
                        .iter()
                        .map(|u| Update::css(u.clone(), timestamp)),
                );
            } else if !served_urls.is_empty() {
                // An image, a font, a script sent as it is: only a reload shows the new bytes.
                reload_all.get_or_insert(url);
                continue;
            }
            match self.modules.graph().propagate(&url, timestamp) {
                Propagation::Updates(found) => updates.extend(found),
                Propagation::FullReload { .. } => {
                    reload_all.get_or_insert(url);
                }
                // Served as a module but not in the graph (a public file): reload.
                Propagation::NotInGraph if as_module => {
                    reload_all.get_or_insert(url);
                }
                Propagation::NotInGraph if served_urls.is_empty() => {
                    tracing::debug!(url, "changed, but no browser has loaded it");
                }
                Propagation::NotInGraph => {}
            }
        }
        let mut payloads = Vec::new();
        if let Some(trigger) = reload_all {
            payloads.push(Payload::FullReload {
                path: Some("*".into()),
                triggered_by: Some(trigger),
            });
            return Outcome { payloads };
        }
        if !updates.is_empty() {
            dedupe(&mut updates);
            payloads.push(Payload::Update { updates });
        }
        match pages.len() {
            0 => {}
            1 => payloads.push(Payload::FullReload {
                path: pages.pop_first(),
                triggered_by: None,
            }),
            _ => payloads.push(Payload::full_reload_all()),
        }
        Outcome { payloads }
    }

    /// `hot.invalidate()` from a client: propagate to the module's importers.
    pub fn invalidate(&self, message: &InvalidateMessage) -> Option<Payload> {
        let path = message.path.as_str();
        let first = message.first_invalidated_by.as_deref();
        match self
            .modules
            .graph()
            .invalidate(path, first, next_timestamp())
        {
            Propagation::Updates(updates) if updates.is_empty() => None,
            Propagation::Updates(updates) => Some(Payload::Update { updates }),
            Propagation::FullReload { triggered_by } => Some(Payload::FullReload {
                path: Some("*".into()),
                triggered_by: Some(triggered_by),
            }),
            Propagation::NotInGraph => None,
        }
    }

    fn url_of(&self, path: &Path) -> Option<String> {
        url_path(&self.root, path)
    }

    /// The URLs that served the file as it is, and whether it was served as a module.
    fn served_as(&self, path: &Path) -> (Vec<String>, bool) {
        lock(&self.served)
            .get(path)
            .map(|e| (e.urls.iter().cloned().collect(), e.module))
            .unwrap_or_default()
    }

    /// Whether the file's bytes equal the version browsers have; updates the kept hash.
    fn content_unchanged(&self, path: &Path) -> bool {
        let Some(known) = lock(&self.served).get(path).and_then(|e| e.hash) else {
            return false;
        };
        let Some(now) = hash_file(path) else {
            return false;
        };
        if let Some(entry) = lock(&self.served).get_mut(path) {
            entry.hash = Some(now);
        }
        known == now
    }
}

/// The `reload_on` patterns: relative to the root; a pattern without `/` also matches file
/// names in any folder (like `.gitignore`). `None` when there are none.
pub(crate) fn reload_globs(patterns: &[String]) -> Result<Option<globset::GlobSet>, crate::Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut set = globset::GlobSetBuilder::new();
    for pattern in patterns {
        let bad = |err: globset::Error| crate::Error::BadPattern {
            pattern: pattern.clone(),
            reason: err.kind().to_string(),
        };
        let trimmed = pattern.trim_start_matches('/');
        let full = if trimmed.contains('/') {
            trimmed.to_owned()
        } else {
            format!("**/{trimmed}")
        };
        let glob = globset::GlobBuilder::new(&full)
            .literal_separator(true)
            .build()
            .map_err(bad)?;
        set.add(glob);
    }
    set.build()
        .map(Some)
        .map_err(|err| crate::Error::BadPattern {
            pattern: patterns.join(" "),
            reason: err.kind().to_string(),
        })
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
