//! Transforms registered by embedders, for file types hotserve does not know itself.

use super::TransformError;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

/// A transform for file types hotserve does not compile itself (`.vue`, `.svelte`, `.mdx`,
/// `.md`, Sass, a template language), registered with
/// [`Config::transform`](crate::Config::transform).
///
/// It gets the file's path and text and returns JavaScript or CSS, or `Ok(None)` to decline
/// (the file is then served as it is). Its output joins the module graph and hot updates like
/// a `.js` file; its errors reach the browser's overlay and the terminal, and the page keeps
/// running its last good version. A panic is caught and reported as an error.
///
/// Closures implement it:
///
/// ```
/// use hotserve::{Config, Output};
/// let config = Config::new("site").transform(["txt"], |_path: &std::path::Path, text: &str| {
///     Ok(Some(Output::js(format!("export default {};", serde_json::json!(text)))))
/// });
/// ```
pub trait Transform: Send + Sync + 'static {
    /// Compiles `source` (the text of the file at `path`), or declines with `Ok(None)`.
    ///
    /// Runs on a blocking thread; it may take its time, but should not wait on the server.
    fn transform(&self, path: &Path, source: &str) -> Result<Option<Output>, TransformError>;
}

impl<F> Transform for F
where
    F: Fn(&Path, &str) -> Result<Option<Output>, TransformError> + Send + Sync + 'static,
{
    fn transform(&self, path: &Path, source: &str) -> Result<Option<Output>, TransformError> {
        self(path, source)
    }
}

/// What a transform produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// JavaScript or CSS.
    pub kind: OutputKind,
    /// The compiled text.
    pub code: String,
    /// A source map (JSON, version 3) from `code` back to the file, if the transform made one;
    /// the server inlines it so devtools show the original lines.
    pub map: Option<String>,
}

impl Output {
    /// A JavaScript module.
    pub fn js(code: impl Into<String>) -> Self {
        Output {
            kind: OutputKind::Js,
            code: code.into(),
            map: None,
        }
    }

    /// A stylesheet.
    pub fn css(code: impl Into<String>) -> Self {
        Output {
            kind: OutputKind::Css,
            code: code.into(),
            map: None,
        }
    }

    /// The same output with a source map (JSON, version 3).
    pub fn with_map(mut self, map: impl Into<String>) -> Self {
        self.map = Some(map.into());
        self
    }
}

/// The language of an [`Output`], which decides how it is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// An ES module, served as `text/javascript` and rewritten for HMR.
    Js,
    /// A stylesheet, served as `text/css`.
    Css,
}

/// The transforms registered on a [`Config`](crate::Config), by file extension.
#[derive(Clone, Default)]
pub(crate) struct Transforms {
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    /// Lowercase, without the dot.
    extensions: Vec<String>,
    name: String,
    transform: Arc<dyn Transform>,
}

impl fmt::Debug for Transforms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| (&e.name, &e.extensions)))
            .finish()
    }
}

impl Transforms {
    pub(crate) fn add(
        &mut self,
        extensions: impl IntoIterator<Item = impl AsRef<str>>,
        transform: impl Transform,
    ) {
        let extensions: Vec<String> = extensions
            .into_iter()
            .map(|e| e.as_ref().trim_start_matches('.').to_ascii_lowercase())
            .collect();
        let name = format!("transform for .{}", extensions.join(", ."));
        self.entries.push(Entry {
            extensions,
            name,
            transform: Arc::new(transform),
        });
    }

    /// Whether some transform wants files with `path`'s extension.
    pub(crate) fn handles(&self, path: &Path) -> bool {
        self.for_path(path).next().is_some()
    }

    fn for_path(&self, path: &Path) -> impl Iterator<Item = &Entry> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        self.entries
            .iter()
            .filter(move |e| ext.as_ref().is_some_and(|x| e.extensions.contains(x)))
    }

    /// Runs the transforms registered for `path`'s extension in order until one accepts.
    /// `Ok(None)` when none is registered or all decline. Errors come back located (file,
    /// code frame); a panic becomes an error too, so one bad plugin cannot take down the
    /// request or the server.
    pub(crate) fn run(&self, path: &Path, source: &str) -> Result<Option<Output>, TransformError> {
        for entry in self.for_path(path) {
            let result = catch_unwind(AssertUnwindSafe(|| entry.transform.transform(path, source)))
                .unwrap_or_else(|panic| {
                    Err(TransformError::new(format!(
                        "the transform panicked: {}",
                        panic_message(&*panic)
                    )))
                });
            match result {
                Ok(Some(output)) => return Ok(Some(output)),
                Ok(None) => continue,
                Err(err) => return Err(err.located(path, &entry.name, source)),
            }
        }
        Ok(None)
    }
}

/// The text of a panic payload (`panic!("...")` carries a `&str` or a `String`).
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upper(_: &Path, text: &str) -> Result<Option<Output>, TransformError> {
        Ok(Some(Output::js(text.to_uppercase())))
    }

    #[test]
    fn a_transform_runs_only_for_its_extensions_in_any_case() {
        let mut transforms = Transforms::default();
        transforms.add([".md", "markdown"], upper);
        let run = |p: &str| transforms.run(Path::new(p), "hi").unwrap().map(|o| o.code);
        assert_eq!(run("/a/b.md"), Some("HI".into()));
        assert_eq!(run("/a/b.MD"), Some("HI".into()));
        assert_eq!(run("/a/b.markdown"), Some("HI".into()));
        assert_eq!(run("/a/b.js"), None);
        assert_eq!(run("/a/md"), None);
        assert!(transforms.handles(Path::new("x.md")));
        assert!(!transforms.handles(Path::new("x.css")));
    }

    #[test]
    fn a_declining_transform_hands_the_file_to_the_next_one() {
        let mut transforms = Transforms::default();
        transforms.add(["vue"], |_: &Path, _: &str| Ok(None));
        transforms.add(["vue"], |_: &Path, _: &str| Ok(Some(Output::css("a{}"))));
        let out = transforms.run(Path::new("x.vue"), "").unwrap().unwrap();
        assert_eq!(out, Output::css("a{}"));
    }

    #[test]
    fn errors_come_back_with_file_frame_and_transform_name() {
        let mut transforms = Transforms::default();
        transforms.add(["md"], |_: &Path, _: &str| {
            Err(TransformError::new("bad heading").at(2, 1))
        });
        let err = transforms.run(Path::new("/p/x.md"), "a\n#b\n").unwrap_err();
        assert_eq!(err.to_string(), "/p/x.md:2:1: bad heading");
        assert_eq!(err.plugin(), Some("transform for .md"));
        assert_eq!(err.frame(), Some("1 | a\n2 | #b\n  | ^"));
    }

    #[test]
    fn a_panicking_transform_becomes_an_error() {
        let mut transforms = Transforms::default();
        transforms.add(
            ["md"],
            |_: &Path, _: &str| -> Result<Option<Output>, TransformError> { panic!("oops") },
        );
        let err = transforms.run(Path::new("x.md"), "").unwrap_err();
        assert_eq!(err.message(), "the transform panicked: oops");
    }
}
