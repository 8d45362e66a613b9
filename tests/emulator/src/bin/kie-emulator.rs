//! `kie-emulator`: runs the KIE.AI emulator as a standalone server until Ctrl-C.
//!
//! ```text
//! kie-emulator --port 8080 --key my-test-key --ttl-hours 24 --storage memory
//! kie-emulator --storage discard --json-body-limit 2000000000   # 1 GiB base64 uploads
//! kie-emulator --generated-file result.png                      # a file download-url accepts
//! ```

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use kie_emulator::{Emulator, ErrorStyle, Host, StorageMode};

/// Runs a local emulator of the KIE.AI File Upload API, Common API and Market task API
/// until Ctrl-C.
///
/// Three loopback HTTP listeners play the service's three hosts: upload (the upload
/// routes), api (credits, download-url, jobs/createTask, jobs/recordInfo) and files (serves
/// uploads, generated files and task results).
/// On start it prints KIE_UPLOAD_BASE_URL=, KIE_API_BASE_URL=, KIE_FILES_BASE_URL= and
/// KIE_API_KEY= lines (and a KIE_GENERATED_URL= line per --generated-file) for clients to
/// read.
#[derive(Debug, Parser)]
#[command(name = "kie-emulator", version)]
struct Args {
    /// Port of the upload host; the api host uses PORT+1 and the files host PORT+2.
    /// 0 picks free ports.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The accepted API key (`Authorization: Bearer <KEY>`): visible ASCII, no spaces.
    #[arg(long, default_value = kie_emulator::DEFAULT_API_KEY, value_parser = api_key)]
    key: String,
    /// How long uploads are served, in hours (1 to 876000, i.e. up to 100 years).
    #[arg(long, default_value_t = 72, value_parser = clap::value_parser!(u64).range(1..=876_000))]
    ttl_hours: u64,
    /// Error style of both hosts; default: upload host status=code, api host 200+code.
    #[arg(long, value_enum)]
    error_style: Option<Style>,
    /// Error style of the upload host only (overrides --error-style).
    #[arg(long, value_enum)]
    upload_error_style: Option<Style>,
    /// Error style of the api host only (overrides --error-style).
    #[arg(long, value_enum)]
    api_error_style: Option<Style>,
    /// Keep uploads in memory, or keep only size and SHA-256.
    #[arg(long, value_enum, default_value_t = Storage::Memory)]
    storage: Storage,
    /// Answer 403 `error code: 1010` to requests without a User-Agent.
    #[arg(long)]
    require_user_agent: bool,
    /// Answer 403 `error code: 1010` to requests without a User-Agent or with an HTTP
    /// library's default one (python-urllib/, curl/, Go-http-client/, ...), as the real
    /// CDN does.
    #[arg(long)]
    refuse_bot_user_agents: bool,
    /// Serve the file at PATH as a file "generated" by the service (served for 14 days;
    /// download-url accepts its URL, printed as KIE_GENERATED_URL=...). Repeatable.
    #[arg(long, value_name = "PATH")]
    generated_file: Vec<PathBuf>,
    /// Add the quickstart extras (fileId, originalName, ...) to upload responses.
    #[arg(long)]
    quickstart_fields: bool,
    /// The credit balance reported by /api/v1/chat/credit.
    #[arg(long, default_value_t = 100.0)]
    credits: f64,
    /// The account id in stored paths (`kieai/<account id>/...`).
    #[arg(long, default_value = kie_emulator::DEFAULT_ACCOUNT_ID)]
    account_id: String,
    /// Largest JSON request body in bytes (base64 and URL uploads, download-url); larger
    /// bodies are refused. Default 256 MiB; a 1 GiB file is ~1.43 GB of base64 JSON.
    #[arg(long, value_name = "BYTES", default_value_t = 256 * 1024 * 1024)]
    json_body_limit: u64,
    /// Generation tasks: seconds a task generates (it also waits 0.2 s and queues 0.3 s;
    /// a prompt with `#slow` takes ten times longer).
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    task_seconds: f64,
    /// Sign task callbacks with this webhook HMAC key (X-Webhook-Timestamp and
    /// X-Webhook-Signature).
    #[arg(long, value_name = "KEY")]
    webhook_key: Option<String>,
    /// Refuse models outside the emulated registry (by default any well-formed slug is
    /// accepted).
    #[arg(long)]
    strict_models: bool,
    /// How many polls of each task answer 422 "recordInfo is null" first.
    #[arg(long, value_name = "N", default_value_t = 0)]
    not_visible_polls: u32,
    /// Creates allowed per 10 s (more are refused with 429).
    #[arg(long, value_name = "N", default_value_t = 20)]
    create_limit: usize,
    /// Deliver every task callback twice.
    #[arg(long)]
    duplicate_callbacks: bool,
    /// Task records with `resultJson` as an object, `failCode` as a number and `message`
    /// instead of `msg`; Veo records with `resultUrls` as a JSON string and times as text,
    /// Veo callbacks with `resultUrls` as a string (the variants other pages document).
    #[arg(long)]
    record_variants: bool,
    /// Seconds after a Veo video succeeds until its 1080p version is ready.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    veo_upgrade_seconds: f64,
    /// On Ctrl-C, print how many requests each route received (to stderr), e.g. to count
    /// a client's polls in a benchmark.
    #[arg(long)]
    stats: bool,
}

/// An error style on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Style {
    /// HTTP status equals the body code.
    Status,
    /// HTTP 200 with the error in the body code.
    Http200,
}

/// A storage mode on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Storage {
    /// Keep uploads in memory and serve them.
    Memory,
    /// Keep only size and SHA-256 of uploads.
    Discard,
}

/// Checks `--key`: it goes into an `Authorization` header, so it must be visible ASCII.
fn api_key(key: &str) -> Result<String, String> {
    if key.is_empty() {
        return Err("the key is empty; clients could never authenticate".to_owned());
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the key must be visible ASCII without spaces".to_owned());
    }
    Ok(key.to_owned())
}

/// A file to serve as generated: its bytes and a MIME type from its extension.
fn generated_file(path: &PathBuf) -> Result<(Vec<u8>, String), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    Ok((bytes, mime.essence_str().to_owned()))
}

/// Prints `error` and its causes on one line, `: `-separated.
fn report(context: &str, error: &dyn std::error::Error) {
    eprintln!(
        "kie-emulator: {context}: {}",
        kie_emulator::error_chain(error)
    );
}

fn style(s: Style) -> ErrorStyle {
    match s {
        Style::Status => ErrorStyle::StatusEqualsCode,
        Style::Http200 => ErrorStyle::Http200WithCode,
    }
}

/// The task engine's settings from the command line.
fn job_settings(args: &Args) -> kie_emulator::JobSettings {
    let defaults = kie_emulator::JobSettings::default();
    let generating =
        Duration::try_from_secs_f64(args.task_seconds.max(0.0)).unwrap_or(Duration::from_secs(1));
    let mut quirks = kie_emulator::JobQuirks::default();
    if args.record_variants {
        quirks.result_json_object = true;
        quirks.fail_code = kie_emulator::FailCodeForm::Number;
        quirks.message_key = true;
        quirks.veo_result_urls_string = true;
        quirks.veo_times_text = true;
        quirks.veo_callback_urls_string = true;
    }
    kie_emulator::JobSettings {
        stage_durations: [
            defaults.stage_durations[0],
            defaults.stage_durations[1],
            generating,
        ],
        strict_models: args.strict_models,
        not_visible_polls: args.not_visible_polls,
        create_limit: args.create_limit,
        webhook_key: args.webhook_key.clone(),
        callback_duplicate: args.duplicate_callbacks,
        quirks,
        veo_upgrade_delay: Duration::try_from_secs_f64(args.veo_upgrade_seconds.max(0.0))
            .unwrap_or(Duration::from_secs(2)),
        ..defaults
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let jobs = job_settings(&args);
    let mut builder = Emulator::builder()
        .port(args.port)
        .api_key(args.key)
        .ttl(Duration::from_secs(args.ttl_hours.saturating_mul(3600)))
        .storage(match args.storage {
            Storage::Memory => StorageMode::Memory,
            Storage::Discard => StorageMode::Discard,
        })
        .require_user_agent(args.require_user_agent)
        .refuse_bot_user_agents(args.refuse_bot_user_agents)
        .quickstart_fields(args.quickstart_fields)
        .credits(args.credits)
        .account_id(args.account_id)
        .json_body_limit(args.json_body_limit)
        .jobs(jobs);
    if let Some(s) = args.upload_error_style.or(args.error_style) {
        builder = builder.error_style(Host::Upload, style(s));
    }
    if let Some(s) = args.api_error_style.or(args.error_style) {
        builder = builder.error_style(Host::Api, style(s));
    }
    let mut generated = Vec::new();
    for path in &args.generated_file {
        match generated_file(path) {
            Ok(file) => generated.push(file),
            Err(message) => {
                eprintln!("kie-emulator: --generated-file: {message}");
                std::process::exit(2);
            }
        }
    }
    let emulator = match builder.try_start() {
        Ok(emulator) => emulator,
        Err(e) => {
            report("cannot start", &e);
            std::process::exit(1);
        }
    };
    // Write errors (e.g. a closed pipe) must not stop the server.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "KIE_UPLOAD_BASE_URL={}", emulator.upload_base_url());
    let _ = writeln!(out, "KIE_API_BASE_URL={}", emulator.api_base_url());
    let _ = writeln!(out, "KIE_FILES_BASE_URL={}", emulator.files_base_url());
    let _ = writeln!(out, "KIE_API_KEY={}", emulator.api_key());
    for (bytes, mime) in generated {
        let url = emulator.issue_generated_file(bytes, &mime);
        let _ = writeln!(out, "KIE_GENERATED_URL={url}");
    }
    let _ = out.flush();
    drop(out);
    eprintln!("kie-emulator: running; press Ctrl-C to stop");
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("kie-emulator: cannot wait for Ctrl-C: {e}");
    }
    if args.stats {
        let mut counts = std::collections::BTreeMap::new();
        for request in emulator.requests() {
            let route = request
                .route
                .map_or_else(|| "other".to_owned(), |r| format!("{r:?}"));
            *counts.entry(route).or_insert(0u64) += 1;
        }
        let line: Vec<String> = counts
            .iter()
            .map(|(route, n)| format!("{route}={n}"))
            .collect();
        eprintln!("kie-emulator: requests: {}", line.join(" "));
    }
    drop(emulator);
}
