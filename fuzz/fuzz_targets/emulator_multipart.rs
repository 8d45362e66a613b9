//! cargo-fuzz target `emulator_multipart`; the body is shared with the workspace tests
//! (`tests/tests/fuzz_emulator/mod.rs`, replayed by `tests/tests/fuzz_emulator_corpus.rs`).
#![no_main]

#[path = "../../tests/tests/fuzz_emulator/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::emulator_multipart(data));
