//! Table tests of the error model (spec §4) and exact wire tests of every request.
//!
//! - every documented code × (HTTP 200 + body code | HTTP status = body code) × both envelope
//!   styles × all five operations → the documented `ErrorKind` and retryability;
//! - the non-envelope failures (CDN 403 `error code: 1010`, HTML 5xx pages, empty bodies);
//! - every example body of spec §4.3, both success shapes of §2.1, credits and download-url;
//! - `Retry-After` in seconds and HTTP-date form lands in `ApiError::retry_after`;
//! - each operation's request: method, URI, every header, `Content-Length` and body bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use http::{Method, StatusCode, header};
use kie_proto::{
    Api, ApiError, ApiKey, Base64Form, Base64Upload, Body, Boundary, ErrorKind, FileName,
    GetCredits, GetDownloadUrl, HttpUrl, MimeType, Operation, RetryAfter, StreamUpload, UploadPath,
    UploadResult, UrlUpload,
};

/// The documented codes (spec §4.2) with the kind and retryability the SDK gives them.
const CODES: &[(u16, ErrorKind, bool)] = &[
    (400, ErrorKind::BadRequest, false),
    (401, ErrorKind::Unauthorized, false),
    (402, ErrorKind::InsufficientCredits, false),
    (404, ErrorKind::NotFound, false),
    (405, ErrorKind::MethodNotAllowed, false),
    (408, ErrorKind::Timeout, true),
    (422, ErrorKind::Validation, false),
    (429, ErrorKind::RateLimited, true),
    (433, ErrorKind::UsageLimitExceeded, false),
    (455, ErrorKind::Maintenance, true),
    (500, ErrorKind::Server, true),
    (501, ErrorKind::GenerationFailed, false),
    (505, ErrorKind::FeatureDisabled, false),
];

fn response(status: u16, body: &str) -> http::Response<&[u8]> {
    http::Response::builder()
        .status(status)
        .body(body.as_bytes())
        .unwrap()
}

fn ops() -> (Base64Upload, StreamUpload, UrlUpload, GetDownloadUrl) {
    let path = UploadPath::new("images").unwrap();
    (
        Base64Upload::new(path.clone(), 1),
        StreamUpload::new(path.clone(), FileName::new("a.png").unwrap(), 1),
        UrlUpload::new(path, HttpUrl::new("https://example.com/a.png").unwrap()),
        GetDownloadUrl::new(HttpUrl::new("https://tempfile.aiquickdraw.com/a.png").unwrap()),
    )
}

/// The error each of the five operations gives for one answer (all five must agree).
fn errors(status: u16, body: &str) -> Vec<ApiError> {
    let (base64, stream, url, download) = ops();
    vec![
        base64.parse_response(response(status, body)).unwrap_err(),
        stream.parse_response(response(status, body)).unwrap_err(),
        url.parse_response(response(status, body)).unwrap_err(),
        GetCredits
            .parse_response(response(status, body))
            .unwrap_err(),
        download.parse_response(response(status, body)).unwrap_err(),
    ]
}

#[test]
fn every_documented_code_in_both_error_styles() {
    for &(code, kind, retryable) in CODES {
        let bodies = [
            // Upload host style.
            format!(r#"{{"success":false,"code":{code},"msg":"upload says {code}"}}"#),
            // Common API style.
            format!(r#"{{"code":{code},"msg":"api says {code}","data":null}}"#),
        ];
        for body in &bodies {
            for status in [200, code] {
                for error in errors(status, body) {
                    let case = format!("HTTP {status}, body {body}");
                    assert_eq!(error.status.as_u16(), status, "{case}");
                    assert_eq!(error.code, Some(i64::from(code)), "{case}");
                    assert!(
                        error
                            .message
                            .as_deref()
                            .unwrap()
                            .ends_with(&code.to_string())
                    );
                    assert_eq!(error.kind, kind, "{case}");
                    assert_eq!(error.is_retryable(), retryable, "{case}");
                    assert_eq!(error.retry_after, None, "{case}");
                    assert_eq!(error.body_excerpt, None, "{case}");
                }
            }
        }
    }
}

#[test]
fn http_status_alone_decides_when_the_body_has_no_code() {
    for &(code, kind, retryable) in CODES {
        for error in errors(code, r#"{"msg":"no code here"}"#) {
            assert_eq!((error.code, error.kind), (None, kind), "HTTP {code}");
            assert_eq!(error.is_retryable(), retryable, "HTTP {code}");
        }
    }
}

#[test]
fn answers_that_are_not_the_envelope() {
    let html = |title: &str| {
        format!(
            "<html><head><title>{title}</title></head><body><h1>{title}</h1><hr>cloudflare</body></html>"
        )
    };
    let cases: Vec<(u16, String, ErrorKind, bool)> = vec![
        (403, "error code: 1010".into(), ErrorKind::CdnRefused, false),
        (
            403,
            "error code: 1010\n".into(),
            ErrorKind::CdnRefused,
            false,
        ),
        (502, html("502 Bad Gateway"), ErrorKind::NotJson, true),
        (
            503,
            html("503 Service Unavailable"),
            ErrorKind::NotJson,
            true,
        ),
        (504, html("504 Gateway Time-out"), ErrorKind::NotJson, true),
        (
            500,
            html("500 Internal Server Error"),
            ErrorKind::NotJson,
            true,
        ),
        (404, html("404 Not Found"), ErrorKind::NotJson, false),
        (200, String::new(), ErrorKind::NotJson, false),
        (200, "[1,2]".into(), ErrorKind::NotJson, false),
        (401, "Unauthorized".into(), ErrorKind::Unauthorized, false),
        (
            429,
            "Too Many Requests".into(),
            ErrorKind::RateLimited,
            true,
        ),
        (455, "maintenance".into(), ErrorKind::Maintenance, true),
    ];
    for (status, body, kind, retryable) in cases {
        for error in errors(status, &body) {
            assert_eq!(error.kind, kind, "HTTP {status} {body:?}");
            assert_eq!(error.is_retryable(), retryable, "HTTP {status} {body:?}");
            assert_eq!(error.code, None);
            let excerpt: String = body.trim().chars().take(200).collect();
            assert_eq!(error.body_excerpt.as_deref(), Some(excerpt.as_str()));
        }
    }
    let long = "x".repeat(1000);
    for error in errors(502, &long) {
        assert_eq!(error.body_excerpt.map(|e| e.len()), Some(200));
    }
}

/// Spec §4.3, verbatim, with the HTTP status each example comes with.
#[test]
fn spec_example_error_bodies() {
    let examples: &[(u16, &str, i64, &str, ErrorKind)] = &[
        (
            400,
            r#"{"success":false,"code":400,"msg":"Missing required parameter: uploadPath"}"#,
            400,
            "Missing required parameter: uploadPath",
            ErrorKind::BadRequest,
        ),
        (
            400,
            r#"{"success":false,"code":400,"msg":"Base64 decoding failed: Invalid Base64 format"}"#,
            400,
            "Base64 decoding failed: Invalid Base64 format",
            ErrorKind::BadRequest,
        ),
        (
            401,
            r#"{"success":false,"code":401,"msg":"Authentication failed: Invalid API Key"}"#,
            401,
            "Authentication failed: Invalid API Key",
            ErrorKind::Unauthorized,
        ),
        (
            500,
            r#"{"success":false,"code":500,"msg":"Internal server error"}"#,
            500,
            "Internal server error",
            ErrorKind::Server,
        ),
        (
            200,
            r#"{"code":401,"msg":"You do not have access permissions"}"#,
            401,
            "You do not have access permissions",
            ErrorKind::Unauthorized,
        ),
        (
            500,
            r#"{"code":500,"msg":"Server Error - An unexpected error occurred while processing the request","data":null}"#,
            500,
            "Server Error - An unexpected error occurred while processing the request",
            ErrorKind::Server,
        ),
        (
            200,
            r#"{"code":400,"msg":"taskId parameter is required"}"#,
            400,
            "taskId parameter is required",
            ErrorKind::BadRequest,
        ),
        (
            200,
            r#"{"code":401,"msg":"Unauthorized"}"#,
            401,
            "Unauthorized",
            ErrorKind::Unauthorized,
        ),
        (
            200,
            r#"{"code":404,"msg":"Task not found"}"#,
            404,
            "Task not found",
            ErrorKind::NotFound,
        ),
        (
            200,
            r#"{"code":422,"msg":"recordInfo is null","data":null}"#,
            422,
            "recordInfo is null",
            ErrorKind::Validation,
        ),
        (
            200,
            r#"{"code":429,"msg":"Rate limit exceeded"}"#,
            429,
            "Rate limit exceeded",
            ErrorKind::RateLimited,
        ),
        (
            200,
            r#"{"code":402,"msg":"Insufficient credits","data":null}"#,
            402,
            "Insufficient credits",
            ErrorKind::InsufficientCredits,
        ),
        (
            200,
            r#"{"code":429,"msg":"Too many requests","data":null}"#,
            429,
            "Too many requests",
            ErrorKind::RateLimited,
        ),
        (
            200,
            r#"{"code":422,"msg":"Validation Error – Invalid URL (External file URLs are not supported)","data":null}"#,
            422,
            "Validation Error – Invalid URL (External file URLs are not supported)",
            ErrorKind::Validation,
        ),
        (
            200,
            r#"{"success":false,"code":200,"msg":"?"}"#,
            200,
            "?",
            ErrorKind::Other,
        ),
    ];
    for &(status, body, code, msg, kind) in examples {
        for error in errors(status, body) {
            assert_eq!(
                error.status,
                StatusCode::from_u16(status).unwrap(),
                "{body}"
            );
            assert_eq!(error.code, Some(code), "{body}");
            assert_eq!(error.message.as_deref(), Some(msg), "{body}");
            assert_eq!(error.kind, kind, "{body}");
        }
    }
}

const ENDPOINT_PAGE_SHAPE: &str = r#"{"success":true,"code":200,"msg":"File uploaded successfully","data":{"fileName":"uploaded-image.png","filePath":"images/user-uploads/uploaded-image.png","downloadUrl":"https://tempfile.redpandaai.co/xxx/images/user-uploads/uploaded-image.png","fileSize":154832,"mimeType":"image/png","uploadedAt":"2025-01-01T12:00:00.000Z"}}"#;
const QUICKSTART_SHAPE: &str = r#"{"success":true,"code":200,"msg":"文件上传成功","data":{"fileId":"file_abc123456","fileName":"my-image.jpg","originalName":"sample-image.jpg","fileSize":245760,"mimeType":"image/jpeg","uploadPath":"images","fileUrl":"https://kieai.redpandaai.co/files/images/my-image.jpg","downloadUrl":"https://kieai.redpandaai.co/download/file_abc123456","uploadTime":"2025-01-15T10:30:00Z","expiresAt":"2025-01-18T10:30:00Z","unknownField":{"a":1}}}"#;

fn uploads(status: u16, body: &str) -> Vec<UploadResult> {
    let (base64, stream, url, _) = ops();
    vec![
        base64.parse_response(response(status, body)).unwrap(),
        stream.parse_response(response(status, body)).unwrap(),
        url.parse_response(response(status, body)).unwrap(),
    ]
}

#[test]
fn both_success_shapes() {
    for result in uploads(200, ENDPOINT_PAGE_SHAPE) {
        assert_eq!(
            result.download_url,
            "https://tempfile.redpandaai.co/xxx/images/user-uploads/uploaded-image.png"
        );
        assert_eq!(result.file_name.as_deref(), Some("uploaded-image.png"));
        assert_eq!(
            result.file_path.as_deref(),
            Some("images/user-uploads/uploaded-image.png")
        );
        assert_eq!(result.file_size, Some(154_832));
        assert_eq!(result.mime_type.as_deref(), Some("image/png"));
        assert_eq!(
            result.uploaded_at.as_deref(),
            Some("2025-01-01T12:00:00.000Z")
        );
        assert_eq!(
            (
                result.file_id,
                result.original_name,
                result.upload_path,
                result.file_url,
                result.expires_at
            ),
            (None, None, None, None, None)
        );
    }
    for result in uploads(200, QUICKSTART_SHAPE) {
        assert_eq!(
            result.download_url,
            "https://kieai.redpandaai.co/download/file_abc123456"
        );
        assert_eq!(result.file_id.as_deref(), Some("file_abc123456"));
        assert_eq!(result.file_name.as_deref(), Some("my-image.jpg"));
        assert_eq!(result.original_name.as_deref(), Some("sample-image.jpg"));
        assert_eq!(result.file_size, Some(245_760));
        assert_eq!(result.mime_type.as_deref(), Some("image/jpeg"));
        assert_eq!(result.upload_path.as_deref(), Some("images"));
        assert_eq!(
            result.file_url.as_deref(),
            Some("https://kieai.redpandaai.co/files/images/my-image.jpg")
        );
        assert_eq!(result.uploaded_at.as_deref(), Some("2025-01-15T10:30:00Z"));
        assert_eq!(result.expires_at.as_deref(), Some("2025-01-18T10:30:00Z"));
        assert_eq!(result.file_path, None);
    }
    // fileUrl stands in for a missing downloadUrl; any 2xx counts.
    for result in uploads(201, r#"{"code":200,"data":{"fileUrl":"https://x/y.png"}}"#) {
        assert_eq!(result.download_url, "https://x/y.png");
    }
}

#[test]
fn common_api_successes() {
    let credits = |body: &str| GetCredits.parse_response(response(200, body));
    assert_eq!(
        credits(r#"{"code":200,"msg":"success","data":100}"#),
        Ok(100.0)
    );
    assert_eq!(
        credits(r#"{"code":200,"msg":"success","data":4.8}"#),
        Ok(4.8)
    );
    let (_, _, _, download) = ops();
    assert_eq!(
        download.parse_response(response(
            200,
            r#"{"code":200,"msg":"success","data":"https://tempfile.1f6cxxxx/bd98"}"#
        )),
        Ok("https://tempfile.1f6cxxxx/bd98".to_owned())
    );
}

#[test]
fn retry_after_seconds_and_date() {
    let date = "Wed, 21 Oct 2037 07:28:00 GMT";
    let at = httpdate::parse_http_date(date).unwrap();
    let cases: &[(u16, &str, &str, Option<RetryAfter>)] = &[
        (
            429,
            r#"{"code":429,"msg":"Rate limit exceeded"}"#,
            "30",
            Some(RetryAfter::Delay(Duration::from_secs(30))),
        ),
        (
            200,
            r#"{"code":429,"msg":"Too many requests","data":null}"#,
            "0",
            Some(RetryAfter::Delay(Duration::ZERO)),
        ),
        (
            455,
            r#"{"code":455,"msg":"maintenance"}"#,
            date,
            Some(RetryAfter::At(at)),
        ),
        (
            503,
            "<html>Service Unavailable</html>",
            "120",
            Some(RetryAfter::Delay(Duration::from_secs(120))),
        ),
        (
            503,
            "<html>Service Unavailable</html>",
            date,
            Some(RetryAfter::At(at)),
        ),
        (429, "{}", "soon", None),
        (429, "{}", "-5", None),
    ];
    for &(status, body, value, expected) in cases {
        let make = || {
            http::Response::builder()
                .status(status)
                .header(header::RETRY_AFTER, value)
                .body(body.as_bytes())
                .unwrap()
        };
        let (base64, stream, url, download) = ops();
        let all = [
            base64.parse_response(make()).unwrap_err(),
            stream.parse_response(make()).unwrap_err(),
            url.parse_response(make()).unwrap_err(),
            GetCredits.parse_response(make()).unwrap_err(),
            download.parse_response(make()).unwrap_err(),
        ];
        for error in all {
            assert_eq!(error.retry_after, expected, "{status} {value}");
        }
    }
    let now = at - Duration::from_secs(90);
    assert_eq!(RetryAfter::At(at).delay_from(now), Duration::from_secs(90));
    assert_eq!(
        RetryAfter::At(at).delay_from(SystemTime::now() + Duration::from_secs(1 << 40)),
        Duration::ZERO
    );
}

// ---------------------------------------------------------------------------------------
// Exact requests.
// ---------------------------------------------------------------------------------------

fn api() -> Api {
    Api::new(ApiKey::new("sk-test-123").unwrap())
        .with_upload_base_url("http://127.0.0.1:8080/")
        .unwrap()
        .with_api_base_url("http://127.0.0.1:8081")
        .unwrap()
}

/// The request as text: request line, headers in order, blank line, body (framed bodies
/// with `content`).
fn wire(request: &http::Request<Body>, content: &[u8]) -> String {
    assert!(request.headers()[header::AUTHORIZATION].is_sensitive());
    let mut text = format!("{} {}\n", request.method(), request.uri());
    for (name, value) in request.headers() {
        text.push_str(&format!("{name}: {}\n", value.to_str().unwrap()));
    }
    text.push('\n');
    let body = match request.body() {
        Body::Empty => Vec::new(),
        Body::Complete(bytes) => bytes.clone(),
        Body::Framed(framed) => framed.to_vec(content).unwrap(),
    };
    if !matches!(request.body(), Body::Empty) {
        assert_eq!(
            request.headers()[header::CONTENT_LENGTH],
            body.len().to_string().as_str()
        );
    }
    assert_eq!(request.body().len(), body.len() as u64);
    text.push_str(&String::from_utf8(body).unwrap());
    text
}

#[test]
fn default_user_agent() {
    assert_eq!(kie_proto::DEFAULT_USER_AGENT, "kie-rs/0.1.0");
    let request = GetCredits
        .to_request(&Api::new(ApiKey::new("k").unwrap()))
        .unwrap();
    assert_eq!(request.uri(), "https://api.kie.ai/api/v1/chat/credit");
    assert_eq!(request.headers()[header::USER_AGENT], "kie-rs/0.1.0");
    let request = ops()
        .0
        .to_request(&Api::new(ApiKey::new("k").unwrap()))
        .unwrap();
    assert_eq!(
        request.uri(),
        "https://kieai.redpandaai.co/api/file-base64-upload"
    );
}

#[test]
fn get_credits_request() {
    let request = GetCredits.to_request(&api()).unwrap();
    assert_eq!(request.method(), Method::GET);
    assert_eq!(
        wire(&request, b""),
        "GET http://127.0.0.1:8081/api/v1/chat/credit\n\
         authorization: Bearer sk-test-123\n\
         user-agent: kie-rs/0.1.0\n\
         accept: application/json\n\
         \n"
    );
    assert_eq!(request.headers().get(header::CONTENT_LENGTH), None);
}

#[test]
fn get_download_url_request() {
    let op = GetDownloadUrl::new(
        HttpUrl::new("https://tempfile.aiquickdraw.com/path/to/image.jpg").unwrap(),
    );
    let request = op.to_request(&api()).unwrap();
    assert_eq!(
        wire(&request, b""),
        "POST http://127.0.0.1:8081/api/v1/common/download-url\n\
         authorization: Bearer sk-test-123\n\
         user-agent: kie-rs/0.1.0\n\
         accept: application/json\n\
         content-type: application/json\n\
         content-length: 60\n\
         \n\
         {\"url\":\"https://tempfile.aiquickdraw.com/path/to/image.jpg\"}"
    );
}

#[test]
fn url_upload_request() {
    let op = UrlUpload::new(
        UploadPath::new("images/downloaded").unwrap(),
        HttpUrl::new("https://example.com/images/sample.jpg").unwrap(),
    )
    .with_file_name(FileName::new("my-downloaded-image.jpg").unwrap());
    let request = op.to_request(&api()).unwrap();
    assert_eq!(
        wire(&request, b""),
        "POST http://127.0.0.1:8080/api/file-url-upload\n\
         authorization: Bearer sk-test-123\n\
         user-agent: kie-rs/0.1.0\n\
         accept: application/json\n\
         content-type: application/json\n\
         content-length: 121\n\
         \n\
         {\"fileUrl\":\"https://example.com/images/sample.jpg\",\"uploadPath\":\"images/downloaded\",\"fileName\":\"my-downloaded-image.jpg\"}"
    );
}

#[test]
fn base64_upload_requests() {
    let png = [0x89, b'P', b'N', b'G'];
    let bare = Base64Upload::new(UploadPath::new("documents/uploads").unwrap(), 4);
    assert_eq!(
        wire(&bare.to_request(&api()).unwrap(), &png),
        "POST http://127.0.0.1:8080/api/file-base64-upload\n\
         authorization: Bearer sk-test-123\n\
         user-agent: kie-rs/0.1.0\n\
         accept: application/json\n\
         content-type: application/json\n\
         content-length: 58\n\
         \n\
         {\"uploadPath\":\"documents/uploads\",\"base64Data\":\"iVBORw==\"}"
    );
    let data_url = Base64Upload::new(UploadPath::new("images/base64").unwrap(), 4)
        .with_file_name(FileName::new("test \"image\".png").unwrap())
        .with_form(Base64Form::DataUrl(MimeType::new("image/png").unwrap()));
    assert_eq!(
        wire(&data_url.to_request(&api()).unwrap(), &png),
        "POST http://127.0.0.1:8080/api/file-base64-upload\n\
         authorization: Bearer sk-test-123\n\
         user-agent: kie-rs/0.1.0\n\
         accept: application/json\n\
         content-type: application/json\n\
         content-length: 108\n\
         \n\
         {\"uploadPath\":\"images/base64\",\"fileName\":\"test \\\"image\\\".png\",\"base64Data\":\"data:image/png;base64,iVBORw==\"}"
    );
}

#[test]
fn stream_upload_request() {
    let op = StreamUpload::new(
        UploadPath::new("images/user-uploads").unwrap(),
        FileName::new("my \"cat\" ü.jpg").unwrap(),
        5,
    )
    .with_mime_type(MimeType::new("image/jpeg").unwrap())
    .with_boundary(Boundary::from_random_bytes([0x5a; 16]));
    let request = op.to_request(&api()).unwrap();
    let b = "kie-rs-5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
    let body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"uploadPath\"\r\n\r\nimages/user-uploads\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"fileName\"\r\n\r\nmy \"cat\" ü.jpg\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"my \\\"cat\\\" ü.jpg\"\r\n\
         Content-Type: image/jpeg\r\n\r\nhello\r\n--{b}--\r\n"
    );
    assert_eq!(
        wire(&request, b"hello"),
        format!(
            "POST http://127.0.0.1:8080/api/file-stream-upload\n\
             authorization: Bearer sk-test-123\n\
             user-agent: kie-rs/0.1.0\n\
             accept: application/json\n\
             content-type: multipart/form-data; boundary={b}\n\
             content-length: {}\n\
             \n{body}",
            body.len()
        )
    );
}
