//! Async (reqwest + tokio) client for the KIE.AI File Upload API and Common API.
//!
//! The same client as `kie-blocking` — same method names, same [`UploadOptions`], same
//! [`Error`] — with `async` methods, plus [`Client::upload_many`] for many uploads at once.
//! Every protocol decision (requests, answers, errors, retries, naming) comes from
//! [`kie_proto`]; this crate moves bytes, sleeps and reports.
//!
//! - Files and readers are streamed through one fixed 64 KiB buffer, in the multipart and
//!   the base64 form, with an exact `Content-Length` (never chunked): memory does not grow
//!   with the file.
//! - Retries follow [`RetryPolicy`]; a file is reopened and bytes are re-sent; a reader is
//!   not retried once read ([`Error::NotRewindable`]). An upload without a file name gets a
//!   random one before its first attempt, reused by every retry, so a retry never leaves
//!   two copies.
//! - Redirects are never followed. A caller's `reqwest::Client` given to
//!   [`ClientBuilder::http_client`] may follow them, but the key is dropped on a hop to
//!   another origin and the redirected answer is refused ([`TransportFailure::Redirected`]).
//! - TLS is rustls (no OpenSSL), configured by this crate and handed to reqwest, with the
//!   crypto provider chosen by Cargo feature, the same rule as kie-blocking: `aws-lc-rs`
//!   (default; post-quantum hybrid key exchange; builds AWS-LC's C code) or `ring` (fewer
//!   crates to build, no post-quantum key exchange). When both are on, ring is used; with
//!   neither the crate does not compile. For ring alone: `kie-async = { version = "0.1",
//!   default-features = false, features = ["ring", "tracing"] }` (a `reqwest::Client` of
//!   your own then needs a process-wide provider, see [`ClientBuilder::http_client`]). By
//!   default the platform's certificate verifier (`rustls-platform-verifier`: the system
//!   trust store, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set).
//!   [`ClientConfig::tls_roots`] picks Mozilla's bundled roots instead
//!   ([`TlsRoots::WebPki`], with this crate's `webpki-roots` feature) or only given CAs.
//! - HTTP/1.1 by default, as kie-blocking; [`ClientBuilder::http2`] offers HTTP/2 by ALPN
//!   over TLS (all of [`Client::upload_many`]'s uploads then share one connection), and
//!   says when it pays and when it does not (large uploads on long round trips).
//! - Proxies: [`ClientConfig::proxy`] / [`ClientConfig::no_proxy`]; by default
//!   `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` as [`kie_proto::proxy`]
//!   describes (never reqwest's own reading of them), the same rule as kie-blocking.
//!   `https://` goes through a `CONNECT` tunnel; a request to a plain `http://` base URL is
//!   sent to the proxy as is, API key included.
//! - Failures are named from the whole source chain of reqwest's error (a certificate's
//!   reason, a proxy's 407, hyper's verdict on a malformed answer), by kie-proto's
//!   [`FailureFacts`](kie_proto::driver::FailureFacts); see [`TransportFailure`].
//! - Cancellation: dropping an upload future closes its file at once and aborts the
//!   request; a single upload spawns no task of the runtime (a file is opened, and a large
//!   one read ahead, on tokio's blocking pool). [`Client::upload_many`] runs each upload as
//!   a task on the current tokio runtime (so uploads progress while the caller is busy);
//!   dropping its stream aborts them all, with the same effect.
//! - Runtime: every method works on either tokio runtime. A program that mostly uploads or
//!   downloads spends less CPU on the current-thread runtime (one thread drives every
//!   connection, files are read and written on blocking threads): 20,000 uploads of 4 KiB at
//!   concurrency 32 took 0.93–0.98 s of CPU, against 1.27–1.37 s on the two-worker runtime
//!   (BENCHMARKS.md); `kie` uses it.
//! - A panic in the caller's code that runs while a body is sent (a progress callback, a
//!   reader) is raised again by the upload method's future, with the same payload, once the
//!   attempt has stopped; it is not taken for a failed attempt, so it is never retried.
//!
//! ```no_run
//! # async fn run() -> Result<(), kie_async::Error> {
//! use kie_async::{Client, UploadOptions};
//! let client = Client::from_env()?;
//! let options = UploadOptions::new("videos").on_progress(|p| eprintln!("{}/{}", p.sent, p.total));
//! let uploaded = client.upload_file("holiday.mp4", &options).await?;
//! println!("{}", uploaded.download_url);
//! println!("{} credits left", client.credits().await?);
//! # Ok(()) }
//! ```
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
//! `reqwest` types are part of this crate's API — [`ClientBuilder::http_client`] takes a
//! `reqwest::Client`, and `reqwest` is re-exported — and so are [`kie_proto`]'s: a major
//! version of `reqwest` is a major version of this crate.
#![forbid(unsafe_code)]

mod body;
mod buffers;
mod client;
mod common;
mod jobs;
mod many;
mod run;
mod source;
mod tls;
mod transport;
mod upload;

pub use client::{
    Client, ClientBuilder, DEFAULT_ANSWER_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_LOW_SPEED,
    DEFAULT_READ_TIMEOUT, DEFAULT_SMALL_CALL_TIMEOUT, ENV_API_BASE_URL, ENV_API_KEY,
    ENV_UPLOAD_BASE_URL,
};
pub use many::CreatePacer;
pub use source::AsyncReadSeek;
pub use upload::{IntoBytes, UploadSource};

pub use kie_proto;
pub use kie_proto::{
    Api, ApiError, ApiKey, ClientConfig, Error, ErrorKind, IntegrityError, InvalidInput, Operation,
    Progress, ProgressCallback, RetryCause, RetryPolicy, TimeoutReason, TlsFailure, TlsRoots,
    TransportFailure, UploadEndpoint, UploadOptions, UploadResult,
};
pub use reqwest;

/// The README's Rust snippets, compiled (and, where they need no network, run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
