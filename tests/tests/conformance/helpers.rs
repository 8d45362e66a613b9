//! Helpers

use super::*;

pub fn client<D: Driver>(emulator: &Emulator, settings: &Settings) -> D {
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
pub fn assert_downloads(result: &UploadResult, expected: &[u8]) {
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
pub fn requests_to(emulator: &Emulator, route: Route) -> Vec<LoggedRequest> {
    emulator
        .requests()
        .into_iter()
        .filter(|r| r.route == Some(route))
        .collect()
}

/// Waits (up to 2 s) until the emulator logged `n` requests to `route`: a client that
/// aborted a request may return before the emulator has even read its head.
pub fn wait_for(emulator: &Emulator, route: Route, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while requests_to(emulator, route).len() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Asserts that no request reached the emulator (after a short grace period, so that a
/// request in flight would have been logged).
pub fn assert_nothing_sent(emulator: &Emulator) {
    std::thread::sleep(Duration::from_millis(100));
    let requests = emulator.requests();
    assert!(
        requests.is_empty(),
        "requests reached the emulator: {requests:#?}"
    );
}

/// Checks that at most one copy is stored and returns it.
pub fn at_most_one_stored(emulator: &Emulator) -> Option<StoredFile> {
    let stored = emulator.stored_files();
    assert!(
        stored.len() <= 1,
        "expected at most one stored copy, found {:?}",
        stored.iter().map(|f| &f.path).collect::<Vec<_>>()
    );
    stored.into_iter().next()
}

/// The API error inside `error`.
pub fn api_kind(error: &Error) -> Option<ErrorKind> {
    error.api_error().map(|e| e.kind)
}

pub fn transport_kind(error: &Error) -> Option<(TransportFailure, u32)> {
    match error {
        Error::Transport { kind, attempts, .. } => Some((*kind, *attempts)),
        _ => None,
    }
}

/// Records every progress report.
#[derive(Clone, Default)]
pub struct ProgressLog(Arc<Mutex<Vec<Progress>>>);

impl ProgressLog {
    pub fn options(&self, options: UploadOptions) -> UploadOptions {
        let log = self.clone();
        options.on_progress(move |p| log.0.lock().unwrap().push(p))
    }

    pub fn reports(&self) -> Vec<Progress> {
        self.0.lock().unwrap().clone()
    }

    /// Checks the contract for an upload of `total` bytes that succeeded on its last
    /// attempt: within an attempt `sent` never decreases and grows by at most 1 MiB between
    /// reports; `total` is reached at most once per attempt and exactly once in the last;
    /// an attempt after the first starts with a visible `(0, total)`.
    pub fn assert_contract(&self, total: u64) -> u32 {
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
