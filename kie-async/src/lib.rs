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
//! - TLS is rustls (through reqwest's `rustls` feature) with the aws-lc-rs crypto provider
//!   and the platform's certificate verifier (`rustls-platform-verifier`); no OpenSSL.
//!   Building aws-lc-rs needs a C compiler.
//! - Cancellation: dropping an upload future closes its file at once and aborts the
//!   request; a single upload spawns no task (only the open of a file runs on tokio's
//!   blocking pool, before the request). [`Client::upload_many`] runs each upload as a
//!   task on the current tokio runtime (so uploads progress while the caller is busy);
//!   dropping its stream aborts them all, with the same effect.
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
#![forbid(unsafe_code)]

mod body;
mod client;
mod many;
mod transport;

pub use body::AsyncReadSeek;
pub use client::{
    Client, ClientBuilder, DEFAULT_ANSWER_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_LOW_SPEED,
    DEFAULT_READ_TIMEOUT, DEFAULT_SMALL_CALL_TIMEOUT, ENV_API_BASE_URL, ENV_API_KEY,
    ENV_UPLOAD_BASE_URL, IntoBytes,
};
pub use many::UploadSource;

pub use kie_proto;
pub use kie_proto::{
    Api, ApiError, ApiKey, Error, ErrorKind, InvalidInput, Operation, Progress, ProgressCallback,
    RetryPolicy, TimeoutReason, TransportFailure, UploadOptions, UploadResult,
};
pub use reqwest;
