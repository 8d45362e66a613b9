//! `kie-emulator`: a faithful local emulator of the KIE.AI File Upload API and Common API,
//! for testing code that talks to the service without the network, a key or credits.
//!
//! The emulator is built from the written API spec
//! ([`kie-api.md`](https://github.com/kie-rs/kie-rs/blob/main/tests/spec/kie-api.md)), not
//! from the kie-rs SDK, so the two cannot agree on a mistake; it depends on no SDK crate and
//! works with any HTTP client. It is a real HTTP/1.1 server on loopback with three
//! listeners, one per host of the real service:
//!
//! | host | routes |
//! |---|---|
//! | upload ([`Emulator::upload_base_url`]) | `POST /api/file-base64-upload`, `POST /api/file-stream-upload`, `POST /api/file-url-upload` |
//! | api ([`Emulator::api_base_url`]) | `GET /api/v1/chat/credit`, `POST /api/v1/common/download-url` |
//! | files ([`Emulator::files_base_url`]) | `GET /<filePath>` of uploads, generated files and download links |
//!
//! ```
//! use kie_emulator::{Emulator, Fault, Route};
//!
//! let emu = Emulator::start();
//! emu.faults().push(Route::Credits, Fault::rate_limited(Some(2)));
//! // ... point a client at emu.upload_base_url() / emu.api_base_url() with emu.api_key()
//! assert_eq!(emu.faults().remaining(Route::Credits), 1);
//! ```
//!
//! See [`Emulator`] for the in-process API and the `kie-emulator` binary
//! (`cargo install kie-emulator`) for a standalone server.
//!
//! # Behaviour where the spec leaves a choice
//!
//! - Order of checks: fault plan, then the user-agent rule (when enabled), then the
//!   method (405 on upload routes), then authentication, then validation.
//! - Errors produced by route handlers follow the host's [`ErrorStyle`]; an unknown path
//!   is always a real HTTP 404 with a JSON body (`{"code":404,...}`, plus
//!   `"success":false` on the upload host), as observed for `GET https://api.kie.ai/`.
//! - A wrong method on an api-host route is body code 405 in the api host's style.
//! - Upload validation failures are 400 with the upload envelope. Empty strings and
//!   `null` count as absent (`"Missing required parameter: <name>"`); a non-string value
//!   is `"Invalid parameter: <name> must be a string"`.
//! - download-url: a non-JSON content type or body, a missing/empty/non-string `url`,
//!   and any URL not issued by [`Emulator::issue_generated_file`] (including upload
//!   `downloadUrl`s) are all code **422** (never 400: 400 is not in that endpoint's
//!   code enum).
//! - URL upload fetch failures (refused, timeout, non-2xx, over the size cap) are 400
//!   `"File download failed: ..."`, with the cause. `https://` URLs need the `https`
//!   feature (on by default): rustls with the platform's trust store (or
//!   `SSL_CERT_FILE`), read at the first fetch, so the emulator starts without one.
//! - When `fileName` is absent the stored name is random (hex) with the extension of the
//!   sniffed MIME type; for URL uploads the URL's last path segment is used when it is a
//!   valid file name. MIME: magic bytes, then the name's extension, then
//!   `application/octet-stream`.
//! - Files host: no authentication; `/` answers 403, unknown or expired paths 404, and
//!   uploads kept in [`StorageMode::Discard`] 404 (their bytes were not kept).
//! - Every answer, canned ones included, carries `Access-Control-Allow-Origin: *` (the
//!   real upload host allows `*` in its preflight). The files host answers a single byte
//!   range with 206 (416 beyond the end) and ignores other range forms.
//! - Faults run before everything else (like a proxy): a canned response consumes the
//!   fault even for an unauthenticated request. Requests whose connection was dropped are
//!   logged with `response_status == 0`.
//!
//! # Layout
//!
//! - this file: configuration, start/stop, the public handle ([`Emulator`],
//!   [`EmulatorBuilder`]);
//! - [`routes`]: hosts and routes; [`faults`]: the fault plan; [`log`]: the request log;
//!   [`clock`]: the injectable clock; [`storage`]: what is stored and served;
//! - `server`: accept loops, fault application, response shaping;
//! - `upload`, `api`, `files`: the routes of each host; [`validate`]: input rules;
//!   `base64_body`: the streamed body of base64 uploads.

pub(crate) mod api;
pub mod base64_body;
pub mod clock;
pub mod faults;
pub(crate) mod files;
pub(crate) mod jobs;
pub mod log;
pub mod routes;
pub(crate) mod server;
pub mod storage;
pub mod upload;
pub mod validate;
mod veo;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::watch;

pub use api::{DOWNLOAD_LINK_TTL, EXTERNAL_URL_MSG};
pub use clock::Clock;
pub use faults::{Fault, FaultPlan};
pub use jobs::{
    CallbackAttempt, CallbackSignature, FailCodeForm, JobQuirks, JobSettings, sign as jobs_sign,
};
pub use log::LoggedRequest;
pub use routes::{Host, Route};
pub use server::{BOT_USER_AGENT_PREFIXES, chain as error_chain};
pub use storage::{StorageMode, StoredFile};

use log::RequestLog;
use server::{BaseUrls, Config, Settings, Shared};
use storage::{Blob, Storage, random_hex};

/// How errors produced by the emulator itself are carried over HTTP (spec §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorStyle {
    /// The HTTP status equals the body `code` (e.g. HTTP 401 with `"code":401`); the
    /// default of the upload host.
    StatusEqualsCode,
    /// HTTP 200 with the error in the body `code`; the default of the api host.
    Http200WithCode,
}

impl ErrorStyle {
    /// The HTTP status used for an error with body code `code`.
    pub fn status_for(self, code: u16) -> u16 {
        match self {
            ErrorStyle::StatusEqualsCode => code,
            ErrorStyle::Http200WithCode => 200,
        }
    }
}

/// The default accepted API key.
pub const DEFAULT_API_KEY: &str = "kie-emulator-test-key";
/// The default account id (the `<account id>` in `kieai/<account id>/...`).
pub const DEFAULT_ACCOUNT_ID: &str = "10001";
/// The default upload TTL: 72 hours.
pub const DEFAULT_TTL: Duration = Duration::from_secs(72 * 3600);
/// How long files issued by [`Emulator::issue_generated_file`] are served: 14 days.
pub const GENERATED_TTL: Duration = Duration::from_secs(14 * 24 * 3600);

/// Configures and starts an [`Emulator`]. Every setting has a default; see each method.
#[derive(Clone, Debug)]
pub struct EmulatorBuilder {
    api_key: String,
    ttl: Duration,
    upload_style: ErrorStyle,
    api_style: ErrorStyle,
    storage: StorageMode,
    require_user_agent: bool,
    refuse_bot_user_agents: bool,
    quickstart_fields: bool,
    url_fetch_timeout: Duration,
    url_fetch_max_bytes: u64,
    json_body_limit: u64,
    account_id: String,
    port: u16,
    credits: serde_json::Number,
    jobs: JobSettings,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            api_key: DEFAULT_API_KEY.to_owned(),
            ttl: DEFAULT_TTL,
            upload_style: ErrorStyle::StatusEqualsCode,
            api_style: ErrorStyle::Http200WithCode,
            storage: StorageMode::Memory,
            require_user_agent: false,
            refuse_bot_user_agents: false,
            quickstart_fields: false,
            url_fetch_timeout: Duration::from_secs(30),
            url_fetch_max_bytes: 100 * 1024 * 1024,
            json_body_limit: 256 * 1024 * 1024,
            account_id: DEFAULT_ACCOUNT_ID.to_owned(),
            port: 0,
            credits: serde_json::Number::from(100),
            jobs: JobSettings::default(),
        }
    }
}

impl EmulatorBuilder {
    /// The only accepted key (`Authorization: Bearer <key>`). Default [`DEFAULT_API_KEY`].
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }

    /// How long uploads are served after being written. Default 72 h ([`DEFAULT_TTL`]).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The error style of `host`. Defaults: upload host [`ErrorStyle::StatusEqualsCode`],
    /// api host [`ErrorStyle::Http200WithCode`]. The files host answers plain HTTP errors
    /// and ignores this.
    pub fn error_style(mut self, host: Host, style: ErrorStyle) -> Self {
        match host {
            Host::Upload => self.upload_style = style,
            Host::Api => self.api_style = style,
            Host::Files => {}
        }
        self
    }

    /// The storage mode. Default [`StorageMode::Memory`].
    pub fn storage(mut self, mode: StorageMode) -> Self {
        self.storage = mode;
        self
    }

    /// When true, any request without a (non-empty) `User-Agent` gets HTTP 403,
    /// `text/plain`, `error code: 1010`, on every host. Default false.
    pub fn require_user_agent(mut self, on: bool) -> Self {
        self.require_user_agent = on;
        self
    }

    /// When true, requests without a User-Agent or with a bot-like one — the default agent
    /// of an HTTP library or tool, see [`BOT_USER_AGENT_PREFIXES`] — get HTTP 403,
    /// `text/plain`, `error code: 1010`, on every host, as the real CDN answers Python
    /// urllib (spec §1.4). Default false.
    pub fn refuse_bot_user_agents(mut self, on: bool) -> Self {
        self.refuse_bot_user_agents = on;
        self
    }

    /// When true, successful uploads also carry the quickstart extras `fileId`,
    /// `originalName`, `uploadPath`, `fileUrl`, `uploadTime`, `expiresAt`. Default false.
    pub fn quickstart_fields(mut self, on: bool) -> Self {
        self.quickstart_fields = on;
        self
    }

    /// Total timeout of the remote fetch of a URL upload. Default 30 s.
    pub fn url_fetch_timeout(mut self, timeout: Duration) -> Self {
        self.url_fetch_timeout = timeout;
        self
    }

    /// Largest file a URL upload may fetch. Default 100 MiB.
    pub fn url_fetch_max_bytes(mut self, max: u64) -> Self {
        self.url_fetch_max_bytes = max;
        self
    }

    /// Largest JSON request body (base64, URL upload, download-url); larger bodies get a
    /// 400 (upload host) or 422 (api host). Default 256 MiB. Stream uploads are unlimited.
    pub fn json_body_limit(mut self, max: u64) -> Self {
        self.json_body_limit = max;
        self
    }

    /// The account id in `filePath` (`kieai/<account id>/...`). Default [`DEFAULT_ACCOUNT_ID`].
    pub fn account_id(mut self, id: impl Into<String>) -> Self {
        self.account_id = id.into();
        self
    }

    /// Port of the upload host; the api host listens on `port + 1` and the files host on
    /// `port + 2`. `0` (the default) picks three free ephemeral ports.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The balance returned by credits. Default 100. Integral values are sent as JSON
    /// integers, others as decimals; a non-finite value becomes 0.
    pub fn credits(mut self, credits: f64) -> Self {
        self.credits = number(credits);
        self
    }

    /// The settings of the generation-task engine ([`JobSettings`]: stage durations,
    /// strict models, rate window, webhook key, callback faults, wire quirks).
    pub fn jobs(mut self, jobs: JobSettings) -> Self {
        self.jobs = jobs;
        self
    }

    /// Binds the three loopback listeners and starts serving.
    ///
    /// # Panics
    /// If a listener cannot be bound or the runtime cannot start; see
    /// [`EmulatorBuilder::try_start`] for the fallible form.
    pub fn start(self) -> Emulator {
        match self.try_start() {
            Ok(emulator) => emulator,
            Err(e) => panic!("kie emulator: cannot start: {e}"),
        }
    }

    /// Binds the three loopback listeners and starts serving, reporting failures.
    pub fn try_start(self) -> std::io::Result<Emulator> {
        let bind = |host: Host, offset: u16| -> std::io::Result<TcpListener> {
            let port = if self.port == 0 {
                0
            } else {
                self.port.checked_add(offset).ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!(
                            "port {} leaves no room for the api and files hosts (PORT+1, PORT+2); use at most 65533",
                            self.port
                        ),
                    )
                })?
            };
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let listener = TcpListener::bind(addr)
                .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
                .map_err(|source| {
                    std::io::Error::new(source.kind(), BindError { host, addr, source })
                })?;
            Ok(listener)
        };
        let listeners = [
            (Host::Upload, bind(Host::Upload, 0)?),
            (Host::Api, bind(Host::Api, 1)?),
            (Host::Files, bind(Host::Files, 2)?),
        ];
        let url_of = |l: &TcpListener| -> std::io::Result<String> {
            Ok(format!("http://{}", l.local_addr()?))
        };
        let urls = BaseUrls {
            upload: url_of(&listeners[0].1)?,
            api: url_of(&listeners[1].1)?,
            files: url_of(&listeners[2].1)?,
        };
        let http = server::Outbound::new(self.url_fetch_timeout);
        let shared = Arc::new(Shared {
            cfg: Config {
                api_key: self.api_key,
                ttl: self.ttl,
                storage: self.storage,
                account_id: self.account_id,
                url_fetch_max_bytes: self.url_fetch_max_bytes,
                json_body_limit: self.json_body_limit,
            },
            settings: Mutex::new(Settings {
                upload_style: self.upload_style,
                api_style: self.api_style,
                require_user_agent: self.require_user_agent,
                refuse_bot_user_agents: self.refuse_bot_user_agents,
                quickstart_fields: self.quickstart_fields,
                credits: self.credits,
                jobs: self.jobs,
            }),
            storage: Mutex::new(Storage::default()),
            jobs: Mutex::new(jobs::Jobs::default()),
            log: RequestLog::default(),
            faults: FaultPlan::default(),
            clock: Clock::new(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            http,
            urls,
        });

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kie-emulator")
            .enable_all()
            .build()?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let serving = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("kie-emulator".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    for (host, listener) in listeners {
                        match tokio::net::TcpListener::from_std(listener) {
                            Ok(listener) => {
                                tokio::spawn(server::serve(
                                    listener,
                                    host,
                                    Arc::clone(&serving),
                                    stop_rx.clone(),
                                ));
                            }
                            Err(e) => eprintln!("kie emulator: listener failed: {e}"),
                        }
                    }
                    tokio::spawn(jobs::deliver_callbacks(
                        Arc::clone(&serving),
                        stop_rx.clone(),
                    ));
                    let mut stop = stop_rx;
                    let _ = stop.changed().await;
                });
                runtime.shutdown_timeout(Duration::from_millis(500));
            })?;
        Ok(Emulator {
            shared,
            stop: stop_tx,
            thread: Some(thread),
        })
    }
}

/// A listener of one host could not be bound; the OS error is the [`source`](std::error::Error::source).
/// [`EmulatorBuilder::try_start`] returns it inside a [`std::io::Error`] of the same kind.
#[derive(Debug)]
pub struct BindError {
    /// The host whose listener failed.
    pub host: Host,
    /// The address it tried.
    pub addr: SocketAddr,
    /// The OS error (e.g. address in use).
    pub source: std::io::Error,
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot listen on {} for the {} host; free that port or choose another --port",
            self.addr,
            self.host.name()
        )
    }
}

impl std::error::Error for BindError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Converts an `f64` balance to a JSON number (integral values as integers).
pub(crate) fn number(value: f64) -> serde_json::Number {
    if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
        serde_json::Number::from(value as i64)
    } else {
        serde_json::Number::from_f64(value).unwrap_or_else(|| serde_json::Number::from(0))
    }
}

/// A running KIE.AI emulator: three loopback HTTP listeners (upload host, api host,
/// files host) served by its own tokio runtime on a background thread, so it works the
/// same from synchronous tests and from inside `#[tokio::test]`.
///
/// Dropping it stops the listeners and closes every open connection.
///
/// ```
/// let emu = kie_emulator::Emulator::start();
/// assert!(emu.upload_base_url().starts_with("http://127.0.0.1:"));
/// assert_eq!(emu.api_key(), kie_emulator::DEFAULT_API_KEY);
/// ```
#[derive(Debug)]
pub struct Emulator {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Starts an emulator with default settings.
    ///
    /// # Panics
    /// Only if loopback listeners cannot be bound.
    pub fn start() -> Emulator {
        EmulatorBuilder::default().start()
    }

    /// A builder for non-default settings.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// Base URL of the upload host, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn upload_base_url(&self) -> String {
        self.shared.urls.upload.clone()
    }

    /// Base URL of the api host (credits, download-url).
    pub fn api_base_url(&self) -> String {
        self.shared.urls.api.clone()
    }

    /// Base URL of the files host that serves `downloadUrl`s.
    pub fn files_base_url(&self) -> String {
        self.shared.urls.files.clone()
    }

    /// The accepted API key.
    pub fn api_key(&self) -> &str {
        &self.shared.cfg.api_key
    }

    /// A snapshot of the request log (all hosts, arrival order).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log.snapshot()
    }

    /// Empties the request log.
    pub fn clear_log(&self) {
        self.shared.log.clear();
    }

    /// The uploads currently stored (expired ones are left out), sorted by path.
    pub fn stored_files(&self) -> Vec<StoredFile> {
        let mut storage = self.shared.storage();
        storage.purge(self.shared.clock.now());
        let mut files: Vec<StoredFile> = storage.uploads.values().cloned().collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files
    }

    /// Removes every stored upload, generated file and download link.
    pub fn clear_storage(&self) {
        *self.shared.storage() = Storage::default();
    }

    /// The fault plan handle.
    pub fn faults(&self) -> FaultPlan {
        self.shared.faults.clone()
    }

    /// The clock handle.
    pub fn clock(&self) -> Clock {
        self.shared.clock.clone()
    }

    /// Sets the balance returned by credits (integral values are sent as JSON integers).
    pub fn set_credits(&self, credits: f64) {
        self.shared.settings().credits = number(credits);
    }

    /// Changes the error style of `host` while running (the files host ignores it).
    pub fn set_error_style(&self, host: Host, style: ErrorStyle) {
        let mut settings = self.shared.settings();
        match host {
            Host::Upload => settings.upload_style = style,
            Host::Api => settings.api_style = style,
            Host::Files => {}
        }
    }

    /// Switches the user-agent rule (403 `error code: 1010` without a User-Agent).
    pub fn set_require_user_agent(&self, on: bool) {
        self.shared.settings().require_user_agent = on;
    }

    /// Switches the bot-like user-agent rule ([`EmulatorBuilder::refuse_bot_user_agents`]).
    pub fn set_refuse_bot_user_agents(&self, on: bool) {
        self.shared.settings().refuse_bot_user_agents = on;
    }

    /// Switches the quickstart extras in upload responses.
    pub fn set_quickstart_fields(&self, on: bool) {
        self.shared.settings().quickstart_fields = on;
    }

    /// Changes the settings of the generation-task engine while running.
    pub fn update_jobs(&self, change: impl FnOnce(&mut JobSettings)) {
        change(&mut self.shared.settings().jobs);
    }

    /// Every callback delivery attempt so far, in order.
    pub fn callback_attempts(&self) -> Vec<CallbackAttempt> {
        self.shared.jobs().callbacks.clone()
    }

    /// The credit balance now (tasks debit it; failed tasks are refunded).
    pub fn credits(&self) -> f64 {
        self.shared.settings().credits.as_f64().unwrap_or(0.0)
    }

    /// Registers `bytes` as a file "generated" by the service and returns its URL on the
    /// files host (served for [`GENERATED_TTL`]). Only such URLs are accepted by
    /// download-url.
    pub fn issue_generated_file(&self, bytes: Vec<u8>, mime: &str) -> String {
        let ext = mime_extension(mime);
        let path = format!("generated/{}/result.{ext}", random_hex(12));
        let url = format!("{}/{path}", self.shared.urls.files);
        let mut storage = self.shared.storage();
        storage.blobs.insert(
            path.clone(),
            Blob {
                data: Bytes::from(bytes),
                mime: mime.to_owned(),
                expires_at: self.shared.clock.now() + GENERATED_TTL,
            },
        );
        storage.generated_urls.insert(url.clone(), path);
        url
    }

    /// The highest number of upload requests that were in flight at the same time.
    pub fn max_concurrent_uploads(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// The number of upload requests in flight right now.
    pub fn in_flight_uploads(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// Resets the [`Emulator::max_concurrent_uploads`] high-water mark to the current
    /// in-flight count.
    pub fn reset_max_concurrent_uploads(&self) {
        let now = self.shared.in_flight.load(Ordering::SeqCst);
        self.shared.max_in_flight.store(now, Ordering::SeqCst);
    }

    /// The current emulated time (same as `self.clock().now()`).
    pub fn now(&self) -> SystemTime {
        self.shared.clock.now()
    }
}

/// A file extension for a MIME type, from the few types generated media use.
fn mime_extension(mime: &str) -> &'static str {
    match mime.split(';').next().unwrap_or_default().trim() {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "video/mp4" => "mp4",
        "audio/mpeg" => "mp3",
        "audio/wav" | "audio/x-wav" => "wav",
        "text/plain" => "txt",
        "application/json" => "json",
        _ => "bin",
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The README's Rust snippets, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
