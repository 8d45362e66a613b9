//! Uploads: one [`Client::upload`] of a source through the endpoint the options choose, and
//! the named methods (`upload_file`, `upload_bytes`, `upload_reader`, …) as thin sugar over
//! it.

use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};

use kie_proto::{Error, UploadEndpoint, UploadOptions, UploadResult};

use crate::client::Client;
use crate::run;
use crate::source::Source;

/// What [`Client::upload`] sends: a file by its path, or bytes (readers have
/// [`Client::upload_reader`]). The same as kie-async's `UploadSource`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadSource<'a> {
    /// The file at this path, read through a fixed buffer and opened again on a retry.
    Path(Cow<'a, Path>),
    /// These bytes.
    Bytes(Cow<'a, [u8]>),
}

impl<'a> UploadSource<'a> {
    /// The file at `path`.
    pub fn path(path: impl Into<Cow<'a, Path>>) -> Self {
        UploadSource::Path(path.into())
    }

    /// These bytes.
    pub fn bytes(bytes: impl Into<Cow<'a, [u8]>>) -> Self {
        UploadSource::Bytes(bytes.into())
    }
}

impl<'a> From<&'a Path> for UploadSource<'a> {
    fn from(path: &'a Path) -> Self {
        UploadSource::Path(Cow::Borrowed(path))
    }
}

impl From<PathBuf> for UploadSource<'_> {
    fn from(path: PathBuf) -> Self {
        UploadSource::Path(Cow::Owned(path))
    }
}

impl<'a> From<&'a [u8]> for UploadSource<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        UploadSource::Bytes(Cow::Borrowed(bytes))
    }
}

impl From<Vec<u8>> for UploadSource<'_> {
    fn from(bytes: Vec<u8>) -> Self {
        UploadSource::Bytes(Cow::Owned(bytes))
    }
}

impl Client {
    /// Uploads `source` through the endpoint `options` choose
    /// ([`UploadOptions::endpoint`]: multipart by default, or base64). Everything else —
    /// naming, retries, progress, verification — is as the named methods describe
    /// ([`upload_file`](Self::upload_file), [`upload_bytes`](Self::upload_bytes)).
    ///
    /// ```
    /// use kie_blocking::{Client, UploadEndpoint, UploadOptions, UploadSource};
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url()))?;
    /// let options = UploadOptions::new("notes").file_name("hi.txt").endpoint(UploadEndpoint::Base64);
    /// let uploaded = client.upload(UploadSource::bytes(&b"hello"[..]), &options)?;
    /// assert!(uploaded.download_url.ends_with("/notes/hi.txt"));
    /// # Ok::<(), kie_blocking::Error>(())
    /// ```
    pub fn upload<'a>(
        &self,
        source: impl Into<UploadSource<'a>>,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.upload_through(source.into(), options, options.get_endpoint())
    }

    /// [`upload`](Self::upload), under the name kie-async's `upload_many` uses.
    pub fn upload_source<'a>(
        &self,
        source: impl Into<UploadSource<'a>>,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.upload(source, options)
    }

    /// Uploads the file at `path` to the stream (multipart) endpoint, the one for files of
    /// any size. The file is read through a fixed 64 KiB buffer and re-read from its start
    /// on a retry; if it changes size during the upload, the result is
    /// [`Error::ContentLength`].
    ///
    /// Without [`UploadOptions::file_name`], the name is 16 random hex digits plus the
    /// file's extension, chosen **once** before the first attempt and sent on every retry,
    /// so a retried upload overwrites itself instead of leaving a second copy.
    ///
    /// ```
    /// # use kie_blocking::{Client, UploadOptions};
    /// # fn run(client: &Client, dir: &std::path::Path) -> Result<(), kie_blocking::Error> {
    /// let path = dir.join("cat.png");
    /// # std::fs::write(&path, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").map_err(|e| kie_blocking::Error::Io { path: None, source: e })?;
    /// let options = UploadOptions::new("images/user-uploads")
    ///     .on_progress(|p| eprintln!("{} of {} bytes", p.sent, p.total));
    /// let uploaded = client.upload_file(&path, &options)?;
    /// assert_eq!(uploaded.mime_type.as_deref(), Some("image/png"));
    /// assert!(uploaded.download_url.ends_with(".png"));
    /// # Ok(()) }
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url()))?;
    /// # let dir = std::env::temp_dir().join(format!("kie-blocking-doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).map_err(|e| kie_blocking::Error::Io { path: None, source: e })?;
    /// # run(&client, &dir)?;
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # Ok::<(), kie_blocking::Error>(())
    /// ```
    pub fn upload_file(
        &self,
        path: impl AsRef<Path>,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        let source = UploadSource::path(path.as_ref());
        self.upload_through(source, options, UploadEndpoint::Stream)
    }

    /// Uploads `len` bytes read from `reader` to the stream (multipart) endpoint.
    ///
    /// The reader cannot be rewound, so a failed attempt is retried only if it failed before
    /// any byte past the first 8 KiB (kept for MIME detection) was read; otherwise the
    /// result is [`Error::NotRewindable`] holding the failure. A reader that ends before
    /// `len` bytes or has more is [`Error::ContentLength`].
    ///
    /// ```
    /// # use kie_blocking::{Client, UploadOptions};
    /// # fn run(client: &Client) -> Result<(), kie_blocking::Error> {
    /// let data = std::io::repeat(b'x').take(100_000);
    /// # use std::io::Read;
    /// let uploaded = client.upload_reader(data, 100_000, &UploadOptions::new("logs").file_name("x.txt"))?;
    /// assert_eq!(uploaded.file_size, Some(100_000));
    /// # Ok(()) }
    /// # let emulator = kie_emulator::Emulator::start();
    /// # run(&Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url()))?)?;
    /// # Ok::<(), kie_blocking::Error>(())
    /// ```
    pub fn upload_reader(
        &self,
        reader: impl Read,
        len: u64,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.upload_content(Source::reader(reader), len, options, UploadEndpoint::Stream)
    }

    /// Uploads `len` bytes read from `reader` to the base64 endpoint, encoding them on the
    /// fly; retries work as in [`upload_reader`](Self::upload_reader).
    pub fn upload_base64_reader(
        &self,
        reader: impl Read,
        len: u64,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.upload_content(Source::reader(reader), len, options, UploadEndpoint::Base64)
    }

    /// Uploads `bytes` to the stream (multipart) endpoint.
    pub fn upload_bytes(
        &self,
        bytes: &[u8],
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.upload_through(UploadSource::bytes(bytes), options, UploadEndpoint::Stream)
    }

    /// Uploads the file at `path` to the base64 endpoint, encoding it on the fly (constant
    /// memory; the body is a third larger than the file). Sends bare base64 unless
    /// [`UploadOptions::data_url`] asks for a data URL. The docs recommend this endpoint for
    /// files up to 10 MB; retries and naming work as in [`upload_file`](Self::upload_file).
    ///
    /// ```
    /// # use kie_blocking::{Client, UploadOptions};
    /// # fn run(client: &Client, path: &std::path::Path) -> Result<(), kie_blocking::Error> {
    /// let options = UploadOptions::new("images/base64").file_name("note.txt").data_url(true);
    /// let uploaded = client.upload_base64_file(path, &options)?;
    /// assert_eq!(uploaded.file_name.as_deref(), Some("note.txt"));
    /// # Ok(()) }
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let path = std::env::temp_dir().join(format!("kie-blocking-doc-b64-{}.txt", std::process::id()));
    /// # std::fs::write(&path, "hello").map_err(|e| kie_blocking::Error::Io { path: None, source: e })?;
    /// # run(&Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url()))?, &path)?;
    /// # let _ = std::fs::remove_file(&path);
    /// # Ok::<(), kie_blocking::Error>(())
    /// ```
    pub fn upload_base64_file(
        &self,
        path: impl AsRef<Path>,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        let source = UploadSource::path(path.as_ref());
        self.upload_through(source, options, UploadEndpoint::Base64)
    }

    /// Uploads `bytes` to the base64 endpoint (see
    /// [`upload_base64_file`](Self::upload_base64_file)).
    pub fn upload_base64_bytes(
        &self,
        bytes: &[u8],
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.upload_through(UploadSource::bytes(bytes), options, UploadEndpoint::Base64)
    }

    /// Asks the service to download `url` (http or https, publicly reachable, ≤ 100 MB
    /// recommended) and store it. Without a file name, the URL's last path segment is used
    /// when it has an extension, else a random name chosen once for all attempts.
    ///
    /// ```
    /// # use kie_blocking::{Client, UploadOptions};
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url()))?;
    /// let error = client.upload_url("ftp://example.com/a.png", &UploadOptions::new("images")).unwrap_err();
    /// assert!(matches!(error, kie_blocking::Error::InvalidInput(_)));
    /// # assert!(emulator.requests().is_empty());
    /// # Ok::<(), kie_blocking::Error>(())
    /// ```
    pub fn upload_url(&self, url: &str, options: &UploadOptions) -> Result<UploadResult, Error> {
        options.validate()?;
        let operation = options.url_upload(url, kie_proto::driver::random_u64())?;
        self.send(&operation)
    }

    /// Uploads `source` through `endpoint`.
    fn upload_through(
        &self,
        source: UploadSource<'_>,
        options: &UploadOptions,
        endpoint: UploadEndpoint,
    ) -> Result<UploadResult, Error> {
        // The options are checked before the file is touched.
        options.validate()?;
        match &source {
            UploadSource::Path(path) => {
                let (source, len) = Source::open_file(path)?;
                self.upload_content(source, len, options, endpoint)
            }
            UploadSource::Bytes(bytes) => {
                let len = bytes.len() as u64;
                self.upload_content(Source::bytes(bytes), len, options, endpoint)
            }
        }
    }

    /// Plans (kie-proto checks the options and the source before anything is sent), sends
    /// and, when asked, verifies one upload of `len` bytes from `source`.
    fn upload_content(
        &self,
        mut source: Source<'_>,
        len: u64,
        options: &UploadOptions,
        endpoint: UploadEndpoint,
    ) -> Result<UploadResult, Error> {
        options.validate()?;
        let prefix = source.sniff(len)?;
        // Settled once: every retry sends the same name, so it overwrites rather than copies.
        let plan = options
            .plan(source.start(&prefix, len), kie_proto::driver::random_u64())?
            .with_endpoint(endpoint);
        let progress = options.progress().cloned();
        let result = run::run(
            &self.transport,
            &self.api,
            &plan.upload(),
            &mut source,
            progress,
        )?;
        if options.is_verify_download() {
            let sent = source.digest(len)?;
            run::download(&self.transport, &self.api, &result.download_url, sent)?;
        }
        Ok(result)
    }
}
