//! Runs kie-proto's `custom_transport` example — an upload over a bare `TcpStream` with
//! nothing but kie-proto and std — against the emulator, and checks what was stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../kie-proto/examples/custom_transport.rs"]
#[allow(dead_code)] // its `main` is the command-line entry point, unused here
mod custom_transport;

use std::time::Duration;

use kie_proto::{Api, ApiKey, ErrorKind, GetCredits, RetryPolicy};
use kie_tests::{Emulator, Fault, Route};

#[test]
fn custom_transport_uploads_and_reads_credits() {
    let emulator = Emulator::builder().credits(42.5).start();
    // The credits call meets a 502 page and a 503 first: the example's retries get past them.
    emulator.faults().push(Route::Credits, Fault::html(502));
    emulator.faults().push(Route::Credits, Fault::html(503));
    let api = Api::new(ApiKey::new(emulator.api_key()).unwrap())
        .with_upload_base_url(&emulator.upload_base_url())
        .unwrap()
        .with_api_base_url(&emulator.api_base_url())
        .unwrap();
    let dir = std::env::temp_dir().join(format!("kie-custom-transport-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("report.pdf");
    let content: Vec<u8> = b"%PDF-1.7\n"
        .iter()
        .copied()
        .chain((0..300_000u32).map(|i| (i % 251) as u8))
        .collect();
    std::fs::write(&path, &content).unwrap();

    let (result, credits) = custom_transport::upload_then_credits(&api, &path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    assert_eq!(credits, 42.5);
    assert_eq!(result.file_size, Some(content.len() as u64));
    assert_eq!(result.mime_type.as_deref(), Some("application/pdf"));
    let stored = emulator.stored_files();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].content.as_deref(), Some(&content[..]));
    assert!(
        stored[0].file_name.ends_with(".pdf"),
        "{}",
        stored[0].file_name
    );
    assert_eq!(stored[0].upload_path, "examples/custom-transport");
}

/// The example's retry loop stops where kie-proto's policy says: a refusal that is final is
/// not sent again, and retries end after the policy's attempts.
#[test]
fn custom_transport_retries_by_the_policy() {
    let emulator = Emulator::start();
    let api = Api::new(ApiKey::new(emulator.api_key()).unwrap())
        .with_api_base_url(&emulator.api_base_url())
        .unwrap();
    let quick = RetryPolicy::default()
        .with_max_attempts(3)
        .with_base_delay(Duration::from_millis(5));
    emulator
        .faults()
        .push_n(Route::Credits, Fault::html(503), 5);
    let error = custom_transport::send_with_retries(&api, &GetCredits, quick).unwrap_err();
    let error = error.downcast::<kie_proto::Error>().unwrap();
    assert_eq!(error.attempts(), Some(3), "{error:?}");
    assert_eq!(emulator.faults().remaining(Route::Credits), 2);

    emulator.faults().clear();
    let unauthorized = Api::new(ApiKey::new("sk-wrong").unwrap())
        .with_api_base_url(&emulator.api_base_url())
        .unwrap();
    let error = custom_transport::send_with_retries(&unauthorized, &GetCredits, quick)
        .unwrap_err()
        .downcast::<kie_proto::Error>()
        .unwrap();
    assert_eq!(
        error.api_error().map(|e| e.kind),
        Some(ErrorKind::Unauthorized)
    );
    assert_eq!(error.attempts(), Some(1));
}
