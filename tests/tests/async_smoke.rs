//! kie-async against the emulator: every method once, on both runtime flavours, plus the
//! properties the conformance suite does not cover (Send futures, retries reusing the
//! generated name, non-rewindable readers, user-supplied reqwest clients).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kie_async::{Client, Error, RetryPolicy, UploadOptions};
use kie_tests::{Emulator, Fault, Route};

fn client(emu: &Emulator) -> Client {
    Client::builder(
        kie_proto::ClientConfig::new(emu.api_key())
            .upload_base_url(&emu.upload_base_url())
            .api_base_url(&emu.api_base_url())
            .retry_policy(RetryPolicy::default().with_base_delay(Duration::from_millis(10))),
    )
    .build()
    .unwrap()
}

async fn download(url: &str) -> Vec<u8> {
    reqwest::get(url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn futures_are_send_and_client_is_clone_send_sync() {
    fn send<T: Send>(_: &T) {}
    fn traits<T: Clone + Send + Sync + 'static>() {}
    traits::<Client>();
    let client = Client::new("k").unwrap();
    let options = UploadOptions::new("x");
    send(&client.upload_file("a", &options));
    send(&client.upload_bytes(b"abc", &options));
    send(&client.upload_reader(tokio::io::empty(), 0, &options));
    send(&client.credits());
    send(&client.upload_many(Vec::new(), 2));
    send(&client.upload_base64_file("a", &options));
    send(&client.upload_base64_bytes(b"abc", &options));
    send(&client.upload_base64_reader(tokio::io::empty(), 0, &options));
    send(&client.upload_url("https://example.com/a.png", &options));
    send(&client.download_url("https://example.com/a.png"));
    send(&client.send(&kie_proto::GetCredits));
    send(&client.send_with_content(
        &kie_proto::GetCredits,
        std::io::Cursor::new(Vec::<u8>::new()),
        None,
    ));
}

async fn every_method(emu: &Emulator, tag: &str) {
    let client = client(emu);
    let dir = std::env::temp_dir().join(format!("kie-async-smoke-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = content(300_000, 7);
    let path = dir.join("data.bin");
    std::fs::write(&path, &data).unwrap();

    let progress = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&progress);
    let options =
        UploadOptions::new("smoke/files").on_progress(move |p| sink.lock().unwrap().push(p.sent));
    let up = client.upload_file(&path, &options).await.unwrap();
    assert!(up.download_url.ends_with(".bin"), "{}", up.download_url);
    assert_eq!(download(&up.download_url).await, data);
    assert_eq!(progress.lock().unwrap().last(), Some(&300_000));

    let up = client
        .upload_base64_file(&path, &options.clone().data_url(true))
        .await
        .unwrap();
    assert_eq!(download(&up.download_url).await, data);
    let up = client
        .upload_bytes(data.clone(), &options.clone().file_name("b.bin"))
        .await
        .unwrap();
    assert_eq!(download(&up.download_url).await, data);
    let up = client
        .upload_base64_bytes(&data[..], &options.clone().file_name("c.bin"))
        .await
        .unwrap();
    assert_eq!(download(&up.download_url).await, data);
    let reader = std::io::Cursor::new(data.clone());
    let up = client
        .upload_reader(
            reader,
            data.len() as u64,
            &options.clone().file_name("d.bin"),
        )
        .await
        .unwrap();
    assert_eq!(download(&up.download_url).await, data);
    let empty = client
        .upload_bytes(Vec::new(), &options.clone().file_name("empty.txt"))
        .await
        .unwrap();
    assert_eq!(download(&empty.download_url).await, b"");

    let credits = client.credits().await.unwrap();
    assert!(credits >= 0.0);
    let generated = emu.issue_generated_file(b"GIF89a".to_vec(), "image/gif");
    let link = client.download_url(&generated).await.unwrap();
    assert_eq!(download(&link).await, b"GIF89a");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_method_on_a_current_thread_runtime() {
    let emu = Emulator::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(every_method(&emu, "ct"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_on_a_multi_thread_runtime() {
    let emu = Emulator::start();
    every_method(&emu, "mt").await;
}

#[tokio::test]
async fn a_retry_reuses_the_generated_name() {
    let emu = Emulator::start();
    emu.faults()
        .push(Route::StreamUpload, Fault::DropAfterBytes(1000));
    emu.faults().push(Route::StreamUpload, Fault::html(502));
    let up = client(&emu)
        .upload_bytes(content(50_000, 1), &UploadOptions::new("retry"))
        .await
        .unwrap();
    let stored = emu.stored_files();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].writes, 1);
    let names: Vec<_> = emu
        .requests()
        .iter()
        .filter(|r| r.route == Some(Route::StreamUpload))
        .map(|r| r.fields.get("fileName").cloned())
        .collect();
    assert_eq!(names.len(), 3);
    assert!(up.download_url.ends_with(".bin") || up.file_name.is_some());
}

#[tokio::test]
async fn a_read_reader_is_not_retried() {
    let emu = Emulator::start();
    emu.faults().push(Route::StreamUpload, Fault::html(502));
    let data = content(100_000, 3);
    let err = client(&emu)
        .upload_reader(
            std::io::Cursor::new(data),
            100_000,
            &UploadOptions::new("r").file_name("r.bin"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotRewindable { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot be rewound"), "{err}");
    assert_eq!(emu.requests().len(), 1);
    assert!(emu.stored_files().is_empty());
}

#[tokio::test]
async fn stalls_hit_the_idle_timeout() {
    let emu = Emulator::start();
    emu.faults().push(
        Route::Credits,
        Fault::StallBeforeHeaders(Duration::from_secs(5)),
    );
    emu.faults()
        .push(Route::Credits, Fault::StallResponse(Duration::from_secs(5)));
    let client = Client::builder(
        kie_proto::ClientConfig::new(emu.api_key())
            .api_base_url(&emu.api_base_url())
            .read_timeout(Duration::from_millis(300))
            .retry_policy(RetryPolicy::never()),
    )
    .build()
    .unwrap();
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let err = client.credits().await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Transport {
                    kind: kie_async::TransportFailure::Timeout,
                    attempts: 1,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn a_user_supplied_reqwest_client_is_used() {
    let emu = Emulator::start();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let client = Client::builder(
        kie_proto::ClientConfig::new(emu.api_key())
            .api_base_url(&emu.api_base_url())
            .user_agent_suffix("custom/1"),
    )
    .http_client(http)
    .build()
    .unwrap();
    assert!(client.credits().await.unwrap() >= 0.0);
    let ua = emu.requests()[0].user_agent.clone().unwrap();
    assert!(
        ua.starts_with("kie-rs/") && ua.ends_with(" custom/1"),
        "{ua}"
    );
}

#[tokio::test]
async fn send_with_content_seeks_back_for_a_retry() {
    use kie_async::kie_proto::{FileName, StreamUpload, UploadPath};
    use tokio::io::AsyncSeekExt as _;

    let emu = Emulator::start();
    emu.faults()
        .push(Route::StreamUpload, Fault::DropAfterBytes(70_000));
    let data = content(200_000, 9);
    let mut reader = std::io::Cursor::new(data.clone());
    reader.seek(std::io::SeekFrom::Start(1000)).await.unwrap();
    let op = StreamUpload::new(
        UploadPath::new("manual").unwrap(),
        FileName::new("m.bin").unwrap(),
        199_000,
    );
    let up = client(&emu)
        .send_with_content(&op, reader, None)
        .await
        .unwrap();
    assert_eq!(download(&up.download_url).await, &data[1000..]);
    let uploads = emu
        .requests()
        .into_iter()
        .filter(|r| r.route == Some(Route::StreamUpload));
    assert_eq!(uploads.count(), 2);
}

/// A progress callback that panics while the body is being sent (the body is polled by the
/// connection, not by the upload future): the upload future panics with the callback's
/// payload, and the upload is not retried.
async fn panicking_progress_callback_panics_the_upload() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let emu = Emulator::start();
    let client = client(&emu);
    let reports = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&reports);
    let options = UploadOptions::new("panics")
        .file_name("p.bin")
        .on_progress(move |_| {
            if counted.fetch_add(1, Ordering::SeqCst) == 1 {
                std::panic::panic_any(String::from("progress callback panicked at report 2"));
            }
        });
    let upload =
        tokio::spawn(async move { client.upload_bytes(content(4 << 20, 5), &options).await });
    let error = upload.await.expect_err("the upload did not panic");
    let payload = error.into_panic();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("progress callback panicked at report 2")
    );
    assert_eq!(
        reports.load(Ordering::SeqCst),
        2,
        "reported after the panic"
    );
    // Give a retry (there must be none) time to show up.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let requests = emu
        .requests()
        .into_iter()
        .filter(|r| r.route == Some(Route::StreamUpload))
        .count();
    assert_eq!(requests, 1);
    assert!(emu.stored_files().is_empty());
}

#[tokio::test]
async fn panicking_progress_callback_panics_the_upload_multi_thread() {
    panicking_progress_callback_panics_the_upload().await;
}

#[tokio::test(flavor = "current_thread")]
async fn panicking_progress_callback_panics_the_upload_current_thread() {
    panicking_progress_callback_panics_the_upload().await;
}
