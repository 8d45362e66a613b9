//! Generation tasks: create, read, wait (polling by kie-proto's [`PollPolicy`]), run
//! (create + wait), download results, and inputs that name local files.
//!
//! [`PollPolicy`]: kie_proto::task::PollPolicy

use std::fs::File;
use std::io::{Seek, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use kie_proto::driver::{AttemptFailure, Call, DownloadSink, Moment};
use kie_proto::http::StatusCode;
use kie_proto::serde_json::Value;
use kie_proto::task::veo::{UpgradeStep, Veo1080pWait, VeoGet1080p};
use kie_proto::task::{
    LocalInput, PollDecision, ResultDownload, ResultDownloadStep, TaskInput, TaskRecord, TaskRef,
    TaskStatus, TaskView, WaitOptions,
};
use kie_proto::{Body, Error, IntegrityError, Operation, UploadOptions};

use crate::client::Client;
use crate::socket::{self, AttemptState};
use crate::source::Source;
use crate::transport;
use crate::upload::UploadSource;

/// How often a blocking wait looks at its cancel flag while it sleeps.
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
    /// # use kie_blocking::Client;
    /// use kie_blocking::kie_proto::task::CreateTask;
    /// # let emulator = kie_emulator::Emulator::start();
    /// # let client = Client::from_config(kie_proto::ClientConfig::new(emulator.api_key()).api_base_url(&emulator.api_base_url()))?;
    /// let create = CreateTask::new("google/nano-banana", kie_proto::serde_json::json!({"prompt": "a cat"}))?;
    /// let task = client.create_task(&create)?;
    /// assert!(task.to_string().starts_with("market:"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_task<C>(&self, create: &C) -> Result<TaskRef, Error>
    where
        C: Operation<Output = TaskRef> + Sync,
    {
        self.send(create)
    }

    /// The task's record, retried like any read.
    pub fn get_task(&self, task: &TaskRef) -> Result<TaskRecord, Error> {
        self.send(&task.get())
    }

    /// Waits for the task to finish, polling by `options`' policy, and returns its view
    /// (succeeded or failed: a failed task is a value, not an error). The progress callback
    /// sees every change of status. Ends with [`Error::TaskWait`] at the deadline (the task
    /// may still finish: query it again), when the service does not know the task, or when
    /// `options`' cancel flag is set — the task itself goes on.
    pub fn wait_task(&self, task: &TaskRef, options: &WaitOptions) -> Result<TaskView, Error> {
        let policy = options.policy_for(task.family());
        let mut wait = policy.start(task.clone(), Instant::now());
        let mut last: Option<TaskStatus> = None;
        sleep_unless_cancelled(options.first_pause(task.family()), options)?;
        loop {
            if options.cancel_flag().is_cancelled() {
                return Err(cancelled(task));
            }
            let get = task.get();
            let mut none = Source::bytes(&[]);
            let polled = crate::run::run_until(
                &self.transport,
                &self.api,
                &get,
                &mut none,
                None,
                wait.deadline(),
            );
            let random = kie_proto::driver::random_unit();
            let decision = match polled {
                Ok(record) => {
                    let view = record.view();
                    options.notify(&mut last, task, &view.status, wait.started().elapsed());
                    policy.on_view(&mut wait, &view, Instant::now(), random)
                }
                Err(error) => policy.on_error(&mut wait, error, Instant::now(), random),
            };
            match decision {
                PollDecision::PollAfter(pause) => sleep_unless_cancelled(pause, options)?,
                PollDecision::Done(view) => return Ok(*view),
                PollDecision::GiveUp(give_up) => return Err(give_up.into_error()),
                _ => return Err(cancelled(task)),
            }
        }
    }

    /// Creates the task and waits for it ([`create_task`](Self::create_task) then
    /// [`wait_task`](Self::wait_task)).
    pub fn run<C>(&self, create: &C, options: &WaitOptions) -> Result<TaskView, Error>
    where
        C: Operation<Output = TaskRef> + Sync,
    {
        let task = self.create_task(create)?;
        self.wait_task(&task, &options.clone().just_created())
    }

    /// Waits for the 1080p version of a finished Veo video (`index`: which of the task's
    /// videos; the first when `None`): asks `get-1080p-video` as `wait` paces it (every
    /// 20–30 s within 5 minutes, [`Veo1080pWait::default`]) and returns its URL(s). The
    /// "processing" answers are waited through; any other refusal ends the wait, and so
    /// does the deadline ([`Error::TaskWait`]: the video may still come).
    pub fn veo_1080p(
        &self,
        task: &TaskRef,
        index: Option<u32>,
        wait: &Veo1080pWait,
    ) -> Result<Vec<String>, Error> {
        let get = VeoGet1080p::new(task, index);
        let started = Instant::now();
        let deadline = Some(started + wait.deadline());
        loop {
            let mut none = Source::bytes(&[]);
            let answer =
                crate::run::run_until(&self.transport, &self.api, &get, &mut none, None, deadline)
                    .map_err(|error| wait.after_error(task, error, started.elapsed()))?;
            match wait.after(
                task,
                answer,
                started.elapsed(),
                kie_proto::driver::random_unit(),
            ) {
                UpgradeStep::Ready(urls) => return Ok(urls),
                UpgradeStep::AskAfter(pause) => std::thread::sleep(pause),
                UpgradeStep::GiveUp(error) => return Err(error),
            }
        }
    }

    /// Uploads the local files of `input` (with `options`, the upload path first of all)
    /// and returns the input with their `downloadUrl`s in place.
    pub fn prepare_input(
        &self,
        input: &TaskInput,
        options: &UploadOptions,
    ) -> Result<Value, Error> {
        let mut urls = Vec::new();
        for (_, local) in input.files() {
            let uploaded = match local {
                LocalInput::Path(path) => {
                    self.upload(UploadSource::path(path.as_path()), options)?
                }
                LocalInput::Bytes { name, bytes } => {
                    let named = options.clone().file_name(name.as_str());
                    self.upload(UploadSource::bytes(bytes.as_slice()), &named)?
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
    pub fn download_result(&self, url: &str, writer: &mut dyn Write) -> Result<u64, Error> {
        self.download_into(url, &mut Target::Writer(writer))
    }

    /// Downloads a result into the file at `path` (created or truncated), retried from the
    /// start like any read; returns the bytes written.
    pub fn download_result_to(&self, url: &str, path: &Path) -> Result<u64, Error> {
        let io = |source| Error::Io {
            path: Some(path.to_owned()),
            source,
        };
        let file = File::create(path).map_err(io)?;
        self.download_into(url, &mut Target::File(file, path))
    }

    fn download_into(&self, url: &str, target: &mut Target<'_>) -> Result<u64, Error> {
        let mut download = ResultDownload::new(url);
        loop {
            let request = kie_proto::driver::download_request(&self.api, download.url())?;
            let mut call = Call::download(
                &request,
                self.transport.retry,
                &self.transport.timeouts,
                Instant::now(),
            );
            let outcome = loop {
                let attempt = call.start_attempt(Instant::now())?;
                target.restart()?;
                let mut state = Some(AttemptState::new(attempt.budget, &Body::Empty));
                let mut sink = Sink::new(&download, target);
                let fetched = socket::with_attempt(&mut state, || {
                    transport::fetch(&self.transport, &request, &mut sink)
                });
                let written = sink.written;
                let refresh = sink.refresh;
                let cut_by = state.and_then(|state| state.expired);
                let failure = match fetched.map(|()| sink.finish()) {
                    Ok(Ok(())) => break Ok(written),
                    _ if refresh => break Err(()),
                    Ok(Err(error)) => AttemptFailure::Fatal(error),
                    Err(failure) => failure,
                };
                if written > 0 && !target.can_restart() {
                    // The writer took bytes: the failure is final as it is.
                    return Err(call.give_up(failure, cut_by));
                }
                let wait = call.failed(failure, cut_by, true, moment())?;
                std::thread::sleep(wait);
            };
            match outcome {
                Ok(written) => {
                    call.done();
                    return Ok(written);
                }
                Err(()) => {
                    let fresh = self.download_url(download.original())?;
                    download.refreshed(&fresh);
                }
            }
        }
    }
}

/// Where a result goes.
enum Target<'a> {
    Writer(&'a mut dyn Write),
    File(File, &'a Path),
}

impl Target<'_> {
    fn can_restart(&self) -> bool {
        matches!(self, Target::File(..))
    }

    /// Back to an empty file for a new attempt.
    fn restart(&mut self) -> Result<(), Error> {
        if let Target::File(file, path) = self {
            let io = |source| Error::Io {
                path: Some(path.to_path_buf()),
                source,
            };
            // Only a file an earlier attempt wrote to: truncating, even an empty file, makes
            // ext4 flush the new content to disk when the file is closed (its
            // replace-by-truncate guard), which cost a 1 GiB download 0.45 s.
            if file.metadata().map_err(io)?.len() > 0 {
                file.set_len(0).map_err(io)?;
                file.rewind().map_err(io)?;
            }
        }
        Ok(())
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        match self {
            Target::Writer(writer) => writer
                .write_all(bytes)
                .map_err(|source| Error::Io { path: None, source }),
            Target::File(file, path) => file.write_all(bytes).map_err(|source| Error::Io {
                path: Some(path.to_path_buf()),
                source,
            }),
        }
    }
}

/// One attempt of a result download: the status judged by kie-proto's [`ResultDownload`],
/// the bytes written through, their count checked against `Content-Length`.
struct Sink<'d, 't, 'a> {
    download: &'d ResultDownload,
    target: &'t mut Target<'a>,
    announced: Option<u64>,
    written: u64,
    refresh: bool,
}

impl<'d, 't, 'a> Sink<'d, 't, 'a> {
    fn new(download: &'d ResultDownload, target: &'t mut Target<'a>) -> Self {
        Sink {
            download,
            target,
            announced: None,
            written: 0,
            refresh: false,
        }
    }
}

impl DownloadSink for Sink<'_, '_, '_> {
    fn head(&mut self, status: StatusCode, content_length: Option<u64>) -> Result<(), Error> {
        self.announced = content_length;
        match self.download.after_status(status) {
            ResultDownloadStep::Read => Ok(()),
            ResultDownloadStep::Refresh => {
                self.refresh = true;
                Err(refused(self.download, status))
            }
            _ => Err(refused(self.download, status)),
        }
    }

    fn bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.target.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), Error> {
        match self.announced {
            Some(announced) if announced != self.written => Err(IntegrityError::DownloadLength {
                url: self.download.url().to_owned(),
                announced,
                received: self.written,
            }
            .into()),
            _ => Ok(()),
        }
    }
}

fn refused(download: &ResultDownload, status: StatusCode) -> Error {
    IntegrityError::DownloadRefused {
        url: download.url().to_owned(),
        status: status.as_u16(),
    }
    .into()
}

/// Sleeps `pause`, waking to look at the cancel flag.
fn sleep_unless_cancelled(pause: Duration, options: &WaitOptions) -> Result<(), Error> {
    let until = Instant::now() + pause;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(CANCEL_CHECK));
        if options.cancel_flag().is_cancelled() {
            return Ok(());
        }
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
        at: Instant::now(),
        wall: SystemTime::now(),
        random: kie_proto::driver::random_unit(),
    }
}
