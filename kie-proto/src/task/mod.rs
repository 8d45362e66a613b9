//! Generation tasks, family-neutral: a task reference that carries its family
//! ([`TaskRef`]), the common view of a task every family's record maps into ([`TaskView`]),
//! the poll policy ([`PollPolicy`]) and the pacing of creates ([`CreateWindow`]).
//!
//! A task is created with a family's create operation (Market: [`CreateTask`]; Veo:
//! [`veo::VeoGenerate`], [`veo::VeoExtend`]; [`NewTask`] picks by the model), read with
//! its get operation ([`TaskRef::get`] picks it), waited for by polling under a
//! [`PollPolicy`], and its results (the [`Asset`]s of a succeeded task) downloaded without
//! the API key ([`ResultDownload`]). Nothing outside this module and a family's own module
//! matches on the family.

mod create;
mod download;
mod input;
mod lenient;
pub mod market;
mod poll;
mod record;
pub mod veo;
mod wait;
mod window;

use std::fmt;
use std::str::FromStr;

use serde_json::Map;

use crate::api_error::{ApiError, ErrorKind};
use crate::envelope::{ObjectOnly, parse_envelope};
use crate::input::InvalidInput;

pub use create::NewTask;
pub use download::{ResultDownload, ResultDownloadStep};
pub use input::{LocalInput, TaskInput};
pub use market::{CreateTask, MarketCallback, MarketRecord, callback_ack};
pub use poll::{GiveUp, PollDecision, PollPolicy, PollState};
pub use record::{GetTask, TaskCallback, TaskRecord};
pub use veo::{VeoCallback, VeoRecord};
pub use wait::{CancelFlag, WaitCallback, WaitOptions, WaitProgress};
pub use window::CreateWindow;

/// A family of task endpoints: each has its own create and record paths, status vocabulary
/// and callback body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// The Market surface (`/api/v1/jobs/createTask`, `/api/v1/jobs/recordInfo`): every
    /// market model, Suno V6 included.
    Market,
    /// Veo 3.1 (`/api/v1/veo/*`): generate, extend and the 4K upgrade are tasks read at
    /// `record-info`.
    Veo,
}

impl Family {
    /// The family's name, as a [`TaskRef`] prints it.
    pub fn name(self) -> &'static str {
        match self {
            Family::Market => "market",
            Family::Veo => "veo",
        }
    }

    /// How this family's tasks are waited for unless the caller says otherwise: Market by
    /// [`PollPolicy::default`], Veo every 30 s as its page recommends, within 30 minutes.
    pub fn poll_policy(self) -> PollPolicy {
        match self {
            Family::Market => PollPolicy::default(),
            Family::Veo => veo::poll_policy(),
        }
    }

    fn from_name(name: &str) -> Option<Family> {
        match name {
            "market" => Some(Family::Market),
            "veo" => Some(Family::Veo),
            _ => None,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A created task: its family and the service's opaque id. Printed as `family:id`
/// (`market:e989621f54392584b05867f87b160672`) and read back from that form, so a saved
/// reference is resumed without guessing the endpoint; a bare id (no known family prefix)
/// reads as a Market task, the family most ids come from.
///
/// ```
/// use kie_proto::task::{Family, TaskRef};
/// let task: TaskRef = "market:task_google_1765178615729".parse()?;
/// assert_eq!((task.family(), task.id()), (Family::Market, "task_google_1765178615729"));
/// assert_eq!(task.to_string(), "market:task_google_1765178615729");
/// let bare: TaskRef = "e989621f54392584b05867f87b160672".parse()?;
/// assert_eq!(bare.family(), Family::Market);
/// assert!("market:".parse::<TaskRef>().is_err());
/// # Ok::<(), kie_proto::InvalidInput>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskRef {
    family: Family,
    id: String,
}

impl TaskRef {
    /// The task `id` of `family`. The id must be non-empty, without white space or
    /// control characters (it goes into a query string, percent-encoded).
    pub fn new(family: Family, id: impl Into<String>) -> Result<TaskRef, InvalidInput> {
        let id = id.into();
        if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidInput::TaskId(id));
        }
        Ok(TaskRef { family, id })
    }

    /// A Market task.
    pub fn market(id: impl Into<String>) -> Result<TaskRef, InvalidInput> {
        TaskRef::new(Family::Market, id)
    }

    /// A Veo 3.1 task.
    pub fn veo(id: impl Into<String>) -> Result<TaskRef, InvalidInput> {
        TaskRef::new(Family::Veo, id)
    }

    /// The family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The service's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The operation that reads this task's record, for its family.
    pub fn get(&self) -> GetTask {
        GetTask::new(self.clone())
    }
}

impl fmt::Display for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.family, self.id)
    }
}

impl FromStr for TaskRef {
    type Err = InvalidInput;

    fn from_str(text: &str) -> Result<TaskRef, InvalidInput> {
        match text.split_once(':') {
            Some((family, id)) => match Family::from_name(family) {
                Some(family) => TaskRef::new(family, id),
                None => TaskRef::market(text),
            },
            None => TaskRef::market(text),
        }
    }
}

/// Where a task is, in every family's words mapped to one vocabulary.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TaskStatus {
    /// Not finished: waiting, queuing or generating (`stage` is the family's own word),
    /// with the model's progress in percent where it reports one.
    Running {
        /// The family's word for the stage (`waiting`, `queuing`, `generating`).
        stage: String,
        /// Progress, 0–100, when reported.
        progress: Option<u8>,
    },
    /// Finished with results (possibly none: some models produce no file).
    Succeeded,
    /// Finished without results.
    Failed {
        /// The service's failure code (`"400"`, `"500"`, `"SENSITIVE_WORD_ERROR"`, …).
        code: Option<String>,
        /// The service's failure message.
        message: Option<String>,
        /// Whether creating the task again may succeed: an upstream failure (a 5xx code or
        /// "internal error" / "try again later"), which a failed task did not charge for.
        /// A content-policy or bad-input failure (400, 402, 422) fails again.
        recreate_may_help: bool,
    },
    /// A status word nobody documented: never taken for finished (the poll policy decides
    /// how long to tolerate it).
    Unknown(String),
}

impl TaskStatus {
    /// Whether the task has finished (succeeded or failed): never poll it again.
    pub fn is_terminal(&self) -> bool {
        matches!(self, TaskStatus::Succeeded | TaskStatus::Failed { .. })
    }
}

/// A file a task produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Asset {
    /// Its URL on KIE.AI's storage (download it without the API key).
    pub url: String,
    /// What it is to the task.
    pub role: AssetRole,
}

/// What an [`Asset`] is to its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AssetRole {
    /// A result (`resultUrls`, a Suno track's audio).
    Result,
    /// The first frame of a video (`firstFrameUrl`).
    FirstFrame,
    /// The last frame of a video (`lastFrameUrl`).
    LastFrame,
    /// A cover image (a Suno track's image).
    Cover,
    /// The whole video after an extend (Veo `fullResultUrls`).
    FullVideo,
    /// A video before it was reframed to another aspect ratio (Veo `originUrls`).
    Original,
}

/// A task as every family's record maps into it: what the poll policy, a wait and a
/// result download need.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TaskView {
    /// The task.
    pub task: TaskRef,
    /// The model it runs, when the record says.
    pub model: Option<String>,
    /// Where it is.
    pub status: TaskStatus,
    /// The files it produced (empty until it succeeds).
    pub assets: Vec<Asset>,
    /// The decoded result document (`resultJson`), when there is one.
    pub result: Option<serde_json::Value>,
    /// Credits it consumed, when the record says (absent is not 0).
    pub credits_consumed: Option<f64>,
    /// When it was created, epoch milliseconds.
    pub created_ms: Option<i64>,
    /// When it finished, epoch milliseconds.
    pub completed_ms: Option<i64>,
}

/// Whether creating a failed task again may succeed: an upstream failure (a 5xx code, or
/// a message saying "internal error" or "try again later"); not a content-policy or input
/// failure.
pub(crate) fn recreate_may_help(code: Option<&str>, message: Option<&str>) -> bool {
    let server_code = code
        .and_then(|code| code.trim().parse::<u16>().ok())
        .is_some_and(|code| (500..600).contains(&code));
    let transient_words = message.is_some_and(|message| {
        let message = message.to_ascii_lowercase();
        message.contains("internal error") || message.contains("try again later")
    });
    server_code || transient_words
}

/// Characters escaped in a query value: everything but the unreserved ones.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `url?taskId=<the task's id, percent-encoded>`.
fn with_task_id(url: String, task: &TaskRef) -> String {
    let id = percent_encoding::utf8_percent_encode(task.id(), QUERY_VALUE);
    format!("{url}?taskId={id}")
}

/// The new task of a create answer (`data.taskId`) in `family`.
fn parse_created(response: &http::Response<&[u8]>, family: Family) -> Result<TaskRef, ApiError> {
    let ObjectOnly(data): ObjectOnly<Map<String, serde_json::Value>> =
        parse_envelope(response).map_err(input_refused_as_server_error)?;
    let id = data.get("taskId").and_then(lenient::scalar_text);
    id.and_then(|id| TaskRef::new(family, id).ok())
        .ok_or_else(|| ApiError {
            message: Some("the answer holds no taskId".to_owned()),
            ..ApiError::new(response.status(), ErrorKind::MalformedResponse)
        })
}

/// A create refused with body code 500 and a message naming a required field ("This field
/// is required", observed for a missing `input` field; the pages say 422 *or* 500 for bad
/// input) is a [`ErrorKind::Validation`] answer: the service read the request and created
/// nothing, so it is neither retried nor reported as a task that may exist.
fn input_refused_as_server_error(error: ApiError) -> ApiError {
    let names_a_required_field = error
        .message
        .as_deref()
        .is_some_and(|message| message.to_ascii_lowercase().contains("is required"));
    if error.kind == ErrorKind::Server && error.code == Some(500) && names_a_required_field {
        ApiError {
            kind: ErrorKind::Validation,
            ..error
        }
    } else {
        error
    }
}
