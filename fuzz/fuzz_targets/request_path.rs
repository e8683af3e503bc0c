//! Request-path decoding and the root/deny check: whatever the bytes, a path that gets
//! through names only plain segments under the root (no `..`, `.`, separators, drive or
//! stream forms, NUL) and never a denied name, in any case or with trailing dots/spaces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;

/// Names that must never be served, judged independently of the deny list's own code.
fn secret(segment: &str) -> bool {
    let name = segment.trim_end_matches(['.', ' ']).to_ascii_lowercase();
    name == ".env"
        || name.starts_with(".env.")
        || name == ".git"
        || name == ".npmrc"
        || name == ".yarnrc.yml"
}

fuzz_target!(|path: &str| {
    let Some(segments) = hotserve::fuzzing::request_path(path) else {
        return;
    };
    for segment in &segments {
        assert!(
            !segment.is_empty() && segment != "." && segment != "..",
            "{path:?}"
        );
        assert!(
            !segment.contains(['/', '\\', ':', '\0']),
            "{path:?} -> {segment:?}"
        );
        assert!(!secret(segment), "{path:?} reaches {segment:?}");
    }
    let relative: PathBuf = segments.iter().collect();
    assert!(
        hotserve::fuzzing::stays_inside(&relative),
        "{path:?} -> {relative:?}"
    );
    let root = PathBuf::from("/srv/site");
    assert!(root.join(&relative).starts_with(&root));
});
