//! The HTTP plumbing: one accept loop per host, per-connection kill switches (for the
//! connection-dropping faults), fault application, logging, and response building.
//!
//! Parsing is hyper's (HTTP/1.1) and multer's (multipart); nothing here parses HTTP.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::clock::Clock;
use crate::faults::{Fault, FaultPlan};
use crate::log::{Record, RequestLog};
use crate::routes::{Host, Route};
use crate::storage::{Storage, StorageMode};
use crate::{ErrorStyle, api, files, upload};

/// The response body type of every route.
pub(crate) type RespBody = BoxBody<Bytes, std::io::Error>;

/// Settings fixed at start.
#[derive(Debug)]
pub(crate) struct Config {
    pub api_key: String,
    pub ttl: Duration,
    pub storage: StorageMode,
    pub account_id: String,
    pub url_fetch_max_bytes: u64,
    pub json_body_limit: u64,
}

/// Settings a test may change while the emulator runs.
#[derive(Debug)]
pub(crate) struct Settings {
    pub upload_style: ErrorStyle,
    pub api_style: ErrorStyle,
    pub require_user_agent: bool,
    pub refuse_bot_user_agents: bool,
    pub quickstart_fields: bool,
    pub credits: serde_json::Number,
    pub jobs: crate::JobSettings,
}

/// The three base URLs, without trailing slash.
#[derive(Clone, Debug)]
pub(crate) struct BaseUrls {
    pub upload: String,
    pub api: String,
    pub files: String,
}

/// State shared by all listeners and by the [`crate::Emulator`] handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub cfg: Config,
    pub settings: Mutex<Settings>,
    pub storage: Mutex<Storage>,
    pub jobs: Mutex<crate::jobs::Jobs>,
    pub log: RequestLog,
    pub faults: FaultPlan,
    pub clock: Clock,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub http: Outbound,
    pub urls: BaseUrls,
}

/// The emulator's own HTTP client (URL uploads, task callbacks), built at its first use:
/// building it reads the machine's trust store, which a run that never fetches a URL or
/// calls back should neither pay for nor depend on. The emulator starts on a machine
/// without CA certificates; a fetch there fails with that cause, and succeeds once a trust
/// store is in place (a failed build is not kept).
#[derive(Debug)]
pub(crate) struct Outbound {
    timeout: Duration,
    client: OnceLock<reqwest::Client>,
}

impl Outbound {
    /// A client whose requests time out after `timeout` unless a request sets its own.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            client: OnceLock::new(),
        }
    }

    /// The client, built on the first call that succeeds; `Err` says why it could not be.
    pub fn client(&self) -> Result<&reqwest::Client, String> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let built = reqwest::Client::builder()
            .no_proxy()
            .timeout(self.timeout)
            .user_agent("kie-emulator/url-upload")
            .build()
            .map_err(|e| {
                format!(
                    "the emulator's HTTP client could not be built: {}",
                    chain(&e)
                )
            })?;
        Ok(self.client.get_or_init(|| built))
    }
}

/// `error` and its sources, each once: `a: b: c` (a cause whose text is already in the line
/// is not repeated).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

impl Shared {
    pub fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn storage(&self) -> MutexGuard<'_, Storage> {
        self.storage.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn jobs(&self) -> MutexGuard<'_, crate::jobs::Jobs> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the request carries exactly `Authorization: Bearer <key>`.
    pub fn authorized(&self, headers: &http::HeaderMap) -> bool {
        let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
        match (values.next(), values.next()) {
            (Some(v), None) => {
                v.as_bytes().strip_prefix(b"Bearer ") == Some(self.cfg.api_key.as_bytes())
            }
            _ => false,
        }
    }
}

/// Counts an upload request as in flight while alive.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> InFlight<'a> {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Accepts connections on `listener` until `shutdown` fires; each connection is served
/// by hyper on its own task, which also ends when its kill switch is pulled.
pub(crate) async fn serve(
    listener: TcpListener,
    host: Host,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // e.g. too many open files: back off briefly instead of spinning.
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let mut conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let service_kill = Arc::clone(&kill);
            let service = service_fn(move |req: Request<Incoming>| {
                let shared = Arc::clone(&shared);
                let kill = Arc::clone(&service_kill);
                async move { Ok::<_, Infallible>(handle(shared, host, req, kill).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            // Dropping `conn` closes the socket without a response.
            tokio::select! {
                _ = conn => {}
                _ = kill.notified() => {}
                _ = conn_shutdown.changed() => {}
            }
        });
    }
}

/// Handles one request: log, fault, dispatch to the host's routes, shape the response.
async fn handle(
    shared: Arc<Shared>,
    host: Host,
    req: Request<Incoming>,
    kill: Arc<Notify>,
) -> Response<RespBody> {
    let (parts, body) = req.into_parts();
    let route = Route::of(host, parts.uri.path());
    // Counted in flight before it is logged: a logged upload with none in flight is over.
    let _in_flight = route
        .filter(|r| r.is_upload())
        .map(|_| InFlight::enter(&shared));
    let id = shared.log.start(host, route, &parts);
    let mut body = BodyReader::new(body);
    let mut rec = Record::default();
    let fault = route.and_then(|r| shared.faults.pop(r));
    rec.fault = fault.as_ref().map(Fault::label);
    let mut after = None;
    match fault {
        Some(Fault::Respond {
            status,
            content_type,
            body: canned,
            headers,
        }) => {
            body.drain().await;
            rec.body_len = body.count();
            let reply = Reply {
                status,
                code: json_code(&canned),
                content_type,
                body: Bytes::from(canned),
                headers,
            };
            shared.log.finish(id, rec, reply.status, reply.code);
            return reply.into_response();
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::DropBeforeRead) => {
            shared.log.finish(id, rec, 0, None);
            kill.notify_one();
            return std::future::pending().await;
        }
        Some(Fault::DropAfterBytes(n)) => {
            body.read_at_least(n).await;
            rec.body_len = body.count();
            shared.log.finish(id, rec, 0, None);
            kill.notify_one();
            return std::future::pending().await;
        }
        Some(other) => after = Some(other),
        None => {}
    }

    let reply = dispatch(&shared, host, route, &parts, &mut body, &mut rec).await;
    body.drain().await;
    rec.body_len = body.count();
    shared.log.finish(id, rec, reply.status, reply.code);
    let head_only = parts.method == http::Method::HEAD;
    match after {
        Some(Fault::StallBeforeHeaders(d)) => {
            tokio::time::sleep(d).await;
            reply.into_response()
        }
        Some(Fault::TruncatedResponse) if !head_only => reply.truncated(kill),
        Some(Fault::StallResponse(d)) if !head_only => reply.stalled(d),
        _ => reply.into_response(),
    }
}

/// The user-agent rule, then the host's own routes.
async fn dispatch(
    shared: &Shared,
    host: Host,
    route: Option<Route>,
    parts: &http::request::Parts,
    body: &mut BodyReader,
    rec: &mut Record,
) -> Reply {
    let (require_ua, refuse_bots) = {
        let settings = shared.settings();
        (settings.require_user_agent, settings.refuse_bot_user_agents)
    };
    let agent = parts
        .headers
        .get(http::header::USER_AGENT)
        .map(|v| v.as_bytes().trim_ascii())
        .filter(|v| !v.is_empty());
    let refused = match agent {
        None => require_ua || refuse_bots,
        Some(agent) => refuse_bots && is_bot_like(agent),
    };
    if refused {
        return Reply::text(403, "error code: 1010");
    }
    match host {
        Host::Upload => upload::handle(shared, route, parts, body, rec).await,
        Host::Api => api::handle(shared, route, parts, body, rec).await,
        Host::Files => files::handle(shared, parts),
    }
}

/// The default User-Agents of HTTP libraries and command-line tools (spec §1.4: Cloudflare
/// refuses "bot-like" agents such as Python urllib's), matched case-insensitively as
/// prefixes: see [`EmulatorBuilder::refuse_bot_user_agents`](crate::EmulatorBuilder::refuse_bot_user_agents).
pub const BOT_USER_AGENT_PREFIXES: &[&str] = &[
    "python-urllib/",
    "python-requests/",
    "python-httpx/",
    "aiohttp/",
    "go-http-client/",
    "java/",
    "okhttp/",
    "libwww-perl/",
    "curl/",
    "wget/",
];

/// Whether `agent` starts like one of [`BOT_USER_AGENT_PREFIXES`].
fn is_bot_like(agent: &[u8]) -> bool {
    BOT_USER_AGENT_PREFIXES.iter().any(|prefix| {
        agent
            .get(..prefix.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes()))
    })
}

/// The body `code` of a JSON response body, if it has one.
fn json_code(body: &[u8]) -> Option<i64> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()?
        .get("code")?
        .as_i64()
}

/// A decided response, before faults shape how it is sent.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub code: Option<i64>,
    pub content_type: String,
    pub body: Bytes,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    /// A JSON reply; `code` is read from the value.
    pub fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply {
            status,
            code: value.get("code").and_then(serde_json::Value::as_i64),
            content_type: "application/json".to_owned(),
            body: Bytes::from(value.to_string()),
            headers: Vec::new(),
        }
    }

    /// A `text/plain` reply.
    pub fn text(status: u16, text: &str) -> Reply {
        Reply {
            status,
            code: None,
            content_type: "text/plain; charset=UTF-8".to_owned(),
            body: Bytes::from(text.to_owned()),
            headers: Vec::new(),
        }
    }

    /// An upload-host error envelope `{"success":false,"code":..,"msg":..}` in `style`.
    pub fn upload_error(style: ErrorStyle, code: u16, msg: &str) -> Reply {
        let body = serde_json::json!({"success": false, "code": code, "msg": msg});
        Reply::json(style.status_for(code), &body)
    }

    /// An api-host error envelope `{"code":..,"msg":..,"data":null}` in `style`.
    pub fn api_error(style: ErrorStyle, code: u16, msg: &str) -> Reply {
        let body = serde_json::json!({"code": code, "msg": msg, "data": null});
        Reply::json(style.status_for(code), &body)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Status, `Content-Type`, the reply's headers, and `Access-Control-Allow-Origin: *`
    /// (what the real upload host allows in its preflight) unless the reply sets its own,
    /// so browser clients can read every answer, `Retry-After` included.
    fn builder(&self) -> http::response::Builder {
        let mut builder = Response::builder()
            .status(self.status)
            .header(http::header::CONTENT_TYPE, self.content_type.as_str());
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let has = |name: &http::HeaderName| {
            self.headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
        };
        if !has(&http::header::ACCESS_CONTROL_ALLOW_ORIGIN) {
            builder = builder.header(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
        }
        if !has(&http::header::ACCESS_CONTROL_EXPOSE_HEADERS) {
            builder = builder.header(
                http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
                "Retry-After, Content-Range",
            );
        }
        builder
    }

    /// The response, sent normally.
    pub fn into_response(self) -> Response<RespBody> {
        let body = Full::new(self.body.clone())
            .map_err(|never| match never {})
            .boxed();
        finish(self.builder().body(body))
    }

    /// Headers with the full `Content-Length`, half the body, then the connection closes.
    fn truncated(self, kill: Arc<Notify>) -> Response<RespBody> {
        let len = self.body.len();
        let half = self.body.slice(..len / 2);
        let chunks: Vec<Bytes> = half.chunks(64 * 1024).map(|c| half.slice_ref(c)).collect();
        let head = stream::iter(chunks.into_iter().map(|c| Ok(Frame::data(c))));
        let tail = stream::once(async move {
            // Let hyper flush what was sent, then cut the connection.
            tokio::time::sleep(Duration::from_millis(100)).await;
            kill.notify_one();
            std::future::pending::<Result<Frame<Bytes>, std::io::Error>>().await
        });
        let body = BodyExt::boxed(StreamBody::new(head.chain(tail)));
        finish(
            self.builder()
                .header(http::header::CONTENT_LENGTH, len)
                .body(body),
        )
    }

    /// Headers now, the body after `stall`.
    fn stalled(self, stall: Duration) -> Response<RespBody> {
        let len = self.body.len();
        let data = self.body.clone();
        let body = stream::once(async move {
            tokio::time::sleep(stall).await;
            Ok::<_, std::io::Error>(Frame::data(data))
        });
        let body = BodyExt::boxed(StreamBody::new(body));
        finish(
            self.builder()
                .header(http::header::CONTENT_LENGTH, len)
                .body(body),
        )
    }
}

/// Unwraps a built response; an invalid canned status or header becomes a plain 500.
fn finish(built: http::Result<Response<RespBody>>) -> Response<RespBody> {
    built.unwrap_or_else(|e| {
        let mut resp = Response::new(
            Full::new(Bytes::from(format!(
                "emulator: invalid canned response: {e}"
            )))
            .map_err(|never| match never {})
            .boxed(),
        );
        *resp.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        resp
    })
}

/// Why a limited read failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The body exceeded the limit.
    TooLarge,
    /// The connection failed while reading.
    Io(hyper::Error),
}

/// The request body, read at most once, counting the bytes read.
pub(crate) struct BodyReader {
    inner: Option<Incoming>,
    count: Arc<AtomicU64>,
}

impl BodyReader {
    fn new(body: Incoming) -> BodyReader {
        BodyReader {
            inner: Some(body),
            count: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// Reads the whole body, failing once it exceeds `limit` bytes.
    pub async fn read_limited(&mut self, limit: u64) -> Result<Bytes, ReadError> {
        let Some(mut body) = self.inner.take() else {
            return Ok(Bytes::new());
        };
        let mut buf = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(ReadError::Io)?;
            if let Ok(data) = frame.into_data() {
                self.count.fetch_add(data.len() as u64, Ordering::SeqCst);
                if buf.len() as u64 + data.len() as u64 > limit {
                    self.inner = Some(body);
                    return Err(ReadError::TooLarge);
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(Bytes::from(buf))
    }

    /// Sends the body chunk by chunk to `tx` (waiting while it is full), failing once it
    /// exceeds `limit` bytes, as [`BodyReader::read_limited`] does, without holding it.
    /// Once `tx`'s receiver is gone the rest is still read (and dropped), so a body
    /// over the limit is reported as such whatever its receiver made of its start.
    pub async fn forward_limited(
        &mut self,
        limit: u64,
        tx: tokio::sync::mpsc::Sender<Bytes>,
    ) -> Result<(), ReadError> {
        let Some(mut body) = self.inner.take() else {
            return Ok(());
        };
        let mut total = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(ReadError::Io)?;
            if let Ok(data) = frame.into_data() {
                self.count.fetch_add(data.len() as u64, Ordering::SeqCst);
                total += data.len() as u64;
                if total > limit {
                    self.inner = Some(body);
                    return Err(ReadError::TooLarge);
                }
                if !tx.is_closed() {
                    let _ = tx.send(data).await;
                }
            }
        }
        Ok(())
    }

    /// Reads and discards the rest of the body (if it was not taken).
    pub async fn drain(&mut self) {
        if let Some(mut body) = self.inner.take() {
            while let Some(Ok(frame)) = body.frame().await {
                if let Ok(data) = frame.into_data() {
                    self.count.fetch_add(data.len() as u64, Ordering::SeqCst);
                }
            }
        }
    }

    /// Reads until at least `n` bytes were read or the body ends.
    async fn read_at_least(&mut self, n: u64) {
        if let Some(body) = self.inner.as_mut() {
            while self.count.load(Ordering::SeqCst) < n {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            self.count.fetch_add(data.len() as u64, Ordering::SeqCst);
                        }
                    }
                    _ => break,
                }
            }
        }
    }

    /// Takes the body as a stream of data chunks (still counted).
    pub fn take_stream(
        &mut self,
    ) -> impl Stream<Item = Result<Bytes, hyper::Error>> + Send + 'static {
        let count = Arc::clone(&self.count);
        let body = self.inner.take();
        stream::iter(body)
            .flat_map(|b| b.into_data_stream())
            .map(move |chunk| {
                if let Ok(data) = &chunk {
                    count.fetch_add(data.len() as u64, Ordering::SeqCst);
                }
                chunk
            })
    }
}
