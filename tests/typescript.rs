//! TypeScript, JSX and embedders' transforms in a real Chromium: modules compile, run,
//! hot-update, show the overlay on a broken save and recover on the next good one.
//!
//! Same prerequisites as tests/browser.rs (node, `npm ci` in tests/js, Chromium); Preact
//! comes from the test lockfile and is imported by its bare name.
#![cfg(all(feature = "transform", feature = "node"))]

mod common;

use common::browser::{Tab, browser, js_dir};
use common::{TestServer, hmr_client, next_json, write};
use hotserve::{Config, Output, TransformError};
use std::path::Path;
use std::time::Duration;
use tempfile::TempDir;

const SHORT: Duration = Duration::from_secs(10);

/// A page that loads `entry` as a module.
fn page(entry: &str) -> String {
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<script>window.__loadId = Math.random().toString(36).slice(2);</script>
</head><body><div id="app"></div>
<script type="module" src="{entry}"></script></body></html>
"#
    )
}

fn project(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        write(dir.path(), path, text);
    }
    dir
}

/// Preact from tests/js/node_modules, copied into the project's `node_modules`, where
/// the automatic runtime's `preact/jsx-dev-runtime` import finds it by name.
fn with_preact(root: &Path) {
    common::copy_dir(
        &js_dir().join("node_modules/preact"),
        &root.join("node_modules/preact"),
    );
}

/// The text of the error overlay, or an empty string when there is none.
fn overlay_text(tab: &mut Tab) -> String {
    tab.eval("document.querySelector('vite-error-overlay')?.shadowRoot.textContent ?? ''")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typescript_module_with_types_an_enum_and_a_type_only_import_runs() {
    let Some(mut tab) = browser() else { return };
    let site = project(&[
        ("index.html", &page("/src/main.ts")),
        (
            "src/types.ts",
            "export interface Shape { kind: Kind; size: number }\n\
             export type Kind = 'square' | 'circle';\n",
        ),
        (
            "src/geometry.ts",
            "import type { Shape } from './types.ts';\n\
             export enum Unit { Px = 'px', Em = 'em' }\n\
             export const area = (s: Shape): number => s.kind === 'square' ? s.size ** 2 : 0;\n",
        ),
        (
            "src/main.ts",
            "import type { Shape } from './types.ts';\n\
             import { area, Unit } from './geometry.ts';\n\
             const square: Shape = { kind: 'square', size: 3 };\n\
             const app = document.getElementById('app')!;\n\
             app.textContent = `${area(square)}${Unit.Px}`;\n",
        ),
    ]);
    let server = TestServer::start(Config::new(site.path())).await;
    let reply = server.get("/src/main.ts").await;
    assert_eq!(
        reply.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(
        reply
            .text()
            .contains("sourceMappingURL=data:application/json"),
        "{}",
        reply.text()
    );

    tab.open(&format!("http://{}/", server.addr));
    tab.wait_text("#app", "9px");
    tab.assert_clean(false);
    drop(tab);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tsx_component_renders_with_preacts_automatic_runtime() {
    let Some(mut tab) = browser() else { return };
    let site = project(&[
        (
            "tsconfig.json",
            r#"{ "compilerOptions": { "jsx": "react-jsx", "jsxImportSource": "preact", }, /* as create-vite writes it */ }"#,
        ),
        (
            "src/app.tsx",
            "type Props = { name: string };\n\
             export function App({ name }: Props) {\n\
               return <p id=\"hello\" class=\"greeting\">Hello, <b>{name}</b>!</p>;\n\
             }\n",
        ),
        (
            "src/main.tsx",
            "import { render } from 'preact';\n\
             import { App } from './app.tsx';\n\
             render(<App name=\"Preact\" />, document.getElementById('app')!);\n",
        ),
    ]);
    with_preact(site.path());
    write(site.path(), "index.html", page("/src/main.tsx"));
    let server = TestServer::start(Config::new(site.path())).await;

    tab.open(&format!("http://{}/", server.addr));
    tab.wait_text("#hello", "Hello, Preact!");
    assert_eq!(
        tab.eval("document.querySelector('#hello b').outerHTML"),
        "<b>Preact</b>"
    );
    tab.assert_clean(false);
    drop(tab);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_decorators_and_assigned_fields_make_a_reactive_custom_element() {
    // Lit's pattern without Lit: a decorator puts an accessor on the prototype, and with
    // `useDefineForClassFields: false` the field initialiser goes through it.
    let Some(mut tab) = browser() else { return };
    let site = project(&[
        ("index.html", &page("/src/main.ts")),
        (
            "tsconfig.json",
            r#"{ "compilerOptions": { "experimentalDecorators": true, "useDefineForClassFields": false } }"#,
        ),
        (
            "src/decorators.ts",
            "export const customElement = (name: string) => (cls: CustomElementConstructor) => {\n\
               customElements.define(name, cls);\n\
             };\n\
             export function reactive(proto: any, key: string) {\n\
               Object.defineProperty(proto, key, {\n\
                 get(this: any) { return this['__' + key]; },\n\
                 set(this: any, v: unknown) { this['__' + key] = v; this.render?.(); },\n\
               });\n\
             }\n",
        ),
        (
            "src/main.ts",
            "import { customElement, reactive } from './decorators.ts';\n\
             @customElement('x-counter')\n\
             export class Counter extends HTMLElement {\n\
               @reactive count: number = 40;\n\
               declare note: string;\n\
               // Children only once connected: a constructor must not add any.\n\
               render() { if (this.isConnected) this.textContent = `count ${this.count}`; }\n\
             }\n\
             const counter = document.createElement('x-counter') as Counter;\n\
             document.getElementById('app')!.append(counter);\n\
             counter.count += 2;\n\
             counter.id = Object.hasOwn(counter, 'count') ? 'shadowed' : 'reactive';\n",
        ),
    ]);
    let server = TestServer::start(Config::new(site.path())).await;

    tab.open(&format!("http://{}/", server.addr));
    tab.wait_text("x-counter", "count 42");
    assert_eq!(
        tab.eval("document.querySelector('x-counter').id"),
        "reactive"
    );
    tab.assert_clean(false);
    drop(tab);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_tsx_save_shows_the_overlay_and_the_next_good_save_clears_it() {
    let Some(mut tab) = browser() else { return };
    let component = |text: &str| {
        format!(
            "import {{ h }} from './h.ts';\n\
             export const Label = (p: {{ text: string }}) => <span id=\"label\">{{p.text}}</span>;\n\
             document.getElementById('app')!.replaceChildren(<Label text=\"{text}\" />);\n\
             import.meta.hot?.accept();\n"
        )
    };
    let site = project(&[
        ("index.html", &page("/src/label.tsx")),
        (
            "tsconfig.json",
            r#"{ "compilerOptions": { "jsx": "react", "jsxFactory": "h" } }"#,
        ),
        (
            "src/h.ts",
            "export function h(tag: any, props: any, ...children: any[]): Node {\n\
               if (typeof tag === 'function') return tag({ ...props, children });\n\
               const el = document.createElement(tag);\n\
               for (const [k, v] of Object.entries(props ?? {})) el.setAttribute(k, String(v));\n\
               el.append(...children.flat());\n\
               return el;\n\
             }\n",
        ),
        ("src/label.tsx", &component("first")),
    ]);
    let server = TestServer::start(Config::new(site.path())).await;
    tab.open(&format!("http://{}/", server.addr));
    tab.wait_text("#label", "first");
    tab.wait_connected(1);
    let load = tab.load_id();

    write(
        site.path(),
        "src/label.tsx",
        "import { h } from './h.ts';\n\
         export const Label = (p: { text: string }) => <span id=\"label\">{p.text}</span;\n",
    );
    tab.wait("!!document.querySelector('vite-error-overlay')", SHORT);
    let overlay = overlay_text(&mut tab);
    assert!(overlay.contains("/src/label.tsx:2:"), "{overlay}");
    assert!(overlay.contains("[plugin:oxc]"), "{overlay}");
    assert!(overlay.contains("2 | export const Label"), "{overlay}");
    // The page keeps running the last good version meanwhile.
    assert_eq!(tab.text_of("#label"), "first");

    write(site.path(), "src/label.tsx", component("second"));
    tab.wait_text("#label", "second");
    tab.wait("!document.querySelector('vite-error-overlay')", SHORT);
    assert_eq!(
        tab.load_id(),
        load,
        "the fix was a hot update, not a reload"
    );
    drop(tab);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_thrown_in_typescript_maps_back_to_its_ts_line() {
    let Some(mut tab) = browser() else { return };
    let site = project(&[
        ("index.html", &page("/src/fail.ts")),
        (
            "src/fail.ts",
            "// Types and blank lines vanish from the output, so lines shift.\n\
             interface Options {\n\
               verbose: boolean;\n\
             }\n\
             \n\
             type Id = string;\n\
             \n\
             export function check(options: Options, id: Id): never {\n\
               throw new Error(`failed ${id} ${options.verbose}`);\n\
             }\n\
             try { check({ verbose: true }, 'x'); } catch (e) {\n\
               (window as any).__stack = (e as Error).stack;\n\
             }\n",
        ),
    ]);
    let server = TestServer::start(Config::new(site.path())).await;
    tab.open(&format!("http://{}/", server.addr));
    tab.wait("typeof window.__stack === 'string'", SHORT);
    let stack = tab.eval("window.__stack").as_str().unwrap().to_owned();
    drop(tab);

    // The first frame: `at check (http://host/src/fail.ts:LINE:COLUMN)`, in served code.
    let frame = stack
        .lines()
        .find(|l| l.contains("/src/fail.ts:"))
        .unwrap_or_else(|| panic!("no frame in {stack}"));
    let position = frame.rsplit("/src/fail.ts:").next().unwrap();
    let mut parts = position.trim_end_matches(')').split(':');
    let line: u32 = parts.next().unwrap().parse().unwrap();
    let column: u32 = parts.next().unwrap().parse().unwrap();

    let served = server.get("/src/fail.ts").await.text();
    let map = inline_map(&served);
    let map = oxc_sourcemap::SourceMap::from_json_string(&map).unwrap();
    let table = map.generate_lookup_table();
    let token = map
        .lookup_token(&table, line - 1, column - 1)
        .expect("the thrown position is mapped");
    assert_eq!(
        map.get_source(token.get_source_id().unwrap()),
        Some("fail.ts")
    );
    assert_eq!(
        token.get_src_line() + 1,
        9,
        "the throw is on line 9 of fail.ts (stack: {frame})"
    );
    server.stop().await;
}

/// The source map inlined in a served module.
fn inline_map(code: &str) -> String {
    use base64::Engine;
    let data = code
        .rsplit("sourceMappingURL=data:application/json;charset=utf-8;base64,")
        .next()
        .unwrap()
        .trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

/// A transform an embedder could register: `.txt` files export their text; text that
/// says `ERROR` on some line fails there.
fn text_module(_: &Path, source: &str) -> Result<Option<Output>, TransformError> {
    if let Some(line) = source.lines().position(|l| l.contains("ERROR")) {
        return Err(TransformError::new("this text has an error in it").at(line as u32 + 1, 1));
    }
    Ok(Some(Output::js(format!(
        "export default {};\n",
        serde_json::Value::from(source.trim())
    ))))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedders_transform_joins_hot_updates_and_reports_errors_to_the_overlay() {
    let Some(mut tab) = browser() else { return };
    let site = project(&[
        ("index.html", &page("/main.js")),
        (
            "main.js",
            "import text from './note.txt';\n\
             const show = (t) => { document.getElementById('app').textContent = t; };\n\
             show(text);\n\
             import.meta.hot.accept('./note.txt', (m) => show(m.default));\n",
        ),
        ("note.txt", "hello"),
    ]);
    let config = Config::new(site.path()).transform(["txt"], text_module);
    let server = TestServer::start(config).await;
    tab.open(&format!("http://{}/", server.addr));
    tab.wait_text("#app", "hello");
    tab.wait_connected(1);
    let load = tab.load_id();

    write(site.path(), "note.txt", "updated");
    tab.wait_text("#app", "updated");
    assert_eq!(tab.load_id(), load, "a hot update, not a reload");

    write(site.path(), "note.txt", "fine\nERROR here\n");
    tab.wait("!!document.querySelector('vite-error-overlay')", SHORT);
    let overlay = overlay_text(&mut tab);
    assert!(
        overlay.contains("this text has an error in it"),
        "{overlay}"
    );
    assert!(overlay.contains("/note.txt:2:1"), "{overlay}");
    assert!(overlay.contains("2 | ERROR here"), "{overlay}");
    assert_eq!(tab.text_of("#app"), "updated");

    write(site.path(), "note.txt", "recovered");
    tab.wait_text("#app", "recovered");
    tab.wait("!document.querySelector('vite-error-overlay')", SHORT);
    assert_eq!(tab.load_id(), load);
    drop(tab);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_resolve_the_way_typescripts_bundler_mode_does() {
    let Some(mut tab) = browser() else { return };
    let site = project(&[
        ("index.html", &page("/src/main.js")),
        (
            "tsconfig.json",
            // `allowJs`: as in TypeScript, a tsconfig governs JavaScript files only then.
            r#"{ "compilerOptions": {
                 "baseUrl": ".", "paths": { "@/*": ["src/*"] }, "allowJs": true,
                 "jsx": "react", "jsxFactory": "h",
               } }"#,
        ),
        (
            "src/h.ts",
            "export const h = (tag: string, _: unknown, ...children: unknown[]): string =>\n\
               `<${tag}>${children.join('')}</${tag}>`;\n",
        ),
        ("src/counter.ts", "export const counter: number = 1;\n"),
        ("src/a.ts", "export const a: string = 'a';\n"),
        (
            "src/lib/util.ts",
            "export const util = (s: string): string => s.toUpperCase();\n",
        ),
        // From a .tsx module: extension-less, and a tsconfig `paths` alias.
        (
            "src/view.tsx",
            "import { h } from './h';\n\
             import { counter } from './counter';\n\
             import { util } from '@/lib/util';\n\
             export const view = (): string => <b>{util('v')}{counter}</b>;\n",
        ),
        // From a .jsx module: `./a.js` is `a.ts`, and `baseUrl` makes `src/...` a name.
        (
            "src/widget.jsx",
            "import { a } from './a.js';\n\
             import { counter } from 'src/counter';\n\
             export const widget = () => a + counter;\n",
        ),
        // From a .ts module, and from plain JavaScript below.
        (
            "src/parts.ts",
            "export { view } from './view';\n\
             export { widget } from './widget';\n",
        ),
        ("src/style.css", "#app { color: rgb(1, 2, 3); }\n"),
        (
            "src/main.js",
            "import './style.css';\n\
             import { view, widget } from './parts';\n\
             import { util } from '@/lib/util';\n\
             document.getElementById('app').textContent = [view(), widget(), util('m')].join(' ');\n",
        ),
    ]);
    let server = TestServer::start(Config::new(site.path())).await;

    // Rewritten to the files' URLs, which the browser fetches as they are.
    let imports = |code: &str, url: &str| {
        code.contains(&format!("\"{url}\"")) || code.contains(&format!("'{url}'"))
    };
    let main = server.get("/src/main.js").await.text();
    assert!(imports(&main, "/src/parts.ts"), "{main}");
    assert!(imports(&main, "/src/lib/util.ts"), "{main}");
    // A file named as written is left alone (and marked as an import of CSS).
    assert!(imports(&main, "./style.css?import"), "{main}");
    let view = server.get("/src/view.tsx").await.text();
    assert!(imports(&view, "/src/counter.ts"), "{view}");
    assert!(imports(&view, "/src/lib/util.ts"), "{view}");
    let widget = server.get("/src/widget.jsx").await.text();
    assert!(imports(&widget, "/src/a.ts"), "{widget}");
    assert!(imports(&widget, "/src/counter.ts"), "{widget}");

    tab.open(&format!("http://{}/", server.addr));
    tab.wait_text("#app", "<b>V1</b> a1 M");
    tab.assert_clean(false);
    drop(tab);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_that_finds_no_file_in_bundler_mode_shows_the_overlay() {
    let Some(mut tab) = browser() else { return };
    let site = project(&[
        ("index.html", &page("/src/main.ts")),
        (
            "src/main.ts",
            "import { gone } from './missing';\nconsole.log(gone);\n",
        ),
    ]);
    let server = TestServer::start(Config::new(site.path())).await;
    tab.open(&format!("http://{}/", server.addr));
    tab.wait("!!document.querySelector('vite-error-overlay')", SHORT);
    let overlay = overlay_text(&mut tab);
    assert!(
        overlay.contains("Failed to resolve import \"./missing\""),
        "{overlay}"
    );
    drop(tab);
    server.stop().await;
}

/// The compiled code has no interface and no type: its import sits on line 1. The error
/// names line 6, column 23 (the specifier), and shows that line, as the editor has it.
#[tokio::test]
async fn an_import_that_does_not_resolve_is_located_in_the_typescript_as_written() {
    let site = project(&[(
        "src/main.ts",
        "interface Point {\n  x: number;\n  y: number;\n}\ntype Pair = [Point, Point];\n\
         import { gone } from './missing';\nexport const pair: Pair | undefined = gone;\n",
    )]);
    let server = TestServer::start(Config::new(site.path())).await;
    let mut ws = hmr_client(server.addr).await;
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    let reply = server.get("/src/main.ts").await;
    assert_eq!(reply.status, 200, "the module that shows the overlay");
    let payload = next_json(&mut ws).await;
    assert_eq!(payload["type"], "error", "{payload}");
    let err = &payload["err"];
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .ends_with("No file at src/missing."),
        "{err}"
    );
    assert_eq!(err["loc"]["line"], 6, "{err}");
    assert_eq!(err["loc"]["column"], 23, "{err}");
    let frame = err["frame"].as_str().unwrap_or_default();
    assert!(
        frame.contains("import { gone } from './missing';"),
        "{frame}"
    );
    server.stop().await;
}
