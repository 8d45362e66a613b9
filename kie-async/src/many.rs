//! Many uploads at once, at most N in flight: [`Client::upload_many`].

use std::path::PathBuf;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, stream};
use kie_proto::{Error, UploadOptions, UploadResult};

use crate::client::Client;

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
    /// Uploads every `(source, options)` of `uploads`, at most `concurrency` at once (0 is
    /// taken as 1), and yields `(index, result)` for each as it completes — `index` is the
    /// upload's position in `uploads`. A failed upload does not stop the others; each one
    /// retries on its own under the client's retry policy.
    ///
    /// Sources are opened only when their upload starts, so at most `concurrency` files are
    /// open at a time. Dropping the stream cancels the uploads in flight.
    ///
    /// ```no_run
    /// # async fn run(client: kie_async::Client) {
    /// use futures_util::StreamExt as _;
    /// use kie_async::{UploadOptions, UploadSource};
    /// let files = ["a.png", "b.png"].map(|p| (UploadSource::path(p), UploadOptions::new("images")));
    /// let mut results = client.upload_many(files, 8);
    /// while let Some((index, result)) = results.next().await {
    ///     match result {
    ///         Ok(uploaded) => println!("{index}: {}", uploaded.download_url),
    ///         Err(err) => eprintln!("{index}: {err}"),
    ///     }
    /// }
    /// # }
    /// ```
    pub fn upload_many<I>(
        &self,
        uploads: I,
        concurrency: usize,
    ) -> impl Stream<Item = (usize, Result<UploadResult, Error>)> + Send + 'static
    where
        I: IntoIterator<Item = (UploadSource, UploadOptions)>,
        I::IntoIter: Send + 'static,
    {
        let client = self.clone();
        stream::iter(uploads.into_iter().enumerate())
            .map(move |(index, (source, options))| {
                let client = client.clone();
                async move { (index, client.upload_source(source, &options).await) }
            })
            .buffer_unordered(concurrency.max(1))
    }

    /// Uploads one [`UploadSource`].
    pub async fn upload_source(
        &self,
        source: UploadSource,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        match source {
            UploadSource::Path(path) => self.upload_file(path, options).await,
            UploadSource::Base64Path(path) => self.upload_base64_file(path, options).await,
            UploadSource::Bytes(bytes) => self.upload_bytes(bytes, options).await,
            UploadSource::Base64Bytes(bytes) => self.upload_base64_bytes(bytes, options).await,
        }
    }
}
