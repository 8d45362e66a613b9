//! Scenarios: generation tasks (Market) against the emulator's task engine — create, wait,
//! download, and every way a task or a call can go wrong.

use super::*;
use kie_proto::task::{CreateTask, PollPolicy, TaskInput, TaskStatus, WaitOptions};
use kie_tests::JobSettings;

/// Task stages of a few hundred milliseconds.
fn quick_jobs() -> JobSettings {
    JobSettings {
        stage_durations: [
            Duration::from_millis(50),
            Duration::from_millis(50),
            Duration::from_millis(200),
        ],
        ..JobSettings::default()
    }
}

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

fn create(prompt: &str) -> CreateTask {
    CreateTask::new("google/nano-banana", json!({"prompt": prompt})).unwrap()
}

/// The whole path: a local file uploaded into the input (`prepare_input`), the task created
/// and waited for with progress reports, its result downloaded byte-exact (into memory and
/// into a file), never with the API key.
pub fn jobs_upload_run_download<D: Driver>() {
    let (driver, emulator) = jobs_client::<D>(quick_jobs());
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
    let view = driver.run(&create, &options).unwrap();
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
    let (driver, _emulator) = jobs_client::<D>(quick_jobs());
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
        ..quick_jobs()
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
    let (driver, _emulator) = jobs_client::<D>(quick_jobs());
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
    let (driver, emulator) = jobs_client::<D>(quick_jobs());
    emulator
        .faults()
        .push(Route::CreateTask, Fault::rate_limited(None));
    let task = driver.create_task(&create("x")).unwrap();
    let creates = requests_to(&emulator, Route::CreateTask);
    assert_eq!(creates.len(), 2, "refused once, then created");
    let record = driver.get_task(&task).unwrap();
    assert_eq!(record.task, task);
}

/// A create whose answer is lost after the service took it is **not** sent again (a second
/// paid task): exactly one create reached the emulator, and the error says the task may
/// exist. A 502 page from a proxy is treated the same.
pub fn jobs_create_answer_lost_is_not_sent_again<D: Driver>() {
    let (driver, emulator) = jobs_client::<D>(quick_jobs());
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
    let (driver, emulator) = jobs_client::<D>(quick_jobs());
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
            &CreateTask::new("google/nano-banana-edit", input).unwrap(),
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
    let (driver, emulator) = jobs_client::<D>(quick_jobs());
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
    let (driver, emulator) = jobs_client::<D>(quick_jobs());
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
