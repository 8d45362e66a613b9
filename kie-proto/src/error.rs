//! The one error type of both drivers. It lives here so that `kie-blocking` and `kie-async`
//! return the very same type, and code written against one works with the other.

use std::path::PathBuf;

use crate::api_error::ApiError;
use crate::body::ContentLengthMismatch;
use crate::digest::Digest;
use crate::failure::TransportFailure;
use crate::input::InvalidInput;
use crate::upload_result::UploadResult;

/// The service stored something other than what was sent. The upload itself "succeeded",
/// so the result is kept: the file can be inspected or overwritten by uploading again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrityError {
    /// The answer's `fileSize` differs from the number of content bytes sent.
    #[error(
        "KIE.AI reports {reported} bytes stored for an upload of {sent} bytes, so the stored file is not what was sent; upload it again"
    )]
    SizeMismatch {
        /// Content bytes sent (the file's size, not the larger base64 or multipart body).
        sent: u64,
        /// The answer's `fileSize`.
        reported: u64,
        /// The answer, as parsed.
        result: Box<UploadResult>,
    },
    /// The file downloaded back from `downloadUrl` differs from the content.
    #[error(
        "the file downloaded back from {url} is not what was sent ({received} instead of {sent}); upload it again"
    )]
    DownloadMismatch {
        /// The download URL.
        url: String,
        /// The content sent.
        sent: Digest,
        /// What was downloaded (when more bytes came than were sent, the bytes up to the
        /// first one too many: reading stopped there).
        received: Digest,
    },
    /// Downloading the stored file back was refused.
    #[error(
        "downloading the stored file back from {url} to verify it was answered HTTP {status}; the upload may be fine, check the URL or verify again later"
    )]
    DownloadRefused {
        /// The download URL.
        url: String,
        /// The HTTP status of the answer.
        status: u16,
    },
    /// The answer's `downloadUrl` is not an http(s) URL, so the file cannot be downloaded
    /// back.
    #[error(
        "the answer's downloadUrl {url:?} is not an http(s) URL, so the upload cannot be verified"
    )]
    DownloadUrlInvalid {
        /// The download URL.
        url: String,
    },
    /// A result download ended with fewer or more bytes than its `Content-Length` said.
    #[error(
        "the download of {url} brought {received} bytes where the server announced {announced}; download it again"
    )]
    DownloadLength {
        /// The download URL.
        url: String,
        /// The answer's `Content-Length`.
        announced: u64,
        /// The bytes received.
        received: u64,
    },
}

/// Everything that can go wrong in a driver call.
///
/// `Display` says what happened and what to do, once; the underlying cause (the client's
/// or the file system's own error) is reachable through
/// [`source()`](std::error::Error::source) and is not repeated in the text, so chained
/// reports (`anyhow`'s `{:#}`, `eyre`) read each cause once:
///
/// ```
/// use kie_proto::{Error, TransportFailure};
/// let error = Error::Transport {
///     kind: TransportFailure::Connect,
///     attempts: 4,
///     source: Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
/// };
/// assert_eq!(
///     error.to_string(),
///     "could not connect to KIE.AI after 4 attempts: check the network and the base URLs"
/// );
/// let cause = std::error::Error::source(&error).map(|e| e.to_string());
/// assert_eq!(cause.as_deref(), Some("connection refused"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The service (or the CDN or a proxy in front of it) refused or failed the request,
    /// after `attempts` attempts.
    #[error("{}", .error.with_attempts(*.attempts))]
    Api {
        /// The refusal.
        error: ApiError,
        /// Attempts made, the refused one included.
        attempts: u32,
    },
    /// An input broke an API rule; nothing was sent. (The rule is the message; there is no
    /// underlying cause.)
    #[error("invalid input, nothing was sent: {0}")]
    InvalidInput(InvalidInput),
    /// Reading the upload's source failed.
    #[error("cannot read {}", path.as_ref().map_or_else(|| "the upload source".to_owned(), |p| p.display().to_string()))]
    Io {
        /// The file, when the source is a path.
        path: Option<PathBuf>,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The source delivered more or fewer bytes than its declared length.
    #[error(transparent)]
    ContentLength(#[from] ContentLengthMismatch),
    /// The upload succeeded but the stored file is not what was sent: its reported size
    /// differs, or (with `verify_download`) the file downloaded back differs or could not
    /// be downloaded. Not retried.
    #[error(transparent)]
    Integrity(#[from] IntegrityError),
    /// No answer arrived: connecting, sending or receiving failed.
    #[error("{} after {attempts} attempt{s}: {}", kind.summary(), kind.advice(), s = if *.attempts == 1 { "" } else { "s" })]
    Transport {
        /// What failed.
        kind: TransportFailure,
        /// Attempts made, the failed one included.
        attempts: u32,
        /// The transport's own error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The client could not be built from its settings: the TLS library or the HTTP client
    /// refused them. Nothing was sent. (Settings that break an API rule — a base URL, a
    /// proxy URL, a certificate that is not DER — are [`Error::InvalidInput`].)
    #[error("the client cannot be built: {what}")]
    Config {
        /// What could not be set up.
        what: &'static str,
        /// The library's own error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A request that must not run twice (creating a paid task) failed in a way that does not
    /// prove it was not received — a timeout or a reset once it may have arrived, a 5xx —
    /// so the task may exist. It was **not** sent again. Look for the task (the callback,
    /// the KIE.AI logs) before creating it again. `source` is the refusal ([`ApiError`]) or
    /// the transport's own error; `transport` says what failed when no answer came.
    #[error(
        "{} after {attempts} attempt{s}; the request may have reached KIE.AI, so the task may exist and was not created again: check the callback or https://kie.ai/logs before creating it again",
        .transport.map_or_else(|| "KIE.AI answered with a server error".to_owned(), |kind| kind.summary()),
        s = if *.attempts == 1 { "" } else { "s" }
    )]
    MaybeCreated {
        /// Attempts made, the failed one included.
        attempts: u32,
        /// What failed, when no answer arrived.
        transport: Option<TransportFailure>,
        /// The refusal ([`ApiError`]) or the transport's own error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A wait for a task stopped without its outcome: `reason`. The task (`task`, printed
    /// as `family:id`) was not cancelled; unless `may_finish` is false (the service does
    /// not know it), it may still finish — query it again.
    #[error(
        "stopped waiting for task {task}: {reason}{}",
        if *.may_finish { "; the task may still finish: query it again with its id" } else { "" }
    )]
    TaskWait {
        /// The task, `family:id`.
        task: String,
        /// Why the wait stopped.
        reason: String,
        /// Whether the task may still finish.
        may_finish: bool,
    },
    /// A retryable failure of an upload from a reader that cannot be rewound: the bytes
    /// already sent cannot be sent again, so the upload was not retried after `attempts`
    /// attempts. The failure is the `source`: an [`ApiError`] (also through
    /// [`api_error`](Error::api_error)) or, when `transport` says what failed, the
    /// transport's own error.
    #[error(
        "{} after {attempts} attempt{s}, and was not retried because the reader cannot be rewound (upload a file or bytes to get retries)",
        .transport.map_or_else(|| "KIE.AI refused the upload".to_owned(), |kind| kind.summary()),
        s = if *.attempts == 1 { "" } else { "s" }
    )]
    NotRewindable {
        /// Attempts made, the failed one included.
        attempts: u32,
        /// What failed, when no answer arrived.
        transport: Option<TransportFailure>,
        /// The refusal ([`ApiError`]) or the transport's own error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl From<InvalidInput> for Error {
    fn from(input: InvalidInput) -> Self {
        Error::InvalidInput(input)
    }
}

impl Error {
    /// The [`ApiError`], when the service answered with a refusal.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api { error, .. } => Some(error),
            Error::NotRewindable { source, .. } | Error::MaybeCreated { source, .. } => {
                source.downcast_ref::<ApiError>()
            }
            _ => None,
        }
    }

    /// The number of attempts made, when the error ended a call that sent something
    /// (an API refusal or a transport failure, also inside [`Error::NotRewindable`]).
    pub fn attempts(&self) -> Option<u32> {
        match self {
            Error::Api { attempts, .. }
            | Error::Transport { attempts, .. }
            | Error::NotRewindable { attempts, .. }
            | Error::MaybeCreated { attempts, .. } => Some(*attempts),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let err = Error::Io {
            path: Some("/tmp/missing.png".into()),
            source: std::io::ErrorKind::NotFound.into(),
        };
        assert_eq!(err.to_string(), "cannot read /tmp/missing.png");
        assert_eq!(
            chain(&err),
            ["cannot read /tmp/missing.png", "entity not found"]
        );
        let err = Error::Transport {
            kind: TransportFailure::Timeout,
            attempts: 3,
            source: "read timed out".into(),
        };
        assert_eq!(
            err.to_string(),
            "KIE.AI did not answer in time after 3 attempts: raise the timeouts for large files"
        );
        assert_eq!(chain(&err)[1], "read timed out");
        let err = Error::from(InvalidInput::UploadPathEmpty);
        assert_eq!(
            err.to_string(),
            "invalid input, nothing was sent: uploadPath must not be empty"
        );
        assert!(std::error::Error::source(&err).is_none());
        let err = Error::NotRewindable {
            attempts: 1,
            transport: Some(TransportFailure::ConnectionLost),
            source: "connection reset".into(),
        };
        assert_eq!(
            chain(&err),
            [
                "the connection to KIE.AI broke before an answer arrived after 1 attempt, and was not retried because the reader cannot be rewound (upload a file or bytes to get retries)",
                "connection reset",
            ]
        );
        assert_eq!(err.attempts(), Some(1));
        let refusal = crate::ApiError::new(
            http::StatusCode::SERVICE_UNAVAILABLE,
            crate::ErrorKind::Server,
        );
        let err = Error::NotRewindable {
            attempts: 2,
            transport: None,
            source: Box::new(refusal),
        };
        assert_eq!(
            chain(&err)[0],
            "KIE.AI refused the upload after 2 attempts, and was not retried because the reader cannot be rewound (upload a file or bytes to get retries)"
        );
        assert_eq!(err.api_error().map(|e| e.status.as_u16()), Some(503));
    }

    /// Every message of a chain, outermost first.
    fn chain(error: &dyn std::error::Error) -> Vec<String> {
        let mut messages = vec![error.to_string()];
        let mut next = error.source();
        while let Some(cause) = next {
            messages.push(cause.to_string());
            next = cause.source();
        }
        messages
    }

    /// The convention: no error's `Display` repeats what its `source()` says.
    #[test]
    fn no_display_repeats_its_source() {
        let cause = "the distinctive cause 1234";
        let errors = [
            Error::Io {
                path: None,
                source: std::io::Error::other(cause),
            },
            Error::Transport {
                kind: TransportFailure::Tls(crate::TlsFailure::Expired),
                attempts: 1,
                source: cause.into(),
            },
            Error::NotRewindable {
                attempts: 1,
                transport: Some(TransportFailure::Timeout),
                source: cause.into(),
            },
        ];
        for error in errors {
            let messages = chain(&error);
            for (i, message) in messages.iter().enumerate() {
                for later in &messages[i + 1..] {
                    assert!(
                        !message.contains(later.as_str()),
                        "{message:?} repeats {later:?}"
                    );
                }
            }
            assert_eq!(messages.last().map(String::as_str), Some(cause));
        }
    }
}
