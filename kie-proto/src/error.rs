//! The one error type of both drivers. It lives here so that `kie-blocking` and `kie-async`
//! return the very same type, and code written against one works with the other.

use std::fmt;
use std::path::PathBuf;

use crate::body::ContentLengthMismatch;
use crate::input::InvalidInput;
use crate::integrity::IntegrityError;
use crate::response::ApiError;
use crate::retry::TransportFailure;

/// Everything that can go wrong in a driver call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The service (or the CDN or a proxy in front of it) refused or failed the request.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// An input broke an API rule; nothing was sent.
    #[error("invalid input, nothing was sent: {0}")]
    InvalidInput(#[from] InvalidInput),
    /// Reading the upload's source failed.
    #[error("cannot read {}: {source}", path.as_ref().map_or_else(|| "the upload source".to_owned(), |p| p.display().to_string()))]
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
    #[error("{kind} after {attempts} attempt{s}: {source}", s = if *.attempts == 1 { "" } else { "s" })]
    Transport {
        /// What failed.
        kind: TransportFailure,
        /// Attempts made, the failed one included.
        attempts: u32,
        /// The transport's own error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A retryable failure of an upload from a reader that cannot be rewound: the bytes
    /// already sent cannot be sent again, so the upload was not retried.
    #[error(
        "{source}; not retried because the reader cannot be rewound (upload a file or bytes to get retries)"
    )]
    NotRewindable {
        /// The failure.
        source: Box<Error>,
    },
}

impl Error {
    /// The [`ApiError`], when the service answered with a refusal.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(error) => Some(error),
            Error::NotRewindable { source } => source.api_error(),
            _ => None,
        }
    }
}

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportFailure::Connect => {
                "could not connect to KIE.AI (check the network and the base URLs)"
            }
            TransportFailure::ConnectionLost => {
                "the connection to KIE.AI broke before an answer arrived"
            }
            TransportFailure::Timeout => {
                "KIE.AI did not answer in time (raise the timeouts for large files)"
            }
            TransportFailure::Tls => {
                "the TLS handshake with KIE.AI failed (check the system clock and any proxy)"
            }
            TransportFailure::Unsendable => "the request could not be sent",
            TransportFailure::Redirected => {
                "the HTTP client followed a redirect, so the answer is not KIE.AI's (configure it not to follow redirects)"
            }
        })
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
        assert_eq!(
            err.to_string(),
            "cannot read /tmp/missing.png: entity not found"
        );
        let err = Error::Transport {
            kind: TransportFailure::Timeout,
            attempts: 3,
            source: "read timed out".into(),
        };
        assert_eq!(
            err.to_string(),
            "KIE.AI did not answer in time (raise the timeouts for large files) after 3 attempts: read timed out"
        );
        let err = Error::from(InvalidInput::UploadPathEmpty);
        assert_eq!(
            err.to_string(),
            "invalid input, nothing was sent: uploadPath must not be empty"
        );
    }
}
