//! Turning files a browser cannot run as they are into modules it can: TypeScript and JSX
//! through oxc (with the `transform` feature), and whatever an embedder registers with
//! [`Config::transform`](crate::Config::transform) (Markdown, Vue, Sass...).
//!
//! Everything here is a function of (path, source, options): no sockets, no graph (reading
//! tsconfig files is the only I/O). [`Modules::transform`](super::Modules::transform) runs it
//! before the import rewriting, so the output of a transform goes through the same rewriting,
//! module graph and HMR handling as a hand-written `.js` file.

#[cfg(feature = "transform")]
pub(crate) mod cache;
mod error;
mod hook;
pub(crate) mod source_map;

#[cfg(feature = "transform")]
pub(crate) mod helpers;
#[cfg(feature = "transform")]
pub(crate) mod refresh;
#[cfg(feature = "transform")]
pub(crate) mod script;
#[cfg(feature = "transform")]
pub(crate) mod tsconfig;

pub use error::TransformError;
pub(crate) use hook::Transforms;
pub use hook::{Output, OutputKind, Transform};

#[cfg(feature = "transform")]
use cache::{Cache, Key};
use std::path::Path;
use std::sync::Arc;

/// Compiled output kept in memory, in bytes: a few thousand typical modules with their maps.
#[cfg(feature = "transform")]
const CACHE_BUDGET: usize = 64 * 1024 * 1024;

/// Every transform a server runs, in the order it tries them: the embedder's (they know
/// their file types best), then TypeScript/JSX.
#[derive(Debug)]
pub(crate) struct Pipeline {
    hooks: Transforms,
    #[cfg(feature = "transform")]
    root: std::path::PathBuf,
    #[cfg(feature = "transform")]
    tsconfigs: tsconfig::Tsconfigs,
    #[cfg(feature = "transform")]
    compiled: Cache<Output>,
}

impl Pipeline {
    /// Transforms for files under `root` (canonical).
    #[cfg_attr(not(feature = "transform"), allow(unused_variables))]
    pub(crate) fn new(root: &Path, hooks: Transforms) -> Self {
        Pipeline {
            hooks,
            #[cfg(feature = "transform")]
            root: root.to_path_buf(),
            #[cfg(feature = "transform")]
            tsconfigs: tsconfig::Tsconfigs::new(root),
            #[cfg(feature = "transform")]
            compiled: Cache::new(CACHE_BUDGET),
        }
    }

    /// Whether files at `path` go through a transform (and so are modules, whatever their
    /// extension says).
    pub(crate) fn handles(&self, path: &Path) -> bool {
        #[cfg(feature = "transform")]
        if script::is_script(path) {
            return true;
        }
        self.hooks.handles(path)
    }

    /// Compiles the file at `path` (absolute) with the transform that handles it. `Ok(None)`
    /// when none does (or all decline): serve the file as it is. The output's code carries
    /// its source map inline.
    pub(crate) fn run(
        &self,
        path: &Path,
        source: &str,
    ) -> Result<Option<Arc<Output>>, TransformError> {
        if let Some(mut output) = self.hooks.run(path, source)? {
            if let Some(map) = output.map.take() {
                match output.kind {
                    OutputKind::Js => source_map::inline(&mut output.code, &map),
                    OutputKind::Css => source_map::inline_css(&mut output.code, &map),
                }
            }
            return Ok(Some(Arc::new(output)));
        }
        #[cfg(feature = "transform")]
        if script::is_script(path) {
            let mut options = self
                .tsconfigs
                .options_for(path)
                .map_err(|err| err.located(path, "tsconfig", ""))?;
            let refresh = refresh::is_component_file(path)
                .then(|| self.refresh_runtime())
                .flatten()
                .filter(|runtime| runtime.applies_to(path, &options.jsx));
            options.refresh = refresh.is_some();
            let key = Key::of(&(path, &options), source);
            if let Some(hit) = self.compiled.get(key) {
                return Ok(Some(hit));
            }
            let compiled = script::compile(path, source, &options)?;
            let mut code = compiled.code;
            if let Some(runtime) = &refresh {
                refresh::instrument(&mut code, runtime);
            }
            source_map::inline(&mut code, &compiled.map);
            let size = code.len();
            let output = Arc::new(Output::js(code));
            self.compiled.insert(key, output.clone(), size);
            return Ok(Some(output));
        }
        Ok(None)
    }

    /// The Fast Refresh runtime the project has installed, if this build can serve it.
    #[cfg(feature = "transform")]
    pub(crate) fn refresh_runtime(&self) -> Option<refresh::Runtime> {
        refresh::Runtime::detect(&self.root)
    }

    /// A file changed: if it can change compile options (a tsconfig, a package.json), the
    /// options are read again on the next compile.
    #[cfg_attr(not(feature = "transform"), allow(unused_variables))]
    pub(crate) fn file_changed(&self, path: &Path) {
        #[cfg(feature = "transform")]
        if tsconfig::affects_options(path) {
            self.tsconfigs.clear();
        }
    }
}

/// Whether a change to the file at `path` changes how modules compile or resolve, so every
/// page should reload: a `tsconfig*.json` or `jsconfig.json` (compile options, `paths`).
pub(crate) fn changes_compile_options(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|name| {
            name == "jsconfig.json" || (name.starts_with("tsconfig") && name.ends_with(".json"))
        })
}
