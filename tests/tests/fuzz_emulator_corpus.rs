//! Replays the checked-in corpus of the emulator's fuzz targets
//! (`fuzz/corpus/emulator_*/*`) through the very functions the cargo-fuzz targets run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fuzz_emulator;

use std::path::PathBuf;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(files.len() >= 12, "{target}: only {} seeds", files.len());
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target}: {} fails", file.display());
    }
}

#[test]
fn emulator_base64_body_corpus() {
    replay("emulator_base64_body", fuzz_emulator::emulator_base64_body);
}

#[test]
fn emulator_path_corpus() {
    replay("emulator_path", fuzz_emulator::emulator_path);
}

#[test]
fn emulator_multipart_corpus() {
    replay("emulator_multipart", fuzz_emulator::emulator_multipart);
}
