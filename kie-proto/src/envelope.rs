//! Reading responses: the JSON envelope, and the one error type for every way the service
//! (or something in front of it) can say no (spec §4).
//!
//! The rule: an answer is a success only if the HTTP status is 2xx **and** the body `code`
//! is absent or 200 **and** `success` is absent or `true`. Anything else becomes one
//! [`ApiError`] carrying the HTTP status and the body's `code` and `msg` (either may be
//! missing). Both error styles seen in the wild — HTTP status equal to the body code, and
//! HTTP 200 with the error code only in the body — give the same [`ErrorKind`]. `msg` is
//! never interpreted: its wording varies between versions and languages.
//!
//! Answers are read as sent: a leading UTF-8 byte order mark is skipped, bytes that are not
//! UTF-8 are read as U+FFFD (in `msg` or in a field nobody reads), `success` may be the
//! string `"true"`/`"false"` and `code` a numeric string, and members the SDK does not read
//! may hold any JSON (numbers beyond `f64` included). The envelope must be a JSON object: an
//! array or a scalar is [`ErrorKind::NotJson`], with its excerpt, like an HTML page.

use std::borrow::Cow;
use std::fmt;

use http::{StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::api_error::{ApiError, ErrorKind, RetryAfter};

/// Largest response body a driver needs to read. Every documented answer is a small JSON
/// document; a longer body is cut here and still reported faithfully (as not JSON).
pub const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// The envelope every KIE.AI JSON answer has (spec §1.5), each member kept as the raw JSON
/// text it was sent as. Reading a member can therefore never fail the whole envelope: a
/// member of an unexpected type (or a number out of `f64` range) is judged on its own.
/// `null` reads as absent.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow)]
    success: Option<&'a RawValue>,
    #[serde(default, borrow)]
    code: Option<&'a RawValue>,
    #[serde(default, borrow)]
    msg: Option<&'a RawValue>,
    /// `message`: what some pages (the rendered Market task page, J1 of the jobs spec) call
    /// `msg`; read when `msg` is absent.
    #[serde(default, borrow)]
    message: Option<&'a RawValue>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

/// A JSON object read into `T`, and nothing else.
///
/// serde's derived `Deserialize` of a struct also accepts a JSON array, filling the fields
/// by position: `[true,200,"ok",{…}]` would read as a success envelope. Wrapping the type in
/// `ObjectOnly` asks the deserializer for a map, so an array (or any scalar) is an error.
pub(crate) struct ObjectOnly<T>(pub(crate) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = ObjectOnly<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(ObjectOnly)
            }
        }
        de.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

/// The JSON text of a body as sent: a leading UTF-8 byte order mark is dropped and bytes
/// that are not UTF-8 become U+FFFD, so a stray byte in `msg` or in a field nobody reads
/// does not make the whole answer unreadable. Borrowed when the body is clean UTF-8.
fn body_text(body: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body))
}

/// `success` or `code` as read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Member<T> {
    /// Absent or `null`.
    #[default]
    Absent,
    /// A value of the expected meaning.
    Read(T),
    /// Present but unreadable (`"abc"`, `[200]`, `200.5` as a code; `1` as `success`): never
    /// "absent or 200" / "absent or true", so never a success.
    Unreadable,
}

impl<T: Copy> Member<T> {
    fn value(self) -> Option<T> {
        match self {
            Member::Read(value) => Some(value),
            Member::Absent | Member::Unreadable => None,
        }
    }

    /// Reads `raw` with `read` (which gets `None` for text that is not valid JSON for
    /// `serde_json::Value`, e.g. a number out of range).
    fn from_raw(raw: Option<&RawValue>, read: impl FnOnce(serde_json::Value) -> Option<T>) -> Self {
        let Some(raw) = raw else {
            return Member::Absent;
        };
        serde_json::from_str(raw.get())
            .ok()
            .and_then(read)
            .map_or(Member::Unreadable, Member::Read)
    }
}

/// `code` as an integer, an integral float or a numeric string.
fn read_code(value: serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `success` as a boolean, or the strings `"true"` / `"false"` (any ASCII case, surrounding
/// whitespace ignored).
fn read_success(value: serde_json::Value) -> Option<bool> {
    match value {
        serde_json::Value::Bool(b) => Some(b),
        serde_json::Value::String(s) => {
            let s = s.trim();
            if s.eq_ignore_ascii_case("true") {
                Some(true)
            } else if s.eq_ignore_ascii_case("false") {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// `msg` as text; a `msg` that is not a string is shown as the JSON it was sent as.
fn read_msg(raw: Option<&RawValue>) -> Option<String> {
    let raw = raw?;
    Some(serde_json::from_str::<String>(raw.get()).unwrap_or_else(|_| raw.get().to_owned()))
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
    };

    let text = body_text(body);
    let Ok(ObjectOnly(envelope)) = serde_json::from_str::<ObjectOnly<Envelope<'_>>>(&text) else {
        return Err(not_json(status, &text, retry_after));
    };
    let code = Member::from_raw(envelope.code, read_code);
    let success = Member::from_raw(envelope.success, read_success);
    let message = read_msg(envelope.msg.or(envelope.message));
    let succeeded = status.is_success()
        && matches!(code, Member::Absent | Member::Read(200))
        && matches!(success, Member::Absent | Member::Read(true));
    if !succeeded {
        let error_code = code.value().filter(|&c| c != 200);
        let kind = match (error_code, status.is_success()) {
            (Some(code), _) => ErrorKind::from_code(code),
            (None, false) => ErrorKind::from_code(i64::from(status.as_u16())),
            (None, true) => ErrorKind::Other,
        };
        return Err(error(kind, code.value(), message, None));
    }
    let data = envelope.data.map_or("null", RawValue::get);
    serde_json::from_str(data).map_err(|err| {
        let message = format!("unexpected data: {err}");
        error(
            ErrorKind::MalformedResponse,
            code.value(),
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
    let text = body_text(response.body());
    let retry_after = RetryAfter::from_headers(response.headers());
    let mut error = match serde_json::from_str::<ObjectOnly<Envelope<'_>>>(&text) {
        Ok(ObjectOnly(envelope)) => ApiError {
            code: Member::from_raw(envelope.code, read_code).value(),
            message: read_msg(envelope.msg.or(envelope.message)),
            retry_after,
            ..ApiError::new(status, kind)
        },
        Err(_) => ApiError {
            kind,
            ..not_json(status, &text, retry_after)
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
    match crate::url_check::parse(location) {
        Ok(url) => Some(Box::from(url.host)),
        Err(_) if !location.contains("://") => Some(Box::from("the same host")),
        Err(_) => None,
    }
}

/// The error for a body that is not a JSON object envelope.
fn not_json(status: StatusCode, text: &str, retry_after: Option<RetryAfter>) -> ApiError {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_read_where_msg_is_absent() {
        let error =
            parse_envelope::<i64>(&response(200, r#"{"code":404,"message":"Task not found"}"#))
                .unwrap_err();
        assert_eq!(error.message.as_deref(), Some("Task not found"));
        let both = parse_envelope::<i64>(&response(200, r#"{"code":404,"msg":"a","message":"b"}"#))
            .unwrap_err();
        assert_eq!(both.message.as_deref(), Some("a"));
    }
    use http::HeaderMap;
    use std::time::{Duration, SystemTime};

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
            "KIE.AI answered HTTP 502: \"<h1>502</h1>\" (the answer was not KIE.AI's JSON; a proxy or CDN may have answered)"
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
                "KIE.AI answered HTTP 413: {html:?} (the upload is over a size limit of KIE.AI or of a proxy or CDN in front of it; a base64 upload sends a third more bytes than the file, so the stream upload sends 25 % fewer)"
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
            "KIE.AI answered HTTP 307: \"\" (it points to elsewhere.example; redirects are not followed; check the base URLs)"
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

    fn response_bytes(status: u16, body: &[u8]) -> http::Response<&[u8]> {
        let mut response = http::Response::new(body);
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
        response
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let body = b"\xEF\xBB\xBF{\"code\":200,\"msg\":\"success\",\"data\":100}";
        assert_eq!(parse_envelope::<i64>(&response_bytes(200, body)), Ok(100));
        let err = parse_envelope::<i64>(&response_bytes(502, b"\xEF\xBB\xBF<h1>502</h1>")).err();
        assert_eq!(
            err.and_then(|e| e.body_excerpt),
            Some("<h1>502</h1>".to_owned())
        );
        // Only a leading BOM: one after whitespace is not JSON.
        assert_eq!(
            parse_envelope::<i64>(&response_bytes(200, b" \xEF\xBB\xBF{\"data\":1}"))
                .map_err(|e| e.kind),
            Err(ErrorKind::NotJson)
        );
    }

    #[test]
    fn success_as_string() {
        for body in [
            r#"{"success":"true","code":200,"data":7}"#,
            r#"{"success":" TRUE ","code":200,"data":7}"#,
            r#"{"success":null,"code":200,"data":7}"#,
        ] {
            assert_eq!(parse_envelope::<i64>(&response(200, body)), Ok(7), "{body}");
        }
        let err = parse_envelope::<i64>(&response(
            400,
            r#"{"success":"false","code":400,"msg":"Missing required parameter: uploadPath"}"#,
        ));
        assert_eq!(
            err,
            Err(ApiError {
                status: StatusCode::BAD_REQUEST,
                code: Some(400),
                message: Some("Missing required parameter: uploadPath".to_owned()),
                kind: ErrorKind::BadRequest,
                retry_after: None,
                body_excerpt: None,
                redirect_host: None,
            })
        );
        // `"false"` alone (HTTP 200, code 200) is a refusal, like `false`.
        assert_eq!(
            kind_of(200, r#"{"success":"false","code":200,"data":7}"#),
            Some(ErrorKind::Other)
        );
        // Anything else is not "absent or true": a refusal, never NotJson.
        for body in [
            r#"{"success":1,"code":200,"data":7}"#,
            r#"{"success":"yes","code":200,"data":7}"#,
            r#"{"success":[true],"code":200,"data":7}"#,
        ] {
            assert_eq!(kind_of(200, body), Some(ErrorKind::Other), "{body}");
        }
    }

    #[test]
    fn invalid_utf8_is_read_lossily() {
        let body = b"{\"success\":false,\"code\":400,\"msg\":\"bad \xff\xfe name\"}";
        let err = parse_envelope::<i64>(&response_bytes(400, body)).err();
        assert_eq!(
            err.as_ref().map(|e| (e.kind, e.message.as_deref())),
            Some((ErrorKind::BadRequest, Some("bad \u{fffd}\u{fffd} name")))
        );
        assert_eq!(
            err.map(|e| e.to_string()),
            Some("KIE.AI answered HTTP 400, code 400: bad \u{fffd}\u{fffd} name (the service rejected the request as invalid)".to_owned())
        );
        let body =
            b"{\"code\":200,\"msg\":\"\xe6\x96\x87\xe4\xbb\",\"data\":5,\"note\":\"\xc3\x28\"}";
        assert_eq!(parse_envelope::<i64>(&response_bytes(200, body)), Ok(5));
    }

    #[test]
    fn numbers_out_of_range() {
        // Skipped where ignored (serde_json::Value would refuse them).
        assert_eq!(
            parse_envelope::<i64>(&response(200, r#"{"code":200,"data":5,"x":1e400}"#)),
            Ok(5)
        );
        assert_eq!(
            parse_envelope::<i64>(&response(
                200,
                r#"{"code":200,"data":5,"x":[-1e400,{"y":1E999}]}"#
            )),
            Ok(5)
        );
        // An unreadable code is not 200; msg is shown as sent.
        assert_eq!(
            parse_envelope::<i64>(&response(
                200,
                r#"{"code":1e400,"msg":{"n":1e400},"data":5}"#
            )),
            Err(ApiError {
                status: StatusCode::OK,
                code: None,
                message: Some(r#"{"n":1e400}"#.to_owned()),
                kind: ErrorKind::Other,
                retry_after: None,
                body_excerpt: None,
                redirect_host: None,
            })
        );
    }

    #[test]
    fn only_an_object_is_an_envelope() {
        let not_json = |status: u16, body: &str| ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            code: None,
            message: None,
            kind: ErrorKind::NotJson,
            retry_after: None,
            body_excerpt: Some(body.to_owned()),
            redirect_host: None,
        };
        let upload = r#"[true,200,"ok",{"downloadUrl":"https://a.example/x.png"}]"#;
        assert_eq!(
            parse_envelope::<crate::UploadResult>(&response(200, upload)),
            Err(not_json(200, upload))
        );
        assert_eq!(
            parse_envelope::<f64>(&response(200, "[null,200,null,5]")),
            Err(not_json(200, "[null,200,null,5]"))
        );
        let empty = parse_envelope::<f64>(&response(502, "[]"));
        assert_eq!(empty, Err(not_json(502, "[]")));
        assert_eq!(empty.as_ref().map_err(ApiError::is_retryable), Err(true));
        assert_eq!(
            empty.map_err(|e| e.to_string()),
            Err("KIE.AI answered HTTP 502: \"[]\" (the answer was not KIE.AI's JSON; a proxy or CDN may have answered)".to_owned())
        );
        for scalar in ["5", "\"ok\"", "null", "true", "[{\"code\":200,\"data\":5}]"] {
            assert_eq!(
                parse_envelope::<serde_json::Value>(&response(200, scalar)),
                Err(not_json(200, scalar)),
                "{scalar}"
            );
        }
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
