//! `Range`, `If-None-Match` and `If-Range` parsing: a satisfiable range lies inside the
//! file; a range is unsatisfiable only when the file really has no byte at its start; entity
//! tag lists never panic, and a list that holds the tag itself matches.
#![no_main]

use hotserve::fuzzing::{etag_matches, range};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, u64, &str, &str)| {
    let (header, len, list, etag) = input;
    let len = len % (1 << 40);
    match range(header, len) {
        Some(Some((first, last))) => {
            assert!(
                first <= last && last < len,
                "{header:?} len {len} -> {first}-{last}"
            );
        }
        Some(None) => {
            // 416: only a `bytes=` range, and never for a first byte inside the file.
            let spec = header
                .trim()
                .strip_prefix("bytes=")
                .expect("a bytes= range");
            if let Some((first, _)) = spec.trim().split_once('-')
                && let Ok(first) = first.trim().parse::<u64>()
            {
                assert!(first >= len || len == 0, "{header:?} len {len} refused");
            }
        }
        None => {}
    }
    let _ = etag_matches(list, etag, false);
    let _ = etag_matches(list, etag, true);
    if !etag.contains(',') && etag.trim() == etag && !etag.is_empty() && !etag.starts_with("W/") {
        assert!(etag_matches(&format!("\"x\", {etag}"), etag, true));
    }
});
