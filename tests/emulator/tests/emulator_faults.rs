//! Every fault kind of the fault plan, and the in-flight upload counter — with a plain
//! HTTP client (no kie-rs SDK involved).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use kie_emulator::{Emulator, Fault, Route};
use serde_json::json;
use support::*;

fn b64_body() -> serde_json::Value {
    json!({"base64Data": PNG_1X1_B64, "uploadPath": "f", "fileName": "f.png"})
}

async fn credits(emu: &Emulator) -> Resp {
    read(
        client()
            .get(format!("{}/api/v1/chat/credit", emu.api_base_url()))
            .header("Authorization", bearer(emu))
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn canned_responses_apply_in_order_then_normal_handling_resumes() {
    let emu = Emulator::start();
    let plan = emu.faults();
    plan.push(Route::Base64Upload, Fault::html(502));
    plan.push(Route::Base64Upload, Fault::success_false_200());
    plan.push(Route::Base64Upload, Fault::cloudflare_1010());
    plan.push(Route::Base64Upload, Fault::internal_error_500());
    assert_eq!(plan.remaining(Route::Base64Upload), 4);
    assert_eq!(plan.remaining(Route::StreamUpload), 0);

    let r = base64_upload(&emu, &b64_body()).await;
    assert_eq!(r.status, 502);
    assert!(r.content_type().starts_with("text/html"));
    assert!(r.text().contains("502 Bad Gateway"));
    let r = base64_upload(&emu, &b64_body()).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"success": false, "code": 500, "msg": "Internal server error"})
    );
    let r = base64_upload(&emu, &b64_body()).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.text(), "error code: 1010");
    let r = base64_upload(&emu, &b64_body()).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["code"], 500);
    assert!(
        emu.stored_files().is_empty(),
        "canned responses store nothing"
    );
    assert_eq!(plan.remaining(Route::Base64Upload), 0);
    let r = base64_upload(&emu, &b64_body()).await;
    assert_eq!(r.json()["code"], 200);
    assert_eq!(emu.stored_files().len(), 1);

    let log = emu.requests();
    assert_eq!(log[0].fault.as_deref(), Some("Respond(502)"));
    assert_eq!(log[0].response_status, 502);
    assert_eq!(log[1].response_code, Some(500));
    assert!(log[0].body_len > 0, "the body was read and discarded");
    assert_eq!(log[4].fault, None);
}

#[tokio::test]
async fn rate_limits_maintenance_and_custom_json_on_the_api_host() {
    let emu = Emulator::start();
    let plan = emu.faults();
    plan.push(Route::Credits, Fault::rate_limited(Some(3)));
    plan.push(Route::Credits, Fault::rate_limited(None));
    plan.push(Route::Credits, Fault::maintenance_455());
    plan.push(
        Route::Credits,
        Fault::json(
            200,
            json!({"code": 402, "msg": "Insufficient credits", "data": null}),
        ),
    );
    plan.push(
        Route::Credits,
        Fault::Respond {
            status: 503,
            content_type: "text/plain".into(),
            body: Vec::new(),
            headers: vec![("X-Custom".into(), "yes".into())],
        },
    );
    let r = credits(&emu).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["retry-after"], "3");
    assert_eq!(r.json()["code"], 429);
    let r = credits(&emu).await;
    assert_eq!(r.status, 429);
    assert!(r.headers.get("retry-after").is_none());
    let r = credits(&emu).await;
    assert_eq!(r.status, 455);
    assert_eq!(r.json()["code"], 455);
    let r = credits(&emu).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["code"], 402);
    let r = credits(&emu).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.headers["x-custom"], "yes");
    assert!(r.body.is_empty());
    assert_eq!(credits(&emu).await.json()["code"], 200);
}

#[tokio::test]
async fn faults_are_per_route_and_can_be_cleared() {
    let emu = Emulator::start();
    let plan = emu.faults();
    plan.push_n(Route::DownloadUrl, Fault::html(502), 3);
    plan.push(Route::Credits, Fault::html(504));
    assert_eq!(plan.remaining(Route::DownloadUrl), 3);
    // Credits only consumes its own fault.
    assert_eq!(credits(&emu).await.status, 504);
    assert_eq!(plan.remaining(Route::DownloadUrl), 3);
    plan.clear();
    assert_eq!(plan.remaining(Route::DownloadUrl), 0);
    assert_eq!(credits(&emu).await.status, 200);
    // A fault precedes auth: even an unauthenticated request consumes it.
    plan.push(Route::Credits, Fault::html(502));
    let r = get(&format!("{}/api/v1/chat/credit", emu.api_base_url())).await;
    assert_eq!(r.status, 502);
}

#[tokio::test]
async fn delay_then_normal_handling() {
    let emu = Emulator::start();
    emu.faults().push(
        Route::Base64Upload,
        Fault::Delay(Duration::from_millis(200)),
    );
    let started = Instant::now();
    let r = base64_upload(&emu, &b64_body()).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(r.json()["code"], 200);
    assert_eq!(emu.stored_files().len(), 1);
    assert_eq!(emu.requests()[0].fault.as_deref(), Some("Delay(200ms)"));
}

#[tokio::test]
async fn drop_before_read_sends_no_response() {
    let emu = Emulator::start();
    emu.faults()
        .push(Route::StreamUpload, Fault::DropBeforeRead);
    let (ct, body) = multipart(&[
        Part::File {
            name: "file",
            filename: Some("a.png"),
            content_type: None,
            data: &png(),
        },
        Part::Text("uploadPath", "a"),
    ]);
    let result = client()
        .post(format!("{}/api/file-stream-upload", emu.upload_base_url()))
        .header("Authorization", bearer(&emu))
        .header("Content-Type", &ct)
        .body(body.clone())
        .send()
        .await;
    assert!(
        result.is_err(),
        "expected a connection error, got {result:?}"
    );
    assert!(emu.stored_files().is_empty());
    let log = emu.requests();
    assert_eq!(log[0].response_status, 0);
    assert_eq!(log[0].fault.as_deref(), Some("DropBeforeRead"));
    assert_eq!(log[0].body_len, 0);
    // The next request works.
    assert_eq!(stream_upload_raw(&emu, &ct, body).await.json()["code"], 200);
}

#[tokio::test]
async fn drop_after_bytes_reads_part_of_the_body() {
    let emu = Emulator::start();
    emu.faults()
        .push(Route::StreamUpload, Fault::DropAfterBytes(100_000));
    let data = noise(4 * 1024 * 1024, 5);
    let (ct, body) = multipart(&[
        Part::Text("uploadPath", "a"),
        Part::File {
            name: "file",
            filename: Some("a.bin"),
            content_type: None,
            data: &data,
        },
    ]);
    let total = body.len() as u64;
    let result = client()
        .post(format!("{}/api/file-stream-upload", emu.upload_base_url()))
        .header("Authorization", bearer(&emu))
        .header("Content-Type", &ct)
        .body(body)
        .send()
        .await;
    assert!(
        result.is_err(),
        "expected a connection error, got {result:?}"
    );
    assert!(emu.stored_files().is_empty());
    let entry = &emu.requests()[0];
    assert_eq!(entry.response_status, 0);
    assert!(
        entry.body_len >= 100_000 && entry.body_len < total,
        "{}",
        entry.body_len
    );
}

#[tokio::test]
async fn truncated_response_after_storing() {
    let emu = Emulator::start();
    emu.faults()
        .push(Route::Base64Upload, Fault::TruncatedResponse);
    let resp = client()
        .post(format!("{}/api/file-base64-upload", emu.upload_base_url()))
        .header("Authorization", bearer(&emu))
        .header("Content-Type", "application/json")
        .body(b64_body().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let len = resp.content_length().unwrap();
    assert!(len > 100);
    assert!(resp.bytes().await.is_err(), "body must be cut short");
    assert_eq!(emu.stored_files().len(), 1, "the upload IS stored");

    // Same on the files host, for a large download.
    let data = noise(8 * 1024 * 1024, 3);
    let (ct, body) = multipart(&[
        Part::File {
            name: "file",
            filename: Some("d.bin"),
            content_type: None,
            data: &data,
        },
        Part::Text("uploadPath", "dl"),
    ]);
    let v = stream_upload_raw(&emu, &ct, body).await.json();
    emu.faults().push(Route::Files, Fault::TruncatedResponse);
    let resp = client()
        .get(v["data"]["downloadUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.content_length(), Some(data.len() as u64));
    let mut resp = resp;
    let mut got = 0usize;
    let err = loop {
        match resp.chunk().await {
            Ok(Some(c)) => got += c.len(),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    assert!(err.is_some(), "download must fail");
    assert!(
        got <= data.len() / 2,
        "at most the first half arrives: {got}"
    );
}

#[tokio::test]
async fn stall_response_sends_headers_then_waits() {
    let emu = Emulator::start();
    emu.faults().push(
        Route::Credits,
        Fault::StallResponse(Duration::from_millis(400)),
    );
    let started = Instant::now();
    let resp = client()
        .get(format!("{}/api/v1/chat/credit", emu.api_base_url()))
        .header("Authorization", bearer(&emu))
        .send()
        .await
        .unwrap();
    let headers_at = started.elapsed();
    assert!(
        headers_at < Duration::from_millis(350),
        "headers came at {headers_at:?}"
    );
    let body = resp.bytes().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(400));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["code"], 200);
    // A client with a short read timeout gives up.
    emu.faults().push(
        Route::Credits,
        Fault::StallResponse(Duration::from_millis(500)),
    );
    let quick = reqwest::Client::builder()
        .no_proxy()
        .read_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let resp = quick
        .get(format!("{}/api/v1/chat/credit", emu.api_base_url()))
        .header("Authorization", bearer(&emu))
        .send()
        .await
        .unwrap();
    assert!(resp.bytes().await.is_err());
}

#[tokio::test]
async fn stall_before_headers_after_storing() {
    let emu = Emulator::start();
    emu.faults().push(
        Route::Base64Upload,
        Fault::StallBeforeHeaders(Duration::from_millis(300)),
    );
    let c = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let result = c
        .post(format!("{}/api/file-base64-upload", emu.upload_base_url()))
        .header("Authorization", bearer(&emu))
        .header("Content-Type", "application/json")
        .body(b64_body().to_string())
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    assert_eq!(emu.stored_files().len(), 1, "stored before the stall");
    emu.faults().push(
        Route::Base64Upload,
        Fault::StallBeforeHeaders(Duration::from_millis(200)),
    );
    let started = Instant::now();
    let r = base64_upload(&emu, &b64_body()).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(r.json()["code"], 200);
}

#[tokio::test]
async fn max_concurrent_uploads_counts_requests_in_flight() {
    let emu = Emulator::start();
    assert_eq!(emu.max_concurrent_uploads(), 0);
    // Each upload is held for 3 s, and the four must be seen in flight together within
    // 2.5 s of being started: generous enough for a loaded CI machine (a 600 ms hold with a
    // 500 ms deadline failed under load), still shorter than the hold.
    emu.faults()
        .push_n(Route::Base64Upload, Fault::Delay(Duration::from_secs(3)), 4);
    let mut tasks = Vec::new();
    for i in 0..4 {
        let url = format!("{}/api/file-base64-upload", emu.upload_base_url());
        let auth = bearer(&emu);
        tasks.push(tokio::spawn(async move {
            client()
                .post(url)
                .header("Authorization", auth)
                .header("Content-Type", "application/json")
                .body(json!({"base64Data": PNG_1X1_B64, "uploadPath": "c", "fileName": format!("{i}.png")}).to_string())
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let deadline = Instant::now() + Duration::from_millis(2500);
    while emu.in_flight_uploads() < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(emu.in_flight_uploads(), 4);
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(emu.max_concurrent_uploads(), 4);
    assert_eq!(emu.in_flight_uploads(), 0);
    // Non-upload routes are not counted.
    credits(&emu).await;
    emu.reset_max_concurrent_uploads();
    assert_eq!(emu.max_concurrent_uploads(), 0);
    base64_upload(&emu, &b64_body()).await;
    assert_eq!(emu.max_concurrent_uploads(), 1);
}
