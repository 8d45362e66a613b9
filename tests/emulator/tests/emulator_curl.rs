//! The spec's documented curl commands, run with `curl` itself against the emulator
//! (synchronous tests: the emulator runs its own runtime), and the `kie-emulator` binary.
//! Skipped with a notice when `curl` is not on PATH.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use kie_emulator::Emulator;
use serde_json::{Value, json};
use support::{PNG_1X1_B64, curl, have_curl};

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

fn temp_file(name: &str, data: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kie-emulator-curl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

#[test]
fn documented_stream_upload_command() {
    if !have_curl() {
        return;
    }
    let emu = Emulator::start();
    let mut jpeg = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
    ];
    jpeg.extend((0..50_000u32).map(|i| (i * 31 % 251) as u8));
    let file = temp_file("your-file.jpg", &jpeg);
    let auth = format!("Authorization: Bearer {}", emu.api_key());
    let url = format!("{}/api/file-stream-upload", emu.upload_base_url());
    let file_arg = format!("file=@{}", file.display());
    let (status, body) = curl(&[
        "-X",
        "POST",
        &url,
        "-H",
        &auth,
        "-F",
        &file_arg,
        "-F",
        "uploadPath=images/user-uploads",
        "-F",
        "fileName=custom-name.jpg",
    ]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v = json_of(&body);
    assert_eq!(v["success"], true);
    assert_eq!(v["data"]["fileName"], "custom-name.jpg");
    assert_eq!(
        v["data"]["filePath"],
        "kieai/10001/images/user-uploads/custom-name.jpg"
    );
    assert_eq!(v["data"]["mimeType"], "image/jpeg");
    assert_eq!(v["data"]["fileSize"], jpeg.len());
    let log = emu.requests();
    assert_eq!(log[0].fields["file.filename"], "your-file.jpg");
    assert!(log[0].user_agent.as_deref().unwrap().starts_with("curl/"));

    // Download it with curl, byte-exact.
    let (status, downloaded) = curl(&[v["data"]["downloadUrl"].as_str().unwrap()]);
    assert_eq!(status, 200);
    assert_eq!(downloaded, jpeg);

    // Same command without the key: the documented 401.
    let (status, body) = curl(&[
        "-X",
        "POST",
        &url,
        "-F",
        &file_arg,
        "-F",
        "uploadPath=images/user-uploads",
    ]);
    assert_eq!(status, 401);
    assert_eq!(
        json_of(&body),
        json!({"success": false, "code": 401, "msg": "Authentication failed: Invalid API Key"})
    );
    // Without uploadPath.
    let (status, body) = curl(&["-X", "POST", &url, "-H", &auth, "-F", &file_arg]);
    assert_eq!(status, 400);
    assert_eq!(
        json_of(&body)["msg"],
        "Missing required parameter: uploadPath"
    );
    // Wrong method.
    let (status, body) = curl(&["-X", "GET", &url, "-H", &auth]);
    assert_eq!(status, 405);
    assert_eq!(json_of(&body)["code"], 405);
    let _ = std::fs::remove_file(file);
}

#[test]
fn documented_json_commands() {
    if !have_curl() {
        return;
    }
    let emu = Emulator::start();
    let auth = format!("Authorization: Bearer {}", emu.api_key());
    let ct = "Content-Type: application/json";
    let b64_url = format!("{}/api/file-base64-upload", emu.upload_base_url());

    let body = json!({
        "base64Data": format!("data:image/png;base64,{PNG_1X1_B64}"),
        "uploadPath": "images/base64",
        "fileName": "test-image.png"
    })
    .to_string();
    let (status, out) = curl(&["-X", "POST", &b64_url, "-H", &auth, "-H", ct, "-d", &body]);
    assert_eq!(status, 200);
    assert_eq!(
        json_of(&out)["data"]["filePath"],
        "kieai/10001/images/base64/test-image.png"
    );

    let body = json!({"base64Data": PNG_1X1_B64, "uploadPath": "documents/uploads"}).to_string();
    let (status, out) = curl(&["-X", "POST", &b64_url, "-H", &auth, "-H", ct, "-d", &body]);
    assert_eq!(status, 200);
    assert!(
        json_of(&out)["data"]["fileName"]
            .as_str()
            .unwrap()
            .ends_with(".png")
    );

    let bad = json!({"base64Data": "!!!", "uploadPath": "x"}).to_string();
    let (status, out) = curl(&["-X", "POST", &b64_url, "-H", &auth, "-H", ct, "-d", &bad]);
    assert_eq!(status, 400);
    assert_eq!(
        json_of(&out),
        json!({"success": false, "code": 400, "msg": "Base64 decoding failed: Invalid Base64 format"})
    );

    // URL upload of a file served on loopback.
    let source = emu.issue_generated_file(b"%PDF-1.4 manual".to_vec(), "application/pdf");
    let url_url = format!("{}/api/file-url-upload", emu.upload_base_url());
    let body = json!({"fileUrl": source, "uploadPath": "documents/manuals"}).to_string();
    let (status, out) = curl(&["-X", "POST", &url_url, "-H", &auth, "-H", ct, "-d", &body]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&out));
    assert_eq!(json_of(&out)["data"]["mimeType"], "application/pdf");
    let body =
        json!({"fileUrl": "ftp://example.com/docs/manual.pdf", "uploadPath": "documents/manuals"})
            .to_string();
    let (status, _) = curl(&["-X", "POST", &url_url, "-H", &auth, "-H", ct, "-d", &body]);
    assert_eq!(status, 400);

    // Credits.
    let credit = format!("{}/api/v1/chat/credit", emu.api_base_url());
    let (status, out) = curl(&["-X", "GET", &credit, "-H", &auth]);
    assert_eq!(status, 200);
    assert_eq!(
        json_of(&out),
        json!({"code": 200, "msg": "success", "data": 100})
    );
    let (status, out) = curl(&[&credit]);
    assert_eq!(status, 200);
    assert_eq!(
        json_of(&out),
        json!({"code": 401, "msg": "You do not have access permissions"})
    );

    // Download URL.
    let dl = format!("{}/api/v1/common/download-url", emu.api_base_url());
    let body = json!({"url": source}).to_string();
    let (status, out) = curl(&["-X", "POST", &dl, "-H", &auth, "-H", ct, "-d", &body]);
    assert_eq!(status, 200);
    let link = json_of(&out)["data"].as_str().unwrap().to_owned();
    let (status, bytes) = curl(&[&link]);
    assert_eq!(status, 200);
    assert_eq!(bytes, b"%PDF-1.4 manual");
    let body = json!({"url": "https://tempfile.aiquickdraw.com/path/to/image.jpg"}).to_string();
    let (status, out) = curl(&["-X", "POST", &dl, "-H", &auth, "-H", ct, "-d", &body]);
    assert_eq!(status, 200);
    assert_eq!(json_of(&out)["code"], 422);
}

#[test]
fn the_binary_prints_its_urls_and_serves() {
    if !have_curl() {
        return;
    }
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_kie-emulator"))
            .args([
                "--port",
                "0",
                "--key",
                "bin-key",
                "--credits",
                "4.8",
                "--error-style",
                "status",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut vars = std::collections::HashMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some((k, v)) = line.split_once('=') {
            vars.insert(k.to_owned(), v.to_owned());
        }
        if vars.len() == 4 {
            break;
        }
    }
    let api = vars["KIE_API_BASE_URL"].clone();
    assert!(vars["KIE_UPLOAD_BASE_URL"].starts_with("http://127.0.0.1:"));
    assert!(vars["KIE_FILES_BASE_URL"].starts_with("http://127.0.0.1:"));
    assert_eq!(vars["KIE_API_KEY"], "bin-key");
    let credit = format!("{api}/api/v1/chat/credit");
    let (status, out) = curl(&["-H", "Authorization: Bearer bin-key", &credit]);
    assert_eq!(status, 200);
    assert_eq!(json_of(&out)["data"], json!(4.8));
    let (status, out) = curl(&[&credit]);
    assert_eq!(status, 401, "--error-style status applies to the api host");
    assert_eq!(json_of(&out)["code"], 401);
    drop(child);
}

/// Kills (by its own handle) and reaps the spawned emulator even if an assertion fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
