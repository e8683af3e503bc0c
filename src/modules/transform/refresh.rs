//! Fast Refresh: component edits re-render in place with their state kept.
//!
//! oxc instruments `.jsx`/`.tsx` application modules with `$RefreshReg$` (each component,
//! under its name) and `$RefreshSig$` (the hooks each one calls). This module decides when
//! that happens, and appends to each instrumented module the code that connects those calls
//! to the refresh runtime and accepts its own updates. The runtime (`client/react-refresh.mjs`,
//! served at [`Runtime::url`]; Preact's is `client/prefresh.mjs`) decides per update whether the new version can replace the
//! old one in place (its exports are all components) or must go to its importers
//! (`hot.invalidate()`), as Vite's React plugin does.
//!
//! Everything here is pure apart from [`Runtime::detect`], which looks for the runtime's
//! package among the project's installed packages.

use super::script::Jsx;
use std::path::{Path, PathBuf};

/// The copy of React's refresh runtime that `@vitejs/plugin-react` ships, inside its
/// package (not among its `exports`, so it is imported by path).
const PLUGIN_REACT_RUNTIME: &str = "node_modules/@vitejs/plugin-react/dist/refresh-runtime.js";

/// Where each runtime module imports the project's runtime from, replaced when served.
const PLACEHOLDER: &str = "__HOTSERVE_REFRESH_RUNTIME__";

/// The refresh runtime a project has installed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Runtime {
    /// React's, from `@vitejs/plugin-react`'s ES module copy, which create-vite's React
    /// templates install, served from under the root at `url`.
    PluginReact { url: String },
    /// React's, from the `react-refresh` package: CommonJS, so it needs the pre-bundler.
    ReactRefresh,
    /// Preact's: `@prefresh/core` and `@prefresh/utils` (ES modules), which create-vite's
    /// Preact templates install through `@preact/preset-vite`.
    Prefresh,
}

impl Runtime {
    /// Where the server answers with the runtime module (Vite's URL for React's).
    pub(crate) const fn url(&self) -> &'static str {
        match self {
            Runtime::PluginReact { .. } | Runtime::ReactRefresh => "/@react-refresh",
            Runtime::Prefresh => "/@prefresh",
        }
    }

    /// The tag a page gets right after the HMR client's, so the runtime is in place before
    /// the page's own modules (and the UI library) run.
    pub(crate) const fn page_tag(&self) -> &'static str {
        match self {
            Runtime::PluginReact { .. } | Runtime::ReactRefresh => {
                r#"<script type="module" src="/@react-refresh"></script>"#
            }
            Runtime::Prefresh => r#"<script type="module" src="/@prefresh"></script>"#,
        }
    }

    /// The runtime the project at `root` (canonical) has installed, if any. React's: the
    /// copy of `@vitejs/plugin-react` in the root's `node_modules` (what Vite would use),
    /// else the `react-refresh` package when this build can pre-bundle it; Preact's: both
    /// `@prefresh` packages. Packages are looked up in `node_modules` at or above `root`
    /// (Node's lookup for a bare name). When a project has both, its `package.json` decides
    /// (Preact when it depends on `preact` and not on `react`). A few `stat` calls, so
    /// callers need not keep the answer (and never hold a stale one after an install).
    pub(crate) fn detect(root: &Path) -> Option<Runtime> {
        let react = if root.join(PLUGIN_REACT_RUNTIME).is_file() {
            Some(Runtime::PluginReact {
                url: format!("/{PLUGIN_REACT_RUNTIME}"),
            })
        } else {
            (cfg!(feature = "bundle") && installed(root, "react-refresh"))
                .then_some(Runtime::ReactRefresh)
        };
        let preact = (installed(root, "@prefresh/core") && installed(root, "@prefresh/utils"))
            .then_some(Runtime::Prefresh);
        match (react, preact) {
            (Some(_), Some(preact)) if prefers_preact(root) => Some(preact),
            (react, preact) => react.or(preact),
        }
    }

    /// The runtime module the server answers [`url`](Self::url) with, before its bare
    /// imports are resolved like an application module's at the root.
    pub(crate) fn source(&self) -> String {
        let (source, specifier) = match self {
            Runtime::PluginReact { url } => (REACT_SOURCE, url.as_str()),
            Runtime::ReactRefresh => (REACT_SOURCE, "react-refresh/runtime"),
            Runtime::Prefresh => return PREFRESH_SOURCE.to_owned(),
        };
        source.replacen(PLACEHOLDER, specifier, 1)
    }

    /// Where the runtime module's imports are resolved from: a file at the root that does
    /// not exist.
    pub(crate) fn resolve_from(&self, root: &Path) -> PathBuf {
        root.join(format!("{}.js", self.url().trim_start_matches('/')))
    }

    /// Whether the module at `path`, compiled with `jsx`, gets instrumented: a `.jsx` or
    /// `.tsx` file of the application (package code is never refreshed) whose JSX is this
    /// runtime's library.
    pub(crate) fn applies_to(&self, path: &Path, jsx: &Jsx) -> bool {
        let library = match self {
            Runtime::PluginReact { .. } | Runtime::ReactRefresh => "react",
            Runtime::Prefresh => "preact",
        };
        let same_library = match jsx {
            Jsx::Automatic { import_source } => import_source == library,
            // `React.createElement`, or Preact's `h`.
            Jsx::Classic { factory, .. } => match self {
                Runtime::Prefresh => factory == "h" || factory.starts_with("preact."),
                _ => factory.starts_with("React."),
            },
        };
        is_component_file(path) && same_library
    }
}

/// Whether the file at `path` can hold components a runtime refreshes: a `.jsx` or `.tsx`
/// file of the application (package code is never refreshed). Checked before
/// [`Runtime::detect`], so other modules cost no file-system lookups.
pub(crate) fn is_component_file(path: &Path) -> bool {
    let jsx_file = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jsx") || e.eq_ignore_ascii_case("tsx"));
    jsx_file && !path.components().any(|c| c.as_os_str() == "node_modules")
}

/// React's runtime module: imports the runtime from [`PLACEHOLDER`].
const REACT_SOURCE: &str = include_str!("../../../client/react-refresh.mjs");
/// Preact's runtime module: imports `@prefresh/core` and `@prefresh/utils` by name.
const PREFRESH_SOURCE: &str = include_str!("../../../client/prefresh.mjs");

/// Whether `path` is where a runtime module is served (whether or not the project has it).
pub(crate) fn is_runtime_url(path: &str) -> bool {
    path == "/@react-refresh" || path == "/@prefresh"
}

/// Whether the package `name` is installed for code under `root`.
fn installed(root: &Path, name: &str) -> bool {
    root.ancestors().any(|dir| {
        dir.join("node_modules")
            .join(name)
            .join("package.json")
            .is_file()
    })
}

/// Whether the root's `package.json` depends on `preact` and not on `react`.
fn prefers_preact(root: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(root.join("package.json")) else {
        return false;
    };
    let Ok(manifest) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    let has = |name: &str| {
        ["dependencies", "devDependencies", "peerDependencies"]
            .iter()
            .any(|field| manifest[field].get(name).is_some())
    };
    has("preact") && !has("react")
}

/// Connects the refresh calls in `code`, compiled with refresh instrumentation, to
/// `runtime`, and makes the module accept its own updates. A module oxc found no component
/// in (no `$RefreshReg$`/`$RefreshSig$` call) is left as it is: its updates go to its
/// importers like any module's.
///
/// Everything is appended after the code, so the compiled lines (and the source map) keep
/// their places: `$RefreshReg$` and `$RefreshSig$` are function declarations, which are
/// hoisted, and the runtime's import is evaluated before the module's body runs.
pub(crate) fn instrument(code: &mut String, runtime: &Runtime) {
    if !code.contains("$RefreshReg$(") && !code.contains("$RefreshSig$(") {
        return;
    }
    if !code.ends_with('\n') {
        code.push('\n');
    }
    let url = runtime.url();
    // One self-import per version: the accept callback of the previous version compares
    // its exports with the next version's to decide whether the update stays in place.
    code.push_str(&format!(
        "import * as __hotserve_refresh from \"{url}\";\n\
         function $RefreshReg$(type, name) {{ __hotserve_refresh.register(type, import.meta.url, name); }}\n\
         function $RefreshSig$() {{ return __hotserve_refresh.signature(); }}\n\
         if (import.meta.hot) {{\n\
         \x20 const __hotserve_exports = import(import.meta.url);\n\
         \x20 __hotserve_exports.then((exports) => __hotserve_refresh.registerExports(import.meta.url, exports));\n\
         \x20 import.meta.hot.accept((next) => {{\n\
         \x20   __hotserve_exports.then((previous) => __hotserve_refresh.update(import.meta.hot, import.meta.url, previous, next));\n\
         \x20 }});\n\
         }}\n"
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn automatic(source: &str) -> Jsx {
        Jsx::Automatic {
            import_source: source.into(),
        }
    }

    #[test]
    fn only_application_jsx_of_the_runtime_s_library_is_instrumented() {
        let classic = Jsx::Classic {
            factory: "React.createElement".into(),
            fragment: "React.Fragment".into(),
        };
        let react = Runtime::ReactRefresh;
        assert!(react.applies_to(Path::new("/p/src/App.tsx"), &automatic("react")));
        assert!(react.applies_to(Path::new("/p/src/App.JSX"), &automatic("react")));
        assert!(react.applies_to(Path::new("/p/src/App.jsx"), &classic));
        assert!(!react.applies_to(Path::new("/p/src/util.ts"), &automatic("react")));
        assert!(!react.applies_to(Path::new("/p/src/App.tsx"), &automatic("preact")));
        assert!(!react.applies_to(
            Path::new("/p/node_modules/ui/Button.jsx"),
            &automatic("react")
        ));
        let preact = Runtime::Prefresh;
        assert!(preact.applies_to(Path::new("/p/src/app.jsx"), &automatic("preact")));
        assert!(!preact.applies_to(Path::new("/p/src/app.jsx"), &automatic("react")));
        assert!(!preact.applies_to(Path::new("/p/src/app.jsx"), &classic));
    }

    #[test]
    fn a_module_without_components_is_left_alone() {
        let mut code = "export const x = 1;\n".to_owned();
        instrument(&mut code, &Runtime::ReactRefresh);
        assert_eq!(code, "export const x = 1;\n");
    }

    #[test]
    fn a_component_module_registers_and_accepts_itself_after_its_lines() {
        let compiled = "function App() {}\n_c = App;\n$RefreshReg$(_c, \"App\");";
        for (runtime, url) in [
            (Runtime::ReactRefresh, "/@react-refresh"),
            (Runtime::Prefresh, "/@prefresh"),
        ] {
            let mut code = compiled.to_owned();
            instrument(&mut code, &runtime);
            assert!(
                code.starts_with(compiled),
                "compiled lines keep their places"
            );
            assert!(code.contains(&format!("from \"{url}\"")), "{code}");
            assert!(code.contains("function $RefreshReg$(type, name)"));
            assert!(code.contains("function $RefreshSig$()"));
            // The lexer marks the module self-accepting from this call.
            assert!(crate::modules::scan(&code).hot.self_accepting);
        }
    }

    fn install(dir: &Path, package: &str) {
        let folder = dir.join("node_modules").join(package);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("package.json"), "{}").unwrap();
    }

    #[test]
    fn the_project_s_runtime_is_found_and_imported_by_the_served_module() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("packages/app");
        std::fs::create_dir_all(&app).unwrap();
        assert_eq!(Runtime::detect(&app), None);

        // `react-refresh` hoisted above the root, as workspaces do.
        install(dir.path(), "react-refresh");
        let found = Runtime::detect(&app);
        assert_eq!(
            found,
            cfg!(feature = "bundle").then_some(Runtime::ReactRefresh)
        );
        if let Some(runtime) = found {
            assert!(runtime.source().contains("from \"react-refresh/runtime\""));
        }

        // plugin-react's copy in the root's own node_modules wins.
        let plugin = app.join(PLUGIN_REACT_RUNTIME);
        std::fs::create_dir_all(plugin.parent().unwrap()).unwrap();
        std::fs::write(&plugin, "export function register() {}").unwrap();
        let runtime = Runtime::detect(&app).unwrap();
        let url = "/node_modules/@vitejs/plugin-react/dist/refresh-runtime.js";
        assert_eq!(runtime, Runtime::PluginReact { url: url.into() });
        assert!(runtime.source().contains(&format!("from \"{url}\"")));
        assert!(!runtime.source().contains(PLACEHOLDER));
        assert_eq!(runtime.resolve_from(&app), app.join("@react-refresh.js"));

        // Prefresh too: the package.json says which library the project is written for.
        install(&app, "@prefresh/core");
        install(&app, "@prefresh/utils");
        assert!(matches!(
            Runtime::detect(&app),
            Some(Runtime::PluginReact { .. })
        ));
        std::fs::write(
            app.join("package.json"),
            r#"{"dependencies": {"preact": "10"}}"#,
        )
        .unwrap();
        assert_eq!(Runtime::detect(&app), Some(Runtime::Prefresh));
        assert!(
            Runtime::Prefresh
                .source()
                .contains("from \"@prefresh/utils\"")
        );
    }
}
