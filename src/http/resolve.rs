//! Turning a request path into a path under the root, or a refusal.
//!
//! The URL path is percent-decoded exactly once and then checked segment by segment; only
//! plain names survive. This is where every traversal trick is stopped (`..` in any
//! encoding, backslashes, NUL, invalid or overlong UTF-8, drive letters and NTFS streams),
//! before the file system is touched. Symlinks are checked later, against the real path.

use globset::GlobSet;
use percent_encoding::percent_decode_str;
use std::path::{Path, PathBuf};

/// Why a request path is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Malformed: invalid UTF-8 after decoding, a NUL byte, not starting with `/`. 400.
    BadRequest,
    /// Traversal or a form that could name something else on some platform. 403.
    Forbidden,
}

/// A request path that names a location inside the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SafePath {
    /// Decoded segments, none empty, `.` or `..`.
    pub segments: Vec<String>,
    /// The request ended with `/` (or was `/`): a directory was asked for.
    pub trailing_slash: bool,
}

impl SafePath {
    /// The relative file-system path.
    pub fn to_relative(&self) -> PathBuf {
        self.segments.iter().collect()
    }
}

/// Decode and validate the path part of a request target (no query).
pub(crate) fn resolve(path: &str) -> Result<SafePath, Refusal> {
    if !path.starts_with('/') {
        return Err(Refusal::BadRequest);
    }
    // Decode once. A double-encoded `%252e%252e` becomes the literal name `%2e%2e`, which is
    // a harmless (and almost surely missing) file name, never `..`.
    let decoded = percent_decode_str(path)
        .decode_utf8()
        // Invalid UTF-8 includes overlong encodings such as `%c0%ae` for `.`.
        .map_err(|_| Refusal::BadRequest)?;
    if decoded.contains('\0') {
        return Err(Refusal::BadRequest);
    }
    // Backslashes are separators on Windows and `..\` is a traversal there; `:` names drives
    // (`C:`) and NTFS streams (`::$DATA`). No legitimate web path needs either.
    if decoded.contains('\\') || decoded.contains(':') {
        return Err(Refusal::Forbidden);
    }
    let mut segments = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(Refusal::Forbidden),
            // Windows drops trailing dots and spaces (`.env.` opens `.env`, `... ` is `..`).
            s if s.trim_end_matches(['.', ' ']).is_empty() => return Err(Refusal::Forbidden),
            s => segments.push(s.to_owned()),
        }
    }
    let trailing_slash = decoded.ends_with('/') || decoded.ends_with("/.");
    Ok(SafePath {
        segments,
        trailing_slash,
    })
}

/// Paths that are never served, because dev folders routinely hold secrets next to assets.
///
/// The built-in list matches Vite's `server.fs.deny` defaults; patterns from the config are
/// added. Matching is case-insensitive because macOS and Windows file systems are.
#[derive(Debug)]
pub(crate) struct DenyList {
    extra: GlobSet,
}

const SECRET_EXTENSIONS: [&str; 7] = ["crt", "pem", "key", "p12", "pfx", "cer", "der"];
const SECRET_NAMES: [&str; 3] = [".npmrc", ".yarnrc.yml", ".env"];
const PRIVATE_DIRS: [&str; 3] = [".git", ".hg", ".svn"];

impl DenyList {
    /// Build the list from extra glob patterns.
    pub fn new(patterns: &[String]) -> Result<Self, crate::Error> {
        let extra = crate::config::glob_set(patterns, str::to_owned, true)?;
        Ok(DenyList { extra })
    }

    /// Whether the relative path (segments from the root) must be refused.
    pub fn denies<S: AsRef<str>>(&self, segments: &[S]) -> bool {
        let last = segments.len().saturating_sub(1);
        for (i, segment) in segments.iter().enumerate() {
            // Compare as Windows would open it: trailing dots and spaces dropped.
            let name = segment
                .as_ref()
                .trim_end_matches(['.', ' '])
                .to_ascii_lowercase();
            if PRIVATE_DIRS.contains(&name.as_str()) {
                return true;
            }
            if SECRET_NAMES.contains(&name.as_str()) || name.starts_with(".env.") {
                return true;
            }
            if i == last
                && let Some((_, ext)) = name.rsplit_once('.')
                && SECRET_EXTENSIONS.contains(&ext)
            {
                return true;
            }
            if self.extra.is_match(segment.as_ref()) {
                return true;
            }
        }
        if !self.extra.is_empty() {
            let joined: Vec<&str> = segments.iter().map(|s| s.as_ref()).collect();
            if self.extra.is_match(joined.join("/")) {
                return true;
            }
        }
        false
    }

    /// Whether a real path relative to the root must be refused (after following symlinks).
    pub fn denies_path(&self, relative: &Path) -> bool {
        let segments: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        self.denies(&segments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(path: &str) -> Vec<String> {
        resolve(path).expect(path).segments
    }

    #[test]
    fn plain_paths_decode_into_segments() {
        assert_eq!(ok("/a%20b/%C3%A9t%C3%A9.css"), ["a b", "été.css"]);
        assert_eq!(ok("//etc/passwd"), ["etc", "passwd"]);
        assert_eq!(ok("/./x/./y"), ["x", "y"]);
        assert!(resolve("/dir/").unwrap().trailing_slash);
        assert!(!resolve("/dir").unwrap().trailing_slash);
    }

    #[test]
    fn traversal_in_every_encoding_is_forbidden() {
        for path in [
            "/..",
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/x",
            "/%2E%2E%2fx",
            "/..%2f..%2fetc",
            "/a/..%5c..%5cx",
            "/..\\x",
            "/a\\b",
            "/...",
            "/.. ",
            "/C:/Windows/win.ini",
            "/index.html::$DATA",
        ] {
            assert_eq!(resolve(path), Err(Refusal::Forbidden), "{path}");
        }
    }

    #[test]
    fn double_encoding_is_decoded_once_only() {
        assert_eq!(ok("/%252e%252e/x"), ["%2e%2e", "x"]);
    }

    #[test]
    fn malformed_paths_are_bad_requests() {
        for path in ["/a%00b", "/%c0%ae%c0%ae/x", "/%ff", "x", "*"] {
            assert_eq!(resolve(path), Err(Refusal::BadRequest), "{path}");
        }
    }

    #[test]
    fn built_in_deny_list_matches_case_insensitively() {
        let deny = DenyList::new(&[]).unwrap();
        for path in [
            ".env",
            ".ENV",
            ".env.local",
            ".env.",
            "sub/.env",
            ".env/x",
            "cert.pem",
            "a/b/KEY.KEY",
            "x.p12",
            "x.pfx",
            "x.cer",
            "x.der",
            "x.crt",
            ".npmrc",
            ".yarnrc.yml",
            ".git/config",
            "sub/.git/HEAD",
            ".GIT/config",
        ] {
            let segments: Vec<&str> = path.split('/').collect();
            assert!(deny.denies(&segments), "{path}");
        }
        for path in [
            "env.js",
            "a/.well-known/x",
            "pem/file.js",
            "keys.js",
            ".envrc.js",
        ] {
            let segments: Vec<&str> = path.split('/').collect();
            assert!(!deny.denies(&segments), "{path}");
        }
    }

    #[test]
    fn extra_deny_patterns_match_names_and_paths() {
        let deny = DenyList::new(&["*.sqlite".into(), "private/**".into()]).unwrap();
        assert!(deny.denies(&["db", "DATA.SQLITE"]));
        assert!(deny.denies(&["private", "a", "b.txt"]));
        assert!(!deny.denies(&["public", "private.txt"]));
    }

    #[test]
    fn invalid_deny_patterns_are_reported() {
        assert!(DenyList::new(&["a[".into()]).is_err());
    }
}
