//! A byte-level scanner for the parts of an ES module that hot reload depends on.
//!
//! It is not a parser: it walks the source once, skipping comments, strings, template
//! literals and regular expressions, and looks at `import`, `export ... from` and
//! `import.meta.hot.accept(...)` where they appear as code. The division-versus-regex
//! ambiguity is settled by the previous significant token, the way es-module-lexer (which
//! Vite uses) does; `tests/lexer_corpus.rs` checks the two agree on real-world packages.
//!
//! All ranges are byte offsets into the source and always fall on `char` boundaries, because
//! every delimiter they sit next to is ASCII.

use std::ops::Range;

/// Everything hot reload needs to know about one module's source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanResult {
    /// Static imports, re-exports and dynamic imports, in source order.
    pub imports: Vec<Import>,
    /// Byte offsets of each `import.meta` expression; kept so a caller can tell modules that
    /// depend on their own URL.
    pub import_meta: Vec<usize>,
    /// How the module uses `import.meta.hot`.
    pub hot: HotUsage,
    /// Byte ranges of each `process.env.NODE_ENV` read in code (not in strings, comments or
    /// as a property of something else), which dependency code gets replaced by a string.
    pub node_env: Vec<Range<usize>>,
    /// Whether the source has ES module syntax at its top level (`import` or `export`
    /// statements); a dependency without it that uses `require`/`module.exports` is CommonJS.
    pub module_syntax: bool,
}

/// How a module opts in to hot updates; decides whether it is an HMR boundary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HotUsage {
    /// `import.meta.hot` appears in code: the module needs a hot context injected.
    pub mentioned: bool,
    /// `hot.accept()`, `hot.accept(cb)` or `hot.acceptExports(...)` is called.
    ///
    /// `acceptExports` counts as a self-accept: without analysing which importers use
    /// which exports hotserve cannot do better, and Vite makes the same choice when its
    /// export analysis gives up.
    pub self_accepting: bool,
    /// The string literals passed to `hot.accept("./dep.js", cb)` or
    /// `hot.accept(["./a.js", "./b.js"], cb)`, as written (the transform rewrites them to
    /// resolved URL paths because the client compares them with update paths as strings).
    pub accepted_deps: Vec<Specifier>,
}

/// The syntax an import came from; dynamic imports may lack a literal specifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportKind {
    /// `import ... from "s"` or `import "s"`.
    Static,
    /// `export ... from "s"`, `export * from "s"`.
    ReExport,
    /// `import(...)`.
    Dynamic,
}

/// One import found in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    /// Which syntax.
    pub kind: ImportKind,
    /// Byte offset of the `import` / `export` keyword.
    pub start: usize,
    /// The module specifier; `None` for a dynamic import of a computed value, whose target
    /// cannot be known before the code runs.
    pub specifier: Option<Specifier>,
}

/// A string literal naming a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Specifier {
    /// The string's value, escapes decoded.
    pub value: String,
    /// Bytes between the quotes, as written; the transform edits exactly this range.
    pub range: Range<usize>,
}

/// Scans `source` for imports, `import.meta` and hot-accept calls in one linear pass.
///
/// Never fails: on malformed input (an unterminated string, unbalanced brackets) it recovers
/// and reports what it could see, since the browser will show the real syntax error.
pub fn scan(source: &str) -> ScanResult {
    let mut lexer = Lexer {
        src: source.as_bytes(),
        text: source,
        pos: 0,
        stack: Vec::new(),
        last: Last::Start,
        out: ScanResult::default(),
    };
    lexer.run();
    lexer.out
}

/// An open bracket, remembered until it closes.
#[derive(Clone, Copy, Debug)]
enum Open {
    /// `(`; `keyword` when it follows `if`/`while`/`for`/`with`, so a `/` after `)` starts a
    /// regex. `dynamic` is the index of the dynamic import it belongs to.
    Paren {
        keyword: bool,
        dynamic: Option<usize>,
    },
    Bracket,
    /// `{`; `block` when it opens a statement block rather than an object literal.
    Brace {
        block: bool,
    },
    /// `${` inside a template literal: its `}` resumes the template.
    Template,
}

/// The previous significant token, as far as `/` and `{` need to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Last {
    Start,
    /// An operator or opening bracket: an expression starts next.
    Punct(u8),
    /// `=>`.
    Arrow,
    /// A single `.`: a property name follows.
    Dot,
    /// An identifier or keyword, by byte range.
    Ident(usize, usize),
    /// A literal, `]`, `++`/`--`: an expression ended.
    Value,
    CloseParen {
        keyword: bool,
    },
    CloseBrace {
        block: bool,
    },
}

/// Keywords after which an expression (and so a regex) starts.
const EXPRESSION_KEYWORDS: &[&str] = &[
    "await",
    "case",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "in",
    "instanceof",
    "new",
    "of",
    "return",
    "throw",
    "typeof",
    "void",
    "yield",
];

/// Keywords after which `{` is an object literal rather than a block.
const OBJECT_KEYWORDS: &[&str] = &[
    "await",
    "case",
    "delete",
    "in",
    "instanceof",
    "of",
    "return",
    "throw",
    "typeof",
    "void",
    "yield",
];

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'\\' | b'#') || b >= 0x80
}

struct Lexer<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    stack: Vec<Open>,
    last: Last,
    out: ScanResult,
}

impl Lexer<'_> {
    fn at(&self, p: usize) -> u8 {
        self.src.get(p).copied().unwrap_or(0)
    }

    fn run(&mut self) {
        if self.src.starts_with(b"#!") {
            self.pos = self.line_end(0);
        }
        while self.pos < self.src.len() {
            let b = self.src[self.pos];
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => self.pos += 1,
                b'/' if self.at(self.pos + 1) == b'/' => self.pos = self.line_end(self.pos),
                b'/' if self.at(self.pos + 1) == b'*' => {
                    self.pos = self.block_comment_end(self.pos)
                }
                b'/' if self.regex_allowed() => {
                    self.pos = self.regex_end(self.pos);
                    self.last = Last::Value;
                }
                b'\'' | b'"' => {
                    self.pos = self.string_end(self.pos);
                    self.last = Last::Value;
                }
                b'`' => {
                    self.pos += 1;
                    self.template();
                }
                b'(' => {
                    let keyword = self.last_word_is(&["if", "while", "for", "with"]);
                    self.open(
                        Open::Paren {
                            keyword,
                            dynamic: None,
                        },
                        b,
                    );
                }
                b'[' => self.open(Open::Bracket, b),
                b'{' => {
                    let block = self.brace_is_block();
                    self.open(Open::Brace { block }, b);
                }
                b')' => {
                    self.pos += 1;
                    let keyword = match self.stack.pop() {
                        Some(Open::Paren { keyword, dynamic }) => {
                            self.drop_method_named_import(dynamic);
                            keyword
                        }
                        _ => false,
                    };
                    self.last = Last::CloseParen { keyword };
                }
                b']' => {
                    self.pos += 1;
                    self.stack.pop();
                    self.last = Last::Value;
                }
                b'}' => {
                    self.pos += 1;
                    match self.stack.pop() {
                        Some(Open::Template) => self.template(),
                        Some(Open::Brace { block }) => self.last = Last::CloseBrace { block },
                        _ => self.last = Last::CloseBrace { block: true },
                    }
                }
                b'.' if self.at(self.pos + 1).is_ascii_digit() => self.number(),
                b'.' if self.src[self.pos..].starts_with(b"...") => {
                    self.pos += 3;
                    self.last = Last::Punct(b'.');
                }
                b'.' => {
                    self.pos += 1;
                    self.last = Last::Dot;
                }
                b'=' if self.at(self.pos + 1) == b'>' => {
                    self.pos += 2;
                    self.last = Last::Arrow;
                }
                b'+' | b'-' if self.at(self.pos + 1) == b => {
                    self.pos += 2;
                    self.last = Last::Value;
                }
                b'0'..=b'9' => self.number(),
                0x80.. if self.unicode_space(self.pos) > 0 => {
                    self.pos += self.unicode_space(self.pos)
                }
                _ if is_ident_byte(b) => self.word(),
                _ => {
                    self.pos += 1;
                    self.last = Last::Punct(b);
                }
            }
        }
    }

    fn open(&mut self, open: Open, b: u8) {
        self.stack.push(open);
        self.pos += 1;
        self.last = Last::Punct(b);
    }

    fn last_word_is(&self, words: &[&str]) -> bool {
        match self.last {
            Last::Ident(s, e) => words.contains(&&self.text[s..e]),
            _ => false,
        }
    }

    fn regex_allowed(&self) -> bool {
        match self.last {
            Last::Start | Last::Punct(_) | Last::Arrow => true,
            Last::Ident(..) => self.last_word_is(EXPRESSION_KEYWORDS),
            Last::CloseParen { keyword } => keyword,
            Last::CloseBrace { block } => block,
            Last::Dot | Last::Value => false,
        }
    }

    fn brace_is_block(&self) -> bool {
        match self.last {
            Last::Start | Last::Arrow | Last::CloseParen { .. } | Last::CloseBrace { .. } => true,
            Last::Punct(p) => matches!(p, b';' | b'{' | b'}'),
            Last::Ident(..) => !self.last_word_is(OBJECT_KEYWORDS),
            Last::Dot | Last::Value => true,
        }
    }

    fn number(&mut self) {
        while self.pos < self.src.len()
            && (is_ident_byte(self.src[self.pos]) || self.src[self.pos] == b'.')
        {
            self.pos += 1;
        }
        self.last = Last::Value;
    }

    fn word_end(&self, mut p: usize) -> usize {
        while p < self.src.len() && is_ident_byte(self.src[p]) && self.unicode_space(p) == 0 {
            p += 1;
        }
        p
    }

    /// The byte length of the non-ASCII whitespace (NBSP, BOM, line separators...) at `p`,
    /// or 0; JavaScript separates tokens with these as with ASCII spaces.
    fn unicode_space(&self, p: usize) -> usize {
        if self.at(p) < 0x80 || !self.text.is_char_boundary(p) {
            return 0;
        }
        match self.text[p..].chars().next() {
            Some(c) if c.is_whitespace() || c == '\u{FEFF}' => c.len_utf8(),
            _ => 0,
        }
    }

    fn word(&mut self) {
        let start = self.pos;
        let end = self.word_end(start);
        self.pos = end;
        let property = self.last == Last::Dot;
        let top_level = self.stack.is_empty();
        match &self.text[start..end] {
            "import" if !property => self.import(start, top_level),
            "process" if !property => self.process(start, end),
            "export" if !property && top_level => {
                self.out.module_syntax = true;
                if let Some((spec, after)) = self.clause(end, false) {
                    self.push_import(ImportKind::ReExport, start, Some(spec));
                    self.pos = after;
                    self.last = Last::Value;
                } else {
                    self.last = Last::Ident(start, end);
                }
            }
            // `a.return / 2`: a property name is never a keyword.
            _ if property => self.last = Last::Value,
            _ => self.last = Last::Ident(start, end),
        }
    }

    /// Handles the identifier `process` at `start..end`: records `process.env.NODE_ENV` when
    /// it is read (not assigned, not the start of a longer name).
    fn process(&mut self, start: usize, end: usize) {
        self.last = Last::Ident(start, end);
        let mut p = end;
        for name in ["env", "NODE_ENV"] {
            let dot = self.skip_trivia(p);
            if self.at(dot) != b'.' {
                return;
            }
            let word = self.skip_trivia(dot + 1);
            let word_end = self.word_end(word);
            if &self.text[word..word_end] != name {
                return;
            }
            p = word_end;
        }
        let next = self.skip_trivia(p);
        // `process.env.NODE_ENV = "x"` stays an assignment (`==` is a comparison).
        if self.at(next) == b'=' && self.at(next + 1) != b'=' {
            return;
        }
        self.out.node_env.push(start..p);
        self.pos = p;
        self.last = Last::Value;
    }

    fn push_import(&mut self, kind: ImportKind, start: usize, specifier: Option<Specifier>) {
        self.out.imports.push(Import {
            kind,
            start,
            specifier,
        });
    }

    /// Handles the `import` keyword at `start`; `self.pos` is just after it.
    fn import(&mut self, start: usize, top_level: bool) {
        let end = self.pos;
        let next = self.skip_trivia(end);
        match self.at(next) {
            b'(' => {
                let arg = self.skip_trivia(next + 1);
                let literal = self
                    .string_at(arg)
                    .filter(|(_, after)| matches!(self.at(self.skip_trivia(*after)), b')' | b','));
                let index = self.out.imports.len();
                self.push_import(ImportKind::Dynamic, start, literal.map(|(spec, _)| spec));
                self.stack.push(Open::Paren {
                    keyword: false,
                    dynamic: Some(index),
                });
                self.pos = next + 1;
                self.last = Last::Punct(b'(');
            }
            b'.' => {
                let meta = self.skip_trivia(next + 1);
                let meta_end = self.word_end(meta);
                if &self.text[meta..meta_end] == "meta" {
                    self.out.import_meta.push(start);
                    self.hot_usage(meta_end);
                    self.pos = meta_end;
                    self.last = Last::Value;
                } else {
                    self.last = Last::Ident(start, end);
                }
            }
            _ if top_level => match self.clause(end, true) {
                Some((spec, after)) => {
                    self.out.module_syntax = true;
                    self.push_import(ImportKind::Static, start, Some(spec));
                    self.pos = after;
                    self.last = Last::Value;
                }
                None => self.last = Last::Ident(start, end),
            },
            _ => self.last = Last::Ident(start, end),
        }
    }

    /// A class or object method called `import` looks like a dynamic import until its body:
    /// `import(x) {` is never an expression, so the record is dropped.
    fn drop_method_named_import(&mut self, dynamic: Option<usize>) {
        if let Some(index) = dynamic
            && self.at(self.skip_trivia(self.pos)) == b'{'
            && index + 1 == self.out.imports.len()
        {
            self.out.imports.pop();
        }
    }

    /// Parses the rest of an `import`/`export` statement after the keyword, up to its
    /// specifier: bindings, `* as ns`, `{ a, b as c }`, then `from "s"` (or, for imports, a
    /// bare `"s"`). Returns the specifier and the offset after its closing quote, or `None`
    /// when the statement imports from nothing (`export const x`, `export { a }`).
    fn clause(&self, mut p: usize, bare_string_ok: bool) -> Option<(Specifier, usize)> {
        let mut after_from = false;
        let mut first = true;
        // `import defer * as ns from` has the most words outside braces; a longer run is not
        // an import, and stopping keeps `import import import ...` linear.
        let mut words = 0;
        loop {
            p = self.skip_trivia(p);
            match self.at(p) {
                b'\'' | b'"' if after_from || (first && bare_string_ok) => {
                    return self.string_at(p);
                }
                b'{' => p = self.skip_braces(p)?,
                b'*' | b',' => p += 1,
                b if is_ident_byte(b) && !b.is_ascii_digit() && words < 6 => {
                    words += 1;
                    let end = self.word_end(p);
                    after_from = &self.text[p..end] == "from";
                    first = false;
                    p = end;
                    continue;
                }
                _ => return None,
            }
            after_from = false;
            first = false;
        }
    }

    /// Skips `{ ... }` of import/export bindings, which may hold string names and comments.
    fn skip_braces(&self, mut p: usize) -> Option<usize> {
        p += 1;
        loop {
            p = self.skip_trivia(p);
            match self.at(p) {
                b'}' => return Some(p + 1),
                b'\'' | b'"' => p = self.string_end(p),
                0 if p >= self.src.len() => return None,
                b'{' | b'(' | b';' | b'=' => return None,
                _ => p += 1,
            }
        }
    }

    /// Looks at what follows `import.meta` (ending at `p`) for `.hot` and `.hot.accept(`.
    fn hot_usage(&mut self, p: usize) {
        let Some(p) = self.dot_word(p, &["hot"]) else {
            return;
        };
        self.out.hot.mentioned = true;
        let method_start = self.skip_trivia(p);
        let method_start = if self.src[method_start..].starts_with(b"?.") {
            method_start + 1
        } else {
            method_start
        };
        let Some(p) = self.dot_word(method_start, &["accept", "acceptExports"]) else {
            return;
        };
        let paren = self.skip_trivia(p);
        if self.at(paren) != b'(' {
            return;
        }
        let exports = self.text[..p].ends_with("acceptExports");
        let arg = self.skip_trivia(paren + 1);
        if exports {
            self.out.hot.self_accepting = true;
        } else if let Some((dep, _)) = self.string_at(arg) {
            self.out.hot.accepted_deps.push(dep);
        } else if self.at(arg) == b'[' {
            let mut p = arg + 1;
            loop {
                p = self.skip_trivia(p);
                match self.string_at(p) {
                    Some((dep, after)) => {
                        self.out.hot.accepted_deps.push(dep);
                        p = self.skip_trivia(after);
                        if self.at(p) != b',' {
                            break;
                        }
                        p += 1;
                    }
                    None => break,
                }
            }
        } else {
            self.out.hot.self_accepting = true;
        }
    }

    /// `.word` at `p` (trivia allowed around the dot), for one of `words`; returns the end.
    fn dot_word(&self, p: usize, words: &[&str]) -> Option<usize> {
        let p = self.skip_trivia(p);
        if self.at(p) != b'.' {
            return None;
        }
        let start = self.skip_trivia(p + 1);
        let end = self.word_end(start);
        words.contains(&&self.text[start..end]).then_some(end)
    }

    /// A quoted string literal at `p`, with the offset after its closing quote.
    fn string_at(&self, p: usize) -> Option<(Specifier, usize)> {
        let quote = self.at(p);
        if quote != b'\'' && quote != b'"' {
            return None;
        }
        let end = self.string_end(p);
        if self.src.get(end - 1) != Some(&quote) || end - 1 == p {
            return None;
        }
        let range = p + 1..end - 1;
        let value = unescape(&self.text[range.clone()]);
        Some((Specifier { value, range }, end))
    }

    fn skip_trivia(&self, mut p: usize) -> usize {
        loop {
            match self.at(p) {
                b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => p += 1,
                b'/' if self.at(p + 1) == b'/' => p = self.line_end(p),
                b'/' if self.at(p + 1) == b'*' => p = self.block_comment_end(p),
                0x80.. if self.unicode_space(p) > 0 => p += self.unicode_space(p),
                _ => return p,
            }
        }
    }

    fn line_end(&self, p: usize) -> usize {
        self.src[p..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .map_or(self.src.len(), |i| p + i)
    }

    fn block_comment_end(&self, p: usize) -> usize {
        self.src[p + 2..]
            .windows(2)
            .position(|w| w == b"*/")
            .map_or(self.src.len(), |i| p + 2 + i + 2)
    }

    /// The offset after the string starting at `p`; an unterminated string ends at the line.
    fn string_end(&self, p: usize) -> usize {
        let quote = self.src[p];
        let mut i = p + 1;
        while i < self.src.len() {
            match self.src[i] {
                b'\\' => i += 2,
                b if b == quote => return i + 1,
                b'\n' | b'\r' => return i,
                _ => i += 1,
            }
        }
        self.src.len()
    }

    fn regex_end(&self, p: usize) -> usize {
        let mut i = p + 1;
        let mut in_class = false;
        while i < self.src.len() {
            match self.src[i] {
                b'\\' => i += 1,
                b'[' => in_class = true,
                b']' => in_class = false,
                b'/' if !in_class => return self.word_end(i + 1),
                b'\n' | b'\r' => return i,
                _ => {}
            }
            i += 1;
        }
        self.src.len()
    }

    /// Scans template text from `self.pos` to the closing backtick or the next `${`.
    fn template(&mut self) {
        let mut i = self.pos;
        while i < self.src.len() {
            match self.src[i] {
                b'\\' => i += 2,
                b'`' => {
                    self.pos = i + 1;
                    self.last = Last::Value;
                    return;
                }
                b'$' if self.at(i + 1) == b'{' => {
                    self.stack.push(Open::Template);
                    self.pos = i + 2;
                    self.last = Last::Punct(b'{');
                    return;
                }
                _ => i += 1,
            }
        }
        self.pos = self.src.len();
    }
}

/// Decodes the escapes of a JS string literal's body.
fn unescape(raw: &str) -> String {
    if !raw.contains('\\') {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    let mut pending_high: Option<u32> = None;
    while let Some(c) = chars.next() {
        if c != '\\' {
            flush_high(&mut out, &mut pending_high);
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else { break };
        let code = match e {
            'n' => Some('\n' as u32),
            'r' => Some('\r' as u32),
            't' => Some('\t' as u32),
            'b' => Some(0x08),
            'f' => Some(0x0c),
            'v' => Some(0x0b),
            '0' => Some(0),
            'x' => hex(&mut chars, 2),
            'u' if chars.peek() == Some(&'{') => {
                chars.next();
                let mut value = 0u32;
                for d in chars.by_ref() {
                    match d.to_digit(16) {
                        Some(v) => value = value.saturating_mul(16).saturating_add(v),
                        None => break,
                    }
                }
                Some(value)
            }
            'u' => hex(&mut chars, 4),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                None
            }
            '\n' | '\u{2028}' | '\u{2029}' => None,
            other => Some(other as u32),
        };
        let Some(code) = code else { continue };
        match code {
            0xD800..=0xDBFF => {
                flush_high(&mut out, &mut pending_high);
                pending_high = Some(code);
            }
            0xDC00..=0xDFFF => match pending_high.take() {
                Some(high) => {
                    let c = 0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00);
                    out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                }
                None => out.push('\u{FFFD}'),
            },
            _ => {
                flush_high(&mut out, &mut pending_high);
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
        }
    }
    flush_high(&mut out, &mut pending_high);
    out
}

fn flush_high(out: &mut String, pending: &mut Option<u32>) {
    if pending.take().is_some() {
        out.push('\u{FFFD}');
    }
}

fn hex(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, n: usize) -> Option<u32> {
    let mut value = 0;
    for _ in 0..n {
        value = value * 16 + chars.peek()?.to_digit(16)?;
        chars.next();
    }
    Some(value)
}
