//! The body of `file-base64-upload`, read as a stream.
//!
//! A multi-GiB upload must not cost multi-GiB: the JSON body is parsed by struson's
//! streaming reader on a blocking thread, fed by the request body through a small
//! bounded channel, and the `base64Data` string is decoded as it is read
//! (`Base64Stream`) into a `Sink` (which keeps all bytes only in
//! [`StorageMode::Memory`]). Every other member is read whole, as before.
//!
//! The outcome is what buffering the body and parsing it into a `serde_json::Value`
//! gave: members in any order, the last of duplicate names wins, `null` counts as
//! absent; a malformed body is `Invalid JSON body: ...` (the detail is struson's
//! wording), and a body over the limit or a read failure wins over a parse error, since
//! the whole body is still read before answering.

use std::collections::BTreeMap;
use std::io::Read;

use bytes::{Buf, Bytes};
use serde_json::{Map, Value};
use struson::reader::{JsonReader, JsonStreamReader, ReaderSettings, ValueType};
use struson::writer::{JsonStreamWriter, JsonWriter};
use tokio::sync::mpsc;

use crate::server::{BodyReader, ReadError};
use crate::storage::{Content, Sink, StorageMode};
use crate::validate::Base64Stream;

/// Body chunks in flight between the connection and the parser.
const CHANNEL_CHUNKS: usize = 8;
/// Bytes of `base64Data` read from the JSON reader at a time.
const READ_BUF: usize = 64 * 1024;

/// The `base64Data` member, as last seen.
#[derive(Debug)]
pub(crate) enum Base64Field {
    /// Absent or `null`.
    Absent,
    /// A string of `len` bytes; its decoded content, or `None` when it is not valid
    /// Base64 (or a data URL around it).
    Str { len: u64, content: Option<Content> },
    /// Any other JSON value.
    Other,
}

/// A parsed base64-upload body.
#[derive(Debug)]
pub(crate) struct Body {
    pub base64: Base64Field,
    /// Every other member (last of duplicates wins).
    pub others: Map<String, Value>,
    /// The log's view of every member: strings as-is, other values as JSON text,
    /// `base64Data` (when a string) as its length.
    pub fields: BTreeMap<String, String>,
}

/// Why the body was not accepted.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Over `limit` bytes, or the connection failed: as [`BodyReader::read_limited`].
    Read(ReadError),
    /// Not JSON, not an object; the text after `Invalid JSON body: `.
    Json(String),
    /// The parser thread died (a bug).
    Internal,
}

/// Reads the whole body (at most `limit` bytes) and parses it as a base64-upload object.
pub(crate) async fn read(
    body: &mut BodyReader,
    limit: u64,
    mode: StorageMode,
) -> Result<Body, BodyError> {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let parser = tokio::task::spawn_blocking(move || {
        parse(
            ChannelReader {
                rx,
                chunk: Bytes::new(),
            },
            mode,
        )
    });
    // Ends `tx` when done, so the parser sees the end of the body (or a cut-off one when
    // the body was too large or failed; its result is then not used).
    let forwarded = body.forward_limited(limit, tx).await;
    let parsed = parser.await;
    forwarded.map_err(BodyError::Read)?;
    match parsed {
        Ok(result) => result.map_err(BodyError::Json),
        Err(_) => Err(BodyError::Internal),
    }
}

/// A blocking [`Read`] over the body chunks sent by [`BodyReader::forward_limited`].
struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    chunk: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.chunk = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk.advance(n);
        Ok(n)
    }
}

/// The `base64Data` member as [`parse_bytes`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base64Member {
    /// Absent or `null`.
    Absent,
    /// A string of `len` bytes and its decoded content (`None`: not valid base64).
    Str {
        /// Length of the string in bytes.
        len: u64,
        /// The decoded content.
        decoded: Option<Vec<u8>>,
    },
    /// Any other JSON value.
    Other,
}

/// Reads a base64-upload body held in memory exactly as the server reads a streamed one
/// (the same parser, in [`StorageMode::Memory`]): `base64Data` and every other member, or
/// the detail of a malformed body. For the `emulator_base64_body` fuzz target.
pub fn parse_bytes(body: &[u8]) -> Result<(Base64Member, Map<String, Value>), String> {
    let parsed = parse(body, StorageMode::Memory)?;
    let base64 = match parsed.base64 {
        Base64Field::Absent => Base64Member::Absent,
        Base64Field::Other => Base64Member::Other,
        Base64Field::Str { len, content } => Base64Member::Str {
            len,
            decoded: content.map(|c| c.data.map(|d| d.to_vec()).unwrap_or_default()),
        },
    };
    Ok((base64, parsed.others))
}

/// Parses a whole JSON document from `input`; `Err` carries the detail of a malformed
/// one.
fn parse(input: impl Read, mode: StorageMode) -> Result<Body, String> {
    // Numbers are left to serde_json (`read_value`), as with a buffered body: struson's
    // default refuses exponents beyond ±99 (`1e100`, `0e400`) that serde_json accepts.
    let settings = ReaderSettings {
        restrict_number_values: false,
        ..ReaderSettings::default()
    };
    let mut json = JsonStreamReader::new_custom(input, settings);
    let e = |e: &dyn std::fmt::Display| e.to_string();
    if json.peek().map_err(|x| e(&x))? != ValueType::Object {
        // Still a syntax error if the value is malformed or followed by garbage.
        json.skip_value().map_err(|x| e(&x))?;
        json.consume_trailing_whitespace().map_err(|x| e(&x))?;
        return Err("expected an object".to_owned());
    }
    let mut body = Body {
        base64: Base64Field::Absent,
        others: Map::new(),
        fields: BTreeMap::new(),
    };
    json.begin_object().map_err(|x| e(&x))?;
    while json.has_next().map_err(|x| e(&x))? {
        let name = json.next_name_owned().map_err(|x| e(&x))?;
        let kind = json.peek().map_err(|x| e(&x))?;
        if name == "base64Data" && kind == ValueType::String {
            let (len, content) = read_base64(&mut json, mode)?;
            body.fields.insert(name, len.to_string());
            body.base64 = Base64Field::Str { len, content };
            continue;
        }
        let value = match kind {
            ValueType::String => Value::String(json.next_string().map_err(|x| e(&x))?),
            _ => read_value(&mut json)?,
        };
        let shown = match &value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        body.fields.insert(name.clone(), shown);
        if name == "base64Data" {
            body.base64 = if value.is_null() {
                Base64Field::Absent
            } else {
                Base64Field::Other
            };
        } else {
            body.others.insert(name, value);
        }
    }
    json.end_object().map_err(|x| e(&x))?;
    json.consume_trailing_whitespace().map_err(|x| e(&x))?;
    Ok(body)
}

/// Reads the `base64Data` string, decoding it on the fly; returns its length in bytes
/// and the decoded content (`None` when it is not valid).
fn read_base64<R: Read>(
    json: &mut JsonStreamReader<R>,
    mode: StorageMode,
) -> Result<(u64, Option<Content>), String> {
    let mut chars = json.next_string_reader().map_err(|e| e.to_string())?;
    let mut decoder = Base64Stream::new();
    let mut sink = Sink::new(mode);
    let mut push = |bytes: &[u8]| sink.push(bytes);
    let mut buf = vec![0u8; READ_BUF];
    let mut len = 0u64;
    loop {
        // The string reader must be read to its end (`Ok(0)`) before the JSON reader is
        // used again; an error ends the parse.
        let n = match chars.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.to_string()),
        };
        len += n as u64;
        if !decoder.is_invalid() {
            decoder.push(&buf[..n], &mut push);
        }
    }
    let valid = decoder.finish(&mut push);
    Ok((len, valid.then(|| sink.finish())))
}

/// Reads any non-string value whole, as serde_json would have parsed it.
fn read_value<R: Read>(json: &mut JsonStreamReader<R>) -> Result<Value, String> {
    let mut text = Vec::new();
    let mut writer = JsonStreamWriter::new(&mut text);
    json.transfer_to(&mut writer).map_err(|e| e.to_string())?;
    writer.finish_document().map_err(|e| e.to_string())?;
    // Numbers are copied as written, so e.g. one out of f64 range fails here as it did.
    serde_json::from_slice(&text).map_err(|e| e.to_string())
}
