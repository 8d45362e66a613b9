//! The Market family (jobs spec §1–§2): every market model shares `createTask` and
//! `recordInfo` and differs only in `model` and `input`; the record's `resultJson` holds the
//! results; the callback's `data` is the record.
//!
//! Records are read with the tolerance the pages' disagreements ask for: `msg` or `message`;
//! `failCode` as a string, a number or null; `resultJson` as a JSON string, an object, `""`
//! or null; times as epoch milliseconds (numbers or numeric strings); `param` kept as the
//! raw text it was sent as (its `input` is sometimes encoded twice); `costTime` kept raw
//! (milliseconds on one page, seconds on another and in every example);
//! `creditsConsumed` (or the older `consumeCredits`) only where present — absent is not 0;
//! every other field kept in [`MarketRecord::extra`].

use http::{Method, Request};
use serde_json::{Map, Value};

use super::lenient::{integer, number, scalar_text, text, urls};
use super::record::record_data;
use super::{
    Asset, AssetRole, Family, TaskRef, TaskStatus, TaskView, parse_created, recreate_may_help,
    with_task_id,
};
use crate::api::Api;
use crate::api_error::{ApiError, ErrorKind};
use crate::body::Body;
use crate::input::{HttpUrl, InvalidInput};
use crate::operation::{Operation, request};

/// `POST /api/v1/jobs/createTask`: creates a task of `model` with `input` (sent verbatim),
/// announced to `callBackUrl` when it finishes. Its output is the new task's [`TaskRef`].
///
/// **Not idempotent**: every create may be a paid task. A driver retries it only when the
/// service provably created nothing (a 429 rate limit — "rejected requests will not enter
/// the queue" — a 455, a refused connection); after a timeout, a reset or a 5xx once the
/// request may have arrived, the error says the task may exist
/// ([`Error::MaybeCreated`](crate::Error::MaybeCreated)).
///
/// ```
/// use kie_proto::{Api, ApiKey, Body, Operation};
/// use kie_proto::task::CreateTask;
/// let api = Api::new(ApiKey::new("sk-example")?);
/// let input = serde_json::json!({"prompt": "a cat", "image_urls": ["https://tempfile.redpandaai.co/kieai/1/cat.png"]});
/// let create = CreateTask::new("google/nano-banana-edit", input)?
///     .with_callback_url("https://example.com/kie/callback")?;
/// let request = create.to_request(&api)?;
/// assert_eq!(request.uri(), "https://api.kie.ai/api/v1/jobs/createTask");
/// // The input's members in key order (a JSON object has no order).
/// assert_eq!(request.body(), &Body::Complete(br#"{"model":"google/nano-banana-edit","callBackUrl":"https://example.com/kie/callback","input":{"image_urls":["https://tempfile.redpandaai.co/kieai/1/cat.png"],"prompt":"a cat"}}"#.to_vec()));
/// let answer = http::Response::new(&br#"{"code":200,"msg":"success","data":{"taskId":"task_google_1765178615729"}}"#[..]);
/// assert_eq!(create.parse_response(answer)?.to_string(), "market:task_google_1765178615729");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CreateTask {
    model: String,
    callback_url: Option<HttpUrl>,
    input: Map<String, Value>,
}

impl CreateTask {
    /// Path of the endpoint on the API host.
    pub const PATH: &'static str = "/api/v1/jobs/createTask";

    /// A task of `model` (a slug such as `google/nano-banana-edit`; not checked against a
    /// list: new models appear weekly) with `input`, which must be a JSON object.
    pub fn new(model: impl Into<String>, input: Value) -> Result<CreateTask, InvalidInput> {
        let model = model.into();
        if model.is_empty() || model.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidInput::Model(model));
        }
        let Value::Object(input) = input else {
            return Err(InvalidInput::TaskInput);
        };
        Ok(CreateTask {
            model,
            callback_url: None,
            input,
        })
    }

    /// Announce the finished task by a `POST` to `url` (an absolute http(s) URL).
    pub fn with_callback_url(mut self, url: &str) -> Result<CreateTask, InvalidInput> {
        self.callback_url = Some(HttpUrl::new(url)?);
        Ok(self)
    }

    /// The model.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The input.
    pub fn input(&self) -> &Map<String, Value> {
        &self.input
    }
}

impl Operation for CreateTask {
    type Output = TaskRef;

    fn to_request(&self, api: &Api) -> Result<Request<Body>, InvalidInput> {
        // The documented member order (cosmetic); `callBackUrl` only when set.
        let text = |value: &str| Value::String(value.to_owned()).to_string();
        let mut json = format!("{{\"model\":{}", text(&self.model));
        if let Some(url) = &self.callback_url {
            json.push_str(&format!(",\"callBackUrl\":{}", text(url.as_str())));
        }
        let input = Value::Object(self.input.clone());
        json.push_str(&format!(",\"input\":{input}}}"));
        let json = json.into_bytes();
        request(
            api,
            Method::POST,
            api.api_url(Self::PATH),
            Some("application/json"),
            Body::Complete(json),
        )
    }

    fn parse_response(&self, response: http::Response<&[u8]>) -> Result<TaskRef, ApiError> {
        parse_created(&response, Family::Market)
    }

    fn is_idempotent(&self) -> bool {
        false
    }
}

/// Path of the record endpoint on the API host.
pub(super) const RECORD_PATH: &str = "/api/v1/jobs/recordInfo";

/// `GET /api/v1/jobs/recordInfo?taskId=…`.
pub(super) fn record_request(api: &Api, task: &TaskRef) -> Result<Request<Body>, InvalidInput> {
    let url = with_task_id(api.api_url(RECORD_PATH), task);
    request(api, Method::GET, url, None, Body::Empty)
}

/// Reads a `recordInfo` answer. A 422 "recordInfo is null" (what the service answers right
/// after a create, before the task is visible, and for unknown ids) is
/// [`ErrorKind::TaskNotVisible`]: a poller tolerates it for a grace period. A success whose
/// `resultJson` is not JSON is [`ErrorKind::MalformedResponse`] with an excerpt (a success
/// that produced nothing readable must not pass for one that produced nothing).
pub(super) fn parse_record(
    response: &http::Response<&[u8]>,
    task: &TaskRef,
) -> Result<MarketRecord, ApiError> {
    let data = record_data(response, "recordInfo is null")?;
    MarketRecord::from_data(data, task).map_err(|excerpt| ApiError {
        message: Some("the task succeeded but its resultJson is not JSON".to_owned()),
        body_excerpt: Some(excerpt),
        ..ApiError::new(response.status(), ErrorKind::MalformedResponse)
    })
}

/// A Market task's state word (jobs spec §1.3). It is `fail`, not `failed`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskState {
    /// `waiting`: queued, waiting to be processed.
    Waiting,
    /// `queuing`: in the processing queue.
    Queuing,
    /// `generating`: being processed.
    Generating,
    /// `success`.
    Success,
    /// `fail`.
    Fail,
    /// Any other word, as sent: never taken for finished.
    Unknown(String),
}

impl TaskState {
    /// The state `word` names (case-insensitively).
    pub fn parse(word: &str) -> TaskState {
        match word.to_ascii_lowercase().as_str() {
            "waiting" => TaskState::Waiting,
            "queuing" => TaskState::Queuing,
            "generating" => TaskState::Generating,
            "success" => TaskState::Success,
            "fail" => TaskState::Fail,
            _ => TaskState::Unknown(word.to_owned()),
        }
    }
}

/// The record of a Market task (`recordInfo`'s `data`, and a callback's `data`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MarketRecord {
    /// The task.
    pub task: TaskRef,
    /// The model.
    pub model: Option<String>,
    /// The state.
    pub state: TaskState,
    /// The whole create body, as the raw text it was sent as (its `input` may be a JSON
    /// string itself).
    pub param: Option<String>,
    /// `resultJson` as sent (a JSON string's content, or an object's JSON); `""` and null
    /// read as absent.
    pub result_json: Option<String>,
    /// `resultJson` decoded.
    pub result: Option<Value>,
    /// `failCode`, as text (`"400"`, `"500"`, `"SENSITIVE_WORD_ERROR"`); `""` and null read
    /// as absent.
    pub fail_code: Option<String>,
    /// `failMsg`; `""` and null read as absent.
    pub fail_msg: Option<String>,
    /// `costTime`, raw: its unit is undocumented (milliseconds on one page, seconds on
    /// another and in every example); derive durations from the times instead.
    pub cost_time: Option<i64>,
    /// `createTime`, epoch milliseconds.
    pub create_time: Option<i64>,
    /// `updateTime`, epoch milliseconds.
    pub update_time: Option<i64>,
    /// `completeTime`, epoch milliseconds.
    pub complete_time: Option<i64>,
    /// `progress`, 0–100 (only some models report it).
    pub progress: Option<u8>,
    /// `creditsConsumed` (or the older `consumeCredits`), where present: absent is not 0.
    pub credits_consumed: Option<f64>,
    /// Every other field, as sent (`remainedCredits`, …).
    pub extra: Map<String, Value>,
}

impl MarketRecord {
    /// Reads a record from `data` (a JSON object); `task` stands in for a record without a
    /// readable `taskId`. `Err` holds an excerpt of a success's `resultJson` that is not
    /// JSON.
    fn from_data(mut data: Map<String, Value>, task: &TaskRef) -> Result<MarketRecord, String> {
        let mut take = |name: &str| data.remove(name);
        let task = take("taskId")
            .as_ref()
            .and_then(scalar_text)
            .and_then(|id| TaskRef::market(id).ok())
            .unwrap_or_else(|| task.clone());
        let model = take("model").as_ref().and_then(text);
        let state = TaskState::parse(
            take("state")
                .as_ref()
                .and_then(scalar_text)
                .as_deref()
                .unwrap_or(""),
        );
        let param = take("param").and_then(|value| match value {
            Value::String(text) => Some(text),
            Value::Null => None,
            other => Some(other.to_string()),
        });
        let result_json = take("resultJson").and_then(|value| match value {
            Value::String(text) if text.trim().is_empty() => None,
            Value::String(text) => Some(text),
            Value::Null => None,
            other => Some(other.to_string()),
        });
        let fail_code = take("failCode").as_ref().and_then(scalar_text);
        let fail_msg = take("failMsg").as_ref().and_then(text);
        let cost_time = take("costTime").as_ref().and_then(integer);
        let create_time = take("createTime").as_ref().and_then(integer);
        let update_time = take("updateTime").as_ref().and_then(integer);
        let complete_time = take("completeTime").as_ref().and_then(integer);
        let progress = take("progress")
            .as_ref()
            .and_then(integer)
            .map(|p| u8::try_from(p.clamp(0, 100)).unwrap_or(100));
        let credits = take("creditsConsumed").or_else(|| take("consumeCredits"));
        let credits_consumed = credits.as_ref().and_then(number);
        let result = match &result_json {
            None => None,
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(value) => Some(value),
                Err(_) if state == TaskState::Success => {
                    return Err(text.chars().take(200).collect());
                }
                Err(_) => None,
            },
        };
        Ok(MarketRecord {
            task,
            model,
            state,
            param,
            result_json,
            result,
            fail_code,
            fail_msg,
            cost_time,
            create_time,
            update_time,
            complete_time,
            progress,
            credits_consumed,
            extra: data,
        })
    }

    /// The record as the common task view: status, assets (`resultUrls`,
    /// `firstFrameUrl`/`lastFrameUrl`, the tracks of a Suno V6 `{"data":[…]}` result),
    /// credits and times.
    pub fn view(&self) -> TaskView {
        let status = match &self.state {
            TaskState::Waiting => running("waiting", self.progress),
            TaskState::Queuing => running("queuing", self.progress),
            TaskState::Generating => running("generating", self.progress),
            TaskState::Success => TaskStatus::Succeeded,
            TaskState::Fail => TaskStatus::Failed {
                recreate_may_help: recreate_may_help(
                    self.fail_code.as_deref(),
                    self.fail_msg.as_deref(),
                ),
                code: self.fail_code.clone(),
                message: self.fail_msg.clone(),
            },
            TaskState::Unknown(word) => TaskStatus::Unknown(word.clone()),
        };
        let assets = match (&status, &self.result) {
            (TaskStatus::Succeeded, Some(result)) => assets(result),
            _ => Vec::new(),
        };
        TaskView {
            task: self.task.clone(),
            model: self.model.clone(),
            status,
            assets,
            result: self.result.clone(),
            credits_consumed: self.credits_consumed,
            created_ms: self.create_time,
            completed_ms: self.complete_time,
        }
    }
}

fn running(stage: &str, progress: Option<u8>) -> TaskStatus {
    TaskStatus::Running {
        stage: stage.to_owned(),
        progress,
    }
}

/// The files of a decoded `resultJson`.
fn assets(result: &Value) -> Vec<Asset> {
    let mut assets = Vec::new();
    let mut add = |value: Option<&Value>, role| {
        for url in urls(value) {
            assets.push(Asset { url, role });
        }
    };
    add(result.get("resultUrls"), AssetRole::Result);
    add(result.get("firstFrameUrl"), AssetRole::FirstFrame);
    add(result.get("lastFrameUrl"), AssetRole::LastFrame);
    // Suno V6 on Market: {"data":[{"audio_url":…,"image_url":…}, …]}.
    if let Some(Value::Array(tracks)) = result.get("data") {
        for track in tracks {
            add(
                track.get("audio_url").or(track.get("audioUrl")),
                AssetRole::Result,
            );
            add(
                track.get("image_url").or(track.get("imageUrl")),
                AssetRole::Cover,
            );
        }
    }
    assets
}

/// A Market callback (jobs spec §2): `code` 200 (success) or 501 (failure), `msg`, and
/// `data`, the task's record. Read with the record's tolerance; the task id is
/// `data.taskId`, else `data.task_id`, else a top-level `taskId`.
///
/// The signature ([`webhook`](crate::webhook), when the account's webhook key is on) covers
/// only the task id and the time, **not the body**: a replayed or altered body with a valid
/// header pair passes. Treat a verified body as a hint and confirm with a [`GetTask`](super::GetTask) before
/// acting on money or state; duplicate and late deliveries are normal.
///
/// ```
/// use kie_proto::task::{MarketCallback, TaskStatus};
/// let body = br#"{"code":501,"msg":"Playground task failed.","data":{"taskId":"e989621f54392584b05867f87b160672","model":"wan/3-0-video-prime","state":"fail","param":"{}","resultJson":null,"failCode":"500","failMsg":"internal error","creditsConsumed":0}}"#;
/// let callback = MarketCallback::parse(body)?;
/// assert_eq!(callback.code, Some(501));
/// let view = callback.record.view();
/// assert!(matches!(view.status, TaskStatus::Failed { recreate_may_help: true, .. }));
/// assert_eq!(view.credits_consumed, Some(0.0));
/// # Ok::<(), kie_proto::ApiError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MarketCallback {
    /// `code`: 200 for a success, 501 for a failure.
    pub code: Option<i64>,
    /// `msg` (or `message`).
    pub message: Option<String>,
    /// The task's record.
    pub record: MarketRecord,
}

impl MarketCallback {
    /// Reads a callback body. A body that is not a JSON object, has no task id, or is a
    /// success whose `resultJson` is not JSON is a [`ErrorKind::MalformedResponse`].
    pub fn parse(body: &[u8]) -> Result<MarketCallback, ApiError> {
        let malformed = |message: &str| ApiError {
            message: Some(message.to_owned()),
            ..ApiError::new(http::StatusCode::OK, ErrorKind::MalformedResponse)
        };
        let Ok(Value::Object(mut top)) = serde_json::from_slice::<Value>(body) else {
            return Err(malformed("the callback body is not a JSON object"));
        };
        let code = top.get("code").and_then(integer);
        let message = top.get("msg").or(top.get("message")).and_then(text);
        let top_id = top.get("taskId").and_then(scalar_text);
        let Some(Value::Object(mut data)) = top.remove("data") else {
            return Err(malformed("the callback body has no data object"));
        };
        let id = data
            .get("taskId")
            .and_then(scalar_text)
            .or_else(|| data.get("task_id").and_then(scalar_text))
            .or(top_id)
            .ok_or_else(|| malformed("the callback body names no task"))?;
        data.remove("task_id");
        let task =
            TaskRef::market(id).map_err(|_| malformed("the callback's task id is invalid"))?;
        let record = MarketRecord::from_data(data, &task).map_err(|excerpt| ApiError {
            message: Some("the task succeeded but its resultJson is not JSON".to_owned()),
            body_excerpt: Some(excerpt),
            ..ApiError::new(http::StatusCode::OK, ErrorKind::MalformedResponse)
        })?;
        Ok(MarketCallback {
            code,
            message,
            record,
        })
    }
}

/// The answer a callback receiver sends: HTTP 200, `{"code":200,"msg":"success"}` (the
/// documented acknowledgement; the status is what counts).
pub fn callback_ack() -> http::Response<Vec<u8>> {
    let mut response = http::Response::new(br#"{"code":200,"msg":"success"}"#.to_vec());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> Result<MarketRecord, ApiError> {
        let task = TaskRef::market("t").unwrap();
        parse_record(&http::Response::new(json.as_bytes()), &task)
    }

    /// The documented success example (get-task-detail, OpenAPI form).
    #[test]
    fn documented_success() {
        let rec = record(r#"{"code":200,"msg":"success","data":{"taskId":"task_12345678","model":"grok-imagine/text-to-image","state":"success","param":"{\"callBackUrl\":\"https://your-domain.com/api/callback\",\"input\":{\"aspect_ratio\":\"3:2\",\"prompt\":\"Cinematic portrait...\"},\"model\":\"grok-imagine/text-to-image\"}","resultJson":"{\"resultUrls\":[\"https://example.com/generated-content.jpg\"]}","failCode":"","failMsg":"","costTime":15000,"completeTime":1698765432000,"createTime":1698765400000,"updateTime":1698765432000,"progress":45}}"#).unwrap();
        assert_eq!(rec.task.id(), "task_12345678");
        assert_eq!(rec.state, TaskState::Success);
        assert_eq!(rec.fail_code, None);
        assert_eq!(rec.cost_time, Some(15000));
        assert_eq!(rec.credits_consumed, None);
        let view = rec.view();
        assert_eq!(view.status, TaskStatus::Succeeded);
        assert_eq!(view.assets.len(), 1);
        assert_eq!(view.created_ms, Some(1698765400000));
    }

    /// The W3 callback example: `param.input` encoded twice, seconds in `costTime`.
    #[test]
    fn w3_callback_example() {
        let body = br#"{"code":200,"msg":"Playground task completed successfully.","data":{"taskId":"bd8f4b1a52048d0f17a38b49591abfa1","model":"wan/3-0-video-prime","state":"success","param":"{\"input\":\"{\\\"prompt\\\":\\\"a fox\\\"}\",\"callBackUrl\":\"https://x.example/cb\",\"model\":\"wan/3-0-video-prime\"}","resultJson":"{\"resultUrls\":[\"https://tempfile.aiquickdraw.com/v.mp4\"]}","costTime":89,"completeTime":1787567409000,"createTime":1787567320000,"updateTime":1787567409000,"creditsConsumed":61}}"#;
        let callback = MarketCallback::parse(body).unwrap();
        assert_eq!(callback.code, Some(200));
        let rec = callback.record;
        assert_eq!(rec.credits_consumed, Some(61.0));
        let param: Value = serde_json::from_str(rec.param.as_deref().unwrap()).unwrap();
        assert!(
            param["input"].is_string(),
            "double-encoded input kept as sent"
        );
        assert_eq!(
            rec.view().assets[0].url,
            "https://tempfile.aiquickdraw.com/v.mp4"
        );
    }

    #[test]
    fn tolerated_variants() {
        // failCode as a number, resultJson as an object, message instead of msg, extras kept.
        let rec = record(r#"{"code":200,"message":"success","data":{"taskId":"t","state":"fail","failCode":500,"failMsg":"internal error","resultJson":{"resultUrls":[]},"remainedCredits":12.5,"consumeCredits":0}}"#).unwrap();
        assert_eq!(rec.fail_code.as_deref(), Some("500"));
        assert_eq!(rec.credits_consumed, Some(0.0));
        assert_eq!(
            rec.extra.get("remainedCredits"),
            Some(&serde_json::json!(12.5))
        );
        assert!(matches!(
            rec.view().status,
            TaskStatus::Failed {
                recreate_may_help: true,
                ..
            }
        ));
        // A 400 fail is not worth re-creating; null fields read as absent.
        let rec = record(r#"{"code":200,"msg":"success","data":{"taskId":"t","state":"fail","failCode":"400","failMsg":"Failed to fetch the image","resultJson":null}}"#).unwrap();
        assert!(matches!(
            rec.view().status,
            TaskStatus::Failed {
                recreate_may_help: false,
                ..
            }
        ));
        // A success without files is not an error; "" reads as absent.
        let rec = record(r#"{"code":200,"msg":"success","data":{"taskId":"t","state":"success","resultJson":""}}"#).unwrap();
        assert_eq!(rec.view().assets, vec![]);
        // A success whose resultJson is not JSON is, with an excerpt.
        let error = record(r#"{"code":200,"msg":"success","data":{"taskId":"t","state":"success","resultJson":"<html>oops"}}"#).unwrap_err();
        assert_eq!(error.kind, ErrorKind::MalformedResponse);
        assert_eq!(error.body_excerpt.as_deref(), Some("<html>oops"));
        // `failed` is not the documented word: unknown, never terminal.
        let rec = record(r#"{"code":200,"msg":"success","data":{"taskId":"t","state":"failed"}}"#)
            .unwrap();
        assert_eq!(rec.view().status, TaskStatus::Unknown("failed".to_owned()));
        assert!(!rec.view().status.is_terminal());
        // Running with progress; frames and a Suno V6 result.
        let rec = record(r#"{"code":200,"msg":"success","data":{"taskId":"t","state":"GENERATING","progress":"45"}}"#).unwrap();
        assert_eq!(rec.view().status, running("generating", Some(45)));
        let rec = record(r#"{"code":200,"msg":"success","data":{"taskId":"t","state":"success","resultJson":"{\"resultUrls\":[\"r\"],\"firstFrameUrl\":[\"f\"],\"lastFrameUrl\":\"l\"}"}}"#).unwrap();
        let roles: Vec<_> = rec.view().assets.iter().map(|a| a.role).collect();
        assert_eq!(
            roles,
            [
                AssetRole::Result,
                AssetRole::FirstFrame,
                AssetRole::LastFrame
            ]
        );
        let rec = record(r#"{"code":200,"msg":"success","data":{"taskId":"t","state":"success","resultJson":"{\"data\":[{\"audio_url\":\"a.mp3\",\"image_url\":\"a.jpg\"},{\"audio_url\":\"b.mp3\"}]}"}}"#).unwrap();
        assert_eq!(rec.view().assets.len(), 3);
    }

    #[test]
    fn not_visible_and_refusals() {
        for body in [
            r#"{"code":422,"msg":"recordInfo is null","data":null}"#,
            r#"{"code":200,"msg":"success","data":null}"#,
        ] {
            assert_eq!(
                record(body).unwrap_err().kind,
                ErrorKind::TaskNotVisible,
                "{body}"
            );
        }
        assert_eq!(
            record(r#"{"code":404,"msg":"Task not found"}"#)
                .unwrap_err()
                .kind,
            ErrorKind::NotFound
        );
        assert_eq!(
            record(r#"{"code":422,"msg":"something else"}"#)
                .unwrap_err()
                .kind,
            ErrorKind::Validation
        );
    }

    #[test]
    fn a_create_refused_for_a_missing_field_is_a_validation_answer_whatever_its_code() {
        let create = CreateTask::new("m", serde_json::json!({})).unwrap();
        let kind = |status: u16, body: &str| {
            let answer = http::Response::builder()
                .status(status)
                .body(body.as_bytes())
                .unwrap();
            create.parse_response(answer).unwrap_err().kind
        };
        let missing = r#"{"code":500,"msg":"This field is required"}"#;
        assert_eq!(kind(200, missing), ErrorKind::Validation);
        assert_eq!(kind(500, missing), ErrorKind::Validation);
        assert_eq!(
            kind(200, r#"{"code":422,"msg":"custom_mode is required"}"#),
            ErrorKind::Validation
        );
        // Any other 500 may have created the task: left a server error.
        assert_eq!(
            kind(200, r#"{"code":500,"msg":"Server Error - internal"}"#),
            ErrorKind::Server
        );
    }

    #[test]
    fn create_checks_its_input_and_encodes_the_id_query() {
        assert!(matches!(
            CreateTask::new("m", serde_json::json!(["not", "an", "object"])),
            Err(InvalidInput::TaskInput)
        ));
        assert!(matches!(
            CreateTask::new("bad model", serde_json::json!({})),
            Err(InvalidInput::Model(_))
        ));
        assert!(
            CreateTask::new("m", serde_json::json!({}))
                .unwrap()
                .with_callback_url("ftp://x")
                .is_err()
        );
        let api = Api::new(crate::ApiKey::new("k").unwrap());
        let get = TaskRef::market("a/b?c&d=é").unwrap().get();
        assert_eq!(
            get.to_request(&api).unwrap().uri().query(),
            Some("taskId=a%2Fb%3Fc%26d%3D%C3%A9")
        );
        let create = CreateTask::new("m", serde_json::json!({"p": 1})).unwrap();
        assert!(!create.is_idempotent());
        let body = create.to_request(&api).unwrap();
        assert_eq!(
            body.body(),
            &Body::Complete(br#"{"model":"m","input":{"p":1}}"#.to_vec())
        );
    }

    #[test]
    fn callbacks_name_their_task_in_any_documented_place() {
        for body in [
            r#"{"code":200,"data":{"task_id":"x","state":"success"}}"#,
            r#"{"code":200,"taskId":"x","data":{"state":"success"}}"#,
        ] {
            let callback = MarketCallback::parse(body.as_bytes()).unwrap();
            assert_eq!(callback.record.task.id(), "x");
        }
        assert!(MarketCallback::parse(b"[]").is_err());
        assert!(MarketCallback::parse(br#"{"code":200,"data":{"state":"success"}}"#).is_err());
        assert_eq!(callback_ack().status(), http::StatusCode::OK);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json_number(n as f64, n)),
            "[a-zA-Z0-9 _:/.\\-]{0,12}".prop_map(Value::String),
            Just(Value::Array(vec![Value::String("u".into())])),
            Just(serde_json::json!({"resultUrls": ["x"]})),
        ]
    }

    fn json_number(_: f64, n: i64) -> Value {
        Value::Number(n.into())
    }

    proptest! {
        /// Any mix of documented fields with any scalar values: reading never fails for
        /// a state other than `success`, keeps every unknown field, reads `failCode`
        /// numbers and strings alike, and its view never shows assets of a task that did
        /// not succeed.
        #[test]
        fn records_read_whatever_the_field_types(
            state in prop_oneof![Just("waiting"), Just("queuing"), Just("generating"), Just("success"), Just("fail"), Just("Failed"), Just("")],
            fields in proptest::collection::btree_map(
                prop_oneof![Just("failCode"), Just("failMsg"), Just("resultJson"), Just("param"), Just("costTime"),
                    Just("createTime"), Just("progress"), Just("creditsConsumed"), Just("model"), Just("somethingNew")],
                scalar(),
                0..8,
            ),
        ) {
            let mut data: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            data.insert("state".to_owned(), Value::String(state.to_owned()));
            let code_sent = data.get("failCode").cloned();
            let new_field = data.get("somethingNew").cloned();
            let task = TaskRef::market("t").unwrap();
            match MarketRecord::from_data(data, &task) {
                Ok(record) => {
                    prop_assert_eq!(record.extra.get("somethingNew").cloned(), new_field);
                    match code_sent {
                        Some(Value::Number(n)) => prop_assert_eq!(record.fail_code.clone(), Some(n.to_string())),
                        Some(Value::String(s)) if !s.is_empty() => prop_assert_eq!(record.fail_code.clone(), Some(s)),
                        _ => prop_assert_eq!(record.fail_code.clone(), None),
                    }
                    let view = record.view();
                    if view.status != TaskStatus::Succeeded {
                        prop_assert!(view.assets.is_empty());
                    }
                    prop_assert!(record.progress.is_none_or(|p| p <= 100));
                }
                Err(_) => prop_assert_eq!(state, "success", "only a success with unreadable results fails"),
            }
        }
    }
}
