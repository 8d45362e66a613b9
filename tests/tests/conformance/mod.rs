//! The driver conformance suite: written once, run against every kie-rs driver, always
//! against the emulator over real sockets.
//!
//! A driver test file implements [`Driver`] (a small synchronous harness; an async driver
//! blocks on its runtime inside each method) and invokes [`conformance_suite!`], which
//! generates one `#[test]` per scenario:
//!
//! ```ignore
//! #[macro_use]
//! mod conformance;
//! struct Blocking(kie_blocking::Client);
//! impl conformance::Driver for Blocking { /* … */ }
//! conformance::conformance_suite!(Blocking);
//! ```
//!
//! Downloads are checked with a tiny HTTP/1.1 client written here over `TcpStream`, so the
//! check does not depend on any driver.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kie_proto::{
    Error, ErrorKind, IntegrityError, InvalidInput, Progress, RetryAfter, RetryPolicy,
    TimeoutReason, TransportFailure, UploadOptions, UploadResult,
};
use kie_tests::hostile::{Behaviour, Close, HostilePeer};
use kie_tests::{Emulator, ErrorStyle, Fault, Host, LoggedRequest, Route, StoredFile};
use serde_json::json;

// ---------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------

/// How a scenario wants its client configured. Every field maps to a builder method of
/// the same name in both drivers.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The API key; `None` uses the emulator's.
    pub key: Option<String>,
    /// Upload base URL; `None` uses the emulator's upload host.
    pub upload_base_url: Option<String>,
    /// API base URL; `None` uses the emulator's api host.
    pub api_base_url: Option<String>,
    /// The retry policy.
    pub retry: RetryPolicy,
    /// `connect_timeout`.
    pub connect_timeout: Option<Duration>,
    /// `timeout` (overall, per attempt).
    pub timeout: Option<Duration>,
    /// `read_timeout` (idle).
    pub read_timeout: Option<Duration>,
    /// `proxy(url)`.
    pub proxy: Option<String>,
    /// `no_proxy()`.
    pub no_proxy: bool,
    /// `http1_only()` (kie-async only: kie-blocking speaks HTTP/1.1 anyway).
    pub http1_only: bool,
    /// `tls_roots(…)`.
    pub tls_roots: Option<kie_proto::TlsRoots>,
    /// `answer_timeout`.
    pub answer_timeout: Option<Duration>,
    /// `low_speed_limit(bytes, window)`.
    pub low_speed_limit: Option<(u64, Duration)>,
    /// `small_call_timeout`.
    pub small_call_timeout: Option<Duration>,
}

impl Default for Settings {
    /// Retries on with tiny delays (3 attempts, 10 ms base), a 60 s idle timeout (an
    /// unoptimised emulator takes seconds to digest 64 MiB of base64).
    fn default() -> Self {
        Settings {
            key: None,
            upload_base_url: None,
            api_base_url: None,
            retry: retries_on(),
            connect_timeout: Some(Duration::from_secs(5)),
            timeout: None,
            read_timeout: Some(Duration::from_secs(60)),
            proxy: None,
            no_proxy: false,
            http1_only: false,
            tls_roots: None,
            answer_timeout: None,
            low_speed_limit: None,
            small_call_timeout: None,
        }
    }
}

impl Settings {
    /// The default settings without retries.
    pub fn no_retries() -> Self {
        Settings {
            retry: RetryPolicy::never(),
            ..Settings::default()
        }
    }

    /// The key to use with `emulator`.
    pub fn key_for<'a>(&'a self, emulator: &'a Emulator) -> &'a str {
        self.key.as_deref().unwrap_or_else(|| emulator.api_key())
    }

    /// The upload base URL to use with `emulator`.
    pub fn upload_base_url_for(&self, emulator: &Emulator) -> String {
        self.upload_base_url
            .clone()
            .unwrap_or_else(|| emulator.upload_base_url())
    }

    /// The API base URL to use with `emulator`.
    pub fn api_base_url_for(&self, emulator: &Emulator) -> String {
        self.api_base_url
            .clone()
            .unwrap_or_else(|| emulator.api_base_url())
    }
}

/// Retries on, with short delays so the suite stays fast.
pub fn retries_on() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(3)
        .with_base_delay(Duration::from_millis(10))
        .with_max_retry_after(Duration::from_secs(5))
}

/// One driver, seen synchronously. Every method forwards to the client method of the same
/// name.
pub trait Driver: Sized {
    /// Whether the driver reads an answer that arrived before the peer reset the
    /// connection while the request body was still going out. kie-blocking does (its TCP
    /// layer reads what is queued after the failed write); kie-async (hyper under reqwest)
    /// does only when it happened to read before the failed write, so there the scenario
    /// checks the weaker promise: bounded bytes per attempt, the 413 or a connection loss.
    const READS_AN_ANSWER_AFTER_A_RESET: bool;
    /// Whether the driver sees the answer's header bytes one by one (kie-blocking: its own
    /// TCP layer), so that they restart the idle timer; kie-async sees the head only once
    /// complete (reqwest hides the connection).
    const SEES_HEADER_BYTES: bool;
    /// Whether the driver negotiates HTTP/2 by ALPN with a server that offers it
    /// (kie-async by default; kie-blocking speaks HTTP/1.1 only).
    const NEGOTIATES_HTTP2: bool;
    /// Builds a client for `emulator` with `settings` (nothing is sent).
    fn connect(emulator: &Emulator, settings: &Settings) -> Result<Self, Error>;
    /// `upload_file`.
    fn upload_file(&self, path: &Path, options: &UploadOptions) -> Result<UploadResult, Error>;
    /// `upload_reader`.
    fn upload_reader(
        &self,
        reader: Box<dyn Read + Send>,
        len: u64,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error>;
    /// `upload_bytes`.
    fn upload_bytes(&self, bytes: &[u8], options: &UploadOptions) -> Result<UploadResult, Error>;
    /// `upload_base64_file`.
    fn upload_base64_file(
        &self,
        path: &Path,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error>;
    /// `upload_base64_bytes`.
    fn upload_base64_bytes(
        &self,
        bytes: &[u8],
        options: &UploadOptions,
    ) -> Result<UploadResult, Error>;
    /// `upload_url`.
    fn upload_url(&self, url: &str, options: &UploadOptions) -> Result<UploadResult, Error>;
    /// `credits`.
    fn credits(&self) -> Result<f64, Error>;
    /// `download_url`.
    fn download_url(&self, url: &str) -> Result<String, Error>;
    /// `format!("{client:?}")`.
    fn debug_of_client(&self) -> String;
}

/// Generates one `#[test]` per scenario for `$driver` (declare the module with
/// `#[macro_use] mod conformance;`).
macro_rules! conformance_suite {
    ($driver:ty) => {
        conformance_suite!(@tests $driver;
            happy_paths,
            round_trip_edge_sizes,
            large_file_stream,
            large_file_base64,
            hostile_file_names,
            generated_names_are_fixed_per_upload,
            progress_contract,
            error_codes_upload_host,
            error_codes_api_host,
            natural_refusals,
            rate_limit_retry_after_is_honoured,
            maintenance_455,
            server_errors_500_and_502_html,
            success_false_at_http_200,
            connection_dropped_mid_upload,
            connection_dropped_before_read,
            truncated_response,
            stalled_response_body,
            stalled_response_headers,
            overall_timeout,
            connect_failure,
            non_rewindable_reader,
            small_reader_is_retried,
            content_length_mismatch,
            bad_input_sends_nothing,
            bad_settings_send_nothing,
            key_never_printed,
            redirects_not_followed,
            wire_format,
            stored_size_is_checked,
            verify_download,
            url_upload_sends_the_normalised_url,
            payload_too_large_413,
            malformed_answers,
            tls_roots_chosen_on_the_builder,
            hostile_stall_before_headers,
            hostile_stall_after_headers,
            hostile_answer_drip,
            hostile_header_drip,
            hostile_blackhole_upload,
            hostile_stop_reading_mid_body,
            hostile_drip_read_is_low_speed,
            hostile_slow_moving_upload_is_not_cut,
            hostile_small_call_deadline,
            hostile_early_413_then_reset,
            hostile_413_on_headers,
            hostile_413_on_headers_over_tls,
            hostile_malformed_answers,
            hostile_interim_answers,
            hostile_unasked_switching_protocols,
            python_http_server,
            real_nginx_tls_front,
            real_nginx_body_limit,
            real_squid_tunnel,
        );
        /// TLS and proxies, in a child process whose `SSL_CERT_FILE` and `HTTPS_PROXY` are
        /// set for it (environment variables are global to a process).
        #[test]
        fn real_networks() {
            conformance::real_networks_in_child("real_networks_child");
        }
        #[test]
        #[ignore = "run by real_networks in a child process with its environment"]
        fn real_networks_child() {
            if conformance::is_real_networks_child() {
                conformance::real_networks::<$driver>();
            }
        }
    };
    (@tests $driver:ty; $($name:ident,)*) => {
        $(
            #[test]
            fn $name() {
                conformance::$name::<$driver>();
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn client<D: Driver>(emulator: &Emulator, settings: &Settings) -> D {
    D::connect(emulator, settings).expect("driver connects")
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("kie-conformance-{}-{tag}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `bytes` to `name` inside the directory.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic pseudo-random content.
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A 1x1 PNG.
pub fn png() -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
        .unwrap()
}

/// A plain HTTP/1.1 GET (no Authorization), written here so no driver is involved.
/// Returns the status and the body.
pub fn http_get(url: &str) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: conformance-check\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "files host answered chunked; extend http_get"
    );
    (status, raw[split + 4..].to_vec())
}

/// Downloads `result.download_url` and checks it byte for byte against `expected`.
fn assert_downloads(result: &UploadResult, expected: &[u8]) {
    let (status, body) = http_get(&result.download_url);
    assert_eq!(status, 200, "GET {}", result.download_url);
    assert!(
        body == expected,
        "downloaded {} bytes differ from the {} uploaded ({})",
        body.len(),
        expected.len(),
        result.download_url
    );
}

/// The requests the emulator logged for `route`.
fn requests_to(emulator: &Emulator, route: Route) -> Vec<LoggedRequest> {
    emulator
        .requests()
        .into_iter()
        .filter(|r| r.route == Some(route))
        .collect()
}

/// Waits (up to 2 s) until the emulator logged `n` requests to `route`: a client that
/// aborted a request may return before the emulator has even read its head.
fn wait_for(emulator: &Emulator, route: Route, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while requests_to(emulator, route).len() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Asserts that no request reached the emulator (after a short grace period, so that a
/// request in flight would have been logged).
fn assert_nothing_sent(emulator: &Emulator) {
    std::thread::sleep(Duration::from_millis(100));
    let requests = emulator.requests();
    assert!(
        requests.is_empty(),
        "requests reached the emulator: {requests:#?}"
    );
}

/// Checks that at most one copy is stored and returns it.
fn at_most_one_stored(emulator: &Emulator) -> Option<StoredFile> {
    let stored = emulator.stored_files();
    assert!(
        stored.len() <= 1,
        "expected at most one stored copy, found {:?}",
        stored.iter().map(|f| &f.path).collect::<Vec<_>>()
    );
    stored.into_iter().next()
}

/// The API error inside `error`.
fn api_kind(error: &Error) -> Option<ErrorKind> {
    error.api_error().map(|e| e.kind)
}

fn transport_kind(error: &Error) -> Option<(TransportFailure, u32)> {
    match error {
        Error::Transport { kind, attempts, .. } => Some((*kind, *attempts)),
        _ => None,
    }
}

/// Records every progress report.
#[derive(Clone, Default)]
struct ProgressLog(Arc<Mutex<Vec<Progress>>>);

impl ProgressLog {
    fn options(&self, options: UploadOptions) -> UploadOptions {
        let log = self.clone();
        options.on_progress(move |p| log.0.lock().unwrap().push(p))
    }

    fn reports(&self) -> Vec<Progress> {
        self.0.lock().unwrap().clone()
    }

    /// Checks the contract for an upload of `total` bytes that succeeded on its last
    /// attempt: within an attempt `sent` never decreases and grows by at most 1 MiB between
    /// reports; `total` is reached at most once per attempt and exactly once in the last;
    /// an attempt after the first starts with a visible `(0, total)`.
    fn assert_contract(&self, total: u64) -> u32 {
        const MIB: u64 = 1 << 20;
        let reports = self.reports();
        assert!(!reports.is_empty(), "no progress reported");
        let mut by_attempt: BTreeMap<u32, Vec<Progress>> = BTreeMap::new();
        let mut last_attempt = 0;
        for p in &reports {
            assert_eq!(p.total, total, "{p:?}");
            assert!(
                p.attempt >= last_attempt,
                "attempts go backwards: {reports:?}"
            );
            last_attempt = p.attempt;
            by_attempt.entry(p.attempt).or_default().push(*p);
        }
        for (attempt, reports) in &by_attempt {
            let mut previous = 0;
            for (i, p) in reports.iter().enumerate() {
                assert!(p.sent >= previous, "progress went backwards: {reports:?}");
                assert!(
                    p.sent - previous <= MIB || (i == 0 && p.sent <= MIB),
                    "gap over 1 MiB: {reports:?}"
                );
                previous = p.sent;
            }
            if *attempt > 1 && total > 0 {
                assert_eq!(reports[0].sent, 0, "retry does not restart visibly");
            }
            let totals = reports.iter().filter(|p| p.sent == total).count();
            assert!(
                totals <= 1,
                "total reported {totals} times in attempt {attempt}"
            );
        }
        let last = &by_attempt[&last_attempt];
        assert_eq!(
            last.iter().filter(|p| p.sent == total).count(),
            1,
            "total not reached exactly once in the last attempt: {last:?}"
        );
        assert_eq!(last.last().unwrap().sent, total);
        last_attempt
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios: happy paths and round trips
// ---------------------------------------------------------------------------------------

/// Every endpoint succeeds and every upload downloads back byte-exact, without the files
/// host ever seeing an `Authorization` header.
pub fn happy_paths<D: Driver>() {
    let emulator = Emulator::builder().credits(4.8).start();
    let driver: D = client(&emulator, &Settings::default());
    let dir = TempDir::new("happy");

    let bytes = content(10_000, 1);
    let r = driver
        .upload_bytes(
            &bytes,
            &UploadOptions::new("docs/bytes").file_name("bytes.bin"),
        )
        .unwrap();
    assert_eq!(r.file_name.as_deref(), Some("bytes.bin"));
    assert_eq!(r.file_size, Some(10_000));
    assert!(r.download_url.ends_with("/docs/bytes/bytes.bin"), "{r:?}");
    assert_downloads(&r, &bytes);

    let png = png();
    let path = dir.file("pixel.png", &png);
    let r = driver
        .upload_file(&path, &UploadOptions::new("images/user-uploads"))
        .unwrap();
    assert_eq!(r.mime_type.as_deref(), Some("image/png"));
    assert!(r.file_name.as_deref().unwrap().ends_with(".png"), "{r:?}");
    assert_downloads(&r, &png);

    let data = content(300_000, 2);
    let r = driver
        .upload_reader(
            Box::new(std::io::Cursor::new(data.clone())),
            data.len() as u64,
            &UploadOptions::new("docs/reader").file_name("reader.dat"),
        )
        .unwrap();
    assert_eq!(r.file_size, Some(300_000));
    assert_downloads(&r, &data);

    let r = driver
        .upload_base64_bytes(&png, &UploadOptions::new("images/base64"))
        .unwrap();
    assert_eq!(r.mime_type.as_deref(), Some("image/png"));
    assert_downloads(&r, &png);
    let fields = &requests_to(&emulator, Route::Base64Upload)[0].fields;
    assert!(fields.contains_key("base64Data"));

    let r = driver
        .upload_base64_bytes(
            &png,
            &UploadOptions::new("images/base64")
                .file_name("data-url.png")
                .data_url(true),
        )
        .unwrap();
    assert_eq!(r.file_name.as_deref(), Some("data-url.png"));
    assert_downloads(&r, &png);

    let text = b"plain text, base64 from a file".to_vec();
    let path = dir.file("note.txt", &text);
    let r = driver
        .upload_base64_file(&path, &UploadOptions::new("notes"))
        .unwrap();
    assert!(r.file_name.as_deref().unwrap().ends_with(".txt"), "{r:?}");
    assert_downloads(&r, &text);

    // URL upload: the emulator fetches a file it serves itself.
    let source = driver
        .upload_bytes(&bytes, &UploadOptions::new("src").file_name("remote.bin"))
        .unwrap();
    let r = driver
        .upload_url(
            &source.download_url,
            &UploadOptions::new("images/downloaded"),
        )
        .unwrap();
    assert_eq!(r.file_name.as_deref(), Some("remote.bin"));
    assert!(r.download_url.contains("/images/downloaded/"));
    assert_downloads(&r, &bytes);

    assert_eq!(driver.credits().unwrap(), 4.8);

    let generated = emulator.issue_generated_file(png.clone(), "image/png");
    let link = driver.download_url(&generated).unwrap();
    let (status, body) = http_get(&link);
    assert_eq!((status, body), (200, png.clone()));

    for request in emulator.requests() {
        match request.host {
            Host::Files => assert!(
                !request.has_authorization(),
                "Authorization sent to the files host: {request:?}"
            ),
            Host::Upload | Host::Api => {
                assert_eq!(request.header("authorization"), Some("Bearer [redacted]"));
                assert!((200..300).contains(&request.response_status), "{request:?}");
            }
        }
    }
}

/// Empty content, base64 padding lengths and a size just past a buffer boundary, through
/// both endpoints and all sources.
pub fn round_trip_edge_sizes<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let dir = TempDir::new("sizes");
    for (i, len) in [
        0usize,
        1,
        2,
        3,
        4,
        8191,
        8192,
        8193,
        65_536,
        65_537,
        (1 << 20) + 1,
    ]
    .into_iter()
    .enumerate()
    {
        let data = content(len, 10 + i as u64);
        let name = format!("size-{len}.bin");
        let options = UploadOptions::new("sizes").file_name(&name);
        let path = dir.file(&name, &data);
        let mut results = vec![
            driver.upload_bytes(&data, &options).unwrap(),
            driver.upload_file(&path, &options).unwrap(),
            driver
                .upload_reader(
                    Box::new(std::io::Cursor::new(data.clone())),
                    len as u64,
                    &options,
                )
                .unwrap(),
        ];
        // The service treats an empty `base64Data` as missing (400), so the SDK refuses
        // empty base64 content before sending; empty files go through the stream endpoint.
        if len > 0 {
            results.push(driver.upload_base64_bytes(&data, &options).unwrap());
            results.push(driver.upload_base64_file(&path, &options).unwrap());
        } else {
            let before = emulator.requests().len();
            for result in [
                driver.upload_base64_bytes(&data, &options),
                driver.upload_base64_file(&path, &options),
            ] {
                assert!(
                    matches!(
                        result,
                        Err(Error::InvalidInput(InvalidInput::Base64ContentEmpty))
                    ),
                    "{result:?}"
                );
            }
            assert_eq!(
                emulator.requests().len(),
                before,
                "empty base64 upload was sent"
            );
        }
        for r in &results {
            assert_eq!(r.file_size, Some(len as u64), "{r:?}");
            assert_downloads(r, &data);
        }
    }
    // Empty content without a name still gets one.
    let r = driver
        .upload_bytes(b"", &UploadOptions::new("sizes/empty"))
        .unwrap();
    assert_downloads(&r, b"");
}

const LARGE: usize = 64 << 20;

fn large_file<D: Driver>(base64: bool) {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let dir = TempDir::new("large");
    let data = content(LARGE, 64);
    let path = dir.file("large.bin", &data);
    let progress = ProgressLog::default();
    let options = progress.options(UploadOptions::new("videos").file_name("large.bin"));
    let r = if base64 {
        driver.upload_base64_file(&path, &options).unwrap()
    } else {
        driver.upload_file(&path, &options).unwrap()
    };
    assert_eq!(r.file_size, Some(LARGE as u64));
    assert_eq!(progress.assert_contract(LARGE as u64), 1);
    let route = if base64 {
        Route::Base64Upload
    } else {
        Route::StreamUpload
    };
    let request = &requests_to(&emulator, route)[0];
    let declared: u64 = request.header("content-length").unwrap().parse().unwrap();
    assert_eq!(declared, request.body_len);
    assert!(declared > LARGE as u64);
    assert_downloads(&r, &data);
}

/// A 64 MiB file through the stream endpoint, downloaded back byte-exact.
pub fn large_file_stream<D: Driver>() {
    large_file::<D>(false);
}

/// A 64 MiB file through the base64 endpoint, downloaded back byte-exact.
pub fn large_file_base64<D: Driver>() {
    large_file::<D>(true);
}

/// Names with quotes, `;`, emoji, non-Latin scripts, `%` and spaces survive both endpoints;
/// a source file whose own name is hostile is stored under a generated name.
pub fn hostile_file_names<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let dir = TempDir::new("names");
    let data = b"name test".to_vec();
    for name in [
        "say \"hi\".txt",
        "semi;colon=1.txt",
        "emoji 😀🎬.txt",
        "ünïcödé 名前 файл.txt",
        "percent%20and+plus.txt",
        "apos'trophe & amp.txt",
        "quote\"; filename=evil.sh",
        "trailing dot..txt",
    ] {
        for base64 in [false, true] {
            let options = UploadOptions::new("names/ü ber").file_name(name);
            let r = if base64 {
                driver.upload_base64_bytes(&data, &options)
            } else {
                driver.upload_bytes(&data, &options)
            }
            .unwrap_or_else(|e| panic!("{name:?}: {e}"));
            assert_eq!(r.file_name.as_deref(), Some(name));
            assert_downloads(&r, &data);
        }
    }
    let stored: Vec<String> = emulator
        .stored_files()
        .into_iter()
        .map(|f| f.file_name)
        .collect();
    assert_eq!(stored.len(), 8, "{stored:?}");

    // A hostile name on disk: the stored name is generated, with the extension kept.
    let path = dir.file("back\\slash;\"quote\" 😀.bin", &data);
    let r = driver
        .upload_file(&path, &UploadOptions::new("names"))
        .unwrap();
    let name = r.file_name.clone().unwrap();
    assert!(name.ends_with(".bin") && name.len() == 20, "{name}");
    assert_downloads(&r, &data);
}

/// Without a file name, each upload gets its own random name, and the multipart
/// `filename`, `fileName` field and stored name agree.
pub fn generated_names_are_fixed_per_upload<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let png = png();
    let a = driver
        .upload_bytes(&png, &UploadOptions::new("gen"))
        .unwrap();
    let b = driver
        .upload_bytes(&png, &UploadOptions::new("gen"))
        .unwrap();
    assert_ne!(a.file_name, b.file_name);
    for r in [&a, &b] {
        let name = r.file_name.as_deref().unwrap();
        assert!(name.ends_with(".png"), "{name}");
    }
    let logged = requests_to(&emulator, Route::StreamUpload);
    for (request, result) in logged.iter().zip([&a, &b]) {
        assert_eq!(
            request.fields.get("fileName").map(String::as_str),
            result.file_name.as_deref()
        );
        assert_eq!(
            request.fields.get("file.filename").map(String::as_str),
            result.file_name.as_deref()
        );
    }
    assert_eq!(emulator.stored_files().len(), 2);
}

/// Progress: monotonic, at least every MiB, total exactly once; a retry restarts at 0.
pub fn progress_contract<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let total = (7 << 19) as u64; // 3.5 MiB
    let data = content(total as usize, 5);

    for base64 in [false, true] {
        let progress = ProgressLog::default();
        let options = progress.options(UploadOptions::new("progress").file_name("p.bin"));
        if base64 {
            driver.upload_base64_bytes(&data, &options).unwrap();
        } else {
            driver.upload_bytes(&data, &options).unwrap();
        }
        assert_eq!(progress.assert_contract(total), 1);
    }

    // Empty content: one report of (0, 0).
    let progress = ProgressLog::default();
    driver
        .upload_bytes(b"", &progress.options(UploadOptions::new("progress")))
        .unwrap();
    let reports = progress.reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!((reports[0].sent, reports[0].total), (0, 0));

    // A retry after the connection dropped mid-body.
    emulator
        .faults()
        .push(Route::StreamUpload, Fault::DropAfterBytes(1 << 20));
    let progress = ProgressLog::default();
    let r = driver
        .upload_bytes(
            &data,
            &progress.options(UploadOptions::new("progress").file_name("r.bin")),
        )
        .unwrap();
    assert_eq!(progress.assert_contract(total), 2);
    assert_downloads(&r, &data);
}

// ---------------------------------------------------------------------------------------
// Scenarios: error codes
// ---------------------------------------------------------------------------------------

/// Every documented code; the kinds follow the code whichever error style carries it.
const CODES: [(u16, ErrorKind); 13] = [
    (400, ErrorKind::BadRequest),
    (401, ErrorKind::Unauthorized),
    (402, ErrorKind::InsufficientCredits),
    (404, ErrorKind::NotFound),
    (405, ErrorKind::MethodNotAllowed),
    (408, ErrorKind::Timeout),
    (422, ErrorKind::Validation),
    (429, ErrorKind::RateLimited),
    (433, ErrorKind::UsageLimitExceeded),
    (455, ErrorKind::Maintenance),
    (500, ErrorKind::Server),
    (501, ErrorKind::GenerationFailed),
    (505, ErrorKind::FeatureDisabled),
];

const STYLES: [ErrorStyle; 2] = [ErrorStyle::StatusEqualsCode, ErrorStyle::Http200WithCode];

/// Every code on each upload endpoint, in both error styles, without retries: one request
/// each, the right kind, the HTTP status and body code kept.
pub fn error_codes_upload_host<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::no_retries());
    let png = png();
    for style in STYLES {
        for (code, kind) in CODES {
            for route in [Route::StreamUpload, Route::Base64Upload, Route::UrlUpload] {
                let body =
                    json!({"success": false, "code": code, "msg": format!("emulated {code}")});
                emulator
                    .faults()
                    .push(route, Fault::json(style.status_for(code), body));
                let options = UploadOptions::new("errors").file_name("e.png");
                let before = emulator.requests().len();
                let error = match route {
                    Route::StreamUpload => driver.upload_bytes(&png, &options),
                    Route::Base64Upload => driver.upload_base64_bytes(&png, &options),
                    _ => driver.upload_url("http://127.0.0.1:9/x.png", &options),
                }
                .unwrap_err();
                let api = error.api_error().unwrap_or_else(|| panic!("{error:?}"));
                assert_eq!(api.kind, kind, "{style:?} {code} {route:?}: {error}");
                assert_eq!(api.code, Some(i64::from(code)));
                assert_eq!(api.status.as_u16(), style.status_for(code));
                assert_eq!(
                    emulator.requests().len(),
                    before + 1,
                    "retried without retries"
                );
            }
        }
    }
    assert!(emulator.stored_files().is_empty());
}

/// Every code on both Common API endpoints, in both error styles.
pub fn error_codes_api_host<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::no_retries());
    let generated = emulator.issue_generated_file(png(), "image/png");
    for style in STYLES {
        for (code, kind) in CODES {
            for route in [Route::Credits, Route::DownloadUrl] {
                let body = json!({"code": code, "msg": format!("emulated {code}"), "data": null});
                emulator
                    .faults()
                    .push(route, Fault::json(style.status_for(code), body));
                let error = match route {
                    Route::Credits => driver.credits().map(drop),
                    _ => driver.download_url(&generated).map(drop),
                }
                .unwrap_err();
                assert_eq!(api_kind(&error), Some(kind), "{style:?} {code}: {error}");
            }
        }
    }
    assert_eq!(emulator.requests().len(), 2 * 2 * CODES.len());
}

/// Refusals the emulator produces itself: a wrong key on every endpoint in both styles,
/// download-url of a URL KIE.AI did not generate, the CDN's user-agent refusal.
pub fn natural_refusals<D: Driver>() {
    let emulator = Emulator::start();
    let wrong = Settings {
        key: Some("sk-wrong-key".to_owned()),
        ..Settings::default()
    };
    let driver: D = client(&emulator, &wrong);
    let png = png();
    for style in STYLES {
        emulator.set_error_style(Host::Upload, style);
        emulator.set_error_style(Host::Api, style);
        let options = UploadOptions::new("auth");
        let errors = [
            driver.upload_bytes(&png, &options).unwrap_err(),
            driver.upload_base64_bytes(&png, &options).unwrap_err(),
            driver
                .upload_url("http://127.0.0.1:9/a.png", &options)
                .unwrap_err(),
            driver.credits().unwrap_err(),
            driver
                .download_url("https://example.com/a.png")
                .unwrap_err(),
        ];
        for error in errors {
            assert_eq!(api_kind(&error), Some(ErrorKind::Unauthorized), "{error}");
            assert!(error.to_string().contains("API key"), "{error}");
        }
    }
    // Not retried: 5 calls x 2 styles.
    assert_eq!(emulator.requests().len(), 10);

    let driver: D = client(&emulator, &Settings::default());
    for style in STYLES {
        emulator.set_error_style(Host::Api, style);
        let error = driver
            .download_url("https://example.com/a.png")
            .unwrap_err();
        assert_eq!(api_kind(&error), Some(ErrorKind::Validation), "{error}");
    }

    emulator
        .faults()
        .push(Route::Credits, Fault::cloudflare_1010());
    let error = driver.credits().unwrap_err();
    assert_eq!(api_kind(&error), Some(ErrorKind::CdnRefused), "{error}");

    // With the user-agent rule on, the driver's requests still pass: it always sends one.
    emulator.set_require_user_agent(true);
    driver.credits().unwrap();
    driver
        .upload_bytes(&png, &UploadOptions::new("ua"))
        .unwrap();
    assert!(emulator.stored_files().len() == 1);
}

// ---------------------------------------------------------------------------------------
// Scenarios: faults, with retries on and off
// ---------------------------------------------------------------------------------------

/// Runs `scenario` once with retries and once without, each against a fresh emulator with
/// `fault` queued once on the stream upload route. Returns nothing; checks the common
/// invariant: at most one stored copy per upload.
fn with_fault<D: Driver>(
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

fn stream_requests(emulator: &Emulator) -> usize {
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

const IDLE: Duration = Duration::from_millis(300);
const SLACK: Duration = Duration::from_millis(1500);

fn idle_settings() -> Settings {
    Settings {
        read_timeout: Some(IDLE),
        ..Settings::default()
    }
}

fn assert_timed_out(error: &Error, elapsed: Duration, bound: Duration) {
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
        Error::NotRewindable { source } => assert_eq!(
            transport_kind(source),
            Some((TransportFailure::ConnectionLost, 1)),
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
    assert!(matches!(error, Error::Api(_)));
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

// ---------------------------------------------------------------------------------------
// Scenarios: bad input, secrets, redirects, wire format
// ---------------------------------------------------------------------------------------

/// Bad input fails with the right error and no request reaches the emulator.
pub fn bad_input_sends_nothing<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let dir = TempDir::new("bad");
    let file = dir.file("ok.txt", b"fine");
    let missing = dir.path().join("missing.png");
    let png = png();

    let bad_options = [
        UploadOptions::new(""),
        UploadOptions::new("/images"),
        UploadOptions::new("images/"),
        UploadOptions::new("a//b"),
        UploadOptions::new(".."),
        UploadOptions::new("a/../b"),
        UploadOptions::new("./a"),
        UploadOptions::new("a\nb"),
        UploadOptions::new("a\rb"),
        UploadOptions::new("a\0b"),
        UploadOptions::new("a\u{7f}"),
        UploadOptions::new("ok").file_name(""),
        UploadOptions::new("ok").file_name("a/b.png"),
        UploadOptions::new("ok").file_name("a\\b.png"),
        UploadOptions::new("ok").file_name(".."),
        UploadOptions::new("ok").file_name("a\tb.png"),
        UploadOptions::new("ok").file_name("a\r\nContent-Type: x.png"),
        UploadOptions::new("ok").mime_type("not a mime"),
        UploadOptions::new("ok").mime_type("image/png\r\nX-Evil: 1"),
    ];
    for options in &bad_options {
        let results = [
            driver.upload_bytes(&png, options),
            driver.upload_base64_bytes(&png, options),
            driver.upload_file(&file, options),
            driver.upload_base64_file(&file, options),
            // Checked before the (missing) file is touched.
            driver.upload_file(&missing, options),
            driver.upload_reader(
                Box::new(std::io::Cursor::new(png.clone())),
                png.len() as u64,
                options,
            ),
            driver.upload_url("https://example.com/a.png", options),
        ];
        for result in results {
            assert!(
                matches!(result, Err(Error::InvalidInput(_))),
                "{options:?}: {result:?}"
            );
        }
    }

    let options = UploadOptions::new("ok");
    for result in [
        driver.upload_file(&missing, &options),
        driver.upload_base64_file(&missing, &options),
    ] {
        match result {
            Err(error @ Error::Io { .. }) => {
                assert!(error.to_string().contains("missing.png"), "{error}");
            }
            other => panic!("missing file: {other:?}"),
        }
    }
    for result in [
        driver.upload_file(dir.path(), &options),
        driver.upload_base64_file(dir.path(), &options),
    ] {
        match result {
            Err(error @ Error::Io { .. }) => {
                let text = error.to_string();
                assert!(text.contains(&*dir.path().to_string_lossy()), "{text}");
            }
            other => panic!("directory: {other:?}"),
        }
    }

    for url in [
        "",
        "not a url",
        "ftp://example.com/a.png",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "/relative/a.png",
        "http://",
    ] {
        assert!(
            matches!(
                driver.upload_url(url, &options),
                Err(Error::InvalidInput(_))
            ),
            "upload_url({url:?})"
        );
        assert!(
            matches!(driver.download_url(url), Err(Error::InvalidInput(_))),
            "download_url({url:?})"
        );
    }

    assert_nothing_sent(&emulator);
}

/// A bad key or base URL fails when the client is built.
pub fn bad_settings_send_nothing<D: Driver>() {
    let emulator = Emulator::start();
    // Every bad key carries the same marker, which no message may show.
    const MARKER: &str = "XQZSECRET";
    for key in [
        "",
        "XQZSECRET\n",
        "XQZSECRET with space",
        "XQZSECRETé",
        "\rXQZSECRET",
        "XQZSECRET\0",
    ] {
        let settings = Settings {
            key: Some(key.to_owned()),
            ..Settings::default()
        };
        match D::connect(&emulator, &settings) {
            Err(Error::InvalidInput(e)) => {
                assert!(!e.to_string().contains(MARKER), "key shown: {e}");
                assert!(!format!("{e:?}").contains(MARKER), "key shown: {e:?}");
            }
            Err(other) => panic!("{key:?}: {other:?}"),
            Ok(_) => panic!("{key:?} accepted"),
        }
    }
    for url in ["ftp://x", "not a url", "http://x/?q=1", "http://x/#f"] {
        let settings = Settings {
            upload_base_url: Some(url.to_owned()),
            ..Settings::default()
        };
        assert!(
            matches!(
                D::connect(&emulator, &settings),
                Err(Error::InvalidInput(_))
            ),
            "{url}"
        );
    }
    assert_nothing_sent(&emulator);
}

/// The key appears in no `Debug` or `Display` of the client, options or any error.
pub fn key_never_printed<D: Driver>() {
    const KEY: &str = "sk-CONFORMANCE-SECRET-7f3a9c";
    const FRAGMENT: &str = "CONFORMANCE-SECRET";
    let emulator = Emulator::builder().api_key(KEY).start();
    let driver: D = client(&emulator, &Settings::no_retries());
    let dir = TempDir::new("secret");
    let mut texts = vec![driver.debug_of_client()];
    let options = UploadOptions::new("s").on_progress(|_| {});
    texts.push(format!("{options:?}"));

    let mut errors = Vec::new();
    emulator
        .faults()
        .push(Route::StreamUpload, Fault::internal_error_500());
    errors.push(driver.upload_bytes(b"x", &options).unwrap_err());
    emulator
        .faults()
        .push(Route::StreamUpload, Fault::DropAfterBytes(1 << 10));
    errors.push(
        driver
            .upload_reader(
                Box::new(std::io::Cursor::new(content(1 << 20, 1))),
                1 << 20,
                &options,
            )
            .unwrap_err(),
    );
    errors.push(
        driver
            .upload_file(&dir.path().join("nope"), &options)
            .unwrap_err(),
    );
    errors.push(
        driver
            .upload_bytes(b"x", &UploadOptions::new(""))
            .unwrap_err(),
    );
    errors.push(
        driver
            .download_url("https://example.com/x.png")
            .unwrap_err(),
    );
    let wrong: D = client(
        &emulator,
        &Settings {
            key: Some(format!("{KEY}-wrong")),
            ..Settings::no_retries()
        },
    );
    texts.push(wrong.debug_of_client());
    errors.push(wrong.credits().unwrap_err());
    let dead: D = client(
        &emulator,
        &Settings {
            api_base_url: Some("http://127.0.0.1:9".to_owned()),
            ..Settings::no_retries()
        },
    );
    texts.push(dead.debug_of_client());
    errors.push(dead.credits().unwrap_err());
    for key in [format!("{KEY}\n"), format!("{KEY} x")] {
        let settings = Settings {
            key: Some(key),
            ..Settings::default()
        };
        errors.push(D::connect(&emulator, &settings).err().unwrap());
    }
    for error in &errors {
        texts.push(format!("{error}"));
        texts.push(format!("{error:?}"));
        texts.push(format!("{error:#?}"));
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            texts.push(format!("{inner} {inner:?}"));
            source = inner.source();
        }
    }
    for text in &texts {
        assert!(!text.contains(FRAGMENT), "key printed: {text}");
    }
}

/// A 302 to another host is reported, not followed: nothing reaches the other host.
pub fn redirects_not_followed<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::no_retries());
    let target = format!("{}/stolen", emulator.files_base_url());
    for route in [Route::Credits, Route::StreamUpload] {
        for status in [301, 302, 307, 308] {
            emulator.faults().push(
                route,
                Fault::Respond {
                    status,
                    content_type: "text/plain".to_owned(),
                    body: b"moved".to_vec(),
                    headers: vec![("Location".to_owned(), target.clone())],
                },
            );
            let error = match route {
                Route::Credits => driver.credits().map(drop),
                _ => driver
                    .upload_bytes(b"x", &UploadOptions::new("r"))
                    .map(drop),
            }
            .unwrap_err();
            let api = error.api_error().unwrap_or_else(|| panic!("{error:?}"));
            assert_eq!(api.status.as_u16(), status);
            assert_eq!(api.kind, ErrorKind::Redirect);
            assert_eq!(api.redirect_host.as_deref(), Some("127.0.0.1"));
            assert_eq!(
                error.to_string(),
                "KIE.AI answered HTTP {status} after 1 attempt: \"moved\" (it points to 127.0.0.1; redirects are not followed; check the base URLs)"
                    .replace("{status}", &status.to_string())
            );
        }
    }
    assert!(
        emulator.requests().iter().all(|r| r.host != Host::Files),
        "a redirect was followed"
    );
}

/// Uploads carry an exact `Content-Length` (never chunked), a `kie-rs/` user agent, and
/// the body the emulator read is as long as declared.
pub fn wire_format<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let data = content(200_001, 7);
    driver
        .upload_bytes(&data, &UploadOptions::new("wire").file_name("a.bin"))
        .unwrap();
    driver
        .upload_base64_bytes(&data, &UploadOptions::new("wire").file_name("b.bin"))
        .unwrap();
    driver
        .upload_url(
            &format!("{}/nothing.bin", emulator.files_base_url()),
            &UploadOptions::new("wire"),
        )
        .ok();
    driver.credits().unwrap();
    for request in emulator.requests() {
        if request.host == Host::Files {
            continue;
        }
        assert!(request.header("transfer-encoding").is_none(), "{request:?}");
        assert!(
            request
                .user_agent
                .as_deref()
                .unwrap_or("")
                .starts_with("kie-rs/"),
            "{request:?}"
        );
        if request.method == "POST" {
            let declared: u64 = request.header("content-length").unwrap().parse().unwrap();
            assert_eq!(declared, request.body_len, "{request:?}");
        }
    }
    let stream = &requests_to(&emulator, Route::StreamUpload)[0];
    assert_eq!(
        stream.fields.get("file").map(String::as_str),
        Some("200001")
    );
    assert_eq!(
        stream.fields.get("uploadPath").map(String::as_str),
        Some("wire")
    );
    let base64 = &requests_to(&emulator, Route::Base64Upload)[0];
    assert_eq!(
        base64.fields.get("base64Data").map(String::as_str),
        Some(&*(200_001usize.div_ceil(3) * 4).to_string())
    );
}

/// An upload answered with a `fileSize` other than the bytes sent is
/// `Error::Integrity(SizeMismatch)`, at once (not retried), through both endpoints; an
/// answer without `fileSize` is accepted.
pub fn stored_size_is_checked<D: Driver>() {
    let data = content(1000, 5);
    let answer = |file_size: Option<u64>| {
        let mut data = json!({"fileName": "s.bin", "downloadUrl": "http://127.0.0.1:9/s.bin"});
        if let Some(size) = file_size {
            data["fileSize"] = json!(size);
        }
        Fault::json(
            200,
            json!({"success": true, "code": 200, "msg": "File uploaded successfully", "data": data}),
        )
    };
    for route in [Route::StreamUpload, Route::Base64Upload] {
        let emulator = Emulator::start();
        let driver: D = client(&emulator, &Settings::default());
        let options = UploadOptions::new("sizes").file_name("s.bin");
        let upload = |driver: &D| match route {
            Route::StreamUpload => driver.upload_bytes(&data, &options),
            _ => driver.upload_base64_bytes(&data, &options),
        };
        emulator.faults().push(route, answer(Some(999)));
        let error = upload(&driver).unwrap_err();
        match &error {
            Error::Integrity(IntegrityError::SizeMismatch {
                sent,
                reported,
                result,
            }) => {
                assert_eq!((*sent, *reported), (1000, 999));
                assert_eq!(result.download_url, "http://127.0.0.1:9/s.bin");
            }
            other => panic!("{route:?}: {other:?}"),
        }
        assert_eq!(
            error.to_string(),
            "KIE.AI reports 999 bytes stored for an upload of 1000 bytes, so the stored file is not what was sent; upload it again"
        );
        assert_eq!(requests_to(&emulator, route).len(), 1, "{route:?} retried");

        emulator.faults().push(route, answer(None));
        let result = upload(&driver).unwrap();
        assert_eq!(result.file_size, None);
        // The emulator's own answers carry the true size.
        let result = upload(&driver).unwrap();
        assert_eq!(result.file_size, Some(1000));
    }
}

/// `UploadOptions::verify_download(true)`: after the upload the stored file is downloaded
/// back without `Authorization` and compared (length and SHA-256); a different, longer or
/// refused download is `Error::Integrity`; a reader is refused before anything is sent.
pub fn verify_download<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let data = content(300_000, 11);
    let dir = TempDir::new("verify");
    let path = dir.file("v.bin", &data);
    let options = UploadOptions::new("verify")
        .file_name("v.bin")
        .verify_download(true);

    driver.upload_bytes(&data, &options).unwrap();
    driver.upload_base64_file(&path, &options).unwrap();
    let downloads: Vec<_> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.host == Host::Files)
        .collect();
    assert_eq!(downloads.len(), 2, "{downloads:#?}");
    for download in &downloads {
        assert_eq!(download.method, "GET");
        assert!(!download.has_authorization(), "{download:?}");
        assert_eq!(download.response_status, 200);
    }

    let served = |status: u16, body: Vec<u8>| Fault::Respond {
        status,
        content_type: "application/octet-stream".to_owned(),
        body,
        headers: Vec::new(),
    };
    let sha256 = |bytes: &[u8]| {
        let mut digest = kie_proto::driver::ContentDigest::new();
        digest.update(bytes);
        digest.finish()
    };
    let mut altered = data.clone();
    altered[150_000] ^= 1;
    let mut longer = data.clone();
    longer.extend_from_slice(b"!!");
    for (fault, received) in [
        (served(200, altered.clone()), sha256(&altered)),
        (served(200, data[..1000].to_vec()), sha256(&data[..1000])),
        (served(200, longer.clone()), sha256(&longer[..=data.len()])),
    ] {
        emulator.faults().push(Route::Files, fault);
        let error = driver.upload_file(&path, &options).unwrap_err();
        let Error::Integrity(IntegrityError::DownloadMismatch {
            url,
            sent,
            received: got,
        }) = &error
        else {
            panic!("{error:?}");
        };
        assert_eq!((*sent, *got), (sha256(&data), received));
        assert_eq!(
            error.to_string(),
            format!(
                "the file downloaded back from {url} is not what was sent ({received} instead of {sent}); upload it again"
            )
        );
    }
    emulator
        .faults()
        .push(Route::Files, served(404, b"gone".to_vec()));
    let error = driver.upload_bytes(&data, &options).unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Integrity(IntegrityError::DownloadRefused { status: 404, .. })
        ),
        "{error:?}"
    );

    // A reader cannot be read again: refused before anything is sent.
    emulator.clear_log();
    let error = driver
        .upload_reader(
            Box::new(std::io::Cursor::new(data.clone())),
            data.len() as u64,
            &options,
        )
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidInput(InvalidInput::VerifyDownloadNeedsContent)
        ),
        "{error:?}"
    );
    assert_nothing_sent(&emulator);
}

/// A URL upload sends the URL in the WHATWG-normalised form it was checked in (scheme and
/// host lower-cased), and the name taken from it is percent-decoded; a URL without a host
/// after `//` is refused before anything is sent.
pub fn url_upload_sends_the_normalised_url<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let data = content(1000, 3);
    let source = driver
        .upload_bytes(&data, &UploadOptions::new("src").file_name("a b ü.bin"))
        .unwrap();
    assert!(
        source.download_url.ends_with("/src/a%20b%20%C3%BC.bin"),
        "{source:?}"
    );
    let shouted = source.download_url.replacen("http://", "HTTP://", 1);
    let r = driver
        .upload_url(&shouted, &UploadOptions::new("fetched"))
        .unwrap();
    assert_eq!(r.file_name.as_deref(), Some("a b ü.bin"));
    assert_downloads(&r, &data);
    let sent = &requests_to(&emulator, Route::UrlUpload)[0];
    assert_eq!(
        sent.fields.get("fileUrl").map(String::as_str),
        Some(source.download_url.as_str())
    );
    assert_eq!(
        sent.fields.get("fileName").map(String::as_str),
        Some("a b ü.bin")
    );

    emulator.clear_log();
    let error = driver
        .upload_url("http:///nohost.png", &UploadOptions::new("fetched"))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid input, nothing was sent: fileUrl is not an absolute URL (no host after \"//\"): \"http:///nohost.png\""
    );
    assert_nothing_sent(&emulator);
}

/// A 413 from a front server, as nginx's HTML page or a JSON body: `PayloadTooLarge`, one
/// attempt (never retried), the size-limit hint.
pub fn payload_too_large_413<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let html = "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
    let html_fault = Fault::Respond {
        status: 413,
        content_type: "text/html".to_owned(),
        body: html.as_bytes().to_vec(),
        headers: Vec::new(),
    };
    let json_fault = Fault::json(413, json!({"code": 413, "msg": "Request Entity Too Large"}));
    for (route, fault) in [
        (Route::StreamUpload, html_fault.clone()),
        (Route::Base64Upload, html_fault),
        (Route::StreamUpload, json_fault),
    ] {
        emulator.clear_log();
        emulator.faults().push(route, fault);
        let data = content(100_000, 7);
        let options = UploadOptions::new("big").file_name("big.bin");
        let error = match route {
            Route::Base64Upload => driver.upload_base64_bytes(&data, &options),
            _ => driver.upload_bytes(&data, &options),
        }
        .unwrap_err();
        let api = error.api_error().unwrap_or_else(|| panic!("{error:?}"));
        assert_eq!(
            (api.kind, api.status.as_u16()),
            (ErrorKind::PayloadTooLarge, 413)
        );
        assert_eq!(error.attempts(), Some(1), "{error:?}");
        assert_eq!(emulator.requests().len(), 1, "a 413 was retried");
        let message = error.to_string();
        assert!(
            message.starts_with("KIE.AI answered HTTP 413 after 1 attempt"),
            "{message}"
        );
        assert!(
            message.ends_with("(the upload is over a size limit of KIE.AI or of a proxy or CDN in front of it; a base64 upload sends a third more bytes than the file, so the stream upload sends 25 % fewer)"),
            "{message}"
        );
    }
}

/// A server that answers every connection with `answer` (after the request's head) and
/// closes it.
fn raw_server(answer: Vec<u8>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let answer = answer.clone();
            std::thread::spawn(move || {
                // The whole request head first: closing with unread request bytes would
                // reset the connection, and the client would see a lost connection instead
                // of the answer.
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut buf = [0; 8192];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(&answer);
                let _ = stream.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    url
}

/// Answers that are not HTTP: `MalformedAnswer`, one attempt (not retried), whatever the
/// malformation.
pub fn malformed_answers<D: Driver>() {
    let emulator = Emulator::start();
    let over_long_header = [
        &b"HTTP/1.1 200 OK\r\nX-Padding: "[..],
        &vec![b'a'; 1 << 20],
        b"\r\nContent-Length: 0\r\n\r\n",
    ]
    .concat();
    let answers: [Vec<u8>; 4] = [
        b"HELLO THERE\r\n\r\n".to_vec(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n".to_vec(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnot-a-size\r\nhello\r\n0\r\n\r\n".to_vec(),
        over_long_header,
    ];
    for answer in answers {
        let shown = String::from_utf8_lossy(&answer[..answer.len().min(80)]).into_owned();
        let url = raw_server(answer);
        let settings = Settings {
            api_base_url: Some(url),
            ..Settings::default()
        };
        let driver: D = client(&emulator, &settings);
        let error = driver.credits().unwrap_err();
        assert_eq!(
            transport_kind(&error),
            Some((TransportFailure::MalformedAnswer, 1)),
            "{shown:?}: {error:?}"
        );
        assert_eq!(
            error.to_string(),
            "an answer arrived but it is not valid HTTP after 1 attempt: a server or proxy in between is broken or is not an HTTP server; not retried"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Real networks: TLS and proxies (in a child process)
// ---------------------------------------------------------------------------------------

/// Set in the child process that runs [`real_networks`].
const CHILD_MARKER: &str = "KIE_CONFORMANCE_REAL_NETWORKS_CHILD";
/// The credentials of the proxy the parent puts in the child's `HTTPS_PROXY`.
const ENV_PROXY_CREDENTIALS: (&str, &str) = ("env-user", "env p@ss");

/// Whether this process is the child of [`real_networks_in_child`].
pub fn is_real_networks_child() -> bool {
    std::env::var_os(CHILD_MARKER).is_some()
}

/// Runs the test `child` of this test binary in a child process whose environment names a
/// fresh `SSL_CERT_FILE` (the child writes its test CA there before making any client;
/// `SSL_CERT_DIR` is removed, so nothing else is trusted) and whose `HTTPS_PROXY` is a
/// proxy of this process, with credentials. Checks that the child passed, and that the
/// default client configuration used the proxy from the environment.
pub fn real_networks_in_child(child: &str) {
    let dir = std::env::temp_dir().join(format!(
        "kie-conformance-{}-{}",
        std::process::id(),
        content(1, rand_seed())[0]
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("ca.pem");
    let proxy = kie_tests::connect_proxy::ConnectProxy::start(Some(ENV_PROXY_CREDENTIALS));
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args([
            child,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MARKER, "1")
        .env("SSL_CERT_FILE", &ca_file)
        .env_remove("SSL_CERT_DIR");
    for name in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ] {
        command.env_remove(name);
    }
    let (user, password) = ENV_PROXY_CREDENTIALS;
    command.env("HTTPS_PROXY", proxy.url_with(user, password));
    let output = command.output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{stderr}"
    );
    let requests = proxy.requests();
    assert!(
        !requests.is_empty()
            && requests.iter().all(|r| r.method == "CONNECT"
                && r.target.starts_with("127.0.0.1:")
                && r.credentials.as_deref() == Some(&format!("{user}:{password}")[..])),
        "the default client did not use HTTPS_PROXY with its credentials: {requests:#?}"
    );
}

/// A number that differs between runs (for a fresh directory name).
fn rand_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// TLS and proxies against fronts of the emulator (run by [`real_networks_in_child`]).
pub fn real_networks<D: Driver>() {
    use kie_proto::TlsFailure;
    use kie_tests::connect_proxy::ConnectProxy;
    use kie_tests::tls_front::{CertKind, TestCa, TlsFront};

    let ca = TestCa::generate("kie-rs conformance CA");
    let ca_file = std::env::var_os("SSL_CERT_FILE").expect("SSL_CERT_FILE is set");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let emulator = Emulator::start();
    let upstream = |url: String| -> std::net::SocketAddr {
        url.trim_start_matches("http://").parse().unwrap()
    };
    let upload_front = TlsFront::start(
        ca.issue(CertKind::Valid),
        upstream(emulator.upload_base_url()),
    );
    let api_front = TlsFront::start(ca.issue(CertKind::Valid), upstream(emulator.api_base_url()));
    let tls = Settings {
        upload_base_url: Some(upload_front.base_url()),
        api_base_url: Some(api_front.base_url()),
        ..Settings::default()
    };

    // The default configuration trusts SSL_CERT_FILE; both upload kinds go through TLS
    // (and through HTTPS_PROXY from the environment).
    let driver: D = client(&emulator, &tls);
    driver.credits().unwrap();
    let data = content(300_000, 11);
    for uploaded in [
        driver.upload_bytes(&data, &UploadOptions::new("tls").file_name("a.bin")),
        driver.upload_base64_bytes(&data, &UploadOptions::new("tls").file_name("b.bin")),
    ] {
        let uploaded = uploaded.unwrap();
        assert_eq!(http_get(&uploaded.download_url), (200, data.clone()));
    }

    // Certificates the client must refuse: one attempt, the reason in the message.
    let other_ca = TestCa::generate("an untrusted CA");
    let refused = [
        (
            ca.issue(CertKind::Expired),
            TlsFailure::Expired,
            "the server's certificate has expired (or this machine's clock is wrong)",
        ),
        (
            ca.issue(CertKind::WrongHost),
            TlsFailure::WrongHost,
            "the server's certificate is for another host name (check the base URL; a proxy may be intercepting TLS)",
        ),
        (
            other_ca.issue(CertKind::Valid),
            TlsFailure::UnknownIssuer,
            "the server's certificate is not signed by a trusted authority (a TLS-inspecting proxy's CA must be in the system trust store or in SSL_CERT_FILE)",
        ),
    ];
    for (identity, reason, words) in refused {
        let front = TlsFront::start(identity, upstream(emulator.api_base_url()));
        for no_proxy in [false, true] {
            let settings = Settings {
                api_base_url: Some(front.base_url()),
                no_proxy,
                ..tls.clone()
            };
            let error = client::<D>(&emulator, &settings).credits().unwrap_err();
            assert_eq!(
                transport_kind(&error),
                Some((TransportFailure::Tls(reason), 1)),
                "{error:?}"
            );
            assert_eq!(
                error.to_string(),
                format!("the TLS handshake with KIE.AI failed after 1 attempt: {words}")
            );
        }
    }

    // An explicit proxy that tunnels, with credentials that need percent-encoding.
    let proxy = ConnectProxy::start(Some(("me", "s3cr:t@x")));
    let settings = Settings {
        proxy: Some(proxy.url_with("me", "s3cr:t@x")),
        ..tls.clone()
    };
    let driver: D = client(&emulator, &settings);
    driver.credits().unwrap();
    let uploaded = driver
        .upload_bytes(&data, &UploadOptions::new("proxied").file_name("c.bin"))
        .unwrap();
    assert_eq!(http_get(&uploaded.download_url), (200, data.clone()));
    assert!(!driver.debug_of_client().contains("s3cr"));
    let requests = proxy.requests();
    assert!(requests.len() >= 2, "{requests:#?}");
    for request in &requests {
        assert_eq!(request.method, "CONNECT");
        assert!(
            [upload_front.addr(), api_front.addr()]
                .iter()
                .any(|addr| request.target == addr.to_string()),
            "{request:?}"
        );
        assert_eq!(request.credentials.as_deref(), Some("me:s3cr:t@x"));
    }

    // The same proxy without (or with wrong) credentials: 407, final, one attempt, and the
    // password never printed.
    for url in [proxy.url(), proxy.url_with("me", "wrong-secret")] {
        let settings = Settings {
            proxy: Some(url),
            ..tls.clone()
        };
        let error = client::<D>(&emulator, &settings).credits().unwrap_err();
        assert_eq!(
            transport_kind(&error),
            Some((TransportFailure::ProxyRefused { status: Some(407) }, 1)),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "the proxy refused to open a tunnel to KIE.AI (HTTP 407) after 1 attempt: the proxy wants credentials; put them in the proxy URL (http://user:password@host:port)"
        );
        assert!(!format!("{error:?} {error}").contains("wrong-secret"));
    }

    // A dead proxy: a connect failure that names the proxy, retried like one.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let settings = Settings {
        proxy: Some(dead),
        ..tls.clone()
    };
    let error = client::<D>(&emulator, &settings).credits().unwrap_err();
    assert_eq!(
        transport_kind(&error),
        Some((TransportFailure::ProxyUnreachable, 3)),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "could not connect to the proxy after 3 attempts: check the proxy URL (the client's proxy setting, or HTTPS_PROXY / HTTP_PROXY / ALL_PROXY)"
    );
}

/// `tls_roots`: only the given CA (a private CA, no environment needed); Mozilla's bundle
/// (refuses the test CA, or the client says the `webpki-roots` feature is off).
pub fn tls_roots_chosen_on_the_builder<D: Driver>() {
    use kie_proto::{TlsFailure, TlsRoots};
    use kie_tests::tls_front::{CertKind, TestCa, TlsFront};

    let ca = TestCa::generate("kie-rs private CA");
    let emulator = Emulator::start();
    let upstream = emulator
        .api_base_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let front = TlsFront::start(ca.issue(CertKind::Valid), upstream);
    let settings = |roots: TlsRoots| Settings {
        api_base_url: Some(front.base_url()),
        tls_roots: Some(roots),
        no_proxy: true,
        ..Settings::default()
    };
    client::<D>(&emulator, &settings(TlsRoots::Only(vec![ca.der()])))
        .credits()
        .unwrap();
    // A PEM file's text given as if it were DER is refused before anything is sent.
    let pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".to_vec();
    match D::connect(&emulator, &settings(TlsRoots::Only(vec![ca.der(), pem]))) {
        Err(Error::InvalidInput(InvalidInput::TlsRootInvalid { index: 1 })) => {}
        Err(error) => panic!("{error:?}"),
        Ok(_) => panic!("a PEM text was taken for a certificate"),
    }
    let other = TestCa::generate("another CA");
    let error = client::<D>(&emulator, &settings(TlsRoots::Only(vec![other.der()])))
        .credits()
        .unwrap_err();
    assert_eq!(
        transport_kind(&error),
        Some((TransportFailure::Tls(TlsFailure::UnknownIssuer), 1)),
        "{error:?}"
    );
    match D::connect(&emulator, &settings(TlsRoots::WebPki)) {
        Err(Error::InvalidInput(InvalidInput::WebPkiRootsNotBuiltIn)) => {}
        Err(error) => panic!("{error:?}"),
        Ok(driver) => {
            let error = driver.credits().unwrap_err();
            assert_eq!(
                transport_kind(&error),
                Some((TransportFailure::Tls(TlsFailure::UnknownIssuer), 1)),
                "{error:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios: a hostile network peer (raw sockets, kie_tests::hostile). Each one is a row of
// the README's worst-case-time table, with sub-second to 2 s limits instead of the
// defaults; every configured limit must hold to within `SLACK`.
// ---------------------------------------------------------------------------------------

/// A client of the hostile `peer` (both base URLs point at it).
fn hostile_client<D: Driver>(peer: &HostilePeer, settings: Settings) -> (D, Emulator) {
    let emulator = Emulator::start();
    let settings = Settings {
        upload_base_url: Some(peer.base_url()),
        api_base_url: Some(peer.base_url()),
        ..settings
    };
    (client(&emulator, &settings), emulator)
}

/// The budget rule that ended a call, from the source of its `Transport` error.
fn timeout_reason(error: &Error) -> Option<TimeoutReason> {
    match error {
        Error::Transport { source, .. } => source.downcast_ref::<TimeoutReason>().copied(),
        _ => None,
    }
}

/// `error` is a timeout after `attempts` attempts, by `reason`, reported between `bound` and
/// `bound + SLACK` after the call started.
fn assert_cut(
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
fn upload_answer(file_size: u64) -> Vec<u8> {
    Behaviour::json(
        200,
        &format!(
            r#"{{"success":true,"code":200,"msg":"ok","data":{{"fileName":"h.bin","downloadUrl":"https://files.example/h.bin","fileSize":{file_size}}}}}"#
        ),
    )
}

fn credits_answer() -> Vec<u8> {
    Behaviour::json(200, r#"{"code":200,"msg":"success","data":100}"#)
}

fn tight(read_timeout: Duration) -> Settings {
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
fn upload_is_cut_by_the_idle_limit<D: Driver>(peer: &HostilePeer) {
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
fn max_sent(log: &ProgressLog) -> u64 {
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

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
const EARLY_HINTS: &[u8] =
    b"HTTP/1.1 103 Early Hints\r\nLink: </kie.css>; rel=preload; as=style\r\nLink: </kie.js>; rel=preload; as=script\r\n\r\n";
const PROCESSING: &[u8] = b"HTTP/1.1 102 Processing\r\n\r\n";

/// One interim-answer scenario: `len` bytes uploaded to a peer that sends `at_once`, `mid`
/// (after 256 KiB of the body) and `after_body` around the final answer, in `segment`-byte
/// writes when set. The upload completes on the first attempt, with the body byte-exact,
/// within a second (a client that takes an interim answer for the final one stops sending
/// and waits for its 20 s idle limit).
fn upload_through_interim<D: Driver>(
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
    assert!(elapsed < Duration::from_secs(1), "{name}: took {elapsed:?}");
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

/// Uploads to Python's own `http.server` (with Werkzeug's second `100 Continue`): 20
/// uploads of 3 MiB (multipart, with `Expect: 100-continue`) and one base64 upload each
/// complete on the first attempt, byte-exact as the server stored them, within a second.
/// Skipped (with a line saying so) where `python3` is absent.
pub fn python_http_server<D: Driver>() {
    let Some(server) = kie_tests::python_peer::PythonUploadServer::start() else {
        return;
    };
    let emulator = Emulator::start();
    let settings = Settings {
        upload_base_url: Some(server.base_url()),
        ..tight(Duration::from_secs(20))
    };
    let driver: D = client(&emulator, &settings);
    let mut slowest = Duration::ZERO;
    for round in 0..20u64 {
        let data = content(3 << 20, round);
        let name = format!("python-{round}.bin");
        let started = Instant::now();
        let uploaded = driver
            .upload_bytes(&data, &UploadOptions::new("py").file_name(&name))
            .unwrap_or_else(|error| panic!("upload {round}: {error:?}"));
        slowest = slowest.max(started.elapsed());
        let (status, stored) = http_get(&uploaded.download_url);
        assert_eq!(status, 200);
        assert!(stored == data, "upload {round}: the stored bytes differ");
    }
    assert!(
        slowest < Duration::from_secs(1),
        "slowest upload {slowest:?}"
    );
    let data = content(200 << 10, 99);
    let uploaded = driver
        .upload_base64_bytes(&data, &UploadOptions::new("py").file_name("python-b64.bin"))
        .unwrap();
    assert!(http_get(&uploaded.download_url).1 == data);
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
            Err(Error::Transport { .. } | Error::Api(_)) => {}
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(answer)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios: real nginx and squid (kie_tests::real_servers), when installed. `.ci/run`
// installs them with apt-get; without them each scenario prints a skip line and passes,
// and the in-process fronts above still cover TLS, proxies and 413s.
// ---------------------------------------------------------------------------------------

/// The address behind an emulator base URL (`http://127.0.0.1:<port>`).
fn upstream_of(base_url: &str) -> std::net::SocketAddr {
    base_url.trim_start_matches("http://").parse().unwrap()
}

/// Waits (up to 2 s) until `log` returns at least `n` lines: servers log a request when
/// it ends, which may be after the client has its answer.
fn wait_for_lines(log: impl Fn() -> Vec<String>, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let lines = log();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// nginx as a TLS reverse proxy in front of both emulator hosts, trusted through
/// `tls_roots(Only(ca))`: credits and both upload kinds (2 MiB, so nginx buffers the body
/// in a temporary file) round-trip byte-exact, over the protocol the driver negotiates.
pub fn real_nginx_tls_front<D: Driver>() {
    use kie_proto::TlsRoots;
    use kie_tests::real_servers::Nginx;
    use kie_tests::tls_front::{CertKind, TestCa};

    let Some(program) = Nginx::find() else { return };
    let ca = TestCa::generate("kie-rs nginx CA");
    let emulator = Emulator::builder().credits(7.5).start();
    let identity = ca.issue(CertKind::Valid);
    let upload_front = Nginx::start_tls_proxy(
        &program,
        &identity,
        upstream_of(&emulator.upload_base_url()),
        "64m",
    );
    let api_front = Nginx::start_tls_proxy(
        &program,
        &identity,
        upstream_of(&emulator.api_base_url()),
        "64m",
    );
    let settings = Settings {
        upload_base_url: Some(upload_front.base_url()),
        api_base_url: Some(api_front.base_url()),
        tls_roots: Some(TlsRoots::Only(vec![ca.der()])),
        no_proxy: true,
        ..Settings::no_retries()
    };
    let driver: D = client(&emulator, &settings);
    assert_eq!(driver.credits().unwrap(), 7.5);
    let data = content(2 << 20, 21);
    let stream = driver
        .upload_bytes(&data, &UploadOptions::new("nginx").file_name("s.bin"))
        .unwrap();
    assert_downloads(&stream, &data);
    let base64 = driver
        .upload_base64_bytes(&data, &UploadOptions::new("nginx").file_name("b.bin"))
        .unwrap();
    assert_downloads(&base64, &data);
    for request in emulator.requests() {
        if request.host == Host::Upload || request.host == Host::Api {
            assert_eq!(request.header("authorization"), Some("Bearer [redacted]"));
        }
    }
    let protocol = if D::NEGOTIATES_HTTP2 {
        "HTTP/2.0"
    } else {
        "HTTP/1.1"
    };
    let uploads = wait_for_lines(|| upload_front.access_log(), 2);
    assert_eq!(
        uploads,
        [
            format!("POST /api/file-stream-upload {protocol} 200"),
            format!("POST /api/file-base64-upload {protocol} 200"),
        ]
    );
    let api = wait_for_lines(|| api_front.access_log(), 1);
    assert_eq!(api, [format!("GET /api/v1/chat/credit {protocol} 200")]);
}

/// nginx with `client_max_body_size 1m` refusing 16 MiB: its own 413 page is
/// `PayloadTooLarge` after 1 attempt (retries on), quickly, for both upload kinds, and
/// nothing reaches the emulator.
pub fn real_nginx_body_limit<D: Driver>() {
    use kie_proto::TlsRoots;
    use kie_tests::real_servers::Nginx;
    use kie_tests::tls_front::{CertKind, TestCa};

    let Some(program) = Nginx::find() else { return };
    let ca = TestCa::generate("kie-rs nginx CA");
    let emulator = Emulator::start();
    let front = Nginx::start_tls_proxy(
        &program,
        &ca.issue(CertKind::Valid),
        upstream_of(&emulator.upload_base_url()),
        "1m",
    );
    let settings = Settings {
        upload_base_url: Some(front.base_url()),
        tls_roots: Some(TlsRoots::Only(vec![ca.der()])),
        no_proxy: true,
        ..Settings::default()
    };
    let driver: D = client(&emulator, &settings);
    let data = content(16 << 20, 22);
    let options = UploadOptions::new("big").file_name("big.bin");
    for base64 in [false, true] {
        let started = Instant::now();
        let error = if base64 {
            driver.upload_base64_bytes(&data, &options)
        } else {
            driver.upload_bytes(&data, &options)
        }
        .unwrap_err();
        let elapsed = started.elapsed();
        assert_eq!(
            api_kind(&error),
            Some(ErrorKind::PayloadTooLarge),
            "{error:?}"
        );
        assert_eq!(error.attempts(), Some(1), "{error:?}");
        assert!(
            error
                .to_string()
                .starts_with("KIE.AI answered HTTP 413 after 1 attempt"),
            "{error}"
        );
        assert!(
            elapsed < Duration::from_secs(2),
            "base64 {base64}: {elapsed:?}"
        );
    }
    let refused = wait_for_lines(|| front.access_log(), 2);
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused.iter().all(|line| line.ends_with(" 413")),
        "{refused:?}"
    );
    assert!(emulator.requests().is_empty(), "{:?}", emulator.requests());
}

/// squid as the client's `proxy(url)` in front of HTTPS base URLs (the in-process TLS
/// front): every call goes through a `CONNECT` tunnel, and both upload kinds and credits
/// work.
pub fn real_squid_tunnel<D: Driver>() {
    use kie_proto::TlsRoots;
    use kie_tests::real_servers::Squid;
    use kie_tests::tls_front::{CertKind, TestCa, TlsFront};

    let Some(program) = Squid::find() else { return };
    let squid = Squid::start(&program);
    let ca = TestCa::generate("kie-rs squid CA");
    let emulator = Emulator::builder().credits(7.5).start();
    let upload_front = TlsFront::start(
        ca.issue(CertKind::Valid),
        upstream_of(&emulator.upload_base_url()),
    );
    let api_front = TlsFront::start(
        ca.issue(CertKind::Valid),
        upstream_of(&emulator.api_base_url()),
    );
    let settings = Settings {
        upload_base_url: Some(upload_front.base_url()),
        api_base_url: Some(api_front.base_url()),
        tls_roots: Some(TlsRoots::Only(vec![ca.der()])),
        proxy: Some(squid.url()),
        ..Settings::no_retries()
    };
    let driver: D = client(&emulator, &settings);
    assert_eq!(driver.credits().unwrap(), 7.5);
    let data = content(1 << 20, 23);
    let stream = driver
        .upload_bytes(&data, &UploadOptions::new("squid").file_name("s.bin"))
        .unwrap();
    assert_downloads(&stream, &data);
    let base64 = driver
        .upload_base64_bytes(&data, &UploadOptions::new("squid").file_name("b.bin"))
        .unwrap();
    assert_downloads(&base64, &data);
    // Tunnels are logged when they close: drop the client (and its connection pool).
    drop(driver);
    // (squid also logs the connection that checked it was listening, which sent nothing.)
    let tunnels: Vec<String> = wait_for_lines(|| squid.access_log(), 3)
        .into_iter()
        .filter(|line| line != "- error:transaction-end-before-headers 0")
        .collect();
    assert!(!tunnels.is_empty(), "squid logged no tunnel");
    for tunnel in &tunnels {
        assert!(
            [upload_front.addr(), api_front.addr()]
                .iter()
                .any(|addr| *tunnel == format!("CONNECT {addr} 200")),
            "{tunnels:?}"
        );
    }
    assert!(
        tunnels
            .iter()
            .any(|t| t.contains(&upload_front.addr().to_string()))
            && tunnels
                .iter()
                .any(|t| t.contains(&api_front.addr().to_string())),
        "{tunnels:?}"
    );
}
