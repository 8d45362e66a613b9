//! Blocking client of the KIE.AI File Upload API and Common API, on [ureq] 3.
//!
//! A thin driver over [`kie_proto`], the sans-IO protocol core: kie-proto builds every
//! request, frames every body, reads every answer and decides every retry; this crate moves
//! the bytes, sleeps and reports progress. `kie-async` offers the same [`Client`] methods,
//! the same [`UploadOptions`] and the same [`Error`] on reqwest + tokio.
//!
//! - Uploads of any size in constant memory: files and readers go out through a fixed 64 KiB
//!   buffer, as multipart or as base64 encoded on the fly, always with an exact
//!   `Content-Length` (never chunked).
//! - Retries by kie-proto's [`RetryPolicy`]: connection failures, timeouts, rate limits
//!   (`Retry-After` honoured), maintenance and server errors. A retried upload re-sends its
//!   content from the start under the same, once-chosen file name, so it never leaves two
//!   stored copies.
//! - Progress callbacks ([`UploadOptions::on_progress`]): at least every MiB and at the end;
//!   a retry visibly restarts at 0.
//! - No redirects are followed, so the API key (`Authorization`) never reaches another
//!   host; TLS is rustls (no OpenSSL); the key never appears in `Debug` or `Display` output.
//!
//! # Example
//! ```
//! use kie_blocking::{Client, ErrorKind, UploadOptions};
//!
//! fn run(client: &Client) -> Result<(), kie_blocking::Error> {
//!     // Upload bytes (or `upload_file(path, …)`, `upload_reader(reader, len, …)`).
//!     let options = UploadOptions::new("images/user-uploads")
//!         .file_name("pixel.gif")
//!         .on_progress(|p| println!("{}/{} bytes (attempt {})", p.sent, p.total, p.attempt));
//!     let uploaded = client.upload_bytes(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", &options)?;
//!     println!("stored at {}", uploaded.download_url);
//!
//!     // The same through the base64 endpoint, as a data URL.
//!     let uploaded = client.upload_base64_bytes(b"hello", &UploadOptions::new("notes").data_url(true))?;
//!     println!("stored as {:?}", uploaded.file_name);
//!
//!     // The Common API.
//!     println!("{} credits left", client.credits()?);
//!
//!     // Refusals are typed, whichever way the service reports them.
//!     match client.download_url("https://example.com/not-generated-by-kie.png") {
//!         Err(error) => assert_eq!(error.api_error().map(|e| e.kind), Some(ErrorKind::Validation)),
//!         Ok(url) => println!("download from {url}"),
//!     }
//!     Ok(())
//! }
//! # let emulator = kie_tests::Emulator::start();
//! # let client = Client::builder(emulator.api_key())
//! #     .upload_base_url(&emulator.upload_base_url())
//! #     .api_base_url(&emulator.api_base_url())
//! #     .build()?;
//! // let client = Client::from_env()?; // reads KIE_API_KEY
//! run(&client)?;
//! # Ok::<(), kie_blocking::Error>(())
//! ```
//!
//! `cargo run -p kie-blocking --example upload -- <path>` uploads a file (to a local emulator
//! when `KIE_API_KEY` is not set).
#![forbid(unsafe_code)]

mod client;
mod run;
mod socket;
mod source;
mod transport;

pub use client::{Client, ClientBuilder, ENV_API_BASE_URL, ENV_API_KEY, ENV_UPLOAD_BASE_URL};
pub use source::ReadSeek;

pub use kie_proto;
pub use kie_proto::{
    Api, ApiError, ApiKey, Error, ErrorKind, InvalidInput, Operation, Progress, ProgressCallback,
    RetryPolicy, TimeoutReason, TransportFailure, UploadOptions, UploadResult,
};
pub use ureq;
