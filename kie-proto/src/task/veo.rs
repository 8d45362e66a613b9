//! The Veo 3.1 family (families spec §2.1, §7): its own create (`/api/v1/veo/generate`),
//! extend, record (`/api/v1/veo/record-info`, the one source of truth for every Veo task
//! kind) and callback body, and two extras that are *not* plain tasks: the 1080p video
//! (a GET that answers "processing" until ready) and the 4K upgrade (a POST whose repeat
//! answers 422, with the URLs once it is done).
//!
//! Read with the tolerance the pages' disagreements ask for: `successFlag` as a number or
//! numeric text, 0 running, 1 succeeded, 2 failed, 3 failed upstream (the schema's enum
//! stops at 2, the text lists 3), any other value kept and never taken for finished; result
//! URLs at `data.response.resultUrls` (array) or `data.resultUrls` (a JSON string, the
//! quickstart's form), each as an array, a JSON array in a string, or `"[url, url]"`; times
//! as epoch seconds or milliseconds, or `"YYYY-MM-DD HH:mm:ss"` (read as UTC); callback
//! URLs at `data.info.resultUrls` (array or string) or, for the 4K callback's other schema,
//! `data.result_urls`; a failure callback may carry only the task id.

use std::time::Duration;

use http::{Method, Request};
use serde_json::{Map, Value};

use super::lenient::{epoch_ms, integer, number, scalar_text, text, url_list};
use super::record::record_data;
use super::{
    Asset, AssetRole, Family, PollPolicy, TaskRef, TaskStatus, TaskView, parse_created,
    recreate_may_help, with_task_id,
};
use crate::api::Api;
use crate::api_error::{ApiError, ErrorKind};
use crate::body::Body;
use crate::envelope::parse_envelope;
use crate::error::Error;
use crate::input::{HttpUrl, InvalidInput};
use crate::operation::{Operation, request};

const GENERATE_PATH: &str = "/api/v1/veo/generate";
const EXTEND_PATH: &str = "/api/v1/veo/extend";
const RECORD_PATH: &str = "/api/v1/veo/record-info";
const GET_1080P_PATH: &str = "/api/v1/veo/get-1080p-video";
const GET_4K_PATH: &str = "/api/v1/veo/get-4k-video";

/// How a Veo task is waited for unless the caller says otherwise: every 30 s, as the
/// callbacks page recommends (videos take minutes), within 30 minutes.
pub(super) fn poll_policy() -> PollPolicy {
    PollPolicy::default()
        .with_first_delay(Duration::from_secs(30))
        .with_factor(1.0)
        .with_max_delay(Duration::from_secs(30))
        .with_jitter(0.1)
        .with_deadline(Some(Duration::from_secs(30 * 60)))
        .with_not_visible_grace(Duration::from_secs(90))
}

/// A Veo generation model (`model` of [`VeoGenerate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VeoModel {
    /// `veo3`: Veo 3.1 Quality.
    Veo3,
    /// `veo3_fast`: Veo 3.1 Fast.
    Veo3Fast,
    /// `veo3_lite`: Veo 3.1 Lite.
    Veo3Lite,
}

impl VeoModel {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            VeoModel::Veo3 => "veo3",
            VeoModel::Veo3Fast => "veo3_fast",
            VeoModel::Veo3Lite => "veo3_lite",
        }
    }

    /// The model `name` names, if it is a Veo generation model.
    pub fn from_name(name: &str) -> Option<VeoModel> {
        [VeoModel::Veo3, VeoModel::Veo3Fast, VeoModel::Veo3Lite]
            .into_iter()
            .find(|model| model.name() == name)
    }
}

/// How a Veo video is made from its inputs (`generationType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GenerationType {
    /// `TEXT_2_VIDEO`: from the prompt alone.
    TextToVideo,
    /// `FIRST_AND_LAST_FRAMES_2_VIDEO`: `imageUrls` are the first (and last) frame.
    FirstAndLastFrames,
    /// `REFERENCE_2_VIDEO`: `imageUrls` are references.
    Reference,
}

impl GenerationType {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            GenerationType::TextToVideo => "TEXT_2_VIDEO",
            GenerationType::FirstAndLastFrames => "FIRST_AND_LAST_FRAMES_2_VIDEO",
            GenerationType::Reference => "REFERENCE_2_VIDEO",
        }
    }
}

/// `POST /api/v1/veo/generate`: a Veo 3.1 video from a prompt (and images). Its output is
/// the new task's [`TaskRef`] (`veo:<id>`). **Not idempotent**: a create that may have
/// arrived is never sent again ([`Error::MaybeCreated`]).
///
/// The body is the fields as set (the page mixes `aspect_ratio` with camelCase
/// `imageUrls`/`callBackUrl`; the setters write each as documented), so a field this type
/// has no setter for goes through [`from_fields`](Self::from_fields) unchanged.
///
/// ```
/// use kie_proto::{Api, ApiKey, Body, Operation};
/// use kie_proto::task::veo::{GenerationType, VeoGenerate, VeoModel};
/// let create = VeoGenerate::new("A dog playing in a park")?
///     .model(VeoModel::Veo3Fast)
///     .image_urls(["https://tempfile.redpandaai.co/kieai/1/dog.png"])
///     .generation_type(GenerationType::Reference)
///     .aspect_ratio("16:9")
///     .callback_url("https://example.com/kie/veo")?;
/// let request = create.to_request(&Api::new(ApiKey::new("sk-example")?))?;
/// assert_eq!(request.uri(), "https://api.kie.ai/api/v1/veo/generate");
/// assert_eq!(request.body(), &Body::Complete(br#"{"aspect_ratio":"16:9","callBackUrl":"https://example.com/kie/veo","generationType":"REFERENCE_2_VIDEO","imageUrls":["https://tempfile.redpandaai.co/kieai/1/dog.png"],"model":"veo3_fast","prompt":"A dog playing in a park"}"#.to_vec()));
/// let answer = http::Response::new(&br#"{"code":200,"msg":"success","data":{"taskId":"veo_task_abcdef123456"}}"#[..]);
/// assert_eq!(create.parse_response(answer)?.to_string(), "veo:veo_task_abcdef123456");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct VeoGenerate {
    fields: Map<String, Value>,
}

impl VeoGenerate {
    /// A video of `prompt` (non-empty), with the service's defaults for everything else.
    pub fn new(prompt: impl Into<String>) -> Result<VeoGenerate, InvalidInput> {
        VeoGenerate::from_fields(serde_json::json!({ "prompt": prompt.into() }))
    }

    /// A create from the body's fields as given (a JSON object with a non-empty string
    /// `prompt`; `model`, when present, a string; `imageUrls`, when present, a list of
    /// strings), sent verbatim.
    pub fn from_fields(fields: Value) -> Result<VeoGenerate, InvalidInput> {
        let Value::Object(fields) = fields else {
            return Err(InvalidInput::TaskInput);
        };
        let field_error = |field, expected| InvalidInput::TaskField { field, expected };
        match fields.get("prompt") {
            Some(Value::String(prompt)) if !prompt.trim().is_empty() => {}
            _ => return Err(field_error("prompt", "a non-empty string")),
        }
        if fields.get("model").is_some_and(|model| !model.is_string()) {
            return Err(field_error("model", "a string such as veo3_fast"));
        }
        if let Some(urls) = fields.get("imageUrls") {
            let strings = urls
                .as_array()
                .is_some_and(|urls| urls.iter().all(Value::is_string));
            if !strings {
                return Err(field_error("imageUrls", "a list of URLs"));
            }
        }
        Ok(VeoGenerate { fields })
    }

    fn set(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(field.to_owned(), value.into());
        self
    }

    /// `model`.
    pub fn model(self, model: VeoModel) -> Self {
        self.set("model", model.name())
    }

    /// `imageUrls`: the first (and last) frame, or references (1–3), per the generation
    /// type.
    pub fn image_urls<I, U>(self, urls: I) -> Self
    where
        I: IntoIterator<Item = U>,
        U: Into<String>,
    {
        let urls: Vec<Value> = urls
            .into_iter()
            .map(|url| Value::String(url.into()))
            .collect();
        self.set("imageUrls", urls)
    }

    /// `generationType`.
    pub fn generation_type(self, kind: GenerationType) -> Self {
        self.set("generationType", kind.name())
    }

    /// `aspect_ratio`: `16:9`, `9:16` or `Auto`.
    pub fn aspect_ratio(self, ratio: &str) -> Self {
        self.set("aspect_ratio", ratio)
    }

    /// `resolution`: `720p` (the default), `1080p` or `4k`.
    pub fn resolution(self, resolution: &str) -> Self {
        self.set("resolution", resolution)
    }

    /// `callBackUrl`: announce the finished task by a `POST` to `url` (absolute http(s)).
    pub fn callback_url(self, url: &str) -> Result<Self, InvalidInput> {
        let url = HttpUrl::new(url)?;
        Ok(self.set("callBackUrl", url.as_str()))
    }

    /// `enableTranslation` (on by default: the prompt is translated to English).
    pub fn enable_translation(self, on: bool) -> Self {
        self.set("enableTranslation", on)
    }

    /// `watermark`: text to put on the video.
    pub fn watermark(self, text: &str) -> Self {
        self.set("watermark", text)
    }

    /// `seeds` (in the page's example, not its schema).
    pub fn seeds(self, seed: u64) -> Self {
        self.set("seeds", seed)
    }

    /// The body's fields.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }
}

impl Operation for VeoGenerate {
    type Output = TaskRef;

    fn to_request(&self, api: &Api) -> Result<Request<Body>, InvalidInput> {
        json_request(api, GENERATE_PATH, &self.fields)
    }

    fn parse_response(&self, response: http::Response<&[u8]>) -> Result<TaskRef, ApiError> {
        parse_created(&response, Family::Veo)
    }

    fn is_idempotent(&self) -> bool {
        false
    }
}

fn json_request(
    api: &Api,
    path: &str,
    fields: &Map<String, Value>,
) -> Result<Request<Body>, InvalidInput> {
    let json = Value::Object(fields.clone()).to_string().into_bytes();
    request(
        api,
        Method::POST,
        api.api_url(path),
        Some("application/json"),
        Body::Complete(json),
    )
}

/// The model of a [`VeoExtend`]: its own names, not the `veo3_*` ones (families spec F6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VeoExtendModel {
    /// `fast`.
    Fast,
    /// `quality`.
    Quality,
    /// `lite`.
    Lite,
}

impl VeoExtendModel {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            VeoExtendModel::Fast => "fast",
            VeoExtendModel::Quality => "quality",
            VeoExtendModel::Lite => "lite",
        }
    }
}

/// `POST /api/v1/veo/extend`: continues a finished Veo video with `prompt`; a new task
/// (its record's `fullResultUrls` hold the whole video). Not idempotent.
///
/// ```
/// use kie_proto::{Api, ApiKey, Body, Operation};
/// use kie_proto::task::TaskRef;
/// use kie_proto::task::veo::{VeoExtend, VeoExtendModel};
/// let video = TaskRef::veo("veo_task_abcdef123456")?;
/// let extend = VeoExtend::new(&video, "The dog jumps into the lake")?.model(VeoExtendModel::Fast);
/// let request = extend.to_request(&Api::new(ApiKey::new("sk-example")?))?;
/// assert_eq!(request.uri(), "https://api.kie.ai/api/v1/veo/extend");
/// assert_eq!(request.body(), &Body::Complete(br#"{"model":"fast","prompt":"The dog jumps into the lake","taskId":"veo_task_abcdef123456"}"#.to_vec()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct VeoExtend {
    fields: Map<String, Value>,
}

impl VeoExtend {
    /// Extends `video` (a Veo task) with `prompt` (non-empty).
    pub fn new(video: &TaskRef, prompt: impl Into<String>) -> Result<VeoExtend, InvalidInput> {
        if video.family() != Family::Veo {
            return Err(InvalidInput::TaskField {
                field: "taskId",
                expected: "a Veo task (veo:<id>)",
            });
        }
        let prompt = prompt.into();
        if prompt.trim().is_empty() {
            return Err(InvalidInput::TaskField {
                field: "prompt",
                expected: "a non-empty string",
            });
        }
        let mut fields = Map::new();
        fields.insert("taskId".to_owned(), Value::String(video.id().to_owned()));
        fields.insert("prompt".to_owned(), Value::String(prompt));
        Ok(VeoExtend { fields })
    }

    /// `model`.
    pub fn model(mut self, model: VeoExtendModel) -> Self {
        self.fields.insert("model".to_owned(), model.name().into());
        self
    }

    /// `seeds`.
    pub fn seeds(mut self, seed: u64) -> Self {
        self.fields.insert("seeds".to_owned(), seed.into());
        self
    }

    /// `watermark`.
    pub fn watermark(mut self, text: &str) -> Self {
        self.fields.insert("watermark".to_owned(), text.into());
        self
    }

    /// `callBackUrl`.
    pub fn callback_url(mut self, url: &str) -> Result<Self, InvalidInput> {
        let url = HttpUrl::new(url)?;
        self.fields
            .insert("callBackUrl".to_owned(), url.as_str().into());
        Ok(self)
    }
}

impl Operation for VeoExtend {
    type Output = TaskRef;

    fn to_request(&self, api: &Api) -> Result<Request<Body>, InvalidInput> {
        json_request(api, EXTEND_PATH, &self.fields)
    }

    fn parse_response(&self, response: http::Response<&[u8]>) -> Result<TaskRef, ApiError> {
        parse_created(&response, Family::Veo)
    }

    fn is_idempotent(&self) -> bool {
        false
    }
}

/// `GET /api/v1/veo/record-info?taskId=…`.
pub(super) fn record_request(api: &Api, task: &TaskRef) -> Result<Request<Body>, InvalidInput> {
    let url = with_task_id(api.api_url(RECORD_PATH), task);
    request(api, Method::GET, url, None, Body::Empty)
}

/// Reads a `record-info` answer; 422 "record is null" (and a success without data) is
/// [`ErrorKind::TaskNotVisible`].
pub(super) fn parse_record(
    response: &http::Response<&[u8]>,
    task: &TaskRef,
) -> Result<VeoRecord, ApiError> {
    record_data(response, "record is null").map(|data| VeoRecord::from_data(data, task))
}

/// The record of a Veo task (`record-info`'s `data`): generate, extend and 4K tasks alike.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VeoRecord {
    /// The task.
    pub task: TaskRef,
    /// `successFlag`: 0 generating, 1 success, 2 failed, 3 failed upstream; others kept.
    pub success_flag: Option<i64>,
    /// The videos (`response.resultUrls`, or the quickstart's string `resultUrls`).
    pub result_urls: Vec<String>,
    /// The whole video after an extend (`response.fullResultUrls`).
    pub full_result_urls: Vec<String>,
    /// The videos before reframing, when the aspect ratio is not 16:9 (`originUrls`).
    pub origin_urls: Vec<String>,
    /// `response.resolution`.
    pub resolution: Option<String>,
    /// `paramJson`, the create's parameters as the raw text sent.
    pub param_json: Option<String>,
    /// `errorCode`, as text.
    pub error_code: Option<String>,
    /// `errorMessage`.
    pub error_message: Option<String>,
    /// `createTime`, epoch milliseconds.
    pub create_time: Option<i64>,
    /// `completeTime`, epoch milliseconds.
    pub complete_time: Option<i64>,
    /// `creditsConsumed`, where present (one integrator report; no page shows it).
    pub credits_consumed: Option<f64>,
    /// `fallbackFlag` (legacy).
    pub fallback_flag: Option<bool>,
    /// Every other field, as sent.
    pub extra: Map<String, Value>,
}

impl VeoRecord {
    fn from_data(mut data: Map<String, Value>, task: &TaskRef) -> VeoRecord {
        let task = data
            .remove("taskId")
            .as_ref()
            .and_then(scalar_text)
            .and_then(|id| TaskRef::veo(id).ok())
            .unwrap_or_else(|| task.clone());
        let response = match data.remove("response") {
            Some(Value::Object(response)) => response,
            _ => Map::new(),
        };
        let mut result_urls = url_list(response.get("resultUrls"));
        if result_urls.is_empty() {
            result_urls = url_list(data.get("resultUrls").or(response.get("resultUrl")));
        }
        data.remove("resultUrls");
        let origin_urls = url_list(response.get("originUrls").or(data.get("originUrls")));
        data.remove("originUrls");
        VeoRecord {
            task,
            success_flag: data.remove("successFlag").as_ref().and_then(integer),
            result_urls,
            full_result_urls: url_list(response.get("fullResultUrls")),
            origin_urls,
            resolution: response.get("resolution").and_then(text),
            param_json: data.remove("paramJson").and_then(|value| match value {
                Value::String(text) => Some(text),
                Value::Null => None,
                other => Some(other.to_string()),
            }),
            error_code: data.remove("errorCode").as_ref().and_then(scalar_text),
            error_message: data.remove("errorMessage").as_ref().and_then(text),
            create_time: data.remove("createTime").as_ref().and_then(epoch_ms),
            complete_time: data.remove("completeTime").as_ref().and_then(epoch_ms),
            credits_consumed: data.remove("creditsConsumed").as_ref().and_then(number),
            fallback_flag: data.remove("fallbackFlag").and_then(|flag| flag.as_bool()),
            extra: data,
        }
    }

    /// The common view: `successFlag` mapped (an undocumented value is
    /// [`TaskStatus::Unknown`], never finished), the videos as assets (results, the whole
    /// extended video, the originals before reframing).
    pub fn view(&self) -> TaskView {
        let failed = |upstream: bool| TaskStatus::Failed {
            recreate_may_help: upstream
                || recreate_may_help(self.error_code.as_deref(), self.error_message.as_deref()),
            code: self.error_code.clone(),
            message: self.error_message.clone(),
        };
        let status = match self.success_flag {
            Some(0) => TaskStatus::Running {
                stage: "generating".to_owned(),
                progress: None,
            },
            Some(1) => TaskStatus::Succeeded,
            Some(2) => failed(false),
            Some(3) => failed(true),
            Some(other) => TaskStatus::Unknown(format!("successFlag {other}")),
            None => TaskStatus::Unknown("no successFlag".to_owned()),
        };
        let assets = if status == TaskStatus::Succeeded {
            assets(&self.result_urls, &self.full_result_urls, &self.origin_urls)
        } else {
            Vec::new()
        };
        TaskView {
            task: self.task.clone(),
            model: self.model(),
            status,
            assets,
            result: None,
            credits_consumed: self.credits_consumed,
            created_ms: self.create_time,
            completed_ms: self.complete_time,
        }
    }

    /// The model, from `paramJson` when it says.
    fn model(&self) -> Option<String> {
        let param: Value = serde_json::from_str(self.param_json.as_deref()?).ok()?;
        param.get("model").and_then(text)
    }
}

fn assets(results: &[String], full: &[String], origin: &[String]) -> Vec<Asset> {
    let role = |urls: &[String], role| {
        urls.iter()
            .map(move |url| Asset {
                url: url.clone(),
                role,
            })
            .collect::<Vec<_>>()
    };
    let mut assets = role(results, AssetRole::Result);
    assets.extend(role(full, AssetRole::FullVideo));
    assets.extend(role(origin, AssetRole::Original));
    assets
}

/// Where a 1080p or 4K upgrade is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VeoUpgrade {
    /// Done: the upgraded video's URLs.
    Ready(Vec<String>),
    /// Not ready yet (the service's words, when it said any): ask again later.
    Processing(Option<String>),
    /// A 4K upgrade was started as a task of its own (tracked at `record-info` or by its
    /// callback), when the answer names it.
    Started(Option<TaskRef>),
}

/// `GET /api/v1/veo/get-1080p-video?taskId=…&index=…`: the 1080p version of a finished
/// 720p video. Not a task: it answers "processing" (a refusal code with that word) until
/// the video is ready — [`VeoUpgrade::Processing`], not an error — then its URL. Ask again
/// every 20–30 s ([`Veo1080pWait`]); it takes about 1–3 minutes.
///
/// ```
/// use kie_proto::{Api, ApiKey, Operation};
/// use kie_proto::task::TaskRef;
/// use kie_proto::task::veo::{VeoGet1080p, VeoUpgrade};
/// let get = VeoGet1080p::new(&TaskRef::veo("veo_task_abcdef123456")?, Some(0));
/// let request = get.to_request(&Api::new(ApiKey::new("sk-example")?))?;
/// assert_eq!(request.uri(), "https://api.kie.ai/api/v1/veo/get-1080p-video?taskId=veo_task_abcdef123456&index=0");
/// let early = http::Response::new(&br#"{"code":400,"msg":"1080P is processing. It should be ready in 1-2 minutes. Please check back shortly."}"#[..]);
/// assert!(matches!(get.parse_response(early)?, VeoUpgrade::Processing(Some(_))));
/// let ready = http::Response::new(&br#"{"code":200,"msg":"success","data":{"resultUrl":"https://tempfile.aiquickdraw.com/p/1080.mp4"}}"#[..]);
/// assert_eq!(get.parse_response(ready)?, VeoUpgrade::Ready(vec!["https://tempfile.aiquickdraw.com/p/1080.mp4".into()]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VeoGet1080p {
    task: TaskRef,
    index: Option<u32>,
}

impl VeoGet1080p {
    /// The 1080p video of `task`'s video number `index` (the first when `None`).
    pub fn new(task: &TaskRef, index: Option<u32>) -> VeoGet1080p {
        VeoGet1080p {
            task: task.clone(),
            index,
        }
    }
}

impl Operation for VeoGet1080p {
    type Output = VeoUpgrade;

    fn to_request(&self, api: &Api) -> Result<Request<Body>, InvalidInput> {
        let mut url = with_task_id(api.api_url(GET_1080P_PATH), &self.task);
        if let Some(index) = self.index {
            url.push_str(&format!("&index={index}"));
        }
        request(api, Method::GET, url, None, Body::Empty)
    }

    fn parse_response(&self, response: http::Response<&[u8]>) -> Result<VeoUpgrade, ApiError> {
        upgrade(&response)
    }
}

/// `POST /api/v1/veo/get-4k-video`: starts the 4K version of a finished video (extra
/// credits; 5–10 minutes). The first answer names the upgrade's task
/// ([`VeoUpgrade::Started`]); asking again answers 422, "processing"
/// ([`VeoUpgrade::Processing`]) or "generated successfully" with the URLs
/// ([`VeoUpgrade::Ready`]) — both are answers, not errors. Not idempotent: a create that
/// may have arrived is not sent again.
///
/// ```
/// use kie_proto::{Api, ApiKey, Body, Operation};
/// use kie_proto::task::TaskRef;
/// use kie_proto::task::veo::{VeoGet4k, VeoUpgrade};
/// let get = VeoGet4k::new(&TaskRef::veo("veo_task_abcdef123456")?, None);
/// let request = get.to_request(&Api::new(ApiKey::new("sk-example")?))?;
/// assert_eq!(request.body(), &Body::Complete(br#"{"taskId":"veo_task_abcdef123456"}"#.to_vec()));
/// let again = http::Response::new(&br#"{"code":422,"msg":"The video has been generated successfully","data":{"taskId":"veo_task_abcdef123456","resultUrls":["https://tempfile.aiquickdraw.com/p/4k.mp4"]}}"#[..]);
/// assert_eq!(get.parse_response(again)?, VeoUpgrade::Ready(vec!["https://tempfile.aiquickdraw.com/p/4k.mp4".into()]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct VeoGet4k {
    fields: Map<String, Value>,
}

impl VeoGet4k {
    /// The 4K version of `task`'s video number `index` (the first when `None`).
    pub fn new(task: &TaskRef, index: Option<u32>) -> VeoGet4k {
        let mut fields = Map::new();
        fields.insert("taskId".to_owned(), Value::String(task.id().to_owned()));
        if let Some(index) = index {
            fields.insert("index".to_owned(), index.into());
        }
        VeoGet4k { fields }
    }

    /// `callBackUrl`: announce the 4K video by a `POST` to `url`.
    pub fn callback_url(mut self, url: &str) -> Result<Self, InvalidInput> {
        let url = HttpUrl::new(url)?;
        self.fields
            .insert("callBackUrl".to_owned(), url.as_str().into());
        Ok(self)
    }
}

impl Operation for VeoGet4k {
    type Output = VeoUpgrade;

    fn to_request(&self, api: &Api) -> Result<Request<Body>, InvalidInput> {
        json_request(api, GET_4K_PATH, &self.fields)
    }

    fn parse_response(&self, response: http::Response<&[u8]>) -> Result<VeoUpgrade, ApiError> {
        upgrade(&response)
    }

    fn is_idempotent(&self) -> bool {
        false
    }
}

/// An upgrade answer: URLs in `data` (even under a refusal code: the 4K repeat answers 422
/// with them) are ready; a refusal that says "processing" is not ready; a success without
/// URLs that names a task started one.
fn upgrade(response: &http::Response<&[u8]>) -> Result<VeoUpgrade, ApiError> {
    let body: Option<Value> = serde_json::from_slice(response.body()).ok();
    let data = body.as_ref().and_then(|body| body.get("data"));
    let urls = |data: Option<&Value>| {
        let data = data?;
        let mut urls = url_list(data.get("resultUrls"));
        if urls.is_empty() {
            urls = url_list(data.get("resultUrl"));
        }
        (!urls.is_empty()).then_some(urls)
    };
    match parse_envelope::<Option<Value>>(response) {
        Ok(data) => Ok(match urls(data.as_ref()) {
            Some(urls) => VeoUpgrade::Ready(urls),
            None => {
                let started = data
                    .as_ref()
                    .and_then(|data| data.get("taskId"))
                    .and_then(scalar_text)
                    .and_then(|id| TaskRef::veo(id).ok());
                match started {
                    Some(task) => VeoUpgrade::Started(Some(task)),
                    None => VeoUpgrade::Processing(None),
                }
            }
        }),
        Err(error) if error.code.is_some() => {
            if let Some(urls) = urls(data) {
                return Ok(VeoUpgrade::Ready(urls));
            }
            let processing = error
                .message
                .as_deref()
                .is_some_and(|message| message.to_ascii_lowercase().contains("processing"));
            if processing {
                Ok(VeoUpgrade::Processing(error.message))
            } else {
                Err(error)
            }
        }
        Err(error) => Err(error),
    }
}

/// The pacing of a wait for a 1080p video (pure, like the poll policy; the driver keeps
/// the time): ask again every `spacing` (20–30 s by default, as the page advises, the
/// point in the range picked by a random number), within `deadline` (5 minutes by
/// default; the page says 1–3).
///
/// ```
/// use std::time::Duration;
/// use kie_proto::task::TaskRef;
/// use kie_proto::task::veo::{UpgradeStep, Veo1080pWait, VeoUpgrade};
/// let task = TaskRef::veo("v1")?;
/// let wait = Veo1080pWait::default();
/// let step = wait.after(&task, VeoUpgrade::Processing(None), Duration::ZERO, 0.5);
/// assert!(matches!(step, UpgradeStep::AskAfter(pause) if pause == Duration::from_secs(25)));
/// let ready = VeoUpgrade::Ready(vec!["https://f/1080.mp4".into()]);
/// assert!(matches!(wait.after(&task, ready, Duration::ZERO, 0.5), UpgradeStep::Ready(urls) if urls == ["https://f/1080.mp4"]));
/// let late = wait.after(&task, VeoUpgrade::Processing(None), Duration::from_secs(290), 0.5);
/// assert!(matches!(late, UpgradeStep::GiveUp(_)));
/// # Ok::<(), kie_proto::InvalidInput>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Veo1080pWait {
    spacing: (Duration, Duration),
    deadline: Duration,
}

impl Default for Veo1080pWait {
    fn default() -> Self {
        Veo1080pWait {
            spacing: (Duration::from_secs(20), Duration::from_secs(30)),
            deadline: Duration::from_secs(5 * 60),
        }
    }
}

/// What to do after a [`Veo1080pWait`] answer.
#[derive(Debug)]
pub enum UpgradeStep {
    /// The video's URLs.
    Ready(Vec<String>),
    /// Ask again after this pause.
    AskAfter(Duration),
    /// The deadline would pass first ([`Error::TaskWait`]: the video may still come).
    GiveUp(Error),
}

impl Veo1080pWait {
    /// Ask again between `min` and `max` apart.
    pub fn with_spacing(mut self, min: Duration, max: Duration) -> Self {
        self.spacing = (min, max.max(min));
        self
    }

    /// Give up once this long has passed since the first ask.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The deadline, from the first ask.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The error a failed ask ends the wait with, `waited` after the first ask: the call
    /// has retried what it could, so it ends the wait; one cut by the wait's own deadline
    /// says the video was not ready in time (it may still come), as a "processing" answer
    /// at the deadline would.
    pub fn after_error(&self, task: &TaskRef, error: Error, waited: Duration) -> Error {
        if waited >= self.deadline {
            self.not_ready(task)
        } else {
            error
        }
    }

    fn not_ready(&self, task: &TaskRef) -> Error {
        Error::TaskWait {
            task: task.to_string(),
            reason: format!(
                "its 1080p video was not ready within {} s",
                self.deadline.as_secs_f64()
            ),
            may_finish: true,
        }
    }

    /// The next step after `answer` about `task`, `waited` after the first ask; `random`
    /// in `[0, 1)` picks the pause.
    pub fn after(
        &self,
        task: &TaskRef,
        answer: VeoUpgrade,
        waited: Duration,
        random: f64,
    ) -> UpgradeStep {
        match answer {
            VeoUpgrade::Ready(urls) => UpgradeStep::Ready(urls),
            _ => {
                let (min, max) = self.spacing;
                let pause = min + (max - min).mul_f64(random.clamp(0.0, 1.0));
                if waited + pause > self.deadline {
                    UpgradeStep::GiveUp(self.not_ready(task))
                } else {
                    UpgradeStep::AskAfter(pause)
                }
            }
        }
    }
}

/// A Veo callback (families spec §2.1): `code` 200 for a success (400 content policy or
/// input, 422 rejected, 500 internal, 501 failed), `msg`, and `data` with `taskId` and, on
/// success, `info.resultUrls` (an array, or a string holding one), `info.originUrls`,
/// `info.resolution`. A failure may carry only the task id. The 4K callback's other schema
/// (`data.task_id`, `data.result_urls`) reads the same.
///
/// ```
/// use kie_proto::task::{TaskStatus, VeoCallback};
/// // The OpenAPI form: resultUrls as a string.
/// let body = br#"{"code":200,"msg":"Veo3.1 video generated successfully.","data":{"taskId":"veo_task_abcdef123456","info":{"resultUrls":"[http://example.com/video1.mp4]","originUrls":"[http://example.com/original_video1.mp4]","resolution":"1080p"},"fallbackFlag":false}}"#;
/// let view = VeoCallback::parse(body)?.view();
/// assert_eq!(view.status, TaskStatus::Succeeded);
/// assert_eq!(view.assets[0].url, "http://example.com/video1.mp4");
/// let failed = VeoCallback::parse(br#"{"code":400,"msg":"Your prompt was flagged by Website as violating content policies.","data":{"taskId":"veo_task_abcdef123456","fallbackFlag":false}}"#)?;
/// assert!(matches!(failed.view().status, TaskStatus::Failed { recreate_may_help: false, .. }));
/// # Ok::<(), kie_proto::ApiError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VeoCallback {
    /// `code`.
    pub code: Option<i64>,
    /// `msg` (or `message`).
    pub message: Option<String>,
    /// The task.
    pub task: TaskRef,
    /// The videos.
    pub result_urls: Vec<String>,
    /// The videos before reframing.
    pub origin_urls: Vec<String>,
    /// The resolution.
    pub resolution: Option<String>,
    /// `creditsConsumed`, where present.
    pub credits_consumed: Option<f64>,
}

impl VeoCallback {
    /// Reads a callback body; one that is not a JSON object or names no task is
    /// [`ErrorKind::MalformedResponse`].
    pub fn parse(body: &[u8]) -> Result<VeoCallback, ApiError> {
        let malformed = |message: &str| ApiError {
            message: Some(message.to_owned()),
            ..ApiError::new(http::StatusCode::OK, ErrorKind::MalformedResponse)
        };
        let Ok(Value::Object(top)) = serde_json::from_slice::<Value>(body) else {
            return Err(malformed("the callback body is not a JSON object"));
        };
        let data = top.get("data").cloned().unwrap_or(Value::Null);
        let id = data
            .get("taskId")
            .and_then(scalar_text)
            .or_else(|| data.get("task_id").and_then(scalar_text))
            .or_else(|| top.get("taskId").and_then(scalar_text))
            .ok_or_else(|| malformed("the callback body names no task"))?;
        let task = TaskRef::veo(id).map_err(|_| malformed("the callback's task id is invalid"))?;
        let info = data.get("info").unwrap_or(&Value::Null);
        let mut result_urls = url_list(info.get("resultUrls"));
        if result_urls.is_empty() {
            result_urls = url_list(info.get("result_urls").or(data.get("result_urls")));
        }
        Ok(VeoCallback {
            code: top.get("code").and_then(integer),
            message: top.get("msg").or(top.get("message")).and_then(text),
            task,
            result_urls,
            origin_urls: url_list(info.get("originUrls")),
            resolution: info.get("resolution").and_then(text),
            credits_consumed: data.get("creditsConsumed").and_then(number),
        })
    }

    /// The common view: code 200 succeeded with the videos; any other code failed, with
    /// the code and message (a 5xx may succeed when run again).
    pub fn view(&self) -> TaskView {
        let status = if self.code == Some(200) {
            TaskStatus::Succeeded
        } else {
            let code = self.code.map(|code| code.to_string());
            TaskStatus::Failed {
                recreate_may_help: recreate_may_help(code.as_deref(), self.message.as_deref()),
                code,
                message: self.message.clone(),
            }
        };
        let assets = if status == TaskStatus::Succeeded {
            assets(&self.result_urls, &[], &self.origin_urls)
        } else {
            Vec::new()
        };
        TaskView {
            task: self.task.clone(),
            model: None,
            status,
            assets,
            result: None,
            credits_consumed: self.credits_consumed,
            created_ms: None,
            completed_ms: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> Result<VeoRecord, ApiError> {
        let task = TaskRef::veo("veo_task_abcdef123456").unwrap();
        parse_record(&http::Response::new(json.as_bytes()), &task)
    }

    /// The documented record example (get-veo-3-1-details, OpenAPI form).
    #[test]
    fn documented_record() {
        let rec = record(r#"{"code":200,"msg":"success","data":{"taskId":"veo_task_abcdef123456","paramJson":"{\"prompt\":\"A futuristic city with flying cars at sunset.\",\"waterMark\":\"KieAI\",\"model\":\"veo3_fast\"}","completeTime":"2025-06-06 10:30:00","response":{"taskId":"veo_task_abcdef123456","resultUrls":["http://example.com/video1.mp4"],"originUrls":["http://example.com/original_video1.mp4"],"resolution":"1080p"},"successFlag":1,"errorCode":null,"errorMessage":"","createTime":"2025-06-06 10:25:00","fallbackFlag":false}}"#).unwrap();
        let view = rec.view();
        assert_eq!(view.status, TaskStatus::Succeeded);
        assert_eq!(view.model.as_deref(), Some("veo3_fast"));
        assert_eq!(view.assets.len(), 2);
        assert_eq!(
            (view.assets[0].role, view.assets[1].role),
            (AssetRole::Result, AssetRole::Original)
        );
        assert_eq!(view.created_ms, Some(1_749_205_500_000));
        assert_eq!(view.completed_ms, Some(1_749_205_800_000));
        assert_eq!(rec.resolution.as_deref(), Some("1080p"));
        assert_eq!(rec.fallback_flag, Some(false));
    }

    #[test]
    fn every_documented_variant_reads() {
        // The quickstart's form: resultUrls a JSON string at data level; times in ms.
        let rec = record(r#"{"code":200,"msg":"success","data":{"taskId":"veo_task_abcdef123456","successFlag":"1","resultUrls":"[\"https://a/1.mp4\"]","createTime":1749205500000}}"#).unwrap();
        assert_eq!(rec.result_urls, ["https://a/1.mp4"]);
        assert_eq!(rec.create_time, Some(1_749_205_500_000));
        // successFlag 2 and 3: failed, 3 upstream (worth running again); errorCode a number.
        let rec = record(r#"{"code":200,"msg":"success","data":{"successFlag":2,"errorCode":400,"errorMessage":"Your prompt was flagged"}}"#).unwrap();
        assert!(
            matches!(rec.view().status, TaskStatus::Failed { recreate_may_help: false, ref code, .. } if code.as_deref() == Some("400"))
        );
        let rec = record(r#"{"code":200,"msg":"success","data":{"successFlag":3}}"#).unwrap();
        assert!(matches!(
            rec.view().status,
            TaskStatus::Failed {
                recreate_may_help: true,
                ..
            }
        ));
        // Undocumented or missing flags never finish a task.
        for data in [r#"{"successFlag":4}"#, r#"{}"#, r#"{"successFlag":"soon"}"#] {
            let rec = record(&format!(r#"{{"code":200,"msg":"success","data":{data}}}"#)).unwrap();
            assert!(
                matches!(rec.view().status, TaskStatus::Unknown(_)),
                "{data}"
            );
            assert!(!rec.view().status.is_terminal());
        }
        // Running: no assets even when URLs are present.
        let rec = record(r#"{"code":200,"msg":"success","data":{"successFlag":0,"response":{"resultUrls":["https://a/x.mp4"]}}}"#).unwrap();
        assert!(rec.view().assets.is_empty());
        // An extend: the whole video too.
        let rec = record(r#"{"code":200,"msg":"success","data":{"successFlag":1,"response":{"resultUrls":["https://a/ext.mp4"],"fullResultUrls":["https://a/full.mp4"]}}}"#).unwrap();
        let roles: Vec<AssetRole> = rec.view().assets.iter().map(|a| a.role).collect();
        assert_eq!(roles, [AssetRole::Result, AssetRole::FullVideo]);
    }

    #[test]
    fn not_visible_and_refusals() {
        for body in [
            r#"{"code":422,"msg":"record is null"}"#,
            r#"{"code":200,"msg":"success","data":null}"#,
        ] {
            assert_eq!(
                record(body).unwrap_err().kind,
                ErrorKind::TaskNotVisible,
                "{body}"
            );
        }
        assert_eq!(
            record(r#"{"code":422,"msg":"Temporarily supports records within 14 days"}"#)
                .unwrap_err()
                .kind,
            ErrorKind::Validation
        );
        assert_eq!(
            record(r#"{"code":401,"msg":"Unauthorized"}"#)
                .unwrap_err()
                .kind,
            ErrorKind::Unauthorized
        );
    }

    #[test]
    fn generate_checks_its_fields_before_sending() {
        assert!(VeoGenerate::new("  ").is_err());
        for fields in [
            serde_json::json!({}),
            serde_json::json!({"prompt": 3}),
            serde_json::json!({"prompt": "x", "model": 3}),
            serde_json::json!({"prompt": "x", "imageUrls": "https://a/1.png"}),
            serde_json::json!(["prompt"]),
        ] {
            assert!(
                VeoGenerate::from_fields(fields.clone()).is_err(),
                "{fields}"
            );
        }
        let create = VeoGenerate::from_fields(
            serde_json::json!({"prompt": "x", "model": "veo3", "seeds": 7}),
        )
        .unwrap();
        assert_eq!(create.fields()["seeds"], 7);
        assert!(!create.is_idempotent());
        assert!(VeoExtend::new(&TaskRef::market("m").unwrap(), "more").is_err());
        assert_eq!(VeoModel::from_name("veo3_lite"), Some(VeoModel::Veo3Lite));
        assert_eq!(VeoModel::from_name("google/veo3"), None);
    }

    #[test]
    fn upgrades_tell_ready_processing_and_refused_apart() {
        let task = TaskRef::veo("v").unwrap();
        let get = VeoGet1080p::new(&task, None);
        let parse = |body: &str| get.parse_response(http::Response::new(body.as_bytes()));
        assert_eq!(
            parse(r#"{"code":200,"msg":"success","data":{"resultUrl":"https://a/1080.mp4"}}"#)
                .unwrap(),
            VeoUpgrade::Ready(vec!["https://a/1080.mp4".into()])
        );
        assert_eq!(
            parse(r#"{"code":200,"msg":"success","data":null}"#).unwrap(),
            VeoUpgrade::Processing(None)
        );
        assert!(matches!(
            parse(r#"{"code":400,"msg":"1080P is processing."}"#).unwrap(),
            VeoUpgrade::Processing(Some(_))
        ));
        assert_eq!(
            parse(r#"{"code":422,"msg":"record status is not success"}"#)
                .unwrap_err()
                .kind,
            ErrorKind::Validation
        );
        let four_k = VeoGet4k::new(&task, Some(1));
        let parse = |body: &str| four_k.parse_response(http::Response::new(body.as_bytes()));
        assert_eq!(parse(r#"{"code":200,"msg":"success","data":{"taskId":"veo_4k_1","resultUrls":null,"imageUrls":null}}"#).unwrap(), VeoUpgrade::Started(Some(TaskRef::veo("veo_4k_1").unwrap())));
        assert!(matches!(
            parse(r#"{"code":422,"msg":"4k is processing, please wait"}"#).unwrap(),
            VeoUpgrade::Processing(Some(_))
        ));
        assert_eq!(
            parse(r#"{"code":402,"msg":"Insufficient credits"}"#)
                .unwrap_err()
                .kind,
            ErrorKind::InsufficientCredits
        );
    }

    #[test]
    fn a_failed_ask_at_the_deadline_says_the_video_may_still_come() {
        let task = TaskRef::veo("v").unwrap();
        let wait = Veo1080pWait::default().with_deadline(Duration::from_secs(10));
        let cut = || Error::Config {
            what: "a test",
            source: "cut".into(),
        };
        assert!(matches!(
            wait.after_error(&task, cut(), Duration::from_secs(3)),
            Error::Config { .. }
        ));
        assert!(matches!(
            wait.after_error(&task, cut(), Duration::from_secs(10)),
            Error::TaskWait {
                may_finish: true,
                ..
            }
        ));
    }

    #[test]
    fn callbacks_read_in_every_documented_form() {
        // The callbacks page: an array; the 4K OpenAPI schema: task_id and result_urls.
        for body in [
            r#"{"code":200,"msg":"ok","data":{"taskId":"veo_task_1","info":{"resultUrls":["https://a/1.mp4"]}}}"#,
            r#"{"code":200,"msg":"ok","data":{"task_id":"veo_task_1","result_urls":["https://a/1.mp4"],"media_ids":["m"]}}"#,
            r#"{"code":200,"msg":"ok","taskId":"veo_task_1","data":{"info":{"resultUrls":"[\"https://a/1.mp4\"]"}}}"#,
        ] {
            let callback = VeoCallback::parse(body.as_bytes()).unwrap();
            assert_eq!(callback.task.to_string(), "veo:veo_task_1", "{body}");
            assert_eq!(callback.view().assets[0].url, "https://a/1.mp4", "{body}");
        }
        let internal = VeoCallback::parse(
            br#"{"code":500,"msg":"Internal Error","data":{"taskId":"veo_task_1"}}"#,
        )
        .unwrap();
        assert!(matches!(
            internal.view().status,
            TaskStatus::Failed {
                recreate_may_help: true,
                ..
            }
        ));
        for bad in [&b"[]"[..], b"{}", br#"{"code":200,"data":{}}"#] {
            assert!(VeoCallback::parse(bad).is_err());
        }
    }
}
