//! What a driver reports about one call through [`tracing`](https://docs.rs/tracing), with
//! the `tracing` feature; without it every method does nothing and costs nothing.
//!
//! One span per call, `kie.call`, with the operation (the endpoint's path), the endpoint's
//! host and the body's length; inside it one event per attempt, one per retry decision
//! (the reason, the wait and the server's `Retry-After`) and one for the outcome. Nothing
//! else is recorded: never the API key, a header, a body, or an answer (so never a signed
//! download link).

use std::time::Duration;

use crate::error::Error;

/// The trace of one call, kept by its [`Call`](crate::driver::Call).
#[derive(Debug, Clone)]
pub(crate) struct CallTrace {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl CallTrace {
    /// Opens the call's span: `operation` (the request path), `host`, `content_length`.
    pub(crate) fn start(uri: &http::Uri, content_length: u64) -> CallTrace {
        #[cfg(not(feature = "tracing"))]
        let _ = (uri, content_length);
        CallTrace {
            #[cfg(feature = "tracing")]
            span: tracing::info_span!(
                "kie.call",
                operation = uri.path(),
                host = uri.host().unwrap_or_default(),
                content_length,
            ),
        }
    }

    /// Attempt `attempt` (1 for the first) starts.
    pub(crate) fn attempt(&self, attempt: u32) {
        #[cfg(feature = "tracing")]
        tracing::debug!(parent: &self.span, attempt, "attempt");
        #[cfg(not(feature = "tracing"))]
        let _ = attempt;
    }

    /// A retry after attempt `attempt` failed for `reason`: the wait and the server's
    /// `Retry-After` (in milliseconds).
    pub(crate) fn retry(
        &self,
        attempt: u32,
        reason: &str,
        wait: Duration,
        retry_after: Option<Duration>,
    ) {
        #[cfg(feature = "tracing")]
        tracing::info!(
            parent: &self.span,
            attempt,
            reason,
            wait_ms = millis(wait),
            retry_after_ms = retry_after.map(millis),
            "retry",
        );
        #[cfg(not(feature = "tracing"))]
        let _ = (attempt, reason, wait, retry_after);
    }

    /// The call failed for good after `attempts` attempts, for `reason`, with `error`.
    pub(crate) fn failed(&self, attempts: u32, reason: &str, error: &Error) {
        #[cfg(feature = "tracing")]
        tracing::info!(parent: &self.span, attempts, reason, error = %error, "failed");
        #[cfg(not(feature = "tracing"))]
        let _ = (attempts, reason, error);
    }

    /// The call succeeded on attempt `attempt`.
    pub(crate) fn succeeded(&self, attempt: u32) {
        #[cfg(feature = "tracing")]
        tracing::debug!(parent: &self.span, attempts = attempt, "succeeded");
        #[cfg(not(feature = "tracing"))]
        let _ = attempt;
    }
}

#[cfg(feature = "tracing")]
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
