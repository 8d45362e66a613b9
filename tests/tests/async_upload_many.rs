//! `Client::upload_many` against the emulator: 200 uploads at concurrency 8; uploads progress
//! while the stream is not polled; dropping the stream aborts them all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    let client = Client::builder(
        kie_proto::ClientConfig::new(emu.api_key())
            .upload_base_url(&emu.upload_base_url())
            .retry_policy(RetryPolicy::default().with_base_delay(Duration::from_millis(5))),
    )
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
    let client = Client::builder(
        kie_proto::ClientConfig::new(emu.api_key()).upload_base_url(&emu.upload_base_url()),
    )
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

/// Waits until `condition` holds, for at most `limit`.
async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    condition()
}

/// Open descriptors of this process that point at one of `paths`.
fn handles_to(paths: &[PathBuf]) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| paths.contains(target))
        .count()
}

/// Uploads run as tasks: a consumer that reads nothing for a second still finds every
/// upload stored by then, on either runtime flavour.
async fn uploads_progress_without_polling() {
    let emu = Emulator::start();
    let client = Client::builder(
        kie_proto::ClientConfig::new(emu.api_key()).upload_base_url(&emu.upload_base_url()),
    )
    .build()
    .unwrap();
    let uploads = (0..24).map(|i| {
        (
            UploadSource::bytes(content(i)),
            UploadOptions::new("unpolled").file_name(format!("{i}.bin")),
        )
    });
    let mut results = Box::pin(client.upload_many(uploads, 4));
    // Not polled at all during the wait.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        emu.stored_files().len(),
        24,
        "uploads stalled while the stream was not polled"
    );
    assert_eq!(emu.in_flight_uploads(), 0);
    let mut indexes = Vec::new();
    while let Some((index, result)) = results.next().await {
        result.unwrap();
        indexes.push(index);
    }
    indexes.sort_unstable();
    assert_eq!(indexes, (0..24).collect::<Vec<_>>());
    let max = emu.max_concurrent_uploads();
    assert!(max <= 4, "{max} uploads in flight at once");
    assert_eq!(emu.requests().len(), 24);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_progress_without_polling_multi_thread() {
    uploads_progress_without_polling().await;
}

#[tokio::test(flavor = "current_thread")]
async fn uploads_progress_without_polling_current_thread() {
    uploads_progress_without_polling().await;
}

/// Dropping the stream mid-way aborts the uploads in flight and starts no more: the
/// emulator sees them go at once, nothing is stored, and no file stays open.
async fn dropping_the_stream_aborts_every_upload(tag: &str) {
    const BIG: usize = 64 << 20;
    let emu = Emulator::start();
    let dir =
        std::env::temp_dir().join(format!("kie-async-many-drop-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.canonicalize().unwrap();
    // Three large files run first; three small ones wait for a free slot.
    let big: Vec<u8> = (0..BIG).map(|i| (i % 251) as u8).collect();
    let paths: Vec<PathBuf> = (0..6)
        .map(|i| {
            let path = dir.join(format!("f{i}.bin"));
            std::fs::write(&path, if i < 3 { &big[..] } else { &big[..1024] }).unwrap();
            path
        })
        .collect();
    drop(big);
    let client = Client::builder(
        kie_proto::ClientConfig::new(emu.api_key())
            .upload_base_url(&emu.upload_base_url())
            .retry_policy(RetryPolicy::never()),
    )
    .build()
    .unwrap();
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..6).map(|_| AtomicU64::new(0)).collect());
    let uploads: Vec<_> = paths
        .iter()
        .enumerate()
        .map(|(i, path)| {
            let sent = Arc::clone(&sent);
            let options = UploadOptions::new("dropped")
                .on_progress(move |p| sent[i].store(p.sent, Ordering::SeqCst));
            (UploadSource::path(path), options)
        })
        .collect();
    let results = client.upload_many(uploads, 3);
    // Wait (without polling the stream) until all three are sending.
    let mid_way = || {
        emu.in_flight_uploads() == 3
            && sent[..3]
                .iter()
                .all(|s| s.load(Ordering::SeqCst) >= 1 << 20)
    };
    let start = std::time::Instant::now();
    while !mid_way() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "three uploads never got going"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(handles_to(&paths), 3);
    drop(results);
    let dropped = std::time::Instant::now();
    assert!(
        eventually(Duration::from_millis(500), || handles_to(&paths) == 0).await,
        "{} files still open after the stream was dropped",
        handles_to(&paths)
    );
    assert!(
        eventually(Duration::from_secs(2), || emu.in_flight_uploads() == 0).await,
        "uploads still in flight after the stream was dropped"
    );
    eprintln!("nothing in flight {:?} after the drop", dropped.elapsed());
    // Nothing more happens later either.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stored: Vec<String> = emu.stored_files().into_iter().map(|f| f.path).collect();
    assert!(stored.is_empty(), "stored after the drop: {stored:?}");
    let log = emu.requests();
    assert_eq!(log.len(), 3, "{} requests, not 3", log.len());
    for request in &log {
        assert!(request.body_len < BIG as u64, "a whole body was sent");
        assert_ne!(request.response_status, 200);
        assert_eq!(request.stored_path, None);
    }
    assert!(sent[3..].iter().all(|s| s.load(Ordering::SeqCst) == 0));
    assert_eq!(handles_to(&paths), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_aborts_every_upload_multi_thread() {
    dropping_the_stream_aborts_every_upload("multi").await;
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_the_stream_aborts_every_upload_current_thread() {
    dropping_the_stream_aborts_every_upload("current").await;
}

/// A panic in one upload (here its progress callback) reaches the consumer when its result
/// would be read.
#[tokio::test]
async fn a_panicking_upload_panics_the_consumer() {
    use futures_util::FutureExt as _;
    let emu = Emulator::start();
    let client = Client::builder(
        kie_proto::ClientConfig::new(emu.api_key()).upload_base_url(&emu.upload_base_url()),
    )
    .build()
    .unwrap();
    let options = UploadOptions::new("panics")
        .file_name("p.bin")
        .on_progress(|_| panic!("progress callback panicked"));
    let mut results =
        Box::pin(client.upload_many([(UploadSource::bytes(vec![1; 10]), options)], 2));
    let caught = std::panic::AssertUnwindSafe(results.next())
        .catch_unwind()
        .await;
    let panic = caught.expect_err("the panic was swallowed");
    assert_eq!(
        panic.downcast_ref::<&str>(),
        Some(&"progress callback panicked")
    );
}
