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
//!   host; the key never appears in `Debug` or `Display` output.
//! - TLS is rustls (no OpenSSL) with the crypto provider chosen by Cargo feature, the same
//!   rule as kie-async: `aws-lc-rs` (default; post-quantum hybrid key exchange; builds
//!   AWS-LC's C code) or `ring` (fewer crates to build, no post-quantum key exchange). When
//!   both are on, ring is used; with neither the crate does not compile. For ring alone:
//!   `kie-blocking = { version = "0.1", default-features = false, features = ["ring",
//!   "tracing"] }`. By default the platform's certificate verifier
//!   (`rustls-platform-verifier`: the system trust store, or `SSL_CERT_FILE` /
//!   `SSL_CERT_DIR` when set). [`ClientConfig::tls_roots`] picks Mozilla's bundled roots
//!   instead ([`TlsRoots::WebPki`], with this crate's `webpki-roots` feature) or only given
//!   CAs. HTTP/1.1 only.
//! - Proxies: [`ClientConfig::proxy`] / [`ClientConfig::no_proxy`]; by default
//!   `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` as [`kie_proto::proxy`]
//!   describes, the same rule as kie-async. `https://` goes through a `CONNECT` tunnel; a
//!   plain `http://` base URL is readable by the proxy, API key included.
//! - Failures are named from the whole source chain of ureq's error (a certificate's
//!   reason, a proxy's 407, a malformed answer), by kie-proto's
//!   [`FailureFacts`](kie_proto::driver::FailureFacts); see [`TransportFailure`].
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
//! # let emulator = kie_emulator::Emulator::start();
//! # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url())
//! #     .api_base_url(&emulator.api_base_url()))?;
//! // let client = Client::from_env()?; // reads KIE_API_KEY
//! run(&client)?;
//! # Ok::<(), kie_blocking::Error>(())
//! ```
//!
//! `cargo run -p kie-blocking --example upload -- <path>` uploads a file (to a local emulator
//! when `KIE_API_KEY` is not set).
//!
//! # Features
//! - `tracing` (on by default): each call is a `kie.call` span (operation, host, body
//!   length) with an event per attempt, per retry decision (reason, wait, `Retry-After`)
//!   and for the outcome, through [`tracing`](https://docs.rs/tracing); see
//!   [`kie_proto::driver::Call`]. Never the key, a body or an answer.
//! - `aws-lc-rs` (on by default) or `ring`: the TLS crypto provider (see TLS above).
//!
//! Off by default, so a client that only uploads compiles only what it needs:
//! - `url`: URLs (`fileUrl`, download-url, base URLs) parsed and serialised by the WHATWG
//!   URL standard, with internationalised (IDNA) hosts, through the `url` crate. Without
//!   it, ASCII URLs are checked by kie-proto's small strict parser and the others are
//!   refused with [`InvalidInput::UrlInvalid`].
//! - `webhook`: [`kie_proto::webhook`](https://docs.rs/kie-proto/latest/kie_proto/webhook/),
//!   verification of the service's signed callbacks.
//!
//! # Public dependencies
//! `ureq` types are part of this crate's API — [`ClientBuilder::agent`] takes a
//! `ureq::Agent`, and `ureq` is re-exported — and so are [`kie_proto`]'s: a major
//! version of `ureq` is a major version of this crate.
#![forbid(unsafe_code)]

mod body;
mod client;
mod common;
mod jobs;
mod run;
mod socket;
mod source;
mod transport;
mod upload;

pub use client::{Client, ClientBuilder, ENV_API_BASE_URL, ENV_API_KEY, ENV_UPLOAD_BASE_URL};
pub use source::ReadSeek;
pub use upload::UploadSource;

pub use kie_proto;
pub use kie_proto::{
    Api, ApiError, ApiKey, ClientConfig, Error, ErrorKind, IntegrityError, InvalidInput, Operation,
    Progress, ProgressCallback, RetryCause, RetryPolicy, TimeoutReason, TlsFailure, TlsRoots,
    TransportFailure, UploadEndpoint, UploadOptions, UploadResult,
};
pub use ureq;

/// The README's Rust snippets, compiled (and, where they need no network, run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
