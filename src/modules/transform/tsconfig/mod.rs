//! The compile options of a file, from the tsconfig.json (or jsconfig.json) that owns it.
//!
//! oxc_resolver reads the files: nearest `tsconfig.json`, `extends` chains (relative and
//! from packages), project references (create-vite's React and Preact templates keep their
//! options in `tsconfig.app.json`, referenced from a `tsconfig.json` with `"files": []`),
//! and JSON with comments and trailing commas as TypeScript accepts it.

use super::TransformError;
use super::script::{Jsx, ScriptOptions};
use oxc_resolver::{ResolveError, ResolveOptions, Resolver, TsConfig, TsconfigDiscovery};
use std::path::{Path, PathBuf};

/// File names whose change can change compile options; the watcher clears the cache on them.
pub(crate) fn affects_options(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name == "package.json"
        || name == "jsconfig.json"
        || (name.starts_with("tsconfig") && name.ends_with(".json"))
}

/// Looks up (and caches) compile options for files under one root.
pub(crate) struct Tsconfigs {
    root: PathBuf,
    resolver: Resolver,
}

impl std::fmt::Debug for Tsconfigs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tsconfigs")
            .field("root", &self.root)
            .finish()
    }
}

impl Tsconfigs {
    /// Options for files under `root` (a canonical path); configs above it are not read.
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        Tsconfigs {
            root: root.into(),
            resolver: Resolver::new(ResolveOptions {
                tsconfig: Some(TsconfigDiscovery::Auto),
                ..ResolveOptions::default()
            }),
        }
    }

    /// Forgets every config read so far, after one of them changed.
    pub(crate) fn clear(&self) {
        self.resolver.clear_cache();
    }

    /// The options for compiling `file` (an absolute path under the root). A config that
    /// cannot be read or parsed is an error naming it, not a silent fallback: compiling with
    /// the wrong JSX runtime or decorator semantics fails later in ways that are much harder
    /// to trace back.
    pub(crate) fn options_for(&self, file: &Path) -> Result<ScriptOptions, TransformError> {
        let config = match self.resolver.find_tsconfig(file) {
            Ok(Some(config)) => Some(config),
            Ok(None) => self.jsconfig_for(file)?,
            Err(err) => return Err(config_error(err)),
        };
        let mut options = config.as_deref().map(options_from).unwrap_or_default();
        let import_source_set = config
            .as_deref()
            .is_some_and(|c| c.compiler_options.jsx_import_source.is_some());
        if !import_source_set
            && let Jsx::Automatic { import_source } = &mut options.jsx
            && self.uses_preact_without_react(file)
        {
            // The JavaScript Preact template configures JSX in vite.config.js (through
            // @preact/preset-vite), which a Rust server cannot run: a project that depends
            // on preact and not on react means preact.
            *import_source = "preact".into();
        }
        Ok(options)
    }

    /// A `jsconfig.json` in the file's folder or above (up to the root): the JavaScript
    /// projects' equivalent, which TypeScript reads when there is no tsconfig.json.
    fn jsconfig_for(
        &self,
        file: &Path,
    ) -> Result<Option<std::sync::Arc<TsConfig>>, TransformError> {
        for dir in self.ancestors(file) {
            let candidate = dir.join("jsconfig.json");
            if candidate.is_file() {
                return self
                    .resolver
                    .resolve_tsconfig(&candidate)
                    .map(Some)
                    .map_err(config_error);
            }
        }
        Ok(None)
    }

    fn uses_preact_without_react(&self, file: &Path) -> bool {
        let Some(manifest) = self
            .ancestors(file)
            .map(|dir| dir.join("package.json"))
            .find(|p| p.is_file())
        else {
            return false;
        };
        let Ok(text) = std::fs::read_to_string(manifest) else {
            return false;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
            return false;
        };
        let has = |name: &str| {
            ["dependencies", "devDependencies", "peerDependencies"]
                .iter()
                .any(|field| json.get(field).and_then(|d| d.get(name)).is_some())
        };
        has("preact") && !has("react")
    }

    /// The file's folder and its parents, up to and including the root.
    fn ancestors<'a>(&'a self, file: &'a Path) -> impl Iterator<Item = &'a Path> {
        file.parent()
            .into_iter()
            .flat_map(Path::ancestors)
            .take_while(|dir| dir.starts_with(&self.root))
    }
}

fn config_error(err: ResolveError) -> TransformError {
    TransformError::new(config_message(&err))
}

fn config_message(err: &ResolveError) -> String {
    match err {
        ResolveError::Json(json) => format!(
            "cannot parse {}: {} (line {}, column {})",
            json.path.display(),
            json.message,
            json.line,
            json.column
        ),
        ResolveError::TsconfigLoadFailed { path, source } => match &**source {
            ResolveError::Json(_) => config_message(source),
            other => format!("cannot read {}: {other}", path.display()),
        },
        other => format!("cannot read the tsconfig: {other}"),
    }
}

/// The options a config asks for. TypeScript's defaults fill the gaps, except that the
/// automatic JSX runtime is the default (as in Vite), since `jsx: "preserve"` cannot run.
fn options_from(config: &TsConfig) -> ScriptOptions {
    let c = &config.compiler_options;
    let jsx = match c.jsx.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("react") => Jsx::Classic {
            factory: c
                .jsx_factory
                .clone()
                .unwrap_or_else(|| "React.createElement".into()),
            fragment: c
                .jsx_fragment_factory
                .clone()
                .unwrap_or_else(|| "React.Fragment".into()),
        },
        _ => Jsx::Automatic {
            import_source: c
                .jsx_import_source
                .clone()
                .unwrap_or_else(|| "react".into()),
        },
    };
    let define_class_fields = c
        .use_define_for_class_fields
        .unwrap_or_else(|| target_defines_fields(c.target.as_deref()));
    ScriptOptions {
        jsx,
        legacy_decorators: c.experimental_decorators == Some(true),
        decorator_metadata: c.emit_decorator_metadata == Some(true),
        define_class_fields,
        refresh: false,
    }
}

/// TypeScript's default for `useDefineForClassFields`: true from ES2022 on (and ESNext).
/// With no target, true: what modern projects get and what the browser does natively.
fn target_defines_fields(target: Option<&str>) -> bool {
    let Some(target) = target else {
        return true;
    };
    let target = target.to_ascii_lowercase();
    if target == "esnext" {
        return true;
    }
    match target
        .strip_prefix("es")
        .and_then(|y| y.parse::<u32>().ok())
    {
        Some(year) => year >= 2022,
        None => true,
    }
}

#[cfg(test)]
mod tests;
