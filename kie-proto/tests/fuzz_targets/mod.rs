//! The bodies of the fuzz targets in `fuzz/`, shared with the workspace tests.
//!
//! `fuzz/fuzz_targets/*.rs` include this file with `#[path]`, and
//! `kie-proto/tests/fuzz_corpus.rs` replays the checked-in corpus through the same functions
//! on stable; `proptest_bodies.rs` reuses the checkers. Every function panics when an
//! invariant breaks and returns quietly otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::future::Future;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};
use kie_proto::webhook::{self, WebhookVerifier};
use kie_proto::{
    Api, ApiError, ApiKey, Base64Form, Base64Upload, Body, Boundary, ErrorKind, FileName,
    GetCredits, GetDownloadUrl, HttpUrl, InvalidInput, MimeType, Operation, RetryAfter,
    StreamUpload, UploadPath, UrlUpload,
};

// ---------------------------------------------------------------------------------------
// Fuzz target entry points (raw bytes in).
// ---------------------------------------------------------------------------------------

/// `parse_response` target. Input: 2 bytes big-endian status (mapped into 100..=999),
/// 1 byte `n` (0: no `Retry-After`; else the next `n - 1` bytes are its value), then the body.
pub fn parse_response(data: &[u8]) {
    let [a, b, rest @ ..] = data else {
        return check_response(200, None, data);
    };
    let status = 100 + u16::from_be_bytes([*a, *b]) % 900;
    let (retry_after, body) = match rest {
        [0, body @ ..] => (None, body),
        [n, rest @ ..] => {
            let len = usize::from(*n - 1).min(rest.len());
            (Some(&rest[..len]), &rest[len..])
        }
        [] => (None, rest),
    };
    check_response(status, retry_after, body);
}

/// `data_url` target. Input: any bytes. As text they go through
/// [`kie_proto::parse_data_url`] / [`kie_proto::decode_base64_data`]; as content they go
/// through a base64 upload in both forms and are decoded back.
pub fn data_url(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        check_data_url_text(text);
    }
    let mime = MimeType::new("image/png").unwrap();
    let chunks = chunk_sizes_from(data);
    for form in [Base64Form::Bare, Base64Form::DataUrl(mime)] {
        check_base64_upload("images/base64", Some("test-image.png"), form, data, &chunks);
    }
}

/// `webhook_verify` target. Input: `key NUL timestamp NUL signature NUL body` (missing
/// parts are empty; an empty timestamp or signature means the header is absent).
pub fn webhook_verify(data: &[u8]) {
    let mut parts = data.splitn(4, |&b| b == 0);
    let key = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let timestamp = parts.next().unwrap_or_default();
    let signature = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    check_webhook(&key, timestamp, signature, body);
}

/// `multipart_roundtrip` target. Input: 1 byte path length, 1 byte name length, 16 bytes
/// boundary randomness (as many as there are), the path, the name (both lossy UTF-8), then
/// the content. The content's bytes also pick the chunk sizes.
pub fn multipart_roundtrip(data: &[u8]) {
    let take = |data: &mut &[u8], n: usize| {
        let n = n.min(data.len());
        let (head, rest) = data.split_at(n);
        *data = rest;
        head.to_vec()
    };
    let mut rest = data;
    let lens = take(&mut rest, 2);
    let (path_len, name_len) = match lens[..] {
        [p, n] => (usize::from(p), usize::from(n)),
        _ => (6, 5),
    };
    let mut seed = [0u8; 16];
    let seed_bytes = take(&mut rest, 16);
    seed[..seed_bytes.len()].copy_from_slice(&seed_bytes);
    let path = String::from_utf8_lossy(&take(&mut rest, path_len)).into_owned();
    let name = String::from_utf8_lossy(&take(&mut rest, name_len)).into_owned();
    let content = rest;
    let chunks = chunk_sizes_from(content);
    let mime = kie_proto::detect_mime(content, Some(&name));
    check_stream_upload(
        &path,
        &name,
        mime,
        content,
        Boundary::from_random_bytes(seed),
        &chunks,
        &chunks,
        |wire, boundary| block_on(parse_multipart(wire, boundary)),
    );
}

/// `input_validation` target. Input: any bytes, read as lossy UTF-8 text and checked both
/// as a URL ([`HttpUrl`], `UploadOptions::url_upload`) and as an API key ([`ApiKey`]).
pub fn input_validation(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    check_http_url(&text);
    check_api_key(&text);
}

/// `boundary` target. Input: any bytes, as lossy UTF-8, as a caller-chosen boundary.
pub fn boundary(data: &[u8]) {
    check_boundary(&String::from_utf8_lossy(data));
}

/// `retry_after` target. Input: 1 byte attempt number, 1 byte randomness, then the
/// `Retry-After` header value.
pub fn retry_after(data: &[u8]) {
    let [attempt, random, value @ ..] = data else {
        return;
    };
    check_retry_after(u32::from(*attempt % 8), f64::from(*random) / 256.0, value);
}

// ---------------------------------------------------------------------------------------
// Responses.
// ---------------------------------------------------------------------------------------

struct Operations {
    base64: Base64Upload,
    stream: StreamUpload,
    url: UrlUpload,
    download: GetDownloadUrl,
}

fn operations() -> &'static Operations {
    static OPS: OnceLock<Operations> = OnceLock::new();
    OPS.get_or_init(|| {
        let path = UploadPath::new("images").unwrap();
        let name = FileName::new("a.png").unwrap();
        Operations {
            base64: Base64Upload::new(path.clone(), 1),
            stream: StreamUpload::new(path.clone(), name, 1)
                .with_boundary(Boundary::new("B").unwrap()),
            url: UrlUpload::new(path, HttpUrl::new("https://example.com/a.png").unwrap()),
            download: GetDownloadUrl::new(
                HttpUrl::new("https://tempfile.aiquickdraw.com/a.png").unwrap(),
            ),
        }
    })
}

/// Feeds one answer to the `parse_response` of all five operations and checks the result.
pub fn check_response(status: u16, retry_after: Option<&[u8]>, body: &[u8]) {
    let header = retry_after.and_then(|v| HeaderValue::from_bytes(v).ok());
    let make = || {
        let mut builder = http::Response::builder().status(status);
        if let Some(value) = &header {
            builder = builder.header(header::RETRY_AFTER, value.clone());
        }
        builder.body(body).unwrap()
    };
    let ops = operations();
    let outcomes = [
        ops.base64.parse_response(make()).map(|_| ()),
        ops.stream.parse_response(make()).map(|_| ()),
        ops.url.parse_response(make()).map(|_| ()),
        GetCredits.parse_response(make()).map(|_| ()),
        ops.download.parse_response(make()).map(|_| ()),
    ];
    // A UTF-8 byte order mark in front changes nothing, not even the excerpt.
    if !body.starts_with(b"\xEF\xBB\xBF") {
        let mut with_bom = b"\xEF\xBB\xBF".to_vec();
        with_bom.extend_from_slice(body);
        let make_bom = || make().map(|_| &with_bom[..]);
        assert_eq!(
            ops.base64.parse_response(make()),
            ops.base64.parse_response(make_bom())
        );
        assert_eq!(
            ops.url.parse_response(make()),
            ops.url.parse_response(make_bom())
        );
        assert_eq!(
            GetCredits.parse_response(make()).map(f64::to_bits),
            GetCredits.parse_response(make_bom()).map(f64::to_bits)
        );
        assert_eq!(
            ops.download.parse_response(make()),
            ops.download.parse_response(make_bom())
        );
    }
    for outcome in outcomes {
        match outcome {
            Ok(()) => assert!(
                success_allowed(status, body),
                "success for HTTP {status} and body {:?}",
                String::from_utf8_lossy(body)
            ),
            Err(error) => check_error(&error, status, header.as_ref(), body),
        }
    }
}

/// The spec §4.1 rule, independently: 2xx, a JSON object (after an optional UTF-8 BOM, with
/// invalid UTF-8 read lossily), `success` absent/null/true/"true" (any case), and `code`
/// absent/null or 200 (as an integer, an integral float or a numeric string).
pub fn success_allowed(status: u16, body: &[u8]) -> bool {
    use serde_json::Value;
    let Some(envelope) = envelope_members(body) else {
        return false;
    };
    // A member that is not valid for `Value` (a number out of range) is unreadable.
    let member = |name: &str| {
        envelope
            .get(name)
            .map(|raw| serde_json::from_str::<Value>(raw.get()).map_err(drop))
    };
    let success_ok = match member("success") {
        None | Some(Ok(Value::Null)) | Some(Ok(Value::Bool(true))) => true,
        Some(Ok(Value::String(s))) => s.trim().eq_ignore_ascii_case("true"),
        Some(_) => false,
    };
    let code_ok = match member("code") {
        None | Some(Ok(Value::Null)) => true,
        Some(Ok(Value::Number(n))) => n.as_i64() == Some(200) || n.as_f64() == Some(200.0),
        Some(Ok(Value::String(s))) => s.trim().parse::<i64>() == Ok(200),
        Some(_) => false,
    };
    (200..300).contains(&status) && success_ok && code_ok
}

/// The members of `body` when it is a JSON object, each kept as raw JSON text: members the
/// SDK ignores may hold anything JSON allows, numbers beyond `f64` included (`{"x":1e400}`),
/// which `serde_json::Value` would refuse. A leading UTF-8 BOM is skipped and invalid UTF-8
/// read lossily, as the SDK does (KIE.AI's answers are read as sent).
pub fn envelope_members(
    body: &[u8],
) -> Option<std::collections::BTreeMap<String, Box<serde_json::value::RawValue>>> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    serde_json::from_str(&String::from_utf8_lossy(body)).ok()
}

fn check_error(error: &ApiError, status: u16, retry_after: Option<&HeaderValue>, body: &[u8]) {
    assert_eq!(error.status.as_u16(), status);
    let mut headers = HeaderMap::new();
    if let Some(value) = retry_after {
        headers.insert(header::RETRY_AFTER, value.clone());
    }
    assert_eq!(error.retry_after, RetryAfter::from_headers(&headers));
    if let Some(seconds) = retry_after
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        assert_eq!(
            error.retry_after,
            Some(RetryAfter::Delay(Duration::from_secs(seconds)))
        );
    }
    if let Some(excerpt) = &error.body_excerpt {
        assert!(excerpt.chars().count() <= 200);
        assert_eq!(error.code, None);
    }
    if envelope_members(body).is_none() {
        assert!(error.body_excerpt.is_some(), "{error:?}");
    }
    match error.kind {
        ErrorKind::RateLimited | ErrorKind::Maintenance | ErrorKind::Server => {
            assert!(error.is_retryable());
        }
        ErrorKind::Unauthorized | ErrorKind::BadRequest | ErrorKind::CdnRefused => {
            assert!(!error.is_retryable());
        }
        _ => {}
    }
    assert!(error.to_string().starts_with("KIE.AI answered HTTP "));
}

// ---------------------------------------------------------------------------------------
// Base64 and data URLs.
// ---------------------------------------------------------------------------------------

/// Checks `parse_data_url` / `decode_base64_data` on arbitrary text.
pub fn check_data_url_text(text: &str) {
    if let Some((mime, payload)) = kie_proto::parse_data_url(text) {
        assert!(text[..5].eq_ignore_ascii_case("data:"));
        assert_eq!(
            text.len(),
            5 + mime.len() + ";base64,".len() + payload.len()
        );
        assert_eq!(&text[5..5 + mime.len()], mime);
        assert!(
            text[5 + mime.len()..]
                .to_ascii_lowercase()
                .starts_with(";base64,")
        );
        assert!(text.ends_with(payload));
        assert!(!mime.contains(','));
    }
    let is_data = text
        .get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("data:"));
    let payload = if is_data {
        kie_proto::parse_data_url(text).map(|(_, payload)| payload)
    } else {
        Some(text)
    };
    let decoded = kie_proto::decode_base64_data(text);
    match (payload, &decoded) {
        (Some(payload), Some(bytes)) => assert_eq!(STANDARD.encode(bytes), payload),
        (Some(payload), None) => assert!(STANDARD.decode(payload).is_err()),
        (None, decoded) => assert_eq!(decoded, &None),
    }
    // A data URL made of a valid MIME type and this decoded content reads back.
    if let (Some((mime, _)), Some(bytes)) = (kie_proto::parse_data_url(text), decoded)
        && let Ok(mime) = MimeType::new(mime)
    {
        let chunks = chunk_sizes_from(&bytes);
        check_base64_upload("a", None, Base64Form::DataUrl(mime), &bytes, &chunks);
    }
}

/// Builds a [`Base64Upload`], streams `content` through its encoder in `chunks`, and checks
/// the JSON body: it parses, names the same fields, and `base64Data` decodes to `content`.
/// Returns the body (empty content must instead be refused before sending).
pub fn check_base64_upload(
    upload_path: &str,
    file_name: Option<&str>,
    form: Base64Form,
    content: &[u8],
    chunks: &[usize],
) -> Vec<u8> {
    let mut upload = Base64Upload::new(UploadPath::new(upload_path).unwrap(), content.len() as u64)
        .with_form(form.clone());
    if let Some(name) = file_name {
        upload = upload.with_file_name(FileName::new(name).unwrap());
    }
    let request = upload.to_request(&test_api());
    if content.is_empty() {
        // The service reads an empty base64Data as missing: refused before sending.
        assert_eq!(
            request.err(),
            Some(kie_proto::InvalidInput::Base64ContentEmpty)
        );
        return Vec::new();
    }
    let request = request.unwrap();
    let Body::Framed(framed) = request.body() else {
        panic!("base64 upload body is not framed");
    };
    let wire = encode_framed(framed, content, chunks)
        .into_iter()
        .flatten()
        .collect::<Vec<u8>>();
    assert_eq!(content_length(&request), wire.len() as u64);
    assert_eq!(framed.len(), wire.len() as u64);

    let json: serde_json::Value = serde_json::from_slice(&wire).unwrap();
    let object = json.as_object().unwrap();
    let expected_keys = 2 + usize::from(file_name.is_some());
    assert_eq!(object.len(), expected_keys, "{json}");
    assert_eq!(object["uploadPath"], upload_path);
    assert_eq!(object.get("fileName").and_then(|v| v.as_str()), file_name);
    let data = object["base64Data"].as_str().unwrap();
    let payload = match &form {
        Base64Form::Bare => data,
        Base64Form::DataUrl(mime) => data
            .strip_prefix(&format!("data:{mime};base64,"))
            .expect("data URL prefix"),
        other => panic!("no check for base64 form {other:?}"),
    };
    assert_eq!(payload, STANDARD.encode(content));
    assert_eq!(STANDARD.decode(payload).unwrap(), content);
    assert_eq!(
        kie_proto::decode_base64_data(data).as_deref(),
        Some(content)
    );
    wire
}

// ---------------------------------------------------------------------------------------
// Multipart.
// ---------------------------------------------------------------------------------------

/// The error `UploadPath::new(path)` must give, from the documented rules in their order.
pub fn expected_upload_path_error(path: &str) -> Option<InvalidInput> {
    let owned = || path.to_owned();
    if path.is_empty() {
        Some(InvalidInput::UploadPathEmpty)
    } else if path.chars().any(char::is_control) {
        Some(InvalidInput::UploadPathControlChar(owned()))
    } else if path.starts_with('/') || path.ends_with('/') {
        Some(InvalidInput::UploadPathSlash(owned()))
    } else if path.split('/').any(str::is_empty) {
        Some(InvalidInput::UploadPathEmptySegment(owned()))
    } else if path.split('/').any(|s| s == "." || s == "..") {
        Some(InvalidInput::UploadPathDotSegment(owned()))
    } else {
        None
    }
}

/// The error `FileName::new(name)` must give, from the documented rules in their order.
pub fn expected_file_name_error(name: &str) -> Option<InvalidInput> {
    if name.is_empty() {
        Some(InvalidInput::FileNameEmpty)
    } else if name.chars().any(char::is_control) {
        Some(InvalidInput::FileNameControlChar(name.to_owned()))
    } else if name.contains(['/', '\\']) {
        Some(InvalidInput::FileNameSeparator(name.to_owned()))
    } else if name == "." || name == ".." {
        Some(InvalidInput::FileNameDotName)
    } else {
        None
    }
}

/// One part as `multer` read it.
#[derive(Debug)]
pub struct Part {
    /// `name` parameter.
    pub name: Option<String>,
    /// `filename` parameter as multer reads it.
    pub file_name: Option<String>,
    /// Raw `Content-Disposition` header.
    pub disposition: Vec<u8>,
    /// Raw `Content-Type` header.
    pub content_type: Option<Vec<u8>>,
    /// The part's bytes.
    pub data: Bytes,
}

/// Parses a multipart body delivered as `chunks` with `multer`.
pub async fn parse_multipart(chunks: Vec<Bytes>, boundary: String) -> multer::Result<Vec<Part>> {
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = multipart.next_field().await? {
        let headers = field.headers();
        let disposition = headers
            .get(header::CONTENT_DISPOSITION)
            .map(|v| v.as_bytes().to_vec())
            .unwrap_or_default();
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.as_bytes().to_vec());
        let name = field.name().map(str::to_owned);
        let file_name = field.file_name().map(str::to_owned);
        let data = field.bytes().await?;
        parts.push(Part {
            name,
            file_name,
            disposition,
            content_type,
            data,
        });
    }
    Ok(parts)
}

/// Validates `path` and `name` (checking the error variant when they break a rule); when
/// both are valid, builds a [`StreamUpload`], streams `content` through its encoder in
/// `content_chunks`, re-splits the wire bytes in `wire_chunks`, parses them with `parse`
/// and checks that exactly `uploadPath`, `fileName` and the file come back.
#[allow(clippy::too_many_arguments)]
pub fn check_stream_upload(
    path: &str,
    name: &str,
    mime: MimeType,
    content: &[u8],
    boundary: Boundary,
    content_chunks: &[usize],
    wire_chunks: &[usize],
    parse: impl FnOnce(Vec<Bytes>, String) -> multer::Result<Vec<Part>>,
) {
    let upload_path = UploadPath::new(path);
    assert_eq!(
        upload_path.as_ref().err(),
        expected_upload_path_error(path).as_ref()
    );
    let file_name = FileName::new(name);
    assert_eq!(
        file_name.as_ref().err(),
        expected_file_name_error(name).as_ref()
    );
    let (Ok(upload_path), Ok(file_name)) = (upload_path, file_name) else {
        return;
    };
    let upload = StreamUpload::new(upload_path, file_name, content.len() as u64)
        .with_mime_type(mime.clone())
        .with_boundary(boundary.clone());
    let request = upload.to_request(&test_api()).unwrap();
    assert_eq!(
        request.headers()[header::CONTENT_TYPE],
        boundary.content_type().as_str()
    );
    let Body::Framed(framed) = request.body() else {
        panic!("stream upload body is not framed");
    };
    let wire: Vec<u8> = encode_framed(framed, content, content_chunks)
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(content_length(&request), wire.len() as u64);
    assert_eq!(framed.len(), wire.len() as u64);

    // A content that holds the delimiter itself (`\r\n--` and the boundary; at its very
    // start, `--` and the boundary after the part's blank line) cannot come back from any
    // multipart parser. A random 128-bit boundary never meets one by chance, but a fuzzer
    // that also picks the seed can write it, and so can a lookalike that the next random
    // byte completes: no round trip to check then.
    let delimiter = format!("\r\n--{}", boundary.as_str());
    let after_blank_line = [b"\r\n", content].concat();
    if after_blank_line
        .windows(delimiter.len())
        .any(|window| window == delimiter.as_bytes())
    {
        return;
    }
    let parts = parse(split(&wire, wire_chunks), boundary.as_str().to_owned()).unwrap();
    assert_eq!(parts.len(), 3, "{parts:?}");
    assert_eq!(parts[0].name.as_deref(), Some("uploadPath"));
    assert_eq!(parts[0].file_name, None);
    assert_eq!(parts[0].data, path.as_bytes());
    assert_eq!(parts[1].name.as_deref(), Some("fileName"));
    assert_eq!(parts[1].file_name, None);
    assert_eq!(parts[1].data, name.as_bytes());
    let file = &parts[2];
    assert_eq!(file.name.as_deref(), Some("file"));
    assert_eq!(file.data, content);
    assert_eq!(file.content_type.as_deref(), Some(mime.as_str().as_bytes()));
    let disposition = std::str::from_utf8(&file.disposition).unwrap();
    let raw = disposition
        .split_once("; filename=")
        .map(|(_, quoted)| quoted)
        .expect("filename parameter");
    assert_eq!(unquote(raw).as_deref(), Some(name), "{disposition}");
    if !name.contains('\\') {
        assert_eq!(file.file_name.as_deref(), Some(name));
    }
}

/// Reads one RFC 9110 quoted-string that must span all of `text`: `"…"` with `\x` standing
/// for `x`. `None` if `text` is not exactly that.
pub fn unquote(text: &str) -> Option<String> {
    let inner = text.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return chars.next().is_none().then_some(out),
            c => out.push(c),
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// Webhooks.
// ---------------------------------------------------------------------------------------

/// A fixed "now" for webhook checks.
pub const WEBHOOK_NOW: u64 = 1_769_670_800;

/// Verifies a callback built from the parts and checks the verdict; then signs the body's
/// task id properly and checks that verifies.
pub fn check_webhook(key: &str, timestamp: &[u8], signature: &[u8], body: &[u8]) {
    let Ok(verifier) = WebhookVerifier::new(key) else {
        assert!(key.is_empty());
        return;
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(WEBHOOK_NOW);
    let mut headers = HeaderMap::new();
    let timestamp_value = (!timestamp.is_empty())
        .then(|| HeaderValue::from_bytes(timestamp).ok())
        .flatten();
    if let Some(value) = &timestamp_value {
        headers.insert(webhook::TIMESTAMP_HEADER, value.clone());
    }
    if let Some(value) = (!signature.is_empty())
        .then(|| HeaderValue::from_bytes(signature).ok())
        .flatten()
    {
        headers.insert(webhook::SIGNATURE_HEADER, value);
    }
    let task_id = webhook::task_id(body);
    if let Ok(verified) = verifier.verify(&headers, body, now) {
        let timestamp = std::str::from_utf8(timestamp).unwrap();
        assert_eq!(Ok(&verified.task_id), task_id.as_ref());
        assert_eq!(
            signature,
            webhook::sign(key, &verified.task_id, timestamp).as_bytes()
        );
        assert_eq!(timestamp.parse::<u64>(), Ok(verified.timestamp));
        assert!(verified.timestamp.abs_diff(WEBHOOK_NOW) <= 300);
    }
    // The same callback, signed as KIE.AI signs it, always verifies without a replay window.
    let (Ok(task_id), Some(value)) = (task_id, timestamp_value) else {
        return;
    };
    let Ok(text) = value.to_str() else { return };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || text.parse::<u64>().is_err()
    {
        return;
    }
    let signed = webhook::sign(key, &task_id, text);
    headers.insert(
        webhook::SIGNATURE_HEADER,
        HeaderValue::from_str(&signed).unwrap(),
    );
    let verified = verifier
        .clone()
        .with_replay_window(None)
        .verify(&headers, body, now)
        .unwrap();
    assert_eq!(verified.task_id, task_id);
    assert_eq!(text.parse::<u64>(), Ok(verified.timestamp));
}

// ---------------------------------------------------------------------------------------
// Inputs: URLs, API keys, boundaries, Retry-After.
// ---------------------------------------------------------------------------------------

/// Checks [`HttpUrl::new`] on arbitrary text: what is accepted is the WHATWG-normalised URL,
/// a fixed point of the check; it is sent as is (URL upload and download-url bodies); the
/// URL-derived file name is the last segment decoded by an independent decoder; what is
/// refused is refused with the variant the rules call for.
pub fn check_http_url(text: &str) {
    let result = HttpUrl::new(text);
    let parsed = url::Url::parse(text);
    let Ok(url) = result else {
        match (result, &parsed) {
            (Err(InvalidInput::UrlInvalid { url, reason, .. }), Err(_)) => {
                assert_eq!(url, text);
                assert!(!reason.is_empty());
            }
            (Err(InvalidInput::UrlScheme { url, .. }), Ok(parsed)) => {
                assert_eq!(url, text);
                assert!(!matches!(parsed.scheme(), "http" | "https"));
            }
            (Err(InvalidInput::UrlInvalid { reason, .. }), Ok(parsed)) => {
                assert!(matches!(parsed.scheme(), "http" | "https"));
                assert_eq!(reason, "no host after \"//\"");
                assert!(parsed.host_str().is_none_or(str::is_empty) || !written_authority(text));
            }
            (other, _) => panic!("{text:?}: {other:?}"),
        }
        return;
    };
    let parsed = parsed.unwrap();
    assert_eq!(url.as_str(), parsed.as_str());
    assert!(matches!(parsed.scheme(), "http" | "https"));
    assert!(!parsed.host_str().unwrap().is_empty());
    assert!(written_authority(text), "{text:?} has no host after //");
    // The normalised form is accepted unchanged.
    assert_eq!(HttpUrl::new(url.as_str()).as_ref(), Ok(&url));
    assert!(url.as_str().is_ascii());

    // What is sent is what was checked.
    let download = GetDownloadUrl::new(url.clone())
        .to_request(&test_api())
        .unwrap();
    let Body::Complete(json) = download.body() else {
        panic!("download-url body is not complete");
    };
    let json: serde_json::Value = serde_json::from_slice(json).unwrap();
    assert_eq!(json["url"], url.as_str());
    let options = kie_proto::UploadOptions::new("images");
    let upload = options.url_upload(text, 7).unwrap();
    let Body::Complete(json) = upload.to_request(&test_api()).unwrap().into_body() else {
        panic!("URL upload body is not complete");
    };
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json["fileUrl"], url.as_str());
    let name = json["fileName"].as_str().unwrap();
    let segment = parsed
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    match percent_decode(segment) {
        Some(decoded)
            if expected_file_name_error(&decoded).is_none()
                && FileName::new(decoded.as_str())
                    .unwrap()
                    .extension()
                    .is_some() =>
        {
            assert_eq!(name, decoded);
        }
        _ => assert_eq!(name, "0000000000000007"),
    }
}

/// Whether `text` is written `scheme://` + a character that is not a slash, after the
/// WHATWG preprocessing (leading/trailing C0 and spaces trimmed, tabs and newlines removed).
fn written_authority(text: &str) -> bool {
    let cleaned: String = text
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let Some(colon) = cleaned.find(':') else {
        return false;
    };
    let rest = &cleaned.as_bytes()[colon + 1..];
    rest.len() > 2 && rest[0] == b'/' && rest[1] == b'/' && !matches!(rest[2], b'/' | b'\\')
}

/// `%XX` decoding written out (independent of the `percent-encoding` crate the SDK uses):
/// a `%` not followed by two hex digits stays as is; `None` if the result is not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Checks [`ApiKey::new`]: accepted exactly when non-empty visible ASCII; the header is
/// `Bearer <key>`, marked sensitive; neither the key's printouts nor the error show it.
pub fn check_api_key(key: &str) {
    let bad = key.bytes().position(|b| !b.is_ascii_graphic());
    match (ApiKey::new(key), bad) {
        (Ok(api_key), None) => {
            assert!(!key.is_empty());
            let header = api_key.authorization().clone();
            assert_eq!(header.as_bytes(), format!("Bearer {key}").as_bytes());
            assert!(header.is_sensitive());
            assert_eq!(format!("{api_key:?}"), "ApiKey([redacted])");
            assert_eq!(api_key.to_string(), "[redacted]");
            let api = Api::new(api_key);
            let request = GetCredits.to_request(&api).unwrap();
            assert_eq!(request.headers()[header::AUTHORIZATION], header);
            assert!(request.headers()[header::AUTHORIZATION].is_sensitive());
        }
        (Err(InvalidInput::ApiKeyEmpty), None) => assert!(key.is_empty()),
        (Err(error @ InvalidInput::ApiKeyInvalidByte { position }), Some(bad)) => {
            assert_eq!(position, bad);
            assert_eq!(
                error.to_string(),
                format!(
                    "API key contains a control character, space or non-ASCII byte at position {bad}; \
                     it cannot be sent in a header (a trailing newline from a file is a common cause)"
                )
            );
        }
        other => panic!("{key:?}: {other:?}"),
    }
}

/// Checks [`Boundary::new`]: accepted exactly when RFC 2046 allows it (1–70 `bchars`, not
/// ending in a space); `multer::parse_boundary` reads it back from the `Content-Type`; a
/// body framed with it parses back.
pub fn check_boundary(text: &str) {
    let bchar = |b: u8| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b);
    let allowed = (1..=70).contains(&text.len()) && text.bytes().all(bchar) && !text.ends_with(' ');
    let boundary = match Boundary::new(text) {
        Ok(boundary) => boundary,
        Err(error) => {
            assert!(!allowed, "{text:?} refused");
            assert_eq!(error, InvalidInput::Boundary(text.to_owned()));
            return;
        }
    };
    assert!(allowed, "{text:?} accepted");
    assert_eq!(boundary.as_str(), text);
    let content_type = boundary.content_type();
    assert_eq!(
        multer::parse_boundary(&content_type).as_deref(),
        Ok(text),
        "{content_type}"
    );
    // NUL bytes cannot hold a delimiter, whatever the boundary.
    let content = [0u8; 5];
    check_stream_upload(
        "images",
        "a.png",
        MimeType::new("image/png").unwrap(),
        &content,
        boundary,
        &[2],
        &[7],
        |wire, boundary| block_on(parse_multipart(wire, boundary)),
    );
}

/// The moment `check_retry_after` takes as "now": Sun, 06 Nov 1994 08:49:37 GMT + 1 day.
pub const RETRY_NOW: u64 = 784_111_777 + 86_400;

/// Checks [`RetryAfter::from_headers`] on one header value (delay-seconds or an HTTP date,
/// both round-tripping), and the default [`RetryPolicy`]'s decision after attempt
/// `attempt` (0..8) with it: give up past the attempts or the `Retry-After` cap, else wait
/// the server's time, but never below the backoff floor (half the jitter-free backoff).
pub fn check_retry_after(attempt: u32, random: f64, value: &[u8]) {
    use kie_proto::{RetryDecision, RetryPolicy};
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::RETRY_AFTER, value.clone());
    let parsed = RetryAfter::from_headers(&headers);
    let text = value.to_str().ok().map(str::trim);
    match (parsed, text) {
        (None, None) => {}
        (None, Some(text)) => {
            assert!(text.parse::<u64>().is_err());
            assert!(httpdate::parse_http_date(text).is_err());
        }
        (Some(RetryAfter::Delay(delay)), Some(text)) => {
            assert_eq!(Ok(delay.as_secs()), text.parse::<u64>());
            assert_eq!(delay.subsec_nanos(), 0);
        }
        (Some(RetryAfter::At(at)), Some(text)) => {
            assert!(text.parse::<u64>().is_err());
            let printed = httpdate::fmt_http_date(at);
            assert_eq!(httpdate::parse_http_date(&printed).ok(), Some(at));
        }
        (parsed, text) => panic!("{value:?} ({text:?}) read as {parsed:?}"),
    }

    let policy = RetryPolicy::default();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(RETRY_NOW);
    let mut failure = ApiError::new(http::StatusCode::TOO_MANY_REQUESTS, ErrorKind::RateLimited);
    failure.code = Some(429);
    failure.retry_after = parsed;
    let decision = policy.decide(attempt, &failure, random, now);
    let ceiling = Duration::from_millis(500)
        .saturating_mul(1 << attempt.saturating_sub(1))
        .min(Duration::from_secs(30));
    let floor = ceiling / 2;
    let server = parsed.map(|r| r.delay_from(now));
    match decision {
        RetryDecision::GiveUp => assert!(
            attempt >= policy.max_attempts()
                || server.is_some_and(|wait| wait > Duration::from_secs(60)),
            "gave up on attempt {attempt} with {server:?}"
        ),
        RetryDecision::RetryAfter(wait) => {
            assert!(attempt < policy.max_attempts());
            match server {
                // The server's wait stands from the floor up.
                Some(server) if server >= floor => assert_eq!(wait, server),
                // Less (a past date, 0 s): the backoff between floor and ceiling.
                Some(_) => {
                    assert!(wait >= floor, "waits {wait:?} below the floor {floor:?}");
                    assert!(
                        wait <= ceiling,
                        "waits {wait:?} above the ceiling {ceiling:?}"
                    );
                    assert!(wait > Duration::ZERO);
                }
                // No Retry-After: full jitter below the ceiling.
                None => assert!(
                    wait <= ceiling,
                    "waits {wait:?} above the ceiling {ceiling:?}"
                ),
            }
        }
        other => panic!("unexpected decision {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Plumbing.
// ---------------------------------------------------------------------------------------

/// An `Api` with a fixed key, pointed at loopback.
pub fn test_api() -> Api {
    Api::new(ApiKey::new("sk-test").unwrap())
        .with_upload_base_url("http://127.0.0.1:9")
        .unwrap()
        .with_api_base_url("http://127.0.0.1:9")
        .unwrap()
}

/// The request's `Content-Length` header as a number.
pub fn content_length<B>(request: &http::Request<B>) -> u64 {
    request.headers()[header::CONTENT_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Streams `content` through a fresh encoder of `body`, handing it over in pieces whose
/// sizes cycle through `chunks` (0 means an empty piece); one output buffer per call.
pub fn encode_framed(body: &kie_proto::FramedBody, content: &[u8], chunks: &[usize]) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut encoder = body.encoder();
    let mut buf = Vec::new();
    encoder.write_head(&mut buf);
    out.push(Bytes::from(std::mem::take(&mut buf)));
    for piece in split(content, chunks) {
        encoder.encode(&piece, &mut buf).unwrap();
        out.push(Bytes::from(std::mem::take(&mut buf)));
    }
    assert_eq!(encoder.content_consumed(), content.len() as u64);
    encoder.finish(&mut buf).unwrap();
    out.push(Bytes::from(buf));
    out
}

/// `data` cut into pieces whose sizes cycle through `sizes` (empty pieces included; an
/// empty `sizes` means one piece).
pub fn split(data: &[u8], sizes: &[usize]) -> Vec<Bytes> {
    if sizes.is_empty() {
        return vec![Bytes::copy_from_slice(data)];
    }
    let mut pieces = Vec::new();
    let mut rest = data;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        pieces.push(Bytes::copy_from_slice(piece));
        rest = tail;
        if pieces.len() > data.len() + sizes.len() {
            // Only empty pieces left in the cycle: finish in one piece.
            pieces.push(Bytes::copy_from_slice(rest));
            break;
        }
    }
    pieces
}

/// Chunk sizes derived from the input itself (1..=64), so fuzz inputs pick their chunking.
pub fn chunk_sizes_from(data: &[u8]) -> Vec<usize> {
    data.iter()
        .take(8)
        .map(|&b| usize::from(b % 64) + 1)
        .collect()
}

/// Runs a future that never waits on I/O (multer over an in-memory stream) to completion.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    panic!("future kept waiting on an in-memory stream");
}

/// `task_record` target. Input: any bytes, as a record answer body (HTTP 200), read as a
/// Market and as a Veo task. The checker: reading never panics; a record it reads has a
/// non-empty task id of the family asked for, a view whose assets appear only for a
/// succeeded task, a terminal status only for Market `success`/`fail` or Veo `successFlag`
/// 1, 2 or 3, and a progress within 0–100; reading the same bytes twice gives the same
/// record.
pub fn task_record(data: &[u8]) {
    use kie_proto::task::market::TaskState;
    use kie_proto::task::{TaskRecord, TaskRef, TaskStatus};
    for task in [
        TaskRef::market("fuzz").unwrap(),
        TaskRef::veo("fuzz").unwrap(),
    ] {
        let get = task.get();
        let read = || get.parse_response(http::Response::new(data));
        let first = read();
        assert_eq!(first, read(), "reading is deterministic");
        let Ok(record) = first else {
            continue;
        };
        assert!(!record.task().id().is_empty());
        assert_eq!(record.task().family(), task.family());
        let view = record.view();
        if view.status != TaskStatus::Succeeded {
            assert!(
                view.assets.is_empty(),
                "assets of a task that did not succeed"
            );
        }
        let terminal = match &record {
            TaskRecord::Market(record) => {
                assert!(record.progress.is_none_or(|p| p <= 100));
                matches!(record.state, TaskState::Success | TaskState::Fail)
            }
            TaskRecord::Veo(record) => matches!(record.success_flag, Some(1..=3)),
            _ => view.status.is_terminal(),
        };
        assert_eq!(view.status.is_terminal(), terminal);
        assert!(view.credits_consumed.is_none_or(f64::is_finite));
    }
}

/// `market_callback` target. Input: any bytes, as a callback body. The checker: parsing
/// never panics, is deterministic, and a parsed callback names a non-empty task that is
/// one of the documented places' values.
pub fn market_callback(data: &[u8]) {
    use kie_proto::task::MarketCallback;
    let first = MarketCallback::parse(data);
    assert_eq!(
        first,
        MarketCallback::parse(data),
        "parsing is deterministic"
    );
    let Ok(callback) = first else {
        return;
    };
    let id = callback.record.task.id().to_owned();
    assert!(!id.is_empty());
    let value: serde_json::Value = serde_json::from_slice(data).unwrap();
    let text = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let places = [
        text(value["data"].get("taskId")),
        text(value["data"].get("task_id")),
        text(value.get("taskId")),
    ];
    assert!(
        places.iter().flatten().any(|p| *p == id),
        "{id} is in no documented place"
    );
    // Any family's reader: deterministic, and a body with a record reads as Market's.
    let any = kie_proto::task::TaskCallback::parse(data);
    assert_eq!(any, kie_proto::task::TaskCallback::parse(data));
    if let Ok(any) = any {
        assert!(places.iter().flatten().any(|p| *p == any.view().task.id()));
    }
}
