//! The conformance suite run against `kie-blocking`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod conformance;

use std::io::Read;
use std::path::Path;

use conformance::{Driver, Settings, Source};
use kie_blocking::{Client, Error, UploadOptions, UploadResult, UploadSource};
use kie_tests::Emulator;

/// kie-blocking's client, as the suite sees it.
struct Blocking(Client);

impl Driver for Blocking {
    const READS_AN_ANSWER_AFTER_A_RESET: bool = true;
    const SEES_HEADER_BYTES: bool = true;
    const SPEAKS_HTTP2: bool = false;

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

    fn from_config(config: kie_proto::ClientConfig) -> Result<Self, Error> {
        Client::from_config(config).map(Blocking)
    }

    fn from_env() -> Result<Self, Error> {
        Client::from_env().map(Blocking)
    }

    fn api(&self) -> kie_proto::Api {
        self.0.api().clone()
    }

    fn retry_policy(&self) -> kie_proto::RetryPolicy {
        *self.0.retry_policy()
    }

    fn upload(&self, source: Source<'_>, options: &UploadOptions) -> Result<UploadResult, Error> {
        self.0.upload(upload_source(source), options)
    }

    fn upload_source(
        &self,
        source: Source<'_>,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.0.upload_source(upload_source(source), options)
    }

    fn upload_base64_reader(
        &self,
        reader: Box<dyn Read + Send>,
        len: u64,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.0.upload_base64_reader(reader, len, options)
    }

    fn send<O>(&self, operation: &O) -> Result<O::Output, Error>
    where
        O: kie_proto::Operation + Sync,
        O::Output: Send,
    {
        self.0.send(operation)
    }

    fn send_with_content<O>(
        &self,
        operation: &O,
        content: Vec<u8>,
        progress: Option<kie_proto::ProgressCallback>,
    ) -> Result<O::Output, Error>
    where
        O: kie_proto::Operation + Sync,
        O::Output: Send,
    {
        self.0
            .send_with_content(operation, &mut std::io::Cursor::new(content), progress)
    }

    fn create_task(
        &self,
        create: &kie_proto::task::NewTask,
    ) -> Result<kie_proto::task::TaskRef, Error> {
        self.0.create_task(create)
    }

    fn get_task(
        &self,
        task: &kie_proto::task::TaskRef,
    ) -> Result<kie_proto::task::TaskRecord, Error> {
        self.0.get_task(task)
    }

    fn wait_task(
        &self,
        task: &kie_proto::task::TaskRef,
        options: &kie_proto::task::WaitOptions,
    ) -> Result<kie_proto::task::TaskView, Error> {
        self.0.wait_task(task, options)
    }

    fn run(
        &self,
        create: &kie_proto::task::NewTask,
        options: &kie_proto::task::WaitOptions,
    ) -> Result<kie_proto::task::TaskView, Error> {
        self.0.run(create, options)
    }

    fn veo_1080p(
        &self,
        task: &kie_proto::task::TaskRef,
        index: Option<u32>,
        wait: &kie_proto::task::veo::Veo1080pWait,
    ) -> Result<Vec<String>, Error> {
        self.0.veo_1080p(task, index, wait)
    }

    fn prepare_input(
        &self,
        input: &kie_proto::task::TaskInput,
        options: &UploadOptions,
    ) -> Result<serde_json::Value, Error> {
        self.0.prepare_input(input, options)
    }

    fn download_result(&self, url: &str) -> Result<Vec<u8>, Error> {
        let mut bytes = Vec::new();
        self.0.download_result(url, &mut bytes)?;
        Ok(bytes)
    }

    fn download_result_to(&self, url: &str, path: &Path) -> Result<u64, Error> {
        self.0.download_result_to(url, path)
    }
}

/// The suite's source as kie-blocking's.
fn upload_source(source: Source<'_>) -> UploadSource<'_> {
    match source {
        Source::Path(path) => UploadSource::path(path),
        Source::Bytes(bytes) => UploadSource::bytes(bytes),
    }
}

conformance_suite!(Blocking);
