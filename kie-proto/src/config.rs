//! The settings every driver's client shares: key, base URLs, user agent, timeouts, retries,
//! and where they come from in the environment. Drivers wrap a [`ClientConfig`] in their own
//! builder, add their transport (a ureq agent, a reqwest client) and decide how each timeout
//! maps onto it.

use std::fmt;
use std::time::Duration;

use crate::api::{Api, ApiKey};
use crate::deadline::{LowSpeed, Timeouts};
use crate::input::InvalidInput;
use crate::proxy::{ProxyRules, ProxySetting, ProxyUrl};
use crate::retry::RetryPolicy;

/// Environment variable holding the API key, read by the drivers' `Client::from_env` (through
/// [`ClientConfig::from_env_with`]).
pub const ENV_API_KEY: &str = "KIE_API_KEY";
/// Environment variable overriding the upload base URL, read by the drivers'
/// `Client::from_env` (through [`ClientConfig::from_env_with`]).
pub const ENV_UPLOAD_BASE_URL: &str = "KIE_UPLOAD_BASE_URL";
/// Environment variable overriding the Common API base URL, read by the drivers'
/// `Client::from_env` (through [`ClientConfig::from_env_with`]).
pub const ENV_API_BASE_URL: &str = "KIE_API_BASE_URL";

/// The transport-independent settings of a client: API key, base URLs, user agent suffix,
/// timeouts, retry policy, proxy and TLS roots — the same for both drivers, which take one
/// (`Client::from_config(config)`, or `Client::builder(config)` to add their own transport
/// knobs). Nothing is checked until [`api`](Self::api) is called (by the driver's `build`),
/// except the key, checked at once (its error never shows the key).
///
/// `Debug` never shows the key.
///
/// ```
/// use std::time::Duration;
/// use kie_proto::{ClientConfig, InvalidInput, Timeouts};
/// let config = ClientConfig::new("sk-example")
///     .upload_base_url("http://127.0.0.1:8080")
///     .read_timeout(Duration::from_secs(5));
/// assert_eq!(config.api()?.upload_base_url(), "http://127.0.0.1:8080");
/// assert_eq!(config.timeouts(), Timeouts::NONE.with_idle(Some(Duration::from_secs(5))));
/// assert!(!format!("{config:?}").contains("sk-example"));
/// # Ok::<(), InvalidInput>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct ClientConfig {
    key: Result<ApiKey, InvalidInput>,
    upload_base_url: Option<String>,
    api_base_url: Option<String>,
    user_agent_suffix: Option<String>,
    timeouts: Timeouts,
    retry_policy: RetryPolicy,
    proxy: Result<ProxySetting, InvalidInput>,
    tls_roots: TlsRoots,
}

/// Which certificate authorities a client trusts for `https://`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsRoots {
    /// The platform's verifier (`rustls-platform-verifier`): the system trust store — on
    /// Linux the system bundle, or the files named by `SSL_CERT_FILE` / `SSL_CERT_DIR`
    /// when set; on macOS and Windows the OS verifier. A TLS-inspecting corporate proxy
    /// whose CA is installed in the system works out of the box. Both drivers start it at
    /// the first TLS handshake: without a trust store `http://` still works, and an
    /// `https://` call fails with [`TlsFailure::NoTrustRoots`](crate::TlsFailure::NoTrustRoots).
    #[default]
    Platform,
    /// Mozilla's roots bundled into the binary (`webpki-roots`), ignoring the system store:
    /// for minimal containers without a CA bundle. Needs the driver's `webpki-roots` Cargo
    /// feature; without it the client fails to build.
    WebPki,
    /// Only these certificate authorities (DER-encoded certificates), e.g. a private CA.
    Only(Vec<Vec<u8>>),
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `ApiKey`'s own `Debug` is redacted, and no `InvalidInput` about a key holds it.
        f.debug_struct("ClientConfig")
            .field("key", &self.key)
            .field("upload_base_url", &self.upload_base_url)
            .field("api_base_url", &self.api_base_url)
            .field("user_agent_suffix", &self.user_agent_suffix)
            .field("connect_timeout", &self.timeouts.connect)
            .field("timeout", &self.timeouts.overall)
            .field("read_timeout", &self.timeouts.idle)
            .field("answer_timeout", &self.timeouts.answer)
            .field("low_speed_limit", &self.timeouts.low_speed)
            .field("small_call_timeout", &self.timeouts.small_call)
            .field("retry_policy", &self.retry_policy)
            // `ProxyUrl`'s `Debug` hides credentials; no `InvalidInput` quotes a proxy URL.
            .field("proxy", &self.proxy)
            .field("tls_roots", &self.tls_roots)
            .finish()
    }
}

impl From<&str> for ClientConfig {
    /// [`ClientConfig::new`] with this key.
    fn from(key: &str) -> Self {
        ClientConfig::new(key)
    }
}

impl From<&String> for ClientConfig {
    /// [`ClientConfig::new`] with this key.
    fn from(key: &String) -> Self {
        ClientConfig::new(key)
    }
}

impl From<String> for ClientConfig {
    /// [`ClientConfig::new`] with this key.
    fn from(key: String) -> Self {
        ClientConfig::new(&key)
    }
}

impl ClientConfig {
    /// Settings for the production service with `key`: default base URLs and user agent, no
    /// timeout set explicitly, [`RetryPolicy::default`]. The key is checked here; a bad one
    /// is returned by [`api`](Self::api).
    pub fn new(key: &str) -> Self {
        Self {
            key: ApiKey::new(key),
            upload_base_url: None,
            api_base_url: None,
            user_agent_suffix: None,
            timeouts: Timeouts::NONE,
            retry_policy: RetryPolicy::default(),
            proxy: Ok(ProxySetting::FromEnvironment),
            tls_roots: TlsRoots::Platform,
        }
    }

    /// Settings from an environment read through `lookup`: [`ENV_API_KEY`] (required; a
    /// missing or empty one is [`InvalidInput::ApiKeyNotInEnvironment`] from [`api`](Self::api)), and optionally
    /// [`ENV_UPLOAD_BASE_URL`] and [`ENV_API_BASE_URL`]. Drivers pass
    /// `|name| std::env::var(name).ok()`; tests pass a map.
    ///
    /// ```
    /// use kie_proto::{ClientConfig, ENV_API_KEY, ENV_UPLOAD_BASE_URL, InvalidInput};
    /// let config = ClientConfig::from_env_with(|name| match name {
    ///     ENV_API_KEY => Some("sk-example".to_owned()),
    ///     ENV_UPLOAD_BASE_URL => Some("http://127.0.0.1:8080".to_owned()),
    ///     _ => None,
    /// });
    /// let api = config.api()?;
    /// assert_eq!(api.upload_base_url(), "http://127.0.0.1:8080");
    /// assert_eq!(api.api_base_url(), kie_proto::DEFAULT_API_BASE_URL);
    /// # Ok::<(), InvalidInput>(())
    /// ```
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let key = lookup(ENV_API_KEY).unwrap_or_default();
        let mut config = Self::new(&key);
        if key.is_empty() {
            config.key = Err(InvalidInput::ApiKeyNotInEnvironment {
                variable: ENV_API_KEY,
            });
        }
        if let Some(url) = lookup(ENV_UPLOAD_BASE_URL) {
            config = config.upload_base_url(&url);
        }
        if let Some(url) = lookup(ENV_API_BASE_URL) {
            config = config.api_base_url(&url);
        }
        config
    }

    /// Sends uploads to `url` instead of [`DEFAULT_UPLOAD_BASE_URL`](crate::DEFAULT_UPLOAD_BASE_URL).
    pub fn upload_base_url(mut self, url: &str) -> Self {
        self.upload_base_url = Some(url.to_owned());
        self
    }

    /// Sends credits and download-url requests to `url` instead of
    /// [`DEFAULT_API_BASE_URL`](crate::DEFAULT_API_BASE_URL).
    pub fn api_base_url(mut self, url: &str) -> Self {
        self.api_base_url = Some(url.to_owned());
        self
    }

    /// Appends ` <suffix>` to the user agent (`kie-rs/<version> <suffix>`).
    pub fn user_agent_suffix(mut self, suffix: &str) -> Self {
        self.user_agent_suffix = Some(suffix.to_owned());
        self
    }

    /// Time allowed to connect (DNS, TCP and TLS); [`Timeouts::connect`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = Some(timeout);
        self
    }

    /// Time allowed for one whole attempt, body upload included; [`Timeouts::overall`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.overall = Some(timeout);
        self
    }

    /// The longest time the connection may stall, sending or receiving; [`Timeouts::idle`].
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.idle = Some(timeout);
        self
    }

    /// The longest the answer may take to be complete after the request's last byte;
    /// [`Timeouts::answer`].
    pub fn answer_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.answer = Some(timeout);
        self
    }

    /// Gives up a request body that moves fewer than `bytes` in `window`;
    /// [`Timeouts::low_speed`].
    pub fn low_speed_limit(mut self, bytes: u64, window: Duration) -> Self {
        self.timeouts.low_speed = Some(LowSpeed { bytes, window });
        self
    }

    /// The longest a small call (credits, download-url, URL upload) may take, retries
    /// included; [`Timeouts::small_call`].
    pub fn small_call_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.small_call = Some(timeout);
        self
    }

    /// When and how to retry; default [`RetryPolicy::default`]. [`RetryPolicy::never`]
    /// turns retries off.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// The key, base URLs and user agent, checked: fails on an invalid key, base URL or user
    /// agent suffix (the error never shows the key).
    pub fn api(&self) -> Result<Api, InvalidInput> {
        let mut api = Api::new(self.key.clone()?);
        if let Some(url) = &self.upload_base_url {
            api = api.with_upload_base_url(url)?;
        }
        if let Some(url) = &self.api_base_url {
            api = api.with_api_base_url(url)?;
        }
        if let Some(suffix) = &self.user_agent_suffix {
            api = api.with_user_agent_suffix(suffix)?;
        }
        Ok(api)
    }

    /// The timeouts set explicitly; unset ones are `None`. What a driver applies is
    /// [`timeouts_for`](Self::timeouts_for).
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The timeouts a driver applies: over a caller-supplied transport
    /// (`custom_transport`), only those set explicitly (the transport keeps its own for the
    /// rest); over the driver's own transport, the explicit ones and [`Timeouts::DEFAULT`]
    /// for the rest.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kie_proto::{ClientConfig, Timeouts};
    /// let config = ClientConfig::new("k").read_timeout(Duration::from_secs(5));
    /// let set = Timeouts::NONE.with_idle(Some(Duration::from_secs(5)));
    /// assert_eq!(config.timeouts_for(true), set);
    /// assert_eq!(config.timeouts_for(false), set.or(Timeouts::DEFAULT));
    /// ```
    pub fn timeouts_for(&self, custom_transport: bool) -> Timeouts {
        let base = if custom_transport {
            Timeouts::NONE
        } else {
            Timeouts::DEFAULT
        };
        self.timeouts.or(base)
    }

    /// Sends every request through the proxy at `url` (`http://` or `https://`, credentials
    /// allowed: `http://user:password@proxy:3128`), whatever the environment says. An
    /// invalid URL is returned by [`proxy_rules`](Self::proxy_rules) (never quoting it).
    /// See [`crate::proxy`] for what a proxy sees.
    pub fn proxy(mut self, url: &str) -> Self {
        self.proxy = ProxyUrl::parse(url).map(ProxySetting::Url);
        self
    }

    /// Sends every request directly, ignoring the proxy environment variables.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = Ok(ProxySetting::None);
        self
    }

    /// The proxy rules a driver applies: the [`proxy`](Self::proxy) or
    /// [`no_proxy`](Self::no_proxy) setting, else the environment convention of
    /// [`crate::proxy`] read through `env` (drivers pass `|name| std::env::var(name).ok()`).
    ///
    /// ```
    /// use kie_proto::ClientConfig;
    /// let env = |name: &str| (name == "HTTPS_PROXY").then(|| "http://envproxy:3128".to_owned());
    /// let rules = ClientConfig::new("k").proxy_rules(env)?;
    /// assert_eq!(rules.proxy_for("https", "api.kie.ai").map(|p| p.host()), Some("envproxy"));
    /// let rules = ClientConfig::new("k").no_proxy().proxy_rules(env)?;
    /// assert!(rules.is_empty());
    /// assert!(ClientConfig::new("k").proxy("ftp://x").proxy_rules(env).is_err());
    /// # Ok::<(), kie_proto::InvalidInput>(())
    /// ```
    pub fn proxy_rules(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ProxyRules, InvalidInput> {
        self.proxy.clone()?.rules(env)
    }

    /// The certificate authorities to trust; default [`TlsRoots::Platform`].
    pub fn tls_roots(mut self, roots: TlsRoots) -> Self {
        self.tls_roots = roots;
        self
    }

    /// The certificate authorities to trust (the getter of [`tls_roots`](Self::tls_roots)).
    pub fn tls_roots_ref(&self) -> &TlsRoots {
        &self.tls_roots
    }

    /// The retry policy (the getter of [`retry_policy`](Self::retry_policy)).
    pub fn retry_policy_ref(&self) -> &RetryPolicy {
        &self.retry_policy
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn from_env_reads_the_three_variables() {
        let config = ClientConfig::from_env_with(env(&[
            (ENV_API_KEY, "sk-env"),
            (ENV_UPLOAD_BASE_URL, "http://127.0.0.1:1/"),
            (ENV_API_BASE_URL, "http://127.0.0.1:2"),
        ]));
        let api = config.api().map_err(|e| e.to_string());
        assert_eq!(
            api.as_ref()
                .map(|a| (a.upload_base_url(), a.api_base_url())),
            Ok(("http://127.0.0.1:1", "http://127.0.0.1:2"))
        );
        assert_eq!(
            api.map(|a| a.key().clone()),
            ApiKey::new("sk-env").map_err(|e| e.to_string())
        );
        assert_eq!(config.timeouts(), Timeouts::NONE);
        assert_eq!(config.retry_policy_ref(), &RetryPolicy::default());
    }

    #[test]
    fn from_env_defaults_and_missing_key() {
        let config = ClientConfig::from_env_with(env(&[(ENV_API_KEY, "k")]));
        let api = config.api().map_err(|e| e.to_string());
        assert_eq!(
            api.as_ref()
                .map(|a| (a.upload_base_url(), a.api_base_url())),
            Ok((crate::DEFAULT_UPLOAD_BASE_URL, crate::DEFAULT_API_BASE_URL))
        );
        let config = ClientConfig::from_env_with(env(&[(ENV_UPLOAD_BASE_URL, "http://x")]));
        assert_eq!(
            config.api().err(),
            Some(InvalidInput::ApiKeyNotInEnvironment {
                variable: ENV_API_KEY
            })
        );
    }

    #[test]
    fn bad_settings_are_invalid_input() {
        assert_eq!(
            ClientConfig::new("key\n").api().err(),
            Some(InvalidInput::ApiKeyInvalidByte { position: 3 })
        );
        assert!(matches!(
            ClientConfig::new("k").upload_base_url("ftp://x").api(),
            Err(InvalidInput::UrlScheme { .. })
        ));
        assert!(matches!(
            ClientConfig::new("k").api_base_url("https://x/?q").api(),
            Err(InvalidInput::BaseUrlQuery { .. })
        ));
        assert!(matches!(
            ClientConfig::new("k").user_agent_suffix("\n").api(),
            Err(InvalidInput::UserAgent(_))
        ));
    }

    #[test]
    fn setters_and_timeouts() {
        let policy = RetryPolicy::never();
        let config = ClientConfig::new("k")
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(2))
            .read_timeout(Duration::from_secs(3))
            .answer_timeout(Duration::from_secs(4))
            .low_speed_limit(5, Duration::from_secs(6))
            .small_call_timeout(Duration::from_secs(7))
            .retry_policy(policy);
        let set = Timeouts {
            connect: Some(Duration::from_secs(1)),
            overall: Some(Duration::from_secs(2)),
            idle: Some(Duration::from_secs(3)),
            answer: Some(Duration::from_secs(4)),
            low_speed: Some(LowSpeed {
                bytes: 5,
                window: Duration::from_secs(6),
            }),
            small_call: Some(Duration::from_secs(7)),
        };
        assert_eq!(config.timeouts(), set);
        assert_eq!(config.timeouts().or(Timeouts::DEFAULT), set);
        assert_eq!(config.retry_policy_ref(), &policy);
        assert_eq!(
            ClientConfig::new("k").timeouts().or(Timeouts::DEFAULT),
            Timeouts::DEFAULT
        );
        assert_eq!(config.timeouts_for(true), set);
        assert_eq!(config.timeouts_for(false), set);
        assert_eq!(ClientConfig::new("k").timeouts_for(true), Timeouts::NONE);
        assert_eq!(
            ClientConfig::new("k").timeouts_for(false),
            Timeouts::DEFAULT
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        for key in ["sk-very-secret-123", "sk-very-secret\n"] {
            let config = ClientConfig::new(key).upload_base_url("http://127.0.0.1:9");
            let debug = format!("{config:?}");
            assert!(!debug.contains("very-secret"), "{debug}");
            assert!(debug.contains("http://127.0.0.1:9"), "{debug}");
        }
    }
}
