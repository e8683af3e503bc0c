//! The import lexer and the module rewrite: any text, never a panic; every range the lexer
//! reports lies inside the source on character boundaries; serving, re-serving and
//! propagating a change through the graph never panics.
#![no_main]

use hotserve::modules::{ModuleGraph, scan, serve_module};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|source: &str| {
    let found = scan(source);
    for import in &found.imports {
        assert!(source.is_char_boundary(import.start));
        if let Some(specifier) = &import.specifier {
            assert!(
                source.get(specifier.range.clone()).is_some(),
                "{specifier:?}"
            );
        }
    }
    for dep in &found.hot.accepted_deps {
        assert!(source.get(dep.range.clone()).is_some(), "{dep:?}");
    }
    for at in &found.import_meta {
        assert!(source.is_char_boundary(*at));
    }
    for range in &found.node_env {
        assert!(source.get(range.clone()).is_some());
    }
    let mut graph = ModuleGraph::new();
    let first = serve_module(&mut graph, "/src/main.js", source);
    // The module imports itself under another name, and its imports are served too.
    for import in &found.imports {
        if let Some(specifier) = &import.specifier {
            serve_module(
                &mut graph,
                &format!("/src/{}", specifier.value.trim_start_matches("./")),
                source,
            );
        }
    }
    let _ = graph.propagate("/src/main.js", 1);
    // Serving the same source again gives the same code (the rewrite is a function of
    // the source and the graph).
    let again = serve_module(&mut graph, "/src/main.js", source);
    assert_eq!(first.code.is_empty(), again.code.is_empty());
});
