//! Reading responses: the JSON envelope, and the one error type for every way the service
//! (or something in front of it) can say no (spec §4).
//!
//! The rule: an answer is a success only if the HTTP status is 2xx **and** the body `code`
//! is absent or 200 **and** `success` is absent or `true`. Anything else becomes one
//! [`ApiError`] carrying the HTTP status and the body's `code` and `msg` (either may be
//! missing). Both error styles seen in the wild — HTTP status equal to the body code, and
//! HTTP 200 with the error code only in the body — give the same [`ErrorKind`]. `msg` is
//! never interpreted: its wording varies between versions and languages.

use std::fmt;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

/// Largest response body a driver needs to read. Every documented answer is a small JSON
/// document; a longer body is cut here and still reported faithfully (as not JSON).
pub const MAX_RESPONSE_BODY: usize = 64 * 1024;

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
            ErrorKind::BadRequest => {
                "the request was rejected; check uploadPath, fileName and the content"
            }
            ErrorKind::Unauthorized => "check the API key (KIE_API_KEY) in the KIE.AI dashboard",
            ErrorKind::InsufficientCredits => "top up credits in the KIE.AI dashboard",
            ErrorKind::NotFound => "the resource or endpoint does not exist; check the base URLs",
            ErrorKind::MethodNotAllowed => {
                "the endpoint does not accept this method; check the base URLs"
            }
            ErrorKind::Timeout => "the service timed out; try again later",
            ErrorKind::Validation => {
                "the input was rejected; download-url only accepts URLs KIE.AI generated"
            }
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
            ErrorKind::Other => "unexpected answer",
        }
    }
}

/// A `Retry-After` header value (RFC 9110 §10.2.3): seconds to wait, or a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Attempts made, the one answered with this error included (1 until a driver's retry
    /// loop reports the final count).
    pub attempts: u32,
}

impl ApiError {
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

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.attempts == 1 { "" } else { "s" };
        write!(
            f,
            "KIE.AI answered HTTP {} after {} attempt{s}",
            self.status.as_u16(),
            self.attempts
        )?;
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

impl std::error::Error for ApiError {}

/// The envelope every KIE.AI JSON answer has, with `data` kept unparsed.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    success: Option<bool>,
    #[serde(default, deserialize_with = "lenient_code")]
    code: Code,
    #[serde(default, deserialize_with = "lenient_msg")]
    msg: Option<String>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

/// The body `code` as read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Code {
    /// Absent or `null`.
    #[default]
    Absent,
    /// An integer, an integral float or a numeric string.
    Number(i64),
    /// Present but not a number (`"abc"`, `true`, `200.5`): not "absent or 200", so never a
    /// success.
    Unreadable,
}

impl Code {
    fn number(self) -> Option<i64> {
        match self {
            Code::Number(code) => Some(code),
            Code::Absent | Code::Unreadable => None,
        }
    }
}

/// `code` as an integer, an integral float or a numeric string; anything else is unreadable.
fn lenient_code<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Code, D::Error> {
    let value = serde_json::Value::deserialize(de)?;
    let number = match value {
        serde_json::Value::Null => return Ok(Code::Absent),
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    Ok(number.map_or(Code::Unreadable, Code::Number))
}

/// `msg` as text; a non-string `msg` is shown as its JSON.
fn lenient_msg<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    let value = serde_json::Value::deserialize(de)?;
    Ok(match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

/// Applies the success rule to `response` and returns its `data`, parsed as `T`.
///
/// `null` or absent `data` is passed to `T` as JSON `null`, so `T = Option<_>` accepts it.
pub fn parse_envelope<T: DeserializeOwned>(
    response: &http::Response<&[u8]>,
) -> Result<T, ApiError> {
    if let Some(error) = refused_on_purpose(response) {
        return Err(error);
    }
    let status = response.status();
    let body = *response.body();
    let retry_after = RetryAfter::from_headers(response.headers());
    let error = |kind, code, message, body_excerpt| ApiError {
        status,
        code,
        message,
        kind,
        retry_after,
        body_excerpt,
        redirect_host: None,
        attempts: 1,
    };

    let Ok(envelope) = serde_json::from_slice::<Envelope<'_>>(body) else {
        return Err(not_json(status, body, retry_after));
    };
    let succeeded = status.is_success()
        && matches!(envelope.code, Code::Absent | Code::Number(200))
        && envelope.success != Some(false);
    if !succeeded {
        let code = envelope.code.number().filter(|&c| c != 200);
        let kind = match (code, status.is_success()) {
            (Some(code), _) => ErrorKind::from_code(code),
            (None, false) => ErrorKind::from_code(i64::from(status.as_u16())),
            (None, true) => ErrorKind::Other,
        };
        return Err(error(kind, envelope.code.number(), envelope.msg, None));
    }
    let data = envelope.data.map_or("null", RawValue::get);
    serde_json::from_str(data).map_err(|err| {
        let message = format!("unexpected data: {err}");
        error(
            ErrorKind::MalformedResponse,
            envelope.code.number(),
            Some(message),
            None,
        )
    })
}

/// Answers judged by their status alone, whatever the body says: 413 (a size limit, often
/// of a proxy's HTML page), 3xx (never followed) and 407 (a proxy's login). The body's
/// `code` and `msg` are kept when it is the JSON envelope, else its start.
fn refused_on_purpose(response: &http::Response<&[u8]>) -> Option<ApiError> {
    let status = response.status();
    let kind = match status.as_u16() {
        413 => ErrorKind::PayloadTooLarge,
        407 => ErrorKind::ProxyAuthenticationRequired,
        300..=399 => ErrorKind::Redirect,
        _ => return None,
    };
    let body = *response.body();
    let retry_after = RetryAfter::from_headers(response.headers());
    let mut error = match serde_json::from_slice::<Envelope<'_>>(body) {
        Ok(envelope) => ApiError {
            status,
            code: envelope.code.number(),
            message: envelope.msg,
            kind,
            retry_after,
            body_excerpt: None,
            redirect_host: None,
            attempts: 1,
        },
        Err(_) => ApiError {
            kind,
            ..not_json(status, body, retry_after)
        },
    };
    if kind == ErrorKind::Redirect {
        error.redirect_host = redirect_host(response);
    }
    Some(error)
}

/// The host a redirect's `Location` points to: its own for an absolute URL, the request's
/// (as far as the answer knows it) for a relative one.
fn redirect_host(response: &http::Response<&[u8]>) -> Option<Box<str>> {
    let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
    match url::Url::parse(location) {
        Ok(url) => url.host_str().map(Box::from),
        Err(url::ParseError::RelativeUrlWithoutBase) => Some(Box::from("the same host")),
        Err(_) => None,
    }
}

/// The error for a body that is not a JSON object envelope.
fn not_json(status: StatusCode, body: &[u8], retry_after: Option<RetryAfter>) -> ApiError {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let kind = match status.as_u16() {
        403 if text.starts_with("error code:") => ErrorKind::CdnRefused,
        401 | 429 | 455 => ErrorKind::from_code(i64::from(status.as_u16())),
        _ => ErrorKind::NotJson,
    };
    let excerpt: String = text.chars().take(200).collect();
    ApiError {
        status,
        code: None,
        message: None,
        kind,
        retry_after,
        body_excerpt: Some(excerpt),
        redirect_host: None,
        attempts: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> http::Response<&[u8]> {
        let mut response = http::Response::new(body.as_bytes());
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
        response
    }

    fn kind_of(status: u16, body: &str) -> Option<ErrorKind> {
        parse_envelope::<serde_json::Value>(&response(status, body))
            .err()
            .map(|e| e.kind)
    }

    #[test]
    fn success_rule() {
        assert_eq!(
            parse_envelope::<i64>(&response(200, r#"{"code":200,"msg":"success","data":100}"#)),
            Ok(100)
        );
        assert_eq!(
            parse_envelope::<i64>(&response(201, r#"{"data":7}"#)),
            Ok(7)
        );
        assert_eq!(
            parse_envelope::<i64>(&response(200, r#"{"success":true,"code":"200","data":7}"#)),
            Ok(7)
        );
        assert_eq!(
            parse_envelope::<Option<i64>>(&response(200, r#"{"code":200}"#)),
            Ok(None)
        );
        assert_eq!(
            kind_of(200, r#"{"success":false,"code":200,"msg":"?"}"#),
            Some(ErrorKind::Other)
        );
        assert_eq!(
            kind_of(
                200,
                r#"{"code":402,"msg":"Insufficient credits","data":null}"#
            ),
            Some(ErrorKind::InsufficientCredits)
        );
        assert_eq!(
            kind_of(500, r#"{"code":200,"data":1}"#),
            Some(ErrorKind::Server)
        );
        assert_eq!(kind_of(404, r#"{"msg":"nope"}"#), Some(ErrorKind::NotFound));
        // A code that is present but not a number is not "absent or 200".
        for body in [
            r#"{"code":"abc","data":1}"#,
            r#"{"code":true,"data":1}"#,
            r#"{"code":200.5,"data":1}"#,
            r#"{"code":[200],"data":1}"#,
        ] {
            assert_eq!(kind_of(200, body), Some(ErrorKind::Other), "{body}");
        }
        assert_eq!(
            parse_envelope::<i64>(&response(200, r#"{"code":null,"data":7}"#)),
            Ok(7)
        );
        assert_eq!(
            parse_envelope::<i64>(&response(200, r#"{"code":200.0,"data":7}"#)),
            Ok(7)
        );
    }

    #[test]
    fn non_json_bodies() {
        assert_eq!(
            kind_of(403, "error code: 1010"),
            Some(ErrorKind::CdnRefused)
        );
        assert_eq!(
            kind_of(502, "<html><body>Bad gateway</body></html>"),
            Some(ErrorKind::NotJson)
        );
        assert_eq!(kind_of(200, ""), Some(ErrorKind::NotJson));
        assert_eq!(kind_of(429, "slow down"), Some(ErrorKind::RateLimited));
        assert_eq!(kind_of(200, "[1,2]"), Some(ErrorKind::NotJson));
        let err = parse_envelope::<i64>(&response(502, "<h1>502</h1>")).err();
        assert_eq!(err.as_ref().map(ApiError::is_retryable), Some(true));
        assert_eq!(
            err.map(|e| e.to_string()).unwrap_or_default(),
            "KIE.AI answered HTTP 502 after 1 attempt: \"<h1>502</h1>\" (the answer was not KIE.AI's JSON; a proxy or CDN may have answered)"
        );
    }

    #[test]
    fn payload_too_large_whatever_the_body() {
        let html = "<html><head><title>413 Request Entity Too Large</title></head></html>";
        let err = parse_envelope::<i64>(&response(413, html)).err();
        assert_eq!(
            err.as_ref().map(|e| e.kind),
            Some(ErrorKind::PayloadTooLarge)
        );
        assert_eq!(err.as_ref().map(ApiError::is_retryable), Some(false));
        assert_eq!(
            err.map(|e| e.to_string()).unwrap_or_default(),
            format!(
                "KIE.AI answered HTTP 413 after 1 attempt: {html:?} (the upload is over a size limit of KIE.AI or of a proxy or CDN in front of it; a base64 upload sends a third more bytes than the file, so the stream upload sends 25 % fewer)"
            )
        );
        let err =
            parse_envelope::<i64>(&response(413, r#"{"code":413,"msg":"File too large"}"#)).err();
        assert_eq!(
            err.as_ref().map(|e| (e.kind, e.code, e.message.as_deref())),
            Some((
                ErrorKind::PayloadTooLarge,
                Some(413),
                Some("File too large")
            ))
        );
        assert_eq!(err.as_ref().map(ApiError::is_retryable), Some(false));
    }

    #[test]
    fn redirects_name_their_target() {
        let mut answer = response(307, "");
        answer.headers_mut().insert(
            header::LOCATION,
            http::HeaderValue::from_static("https://elsewhere.example/api/file-stream-upload"),
        );
        let err = parse_envelope::<i64>(&answer).err();
        assert_eq!(
            err.as_ref().map(|e| (e.kind, e.redirect_host.as_deref())),
            Some((ErrorKind::Redirect, Some("elsewhere.example")))
        );
        assert_eq!(err.as_ref().map(ApiError::is_retryable), Some(false));
        assert_eq!(
            err.map(|e| e.to_string()).unwrap_or_default(),
            "KIE.AI answered HTTP 307 after 1 attempt: \"\" (it points to elsewhere.example; redirects are not followed; check the base URLs)"
        );
        assert_eq!(
            kind_of(301, "<html>moved</html>"),
            Some(ErrorKind::Redirect)
        );
        assert_eq!(
            kind_of(407, "<html>login</html>"),
            Some(ErrorKind::ProxyAuthenticationRequired)
        );
    }

    #[test]
    fn retry_after_forms() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, http::HeaderValue::from_static("120"));
        assert_eq!(
            RetryAfter::from_headers(&headers),
            Some(RetryAfter::Delay(Duration::from_secs(120)))
        );
        headers.insert(
            header::RETRY_AFTER,
            http::HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(RetryAfter::from_headers(&headers), Some(RetryAfter::At(at)));
        assert_eq!(
            RetryAfter::At(at).delay_from(at - Duration::from_secs(5)),
            Duration::from_secs(5)
        );
        assert_eq!(
            RetryAfter::At(at).delay_from(at + Duration::from_secs(5)),
            Duration::ZERO
        );
        headers.insert(header::RETRY_AFTER, http::HeaderValue::from_static("soon"));
        assert_eq!(RetryAfter::from_headers(&headers), None);
    }
}
