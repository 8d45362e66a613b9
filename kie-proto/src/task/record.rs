//! The family-neutral record read ([`GetTask`]) and callback ([`TaskCallback`]): each hands
//! the wire to its family's module, so a saved [`TaskRef`] is read without guessing the
//! endpoint, and a receiver reads any family's callback into the same [`TaskView`].

use http::Request;

use super::{
    Family, MarketCallback, MarketRecord, TaskRef, TaskView, VeoCallback, VeoRecord, market, veo,
};
use crate::api::Api;
use crate::api_error::ApiError;
use crate::body::Body;
use crate::input::InvalidInput;
use crate::operation::Operation;

/// Reads a task's record at its family's endpoint (Market `GET /api/v1/jobs/recordInfo`,
/// Veo `GET /api/v1/veo/record-info`; `?taskId=…`). Idempotent: retried like any read.
///
/// The "not visible yet" answer of each family (Market 422 "recordInfo is null", Veo 422
/// "record is null" — what the service answers right after a create, and for unknown
/// ids) is [`ErrorKind::TaskNotVisible`](crate::ErrorKind::TaskNotVisible): a poller
/// tolerates it for a grace period. A success whose results cannot be read is
/// [`ErrorKind::MalformedResponse`](crate::ErrorKind::MalformedResponse) with an excerpt.
///
/// ```
/// use kie_proto::{Api, ApiKey, ErrorKind, Operation};
/// use kie_proto::task::{TaskRef, TaskStatus};
/// let api = Api::new(ApiKey::new("sk-example")?);
/// assert!(TaskRef::market("task 1").is_err()); // white space: refused before anything is sent
/// let get = TaskRef::market("task_google_1765178615729")?.get();
/// assert_eq!(get.to_request(&api)?.uri(), "https://api.kie.ai/api/v1/jobs/recordInfo?taskId=task_google_1765178615729");
/// let answer = http::Response::new(&br#"{"code":200,"message":"success","data":{"taskId":"task_google_1765178615729","model":"google/nano-banana-edit","state":"success","param":"{}","resultJson":"{\"resultUrls\":[\"https://tempfile.aiquickdraw.com/a.png\"]}","failCode":"","failMsg":"","costTime":15000,"completeTime":1757584164490,"createTime":1757584164490}}"#[..]);
/// let view = get.parse_response(answer)?.view();
/// assert_eq!(view.status, TaskStatus::Succeeded);
/// assert_eq!(view.assets[0].url, "https://tempfile.aiquickdraw.com/a.png");
/// let early = http::Response::new(&br#"{"code":422,"msg":"recordInfo is null","data":null}"#[..]);
/// assert_eq!(get.parse_response(early).unwrap_err().kind, ErrorKind::TaskNotVisible);
///
/// // A Veo task: its own endpoint, the same view.
/// let get = "veo:veo_task_abcdef123456".parse::<TaskRef>()?.get();
/// assert_eq!(get.to_request(&api)?.uri(), "https://api.kie.ai/api/v1/veo/record-info?taskId=veo_task_abcdef123456");
/// let answer = http::Response::new(&br#"{"code":200,"msg":"success","data":{"taskId":"veo_task_abcdef123456","successFlag":1,"response":{"resultUrls":["https://file.aiquickdraw.com/v/1.mp4"],"resolution":"720p"}}}"#[..]);
/// let view = get.parse_response(answer)?.view();
/// assert_eq!((view.status, view.assets[0].url.as_str()), (TaskStatus::Succeeded, "https://file.aiquickdraw.com/v/1.mp4"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetTask {
    task: TaskRef,
}

impl GetTask {
    /// The record of `task`, at its family's endpoint ([`TaskRef::get`] says the same).
    pub fn new(task: TaskRef) -> GetTask {
        GetTask { task }
    }

    /// The task.
    pub fn task(&self) -> &TaskRef {
        &self.task
    }
}

impl Operation for GetTask {
    type Output = TaskRecord;

    fn to_request(&self, api: &Api) -> Result<Request<Body>, InvalidInput> {
        match self.task.family() {
            Family::Market => market::record_request(api, &self.task),
            Family::Veo => veo::record_request(api, &self.task),
        }
    }

    fn parse_response(&self, response: http::Response<&[u8]>) -> Result<TaskRecord, ApiError> {
        match self.task.family() {
            Family::Market => market::parse_record(&response, &self.task).map(TaskRecord::Market),
            Family::Veo => veo::parse_record(&response, &self.task).map(TaskRecord::Veo),
        }
    }
}

/// A task's record, in its family's own fields; [`view`](Self::view) maps it to the common
/// [`TaskView`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TaskRecord {
    /// A Market task's record.
    Market(MarketRecord),
    /// A Veo 3.1 task's record.
    Veo(VeoRecord),
}

impl TaskRecord {
    /// The task.
    pub fn task(&self) -> &TaskRef {
        match self {
            TaskRecord::Market(record) => &record.task,
            TaskRecord::Veo(record) => &record.task,
        }
    }

    /// The common view: status, assets, credits, times.
    pub fn view(&self) -> TaskView {
        match self {
            TaskRecord::Market(record) => record.view(),
            TaskRecord::Veo(record) => record.view(),
        }
    }
}

/// A callback of any family, told apart by its body: a `data.state` (the record) is
/// Market's; anything else with a task id (`data.info`, or a failure with only
/// `data.taskId`) is Veo's. Verify the signature first
/// ([`WebhookVerifier`](crate::webhook::WebhookVerifier)); the signature covers the task id
/// and the time, not the body, so treat the view as a hint and confirm with [`GetTask`].
///
/// ```
/// use kie_proto::task::{Family, TaskCallback, TaskStatus};
/// let veo = TaskCallback::parse(br#"{"code":200,"msg":"Veo3.1 video generated successfully.","data":{"taskId":"veo_task_abcdef123456","info":{"resultUrls":["http://example.com/video1.mp4"],"resolution":"1080p"}}}"#)?;
/// assert_eq!(veo.view().task.family(), Family::Veo);
/// assert_eq!(veo.view().status, TaskStatus::Succeeded);
/// let market = TaskCallback::parse(br#"{"code":501,"msg":"Playground task failed.","data":{"taskId":"e989621f","model":"m","state":"fail","param":"{}","failCode":"400","failMsg":"flagged"}}"#)?;
/// assert_eq!(market.view().task.family(), Family::Market);
/// # Ok::<(), kie_proto::ApiError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TaskCallback {
    /// A Market callback.
    Market(MarketCallback),
    /// A Veo 3.1 callback.
    Veo(VeoCallback),
}

impl TaskCallback {
    /// Reads a callback body of any family (see the type's documentation for how the
    /// family is told); a body that is not a JSON object with a task id is
    /// [`ErrorKind::MalformedResponse`](crate::ErrorKind::MalformedResponse).
    pub fn parse(body: &[u8]) -> Result<TaskCallback, ApiError> {
        let has_state = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .is_some_and(|value| value.pointer("/data/state").is_some());
        if has_state {
            MarketCallback::parse(body).map(TaskCallback::Market)
        } else {
            VeoCallback::parse(body).map(TaskCallback::Veo)
        }
    }

    /// The common view of the task the callback announces.
    pub fn view(&self) -> TaskView {
        match self {
            TaskCallback::Market(callback) => callback.record.view(),
            TaskCallback::Veo(callback) => callback.view(),
        }
    }

    /// The body's `code` (200 for a success; the failure codes differ by family).
    pub fn code(&self) -> Option<i64> {
        match self {
            TaskCallback::Market(callback) => callback.code,
            TaskCallback::Veo(callback) => callback.code,
        }
    }
}

/// The `data` object of a record answer. The family's "not visible yet" answer — a 422 with
/// `not_visible` as its message, or a success without data — is
/// [`ErrorKind::TaskNotVisible`](crate::ErrorKind::TaskNotVisible).
pub(super) fn record_data(
    response: &http::Response<&[u8]>,
    not_visible: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    use crate::api_error::ErrorKind;
    use crate::envelope::{ObjectOnly, parse_envelope};
    type Data = Option<ObjectOnly<serde_json::Map<String, serde_json::Value>>>;
    match parse_envelope::<Data>(response) {
        Ok(Some(ObjectOnly(data))) => Ok(data),
        Ok(None) => Err(ApiError {
            code: Some(422),
            message: Some(not_visible.to_owned()),
            ..ApiError::new(response.status(), ErrorKind::TaskNotVisible)
        }),
        Err(error) if error.code == Some(422) && error.message.as_deref() == Some(not_visible) => {
            Err(ApiError {
                kind: ErrorKind::TaskNotVisible,
                ..error
            })
        }
        Err(error) => Err(error),
    }
}
