//! What a driver reports about one call through [`tracing`](https://docs.rs/tracing), with
//! the `tracing` feature; without it every method does nothing and costs nothing.
//!
//! One span per call, `kie.call`, with the operation (the endpoint's path), the endpoint's
//! host and the body's length; inside it one event per attempt, one per retry decision
//! (the reason, the wait and the server's `Retry-After`) and one for the outcome. Nothing
//! else is recorded: never the API key, a header, a body, or an answer (so never a signed
//! download link).

use std::time::{Duration, SystemTime};

use http::Request;

use crate::body::Body;
use crate::error::Error;
#[cfg(feature = "tracing")]
use crate::retry::Retryable as _;
use crate::retry::{AttemptFailure, RetryPolicy};

/// The trace of one call, made by a driver from the call's request before the first attempt.
///
/// ```
/// use kie_proto::{Api, ApiKey, CallTrace, GetCredits, Operation};
/// let request = GetCredits.to_request(&Api::new(ApiKey::new("sk-example")?))?;
/// let call = CallTrace::start(&request);
/// call.attempt(1);
/// // ... send, read, judge; on failure ask `call.after_failure(...)` instead of the policy ...
/// call.succeeded(1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct CallTrace {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl CallTrace {
    /// Opens the call's span: `operation` (the request path), `host`, `content_length`.
    pub fn start(request: &Request<Body>) -> CallTrace {
        #[cfg(not(feature = "tracing"))]
        let _ = request;
        CallTrace {
            #[cfg(feature = "tracing")]
            span: tracing::info_span!(
                "kie.call",
                operation = request.uri().path(),
                host = request.uri().host().unwrap_or_default(),
                content_length = request.body().len(),
            ),
        }
    }

    /// Attempt `attempt` (1 for the first) starts.
    pub fn attempt(&self, attempt: u32) {
        #[cfg(feature = "tracing")]
        tracing::debug!(parent: &self.span, attempt, "attempt");
        #[cfg(not(feature = "tracing"))]
        let _ = attempt;
    }

    /// [`RetryPolicy::after_failure_within`], reporting its decision: `retry` with the reason, the
    /// wait and the server's `Retry-After` (in milliseconds), or `failed` with the reason
    /// and the final error.
    #[allow(clippy::too_many_arguments)] // the policy's inputs, each a fact of this attempt
    pub fn after_failure(
        &self,
        policy: &RetryPolicy,
        attempt: u32,
        failure: AttemptFailure,
        can_resend: bool,
        random: f64,
        now: SystemTime,
        may_wait: impl FnOnce(Duration) -> bool,
    ) -> Result<Duration, Error> {
        #[cfg(feature = "tracing")]
        let (reason, retry_after) = (
            failure.reason(),
            failure.retry_after().map(|after| after.delay_from(now)),
        );
        let decision =
            policy.after_failure_within(attempt, failure, can_resend, random, now, may_wait);
        #[cfg(feature = "tracing")]
        match &decision {
            Ok(wait) => tracing::info!(
                parent: &self.span,
                attempt,
                reason,
                wait_ms = millis(*wait),
                retry_after_ms = retry_after.map(millis),
                "retry",
            ),
            Err(error) => tracing::info!(
                parent: &self.span,
                attempts = attempt,
                reason,
                error = %error,
                "failed",
            ),
        }
        decision
    }

    /// The call succeeded on attempt `attempt`.
    pub fn succeeded(&self, attempt: u32) {
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
