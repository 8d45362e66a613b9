//! Uploads: one [`Client::upload`] of a source through the endpoint the options choose, the
//! named methods (`upload_file`, `upload_bytes`, `upload_reader`, …) as thin sugar over it,
//! and URL uploads.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use kie_proto::driver::random_u64;
use kie_proto::{ContentStart, Error, UploadEndpoint, UploadOptions, UploadResult};
use tokio::io::AsyncRead;

use crate::client::Client;
use crate::source::{Content, Reader, Sent, open_file, read_prefix};

/// What one upload of [`Client::upload_many`] sends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadSource {
    /// A file, as [`Client::upload_file`] sends it (multipart).
    Path(PathBuf),
    /// A file, as [`Client::upload_base64_file`] sends it.
    Base64Path(PathBuf),
    /// Bytes, as [`Client::upload_bytes`] sends them (multipart).
    Bytes(Bytes),
    /// Bytes, as [`Client::upload_base64_bytes`] sends them.
    Base64Bytes(Bytes),
}

impl UploadSource {
    /// The file at `path`, multipart.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        UploadSource::Path(path.into())
    }

    /// These bytes, multipart.
    pub fn bytes(bytes: impl crate::IntoBytes) -> Self {
        UploadSource::Bytes(bytes.into_bytes())
    }
}

impl From<PathBuf> for UploadSource {
    fn from(path: PathBuf) -> Self {
        UploadSource::Path(path)
    }
}

impl From<Bytes> for UploadSource {
    fn from(bytes: Bytes) -> Self {
        UploadSource::Bytes(bytes)
    }
}

impl From<Vec<u8>> for UploadSource {
    fn from(bytes: Vec<u8>) -> Self {
        UploadSource::Bytes(bytes.into())
    }
}

impl Client {
    /// Uploads `source` through the endpoint `options` choose
    /// ([`UploadOptions::endpoint`]: multipart by default, or base64); the `Base64*`
    /// sources always go through the base64 endpoint. Everything else — naming, retries,
    /// progress, verification — is as the named methods describe
    /// ([`upload_file`](Self::upload_file), [`upload_bytes`](Self::upload_bytes)).
    ///
    /// ```
    /// use kie_async::{Client, UploadEndpoint, UploadOptions, UploadSource};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url()))?;
    /// let options = UploadOptions::new("notes").file_name("hi.txt").endpoint(UploadEndpoint::Base64);
    /// let uploaded = client.upload(UploadSource::bytes("hello"), &options).await?;
    /// assert!(uploaded.download_url.ends_with("/notes/hi.txt"));
    /// # Ok::<(), kie_async::Error>(())
    /// # })?;
    /// # Ok::<(), kie_async::Error>(())
    /// ```
    pub async fn upload(
        &self,
        source: impl Into<UploadSource>,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        let chosen = options.get_endpoint();
        match source.into() {
            UploadSource::Path(path) => self.file(&path, options, chosen).await,
            UploadSource::Base64Path(path) => {
                self.file(&path, options, UploadEndpoint::Base64).await
            }
            UploadSource::Bytes(bytes) => self.bytes(bytes, options, chosen).await,
            UploadSource::Base64Bytes(bytes) => {
                self.bytes(bytes, options, UploadEndpoint::Base64).await
            }
        }
    }

    /// [`upload`](Self::upload), under the name [`upload_many`](Self::upload_many) uses.
    pub async fn upload_source(
        &self,
        source: UploadSource,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.upload(source, options).await
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
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url()))?;
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
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url()))?;
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
        self.file(path.as_ref(), options, UploadEndpoint::Stream)
            .await
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
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url()))?;
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
        self.file(path.as_ref(), options, UploadEndpoint::Base64)
            .await
    }

    /// Uploads `bytes` as multipart. A `Vec<u8>`, `String` or [`bytes::Bytes`] is taken
    /// without a copy; a borrowed slice is copied once (the request body must own its bytes).
    ///
    /// ```
    /// # use kie_async::{Client, UploadOptions};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url()))?;
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
        self.bytes(bytes.into_bytes(), options, UploadEndpoint::Stream)
            .await
    }

    /// Like [`upload_bytes`](Self::upload_bytes), through the base64 endpoint.
    pub async fn upload_base64_bytes(
        &self,
        bytes: impl IntoBytes,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.bytes(bytes.into_bytes(), options, UploadEndpoint::Base64)
            .await
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
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url()))?;
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
        self.reader(Reader::plain(reader), len, options, UploadEndpoint::Stream)
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
        self.reader(Reader::plain(reader), len, options, UploadEndpoint::Base64)
            .await
    }

    async fn file(
        &self,
        path: &Path,
        options: &UploadOptions,
        endpoint: UploadEndpoint,
    ) -> Result<UploadResult, Error> {
        options.validate()?;
        let io = |source| Error::Io {
            path: Some(path.to_path_buf()),
            source,
        };
        // Open, size and first read in one blocking call (each tokio::fs call is a round
        // trip to the blocking pool; a small file is read whole there).
        let start = open_file(path, None).await.map_err(&io)?;
        let len = start.len;
        let prefix = start.content.clone();
        let content = Content::File {
            path: PathBuf::from(path),
            len,
            first: Some(start),
        };
        let name = path.file_name().and_then(|name| name.to_str());
        self.upload_content(content, &prefix, name, len, options, endpoint)
            .await
    }

    async fn bytes(
        &self,
        bytes: Bytes,
        options: &UploadOptions,
        endpoint: UploadEndpoint,
    ) -> Result<UploadResult, Error> {
        let len = bytes.len() as u64;
        let prefix = bytes.clone();
        self.upload_content(Content::Bytes(bytes), &prefix, None, len, options, endpoint)
            .await
    }

    async fn reader(
        &self,
        mut reader: Reader,
        len: u64,
        options: &UploadOptions,
        endpoint: UploadEndpoint,
    ) -> Result<UploadResult, Error> {
        options.validate()?;
        let prefix =
            read_prefix(&mut reader, len, |source| Error::Io { path: None, source }).await?;
        let content = Content::Reader {
            prefix: prefix.clone(),
            reader: Some(reader),
        };
        self.upload_content(content, &prefix, None, len, options, endpoint)
            .await
    }

    /// Plans (kie-proto checks the options and the source before anything is sent), sends
    /// and, when asked, verifies one upload of `len` bytes from `content`, which starts
    /// with `prefix`.
    async fn upload_content(
        &self,
        content: Content,
        prefix: &[u8],
        name: Option<&str>,
        len: u64,
        options: &UploadOptions,
        endpoint: UploadEndpoint,
    ) -> Result<UploadResult, Error> {
        let start = ContentStart::new(content.kind(), prefix, len).with_name(name);
        // Settled once: every retry sends the same name, so it overwrites rather than copies.
        let plan = options.plan(start, random_u64())?.with_endpoint(endpoint);
        let verify = match (&content, options.is_verify_download()) {
            (Content::Bytes(bytes), true) => Some(Sent::Bytes(bytes.clone())),
            (Content::File { path, .. }, true) => Some(Sent::File(path.clone())),
            _ => None,
        };
        let progress = options.progress().cloned();
        let result = self.inner.run(&plan.upload(), content, progress).await?;
        if let Some(sent) = verify {
            let sent = sent.digest(len).await?;
            self.inner.download(&result.download_url, sent).await?;
        }
        Ok(result)
    }
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
