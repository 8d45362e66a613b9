//! The streamed base64 route: bodies delivered in awkward pieces (chunked transfer
//! encoding over a raw socket, so every chunk reaches the parser on its own), members
//! in any order, duplicates, and malformed or oversized bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine as _;
use kie_emulator::{Emulator, StorageMode};
use serde_json::{Value, json};
use sha2::Digest as _;
use support::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const B64: &str = "/api/file-base64-upload";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// POSTs `chunks` as a chunked JSON body on a fresh connection; returns status and body.
async fn post_chunked(emu: &Emulator, chunks: &[&[u8]]) -> (u16, Value) {
    let addr = emu
        .upload_base_url()
        .trim_start_matches("http://")
        .to_owned();
    let mut sock = TcpStream::connect(&addr).await.unwrap();
    sock.set_nodelay(true).unwrap();
    let head = format!(
        "POST {B64} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n",
        bearer(emu)
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    for chunk in chunks.iter().filter(|c| !c.is_empty()) {
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(chunk);
        framed.extend_from_slice(b"\r\n");
        sock.write_all(&framed).await.unwrap();
        sock.flush().await.unwrap();
    }
    sock.write_all(b"0\r\n\r\n").await.unwrap();
    let mut resp = Vec::new();
    sock.read_to_end(&mut resp).await.unwrap();
    let text = String::from_utf8(resp).unwrap();
    let status = text[9..12].parse().unwrap();
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    (status, serde_json::from_str(body).unwrap())
}

/// `body` cut at `cuts` (sorted offsets).
fn cut<'a>(body: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut at = 0;
    for &c in cuts.iter().chain([&body.len()]) {
        pieces.push(&body[at..c]);
        at = c;
    }
    pieces
}

#[tokio::test]
async fn a_body_split_anywhere_stores_the_same_bytes() {
    let emu = Emulator::start();
    // 100 bytes: the payload ends in one '=' of padding.
    let mut data = png();
    data.extend(noise(100 - data.len(), 3));
    let prefix = "data:image/png;base64,";
    // `\/` escapes of the '/' characters: an escape may be split too.
    let value = format!("{prefix}{}", b64(&data)).replace('/', "\\/");
    let body = format!(r#"{{"uploadPath":"split","base64Data":"{value}","fileName":"s.png"}}"#);
    let body = body.as_bytes();
    let start = body.windows(5).position(|w| w == b"data:").unwrap();
    let end = start + value.len();
    let sha = sha2::Sha256::digest(&data).to_vec();
    let check = |v: &Value, what: &str| {
        assert_eq!(v["code"], 200, "{what}: {v}");
        assert_eq!(v["data"]["fileSize"], data.len(), "{what}");
        assert_eq!(v["data"]["mimeType"], "image/png", "{what}");
        let stored = emu.stored_files();
        assert_eq!(stored.len(), 1, "{what}");
        assert_eq!(stored[0].sha256.to_vec(), sha, "{what}");
        assert_eq!(stored[0].content.as_deref(), Some(&data[..]), "{what}");
    };
    // One cut at every offset of the value (inside the prefix, between and inside
    // quads, inside an escape, before and after the padding, at the closing quote).
    for c in start.saturating_sub(2)..=end + 1 {
        let (status, v) = post_chunked(&emu, &cut(body, &[c])).await;
        assert_eq!(status, 200);
        check(&v, &format!("cut at {c}"));
    }
    // Two cuts, one of them in the prefix.
    for a in start..start + prefix.len() {
        for b in (a + 1..=end).step_by(3) {
            let (_, v) = post_chunked(&emu, &cut(body, &[a, b])).await;
            check(&v, &format!("cuts at {a}, {b}"));
        }
    }
    // One byte per chunk.
    let cuts: Vec<usize> = (1..body.len()).collect();
    let (_, v) = post_chunked(&emu, &cut(body, &cuts)).await;
    check(&v, "bytewise");
    let log = emu.requests();
    let last = log.last().unwrap();
    assert_eq!(
        last.fields["base64Data"],
        (prefix.len() + b64(&data).len()).to_string()
    );
    assert_eq!(last.fields["uploadPath"], "split");
    assert_eq!(last.body_len, body.len() as u64);
}

#[tokio::test]
async fn members_come_in_any_order_and_the_last_duplicate_wins() {
    let emu = Emulator::start();
    let text = b64(b"hello, plain text");
    let ok = |v: &Value| {
        assert_eq!(v["code"], 200, "{v}");
        assert_eq!(v["data"]["fileSize"], 17);
    };
    // base64Data first, the rest (and unknown members of every kind) after it.
    let body = format!(
        r#"{{"base64Data":"{text}","extra":{{"a":[1,2.5,true,null,"x"]}},"n":-0,"uploadPath":"docs","fileName":"n.txt"}}"#
    );
    let (status, v) = post_chunked(&emu, &[body.as_bytes()]).await;
    assert_eq!(status, 200);
    ok(&v);
    assert_eq!(v["data"]["filePath"], "kieai/10001/docs/n.txt");
    assert_eq!(v["data"]["mimeType"], "text/plain");
    let fields = emu.requests().last().unwrap().fields.clone();
    assert_eq!(fields["base64Data"], text.len().to_string());
    assert_eq!(fields["extra"], r#"{"a":[1,2.5,true,null,"x"]}"#);
    // Non-strings are shown as serde_json renders them (`-0` is the float `-0.0`).
    let minus_zero: Value = serde_json::from_str("-0").unwrap();
    assert_eq!(fields["n"], minus_zero.to_string());
    assert_eq!(fields["fileName"], "n.txt");

    // Duplicates: the last one counts, as with a parsed JSON object.
    let body = format!(
        r#"{{"base64Data":"!!!","uploadPath":"/bad","base64Data":"{text}","uploadPath":"d"}}"#
    );
    let (_, v) = post_chunked(&emu, &[body.as_bytes()]).await;
    ok(&v);
    let body = format!(r#"{{"base64Data":"{text}","uploadPath":"d","base64Data":null}}"#);
    let (status, v) = post_chunked(&emu, &[body.as_bytes()]).await;
    assert_eq!(
        (status, v["msg"].as_str()),
        (400, Some("Missing required parameter: base64Data"))
    );
    let body = format!(r#"{{"base64Data":"{text}","uploadPath":"d","base64Data":[1]}}"#);
    let (_, v) = post_chunked(&emu, &[body.as_bytes()]).await;
    assert_eq!(v["msg"], "Invalid parameter: base64Data must be a string");
    assert_eq!(emu.requests().last().unwrap().fields["base64Data"], "[1]");
    let body = format!(r#"{{"base64Data":[1],"uploadPath":"d","base64Data":"{text}"}}"#);
    let (_, v) = post_chunked(&emu, &[body.as_bytes()]).await;
    ok(&v);

    // The checks keep their order: names before the payload.
    let body = r#"{"base64Data":"!!!","uploadPath":"a//b"}"#;
    let (_, v) = post_chunked(&emu, &[body.as_bytes()]).await;
    assert_eq!(
        v["msg"],
        "Invalid parameter: uploadPath must not contain empty segments"
    );
    let body = r#"{"base64Data":"!!!","uploadPath":"a","fileName":7}"#;
    let (_, v) = post_chunked(&emu, &[body.as_bytes()]).await;
    assert_eq!(v["msg"], "Invalid parameter: fileName must be a string");
    let body = r#"{"fileName":"x.png","base64Data":"aGk","uploadPath":"a"}"#;
    let (_, v) = post_chunked(&emu, &[body.as_bytes()]).await;
    assert_eq!(v["msg"], "Base64 decoding failed: Invalid Base64 format");
}

#[tokio::test]
async fn malformed_bodies_are_invalid_json() {
    let emu = Emulator::start();
    let text = b64(b"hello");
    for body in [
        format!(r#"{{"base64Data":"{text}","uploadPath":"a"}} x"#),
        format!(r#"{{"base64Data":"{text}","uploadPath":"a"}}{{}}"#),
        format!(r#"{{"base64Data":"{text}","uploadPath":"a""#),
        format!(r#"{{"base64Data":"{text}"#),
        format!(r#"{{"base64Data":"{text}\q","uploadPath":"a"}}"#),
        format!(r#"{{"base64Data":"{text}\ud800","uploadPath":"a"}}"#),
        format!("{{\"base64Data\":\"{text}\n\",\"uploadPath\":\"a\"}}"),
        format!(r#"{{"base64Data":"{text}" "uploadPath":"a"}}"#),
        format!(r#"{{"base64Data":"{text}","uploadPath":"a",}}"#),
        format!(r#"{{"base64Data":"{text}","uploadPath":"a","n":1e999}}"#),
        format!(r#"{{"base64Data":"{text}","uploadPath":"a","n":01}}"#),
        format!(r#"[{{"base64Data":"{text}","uploadPath":"a"}}"#),
    ] {
        let (status, v) = post_chunked(&emu, &cut(body.as_bytes(), &[7])).await;
        assert_eq!(status, 400, "{body}");
        let msg = v["msg"].as_str().unwrap();
        assert!(msg.starts_with("Invalid JSON body: "), "{body}: {msg}");
        assert_ne!(msg, "Invalid JSON body: expected an object", "{body}");
    }
    for body in ["[]", "\"x\"", " 1 ", "null"] {
        let (status, v) = post_chunked(&emu, &[body.as_bytes()]).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(v["msg"], "Invalid JSON body: expected an object", "{body}");
    }
    assert!(emu.stored_files().is_empty());
}

#[tokio::test]
async fn the_body_limit_wins_over_everything_else() {
    let emu = Emulator::builder().json_body_limit(1000).start();
    let too_large = "Request body too large (limit 1000 bytes)";
    // Malformed early, valid, or invalid Base64: over the limit is over the limit.
    let filler = "A".repeat(2000);
    for body in [
        format!(r#"{{"base64Data" x "{filler}"}}"#),
        format!(r#"{{"base64Data":"{filler}","uploadPath":"a"}}"#),
        format!(r#"{{"base64Data":"!{filler}","uploadPath":"a"}}"#),
    ] {
        let (status, v) = post_chunked(&emu, &cut(body.as_bytes(), &[10, 600])).await;
        assert_eq!((status, v["msg"].as_str()), (400, Some(too_large)));
        assert_eq!(emu.requests().last().unwrap().body_len, body.len() as u64);
    }
    // Exactly at the limit is fine.
    let pad = 1000 - r#"{"base64Data":"","uploadPath":"a"}"#.len();
    let value = "A".repeat(pad / 4 * 4);
    let body = format!(
        r#"{{"base64Data":"{value}","uploadPath":"a"{}}}"#,
        " ".repeat(pad % 4)
    );
    assert_eq!(body.len(), 1000);
    let (status, v) = post_chunked(&emu, &[body.as_bytes()]).await;
    assert_eq!((status, &v["code"]), (200, &json!(200)), "{v}");
}

#[tokio::test]
async fn discard_mode_hashes_the_stream_and_sniffs_the_head() {
    let emu = Emulator::builder().storage(StorageMode::Discard).start();
    let mut data = png();
    data.extend(noise(3 * 1024 * 1024, 5));
    let value = format!("data:application/octet-stream;base64,{}", b64(&data));
    let body = json!({"base64Data": value, "uploadPath": "bench"}).to_string();
    let cuts: Vec<usize> = (1..body.len()).step_by(65_537).collect();
    let (_, v) = post_chunked(&emu, &cut(body.as_bytes(), &cuts)).await;
    assert_eq!(v["data"]["fileSize"], data.len());
    assert_eq!(v["data"]["mimeType"], "image/png");
    let stored = emu.stored_files();
    assert!(stored[0].content.is_none());
    assert_eq!(
        stored[0].sha256.to_vec(),
        sha2::Sha256::digest(&data).to_vec()
    );
}
