//! Generation tasks: create, read, wait (polling by kie-proto's [`PollPolicy`]), run
//! (create + wait), download results, and inputs that name local files.
//!
//! [`PollPolicy`]: kie_proto::task::PollPolicy

use std::path::Path;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use kie_proto::driver::{AttemptFailure, Call, Moment};
use kie_proto::http::StatusCode;
use kie_proto::serde_json::Value;
use kie_proto::task::veo::{UpgradeStep, Veo1080pWait, VeoGet1080p};
use kie_proto::task::{
    LocalInput, PollDecision, ResultDownload, ResultDownloadStep, TaskInput, TaskRecord, TaskRef,
    TaskStatus, TaskView, WaitOptions,
};
use kie_proto::{Error, IntegrityError, Operation, UploadOptions};
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use crate::body::{AttemptState, now};
use crate::client::Client;
use crate::source::{Content, on_blocking_pool};
use crate::upload::UploadSource;

/// How often a wait looks at its cancel flag while it sleeps.
const CANCEL_CHECK: Duration = Duration::from_millis(50);

impl Client {
    /// Creates a task of any family — a Market [`CreateTask`](kie_proto::task::CreateTask), a Veo
    /// [`VeoGenerate`](kie_proto::task::veo::VeoGenerate) or
    /// [`VeoExtend`](kie_proto::task::veo::VeoExtend), or a [`NewTask`](kie_proto::task::NewTask)
    /// chosen by the model's name — and returns its reference (`market:…`, `veo:…`). A create
    /// is sent again only when nothing can have been created (a 429, a 455, a refused
    /// connection); when the request may have arrived the error is
    /// [`Error::MaybeCreated`]: the task may exist, look for it before creating it again.
    ///
    /// ```
    /// # use kie_async::Client;
    /// use kie_async::kie_proto::task::CreateTask;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).api_base_url(&emulator.api_base_url()))?;
    /// let create = CreateTask::new("google/nano-banana", kie_proto::serde_json::json!({"prompt": "a cat"}))?;
    /// let task = client.create_task(&create).await?;
    /// assert!(task.to_string().starts_with("market:"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn create_task<C>(&self, create: &C) -> Result<TaskRef, Error>
    where
        C: Operation<Output = TaskRef> + Sync,
    {
        self.send(create).await
    }

    /// The task's record, retried like any read.
    pub async fn get_task(&self, task: &TaskRef) -> Result<TaskRecord, Error> {
        self.send(&task.get()).await
    }

    /// Waits for the task to finish, polling by `options`' policy, and returns its view
    /// (succeeded or failed: a failed task is a value, not an error). The progress callback
    /// sees every change of status. Ends with [`Error::TaskWait`] at the deadline (the task
    /// may still finish: query it again), when the service does not know the task, or when
    /// `options`' cancel flag is set; dropping the future stops it at once. The task itself
    /// goes on either way.
    pub async fn wait_task(
        &self,
        task: &TaskRef,
        options: &WaitOptions,
    ) -> Result<TaskView, Error> {
        let policy = options.policy_for(task.family());
        let mut wait = policy.start(task.clone(), now());
        let mut last: Option<TaskStatus> = None;
        sleep_unless_cancelled(options.first_pause(task.family()), options).await;
        loop {
            if options.cancel_flag().is_cancelled() {
                return Err(cancelled(task));
            }
            let get = task.get();
            let polled = self
                .inner
                .run_until(&get, Content::None, None, wait.deadline())
                .await;
            let random = kie_proto::driver::random_unit();
            let decision = match polled {
                Ok(record) => {
                    let view = record.view();
                    let elapsed = now().saturating_duration_since(wait.started());
                    options.notify(&mut last, task, &view.status, elapsed);
                    policy.on_view(&mut wait, &view, now(), random)
                }
                Err(error) => policy.on_error(&mut wait, error, now(), random),
            };
            match decision {
                PollDecision::PollAfter(pause) => sleep_unless_cancelled(pause, options).await,
                PollDecision::Done(view) => return Ok(*view),
                PollDecision::GiveUp(give_up) => return Err(give_up.into_error()),
                _ => return Err(cancelled(task)),
            }
        }
    }

    /// Creates the task and waits for it ([`create_task`](Self::create_task) then
    /// [`wait_task`](Self::wait_task)).
    pub async fn run<C>(&self, create: &C, options: &WaitOptions) -> Result<TaskView, Error>
    where
        C: Operation<Output = TaskRef> + Sync,
    {
        let task = self.create_task(create).await?;
        self.wait_task(&task, &options.clone().just_created()).await
    }

    /// Waits for the 1080p version of a finished Veo video (`index`: which of the task's
    /// videos; the first when `None`): asks `get-1080p-video` as `wait` paces it (every
    /// 20–30 s within 5 minutes, [`Veo1080pWait::default`]) and returns its URL(s). The
    /// "processing" answers are waited through; any other refusal ends the wait, and so
    /// does the deadline ([`Error::TaskWait`]: the video may still come).
    pub async fn veo_1080p(
        &self,
        task: &TaskRef,
        index: Option<u32>,
        wait: &Veo1080pWait,
    ) -> Result<Vec<String>, Error> {
        let get = VeoGet1080p::new(task, index);
        let started = now();
        let deadline = Some(started + wait.deadline());
        loop {
            let answer = self
                .inner
                .run_until(&get, Content::None, None, deadline)
                .await;
            let waited = now().saturating_duration_since(started);
            let answer = answer.map_err(|error| wait.after_error(task, error, waited))?;
            match wait.after(task, answer, waited, kie_proto::driver::random_unit()) {
                UpgradeStep::Ready(urls) => return Ok(urls),
                UpgradeStep::AskAfter(pause) => tokio::time::sleep(pause).await,
                UpgradeStep::GiveUp(error) => return Err(error),
            }
        }
    }

    /// Uploads the local files of `input` (with `options`, the upload path first of all)
    /// and returns the input with their `downloadUrl`s in place.
    pub async fn prepare_input(
        &self,
        input: &TaskInput,
        options: &UploadOptions,
    ) -> Result<Value, Error> {
        let mut urls = Vec::new();
        for (_, local) in input.files() {
            let uploaded = match local {
                LocalInput::Path(path) => {
                    self.upload(UploadSource::path(path.clone()), options)
                        .await?
                }
                LocalInput::Bytes { name, bytes } => {
                    let named = options.clone().file_name(name.as_str());
                    self.upload(UploadSource::bytes(bytes.clone()), &named)
                        .await?
                }
                _ => continue,
            };
            urls.push(uploaded.download_url);
        }
        Ok(input.resolve(&urls))
    }

    /// Downloads a result (an [`Asset`](kie_proto::task::Asset)'s URL) into `writer`, in
    /// constant memory, without the API key; returns the bytes written. A refused or expired
    /// link is exchanged once for a fresh one (`download-url`). The download runs under the
    /// download budget (idle, low-speed): a stalled one ends with the budget's reason. A
    /// failure after bytes were written is not retried (the writer cannot be rewound; use
    /// [`download_result_to`](Self::download_result_to) for retries).
    pub async fn download_result<W>(&self, url: &str, writer: &mut W) -> Result<u64, Error>
    where
        W: AsyncWrite + Unpin + Send,
    {
        self.download_into(url, &mut Target::Writer(writer)).await
    }

    /// Downloads a result into the file at `path` (created or truncated), retried from the
    /// start like any read; returns the bytes written.
    pub async fn download_result_to(&self, url: &str, path: &Path) -> Result<u64, Error> {
        let create = path.to_owned();
        let file = on_blocking_pool(move || std::fs::File::create(create))
            .await
            .map_err(|source| Error::Io {
                path: Some(path.to_owned()),
                source,
            })?;
        let file = WriteBehind::new(file);
        self.download_into(url, &mut Target::<tokio::fs::File>::File(file, path))
            .await
    }

    async fn download_into<W>(&self, url: &str, target: &mut Target<'_, W>) -> Result<u64, Error>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let inner = &self.inner;
        let mut download = ResultDownload::new(url);
        loop {
            let request = kie_proto::driver::download_request(&inner.api, download.url())?;
            let mut call = Call::download(&request, inner.retry_policy, &inner.timeouts, now());
            let refreshed = loop {
                let attempt = call.start_attempt(now())?;
                target.restart().await?;
                let state = AttemptState::new(attempt.budget);
                let mut written = 0u64;
                let fetched = tokio::select! {
                    fetched = async {
                        let mut fetch = inner.fetch(&request, &state).await?;
                        let status = fetch.status();
                        match download.after_status(status) {
                            ResultDownloadStep::Read => {}
                            ResultDownloadStep::Refresh => return Ok(Some(status)),
                            _ => return Err(AttemptFailure::Fatal(refused(&download, status))),
                        }
                        let announced = fetch.content_length();
                        while let Some(chunk) = fetch.chunk(&state).await? {
                            let len = chunk.len() as u64;
                            target.write_all(chunk).await.map_err(AttemptFailure::Fatal)?;
                            written += len;
                        }
                        match announced {
                            Some(announced) if announced != written => Err(AttemptFailure::Fatal(
                                IntegrityError::DownloadLength { url: download.url().to_owned(), announced, received: written }.into(),
                            )),
                            _ => Ok(None),
                        }
                    } => fetched.map_err(|failure| (failure, None)),
                    reason = state.expired() => Err((AttemptFailure::timed_out(reason), Some(reason))),
                };
                let (failure, cut_by) = match fetched {
                    Ok(None) => {
                        target.flush().await?;
                        call.done();
                        return Ok(written);
                    }
                    Ok(Some(_)) => break true,
                    Err(failed) => failed,
                };
                if written > 0 && !target.can_restart() {
                    // The writer took bytes: the failure is final as it is.
                    return Err(call.give_up(failure, cut_by));
                }
                let wait = call.failed(failure, cut_by, true, moment())?;
                tokio::time::sleep(wait).await;
            };
            if refreshed {
                let fresh = self.download_url(download.original()).await?;
                download.refreshed(&fresh);
            }
        }
    }
}

/// Where a result goes.
enum Target<'a, W> {
    Writer(&'a mut W),
    File(WriteBehind, &'a Path),
}

impl<W: AsyncWrite + Unpin + Send> Target<'_, W> {
    fn can_restart(&self) -> bool {
        matches!(self, Target::File(..))
    }

    fn io(&self, source: std::io::Error) -> Error {
        let path = match self {
            Target::File(_, path) => Some(path.to_path_buf()),
            Target::Writer(_) => None,
        };
        Error::Io { path, source }
    }

    /// Back to an empty file for a new attempt.
    async fn restart(&mut self) -> Result<(), Error> {
        if let Target::File(file, _) = self {
            let restarted = file.restart().await;
            restarted.map_err(|source| self.io(source))?;
        }
        Ok(())
    }

    async fn write_all(&mut self, bytes: Bytes) -> Result<(), Error> {
        let written = match self {
            Target::Writer(writer) => writer.write_all(&bytes).await,
            Target::File(file, _) => file.write(bytes).await,
        };
        written.map_err(|source| self.io(source))
    }

    async fn flush(&mut self) -> Result<(), Error> {
        let flushed = match self {
            Target::Writer(writer) => writer.flush().await,
            Target::File(file, _) => file.finish().await,
        };
        flushed.map_err(|source| self.io(source))
    }
}

/// A file written behind the download on one blocking thread: the answer's pieces are
/// handed over as they arrive (`Bytes`, not copied) in batches of about [`BATCH`] bytes, so
/// the thread is woken once per batch, not once per piece as `tokio::fs::File` is (and
/// that copies each piece into a buffer of its own first). At most [`BATCHES_AHEAD`]
/// batches wait for the disk.
struct WriteBehind {
    /// The file while no thread writes it (before the first batch, after [`Self::join`]).
    file: Option<std::fs::File>,
    writer: Option<Writer>,
    batch: Vec<Bytes>,
    batched: usize,
}

/// The thread writing a [`WriteBehind`]'s file, and the queue of its batches.
struct Writer {
    batches: tokio::sync::mpsc::Sender<Vec<Bytes>>,
    /// The file back, and the first write error: the thread stops at it.
    done: tokio::task::JoinHandle<(std::fs::File, std::io::Result<()>)>,
}

/// How many bytes of pieces a [`WriteBehind`] gathers before it hands them to its thread.
const BATCH: usize = 512 * 1024;
/// How many batches may wait for the disk.
const BATCHES_AHEAD: usize = 2;

impl Writer {
    fn start(mut file: std::fs::File) -> Writer {
        let (batches, mut queue) = tokio::sync::mpsc::channel::<Vec<Bytes>>(BATCHES_AHEAD);
        let done = tokio::task::spawn_blocking(move || {
            while let Some(batch) = queue.blocking_recv() {
                for piece in batch {
                    if let Err(error) = std::io::Write::write_all(&mut file, &piece) {
                        return (file, Err(error));
                    }
                }
            }
            (file, Ok(()))
        });
        Writer { batches, done }
    }
}

impl WriteBehind {
    fn new(file: std::fs::File) -> WriteBehind {
        WriteBehind {
            file: Some(file),
            writer: None,
            batch: Vec::new(),
            batched: 0,
        }
    }

    async fn write(&mut self, piece: Bytes) -> std::io::Result<()> {
        self.batched += piece.len();
        self.batch.push(piece);
        if self.batched < BATCH {
            return Ok(());
        }
        self.hand_over().await
    }

    /// Hands what is gathered to the thread, started at the first batch.
    async fn hand_over(&mut self) -> std::io::Result<()> {
        let batch = std::mem::take(&mut self.batch);
        self.batched = 0;
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => {
                let file = self.file.take().ok_or_else(lost)?;
                self.writer.insert(Writer::start(file))
            }
        };
        if writer.batches.send(batch).await.is_err() {
            // A closed queue: the thread stopped at a write error.
            return self.join().await;
        }
        Ok(())
    }

    /// Writes what is gathered and waits for the thread to end: the first write error.
    async fn finish(&mut self) -> std::io::Result<()> {
        if !self.batch.is_empty() {
            self.hand_over().await?;
        }
        self.join().await
    }

    /// Ends the thread (once it has written what it was given) and takes the file back.
    async fn join(&mut self) -> std::io::Result<()> {
        let Some(Writer { batches, done }) = self.writer.take() else {
            return Ok(());
        };
        drop(batches);
        let (file, written) = done.await.map_err(std::io::Error::other)?;
        self.file = Some(file);
        written
    }

    /// Ends the writing (its errors belong to the attempt being dropped) and empties the
    /// file.
    async fn restart(&mut self) -> std::io::Result<()> {
        self.batch.clear();
        self.batched = 0;
        let _ = self.join().await;
        let mut file = self.file.take().ok_or_else(lost)?;
        let file = on_blocking_pool(move || {
            // Only a file an earlier attempt wrote to (see kie-blocking's `Target::restart`:
            // truncating makes ext4 flush the file when it is closed).
            if file.metadata()?.len() > 0 {
                file.set_len(0)?;
                std::io::Seek::rewind(&mut file)?;
            }
            Ok(file)
        })
        .await?;
        self.file = Some(file);
        Ok(())
    }
}

/// The file of a [`WriteBehind`] whose thread panicked (it is then gone).
fn lost() -> std::io::Error {
    std::io::Error::other("the file's writing thread ended without giving the file back")
}

fn refused(download: &ResultDownload, status: StatusCode) -> Error {
    IntegrityError::DownloadRefused {
        url: download.url().to_owned(),
        status: status.as_u16(),
    }
    .into()
}

/// Sleeps `pause`, waking to look at the cancel flag.
async fn sleep_unless_cancelled(pause: Duration, options: &WaitOptions) {
    let until = now() + pause;
    loop {
        let left = until.saturating_duration_since(now());
        if left.is_zero() || options.cancel_flag().is_cancelled() {
            return;
        }
        tokio::time::sleep(left.min(CANCEL_CHECK)).await;
    }
}

fn cancelled(task: &TaskRef) -> Error {
    Error::TaskWait {
        task: task.to_string(),
        reason: "the wait was cancelled".to_owned(),
        may_finish: true,
    }
}

/// Now, as kie-proto's [`Call`] takes it.
fn moment() -> Moment {
    Moment {
        at: now(),
        wall: SystemTime::now(),
        random: kie_proto::driver::random_unit(),
    }
}
