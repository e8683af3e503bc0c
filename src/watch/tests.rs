//! End-to-end tests: real temp dirs, real writes, real notify. "Arrives" waits up to 5 s;
//! "nothing arrives" waits 300 ms. No test asserts on timing figures.

use super::*;
use std::fs;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const ARRIVES: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(300);

/// Options whose batch window comfortably spans a multi-step save even on a loaded machine,
/// for tests about what one save becomes rather than about the default timing.
fn one_batch(root: &Path) -> WatchOptions {
    WatchOptions::new(root)
        .settle(Duration::from_millis(150))
        .max_hold(Duration::from_secs(2))
}

/// A temp root with awkward names, canonicalized like the watcher's root.
fn fixture() -> Result<(tempfile::TempDir, PathBuf), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().canonicalize()?;
    fs::create_dir_all(root.join("src/with space"))?;
    fs::write(root.join("index.html"), "<html></html>")?;
    fs::write(root.join("src/app.css"), "body {}")?;
    fs::write(root.join("src/with space/ünï côde.js"), "export {}")?;
    Ok((tmp, root))
}

/// Collects sets until `done` holds for everything received so far, or fails after 5 s.
async fn until(
    rx: &mut Receiver<ChangeSet>,
    done: impl Fn(&[Change]) -> bool,
) -> Result<Vec<ChangeSet>, Box<dyn std::error::Error>> {
    let mut sets: Vec<ChangeSet> = Vec::new();
    let deadline = tokio::time::Instant::now() + ARRIVES;
    loop {
        let all: Vec<Change> = sets.iter().flat_map(|s| s.changes.clone()).collect();
        if done(&all) {
            return Ok(sets);
        }
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(set)) => sets.push(set),
            Ok(None) => return Err("watcher stopped".into()),
            Err(_) => return Err(format!("timed out; received {sets:#?}").into()),
        }
    }
}

/// Everything that arrives within 300 ms.
async fn quiet(rx: &mut Receiver<ChangeSet>) -> Vec<Change> {
    let mut changes = Vec::new();
    while let Ok(Some(set)) = timeout(QUIET, rx.recv()).await {
        changes.extend(set.changes);
    }
    changes
}

fn has(changes: &[Change], path: &Path) -> bool {
    changes.iter().any(|c| c.path == path)
}

fn kinds(changes: &[Change], path: &Path) -> Vec<ChangeKind> {
    changes
        .iter()
        .filter(|c| c.path == path)
        .map(|c| c.kind)
        .collect()
}

/// Asserts the total effect on `path` over everything received is exactly `[kind]`.
async fn expect_one(rx: &mut Receiver<ChangeSet>, path: &Path, kind: ChangeKind) -> TestResult {
    let sets = until(rx, |c| has(c, path)).await?;
    let mut all: Vec<Change> = sets.into_iter().flat_map(|s| s.changes).collect();
    all.extend(quiet(rx).await);
    assert_eq!(kinds(&all, path), vec![kind], "changes: {all:#?}");
    Ok(())
}

/// Like [`expect_one`] for a modification seen by polling: a scan can land between the
/// truncation and the write of `fs::write`, and then the next scan reports the file again.
/// Every report must still be a modification (never a removal or creation).
async fn expect_polled_modification(rx: &mut Receiver<ChangeSet>, path: &Path) -> TestResult {
    let sets = until(rx, |c| has(c, path)).await?;
    let mut all: Vec<Change> = sets.into_iter().flat_map(|s| s.changes).collect();
    all.extend(quiet(rx).await);
    let kinds = kinds(&all, path);
    assert!(!kinds.is_empty() && kinds.len() <= 2, "changes: {all:#?}");
    assert!(
        kinds.iter().all(|k| *k == ChangeKind::Modified),
        "changes: {all:#?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_css_edit_yields_one_modified_change() -> TestResult {
    let (_tmp, root) = fixture()?;
    let (_watcher, mut rx) = Watcher::start(WatchOptions::new(&root))?;
    let css = root.join("src/app.css");
    fs::write(&css, "body { color: red }")?;
    expect_one(&mut rx, &css, ChangeKind::Modified).await?;
    let awkward = root.join("src/with space/ünï côde.js");
    fs::write(&awkward, "export const x = 1")?;
    expect_one(&mut rx, &awkward, ChangeKind::Modified).await
}

#[tokio::test]
async fn a_new_file_is_created_and_a_deleted_one_removed() -> TestResult {
    let (_tmp, root) = fixture()?;
    let (_watcher, mut rx) = Watcher::start(WatchOptions::new(&root))?;
    let new = root.join("src/new.js");
    fs::write(&new, "export {}")?;
    expect_one(&mut rx, &new, ChangeKind::Created).await?;
    fs::remove_file(root.join("index.html"))?;
    expect_one(&mut rx, &root.join("index.html"), ChangeKind::Removed).await
}

#[tokio::test]
async fn reading_files_reports_nothing() -> TestResult {
    let (_tmp, root) = fixture()?;
    let (_watcher, mut rx) = Watcher::start(WatchOptions::new(&root))?;
    fs::read(root.join("src/app.css"))?;
    fs::read_dir(root.join("src"))?.for_each(drop);
    assert_eq!(quiet(&mut rx).await, vec![]);
    Ok(())
}

#[tokio::test]
async fn gitignored_files_are_not_reported() -> TestResult {
    let (_tmp, root) = fixture()?;
    fs::write(root.join(".gitignore"), "*.log\n/out/\n")?;
    fs::create_dir(root.join("out"))?;
    fs::create_dir_all(root.join(".git/info"))?;
    fs::write(root.join(".git/info/exclude"), "*.secret\n")?;
    let (_watcher, mut rx) = Watcher::start(WatchOptions::new(&root))?;
    fs::write(root.join("debug.log"), "x")?;
    fs::write(root.join("out/bundle.js"), "x")?;
    fs::write(root.join("src/key.secret"), "x")?;
    let marker = root.join("src/after.js");
    fs::write(&marker, "x")?;
    let sets = until(&mut rx, |c| has(c, &marker)).await?;
    let mut all: Vec<Change> = sets.into_iter().flat_map(|s| s.changes).collect();
    all.extend(quiet(&mut rx).await);
    assert_eq!(
        all.iter().map(|c| &c.path).collect::<Vec<_>>(),
        vec![&marker]
    );
    Ok(())
}

#[tokio::test]
async fn ignore_glob_option_hides_matches() -> TestResult {
    let (_tmp, root) = fixture()?;
    let opts = WatchOptions::new(&root).ignore_globs(["*.map", "generated/"]);
    let (_watcher, mut rx) = Watcher::start(opts)?;
    fs::write(root.join("src/app.css.map"), "{}")?;
    fs::create_dir(root.join("generated"))?;
    fs::write(root.join("generated/types.js"), "x")?;
    let marker = root.join("src/app.css");
    fs::write(&marker, "x")?;
    let sets = until(&mut rx, |c| has(c, &marker)).await?;
    let mut all: Vec<Change> = sets.into_iter().flat_map(|s| s.changes).collect();
    all.extend(quiet(&mut rx).await);
    assert_eq!(
        all.iter().map(|c| &c.path).collect::<Vec<_>>(),
        vec![&marker]
    );
    Ok(())
}

#[tokio::test]
async fn invalid_ignore_glob_is_a_startup_error() -> TestResult {
    let (_tmp, root) = fixture()?;
    let opts = WatchOptions::new(&root).ignore_globs(["src/**{"]);
    let err = Watcher::start(opts).err().ok_or("glob accepted")?;
    assert!(matches!(err, WatchError::InvalidIgnoreGlob { .. }), "{err}");
    let missing = Watcher::start(WatchOptions::new(root.join("nope"))).err();
    assert!(matches!(missing, Some(WatchError::RootUnresolvable { .. })));
    Ok(())
}

#[test]
fn works_without_a_tokio_runtime() -> TestResult {
    let (_tmp, root) = fixture()?;
    let (watcher, mut rx) = Watcher::start(WatchOptions::new(&root))?;
    let (done_tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || done_tx.send(rx.blocking_recv()));
    fs::write(root.join("index.html"), "<p>changed</p>")?;
    let set = done
        .recv_timeout(Duration::from_secs(5))?
        .ok_or("watcher ended")?;
    drop(watcher);
    assert_eq!(set.changes.len(), 1, "{set:?}");
    assert_eq!(set.changes[0].path, root.join("index.html"));
    assert_eq!(set.changes[0].kind, ChangeKind::Modified);
    Ok(())
}

#[tokio::test]
async fn node_modules_and_dot_git_are_ignored() -> TestResult {
    let (_tmp, root) = fixture()?;
    fs::create_dir_all(root.join("node_modules/lib"))?;
    fs::create_dir_all(root.join(".git"))?;
    let (_watcher, mut rx) = Watcher::start(WatchOptions::new(&root))?;
    fs::write(root.join("node_modules/lib/index.js"), "x")?;
    fs::create_dir(root.join("node_modules/fresh"))?;
    fs::write(root.join("node_modules/fresh/index.js"), "x")?;
    fs::write(root.join(".git/HEAD"), "ref: refs/heads/main")?;
    // Editor droppings next to a served file.
    for temp in [
        ".app.css.swp",
        "4913",
        "app.css~",
        ".#app.css",
        "app.css___jb_tmp___",
    ] {
        fs::write(root.join("src").join(temp), "x")?;
    }
    assert_eq!(quiet(&mut rx).await, vec![]);
    Ok(())
}

#[tokio::test]
async fn node_modules_gets_no_watches() -> TestResult {
    let (_tmp, root) = fixture()?;
    for i in 0..200 {
        let pkg = root.join(format!("node_modules/pkg{i}/dist"));
        fs::create_dir_all(&pkg)?;
        fs::write(pkg.join("index.js"), "x")?;
    }
    fs::create_dir_all(root.join(".git/objects/ab"))?;
    let (watcher, _rx) = Watcher::start(WatchOptions::new(&root))?;
    let dirs = watcher.watched_dirs();
    assert!(dirs.contains(&root.join("src/with space")), "{dirs:?}");
    assert!(
        dirs.iter()
            .all(|d| !d.starts_with(root.join("node_modules")) && !d.starts_with(root.join(".git"))),
        "{dirs:?}"
    );
    assert_eq!(dirs.len(), 3, "root, src, src/with space: {dirs:?}");
    Ok(())
}

#[tokio::test]
async fn rename_over_target_save_is_one_modified_change() -> TestResult {
    let (_tmp, root) = fixture()?;
    let (_watcher, mut rx) = Watcher::start(one_batch(&root))?;
    let target = root.join("src/app.css");
    // VS Code / JetBrains / atomic writers: write a temp file, rename it over the target.
    let temp = root.join("src/app.css___jb_tmp___");
    fs::write(&temp, "body { color: blue }")?;
    fs::rename(&temp, &target)?;
    expect_one(&mut rx, &target, ChangeKind::Modified).await?;
    // vim `backupcopy=no`: move the original to a backup, write a new file, drop the backup.
    let backup = root.join("src/app.css~");
    fs::rename(&target, &backup)?;
    fs::write(&target, "body { color: green }")?;
    fs::remove_file(&backup)?;
    expect_one(&mut rx, &target, ChangeKind::Modified).await?;
    // A temp name that no rule ignores leaves no trace either: created and gone in one batch.
    let plain_temp = root.join("src/app.css.4f2a");
    fs::write(&plain_temp, "body {}")?;
    fs::rename(&plain_temp, &target)?;
    let sets = until(&mut rx, |c| has(c, &target)).await?;
    let mut all: Vec<Change> = sets.into_iter().flat_map(|s| s.changes).collect();
    all.extend(quiet(&mut rx).await);
    assert_eq!(
        all,
        vec![Change {
            path: target,
            kind: ChangeKind::Modified
        }]
    );
    Ok(())
}

#[tokio::test]
async fn delete_then_create_is_one_modified_change() -> TestResult {
    let (_tmp, root) = fixture()?;
    let (_watcher, mut rx) = Watcher::start(one_batch(&root))?;
    let target = root.join("index.html");
    fs::remove_file(&target)?;
    fs::write(&target, "<html>new</html>")?;
    expect_one(&mut rx, &target, ChangeKind::Modified).await
}

#[tokio::test]
async fn truncate_then_write_is_one_modified_change() -> TestResult {
    use std::io::Write;
    let (_tmp, root) = fixture()?;
    let (_watcher, mut rx) = Watcher::start(WatchOptions::new(&root))?;
    let target = root.join("src/app.css");
    let mut file = fs::File::create(&target)?;
    // Half a file, a pause far longer than `settle`: the open write holds the path.
    file.write_all(b"body {")?;
    file.flush()?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    file.write_all(b" color: red }")?;
    drop(file);
    expect_one(&mut rx, &target, ChangeKind::Modified).await
}

#[tokio::test]
async fn created_then_removed_file_is_no_change() -> TestResult {
    let (_tmp, root) = fixture()?;
    let (_watcher, mut rx) = Watcher::start(one_batch(&root))?;
    let scratch = root.join("src/scratch.js");
    fs::write(&scratch, "x")?;
    fs::remove_file(&scratch)?;
    assert_eq!(quiet(&mut rx).await, vec![]);
    Ok(())
}

#[tokio::test]
async fn new_nested_directory_with_a_file_is_picked_up() -> TestResult {
    let (_tmp, root) = fixture()?;
    let (watcher, mut rx) = Watcher::start(WatchOptions::new(&root))?;
    // `mkdir -p a/b/c && echo x > a/b/c/x.css`: the file beats the watch on its directory.
    fs::create_dir_all(root.join("a/b/c"))?;
    let css = root.join("a/b/c/x.css");
    fs::write(&css, "x")?;
    expect_one(&mut rx, &css, ChangeKind::Created).await?;
    assert!(watcher.watched_dirs().contains(&root.join("a/b/c")));
    // ...and the new directory is watched from then on.
    fs::write(&css, "y")?;
    expect_one(&mut rx, &css, ChangeKind::Modified).await
}

#[tokio::test]
async fn removed_directory_is_reported_with_its_files() -> TestResult {
    let (_tmp, root) = fixture()?;
    let outside = tempfile::tempdir()?;
    let (watcher, mut rx) = Watcher::start(WatchOptions::new(&root))?;
    let dir = root.join("src/with space");
    let file = dir.join("ünï côde.js");
    // Moved within the root: the OS reports only the directory on each side.
    let moved = root.join("moved");
    fs::rename(&dir, &moved)?;
    let moved_file = moved.join("ünï côde.js");
    let sets = until(&mut rx, |c| has(c, &file) && has(c, &moved_file)).await?;
    let all: Vec<Change> = sets.into_iter().flat_map(|s| s.changes).collect();
    assert_eq!(kinds(&all, &dir), vec![ChangeKind::Removed]);
    assert_eq!(kinds(&all, &file), vec![ChangeKind::Removed]);
    assert_eq!(kinds(&all, &moved_file), vec![ChangeKind::Created]);
    assert!(!watcher.watched_dirs().contains(&dir));
    // Moved out of the root, then deleted outright.
    fs::rename(&moved, outside.path().join("moved"))?;
    expect_one(&mut rx, &moved_file, ChangeKind::Removed).await?;
    let src = root.join("src");
    fs::remove_dir_all(&src)?;
    expect_one(&mut rx, &src.join("app.css"), ChangeKind::Removed).await?;
    assert_eq!(watcher.watched_dirs(), vec![root]);
    Ok(())
}

#[tokio::test]
async fn gitignore_edited_at_runtime_is_respected() -> TestResult {
    let (_tmp, root) = fixture()?;
    fs::create_dir(root.join("build"))?;
    fs::write(root.join(".gitignore"), "build/\n")?;
    let (watcher, mut rx) = Watcher::start(WatchOptions::new(&root))?;
    assert!(!watcher.watched_dirs().contains(&root.join("build")));
    let gitignore = root.join(".gitignore");
    fs::write(&gitignore, "*.log\n")?;
    until(&mut rx, |c| has(c, &gitignore)).await?;
    // Newly ignored: not reported. Newly revealed: watched.
    fs::write(root.join("src/debug.log"), "x")?;
    let revealed = root.join("build/out.js");
    fs::write(&revealed, "x")?;
    let sets = until(&mut rx, |c| has(c, &revealed)).await?;
    let mut all: Vec<Change> = sets.into_iter().flat_map(|s| s.changes).collect();
    all.extend(quiet(&mut rx).await);
    assert_eq!(
        all,
        vec![Change {
            path: revealed,
            kind: ChangeKind::Created
        }]
    );
    Ok(())
}

// Multi-threaded so the worker batches while the files are being written, as in a server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_thousand_file_burst_arrives_in_a_few_sets_with_nothing_lost() -> TestResult {
    let (_tmp, root) = fixture()?;
    fs::create_dir(root.join("gen"))?;
    let (_watcher, mut rx) = Watcher::start(WatchOptions::new(&root))?;
    let paths: Vec<PathBuf> = (0..2000)
        .map(|i| root.join(format!("gen/m{i}.js")))
        .collect();
    for path in &paths {
        fs::write(path, "export {}")?;
    }
    let sets = until(&mut rx, |c| c.len() >= paths.len()).await?;
    assert!(sets.iter().all(|s| !s.overflowed));
    let all: Vec<Change> = sets.iter().flat_map(|s| s.changes.clone()).collect();
    assert_eq!(all.len(), paths.len(), "one change per file");
    assert!(all.iter().all(|c| c.kind == ChangeKind::Created));
    // Coalesced: many files per set, though how many depends on the machine's load.
    assert!(sets.len() <= paths.len() / 10, "{} sets", sets.len());
    Ok(())
}

#[tokio::test]
async fn poll_mode_reports_changes() -> TestResult {
    let (_tmp, root) = fixture()?;
    let opts = WatchOptions::new(&root).poll(Some(Duration::from_millis(50)));
    let (watcher, mut rx) = Watcher::start(opts)?;
    assert!(watcher.is_polling());
    let css = root.join("src/app.css");
    // A different length, so the edit shows even where mtime is coarse.
    fs::write(&css, "body { color: rebeccapurple }")?;
    expect_polled_modification(&mut rx, &css).await?;
    fs::create_dir_all(root.join("a/b"))?;
    let nested = root.join("a/b/x.css");
    fs::write(&nested, "x")?;
    // A scan between the creation and the write sees an empty file first, then its content.
    let sets = until(&mut rx, |c| has(c, &nested)).await?;
    let mut all: Vec<Change> = sets.into_iter().flat_map(|s| s.changes).collect();
    all.extend(quiet(&mut rx).await);
    let seen = kinds(&all, &nested);
    assert!(
        seen == [ChangeKind::Created] || seen == [ChangeKind::Created, ChangeKind::Modified],
        "changes: {all:#?}"
    );
    fs::remove_file(&css)?;
    expect_one(&mut rx, &css, ChangeKind::Removed).await
}

#[tokio::test]
async fn native_watcher_failure_falls_back_to_polling() -> TestResult {
    let (_tmp, root) = fixture()?;
    let mut opts = WatchOptions::new(&root);
    // Behave as if inotify returned ENOSPC after the first watch.
    opts.native_watch_limit = Some(1);
    let (watcher, mut rx) = Watcher::start(opts)?;
    assert!(watcher.is_polling());
    assert_eq!(
        watcher.watched_dirs().len(),
        3,
        "every directory is still watched"
    );
    let js = root.join("src/with space/ünï côde.js");
    fs::write(&js, "export const changed = true")?;
    expect_polled_modification(&mut rx, &js).await
}

#[tokio::test]
async fn watch_limit_reached_at_runtime_falls_back_and_asks_for_a_full_reload() -> TestResult {
    let (_tmp, root) = fixture()?;
    let mut opts = WatchOptions::new(&root);
    // Room for the three directories there are, not for a fourth.
    opts.native_watch_limit = Some(3);
    let (watcher, mut rx) = Watcher::start(opts)?;
    assert!(!watcher.is_polling());
    fs::create_dir(root.join("fresh"))?;
    let css = root.join("fresh/x.css");
    fs::write(&css, "x")?;
    let sets = until(&mut rx, |c| has(c, &css)).await?;
    assert!(watcher.is_polling());
    assert!(sets.iter().any(|s| s.overflowed), "{sets:#?}");
    // Polling from here on, with every directory, old and new, watched.
    assert_eq!(watcher.watched_dirs().len(), 4);
    // Seen by polling: a scan between the truncation and the write reports it twice.
    fs::write(root.join("index.html"), "<html>polled</html>")?;
    expect_polled_modification(&mut rx, &root.join("index.html")).await
}

#[tokio::test]
async fn channel_overflow_is_reported_not_dropped() -> TestResult {
    let (_tmp, root) = fixture()?;
    let mut opts = WatchOptions::new(&root);
    opts.raw_capacity = 1;
    let (_watcher, mut rx) = Watcher::start(opts)?;
    // This test's runtime has one thread and nothing here awaits, so the worker cannot drain
    // the channel while notify delivers: it must fill.
    for i in 0..50 {
        fs::write(root.join(format!("src/f{i}.js")), "x")?;
    }
    std::thread::sleep(Duration::from_millis(200));
    let set = timeout(ARRIVES, rx.recv())
        .await?
        .ok_or("watcher stopped")?;
    assert!(set.overflowed, "{set:?}");
    Ok(())
}

#[tokio::test]
async fn dropping_the_watcher_ends_the_stream() -> TestResult {
    let (_tmp, root) = fixture()?;
    let (watcher, mut rx) = Watcher::start(WatchOptions::new(&root))?;
    drop(watcher);
    assert!(timeout(ARRIVES, rx.recv()).await?.is_none());
    Ok(())
}
