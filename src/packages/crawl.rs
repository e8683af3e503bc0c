//! The start-up crawl for pre-bundling: the module scripts of the pages at the root, and
//! every module they reach, scanned for bare imports that need bundling, the way Vite's
//! optimizer scans before the first request. Without it the first page load would find
//! `react` and `react-dom/client` one module at a time and rebuild (and reload) in between.

use super::page::module_scripts;
use super::prebundle::Entry;
use super::{Packages, resolver, url};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// At most this many modules are read; a bigger graph gets the rest discovered on request.
const MAX_MODULES: usize = 3000;

/// Extensions of modules the crawl reads.
const MODULE_EXTENSIONS: [&str; 8] = ["js", "mjs", "cjs", "jsx", "ts", "mts", "tsx", "cts"];

impl Packages {
    /// The entries the pages need, with each module read as `compile` makes it. Blocking:
    /// reads the pages and their modules.
    pub(super) fn crawl(&self, compile: &super::CrawlCompile) -> Vec<Entry> {
        let mut queue: Vec<PathBuf> = Vec::new();
        // Inline module code, with the page it sits in (its importer).
        let mut inline: Vec<(PathBuf, String)> = Vec::new();
        for page in pages(&self.root) {
            let Ok(html) = std::fs::read_to_string(&page) else {
                continue;
            };
            let dir = page.parent().unwrap_or(&self.root).to_path_buf();
            let (sources, code) = module_scripts(&html);
            inline.extend(
                code.into_iter()
                    .map(|range| (page.clone(), html[range].to_owned())),
            );
            for src in sources {
                if let Some(file) = self.local_file(&dir, &src) {
                    queue.push(file);
                }
            }
        }
        // Pages get the Fast Refresh runtime first: its package belongs in the first build.
        #[cfg(feature = "transform")]
        if let Some(runtime) = crate::modules::transform::refresh::Runtime::detect(&self.root) {
            inline.push((self.root.join("index.html"), runtime.source()));
        }
        let mut entries: BTreeMap<PathBuf, Entry> = BTreeMap::new();
        let mut seen: HashSet<PathBuf> = queue.iter().cloned().collect();
        for (page, code) in &inline {
            self.visit(page, code, &mut queue, &mut seen, &mut entries);
        }
        while let Some(file) = queue.pop() {
            if seen.len() > MAX_MODULES {
                break;
            }
            let Ok(code) = std::fs::read_to_string(&file) else {
                continue;
            };
            let code = compile(&file, &code).unwrap_or(code);
            self.visit(&file, &code, &mut queue, &mut seen, &mut entries);
        }
        entries.into_values().collect()
    }

    /// One module (or a page's inline module) at `importer`: bare imports that need bundling
    /// become entries, other modules are queued. Application code resolves as the request
    /// path does (bundler mode: `./App` finds `App.tsx`, tsconfig `paths`), package code
    /// with the Node algorithm.
    fn visit(
        &self,
        importer: &Path,
        code: &str,
        queue: &mut Vec<PathBuf>,
        seen: &mut HashSet<PathBuf>,
        entries: &mut BTreeMap<PathBuf, Entry>,
    ) {
        let dir = importer.parent().unwrap_or(&self.root);
        let application = importer.starts_with(&self.root) && !url::is_installed_package(importer);
        let scanned = crate::modules::scan(code);
        for spec in scanned.imports.iter().filter_map(|i| i.specifier.as_ref()) {
            let value = spec.value.split(['?', '#']).next().unwrap_or_default();
            let next = match url::classify(value) {
                url::SpecifierKind::Url => continue,
                url::SpecifierKind::Absolute => self.local_file(&self.root, value),
                url::SpecifierKind::Relative | url::SpecifierKind::Bare => {
                    let resolved = if application {
                        self.resolver.resolve_app(importer, value)
                    } else {
                        self.resolver.resolve(dir, value)
                    };
                    match resolved {
                        Ok(resolver::Resolved::File { path, .. }) => Some(path),
                        _ => None,
                    }
                }
            };
            let Some(file) = next else { continue };
            if url::classify(value) == url::SpecifierKind::Bare
                && let Some(entry) = self.bundle_entry(&file, value)
            {
                entries.entry(file).or_insert(entry);
                continue;
            }
            let readable = file
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| MODULE_EXTENSIONS.contains(&e));
            if readable && seen.insert(file.clone()) {
                queue.push(file);
            }
        }
    }

    /// The file a page's `src` or an absolute import names, when it lies inside the root.
    fn local_file(&self, dir: &Path, src: &str) -> Option<PathBuf> {
        let src = src.split(['?', '#']).next()?;
        if matches!(url::classify(src), url::SpecifierKind::Url) {
            return None;
        }
        let decoded = percent_encoding::percent_decode_str(src)
            .decode_utf8()
            .ok()?;
        let joined = match decoded.strip_prefix('/') {
            Some(rest) => self.root.join(rest),
            None => dir.join(decoded.as_ref()),
        };
        let real = joined.canonicalize().ok()?;
        (real.starts_with(&self.root) && real.is_file()).then_some(real)
    }
}

/// The HTML pages the crawl starts from: those at the top of the root.
fn pages(root: &Path) -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "html") && p.is_file())
        .collect();
    pages.sort();
    pages
}
