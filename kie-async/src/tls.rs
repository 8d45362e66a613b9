//! The TLS configuration of the client's own `reqwest::Client`: rustls with the crypto
//! provider chosen by Cargo feature, the trust roots chosen on the builder, ALPN.

use std::sync::Arc;

use kie_proto::{Error, InvalidInput, TlsRoots};

/// The TLS configuration of the default client: rustls with the crate's crypto provider
/// (see [`crypto_provider`]), TLS 1.2 and 1.3, `roots` (by default the platform's
/// certificate verifier: the system trust store, `SSL_CERT_FILE` and `SSL_CERT_DIR`
/// honoured) and ALPN offering `http/1.1` (`h2` first if `http2`).
/// reqwest takes it as is (`tls_backend_preconfigured`), so the choices made here are the
/// only ones.
pub(crate) fn tls_config(roots: &TlsRoots, http2: bool) -> Result<rustls::ClientConfig, Error> {
    use rustls::pki_types::CertificateDer;
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
            .with_custom_certificate_verifier(Arc::new(
                rustls_platform_verifier::Verifier::new(provider).map_err(|error| {
                    config_error("the platform's certificate verifier cannot start", error)
                })?,
            )),
    };
    let mut config = builder.with_no_client_auth();
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
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
