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

/// Quiet time after which a batch of completed in-place saves goes out. The close of a file
/// that was written in place already says the save is complete, so there is little to wait
/// for; the short pause lets files saved together (an editor's "save all" writes them
/// concurrently) travel together. Files written one after another go out one by one, as in
/// Vite. Measured with `bench_watch`: 0.1 ms instead of 0.25 ms takes about 0.2 ms off a save.
pub(crate) const QUICK_SETTLE: Duration = Duration::from_micros(100);
/// Batches up to this size count as a person's save and may use [`QUICK_SETTLE`].
const QUICK_MAX_ENTRIES: usize = 8;
/// From this size a batch is a burst (branch switch, a build): wait this long for quiet, so
/// a writer that pauses for a few milliseconds does not split it into many messages.
const BURST_ENTRIES: usize = 32;
const BURST_SETTLE: Duration = Duration::from_millis(10);
/// A batch that starts within this time of the previous flush continues a burst: it may not
/// use [`QUICK_SETTLE`], and its hold doubles (up to [`HOLD_GROWTH_LIMIT`] times `max_hold`),
/// so a 250 ms checkout arrives in about three messages instead of five or a dozen.
const CALM: Duration = Duration::from_millis(50);
const HOLD_GROWTH_LIMIT: u32 = 8;
/// Quiet time while a file that existed is gone: it may be coming back (a save by delete
/// and re-create, a tool that rewrites its output), and a removal reloads pages where the
/// file's return is a hot update. Still within `max_hold`, and a real delete is rare.
const GONE_SETTLE: Duration = Duration::from_millis(25);

/// The changes gathered since the last flush.
#[derive(Debug)]
pub(crate) struct Batch {
    settle: Duration,
    max_hold: Duration,
    /// The batch-level hold in force: `max_hold`, doubled while a burst goes on.
    hold: Duration,
    /// The batch started after a calm period, so it may be a single save.
    calm_start: bool,
    last_flush: Option<Instant>,
    /// Every entry so far is an existing file written in place (no renames, deletes or new
    /// files, which may be half of a multi-step save).
    in_place: bool,
    entries: HashMap<PathBuf, Entry>,
    /// How many entries are [`Op::Write`] without a close yet.
    writing: usize,
    /// How many entries existed before the batch and are gone now.
    gone: usize,
    first: Option<Instant>,
    last: Option<Instant>,
    overflowed: bool,
}

impl Batch {
    pub(crate) fn new(settle: Duration, max_hold: Duration) -> Self {
        Batch {
            settle,
            max_hold,
            hold: max_hold,
            calm_start: true,
            last_flush: None,
            in_place: true,
            entries: HashMap::new(),
            writing: 0,
            gone: 0,
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
        let in_place = entry.existed && !entry.is_dir && matches!(op, Op::Write | Op::Closed);
        self.in_place &= in_place;
        let was_writing = entry.writing;
        let was_gone = entry.existed && !entry.exists;
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
        match (was_gone, entry.existed && !entry.exists) {
            (false, true) => self.gone += 1,
            (true, false) => self.gone -= 1,
            _ => {}
        }
        self.touch(now);
    }

    /// Events were lost: the next change set must tell the caller to reload everything.
    pub(crate) fn overflow(&mut self, now: Instant) {
        self.overflowed = true;
        self.in_place = false;
        self.touch(now);
    }

    fn touch(&mut self, now: Instant) {
        if self.first.is_none() {
            self.calm_start = self.last_flush.is_none_or(|flushed| now >= flushed + CALM);
            self.hold = if self.calm_start {
                self.max_hold
            } else {
                (self.hold * 2).min(self.max_hold * HOLD_GROWTH_LIMIT)
            };
            self.first = Some(now);
        }
        self.last = Some(now);
    }

    /// When [`Batch::take_ready`] may next have something: after `settle` of quiet, or at
    /// `max_hold` after the first event if only unclosed writes are pending.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        let hold = self.first? + self.hold;
        let quiet = self.last? + self.settle_now();
        let due = quiet.min(hold);
        let only_writes = !self.overflowed && self.writing == self.entries.len();
        if only_writes {
            // Nothing to send until the oldest unclosed write closes or times out, and then
            // only once the batch is due (never a wake time that is already past, which
            // would spin until it is).
            let oldest = self.entries.values().map(|e| e.since).min()?;
            return Some(due.max(oldest + self.max_hold));
        }
        Some(due)
    }

    /// Takes the changes that are due at `now`: after `settle` of quiet, or at `max_hold` after
    /// the batch's first event, everything goes except unclosed writes younger than `max_hold`.
    /// Paths whose events cancel out produce nothing.
    pub(crate) fn take_ready(&mut self, now: Instant) -> Option<ChangeSet> {
        let (first, last) = (self.first?, self.last?);
        let settle = self.settle_now();
        let overdue = now >= first + self.hold;
        if !overdue && now < last + settle {
            return None;
        }
        self.last_flush = Some(now);
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
        self.gone = 0;
        self.in_place = held.values().all(|e| e.existed && !e.is_dir);
        // Unclosed writes carried over start the next batch now, as part of the same burst.
        self.first = None;
        self.last = None;
        if !held.is_empty() {
            self.touch(now);
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

    /// The quiet time the batch waits for now: short for a completed in-place save, longer
    /// for a burst (a big batch, or one that continues the previous set's burst: without
    /// that, the few files still being written at a flush went out alone a moment later),
    /// `settle` otherwise.
    fn settle_now(&self) -> Duration {
        let n = self.entries.len();
        let single_save = self.calm_start && self.in_place && n <= QUICK_MAX_ENTRIES;
        if single_save && self.writing == 0 && !self.overflowed {
            QUICK_SETTLE.min(self.settle)
        } else if n >= BURST_ENTRIES || !self.calm_start {
            self.settle.max(BURST_SETTLE)
        } else if self.gone > 0 {
            self.settle.max(GONE_SETTLE)
        } else {
            self.settle
        }
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
    fn a_file_deleted_then_recreated_a_few_milliseconds_later_is_one_modified() {
        let mut batch = Batch::new(SETTLE, HOLD);
        let t0 = Instant::now();
        let gap = Duration::from_millis(10);
        batch.record("/r/a.css".into(), false, true, Op::Gone, t0);
        assert!(
            batch.take_ready(t0 + SETTLE).is_none(),
            "a removal waits longer"
        );
        batch.record("/r/a.css".into(), false, true, Op::Write, t0 + gap);
        batch.record("/r/a.css".into(), false, true, Op::Closed, t0 + gap);
        let set = batch.take_ready(t0 + gap + SETTLE).expect("back: a save");
        assert_eq!(set.changes[0].kind, ChangeKind::Modified);

        // A real delete, after a calm period, still goes out after the longer quiet.
        let later = t0 + gap + CALM * 2;
        batch.record("/r/b.css".into(), false, true, Op::Gone, later);
        assert_eq!(batch.next_wake(), Some(later + GONE_SETTLE));
        let set = batch.take_ready(later + GONE_SETTLE).expect("removed");
        assert_eq!(set.changes[0].kind, ChangeKind::Removed);
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
        let closed = late + SETTLE;
        batch.record("/r/late.js".into(), false, false, Op::Closed, closed);
        // It continues a burst: it waits for the burst's quiet, so files written right
        // after it join it instead of making another message.
        assert_eq!(batch.next_wake(), Some(closed + BURST_SETTLE));
        assert!(batch.take_ready(closed + SETTLE).is_none());
        let set = batch.take_ready(closed + BURST_SETTLE).expect("closed");
        assert_eq!(set.changes[0].kind, ChangeKind::Created);
    }

    #[test]
    fn a_completed_in_place_save_goes_out_after_the_quick_settle() {
        let mut batch = Batch::new(SETTLE, HOLD);
        let t0 = Instant::now();
        batch.record("/r/a.css".into(), false, true, Op::Write, t0);
        assert!(
            batch.take_ready(t0 + QUICK_SETTLE).is_none(),
            "still writing"
        );
        batch.record("/r/a.css".into(), false, true, Op::Closed, t0);
        assert_eq!(batch.next_wake(), Some(t0 + QUICK_SETTLE));
        let set = batch
            .take_ready(t0 + QUICK_SETTLE)
            .expect("the save is complete");
        assert_eq!(set.changes[0].kind, ChangeKind::Modified);
    }

    #[test]
    fn deletes_renames_and_new_files_wait_the_full_settle() {
        for (existed, op, settle) in [
            (true, Op::Gone, GONE_SETTLE),
            (true, Op::Appeared, SETTLE),
            (false, Op::Closed, SETTLE),
        ] {
            let mut batch = Batch::new(SETTLE, HOLD);
            let t0 = Instant::now();
            batch.record("/r/a.css".into(), false, existed, op, t0);
            assert!(batch.take_ready(t0 + QUICK_SETTLE).is_none(), "{op:?}");
            assert!(
                batch.take_ready(t0 + settle - QUICK_SETTLE).is_none(),
                "{op:?}"
            );
            assert!(batch.take_ready(t0 + settle).is_some(), "{op:?}");
        }
    }

    #[test]
    fn a_long_burst_arrives_in_a_few_sets_as_the_hold_grows() {
        let mut batch = Batch::new(SETTLE, HOLD);
        let t0 = Instant::now();
        let mut sets = Vec::new();
        // 1,000 files truncated and rewritten in place over about 330 ms, with a 4 ms pause
        // every 100 files: the first one looks like a single save and goes out at once.
        let mut t = t0;
        for i in 0..1000u32 {
            t += Duration::from_micros(if i % 100 == 99 { 4000 } else { 300 });
            let path = PathBuf::from(format!("/r/f{i}.css"));
            batch.record(path.clone(), false, true, Op::Write, t);
            batch.record(path, false, true, Op::Closed, t + Duration::from_micros(10));
            let before_next = t + Duration::from_micros(290);
            if let Some(set) = batch.take_ready(before_next) {
                sets.push(set.changes.len());
            }
        }
        let end = batch.next_wake().expect("the rest is pending");
        sets.push(batch.take_ready(end).expect("the rest").changes.len());
        assert_eq!(sets.iter().sum::<usize>(), 1000, "{sets:?}");
        assert!(sets.len() <= 4, "{sets:?}");
        assert_eq!(
            sets[0], 1,
            "the first save went out alone, at once: {sets:?}"
        );
    }

    #[test]
    fn a_fast_burst_of_in_place_writes_is_one_set() {
        let mut batch = Batch::new(SETTLE, HOLD);
        let t0 = Instant::now();
        let mut t = t0;
        for i in 0..1000u32 {
            t += Duration::from_micros(5);
            let path = PathBuf::from(format!("/r/f{i}.css"));
            batch.record(path.clone(), false, true, Op::Write, t);
            batch.record(path, false, true, Op::Closed, t);
            assert!(batch.take_ready(t).is_none());
        }
        let end = batch.next_wake().expect("pending");
        assert_eq!(batch.take_ready(end).expect("one set").changes.len(), 1000);
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
