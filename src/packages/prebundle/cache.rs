//! The on-disk cache of a build, inside the project at `node_modules/.hotserve/deps/`: the
//! chunks as files and `_meta.json`, which names the key they were built for. A restart
//! whose key matches reads them back without running rolldown.
//!
//! The folder is a dotfile path, so the HTTP deny list keeps it private; browsers get the
//! chunks from memory through the `/@deps/` route.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where the cache lives for a root.
pub(crate) fn dir(root: &Path) -> PathBuf {
    root.join("node_modules").join(".hotserve").join("deps")
}

const META: &str = "_meta.json";

/// What `_meta.json` records.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Meta {
    /// The build's key: dependency version, hotserve version, entries and their versions.
    pub key: String,
    /// The dependency version (lockfile hash) the build was made for.
    pub deps_version: Option<String>,
    /// The entries as `(name, file)`.
    pub entries: Vec<(String, PathBuf)>,
    /// The chunk files written beside it.
    pub files: Vec<String>,
    /// Entries that failed, with the message, as `(name, message)`.
    #[serde(default)]
    pub failed: Vec<(String, String)>,
}

/// The meta of the cached build, if one is there and readable.
pub(crate) fn read_meta(dir: &Path) -> Option<Meta> {
    let text = std::fs::read(dir.join(META)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// A build read back from the cache.
pub(crate) struct Cached {
    pub meta: Meta,
    /// The chunks, as `(file name, code)`.
    pub files: Vec<(String, Vec<u8>)>,
}

/// The cached build for `key`: its chunks, read back. `None` when the key differs or a file
/// is missing.
pub(crate) fn load(dir: &Path, key: &str) -> Option<Cached> {
    let meta = read_meta(dir).filter(|m| m.key == key)?;
    let mut files = Vec::with_capacity(meta.files.len());
    for name in &meta.files {
        if !safe_name(name) {
            return None;
        }
        files.push((name.clone(), std::fs::read(dir.join(name)).ok()?));
    }
    Some(Cached { meta, files })
}

/// Replaces the cache with this build: old chunks removed, new ones written, `_meta.json`
/// last (through a rename), so a crash leaves no meta naming missing files.
pub(crate) fn store(dir: &Path, meta: &Meta, files: &[(String, String)]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let _ = std::fs::remove_file(dir.join(META));
    for entry in std::fs::read_dir(dir)?.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    for (name, code) in files {
        if safe_name(name) {
            std::fs::write(dir.join(name), code)?;
        }
    }
    let text = serde_json::to_vec_pretty(meta).map_err(std::io::Error::other)?;
    let temp = dir.join(format!("{META}.tmp"));
    std::fs::write(&temp, text)?;
    std::fs::rename(temp, dir.join(META))
}

/// A chunk file name as the build writes them and the `/@deps/` route accepts them: one
/// path segment of letters, digits, `_`, `-`, `.` and `@`, not starting with a dot.
pub(crate) fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_plain_segments_are_chunk_names() {
        for good in [
            "react.js",
            "react-dom_client.js",
            "chunk-react-Ab_1.js",
            "@s_pkg.js",
        ] {
            assert!(safe_name(good), "{good}");
        }
        for bad in [
            "",
            ".env",
            "..",
            "../x.js",
            "a/b.js",
            "a%2fb.js",
            "_meta.json\0",
            "a\\b",
        ] {
            assert!(!safe_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_stored_build_loads_back_for_its_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Meta {
            key: "k1".into(),
            deps_version: Some("v".into()),
            entries: vec![(
                "react".into(),
                PathBuf::from("/p/node_modules/react/index.js"),
            )],
            files: vec!["react.js".into()],
            failed: vec![],
        };
        std::fs::write(dir.path().join("stale.js"), "old").unwrap();
        store(
            dir.path(),
            &meta,
            &[("react.js".into(), "export default 1".into())],
        )
        .unwrap();
        assert!(
            !dir.path().join("stale.js").exists(),
            "old chunks are removed"
        );
        let Cached { meta: read, files } = load(dir.path(), "k1").unwrap();
        assert_eq!(read, meta);
        assert_eq!(
            files,
            vec![("react.js".to_owned(), b"export default 1".to_vec())]
        );
        assert!(load(dir.path(), "k2").is_none());
        std::fs::remove_file(dir.path().join("react.js")).unwrap();
        assert!(
            load(dir.path(), "k1").is_none(),
            "a missing chunk means no cache"
        );
    }
}
