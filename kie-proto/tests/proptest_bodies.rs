//! Property tests of the request bodies and of response parsing.
//!
//! - multipart: arbitrary upload paths, file names and content either fail validation with
//!   the variant the rules call for, or frame into a body that `multer` (an independent
//!   parser) reads back into exactly `uploadPath`, `fileName` and the file;
//! - base64: the incremental encoder equals whole-buffer `base64` for every chunking, and a
//!   `Base64Upload` body is JSON whose `base64Data` decodes to the content;
//! - responses: `parse_response` of every operation never panics and obeys the success rule.
//!
//! Failing cases are persisted in `proptest-regressions/` next to this file (committed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fuzz_targets;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use fuzz_targets::{
    Part, check_base64_upload, check_response, check_stream_upload, parse_multipart,
};
use kie_proto::driver::Base64Encoder;
use kie_proto::{Base64Form, Boundary, ContentEncoding, FramedBody, MimeType};
use proptest::prelude::*;

/// Characters that stress names: quotes, backslashes, separators, CR/LF and other
/// controls, spaces, `;`/`=`/`%` (header syntax), non-ASCII and astral characters.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => prop::char::range('a', 'z'),
        2 => prop::char::range('0', '9'),
        1 => Just('.'),
        1 => Just(' '),
        1 => Just('"'),
        1 => Just('\\'),
        1 => Just('/'),
        1 => Just(';'),
        1 => Just('='),
        1 => Just('%'),
        1 => Just('-'),
        1 => prop::sample::select(vec!['é', 'ü', '日', '本', '€', '😀', '\u{2028}', '\u{feff}']),
        1 => prop::sample::select(vec!['\r', '\n', '\t', '\0', '\u{7f}', '\u{85}']),
        1 => any::<char>(),
    ]
}

/// Mostly valid names (no separators or controls) and some arbitrary ones.
fn name() -> impl Strategy<Value = String> {
    let safe = tricky_char().prop_filter("no separator or control", |c| {
        !c.is_control() && *c != '/' && *c != '\\'
    });
    prop_oneof![
        3 => prop::collection::vec(safe, 1..24).prop_map(String::from_iter),
        1 => prop::collection::vec(tricky_char(), 0..24).prop_map(String::from_iter),
        1 => prop::sample::select(vec![".", "..", "", " ", "\"", "a\\b", "x\r\nEvil: 1"])
            .prop_map(str::to_owned),
    ]
}

/// Mostly valid folders (segments of valid names) and some arbitrary paths.
fn upload_path() -> impl Strategy<Value = String> {
    let segment = name().prop_filter("segment without dot names", |s| {
        !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\'])
    });
    prop_oneof![
        3 => prop::collection::vec(segment, 1..4).prop_map(|s| s.join("/")),
        1 => prop::collection::vec(tricky_char(), 0..24).prop_map(String::from_iter),
        1 => prop::sample::select(vec!["", "/", "/a", "a/", "a//b", "a/../b", "./a", "a/."])
            .prop_map(str::to_owned),
    ]
}

fn mime() -> impl Strategy<Value = MimeType> {
    prop::sample::select(vec![
        "application/octet-stream",
        "image/png",
        "image/svg+xml",
        "text/plain",
        "video/mp4",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "x-weird/a!#$&^_.+-b",
    ])
    .prop_map(|m| MimeType::new(m).unwrap())
}

/// Content, sometimes holding CR/LF, dashes and a prefix of the boundary in use.
fn content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..2048),
        1 => prop::collection::vec(
            prop::sample::select(vec![b'\r', b'\n', b'-', b'k', b'i', b'e', b'0']),
            0..256,
        ),
    ]
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![4 => 1usize..16, 2 => 16usize..700, 1 => Just(0usize)],
        1..12,
    )
}

fn multer_tokio(wire: Vec<Bytes>, boundary: String) -> multer::Result<Vec<Part>> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(parse_multipart(wire, boundary))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary names: the right validation error, or a body multer reads back exactly.
    #[test]
    fn multipart_round_trip(
        path in upload_path(),
        name in name(),
        mime in mime(),
        mut content in content(),
        seed in any::<[u8; 16]>(),
        lookalike in prop::option::of((any::<prop::sample::Index>(), 0usize..40)),
        content_chunks in chunk_sizes(),
        wire_chunks in chunk_sizes(),
    ) {
        let boundary = Boundary::from_random_bytes(seed);
        if let Some((at, len)) = lookalike {
            // "\r\n--" and all but the last character of the boundary, inside the content
            // (when the next byte happens to complete it, the check skips the round trip).
            let fake = format!("\r\n--{}", &boundary.as_str()[..len.min(boundary.as_str().len() - 1)]);
            let at = at.index(content.len() + 1);
            content.splice(at..at, fake.into_bytes());
        }
        check_stream_upload(&path, &name, mime, &content, boundary, &content_chunks, &wire_chunks, multer_tokio);
    }

    /// Valid names only, so that every case reaches multer.
    #[test]
    fn multipart_round_trip_valid_names(
        segments in prop::collection::vec("[^/\\\\\\p{Cc}]{1,12}", 1..3),
        name in "[^/\\\\\\p{Cc}]{1,20}",
        content in prop::collection::vec(any::<u8>(), 0..512),
        seed in any::<[u8; 16]>(),
        content_chunks in chunk_sizes(),
        wire_chunks in chunk_sizes(),
    ) {
        let path = segments.join("/");
        prop_assume!(fuzz_targets::expected_upload_path_error(&path).is_none());
        prop_assume!(fuzz_targets::expected_file_name_error(&name).is_none());
        let mime = kie_proto::detect_mime(&content, Some(&name));
        check_stream_upload(&path, &name, mime, &content, Boundary::from_random_bytes(seed), &content_chunks, &wire_chunks, multer_tokio);
    }

    /// The incremental encoder equals whole-buffer base64 for any chunking.
    #[test]
    fn base64_encoder_any_chunking(
        content in prop::collection::vec(any::<u8>(), 0..1024),
        chunks in chunk_sizes(),
    ) {
        let mut out = Vec::new();
        let mut encoder = Base64Encoder::new();
        for piece in fuzz_targets::split(&content, &chunks) {
            encoder.encode(&piece, &mut out);
        }
        encoder.finish(&mut out);
        prop_assert_eq!(String::from_utf8(out).unwrap(), STANDARD.encode(&content));
    }

    /// Passing raw pieces through (the caller's own buffer after the encoder's output)
    /// gives the same wire as encoding every piece, whatever the split and the mix; for
    /// base64 nothing passes through.
    #[test]
    fn pass_through_equals_encode(
        content in content(),
        chunks in chunk_sizes(),
        pass in prop::collection::vec(any::<bool>(), 1..12),
        base64 in any::<bool>(),
    ) {
        let encoding = if base64 { ContentEncoding::Base64 } else { ContentEncoding::Raw };
        let body = FramedBody::new(b"HEAD".to_vec(), content.len() as u64, encoding, b"TAIL".to_vec());
        let mut expected = Vec::new();
        let mut encoder = body.encoder();
        encoder.encode(&content, &mut expected).unwrap();
        encoder.finish(&mut expected).unwrap();
        let mut wire = Vec::new();
        let mut encoder = body.encoder();
        for (i, piece) in fuzz_targets::split(&content, &chunks).into_iter().enumerate() {
            if pass[i % pass.len()] && encoder.pass_through(piece.len(), &mut wire).unwrap() {
                prop_assert!(!base64);
                wire.extend_from_slice(&piece);
            } else {
                encoder.encode(&piece, &mut wire).unwrap();
            }
        }
        encoder.finish(&mut wire).unwrap();
        prop_assert_eq!(wire, expected);
        prop_assert!(body.encoder().pass_through(content.len() + 1, &mut Vec::new()).is_err() || base64);
    }

    /// Base64 upload bodies (bare and data URL) are JSON that decodes to the content.
    #[test]
    fn base64_upload_body(
        path in upload_path(),
        name in prop::option::of(name()),
        data_url in prop::option::of(mime()),
        content in prop::collection::vec(any::<u8>(), 0..1024),
        chunks in chunk_sizes(),
    ) {
        prop_assume!(fuzz_targets::expected_upload_path_error(&path).is_none());
        prop_assume!(name.as_deref().and_then(fuzz_targets::expected_file_name_error).is_none());
        let form = data_url.map_or(Base64Form::Bare, Base64Form::DataUrl);
        check_base64_upload(&path, name.as_deref(), form, &content, &chunks);
    }

    /// Arbitrary bytes, statuses and Retry-After values: no panic, and the success rule.
    #[test]
    fn responses_arbitrary_bytes(
        status in 100u16..1000,
        retry_after in prop::option::of(retry_after()),
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        check_response(status, retry_after.as_deref().map(str::as_bytes), &body);
    }

    /// Envelope-shaped bodies, so that successes and every error branch are reached.
    #[test]
    fn responses_envelopes(
        status in prop_oneof![3 => Just(200u16), 1 => 100u16..1000],
        retry_after in prop::option::of(retry_after()),
        body in envelope(),
    ) {
        check_response(status, retry_after.as_deref().map(str::as_bytes), body.as_bytes());
    }
}

fn retry_after() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..100_000).prop_map(|s| s.to_string()),
        Just("Sun, 06 Nov 1994 08:49:37 GMT".to_owned()),
        Just("Wed, 21 Oct 2037 07:28:00 GMT".to_owned()),
        Just(" 120 ".to_owned()),
        Just("-1".to_owned()),
        Just("99999999999999999999999".to_owned()),
        ".{0,30}",
    ]
}

fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        ".{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just("\"https://tempfile.redpandaai.co/a.png\"".to_owned()),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "downloadUrl",
                        "fileUrl",
                        "fileSize",
                        "url",
                        "fileName",
                        "x"
                    ]),
                    inner
                ),
                0..4
            )
            .prop_map(|fields| {
                let fields: Vec<String> =
                    fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
}

fn envelope() -> impl Strategy<Value = String> {
    let code = prop_oneof![
        4 => prop::sample::select(vec![
            200, 400, 401, 402, 404, 405, 408, 422, 429, 433, 455, 500, 501, 505, 0, -1, 999
        ])
        .prop_map(|c: i64| c.to_string()),
        1 => Just("\"200\"".to_owned()),
        1 => Just("200.0".to_owned()),
        1 => json_value(),
    ];
    let success = prop_oneof![
        Just("true"),
        Just("false"),
        Just("null"),
        Just("\"true\""),
        Just("\" FALSE \""),
        Just("1"),
        Just("\"yes\""),
    ];
    // Members the SDK ignores may hold what serde_json::Value refuses.
    let extra = prop::sample::select(vec![
        "\"x\":1e400",
        "\"x\":[-1e400,{\"y\":1E+999}]",
        "\"x\":\"\\ud800\"",
    ]);
    (
        prop::option::of(success),
        prop::option::of(code),
        prop::option::of(json_value()),
        prop::option::of(json_value()),
        prop::option::of(extra),
    )
        .prop_map(|(success, code, msg, data, extra)| {
            let mut fields: Vec<String> = extra.into_iter().map(str::to_owned).collect();
            if let Some(s) = success {
                fields.push(format!("\"success\":{s}"));
            }
            if let Some(c) = code {
                fields.push(format!("\"code\":{c}"));
            }
            if let Some(m) = msg {
                fields.push(format!("\"msg\":{m}"));
            }
            if let Some(d) = data {
                fields.push(format!("\"data\":{d}"));
            }
            format!("{{{}}}", fields.join(","))
        })
}

/// Every chunking of short inputs, exhaustively: all 2^(n-1) ways to cut n bytes.
#[test]
fn base64_encoder_every_chunking_exhaustive() {
    let input: Vec<u8> = (0u8..11).map(|i| i.wrapping_mul(97) ^ 0xa5).collect();
    for n in 0..=input.len() {
        let content = &input[..n];
        let expected = STANDARD.encode(content);
        let cuts = n.saturating_sub(1);
        for mask in 0u32..(1 << cuts) {
            let mut out = Vec::new();
            let mut encoder = Base64Encoder::new();
            let mut start = 0;
            for i in 0..cuts {
                if mask & (1 << i) != 0 {
                    encoder.encode(&content[start..=i], &mut out);
                    encoder.encode(&[], &mut out);
                    start = i + 1;
                }
            }
            encoder.encode(&content[start..], &mut out);
            encoder.finish(&mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                expected,
                "n={n} mask={mask:b}"
            );
        }
    }
}
