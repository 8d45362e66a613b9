//! When to try again, decided without clocks or randomness of its own: the caller passes the
//! attempt number, the failure, a random number and the current time; the policy answers
//! "wait this long, then retry" or "give up". Drivers only sleep.

use std::time::{Duration, SystemTime};

use crate::response::{ApiError, RetryAfter};

/// A failure the retry policy can judge.
pub trait Retryable {
    /// Whether the same request may succeed if sent again.
    fn is_retryable(&self) -> bool;
    /// What the server asked for, if anything.
    fn retry_after(&self) -> Option<RetryAfter> {
        None
    }
}

impl Retryable for ApiError {
    fn is_retryable(&self) -> bool {
        ApiError::is_retryable(self)
    }
    fn retry_after(&self) -> Option<RetryAfter> {
        self.retry_after
    }
}

/// How a request failed to get an answer. Drivers map their transport errors to these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportFailure {
    /// No connection could be made (refused, DNS, unreachable).
    Connect,
    /// The connection broke before a complete answer arrived.
    ConnectionLost,
    /// A timeout fired (connect, idle read or overall).
    Timeout,
    /// The TLS handshake failed: retrying does not help.
    Tls,
    /// The request could not be sent at all (bad URL, unsupported by the transport).
    Unsendable,
    /// The transport followed a redirect, so the answer is not the endpoint's own: a
    /// caller-supplied HTTP client configured to follow redirects. Never retried.
    Redirected,
}

impl Retryable for TransportFailure {
    fn is_retryable(&self) -> bool {
        matches!(
            self,
            TransportFailure::Connect
                | TransportFailure::ConnectionLost
                | TransportFailure::Timeout
        )
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Sleep for this long, then send the request again.
    RetryAfter(Duration),
    /// Stop and report the failure.
    GiveUp,
}

/// Exponential backoff with full jitter, capped, with a maximum number of attempts; honours
/// `Retry-After` up to a cap.
///
/// The delay before retry *n* (1-based) is `random × min(max_delay, base_delay × 2ⁿ⁻¹)`,
/// or the server's `Retry-After` when it sent one (never more than `max_retry_after`; if the
/// server asks for longer, the policy gives up instead of waiting).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use kie_proto::{RetryDecision, RetryPolicy, TransportFailure};
/// let policy = RetryPolicy::default();
/// let now = SystemTime::UNIX_EPOCH;
/// assert_eq!(policy.decide(1, &TransportFailure::Timeout, 0.5, now), RetryDecision::RetryAfter(Duration::from_millis(250)));
/// assert_eq!(policy.decide(2, &TransportFailure::Timeout, 0.5, now), RetryDecision::RetryAfter(Duration::from_millis(500)));
/// assert_eq!(policy.decide(4, &TransportFailure::Timeout, 0.5, now), RetryDecision::GiveUp);
/// assert_eq!(policy.decide(1, &TransportFailure::Tls, 0.5, now), RetryDecision::GiveUp);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, 500 ms base delay, 30 s cap, `Retry-After` honoured up to 60 s.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Total attempts, the first included (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The backoff before the first retry, before jitter.
    pub fn with_base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The largest backoff, before jitter.
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The longest `Retry-After` the policy waits for.
    pub fn with_max_retry_after(mut self, delay: Duration) -> Self {
        self.max_retry_after = delay;
        self
    }

    /// Total attempts allowed.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Decides after attempt number `attempt` (1 for the first) failed with `failure`.
    /// `random` is uniform in `[0, 1)` (values outside are clamped); `now` resolves a
    /// `Retry-After` date.
    pub fn decide(
        &self,
        attempt: u32,
        failure: &dyn Retryable,
        random: f64,
        now: SystemTime,
    ) -> RetryDecision {
        if attempt >= self.max_attempts || !failure.is_retryable() {
            return RetryDecision::GiveUp;
        }
        if let Some(retry_after) = failure.retry_after() {
            let wait = retry_after.delay_from(now);
            return if wait <= self.max_retry_after {
                RetryDecision::RetryAfter(wait)
            } else {
                RetryDecision::GiveUp
            };
        }
        let exponent = attempt.saturating_sub(1).min(31);
        let ceiling = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let random = if random.is_nan() {
            0.0
        } else {
            random.clamp(0.0, 1.0)
        };
        // `Duration::mul_f64` panics when the product rounds past `Duration::MAX` (a ceiling
        // near it and `random` near 1); fall back to the ceiling itself.
        let wait = Duration::try_from_secs_f64(ceiling.as_secs_f64() * random).unwrap_or(ceiling);
        RetryDecision::RetryAfter(wait.min(ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::ErrorKind;

    fn api_error(kind: ErrorKind, status: u16, retry_after: Option<RetryAfter>) -> ApiError {
        ApiError {
            status: http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK),
            code: None,
            message: None,
            kind,
            retry_after,
            body_excerpt: None,
        }
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let policy = RetryPolicy::default().with_max_attempts(40);
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(
            policy.decide(1, &TransportFailure::Connect, 0.0, now),
            RetryDecision::RetryAfter(Duration::ZERO)
        );
        assert_eq!(
            policy.decide(3, &TransportFailure::Connect, 1.0, now),
            RetryDecision::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(
            policy.decide(39, &TransportFailure::Connect, 1.0, now),
            RetryDecision::RetryAfter(Duration::from_secs(30))
        );
        assert_eq!(
            policy.decide(2, &TransportFailure::Connect, f64::NAN, now),
            RetryDecision::RetryAfter(Duration::ZERO)
        );
    }

    #[test]
    fn huge_delays_do_not_panic() {
        let policy = RetryPolicy::default()
            .with_base_delay(Duration::MAX)
            .with_max_delay(Duration::MAX);
        let now = SystemTime::UNIX_EPOCH;
        for random in [0.0, 0.5, 0.999_999_999, 1.0, 2.0] {
            let RetryDecision::RetryAfter(wait) =
                policy.decide(1, &TransportFailure::Timeout, random, now)
            else {
                panic!("a retryable failure on attempt 1 must be retried");
            };
            assert!(wait <= Duration::MAX);
        }
        assert_eq!(
            policy.decide(1, &TransportFailure::Timeout, 1.0, now),
            RetryDecision::RetryAfter(Duration::MAX)
        );
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let policy = RetryPolicy::default();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let limited = api_error(
            ErrorKind::RateLimited,
            429,
            Some(RetryAfter::Delay(Duration::from_secs(3))),
        );
        assert_eq!(
            policy.decide(1, &limited, 0.9, now),
            RetryDecision::RetryAfter(Duration::from_secs(3))
        );
        let dated = api_error(
            ErrorKind::RateLimited,
            200,
            Some(RetryAfter::At(now + Duration::from_secs(7))),
        );
        assert_eq!(
            policy.decide(1, &dated, 0.9, now),
            RetryDecision::RetryAfter(Duration::from_secs(7))
        );
        let too_long = api_error(
            ErrorKind::Maintenance,
            455,
            Some(RetryAfter::Delay(Duration::from_secs(3600))),
        );
        assert_eq!(policy.decide(1, &too_long, 0.9, now), RetryDecision::GiveUp);
        let fatal = api_error(
            ErrorKind::Unauthorized,
            401,
            Some(RetryAfter::Delay(Duration::from_secs(1))),
        );
        assert_eq!(policy.decide(1, &fatal, 0.9, now), RetryDecision::GiveUp);
        assert_eq!(
            RetryPolicy::never().decide(1, &limited, 0.9, now),
            RetryDecision::GiveUp
        );
    }
}
