//! [`Client`] and [`ClientBuilder`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kie_proto::driver::{ProxyRules, random_u64};
use kie_proto::{
    Api, ClientConfig, ContentLengthMismatch, Error, GetCredits, GetDownloadUrl, HttpUrl,
    InvalidInput, Operation, RetryPolicy, Timeouts, TlsRoots, UploadOptions, UploadPlan,
    UploadResult,
};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncSeekExt as _};

use crate::body::{AsyncReadSeek, Reader};
use crate::transport::Content;
use crate::verify::Sent;

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
/// # let client = Client::builder(emulator.api_key())
/// #     .upload_base_url(&emulator.upload_base_url())
/// #     .api_base_url(&emulator.api_base_url())
/// #     .build()?;
/// // let client = Client::from_env()?; // KIE_API_KEY
/// let url = share(&client).await?;
/// assert!(url.ends_with("/documents/uploads/hello.txt"));
/// # Ok::<(), kie_async::Error>(())
/// # })?;
/// # Ok::<(), kie_async::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
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
    http1_only: bool,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .field(
                "http_client",
                &self.http_client.as_ref().map(|_| "<custom>"),
            )
            .field("http1_only", &self.http1_only)
            .finish()
    }
}

impl ClientBuilder {
    fn with_config(config: ClientConfig) -> Self {
        Self {
            config,
            http_client: None,
            http1_only: false,
        }
    }

    /// Sends uploads to `url` instead of [`kie_proto::DEFAULT_UPLOAD_BASE_URL`].
    pub fn upload_base_url(mut self, url: &str) -> Self {
        self.config = self.config.upload_base_url(url);
        self
    }

    /// Sends credits and download-url requests to `url` instead of
    /// [`kie_proto::DEFAULT_API_BASE_URL`].
    pub fn api_base_url(mut self, url: &str) -> Self {
        self.config = self.config.api_base_url(url);
        self
    }

    /// Appends ` <suffix>` to the user agent (`kie-rs/<version> <suffix>`).
    pub fn user_agent_suffix(mut self, suffix: &str) -> Self {
        self.config = self.config.user_agent_suffix(suffix);
        self
    }

    /// Time allowed to connect (TCP and TLS); default [`DEFAULT_CONNECT_TIMEOUT`]. Not
    /// applied to a client given with [`http_client`](Self::http_client).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config = self.config.connect_timeout(timeout);
        self
    }

    /// Time allowed for a whole request, upload included; none by default (a large upload
    /// on a slow link may take hours; the idle [`read_timeout`](Self::read_timeout) catches
    /// stalls).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config = self.config.timeout(timeout);
        self
    }

    /// The longest time nothing may be sent or received during a request, default
    /// [`DEFAULT_READ_TIMEOUT`] (none with a custom [`http_client`](Self::http_client) unless
    /// set here). It restarts whenever bytes move, so it bounds stalls, not
    /// the duration of an upload.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.config = self.config.read_timeout(timeout);
        self
    }

    /// The longest the answer may take to be complete after the request's last byte,
    /// default [`DEFAULT_ANSWER_TIMEOUT`] (120 s). Bounds a server that drips its answer.
    pub fn answer_timeout(mut self, timeout: Duration) -> Self {
        self.config = self.config.answer_timeout(timeout);
        self
    }

    /// Gives up an upload whose body moves fewer than `bytes` in `window` (like curl's
    /// `--speed-limit`/`--speed-time`), default [`DEFAULT_LOW_SPEED`] (16 KiB per 30 s): a
    /// stalled or dripping peer is cut, a slow but moving upload of hours is not.
    pub fn low_speed_limit(mut self, bytes: u64, window: Duration) -> Self {
        self.config = self.config.low_speed_limit(bytes, window);
        self
    }

    /// The longest `credits`, `download_url` and `upload_url` (any request without a
    /// streamed body) may take, all attempts and retry waits included, default
    /// [`DEFAULT_SMALL_CALL_TIMEOUT`] (90 s; the service itself fetches a URL for up to
    /// 30 s).
    pub fn small_call_timeout(mut self, timeout: Duration) -> Self {
        self.config = self.config.small_call_timeout(timeout);
        self
    }

    /// When and how to retry; default [`RetryPolicy::default`]. [`RetryPolicy::never`]
    /// turns retries off.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.config = self.config.retry_policy(policy);
        self
    }

    /// Sends every request through the proxy at `url`: `http://host:port` (or
    /// `https://…` for a TLS connection to the proxy), credentials allowed
    /// (`http://user:password@proxy:3128`, percent-encoded; sent as `Proxy-Authorization`,
    /// never shown in `Debug` or errors). Requests to `https://` base URLs go through a
    /// `CONNECT` tunnel; requests to a plain `http://` base URL are sent to the proxy as
    /// they are, API key included, readable by it. Without this setting the `HTTPS_PROXY`,
    /// `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` variables apply ([`kie_proto::proxy`]). An
    /// invalid URL fails [`build`](Self::build). Not applied to a client given with
    /// [`http_client`](Self::http_client).
    ///
    /// ```
    /// let client = kie_async::Client::builder("sk-example")
    ///     .proxy("http://user:secret@proxy.internal:3128")
    ///     .build()?;
    /// assert!(!format!("{client:?}").contains("secret"));
    /// # Ok::<(), kie_async::Error>(())
    /// ```
    pub fn proxy(mut self, url: &str) -> Self {
        self.config = self.config.proxy(url);
        self
    }

    /// Connects directly, ignoring the proxy environment variables.
    pub fn no_proxy(mut self) -> Self {
        self.config = self.config.no_proxy();
        self
    }

    /// The certificate authorities to trust: by default [`TlsRoots::Platform`] (the system
    /// store; `SSL_CERT_FILE` / `SSL_CERT_DIR` honoured), or Mozilla's bundled roots
    /// ([`TlsRoots::WebPki`], with the `webpki-roots` feature), or only the given ones.
    /// Not applied to a client given with [`http_client`](Self::http_client).
    /// [`build`](Self::build) fails with [`InvalidInput::TlsRootInvalid`] if a given
    /// certificate is not DER-encoded.
    pub fn tls_roots(mut self, roots: TlsRoots) -> Self {
        self.config = self.config.tls_roots(roots);
        self
    }

    /// Speaks HTTP/1.1 only. By default HTTP/2 is offered by ALPN over TLS and used when
    /// the server accepts it (one connection then carries all of
    /// [`upload_many`](Client::upload_many)'s uploads at once); plain `http://` is always
    /// HTTP/1.1. Not applied to a client given with [`http_client`](Self::http_client).
    pub fn http1_only(mut self) -> Self {
        self.http1_only = true;
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
                    self.http1_only,
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
/// unless `http1_only`, no redirects, proxies by kie-proto's `rules` (never reqwest's own
/// reading of the environment).
///
/// reqwest sets `TCP_USER_TIMEOUT` to 30 s by default, which cut stalled uploads at ~31 s
/// whatever the configured timeouts said; it is turned off, so the call's own budget
/// (idle, low-speed, answer, small-call limits; the same as kie-blocking's) decides.
fn default_http_client(
    connect_timeout: Option<Duration>,
    rules: &ProxyRules,
    http1_only: bool,
    roots: &TlsRoots,
) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(roots, http1_only)?)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    {
        builder = builder.tcp_user_timeout(None);
    }
    if let Some(timeout) = connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    if http1_only {
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
    builder.build().map_err(unsendable)
}

/// A client that cannot be built: nothing was sent.
fn unsendable(err: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Transport {
        kind: kie_proto::TransportFailure::Unsendable,
        attempts: 0,
        source: Box::new(err),
    }
}

/// The TLS configuration of the default client: rustls with the crate's crypto provider
/// (see [`crypto_provider`]), TLS 1.2 and 1.3, `roots` (by default the platform's
/// certificate verifier: the system trust store, `SSL_CERT_FILE` and `SSL_CERT_DIR`
/// honoured) and ALPN offering `h2` then `http/1.1` (`http/1.1` only if `http1_only`).
/// reqwest takes it as is (`tls_backend_preconfigured`), so the choices made here are the
/// only ones.
fn tls_config(roots: &TlsRoots, http1_only: bool) -> Result<rustls::ClientConfig, Error> {
    use rustls::pki_types::CertificateDer;
    let provider = Arc::new(crypto_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(unsendable)?;
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
            .map_err(|(_, reason)| unsendable(reason))?,
        ),
        #[cfg(not(feature = "webpki-roots"))]
        TlsRoots::WebPki => return Err(kie_proto::InvalidInput::WebPkiRootsNotBuiltIn.into()),
        _ => builder
            .dangerous() // not dangerous: the platform's verifier checks certificates
            .with_custom_certificate_verifier(Arc::new(
                rustls_platform_verifier::Verifier::new(provider).map_err(unsendable)?,
            )),
    };
    let mut config = builder.with_no_client_auth();
    config.alpn_protocols = if http1_only {
        vec![b"http/1.1".to_vec()]
    } else {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
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
        ClientBuilder::with_config(ClientConfig::from_env_with(|name| std::env::var(name).ok()))
            .build()
    }

    /// A builder for a client with `key`, to change base URLs, timeouts, retries or the
    /// `reqwest::Client`. The key is checked here and the error (which never shows the key)
    /// is returned by [`ClientBuilder::build`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use kie_async::{Client, RetryPolicy};
    /// let client = Client::builder("sk-example")
    ///     .upload_base_url("http://127.0.0.1:8080")
    ///     .user_agent_suffix("my-app/1.0")
    ///     .connect_timeout(Duration::from_secs(5))
    ///     .read_timeout(Duration::from_secs(30))
    ///     .retry_policy(RetryPolicy::default().with_max_attempts(6))
    ///     .build()?;
    /// assert_eq!(client.api().upload_base_url(), "http://127.0.0.1:8080");
    /// # Ok::<(), kie_async::Error>(())
    /// ```
    pub fn builder(key: &str) -> ClientBuilder {
        ClientBuilder::with_config(ClientConfig::new(key))
    }

    /// The key, base URLs and user agent in use.
    pub fn api(&self) -> &Api {
        &self.inner.api
    }

    /// The retry policy in use.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry_policy
    }

    /// Sends any kie-proto [`Operation`] whose body is complete (JSON) or empty, with
    /// retries. An operation with a framed body gets no content here (only a zero-length one
    /// succeeds); use [`send_with_content`](Self::send_with_content) for those.
    ///
    /// ```
    /// # use kie_async::Client;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::builder(emulator.api_key()).api_base_url(&emulator.api_base_url()).build()?;
    /// let credits = client.send(&kie_async::kie_proto::GetCredits).await?;
    /// # assert!(credits >= 0.0);
    /// # Ok::<(), kie_async::Error>(())
    /// # })?;
    /// # Ok::<(), kie_async::Error>(())
    /// ```
    pub async fn send<O>(&self, op: &O) -> Result<O::Output, Error>
    where
        O: Operation + Sync,
    {
        self.inner.run(op, Content::None, None).await
    }

    /// Sends an operation with a framed body (e.g. a hand-built
    /// [`StreamUpload`](kie_proto::StreamUpload)), reading its content from `content`:
    /// exactly the body's `content_len` bytes from the reader's current position, which is
    /// sought back to before every retry. `progress` follows the
    /// [`UploadOptions::on_progress`] contract.
    ///
    /// (kie-blocking borrows the reader; here it is owned, because the request body must be.)
    ///
    /// ```
    /// use std::io::Cursor;
    /// use kie_async::kie_proto::{FileName, StreamUpload, UploadPath};
    /// # use kie_async::Client;
    /// # async fn run(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let upload = StreamUpload::new(UploadPath::new("docs")?, FileName::new("a.txt")?, 5);
    /// let uploaded = client.send_with_content(&upload, Cursor::new(b"hello"), None).await?;
    /// assert!(uploaded.download_url.ends_with("/docs/a.txt"));
    /// # Ok(()) }
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::builder(emulator.api_key()).upload_base_url(&emulator.upload_base_url()).build()?;
    /// # tokio::runtime::Runtime::new()?.block_on(run(&client))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn send_with_content<O, R>(
        &self,
        operation: &O,
        mut content: R,
        progress: Option<kie_proto::ProgressCallback>,
    ) -> Result<O::Output, Error>
    where
        O: Operation + Sync,
        R: AsyncReadSeek + 'static,
    {
        let start = content
            .stream_position()
            .await
            .map_err(|source| Error::Io { path: None, source })?;
        let content = Content::Seekable {
            reader: Some(Box::new(content)),
            start,
        };
        self.inner.run(operation, content, progress).await
    }

    /// The account's remaining credits (may be fractional).
    ///
    /// ```
    /// # use kie_async::Client;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::builder(emulator.api_key()).api_base_url(&emulator.api_base_url()).build()?;
    /// let credits = client.credits().await?;
    /// assert!(credits >= 0.0);
    /// # Ok::<(), kie_async::Error>(())
    /// # })?;
    /// # Ok::<(), kie_async::Error>(())
    /// ```
    pub async fn credits(&self) -> Result<f64, Error> {
        self.send(&GetCredits).await
    }

    /// A temporary (20-minute) download link for a file KIE.AI generated. URLs KIE.AI did
    /// not generate are refused by the service with
    /// [`ErrorKind::Validation`](crate::ErrorKind::Validation).
    ///
    /// ```
    /// # use kie_async::Client;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::builder(emulator.api_key()).api_base_url(&emulator.api_base_url()).build()?;
    /// # let generated = emulator.issue_generated_file(b"GIF89a".to_vec(), "image/gif");
    /// let link = client.download_url(&generated).await?;
    /// assert!(link.starts_with("http"));
    /// # Ok::<(), kie_async::Error>(())
    /// # })?;
    /// # Ok::<(), kie_async::Error>(())
    /// ```
    pub async fn download_url(&self, url: &str) -> Result<String, Error> {
        let op = GetDownloadUrl::new(HttpUrl::new(url)?);
        self.send(&op).await
    }

    /// Asks the service to fetch `url` and store it (URL upload endpoint).
    ///
    /// Without a file name in `options`, the name is the URL's last path segment when it has
    /// an extension, else a random one, chosen before the first attempt. The URL is checked
    /// before anything is sent.
    ///
    /// ```
    /// # use kie_async::{Client, UploadOptions};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::builder(emulator.api_key()).upload_base_url(&emulator.upload_base_url()).build()?;
    /// # let url = client.upload_bytes("GIF89a", &UploadOptions::new("src").file_name("cat.gif")).await?.download_url;
    /// // `url`: a publicly reachable http(s) URL.
    /// let uploaded = client.upload_url(&url, &UploadOptions::new("images/fetched")).await?;
    /// assert_eq!(uploaded.file_name.as_deref(), Some("cat.gif"));
    /// let error = client.upload_url("ftp://example.com/a.png", &UploadOptions::new("images")).await.unwrap_err();
    /// assert!(matches!(error, kie_async::Error::InvalidInput(_)));
    /// # Ok::<(), kie_async::Error>(())
    /// # })?;
    /// # Ok::<(), kie_async::Error>(())
    /// ```
    pub async fn upload_url(
        &self,
        url: &str,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        options.validate()?;
        let op = options.url_upload(url, random_u64())?;
        self.send(&op).await
    }

    /// Uploads the file at `path` as multipart (stream upload endpoint), reading it through
    /// a fixed buffer: memory use does not grow with the file.
    ///
    /// Without a file name in `options`, the name is 16 random hex digits with the file's
    /// extension, chosen before the first attempt and reused by retries, so a retried
    /// upload overwrites itself instead of leaving a second copy. A retry reopens the file.
    ///
    /// ```
    /// # use kie_async::{Client, UploadOptions};
    /// # async fn run(client: &Client, dir: &std::path::Path) -> Result<(), kie_async::Error> {
    /// let path = dir.join("cat.png");
    /// # tokio::fs::write(&path, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").await.map_err(|e| kie_async::Error::Io { path: None, source: e })?;
    /// let options = UploadOptions::new("images/user-uploads")
    ///     .on_progress(|p| eprintln!("{} of {} bytes", p.sent, p.total));
    /// let uploaded = client.upload_file(&path, &options).await?;
    /// assert_eq!(uploaded.mime_type.as_deref(), Some("image/png"));
    /// assert!(uploaded.download_url.ends_with(".png"));
    /// # Ok(()) }
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::builder(emulator.api_key()).upload_base_url(&emulator.upload_base_url()).build()?;
    /// # let dir = std::env::temp_dir().join(format!("kie-async-doc-file-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).map_err(|e| kie_async::Error::Io { path: None, source: e })?;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(run(&client, &dir))?;
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # Ok::<(), kie_async::Error>(())
    /// ```
    pub async fn upload_file(
        &self,
        path: impl AsRef<Path>,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.file(path.as_ref(), options, Form::Multipart).await
    }

    /// Like [`upload_file`](Self::upload_file), through the base64 endpoint (the file is
    /// base64-encoded on the fly, also in constant memory; a third more bytes on the wire).
    /// Sends bare base64 unless [`UploadOptions::data_url`] asks for a data URL.
    ///
    /// ```
    /// # use kie_async::{Client, UploadOptions};
    /// # async fn run(client: &Client, path: &std::path::Path) -> Result<(), kie_async::Error> {
    /// let options = UploadOptions::new("images/base64").file_name("note.txt").data_url(true);
    /// let uploaded = client.upload_base64_file(path, &options).await?;
    /// assert_eq!(uploaded.file_name.as_deref(), Some("note.txt"));
    /// # Ok(()) }
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::builder(emulator.api_key()).upload_base_url(&emulator.upload_base_url()).build()?;
    /// # let path = std::env::temp_dir().join(format!("kie-async-doc-b64-{}.txt", std::process::id()));
    /// # std::fs::write(&path, "hello").map_err(|e| kie_async::Error::Io { path: None, source: e })?;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(run(&client, &path))?;
    /// # let _ = std::fs::remove_file(&path);
    /// # Ok::<(), kie_async::Error>(())
    /// ```
    pub async fn upload_base64_file(
        &self,
        path: impl AsRef<Path>,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.file(path.as_ref(), options, Form::Base64).await
    }

    /// Uploads `bytes` as multipart. A `Vec<u8>`, `String` or [`bytes::Bytes`] is taken
    /// without a copy; a borrowed slice is copied once (the request body must own its bytes).
    ///
    /// ```
    /// # use kie_async::{Client, UploadOptions};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::builder(emulator.api_key()).upload_base_url(&emulator.upload_base_url()).build()?;
    /// let report: Vec<u8> = b"%PDF-1.7\n".to_vec(); // moved, not copied
    /// let uploaded = client.upload_bytes(report, &UploadOptions::new("reports")).await?;
    /// assert_eq!(uploaded.mime_type.as_deref(), Some("application/pdf"));
    /// assert!(uploaded.download_url.ends_with(".pdf"));
    /// # Ok::<(), kie_async::Error>(())
    /// # })?;
    /// # Ok::<(), kie_async::Error>(())
    /// ```
    pub async fn upload_bytes(
        &self,
        bytes: impl IntoBytes,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.bytes(bytes.into_bytes(), options, Form::Multipart)
            .await
    }

    /// Like [`upload_bytes`](Self::upload_bytes), through the base64 endpoint.
    pub async fn upload_base64_bytes(
        &self,
        bytes: impl IntoBytes,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.bytes(bytes.into_bytes(), options, Form::Base64).await
    }

    /// Uploads exactly `len` bytes from `reader` as multipart, in constant memory.
    ///
    /// A reader cannot be rewound: a failure that the retry policy would retry is retried
    /// only if nothing beyond the first [`SNIFF_LEN`](kie_proto::driver::SNIFF_LEN) bytes (read up front for MIME
    /// detection) was read yet; otherwise the error is [`Error::NotRewindable`]. Upload a
    /// file or bytes to get retries in every case. A reader that ends before `len` bytes or
    /// has more is [`Error::ContentLength`].
    ///
    /// ```
    /// # use kie_async::{Client, UploadOptions};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::builder(emulator.api_key()).upload_base_url(&emulator.upload_base_url()).build()?;
    /// use tokio::io::AsyncReadExt as _;
    /// let data = tokio::io::repeat(b'x').take(100_000);
    /// let options = UploadOptions::new("logs").file_name("x.txt");
    /// let uploaded = client.upload_reader(data, 100_000, &options).await?;
    /// assert_eq!(uploaded.file_size, Some(100_000));
    /// # Ok::<(), kie_async::Error>(())
    /// # })?;
    /// # Ok::<(), kie_async::Error>(())
    /// ```
    pub async fn upload_reader<R>(
        &self,
        reader: R,
        len: u64,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        self.reader(Reader::plain(reader), len, options, Form::Multipart)
            .await
    }

    /// Like [`upload_reader`](Self::upload_reader), through the base64 endpoint.
    pub async fn upload_base64_reader<R>(
        &self,
        reader: R,
        len: u64,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        self.reader(Reader::plain(reader), len, options, Form::Base64)
            .await
    }

    async fn file(
        &self,
        path: &Path,
        options: &UploadOptions,
        form: Form,
    ) -> Result<UploadResult, Error> {
        options.validate()?;
        let io = |source| Error::Io {
            path: Some(path.to_path_buf()),
            source,
        };
        // Open, size and first read in one blocking call (each tokio::fs call is a round
        // trip to the blocking pool; a small file is read whole here).
        let path_buf = path.to_path_buf();
        let start = tokio::task::spawn_blocking(move || open_start(&path_buf, None))
            .await
            .map_err(|join| io(std::io::Error::other(join)))?
            .map_err(&io)?;
        let len = start.len;
        let sniff = &start.content[..start.content.len().min(kie_proto::driver::sniff_len(len))];
        ContentLengthMismatch::check_prefix(sniff.len(), len)?;
        let source_name = path.file_name().and_then(|name| name.to_str());
        let plan = options.plan(source_name, sniff, random_u64())?;
        let content = Content::File {
            path: PathBuf::from(path),
            len,
            first: Some(start),
        };
        self.upload(plan, len, content, options, form).await
    }

    async fn bytes(
        &self,
        bytes: Bytes,
        options: &UploadOptions,
        form: Form,
    ) -> Result<UploadResult, Error> {
        options.validate()?;
        let sniff = &bytes[..kie_proto::driver::sniff_len(bytes.len() as u64)];
        let plan = options.plan(None, sniff, random_u64())?;
        let len = bytes.len() as u64;
        self.upload(plan, len, Content::Bytes(bytes), options, form)
            .await
    }

    async fn reader(
        &self,
        mut reader: Reader,
        len: u64,
        options: &UploadOptions,
        form: Form,
    ) -> Result<UploadResult, Error> {
        options.validate()?;
        if options.is_verify_download() {
            return Err(InvalidInput::VerifyDownloadNeedsContent.into());
        }
        let prefix =
            read_prefix(&mut reader, len, |source| Error::Io { path: None, source }).await?;
        let plan = options.plan(None, &prefix, random_u64())?;
        let content = Content::Reader {
            prefix,
            reader: Some(reader),
        };
        self.upload(plan, len, content, options, form).await
    }

    async fn upload(
        &self,
        plan: UploadPlan,
        len: u64,
        content: Content,
        options: &UploadOptions,
        form: Form,
    ) -> Result<UploadResult, Error> {
        let progress = options.progress().cloned();
        let verify = match (&content, options.is_verify_download()) {
            (_, false) => None,
            (Content::Bytes(bytes), true) => Some(Sent::Bytes(bytes.clone())),
            (Content::File { path, .. }, true) => Some(Sent::File(path.clone())),
            (_, true) => return Err(InvalidInput::VerifyDownloadNeedsContent.into()),
        };
        let result = match form {
            Form::Multipart => {
                let op = plan.stream_upload(len);
                self.inner.run(&op, content, progress).await
            }
            Form::Base64 => {
                let op = plan.base64_upload(len);
                self.inner.run(&op, content, progress).await
            }
        }?;
        if let Some(sent) = verify {
            let sent = sent.digest(len).await?;
            self.inner.verify_download(&result, sent).await?;
        }
        Ok(result)
    }
}

/// Which upload endpoint carries the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    Multipart,
    Base64,
}

/// A file opened for an attempt: the first bytes, already read, and the handle to read
/// the rest from (none when `content` holds the whole file).
pub(crate) struct FileStart {
    pub(crate) len: u64,
    pub(crate) content: Bytes,
    pub(crate) rest: Option<std::fs::File>,
}

/// Opens `path` on a blocking thread, in one go: its length (from the metadata, unless
/// `declared` by an earlier attempt), then its start. A file shorter than the read buffer
/// ([`CHUNK`](crate::body::CHUNK)) is read whole with one byte more, which is the
/// end-of-file check, and closed; a larger one has its first
/// [`sniff_len`](kie_proto::driver::sniff_len) bytes read for MIME detection on a first open, none
/// on a reopen. Content past the declared length is kept (the encoder reports it).
pub(crate) fn open_start(path: &Path, declared: Option<u64>) -> std::io::Result<FileStart> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let len = match declared {
        Some(len) => len,
        None => {
            let metadata = file.metadata()?;
            if metadata.is_dir() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::IsADirectory,
                    "is a directory, not a file",
                ));
            }
            metadata.len()
        }
    };
    let whole = len < crate::body::CHUNK as u64;
    let want = if whole {
        len as usize + 1
    } else if declared.is_none() {
        kie_proto::driver::sniff_len(len)
    } else {
        0
    };
    let mut content = vec![0; want];
    let mut filled = 0;
    let mut ended = false;
    while filled < want {
        match file.read(&mut content[filled..]) {
            Ok(0) => {
                ended = true;
                break;
            }
            Ok(n) => filled += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    content.truncate(filled);
    // Read whole: the end was seen, or a byte past the declared length was.
    let rest = if whole && (ended || filled == want) {
        None
    } else {
        Some(file)
    };
    Ok(FileStart {
        len,
        content: Bytes::from(content),
        rest,
    })
}

/// Reads the start of the content for MIME detection: [`kie_proto::driver::sniff_len`]`(len)`
/// bytes, fewer if the source ends first, which is then checked with
/// [`ContentLengthMismatch::check_prefix`] (a source shorter than declared fails before
/// anything is sent).
async fn read_prefix<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    len: u64,
    io: impl Fn(std::io::Error) -> Error,
) -> Result<Bytes, Error> {
    let want = kie_proto::driver::sniff_len(len);
    let mut prefix = vec![0; want];
    let mut filled = 0;
    while filled < want {
        let n = reader.read(&mut prefix[filled..]).await.map_err(&io)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    ContentLengthMismatch::check_prefix(filled, len)?;
    prefix.truncate(filled);
    Ok(Bytes::from(prefix))
}

/// Content in memory for [`Client::upload_bytes`]: owned buffers are moved, borrowed ones
/// copied once.
pub trait IntoBytes {
    /// The bytes, owned.
    fn into_bytes(self) -> Bytes;
}

impl IntoBytes for Bytes {
    fn into_bytes(self) -> Bytes {
        self
    }
}

impl IntoBytes for Vec<u8> {
    fn into_bytes(self) -> Bytes {
        Bytes::from(self)
    }
}

impl IntoBytes for String {
    fn into_bytes(self) -> Bytes {
        Bytes::from(self)
    }
}

impl IntoBytes for &[u8] {
    fn into_bytes(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl<const N: usize> IntoBytes for &[u8; N] {
    fn into_bytes(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl IntoBytes for &Vec<u8> {
    fn into_bytes(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl IntoBytes for &str {
    fn into_bytes(self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
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

    #[test]
    fn debug_hides_the_key() {
        let builder = Client::builder("sk-very-secret-123");
        assert!(!format!("{builder:?}").contains("very-secret"));
        let client = builder.build().map_err(|e| e.to_string());
        assert!(!format!("{client:?}").contains("very-secret"));
    }

    #[test]
    fn proxy_credentials_are_never_shown() {
        let builder = Client::builder("k").proxy("http://user:hunter2@proxy:3128");
        assert!(!format!("{builder:?}").contains("hunter2"));
        let client = builder.build().map_err(|e| e.to_string());
        assert!(client.is_ok());
        assert!(!format!("{client:?}").contains("hunter2"));
        let error = Client::builder("k")
            .proxy("socks5://user:hunter2@proxy:1080")
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
        let client = Client::builder("k")
            .http_client(
                reqwest::Client::builder()
                    .tls_backend_preconfigured(tls_config(&TlsRoots::Platform, false)?)
                    .build()
                    .map_err(unsendable)?,
            )
            .timeout(Duration::from_millis(5))
            .build()?;
        assert_eq!(
            client.inner.timeouts.overall,
            Some(Duration::from_millis(5))
        );
        assert_eq!(client.inner.timeouts.idle, None);
        Ok(())
    }

    #[test]
    fn open_start_reads_small_files_whole_and_large_ones_from_the_start() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("kie-async-open-start-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let small = dir.join("small");
        std::fs::write(&small, b"hello")?;
        let start = open_start(&small, None)?;
        assert_eq!(
            (start.len, &start.content[..], start.rest.is_none()),
            (5, &b"hello"[..], true)
        );
        // Declared lengths of an earlier attempt: grown (one byte past), shrunk (short, seen).
        let grown = open_start(&small, Some(4))?;
        assert_eq!(
            (&grown.content[..], grown.rest.is_none()),
            (&b"hello"[..], true)
        );
        let shrunk = open_start(&small, Some(9))?;
        assert_eq!(
            (&shrunk.content[..], shrunk.rest.is_none()),
            (&b"hello"[..], true)
        );
        let large = dir.join("large");
        std::fs::write(&large, vec![7; crate::body::CHUNK])?;
        let first = open_start(&large, None)?;
        assert_eq!(first.content.len(), kie_proto::driver::SNIFF_LEN);
        assert!(first.rest.is_some());
        let reopened = open_start(&large, Some(crate::body::CHUNK as u64))?;
        assert!(reopened.content.is_empty() && reopened.rest.is_some());
        let error = open_start(&dir, None).err().map(|e| e.kind());
        assert_eq!(error, Some(std::io::ErrorKind::IsADirectory));
        std::fs::remove_dir_all(&dir)
    }
}
