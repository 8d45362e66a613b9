//! Downloading a stored file: the request (no `Authorization`: the storage host is not
//! KIE.AI's API) and, when an upload is verified
//! ([`UploadOptions::verify_download`](crate::UploadOptions::verify_download)), the check of
//! the bytes that come back against the content sent (length and SHA-256).
//!
//! The rules live here; a driver only moves bytes: it feeds the content to a
//! [`ContentDigest`], sends [`download_request`], and feeds the answer to a
//! [`DownloadCheck`], chunk by chunk, in constant memory.

use http::{Method, Request, StatusCode, header};

use crate::api::Api;
use crate::digest::{ContentDigest, Digest};
use crate::error::{Error, IntegrityError};
use crate::input::HttpUrl;

/// The request that downloads an uploaded file back from `download_url`: `GET` with the
/// user agent (the CDN refuses requests without one) and without `Authorization`, which
/// must never reach the storage host.
///
/// ```
/// use kie_proto::{Api, ApiKey};
/// use kie_proto::driver::download_request;
/// let api = Api::new(ApiKey::new("sk-example")?);
/// let request = download_request(&api, "https://tempfile.redpandaai.co/kieai/1/a.png")?;
/// assert_eq!(request.method(), "GET");
/// assert!(request.headers().get("authorization").is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn download_request(api: &Api, download_url: &str) -> Result<Request<()>, IntegrityError> {
    let invalid = || IntegrityError::DownloadUrlInvalid {
        url: download_url.to_owned(),
    };
    let url = HttpUrl::new(download_url).map_err(|_| invalid())?;
    Request::builder()
        .method(Method::GET)
        .uri(url.as_str())
        .header(header::USER_AGENT, api.user_agent().clone())
        .body(())
        .map_err(|_| invalid())
}

/// Compares a download of the stored file with the [`Digest`] of the content sent, fed the
/// answer piece by piece.
///
/// ```
/// use kie_proto::{IntegrityError, http::StatusCode};
/// use kie_proto::driver::{ContentDigest, DownloadCheck};
/// let mut sent = ContentDigest::new();
/// sent.update(b"hello");
/// let sent = sent.finish();
/// let url = "https://tempfile.redpandaai.co/a.txt";
///
/// let mut check = DownloadCheck::new(url, sent, StatusCode::OK)?;
/// check.update(b"hel")?;
/// check.update(b"lo")?;
/// check.finish()?;
///
/// let mut check = DownloadCheck::new(url, sent, StatusCode::OK)?;
/// check.update(b"hellO")?;
/// assert!(matches!(check.finish(), Err(IntegrityError::DownloadMismatch { .. })));
/// // More bytes than were sent: an error at once, so a driver stops reading.
/// let mut check = DownloadCheck::new(url, sent, StatusCode::OK)?;
/// assert!(check.update(b"hello!").is_err());
/// assert!(matches!(
///     DownloadCheck::new(url, sent, StatusCode::NOT_FOUND),
///     Err(IntegrityError::DownloadRefused { status: 404, .. })
/// ));
/// # Ok::<(), IntegrityError>(())
/// ```
#[derive(Debug, Clone)]
pub struct DownloadCheck {
    url: String,
    sent: Digest,
    received: ContentDigest,
}

impl DownloadCheck {
    /// Starts checking the answer to [`download_request`] for `url`: only a 2xx status
    /// is a download.
    pub fn new(url: &str, sent: Digest, status: StatusCode) -> Result<Self, IntegrityError> {
        if !status.is_success() {
            return Err(IntegrityError::DownloadRefused {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        Ok(Self {
            url: url.to_owned(),
            sent,
            received: ContentDigest::new(),
        })
    }

    /// The next downloaded bytes. An error as soon as more bytes arrived than were sent:
    /// the driver stops reading there (a body never costs more than the upload's size).
    pub fn update(&mut self, bytes: &[u8]) -> Result<(), IntegrityError> {
        let room = self.sent.len.saturating_sub(self.received.len());
        match usize::try_from(room) {
            Ok(room) if bytes.len() > room => {
                let mut received = std::mem::take(&mut self.received);
                received.update(&bytes[..=room]);
                Err(self.mismatch(received.finish()))
            }
            _ => {
                self.received.update(bytes);
                Ok(())
            }
        }
    }

    /// The download ended: it must be exactly the content sent.
    pub fn finish(self) -> Result<(), IntegrityError> {
        let received = self.received.clone().finish();
        if received == self.sent {
            Ok(())
        } else {
            Err(self.mismatch(received))
        }
    }

    fn mismatch(&self, received: Digest) -> IntegrityError {
        IntegrityError::DownloadMismatch {
            url: self.url.clone(),
            sent: self.sent,
            received,
        }
    }
}

/// Where a download's answer goes, as a driver streams it: its status, then its body piece
/// by piece, then its end. An error is final (a refused status, wrong bytes); a driver
/// reports it as it is and does not retry.
pub trait DownloadSink {
    /// The answer's status arrived, with its `Content-Length` when it has one (a new
    /// attempt starts here: a sink starts again).
    fn head(&mut self, status: StatusCode, content_length: Option<u64>) -> Result<(), Error>;
    /// The next bytes of the body.
    fn bytes(&mut self, bytes: &[u8]) -> Result<(), Error>;
    /// The body ended.
    fn finish(&mut self) -> Result<(), Error>;
}

/// The sink of a verification ([`UploadOptions::verify_download`](crate::UploadOptions::verify_download)):
/// a [`DownloadCheck`] of the answer against the content `sent`, started again by every
/// attempt's status.
///
/// ```
/// use kie_proto::driver::{ContentDigest, DownloadSink, VerifySink};
/// use kie_proto::http::StatusCode;
/// let mut sent = ContentDigest::new();
/// sent.update(b"hello");
/// let mut sink = VerifySink::new("https://files.example/a.txt", sent.finish());
/// sink.head(StatusCode::OK, None)?;
/// sink.bytes(b"hel")?;
/// // The connection broke; the next attempt starts from the top.
/// sink.head(StatusCode::OK, None)?;
/// sink.bytes(b"hello")?;
/// sink.finish()?;
/// # Ok::<(), kie_proto::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct VerifySink {
    url: String,
    sent: Digest,
    check: Option<DownloadCheck>,
}

impl VerifySink {
    /// A verification of the download of `url` against `sent`.
    pub fn new(url: &str, sent: Digest) -> Self {
        VerifySink {
            url: url.to_owned(),
            sent,
            check: None,
        }
    }
}

impl DownloadSink for VerifySink {
    fn head(&mut self, status: StatusCode, _: Option<u64>) -> Result<(), Error> {
        self.check = Some(DownloadCheck::new(&self.url, self.sent, status)?);
        Ok(())
    }

    fn bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        match &mut self.check {
            Some(check) => Ok(check.update(bytes)?),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<(), Error> {
        match self.check.take() {
            Some(check) => Ok(check.finish()?),
            // No status arrived: nothing was downloaded.
            None => Err(IntegrityError::DownloadRefused {
                url: self.url.clone(),
                status: 0,
            }
            .into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(bytes: &[u8]) -> Digest {
        let mut digest = ContentDigest::new();
        digest.update(bytes);
        digest.finish()
    }

    const URL: &str = "https://tempfile.redpandaai.co/kieai/1/a.bin";

    #[test]
    fn download_check_is_exact_and_bounded() -> Result<(), IntegrityError> {
        let sent = digest(b"hello");
        // Any split of the same bytes passes.
        for cut in 0..=5 {
            let mut check = DownloadCheck::new(URL, sent, StatusCode::OK)?;
            check.update(&b"hello"[..cut])?;
            check.update(&b"hello"[cut..])?;
            check.finish()?;
        }
        // One byte too many fails at once, reporting the bytes up to it.
        let mut check = DownloadCheck::new(URL, sent, StatusCode::OK)?;
        check.update(b"hel")?;
        assert_eq!(
            check.update(b"lo!?"),
            Err(IntegrityError::DownloadMismatch {
                url: URL.to_owned(),
                sent,
                received: digest(b"hello!"),
            })
        );
        // Short or different: at the end.
        let check = DownloadCheck::new(URL, sent, StatusCode::OK)?;
        let error = check.finish().err();
        assert_eq!(
            error.map(|e| e.to_string()),
            Some(format!(
                "the file downloaded back from {URL} is not what was sent (0 bytes with SHA-256 \
                 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 instead of 5 bytes with SHA-256 \
                 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824); upload it again"
            ))
        );
        Ok(())
    }

    #[test]
    fn refused_downloads_and_bad_urls() -> Result<(), crate::InvalidInput> {
        let sent = digest(b"x");
        for status in [
            StatusCode::NOT_FOUND,
            StatusCode::FOUND,
            StatusCode::FORBIDDEN,
        ] {
            assert_eq!(
                DownloadCheck::new(URL, sent, status).err(),
                Some(IntegrityError::DownloadRefused {
                    url: URL.to_owned(),
                    status: status.as_u16(),
                })
            );
        }
        assert_eq!(
            IntegrityError::DownloadRefused {
                url: URL.to_owned(),
                status: 404
            }
            .to_string(),
            format!(
                "downloading the stored file back from {URL} to verify it was answered HTTP 404; the upload may be fine, check the URL or verify again later"
            )
        );
        let api = Api::new(crate::ApiKey::new("sk-secret")?);
        let request = download_request(&api, URL).map_err(|_| crate::InvalidInput::ApiKeyEmpty)?;
        assert_eq!(request.uri(), URL);
        assert_eq!(request.headers().len(), 1);
        assert_eq!(request.headers()[header::USER_AGENT], api.user_agent());
        for bad in ["", "/kieai/1/a.bin", "ftp://x/a.bin"] {
            assert_eq!(
                download_request(&api, bad).err(),
                Some(IntegrityError::DownloadUrlInvalid {
                    url: bad.to_owned()
                })
            );
        }
        Ok(())
    }
}
