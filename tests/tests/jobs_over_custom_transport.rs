//! The Market jobs layer of kie-proto end to end, before the drivers have it: an upload
//! (kie-blocking) whose `downloadUrl` goes into a task's `input`, the task created and
//! polled over kie-proto's custom-transport example (a bare `TcpStream`) under
//! `PollPolicy`, its result downloaded without the key, and its signed callback verified
//! with kie-proto's verifier and read as a `MarketCallback`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../kie-proto/examples/custom_transport.rs"]
#[allow(dead_code)] // its `main` is the command-line entry point, unused here
mod custom_transport;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use kie_proto::http::HeaderMap;
use kie_proto::task::{CreateTask, MarketCallback, PollDecision, PollPolicy, TaskStatus};
use kie_proto::webhook::WebhookVerifier;
use kie_proto::{Api, ApiKey, Body, Error, Operation, RetryPolicy};
use kie_tests::{Emulator, JobSettings};

const KEY: &str = "example-webhook-hmac-key";

/// A received request: its head lines and its body.
type Received = (Vec<String>, Vec<u8>);

/// A one-shot callback receiver: the first request's head lines and body.
fn receiver() -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/callback", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        let (head, body) = loop {
            let n = stream.read(&mut buf).unwrap();
            raw.extend_from_slice(&buf[..n]);
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<String> = String::from_utf8_lossy(&raw[..end])
                    .lines()
                    .map(str::to_owned)
                    .collect();
                let len: usize = head
                    .iter()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap();
                while raw.len() < end + 4 + len {
                    let n = stream.read(&mut buf).unwrap();
                    raw.extend_from_slice(&buf[..n]);
                }
                break (head, raw[end + 4..end + 4 + len].to_vec());
            }
        };
        let ack = kie_proto::task::callback_ack();
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            ack.body().len()
        );
        stream.write_all(answer.as_bytes()).unwrap();
        stream.write_all(ack.body()).unwrap();
        tx.send((head, body)).unwrap();
    });
    (url, rx)
}

#[test]
fn upload_create_wait_download_and_a_verified_callback() {
    let emulator = Emulator::builder()
        .jobs(JobSettings {
            webhook_key: Some(KEY.to_owned()),
            not_visible_polls: 1,
            ..JobSettings::default()
        })
        .start();
    // 1. Upload an input image with the blocking driver.
    let config = kie_proto::ClientConfig::new(emulator.api_key())
        .upload_base_url(&emulator.upload_base_url())
        .api_base_url(&emulator.api_base_url());
    let client = kie_blocking::Client::from_config(config).unwrap();
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    let uploaded = client
        .upload_bytes(
            png,
            &kie_proto::UploadOptions::new("inputs").file_name("cat.png"),
        )
        .unwrap();

    // 2. Create a task whose input names it, over a bare TcpStream.
    let api = Api::new(ApiKey::new(emulator.api_key()).unwrap())
        .with_api_base_url(&emulator.api_base_url())
        .unwrap();
    let (callback_url, callbacks) = receiver();
    let input =
        serde_json::json!({"prompt": "make it blue", "image_urls": [uploaded.download_url]});
    let create = CreateTask::new("google/nano-banana-edit", input)
        .unwrap()
        .with_callback_url(&callback_url)
        .unwrap();
    let request = create.to_request(&api).unwrap();
    let Body::Complete(wire) = request.body() else {
        panic!()
    };
    println!(
        "create request: {} {}\n{}",
        request.method(),
        request.uri(),
        String::from_utf8_lossy(wire)
    );
    assert!(String::from_utf8_lossy(wire).contains(&uploaded.download_url));
    let task = custom_transport::send_with_retries(&api, &create, RetryPolicy::default()).unwrap();
    println!("created {task}");

    // 3. Poll by the policy (the first poll sees "recordInfo is null": tolerated).
    let policy = PollPolicy::default().with_deadline(Some(Duration::from_secs(30)));
    let mut wait = policy.start(task.clone(), Instant::now());
    let view = loop {
        let polled = custom_transport::send_with_retries(&api, &task.get(), RetryPolicy::never());
        let random = kie_proto::driver::random_unit();
        let decision = match polled {
            Ok(record) => policy.on_view(&mut wait, &record.view(), Instant::now(), random),
            Err(error) => match error.downcast::<Error>() {
                Ok(error) => policy.on_error(&mut wait, *error, Instant::now(), random),
                Err(other) => panic!("{other}"),
            },
        };
        match decision {
            PollDecision::PollAfter(pause) => {
                std::thread::sleep(pause.min(Duration::from_millis(300)))
            }
            PollDecision::Done(view) => break view,
            PollDecision::GiveUp(give_up) => panic!("{}", give_up.into_error()),
            _ => unreachable!(),
        }
    };
    assert_eq!(view.status, TaskStatus::Succeeded);
    assert_eq!(view.credits_consumed, Some(4.0));
    println!("record: {view:?}");
    // The emulator fetched the input from its own store (a missing one fails the task).
    assert_eq!(view.assets.len(), 1);

    // 4. The result, downloaded without the API key.
    let (status, bytes) = get(&view.assets[0].url);
    assert_eq!(status, 200);
    assert!(bytes.starts_with(b"\x89PNG"));
    let files = emulator.requests();
    let download = files
        .iter()
        .rfind(|r| r.host == kie_tests::Host::Files)
        .unwrap();
    assert!(!download.has_authorization());

    // 5. The callback, verified then read.
    let (head, body) = callbacks.recv_timeout(Duration::from_secs(10)).unwrap();
    let mut headers = HeaderMap::new();
    for line in &head[1..] {
        let (name, value) = line.split_once(':').unwrap();
        headers.insert(
            kie_proto::http::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
            value.trim().parse().unwrap(),
        );
    }
    let verified = WebhookVerifier::new(KEY)
        .unwrap()
        .verify(&headers, &body, SystemTime::now())
        .unwrap();
    assert_eq!(verified.task_id, task.id());
    let callback = MarketCallback::parse(&body).unwrap();
    assert_eq!(callback.code, Some(200));
    assert_eq!(callback.record.view().assets, view.assets);
    println!(
        "callback verified: {} {}",
        headers["x-webhook-timestamp"].to_str().unwrap(),
        headers["x-webhook-signature"].to_str().unwrap()
    );
}

/// A GET with nothing but a Host header (no key), by hand.
fn get(url: &str) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&raw[..end])
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    (status, raw[end + 4..].to_vec())
}
