//! Generation tasks (jobs spec §5.5): one task engine on the emulator's clock — lifecycle,
//! outcomes, inputs fetched from the emulator's own upload store, results on the files
//! host, credits, the create rate window, signed callbacks — and the Market renderer of
//! its routes (`createTask`, `recordInfo`) and callback body.
//!
//! A task's state is a function of the clock: `waiting`, `queuing`, `generating` for the
//! model's durations (seconds by default, so a real client finishes a task in a test; see
//! [`JobSettings::stage_durations`]), then `success` or `fail`. Its outcome is settled when
//! it starts generating: an input URL on the emulator's files host that is missing or
//! expired by then fails it with `failCode` 400, as the live service does; otherwise the
//! markers of `input.prompt` decide (`#fail400`, `#fail500`, `#stuck`, `#unknown-state`,
//! `#slow`), else it succeeds. The `emulator/echo` model's results are copies of its input
//! files (same names, bytes and types), to follow bytes through a task end to end.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use sha2::Digest as _;

use crate::log::Record;
use crate::server::{BodyReader, Reply, Shared};
use crate::storage::{Blob, random_hex};
use crate::upload::is_json;
use crate::{ErrorStyle, GENERATED_TTL, validate};

/// How a `failCode` is written in records and callbacks (jobs spec J3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailCodeForm {
    /// A string, `""` on success (the task page).
    #[default]
    String,
    /// A number.
    Number,
    /// `null` on success (the callback examples), a string on failure.
    NullOnSuccess,
}

/// How callbacks are signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CallbackSignature {
    /// Signed with the webhook key when one is set (the default).
    #[default]
    Valid,
    /// No signature headers, even with a key.
    Unsigned,
    /// A signature made with another key.
    Wrong,
    /// A valid signature over a timestamp an hour old.
    Stale,
}

/// The wire variants of records and callbacks the pages disagree on (jobs spec §1.2, §7).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobQuirks {
    /// `resultJson` as an object instead of a JSON string.
    pub result_json_object: bool,
    /// How `failCode` is written.
    pub fail_code: FailCodeForm,
    /// `message` instead of `msg` in the envelope.
    pub message_key: bool,
    /// `param.input` encoded a second time (the W3 example).
    pub param_double_encoded: bool,
    /// Extra fields (`remainedCredits`) in records.
    pub extra_fields: bool,
    /// `costTime` in milliseconds instead of seconds.
    pub cost_time_millis: bool,
    /// Veo records give `data.resultUrls` as a JSON string (the quickstart's form) instead
    /// of `data.response.resultUrls` (families spec F1).
    pub veo_result_urls_string: bool,
    /// Veo times as `"YYYY-MM-DD HH:mm:ss"` (the example) instead of epoch ms (F5).
    pub veo_times_text: bool,
    /// Veo callbacks give `info.resultUrls` as a string `"[url]"` (the OpenAPI callback)
    /// instead of an array (F2).
    pub veo_callback_urls_string: bool,
}

/// Settings of the task engine (all changeable while the emulator runs).
#[derive(Clone, Debug)]
pub struct JobSettings {
    /// How long a task waits, queues and generates (multiplied by 10 for `#slow`).
    pub stage_durations: [Duration; 3],
    /// Refuse models outside the emulated registry (the live service knows hundreds, so
    /// any well-formed slug is accepted by default, with a generic rule).
    pub strict_models: bool,
    /// The body code of a missing required input field: 422, or 500 "This field is
    /// required" (both observed).
    pub missing_field_code: u16,
    /// How many polls of each task answer 422 "recordInfo is null" first.
    pub not_visible_polls: u32,
    /// The create rate window: at most this many creates …
    pub create_limit: usize,
    /// … in this window.
    pub create_window: Duration,
    /// The webhook HMAC key; callbacks are signed when set.
    pub webhook_key: Option<String>,
    /// How callbacks are signed.
    pub callback_signature: CallbackSignature,
    /// Deliver each callback twice.
    pub callback_duplicate: bool,
    /// Deliver callbacks this long after the task finished (a late delivery).
    pub callback_delay: Duration,
    /// Attempts per delivery.
    pub callback_attempts: u32,
    /// Pause between attempts.
    pub callback_gap: Duration,
    /// Timeout of one attempt.
    pub callback_timeout: Duration,
    /// Wire variants.
    pub quirks: JobQuirks,
    /// How long after a Veo video succeeds its 1080p version is ready (`get-1080p-video`
    /// answers "processing" until then; 1–3 minutes live, seconds here).
    pub veo_upgrade_delay: Duration,
}

impl JobSettings {
    /// The defaults with stages quick enough for a test: a task waits 50 ms, queues 50 ms
    /// and generates for 200 ms, so a wait that polls every 50–200 ms sees it through in one
    /// or two polls.
    pub fn quick() -> JobSettings {
        JobSettings {
            stage_durations: [
                Duration::from_millis(50),
                Duration::from_millis(50),
                Duration::from_millis(200),
            ],
            ..JobSettings::default()
        }
    }
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            stage_durations: [
                Duration::from_millis(200),
                Duration::from_millis(300),
                Duration::from_millis(1000),
            ],
            strict_models: false,
            missing_field_code: 422,
            not_visible_polls: 0,
            create_limit: 20,
            create_window: Duration::from_secs(10),
            webhook_key: None,
            callback_signature: CallbackSignature::Valid,
            callback_duplicate: false,
            callback_delay: Duration::ZERO,
            callback_attempts: 3,
            callback_gap: Duration::from_secs(1),
            callback_timeout: Duration::from_secs(15),
            quirks: JobQuirks::default(),
            veo_upgrade_delay: Duration::from_secs(2),
        }
    }
}

/// One delivery attempt of a callback, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackAttempt {
    /// The task id.
    pub task_id: String,
    /// The callback URL.
    pub url: String,
    /// The delivery (1, or 2 for a duplicate) and the attempt within it (1-based).
    pub delivery: u32,
    /// The attempt within the delivery.
    pub attempt: u32,
    /// The body sent.
    pub body: String,
    /// `X-Webhook-Timestamp` and `X-Webhook-Signature`, when sent.
    pub signature: Option<(String, String)>,
    /// The receiver's status, when it answered.
    pub status: Option<u16>,
    /// Why the attempt failed, when it did not get an answer.
    pub error: Option<String>,
}

/// What kind of file a model makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    Image,
    Video,
    Audio,
    Music,
    /// Copies of the task's input files (the `emulator/echo` model), so a test can follow
    /// its bytes from a local file through a task to the downloaded result.
    Echo,
}

/// An emulated model: its required input fields, its output and its price.
struct ModelRule {
    slug: &'static str,
    required: &'static [&'static str],
    output: Output,
    price: f64,
}

/// The emulated registry; any other well-formed slug gets [`GENERIC`] unless
/// [`JobSettings::strict_models`].
const MODELS: &[ModelRule] = &[
    ModelRule {
        slug: "emulator/echo",
        required: &[],
        output: Output::Echo,
        price: 1.0,
    },
    ModelRule {
        slug: "google/nano-banana-edit",
        required: &["prompt", "image_urls"],
        output: Output::Image,
        price: 4.0,
    },
    ModelRule {
        slug: "google/nano-banana",
        required: &["prompt"],
        output: Output::Image,
        price: 4.0,
    },
    ModelRule {
        slug: "bytedance/seedance-2",
        required: &["prompt"],
        output: Output::Video,
        price: 30.0,
    },
    ModelRule {
        slug: "kling/v2-1-standard",
        required: &["prompt", "image_url"],
        output: Output::Video,
        price: 25.0,
    },
    ModelRule {
        slug: "elevenlabs/text-to-speech",
        required: &["text"],
        output: Output::Audio,
        price: 2.0,
    },
    ModelRule {
        slug: "ai-music-api/generate",
        required: &["model"],
        output: Output::Music,
        price: 12.0,
    },
];

const GENERIC: ModelRule = ModelRule {
    slug: "",
    required: &[],
    output: Output::Image,
    price: 1.0,
};

fn rule(model: &str) -> Option<&'static ModelRule> {
    MODELS.iter().find(|rule| rule.slug == model)
}

/// How a task ends, settled when it starts generating.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    Success,
    Fail {
        code: &'static str,
        message: String,
    },
    /// Created, then failed upstream (Veo `successFlag` 3).
    FailUpstream,
    Stuck,
    UnknownState,
}

/// Whose routes and bodies a task is rendered with.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TaskFamily {
    Market,
    Veo(crate::veo::VeoKind),
}

/// One task.
#[derive(Debug)]
pub(crate) struct Task {
    pub(crate) id: String,
    pub(crate) family: TaskFamily,
    pub(crate) model: String,
    pub(crate) output: Output,
    pub(crate) price: f64,
    /// The create's body as stored (Market: model, callBackUrl, input; Veo: its fields).
    pub(crate) body: Map<String, Value>,
    pub(crate) callback_url: Option<String>,
    pub(crate) created: SystemTime,
    /// The stage durations, `#slow` applied.
    stages: [Duration; 3],
    /// Input files on the emulator's files host: their storage paths.
    inputs: Vec<String>,
    marker: Option<Outcome>,
    pub(crate) outcome: Option<Outcome>,
    polls: u32,
    refunded: bool,
    pub(crate) results: Option<Vec<String>>,
    callback_started: bool,
}

/// The engine's state.
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    pub(crate) tasks: HashMap<String, Task>,
    creates: VecDeque<SystemTime>,
    pub callbacks: Vec<CallbackAttempt>,
}

/// A task's state at an instant.
pub(crate) enum Stage {
    Running(&'static str, Option<u8>),
    Done(Outcome),
}

impl Task {
    fn start_of_generating(&self) -> SystemTime {
        self.created + self.stages[0] + self.stages[1]
    }

    pub(crate) fn end(&self) -> SystemTime {
        self.start_of_generating() + self.stages[2]
    }

    /// Counts a poll; whether the task is visible to it (the first `not_visible_polls`
    /// polls see "record is null").
    pub(crate) fn visible(&mut self, not_visible_polls: u32) -> bool {
        self.polls += 1;
        self.polls > not_visible_polls
    }

    /// Takes back the price of a failed task, once.
    pub(crate) fn refund(&mut self, shared: &Shared) {
        if !self.refunded {
            self.refunded = true;
            let mut settings = shared.settings();
            let balance = settings.credits.as_f64().unwrap_or(0.0);
            settings.credits = crate::number(balance + self.price);
        }
    }

    /// Settles the outcome once the task starts generating: inputs first, then markers.
    fn settle(&mut self, shared: &Shared, now: SystemTime) {
        let start = self.start_of_generating();
        if self.outcome.is_some() || now < start {
            return;
        }
        let storage = shared.storage();
        let fetched = self.inputs.iter().all(|path| {
            storage
                .uploads
                .get(path)
                .is_some_and(|f| f.expires_at > start)
                || storage
                    .blobs
                    .get(path)
                    .is_some_and(|b| b.expires_at > start)
        });
        drop(storage);
        self.outcome = Some(if fetched {
            self.marker.clone().unwrap_or(Outcome::Success)
        } else {
            Outcome::Fail {
                code: "400",
                message: "Failed to fetch the image. Kindly verify any access limits set by you or your service provider".to_owned(),
            }
        });
    }

    pub(crate) fn stage(&mut self, shared: &Shared, now: SystemTime) -> Stage {
        self.settle(shared, now);
        let elapsed = now.duration_since(self.created).unwrap_or_default();
        let [waiting, queuing, generating] = self.stages;
        if elapsed < waiting {
            return Stage::Running("waiting", None);
        }
        if elapsed < waiting + queuing {
            return Stage::Running("queuing", None);
        }
        let progress = |elapsed: Duration| {
            let into = elapsed.saturating_sub(waiting + queuing).as_secs_f64();
            let share = into / generating.as_secs_f64().max(0.001);
            u8::try_from((share * 100.0).clamp(0.0, 99.0) as u64).unwrap_or(99)
        };
        match self.outcome.clone() {
            Some(Outcome::Stuck) => Stage::Running("generating", Some(50)),
            Some(Outcome::UnknownState) => Stage::Running("paused_by_moderation", None),
            Some(outcome) if elapsed >= waiting + queuing + generating => Stage::Done(outcome),
            _ => Stage::Running(
                "generating",
                (self.output == Output::Video).then(|| progress(elapsed)),
            ),
        }
    }
}

fn millis(t: SystemTime) -> i64 {
    i64::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(0)
}

/// The JSON object a create sends (each member logged), or the documented 422.
pub(crate) async fn json_request(
    shared: &Shared,
    parts: &http::request::Parts,
    body: &mut BodyReader,
    rec: &mut Record,
    style: ErrorStyle,
) -> Result<Map<String, Value>, Reply> {
    let invalid = |msg: &str| Reply::api_error(style, 422, msg);
    if !is_json(&parts.headers) {
        return Err(invalid("Content-Type must be application/json"));
    }
    let Ok(bytes) = body.read_limited(shared.cfg.json_body_limit).await else {
        return Err(invalid("request body too large or unreadable"));
    };
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(invalid("body must be a JSON object"));
    };
    for (key, value) in &request {
        rec.fields.insert(key.clone(), value.to_string());
    }
    Ok(request)
}

/// A create's `callBackUrl`: absent, or an absolute http(s) URL (else the 422).
pub(crate) fn callback_url(
    request: &Map<String, Value>,
    style: ErrorStyle,
) -> Result<Option<String>, Reply> {
    match request.get("callBackUrl") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(url)) if url.starts_with("http://") || url.starts_with("https://") => {
            Ok(Some(url.clone()))
        }
        Some(_) => Err(Reply::api_error(
            style,
            422,
            "callBackUrl must be an absolute http(s) URL",
        )),
    }
}

/// Handles `POST /api/v1/jobs/createTask` (authorized already).
pub(crate) async fn create(
    shared: &Shared,
    parts: &http::request::Parts,
    body: &mut BodyReader,
    rec: &mut Record,
    style: ErrorStyle,
) -> Reply {
    let settings = shared.settings().jobs.clone();
    let invalid = |code: u16, msg: &str| Reply::api_error(style, code, msg);
    let request = match json_request(shared, parts, body, rec, style).await {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let model = match request.get("model") {
        Some(Value::String(model)) if !model.trim().is_empty() => model.clone(),
        _ => {
            return invalid(
                settings.missing_field_code,
                missing_field_text(settings.missing_field_code, "model"),
            );
        }
    };
    let rule = match (rule(&model), settings.strict_models) {
        (Some(rule), _) => rule,
        (None, false)
            if model
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) =>
        {
            &GENERIC
        }
        _ => {
            return invalid(
                422,
                &format!("The model {model} does not exist or is not supported"),
            );
        }
    };
    let input = match request.get("input") {
        Some(Value::Object(input)) => input.clone(),
        _ => {
            return invalid(
                settings.missing_field_code,
                missing_field_text(settings.missing_field_code, "input"),
            );
        }
    };
    for field in rule.required {
        let present = match input.get(*field) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
        };
        if !present {
            return invalid(
                settings.missing_field_code,
                missing_field_text(settings.missing_field_code, field),
            );
        }
    }
    let callback_url = match callback_url(&request, style) {
        Ok(url) => url,
        Err(refused) => return refused,
    };
    let prompt = input
        .get("prompt")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let inputs = input_paths(&shared.urls.files, &Value::Object(input.clone()));
    let mut stored = Map::new();
    stored.insert("model".to_owned(), Value::String(model.clone()));
    if let Some(url) = &callback_url {
        stored.insert("callBackUrl".to_owned(), Value::String(url.clone()));
    }
    stored.insert("input".to_owned(), Value::Object(input));
    let admission = Admission {
        id: random_hex(16),
        family: TaskFamily::Market,
        model,
        output: rule.output,
        price: rule.price,
        prompt,
        inputs,
        body: stored,
        callback_url,
    };
    match admit(shared, &settings, style, admission) {
        Ok(id) => envelope(&settings.quirks, 200, "success", json!({"taskId": id})),
        Err(refused) => refused,
    }
}

/// What a family's create hands the engine.
pub(crate) struct Admission {
    pub(crate) id: String,
    pub(crate) family: TaskFamily,
    pub(crate) model: String,
    pub(crate) output: Output,
    pub(crate) price: f64,
    /// Where the markers (`#fail400`, `#stuck`, …) are looked for.
    pub(crate) prompt: String,
    /// Input files on the files host (their storage paths).
    pub(crate) inputs: Vec<String>,
    pub(crate) body: Map<String, Value>,
    pub(crate) callback_url: Option<String>,
}

/// Admits a task under the create window and the account's credits (refusals create and
/// charge nothing), and starts it on the clock; its id.
pub(crate) fn admit(
    shared: &Shared,
    settings: &JobSettings,
    style: ErrorStyle,
    admission: Admission,
) -> Result<String, Reply> {
    let invalid = |code: u16, msg: &str| Reply::api_error(style, code, msg);
    let now = shared.clock.now();
    let mut jobs = shared.jobs();
    while jobs
        .creates
        .front()
        .is_some_and(|t| now.duration_since(*t).unwrap_or_default() >= settings.create_window)
    {
        jobs.creates.pop_front();
    }
    if jobs.creates.len() >= settings.create_limit {
        // "Rejected requests will not enter the queue": nothing created, nothing charged.
        return Err(invalid(429, "Rate limit exceeded"));
    }
    {
        let mut account = shared.settings();
        let balance = account.credits.as_f64().unwrap_or(0.0);
        if balance < admission.price {
            return Err(invalid(402, "Insufficient credits"));
        }
        account.credits = crate::number(balance - admission.price);
    }
    jobs.creates.push_back(now);
    let prompt = admission.prompt.as_str();
    let marker = [
        (
            "#fail400",
            Outcome::Fail {
                code: "400",
                message: "Your prompt was flagged by the content policy".to_owned(),
            },
        ),
        (
            "#fail500",
            Outcome::Fail {
                code: "500",
                message: "internal error, please try again later".to_owned(),
            },
        ),
        ("#fail-upstream", Outcome::FailUpstream),
        ("#stuck", Outcome::Stuck),
        ("#unknown-state", Outcome::UnknownState),
    ]
    .into_iter()
    .find(|(mark, _)| prompt.contains(mark))
    .map(|(_, outcome)| outcome);
    let slow = if prompt.contains("#slow") { 10 } else { 1 };
    let id = admission.id;
    jobs.tasks.insert(
        id.clone(),
        Task {
            id: id.clone(),
            family: admission.family,
            model: admission.model,
            output: admission.output,
            price: admission.price,
            body: admission.body,
            callback_url: admission.callback_url,
            created: now,
            stages: settings.stage_durations.map(|d| d * slow),
            inputs: admission.inputs,
            marker,
            outcome: None,
            polls: 0,
            refunded: false,
            results: None,
            callback_started: false,
        },
    );
    Ok(id)
}

pub(crate) fn missing_field_text(code: u16, field: &str) -> &'static str {
    // The live service says only this, whichever field is missing.
    let _ = (code, field);
    "This field is required"
}

/// The storage paths of the input URLs that point at the emulator's own files host.
pub(crate) fn input_paths(files: &str, value: &Value) -> Vec<String> {
    let mut paths = Vec::new();
    let mut visit = |url: &str| {
        if let Some(rest) = url.strip_prefix(files).and_then(|r| r.strip_prefix('/'))
            && let Some(path) = validate::decode_path(rest)
        {
            paths.push(path);
        }
    };
    if let Value::Object(map) = value {
        for value in map.values() {
            match value {
                Value::String(s) => visit(s),
                Value::Array(items) => items.iter().filter_map(Value::as_str).for_each(&mut visit),
                _ => {}
            }
        }
    }
    paths
}

/// The decoded value of the query parameter `name`.
pub(crate) fn query_param(parts: &http::request::Parts, name: &str) -> Option<String> {
    parts.uri.query().and_then(|query| {
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name)
                .then(|| validate::decode_path(value))
                .flatten()
        })
    })
}

/// Handles `GET /api/v1/jobs/recordInfo` (authorized already).
pub(crate) fn record_info(
    shared: &Shared,
    parts: &http::request::Parts,
    style: ErrorStyle,
) -> Reply {
    let quirks = shared.settings().jobs.quirks.clone();
    let not_visible_polls = shared.settings().jobs.not_visible_polls;
    let Some(id) = query_param(parts, "taskId").filter(|id| !id.is_empty()) else {
        return Reply::api_error(style, 400, "taskId parameter is required");
    };
    let now = shared.clock.now();
    let mut jobs = shared.jobs();
    let Some(task) = jobs
        .tasks
        .get_mut(&id)
        .filter(|task| task.family == TaskFamily::Market)
    else {
        return not_visible(&quirks);
    };
    if !task.visible(not_visible_polls) {
        return not_visible(&quirks);
    }
    let data = render_record(shared, task, now, &quirks);
    envelope(&quirks, 200, "success", data)
}

fn not_visible(quirks: &JobQuirks) -> Reply {
    envelope(quirks, 422, "recordInfo is null", Value::Null)
}

/// The JSON envelope with `msg` (or `message`), always HTTP 200.
pub(crate) fn envelope(quirks: &JobQuirks, code: u16, msg: &str, data: Value) -> Reply {
    let key = if quirks.message_key { "message" } else { "msg" };
    let mut body = Map::new();
    body.insert("code".to_owned(), json!(code));
    body.insert(key.to_owned(), json!(msg));
    body.insert("data".to_owned(), data);
    Reply::json(200, &Value::Object(body))
}

/// The Market record of `task` at `now`; makes its result files on its first success.
fn render_record(shared: &Shared, task: &mut Task, now: SystemTime, quirks: &JobQuirks) -> Value {
    let stage = task.stage(shared, now);
    let param_input = if quirks.param_double_encoded {
        Value::String(
            Value::Object(task.body["input"].as_object().cloned().unwrap_or_default()).to_string(),
        )
    } else {
        task.body["input"].clone()
    };
    let mut param = task.body.clone();
    param.insert("input".to_owned(), param_input);
    let mut data = Map::new();
    data.insert("taskId".to_owned(), json!(task.id));
    data.insert("model".to_owned(), json!(task.model));
    data.insert("param".to_owned(), json!(Value::Object(param).to_string()));
    data.insert("createTime".to_owned(), json!(millis(task.created)));
    let empty_code = match quirks.fail_code {
        FailCodeForm::String => json!(""),
        FailCodeForm::Number | FailCodeForm::NullOnSuccess => Value::Null,
    };
    match stage {
        Stage::Running(word, progress) => {
            data.insert("state".to_owned(), json!(word));
            data.insert("updateTime".to_owned(), json!(millis(now)));
            data.insert("resultJson".to_owned(), json!(""));
            data.insert("failCode".to_owned(), empty_code);
            data.insert("failMsg".to_owned(), json!(""));
            if let Some(progress) = progress {
                data.insert("progress".to_owned(), json!(progress));
            }
        }
        Stage::Done(outcome) => {
            let end = task.end();
            let seconds = end.duration_since(task.created).unwrap_or_default();
            let cost = if quirks.cost_time_millis {
                seconds.as_millis() as u64
            } else {
                seconds.as_secs().max(1)
            };
            data.insert("costTime".to_owned(), json!(cost));
            data.insert("updateTime".to_owned(), json!(millis(end)));
            data.insert("completeTime".to_owned(), json!(millis(end)));
            let outcome = match outcome {
                Outcome::FailUpstream => Outcome::Fail {
                    code: "500",
                    message: "upstream generation failed".to_owned(),
                },
                outcome => outcome,
            };
            match outcome {
                Outcome::Fail { code, message } => {
                    task.refund(shared);
                    data.insert("state".to_owned(), json!("fail"));
                    let code = match quirks.fail_code {
                        FailCodeForm::Number => json!(code.parse::<u16>().unwrap_or(500)),
                        _ => json!(code),
                    };
                    data.insert("failCode".to_owned(), code);
                    data.insert("failMsg".to_owned(), json!(message));
                    data.insert("resultJson".to_owned(), Value::Null);
                    data.insert("creditsConsumed".to_owned(), json!(0));
                }
                _ => {
                    let result = results(shared, task);
                    data.insert("state".to_owned(), json!("success"));
                    data.insert("failCode".to_owned(), empty_code);
                    data.insert("failMsg".to_owned(), json!(""));
                    let result = if quirks.result_json_object {
                        result
                    } else {
                        json!(result.to_string())
                    };
                    data.insert("resultJson".to_owned(), result);
                    data.insert("creditsConsumed".to_owned(), json!(task.price));
                }
            }
        }
    }
    if quirks.extra_fields {
        let balance = shared.settings().credits.clone();
        data.insert("remainedCredits".to_owned(), Value::Number(balance));
    }
    Value::Object(data)
}

/// The result document of a succeeded task; its files are made (deterministic bytes of
/// the model's kind) and registered on the files host the first time.
pub(crate) fn results(shared: &Shared, task: &mut Task) -> Value {
    let urls = task.results.get_or_insert_with(|| {
        let mut storage = shared.storage();
        let files: Vec<(String, Bytes, String)> = match task.output {
            Output::Echo => task
                .inputs
                .iter()
                .filter_map(|path| input_file(&storage, path))
                .collect(),
            output => {
                let (ext, mime, count) = match output {
                    Output::Video => ("mp4", "video/mp4", 1),
                    Output::Audio => ("mp3", "audio/mpeg", 1),
                    Output::Music => ("mp3", "audio/mpeg", 2),
                    Output::Image | Output::Echo => ("png", "image/png", 1),
                };
                (0..count)
                    .map(|i| {
                        let data = result_bytes(&task.id, i, output);
                        (format!("result-{i}.{ext}"), data, mime.to_owned())
                    })
                    .collect()
            }
        };
        files
            .into_iter()
            .map(|(name, data, mime)| {
                store_generated(shared, &mut storage, &task.id, &name, data, &mime)
            })
            .collect()
    });
    match task.output {
        Output::Music => json!({"data": urls.iter().enumerate().map(|(i, url)| json!({
            "id": format!("{}-{i}", task.id),
            "audio_url": url,
            "title": format!("Track {}", i + 1),
        })).collect::<Vec<_>>()}),
        _ => json!({"resultUrls": urls}),
    }
}

/// Serves `data` as the generated file `name` of task `id` on the files host (download-url
/// accepts it); its URL.
pub(crate) fn store_generated(
    shared: &Shared,
    storage: &mut crate::storage::Storage,
    id: &str,
    name: &str,
    data: Bytes,
    mime: &str,
) -> String {
    let path = format!("generated/{id}/{name}");
    let url = format!("{}/{path}", shared.urls.files);
    storage.blobs.insert(
        path.clone(),
        Blob {
            data,
            mime: mime.to_owned(),
            expires_at: shared.clock.now() + GENERATED_TTL,
        },
    );
    storage.generated_urls.insert(url.clone(), path);
    url
}

/// The name, bytes and MIME type of an input file (an upload or a generated file) for an
/// echo result; `None` when its bytes were not kept (discard storage).
fn input_file(storage: &crate::storage::Storage, path: &str) -> Option<(String, Bytes, String)> {
    let name = |path: &str| path.rsplit('/').next().unwrap_or(path).to_owned();
    if let Some(file) = storage.uploads.get(path) {
        let content = file.content.clone()?;
        return Some((name(path), content, file.mime.clone()));
    }
    let blob = storage.blobs.get(path)?;
    Some((name(path), blob.data.clone(), blob.mime.clone()))
}

/// Small deterministic bytes with the magic number of the kind.
pub(crate) fn result_bytes(id: &str, index: usize, output: Output) -> Bytes {
    let magic: &[u8] = match output {
        Output::Image => b"\x89PNG\r\n\x1a\n",
        Output::Video => b"\x00\x00\x00\x18ftypmp42",
        Output::Audio | Output::Music | Output::Echo => b"ID3\x04\x00\x00",
    };
    let mut data = magic.to_vec();
    let seed = sha2::Sha256::digest(format!("{id}/{index}").as_bytes());
    for round in 0..64u8 {
        data.extend(seed.iter().map(|b| b ^ round));
    }
    Bytes::from(data)
}

/// The Market callback body of a finished task (`code` 200 or 501, the record as `data`).
fn callback_body(shared: &Shared, task: &mut Task, quirks: &JobQuirks) -> String {
    let end = task.end();
    let data = render_record(shared, task, end, quirks);
    let failed = data.get("state").and_then(Value::as_str) == Some("fail");
    let (code, msg) = if failed {
        (501, "Playground task failed.")
    } else {
        (200, "Playground task completed successfully.")
    };
    json!({"code": code, "msg": msg, "data": data}).to_string()
}

/// `X-Webhook-Signature`: Base64(HMAC-SHA256(key, taskId + "." + timestamp)), written here
/// independently of kie-proto's verifier so the two check each other.
pub fn sign(key: &str, task_id: &str, timestamp: &str) -> String {
    const BLOCK: usize = 64;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&sha2::Sha256::digest(key.as_bytes()));
    } else {
        block_key[..key.len()].copy_from_slice(key.as_bytes());
    }
    let pad = |byte: u8| block_key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let mut inner = sha2::Sha256::new();
    inner.update(pad(0x36));
    inner.update(format!("{task_id}.{timestamp}").as_bytes());
    let mut outer = sha2::Sha256::new();
    outer.update(pad(0x5c));
    outer.update(inner.finalize());
    base64::engine::general_purpose::STANDARD.encode(outer.finalize())
}

/// Delivers the callbacks of finished tasks, checking every 50 ms, until `stop`.
pub(crate) async fn deliver_callbacks(
    shared: Arc<Shared>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = stop.changed() => return,
        }
        let now = shared.clock.now();
        let settings = shared.settings().jobs.clone();
        let due: Vec<(String, String, String)> = {
            let mut jobs = shared.jobs();
            let mut due = Vec::new();
            for task in jobs.tasks.values_mut() {
                let Some(url) = task.callback_url.clone() else {
                    continue;
                };
                if task.callback_started {
                    continue;
                }
                task.settle(&shared, now);
                let terminal = matches!(
                    task.outcome,
                    Some(Outcome::Success | Outcome::Fail { .. } | Outcome::FailUpstream)
                );
                if terminal && now >= task.end() + settings.callback_delay {
                    task.callback_started = true;
                    let body = match task.family {
                        TaskFamily::Market => callback_body(&shared, task, &settings.quirks),
                        TaskFamily::Veo(_) => {
                            crate::veo::callback_body(&shared, task, &settings.quirks)
                        }
                    };
                    due.push((task.id.clone(), url, body));
                }
            }
            due
        };
        for (id, url, body) in due {
            let shared = Arc::clone(&shared);
            let settings = settings.clone();
            tokio::spawn(async move { deliver(&shared, &settings, &id, &url, &body).await });
        }
    }
}

async fn deliver(shared: &Shared, settings: &JobSettings, id: &str, url: &str, body: &str) {
    let deliveries = if settings.callback_duplicate { 2 } else { 1 };
    for delivery in 1..=deliveries {
        for attempt in 1..=settings.callback_attempts.max(1) {
            let now_secs = shared
                .clock
                .now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            let signature =
                settings
                    .webhook_key
                    .as_deref()
                    .and_then(|key| match settings.callback_signature {
                        CallbackSignature::Unsigned => None,
                        CallbackSignature::Valid => {
                            Some((now_secs.to_string(), sign(key, id, &now_secs.to_string())))
                        }
                        CallbackSignature::Wrong => Some((
                            now_secs.to_string(),
                            sign("not-the-key", id, &now_secs.to_string()),
                        )),
                        CallbackSignature::Stale => {
                            let stale = now_secs.saturating_sub(3600).to_string();
                            Some((stale.clone(), sign(key, id, &stale)))
                        }
                    });
            let (status, error) = match shared.http.client() {
                Err(why) => (None, Some(why)),
                Ok(client) => {
                    let mut request = client
                        .post(url)
                        .timeout(settings.callback_timeout)
                        .header("content-type", "application/json")
                        .body(body.to_owned());
                    if let Some((timestamp, signature)) = &signature {
                        request = request
                            .header("x-webhook-timestamp", timestamp)
                            .header("x-webhook-signature", signature);
                    }
                    match request.send().await {
                        Ok(response) => (Some(response.status().as_u16()), None),
                        Err(error) => (None, Some(crate::server::chain(&error))),
                    }
                }
            };
            shared.jobs().callbacks.push(CallbackAttempt {
                task_id: id.to_owned(),
                url: url.to_owned(),
                delivery,
                attempt,
                body: body.to_owned(),
                signature,
                status,
                error,
            });
            if status.is_some_and(|s| (200..300).contains(&s)) {
                break;
            }
            tokio::time::sleep(settings.callback_gap).await;
        }
    }
}
