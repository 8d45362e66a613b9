//! A task's input where some fields name local files: the driver uploads each (through its
//! upload path, with the caller's upload options) and puts its `downloadUrl` in place. What
//! every script does by hand around other clients.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::input::InvalidInput;

/// A local file for an input field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalInput {
    /// The file at this path.
    Path(PathBuf),
    /// These bytes, stored under this file name.
    Bytes {
        /// The stored name (its extension gives the MIME type when nothing else does).
        name: String,
        /// The content.
        bytes: Vec<u8>,
    },
}

/// A task input with local files in some fields.
///
/// ```
/// use kie_proto::task::TaskInput;
/// let input = TaskInput::new(serde_json::json!({"prompt": "make it blue"}))?
///     .file("image_urls", "cat.png")          // a list field: appended
///     .file("image_urls", "dog.png")
///     .single_file("mask_url", "mask.png");    // a single field: set
/// assert_eq!(input.files().len(), 3);
/// let resolved = input.resolve(&["https://f/cat.png".into(), "https://f/dog.png".into(), "https://f/mask.png".into()]);
/// assert_eq!(resolved["image_urls"], serde_json::json!(["https://f/cat.png", "https://f/dog.png"]));
/// assert_eq!(resolved["mask_url"], "https://f/mask.png");
/// # Ok::<(), kie_proto::InvalidInput>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TaskInput {
    base: Map<String, Value>,
    files: Vec<(String, LocalInput, bool)>,
}

impl TaskInput {
    /// An input starting from `base`, a JSON object.
    pub fn new(base: Value) -> Result<TaskInput, InvalidInput> {
        let Value::Object(base) = base else {
            return Err(InvalidInput::TaskInput);
        };
        Ok(TaskInput {
            base,
            files: Vec::new(),
        })
    }

    /// Appends the file at `path` to the list field `field` (`image_urls`, `input_urls`…).
    pub fn file(mut self, field: &str, path: impl Into<PathBuf>) -> Self {
        self.files
            .push((field.to_owned(), LocalInput::Path(path.into()), true));
        self
    }

    /// Sets the single field `field` (`image_url`, `video_url`…) to the file at `path`.
    pub fn single_file(mut self, field: &str, path: impl Into<PathBuf>) -> Self {
        self.files
            .push((field.to_owned(), LocalInput::Path(path.into()), false));
        self
    }

    /// Appends `bytes`, stored as `name`, to the list field `field`.
    pub fn bytes(mut self, field: &str, name: &str, bytes: Vec<u8>) -> Self {
        let input = LocalInput::Bytes {
            name: name.to_owned(),
            bytes,
        };
        self.files.push((field.to_owned(), input, true));
        self
    }

    /// The local files, in order: each field and its file.
    pub fn files(&self) -> Vec<(&str, &LocalInput)> {
        self.files
            .iter()
            .map(|(field, input, _)| (field.as_str(), input))
            .collect()
    }

    /// The input with `urls` (one per file, in the order of [`files`](Self::files)) in
    /// place: appended to list fields (after what the base holds), set on single fields.
    pub fn resolve(&self, urls: &[String]) -> Value {
        let mut input = self.base.clone();
        for ((field, _, list), url) in self.files.iter().zip(urls) {
            let url = Value::String(url.clone());
            if *list {
                match input.get_mut(field) {
                    Some(Value::Array(items)) => items.push(url),
                    _ => {
                        input.insert(field.clone(), Value::Array(vec![url]));
                    }
                }
            } else {
                input.insert(field.clone(), url);
            }
        }
        Value::Object(input)
    }
}
