//! The `/@fs/` route's gate: a file outside the root is served only when its real path lies
//! inside a package directory the resolver resolved an import to.
//!
//! The request path goes through the same decoding and segment checks as every other path
//! ([`crate::http::resolve::resolve`]: one decode, no `..` in any encoding, no backslashes,
//! NUL or drive letters). Then the real path (all symlinks followed) must lie inside an
//! allowed package directory, and the part of it inside that directory must pass the deny
//! list and contain no dotfile: a symlink from a package to anywhere else, or a request for
//! `.env` or `.git/` inside a linked package, is refused.

use crate::http::resolve::{DenyList, Refusal, resolve};
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

/// Package directories (canonical) that may be served through `/@fs/`.
#[derive(Debug, Default)]
pub(crate) struct AllowList {
    roots: std::sync::RwLock<BTreeSet<PathBuf>>,
}

/// What the `/@fs/` route answers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FsTarget {
    /// Serve this real, regular file.
    File(PathBuf),
    /// Inside an allowed package directory, but nothing there.
    NotFound,
    /// Refused (outside every allowed package directory, denied, or not a regular file).
    Refused(Refusal),
}

impl AllowList {
    /// Allow the package directory `dir` (canonical), unless it contains the served root:
    /// a package whose folder holds the root (a workspace's top-level `package.json`) would
    /// open the whole tree around the root.
    pub fn allow(&self, dir: &Path, root: &Path) -> bool {
        if root.starts_with(dir) || dir.parent().is_none() {
            return false;
        }
        let mut roots = self.roots.write().unwrap_or_else(|p| p.into_inner());
        if !roots.contains(dir) {
            tracing::debug!(dir = %dir.display(), "package outside the root may be served");
            roots.insert(dir.to_path_buf());
        }
        true
    }

    fn containing(&self, real: &Path) -> Option<PathBuf> {
        let roots = self.roots.read().unwrap_or_else(|p| p.into_inner());
        roots.iter().find(|r| real.starts_with(r)).cloned()
    }

    /// Decide the request path after `/@fs` (starting with `/`, percent-encoded as sent).
    /// Blocking: touches the file system.
    pub fn decide(&self, encoded: &str, deny: &DenyList) -> FsTarget {
        let safe = match resolve(encoded) {
            Ok(safe) => safe,
            Err(refusal) => return FsTarget::Refused(refusal),
        };
        if safe.segments.is_empty() || safe.trailing_slash || deny.denies(&safe.segments) {
            return FsTarget::Refused(Refusal::Forbidden);
        }
        let requested: PathBuf = std::iter::once("/".to_owned())
            .chain(safe.segments.iter().cloned())
            .collect();
        let real = match std::fs::canonicalize(&requested) {
            Ok(real) => real,
            // Missing: a 404 only where a file could be served, so the answer never tells
            // which paths exist elsewhere on the machine.
            Err(_) => {
                return match self.containing(&requested) {
                    Some(dir) if clean_inside(&requested, &dir, deny) => FsTarget::NotFound,
                    _ => FsTarget::Refused(Refusal::Forbidden),
                };
            }
        };
        let Some(dir) = self.containing(&real) else {
            return FsTarget::Refused(Refusal::Forbidden);
        };
        if !clean_inside(&real, &dir, deny) {
            return FsTarget::Refused(Refusal::Forbidden);
        }
        match std::fs::metadata(&real) {
            Ok(meta) if meta.is_file() => FsTarget::File(real),
            Ok(_) => FsTarget::Refused(Refusal::Forbidden),
            Err(_) => FsTarget::NotFound,
        }
    }
}

/// Whether `path` lies in `dir` with no dotfile, dot-folder or denied name on the way.
fn clean_inside(path: &Path, dir: &Path, deny: &DenyList) -> bool {
    let Ok(relative) = path.strip_prefix(dir) else {
        return false;
    };
    let mut names = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(name) => {
                let name = name.to_string_lossy();
                if name.starts_with('.') {
                    return false;
                }
                names.push(name.into_owned());
            }
            _ => return false,
        }
    }
    !names.is_empty() && !deny.denies(&names)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tree {
        _dir: tempfile::TempDir,
        base: PathBuf,
    }

    /// `base/root` (served), `base/pkg` (a linked package) and `base/secret.txt`.
    fn tree() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        for (path, text) in [
            ("root/index.html", "page"),
            ("pkg/package.json", "{}"),
            ("pkg/index.js", "export {}"),
            ("pkg/.env", "SECRET=1"),
            ("pkg/.hidden/x.js", "x"),
            ("pkg/key.pem", "k"),
            ("secret.txt", "secret"),
        ] {
            let file = base.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(base.join("secret.txt"), base.join("pkg/escape.js")).unwrap();
        Tree { _dir: dir, base }
    }

    fn url(path: &Path) -> String {
        percent_encoding::utf8_percent_encode(
            &path.to_string_lossy(),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string()
        .replace("%2F", "/")
    }

    #[test]
    fn a_file_in_an_allowed_package_is_served_and_nothing_else() {
        let t = tree();
        let deny = DenyList::new(&[]).unwrap();
        let allow = AllowList::default();
        assert!(allow.allow(&t.base.join("pkg"), &t.base.join("root")));
        let file = t.base.join("pkg/index.js");
        assert_eq!(allow.decide(&url(&file), &deny), FsTarget::File(file));
        let forbidden = FsTarget::Refused(Refusal::Forbidden);
        assert_eq!(
            allow.decide(&url(&t.base.join("secret.txt")), &deny),
            forbidden
        );
        assert_eq!(
            allow.decide(&url(&t.base.join("root/index.html")), &deny),
            forbidden
        );
    }

    #[test]
    fn dotfiles_secrets_and_symlinks_out_of_the_package_are_refused() {
        let t = tree();
        let deny = DenyList::new(&[]).unwrap();
        let allow = AllowList::default();
        allow.allow(&t.base.join("pkg"), &t.base.join("root"));
        let forbidden = FsTarget::Refused(Refusal::Forbidden);
        for inside in [".env", ".hidden/x.js", "key.pem", "escape.js", ""] {
            let path = url(&t.base.join("pkg").join(inside));
            assert_eq!(allow.decide(&path, &deny), forbidden, "{inside}");
        }
    }

    #[test]
    fn traversal_out_of_an_allowed_package_is_refused_in_every_encoding() {
        let t = tree();
        let deny = DenyList::new(&[]).unwrap();
        let allow = AllowList::default();
        allow.allow(&t.base.join("pkg"), &t.base.join("root"));
        let pkg = url(&t.base.join("pkg"));
        for tail in [
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E%2Fsecret.txt",
            "/..%5csecret.txt",
            "/.%2e/secret.txt",
            "/%252e%252e/secret.txt",
        ] {
            let answer = allow.decide(&format!("{pkg}{tail}"), &deny);
            assert!(
                !matches!(answer, FsTarget::File(_)),
                "{tail} must not be served: {answer:?}"
            );
        }
        assert_eq!(
            allow.decide(&format!("{pkg}/%c0%ae%c0%ae/secret.txt"), &deny),
            FsTarget::Refused(Refusal::BadRequest)
        );
    }

    #[test]
    fn a_missing_file_is_404_only_inside_an_allowed_package() {
        let t = tree();
        let deny = DenyList::new(&[]).unwrap();
        let allow = AllowList::default();
        allow.allow(&t.base.join("pkg"), &t.base.join("root"));
        assert_eq!(
            allow.decide(&url(&t.base.join("pkg/missing.js")), &deny),
            FsTarget::NotFound
        );
        assert_eq!(
            allow.decide(&url(&t.base.join("elsewhere/missing.js")), &deny),
            FsTarget::Refused(Refusal::Forbidden)
        );
    }

    #[test]
    fn a_package_folder_holding_the_root_is_never_allowed() {
        let t = tree();
        let allow = AllowList::default();
        assert!(!allow.allow(&t.base, &t.base.join("root")));
        assert!(!allow.allow(&t.base.join("root"), &t.base.join("root")));
        assert!(!allow.allow(Path::new("/"), &t.base.join("root")));
        let deny = DenyList::new(&[]).unwrap();
        assert_eq!(
            allow.decide(&url(&t.base.join("secret.txt")), &deny),
            FsTarget::Refused(Refusal::Forbidden)
        );
    }
}
