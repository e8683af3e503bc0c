use super::*;
use std::fs;

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        Project { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    fn options(&self, file: &str) -> Result<ScriptOptions, TransformError> {
        Tsconfigs::new(self.root()).options_for(&self.root().join(file))
    }
}

fn automatic(source: &str) -> Jsx {
    Jsx::Automatic {
        import_source: source.into(),
    }
}

#[test]
fn without_any_config_jsx_is_reacts_automatic_runtime_and_fields_are_defined() {
    let project = Project::new(&[("src/a.tsx", "")]);
    assert_eq!(
        project.options("src/a.tsx").unwrap(),
        ScriptOptions::default()
    );
}

#[test]
fn the_lit_template_tsconfig_asks_for_legacy_decorators_and_assigned_fields() {
    // As create-vite's lit-ts writes it: comments and a trailing comma included.
    let tsconfig = r#"{
      "compilerOptions": {
        "target": "ES2022",
        "experimentalDecorators": true,
        "useDefineForClassFields": false,
        /* Bundler mode */
        "moduleResolution": "bundler", // trailing comment
        "allowImportingTsExtensions": true,
      },
      "include": ["src"]
    }"#;
    let project = Project::new(&[("tsconfig.json", tsconfig), ("src/my-element.ts", "")]);
    let options = project.options("src/my-element.ts").unwrap();
    assert!(options.legacy_decorators);
    assert!(!options.define_class_fields);
    assert_eq!(options.jsx, automatic("react"));
}

#[test]
fn the_preact_template_options_come_through_project_references() {
    let project = Project::new(&[
        (
            "tsconfig.json",
            r#"{ "files": [], "references": [{ "path": "./tsconfig.app.json" }, { "path": "./tsconfig.node.json" }] }"#,
        ),
        (
            "tsconfig.app.json",
            r#"{ "compilerOptions": { "jsx": "react-jsx", "jsxImportSource": "preact" }, "include": ["src"] }"#,
        ),
        (
            "tsconfig.node.json",
            r#"{ "compilerOptions": {}, "include": ["vite.config.ts"] }"#,
        ),
        ("src/app.tsx", ""),
    ]);
    assert_eq!(
        project.options("src/app.tsx").unwrap().jsx,
        automatic("preact")
    );
}

#[test]
fn extends_chains_are_followed_and_nearer_settings_win() {
    let project = Project::new(&[
        (
            "base.json",
            r#"{ "compilerOptions": { "jsx": "react", "jsxFactory": "h", "experimentalDecorators": true } }"#,
        ),
        (
            "tsconfig.json",
            r#"{ "extends": "./base.json", "compilerOptions": { "jsxFragmentFactory": "Fragment" } }"#,
        ),
        ("src/a.tsx", ""),
    ]);
    let options = project.options("src/a.tsx").unwrap();
    assert_eq!(
        options.jsx,
        Jsx::Classic {
            factory: "h".into(),
            fragment: "Fragment".into()
        }
    );
    assert!(options.legacy_decorators);
}

#[test]
fn a_jsconfig_counts_when_there_is_no_tsconfig() {
    let project = Project::new(&[
        (
            "jsconfig.json",
            r#"{ "compilerOptions": { "jsxImportSource": "solid-js" } }"#,
        ),
        ("src/a.jsx", ""),
    ]);
    assert_eq!(
        project.options("src/a.jsx").unwrap().jsx,
        automatic("solid-js")
    );
}

#[test]
fn a_project_depending_on_preact_and_not_react_gets_preact_jsx() {
    let cases = [
        (r#"{ "dependencies": { "preact": "10" } }"#, "preact"),
        (
            r#"{ "dependencies": { "preact": "10", "react": "19" } }"#,
            "react",
        ),
        (r#"{ "dependencies": { "react": "19" } }"#, "react"),
        ("not json", "react"),
    ];
    for (manifest, expected) in cases {
        let project = Project::new(&[("package.json", manifest), ("src/a.jsx", "")]);
        assert_eq!(
            project.options("src/a.jsx").unwrap().jsx,
            automatic(expected),
            "{manifest}"
        );
    }
}

#[test]
fn the_target_decides_field_semantics_when_the_option_is_absent() {
    for (target, defined) in [
        ("ES2020", false),
        ("es2022", true),
        ("ESNext", true),
        ("ES5", false),
    ] {
        let tsconfig = format!(r#"{{ "compilerOptions": {{ "target": "{target}" }} }}"#);
        let project = Project::new(&[("tsconfig.json", &tsconfig), ("a.ts", "")]);
        assert_eq!(
            project.options("a.ts").unwrap().define_class_fields,
            defined,
            "{target}"
        );
    }
}

#[test]
fn a_broken_tsconfig_is_an_error_that_names_it() {
    let project = Project::new(&[
        ("tsconfig.json", "{ \"compilerOptions\": { oops } }"),
        ("a.ts", ""),
    ]);
    let err = project.options("a.ts").unwrap_err();
    assert!(err.message().contains("tsconfig.json"), "{err}");
}

#[test]
fn options_are_read_again_after_clear() {
    let project = Project::new(&[
        (
            "tsconfig.json",
            r#"{ "compilerOptions": { "jsxImportSource": "preact" } }"#,
        ),
        ("a.tsx", ""),
    ]);
    let configs = Tsconfigs::new(project.root());
    let file = project.root().join("a.tsx");
    assert_eq!(configs.options_for(&file).unwrap().jsx, automatic("preact"));
    fs::write(
        project.root().join("tsconfig.json"),
        r#"{ "compilerOptions": { "jsxImportSource": "react" } }"#,
    )
    .unwrap();
    configs.clear();
    assert_eq!(configs.options_for(&file).unwrap().jsx, automatic("react"));
}

#[test]
fn only_config_files_affect_options() {
    for (path, expected) in [
        ("/p/tsconfig.json", true),
        ("/p/tsconfig.app.json", true),
        ("/p/jsconfig.json", true),
        ("/p/package.json", true),
        ("/p/src/main.ts", false),
        ("/p/tsconfig.json.bak", false),
    ] {
        assert_eq!(affects_options(Path::new(path)), expected, "{path}");
    }
}
