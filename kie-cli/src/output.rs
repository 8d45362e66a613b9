//! What goes to stdout (results: a table, or NDJSON with `--json`) and the error lines on
//! stderr.

use std::fmt::Write as _;
use std::io::Write as _;

use indicatif::HumanBytes;
use kie_async::{Error, UploadResult};
use serde::Serialize;

use crate::exit::{classify, http_status};

/// One upload's result as an NDJSON line.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadedLine<'a> {
    /// The local path (or URL) that was uploaded, as given.
    pub path: &'a str,
    /// The download URL.
    pub download_url: &'a str,
    /// The stored name.
    pub file_name: Option<&'a str>,
    /// The stored size in bytes.
    pub file_size: Option<u64>,
    /// The stored MIME type.
    pub mime_type: Option<&'a str>,
    /// The full storage path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_path: Option<&'a str>,
    /// When it was stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uploaded_at: Option<&'a str>,
    /// When it is deleted, when the service says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<&'a str>,
}

impl<'a> UploadedLine<'a> {
    /// The line of `result`, uploaded from `path`.
    pub fn new(path: &'a str, result: &'a UploadResult) -> Self {
        Self {
            path,
            download_url: &result.download_url,
            file_name: result.file_name.as_deref(),
            file_size: result.file_size,
            mime_type: result.mime_type.as_deref(),
            file_path: result.file_path.as_deref(),
            uploaded_at: result.uploaded_at.as_deref(),
            expires_at: result.expires_at.as_deref(),
        }
    }
}

/// One failure as an NDJSON line: `{"path": …, "error": {…}}`.
#[derive(Serialize)]
pub struct FailedLine<'a> {
    /// The local path (or URL) whose operation failed; absent for commands without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<&'a str>,
    /// What went wrong.
    pub error: ErrorObject,
}

/// The `error` object of a failure line.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorObject {
    /// [`classify`]'s kind string.
    pub kind: &'static str,
    /// The error and its causes, one line.
    pub message: String,
    /// The HTTP status, when the service answered (or refused the download of `--verify`).
    pub http_status: Option<u16>,
    /// The body's `code`, when the service sent one.
    pub code: Option<i64>,
}

impl ErrorObject {
    /// The object for `error`.
    pub fn new(error: &Error) -> Self {
        Self {
            kind: classify(error).kind,
            message: message(error),
            http_status: http_status(error),
            code: error.api_error().and_then(|api| api.code),
        }
    }
}

/// The error and its causes on one line, each cause once: a cause whose text the message
/// already holds is not appended again.
pub fn message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        let part = current.to_string();
        if !part.is_empty() && !text.contains(&part) {
            let _ = write!(text, ": {part}");
        }
        cause = current.source();
    }
    text
}

/// Prints one NDJSON line to stdout. A closed stdout (`| head`) is not an error worth a
/// panic: the line is dropped.
pub fn print_json(value: &impl Serialize) {
    if let Ok(line) = serde_json::to_string(value) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }
}

/// Writes `line` and a line break to stderr in one `write` (stderr is unbuffered: written
/// piece by piece, a line of stdout going to the same terminal through `| cat` could land
/// in the middle of it), dropping it when stderr is closed (the [`say!`] macro's body).
pub fn stderr_line(line: std::fmt::Arguments<'_>) {
    let text = format!("{line}\n");
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Prints `text` to stdout.
pub fn print_text(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// The human table of uploads: name, size, download URL, aligned, with a header.
pub fn table(rows: &[(&str, &UploadResult)]) -> String {
    let cells: Vec<[String; 3]> = rows
        .iter()
        .map(|(path, result)| {
            let name = result
                .file_name
                .clone()
                .unwrap_or_else(|| (*path).to_owned());
            let size = result
                .file_size
                .map_or_else(|| "?".to_owned(), |size| HumanBytes(size).to_string());
            [name, size, result.download_url.clone()]
        })
        .collect();
    let header = ["NAME".to_owned(), "SIZE".to_owned(), "URL".to_owned()];
    let name_width = cells
        .iter()
        .chain([&header])
        .map(|row| row[0].chars().count())
        .max()
        .unwrap_or(0);
    let size_width = cells
        .iter()
        .chain([&header])
        .map(|row| row[1].chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for [name, size, url] in [&header].into_iter().chain(&cells) {
        let _ = writeln!(out, "{name:<name_width$}  {size:>size_width$}  {url}");
    }
    out
}

/// Prints `kie: <what>: <message>` (and the hint, if any) to stderr.
pub fn report_error(what: Option<&str>, error: &Error, hint: Option<&str>) {
    let text = message(error);
    let mut line = String::from("kie: ");
    // The SDK's message may already name the file (`cannot read <path>: ...`).
    if let Some(what) = what.filter(|what| !text.contains(what)) {
        let _ = write!(line, "{what}: ");
    }
    line.push_str(&text);
    if let Some(hint) = hint {
        let _ = write!(line, "\nkie: {hint}");
    }
    say!("{line}");
}

/// `word` as one word of a POSIX shell command, for a command kie prints to be run next:
/// as it is when every character is safe unquoted, else in single quotes (a `'` in it
/// written `'\''`).
pub fn shell_word(word: &str) -> std::borrow::Cow<'_, str> {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        std::borrow::Cow::Borrowed(word)
    } else {
        std::borrow::Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_word_quotes_only_what_a_shell_would_split_or_expand() {
        for plain in ["out", "out/videos", "./a-b_c.d", "dir=1,2@x:y%+"] {
            assert_eq!(shell_word(plain), plain);
        }
        assert_eq!(shell_word("my results"), "'my results'");
        assert_eq!(shell_word("$HOME/*"), "'$HOME/*'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word("~/x"), "'~/x'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("-rf"), "-rf");
    }

    #[derive(Debug)]
    struct Wrapper(&'static str, Option<Box<Wrapper>>);
    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn message_appends_each_cause_once() {
        let error = Wrapper(
            "could not connect",
            Some(Box::new(Wrapper(
                "tcp connect error",
                Some(Box::new(Wrapper("Connection refused", None))),
            ))),
        );
        assert_eq!(
            message(&error),
            "could not connect: tcp connect error: Connection refused"
        );
        // A message that already shows its cause (the pre-convention style) is not doubled.
        let error = Wrapper(
            "could not connect: refused",
            Some(Box::new(Wrapper("refused", None))),
        );
        assert_eq!(message(&error), "could not connect: refused");
    }

    #[test]
    fn table_aligns_columns_under_a_header() {
        let result: UploadResult = serde_json::from_str(
            r#"{"downloadUrl":"http://files/kie-cli/a.png","fileName":"a.png","fileSize":2048}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            table(&[("a.png", &result)]),
            "NAME       SIZE  URL\na.png  2.00 KiB  http://files/kie-cli/a.png\n"
        );
    }
}
