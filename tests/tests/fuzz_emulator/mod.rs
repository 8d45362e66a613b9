//! The bodies of the emulator's fuzz targets in `fuzz/`, shared with the workspace tests.
//!
//! `fuzz/fuzz_targets/emulator_*.rs` include this file with `#[path]`, and
//! `tests/tests/fuzz_emulator_corpus.rs` replays the checked-in corpus through the same
//! functions on stable. Every function panics when an invariant breaks.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::future::Future;
use std::task::{Context, Poll, Waker};

use kie_proto::{Api, ApiKey, Body, Boundary, FileName, Operation, StreamUpload, UploadPath};
use kie_tests::emulator::base64_body::{self, Base64Member};
use kie_tests::emulator::upload::parse_stream_upload;
use kie_tests::emulator::validate;
use serde_json::Value;

/// `emulator_base64_body` target. Input: 1 byte picking the piece size (1..=16) in which
/// `base64Data` is fed to the streamed decoder, then the request body.
///
/// The emulator reads base64-upload bodies with a streaming parser (struson) and a streamed
/// base64 decoder; the checks hold it to what buffering the body and parsing it with
/// serde_json gives (its documented promise): the same members, `base64Data` decoded as
/// [`validate::base64_data`] decodes the whole string, a non-object refused.
pub fn emulator_base64_body(data: &[u8]) {
    let (piece, body) = match data {
        [first, rest @ ..] => (usize::from(first % 16) + 1, rest),
        [] => (1, data),
    };
    // The streamed decoder agrees with the whole-value one on any text.
    if let Ok(text) = std::str::from_utf8(body) {
        assert_eq!(
            validate::base64_data_streamed(text.as_bytes().chunks(piece)),
            validate::base64_data(text),
            "{text:?} in pieces of {piece}"
        );
    }
    let ours = base64_body::parse_bytes(body);
    let theirs = serde_json::from_slice::<Value>(body);
    match (ours, theirs) {
        (Ok((base64, others)), Ok(Value::Object(mut object))) => {
            let member = object.remove("base64Data");
            assert_eq!(others, object);
            let expected = match &member {
                None | Some(Value::Null) => Base64Member::Absent,
                Some(Value::String(s)) => Base64Member::Str {
                    len: s.len() as u64,
                    decoded: validate::base64_data(s),
                },
                Some(_) => Base64Member::Other,
            };
            assert_eq!(base64, expected);
        }
        (Err(error), Ok(Value::Object(_))) => panic!("a JSON object refused: {error}"),
        (Ok(parsed), Ok(other)) => panic!("{other} read as an object: {parsed:?}"),
        (Ok(parsed), Err(error)) if !error.to_string().contains("recursion limit") => {
            panic!("not JSON for serde_json ({error}) but read as {parsed:?}")
        }
        _ => {}
    }
}

/// `emulator_path` target. Input: any bytes, as lossy UTF-8 text.
///
/// The files host decodes request paths with [`validate::decode_path`] and builds download
/// URLs with [`validate::encode_path`]: encoding keeps the segments and only emits RFC 3986
/// unreserved characters and `%XX`; decoding undoes it; and on any text, decoding agrees
/// with an independent decoder, refusing exactly the malformed escapes.
pub fn emulator_path(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let encoded = validate::encode_path(&text);
    assert_eq!(encoded.split('/').count(), text.split('/').count());
    let mut rest = encoded.as_bytes();
    while let [first, tail @ ..] = rest {
        rest = match (first, tail) {
            (b'%', [high, low, tail @ ..]) if is_upper_hex(*high) && is_upper_hex(*low) => tail,
            (b, tail) if b.is_ascii_alphanumeric() || b"-._~/".contains(b) => tail,
            _ => panic!(
                "{encoded:?}: not unreserved or %XX at {:?}",
                String::from_utf8_lossy(rest)
            ),
        };
    }
    assert_eq!(validate::decode_path(&encoded).as_deref(), Some(&*text));

    let malformed = text.match_indices('%').any(|(i, _)| {
        let hex = text.as_bytes().get(i + 1..i + 3);
        !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    match validate::decode_path(&text) {
        Some(decoded) => {
            assert!(!malformed, "{text:?} has a malformed escape");
            assert_eq!(Some(decoded), percent_decode(&text));
        }
        None => assert!(
            malformed || percent_decode(&text).is_none(),
            "{text:?} refused"
        ),
    }
}

fn is_upper_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'A'..=b'F').contains(&b)
}

/// `%XX` decoding by characters (independent of the emulator's byte loop); `None` when the
/// result is not UTF-8. Callers rule out malformed escapes first.
fn percent_decode(text: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            let high = chars.next()?.to_digit(16)?;
            let low = chars.next()?.to_digit(16)?;
            out.push(u8::try_from(high * 16 + low).ok()?);
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    String::from_utf8(out).ok()
}

/// `emulator_multipart` target. Input: 1 byte mode. Mode even: 1 byte path length, 1 byte
/// name length, the path, the name (lossy UTF-8), then the content, framed by kie-proto's
/// `StreamUpload`. Mode odd: the rest is a raw body under boundary `X`.
///
/// A body the SDK frames from valid names is read back by the emulator's part rules into
/// exactly those names and that content (the SDK is at least as strict as the service); a
/// raw body is either refused or yields a valid `uploadPath` and content taken from the body.
pub fn emulator_multipart(data: &[u8]) {
    let [mode, rest @ ..] = data else {
        return;
    };
    if mode % 2 == 1 {
        let outcome = block_on(parse_stream_upload(
            "multipart/form-data; boundary=X",
            bytes::Bytes::copy_from_slice(rest),
        ));
        if let Ok(parsed) = outcome {
            let path = parsed
                .upload_path
                .as_deref()
                .expect("uploadPath is required");
            assert_eq!(validate::upload_path(path), Ok(()));
            if let Some(name) = &parsed.file_name {
                assert_eq!(validate::file_name(name), Ok(()));
            }
            assert!(
                parsed.content.is_empty()
                    || rest
                        .windows(parsed.content.len())
                        .any(|w| w == parsed.content),
                "content not from the body"
            );
        }
        return;
    }
    let [path_len, name_len, rest @ ..] = rest else {
        return;
    };
    let (path, rest) = rest.split_at(usize::from(*path_len).min(rest.len()));
    let (name, content) = rest.split_at(usize::from(*name_len).min(rest.len()));
    let (path, name) = (String::from_utf8_lossy(path), String::from_utf8_lossy(name));
    let (Ok(upload_path), Ok(file_name)) = (UploadPath::new(&*path), FileName::new(&*name)) else {
        return;
    };
    let upload = StreamUpload::new(upload_path, file_name, content.len() as u64)
        .with_boundary(Boundary::from_random_bytes([7; 16]));
    let api = Api::new(ApiKey::new("sk-fuzz").unwrap());
    let request = upload.to_request(&api).unwrap();
    let Body::Framed(framed) = request.body() else {
        panic!("stream upload body is not framed");
    };
    let wire = framed.to_vec(content).unwrap();
    let content_type = request.headers()["content-type"].to_str().unwrap();
    let parsed = block_on(parse_stream_upload(content_type, wire.into()))
        .unwrap_or_else(|msg| panic!("the SDK's body refused: {msg}"));
    assert_eq!(parsed.upload_path.as_deref(), Some(&*path));
    assert_eq!(parsed.file_name.as_deref(), Some(&*name));
    assert_eq!(parsed.original_name.as_deref(), Some(&*name));
    assert_eq!(parsed.content, content);
}

/// Runs a future that never waits on I/O (multer over an in-memory stream) to completion.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    panic!("future kept waiting on an in-memory stream");
}
