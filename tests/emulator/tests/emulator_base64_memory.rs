//! A big base64 upload in [`StorageMode::Discard`] costs the emulator constant memory:
//! the body is generated on the fly and written to a raw socket (so the client holds
//! none of it either), and the growth of this process's peak RSS is bounded.
//!
//! In its own test binary so no other test's allocations show in the figures; its two
//! tests take turns. The 64 MiB one runs by default (a few seconds in a debug build;
//! buffering the body would cost it over 200 MiB); the 256 MiB one takes about 25 s in
//! a debug build on 2 cores, so it is `#[ignore]`d: run it with
//! `cargo test -p kie-emulator --test emulator_base64_memory -- --ignored --nocapture`
//! (a few seconds with `--release`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Instant;

use base64::Engine as _;
use kie_emulator::{Emulator, StorageMode};
use serde_json::Value;
use sha2::Digest as _;
use support::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const MIB: u64 = 1024 * 1024;

/// A `/proc/self/status` figure in KiB (`VmRSS`, `VmHWM`).
fn proc_status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One test at a time: both read the figures of the whole process.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base64_upload_of_64_mib_in_discard_mode_uses_constant_memory() {
    upload_in_discard_mode(64, 32).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "about 25 s in a debug build; run with --ignored (see the module doc)"]
async fn base64_upload_of_256_mib_in_discard_mode_uses_constant_memory() {
    upload_in_discard_mode(256, 64).await;
}

/// Uploads `mib` MiB as base64 in discard mode; the peak RSS may grow by less than
/// `max_growth_mib` MiB meanwhile.
async fn upload_in_discard_mode(mib: u64, max_growth_mib: u64) {
    let _serial = SERIAL.lock().await;
    let Some(rss_before) = proc_status_kib("VmRSS:") else {
        eprintln!("no /proc/self/status: skipped");
        return;
    };
    let emu = Emulator::builder()
        .storage(StorageMode::Discard)
        .json_body_limit(u64::MAX)
        .start();
    let size: u64 = mib * MIB;
    // Raw blocks a multiple of 3 bytes, so their encodings concatenate; the first one
    // starts with a PNG, for sniffing.
    const BLOCK: usize = 3 * 64 * 1024;
    let head = r#"{"uploadPath":"big","base64Data":""#;
    let tail = r#"","fileName":"big.png"}"#;
    let content_length = head.len() as u64 + size.div_ceil(3) * 4 + tail.len() as u64;

    let addr = emu
        .upload_base_url()
        .trim_start_matches("http://")
        .to_owned();
    let mut sock = TcpStream::connect(&addr).await.unwrap();
    // Reset the peak (VmHWM) to the current RSS where the kernel allows it.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_start = proc_status_kib("VmRSS:").unwrap();
    let started = Instant::now();
    let request = format!(
        "POST /api/file-base64-upload HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {content_length}\r\n\
         Connection: close\r\n\r\n{head}",
        bearer(&emu)
    );
    sock.write_all(request.as_bytes()).await.unwrap();
    let mut hasher = sha2::Sha256::new();
    let mut block = noise(BLOCK, 11);
    block[..png().len()].copy_from_slice(&png());
    let mut encoded = String::new();
    let mut sent = 0u64;
    while sent < size {
        let n = (size - sent).min(BLOCK as u64) as usize;
        // Vary each block cheaply so the content is not periodic.
        block[n - 8..n].copy_from_slice(&sent.to_le_bytes());
        hasher.update(&block[..n]);
        encoded.clear();
        base64::engine::general_purpose::STANDARD.encode_string(&block[..n], &mut encoded);
        sock.write_all(encoded.as_bytes()).await.unwrap();
        sent += n as u64;
    }
    sock.write_all(tail.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    sock.read_to_end(&mut resp).await.unwrap();
    let elapsed = started.elapsed();
    let peak = proc_status_kib("VmHWM:").unwrap();
    let rss_after = proc_status_kib("VmRSS:").unwrap();

    let text = String::from_utf8(resp).unwrap();
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["code"], 200, "{v}");
    assert_eq!(v["data"]["fileSize"], size);
    assert_eq!(v["data"]["mimeType"], "image/png");
    let stored = emu.stored_files();
    assert_eq!(stored[0].sha256.to_vec(), hasher.finalize().to_vec());
    assert!(stored[0].content.is_none());
    assert_eq!(emu.requests()[0].body_len, content_length);

    let growth_mib = peak.saturating_sub(rss_start) / 1024;
    eprintln!(
        "{mib} MiB base64 upload ({} MiB JSON) in {elapsed:.1?}: RSS {} -> {} MiB before/after, \
         peak {} MiB, peak growth {growth_mib} MiB",
        content_length / MIB,
        rss_before / 1024,
        rss_after / 1024,
        peak / 1024
    );
    assert!(
        growth_mib < max_growth_mib,
        "peak RSS grew by {growth_mib} MiB during a {mib} MiB discard-mode upload"
    );
}
