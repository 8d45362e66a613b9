//! Replays the checked-in fuzz corpus (`fuzz/corpus/<target>/*`, seeds and regressions)
//! through the very functions the cargo-fuzz targets run, so CI exercises them on stable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fuzz_targets;

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
fn parse_response_corpus() {
    replay("parse_response", fuzz_targets::parse_response);
}

#[test]
fn data_url_corpus() {
    replay("data_url", fuzz_targets::data_url);
}

#[test]
fn webhook_verify_corpus() {
    replay("webhook_verify", fuzz_targets::webhook_verify);
}

#[test]
fn multipart_roundtrip_corpus() {
    replay("multipart_roundtrip", fuzz_targets::multipart_roundtrip);
}

#[test]
fn input_validation_corpus() {
    replay("input_validation", fuzz_targets::input_validation);
}

#[test]
fn boundary_corpus() {
    replay("boundary", fuzz_targets::boundary);
}

#[test]
fn retry_after_corpus() {
    replay("retry_after", fuzz_targets::retry_after);
}

#[test]
fn task_record_corpus() {
    replay("task_record", fuzz_targets::task_record);
}

#[test]
fn market_callback_corpus() {
    replay("market_callback", fuzz_targets::market_callback);
}
