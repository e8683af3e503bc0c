//! npm packages by bare name, with the real packages pinned in `tests/js/package-lock.json`:
//! resolution and rewriting, versioned caching, `process.env.NODE_ENV`, the `/@fs/` route for
//! linked packages outside the root (and every way of abusing it), errors a person can act
//! on, and pages that render in headless Chromium.
//!
//! Set up with `npm ci --prefix tests/js`. Without `tests/js/node_modules` the tests are
//! skipped with a note, unless `HOTSERVE_REQUIRE_JS=1` (CI), which makes that a failure.
#![cfg(feature = "node")]

mod common;

use common::blocking::InProcess;
use common::browser::browser;
use common::{TestServer, hmr_client, next_json, request, write};
use hotserve::Config;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

/// A project folder whose `node_modules` holds copies of these pinned packages, with a
/// lockfile (so package files get a version) and a `#util` package import, or `None` when
/// the packages are missing.
fn project(packages: &[&str]) -> Option<(TempDir, PathBuf)> {
    let (dir, root) = common::npm::project(
        packages,
        r##"{"name": "app", "type": "module", "imports": {"#util": "./src/util.js"}}"##,
    )?;
    write(&root, "src/util.js", "export const util = 'util';\n");
    Some((dir, root))
}

const LIT: [&str; 4] = ["lit", "lit-html", "lit-element", "@lit/reactive-element"];

/// The first URL in `code` that starts with `prefix`, up to its closing quote.
fn url_in(code: &str, prefix: &str) -> String {
    let start = code
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} in {code}"));
    let end = code[start..].find(['"', '\'']).unwrap() + start;
    code[start..end].to_owned()
}

fn version_of(url: &str) -> &str {
    url.split_once("?v=").expect("a version in the URL").1
}

async fn server(root: &Path) -> TestServer {
    TestServer::start(Config::new(root)).await
}

/// A server that serves `packages` file by file, as it serves every package without the
/// `bundle` feature (with it they would be pre-bundled, see tests/prebundle.rs): resolution
/// and versioning seen URL by URL.
async fn unbundled_server(root: &Path, packages: &[&str]) -> TestServer {
    let config = packages.iter().fold(Config::new(root), |config, package| {
        config.exclude_from_prebundle(*package)
    });
    TestServer::start(config).await
}

/// The URL `code` imports the package `name` from: its pre-bundled entry, or its own file.
fn package_url_in(code: &str, name: &str) -> String {
    let bundled = format!("/@deps/{name}.js?");
    if code.contains(&bundled) {
        url_in(code, &bundled)
    } else {
        url_in(code, &format!("/node_modules/{name}/"))
    }
}

#[tokio::test]
async fn bare_imports_become_package_urls_with_the_dependency_version() {
    let mut packages = LIT.to_vec();
    packages.extend(["preact", "nanoid"]);
    let Some((_dir, root)) = project(&packages) else {
        return;
    };
    write(
        &root,
        "src/main.js",
        "import { html } from 'lit';\nimport { useState } from \"preact/hooks\";\n\
         import { nanoid } from 'nanoid';\nimport { ReactiveElement } from '@lit/reactive-element';\n\
         import { util } from '#util';\nimport './util.js';\nexport { html, useState, nanoid, ReactiveElement, util };\n",
    );
    let server = unbundled_server(&root, &packages).await;
    let main = server.get("/src/main.js").await;
    assert_eq!(main.status, 200);
    let code = main.text();
    let lit = url_in(&code, "/node_modules/lit/");
    assert!(lit.starts_with("/node_modules/lit/index.js?v="), "{lit}");
    let version = version_of(&lit).to_owned();
    assert_eq!(version.len(), 8);
    // `preact/hooks` under the `browser` condition; nanoid's browser build, not its Node one.
    assert_eq!(
        url_in(&code, "/node_modules/preact/"),
        format!("/node_modules/preact/hooks/dist/hooks.module.js?v={version}")
    );
    assert_eq!(
        url_in(&code, "/node_modules/nanoid/"),
        format!("/node_modules/nanoid/index.browser.js?v={version}")
    );
    // The `browser` + `development` build of a scoped package.
    assert_eq!(
        url_in(&code, "/node_modules/@lit/"),
        format!("/node_modules/@lit/reactive-element/development/reactive-element.js?v={version}")
    );
    // An application file goes without the version, so it is one module with the same
    // file imported by its path elsewhere.
    assert!(code.contains("'/src/util.js'"), "#imports: {code}");
    assert!(
        code.contains("import './util.js';"),
        "relative app imports stay: {code}"
    );
    // Application code is revalidated; package files with the version are kept for good.
    assert_eq!(main.header("cache-control"), Some("no-cache"));
    assert!(main.header("etag").is_some());
    let package = server.get(&lit).await;
    assert_eq!(package.status, 200);
    assert_eq!(
        package.header("cache-control"),
        Some("max-age=31536000, immutable")
    );
    assert_eq!(
        package.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    // Inside a package every import carries the version, relative ones included.
    let inner = package.text();
    assert!(
        inner.contains(&format!(
            "\"/node_modules/@lit/reactive-element/development/reactive-element.js?v={version}\""
        )),
        "{inner}"
    );
    assert!(
        inner.contains(&format!(
            "\"/node_modules/lit-element/development/lit-element.js?v={version}\""
        )),
        "{inner}"
    );
    // Without the current version a package file must be revalidated.
    let unversioned = server.get("/node_modules/lit/index.js").await;
    assert_eq!(unversioned.header("cache-control"), Some("no-cache"));
    let stale = server.get("/node_modules/lit/index.js?v=00000000").await;
    assert_eq!(stale.header("cache-control"), Some("no-cache"));
    server.stop().await;
}

#[tokio::test]
async fn node_env_in_dependency_code_reads_development_but_app_code_is_left_alone() {
    let Some((_dir, root)) = project(&[]) else {
        return;
    };
    write(
        &root,
        "node_modules/env-pkg/package.json",
        r#"{"name": "env-pkg", "type": "module", "exports": "./index.js"}"#,
    );
    write(
        &root,
        "node_modules/env-pkg/index.js",
        "export const mode = process.env.NODE_ENV;\n\
         export const text = \"process.env.NODE_ENV\"; // process.env.NODE_ENV\n",
    );
    write(
        &root,
        "src/main.js",
        "import { mode } from 'env-pkg';\nconsole.log(mode, process.env.NODE_ENV);\n",
    );
    let server = unbundled_server(&root, &["env-pkg"]).await;
    let main = server.get("/src/main.js").await.text();
    assert!(
        main.contains("console.log(mode, process.env.NODE_ENV);"),
        "{main}"
    );
    let package = server
        .get(&url_in(&main, "/node_modules/env-pkg/"))
        .await
        .text();
    assert_eq!(
        package,
        "export const mode = \"development\";\n\
         export const text = \"process.env.NODE_ENV\"; // process.env.NODE_ENV\n"
    );
    server.stop().await;
}

/// The `error` payload that follows a request for `path`, and the module served for it.
async fn failing(root: &Path, path: &str) -> (Value, String) {
    let server = server(root).await;
    let mut ws = hmr_client(server.addr).await;
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    let reply = server.get(path).await;
    assert_eq!(
        reply.status, 200,
        "the page gets a module that shows the error"
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let payload = next_json(&mut ws).await;
    assert_eq!(payload["type"], "error", "{payload}");
    // The server keeps serving.
    assert_eq!(server.get("/src/util.js").await.status, 200);
    server.stop().await;
    (payload["err"].clone(), reply.text())
}

#[tokio::test]
async fn an_import_that_does_not_resolve_shows_the_overlay_and_names_where_it_looked() {
    let Some((_dir, root)) = project(&[]) else {
        return;
    };
    write(
        &root,
        "src/main.js",
        "import './util.js';\nimport { x } from 'not-installed';\n",
    );
    let (err, module) = failing(&root, "/src/main.js").await;
    let message = err["message"].as_str().unwrap();
    assert!(
        message.starts_with("Failed to resolve import \"not-installed\" from \"src/main.js\"."),
        "{message}"
    );
    assert!(
        message.contains(&root.join("node_modules").display().to_string()),
        "{message}"
    );
    assert_eq!(err["loc"]["line"], 2);
    assert_eq!(err["loc"]["column"], 20);
    assert_eq!(err["id"], "/src/main.js");
    assert!(module.contains("ErrorOverlay"), "{module}");
    assert!(module.contains("not-installed"), "{module}");
}

#[tokio::test]
async fn a_broken_package_json_is_named_with_the_parse_error() {
    let Some((_dir, root)) = project(&[]) else {
        return;
    };
    write(
        &root,
        "node_modules/broken/package.json",
        "{\"name\": \"broken\", \"main\": }",
    );
    write(&root, "src/main.js", "import 'broken';\n");
    let (err, _) = failing(&root, "/src/main.js").await;
    let message = err["message"].as_str().unwrap();
    let file = root.join("node_modules/broken/package.json");
    assert!(
        message.contains(&format!("{}:1:", file.display())),
        "{message}"
    );
    assert!(message.contains("is not valid JSON"), "{message}");
}

#[tokio::test]
async fn node_built_ins_get_a_message_instead_of_a_blank_page() {
    let Some((_dir, root)) = project(&[]) else {
        return;
    };
    write(
        &root,
        "src/main.js",
        "import { readFileSync } from 'node:fs';\n",
    );
    let (err, _) = failing(&root, "/src/main.js").await;
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("\"node:fs\""), "{message}");
    assert!(message.contains("Node.js built-in"), "{message}");
}

/// Without pre-bundling (the `bundle` feature, on in the CLI; see tests/prebundle.rs) a
/// CommonJS package cannot be served.
#[cfg(not(feature = "bundle"))]
#[tokio::test]
async fn a_commonjs_package_gets_a_message_naming_it() {
    let Some((_dir, root)) = project(&["object-assign"]) else {
        return;
    };
    write(
        &root,
        "src/main.js",
        "import assign from 'object-assign';\n",
    );
    let server = server(&root).await;
    let main = server.get("/src/main.js").await.text();
    let url = url_in(&main, "/node_modules/object-assign/");
    server.stop().await;
    let (err, _) = failing(&root, &url).await;
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("\"object-assign\" is CommonJS"),
        "{message}"
    );
}

/// `base/app` (the root, whose `node_modules/shared` links to `base/shared`), `base/shared`
/// (a workspace package with secrets beside its code), and `base/secret.txt`.
fn workspace() -> Option<(TempDir, PathBuf, PathBuf)> {
    common::npm::installed("lit")?;
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let root = base.join("app");
    write(&root, "package-lock.json", "{}");
    write(&root, "src/util.js", "export {};\n");
    write(
        &root,
        "src/main.js",
        "import { greet } from 'shared';\ndocument.body.dataset.greeting = greet();\n",
    );
    write(
        &root,
        "index.html",
        "<!doctype html><link rel=icon href=\"data:,\"><body><script type=module src=/src/main.js></script>",
    );
    write(
        &base,
        "shared/package.json",
        r#"{"name": "shared", "type": "module", "exports": {".": "./src/index.js"}}"#,
    );
    write(
        &base,
        "shared/src/index.js",
        "import { name } from './name.js';\nexport const greet = () => `hello ${name}`;\n",
    );
    write(
        &base,
        "shared/src/name.js",
        "export const name = 'workspace';\n",
    );
    write(&base, "shared/.env", "SECRET=1\n");
    write(&base, "shared/.git/config", "[core]\n");
    write(&base, "shared/cert.pem", "-----BEGIN-----\n");
    write(&base, "secret.txt", "top secret\n");
    std::fs::create_dir_all(root.join("node_modules")).unwrap();
    std::os::unix::fs::symlink("../../shared", root.join("node_modules/shared")).unwrap();
    std::os::unix::fs::symlink(base.join("secret.txt"), base.join("shared/src/leak.js")).unwrap();
    std::os::unix::fs::symlink(&base, base.join("shared/src/up")).unwrap();
    Some((dir, base, root))
}

#[tokio::test]
async fn a_linked_package_outside_the_root_is_served_through_the_fs_route_and_only_it() {
    let Some((_dir, base, root)) = workspace() else {
        return;
    };
    let server = server(&root).await;
    let fs = |path: &Path| format!("/@fs{}", path.display());
    // Nothing is reachable before an import resolved to the package.
    let shared_index = base.join("shared/src/index.js");
    assert_eq!(server.get(&fs(&shared_index)).await.status, 403);

    let main = server.get("/src/main.js").await.text();
    let url = url_in(&main, "/@fs/");
    assert!(
        url.starts_with(&format!("{}?v=", fs(&shared_index))),
        "{url}"
    );
    let index = server.get(&url).await;
    assert_eq!(index.status, 200);
    // A linked workspace package is source code: revalidated, never cached for good.
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    let name = url_in(&index.text(), "/@fs/");
    assert_eq!(
        server.get(&name).await.text(),
        "export const name = 'workspace';\n"
    );

    let shared = fs(&base.join("shared"));
    let refused = [
        fs(&base.join("secret.txt")),
        fs(&root.join("index.html")),
        format!("{shared}/.env"),
        format!("{shared}/.git/config"),
        format!("{shared}/cert.pem"),
        format!("{shared}/package.json/"),
        format!("{shared}/src/leak.js"),
        format!("{shared}/src/up/secret.txt"),
        format!("{shared}/../secret.txt"),
        format!("{shared}/src/../../secret.txt"),
        format!("{shared}/%2e%2e/secret.txt"),
        format!("{shared}/%2E%2E%2Fsecret.txt"),
        format!("{shared}/..%5csecret.txt"),
        format!("{shared}/%2e%65nv"),
        format!("{shared}/.ENV"),
        format!("{shared}/.env."),
        "/@fs/etc/passwd".to_owned(),
        "/@fs/".to_owned(),
    ];
    for target in refused {
        let reply = request(server.addr, "GET", &target, &[]).await;
        assert!(
            reply.status == 403 || reply.status == 400,
            "{target} answered {}: {}",
            reply.status,
            reply.text()
        );
        assert!(!reply.text().contains("top secret"), "{target}");
        assert!(!reply.text().contains("SECRET=1"), "{target}");
    }
    assert_eq!(
        request(server.addr, "GET", &format!("{shared}/%c0%ae%c0%ae/x"), &[])
            .await
            .status,
        400
    );
    // Inside the package a missing file is simply missing.
    assert_eq!(
        server.get(&format!("{shared}/src/missing.js")).await.status,
        404
    );
    server.stop().await;
}

#[tokio::test]
async fn a_lockfile_or_install_change_reloads_pages_and_changes_the_version() {
    let Some((_dir, root)) = project(&LIT) else {
        return;
    };
    write(&root, "src/main.js", "import 'lit';\n");
    let server = unbundled_server(&root, &LIT).await;
    let mut ws = hmr_client(server.addr).await;
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    let first = url_in(&server.get("/src/main.js").await.text(), "/node_modules/");

    write(
        &root,
        "package-lock.json",
        r#"{"lockfileVersion": 3, "changed": 1}"#,
    );
    let payload = next_json(&mut ws).await;
    assert_eq!(payload["type"], "full-reload", "{payload}");
    let second = url_in(&server.get("/src/main.js").await.text(), "/node_modules/");
    assert_ne!(version_of(&first), version_of(&second));
    assert_eq!(
        server.get(&first).await.header("cache-control"),
        Some("no-cache"),
        "the old version is no longer cached for good"
    );

    // `npm install` finishing rewrites node_modules/.package-lock.json, which the watcher
    // does not see.
    write(&root, "node_modules/.package-lock.json", "{}");
    let payload = next_json(&mut ws).await;
    assert_eq!(payload["type"], "full-reload", "{payload}");
    let third = url_in(&server.get("/src/main.js").await.text(), "/node_modules/");
    assert_ne!(version_of(&second), version_of(&third));
    server.stop().await;
}

// ---- in Chromium -------------------------------------------------------------------------

const RENDER_WAIT: Duration = Duration::from_secs(15);

#[test]
fn a_page_importing_lit_by_bare_name_renders_and_reloads_from_the_cache() {
    let Some((_dir, root)) = project(&LIT) else {
        return;
    };
    write(
        &root,
        "index.html",
        "<!doctype html><link rel=icon href=\"data:,\"><title>lit</title><my-greeting></my-greeting>\
         <script type=module src=/src/main.js></script>",
    );
    write(
        &root,
        "src/main.js",
        "import { LitElement, html, css } from 'lit';\n\
         class MyGreeting extends LitElement {\n\
           static styles = css`p { color: rgb(1, 2, 3); }`;\n\
           static properties = { name: {} };\n\
           constructor() { super(); this.name = 'lit'; }\n\
           render() { return html`<p>hello ${this.name}</p>`; }\n\
         }\n\
         customElements.define('my-greeting', MyGreeting);\n",
    );
    let Some(mut tab) = browser() else {
        return;
    };
    let running = InProcess::start(Config::new(&root));
    tab.open(&running.url("/"));
    let rendered = "document.querySelector('my-greeting')?.shadowRoot?.querySelector('p')\
                    ?.textContent === 'hello lit'";
    tab.wait(rendered, RENDER_WAIT);
    tab.wait_connected(1);
    tab.assert_clean(false);
    let packages = "performance.getEntriesByType('resource')\
                    .filter(e => e.name.includes('/node_modules/') || e.name.includes('/@deps/'))";
    let fetched = tab.eval(&format!("{packages}.length"));
    assert!(fetched.as_u64().unwrap() >= 1, "lit's files: {fetched}");
    // A reload takes package files from the browser's cache: nothing goes over the wire.
    tab.eval("location.reload()");
    tab.wait_connected(2);
    tab.wait(rendered, RENDER_WAIT);
    let transferred = tab.eval(&format!(
        "{packages}.filter(e => e.transferSize > 0).map(e => e.name)"
    ));
    assert_eq!(transferred, serde_json::json!([]), "refetched after reload");
    tab.assert_clean(false);
}

#[test]
fn an_inline_module_script_in_a_page_imports_packages_by_bare_name() {
    let Some((_dir, root)) = project(&LIT) else {
        return;
    };
    write(
        &root,
        "index.html",
        "<!doctype html><link rel=icon href=\"data:,\"><title>inline</title><my-inline></my-inline>\
         <script type=\"module\">\n\
         import { LitElement, html } from 'lit';\n\
         import { util } from '#util';\n\
         customElements.define('my-inline', class extends LitElement {\n\
           render() { return html`<p>inline ${util}</p>`; }\n\
         });\n\
         </script>",
    );
    let server = InProcess::start(Config::new(&root));
    let page = server.get("/");
    let text = page.text();
    let lit = package_url_in(&text, "lit");
    assert!(lit.contains("?v="), "a versioned package URL: {text}");
    assert!(text.contains("from '/src/util.js'"), "{text}");
    // HEAD reports the length of the page as sent, rewritten.
    let head = server.rt.block_on(request(server.addr, "HEAD", "/", &[]));
    assert_eq!(
        head.header("content-length"),
        Some(text.len().to_string().as_str())
    );
    // The page's tag names the package version its URLs carry: after an install, a
    // revalidation gets the new page, not a 304 for the old URLs.
    let etag = page.header("etag").unwrap().to_owned();
    write(
        &root,
        "package-lock.json",
        r#"{"lockfileVersion": 3, "changed": 1}"#,
    );
    let mut changed = false;
    for _ in 0..100 {
        let again = server.rt.block_on(request(
            server.addr,
            "GET",
            "/",
            &[("If-None-Match", &etag)],
        ));
        if again.status == 200 {
            assert_ne!(package_url_in(&again.text(), "lit"), lit);
            changed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        changed,
        "the page kept its entity tag after the lockfile changed"
    );

    let Some(mut tab) = browser() else {
        return;
    };
    tab.open(&server.url("/"));
    tab.wait(
        "document.querySelector('my-inline')?.shadowRoot?.querySelector('p')\
         ?.textContent === 'inline util'",
        RENDER_WAIT,
    );
    tab.assert_clean(false);
}

#[test]
fn preact_with_htm_renders_from_bare_imports() {
    let Some((_dir, root)) = project(&["preact", "htm"]) else {
        return;
    };
    write(
        &root,
        "index.html",
        "<!doctype html><link rel=icon href=\"data:,\"><div id=app></div><script type=module src=/src/main.js></script>",
    );
    write(
        &root,
        "src/main.js",
        "import { h, render } from 'preact';\nimport { useState } from 'preact/hooks';\n\
         import htm from 'htm';\nconst html = htm.bind(h);\n\
         function Counter() {\n  const [n, set] = useState(41);\n\
           return html`<button id=count onClick=${() => set(n + 1)}>count ${n}</button>`;\n}\n\
         render(html`<${Counter} />`, document.getElementById('app'));\n",
    );
    let Some(mut tab) = browser() else {
        return;
    };
    let running = InProcess::start(Config::new(&root));
    tab.open(&running.url("/"));
    tab.wait(
        "document.getElementById('count')?.textContent === 'count 41'",
        RENDER_WAIT,
    );
    tab.eval("document.getElementById('count').click()");
    tab.wait(
        "document.getElementById('count')?.textContent === 'count 42'",
        RENDER_WAIT,
    );
    tab.assert_clean(false);
}

#[test]
fn a_symlinked_workspace_package_outside_the_root_renders() {
    let Some((_dir, _base, root)) = workspace() else {
        return;
    };
    let Some(mut tab) = browser() else {
        return;
    };
    let running = InProcess::start(Config::new(&root));
    tab.open(&running.url("/"));
    tab.wait(
        "document.body.dataset.greeting === 'hello workspace'",
        RENDER_WAIT,
    );
    tab.assert_clean(false);
}

#[test]
fn an_unresolved_import_shows_the_overlay_in_the_page() {
    let Some((_dir, root)) = project(&[]) else {
        return;
    };
    write(
        &root,
        "index.html",
        "<!doctype html><link rel=icon href=\"data:,\"><body><script type=module src=/src/main.js></script>",
    );
    write(&root, "src/main.js", "import 'not-installed';\n");
    let Some(mut tab) = browser() else {
        return;
    };
    let running = InProcess::start(Config::new(&root));
    tab.open(&running.url("/"));
    let text = tab.wait(
        "document.querySelector('vite-error-overlay')?.shadowRoot\
         ?.querySelector('.message')?.textContent",
        RENDER_WAIT,
    );
    let text = text.as_str().unwrap();
    assert!(
        text.contains("Failed to resolve import \"not-installed\" from \"src/main.js\""),
        "{text}"
    );
}

#[test]
fn stylesheets_import_package_stylesheets_by_bare_name() {
    let Some((_dir, root)) = project(&["normalize.css"]) else {
        return;
    };
    // normalize.css is found by its `style` field; this one by its `style` export condition,
    // and a subpath by its export.
    write(
        &root,
        "node_modules/ui-theme/package.json",
        r#"{"name": "ui-theme", "version": "2.0.0", "exports": {
            ".": {"style": "./dist/theme.css", "default": "./index.js"},
            "./tokens.css": "./dist/tokens.css"}}"#,
    );
    write(
        &root,
        "node_modules/ui-theme/index.js",
        "export default 1;\n",
    );
    write(
        &root,
        "node_modules/ui-theme/dist/theme.css",
        "#themed { color: rgb(7, 8, 9); }\n",
    );
    write(
        &root,
        "node_modules/ui-theme/dist/tokens.css",
        ":root { --gap: 3px; }\n",
    );
    // `local.css` is a file beside the sheet: CSS means that first.
    write(&root, "src/local.css", "#local { color: rgb(1, 1, 1); }\n");
    write(
        &root,
        "src/main.css",
        "@import \"normalize.css\";\n@import 'ui-theme';\n@import url(ui-theme/tokens.css);\n\
         @import \"local.css\";\n#gap { margin-top: var(--gap); }\n",
    );
    // The same from a stylesheet that JavaScript imports (its text goes into a <style>).
    write(&root, "src/inlined.css", "@import 'ui-theme';\n");
    write(&root, "src/main.js", "import './inlined.css';\n");
    write(&root, "src/broken.css", "@import \"no-such-package\";\n");
    write(
        &root,
        "index.html",
        "<!doctype html><link rel=icon href=\"data:,\"><link rel=stylesheet href=/src/main.css>\
         <p id=themed>t</p><p id=local>l</p><p id=gap>g</p><script type=module src=/src/main.js></script>",
    );
    let server = InProcess::start(Config::new(&root));
    let sheet = server.get("/src/main.css").text();
    let normalize = url_in(&sheet, "/node_modules/normalize.css/");
    assert!(
        normalize.starts_with("/node_modules/normalize.css/normalize.css?v="),
        "{sheet}"
    );
    let version = version_of(&normalize);
    for expected in [
        format!("@import \"/node_modules/ui-theme/dist/theme.css?v={version}\";"),
        format!("@import url(\"/node_modules/ui-theme/dist/tokens.css?v={version}\");"),
        "@import \"local.css\";".to_owned(),
    ] {
        assert!(sheet.contains(&expected), "{expected} in {sheet}");
    }
    let inlined = server.get("/src/inlined.css?import").text();
    assert!(
        inlined.contains(&format!(
            "/node_modules/ui-theme/dist/theme.css?v={version}"
        )),
        "{inlined}"
    );
    // Nothing found: left as written (the browser's 404 names it; the terminal says why).
    assert!(
        server
            .get("/src/broken.css")
            .text()
            .contains("@import \"no-such-package\";")
    );

    let Some(mut tab) = browser() else {
        return;
    };
    tab.open(&server.url("/"));
    let color = |id: &str| format!("getComputedStyle(document.getElementById('{id}')).color");
    tab.wait(
        &format!("{} === 'rgb(7, 8, 9)'", color("themed")),
        RENDER_WAIT,
    );
    assert_eq!(tab.eval(&color("local")), "rgb(1, 1, 1)");
    assert_eq!(
        tab.eval("getComputedStyle(document.getElementById('gap')).marginTop"),
        "3px"
    );
    // normalize.css: `html { line-height: 1.15 }`.
    assert_eq!(
        tab.eval("getComputedStyle(document.documentElement).lineHeight"),
        "18.4px"
    );
    tab.assert_clean(false);
}

/// A bare `@import` or `import` that walks out of a package (`pkg/../../x`, or a `style` or
/// `main` field pointing out of it) opens nothing outside the root, whatever it resolves to.
#[tokio::test]
async fn a_bare_import_that_walks_out_of_its_package_opens_nothing_outside_the_root() {
    let Some((_dir, base, root)) = workspace() else {
        return;
    };
    // In a folder of its own: a folder holding the root is refused by the allow list anyway.
    write(&base, "other/outside.css", "body { color: red }\n");
    write(
        &root,
        "node_modules/pkg/package.json",
        r#"{"name": "pkg", "version": "1.0.0"}"#,
    );
    write(&root, "node_modules/pkg/a.css", "a { color: blue }\n");
    // A package whose `style` field points out of it, and out of the root.
    write(
        &root,
        "node_modules/evil/package.json",
        r#"{"name": "evil", "version": "1.0.0", "style": "../../../other/outside.css"}"#,
    );
    let escapes = [
        "evil",
        "pkg/../../../other/outside.css",
        "pkg/../../../secret.txt",
        "shared/../secret.txt",
        "pkg/..%2f..%2f..%2fother%2foutside.css",
    ];
    let sheet: String = escapes
        .iter()
        .map(|e| format!("@import \"{e}\";\n"))
        .collect();
    write(&root, "src/evil.css", &sheet);
    // The same through a JavaScript import: a `main` field pointing out of its package.
    write(&base, "other/outside.js", "export const x = 1;\n");
    write(
        &root,
        "node_modules/evil-js/package.json",
        r#"{"name": "evil-js", "version": "1.0.0", "main": "../../../other/outside.js"}"#,
    );
    write(&root, "src/evil.js", "import 'evil-js';\n");
    let server = server(&root).await;
    let served = server.get("/src/evil.css").await.text();
    assert!(!served.contains("/@fs/"), "{served}");
    let module = server.get("/src/evil.js").await.text();
    assert!(!module.contains("/@fs/"), "{module}");
    for target in [
        format!("/@fs{}", base.join("other/outside.css").display()),
        format!("/@fs{}", base.join("other/outside.js").display()),
        format!("/@fs{}", base.join("secret.txt").display()),
    ] {
        let reply = request(server.addr, "GET", &target, &[]).await;
        assert_eq!(reply.status, 403, "{target}");
    }
    server.stop().await;
}
