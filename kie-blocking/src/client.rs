//! [`Client`] and [`ClientBuilder`].

use std::fmt;

use kie_proto::{Api, ClientConfig, Error, InvalidInput, ProxyUrl, RetryPolicy, TlsRoots};
use ureq::Agent;

use crate::transport::{Agents, Transport};

pub use kie_proto::{ENV_API_BASE_URL, ENV_API_KEY, ENV_UPLOAD_BASE_URL};

/// A blocking client of the KIE.AI File Upload API and Common API.
///
/// Cheap to clone (clones share the connection pool); `Send + Sync`, so one client can serve
/// many threads. `Debug` never shows the API key.
///
/// Every method checks its input before sending anything (an invalid `uploadPath`, a missing
/// file or a non-http URL fail with no request made), retries what the
/// [`RetryPolicy`] allows — sleeping for the backoff or the server's `Retry-After` — and
/// returns the one [`Error`] type shared with `kie-async`.
///
/// ```
/// use kie_blocking::{Client, UploadOptions};
///
/// fn share(client: &Client) -> Result<String, kie_blocking::Error> {
///     let options = UploadOptions::new("documents/uploads").file_name("hello.txt");
///     let uploaded = client.upload_bytes(b"hello, KIE", &options)?;
///     Ok(uploaded.download_url)
/// }
/// # let emulator = kie_emulator::Emulator::start();
/// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url())
/// #     .api_base_url(&emulator.api_base_url()))?;
/// // let client = Client::from_env()?; // KIE_API_KEY
/// let url = share(&client)?;
/// assert!(url.ends_with("/documents/uploads/hello.txt"));
/// # Ok::<(), kie_blocking::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) transport: Transport,
    pub(crate) api: Api,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api", &self.api)
            .field("retry_policy", &self.transport.retry)
            .field("timeouts", &self.transport.timeouts)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the production service with `key` and default settings.
    ///
    /// Fails with [`Error::InvalidInput`] if the key is empty or holds a byte that cannot go
    /// into a header (a trailing newline, for instance); the message never shows the key.
    ///
    /// ```
    /// use kie_blocking::Client;
    /// let client = Client::new("sk-example")?;
    /// assert!(!format!("{client:?}").contains("sk-example"));
    /// assert!(Client::new("sk-example\n").is_err());
    /// # Ok::<(), kie_blocking::Error>(())
    /// ```
    pub fn new(key: &str) -> Result<Client, Error> {
        Client::builder(key).build()
    }

    /// A client configured from the environment: `KIE_API_KEY` (required), and optionally
    /// `KIE_UPLOAD_BASE_URL` and `KIE_API_BASE_URL`. A missing key is
    /// [`InvalidInput::ApiKeyNotInEnvironment`](crate::InvalidInput::ApiKeyNotInEnvironment).
    pub fn from_env() -> Result<Client, Error> {
        Client::from_config(ClientConfig::from_env_with(|name| std::env::var(name).ok()))
    }

    /// A client with `config`'s settings ([`ClientConfig`]: key, base URLs, timeouts,
    /// retries, proxy, TLS roots) and this crate's own transport. Nothing is sent.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kie_blocking::{Client, ClientConfig, RetryPolicy};
    /// let config = ClientConfig::new("sk-example")
    ///     .upload_base_url("http://127.0.0.1:8080")
    ///     .user_agent_suffix("my-app/1.0")
    ///     .connect_timeout(Duration::from_secs(5))
    ///     .read_timeout(Duration::from_secs(30))
    ///     .retry_policy(RetryPolicy::default().with_max_attempts(6));
    /// let client = Client::from_config(config)?;
    /// assert_eq!(client.api().upload_base_url(), "http://127.0.0.1:8080");
    /// # Ok::<(), kie_blocking::Error>(())
    /// ```
    pub fn from_config(config: ClientConfig) -> Result<Client, Error> {
        Client::builder(config).build()
    }

    /// A builder for a client with `config` (a [`ClientConfig`], or just a key), to choose
    /// the ureq agent before [`build`](ClientBuilder::build).
    pub fn builder(config: impl Into<ClientConfig>) -> ClientBuilder {
        ClientBuilder {
            config: config.into(),
            agent: None,
        }
    }

    /// The key, base URLs and user agent in use.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// The retry policy in use.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.transport.retry
    }
}

/// Settings of a [`Client`]; made by [`Client::builder`].
///
/// Every call runs under one time budget (kie-proto's
/// [`CallBudget`](kie_proto::driver::CallBudget)); the client's own agent enforces it on every
/// socket wait, so each limit holds to within a second:
///
/// | setting ([`ClientConfig`]) | ends an attempt when | default |
/// |---|---|---|
/// | [`connect_timeout`](ClientConfig::connect_timeout) | resolving and connecting (TCP + TLS) take longer (ureq's `timeout_resolve` and `timeout_connect`) | 30 s |
/// | [`read_timeout`](ClientConfig::read_timeout) | nothing moved either way for this long, including the wait for the answer's head | 60 s |
/// | [`low_speed_limit`](ClientConfig::low_speed_limit) | the body moves fewer bytes than this per window | 16 KiB per 30 s |
/// | [`answer_timeout`](ClientConfig::answer_timeout) | the answer is not complete this long after the request's last byte | 120 s |
/// | [`timeout`](ClientConfig::timeout) | one attempt, from connecting to the last byte of the answer, takes longer | none |
/// | [`small_call_timeout`](ClientConfig::small_call_timeout) | `credits`, `download_url`, `upload_url` take longer, retries included | 90 s |
///
/// The overall timeout includes sending the body, so leave it unset (or generous) for large
/// uploads: the idle and low-speed limits catch a stalled connection. Each retry gets the
/// full per-attempt limits again. With a caller's [`agent`](Self::agent), the connect, idle
/// and overall limits become ureq's `timeout_connect`, `timeout_per_read`/`timeout_per_write`
/// and `timeout_per_call`, and only the small-call limit of the others applies (between
/// attempts).
#[must_use]
pub struct ClientBuilder {
    config: ClientConfig,
    agent: Option<Agent>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .field("agent", &self.agent.as_ref().map(|_| "<custom>"))
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Uses this ureq agent (proxy, TLS roots, pool sizes, …). The client still refuses
    /// redirects and reads every status itself; the timeouts of this builder are applied
    /// only when set explicitly, otherwise the agent's own apply, and only as ureq settings
    /// (see the table above): the low-speed and answer limits, the exact stalled-write
    /// timing and the reading of early answers need the client's own agent. Its proxy and
    /// TLS settings apply too (the config's [`proxy`](ClientConfig::proxy) and [`tls_roots`](ClientConfig::tls_roots) are not).
    pub fn agent(mut self, agent: Agent) -> Self {
        self.agent = Some(agent);
        self
    }

    /// Checks the settings and builds the client. Nothing is sent.
    pub fn build(self) -> Result<Client, Error> {
        let api = self.config.api()?;
        // A caller's agent keeps its own timeouts, except those set here explicitly.
        let timeouts = self.config.timeouts_for(self.agent.is_some());
        let budget_sockets = self.agent.is_none();
        let agents = match self.agent {
            Some(agent) => Agents::single(agent),
            None => {
                let rules = self.config.proxy_rules(|name| std::env::var(name).ok())?;
                let proxies: Vec<&ProxyUrl> = [api.upload_base_url(), api.api_base_url()]
                    .iter()
                    .filter_map(|base| {
                        let uri: kie_proto::http::Uri = base.parse().ok()?;
                        rules.proxy_for(uri.scheme_str()?, uri.host()?)
                    })
                    .collect();
                let roots = root_certs(self.config.tls_roots_ref())?;
                Agents::for_rules(rules.clone(), &proxies, |proxy| {
                    default_agent(proxy, roots.clone())
                })?
            }
        };
        Ok(Client {
            transport: Transport {
                agents,
                timeouts,
                retry: *self.config.retry_policy_ref(),
                budget_sockets,
            },
            api,
        })
    }
}

/// ureq's name for the certificate authorities to trust.
fn root_certs(roots: &TlsRoots) -> Result<ureq::tls::RootCerts, Error> {
    use ureq::tls::{Certificate, RootCerts};
    Ok(match roots {
        TlsRoots::Only(certificates) => {
            // ureq would skip a certificate rustls cannot use; refuse it instead, as
            // kie-async does.
            for (index, der) in certificates.iter().enumerate() {
                rustls::RootCertStore::empty()
                    .add(rustls::pki_types::CertificateDer::from(der.as_slice()))
                    .map_err(|_| InvalidInput::TlsRootInvalid { index })?;
            }
            RootCerts::Specific(std::sync::Arc::new(
                certificates
                    .iter()
                    .map(|der| Certificate::from_der(der).to_owned())
                    .collect(),
            ))
        }
        #[cfg(feature = "webpki-roots")]
        TlsRoots::WebPki => RootCerts::WebPki,
        #[cfg(not(feature = "webpki-roots"))]
        TlsRoots::WebPki => return Err(InvalidInput::WebPkiRootsNotBuiltIn.into()),
        _ => RootCerts::PlatformVerifier,
    })
}

/// An agent of a client that was given none: rustls with the crate's crypto provider (see
/// [`crypto_provider`]) and `roots` (by default the platform's certificate verifier: the system trust store,
/// `SSL_CERT_FILE` and `SSL_CERT_DIR` honoured), through `proxy` or directly, with the TCP
/// layer replaced by one whose waits obey the call's time budget and that reads an early
/// answer (see `socket`; a CONNECT proxy's tunnel is opened by ureq's own TCP layer).
/// Redirects and status handling are set on every request, whatever the agent (see
/// `transport::exchange`).
fn default_agent(proxy: Option<&ProxyUrl>, roots: ureq::tls::RootCerts) -> Result<Agent, Error> {
    use ureq::tls::{TlsConfig, TlsProvider};
    use ureq::unversioned::resolver::DefaultResolver;
    use ureq::unversioned::transport::{ConnectProxyConnector, Connector as _, RustlsConnector};
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(roots)
        .unversioned_rustls_crypto_provider(std::sync::Arc::new(crypto_provider()))
        .build();
    let proxy = proxy
        .map(|proxy| ureq::Proxy::new(proxy.as_str_with_credentials()))
        .transpose()
        .map_err(|_| InvalidInput::ProxyUrl {
            reason: "ureq cannot use it",
        })?;
    // Raw content is read straight into the output buffer, and a download is handed on from
    // the input buffer: larger reads and writes, fewer calls (a 1 GiB download: 1.0 s with
    // ureq's default 128 KiB, 0.87 s with 512 KiB; transport::ANSWER_PIECE matches it).
    let config = Agent::config_builder()
        .tls_config(tls)
        .proxy(proxy)
        .output_buffer_size(OUTPUT_BUFFER)
        .input_buffer_size(INPUT_BUFFER)
        .build();
    let connector =
        ().chain(ConnectProxyConnector::default())
            .chain(crate::socket::BudgetTcpConnector)
            .chain(RustlsConnector::default())
            .chain(crate::socket::ReparseConnector);
    Ok(Agent::with_parts(
        config,
        connector,
        DefaultResolver::default(),
    ))
}

/// The size of ureq's output buffer per connection (its default is 128 KiB): raw content
/// is read straight into it.
const OUTPUT_BUFFER: usize = 512 * 1024;

/// The size of ureq's input buffer per connection (its default is 128 KiB): a download is
/// handed on from it in pieces of this size.
pub(crate) const INPUT_BUFFER: usize = 512 * 1024;

/// The crypto provider of TLS, chosen by Cargo feature (the same rule as kie-async's):
/// ring when the `ring` feature is on, otherwise aws-lc-rs (the default feature).
#[cfg(feature = "ring")]
fn crypto_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The crypto provider of TLS, chosen by Cargo feature (the same rule as kie-async's):
/// ring when the `ring` feature is on, otherwise aws-lc-rs (the default feature).
#[cfg(all(feature = "aws-lc-rs", not(feature = "ring")))]
fn crypto_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

#[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
compile_error!(
    "kie-blocking needs a TLS crypto provider: turn on its `aws-lc-rs` (default) or `ring` feature"
);

#[cfg(test)]
mod tests {
    use super::*;
    use kie_proto::{InvalidInput, Timeouts};
    use std::time::Duration;

    #[test]
    fn crypto_provider_follows_the_features() {
        // Only aws-lc-rs has the post-quantum hybrid key exchange; ring wins when both are on.
        let post_quantum = crypto_provider()
            .kx_groups
            .iter()
            .any(|group| group.name() == rustls::NamedGroup::X25519MLKEM768);
        assert_eq!(post_quantum, !cfg!(feature = "ring"));
    }

    #[test]
    fn client_is_clone_send_sync() {
        fn assert_traits<T: Clone + Send + Sync + 'static>() {}
        assert_traits::<Client>();
    }

    #[test]
    fn debug_hides_the_key() {
        let builder = Client::builder("sk-very-secret-123");
        assert!(!format!("{builder:?}").contains("very-secret"));
        let client = builder.build().unwrap();
        assert!(!format!("{client:?}").contains("very-secret"));
    }

    #[test]
    fn proxy_credentials_are_never_shown() {
        let builder = Client::builder(
            kie_proto::ClientConfig::new("k").proxy("http://user:hunter2@proxy:3128"),
        );
        assert!(!format!("{builder:?}").contains("hunter2"));
        let client = builder.build().unwrap();
        assert!(!format!("{client:?}").contains("hunter2"));
        let error = Client::builder(
            kie_proto::ClientConfig::new("k").proxy("socks5://user:hunter2@proxy:1080"),
        )
        .build()
        .unwrap_err();
        assert!(matches!(
            error,
            Error::InvalidInput(InvalidInput::ProxyUrl { .. })
        ));
        assert!(!format!("{error} {error:?}").contains("hunter2"));
    }

    #[test]
    fn bad_settings_fail_at_build() {
        assert!(matches!(
            Client::new("key\n"),
            Err(Error::InvalidInput(InvalidInput::ApiKeyInvalidByte { .. }))
        ));
        assert!(matches!(
            Client::from_config(kie_proto::ClientConfig::new("k").upload_base_url("ftp://x")),
            Err(Error::InvalidInput(InvalidInput::UrlScheme { .. }))
        ));
        assert!(matches!(
            Client::from_config(kie_proto::ClientConfig::new("k").user_agent_suffix("\n")),
            Err(Error::InvalidInput(InvalidInput::UserAgent(_)))
        ));
    }

    #[test]
    fn timeouts_defaults_and_overrides() {
        let client = Client::new("k").unwrap();
        assert_eq!(client.transport.timeouts, Timeouts::DEFAULT);
        let config = ClientConfig::new("k").read_timeout(Duration::from_millis(5));
        let client = Client::builder(config)
            .agent(Agent::new_with_defaults())
            .build()
            .unwrap();
        assert_eq!(
            client.transport.timeouts,
            Timeouts::NONE.with_idle(Some(Duration::from_millis(5)))
        );
    }
}
