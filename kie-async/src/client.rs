//! [`Client`] and [`ClientBuilder`]: the settings and the transport a client sends with.
//! Its methods are in `upload.rs`, `common.rs` and `many.rs`; the TLS set-up in `tls.rs`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use kie_proto::driver::ProxyRules;
use kie_proto::{Api, ClientConfig, Error, RetryPolicy, Timeouts, TlsRoots};

use crate::tls::{config_error, tls_config};

pub use kie_proto::{
    DEFAULT_ANSWER_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_LOW_SPEED, DEFAULT_READ_TIMEOUT,
    DEFAULT_SMALL_CALL_TIMEOUT, ENV_API_BASE_URL, ENV_API_KEY, ENV_UPLOAD_BASE_URL,
};

/// An async client of the KIE.AI File Upload API and Common API.
///
/// Cheap to clone (the clones share one connection pool); `Send + Sync`; every method's
/// future is `Send`, and works on multi-thread and current-thread tokio runtimes. `Debug`
/// never shows the API key.
///
/// ```
/// use kie_async::{Client, UploadOptions};
///
/// async fn share(client: &Client) -> Result<String, kie_async::Error> {
///     let options = UploadOptions::new("documents/uploads").file_name("hello.txt");
///     let uploaded = client.upload_bytes("hello, KIE", &options).await?;
///     Ok(uploaded.download_url)
/// }
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # let emulator = kie_emulator::Emulator::start();
/// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url())
/// #     .api_base_url(&emulator.api_base_url()))?;
/// // let client = Client::from_env()?; // KIE_API_KEY
/// let url = share(&client).await?;
/// assert!(url.ends_with("/documents/uploads/hello.txt"));
/// # Ok::<(), kie_async::Error>(())
/// # })?;
/// # Ok::<(), kie_async::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) api: Api,
    pub(crate) http: reqwest::Client,
    pub(crate) retry_policy: RetryPolicy,
    pub(crate) timeouts: Timeouts,
    /// The proxy rules of the client's own `reqwest::Client` (empty for a caller's).
    pub(crate) proxy_rules: ProxyRules,
}

impl Inner {
    /// Whether a request to `url` goes through a proxy.
    pub(crate) fn via_proxy(&self, url: &reqwest::Url) -> bool {
        url.host_str()
            .is_some_and(|host| self.proxy_rules.proxy_for(url.scheme(), host).is_some())
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api", &self.inner.api)
            .field("retry_policy", &self.inner.retry_policy)
            .field("timeouts", &self.inner.timeouts)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Client`]; from [`Client::builder`].
pub struct ClientBuilder {
    config: ClientConfig,
    http_client: Option<reqwest::Client>,
    http2: bool,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .field(
                "http_client",
                &self.http_client.as_ref().map(|_| "<custom>"),
            )
            .field("http2", &self.http2)
            .finish()
    }
}

impl ClientBuilder {
    /// Offers HTTP/2 by ALPN over TLS, used when the server accepts it: one connection
    /// then carries every call, [`upload_many`](Client::upload_many)'s uploads at once.
    /// By default the client speaks HTTP/1.1 (plain `http://` always does), as kie-blocking
    /// does. Not applied to a client given with [`http_client`](Self::http_client).
    ///
    /// Choose it behind a proxy or gateway that limits connections, or where a TLS
    /// handshake per connection costs more than the uploads (many tiny calls on a link of
    /// long round trips). Not for large uploads on a link of long round trips: an HTTP/2
    /// upload moves at most the server's flow-control window per round trip (1 MiB with
    /// hyper's or Go's defaults, 64 KiB to start with nginx's), while HTTP/1.1 has TCP's
    /// window, which grows to several MiB. Measured (BENCHMARKS.md): a 256 MiB upload at
    /// 20 ms round trip took 4.1× as long over HTTP/2; 2,000 small uploads at concurrency
    /// 32 took as long either way there, and 1.34× as long over HTTP/2 on loopback.
    pub fn http2(mut self) -> Self {
        self.http2 = true;
        self
    }

    /// Sends requests through this `reqwest::Client` (its proxy, TLS, pool settings).
    ///
    /// Configure it with `redirect(reqwest::redirect::Policy::none())`, as the default
    /// client is: the SDK's rule is that no redirect is followed. With a client that
    /// follows redirects anyway, the API key still never reaches another origin (reqwest
    /// drops `Authorization` on any hop that changes scheme, host or port; tested against
    /// the emulator), and an answer that arrives from another URL is never taken for the
    /// endpoint's: the call fails with
    /// [`TransportFailure::Redirected`](crate::TransportFailure::Redirected), not retried.
    /// The connect timeout of this builder is not applied to it (set it on the reqwest
    /// client); the overall and idle timeouts of this builder apply only when set
    /// explicitly.
    ///
    /// reqwest's own TLS uses aws-lc-rs (this crate's `aws-lc-rs` feature turns on
    /// reqwest's `rustls`). With the `ring` feature alone, reqwest has no crypto provider
    /// of its own and panics while building a client unless one is installed for the
    /// process first: `rustls::crypto::ring::default_provider().install_default()`.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// The client. Fails on an invalid key, base URL or user agent suffix, or if TLS cannot
    /// be set up.
    pub fn build(self) -> Result<Client, Error> {
        let api = self.config.api()?;
        // A caller's client keeps its own timeouts, except the overall and idle ones set
        // here explicitly (its connect timeout cannot be changed from outside).
        let timeouts = self.config.timeouts_for(self.http_client.is_some());
        let (http, proxy_rules) = match self.http_client {
            Some(client) => (client, ProxyRules::default()),
            None => {
                let rules = self.config.proxy_rules(|name| std::env::var(name).ok())?;
                let client = default_http_client(
                    timeouts.connect,
                    &rules,
                    self.http2,
                    self.config.tls_roots_ref(),
                )?;
                (client, rules)
            }
        };
        Ok(Client {
            inner: Arc::new(Inner {
                api,
                http,
                retry_policy: *self.config.retry_policy_ref(),
                timeouts,
                proxy_rules,
            }),
        })
    }
}

/// The reqwest client: rustls configured by [`tls_config`] (no OpenSSL), HTTP/2 by ALPN
/// only if `http2`, no redirects, proxies by kie-proto's `rules` (never reqwest's own
/// reading of the environment).
///
/// reqwest sets `TCP_USER_TIMEOUT` to 30 s by default, which cut stalled uploads at ~31 s
/// whatever the configured timeouts said; it is turned off, so the call's own budget
/// (idle, low-speed, answer, small-call limits; the same as kie-blocking's) decides.
fn default_http_client(
    connect_timeout: Option<Duration>,
    rules: &ProxyRules,
    http2: bool,
    roots: &TlsRoots,
) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(roots, http2)?)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    {
        builder = builder.tcp_user_timeout(None);
    }
    if let Some(timeout) = connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    if !http2 {
        builder = builder.http1_only();
    }
    if !rules.is_empty() {
        let rules = rules.clone();
        builder = builder.proxy(reqwest::Proxy::custom(move |url| {
            rules
                .proxy_for(url.scheme(), url.host_str()?)
                .map(|proxy| proxy.as_str_with_credentials().to_owned())
        }));
    }
    builder
        .build()
        .map_err(|error| config_error("reqwest refused the HTTP client's settings", error))
}

impl Client {
    /// A client of the production service with `key` and default settings.
    ///
    /// Fails with [`Error::InvalidInput`] if the key is empty or holds a byte that cannot go
    /// into a header (a trailing newline, for instance); the message never shows the key.
    /// Needs no runtime (nothing is sent until a method is awaited).
    ///
    /// ```
    /// use kie_async::Client;
    /// let client = Client::new("sk-example")?;
    /// assert!(!format!("{client:?}").contains("sk-example"));
    /// assert!(Client::new("sk-example\n").is_err());
    /// # Ok::<(), kie_async::Error>(())
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
    /// use kie_async::{Client, ClientConfig, RetryPolicy};
    /// let config = ClientConfig::new("sk-example")
    ///     .upload_base_url("http://127.0.0.1:8080")
    ///     .user_agent_suffix("my-app/1.0")
    ///     .connect_timeout(Duration::from_secs(5))
    ///     .read_timeout(Duration::from_secs(30))
    ///     .retry_policy(RetryPolicy::default().with_max_attempts(6));
    /// let client = Client::from_config(config)?;
    /// assert_eq!(client.api().upload_base_url(), "http://127.0.0.1:8080");
    /// # Ok::<(), kie_async::Error>(())
    /// ```
    pub fn from_config(config: ClientConfig) -> Result<Client, Error> {
        Client::builder(config).build()
    }

    /// A builder for a client with `config` (a [`ClientConfig`], or just a key), to choose
    /// the `reqwest::Client` or HTTP/2 before [`build`](ClientBuilder::build).
    pub fn builder(config: impl Into<ClientConfig>) -> ClientBuilder {
        ClientBuilder {
            config: config.into(),
            http_client: None,
            http2: false,
        }
    }

    /// The key, base URLs and user agent in use.
    pub fn api(&self) -> &Api {
        &self.inner.api
    }

    /// The retry policy in use.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry_policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key() {
        let builder = Client::builder("sk-very-secret-123");
        assert!(!format!("{builder:?}").contains("very-secret"));
        let client = builder.build().map_err(|e| e.to_string());
        assert!(!format!("{client:?}").contains("very-secret"));
    }

    #[test]
    fn proxy_credentials_are_never_shown() {
        let builder = Client::builder(
            kie_proto::ClientConfig::new("k").proxy("http://user:hunter2@proxy:3128"),
        );
        assert!(!format!("{builder:?}").contains("hunter2"));
        let client = builder.build().map_err(|e| e.to_string());
        assert!(client.is_ok());
        assert!(!format!("{client:?}").contains("hunter2"));
        let error = Client::builder(
            kie_proto::ClientConfig::new("k").proxy("socks5://user:hunter2@proxy:1080"),
        )
        .build()
        .err();
        assert!(matches!(
            error,
            Some(Error::InvalidInput(
                kie_proto::InvalidInput::ProxyUrl { .. }
            ))
        ));
        assert!(!format!("{error:?}").contains("hunter2"));
    }

    #[test]
    fn timeouts_defaults_and_overrides() -> Result<(), Error> {
        let client = Client::new("k")?;
        assert_eq!(client.inner.timeouts, Timeouts::DEFAULT);
        let client = Client::builder(ClientConfig::new("k").timeout(Duration::from_millis(5)))
            .http_client(
                reqwest::Client::builder()
                    .tls_backend_preconfigured(tls_config(&TlsRoots::Platform, false)?)
                    .build()
                    .map_err(|error| config_error("test client", error))?,
            )
            .build()?;
        assert_eq!(
            client.inner.timeouts.overall,
            Some(Duration::from_millis(5))
        );
        assert_eq!(client.inner.timeouts.idle, None);
        Ok(())
    }
}
