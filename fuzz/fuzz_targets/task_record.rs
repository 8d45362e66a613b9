//! cargo-fuzz target `task_record`; the body is shared with the workspace tests
//! (`kie-proto/tests/fuzz_targets/mod.rs`, replayed by `kie-proto/tests/fuzz_corpus.rs`).
#![no_main]

#[path = "../../kie-proto/tests/fuzz_targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::task_record(data));
