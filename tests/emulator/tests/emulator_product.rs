//! The emulator as a product: CORS headers on actual answers, byte ranges on the files
//! host, the bot-like User-Agent rule (spec §1.4), and the `kie-emulator` binary's
//! command line (empty key, port in use, `--help`, `--generated-file`). Checked with plain
//! HTTP (reqwest) and with `curl` (skipped with a notice when it is not on PATH).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use kie_emulator::{Emulator, Host};
use serde_json::json;
use support::*;

/// Uploads `data` by the stream route; returns its `downloadUrl`.
async fn stored(emu: &Emulator, data: &[u8]) -> String {
    let resp = stream_upload(
        emu,
        &[
            Part::Text("uploadPath", "ranges"),
            Part::Text("fileName", "digits.txt"),
            Part::File {
                name: "file",
                filename: Some("digits.txt"),
                content_type: Some("text/plain"),
                data,
            },
        ],
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()["data"]["downloadUrl"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn get_with(url: &str, name: &str, value: &str) -> Resp {
    read(client().get(url).header(name, value).send().await.unwrap()).await
}

fn header<'a>(resp: &'a Resp, name: &str) -> &'a str {
    resp.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_else(|| panic!("no {name} header in {:?}", resp.headers))
}

#[tokio::test]
async fn every_answer_carries_cors_headers() {
    let emu = Emulator::start();
    let credit = format!("{}/api/v1/chat/credit", emu.api_base_url());
    let ok = read(
        client()
            .get(&credit)
            .header("Authorization", bearer(&emu))
            .header("Origin", "https://app.example")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(header(&ok, "access-control-allow-origin"), "*");
    assert_eq!(
        header(&ok, "access-control-expose-headers"),
        "Retry-After, Content-Range"
    );
    // Refusals too (the upload host's 401, a fault's canned 429), so a browser can read them.
    let refused = read(
        client()
            .post(format!("{}/api/file-base64-upload", emu.upload_base_url()))
            .header("Authorization", "Bearer wrong-key")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(refused.status, 401);
    assert_eq!(header(&refused, "access-control-allow-origin"), "*");
    emu.faults().push(
        kie_emulator::Route::Credits,
        kie_emulator::Fault::rate_limited(Some(3)),
    );
    let limited = get(&credit).await;
    assert_eq!(limited.status, 429);
    assert_eq!(header(&limited, "access-control-allow-origin"), "*");
    assert_eq!(header(&limited, "retry-after"), "3");
    // The preflight keeps its single Allow-Origin.
    let preflight = read(
        client()
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/file-stream-upload", emu.upload_base_url()),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight
            .headers
            .get_all("access-control-allow-origin")
            .iter()
            .count(),
        1
    );
}

#[tokio::test]
async fn downloads_answer_byte_ranges() {
    let emu = Emulator::start();
    let url = stored(&emu, b"0123456789").await;

    let whole = get(&url).await;
    assert_eq!(
        (whole.status, whole.body.as_slice()),
        (200, &b"0123456789"[..])
    );
    assert_eq!(header(&whole, "accept-ranges"), "bytes");

    for (range, body, content_range) in [
        ("bytes=2-5", &b"2345"[..], "bytes 2-5/10"),
        ("bytes=7-", b"789", "bytes 7-9/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=8-100", b"89", "bytes 8-9/10"),
    ] {
        let part = get_with(&url, "Range", range).await;
        assert_eq!(part.status, 206, "{range}");
        assert_eq!(part.body, body, "{range}");
        assert_eq!(header(&part, "content-range"), content_range, "{range}");
        assert_eq!(header(&part, "content-length"), body.len().to_string());
    }
    let beyond = get_with(&url, "Range", "bytes=10-").await;
    assert_eq!(beyond.status, 416);
    assert_eq!(header(&beyond, "content-range"), "bytes */10");
    // Several ranges: the whole file (RFC 9110 lets a server ignore Range).
    let several = get_with(&url, "Range", "bytes=0-1,4-5").await;
    assert_eq!((several.status, several.body.len()), (200, 10));

    // Generated files and download links are ranged the same way.
    let generated = emu.issue_generated_file(b"generated-bytes".to_vec(), "text/plain");
    let part = get_with(&generated, "Range", "bytes=0-8").await;
    assert_eq!(
        (part.status, part.body.as_slice()),
        (206, &b"generated"[..])
    );

    if have_curl() {
        let (status, body) = curl(&["-r", "3-4", &url]);
        assert_eq!((status, body.as_slice()), (206, &b"34"[..]));
    }
}

#[tokio::test]
async fn bot_like_user_agents_are_refused_when_asked() {
    let emu = Emulator::builder().refuse_bot_user_agents(true).start();
    let credit = format!("{}/api/v1/chat/credit", emu.api_base_url());
    let with_agent = |agent: &'static str| {
        let credit = credit.clone();
        let key = bearer(&emu);
        async move {
            read(
                client()
                    .get(credit)
                    .header("Authorization", key)
                    .header("User-Agent", agent)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    for bot in [
        "Python-urllib/3.11",
        "python-requests/2.32.3",
        "Go-http-client/1.1",
        "curl/8.5.0",
    ] {
        let refused = with_agent(bot).await;
        assert_eq!(refused.status, 403, "{bot}");
        assert_eq!(refused.text(), "error code: 1010", "{bot}");
    }
    for person in ["kie-rs/0.1.0", "Mozilla/5.0 (X11; Linux x86_64)"] {
        assert_eq!(with_agent(person).await.status, 200, "{person}");
    }
    // No agent at all is bot-like too.
    let none = read(
        client_without_ua()
            .get(&credit)
            .header("Authorization", bearer(&emu))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(none.status, 403);
    // Off by default, and switchable while running.
    emu.set_refuse_bot_user_agents(false);
    assert_eq!(with_agent("Python-urllib/3.11").await.status, 200);

    if have_curl() {
        emu.set_refuse_bot_user_agents(true);
        let auth = format!("Authorization: {}", bearer(&emu));
        let (status, body) = curl(&["-H", &auth, &credit]);
        assert_eq!((status, body.as_slice()), (403, &b"error code: 1010"[..]));
        let (status, _) = curl(&["-A", "my-app/2.0", "-H", &auth, &credit]);
        assert_eq!(status, 200);
    }
}

#[test]
fn a_port_in_use_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let error = Emulator::builder().port(port).try_start().unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    assert_eq!(
        error.to_string(),
        format!(
            "cannot listen on 127.0.0.1:{port} for the upload host; free that port or choose another --port"
        )
    );
    let inner = error.get_ref().unwrap();
    let bind = inner.downcast_ref::<kie_emulator::BindError>().unwrap();
    assert_eq!((bind.host, bind.addr.port()), (Host::Upload, port));
    assert_eq!(
        std::error::Error::source(bind).unwrap().to_string(),
        bind.source.to_string()
    );

    let output = Command::new(env!("CARGO_BIN_EXE_kie-emulator"))
        .args(["--port", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "kie-emulator: cannot start: cannot listen on 127.0.0.1:{port} for the upload host; free that port or choose another --port: "
        )),
        "{stderr}"
    );
}

#[test]
fn the_binary_refuses_an_unusable_key() {
    for key in ["--key=", "--key=two words"] {
        let output = Command::new(env!("CARGO_BIN_EXE_kie-emulator"))
            .arg(key)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{key}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains("invalid value"), "{key}: {stderr}");
        assert!(stderr.contains("--key <KEY>"), "{key}: {stderr}");
        assert!(output.stdout.is_empty(), "{key}: nothing may be served");
    }
}

#[test]
fn the_binary_help_describes_the_binary() {
    let output = Command::new(env!("CARGO_BIN_EXE_kie-emulator"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(
        help.starts_with(
            "Runs a local emulator of the KIE.AI File Upload API, Common API and Market task API"
        ),
        "{help}"
    );
    for flag in [
        "--port",
        "--key",
        "--generated-file <PATH>",
        "--refuse-bot-user-agents",
        "KIE_UPLOAD_BASE_URL=",
        "--task-seconds <SECONDS>",
        "--webhook-key <KEY>",
        "--not-visible-polls <N>",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[tokio::test]
async fn the_binary_serves_generated_files_to_download_url() {
    let dir = std::env::temp_dir().join(format!("kie-emulator-product-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("result.png");
    std::fs::write(&file, png()).unwrap();
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_kie-emulator"))
            .args(["--port", "0", "--key", "gen-key", "--generated-file"])
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let vars = tokio::task::spawn_blocking(move || {
        let mut vars = HashMap::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let (name, value) = line.split_once('=').unwrap();
            vars.insert(name.to_owned(), value.to_owned());
            if vars.len() == 5 {
                break;
            }
        }
        vars
    })
    .await
    .unwrap();
    let generated = &vars["KIE_GENERATED_URL"];
    assert!(generated.starts_with(&format!("{}/generated/", vars["KIE_FILES_BASE_URL"])));
    assert!(generated.ends_with("/result.png"), "{generated}");
    let served = get(generated).await;
    assert_eq!((served.status, served.body.clone()), (200, png()));
    assert_eq!(served.content_type(), "image/png");

    let resp = read(
        client()
            .post(format!(
                "{}/api/v1/common/download-url",
                vars["KIE_API_BASE_URL"]
            ))
            .header("Authorization", "Bearer gen-key")
            .header("Content-Type", "application/json")
            .body(json!({ "url": generated }).to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(resp.json()["code"], 200, "{}", resp.text());
    let link = resp.json()["data"].as_str().unwrap().to_owned();
    assert_eq!(get(&link).await.body, png());

    let missing = Command::new(env!("CARGO_BIN_EXE_kie-emulator"))
        .args(["--generated-file", "/nonexistent/kie-emulator-file.png"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8(missing.stderr).unwrap().starts_with(
        "kie-emulator: --generated-file: cannot read /nonexistent/kie-emulator-file.png: "
    ));
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Kills (by its own handle) and reaps the spawned emulator even if an assertion fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
