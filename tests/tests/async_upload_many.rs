//! `Client::upload_many` against the emulator: 200 uploads at concurrency 8.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt as _;
use kie_async::{Client, Error, RetryPolicy, UploadOptions, UploadSource};
use kie_tests::{Emulator, Fault, Route};

fn content(i: usize) -> Vec<u8> {
    let len = 1 + (i * 7919) % 40_000;
    (0..len)
        .map(|j| {
            (j as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(i as u32) as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_uploads_at_concurrency_eight() {
    let emu = Emulator::start();
    // The first 8 requests wait, so 8 are in flight at once; the 9th is refused (400, not
    // retryable): one failure among 200.
    emu.faults().push_n(
        Route::StreamUpload,
        Fault::Delay(Duration::from_millis(150)),
        8,
    );
    emu.faults().push(
        Route::StreamUpload,
        Fault::json(400, serde_json::json!({"code": 400, "msg": "injected"})),
    );
    let client = Client::builder(emu.api_key())
        .upload_base_url(&emu.upload_base_url())
        .retry_policy(RetryPolicy::default().with_base_delay(Duration::from_millis(5)))
        .build()
        .unwrap();

    let dir = std::env::temp_dir().join(format!("kie-async-many-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut expected = HashMap::new();
    let mut uploads = Vec::new();
    for i in 0..200 {
        let data = content(i);
        let name = format!("f{i:03}.bin");
        // Every tenth from memory, the rest from files.
        let source = if i % 10 == 0 {
            UploadSource::bytes(data.clone())
        } else {
            let path = dir.join(&name);
            std::fs::write(&path, &data).unwrap();
            UploadSource::path(path)
        };
        uploads.push((source, UploadOptions::new("many").file_name(&name)));
        expected.insert(name, data);
    }

    let started = std::time::Instant::now();
    let results: Vec<(usize, Result<_, Error>)> = client.upload_many(uploads, 8).collect().await;
    let elapsed = started.elapsed();

    assert_eq!(results.len(), 200);
    let mut seen = [false; 200];
    let mut failures = Vec::new();
    for (index, result) in &results {
        assert!(!seen[*index], "index {index} reported twice");
        seen[*index] = true;
        match result {
            Ok(up) => assert_eq!(
                up.file_name.as_deref(),
                Some(format!("f{index:03}.bin").as_str())
            ),
            Err(err) => failures.push((*index, err.to_string())),
        }
    }
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].1.contains("injected"), "{failures:?}");
    // Results come as they complete, not in input order (the delayed ones finish late).
    let order: Vec<usize> = results.iter().map(|(i, _)| *i).collect();
    assert_ne!(order, (0..200).collect::<Vec<_>>());

    let stored = emu.stored_files();
    assert_eq!(stored.len(), 199);
    let failed_name = format!("f{:03}.bin", failures[0].0);
    for file in &stored {
        assert_ne!(file.file_name, failed_name);
        assert_eq!(file.writes, 1, "{} stored twice", file.file_name);
        let content = file.content.as_ref().unwrap();
        assert!(
            content[..] == expected[&file.file_name][..],
            "{} differs",
            file.file_name
        );
    }
    let max = emu.max_concurrent_uploads();
    assert!(max <= 8, "{max} uploads in flight at once");
    assert!(max > 1, "uploads never overlapped");
    assert_eq!(emu.in_flight_uploads(), 0);
    eprintln!("200 uploads in {elapsed:?}, at most {max} in flight");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn concurrency_zero_means_one_and_an_empty_input_ends_at_once() {
    let emu = Emulator::start();
    let client = Client::builder(emu.api_key())
        .upload_base_url(&emu.upload_base_url())
        .build()
        .unwrap();
    let uploads = (0..5).map(|i| {
        (
            UploadSource::bytes(vec![i as u8; 100]),
            UploadOptions::new("one").file_name(format!("{i}.bin")),
        )
    });
    let results: Vec<_> = client.upload_many(uploads, 0).collect().await;
    assert_eq!(results.len(), 5);
    assert!(results.iter().all(|(_, r)| r.is_ok()));
    assert_eq!(emu.max_concurrent_uploads(), 1);
    let none: Vec<_> = client.upload_many(Vec::new(), 4).collect().await;
    assert!(none.is_empty());
}
