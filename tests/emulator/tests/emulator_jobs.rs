//! The generation-task routes of the emulator, driven with a plain HTTP client (reqwest)
//! and curl — never through the SDK — as the jobs spec describes them: create, the
//! lifecycle on the clock, records, results on the files host, inputs fetched from the
//! emulator's own upload store, credits, the rate window, signed callbacks, wire quirks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kie_emulator::{CallbackSignature, Emulator, FailCodeForm, JobSettings};
use serde_json::{Value, json};
use support::{bearer, client, curl, have_curl, read};

const QUICK: [Duration; 3] = [
    Duration::from_millis(50),
    Duration::from_millis(50),
    Duration::from_millis(200),
];

fn quick() -> JobSettings {
    JobSettings {
        stage_durations: QUICK,
        ..JobSettings::default()
    }
}

async fn create(emu: &Emulator, body: &Value) -> Value {
    let resp = client()
        .post(format!("{}/api/v1/jobs/createTask", emu.api_base_url()))
        .header("authorization", bearer(emu))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .send()
        .await
        .unwrap();
    read(resp).await.json()
}

async fn record(emu: &Emulator, id: &str) -> Value {
    let resp = client()
        .get(format!(
            "{}/api/v1/jobs/recordInfo?taskId={id}",
            emu.api_base_url()
        ))
        .header("authorization", bearer(emu))
        .send()
        .await
        .unwrap();
    read(resp).await.json()
}

/// Polls until the record's state is terminal (bounded: 10 s).
async fn finished(emu: &Emulator, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let answer = record(emu, id).await;
        let state = answer["data"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if state == "success" || state == "fail" {
            return answer;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_task_goes_through_its_states_and_its_result_is_served() {
    let emu = Emulator::builder().jobs(quick()).credits(100.0).start();
    let created = create(
        &emu,
        &json!({"model": "google/nano-banana", "input": {"prompt": "a cat"}}),
    )
    .await;
    assert_eq!(created["code"], 200, "{created}");
    let id = created["data"]["taskId"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(emu.credits(), 96.0, "the model's price is debited at once");
    let first = record(&emu, &id).await;
    assert_eq!(first["data"]["state"], "waiting", "{first}");
    let done = finished(&emu, &id).await;
    let data = &done["data"];
    assert_eq!(data["failCode"], "");
    assert_eq!(data["creditsConsumed"], 4.0);
    assert!(data["completeTime"].as_i64().unwrap() >= data["createTime"].as_i64().unwrap());
    let param: Value = serde_json::from_str(data["param"].as_str().unwrap()).unwrap();
    assert_eq!(param["input"]["prompt"], "a cat");
    let result: Value = serde_json::from_str(data["resultJson"].as_str().unwrap()).unwrap();
    let url = result["resultUrls"][0].as_str().unwrap();
    let file = support::get(url).await;
    assert_eq!(file.status, 200);
    assert!(file.body.starts_with(b"\x89PNG"), "a PNG of the right kind");
    // The result is a generated file: download-url accepts it.
    let link = client()
        .post(format!("{}/api/v1/common/download-url", emu.api_base_url()))
        .header("authorization", bearer(&emu))
        .header("content-type", "application/json")
        .body(json!({"url": url}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(read(link).await.json()["code"], 200);
}

#[tokio::test]
async fn an_upload_goes_into_the_input_and_an_expired_one_fails_the_task() {
    let emu = Emulator::builder().jobs(quick()).start();
    let uploaded = support::base64_upload(
        &emu,
        &json!({"base64Data": support::PNG_1X1_B64, "uploadPath": "inputs", "fileName": "cat.png"}),
    )
    .await
    .json();
    let url = uploaded["data"]["downloadUrl"].as_str().unwrap().to_owned();
    let body = json!({"model": "google/nano-banana-edit", "input": {"prompt": "make it blue", "image_urls": [url]}});
    let ok = create(&emu, &body).await;
    let done = finished(&emu, ok["data"]["taskId"].as_str().unwrap()).await;
    assert_eq!(done["data"]["state"], "success", "{done}");

    // The same input once the upload has expired: the create is accepted, the task fails
    // with 400 when it starts, and the price is refunded.
    let before = emu.credits();
    emu.clock().advance(Duration::from_secs(4 * 24 * 3600));
    let late = create(&emu, &body).await;
    let done = finished(&emu, late["data"]["taskId"].as_str().unwrap()).await;
    assert_eq!(done["data"]["state"], "fail");
    assert_eq!(done["data"]["failCode"], "400");
    assert!(
        done["data"]["failMsg"]
            .as_str()
            .unwrap()
            .contains("Failed to fetch the image")
    );
    assert_eq!(done["data"]["creditsConsumed"], 0);
    assert_eq!(emu.credits(), before);
}

#[tokio::test]
async fn the_echo_model_returns_its_input_files_byte_for_byte() {
    let emu = Emulator::builder().jobs(quick()).start();
    let uploaded = support::base64_upload(
        &emu,
        &json!({"base64Data": support::PNG_1X1_B64, "uploadPath": "inputs", "fileName": "cat.png"}),
    )
    .await
    .json();
    let url = uploaded["data"]["downloadUrl"].as_str().unwrap().to_owned();
    let sent = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let body = json!({"model": "emulator/echo", "input": {"files": [url]}});
    let created = create(&emu, &body).await;
    let done = finished(&emu, created["data"]["taskId"].as_str().unwrap()).await;
    assert_eq!(done["data"]["state"], "success", "{done}");
    let result: Value = serde_json::from_str(done["data"]["resultJson"].as_str().unwrap()).unwrap();
    let urls = result["resultUrls"].as_array().unwrap();
    assert_eq!(urls.len(), 1, "{result}");
    assert!(urls[0].as_str().unwrap().ends_with("/cat.png"), "{result}");
    let answer = client()
        .get(urls[0].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["content-type"], "image/png");
    assert_eq!(answer.bytes().await.unwrap(), sent);
}

#[tokio::test]
async fn markers_drive_every_path() {
    let emu = Emulator::builder().jobs(quick()).start();
    for (marker, state, code) in [("#fail400", "fail", "400"), ("#fail500", "fail", "500")] {
        let created = create(
            &emu,
            &json!({"model": "m/x", "input": {"prompt": format!("x {marker}")}}),
        )
        .await;
        let done = finished(&emu, created["data"]["taskId"].as_str().unwrap()).await;
        assert_eq!(
            (
                done["data"]["state"].as_str(),
                done["data"]["failCode"].as_str()
            ),
            (Some(state), Some(code))
        );
    }
    for (marker, state) in [
        ("#stuck", "generating"),
        ("#unknown-state", "paused_by_moderation"),
    ] {
        let created = create(&emu, &json!({"model": "m/x", "input": {"prompt": marker}})).await;
        let id = created["data"]["taskId"].as_str().unwrap().to_owned();
        emu.clock().advance(Duration::from_secs(3600));
        assert_eq!(record(&emu, &id).await["data"]["state"], state);
    }
    let created = create(&emu, &json!({"model": "m/x", "input": {"prompt": "#slow"}})).await;
    let id = created["data"]["taskId"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_ne!(
        record(&emu, &id).await["data"]["state"],
        "success",
        "ten times slower"
    );
}

#[tokio::test]
async fn refusals_create_nothing() {
    let emu = Emulator::builder()
        .jobs(JobSettings {
            create_limit: 2,
            not_visible_polls: 2,
            strict_models: true,
            missing_field_code: 500,
            ..quick()
        })
        .credits(10.0)
        .start();
    // Auth first, as the live service: HTTP 200, body 401.
    let resp = client()
        .post(format!("{}/api/v1/jobs/createTask", emu.api_base_url()))
        .header("content-type", "application/json")
        .body(json!({"model": "google/nano-banana", "input": {"prompt": "x"}}).to_string())
        .send()
        .await
        .unwrap();
    let resp = read(resp).await;
    assert_eq!(
        (resp.status, resp.json()["code"].as_i64()),
        (200, Some(401))
    );
    // A missing field: the configured 500 "This field is required"; an unknown model under
    // the strict flag: 422.
    let missing = create(&emu, &json!({"model": "google/nano-banana", "input": {}})).await;
    assert_eq!(
        (missing["code"].as_i64(), missing["msg"].as_str()),
        (Some(500), Some("This field is required"))
    );
    let unknown = create(&emu, &json!({"model": "made/up", "input": {"prompt": "x"}})).await;
    assert_eq!(unknown["code"], 422);
    // 402 when short of the price (30 for a video), nothing debited.
    let short = create(
        &emu,
        &json!({"model": "bytedance/seedance-2", "input": {"prompt": "x"}}),
    )
    .await;
    assert_eq!(short["code"], 402);
    assert_eq!(emu.credits(), 10.0);
    // The rate window: the third create in the window is a 429, not charged.
    let a = create(
        &emu,
        &json!({"model": "google/nano-banana", "input": {"prompt": "x"}}),
    )
    .await;
    let b = create(
        &emu,
        &json!({"model": "elevenlabs/text-to-speech", "input": {"text": "x"}}),
    )
    .await;
    assert_eq!(
        (a["code"].as_i64(), b["code"].as_i64()),
        (Some(200), Some(200))
    );
    let c = create(
        &emu,
        &json!({"model": "elevenlabs/text-to-speech", "input": {"text": "x"}}),
    )
    .await;
    assert_eq!(c["code"], 429);
    assert_eq!(emu.credits(), 4.0);
    emu.clock().advance(Duration::from_secs(10));
    let d = create(
        &emu,
        &json!({"model": "elevenlabs/text-to-speech", "input": {"text": "x"}}),
    )
    .await;
    assert_eq!(d["code"], 200);
    // The first polls of a task answer "recordInfo is null"; an unknown id always does.
    let id = a["data"]["taskId"].as_str().unwrap();
    for _ in 0..2 {
        let early = record(&emu, id).await;
        assert_eq!(
            (early["code"].as_i64(), early["msg"].as_str()),
            (Some(422), Some("recordInfo is null"))
        );
    }
    assert_eq!(record(&emu, id).await["code"], 200);
    assert_eq!(record(&emu, "nope").await["code"], 422);
}

#[tokio::test]
async fn wire_quirks_are_switchable() {
    let emu = Emulator::builder().jobs(quick()).start();
    emu.update_jobs(|jobs| {
        jobs.quirks.result_json_object = true;
        jobs.quirks.fail_code = FailCodeForm::Number;
        jobs.quirks.message_key = true;
        jobs.quirks.param_double_encoded = true;
        jobs.quirks.extra_fields = true;
    });
    let ok = create(
        &emu,
        &json!({"model": "ai-music-api/generate", "input": {"model": "V6", "prompt": "a song"}}),
    )
    .await;
    assert_eq!(ok["message"], "success");
    let done = finished(&emu, ok["data"]["taskId"].as_str().unwrap()).await;
    let data = &done["data"];
    assert!(data["resultJson"].is_object());
    assert_eq!(
        data["resultJson"]["data"].as_array().unwrap().len(),
        2,
        "Suno V6: two tracks"
    );
    assert!(data["failCode"].is_null());
    let param: Value = serde_json::from_str(data["param"].as_str().unwrap()).unwrap();
    assert!(param["input"].is_string(), "input encoded twice");
    assert!(data["remainedCredits"].is_number());
    let failed = create(
        &emu,
        &json!({"model": "m/x", "input": {"prompt": "#fail500"}}),
    )
    .await;
    let done = finished(&emu, failed["data"]["taskId"].as_str().unwrap()).await;
    assert_eq!(done["data"]["failCode"], 500);
}

/// A loopback receiver that records every request (raw bytes) and answers `status`.
fn receiver(status: u16) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/kie/callback", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            // Head, then the body by Content-Length.
            loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&raw).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if raw.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&raw).into_owned());
            let answer = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: 27\r\nConnection: close\r\n\r\n{{\"code\":200,\"msg\":\"success\"}}"
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (url, seen)
}

fn header<'a>(request: &'a str, name: &str) -> Option<&'a str> {
    request.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn wait_for(what: impl Fn() -> bool) {
    let started = Instant::now();
    while !what() {
        assert!(started.elapsed() < Duration::from_secs(10), "timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The signature, recomputed with plain HMAC-SHA256 here (a third implementation beside the
/// emulator's and kie-proto's), of the spec's vector.
#[test]
fn the_emulator_signs_the_spec_vectors() {
    assert_eq!(
        kie_emulator::jobs_sign(
            "example-webhook-hmac-key",
            "e989621f54392584b05867f87b160672",
            "1755599645"
        ),
        "RtvvEtoFJWpg1p4xRTAcWuc6tLhN8/XMqBPX40SHCZE="
    );
    assert_eq!(
        kie_emulator::jobs_sign(
            "example-webhook-hmac-key",
            "bd3a37c523149e4adf45a3ddb5faf1a8",
            "1755597082"
        ),
        "s5FcBxxh4YaclOmSU88qjmyT9e4D9PSGVteVmaUYQg8="
    );
}

#[test]
fn callbacks_are_posted_signed_retried_and_recorded() {
    let key = "example-webhook-hmac-key";
    let emu = Emulator::builder()
        .jobs(JobSettings {
            webhook_key: Some(key.to_owned()),
            callback_gap: Duration::from_millis(50),
            ..quick()
        })
        .start();
    if !have_curl() {
        return;
    }
    let (url, seen) = receiver(200);
    let body = json!({"model": "google/nano-banana", "callBackUrl": url, "input": {"prompt": "x"}})
        .to_string();
    let auth = format!("Authorization: Bearer {}", emu.api_key());
    let (status, answer) = curl(&[
        "-s",
        "-X",
        "POST",
        &format!("{}/api/v1/jobs/createTask", emu.api_base_url()),
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        &body,
    ]);
    assert_eq!(status, 200);
    let id = serde_json::from_slice::<Value>(&answer).unwrap()["data"]["taskId"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for(|| !seen.lock().unwrap().is_empty());
    let request = seen.lock().unwrap()[0].clone();
    assert!(
        request.starts_with("POST /kie/callback HTTP/1.1"),
        "{request}"
    );
    let timestamp = header(&request, "x-webhook-timestamp").unwrap();
    let signature = header(&request, "x-webhook-signature").unwrap();
    assert_eq!(signature, kie_emulator::jobs_sign(key, &id, timestamp));
    let json_body: Value =
        serde_json::from_str(&request[request.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(
        (
            json_body["code"].as_i64(),
            json_body["data"]["taskId"].as_str()
        ),
        (Some(200), Some(id.as_str()))
    );
    assert_eq!(json_body["msg"], "Playground task completed successfully.");
    let attempts = emu.callback_attempts();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status, Some(200));

    // A receiver that answers 500 gets three attempts, then no more; a duplicate switch
    // delivers twice; unsigned deliveries carry no signature.
    let (failing, failing_seen) = receiver(500);
    emu.update_jobs(|jobs| jobs.callback_signature = CallbackSignature::Unsigned);
    let created = curl(&[
        "-s",
        "-X",
        "POST",
        &format!("{}/api/v1/jobs/createTask", emu.api_base_url()),
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        &json!({"model": "m/x", "callBackUrl": failing, "input": {"prompt": "#fail400"}})
            .to_string(),
    ]);
    assert_eq!(created.0, 200);
    wait_for(|| failing_seen.lock().unwrap().len() == 3);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(failing_seen.lock().unwrap().len(), 3, "no fourth attempt");
    let failed_body = failing_seen.lock().unwrap()[0].clone();
    assert!(header(&failed_body, "x-webhook-signature").is_none());
    assert!(
        failed_body.contains("\"code\":501") && failed_body.contains("Playground task failed.")
    );
}

/// The callback faults a receiver must survive: a duplicate delivery, a late one (after
/// the record already shows the outcome), a wrong and a stale signature — each judged as a
/// receiver does: the signature recomputed, the timestamp within five minutes.
#[test]
fn callback_faults_are_switchable() {
    let key = "example-webhook-hmac-key";
    let emu = Emulator::builder()
        .jobs(JobSettings {
            webhook_key: Some(key.to_owned()),
            callback_duplicate: true,
            callback_delay: Duration::from_millis(300),
            ..quick()
        })
        .start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut verdicts = Vec::new();
    for signature in [
        CallbackSignature::Valid,
        CallbackSignature::Wrong,
        CallbackSignature::Stale,
    ] {
        emu.update_jobs(|jobs| jobs.callback_signature = signature);
        let (url, seen) = receiver(200);
        let created = runtime.block_on(create(
            &emu,
            &json!({"model": "m/x", "callBackUrl": url, "input": {"prompt": "x"}}),
        ));
        let id = created["data"]["taskId"].as_str().unwrap().to_owned();
        // Late: the record shows success before the callback arrives.
        let done = runtime.block_on(finished(&emu, &id));
        assert_eq!(done["data"]["state"], "success");
        assert!(
            seen.lock().unwrap().is_empty(),
            "delivered before the delay"
        );
        wait_for(|| seen.lock().unwrap().len() == 2);
        let request = seen.lock().unwrap()[1].clone();
        let timestamp = header(&request, "x-webhook-timestamp").unwrap();
        let signature = header(&request, "x-webhook-signature").unwrap();
        let now = emu
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let fresh = now.abs_diff(timestamp.parse::<u64>().unwrap()) <= 300;
        verdicts.push(fresh && signature == kie_emulator::jobs_sign(key, &id, timestamp));
    }
    assert_eq!(verdicts, [true, false, false], "valid, wrong, stale");
    let attempts = emu.callback_attempts();
    assert_eq!(attempts.len(), 6, "two deliveries each");
    assert!(attempts.iter().all(|a| a.status == Some(200)));
}
