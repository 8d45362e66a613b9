//! Uploads every file of a directory, several at once, and prints a table of name, size
//! and download URL.
//!
//! ```text
//! cargo run -p kie-async --example upload_many -- [--concurrency N] [--base64] <dir>
//! ```
//!
//! - With `KIE_API_KEY` set, the files go to KIE.AI (base URLs from `KIE_UPLOAD_BASE_URL`
//!   and `KIE_API_BASE_URL` when set).
//! - Without it, a local KIE.AI emulator is started in-process and the files go there.
//!   `KIE_EMULATOR_STORAGE=discard` makes it keep only sizes and digests.
//! - `--concurrency N` (or `KIE_CONCURRENCY=N`, default 8): uploads in flight at once.
//! - `--base64` uses the base64 endpoint instead of the stream (multipart) one.
//! - `--http2` offers HTTP/2, used when an `https://` server accepts it (by default the
//!   client speaks HTTP/1.1).
//!
//! The table goes to stdout; the summary and errors go to stderr.

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use futures_util::StreamExt as _;
use kie_async::{Client, UploadOptions, UploadSource};
use kie_emulator::{Emulator, StorageMode};

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

const USAGE: &str = "usage: upload_many [--concurrency N] [--base64] [--http2] <dir>";

struct Args {
    dir: PathBuf,
    concurrency: usize,
    base64: bool,
    http2: bool,
}

// One thread for every connection: uploads wait on the network and the disk (files are read
// on blocking threads), and the multi-threaded runtime's wake-ups between workers cost more
// CPU than they save (BENCHMARKS.md: 20,000 small uploads at concurrency 32).
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    let args = parse_args()?;

    let mut files = Vec::new();
    for entry in std::fs::read_dir(&args.dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            files.push((entry.path(), entry.metadata()?.len()));
        }
    }
    files.sort();

    // Keeps the emulator (if any) alive until the uploads are done.
    let (client, _emulator) = if std::env::var_os(kie_async::ENV_API_KEY)
        .is_some_and(|key| !key.is_empty())
    {
        let client = if args.http2 {
            let config = kie_async::ClientConfig::from_env_with(|name| std::env::var(name).ok());
            Client::builder(config).http2().build()?
        } else {
            Client::from_env()?
        };
        (client, None)
    } else {
        let mut builder = Emulator::builder();
        if std::env::var("KIE_EMULATOR_STORAGE").is_ok_and(|s| s == "discard") {
            builder = builder.storage(StorageMode::Discard);
        }
        let emulator = builder.start();
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
        (client, Some(emulator))
    };

    let options = UploadOptions::new("kie-rs/examples/many");
    let uploads = files.iter().map(|(path, _)| {
        let source = if args.base64 {
            UploadSource::Base64Path(path.clone())
        } else {
            UploadSource::Path(path.clone())
        };
        // Keep each file's own name (the same name in the same folder overwrites).
        let name = path.file_name().and_then(|n| n.to_str()).map(str::to_owned);
        let options = match name {
            Some(name) => options.clone().file_name(name),
            None => options.clone(),
        };
        (source, options)
    });
    // `upload_many` takes an owned ('static) iterator: collect the borrowed one.
    let uploads: Vec<_> = uploads.collect();

    let started = Instant::now();
    let mut results = client.upload_many(uploads, args.concurrency);
    let mut rows = Vec::with_capacity(files.len());
    let mut failed = 0;
    while let Some((index, result)) = results.next().await {
        let (path, size) = &files[index];
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        match result {
            Ok(uploaded) => rows.push((index, name, *size, uploaded.download_url)),
            Err(error) => {
                failed += 1;
                eprintln!("{name}: {error}");
            }
        }
    }
    let elapsed = started.elapsed();
    rows.sort();

    let width = rows.iter().map(|r| r.1.len()).max().unwrap_or(4).max(4);
    println!("{:<width$}  {:>12}  DOWNLOAD URL", "NAME", "SIZE");
    for (_, name, size, url) in &rows {
        println!("{name:<width$}  {size:>12}  {url}");
    }
    let bytes: u64 = rows.iter().map(|r| r.2).sum();
    eprintln!(
        "{} uploaded ({bytes} bytes), {failed} failed, in {elapsed:.2?} at concurrency {}",
        rows.len(),
        args.concurrency
    );
    if failed > 0 {
        return Err(format!("{failed} uploads failed").into());
    }
    Ok(())
}

fn parse_args() -> Result<Args> {
    let mut concurrency = match std::env::var("KIE_CONCURRENCY") {
        Ok(value) => value
            .parse()
            .map_err(|_| "KIE_CONCURRENCY must be a number")?,
        Err(_) => 8,
    };
    let mut base64 = false;
    let mut http2 = false;
    let mut dir = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--base64" {
            base64 = true;
        } else if arg == "--http2" {
            http2 = true;
        } else if arg == "--concurrency" {
            let value = args.next().ok_or(USAGE)?;
            concurrency = value
                .to_str()
                .and_then(|v| v.parse().ok())
                .ok_or("--concurrency takes a number")?;
        } else if dir.is_none() {
            dir = Some(PathBuf::from(arg));
        } else {
            return Err(USAGE.into());
        }
    }
    Ok(Args {
        dir: dir.ok_or(USAGE)?,
        concurrency,
        base64,
        http2,
    })
}
