//! The progress bars of `kie upload` on a pseudo-terminal: a total that reaches 100 %,
//! colour only without `NO_COLOR`, and no bars on `TERM=dumb`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use kie_emulator::{Emulator, Fault, JobSettings, Route};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

mod common;

/// `kie upload --path pty <args>` running on a pseudo-terminal (stdout and stderr both on
/// it), with the extra environment `env`.
struct OnTerminal {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    master: Box<dyn portable_pty::MasterPty + Send>,
    collector: std::thread::JoinHandle<Vec<u8>>,
}

impl OnTerminal {
    fn upload(emu: &Emulator, args: &[PathBuf], env: &[(&str, &str)]) -> Self {
        Self::upload_on(140, emu, args, env)
    }

    /// The same on a terminal `cols` columns wide.
    fn upload_on(cols: u16, emu: &Emulator, args: &[PathBuf], env: &[(&str, &str)]) -> Self {
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_kie"));
        environment(&mut command, emu);
        for (name, value) in env {
            command.env(name, value);
        }
        command.args(["upload", "--path", "pty"]);
        command.args(args);
        Self::spawn(command, cols)
    }

    /// `kie <args>` on a terminal 140 columns wide.
    fn kie(emu: &Emulator, args: &[&str]) -> Self {
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_kie"));
        environment(&mut command, emu);
        command.args(args);
        Self::spawn(command, 140)
    }

    /// `kie upload --path pty <args> | cat` on a pseudo-terminal: stdout into a pipe whose
    /// reader prints on the same screen (as `| jq` does), stderr on the terminal.
    fn upload_piped(emu: &Emulator, args: &[PathBuf]) -> Self {
        let mut command = CommandBuilder::new("sh");
        environment(&mut command, emu);
        command.env("PATH", std::env::var_os("PATH").unwrap_or_default());
        command.args(["-c", "\"$0\" upload --path pty \"$@\" | cat"]);
        command.arg(env!("CARGO_BIN_EXE_kie"));
        command.args(args);
        Self::spawn(command, 140)
    }

    /// Runs `command` on a new 30-row pseudo-terminal `cols` wide, collecting what it shows.
    fn spawn(command: CommandBuilder, cols: u16) -> Self {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 30,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let child = pair.slave.spawn_command(command).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let collector = std::thread::spawn(move || {
            let mut output = Vec::new();
            let mut buf = [0u8; 4096];
            // On Linux the master reads EIO once the child side is closed: that is the end.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                output.extend_from_slice(&buf[..n]);
            }
            output
        });
        Self {
            child,
            master: pair.master,
            collector,
        }
    }

    /// Waits for the exit; everything the terminal received, and the exit code.
    fn finish(mut self) -> (String, u32) {
        let status = self.child.wait().unwrap();
        drop(self.master);
        let output = self.collector.join().unwrap();
        (
            String::from_utf8_lossy(&output).into_owned(),
            status.exit_code(),
        )
    }
}

/// A clean environment on a colour terminal, pointed at `emu`.
fn environment(command: &mut CommandBuilder, emu: &Emulator) {
    command.env_clear();
    command.env("TERM", "xterm-256color");
    for (name, value) in common::emulator_env(emu) {
        command.env(name, value);
    }
}

fn upload_on_a_terminal(emu: &Emulator, args: &[PathBuf], env: &[(&str, &str)]) -> (String, u32) {
    OnTerminal::upload(emu, args, env).finish()
}

fn three_files(name: &str) -> Vec<PathBuf> {
    let dir = common::scratch(&format!("pty-{name}"));
    [
        ("cat.png", 3 << 20),
        ("notes.txt", 40_000),
        ("clip.mp4", 6 << 20),
    ]
    .iter()
    .map(|(file, len)| {
        let path = dir.join(file);
        std::fs::write(&path, vec![b'k'; *len]).unwrap();
        path
    })
    .collect()
}

#[test]
fn the_total_bar_is_drawn_in_colour_and_reaches_100_percent() {
    let emu = Emulator::start();
    // Slow the first request down so the bars are drawn while uploads are in flight.
    emu.faults().push(
        Route::StreamUpload,
        Fault::Delay(Duration::from_millis(300)),
    );
    let files = three_files("colour");
    let (screen, code) = upload_on_a_terminal(&emu, &files, &[]);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("total (3 files)"), "{screen}");
    assert!(screen.contains("100%"), "{screen}");
    assert!(screen.contains("3/3 files"), "{screen}");
    // While running: bytes of the total; at the end: the total and the average rate.
    assert!(screen.contains("/9.04 MiB"), "{screen}");
    assert!(screen.contains("100% 9.04 MiB in "), "{screen}");
    // The bar colours (green total), and the table after the bars, on a line of its own:
    // the finished bar fills its line, and text that wrapped onto the next one would be
    // joined to it by the terminal (in a selection, on a resize).
    assert!(screen.contains("\u{1b}[32m"), "{screen:?}");
    assert!(screen.contains("NAME "), "{screen}");
    assert_eq!(
        wrapped_rows(140, &screen),
        Vec::<String>::new(),
        "{screen:?}"
    );
    assert_eq!(emu.stored_files().len(), 3);
}

#[test]
fn no_color_keeps_the_bars_and_drops_the_colours() {
    let emu = Emulator::start();
    let files = three_files("nocolor");
    let (screen, code) = upload_on_a_terminal(&emu, &files, &[("NO_COLOR", "1")]);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("total (3 files)"), "{screen}");
    assert!(screen.contains("100%"), "{screen}");
    for colour in ["\u{1b}[32m", "\u{1b}[34m", "\u{1b}[36m"] {
        assert!(!screen.contains(colour), "{screen:?}");
    }
}

#[test]
fn quiet_and_dumb_terminals_get_no_bars() {
    let emu = Emulator::start();
    let files = three_files("dumb");
    for env in [[("TERM", "dumb")], [("KIE_UNUSED", "")]] {
        let mut files = files.clone();
        let quiet = env[0].0 != "TERM";
        if quiet {
            files.insert(0, "--quiet".into());
        }
        let (screen, code) = upload_on_a_terminal(&emu, &files, &env);
        assert_eq!(code, 0, "{screen}");
        assert!(!screen.contains("total ("), "{screen}");
        if quiet {
            // `--quiet` prints exactly the download URLs, one per line.
            let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(lines.len(), 3, "{screen}");
            assert!(
                lines.iter().all(|l| l.trim().starts_with("http://")),
                "{screen}"
            );
        } else {
            assert!(screen.contains("NAME"), "{screen}");
            assert!(screen.contains("3 uploaded"), "{screen}");
        }
    }
}

#[test]
fn ctrl_c_clears_the_bars_and_exits_130() {
    let emu = Emulator::start();
    emu.faults()
        .push(Route::StreamUpload, Fault::Delay(Duration::from_secs(3)));
    let files = three_files("interrupt");
    let running = OnTerminal::upload(&emu, &files[..1], &[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while emu.in_flight_uploads() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Time for the bars to be drawn (the first report comes as the body starts).
    std::thread::sleep(Duration::from_millis(300));
    common::send_signal(running.child.process_id().unwrap(), "INT");
    let (screen, code) = running.finish();
    assert_eq!(code, 130, "{screen}");
    let drawn = screen
        .rfind("total (1 file)")
        .expect("the total bar was drawn");
    let interrupted = screen
        .rfind("kie: interrupted")
        .expect("says it was interrupted");
    // Between the last drawing and the message, the bar lines are erased.
    assert!(
        screen[drawn..interrupted].contains("\u{1b}[2K"),
        "{screen:?}"
    );
    assert!(!screen.contains("NAME"), "{screen}");
}

/// What a 140-column terminal shows at the end, scrolled-off lines included: the bytes
/// replayed through a terminal emulator, so a line the bars drew over is gone, as it would
/// be for the person at the keyboard. (A screen this tall never scrolls, so the bars'
/// cursor moves reach exactly the lines they would on the real 30-row terminal.)
fn what_the_screen_shows(bytes: &str) -> String {
    replay(140, bytes).screen().contents()
}

/// The rows of the final screen that wrap on into the next one (none should: every line
/// `kie` leaves ends with a line feed), with their text.
fn wrapped_rows(cols: u16, bytes: &str) -> Vec<String> {
    let terminal = replay(cols, bytes);
    let screen = terminal.screen();
    (0..screen.size().0.get())
        .filter(|&row| screen.row_wrapped(row))
        .map(|row| screen.contents_between(row, 0, row, cols))
        .collect()
}

fn replay(cols: u16, bytes: &str) -> vt100::Parser {
    let rows = std::num::NonZeroU16::new(2000).unwrap();
    let cols = std::num::NonZeroU16::new(cols).unwrap();
    let mut terminal = vt100::Parser::new(rows, cols, 0);
    terminal.process(bytes.as_bytes());
    terminal
}

#[test]
fn bars_fit_an_80_column_terminal() {
    let emu = Emulator::start();
    emu.faults().push(
        Route::StreamUpload,
        Fault::Delay(Duration::from_millis(300)),
    );
    let files = three_files("narrow");
    let (bytes, code) = OnTerminal::upload_on(80, &emu, &files, &[]).finish();
    assert_eq!(code, 0, "{bytes}");
    assert!(bytes.contains("total (3 files)"), "{bytes}");
    // At every moment (after each drawing step), every row starts as a bar, the table or
    // the summary does: a line too long for 80 columns would spill its end onto a row of
    // its own.
    let starts = [
        "cat.png",
        "notes.txt",
        "clip.mp4",
        "total (3 files)",
        "NAME",
        "kie: ",
    ];
    let mut terminal = vt100::Parser::new(
        std::num::NonZeroU16::new(30).unwrap(),
        std::num::NonZeroU16::new(80).unwrap(),
        0,
    );
    for step in bytes.split_inclusive('\u{1b}') {
        terminal.process(step.as_bytes());
        for row in terminal.screen().contents().lines() {
            let row = row.trim_start_matches("^C");
            assert!(
                row.trim().is_empty() || starts.iter().any(|start| row.starts_with(start)),
                "{row:?} in\n{}",
                terminal.screen().contents()
            );
        }
    }
    let narrow = replay(80, &bytes);
    assert!(narrow.screen().contents().contains("3/3 files"));
}

#[test]
fn json_lines_survive_the_bars_on_the_same_terminal() {
    let emu = Emulator::start();
    let dir = std::env::temp_dir().join(format!("kie-cli-pty-json-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut args: Vec<PathBuf> = vec!["--json".into(), "-j".into(), "8".into()];
    for i in 0..50 {
        let path = dir.join(format!("f{i:02}.bin"));
        std::fs::write(&path, vec![b'j'; 200_000 + i * 1000]).unwrap();
        args.push(path);
    }
    // Slow uploads keep the bars on screen while the lines are printed.
    emu.faults().push_n(
        Route::StreamUpload,
        Fault::Delay(Duration::from_millis(40)),
        50,
    );
    let (bytes, code) = upload_on_a_terminal(&emu, &args, &[]);
    assert_eq!(code, 0, "{bytes}");
    assert!(
        bytes.contains("total (50 files)"),
        "the bars were drawn: {bytes}"
    );
    let screen = what_the_screen_shows(&bytes);
    let mut paths: Vec<String> = screen
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line.trim_end())
                .unwrap_or_else(|e| panic!("{e}: {line:?}\n{screen}"));
            value["path"].as_str().unwrap().to_owned()
        })
        .collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 50, "{screen}");
}

#[test]
fn the_interrupt_key_prints_what_finished_and_leaves_no_bar() {
    let emu = Emulator::start();
    let files = three_files("interrupt-key");
    // One at a time: the first finishes, the second hangs until the interrupt.
    emu.faults()
        .push(Route::StreamUpload, Fault::Delay(Duration::from_millis(1)));
    emu.faults()
        .push(Route::StreamUpload, Fault::Delay(Duration::from_secs(30)));
    let mut args: Vec<PathBuf> = vec!["-j".into(), "1".into()];
    args.extend(files.iter().cloned());
    let running = OnTerminal::upload(&emu, &args, &[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while emu.stored_files().is_empty() || emu.in_flight_uploads() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the second upload never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    // The terminal's interrupt character, as a person types it.
    let mut keyboard = running.master.take_writer().unwrap();
    keyboard.write_all(b"\x03").unwrap();
    keyboard.flush().unwrap();
    let started = std::time::Instant::now();
    let (bytes, code) = running.finish();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(code, 130, "{bytes}");
    let screen = what_the_screen_shows(&bytes);
    let stored = emu.stored_files();
    assert_eq!(stored.len(), 1, "{screen}");
    assert!(screen.contains(&stored[0].download_url), "{screen}");
    assert!(
        screen.contains("1 of 3 uploads finished, 2 not"),
        "{screen}"
    );
    // No bar is left on the screen.
    assert!(!screen.contains("total (3 files)"), "{screen}");
    assert!(!screen.contains("MiB/"), "{screen}");
}

#[test]
fn a_stalled_or_retried_upload_says_so_instead_of_its_last_rate() {
    let emu = Emulator::start();
    let dir = std::env::temp_dir().join(format!("kie-cli-pty-stall-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big.bin");
    std::fs::write(&big, vec![b's'; 64 << 20]).unwrap();
    // First attempt: refused with a 503 after the body; second: the service reads nothing
    // for 5 s, so the sender stalls once the socket buffers are full.
    emu.faults().push(Route::StreamUpload, Fault::html(503));
    emu.faults()
        .push(Route::StreamUpload, Fault::Delay(Duration::from_secs(5)));
    let (bytes, code) = upload_on_a_terminal(&emu, &[big], &[]);
    assert_eq!(code, 0, "{bytes}");
    assert!(bytes.contains("retry 2 after HTTP 503: "), "{bytes}");
    // 64 MiB is far more than loopback socket buffers hold: the sender stalls mid-body.
    assert!(
        bytes.contains("retry 2 after HTTP 503: stalled 3s"),
        "{bytes}"
    );
}

#[test]
fn json_into_a_pipe_on_the_same_screen_gets_no_bars_to_wipe_it() {
    let emu = Emulator::start();
    emu.faults().push(
        Route::StreamUpload,
        Fault::Delay(Duration::from_millis(300)),
    );
    let mut args: Vec<PathBuf> = vec!["--json".into()];
    args.extend(three_files("piped"));
    let (bytes, code) = OnTerminal::upload_piped(&emu, &args).finish();
    assert_eq!(code, 0, "{bytes}");
    assert!(!bytes.contains("total ("), "{bytes}");
    let screen = what_the_screen_shows(&bytes);
    // `cat` and kie's closing line on stderr write to the same terminal at their own pace,
    // so the summary may land in the middle of `cat`'s last line: each JSON object must be
    // whole wherever it starts.
    let objects: Vec<&str> = screen
        .lines()
        .filter_map(|line| line.find("{\"path\":").map(|start| &line[start..]))
        .collect();
    assert_eq!(objects.len(), 3, "{screen}");
    for object in objects {
        assert!(
            serde_json::from_str::<serde_json::Value>(object).is_ok(),
            "{object}\n{screen}"
        );
    }
    assert!(screen.contains("3 uploaded ("), "{screen}");
}

#[test]
fn the_interrupt_key_while_a_task_runs_says_how_to_resume_and_leaves_no_line() {
    let emu = Emulator::start();
    let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_kie"));
    environment(&mut command, &emu);
    command.args(["run", "google/nano-banana", "-i", "prompt=a cat #stuck"]);
    let running = OnTerminal::spawn(command, 110);
    // Created, then polled (2 s after the create: the task is generating by then).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let polls = || {
        emu.requests()
            .iter()
            .filter(|r| r.path == "/api/v1/jobs/recordInfo")
            .count()
    };
    while polls() < 1 {
        assert!(std::time::Instant::now() < deadline, "never polled");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(400));
    let mut keyboard = running.master.take_writer().unwrap();
    keyboard.write_all(b"\x03").unwrap();
    keyboard.flush().unwrap();
    let started = std::time::Instant::now();
    let (bytes, code) = running.finish();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(code, 130, "{bytes}");
    let screen = replay(110, &bytes).screen().contents();
    let task = screen
        .split_whitespace()
        .find(|word| word.starts_with("market:"))
        .unwrap_or_else(|| panic!("{screen}"))
        .to_owned();
    assert!(
        screen.contains(&format!("interrupted: task {task} keeps running on KIE.AI")),
        "{screen}"
    );
    assert!(
        screen
            .lines()
            .any(|line| line == format!("kie: resume with: kie task download {task}")),
        "{screen}"
    );
    // The spinner line is gone: no spinner and no stage is left on the screen.
    assert!(!screen.contains("generating"), "{screen}");
    assert!(
        !screen
            .chars()
            .any(|c| ('\u{2800}'..='\u{28ff}').contains(&c)),
        "{screen}"
    );
    // Polling stopped, and the task was created once.
    let after = polls();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(polls(), after, "polling went on after the interrupt");
    let creates = emu
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v1/jobs/createTask")
        .count();
    assert_eq!(creates, 1);
}

#[test]
fn a_run_leaves_its_notes_and_results_on_lines_of_their_own() {
    let emu = Emulator::builder().jobs(JobSettings::quick()).start();
    let dir = common::scratch("pty-run");
    let input = dir.join("cat.png");
    std::fs::write(&input, vec![b'r'; 300_000]).unwrap();
    let field = format!("image_urls={}", input.display());
    let output = dir.join("out");
    let args = ["run", "emulator/echo", "-i", "prompt=x", "-f", &field, "-o"];
    let mut args = args.to_vec();
    args.push(output.to_str().unwrap());
    let (bytes, code) = OnTerminal::kie(&emu, &args).finish();
    assert_eq!(code, 0, "{bytes}");
    // The spinner was drawn (it pads its line to the width), then the notes and the saved
    // result stay, each on its own line.
    assert!(
        bytes.contains("waiting") || bytes.contains("generating"),
        "{bytes:?}"
    );
    let screen = what_the_screen_shows(&bytes);
    assert!(screen.contains("succeeded in"), "{screen}");
    assert!(screen.contains("cat.png"), "{screen}");
    assert_eq!(wrapped_rows(140, &bytes), Vec::<String>::new(), "{bytes:?}");
}

#[test]
fn nothing_sent_draws_no_bar() {
    let emu = Emulator::start();
    let missing = common::scratch("pty-missing").join("missing.bin");
    let (bytes, code) = upload_on_a_terminal(&emu, &[missing], &[]);
    assert_eq!(code, 6, "{bytes}");
    assert!(!bytes.contains("total ("), "{bytes:?}");
    let screen = what_the_screen_shows(&bytes);
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 2, "{screen}");
    assert!(lines[0].starts_with("kie: cannot read "), "{screen}");
    assert!(
        lines[1].starts_with("kie: 1 of 1 uploads failed"),
        "{screen}"
    );
}

#[test]
fn the_interrupt_key_while_inputs_upload_says_no_task_was_created() {
    let emu = Emulator::builder().jobs(JobSettings::quick()).start();
    emu.faults()
        .push(Route::StreamUpload, Fault::Delay(Duration::from_secs(30)));
    let dir = common::scratch("pty-run-interrupted");
    let input = dir.join("cat.png");
    std::fs::write(&input, vec![b'r'; 300_000]).unwrap();
    let field = format!("image_urls={}", input.display());
    let args = ["run", "emulator/echo", "-i", "prompt=x", "-f", &field];
    let running = OnTerminal::kie(&emu, &args);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while emu.in_flight_uploads() == 0 {
        assert!(std::time::Instant::now() < deadline, "never uploaded");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut keyboard = running.master.take_writer().unwrap();
    keyboard.write_all(b"\x03").unwrap();
    keyboard.flush().unwrap();
    let (bytes, code) = running.finish();
    assert_eq!(code, 130, "{bytes}");
    let screen = what_the_screen_shows(&bytes);
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines,
        ["kie: interrupted before the create: no task was created"],
        "{screen}"
    );
    assert!(
        emu.requests()
            .iter()
            .all(|r| r.path != "/api/v1/jobs/createTask")
    );
}
