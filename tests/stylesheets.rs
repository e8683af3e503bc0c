//! Stylesheets and images updated in place: `@import` chains, `url()` references, images
//! shown by the page; and the full reload that clients without in-place support (Vite's)
//! keep getting for the same edits.
//!
//! Real files in temp folders, the real watcher, real WebSocket clients and, where a page
//! is involved, the shared headless Chromium (`tests/common/browser.rs`).

mod common;

use common::browser::{Tab, browser};
use common::{TestServer, Ws, next_json, write};
use hotserve::{Config, Event, Events, InPlaceKind, InPlaceReason};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use tempfile::TempDir;

const RED: &str = "rgb(255, 0, 0)";
const BLUE: &str = "rgb(0, 0, 255)";
const BLACK: &str = "rgb(0, 0, 0)";
/// How long a save may take to reach the page (watcher settle, planning, fetching).
const SHORT: Duration = Duration::from_secs(10);

/// A server with its watcher on, over a temp folder, in a runtime of its own so the test
/// can drive the browser synchronously.
struct Site {
    dir: TempDir,
    rt: tokio::runtime::Runtime,
    server: Option<TestServer>,
    events: Events,
    configure: fn(Config) -> Config,
}

impl Site {
    fn start(files: &[(&str, &[u8])]) -> Site {
        Site::start_with(files, |config| config)
    }

    /// A server whose configuration `configure` changes.
    fn start_with(files: &[(&str, &[u8])], configure: fn(Config) -> Config) -> Site {
        let dir = TempDir::new().unwrap();
        for (path, contents) in files {
            write(dir.path(), path, contents);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(TestServer::start(configure(Config::new(dir.path()))));
        let events = server.service.events();
        Site {
            dir,
            rt,
            server: Some(server),
            events,
            configure,
        }
    }

    /// Stop the server and start a new one on the same folder (a new process would know
    /// nothing either).
    fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            self.rt.block_on(server.stop());
        }
        let server = self
            .rt
            .block_on(TestServer::start((self.configure)(Config::new(
                self.dir.path(),
            ))));
        self.events = server.service.events();
        self.server = Some(server);
    }

    fn server(&self) -> &TestServer {
        self.server.as_ref().expect("running")
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server().addr)
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, path: &str, contents: impl AsRef<[u8]>) {
        write(self.root(), path, contents);
    }

    fn get(&self, path: &str) -> String {
        let reply = self.rt.block_on(self.server().get(path));
        assert_eq!(reply.status, 200, "GET {path}");
        reply.text()
    }

    /// The next event `pick` accepts, within [`SHORT`].
    fn event<T>(&mut self, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        let events = &mut self.events;
        self.rt.block_on(async {
            tokio::time::timeout(SHORT, async {
                loop {
                    let event = events.next().await.expect("the server is running");
                    if let Some(found) = pick(&event) {
                        return found;
                    }
                }
            })
            .await
            .expect("the expected event in time")
        })
    }

    /// The in-place updates of the next `updated-in-place` event.
    fn in_place(&mut self) -> (Vec<(String, InPlaceKind, String, InPlaceReason)>, Value) {
        self.event(|e| match e {
            Event::UpdatedInPlace { updates, .. } => Some((
                updates
                    .iter()
                    .map(|u| (u.url.clone(), u.kind, u.changed.clone(), u.reason.clone()))
                    .collect(),
                serde_json::to_value(e).unwrap(),
            )),
            _ => None,
        })
    }

    fn hmr(&self, in_place: bool) -> Ws {
        let path = if in_place {
            "/?hotserve-in-place=1"
        } else {
            "/"
        };
        self.rt
            .block_on(common::ws_connect(
                self.server().addr,
                path,
                "vite-hmr",
                &[],
            ))
            .expect("HMR upgrade accepted")
    }

    fn next(&self, ws: &mut Ws) -> Value {
        self.rt.block_on(next_json(ws))
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.rt.block_on(server.stop());
        }
    }
}

/// A 1x1 24-bit BMP of one colour: an image format simple enough to write by hand.
fn bmp([r, g, b]: [u8; 3]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(b"BM");
    out.extend(58u32.to_le_bytes()); // file size
    out.extend([0u8; 4]);
    out.extend(54u32.to_le_bytes()); // pixel data offset
    out.extend(40u32.to_le_bytes()); // info header size
    out.extend(1i32.to_le_bytes()); // width
    out.extend(1i32.to_le_bytes()); // height
    out.extend(1u16.to_le_bytes()); // planes
    out.extend(24u16.to_le_bytes()); // bits per pixel
    out.extend([0u8; 24]); // no compression, sizes and resolutions left to the reader
    out.extend([b, g, r, 0]); // one row, padded to 4 bytes
    out
}

const RED_PX: &str = "255,0,0";
const BLUE_PX: &str = "0,0,255";

/// JS: the colour of the top-left pixel of an image element's current picture, or null
/// while it has none.
fn pixel_of(element: &str) -> String {
    format!(
        "(() => {{ const img = {element}; if (!img || !img.complete || !img.naturalWidth) return null;
           const c = document.createElement('canvas'); c.width = c.height = 1;
           const x = c.getContext('2d'); x.drawImage(img, 0, 0, 1, 1);
           return [...x.getImageData(0, 0, 1, 1).data.slice(0, 3)].join(','); }})()"
    )
}

/// JS: whether the background image the element at `id` has now is of colour `px`, read
/// by loading the URL its computed style names.
fn background_is(id: &str, px: &str) -> String {
    format!(
        "(async () => {{ const bg = getComputedStyle(document.getElementById('{id}')).backgroundImage;
           const m = /url\\(\"(.*)\"\\)/.exec(bg); if (!m) return null;
           const img = new Image(); img.src = m[1]; await img.decode();
           const c = document.createElement('canvas'); c.width = c.height = 1;
           const x = c.getContext('2d'); x.drawImage(img, 0, 0, 1, 1);
           return [...x.getImageData(0, 0, 1, 1).data.slice(0, 3)].join(',') === '{px}'; }})()"
    )
}

fn color_of(id: &str) -> String {
    format!("getComputedStyle(document.getElementById('{id}')).color")
}

/// A page with a text input, tall enough to scroll, marked per load (`__loadId`).
fn page(head: &str, body: &str) -> String {
    // Without an icon of its own, the browser asks for /favicon.ico and logs the 404.
    let icon = if head.contains("rel=\"icon\"") {
        ""
    } else {
        r#"<link rel="icon" href="data:,">"#
    };
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>in place</title>{icon}
{head}
<script>window.__loadId = Math.random().toString(36).slice(2);</script>
</head>
<body style="min-height: 4000px">
<input id="name">
{body}
</body></html>
"#
    )
}

/// Opens the page, types into its input and scrolls; returns the load id.
fn open_and_touch(tab: &mut Tab, site: &Site) -> Value {
    tab.open(&site.url("/"));
    tab.wait_connected(1);
    tab.eval("document.getElementById('name').focus()");
    tab.key("h");
    tab.key("i");
    tab.eval("window.scrollTo(0, 300)");
    tab.wait("window.scrollY === 300", SHORT);
    tab.load_id()
}

/// The page kept its load, its typed text and its scroll position.
fn assert_kept(tab: &mut Tab, load: &Value) {
    assert_eq!(&tab.load_id(), load, "the page did not reload");
    assert_eq!(
        tab.eval("document.getElementById('name').value"),
        json!("hi")
    );
    assert_eq!(tab.eval("window.scrollY"), json!(300));
}

fn chain_site() -> Site {
    Site::start(&[
        (
            "index.html",
            page(
                r#"<link rel="stylesheet" href="/a.css">"#,
                r#"<h1 id="title">chain</h1><p id="para">text</p>"#,
            )
            .as_bytes(),
        ),
        (
            "a.css",
            b"@charset \"utf-8\";\n/* the page's sheet */\n@import \"./b.css\" screen;\nbody { margin: 0 }\n",
        ),
        ("b.css", b"@import url(deep/c.css) all;\np { color: red }\n"),
        ("deep/c.css", b"h1 { color: red }\n"),
    ])
}

#[test]
fn a_three_level_import_chain_with_a_media_query_updates_without_a_reload() {
    let Some(mut tab) = browser() else { return };
    let mut site = chain_site();
    let load = open_and_touch(&mut tab, &site);
    assert_eq!(tab.eval(&color_of("title")), json!(RED));

    site.write("deep/c.css", "h1 { color: blue }\n");
    tab.wait(&format!("{} === '{BLUE}'", color_of("title")), SHORT);
    assert_kept(&mut tab, &load);

    // Every sheet in the chain was fetched anew: the page's link, and through it the
    // imports, all carry the update's timestamp (the browser reuses a sheet it has
    // otherwise).
    let chain = tab.wait(
        "(() => { const link = [...document.querySelectorAll('link[rel=stylesheet]')].find((l) => l.sheet);
           const b = link.sheet.cssRules[0], c = b.styleSheet.cssRules[0];
           const href = new URL(link.href); return href.search.includes('t=') && [href.pathname + href.search, b.href,
             b.media.mediaText, c.href, c.styleSheet.cssRules[0].cssText]; })()",
        SHORT,
    );
    let chain: Vec<String> = serde_json::from_value(chain).unwrap();
    let t = chain[0]
        .strip_prefix("/a.css?t=")
        .expect("a fresh page sheet");
    assert_eq!(chain[1], format!("./b.css?t={t}"));
    assert_eq!(chain[2], "screen", "the media query is kept");
    assert_eq!(chain[3], format!("deep/c.css?t={t}"));
    assert_eq!(chain[4], "h1 { color: blue; }");

    let (updates, json) = site.in_place();
    let sheets: Vec<(&str, &InPlaceReason)> =
        updates.iter().map(|(u, _, _, r)| (u.as_str(), r)).collect();
    assert_eq!(
        sheets,
        [
            ("/deep/c.css", &InPlaceReason::Changed),
            ("/b.css", &InPlaceReason::Imports("/deep/c.css".into())),
            ("/a.css", &InPlaceReason::Imports("/b.css".into())),
        ]
    );
    assert!(updates.iter().all(|(_, kind, changed, _)| {
        *kind == InPlaceKind::Stylesheet && changed == "/deep/c.css"
    }));
    assert_eq!(json["event"], "updated-in-place");
    assert_eq!(json["clients"], 1);
    assert_eq!(
        json["updates"][1],
        json!({"url": "/b.css", "kind": "stylesheet", "changed": "/deep/c.css",
               "reason": {"why": "imports", "via": "/deep/c.css"}})
    );

    // The middle of the chain, then the bottom again: each edit shows.
    site.write("b.css", "@import url(deep/c.css) all;\np { color: blue }\n");
    tab.wait(&format!("{} === '{BLUE}'", color_of("para")), SHORT);
    site.write("deep/c.css", "h1 { color: red }\n");
    tab.wait(&format!("{} === '{RED}'", color_of("title")), SHORT);
    assert_kept(&mut tab, &load);
    let links = tab.eval("document.querySelectorAll('link[rel=stylesheet]').length");
    assert_eq!(links, json!(1), "old links are removed");
    tab.assert_clean(false);
}

#[test]
fn deleting_an_imported_stylesheet_drops_its_rules_without_a_reload() {
    let Some(mut tab) = browser() else { return };
    let mut site = chain_site();
    let load = open_and_touch(&mut tab, &site);
    assert_eq!(tab.eval(&color_of("title")), json!(RED));

    std::fs::remove_file(site.root().join("deep/c.css")).unwrap();
    tab.wait(&format!("{} === '{BLACK}'", color_of("title")), SHORT);
    assert_eq!(
        tab.eval(&color_of("para")),
        json!(RED),
        "b.css still applies"
    );
    assert_kept(&mut tab, &load);
    let (updates, _) = site.in_place();
    let sheets: Vec<&str> = updates.iter().map(|(u, ..)| u.as_str()).collect();
    assert_eq!(sheets, ["/b.css", "/a.css"]);

    // Back again: its rules return.
    site.write("deep/c.css", "h1 { color: blue }\n");
    tab.wait(&format!("{} === '{BLUE}'", color_of("title")), SHORT);
    assert_eq!(tab.load_id(), load);
}

#[test]
fn a_background_image_edit_shows_without_a_reload() {
    let Some(mut tab) = browser() else { return };
    let mut site = Site::start(&[
        (
            "index.html",
            page(
                r#"<link rel="stylesheet" href="/css/site.css">"#,
                r#"<div id="panel" style="width: 20px; height: 20px"></div>"#,
            )
            .as_bytes(),
        ),
        (
            "css/site.css",
            b"#panel { background: url(../img/bg.bmp) no-repeat; background-size: cover }\n",
        ),
        ("img/bg.bmp", &bmp([255, 0, 0])),
    ]);
    let load = open_and_touch(&mut tab, &site);
    tab.wait(&background_is("panel", RED_PX), SHORT);

    site.write("img/bg.bmp", bmp([0, 0, 255]));
    tab.wait(&background_is("panel", BLUE_PX), SHORT);
    assert_kept(&mut tab, &load);
    let (updates, _) = site.in_place();
    assert!(
        updates.contains(&(
            "/css/site.css".into(),
            InPlaceKind::Stylesheet,
            "/img/bg.bmp".into(),
            InPlaceReason::References("/img/bg.bmp".into())
        )),
        "{updates:?}"
    );
    tab.assert_clean(false);
}

#[test]
fn a_stylesheet_imported_from_javascript_keeps_its_relative_references_and_updates_them_in_place() {
    let Some(mut tab) = browser() else { return };
    let site = Site::start(&[
        (
            "index.html",
            page(
                r#"<script type="module" src="/src/main.js"></script>"#,
                r#"<h1 id="title">chain</h1><p id="para">text</p>
<div id="panel" style="width: 20px; height: 20px"></div>"#,
            )
            .as_bytes(),
        ),
        ("src/main.js", b"import './styles/a.css';\n"),
        (
            "src/styles/a.css",
            b"@import \"./b.css\" screen;\n\
              #panel { background: url(../img/bg.bmp) no-repeat; background-size: cover }\n",
        ),
        (
            "src/styles/b.css",
            b"@import url(deep/c.css);\np { color: red }\n",
        ),
        ("src/styles/deep/c.css", b"h1 { color: red }\n"),
        ("src/img/bg.bmp", &bmp([255, 0, 0])),
    ]);
    let load = open_and_touch(&mut tab, &site);
    // In a `<style>`, relative references would resolve against the page: they were written
    // from the stylesheet's own folder.
    tab.wait(&format!("{} === '{RED}'", color_of("title")), SHORT);
    assert_eq!(tab.eval(&color_of("para")), json!(RED));
    tab.wait(&background_is("panel", RED_PX), SHORT);

    site.write("src/styles/deep/c.css", "h1 { color: blue }\n");
    tab.wait(&format!("{} === '{BLUE}'", color_of("title")), SHORT);
    assert_kept(&mut tab, &load);

    site.write(
        "src/styles/b.css",
        "@import url(deep/c.css);\np { color: blue }\n",
    );
    tab.wait(&format!("{} === '{BLUE}'", color_of("para")), SHORT);
    assert_eq!(
        tab.eval(&color_of("title")),
        json!(BLUE),
        "c.css still applies"
    );

    site.write("src/img/bg.bmp", bmp([0, 0, 255]));
    tab.wait(&background_is("panel", BLUE_PX), SHORT);
    assert_kept(&mut tab, &load);
    let styles = tab.eval("document.querySelectorAll('style').length");
    assert_eq!(
        styles,
        json!(1),
        "the module's one <style> is updated, not added to"
    );
    tab.assert_clean(false);
}

#[test]
fn images_srcset_and_other_uses_take_the_new_file_keeping_typed_input_and_scroll() {
    let Some(mut tab) = browser() else { return };
    let mut site = Site::start(&[
        (
            "index.html",
            page(
                r#"<link rel="icon" href="/img/logo.bmp">"#,
                r#"<img id="logo" src="img/logo.bmp" width="10" height="10">
<img id="hero" srcset="/img/hero.bmp 1x, /img/hero-big.bmp 2x" src="/img/hero-big.bmp" width="10" height="10">
<picture><source srcset="/img/pic.bmp"><img id="pic" src="/img/hero-big.bmp" width="10" height="10"></picture>
<video id="video" poster="/img/logo.bmp" width="10" height="10"></video>
<div id="styled" style="width: 10px; height: 10px; background-image: url('/img/logo.bmp')"></div>
<img id="other" src="/img/other.bmp" width="10" height="10">"#,
            )
            .as_bytes(),
        ),
        ("img/logo.bmp", &bmp([255, 0, 0])),
        ("img/hero.bmp", &bmp([255, 0, 0])),
        ("img/hero-big.bmp", &bmp([0, 255, 0])),
        ("img/pic.bmp", &bmp([255, 0, 0])),
        ("img/other.bmp", &bmp([255, 0, 0])),
    ]);
    let load = open_and_touch(&mut tab, &site);
    for id in ["logo", "hero", "pic"] {
        let element = format!("document.getElementById('{id}')");
        tab.wait(&format!("{} === '{RED_PX}'", pixel_of(&element)), SHORT);
    }

    site.write("img/logo.bmp", bmp([0, 0, 255]));
    tab.wait(
        &format!(
            "{} === '{BLUE_PX}'",
            pixel_of("document.getElementById('logo')")
        ),
        SHORT,
    );
    let uses = tab.wait(
        "(() => { const attr = (sel, name) => document.querySelector(sel).getAttribute(name);
           const all = [attr('#logo', 'src'), attr('link[rel=icon]', 'href'), attr('#video', 'poster'),
             document.getElementById('styled').style.backgroundImage];
           return all.every((v) => v.includes('?t=')) && all; })()",
        SHORT,
    );
    let uses: Vec<String> = serde_json::from_value(uses).unwrap();
    assert!(uses[0].starts_with("/img/logo.bmp?t="), "{uses:?}");
    assert!(uses[3].starts_with("url(\"/img/logo.bmp?t="), "{uses:?}");
    assert_eq!(
        tab.eval("document.getElementById('other').getAttribute('src')"),
        json!("/img/other.bmp"),
        "other images are left alone"
    );
    let (updates, _) = site.in_place();
    assert_eq!(
        updates,
        [(
            "/img/logo.bmp".into(),
            InPlaceKind::Asset,
            "/img/logo.bmp".into(),
            InPlaceReason::Changed
        )]
    );

    site.write("img/hero.bmp", bmp([0, 0, 255]));
    site.write("img/pic.bmp", bmp([0, 0, 255]));
    for id in ["hero", "pic"] {
        let element = format!("document.getElementById('{id}')");
        tab.wait(&format!("{} === '{BLUE_PX}'", pixel_of(&element)), SHORT);
    }
    let srcset = tab.eval("document.getElementById('hero').getAttribute('srcset')");
    let srcset = srcset.as_str().unwrap();
    assert!(srcset.starts_with("/img/hero.bmp?t="), "{srcset}");
    assert!(srcset.ends_with(" 1x, /img/hero-big.bmp 2x"), "{srcset}");
    assert_kept(&mut tab, &load);
    tab.assert_clean(false);
}

/// Two fonts of different widths installed with Chromium: its package recommends
/// fonts-liberation, and fontconfig, which it needs, pulls in DejaVu or Liberation.
fn two_fonts() -> (Vec<u8>, Vec<u8>) {
    let dir = Path::new("/usr/share/fonts/truetype");
    let pairs = [
        (
            "liberation/LiberationSans-Regular.ttf",
            "liberation/LiberationMono-Regular.ttf",
        ),
        ("dejavu/DejaVuSans.ttf", "dejavu/DejaVuSansMono.ttf"),
    ];
    for (a, b) in pairs {
        if let (Ok(a), Ok(b)) = (std::fs::read(dir.join(a)), std::fs::read(dir.join(b))) {
            return (a, b);
        }
    }
    panic!(
        "no Liberation or DejaVu fonts in {} (install fonts-liberation)",
        dir.display()
    );
}

#[test]
fn a_font_change_reapplies_without_a_reload() {
    let Some(mut tab) = browser() else { return };
    let (sans, mono) = two_fonts();
    let mut site = Site::start(&[
        (
            "index.html",
            page(
                r#"<link rel="stylesheet" href="/fonts.css">"#,
                r#"<span id="sample" style="font: 40px Brand, monospace">Wide WWW iii</span>"#,
            )
            .as_bytes(),
        ),
        (
            "fonts.css",
            b"@font-face { font-family: Brand; src: url(\"fonts/brand.ttf\") format(\"truetype\"); }\n",
        ),
        ("fonts/brand.ttf", &sans),
    ]);
    let load = open_and_touch(&mut tab, &site);
    let width = "document.fonts.ready.then(() => [...document.fonts].some((f) => f.status === 'loaded') \
                 && document.getElementById('sample').getBoundingClientRect().width)";
    let before = tab.wait(width, SHORT);

    site.write("fonts/brand.ttf", &mono);
    let changed = format!(
        "(async () => {{ const link = document.querySelector('link[rel=stylesheet]');
           if (!link.href.includes('?t=') || !link.sheet) return false;
           const w = await ({width}); return w !== {before} && w; }})()"
    );
    tab.wait(&changed, SHORT);
    assert_kept(&mut tab, &load);
    let (updates, _) = site.in_place();
    assert!(
        updates
            .iter()
            .any(|(url, kind, ..)| url == "/fonts.css" && *kind == InPlaceKind::Stylesheet),
        "{updates:?}"
    );
}

/// The requests a page would make, so the server knows what is loaded.
fn load_chain(site: &Site) {
    site.get("/");
    for path in ["/a.css", "/b.css", "/deep/c.css"] {
        site.get(path);
    }
}

#[test]
fn a_client_without_in_place_support_gets_a_full_reload_for_the_same_edits() {
    let mut site = chain_site();
    site.write("img/logo.bmp", bmp([255, 0, 0]));
    site.write(
        "a.css",
        "@import \"./b.css\" screen;\nh2 { background: url(img/logo.bmp) }\n",
    );
    load_chain(&site);
    site.get("/img/logo.bmp");
    let mut vite = site.hmr(false);
    let mut ours = site.hmr(true);
    assert_eq!(site.next(&mut vite)["type"], "connected");
    assert_eq!(site.next(&mut ours)["type"], "connected");

    // An imported sheet.
    site.write("deep/c.css", "h1 { color: blue }\n");
    assert_eq!(
        site.next(&mut vite),
        json!({"type": "full-reload", "path": "*", "triggeredBy": "/deep/c.css"})
    );
    let update = site.next(&mut ours);
    assert_eq!(update["type"], "update");
    let paths: Vec<&str> = update["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            assert_eq!(u["type"], "css-update");
            u["path"].as_str().unwrap()
        })
        .collect();
    assert_eq!(paths, ["/deep/c.css", "/b.css", "/a.css"]);
    let t = update["updates"][0]["timestamp"].as_u64().unwrap();
    let (_, json) = site.in_place();
    assert_eq!(
        (json["clients"].clone(), json["reloaded"].clone()),
        (json!(1), json!(1))
    );

    // What the browser fetches next asks for fresh copies all the way down.
    assert!(
        site.get(&format!("/a.css?t={t}"))
            .starts_with(&format!("@import \"./b.css?t={t}\" screen;"))
    );
    assert!(
        site.get(&format!("/b.css?t={t}"))
            .starts_with(&format!("@import url(\"deep/c.css?t={t}\") all;"))
    );

    // An image used by the page (and by a sheet through url()).
    site.write("img/logo.bmp", bmp([0, 0, 255]));
    assert_eq!(
        site.next(&mut vite),
        json!({"type": "full-reload", "path": "*", "triggeredBy": "/img/logo.bmp"})
    );
    let update = site.next(&mut ours);
    assert_eq!(update["updates"][0]["path"], "/a.css");
    let assets = site.next(&mut ours);
    assert_eq!(assets["type"], "custom");
    assert_eq!(assets["event"], "hotserve:assets");
    assert_eq!(
        assets["data"]["assets"],
        json!([{"path": "/img/logo.bmp", "sheets": ["/a.css"]}])
    );

    // A deleted imported sheet.
    std::fs::remove_file(site.root().join("b.css")).unwrap();
    assert_eq!(
        site.next(&mut vite),
        json!({"type": "full-reload", "path": "*", "triggeredBy": "/b.css"})
    );
    let update = site.next(&mut ours);
    assert_eq!(update["updates"][0]["path"], "/a.css");

    // A page stylesheet nobody imports: a css-update for everyone, as before.
    site.write("a.css", "h1 { color: green }\n");
    for ws in [&mut vite, &mut ours] {
        let update = site.next(ws);
        assert_eq!(update["updates"][0]["type"], "css-update");
        assert_eq!(update["updates"][0]["path"], "/a.css");
    }
}

#[test]
fn a_sheet_revalidated_with_a_304_after_a_restart_still_has_its_imports_known() {
    let mut site = chain_site();
    load_chain(&site);
    let etag = {
        let reply = site.rt.block_on(site.server().get("/a.css"));
        reply.header("etag").unwrap().to_owned()
    };
    // A new server process: the browser revalidates the copies it has and gets 304s.
    site.restart();
    site.get("/b.css");
    let reply = site.rt.block_on(
        site.server()
            .get_with("/a.css", &[("If-None-Match", &etag)]),
    );
    assert_eq!(reply.status, 304);
    let mut ours = site.hmr(true);
    assert_eq!(site.next(&mut ours)["type"], "connected");
    site.write("b.css", "p { color: blue }\n");
    let update = site.next(&mut ours);
    let paths: Vec<&str> = update["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/b.css", "/a.css"], "the import is known: {update}");
}

/// Vite's own browser client (`vite` in tests/js), with the values Vite's server fills in
/// when it serves it, for a page that hotserve does not inject its own client into.
fn vite_client(site: &Site) -> String {
    let path = common::browser::js_dir().join("node_modules/vite/dist/client/client.mjs");
    let source = std::fs::read_to_string(&path).expect("vite is installed in tests/js");
    let host = format!("\"{}/\"", site.server().addr);
    let values: [(&str, &str); 13] = [
        ("import \"@vite/env\";", ""),
        ("__HMR_CONFIG_NAME__", "\"vite.config.js\""),
        ("__HMR_BASE__", "\"/\""),
        ("__BASE__", "\"/\""),
        ("__SERVER_HOST__", &host),
        ("__HMR_PROTOCOL__", "null"),
        ("__HMR_HOSTNAME__", "null"),
        ("__HMR_PORT__", "null"),
        ("__HMR_DIRECT_TARGET__", &host),
        ("__HMR_TIMEOUT__", "30000"),
        ("__HMR_ENABLE_OVERLAY__", "true"),
        ("__WS_TOKEN__", "\"vite-test-token\""),
        ("__SERVER_FORWARD_CONSOLE__", "{\"enabled\":false}"),
    ];
    let client = values
        .iter()
        .fold(source, |client, (name, value)| client.replace(name, value));
    assert!(
        !client.contains("__HMR_"),
        "every value Vite fills in is filled in"
    );
    client
}

#[test]
fn vites_own_client_reloads_the_page_for_the_edits_hotserve_swaps_in_place() {
    let Some(mut tab) = browser() else { return };
    let site = Site::start_with(
        &[
            (
                "index.html",
                page(
                    r#"<link rel="stylesheet" href="/a.css">
<script type="module" src="/vite-client.mjs"></script>"#,
                    r#"<h1 id="title">chain</h1><img id="logo" src="/logo.bmp">"#,
                )
                .as_bytes(),
            ),
            ("a.css", b"@import \"./b.css\" screen;\n"),
            ("b.css", b"@import url(deep/c.css);\n"),
            ("deep/c.css", b"h1 { color: red }\n"),
            ("logo.bmp", &bmp([255, 0, 0])),
        ],
        |config| config.inject(false).token("vite-test-token"),
    );
    site.write("vite-client.mjs", vite_client(&site));
    tab.open(&site.url("/"));
    tab.wait_console("[vite] connected.", 1, SHORT);
    let first = tab.load_id();
    assert_eq!(tab.eval(&color_of("title")), json!(RED));
    assert_eq!(
        tab.eval("document.querySelectorAll('script[src=\"/@vite/client\"]').length"),
        json!(0),
        "hotserve's client is not injected"
    );

    // A sheet deep down an @import chain: Vite's client cannot swap it, so the page reloads
    // and shows it.
    site.write("deep/c.css", "h1 { color: blue }\n");
    tab.wait(&format!("{} === '{BLUE}'", color_of("title")), SHORT);
    tab.wait_console("[vite] connected.", 2, SHORT);
    let second = tab.load_id();
    assert_ne!(second, first, "the page reloaded");

    // An image the page shows: reloaded too.
    site.write("logo.bmp", bmp([0, 0, 255]));
    tab.wait(
        &format!(
            "{} === '{BLUE_PX}'",
            pixel_of("document.getElementById('logo')")
        ),
        SHORT,
    );
    assert_ne!(tab.load_id(), second, "the page reloaded again");
    tab.assert_clean(false);
}
