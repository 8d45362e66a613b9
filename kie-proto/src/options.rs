//! What a caller says about an upload ([`UploadOptions`], shared by both drivers), the
//! decisions taken from it before the first byte is sent ([`UploadPlan`]), and progress
//! reporting ([`ProgressReporter`]).

use std::fmt;
use std::sync::Arc;

use crate::body::ContentLengthMismatch;
use crate::content::ContentStart;
use crate::error::Error;
use crate::input::{FileName, InvalidInput, MimeType, UploadPath, extension_of};
use crate::mime::{detect_mime, extension_for_mime, sniff_len};
use crate::upload::{
    Base64Form, Base64Upload, ContentUpload, StreamUpload, UploadEndpoint, UrlUpload,
};

/// How far an upload has come: content bytes handed to the transport, out of the content's
/// length (the file's size, not the larger base64 or multipart body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Content bytes sent in this attempt.
    pub sent: u64,
    /// Content length.
    pub total: u64,
    /// The attempt these bytes belong to (1 for the first).
    pub attempt: u32,
    /// From the second attempt on: why the attempt before failed.
    pub retry_cause: Option<RetryCause>,
}

/// Why an attempt failed and the next one started, as a progress display says it
/// ("retrying (attempt 2, HTTP 503)").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryCause {
    /// The service, or a proxy or CDN in front of it, answered this status.
    Status(http::StatusCode),
    /// No usable answer came.
    Transport(crate::TransportFailure),
}

impl fmt::Display for RetryCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryCause::Status(status) => write!(f, "HTTP {}", status.as_u16()),
            RetryCause::Transport(failure) => f.write_str(&failure.summary()),
        }
    }
}

impl Progress {
    /// `sent` of `total` content bytes in attempt `attempt` (1 for the first), e.g. to test
    /// a progress callback.
    pub fn new(sent: u64, total: u64, attempt: u32) -> Progress {
        Progress {
            sent,
            total,
            attempt,
            retry_cause: None,
        }
    }

    /// The same, after an attempt that failed for `cause`.
    pub fn with_retry_cause(self, cause: Option<RetryCause>) -> Progress {
        Progress {
            retry_cause: cause,
            ..self
        }
    }
}

/// A progress callback. It runs on the thread (or task) that sends the body: keep it quick.
pub type ProgressCallback = Arc<dyn Fn(Progress) + Send + Sync>;

/// Options of one upload, the same for every method of both drivers.
///
/// `upload_path` is required (the endpoint schemas require it; spec §7.3). When no
/// `file_name` is given, the driver picks `<16 random hex digits>.<extension>` **once, before
/// the first attempt**, and sends it on every retry: a retried upload then overwrites itself
/// instead of leaving a second copy under another random name. The extension is the source
/// file's, or else the one of the detected MIME type.
///
/// ```
/// use kie_proto::UploadOptions;
/// let options = UploadOptions::new("images/user-uploads")
///     .file_name("cat.png")
///     .data_url(true)
///     .on_progress(|p| eprintln!("{}/{}", p.sent, p.total));
/// assert_eq!(options.upload_path(), "images/user-uploads");
/// ```
#[derive(Clone)]
pub struct UploadOptions {
    upload_path: String,
    file_name: Option<String>,
    mime_type: Option<String>,
    data_url: bool,
    verify_download: bool,
    endpoint: UploadEndpoint,
    progress: Option<ProgressCallback>,
}

impl fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadOptions")
            .field("upload_path", &self.upload_path)
            .field("file_name", &self.file_name)
            .field("mime_type", &self.mime_type)
            .field("data_url", &self.data_url)
            .field("verify_download", &self.verify_download)
            .field("endpoint", &self.endpoint)
            .field("progress", &self.progress.as_ref().map(|_| "<callback>"))
            .finish()
    }
}

impl UploadOptions {
    /// Upload into the folder `upload_path` (e.g. `images/user-uploads`).
    pub fn new(upload_path: impl Into<String>) -> Self {
        Self {
            upload_path: upload_path.into(),
            file_name: None,
            mime_type: None,
            data_url: false,
            verify_download: false,
            endpoint: UploadEndpoint::Stream,
            progress: None,
        }
    }

    /// The endpoint that carries the content: [`UploadEndpoint::Stream`] (multipart, the
    /// default, for files of any size) or [`UploadEndpoint::Base64`]. The drivers' `upload`
    /// follows it; their named methods (`upload_file`, `upload_base64_file`, …) choose
    /// their own.
    pub fn endpoint(mut self, endpoint: UploadEndpoint) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// The endpoint chosen with [`endpoint`](Self::endpoint).
    pub fn get_endpoint(&self) -> UploadEndpoint {
        self.endpoint
    }

    /// Store under this name, extension included. The same name in the same folder
    /// overwrites the earlier file.
    pub fn file_name(mut self, file_name: impl Into<String>) -> Self {
        self.file_name = Some(file_name.into());
        self
    }

    /// Use this MIME type instead of detecting one.
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// For the base64 endpoint: send a data URL (`data:<mime>;base64,…`) instead of bare
    /// base64 (the default).
    pub fn data_url(mut self, data_url: bool) -> Self {
        self.data_url = data_url;
        self
    }

    /// After the upload, download the stored file back from its `downloadUrl` (without the
    /// API key) and compare its length and SHA-256 with the content, in constant memory;
    /// a difference is [`IntegrityError::DownloadMismatch`](crate::IntegrityError). The
    /// content is read a second time for this, as it is after the upload, so only files and
    /// bytes can be verified: with a reader the upload is refused before anything is sent
    /// ([`InvalidInput::VerifyDownloadNeedsContent`]). Off by default; it costs a download.
    pub fn verify_download(mut self, verify: bool) -> Self {
        self.verify_download = verify;
        self
    }

    /// Call `callback` as the content is sent: at least every [`ProgressReporter::INTERVAL`]
    /// bytes and when the whole content has been sent; `sent` never decreases within an
    /// attempt and reaches `total` exactly once per successful attempt; a retry starts again
    /// at 0 with the next attempt number.
    pub fn on_progress(mut self, callback: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(callback));
        self
    }

    /// The folder, as given.
    pub fn upload_path(&self) -> &str {
        &self.upload_path
    }

    /// The file name, as given.
    pub fn get_file_name(&self) -> Option<&str> {
        self.file_name.as_deref()
    }

    /// The MIME type override, as given.
    pub fn get_mime_type(&self) -> Option<&str> {
        self.mime_type.as_deref()
    }

    /// Whether the base64 endpoint gets a data URL.
    pub fn is_data_url(&self) -> bool {
        self.data_url
    }

    /// Whether the stored file is downloaded back and compared after the upload.
    pub fn is_verify_download(&self) -> bool {
        self.verify_download
    }

    /// The progress callback.
    pub fn progress(&self) -> Option<&ProgressCallback> {
        self.progress.as_ref()
    }

    /// Checks every option that can be checked without the content. Drivers call this
    /// before touching the source, so bad options fail before a file is even opened.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        UploadPath::new(self.upload_path.as_str())?;
        if let Some(name) = &self.file_name {
            FileName::new(name.as_str())?;
        }
        if let Some(mime) = &self.mime_type {
            MimeType::new(mime.as_str())?;
        }
        Ok(())
    }

    /// Settles what every attempt of an upload sends, before the first: checks the options
    /// (as [`validate`](Self::validate)), that a verification can read the content again
    /// ([`SourceKind::can_verify`](crate::SourceKind::can_verify), else
    /// [`InvalidInput::VerifyDownloadNeedsContent`]) and that the source gave as many first
    /// bytes as its length promises ([`ContentLengthMismatch`]); then the MIME type (given,
    /// or detected from the first bytes and the name) and the file name (given, or
    /// generated from `random` with the source's extension or the MIME type's), and the
    /// endpoint.
    pub fn plan(&self, content: ContentStart<'_>, random: u64) -> Result<UploadPlan, Error> {
        self.validate()?;
        if self.verify_download && !content.source.can_verify() {
            return Err(InvalidInput::VerifyDownloadNeedsContent.into());
        }
        ContentLengthMismatch::check_prefix(content.prefix.len(), content.len)?;
        let prefix = &content.prefix[..sniff_len(content.len).min(content.prefix.len())];
        let upload_path = UploadPath::new(self.upload_path.as_str())?;
        let mime_type = match &self.mime_type {
            Some(mime) => MimeType::new(mime.as_str())?,
            None => detect_mime(prefix, self.file_name.as_deref().or(content.name)),
        };
        let file_name = match &self.file_name {
            Some(name) => FileName::new(name.as_str())?,
            None => {
                let extension = content
                    .name
                    .and_then(extension_of)
                    .or_else(|| extension_for_mime(&mime_type));
                FileName::generated(random, extension)
            }
        };
        Ok(UploadPlan {
            upload_path,
            file_name,
            mime_type,
            data_url: self.data_url,
            endpoint: self.endpoint,
            len: content.len,
        })
    }

    /// The URL upload these options describe; `fileUrl` is sent in its normalised form
    /// ([`HttpUrl`](crate::HttpUrl)). Without a file name, the name is the URL's last path
    /// segment, percent-decoded (`a%20b.png` is stored as `a b.png`), when that is a valid
    /// [`FileName`] with an extension (what the service itself documents), else a generated
    /// one — fixed here so retries overwrite.
    pub fn url_upload(&self, file_url: &str, random: u64) -> Result<UrlUpload, InvalidInput> {
        let upload_path = UploadPath::new(self.upload_path.as_str())?;
        let upload = UrlUpload::from_url(upload_path, file_url)?;
        let file_name = match &self.file_name {
            Some(name) => FileName::new(name.as_str())?,
            None => {
                let from_url = upload
                    .file_url()
                    .last_segment()
                    .and_then(|segment| FileName::new(segment).ok())
                    .filter(|name| name.extension().is_some());
                from_url.unwrap_or_else(|| FileName::generated(random, None))
            }
        };
        Ok(upload.with_file_name(file_name))
    }
}

/// The settled facts of one upload: the same on every attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadPlan {
    /// The folder.
    pub upload_path: UploadPath,
    /// The stored name.
    pub file_name: FileName,
    /// The content's MIME type.
    pub mime_type: MimeType,
    /// Whether the base64 endpoint gets a data URL.
    pub data_url: bool,
    /// The endpoint that carries the content.
    pub endpoint: UploadEndpoint,
    /// The content's length.
    pub len: u64,
}

impl UploadPlan {
    /// The upload of the planned content through the planned endpoint.
    pub fn upload(&self) -> ContentUpload {
        match self.endpoint {
            UploadEndpoint::Stream => ContentUpload::Stream(self.stream_upload(self.len)),
            UploadEndpoint::Base64 => ContentUpload::Base64(self.base64_upload(self.len)),
        }
    }

    /// The same plan through `endpoint`.
    pub fn with_endpoint(mut self, endpoint: UploadEndpoint) -> UploadPlan {
        self.endpoint = endpoint;
        self
    }

    /// A multipart upload of `content_len` bytes.
    pub fn stream_upload(&self, content_len: u64) -> StreamUpload {
        StreamUpload::new(
            self.upload_path.clone(),
            self.file_name.clone(),
            content_len,
        )
        .with_mime_type(self.mime_type.clone())
    }

    /// A base64 upload of `content_len` bytes.
    pub fn base64_upload(&self, content_len: u64) -> Base64Upload {
        let form = if self.data_url {
            Base64Form::DataUrl(self.mime_type.clone())
        } else {
            Base64Form::Bare
        };
        Base64Upload::new(self.upload_path.clone(), content_len)
            .with_file_name(self.file_name.clone())
            .with_form(form)
    }
}

/// Decides when to call a progress callback; drivers call it as they send content.
pub struct ProgressReporter {
    callback: Option<ProgressCallback>,
    total: u64,
    sent: u64,
    next_report: u64,
    attempt: u32,
    retry_cause: Option<RetryCause>,
    reported_total: bool,
}

impl fmt::Debug for ProgressReporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProgressReporter")
            .field("total", &self.total)
            .field("sent", &self.sent)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl ProgressReporter {
    /// Bytes between two reports, at most.
    pub const INTERVAL: u64 = 1 << 20;

    /// A reporter for `total` content bytes, calling `callback` (if any).
    pub fn new(callback: Option<ProgressCallback>, total: u64) -> Self {
        Self {
            callback,
            total,
            sent: 0,
            next_report: Self::INTERVAL,
            attempt: 0,
            retry_cause: None,
            reported_total: false,
        }
    }

    /// Why the attempt before the next one failed, reported with its progress.
    pub fn set_retry_cause(&mut self, cause: Option<RetryCause>) {
        self.retry_cause = cause;
    }

    /// A new attempt begins: the count restarts at 0; from the second attempt on, `(0, total)`
    /// is reported so a progress bar visibly resets.
    pub fn start_attempt(&mut self, attempt: u32) {
        self.attempt = attempt;
        self.sent = 0;
        self.next_report = Self::INTERVAL;
        self.reported_total = false;
        if attempt > 1 && self.total > 0 {
            self.report();
        }
    }

    /// `bytes` more content bytes were sent.
    pub fn advance(&mut self, bytes: u64) {
        self.sent = self.sent.saturating_add(bytes).min(self.total);
        if self.sent == self.total {
            self.complete();
        } else if self.sent >= self.next_report {
            self.next_report = (self.sent / Self::INTERVAL + 1).saturating_mul(Self::INTERVAL);
            self.report();
        }
    }

    /// All content was sent (also for empty content): reports `(total, total)` once.
    pub fn complete(&mut self) {
        self.sent = self.total;
        if !self.reported_total {
            self.reported_total = true;
            self.report();
        }
    }

    fn report(&self) {
        if let Some(callback) = &self.callback {
            callback(Progress {
                sent: self.sent,
                total: self.total,
                attempt: self.attempt,
                retry_cause: self.retry_cause,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn plan_picks_a_name_once_from_random_and_extension() -> Result<(), Error> {
        use crate::content::SourceKind;
        let options = UploadOptions::new("images");
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let bytes = |prefix: &'static [u8]| {
            ContentStart::new(SourceKind::Bytes, prefix, prefix.len() as u64)
        };
        let plan = options.plan(bytes(png), 0xabc)?;
        assert_eq!(plan.file_name.as_str(), "0000000000000abc.png");
        assert_eq!(plan.mime_type.as_str(), "image/png");
        let plan = options.plan(bytes(b"").with_name(Some("holiday.JPEG")), 1)?;
        assert_eq!(plan.file_name.as_str(), "0000000000000001.JPEG");
        assert_eq!(plan.mime_type.as_str(), "image/jpeg");
        let plan = options
            .clone()
            .file_name("mine.bin")
            .mime_type("video/mp4")
            .plan(bytes(png).with_name(Some("x.png")), 1)?;
        assert_eq!(
            (plan.file_name.as_str(), plan.mime_type.as_str()),
            ("mine.bin", "video/mp4")
        );
        assert!(matches!(
            UploadOptions::new("/x").validate(),
            Err(InvalidInput::UploadPathSlash(_))
        ));
        assert!(matches!(
            options.clone().file_name("a/b").validate(),
            Err(InvalidInput::FileNameSeparator(_))
        ));
        assert!(matches!(
            options.mime_type("nope").validate(),
            Err(InvalidInput::MimeType(_))
        ));
        Ok(())
    }

    // Uses WHATWG forms (non-ASCII, spaces); without the `url` feature those are refused.
    #[cfg(feature = "url")]
    #[test]
    fn url_upload_names() -> Result<(), InvalidInput> {
        let options = UploadOptions::new("docs");
        let named = |url| {
            let op = options.url_upload(url, 5)?;
            let api = crate::Api::new(crate::ApiKey::new("k")?);
            let request = crate::Operation::to_request(&op, &api)?;
            let crate::Body::Complete(json) = request.into_body() else {
                return Ok(String::new());
            };
            let json: serde_json::Value = serde_json::from_slice(&json).unwrap_or_default();
            Ok::<_, InvalidInput>(json["fileName"].as_str().unwrap_or_default().to_owned())
        };
        assert_eq!(named("https://example.com/docs/manual.pdf")?, "manual.pdf");
        // Percent-decoded, then validated like any name.
        assert_eq!(named("https://example.com/a%20b.png")?, "a b.png");
        assert_eq!(
            named("https://example.com/%E3%83%95%E3%82%A1%E3%82%A4%E3%83%AB.png?v=1")?,
            "ファイル.png"
        );
        assert_eq!(named("https://example.com/ファイル.png")?, "ファイル.png");
        assert_eq!(named("https://example.com/100%25.png")?, "100%.png");
        // Decoded names that break a rule, or are not UTF-8, give a generated name.
        for url in [
            "https://example.com/a%2Fb.png",
            "https://example.com/a%5Cb.png",
            "https://example.com/a%0Ab.png",
            "https://example.com/%FF.png",
            "https://example.com/%2E%2E",
            "https://example.com/",
        ] {
            assert_eq!(named(url)?, "0000000000000005", "{url}");
        }
        assert_eq!(
            named("https://example.com/download?id=3")?,
            "0000000000000005"
        );
        // The fileUrl sent is the one validated: normalised.
        let op = options.url_upload("HTTPS://EXAMPLE.COM:443/A B.PNG", 5)?;
        let api = crate::Api::new(crate::ApiKey::new("k")?);
        let body = crate::Operation::to_request(&op, &api)?.into_body();
        assert_eq!(
            body,
            crate::Body::Complete(
                br#"{"fileUrl":"https://example.com/A%20B.PNG","uploadPath":"docs","fileName":"A B.PNG"}"#
                    .to_vec()
            )
        );
        assert_eq!(
            options
                .url_upload("http:///nohost.png", 1)
                .map_err(|e| e.to_string()),
            Err(
                r#"fileUrl is not an absolute URL (no host after "//"): "http:///nohost.png""#
                    .to_owned()
            )
        );
        assert!(matches!(
            options.url_upload("ftp://x/y", 1),
            Err(InvalidInput::UrlScheme {
                field: "fileUrl",
                ..
            })
        ));
        Ok(())
    }

    #[test]
    fn progress_contract() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let callback: ProgressCallback = Arc::new(move |p: Progress| {
            if let Ok(mut seen) = sink.lock() {
                seen.push((p.sent, p.attempt));
            }
        });
        let mib = ProgressReporter::INTERVAL;
        let mut reporter = ProgressReporter::new(Some(callback), 3 * mib);
        reporter.start_attempt(1);
        reporter.advance(mib / 2);
        reporter.advance(mib);
        reporter.advance(mib);
        reporter.start_attempt(2);
        for _ in 0..6 {
            reporter.advance(mib / 2);
        }
        reporter.complete();
        let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(
            seen,
            vec![
                (mib * 3 / 2, 1),
                (mib * 5 / 2, 1),
                (0, 2),
                (mib, 2),
                (2 * mib, 2),
                (3 * mib, 2)
            ]
        );

        let count = Arc::new(Mutex::new(0));
        let sink = Arc::clone(&count);
        let mut empty = ProgressReporter::new(
            Some(Arc::new(move |_| {
                *sink.lock().unwrap_or_else(|e| e.into_inner()) += 1
            })),
            0,
        );
        empty.start_attempt(1);
        empty.advance(0);
        empty.complete();
        assert_eq!(*count.lock().unwrap_or_else(|e| e.into_inner()), 1);
    }
}

#[cfg(test)]
mod plan_checks {
    use super::*;
    use crate::content::SourceKind;

    #[test]
    fn the_plan_refuses_what_cannot_work_before_anything_is_sent() {
        let verify = UploadOptions::new("docs").verify_download(true);
        for source in [SourceKind::Reader, SourceKind::Seekable] {
            let error = verify
                .plan(ContentStart::new(source, b"abc", 3), 1)
                .unwrap_err();
            assert!(matches!(
                error,
                Error::InvalidInput(InvalidInput::VerifyDownloadNeedsContent)
            ));
        }
        assert!(
            verify
                .plan(ContentStart::new(SourceKind::File, b"abc", 3), 1)
                .is_ok()
        );
        // A source that gave fewer first bytes than its length promises.
        let short =
            UploadOptions::new("docs").plan(ContentStart::new(SourceKind::Reader, b"ab", 5), 1);
        assert!(matches!(short, Err(Error::ContentLength(_))), "{short:?}");
        // The endpoint decides the operation.
        let content = ContentStart::new(SourceKind::Bytes, b"abc", 3);
        let stream = UploadOptions::new("docs").plan(content, 1).unwrap();
        assert!(matches!(stream.upload(), ContentUpload::Stream(_)));
        let base64 = UploadOptions::new("docs")
            .endpoint(UploadEndpoint::Base64)
            .plan(content, 1)
            .unwrap();
        assert!(matches!(base64.upload(), ContentUpload::Base64(_)));
    }
}
