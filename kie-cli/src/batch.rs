//! `kie run --batch FILE.ndjson`: one task per line, at most `-j` in flight, creates paced
//! by the account's window, a result line per task in completion order; a failure does not
//! stop the others. Every line is read and checked before the first byte is sent.

use futures_util::StreamExt as _;
use kie_async::kie_proto::task::{CreateWindow, TaskInput};
use kie_async::{Client, CreatePacer};

use crate::cli::RunArgs;
use crate::exit::Exit;
use crate::inputs::Inputs;
use crate::progress::{TaskLines, Terminal};
use crate::signals;
use crate::task::{
    Ending, Phase, PhaseCell, Printer, Settings, Shared, local_file, read_text, run_one, usage,
};

/// The span of the account's create limit (`--create-limit` per this).
const CREATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

/// The most line errors listed before the rest are counted.
const ERRORS_SHOWN: usize = 10;

/// One line of the batch file, ready to run.
struct Job {
    /// Its line number in the file, 1-based.
    line: usize,
    input: TaskInput,
    phase: PhaseCell,
}

/// `kie run --batch`.
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
    let Some(file) = &args.batch else {
        return Exit::Usage;
    };
    let text = match read_text(file) {
        Ok(text) => text,
        Err(message) => return local_file(&message),
    };
    let (jobs, errors) = read_jobs(&text, args, &settings);
    if !errors.is_empty() {
        for (line, message, _) in errors.iter().take(ERRORS_SHOWN) {
            say!("kie: {}:{line}: {message}", file.display());
        }
        if errors.len() > ERRORS_SHOWN {
            say!(
                "kie: … and {} more lines with errors",
                errors.len() - ERRORS_SHOWN
            );
        }
        say!("kie: nothing was sent");
        return if errors.iter().all(|(_, _, exit)| *exit == Exit::LocalFile) {
            Exit::LocalFile
        } else {
            Exit::Usage
        };
    }
    if jobs.is_empty() {
        say!("kie: {}: no task (every line is empty)", file.display());
        return Exit::Usage;
    }
    if let Err(message) = settings.prepare_output_dir() {
        return local_file(&message);
    }

    let lines = TaskLines::new(terminal, quiet);
    let printer = Printer {
        settings: &settings,
        lines: &lines,
    };
    let window = CreateWindow::new(usize::from(args.create_limit), CREATE_WINDOW);
    let shared = Shared {
        pacer: Some(CreatePacer::new(window)),
        ..Shared::default()
    };
    let phases: Vec<(usize, PhaseCell)> = jobs
        .iter()
        .map(|job| (job.line, job.phase.clone()))
        .collect();
    let total = jobs.len();
    let mut tally = Tally::default();
    let work = async {
        let mut endings = futures_util::stream::iter(jobs)
            .map(|job| {
                let (settings, lines, shared) = (&settings, &lines, &shared);
                async move {
                    let line = lines.add(&format!("line {}", job.line), false);
                    let ending =
                        run_one(client, &job.input, settings, shared, &line, &job.phase).await;
                    line.finish();
                    (job, ending)
                }
            })
            .buffer_unordered(usize::from(args.concurrency));
        while let Some((job, ending)) = endings.next().await {
            let exit = printer.report(Some(job.line), &ending);
            job.phase.set(Phase::Ended);
            tally.count(exit, &ending);
        }
    };
    tokio::select! {
        biased;
        stop = signals::stop_requested() => {
            lines.clear();
            for (line, phase) in &phases {
                printer.interrupted(Some(*line), &phase.get());
            }
            say!("kie: interrupted: {} of {total} tasks ended before the interrupt", tally.ended());
            return stop;
        }
        () = work => {}
    }
    if tally.not_attempted > 0 {
        say!(
            "kie: stopped: {} tasks not attempted (the account was refused; the same refusal would repeat)",
            tally.not_attempted
        );
    }
    if !quiet {
        say!("kie: {total} tasks: {}", tally.summary());
    }
    Exit::combine(tally.succeeded + tally.created, tally.failures)
}

/// Every line's job, or the errors of the lines that cannot run (empty lines skipped), each
/// with its exit: a local file that cannot be read, or a usage error.
fn read_jobs(
    text: &str,
    args: &RunArgs,
    settings: &Settings,
) -> (Vec<Job>, Vec<(usize, String, Exit)>) {
    let mut jobs = Vec::new();
    let mut errors = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let checked = Inputs::from_line(line)
            .and_then(|inputs| inputs.apply(&args.inputs, &args.files))
            .map_err(|message| (message, Exit::Usage))
            .and_then(|inputs| {
                inputs
                    .check_files()
                    .map_err(|message| (message, Exit::LocalFile))?;
                let input = inputs.task_input().map_err(|m| (m, Exit::Usage))?;
                settings.check_input(&input).map_err(|m| (m, Exit::Usage))?;
                Ok(input)
            });
        match checked {
            Ok(input) => jobs.push(Job {
                line: number,
                input,
                phase: PhaseCell::default(),
            }),
            Err((message, exit)) => errors.push((number, message, exit)),
        }
    }
    (jobs, errors)
}

/// How the tasks of a batch ended so far.
#[derive(Default)]
struct Tally {
    succeeded: usize,
    /// Created and not waited for (`--no-wait`).
    created: usize,
    failed: usize,
    not_attempted: usize,
    others: usize,
    failures: Vec<Exit>,
}

impl Tally {
    fn count(&mut self, exit: Exit, ending: &Ending) {
        if matches!(ending, Ending::NotAttempted) {
            self.not_attempted += 1;
            return;
        }
        if matches!(ending, Ending::Created(_)) {
            self.created += 1;
            return;
        }
        match exit {
            Exit::Success => self.succeeded += 1,
            Exit::TaskFailed if matches!(ending, Ending::Finished { .. }) => {
                self.failed += 1;
                self.failures.push(exit);
            }
            _ => {
                self.others += 1;
                self.failures.push(exit);
            }
        }
    }

    fn ended(&self) -> usize {
        self.succeeded + self.created + self.failed + self.others + self.not_attempted
    }

    fn summary(&self) -> String {
        let mut parts = Vec::new();
        if self.succeeded > 0 || self.created == 0 {
            parts.push(format!("{} succeeded", self.succeeded));
        }
        if self.created > 0 {
            parts.push(format!("{} created, not waited for", self.created));
        }
        if self.failed > 0 {
            parts.push(format!("{} failed", self.failed));
        }
        if self.not_attempted > 0 {
            parts.push(format!("{} not attempted", self.not_attempted));
        }
        if self.others > 0 {
            parts.push(format!("{} not run to the end (see above)", self.others));
        }
        parts.join(", ")
    }
}
