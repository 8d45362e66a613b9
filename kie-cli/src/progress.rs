//! Progress bars on stderr (indicatif): one per upload in flight and a total (bytes, rate,
//! ETA), only on a terminal.

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use kie_async::kie_proto::task::TaskStatus;

/// How stderr may be used, decided once at start.
#[derive(Debug, Clone)]
pub struct Terminal {
    /// Progress bars are drawn: stderr is a terminal that can redraw (`TERM` is not
    /// `dumb`) and `--quiet` was not given.
    pub bars: bool,
    /// Bars may be coloured: also no `NO_COLOR` (any non-empty value).
    pub color: bool,
    /// The terminal's width in columns (80 when it cannot be told).
    pub width: u16,
    /// Where bars are drawn; cleared on Ctrl-C.
    pub multi: MultiProgress,
}

impl Terminal {
    /// Looks at stderr and the environment.
    pub fn detect(quiet: bool) -> Self {
        let dumb = std::env::var_os("TERM").is_some_and(|term| term == "dumb");
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        let bars = !quiet && !dumb && std::io::stderr().is_terminal();
        let target = if bars {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let width = console::Term::stderr()
            .size_checked()
            .map_or(80, |(_, columns)| columns);
        Self {
            bars,
            width,
            color: bars && !no_color,
            multi: MultiProgress::with_draw_target(target),
        }
    }
}

/// Whether stdout is a pipe or a socket (another program reads it, and may show it on
/// this terminal), rather than a terminal or a file.
pub fn stdout_is_a_pipe() -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd as _;
        use std::os::unix::fs::FileTypeExt as _;
        std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)
            .and_then(|stdout| stdout.metadata())
            .is_ok_and(|meta| meta.file_type().is_fifo() || meta.file_type().is_socket())
    }
    #[cfg(not(unix))]
    {
        !std::io::stdout().is_terminal()
    }
}

/// The bars of one `kie upload`: `None` inside when bars are off, so callbacks cost nothing.
#[derive(Clone)]
pub struct UploadBars(Option<Arc<Bars>>);

struct Bars {
    multi: MultiProgress,
    file_style: ProgressStyle,
    done_style: ProgressStyle,
    total: ProgressBar,
    state: Mutex<State>,
}

struct State {
    files: Vec<FileBar>,
    /// Content bytes sent so far, over all files (a retry takes its file's back to 0).
    sent: u64,
    /// Files finished, either way.
    done: usize,
    /// Files that failed.
    failed: usize,
    /// A bar was drawn (at the first progress report).
    drawn: bool,
}

struct FileBar {
    name: String,
    size: u64,
    sent: u64,
    bar: Option<ProgressBar>,
    activity: Arc<Activity>,
}

/// After this long without a byte sent, a bar says "stalled" instead of its last rate.
const STALLED_AFTER: Duration = Duration::from_secs(3);

/// What a file's bar shows after its percentage: the rate; "stalled Ns" when no byte went
/// out for [`STALLED_AFTER`]; "waiting for the answer" once every byte is sent; each
/// prefixed with `retry N after <why the last attempt failed>: ` from the second attempt on.
#[derive(Debug)]
struct Activity {
    last_byte: Mutex<Instant>,
    attempt: AtomicU32,
    retry_cause: Mutex<Option<kie_async::RetryCause>>,
}

impl Activity {
    fn new() -> Self {
        Activity {
            last_byte: Mutex::new(Instant::now()),
            attempt: AtomicU32::new(1),
            retry_cause: Mutex::new(None),
        }
    }

    fn saw(&self, progress: &kie_async::Progress, moved: bool) {
        self.attempt.store(progress.attempt, Ordering::Relaxed);
        *self
            .retry_cause
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = progress.retry_cause;
        if moved {
            *self
                .last_byte
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        }
    }

    fn describe(&self, state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write) {
        let attempt = self.attempt.load(Ordering::Relaxed);
        if attempt > 1 {
            let cause = *self
                .retry_cause
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let _ = match cause {
                Some(cause) => write!(out, "retry {attempt} after {cause}: "),
                None => write!(out, "retry {attempt}: "),
            };
        }
        let idle = self
            .last_byte
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed();
        let _ = if state.len().is_some_and(|len| state.pos() >= len) {
            write!(out, "waiting for the answer")
        } else if idle >= STALLED_AFTER {
            write!(out, "stalled {}s", idle.as_secs())
        } else {
            write!(out, "{}/s", indicatif::BinaryBytes(state.per_sec() as u64))
        };
    }
}

impl UploadBars {
    /// Bars for uploads of these `(name, size)` files; nothing is drawn until the first
    /// progress report.
    pub fn new(terminal: &Terminal, files: &[(String, u64)]) -> Self {
        if !terminal.bars {
            return Self(None);
        }
        let [file_template, total_template, done_template] =
            templates(terminal.color, terminal.width);
        let file_style = style(&file_template);
        let total_style = style(&total_template);
        let done_style = style(&done_template);
        let total = terminal.multi.add(
            ProgressBar::new(files.iter().map(|(_, size)| size).sum())
                .with_style(total_style)
                .with_prefix(match files.len() {
                    1 => "total (1 file)".to_owned(),
                    n => format!("total ({n} files)"),
                }),
        );
        let files = files
            .iter()
            .map(|(name, size)| FileBar {
                name: name.clone(),
                size: *size,
                sent: 0,
                bar: None,
                activity: Arc::new(Activity::new()),
            })
            .collect();
        Self(Some(Arc::new(Bars {
            multi: terminal.multi.clone(),
            file_style,
            done_style,
            total,
            state: Mutex::new(State {
                files,
                sent: 0,
                done: 0,
                failed: 0,
                drawn: false,
            }),
        })))
    }

    /// No bars.
    pub fn none() -> Self {
        Self(None)
    }

    /// The progress callback of file `index`: its bar appears at the first report.
    pub fn callback(&self, index: usize) -> Option<impl Fn(kie_async::Progress) + 'static> {
        let bars = self.0.clone()?;
        Some(move |progress: kie_async::Progress| bars.update(index, progress))
    }

    /// File `index` is done: its bar goes; the total counts all of it (`ok`) or none of it.
    pub fn finished(&self, index: usize, ok: bool) {
        if let Some(bars) = &self.0 {
            bars.finished(index, ok);
        }
    }

    /// Runs `print` (a line to stdout) with the bars taken off the screen and redrawn after,
    /// so the line is never drawn over when stdout is the same terminal.
    pub fn suspend(&self, print: impl FnOnce()) {
        match &self.0 {
            Some(bars) => bars.multi.suspend(print),
            None => print(),
        }
    }

    /// Redraws the bars of the uploads in flight, so that one that sends nothing shows it
    /// ("stalled", "waiting for the answer") rather than its last rate. Called about once a
    /// second by the upload loop.
    pub fn tick(&self) {
        if let Some(bars) = &self.0 {
            for file in &bars.state().files {
                if let Some(bar) = &file.bar {
                    bar.tick();
                }
            }
        }
    }

    /// Interrupted: every bar leaves the screen.
    ///
    /// The bars pad each line to the terminal's width, leaving the cursor at the right edge;
    /// the `^C` a terminal echoes for the interrupt key then wraps onto a new line, and a
    /// plain clear (which counts up from the cursor) would leave the top bar behind. A space
    /// and a line clear put the cursor on the line below the bars whether or not an echo
    /// came; one line up is then where the clear expects it.
    pub fn clear(&self) {
        if let Some(bars) = &self.0 {
            if bars.state().drawn {
                let mut stderr = std::io::stderr().lock();
                let _ = stderr.write_all(b" \r\x1b[2K\x1b[1A");
                let _ = stderr.flush();
            }
            let _ = bars.multi.clear();
        }
    }

    /// All done: the total bar stays on screen at its final state, and the cursor moves to
    /// the line below it; no bar at all when nothing was sent (every file was refused
    /// before sending: the errors say it all).
    ///
    /// The bar fills the line, so the cursor waits at its right edge: what is printed next
    /// would wrap onto the next line, and the terminal would join the two as one wrapped
    /// line (in a selection, or when a resize reflows the screen). A carriage return and a
    /// line feed end the bar's line instead.
    pub fn finish(&self) {
        if let Some(bars) = &self.0 {
            let state = bars.state();
            if !state.drawn {
                bars.total.finish_and_clear();
                return;
            }
            let elapsed = bars.total.elapsed().as_secs_f64();
            // Whole bytes per second: the average is a summary, not a measurement to the byte.
            let rate = if elapsed > 0.0 {
                (state.sent as f64 / elapsed) as u64
            } else {
                0
            };
            bars.total.set_style(bars.done_style.clone());
            bars.total.set_message(format!(
                "{}, {}/s",
                counts(&state),
                indicatif::BinaryBytes(rate)
            ));
            bars.total.finish();
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(b"\r\n");
            let _ = stderr.flush();
        }
    }
}

impl Bars {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves numbers that are still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, index: usize, progress: kie_async::Progress) {
        let mut state = self.state();
        state.drawn = true;
        let Some(file) = state.files.get_mut(index) else {
            return;
        };
        let activity = file.activity.clone();
        activity.saw(&progress, progress.sent != file.sent);
        let bar = file.bar.get_or_insert_with(|| {
            let style = self.file_style.clone().with_key(
                "activity",
                move |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                    activity.describe(state, out)
                },
            );
            self.multi.insert_before(
                &self.total,
                ProgressBar::new(progress.total)
                    .with_style(style)
                    .with_prefix(file.name.clone()),
            )
        });
        bar.set_length(progress.total);
        bar.set_position(progress.sent);
        let before = std::mem::replace(&mut file.sent, progress.sent);
        state.sent = state.sent.saturating_sub(before) + progress.sent;
        self.total.set_position(state.sent);
    }

    fn finished(&self, index: usize, ok: bool) {
        let mut state = self.state();
        let Some(file) = state.files.get_mut(index) else {
            return;
        };
        if let Some(bar) = file.bar.take() {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        let (sent, size) = (file.sent, file.size);
        state.sent = state.sent.saturating_sub(sent);
        if ok {
            state.sent += size;
        } else {
            // A failed file stays in the total: the bar never looks complete for it.
            state.failed += 1;
        }
        state.done += 1;
        self.total.set_position(state.sent);
        self.total.set_message(counts(&state));
    }
}

/// `3/5 files` while none failed; `✓ 2  ✗ 1 of 5 files` once one did.
fn counts(state: &State) -> String {
    let total = state.files.len();
    if state.failed == 0 {
        format!("{}/{total} files", state.done)
    } else {
        format!(
            "✓ {}  ✗ {} of {total} files",
            state.done - state.failed,
            state.failed
        )
    }
}

/// The templates of a file bar, of the total bar, and of the total bar once all is done
/// (the average rate over the whole run instead of the latest one).
/// Below this many columns the bars leave out the byte counts, so that every line fits.
const COMPACT_BELOW: u16 = 110;

/// The file, running total and finished total templates for a terminal `width` columns
/// wide. Bars take what the text leaves (`wide_bar`), and the text itself fits in 80
/// columns with room for a bar, so no line ever wraps.
fn templates(color: bool, width: u16) -> [String; 3] {
    let (bar, total_bar) = if color {
        ("{wide_bar:.cyan/blue}", "{wide_bar:.green/blue}")
    } else {
        ("{wide_bar}", "{wide_bar}")
    };
    if width < COMPACT_BELOW {
        return [
            format!("{{prefix:16!}} [{bar}] {{percent:>3}}% {{activity}}"),
            format!(
                "{{prefix:16!}} [{total_bar}] {{percent:>3}}% {{binary_bytes_per_sec:>12}} {{eta:>4}} {{msg}}"
            ),
            format!("{{prefix:16!}} [{total_bar}] {{percent:>3}}% in {{elapsed}}, {{msg}}"),
        ];
    }
    let progress = "{percent:>3}% {binary_bytes:>10}/{binary_total_bytes:<10}";
    [
        format!("{{prefix:24!}} [{bar}] {progress} {{activity}}"),
        format!(
            "{{prefix:24!}} [{total_bar}] {progress} {{binary_bytes_per_sec}}, ETA {{eta}} {{msg}}"
        ),
        format!(
            "{{prefix:24!}} [{total_bar}] {{percent:>3}}% {{binary_total_bytes}} in {{elapsed}}, {{msg}}"
        ),
    ]
}

fn style(template: &str) -> ProgressStyle {
    // The templates are constants of this file; a mistake in one shows as the default style.
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// The lines of the tasks being run (`kie run`, `kie task wait`): on a terminal one
/// spinner per task in flight with what it is doing, its stage and progress, and the time
/// since it was created; elsewhere a line on stderr per change of stage (none with
/// `--quiet`, which keeps only errors).
#[derive(Clone)]
pub struct TaskLines(Arc<TaskLinesInner>);

struct TaskLinesInner {
    /// `None` when no spinner is drawn.
    multi: Option<MultiProgress>,
    style: ProgressStyle,
    quiet: bool,
    /// A spinner was drawn (the interrupt clear must then wipe the line ^C was echoed on).
    drawn: std::sync::atomic::AtomicBool,
    /// Every spinner, so that a clear can stop their ticking first.
    spinners: Mutex<Vec<ProgressBar>>,
}

impl TaskLines {
    /// Lines on `terminal`.
    pub fn new(terminal: &Terminal, quiet: bool) -> Self {
        let template = if terminal.color {
            "{spinner:.cyan} {prefix:.bold} {wide_msg} {elapsed:>4}"
        } else {
            "{spinner} {prefix} {wide_msg} {elapsed:>4}"
        };
        TaskLines(Arc::new(TaskLinesInner {
            multi: terminal.bars.then(|| terminal.multi.clone()),
            style: ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            quiet,
            drawn: std::sync::atomic::AtomicBool::new(false),
            spinners: Mutex::default(),
        }))
    }

    /// A line for a task known as `label` (the input's name until it has an id); `stages`:
    /// without a spinner, note each change of stage (one task; a batch notes only its
    /// creates).
    pub fn add(&self, label: &str, stages: bool) -> TaskLine {
        let bar = self.0.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new_spinner().with_style(self.0.style.clone()));
            bar.set_prefix(label.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            self.0.drawn.store(true, Ordering::SeqCst);
            let mut spinners = self
                .0
                .spinners
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            spinners.retain(|spinner| !spinner.is_finished());
            spinners.push(bar.clone());
            bar
        });
        TaskLine {
            lines: self.clone(),
            bar,
            label: Arc::new(Mutex::new(label.to_owned())),
            stage: Arc::new(Mutex::new(String::new())),
            stages,
        }
    }

    /// A diagnostic line on stderr, above the spinners (nothing with `--quiet`).
    ///
    /// Printed with the spinners out of the way, not as a line of their drawing: the
    /// drawing pads its last line to the terminal's width and leaves the cursor at its
    /// right edge, so a note drawn last would have what follows it (the shell's prompt)
    /// wrap on as its continuation, joined to it in a selection or on a resize.
    pub fn note(&self, text: &str) {
        if !self.0.quiet {
            self.suspend(|| say!("kie: {text}"));
        }
    }

    /// Runs `print` (results on stdout) with the spinners out of the way.
    pub fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        match &self.0.multi {
            Some(multi) => multi.suspend(print),
            None => print(),
        }
    }

    /// Removes every spinner, and the line a typed ^C was echoed on.
    pub fn clear(&self) {
        if let Some(multi) = &self.0.multi {
            // A tick drawn between the cursor moves below would land a line off.
            for spinner in self
                .0
                .spinners
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
            {
                spinner.disable_steady_tick();
            }
            if self.0.drawn.load(Ordering::SeqCst) {
                let mut stderr = std::io::stderr().lock();
                let _ = stderr.write_all(b" \r\x1b[2K\x1b[1A");
                let _ = stderr.flush();
            }
            let _ = multi.clear();
            // The spinners still tick: nothing more is drawn.
            multi.set_draw_target(ProgressDrawTarget::hidden());
        }
    }
}

/// One task's line of [`TaskLines`].
#[derive(Clone)]
pub struct TaskLine {
    lines: TaskLines,
    bar: Option<ProgressBar>,
    label: Arc<Mutex<String>>,
    /// The last stage reported (a change is noted when no spinner is drawn).
    stage: Arc<Mutex<String>>,
    stages: bool,
}

impl TaskLine {
    /// The task now has an id: said at once (`<label>: created <task>`), and the line is
    /// named by it and its clock starts.
    pub fn created(&self, task: &impl std::fmt::Display) {
        let task = task.to_string();
        let label = std::mem::replace(
            &mut *self.label.lock().unwrap_or_else(PoisonError::into_inner),
            task.clone(),
        );
        self.lines.note(&format!("{label}: created {task}"));
        if let Some(bar) = &self.bar {
            bar.set_prefix(task.to_owned());
            bar.reset_elapsed();
        }
    }

    /// What the line is doing before or after the wait (`uploading cat.png`, `creating`,
    /// `downloading 2 files`).
    pub fn activity(&self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(text.to_owned());
        }
    }

    /// The task's status, as a wait reports it.
    pub fn status(&self, status: &TaskStatus) {
        let (stage, shown) = match status {
            TaskStatus::Running { stage, progress } => (
                stage.clone(),
                match progress {
                    Some(percent) => format!("{stage} {percent}%"),
                    None => stage.clone(),
                },
            ),
            TaskStatus::Unknown(word) => (word.clone(), format!("{word} (undocumented state)")),
            TaskStatus::Succeeded => ("success".to_owned(), "success".to_owned()),
            TaskStatus::Failed { .. } => ("fail".to_owned(), "fail".to_owned()),
            _ => ("?".to_owned(), "?".to_owned()),
        };
        match &self.bar {
            Some(bar) => bar.set_message(shown),
            None if self.stages => {
                let mut last = self.stage.lock().unwrap_or_else(PoisonError::into_inner);
                if *last != stage {
                    let label = self
                        .label
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone();
                    self.lines.note(&format!("{label} {shown}"));
                    *last = stage;
                }
            }
            None => {}
        }
    }

    /// Removes the line.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_parse() {
        for width in [80, 200] {
            for template in templates(true, width)
                .iter()
                .chain(&templates(false, width))
            {
                assert!(ProgressStyle::with_template(template).is_ok(), "{template}");
            }
        }
    }

    #[test]
    fn hidden_bars_have_no_callbacks() {
        let terminal = Terminal {
            bars: false,
            width: 80,
            color: false,
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
        };
        let bars = UploadBars::new(&terminal, &[("a".to_owned(), 1)]);
        assert!(bars.callback(0).is_none());
    }
}
