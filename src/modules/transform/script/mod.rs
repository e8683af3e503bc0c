//! TypeScript and JSX to JavaScript with oxc: parse, build scopes, transform, print with a
//! source map. One file at a time, with isolated-modules semantics (as Vite, esbuild and
//! `tsc --isolatedModules` do): no type information from other files, so type-only imports
//! must be written or inferable as such, and `const enum`s are compiled like plain enums.

use super::TransformError;
use oxc_allocator::Allocator;
use oxc_codegen::{Codegen, CodegenOptions, CommentOptions};
use oxc_parser::Parser;
use oxc_semantic::SemanticBuilder;
use oxc_span::SourceType;
use oxc_transformer::{
    ClassPropertiesOptions, HelperLoaderMode, JsxRuntime, ReactRefreshOptions, TransformOptions,
    Transformer,
};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// Where compiled modules import oxc's runtime helpers from (`/@hotserve/runtime/helpers/
/// decorate`...): an absolute URL the server answers itself, because a project does not have
/// `@oxc-project/runtime` installed and a bare name would not load in a browser.
pub(crate) const HELPERS_BASE: &str = "/@hotserve/runtime";

/// How to compile: the parts of a tsconfig.json that change the output of one file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ScriptOptions {
    pub jsx: Jsx,
    /// `experimentalDecorators`: TypeScript's legacy decorators (Lit, Angular, MobX use
    /// them). Without it, decorators are left for the browser (standard decorators).
    pub legacy_decorators: bool,
    /// `emitDecoratorMetadata`, with legacy decorators only.
    pub decorator_metadata: bool,
    /// `useDefineForClassFields`. When false, fields are assigned in the constructor instead
    /// of defined, which is what makes Lit's `@property() count = 0` reactive: a defined
    /// field would shadow the accessor the decorator put on the prototype.
    pub define_class_fields: bool,
    /// Fast Refresh instrumentation: `$RefreshReg$`/`$RefreshSig$` calls for each component
    /// (see [`super::refresh`], which decides and connects them).
    pub refresh: bool,
}

impl Default for ScriptOptions {
    fn default() -> Self {
        ScriptOptions {
            jsx: Jsx::Automatic {
                import_source: "react".into(),
            },
            legacy_decorators: false,
            decorator_metadata: false,
            define_class_fields: true,
            refresh: false,
        }
    }
}

/// How JSX becomes function calls.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Jsx {
    /// `jsx: "react-jsx"` (the default): calls imported from `<import_source>/jsx-dev-runtime`.
    Automatic { import_source: String },
    /// `jsx: "react"`: calls to a factory in scope (`React.createElement`, `h`).
    Classic { factory: String, fragment: String },
}

/// A compiled module: JavaScript, and the source map (JSON) back to the original file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Compiled {
    pub code: String,
    pub map: String,
}

/// Whether hotserve compiles files with this extension itself.
pub(crate) fn is_script(path: &Path) -> bool {
    source_type(path).is_some()
}

fn source_type(path: &Path) -> Option<SourceType> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    let source_type = match ext.as_str() {
        "ts" | "mts" => SourceType::ts(),
        "tsx" => SourceType::tsx(),
        "jsx" => SourceType::jsx(),
        _ => return None,
    };
    // Browsers load these as ES modules, whatever a `.cts` convention would say.
    Some(source_type.with_module(true))
}

/// Brackets nested deeper than this are refused before parsing: oxc's parser, transformer
/// and printer recurse once per level, and a stack overflow aborts the whole process (it
/// cannot be caught like a panic). Real code stays far below; 20,000 `(` would not.
const MAX_NESTING: usize = 1_000;

/// Stack for the compiling thread: deep but legal code (long operator chains, deep JSX)
/// recurses further than the 2 MiB of a blocking-pool thread allows. Only the pages that
/// are touched are ever allocated.
const COMPILE_STACK: usize = 256 * 1024 * 1024;

/// Compiles the TypeScript or JSX file at `path` (its extension picks the dialect).
///
/// Never panics or aborts: oxc is fuzzed, but a panic in it would otherwise take down a
/// request thread on a file someone is halfway through typing, so it is caught and
/// reported; nesting is bounded, and the compile runs on a thread with a deep stack.
pub(crate) fn compile(
    path: &Path,
    source: &str,
    options: &ScriptOptions,
) -> Result<Compiled, TransformError> {
    let Some(source_type) = source_type(path) else {
        return Err(TransformError::new(format!(
            "not a TypeScript or JSX file: {}",
            path.display()
        )));
    };
    if let Some(offset) = too_deep(source) {
        return Err(TransformError::new(format!(
            "brackets nested more than {MAX_NESTING} deep; hotserve does not compile this file"
        ))
        .at_offset(source, offset)
        .located(path, "oxc", source));
    }
    let run = || {
        catch_unwind(AssertUnwindSafe(|| {
            compile_unguarded(path, source, source_type, options)
        }))
        .unwrap_or_else(|panic| {
            Err(TransformError::new(format!(
                "oxc panicked on this file (please report it): {}",
                super::hook::panic_message(&*panic)
            )))
        })
    };
    let result = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("hotserve-compile".into())
            .stack_size(COMPILE_STACK)
            .spawn_scoped(scope, run)
            .map(|thread| thread.join())
    });
    let result = match result {
        Ok(Ok(result)) => result,
        // Panics are caught inside; a join error cannot happen, but is an error too.
        Ok(Err(_)) => Err(TransformError::new("the compile thread failed")),
        // No thread (out of memory or threads): compile here, on the caller's stack.
        Err(_) => run(),
    };
    result.map_err(|err| err.located(path, "oxc", source))
}

/// The byte offset where brackets (`(`, `[`, `{`, outside strings and comments) first nest
/// deeper than [`MAX_NESTING`], if they do. A rough scan (regular expressions are not told
/// from division), which is fine for a bound this far above real code.
fn too_deep(source: &str) -> Option<usize> {
    let bytes = source.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            quote @ (b'"' | b'\'') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn compile_unguarded(
    path: &Path,
    source: &str,
    source_type: SourceType,
    options: &ScriptOptions,
) -> Result<Compiled, TransformError> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, source_type).parse();
    if let Some(err) = parsed.diagnostics.errors().next() {
        return Err(diagnostic_error(source, err));
    }
    if parsed.panicked {
        return Err(TransformError::new("the parser gave up on this file"));
    }
    let mut program = parsed.program;
    let scoping = SemanticBuilder::new()
        .with_excess_capacity(2.0)
        .with_enum_eval(true)
        .build(&program)
        .semantic
        .into_scoping();
    let transformed = Transformer::new(&allocator, path, &transform_options(options))
        .build_with_scoping(scoping, &mut program);
    if let Some(err) = transformed.diagnostics.errors().next() {
        return Err(diagnostic_error(source, err));
    }
    let name = path.file_name().map_or_else(
        || Path::new("source").to_owned(),
        |name| Path::new(name).to_owned(),
    );
    let printed = Codegen::new()
        .with_options(CodegenOptions {
            // The map names the file relative to the module's own URL, so devtools list it
            // next to the compiled module (`/src/main.ts`).
            source_map_path: Some(name),
            comments: CommentOptions {
                // Keep `/* @vite-ignore */` and `/*#__PURE__*/`, which tools read.
                annotation: true,
                ..CommentOptions::default()
            },
            ..CodegenOptions::default()
        })
        .build(&program);
    let map = printed
        .map
        .map(|map| map.to_json_string())
        .unwrap_or_default();
    Ok(Compiled {
        code: printed.code,
        map,
    })
}

fn transform_options(options: &ScriptOptions) -> TransformOptions {
    let mut out = TransformOptions::default();
    match &options.jsx {
        Jsx::Automatic { import_source } => {
            out.jsx.runtime = JsxRuntime::Automatic;
            out.jsx.import_source = Some(import_source.clone());
            // What Vite does in dev: `jsxDEV` calls with `__source`/`__self`, which give
            // component stacks their file and line.
            out.jsx.development = true;
        }
        Jsx::Classic { factory, fragment } => {
            out.jsx.runtime = JsxRuntime::Classic;
            out.jsx.pragma = Some(factory.clone());
            out.jsx.pragma_frag = Some(fragment.clone());
            // The factory's import must survive type-import elision.
            out.typescript.jsx_pragma = factory.clone().into();
            out.typescript.jsx_pragma_frag = fragment.clone().into();
        }
    }
    if options.refresh {
        out.jsx.refresh = Some(ReactRefreshOptions::default());
    }
    out.jsx.conform();
    out.decorator.legacy = options.legacy_decorators;
    out.decorator.emit_decorator_metadata = options.legacy_decorators && options.decorator_metadata;
    if !options.define_class_fields {
        // TypeScript's `useDefineForClassFields: false`: fields become `this.x = v` in the
        // constructor, and fields without an initializer disappear.
        out.assumptions.set_public_class_fields = true;
        out.typescript.remove_class_fields_without_initializer = true;
        out.env.es2022.class_properties = Some(ClassPropertiesOptions { loose: true });
    }
    out.helper_loader.mode = HelperLoaderMode::Runtime;
    out.helper_loader.module_name = HELPERS_BASE.into();
    out
}

/// The first labelled position of an oxc diagnostic, with its message and help.
fn diagnostic_error(source: &str, diagnostic: &oxc_diagnostics::OxcDiagnostic) -> TransformError {
    let mut message = diagnostic.message.to_string();
    let label = diagnostic
        .labels
        .iter()
        .find(|l| l.primary())
        .or_else(|| diagnostic.labels.first());
    if let Some(text) = label.and_then(|l| l.label()) {
        message.push_str(&format!(" ({text})"));
    }
    if let Some(help) = &diagnostic.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let err = TransformError::new(message);
    match label {
        Some(label) => err.at_offset(source, label.offset() as usize),
        None => err,
    }
}

#[cfg(test)]
mod tests;
