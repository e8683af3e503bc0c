//! Which paths under the root are ignored: built-ins and `--ignore` globs, then every
//! `.gitignore`/`.ignore` in the tree, then `.git/info/exclude` and the global git excludes.
//!
//! One matcher serves both the directory walk (which decides where watches go) and the event
//! stream (which decides what is reported), so the two can never disagree. The `ignore` crate's
//! `WalkBuilder` keeps its matchers private, hence this small per-directory stack of
//! [`Gitignore`]s. Gitignore rules apply whether or not the root is a git repository, and
//! ignore files above the root are not read: serving `dist/` of a repository whose
//! `.gitignore` lists `dist/` must still work.

use super::WatchError;
use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder, gitconfig_excludes_path};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Never served, never worth a watch: repository internals, dependencies, and the files
/// editors write while saving, which would otherwise show up as changes of their own.
const BUILTIN: &[&str] = &[
    ".git",
    "node_modules",
    ".DS_Store",
    // vim: swap files (.a.css.swp, .swo, ...), the swap-name probe .swx, the write probe
    // "4913", and backups (`a.css~`, also emacs).
    "*.sw[a-p]",
    "*.swx",
    "4913",
    "*~",
    // emacs: lock symlinks `.#a.css` and auto-saves `#a.css#` (escaped: `#` starts a comment).
    ".#*",
    "\\#*#",
    // JetBrains "safe write": write a temp, move the original aside, rename the temp over it.
    "*___jb_tmp___",
    "*___jb_old___",
    // Generic atomic writers and VS Code, Kate, gedit/GIO, Chrome's File System Access API.
    "*.tmp",
    "*.kate-swp",
    ".goutputstream-*",
    "*.crswap",
];

/// Per-directory ignore files, lowest precedence first (as ripgrep and git read them).
pub(crate) const IGNORE_FILES: [&str; 2] = [".gitignore", ".ignore"];

pub(crate) struct Filter {
    root: PathBuf,
    /// Built-ins and `--ignore` globs: checked first, so a `.gitignore` cannot re-include
    /// `node_modules`.
    builtin: Gitignore,
    /// The `.gitignore` + `.ignore` of each directory that has one.
    dirs: HashMap<PathBuf, Gitignore>,
    /// `.git/info/exclude` over the global excludes file: the weakest rules.
    base: Gitignore,
}

impl Filter {
    /// A filter with the built-ins and `globs` (gitignore syntax, relative to `root`); per-
    /// directory rules arrive through [`Filter::load_dir`] as the walk reaches each directory.
    pub(crate) fn new(root: &Path, globs: &[String]) -> Result<Self, WatchError> {
        let mut builder = GitignoreBuilder::new(root);
        let lines = BUILTIN
            .iter()
            .copied()
            .chain(globs.iter().map(String::as_str));
        for line in lines {
            builder
                .add_line(None, line)
                .map_err(|source| WatchError::InvalidIgnoreGlob {
                    glob: line.to_owned(),
                    source,
                })?;
        }
        let builtin = builder
            .build()
            .map_err(|source| WatchError::InvalidIgnoreGlob {
                glob: globs.join(" "),
                source,
            })?;
        let mut filter = Filter {
            root: root.to_path_buf(),
            builtin,
            dirs: HashMap::new(),
            base: Gitignore::empty(),
        };
        filter.load_base();
        Ok(filter)
    }

    fn load_base(&mut self) {
        let mut builder = GitignoreBuilder::new(&self.root);
        let files = gitconfig_excludes_path()
            .into_iter()
            .chain([self.root.join(".git/info/exclude")]);
        for file in files.filter(|f| f.is_file()) {
            if let Some(err) = builder.add(&file) {
                tracing::warn!("ignoring bad lines in {}: {err}", file.display());
            }
        }
        match builder.build() {
            Ok(base) => self.base = base,
            Err(err) => tracing::warn!("git excludes not applied: {err}"),
        }
    }

    /// (Re)reads `dir`'s own ignore files; also the git excludes when `dir` is the root.
    pub(crate) fn load_dir(&mut self, dir: &Path) {
        if dir == self.root {
            self.load_base();
        }
        let mut builder = GitignoreBuilder::new(dir);
        let mut any = false;
        for file in IGNORE_FILES.map(|name| dir.join(name)) {
            if file.is_file() {
                any = true;
                if let Some(err) = builder.add(&file) {
                    tracing::warn!("ignoring bad lines in {}: {err}", file.display());
                }
            }
        }
        match builder.build() {
            Ok(rules) if any && !rules.is_empty() => {
                self.dirs.insert(dir.to_path_buf(), rules);
            }
            Ok(_) => {
                self.dirs.remove(dir);
            }
            Err(err) => tracing::warn!("ignore rules in {} not applied: {err}", dir.display()),
        }
    }

    /// Drops the rules of a directory that is gone.
    pub(crate) fn forget_dir(&mut self, dir: &Path) {
        self.dirs.remove(dir);
    }

    /// Whether `path` (absolute) is ignored. Paths outside the root always are.
    pub(crate) fn is_ignored(&self, path: &Path, is_dir: bool) -> bool {
        if !path.starts_with(&self.root) {
            return true;
        }
        if path == self.root {
            return false;
        }
        let verdict = |m: Match<_>| match m {
            Match::Ignore(_) => Some(true),
            Match::Whitelist(_) => Some(false),
            Match::None => None,
        };
        if let Some(v) = verdict(self.builtin.matched_path_or_any_parents(path, is_dir)) {
            return v;
        }
        // The nearest directory's rules win, as in git.
        for dir in path.ancestors().skip(1) {
            if !dir.starts_with(&self.root) {
                break;
            }
            let rules = self.dirs.get(dir);
            if let Some(v) =
                rules.and_then(|r| verdict(r.matched_path_or_any_parents(path, is_dir)))
            {
                return v;
            }
        }
        verdict(self.base.matched_path_or_any_parents(path, is_dir)).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn builtins_cover_dependencies_and_editor_temp_files() -> Result<(), Box<dyn std::error::Error>>
    {
        let root = PathBuf::from("/srv/app");
        let filter = Filter::new(&root, &["dist/**".to_owned()])?;
        for ignored in [
            "node_modules/react/index.js",
            ".git/HEAD",
            "src/.app.js.swp",
            "src/.app.js.swx",
            "src/4913",
            "src/app.js~",
            "src/.#app.js",
            "src/#app.js#",
            "src/app.js___jb_tmp___",
            "src/app.js.tmp",
            "dist/bundle.js",
        ] {
            assert!(filter.is_ignored(&root.join(ignored), false), "{ignored}");
        }
        for served in [
            "src/app.js",
            "index.html",
            ".well-known/security.txt",
            "src/ünï côde.css",
        ] {
            assert!(!filter.is_ignored(&root.join(served), false), "{served}");
        }
        assert!(filter.is_ignored(Path::new("/elsewhere/a.js"), false));
        Ok(())
    }

    #[test]
    fn nested_gitignores_apply_without_a_git_repository() -> Result<(), Box<dyn std::error::Error>>
    {
        let tmp = tempfile::tempdir()?;
        let root = tmp.path();
        fs::create_dir_all(root.join("src/gen"))?;
        fs::write(root.join(".gitignore"), "*.log\n/build/\n")?;
        fs::write(root.join("src/gen/.gitignore"), "*.js\n!keep.js\n")?;
        fs::write(root.join(".ignore"), "!important.log\n")?;
        let mut filter = Filter::new(root, &[])?;
        filter.load_dir(root);
        filter.load_dir(&root.join("src/gen"));
        assert!(filter.is_ignored(&root.join("src/debug.log"), false));
        assert!(!filter.is_ignored(&root.join("important.log"), false));
        assert!(filter.is_ignored(&root.join("build"), true));
        assert!(filter.is_ignored(&root.join("build/app.js"), false));
        assert!(!filter.is_ignored(&root.join("src/build"), true));
        assert!(filter.is_ignored(&root.join("src/gen/out.js"), false));
        assert!(!filter.is_ignored(&root.join("src/gen/keep.js"), false));
        assert!(!filter.is_ignored(&root.join("src/app.js"), false));
        Ok(())
    }
}
