//! The notify side: the callback that never blocks, starting a native or polling watcher,
//! and deciding when the native one has to be given up.

use notify::event::{AccessKind, AccessMode, MetadataKind, ModifyKind};
use notify::{Event, EventKind, PollWatcher, RecommendedWatcher, Watcher as _};
use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::Duration;

/// Raw notify output as the worker receives it.
pub(crate) type Raw = notify::Result<Event>;

/// What the worker thread receives: notify's output, or the request to stop.
pub(crate) enum Msg {
    Raw(Raw),
    /// The [`Watcher`](super::Watcher) was dropped.
    Stop,
}

/// A notify watcher of either kind, driven the same way.
pub(crate) type Backend = Box<dyn notify::Watcher + Send>;

/// The notify callback. It runs on notify's thread and must never block (a stalled callback
/// stalls inotify's queue until the kernel drops events), so it only `try_send`s; when the
/// channel is full it raises `overflow`, which the next change set carries. Nothing is lost
/// silently.
#[derive(Clone)]
pub(crate) struct Sink {
    pub(crate) tx: SyncSender<Msg>,
    pub(crate) overflow: Arc<AtomicBool>,
}

impl notify::EventHandler for Sink {
    fn handle_event(&mut self, event: Raw) {
        if event.as_ref().is_ok_and(|e| is_noise(&e.kind)) {
            return;
        }
        if let Err(TrySendError::Full(_)) = self.tx.try_send(Msg::Raw(event)) {
            self.overflow.store(true, Ordering::Release);
        }
    }
}

/// Opens, reads and metadata-only changes: inotify reports one for every file the server
/// itself reads, so they are dropped before they take room in the channel. `WriteTime` stays
/// because it is how the poller reports an edit.
fn is_noise(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => false,
        EventKind::Access(_) => true,
        EventKind::Modify(ModifyKind::Metadata(m)) => *m != MetadataKind::WriteTime,
        _ => false,
    }
}

/// Why the native watcher was given up for polling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// ENOSPC from inotify: `fs.inotify.max_user_watches` is exhausted.
    TooManyWatches,
    /// EMFILE/ENFILE: out of file descriptors or inotify instances.
    TooManyOpenFiles,
    /// The native watcher could not start for another reason.
    Unavailable(String),
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fallback::TooManyWatches => f.write_str(
                "the inotify watch limit is reached (ENOSPC); falling back to polling, which is \
                 slower and costs CPU. Raise the limit with \
                 `sudo sysctl fs.inotify.max_user_watches=524288` (persist it in /etc/sysctl.d), \
                 ignore big directories with --ignore, or choose polling with --poll",
            ),
            Fallback::TooManyOpenFiles => f.write_str(
                "out of file descriptors or inotify instances (EMFILE); falling back to polling. \
                 Raise `ulimit -n` or `sudo sysctl fs.inotify.max_user_instances=1024`, \
                 or choose polling with --poll",
            ),
            Fallback::Unavailable(err) => write!(
                f,
                "the native file watcher is unavailable ({err}); falling back to polling. \
                 Choose polling with --poll to skip this attempt"
            ),
        }
    }
}

// POSIX numbers shared by Linux, macOS and the BSDs; std has no `ErrorKind` for them.
const ENFILE: i32 = 23;
const EMFILE: i32 = 24;

/// Whether a native-watcher error means this machine cannot keep watching natively (a limit),
/// as opposed to one directory vanishing or being unreadable, which is survived in place.
pub(crate) fn fallback_for(err: &notify::Error) -> Option<Fallback> {
    match &err.kind {
        notify::ErrorKind::MaxFilesWatch => Some(Fallback::TooManyWatches),
        notify::ErrorKind::Io(io) if io.kind() == io::ErrorKind::StorageFull => {
            Some(Fallback::TooManyWatches)
        }
        notify::ErrorKind::Io(io) if matches!(io.raw_os_error(), Some(EMFILE | ENFILE)) => {
            Some(Fallback::TooManyOpenFiles)
        }
        _ => None,
    }
}

/// The native watcher, or why it cannot be had.
pub(crate) fn native(sink: &Sink) -> Result<Backend, Fallback> {
    match RecommendedWatcher::new(sink.clone(), notify::Config::default()) {
        Ok(watcher) => Ok(Box::new(watcher)),
        Err(err) => {
            Err(fallback_for(&err).unwrap_or_else(|| Fallback::Unavailable(err.to_string())))
        }
    }
}

/// A poller that rescans its directories every `interval`. It compares contents, not only
/// mtimes, because notify's poller keeps mtimes in whole seconds: a second save within the
/// same second (format-on-save) would otherwise be missed, and the browser left stale. The
/// cost is reading the watched (non-ignored) files on each pass.
pub(crate) fn poll(sink: &Sink, interval: Duration) -> notify::Result<Backend> {
    let config = notify::Config::default()
        .with_poll_interval(interval)
        .with_compare_contents(true);
    Ok(Box::new(PollWatcher::new(sink.clone(), config)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_limits_map_to_a_fallback_and_vanished_paths_do_not() {
        let enospc = notify::Error::new(notify::ErrorKind::MaxFilesWatch);
        assert_eq!(fallback_for(&enospc), Some(Fallback::TooManyWatches));
        let raw_enospc = notify::Error::io(io::Error::from_raw_os_error(28));
        assert_eq!(fallback_for(&raw_enospc), Some(Fallback::TooManyWatches));
        let emfile = notify::Error::io(io::Error::from_raw_os_error(EMFILE));
        assert_eq!(fallback_for(&emfile), Some(Fallback::TooManyOpenFiles));
        assert_eq!(fallback_for(&notify::Error::path_not_found()), None);
        let denied = notify::Error::io(io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(fallback_for(&denied), None);
        assert!(
            Fallback::TooManyWatches
                .to_string()
                .contains("max_user_watches=524288")
        );
        assert!(Fallback::TooManyWatches.to_string().contains("--poll"));
    }
}
