//! Real networks: TLS and proxies (in a child process)

use super::*;

/// Set in the child process that runs [`real_networks`].
pub const CHILD_MARKER: &str = "KIE_CONFORMANCE_REAL_NETWORKS_CHILD";
/// The credentials of the proxy the parent puts in the child's `HTTPS_PROXY`.
pub const ENV_PROXY_CREDENTIALS: (&str, &str) = ("env-user", "env p@ss");

/// Whether this process is the child of [`real_networks_in_child`].
pub fn is_real_networks_child() -> bool {
    std::env::var_os(CHILD_MARKER).is_some()
}

/// Runs the test `child` of this test binary in a child process whose environment names a
/// fresh `SSL_CERT_FILE` (the child writes its test CA there, and takes it away for a
/// while to check a machine without a trust store; `SSL_CERT_DIR` is removed, so nothing
/// else is trusted) and whose `HTTPS_PROXY` is a
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
pub fn rand_seed() -> u64 {
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
    // Started without a trust store: the emulator's own HTTP client (URL uploads,
    // callbacks) is built at its first use.
    assert!(!std::path::Path::new(&ca_file).exists());
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
    // A file the emulator serves, behind TLS: the source of https:// URL uploads.
    let files_front = TlsFront::start(
        ca.issue(CertKind::Valid),
        upstream(emulator.files_base_url()),
    );
    let source = content(70_000, 12);
    let https_source = client::<D>(&emulator, &Settings::default())
        .upload_bytes(&source, &UploadOptions::new("src").file_name("remote.bin"))
        .unwrap()
        .download_url
        .replacen(&emulator.files_base_url(), &files_front.base_url(), 1);
    assert!(https_source.starts_with("https://"), "{https_source}");

    // No trust store (SSL_CERT_FILE names a file that is not there, SSL_CERT_DIR is unset),
    // as on a machine without CA certificates: a client is built and reaches an http://
    // server without reading one; an https:// server is refused at once, with that cause
    // (not as a broken handshake).
    client::<D>(&emulator, &Settings::default())
        .credits()
        .unwrap();
    let error = client::<D>(&emulator, &tls).credits().unwrap_err();
    assert_eq!(
        transport_kind(&error),
        Some((TransportFailure::Tls(TlsFailure::NoTrustRoots), 1)),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the TLS handshake with KIE.AI failed after 1 attempt: this machine has no trusted root certificates to check the server with (install the system's CA certificates, e.g. the ca-certificates package, or point SSL_CERT_FILE at a PEM bundle)"
    );
    // The emulator cannot fetch an https:// URL either, and says why.
    let error = client::<D>(&emulator, &Settings::default())
        .upload_url(&https_source, &UploadOptions::new("fetched"))
        .unwrap_err();
    assert_eq!(api_kind(&error), Some(ErrorKind::BadRequest), "{error}");
    assert!(
        error.to_string().contains(
            "File download failed: the emulator's HTTP client could not be built: builder error: unexpected error: No CA certificates were loaded from the system"
        ),
        "{error}"
    );
    std::fs::write(&ca_file, ca.pem()).unwrap();

    // With the store in place it can (a failed build is not kept).
    let fetched = client::<D>(&emulator, &Settings::default())
        .upload_url(&https_source, &UploadOptions::new("fetched"))
        .unwrap();
    assert_eq!(fetched.file_name.as_deref(), Some("remote.bin"));
    assert_eq!(http_get(&fetched.download_url), (200, source));

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
