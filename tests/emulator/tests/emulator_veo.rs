//! The Veo 3.1 routes of the emulator, driven with a plain HTTP client (reqwest) and curl —
//! never through the SDK — as the families spec describes them: generate with an uploaded
//! image, `successFlag` over the clock, the 1080p video "processing" until ready, the 4K
//! upgrade as a task of its own whose repeat answers 422, extend, failures (2 and 3),
//! validation, the callback body, and the contradicting shapes behind switches.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use kie_emulator::{Emulator, JobSettings};
use serde_json::{Value, json};
use support::{bearer, client, curl, have_curl, read};

fn quick() -> JobSettings {
    JobSettings {
        stage_durations: [
            Duration::from_millis(30),
            Duration::from_millis(30),
            Duration::from_millis(150),
        ],
        veo_upgrade_delay: Duration::from_secs(60),
        ..JobSettings::default()
    }
}

async fn post(emu: &Emulator, path: &str, body: &Value) -> Value {
    let resp = client()
        .post(format!("{}{path}", emu.api_base_url()))
        .header("authorization", bearer(emu))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .send()
        .await
        .unwrap();
    read(resp).await.json()
}

async fn get(emu: &Emulator, path_and_query: &str) -> Value {
    let resp = client()
        .get(format!("{}{path_and_query}", emu.api_base_url()))
        .header("authorization", bearer(emu))
        .send()
        .await
        .unwrap();
    read(resp).await.json()
}

/// Polls `record-info` until `successFlag` is not 0 (bounded: 10 s).
async fn finished(emu: &Emulator, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let answer = get(emu, &format!("/api/v1/veo/record-info?taskId={id}")).await;
        if answer["data"]["successFlag"] != 0 {
            return answer;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{answer}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

#[tokio::test]
async fn a_video_from_an_uploaded_image_then_its_1080p_and_4k_versions() {
    let emu = Emulator::builder().jobs(quick()).credits(1000.0).start();
    let uploaded = support::base64_upload(
        &emu,
        &json!({"base64Data": support::PNG_1X1_B64, "uploadPath": "inputs", "fileName": "first.png"}),
    )
    .await
    .json();
    let image = uploaded["data"]["downloadUrl"].as_str().unwrap().to_owned();
    let created = post(
        &emu,
        "/api/v1/veo/generate",
        &json!({"prompt": "a cat surfing", "imageUrls": [image], "model": "veo3_fast", "aspect_ratio": "9:16", "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO"}),
    )
    .await;
    assert_eq!(created["code"], 200, "{created}");
    let id = created["data"]["taskId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("veo_task_"), "{id}");
    assert_eq!(emu.credits(), 940.0, "veo3_fast costs 60");
    // Running first: successFlag 0, no response yet.
    let early = get(&emu, &format!("/api/v1/veo/record-info?taskId={id}")).await;
    assert_eq!(early["data"]["successFlag"], 0, "{early}");
    assert!(early["data"].get("response").is_none());
    let done = finished(&emu, &id).await;
    let data = &done["data"];
    assert_eq!(data["successFlag"], 1, "{done}");
    assert!(data["createTime"].is_number() && data["completeTime"].is_number());
    let param: Value = serde_json::from_str(data["paramJson"].as_str().unwrap()).unwrap();
    assert_eq!(param["model"], "veo3_fast");
    let video = data["response"]["resultUrls"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(video.ends_with(".mp4"));
    assert_eq!(
        data["response"]["originUrls"].as_array().unwrap().len(),
        1,
        "9:16 has originals"
    );
    assert_eq!(data["response"]["resolution"], "720p");
    let bytes = client()
        .get(&video)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[4..8], b"ftyp");
    // The Market record endpoint does not know a Veo task.
    let market = get(&emu, &format!("/api/v1/jobs/recordInfo?taskId={id}")).await;
    assert_eq!(market["msg"], "recordInfo is null");

    // 1080p: "processing" (code 400) until the upgrade delay has passed, then its URL.
    let p1080 = format!("/api/v1/veo/get-1080p-video?taskId={id}&index=0");
    let processing = get(&emu, &p1080).await;
    assert_eq!(processing["code"], 400, "{processing}");
    assert!(
        processing["msg"]
            .as_str()
            .unwrap()
            .contains("1080P is processing")
    );
    emu.clock().advance(Duration::from_secs(61));
    let ready = get(&emu, &p1080).await;
    assert_eq!(ready["code"], 200, "{ready}");
    let url = ready["data"]["resultUrl"].as_str().unwrap();
    assert_eq!(client().get(url).send().await.unwrap().status(), 200);

    // 4K: a task of its own; asking again answers 422, processing then done with URLs.
    let started = post(&emu, "/api/v1/veo/get-4k-video", &json!({"taskId": id})).await;
    assert_eq!(started["code"], 200, "{started}");
    assert!(started["data"]["resultUrls"].is_null());
    let upgrade = started["data"]["taskId"].as_str().unwrap().to_owned();
    let again = post(&emu, "/api/v1/veo/get-4k-video", &json!({"taskId": id})).await;
    assert_eq!(again["code"], 422);
    assert!(
        again["msg"].as_str().unwrap().contains("4k is processing"),
        "{again}"
    );
    let done = finished(&emu, &upgrade).await;
    assert_eq!(done["data"]["response"]["resolution"], "4k");
    let again = post(&emu, "/api/v1/veo/get-4k-video", &json!({"taskId": id})).await;
    assert_eq!(again["code"], 422);
    assert_eq!(again["msg"], "The video has been generated successfully");
    assert_eq!(
        again["data"]["resultUrls"],
        done["data"]["response"]["resultUrls"]
    );

    // Extend: a new task whose record holds the whole video too.
    let extended = post(
        &emu,
        "/api/v1/veo/extend",
        &json!({"taskId": id, "prompt": "it jumps", "model": "fast"}),
    )
    .await;
    let done = finished(&emu, extended["data"]["taskId"].as_str().unwrap()).await;
    assert_eq!(
        done["data"]["response"]["fullResultUrls"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn failures_refusals_and_validation() {
    let emu = Emulator::builder().jobs(quick()).credits(1000.0).start();
    for (prompt, flag, code) in [
        ("#fail400 x", 2, json!(400)),
        ("#fail500 x", 2, json!(500)),
        ("#fail-upstream x", 3, Value::Null),
    ] {
        let created = post(&emu, "/api/v1/veo/generate", &json!({"prompt": prompt})).await;
        let done = finished(&emu, created["data"]["taskId"].as_str().unwrap()).await;
        assert_eq!(done["data"]["successFlag"], flag, "{prompt}: {done}");
        assert_eq!(done["data"]["errorCode"], code, "{prompt}");
        assert!(done["data"].get("response").is_none());
    }
    assert_eq!(emu.credits(), 1000.0, "failed tasks are refunded");
    for (body, says) in [
        (json!({"model": "veo3"}), "This field is required"),
        (
            json!({"prompt": "x", "model": "veo2"}),
            "model veo2 is not supported",
        ),
        (
            json!({"prompt": "x", "aspect_ratio": "4:3"}),
            "aspect_ratio 4:3 is not supported",
        ),
        (
            json!({"prompt": "x", "imageUrls": ["a", "b", "c", "d"]}),
            "at most 3",
        ),
    ] {
        let refused = post(&emu, "/api/v1/veo/generate", &body).await;
        assert_eq!(refused["code"], 422, "{body}: {refused}");
        assert!(refused["msg"].as_str().unwrap().contains(says), "{refused}");
    }
    let unknown = get(&emu, "/api/v1/veo/record-info?taskId=veo_task_nope").await;
    assert_eq!(
        (unknown["code"].as_i64(), unknown["msg"].as_str()),
        (Some(422), Some("record is null"))
    );
    let not_done = post(&emu, "/api/v1/veo/generate", &json!({"prompt": "#stuck"})).await;
    let id = not_done["data"]["taskId"].as_str().unwrap();
    let early = get(&emu, &format!("/api/v1/veo/get-1080p-video?taskId={id}")).await;
    assert_eq!(early["msg"], "record status is not success");
    let early = post(
        &emu,
        "/api/v1/veo/extend",
        &json!({"taskId": id, "prompt": "more"}),
    )
    .await;
    assert_eq!(early["msg"], "record status is not success");
    emu.set_credits(10.0);
    let poor = post(
        &emu,
        "/api/v1/veo/generate",
        &json!({"prompt": "x", "model": "veo3"}),
    )
    .await;
    assert_eq!(poor["code"], 402);
}

#[tokio::test]
async fn the_contradicting_shapes_are_switchable_and_callbacks_are_veo_shaped() {
    let emu = Emulator::builder()
        .jobs(JobSettings {
            webhook_key: Some("veo-key".to_owned()),
            callback_attempts: 1,
            ..quick()
        })
        .credits(1000.0)
        .start();
    emu.update_jobs(|jobs| {
        jobs.quirks.veo_result_urls_string = true;
        jobs.quirks.veo_times_text = true;
        jobs.quirks.veo_callback_urls_string = true;
    });
    // No receiver listens: the attempts (body and signature) are recorded all the same.
    let created = post(
        &emu,
        "/api/v1/veo/generate",
        &json!({"prompt": "x", "callBackUrl": "http://127.0.0.1:9/cb"}),
    )
    .await;
    let id = created["data"]["taskId"].as_str().unwrap().to_owned();
    let done = finished(&emu, &id).await;
    let urls: Vec<String> =
        serde_json::from_str(done["data"]["resultUrls"].as_str().unwrap()).unwrap();
    assert_eq!(urls.len(), 1, "{done}");
    let created_at = done["data"]["createTime"].as_str().unwrap();
    assert_eq!(
        created_at.len(),
        "2025-06-06 10:30:00".len(),
        "{created_at}"
    );
    let failed = post(
        &emu,
        "/api/v1/veo/generate",
        &json!({"prompt": "#fail400", "callBackUrl": "http://127.0.0.1:9/cb"}),
    )
    .await;
    let failed_id = failed["data"]["taskId"].as_str().unwrap().to_owned();
    finished(&emu, &failed_id).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while emu.callback_attempts().len() < 2 {
        assert!(Instant::now() < deadline, "{:?}", emu.callback_attempts());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let attempts = emu.callback_attempts();
    let body = |task: &str| -> Value {
        let attempt = attempts.iter().find(|a| a.task_id == task).unwrap();
        let (timestamp, signature) = attempt.signature.clone().unwrap();
        assert_eq!(
            signature,
            kie_emulator::jobs_sign("veo-key", task, &timestamp)
        );
        serde_json::from_str(&attempt.body).unwrap()
    };
    let ok = body(&id);
    assert_eq!(ok["code"], 200);
    assert_eq!(ok["data"]["taskId"], id.as_str());
    let listed = ok["data"]["info"]["resultUrls"].as_str().unwrap();
    assert!(
        listed.starts_with("[http") && listed.ends_with(']'),
        "{listed}"
    );
    let fail = body(&failed_id);
    assert_eq!(fail["code"], 400);
    assert_eq!(
        fail["data"],
        json!({"taskId": failed_id, "fallbackFlag": false})
    );
}

#[test]
fn curl_creates_and_reads_a_veo_task() {
    if !have_curl() {
        eprintln!("curl not installed: skipped");
        return;
    }
    let emu = Emulator::builder().jobs(quick()).start();
    let auth = format!("Authorization: {}", bearer(&emu));
    let (status, body) = curl(&[
        "-s",
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"prompt":"A dog playing in a park","model":"veo3_lite"}"#,
        &format!("{}/api/v1/veo/generate", emu.api_base_url()),
    ]);
    assert_eq!(status, 200);
    let created: Value = serde_json::from_slice(&body).unwrap();
    let id = created["data"]["taskId"].as_str().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let (status, body) = curl(&[
        "-s",
        "-H",
        &auth,
        &format!("{}/api/v1/veo/record-info?taskId={id}", emu.api_base_url()),
    ]);
    assert_eq!(status, 200);
    let record: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(record["data"]["successFlag"], 1, "{record}");
}
