//! The command line: every command, flag and help text (clap derive).
//!
//! The doc comments here are the help text `kie --help` prints, not Markdown: a URL or a
//! `<placeholder>` in them is meant as it reads.
#![allow(rustdoc::bare_urls, rustdoc::invalid_html_tags)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The `uploadPath` of `kie upload` and `kie upload-url` when `--path` is not given.
pub const DEFAULT_UPLOAD_PATH: &str = "kie-cli";

/// The environment variable `kie webhook` reads the webhook HMAC key from by default.
pub const DEFAULT_WEBHOOK_KEY_ENV: &str = "KIE_WEBHOOK_HMAC_KEY";

/// The text under `kie --help` and `kie upload --help`: where the key comes from and what
/// the exit codes mean (a macro so that `concat!` can use it).
macro_rules! key_and_exit_codes_help {
    () => {
        "The API key is read from KIE_API_KEY, or from the file given with --api-key-file (a\n\
         final line break is ignored); it is never printed. There is no --api-key flag: a key on\n\
         the command line leaks into shell history and `ps`.\n\
         \n\
         Exit codes:\n  \
         0    everything succeeded\n  \
         1    some operations failed (others succeeded, or they failed for different reasons),\n       \
              or a webhook was rejected\n  \
         2    usage: bad arguments, or input the SDK refused before sending anything\n  \
         3    authentication: no API key, a malformed one, or KIE.AI answered 401\n  \
         4    network: no answer from KIE.AI (connect, TLS, timeout, connection lost)\n  \
         5    KIE.AI (or the CDN in front of it) refused or failed the request\n  \
         6    a local file could not be read, or changed size while it was uploaded\n  \
         7    integrity: the stored file is not what was sent (KIE.AI reports another size;\n       \
              with --verify, the file downloaded back differs or could not be downloaded)\n  \
         8    a task failed\n  \
         9    a wait ended before its task did: the task may still finish (kie prints how to resume)\n  \
         10   KIE.AI rejected a task's input (unknown model, missing or invalid field)\n  \
         11   a create got no clear answer: the task may exist and was not created again\n  \
         130  interrupted (Ctrl-C): uploads in flight were aborted; a created task keeps running\n  \
         143  terminated (SIGTERM): as 130"
    };
}

/// `kie`: upload files to KIE.AI, run its models and use its Common API from a shell.
#[derive(Debug, Parser)]
#[command(
    name = "kie",
    version,
    about = "Upload files to KIE.AI, run its models and use its Common API from a shell",
    after_help = concat!(
        "Example:\n  export KIE_API_KEY=...\n  kie upload -r photos/ --path images/batch-1\n\n",
        key_and_exit_codes_help!(),
    )
)]
pub struct Cli {
    /// Settings every command shares.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command shares.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Read the API key from this file (a final line break is ignored) instead of KIE_API_KEY
    #[arg(long, global = true, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,

    /// Upload host [default: https://kieai.redpandaai.co]
    #[arg(long, global = true, value_name = "URL", env = kie_async::ENV_UPLOAD_BASE_URL)]
    pub upload_base_url: Option<String>,

    /// Common API host [default: https://api.kie.ai]
    #[arg(long, global = true, value_name = "URL", env = kie_async::ENV_API_BASE_URL)]
    pub api_base_url: Option<String>,

    /// Print results as JSON, one object per line (NDJSON)
    #[arg(long, global = true)]
    pub json: bool,

    /// No progress bars and no summary (errors are still reported)
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// One line on stderr per attempt, retry decision and outcome (from the SDK's trace;
    /// never the key, a header or a body)
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Attempts per request, the first included [default: the SDK's retry policy, 4]
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: Option<u32>,

    /// Seconds allowed to connect [default: the SDK's, 30]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub connect_timeout: Option<u64>,

    /// Seconds the connection may stall, sending or receiving [default: the SDK's, 60]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub read_timeout: Option<u64>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload files and directories; print name, size and download URL of each
    #[command(after_help = upload_help())]
    Upload(UploadArgs),

    /// Have KIE.AI fetch a public URL and store it
    #[command(after_help = concat!(
        "Example:\n  kie upload-url https://example.com/cat.png --path images/fetched --name cat.png",
    ))]
    UploadUrl(UploadUrlArgs),

    /// Print the account's remaining credits
    #[command(after_help = "Example:\n  kie credits\n  kie credits --json")]
    Credits,

    /// Turn the URL of a file KIE.AI generated into a temporary (20-minute) download link
    #[command(after_help = concat!(
        "Example:\n  kie download-url https://tempfile.aiquickdraw.com/r/1234.png\n\n",
        "Only URLs KIE.AI generated are accepted; others are refused (exit code 5).",
    ))]
    DownloadUrl {
        /// The generated file's URL
        url: String,
    },

    /// Run a generation model: upload local inputs, create the task, wait, download results
    #[command(after_help = run_help())]
    Run(RunArgs),

    /// Look at, wait for or download a task created earlier (`kie run --no-wait`)
    #[command(subcommand)]
    Task(TaskCommand),

    /// Sign or verify webhook callbacks, to test a receiver from the shell
    #[command(subcommand)]
    Webhook(WebhookCommand),

    /// Print a shell completion script
    #[command(after_help = concat!(
        "Example:\n  kie completions bash > ~/.local/share/bash-completion/completions/kie\n",
        "  kie completions zsh > \"${fpath[1]}/_kie\"",
    ))]
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

/// Built at compile time so the default path appears once.
const fn upload_help() -> &'static str {
    concat!(
        "Examples:\n",
        "  kie upload cat.png dog.png --path images/pets\n",
        "  kie upload -r photos/ -j 8 --json > uploads.ndjson\n",
        "  kie upload report.pdf --name q3.pdf --base64\n\n",
        "Each file is stored as <--path>/<its file name>; with a directory, the files in it are\n",
        "uploaded (and with -r those in its subdirectories, each under <--path>/<subdirectory>).\n",
        "Without --path, files go to \"kie-cli\". Uploads run concurrently (-j); a failure does\n",
        "not stop the others, and failures are listed at the end.\n\n",
        key_and_exit_codes_help!(),
    )
}

/// Built at compile time, like [`upload_help`].
const fn run_help() -> &'static str {
    concat!(
        "Examples:\n",
        "  kie run google/nano-banana -i prompt=\"a cat in a hat\"\n",
        "  kie run google/nano-banana-edit -i prompt=\"make it blue\" -f image_urls=cat.png -o out/\n",
        "  kie run bytedance/seedance-2 --input-json input.json --timeout 40m\n",
        "  kie run google/nano-banana --batch prompts.ndjson -j 20 --json > results.ndjson\n",
        "  kie run veo3_fast -i prompt=\"a cat surfing\" -f imageUrls=first.png --1080p\n\n",
        "-i KEY=VALUE sets an input field: VALUE is taken as JSON when it parses as JSON\n",
        "(numbers, true, [\"a\",\"b\"], {\"k\":1}), else as a string; a dotted KEY nests\n",
        "(-i settings.seed=7). -f FIELD=PATH uploads the local file and puts its download URL\n",
        "in FIELD: a list when FIELD ends in `urls` or `[]` (-f image_input[]=a.png) or is\n",
        "given more than once, else a single URL. --input-json starts from a JSON object\n",
        "(-i and -f apply on top).\n\n",
        "The task id is printed as soon as the task exists. Results are saved in -o (default\n",
        "the current directory) under the names in their URLs; an existing file is never\n",
        "overwritten without --force (the result gets a free name: cat-1.png). A create is\n",
        "never sent twice: when its fate is unknown the task may exist, and kie says so\n",
        "(exit 11) instead of creating it again.\n\n",
        "--batch FILE.ndjson runs one task per line (each line an input object; local files\n",
        "under \"@files\": {\"image_urls\": [\"a.png\"]}), at most -j at once, creates paced to\n",
        "the account's 20 per 10 s; a result line per task in completion order, with its line\n",
        "number; a failure does not stop the others.\n\n",
        key_and_exit_codes_help!(),
    )
}

/// `kie run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The model, as its page names it (`google/nano-banana-edit`)
    pub model: String,

    /// An input field, KEY=VALUE (VALUE as JSON when it parses, else a string; dotted KEY
    /// nests); may be repeated
    #[arg(short = 'i', long = "input", value_name = "KEY=VALUE")]
    pub inputs: Vec<String>,

    /// Upload a local file and put its download URL in FIELD (FIELD=PATH); may be repeated
    #[arg(short = 'f', long = "file", value_name = "FIELD=PATH")]
    pub files: Vec<String>,

    /// Start the input from this JSON object (`-` reads stdin)
    #[arg(long, value_name = "FILE", conflicts_with = "batch")]
    pub input_json: Option<PathBuf>,

    /// Run one task per line of this NDJSON file (`-` reads stdin)
    #[arg(long, value_name = "FILE.ndjson")]
    pub batch: Option<PathBuf>,

    /// Tasks in flight at once with --batch (uploading, created, waited for)
    #[arg(short = 'j', long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,

    /// Creates per 10 s with --batch: the account's limit (20 unless KIE.AI raised it)
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub create_limit: u16,

    /// Where results are saved
    #[arg(
        short = 'o',
        long = "output-dir",
        value_name = "DIR",
        default_value = "."
    )]
    pub output_dir: PathBuf,

    /// Overwrite existing files in the output directory
    #[arg(long)]
    pub force: bool,

    /// Print the task id once it exists and exit (no wait, no download); with --batch, the
    /// id of each task as it is created
    #[arg(long)]
    pub no_wait: bool,

    /// Do not download the results; print their URLs
    #[arg(long)]
    pub no_download: bool,

    /// How long to wait for the task (`90s`, `40m`, `2h`, or seconds; `0`: no limit)
    /// [default: the family's: 15m for Market, 30m for Veo]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,

    /// Ask KIE.AI to POST the finished task to this URL
    #[arg(long, value_name = "URL")]
    pub callback_url: Option<String>,

    /// The task family, when the model's name does not tell (`veo3`, `veo3_fast` and
    /// `veo3_lite` are Veo 3.1; any other model is a Market one)
    #[arg(long, value_enum, value_name = "FAMILY")]
    pub family: Option<FamilyArg>,

    /// How often to ask for the task's state [default: the family's: every 2–15 s for
    /// Market, 30 s for Veo]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub poll_every: Option<std::time::Duration>,

    /// With a Veo model: also wait for the 1080p version of each video (about 1–3
    /// minutes after it is done) and save it
    #[arg(long = "1080p")]
    pub veo_1080p: bool,

    /// The uploadPath (folder) input files are stored under
    #[arg(long = "path", value_name = "UPLOAD_PATH", default_value = DEFAULT_UPLOAD_PATH)]
    pub upload_path: String,
}

/// A task family on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FamilyArg {
    /// The Market surface (createTask / recordInfo).
    Market,
    /// Veo 3.1 (veo/generate / veo/record-info).
    Veo,
}

/// `kie task …`.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Print a task's state (and results, once it succeeded)
    #[command(
        after_help = "Example:\n  kie task get market:e989621f54392584b05867f87b160672 --json"
    )]
    Get {
        /// The task, as `kie run` printed it (`market:<id>`; a bare id is a Market task)
        task: String,
    },

    /// Wait for a task to finish; print its result URLs
    #[command(after_help = concat!(
        "Example:\n  kie task wait market:e989621f54392584b05867f87b160672 --timeout 30m\n\n",
        "Exit codes as for `kie run`: 8 failed, 9 still running at the deadline.",
    ))]
    Wait {
        /// The task (`market:<id>`)
        task: String,
        /// How long to wait (`90s`, `40m`, `2h`, or seconds) [default: the family's: 15m
        /// for Market, 30m for Veo]
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        timeout: Option<std::time::Duration>,
        /// How often to ask [default: the family's]
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        poll_every: Option<std::time::Duration>,
    },

    /// Download a task's results (waiting for it first while it runs)
    #[command(
        after_help = "Example:\n  kie task download market:e989621f54392584b05867f87b160672 -o out/"
    )]
    Download {
        /// The task (`market:<id>`)
        task: String,
        /// How long to wait for a task still running [default: the family's]
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        timeout: Option<std::time::Duration>,
        /// How often to ask [default: the family's]
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        poll_every: Option<std::time::Duration>,
        /// Where results are saved
        #[arg(
            short = 'o',
            long = "output-dir",
            value_name = "DIR",
            default_value = "."
        )]
        output_dir: PathBuf,
        /// Overwrite existing files in the output directory
        #[arg(long)]
        force: bool,
        /// With a Veo task: also wait for the 1080p version of each video and save it
        #[arg(long = "1080p")]
        veo_1080p: bool,
    },
}

/// A duration as people type it: `90`, `90s`, `40m`, `2h`, `1h30m`, `500ms`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("{text:?} is not a duration (examples: 90s, 40m, 2h, 1h30m, 500ms)");
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(seconds));
    }
    let mut millis = 0u64;
    let mut rest = text;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let value: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let per_unit = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        millis = value
            .checked_mul(per_unit)
            .and_then(|v| millis.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(std::time::Duration::from_millis(millis))
}

/// `kie upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Local files and directories to upload; `-` alone uploads stdin (needs --name)
    #[arg(required_unless_present = "files_from", value_name = "LOCAL_PATH")]
    pub paths: Vec<PathBuf>,

    /// Also upload the files in subdirectories of the given directories (hidden files and
    /// folders, `.git` among them, are skipped unless --hidden)
    #[arg(short, long)]
    pub recursive: bool,

    /// In directories, also upload hidden files and enter hidden folders (names starting
    /// with `.`, such as `.git`)
    #[arg(long)]
    pub hidden: bool,

    /// In directories, skip files and folders whose name matches GLOB (`*` any run of
    /// characters, `?` one character; a GLOB with `/` matches the path below the directory
    /// given); may be repeated
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Also upload the paths listed in FILE, one per line (`-` reads them from stdin; empty
    /// lines are ignored)
    #[arg(long, value_name = "FILE")]
    pub files_from: Option<PathBuf>,

    /// The uploadPath (folder) to store the files under
    #[arg(long = "path", value_name = "UPLOAD_PATH", default_value = DEFAULT_UPLOAD_PATH)]
    pub upload_path: String,

    /// The stored file name (one file only; default: the local file's name)
    #[arg(long, value_name = "FILE_NAME")]
    pub name: Option<String>,

    /// Send through the base64 endpoint instead of the stream (multipart) one
    #[arg(long)]
    pub base64: bool,

    /// Send through the base64 endpoint as a data URL (data:<mime>;base64,...)
    #[arg(long, conflicts_with = "base64")]
    pub data_url: bool,

    /// The MIME type to declare (default: detected from the content and name)
    #[arg(long, value_name = "TYPE")]
    pub mime: Option<String>,

    /// Uploads in flight at once
    #[arg(short = 'j', long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,

    /// After each upload, download the stored file back (without the API key) and compare its
    /// length and SHA-256 with the local file; a difference fails that upload (exit code 7)
    #[arg(long)]
    pub verify: bool,

    /// Keep the folders of file arguments in the stored path (`a/same.txt` goes to
    /// `<UPLOAD_PATH>/a/same.txt`), so same-named files in different folders do not collide
    #[arg(long)]
    pub keep_dirs: bool,

    /// Print where each file would be stored (and its size), send nothing; no API key needed
    #[arg(long)]
    pub dry_run: bool,

    /// What stdout gets: `table` (name, size, URL), `url` (one URL per line, in argument
    /// order; the default with --quiet), or `json` (one object per line, = --json)
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

/// The format of `kie upload`'s results on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Name, size and URL of each file.
    Table,
    /// One download URL per line.
    Url,
    /// One JSON object per line (NDJSON).
    Json,
}

/// `kie upload-url`.
#[derive(Debug, Args)]
pub struct UploadUrlArgs {
    /// The public http(s) URL KIE.AI should fetch
    pub url: String,

    /// The uploadPath (folder) to store the file under
    #[arg(long = "path", value_name = "UPLOAD_PATH", default_value = DEFAULT_UPLOAD_PATH)]
    pub upload_path: String,

    /// The stored file name (default: the URL's last path segment, or a random one)
    #[arg(long, value_name = "FILE_NAME")]
    pub name: Option<String>,
}

/// `kie webhook …`.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Check a callback's signature: reads a raw HTTP request (headers and body)
    #[command(after_help = concat!(
        "Examples:\n",
        "  export KIE_WEBHOOK_HMAC_KEY=...\n",
        "  kie webhook verify < callback.http\n",
        "  kie webhook verify --key-env MY_KEY --replay-window 0 callback.http\n",
        "  kie webhook verify --timestamp 1700000000 --signature BASE64 --body body.json\n",
        "  kie webhook verify --headers headers.txt --body body.json\n\n",
        "The input is the request as received (request line, headers, blank line, body), or\n",
        "its body with the two header values as flags or in a headers file.\n",
        "Only taskId and the timestamp are signed, not the rest of the body.\n",
        "Exit code 0: verified; 1: rejected; 2: unreadable input or no key.",
    ))]
    Verify(WebhookVerifyArgs),

    /// Receive callbacks on a local port: verify each, print it as one line, answer 200
    #[command(after_help = concat!(
        "Example:\n",
        "  export KIE_WEBHOOK_HMAC_KEY=...\n",
        "  kie webhook listen --port 8787 --json\n",
        "  kie run google/nano-banana -i prompt=cat --callback-url http://HOST:8787/ --no-wait\n\n",
        "Each callback is printed once (task id, state, result URLs, verified or why not);\n",
        "a repeated delivery of the same task and state is answered and not printed again.\n",
        "A callback whose signature fails is answered 401. Without the key variable set,\n",
        "callbacks are printed unverified. Runs until Ctrl-C.",
    ))]
    Listen(WebhookListenArgs),

    /// Print the X-Webhook-Timestamp and X-Webhook-Signature headers of a callback
    #[command(after_help = concat!(
        "Example:\n",
        "  export KIE_WEBHOOK_HMAC_KEY=...\n",
        "  kie webhook sign --task-id task_12345678 --timestamp 1700000000",
    ))]
    Sign(WebhookSignArgs),
}

/// `kie webhook verify`.
#[derive(Debug, Args)]
pub struct WebhookVerifyArgs {
    /// The raw HTTP request; `-` or nothing reads stdin
    #[arg(value_name = "FILE", conflicts_with_all = ["body", "headers", "timestamp", "signature"])]
    pub file: Option<PathBuf>,

    /// The callback's body alone (`-` reads stdin); with --headers, or with --timestamp and
    /// --signature
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,

    /// A file of the callback's headers, one `Name: value` per line (a first request line
    /// is skipped), as saved next to the body
    #[arg(long, value_name = "FILE", requires = "body",
          conflicts_with_all = ["timestamp", "signature"])]
    pub headers: Option<PathBuf>,

    /// The X-Webhook-Timestamp header's value
    #[arg(long, value_name = "VALUE", requires_all = ["signature", "body"])]
    pub timestamp: Option<String>,

    /// The X-Webhook-Signature header's value
    #[arg(long, value_name = "VALUE", requires_all = ["timestamp", "body"])]
    pub signature: Option<String>,

    /// The environment variable holding the webhook HMAC key
    #[arg(long, value_name = "VAR", default_value = DEFAULT_WEBHOOK_KEY_ENV)]
    pub key_env: String,

    /// Seconds the timestamp may be away from now; 0 accepts any timestamp
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub replay_window: u64,
}

/// `kie webhook listen`.
#[derive(Debug, Args)]
pub struct WebhookListenArgs {
    /// The port to listen on (0 picks a free one, printed at start)
    #[arg(long, value_name = "PORT")]
    pub port: u16,

    /// The address to listen on
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,

    /// The environment variable holding the webhook HMAC key
    #[arg(long, value_name = "VAR", default_value = DEFAULT_WEBHOOK_KEY_ENV)]
    pub key_env: String,

    /// Seconds the timestamp may be away from now; 0 accepts any timestamp
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub replay_window: u64,
}

/// `kie webhook sign`.
#[derive(Debug, Args)]
pub struct WebhookSignArgs {
    /// The task id to sign
    #[arg(long, value_name = "ID")]
    pub task_id: String,

    /// The Unix time in seconds to sign [default: now]
    #[arg(long, value_name = "T")]
    pub timestamp: Option<u64>,

    /// The environment variable holding the webhook HMAC key
    #[arg(long, value_name = "VAR", default_value = DEFAULT_WEBHOOK_KEY_ENV)]
    pub key_env: String,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_an_example_in_its_help() {
        fn check(command: &clap::Command, path: &str) {
            let path = format!("{path} {}", command.get_name());
            if command.get_subcommands().next().is_none() && command.get_name() != "help" {
                let help = command.get_after_help().map(|h| h.to_string());
                assert!(
                    help.is_some_and(|h| h.contains("Example")),
                    "{path} has no example in its help"
                );
            }
            for sub in command.get_subcommands() {
                check(sub, &path);
            }
        }
        check(&Cli::command(), "");
    }

    #[test]
    fn the_defaults_in_the_help_are_the_sdks() {
        let help = Cli::command().render_long_help().to_string();
        let policy = kie_async::RetryPolicy::default();
        for default in [
            format!(
                "[default: {}]",
                kie_async::kie_proto::DEFAULT_UPLOAD_BASE_URL
            ),
            format!("[default: {}]", kie_async::kie_proto::DEFAULT_API_BASE_URL),
            format!("retry policy, {}]", policy.max_attempts()),
            format!(
                "the SDK's, {}]",
                kie_async::DEFAULT_CONNECT_TIMEOUT.as_secs()
            ),
            format!("the SDK's, {}]", kie_async::DEFAULT_READ_TIMEOUT.as_secs()),
        ] {
            assert!(help.contains(&default), "{default} not in:\n{help}");
        }
    }

    #[test]
    fn durations_read_as_people_type_them() {
        let millis = std::time::Duration::from_millis;
        assert_eq!(parse_duration("500ms"), Ok(millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(millis(90_000)));
        assert_eq!(parse_duration("1s200ms"), Ok(millis(1200)));
        for (text, seconds) in [
            ("90", 90),
            ("90s", 90),
            ("40m", 2400),
            ("2h", 7200),
            ("1h30m", 5400),
            ("0", 0),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(std::time::Duration::from_secs(seconds)),
                "{text}"
            );
        }
        for text in [
            "",
            "m",
            "5x",
            "1.5h",
            "10m5",
            "-3s",
            "99999999999999999999h",
        ] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
    }

    #[test]
    fn the_default_upload_path_is_the_documented_one() {
        assert!(upload_help().contains(&format!("\"{DEFAULT_UPLOAD_PATH}\"")));
    }
}
