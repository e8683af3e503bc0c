//! The load stage for files: decide what to answer (blocking file-system work, done once per
//! request on the blocking pool), as a value.
//!
//! The split follows tower-http's `ServeDir`: [`decide`] returns an [`Outcome`],
//! the transform stage rewrites modules and pages, and [`respond`](super::respond) turns
//! the result into a response, so every branch (not modified, range not satisfiable,
//! redirect ...) is one value that is easy to test and log.

use super::inject;
use super::resolve::{DenyList, SafePath};
use crate::modules::{self, Kind};
use crate::sync::content_hash;
use bytes::Bytes;
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Files up to this size are read into memory in the same blocking call that opens them;
/// larger ones are streamed in chunks so memory stays flat whatever their size.
pub(crate) const IN_MEMORY_LIMIT: u64 = 256 * 1024;

/// JavaScript modules up to this size are read whole, because they are rewritten for HMR
/// (hot context, fresh import URLs) and scanned into the module graph; larger ones are
/// served as they are.
pub(crate) const SCRIPT_LIMIT: u64 = 16 * 1024 * 1024;

/// The request facts that decide the answer.
#[derive(Clone, Debug, Default)]
pub(crate) struct FileRequest {
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    pub range: Option<String>,
    pub if_range: Option<String>,
    pub head: bool,
    /// `Accept` allows HTML: a browser navigation (for the SPA fallback).
    pub accepts_html: bool,
    /// Serve HTML pages with the client's `<script>` tag (see [`inject`]).
    pub inject_client: bool,
    /// The request asks for a non-JS file as a module (`?import`, `?raw`, ...).
    pub wrap: Option<modules::wrap::Wrap>,
    /// Send scripts as they are, without the module transform (`public/`, as in Vite).
    pub as_is: bool,
    /// A module import asked (`?import`, `Sec-Fetch-Dest: script`): see [`Kind::Compiled`].
    pub imported: bool,
    /// The installed packages' version: the URLs a page's inline modules import carry it,
    /// so the page's entity tag does too.
    pub deps_version: Option<String>,
    /// Which files are modules, with the embedder's file types; without it, by extension.
    pub modules: Option<std::sync::Arc<modules::Modules>>,
}

impl FileRequest {
    /// What the transform stage makes of the file at `path` for this request: the request's
    /// wrapper first (`main.js?raw` is a string), else the file's own kind.
    fn module_kind(&self, path: &Path) -> Option<Kind> {
        let own = || match &self.modules {
            Some(modules) => modules.kind_of(path),
            None => modules::kind_of(path),
        };
        match self.wrap {
            Some(wrap) => Some(Kind::Wrapped(wrap)),
            None if self.as_is => None,
            None => own().map(|kind| match kind {
                Kind::Compiled { .. } => Kind::Compiled {
                    imported: self.imported,
                },
                other => other,
            }),
        }
    }
}

/// What the file system said about a request.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Serve (part of) a file.
    File(FoundFile),
    /// The client's copy is current (RFC 9110 §13.1.1, §13.1.3).
    NotModified {
        path: PathBuf,
        validators: Validators,
    },
    /// The range lies outside the file (RFC 9110 §15.5.17).
    RangeNotSatisfiable { len: u64 },
    /// A directory was asked for without its trailing slash.
    AddSlash,
    /// A directory without `index.html`: its entries, for a listing page.
    Listing(Listing),
    /// Nothing there.
    NotFound,
    /// Denied by policy, outside the root, or not a regular file.
    Forbidden,
}

/// What a listing page shows of a folder: what a browser may open in it, sorted (folders
/// first, then by name). Denied names, dotfiles, `node_modules` and what `.gitignore` or
/// `.ignore` files exclude are left out, and so is anything whose real path leaves the root.
#[derive(Debug)]
pub(crate) struct Listing {
    /// The real path of the folder.
    pub path: PathBuf,
    pub entries: Vec<ListedEntry>,
}

/// One entry of a [`Listing`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ListedEntry {
    pub name: String,
    pub dir: bool,
    pub len: u64,
    pub modified: SystemTime,
}

/// Strong validators for a file version.
#[derive(Clone, Debug)]
pub(crate) struct Validators {
    pub etag: String,
    pub last_modified: SystemTime,
}

/// A file about to be served.
#[derive(Debug)]
pub(crate) struct FoundFile {
    /// The real path (symlinks resolved).
    pub path: PathBuf,
    pub validators: Validators,
    /// The full length of the file.
    pub len: u64,
    /// The byte range to send (inclusive end), when a satisfiable range was asked for.
    pub range: Option<(u64, u64)>,
    pub body: FileBody,
    /// Whether the bytes are sent as they are or rewritten first.
    pub rewrite: Rewrite,
}

/// What happens to a file's bytes before they are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rewrite {
    /// Sent as they are.
    None,
    /// A module read whole for the transform stage ([`modules::Modules::transform`]): its
    /// validators are decided after the transform, so conditionals and ranges were not
    /// applied here.
    Module(Kind),
    /// A stylesheet read whole for the transform stage (`css::Stylesheets::transform`:
    /// references to hot-updated files get `?t=`); like a module, conditionals and ranges
    /// wait until it is known whether anything was rewritten.
    Stylesheet,
    /// An HTML page read whole, to be sent with the client's tag inserted: `len` and `body`
    /// are the file's, `validators` already those of the page as sent.
    Page,
}

/// The bytes to send.
#[derive(Debug)]
pub(crate) enum FileBody {
    /// HEAD: headers only.
    Empty,
    /// Small files, read at once.
    Bytes(Bytes),
    /// Large files: positioned at the first byte to send; send `len` bytes.
    Stream { file: File, len: u64 },
}

/// Decide the answer for `safe` under `root` (which must be canonical). Small files that
/// are found are remembered in `cache` for [`FileCache::lookup`].
pub(crate) fn decide(
    root: &Path,
    deny: &DenyList,
    spa: bool,
    cache: &FileCache,
    safe: &SafePath,
    req: &FileRequest,
    unlisted: &Unlisted,
) -> Outcome {
    if deny.denies(&safe.segments) {
        return Outcome::Forbidden;
    }
    let requested = root.join(safe.to_relative());
    let (real, stat_path) = match locate(root, deny, &requested) {
        Located::Found(real, meta) if meta.is_dir() => {
            if !safe.trailing_slash {
                return Outcome::AddSlash;
            }
            let index = requested.join("index.html");
            match locate(root, deny, &real.join("index.html")) {
                Located::Found(real, meta) if meta.is_file() => (real, index),
                Located::Found(..) | Located::NotFound => {
                    // A folder of demos: show what is in it (a single-page app's own
                    // fallback page first, when there is one).
                    return match fallback(root, deny, spa, req) {
                        Outcome::NotFound => {
                            Outcome::Listing(list(root, deny, unlisted, &safe.segments, real))
                        }
                        page => page,
                    };
                }
                Located::Forbidden => return Outcome::Forbidden,
            }
        }
        Located::Found(real, _) => (real, requested),
        Located::NotFound => return fallback(root, deny, spa, req),
        Located::Forbidden => return Outcome::Forbidden,
    };
    open(real, req, Some((cache, CacheKey::of(safe), stat_path)))
}

/// Open a file outside the root that the `/@fs/` route already checked (real path, inside
/// an allowed package folder, not denied). Never cached by request path: the check runs
/// again for every request.
pub(crate) fn open_outside(real: PathBuf, req: &FileRequest) -> Outcome {
    open(real, req, None)
}

/// What directory listings leave out on top of `.gitignore`/`.ignore` files: the
/// configuration's ignore globs (`--ignore`, [`Config::ignore`](crate::Config::ignore)),
/// gitignore-style and relative to the root, as the watcher reads them.
#[derive(Debug)]
pub(crate) struct Unlisted(ignore::gitignore::Gitignore);

impl Unlisted {
    /// The globs of `patterns` under `root`; an invalid one is the configuration error the
    /// watcher would also report.
    pub(crate) fn new(root: &Path, patterns: &[String]) -> Result<Self, crate::Error> {
        let mut builder = ignore::gitignore::GitignoreBuilder::new(root);
        for pattern in patterns {
            builder
                .add_line(None, pattern)
                .map_err(|err| crate::Error::BadPattern {
                    pattern: pattern.clone(),
                    source: Box::new(err),
                })?;
        }
        let set = builder.build().map_err(|err| crate::Error::BadPattern {
            pattern: patterns.join(", "),
            source: Box::new(err),
        })?;
        Ok(Unlisted(set))
    }

    fn leaves_out(&self, path: &Path, is_dir: bool) -> bool {
        self.0.matched_path_or_any_parents(path, is_dir).is_ignore()
    }
}

/// The entries of the folder at `real` (`segments` from the root) that a browser may open.
fn list(
    root: &Path,
    deny: &DenyList,
    unlisted: &Unlisted,
    segments: &[String],
    real: PathBuf,
) -> Listing {
    // The same ignore files the watcher reads, one level deep: no walk of the tree.
    let walk = ignore::WalkBuilder::new(&real)
        .max_depth(Some(1))
        .hidden(true)
        .parents(true)
        .git_ignore(true)
        .git_exclude(false)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        .build();
    let mut entries = Vec::new();
    for entry in walk.flatten().filter(|e| e.depth() == 1) {
        let Some(name) = entry.file_name().to_str() else {
            continue; // a name that is not UTF-8 has no URL a browser could follow
        };
        if name == "node_modules" || name.starts_with('.') {
            continue;
        }
        let mut path_segments = segments.to_vec();
        path_segments.push(name.to_owned());
        if deny.denies(&path_segments) {
            continue;
        }
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        if unlisted.leaves_out(&root.join(path_segments.join("/")), is_dir) {
            continue;
        }
        // Symlinks are followed, and left out when they lead out of the root or to a
        // denied file, as a request for them would be refused.
        let Located::Found(_, meta) = locate(root, deny, entry.path()) else {
            continue;
        };
        entries.push(ListedEntry {
            name: name.to_owned(),
            dir: meta.is_dir(),
            len: if meta.is_dir() { 0 } else { meta.len() },
            modified: meta.modified().unwrap_or(UNIX_EPOCH),
        });
    }
    entries.sort_by(|a, b| {
        (!a.dir, a.name.to_lowercase(), &a.name).cmp(&(!b.dir, b.name.to_lowercase(), &b.name))
    });
    Listing {
        path: real,
        entries,
    }
}

/// The SPA fallback: browser navigations to unknown paths get the root `index.html`.
fn fallback(root: &Path, deny: &DenyList, spa: bool, req: &FileRequest) -> Outcome {
    if !(spa && req.accepts_html) {
        return Outcome::NotFound;
    }
    match locate(root, deny, &root.join("index.html")) {
        Located::Found(real, meta) if meta.is_file() => open(real, req, None),
        _ => Outcome::NotFound,
    }
}

/// Remembers small files by request path so that repeated requests (the common case in
/// development: every page load asks for the same files) skip the blocking pool.
///
/// A hit costs one `stat(2)` of the requested path, made on the async worker: microseconds
/// on a local disk. The entry is used only while that path still leads to the same inode
/// with the same size, mtime and ctime, so a save, a rename over the file or a swapped
/// symlink all miss and take the full path (with its root and deny checks) again.
#[derive(Debug, Default)]
pub(crate) struct FileCache {
    entries: std::sync::Mutex<std::collections::HashMap<CacheKey, std::sync::Arc<CachedFile>>>,
    bytes: std::sync::atomic::AtomicUsize,
}

/// Total size of cached file contents before the cache starts over.
const CACHE_BUDGET: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    relative: PathBuf,
    trailing_slash: bool,
}

impl CacheKey {
    pub fn of(safe: &SafePath) -> Self {
        CacheKey {
            relative: safe.to_relative(),
            trailing_slash: safe.trailing_slash,
        }
    }
}

#[derive(Debug)]
struct CachedFile {
    stat_path: PathBuf,
    real: PathBuf,
    identity: Identity,
    validators: Validators,
    bytes: Bytes,
}

/// What must stay equal for a cached copy to still be the file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    unix: (u64, u64, i64, i64),
}

impl Identity {
    fn of(meta: &Metadata) -> Self {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Identity {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            unix: (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec()),
        }
    }
}

impl FileCache {
    /// Answer from the cache when the file is unchanged; `None` means "decide".
    pub fn lookup(&self, root: &Path, safe: &SafePath, req: &FileRequest) -> Option<Outcome> {
        let key = CacheKey::of(safe);
        let entry = self.lock().get(&key).cloned()?;
        let fresh = fs::metadata(&entry.stat_path)
            .is_ok_and(|meta| meta.is_file() && Identity::of(&meta) == entry.identity);
        if !fresh || !entry.stat_path.starts_with(root) {
            if let Some(gone) = self.lock().remove(&key) {
                self.bytes
                    .fetch_sub(gone.bytes.len(), std::sync::atomic::Ordering::Relaxed);
            }
            return None;
        }
        Some(respond(
            entry.real.clone(),
            entry.validators.clone(),
            entry.bytes.clone(),
            req,
        ))
    }

    /// Drop entries for these real paths: the watcher saw them change. This covers saves
    /// that the stat check cannot see (same size within one mtime tick).
    pub fn forget<'a>(&self, real_paths: impl IntoIterator<Item = &'a Path>) {
        let gone: std::collections::HashSet<&Path> = real_paths.into_iter().collect();
        let mut entries = self.lock();
        entries.retain(|_, entry| {
            let keep = !gone.contains(entry.real.as_path());
            if !keep {
                self.bytes
                    .fetch_sub(entry.bytes.len(), std::sync::atomic::Ordering::Relaxed);
            }
            keep
        });
    }

    /// Drop every entry: what a path names may have changed (a `public/` appeared).
    pub fn clear(&self) {
        self.lock().clear();
        self.bytes.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    fn store(&self, key: CacheKey, entry: CachedFile) {
        use std::sync::atomic::Ordering;
        let size = entry.bytes.len();
        let mut entries = self.lock();
        if self.bytes.load(Ordering::Relaxed) + size > CACHE_BUDGET {
            // Start over rather than track recency: a dev site's working set is small, and
            // the budget only guards against serving a huge tree of small files.
            entries.clear();
            self.bytes.store(0, Ordering::Relaxed);
        }
        if let Some(old) = entries.insert(key, std::sync::Arc::new(entry)) {
            self.bytes.fetch_sub(old.bytes.len(), Ordering::Relaxed);
        }
        self.bytes.fetch_add(size, Ordering::Relaxed);
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<CacheKey, std::sync::Arc<CachedFile>>>
    {
        crate::sync::lock(&self.entries)
    }
}

enum Located {
    Found(PathBuf, Metadata),
    NotFound,
    Forbidden,
}

/// Resolve symlinks and make sure the real path stays inside the root and is not denied.
///
/// For a missing path the nearest existing ancestor is checked too, so that a symlink to a
/// directory outside the root answers 403 whether or not the requested file exists there:
/// a 404/403 difference would reveal files outside the root.
fn locate(root: &Path, deny: &DenyList, path: &Path) -> Located {
    match fs::canonicalize(path) {
        Ok(real) => {
            let Ok(relative) = real.strip_prefix(root) else {
                return Located::Forbidden;
            };
            if deny.denies_path(relative) {
                return Located::Forbidden;
            }
            match fs::metadata(&real) {
                Ok(meta) if meta.is_file() || meta.is_dir() => Located::Found(real, meta),
                // FIFOs, sockets and devices would block or leak: never open them.
                Ok(_) => Located::Forbidden,
                Err(_) => Located::NotFound,
            }
        }
        Err(err) if is_missing(&err) => {
            for ancestor in path.ancestors().skip(1) {
                if let Ok(real) = fs::canonicalize(ancestor) {
                    return if real.starts_with(root) {
                        Located::NotFound
                    } else {
                        Located::Forbidden
                    };
                }
            }
            Located::NotFound
        }
        Err(err) => {
            tracing::debug!(path = %path.display(), %err, "refusing unreadable path");
            Located::Forbidden
        }
    }
}

fn is_missing(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    ) || is_symlink_loop(err)
}

/// ELOOP: a symlink cycle is as good as missing.
#[cfg(unix)]
fn is_symlink_loop(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(not(unix))]
fn is_symlink_loop(_: &io::Error) -> bool {
    false
}

/// Open the file; small files (and scripts, which are rewritten) are read whole and cached,
/// large ones are streamed.
fn open(
    path: PathBuf,
    req: &FileRequest,
    cache: Option<(&FileCache, CacheKey, PathBuf)>,
) -> Outcome {
    let mut file = match File::open(&path) {
        Ok(file) => file,
        Err(err) if is_missing(&err) => return Outcome::NotFound,
        Err(err) => {
            tracing::debug!(path = %path.display(), %err, "cannot open");
            return Outcome::Forbidden;
        }
    };
    // Validators come from the open file, not the path, so they describe the bytes we send.
    let meta = match file.metadata() {
        Ok(meta) if meta.is_file() => meta,
        _ => return Outcome::Forbidden,
    };
    let len = meta.len();
    let mut validators = validators_of(&meta);
    let module = req.module_kind(&path);
    let rewritten = module.is_some_and(Kind::needs_source)
        || crate::css::is_stylesheet(&path)
        || (req.inject_client && inject::is_html(&path));
    if len <= IN_MEMORY_LIMIT || (len <= SCRIPT_LIMIT && rewritten) {
        let mut buf = Vec::with_capacity(len as usize);
        if let Err(err) = file.take(len).read_to_end(&mut buf) {
            tracing::debug!(path = %path.display(), %err, "read failed");
            return Outcome::NotFound;
        }
        let bytes = Bytes::from(buf);
        // File systems stamp mtimes with a coarse clock (a few ms on Linux): two saves of the
        // same length within one tick would share an mtime-based tag and the browser would
        // keep the old copy. A content hash makes the tag exact for files we hold anyway.
        validators.etag = format!("\"{:x}-{:x}\"", len, content_hash(&bytes));
        // A file that changed while we read it is not cached; the next request re-reads it.
        let unchanged = bytes.len() as u64 == len;
        if let Some((cache, key, stat_path)) = cache
            && unchanged
        {
            cache.store(
                key,
                CachedFile {
                    stat_path,
                    real: path.clone(),
                    identity: Identity::of(&meta),
                    validators: validators.clone(),
                    bytes: bytes.clone(),
                },
            );
        }
        return respond(path, validators, bytes, req);
    }
    if let Some(kind) = module {
        // Too large to hold: only a module that needs none of the content (an asset's URL)
        // is made; others go out as the file, which the browser then refuses to run.
        if !kind.needs_source() {
            return Outcome::File(FoundFile {
                path,
                validators,
                len,
                range: None,
                body: FileBody::Empty,
                rewrite: Rewrite::Module(kind),
            });
        }
    }

    if not_modified(req, &validators) {
        return Outcome::NotModified { path, validators };
    }
    let range = match requested_range(req, &validators, len) {
        Ok(range) => range,
        Err(Unsatisfiable) => return Outcome::RangeNotSatisfiable { len },
    };
    let (start, send_len) = match range {
        Some((start, end)) => (start, end - start + 1),
        None => (0, len),
    };
    let body = if req.head {
        FileBody::Empty
    } else {
        if start > 0 && file.seek(SeekFrom::Start(start)).is_err() {
            return Outcome::NotFound;
        }
        FileBody::Stream {
            file,
            len: send_len,
        }
    };
    Outcome::File(FoundFile {
        path,
        validators,
        len,
        range,
        body,
        rewrite: Rewrite::None,
    })
}

/// Conditionals and ranges over a file held in memory. Modules and stylesheets skip both:
/// they are rewritten before sending, and their validators are decided after the rewrite.
fn respond(path: PathBuf, validators: Validators, bytes: Bytes, req: &FileRequest) -> Outcome {
    // A module request (`style.css?import`) wins over the stylesheet rewrite.
    let rewrite = if let Some(kind) = req.module_kind(&path) {
        Some(Rewrite::Module(kind))
    } else if crate::css::is_stylesheet(&path) {
        Some(Rewrite::Stylesheet)
    } else {
        None
    };
    if let Some(rewrite) = rewrite {
        return Outcome::File(FoundFile {
            path,
            validators,
            len: bytes.len() as u64,
            range: None,
            body: FileBody::Bytes(bytes),
            rewrite,
        });
    }
    respond_as_is(path, validators, bytes, req)
}

/// Conditionals and ranges over a file held in memory, sent as it is (a page with the
/// client's tag).
pub(crate) fn respond_as_is(
    path: PathBuf,
    validators: Validators,
    bytes: Bytes,
    req: &FileRequest,
) -> Outcome {
    let len = bytes.len() as u64;
    if req.inject_client && inject::is_html(&path) {
        // A validator of its own, so a copy cached without the tag is never revalidated as
        // this one; no ranges, since the file's offsets do not describe the bytes sent.
        let validators = Validators {
            etag: inject::injected_etag(
                &validators.etag,
                req.modules.as_ref().and_then(|m| m.refresh_preamble()),
                req.deps_version.as_deref(),
            ),
            ..validators
        };
        if not_modified(req, &validators) {
            return Outcome::NotModified { path, validators };
        }
        return Outcome::File(FoundFile {
            path,
            validators,
            len,
            range: None,
            // Even for HEAD: the page as sent (inline modules rewritten, tags added) gives
            // the length, which HEAD must report as GET does.
            body: FileBody::Bytes(bytes),
            rewrite: Rewrite::Page,
        });
    }
    if not_modified(req, &validators) {
        return Outcome::NotModified { path, validators };
    }
    let range = match requested_range(req, &validators, len) {
        Ok(range) => range,
        Err(Unsatisfiable) => return Outcome::RangeNotSatisfiable { len },
    };
    let body = match (req.head, range) {
        (true, _) => FileBody::Empty,
        (false, Some((start, end))) => FileBody::Bytes(bytes.slice(start as usize..=end as usize)),
        (false, None) => FileBody::Bytes(bytes),
    };
    Outcome::File(FoundFile {
        path,
        validators,
        len,
        range,
        body,
        rewrite: Rewrite::None,
    })
}

/// A range that lies outside the file.
struct Unsatisfiable;

/// The satisfiable range asked for, `None` for the whole file, or `Err` for 416.
fn requested_range(
    req: &FileRequest,
    validators: &Validators,
    len: u64,
) -> Result<Option<(u64, u64)>, Unsatisfiable> {
    if !range_applies(req, validators) {
        return Ok(None);
    }
    match req.range.as_deref().map(|r| parse_range(r, len)) {
        Some(RangeAnswer::Satisfiable(start, end)) => Ok(Some((start, end))),
        Some(RangeAnswer::Unsatisfiable) => Err(Unsatisfiable),
        Some(RangeAnswer::Ignore) | None => Ok(None),
    }
}

fn validators_of(meta: &Metadata) -> Validators {
    let modified = meta.modified().unwrap_or(UNIX_EPOCH);
    let nanos = modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Validators {
        // Length and nanosecond mtime: cheap, and changes on every save in practice.
        etag: format!("\"{:x}-{:x}\"", meta.len(), nanos),
        last_modified: modified,
    }
}

/// RFC 9110 §13.1.2 (weak comparison for If-None-Match) and §13.1.3; If-Modified-Since is
/// ignored when If-None-Match is present (§13.2.2).
pub(crate) fn not_modified(req: &FileRequest, v: &Validators) -> bool {
    if let Some(inm) = &req.if_none_match {
        return etag_list_matches(inm, &v.etag, false);
    }
    if let Some(ims) = req
        .if_modified_since
        .as_deref()
        .and_then(|s| httpdate::parse_http_date(s).ok())
    {
        // HTTP dates have one-second resolution.
        let modified = v
            .last_modified
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let since = ims
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        return modified <= since;
    }
    false
}

pub(crate) fn etag_list_matches(list: &str, etag: &str, strong: bool) -> bool {
    let list = list.trim();
    if list == "*" {
        return true;
    }
    list.split(',').map(str::trim).any(|candidate| {
        if strong {
            candidate == etag
        } else {
            candidate.trim_start_matches("W/") == etag
        }
    })
}

/// A Range header only applies to GET, and with If-Range only while the file is unchanged
/// (RFC 9110 §13.1.5: strong comparison for entity tags).
fn range_applies(req: &FileRequest, v: &Validators) -> bool {
    let Some(if_range) = req.if_range.as_deref() else {
        return true;
    };
    let if_range = if_range.trim();
    if if_range.starts_with('"') || if_range.starts_with("W/") {
        return etag_list_matches(if_range, &v.etag, true);
    }
    match httpdate::parse_http_date(if_range) {
        Ok(date) => httpdate::fmt_http_date(date) == httpdate::fmt_http_date(v.last_modified),
        Err(_) => false,
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeAnswer {
    Satisfiable(u64, u64),
    Unsatisfiable,
    /// Malformed, multiple ranges or another unit: serve the whole file (RFC 9110 §14.2).
    Ignore,
}

/// Parse a single `bytes=` range against a file of `len` bytes.
pub(crate) fn parse_range(header: &str, len: u64) -> RangeAnswer {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Ignore;
    };
    if spec.contains(',') {
        return RangeAnswer::Ignore;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Ignore;
    };
    // Digits past u64 are still a number, just a larger one than any file: a last byte
    // past the end means "to the end" (RFC 9110 §14.1.2), a first byte past it is 416.
    let parse = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            Some(s.parse().unwrap_or(u64::MAX))
        }
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match parse(suffix) {
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(_) if len == 0 => RangeAnswer::Unsatisfiable,
            Some(n) => RangeAnswer::Satisfiable(len.saturating_sub(n), len - 1),
            None => RangeAnswer::Ignore,
        },
        (start, "") => match parse(start) {
            Some(start) if start < len => RangeAnswer::Satisfiable(start, len - 1),
            Some(_) => RangeAnswer::Unsatisfiable,
            None => RangeAnswer::Ignore,
        },
        (start, end) => match (parse(start), parse(end)) {
            (Some(start), Some(end)) if start > end => RangeAnswer::Ignore,
            (Some(start), Some(_)) if start >= len => RangeAnswer::Unsatisfiable,
            (Some(start), Some(end)) => RangeAnswer::Satisfiable(start, end.min(len - 1)),
            _ => RangeAnswer::Ignore,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges_are_parsed_and_clamped() {
        assert_eq!(
            parse_range("bytes=0-9", 100),
            RangeAnswer::Satisfiable(0, 9)
        );
        assert_eq!(
            parse_range("bytes=90-", 100),
            RangeAnswer::Satisfiable(90, 99)
        );
        assert_eq!(
            parse_range("bytes=-10", 100),
            RangeAnswer::Satisfiable(90, 99)
        );
        assert_eq!(
            parse_range("bytes=-500", 100),
            RangeAnswer::Satisfiable(0, 99)
        );
        assert_eq!(
            parse_range("bytes=50-500", 100),
            RangeAnswer::Satisfiable(50, 99)
        );
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(parse_range("bytes=100-", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(
            parse_range("bytes=100-200", 100),
            RangeAnswer::Unsatisfiable
        );
        assert_eq!(parse_range("bytes=-0", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), RangeAnswer::Unsatisfiable);
    }

    #[test]
    fn numbers_past_u64_are_larger_than_any_file_not_malformed() {
        let huge = "99999999999999999999999";
        assert_eq!(
            parse_range(&format!("bytes=0-{huge}"), 100),
            RangeAnswer::Satisfiable(0, 99)
        );
        assert_eq!(
            parse_range(&format!("bytes=-{huge}"), 100),
            RangeAnswer::Satisfiable(0, 99)
        );
        assert_eq!(
            parse_range(&format!("bytes={huge}-"), 100),
            RangeAnswer::Unsatisfiable
        );
        assert_eq!(
            parse_range(&format!("bytes={huge}-{huge}"), 100),
            RangeAnswer::Unsatisfiable
        );
    }

    #[test]
    fn malformed_and_multiple_ranges_are_ignored() {
        for header in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=x-1",
            "bytes=5-1",
            "bytes=",
            "0-1",
        ] {
            assert_eq!(parse_range(header, 100), RangeAnswer::Ignore, "{header}");
        }
    }

    #[test]
    fn if_none_match_uses_weak_comparison_and_wildcard() {
        assert!(etag_list_matches("W/\"a\", \"b\"", "\"a\"", false));
        assert!(etag_list_matches("*", "\"a\"", false));
        assert!(!etag_list_matches("\"b\"", "\"a\"", false));
        assert!(!etag_list_matches("W/\"a\"", "\"a\"", true));
    }
}
