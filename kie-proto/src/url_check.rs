//! Checking absolute `http(s)` URLs: the `fileUrl` of URL uploads, the `url` of
//! download-url, and the base URLs.
//!
//! With the `url` feature, URLs are parsed and serialised by the WHATWG URL standard (the
//! `url` crate, with internationalised hosts through IDNA). Without it, [`parse_ascii`] — a
//! small, strict parser of ASCII URLs — does the same job for the URLs an API client meets,
//! and refuses the rest (non-ASCII, characters the standard would rewrite) with a reason
//! instead of guessing.

/// What the protocol needs to know of a checked URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckedUrl {
    /// The URL to send: WHATWG-serialised with the `url` feature; without it the input with
    /// the scheme and host lowercased, a default port dropped and an empty path made `/`.
    pub serialized: String,
    /// Whether the URL has a query (`?…`).
    pub has_query: bool,
    /// Whether the URL has a fragment (`#…`).
    pub has_fragment: bool,
    /// The last segment of the path, as written (still percent-encoded).
    pub last_segment: String,
    /// `http` or `https`.
    pub scheme: String,
    /// The host, lower-cased; an IPv6 address in brackets.
    pub host: String,
    /// The port, when the URL names one other than the scheme's default.
    pub port: Option<u16>,
    /// `user[:password]`, as written (still percent-encoded), when the URL has credentials.
    pub userinfo: Option<String>,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UrlRefusal {
    /// Not an absolute URL; the reason says why.
    Invalid(String),
    /// An absolute URL of a scheme other than `http` or `https`.
    Scheme,
}

/// Parses `url` as an absolute `http` or `https` URL with a host.
pub(crate) fn parse(url: &str) -> Result<CheckedUrl, UrlRefusal> {
    #[cfg(feature = "url")]
    return parse_whatwg(url);
    #[cfg(not(feature = "url"))]
    return parse_ascii(url);
}

/// [`parse`] by the WHATWG URL standard (the `url` crate).
#[cfg(feature = "url")]
fn parse_whatwg(url: &str) -> Result<CheckedUrl, UrlRefusal> {
    let parsed = url::Url::parse(url).map_err(|err| UrlRefusal::Invalid(err.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(UrlRefusal::Scheme);
    }
    if parsed.host_str().is_none_or(str::is_empty) || !has_written_host(url) {
        return Err(UrlRefusal::Invalid("no host after \"//\"".to_owned()));
    }
    let last_segment = parsed
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .unwrap_or_default()
        .to_owned();
    let userinfo = match (parsed.username(), parsed.password()) {
        ("", None) => None,
        (user, None) => Some(user.to_owned()),
        (user, Some(password)) => Some(format!("{user}:{password}")),
    };
    Ok(CheckedUrl {
        serialized: parsed.as_str().to_owned(),
        has_query: parsed.query().is_some(),
        has_fragment: parsed.fragment().is_some(),
        last_segment,
        scheme: parsed.scheme().to_owned(),
        host: parsed.host_str().unwrap_or_default().to_owned(),
        port: parsed.port(),
        userinfo,
    })
}

/// Whether `url` (already known to parse with an http(s) scheme) is written with an
/// authority, RFC 3986 style: `scheme://` and then something other than another slash.
/// The WHATWG parser skips any run of `/` and `\` there, so `http:///nohost.png` would read
/// as host `nohost.png` while every RFC 3986 reader sees an empty host.
#[cfg(feature = "url")]
fn has_written_host(url: &str) -> bool {
    // WHATWG strips leading and trailing C0 controls and spaces, and tabs and newlines anywhere.
    let url: String = url
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let Some((_, rest)) = url.split_once(':') else {
        return false;
    };
    rest.strip_prefix("//")
        .and_then(|authority| authority.chars().next())
        .is_some_and(|c| c != '/' && c != '\\')
}

/// [`parse`] for ASCII URLs, without the `url` crate: `scheme://[userinfo@]host[:port]`
/// then an optional path, query and fragment. The host is a DNS name (letters, digits,
/// `-`, `.`, `_`), an IPv4 address or a bracketed IPv6 address. Refused with a reason:
/// non-ASCII text (internationalised URLs need the `url` feature), whitespace and control
/// characters, a missing `//`, and the characters `"<>\`{}\\` that the standard would
/// rewrite. Dot segments and IPv4 shorthands are kept as written.
#[cfg_attr(feature = "url", allow(dead_code))] // with `url`, only the tests use it
pub(crate) fn parse_ascii(url: &str) -> Result<CheckedUrl, UrlRefusal> {
    let invalid = |reason: &str| Err(UrlRefusal::Invalid(reason.to_owned()));
    if !url.is_ascii() {
        return invalid("non-ASCII characters; internationalised URLs need the `url` feature");
    }
    if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return invalid("whitespace or control character");
    }
    let Some((scheme, rest)) = url.split_once(':') else {
        return invalid("relative URL without a base");
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return invalid("relative URL without a base");
    }
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(UrlRefusal::Scheme),
    };
    let Some(rest) = rest.strip_prefix("//") else {
        return invalid("no // after the scheme");
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let Some((ipv6, after)) = bracketed.split_once(']') else {
            return invalid("invalid IPv6 address");
        };
        if ipv6.parse::<std::net::Ipv6Addr>().is_err() {
            return invalid("invalid IPv6 address");
        }
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return invalid("invalid IPv6 address"),
            },
        };
        (&host_port[..ipv6.len() + 2], port)
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return invalid("empty host");
    }
    let host_ok = host.starts_with('[')
        || host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    if !host_ok {
        return invalid("invalid domain character");
    }
    let port = match port.filter(|port| !port.is_empty()) {
        None => None,
        Some(port) if port.bytes().all(|b| b.is_ascii_digit()) => match port.parse::<u16>() {
            Ok(port) => Some(port).filter(|&port| port != default_port),
            Err(_) => return invalid("invalid port number"),
        },
        Some(_) => return invalid("invalid port number"),
    };
    if tail.bytes().any(|b| b"\"<>`{}\\".contains(&b)) {
        return invalid("a character that must be percent-encoded");
    }
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    let (path, query_fragment) = tail.split_at(path_end);
    let fragment_start = query_fragment.find('#');
    let has_query = query_fragment.starts_with('?');
    let last_segment = path.rsplit('/').next().unwrap_or_default().to_owned();

    let mut serialized = format!("{scheme}://");
    if let Some(userinfo) = userinfo {
        serialized.push_str(userinfo);
        serialized.push('@');
    }
    let host = host.to_ascii_lowercase();
    serialized.push_str(&host);
    if let Some(port) = port {
        serialized.push_str(&format!(":{port}"));
    }
    serialized.push_str(if path.is_empty() { "/" } else { path });
    serialized.push_str(query_fragment);
    Ok(CheckedUrl {
        serialized,
        has_query,
        has_fragment: fragment_start.is_some(),
        last_segment,
        scheme,
        host,
        port,
        userinfo: userinfo.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> CheckedUrl {
        match parse_ascii(url) {
            Ok(checked) => checked,
            Err(refusal) => panic!("{url:?}: {refusal:?}"),
        }
    }

    fn reason(url: &str) -> String {
        match parse_ascii(url) {
            Err(UrlRefusal::Invalid(reason)) => reason,
            other => panic!("{url:?}: {other:?}"),
        }
    }

    #[test]
    fn serialises_like_the_standard_for_plain_urls() {
        for (input, serialized) in [
            ("https://example.com", "https://example.com/"),
            (
                "HTTPS://Example.COM:443/a/B.png",
                "https://example.com/a/B.png",
            ),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/"),
            ("http://h:80?q=1", "http://h/?q=1"),
            ("http://[::1]:9000/x#f", "http://[::1]:9000/x#f"),
            (
                "https://u:p@host.example/p?a=b",
                "https://u:p@host.example/p?a=b",
            ),
            ("https://h.example:/x", "https://h.example/x"),
        ] {
            assert_eq!(ok(input).serialized, serialized, "{input}");
        }
    }

    #[test]
    fn reports_query_fragment_and_last_segment() {
        let checked = ok("https://h/images/a%20b.png?sig=1#top");
        assert!(checked.has_query && checked.has_fragment);
        assert_eq!(checked.last_segment, "a%20b.png");
        let checked = ok("https://h/a/#x?y");
        assert!(!checked.has_query && checked.has_fragment);
        assert_eq!(checked.last_segment, "");
        assert_eq!(ok("https://h").last_segment, "");
    }

    #[test]
    fn refuses_what_it_cannot_serialise_faithfully() {
        assert_eq!(parse_ascii("ftp://h/x"), Err(UrlRefusal::Scheme));
        assert_eq!(parse_ascii("mailto:a@b"), Err(UrlRefusal::Scheme));
        assert_eq!(reason("/relative"), "relative URL without a base");
        assert_eq!(reason("example.com/x"), "relative URL without a base");
        assert_eq!(reason("http:example.com"), "no // after the scheme");
        assert_eq!(reason("http://"), "empty host");
        assert_eq!(reason("http://u@:80/"), "empty host");
        assert_eq!(reason("http://a b/"), "whitespace or control character");
        assert_eq!(reason("http://h/\n"), "whitespace or control character");
        assert_eq!(reason("http://h:99999/"), "invalid port number");
        assert_eq!(reason("http://h:8o/"), "invalid port number");
        assert_eq!(reason("http://[::g]/"), "invalid IPv6 address");
        assert_eq!(reason("http://[::1/"), "invalid IPv6 address");
        assert_eq!(reason("http://h%41/"), "invalid domain character");
        assert_eq!(
            reason("http://h/a\\b"),
            "a character that must be percent-encoded"
        );
        assert!(reason("https://bücher.example/").starts_with("non-ASCII"));
    }

    /// Where both parsers accept a URL, they agree on everything the protocol uses.
    #[cfg(feature = "url")]
    #[test]
    fn agrees_with_the_standard() {
        for url in [
            "https://example.com",
            "HTTPS://Example.COM:443/a/B.png",
            "http://127.0.0.1:8080",
            "http://h:80?q=1",
            "http://[::1]:9000/x#f",
            "https://u:p@host.example/p?a=b",
            "https://h/images/a%20b.png?sig=1#top",
            "https://h/a/#x?y",
            "https://h.example:/x",
        ] {
            assert_eq!(parse_ascii(url), parse_whatwg(url), "{url}");
        }
    }
}
