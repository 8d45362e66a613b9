//! A task's input from the command line (`-i`, `-f`, `--input-json`) or from one line of
//! a `--batch` file, checked before anything is sent: well-formed fields, local files that
//! are regular, readable files.

use std::collections::HashMap;
use std::path::PathBuf;

use kie_async::kie_proto::task::TaskInput;
use serde_json::{Map, Value};

/// The key of a batch line that names local files: `{"@files": {"image_urls": ["a.png"]}}`.
pub const FILES_KEY: &str = "@files";

/// A task input: JSON fields, and local files to upload into fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    fields: Map<String, Value>,
    /// `(field, path, list)`: a list field gets the URL appended, a single field set.
    files: Vec<(String, PathBuf, bool)>,
}

impl Inputs {
    /// The input of `kie run`: `--input-json` (already read), then each `-i KEY=VALUE`,
    /// then each `-f FIELD=PATH`.
    pub fn from_args(
        base: Option<&str>,
        inputs: &[String],
        files: &[String],
    ) -> Result<Inputs, String> {
        let fields = match base {
            Some(text) => match serde_json::from_str(text) {
                Ok(Value::Object(fields)) => fields,
                Ok(_) => return Err("--input-json must hold a JSON object".to_owned()),
                Err(error) => return Err(format!("--input-json is not JSON: {error}")),
            },
            None => Map::new(),
        };
        Inputs {
            fields,
            files: Vec::new(),
        }
        .apply(inputs, files)
    }

    /// This input with each `-i KEY=VALUE` set and each `-f FIELD=PATH` added.
    pub fn apply(mut self, inputs: &[String], files: &[String]) -> Result<Inputs, String> {
        for input in inputs {
            let (key, value) = input
                .split_once('=')
                .ok_or_else(|| format!("-i {input:?}: expected KEY=VALUE"))?;
            // JSON when it parses (numbers, booleans, arrays, objects, "quoted"), else text.
            let value =
                serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
            self.set(key, value)
                .map_err(|error| format!("-i {input:?}: {error}"))?;
        }
        let mut given = HashMap::<&str, usize>::new();
        let mut parsed = Vec::new();
        for file in files {
            let (field, path) = file
                .split_once('=')
                .filter(|(field, path)| !field.is_empty() && !path.is_empty())
                .ok_or_else(|| format!("-f {file:?}: expected FIELD=PATH"))?;
            let (field, forced_list) = match field.strip_suffix("[]") {
                Some(field) => (field, true),
                None => (field, false),
            };
            *given.entry(field).or_default() += 1;
            parsed.push((field, PathBuf::from(path), forced_list));
        }
        for (field, path, forced_list) in parsed {
            let repeated = given.get(field).is_some_and(|count| *count > 1);
            let list = forced_list || repeated || self.is_list_field(field);
            self.files.push((field.to_owned(), path, list));
        }
        Ok(self)
    }

    /// The input of one `--batch` line: a JSON object; its `@files` member (an object of
    /// field → path or list of paths) names local files.
    pub fn from_line(line: &str) -> Result<Inputs, String> {
        let mut fields = match serde_json::from_str(line) {
            Ok(Value::Object(fields)) => fields,
            Ok(_) => return Err("not a JSON object".to_owned()),
            Err(error) => return Err(format!("not JSON: {error}")),
        };
        let named = fields.remove(FILES_KEY);
        let mut this = Inputs {
            fields,
            files: Vec::new(),
        };
        match named {
            None => {}
            Some(Value::Object(named)) => {
                for (field, paths) in named {
                    let (field, forced_list) = match field.strip_suffix("[]") {
                        Some(field) => (field.to_owned(), true),
                        None => (field, false),
                    };
                    match paths {
                        Value::String(path) => {
                            let list = forced_list || this.is_list_field(&field);
                            this.files.push((field, PathBuf::from(path), list));
                        }
                        Value::Array(paths) => {
                            for path in paths {
                                let Value::String(path) = path else {
                                    return Err(format!(
                                        "{FILES_KEY}.{field}: a path must be a string"
                                    ));
                                };
                                this.files.push((field.clone(), PathBuf::from(path), true));
                            }
                        }
                        _ => {
                            return Err(format!(
                                "{FILES_KEY}.{field}: expected a path or a list of paths"
                            ));
                        }
                    }
                }
            }
            Some(_) => return Err(format!("{FILES_KEY} must be an object of field: path(s)")),
        }
        Ok(this)
    }

    /// Sets `key` (dotted for nesting) to `value`.
    fn set(&mut self, key: &str, value: Value) -> Result<(), String> {
        let mut parts: Vec<&str> = key.split('.').collect();
        if parts.iter().any(|part| part.is_empty()) {
            return Err(format!("{key:?} is not a field name"));
        }
        let last = parts.pop().unwrap_or(key);
        let mut object = &mut self.fields;
        for (depth, part) in parts.iter().enumerate() {
            let entry = object
                .entry((*part).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            object = match entry {
                Value::Object(inner) => inner,
                _ => {
                    let prefix = parts[..=depth].join(".");
                    return Err(format!(
                        "{prefix} is already set to a value that is not an object"
                    ));
                }
            };
        }
        object.insert(last.to_owned(), value);
        Ok(())
    }

    /// A field takes a list of URLs when its name says so (`image_urls`, `input_urls`) or
    /// the input already holds a list there.
    fn is_list_field(&self, field: &str) -> bool {
        field.to_ascii_lowercase().ends_with("urls")
            || matches!(self.fields.get(field), Some(Value::Array(_)))
    }

    /// Checks every local file before anything is sent: it must be a regular file that can
    /// be opened. The message names the field and the file: `image_urls: cannot read
    /// cat.png: No such file or directory (os error 2)`.
    pub fn check_files(&self) -> Result<(), String> {
        for (field, path, _) in &self.files {
            let shown = path.display();
            let unreadable =
                |error: std::io::Error| format!("{field}: cannot read {shown}: {error}");
            let meta = std::fs::metadata(path).map_err(unreadable)?;
            if !meta.is_file() {
                return Err(format!("{field}: {shown} is not a regular file"));
            }
            std::fs::File::open(path).map_err(unreadable)?;
        }
        Ok(())
    }

    /// The SDK's view of this input (kie-proto puts the uploaded URLs in place).
    pub fn task_input(&self) -> Result<TaskInput, String> {
        let mut input = TaskInput::new(Value::Object(self.fields.clone()))
            .map_err(|error| error.to_string())?;
        for (field, path, list) in &self.files {
            input = if *list {
                input.file(field, path)
            } else {
                input.single_file(field, path)
            };
        }
        Ok(input)
    }

    /// The JSON fields (the files not in place yet).
    #[cfg(test)]
    fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(inputs: &[&str], files: &[&str]) -> Result<Inputs, String> {
        let own = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Inputs::from_args(None, &own(inputs), &own(files))
    }

    #[test]
    fn values_are_json_when_they_parse_and_dotted_keys_nest() {
        let inputs = args(
            &[
                "prompt=a cat",
                "n=2",
                "hd=true",
                "tags=[\"a\",\"b\"]",
                "seed=\"7\"",
                "settings.guidance.scale=3.5",
                "settings.steps=20",
                "empty=",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            Value::Object(inputs.fields().clone()),
            json!({"prompt": "a cat", "n": 2, "hd": true, "tags": ["a", "b"], "seed": "7",
                   "settings": {"guidance": {"scale": 3.5}, "steps": 20}, "empty": ""})
        );
        assert!(args(&["prompt"], &[]).unwrap_err().contains("KEY=VALUE"));
        assert!(args(&["a..b=1"], &[]).is_err());
        assert!(
            args(&["a=1", "a.b=2"], &[])
                .unwrap_err()
                .contains("not an object")
        );
    }

    #[test]
    fn a_file_field_is_a_list_when_named_so_repeated_or_marked() {
        let inputs = args(
            &["input_urls=[\"https://x/1.png\"]"],
            &[
                "image_urls=a.png",
                "mask_url=m.png",
                "image_input=b.png",
                "image_input=c.png",
                "reference_image[]=d.png",
                "input_urls=e.png",
            ],
        )
        .unwrap();
        let resolved = inputs
            .task_input()
            .unwrap()
            .resolve(&["A", "M", "B", "C", "D", "E"].map(String::from));
        assert_eq!(
            resolved,
            json!({"image_urls": ["A"], "mask_url": "M", "image_input": ["B", "C"],
                   "reference_image": ["D"], "input_urls": ["https://x/1.png", "E"]})
        );
        assert!(args(&[], &["=a.png"]).is_err());
        assert!(args(&[], &["image_url"]).is_err());
    }

    #[test]
    fn a_batch_line_names_its_files_under_at_files() {
        let inputs = Inputs::from_line(
            r#"{"prompt":"x","@files":{"image_urls":"a.png","mask_url":"m.png","refs":["r1.png","r2.png"]}}"#,
        )
        .unwrap();
        assert_eq!(inputs.files.len(), 4);
        let resolved = inputs
            .task_input()
            .unwrap()
            .resolve(&["A", "M", "R1", "R2"].map(String::from));
        assert_eq!(
            resolved,
            json!({"prompt": "x", "image_urls": ["A"], "mask_url": "M", "refs": ["R1", "R2"]})
        );
        for bad in [
            "[1]",
            "nope",
            r#"{"@files":["a"]}"#,
            r#"{"@files":{"f":3}}"#,
            r#"{"@files":{"f":[3]}}"#,
        ] {
            assert!(Inputs::from_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn files_are_checked_before_anything_is_sent() {
        let dir = std::env::temp_dir();
        let inputs = args(&[], &[&format!("image_urls={}", dir.display())]).unwrap();
        assert!(
            inputs
                .check_files()
                .unwrap_err()
                .contains("not a regular file")
        );
        let inputs = args(&[], &["image_urls=/no/such/file.png"]).unwrap();
        let error = inputs.check_files().unwrap_err();
        assert!(
            error.starts_with("image_urls: cannot read /no/such/file.png: "),
            "{error}"
        );
    }
}
