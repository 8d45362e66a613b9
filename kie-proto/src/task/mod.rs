//! Generation tasks, family-neutral: a task reference that carries its family
//! ([`TaskRef`]), the common view of a task every family's record maps into ([`TaskView`]),
//! the poll policy ([`PollPolicy`]) and the pacing of creates ([`CreateWindow`]).
//!
//! A task is created with a family's create operation (Market: [`CreateTask`]), read with
//! its get operation ([`TaskRef::get`] picks it), waited for by polling under a
//! [`PollPolicy`], and its results (the [`Asset`]s of a succeeded task) downloaded without
//! the API key ([`ResultDownload`]). Nothing outside this module and a family's own module
//! matches on the family.

mod download;
mod input;
pub mod market;
mod poll;
mod wait;
mod window;

use std::fmt;
use std::str::FromStr;

use crate::input::InvalidInput;

pub use download::{ResultDownload, ResultDownloadStep};
pub use input::{LocalInput, TaskInput};
pub use market::{CreateTask, GetTask, MarketCallback, TaskRecord, callback_ack};
pub use poll::{GiveUp, PollDecision, PollPolicy, PollState};
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
}

impl Family {
    /// The family's name, as a [`TaskRef`] prints it.
    pub fn name(self) -> &'static str {
        match self {
            Family::Market => "market",
        }
    }

    fn from_name(name: &str) -> Option<Family> {
        match name {
            "market" => Some(Family::Market),
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
        match self.family {
            Family::Market => GetTask::new(self.clone()),
        }
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
