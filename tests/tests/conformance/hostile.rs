//! Scenarios: a hostile network peer (raw sockets, kie_tests::hostile). Each one is a row of
//! the README's worst-case-time table, with sub-second to 2 s limits instead of the
//! defaults; every configured limit must hold to within `SLACK`.

use super::*;

/// A client of the hostile `peer` (both base URLs point at it).
pub fn hostile_client<D: Driver>(peer: &HostilePeer, settings: Settings) -> (D, Emulator) {
    let emulator = Emulator::start();
    let settings = Settings {
        upload_base_url: Some(peer.base_url()),
        api_base_url: Some(peer.base_url()),
        ..settings
    };
    (client(&emulator, &settings), emulator)
}

/// The budget rule that ended a call, from the source of its `Transport` error.
pub fn timeout_reason(error: &Error) -> Option<TimeoutReason> {
    match error {
        Error::Transport { source, .. } => source.downcast_ref::<TimeoutReason>().copied(),
        _ => None,
    }
}

/// `error` is a timeout after `attempts` attempts, by `reason`, reported between `bound` and
/// `bound + SLACK` after the call started.
pub fn assert_cut(
    error: &Error,
    attempts: u32,
    reason: TimeoutReason,
    elapsed: Duration,
    bound: Duration,
) {
    assert_eq!(
        transport_kind(error),
        Some((TransportFailure::Timeout, attempts)),
        "{error:?}"
    );
    assert_eq!(timeout_reason(error), Some(reason), "{error:?}");
    assert!(elapsed >= bound, "cut after {elapsed:?}, before {bound:?}");
    assert!(
        elapsed < bound + SLACK,
        "cut after {elapsed:?}, bound {bound:?} (+{SLACK:?})"
    );
}

/// A successful upload answer for a file of `file_size` bytes (the client checks the size).
pub fn upload_answer(file_size: u64) -> Vec<u8> {
    Behaviour::json(
        200,
        &format!(
            r#"{{"success":true,"code":200,"msg":"ok","data":{{"fileName":"h.bin","downloadUrl":"https://files.example/h.bin","fileSize":{file_size}}}}}"#
        ),
    )
}

pub fn credits_answer() -> Vec<u8> {
    Behaviour::json(200, r#"{"code":200,"msg":"success","data":100}"#)
}

pub fn tight(read_timeout: Duration) -> Settings {
    Settings {
        read_timeout: Some(read_timeout),
        ..Settings::no_retries()
    }
}

/// The server reads the request and never answers: the idle limit ends the call (credits
/// and an upload alike) as a wait for the answer's head; with retries, each attempt gets
/// the full limit.
pub fn hostile_stall_before_headers<D: Driver>() {
    let peer = HostilePeer::start(Behaviour::StallBeforeHeaders);
    let (driver, _emulator) = hostile_client::<D>(&peer, tight(IDLE));
    let started = Instant::now();
    let error = driver.credits().unwrap_err();
    assert_cut(
        &error,
        1,
        TimeoutReason::AnswerHead { limit: IDLE },
        started.elapsed(),
        IDLE,
    );
    let started = Instant::now();
    let error = driver
        .upload_bytes(
            &content(64 << 10, 1),
            &UploadOptions::new("h").file_name("h.bin"),
        )
        .unwrap_err();
    assert_cut(
        &error,
        1,
        TimeoutReason::AnswerHead { limit: IDLE },
        started.elapsed(),
        IDLE,
    );
    let retrying = Settings {
        read_timeout: Some(IDLE),
        ..Settings::default()
    };
    let (driver, _emulator) = hostile_client::<D>(&peer, retrying);
    let before = peer.connections().len();
    let started = Instant::now();
    let error = driver.credits().unwrap_err();
    assert_cut(
        &error,
        3,
        TimeoutReason::AnswerHead { limit: IDLE },
        started.elapsed(),
        IDLE * 3,
    );
    assert_eq!(peer.connections().len() - before, 3);
}

/// The answer's headers arrive, then its body stalls: the idle limit.
pub fn hostile_stall_after_headers<D: Driver>() {
    let peer = HostilePeer::start(Behaviour::StallAfterHeaders {
        head: Behaviour::json_head(200, 100),
    });
    let (driver, _emulator) = hostile_client::<D>(&peer, tight(IDLE));
    let started = Instant::now();
    let error = driver.credits().unwrap_err();
    assert_cut(
        &error,
        1,
        TimeoutReason::Idle { limit: IDLE },
        started.elapsed(),
        IDLE,
    );
}

/// The download of a verification stalls half-way (its server sends the head and 1 KiB of a
/// 64 KiB file, then nothing): the download runs under the call budget like any call, so it
/// ends at the idle limit with the budget's own reason — the same in both drivers — and,
/// with retries, is tried again (the storage host is only read).
pub fn hostile_verify_download_stalls<D: Driver>() {
    let data = content(64 << 10, 21);
    let mut partial = Behaviour::json_head(200, data.len())
        .into_iter()
        .collect::<Vec<u8>>();
    partial.extend_from_slice(&data[..1024]);
    let files = HostilePeer::start(Behaviour::StallAfterHeaders { head: partial });
    let answer = Behaviour::json(
        200,
        &format!(
            r#"{{"success":true,"code":200,"msg":"ok","data":{{"fileName":"v.bin","downloadUrl":"{}/v.bin","fileSize":{}}}}}"#,
            files.base_url(),
            data.len()
        ),
    );
    let api = HostilePeer::start(Behaviour::Answer(answer));
    for (retry, attempts) in [
        (RetryPolicy::never(), 1),
        (retries_on().with_max_attempts(2), 2),
    ] {
        let settings = Settings {
            retry,
            ..tight(IDLE)
        };
        let (driver, _emulator) = hostile_client::<D>(&api, settings);
        let started = Instant::now();
        let error = driver
            .upload_bytes(
                &data,
                &UploadOptions::new("h")
                    .file_name("v.bin")
                    .verify_download(true),
            )
            .unwrap_err();
        let bound = IDLE * attempts;
        assert_cut(
            &error,
            attempts,
            TimeoutReason::Idle { limit: IDLE },
            started.elapsed(),
            bound,
        );
    }
    assert_eq!(files.connections().len(), 3, "one download, then two");
}

/// A result download that stalls half-way ends at the idle limit with the budget's reason,
/// in both drivers (a download is a call under the budget like any other), and is tried
/// again from the start when the target can be rewound (a file).
pub fn hostile_result_download_stalls<D: Driver>() {
    let data = content(64 << 10, 22);
    let mut partial = Behaviour::json_head(200, data.len());
    partial.extend_from_slice(&data[..1024]);
    let files = HostilePeer::start(Behaviour::StallAfterHeaders { head: partial });
    let (driver, _emulator) = hostile_client::<D>(
        &files,
        Settings {
            retry: retries_on().with_max_attempts(2),
            ..tight(IDLE)
        },
    );
    let url = format!("{}/generated/r.png", files.base_url());
    let started = Instant::now();
    let error = driver.download_result(&url).unwrap_err();
    // Into memory: 1 KiB was written, so no second attempt.
    assert_cut(
        &error,
        1,
        TimeoutReason::Idle { limit: IDLE },
        started.elapsed(),
        IDLE,
    );
    let dir = TempDir::new("stall");
    let started = Instant::now();
    let error = driver
        .download_result_to(&url, &dir.path().join("r.png"))
        .unwrap_err();
    assert_cut(
        &error,
        2,
        TimeoutReason::Idle { limit: IDLE },
        started.elapsed(),
        IDLE * 2,
    );
    assert_eq!(files.connections().len(), 3);
}

/// The answer drips one byte every 100 ms (headers first): the idle limit never fires, the
/// answer limit does, and says so.
pub fn hostile_answer_drip<D: Driver>() {
    let peer = HostilePeer::start(Behaviour::DripAnswer {
        answer: credits_answer(),
        bytes: 1,
        every: Duration::from_millis(100),
    });
    let answer = Duration::from_secs(1);
    let settings = Settings {
        answer_timeout: Some(answer),
        ..tight(Duration::from_secs(5))
    };
    let (driver, _emulator) = hostile_client::<D>(&peer, settings);
    let started = Instant::now();
    let error = driver.credits().unwrap_err();
    assert_cut(
        &error,
        1,
        TimeoutReason::Answer { limit: answer },
        started.elapsed(),
        answer,
    );
    // The rule names itself in the error's source (whatever the Display convention).
    let source = std::error::Error::source(&error).map(ToString::to_string);
    assert!(
        source
            .as_deref()
            .is_some_and(|s| s.contains("answer timeout")),
        "{source:?}"
    );
}

/// The answer's head drips one byte every 100 ms, with an idle limit of 500 ms and an
/// answer limit of 2 s: a driver that sees header bytes keeps going until the answer limit;
/// one that does not ends at the idle limit and says the head was not complete, never that
/// nothing was received.
pub fn hostile_header_drip<D: Driver>() {
    let peer = HostilePeer::start(Behaviour::DripAnswer {
        answer: credits_answer(),
        bytes: 1,
        every: Duration::from_millis(100),
    });
    let (idle, answer) = (Duration::from_millis(500), Duration::from_secs(2));
    let settings = Settings {
        answer_timeout: Some(answer),
        ..tight(idle)
    };
    let (driver, _emulator) = hostile_client::<D>(&peer, settings);
    let started = Instant::now();
    let error = driver.credits().unwrap_err();
    let elapsed = started.elapsed();
    if D::SEES_HEADER_BYTES {
        assert_cut(
            &error,
            1,
            TimeoutReason::Answer { limit: answer },
            elapsed,
            answer,
        );
    } else {
        assert_cut(
            &error,
            1,
            TimeoutReason::AnswerHead { limit: idle },
            elapsed,
            idle,
        );
    }
}

/// The server accepts and never reads: the upload fills the socket buffers, then stalls;
/// the idle limit ends it on time (it once took up to 3x in kie-blocking).
pub fn hostile_blackhole_upload<D: Driver>() {
    let peer = HostilePeer::start(Behaviour::Blackhole);
    upload_is_cut_by_the_idle_limit::<D>(&peer);
    assert_eq!(peer.body_bytes_received(), 0);
}

/// The server reads 1 MiB of the body, then stops reading and never answers.
pub fn hostile_stop_reading_mid_body<D: Driver>() {
    let peer = HostilePeer::start(Behaviour::StopReading { after: 1 << 20 });
    upload_is_cut_by_the_idle_limit::<D>(&peer);
    assert_eq!(peer.body_bytes_received(), 1 << 20);
}

/// A 48 MiB upload to `peer` under a 700 ms idle limit ends in one attempt, on time, with
/// the idle rule named.
pub fn upload_is_cut_by_the_idle_limit<D: Driver>(peer: &HostilePeer) {
    let idle = Duration::from_millis(700);
    let (driver, _emulator) = hostile_client::<D>(peer, tight(idle));
    let data = content(48 << 20, 2);
    let started = Instant::now();
    let error = driver
        .upload_bytes(&data, &UploadOptions::new("h").file_name("h.bin"))
        .unwrap_err();
    assert_cut(
        &error,
        1,
        TimeoutReason::Idle { limit: idle },
        started.elapsed(),
        idle,
    );
}

/// The server reads the body at ~1 KB/s: never idle, but far below the low-speed limit
/// (64 KiB per second here), which cuts it within two windows.
pub fn hostile_drip_read_is_low_speed<D: Driver>() {
    let peer = HostilePeer::start(Behaviour::DripRead {
        bytes: 100,
        every: Duration::from_millis(100),
        answer: upload_answer(1),
    });
    let rule = kie_proto::LowSpeed {
        bytes: 64 << 10,
        window: Duration::from_secs(1),
    };
    let settings = Settings {
        low_speed_limit: Some((rule.bytes, rule.window)),
        ..tight(Duration::from_secs(5))
    };
    let (driver, _emulator) = hostile_client::<D>(&peer, settings);
    let data = content(48 << 20, 4);
    let started = Instant::now();
    let error = driver
        .upload_bytes(&data, &UploadOptions::new("h").file_name("h.bin"))
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(
        timeout_reason(&error),
        Some(TimeoutReason::LowSpeed { limit: rule }),
        "{error:?}"
    );
    assert!(elapsed >= rule.window, "{elapsed:?}");
    assert!(elapsed < rule.window * 2 + SLACK, "{elapsed:?}");
}

/// A slowly but steadily read upload (256 KiB every 10 ms, 1.3 s in all) under a low-speed
/// rule and a short idle limit completes: the rules cut stalls, not slowness. (The body is
/// larger than the loopback socket buffers, which the client fills at once: their content
/// must drain within the idle limit after the client's last write.)
pub fn hostile_slow_moving_upload_is_not_cut<D: Driver>() {
    let data = content(32 << 20, 5);
    // The answer reports the size sent: the upload completes, integrity check included.
    let peer = HostilePeer::start(Behaviour::DripRead {
        bytes: 256 << 10,
        every: Duration::from_millis(10),
        answer: upload_answer(data.len() as u64),
    });
    let settings = Settings {
        low_speed_limit: Some((64 << 10, Duration::from_millis(500))),
        ..tight(Duration::from_millis(500))
    };
    let (driver, _emulator) = hostile_client::<D>(&peer, settings);
    let uploaded = driver
        .upload_bytes(&data, &UploadOptions::new("h").file_name("h.bin"))
        .unwrap();
    assert_eq!(uploaded.download_url, "https://files.example/h.bin");
    assert_eq!(
        peer.body_bytes_received(),
        peer.connections()[0].content_length.unwrap()
    );
}

/// A small call against a server that never answers, with retries: the small-call limit
/// ends the whole call (attempts and waits included) at its setting.
pub fn hostile_small_call_deadline<D: Driver>() {
    let peer = HostilePeer::start(Behaviour::StallBeforeHeaders);
    let limit = Duration::from_millis(1000);
    let settings = Settings {
        read_timeout: Some(Duration::from_millis(400)),
        small_call_timeout: Some(limit),
        retry: retries_on().with_max_attempts(10),
        ..Settings::default()
    };
    let (driver, _emulator) = hostile_client::<D>(&peer, settings);
    let started = Instant::now();
    let error = driver.credits().unwrap_err();
    assert_cut(
        &error,
        3,
        TimeoutReason::SmallCall { limit },
        started.elapsed(),
        limit,
    );
    assert_eq!(peer.connections().len(), 3);
}

/// The largest progress `sent` reported, i.e. content bytes read from the source.
pub fn max_sent(log: &ProgressLog) -> u64 {
    log.reports().iter().map(|p| p.sent).max().unwrap_or(0)
}

/// The server reads 256 KiB of a 32 MiB body, answers 413 and closes with the rest unread,
/// gracefully (`linger`, as nginx does) or not (the kernel then resets the connection):
/// the driver returns the 413 after one attempt (retries on), without sending the rest of
/// the file. After a reset, see [`Driver::READS_AN_ANSWER_AFTER_A_RESET`].
pub fn hostile_early_413_then_reset<D: Driver>() {
    for close in [Close::Linger, Close::Reset] {
        let peer = HostilePeer::start(Behaviour::EarlyAnswer {
            after: 256 << 10,
            answer: Behaviour::payload_too_large(),
            close,
        });
        let (driver, _emulator) = hostile_client::<D>(&peer, Settings::default());
        let data = content(32 << 20, 6);
        let log = ProgressLog::default();
        let started = Instant::now();
        let error = driver
            .upload_bytes(
                &data,
                &log.options(UploadOptions::new("h").file_name("h.bin")),
            )
            .unwrap_err();
        let elapsed = started.elapsed();
        let connections = peer.connections();
        if close == Close::Reset {
            // The peer read 256 KiB per attempt, and the client pulled from its source only
            // what fit in the socket buffers. (A lingering peer reads whatever the client
            // sends until it reacts, at loopback speed: BENCHMARKS.md has those figures.)
            for connection in &connections {
                assert_eq!(connection.body_received, 256 << 10, "{connection:?}");
            }
            assert!(
                max_sent(&log) < data.len() as u64 / 2,
                "sent {} bytes",
                max_sent(&log)
            );
        }
        if close == Close::Reset && !D::READS_AN_ANSWER_AFTER_A_RESET {
            // Up to three attempts, each cut after 256 KiB.
            assert!(elapsed < Duration::from_secs(6), "{close:?}: {elapsed:?}");
            match error.api_error() {
                Some(api) => assert_eq!(api.status.as_u16(), 413),
                None => assert_eq!(
                    transport_kind(&error),
                    Some((TransportFailure::ConnectionLost, connections.len() as u32)),
                    "{error:?}"
                ),
            }
            continue;
        }
        assert!(elapsed < Duration::from_secs(2), "{close:?}: {elapsed:?}");
        let api = error
            .api_error()
            .unwrap_or_else(|| panic!("{close:?}: the 413 was lost: {error:?}"));
        assert_eq!(api.status.as_u16(), 413);
        assert!(!api.is_retryable());
        assert_eq!(
            connections.len(),
            1,
            "{close:?}: the refused body was sent again"
        );
    }
}

/// A server that refuses on the headers (nginx's `client_max_body_size`) and keeps the
/// connection open (nginx's lingering close): the 413 comes before any body byte is read,
/// after one attempt, without waiting for the server to close.
pub fn hostile_413_on_headers<D: Driver>() {
    for close in [Close::Linger, Close::Open] {
        let peer = HostilePeer::start(Behaviour::EarlyAnswer {
            after: 0,
            answer: Behaviour::payload_too_large(),
            close,
        });
        let (driver, _emulator) = hostile_client::<D>(&peer, Settings::default());
        let data = content(32 << 20, 7);
        let started = Instant::now();
        let error = driver
            .upload_bytes(&data, &UploadOptions::new("h").file_name("h.bin"))
            .unwrap_err();
        let elapsed = started.elapsed();
        assert_eq!(
            error.api_error().map(|a| a.status.as_u16()),
            Some(413),
            "{close:?}: {error:?}"
        );
        assert_eq!(
            peer.connections().len(),
            1,
            "the refused body was sent again"
        );
        assert!(elapsed < Duration::from_secs(2), "{close:?}: {elapsed:?}");
    }
}

/// The same refusal on the headers through TLS (the in-process TLS front before the peer,
/// which keeps the connection open as nginx does): the 413 the client holds as decrypted
/// bytes is read at once, not after the server gives up on the connection.
pub fn hostile_413_on_headers_over_tls<D: Driver>() {
    use kie_proto::TlsRoots;
    use kie_tests::tls_front::{CertKind, TestCa, TlsFront};

    let peer = HostilePeer::start(Behaviour::EarlyAnswer {
        after: 0,
        answer: Behaviour::payload_too_large(),
        close: Close::Open,
    });
    let ca = TestCa::generate("kie-rs hostile CA");
    let front = TlsFront::start(ca.issue(CertKind::Valid), peer.addr());
    let settings = Settings {
        upload_base_url: Some(front.base_url()),
        tls_roots: Some(TlsRoots::Only(vec![ca.der()])),
        no_proxy: true,
        ..Settings::default()
    };
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &settings);
    let data = content(32 << 20, 8);
    let started = Instant::now();
    let error = driver
        .upload_bytes(&data, &UploadOptions::new("h").file_name("h.bin"))
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(
        api_kind(&error),
        Some(ErrorKind::PayloadTooLarge),
        "{error:?}"
    );
    assert_eq!(error.attempts(), Some(1), "{error:?}");
    assert_eq!(
        peer.connections().len(),
        1,
        "the refused body was sent again"
    );
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
pub const EARLY_HINTS: &[u8] =
    b"HTTP/1.1 103 Early Hints\r\nLink: </kie.css>; rel=preload; as=style\r\nLink: </kie.js>; rel=preload; as=script\r\n\r\n";
pub const PROCESSING: &[u8] = b"HTTP/1.1 102 Processing\r\n\r\n";

/// One interim-answer scenario: `len` bytes uploaded to a peer that sends `at_once`, `mid`
/// (after 256 KiB of the body) and `after_body` around the final answer, in `segment`-byte
/// writes when set. The upload completes on the first attempt, with the body byte-exact,
/// within 5 s (a client that takes an interim answer for the final one stops sending and
/// waits for its 20 s idle limit; it takes well under a second, the rest is room for a
/// loaded machine).
pub fn upload_through_interim<D: Driver>(
    name: &str,
    len: usize,
    (at_once, mid, after_body): (&[u8], &[u8], &[u8]),
    segment: Option<usize>,
) {
    let data = content(len, len as u64);
    let peer = HostilePeer::start(Behaviour::Interim {
        at_once: at_once.to_vec(),
        mid_after: 256 << 10,
        mid: mid.to_vec(),
        after_body: after_body.to_vec(),
        answer: upload_answer(data.len() as u64),
        segment,
    });
    let (driver, _emulator) = hostile_client::<D>(&peer, tight(Duration::from_secs(20)));
    let started = Instant::now();
    let uploaded = driver
        .upload_bytes(&data, &UploadOptions::new("h").file_name("h.bin"))
        .unwrap_or_else(|error| panic!("{name}: {error:?}"));
    let elapsed = started.elapsed();
    assert_eq!(
        uploaded.download_url, "https://files.example/h.bin",
        "{name}"
    );
    let connections = peer.connections();
    assert_eq!(connections.len(), 1, "{name}: sent again");
    let body = &connections[0].body;
    assert_eq!(
        body.len() as u64,
        connections[0].content_length.unwrap(),
        "{name}"
    );
    // The file part's content starts after its headers (it follows the uploadPath part).
    let file_part = body.windows(10).position(|w| w == b"filename=\"").unwrap();
    let start = file_part
        + body[file_part..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap()
        + 4;
    assert!(
        body[start..].starts_with(&data),
        "{name}: the content differs"
    );
    assert!(elapsed < Duration::from_secs(5), "{name}: took {elapsed:?}");
}

/// Interim (1xx) answers, as real servers send them, are read past (RFC 9110 §15.2): the
/// body keeps going and the answer is the first final status. A second `100 Continue`
/// while the body is under way (Werkzeug, Python's `http.server`); `103 Early Hints` with
/// `Link` headers then `100 Continue` (a CDN); an unasked `100` at once and a
/// `102 Processing` after the body (on a body too small for `Expect: 100-continue`); the
/// same split across TCP segments.
pub fn hostile_interim_answers<D: Driver>() {
    let werkzeug = [CONTINUE, CONTINUE].concat();
    let hints = [EARLY_HINTS, CONTINUE].concat();
    let three = 3 << 20;
    upload_through_interim::<D>(
        "second 100 mid-body",
        three,
        (CONTINUE, CONTINUE, b""),
        None,
    );
    upload_through_interim::<D>("103 then 100", three, (&hints, b"", b""), None);
    upload_through_interim::<D>(
        "103 and 102 everywhere",
        three,
        (&hints, EARLY_HINTS, PROCESSING),
        None,
    );
    upload_through_interim::<D>(
        "unasked 100, 102 after",
        512 << 10,
        (CONTINUE, b"", PROCESSING),
        None,
    );
    upload_through_interim::<D>("two 100s at once", three, (&werkzeug, b"", b""), None);
    upload_through_interim::<D>(
        "split 103 then 100",
        three,
        (&hints, CONTINUE, PROCESSING),
        Some(7),
    );
    upload_through_interim::<D>(
        "split, small",
        512 << 10,
        (&hints, b"", PROCESSING),
        Some(3),
    );
}

/// A `101 Switching Protocols` nobody asked for is a malformed answer: a transport failure
/// after one attempt, never a success or a hang.
pub fn hostile_unasked_switching_protocols<D: Driver>() {
    let answer =
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    let peer = HostilePeer::start(Behaviour::Answer(answer.to_vec()));
    let (driver, _emulator) = hostile_client::<D>(&peer, tight(Duration::from_secs(5)));
    let started = Instant::now();
    let error = driver.credits().unwrap_err();
    assert_eq!(
        transport_kind(&error),
        Some((TransportFailure::MalformedAnswer, 1)),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// Answers that are not HTTP: a transport failure (never a success, never a panic), quickly.
pub fn hostile_malformed_answers<D: Driver>() {
    let answers: [&[u8]; 4] = [
        b"HTTP/1.1 two hundred OK\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent Length: 2\r\nX:\x01\x02\r\n\r\n{}",
        b"\x00\x01\x02 garbage\r\n\r\n",
    ];
    for answer in answers {
        let peer = HostilePeer::start(Behaviour::Answer(answer.to_vec()));
        let (driver, _emulator) = hostile_client::<D>(&peer, tight(IDLE));
        let started = Instant::now();
        let result = driver.credits();
        assert!(started.elapsed() < IDLE + SLACK);
        match result {
            Err(Error::Transport { .. } | Error::Api { .. }) => {}
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(answer)),
        }
    }
}
