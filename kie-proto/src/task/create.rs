//! A create of any family ([`NewTask`]), chosen by the model's name, for callers that take
//! a model and an input from a person (a command line, a batch file).

use http::Request;
use serde_json::Value;

use super::veo::{VeoGenerate, VeoModel};
use super::{CreateTask, Family, TaskRef};
use crate::api::Api;
use crate::api_error::ApiError;
use crate::body::Body;
use crate::input::InvalidInput;
use crate::operation::Operation;

/// A task create of the family its model belongs to: a Veo 3.1 generation model (`veo3`,
/// `veo3_fast`, `veo3_lite`) is Veo's `generate` with the input's fields and `model`;
/// any other model is a Market task with the input as its `input`. Not idempotent, like
/// every create.
///
/// ```
/// use kie_proto::task::{Family, NewTask};
/// let veo = NewTask::for_model("veo3_fast", serde_json::json!({"prompt": "a cat surfing"}), None)?;
/// assert_eq!(veo.family(), Family::Veo);
/// let market = NewTask::for_model("google/nano-banana", serde_json::json!({"prompt": "a cat"}), None)?;
/// assert_eq!(market.family(), Family::Market);
/// // A Veo model the list does not know yet, by its family.
/// let forced = NewTask::for_model("veo4", serde_json::json!({"prompt": "a cat"}), Some(Family::Veo))?;
/// assert_eq!(forced.family(), Family::Veo);
/// # Ok::<(), kie_proto::InvalidInput>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum NewTask {
    /// A Market task.
    Market(CreateTask),
    /// A Veo 3.1 video.
    Veo(VeoGenerate),
}

impl NewTask {
    /// The create of `model` with `input` (a JSON object), in `family` when given, else
    /// in the family the model's name belongs to.
    pub fn for_model(
        model: &str,
        input: Value,
        family: Option<Family>,
    ) -> Result<NewTask, InvalidInput> {
        let family = family.unwrap_or(if VeoModel::from_name(model).is_some() {
            Family::Veo
        } else {
            Family::Market
        });
        match family {
            Family::Market => CreateTask::new(model, input).map(NewTask::Market),
            Family::Veo => {
                if model.is_empty() || model.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(InvalidInput::Model(model.to_owned()));
                }
                let Value::Object(mut fields) = input else {
                    return Err(InvalidInput::TaskInput);
                };
                fields.insert("model".to_owned(), Value::String(model.to_owned()));
                VeoGenerate::from_fields(Value::Object(fields)).map(NewTask::Veo)
            }
        }
    }

    /// Announce the finished task by a `POST` to `url` (an absolute http(s) URL).
    pub fn with_callback_url(self, url: &str) -> Result<NewTask, InvalidInput> {
        match self {
            NewTask::Market(create) => create.with_callback_url(url).map(NewTask::Market),
            NewTask::Veo(create) => create.callback_url(url).map(NewTask::Veo),
        }
    }

    /// The family the task will belong to.
    pub fn family(&self) -> Family {
        match self {
            NewTask::Market(_) => Family::Market,
            NewTask::Veo(_) => Family::Veo,
        }
    }
}

impl Operation for NewTask {
    type Output = TaskRef;

    fn to_request(&self, api: &Api) -> Result<Request<Body>, InvalidInput> {
        match self {
            NewTask::Market(create) => create.to_request(api),
            NewTask::Veo(create) => create.to_request(api),
        }
    }

    fn parse_response(&self, response: http::Response<&[u8]>) -> Result<TaskRef, ApiError> {
        match self {
            NewTask::Market(create) => create.parse_response(response),
            NewTask::Veo(create) => create.parse_response(response),
        }
    }

    fn is_idempotent(&self) -> bool {
        false
    }
}

impl From<CreateTask> for NewTask {
    fn from(create: CreateTask) -> NewTask {
        NewTask::Market(create)
    }
}

impl From<VeoGenerate> for NewTask {
    fn from(create: VeoGenerate) -> NewTask {
        NewTask::Veo(create)
    }
}
