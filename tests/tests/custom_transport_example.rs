//! Runs kie-proto's `custom_transport` example — an upload over a bare `TcpStream` with
//! nothing but kie-proto and std — against the emulator, and checks what was stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../kie-proto/examples/custom_transport.rs"]
#[allow(dead_code)] // its `main` is the command-line entry point, unused here
mod custom_transport;

use kie_proto::{Api, ApiKey};
use kie_tests::Emulator;

#[test]
fn custom_transport_uploads_and_reads_credits() {
    let emulator = Emulator::builder().credits(42.5).start();
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
