//! Helpers shared by the emulator tests: a plain HTTP client (reqwest, no TLS, no
//! proxy) and a hand-built multipart encoder. Nothing here comes from the kie-rs SDK.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use kie_emulator::Emulator;
use serde_json::Value;

/// A 1x1 transparent PNG, the spec's documented base64 example content.
pub const PNG_1X1_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// The decoded PNG.
pub fn png() -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(PNG_1X1_B64)
        .unwrap()
}

/// A response read in full.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn content_type(&self) -> String {
        self.headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .user_agent("kie-tests/emulator-suite")
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A client that sends no User-Agent header.
pub fn client_without_ua() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub async fn read(resp: reqwest::Response) -> Resp {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap().to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

pub fn bearer(emu: &Emulator) -> String {
    format!("Bearer {}", emu.api_key())
}

/// POSTs `body` as JSON (with the right key) to `path` on the upload host.
pub async fn upload_json(emu: &Emulator, path: &str, body: &Value) -> Resp {
    let resp = client()
        .post(format!("{}{path}", emu.upload_base_url()))
        .header("Authorization", bearer(emu))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    read(resp).await
}

pub async fn base64_upload(emu: &Emulator, body: &Value) -> Resp {
    upload_json(emu, "/api/file-base64-upload", body).await
}

pub async fn get(url: &str) -> Resp {
    read(client().get(url).send().await.unwrap()).await
}

/// One multipart part.
pub enum Part<'a> {
    Text(&'a str, &'a str),
    File {
        name: &'a str,
        filename: Option<&'a str>,
        content_type: Option<&'a str>,
        data: &'a [u8],
    },
}

pub const BOUNDARY: &str = "----kie-tests-boundary-7MA4YWxkTrZu0gW";

/// Builds a `multipart/form-data` body by hand (RFC 7578); returns (content type, body).
pub fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            Part::File {
                name,
                filename,
                content_type,
                data,
            } => {
                let mut disposition = format!("Content-Disposition: form-data; name=\"{name}\"");
                if let Some(f) = filename {
                    disposition.push_str(&format!("; filename=\"{f}\""));
                }
                body.extend_from_slice(disposition.as_bytes());
                body.extend_from_slice(b"\r\n");
                if let Some(ct) = content_type {
                    body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
                }
                body.extend_from_slice(b"\r\n");
                body.extend_from_slice(data);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

pub async fn stream_upload_raw(emu: &Emulator, content_type: &str, body: Vec<u8>) -> Resp {
    let resp = client()
        .post(format!("{}/api/file-stream-upload", emu.upload_base_url()))
        .header("Authorization", bearer(emu))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    read(resp).await
}

pub async fn stream_upload(emu: &Emulator, parts: &[Part<'_>]) -> Resp {
    let (ct, body) = multipart(parts);
    stream_upload_raw(emu, &ct, body).await
}

/// Asserts the upload-host error envelope.
pub fn assert_upload_error(resp: &Resp, status: u16, code: i64, msg: &str) {
    assert_eq!(resp.status, status, "{}", resp.text());
    assert!(resp.content_type().starts_with("application/json"));
    let v = resp.json();
    assert_eq!(v["success"], Value::Bool(false), "{v}");
    assert_eq!(v["code"], code, "{v}");
    assert_eq!(v["msg"], msg, "{v}");
}

/// Deterministic pseudo-random bytes (xorshift), so big payloads are not all zeros.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Whether `curl` runs; says so once on stderr when it does not (the curl checks skip).
pub fn have_curl() -> bool {
    let ok = Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("NOTICE: curl is not on PATH; skipping the curl checks");
    }
    ok
}

/// Runs curl with `args` (plus `-sS --noproxy *`); returns (HTTP status, body).
pub fn curl(args: &[&str]) -> (u16, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-sS", "--noproxy", "*", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut body = out.stdout;
    let nl = body.iter().rposition(|&b| b == b'\n').unwrap();
    let status = std::str::from_utf8(&body[nl + 1..])
        .unwrap()
        .parse()
        .unwrap();
    body.truncate(nl);
    (status, body)
}
