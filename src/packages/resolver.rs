//! Node resolution by `oxc_resolver`, configured for browsers the way Vite's dev server is,
//! and its failures turned into messages that say what to do.

use super::shown;
use oxc_resolver::{ResolveError, ResolveOptions, Resolver, TsconfigDiscovery};
use std::path::{Path, PathBuf};

/// What an import that a package's `browser` field maps to `false` gets: an empty module.
pub(crate) const EMPTY_MODULE: &str = "data:text/javascript,export default {}";

/// Where an import leads.
#[derive(Debug)]
pub(crate) enum Resolved {
    /// A real file (symlinks resolved), and the folder of the package it belongs to.
    File {
        path: PathBuf,
        package_dir: Option<PathBuf>,
    },
    /// The `browser` field says the module is not needed in a browser.
    Empty,
}

/// Why an import cannot be served.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Nothing found under that name.
    NotFound,
    /// A Node.js built-in such as `fs` or `node:path`.
    Builtin(String),
    /// A `package.json` on the way is not valid JSON.
    PackageJson {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// Resolved outside the root to a folder that may not be served.
    OutsideRoot(PathBuf),
    /// What the resolver said (not exported under these conditions, an invalid target...).
    Other(String),
}

pub(crate) struct NodeResolver {
    /// Resolves without knowing Node's built-ins, so that a `browser` field entry or an
    /// installed package with a built-in's name (`events`, `buffer`) wins, as in Vite.
    inner: Resolver,
    /// The same, sharing its cache, but recognising built-ins: asked only after `inner`
    /// found nothing, to tell "not installed" from "a Node.js built-in".
    builtins: Resolver,
    /// For the application's own modules: TypeScript's bundler-mode resolution, as Vite
    /// resolves them. The nearest tsconfig's `paths` and `baseUrl` apply, and an import
    /// written `./a.js` finds `a.ts` (TypeScript wants the extension of the output). Never
    /// used for package code: a package's own tsconfig is not for its consumers, and a
    /// package that ships `a.ts` beside `a.js` means `a.js`.
    app: Resolver,
    /// For `@import 'normalize.css'` in a stylesheet: a package's stylesheet, by its
    /// `style` export condition or `style` field first, as Vite resolves CSS imports.
    css: Resolver,
}

impl NodeResolver {
    pub fn new() -> Self {
        let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let options = ResolveOptions {
            // Vite's dev conditions: `browser` builds first, ES modules over CommonJS.
            condition_names: strings(&["browser", "import", "module", "development", "default"]),
            // Packages without `exports`: a string `browser` entry, then the ES module
            // entries bundlers agreed on, then `main`.
            main_fields: strings(&["browser", "module", "jsnext:main", "jsnext", "main"]),
            // The object form of `browser` replaces or blanks out files and packages.
            alias_fields: vec![vec!["browser".to_owned()]],
            extensions: strings(&[".mjs", ".js", ".mts", ".ts", ".jsx", ".tsx", ".json"]),
            ..ResolveOptions::default()
        };
        let inner = Resolver::new(options.clone());
        let builtins = inner.clone_with_options(ResolveOptions {
            builtin_modules: true,
            ..options.clone()
        });
        let css = inner.clone_with_options(ResolveOptions {
            condition_names: strings(&["style", "browser", "import", "development", "default"]),
            main_fields: strings(&["style", "main"]),
            extensions: strings(&[".css"]),
            ..options.clone()
        });
        let alias = |from: &str, to: &[&str]| (from.to_owned(), strings(to));
        let app = inner.clone_with_options(ResolveOptions {
            tsconfig: Some(TsconfigDiscovery::Auto),
            extension_alias: vec![
                alias(".js", &[".ts", ".tsx", ".js", ".jsx"]),
                alias(".mjs", &[".mts", ".mjs"]),
                alias(".jsx", &[".tsx", ".jsx"]),
            ],
            ..options
        });
        NodeResolver {
            inner,
            builtins,
            app,
            css,
        }
    }

    /// Forget every `package.json` and directory listing read so far.
    pub fn clear_cache(&self) {
        self.inner.clear_cache();
    }

    /// Resolve `specifier` imported from a package's module in `dir`.
    pub fn resolve(&self, dir: &Path, specifier: &str) -> Result<Resolved, Failure> {
        self.outcome(self.inner.resolve(dir, specifier), dir, specifier)
    }

    /// Resolve the package stylesheet `specifier` that a stylesheet in `dir` imports.
    pub fn resolve_css(&self, dir: &Path, specifier: &str) -> Result<Resolved, Failure> {
        self.outcome(self.css.resolve(dir, specifier), dir, specifier)
    }

    /// Resolve `specifier` imported from the application module `importer`, in bundler mode
    /// (see [`NodeResolver::app`]; the importer's own path finds its tsconfig).
    pub fn resolve_app(&self, importer: &Path, specifier: &str) -> Result<Resolved, Failure> {
        let dir = importer.parent().unwrap_or(importer);
        self.outcome(self.app.resolve_file(importer, specifier), dir, specifier)
    }

    fn outcome(
        &self,
        resolved: Result<oxc_resolver::Resolution, ResolveError>,
        dir: &Path,
        specifier: &str,
    ) -> Result<Resolved, Failure> {
        match resolved {
            Ok(resolution) => {
                let package_dir = resolution
                    .package_json()
                    .map(|p| p.directory().to_path_buf());
                let path = resolution.into_path_buf();
                // The resolver returns real paths with symlinks followed; make sure.
                let path = path.canonicalize().unwrap_or(path);
                Ok(Resolved::File { path, package_dir })
            }
            Err(ResolveError::Ignored(_)) => Ok(Resolved::Empty),
            Err(ResolveError::NotFound(_)) => match self.builtins.resolve(dir, specifier) {
                Err(ResolveError::Builtin { resolved, .. }) => Err(Failure::Builtin(resolved)),
                _ => Err(Failure::NotFound),
            },
            Err(ResolveError::Builtin { resolved, .. }) => Err(Failure::Builtin(resolved)),
            Err(ResolveError::Json(json)) => Err(Failure::PackageJson {
                path: json.path,
                line: json.line,
                column: json.column,
                message: json.message,
            }),
            Err(other) => Err(Failure::Other(other.to_string())),
        }
    }
}

impl Failure {
    /// One line naming the importing file, the specifier and where resolution looked.
    pub fn message(&self, root: &Path, importer: &Path, dir: &Path, specifier: &str) -> String {
        let head = format!(
            "Failed to resolve import \"{specifier}\" from \"{}\".",
            shown(root, importer)
        );
        match self {
            Failure::NotFound
                if super::url::classify(specifier) == super::url::SpecifierKind::Relative =>
            {
                // `src/./missing` read as `src/missing`: the path as a person writes it.
                let mut looked = PathBuf::new();
                for part in dir.join(specifier).components() {
                    match part {
                        std::path::Component::CurDir => {}
                        std::path::Component::ParentDir => {
                            looked.pop();
                        }
                        other => looked.push(other),
                    }
                }
                format!("{head} No file at {}.", shown(root, &looked))
            }
            Failure::NotFound => {
                let looked: Vec<String> = dir
                    .ancestors()
                    .map(|d| d.join("node_modules").display().to_string())
                    .collect();
                format!(
                    "{head} Is the package installed? Looked in {}.",
                    looked.join(", ")
                )
            }
            Failure::Builtin(name) => format!(
                "{head} {name} is a Node.js built-in module, which browsers do not have; \
                 use a browser package instead."
            ),
            Failure::PackageJson {
                path,
                line,
                column,
                message,
            } => format!(
                "{head} {}:{line}:{column} is not valid JSON: {message}.",
                path.display()
            ),
            Failure::OutsideRoot(path) => format!(
                "{head} It resolves to {}, outside the served folder and not in a package.",
                path.display()
            ),
            Failure::Other(reason) => format!("{head} {reason}."),
        }
    }
}

/// Whether a source without `import`/`export` statements is a CommonJS module.
pub(crate) fn looks_commonjs(source: &str) -> bool {
    source.contains("module.exports") || source.contains("exports.") || source.contains("require(")
}

/// The message for a CommonJS file met among the dependencies.
pub(crate) fn commonjs_message(root: &Path, file: &Path) -> String {
    let text = file.to_string_lossy();
    let package = text
        .rsplit_once("node_modules/")
        .map(|(_, rest)| {
            let mut parts = rest.split('/');
            match (parts.next(), parts.next()) {
                (Some(scope), Some(name)) if scope.starts_with('@') => format!("{scope}/{name}"),
                (Some(name), _) => name.to_owned(),
                _ => rest.to_owned(),
            }
        })
        .unwrap_or_else(|| shown(root, file));
    #[cfg(feature = "bundle")]
    let advice = "hotserve converts CommonJS packages imported by name (they are pre-bundled), \
                  not CommonJS files reached by a path from served ES code.";
    #[cfg(not(feature = "bundle"))]
    let advice = "this build of hotserve does not convert CommonJS (the `bundle` feature \
                  does). Use a package that ships ES modules.";
    format!(
        "The package \"{package}\" is CommonJS ({}), which browsers cannot load as a module; \
         {advice}",
        shown(root, file)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }

    fn file(resolved: Result<Resolved, Failure>) -> PathBuf {
        match resolved {
            Ok(Resolved::File { path, .. }) => path,
            other => panic!("expected a file, got {other:?}"),
        }
    }

    #[test]
    fn exports_conditions_pick_the_browser_development_build() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        write(
            &root,
            "node_modules/pkg/package.json",
            r#"{"name":"pkg","exports":{".":{"node":"./node.js","browser":{"development":"./dev.js","default":"./prod.js"},"require":"./cjs.js"},"./sub":"./sub.js"}}"#,
        );
        for f in ["node.js", "dev.js", "prod.js", "cjs.js", "sub.js"] {
            write(&root, &format!("node_modules/pkg/{f}"), "export {}");
        }
        let resolver = NodeResolver::new();
        assert_eq!(
            file(resolver.resolve(&root, "pkg")),
            root.join("node_modules/pkg/dev.js")
        );
        assert_eq!(
            file(resolver.resolve(&root, "pkg/sub")),
            root.join("node_modules/pkg/sub.js")
        );
        assert!(matches!(
            resolver.resolve(&root, "pkg/node.js"),
            Err(Failure::Other(_))
        ));
    }

    #[test]
    fn module_field_wins_over_main_and_browser_false_gives_an_empty_module() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        write(
            &root,
            "node_modules/old/package.json",
            r#"{"name":"old","main":"main.js","module":"esm.js","browser":{"fs":false,"./server.js":"./client.js"}}"#,
        );
        write(&root, "node_modules/old/main.js", "module.exports = 1");
        write(
            &root,
            "node_modules/old/esm.js",
            "import 'fs'; export default 1",
        );
        write(&root, "node_modules/old/client.js", "export default 2");
        let resolver = NodeResolver::new();
        assert_eq!(
            file(resolver.resolve(&root, "old")),
            root.join("node_modules/old/esm.js")
        );
        assert!(matches!(
            resolver.resolve(&root.join("node_modules/old"), "fs"),
            Ok(Resolved::Empty)
        ));
        assert_eq!(
            file(resolver.resolve(&root.join("node_modules/old"), "./server.js")),
            root.join("node_modules/old/client.js")
        );
    }

    #[test]
    fn failures_name_the_importer_the_specifier_and_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        write(
            &root,
            "node_modules/broken/package.json",
            "{\"name\": \"broken\",",
        );
        let resolver = NodeResolver::new();
        let importer = root.join("src/main.js");
        let src = root.join("src");
        std::fs::create_dir_all(&src).unwrap();

        let missing = resolver.resolve(&src, "nope").unwrap_err();
        let text = missing.message(&root, &importer, &src, "nope");
        assert!(
            text.starts_with("Failed to resolve import \"nope\" from \"src/main.js\"."),
            "{text}"
        );
        assert!(
            text.contains(&root.join("src/node_modules").display().to_string()),
            "{text}"
        );
        assert!(
            text.contains(&root.join("node_modules").display().to_string()),
            "{text}"
        );

        let builtin = resolver.resolve(&src, "node:fs").unwrap_err();
        assert!(
            builtin
                .message(&root, &importer, &src, "node:fs")
                .contains("Node.js built-in")
        );
        let builtin = resolver.resolve(&src, "path").unwrap_err();
        assert!(matches!(builtin, Failure::Builtin(_)));

        let broken = resolver.resolve(&src, "broken").unwrap_err();
        let text = broken.message(&root, &importer, &src, "broken");
        assert!(
            text.contains("node_modules/broken/package.json:1:"),
            "{text}"
        );
        assert!(text.contains("not valid JSON"), "{text}");
    }

    #[test]
    fn commonjs_messages_name_the_package() {
        let root = Path::new("/p");
        let text = commonjs_message(root, Path::new("/p/node_modules/@s/cjs/index.js"));
        assert!(text.contains("\"@s/cjs\""), "{text}");
        assert!(text.contains("node_modules/@s/cjs/index.js"), "{text}");
        assert!(looks_commonjs("module.exports = {}"));
        assert!(!looks_commonjs("window.x = 1"));
    }
}
