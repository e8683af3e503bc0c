//! Entry points for the fuzz targets in `fuzz/` (built only under cargo-fuzz, which sets
//! `--cfg fuzzing`): the parsers that see untrusted input, with the invariants each target
//! checks. Not part of the API.

use std::path::Path;

/// Decode and check a request path, then apply the built-in deny list. `Some` holds the
/// decoded segments of a path the file stage would go on to open.
pub fn request_path(path: &str) -> Option<Vec<String>> {
    let safe = crate::http::resolve::resolve(path).ok()?;
    let deny = crate::http::resolve::DenyList::new(&[]).ok()?;
    (!deny.denies(&safe.segments)).then_some(safe.segments)
}

/// The client's tag, as [`inject`] inserts it.
pub const CLIENT_TAG: &str = crate::http::inject::CLIENT_TAG;

/// A page with the client's tag inserted.
pub fn inject(html: &[u8]) -> Vec<u8> {
    crate::http::inject::inject_client(html)
}

/// The answer to `Range: header` for a file of `len` bytes: `Some(Some((first, last)))`
/// for a satisfiable range, `Some(None)` for 416, `None` when the header is ignored.
pub fn range(header: &str, len: u64) -> Option<Option<(u64, u64)>> {
    use crate::http::files::{RangeAnswer, parse_range};
    match parse_range(header, len) {
        RangeAnswer::Satisfiable(first, last) => Some(Some((first, last))),
        RangeAnswer::Unsatisfiable => Some(None),
        RangeAnswer::Ignore => None,
    }
}

/// Whether an `If-None-Match` / `If-Range` list matches `etag`.
pub fn etag_matches(list: &str, etag: &str, strong: bool) -> bool {
    crate::http::files::etag_list_matches(list, etag, strong)
}

/// Scan `css` served at `url`, check every reference's bytes, then mark every referenced
/// URL hot-updated and serve it again: the rewrite re-spells URLs only, so a new scan finds
/// as many references.
pub fn stylesheet(url: &str, css: &str) {
    let refs = crate::css::scan(css);
    for reference in &refs {
        assert!(
            css.get(reference.range.clone()).is_some(),
            "{reference:?} is not on character boundaries"
        );
    }
    let mut graph = crate::css::StyleGraph::default();
    crate::css::serve_stylesheet(
        &mut graph,
        url,
        css,
        crate::css::Placement::Linked,
        crate::css::NO_PACKAGES,
    );
    let resolved: Vec<String> = refs
        .iter()
        .filter_map(|r| crate::css::resolve(url, &r.value))
        .collect();
    graph.mark_updated(resolved.iter().map(String::as_str), 42);
    let again = crate::css::serve_stylesheet(
        &mut graph,
        url,
        css,
        crate::css::Placement::Linked,
        crate::css::NO_PACKAGES,
    );
    assert_eq!(
        crate::css::scan(&again.code).len(),
        refs.len(),
        "rewritten: {:?}",
        again.code
    );
}

/// Parse a client message as the HMR session does, `vite:invalidate` data included.
pub fn client_message(text: &str) {
    use crate::protocol::{ClientMessage, INVALIDATE_EVENT, InvalidateMessage};
    if let Ok(ClientMessage::Custom { event, data }) = serde_json::from_str(text)
        && event == INVALIDATE_EVENT
        && let Some(data) = data
    {
        let _ = serde_json::from_value::<InvalidateMessage>(data);
    }
}

/// Whether `path` (relative) stays under a root when joined to it.
pub fn stays_inside(relative: &Path) -> bool {
    relative
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Compile `source` as TypeScript/JSX with options picked by the bits of `flags` (dialect,
/// decorators, class fields, JSX runtime, Fast Refresh). Invariants: the compiler never
/// panics (a caught panic is a finding, not an error), the source map is JSON, and the
/// output, instrumented for Fast Refresh, scans as a module that accepts itself exactly when
/// refresh code was added.
#[cfg(feature = "transform")]
pub fn transform(flags: u8, source: &str) {
    use crate::modules::transform::refresh::{Runtime, instrument};
    use crate::modules::transform::script::{Jsx, ScriptOptions, compile};
    let path = ["a.ts", "a.tsx", "a.jsx", "a.mts"][usize::from(flags & 3)];
    let options = ScriptOptions {
        jsx: if flags & 32 == 0 {
            Jsx::Automatic {
                import_source: "react".into(),
            }
        } else {
            Jsx::Classic {
                factory: "h".into(),
                fragment: "Fragment".into(),
            }
        },
        legacy_decorators: flags & 4 != 0,
        decorator_metadata: flags & 64 != 0,
        define_class_fields: flags & 8 == 0,
        refresh: flags & 16 != 0,
    };
    match compile(Path::new(path), source, &options) {
        Ok(compiled) => {
            assert!(
                compiled.map.is_empty()
                    || serde_json::from_str::<serde_json::Value>(&compiled.map).is_ok(),
                "the source map is not JSON"
            );
            let mut code = compiled.code;
            let before = code.len();
            if options.refresh {
                instrument(&mut code, &Runtime::ReactRefresh);
            }
            let scanned = crate::modules::scan(&code);
            if code.len() > before {
                assert!(scanned.hot.self_accepting, "instrumented code: {code}");
            }
        }
        Err(err) => assert!(
            !err.message().starts_with("oxc panicked"),
            "{}",
            err.message()
        ),
    }
}
