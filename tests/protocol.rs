//! The wire format, frozen by checked-in JSON in Vite's exact shapes.

use hotserve::protocol::{ClientMessage, InvalidateMessage, Payload, Update, UpdateKind};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/payloads")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_fixture_round_trips_to_the_same_json_value() {
    let files = json_files(&fixtures());
    assert!(files.len() >= 14, "fixtures present");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let expected: Value = serde_json::from_str(&text).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let again = if name.starts_with("client-") {
            let message: ClientMessage = serde_json::from_str(&text).expect(&name);
            serde_json::to_value(message).unwrap()
        } else {
            let payload: Payload = serde_json::from_str(&text).expect(&name);
            serde_json::to_value(payload).unwrap()
        };
        assert_eq!(again, expected, "{name}");
    }
}

/// The checked-in copies must match the shared contract when it is available.
#[test]
fn checked_in_fixtures_match_the_shared_contract() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/payloads");
    if !shared.is_dir() {
        eprintln!("../shared not beside the repo; comparing checked-in fixtures only");
        return;
    }
    for path in json_files(&shared) {
        let ours = fixtures().join(path.file_name().unwrap());
        let theirs: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let ours: Value =
            serde_json::from_str(&std::fs::read_to_string(&ours).expect("copied")).unwrap();
        assert_eq!(ours, theirs, "{}", path.display());
    }
}

#[test]
fn updates_built_with_helpers_have_vites_shape() {
    let css = serde_json::to_value(Update::css("/style.css", 7)).unwrap();
    assert_eq!(
        css,
        serde_json::json!({"type":"css-update","timestamp":7,"path":"/style.css",
            "acceptedPath":"/style.css","explicitImportRequired":false,"isWithinCircularImport":false})
    );
    let js = Update::js("/a.js", "/b.js", 8);
    assert_eq!(js.kind, UpdateKind::JsUpdate);
    assert!(
        serde_json::to_value(js)
            .unwrap()
            .get("firstInvalidatedBy")
            .is_none()
    );
}

#[test]
fn the_invalidate_fixture_parses_into_its_message() {
    let text = std::fs::read_to_string(fixtures().join("client-invalidate.json")).unwrap();
    let ClientMessage::Custom { event, data } = serde_json::from_str(&text).unwrap() else {
        panic!("custom message");
    };
    assert_eq!(event, "vite:invalidate");
    let message: InvalidateMessage = serde_json::from_value(data.unwrap()).unwrap();
    assert_eq!(message.path, "/src/app.js");
    assert_eq!(message.first_invalidated_by.as_deref(), Some("/src/app.js"));
}
