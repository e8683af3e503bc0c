use super::*;
use crate::protocol::Update;

/// The literal specifiers of `source`, dynamic ones without a literal as `None`.
fn specifiers(source: &str) -> Vec<Option<String>> {
    scan(source)
        .imports
        .into_iter()
        .map(|i| i.specifier.map(|s| s.value))
        .collect()
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some((*v).to_owned())).collect()
}

// ---- scanner ----

#[test]
fn static_import_forms_are_all_found_in_order() {
    let source = r#"
        import x from "./default.js";
        import {a, b as c} from './named.js';
        import * as ns from "./namespace.js";
        import y, { z } from "./mixed.js";
        import "./side-effect.js";
        import from from "./from-named-from.js";
        import { from as f, "string name" as g } from "./tricky-names.js";
        import json from "./data.json" with { type: "json" };
    "#;
    assert_eq!(
        specifiers(source),
        some(&[
            "./default.js",
            "./named.js",
            "./namespace.js",
            "./mixed.js",
            "./side-effect.js",
            "./from-named-from.js",
            "./tricky-names.js",
            "./data.json",
        ])
    );
    assert!(
        scan(source)
            .imports
            .iter()
            .all(|i| i.kind == ImportKind::Static)
    );
}

#[test]
fn re_exports_are_imports_but_local_exports_are_not() {
    let source = r#"
        export * from "./all.js";
        export * as ns from './ns.js';
        export { a, b as c } from "./named.js";
        export { local };
        export const value = 1;
        export default function from() {}
    "#;
    let scanned = scan(source);
    assert_eq!(
        specifiers(source),
        some(&["./all.js", "./ns.js", "./named.js"])
    );
    assert!(
        scanned
            .imports
            .iter()
            .all(|i| i.kind == ImportKind::ReExport)
    );
}

#[test]
fn dynamic_imports_keep_literals_and_mark_computed_ones() {
    let source = r#"
        const a = await import("./lazy.js");
        import(/* webpackChunkName: "x" */ './commented.js');
        import(`./template-${name}.js`);
        import(base + "/x.js");
        import("./with-options.js", { with: { type: "json" } });
    "#;
    assert_eq!(
        specifiers(source),
        vec![
            Some("./lazy.js".into()),
            Some("./commented.js".into()),
            None,
            None,
            Some("./with-options.js".into()),
        ]
    );
    assert!(
        scan(source)
            .imports
            .iter()
            .all(|i| i.kind == ImportKind::Dynamic)
    );
}

#[test]
fn specifier_ranges_cover_the_text_between_the_quotes() {
    let source = "import a from './a.js';\nconst b = import(\"./b.js\");";
    let scanned = scan(source);
    for import in &scanned.imports {
        let spec = import.specifier.as_ref().expect("literal");
        assert_eq!(&source[spec.range.clone()], spec.value);
    }
    assert_eq!(scanned.imports[0].start, 0);
    assert_eq!(&source[scanned.imports[1].start..][..6], "import");
}

#[test]
fn import_meta_is_recorded_but_is_not_an_import() {
    let source = "const url = new URL('./x.png', import.meta.url);\nimport.meta.env;";
    let scanned = scan(source);
    assert!(scanned.imports.is_empty());
    let first = source.find("import.meta").expect("present");
    let second = source.rfind("import.meta").expect("present");
    assert_eq!(scanned.import_meta, vec![first, second]);
    assert!(!scanned.hot.mentioned);
}

#[test]
fn comments_hide_imports() {
    let source = r#"
        // import a from "./line-comment.js";
        /* import b from "./block-comment.js";
           import("./also-hidden.js") */
        import c from "./real.js"; // import("./trailing.js")
    "#;
    assert_eq!(specifiers(source), some(&["./real.js"]));
}

#[test]
fn strings_hide_imports_even_with_escaped_quotes() {
    let source = r#"
        const s1 = "import a from './in-double.js' \" import('./still-in.js')";
        const s2 = 'import("./in-single.js") \' import "./still.js"';
        import real from "./real.js";
    "#;
    assert_eq!(specifiers(source), some(&["./real.js"]));
}

#[test]
fn template_literals_hide_text_but_not_code_in_substitutions() {
    let source = r#"
        const t = `import("./text.js") ${ import("./code.js") } and ${ `nested ${ { a: "}" }.a } import("./nested-text.js")` } tail`;
        const u = `${ '`' } import("./after-quoted-backtick.js")`;
        import("./after.js");
    "#;
    assert_eq!(specifiers(source), some(&["./code.js", "./after.js"]));
}

#[test]
fn division_is_not_mistaken_for_a_regex() {
    let source = r#"
        const r = a / b / c; import("./after-division.js");
        const s = (x) / 2 / y; const t = arr[0] / 2 / z;
        import("./still-code.js");
    "#;
    assert_eq!(
        specifiers(source),
        some(&["./after-division.js", "./still-code.js"])
    );
}

#[test]
fn keywords_used_as_property_names_do_not_start_a_regex() {
    let source = "x = a.return / 2; y = b.default / c; import('./after.js'); // /";
    assert_eq!(specifiers(source), some(&["./after.js"]));
}

#[test]
fn regex_literals_hide_imports() {
    let source = r#"
        x = /import("y")/;
        if (ok) /import "z"/.test(s);
        const re = /[/]import('w')/g, n = 1;
        function f() { return /"/.test(q) }
        export default /import("./after-default.js")/;
        import("./real.js");
    "#;
    assert_eq!(specifiers(source), some(&["./real.js"]));
}

#[test]
fn import_as_a_property_or_method_name_is_not_an_import() {
    let source = r#"
        obj.import("./property-call.js");
        const o = { import: 1, importer: "./x.js" };
        class C { import(x) { return x } }
        const m = { import("./method.js") { } };
        reimport("./prefixed.js");
    "#;
    assert!(specifiers(source).is_empty());
}

#[test]
fn static_syntax_inside_blocks_is_not_a_static_import() {
    let source = r#"
        function f() { import("./dynamic-is-fine.js") }
        const o = { x: `${ "import 'no'" }` };
    "#;
    assert_eq!(specifiers(source), some(&["./dynamic-is-fine.js"]));
}

#[test]
fn unicode_source_keeps_ranges_on_char_boundaries() {
    let source =
        "const é = '→'; /* ünïcödé */ import a from \"./café/ø.js\";\nimport(\"./日本.js\");";
    let scanned = scan(source);
    let values: Vec<_> = scanned
        .imports
        .iter()
        .filter_map(|i| i.specifier.clone())
        .collect();
    assert_eq!(values.len(), 2);
    for spec in values {
        assert_eq!(&source[spec.range.clone()], spec.value);
    }
}

#[test]
fn a_byte_order_mark_and_unicode_spaces_separate_tokens() {
    let source =
        "\u{FEFF}import a from './a.js';\u{00A0}import\u{00A0}'./b.js';\u{2028}import('./c.js')";
    assert_eq!(specifiers(source), some(&["./a.js", "./b.js", "./c.js"]));
}

#[test]
fn escapes_in_specifiers_are_decoded() {
    let scanned = scan(r#"import a from "./\x61\u{62}\u0063.js";"#);
    let spec = scanned.imports[0].specifier.as_ref().expect("literal");
    assert_eq!(spec.value, "./abc.js");
}

#[test]
fn malformed_source_does_not_panic() {
    for source in [
        "import",
        "import(",
        "import x from",
        "import \"unterminated",
        "`${",
        "/* open",
        "x = /[/",
        "}}})]]",
        "import.meta.hot.accept([",
        "\\",
    ] {
        let _ = scan(source);
    }
}

// ---- HMR usage ----

#[test]
fn accept_without_arguments_or_with_a_callback_is_a_self_accept() {
    for source in [
        "import.meta.hot.accept()",
        "import.meta.hot.accept(mod => {})",
        "import.meta.hot.accept((mod) => render(mod))",
        "if (import.meta.hot) { import.meta.hot.accept(function () {}) }",
        "import.meta.hot?.accept()",
    ] {
        let hot = scan(source).hot;
        assert!(hot.mentioned && hot.self_accepting, "{source}");
        assert!(hot.accepted_deps.is_empty(), "{source}");
    }
}

#[test]
fn accept_with_strings_lists_the_accepted_deps_and_their_ranges() {
    let source = r#"import.meta.hot.accept("./dep.js", cb);
import.meta.hot.accept(['./a.js', "./b.js",], ([a, b]) => {});"#;
    let hot = scan(source).hot;
    assert!(!hot.self_accepting);
    let deps: Vec<_> = hot.accepted_deps.iter().map(|d| d.value.as_str()).collect();
    assert_eq!(deps, ["./dep.js", "./a.js", "./b.js"]);
    for dep in &hot.accepted_deps {
        assert_eq!(&source[dep.range.clone()], dep.value);
    }
}

#[test]
fn accept_exports_counts_as_self_accepting() {
    let hot = scan("import.meta.hot.acceptExports(['render'], () => {})").hot;
    assert!(hot.self_accepting);
    assert!(hot.accepted_deps.is_empty());
}

#[test]
fn hot_mentioned_only_in_comments_or_strings_is_not_usage() {
    let hot = scan("// import.meta.hot.accept()\nconst s = 'import.meta.hot';").hot;
    assert_eq!(hot, HotUsage::default());
    let hot = scan("if (import.meta.hot) { import.meta.hot.dispose(() => {}) }").hot;
    assert!(hot.mentioned && !hot.self_accepting);
}

// ---- resolution ----

#[test]
fn relative_specifiers_resolve_against_the_importer_directory() {
    assert_eq!(
        resolve("/src/app.js", "./x.js").as_deref(),
        Some("/src/x.js")
    );
    assert_eq!(
        resolve("/src/a/b.js", "../x.js").as_deref(),
        Some("/src/x.js")
    );
    assert_eq!(
        resolve("/src/a/b.js", "./../../x.js").as_deref(),
        Some("/x.js")
    );
    assert_eq!(
        resolve("/src/app.js", "/lib/x.js").as_deref(),
        Some("/lib/x.js")
    );
}

#[test]
fn resolution_never_climbs_above_the_root() {
    assert_eq!(
        resolve("/app.js", "../../../etc/x.js").as_deref(),
        Some("/etc/x.js")
    );
    assert_eq!(resolve("/a/b.js", "/../x.js").as_deref(), Some("/x.js"));
}

#[test]
fn resolution_strips_query_and_hash_and_decodes_escapes() {
    assert_eq!(
        resolve("/src/app.js?t=1", "./x.js?v=2#h").as_deref(),
        Some("/src/x.js")
    );
    assert_eq!(
        resolve("/app.js", "./my%20file.js").as_deref(),
        Some("/my file.js")
    );
}

#[test]
fn bare_specifiers_and_full_urls_do_not_resolve() {
    for spec in [
        "vue",
        "@scope/pkg",
        "https://esm.sh/x",
        "data:text/javascript,1",
        "//cdn/x.js",
        "x.js",
    ] {
        assert_eq!(resolve("/src/app.js", spec), None, "{spec}");
    }
}

// ---- graph ----

/// Serves `source` at `url` into `graph`; returns the pruned modules.
fn serve(graph: &mut ModuleGraph, url: &str, source: &str) -> Vec<String> {
    graph.update_module(url, &scan(source))
}

fn updates(result: Propagation) -> Vec<Update> {
    match result {
        Propagation::Updates(updates) => updates,
        other => panic!("expected updates, got {other:?}"),
    }
}

fn pairs(updates: &[Update]) -> Vec<(&str, &str)> {
    updates
        .iter()
        .map(|u| (u.path.as_str(), u.accepted_path.as_str()))
        .collect()
}

#[test]
fn a_self_accepting_module_is_its_own_boundary() {
    let mut g = ModuleGraph::new();
    serve(&mut g, "/main.js", "import './comp.js'");
    serve(&mut g, "/comp.js", "import.meta.hot.accept()");
    let result = updates(g.propagate("/comp.js", 10));
    assert_eq!(pairs(&result), [("/comp.js", "/comp.js")]);
    assert_eq!(result[0].timestamp, 10);
    assert!(!result[0].is_within_circular_import);
    assert_eq!(
        g.module("/comp.js")
            .and_then(ModuleNode::last_hmr_timestamp),
        Some(10)
    );
}

#[test]
fn an_importer_accepting_the_changed_dep_is_the_boundary() {
    let mut g = ModuleGraph::new();
    serve(
        &mut g,
        "/main.js",
        "import './dep.js'; import.meta.hot.accept('./dep.js', () => {})",
    );
    serve(&mut g, "/dep.js", "export const x = 1");
    let result = updates(g.propagate("/dep.js", 10));
    assert_eq!(pairs(&result), [("/main.js", "/dep.js")]);
    // The boundary keeps its instance: only the dep is fresh.
    assert_eq!(
        g.module("/main.js")
            .and_then(ModuleNode::last_hmr_timestamp),
        None
    );
    assert_eq!(
        g.module("/dep.js").and_then(ModuleNode::last_hmr_timestamp),
        Some(10)
    );
}

#[test]
fn a_change_deep_in_a_chain_updates_the_boundary_and_marks_the_path_fresh() {
    let mut g = ModuleGraph::new();
    serve(
        &mut g,
        "/boundary.js",
        "import './mid.js'; import.meta.hot.accept()",
    );
    serve(&mut g, "/mid.js", "import './leaf.js'");
    serve(&mut g, "/leaf.js", "export default 1");
    let result = updates(g.propagate("/leaf.js", 42));
    assert_eq!(pairs(&result), [("/boundary.js", "/boundary.js")]);
    for url in ["/leaf.js", "/mid.js", "/boundary.js"] {
        assert_eq!(
            g.module(url).and_then(ModuleNode::last_hmr_timestamp),
            Some(42),
            "{url}"
        );
    }
}

#[test]
fn a_module_nobody_accepts_is_a_dead_end_that_reloads() {
    let mut g = ModuleGraph::new();
    serve(&mut g, "/main.js", "import './util.js'");
    serve(&mut g, "/util.js", "export const x = 1");
    assert_eq!(
        g.propagate("/util.js", 1),
        Propagation::FullReload {
            triggered_by: "/util.js".into(),
            chain: vec!["/util.js".into(), "/main.js".into()],
        }
    );
    assert_eq!(
        g.module("/util.js")
            .and_then(ModuleNode::last_hmr_timestamp),
        None
    );
}

#[test]
fn an_entry_loaded_by_a_page_reloads_unless_it_accepts_itself() {
    let mut g = ModuleGraph::new();
    serve(&mut g, "/main.js", "console.log(1)");
    assert!(matches!(
        g.propagate("/main.js", 1),
        Propagation::FullReload { .. }
    ));
    serve(&mut g, "/main.js", "import.meta.hot.accept()");
    assert_eq!(
        pairs(&updates(g.propagate("/main.js", 2))),
        [("/main.js", "/main.js")]
    );
}

#[test]
fn one_dead_end_among_several_paths_reloads_the_page() {
    let mut g = ModuleGraph::new();
    serve(
        &mut g,
        "/a.js",
        "import './shared.js'; import.meta.hot.accept()",
    );
    serve(&mut g, "/b.js", "import './shared.js'");
    serve(&mut g, "/shared.js", "");
    assert!(matches!(
        g.propagate("/shared.js", 1),
        Propagation::FullReload { .. }
    ));
}

#[test]
fn two_boundaries_give_two_updates_in_a_stable_order() {
    let mut g = ModuleGraph::new();
    serve(&mut g, "/main.js", "import './b.js'; import './a.js'");
    serve(
        &mut g,
        "/b.js",
        "import './shared.js'; import.meta.hot.accept()",
    );
    serve(
        &mut g,
        "/a.js",
        "import './shared.js'; import.meta.hot.accept()",
    );
    serve(&mut g, "/shared.js", "");
    let result = updates(g.propagate("/shared.js", 1));
    assert_eq!(pairs(&result), [("/a.js", "/a.js"), ("/b.js", "/b.js")]);
}

#[test]
fn a_boundary_reached_twice_is_sent_once() {
    let mut g = ModuleGraph::new();
    serve(
        &mut g,
        "/top.js",
        "import './l.js'; import './r.js'; import.meta.hot.accept()",
    );
    serve(&mut g, "/l.js", "import './leaf.js'");
    serve(&mut g, "/r.js", "import './leaf.js'");
    serve(&mut g, "/leaf.js", "");
    assert_eq!(
        pairs(&updates(g.propagate("/leaf.js", 1))),
        [("/top.js", "/top.js")]
    );
}

#[test]
fn circular_imports_terminate_and_flag_the_boundary() {
    let mut g = ModuleGraph::new();
    serve(&mut g, "/main.js", "import './app.js'");
    serve(
        &mut g,
        "/app.js",
        "import './hook1.js'; import.meta.hot.accept()",
    );
    serve(&mut g, "/hook1.js", "import './hook2.js'");
    serve(&mut g, "/hook2.js", "import './app.js'");
    let result = updates(g.propagate("/hook2.js", 5));
    assert_eq!(pairs(&result), [("/app.js", "/app.js")]);
    assert!(result[0].is_within_circular_import);
}

#[test]
fn a_cycle_without_any_boundary_reloads() {
    let mut g = ModuleGraph::new();
    serve(&mut g, "/a.js", "import './b.js'");
    serve(&mut g, "/b.js", "import './a.js'");
    assert!(matches!(
        g.propagate("/a.js", 1),
        Propagation::FullReload { .. }
    ));
}

#[test]
fn unknown_modules_are_left_to_the_caller() {
    let mut g = ModuleGraph::new();
    serve(
        &mut g,
        "/main.js",
        "import 'vue'; import 'https://esm.sh/x'",
    );
    assert_eq!(g.propagate("/style.css", 1), Propagation::NotInGraph);
    assert_eq!(g.propagate("/never-served.js", 1), Propagation::NotInGraph);
}

#[test]
fn bare_specifiers_and_urls_are_not_graph_edges() {
    let mut g = ModuleGraph::new();
    serve(
        &mut g,
        "/main.js",
        "import 'vue'; import x from 'https://esm.sh/x'; import './local.js'",
    );
    let main = g.module("/main.js").expect("served");
    assert_eq!(main.imports().collect::<Vec<_>>(), ["/local.js"]);
    assert!(g.module("vue").is_none());
}

#[test]
fn a_query_on_the_changed_url_or_the_import_is_ignored() {
    let mut g = ModuleGraph::new();
    serve(
        &mut g,
        "/src/main.js?t=3",
        "import '../lib/x.js?v=1'; import.meta.hot.accept('../lib/x.js', cb)",
    );
    serve(&mut g, "/lib/x.js?t=3", "");
    assert_eq!(
        pairs(&updates(g.propagate("/lib/x.js?t=9", 1))),
        [("/src/main.js", "/lib/x.js")]
    );
}

#[test]
fn removing_an_import_prunes_the_module_left_without_importers() {
    let mut g = ModuleGraph::new();
    serve(&mut g, "/main.js", "import './a.js'; import './shared.js'");
    serve(&mut g, "/other.js", "import './shared.js'");
    serve(&mut g, "/a.js", "");
    serve(&mut g, "/shared.js", "");
    let pruned = serve(&mut g, "/main.js", "import './b.js'");
    assert_eq!(pruned, ["/a.js"]);
    let a = g.module("/a.js").expect("kept for later imports");
    assert!(a.last_hmr_timestamp().is_some());
    assert_eq!(
        g.module("/shared.js")
            .expect("kept")
            .importers()
            .collect::<Vec<_>>(),
        ["/other.js"]
    );
}

#[test]
fn modules_only_named_and_never_served_are_dropped_without_a_prune() {
    let mut g = ModuleGraph::new();
    serve(&mut g, "/main.js", "const lazy = () => import('./lazy.js')");
    assert!(serve(&mut g, "/main.js", "").is_empty());
    assert!(g.module("/lazy.js").is_none());
}

#[test]
fn invalidate_moves_the_update_to_the_importers() {
    let mut g = ModuleGraph::new();
    serve(&mut g, "/main.js", "import './app.js'");
    serve(
        &mut g,
        "/app.js",
        "import './comp.js'; import.meta.hot.accept()",
    );
    serve(&mut g, "/comp.js", "import.meta.hot.accept()");
    updates(g.propagate("/comp.js", 10));
    let result = updates(g.invalidate("/comp.js", None, 11));
    assert_eq!(pairs(&result), [("/app.js", "/app.js")]);
    assert_eq!(result[0].first_invalidated_by.as_deref(), Some("/comp.js"));
    assert_eq!(result[0].timestamp, 11);
    // The invalidated module's own instance is already the new code.
    assert_eq!(
        g.module("/comp.js")
            .and_then(ModuleNode::last_hmr_timestamp),
        Some(10)
    );
}

#[test]
fn invalidate_is_handled_once_per_update() {
    let mut g = ModuleGraph::new();
    serve(
        &mut g,
        "/app.js",
        "import './comp.js'; import.meta.hot.accept()",
    );
    serve(&mut g, "/comp.js", "import.meta.hot.accept()");
    assert_eq!(
        g.invalidate("/comp.js", None, 1),
        Propagation::Updates(vec![])
    );
    updates(g.propagate("/comp.js", 10));
    assert_eq!(updates(g.invalidate("/comp.js", None, 11)).len(), 1);
    assert_eq!(
        g.invalidate("/comp.js", None, 12),
        Propagation::Updates(vec![])
    );
}

#[test]
fn invalidate_that_loops_back_to_its_origin_reloads() {
    let mut g = ModuleGraph::new();
    serve(&mut g, "/a.js", "import './b.js'; import.meta.hot.accept()");
    serve(&mut g, "/b.js", "import './a.js'; import.meta.hot.accept()");
    updates(g.propagate("/b.js", 10));
    // b declines; the update moves to its importer a, which also declines.
    let first = updates(g.invalidate("/b.js", None, 11));
    assert_eq!(pairs(&first), [("/a.js", "/a.js")]);
    // a's importer is b, where the chain started: stop with a reload.
    assert_eq!(
        g.invalidate("/a.js", Some("/b.js"), 12),
        Propagation::FullReload {
            triggered_by: "/a.js".into(),
            chain: vec![],
        }
    );
}

#[test]
fn invalidating_an_entry_reloads_the_page() {
    let mut g = ModuleGraph::new();
    serve(&mut g, "/main.js", "import.meta.hot.accept()");
    updates(g.propagate("/main.js", 1));
    assert!(matches!(
        g.invalidate("/main.js", None, 2),
        Propagation::FullReload { .. }
    ));
}

// ---- transform ----

const PREAMBLE_START: &str = "import { createHotContext as __vite__createHotContext } from \"/@vite/client\";import.meta.hot = __vite__createHotContext(";

#[test]
fn the_hot_context_preamble_shares_the_first_line() {
    let g = ModuleGraph::new();
    let source = "import.meta.hot.accept()\nconsole.log(1)\n";
    let out = transform_module("/src/app.js", source, &g);
    assert_eq!(out, format!("{PREAMBLE_START}\"/src/app.js\");{source}"));
    assert_eq!(out.lines().count(), source.lines().count());
}

#[test]
fn modules_without_hot_usage_are_served_unchanged() {
    let g = ModuleGraph::new();
    let source = "import x from './x.js';\nexport default x;";
    assert_eq!(transform_module("/a.js", source, &g), source);
}

#[test]
fn the_preamble_goes_after_a_hashbang_and_escapes_the_url() {
    let g = ModuleGraph::new();
    let out = transform_module("/we\"ird é.js", "#!/usr/bin/env node\nimport.meta.hot", &g);
    assert_eq!(
        out,
        format!("#!/usr/bin/env node\n{PREAMBLE_START}\"/we\\\"ird é.js\");import.meta.hot")
    );
}

#[test]
fn the_preamble_goes_after_a_byte_order_mark() {
    let out = transform_module("/a.js", "\u{FEFF}import.meta.hot", &ModuleGraph::new());
    assert_eq!(
        out,
        format!("\u{FEFF}{PREAMBLE_START}\"/a.js\");import.meta.hot")
    );
}

#[test]
fn accepted_deps_are_rewritten_to_resolved_url_paths() {
    let g = ModuleGraph::new();
    let source = "import.meta.hot.accept(['./a.js', \"../lib/b.js\"], cb)";
    let out = transform_module("/src/app.js", source, &g);
    assert!(
        out.ends_with("import.meta.hot.accept(['/src/a.js', \"/lib/b.js\"], cb)"),
        "{out}"
    );
}

#[test]
fn imports_of_hot_updated_modules_get_a_timestamp_query() {
    let mut g = ModuleGraph::new();
    let source = "import a from './a.js';\nimport b from './b.js?raw';\nimport('./a.js');\nexport * from \"../c.js#frag\";\nimport 'vue';\nimport u from './untouched.js';";
    serve_module(&mut g, "/src/main.js", source);
    serve(&mut g, "/src/a.js", "import.meta.hot.accept()");
    serve(&mut g, "/src/b.js", "import.meta.hot.accept()");
    serve(&mut g, "/c.js", "import.meta.hot.accept()");
    updates(g.propagate("/src/a.js", 7));
    updates(g.propagate("/src/b.js", 8));
    updates(g.propagate("/c.js", 9));
    let served = serve_module(&mut g, "/src/main.js", source);
    assert_eq!(
        served.code,
        "import a from './a.js?t=7';\nimport b from './b.js?raw&t=8';\nimport('./a.js?t=7');\nexport * from \"../c.js?t=9#frag\";\nimport 'vue';\nimport u from './untouched.js';"
    );
    assert!(served.pruned.is_empty());
}

#[test]
fn an_old_timestamp_in_a_specifier_is_replaced() {
    assert_eq!(
        rewrite::with_timestamp("./a.js?t=1&x=2", 5),
        "./a.js?x=2&t=5"
    );
}

#[test]
fn serving_a_module_records_it_and_reports_pruned_imports() {
    let mut g = ModuleGraph::new();
    serve_module(&mut g, "/main.js", "import './a.js'");
    serve_module(&mut g, "/a.js", "export {}");
    let served = serve_module(&mut g, "/main.js", "import.meta.hot.accept()");
    assert_eq!(served.pruned, ["/a.js"]);
    assert!(served.code.starts_with(PREAMBLE_START));
    assert!(
        g.module("/main.js")
            .is_some_and(ModuleNode::is_self_accepting)
    );
}

#[test]
fn a_module_the_browser_imports_without_it_being_served_still_propagates() {
    let mut g = ModuleGraph::new();
    serve(
        &mut g,
        "/main.js",
        "import data from './data.json' with { type: 'json' }; import.meta.hot.accept()",
    );
    assert_eq!(
        pairs(&updates(g.propagate("/data.json", 3))),
        [("/main.js", "/main.js")]
    );
}

#[test]
fn a_self_import_neither_loops_nor_prunes() {
    let mut g = ModuleGraph::new();
    serve(&mut g, "/main.js", "import './self.js'");
    serve(
        &mut g,
        "/self.js",
        "import './self.js'; import.meta.hot.accept()",
    );
    assert_eq!(
        pairs(&updates(g.propagate("/self.js", 1))),
        [("/self.js", "/self.js")]
    );
    assert!(serve(&mut g, "/self.js", "import.meta.hot.accept()").is_empty());
}

#[test]
fn every_prefix_of_a_tricky_module_scans_without_panicking() {
    let source = include_str!("../../tests/js/fixtures/traps.js");
    for (i, _) in source.char_indices() {
        for spec in scan(&source[..i])
            .imports
            .iter()
            .filter_map(|i| i.specifier.as_ref())
        {
            assert!(
                source.is_char_boundary(spec.range.start)
                    && source.is_char_boundary(spec.range.end)
            );
        }
    }
}

#[test]
fn pathological_inputs_scan_in_linear_time() {
    // Quadratic behaviour on 400 kB would take minutes; linear takes milliseconds.
    let patterns = [
        "import ",
        "export { a, ",
        "(",
        "`${",
        "{",
        "x = /a/; ",
        "a / b / ",
        "import /* c */ ",
        "import(\"./x.js\"); ",
        "import.meta.hot.accept([",
    ];
    for pattern in patterns {
        let source = pattern.repeat(400_000 / pattern.len());
        let started = std::time::Instant::now();
        let _ = scan(&source);
        let elapsed = started.elapsed();
        assert!(elapsed.as_secs() < 3, "{pattern:?} took {elapsed:?}");
    }
}
