//! Sans-IO protocol core of the KIE.AI File Upload API and Common API.
//!
//! This crate knows every request the API accepts and every answer it gives, and does no
//! I/O: no sockets, files, clocks, threads or sleeps. It builds [`http::Request`] values and
//! reads [`http::Response`] bytes; a *driver* moves the bytes. Two drivers exist —
//! `kie-blocking` (ureq) and `kie-async` (reqwest + tokio) — and any other transport is a
//! page of code (see `examples/custom_transport.rs`, an upload over a bare `TcpStream`).
//!
//! # Scope
//! - The five operations, one type each: [`Base64Upload`], [`StreamUpload`], [`UrlUpload`],
//!   [`GetCredits`], [`GetDownloadUrl`], all implementing [`Operation`].
//! - Framed bodies ([`FramedBody`]): head, content streamed by the driver (raw, or base64
//!   through the incremental [`driver::Base64Encoder`]), tail — exact `Content-Length`,
//!   constant memory for files of any size.
//! - One error type for every refusal, [`ApiError`], with its [`ErrorKind`], retryability and
//!   `Retry-After`; the pure [`RetryPolicy`].
//! - Validated inputs ([`UploadPath`], [`FileName`], [`HttpUrl`], [`MimeType`], [`ApiKey`]):
//!   bad input is an [`InvalidInput`] before anything is sent.
//! - What both drivers share, so they cannot drift apart: [`UploadOptions`] and the
//!   [`UploadPlan`] settled from it before the first attempt, [`ClientConfig`] (key, base
//!   URLs, [`Timeouts`], retry policy, environment variables), and the one driver [`Error`]
//!   type.
//! - What only a driver needs, in [`driver`]: one call as pure state ([`driver::Call`]:
//!   retries, the time budget, progress, idempotency, an outer deadline), failure facts,
//!   encoders, interim answers, downloads, proxies by the environment, OS random numbers.
//! - Generation tasks, in [`task`]: a [`task::TaskRef`] that carries its family (Market,
//!   Veo 3.1), each family's creates ([`task::CreateTask`], [`task::veo::VeoGenerate`],
//!   [`task::veo::VeoExtend`], or [`task::NewTask`] chosen by the model — none
//!   idempotent), the family-neutral read ([`task::GetTask`]) into a tolerant
//!   [`task::TaskRecord`] and its common [`task::TaskView`], the pure [`task::PollPolicy`]
//!   (each family's default) and [`task::CreateWindow`], callbacks
//!   ([`task::TaskCallback`]), Veo's 1080p/4K upgrades ([`task::veo::VeoGet1080p`],
//!   [`task::veo::Veo1080pWait`]) and the result-download rule ([`task::ResultDownload`]).
//! - MIME detection ([`detect_mime`]), `webhook` signature verification, and reading
//!   `base64Data` back ([`parse_data_url`], [`decode_base64_data`]) for emulators and tests.
//!
//! # Features
//! `url` and `webhook` are on by default; the drivers turn them off unless their user asks
//! for them.
//! - `url`: URLs (`fileUrl`, download-url, base URLs) are parsed and serialised by the
//!   WHATWG URL standard through the `url` crate, internationalised (IDNA) hosts included.
//!   Without it a small strict parser takes ASCII URLs — scheme and host lowercased, a
//!   default port dropped, an empty path made `/`, everything else sent as written — and
//!   refuses the rest ([`InvalidInput::UrlInvalid`] says why).
//! - `webhook`: the `webhook` module (HMAC-SHA256 through `hmac` and `sha2`).
//! - `tracing` (off here, on in the drivers): a [`driver::Call`] reports its attempts, retry
//!   decisions and outcome through `tracing`.
//! - `rustls` (off here, on in the drivers): `driver::tls_failure`, what a rustls error
//!   says about a handshake ([`TlsFailure`]), for a transport built on rustls.
//!
//! # A complete request/response cycle
//! ```
//! use kie_proto::{Api, ApiKey, Body, ContentStart, Operation, SourceKind, UploadOptions};
//!
//! let api = Api::new(ApiKey::new("sk-example")?).with_upload_base_url("http://127.0.0.1:8080")?;
//! let content = b"hello, KIE";
//!
//! // Settle name and MIME type once (a retry reuses them), then build the request.
//! let start = ContentStart::new(SourceKind::Bytes, content, content.len() as u64);
//! let plan = UploadOptions::new("documents/uploads").file_name("hello.txt").plan(start, 42)?;
//! let upload = plan.upload();
//! let request = upload.to_request(&api)?;
//! assert_eq!(request.uri(), "http://127.0.0.1:8080/api/file-stream-upload");
//!
//! // A driver streams the body: head, the content through the encoder, tail.
//! let Body::Framed(body) = request.body() else { unreachable!() };
//! let mut wire = Vec::new();
//! let mut encoder = body.encoder();
//! encoder.write_head(&mut wire);
//! for chunk in content.chunks(4) {
//!     encoder.encode(chunk, &mut wire)?;
//! }
//! encoder.finish(&mut wire)?;
//! assert_eq!(wire.len() as u64, body.len());
//!
//! // ... sends `wire`, reads the answer ...
//! let answer = http::Response::new(&br#"{"success":true,"code":200,"msg":"File uploaded successfully",
//!     "data":{"fileName":"hello.txt","filePath":"kieai/1/documents/uploads/hello.txt",
//!     "downloadUrl":"https://tempfile.redpandaai.co/kieai/1/documents/uploads/hello.txt",
//!     "fileSize":10,"mimeType":"text/plain","uploadedAt":"2025-01-01T12:00:00.000Z"}}"#[..]);
//! let result = upload.parse_response(answer)?;
//! assert_eq!(result.download_url, "https://tempfile.redpandaai.co/kieai/1/documents/uploads/hello.txt");
//!
//! // Refusals are typed, whichever error style the service uses.
//! let refusal = http::Response::new(&br#"{"code":401,"msg":"You do not have access permissions"}"#[..]);
//! let error = upload.parse_response(refusal).unwrap_err();
//! assert_eq!(error.kind, kie_proto::ErrorKind::Unauthorized);
//! assert!(!error.is_retryable());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod api;
mod api_error;
mod body;
mod common;
mod config;
mod content;
mod data_url;
mod deadline;
mod digest;
mod download;
pub mod driver;
mod envelope;
mod error;
mod failure;
mod input;
mod mime;
mod multipart;
mod operation;
mod options;
pub mod proxy;
mod random;
mod retry;
pub mod task;
mod trace;
mod upload;
mod upload_result;
mod url_check;
#[cfg(feature = "webhook")]
pub mod webhook;

pub use http;
pub use serde_json;

pub use api::{
    Api, ApiKey, BaseUrl, DEFAULT_API_BASE_URL, DEFAULT_UPLOAD_BASE_URL, DEFAULT_USER_AGENT,
};
pub use api_error::{ApiError, ErrorKind, RetryAfter};
pub use body::{Body, ContentEncoding, ContentLengthMismatch, FramedBody};
pub use common::{GetCredits, GetDownloadUrl};
pub use config::{ClientConfig, ENV_API_BASE_URL, ENV_API_KEY, ENV_UPLOAD_BASE_URL, TlsRoots};
pub use content::{ContentStart, SourceKind};
pub use data_url::{decode_base64_data, parse_data_url};
pub use deadline::{
    DEFAULT_ANSWER_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_LOW_SPEED, DEFAULT_READ_TIMEOUT,
    DEFAULT_SMALL_CALL_TIMEOUT, LowSpeed, TimeoutReason, Timeouts,
};
pub use digest::Digest;
pub use envelope::parse_envelope;
pub use error::{Error, IntegrityError};
pub use failure::{TlsFailure, TransportFailure};
pub use input::{FileName, HttpUrl, InvalidInput, MimeType, UploadPath};
pub use mime::{detect_mime, extension_for_mime};
pub use multipart::Boundary;
pub use operation::Operation;
pub use options::{Progress, ProgressCallback, RetryCause, UploadOptions, UploadPlan};
pub use proxy::{ProxySetting, ProxyUrl};
pub use retry::{RetryDecision, RetryPolicy};
pub use upload::{
    Base64Form, Base64Upload, ContentUpload, StreamUpload, UploadEndpoint, UrlUpload,
};
pub use upload_result::UploadResult;

/// The README's Rust snippets, compiled (and, where they need no network, run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
