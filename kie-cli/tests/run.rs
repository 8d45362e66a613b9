//! `kie run`, `kie task` and `kie webhook listen` against the emulator, over real sockets:
//! a local file followed byte for byte through a task to the downloaded result, the exit
//! code and message of each way a task can end, a batch with a failure, and a listener
//! that takes a signed callback and refuses a forged one. Tasks take the emulator's quick
//! stage durations (about 0.3 s), so a wait is one or two polls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kie_emulator::{Emulator, JobSettings, Route};
use serde_json::Value;

mod common;
use common::{assert_exit, json_lines, scratch, text};

fn emulator() -> Emulator {
    Emulator::builder().jobs(JobSettings::quick()).start()
}

/// `kie` pointed at `emu`, in `dir`.
fn kie(emu: &Emulator, dir: &Path) -> Command {
    let mut command = common::kie(emu);
    command.current_dir(dir);
    command
}

fn creates(emu: &Emulator) -> usize {
    emu.requests()
        .iter()
        .filter(|request| request.path == "/api/v1/jobs/createTask")
        .count()
}

fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn a_local_file_goes_through_a_task_to_the_downloaded_result_byte_exact() {
    let emu = emulator();
    let dir = scratch("echo");
    let photo = bytes(7, 300_000);
    std::fs::write(dir.join("cat.png"), &photo).unwrap();
    std::fs::write(dir.join("mask.png"), bytes(9, 1000)).unwrap();
    let output = kie(&emu, &dir)
        .args([
            "run",
            "emulator/echo",
            "-i",
            "prompt=make it blue",
            "-i",
            "strength=0.5",
        ])
        .args([
            "-f",
            "image_urls=cat.png",
            "-f",
            "mask_url=mask.png",
            "-o",
            "out",
            "--json",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["state"], "success");
    assert_eq!(line["model"], "emulator/echo");
    assert_eq!(line["creditsConsumed"], 1.0);
    let task = line["task"].as_str().unwrap();
    assert!(task.starts_with("market:"), "{line}");
    // The id was said as soon as the task existed.
    assert!(
        text(&output.stderr).contains(&format!("emulator/echo: created {task}")),
        "{}",
        text(&output.stderr)
    );
    // The create carried the inputs with the uploads' URLs in place: a list and a single.
    let create = emu
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v1/jobs/createTask")
        .unwrap();
    assert_eq!(create.route, Some(Route::CreateTask));
    let stored = emu.stored_files();
    assert_eq!(stored.len(), 2);
    let files = line["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{line}");
    assert_eq!(files[0]["path"], "out/cat.png");
    assert_eq!(files[0]["size"], 300_000);
    assert_eq!(std::fs::read(dir.join("out/cat.png")).unwrap(), photo);
    assert_eq!(
        std::fs::read(dir.join("out/mask.png")).unwrap(),
        bytes(9, 1000)
    );

    // Again into the same folder: nothing is overwritten, the results take free names.
    std::fs::write(dir.join("out/cat.png"), b"mine").unwrap();
    let output = kie(&emu, &dir)
        .args([
            "run",
            "emulator/echo",
            "-f",
            "image_urls=cat.png",
            "-o",
            "out",
            "-q",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_eq!(text(&output.stdout), "out/cat-1.png\n");
    assert_eq!(text(&output.stderr), "");
    assert_eq!(std::fs::read(dir.join("out/cat.png")).unwrap(), b"mine");
    assert_eq!(std::fs::read(dir.join("out/cat-1.png")).unwrap(), photo);
    // --force overwrites.
    let output = kie(&emu, &dir)
        .args([
            "run",
            "emulator/echo",
            "-f",
            "image_urls=cat.png",
            "-o",
            "out",
            "-q",
            "--force",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_eq!(text(&output.stdout), "out/cat.png\n");
    assert_eq!(std::fs::read(dir.join("out/cat.png")).unwrap(), photo);
    assert_eq!(creates(&emu), 3);
}

#[test]
fn a_failed_task_exits_8_with_its_code_and_message() {
    let emu = emulator();
    let dir = scratch("failed");
    let output = kie(&emu, &dir)
        .args(["run", "google/nano-banana", "-i", "prompt=a cat #fail400"])
        .output()
        .unwrap();
    assert_exit(&output, 8);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("failed (400): Your prompt was flagged by the content policy"),
        "{stderr}"
    );
    assert!(!stderr.contains("running it again may succeed"), "{stderr}");
    assert_eq!(text(&output.stdout), "");

    // An upstream failure says a new run may succeed; --json carries the code and message.
    let output = kie(&emu, &dir)
        .args([
            "run",
            "google/nano-banana",
            "-i",
            "prompt=a cat #fail500",
            "--json",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 8);
    assert!(text(&output.stderr).contains("running it again may succeed"));
    let line = &json_lines(&output)[0];
    assert_eq!(
        (line["state"].as_str(), line["failCode"].as_str()),
        (Some("fail"), Some("500"))
    );
    assert_eq!(line["creditsConsumed"], 0.0);
    assert_eq!(creates(&emu), 2);
}

#[test]
fn a_wait_past_its_deadline_exits_9_with_the_resume_command() {
    let emu = emulator();
    let dir = scratch("deadline");
    let started = Instant::now();
    let output = kie(&emu, &dir)
        .args([
            "run",
            "google/nano-banana",
            "-i",
            "prompt=#stuck",
            "--timeout",
            "4s",
            "-o",
            "my results",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 9);
    assert!(started.elapsed() < Duration::from_secs(10));
    let stderr = text(&output.stderr);
    let task = stderr
        .split_whitespace()
        .find(|word| word.starts_with("market:"))
        .unwrap()
        .trim_end_matches(':')
        .to_owned();
    assert!(stderr.contains("the task may still finish"), "{stderr}");
    // The resume command downloads, as the run would have, into the same directory.
    assert!(
        stderr.contains(&format!(
            "resume with: kie task download {task} -o 'my results'\n"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("last seen generating"), "{stderr}");
    assert_eq!(creates(&emu), 1);

    // The resume command answers the same way, and `kie task get` shows the state.
    let output = kie(&emu, &dir)
        .args(["task", "wait", &task, "--timeout", "1", "--json"])
        .output()
        .unwrap();
    assert_exit(&output, 9);
    assert_eq!(json_lines(&output)[0]["error"]["kind"], "wait_stopped");
    let output = kie(&emu, &dir)
        .args(["task", "get", &task])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert!(
        text(&output.stdout).contains("state     generating 50%"),
        "{}",
        text(&output.stdout)
    );
    // Downloading a task that has not finished waits for it, to its deadline.
    let output = kie(&emu, &dir)
        .args(["task", "download", &task, "--timeout", "1s"])
        .output()
        .unwrap();
    assert_exit(&output, 9);
    assert!(text(&output.stderr).contains("the wait's deadline of 1 s"));
    assert_eq!(creates(&emu), 1, "no command created the task again");
}

#[test]
fn an_input_the_service_rejects_exits_10_and_bad_arguments_send_nothing() {
    let emu = emulator();
    let dir = scratch("rejected");
    let output = kie(&emu, &dir)
        .args([
            "run",
            "google/nano-banana-edit",
            "-i",
            "prompt=blue",
            "--json",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 10);
    assert!(text(&output.stderr).contains("This field is required"));
    assert_eq!(json_lines(&output)[0]["state"], "not_created");
    assert_eq!(json_lines(&output)[0]["task"], Value::Null);

    emu.clear_log();
    for (args, code, says) in [
        (vec!["-f", "image_urls=missing.png"], 6, "missing.png: "),
        (vec!["-f", "image_urls"], 2, "expected FIELD=PATH"),
        (vec!["-i", "prompt"], 2, "expected KEY=VALUE"),
        (vec!["--callback-url", "ftp://x"], 2, "--callback-url"),
        (vec!["--timeout", "soon"], 2, "is not a duration"),
    ] {
        let output = kie(&emu, &dir)
            .args(["run", "google/nano-banana"])
            .args(&args)
            .output()
            .unwrap();
        assert_exit(&output, code);
        assert!(
            text(&output.stderr).contains(says),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
    let output = kie(&emu, &dir).args(["run", "bad model"]).output().unwrap();
    assert_exit(&output, 2);
    assert!(emu.requests().is_empty(), "{:?}", emu.requests());
}

#[test]
fn no_wait_prints_the_id_and_task_commands_take_it_from_there() {
    let emu = emulator();
    let dir = scratch("no-wait");
    let output = kie(&emu, &dir)
        .args([
            "run",
            "google/nano-banana",
            "-i",
            "prompt=a cat",
            "--no-wait",
            "-q",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let task = text(&output.stdout).trim().to_owned();
    assert!(task.starts_with("market:"), "{task}");
    let output = kie(&emu, &dir)
        .args(["task", "wait", &task, "--json"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let line = &json_lines(&output)[0];
    assert_eq!(line["state"], "success");
    let url = line["resultUrls"][0].as_str().unwrap().to_owned();
    let output = kie(&emu, &dir)
        .args(["task", "download", &task, "-o", "got"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let saved = std::fs::read(dir.join("got/result-0.png")).unwrap();
    assert!(saved.starts_with(b"\x89PNG"));
    let served = reqwest_get(&url);
    assert_eq!(saved, served);
    // A bare id is a Market task.
    let bare = task.trim_start_matches("market:");
    let output = kie(&emu, &dir)
        .args(["task", "get", bare, "--json"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_eq!(json_lines(&output)[0]["task"], task.as_str());
    assert_eq!(creates(&emu), 1);
}

/// The bytes at `url`, fetched with curl when it is there, else with a raw request.
fn reqwest_get(url: &str) -> Vec<u8> {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    std::io::Read::read_to_end(&mut stream, &mut answer).unwrap();
    let start = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    answer[start..].to_vec()
}

#[test]
fn a_batch_of_50_with_one_failure_reports_every_line_and_uploads_a_shared_file_once() {
    // An account allowed 25 creates per 10 s: 49 creates need two windows.
    let emu = Emulator::builder()
        .jobs(JobSettings {
            create_limit: 25,
            ..JobSettings::quick()
        })
        .start();
    let dir = scratch("batch");
    std::fs::write(dir.join("shared.png"), bytes(3, 5000)).unwrap();
    let mut batch = String::new();
    for line in 1..=50 {
        if line == 17 {
            batch.push_str("{\"prompt\":\"#fail400\"}\n");
        } else if line == 30 {
            batch.push('\n');
        } else {
            batch.push_str(&format!(
                "{{\"prompt\":\"task {line}\",\"@files\":{{\"image_urls\":[\"shared.png\"]}}}}\n"
            ));
        }
    }
    std::fs::write(dir.join("batch.ndjson"), batch).unwrap();
    let started = Instant::now();
    let output = kie(&emu, &dir)
        .args([
            "run",
            "emulator/echo",
            "--batch",
            "batch.ndjson",
            "-j",
            "10",
            "-o",
            "out",
            "--json",
        ])
        .args(["--create-limit", "25"])
        .output()
        .unwrap();
    let took = started.elapsed();
    // One failure among successes: exit 1.
    assert_exit(&output, 1);
    let lines = json_lines(&output);
    assert_eq!(
        lines.len(),
        49,
        "one line per task; the empty line 30 is no task"
    );
    let mut numbers: Vec<u64> = lines
        .iter()
        .map(|line| line["line"].as_u64().unwrap())
        .collect();
    numbers.sort_unstable();
    let expected: Vec<u64> = (1..=50).filter(|n| *n != 30).collect();
    assert_eq!(numbers, expected);
    for line in &lines {
        if line["line"] == 17 {
            assert_eq!(line["state"], "fail", "{line}");
            assert_eq!(line["failCode"], "400");
        } else {
            assert_eq!(line["state"], "success", "{line}");
            let path = line["files"][0]["path"].as_str().unwrap();
            assert_eq!(
                std::fs::read(dir.join(path)).unwrap(),
                bytes(3, 5000),
                "{line}"
            );
        }
    }
    // 48 distinct result files (the 49th task failed), none overwritten.
    assert_eq!(std::fs::read_dir(dir.join("out")).unwrap().count(), 48);
    assert_eq!(creates(&emu), 49);
    assert_eq!(
        emu.stored_files().len(),
        1,
        "the shared file is uploaded once"
    );
    assert!(
        text(&output.stderr).contains("49 tasks: 48 succeeded, 1 failed"),
        "{}",
        text(&output.stderr)
    );
    // Paced, never refused: the second window opened after 10 s, and each create was
    // sent once (a 429 would have been sent again).
    assert!(
        took >= Duration::from_secs(10),
        "{took:?}: the create window was not kept"
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[test]
fn a_batch_with_a_bad_line_sends_nothing() {
    let emu = emulator();
    let dir = scratch("batch-bad");
    std::fs::write(
        dir.join("batch.ndjson"),
        "{\"prompt\":\"ok\"}\n[1,2]\n{\"@files\":{\"image_urls\":\"nope.png\"}}\n",
    )
    .unwrap();
    let output = kie(&emu, &dir)
        .args(["run", "google/nano-banana", "--batch", "batch.ndjson"])
        .output()
        .unwrap();
    assert_exit(&output, 2);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("batch.ndjson:2: not a JSON object"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "batch.ndjson:3: image_urls: cannot read nope.png: No such file or directory (os error 2)\n"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was sent"), "{stderr}");
    // Only a file that cannot be read: a local-file error, not a usage one.
    std::fs::write(
        dir.join("files.ndjson"),
        "{\"@files\":{\"image_urls\":\"nope.png\"}}\n",
    )
    .unwrap();
    let output = kie(&emu, &dir)
        .args(["run", "google/nano-banana", "--batch", "files.ndjson"])
        .output()
        .unwrap();
    assert_exit(&output, 6);
    assert!(emu.requests().is_empty());
}

/// `kie webhook listen` on a free port; its stdout lines as they come.
struct Listener {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    stderr: BufReader<std::process::ChildStderr>,
    url: String,
}

impl Listener {
    fn start(key: Option<&str>) -> Listener {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kie"));
        command
            .env_clear()
            .args(["webhook", "listen", "--port", "0", "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(key) = key {
            command.env("KIE_WEBHOOK_HMAC_KEY", key);
        }
        let mut child = command.spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        stderr.read_line(&mut first).unwrap();
        let url = first
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("{first}"))
            .to_owned();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        Listener {
            child,
            lines,
            stderr,
            url,
        }
    }

    /// Ctrl-C: the exit code and what the listener printed on stderr after its first line.
    fn interrupt(&mut self) -> (Option<i32>, String) {
        common::send_signal(self.child.id(), "INT");
        let status = self.child.wait().unwrap();
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).unwrap();
        (status.code(), rest)
    }

    fn next(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a line from the listener");
        serde_json::from_str(&line).unwrap()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_listener_takes_a_signed_callback_once_and_refuses_a_forged_one() {
    const KEY: &str = "listener-test-hmac-key";
    let emu = Emulator::builder()
        .jobs(JobSettings {
            stage_durations: [Duration::from_millis(20); 3],
            webhook_key: Some(KEY.to_owned()),
            callback_duplicate: true,
            ..JobSettings::default()
        })
        .start();
    let mut listener = Listener::start(Some(KEY));
    let dir = scratch("listen");
    let output = kie(&emu, &dir)
        .args([
            "run",
            "google/nano-banana",
            "-i",
            "prompt=a cat",
            "--no-download",
            "--json",
        ])
        .args(["--callback-url", &listener.url])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let ran = &json_lines(&output)[0];
    let line = listener.next();
    assert_eq!(line["task"], ran["task"]);
    assert_eq!(line["state"], "success");
    assert_eq!(line["verified"], true);
    assert_eq!(line["resultUrls"], ran["resultUrls"]);
    // The duplicate delivery was answered 200 and not printed again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while emu
        .callback_attempts()
        .iter()
        .filter(|a| a.status == Some(200))
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "{:?}", emu.callback_attempts());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        listener
            .lines
            .recv_timeout(Duration::from_millis(300))
            .is_err()
    );

    // A forged callback (another key) is refused with 401 and reported as such.
    let body = r#"{"code":200,"msg":"ok","data":{"taskId":"forged1","model":"m","state":"success","param":"{}","resultJson":"{\"resultUrls\":[\"https://evil/x.png\"]}"}}"#;
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let signature = kie_emulator::jobs_sign("another-key", "forged1", &timestamp);
    let status = post(
        &listener.url,
        body,
        &[
            ("X-Webhook-Timestamp", &timestamp),
            ("X-Webhook-Signature", &signature),
        ],
    );
    assert_eq!(status, 401);
    let line = listener.next();
    assert_eq!(line["verified"], false);
    assert_eq!(line["task"], "market:forged1");
    assert!(
        line["why"]
            .as_str()
            .unwrap()
            .contains("Signature does not match"),
        "{line}"
    );
    // Unsigned: refused too.
    assert_eq!(post(&listener.url, body, &[]), 401);
    assert_eq!(listener.next()["verified"], false);
    // Not a callback at all: a GET is answered 405.
    let host = listener
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");

    // Ctrl-C says what came in.
    assert_eq!(
        listener.interrupt(),
        (
            Some(130),
            "kie: stopped listening: 1 callback (1 repeated delivery), 2 rejected signatures, 1 unreadable\n"
                .to_owned()
        )
    );
}

/// POSTs `body` with `headers` over a raw socket; the answer's status.
fn post(url: &str, body: &str, headers: &[(&str, &str)]) -> u16 {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    answer[9..12].parse().unwrap()
}

#[test]
fn a_create_without_a_clear_answer_is_never_sent_again_and_exits_11() {
    let emu = emulator();
    let dir = scratch("maybe");
    // A gateway error page after the create was sent: it may have reached KIE.AI.
    emu.faults()
        .push(Route::CreateTask, kie_emulator::Fault::html(502));
    let output = kie(&emu, &dir)
        .args(["run", "google/nano-banana", "-i", "prompt=a cat", "--json"])
        .output()
        .unwrap();
    assert_exit(&output, 11);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("the task may exist and was not created again"),
        "{stderr}"
    );
    assert!(stderr.contains("https://kie.ai/logs"), "{stderr}");
    let line = &json_lines(&output)[0];
    assert_eq!(line["state"], "maybe_created");
    assert_eq!(line["error"]["kind"], "maybe_created");
    assert_eq!(creates(&emu), 1, "the create was sent once");

    // A 429 created nothing: it is sent again, and the task runs.
    emu.faults().push(
        Route::CreateTask,
        kie_emulator::Fault::json(
            200,
            serde_json::json!({"code": 429, "msg": "Rate limit exceeded"}),
        ),
    );
    let output = kie(&emu, &dir)
        .args([
            "run",
            "google/nano-banana",
            "-i",
            "prompt=a cat",
            "--no-download",
            "-q",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_eq!(creates(&emu), 3);
}

#[test]
fn a_batch_stops_creating_once_the_account_is_refused_and_says_it_once() {
    // Credits for two tasks of 4.
    let emu = Emulator::builder()
        .jobs(JobSettings::quick())
        .credits(9.0)
        .start();
    let dir = scratch("batch-credits");
    let batch: String = (1..=10)
        .map(|i| format!("{{\"prompt\":\"task {i}\"}}\n"))
        .collect();
    std::fs::write(dir.join("batch.ndjson"), batch).unwrap();
    let output = kie(&emu, &dir)
        .args([
            "run",
            "google/nano-banana",
            "--batch",
            "batch.ndjson",
            "-j",
            "1",
        ])
        .args(["--no-download", "--json"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let lines = json_lines(&output);
    let states: Vec<&str> = lines.iter().map(|l| l["state"].as_str().unwrap()).collect();
    assert_eq!(states.len(), 10, "every line is accounted for: {states:?}");
    assert_eq!(&states[..3], ["success", "success", "not_created"]);
    assert!(
        states[3..].iter().all(|s| *s == "not_attempted"),
        "{states:?}"
    );
    let stderr = text(&output.stderr);
    assert_eq!(
        stderr.matches("Insufficient credits").count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("stopped: 7 tasks not attempted"),
        "{stderr}"
    );
    assert_eq!(creates(&emu), 3);
}

#[test]
fn a_veo_video_from_a_local_image_to_its_1080p_version() {
    let emu = Emulator::builder()
        .jobs(JobSettings {
            veo_upgrade_delay: Duration::from_millis(500),
            ..JobSettings::quick()
        })
        .credits(1000.0)
        .start();
    let dir = scratch("veo");
    std::fs::write(dir.join("first.png"), bytes(5, 2000)).unwrap();
    let output = kie(&emu, &dir)
        .args([
            "run",
            "veo3_fast",
            "-i",
            "prompt=a cat surfing",
            "-i",
            "aspect_ratio=16:9",
        ])
        .args([
            "-f",
            "imageUrls=first.png",
            "--1080p",
            "--poll-every",
            "100ms",
        ])
        .args(["-o", "out", "--json"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let line = &json_lines(&output)[0];
    let task = line["task"].as_str().unwrap().to_owned();
    assert!(task.starts_with("veo:veo_task_"), "{line}");
    assert_eq!(line["state"], "success");
    assert_eq!(line["model"], "veo3_fast");
    let files = line["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["out/result-0.mp4", "out/result-0-1080p.mp4"],
        "{line}"
    );
    for name in &names {
        assert_eq!(&std::fs::read(dir.join(name)).unwrap()[4..8], b"ftyp");
    }
    // The image went into imageUrls as a list, and the create went to Veo's endpoint.
    let create = emu
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v1/veo/generate")
        .unwrap();
    let urls: Value = serde_json::from_str(&create.fields["imageUrls"]).unwrap();
    assert!(urls[0].as_str().unwrap().ends_with("/first.png"), "{urls}");
    assert_eq!(creates(&emu), 0, "nothing went to Market");

    // Downloaded again with its 1080p version, as `kie run --1080p` saved them.
    let output = kie(&emu, &dir)
        .args([
            "task",
            "download",
            &task,
            "--1080p",
            "--poll-every",
            "100ms",
        ])
        .args(["-o", "again", "--json"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let line = &json_lines(&output)[0];
    let again: Vec<&str> = line["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        again,
        ["again/result-0.mp4", "again/result-0-1080p.mp4"],
        "{line}"
    );
    for (first, second) in names.iter().zip(&again) {
        assert_eq!(
            std::fs::read(dir.join(first)).unwrap(),
            std::fs::read(dir.join(second)).unwrap()
        );
    }

    // The saved reference is resumed at Veo's endpoint.
    let output = kie(&emu, &dir)
        .args(["task", "wait", &task, "--poll-every", "100ms", "--json"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_eq!(json_lines(&output)[0]["task"], task.as_str());
    let output = kie(&emu, &dir)
        .args(["task", "get", &task])
        .output()
        .unwrap();
    assert!(
        text(&output.stdout).contains("state     success"),
        "{}",
        text(&output.stdout)
    );

    // Checked before anything is sent: a Veo task needs a prompt; --1080p needs Veo.
    emu.clear_log();
    for (args, says) in [
        (&["run", "veo3", "-i", "seeds=3"][..], "\"prompt\""),
        (
            &["run", "google/nano-banana", "-i", "prompt=x", "--1080p"],
            "--1080p: google/nano-banana is not a Veo model",
        ),
        (
            &["task", "download", "market:abc", "--1080p"],
            "--1080p: market:abc is not a Veo task",
        ),
    ] {
        let output = kie(&emu, &dir).args(args).output().unwrap();
        assert_exit(&output, 2);
        let stderr = text(&output.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert!(emu.requests().is_empty());
    // --family veo for a model the list does not know yet.
    let output = kie(&emu, &dir)
        .args([
            "run",
            "veo9",
            "--family",
            "veo",
            "-i",
            "prompt=x",
            "--no-wait",
            "-q",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 10);
    assert!(text(&output.stderr).contains("model veo9 is not supported"));
}

#[test]
fn sigterm_ends_a_run_as_ctrl_c_does_with_exit_143() {
    let emu = emulator();
    let dir = scratch("sigterm");
    let child = kie(&emu, &dir)
        .args([
            "run",
            "google/nano-banana",
            "-i",
            "prompt=#stuck",
            "-o",
            "out",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !emu
        .requests()
        .iter()
        .any(|r| r.path == "/api/v1/jobs/recordInfo")
    {
        assert!(Instant::now() < deadline, "never polled");
        std::thread::sleep(Duration::from_millis(20));
    }
    common::send_signal(child.id(), "TERM");
    let output = child.wait_with_output().unwrap();
    assert_exit(&output, 143);
    let stderr = text(&output.stderr);
    let task = stderr
        .split_whitespace()
        .find(|word| word.starts_with("market:"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        stderr.ends_with(&format!(
            "kie: interrupted: task {task} keeps running on KIE.AI\nkie: resume with: kie task download {task} -o out\n"
        )),
        "{stderr}"
    );
    assert_eq!(creates(&emu), 1);
}

#[test]
fn a_batch_with_no_wait_prints_each_created_task_and_waits_for_none() {
    let emu = emulator();
    let dir = scratch("batch-no-wait");
    std::fs::write(
        dir.join("batch.ndjson"),
        "{\"prompt\":\"a\"}\n{\"prompt\":\"b\"}\n{\"prompt\":\"c\"}\n",
    )
    .unwrap();
    let output = kie(&emu, &dir)
        .args(["run", "google/nano-banana", "--batch", "batch.ndjson"])
        .args(["--no-wait", "--json"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let mut lines: Vec<(u64, String)> = json_lines(&output)
        .iter()
        .map(|line| {
            assert_eq!(line["state"], "created", "{line}");
            let task = line["task"].as_str().unwrap().to_owned();
            assert!(task.starts_with("market:"), "{line}");
            (line["line"].as_u64().unwrap(), task)
        })
        .collect();
    lines.sort();
    assert_eq!(lines.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(
        text(&output.stderr).ends_with("kie: 3 tasks: 3 created, not waited for\n"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(creates(&emu), 3);
    assert!(
        emu.requests()
            .iter()
            .all(|r| r.path != "/api/v1/jobs/recordInfo"),
        "a task was waited for"
    );
}
