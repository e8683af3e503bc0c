//! The parser of what browsers send on the HMR socket (JSON, `vite:invalidate` data):
//! any text, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    hotserve::fuzzing::client_message(text);
});
