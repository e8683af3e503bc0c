//! `import.meta.env`: the mode, Vite's built-in flags and the `VITE_`-prefixed variables
//! from the root's `.env` files and the process environment.
//!
//! Only `VITE_` variables are ever kept, so nothing else from a `.env` file (database
//! passwords, API secrets) can reach a browser: the rest is dropped while the files are
//! read, before any value leaves this module. The files themselves stay on the HTTP deny
//! list.
//!
//! Precedence is Vite's (`loadEnv`): `.env` < `.env.local` < `.env.[mode]` <
//! `.env.[mode].local`, and a `VITE_` variable already set in the process environment wins
//! over all files, so `VITE_API=… hotserve` overrides what the files say.

use std::collections::BTreeMap;
use std::path::Path;

/// Only variables with this prefix reach the browser (Vite's default `envPrefix`).
pub(crate) const PREFIX: &str = "VITE_";

/// The mode when none is given (Vite's dev server default).
pub(crate) const DEFAULT_MODE: &str = "development";

/// What `import.meta.env` holds for one mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Env {
    mode: String,
    /// `VITE_` variables only.
    vars: BTreeMap<String, String>,
}

/// A mode name that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BadMode(pub String);

impl std::fmt::Display for BadMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid mode {:?}: a mode is a plain name such as `development` or `staging` \
             (not `local`, which .env.local already means, and without `/`, `\\` or `..`)",
            self.0
        )
    }
}

/// Checks a mode name: it becomes part of a file name (`.env.[mode]`), so it must not
/// climb out of the root; `local` is refused as Vite refuses it, since `.env.local.local`
/// would be ambiguous.
pub(crate) fn check_mode(mode: &str) -> Result<(), BadMode> {
    let plain = !mode.is_empty()
        && mode != "local"
        && !mode.contains(['/', '\\', '\0'])
        && mode.trim_matches('.') == mode;
    if plain {
        Ok(())
    } else {
        Err(BadMode(mode.to_owned()))
    }
}

/// The `.env` files for `mode`, lowest precedence first.
pub(crate) fn files_for(mode: &str) -> [String; 4] {
    [
        ".env".into(),
        ".env.local".into(),
        format!(".env.{mode}"),
        format!(".env.{mode}.local"),
    ]
}

/// Whether a change to the file at `relative` (a path from the root, `/`-separated)
/// changes `import.meta.env`: any `.env` or `.env.*` directly in the root.
pub(crate) fn is_env_file(relative: &str) -> bool {
    let relative = relative.trim_start_matches('/');
    !relative.contains('/') && (relative == ".env" || relative.starts_with(".env."))
}

impl Default for Env {
    /// No variables, in the default mode.
    fn default() -> Self {
        Env {
            mode: DEFAULT_MODE.into(),
            vars: BTreeMap::new(),
        }
    }
}

impl Env {
    /// Reads the `.env` files for `mode` from `dir` and takes `VITE_` variables from
    /// `process` (the process environment, passed in so tests stay independent of it).
    /// Missing files are skipped; unreadable ones are logged and skipped, so a broken file
    /// never stops the server.
    pub fn load(
        dir: &Path,
        mode: &str,
        process: impl IntoIterator<Item = (String, String)>,
    ) -> Env {
        let mut parsed: BTreeMap<String, String> = BTreeMap::new();
        for name in files_for(mode) {
            let path = dir.join(&name);
            match std::fs::read(&path) {
                Ok(bytes) => parsed.extend(parse(&String::from_utf8_lossy(&bytes))),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => tracing::warn!("cannot read {}: {err}", path.display()),
            }
        }
        let process: BTreeMap<String, String> = process.into_iter().collect();
        let mut vars = BTreeMap::new();
        for (key, value) in &parsed {
            if key.starts_with(PREFIX) {
                vars.insert(key.clone(), expand(value, &process, &parsed));
            }
        }
        for (key, value) in &process {
            if key.starts_with(PREFIX) {
                vars.insert(key.clone(), value.clone());
            }
        }
        Env {
            mode: mode.to_owned(),
            vars,
        }
    }

    /// The object `import.meta.env` is set to, as a JavaScript expression: Vite's built-ins
    /// (`BASE_URL`, `MODE`, `DEV`, `PROD`, `SSR`) and the `VITE_` variables.
    pub fn object(&self) -> String {
        let mut object = serde_json::Map::new();
        object.insert("BASE_URL".into(), "/".into());
        object.insert("MODE".into(), self.mode.clone().into());
        object.insert("DEV".into(), true.into());
        object.insert("PROD".into(), false.into());
        object.insert("SSR".into(), false.into());
        for (key, value) in &self.vars {
            object.insert(key.clone(), value.clone().into());
        }
        serde_json::Value::Object(object).to_string()
    }

    /// The statement a served module that uses `import.meta.env` starts with (Vite's dev
    /// server does the same): every read, `import.meta.env.VITE_X` or the whole object,
    /// then sees these values.
    pub fn preamble(&self) -> String {
        format!("import.meta.env = {};", self.object())
    }
}

/// Whether a module's source uses `import.meta.env` (a mention in a comment costs one
/// harmless assignment).
pub(crate) fn is_used(source: &str) -> bool {
    source.contains("import.meta.env")
}

/// Parses a `.env` file the way the `dotenv` package (which Vite uses) does: `KEY=value`
/// or `KEY: value` lines, an optional `export ` prefix, `#` comments, values in single,
/// double or back quotes (which may span lines; `\n` and `\r` are expanded inside double
/// quotes), unquoted values trimmed and ending at `#`. Later lines win.
pub(crate) fn parse(text: &str) -> Vec<(String, String)> {
    let text = text.replace("\r\n", "\n");
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let line_end = rest.find('\n').unwrap_or(rest.len());
        let line = rest[..line_end].trim_start();
        let mut consumed = line_end;
        if let Some((key, after)) = key_of(line) {
            let after = after.trim_start_matches([' ', '\t']);
            let quote = after
                .chars()
                .next()
                .filter(|c| matches!(c, '\'' | '"' | '`'));
            let value = match quote {
                Some(q) => {
                    // The closing quote may be on a later line.
                    let start = line_end - line.len() + (line.len() - after.len()) + 1;
                    match closing_quote(&rest[start..], q) {
                        Some(len) => {
                            let inner = &rest[start..start + len];
                            let after_close = start + len + 1;
                            consumed = rest[after_close..]
                                .find('\n')
                                .map_or(rest.len(), |i| after_close + i);
                            let inner = inner.replace(&format!("\\{q}"), &q.to_string());
                            if q == '"' {
                                inner.replace("\\n", "\n").replace("\\r", "\r")
                            } else {
                                inner
                            }
                        }
                        // Unterminated: dotenv takes the line as it is.
                        None => unquoted(after),
                    }
                }
                None => unquoted(after),
            };
            out.push((key.to_owned(), value));
        }
        rest = rest.get(consumed + 1..).unwrap_or("");
    }
    out
}

/// `KEY` and what follows its `=` (or `: `) on a line, if the line is an assignment.
fn key_of(line: &str) -> Option<(&str, &str)> {
    let line = line.strip_prefix("export ").map_or(line, str::trim_start);
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'))
        .unwrap_or(line.len());
    if end == 0 {
        return None;
    }
    let (key, rest) = line.split_at(end);
    let rest = rest.trim_start_matches([' ', '\t']);
    if let Some(value) = rest.strip_prefix('=') {
        Some((key, value))
    } else {
        rest.strip_prefix(": ").map(|value| (key, value))
    }
}

/// The length of a quoted value up to its closing `quote` (not escaped by `\`).
fn closing_quote(text: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            c if c == quote && !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

fn unquoted(value: &str) -> String {
    value.split('#').next().unwrap_or("").trim().to_owned()
}

/// Expands `$NAME`, `${NAME}` and `${NAME:-default}` in a value the way `dotenv-expand`
/// (Vite's) does: the process environment first, then the files' variables; unknown names
/// become empty. `\$` is a literal dollar sign.
fn expand(
    value: &str,
    process: &BTreeMap<String, String>,
    parsed: &BTreeMap<String, String>,
) -> String {
    let lookup = |name: &str| process.get(name).or_else(|| parsed.get(name)).cloned();
    let mut out = String::with_capacity(value.len());
    let mut chars = value.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if value[i + 1..].starts_with('$') => {
                out.push('$');
                chars.next();
            }
            '$' if value[i + 1..].starts_with('{') => {
                let Some(close) = value[i..].find('}') else {
                    out.push_str(&value[i..]);
                    break;
                };
                let inner = &value[i + 2..i + close];
                let (name, default) = match inner.split_once(":-") {
                    Some((name, default)) => (name, Some(default)),
                    None => (inner, None),
                };
                let found = lookup(name).filter(|v| !v.is_empty() || default.is_none());
                out.push_str(&found.or(default.map(str::to_owned)).unwrap_or_default());
                while chars.peek().is_some_and(|(j, _)| *j <= i + close) {
                    chars.next();
                }
            }
            '$' => {
                let name_len = value[i + 1..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(value.len() - i - 1);
                if name_len == 0 {
                    out.push('$');
                    continue;
                }
                out.push_str(&lookup(&value[i + 1..i + 1 + name_len]).unwrap_or_default());
                for _ in 0..name_len {
                    chars.next();
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text)
    }

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn dotenv_lines_with_comments_exports_and_quotes_parse_like_dotenv() {
        let text = "# a comment\n\
                    VITE_A=plain value  # trailing comment\n\
                    export VITE_B = 'single # kept'\n\
                    VITE_C=\"line1\\nline2\"\n\
                    VITE_D=`back`\n\
                    \n\
                    VITE_E: colon\n\
                    not a line\n\
                    VITE_F=\n\
                    VITE_G=\"multi\nline\"\n\
                    VITE_H=after\r\n";
        assert_eq!(
            pairs(text),
            vec![
                kv("VITE_A", "plain value"),
                kv("VITE_B", "single # kept"),
                kv("VITE_C", "line1\nline2"),
                kv("VITE_D", "back"),
                kv("VITE_E", "colon"),
                kv("VITE_F", ""),
                kv("VITE_G", "multi\nline"),
                kv("VITE_H", "after"),
            ]
        );
    }

    #[test]
    fn escaped_quotes_stay_inside_the_value() {
        assert_eq!(
            pairs("A=\"say \\\"hi\\\"\"\nB='it\\'s'"),
            vec![kv("A", "say \"hi\""), kv("B", "it's")]
        );
    }

    #[test]
    fn later_files_win_in_vites_order_and_the_process_wins_over_all() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            ".env",
            "VITE_A=env\nVITE_B=env\nVITE_C=env\nVITE_D=env\nVITE_E=env\n",
        );
        write(".env.local", "VITE_B=local\nVITE_C=local\nVITE_D=local\n");
        write(".env.staging", "VITE_C=mode\nVITE_D=mode\n");
        write(".env.staging.local", "VITE_D=mode-local\n");
        write(".env.production", "VITE_A=other mode\n");
        let process = [kv("VITE_E", "process"), kv("HOME", "/root")];
        let env = Env::load(dir.path(), "staging", process);
        let vars: Vec<(&str, &str)> = env
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            vars,
            [
                ("VITE_A", "env"),
                ("VITE_B", "local"),
                ("VITE_C", "mode"),
                ("VITE_D", "mode-local"),
                ("VITE_E", "process"),
            ]
        );
        assert_eq!(env.mode, "staging");
    }

    #[test]
    fn variables_without_the_vite_prefix_are_never_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "DB_PASSWORD=hunter2\nVITE_PUBLIC=yes\nvite_lower=no\n",
        )
        .unwrap();
        let env = Env::load(dir.path(), DEFAULT_MODE, [kv("SECRET_TOKEN", "s3")]);
        let object = env.object();
        assert!(!object.contains("hunter2") && !object.contains("DB_PASSWORD"));
        assert!(!object.contains("s3") && !object.contains("vite_lower"));
        assert!(object.contains("\"VITE_PUBLIC\":\"yes\""));
    }

    #[test]
    fn references_expand_from_the_process_then_the_files() {
        let process: BTreeMap<String, String> = [kv("HOST", "example.test")].into();
        let parsed: BTreeMap<String, String> = [kv("PORT", "8080"), kv("EMPTY", "")].into();
        assert_eq!(
            expand("http://${HOST}:$PORT/x", &process, &parsed),
            "http://example.test:8080/x"
        );
        assert_eq!(expand("${MISSING:-dflt}", &process, &parsed), "dflt");
        assert_eq!(expand("${EMPTY:-dflt}", &process, &parsed), "dflt");
        assert_eq!(
            expand("\\$HOST costs $5", &process, &parsed),
            "$HOST costs "
        );
        assert_eq!(expand("a $ b", &process, &parsed), "a $ b");
    }

    #[test]
    fn the_env_object_has_vites_built_ins() {
        let env = Env {
            mode: "development".into(),
            vars: [kv("VITE_X", "1")].into(),
        };
        // Compared as values: the key order depends on whether some other crate turns on
        // serde_json's `preserve_order`.
        let preamble = env.preamble();
        let object = preamble
            .strip_prefix("import.meta.env = ")
            .and_then(|rest| rest.strip_suffix(';'))
            .expect("an assignment of one object");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(object).unwrap(),
            serde_json::json!({
                "BASE_URL": "/", "DEV": true, "MODE": "development",
                "PROD": false, "SSR": false, "VITE_X": "1",
            })
        );
    }

    #[test]
    fn modes_that_would_name_other_files_are_refused() {
        assert!(check_mode("development").is_ok());
        assert!(check_mode("staging-eu").is_ok());
        for bad in ["", "local", "../x", "a/b", "a\\b", "..", ".hidden"] {
            assert!(check_mode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_files_are_recognised_only_in_the_root() {
        assert!(is_env_file("/.env"));
        assert!(is_env_file(".env.production.local"));
        assert!(!is_env_file("/src/.env"));
        assert!(!is_env_file("/.envrc"));
        assert!(!is_env_file("/env"));
    }
}
