//! Cross-checks hotserve's import scanner against es-module-lexer (the lexer Vite uses) on
//! every `.js`/`.mjs` file of the packages pinned in `tests/js/package.json`, plus the
//! hand-written traps in `tests/js/fixtures/`.
//!
//! Set up with `npm ci --prefix tests/js`. Without `tests/js/node_modules` the test is skipped
//! with a message, unless `HOTSERVE_REQUIRE_JS=1` is set (CI), where it fails instead.

use hotserve::modules::{ImportKind, scan};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One import as `(specifier, start, end)`; dynamic imports of computed values have no
/// specifier and no range.
type Found = (Option<String>, usize, usize);

#[test]
fn scanner_finds_the_same_imports_as_es_module_lexer_on_real_packages() {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    let modules = js.join("node_modules");
    if !modules.is_dir() {
        let required = std::env::var("HOTSERVE_REQUIRE_JS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "HOTSERVE_REQUIRE_JS=1 but {} is missing: run `npm ci --prefix tests/js`",
            modules.display()
        );
        eprintln!(
            "SKIPPED lexer corpus test: {} is missing; run `npm ci --prefix tests/js` to enable it",
            modules.display()
        );
        return;
    }

    let mut files = Vec::new();
    collect_modules(&js.join("fixtures"), &mut files);
    collect_modules(&modules, &mut files);
    files.sort();
    let reference = run_reference_lexer(&js, &files);
    assert_eq!(reference.len(), files.len(), "one answer per file");

    let (mut compared, mut imports, mut metas, mut mismatches) = (0, 0, 0, Vec::new());
    for (file, answer) in files.iter().zip(&reference) {
        assert_eq!(
            answer["file"].as_str(),
            file.to_str(),
            "answers in input order"
        );
        if let Some(error) = answer.get("error") {
            panic!("es-module-lexer failed on {}: {error}", file.display());
        }
        let source = std::fs::read_to_string(file).expect("corpus files are UTF-8");
        let theirs: Vec<Found> = answer["imports"]
            .as_array()
            .expect("imports array")
            .iter()
            .map(|i| match i["n"].as_str() {
                Some(n) => (Some(n.to_owned()), as_usize(&i["s"]), as_usize(&i["e"])),
                None => (None, 0, 0),
            })
            .collect();
        let scanned = scan(&source);
        let their_meta: Vec<usize> = answer["meta"]
            .as_array()
            .expect("meta array")
            .iter()
            .map(as_usize)
            .collect();
        metas += their_meta.len();
        let ours: Vec<Found> = scanned
            .imports
            .iter()
            .map(|i| match &i.specifier {
                Some(s) => (Some(s.value.clone()), s.range.start, s.range.end),
                None => {
                    assert_eq!(i.kind, ImportKind::Dynamic, "only dynamic imports lack one");
                    (None, 0, 0)
                }
            })
            .collect();
        compared += 1;
        imports += theirs.len();
        if ours != theirs || scanned.import_meta != their_meta {
            mismatches.push(format!(
                "{}\n  es-module-lexer: {theirs:?} meta {their_meta:?}\n  hotserve:        {ours:?} meta {:?}",
                file.display(),
                scanned.import_meta
            ));
        }
    }
    eprintln!(
        "lexer corpus: {compared} files, {imports} imports and {metas} `import.meta` compared \
         with es-module-lexer, {} mismatching files",
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} files differ:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        compared > 1000,
        "the corpus should be large, got {compared} files"
    );
}

fn as_usize(v: &Value) -> usize {
    v.as_u64().expect("offset") as usize
}

/// Every `.js`/`.mjs` file under `dir`, skipping dot-directories (`.bin`, `.cache`) and
/// symlinks so each file is read once.
fn collect_modules(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("readable node_modules");
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let name = entry.file_name();
        if kind.is_dir() && !name.to_string_lossy().starts_with('.') {
            collect_modules(&path, out);
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "js" || e == "mjs") {
            out.push(path);
        }
    }
}

/// Runs `node tests/js/lex.mjs` over `files` (one path a line on stdin); one JSON value a file.
fn run_reference_lexer(js: &Path, files: &[PathBuf]) -> Vec<Value> {
    let mut child = Command::new("node")
        .arg(js.join("lex.mjs"))
        .current_dir(js)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node is installed");
    let list: String = files.iter().map(|f| format!("{}\n", f.display())).collect();
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || stdin.write_all(list.as_bytes()));
    let output = child.wait_with_output().expect("node ran");
    writer
        .join()
        .expect("writer thread")
        .expect("wrote file list");
    assert!(output.status.success(), "lex.mjs failed: {}", output.status);
    String::from_utf8(output.stdout)
        .expect("JSON output")
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object a line"))
        .collect()
}
