//! The TLS configuration of the client's own `reqwest::Client`: rustls with the crypto
//! provider chosen by Cargo feature, the trust roots chosen on the builder, ALPN.

use std::sync::{Arc, Mutex, PoisonError};

use kie_proto::{Error, InvalidInput, TlsRoots};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_platform_verifier::Verifier;

/// The TLS configuration of the default client: rustls with the crate's crypto provider
/// (see [`crypto_provider`]), TLS 1.2 and 1.3, `roots` (by default the platform's
/// certificate verifier, started at the first handshake: the system trust store,
/// `SSL_CERT_FILE` and `SSL_CERT_DIR` honoured) and ALPN offering `http/1.1` (`h2` first
/// if `http2`). reqwest takes it as is (`tls_backend_preconfigured`), so the choices made here are the
/// only ones.
pub(crate) fn tls_config(roots: &TlsRoots, http2: bool) -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(crypto_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| config_error("the crypto provider offers no safe TLS version", error))?;
    // The position and rustls' reason of the first certificate that is no trust anchor.
    let only = |ders: &mut dyn Iterator<Item = &[u8]>| {
        let mut store = rustls::RootCertStore::empty();
        for (index, der) in ders.enumerate() {
            store
                .add(CertificateDer::from(der.to_vec()))
                .map_err(|reason| (index, reason))?;
        }
        Ok(store)
    };
    let builder = match roots {
        TlsRoots::Only(ders) => builder.with_root_certificates(
            only(&mut ders.iter().map(Vec::as_slice))
                .map_err(|(index, _)| InvalidInput::TlsRootInvalid { index })?,
        ),
        #[cfg(feature = "webpki-roots")]
        TlsRoots::WebPki => builder.with_root_certificates(
            only(
                &mut webpki_root_certs::TLS_SERVER_ROOT_CERTS
                    .iter()
                    .map(|c| &c[..]),
            )
            .map_err(|(_, reason)| {
                config_error("a bundled root certificate was refused", reason)
            })?,
        ),
        #[cfg(not(feature = "webpki-roots"))]
        TlsRoots::WebPki => return Err(kie_proto::InvalidInput::WebPkiRootsNotBuiltIn.into()),
        _ => builder
            .dangerous() // not dangerous: the platform's verifier checks certificates
            .with_custom_certificate_verifier(Arc::new(PlatformVerifier::new(provider))),
    };
    let mut config = builder.with_no_client_auth();
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

/// The platform's certificate verifier, started at the first TLS handshake rather than
/// when the client is built (as ureq starts it for kie-blocking): a client that only
/// speaks `http://` (the emulator, a plain-HTTP proxy) never reads the trust store, and
/// works on a machine that has none. A verifier that cannot start fails that handshake
/// with its reason ([`kie_proto::TlsFailure::NoTrustRoots`] when there is no trust store);
/// the next handshake tries again.
#[derive(Debug)]
struct PlatformVerifier {
    provider: Arc<CryptoProvider>,
    started: Mutex<Option<Arc<Verifier>>>,
}

impl PlatformVerifier {
    fn new(provider: Arc<CryptoProvider>) -> PlatformVerifier {
        PlatformVerifier {
            provider,
            started: Mutex::new(None),
        }
    }

    /// The verifier, started now if it was not yet.
    fn started(&self) -> Result<Arc<Verifier>, rustls::Error> {
        let mut started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(verifier) = started.as_ref() {
            return Ok(Arc::clone(verifier));
        }
        let verifier = Arc::new(Verifier::new(Arc::clone(&self.provider))?);
        *started = Some(Arc::clone(&verifier));
        Ok(verifier)
    }
}

impl ServerCertVerifier for PlatformVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.started()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.started()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.started()?.verify_tls13_signature(message, cert, dss)
    }

    /// The provider's schemes, as the platform verifier's own (known before it starts).
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The crypto provider of TLS, chosen by Cargo feature (the same rule as kie-blocking's):
/// ring when the `ring` feature is on, otherwise aws-lc-rs (the default feature).
#[cfg(feature = "ring")]
fn crypto_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The crypto provider of TLS, chosen by Cargo feature (the same rule as kie-blocking's):
/// ring when the `ring` feature is on, otherwise aws-lc-rs (the default feature).
#[cfg(all(feature = "aws-lc-rs", not(feature = "ring")))]
fn crypto_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

#[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
compile_error!(
    "kie-async needs a TLS crypto provider: turn on its `aws-lc-rs` (default) or `ring` feature"
);

/// A client that cannot be built (nothing was sent): `what` failed, for the library's
/// `reason`.
pub(crate) fn config_error(
    what: &'static str,
    reason: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::Config {
        what,
        source: Box::new(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crypto_provider_follows_the_features() {
        // Only aws-lc-rs has the post-quantum hybrid key exchange; ring wins when both are on.
        let post_quantum = crypto_provider()
            .kx_groups
            .iter()
            .any(|group| group.name() == rustls::NamedGroup::X25519MLKEM768);
        assert_eq!(post_quantum, !cfg!(feature = "ring"));
    }
}
