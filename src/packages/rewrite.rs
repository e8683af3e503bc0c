//! Rewriting a module's import specifiers to the URLs the server answers: a pure edit of the
//! source given the scan and a resolving function, so it is tested without a file system.

use crate::modules::ScanResult;
use std::ops::Range;

/// What `process.env.NODE_ENV` reads in dependency code: the server is a development server.
pub(crate) const NODE_ENV: &str = "\"development\"";

/// A specifier that could not be resolved, and where it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unresolved<E> {
    pub specifier: String,
    /// Byte range of the specifier in the source.
    pub range: Range<usize>,
    pub error: E,
}

/// Where an import goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// This URL, in place of the specifier.
    Url(String),
    /// A pre-bundled CommonJS package at this URL: the statement is rewritten so named
    /// imports read properties of its `module.exports` (see `prebundle::interop`).
    #[cfg(feature = "bundle")]
    CommonJs(String),
}

/// Rewrites `source`: every specifier for which `resolve` answers `Ok(Some(target))` goes
/// to the target, and, when `replace_node_env` is set, every `process.env.NODE_ENV` read
/// becomes `"development"`. Specifiers answered `Ok(None)` stay as written. The first
/// failure stops the rewrite. Returns `None` when nothing changed.
pub(crate) fn rewrite<E>(
    source: &str,
    scanned: &ScanResult,
    replace_node_env: bool,
    mut resolve: impl FnMut(&str) -> Result<Option<Target>, E>,
) -> Result<Option<String>, Unresolved<E>> {
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let with_specifier = scanned.imports.iter().enumerate();
    for (index, import) in with_specifier {
        #[cfg(not(feature = "bundle"))]
        let _ = index;
        let Some(spec) = import.specifier.as_ref() else {
            continue;
        };
        match resolve(&spec.value) {
            Ok(Some(Target::Url(url))) if url != spec.value => {
                edits.push((spec.range.clone(), url))
            }
            #[cfg(feature = "bundle")]
            Ok(Some(Target::CommonJs(url))) => edits.extend(super::prebundle::interop::edits(
                source, import, &url, index,
            )),
            Ok(_) => {}
            Err(error) => {
                return Err(Unresolved {
                    specifier: spec.value.clone(),
                    range: spec.range.clone(),
                    error,
                });
            }
        }
    }
    if replace_node_env {
        edits.extend(
            scanned
                .node_env
                .iter()
                .map(|range| (range.clone(), NODE_ENV.to_owned())),
        );
    }
    if edits.is_empty() {
        return Ok(None);
    }
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = String::with_capacity(source.len() + edits.len() * 32);
    let mut copied = 0;
    for (range, text) in edits {
        if range.start < copied {
            continue;
        }
        out.push_str(&source[copied..range.start]);
        out.push_str(&text);
        copied = range.end;
    }
    out.push_str(&source[copied..]);
    Ok(Some(out))
}

/// 1-based line and column of byte `offset`, and the text of that line, for error messages.
pub(crate) fn line_of(source: &str, offset: usize) -> (u32, u32, &str) {
    let offset = offset.min(source.len());
    let start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = source[offset..]
        .find('\n')
        .map_or(source.len(), |i| offset + i);
    let line = source[..start].matches('\n').count() + 1;
    let column = source[start..offset].chars().count() + 1;
    (
        line as u32,
        column as u32,
        source[start..end].trim_end_matches('\r'),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::scan;

    fn run(source: &str, node_env: bool) -> Result<Option<String>, Unresolved<String>> {
        rewrite(source, &scan(source), node_env, |spec| match spec {
            "lit" => Ok(Some(Target::Url(
                "/node_modules/lit/index.js?v=1".to_owned(),
            ))),
            "./same.js" => Ok(Some(Target::Url("./same.js".to_owned()))),
            "missing" => Err(format!("no {spec}")),
            _ => Ok(None),
        })
    }

    #[test]
    fn resolved_specifiers_are_replaced_in_place_and_others_kept() {
        let source = "import { html } from 'lit';\nimport './same.js';\nexport * from \"lit\";\n\
                      const m = import('lit');\nimport x from 'https://x.test/a.js';\n";
        let out = run(source, false).unwrap().unwrap();
        assert_eq!(
            out,
            "import { html } from '/node_modules/lit/index.js?v=1';\nimport './same.js';\n\
             export * from \"/node_modules/lit/index.js?v=1\";\n\
             const m = import('/node_modules/lit/index.js?v=1');\n\
             import x from 'https://x.test/a.js';\n"
        );
    }

    #[test]
    fn nothing_to_change_gives_none() {
        assert_eq!(
            run("import './same.js'; process.env.NODE_ENV", false),
            Ok(None)
        );
    }

    #[test]
    fn node_env_reads_become_development_but_strings_comments_and_writes_do_not() {
        let source = "if (process.env.NODE_ENV !== 'production') warn();\n\
                      const s = 'process.env.NODE_ENV'; // process.env.NODE_ENV\n\
                      /* process.env.NODE_ENV */ x.process.env.NODE_ENV;\n\
                      process.env.NODE_ENV = 'test'; process . env . NODE_ENV == 1;\n\
                      process.env.NODE_ENVIRONMENT; `${process.env.NODE_ENV}`;\n";
        let out = run(source, true).unwrap().unwrap();
        assert_eq!(
            out,
            "if (\"development\" !== 'production') warn();\n\
             const s = 'process.env.NODE_ENV'; // process.env.NODE_ENV\n\
             /* process.env.NODE_ENV */ x.process.env.NODE_ENV;\n\
             process.env.NODE_ENV = 'test'; \"development\" == 1;\n\
             process.env.NODE_ENVIRONMENT; `${\"development\"}`;\n"
        );
    }

    #[test]
    fn the_first_unresolved_specifier_is_reported_with_its_place() {
        let source = "import 'lit';\nimport { x } from 'missing';\n";
        let err = run(source, false).unwrap_err();
        assert_eq!(err.specifier, "missing");
        assert_eq!(err.error, "no missing");
        assert_eq!(&source[err.range.clone()], "missing");
        assert_eq!(
            line_of(source, err.range.start),
            (2, 20, "import { x } from 'missing';")
        );
    }
}
