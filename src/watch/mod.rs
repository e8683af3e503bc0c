//! Watching the served folder: notify events, filtered by gitignore rules and built-in
//! ignores, coalesced into [`ChangeSet`]s that say which files were created, modified or
//! removed.
//!
//! The flow is `notify callback → bounded channel → worker thread → Receiver<ChangeSet>`:
//! - the callback only `try_send`s; a full channel marks the next set [`ChangeSet::overflowed`];
//! - the worker is a plain thread, not a tokio task: it stats and walks (blocking work), and
//!   it times batches with sub-millisecond precision, where tokio's timer wheel rounds every
//!   sleep up to the next millisecond (a 0.25 ms settle took 1–1.3 ms);
//! - the worker walks the tree itself and puts one non-recursive watch on each directory the
//!   filter lets through (never inside `node_modules`), adding watches as directories appear;
//! - events are batched until `settle` of quiet, at most `max_hold`, with one entry per path,
//!   so an editor's save (whatever its strategy) is one `Modified`, and a build writing
//!   thousands of files arrives as a few sets rather than thousands. Two refinements: a
//!   completed in-place save after a calm period goes out after only 0.1 ms of quiet (its
//!   close already says the save is complete), and a burst that goes on past a flush waits
//!   for 10 ms of quiet with a hold that doubles each time (see `batch.rs`);
//! - a file still open for writing (inotify reports the close) is held until it is closed, up
//!   to `max_hold`, so a browser never fetches it half-written.
//!
//! Symlinks are reported as files and not followed. Directories are watched, not reported,
//! except that a removed directory is reported along with the files known under it.
//! When inotify runs out of watches or descriptors the watcher falls back to polling with one
//! warning that names the fix, rather than dying or silently missing changes.

mod backend;
mod batch;
mod filter;
mod tree;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
// Tree state stays usable after a panic elsewhere: it holds no invariant a panic can break
// halfway that matters more than continuing to watch.
use crate::sync::lock;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

use backend::{Msg, Raw, Sink};
use batch::Batch;
use filter::Filter;
use tree::Tree;

/// Room for raw events between notify's thread and the worker. A 5,000-file build makes about
/// three events per file; past this the set is marked overflowed instead of blocking notify.
const RAW_CAPACITY: usize = 16 * 1024;
/// Raw events handled per lock of the tree.
const CHUNK: usize = 1024;
/// Change sets not yet taken by the caller. A caller this far behind gets `overflowed` sets.
const OUT_CAPACITY: usize = 64;

/// What to watch and how to batch. Build with [`WatchOptions::new`] and the setters.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    root: PathBuf,
    poll: Option<Duration>,
    settle: Duration,
    max_hold: Duration,
    ignore_globs: Vec<String>,
    /// Test hook: room in the raw event channel, to force an overflow.
    raw_capacity: usize,
    /// Test hook: act as if inotify hit ENOSPC after this many watches.
    native_watch_limit: Option<usize>,
}

impl WatchOptions {
    /// Watch the folder `root` (made absolute and canonical when the watcher starts).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        WatchOptions {
            root: root.into(),
            poll: None,
            settle: Duration::from_millis(2),
            max_hold: Duration::from_millis(50),
            ignore_globs: Vec::new(),
            raw_capacity: RAW_CAPACITY,
            native_watch_limit: None,
        }
    }

    /// Poll every `interval` instead of using the OS's native watcher: needed where native
    /// events do not arrive (WSL2 on a Windows drive, Docker bind mounts, network drives).
    /// Defaults to `None`: native (inotify on Linux), with polling only as a fallback.
    pub fn poll(mut self, interval: Option<Duration>) -> Self {
        self.poll = interval;
        self
    }

    /// Quiet time after the last event before a change set is sent: long enough to join the
    /// several events of one save (rename, delete and create), short enough not to be felt.
    /// A completed in-place save waits at most 0.1 ms, a burst at least 10 ms. Defaults to
    /// 2 ms.
    pub fn settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// Longest a change set is held after its first event, so a steady stream of writes
    /// (a build, a `git checkout`) still produces updates, and an unclosed write is released.
    /// While a burst goes on, each following set may be held twice as long (up to 8 times).
    /// Defaults to 50 ms.
    pub fn max_hold(mut self, max_hold: Duration) -> Self {
        self.max_hold = max_hold;
        self
    }

    /// More paths to ignore, in gitignore syntax relative to the root (`dist/`, `*.map`);
    /// repeatable, like `--ignore`. They take precedence over `.gitignore` files. Defaults to
    /// none beyond the built-ins (`.git`, `node_modules`, editor temp and swap files).
    pub fn ignore_globs<I, S>(mut self, globs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.ignore_globs.extend(globs.into_iter().map(Into::into));
        self
    }
}

/// What happened to a path, judged against the state before the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// The file did not exist before the batch.
    Created,
    /// The file existed and still exists, whatever the editor did in between (rewrite, rename
    /// over, delete and recreate).
    Modified,
    /// The file, or a whole directory, no longer exists.
    Removed,
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Absolute, under [`Watcher::root`]. A file, except that a removed directory is reported
    /// too (alongside its known files), since callers usually answer it with a full reload.
    pub path: PathBuf,
    /// What happened to it.
    pub kind: ChangeKind,
}

/// The changes of one batch.
#[derive(Debug, Clone)]
pub struct ChangeSet {
    /// One entry per path, the net effect of the batch, sorted by path.
    pub changes: Vec<Change>,
    /// Events were lost (a channel or the kernel queue overflowed, or the watcher switched to
    /// polling): `changes` may be incomplete and the caller must reload everything.
    pub overflowed: bool,
    /// When the worker received the first event of the batch, for latency logs.
    pub first_event: Instant,
}

/// Why watching could not start. Problems after start are logged and survived instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The root does not exist or cannot be resolved (a missing root is
    /// [`Error::RootMissing`](crate::Error::RootMissing) when hotserve starts the watcher:
    /// it checks the root first).
    #[error("cannot watch {}: {source}", root.display())]
    RootUnresolvable {
        /// The root as given.
        root: PathBuf,
        /// Why it could not be resolved.
        source: std::io::Error,
    },
    /// The root is a file.
    #[error("cannot watch {}: not a directory", .0.display())]
    RootNotADirectory(PathBuf),
    /// An `--ignore` glob does not parse.
    #[error("invalid ignore glob {glob:?}: {source}")]
    InvalidIgnoreGlob {
        /// The glob as given.
        glob: String,
        /// The parse error.
        source: ignore::Error,
    },
    /// The worker thread could not be spawned.
    #[error("cannot start the file watcher's thread: {0}")]
    Thread(#[source] std::io::Error),
    /// Not even the polling watcher could start. Native watch limits (ENOSPC, EMFILE) are not
    /// errors: they switch to polling with a warning.
    #[error("cannot start the file watcher: {0}")]
    Backend(#[source] notify::Error),
}

/// A running watcher. Dropping it stops watching; the receiver then ends.
#[derive(Debug)]
pub struct Watcher {
    root: PathBuf,
    polling: Arc<AtomicBool>,
    tree: Arc<Mutex<Tree>>,
    /// Wakes the worker thread when the watcher is dropped.
    stop: SyncSender<Msg>,
    stopping: Arc<AtomicBool>,
}

impl Watcher {
    /// Starts watching. It walks the tree before it returns (skipping ignored directories),
    /// so every change made after it returns is reported; on a large project call it at
    /// startup or from `spawn_blocking`. The change sets come from a thread of the watcher's
    /// own, so the receiver works with or without a tokio runtime (`blocking_recv`).
    pub fn start(opts: WatchOptions) -> Result<(Watcher, mpsc::Receiver<ChangeSet>), WatchError> {
        let root = opts
            .root
            .canonicalize()
            .map_err(|source| WatchError::RootUnresolvable {
                root: opts.root.clone(),
                source,
            })?;
        if !root.is_dir() {
            return Err(WatchError::RootNotADirectory(opts.root));
        }
        let filter = Filter::new(&root, &opts.ignore_globs)?;
        let (raw_tx, raw_rx) = std::sync::mpsc::sync_channel(opts.raw_capacity.max(1));
        let overflow = Arc::new(AtomicBool::new(false));
        let sink = Sink {
            tx: raw_tx.clone(),
            overflow: overflow.clone(),
        };
        let batch = Batch::new(opts.settle, opts.max_hold);
        let mut tree = Tree::new(root.clone(), filter, sink, batch);
        tree.set_native_limit(opts.native_watch_limit);
        tree.start(opts.poll).map_err(WatchError::Backend)?;
        let polling = tree.polling_flag();
        let tree = Arc::new(Mutex::new(tree));
        let (out_tx, out_rx) = mpsc::channel(OUT_CAPACITY);
        let stopping = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            tree: tree.clone(),
            raw: raw_rx,
            out: out_tx,
            overflow,
            stopping: stopping.clone(),
        };
        std::thread::Builder::new()
            .name("hotserve-watch".into())
            .spawn(move || worker.run())
            .map_err(WatchError::Thread)?;
        let watcher = Watcher {
            root,
            polling,
            tree,
            stop: raw_tx,
            stopping,
        };
        Ok((watcher, out_rx))
    }

    /// Whether changes are found by polling: asked for, or fallen back to because the native
    /// watcher hit a limit (the warning in the log says which and how to fix it).
    pub fn is_polling(&self) -> bool {
        self.polling.load(Ordering::Acquire)
    }

    /// The canonical root; every [`Change::path`] starts with it.
    pub fn root(&self) -> &Path {
        &self.root
    }

    #[cfg(test)]
    fn watched_dirs(&self) -> Vec<PathBuf> {
        lock(&self.tree).watched()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // A full channel means the worker is busy and sees the flag before its next wait.
        self.stopping.store(true, Ordering::Release);
        let _ = self.stop.try_send(Msg::Stop);
        // Stop notify now. If a walk holds the lock, the tree goes with the worker instead.
        if let Ok(mut tree) = self.tree.try_lock() {
            tree.stop();
        }
    }
}

/// The worker thread: applies raw events to the tree (it stats, walks and adds watches) and
/// sends change sets when the batch says they are due.
struct Worker {
    tree: Arc<Mutex<Tree>>,
    raw: Receiver<Msg>,
    out: mpsc::Sender<ChangeSet>,
    overflow: Arc<AtomicBool>,
    stopping: Arc<AtomicBool>,
}

impl Worker {
    fn run(self) {
        let mut wake: Option<Instant> = None;
        let mut chunk = Vec::with_capacity(CHUNK);
        while !self.stopping.load(Ordering::Acquire) {
            let received = match wake {
                None => self.raw.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(at) => self
                    .raw
                    .recv_timeout(at.saturating_duration_since(Instant::now())),
            };
            match received {
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Msg::Raw(first)) => {
                    chunk.push(first);
                    while chunk.len() < CHUNK {
                        match self.raw.try_recv() {
                            Ok(Msg::Raw(raw)) => chunk.push(raw),
                            Ok(Msg::Stop) => return,
                            Err(_) => break,
                        }
                    }
                    wake = self.apply(std::mem::take(&mut chunk));
                }
                Err(RecvTimeoutError::Timeout) => {
                    let ready = {
                        let mut tree = lock(&self.tree);
                        let ready = tree.take_ready(Instant::now());
                        wake = tree.batch.next_wake();
                        ready
                    };
                    if let Some(set) = ready
                        && !self.deliver(set)
                    {
                        return;
                    }
                }
            }
        }
    }

    /// Hands a set to the caller; false once nobody listens. While the caller is
    /// `OUT_CAPACITY` sets behind this waits (events meanwhile pile up in the raw channel and
    /// overflow into a full reload), checking for the watcher's drop: a caller that keeps the
    /// receiver but stops reading must not keep this thread alive forever.
    fn deliver(&self, mut set: ChangeSet) -> bool {
        loop {
            match self.out.try_send(set) {
                Ok(()) => return true,
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
                Err(mpsc::error::TrySendError::Full(back)) => {
                    if self.stopping.load(Ordering::Acquire) {
                        return false;
                    }
                    set = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }

    fn apply(&self, events: Vec<Raw>) -> Option<Instant> {
        let mut tree = lock(&self.tree);
        if self.overflow.swap(false, Ordering::AcqRel) {
            tree.batch.overflow(Instant::now());
        }
        if let Err(err) = tree.apply(events) {
            tracing::error!("file watcher could not switch to polling: {err}");
        }
        tree.batch.next_wake()
    }
}

#[cfg(test)]
mod tests;
