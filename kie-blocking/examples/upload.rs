//! Uploads a file and prints its download URL.
//!
//! ```text
//! cargo run -p kie-blocking --example upload -- [--base64] <path>
//! ```
//!
//! - With `KIE_API_KEY` set, the file goes to KIE.AI (base URLs from `KIE_UPLOAD_BASE_URL`
//!   and `KIE_API_BASE_URL` when set).
//! - Without it, a local KIE.AI emulator is started in-process; the file is uploaded to it,
//!   downloaded back and compared byte for byte. `KIE_EMULATOR_STORAGE=discard` makes the
//!   emulator keep only the size and SHA-256 of uploads (for very large files); the check
//!   then compares those instead of downloading.
//! - `--base64` (or `KIE_UPLOAD_BASE64=1`) uses the base64 endpoint instead of the stream
//!   (multipart) one. Both stream the file in constant memory.

use std::error::Error;
use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use kie_blocking::{Client, Progress, UploadOptions, UploadResult};
use kie_emulator::{Emulator, StorageMode};
use sha2::{Digest, Sha256};

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let (path, base64) = parse_args()?;
    let options = UploadOptions::new("kie-rs/examples").on_progress(show_progress);

    if std::env::var_os(kie_blocking::ENV_API_KEY).is_some_and(|key| !key.is_empty()) {
        let client = Client::from_env()?;
        let uploaded = upload(&client, &path, &options, base64)?;
        println!("{}", uploaded.download_url);
        return Ok(());
    }

    let discard = std::env::var("KIE_EMULATOR_STORAGE").is_ok_and(|s| s == "discard");
    let emulator = start_emulator(discard);
    eprintln!(
        "KIE_API_KEY is not set: uploading to a local KIE.AI emulator at {} (nothing leaves this machine).",
        emulator.upload_base_url()
    );
    let client = Client::builder(
        kie_proto::ClientConfig::new(emulator.api_key())
            .upload_base_url(&emulator.upload_base_url())
            .api_base_url(&emulator.api_base_url()),
    )
    .build()?;
    let uploaded = upload(&client, &path, &options, base64)?;
    if discard {
        check_stored_digest(&emulator, &path)?;
    } else {
        check_download(&uploaded.download_url, &path)?;
    }
    println!("{}", uploaded.download_url);
    Ok(())
}

/// `[--base64] <path>`.
fn parse_args() -> Result<(PathBuf, bool)> {
    let mut base64 = std::env::var("KIE_UPLOAD_BASE64").is_ok_and(|v| v == "1" || v == "true");
    let mut path = None;
    for arg in std::env::args_os().skip(1) {
        if arg == "--base64" {
            base64 = true;
        } else if path.is_none() {
            path = Some(PathBuf::from(arg));
        } else {
            return Err("usage: upload [--base64] <path>".into());
        }
    }
    let path = path.ok_or("usage: upload [--base64] <path>")?;
    Ok((path, base64))
}

fn start_emulator(discard: bool) -> Emulator {
    let mut builder = Emulator::builder();
    if discard {
        builder = builder.storage(StorageMode::Discard);
    }
    // Large base64 bodies are refused above the emulator's JSON limit (256 MiB by default).
    builder.json_body_limit(u64::MAX).start()
}

fn upload(
    client: &Client,
    path: &Path,
    options: &UploadOptions,
    base64: bool,
) -> Result<UploadResult> {
    let started = Instant::now();
    let uploaded = if base64 {
        client.upload_base64_file(path, options)?
    } else {
        client.upload_file(path, options)?
    };
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    eprintln!(
        "uploaded {} bytes as {} in {:.1?} ({} endpoint)",
        uploaded.file_size.unwrap_or_default(),
        uploaded.file_name.as_deref().unwrap_or("?"),
        started.elapsed(),
        if base64 { "base64" } else { "stream" },
    );
    Ok(uploaded)
}

/// A one-line progress display on stderr.
fn show_progress(p: Progress) {
    const MIB: f64 = (1 << 20) as f64;
    let percent = if p.total == 0 {
        100.0
    } else {
        p.sent as f64 * 100.0 / p.total as f64
    };
    let retry = if p.attempt > 1 {
        format!(" (attempt {})", p.attempt)
    } else {
        String::new()
    };
    let line = format!(
        "{:>9.1} / {:.1} MiB {percent:5.1}%{retry}",
        p.sent as f64 / MIB,
        p.total as f64 / MIB
    );
    let mut err = std::io::stderr().lock();
    if err.is_terminal() {
        let _ = write!(err, "\r{line}");
    } else if p.sent == p.total || p.sent.is_multiple_of(64 << 20) {
        let _ = writeln!(err, "{line}");
    }
}

/// Downloads `url` (plain GET, no `Authorization`) and compares it with the file.
fn check_download(url: &str, path: &Path) -> Result<()> {
    let response = kie_blocking::ureq::get(url).call()?;
    let mut remote = response.into_body().into_reader();
    let mut local = File::open(path)?;
    let (mut a, mut b) = (vec![0; 64 << 10], vec![0; 64 << 10]);
    let mut offset = 0u64;
    loop {
        let n = read_full(&mut local, &mut a)?;
        let m = read_full(&mut remote, &mut b)?;
        if n != m || a[..n] != b[..m] {
            return Err(format!("downloaded bytes differ from the file near byte {offset}").into());
        }
        if n == 0 {
            break;
        }
        offset += n as u64;
    }
    eprintln!("downloaded {offset} bytes back: identical to the file");
    Ok(())
}

/// Compares the file's size and SHA-256 with what the emulator recorded (discard mode).
fn check_stored_digest(emulator: &Emulator, path: &Path) -> Result<()> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 64 << 10];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let digest: [u8; 32] = hasher.finalize().into();
    let stored = emulator.stored_files();
    let [file] = stored.as_slice() else {
        return Err(format!("expected one stored file, found {}", stored.len()).into());
    };
    if file.size != size || file.sha256 != digest {
        return Err("the emulator stored different bytes (size or SHA-256 differ)".into());
    }
    eprintln!(
        "the emulator stored {size} bytes with SHA-256 {}: identical to the file",
        file.sha256_hex()
    );
    Ok(())
}

/// Fills `buf` as far as the reader allows; returns how much was read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
