//! When to try again, decided without clocks or randomness of its own: the caller passes the
//! attempt number, the failure, a random number and the current time; the policy answers
//! "wait this long, then retry" or "give up". Drivers only sleep.

use std::time::{Duration, SystemTime};

use crate::api_error::{ApiError, RetryAfter};
use crate::error::Error;
use crate::failure::TransportFailure;

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

impl Retryable for TransportFailure {
    fn is_retryable(&self) -> bool {
        matches!(
            self,
            TransportFailure::Connect
                | TransportFailure::ConnectTimeout
                | TransportFailure::ProxyUnreachable
                | TransportFailure::ConnectionLost
                | TransportFailure::Timeout
        )
    }
}

/// Why one attempt failed, as a driver reports it to [`Call::failed`](crate::driver::Call::failed).
#[derive(Debug)]
#[non_exhaustive]
pub enum AttemptFailure {
    /// The service answered with a refusal (maybe retryable).
    Api(ApiError),
    /// No answer arrived (maybe retryable, depending on `kind`).
    Transport {
        /// What failed.
        kind: TransportFailure,
        /// The transport's own error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Not worth another attempt: reading the source failed, or its length was wrong. Never
    /// retried, reported as is.
    Fatal(Error),
}

impl Retryable for AttemptFailure {
    fn is_retryable(&self) -> bool {
        match self {
            AttemptFailure::Api(error) => error.is_retryable(),
            AttemptFailure::Transport { kind, .. } => kind.is_retryable(),
            AttemptFailure::Fatal(_) => false,
        }
    }

    fn retry_after(&self) -> Option<RetryAfter> {
        match self {
            AttemptFailure::Api(error) => error.retry_after,
            AttemptFailure::Transport { .. } | AttemptFailure::Fatal(_) => None,
        }
    }
}

impl AttemptFailure {
    /// What failed, in a few words for logs and traces (never the key or a body): the
    /// refusal's [`ErrorKind`](crate::ErrorKind) and HTTP status, the [`TransportFailure`],
    /// or `fatal`.
    ///
    /// ```
    /// use kie_proto::{ApiError, ErrorKind, TransportFailure, http::StatusCode};
    /// use kie_proto::driver::AttemptFailure;
    /// let refused = AttemptFailure::Api(ApiError::new(StatusCode::TOO_MANY_REQUESTS, ErrorKind::RateLimited));
    /// assert_eq!(refused.reason(), "RateLimited (HTTP 429)");
    /// let lost = AttemptFailure::Transport { kind: TransportFailure::Timeout, source: "idle".into() };
    /// assert_eq!(lost.reason(), "transport: Timeout");
    /// ```
    pub fn reason(&self) -> String {
        match self {
            AttemptFailure::Api(error) => {
                format!("{:?} (HTTP {})", error.kind, error.status.as_u16())
            }
            AttemptFailure::Transport { kind, .. } => format!("transport: {kind:?}"),
            AttemptFailure::Fatal(_) => "fatal".to_owned(),
        }
    }

    /// Whether the request may have reached the service: false only when the failure
    /// proves it did not — no connection was made (refused, DNS, unreachable, connect
    /// timeout, a TLS handshake or a proxy that failed), the request could not be sent, or
    /// the service refused it unprocessed (429 rate limit, 455 maintenance). A timeout, a
    /// reset or a 5xx once the request may have arrived all count as "may have": an
    /// operation that must not run twice ([`Operation::is_idempotent`](crate::Operation::is_idempotent))
    /// is not retried after them.
    ///
    /// ```
    /// use kie_proto::{TransportFailure};
    /// use kie_proto::driver::AttemptFailure;
    /// let refused = AttemptFailure::Transport { kind: TransportFailure::Connect, source: "refused".into() };
    /// assert!(!refused.may_have_reached_service());
    /// let lost = AttemptFailure::Transport { kind: TransportFailure::ConnectionLost, source: "reset".into() };
    /// assert!(lost.may_have_reached_service());
    /// ```
    pub fn may_have_reached_service(&self) -> bool {
        match self {
            AttemptFailure::Api(error) => !matches!(
                error.kind,
                crate::ErrorKind::RateLimited | crate::ErrorKind::Maintenance
            ),
            AttemptFailure::Transport { kind, .. } => !matches!(
                kind,
                TransportFailure::Connect
                    | TransportFailure::ConnectTimeout
                    | TransportFailure::ProxyUnreachable
                    | TransportFailure::ProxyRefused { .. }
                    | TransportFailure::Tls(_)
                    | TransportFailure::Unsendable
            ),
            AttemptFailure::Fatal(_) => true,
        }
    }

    /// The error reported when this failure is final after `attempts` attempts (the failed
    /// one included).
    pub fn into_error(self, attempts: u32) -> Error {
        match self {
            AttemptFailure::Api(error) => Error::Api { error, attempts },
            AttemptFailure::Transport { kind, source } => Error::Transport {
                kind,
                attempts,
                source,
            },
            AttemptFailure::Fatal(error) => error,
        }
    }

    /// Whether a request that failed so may have created what it asked for: it may have
    /// reached the service ([`may_have_reached_service`](Self::may_have_reached_service))
    /// and no answer proves it was refused before being acted on — a transport failure
    /// once the request may have arrived, or an answer of a server error (500 and other
    /// 5xx, 408, or an answer that is not the service's JSON). A refusal for the request
    /// itself (401, 402, 404, 422, 429, 455, …) created nothing.
    pub fn may_have_created(&self) -> bool {
        match self {
            AttemptFailure::Api(error) => matches!(
                error.kind,
                crate::ErrorKind::Server
                    | crate::ErrorKind::Timeout
                    | crate::ErrorKind::NotJson
                    | crate::ErrorKind::MalformedResponse
                    | crate::ErrorKind::Other
            ),
            AttemptFailure::Transport { .. } => self.may_have_reached_service(),
            AttemptFailure::Fatal(_) => false,
        }
    }

    /// The error of a request that must not run twice and may have done its work
    /// ([`Error::MaybeCreated`]), after `attempts` attempts.
    pub fn into_maybe_created(self, attempts: u32) -> Error {
        match self {
            AttemptFailure::Api(error) => Error::MaybeCreated {
                attempts,
                transport: None,
                source: Box::new(error),
            },
            AttemptFailure::Transport { kind, source } => Error::MaybeCreated {
                attempts,
                transport: Some(kind),
                source,
            },
            AttemptFailure::Fatal(error) => error,
        }
    }

    /// The error reported when this failure would have been retried but the content
    /// cannot be sent again ([`Error::NotRewindable`]), after `attempts` attempts.
    pub fn into_not_rewindable(self, attempts: u32) -> Error {
        match self {
            AttemptFailure::Api(error) => Error::NotRewindable {
                attempts,
                transport: None,
                source: Box::new(error),
            },
            AttemptFailure::Transport { kind, source } => Error::NotRewindable {
                attempts,
                transport: Some(kind),
                source,
            },
            AttemptFailure::Fatal(error) => error,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryDecision {
    /// Sleep for this long, then send the request again.
    RetryAfter(Duration),
    /// Stop and report the failure.
    GiveUp,
}

/// Exponential backoff with full jitter, capped, with a maximum number of attempts; honours
/// `Retry-After` up to a cap, but never below the backoff floor.
///
/// The delay before retry *n* (1-based) is `random × ceiling(n)` with
/// `ceiling(n) = min(max_delay, base_delay × 2ⁿ⁻¹)`, or the server's `Retry-After` when it
/// sent one (never more than `max_retry_after`; if the server asks for longer, the policy
/// gives up instead of waiting).
///
/// A `Retry-After` that asks for less than the *backoff floor*, half of `ceiling(n)` — a
/// date already in the past (clock skew, or a cached answer) or `0` — means "now": the wait
/// is then the policy's own backoff jittered between the floor and the ceiling,
/// `floor + random × (ceiling − floor)`. So a server (or many clients given the same date)
/// can never cause a burst of retries with no delay.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use kie_proto::{RetryDecision, RetryPolicy, TransportFailure};
/// let policy = RetryPolicy::default();
/// let now = SystemTime::UNIX_EPOCH;
/// assert_eq!(policy.decide(1, &TransportFailure::Timeout, 0.5, now), RetryDecision::RetryAfter(Duration::from_millis(250)));
/// assert_eq!(policy.decide(2, &TransportFailure::Timeout, 0.5, now), RetryDecision::RetryAfter(Duration::from_millis(500)));
/// assert_eq!(policy.decide(4, &TransportFailure::Timeout, 0.5, now), RetryDecision::GiveUp);
/// let expired = TransportFailure::Tls(kie_proto::TlsFailure::Expired);
/// assert_eq!(policy.decide(1, &expired, 0.5, now), RetryDecision::GiveUp);
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
        let ceiling = self.ceiling(attempt);
        if let Some(retry_after) = failure.retry_after() {
            let wait = retry_after.delay_from(now);
            if wait > self.max_retry_after {
                return RetryDecision::GiveUp;
            }
            let floor = ceiling / 2;
            if wait >= floor {
                return RetryDecision::RetryAfter(wait);
            }
            return RetryDecision::RetryAfter(floor + jitter(ceiling - floor, random));
        }
        RetryDecision::RetryAfter(jitter(ceiling, random))
    }

    /// The backoff before retry number `attempt` (1 for the first), before jitter:
    /// `min(max_delay, base_delay × 2^(attempt − 1))`.
    fn ceiling(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(31);
        self.base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay)
    }
}

/// `random × span`, with `random` clamped to `[0, 1]` (NaN reads as 0), never above `span`.
fn jitter(span: Duration, random: f64) -> Duration {
    let random = if random.is_nan() {
        0.0
    } else {
        random.clamp(0.0, 1.0)
    };
    // `Duration::mul_f64` panics when the product rounds past `Duration::MAX` (a span near
    // it and `random` near 1); fall back to the span itself.
    Duration::try_from_secs_f64(span.as_secs_f64() * random)
        .unwrap_or(span)
        .min(span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_error::ErrorKind;

    fn api_error(kind: ErrorKind, status: u16, retry_after: Option<RetryAfter>) -> ApiError {
        ApiError {
            status: http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK),
            code: None,
            message: None,
            kind,
            retry_after,
            body_excerpt: None,
            redirect_host: None,
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
    fn retry_after_in_the_past_is_the_backoff_from_its_floor() {
        let policy = RetryPolicy::default().with_max_attempts(10);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let past = |ago: u64| {
            api_error(
                ErrorKind::RateLimited,
                429,
                Some(RetryAfter::At(now - Duration::from_secs(ago))),
            )
        };
        // Retry 1: ceiling 500 ms, floor 250 ms; retry 3: ceiling 2 s, floor 1 s.
        assert_eq!(
            policy.decide(1, &past(3600), 0.0, now),
            RetryDecision::RetryAfter(Duration::from_millis(250))
        );
        assert_eq!(
            policy.decide(1, &past(1), 0.5, now),
            RetryDecision::RetryAfter(Duration::from_millis(375))
        );
        assert_eq!(
            policy.decide(3, &past(0), 1.0, now),
            RetryDecision::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(
            policy.decide(9, &past(5), f64::NAN, now),
            RetryDecision::RetryAfter(Duration::from_secs(15))
        );
        // `Retry-After: 0` and a date less than the floor ahead are the same "now".
        let zero = api_error(
            ErrorKind::Server,
            503,
            Some(RetryAfter::Delay(Duration::ZERO)),
        );
        assert_eq!(
            policy.decide(2, &zero, 0.0, now),
            RetryDecision::RetryAfter(Duration::from_millis(500))
        );
        let soon = api_error(
            ErrorKind::Server,
            503,
            Some(RetryAfter::At(now + Duration::from_millis(100))),
        );
        assert_eq!(
            policy.decide(1, &soon, 0.0, now),
            RetryDecision::RetryAfter(Duration::from_millis(250))
        );
        // At or above the floor the server's own wait stands, jitter or not.
        let at_floor = api_error(
            ErrorKind::Server,
            503,
            Some(RetryAfter::At(now + Duration::from_millis(250))),
        );
        assert_eq!(
            policy.decide(1, &at_floor, 0.9, now),
            RetryDecision::RetryAfter(Duration::from_millis(250))
        );
        // No attempt sequence ever waits zero: the sum of three retries is at least
        // 250 ms + 500 ms + 1 s.
        let total: Duration = (1..=3)
            .map(
                |attempt| match policy.decide(attempt, &past(60), 0.0, now) {
                    RetryDecision::RetryAfter(wait) => wait,
                    RetryDecision::GiveUp => Duration::ZERO,
                },
            )
            .sum();
        assert_eq!(total, Duration::from_millis(1750));
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
