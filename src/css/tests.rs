use super::scan::ReferenceKind;
use super::*;

/// (kind, value, the source text of the range) for each reference.
fn found(css: &str) -> Vec<(String, String, String)> {
    scan(css)
        .into_iter()
        .map(|r| {
            let kind = match &r.kind {
                ReferenceKind::Import { condition } if condition.is_empty() => "import".into(),
                ReferenceKind::Import { condition } => format!("import {condition}"),
                ReferenceKind::Url => "url".into(),
            };
            (kind, r.value.clone(), css[r.range.clone()].to_owned())
        })
        .collect()
}

fn f(kind: &str, value: &str, text: &str) -> (String, String, String) {
    (kind.into(), value.into(), text.into())
}

#[test]
fn every_import_form_is_found_with_its_condition() {
    let css = r#"@charset "utf-8";
@layer base, theme;
@import "a.css";
@import 'b.css' screen;
@import url(c.css) print, (min-width: 40em);
@import url("d.css") layer(base) supports(display: grid) screen and (orientation: landscape);
@IMPORT "e.css" layer;
body { color: red }
"#;
    assert_eq!(
        found(css),
        vec![
            f("import", "a.css", r#""a.css""#),
            f("import screen", "b.css", "'b.css'"),
            f("import print, (min-width: 40em)", "c.css", "url(c.css)"),
            f(
                "import layer(base) supports(display: grid) screen and (orientation: landscape)",
                "d.css",
                r#""d.css""#,
            ),
            f("import layer", "e.css", r#""e.css""#),
        ]
    );
}

#[test]
fn an_import_after_a_rule_or_inside_a_block_is_dropped_like_the_browser_does() {
    let css = r#"@import "first.css";
@layer base { a { color: red } }
@import "after-layer-block.css";
@media screen { @import "nested.css"; }
"#;
    let imports: Vec<String> = scan(css)
        .into_iter()
        .filter(Reference::is_import)
        .map(|r| r.value)
        .collect();
    assert_eq!(imports, ["first.css"]);

    let after_rule = "a { color: red }\n@import \"late.css\";\n";
    assert!(scan(after_rule).iter().all(|r| !r.is_import()));
}

#[test]
fn malformed_imports_are_not_reported() {
    let css = "@import;\n@import foo.css;\n@import url() {}\n@import \"ok.css\";\n";
    // `@import foo.css` has no URL: dropped; the later valid one still counts because
    // invalid imports do not end the import section.
    let values: Vec<String> = scan(css).into_iter().map(|r| r.value).collect();
    assert_eq!(values, ["ok.css"]);
}

#[test]
fn comments_and_strings_that_mention_url_are_not_references() {
    let css = r#"/* @import "commented.css"; url(commented.png) */
@import /* before */ "real.css" /* between */ screen;
.a::before { content: "url(in-string.png)"; }
.b { background: url( "quoted.png" ) no-repeat; }
.c { background: url(  spaced.png  ); }
.d { grid-template-areas: "url(x)"; }
"#;
    assert_eq!(
        found(css),
        vec![
            f("import /* between */ screen", "real.css", r#""real.css""#),
            f("url", "quoted.png", r#""quoted.png""#),
            f("url", "spaced.png", "url(  spaced.png  )"),
        ]
    );
}

#[test]
fn escapes_are_read_as_the_browser_reads_them() {
    let css = r#".a { background: url(b\61 r.png) }
.b { background: url("qu\"ote.png") }
.c { background: u\72l(escaped-name.png) }
@font-face { font-family: X; src: url('f\
ont.woff2') format("woff2"); }
"#;
    let values: Vec<String> = scan(css).into_iter().map(|r| r.value).collect();
    assert_eq!(
        values,
        ["bar.png", "qu\"ote.png", "escaped-name.png", "font.woff2"]
    );
}

#[test]
fn urls_are_found_at_any_depth_and_in_image_sets_but_not_in_namespace() {
    let css = r#"@namespace svg url(http://www.w3.org/2000/svg);
@media (min-width: 1px) { @supports (display: grid) { .a { cursor: url(hand.cur), auto; } } }
.b { background-image: image-set("low.png" 1x, url(high.png) 2x); }
.c { &:hover { mask: url(#clip) } }
@font-face { src: local(X), url(font.woff2) format("woff2"); }
"#;
    let values: Vec<String> = scan(css).into_iter().map(|r| r.value).collect();
    assert_eq!(
        values,
        ["hand.cur", "low.png", "high.png", "#clip", "font.woff2"]
    );
}

#[test]
fn unterminated_input_is_read_to_its_end_without_panicking() {
    assert_eq!(
        found(".a { background: url(open.png"),
        vec![f("url", "open.png", "url(open.png")]
    );
    assert_eq!(
        found(".a { background: url(\"open.png"),
        vec![f("url", "open.png", "\"open.png")]
    );
    assert_eq!(
        found("@import \"open.css"),
        vec![f("import", "open.css", "\"open.css")]
    );
    // A bad URL (a space inside) and a string broken by a newline are not URLs.
    assert!(scan(".a { background: url(a b.png) }").is_empty());
    assert!(scan(".a { background: url(\"a\nb.png\") }").is_empty());
    for css in ["/*", "@import", "@import url(", "a {", "url(", "\\", "\"\\"] {
        let _ = scan(css);
    }
}

#[test]
fn ranges_are_byte_offsets_in_non_ascii_sources() {
    let css = "/* é */ .a { background: url(\"ümlaut.png\") }";
    let refs = scan(css);
    assert_eq!(refs.len(), 1);
    assert_eq!(&css[refs[0].range.clone()], "\"ümlaut.png\"");
}

#[test]
fn respelling_keeps_the_form_and_escapes_quotes() {
    let refs = scan(".a { background: url(a.png) } .b { background: url('b.png') }");
    assert_eq!(refs[0].respell("a.png?t=1"), r#"url("a.png?t=1")"#);
    assert_eq!(refs[1].respell("b\".png?t=1"), r#""b\".png?t=1""#);
}

#[test]
fn relative_urls_without_a_dot_resolve_against_the_stylesheet() {
    assert_eq!(
        resolve("/css/a.css", "b.css").as_deref(),
        Some("/css/b.css")
    );
    assert_eq!(
        resolve("/css/a.css", "./b.css").as_deref(),
        Some("/css/b.css")
    );
    assert_eq!(
        resolve("/css/a.css", "../img/x%20y.png").as_deref(),
        Some("/img/x y.png")
    );
    assert_eq!(
        resolve("/css/a.css", "/root.css?v=1#x").as_deref(),
        Some("/root.css")
    );
    for outside in [
        "https://cdn.test/x.css",
        "//cdn.test/x.css",
        "data:image/png;base64,AA",
        "#clip",
        "",
        "  ",
    ] {
        assert_eq!(resolve("/a.css", outside), None, "{outside}");
    }
}

#[test]
fn timestamps_go_first_in_the_query_and_replace_an_old_one() {
    assert_eq!(with_timestamp("a.png", 5), "a.png?t=5");
    assert_eq!(with_timestamp("a.png?v=2", 5), "a.png?t=5&v=2");
    assert_eq!(with_timestamp("a.png?t=4&v=2", 5), "a.png?t=5&v=2");
    assert_eq!(with_timestamp("sprite.svg#icon", 5), "sprite.svg?t=5#icon");
}

fn serve(graph: &mut StyleGraph, url: &str, css: &str) -> String {
    serve_stylesheet(graph, url, css, Placement::Linked, NO_PACKAGES).code
}

#[test]
fn a_change_deep_in_an_import_chain_pulls_in_every_sheet_above_it() {
    let mut graph = StyleGraph::new();
    serve(
        &mut graph,
        "/a.css",
        "@import \"b.css\" screen;\nbody { color: red }",
    );
    serve(&mut graph, "/b.css", "@import url(./sub/c.css);");
    serve(
        &mut graph,
        "/sub/c.css",
        "h1 { background: url(../bg.png) }",
    );
    serve(&mut graph, "/other.css", "p { background: url(bg.png) }");

    let pulls = graph.pulled_in_by("/sub/c.css");
    let sheets: Vec<(&str, &str, bool)> = pulls
        .iter()
        .map(|p| (p.sheet.as_str(), p.via.as_str(), p.import))
        .collect();
    assert_eq!(
        sheets,
        [("/b.css", "/sub/c.css", true), ("/a.css", "/b.css", true)]
    );

    let pulls = graph.pulled_in_by("/bg.png");
    let sheets: Vec<(&str, bool)> = pulls.iter().map(|p| (p.sheet.as_str(), p.import)).collect();
    assert_eq!(
        sheets,
        [
            ("/other.css", false),
            ("/sub/c.css", false),
            ("/b.css", true),
            ("/a.css", true)
        ]
    );
    assert!(graph.pulled_in_by("/a.css").is_empty());
}

#[test]
fn served_sheets_ask_for_fresh_copies_of_updated_files_only() {
    let mut graph = StyleGraph::new();
    let a = "@import \"b.css\" screen;\n.x { background: url('bg.png?v=1') } .y { background: url(keep.png) }";
    assert_eq!(serve(&mut graph, "/a.css", a), a, "nothing updated yet");
    serve(&mut graph, "/b.css", "h1 { color: red }");

    graph.mark_updated(["/b.css", "/bg.png"], 42);
    assert_eq!(
        serve(&mut graph, "/a.css?t=41", a),
        "@import \"b.css?t=42\" screen;\n.x { background: url(\"bg.png?t=42&v=1\") } .y { background: url(keep.png) }"
    );
}

#[test]
fn a_cycle_of_imports_ends() {
    let mut graph = StyleGraph::new();
    serve(&mut graph, "/a.css", "@import 'b.css';");
    serve(&mut graph, "/b.css", "@import 'a.css';");
    let sheets: Vec<String> = graph
        .pulled_in_by("/a.css")
        .into_iter()
        .map(|p| p.sheet)
        .collect();
    assert_eq!(sheets, ["/b.css"]);
}

#[test]
fn a_new_version_replaces_the_old_edges() {
    let mut graph = StyleGraph::new();
    serve(
        &mut graph,
        "/a.css",
        "@import 'b.css'; .x { background: url(x.png) }",
    );
    assert!(graph.is_pulled_in("/b.css") && graph.is_pulled_in("/x.png"));
    serve(&mut graph, "/a.css", "@import 'c.css';");
    assert!(!graph.is_pulled_in("/b.css") && !graph.is_pulled_in("/x.png"));
    assert_eq!(graph.imports("/a.css").collect::<Vec<_>>(), ["/c.css"]);

    graph.remove("/a.css");
    assert!(!graph.is_sheet("/a.css") && !graph.is_pulled_in("/c.css"));
}

#[test]
fn a_sheet_for_a_style_element_writes_every_reference_from_the_root() {
    let mut graph = StyleGraph::new();
    let css = "@import 'b.css' screen;\n@import url(../c.css);\n\
               .x { background: url(\"img/my bg.png?v=2#part\") }\n\
               .y { background: url(/abs.png) } .z { background: url(data:image/png;base64,AA) }\n\
               .w { background: url(https://cdn.test/x.png) } .v { fill: url(#clip) }";
    let inlined = |graph: &mut StyleGraph| {
        serve_stylesheet(
            graph,
            "/src/a.css?import",
            css,
            Placement::Inlined,
            NO_PACKAGES,
        )
        .code
    };
    assert_eq!(
        inlined(&mut graph),
        "@import \"/src/b.css\" screen;\n@import url(\"/c.css\");\n\
         .x { background: url(\"/src/img/my%20bg.png?v=2#part\") }\n\
         .y { background: url(/abs.png) } .z { background: url(data:image/png;base64,AA) }\n\
         .w { background: url(https://cdn.test/x.png) } .v { fill: url(#clip) }"
    );
    assert_eq!(
        graph.imports("/src/a.css").collect::<Vec<_>>(),
        ["/c.css", "/src/b.css"]
    );

    graph.mark_updated(["/src/b.css"], 7);
    assert!(inlined(&mut graph).starts_with("@import \"/src/b.css?t=7\" screen;"));
}
