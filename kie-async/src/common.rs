//! The Common API (credits, download links) and any other operation: [`Client::send`] and
//! [`Client::send_with_content`].

use kie_proto::{Error, GetCredits, GetDownloadUrl, HttpUrl, Operation};
use tokio::io::AsyncSeekExt as _;

use crate::client::Client;
use crate::source::{AsyncReadSeek, Content};

impl Client {
    /// Sends any kie-proto [`Operation`] whose body is complete (JSON) or empty, with
    /// retries. An operation with a framed body gets no content here (only a zero-length one
    /// succeeds); use [`send_with_content`](Self::send_with_content) for those.
    ///
    /// ```
    /// # use kie_async::Client;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).api_base_url(&emulator.api_base_url()))?;
    /// let credits = client.send(&kie_async::kie_proto::GetCredits).await?;
    /// # assert!(credits >= 0.0);
    /// # Ok::<(), kie_async::Error>(())
    /// # })?;
    /// # Ok::<(), kie_async::Error>(())
    /// ```
    pub async fn send<O>(&self, op: &O) -> Result<O::Output, Error>
    where
        O: Operation + Sync,
    {
        self.inner.run(op, Content::None, None).await
    }

    /// Sends an operation with a framed body (e.g. a hand-built
    /// [`StreamUpload`](kie_proto::StreamUpload)), reading its content from `content`:
    /// exactly the body's `content_len` bytes from the reader's current position, which is
    /// sought back to before every retry. `progress` follows the
    /// [`UploadOptions::on_progress`](crate::UploadOptions::on_progress) contract.
    ///
    /// (kie-blocking borrows the reader; here it is owned, because the request body must be.)
    ///
    /// ```
    /// use std::io::Cursor;
    /// use kie_async::kie_proto::{FileName, StreamUpload, UploadPath};
    /// # use kie_async::Client;
    /// # async fn run(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let upload = StreamUpload::new(UploadPath::new("docs")?, FileName::new("a.txt")?, 5);
    /// let uploaded = client.send_with_content(&upload, Cursor::new(b"hello"), None).await?;
    /// assert!(uploaded.download_url.ends_with("/docs/a.txt"));
    /// # Ok(()) }
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url()))?;
    /// # tokio::runtime::Runtime::new()?.block_on(run(&client))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn send_with_content<O, R>(
        &self,
        operation: &O,
        mut content: R,
        progress: Option<kie_proto::ProgressCallback>,
    ) -> Result<O::Output, Error>
    where
        O: Operation + Sync,
        R: AsyncReadSeek + 'static,
    {
        let start = content
            .stream_position()
            .await
            .map_err(|source| Error::Io { path: None, source })?;
        let content = Content::Seekable {
            reader: Some(Box::new(content)),
            start,
        };
        self.inner.run(operation, content, progress).await
    }

    /// The account's remaining credits (may be fractional).
    ///
    /// ```
    /// # use kie_async::Client;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).api_base_url(&emulator.api_base_url()))?;
    /// let credits = client.credits().await?;
    /// assert!(credits >= 0.0);
    /// # Ok::<(), kie_async::Error>(())
    /// # })?;
    /// # Ok::<(), kie_async::Error>(())
    /// ```
    pub async fn credits(&self) -> Result<f64, Error> {
        self.send(&GetCredits).await
    }

    /// A temporary (20-minute) download link for a file KIE.AI generated. URLs KIE.AI did
    /// not generate are refused by the service with
    /// [`ErrorKind::Validation`](crate::ErrorKind::Validation).
    ///
    /// ```
    /// # use kie_async::Client;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).api_base_url(&emulator.api_base_url()))?;
    /// # let generated = emulator.issue_generated_file(b"GIF89a".to_vec(), "image/gif");
    /// let link = client.download_url(&generated).await?;
    /// assert!(link.starts_with("http"));
    /// # Ok::<(), kie_async::Error>(())
    /// # })?;
    /// # Ok::<(), kie_async::Error>(())
    /// ```
    pub async fn download_url(&self, url: &str) -> Result<String, Error> {
        let op = GetDownloadUrl::new(HttpUrl::new(url)?);
        self.send(&op).await
    }
}
