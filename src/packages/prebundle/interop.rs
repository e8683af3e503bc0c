//! Named imports from a pre-bundled CommonJS package, by rewriting the importer.
//!
//! A CommonJS package bundled into an ES module has one export, `default`, which is its
//! `module.exports`: its names are only known once it runs. So `import { useState } from
//! 'react'` cannot bind to an export of the bundle; instead the importing statement becomes
//! a default import plus property reads, as Vite does:
//!
//! ```text
//! import React, { useState as s } from 'react';
//! import __hs_cjs0 from "/@deps/react.js?v=…"; const React = <default of __hs_cjs0>, s = __hs_cjs0["useState"];;
//! ```
//!
//! `default` follows Node's and bundlers' `__esModule` convention: a module transpiled from
//! ES syntax (`exports.__esModule = true`) has its default in `.default`, any other module's
//! default is `module.exports` itself. The edit stays on the statement's line, so line
//! numbers in stack traces do not move.
//!
//! Pure string work on the scanner's output, tested without a server.

use crate::modules::{Import, ImportKind};
use std::ops::Range;

/// The default of a CommonJS module object `m`.
fn default_of(m: &str) -> String {
    format!("({m} && {m}.__esModule ? {m}.default : {m})")
}

/// A namespace object (`import * as ns`) for the CommonJS module object `m`: the module
/// itself when it came from ES syntax, else its properties plus `default`.
fn namespace_of(m: &str) -> String {
    format!(
        "({m} && {m}.__esModule ? {m} : Object.assign(Object.create(null), {m}, {{ default: {m} }}))"
    )
}

/// What a static import binds, parsed from the text between `import` and `from`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bindings {
    pub default: Option<String>,
    pub namespace: Option<String>,
    /// `(imported name, local name)`.
    pub named: Vec<(String, String)>,
}

/// Tokens of an import or export clause: names, strings (arbitrary module namespace
/// names), and punctuation. `None` on anything else (comments, type modifiers a transform
/// should have removed): the caller then leaves the statement alone.
fn tokens(text: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if matches!(c, '{' | '}' | ',' | '*') {
            out.push(c.to_string());
            chars.next();
        } else if c == '\'' || c == '"' {
            chars.next();
            let mut value = String::new();
            loop {
                let (_, d) = chars.next()?;
                if d == c {
                    break;
                }
                if d == '\\' || d == '\n' {
                    return None;
                }
                value.push(d);
            }
            out.push(format!("\"{value}\""));
        } else if c == '_' || c == '$' || c.is_alphanumeric() {
            let mut end = i;
            while let Some(&(j, d)) = chars.peek() {
                if d == '_' || d == '$' || d.is_alphanumeric() {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(text[i..end].to_owned());
        } else {
            return None;
        }
    }
    Some(out)
}

fn is_name(token: &str) -> bool {
    !token.starts_with('"') && !matches!(token, "{" | "}" | "," | "*")
}

/// `{ a, b as c, "x-y" as d }` from `tokens[*at]`, advancing `at` past the `}`.
fn named_list(tokens: &[String], at: &mut usize) -> Option<Vec<(String, String)>> {
    if tokens.get(*at)? != "{" {
        return None;
    }
    *at += 1;
    let mut named = Vec::new();
    loop {
        let token = tokens.get(*at)?;
        if token == "}" {
            *at += 1;
            return Some(named);
        }
        let imported = token.trim_matches('"').to_owned();
        *at += 1;
        let local = if tokens.get(*at).map(String::as_str) == Some("as") {
            let local = tokens.get(*at + 1)?;
            *at += 2;
            local.clone()
        } else if is_name(token) {
            token.clone()
        } else {
            return None;
        };
        named.push((imported, local));
        match tokens.get(*at)?.as_str() {
            "," => *at += 1,
            "}" => {}
            _ => return None,
        }
    }
}

/// Parses `React, { useState as s }` (the clause of a static import, without `import` and
/// `from`). `None` when it is not a clause this rewrite understands.
pub(crate) fn parse_import_clause(text: &str) -> Option<Bindings> {
    let tokens = tokens(text)?;
    let mut bindings = Bindings::default();
    let mut at = 0;
    if tokens.first().is_some_and(|t| is_name(t) && t != "type") {
        bindings.default = Some(tokens[0].clone());
        at = 1;
        if at == tokens.len() {
            return Some(bindings);
        }
        if tokens[at] != "," {
            return None;
        }
        at += 1;
    }
    match tokens.get(at)?.as_str() {
        "*" => {
            if tokens.get(at + 1)? != "as" || !is_name(tokens.get(at + 2)?) {
                return None;
            }
            bindings.namespace = Some(tokens[at + 2].clone());
            at += 3;
        }
        "{" => bindings.named = named_list(&tokens, &mut at)?,
        _ => return None,
    }
    (at == tokens.len()).then_some(bindings)
}

/// The statement's replacement: a default import of `url` into `var`, then the bindings.
fn import_statement(bindings: &Bindings, var: &str, url: &str) -> String {
    let mut decls = Vec::new();
    if let Some(local) = &bindings.default {
        decls.push(format!("{local} = {}", default_of(var)));
    }
    if let Some(local) = &bindings.namespace {
        decls.push(format!("{local} = {}", namespace_of(var)));
    }
    for (imported, local) in &bindings.named {
        let value = if imported == "default" {
            default_of(var)
        } else {
            format!("{var}[{}]", json_string(imported))
        };
        decls.push(format!("{local} = {value}"));
    }
    let url = json_string(url);
    if decls.is_empty() {
        return format!("import {url};");
    }
    format!("import {var} from {url}; const {};", decls.join(", "))
}

/// `export { a, b as c } from`: re-exports, rewritten into reads and a local export.
fn export_statement(named: &[(String, String)], var: &str, url: &str) -> String {
    let mut decls = Vec::new();
    let mut exports = Vec::new();
    for (i, (imported, exported)) in named.iter().enumerate() {
        let local = format!("{var}_{i}");
        let value = if imported == "default" {
            default_of(var)
        } else {
            format!("{var}[{}]", json_string(imported))
        };
        decls.push(format!("{local} = {value}"));
        let exported = if exported.starts_with('"') || is_name(exported) {
            exported.clone()
        } else {
            json_string(exported)
        };
        exports.push(format!("{local} as {exported}"));
    }
    let url = json_string(url);
    if decls.is_empty() {
        return format!("import {url}; export {{}};");
    }
    format!(
        "import {var} from {url}; const {}; export {{ {} }};",
        decls.join(", "),
        exports.join(", ")
    )
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// The edits that make `import` (of a CommonJS bundle served at `url`) work: the whole
/// statement for static imports and named re-exports, the specifier plus an interop
/// `.then` for a dynamic `import('x')`, and only the specifier for forms that cannot be
/// rewritten (`export * from`, a clause with comments): those get the module object as
/// `default`, as a browser would. `index` numbers the import within its module, for a
/// unique local name.
pub(crate) fn edits(
    source: &str,
    import: &Import,
    url: &str,
    index: usize,
) -> Vec<(Range<usize>, String)> {
    let Some(spec) = &import.specifier else {
        return Vec::new();
    };
    let only_specifier = || vec![(spec.range.clone(), url.to_owned())];
    let var = format!("__hs_cjs{index}");
    // The opening and closing quotes sit right outside the specifier's range.
    let (open, close) = (spec.range.start.saturating_sub(1), spec.range.end + 1);
    if close > source.len() || open < import.start {
        return only_specifier();
    }
    match import.kind {
        ImportKind::Static => {
            let Some(clause) = source
                .get(import.start + "import".len()..open)
                .map(str::trim)
            else {
                return only_specifier();
            };
            let Some(clause) = clause.strip_suffix("from").map(str::trim_end) else {
                // `import 'x'`: evaluated for its side effects only.
                return only_specifier();
            };
            if followed_by_attributes(&source[close..]) {
                return only_specifier();
            }
            match parse_import_clause(clause) {
                Some(bindings) => {
                    vec![(import.start..close, import_statement(&bindings, &var, url))]
                }
                None => only_specifier(),
            }
        }
        ImportKind::ReExport => {
            let clause = source
                .get(import.start + "export".len()..open)
                .map(str::trim)
                .and_then(|c| c.strip_suffix("from"))
                .and_then(tokens);
            let Some(tokens) = clause else {
                return only_specifier();
            };
            let mut at = 0;
            match named_list(&tokens, &mut at) {
                Some(named) if at == tokens.len() && !followed_by_attributes(&source[close..]) => {
                    vec![(import.start..close, export_statement(&named, &var, url))]
                }
                _ => only_specifier(),
            }
        }
        ImportKind::Dynamic => {
            let rest = &source[close..];
            let gap = rest.len() - rest.trim_start().len();
            if rest[gap..].starts_with(')') {
                let at = close + gap + 1;
                let then = format!(".then((m) => {})", namespace_of("m.default"));
                vec![(spec.range.clone(), url.to_owned()), (at..at, then)]
            } else {
                only_specifier()
            }
        }
    }
}

/// Whether import attributes (`with { … }`, `assert { … }`) follow the specifier.
fn followed_by_attributes(rest: &str) -> bool {
    let rest = rest.trim_start();
    ["with", "assert"].iter().any(|kw| {
        rest.starts_with(kw)
            && !rest[kw.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::scan;

    fn apply(source: &str, url: &str) -> String {
        let scanned = scan(source);
        let mut edits: Vec<_> = scanned
            .imports
            .iter()
            .enumerate()
            .flat_map(|(i, import)| edits(source, import, url, i))
            .collect();
        edits.sort_by_key(|(r, _)| r.start);
        let mut out = String::new();
        let mut copied = 0;
        for (range, text) in edits {
            out.push_str(&source[copied..range.start]);
            out.push_str(&text);
            copied = range.end;
        }
        out.push_str(&source[copied..]);
        out
    }

    #[test]
    fn clauses_parse_into_default_namespace_and_named_bindings() {
        assert_eq!(
            parse_import_clause("React, { useState as s, useEffect, \"x-y\" as z }"),
            Some(Bindings {
                default: Some("React".into()),
                namespace: None,
                named: vec![
                    ("useState".into(), "s".into()),
                    ("useEffect".into(), "useEffect".into()),
                    ("x-y".into(), "z".into()),
                ],
            })
        );
        assert_eq!(
            parse_import_clause("* as R"),
            Some(Bindings {
                namespace: Some("R".into()),
                ..Bindings::default()
            })
        );
        assert_eq!(
            parse_import_clause("$, * as all"),
            Some(Bindings {
                default: Some("$".into()),
                namespace: Some("all".into()),
                named: vec![],
            })
        );
        assert_eq!(parse_import_clause("{}"), Some(Bindings::default()));
        for bad in [
            "{ a /* c */ }",
            "{ a b }",
            "* R",
            "a b",
            "type { T }",
            "{ \"x\" }",
        ] {
            assert_eq!(parse_import_clause(bad), None, "{bad}");
        }
    }

    #[test]
    fn named_imports_become_a_default_import_and_property_reads_on_the_same_line() {
        let out = apply(
            "import React, { useState as s, default as D } from 'react';\nuse(s);\n",
            "/@deps/react.js?v=1",
        );
        assert_eq!(
            out,
            "import __hs_cjs0 from \"/@deps/react.js?v=1\"; const React = (__hs_cjs0 && \
             __hs_cjs0.__esModule ? __hs_cjs0.default : __hs_cjs0), s = __hs_cjs0[\"useState\"], \
             D = (__hs_cjs0 && __hs_cjs0.__esModule ? __hs_cjs0.default : __hs_cjs0);;\nuse(s);\n"
        );
    }

    #[test]
    fn namespace_imports_get_default_beside_the_properties() {
        let out = apply("import * as R from \"react\"\nR.x", "/r.js");
        assert!(
            out.starts_with("import __hs_cjs0 from \"/r.js\"; const R = (__hs_cjs0 && __hs_cjs0.__esModule ? __hs_cjs0 : Object.assign(Object.create(null), __hs_cjs0, { default: __hs_cjs0 }));\nR.x"),
            "{out}"
        );
    }

    #[test]
    fn side_effect_imports_star_reexports_and_attributes_only_change_the_specifier() {
        assert_eq!(apply("import 'react';", "/r.js"), "import '/r.js';");
        assert_eq!(
            apply("export * from 'react';", "/r.js"),
            "export * from '/r.js';"
        );
        assert_eq!(
            apply("import a from 'react' with { type: 'x' };", "/r.js"),
            "import a from '/r.js' with { type: 'x' };"
        );
    }

    #[test]
    fn named_reexports_become_reads_and_a_local_export() {
        assert_eq!(
            apply(
                "export { useState, default as React } from 'react';",
                "/r.js"
            ),
            "import __hs_cjs0 from \"/r.js\"; const __hs_cjs0_0 = __hs_cjs0[\"useState\"], \
             __hs_cjs0_1 = (__hs_cjs0 && __hs_cjs0.__esModule ? __hs_cjs0.default : __hs_cjs0); \
             export { __hs_cjs0_0 as useState, __hs_cjs0_1 as React };;"
        );
    }

    #[test]
    fn dynamic_imports_resolve_to_an_interop_namespace() {
        assert_eq!(
            apply("const m = await import('react');", "/r.js"),
            "const m = await import('/r.js').then((m) => (m.default && m.default.__esModule ? \
             m.default : Object.assign(Object.create(null), m.default, { default: m.default })));"
        );
    }
}
