//! Fast Refresh in a real Chromium, with the packages of the test lockfile: React with both
//! of its refresh runtimes (`@vitejs/plugin-react`'s copy, what create-vite's React templates
//! install, and the `react-refresh` package, CommonJS, pre-bundled), and Preact with
//! Prefresh. A component edit re-renders in place with its state kept; a module that also
//! exports a non-component goes to its importers (here: a reload); a change of a
//! component's hooks remounts it; a syntax error shows the overlay and the fix resumes with
//! the state kept.
//!
//! Same prerequisites as tests/browser.rs (node, `npm ci` in tests/js, Chromium).
#![cfg(all(feature = "bundle", feature = "transform"))]

mod common;

use common::blocking::InProcess;
use common::browser::{Tab, browser, js_dir};
use common::{copy_dir, write};
use hotserve::Config;
use std::time::Duration;
use tempfile::TempDir;

const RENDER_WAIT: Duration = Duration::from_secs(30);
const SHORT: Duration = Duration::from_secs(10);

/// Where the project gets React's refresh runtime from.
#[derive(Clone, Copy, Debug)]
enum Runtime {
    PluginReact,
    ReactRefresh,
    Prefresh,
}

/// A React project with `runtime` installed, or `None` (after a note) when tests/js is not
/// installed.
fn project(runtime: Runtime) -> Option<TempDir> {
    let modules = js_dir().join("node_modules");
    if !modules.join("react-refresh/package.json").is_file() {
        let required = std::env::var("HOTSERVE_REQUIRE_JS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "HOTSERVE_REQUIRE_JS=1 but tests/js is not installed"
        );
        eprintln!("skipping Fast Refresh test: run `npm ci --prefix tests/js` to enable it");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let packages: &[&str] = match runtime {
        Runtime::PluginReact => &["react", "react-dom", "scheduler", "@vitejs/plugin-react"],
        Runtime::ReactRefresh => &["react", "react-dom", "scheduler", "react-refresh"],
        Runtime::Prefresh => &["preact", "@prefresh/core", "@prefresh/utils"],
    };
    for package in packages {
        copy_dir(
            &modules.join(package),
            &root.join("node_modules").join(package),
        );
    }
    write(
        root,
        "package-lock.json",
        r#"{"lockfileVersion": 3, "packages": {}}"#,
    );
    let (manifest, main) = match runtime {
        Runtime::Prefresh => (
            r#"{"name": "app", "type": "module", "dependencies": {"preact": "10"}}"#,
            "import { render } from 'preact';\n\
             import App from './App.tsx';\n\
             render(<App />, document.getElementById('root')!);\n",
        ),
        _ => (
            r#"{"name": "app", "type": "module"}"#,
            "import { StrictMode } from 'react';\n\
             import { createRoot } from 'react-dom/client';\n\
             import App from './App.tsx';\n\
             createRoot(document.getElementById('root')!).render(<StrictMode><App /></StrictMode>);\n",
        ),
    };
    write(root, "package.json", manifest);
    write(
        root,
        "index.html",
        "<!doctype html><html><head><link rel=icon href=\"data:,\">\
         <script>window.__loadId = Math.random().toString(36).slice(2);</script></head>\
         <body><div id=root></div><script type=module src=/src/main.tsx></script></body></html>",
    );
    write(root, "src/main.tsx", main);
    let hooks = match runtime {
        Runtime::Prefresh => "preact/hooks",
        _ => "react",
    };
    write(
        root,
        "src/App.tsx",
        counter("Edit me", "").replace("from 'react'", &format!("from '{hooks}'")),
    );
    Some(dir)
}

/// The counter component with `label`; `extra` is more code in the module.
fn counter(label: &str, extra: &str) -> String {
    format!(
        "import {{ useState }} from 'react';\n\
         {extra}\n\
         export default function App() {{\n\
           const [count, setCount] = useState(0);\n\
           return (\n\
             <main>\n\
               <p id=\"label\">{label}</p>\n\
               <button id=\"count\" onClick={{() => setCount((c) => c + 1)}}>count is {{count}}</button>\n\
             </main>\n\
           );\n\
         }}\n"
    )
}

/// Open the app, wait for it to render, and click the counter to 3.
fn open_and_count_to_three(tab: &mut Tab, server: &InProcess) {
    tab.open(&server.url("/"));
    tab.wait(
        "document.getElementById('count')?.textContent === 'count is 0'",
        RENDER_WAIT,
    );
    tab.wait_connected(1);
    for _ in 0..3 {
        tab.eval("document.getElementById('count').click()");
    }
    tab.wait_text("#count", "count is 3");
}

fn edits_keep_state(runtime: Runtime) {
    let Some(dir) = project(runtime) else { return };
    let Some(mut tab) = browser() else { return };
    let root = dir.path().canonicalize().unwrap();
    let hooks = match runtime {
        Runtime::Prefresh => "preact/hooks",
        _ => "react",
    };
    let counter = |label: &str, extra: &str| {
        counter(label, extra).replace("from 'react'", &format!("from '{hooks}'"))
    };
    let server = InProcess::start(Config::new(&root));
    open_and_count_to_three(&mut tab, &server);
    let load = tab.load_id();

    // The component's text changes in place; its state stays.
    write(&root, "src/App.tsx", counter("Edited", ""));
    tab.wait_text("#label", "Edited");
    assert_eq!(tab.text_of("#count"), "count is 3", "{runtime:?}");
    assert_eq!(tab.load_id(), load, "{runtime:?}: an update, not a reload");
    tab.assert_clean(false);

    // A broken save (the browser logs the failed import, as it does on Vite): the overlay, and the page keeps running the last good version.
    write(
        &root,
        "src/App.tsx",
        "export default function App() { return <main>; }\n",
    );
    tab.wait("!!document.querySelector('vite-error-overlay')", SHORT);
    assert_eq!(tab.text_of("#label"), "Edited");
    // The fix resumes with the state kept.
    write(&root, "src/App.tsx", counter("Fixed", ""));
    tab.wait_text("#label", "Fixed");
    tab.wait("!document.querySelector('vite-error-overlay')", SHORT);
    assert_eq!(tab.text_of("#count"), "count is 3", "{runtime:?}");

    // Another hook changes the component's signature: it remounts, without a reload.
    let with_hook = counter("Remounted", "").replace(
        "const [count, setCount] = useState(0);",
        "const [count, setCount] = useState(0);\n  const [other] = useState('x');\n  void other;",
    );
    write(&root, "src/App.tsx", with_hook);
    tab.wait_text("#label", "Remounted");
    tab.wait_text("#count", "count is 0");
    assert_eq!(tab.load_id(), load, "{runtime:?}: a remount, not a reload");
}

#[test]
fn a_component_edit_keeps_its_state_with_plugin_react_s_runtime() {
    edits_keep_state(Runtime::PluginReact);
}

#[test]
fn a_component_edit_keeps_its_state_with_the_react_refresh_package() {
    edits_keep_state(Runtime::ReactRefresh);
}

#[test]
fn a_preact_component_edit_keeps_its_state_with_prefresh() {
    edits_keep_state(Runtime::Prefresh);
}

#[test]
fn a_module_that_also_exports_a_value_goes_to_its_importers() {
    let Some(dir) = project(Runtime::PluginReact) else {
        return;
    };
    let Some(mut tab) = browser() else { return };
    let root = dir.path().canonicalize().unwrap();
    write(
        &root,
        "src/App.tsx",
        counter("First", "export const version = 1;"),
    );
    let server = InProcess::start(Config::new(&root));
    open_and_count_to_three(&mut tab, &server);
    let load = tab.load_id();

    // `version` is not a component and changed: the importers must run again. main.tsx
    // accepts nothing, so the page reloads (as on Vite) and the count starts over.
    write(
        &root,
        "src/App.tsx",
        counter("Second", "export const version = 2;"),
    );
    tab.wait(&format!("window.__loadId !== {load}"), SHORT);
    tab.wait(
        "document.getElementById('label')?.textContent === 'Second'",
        RENDER_WAIT,
    );
    assert_eq!(tab.text_of("#count"), "count is 0");
}

#[test]
fn pages_load_the_runtime_before_react_and_projects_without_one_get_no_tag() {
    let Some(dir) = project(Runtime::PluginReact) else {
        return;
    };
    let root = dir.path().canonicalize().unwrap();
    let server = InProcess::start(Config::new(&root));
    let page = server.get("/").text();
    let client = page.find("/@vite/client").unwrap();
    let refresh = page
        .find("<script type=\"module\" src=\"/@react-refresh\"></script>")
        .unwrap();
    let app = page.find("/src/main.tsx").unwrap();
    assert!(client < refresh && refresh < app, "{page}");
    let runtime = server.get("/@react-refresh");
    assert_eq!(runtime.status, 200);
    assert!(
        runtime
            .text()
            .contains("/node_modules/@vitejs/plugin-react/dist/refresh-runtime.js"),
        "{}",
        runtime.text()
    );
    // A component module registers its components with the runtime and accepts itself.
    let app = server.get("/src/App.tsx").text();
    assert!(app.contains("$RefreshReg$(_c, \"App\")"), "{app}");
    assert!(app.contains("from \"/@react-refresh\""), "{app}");
    drop(server);

    std::fs::remove_dir_all(root.join("node_modules/@vitejs")).unwrap();
    let server = InProcess::start(Config::new(&root));
    let page = server.get("/").text();
    assert!(!page.contains("/@react-refresh"), "{page}");
    assert_eq!(server.get("/@react-refresh").status, 404);
    assert!(!server.get("/src/App.tsx").text().contains("$RefreshReg$"));
}

#[test]
fn the_runtime_routes_serve_one_path_each_and_hostile_pages_still_load() {
    let Some(dir) = project(Runtime::PluginReact) else {
        return;
    };
    let root = dir.path().canonicalize().unwrap();
    std::fs::write(root.join(".env"), "SECRET=1").unwrap();
    // Inline module scripts that never close, close in a string, or are not UTF-8: the page
    // is served (as written where nothing can be resolved), never a crash or a hang.
    write(&root, "open.html", "<script type=module>import 'react';");
    write(
        &root,
        "quote.html",
        "<script type=module>const s = '</script>';</script>",
    );
    std::fs::write(
        root.join("bytes.html"),
        b"<script type=module>\xff\xfe</script>",
    )
    .unwrap();
    let server = InProcess::start(Config::new(&root));
    for page in ["/open.html", "/quote.html", "/bytes.html"] {
        assert_eq!(server.get(page).status, 200, "{page}");
    }
    // Only the exact runtime URLs are special; anything under them is an ordinary path and
    // gets the root's checks.
    for path in [
        "/@react-refresh/../.env",
        "/@react-refresh/%2e%2e/.env",
        "/@react-refresh%2F..%2F.env",
        "/@prefresh/../../.env",
    ] {
        let reply = server.get(path);
        assert_ne!(reply.status, 200, "{path}");
        assert!(!reply.text().contains("SECRET"), "{path}");
    }
    // No Prefresh installed here: its route answers 404.
    assert_eq!(server.get("/@prefresh").status, 404);
}
