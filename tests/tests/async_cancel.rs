//! Dropping a kie-async upload future mid-way: the request stops, nothing is stored, and no
//! file handle stays open (nothing was spawned that could keep it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kie_async::{Client, RetryPolicy, UploadOptions};
use kie_tests::{Emulator, Fault, Route};
use tokio::sync::Notify;

/// Open descriptors of this process that point at `path`.
fn handles_to(path: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target == path)
        .count()
}

fn big_file(tag: &str, len: usize) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("kie-async-cancel-{tag}-{}.bin", std::process::id()));
    let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
    std::fs::write(&path, data).unwrap();
    path.canonicalize().unwrap()
}

fn client(emu: &Emulator) -> Client {
    Client::builder(
        kie_proto::ClientConfig::new(emu.api_key())
            .upload_base_url(&emu.upload_base_url())
            .retry_policy(RetryPolicy::never()),
    )
    .build()
    .unwrap()
}

/// Waits until `condition` holds, for at most `limit`.
async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    condition()
}

async fn assert_cancelled_cleanly(emu: &Emulator, path: &Path, len: u64) {
    // The file is closed at once (allowing for a read already in tokio's blocking pool).
    assert!(
        eventually(Duration::from_millis(500), || handles_to(path) == 0).await,
        "the file is still open after the upload was dropped"
    );
    // The emulator sees the request (its bytes may still be on their way when the future
    // is dropped), then the connection go, and stores nothing.
    assert!(
        eventually(Duration::from_secs(5), || {
            !emu.requests().is_empty() && emu.in_flight_uploads() == 0
        })
        .await,
        "the upload never arrived or is still in flight"
    );
    assert!(emu.stored_files().is_empty(), "{:?}", emu.stored_files());
    let log = emu.requests();
    assert_eq!(log.len(), 1);
    assert!(
        log[0].body_len < len,
        "the whole body was sent: {}",
        log[0].body_len
    );
    // No success was answered (the emulator may record the 400 it would give a truncated
    // body) and nothing was stored for the request.
    assert_ne!(log[0].response_status, 200);
    assert_eq!(log[0].stored_path, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_an_upload_mid_stream_stops_it() {
    let emu = Emulator::start();
    let len = 64 << 20;
    let path = big_file("mid", len);
    assert_eq!(handles_to(&path), 0);
    let reached = Arc::new(Notify::new());
    let signal = Arc::clone(&reached);
    let options = UploadOptions::new("cancel")
        .file_name("big.bin")
        .on_progress(move |p| {
            if p.sent >= 4 << 20 {
                signal.notify_one();
            }
        });
    let client = client(&emu);
    let upload = client.upload_file(&path, &options);
    tokio::select! {
        result = upload => panic!("the upload finished before it was dropped: {result:?}"),
        () = reached.notified() => {}
    }
    // `upload` is dropped here, mid-stream.
    assert_cancelled_cleanly(&emu, &path, len as u64).await;
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_an_upload_while_the_server_stalls_closes_the_file() {
    let emu = Emulator::start();
    // The server waits before reading the body: the client fills the socket and waits.
    emu.faults().push(
        Route::StreamUpload,
        Fault::Delay(Duration::from_millis(1500)),
    );
    let len = 16 << 20;
    let path = big_file("stall", len);
    let client = client(&emu);
    let options = UploadOptions::new("cancel").file_name("stalled.bin");
    let result = tokio::time::timeout(
        Duration::from_millis(300),
        client.upload_file(&path, &options),
    )
    .await;
    assert!(
        result.is_err(),
        "the upload should still be waiting: {result:?}"
    );
    assert_cancelled_cleanly(&emu, &path, len as u64).await;
    std::fs::remove_file(&path).unwrap();
}
