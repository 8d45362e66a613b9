//! Scenarios: servers nobody on kie-rs wrote — nginx and squid (kie_tests::real_servers)
//! and Python's `http.server` (kie_tests::python_peer), when installed. `.ci/run` installs
//! them with apt-get; without them each scenario prints a skip line and passes, and the
//! in-process fronts (tls_front, connect_proxy, the hostile peer) still cover TLS, proxies,
//! 413s and interim answers.

use super::*;

/// The address behind an emulator base URL (`http://127.0.0.1:<port>`).
pub fn upstream_of(base_url: &str) -> std::net::SocketAddr {
    base_url.trim_start_matches("http://").parse().unwrap()
}

/// Waits (up to 2 s) until `log` returns at least `n` lines: servers log a request when
/// it ends, which may be after the client has its answer.
pub fn wait_for_lines(log: impl Fn() -> Vec<String>, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let lines = log();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// nginx as a TLS reverse proxy in front of both emulator hosts (`http2 on`), trusted through
/// `tls_roots(Only(ca))`: credits and both upload kinds (2 MiB, so nginx buffers the body
/// in a temporary file) round-trip byte-exact, over HTTP/2 when the driver speaks it.
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
        http2: true,
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
    let protocol = if D::SPEAKS_HTTP2 {
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
