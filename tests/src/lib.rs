//! `kie-tests`: a faithful local emulator of the KIE.AI File Upload API and Common API.
//!
//! The emulator is built from the written API spec (`tests/spec/kie-api.md`), not from the kie-rs
//! SDK, so the two cannot agree on a mistake. It is a real HTTP/1.1 server on loopback
//! with three listeners, one per host of the real service:
//!
//! | host | routes |
//! |---|---|
//! | upload ([`Emulator::upload_base_url`]) | `POST /api/file-base64-upload`, `POST /api/file-stream-upload`, `POST /api/file-url-upload` |
//! | api ([`Emulator::api_base_url`]) | `GET /api/v1/chat/credit`, `POST /api/v1/common/download-url` |
//! | files ([`Emulator::files_base_url`]) | `GET /<filePath>` of uploads, generated files and download links |
//!
//! ```
//! use kie_tests::{Emulator, Fault, Route};
//!
//! let emu = Emulator::start();
//! emu.faults().push(Route::Credits, Fault::rate_limited(Some(2)));
//! // ... point a client at emu.upload_base_url() / emu.api_base_url() with emu.api_key()
//! assert_eq!(emu.faults().remaining(Route::Credits), 1);
//! ```
//!
//! See [`Emulator`] for the in-process API and the `kie-emulator` binary for a
//! standalone server.
//!
//! # Behaviour where the spec leaves a choice
//!
//! - Order of checks: fault plan, then the user-agent rule (when enabled), then the
//!   method (405 on upload routes), then authentication, then validation.
//! - Errors produced by route handlers follow the host's [`ErrorStyle`]; an unknown path
//!   is always a real HTTP 404 with a JSON body (`{"code":404,...}`, plus
//!   `"success":false` on the upload host), as observed for `GET https://api.kie.ai/`.
//! - A wrong method on an api-host route is body code 405 in the api host's style.
//! - Upload validation failures are 400 with the upload envelope. Empty strings and
//!   `null` count as absent (`"Missing required parameter: <name>"`); a non-string value
//!   is `"Invalid parameter: <name> must be a string"`.
//! - download-url: a non-JSON content type or body, a missing/empty/non-string `url`,
//!   and any URL not issued by [`Emulator::issue_generated_file`] (including upload
//!   `downloadUrl`s) are all code **422** (never 400: 400 is not in that endpoint's
//!   code enum).
//! - URL upload fetch failures (refused, timeout, non-2xx, over the size cap) are 400
//!   `"File download failed: ..."`.
//! - When `fileName` is absent the stored name is random (hex) with the extension of the
//!   sniffed MIME type; for URL uploads the URL's last path segment is used when it is a
//!   valid file name. MIME: magic bytes, then the name's extension, then
//!   `application/octet-stream`.
//! - Files host: no authentication; `/` answers 403, unknown or expired paths 404, and
//!   uploads kept in [`StorageMode::Discard`] 404 (their bytes were not kept).
//! - Faults run before everything else (like a proxy): a canned response consumes the
//!   fault even for an unauthenticated request. Requests whose connection was dropped are
//!   logged with `response_status == 0`.

pub mod emulator;
pub mod hostile;

pub use emulator::clock::Clock;
pub use emulator::faults::{Fault, FaultPlan};
pub use emulator::log::LoggedRequest;
pub use emulator::routes::{Host, Route};
pub use emulator::storage::{StorageMode, StoredFile};
pub use emulator::{
    DEFAULT_ACCOUNT_ID, DEFAULT_API_KEY, DEFAULT_TTL, DOWNLOAD_LINK_TTL, EXTERNAL_URL_MSG,
    Emulator, EmulatorBuilder, ErrorStyle, GENERATED_TTL,
};

/// The README's Rust snippets, compiled (and, where they need no network, run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
