//! `kie-tests`: a faithful local emulator of the KIE.AI File Upload API and Common API.
//!
//! The emulator is built from the written API spec (`kie-api.md`), not from the kie-rs
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

pub mod emulator;

pub use emulator::clock::Clock;
pub use emulator::faults::{Fault, FaultPlan};
pub use emulator::log::LoggedRequest;
pub use emulator::routes::{Host, Route};
pub use emulator::storage::{StorageMode, StoredFile};
pub use emulator::{
    DEFAULT_ACCOUNT_ID, DEFAULT_API_KEY, DEFAULT_TTL, DOWNLOAD_LINK_TTL, EXTERNAL_URL_MSG,
    Emulator, EmulatorBuilder, ErrorStyle, GENERATED_TTL,
};
