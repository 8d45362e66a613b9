//! `kie`: upload files to KIE.AI, run its models and use its Common API from a shell.
//!
//! A thin shell over `kie-async`, as the drivers are over `kie-proto`: this crate parses
//! arguments, prints results (a table, or NDJSON with `--json`), draws progress bars and
//! picks the exit code. Every upload rule, retry and error text comes from the SDK.
//!
//! ```text
//! kie upload -r photos/ --path images/batch-1 -j 8
//! kie upload report.pdf --name q3.pdf --json
//! kie run google/nano-banana-edit -i prompt="make it blue" -f image_urls=cat.png -o out/
//! kie task wait market:e989621f54392584b05867f87b160672
//! kie credits
//! kie webhook verify < callback.http
//! ```
//!
//! Results go to stdout, progress and diagnostics to stderr. `kie --help` lists the exit
//! codes; [`exit::classify`] is the one mapping from an SDK error to a kind and a code.
#![forbid(unsafe_code)]

/// `eprintln!` that never panics: when stderr is a closed pipe (`kie … 2>&1 | head -1`) the
/// line is dropped, and kie goes on to its real exit code.
macro_rules! say {
    () => {
        $crate::output::stderr_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::stderr_line(format_args!($($arg)*))
    };
}

mod batch;
mod cli;
mod client;
mod exit;
mod inputs;
mod output;
mod progress;
mod signals;
mod task;
mod upload;
mod verbose;
mod webhook;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};

use crate::cli::{Cli, Command, WebhookCommand};
use crate::exit::{Exit, classify};
use crate::output::{ErrorObject, FailedLine};
use crate::progress::Terminal;

fn main() -> ExitCode {
    // clap exits with 2 on a usage error and 0 for --help / --version.
    let cli = Cli::parse();
    let terminal = Terminal::detect(cli.global.quiet);
    if cli.global.verbose {
        verbose::install(&terminal.multi);
    }
    match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "kie", &mut std::io::stdout());
            return Exit::Success.into();
        }
        Command::Webhook(WebhookCommand::Verify(args)) => {
            return webhook::verify(&args, cli.global.json).into();
        }
        Command::Webhook(WebhookCommand::Sign(args)) => {
            return webhook::sign_headers(&args, cli.global.json).into();
        }
        _ => {}
    }

    // One thread drives every connection, as curl's one loop does: kie waits on the network
    // and the disk (files are read and written on blocking threads), and a second worker
    // only added wake-ups between threads: 20,000 small uploads at -j 32 took 1.5 s of CPU
    // on the multi-threaded runtime, 0.95 s on this one (curl: 1.05 s; BENCHMARKS.md).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            say!("kie: cannot start the async runtime: {error}");
            return Exit::Failed.into();
        }
    };
    // `kie upload` handles Ctrl-C itself, to print what finished before it exits 130;
    // `kie run` and `kie task`, to say what became of the task; `kie webhook listen`, to
    // say what it received.
    let handles_interrupt = matches!(
        cli.command,
        Command::Upload(_)
            | Command::Run(_)
            | Command::Task(_)
            | Command::Webhook(WebhookCommand::Listen(_))
    );
    let exit = runtime.block_on(async {
        tokio::select! {
            // The signal handler is installed (at its first poll) before `run` sends anything.
            biased;
            // Dropping `run` ends the request in flight.
            stop = signals::stop_requested(), if !handles_interrupt => {
                let _ = terminal.multi.clear();
                say!("kie: interrupted");
                stop
            }
            exit = run(cli, &terminal) => exit,
        }
    });
    // Aborted uploads may still be closing their files on the blocking pool.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    exit.into()
}

/// The commands that talk to KIE.AI.
async fn run(cli: Cli, terminal: &Terminal) -> Exit {
    let json = cli.global.json;
    if let Command::Upload(args) = &cli.command
        && args.dry_run
    {
        return upload::dry_run(args, cli.global.quiet).await;
    }
    // A local receiver: no key needed.
    if let Command::Webhook(WebhookCommand::Listen(args)) = &cli.command {
        return webhook::listen(args, json).await;
    }
    let key = match client::api_key(&cli.global) {
        Ok(key) => key,
        // Without a key nothing can be done: exit 3 whatever kept the key from being read
        // (an unset variable or a missing --api-key-file alike), never a local-file error.
        Err(error) => {
            fail(None, &error, json, client::hint(&error));
            return Exit::Auth;
        }
    };
    let client = match client::build(&cli.global, &key) {
        Ok(client) => client,
        Err(error) => return fail(None, &error, json, client::hint(&error)),
    };
    match cli.command {
        Command::Upload(args) => {
            upload::upload(&client, args, json, cli.global.quiet, terminal).await
        }
        Command::Run(args) if args.batch.is_some() => {
            batch::run(&client, &args, json, cli.global.quiet, terminal).await
        }
        Command::Run(args) => task::run(&client, &args, json, cli.global.quiet, terminal).await,
        Command::Task(command) => {
            task::task(&client, command, json, cli.global.quiet, terminal).await
        }
        Command::UploadUrl(args) => upload::upload_url(&client, args, json).await,
        Command::Credits => match client.credits().await {
            Ok(credits) => {
                if json {
                    output::print_json(&serde_json::json!({ "credits": credits }));
                } else {
                    output::print_text(&format!("{credits}\n"));
                }
                Exit::Success
            }
            Err(error) => fail(None, &error, json, None),
        },
        Command::DownloadUrl { url } => match client.download_url(&url).await {
            Ok(link) => {
                if json {
                    output::print_json(&serde_json::json!({ "url": url, "downloadUrl": link }));
                } else {
                    output::print_text(&format!("{link}\n"));
                }
                Exit::Success
            }
            Err(error) => fail(Some(&url), &error, json, None),
        },
        // Handled before the runtime starts.
        Command::Completions { .. } | Command::Webhook(_) => Exit::Success,
    }
}

/// Reports a failed single operation (NDJSON line too with `--json`) and returns its exit.
fn fail(path: Option<&str>, error: &kie_async::Error, json: bool, hint: Option<&str>) -> Exit {
    if json {
        output::print_json(&FailedLine {
            path,
            error: ErrorObject::new(error),
        });
    }
    output::report_error(path, error, hint);
    classify(error).exit
}
