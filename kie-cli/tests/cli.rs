//! The `kie` binary against the emulator, over real sockets: what is stored, what is
//! printed, and the exit code of each failure class.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kie_emulator::{Emulator, Fault, Route};
use serde_json::Value;

mod common;
use common::{assert_exit, json_lines, kie, scratch, text};

const SECRET_KEY: &str = "sk-cli-test-4f1c9a7e2b";

fn emulator() -> Emulator {
    Emulator::builder().api_key(SECRET_KEY).start()
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run kie")
}

/// stderr holds only the closing summary line: `uploaded` files, no failure.
fn assert_summary_only(output: &Output, uploaded: usize) {
    let stderr = text(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with(&format!("kie: {uploaded} uploaded (")),
        "{stderr}"
    );
    assert!(lines[0].ends_with(" s"), "{stderr}");
}

/// The key never shows, whatever happened.
fn assert_no_key(output: &Output, key: &str) {
    assert!(!text(&output.stdout).contains(key), "key on stdout");
    assert!(!text(&output.stderr).contains(key), "key on stderr");
}

fn content(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 7) as u8)
        .collect()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn files_and_a_directory_are_stored_byte_exact_and_reported_as_ndjson() {
    let emu = emulator();
    let dir = scratch("exact");
    let mut expected: HashMap<String, (PathBuf, Vec<u8>, String)> = HashMap::new();
    for (relative, len, folder) in [
        ("photos/a.bin", 300_000, "batch"),
        ("photos/b.txt", 1, "batch"),
        ("photos/empty.dat", 0, "batch"),
        ("photos/deeper/c.bin", 70_000, "batch/deeper"),
        ("single.bin", 2 * 1024 * 1024 + 5, "batch"),
    ] {
        let bytes = content(len, len);
        let path = dir.join(relative);
        write(&path, &bytes);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        expected.insert(format!("kieai/10001/{folder}/{name}"), (path, bytes, name));
    }

    let output = run(kie(&emu)
        .args(["upload", "--json", "-r", "--path", "batch"])
        .arg(dir.join("photos"))
        .arg(dir.join("single.bin")));
    assert_exit(&output, 0);
    assert_no_key(&output, SECRET_KEY);
    // stderr is not a terminal: no bars; on success only the closing summary line.
    assert_summary_only(&output, 5);

    let stored = emu.stored_files();
    assert_eq!(stored.len(), expected.len());
    let lines = json_lines(&output);
    assert_eq!(lines.len(), expected.len());
    for file in &stored {
        let (path, bytes, name) = &expected[&file.path];
        assert_eq!(file.content.as_deref(), Some(&bytes[..]), "{}", file.path);
        assert_eq!(&file.file_name, name);
        let line = lines
            .iter()
            .find(|line| line["path"] == path.display().to_string())
            .unwrap_or_else(|| panic!("no line for {}", path.display()));
        assert_eq!(line["downloadUrl"], file.download_url);
        assert_eq!(line["fileName"], file.file_name);
        assert_eq!(line["fileSize"], file.size);
        assert_eq!(line["mimeType"], file.mime);
        assert!(line.get("error").is_none());
    }
}

#[test]
fn the_human_table_lists_name_size_and_url_in_argument_order() {
    let emu = emulator();
    let dir = scratch("table");
    write(&dir.join("one.txt"), b"one");
    write(&dir.join("two.txt"), &content(2, 2048));
    let output = run(kie(&emu)
        .args(["upload", "--path", "docs"])
        .arg(dir.join("two.txt"))
        .arg(dir.join("one.txt")));
    assert_exit(&output, 0);
    let stdout = text(&output.stdout);
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let files = emu.files_base_url();
    assert_eq!(
        rows,
        vec![
            vec!["NAME", "SIZE", "URL"],
            vec![
                "two.txt",
                "2.00",
                "KiB",
                &format!("{files}/kieai/10001/docs/two.txt")
            ],
            vec![
                "one.txt",
                "3",
                "B",
                &format!("{files}/kieai/10001/docs/one.txt")
            ],
        ]
    );
    // Results on stdout only: without a terminal, stderr has only the summary.
    assert_summary_only(&output, 2);
}

#[test]
fn base64_and_data_url_uploads_use_the_base64_endpoint_with_name_and_mime() {
    let emu = emulator();
    let dir = scratch("base64");
    let bytes = content(7, 5000);
    write(&dir.join("raw.bin"), &bytes);
    for (flag, name) in [("--base64", "b64.bin"), ("--data-url", "dataurl.bin")] {
        let output = run(kie(&emu)
            .args([
                "upload",
                flag,
                "--name",
                name,
                "--mime",
                "image/webp",
                "--json",
            ])
            .arg(dir.join("raw.bin")));
        assert_exit(&output, 0);
        let line = &json_lines(&output)[0];
        assert_eq!(line["fileName"], name);
    }
    let stored = emu.stored_files();
    assert_eq!(stored.len(), 2);
    assert!(
        stored
            .iter()
            .all(|f| f.content.as_deref() == Some(&bytes[..]))
    );
    let routes: Vec<_> = emu.requests().iter().map(|r| r.route).collect();
    assert_eq!(routes, vec![Some(Route::Base64Upload); 2]);
}

#[test]
fn failures_do_not_stop_the_others_and_partial_failure_exits_1() {
    let emu = emulator();
    let dir = scratch("partial");
    write(&dir.join("good.txt"), b"good");
    let missing = dir.join("missing.txt");
    let output = run(kie(&emu)
        .args(["upload", "--json"])
        .arg(&missing)
        .arg(dir.join("good.txt")));
    assert_exit(&output, 1);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 2);
    let failed = lines.iter().find(|l| l.get("error").is_some()).unwrap();
    assert_eq!(failed["path"], missing.display().to_string());
    assert_eq!(failed["error"]["kind"], "io");
    assert_eq!(failed["error"]["httpStatus"], Value::Null);
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing.txt")
    );
    assert_eq!(emu.stored_files().len(), 1);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("missing.txt"), "{stderr}");
    assert!(stderr.contains("1 of 2 uploads failed"), "{stderr}");
}

#[test]
fn an_unreadable_file_alone_exits_6_and_a_refused_upload_5() {
    let emu = emulator();
    let dir = scratch("local");
    let output = run(kie(&emu).arg("upload").arg(dir.join("nope.png")));
    assert_exit(&output, 6);
    assert_eq!(emu.requests().len(), 0);

    write(&dir.join("a.txt"), b"a");
    emu.faults().push(
        Route::StreamUpload,
        Fault::json(
            400,
            serde_json::json!({"code": 400, "msg": "injected refusal"}),
        ),
    );
    let output = run(kie(&emu).args(["upload", "--json"]).arg(dir.join("a.txt")));
    assert_exit(&output, 5);
    let error = &json_lines(&output)[0]["error"];
    assert_eq!(error["kind"], "bad_request");
    assert_eq!(error["httpStatus"], 400);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("injected refusal")
    );
}

#[test]
fn verified_uploads_download_each_file_back_without_the_key() {
    let emu = emulator();
    let dir = scratch("verify");
    let streamed = content(11, 300_000);
    let encoded = content(12, 4097);
    write(&dir.join("streamed.bin"), &streamed);
    write(&dir.join("encoded.bin"), &encoded);
    let output = run(kie(&emu)
        .args(["upload", "--verify", "--json", "--path", "checked"])
        .arg(dir.join("streamed.bin")));
    assert_exit(&output, 0);
    let output = run(kie(&emu)
        .args(["upload", "--verify", "--base64", "--path", "checked"])
        .arg(dir.join("encoded.bin")));
    assert_exit(&output, 0);
    assert_summary_only(&output, 1);

    let stored = emu.stored_files();
    assert_eq!(stored.len(), 2);
    for (name, bytes) in [("streamed.bin", &streamed), ("encoded.bin", &encoded)] {
        let file = stored.iter().find(|f| f.file_name == name).unwrap();
        assert_eq!(file.content.as_deref(), Some(&bytes[..]), "{name}");
    }
    // Each upload was followed by one download of its downloadUrl, which never carries
    // the key (the storage host is not KIE.AI's API).
    let requests = emu.requests();
    let routes: Vec<_> = requests.iter().map(|r| r.route).collect();
    assert_eq!(
        routes,
        [
            Some(Route::StreamUpload),
            Some(Route::Files),
            Some(Route::Base64Upload),
            Some(Route::Files)
        ]
    );
    for (download, file) in requests
        .iter()
        .filter(|r| r.route == Some(Route::Files))
        .zip(["streamed.bin", "encoded.bin"])
    {
        assert_eq!(download.method, "GET");
        assert_eq!(download.path, format!("/kieai/10001/checked/{file}"));
        assert_eq!(download.response_status, 200);
        assert!(!download.has_authorization());
    }
    // Without --verify, nothing is downloaded.
    emu.clear_log();
    let output = run(kie(&emu).arg("upload").arg(dir.join("streamed.bin")));
    assert_exit(&output, 0);
    assert_eq!(emu.requests().len(), 1);
}

#[test]
fn a_stored_file_that_differs_exits_7_with_its_kind_in_text_and_json() {
    let emu = emulator();
    let dir = scratch("mismatch");
    let bytes = content(13, 10_000);
    write(&dir.join("a.bin"), &bytes);
    // The storage host serves other bytes than were uploaded (one byte flipped).
    let mut corrupted = bytes.clone();
    corrupted[5_000] ^= 0x01;
    let corrupt = || Fault::Respond {
        status: 200,
        content_type: "application/octet-stream".to_owned(),
        body: corrupted.clone(),
        headers: Vec::new(),
    };
    let download_url = format!("{}/kieai/10001/kie-cli/a.bin", emu.files_base_url());

    emu.faults().push(Route::Files, corrupt());
    let output = run(kie(&emu)
        .args(["upload", "--verify", "--json"])
        .arg(dir.join("a.bin")));
    assert_exit(&output, 7);
    assert_no_key(&output, SECRET_KEY);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["path"], dir.join("a.bin").display().to_string());
    let error = &lines[0]["error"];
    assert_eq!(error["kind"], "download_mismatch");
    assert_eq!(error["httpStatus"], Value::Null);
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "the file downloaded back from {download_url} is not what was sent (10000 bytes with SHA-256 "
        )),
        "{message}"
    );
    assert!(message.ends_with("; upload it again"), "{message}");

    // The same failure for a person: nothing on stdout, the SDK's line on stderr.
    emu.faults().push(Route::Files, corrupt());
    let output = run(kie(&emu)
        .args(["upload", "--verify"])
        .arg(dir.join("a.bin")));
    assert_exit(&output, 7);
    assert_eq!(text(&output.stdout), "");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&dir.join("a.bin").display().to_string()),
        "{stderr}"
    );
    assert!(stderr.contains(message), "{stderr}");

    // A download that is refused cannot confirm the upload either: its own kind, with the
    // storage host's status.
    emu.faults().push(Route::Files, Fault::html(403));
    let output = run(kie(&emu)
        .args(["upload", "--verify", "--json"])
        .arg(dir.join("a.bin")));
    assert_exit(&output, 7);
    let error = &json_lines(&output)[0]["error"];
    assert_eq!(error["kind"], "download_refused");
    assert_eq!(error["httpStatus"], 403);

    // KIE.AI reporting another size than was sent is caught even without --verify.
    emu.faults().push(
        Route::StreamUpload,
        Fault::json(
            200,
            serde_json::json!({"success": true, "code": 200, "msg": "File uploaded successfully",
                "data": {"fileName": "a.bin", "downloadUrl": download_url, "fileSize": 9_999}}),
        ),
    );
    let output = run(kie(&emu).args(["upload", "--json"]).arg(dir.join("a.bin")));
    assert_exit(&output, 7);
    let error = &json_lines(&output)[0]["error"];
    assert_eq!(error["kind"], "size_mismatch");
    assert_eq!(
        error["message"],
        "KIE.AI reports 9999 bytes stored for an upload of 10000 bytes, so the stored file is not what was sent; upload it again"
    );

    // One good and one corrupted file: a partial failure, exit 1.
    write(&dir.join("b.bin"), b"fine");
    emu.faults().push(Route::Files, corrupt());
    let output = run(kie(&emu)
        .args(["upload", "--verify", "-j", "1"])
        .arg(dir.join("a.bin"))
        .arg(dir.join("b.bin")));
    assert_exit(&output, 1);
    assert!(text(&output.stdout).contains("b.bin"));
    assert!(text(&output.stderr).contains("1 of 2 uploads failed"));
}

#[test]
fn a_wrong_key_exits_3_with_the_sdk_hint_and_the_key_never_shows() {
    let emu = emulator();
    let dir = scratch("auth");
    write(&dir.join("a.txt"), b"a");
    let wrong = "sk-wrong-key-9d8e7f";
    let output = run(kie(&emu)
        .env("KIE_API_KEY", wrong)
        .args(["upload", "--json"])
        .arg(dir.join("a.txt")));
    assert_exit(&output, 3);
    assert_no_key(&output, wrong);
    let line = &json_lines(&output)[0];
    assert_eq!(line["error"]["kind"], "unauthorized");
    assert_eq!(line["error"]["code"], 401);
    assert!(text(&output.stderr).contains("KIE_API_KEY"));

    let output = run(kie(&emu).env("KIE_API_KEY", wrong).arg("credits"));
    assert_exit(&output, 3);
    assert_no_key(&output, wrong);
}

#[test]
fn without_a_key_kie_says_how_to_set_it_and_exits_3() {
    let emu = emulator();
    let output = run(kie(&emu).env_remove("KIE_API_KEY").arg("credits"));
    assert_exit(&output, 3);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("KIE_API_KEY is not set"), "{stderr}");
    assert!(stderr.contains("--api-key-file"), "{stderr}");
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn the_key_can_come_from_a_file_with_a_trailing_newline() {
    let emu = emulator();
    let dir = scratch("keyfile");
    let key_file = dir.join("key");
    write(&key_file, format!("{SECRET_KEY}\n").as_bytes());
    let output = run(kie(&emu)
        .env_remove("KIE_API_KEY")
        .arg("--api-key-file")
        .arg(&key_file)
        .args(["credits", "--json"]));
    assert_exit(&output, 0);
    assert_eq!(json_lines(&output)[0]["credits"].as_f64(), Some(100.0));
    assert_no_key(&output, SECRET_KEY);
}

#[test]
fn a_dead_port_exits_4() {
    let emu = emulator();
    let dir = scratch("network");
    write(&dir.join("a.txt"), b"a");
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}");
    let output = run(kie(&emu)
        .args([
            "upload",
            "--json",
            "--max-attempts",
            "2",
            "--upload-base-url",
            &dead,
        ])
        .arg(dir.join("a.txt")));
    assert_exit(&output, 4);
    assert_eq!(json_lines(&output)[0]["error"]["kind"], "connect");
    assert_no_key(&output, SECRET_KEY);

    let output =
        run(kie(&emu)
            .env("KIE_API_BASE_URL", &dead)
            .args(["credits", "--max-attempts", "1"]));
    assert_exit(&output, 4);
}

#[test]
fn a_service_refusal_exits_5_with_status_and_code() {
    let emu = emulator();
    emu.faults().push(
        Route::Credits,
        Fault::json(
            402,
            serde_json::json!({"code": 402, "msg": "Credits insufficient"}),
        ),
    );
    let output = run(kie(&emu).args(["credits", "--json"]));
    assert_exit(&output, 5);
    let error = &json_lines(&output)[0]["error"];
    assert_eq!(error["kind"], "insufficient_credits");
    assert_eq!(error["httpStatus"], 402);
    assert_eq!(error["code"], 402);
    assert!(text(&output.stderr).contains("top up credits"));

    // download-url of a URL KIE.AI did not generate: 422.
    let output = run(kie(&emu).args(["download-url", "https://example.com/x.png"]));
    assert_exit(&output, 5);
    let generated = emu.issue_generated_file(b"GIF89a".to_vec(), "image/gif");
    let output = run(kie(&emu).args(["download-url", &generated]));
    assert_exit(&output, 0);
    assert!(text(&output.stdout).starts_with("http"));
}

#[test]
fn usage_errors_exit_2_before_anything_is_sent() {
    let emu = emulator();
    let dir = scratch("usage");
    write(&dir.join("a.txt"), b"a");
    write(&dir.join("b.txt"), b"b");
    std::fs::create_dir_all(dir.join("empty/sub")).unwrap();
    for args in [
        vec!["upload".to_owned()],
        vec![
            "upload".to_owned(),
            "--concurrency".to_owned(),
            "0".to_owned(),
            "x".to_owned(),
        ],
        vec![
            "upload".to_owned(),
            "--api-key".to_owned(),
            "k".to_owned(),
            "x".to_owned(),
        ],
        vec![
            "upload".to_owned(),
            "--base64".to_owned(),
            "--data-url".to_owned(),
            "x".to_owned(),
        ],
        vec![
            "upload".to_owned(),
            "--name".to_owned(),
            "x.txt".to_owned(),
            dir.join("a.txt").display().to_string(),
            dir.join("b.txt").display().to_string(),
        ],
        vec![
            "upload".to_owned(),
            "--name".to_owned(),
            "x.txt".to_owned(),
            dir.display().to_string(),
        ],
        vec![
            "upload".to_owned(),
            "--path".to_owned(),
            "a//b".to_owned(),
            dir.join("a.txt").display().to_string(),
        ],
        vec![
            "upload-url".to_owned(),
            "ftp://example.com/a.png".to_owned(),
        ],
        vec!["no-such-command".to_owned()],
        // A directory without files: almost certainly a mistake.
        vec!["upload".to_owned(), dir.join("empty").display().to_string()],
    ] {
        let output = run(kie(&emu).args(&args));
        assert_exit(&output, 2);
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn concurrency_bounds_the_uploads_in_flight() {
    let emu = emulator();
    let dir = scratch("concurrency");
    for i in 0..6 {
        write(&dir.join(format!("f{i}.bin")), &content(i, 1000));
    }
    // -j 1, -j 3, and the documented default of 4 (6 files, so a default above 4 shows).
    for (flag, jobs) in [(Some("1"), 1), (Some("3"), 3), (None, 4)] {
        emu.clear_storage();
        emu.reset_max_concurrent_uploads();
        // Every request waits, so uploads overlap as much as the CLI lets them.
        emu.faults().push_n(
            Route::StreamUpload,
            Fault::Delay(Duration::from_millis(200)),
            6,
        );
        let mut command = kie(&emu);
        command.arg("upload").arg(&dir);
        if let Some(flag) = flag {
            command.args(["-j", flag]);
        }
        let output = run(&mut command);
        assert_exit(&output, 0);
        assert_eq!(emu.stored_files().len(), 6);
        assert_eq!(emu.max_concurrent_uploads(), jobs, "-j {flag:?}");
    }
}

#[test]
fn ctrl_c_or_sigterm_aborts_uploads_in_flight_and_exits_130_or_143() {
    let emu = emulator();
    let dir = scratch("interrupt");
    write(&dir.join("slow.bin"), &content(1, 4 * 1024 * 1024));
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        emu.faults()
            .push(Route::StreamUpload, Fault::Delay(Duration::from_secs(2)));
        let child = kie(&emu)
            .args(["upload"])
            .arg(dir.join("slow.bin"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while emu.in_flight_uploads() == 0 {
            assert!(Instant::now() < deadline, "the upload never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        common::send_signal(child.id(), signal);
        let output = child.wait_with_output().unwrap();
        assert_exit(&output, code);
        assert_eq!(
            text(&output.stderr),
            "kie: interrupted: 0 of 1 uploads finished, 1 not (nothing partial is stored)\n"
        );
        // The request was cut off: once the emulator is done with it, nothing is stored.
        while emu.in_flight_uploads() > 0 {
            assert!(Instant::now() < deadline, "the upload never ended");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(emu.stored_files().len(), 0);
    }
}

#[test]
fn upload_url_stores_the_fetched_file() {
    let emu = emulator();
    let source = emu.issue_generated_file(b"GIF89a-cli".to_vec(), "image/gif");
    let output = run(kie(&emu).args([
        "upload-url",
        &source,
        "--path",
        "fetched",
        "--name",
        "g.gif",
        "--json",
    ]));
    assert_exit(&output, 0);
    let line = &json_lines(&output)[0];
    assert_eq!(line["path"], source);
    assert_eq!(line["fileName"], "g.gif");
    let stored = emu.stored_files();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].content.as_deref(), Some(&b"GIF89a-cli"[..]));
}

#[test]
fn a_source_that_answers_404_is_reported_without_a_misleading_hint() {
    let emu = emulator();
    let stored = emu.issue_generated_file(b"GIF89a".to_vec(), "image/gif");
    let (base, _) = stored.rsplit_once('/').unwrap();
    let missing = format!("{base}/no-such-file.gif");
    let output = run(kie(&emu).args(["upload-url", &missing, "--path", "fetched"]));
    assert_exit(&output, 5);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("HTTP 404"), "{stderr}");
    assert!(!stderr.contains("uploadPath"), "{stderr}");
    assert!(!stderr.contains("fileName"), "{stderr}");
}

#[test]
fn a_missing_key_file_is_an_authentication_setup_error() {
    let emu = emulator();
    let dir = scratch("missing-key-file");
    let output = run(kie(&emu)
        .env_remove("KIE_API_KEY")
        .arg("--api-key-file")
        .arg(dir.join("no-such-key"))
        .arg("credits"));
    assert_exit(&output, 3);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("no-such-key"), "{stderr}");
    assert!(stderr.contains("--api-key-file"), "{stderr}");
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn a_signed_request_verifies_and_a_tampered_one_is_rejected() {
    let emu = emulator();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sign = run(kie(&emu)
        .env("HOOK_KEY", "hook-secret")
        .args([
            "webhook",
            "sign",
            "--key-env",
            "HOOK_KEY",
            "--task-id",
            "task_42",
        ])
        .args(["--timestamp", &now.to_string()]));
    assert_exit(&sign, 0);
    let headers = text(&sign.stdout);
    assert!(headers.starts_with(&format!(
        "X-Webhook-Timestamp: {now}\nX-Webhook-Signature: "
    )));
    assert!(!headers.contains("hook-secret"));

    let verify = |task: &str, headers: &str| {
        let body = format!(r#"{{"code":200,"data":{{"taskId":"{task}"}}}}"#);
        let request = format!(
            "POST /callback HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\n{headers}\r\n{body}",
            headers = headers.replace('\n', "\r\n"),
        );
        let dir = scratch(&format!("webhook-{task}"));
        let file = dir.join("request.http");
        write(&file, request.as_bytes());
        run(kie(&emu)
            .env("KIE_WEBHOOK_HMAC_KEY", "hook-secret")
            .args(["webhook", "verify", "--json"])
            .arg(&file))
    };
    let ok = verify("task_42", &headers);
    assert_exit(&ok, 0);
    let line = &json_lines(&ok)[0];
    assert_eq!(line["verified"], true);
    assert_eq!(line["taskId"], "task_42");
    assert_eq!(line["timestamp"], now);

    // The same request on stdin.
    let request =
        format!("POST /callback HTTP/1.1\nHost: receiver\n{headers}\n{{\"taskId\":\"task_42\"}}");
    let mut child = kie(&emu)
        .env("KIE_WEBHOOK_HMAC_KEY", "hook-secret")
        .args(["webhook", "verify"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), request.as_bytes()).unwrap();
    let from_stdin = child.wait_with_output().unwrap();
    assert_exit(&from_stdin, 0);
    assert_eq!(
        text(&from_stdin.stdout),
        format!("verified: task task_42 signed at {now}\n")
    );

    let tampered = verify("task_43", &headers);
    assert_exit(&tampered, 1);
    assert_eq!(json_lines(&tampered)[0]["verified"], false);
    assert!(text(&tampered.stderr).contains("does not match"));

    let no_key = run(kie(&emu).args(["webhook", "sign", "--task-id", "t"]));
    assert_exit(&no_key, 2);
    assert!(text(&no_key.stderr).contains("KIE_WEBHOOK_HMAC_KEY is not set"));
}

#[test]
fn webhook_verify_takes_the_header_values_as_flags_or_a_headers_file_with_the_body() {
    let emu = emulator();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let sign = run(kie(&emu).env("KIE_WEBHOOK_HMAC_KEY", "hook-secret").args([
        "webhook",
        "sign",
        "--task-id",
        "task_7",
        "--timestamp",
        &now,
        "--json",
    ]));
    assert_exit(&sign, 0);
    let signed = &json_lines(&sign)[0];
    let signature = signed
        .as_object()
        .unwrap()
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("X-Webhook-Signature"))
        .and_then(|(_, value)| value.as_str())
        .unwrap()
        .to_owned();
    let dir = scratch("webhook-pair");
    let body = dir.join("body.json");
    write(
        &body,
        br#"{"code":200,"data":{"taskId":"task_7","state":"success"}}"#,
    );
    let other_body = dir.join("other.json");
    write(&other_body, br#"{"code":200,"data":{"taskId":"task_8"}}"#);
    let headers = dir.join("headers.txt");
    write(
        &headers,
        format!("POST /hook HTTP/1.1\r\nContent-Type: application/json\r\nX-Webhook-Timestamp: {now}\r\nX-Webhook-Signature: {signature}\r\n").as_bytes(),
    );
    let verify = |extra: &[&std::ffi::OsStr]| {
        run(kie(&emu)
            .env("KIE_WEBHOOK_HMAC_KEY", "hook-secret")
            .args(["webhook", "verify", "--json"])
            .args(extra))
    };
    let flags = verify(&[
        "--timestamp".as_ref(),
        now.as_ref(),
        "--signature".as_ref(),
        signature.as_ref(),
        "--body".as_ref(),
        body.as_os_str(),
    ]);
    assert_exit(&flags, 0);
    assert_eq!(json_lines(&flags)[0]["taskId"], "task_7");
    let pair = verify(&[
        "--headers".as_ref(),
        headers.as_os_str(),
        "--body".as_ref(),
        body.as_os_str(),
    ]);
    assert_exit(&pair, 0);
    assert_eq!(json_lines(&pair)[0]["taskId"], "task_7");
    // Another task's body with these headers is rejected.
    let other = verify(&[
        "--headers".as_ref(),
        headers.as_os_str(),
        "--body".as_ref(),
        other_body.as_os_str(),
    ]);
    assert_exit(&other, 1);
    // Half the flags is a usage error before anything is read.
    let half = verify(&[
        "--timestamp".as_ref(),
        now.as_ref(),
        "--body".as_ref(),
        body.as_os_str(),
    ]);
    assert_exit(&half, 2);
    assert!(
        text(&half.stderr).contains("--signature"),
        "{}",
        text(&half.stderr)
    );
}

#[test]
fn help_documents_exit_codes_and_completions_are_generated() {
    let emu = emulator();
    let help = run(kie(&emu).arg("--help"));
    assert_exit(&help, 0);
    let help = text(&help.stdout);
    for code in ["0 ", "1 ", "2 ", "3 ", "4 ", "5 ", "6 ", "7 ", "130 "] {
        assert!(
            help.contains(&format!("\n  {code}")),
            "exit code {code}in --help"
        );
    }
    let upload_help = text(&run(kie(&emu).args(["upload", "--help"])).stdout);
    assert!(upload_help.contains("Examples:"));
    assert!(upload_help.contains("Exit codes:"));
    let completions = run(kie(&emu).args(["completions", "bash"]));
    assert_exit(&completions, 0);
    assert!(text(&completions.stdout).contains("upload-url"));
}

#[test]
fn the_readme_documents_the_same_exit_codes_as_help() {
    let emu = emulator();
    let help = text(&run(kie(&emu).arg("--help")).stdout);
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let help_codes: Vec<&str> = help
        .lines()
        .skip_while(|line| !line.starts_with("Exit codes:"))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|word| word.parse::<u8>().is_ok())
        .collect();
    let readme_codes: Vec<&str> = readme
        .lines()
        .skip_while(|line| !line.starts_with("## Exit codes"))
        .filter_map(|line| line.strip_prefix("| ")?.split(' ').next())
        .filter(|word| word.parse::<u8>().is_ok())
        .collect();
    assert_eq!(
        help_codes,
        [
            "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "130", "143"
        ]
    );
    assert_eq!(readme_codes, help_codes);
}

#[test]
fn same_named_files_are_refused_before_sending_unless_their_folders_are_kept() {
    let emu = emulator();
    let dir = scratch("collide");
    write(&dir.join("a/same.txt"), b"first");
    write(&dir.join("b/same.txt"), b"second");
    let output = run(kie(&emu)
        .args(["upload", "--path", "p"])
        .arg(dir.join("a/same.txt"))
        .arg(dir.join("b/same.txt")));
    assert_exit(&output, 2);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("a/same.txt")
            && stderr.contains("b/same.txt")
            && stderr.contains("--keep-dirs"),
        "{stderr}"
    );
    assert!(emu.requests().is_empty(), "nothing may be sent");

    let output = run(kie(&emu).current_dir(&dir).args([
        "upload",
        "--keep-dirs",
        "--path",
        "p",
        "-o",
        "url",
        "a/same.txt",
        "b/same.txt",
    ]));
    assert_exit(&output, 0);
    let urls: Vec<String> = text(&output.stdout).lines().map(str::to_owned).collect();
    assert_eq!(urls.len(), 2);
    assert!(
        urls[0].ends_with("/p/a/same.txt") && urls[1].ends_with("/p/b/same.txt"),
        "{urls:?}"
    );
    let mut stored: Vec<_> = emu
        .stored_files()
        .into_iter()
        .map(|f| (f.upload_path, f.content.unwrap().to_vec()))
        .collect();
    stored.sort();
    assert_eq!(
        stored,
        [
            ("p/a".to_owned(), b"first".to_vec()),
            ("p/b".to_owned(), b"second".to_vec())
        ]
    );
}

#[test]
fn quiet_output_is_exactly_the_urls() {
    let emu = emulator();
    let dir = scratch("quiet");
    write(&dir.join("one.txt"), b"one");
    let output = run(kie(&emu).args(["upload", "-q"]).arg(dir.join("one.txt")));
    assert_exit(&output, 0);
    let stdout = text(&output.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("http") && stdout.trim_end().ends_with("/one.txt"),
        "{stdout}"
    );
    assert_eq!(text(&output.stderr), "");
    // -o json is --json.
    let output = run(kie(&emu)
        .args(["upload", "-q", "-o", "json"])
        .arg(dir.join("one.txt")));
    assert_eq!(json_lines(&output).len(), 1);
}

#[test]
fn a_bad_flag_is_refused_once_naming_the_flag() {
    let emu = emulator();
    let dir = scratch("badflag");
    for i in 0..5 {
        write(&dir.join(format!("{i}.txt")), b"x");
    }
    let output = run(kie(&emu).args(["upload", "--path", "/abs/path"]).arg(&dir));
    assert_exit(&output, 2);
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--path") && stderr.contains("/abs/path"),
        "{stderr}"
    );
    assert!(emu.requests().is_empty());
}

#[test]
fn an_account_wide_refusal_stops_the_batch_and_is_said_once() {
    let emu = emulator();
    let dir = scratch("wrongkey");
    for i in 0..30 {
        write(&dir.join(format!("{i:02}.txt")), b"x");
    }
    let output = run(kie(&emu)
        .env("KIE_API_KEY", "sk-wrong")
        .args(["upload", "-j", "1"])
        .arg(&dir));
    assert_exit(&output, 3);
    let stderr = text(&output.stderr);
    let refusals = stderr.lines().filter(|l| l.contains("HTTP")).count();
    assert_eq!(refusals, 1, "{stderr}");
    assert!(stderr.contains("not attempted"), "{stderr}");
    let sent = emu.requests().len();
    assert!(
        sent < 30,
        "{sent} uploads were sent after the first refusal"
    );
}

/// The stored paths, `uploadPath/fileName`, sorted.
fn stored_paths(emu: &Emulator) -> Vec<String> {
    let mut paths: Vec<String> = emu
        .stored_files()
        .iter()
        .map(|file| format!("{}/{}", file.upload_path, file.file_name))
        .collect();
    paths.sort();
    paths
}

#[test]
fn directories_say_what_they_skipped_and_take_only_what_is_asked() {
    let emu = emulator();
    let dir = scratch("walk");
    write(&dir.join("a.txt"), b"a");
    write(&dir.join("b.log"), b"b");
    write(&dir.join(".env"), b"secret");
    write(&dir.join(".git/config"), b"[core]");
    write(&dir.join("sub/c.txt"), b"c");
    write(&dir.join("sub/skip/d.txt"), b"d");

    // Without -r: the top files, and a notice for the sub-folders and hidden names.
    let output = run(kie(&emu).args(["upload", "--path", "w"]).arg(&dir));
    assert_exit(&output, 0);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("1 sub-folder skipped (-r uploads them too)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 hidden files or folders skipped (--hidden includes them)"),
        "{stderr}"
    );
    assert_eq!(stored_paths(&emu), ["w/a.txt", "w/b.log"]);

    // -r with --exclude: a name glob and a path glob; hidden names still skipped.
    emu.clear_storage();
    let output = run(kie(&emu)
        .args([
            "upload",
            "-r",
            "--path",
            "w",
            "--exclude",
            "*.log",
            "--exclude",
            "sub/sk?p",
        ])
        .arg(&dir));
    assert_exit(&output, 0);
    assert_eq!(stored_paths(&emu), ["w/a.txt", "w/sub/c.txt"]);

    // --hidden takes the dot files and enters .git.
    emu.clear_storage();
    let output = run(kie(&emu)
        .args(["upload", "-r", "--hidden", "--path", "w"])
        .arg(&dir));
    assert_exit(&output, 0);
    assert_eq!(
        stored_paths(&emu),
        [
            "w/.env",
            "w/.git/config",
            "w/a.txt",
            "w/b.log",
            "w/sub/c.txt",
            "w/sub/skip/d.txt"
        ]
    );
}

#[test]
fn files_from_reads_paths_from_a_file_or_stdin() {
    let emu = emulator();
    let dir = scratch("files-from");
    write(&dir.join("one.txt"), b"1");
    write(&dir.join("two.txt"), b"2");
    let list = format!(
        "{}\r\n\n{}\n",
        dir.join("one.txt").display(),
        dir.join("two.txt").display()
    );
    write(&dir.join("list"), list.as_bytes());
    let output = run(kie(&emu)
        .args(["upload", "-q", "--path", "f", "--files-from"])
        .arg(dir.join("list")));
    assert_exit(&output, 0);
    assert_eq!(text(&output.stdout).lines().count(), 2);
    assert_eq!(stored_paths(&emu), ["f/one.txt", "f/two.txt"]);

    emu.clear_storage();
    let mut child = kie(&emu)
        .args(["upload", "-q", "--path", "g", "--files-from", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(list.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_exit(&output, 0);
    assert_eq!(stored_paths(&emu), ["g/one.txt", "g/two.txt"]);

    // Stdin cannot be both the list and a file's content.
    let output = run(kie(&emu).args(["upload", "-", "--name", "x", "--files-from", "-"]));
    assert_exit(&output, 2);
    assert_eq!(
        text(&output.stderr),
        "kie: - and --files-from - both read stdin: give the list or the content there, not both\n"
    );
    assert_eq!(stored_paths(&emu), ["g/one.txt", "g/two.txt"]);
}

#[cfg(target_os = "linux")]
#[test]
fn fifos_devices_and_proc_files_are_refused_before_sending() {
    let emu = emulator();
    let dir = scratch("special");
    let fifo = dir.join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status();
    let mut specials: Vec<(PathBuf, &str)> = vec![
        (PathBuf::from("/dev/zero"), "not a regular file"),
        (PathBuf::from("/proc/self/status"), "its size says 0 bytes"),
    ];
    if made.is_ok_and(|status| status.success()) {
        specials.push((fifo, "not a regular file"));
    }
    for (path, why) in specials {
        let started = Instant::now();
        let output = run(kie(&emu).arg("upload").arg(&path));
        assert_exit(&output, 2);
        let stderr = text(&output.stderr);
        assert!(stderr.contains(why), "{}: {stderr}", path.display());
        assert!(stderr.contains(&path.display().to_string()), "{stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{}",
            path.display()
        );
    }
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn dry_run_says_where_each_file_would_go_and_sends_nothing_without_a_key() {
    let emu = emulator();
    let dir = scratch("dry-run");
    write(&dir.join("a.txt"), b"abc");
    write(&dir.join("sub/b.txt"), b"defg");
    let output = run(kie(&emu)
        .env_remove("KIE_API_KEY")
        .args(["upload", "--dry-run", "-r", "--path", "plan"])
        .arg(&dir));
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!(
            "{} -> plan/a.txt (3 B)\n{} -> plan/sub/b.txt (4 B)\n",
            dir.join("a.txt").display(),
            dir.join("sub/b.txt").display()
        )
    );
    assert!(text(&output.stderr).contains("nothing was sent"));
    assert_eq!(emu.requests().len(), 0);
    // The same checks as a real run: a collision is refused.
    write(&dir.join("c/a.txt"), b"x");
    let clash = run(kie(&emu)
        .args(["upload", "--dry-run"])
        .arg(dir.join("a.txt"))
        .arg(dir.join("c/a.txt")));
    assert_exit(&clash, 2);
}

#[test]
fn verbose_prints_one_line_per_attempt_and_never_the_key() {
    let emu = emulator();
    emu.faults().push(Route::StreamUpload, Fault::html(503));
    let dir = scratch("verbose");
    write(&dir.join("v.txt"), b"verbose");
    let output = run(kie(&emu).args(["upload", "-v"]).arg(dir.join("v.txt")));
    assert_exit(&output, 0);
    let stderr = text(&output.stderr);
    let attempts: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(": attempt attempt="))
        .collect();
    assert_eq!(attempts.len(), 2, "{stderr}");
    assert!(stderr.contains("retry attempt=1"), "{stderr}");
    assert!(stderr.contains("succeeded attempts=2"), "{stderr}");
    // The SDK's lines only, not the HTTP stack's.
    assert!(!stderr.contains("connecting to"), "{stderr}");
    assert_no_key(&output, SECRET_KEY);
}

#[test]
fn stdin_is_uploaded_under_its_name_and_its_copy_removed() {
    let emu = emulator();
    let data = content(9, 300_000);
    let mut child = kie(&emu)
        .args(["upload", "-", "--name", "piped.bin", "--path", "in", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let writer = {
        let data = data.clone();
        std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &data))
    };
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert_exit(&output, 0);
    let stored = emu.stored_files();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        format!("{}/{}", stored[0].upload_path, stored[0].file_name),
        "in/piped.bin"
    );
    assert_eq!(stored[0].content.as_deref(), Some(&data[..]));
    assert_eq!(
        text(&output.stdout),
        format!("{}\n", stored[0].download_url)
    );
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("kie-stdin-{pid}-"))
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Without --name, or with other paths: refused before reading anything.
    for args in [
        vec!["upload", "-"],
        vec!["upload", "-", "Cargo.toml", "--name", "x"],
    ] {
        let output = run(kie(&emu).args(&args));
        assert_exit(&output, 2);
        assert!(
            text(&output.stderr).contains("- (stdin)"),
            "{}",
            text(&output.stderr)
        );
    }
    assert_eq!(emu.stored_files().len(), 1);
}

#[test]
fn a_closed_output_pipe_changes_no_exit_code() {
    // `kie … 2>&1 | head -1` after head is gone: every write to stdout or stderr fails
    // with a broken pipe. kie still ends with the exit code of what happened.
    let emu = emulator();
    let dir = scratch("closed-pipe");
    let file = dir.join("a.txt");
    std::fs::write(&file, b"some content").unwrap();
    let missing = dir.join("missing.bin");
    let cases: [(&[&str], Option<&str>, i32); 4] = [
        (&["credits"], None, 3),
        (&["upload", missing.to_str().unwrap()], Some(SECRET_KEY), 6),
        (&["upload", file.to_str().unwrap()], Some(SECRET_KEY), 0),
        (&["upload", "--bogus"], Some(SECRET_KEY), 2),
    ];
    for (args, key, code) in cases {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut command = kie(&emu);
        command.env_remove("KIE_API_KEY");
        if let Some(key) = key {
            command.env("KIE_API_KEY", key);
        }
        let status = command
            .args(args)
            .stdout(writer.try_clone().unwrap())
            .stderr(writer)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(code), "kie {args:?}");
    }
}

#[test]
fn stopped_while_stdin_is_still_coming_sends_nothing_and_leaves_no_copy() {
    let emu = emulator();
    let temp = scratch("stdin-stopped");
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let mut child = kie(&emu)
            .env("TMPDIR", &temp)
            .args(["upload", "-", "--name", "endless.bin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Some content, then a producer that goes quiet without ending (`tar` still
        // reading a slow disk).
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, &content(3, 200_000)).unwrap();
        let copying = || std::fs::read_dir(&temp).unwrap().count() > 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !copying() {
            assert!(Instant::now() < deadline, "no copy of stdin was started");
            std::thread::sleep(Duration::from_millis(10));
        }
        common::send_signal(child.id(), signal);
        let started = Instant::now();
        let output = child.wait_with_output().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(stdin);
        assert_exit(&output, code);
        assert_eq!(
            text(&output.stderr),
            "kie: interrupted while reading stdin: nothing was sent\n"
        );
        assert!(
            !copying(),
            "the copy of stdin was left in {}",
            temp.display()
        );
    }
    assert!(emu.requests().is_empty());
}
