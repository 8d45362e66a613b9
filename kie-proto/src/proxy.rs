//! Which proxy a request goes through: one rule for both drivers.
//!
//! By default a client follows the environment convention of curl and most HTTP clients:
//!
//! | request | proxy from (first one set and non-empty) |
//! |---|---|
//! | `http://…` | `http_proxy`, `HTTP_PROXY`, `all_proxy`, `ALL_PROXY` |
//! | `https://…` | `https_proxy`, `HTTPS_PROXY`, `all_proxy`, `ALL_PROXY` |
//!
//! except for hosts listed in `no_proxy` / `NO_PROXY` (comma-separated: `*` for every
//! host, a host name that also matches its subdomains — with or without a leading `.` —,
//! an IP address, or an IP network such as `10.0.0.0/8`). `HTTP_PROXY` in upper case is
//! ignored when `REQUEST_METHOD` is set (a CGI program, where any client can set it through
//! a `Proxy:` header: "httpoxy"). A value without a scheme (`proxy:3128`) means `http://`.
//!
//! A proxy URL may carry credentials (`http://user:password@proxy:3128`, percent-encoded);
//! they are sent as `Proxy-Authorization: Basic` and never shown: [`ProxyUrl`]'s `Debug`
//! and `Display` replace them with `***`, and no error message quotes a proxy URL.
//!
//! Requests to an `https://` base URL go through a `CONNECT` tunnel, so the proxy sees only
//! the host name. A plain `http://` base URL (a local emulator, a test server) sends the
//! request, API key included, to the proxy in clear: anyone who can read the proxy's
//! traffic can read the key.

use std::fmt;
use std::net::IpAddr;

use crate::input::InvalidInput;
use crate::url_check::{self, CheckedUrl, UrlRefusal};

/// A proxy's URL: `http://` or `https://`, with a host, optionally credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    url: CheckedUrl,
}

impl ProxyUrl {
    /// Parses a proxy URL; a value without a scheme is taken as `http://`. The error never
    /// quotes the value (it may hold a password).
    ///
    /// ```
    /// use kie_proto::ProxyUrl;
    /// let proxy = ProxyUrl::parse("http://me:s3cret@proxy.internal:3128")?;
    /// assert_eq!(proxy.to_string(), "http://***@proxy.internal:3128/");
    /// assert_eq!(proxy.password().as_deref(), Some("s3cret"));
    /// assert!(!format!("{proxy:?}").contains("s3cret"));
    /// assert_eq!(ProxyUrl::parse("proxy:8080")?.to_string(), "http://proxy:8080/");
    /// assert!(ProxyUrl::parse("socks5://proxy:1080").is_err());
    /// # Ok::<(), kie_proto::InvalidInput>(())
    /// ```
    pub fn parse(text: &str) -> Result<ProxyUrl, InvalidInput> {
        let text = text.trim();
        let invalid = |reason: &'static str| InvalidInput::ProxyUrl { reason };
        let with_scheme = if text.contains("://") {
            text.to_owned()
        } else {
            format!("http://{text}")
        };
        let url = url_check::parse(&with_scheme).map_err(|refusal| match refusal {
            UrlRefusal::Scheme => invalid("only http:// and https:// proxies are supported"),
            UrlRefusal::Invalid(_) => invalid("not a valid URL"),
        })?;
        Ok(ProxyUrl { url })
    }

    /// The full URL, credentials included: for handing to the HTTP client only.
    pub fn as_str_with_credentials(&self) -> &str {
        &self.url.serialized
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.url.scheme
    }

    /// The proxy's host (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        let host = self.url.host.as_str();
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
    }

    /// The proxy's port (the scheme's default when the URL has none).
    pub fn port(&self) -> u16 {
        let default = if self.url.scheme == "https" { 443 } else { 80 };
        self.url.port.unwrap_or(default)
    }

    /// The user name, percent-decoded, when the URL has one.
    pub fn username(&self) -> Option<String> {
        let userinfo = self.url.userinfo.as_deref()?;
        let name = userinfo.split_once(':').map_or(userinfo, |(name, _)| name);
        (!name.is_empty()).then(|| percent_decode(name))
    }

    /// The password, percent-decoded, when the URL has one.
    pub fn password(&self) -> Option<String> {
        let (_, password) = self.url.userinfo.as_deref()?.split_once(':')?;
        Some(percent_decode(password))
    }

    /// The URL as shown to people: credentials replaced by `***`.
    fn redacted(&self) -> String {
        let url = &self.url.serialized;
        match &self.url.userinfo {
            // `scheme://userinfo@rest`: the credentials come right after the scheme.
            Some(userinfo) => {
                let rest = url
                    .get(self.url.scheme.len() + 3 + userinfo.len() + 1..)
                    .unwrap_or_default();
                format!("{}://***@{rest}", self.url.scheme)
            }
            None => url.clone(),
        }
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({:?})", self.redacted())
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How a client picks its proxy: the environment convention (default), one proxy for
/// everything, or none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProxySetting {
    /// The environment variables of the module docs, read when the client is built.
    #[default]
    FromEnvironment,
    /// This proxy for every request.
    Url(ProxyUrl),
    /// No proxy, whatever the environment says.
    None,
}

impl ProxySetting {
    /// The rules this setting stands for; `env` reads an environment variable
    /// (`|name| std::env::var(name).ok()`). Fails on a proxy variable that is set but not
    /// a valid proxy URL (naming the variable, never its value).
    pub fn rules(&self, env: impl Fn(&str) -> Option<String>) -> Result<ProxyRules, InvalidInput> {
        match self {
            ProxySetting::FromEnvironment => ProxyRules::from_env_with(env),
            ProxySetting::Url(url) => Ok(ProxyRules {
                http: Some(url.clone()),
                https: Some(url.clone()),
                no_proxy: NoProxy::default(),
            }),
            ProxySetting::None => Ok(ProxyRules::default()),
        }
    }
}

/// The proxy for each scheme and the hosts that bypass it; ask [`ProxyRules::proxy_for`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyRules {
    http: Option<ProxyUrl>,
    https: Option<ProxyUrl>,
    no_proxy: NoProxy,
}

impl ProxyRules {
    /// The environment convention of the module docs.
    ///
    /// ```
    /// use kie_proto::driver::ProxyRules;
    /// let env = |name: &str| match name {
    ///     "HTTPS_PROXY" => Some("http://proxy:3128".to_owned()),
    ///     "NO_PROXY" => Some("localhost,.internal,10.0.0.0/8".to_owned()),
    ///     _ => None,
    /// };
    /// let rules = ProxyRules::from_env_with(env)?;
    /// assert_eq!(rules.proxy_for("https", "api.kie.ai").map(|p| p.host()), Some("proxy"));
    /// assert_eq!(rules.proxy_for("http", "api.kie.ai"), None);
    /// assert_eq!(rules.proxy_for("https", "files.internal"), None);
    /// assert_eq!(rules.proxy_for("https", "10.1.2.3"), None);
    /// # Ok::<(), kie_proto::InvalidInput>(())
    /// ```
    pub fn from_env_with(env: impl Fn(&str) -> Option<String>) -> Result<ProxyRules, InvalidInput> {
        let read = |names: &[&'static str]| -> Result<Option<ProxyUrl>, InvalidInput> {
            for &name in names {
                if name == "HTTP_PROXY" && env("REQUEST_METHOD").is_some() {
                    continue;
                }
                if let Some(value) = env(name).filter(|v| !v.trim().is_empty()) {
                    return ProxyUrl::parse(&value).map(Some).map_err(|err| match err {
                        InvalidInput::ProxyUrl { reason } => InvalidInput::ProxyVariable {
                            variable: name,
                            reason,
                        },
                        other => other,
                    });
                }
            }
            Ok(None)
        };
        let http = read(&["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"])?;
        let https = read(&["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"])?;
        let no_proxy = env("no_proxy")
            .filter(|v| !v.trim().is_empty())
            .or_else(|| env("NO_PROXY"))
            .map(|list| NoProxy::parse(&list))
            .unwrap_or_default();
        Ok(ProxyRules {
            http,
            https,
            no_proxy,
        })
    }

    /// The proxy for a request to `scheme://host`, if any.
    pub fn proxy_for(&self, scheme: &str, host: &str) -> Option<&ProxyUrl> {
        let proxy = match scheme {
            "http" => self.http.as_ref(),
            "https" => self.https.as_ref(),
            _ => None,
        }?;
        (!self.no_proxy.matches(host)).then_some(proxy)
    }

    /// Whether no request goes through a proxy.
    pub fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }
}

/// A `NO_PROXY` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct NoProxy {
    everything: bool,
    domains: Vec<String>,
    networks: Vec<(IpAddr, u8)>,
}

impl NoProxy {
    fn parse(list: &str) -> NoProxy {
        let mut no_proxy = NoProxy::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                no_proxy.everything = true;
            } else if let Some(network) = parse_network(entry) {
                no_proxy.networks.push(network);
            } else {
                let domain = entry.trim_start_matches("*.").trim_start_matches('.');
                no_proxy.domains.push(domain.to_ascii_lowercase());
            }
        }
        no_proxy
    }

    fn matches(&self, host: &str) -> bool {
        if self.everything {
            return true;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self
                .networks
                .iter()
                .any(|&(network, bits)| in_network(ip, network, bits));
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.domains.iter().any(|domain| {
            host == *domain
                || host
                    .strip_suffix(domain.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        })
    }
}

/// `10.0.0.0/8`, `::1`, `127.0.0.1` (a single address is a full-length network).
fn parse_network(entry: &str) -> Option<(IpAddr, u8)> {
    let (address, bits) = match entry.split_once('/') {
        Some((address, bits)) => (address, Some(bits.parse::<u8>().ok()?)),
        None => (entry, None),
    };
    let address: IpAddr = address
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    let full = if address.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(full);
    (bits <= full).then_some((address, bits))
}

fn in_network(ip: IpAddr, network: IpAddr, bits: u8) -> bool {
    let (ip, network, width) = match (ip, network) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(a.to_bits()), u128::from(b.to_bits()), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.to_bits(), b.to_bits(), 128),
        _ => return false,
    };
    let shift = width - u32::from(bits);
    if shift >= 128 {
        return true;
    }
    (ip >> shift) == (network >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn host_of(rules: &ProxyRules, scheme: &str, host: &str) -> Option<String> {
        rules
            .proxy_for(scheme, host)
            .map(|p| format!("{}:{}", p.host(), p.port()))
    }

    #[test]
    fn scheme_picks_the_variable() {
        let rules = ProxyRules::from_env_with(env(&[
            ("HTTP_PROXY", "http://plain:1"),
            ("https_proxy", "secure:2"),
            ("HTTPS_PROXY", "http://ignored:9"),
        ]))
        .unwrap();
        assert_eq!(
            host_of(&rules, "http", "a.example").as_deref(),
            Some("plain:1")
        );
        assert_eq!(
            host_of(&rules, "https", "a.example").as_deref(),
            Some("secure:2")
        );
        let rules = ProxyRules::from_env_with(env(&[("ALL_PROXY", "http://all:3")])).unwrap();
        assert_eq!(host_of(&rules, "http", "x").as_deref(), Some("all:3"));
        assert_eq!(host_of(&rules, "https", "x").as_deref(), Some("all:3"));
        let rules = ProxyRules::from_env_with(env(&[("HTTPS_PROXY", "http://s:4")])).unwrap();
        assert_eq!(host_of(&rules, "http", "x"), None);
        assert!(ProxyRules::from_env_with(env(&[])).unwrap().is_empty());
        // An empty value is unset.
        let rules = ProxyRules::from_env_with(env(&[("https_proxy", " "), ("HTTPS_PROXY", "h:5")]))
            .unwrap();
        assert_eq!(host_of(&rules, "https", "x").as_deref(), Some("h:5"));
    }

    #[test]
    fn httpoxy_upper_case_http_proxy_is_ignored_under_cgi() {
        let rules = ProxyRules::from_env_with(env(&[
            ("HTTP_PROXY", "http://attacker:1"),
            ("REQUEST_METHOD", "GET"),
        ]))
        .unwrap();
        assert_eq!(host_of(&rules, "http", "x"), None);
    }

    #[test]
    fn no_proxy_entries() {
        let rules = ProxyRules::from_env_with(env(&[
            ("ALL_PROXY", "http://p:1"),
            (
                "NO_PROXY",
                "localhost, .internal,example.com,*.wild.org,127.0.0.0/8,::1,[fd00::]/8",
            ),
        ]))
        .unwrap();
        for bypassed in [
            "localhost",
            "a.internal",
            "internal",
            "example.com",
            "api.example.com",
            "x.wild.org",
            "127.0.0.1",
            "127.9.9.9",
            "::1",
            "[::1]",
            "fd12::1",
            "EXAMPLE.COM.",
        ] {
            assert_eq!(host_of(&rules, "https", bypassed), None, "{bypassed}");
        }
        for proxied in [
            "notexample.com",
            "example.com.evil",
            "128.0.0.1",
            "fe80::1",
            "kie.ai",
        ] {
            assert!(host_of(&rules, "https", proxied).is_some(), "{proxied}");
        }
        let everything =
            ProxyRules::from_env_with(env(&[("ALL_PROXY", "p:1"), ("no_proxy", "*")])).unwrap();
        assert_eq!(host_of(&everything, "https", "kie.ai"), None);
    }

    #[test]
    fn bad_values_name_the_variable_not_the_value() {
        let err = ProxyRules::from_env_with(env(&[("HTTPS_PROXY", "socks5://u:hunter2@p:1")]))
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("HTTPS_PROXY"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn credentials_are_kept_but_never_shown() {
        let proxy = ProxyUrl::parse("https://user%40corp:p%3Ass@proxy:8443").unwrap();
        assert_eq!(proxy.username().as_deref(), Some("user@corp"));
        assert_eq!(proxy.password().as_deref(), Some("p:ss"));
        assert_eq!(proxy.port(), 8443);
        assert_eq!(proxy.scheme(), "https");
        for shown in [proxy.to_string(), format!("{proxy:?}")] {
            assert!(
                !shown.contains("p%3Ass") && !shown.contains("user"),
                "{shown}"
            );
        }
        assert!(proxy.as_str_with_credentials().contains("p%3Ass"));
        let setting = ProxySetting::Url(proxy);
        assert!(!format!("{setting:?}").contains("p%3Ass"));
        let rules = setting.rules(|_| None).unwrap();
        assert!(!format!("{rules:?}").contains("p%3Ass"));
    }

    #[test]
    fn explicit_and_none_settings_ignore_the_environment() {
        let env = env(&[("ALL_PROXY", "http://env:1")]);
        let explicit = ProxySetting::Url(ProxyUrl::parse("http://mine:2").unwrap());
        let rules = explicit.rules(&env).unwrap();
        assert_eq!(host_of(&rules, "http", "x").as_deref(), Some("mine:2"));
        assert!(ProxySetting::None.rules(&env).unwrap().is_empty());
        let rules = ProxySetting::FromEnvironment.rules(&env).unwrap();
        assert_eq!(host_of(&rules, "https", "x").as_deref(), Some("env:1"));
    }
}
