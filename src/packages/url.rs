//! Pure decisions about specifiers and package URLs: which specifiers are bare, which URL a
//! resolved file is served at, and which files count as dependencies.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use std::path::{Component, Path};

/// The route for package files that live outside the root (workspace and pnpm symlinks to
/// real paths elsewhere), as Vite spells it. Only files inside package directories that the
/// resolver resolved to are served there.
pub(crate) const FS_PREFIX: &str = "/@fs/";

/// What a module specifier is, as far as serving it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpecifierKind {
    /// `./x.js`, `../x.js`, `.`, `..`: relative to the importer.
    Relative,
    /// `/x.js`: a URL path on this server.
    Absolute,
    /// `https://…`, `data:…`, `//cdn…`: the browser fetches it as it is.
    Url,
    /// `lit`, `@scope/pkg/sub`, `#internal`, `node:fs`: needs package resolution.
    Bare,
}

/// Classifies `specifier` the way a browser and Node disagree about it.
pub(crate) fn classify(specifier: &str) -> SpecifierKind {
    if specifier.starts_with("./")
        || specifier.starts_with("../")
        || specifier == "."
        || specifier == ".."
    {
        return SpecifierKind::Relative;
    }
    if specifier.starts_with("//") {
        return SpecifierKind::Url;
    }
    if specifier.starts_with('/') {
        return SpecifierKind::Absolute;
    }
    // A URL scheme (RFC 3986 §3.1) before the first `:`; `node:` is Node's built-in prefix,
    // which resolution reports as a built-in.
    if let Some((scheme, _)) = specifier.split_once(':') {
        let mut bytes = scheme.bytes();
        let first_alpha = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
        if first_alpha
            && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            && scheme != "node"
        {
            return SpecifierKind::Url;
        }
    }
    SpecifierKind::Bare
}

/// Characters escaped in a path placed into a URL: controls, space, and the characters that
/// would end the path or change its meaning (`?`, `#`, `%`) or break a string literal.
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'\'')
    .add(b'`')
    .add(b'#')
    .add(b'%')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'\\');

/// Where a resolved file is served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PackageUrl {
    /// The URL to write into the importing module (with `?v=<version>` when given).
    pub url: String,
    /// Whether the file lies outside the root, under [`FS_PREFIX`].
    pub outside_root: bool,
}

/// The URL for the real file `file` given the canonical `root`: its path under the root when
/// it lies inside, else `/@fs/<absolute path>`. `version` is appended as `?v=` so the
/// browser may cache the file for good.
pub(crate) fn package_url(root: &Path, file: &Path, version: Option<&str>) -> PackageUrl {
    let (prefix, path, outside_root) = match file.strip_prefix(root) {
        Ok(relative) => ("/", relative, false),
        Err(_) => (FS_PREFIX, file.strip_prefix("/").unwrap_or(file), true),
    };
    let mut url = String::from(prefix);
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
            _ => None,
        })
        .map(|name| utf8_percent_encode(&name, PATH).to_string())
        .collect();
    url.push_str(&parts.join("/"));
    if let Some(version) = version {
        url.push_str("?v=");
        url.push_str(version);
    }
    PackageUrl { url, outside_root }
}

/// Whether `file` belongs to an installed package (a `node_modules` folder on its real
/// path): such files change only through the package manager, so they may be cached by
/// version. Linked workspace packages are source code and are not.
pub(crate) fn is_installed_package(file: &Path) -> bool {
    file.components()
        .any(|c| matches!(c, Component::Normal(name) if name == "node_modules"))
}

/// The folder of the installed package `file` belongs to: the one after its last
/// `node_modules` (two for a scoped `@scope/name`). `None` outside `node_modules`.
#[cfg_attr(not(feature = "bundle"), allow(dead_code))]
pub(crate) fn installed_package_dir(file: &Path) -> Option<std::path::PathBuf> {
    let parts: Vec<Component> = file.components().collect();
    let at = parts
        .iter()
        .rposition(|c| matches!(c, Component::Normal(name) if *name == "node_modules"))?;
    let scoped = matches!(parts.get(at + 1), Some(Component::Normal(name))
        if name.to_string_lossy().starts_with('@'));
    let end = at + if scoped { 3 } else { 2 };
    // The package folder itself, with the file below it.
    (end < parts.len()).then(|| parts[..end].iter().collect())
}

/// The value of `v` in a query string, if any.
pub(crate) fn version_param(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|pair| pair.strip_prefix("v="))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn the_installed_package_of_a_file_is_the_folder_after_the_last_node_modules() {
        let dir = |p: &str| installed_package_dir(Path::new(p));
        assert_eq!(
            dir("/w/node_modules/ui/dist/a.css"),
            Some(PathBuf::from("/w/node_modules/ui"))
        );
        assert_eq!(
            dir("/w/node_modules/a/node_modules/@s/b/x.css"),
            Some(PathBuf::from("/w/node_modules/a/node_modules/@s/b"))
        );
        assert_eq!(
            dir("/w/node_modules/ui"),
            None,
            "a folder, not a file in it"
        );
        assert_eq!(dir("/w/node_modules/@s/b"), None);
        assert_eq!(dir("/w/src/a.css"), None);
    }

    #[test]
    fn specifiers_are_classified_like_a_browser_and_node_would() {
        use SpecifierKind::*;
        for (spec, kind) in [
            ("./a.js", Relative),
            ("../a.js", Relative),
            (".", Relative),
            ("/src/a.js", Absolute),
            ("//cdn.example/x.js", Url),
            ("https://cdn.example/x.js", Url),
            ("data:text/javascript,export{}", Url),
            ("lit", Bare),
            ("lit/decorators.js", Bare),
            ("@lit/reactive-element", Bare),
            ("#internal", Bare),
            ("node:fs", Bare),
            ("fs", Bare),
            ("preact/hooks", Bare),
        ] {
            assert_eq!(classify(spec), kind, "{spec}");
        }
    }

    #[test]
    fn files_inside_the_root_are_served_at_their_path_with_the_version() {
        let root = PathBuf::from("/p/app");
        let url = package_url(
            &root,
            Path::new("/p/app/node_modules/lit/index.js"),
            Some("abc"),
        );
        assert_eq!(url.url, "/node_modules/lit/index.js?v=abc");
        assert!(!url.outside_root);
    }

    #[test]
    fn files_outside_the_root_go_through_the_fs_route_escaped() {
        let root = PathBuf::from("/p/app");
        let url = package_url(&root, Path::new("/p/shared pkg/a#b?.js"), None);
        assert_eq!(url.url, "/@fs/p/shared%20pkg/a%23b%3F.js");
        assert!(url.outside_root);
    }

    #[test]
    fn only_files_on_a_node_modules_path_are_installed_packages() {
        assert!(is_installed_package(Path::new(
            "/p/node_modules/.pnpm/lit@3/node_modules/lit/index.js"
        )));
        assert!(!is_installed_package(Path::new(
            "/p/packages/shared/index.js"
        )));
        assert!(!is_installed_package(Path::new("/p/my_node_modules/x.js")));
    }

    #[test]
    fn the_version_parameter_is_found_among_others() {
        assert_eq!(version_param(Some("t=1&v=abc")), Some("abc"));
        assert_eq!(version_param(Some("v=")), Some(""));
        assert_eq!(version_param(Some("vv=1")), None);
        assert_eq!(version_param(None), None);
    }
}
