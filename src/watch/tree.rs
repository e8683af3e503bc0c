//! The watched tree: which directories carry a watch, which files exist, and how each notify
//! event becomes an [`Op`] on the batch. Everything here may block on the file system, so the
//! worker calls it from `spawn_blocking`.

use super::ChangeSet;
use super::backend::{self, Backend, Fallback, Raw, Sink};
use super::batch::{Batch, Op};
use super::filter::{Filter, IGNORE_FILES, Rules};
use notify::event::{AccessKind, AccessMode, CreateKind, MetadataKind, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode};
use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

/// How often the poller stats the tree after an automatic fallback: quick enough for HMR,
/// cheap for a project without `node_modules`.
const FALLBACK_POLL: Duration = Duration::from_millis(250);

/// What a walk found.
#[derive(Default)]
struct Listing {
    /// The directories it listed.
    dirs: BTreeSet<PathBuf>,
    /// The files in them.
    files: Vec<PathBuf>,
}

pub(crate) struct Tree {
    root: PathBuf,
    filter: Filter,
    sink: Sink,
    backend: Option<Backend>,
    polling: Arc<AtomicBool>,
    /// Directories with a (non-recursive) watch. Watching each directory ourselves, instead of
    /// notify's recursive mode, is what keeps watches out of `node_modules` and ignored trees.
    watched: BTreeSet<PathBuf>,
    /// Files known to exist, to tell Created from Modified and a removed directory's files.
    /// A hash set: ordering 10,000 paths component by component took 5 ms of startup, and
    /// only a directory's removal needs them by prefix.
    known: HashSet<PathBuf>,
    /// Pretend the native watcher hits ENOSPC after this many watches (tests only).
    native_limit: Option<usize>,
    /// Set once the initial walk is done: later fallbacks may have missed events.
    running: bool,
    pub(crate) batch: Batch,
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("root", &self.root)
            .field("watched", &self.watched.len())
            .field("known", &self.known.len())
            .finish_non_exhaustive()
    }
}

impl Tree {
    pub(crate) fn new(root: PathBuf, filter: Filter, sink: Sink, batch: Batch) -> Self {
        Tree {
            root,
            filter,
            sink,
            backend: None,
            polling: Arc::new(AtomicBool::new(false)),
            watched: BTreeSet::new(),
            known: HashSet::new(),
            native_limit: None,
            running: false,
            batch,
        }
    }

    pub(crate) fn polling_flag(&self) -> Arc<AtomicBool> {
        self.polling.clone()
    }

    pub(crate) fn set_native_limit(&mut self, limit: Option<usize>) {
        self.native_limit = limit;
    }

    /// Starts the backend and walks the tree, so that when this returns every directory that
    /// matters is watched.
    pub(crate) fn start(&mut self, poll: Option<Duration>) -> notify::Result<()> {
        match poll {
            Some(interval) => self.use_poller(interval)?,
            None => match backend::native(&self.sink) {
                Ok(native) => self.backend = Some(native),
                Err(reason) => self.fall_back(reason)?,
            },
        }
        self.sync()?;
        self.running = true;
        Ok(())
    }

    fn use_poller(&mut self, interval: Duration) -> notify::Result<()> {
        let mut poller = backend::poll(&self.sink, interval)?;
        for dir in &self.watched {
            poller.watch(dir, RecursiveMode::NonRecursive)?;
        }
        self.backend = Some(poller);
        self.polling.store(true, Ordering::Release);
        Ok(())
    }

    /// Swaps the native watcher for a poller, once, with one warning naming cause and fix.
    fn fall_back(&mut self, reason: Fallback) -> notify::Result<()> {
        tracing::warn!("{reason}");
        self.backend = None;
        self.use_poller(FALLBACK_POLL)?;
        if self.running {
            // Changes made while switching may be missed: make the caller reload everything.
            self.batch.overflow(Instant::now());
        }
        Ok(())
    }

    /// Drops the notify watcher: no more events.
    pub(crate) fn stop(&mut self) {
        self.backend = None;
    }

    fn is_polling(&self) -> bool {
        self.polling.load(Ordering::Acquire)
    }

    /// Adds a watch on `dir`, falling back to polling on a watch limit. Returns whether the
    /// directory is now watched; one that vanished or cannot be read is skipped.
    fn watch(&mut self, dir: &Path) -> notify::Result<bool> {
        if self.watched.contains(dir) {
            return Ok(true);
        }
        let over_limit = !self.is_polling()
            && self
                .native_limit
                .is_some_and(|limit| self.watched.len() >= limit);
        let result = match &mut self.backend {
            _ if over_limit => Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch)),
            Some(backend) => backend.watch(dir, RecursiveMode::NonRecursive),
            None => return Ok(false),
        };
        match result {
            Ok(()) => {}
            Err(err) => match backend::fallback_for(&err) {
                Some(reason) if !self.is_polling() => {
                    self.fall_back(reason)?;
                    return self.watch(dir);
                }
                _ => {
                    tracing::debug!("not watching {}: {err}", dir.display());
                    return Ok(false);
                }
            },
        }
        self.watched.insert(dir.to_path_buf());
        Ok(true)
    }

    /// Watches `start` and every directory below it that the filter lets through (loading
    /// their ignore files on the way), and lists the files in them. Watch first, list second:
    /// a file created in between is then seen twice, never missed. With `watch_later`, the
    /// directories go there instead, to be watched by another thread (see
    /// [`Tree::walk_watching_alongside`]).
    fn walk(
        &mut self,
        start: &Path,
        watch_later: Option<&Sender<PathBuf>>,
    ) -> notify::Result<Listing> {
        let mut listing = Listing::default();
        let above = match start.parent() {
            Some(parent) if start != self.root => self.filter.rules_for(parent),
            _ => Rules::default(),
        };
        let mut stack = vec![(start.to_path_buf(), above)];
        let mut entries = Vec::new();
        while let Some((dir, above)) = stack.pop() {
            match watch_later {
                Some(later) => {
                    let _ = later.send(dir.clone());
                }
                None if !self.watch(&dir)? => continue,
                None => {}
            }
            let Ok(read) = fs::read_dir(&dir) else {
                continue;
            };
            // Symlinks are not followed: they count as files, so a link cycle cannot loop.
            entries.clear();
            entries.extend(
                read.flatten()
                    .filter_map(|e| Some((e.path(), e.file_type().ok()?.is_dir()))),
            );
            // The directory's own ignore files judge the rest of its listing.
            let present = entries
                .iter()
                .filter(|(_, is_dir)| !is_dir)
                .filter_map(|(p, _)| {
                    let name = p.file_name()?.to_str()?;
                    IGNORE_FILES.contains(&name).then_some(name)
                });
            self.filter.load_rules(&dir, present);
            let rules = self.filter.rules_in(&above, &dir);
            for (path, is_dir) in entries.drain(..) {
                if self.filter.is_ignored_entry(&rules, &path, is_dir) {
                    continue;
                }
                if is_dir {
                    stack.push((path, rules.clone()));
                } else {
                    listing.files.push(path);
                }
            }
            listing.dirs.insert(dir);
        }
        Ok(listing)
    }

    /// The first walk, with the watches added by a helper thread while this one lists. Each
    /// `watch()` of notify's native backend is a round trip to its event thread (tens of
    /// microseconds on a busy or virtual machine: most of the startup time on a big tree), and
    /// listing need not wait for it. Nothing has been served before the watcher starts, so a
    /// file that appears between the listing of its directory and the watch loses nothing:
    /// its next change is reported (as created). Directories the helper could not watch
    /// because of a limit are retried here, where the fallback to polling lives.
    fn walk_watching_alongside(&mut self, root: &Path) -> notify::Result<Listing> {
        let Some(mut backend) = self.backend.take() else {
            return self.walk(root, None);
        };
        // The test hook's pretend limit, which `watch` applies.
        let budget = self
            .native_limit
            .filter(|_| !self.is_polling())
            .map(|limit| limit.saturating_sub(self.watched.len()));
        let (later, dirs) = mpsc::channel::<PathBuf>();
        let (listing, added) = std::thread::scope(|scope| {
            let adder = scope.spawn(move || {
                let (mut watched, mut retry) = (Vec::new(), Vec::new());
                for dir in dirs {
                    let over = budget.is_some_and(|budget| watched.len() >= budget);
                    if over || !retry.is_empty() {
                        retry.push(dir);
                        continue;
                    }
                    match backend.watch(&dir, RecursiveMode::NonRecursive) {
                        Ok(()) => watched.push(dir),
                        // A limit: every further watch would fail too.
                        Err(err) if backend::fallback_for(&err).is_some() => retry.push(dir),
                        Err(err) => tracing::debug!("not watching {}: {err}", dir.display()),
                    }
                }
                (backend, watched, retry)
            });
            let listing = self.walk(root, Some(&later));
            drop(later);
            let added = adder
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (listing, added)
        });
        let (backend, watched, retry) = added;
        self.backend = Some(backend);
        self.watched.extend(watched);
        for dir in retry {
            self.watch(&dir)?;
        }
        listing
    }

    /// Re-walks the whole tree: at start, after lost events and after ignore rules changed.
    /// Watches what is new, unwatches what is gone or now ignored, refreshes the known files.
    fn sync(&mut self) -> notify::Result<()> {
        let root = self.root.clone();
        let listing = if self.running {
            // Later walks keep watch-then-list: changes made meanwhile must not be missed.
            self.walk(&root, None)?
        } else {
            self.walk_watching_alongside(&root)?
        };
        let stale: Vec<PathBuf> = self.watched.difference(&listing.dirs).cloned().collect();
        for dir in stale {
            self.unwatch(&dir);
        }
        self.known = listing.files.into_iter().collect();
        Ok(())
    }

    fn unwatch(&mut self, dir: &Path) {
        self.watched.remove(dir);
        self.filter.forget_dir(dir);
        if let Some(backend) = &mut self.backend {
            // inotify drops the watch of a deleted directory by itself; nothing to report.
            let _ = backend.unwatch(dir);
        }
    }

    /// Applies a chunk of raw events to the batch.
    pub(crate) fn apply(&mut self, events: Vec<Raw>) -> notify::Result<()> {
        let now = Instant::now();
        let (mut resync, mut rules_changed) = (false, false);
        for event in events {
            let event = match event {
                Ok(event) => event,
                Err(err) => {
                    match backend::fallback_for(&err) {
                        Some(reason) if !self.is_polling() => {
                            self.fall_back(reason)?;
                            resync = true;
                        }
                        // The poller rescanning a directory that was just deleted.
                        _ if is_not_found(&err) => tracing::debug!("file watcher: {err}"),
                        _ => tracing::warn!("file watcher: {err}"),
                    }
                    continue;
                }
            };
            if event.need_rescan() {
                // The kernel queue overflowed (IN_Q_OVERFLOW): events, maybe new directories, lost.
                self.batch.overflow(now);
                resync = true;
                continue;
            }
            for path in &event.paths {
                let is_rules = path
                    .file_name()
                    .is_some_and(|name| IGNORE_FILES.iter().any(|f| name == *f));
                rules_changed |= is_rules;
                self.apply_one(event.kind, path, now)?;
            }
        }
        if rules_changed {
            // A changed .gitignore can hide or reveal whole directories: rebuild from scratch.
            resync = true;
        }
        if resync {
            self.sync()?;
        }
        Ok(())
    }

    fn apply_one(&mut self, kind: EventKind, path: &Path, now: Instant) -> notify::Result<()> {
        if !path.starts_with(&self.root) || path == self.root {
            return Ok(());
        }
        let native = !self.is_polling();
        let (hint, op) = match kind {
            EventKind::Create(CreateKind::Folder) => (Some(true), Op::Appeared),
            // Natively a new file is followed by IN_CLOSE_WRITE: hold it until complete.
            EventKind::Create(CreateKind::File) if native => (Some(false), Op::Write),
            EventKind::Create(_) | EventKind::Modify(ModifyKind::Name(RenameMode::To)) => {
                (None, Op::Appeared)
            }
            EventKind::Modify(ModifyKind::Name(RenameMode::From)) | EventKind::Remove(_) => {
                (None, Op::Gone)
            }
            // inotify also sends From and To for a rename; an unpaired rename (other
            // platforms) is settled by looking.
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => return Ok(()),
            EventKind::Modify(ModifyKind::Name(_)) => match path.symlink_metadata() {
                Ok(_) => (None, Op::Appeared),
                Err(_) => (None, Op::Gone),
            },
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => (None, Op::Closed),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::WriteTime)) => {
                (None, Op::Appeared)
            }
            EventKind::Modify(_) if native => (None, Op::Write),
            EventKind::Modify(_) => (None, Op::Appeared),
            _ => return Ok(()),
        };
        let was_dir = self.watched.contains(path);
        if op == Op::Gone {
            let existed = was_dir || self.known.contains(path);
            if !existed && self.filter.is_ignored(path, false) {
                return Ok(());
            }
            if was_dir {
                self.remove_dir(path, now);
            }
            self.batch
                .record(path.to_path_buf(), was_dir, existed, op, now);
            return Ok(());
        }
        let is_dir = match hint {
            Some(is_dir) => is_dir,
            None if was_dir => true,
            None if self.known.contains(path) => false,
            None => match path.symlink_metadata() {
                Ok(meta) => meta.is_dir(),
                // Already gone again: the removal event follows and settles it.
                Err(_) => return Ok(()),
            },
        };
        if self.filter.is_ignored(path, is_dir) {
            return Ok(());
        }
        if is_dir {
            // A watched directory's own writes (its mtime, under polling) are not news.
            if !was_dir {
                self.add_dir(path, now)?;
                self.batch
                    .record(path.to_path_buf(), true, false, Op::Appeared, now);
            }
            return Ok(());
        }
        let existed = self.known.contains(path);
        self.batch
            .record(path.to_path_buf(), false, existed, op, now);
        Ok(())
    }

    /// A directory appeared (created, or moved in): watch it and report the files already in
    /// it, which were written before its watch existed (`mkdir -p a/b && echo x > a/b/x.css`).
    fn add_dir(&mut self, dir: &Path, now: Instant) -> notify::Result<()> {
        let listing = self.walk(dir, None)?;
        for file in listing.files {
            let existed = self.known.contains(&file);
            self.batch.record(file, false, existed, Op::Appeared, now);
        }
        Ok(())
    }

    /// A directory was deleted or moved away: drop its watches and report its known files as
    /// removed (a move away sends no event for them).
    fn remove_dir(&mut self, dir: &Path, now: Instant) {
        // Descendants sort right after `dir` because paths compare component-wise.
        let watched_below: Vec<PathBuf> = (self.watched.range(dir.to_path_buf()..))
            .take_while(|p| p.starts_with(dir))
            .cloned()
            .collect();
        for sub in watched_below {
            self.unwatch(&sub);
        }
        let known_below: Vec<PathBuf> = (self.known.iter())
            .filter(|p| p.starts_with(dir))
            .cloned()
            .collect();
        for file in known_below {
            self.batch.record(file, false, true, Op::Gone, now);
        }
    }

    /// The change set due at `now`, with the known files brought up to date.
    pub(crate) fn take_ready(&mut self, now: Instant) -> Option<ChangeSet> {
        let set = self.batch.take_ready(now)?;
        for change in &set.changes {
            match change.kind {
                super::ChangeKind::Removed => {
                    self.known.remove(&change.path);
                }
                _ => {
                    self.known.insert(change.path.clone());
                }
            }
        }
        Some(set)
    }

    #[cfg(test)]
    pub(crate) fn watched(&self) -> Vec<PathBuf> {
        self.watched.iter().cloned().collect()
    }
}

fn is_not_found(err: &notify::Error) -> bool {
    match &err.kind {
        notify::ErrorKind::PathNotFound => true,
        notify::ErrorKind::Io(io) => io.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}
