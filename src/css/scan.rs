//! Finds what a stylesheet pulls in: `@import` rules and `url(...)` references, with the
//! byte ranges a served copy rewrites.
//!
//! Built on `cssparser`'s tokenizer (the CSS Syntax Level 3 tokenizer browsers implement),
//! so comments, strings that contain `url(`, escapes and unterminated input are read
//! exactly as a browser reads them; nothing here matches text with patterns.

use cssparser::{Parser, ParserInput, Token};
use std::ops::Range;

/// One reference from a stylesheet to another file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// An `@import` rule or a `url(...)` value.
    pub kind: ReferenceKind,
    /// The URL as the browser reads it (escapes resolved), not yet resolved against the
    /// stylesheet's own URL.
    pub value: String,
    /// Bytes of the token that holds the URL: the whole `url(...)` for an unquoted URL, the
    /// string with its quotes otherwise. Replacing them re-spells the URL.
    pub range: Range<usize>,
    /// How the URL is written, so a rewrite keeps the form.
    pub form: UrlForm,
}

/// What kind of rule or value a [`Reference`] sits in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReferenceKind {
    /// `@import url(x) layer(base) supports(display: grid) screen;`: the condition is the
    /// text after the URL (layer, supports, media queries), trimmed, comments included.
    Import {
        /// Text after the URL and before the `;`.
        condition: String,
    },
    /// `url(x)` in a declaration or descriptor (images, fonts, cursors), or a string in
    /// `image-set()`.
    Url,
}

/// How the URL of a [`Reference`] is spelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlForm {
    /// `url(x)`: the range covers `url(` to `)`.
    UrlToken,
    /// `"x"` (alone, or inside `url("x")`): the range covers the quotes.
    Quoted,
}

impl Reference {
    /// The text that replaces [`range`](Self::range) to point at `url` instead, in the
    /// same form.
    pub fn respell(&self, url: &str) -> String {
        let mut quoted = String::with_capacity(url.len() + 2);
        // Writing to a String cannot fail.
        let _ = cssparser::serialize_string(url, &mut quoted);
        match self.form {
            UrlForm::UrlToken => format!("url({quoted})"),
            UrlForm::Quoted => quoted,
        }
    }

    /// Whether this is an `@import`.
    pub fn is_import(&self) -> bool {
        matches!(self.kind, ReferenceKind::Import { .. })
    }
}

/// Every `@import` that takes effect and every `url(...)` reference in `css`, in source
/// order.
///
/// `@import` counts where browsers honour it: at the top level, before any rule other than
/// `@charset`, `@layer` statements and other imports; a late or nested `@import` is dropped
/// by the browser and is not reported. `url()` is found everywhere, at any depth (nested
/// rules, `@media`, `@font-face`, `image-set()`), except in `@namespace`, which fetches
/// nothing.
pub fn scan(css: &str) -> Vec<Reference> {
    let mut input = ParserInput::new(css);
    let mut parser = Parser::new(&mut input);
    let mut scan = Scan {
        css,
        out: Vec::new(),
    };
    top_level(&mut parser, &mut scan);
    scan.out
}

/// Where strings count as URLs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    /// Only `url(...)` tokens and `url("...")` functions.
    Plain,
    /// Inside `url(`: the string is the URL.
    UrlFunction,
    /// Inside `image-set(`: bare strings are URLs too.
    ImageSet,
    /// Inside `@namespace`: nothing is fetched.
    Ignore,
}

type Unit<'i> = Result<(), cssparser::ParseError<'i, ()>>;

/// The source (for slicing conditions) and what was found so far.
struct Scan<'a> {
    css: &'a str,
    out: Vec<Reference>,
}

/// The next token with the byte offset where it starts, comments and whitespace included.
fn next<'i>(p: &mut Parser<'i, '_>) -> Option<(usize, Token<'i>)> {
    let start = p.position().byte_index();
    p.next_including_whitespace_and_comments()
        .ok()
        .map(|token| (start, token.clone()))
}

fn top_level(p: &mut Parser<'_, '_>, scan: &mut Scan<'_>) {
    let mut imports_allowed = true;
    while let Some((start, token)) = next(p) {
        match token {
            Token::WhiteSpace(_) | Token::Comment(_) | Token::CDO | Token::CDC => {}
            Token::AtKeyword(name) if name.eq_ignore_ascii_case("import") => {
                let import = import_rule(p, scan);
                if imports_allowed && let Some(import) = import {
                    scan.out.push(import);
                }
            }
            Token::AtKeyword(name) => {
                let context = if name.eq_ignore_ascii_case("namespace") {
                    Context::Ignore
                } else {
                    Context::Plain
                };
                let block = statement(p, context, true, scan);
                let keeps_imports = name.eq_ignore_ascii_case("charset")
                    || (name.eq_ignore_ascii_case("layer") && !block);
                if !keeps_imports {
                    imports_allowed = false;
                }
            }
            other => {
                // A qualified rule: its prelude runs to its `{}` block (a `;` does not end
                // it), and after it no `@import` counts.
                imports_allowed = false;
                visit(p, start, &other, Context::Plain, scan);
                statement(p, Context::Plain, false, scan);
            }
        }
    }
}

/// Consumes the rest of a top-level rule, reporting `url()`s in it: up to a `;` (at-rules
/// only) or through its `{}` block. Returns whether it ended with a block.
fn statement(
    p: &mut Parser<'_, '_>,
    context: Context,
    semicolon_ends: bool,
    scan: &mut Scan<'_>,
) -> bool {
    while let Some((start, token)) = next(p) {
        match token {
            Token::Semicolon if semicolon_ends => return false,
            Token::CurlyBracketBlock => {
                visit(p, start, &token, context, scan);
                return true;
            }
            other => visit(p, start, &other, context, scan),
        }
    }
    false
}

/// Reports the reference `token` (which started at `start`) is, or those inside it when
/// it opens a block.
fn visit(
    p: &mut Parser<'_, '_>,
    start: usize,
    token: &Token<'_>,
    context: Context,
    scan: &mut Scan<'_>,
) {
    if context == Context::Ignore {
        if opens_block(token) {
            skip_block(p);
        }
        return;
    }
    match token {
        Token::UnquotedUrl(value) => scan.out.push(Reference {
            kind: ReferenceKind::Url,
            value: value.to_string(),
            range: start..p.position().byte_index(),
            form: UrlForm::UrlToken,
        }),
        Token::Function(name) => {
            let inner = if name.eq_ignore_ascii_case("url") || name.eq_ignore_ascii_case("src") {
                Context::UrlFunction
            } else if name.eq_ignore_ascii_case("image-set")
                || name.eq_ignore_ascii_case("-webkit-image-set")
            {
                Context::ImageSet
            } else {
                Context::Plain
            };
            nested(p, inner, scan);
        }
        Token::ParenthesisBlock | Token::SquareBracketBlock | Token::CurlyBracketBlock => {
            nested(p, Context::Plain, scan);
        }
        _ => {}
    }
}

fn opens_block(token: &Token<'_>) -> bool {
    matches!(
        token,
        Token::Function(_)
            | Token::ParenthesisBlock
            | Token::SquareBracketBlock
            | Token::CurlyBracketBlock
    )
}

/// Walks the block just opened. In `url(` only a string that comes first counts; in
/// `image-set(` every string.
fn nested(p: &mut Parser<'_, '_>, context: Context, scan: &mut Scan<'_>) {
    let _ = p.parse_nested_block(|p| -> Unit<'_> {
        let mut first = true;
        while let Some((start, token)) = next(p) {
            match &token {
                Token::WhiteSpace(_) | Token::Comment(_) => continue,
                Token::QuotedString(value)
                    if (context == Context::UrlFunction && first)
                        || context == Context::ImageSet =>
                {
                    scan.out.push(Reference {
                        kind: ReferenceKind::Url,
                        value: value.to_string(),
                        range: start..p.position().byte_index(),
                        form: UrlForm::Quoted,
                    });
                }
                other => visit(p, start, other, Context::Plain, scan),
            }
            first = false;
        }
        Ok(())
    });
}

/// The rest of an `@import` rule, after its keyword. `None` when it is malformed (the
/// browser drops it): no URL first, or a `{}` block.
fn import_rule(p: &mut Parser<'_, '_>, scan: &mut Scan<'_>) -> Option<Reference> {
    let mut found: Option<Reference> = None;
    let mut valid = true;
    let mut condition: Option<(usize, usize)> = None;
    while let Some((start, token)) = next(p) {
        let end = p.position().byte_index();
        let import = |value: &str, form| Reference {
            kind: ReferenceKind::Import {
                condition: String::new(),
            },
            value: value.to_owned(),
            range: start..end,
            form,
        };
        match &token {
            Token::Semicolon => break,
            Token::WhiteSpace(_) | Token::Comment(_) if found.is_none() => {}
            Token::CurlyBracketBlock => {
                valid = false;
                skip_block(p);
                break;
            }
            _ if found.is_some() => {
                if opens_block(&token) {
                    skip_block(p);
                }
                let end = p.position().byte_index();
                let from = condition.map_or(start, |(from, _)| from);
                condition = Some((from, end));
            }
            Token::QuotedString(value) => found = Some(import(value, UrlForm::Quoted)),
            Token::UnquotedUrl(value) => found = Some(import(value, UrlForm::UrlToken)),
            Token::Function(name) if name.eq_ignore_ascii_case("url") => {
                let mut inner = Scan {
                    css: scan.css,
                    out: Vec::new(),
                };
                nested(p, Context::UrlFunction, &mut inner);
                match inner.out.into_iter().next() {
                    Some(url) => {
                        found = Some(Reference {
                            kind: ReferenceKind::Import {
                                condition: String::new(),
                            },
                            ..url
                        })
                    }
                    None => valid = false,
                }
            }
            _ => {
                valid = false;
                if opens_block(&token) {
                    skip_block(p);
                }
            }
        }
    }
    let mut import = found.filter(|_| valid)?;
    if let Some((from, to)) = condition {
        import.kind = ReferenceKind::Import {
            condition: scan.css[from..to].trim().to_owned(),
        };
    }
    Some(import)
}

fn skip_block(p: &mut Parser<'_, '_>) {
    let _ = p.parse_nested_block(|p| -> Unit<'_> {
        while p.next_including_whitespace_and_comments().is_ok() {}
        Ok(())
    });
}
