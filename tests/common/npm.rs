//! Projects made of the real npm packages pinned in `tests/js/package-lock.json`, copied
//! into a temp folder's `node_modules` (never symlinked: hotserve resolves real paths).

use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// `tests/js/node_modules` when `probe` is installed there; otherwise `None` after a note
/// (the test is skipped), or a failure under `HOTSERVE_REQUIRE_JS=1` (CI).
pub fn installed(probe: &str) -> Option<PathBuf> {
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/node_modules");
    if modules.join(probe).join("package.json").is_file() {
        return Some(modules);
    }
    let required = std::env::var("HOTSERVE_REQUIRE_JS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "HOTSERVE_REQUIRE_JS=1 but {} lacks the pinned packages: run `npm ci --prefix tests/js`",
        modules.display()
    );
    eprintln!("skipping: run `npm ci --prefix tests/js` to enable this test");
    None
}

/// A project folder (canonical path) whose `node_modules` holds copies of `packages`, with
/// a lockfile (so package files get a version) and `manifest` as its `package.json`; `None`
/// when the packages are not installed.
pub fn project(packages: &[&str], manifest: &str) -> Option<(TempDir, PathBuf)> {
    let modules = installed(packages.first().copied().unwrap_or("lit"))?;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    for package in packages {
        super::copy_dir(
            &modules.join(package),
            &root.join("node_modules").join(package),
        );
    }
    super::write(
        &root,
        "package-lock.json",
        r#"{"lockfileVersion": 3, "packages": {}}"#,
    );
    super::write(&root, "package.json", manifest);
    Some((dir, root))
}
