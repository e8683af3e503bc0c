//! Coalescing per-path events into change sets: pure bookkeeping, no I/O, so every editor
//! save strategy can be tested as a sequence of [`Op`]s.

use super::{Change, ChangeKind, ChangeSet};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What one event says about a path, once the backend's vocabulary is translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// Bytes are being written and the platform will report the close (inotify
    /// `IN_CLOSE_WRITE`): hold the path until [`Op::Closed`] so a browser never fetches a
    /// half-written file.
    Write,
    /// The writer closed the file: the save is complete.
    Closed,
    /// The path now exists with complete content (renamed into place, found by a scan, seen
    /// by the poller).
    Appeared,
    /// The path no longer exists (deleted or renamed away).
    Gone,
}

#[derive(Debug)]
struct Entry {
    /// Whether the path existed before this batch: decides Created vs Modified, and makes
    /// created-then-removed vanish.
    existed: bool,
    exists: bool,
    is_dir: bool,
    writing: bool,
    /// When the path's first event of this batch arrived: an unclosed write is held at most
    /// `max_hold` from here, so a write that starts just before a flush is not cut in half.
    since: Instant,
}

/// The changes gathered since the last flush.
#[derive(Debug)]
pub(crate) struct Batch {
    settle: Duration,
    max_hold: Duration,
    entries: HashMap<PathBuf, Entry>,
    /// How many entries are [`Op::Write`] without a close yet.
    writing: usize,
    first: Option<Instant>,
    last: Option<Instant>,
    overflowed: bool,
}

impl Batch {
    pub(crate) fn new(settle: Duration, max_hold: Duration) -> Self {
        Batch {
            settle,
            max_hold,
            entries: HashMap::new(),
            writing: 0,
            first: None,
            last: None,
            overflowed: false,
        }
    }

    /// Records `op` on `path`. `existed` is only read the first time the path shows up in a
    /// batch, so it must describe the state before any event of this batch.
    pub(crate) fn record(
        &mut self,
        path: PathBuf,
        is_dir: bool,
        existed: bool,
        op: Op,
        now: Instant,
    ) {
        let entry = self.entries.entry(path).or_insert(Entry {
            existed,
            exists: existed,
            is_dir,
            writing: false,
            since: now,
        });
        entry.is_dir |= is_dir;
        let was_writing = entry.writing;
        (entry.exists, entry.writing) = match op {
            Op::Write => (true, true),
            Op::Closed | Op::Appeared => (true, false),
            Op::Gone => (false, false),
        };
        match (was_writing, entry.writing) {
            (false, true) => self.writing += 1,
            (true, false) => self.writing -= 1,
            _ => {}
        }
        self.touch(now);
    }

    /// Events were lost: the next change set must tell the caller to reload everything.
    pub(crate) fn overflow(&mut self, now: Instant) {
        self.overflowed = true;
        self.touch(now);
    }

    fn touch(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    /// When [`Batch::take_ready`] may next have something: after `settle` of quiet, or at
    /// `max_hold` after the first event if only unclosed writes are pending.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        let hold = self.first? + self.max_hold;
        let quiet = self.last? + self.settle;
        let only_writes = !self.overflowed && self.writing == self.entries.len();
        Some(if only_writes { hold } else { quiet.min(hold) })
    }

    /// Takes the changes that are due at `now`: after `settle` of quiet, or at `max_hold` after
    /// the batch's first event, everything goes except unclosed writes younger than `max_hold`.
    /// Paths whose events cancel out produce nothing.
    pub(crate) fn take_ready(&mut self, now: Instant) -> Option<ChangeSet> {
        let (first, last) = (self.first?, self.last?);
        let overdue = now >= first + self.max_hold;
        if !overdue && now < last + self.settle {
            return None;
        }
        let mut changes = Vec::new();
        let mut held = HashMap::new();
        for (path, entry) in self.entries.drain() {
            if entry.writing && now < entry.since + self.max_hold {
                held.insert(path, entry);
                continue;
            }
            // Directories are watched, not served: only their removal is news.
            let kind = match (entry.existed, entry.exists, entry.is_dir) {
                (false, true, false) => ChangeKind::Created,
                (true, true, false) => ChangeKind::Modified,
                (true, false, _) => ChangeKind::Removed,
                _ => continue,
            };
            changes.push(Change { path, kind });
        }
        self.writing = held.len();
        self.first = held.values().map(|e| e.since).min();
        if self.first.is_none() {
            self.last = None;
        }
        self.entries = held;
        let overflowed = std::mem::take(&mut self.overflowed);
        if changes.is_empty() && !overflowed {
            return None;
        }
        changes.sort_by(|a, b| a.path.cmp(&b.path));
        Some(ChangeSet {
            changes,
            overflowed,
            first_event: first,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTLE: Duration = Duration::from_millis(2);
    const HOLD: Duration = Duration::from_millis(50);

    /// Plays `ops` on one path that existed (or not) before, then flushes at `max_hold`.
    fn play(existed: bool, ops: &[Op]) -> Vec<ChangeKind> {
        let mut batch = Batch::new(SETTLE, HOLD);
        let t0 = Instant::now();
        for op in ops {
            batch.record("/r/a.css".into(), false, existed, *op, t0);
        }
        batch
            .take_ready(t0 + HOLD)
            .map(|set| set.changes.into_iter().map(|c| c.kind).collect())
            .unwrap_or_default()
    }

    #[test]
    fn editor_save_strategies_become_one_modified() {
        use Op::*;
        let modified = vec![ChangeKind::Modified];
        // write in place / truncate then write
        assert_eq!(play(true, &[Write, Write, Closed]), modified);
        // rename temp over target (vim backupcopy=no, JetBrains): target gone, then renamed in
        assert_eq!(play(true, &[Gone, Appeared]), modified);
        // delete then create
        assert_eq!(play(true, &[Gone, Write, Write, Closed]), modified);
    }

    #[test]
    fn created_then_removed_in_one_batch_is_no_change() {
        assert_eq!(play(false, &[Op::Write, Op::Closed, Op::Gone]), vec![]);
        assert_eq!(play(false, &[Op::Write]), vec![ChangeKind::Created]);
        assert_eq!(play(true, &[Op::Gone]), vec![ChangeKind::Removed]);
    }

    #[test]
    fn an_unclosed_write_is_held_until_close_or_max_hold() {
        let mut batch = Batch::new(SETTLE, HOLD);
        let t0 = Instant::now();
        batch.record("/r/half.js".into(), false, true, Op::Write, t0);
        batch.record("/r/done.css".into(), false, true, Op::Appeared, t0);
        let set = batch.take_ready(t0 + SETTLE).expect("done.css is ready");
        assert_eq!(set.changes.len(), 1);
        assert_eq!(set.changes[0].path, PathBuf::from("/r/done.css"));
        // Only the unclosed write is left: wake at max_hold, not in a busy loop.
        assert_eq!(batch.next_wake(), Some(t0 + HOLD));
        assert!(batch.take_ready(t0 + SETTLE * 2).is_none());
        let set = batch
            .take_ready(t0 + HOLD)
            .expect("max_hold releases the write");
        assert_eq!(set.changes[0].path, PathBuf::from("/r/half.js"));
        assert_eq!(batch.next_wake(), None);
    }

    #[test]
    fn a_write_begun_late_in_a_batch_is_carried_into_the_next() {
        let mut batch = Batch::new(SETTLE, HOLD);
        let t0 = Instant::now();
        let late = t0 + HOLD - SETTLE;
        batch.record("/r/early.js".into(), false, true, Op::Appeared, t0);
        batch.record("/r/late.js".into(), false, false, Op::Write, late);
        let set = batch.take_ready(t0 + HOLD).expect("the batch is due");
        assert_eq!(set.changes.len(), 1, "{set:?}");
        assert_eq!(batch.next_wake(), Some(late + HOLD));
        batch.record("/r/late.js".into(), false, false, Op::Closed, late + SETTLE);
        let set = batch.take_ready(late + SETTLE * 2).expect("closed");
        assert_eq!(set.changes[0].kind, ChangeKind::Created);
    }

    #[test]
    fn overflow_yields_a_set_even_without_changes() {
        let mut batch = Batch::new(SETTLE, HOLD);
        let t0 = Instant::now();
        batch.overflow(t0);
        let set = batch.take_ready(t0 + SETTLE).expect("overflow is reported");
        assert!(set.overflowed && set.changes.is_empty());
    }

    #[test]
    fn directories_report_only_their_removal() {
        let mut batch = Batch::new(SETTLE, HOLD);
        let t0 = Instant::now();
        batch.record("/r/new".into(), true, false, Op::Appeared, t0);
        batch.record("/r/old".into(), true, true, Op::Gone, t0);
        let set = batch.take_ready(t0 + HOLD).expect("removal is reported");
        assert_eq!(
            set.changes,
            vec![Change {
                path: "/r/old".into(),
                kind: ChangeKind::Removed
            }]
        );
    }
}
