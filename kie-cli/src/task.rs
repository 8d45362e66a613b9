//! `kie run` and `kie task`: a generation task from local inputs to downloaded results, on
//! the SDK's jobs layer (`create_task`, `wait_task`, `download_result_to`). This module
//! reads the arguments, uploads each input file once, names the result files, draws the
//! task lines and picks the exit code; every protocol rule (what may be retried, when a
//! create may have happened, how to poll) is the SDK's.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{self, ErrorKind as IoErrorKind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indicatif::HumanBytes;
use kie_async::kie_proto::task::veo::Veo1080pWait;
use kie_async::kie_proto::task::{
    AssetRole, Family, LocalInput, NewTask, PollPolicy, TaskInput, TaskRef, TaskStatus, TaskView,
    WaitOptions,
};
use kie_async::{Client, CreatePacer, Error, ErrorKind, UploadOptions, UploadSource};
use serde::Serialize;

use crate::cli::{FamilyArg, RunArgs, TaskCommand};
use crate::exit::{Exit, classify};
use crate::inputs::Inputs;
use crate::output::{self, ErrorObject};
use crate::progress::{TaskLine, TaskLines, Terminal};
use crate::signals;

/// What every task of one command shares.
pub struct Settings {
    /// The model.
    pub model: String,
    /// `--callback-url`.
    pub callback_url: Option<String>,
    /// `--no-wait`: stop once the task exists.
    pub no_wait: bool,
    /// `--no-download`: print the result URLs instead.
    pub no_download: bool,
    /// `--family`: the family, when the model's name does not tell.
    pub family: Option<Family>,
    /// `--timeout` and `--poll-every` (the family's policy otherwise).
    pub timeout: Option<Duration>,
    pub poll_every: Option<Duration>,
    /// `--1080p`: also save the 1080p version of each Veo video.
    pub veo_1080p: bool,
    /// Where results go, and whether existing files may be overwritten.
    pub output_dir: PathBuf,
    pub force: bool,
    /// Input files are stored under this folder (`--path` and a per-run folder).
    pub upload_path: String,
    /// `--json`, `--quiet`.
    pub json: bool,
    pub quiet: bool,
}

impl Settings {
    /// The settings of `kie run`, checked before anything is sent.
    pub fn of_run(args: &RunArgs, json: bool, quiet: bool) -> Result<Settings, String> {
        let family = args.family.map(|family| match family {
            FamilyArg::Market => Family::Market,
            FamilyArg::Veo => Family::Veo,
        });
        // The model's name and the callback URL are checked by building a create.
        let probe = NewTask::for_model(&args.model, serde_json::json!({"prompt": "-"}), family)
            .map_err(|error| error.to_string())?;
        if args.veo_1080p && probe.family() != Family::Veo {
            return Err(format!("--1080p: {} is not a Veo model", args.model));
        }
        if let Some(url) = &args.callback_url {
            probe
                .with_callback_url(url)
                .map_err(|error| format!("--callback-url: {error}"))?;
        }
        let upload_path = format!(
            "{}/{}",
            args.upload_path.trim_end_matches('/'),
            run_folder()
        );
        UploadOptions::new(upload_path.as_str())
            .validate()
            .map_err(|error| format!("--path: {error}"))?;
        Ok(Settings {
            model: args.model.clone(),
            callback_url: args.callback_url.clone(),
            no_wait: args.no_wait,
            no_download: args.no_download,
            family,
            timeout: args.timeout,
            poll_every: args.poll_every,
            veo_1080p: args.veo_1080p,
            output_dir: args.output_dir.clone(),
            force: args.force,
            upload_path,
            json,
            quiet,
        })
    }

    /// How a task of `family` is waited for: the family's policy (kie-proto's), with
    /// `--poll-every` as its spacing and `--timeout` as its deadline (`0`: none).
    fn policy_for(&self, family: Family) -> PollPolicy {
        let mut policy = family.poll_policy();
        if let Some(every) = self.poll_every {
            policy = policy
                .with_first_delay(every)
                .with_max_delay(every)
                .with_factor(1.0)
                .with_min_gap(every.min(Duration::from_secs(1)));
        }
        match self.timeout {
            Some(limit) if limit.is_zero() => policy.with_deadline(None),
            Some(limit) => policy.with_deadline(Some(limit)),
            None => policy,
        }
    }

    /// The command that takes `task` from a stopped wait to where this command would have
    /// ended: `kie task wait` when results are not downloaded, else `kie task download`
    /// with this command's output directory and flags.
    pub fn resume_command(&self, task: &TaskRef) -> String {
        if self.no_download {
            format!("kie task wait {task}")
        } else {
            self.download_command(task)
        }
    }

    /// `kie task download` of `task` into this command's output directory (`-o` only when
    /// it is not `.`), with its `--force` and `--1080p`; the directory quoted for a POSIX
    /// shell where it needs to be.
    pub fn download_command(&self, task: &TaskRef) -> String {
        let mut command = format!("kie task download {task}");
        if self.output_dir != Path::new(".") {
            // A directory named like an option is given as a path (`./-x`).
            let dir = self.output_dir.to_string_lossy();
            let dir = match dir.starts_with('-') {
                true => format!("./{dir}"),
                false => dir.into_owned(),
            };
            command.push_str(" -o ");
            command.push_str(&output::shell_word(&dir));
        }
        if self.force {
            command.push_str(" --force");
        }
        if self.veo_1080p {
            command.push_str(" --1080p");
        }
        command
    }

    /// The create of `input` (a resolved task input) for this command's model.
    pub fn create(&self, input: serde_json::Value) -> Result<NewTask, Error> {
        let create = NewTask::for_model(&self.model, input, self.family)?;
        match &self.callback_url {
            Some(url) => Ok(create.with_callback_url(url)?),
            None => Ok(create),
        }
    }

    /// Checks `input` as its create will be built once its files are uploaded, before
    /// anything is sent (a Veo task without a prompt, a field of the wrong type).
    pub fn check_input(&self, input: &TaskInput) -> Result<(), String> {
        let placeholders: Vec<String> = input
            .files()
            .iter()
            .map(|_| "https://kie.invalid/input".to_owned())
            .collect();
        self.create(input.resolve(&placeholders))
            .map(drop)
            .map_err(|error| error.to_string())
    }

    /// Whether results are saved locally.
    fn downloads(&self) -> bool {
        !self.no_wait && !self.no_download
    }

    /// Creates the output directory when results will go there (before anything is sent).
    pub fn prepare_output_dir(&self) -> Result<(), String> {
        if !self.downloads() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.output_dir)
            .map_err(|error| format!("{}: {error}", self.output_dir.display()))
    }
}

/// A folder of its own for the input files of one run, so that a later run's `cat.png`
/// never replaces the one a task of this run has yet to fetch.
fn run_folder() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    format!("run-{millis}-{}", std::process::id())
}

/// Where a task is, for what an interrupt says.
#[derive(Debug, Clone, Default)]
pub enum Phase {
    /// Reading inputs, uploading input files: nothing created.
    #[default]
    Preparing,
    /// The create is in flight: the task may exist.
    Creating,
    /// Created: waiting for it, or downloading its results.
    Created(TaskRef),
    /// Nothing more to say.
    Ended,
}

/// A task's [`Phase`], shared with the interrupt handler.
#[derive(Debug, Clone, Default)]
pub struct PhaseCell(Arc<Mutex<Phase>>);

impl PhaseCell {
    /// Moves to `phase`.
    pub fn set(&self, phase: Phase) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = phase;
    }

    /// The phase now.
    pub fn get(&self) -> Phase {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Input files uploaded once per command, however many tasks name them.
#[derive(Default)]
pub struct Uploads {
    urls: Mutex<HashMap<PathBuf, Arc<tokio::sync::OnceCell<String>>>>,
    /// Stored names taken so far (two local `cat.png`s get `cat.png` and `cat-1.png`).
    names: Mutex<HashMap<PathBuf, String>>,
}

impl Uploads {
    async fn url(
        &self,
        client: &Client,
        path: &Path,
        settings: &Settings,
    ) -> Result<String, Error> {
        let cell = self
            .urls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(path.to_owned())
            .or_default()
            .clone();
        let url = cell
            .get_or_try_init(|| async {
                let name = self.stored_name(path);
                let options = UploadOptions::new(settings.upload_path.as_str()).file_name(name);
                let uploaded = client.upload(UploadSource::path(path), &options).await?;
                Ok::<_, Error>(uploaded.download_url)
            })
            .await?;
        Ok(url.clone())
    }

    fn stored_name(&self, path: &Path) -> String {
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(name) = names.get(path) {
            return name.clone();
        }
        let base = path.file_name().map_or_else(
            || "input".to_owned(),
            |name| name.to_string_lossy().into_owned(),
        );
        let taken = |candidate: &str| names.values().any(|name| name == candidate);
        let name = (0..)
            .map(|n| numbered(&base, n))
            .find(|candidate| !taken(candidate))
            .unwrap_or(base);
        names.insert(path.to_owned(), name.clone());
        name
    }
}

/// `name` for `n` = 0, then `stem-n.ext`.
fn numbered(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_owned();
    }
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}-{n}.{ext}"),
        _ => format!("{name}-{n}"),
    }
}

/// How one task ended.
pub enum Ending {
    /// Not started: the account was refused for an earlier task.
    NotAttempted,
    /// Nothing was created: an input could not be read or uploaded, or the create was
    /// refused (`rejected`: the service refused the input itself).
    NotCreated { error: Error, rejected: bool },
    /// The create got no clear answer: the task may exist.
    MaybeCreated(Error),
    /// Created (`--no-wait`).
    Created(TaskRef),
    /// The wait stopped without the task's outcome.
    WaitStopped(TaskRef, Error),
    /// The task's record could not be read (`kie task get`, `download`).
    Unreadable(TaskRef, Error),
    /// The task finished (succeeded or failed); its results saved, up to a download error.
    Finished {
        view: Box<TaskView>,
        saved: Vec<Saved>,
        download_error: Option<Error>,
    },
}

/// A result saved locally.
#[derive(Debug, Serialize)]
pub struct Saved {
    /// Its URL.
    pub url: String,
    /// Where it was saved.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
}

/// What the tasks of one command share.
#[derive(Default)]
pub struct Shared {
    /// Input files uploaded so far.
    pub uploads: Uploads,
    /// Paces creates, with `--batch`.
    pub pacer: Option<CreatePacer>,
    /// Set once the account was refused (key, credits): no further create is sent.
    pub halt: std::sync::atomic::AtomicBool,
}

/// Runs one task: uploads its input files, creates it (paced when `shared` says), waits
/// for it and saves its results, reporting on `line`.
pub async fn run_one(
    client: &Client,
    input: &TaskInput,
    settings: &Settings,
    shared: &Shared,
    line: &TaskLine,
    phase: &PhaseCell,
) -> Ending {
    let halted = || shared.halt.load(std::sync::atomic::Ordering::SeqCst);
    if halted() {
        return Ending::NotAttempted;
    }
    let uploads = &shared.uploads;
    let mut urls = Vec::new();
    for (_, local) in input.files() {
        let LocalInput::Path(path) = local else {
            continue;
        };
        line.activity(&format!("uploading {}", path.display()));
        match uploads.url(client, path, settings).await {
            Ok(url) => urls.push(url),
            Err(error) => {
                return Ending::NotCreated {
                    error,
                    rejected: false,
                };
            }
        }
    }
    let create = match settings.create(input.resolve(&urls)) {
        Ok(create) => create,
        Err(error) => {
            return Ending::NotCreated {
                error,
                rejected: false,
            };
        }
    };
    if let Some(pacer) = &shared.pacer {
        line.activity("waiting for the account's create window");
        pacer.admit().await;
    }
    if halted() {
        return Ending::NotAttempted;
    }
    line.activity("creating the task");
    phase.set(Phase::Creating);
    let task = match client.create_task(&create).await {
        Ok(task) => task,
        Err(error @ Error::MaybeCreated { .. }) => return Ending::MaybeCreated(error),
        Err(error) => {
            if crate::exit::is_account_wide(&error) {
                shared.halt.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            let rejected = error.api_error().is_some_and(|api| {
                matches!(
                    api.kind,
                    ErrorKind::Validation | ErrorKind::NotFound | ErrorKind::BadRequest
                )
            });
            phase.set(Phase::Ended);
            return Ending::NotCreated { error, rejected };
        }
    };
    phase.set(Phase::Created(task.clone()));
    line.created(&task);
    if settings.no_wait {
        return Ending::Created(task);
    }
    line.activity("waiting");
    let view = match wait(client, &task, settings, line, true).await {
        Ok(view) => view,
        Err(error) => return Ending::WaitStopped(task, error),
    };
    finish(client, view, settings, line).await
}

/// Waits for `task`, its status on `line`.
async fn wait(
    client: &Client,
    task: &TaskRef,
    settings: &Settings,
    line: &TaskLine,
    just_created: bool,
) -> Result<TaskView, Error> {
    let shown = line.clone();
    let mut options = WaitOptions::new()
        .policy(settings.policy_for(task.family()))
        .on_progress(move |progress| shown.status(&progress.status));
    if just_created {
        options = options.just_created();
    }
    client.wait_task(task, &options).await
}

/// A finished task: its results saved (unless failed or `--no-download`).
async fn finish(client: &Client, view: TaskView, settings: &Settings, line: &TaskLine) -> Ending {
    let (saved, download_error) = if view.status == TaskStatus::Succeeded && settings.downloads() {
        save_results(client, &view, settings, line).await
    } else {
        (Vec::new(), None)
    };
    Ending::Finished {
        view: Box::new(view),
        saved,
        download_error,
    }
}

/// Downloads every result of `view` into the output directory, under the name in its URL
/// (a free variant of it when that file exists, unless `--force`); with `--1080p`, then
/// the 1080p version of each Veo video.
async fn save_results(
    client: &Client,
    view: &TaskView,
    settings: &Settings,
    line: &TaskLine,
) -> (Vec<Saved>, Option<Error>) {
    let mut saved = Vec::new();
    for (index, asset) in view.assets.iter().enumerate() {
        let fallback = format!("{}-{index}", view.task.id());
        match save(client, &asset.url, &fallback, settings, line).await {
            Ok(file) => saved.push(file),
            Err(error) => return (saved, Some(error)),
        }
    }
    if settings.veo_1080p && view.task.family() == Family::Veo {
        let results = view.assets.iter().filter(|a| a.role == AssetRole::Result);
        for (index, _) in results.enumerate() {
            line.activity("waiting for the 1080p version");
            let mut wait = Veo1080pWait::default();
            if let Some(every) = settings.poll_every {
                wait = wait.with_spacing(every, every);
            }
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            let urls = match client.veo_1080p(&view.task, Some(index), &wait).await {
                Ok(urls) => urls,
                Err(error) => return (saved, Some(error)),
            };
            for url in urls {
                let fallback = format!("{}-{index}-1080p.mp4", view.task.id());
                match save(client, &url, &fallback, settings, line).await {
                    Ok(file) => saved.push(file),
                    Err(error) => return (saved, Some(error)),
                }
            }
        }
    }
    (saved, None)
}

/// Downloads `url` into the output directory under the name in it (`fallback` when it
/// has none); a failed download leaves no half file behind.
async fn save(
    client: &Client,
    url: &str,
    fallback: &str,
    settings: &Settings,
    line: &TaskLine,
) -> Result<Saved, Error> {
    let name = file_name_of(url).unwrap_or_else(|| fallback.to_owned());
    let path = claim(&settings.output_dir, &name, settings.force).map_err(|source| Error::Io {
        path: Some(settings.output_dir.join(&name)),
        source,
    })?;
    line.activity(&format!("downloading {name}"));
    match client.download_result_to(url, &path).await {
        Ok(size) => Ok(Saved {
            url: url.to_owned(),
            path,
            size,
        }),
        Err(error) => {
            let _ = std::fs::remove_file(&path);
            Err(error)
        }
    }
}

/// The file name in a result URL (its last path segment), reduced to characters safe in
/// any file system; `None` when nothing usable is left.
pub fn file_name_of(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    let (_, segment) = path.rsplit_once('/')?;
    let name: String = segment
        .chars()
        .take(200)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_start_matches('.');
    (!name.is_empty()).then(|| name.to_owned())
}

/// A path in `dir` for `name` that holds no file yet (`name`, `stem-1.ext`, …), created
/// empty so no other download takes it; with `force`, `name` itself.
fn claim(dir: &Path, name: &str, force: bool) -> io::Result<PathBuf> {
    if force {
        return Ok(dir.join(name));
    }
    for n in 0..10_000 {
        let path = dir.join(numbered(name, n));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(_) => return Ok(path),
            Err(error) if error.kind() == IoErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::new(
        IoErrorKind::AlreadyExists,
        format!("every variant of {name} exists"),
    ))
}

/// One task as an NDJSON line.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskReport<'a> {
    /// The line of the batch file, with `--batch`.
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    /// `market:<id>`, once it exists.
    task: Option<String>,
    model: Option<&'a str>,
    /// `success`, `fail`, a running stage, `created` (`--no-wait`), `not_created`,
    /// `maybe_created`, or `interrupted`.
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    progress: Option<u8>,
    result_urls: Vec<&'a str>,
    files: &'a [Saved],
    credits_consumed: Option<f64>,
    fail_code: Option<&'a str>,
    fail_msg: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorObject>,
}

impl<'a> TaskReport<'a> {
    fn new(
        line: Option<usize>,
        task: Option<&TaskRef>,
        model: Option<&'a str>,
        state: &str,
    ) -> Self {
        TaskReport {
            line,
            task: task.map(ToString::to_string),
            model,
            state: state.to_owned(),
            progress: None,
            result_urls: Vec::new(),
            files: &[],
            credits_consumed: None,
            fail_code: None,
            fail_msg: None,
            error: None,
        }
    }

    fn of_view(
        line: Option<usize>,
        view: &'a TaskView,
        model: Option<&'a str>,
        files: &'a [Saved],
    ) -> Self {
        let mut report = TaskReport::new(
            line,
            Some(&view.task),
            view.model.as_deref().or(model),
            &state_word(&view.status),
        );
        report.result_urls = view.assets.iter().map(|asset| asset.url.as_str()).collect();
        report.files = files;
        report.credits_consumed = view.credits_consumed;
        match &view.status {
            TaskStatus::Running { progress, .. } => report.progress = *progress,
            TaskStatus::Failed { code, message, .. } => {
                report.fail_code = code.as_deref();
                report.fail_msg = message.as_deref();
            }
            _ => {}
        }
        report
    }
}

/// The service's word for a status.
fn state_word(status: &TaskStatus) -> String {
    match status {
        TaskStatus::Running { stage, .. } => stage.clone(),
        TaskStatus::Succeeded => "success".to_owned(),
        TaskStatus::Failed { .. } => "fail".to_owned(),
        TaskStatus::Unknown(word) => word.clone(),
        _ => "unknown".to_owned(),
    }
}

/// How the results reach stdout in text mode.
pub struct Printer<'a> {
    pub settings: &'a Settings,
    pub lines: &'a TaskLines,
}

impl Printer<'_> {
    /// Reports how a task ended (`line`: its batch line) and returns its exit.
    pub fn report(&self, line: Option<usize>, ending: &Ending) -> Exit {
        let settings = self.settings;
        let model = Some(settings.model.as_str());
        let at = line.map_or_else(String::new, |line| format!("line {line}: "));
        match ending {
            Ending::NotCreated { error, rejected } => {
                let exit = if *rejected {
                    Exit::InputRejected
                } else {
                    classify(error).exit
                };
                let hint = rejected.then_some(
                    "the model's page lists its input fields; nothing was created or charged",
                );
                self.error_line(
                    line,
                    None,
                    "not_created",
                    error,
                    &format!("{at}no task created"),
                    hint,
                );
                exit
            }
            Ending::NotAttempted => {
                if settings.json {
                    self.print_json(&TaskReport::new(line, None, model, "not_attempted"));
                }
                Exit::Failed
            }
            Ending::MaybeCreated(error) => {
                self.error_line(
                    line,
                    None,
                    "maybe_created",
                    error,
                    &format!("{at}create"),
                    None,
                );
                Exit::MaybeCreated
            }
            Ending::Created(task) => {
                if settings.json {
                    self.print_json(&TaskReport::new(line, Some(task), model, "created"));
                } else {
                    self.print_text(&format!("{task}\n"));
                }
                Exit::Success
            }
            Ending::WaitStopped(task, error) => {
                let hint = format!("resume with: {}", settings.resume_command(task));
                self.error_line(
                    line,
                    Some(task),
                    "waiting",
                    error,
                    &format!("{at}{task}"),
                    Some(&hint),
                );
                classify(error).exit
            }
            Ending::Unreadable(task, error) => {
                self.error_line(
                    line,
                    Some(task),
                    "unknown",
                    error,
                    &format!("{at}{task}"),
                    None,
                );
                classify(error).exit
            }
            Ending::Finished {
                view,
                saved,
                download_error,
            } => self.finished(line, view, saved, download_error.as_ref()),
        }
    }

    fn finished(
        &self,
        line: Option<usize>,
        view: &TaskView,
        saved: &[Saved],
        download_error: Option<&Error>,
    ) -> Exit {
        let settings = self.settings;
        let at = line.map_or_else(String::new, |line| format!("line {line}: "));
        let task = &view.task;
        let mut report = TaskReport::of_view(line, view, Some(settings.model.as_str()), saved);
        if let Some(error) = download_error {
            report.error = Some(ErrorObject::new(error));
        }
        if settings.json {
            self.print_json(&report);
        }
        if let TaskStatus::Failed {
            code,
            message,
            recreate_may_help,
        } = &view.status
        {
            let code = code
                .as_deref()
                .filter(|code| !code.is_empty())
                .map_or_else(String::new, |code| format!(" ({code})"));
            let message = message
                .as_deref()
                .filter(|m| !m.is_empty())
                .unwrap_or("no reason given");
            let mut text = format!("kie: {at}task {task} failed{code}: {message}");
            if *recreate_may_help {
                text.push_str("\nkie: an upstream failure: running it again may succeed (a failed task is not charged)");
            }
            self.lines.suspend(|| say!("{text}"));
            return Exit::TaskFailed;
        }
        if !settings.json {
            let mut text = String::new();
            if saved.is_empty() || !settings.downloads() {
                for asset in &view.assets {
                    text.push_str(&if line.is_some() && !settings.quiet {
                        format!("{at}{}\n", asset.url)
                    } else {
                        format!("{}\n", asset.url)
                    });
                }
            } else {
                let width = saved
                    .iter()
                    .map(|file| file.path.display().to_string().chars().count())
                    .max()
                    .unwrap_or(0);
                for file in saved {
                    let path = file.path.display().to_string();
                    if settings.quiet {
                        text.push_str(&format!("{path}\n"));
                    } else {
                        text.push_str(&format!("{at}{path:<width$}  {}\n", HumanBytes(file.size)));
                    }
                }
            }
            self.print_text(&text);
        }
        let credits = match view.credits_consumed {
            Some(1.0) => ", 1 credit".to_owned(),
            Some(credits) => format!(", {credits} credits"),
            None => String::new(),
        };
        let took = match (view.created_ms, view.completed_ms) {
            (Some(created), Some(completed)) if completed >= created => {
                format!(" in {:.1} s", (completed - created) as f64 / 1000.0)
            }
            _ => String::new(),
        };
        let files = match view.assets.len() {
            1 => "1 result".to_owned(),
            n => format!("{n} results"),
        };
        if line.is_none() {
            self.lines
                .note(&format!("{task} succeeded{took}{credits}: {files}"));
        }
        match download_error {
            Some(error) => {
                let hint = format!("download again with: {}", settings.download_command(task));
                self.lines.suspend(|| {
                    output::report_error(Some(&format!("{at}{task}")), error, Some(&hint))
                });
                classify(error).exit
            }
            None => Exit::Success,
        }
    }

    /// Reports a failure: an NDJSON line with `--json`, and the message on stderr.
    fn error_line(
        &self,
        line: Option<usize>,
        task: Option<&TaskRef>,
        state: &str,
        error: &Error,
        what: &str,
        hint: Option<&str>,
    ) {
        if self.settings.json {
            let mut report = TaskReport::new(line, task, Some(self.settings.model.as_str()), state);
            report.error = Some(ErrorObject::new(error));
            self.print_json(&report);
        }
        self.lines
            .suspend(|| output::report_error(Some(what), error, hint));
    }

    fn print_json(&self, report: &TaskReport<'_>) {
        self.lines.suspend(|| output::print_json(report));
    }

    fn print_text(&self, text: &str) {
        self.lines.suspend(|| output::print_text(text));
    }

    /// What an interrupt says of a task in `phase` (`line`: its batch line), and its NDJSON
    /// line with `--json`.
    pub fn interrupted(&self, line: Option<usize>, phase: &Phase) {
        let at = line.map_or_else(String::new, |line| format!("line {line}: "));
        let (task, state, text) = match phase {
            // In a batch, the summary line counts the tasks that never started.
            Phase::Preparing if line.is_some() => return,
            Phase::Preparing => (
                None,
                "not_created",
                "interrupted before the create: no task was created".to_owned(),
            ),
            Phase::Ended => return,
            Phase::Creating => (
                None,
                "maybe_created",
                format!(
                    "{at}interrupted while the create was in flight: the task may exist; look at https://kie.ai/logs before running it again"
                ),
            ),
            Phase::Created(task) => (
                Some(task),
                "interrupted",
                format!(
                    "{at}interrupted: task {task} keeps running on KIE.AI\nkie: {at}resume with: {}",
                    self.settings.resume_command(task)
                ),
            ),
        };
        if self.settings.json {
            self.print_json(&TaskReport::new(
                line,
                task,
                Some(self.settings.model.as_str()),
                state,
            ));
        }
        say!("kie: {text}");
    }
}

/// `kie run` without `--batch`.
pub async fn run(
    client: &Client,
    args: &RunArgs,
    json: bool,
    quiet: bool,
    terminal: &Terminal,
) -> Exit {
    let settings = match Settings::of_run(args, json, quiet) {
        Ok(settings) => settings,
        Err(message) => return usage(&message),
    };
    let base = match args.input_json.as_deref().map(read_text).transpose() {
        Ok(base) => base,
        Err(message) => return local_file(&message),
    };
    let inputs = match Inputs::from_args(base.as_deref(), &args.inputs, &args.files) {
        Ok(inputs) => inputs,
        Err(message) => return usage(&message),
    };
    if let Err(message) = inputs.check_files() {
        return local_file(&message);
    }
    let input = match inputs.task_input() {
        Ok(input) => input,
        Err(message) => return usage(&message),
    };
    if let Err(message) = settings.check_input(&input) {
        return usage(&message);
    }
    if let Err(message) = settings.prepare_output_dir() {
        return local_file(&message);
    }
    let lines = TaskLines::new(terminal, quiet);
    let printer = Printer {
        settings: &settings,
        lines: &lines,
    };
    let phase = PhaseCell::default();
    let line = lines.add(&settings.model, true);
    let shared = Shared::default();
    let run = async {
        let ending = run_one(client, &input, &settings, &shared, &line, &phase).await;
        line.finish();
        ending
    };
    let ending = tokio::select! {
        biased;
        stop = signals::stop_requested() => {
            lines.clear();
            printer.interrupted(None, &phase.get());
            return stop;
        }
        ending = run => ending,
    };
    printer.report(None, &ending)
}

/// `kie task get|wait|download`.
pub async fn task(
    client: &Client,
    command: TaskCommand,
    json: bool,
    quiet: bool,
    terminal: &Terminal,
) -> Exit {
    let (text, timeout, poll_every, output_dir, force, veo_1080p) = match &command {
        TaskCommand::Get { task } => (task, None, None, PathBuf::from("."), false, false),
        TaskCommand::Wait {
            task,
            timeout,
            poll_every,
        } => (
            task,
            *timeout,
            *poll_every,
            PathBuf::from("."),
            false,
            false,
        ),
        TaskCommand::Download {
            task,
            timeout,
            poll_every,
            output_dir,
            force,
            veo_1080p,
        } => (
            task,
            *timeout,
            *poll_every,
            output_dir.clone(),
            *force,
            *veo_1080p,
        ),
    };
    let task: TaskRef = match text.parse() {
        Ok(task) => task,
        Err(error) => return usage(&format!("{text:?}: {error}")),
    };
    if veo_1080p && task.family() != Family::Veo {
        return usage(&format!("--1080p: {task} is not a Veo task"));
    }
    let settings = Settings {
        model: String::new(),
        callback_url: None,
        no_wait: false,
        no_download: !matches!(command, TaskCommand::Download { .. }),
        family: None,
        timeout,
        poll_every,
        veo_1080p,
        output_dir,
        force,
        upload_path: String::new(),
        json,
        quiet,
    };
    if let Err(message) = settings.prepare_output_dir() {
        return local_file(&message);
    }
    let lines = TaskLines::new(terminal, quiet);
    let printer = Printer {
        settings: &settings,
        lines: &lines,
    };
    let line = lines.add(&task.to_string(), true);
    let run = async {
        let ending = match command {
            TaskCommand::Get { .. } => match client.get_task(&task).await {
                Ok(record) => return Ok(record.view()),
                Err(error) => Ending::Unreadable(task.clone(), error),
            },
            // A task still running is waited for first.
            TaskCommand::Download { .. } | TaskCommand::Wait { .. } => {
                match wait(client, &task, &settings, &line, false).await {
                    Ok(view) => finish(client, view, &settings, &line).await,
                    Err(error) => Ending::WaitStopped(task.clone(), error),
                }
            }
        };
        Err(ending)
    };
    let outcome = tokio::select! {
        biased;
        stop = signals::stop_requested() => {
            lines.clear();
            printer.interrupted(None, &Phase::Created(task.clone()));
            return stop;
        }
        outcome = run => outcome,
    };
    line.finish();
    match outcome {
        Err(ending) => printer.report(None, &ending),
        // `kie task get`: the state.
        Ok(view) => {
            let report = TaskReport::of_view(None, &view, None, &[]);
            if json {
                output::print_json(&report);
            } else {
                output::print_text(&describe(&view));
            }
            Exit::Success
        }
    }
}

/// A task's view as aligned `key  value` lines.
fn describe(view: &TaskView) -> String {
    let mut rows: Vec<(&str, String)> = vec![("task", view.task.to_string())];
    if let Some(model) = &view.model {
        rows.push(("model", model.clone()));
    }
    let mut state = state_word(&view.status);
    if let TaskStatus::Running {
        progress: Some(percent),
        ..
    } = &view.status
    {
        state.push_str(&format!(" {percent}%"));
    }
    rows.push(("state", state));
    if let TaskStatus::Failed { code, message, .. } = &view.status {
        rows.push(("failCode", code.clone().unwrap_or_default()));
        rows.push(("failMsg", message.clone().unwrap_or_default()));
    }
    if let Some(credits) = view.credits_consumed {
        rows.push(("credits", credits.to_string()));
    }
    for asset in &view.assets {
        rows.push(("result", asset.url.clone()));
    }
    rows.iter()
        .map(|(key, value)| format!("{key:<8}  {value}\n"))
        .collect()
}

/// The text of `path` (`-`: stdin).
pub fn read_text(path: &Path) -> Result<String, String> {
    if path == Path::new("-") {
        return io::read_to_string(io::stdin()).map_err(|error| format!("stdin: {error}"));
    }
    std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))
}

/// Reports a usage error (exit 2).
pub fn usage(message: &str) -> Exit {
    say!("kie: {message}");
    Exit::Usage
}

/// Reports a local-file error (exit 6).
pub fn local_file(message: &str) -> Exit {
    say!("kie: {message}");
    Exit::LocalFile
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resume_command_finishes_what_the_run_would_have_done() {
        let settings =
            |output_dir: &str, no_download: bool, force: bool, veo_1080p: bool| Settings {
                model: "m".to_owned(),
                callback_url: None,
                no_wait: false,
                no_download,
                family: None,
                timeout: None,
                poll_every: None,
                veo_1080p,
                output_dir: PathBuf::from(output_dir),
                force,
                upload_path: String::new(),
                json: false,
                quiet: false,
            };
        let market: TaskRef = "market:abc".parse().unwrap();
        let veo: TaskRef = "veo:v1".parse().unwrap();
        for (settings, task, command) in [
            (
                settings(".", true, false, false),
                &market,
                "kie task wait market:abc",
            ),
            (
                settings("./", false, false, false),
                &market,
                "kie task download market:abc",
            ),
            (
                settings("out", false, true, false),
                &market,
                "kie task download market:abc -o out --force",
            ),
            (
                settings("my results", false, false, true),
                &veo,
                "kie task download veo:v1 -o 'my results' --1080p",
            ),
            (
                settings("-x", false, false, false),
                &market,
                "kie task download market:abc -o ./-x",
            ),
        ] {
            assert_eq!(settings.resume_command(task), command);
        }
    }

    #[test]
    fn result_names_come_from_the_url_and_stay_inside_the_directory() {
        for (url, name) in [
            (
                "https://tempfile.aiquickdraw.com/r/abc.png",
                Some("abc.png"),
            ),
            (
                "https://h/generated/t1/result-0.mp4?token=x#f",
                Some("result-0.mp4"),
            ),
            ("https://h/a/..", None),
            ("https://h/a/.hidden", Some("hidden")),
            ("https://h/a/%2e%2e%2fetc", Some("_2e_2e_2fetc")),
            ("https://h/a/sp ace:é.png", Some("sp_ace__.png")),
            ("https://h/", None),
            ("https://h", None),
        ] {
            assert_eq!(file_name_of(url).as_deref(), name, "{url}");
        }
    }

    #[test]
    fn an_existing_file_is_never_overwritten_without_force() {
        let dir = std::env::temp_dir().join(format!("kie-claim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.png"), b"mine").unwrap();
        let first = claim(&dir, "a.png", false).unwrap();
        let second = claim(&dir, "a.png", false).unwrap();
        assert_eq!(
            (first.file_name().unwrap(), second.file_name().unwrap()),
            ("a-1.png".as_ref(), "a-2.png".as_ref())
        );
        assert_eq!(std::fs::read(dir.join("a.png")).unwrap(), b"mine");
        assert_eq!(claim(&dir, "a.png", true).unwrap(), dir.join("a.png"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn same_named_inputs_get_distinct_stored_names() {
        let uploads = Uploads::default();
        assert_eq!(uploads.stored_name(Path::new("a/cat.png")), "cat.png");
        assert_eq!(uploads.stored_name(Path::new("b/cat.png")), "cat-1.png");
        assert_eq!(uploads.stored_name(Path::new("a/cat.png")), "cat.png");
        assert_eq!(uploads.stored_name(Path::new("c/cat")), "cat");
    }
}
