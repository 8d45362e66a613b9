//! Routes, auth, validation, storage, downloads, expiry, the api host and the log —
//! exercised with hand-built HTTP requests (no kie-rs SDK involved).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use kie_emulator::{Emulator, ErrorStyle, Host, Route, StorageMode};
use serde_json::{Value, json};
use sha2::Digest as _;
use support::*;

const B64: &str = "/api/file-base64-upload";
const STREAM: &str = "/api/file-stream-upload";
const URL: &str = "/api/file-url-upload";

fn is_iso_millis(s: &str) -> bool {
    // 2025-01-01T12:00:00.000Z
    let b = s.as_bytes();
    b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z'
}

#[tokio::test]
async fn base64_data_url_example_is_stored_and_served() {
    let emu = Emulator::start();
    let resp = base64_upload(
        &emu,
        &json!({
            "base64Data": format!("data:image/png;base64,{PNG_1X1_B64}"),
            "uploadPath": "images/base64",
            "fileName": "test-image.png"
        }),
    )
    .await;
    assert_eq!(resp.status, 200);
    assert!(resp.content_type().starts_with("application/json"));
    let v = resp.json();
    assert_eq!(v["success"], true);
    assert_eq!(v["code"], 200);
    let data = &v["data"];
    let keys: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "downloadUrl",
            "fileName",
            "filePath",
            "fileSize",
            "mimeType",
            "uploadedAt"
        ]
    );
    assert_eq!(data["fileName"], "test-image.png");
    assert_eq!(data["filePath"], "kieai/10001/images/base64/test-image.png");
    assert_eq!(
        data["downloadUrl"],
        format!(
            "{}/kieai/10001/images/base64/test-image.png",
            emu.files_base_url()
        )
    );
    assert_eq!(data["fileSize"], 70);
    assert_eq!(data["mimeType"], "image/png");
    assert!(
        is_iso_millis(data["uploadedAt"].as_str().unwrap()),
        "{data}"
    );

    let dl = get(data["downloadUrl"].as_str().unwrap()).await;
    assert_eq!(dl.status, 200);
    assert_eq!(dl.content_type(), "image/png");
    assert_eq!(dl.body, png());

    let stored = emu.stored_files();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].size, 70);
    assert_eq!(
        stored[0].sha256.to_vec(),
        sha2::Sha256::digest(png()).to_vec()
    );
    assert_eq!(stored[0].content.as_deref(), Some(&png()[..]));
}

#[tokio::test]
async fn bare_base64_without_file_name_gets_a_random_name_with_detected_extension() {
    let emu = Emulator::start();
    for file_name in [Value::Null, json!("")] {
        let mut body = json!({"base64Data": PNG_1X1_B64, "uploadPath": "documents/uploads"});
        body["fileName"] = file_name;
        let v = base64_upload(&emu, &body).await.json();
        let name = v["data"]["fileName"].as_str().unwrap();
        assert!(name.ends_with(".png") && name.len() > 4, "{name}");
        assert_eq!(v["data"]["mimeType"], "image/png");
    }
    // Omitted entirely.
    let v = base64_upload(
        &emu,
        &json!({"base64Data": PNG_1X1_B64, "uploadPath": "documents/uploads"}),
    )
    .await
    .json();
    assert!(v["data"]["fileName"].as_str().unwrap().ends_with(".png"));
    assert_eq!(emu.stored_files().len(), 3, "random names never collide");
}

#[tokio::test]
async fn mime_falls_back_to_extension_then_octet_stream() {
    let emu = Emulator::start();
    let text = base64_encode(b"hello, plain text");
    let v = base64_upload(
        &emu,
        &json!({"base64Data": text, "uploadPath": "docs", "fileName": "note.txt"}),
    )
    .await
    .json();
    assert_eq!(v["data"]["mimeType"], "text/plain");
    let v = base64_upload(&emu, &json!({"base64Data": text, "uploadPath": "docs"}))
        .await
        .json();
    assert_eq!(v["data"]["mimeType"], "application/octet-stream");
    assert!(v["data"]["fileName"].as_str().unwrap().ends_with(".bin"));
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn bad_base64_is_rejected_in_both_forms() {
    let emu = Emulator::start();
    let bad = [
        "aGk".to_owned(),                        // missing padding
        "aG k=".to_owned(),                      // whitespace
        "aGk=\n".to_owned(),                     // newline
        "-_8=".to_owned(),                       // URL-safe alphabet
        "not base64 at all!".to_owned(),         //
        "data:image/png;base64,aGk".to_owned(),  // data URL, bad payload
        format!("data:image/png,{PNG_1X1_B64}"), // data URL without ;base64,
        format!("data:image/png;base64,{}", &PNG_1X1_B64[1..]),
    ];
    for data in bad {
        let resp = base64_upload(&emu, &json!({"base64Data": data, "uploadPath": "x"})).await;
        assert_upload_error(
            &resp,
            400,
            400,
            "Base64 decoding failed: Invalid Base64 format",
        );
    }
    assert!(emu.stored_files().is_empty());
}

#[tokio::test]
async fn missing_and_invalid_parameters() {
    let emu = Emulator::start();
    let missing = |name: &str| format!("Missing required parameter: {name}");
    let cases: Vec<(&str, Value, String)> = vec![
        (B64, json!({"uploadPath": "a"}), missing("base64Data")),
        (
            B64,
            json!({"base64Data": "", "uploadPath": "a"}),
            missing("base64Data"),
        ),
        (
            B64,
            json!({"base64Data": null, "uploadPath": "a"}),
            missing("base64Data"),
        ),
        (
            B64,
            json!({"base64Data": PNG_1X1_B64}),
            missing("uploadPath"),
        ),
        (
            B64,
            json!({"base64Data": PNG_1X1_B64, "uploadPath": ""}),
            missing("uploadPath"),
        ),
        (URL, json!({"uploadPath": "a"}), missing("fileUrl")),
        (
            URL,
            json!({"fileUrl": "http://127.0.0.1:9/x.png"}),
            missing("uploadPath"),
        ),
        (
            B64,
            json!({"base64Data": 12, "uploadPath": "a"}),
            "Invalid parameter: base64Data must be a string".into(),
        ),
        (
            B64,
            json!({"base64Data": PNG_1X1_B64, "uploadPath": ["a"]}),
            "Invalid parameter: uploadPath must be a string".into(),
        ),
    ];
    for (path, body, msg) in cases {
        let resp = upload_json(&emu, path, &body).await;
        assert_upload_error(&resp, 400, 400, &msg);
    }
    let slash = "Invalid parameter: uploadPath must not start or end with '/'";
    let empty = "Invalid parameter: uploadPath must not contain empty segments";
    let dots = "Invalid parameter: uploadPath must not contain '.' or '..' segments";
    let ctrl = "Invalid parameter: uploadPath must not contain control characters";
    for (upload_path, msg) in [
        ("/images", slash),
        ("images/", slash),
        ("/", slash),
        ("images//x", empty),
        ("images/../x", dots),
        ("..", dots),
        ("./images", dots),
        ("images/\u{0}x", ctrl),
        ("images\nx", ctrl),
    ] {
        for path in [B64, URL] {
            let body = json!({"base64Data": PNG_1X1_B64, "fileUrl": "http://127.0.0.1:9/a.png", "uploadPath": upload_path});
            assert_upload_error(&upload_json(&emu, path, &body).await, 400, 400, msg);
        }
        let resp = stream_upload(
            &emu,
            &[
                Part::File {
                    name: "file",
                    filename: Some("a.png"),
                    content_type: Some("image/png"),
                    data: &png(),
                },
                Part::Text("uploadPath", upload_path),
            ],
        )
        .await;
        // A raw control character in a multipart text part is still a control character.
        assert_upload_error(&resp, 400, 400, msg);
    }
    for (file_name, msg) in [
        (
            "a/b.png",
            "Invalid parameter: fileName must not contain '/'",
        ),
        (".", "Invalid parameter: fileName must not be '.' or '..'"),
        ("..", "Invalid parameter: fileName must not be '.' or '..'"),
        (
            "a\u{7}.png",
            "Invalid parameter: fileName must not contain control characters",
        ),
    ] {
        let body = json!({"base64Data": PNG_1X1_B64, "uploadPath": "a", "fileName": file_name});
        assert_upload_error(&base64_upload(&emu, &body).await, 400, 400, msg);
    }
    for file_url in [
        "ftp://example.com/a.png",
        "file:///etc/passwd",
        "not a url",
        "http://",
    ] {
        let body = json!({"fileUrl": file_url, "uploadPath": "a"});
        assert_upload_error(
            &upload_json(&emu, URL, &body).await,
            400,
            400,
            "Invalid parameter: fileUrl must be a valid http:// or https:// URL",
        );
    }
    assert!(emu.stored_files().is_empty());
}

#[tokio::test]
async fn json_routes_need_json() {
    let emu = Emulator::start();
    let c = client();
    for path in [B64, URL] {
        let url = format!("{}{path}", emu.upload_base_url());
        // Wrong content type.
        let body = json!({"base64Data": PNG_1X1_B64, "uploadPath": "a"}).to_string();
        for ct in [
            None,
            Some("text/plain"),
            Some("multipart/form-data; boundary=x"),
        ] {
            let mut req = c
                .post(&url)
                .header("Authorization", bearer(&emu))
                .body(body.clone());
            if let Some(ct) = ct {
                req = req.header("Content-Type", ct);
            }
            let resp = read(req.send().await.unwrap()).await;
            assert_upload_error(
                &resp,
                400,
                400,
                "Invalid Content-Type: expected application/json",
            );
        }
        // Parameters on the content type are fine.
        let resp = read(
            c.post(&url)
                .header("Authorization", bearer(&emu))
                .header("Content-Type", "application/json; charset=utf-8")
                .body("{")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(resp.status, 400);
        assert!(
            resp.json()["msg"]
                .as_str()
                .unwrap()
                .starts_with("Invalid JSON body")
        );
        for bad in ["", "[]", "\"x\"", "{\"uploadPath\": \"a\",}"] {
            let resp = read(
                c.post(&url)
                    .header("Authorization", bearer(&emu))
                    .header("Content-Type", "application/json")
                    .body(bad)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(resp.status, 400, "{bad:?}");
            assert_eq!(resp.json()["success"], false);
            assert!(
                resp.json()["msg"]
                    .as_str()
                    .unwrap()
                    .starts_with("Invalid JSON body")
            );
        }
    }
}

#[tokio::test]
async fn json_body_limit_is_configurable() {
    let emu = Emulator::builder().json_body_limit(1000).start();
    let big = base64_encode(&vec![7u8; 2000]);
    let resp = base64_upload(&emu, &json!({"base64Data": big, "uploadPath": "a"})).await;
    assert_upload_error(&resp, 400, 400, "Request body too large (limit 1000 bytes)");
}

#[tokio::test]
async fn auth_is_exactly_bearer_key_on_every_route() {
    let emu = Emulator::start();
    let c = client();
    let key = emu.api_key().to_owned();
    let bad_headers: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![("Authorization", "Bearer wrong".to_owned())],
        vec![("Authorization", format!("bearer {key}"))],
        vec![("Authorization", format!("Bearer  {key}"))],
        vec![("Authorization", key.clone())],
        vec![("apikey", key.clone())],
    ];
    for headers in &bad_headers {
        for path in [B64, STREAM, URL] {
            let mut req = c
                .post(format!("{}{path}", emu.upload_base_url()))
                .header("Content-Type", "application/json")
                .body(json!({"base64Data": PNG_1X1_B64, "uploadPath": "a"}).to_string());
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            let resp = read(req.send().await.unwrap()).await;
            assert_upload_error(&resp, 401, 401, "Authentication failed: Invalid API Key");
            assert_eq!(
                resp.json(),
                json!({"success": false, "code": 401, "msg": "Authentication failed: Invalid API Key"})
            );
        }
        // Api host: the documented body, HTTP 200 by default.
        let mut req = c.get(format!("{}/api/v1/chat/credit", emu.api_base_url()));
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = read(req.send().await.unwrap()).await;
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.json(),
            json!({"code": 401, "msg": "You do not have access permissions"})
        );
        let mut req = c
            .post(format!("{}/api/v1/common/download-url", emu.api_base_url()))
            .header("Content-Type", "application/json")
            .body(r#"{"url":"https://example.com/a.png"}"#);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = read(req.send().await.unwrap()).await;
        assert_eq!(resp.json()["code"], 401);
    }
    assert!(emu.stored_files().is_empty());
}

#[tokio::test]
async fn error_styles_can_be_flipped_per_host() {
    let emu = Emulator::builder()
        .error_style(Host::Upload, ErrorStyle::Http200WithCode)
        .error_style(Host::Api, ErrorStyle::StatusEqualsCode)
        .start();
    let resp = read(
        client()
            .post(format!("{}{B64}", emu.upload_base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_upload_error(&resp, 200, 401, "Authentication failed: Invalid API Key");
    let resp = base64_upload(&emu, &json!({"uploadPath": "a"})).await;
    assert_upload_error(&resp, 200, 400, "Missing required parameter: base64Data");
    let resp = get(&format!("{}/api/v1/chat/credit", emu.api_base_url())).await;
    assert_eq!(resp.status, 401);
    assert_eq!(resp.json()["code"], 401);

    // Flip back at runtime.
    emu.set_error_style(Host::Upload, ErrorStyle::StatusEqualsCode);
    emu.set_error_style(Host::Api, ErrorStyle::Http200WithCode);
    let resp = base64_upload(&emu, &json!({"uploadPath": "a"})).await;
    assert_eq!(resp.status, 400);
    let resp = get(&format!("{}/api/v1/chat/credit", emu.api_base_url())).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["code"], 401);
}

#[tokio::test]
async fn wrong_methods_and_unknown_routes() {
    let emu = Emulator::start();
    let c = client();
    for path in [B64, STREAM, URL] {
        for method in [
            reqwest::Method::GET,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
        ] {
            let resp = read(
                c.request(method, format!("{}{path}", emu.upload_base_url()))
                    .header("Authorization", bearer(&emu))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_upload_error(&resp, 405, 405, "Method Not Allowed");
        }
        // CORS preflight as observed on the real host.
        let resp = read(
            c.request(
                reqwest::Method::OPTIONS,
                format!("{}{path}", emu.upload_base_url()),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(resp.status, 204);
        assert_eq!(resp.headers["access-control-allow-origin"], "*");
    }
    // Upload routes do not exist on the api host (observed 404), and vice versa.
    let resp = get(&format!("{}{URL}", emu.api_base_url())).await;
    assert_eq!(resp.status, 404);
    assert_eq!(resp.json()["code"], 404);
    let resp = get(&format!("{}/", emu.api_base_url())).await;
    assert_eq!(resp.status, 404);
    assert_eq!(resp.json()["code"], 404);
    let resp = get(&format!("{}/api/v1/chat/credit", emu.upload_base_url())).await;
    assert_eq!(resp.status, 404);
    let resp = get(&format!("{}/", emu.upload_base_url())).await;
    assert_eq!(resp.status, 200);
    // Api host wrong method: 405 in the host's style (HTTP 200 by default).
    let resp = read(
        c.post(format!("{}/api/v1/chat/credit", emu.api_base_url()))
            .header("Authorization", bearer(&emu))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["code"], 405);
}

#[tokio::test]
async fn stream_upload_in_any_part_order() {
    let emu = Emulator::start();
    let data = noise(100_000, 1);
    let file = Part::File {
        name: "file",
        filename: Some("original.bin"),
        content_type: Some("application/octet-stream"),
        data: &data,
    };
    let resp = stream_upload(
        &emu,
        &[
            file,
            Part::Text("uploadPath", "images/user-uploads"),
            Part::Text("fileName", "custom-name.dat"),
        ],
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    assert_eq!(v["data"]["fileName"], "custom-name.dat");
    assert_eq!(
        v["data"]["filePath"],
        "kieai/10001/images/user-uploads/custom-name.dat"
    );
    assert_eq!(v["data"]["fileSize"], 100_000);

    let file = Part::File {
        name: "file",
        filename: Some("photo.png"),
        content_type: None,
        data: &png(),
    };
    let resp = stream_upload(
        &emu,
        &[
            Part::Text("uploadPath", "p"),
            Part::Text("extra", "ignored"),
            file,
        ],
    )
    .await;
    let v = resp.json();
    let name = v["data"]["fileName"].as_str().unwrap();
    assert!(
        name.ends_with(".png") && name != "photo.png",
        "random name: {name}"
    );
    let dl = get(v["data"]["downloadUrl"].as_str().unwrap()).await;
    assert_eq!(dl.body, png());

    let log = emu.requests();
    let first = &log[0];
    assert_eq!(first.fields["file"], "100000");
    assert_eq!(first.fields["file.filename"], "original.bin");
    assert_eq!(
        first.fields["file.content_type"],
        "application/octet-stream"
    );
    assert_eq!(first.fields["uploadPath"], "images/user-uploads");
    assert_eq!(first.fields["fileName"], "custom-name.dat");
    assert_eq!(
        first.stored_path.as_deref(),
        Some("kieai/10001/images/user-uploads/custom-name.dat")
    );
    assert!(first.body_len > 100_000);
}

#[tokio::test]
async fn stream_upload_rejections() {
    let emu = Emulator::start();
    let png = png();
    let file = || Part::File {
        name: "file",
        filename: Some("a.png"),
        content_type: Some("image/png"),
        data: &png,
    };
    let resp = stream_upload(&emu, &[Part::Text("uploadPath", "a")]).await;
    assert_upload_error(&resp, 400, 400, "Missing required parameter: file");
    let resp = stream_upload(&emu, &[file()]).await;
    assert_upload_error(&resp, 400, 400, "Missing required parameter: uploadPath");
    let resp = stream_upload(&emu, &[file(), Part::Text("uploadPath", "")]).await;
    assert_upload_error(&resp, 400, 400, "Missing required parameter: uploadPath");
    let resp = stream_upload(&emu, &[file(), file(), Part::Text("uploadPath", "a")]).await;
    assert_upload_error(
        &resp,
        400,
        400,
        "Invalid parameter: only one file part is allowed",
    );
    let resp = stream_upload(
        &emu,
        &[
            file(),
            Part::Text("uploadPath", "a"),
            Part::Text("fileName", "../x"),
        ],
    )
    .await;
    assert_upload_error(
        &resp,
        400,
        400,
        "Invalid parameter: fileName must not contain '/'",
    );

    // Content types: JSON, multipart without boundary, none.
    let (_, body) = multipart(&[file(), Part::Text("uploadPath", "a")]);
    for ct in ["application/json", "multipart/form-data", "text/plain"] {
        let resp = stream_upload_raw(&emu, ct, body.clone()).await;
        assert_upload_error(
            &resp,
            400,
            400,
            "Invalid Content-Type: expected multipart/form-data with a boundary",
        );
    }
    // Malformed bodies: truncated before the closing boundary, garbage, wrong boundary.
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let truncated = body[..body.len() - 30].to_vec();
    for bad in [truncated, b"garbage".to_vec(), body.replace_boundary()] {
        let resp = stream_upload_raw(&emu, &ct, bad).await;
        assert_eq!(resp.status, 400, "{}", resp.text());
        let v = resp.json();
        assert_eq!(v["success"], false);
        assert_eq!(v["code"], 400);
        assert!(
            v["msg"]
                .as_str()
                .unwrap()
                .starts_with("Malformed multipart/form-data body"),
            "{v}"
        );
    }
    assert!(emu.stored_files().is_empty());
}

trait ReplaceBoundary {
    fn replace_boundary(&self) -> Vec<u8>;
}
impl ReplaceBoundary for Vec<u8> {
    fn replace_boundary(&self) -> Vec<u8> {
        String::from_utf8_lossy(self)
            .replace(BOUNDARY, "----some-other-boundary")
            .into_bytes()
    }
}

#[tokio::test]
async fn same_key_overwrites_one_copy() {
    let emu = Emulator::start();
    let first = base64_encode(b"first version");
    let second = base64_encode(b"second version, longer");
    let body = |d: &str| json!({"base64Data": d, "uploadPath": "docs/v", "fileName": "same.txt"});
    let a = base64_upload(&emu, &body(&first)).await.json();
    let b = base64_upload(&emu, &body(&second)).await.json();
    assert_eq!(a["data"]["downloadUrl"], b["data"]["downloadUrl"]);
    let stored = emu.stored_files();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].writes, 2);
    assert_eq!(stored[0].size, 22);
    let dl = get(b["data"]["downloadUrl"].as_str().unwrap()).await;
    assert_eq!(dl.body, b"second version, longer");
    // A different path or name is a different file.
    base64_upload(
        &emu,
        &json!({"base64Data": first, "uploadPath": "docs/w", "fileName": "same.txt"}),
    )
    .await;
    assert_eq!(emu.stored_files().len(), 2);
}

#[tokio::test]
async fn downloads_expire_after_the_ttl() {
    let emu = Emulator::builder()
        .ttl(Duration::from_secs(24 * 3600))
        .start();
    let v = base64_upload(
        &emu,
        &json!({"base64Data": PNG_1X1_B64, "uploadPath": "a", "fileName": "x.png"}),
    )
    .await
    .json();
    let url = v["data"]["downloadUrl"].as_str().unwrap().to_owned();
    emu.clock().advance(Duration::from_secs(23 * 3600));
    assert_eq!(get(&url).await.status, 200);
    assert_eq!(emu.stored_files().len(), 1);
    emu.clock().advance(Duration::from_secs(3600));
    let resp = get(&url).await;
    assert_eq!(resp.status, 404);
    assert!(emu.stored_files().is_empty());
    // Uploading again restarts the TTL, and uploadedAt follows the emulated clock.
    let v = base64_upload(
        &emu,
        &json!({"base64Data": PNG_1X1_B64, "uploadPath": "a", "fileName": "x.png"}),
    )
    .await
    .json();
    assert_eq!(get(&url).await.status, 200);
    let now = kie_emulator::clock::iso8601_millis(emu.now());
    assert_eq!(v["data"]["uploadedAt"].as_str().unwrap()[..13], now[..13]);
}

#[tokio::test]
async fn quickstart_fields_are_optional() {
    let emu = Emulator::builder().quickstart_fields(true).start();
    let v = base64_upload(
        &emu,
        &json!({"base64Data": PNG_1X1_B64, "uploadPath": "images", "fileName": "my-image.png"}),
    )
    .await
    .json();
    let d = &v["data"];
    assert!(d["fileId"].as_str().unwrap().starts_with("file_"));
    assert_eq!(d["originalName"], "my-image.png");
    assert_eq!(d["uploadPath"], "images");
    assert_eq!(d["fileUrl"], d["downloadUrl"]);
    let t = d["uploadTime"].as_str().unwrap();
    assert!(t.len() == 20 && t.ends_with('Z'), "{t}");
    assert!(d["expiresAt"].as_str().unwrap().ends_with('Z'));
    assert!(is_iso_millis(d["uploadedAt"].as_str().unwrap()));
    emu.set_quickstart_fields(false);
    let v = base64_upload(
        &emu,
        &json!({"base64Data": PNG_1X1_B64, "uploadPath": "images"}),
    )
    .await
    .json();
    assert!(v["data"].get("fileId").is_none());
}

#[tokio::test]
async fn hostile_and_unicode_names_are_percent_encoded() {
    let emu = Emulator::builder().account_id("777").start();
    let name = "ünï cødé #1?%&+;=\\\"'<>.txt";
    let v = base64_upload(
        &emu,
        &json!({"base64Data": base64_encode(b"payload"), "uploadPath": "dir ü/sub", "fileName": name}),
    )
    .await
    .json();
    assert_eq!(v["data"]["fileName"], name);
    assert_eq!(v["data"]["filePath"], format!("kieai/777/dir ü/sub/{name}"));
    let url = v["data"]["downloadUrl"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/kieai/777/dir%20%C3%BC/sub/",
            emu.files_base_url()
        )),
        "{url}"
    );
    assert!(!url[7..].contains(['#', '?', ' ', '"']), "{url}");
    let dl = get(url).await;
    assert_eq!(dl.status, 200);
    assert_eq!(dl.body, b"payload");
}

#[tokio::test]
async fn files_host_rules() {
    let emu = Emulator::start();
    let resp = get(&format!("{}/", emu.files_base_url())).await;
    assert_eq!(resp.status, 403);
    let resp = get(&format!("{}/kieai/10001/nope.png", emu.files_base_url())).await;
    assert_eq!(resp.status, 404);
    let v = base64_upload(
        &emu,
        &json!({"base64Data": PNG_1X1_B64, "uploadPath": "a", "fileName": "p.png"}),
    )
    .await
    .json();
    let url = v["data"]["downloadUrl"].as_str().unwrap();
    let head = read(client().head(url).send().await.unwrap()).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.headers["content-length"], "70");
    let resp = read(client().post(url).send().await.unwrap()).await;
    assert_eq!(resp.status, 405);
    // The log shows whether an Authorization header reached the files host.
    get(url).await;
    let files: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.host == Host::Files)
        .collect();
    assert_eq!(files.len(), 5);
    assert!(files.iter().all(|r| !r.has_authorization()));
    read(
        client()
            .get(url)
            .header("Authorization", bearer(&emu))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let last = emu.requests().pop().unwrap();
    assert!(last.has_authorization());
    assert_eq!(last.header("authorization"), Some("Bearer [redacted]"));
}

#[tokio::test]
async fn sixty_four_mib_stream_upload_downloads_byte_exact() {
    let emu = Emulator::start();
    let data = noise(64 * 1024 * 1024, 42);
    let (ct, body) = multipart(&[
        Part::Text("uploadPath", "big"),
        Part::File {
            name: "file",
            filename: Some("big.bin"),
            content_type: Some("application/octet-stream"),
            data: &data,
        },
        Part::Text("fileName", "big.bin"),
    ]);
    let resp = stream_upload_raw(&emu, &ct, body).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    assert_eq!(v["data"]["fileSize"], 64 * 1024 * 1024);
    let dl = get(v["data"]["downloadUrl"].as_str().unwrap()).await;
    assert_eq!(dl.status, 200);
    assert_eq!(
        dl.headers["content-length"],
        (64 * 1024 * 1024).to_string().as_str()
    );
    assert!(dl.body == data, "downloaded bytes differ");
}

#[tokio::test]
async fn discard_mode_keeps_size_and_hash_only() {
    let emu = Emulator::builder().storage(StorageMode::Discard).start();
    let mut data = png();
    data.extend(noise(3 * 1024 * 1024, 9));
    let (ct, body) = multipart(&[
        Part::File {
            name: "file",
            filename: Some("x"),
            content_type: None,
            data: &data,
        },
        Part::Text("uploadPath", "bench"),
    ]);
    let v = stream_upload_raw(&emu, &ct, body).await.json();
    assert_eq!(v["data"]["fileSize"], data.len());
    assert_eq!(
        v["data"]["mimeType"], "image/png",
        "sniffed from the kept head"
    );
    let stored = emu.stored_files();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].content.is_none());
    assert_eq!(
        stored[0].sha256.to_vec(),
        sha2::Sha256::digest(&data).to_vec()
    );
    assert_eq!(stored[0].sha256_hex().len(), 64);
    let dl = get(v["data"]["downloadUrl"].as_str().unwrap()).await;
    assert_eq!(dl.status, 404);
    // Base64 uploads too.
    let v = base64_upload(&emu, &json!({"base64Data": PNG_1X1_B64, "uploadPath": "b"}))
        .await
        .json();
    assert_eq!(v["data"]["fileSize"], 70);
}

#[tokio::test]
async fn url_upload_fetches_from_loopback() {
    let emu = Emulator::start();
    // Something to fetch: a generated file served by the emulator's own files host.
    let source = emu.issue_generated_file(png(), "image/png");
    let resp = upload_json(&emu, URL, &json!({"fileUrl": source, "uploadPath": "images/downloaded", "fileName": "my-downloaded-image.png"})).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    assert_eq!(v["data"]["fileName"], "my-downloaded-image.png");
    assert_eq!(v["data"]["mimeType"], "image/png");
    assert_eq!(
        get(v["data"]["downloadUrl"].as_str().unwrap()).await.body,
        png()
    );
    // Without fileName: the name comes from the URL.
    let v = upload_json(
        &emu,
        URL,
        &json!({"fileUrl": source, "uploadPath": "documents/manuals"}),
    )
    .await
    .json();
    assert_eq!(v["data"]["fileName"], "result.png");
    // Remote 404.
    let missing = format!("{}/nothing/here.pdf", emu.files_base_url());
    let resp = upload_json(&emu, URL, &json!({"fileUrl": missing, "uploadPath": "a"})).await;
    assert_upload_error(
        &resp,
        400,
        400,
        "File download failed: remote server answered HTTP 404",
    );
    // Connection refused.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let resp = upload_json(
        &emu,
        URL,
        &json!({"fileUrl": format!("http://{closed}/a.png"), "uploadPath": "a"}),
    )
    .await;
    assert_eq!(resp.status, 400);
    assert!(
        resp.json()["msg"]
            .as_str()
            .unwrap()
            .starts_with("File download failed")
    );
    assert_eq!(emu.stored_files().len(), 2);
}

#[tokio::test]
async fn url_upload_timeout_and_size_cap() {
    let emu = Emulator::builder()
        .url_fetch_timeout(Duration::from_millis(300))
        .url_fetch_max_bytes(50)
        .start();
    // A server that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let started = std::time::Instant::now();
    let resp = upload_json(
        &emu,
        URL,
        &json!({"fileUrl": format!("http://{addr}/slow.png"), "uploadPath": "a"}),
    )
    .await;
    assert_upload_error(&resp, 400, 400, "File download failed: timed out");
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(silent);
    let source = emu.issue_generated_file(png(), "image/png"); // 70 bytes > 50
    let resp = upload_json(&emu, URL, &json!({"fileUrl": source, "uploadPath": "a"})).await;
    assert_upload_error(
        &resp,
        400,
        400,
        "File download failed: file exceeds the 50-byte limit",
    );
    assert!(emu.stored_files().is_empty());
}

#[tokio::test]
async fn credits_balance() {
    let emu = Emulator::builder().credits(214.0).start();
    let url = format!("{}/api/v1/chat/credit", emu.api_base_url());
    let fetch = || async {
        read(
            client()
                .get(&url)
                .header("Authorization", bearer(&emu))
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    let resp = fetch().await;
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.json(),
        json!({"code": 200, "msg": "success", "data": 214})
    );
    assert!(resp.json()["data"].is_u64());
    emu.set_credits(4.8);
    assert_eq!(fetch().await.json()["data"], json!(4.8));
    emu.set_credits(0.0);
    assert_eq!(fetch().await.json()["data"], json!(0));
}

#[tokio::test]
async fn download_url_accepts_only_generated_files() {
    let emu = Emulator::start();
    let generated = emu.issue_generated_file(b"RIFF....WAVEfmt fake audio".to_vec(), "audio/wav");
    let endpoint = format!("{}/api/v1/common/download-url", emu.api_base_url());
    let post = |body: String| {
        let endpoint = endpoint.clone();
        let auth = bearer(&emu);
        async move {
            read(
                client()
                    .post(endpoint)
                    .header("Authorization", auth)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let resp = post(json!({"url": generated}).to_string()).await;
    assert_eq!(resp.status, 200);
    let v = resp.json();
    assert_eq!(v["code"], 200);
    assert_eq!(v["msg"], "success");
    let link = v["data"].as_str().unwrap().to_owned();
    assert_ne!(link, generated);
    assert!(link.starts_with(&emu.files_base_url()));
    let dl = get(&link).await;
    assert_eq!(dl.status, 200);
    assert_eq!(dl.content_type(), "audio/wav");
    assert_eq!(dl.body, b"RIFF....WAVEfmt fake audio");

    // Valid 20 minutes.
    emu.clock().advance(Duration::from_secs(19 * 60));
    assert_eq!(get(&link).await.status, 200);
    emu.clock().advance(Duration::from_secs(2 * 60));
    assert_eq!(get(&link).await.status, 404);
    // The generated URL still works and yields another fresh link.
    assert_eq!(
        post(json!({"url": generated}).to_string()).await.json()["code"],
        200
    );

    // External URLs, uploaded files, and malformed requests: 422 at HTTP 200.
    let uploaded = base64_upload(&emu, &json!({"base64Data": PNG_1X1_B64, "uploadPath": "a"}))
        .await
        .json()["data"]["downloadUrl"]
        .clone();
    for url in [
        json!("https://tempfile.aiquickdraw.com/path/to/image.jpg"),
        uploaded,
    ] {
        let resp = post(json!({"url": url}).to_string()).await;
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.json(),
            json!({"code": 422, "msg": "Validation Error - Invalid URL (External file URLs are not supported)", "data": null})
        );
    }
    for body in ["{}", r#"{"url":""}"#, r#"{"url":5}"#, "not json"] {
        let resp = post(body.to_owned()).await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.json()["code"], 422, "{body}");
        assert_eq!(resp.json()["data"], Value::Null);
    }
    emu.set_error_style(Host::Api, ErrorStyle::StatusEqualsCode);
    assert_eq!(post("{}".to_owned()).await.status, 422);
}

#[tokio::test]
async fn user_agent_rule() {
    let emu = Emulator::builder().require_user_agent(true).start();
    let body = json!({"base64Data": PNG_1X1_B64, "uploadPath": "a"}).to_string();
    let resp = read(
        client_without_ua()
            .post(format!("{}{B64}", emu.upload_base_url()))
            .header("Authorization", bearer(&emu))
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(resp.status, 403);
    assert!(resp.content_type().starts_with("text/plain"));
    assert_eq!(resp.text(), "error code: 1010");
    assert!(emu.stored_files().is_empty());
    let resp = read(
        client_without_ua()
            .get(format!("{}/api/v1/chat/credit", emu.api_base_url()))
            .header("Authorization", bearer(&emu))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(resp.status, 403);
    // With a User-Agent it works.
    let v = base64_upload(&emu, &json!({"base64Data": PNG_1X1_B64, "uploadPath": "a"}))
        .await
        .json();
    assert_eq!(v["code"], 200);
    let log = emu.requests();
    assert_eq!(log[0].user_agent, None);
    assert_eq!(
        log[2].user_agent.as_deref(),
        Some("kie-tests/emulator-suite")
    );
    emu.set_require_user_agent(false);
    let resp = read(
        client_without_ua()
            .get(format!("{}/api/v1/chat/credit", emu.api_base_url()))
            .header("Authorization", bearer(&emu))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(resp.json()["code"], 200);
}

#[tokio::test]
async fn the_log_records_requests_with_the_key_redacted() {
    let emu = Emulator::start();
    base64_upload(&emu, &json!({"base64Data": PNG_1X1_B64, "uploadPath": "images/base64", "fileName": "t.png", "extra": 5})).await;
    read(
        client()
            .get(format!("{}/api/v1/chat/credit", emu.api_base_url()))
            .header("Authorization", "Bearer wrong")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let log = emu.requests();
    assert_eq!(log.len(), 2);
    let up = &log[0];
    assert_eq!(up.method, "POST");
    assert_eq!(up.host, Host::Upload);
    assert_eq!(up.route, Some(Route::Base64Upload));
    assert_eq!(up.path, B64);
    assert_eq!(up.header("authorization"), Some("Bearer [redacted]"));
    assert!(up.headers.iter().all(|(_, v)| !v.contains(emu.api_key())));
    assert_eq!(up.fields["base64Data"], PNG_1X1_B64.len().to_string());
    assert_eq!(up.fields["uploadPath"], "images/base64");
    assert_eq!(up.fields["fileName"], "t.png");
    assert_eq!(up.fields["extra"], "5");
    assert_eq!(
        up.body_len,
        up.header("content-length").unwrap().parse::<u64>().unwrap()
    );
    assert_eq!(
        up.stored_path.as_deref(),
        Some("kieai/10001/images/base64/t.png")
    );
    assert_eq!(up.response_status, 200);
    assert_eq!(up.response_code, Some(200));
    assert_eq!(up.fault, None);
    let credit = &log[1];
    assert_eq!(credit.host, Host::Api);
    assert_eq!(credit.route, Some(Route::Credits));
    assert_eq!(credit.header("authorization"), Some("Bearer [redacted]"));
    assert_eq!(credit.response_status, 200);
    assert_eq!(credit.response_code, Some(401));
    assert!(credit.id > up.id);
    emu.clear_log();
    assert!(emu.requests().is_empty());
}

#[test]
fn usable_from_sync_code_and_stops_on_drop() {
    let emu = Emulator::start();
    let upload = emu.upload_base_url();
    let addr = upload.trim_start_matches("http://").to_owned();
    assert!(std::net::TcpStream::connect(&addr).is_ok());
    drop(emu);
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "listener closed after drop"
    );
}
