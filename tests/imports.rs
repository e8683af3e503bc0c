//! Imports of non-JS files with Vite's semantics (stylesheets, JSON, assets, `?raw`,
//! `?inline`, `?url`, CSS modules), `public/`, and `import.meta.env`: over HTTP and the HMR
//! socket, and in a real headless Chromium (see `tests/common/browser.rs`) against an
//! in-process server whose watcher sees the test's edits.

mod common;

use common::blocking::InProcess;
use common::browser::{Tab, browser};
use common::{TestServer, hmr_client, next_json, write};
use hotserve::{Config, Server};
use serde_json::{Value, json};
use std::time::Duration;
use tempfile::TempDir;

const SHORT: Duration = Duration::from_secs(5);
const RED: &str = "rgb(255, 0, 0)";
const BLUE: &str = "rgb(0, 0, 255)";

/// A secret in `.env` that must never reach a browser.
const SECRET: &str = "hunter2-do-not-leak";

/// A page that marks each load (`__loadId`) and runs `/main.js`.
fn index_html() -> &'static str {
    r#"<!doctype html>
<html>
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<script>window.__loadId = Math.random().toString(36).slice(2);</script>
</head>
<body>
<h1 id="title">imports</h1>
<img id="logo" alt="">
<img id="public-logo" alt="">
<div id="app"></div>
<script type="module" src="/main.js"></script>
</body>
</html>
"#
}

const MAIN_JS: &str = r#"import "./style.css";
import "./widget.js";
import data, { title } from "./data.json";
import logo from "./assets/logo.svg";
import publicLogo from "/vite.svg";
import raw from "./notes.txt?raw";
import inline from "./inline.css?inline";
import logoUrl from "./assets/logo.svg?url";
import classes, { card } from "./card.module.css";

window.__render = (d) => { document.getElementById("app").textContent = d.title; };
window.__render(data);
window.__imports = { title, logo, publicLogo, raw, inline, logoUrl, classes, card };
window.__env = import.meta.env;
document.getElementById("logo").src = logo;
document.getElementById("public-logo").src = publicLogo;
import.meta.hot.accept("./data.json", (mod) => { window.__jsonUpdates = (window.__jsonUpdates || 0) + 1; window.__render(mod.default); });
"#;

const WIDGET_WITH_CSS: &str = r#"import "./widget.css";
window.__widget = "with css";
import.meta.hot.accept();
"#;

const WIDGET_WITHOUT_CSS: &str = r#"window.__widget = "without css";
import.meta.hot.accept();
"#;

const LOGO_SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="16" height="12"><rect width="16" height="12" fill="red"/></svg>"#;

fn title_css(color: &str) -> String {
    format!("#title {{ color: {color}; }}\n")
}

/// The site every test here serves: one page importing each kind of non-JS file.
fn site() -> TempDir {
    let site = TempDir::new().unwrap();
    let root = site.path();
    write(root, "index.html", index_html());
    write(root, "main.js", MAIN_JS);
    write(root, "widget.js", WIDGET_WITH_CSS);
    write(root, "widget.css", "#app { padding-left: 7px; }\n");
    write(root, "style.css", title_css(RED));
    write(root, "data.json", r#"{"title": "first", "list": [1, 2]}"#);
    write(root, "assets/logo.svg", LOGO_SVG);
    write(root, "public/vite.svg", LOGO_SVG);
    write(root, "notes.txt", "raw \"text\"\nline 2\n");
    write(root, "inline.css", "a { color: green }\n");
    write(
        root,
        "card.module.css",
        ".card { color: rgb(0, 128, 0); }\n\
         .big-card { composes: card; composes: frame from './base.module.css'; font-size: 2em; }\n",
    );
    write(
        root,
        "base.module.css",
        ".frame { border-top: 3px solid rgb(1, 2, 3); }\n",
    );
    write(
        root,
        ".env",
        format!("VITE_GREETING=hello from .env\nDB_PASSWORD={SECRET}\n"),
    );
    write(root, ".env.development", "VITE_WHERE=development file\n");
    site
}

fn color_of(selector: &str) -> String {
    format!("getComputedStyle(document.querySelector('{selector}')).color")
}

fn open(tab: &mut Tab, server: &InProcess) {
    tab.open(&server.url("/"));
    tab.wait_connected(1);
    tab.wait("window.__imports !== undefined", SHORT);
}

// ---- in the browser ------------------------------------------------------------------

#[test]
fn css_imported_from_js_is_a_style_that_hot_swaps_without_a_reload() {
    let Some(mut tab) = browser() else { return };
    let site = site();
    let server = InProcess::start(Config::new(site.path()));
    open(&mut tab, &server);
    assert_eq!(tab.eval(&color_of("#title")), json!(RED));
    let load = tab.load_id();

    write(site.path(), "style.css", title_css(BLUE));
    tab.wait(&format!("{} === '{BLUE}'", color_of("#title")), SHORT);

    assert_eq!(tab.load_id(), load, "the page did not reload");
    let styles =
        tab.eval("document.querySelectorAll('style[data-vite-dev-id=\"/style.css\"]').length");
    assert_eq!(
        styles,
        json!(1),
        "the same <style> was updated, not another added"
    );
    tab.assert_clean(false);
}

#[test]
fn a_style_no_longer_imported_is_removed_from_the_page() {
    let Some(mut tab) = browser() else { return };
    let site = site();
    let server = InProcess::start(Config::new(site.path()));
    open(&mut tab, &server);
    let padding = "getComputedStyle(document.getElementById('app')).paddingLeft";
    assert_eq!(tab.eval(padding), json!("7px"));
    let load = tab.load_id();

    write(site.path(), "widget.js", WIDGET_WITHOUT_CSS);
    tab.wait("window.__widget === 'without css'", SHORT);
    tab.wait(&format!("{padding} === '0px'"), SHORT);

    assert_eq!(tab.load_id(), load, "the page did not reload");
    assert_eq!(
        tab.eval("document.querySelectorAll('style[data-vite-dev-id=\"/widget.css\"]').length"),
        json!(0)
    );
    tab.assert_clean(false);
}

#[test]
fn a_json_edit_reaches_the_accepting_importer_without_a_reload() {
    let Some(mut tab) = browser() else { return };
    let site = site();
    let server = InProcess::start(Config::new(site.path()));
    open(&mut tab, &server);
    assert_eq!(
        tab.eval("document.getElementById('app').textContent"),
        json!("first")
    );
    assert_eq!(tab.eval("__imports.title"), json!("first"));
    let load = tab.load_id();

    write(
        site.path(),
        "data.json",
        r#"{"title": "second", "list": []}"#,
    );
    tab.wait(
        "document.getElementById('app').textContent === 'second'",
        SHORT,
    );

    assert_eq!(tab.load_id(), load, "the page did not reload");
    assert_eq!(tab.eval("window.__jsonUpdates"), json!(1));
    tab.assert_clean(false);
}

#[test]
fn assets_raw_inline_url_and_css_modules_give_what_vite_gives() {
    let Some(mut tab) = browser() else { return };
    let site = site();
    let server = InProcess::start(Config::new(site.path()));
    open(&mut tab, &server);
    tab.wait(
        "document.getElementById('logo').complete && document.getElementById('logo').naturalWidth === 16",
        SHORT,
    );
    tab.wait(
        "document.getElementById('public-logo').complete && document.getElementById('public-logo').naturalWidth === 16",
        SHORT,
    );
    let imports = tab.eval("__imports");
    assert_eq!(imports["logo"], json!("/assets/logo.svg"));
    assert_eq!(imports["logoUrl"], json!("/assets/logo.svg"));
    assert_eq!(imports["publicLogo"], json!("/vite.svg"));
    assert_eq!(imports["raw"], json!("raw \"text\"\nline 2\n"));
    assert_eq!(imports["inline"], json!("a { color: green }\n"));

    let card = imports["card"].as_str().expect("a named export for .card");
    assert!(card.ends_with("_card") && card != "card", "{card}");
    let big = imports["classes"]["big-card"].as_str().unwrap();
    let classes: Vec<&str> = big.split(' ').collect();
    assert_eq!(classes.len(), 3, "{big}");
    assert_eq!(classes[1], card, "composes adds the composed class: {big}");
    assert!(
        classes[2].ends_with("_frame") && classes[2] != "frame",
        "composes from another file adds its scoped class: {big}"
    );
    assert_eq!(imports["classes"]["card"], json!(card));
    // The scoped stylesheet is on the page: an element with the class gets its color.
    tab.eval(&format!(
        "(() => {{ const el = document.createElement('p'); el.id = 'scoped'; el.className = {card:?}; document.body.append(el); }})()"
    ));
    assert_eq!(tab.eval(&color_of("#scoped")), json!("rgb(0, 128, 0)"));
    // The composed file's stylesheet is on the page too.
    tab.eval(&format!(
        "(() => {{ const el = document.createElement('p'); el.id = 'big'; el.className = {big:?}; document.body.append(el); }})()"
    ));
    assert_eq!(
        tab.eval("getComputedStyle(document.getElementById('big')).borderTopColor"),
        json!("rgb(1, 2, 3)")
    );
    tab.assert_clean(false);
}

#[test]
fn import_meta_env_has_the_env_files_vite_variables_and_an_env_edit_reloads() {
    let Some(mut tab) = browser() else { return };
    let site = site();
    let server = InProcess::start(Config::new(site.path()));
    open(&mut tab, &server);
    let env = tab.eval("__env");
    assert_eq!(env["VITE_GREETING"], json!("hello from .env"));
    assert_eq!(env["VITE_WHERE"], json!("development file"));
    assert_eq!(env["MODE"], json!("development"));
    assert_eq!(env["DEV"], json!(true));
    assert_eq!(env["PROD"], json!(false));
    assert_eq!(env["SSR"], json!(false));
    assert_eq!(env["BASE_URL"], json!("/"));
    assert_eq!(env.get("DB_PASSWORD"), None);
    let load = tab.load_id();

    write(
        site.path(),
        ".env",
        format!("VITE_GREETING=edited\nDB_PASSWORD={SECRET}\n"),
    );
    tab.wait(&format!("window.__loadId !== {load}"), SHORT);
    tab.wait(
        "window.__env && window.__env.VITE_GREETING === 'edited'",
        SHORT,
    );
    let html = tab.eval("document.documentElement.outerHTML");
    assert!(!html.to_string().contains(SECRET));
    tab.assert_clean(false);
}

// ---- over HTTP -----------------------------------------------------------------------

#[test]
fn a_linked_stylesheet_gets_css_and_a_module_import_gets_javascript() {
    let site = site();
    let server = InProcess::start(Config::new(site.path()));
    let plain = server.get("/style.css");
    assert_eq!(plain.status, 200);
    assert!(
        plain
            .header("content-type")
            .unwrap()
            .starts_with("text/css")
    );
    assert_eq!(plain.text(), title_css(RED));

    for (target, headers) in [
        ("/style.css?import", vec![]),
        ("/style.css?t=5", vec![("Sec-Fetch-Dest", "script")]),
    ] {
        let module = server
            .rt
            .block_on(common::request(server.addr, "GET", target, &headers));
        assert_eq!(module.status, 200, "{target}");
        assert!(
            module
                .header("content-type")
                .unwrap()
                .starts_with("text/javascript"),
            "{target}"
        );
        assert!(module.text().contains("__vite__updateStyle"), "{target}");
    }
    let main = server.get("/main.js").text();
    assert!(main.contains(r#"import "./style.css?import";"#), "{main}");
    assert!(main.contains(r#"from "./data.json?import";"#), "{main}");
    assert!(main.contains(r#"from "./notes.txt?import&raw";"#), "{main}");
    assert!(
        main.contains(r#"import.meta.hot.accept("/data.json""#),
        "{main}"
    );
}

#[test]
fn a_css_file_imported_from_js_gets_a_js_update_and_the_same_file_linked_gets_a_css_update() {
    let site = site();
    write(
        site.path(),
        "index.html",
        "<link rel=stylesheet href=/style.css><script type=module src=/main.js></script>",
    );
    let server = InProcess::start(Config::new(site.path()));
    server.rt.block_on(async {
        let mut ws = hmr_client(server.addr).await;
        assert_eq!(next_json(&mut ws).await["type"], "connected");
        for target in ["/", "/style.css", "/main.js", "/style.css?import"] {
            assert_eq!(
                common::request(server.addr, "GET", target, &[])
                    .await
                    .status,
                200
            );
        }
        write(site.path(), "style.css", title_css(BLUE));
        let payload = next_json(&mut ws).await;
        assert_eq!(payload["type"], "update", "{payload}");
        let mut updates: Vec<(String, String, bool)> = payload["updates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["type"].as_str().unwrap().to_owned(),
                    u["path"].as_str().unwrap().to_owned(),
                    u["explicitImportRequired"] == json!(true),
                )
            })
            .collect();
        updates.sort();
        assert_eq!(
            updates,
            [
                ("css-update".to_owned(), "/style.css".to_owned(), false),
                ("js-update".to_owned(), "/style.css".to_owned(), true),
            ]
        );
    });
}

#[test]
fn a_json_edit_without_an_accepting_importer_reloads() {
    let site = site();
    write(
        site.path(),
        "plain.js",
        "import d from './d.json';\nwindow.d = d;\n",
    );
    write(site.path(), "d.json", "{\"a\": 1}");
    let server = InProcess::start(Config::new(site.path()));
    server.rt.block_on(async {
        let mut ws = hmr_client(server.addr).await;
        assert_eq!(next_json(&mut ws).await["type"], "connected");
        for target in ["/plain.js", "/d.json?import"] {
            assert_eq!(
                common::request(server.addr, "GET", target, &[])
                    .await
                    .status,
                200
            );
        }
        write(site.path(), "d.json", "{\"a\": 2}");
        let payload = next_json(&mut ws).await;
        assert_eq!(payload["type"], "full-reload", "{payload}");
    });
}

#[test]
fn invalid_json_and_css_answer_500_and_show_the_overlay() {
    let site = site();
    write(site.path(), "bad.json", "{\n  \"a\": 1,\n}");
    write(site.path(), "bad.module.css", ".a { color: red;\n@media {");
    let server = InProcess::start(Config::new(site.path()));
    server.rt.block_on(async {
        let mut ws = hmr_client(server.addr).await;
        assert_eq!(next_json(&mut ws).await["type"], "connected");
        let reply = common::request(server.addr, "GET", "/bad.json?import", &[]).await;
        assert_eq!(reply.status, 500);
        let payload = next_json(&mut ws).await;
        assert_eq!(payload["type"], "error", "{payload}");
        assert_eq!(payload["err"]["loc"]["file"], "/bad.json", "{payload}");
        assert_eq!(payload["err"]["loc"]["line"], 3, "{payload}");
        assert!(
            payload["err"]["message"]
                .as_str()
                .unwrap()
                .contains("bad.json"),
            "{payload}"
        );
    });
}

#[test]
fn a_secret_from_env_never_appears_in_any_response() {
    let site = site();
    write(
        site.path(),
        ".env.local",
        format!("LOCAL_SECRET={SECRET}\n"),
    );
    write(site.path(), "public/.env", format!("X={SECRET}\n"));
    let server = InProcess::start(Config::new(site.path()));
    let targets = [
        "/",
        "/index.html",
        "/main.js",
        "/main.js?import",
        "/main.js?raw",
        "/@vite/client",
        "/.env",
        "/.env?raw",
        "/.env?import",
        "/.env?url",
        "/.env?inline",
        "/.env.local?raw",
        "/.env.development?import&raw",
        "/%2eenv?raw",
        "/.ENV?raw",
        "/.env/.?raw",
        "/public/.env?raw",
        "/x/..%2f.env?raw",
        "/nothing-here.js",
    ];
    for target in targets {
        let reply = server.get(target);
        assert!(
            !reply.text().contains(SECRET) && !reply.text().contains("DB_PASSWORD"),
            "{target} leaked the secret: {}",
            reply.text()
        );
        if target.contains("env") {
            assert!(
                [400, 403, 404].contains(&reply.status),
                "{target}: {}",
                reply.status
            );
        }
    }
    // An env variable that the process has without the prefix stays out too.
    let main = server.get("/main.js").text();
    assert!(
        main.contains("\"VITE_GREETING\":\"hello from .env\""),
        "{main}"
    );
    assert!(!main.contains("HOME") && !main.contains("PATH\""), "{main}");
}

#[test]
fn the_mode_picks_its_env_files() {
    let site = site();
    write(site.path(), ".env.staging", "VITE_WHERE=staging file\n");
    write(
        site.path(),
        ".env.staging.local",
        "VITE_LOCAL=staging local\n",
    );
    let server = InProcess::start(Config::new(site.path()).mode("staging"));
    let main = server.get("/main.js").text();
    assert!(main.contains("\"MODE\":\"staging\""), "{main}");
    assert!(main.contains("\"VITE_WHERE\":\"staging file\""), "{main}");
    assert!(main.contains("\"VITE_LOCAL\":\"staging local\""), "{main}");
}

#[tokio::test]
async fn a_mode_that_names_another_file_is_refused_at_startup() {
    let site = site();
    let Err(err) = Server::bind(Config::new(site.path()).port(0).mode("../x")).await else {
        panic!("the mode is refused");
    };
    assert!(err.to_string().contains("mode"), "{err}");
}

#[tokio::test]
async fn public_files_are_served_at_the_root_and_win_over_root_files() {
    let site = site();
    write(site.path(), "same.txt", "root copy");
    write(site.path(), "public/same.txt", "public copy");
    write(site.path(), "public/nested/file.txt", "nested");
    let server = TestServer::start(Config::new(site.path())).await;
    let svg = server.get("/vite.svg").await;
    assert_eq!(svg.status, 200);
    assert_eq!(svg.text(), LOGO_SVG);
    assert!(
        svg.header("content-type")
            .unwrap()
            .starts_with("image/svg+xml")
    );
    assert_eq!(server.get("/same.txt").await.text(), "public copy");
    assert_eq!(server.get("/nested/file.txt").await.text(), "nested");
    // The folder itself is part of the root, as in Vite.
    assert_eq!(server.get("/public/same.txt").await.text(), "public copy");
    // Pages and modules still come from the root.
    assert_eq!(server.get("/").await.status, 200);
    let module = server.get("/vite.svg?import").await;
    assert_eq!(module.text(), "export default \"/vite.svg\";\n");
    server.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn public_files_keep_the_roots_deny_list_traversal_and_symlink_checks() {
    let site = site();
    let outside = TempDir::new().unwrap();
    write(outside.path(), "secret.txt", SECRET);
    write(site.path(), "public/key.pem", "-----BEGIN PRIVATE KEY-----");
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        site.path().join("public/link.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), site.path().join("public/out")).unwrap();
    let server = TestServer::start(Config::new(site.path())).await;
    for (target, status) in [
        ("/key.pem", 403),
        ("/link.txt", 403),
        ("/out/secret.txt", 403),
        ("/out/missing.txt", 403),
        ("/link.txt?raw", 403),
        ("/%2e%2e/secret.txt", 403),
        ("/..%2fsecret.txt", 403),
    ] {
        let reply = server.get(target).await;
        assert_eq!(reply.status, status, "{target}");
        assert!(!reply.text().contains(SECRET), "{target}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_change_in_public_reloads_the_pages_that_loaded_it() {
    let site = site();
    let server = TestServer::start(Config::new(site.path())).await;
    let mut ws = hmr_client(server.addr).await;
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    assert_eq!(server.get("/vite.svg").await.status, 200);
    write(
        site.path(),
        "public/vite.svg",
        LOGO_SVG.replace("red", "blue"),
    );
    let payload: Value = next_json(&mut ws).await;
    assert_eq!(payload["type"], "full-reload", "{payload}");
    server.stop().await;
}

#[tokio::test]
async fn a_public_folder_made_while_the_server_runs_takes_over_and_one_removed_lets_go() {
    let site = TempDir::new().unwrap();
    write(site.path(), "index.html", "<p>hi</p>");
    write(site.path(), "logo.txt", "root copy");
    let server = TestServer::start(Config::new(site.path())).await;
    assert_eq!(server.get("/logo.txt").await.text(), "root copy");

    // The watcher tells the server about the new folder's file.
    write(site.path(), "public/logo.txt", "public copy");
    let serves = |want: &'static str| {
        let server = &server;
        async move {
            for _ in 0..100 {
                if server.get("/logo.txt").await.text() == want {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("/logo.txt never served {want:?}");
        }
    };
    serves("public copy").await;
    std::fs::remove_dir_all(site.path().join("public")).unwrap();
    serves("root copy").await;
    server.stop().await;
}
