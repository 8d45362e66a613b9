//! What only a driver needs: the pieces a transport uses to move bytes by kie-proto's
//! rules. A user of `kie-blocking` or `kie-async` never touches them; someone writing a
//! transport of their own (see `examples/custom_transport.rs`) does.
//!
//! - One call as pure state: [`Call`], fed [`Moment`]s, handing out [`Attempt`]s, answering
//!   [`Next`]; the failures it judges ([`AttemptFailure`], [`Retryable`]) and the facts a
//!   driver finds in its client's error ([`FailureFacts`]; a rustls error's with
//!   `tls_failure`, feature `rustls`).
//! - The time budget of an attempt ([`CallBudget`], [`CallKind`]).
//! - Streaming a framed body ([`FrameEncoder`], [`Base64Encoder`]) and reporting its
//!   progress ([`ProgressReporter`]); sniffing the content's start ([`SNIFF_LEN`],
//!   [`sniff_len`]).
//! - Reading answers: at most [`MAX_RESPONSE_BODY`] bytes; interim (1xx) answers
//!   ([`next_answer_head`], [`skip_interim`], [`check_final_status`]).
//! - Downloads of stored files ([`download_request`], [`DownloadCheck`], [`ContentDigest`]).
//! - Proxies by the environment's rules ([`ProxyRules`]); the OS random numbers the policy
//!   and file names take ([`random_u64`], [`random_unit`]).

mod call;
mod interim;

pub use call::{Attempt, Call, Moment, Next};
pub use interim::{AnswerHead, check_final_status, next_answer_head, skip_interim};

pub use crate::body::{Base64Encoder, FrameEncoder};
pub use crate::deadline::{CallBudget, CallKind};
pub use crate::digest::ContentDigest;
pub use crate::download::{DownloadCheck, DownloadSink, VerifySink, download_request};
pub use crate::envelope::MAX_RESPONSE_BODY;
pub use crate::failure::FailureFacts;
#[cfg(feature = "rustls")]
pub use crate::failure::tls_failure;
pub use crate::mime::{SNIFF_LEN, sniff_len};
pub use crate::options::ProgressReporter;
pub use crate::proxy::ProxyRules;
pub use crate::random::{random_u64, random_unit};
pub use crate::retry::{AttemptFailure, Retryable};
