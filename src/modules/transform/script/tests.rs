use super::*;

fn ts(source: &str) -> String {
    compile(Path::new("/p/a.ts"), source, &ScriptOptions::default())
        .unwrap()
        .code
}

fn compile_with(file: &str, source: &str, options: &ScriptOptions) -> String {
    match compile(Path::new(file), source, options) {
        Ok(compiled) => compiled.code,
        Err(err) => panic!("{file}: {err}\n{}", err.frame().unwrap_or_default()),
    }
}

#[test]
fn types_are_stripped_and_values_kept() {
    // (input, must appear in the output, must not appear)
    let cases = [
        ("let n: number = 1;", "let n = 1;", ": number"),
        (
            "function f(a: string): void {}",
            "function f(a) {}",
            "string",
        ),
        (
            "interface I { a: 1 }\nexport const x = 1;",
            "export const x = 1;",
            "interface",
        ),
        ("type T = string;\nexport {};", "export {}", "type T"),
        (
            "const x = y as unknown as number;",
            "const x = y;",
            "unknown",
        ),
        ("const x = y!;", "const x = y;", "!"),
        (
            "class A { constructor(private a: number) {} }",
            "this.a = a",
            "private",
        ),
        ("let f = <T,>(a: T) => a;", "let f = (a) => a;", "<T"),
        ("export type { T } from './t';", "", "./t"),
    ];
    for (input, wanted, unwanted) in cases {
        let out = ts(input);
        assert!(out.contains(wanted), "{input:?} gave {out:?}");
        assert!(!out.contains(unwanted), "{input:?} gave {out:?}");
    }
}

#[test]
fn type_only_imports_are_removed_and_value_imports_kept() {
    let out = ts("import type { A } from './types';\n\
                  import { type B, c } from './mixed';\n\
                  import { D } from './only-types';\n\
                  let x: A | B | D = c;\n");
    assert!(!out.contains("./types"), "{out}");
    assert!(out.contains("import { c } from \"./mixed\""), "{out}");
    // Isolated modules: an import used only as a type is elided, as tsc does.
    assert!(!out.contains("./only-types"), "{out}");
}

#[test]
fn enums_and_namespaces_become_objects() {
    let out = ts("export enum Color { Red, Green = 'g' }\n\
                  export namespace NS { export const a = 1; }\n\
                  console.log(Color.Red, NS.a);");
    assert!(out.contains("Color[Color[\"Red\"] = 0] = \"Red\""), "{out}");
    assert!(out.contains("Color[\"Green\"] = \"g\""), "{out}");
    assert!(
        out.contains("NS.a = 1") || out.contains("_NS.a = 1"),
        "{out}"
    );
}

#[test]
fn jsx_uses_the_automatic_runtime_of_the_import_source() {
    let cases = [
        ("react", "from \"react/jsx-dev-runtime\""),
        ("preact", "from \"preact/jsx-dev-runtime\""),
    ];
    for (import_source, wanted) in cases {
        let options = ScriptOptions {
            jsx: Jsx::Automatic {
                import_source: import_source.into(),
            },
            ..ScriptOptions::default()
        };
        for file in ["/p/App.tsx", "/p/App.jsx"] {
            let out = compile_with(file, "export const A = () => <div>hi</div>;", &options);
            assert!(out.contains(wanted), "{file}: {out}");
            assert!(out.contains("jsxDEV(\"div\""), "{file}: {out}");
        }
    }
}

#[test]
fn jsx_uses_the_classic_factory_when_configured() {
    let options = ScriptOptions {
        jsx: Jsx::Classic {
            factory: "h".into(),
            fragment: "Fragment".into(),
        },
        ..ScriptOptions::default()
    };
    let out = compile_with(
        "/p/App.tsx",
        "import { h, Fragment } from 'preact';\nexport const A = () => <><b /></>;",
        &options,
    );
    assert!(
        out.contains("h(Fragment, null, /* @__PURE__ */ h(\"b\", null))"),
        "{out}"
    );
    // The factory's import is a value use, even though no identifier mentions it in TS.
    assert!(
        out.contains("import { h, Fragment } from \"preact\""),
        "{out}"
    );
}

#[test]
fn a_jsx_pragma_comment_overrides_the_options() {
    let out = compile_with(
        "/p/App.jsx",
        "/** @jsxImportSource solid-js */\nexport const A = () => <i />;",
        &ScriptOptions::default(),
    );
    assert!(out.contains("solid-js/jsx-dev-runtime"), "{out}");
}

#[test]
fn legacy_decorators_and_assigned_fields_follow_the_tsconfig() {
    let source = "import { customElement, property } from 'lit/decorators.js';\n\
                  @customElement('my-el')\n\
                  export class MyEl extends HTMLElement {\n\
                    @property({ type: Number }) count = 0;\n\
                    declared: string;\n\
                  }\n";
    let lit = ScriptOptions {
        legacy_decorators: true,
        define_class_fields: false,
        ..ScriptOptions::default()
    };
    let out = compile_with("/p/my-el.ts", source, &lit);
    assert!(
        out.contains("from \"/@hotserve/runtime/helpers/decorate\""),
        "{out}"
    );
    assert!(out.contains("\"count\""), "{out}");
    assert!(out.contains("this.count = 0"), "{out}");
    assert!(!out.contains("declared"), "{out}");
    assert!(
        out.contains("MyEl = _decorate([customElement(\"my-el\")], MyEl)"),
        "{out}"
    );
    assert!(
        !out.contains("@property") && !out.contains("@customElement"),
        "{out}"
    );
}

#[test]
fn class_fields_stay_defined_by_default() {
    let out = ts("export class A { count = 0; }");
    assert!(out.contains("count = 0;"), "{out}");
    assert!(!out.contains("this.count"), "{out}");
}

#[test]
fn the_source_map_points_back_to_the_original_file() {
    let compiled = compile(
        Path::new("/p/src/main.ts"),
        "type T = 1;\n\nexport const a: number = 1;\n",
        &ScriptOptions::default(),
    )
    .unwrap();
    let map: serde_json::Value = serde_json::from_str(&compiled.map).unwrap();
    assert_eq!(map["version"], 3);
    assert_eq!(map["sources"], serde_json::json!(["main.ts"]));
    assert_eq!(
        map["sourcesContent"],
        serde_json::json!(["type T = 1;\n\nexport const a: number = 1;\n"])
    );
    assert!(!map["mappings"].as_str().unwrap().is_empty());
}

#[test]
fn syntax_errors_name_the_file_line_column_and_show_a_frame() {
    let cases = [
        ("/p/a.ts", "let a = 1;\nlet b = ;\n", 2, 9),
        ("/p/b.tsx", "const x = <div>\n", 1, 16),
        ("/p/c.ts", "let s = 'open\n", 1, 9),
        ("/p/d.jsx", "const a = 1;\nconst b: number = 2;\n", 2, 7),
    ];
    for (file, source, line, column) in cases {
        let err = compile(Path::new(file), source, &ScriptOptions::default()).unwrap_err();
        assert_eq!(err.file(), Some(Path::new(file)), "{err}");
        assert_eq!(
            (err.line(), err.column()),
            (Some(line), Some(column)),
            "{file}: {err}"
        );
        assert_eq!(err.plugin(), Some("oxc"));
        assert!(err.frame().unwrap().contains('^'), "{err}");
    }
}

#[test]
fn hostile_inputs_are_errors_or_output_never_panics() {
    let deep = "(".repeat(20_000);
    let long_jsx = "<a>".repeat(5_000);
    let inputs = [
        "",
        "\u{FEFF}",
        "#!/usr/bin/env node\nlet a: number = 1;",
        "\0\0\0",
        "let \u{10FFFF} = 1;",
        "enum",
        "@",
        "<",
        "/*",
        "`${",
        deep.as_str(),
        long_jsx.as_str(),
        "class { @ }",
        "import type from 'x'; import type, { a } from 'y';",
    ];
    for input in inputs {
        for file in ["/p/x.ts", "/p/x.tsx", "/p/x.jsx", "/p/x.mts"] {
            let _ = compile(Path::new(file), input, &ScriptOptions::default());
        }
    }
}

#[test]
fn only_typescript_and_jsx_extensions_are_scripts() {
    for (path, expected) in [
        ("a.ts", true),
        ("a.MTS", true),
        ("a.tsx", true),
        ("a.jsx", true),
        ("a.js", false),
        ("a.d.ts", true),
        ("a.css", false),
        ("ts", false),
    ] {
        assert_eq!(is_script(Path::new(path)), expected, "{path}");
    }
}

#[test]
fn nesting_is_bounded_outside_strings_and_comments() {
    let deep = format!("let a = {}1{};", "(".repeat(1_001), ")".repeat(1_001));
    assert_eq!(too_deep(&deep), Some(8 + 1_000));
    let fine = format!("let a = {}1{};", "(".repeat(1_000), ")".repeat(1_000));
    assert_eq!(too_deep(&fine), None);
    let quoted = format!(
        "let s = '{0}'; // {0}\n/* {0} */ let t = \"{0}\";",
        "(".repeat(2_000)
    );
    assert_eq!(too_deep(&quoted), None);
    let err = compile(Path::new("/p/deep.ts"), &deep, &ScriptOptions::default()).unwrap_err();
    assert_eq!((err.line(), err.column()), (Some(1), Some(1_009)));
}
