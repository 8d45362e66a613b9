//! Figures for BENCHMARKS.md, measured by hand against the hostile peer (not timed unit
//! tests: every test here is `#[ignore]`d). Run with
//!
//! ```sh
//! cargo test --release -p kie-tests --test hostile_figures -- --ignored --nocapture --test-threads 1
//! ```
//!
//! `early_answers_256_mib` uploads a 256 MiB file to a peer that answers 413 (after 1 MiB
//! of body, or on the headers) and prints, per driver: the outcome, the time, the attempts
//! (connections) and the bytes sent (read by the peer; read from the file). `stalled_writes`
//! uploads 8 MiB to a peer that never reads, with a 5 s and a 10 s idle limit.
//! `default_bounds` shows what the defaults bound (takes about 4 minutes).
//! `early_answers_nginx_tls` starts its own nginx (when installed) with TLS in front of the
//! emulator and uploads 256 MiB past `client_max_body_size 1m`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kie_proto::{Error, RetryPolicy, TlsRoots, UploadOptions};
use kie_tests::hostile::{Behaviour, Close, HostilePeer};

/// One driver's calls, as the figures need them.
#[derive(Clone, Copy, Debug)]
enum Driver {
    Blocking,
    Async,
}

struct Settings {
    idle: Option<Duration>,
    retry: RetryPolicy,
    /// `tls_roots`, for an `https://` base URL.
    roots: Option<TlsRoots>,
}

impl Settings {
    /// The client settings for a peer at `base`, the same for both drivers.
    fn config(&self, base: &str) -> kie_proto::ClientConfig {
        let mut config = kie_proto::ClientConfig::new("k")
            .upload_base_url(base)
            .api_base_url(base)
            .retry_policy(self.retry);
        if let Some(idle) = self.idle {
            config = config.read_timeout(idle);
        }
        if let Some(roots) = &self.roots {
            config = config.tls_roots(roots.clone());
        }
        config
    }
}

fn outcome<T>(result: &Result<T, Error>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(error) => match error.api_error() {
            Some(api) => format!("HTTP {}", api.status.as_u16()),
            None => format!("{error}"),
        },
    }
}

impl Driver {
    fn upload_file(
        self,
        base: &str,
        settings: &Settings,
        path: &PathBuf,
        sent: &Arc<AtomicU64>,
    ) -> String {
        let sent = Arc::clone(sent);
        let options = UploadOptions::new("figures")
            .file_name("big.bin")
            .on_progress(move |p| {
                sent.fetch_max(p.sent, Ordering::Relaxed);
            });
        match self {
            Driver::Blocking => {
                let builder = kie_blocking::Client::builder(settings.config(base));
                outcome(&builder.build().unwrap().upload_file(path, &options))
            }
            Driver::Async => {
                let builder = kie_async::Client::builder(settings.config(base));
                let client = builder.build().unwrap();
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                outcome(&runtime.block_on(client.upload_file(path, &options)))
            }
        }
    }

    fn credits(self, base: &str) -> String {
        match self {
            Driver::Blocking => {
                let client = kie_blocking::Client::builder(
                    kie_proto::ClientConfig::new("k").api_base_url(base),
                )
                .build()
                .unwrap();
                outcome(&client.credits())
            }
            Driver::Async => {
                let client = kie_async::Client::builder(
                    kie_proto::ClientConfig::new("k").api_base_url(base),
                )
                .build()
                .unwrap();
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                outcome(&runtime.block_on(client.credits()))
            }
        }
    }
}

fn big_file(len: u64) -> PathBuf {
    let path = std::env::temp_dir().join(format!("kie-figures-{}-{len}.bin", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(len).unwrap();
    path
}

fn measure_upload(driver: Driver, behaviour: Behaviour, settings: &Settings, path: &PathBuf) {
    let peer = HostilePeer::start(behaviour);
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let outcome = driver.upload_file(&peer.base_url(), settings, path, &sent);
    let elapsed = started.elapsed();
    println!(
        "| {driver:?} | {outcome} | {:.3} s | {} | {} | {} |",
        elapsed.as_secs_f64(),
        peer.connections().len(),
        peer.body_bytes_received(),
        sent.load(Ordering::Relaxed),
    );
}

#[test]
#[ignore = "a figure for BENCHMARKS.md, run by hand"]
fn early_answers_256_mib() {
    let path = big_file(256 << 20);
    let defaults = Settings {
        idle: None,
        retry: RetryPolicy::default(),
        roots: None,
    };
    let cases = [
        ("413 after 1 MiB, then reset", 1 << 20, Close::Reset),
        ("413 after 1 MiB, then linger", 1 << 20, Close::Linger),
        ("413 on the headers, then linger (nginx)", 0, Close::Linger),
    ];
    for (name, after, close) in cases {
        println!(
            "\n{name}\n| driver | outcome | elapsed | attempts | bytes read by the peer | bytes read from the file |"
        );
        for driver in [Driver::Blocking, Driver::Async] {
            for _ in 0..5 {
                let behaviour = Behaviour::EarlyAnswer {
                    after,
                    answer: Behaviour::payload_too_large(),
                    close,
                };
                measure_upload(driver, behaviour, &defaults, &path);
            }
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// The same 256 MiB upload to a real nginx with `client_max_body_size 1m`, when
/// `KIE_FIGURES_NGINX_URL` names one (e.g. `http://127.0.0.1:8413`).
#[test]
#[ignore = "a figure for BENCHMARKS.md, run by hand"]
fn early_answers_nginx() {
    let Ok(base) = std::env::var("KIE_FIGURES_NGINX_URL") else {
        println!("KIE_FIGURES_NGINX_URL not set: skipped");
        return;
    };
    let path = big_file(256 << 20);
    let defaults = Settings {
        idle: None,
        retry: RetryPolicy::default(),
        roots: None,
    };
    println!(
        "\nnginx, client_max_body_size 1m\n| driver | outcome | elapsed | bytes read from the file |"
    );
    for driver in [Driver::Blocking, Driver::Async] {
        for _ in 0..3 {
            let sent = Arc::new(AtomicU64::new(0));
            let started = Instant::now();
            let outcome = driver.upload_file(&base, &defaults, &path, &sent);
            println!(
                "| {driver:?} | {outcome} | {:.3} s | {} |",
                started.elapsed().as_secs_f64(),
                sent.load(Ordering::Relaxed)
            );
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// The same 256 MiB upload through TLS to a real nginx (`kie_tests::real_servers`, started
/// here in front of the emulator when nginx is installed) with `client_max_body_size 1m`.
#[test]
#[ignore = "a figure for BENCHMARKS.md, run by hand"]
fn early_answers_nginx_tls() {
    use kie_tests::real_servers::Nginx;
    use kie_tests::tls_front::{CertKind, TestCa};

    let Some(program) = Nginx::find() else { return };
    let ca = TestCa::generate("kie-rs figures CA");
    let emulator = kie_tests::Emulator::start();
    let upstream = emulator
        .upload_base_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let nginx = Nginx::start_tls_proxy(&program, &ca.issue(CertKind::Valid), upstream, "1m");
    let path = big_file(256 << 20);
    let defaults = Settings {
        idle: None,
        retry: RetryPolicy::default(),
        roots: Some(TlsRoots::Only(vec![ca.der()])),
    };
    println!(
        "\nnginx over TLS, client_max_body_size 1m\n| driver | outcome | elapsed | bytes read from the file |"
    );
    for driver in [Driver::Blocking, Driver::Async] {
        for _ in 0..3 {
            let sent = Arc::new(AtomicU64::new(0));
            let started = Instant::now();
            let outcome = driver.upload_file(&nginx.base_url(), &defaults, &path, &sent);
            println!(
                "| {driver:?} | {outcome} | {:.3} s | {} |",
                started.elapsed().as_secs_f64(),
                sent.load(Ordering::Relaxed)
            );
        }
    }
    println!("nginx saw: {:?}", nginx.access_log());
    let _ = std::fs::remove_file(&path);
}

#[test]
#[ignore = "a figure for BENCHMARKS.md, run by hand"]
fn stalled_writes() {
    let path = big_file(8 << 20);
    println!(
        "\n| driver | outcome | elapsed | attempts | bytes read by the peer | bytes read from the file |"
    );
    for idle in [5, 10] {
        let settings = Settings {
            idle: Some(Duration::from_secs(idle)),
            retry: RetryPolicy::never(),
            roots: None,
        };
        for driver in [Driver::Blocking, Driver::Async] {
            measure_upload(driver, Behaviour::Blackhole, &settings, &path);
        }
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
#[ignore = "a figure for BENCHMARKS.md, run by hand (about 4 minutes)"]
fn default_bounds() {
    let path = big_file(8 << 20);
    let mut threads = Vec::new();
    for driver in [Driver::Blocking, Driver::Async] {
        let path = path.clone();
        threads.push(std::thread::spawn(move || {
            let drip = HostilePeer::start(Behaviour::DripAnswer {
                answer: Behaviour::json(200, r#"{"code":200,"msg":"success","data":100}"#),
                bytes: 1,
                every: Duration::from_secs(1),
            });
            let started = Instant::now();
            let outcome = driver.credits(&drip.base_url());
            println!(
                "| {driver:?} | credits, answer dripped at 1 B/s | {outcome} | {:.1} s | {} |",
                started.elapsed().as_secs_f64(),
                drip.connections().len()
            );
            let stall = HostilePeer::start(Behaviour::StallBeforeHeaders);
            let started = Instant::now();
            let outcome = driver.credits(&stall.base_url());
            println!(
                "| {driver:?} | credits, never answered | {outcome} | {:.1} s | {} |",
                started.elapsed().as_secs_f64(),
                stall.connections().len()
            );
            let sent = Arc::new(AtomicU64::new(0));
            let defaults = Settings {
                idle: None,
                retry: RetryPolicy::default(),
                roots: None,
            };
            let hole = HostilePeer::start(Behaviour::Blackhole);
            let started = Instant::now();
            let outcome = driver.upload_file(&hole.base_url(), &defaults, &path, &sent);
            println!(
                "| {driver:?} | 8 MiB upload, never read | {outcome} | {:.1} s | {} |",
                started.elapsed().as_secs_f64(),
                hole.connections().len()
            );
        }));
    }
    for thread in threads {
        thread.join().unwrap();
    }
    let _ = std::fs::remove_file(&path);
}

/// reqwest's default 30 s `TCP_USER_TIMEOUT` used to cut a stalled kie-async upload at
/// ~31 s whatever the idle limit said; with 45 s the stall must end at 45 s.
#[test]
#[ignore = "a figure for BENCHMARKS.md, run by hand (45 s)"]
fn stall_past_tcp_user_timeout() {
    let path = big_file(8 << 20);
    let settings = Settings {
        idle: Some(Duration::from_secs(45)),
        retry: RetryPolicy::never(),
        roots: None,
    };
    println!(
        "\n| driver | outcome | elapsed | attempts | bytes read by the peer | bytes read from the file |"
    );
    measure_upload(Driver::Async, Behaviour::Blackhole, &settings, &path);
    let _ = std::fs::remove_file(&path);
}
