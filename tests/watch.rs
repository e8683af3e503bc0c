//! Saves become payloads: real temp folders, real writes, real WebSocket clients.

mod common;

use common::{TestServer, Ws, hmr_client, next_json, write};
use hotserve::Config;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use tempfile::TempDir;

struct Site {
    dir: TempDir,
    server: TestServer,
    ws: Ws,
}

impl Site {
    async fn start(files: &[(&str, &str)]) -> Site {
        Self::start_with(files, |c| c).await
    }

    async fn start_with(files: &[(&str, &str)], configure: impl FnOnce(Config) -> Config) -> Site {
        let dir = TempDir::new().unwrap();
        write(
            dir.path(),
            "index.html",
            "<link rel=stylesheet href=/style.css><h1>hi</h1>",
        );
        write(dir.path(), "style.css", "body { color: red }");
        write(dir.path(), "sentinel.css", "a {}");
        for (path, contents) in files {
            write(dir.path(), path, contents);
        }
        let server = TestServer::start(configure(Config::new(dir.path()))).await;
        let mut ws = hmr_client(server.addr).await;
        assert_eq!(next_json(&mut ws).await["type"], "connected");
        // The page and its stylesheets have been loaded by "a browser".
        for path in ["/", "/style.css", "/sentinel.css"] {
            assert_eq!(server.get(path).await.status, 200);
        }
        Site { dir, server, ws }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, path: &str, contents: &str) {
        write(self.root(), path, contents);
    }

    async fn next(&mut self) -> Value {
        next_json(&mut self.ws).await
    }

    /// Change the sentinel stylesheet and return the next message, which must be its
    /// update: proof that nothing else was sent before it.
    async fn assert_quiet_then_sentinel(&mut self) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stamp = format!("a {{ order: {} }}", rand_stamp());
        self.write("sentinel.css", &stamp);
        let next = self.next().await;
        assert_eq!(
            next["type"], "update",
            "expected only the sentinel, got {next}"
        );
        assert_eq!(next["updates"][0]["path"], "/sentinel.css", "{next}");
    }
}

fn rand_stamp() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn css_paths(payload: &Value) -> Vec<String> {
    payload["updates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["type"] == "css-update")
        .map(|u| u["path"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_css_edit_sends_one_css_update() {
    let mut site = Site::start(&[]).await;
    site.write("style.css", "body { color: blue }");
    let payload = site.next().await;
    assert_eq!(payload["type"], "update");
    assert_eq!(css_paths(&payload), ["/style.css"]);
    let update = &payload["updates"][0];
    assert_eq!(update["acceptedPath"], "/style.css");
    assert!(update["timestamp"].as_u64().unwrap() > 1_600_000_000_000);
    site.assert_quiet_then_sentinel().await;
}

#[tokio::test]
async fn an_html_edit_reloads_that_page() {
    let mut site = Site::start(&[("docs/page.html", "<p>a</p>")]).await;
    site.write("index.html", "<h1>changed</h1>");
    assert_eq!(
        site.next().await,
        json!({"type":"full-reload","path":"/index.html"})
    );
    site.write("docs/page.html", "<p>b</p>");
    assert_eq!(
        site.next().await,
        json!({"type":"full-reload","path":"/docs/page.html"})
    );
}

#[tokio::test]
async fn a_file_no_browser_loaded_sends_nothing() {
    let mut site = Site::start(&[("unused.css", "x{}"), ("data.json", "{}")]).await;
    site.write("unused.css", "y{}");
    site.write("data.json", "[]");
    site.assert_quiet_then_sentinel().await;
}

#[tokio::test]
async fn a_served_asset_change_reloads_all_pages() {
    let mut site = Site::start(&[("data.json", "{}")]).await;
    assert_eq!(site.server.get("/data.json").await.status, 200);
    site.write("data.json", "[1]");
    let payload = site.next().await;
    assert_eq!(payload["type"], "full-reload");
    assert_eq!(payload["path"], "*");
}

#[tokio::test]
async fn a_save_with_identical_bytes_sends_nothing() {
    let mut site = Site::start(&[]).await;
    site.write("style.css", "body { color: red }");
    site.write(
        "index.html",
        "<link rel=stylesheet href=/style.css><h1>hi</h1>",
    );
    site.assert_quiet_then_sentinel().await;
}

#[tokio::test]
async fn ignored_files_send_nothing_even_when_served() {
    let files = [
        (".gitignore", "generated/\n"),
        ("generated/out.css", "a{}"),
        ("node_modules/pkg/x.css", "a{}"),
        ("scratch/notes.css", "a{}"),
    ];
    let mut site = Site::start_with(&files, |c| c.ignore("scratch/")).await;
    for path in [
        "/generated/out.css",
        "/node_modules/pkg/x.css",
        "/scratch/notes.css",
    ] {
        assert_eq!(site.server.get(path).await.status, 200, "{path}");
    }
    site.write("generated/out.css", "b{}");
    site.write("node_modules/pkg/x.css", "b{}");
    site.write("scratch/notes.css", "b{}");
    site.write(".git/HEAD", "ref: refs/heads/other");
    site.assert_quiet_then_sentinel().await;
}

#[tokio::test]
async fn an_atomic_rename_save_sends_one_message() {
    let mut site = Site::start(&[]).await;
    let tmp = site.root().join(".style.css.tmp-123");
    std::fs::write(&tmp, "body { color: green }").unwrap();
    std::fs::rename(&tmp, site.root().join("style.css")).unwrap();
    assert_eq!(css_paths(&site.next().await), ["/style.css"]);
    site.assert_quiet_then_sentinel().await;
}

#[tokio::test]
async fn delete_then_create_sends_one_message() {
    let mut site = Site::start(&[]).await;
    std::fs::remove_file(site.root().join("style.css")).unwrap();
    std::fs::write(site.root().join("style.css"), "body { color: teal }").unwrap();
    assert_eq!(css_paths(&site.next().await), ["/style.css"]);
    site.assert_quiet_then_sentinel().await;
}

#[tokio::test]
async fn deleting_a_served_file_reloads_all_pages() {
    let mut site = Site::start(&[]).await;
    std::fs::remove_file(site.root().join("style.css")).unwrap();
    let payload = site.next().await;
    assert_eq!(payload["type"], "full-reload");
    assert_eq!(payload["path"], "*");
}

#[tokio::test]
async fn a_page_in_a_new_nested_directory_is_picked_up() {
    let mut site = Site::start(&[]).await;
    std::fs::create_dir_all(site.root().join("a/b/c")).unwrap();
    std::fs::write(site.root().join("a/b/c/new.html"), "<p>new</p>").unwrap();
    assert_eq!(
        site.next().await,
        json!({"type":"full-reload","path":"/a/b/c/new.html"})
    );
}

#[tokio::test]
async fn a_gitignore_edited_at_runtime_is_respected() {
    let mut site = Site::start(&[("later/x.css", "a{}")]).await;
    assert_eq!(site.server.get("/later/x.css").await.status, 200);
    site.write(".gitignore", "later/\n");
    tokio::time::sleep(Duration::from_millis(300)).await;
    site.write("later/x.css", "b{}");
    site.assert_quiet_then_sentinel().await;
}

#[tokio::test]
async fn a_two_thousand_file_burst_arrives_in_a_few_messages_with_nothing_lost() {
    let count = 2000;
    let mut site = Site::start(&[]).await;
    for i in 0..count {
        site.write(&format!("burst/f{i}.css"), "a{}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..count {
        let reply = site.server.get(&format!("/burst/f{i}.css")).await;
        assert_eq!(reply.status, 200);
    }
    for i in 0..count {
        site.write(&format!("burst/f{i}.css"), &format!("a{{order:{i}}}"));
    }
    let mut covered = std::collections::HashSet::new();
    let mut messages = 0;
    while covered.len() < count {
        let payload = site.next().await;
        messages += 1;
        if payload["type"] == "full-reload" {
            break; // a full reload covers everything
        }
        for path in css_paths(&payload) {
            covered.insert(path);
        }
    }
    assert!(
        messages <= 60,
        "{messages} messages for a {count}-file burst"
    );
}

#[tokio::test]
async fn poll_mode_reports_changes() {
    let mut site = Site::start_with(&[], |c| c.poll(Some(Duration::from_millis(50)))).await;
    site.write("style.css", "body { color: olive }");
    assert_eq!(css_paths(&site.next().await), ["/style.css"]);
}

#[tokio::test]
async fn a_self_accepting_module_edit_sends_a_js_update() {
    let module = "export let n = 1;\nif (import.meta.hot) import.meta.hot.accept();\n";
    let mut site = Site::start(&[("app.js", module)]).await;
    let served = site.server.get("/app.js").await.text();
    assert!(served.starts_with("import { createHotContext as __vite__createHotContext }"));
    assert_eq!(
        served.lines().count(),
        module.lines().count(),
        "line numbers kept"
    );
    site.write("app.js", &module.replace("1", "2"));
    let payload = site.next().await;
    assert_eq!(payload["type"], "update");
    let update = &payload["updates"][0];
    assert_eq!(update["type"], "js-update");
    assert_eq!(update["path"], "/app.js");
    assert_eq!(update["acceptedPath"], "/app.js");
}

#[tokio::test]
async fn a_module_nobody_accepts_reloads_the_page() {
    let mut site = Site::start(&[("plain.js", "export const x = 1;\n")]).await;
    assert_eq!(site.server.get("/plain.js").await.status, 200);
    site.write("plain.js", "export const x = 2;\n");
    let payload = site.next().await;
    assert_eq!(payload["type"], "full-reload");
    assert_eq!(payload["triggeredBy"], "/plain.js");
}

#[tokio::test]
async fn an_importer_is_served_with_the_fresh_url_of_an_updated_dep() {
    let files = [
        (
            "main.js",
            "import { v } from './dep.js';\nimport.meta.hot.accept('./dep.js', () => {});\n",
        ),
        ("dep.js", "export const v = 1;\n"),
    ];
    let mut site = Site::start(&files).await;
    let main = site.server.get("/main.js").await.text();
    assert!(
        main.contains("accept(\"/dep.js\"") || main.contains("accept('/dep.js'"),
        "{main}"
    );
    assert_eq!(site.server.get("/dep.js").await.status, 200);
    site.write("dep.js", "export const v = 2;\n");
    let payload = site.next().await;
    let update = &payload["updates"][0];
    assert_eq!(update["path"], "/main.js");
    assert_eq!(update["acceptedPath"], "/dep.js");
    let t = update["timestamp"].as_u64().unwrap();
    let again = site.server.get("/main.js").await.text();
    assert!(again.contains(&format!("./dep.js?t={t}")), "{again}");
}

#[tokio::test]
async fn a_server_without_watching_sends_nothing_for_saves() {
    let mut site = Site::start_with(&[], |c| c.watch(false)).await;
    site.write("style.css", "body { color: blue }");
    tokio::time::sleep(Duration::from_millis(300)).await;
    site.server.hub.custom("probe", None);
    assert_eq!(site.next().await["event"], "probe");
}

#[tokio::test]
async fn a_same_size_save_is_served_fresh_once_its_update_arrives() {
    let mut site = Site::start(&[]).await;
    for colour in ["blue", "teal", "navy", "gold"] {
        let css = format!("body {{ color: {colour} }}");
        site.write("style.css", &css);
        let payload = site.next().await;
        assert_eq!(css_paths(&payload), ["/style.css"]);
        let t = payload["updates"][0]["timestamp"].as_u64().unwrap();
        let reply = site.server.get(&format!("/style.css?t={t}")).await;
        assert_eq!(reply.text(), css);
    }
}

#[tokio::test]
async fn a_module_that_stops_importing_a_dep_prunes_it_when_served_again() {
    let files = [
        ("main.js", "import './old.js';\nimport.meta.hot.accept();\n"),
        ("old.js", "export {};\n"),
    ];
    let mut site = Site::start_with(&files, |c| c.watch(false)).await;
    site.server.get("/main.js").await;
    site.server.get("/old.js").await;
    site.write("main.js", "import.meta.hot.accept();\n");
    site.server.get("/main.js?t=1").await;
    assert_eq!(
        site.next().await,
        json!({"type":"prune","paths":["/old.js"]})
    );
}
