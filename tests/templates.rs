//! The real-template check: create-vite's `vanilla`, `lit` starters, with the `transform`
//! feature `vanilla-ts`, `lit-ts`, `preact` and `preact-ts`, and with `bundle` too `react`
//! and `react-ts`, generated at test time by the create-vite pinned in
//! `tests/js/package-lock.json` (never committed), installed with `npm install` from the
//! registry (once per set of dependencies: templates that share them share one install),
//! served by the real `hotserve` binary and driven in headless Chromium: they render with no
//! console errors, a CSS edit swaps in place without a reload, and a component edit shows
//! up; in the React and Preact templates it does so in place, with the counter's state kept.
//!
//! Needs `npm ci --prefix tests/js`, Chromium and the npm registry. When one is missing the
//! test passes with a note, unless `HOTSERVE_REQUIRE_BROWSER=1` (CI).
#![cfg(feature = "node")]

mod common;

use common::blocking::Binary;
use common::browser::{Tab, browser};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn create_vite() -> Option<PathBuf> {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/node_modules/create-vite/index.js");
    if script.is_file() {
        return Some(script);
    }
    let required = std::env::var("HOTSERVE_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
        || std::env::var("HOTSERVE_REQUIRE_JS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "the pinned create-vite is missing: run `npm ci --prefix tests/js`"
    );
    eprintln!("skipping template test: run `npm ci --prefix tests/js` to enable it");
    None
}

/// Generate `template` into `parent/app` and install its dependencies, or copy them from
/// an earlier template with the same `dependencies` (`installed`: their text -> that app).
fn generate(
    script: &Path,
    parent: &Path,
    template: &Template,
    installed: &mut Vec<(String, PathBuf)>,
) -> PathBuf {
    let (with_dev, template) = (template.dev_dependencies, template.name);
    let status = Command::new("node")
        .arg(script)
        .args([
            "app",
            "--template",
            template,
            "--no-interactive",
            "--no-immediate",
        ])
        .current_dir(parent)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("node runs create-vite");
    assert!(status.success(), "create-vite --template {template} failed");
    let app = parent.join("app");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.join("package.json")).unwrap()).unwrap();
    if manifest["dependencies"]
        .as_object()
        .is_none_or(|deps| deps.is_empty())
    {
        // Only development dependencies (Vite, TypeScript): nothing the page loads.
        return app;
    }
    let mut dependencies = manifest["dependencies"].to_string();
    if with_dev {
        dependencies.push_str(&manifest["devDependencies"].to_string());
    }
    if let Some((_, earlier)) = installed.iter().find(|(deps, _)| *deps == dependencies) {
        common::copy_dir(&earlier.join("node_modules"), &app.join("node_modules"));
        std::fs::copy(
            earlier.join("package-lock.json"),
            app.join("package-lock.json"),
        )
        .unwrap();
        return app;
    }
    // Development dependencies are mostly Vite itself, which hotserve replaces; the React
    // templates need them for the refresh runtime that @vitejs/plugin-react ships.
    let omit = if with_dev { None } else { Some("--omit=dev") };
    let status = Command::new("npm")
        .args(
            ["install", "--no-audit", "--no-fund", "--loglevel=error"]
                .into_iter()
                .chain(omit),
        )
        .current_dir(&app)
        .stdin(Stdio::null())
        .status()
        .expect("npm runs");
    assert!(
        status.success(),
        "npm install failed in the {template} template"
    );
    installed.push((dependencies, app.clone()));
    app
}

/// Append `text` to the file at `path`.
fn append(path: &Path, text: &str) {
    let mut content = std::fs::read_to_string(path).unwrap();
    content.push_str(text);
    std::fs::write(path, content).unwrap();
}

fn replace(path: &Path, from: &str, to: &str) {
    let content = std::fs::read_to_string(path).unwrap();
    assert!(
        content.contains(from),
        "{} contains {from:?}",
        path.display()
    );
    std::fs::write(path, content.replace(from, to)).unwrap();
}

/// What each template shows, and which files the test edits.
struct Template {
    name: &'static str,
    /// Truthy once the app rendered; `{}` is replaced by the counter's label.
    rendered: &'static str,
    stylesheet: &'static str,
    component: &'static str,
    /// Install the development dependencies too.
    dev_dependencies: bool,
    /// A component edit keeps the state (Fast Refresh): the check clicks the counter to 3
    /// first and wants the edited counter to still say 3, without a reload.
    keeps_state: bool,
}

const PLAIN: [Template; 2] = [
    Template {
        name: "vanilla",
        rendered: "document.querySelector('#counter')?.textContent === '{} 0'",
        stylesheet: "src/style.css",
        component: "src/counter.js",
        dev_dependencies: false,
        keeps_state: false,
    },
    Template {
        name: "lit",
        rendered: LIT_RENDERED,
        stylesheet: "src/index.css",
        component: "src/my-element.js",
        dev_dependencies: false,
        keeps_state: false,
    },
];

const LIT_RENDERED: &str = "document.querySelector('my-element')?.shadowRoot\
                            ?.querySelector('button')?.textContent.trim() === '{} 0'";

/// Preact renders `Count is {count}` into `button.counter`.
#[cfg(feature = "transform")]
const PREACT_RENDERED: &str = "document.querySelector('button.counter')?.textContent === '{} 0'";

/// The templates TypeScript and JSX make work (issue 13); the Preact ones keep state
/// across component edits with Prefresh (issue 14).
#[cfg(feature = "transform")]
const COMPILED: [Template; 4] = [
    Template {
        name: "vanilla-ts",
        rendered: "document.querySelector('#counter')?.textContent === '{} 0'",
        stylesheet: "src/style.css",
        component: "src/counter.ts",
        dev_dependencies: false,
        keeps_state: false,
    },
    Template {
        name: "lit-ts",
        rendered: LIT_RENDERED,
        stylesheet: "src/index.css",
        component: "src/my-element.ts",
        dev_dependencies: false,
        keeps_state: false,
    },
    // No jsconfig: Vite's Preact plugin sets the JSX import source; hotserve picks `preact`
    // because the project depends on preact and not on react.
    Template {
        name: "preact",
        rendered: PREACT_RENDERED,
        stylesheet: "src/index.css",
        component: "src/app.jsx",
        // @preact/preset-vite brings Prefresh, Preact's Fast Refresh runtime.
        dev_dependencies: true,
        keeps_state: true,
    },
    Template {
        name: "preact-ts",
        rendered: PREACT_RENDERED,
        stylesheet: "src/index.css",
        component: "src/app.tsx",
        // @preact/preset-vite brings Prefresh, Preact's Fast Refresh runtime.
        dev_dependencies: true,
        keeps_state: true,
    },
];

/// The React templates (issue 14): CommonJS React through the pre-bundler, Fast Refresh
/// with the runtime @vitejs/plugin-react installs.
#[cfg(all(feature = "transform", feature = "bundle"))]
const REACT: [Template; 2] = [
    Template {
        name: "react",
        rendered: PREACT_RENDERED,
        stylesheet: "src/index.css",
        component: "src/App.jsx",
        dev_dependencies: true,
        keeps_state: true,
    },
    Template {
        name: "react-ts",
        rendered: PREACT_RENDERED,
        stylesheet: "src/index.css",
        component: "src/App.tsx",
        dev_dependencies: true,
        keeps_state: true,
    },
];

fn check(
    tab: &mut Tab,
    script: &Path,
    template: &Template,
    parent: &Path,
    installed: &mut Vec<(String, PathBuf)>,
) {
    let parent = parent.join(template.name);
    std::fs::create_dir_all(&parent).unwrap();
    let app = generate(script, &parent, template, installed);
    // Its log goes to the test's stderr: it says why a template does not render.
    let mut command = Command::new(env!("CARGO_BIN_EXE_hotserve"));
    command
        .arg(&app)
        .args(["--port", "0"])
        .stderr(Stdio::inherit());
    let server = Binary::spawn(command);
    tab.open(&server.url("/"));
    tab.wait(&template.rendered.replace("{}", "Count is"), WAIT);
    tab.wait_connected(1);
    tab.assert_clean(false);

    // A stylesheet edit swaps in place: the page is not reloaded.
    tab.eval("window.__sameLoad = true");
    append(
        &app.join(template.stylesheet),
        "\nbody { outline: 3px solid rgb(1, 2, 3); }\n",
    );
    tab.wait(
        "getComputedStyle(document.body).outlineColor === 'rgb(1, 2, 3)'",
        WAIT,
    );
    assert_eq!(
        tab.eval("window.__sameLoad === true"),
        serde_json::json!(true),
        "{}: the CSS edit reloaded the page",
        template.name
    );

    // A component edit shows up; with Fast Refresh, in place and with the state kept.
    let count = if template.keeps_state {
        for _ in 0..3 {
            tab.eval("document.querySelector('button.counter').click()");
        }
        tab.wait(&template.rendered.replace("{} 0", "Count is 3"), WAIT);
        "3"
    } else {
        "0"
    };
    replace(&app.join(template.component), "Count is", "Clicked");
    let edited = template
        .rendered
        .replace("{} 0", &format!("Clicked {count}"));
    tab.wait(&edited, WAIT);
    if template.keeps_state {
        assert_eq!(
            tab.eval("window.__sameLoad === true"),
            serde_json::json!(true),
            "{}: the component edit reloaded the page",
            template.name
        );
    }
    tab.assert_clean(false);
}

#[test]
fn create_vite_vanilla_and_lit_render_and_update_unmodified() {
    let Some(script) = create_vite() else {
        return;
    };
    let Some(mut tab) = browser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut installed = Vec::new();
    for template in &PLAIN {
        check(&mut tab, &script, template, dir.path(), &mut installed);
    }
}

#[cfg(feature = "transform")]
#[test]
fn create_vite_typescript_and_preact_templates_render_and_update_unmodified() {
    let Some(script) = create_vite() else {
        return;
    };
    let Some(mut tab) = browser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut installed = Vec::new();
    for template in &COMPILED {
        check(&mut tab, &script, template, dir.path(), &mut installed);
    }
}

#[cfg(all(feature = "transform", feature = "bundle"))]
#[test]
fn create_vite_react_templates_render_and_keep_state_across_component_edits() {
    let Some(script) = create_vite() else {
        return;
    };
    let Some(mut tab) = browser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut installed = Vec::new();
    for template in &REACT {
        check(&mut tab, &script, template, dir.path(), &mut installed);
    }
}
