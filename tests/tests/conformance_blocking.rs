//! The conformance suite run against `kie-blocking`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod conformance;

use std::io::Read;
use std::path::Path;

use conformance::{Driver, Settings};
use kie_blocking::{Client, Error, UploadOptions, UploadResult};
use kie_tests::Emulator;

/// kie-blocking's client, as the suite sees it.
struct Blocking(Client);

impl Driver for Blocking {
    const READS_AN_ANSWER_AFTER_A_RESET: bool = true;
    const SEES_HEADER_BYTES: bool = true;
    const NEGOTIATES_HTTP2: bool = false;

    fn connect(emulator: &Emulator, settings: &Settings) -> Result<Self, Error> {
        Client::from_config(settings.config(emulator)).map(Blocking)
    }

    fn upload_file(&self, path: &Path, options: &UploadOptions) -> Result<UploadResult, Error> {
        self.0.upload_file(path, options)
    }

    fn upload_reader(
        &self,
        reader: Box<dyn Read + Send>,
        len: u64,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.0.upload_reader(reader, len, options)
    }

    fn upload_bytes(&self, bytes: &[u8], options: &UploadOptions) -> Result<UploadResult, Error> {
        self.0.upload_bytes(bytes, options)
    }

    fn upload_base64_file(
        &self,
        path: &Path,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.0.upload_base64_file(path, options)
    }

    fn upload_base64_bytes(
        &self,
        bytes: &[u8],
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.0.upload_base64_bytes(bytes, options)
    }

    fn upload_url(&self, url: &str, options: &UploadOptions) -> Result<UploadResult, Error> {
        self.0.upload_url(url, options)
    }

    fn credits(&self) -> Result<f64, Error> {
        self.0.credits()
    }

    fn download_url(&self, url: &str) -> Result<String, Error> {
        self.0.download_url(url)
    }

    fn debug_of_client(&self) -> String {
        format!("{:?}", self.0)
    }
}

conformance_suite!(Blocking);
