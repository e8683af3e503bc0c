//! The dependency version: one hash over the lockfiles and the package managers' install
//! markers, written into every package URL as `?v=`.
//!
//! Package files are then cached by browsers for good (`immutable`), so a reload does not
//! refetch hundreds of files, and any install, upgrade or removal changes the hash, which
//! changes every package URL and reloads the pages. The watcher ignores `node_modules` (it
//! would cost a watch per folder of every package), and lockfiles may sit above the root in
//! a workspace, so these few files are checked by their own poll.

use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Lockfiles, in the folder of the served root or the nearest ancestor that has one.
const LOCKFILES: [&str; 6] = [
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lock",
    "bun.lockb",
];

/// What each package manager writes into `node_modules` when an install finishes.
const INSTALL_MARKERS: [&str; 4] = [
    ".package-lock.json",
    ".modules.yaml",
    ".yarn-state.yml",
    ".yarn-integrity",
];

/// The files whose change means the installed packages changed.
pub(crate) fn marker_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let lock_dir = root
        .ancestors()
        .find(|dir| LOCKFILES.iter().any(|name| dir.join(name).is_file()));
    let mut dirs = vec![root.to_path_buf()];
    if let Some(dir) = lock_dir
        && dir != root
    {
        dirs.push(dir.to_path_buf());
    }
    for dir in dirs {
        files.extend(LOCKFILES.iter().map(|name| dir.join(name)));
        let modules = dir.join("node_modules");
        files.extend(INSTALL_MARKERS.iter().map(|name| modules.join(name)));
    }
    files
}

/// The state of the marker files, cheap to take (one `stat` each) and compare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stamp(Vec<Option<(u64, Option<SystemTime>, u64)>>);

impl Stamp {
    pub fn take(files: &[PathBuf]) -> Self {
        Stamp(
            files
                .iter()
                .map(|f| {
                    let meta = std::fs::metadata(f).ok()?;
                    Some((meta.len(), meta.modified().ok(), inode(&meta)))
                })
                .collect(),
        )
    }

    /// For each file, whether it differs from `old`.
    pub fn diff(&self, old: &Stamp) -> Vec<bool> {
        self.0
            .iter()
            .zip(old.0.iter().chain(std::iter::repeat(&None)))
            .map(|(new, old)| new != old)
            .collect()
    }
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

/// The version for the current contents of `files` (8 hex digits), or `None` when none of
/// them exists. Includes hotserve's own version, because what a package file is rewritten
/// to depends on it.
pub(crate) fn version_of(files: &[PathBuf]) -> Option<String> {
    let mut hasher = DefaultHasher::new();
    hasher.write(env!("CARGO_PKG_VERSION").as_bytes());
    let mut found = false;
    for file in files {
        if let Ok(bytes) = std::fs::read(file) {
            found = true;
            hasher.write(file.as_os_str().as_encoded_bytes());
            hasher.write(&bytes);
        }
    }
    found.then(|| format!("{:08x}", hasher.finish() as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_follows_the_lockfile_and_the_install_marker() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let files = marker_files(&root);
        assert_eq!(version_of(&files), None, "no lockfile: no version");
        std::fs::write(root.join("package-lock.json"), "{\"a\":1}").unwrap();
        let first = version_of(&files).unwrap();
        assert_eq!(version_of(&files).unwrap(), first, "stable while unchanged");
        std::fs::create_dir(root.join("node_modules")).unwrap();
        std::fs::write(root.join("node_modules/.package-lock.json"), "{}").unwrap();
        let second = version_of(&files).unwrap();
        assert_ne!(first, second);
        std::fs::write(root.join("package-lock.json"), "{\"a\":2}").unwrap();
        assert_ne!(version_of(&files).unwrap(), second);
    }

    #[test]
    fn a_workspace_lockfile_above_the_root_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let root = base.join("packages/app");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(base.join("pnpm-lock.yaml"), "lockfileVersion: 9").unwrap();
        let files = marker_files(&root);
        assert!(files.contains(&base.join("pnpm-lock.yaml")));
        assert!(files.contains(&base.join("node_modules/.modules.yaml")));
        assert!(files.contains(&root.join("node_modules/.package-lock.json")));
    }

    #[test]
    fn a_stamp_changes_when_a_marker_appears() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let files = marker_files(&root);
        let before = Stamp::take(&files);
        std::fs::write(root.join("yarn.lock"), "# yarn").unwrap();
        let after = Stamp::take(&files);
        assert_ne!(before, after);
        let changed: Vec<&PathBuf> = files
            .iter()
            .zip(after.diff(&before))
            .filter_map(|(f, changed)| changed.then_some(f))
            .collect();
        assert_eq!(changed, [&root.join("yarn.lock")]);
    }
}
