//! Scenarios: faults, with retries on and off

use super::*;

/// Runs `scenario` once with retries and once without, each against a fresh emulator with
/// `fault` queued once on the stream upload route. Returns nothing; checks the common
/// invariant: at most one stored copy per upload.
pub fn with_fault<D: Driver>(
    fault: Fault,
    settings: Settings,
    check_retried: impl Fn(&Emulator, Result<UploadResult, Error>, Duration),
    check_failed: impl Fn(&Emulator, Error, Duration),
) {
    let data = content(1 << 20, 99);
    for retry in [true, false] {
        let emulator = Emulator::start();
        let settings = Settings {
            retry: if retry {
                settings.retry
            } else {
                RetryPolicy::never()
            },
            ..settings.clone()
        };
        let driver: D = client(&emulator, &settings);
        emulator.faults().push(Route::StreamUpload, fault.clone());
        let started = Instant::now();
        let result = driver.upload_bytes(&data, &UploadOptions::new("faults").file_name("f.bin"));
        let elapsed = started.elapsed();
        let stored = at_most_one_stored(&emulator);
        if retry {
            let result = result.inspect(|r| assert_downloads(r, &data));
            check_retried(&emulator, result, elapsed);
            assert!(stored.is_some(), "nothing stored after a successful retry");
        } else {
            let error = result.expect_err("no retries: the fault must surface");
            assert_eq!(
                requests_to(&emulator, Route::StreamUpload).len(),
                1,
                "retried although retries are off"
            );
            check_failed(&emulator, error, elapsed);
        }
    }
}

pub fn stream_requests(emulator: &Emulator) -> usize {
    requests_to(emulator, Route::StreamUpload).len()
}

/// 429 with `Retry-After: 1`: the retry waits that second; without retries the error
/// carries the `Retry-After`.
pub fn rate_limit_retry_after_is_honoured<D: Driver>() {
    with_fault::<D>(
        Fault::rate_limited(Some(1)),
        Settings::default(),
        |emulator, result, elapsed| {
            result.unwrap();
            assert_eq!(stream_requests(emulator), 2);
            assert!(elapsed >= Duration::from_secs(1), "waited only {elapsed:?}");
            assert!(elapsed < Duration::from_secs(4), "waited {elapsed:?}");
        },
        |_, error, elapsed| {
            let api = error.api_error().unwrap();
            assert_eq!(api.kind, ErrorKind::RateLimited);
            assert_eq!(
                api.retry_after,
                Some(RetryAfter::Delay(Duration::from_secs(1)))
            );
            assert!(elapsed < Duration::from_secs(1));
        },
    );
    // Retry-After beyond the policy's limit: the driver gives up at once instead of waiting.
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    emulator
        .faults()
        .push(Route::Credits, Fault::rate_limited(Some(3600)));
    let started = Instant::now();
    let error = driver.credits().unwrap_err();
    assert_eq!(api_kind(&error), Some(ErrorKind::RateLimited));
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// 455 maintenance (HTTP 455 and HTTP 200 flavours) is retried.
pub fn maintenance_455<D: Driver>() {
    for fault in [
        Fault::maintenance_455(),
        Fault::json(
            200,
            json!({"code": 455, "msg": "maintenance", "data": null}),
        ),
    ] {
        with_fault::<D>(
            fault,
            Settings::default(),
            |emulator, result, _| {
                result.unwrap();
                assert_eq!(stream_requests(emulator), 2);
            },
            |_, error, _| assert_eq!(api_kind(&error), Some(ErrorKind::Maintenance)),
        );
    }
}

/// A JSON 500 and a proxy's HTML 502 are retried; without retries they are reported with
/// their status (and the HTML is recognised as not KIE.AI's JSON).
pub fn server_errors_500_and_502_html<D: Driver>() {
    with_fault::<D>(
        Fault::internal_error_500(),
        Settings::default(),
        |emulator, result, _| {
            result.unwrap();
            assert_eq!(stream_requests(emulator), 2);
        },
        |_, error, _| {
            let api = error.api_error().unwrap();
            assert_eq!((api.kind, api.status.as_u16()), (ErrorKind::Server, 500));
        },
    );
    with_fault::<D>(
        Fault::html(502),
        Settings::default(),
        |emulator, result, _| {
            result.unwrap();
            assert_eq!(stream_requests(emulator), 2);
        },
        |_, error, _| {
            let api = error.api_error().unwrap();
            assert_eq!((api.kind, api.status.as_u16()), (ErrorKind::NotJson, 502));
            assert!(api.body_excerpt.as_deref().unwrap().contains("Bad Gateway"));
        },
    );
}

/// `success:false` with code 500 at HTTP 200 is a server error, retried.
pub fn success_false_at_http_200<D: Driver>() {
    with_fault::<D>(
        Fault::success_false_200(),
        Settings::default(),
        |emulator, result, _| {
            result.unwrap();
            assert_eq!(stream_requests(emulator), 2);
        },
        |_, error, _| {
            let api = error.api_error().unwrap();
            assert_eq!((api.kind, api.status.as_u16()), (ErrorKind::Server, 200));
        },
    );
}

/// The connection drops after 256 KiB of a 1 MiB body: retried from the start; without
/// retries a `ConnectionLost` after 1 attempt. Nothing partial is stored.
pub fn connection_dropped_mid_upload<D: Driver>() {
    with_fault::<D>(
        Fault::DropAfterBytes(256 << 10),
        Settings::default(),
        |emulator, result, _| {
            result.unwrap();
            assert_eq!(stream_requests(emulator), 2);
            assert_eq!(emulator.stored_files()[0].writes, 1);
        },
        |emulator, error, _| {
            assert_eq!(
                transport_kind(&error),
                Some((TransportFailure::ConnectionLost, 1)),
                "{error:?}"
            );
            assert!(emulator.stored_files().is_empty());
        },
    );
}

/// The connection closes before the body is read.
pub fn connection_dropped_before_read<D: Driver>() {
    with_fault::<D>(
        Fault::DropBeforeRead,
        Settings::default(),
        |emulator, result, _| {
            result.unwrap();
            assert_eq!(stream_requests(emulator), 2);
        },
        |emulator, error, _| {
            assert_eq!(
                transport_kind(&error),
                Some((TransportFailure::ConnectionLost, 1)),
                "{error:?}"
            );
            assert!(emulator.stored_files().is_empty());
        },
    );
}

/// The answer is cut mid-body after the upload was stored: the retry overwrites the same
/// name, so there is still exactly one copy (written twice).
pub fn truncated_response<D: Driver>() {
    with_fault::<D>(
        Fault::TruncatedResponse,
        Settings::default(),
        |emulator, result, _| {
            result.unwrap();
            assert_eq!(stream_requests(emulator), 2);
            assert_eq!(emulator.stored_files()[0].writes, 2);
        },
        |emulator, error, _| {
            assert_eq!(
                transport_kind(&error),
                Some((TransportFailure::ConnectionLost, 1)),
                "{error:?}"
            );
            assert_eq!(emulator.stored_files().len(), 1);
        },
    );
}

/// A result download cut half-way (3 MiB announced, the connection closed after half) is
/// fetched again from the start into the same file, which then holds exactly the content:
/// nothing of the cut attempt is left, nothing is written twice.
pub fn result_download_cut_then_written_again<D: Driver>() {
    let data = content(3 << 20, 41);
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let stored = driver
        .upload_bytes(&data, &UploadOptions::new("faults").file_name("r.bin"))
        .unwrap();
    emulator
        .faults()
        .push(Route::Files, Fault::TruncatedResponse);
    let dir = TempDir::new("cut-download");
    let path = dir.path().join("r.bin");
    let written = driver
        .download_result_to(&stored.download_url, &path)
        .unwrap();
    assert_eq!(written, data.len() as u64);
    assert!(
        std::fs::read(&path).unwrap() == data,
        "the file differs from the content"
    );
    assert_eq!(
        emulator.faults().remaining(Route::Files),
        0,
        "the cut was not served"
    );
    let downloads = emulator
        .requests()
        .into_iter()
        .filter(|r| r.host == Host::Files)
        .count();
    assert_eq!(downloads, 2);
}

pub const IDLE: Duration = Duration::from_millis(300);
pub const SLACK: Duration = Duration::from_millis(1500);

pub fn idle_settings() -> Settings {
    Settings {
        read_timeout: Some(IDLE),
        ..Settings::default()
    }
}

pub fn assert_timed_out(error: &Error, elapsed: Duration, bound: Duration) {
    assert_eq!(
        transport_kind(error),
        Some((TransportFailure::Timeout, 1)),
        "{error:?}"
    );
    assert!(
        elapsed >= bound,
        "timed out after {elapsed:?}, before {bound:?}"
    );
    assert!(
        elapsed < bound + SLACK,
        "timed out after {elapsed:?}, bound {bound:?}"
    );
}

/// Headers arrive, then the body stalls: the idle timeout fires within its bound plus
/// slack; a retry succeeds (and overwrites the copy stored by the stalled attempt).
pub fn stalled_response_body<D: Driver>() {
    with_fault::<D>(
        Fault::StallResponse(Duration::from_secs(5)),
        idle_settings(),
        |emulator, result, elapsed| {
            result.unwrap();
            assert_eq!(stream_requests(emulator), 2);
            assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
        },
        |_, error, elapsed| assert_timed_out(&error, elapsed, IDLE),
    );
}

/// The server stores the upload, then waits before answering at all.
pub fn stalled_response_headers<D: Driver>() {
    with_fault::<D>(
        Fault::StallBeforeHeaders(Duration::from_secs(5)),
        idle_settings(),
        |emulator, result, _| {
            result.unwrap();
            assert_eq!(stream_requests(emulator), 2);
            assert_eq!(emulator.stored_files()[0].writes, 2);
        },
        |_, error, elapsed| assert_timed_out(&error, elapsed, IDLE),
    );
}

/// The overall per-attempt timeout fires even while the connection is not idle long
/// enough for the idle timeout.
pub fn overall_timeout<D: Driver>() {
    let emulator = Emulator::start();
    let settings = Settings {
        timeout: Some(Duration::from_millis(400)),
        read_timeout: Some(Duration::from_secs(5)),
        ..Settings::no_retries()
    };
    let driver: D = client(&emulator, &settings);
    emulator
        .faults()
        .push(Route::Credits, Fault::Delay(Duration::from_secs(3)));
    let started = Instant::now();
    let error = driver.credits().unwrap_err();
    assert_timed_out(&error, started.elapsed(), Duration::from_millis(400));
}

/// Nothing listens: `Connect`, retried up to the policy's attempts.
pub fn connect_failure<D: Driver>() {
    let emulator = Emulator::start();
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let settings = Settings {
        upload_base_url: Some(dead.clone()),
        api_base_url: Some(dead),
        ..Settings::default()
    };
    let driver: D = client(&emulator, &settings);
    let error = driver
        .upload_bytes(b"x", &UploadOptions::new("dead"))
        .unwrap_err();
    assert_eq!(
        transport_kind(&error),
        Some((TransportFailure::Connect, 3)),
        "{error:?}"
    );
    assert!(error.to_string().contains("after 3 attempts"), "{error}");
    let error = driver.credits().unwrap_err();
    assert_eq!(transport_kind(&error), Some((TransportFailure::Connect, 3)));
    assert_nothing_sent(&emulator);
}

/// A one-shot reader that failed after sending bytes is not retried: `NotRewindable`,
/// holding the transport failure.
pub fn non_rewindable_reader<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    emulator
        .faults()
        .push(Route::StreamUpload, Fault::DropAfterBytes(256 << 10));
    let data = content(4 << 20, 3);
    let error = driver
        .upload_reader(
            Box::new(std::io::Cursor::new(data)),
            4 << 20,
            &UploadOptions::new("reader").file_name("r.bin"),
        )
        .unwrap_err();
    match &error {
        Error::NotRewindable {
            attempts,
            transport,
            source,
        } => assert_eq!(
            (*transport, *attempts),
            (Some(TransportFailure::ConnectionLost), 1),
            "{source:?}"
        ),
        other => panic!("expected NotRewindable, got {other:?}"),
    }
    assert!(error.to_string().contains("cannot be rewound"), "{error}");
    assert_eq!(stream_requests(&emulator), 1);
    assert!(emulator.stored_files().is_empty());

    // A refusal the policy would not retry anyway is reported as it is.
    emulator.faults().push(
        Route::StreamUpload,
        Fault::json(400, json!({"success": false, "code": 400, "msg": "bad"})),
    );
    let error = driver
        .upload_reader(
            Box::new(std::io::Cursor::new(content(100_000, 4))),
            100_000,
            &UploadOptions::new("reader"),
        )
        .unwrap_err();
    assert_eq!(api_kind(&error), Some(ErrorKind::BadRequest));
    assert!(matches!(error, Error::Api { .. }));
}

/// A reader no longer than the detection window is held whole, so it is retried.
pub fn small_reader_is_retried<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    emulator
        .faults()
        .push(Route::StreamUpload, Fault::internal_error_500());
    let data = content(4000, 8);
    let r = driver
        .upload_reader(
            Box::new(std::io::Cursor::new(data.clone())),
            4000,
            &UploadOptions::new("reader").file_name("small.bin"),
        )
        .unwrap();
    assert_downloads(&r, &data);
    assert_eq!(stream_requests(&emulator), 2);
}

/// A source shorter or longer than declared is `ContentLength`; nothing is stored. A short
/// source noticed before sending sends nothing at all.
pub fn content_length_mismatch<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let options = UploadOptions::new("len").file_name("l.bin");
    let cases: [(usize, u64); 3] = [(100, 200), (1 << 20, (1 << 20) + 10), (1 << 20, 500_000)];
    for (actual, declared) in cases {
        let error = driver
            .upload_reader(
                Box::new(std::io::Cursor::new(content(actual, 1))),
                declared,
                &options,
            )
            .unwrap_err();
        match &error {
            Error::ContentLength(m) => {
                assert_eq!(m.declared, declared);
                assert_eq!(m.at_least, actual as u64 > declared, "{m:?}");
            }
            other => panic!("({actual}, {declared}): expected ContentLength, got {other:?}"),
        }
    }
    // The first case was noticed before anything was sent; the others were not retried.
    wait_for(&emulator, Route::StreamUpload, 2);
    assert_eq!(stream_requests(&emulator), 2);
    assert!(emulator.stored_files().is_empty());
}
