//! The one error type for every way the service (or something in front of it) can say no
//! (spec §4): [`ApiError`], its [`ErrorKind`] and the server's [`RetryAfter`]. How an answer
//! becomes one is [`parse_envelope`](crate::parse_envelope)'s business.

use std::fmt;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode, header};

/// What kind of failure an [`ApiError`] is. Decided from the body `code` when the body has
/// one, else from the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 400: a missing or invalid parameter, or bad base64.
    BadRequest,
    /// 401: the API key is missing, wrong or revoked.
    Unauthorized,
    /// 402: the account has not enough credits.
    InsufficientCredits,
    /// 404: no such resource or endpoint.
    NotFound,
    /// 405: the endpoint does not accept this method.
    MethodNotAllowed,
    /// 408: the upstream produced no result in time.
    Timeout,
    /// 422: validation failed; for download-url, a URL that KIE.AI did not generate.
    Validation,
    /// 429: too many requests; not queued.
    RateLimited,
    /// 433: a sub-key went over its usage limit.
    UsageLimitExceeded,
    /// 455: service unavailable for maintenance.
    Maintenance,
    /// 500 (and other 5xx codes in a JSON body): server error.
    Server,
    /// 501: generation failed.
    GenerationFailed,
    /// 505: the feature is disabled.
    FeatureDisabled,
    /// HTTP 403 with the CDN's plain-text `error code: …` body (e.g. 1010: the request was
    /// refused for its user agent) — not an authentication failure.
    CdnRefused,
    /// The body is not the JSON envelope (an HTML error page from a proxy, an empty body).
    NotJson,
    /// A success envelope whose `data` is not what the endpoint documents.
    MalformedResponse,
    /// HTTP 413, whatever the body: the request is over a size limit of the service or of
    /// a proxy or CDN in front of it (nginx's `client_max_body_size`, a CDN's body limit).
    /// Never retried.
    PayloadTooLarge,
    /// HTTP 3xx: the answer points elsewhere ([`ApiError::redirect_host`]). Redirects are
    /// never followed (the API key would go along); never retried.
    Redirect,
    /// HTTP 407: a proxy between this client and the service wants credentials.
    ProxyAuthenticationRequired,
    /// A task the service does not show yet: 422 "recordInfo is null", what it answers right
    /// after a create (and for ids it does not know). A poller waits a grace period for it.
    TaskNotVisible,
    /// Any other failure (an undocumented code, `success:false` without a code).
    Other,
}

impl ErrorKind {
    /// The kind a body or HTTP `code` stands for.
    pub fn from_code(code: i64) -> ErrorKind {
        match code {
            400 => ErrorKind::BadRequest,
            401 => ErrorKind::Unauthorized,
            402 => ErrorKind::InsufficientCredits,
            404 => ErrorKind::NotFound,
            405 => ErrorKind::MethodNotAllowed,
            408 => ErrorKind::Timeout,
            422 => ErrorKind::Validation,
            429 => ErrorKind::RateLimited,
            433 => ErrorKind::UsageLimitExceeded,
            455 => ErrorKind::Maintenance,
            501 => ErrorKind::GenerationFailed,
            505 => ErrorKind::FeatureDisabled,
            500 | 502..=504 | 506..=599 => ErrorKind::Server,
            _ => ErrorKind::Other,
        }
    }

    /// Advice for the user, shown after the error.
    fn hint(self) -> &'static str {
        match self {
            // 400 answers every kind of request (an upload's path, a URL upload whose source
            // could not be fetched, a task's input), so the hint names no field: the
            // service's message does.
            ErrorKind::BadRequest => "the service rejected the request as invalid",
            ErrorKind::Unauthorized => "check the API key (KIE_API_KEY) in the KIE.AI dashboard",
            ErrorKind::InsufficientCredits => "top up credits in the KIE.AI dashboard",
            ErrorKind::NotFound => "the resource or endpoint does not exist; check the base URLs",
            ErrorKind::MethodNotAllowed => {
                "the endpoint does not accept this method; check the base URLs"
            }
            ErrorKind::Timeout => "the service timed out; try again later",
            // 422 answers a task's input and a download-url of a URL KIE.AI did not
            // generate alike: the service's message says which field or URL.
            ErrorKind::Validation => "the service rejected the input",
            ErrorKind::RateLimited => "rate limited; slow down and retry later",
            ErrorKind::UsageLimitExceeded => {
                "this API key is over its usage limit; raise it in the dashboard"
            }
            ErrorKind::Maintenance => "the service is under maintenance; retry later",
            ErrorKind::Server => "server error; retrying may help",
            ErrorKind::GenerationFailed => "generation failed",
            ErrorKind::FeatureDisabled => "this feature is disabled for the account",
            ErrorKind::CdnRefused => {
                "refused by the CDN in front of KIE.AI; send a normal User-Agent"
            }
            ErrorKind::NotJson => {
                "the answer was not KIE.AI's JSON; a proxy or CDN may have answered"
            }
            ErrorKind::MalformedResponse => "the answer did not have the documented shape",
            ErrorKind::PayloadTooLarge => {
                "the upload is over a size limit of KIE.AI or of a proxy or CDN in front of it; a base64 upload sends a third more bytes than the file, so the stream upload sends 25 % fewer"
            }
            ErrorKind::Redirect => "redirects are not followed; check the base URLs",
            ErrorKind::ProxyAuthenticationRequired => {
                "a proxy wants credentials; put them in the proxy URL (http://user:password@host:port)"
            }
            ErrorKind::TaskNotVisible => {
                "the task is not visible yet: it was just created, or the id is unknown"
            }
            ErrorKind::Other => "unexpected answer",
        }
    }
}

/// A `Retry-After` header value (RFC 9110 §10.2.3): seconds to wait, or a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryAfter {
    /// Wait this long.
    Delay(Duration),
    /// Wait until this time.
    At(SystemTime),
}

impl RetryAfter {
    /// Parses the first `Retry-After` header of `headers`, if any is valid.
    pub fn from_headers(headers: &HeaderMap) -> Option<RetryAfter> {
        let text = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
        if let Ok(seconds) = text.parse::<u64>() {
            return Some(RetryAfter::Delay(Duration::from_secs(seconds)));
        }
        httpdate::parse_http_date(text).ok().map(RetryAfter::At)
    }

    /// How long to wait from `now` (zero for a date in the past).
    pub fn delay_from(self, now: SystemTime) -> Duration {
        match self {
            RetryAfter::Delay(delay) => delay,
            RetryAfter::At(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
        }
    }
}

/// The service, or something in front of it, refused or failed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// The body's `code`, when the body is the JSON envelope and has one.
    pub code: Option<i64>,
    /// The body's `msg`, when present. Shown to people, never interpreted.
    pub message: Option<String>,
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// The answer's `Retry-After`, when it had a valid one.
    pub retry_after: Option<RetryAfter>,
    /// The start of a body that is not the JSON envelope (at most 200 characters, lossy UTF-8).
    pub body_excerpt: Option<String>,
    /// For a [redirect](ErrorKind::Redirect): the host its `Location` points to (the
    /// endpoint's own host for a relative `Location`), when it has one.
    pub redirect_host: Option<Box<str>>,
}

impl ApiError {
    /// A refusal of `kind` with HTTP `status` and nothing else known (no body `code`,
    /// message, `Retry-After` or excerpt); set those fields afterwards. For tests of code
    /// that handles errors.
    ///
    /// ```
    /// use kie_proto::{ApiError, ErrorKind, http::StatusCode};
    /// let mut error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, ErrorKind::RateLimited);
    /// error.code = Some(429);
    /// assert!(error.is_retryable());
    /// ```
    pub fn new(status: StatusCode, kind: ErrorKind) -> ApiError {
        ApiError {
            status,
            code: None,
            message: None,
            kind,
            retry_after: None,
            body_excerpt: None,
            redirect_host: None,
        }
    }

    /// Whether sending the same request again may succeed: rate limits, maintenance,
    /// timeouts, server errors and non-JSON answers with a 5xx status.
    pub fn is_retryable(&self) -> bool {
        match self.kind {
            ErrorKind::RateLimited
            | ErrorKind::Maintenance
            | ErrorKind::Server
            | ErrorKind::Timeout => true,
            ErrorKind::NotJson | ErrorKind::Other => self.status.is_server_error(),
            _ => false,
        }
    }
}

impl ApiError {
    /// The refusal in words, with the attempts made when a call ended with it
    /// ([`Error::Api`](crate::Error::Api)).
    pub(crate) fn describe(
        &self,
        f: &mut fmt::Formatter<'_>,
        attempts: Option<u32>,
    ) -> fmt::Result {
        write!(f, "KIE.AI answered HTTP {}", self.status.as_u16())?;
        if let Some(attempts) = attempts {
            let s = if attempts == 1 { "" } else { "s" };
            write!(f, " after {attempts} attempt{s}")?;
        }
        if let Some(code) = self.code {
            write!(f, ", code {code}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if let Some(excerpt) = &self.body_excerpt {
            write!(f, ": {excerpt:?}")?;
        }
        if let Some(host) = &self.redirect_host {
            write!(f, " (it points to {host}; {})", self.kind.hint())
        } else {
            write!(f, " ({})", self.kind.hint())
        }
    }
}

/// An [`ApiError`] said with the attempts a call made ([`ApiError::with_attempts`]).
pub(crate) struct WithAttempts<'a>(&'a ApiError, u32);

impl fmt::Display for WithAttempts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.describe(f, Some(self.1))
    }
}

impl ApiError {
    /// The refusal in words, with the `attempts` a call made.
    pub(crate) fn with_attempts(&self, attempts: u32) -> WithAttempts<'_> {
        WithAttempts(self, attempts)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f, None)
    }
}

impl std::error::Error for ApiError {}
