//! Scenarios: generation tasks (Market) against the emulator's task engine — create, wait,
//! download, and every way a task or a call can go wrong.

use super::*;
use kie_proto::task::{CreateTask, NewTask, PollPolicy, TaskInput, TaskStatus, WaitOptions};
use kie_tests::JobSettings;

/// A wait that polls often (the emulator's tasks take a fraction of a second).
fn quick_wait() -> WaitOptions {
    WaitOptions::new().policy(
        PollPolicy::default()
            .with_first_delay(Duration::from_millis(50))
            .with_max_delay(Duration::from_millis(200))
            .with_min_gap(Duration::from_millis(20))
            .with_deadline(Some(Duration::from_secs(20))),
    )
}

fn jobs_client<D: Driver>(jobs: JobSettings) -> (D, Emulator) {
    let emulator = Emulator::builder().jobs(jobs).credits(1000.0).start();
    let driver: D = client(&emulator, &Settings::default());
    (driver, emulator)
}

fn create(prompt: &str) -> NewTask {
    CreateTask::new("google/nano-banana", json!({"prompt": prompt}))
        .unwrap()
        .into()
}

/// The whole path: a local file uploaded into the input (`prepare_input`), the task created
/// and waited for with progress reports, its result downloaded byte-exact (into memory and
/// into a file), never with the API key.
pub fn jobs_upload_run_download<D: Driver>() {
    let (driver, emulator) = jobs_client::<D>(JobSettings::quick());
    let input = TaskInput::new(json!({"prompt": "make it blue"}))
        .unwrap()
        .bytes("image_urls", "cat.png", png());
    let input = driver
        .prepare_input(&input, &UploadOptions::new("inputs"))
        .unwrap();
    let url = input["image_urls"][0].as_str().unwrap().to_owned();
    assert!(url.starts_with(&emulator.files_base_url()), "{input}");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let options = quick_wait().on_progress(move |p| log.lock().unwrap().push(p.status.clone()));
    let create = CreateTask::new("google/nano-banana-edit", input).unwrap();
    let view = driver.run(&create.into(), &options).unwrap();
    assert_eq!(view.status, TaskStatus::Succeeded);
    assert_eq!(view.credits_consumed, Some(4.0));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.last(), Some(&TaskStatus::Succeeded), "{seen:?}");
    assert!(seen.len() >= 2, "running states reported too: {seen:?}");
    let result = &view.assets[0].url;
    let (status, expected) = http_get(result);
    assert_eq!(status, 200);
    assert_eq!(driver.download_result(result).unwrap(), expected);
    let dir = TempDir::new("jobs");
    let path = dir.path().join("result.png");
    assert_eq!(
        driver.download_result_to(result, &path).unwrap(),
        expected.len() as u64
    );
    assert_eq!(std::fs::read(&path).unwrap(), expected);
    let downloads: Vec<_> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.host == Host::Files && r.path.contains("/generated/"))
        .collect();
    assert!(downloads.len() >= 2);
    assert!(
        downloads.iter().all(|r| !r.has_authorization()),
        "the key went to the storage host"
    );
    // get_task reads the same record.
    let record = driver.get_task(&view.task).unwrap();
    assert_eq!(record.view().assets, view.assets);
}

/// A failed task is a value: 400 (content policy) says re-creating will not help, 500
/// (upstream) says it may.
pub fn jobs_failed_tasks_say_whether_to_create_again<D: Driver>() {
    let (driver, _emulator) = jobs_client::<D>(JobSettings::quick());
    for (marker, code, may_help) in [("#fail400", "400", false), ("#fail500", "500", true)] {
        let view = driver.run(&create(marker), &quick_wait()).unwrap();
        match view.status {
            TaskStatus::Failed {
                code: Some(c),
                recreate_may_help,
                ..
            } => {
                assert_eq!(
                    (c.as_str(), recreate_may_help),
                    (code, may_help),
                    "{marker}"
                );
            }
            other => panic!("{marker}: {other:?}"),
        }
        assert_eq!(view.credits_consumed, Some(0.0));
    }
}

/// The first polls answer "recordInfo is null": tolerated, then the task is found.
pub fn jobs_not_visible_then_found<D: Driver>() {
    let (driver, _emulator) = jobs_client::<D>(JobSettings {
        not_visible_polls: 3,
        ..JobSettings::quick()
    });
    let view = driver.run(&create("x"), &quick_wait()).unwrap();
    assert_eq!(view.status, TaskStatus::Succeeded);
    // An id the service never heard of: not found after the grace.
    let unknown = kie_proto::task::TaskRef::market("0123456789abcdef0123456789abcdef").unwrap();
    let options = WaitOptions::new().policy(
        PollPolicy::default()
            .with_first_delay(Duration::from_millis(20))
            .with_not_visible_grace(Duration::from_millis(300)),
    );
    let error = driver.wait_task(&unknown, &options).unwrap_err();
    assert!(
        matches!(
            error,
            Error::TaskWait {
                may_finish: false,
                ..
            }
        ),
        "{error:?}"
    );
}

/// A task that never finishes: the deadline ends the wait with an error that names the
/// task and says it may still finish (never "failed"); an unknown status does not end it
/// early.
pub fn jobs_deadline_says_the_task_may_still_finish<D: Driver>() {
    let (driver, _emulator) = jobs_client::<D>(JobSettings::quick());
    for marker in ["#stuck", "#unknown-state"] {
        let task = driver.create_task(&create(marker)).unwrap();
        let options = WaitOptions::new().policy(
            PollPolicy::default()
                .with_first_delay(Duration::from_millis(50))
                .with_min_gap(Duration::from_millis(50))
                .with_deadline(Some(Duration::from_millis(800))),
        );
        let started = Instant::now();
        let error = driver.wait_task(&task, &options).unwrap_err();
        let elapsed = started.elapsed();
        // The last poll runs before the deadline, no closer than the minimum gap.
        assert!(
            elapsed >= Duration::from_millis(700) && elapsed < Duration::from_secs(5),
            "{elapsed:?}"
        );
        let text = error.to_string();
        assert!(
            text.contains(&task.to_string()) && text.contains("may still finish"),
            "{text}"
        );
        assert!(!text.contains("failed"), "{text}");
    }
}

/// A create refused with 429 (nothing created, nothing charged) is sent again: one task.
pub fn jobs_create_refused_by_rate_is_retried_once_created<D: Driver>() {
    let (driver, emulator) = jobs_client::<D>(JobSettings::quick());
    emulator
        .faults()
        .push(Route::CreateTask, Fault::rate_limited(None));
    let task = driver.create_task(&create("x")).unwrap();
    let creates = requests_to(&emulator, Route::CreateTask);
    assert_eq!(creates.len(), 2, "refused once, then created");
    let record = driver.get_task(&task).unwrap();
    assert_eq!(record.task(), &task);
}

/// A create whose answer is lost after the service took it is **not** sent again (a second
/// paid task): exactly one create reached the emulator, and the error says the task may
/// exist. A 502 page from a proxy is treated the same.
pub fn jobs_create_answer_lost_is_not_sent_again<D: Driver>() {
    let (driver, emulator) = jobs_client::<D>(JobSettings::quick());
    for fault in [Fault::TruncatedResponse, Fault::html(502)] {
        let before = requests_to(&emulator, Route::CreateTask).len();
        emulator.faults().push(Route::CreateTask, fault);
        let error = driver.create_task(&create("x")).unwrap_err();
        assert!(matches!(error, Error::MaybeCreated { .. }), "{error:?}");
        assert!(error.to_string().contains("the task may exist"), "{error}");
        assert_eq!(
            requests_to(&emulator, Route::CreateTask).len(),
            before + 1,
            "sent again"
        );
    }
}

/// An input upload that expired before the task started fails the task with 400.
pub fn jobs_expired_input_fails_the_task<D: Driver>() {
    let (driver, emulator) = jobs_client::<D>(JobSettings::quick());
    let input =
        TaskInput::new(json!({"prompt": "x"}))
            .unwrap()
            .bytes("image_urls", "cat.png", png());
    let input = driver
        .prepare_input(&input, &UploadOptions::new("inputs"))
        .unwrap();
    emulator.clock().advance(Duration::from_secs(4 * 24 * 3600));
    let view = driver
        .run(
            &CreateTask::new("google/nano-banana-edit", input)
                .unwrap()
                .into(),
            &quick_wait(),
        )
        .unwrap();
    match view.status {
        TaskStatus::Failed { code, message, .. } => {
            assert_eq!(code.as_deref(), Some("400"));
            assert!(message.unwrap().contains("Failed to fetch"));
        }
        other => panic!("{other:?}"),
    }
}

/// A result link the storage host refuses (403) is exchanged once through download-url.
pub fn jobs_refused_result_link_is_refreshed_once<D: Driver>() {
    let (driver, emulator) = jobs_client::<D>(JobSettings::quick());
    let view = driver.run(&create("x"), &quick_wait()).unwrap();
    let url = &view.assets[0].url;
    let (_, expected) = http_get(url);
    emulator
        .faults()
        .push(Route::Files, Fault::json(403, json!({"error": "expired"})));
    assert_eq!(driver.download_result(url).unwrap(), expected);
    assert_eq!(requests_to(&emulator, Route::DownloadUrl).len(), 1);
    // Refused twice: an error naming the status, one refresh only.
    emulator
        .faults()
        .push(Route::Files, Fault::json(403, json!({})));
    emulator
        .faults()
        .push(Route::Files, Fault::json(403, json!({})));
    let error = driver.download_result(url).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Integrity(IntegrityError::DownloadRefused { status: 403, .. })
        ),
        "{error:?}"
    );
    assert_eq!(requests_to(&emulator, Route::DownloadUrl).len(), 2);
}

/// The documented variants of the record (`resultJson` as an object, a numeric
/// `failCode`, `message`) read the same.
pub fn jobs_record_variants<D: Driver>() {
    let (driver, emulator) = jobs_client::<D>(JobSettings::quick());
    emulator.update_jobs(|jobs| {
        jobs.quirks.result_json_object = true;
        jobs.quirks.fail_code = kie_tests::FailCodeForm::Number;
        jobs.quirks.message_key = true;
        jobs.quirks.param_double_encoded = true;
    });
    let view = driver.run(&create("x"), &quick_wait()).unwrap();
    assert_eq!(
        (view.status.clone(), view.assets.len()),
        (TaskStatus::Succeeded, 1)
    );
    let failed = driver.run(&create("#fail500"), &quick_wait()).unwrap();
    assert!(matches!(failed.status, TaskStatus::Failed { code: Some(ref c), .. } if c == "500"));
}

/// A poll that fails for transport reasons (a dropped connection, a 502 page) is retried
/// and the wait goes on to the outcome.
pub fn jobs_transport_failures_mid_wait_are_retried<D: Driver>() {
    let (driver, emulator) = jobs_client::<D>(JobSettings::quick());
    let task = driver.create_task(&create("x")).unwrap();
    emulator
        .faults()
        .push(Route::RecordInfo, Fault::DropBeforeRead);
    emulator.faults().push(Route::RecordInfo, Fault::html(502));
    let view = driver.wait_task(&task, &quick_wait()).unwrap();
    assert_eq!(view.status, TaskStatus::Succeeded);
}

/// A task created with a callback URL: the emulator's signed callback verifies with
/// kie-proto's verifier (the spec's key), reads as the same record `get_task` gives, a
/// duplicate delivery is the same body, and a stale signature is refused.
pub fn jobs_callback_verified_and_confirmed<D: Driver>() {
    use kie_proto::task::MarketCallback;
    use kie_proto::webhook::WebhookVerifier;
    let key = "example-webhook-hmac-key";
    let (driver, emulator) = jobs_client::<D>(JobSettings {
        webhook_key: Some(key.to_owned()),
        callback_duplicate: true,
        ..JobSettings::quick()
    });
    let verifier = WebhookVerifier::new(key).unwrap();
    for stale in [false, true] {
        if stale {
            emulator
                .update_jobs(|jobs| jobs.callback_signature = kie_tests::CallbackSignature::Stale);
        }
        let (url, received) = callback_receiver(2);
        let create = create("x").with_callback_url(&url).unwrap();
        let task = driver.create_task(&create).unwrap();
        let deliveries = received.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(deliveries.len(), 2);
        assert_eq!(
            deliveries[0].1, deliveries[1].1,
            "a duplicate is the same body"
        );
        let (headers, body) = &deliveries[0];
        let verified = verifier.verify(headers, body, emulator.now());
        assert_eq!(verified.is_err(), stale, "{verified:?}");
        if !stale {
            assert_eq!(verified.unwrap().task_id, task.id());
            // The body is a hint: confirmed with get_task before acting on it.
            let callback = MarketCallback::parse(body).unwrap();
            let record = driver.get_task(&task).unwrap();
            assert_eq!(callback.record.view().status, record.view().status);
            assert_eq!(callback.record.view().assets, record.view().assets);
        }
    }
}

/// A request the receiver got: its headers and body.
type Delivery = (kie_proto::http::HeaderMap, Vec<u8>);

/// Accepts `n` requests on a loopback port and sends their headers and bodies.
fn callback_receiver(n: usize) -> (String, std::sync::mpsc::Receiver<Vec<Delivery>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/cb", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut got = Vec::new();
        for stream in listener.incoming().take(n) {
            let mut stream = stream.unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 8192];
            let (head_end, len) = loop {
                let read = stream.read(&mut buf).unwrap();
                raw.extend_from_slice(&buf[..read]);
                if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap();
                    break (end, len);
                }
            };
            while raw.len() < head_end + 4 + len {
                let read = stream.read(&mut buf).unwrap();
                raw.extend_from_slice(&buf[..read]);
            }
            let mut headers = kie_proto::http::HeaderMap::new();
            for line in String::from_utf8_lossy(&raw[..head_end]).lines().skip(1) {
                let (name, value) = line.split_once(':').unwrap();
                headers.insert(
                    kie_proto::http::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
                    value.trim().parse().unwrap(),
                );
            }
            got.push((headers, raw[head_end + 4..head_end + 4 + len].to_vec()));
            let ack = kie_proto::task::callback_ack();
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                ack.body().len()
            );
            stream.write_all(answer.as_bytes()).unwrap();
            stream.write_all(ack.body()).unwrap();
        }
        let _ = tx.send(got);
    });
    (url, rx)
}

/// Stopping a wait (the cancel flag) stops polling at once and names the task, which goes
/// on: a later get sees it finish.
pub fn jobs_cancelled_wait_leaves_the_task_running<D: Driver>() {
    let (driver, _emulator) = jobs_client::<D>(JobSettings {
        stage_durations: [Duration::ZERO, Duration::ZERO, Duration::from_millis(1500)],
        ..JobSettings::quick()
    });
    let task = driver.create_task(&create("x")).unwrap();
    let options = quick_wait();
    let flag = options.cancel_flag().clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        flag.cancel();
    });
    let started = Instant::now();
    let error = driver.wait_task(&task, &options).unwrap_err();
    // Ended by the cancel (at 150 ms), long before the task's 1.5 s.
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(&error, Error::TaskWait { task: t, may_finish: true, .. } if *t == task.to_string()),
        "{error:?}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        driver.get_task(&task).unwrap().view().status,
        TaskStatus::Succeeded
    );
}

/// A second family through the same methods: a Veo 3.1 video from a local image
/// (`prepare_input` into `imageUrls`), created, waited for (the caller's quick policy; Veo's
/// own is every 30 s), its video downloaded byte-exact, its record read by the saved
/// reference, then its 1080p version waited for through the "processing" answers.
pub fn jobs_veo_from_image_to_1080p<D: Driver>() {
    use kie_proto::task::veo::{Veo1080pWait, VeoGenerate};
    use kie_proto::task::{Family, TaskRecord, TaskRef};
    let (driver, emulator) = jobs_client::<D>(JobSettings {
        veo_upgrade_delay: Duration::from_millis(600),
        ..JobSettings::quick()
    });
    let input = TaskInput::new(json!({"prompt": "a cat surfing", "model": "veo3_fast"}))
        .unwrap()
        .bytes("imageUrls", "first.png", png());
    let fields = driver
        .prepare_input(&input, &UploadOptions::new("inputs"))
        .unwrap();
    let create = VeoGenerate::from_fields(fields).unwrap();
    let view = driver.run(&create.into(), &quick_wait()).unwrap();
    assert_eq!(view.task.family(), Family::Veo);
    assert_eq!(view.status, TaskStatus::Succeeded);
    assert_eq!(view.model.as_deref(), Some("veo3_fast"));
    let video = &view.assets[0].url;
    let bytes = driver.download_result(video).unwrap();
    assert_eq!(&bytes[4..8], b"ftyp");
    // A saved reference resumes at Veo's own endpoint.
    let saved: TaskRef = view.task.to_string().parse().unwrap();
    let record = driver.get_task(&saved).unwrap();
    assert!(matches!(record, TaskRecord::Veo(_)), "{record:?}");
    assert_eq!(record.view().assets, view.assets);
    // 1080p: "processing" at first, waited through with the caller's spacing.
    let wait = Veo1080pWait::default()
        .with_spacing(Duration::from_millis(100), Duration::from_millis(150))
        .with_deadline(Duration::from_secs(10));
    let urls = driver.veo_1080p(&view.task, Some(0), &wait).unwrap();
    assert_eq!(urls.len(), 1);
    assert!(driver.download_result(&urls[0]).unwrap().len() > 8);
    let asked = requests_to(&emulator, Route::Veo1080p).len();
    assert!(
        asked >= 2,
        "asked {asked} times: at least one 'processing' answer"
    );
    assert_eq!(requests_to(&emulator, Route::VeoGenerate).len(), 1);

    // A 1080p video that is not ready by the deadline: the wait says it may still come.
    emulator.update_jobs(|jobs| jobs.veo_upgrade_delay = Duration::from_secs(3600));
    let task = driver
        .create_task(&VeoGenerate::new("again").unwrap().into())
        .unwrap();
    driver.wait_task(&task, &quick_wait()).unwrap();
    let wait = wait.with_deadline(Duration::from_millis(400));
    match driver.veo_1080p(&task, None, &wait).unwrap_err() {
        Error::TaskWait {
            may_finish, reason, ..
        } => {
            assert!(may_finish);
            assert!(reason.contains("1080p"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // A failed-upstream Veo task is worth running again.
    let failed = driver
        .run(
            &VeoGenerate::new("#fail-upstream").unwrap().into(),
            &quick_wait(),
        )
        .unwrap();
    assert!(
        matches!(
            failed.status,
            TaskStatus::Failed {
                recreate_may_help: true,
                ..
            }
        ),
        "{:?}",
        failed.status
    );
}
