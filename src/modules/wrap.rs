//! What a browser gets when a module imports a file that is not JavaScript: Vite's
//! semantics for stylesheets, JSON, assets and the `?raw`, `?url` and `?inline` queries,
//! so that code written for Vite runs unchanged.
//!
//! Two decisions live here, both pure:
//! - [`mark_import`]: served modules import non-JS files as `./x.css?import` (Vite's
//!   "explicit import" marker), so the server can tell a module import from a page asking
//!   for the same file (`<link rel="stylesheet">`, `<img src>`), which keeps getting the
//!   file as it is.
//! - [`decide`]: a request, by its path, query and `Sec-Fetch-Dest`, is either a plain file
//!   request (`None`) or asks for one of the [`Wrap`]s, whose JavaScript the functions below
//!   render from the file's bytes.

use std::fmt::Write as _;

/// How a non-JS file is turned into a JavaScript module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wrap {
    /// `import './x.css'`: adds a `<style>` through the client's `updateStyle`, swaps it on
    /// a hot update (the module accepts itself) and removes it when pruned.
    Style,
    /// `import classes from './x.module.css'`: like [`Wrap::Style`] with scoped class names,
    /// exported by their original names.
    CssModule,
    /// `import css from './x.css?inline'`: the stylesheet as a string; no `<style>`.
    InlineStyle,
    /// `import data from './x.json'`: the data as the default export, top-level keys that
    /// are identifiers as named exports.
    Json,
    /// `import logo from './logo.svg'` and `?url` on any file: the file's URL.
    Url,
    /// `?inline` on a file other than a stylesheet: the file as a `data:` URL.
    DataUrl,
    /// `?raw` on any file: the file's content as a string.
    Raw,
}

/// The query parameters that select a wrapper (Vite's names). `t=` (freshness) and others
/// are ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Flags {
    import: bool,
    raw: bool,
    url: bool,
    inline: bool,
    direct: bool,
}

fn flags(query: Option<&str>) -> Flags {
    let mut flags = Flags::default();
    for param in query.unwrap_or("").split('&') {
        // `?raw` and `?raw=` mean the same; a value is never needed.
        let name = param.split_once('=').map_or(param, |(name, _)| name);
        match name {
            "import" => flags.import = true,
            "raw" => flags.raw = true,
            "url" => flags.url = true,
            "inline" => flags.inline = true,
            "direct" => flags.direct = true,
            _ => {}
        }
    }
    flags
}

/// The lower-cased extension of the last segment of a URL path (`""` when it has none).
fn extension(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rfind('.') {
        Some(dot) if dot > 0 => name[dot + 1..].to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// Whether a module importing `path` (no query) gets one of the [`Wrap`]s: a file with an
/// extension that is not JavaScript's (stylesheets, JSON, assets).
pub(crate) fn served_as_wrapper(path: &str) -> bool {
    let ext = extension(path);
    !ext.is_empty() && !is_js_like(&ext)
}

/// Extensions a browser (or, later, a transform) runs as JavaScript: never wrapped.
fn is_js_like(ext: &str) -> bool {
    matches!(
        ext,
        "js" | "mjs" | "cjs" | "jsx" | "ts" | "tsx" | "mts" | "cts"
    )
}

fn is_css(ext: &str) -> bool {
    ext == "css"
}

fn is_css_module(path: &str) -> bool {
    path.to_ascii_lowercase().ends_with(".module.css")
}

/// Decides whether the request for `path` (a URL path without query) with `query` asks for a
/// module wrapper, and which. `script_destination` is `Sec-Fetch-Dest: script`, which
/// browsers send for module imports (static and dynamic) and never for `<link>`, `<img>`
/// or a navigation; it makes an unmarked `import('./x.css')` built at run time work.
///
/// `?raw` and `?url` apply to any file, JavaScript included (Vite's rule). Without a query
/// flag or the script destination, or with `?direct` (Vite's "as a page would get it"),
/// the file is served as it is. `compiled`: a transform makes files of this extension into
/// modules (an embedder's `.md` or `.vue`), so they are never wrapped as assets.
pub(crate) fn decide(
    path: &str,
    query: Option<&str>,
    script_destination: bool,
    compiled: bool,
) -> Option<Wrap> {
    let flags = flags(query);
    if flags.direct {
        return None;
    }
    if flags.raw {
        return Some(Wrap::Raw);
    }
    if flags.url {
        return Some(Wrap::Url);
    }
    let ext = extension(path);
    if compiled || is_js_like(&ext) || ext == "html" || ext == "htm" || path.ends_with('/') {
        return None;
    }
    if flags.inline {
        return Some(if is_css(&ext) {
            Wrap::InlineStyle
        } else {
            Wrap::DataUrl
        });
    }
    if !(flags.import || script_destination) {
        return None;
    }
    Some(match ext.as_str() {
        "css" if is_css_module(path) => Wrap::CssModule,
        "css" => Wrap::Style,
        "json" => Wrap::Json,
        _ => Wrap::Url,
    })
}

/// Whether a request with `query` comes from a module import: `?import` (which served
/// modules add to non-JS imports), or `Sec-Fetch-Dest: script`. `?direct` says otherwise.
pub(crate) fn imported(query: Option<&str>, script_destination: bool) -> bool {
    let flags = flags(query);
    !flags.direct && (flags.import || script_destination)
}

/// The specifier a served module should import instead of `specifier`: `?import` first in
/// the query of a relative or root-relative import of a non-JS file (`./style.css` ->
/// `./style.css?import`, `./a.json?x#h` -> `./a.json?import&x#h`). `None`: keep it (bare
/// specifiers, full URLs, JavaScript, extension-less paths, already marked).
pub(crate) fn mark_import(specifier: &str) -> Option<String> {
    let relative = specifier.starts_with("./") || specifier.starts_with("../");
    let rooted = specifier.starts_with('/') && !specifier.starts_with("//");
    if !(relative || rooted) {
        return None;
    }
    let (path_query, hash) = specifier.split_at(specifier.find('#').unwrap_or(specifier.len()));
    let (path, query) = match path_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_query, None),
    };
    if !served_as_wrapper(path) || flags(query).import {
        return None;
    }
    let rest = query.map_or(String::new(), |q| format!("&{q}"));
    Some(format!("{path}?import{rest}{hash}"))
}

/// Whether a hot update that re-imports the module at `url` (a URL path) must ask for it
/// with `import&`: every non-JS file, which [`decide`] otherwise serves as it is. This is
/// Vite's `explicitImportRequired` flag of `js-update`s.
pub(crate) fn explicit_import_required(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = extension(path);
    !ext.is_empty() && !is_js_like(&ext) && ext != "html" && ext != "htm"
}

/// A JavaScript string literal holding `text` (JSON's escaping is valid JavaScript).
pub(crate) fn js_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// The module for `import './x.css'` served at `url`: the stylesheet goes into a `<style>`
/// through the client's `updateStyle`, which replaces the same element's text when the
/// module is re-imported by a hot update, so the page never flashes unstyled.
/// `exports` is the text of extra exports (the class names of a CSS module).
pub(crate) fn style_module(url: &str, css: &str, exports: &str) -> String {
    let mut out = String::with_capacity(css.len() + 400);
    let _ = write!(
        out,
        "import {{ updateStyle as __vite__updateStyle, removeStyle as __vite__removeStyle }} \
         from \"{client}\";\n\
         const __vite__id = {id};\n\
         const __vite__css = {css};\n\
         __vite__updateStyle(__vite__id, __vite__css);\n\
         {exports}\
         import.meta.hot.accept();\n\
         import.meta.hot.prune(() => __vite__removeStyle(__vite__id));\n",
        client = super::CLIENT_URL,
        id = js_string(url),
        css = js_string(css),
    );
    out
}

/// `export default "<text>"`: `?inline` stylesheets and `?raw` files.
pub(crate) fn string_module(text: &str) -> String {
    format!("export default {};\n", js_string(text))
}

/// `export default "<url>"`: assets and `?url`. `url` is the path the browser asked for,
/// still percent-encoded, so it can go into `src`/`href` as it is.
pub(crate) fn url_module(url: &str) -> String {
    string_module(url)
}

/// `export default "data:<mime>;base64,..."`: `?inline` for files other than stylesheets.
pub(crate) fn data_url_module(mime: &str, bytes: &[u8]) -> String {
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    string_module(&format!("data:{mime};base64,{data}"))
}

/// A JSON file that is not valid JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BadJson {
    /// serde_json's description.
    pub message: String,
    /// 1-based line and column of the error.
    pub line: u32,
    pub column: u32,
}

/// The module for `import data from './x.json'`: the parsed value as the default export,
/// and for an object, each top-level key that can be a `const` name as a named export
/// (`import { version } from './package.json'`), bound to the same value as the default
/// export's property. The text is validated here and parsed by `JSON.parse` in the browser,
/// which is faster than an object literal and keeps a `"__proto__"` key an own property.
pub(crate) fn json_module(text: &str) -> Result<String, BadJson> {
    // A byte-order mark is not JSON but editors write it; JSON.parse would reject it.
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let value: serde_json::Value = serde_json::from_str(text).map_err(|err| BadJson {
        message: err.to_string(),
        line: err.line() as u32,
        column: err.column() as u32,
    })?;
    let mut out = String::with_capacity(text.len() + 64);
    let _ = writeln!(out, "const __vite__json = JSON.parse({});", js_string(text));
    out.push_str("export default __vite__json;\n");
    if let serde_json::Value::Object(map) = &value {
        for key in map.keys().filter(|k| is_binding_name(k)) {
            let _ = writeln!(
                out,
                "export const {key} = __vite__json[{}];",
                js_string(key)
            );
        }
    }
    Ok(out)
}

/// Whether `name` can be declared with `const`: an ASCII identifier that is not a reserved
/// word (non-ASCII identifiers are valid too, but rare in JSON keys; they stay reachable
/// through the default export).
pub(crate) fn is_binding_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let ident = (first.is_ascii_alphabetic() || first == '_' || first == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    ident && !RESERVED.contains(&name) && !name.starts_with("__vite__")
}

/// Reserved words and the names a module may not bind (strict mode), which `const` rejects.
const RESERVED: &[&str] = &[
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "implements",
    "import",
    "in",
    "instanceof",
    "interface",
    "let",
    "new",
    "null",
    "package",
    "private",
    "protected",
    "public",
    "return",
    "static",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
    "arguments",
    "eval",
];

/// A `*.module.css` file after scoping: the stylesheet to inject and the text of its
/// exports (`export const title = "…"; export default {…}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ScopedCss {
    pub css: String,
    pub exports: String,
}

/// A stylesheet that lightningcss could not read, or CSS modules not compiled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BadCss {
    pub message: String,
    /// 1-based line and column, when known.
    pub loc: Option<(u32, u32)>,
}

/// Scopes the class names, ids, keyframes and other local names of the CSS module served
/// at `url` with lightningcss (the names become `<hash>_<name>`, the hash derived from the
/// URL, so they are stable across edits and distinct across files), and renders the
/// exports Vite gives a CSS module: a default export mapping each original name to its
/// scoped classes, plus a named export for each name that can be a binding.
///
/// `composes: a b from './base.module.css'` imports that module (which puts its stylesheet
/// on the page first, and hot-swaps on its own) and appends its scoped names for `a` and
/// `b`; `composes` within the file and `from global` are resolved here.
#[cfg(feature = "css-modules")]
pub(crate) fn scope_css_module(url: &str, css: &str) -> Result<ScopedCss, BadCss> {
    use lightningcss::css_modules::{Config, CssModuleReference};
    use lightningcss::stylesheet::{ParserOptions, PrinterOptions, StyleSheet};

    let options = ParserOptions {
        filename: url.to_owned(),
        css_modules: Some(Config::default()),
        ..ParserOptions::default()
    };
    let bad = |message: String, loc: Option<lightningcss::error::ErrorLocation>| BadCss {
        message,
        loc: loc.map(|l| (l.line + 1, l.column)),
    };
    let sheet = StyleSheet::parse(css, options).map_err(|e| bad(e.kind.to_string(), e.loc))?;
    let printed = sheet
        .to_css(PrinterOptions::default())
        .map_err(|e| bad(e.kind.to_string(), e.loc))?;
    // Each export's classes as a JavaScript expression: string literals, and property
    // reads of the modules `composes … from` imports.
    let mut imports: Vec<String> = Vec::new();
    let mut names: Vec<(String, String)> = Vec::new();
    for (name, export) in printed.exports.unwrap_or_default() {
        let mut local = vec![export.name];
        let mut composed_from = Vec::new();
        for composed in export.composes {
            match composed {
                CssModuleReference::Local { name } | CssModuleReference::Global { name } => {
                    local.push(name)
                }
                CssModuleReference::Dependency { name, specifier } => {
                    let Some(marked) = mark_import(&specifier) else {
                        return Err(BadCss {
                            message: format!(
                                "`composes: {name} from \"{specifier}\"`: only a relative or \
                                 root-relative path to another CSS module can be composed from"
                            ),
                            loc: None,
                        });
                    };
                    let index = match imports.iter().position(|i| *i == marked) {
                        Some(index) => index,
                        None => {
                            imports.push(marked);
                            imports.len() - 1
                        }
                    };
                    composed_from.push(format!("__hs_composes{index}[{}]", js_string(&name)));
                }
            }
        }
        let mut expression = js_string(&local.join(" "));
        for read in composed_from {
            let _ = write!(expression, " + \" \" + {read}");
        }
        names.push((name, expression));
    }
    names.sort();
    let mut exports = String::new();
    for (index, specifier) in imports.iter().enumerate() {
        let _ = writeln!(
            exports,
            "import __hs_composes{index} from {};",
            js_string(specifier)
        );
    }
    for (name, classes) in names.iter().filter(|(n, _)| is_binding_name(n)) {
        let _ = writeln!(exports, "export const {name} = {classes};");
    }
    exports.push_str("export default {");
    for (i, (name, classes)) in names.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(exports, "{sep}{}: {classes}", js_string(name));
    }
    exports.push_str("};\n");
    Ok(ScopedCss {
        css: printed.code,
        exports,
    })
}

/// Without the `css-modules` feature a CSS module cannot be scoped: say how to get it.
#[cfg(not(feature = "css-modules"))]
pub(crate) fn scope_css_module(_url: &str, _css: &str) -> Result<ScopedCss, BadCss> {
    Err(BadCss {
        message: "CSS modules (*.module.css) need hotserve built with the `css-modules` \
                  feature (on in the command-line build)"
            .into(),
        loc: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_imports_of_stylesheets_json_and_assets_are_marked_with_import() {
        assert_eq!(
            mark_import("./style.css").as_deref(),
            Some("./style.css?import")
        );
        assert_eq!(
            mark_import("../data/a.json?x=1#h").as_deref(),
            Some("../data/a.json?import&x=1#h")
        );
        assert_eq!(
            mark_import("/vite.svg").as_deref(),
            Some("/vite.svg?import")
        );
        assert_eq!(
            mark_import("./a.txt?raw").as_deref(),
            Some("./a.txt?import&raw")
        );
    }

    #[test]
    fn javascript_bare_specifiers_urls_and_marked_imports_are_left_alone() {
        for spec in [
            "./main.js",
            "./x.mjs?t=1",
            "./comp.tsx",
            "lit",
            "@scope/pkg/style.css",
            "https://cdn.test/x.css",
            "//cdn.test/x.css",
            "./folder/",
            "./README",
            "./a.css?import",
            "./a.css?t=5&import",
            "data:text/css,a{}",
        ] {
            assert_eq!(mark_import(spec), None, "{spec}");
        }
    }

    #[test]
    fn a_link_or_img_request_gets_the_file_and_a_marked_import_gets_a_module() {
        assert_eq!(decide("/style.css", None, false, false), None);
        assert_eq!(decide("/style.css", Some("t=12"), false, false), None);
        assert_eq!(
            decide("/style.css", Some("import"), false, false),
            Some(Wrap::Style)
        );
        assert_eq!(
            decide("/style.css", Some("import&t=12"), false, false),
            Some(Wrap::Style)
        );
        assert_eq!(
            decide("/style.css", Some("t=12"), true, false),
            Some(Wrap::Style)
        );
        assert_eq!(
            decide("/a/App.module.css", Some("import"), false, false),
            Some(Wrap::CssModule)
        );
        assert_eq!(
            decide("/d.json", Some("import"), false, false),
            Some(Wrap::Json)
        );
        assert_eq!(
            decide("/logo.svg", Some("import"), false, false),
            Some(Wrap::Url)
        );
        assert_eq!(decide("/logo.svg", None, false, false), None);
        assert_eq!(decide("/font.woff2", None, true, false), Some(Wrap::Url));
    }

    #[test]
    fn raw_url_and_inline_queries_apply_as_vite_applies_them() {
        assert_eq!(decide("/a.txt", Some("raw"), false, false), Some(Wrap::Raw));
        assert_eq!(
            decide("/main.js", Some("raw"), false, false),
            Some(Wrap::Raw)
        );
        assert_eq!(
            decide("/main.js", Some("import&url"), false, false),
            Some(Wrap::Url)
        );
        assert_eq!(
            decide("/s.css", Some("import&inline"), false, false),
            Some(Wrap::InlineStyle)
        );
        assert_eq!(
            decide("/i.png", Some("inline"), false, false),
            Some(Wrap::DataUrl)
        );
        assert_eq!(decide("/s.css", Some("import&direct"), true, false), None);
        assert_eq!(decide("/main.js", Some("import"), true, false), None);
        assert_eq!(decide("/index.html", Some("import"), true, false), None);
    }

    #[test]
    fn a_file_type_a_transform_compiles_is_a_module_unless_raw_or_url_is_asked() {
        assert_eq!(decide("/post.md", Some("import"), true, true), None);
        assert_eq!(
            decide("/theme.scss", Some("import&inline"), false, true),
            None
        );
        assert_eq!(
            decide("/post.md", Some("raw"), false, true),
            Some(Wrap::Raw)
        );
        assert_eq!(
            decide("/post.md", Some("url"), false, true),
            Some(Wrap::Url)
        );
        assert!(imported(Some("import&t=1"), false));
        assert!(imported(None, true));
        assert!(!imported(Some("direct"), true));
        assert!(!imported(Some("t=1"), false));
    }

    #[test]
    fn updates_of_non_js_modules_ask_for_an_explicit_import() {
        assert!(explicit_import_required("/style.css"));
        assert!(explicit_import_required("/d.json"));
        assert!(explicit_import_required("/logo.svg?t=1"));
        assert!(!explicit_import_required("/main.js"));
        assert!(!explicit_import_required("/app.tsx"));
        assert!(!explicit_import_required("/dir/"));
    }

    #[test]
    fn a_style_module_injects_swaps_and_removes_its_style() {
        let code = style_module("/style.css", "a{color:red}\n</style>", "");
        assert!(code.starts_with(
            "import { updateStyle as __vite__updateStyle, removeStyle as __vite__removeStyle } \
             from \"/@vite/client\";"
        ));
        assert!(code.contains("const __vite__id = \"/style.css\";"));
        assert!(code.contains("const __vite__css = \"a{color:red}\\n</style>\";"));
        assert!(code.contains("import.meta.hot.accept();"));
        assert!(code.contains("import.meta.hot.prune(() => __vite__removeStyle(__vite__id));"));
        let scan = super::super::scan(&code);
        assert!(
            scan.hot.self_accepting,
            "the style module is an HMR boundary"
        );
    }

    #[test]
    fn json_gives_a_default_export_and_named_exports_for_identifier_keys() {
        let code = json_module(
            "\u{FEFF}{\"name\": \"x\", \"a-b\": 1, \"class\": 2, \"$ok\": [1], \"__proto__\": {}}",
        )
        .unwrap();
        assert!(code.contains("export default __vite__json;"));
        assert!(code.contains("export const name = __vite__json[\"name\"];"));
        assert!(code.contains("export const $ok = __vite__json[\"$ok\"];"));
        assert!(!code.contains("export const class"));
        assert!(!code.contains("export const a-b"));
        assert!(!code.contains("\u{FEFF}"));
        let array = json_module("[1, 2]").unwrap();
        assert!(!array.contains("export const"));
    }

    #[test]
    fn invalid_json_is_reported_with_its_position() {
        let err = json_module("{\n  \"a\": 1,\n}").unwrap_err();
        assert_eq!((err.line, err.column), (3, 1));
        assert!(err.message.contains("trailing comma"), "{}", err.message);
    }

    #[test]
    fn binding_names_exclude_reserved_words_and_punctuation() {
        assert!(is_binding_name("version"));
        assert!(is_binding_name("_x1"));
        assert!(!is_binding_name("1x"));
        assert!(!is_binding_name("default"));
        assert!(!is_binding_name("a.b"));
        assert!(!is_binding_name(""));
        assert!(!is_binding_name("__vite__json"));
    }

    #[test]
    fn raw_url_and_data_url_modules_export_strings() {
        assert_eq!(string_module("a\"b\n"), "export default \"a\\\"b\\n\";\n");
        assert_eq!(
            url_module("/assets/my%20logo.svg"),
            "export default \"/assets/my%20logo.svg\";\n"
        );
        assert_eq!(
            data_url_module("image/png", b"\x89PNG"),
            "export default \"data:image/png;base64,iVBORw==\";\n"
        );
    }

    #[cfg(feature = "css-modules")]
    #[test]
    fn css_module_class_names_are_scoped_and_exported() {
        let scoped = scope_css_module(
            "/src/App.module.css",
            ".title { color: red }\n.big-text { composes: title; font-size: 2em }\n",
        )
        .unwrap();
        let title = scoped
            .css
            .split('{')
            .next()
            .unwrap()
            .trim()
            .trim_start_matches('.');
        assert_ne!(title, "title", "the class is renamed");
        assert!(title.ends_with("_title"), "{title}");
        assert!(
            scoped
                .exports
                .contains(&format!("export const title = \"{title}\";")),
            "{}",
            scoped.exports
        );
        assert!(
            scoped.exports.contains(&format!(
                "\"big-text\": \"{}_big-text {title}\"",
                &title[..title.len() - 6]
            )),
            "{}",
            scoped.exports
        );
        let other = scope_css_module("/src/Other.module.css", ".title{}").unwrap();
        assert!(!other.css.contains(title), "another file gets other names");
    }

    #[cfg(feature = "css-modules")]
    #[test]
    fn composes_from_another_css_module_imports_it_and_reads_its_names() {
        let scoped = scope_css_module(
            "/src/Button.module.css",
            ".button { composes: base round from './base.module.css'; composes: x from '/y.module.css' }\n\
             .link { composes: base from './base.module.css'; }\n",
        )
        .unwrap();
        let exports = &scoped.exports;
        assert!(
            exports.contains("import __hs_composes0 from \"./base.module.css?import\";\n"),
            "{exports}"
        );
        assert!(
            exports.contains("import __hs_composes1 from \"/y.module.css?import\";\n"),
            "{exports}"
        );
        assert_eq!(exports.matches("import ").count(), 2, "one import per file");
        assert!(
            exports.contains(
                "_button\" + \" \" + __hs_composes0[\"base\"] + \" \" + __hs_composes0[\"round\"] \
                 + \" \" + __hs_composes1[\"x\"];"
            ),
            "{exports}"
        );
        let bare = scope_css_module("/a.module.css", ".a { composes: b from 'pkg/b.css' }");
        assert!(
            bare.unwrap_err()
                .message
                .contains("composes: b from \"pkg/b.css\""),
            "a specifier the browser cannot follow is named, not dropped"
        );
    }

    #[cfg(feature = "css-modules")]
    #[test]
    fn a_broken_css_module_names_the_line() {
        let err =
            scope_css_module("/x.module.css", ".a {}\n.b { color: red; }}\n@media {").unwrap_err();
        assert!(!err.message.is_empty());
    }
}
