//! The conformance suite run against `kie-async`, each call blocking on a tokio runtime
//! owned by the driver (multi-thread, two workers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod conformance;

use std::io::Read;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use conformance::{Driver, Settings, Source};
use kie_async::{Client, Error, UploadOptions, UploadResult, UploadSource};
use kie_tests::Emulator;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::runtime::Runtime;

/// kie-async's client and the runtime its futures run on, as the suite sees them.
struct Async {
    client: Client,
    runtime: Runtime,
}

/// A synchronous reader seen as an `AsyncRead` (reads inline; the suite's readers are in
/// memory or deliberately slow test fixtures).
struct SyncReader(Box<dyn Read + Send>);

impl AsyncRead for SyncReader {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let n = this.0.read(buf.initialize_unfilled())?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl Driver for Async {
    const READS_AN_ANSWER_AFTER_A_RESET: bool = false;
    const SEES_HEADER_BYTES: bool = false;
    const SPEAKS_HTTP2: bool = true;

    fn connect(emulator: &Emulator, settings: &Settings) -> Result<Self, Error> {
        let mut builder = Client::builder(settings.config(emulator));
        if settings.http2 {
            builder = builder.http2();
        }
        let runtime = runtime();
        let client = builder.build()?;
        Ok(Async { client, runtime })
    }

    fn upload_file(&self, path: &Path, options: &UploadOptions) -> Result<UploadResult, Error> {
        self.runtime
            .block_on(self.client.upload_file(path, options))
    }

    fn upload_reader(
        &self,
        reader: Box<dyn Read + Send>,
        len: u64,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.runtime
            .block_on(self.client.upload_reader(SyncReader(reader), len, options))
    }

    fn upload_bytes(&self, bytes: &[u8], options: &UploadOptions) -> Result<UploadResult, Error> {
        self.runtime
            .block_on(self.client.upload_bytes(bytes, options))
    }

    fn upload_base64_file(
        &self,
        path: &Path,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.runtime
            .block_on(self.client.upload_base64_file(path, options))
    }

    fn upload_base64_bytes(
        &self,
        bytes: &[u8],
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.runtime
            .block_on(self.client.upload_base64_bytes(bytes, options))
    }

    fn upload_url(&self, url: &str, options: &UploadOptions) -> Result<UploadResult, Error> {
        self.runtime.block_on(self.client.upload_url(url, options))
    }

    fn credits(&self) -> Result<f64, Error> {
        self.runtime.block_on(self.client.credits())
    }

    fn download_url(&self, url: &str) -> Result<String, Error> {
        self.runtime.block_on(self.client.download_url(url))
    }

    fn debug_of_client(&self) -> String {
        format!("{:?}", self.client)
    }

    fn from_config(config: kie_proto::ClientConfig) -> Result<Self, Error> {
        let client = Client::from_config(config)?;
        Ok(Async {
            client,
            runtime: runtime(),
        })
    }

    fn from_env() -> Result<Self, Error> {
        let client = Client::from_env()?;
        Ok(Async {
            client,
            runtime: runtime(),
        })
    }

    fn api(&self) -> kie_proto::Api {
        self.client.api().clone()
    }

    fn retry_policy(&self) -> kie_proto::RetryPolicy {
        *self.client.retry_policy()
    }

    fn upload(&self, source: Source<'_>, options: &UploadOptions) -> Result<UploadResult, Error> {
        self.runtime
            .block_on(self.client.upload(upload_source(source), options))
    }

    fn upload_source(
        &self,
        source: Source<'_>,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.runtime
            .block_on(self.client.upload_source(upload_source(source), options))
    }

    fn upload_base64_reader(
        &self,
        reader: Box<dyn Read + Send>,
        len: u64,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error> {
        self.runtime.block_on(
            self.client
                .upload_base64_reader(SyncReader(reader), len, options),
        )
    }

    fn send<O>(&self, operation: &O) -> Result<O::Output, Error>
    where
        O: kie_proto::Operation + Sync,
        O::Output: Send,
    {
        self.runtime.block_on(self.client.send(operation))
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
        self.runtime.block_on(self.client.send_with_content(
            operation,
            std::io::Cursor::new(content),
            progress,
        ))
    }

    fn create_task(
        &self,
        create: &kie_proto::task::NewTask,
    ) -> Result<kie_proto::task::TaskRef, Error> {
        self.runtime.block_on(self.client.create_task(create))
    }

    fn get_task(
        &self,
        task: &kie_proto::task::TaskRef,
    ) -> Result<kie_proto::task::TaskRecord, Error> {
        self.runtime.block_on(self.client.get_task(task))
    }

    fn wait_task(
        &self,
        task: &kie_proto::task::TaskRef,
        options: &kie_proto::task::WaitOptions,
    ) -> Result<kie_proto::task::TaskView, Error> {
        self.runtime.block_on(self.client.wait_task(task, options))
    }

    fn run(
        &self,
        create: &kie_proto::task::NewTask,
        options: &kie_proto::task::WaitOptions,
    ) -> Result<kie_proto::task::TaskView, Error> {
        self.runtime.block_on(self.client.run(create, options))
    }

    fn veo_1080p(
        &self,
        task: &kie_proto::task::TaskRef,
        index: Option<u32>,
        wait: &kie_proto::task::veo::Veo1080pWait,
    ) -> Result<Vec<String>, Error> {
        self.runtime
            .block_on(self.client.veo_1080p(task, index, wait))
    }

    fn prepare_input(
        &self,
        input: &kie_proto::task::TaskInput,
        options: &UploadOptions,
    ) -> Result<serde_json::Value, Error> {
        self.runtime
            .block_on(self.client.prepare_input(input, options))
    }

    fn download_result(&self, url: &str) -> Result<Vec<u8>, Error> {
        let mut bytes = Vec::new();
        self.runtime
            .block_on(self.client.download_result(url, &mut bytes))?;
        Ok(bytes)
    }

    fn download_result_to(&self, url: &str, path: &Path) -> Result<u64, Error> {
        self.runtime
            .block_on(self.client.download_result_to(url, path))
    }
}

/// The suite's source as kie-async's.
fn upload_source(source: Source<'_>) -> UploadSource {
    match source {
        Source::Path(path) => UploadSource::path(path),
        Source::Bytes(bytes) => UploadSource::bytes(bytes),
    }
}

/// The runtime a client's futures run on (multi-thread, two workers).
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

conformance_suite!(Async);
