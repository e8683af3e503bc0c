//! Dependency pre-bundling with rolldown, with the real packages pinned in
//! `tests/js/package-lock.json` (react, react-dom, scheduler, object-assign, lit):
//! CommonJS packages served as ES modules at `/@deps/`, one React for react-dom and the
//! application, named imports from CommonJS, ES packages bundled with the stylesheets they
//! import left to the server, the cache on disk across restarts and its rebuild after a
//! lockfile change, errors, and the route's refusals.
//!
//! Set up with `npm ci --prefix tests/js`. Without `tests/js/node_modules` the tests are
//! skipped with a note, unless `HOTSERVE_REQUIRE_JS=1` (CI), which makes that a failure.
#![cfg(feature = "bundle")]

mod common;

use common::blocking::InProcess;
use common::browser::browser;
use common::{TestServer, hmr_client, next_json, write};
use hotserve::{Config, Event};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tempfile::TempDir;

const REACT: [&str; 3] = ["react", "react-dom", "scheduler"];

/// A project whose `node_modules` holds copies of these pinned packages, with a lockfile.
fn project(packages: &[&str]) -> Option<(TempDir, PathBuf)> {
    common::npm::project(packages, r#"{"name": "app", "type": "module"}"#)
}

/// The counter app: plain JS, `React.createElement`, `useState` by named import, and
/// `createRoot` from `react-dom/client`.
fn react_app(root: &Path) {
    write(
        root,
        "index.html",
        "<!doctype html><link rel=icon href=\"data:,\"><title>react</title><div id=root></div>\
         <script type=module src=/src/main.js></script>",
    );
    write(
        root,
        "src/main.js",
        "import React, { useState } from 'react';\n\
         import { createRoot } from 'react-dom/client';\n\
         function Counter() {\n\
           const [count, setCount] = useState(0);\n\
           return React.createElement('button', { id: 'count', onClick: () => setCount(count + 1) }, 'count is ' + count);\n\
         }\n\
         createRoot(document.getElementById('root')).render(React.createElement(Counter));\n",
    );
}

/// The next pre-bundle build the server reports within `within`, if one comes.
async fn next_build(events: &mut hotserve::Events, within: Duration) -> Option<Event> {
    events
        .wait_for(|e| matches!(e, Event::DepsBundled { .. }), within)
        .await
}

/// The first URL in `code` that starts with `prefix`, up to its closing quote.
fn url_in(code: &str, prefix: &str) -> String {
    let start = code
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} in {code}"));
    let end = code[start..].find(['"', '\'']).unwrap() + start;
    code[start..end].to_owned()
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[tokio::test]
async fn commonjs_imports_become_one_build_with_a_shared_react_and_property_reads() {
    let Some((_dir, root)) = project(&REACT) else {
        return;
    };
    react_app(&root);
    let server = TestServer::start(Config::new(&root)).await;
    let main = server.get("/src/main.js").await.text();
    // A default import plus property reads, on the statement's own line.
    assert!(
        main.starts_with("import __hs_cjs0 from \"/@deps/react.js?v="),
        "{main}"
    );
    assert!(
        main.contains("useState = __hs_cjs0[\"useState\"]"),
        "{main}"
    );
    assert!(
        main.contains("createRoot = __hs_cjs1[\"createRoot\"]"),
        "{main}"
    );
    assert_eq!(main.lines().count(), 7, "line numbers are kept: {main}");
    let react = url_in(&main, "/@deps/react.js");
    let dom = url_in(&main, "/@deps/react-dom_client.js");
    assert_eq!(
        react.split_once("?v=").unwrap().1,
        dom.split_once("?v=").unwrap().1,
        "both from one build"
    );

    let react_reply = server.get(&react).await;
    assert_eq!(react_reply.status, 200);
    assert_eq!(
        react_reply.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        react_reply.header("cache-control"),
        Some("max-age=31536000, immutable")
    );
    let dom_code = server.get(&dom).await.text();
    let react_code = react_reply.text();
    // react-dom's `require('react')` and the application's `react` are one module, in a
    // chunk both entries import.
    let shared: Vec<&str> = react_code
        .lines()
        .filter(|l| l.starts_with("import") && l.contains("./chunk-"))
        .map(|l| &l[l.find("./chunk-").unwrap()..])
        .collect::<Vec<_>>();
    assert!(!shared.is_empty(), "react.js imports a shared chunk");
    assert!(
        shared.iter().any(|chunk| {
            let name = chunk.split(['"', '\'']).next().unwrap();
            dom_code.contains(name)
        }),
        "react-dom imports the same chunk: {shared:?}"
    );
    // `process.env.NODE_ENV` is "development": React's development build is inside.
    assert!(!dom_code.contains("process.env.NODE_ENV"));
    let chunk = shared[0].split(['"', '\'']).next().unwrap();
    let chunk_code = server.get(&format!("/@deps/{}", &chunk[2..])).await;
    assert_eq!(chunk_code.status, 200);
    assert!(
        chunk_code.text().contains("react.development.js")
            || react_code.contains("react.development.js")
    );
    server.stop().await;
}

#[tokio::test]
async fn the_pages_are_crawled_at_startup_so_the_first_load_builds_once() {
    let Some((_dir, root)) = project(&REACT) else {
        return;
    };
    react_app(&root);
    let server = TestServer::start(Config::new(&root)).await;
    let mut events = server.service.events();
    // Nothing was requested: the crawl of index.html found both entries.
    let first = next_build(&mut events, Duration::from_secs(60))
        .await
        .expect("a build");
    let Event::DepsBundled { entries, .. } = first else {
        unreachable!()
    };
    assert_eq!(entries, ["react", "react-dom_client"]);
    let meta = root.join("node_modules/.hotserve/deps/_meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    assert!(text.contains("react-dom_client"), "{text}");
    let main = server.get("/src/main.js").await.text();
    assert_eq!(
        server.get(&url_in(&main, "/@deps/react.js")).await.status,
        200
    );
    // Loading the page's modules added no entry: no second build.
    let again = next_build(&mut events, Duration::from_millis(500)).await;
    assert_eq!(again, None);
    server.stop().await;
}

/// The crawl reads `.tsx` compiled: the JSX runtime the compiled code imports
/// (`react/jsx-dev-runtime`, named nowhere in the source) is in the first build. It follows
/// imports as the request path resolves them (`./App` finds `App.tsx`), so `react`, which
/// only `App.tsx` imports, is there too. Loading the page adds nothing, and a restart finds
/// that build in the cache.
#[cfg(feature = "transform")]
#[tokio::test]
async fn the_crawl_sees_the_jsx_runtime_that_compiled_tsx_imports() {
    let Some((_dir, root)) = project(&REACT) else {
        return;
    };
    write(
        &root,
        "index.html",
        "<!doctype html><div id=root></div><script type=module src=/src/main.tsx></script>",
    );
    write(
        &root,
        "src/main.tsx",
        "import { createRoot } from 'react-dom/client';\n\
         import App from './App';\n\
         createRoot(document.getElementById('root')!).render(<App />);\n",
    );
    write(
        &root,
        "src/App.tsx",
        "import { useState } from 'react';\n\
         export default function App(): JSX.Element { const [n] = useState(1); return <p>app {n}</p>; }\n",
    );
    let server = TestServer::start(Config::new(&root)).await;
    let mut events = server.service.events();
    let first = next_build(&mut events, Duration::from_secs(60))
        .await
        .expect("a build");
    let Event::DepsBundled { mut entries, .. } = first else {
        unreachable!()
    };
    entries.sort();
    assert_eq!(
        entries,
        ["react", "react-dom_client", "react_jsx-dev-runtime"]
    );
    for module in ["/src/main.tsx", "/src/App.tsx"] {
        let code = server.get(module).await.text();
        assert!(code.contains("/@deps/"), "{module}: {code}");
    }
    let again = next_build(&mut events, Duration::from_millis(500)).await;
    assert_eq!(again, None, "loading the page's modules added no entry");
    server.stop().await;

    // A restart: the same entries, so the build on disk is read back.
    let server = TestServer::start(Config::new(&root)).await;
    let mut events = server.service.events();
    let restarted = next_build(&mut events, Duration::from_secs(60))
        .await
        .expect("a build");
    assert!(
        matches!(restarted, Event::DepsBundled { reused: true, .. }),
        "{restarted:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_restart_with_nothing_changed_reads_the_cache_without_rebuilding() {
    let Some((_dir, root)) = project(&REACT) else {
        return;
    };
    react_app(&root);
    let server = TestServer::start(Config::new(&root)).await;
    let main = server.get("/src/main.js").await.text();
    let react = url_in(&main, "/@deps/react.js");
    let first = server.get(&react).await.text();
    server.stop().await;
    let deps = root.join("node_modules/.hotserve/deps");
    let meta_time = modified(&deps.join("_meta.json"));
    let react_time = modified(&deps.join("react.js"));

    let server = TestServer::start(Config::new(&root)).await;
    let main = server.get("/src/main.js").await.text();
    assert_eq!(url_in(&main, "/@deps/react.js"), react, "same key");
    assert_eq!(server.get(&react).await.text(), first);
    assert_eq!(
        modified(&deps.join("_meta.json")),
        meta_time,
        "not rewritten"
    );
    assert_eq!(
        modified(&deps.join("react.js")),
        react_time,
        "not rewritten"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_lockfile_change_rebuilds_and_reloads_the_pages() {
    let Some((_dir, root)) = project(&REACT) else {
        return;
    };
    react_app(&root);
    let server = TestServer::start(Config::new(&root)).await;
    let main = server.get("/src/main.js").await.text();
    let react = url_in(&main, "/@deps/react.js");
    assert_eq!(server.get(&react).await.status, 200);
    let meta = root.join("node_modules/.hotserve/deps/_meta.json");
    let before = std::fs::read_to_string(&meta).unwrap();
    let mut ws = hmr_client(server.addr).await;
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    let mut events = server.service.events();

    write(
        &root,
        "package-lock.json",
        r#"{"lockfileVersion": 3, "packages": {"node_modules/react": {}}}"#,
    );
    let payload = next_json(&mut ws).await;
    assert_eq!(payload["type"], "full-reload", "{payload}");
    let rebuilt = events
        .wait_for(
            |e| matches!(e, Event::DepsBundled { reused: false, .. }),
            Duration::from_secs(60),
        )
        .await
        .expect("a rebuild");
    let Event::DepsBundled { entries, .. } = rebuilt else {
        unreachable!()
    };
    assert!(entries.contains(&"react".to_owned()), "{entries:?}");
    let main = server.get("/src/main.js").await.text();
    let new_react = url_in(&main, "/@deps/react.js");
    assert_ne!(new_react, react, "a new key in the URL");
    assert_ne!(std::fs::read_to_string(&meta).unwrap(), before);
    // The old URL is no longer cached for good.
    assert_eq!(
        server.get(&react).await.header("cache-control"),
        Some("no-cache")
    );
    server.stop().await;
}

#[tokio::test]
async fn the_deps_route_serves_names_from_memory_and_refuses_everything_else() {
    let Some((_dir, root)) = project(&["object-assign"]) else {
        return;
    };
    write(
        &root,
        "index.html",
        "<script type=module src=/main.js></script>",
    );
    write(&root, "main.js", "import assign from 'object-assign';\n");
    write(&root, ".env", "SECRET=1\n");
    write(&root, "secret.txt", "secret\n");
    let server = TestServer::start(Config::new(&root)).await;
    let main = server.get("/main.js").await.text();
    let url = url_in(&main, "/@deps/object-assign.js");
    assert_eq!(server.get(&url).await.status, 200);
    for target in [
        "/@deps/../secret.txt",
        "/@deps/..%2fsecret.txt",
        "/@deps/%2e%2e/secret.txt",
        "/@deps/%2E%2E%2F.env",
        "/@deps/.env",
        "/@deps/..",
        "/@deps/_meta.json/../../../secret.txt",
        "/@deps/a%00.js",
        "/@deps/sub/object-assign.js",
        "/@deps/..\\secret.txt",
    ] {
        let reply = server.get(target).await;
        assert_eq!(reply.status, 403, "{target}");
        assert!(!reply.text().contains("secret"), "{target}");
    }
    assert_eq!(server.get("/@deps/nothing-here.js").await.status, 404);
    // The cache folder is a dotfile path: never served as files.
    for target in [
        "/node_modules/.hotserve/deps/_meta.json",
        "/node_modules/.hotserve/deps/object-assign.js",
        "/node_modules/%2ehotserve/deps/_meta.json",
    ] {
        assert_eq!(server.get(target).await.status, 403, "{target}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_package_that_cannot_be_bundled_shows_the_overlay_and_the_others_still_load() {
    let Some((_dir, root)) = project(&["object-assign"]) else {
        return;
    };
    write(
        &root,
        "node_modules/needs-fs/package.json",
        r#"{"name": "needs-fs", "version": "1.0.0", "main": "index.js"}"#,
    );
    write(
        &root,
        "node_modules/needs-fs/index.js",
        "const fs = require('fs');\nmodule.exports = fs.readFileSync;\n",
    );
    write(
        &root,
        "index.html",
        "<script type=module src=/main.js></script>",
    );
    write(
        &root,
        "main.js",
        "import assign from 'object-assign';\nimport read from 'needs-fs';\n",
    );
    let server = TestServer::start(Config::new(&root)).await;
    let mut ws = hmr_client(server.addr).await;
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    let main = server.get("/main.js").await.text();
    let good = server.get(&url_in(&main, "/@deps/object-assign.js")).await;
    assert_eq!(good.status, 200);
    assert!(!good.text().contains("ErrorOverlay"));
    let bad = server.get(&url_in(&main, "/@deps/needs-fs.js")).await;
    assert_eq!(bad.status, 200, "a module that shows the error");
    assert_eq!(bad.header("cache-control"), Some("no-store"));
    assert!(bad.text().contains("ErrorOverlay"), "{}", bad.text());
    let payload = next_json(&mut ws).await;
    assert_eq!(payload["type"], "error", "{payload}");
    let message = payload["err"]["message"].as_str().unwrap();
    assert!(message.contains("\"needs-fs\""), "{message}");
    assert!(
        message.contains("node_modules/needs-fs/index.js"),
        "{message}"
    );
    assert!(message.contains("\"fs\""), "{message}");
    server.stop().await;
}

// ---- in Chromium -------------------------------------------------------------------------

const RENDER_WAIT: Duration = Duration::from_secs(30);

#[test]
fn a_react_page_renders_and_use_state_works_with_one_react() {
    let Some((_dir, root)) = project(&REACT) else {
        return;
    };
    react_app(&root);
    let Some(mut tab) = browser() else {
        return;
    };
    let running = InProcess::start(Config::new(&root));
    tab.open(&running.url("/"));
    tab.wait(
        "document.getElementById('count')?.textContent === 'count is 0'",
        RENDER_WAIT,
    );
    // A hook from a second copy of React would throw "Invalid hook call".
    tab.eval("document.getElementById('count').click()");
    tab.eval("document.getElementById('count').click()");
    tab.wait(
        "document.getElementById('count').textContent === 'count is 2'",
        RENDER_WAIT,
    );
    tab.wait_connected(1);
    tab.assert_clean(false);
    let deps = tab.eval(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('/@deps/')).length",
    );
    assert!(
        (2..=6).contains(&deps.as_u64().unwrap()),
        "a few requests for React: {deps}"
    );
}

#[test]
fn named_and_default_imports_from_commonjs_packages_follow_es_module_interop() {
    let Some((_dir, root)) = project(&["object-assign"]) else {
        return;
    };
    // Babel-style output (`__esModule`) and plain `module.exports`, beside a real package.
    write(
        &root,
        "node_modules/transpiled/package.json",
        r#"{"name": "transpiled", "version": "2.0.0", "main": "lib/index.js"}"#,
    );
    write(
        &root,
        "node_modules/transpiled/lib/index.js",
        "\"use strict\";\nObject.defineProperty(exports, \"__esModule\", { value: true });\n\
         exports.default = function greet(n) { return 'hi ' + n; };\nexports.shout = (s) => s.toUpperCase();\n",
    );
    write(
        &root,
        "node_modules/plain-cjs/package.json",
        r#"{"name": "plain-cjs", "version": "1.0.0"}"#,
    );
    write(
        &root,
        "node_modules/plain-cjs/index.js",
        "function add(a, b) { return a + b; }\nadd.twice = (a) => add(a, a);\nmodule.exports = add;\n",
    );
    write(
        &root,
        "index.html",
        "<!doctype html><link rel=icon href=\"data:,\"><script type=module src=/main.js></script>",
    );
    write(
        &root,
        "main.js",
        "import assign from 'object-assign';\n\
         import greet, { shout } from 'transpiled';\n\
         import add, { twice } from 'plain-cjs';\n\
         import * as ns from 'plain-cjs';\n\
         const lazy = await import('transpiled');\n\
         window.result = [assign({ a: 1 }, { b: 2 }).b, greet('x'), shout('y'), add(1, 2), twice(4),\n\
           ns.default(2, 3), ns.twice(1), lazy.shout('z'), lazy.default('w')].join(',');\n",
    );
    let Some(mut tab) = browser() else {
        return;
    };
    let running = InProcess::start(Config::new(&root));
    tab.open(&running.url("/"));
    let result = tab.wait("window.result", RENDER_WAIT);
    assert_eq!(result, "2,hi x,Y,3,8,5,2,Z,hi w");
    tab.assert_clean(false);
}

#[test]
fn es_packages_are_bundled_and_the_stylesheets_and_assets_they_import_stay_the_servers() {
    let Some((_dir, root)) = project(&["lit", "lit-html", "lit-element", "@lit/reactive-element"])
    else {
        return;
    };
    // A component library that imports its own stylesheet and an icon, as many do.
    write(
        &root,
        "node_modules/ui/package.json",
        r#"{"name": "ui", "version": "1.0.0", "type": "module", "exports": "./index.js"}"#,
    );
    write(
        &root,
        "node_modules/ui/index.js",
        "import './button.css';\nimport icon from './icon.svg';\nexport { icon };\nexport const label = 'ui';\n",
    );
    write(
        &root,
        "node_modules/ui/button.css",
        ".ui-button { color: rgb(4, 5, 6); }\n",
    );
    write(
        &root,
        "node_modules/ui/icon.svg",
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    );
    write(
        &root,
        "index.html",
        "<!doctype html><link rel=icon href=\"data:,\"><button id=b class=ui-button>b</button>\
         <script type=module src=/main.js></script>",
    );
    write(
        &root,
        "main.js",
        "import { LitElement } from 'lit';\nimport { icon, label } from 'ui';\n\
         window.result = [typeof LitElement, label, icon].join(',');\n",
    );
    let running = InProcess::start(Config::new(&root));
    let main = running.get("/main.js").text();
    url_in(&main, "/@deps/lit.js?v=");
    let ui = running.get(&url_in(&main, "/@deps/ui.js?v=")).text();
    // The stylesheet and the icon are the server's, with the dependency version.
    let css = url_in(&ui, "/node_modules/ui/button.css?import&v=");
    let style = running.get(&css);
    assert_eq!(
        style.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(style.text().contains("rgb(4, 5, 6)"), "{}", style.text());
    url_in(&ui, "/node_modules/ui/icon.svg?import&v=");

    let Some(mut tab) = browser() else {
        return;
    };
    tab.open(&running.url("/"));
    let result = tab.wait("window.result", RENDER_WAIT);
    assert_eq!(result, "function,ui,/node_modules/ui/icon.svg");
    assert_eq!(
        tab.eval("getComputedStyle(document.getElementById('b')).color"),
        "rgb(4, 5, 6)"
    );
    // lit is one chunk (or a few), not its 18 files in four levels.
    let files = tab.eval(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('/node_modules/lit')).length",
    );
    assert_eq!(files, 0, "lit's own files were requested");
    tab.assert_clean(false);
}

/// A `node_modules` hoisted above the root (a workspace): the bundled package's stylesheet
/// and the font that stylesheet names are served through `/@fs/`, and nothing else there.
#[tokio::test]
async fn a_hoisted_packages_stylesheet_and_its_font_are_served_through_the_fs_route() {
    if common::npm::installed("lit").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let root = base.join("app");
    write(&root, "package-lock.json", "{}");
    write(
        &root,
        "main.js",
        "import { label } from 'ui';\nexport { label };\n",
    );
    write(
        &base,
        "node_modules/ui/package.json",
        r#"{"name": "ui", "version": "1.0.0", "type": "module", "exports": "./index.js"}"#,
    );
    write(
        &base,
        "node_modules/ui/index.js",
        "import './dist/button.css';\nexport const label = 'ui';\n",
    );
    write(
        &base,
        "node_modules/ui/dist/button.css",
        "@font-face { font-family: ui; src: url(../fonts/ui.woff2); }\n",
    );
    write(&base, "node_modules/ui/fonts/ui.woff2", "wOF2");
    write(&base, "secret.txt", "top secret\n");
    let server = TestServer::start(Config::new(&root)).await;
    let main = server.get("/main.js").await.text();
    let ui = server.get(&url_in(&main, "/@deps/ui.js?v=")).await.text();
    let fs = format!("/@fs{}", base.display());
    let css = url_in(
        &ui,
        &format!("{fs}/node_modules/ui/dist/button.css?import&v="),
    );
    let style = server.get(&css).await;
    assert_eq!(style.status, 200);
    // The stylesheet's text goes into a <style>: its font is written from the root.
    let font = format!("{fs}/node_modules/ui/fonts/ui.woff2");
    assert!(style.text().contains(&font), "{}", style.text());
    let reply = server.get(&font).await;
    assert_eq!(reply.status, 200, "{font}");
    assert_eq!(reply.text(), "wOF2");
    assert_eq!(
        server.get(&format!("{fs}/secret.txt")).await.status,
        403,
        "only the package's folder is open"
    );
    server.stop().await;
}
