//! The TypeScript/JSX compile (`src/modules/transform/script`, oxc): any text with any
//! options, never a panic inside the compiler, a JSON source map, and Fast Refresh code that
//! the import lexer sees as a self-accepting module.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, &str)| {
    let (flags, source) = input;
    hotserve::fuzzing::transform(flags, source);
});
