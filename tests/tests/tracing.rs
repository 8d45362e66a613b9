//! The drivers' `tracing` reports (feature `tracing`, on by default), captured by a
//! subscriber written here: one `kie.call` span per call with the operation, host and
//! body length, an event per attempt, per retry decision and for the outcome — and never
//! the key or an answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kie_tests::{Emulator, Fault, Route};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// One span or event: its name (the event's message), fields and parent span.
#[derive(Debug, Clone, PartialEq)]
struct Captured {
    name: String,
    fields: BTreeMap<String, String>,
    parent: Option<u64>,
}

/// Records kie-proto's spans and events (and nothing else) in order.
#[derive(Default, Clone)]
struct Capture {
    records: Arc<Mutex<Vec<Captured>>>,
    next_id: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("kie_proto")
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        let mut fields = BTreeMap::new();
        span.record(&mut Fields(&mut fields));
        self.records.lock().unwrap().push(Captured {
            name: span.metadata().name().to_owned(),
            fields,
            parent: None,
        });
        Id::from_u64(id)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let name = fields.remove("message").unwrap_or_default();
        self.records.lock().unwrap().push(Captured {
            name,
            fields,
            parent: event.parent().map(Id::into_u64),
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Capture {
    fn take(&self) -> Vec<Captured> {
        std::mem::take(&mut *self.records.lock().unwrap())
    }
}

fn record(name: &str, parent: u64, fields: &[(&str, &str)]) -> Captured {
    Captured {
        name: name.to_owned(),
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        parent: Some(parent),
    }
}

fn span(operation: &str, content_length: u64) -> Captured {
    let length = content_length.to_string();
    Captured {
        parent: None,
        ..record(
            "kie.call",
            0,
            &[
                ("operation", operation),
                ("host", "127.0.0.1"),
                ("content_length", &length),
            ],
        )
    }
}

/// A rate-limited credits call retried once after the server's `Retry-After: 1`.
fn expected_retried_credits(first_span: u64) -> Vec<Captured> {
    vec![
        span("/api/v1/chat/credit", 0),
        record("attempt", first_span, &[("attempt", "1")]),
        record(
            "retry",
            first_span,
            &[
                ("attempt", "1"),
                ("reason", "RateLimited (HTTP 429)"),
                ("wait_ms", "1000"),
                ("retry_after_ms", "1000"),
            ],
        ),
        record("attempt", first_span, &[("attempt", "2")]),
        record("succeeded", first_span, &[("attempts", "2")]),
    ]
}

/// A refused upload (wrong key) and a download-url call, checked the same way for both
/// drivers: `lengths` are the two request bodies' lengths as the emulator counted them,
/// `error` the Display of the error the upload returned.
fn expected_refusal_and_download(lengths: (u64, u64), error: &str) -> Vec<Captured> {
    vec![
        span("/api/file-stream-upload", lengths.0),
        record("attempt", 2, &[("attempt", "1")]),
        record(
            "failed",
            2,
            &[
                ("attempts", "1"),
                ("reason", "Unauthorized (HTTP 401)"),
                ("error", error),
            ],
        ),
        span("/api/v1/common/download-url", lengths.1),
        record("attempt", 3, &[("attempt", "1")]),
        record("succeeded", 3, &[("attempts", "1")]),
    ]
}

/// The body lengths of the emulator's third and fourth requests (the first two were the
/// credits attempts).
fn logged_lengths(emu: &Emulator) -> (u64, u64) {
    let log = emu.requests();
    (log[2].body_len, log[3].body_len)
}

fn assert_no_secrets(records: &[Captured], secrets: &[&str]) {
    for captured in records {
        for value in captured.fields.values().chain([&captured.name]) {
            for secret in secrets {
                assert!(!value.contains(secret), "{secret:?} leaked in {captured:?}");
            }
        }
    }
}

#[test]
fn blocking_calls_are_traced() {
    let emu = Emulator::builder().api_key("secret-key-1").start();
    let capture = Capture::default();
    let _default = tracing::subscriber::set_default(capture.clone());
    let client = |key: &str| {
        kie_blocking::Client::builder(
            kie_proto::ClientConfig::new(key)
                .upload_base_url(&emu.upload_base_url())
                .api_base_url(&emu.api_base_url()),
        )
        .build()
        .unwrap()
    };
    emu.faults()
        .push(Route::Credits, Fault::rate_limited(Some(1)));
    client("secret-key-1").credits().unwrap();
    let mut records = capture.take();
    // The span of the first call has id 1.
    assert_eq!(records, expected_retried_credits(1));

    let options = kie_blocking::UploadOptions::new("traced").file_name("a.txt");
    let refused = client("wrong-secret-2")
        .upload_bytes(b"hello", &options)
        .unwrap_err();
    let generated = emu.issue_generated_file(b"png".to_vec(), "image/png");
    let link = client("secret-key-1").download_url(&generated).unwrap();
    let calls = capture.take();
    assert_eq!(
        calls,
        expected_refusal_and_download(logged_lengths(&emu), &refused.to_string())
    );
    records.extend(calls);
    assert_no_secrets(&records, &["secret-key-1", "wrong-secret-2", &link]);
}

#[tokio::test]
async fn async_calls_are_traced() {
    let emu = Emulator::builder().api_key("secret-key-1").start();
    let capture = Capture::default();
    let _default = tracing::subscriber::set_default(capture.clone());
    let client = |key: &str| {
        kie_async::Client::builder(
            kie_proto::ClientConfig::new(key)
                .upload_base_url(&emu.upload_base_url())
                .api_base_url(&emu.api_base_url()),
        )
        .build()
        .unwrap()
    };
    emu.faults()
        .push(Route::Credits, Fault::rate_limited(Some(1)));
    let started = std::time::Instant::now();
    client("secret-key-1").credits().await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    let mut records = capture.take();
    assert_eq!(records, expected_retried_credits(1));

    let options = kie_async::UploadOptions::new("traced").file_name("a.txt");
    let refused = client("wrong-secret-2")
        .upload_bytes(b"hello".to_vec(), &options)
        .await
        .unwrap_err();
    let generated = emu.issue_generated_file(b"png".to_vec(), "image/png");
    let link = client("secret-key-1")
        .download_url(&generated)
        .await
        .unwrap();
    let calls = capture.take();
    assert_eq!(
        calls,
        expected_refusal_and_download(logged_lengths(&emu), &refused.to_string())
    );
    records.extend(calls);
    assert_no_secrets(&records, &["secret-key-1", "wrong-secret-2", &link]);
}
