//! A TLS front for the emulator: a loopback listener that terminates TLS with a certificate
//! issued by a CA generated at test time, and forwards the decrypted bytes to an upstream
//! address (an emulator host), as nginx or a CDN in front of the service would.
//!
//! ```
//! use kie_tests::tls_front::{CertKind, TestCa, TlsFront};
//! let ca = TestCa::generate("example CA");
//! assert!(ca.pem().starts_with("-----BEGIN CERTIFICATE-----"));
//! let emulator = kie_tests::Emulator::start();
//! let upstream = emulator.upload_base_url().trim_start_matches("http://").parse().unwrap();
//! let front = TlsFront::start(ca.issue(CertKind::Valid), upstream);
//! assert!(front.base_url().starts_with("https://127.0.0.1:"));
//! ```
#![allow(clippy::expect_used)] // test infrastructure: failing to make a key is a broken machine

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
    date_time_ymd,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};

/// A certificate authority made for one test run.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
    der: Vec<u8>,
}

/// Which server certificate to issue. All are for `127.0.0.1` unless said otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertKind {
    /// Valid from 2020 to 2099.
    Valid,
    /// Expired in 2001.
    Expired,
    /// Valid, but for `wrong.example` only.
    WrongHost,
}

/// A server's certificate chain and private key.
pub struct ServerIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
    certificate_pem: String,
    key_pem: String,
}

impl TestCa {
    /// A fresh CA named `name`, with a new key.
    pub fn generate(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("generate the CA key");
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = date_time_ymd(2000, 1, 1);
        params.not_after = date_time_ymd(2099, 1, 1);
        let certificate = params.self_signed(&key).expect("self-sign the CA");
        TestCa {
            pem: certificate.pem(),
            der: certificate.der().to_vec(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA certificate, PEM (what goes into `SSL_CERT_FILE`).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The CA certificate, DER.
    pub fn der(&self) -> Vec<u8> {
        self.der.clone()
    }

    /// A server certificate of `kind`, signed by this CA.
    pub fn issue(&self, kind: CertKind) -> ServerIdentity {
        let key = KeyPair::generate().expect("generate a server key");
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "kie-tests front");
        params.subject_alt_names = match kind {
            CertKind::WrongHost => vec![SanType::DnsName(
                "wrong.example".try_into().expect("a DNS name"),
            )],
            CertKind::Valid | CertKind::Expired => {
                vec![SanType::IpAddress(Ipv4Addr::LOCALHOST.into())]
            }
        };
        (params.not_before, params.not_after) = match kind {
            CertKind::Expired => (date_time_ymd(2000, 1, 1), date_time_ymd(2001, 1, 1)),
            CertKind::Valid | CertKind::WrongHost => {
                (date_time_ymd(2020, 1, 1), date_time_ymd(2099, 1, 1))
            }
        };
        let certificate = params
            .signed_by(&key, &self.issuer)
            .expect("sign a server certificate");
        ServerIdentity {
            chain: vec![certificate.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
            certificate_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

impl ServerIdentity {
    /// The server certificate, PEM (nginx's `ssl_certificate`).
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The private key, PKCS#8 PEM (nginx's `ssl_certificate_key`).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A TLS acceptor serving this identity (aws-lc-rs, TLS 1.2 and 1.3) that offers
    /// `alpn` in order of preference.
    pub fn acceptor(self, alpn: &[&[u8]]) -> tokio_rustls::TlsAcceptor {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(self.chain, PrivateKeyDer::Pkcs8(self.key))
            .expect("a valid certificate and key");
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }
}

/// A running TLS front; stops when dropped.
pub struct TlsFront {
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
    versions: Arc<Mutex<Vec<http::Version>>>,
}

impl TlsFront {
    /// Listens on a free loopback port; every connection is TLS with `identity` (ALPN
    /// `http/1.1`), forwarded byte for byte to `upstream`.
    pub fn start(identity: ServerIdentity, upstream: SocketAddr) -> TlsFront {
        let acceptor = identity.acceptor(&[b"http/1.1"]);
        let runtime = crate::net_runtime("kie-tls-front");
        let (listener, addr) = crate::loopback_listener("bind the TLS front");
        runtime.spawn(async move {
            let Ok(listener) = TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((client, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A failed handshake is the client refusing the certificate: expected.
                    let Ok(mut tls) = acceptor.accept(client).await else {
                        return;
                    };
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
                });
            }
        });
        TlsFront {
            addr,
            runtime: Some(runtime),
            versions: Arc::default(),
        }
    }

    /// Like [`start`](Self::start), but as an HTTP server, as nginx with `http2 on` is:
    /// ALPN offers `h2` and `http/1.1`; every request, whichever protocol it came in,
    /// is forwarded to `upstream` over a fresh HTTP/1.1 connection. The protocol of each
    /// request is logged ([`versions`](Self::versions)).
    pub fn start_http2(identity: ServerIdentity, upstream: SocketAddr) -> TlsFront {
        let acceptor = identity.acceptor(&[b"h2", b"http/1.1"]);
        let runtime = crate::net_runtime("kie-tls-front-h2");
        let (listener, addr) = crate::loopback_listener("bind the TLS front");
        let versions: Arc<Mutex<Vec<http::Version>>> = Arc::default();
        let log = Arc::clone(&versions);
        runtime.spawn(async move {
            let Ok(listener) = TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((client, _)) = listener.accept().await {
                let (acceptor, log) = (acceptor.clone(), Arc::clone(&log));
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(client).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |request| {
                        forward(request, upstream, Arc::clone(&log))
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
                });
            }
        });
        TlsFront {
            addr,
            runtime: Some(runtime),
            versions,
        }
    }

    /// The protocol of every request an HTTP front ([`start_http2`](Self::start_http2))
    /// received, in order.
    pub fn versions(&self) -> Vec<http::Version> {
        self.versions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `https://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Sends `request` to `upstream` over a new HTTP/1.1 connection and returns its answer.
async fn forward(
    request: http::Request<hyper::body::Incoming>,
    upstream: SocketAddr,
    log: Arc<Mutex<Vec<http::Version>>>,
) -> Result<http::Response<hyper::body::Incoming>, Box<dyn std::error::Error + Send + Sync>> {
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(request.version());
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let (mut parts, body) = request.into_parts();
    parts.version = http::Version::HTTP_11;
    parts.uri = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()?;
    parts
        .headers
        .insert(http::header::HOST, upstream.to_string().parse()?);
    Ok(sender
        .send_request(http::Request::from_parts(parts, body))
        .await?)
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
