//! A TLS front for a running emulator, for benchmarks: terminates TLS with a certificate
//! from a CA generated at start, offers HTTP/2 and HTTP/1.1 by ALPN, and forwards every
//! request to the upstream address over HTTP/1.1.
//!
//! ```text
//! kie-tls-front --upstream 127.0.0.1:8080 --ca-out ca.pem
//! ```
//!
//! Prints `KIE_TLS_FRONT_URL=https://127.0.0.1:<port>` on stdout once listening, then serves
//! until killed. Trust the front with `SSL_CERT_FILE=ca.pem`.

use std::io::Write as _;
use std::net::SocketAddr;

use kie_tests::tls_front::{CertKind, TestCa, TlsFront};

fn main() -> std::process::ExitCode {
    let mut upstream: Option<SocketAddr> = None;
    let mut ca_out = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--upstream" => upstream = args.next().and_then(|a| a.parse().ok()),
            "--ca-out" => ca_out = args.next(),
            _ => upstream = None,
        }
    }
    let (Some(upstream), Some(ca_out)) = (upstream, ca_out) else {
        eprintln!("usage: kie-tls-front --upstream <ip:port> --ca-out <file>");
        return std::process::ExitCode::FAILURE;
    };
    let ca = TestCa::generate("kie-tls-front CA");
    if let Err(error) = std::fs::write(&ca_out, ca.pem()) {
        eprintln!("kie-tls-front: cannot write {ca_out}: {error}");
        return std::process::ExitCode::FAILURE;
    }
    let front = TlsFront::start_http2(ca.issue(CertKind::Valid), upstream);
    println!("KIE_TLS_FRONT_URL={}", front.base_url());
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
