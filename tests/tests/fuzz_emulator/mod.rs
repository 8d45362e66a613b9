//! The bodies of the emulator's fuzz targets in `fuzz/`, shared with the workspace tests.
//!
//! `fuzz/fuzz_targets/emulator_*.rs` include this file with `#[path]`, and
//! `tests/tests/fuzz_emulator_corpus.rs` replays the checked-in corpus through the same
//! functions on stable. Every function panics when an invariant breaks.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use kie_tests::emulator::base64_body::{self, Base64Member};
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
