//! Validated request inputs: every value here has been checked against the rules the service
//! documents, so an operation built from them cannot send something the service rejects for
//! its form.
//!
//! Each check failure is its own [`InvalidInput`] variant whose message names the field and
//! the rule it broke.

use std::fmt;
use std::str::FromStr;

use crate::url_check::{self, CheckedUrl, UrlRefusal};

/// A request input that breaks a rule of the API. Returned before any byte is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidInput {
    /// A proxy URL given to the client is not an `http://` or `https://` URL with a host.
    /// The URL is not quoted: it may hold a password.
    #[error("the proxy URL is invalid: {reason} (value not shown: it may hold a password)")]
    ProxyUrl {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A proxy environment variable is set but is not a valid proxy URL.
    #[error(
        "{variable} is not a valid proxy URL: {reason} (value not shown: it may hold a password); fix or unset it, or configure the proxy on the client"
    )]
    ProxyVariable {
        /// The variable, e.g. `HTTPS_PROXY`.
        variable: &'static str,
        /// What is wrong with its value.
        reason: &'static str,
    },
    /// [`TlsRoots::WebPki`](crate::TlsRoots::WebPki) was chosen, but the driver was built
    /// without its `webpki-roots` Cargo feature.
    #[error(
        "TlsRoots::WebPki needs the driver's `webpki-roots` Cargo feature (or use TlsRoots::Platform)"
    )]
    WebPkiRootsNotBuiltIn,
    /// A certificate given in [`TlsRoots::Only`](crate::TlsRoots::Only) cannot be a trust
    /// anchor: it is not a DER-encoded X.509 certificate (PEM text, for instance).
    #[error(
        "certificate {index} of TlsRoots::Only (counting from 0) is not a DER-encoded X.509 certificate: give its DER bytes (decode PEM text first)"
    )]
    TlsRootInvalid {
        /// Its position in the list.
        index: usize,
    },
    /// The API key is empty.
    #[error("API key is empty: set it to the key from the KIE.AI dashboard")]
    ApiKeyEmpty,
    /// The environment variable that should hold the API key is unset or empty.
    #[error(
        "{variable} is not set: export it with your KIE.AI API key (from the dashboard's API Key Management)"
    )]
    ApiKeyNotInEnvironment {
        /// The variable's name, `KIE_API_KEY`.
        variable: &'static str,
    },
    /// The API key holds a byte that cannot go into an HTTP header.
    #[error(
        "API key contains a control character, space or non-ASCII byte at position {position}; \
         it cannot be sent in a header (a trailing newline from a file is a common cause)"
    )]
    ApiKeyInvalidByte {
        /// Byte offset of the first offending byte (the key itself is never shown).
        position: usize,
    },
    /// `uploadPath` is empty.
    #[error("uploadPath must not be empty")]
    UploadPathEmpty,
    /// `uploadPath` starts or ends with `/`.
    #[error("uploadPath must not start or end with '/': {0:?}")]
    UploadPathSlash(String),
    /// `uploadPath` has an empty segment (`a//b`).
    #[error("uploadPath must not contain an empty segment ('//'): {0:?}")]
    UploadPathEmptySegment(String),
    /// `uploadPath` has a `.` or `..` segment.
    #[error("uploadPath must not contain a '.' or '..' segment: {0:?}")]
    UploadPathDotSegment(String),
    /// `uploadPath` has a control character.
    #[error("uploadPath must not contain control characters: {0:?}")]
    UploadPathControlChar(String),
    /// `fileName` is empty.
    #[error("fileName must not be empty (leave it out to let a name be chosen)")]
    FileNameEmpty,
    /// `fileName` contains `/` or `\`.
    #[error("fileName must not contain '/' or '\\' (put folders in uploadPath): {0:?}")]
    FileNameSeparator(String),
    /// `fileName` is `.` or `..`.
    #[error("fileName must not be '.' or '..'")]
    FileNameDotName,
    /// `fileName` has a control character.
    #[error("fileName must not contain control characters: {0:?}")]
    FileNameControlChar(String),
    /// A URL field does not parse as an absolute URL.
    #[error("{field} is not an absolute URL ({reason}): {url:?}")]
    UrlInvalid {
        /// The field (`fileUrl`, `url`, `upload base URL`, …).
        field: &'static str,
        /// The offending value.
        url: String,
        /// Why it did not parse.
        reason: String,
    },
    /// A URL field uses a scheme other than `http` or `https`.
    #[error("{field} must be an http:// or https:// URL: {url:?}")]
    UrlScheme {
        /// The field.
        field: &'static str,
        /// The offending value.
        url: String,
    },
    /// A base URL has a query or fragment.
    #[error("{field} must not have a query or fragment: {url:?}")]
    BaseUrlQuery {
        /// The field.
        field: &'static str,
        /// The offending value.
        url: String,
    },
    /// A MIME type is not of the form `type/subtype`.
    #[error("MIME type must look like 'type/subtype' with token characters only: {0:?}")]
    MimeType(String),
    /// The user agent cannot go into a header.
    #[error("user agent must be non-empty visible ASCII: {0:?}")]
    UserAgent(String),
    /// A multipart boundary breaks RFC 2046.
    #[error("multipart boundary must be 1 to 70 characters of [0-9A-Za-z'()+_,-./:=?]: {0:?}")]
    Boundary(String),
    /// A base64 upload of empty content: the service reads an empty `base64Data` as a
    /// missing parameter, so it can never succeed.
    #[error(
        "base64 upload content is empty: the service rejects an empty base64Data; upload empty files with the stream upload"
    )]
    Base64ContentEmpty,
    /// [`UploadOptions::verify_download`](crate::UploadOptions::verify_download) was asked
    /// for an upload from a reader, which cannot be read a second time.
    #[error(
        "verify_download needs content that can be read again after the upload: upload a file or bytes, or turn verification off"
    )]
    VerifyDownloadNeedsContent,
    /// The webhook key is empty.
    #[error("webhook HMAC key is empty")]
    WebhookKeyEmpty,
    /// A task id is empty or holds white space or a control character.
    #[error("the task id {0:?} is empty or holds white space or a control character")]
    TaskId(String),
    /// A task's `input` is not a JSON object.
    #[error("a task's input must be a JSON object")]
    TaskInput,
    /// A model slug is empty or holds white space or a control character.
    #[error("the model {0:?} is empty or holds white space or a control character")]
    Model(String),
    /// A task input lacks a required field, or has it with the wrong type.
    #[error("a task's input needs {field:?} ({expected})")]
    TaskField {
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
}

/// Implements `as_str`, `Display`, `AsRef<str>`, `FromStr` and `TryFrom<&str | String>` for a
/// validated string newtype with a `fn new(String) -> Result<Self, InvalidInput>`.
macro_rules! validated_string {
    ($name:ident) => {
        impl $name {
            /// The validated value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl FromStr for $name {
            type Err = InvalidInput;
            fn from_str(s: &str) -> Result<Self, InvalidInput> {
                Self::new(s)
            }
        }
        impl TryFrom<&str> for $name {
            type Error = InvalidInput;
            fn try_from(s: &str) -> Result<Self, InvalidInput> {
                Self::new(s)
            }
        }
        impl TryFrom<String> for $name {
            type Error = InvalidInput;
            fn try_from(s: String) -> Result<Self, InvalidInput> {
                Self::new(s)
            }
        }
    };
}

/// The folder an upload is stored in (`uploadPath`), e.g. `images/user-uploads`.
///
/// Rules (spec §2.1; the service documents no character set or length): not empty, no
/// leading or trailing `/`, no empty, `.` or `..` segment, no control characters. Nested
/// segments are allowed.
///
/// ```
/// use kie_proto::{InvalidInput, UploadPath};
/// assert_eq!(UploadPath::new("images/user-uploads")?.as_str(), "images/user-uploads");
/// assert!(matches!(UploadPath::new("/images"), Err(InvalidInput::UploadPathSlash(_))));
/// assert!(matches!(UploadPath::new("a/../b"), Err(InvalidInput::UploadPathDotSegment(_))));
/// # Ok::<(), InvalidInput>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadPath(String);

impl UploadPath {
    /// Checks `path` against the `uploadPath` rules.
    pub fn new(path: impl Into<String>) -> Result<Self, InvalidInput> {
        let path = path.into();
        if path.is_empty() {
            return Err(InvalidInput::UploadPathEmpty);
        }
        if path.chars().any(char::is_control) {
            return Err(InvalidInput::UploadPathControlChar(path));
        }
        if path.starts_with('/') || path.ends_with('/') {
            return Err(InvalidInput::UploadPathSlash(path));
        }
        if path.split('/').any(str::is_empty) {
            return Err(InvalidInput::UploadPathEmptySegment(path));
        }
        if path
            .split('/')
            .any(|segment| segment == "." || segment == "..")
        {
            return Err(InvalidInput::UploadPathDotSegment(path));
        }
        Ok(Self(path))
    }
}
validated_string!(UploadPath);

/// The name a file is stored under (`fileName`), including its extension, e.g. `cat.png`.
///
/// Rules: not empty, no `/` or `\`, not `.` or `..`, no control characters. Any other
/// Unicode is allowed (the service documents no character set); in a multipart header it is
/// sent as a quoted string with `"` and `\` escaped, so it can never inject a header.
///
/// ```
/// use kie_proto::{FileName, InvalidInput};
/// assert_eq!(FileName::new("my \"cat\".png")?.extension(), Some("png"));
/// assert!(matches!(FileName::new("a/b.png"), Err(InvalidInput::FileNameSeparator(_))));
/// assert!(matches!(FileName::new("x\r\nEvil: 1"), Err(InvalidInput::FileNameControlChar(_))));
/// # Ok::<(), InvalidInput>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileName(String);

impl FileName {
    /// Checks `name` against the `fileName` rules.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidInput> {
        let name = name.into();
        if name.is_empty() {
            return Err(InvalidInput::FileNameEmpty);
        }
        if name.chars().any(char::is_control) {
            return Err(InvalidInput::FileNameControlChar(name));
        }
        if name.contains(['/', '\\']) {
            return Err(InvalidInput::FileNameSeparator(name));
        }
        if name == "." || name == ".." {
            return Err(InvalidInput::FileNameDotName);
        }
        Ok(Self(name))
    }

    /// A fresh name: 16 lowercase hex digits from `random`, then `.` and `extension` when
    /// one is given (`"png"`, not `".png"`).
    ///
    /// Used when the caller gives no name, so that every retry of one upload stores under the
    /// same name and overwrites instead of leaving a second copy.
    ///
    /// ```
    /// use kie_proto::FileName;
    /// assert_eq!(FileName::generated(0xfeed, Some("png")).as_str(), "000000000000feed.png");
    /// assert_eq!(FileName::generated(1, None).as_str(), "0000000000000001");
    /// ```
    pub fn generated(random: u64, extension: Option<&str>) -> Self {
        let extension = extension.filter(|ext| is_safe_extension(ext));
        match extension {
            Some(ext) => Self(format!("{random:016x}.{ext}")),
            None => Self(format!("{random:016x}")),
        }
    }

    /// The text after the last `.`, if there is one and it is not the whole name.
    pub fn extension(&self) -> Option<&str> {
        extension_of(&self.0)
    }
}
validated_string!(FileName);

/// The extension of a file name: the text after the last `.`, when it is a plausible one.
pub(crate) fn extension_of(name: &str) -> Option<&str> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && is_safe_extension(ext)).then_some(ext)
}

fn is_safe_extension(ext: &str) -> bool {
    (1..=16).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// An absolute `http://` or `https://` URL: the `fileUrl` of a URL upload and the `url` of a
/// download-url request.
///
/// The URL is kept, and sent, in its WHATWG-normalised form (the form the check read):
/// scheme and host in lower case, default port dropped, an empty path as `/`, characters
/// that must be percent-encoded encoded. The written form must have a host right after
/// `//`: `http:///x.png`, `http:/x.png` and `http:x.png` are refused, although the WHATWG
/// parser would find a host in them that RFC 3986 does not.
///
/// ```
/// use kie_proto::{HttpUrl, InvalidInput};
/// assert_eq!(HttpUrl::new("HTTPS://EXAMPLE.COM:443/A.PNG")?.as_str(), "https://example.com/A.PNG");
/// assert!(matches!(HttpUrl::new("ftp://example.com/x"), Err(InvalidInput::UrlScheme { .. })));
/// assert!(matches!(HttpUrl::new("/relative"), Err(InvalidInput::UrlInvalid { .. })));
/// assert!(matches!(HttpUrl::new("http:///nohost.png"), Err(InvalidInput::UrlInvalid { .. })));
/// # Ok::<(), InvalidInput>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpUrl(String);

impl HttpUrl {
    /// Checks that `url` is an absolute http(s) URL with a host, and keeps its normalised
    /// form.
    pub fn new(url: impl Into<String>) -> Result<Self, InvalidInput> {
        Self::for_field("url", url)
    }

    /// Like [`HttpUrl::new`], naming `field` in the error.
    pub(crate) fn for_field(
        field: &'static str,
        url: impl Into<String>,
    ) -> Result<Self, InvalidInput> {
        Ok(Self(check_http_url(field, &url.into())?.serialized))
    }

    /// The last path segment, percent-decoded, when it is UTF-8 (`a%20b.png` gives
    /// `a b.png`). Empty for a URL ending in `/`.
    pub(crate) fn last_segment(&self) -> Option<String> {
        let segment = url_check::parse(&self.0).ok()?.last_segment;
        percent_encoding::percent_decode_str(&segment)
            .decode_utf8()
            .ok()
            .map(Into::into)
    }
}
validated_string!(HttpUrl);

pub(crate) fn check_http_url(field: &'static str, url: &str) -> Result<CheckedUrl, InvalidInput> {
    url_check::parse(url).map_err(|refusal| match refusal {
        UrlRefusal::Invalid(reason) => InvalidInput::UrlInvalid {
            field,
            url: url.to_owned(),
            reason,
        },
        UrlRefusal::Scheme => InvalidInput::UrlScheme {
            field,
            url: url.to_owned(),
        },
    })
}

/// A MIME type such as `image/png`: `type/subtype` of RFC 6838 token characters, without
/// parameters. Used for the multipart part `Content-Type` and the data URL prefix.
///
/// ```
/// use kie_proto::MimeType;
/// assert_eq!(MimeType::new("image/png")?.as_str(), "image/png");
/// assert!(MimeType::new("image/png\r\nX: 1").is_err());
/// # Ok::<(), kie_proto::InvalidInput>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MimeType(String);

impl MimeType {
    /// Checks that `mime` is `type/subtype` made of token characters.
    pub fn new(mime: impl Into<String>) -> Result<Self, InvalidInput> {
        let mime = mime.into();
        let is_token = |s: &str| {
            !s.is_empty()
                && s.len() <= 127
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
        };
        match mime.split_once('/') {
            Some((kind, subtype)) if is_token(kind) && is_token(subtype) => Ok(Self(mime)),
            _ => Err(InvalidInput::MimeType(mime)),
        }
    }

    /// `application/octet-stream`, for content of unknown type.
    pub fn octet_stream() -> Self {
        Self("application/octet-stream".to_owned())
    }

    /// A MIME type known to be valid (from a detection table).
    pub(crate) fn from_static(mime: &'static str) -> Self {
        Self(mime.to_owned())
    }
}
validated_string!(MimeType);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_path_rules() {
        for ok in [
            "images",
            "images/user-uploads",
            "a/b/c",
            "日本/ü ber",
            "a.b/..c",
        ] {
            assert!(UploadPath::new(ok).is_ok(), "{ok}");
        }
        assert_eq!(UploadPath::new(""), Err(InvalidInput::UploadPathEmpty));
        for slash in ["/a", "a/", "/"] {
            assert!(matches!(
                UploadPath::new(slash),
                Err(InvalidInput::UploadPathSlash(_))
            ));
        }
        assert!(matches!(
            UploadPath::new("a//b"),
            Err(InvalidInput::UploadPathEmptySegment(_))
        ));
        for dots in ["..", "a/..", "../a", "a/./b", "."] {
            assert!(
                matches!(
                    UploadPath::new(dots),
                    Err(InvalidInput::UploadPathDotSegment(_))
                ),
                "{dots}"
            );
        }
        for ctl in ["a\nb", "a\rb", "a\0", "a\u{7f}", "a\u{85}"] {
            assert!(matches!(
                UploadPath::new(ctl),
                Err(InvalidInput::UploadPathControlChar(_))
            ));
        }
    }

    // WHATWG forms (spaces, tabs, backslashes, non-ASCII); the strict ASCII parser used
    // without the `url` feature refuses those, see `url_check`'s tests.
    #[cfg(feature = "url")]
    #[test]
    fn http_urls_are_kept_normalised() {
        let url = |text: &str| HttpUrl::new(text).map(|u| u.0);
        assert_eq!(
            url("HTTPS://EXAMPLE.COM/A.PNG"),
            Ok("https://example.com/A.PNG".to_owned())
        );
        assert_eq!(
            url(" http://Example.com:80/a b/ü.png#x "),
            Ok("http://example.com/a%20b/%C3%BC.png#x".to_owned())
        );
        assert_eq!(
            url("https://example.com"),
            Ok("https://example.com/".to_owned())
        );
        assert_eq!(
            url("https://exa\tmple.com/a"),
            Ok("https://example.com/a".to_owned())
        );
        assert_eq!(
            url("https://example.com\\a\\b.png"),
            Ok("https://example.com/a/b.png".to_owned())
        );
        assert_eq!(
            url("http://[::1]:8080/x?q=a b"),
            Ok("http://[::1]:8080/x?q=a%20b".to_owned())
        );
        // No host where RFC 3986 looks for one: refused, not "repaired" by WHATWG.
        for text in [
            "http:///nohost.png",
            "https:////x/a.png",
            "http:/nohost.png",
            "http:nohost.png",
            "http:\\\\x\\a.png",
            "https:/\\x/a.png",
            "http://",
        ] {
            let result = HttpUrl::new(text);
            assert!(
                matches!(result, Err(InvalidInput::UrlInvalid { .. })),
                "{text}: {result:?}"
            );
        }
        assert_eq!(
            HttpUrl::new("http:///nohost.png"),
            Err(InvalidInput::UrlInvalid {
                field: "url",
                url: "http:///nohost.png".to_owned(),
                reason: "no host after \"//\"".to_owned(),
            })
        );
    }

    #[test]
    fn file_name_rules() {
        for ok in [
            "a.png",
            "my \"quoted\" name.jpg",
            "ünï €.txt",
            ".hidden",
            "no-ext",
            "a..b",
        ] {
            assert!(FileName::new(ok).is_ok(), "{ok}");
        }
        assert_eq!(FileName::new(""), Err(InvalidInput::FileNameEmpty));
        assert_eq!(FileName::new("."), Err(InvalidInput::FileNameDotName));
        assert_eq!(FileName::new(".."), Err(InvalidInput::FileNameDotName));
        assert!(matches!(
            FileName::new("a\\b"),
            Err(InvalidInput::FileNameSeparator(_))
        ));
        assert!(matches!(
            FileName::new("a\tb"),
            Err(InvalidInput::FileNameControlChar(_))
        ));
        assert_eq!(
            FileName::new(".hidden").map(|n| n.extension().map(str::to_owned)),
            Ok(None)
        );
        assert_eq!(
            FileName::generated(7, Some("../x")).as_str(),
            "0000000000000007"
        );
    }

    #[test]
    fn messages_name_field_and_rule() {
        let msg = UploadPath::new("/x").map(|_| ()).unwrap_err().to_string();
        assert_eq!(msg, "uploadPath must not start or end with '/': \"/x\"");
        let msg = HttpUrl::for_field("fileUrl", "file:///etc/passwd")
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "fileUrl must be an http:// or https:// URL: \"file:///etc/passwd\""
        );
    }

    #[test]
    fn mime_rules() {
        assert!(MimeType::new("video/mp4").is_ok());
        assert!(
            MimeType::new(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            )
            .is_ok()
        );
        for bad in [
            "",
            "image",
            "image/",
            "/png",
            "image/png; charset=x",
            "a/b\"",
            "a/b/c",
        ] {
            assert!(MimeType::new(bad).is_err(), "{bad}");
        }
    }
}
