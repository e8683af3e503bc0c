//! HTML injection: the output is the input with exactly one client tag added, after a
//! byte order mark, at the start or right after a `>`.
#![no_main]

use hotserve::fuzzing::{CLIENT_TAG, inject};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|html: &[u8]| {
    let out = inject(html);
    let tag = CLIENT_TAG.as_bytes();
    assert_eq!(out.len(), html.len() + tag.len());
    // Where the inserted tag is: the first byte where output and input part ways, or
    // later when the input itself holds tag bytes there.
    let at = (0..=html.len())
        .find(|&at| {
            out[..at] == html[..at]
                && &out[at..at + tag.len()] == tag
                && out[at + tag.len()..] == html[at..]
        })
        .expect("the output is the input with the tag inserted once");
    let bom = html.starts_with(b"\xEF\xBB\xBF");
    if bom {
        assert!(at >= 3, "the byte order mark stays first");
    }
    let start = if bom { 3 } else { 0 };
    assert!(
        at == start || html[at - 1] == b'>',
        "inserted at {at}, not after a tag"
    );
    // Whether the point is inside a comment is left to the unit tests: telling a comment
    // from `<!--` inside a start tag needs the HTML tokenizer, and a rough oracle here
    // flagged correct insertions (seeds `start-tag-holding-a-comment-opener*`).
});
