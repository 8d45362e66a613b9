//! Where requests go and who sends them: the API key, the two base URLs and the user agent.

use std::fmt;

use http::HeaderValue;

use crate::input::{InvalidInput, check_http_url};

/// Default base URL of the File Upload API (spec §1.1).
pub const DEFAULT_UPLOAD_BASE_URL: &str = "https://kieai.redpandaai.co";
/// Default base URL of the Common API: credits and download links (spec §1.1).
pub const DEFAULT_API_BASE_URL: &str = "https://api.kie.ai";
/// Default user agent, `kie-rs/<version>`. The CDN in front of KIE.AI refuses requests
/// without a user agent (spec §1.4), so one is always sent.
pub const DEFAULT_USER_AGENT: &str = concat!("kie-rs/", env!("CARGO_PKG_VERSION"));

/// A KIE.AI API key. `Debug` prints `ApiKey([redacted])` and `Display` prints `[redacted]`;
/// the `Authorization` header built from it is marked sensitive.
///
/// ```
/// use kie_proto::{ApiKey, InvalidInput};
/// let key = ApiKey::new("sk-example")?;
/// assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
/// assert!(matches!(ApiKey::new("sk-example\n"), Err(InvalidInput::ApiKeyInvalidByte { position: 10 })));
/// # Ok::<(), InvalidInput>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    authorization: HeaderValue,
}

impl ApiKey {
    /// Checks that `key` is non-empty visible ASCII (no spaces, controls or non-ASCII bytes).
    pub fn new(key: impl AsRef<str>) -> Result<Self, InvalidInput> {
        let key = key.as_ref();
        if key.is_empty() {
            return Err(InvalidInput::ApiKeyEmpty);
        }
        if let Some(position) = key.bytes().position(|b| !b.is_ascii_graphic()) {
            return Err(InvalidInput::ApiKeyInvalidByte { position });
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {key}"))
            .map_err(|_| InvalidInput::ApiKeyInvalidByte { position: 0 })?;
        authorization.set_sensitive(true);
        Ok(Self { authorization })
    }

    /// The `Authorization: Bearer …` header value (marked sensitive).
    pub fn authorization(&self) -> &HeaderValue {
        &self.authorization
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A validated base URL: absolute http(s), with a host, without query or fragment; kept
/// without a trailing `/`. It may carry a path prefix (a proxy at `https://proxy/kie`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// Checks `url`; `field` names it in the error.
    pub fn new(field: &'static str, url: &str) -> Result<Self, InvalidInput> {
        let parsed = check_http_url(field, url)?;
        if parsed.has_query || parsed.has_fragment {
            return Err(InvalidInput::BaseUrlQuery {
                field,
                url: url.to_owned(),
            });
        }
        Ok(Self(parsed.serialized.trim_end_matches('/').to_owned()))
    }

    /// The URL without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL of `path` (which starts with `/`) under this base.
    pub(crate) fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

/// Everything an operation needs to address the service: key, base URLs, user agent.
///
/// ```
/// use kie_proto::{Api, ApiKey};
/// let api = Api::new(ApiKey::new("sk-example")?)
///     .with_upload_base_url("http://127.0.0.1:8080")?
///     .with_user_agent_suffix("my-app/1.0")?;
/// assert_eq!(api.upload_base_url(), "http://127.0.0.1:8080");
/// assert_eq!(api.api_base_url(), "https://api.kie.ai");
/// assert!(api.user_agent().to_str()?.starts_with("kie-rs/"));
/// assert!(!format!("{api:?}").contains("sk-example"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Api {
    key: ApiKey,
    upload_base: BaseUrl,
    api_base: BaseUrl,
    user_agent: HeaderValue,
}

impl Api {
    /// The production service with `key`.
    pub fn new(key: ApiKey) -> Self {
        Self {
            key,
            upload_base: BaseUrl(DEFAULT_UPLOAD_BASE_URL.to_owned()),
            api_base: BaseUrl(DEFAULT_API_BASE_URL.to_owned()),
            user_agent: HeaderValue::from_static(DEFAULT_USER_AGENT),
        }
    }

    /// Sends uploads to `url` instead of [`DEFAULT_UPLOAD_BASE_URL`].
    pub fn with_upload_base_url(mut self, url: &str) -> Result<Self, InvalidInput> {
        self.upload_base = BaseUrl::new("upload base URL", url)?;
        Ok(self)
    }

    /// Sends credits and download-url requests to `url` instead of [`DEFAULT_API_BASE_URL`].
    pub fn with_api_base_url(mut self, url: &str) -> Result<Self, InvalidInput> {
        self.api_base = BaseUrl::new("API base URL", url)?;
        Ok(self)
    }

    /// Replaces the whole user agent. It must be non-empty visible ASCII (spaces allowed).
    pub fn with_user_agent(mut self, user_agent: &str) -> Result<Self, InvalidInput> {
        self.user_agent = user_agent_header(user_agent)?;
        Ok(self)
    }

    /// Appends ` <suffix>` to the default user agent, e.g. `kie-rs/0.1.0 my-app/1.0`.
    pub fn with_user_agent_suffix(self, suffix: &str) -> Result<Self, InvalidInput> {
        if suffix.trim().is_empty() {
            return Err(InvalidInput::UserAgent(suffix.to_owned()));
        }
        self.with_user_agent(&format!("{DEFAULT_USER_AGENT} {suffix}"))
    }

    /// The API key.
    pub fn key(&self) -> &ApiKey {
        &self.key
    }

    /// Base URL of the File Upload API, without a trailing slash.
    pub fn upload_base_url(&self) -> &str {
        self.upload_base.as_str()
    }

    /// Base URL of the Common API, without a trailing slash.
    pub fn api_base_url(&self) -> &str {
        self.api_base.as_str()
    }

    /// The `User-Agent` header value sent with every request.
    pub fn user_agent(&self) -> &HeaderValue {
        &self.user_agent
    }

    pub(crate) fn upload_url(&self, path: &str) -> String {
        self.upload_base.join(path)
    }

    pub(crate) fn api_url(&self, path: &str) -> String {
        self.api_base.join(path)
    }
}

fn user_agent_header(user_agent: &str) -> Result<HeaderValue, InvalidInput> {
    let valid = !user_agent.trim().is_empty()
        && user_agent
            .bytes()
            .all(|b| b == b' ' || b.is_ascii_graphic());
    valid
        .then(|| HeaderValue::from_str(user_agent).ok())
        .flatten()
        .ok_or_else(|| InvalidInput::UserAgent(user_agent.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_rules() {
        assert_eq!(ApiKey::new(""), Err(InvalidInput::ApiKeyEmpty));
        assert_eq!(
            ApiKey::new("a b"),
            Err(InvalidInput::ApiKeyInvalidByte { position: 1 })
        );
        assert_eq!(
            ApiKey::new("ké"),
            Err(InvalidInput::ApiKeyInvalidByte { position: 1 })
        );
        assert_eq!(
            ApiKey::new("\rk"),
            Err(InvalidInput::ApiKeyInvalidByte { position: 0 })
        );
        let key = ApiKey::new("secret-123").map_err(|e| e.to_string());
        let key = key.as_ref().map(ApiKey::authorization);
        assert_eq!(
            key.map(|h| (h.as_bytes(), h.is_sensitive())),
            Ok((&b"Bearer secret-123"[..], true))
        );
    }

    #[test]
    fn key_never_printed() {
        let key = ApiKey::new("secret-123").unwrap();
        assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
        assert_eq!(key.to_string(), "[redacted]");
        assert!(!format!("{:?}", Api::new(key)).contains("secret"));
    }

    #[test]
    fn base_urls() {
        let base = |url| BaseUrl::new("upload base URL", url).map(|b| b.0);
        assert_eq!(
            base("http://127.0.0.1:9/"),
            Ok("http://127.0.0.1:9".to_owned())
        );
        assert_eq!(
            base("https://proxy.example/kie/"),
            Ok("https://proxy.example/kie".to_owned())
        );
        assert!(matches!(
            base("https://x/?a=1"),
            Err(InvalidInput::BaseUrlQuery { .. })
        ));
        assert!(matches!(
            base("unix:/tmp/sock"),
            Err(InvalidInput::UrlScheme { .. })
        ));
    }

    #[test]
    fn user_agent_rules() {
        assert!(user_agent_header("kie-rs/1 app/2").is_ok());
        for bad in ["", "  ", "a\nb", "ü"] {
            assert!(user_agent_header(bad).is_err(), "{bad:?}");
        }
    }
}
