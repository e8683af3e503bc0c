//! The only file that talks to rolldown: entry files in, ES module chunks out.
//!
//! One build bundles every entry together, so what two entries share (`react` for
//! `react-dom/client` and `react/jsx-runtime`) becomes one chunk, loaded once: a second copy
//! of React would break hooks. The options are those of Vite's dependency optimizer:
//! browser platform, ES output, `process.env.NODE_ENV` defined as `"development"`, Vite's
//! dev conditions.
//!
//! Stylesheets and assets that bundled modules import (`import './button.css'` in a
//! component library) are not bundled: they stay imports of the URL the server answers
//! with its own wrappers (`/node_modules/ui/button.css?import&v=…`), as Vite's optimizer
//! leaves them to Vite, so a package's CSS reaches the page and nothing is silently dropped.

use rolldown::{
    Bundler, BundlerOptions, ChunkFilenamesOutputOption, InputItem, OutputFormat, Platform,
    ResolveOptions,
};
use rolldown_common::ResolvedExternal;
use rolldown_plugin::{
    HookResolveIdArgs, HookResolveIdOutput, HookResolveIdReturn, HookUsage, Plugin, PluginContext,
    PluginContextResolveOptions,
};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The URL the server answers for a non-JavaScript file (`file`, with the import's
/// `?query` if any) imported by bundled code; `None` when it may not be served.
pub(crate) type ServedUrl = dyn Fn(&Path, &str) -> Option<String> + Send + Sync;

/// One entry: the chunk `name` (`name.js`) bundles `file`.
#[derive(Clone, Debug)]
pub(crate) struct Input {
    pub name: String,
    pub file: PathBuf,
}

/// The chunks of a successful build, by file name.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pub files: Vec<(String, String)>,
}

/// Bundles `inputs` (resolved from `cwd`). Blocking: rolldown runs on a small runtime of its
/// own, so the caller needs none, and a server shutting down its runtime never waits on a
/// build whose tasks that runtime would no longer run. The error is one line per problem,
/// naming the files rolldown named.
pub(crate) fn bundle(
    cwd: &Path,
    inputs: &[Input],
    served_url: Arc<ServedUrl>,
) -> Result<Output, String> {
    let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let options = BundlerOptions {
        input: Some(
            inputs
                .iter()
                .map(|input| InputItem {
                    name: Some(input.name.clone()),
                    import: input.file.to_string_lossy().into_owned(),
                })
                .collect(),
        ),
        cwd: Some(cwd.to_path_buf()),
        platform: Some(Platform::Browser),
        format: Some(OutputFormat::Esm),
        // Entries keep their names (importers are rewritten to them); shared chunks carry a
        // content hash, so a browser never mixes chunks of two builds under one URL.
        entry_filenames: Some(ChunkFilenamesOutputOption::String("[name].js".into())),
        chunk_filenames: Some(ChunkFilenamesOutputOption::String(
            "chunk-[name]-[hash].js".into(),
        )),
        define: Some(
            [(
                "process.env.NODE_ENV".to_owned(),
                "\"development\"".to_owned(),
            )]
            .into_iter()
            .collect(),
        ),
        resolve: Some(ResolveOptions {
            // Added to rolldown's `default`, `browser` (the platform) and `import`/`require`
            // (by the kind of import): Vite's development builds.
            condition_names: Some(strings(&["development", "module"])),
            main_fields: Some(strings(&[
                "browser",
                "module",
                "jsnext:main",
                "jsnext",
                "main",
            ])),
            ..ResolveOptions::default()
        }),
        ..BundlerOptions::default()
    };
    let plugins: Vec<rolldown_plugin::__inner::SharedPluginable> =
        vec![Arc::new(ServedByTheServer { served_url })];
    let mut bundler =
        Bundler::with_plugins(options, plugins).map_err(|errors| describe(errors.into_vec()))?;
    // Multi-threaded: rolldown blocks in place, which a current-thread runtime refuses.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("hotserve-rolldown")
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start the bundler's runtime: {err}"))?;
    let output = runtime.block_on(async {
        let output = bundler.generate().await;
        let _ = bundler.close().await;
        output
    });
    let output = output.map_err(|errors| describe(errors.into_vec()))?;
    let mut files = Vec::new();
    let mut names = std::collections::HashSet::new();
    for asset in &output.assets {
        if let rolldown_common::Output::Chunk(chunk) = asset {
            names.insert(chunk.filename.to_string());
        }
    }
    for asset in output.assets {
        match asset {
            rolldown_common::Output::Chunk(chunk) => {
                // An import rolldown left in place (a Node built-in it could not bundle for
                // a browser): the browser would fail on it with a less helpful message.
                // Imports of URLs are the server's (see [`ServedByTheServer`]).
                if let Some(external) = chunk
                    .imports
                    .iter()
                    .chain(chunk.dynamic_imports.iter())
                    .find(|i| !names.contains(i.as_str()) && !i.starts_with('/'))
                {
                    let by = chunk
                        .module_ids
                        .iter()
                        .map(|m| m.to_string())
                        .find(|m| !m.starts_with('\0') && !m.starts_with("rolldown:"))
                        .unwrap_or_default();
                    return Err(format!(
                        "\"{external}\" cannot be bundled for a browser (imported in the chunk \
                         of {by}); it is probably a Node.js built-in module"
                    ));
                }
                if let Some(why) = unbundled_require(&chunk.code) {
                    return Err(why);
                }
                files.push((chunk.filename.to_string(), chunk.code.clone()));
            }
            rolldown_common::Output::Asset(asset) => {
                tracing::debug!(file = %asset.filename, "pre-bundling emitted an asset; ignored");
            }
        }
    }
    Ok(Output { files })
}

/// The plugin that leaves imports of stylesheets and assets to the server: resolved as
/// rolldown would, then kept as an import of the URL [`ServedUrl`] gives. JSON is bundled
/// (it is data, as in Vite's optimizer).
struct ServedByTheServer {
    served_url: Arc<ServedUrl>,
}

impl std::fmt::Debug for ServedByTheServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServedByTheServer")
    }
}

impl Plugin for ServedByTheServer {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("hotserve:served-by-the-server")
    }

    fn register_hook_usage(&self) -> HookUsage {
        HookUsage::ResolveId
    }

    async fn resolve_id(
        &self,
        ctx: &PluginContext,
        args: &HookResolveIdArgs<'_>,
    ) -> HookResolveIdReturn {
        let (path, query) = split_query(args.specifier);
        if !crate::modules::wrap::served_as_wrapper(path) || path.ends_with(".json") {
            return Ok(None);
        }
        let options = PluginContextResolveOptions {
            import_kind: args.kind,
            skip_self: true,
            ..PluginContextResolveOptions::default()
        };
        // Not found: rolldown reports it as it would any import.
        let Ok(resolved) = ctx.resolve(path, args.importer, Some(options)).await? else {
            return Ok(None);
        };
        let Some(url) = (self.served_url)(Path::new(resolved.id.as_str()), query) else {
            return Ok(None);
        };
        Ok(Some(HookResolveIdOutput {
            id: url.into(),
            external: Some(ResolvedExternal::Absolute),
            ..HookResolveIdOutput::default()
        }))
    }
}

/// `specifier` split before its `?query` or `#fragment` (which stays with the second part).
fn split_query(specifier: &str) -> (&str, &str) {
    specifier.split_at(specifier.find(['?', '#']).unwrap_or(specifier.len()))
}

/// A `require` rolldown could not bundle and left to run in the browser, where it throws
/// (`__require("fs")`): the module it sits in, from the `//#region` comment before it.
fn unbundled_require(code: &str) -> Option<String> {
    let at = code.find("__require(\"")?;
    let rest = &code[at + "__require(\"".len()..];
    let name = &rest[..rest.find('"')?];
    let file = code[..at]
        .rfind("//#region ")
        .map(|r| {
            code[r + "//#region ".len()..]
                .lines()
                .next()
                .unwrap_or_default()
        })
        .unwrap_or("a bundled module");
    Some(format!(
        "{file} requires \"{name}\", which cannot be bundled for a browser (a Node.js \
         built-in module?)"
    ))
}

fn describe(errors: Vec<rolldown_error::BuildDiagnostic>) -> String {
    let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    if lines.is_empty() {
        "rolldown failed without saying why".to_owned()
    } else {
        lines.join("; ")
    }
}
