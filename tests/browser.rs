//! Real-browser tests: headless Chromium, driven by `tests/js/browser.mjs` (playwright-core),
//! against hotserve.
//!
//! Two kinds of scenario share one browser (tests take turns through a lock):
//! - end to end, against the real `hotserve` binary: edit files, kill and restart it;
//! - the client's protocol handling, against an in-process server whose real hub sends
//!   payloads directly, with modules that create their hot contexts by hand.
//!
//! Needs `node`, `npm ci` in `tests/js` and Chromium (`/usr/bin/chromium`, or the path in
//! `HOTSERVE_CHROMIUM`). When one is missing the tests pass with a "skipping" note on
//! stderr, unless `HOTSERVE_REQUIRE_BROWSER=1` (CI), which turns that into a failure.

mod common;

use common::blocking::{Binary, InProcess};
use common::browser::{Tab, browser};
use common::write;
use hotserve::protocol::{ErrorInfo, ErrorLocation, InvalidateMessage, Payload, Update};
use hotserve::{Config, Event};
use serde_json::{Value, json};
#[cfg(feature = "proxy")]
use std::net::SocketAddr;
use std::time::Duration;
use tempfile::TempDir;

// ---- servers -------------------------------------------------------------------------

fn ts() -> u64 {
    hotserve::protocol::next_timestamp()
}

const SHORT: Duration = Duration::from_secs(5);

// ---- fixtures ------------------------------------------------------------------------

/// A page that marks each load (`__loadId`), records events (`__events`), and notes
/// whether a replacement stylesheet had loaded whenever a `<link>` is removed.
fn index_html(title: &str) -> String {
    format!(
        r#"<!doctype html>
<html>
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>{title}</title>
<link rel="stylesheet" href="/style.css">
<script>
  window.__loadId = Math.random().toString(36).slice(2);
  window.__events = [];
  new MutationObserver((records) => {{
    for (const r of records) for (const n of r.removedNodes) if (n.nodeName === "LINK")
      __events.push({{ removed: n.getAttribute("href"),
        loadedSheets: [...document.querySelectorAll("link[rel=stylesheet]")].filter((l) => l.sheet).length }});
  }}).observe(document.head, {{ childList: true }});
</script>
</head>
<body>
<h1 id="title">{title}</h1>
<div id="app"></div>
<script type="module" src="/main.js"></script>
</body>
</html>
"#
    )
}

const RED: &str = "rgb(255, 0, 0)";
const BLUE: &str = "rgb(0, 0, 255)";

fn style_css(color: &str) -> String {
    format!("h1 {{ color: {color}; }}\n")
}

fn title_color() -> &'static str {
    "getComputedStyle(document.getElementById('title')).color"
}

fn events(tab: &mut Tab) -> Vec<Value> {
    tab.eval("window.__events")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

// ---- the client's protocol handling (in-process server, payloads from its hub) -------

/// Modules that create their hot contexts by hand (as the server's transform would).
fn manual_site() -> TempDir {
    let site = TempDir::new().unwrap();
    let root = site.path();
    write(root, "index.html", index_html("manual"));
    write(root, "style.css", style_css(RED));
    write(
        root,
        "main.js",
        r#"import { createHotContext } from "/@vite/client";
import { value } from "/dep.js";
import "/counter.js";
const hot = createHotContext("/main.js");
hot.send("test:early", { at: "module evaluation" });
window.__dep = value;
window.__hot = hot;
hot.accept("/dep.js", (mod) => { window.__dep = mod.value; __events.push({ depAccepted: mod.value }); });
hot.accept(["/a.js", "/b.js"], (mods) => __events.push({ arrayAccepted: mods.map((m) => m && m.name) }));
hot.on("test:custom", (data) => __events.push({ custom: data }));
"#,
    );
    write(root, "dep.js", "export const value = 'dep 1';\n");
    write(root, "a.js", "export const name = 'a';\n");
    write(root, "b.js", "export const name = 'b 2';\n");
    write(root, "counter.js", manual_counter(1));
    write(root, "other.html", "<!doctype html><title>other</title>");
    write(root, "inv.js", "export const inv = 1;\n");
    site
}

fn manual_counter(version: u32) -> String {
    format!(
        r#"import {{ createHotContext }} from "/@vite/client";
const hot = createHotContext("/counter.js");
export const version = {version};
hot.data.loads = (hot.data.loads || 0) + 1;
window.__counter = {{ version, loads: hot.data.loads }};
hot.accept((mod) => __events.push({{ selfAccepted: mod.version }}));
hot.dispose((data) => {{ data.disposedBy = version; __events.push({{ disposed: version }}); }});
hot.prune(() => __events.push({{ pruned: version }}));
"#
    )
}

#[test]
fn a_css_update_swaps_the_stylesheet_without_reload_or_flash() {
    let Some(mut tab) = browser() else { return };
    let site = manual_site();
    let server = InProcess::start(Config::new(site.path()).watch(false));
    tab.open(&server.url("/"));
    tab.wait_connected(1);
    assert_eq!(tab.eval(title_color()), json!(RED));
    let load = tab.load_id();

    write(site.path(), "style.css", style_css(BLUE));
    server.hub.update(vec![Update::css("/style.css", ts())]);
    tab.wait(&format!("{} === '{BLUE}'", title_color()), SHORT);
    tab.wait("__events.some((e) => e.removed)", SHORT);

    assert_eq!(tab.load_id(), load, "the page did not reload");
    let links = tab.eval(
        "[...document.querySelectorAll('link[rel=stylesheet]')].map((l) => { const u = new URL(l.href); return u.pathname + u.search; })",
    );
    let links = links.as_array().unwrap();
    assert_eq!(links.len(), 1, "{links:?}");
    assert!(
        links[0].as_str().unwrap().starts_with("/style.css?t="),
        "{links:?}"
    );
    let removed: Vec<Value> = events(&mut tab)
        .into_iter()
        .filter(|e| e.get("removed").is_some())
        .collect();
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(removed[0]["removed"], "/style.css");
    assert_eq!(
        removed[0]["loadedSheets"], 1,
        "the old <link> went only after the new one had loaded"
    );

    // A second update replaces the query rather than adding to it.
    write(site.path(), "style.css", style_css(RED));
    server.hub.update(vec![Update::css("/style.css", ts())]);
    tab.wait(&format!("{} === '{RED}'", title_color()), SHORT);
    let href = tab.eval("document.querySelector('link[rel=stylesheet]').href");
    assert_eq!(href.as_str().unwrap().matches("t=").count(), 1, "{href}");
    tab.assert_clean(false);
}

#[test]
fn a_self_accepting_module_runs_its_new_code_keeping_data_after_dispose() {
    let Some(mut tab) = browser() else { return };
    let site = manual_site();
    let server = InProcess::start(Config::new(site.path()).watch(false));
    tab.open(&server.url("/"));
    tab.wait_connected(1);
    assert_eq!(tab.eval("__counter"), json!({"version": 1, "loads": 1}));
    let load = tab.load_id();

    write(site.path(), "counter.js", manual_counter(2));
    server
        .hub
        .update(vec![Update::js("/counter.js", "/counter.js", ts())]);
    tab.wait("window.__counter.version === 2", SHORT);

    assert_eq!(
        tab.eval("__counter"),
        json!({"version": 2, "loads": 2}),
        "hot.data survived"
    );
    let events = events(&mut tab);
    let disposed = events.iter().position(|e| e["disposed"] == 1);
    let accepted = events.iter().position(|e| e["selfAccepted"] == 2);
    assert!(disposed.is_some() && accepted.is_some(), "{events:?}");
    assert!(
        disposed < accepted,
        "dispose ran before the accept callback: {events:?}"
    );
    assert_eq!(tab.load_id(), load, "the page did not reload");
    tab.assert_clean(false);
}

#[test]
fn a_dep_accepting_boundary_gets_the_new_dep_module_and_array_forms_get_an_array() {
    let Some(mut tab) = browser() else { return };
    let site = manual_site();
    let server = InProcess::start(Config::new(site.path()).watch(false));
    tab.open(&server.url("/"));
    tab.wait_connected(1);
    assert_eq!(tab.eval("__dep"), json!("dep 1"));
    let load = tab.load_id();

    write(site.path(), "dep.js", "export const value = 'dep 2';\n");
    server
        .hub
        .update(vec![Update::js("/main.js", "/dep.js", ts())]);
    tab.wait("window.__dep === 'dep 2'", SHORT);

    server
        .hub
        .update(vec![Update::js("/main.js", "/b.js", ts())]);
    tab.wait("__events.some((e) => e.arrayAccepted)", SHORT);
    let accepted: Vec<Value> = events(&mut tab)
        .into_iter()
        .filter_map(|e| e.get("arrayAccepted").cloned())
        .collect();
    assert_eq!(accepted, vec![json!([null, "b 2"])]);

    // A module nobody on this page accepts is ignored.
    server
        .hub
        .update(vec![Update::js("/nowhere.js", "/nowhere.js", ts())]);
    server
        .hub
        .update(vec![Update::js("/main.js", "/not-accepted.js", ts())]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(tab.load_id(), load, "the page did not reload");
    tab.assert_clean(false);
}

#[test]
fn full_reload_reloads_only_pages_showing_the_changed_html() {
    let Some(mut tab) = browser() else { return };
    let site = manual_site();
    let server = InProcess::start(Config::new(site.path()).watch(false));
    tab.open(&server.url("/"));
    tab.wait_connected(1);
    let first = tab.load_id();

    server.hub.reload_page("/other.html");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        tab.load_id(),
        first,
        "another page's change leaves this one alone"
    );

    // `/` shows `/index.html`.
    server.hub.reload_page("/index.html");
    tab.wait(
        &format!("window.__loadId && window.__loadId !== {first}"),
        SHORT,
    );
    tab.wait_connected(2);
    let second = tab.load_id();

    server.hub.full_reload();
    tab.wait(
        &format!("window.__loadId && window.__loadId !== {second}"),
        SHORT,
    );
    tab.assert_clean(false);
}

#[test]
fn the_exported_helpers_behave_like_vites() {
    let Some(mut tab) = browser() else { return };
    let site = manual_site();
    let server = InProcess::start(Config::new(site.path()).watch(false));
    tab.open(&server.url("/"));
    tab.wait_connected(1);
    let result = tab.eval(
        r#"import("/@vite/client").then((m) => {
          const color = () => getComputedStyle(document.getElementById("title")).color;
          m.updateStyle("/x.css", "h1 { color: rgb(0, 0, 255) }");
          const first = color();
          m.updateStyle("/x.css", "h1 { color: rgb(0, 128, 0) }");
          const second = color();
          const styles = document.querySelectorAll("style[data-vite-dev-id]").length;
          m.removeStyle("/x.css");
          return {
            first, second, styles, after: color(),
            left: document.querySelectorAll("style[data-vite-dev-id]").length,
            queries: [
              m.injectQuery("/a.js?x=1#h", "t=1"),
              m.injectQuery("./b.css", "import"),
              m.injectQuery("https://cdn.example/x.js", "t=1"),
            ],
            overlay: customElements.get("vite-error-overlay") === m.ErrorOverlay,
          };
        })"#,
    );
    assert_eq!(
        result,
        json!({
            "first": BLUE, "second": "rgb(0, 128, 0)", "styles": 1, "after": RED, "left": 0,
            "queries": ["/a.js?t=1&x=1#h", "./b.css?import", "https://cdn.example/x.js"],
            "overlay": true,
        })
    );
    tab.assert_clean(false);
}

#[test]
fn in_a_single_page_app_routes_reload_when_the_root_index_changes() {
    let Some(mut tab) = browser() else { return };
    let site = manual_site();
    let server = InProcess::start(Config::new(site.path()).spa(true).watch(false));
    tab.open(&server.url("/users/42"));
    tab.wait_connected(1);
    let first = tab.load_id();
    server.hub.reload_page("/other.html");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(tab.load_id(), first);
    server.hub.reload_page("/index.html");
    tab.wait(
        &format!("window.__loadId && window.__loadId !== {first}"),
        SHORT,
    );
    tab.assert_clean(false);
}

#[test]
fn the_error_overlay_shows_the_error_as_text_and_closes_on_escape_click_or_update() {
    let Some(mut tab) = browser() else { return };
    let site = manual_site();
    let server = InProcess::start(Config::new(site.path()).watch(false));
    tab.open(&server.url("/"));
    tab.wait_connected(1);
    let load = tab.load_id();
    // One update first: an overlay present at the first update means the page never
    // loaded, and the client reloads instead (as Vite's does).
    server.hub.update(vec![Update::css("/style.css", ts())]);
    tab.wait("__events.some((e) => e.removed)", SHORT);

    let error = ErrorInfo {
        message: "Unexpected token <img src=x onerror=\"window.__xss=1\">".into(),
        stack: "    at parse (/project/build.js:10:5)".into(),
        id: Some("/project/src/app.js".into()),
        frame: Some("1 | const x = \n  |          ^".into()),
        plugin: Some("my-tool".into()),
        loc: Some(ErrorLocation {
            file: Some("/project/src/app.js".into()),
            line: 1,
            column: 10,
        }),
    };
    let shown = "document.querySelector('vite-error-overlay')";
    let text = |tab: &mut Tab, part: &str| {
        tab.eval(&format!(
            "document.querySelector('vite-error-overlay').shadowRoot.querySelector('{part}').textContent"
        ))
    };

    server.hub.error(error.clone());
    tab.wait(shown, SHORT);
    assert_eq!(
        text(&mut tab, ".message"),
        json!("[plugin:my-tool] Unexpected token <img src=x onerror=\"window.__xss=1\">")
    );
    assert_eq!(text(&mut tab, ".file"), json!("/project/src/app.js:1:10"));
    assert_eq!(
        text(&mut tab, ".frame"),
        json!("1 | const x = \n  |          ^")
    );
    assert_eq!(
        text(&mut tab, ".stack"),
        json!("    at parse (/project/build.js:10:5)")
    );
    assert_eq!(
        tab.eval(
            "document.querySelector('vite-error-overlay').shadowRoot.querySelectorAll('img').length"
        ),
        json!(0)
    );
    assert_eq!(tab.eval("window.__xss === undefined"), json!(true));
    tab.key("Escape");
    tab.wait(&format!("!{shown}"), SHORT);

    server.hub.error(error.clone());
    tab.wait(shown, SHORT);
    tab.click(5, 5);
    tab.wait(&format!("!{shown}"), SHORT);

    server.hub.error(error.clone());
    tab.wait(shown, SHORT);
    // A click inside the window keeps it.
    tab.click(400, 80);
    assert_ne!(tab.eval(&format!("!!{shown}")), json!(false));

    server.hub.update(vec![Update::css("/style.css", ts())]);
    tab.wait(&format!("!{shown}"), SHORT);
    assert_eq!(tab.load_id(), load, "the page did not reload");
    tab.assert_clean(false);
}

#[test]
fn custom_events_prune_send_and_invalidate_go_both_ways() {
    let Some(mut tab) = browser() else { return };
    let site = manual_site();
    let mut server = InProcess::start(Config::new(site.path()).watch(false));
    tab.open(&server.url("/"));
    tab.wait_connected(1);

    server.hub.custom("test:custom", Some(json!({"n": 1})));
    tab.wait("__events.some((e) => e.custom)", SHORT);
    assert!(events(&mut tab).contains(&json!({"custom": {"n": 1}})));

    server.hub.send(Payload::Prune {
        paths: vec!["/counter.js".into()],
    });
    tab.wait("__events.some((e) => e.pruned)", SHORT);
    let events = events(&mut tab);
    let disposed = events.iter().position(|e| e["disposed"] == 1);
    let pruned = events.iter().position(|e| e["pruned"] == 1);
    assert!(disposed.is_some() && disposed < pruned, "{events:?}");

    // Sent before the socket was open: queued, then delivered.
    let early = server.event(|e| match e {
        Event::ClientCustom { name, data, .. } if name == "test:early" => Some(data),
        _ => None,
    });
    assert_eq!(early, Some(json!({"at": "module evaluation"})));
    tab.eval("__hot.send('test:hello', { a: 1 })");
    let data = server.event(|e| match e {
        Event::ClientCustom { name, data, .. } if name == "test:hello" => Some(data),
        _ => None,
    });
    assert_eq!(data, Some(json!({"a": 1})));

    tab.eval("__hot.invalidate('exports changed')");
    let message = server.event(|e| match e {
        Event::Invalidate { message, .. } => Some(message),
        _ => None,
    });
    assert_eq!(
        message,
        InvalidateMessage {
            path: "/main.js".into(),
            message: Some("exports changed".into()),
            first_invalidated_by: Some("/main.js".into()),
        }
    );
    tab.assert_clean(false);
}

#[test]
fn an_invalidation_during_an_update_names_the_module_that_started_the_chain() {
    let Some(mut tab) = browser() else { return };
    let site = manual_site();
    let mut server = InProcess::start(Config::new(site.path()).watch(false));
    tab.open(&server.url("/"));
    tab.wait_connected(1);
    tab.eval(
        r#"import("/@vite/client").then((m) => {
          const hot = m.createHotContext("/inv.js");
          hot.accept(() => hot.invalidate("cannot apply"));
        })"#,
    );
    let mut update = Update::js("/inv.js", "/inv.js", ts());
    update.first_invalidated_by = Some("/c.js".into());
    server.hub.update(vec![update]);
    let message = server.event(|e| match e {
        Event::Invalidate { message, .. } => Some(message),
        _ => None,
    });
    assert_eq!(
        message,
        InvalidateMessage {
            path: "/inv.js".into(),
            message: Some("cannot apply".into()),
            first_invalidated_by: Some("/c.js".into()),
        }
    );
    tab.assert_clean(false);
}

#[test]
fn a_custom_hmr_path_is_used_and_a_wrong_hmr_port_falls_back_to_the_direct_address() {
    let Some(mut tab) = browser() else { return };
    let site = manual_site();
    // Port 9 (discard) refuses connections: the configured address fails, the direct
    // address (where the server really is) works.
    let server = InProcess::start(
        Config::new(site.path())
            .hmr_path("/hmr")
            .hmr_port(9)
            .watch(false),
    );
    tab.open(&server.url("/"));
    tab.wait_connected(1);
    let (console, _) = tab.log();
    assert!(
        console
            .iter()
            .any(|l| l.contains("direct address fallback")),
        "{console:#?}"
    );
    server.hub.update(vec![Update::css("/style.css", ts())]);
    tab.wait("__events.some((e) => e.removed)", SHORT);
    tab.assert_clean(true);
}

// ---- end to end against the binary ----------------------------------------------------

/// Modules using `import.meta.hot` as authors write them; the server adds the contexts.
fn real_site() -> TempDir {
    let site = TempDir::new().unwrap();
    let root = site.path();
    write(root, "index.html", index_html("version 1"));
    write(root, "style.css", style_css(RED));
    write(
        root,
        "main.js",
        r#"import "./counter.js";
import "./boundary.js";
import { value } from "./dep.js";
import { plain } from "./plain.js";
window.__dep = value;
window.__plain = plain;
if (import.meta.hot) {
  import.meta.hot.accept("./dep.js", (mod) => { window.__dep = mod.value; });
}
"#,
    );
    write(root, "counter.js", real_counter(1));
    write(root, "dep.js", "export const value = 'dep 1';\n");
    write(
        root,
        "boundary.js",
        "import { leaf } from './mid.js';\nwindow.__chain = leaf;\nimport.meta.hot.accept();\n",
    );
    write(
        root,
        "mid.js",
        "import { leaf as l } from './leaf.js';\nexport const leaf = l;\n",
    );
    write(root, "leaf.js", "export const leaf = 'leaf 1';\n");
    write(root, "plain.js", "export const plain = 'plain 1';\n");
    site
}

fn real_counter(version: u32) -> String {
    format!(
        // `import.meta.hot.accept(` spelled out: servers find self-accepting modules by it.
        r#"export const version = {version};
const data = import.meta.hot.data;
data.loads = (data.loads || 0) + 1;
window.__counter = {{ version, loads: data.loads, disposedBefore: data.disposedBy || null }};
import.meta.hot.dispose((data) => {{ data.disposedBy = version; }});
import.meta.hot.accept();
"#
    )
}

fn open_real(tab: &mut Tab, server: &Binary) -> Value {
    tab.open(&server.url("/"));
    tab.wait_connected(1);
    tab.wait("window.__counter && window.__chain", SHORT);
    tab.load_id()
}

#[test]
fn a_restarted_server_makes_the_page_reload_by_itself() {
    let Some(mut tab) = browser() else { return };
    let site = manual_site();
    let mut server = Binary::start(site.path(), 0);
    let port = server.addr.port();
    tab.open(&server.url("/"));
    tab.wait_connected(1);
    let first = tab.load_id();

    server.kill();
    tab.wait_console("server connection lost", 1, SHORT);
    write(site.path(), "index.html", index_html("after restart"));
    let _restarted = Binary::start(site.path(), port);
    // Polling runs every second: the page is back well within 3 s.
    tab.wait(
        &format!("window.__loadId && window.__loadId !== {first}"),
        Duration::from_secs(3),
    );
    tab.wait(
        "document.getElementById('title').textContent === 'after restart'",
        SHORT,
    );
    tab.wait_connected(2);
    tab.assert_clean(true);
}

#[test]
fn a_hidden_tab_stops_polling_until_it_is_shown_again() {
    let Some(mut tab) = browser() else { return };
    let site = manual_site();
    let mut server = Binary::start(site.path(), 0);
    let port = server.addr.port();
    tab.open(&server.url("/"));
    tab.wait_connected(1);
    let first = tab.load_id();
    let set_visibility = |tab: &mut Tab, state: &str| {
        tab.eval(&format!(
            "Object.defineProperty(document, 'visibilityState', {{ configurable: true, get: () => '{state}' }}); \
             document.dispatchEvent(new Event('visibilitychange'))"
        ));
    };

    server.kill();
    set_visibility(&mut tab, "hidden");
    tab.wait_console("server connection lost", 1, SHORT);
    let _restarted = Binary::start(site.path(), port);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(tab.load_id(), first, "no polling while hidden");

    set_visibility(&mut tab, "visible");
    tab.wait(
        &format!("window.__loadId && window.__loadId !== {first}"),
        Duration::from_secs(3),
    );
    tab.wait_connected(2);
    tab.assert_clean(true);
}

// Saves picked up by the server's watcher, end to end.

#[test]
fn editing_css_changes_the_computed_style_without_reload_or_flash() {
    let Some(mut tab) = browser() else { return };
    let site = real_site();
    let server = Binary::start(site.path(), 0);
    let load = open_real(&mut tab, &server);
    assert_eq!(tab.eval(title_color()), json!(RED));
    write(site.path(), "style.css", style_css(BLUE));
    tab.wait(&format!("{} === '{BLUE}'", title_color()), SHORT);
    tab.wait("__events.some((e) => e.removed)", SHORT);
    let removed: Vec<Value> = events(&mut tab)
        .into_iter()
        .filter(|e| e.get("removed").is_some())
        .collect();
    assert_eq!(removed[0]["loadedSheets"], 1, "no flash: {removed:?}");
    assert_eq!(tab.load_id(), load);
    tab.assert_clean(false);
}

#[test]
fn editing_a_self_accepting_module_runs_new_code_keeping_hot_data() {
    let Some(mut tab) = browser() else { return };
    let site = real_site();
    let server = Binary::start(site.path(), 0);
    let load = open_real(&mut tab, &server);
    write(site.path(), "counter.js", real_counter(2));
    tab.wait("window.__counter.version === 2", SHORT);
    assert_eq!(
        tab.eval("__counter"),
        json!({"version": 2, "loads": 2, "disposedBefore": 1})
    );
    assert_eq!(tab.load_id(), load);
    tab.assert_clean(false);
}

#[test]
fn editing_an_accepted_dep_hands_the_new_module_to_the_boundary() {
    let Some(mut tab) = browser() else { return };
    let site = real_site();
    let server = Binary::start(site.path(), 0);
    let load = open_real(&mut tab, &server);
    assert_eq!(tab.eval("__dep"), json!("dep 1"));
    write(site.path(), "dep.js", "export const value = 'dep 2';\n");
    tab.wait("window.__dep === 'dep 2'", SHORT);
    assert_eq!(tab.load_id(), load);
    tab.assert_clean(false);
}

#[test]
fn editing_a_leaf_under_a_nested_chain_reruns_the_boundary_with_the_fresh_leaf() {
    let Some(mut tab) = browser() else { return };
    let site = real_site();
    let server = Binary::start(site.path(), 0);
    let load = open_real(&mut tab, &server);
    assert_eq!(tab.eval("__chain"), json!("leaf 1"));
    write(site.path(), "leaf.js", "export const leaf = 'leaf 2';\n");
    tab.wait("window.__chain === 'leaf 2'", SHORT);
    assert_eq!(tab.load_id(), load);
    tab.assert_clean(false);
}

#[test]
fn editing_a_module_nobody_accepts_reloads_the_page_with_the_new_code_and_says_why() {
    let Some(mut tab) = browser() else { return };
    let site = real_site();
    let server = Binary::start(site.path(), 0);
    let load = open_real(&mut tab, &server);
    write(site.path(), "plain.js", "export const plain = 'plain 2';\n");
    tab.wait(
        &format!("window.__loadId && window.__loadId !== {load}"),
        SHORT,
    );
    tab.wait("window.__plain === 'plain 2'", SHORT);
    // The console says why it reloaded, naming the importers the update went through.
    tab.wait_console(
        "[vite] page reload: /plain.js changed and no module accepts the update \
         (/plain.js -> /main.js, which nothing imports)",
        1,
        SHORT,
    );
    tab.assert_clean(false);
}

#[test]
fn editing_the_html_reloads_the_page_with_the_new_content() {
    let Some(mut tab) = browser() else { return };
    let site = real_site();
    let server = Binary::start(site.path(), 0);
    let load = open_real(&mut tab, &server);
    write(site.path(), "index.html", index_html("version 2"));
    tab.wait(
        &format!("window.__loadId && window.__loadId !== {load}"),
        SHORT,
    );
    tab.wait(
        "document.getElementById('title')?.textContent === 'version 2'",
        SHORT,
    );
    tab.assert_clean(false);
}

// ---- HTTPS and proxy mode ------------------------------------------------------------

#[cfg(feature = "tls")]
#[test]
fn over_https_the_client_connects_with_wss_and_stylesheets_swap() {
    let Some(mut tab) = browser() else { return };
    let site = manual_site();
    let cache = TempDir::new().unwrap();
    let tls = hotserve::TlsConfig::self_signed().cache_dir(cache.path());
    let mut server = InProcess::start(Config::new(site.path()).https(tls).watch(false));
    tab.open(&format!("https://localhost:{}/", server.addr.port()));
    tab.wait_connected(1);
    assert_eq!(tab.eval("location.protocol"), json!("https:"));
    server.event(|event| matches!(event, Event::ClientConnected { .. }).then_some(()));
    assert_eq!(tab.eval(title_color()), json!(RED));
    let load = tab.load_id();
    write(site.path(), "style.css", style_css(BLUE));
    server.hub.update(vec![Update::css("/style.css", ts())]);
    tab.wait(&format!("{} === '{BLUE}'", title_color()), SHORT);
    assert_eq!(tab.load_id(), load, "the page did not reload");
    tab.assert_clean(false);
}

/// A backend that renders the page (with the site's stylesheet), as Django or Rails would.
#[cfg(feature = "proxy")]
fn page_backend(rt: &tokio::runtime::Runtime) -> SocketAddr {
    use hyper_util::rt::TokioIo;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = hyper::service::service_fn(
                |req: hyper::Request<hyper::body::Incoming>| async move {
                    let body = if req.uri().path() == "/" {
                        index_html("rendered by the backend")
                    } else {
                        String::new()
                    };
                    let status = if body.is_empty() { 404 } else { 200 };
                    Ok::<_, std::convert::Infallible>(
                        hyper::Response::builder()
                            .status(status)
                            .header("content-type", "text/html; charset=utf-8")
                            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                            .unwrap(),
                    )
                },
            );
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    addr
}

#[cfg(feature = "proxy")]
#[test]
fn a_page_rendered_by_a_proxied_backend_gets_the_client_and_swaps_stylesheets() {
    let Some(mut tab) = browser() else { return };
    let site = manual_site();
    std::fs::remove_file(site.path().join("index.html")).unwrap();
    let backend_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let backend = page_backend(&backend_rt);
    let server = InProcess::start(
        Config::new(site.path())
            .proxy(format!("http://{backend}"))
            .watch(false),
    );
    tab.open(&server.url("/"));
    tab.wait_connected(1);
    assert_eq!(
        tab.eval("document.getElementById('title').textContent"),
        json!("rendered by the backend")
    );
    assert_eq!(tab.eval(title_color()), json!(RED));
    let load = tab.load_id();
    write(site.path(), "style.css", style_css(BLUE));
    server.hub.update(vec![Update::css("/style.css", ts())]);
    tab.wait(&format!("{} === '{BLUE}'", title_color()), SHORT);
    assert_eq!(tab.load_id(), load, "the page did not reload");
    tab.assert_clean(false);
}
