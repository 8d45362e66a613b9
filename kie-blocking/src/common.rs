//! The Common API (credits, download links) and any other operation: [`Client::send`] and
//! [`Client::send_with_content`].

use kie_proto::{Error, GetCredits, GetDownloadUrl, HttpUrl, Operation};

use crate::client::Client;
use crate::run;
use crate::source::{ReadSeek, Source};

impl Client {
    /// The account's remaining credits (may be fractional).
    ///
    /// ```
    /// # use kie_blocking::Client;
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).api_base_url(&emulator.api_base_url()))?;
    /// let credits = client.credits()?;
    /// assert!(credits >= 0.0);
    /// # Ok::<(), kie_blocking::Error>(())
    /// ```
    pub fn credits(&self) -> Result<f64, Error> {
        self.send(&GetCredits)
    }

    /// A temporary (20-minute) download link for a file KIE.AI generated. URLs KIE.AI did
    /// not generate are refused by the service with [`ErrorKind::Validation`](crate::ErrorKind::Validation).
    ///
    /// ```
    /// # use kie_blocking::Client;
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).api_base_url(&emulator.api_base_url()))?;
    /// # let generated = emulator.issue_generated_file(b"GIF89a".to_vec(), "image/gif");
    /// let link = client.download_url(&generated)?;
    /// assert!(link.starts_with("http"));
    /// # Ok::<(), kie_blocking::Error>(())
    /// ```
    pub fn download_url(&self, url: &str) -> Result<String, Error> {
        let url = HttpUrl::new(url)?;
        self.send(&GetDownloadUrl::new(url))
    }

    /// Sends any kie-proto [`Operation`] whose body is complete (JSON) or empty, with retries.
    ///
    /// An operation with a framed body gets no content here (only a zero-length one
    /// succeeds); use [`send_with_content`](Self::send_with_content) for those.
    ///
    /// ```
    /// # use kie_blocking::Client;
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).api_base_url(&emulator.api_base_url()))?;
    /// let credits = client.send(&kie_blocking::kie_proto::GetCredits)?;
    /// # assert!(credits >= 0.0);
    /// # Ok::<(), kie_blocking::Error>(())
    /// ```
    pub fn send<O: Operation>(&self, operation: &O) -> Result<O::Output, Error> {
        let mut empty = Source::bytes(&[]);
        run::run(&self.transport, &self.api, operation, &mut empty, None)
    }

    /// Sends an operation with a framed body (e.g. a hand-built
    /// [`StreamUpload`](kie_proto::StreamUpload)), reading its content from `content`: exactly
    /// the body's `content_len` bytes from the reader's current position, which is sought
    /// back to on every retry. `progress` follows the [`UploadOptions::on_progress`](crate::UploadOptions::on_progress) contract.
    ///
    /// ```
    /// use std::io::Cursor;
    /// use kie_blocking::kie_proto::{FileName, StreamUpload, UploadPath};
    /// # use kie_blocking::Client;
    /// # fn run(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let upload = StreamUpload::new(UploadPath::new("docs")?, FileName::new("a.txt")?, 5);
    /// let uploaded = client.send_with_content(&upload, &mut Cursor::new(b"hello"), None)?;
    /// assert!(uploaded.download_url.ends_with("/docs/a.txt"));
    /// # Ok(()) }
    /// # let emulator = kie_emulator::Emulator::start();
    /// # run(&Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).upload_base_url(&emulator.upload_base_url()))?)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_with_content<O: Operation>(
        &self,
        operation: &O,
        content: &mut dyn ReadSeek,
        progress: Option<kie_proto::ProgressCallback>,
    ) -> Result<O::Output, Error> {
        let mut source = Source::seekable(content)?;
        run::run(&self.transport, &self.api, operation, &mut source, progress)
    }
}
