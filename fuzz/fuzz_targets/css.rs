//! The stylesheet scanner (`src/css`): any text, never a panic; every reference's range
//! lies in the stylesheet on character boundaries and re-reads as a URL token; rewriting
//! every reference for a hot update keeps the references.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|css: &str| {
    hotserve::fuzzing::stylesheet("/css/site.css", css);
});
