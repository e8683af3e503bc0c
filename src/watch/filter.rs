//! Which paths under the root are ignored: built-ins and `--ignore` globs, then every
//! `.gitignore`/`.ignore` in the tree, then `.git/info/exclude` and the global git excludes.
//!
//! One matcher serves both the directory walk (which decides where watches go) and the event
//! stream (which decides what is reported), so the two can never disagree. The `ignore` crate's
//! `WalkBuilder` keeps its matchers private, hence this small per-directory stack of
//! [`Gitignore`]s. Gitignore rules apply whether or not the root is a git repository, and
//! ignore files above the root are not read: serving `dist/` of a repository whose
//! `.gitignore` lists `dist/` must still work.
//!
//! Semantics are git's: an entry is judged by direct matches against the rules in force in its
//! directory (built-ins first, then the nearest ignore file, then farther ones, then the git
//! excludes), and anything inside an ignored directory is ignored, whatever a deeper ignore
//! file says. The walk carries the rules down ([`Rules`]) and judges each entry once; an event
//! path is judged component by component, which gives the same verdict.

use super::WatchError;
use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder, gitconfig_excludes_path};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    // The root's `.env` files feed `import.meta.env`, so their changes must reach the
    // planner even when the project ignores them (create-vite's .gitignore lists `*.local`,
    // which covers `.env.local`). They are still never served.
    "!/.env",
    "!/.env.*",
];

/// Per-directory ignore files, lowest precedence first (as ripgrep and git read them).
pub(crate) const IGNORE_FILES: [&str; 2] = [".gitignore", ".ignore"];

pub(crate) struct Filter {
    root: PathBuf,
    /// Built-ins and `--ignore` globs: checked first, so a `.gitignore` cannot re-include
    /// `node_modules`.
    builtin: Gitignore,
    /// The `.gitignore` + `.ignore` of each directory that has one.
    dirs: HashMap<PathBuf, Arc<Gitignore>>,
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
    #[cfg(test)]
    pub(crate) fn load_dir(&mut self, dir: &Path) {
        let present = IGNORE_FILES
            .into_iter()
            .filter(|name| dir.join(name).is_file());
        self.load_rules(dir, present);
    }

    /// (Re)reads `dir`'s ignore files named in `present` (the ones its listing showed, so no
    /// directory costs a stat per ignore file name); also the git excludes for the root.
    pub(crate) fn load_rules<'a>(
        &mut self,
        dir: &Path,
        present: impl IntoIterator<Item = &'a str>,
    ) {
        if dir == self.root {
            self.load_base();
        }
        // Lowest precedence first, whatever order the listing had.
        let present: Vec<&str> = present.into_iter().collect();
        let files: Vec<PathBuf> = IGNORE_FILES
            .into_iter()
            .filter(|name| present.contains(name))
            .map(|name| dir.join(name))
            .collect();
        if files.is_empty() {
            // Most directories: no builder to make.
            self.dirs.remove(dir);
            return;
        }
        let mut builder = GitignoreBuilder::new(dir);
        for file in &files {
            if let Some(err) = builder.add(file) {
                tracing::warn!("ignoring bad lines in {}: {err}", file.display());
            }
        }
        match builder.build() {
            Ok(rules) if !rules.is_empty() => {
                self.dirs.insert(dir.to_path_buf(), Arc::new(rules));
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

    /// The rules in force inside `dir`, given those in force in its parent.
    pub(crate) fn rules_in(&self, parent: &Rules, dir: &Path) -> Rules {
        match self.dirs.get(dir) {
            Some(own) => {
                let mut stack = Vec::with_capacity(parent.0.len() + 1);
                stack.extend(parent.0.iter().cloned());
                stack.push(own.clone());
                Rules(stack.into())
            }
            None => parent.clone(),
        }
    }

    /// Whether an entry of a directory that is not itself ignored is ignored; `rules` are
    /// those in force in that directory.
    pub(crate) fn is_ignored_entry(&self, rules: &Rules, path: &Path, is_dir: bool) -> bool {
        let verdict = |m: Match<_>| match m {
            Match::Ignore(_) => Some(true),
            Match::Whitelist(_) => Some(false),
            Match::None => None,
        };
        if let Some(v) = verdict(self.builtin.matched(path, is_dir)) {
            return v;
        }
        // The nearest directory's rules win, as in git.
        for own in rules.0.iter().rev() {
            if let Some(v) = verdict(own.matched(path, is_dir)) {
                return v;
            }
        }
        verdict(self.base.matched(path, is_dir)).unwrap_or(false)
    }

    /// The rules in force inside `dir`, a directory under the root, from the ignore files
    /// loaded so far.
    pub(crate) fn rules_for(&self, dir: &Path) -> Rules {
        let mut rules = self.rules_in(&Rules::default(), &self.root);
        let mut current = self.root.clone();
        for component in dir
            .strip_prefix(&self.root)
            .into_iter()
            .flat_map(Path::components)
        {
            current.push(component);
            rules = self.rules_in(&rules, &current);
        }
        rules
    }

    /// Whether `path` (absolute) is ignored: it, or a directory it is in. Paths outside the
    /// root always are.
    pub(crate) fn is_ignored(&self, path: &Path, is_dir: bool) -> bool {
        let Ok(relative) = path.strip_prefix(&self.root) else {
            return true;
        };
        let mut rules = self.rules_in(&Rules::default(), &self.root);
        let mut current = self.root.clone();
        let mut components = relative.components().peekable();
        while let Some(component) = components.next() {
            current.push(component);
            let last = components.peek().is_none();
            if self.is_ignored_entry(&rules, &current, is_dir || !last) {
                return true;
            }
            if !last {
                rules = self.rules_in(&rules, &current);
            }
        }
        false
    }
}

/// The ignore files in force in one directory, nearest last: what the walk carries down, so
/// each entry costs a few direct matches rather than a lookup per ancestor.
#[derive(Clone, Default)]
pub(crate) struct Rules(Arc<[Arc<Gitignore>]>);

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
    fn env_files_in_the_root_are_watched_even_when_a_gitignore_lists_them()
    -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let root = tmp.path();
        fs::write(root.join(".gitignore"), "*.local\n.env*\n")?;
        let mut filter = Filter::new(root, &[])?;
        filter.load_dir(root);
        for watched in [".env", ".env.local", ".env.staging.local"] {
            assert!(!filter.is_ignored(&root.join(watched), false), "{watched}");
        }
        assert!(filter.is_ignored(&root.join("notes.local"), false));
        assert!(filter.is_ignored(&root.join("src/.env"), false));
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

    /// The walk judges each entry once, with the rules it carries down; an event judges a
    /// path component by component. Both must say the same for every path in a tree with
    /// nested, overriding and whitelisting ignore files.
    #[test]
    fn the_walk_and_the_event_path_agree() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let root = tmp.path().canonicalize()?;
        for dir in [
            "src/gen/deep",
            "src/build",
            "build/x",
            "docs/logs",
            "node_modules/a",
        ] {
            fs::create_dir_all(root.join(dir))?;
        }
        fs::write(root.join(".gitignore"), "*.log\n/build/\ngen/\n")?;
        fs::write(root.join("src/.gitignore"), "!gen/\n!keep.log\n")?;
        fs::write(root.join("src/gen/.gitignore"), "*.js\n!keep.js\n")?;
        fs::write(root.join("docs/.ignore"), "logs/\n")?;
        for file in [
            "index.html",
            "a.log",
            "src/keep.log",
            "src/other.log",
            "src/gen/out.js",
            "src/gen/keep.js",
            "src/gen/deep/x.js",
            "src/gen/deep/x.css",
            "src/build/b.js",
            "build/x/y.js",
            "docs/logs/today.txt",
            "docs/page.html",
            "node_modules/a/index.js",
        ] {
            fs::write(root.join(file), "x")?;
        }
        let mut filter = Filter::new(&root, &[])?;
        // The walk: load each directory's rules, judge its entries, go into the kept ones.
        let mut walked = std::collections::BTreeMap::new();
        let mut stack = vec![(root.clone(), Rules::default(), false)];
        while let Some((dir, above, dir_ignored)) = stack.pop() {
            filter.load_dir(&dir);
            let rules = filter.rules_in(&above, &dir);
            for entry in fs::read_dir(&dir)? {
                let entry = entry?;
                let (path, is_dir) = (entry.path(), entry.file_type()?.is_dir());
                let ignored = dir_ignored || filter.is_ignored_entry(&rules, &path, is_dir);
                walked.insert(path.clone(), (is_dir, ignored));
                if is_dir {
                    stack.push((path, rules.clone(), ignored));
                }
            }
        }
        for (path, (is_dir, ignored)) in &walked {
            assert_eq!(
                filter.is_ignored(path, *is_dir),
                *ignored,
                "{}",
                path.display()
            );
        }
        let kept = |p: &str| {
            walked
                .get(&root.join(p))
                .is_some_and(|(_, ignored)| !ignored)
        };
        for p in [
            "index.html",
            "src/keep.log",
            "src/gen/keep.js",
            "src/gen/deep/x.css",
        ] {
            assert!(kept(p), "{p} is kept");
        }
        for p in [
            "a.log",
            "src/other.log",
            "src/gen/out.js",
            "src/gen/deep/x.js",
        ] {
            assert!(!kept(p), "{p} is ignored");
        }
        // Inside an ignored directory nothing comes back, as in git.
        for p in [
            "build/x/y.js",
            "docs/logs/today.txt",
            "node_modules/a/index.js",
        ] {
            assert!(!kept(p), "{p} is ignored");
        }
        assert!(kept("src/build/b.js"), "/build/ is anchored at the root");
        Ok(())
    }
}
