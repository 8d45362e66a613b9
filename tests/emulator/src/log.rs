//! The request log: one entry per request received, on any host.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use crate::routes::{Host, Route};

/// What the emulator saw of one request and what it answered.
///
/// An entry is appended when the request's headers arrive (so the log is in arrival
/// order) and completed when the response is decided. Requests whose connection was
/// dropped (by a fault, or because the client went away) keep `response_status == 0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedRequest {
    /// Sequence number, unique per emulator, increasing in arrival order.
    pub id: u64,
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Which host (listener) received it.
    pub host: Host,
    /// The route it matched, if any.
    pub route: Option<Route>,
    /// The request path as sent (still percent-encoded), without the query.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// All request headers in order, names lower-case. An `Authorization` value is
    /// replaced by `Bearer [redacted]` (or `[redacted]` when it is not a bearer token),
    /// so a test can see that one was sent without the log holding the key.
    pub headers: Vec<(String, String)>,
    /// The `User-Agent` header, if one was sent.
    pub user_agent: Option<String>,
    /// Parsed form or JSON fields except file content: JSON strings as-is, other JSON
    /// values as JSON text, `base64Data` replaced by its length in characters; for a
    /// multipart upload `file` is the byte length of the file part, and `file.filename` /
    /// `file.content_type` carry that part's filename and content type when present.
    pub fields: BTreeMap<String, String>,
    /// Number of request-body bytes the emulator read.
    pub body_len: u64,
    /// The `filePath` of the stored file when the request stored (or overwrote) one.
    pub stored_path: Option<String>,
    /// HTTP status of the response; `0` when no response was sent.
    pub response_status: u16,
    /// The body `code` of a JSON response, when it has one.
    pub response_code: Option<i64>,
    /// The fault applied to this request, as [`crate::Fault::label`], if any.
    pub fault: Option<String>,
}

impl LoggedRequest {
    /// The first value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the request carried an `Authorization` header (of any value).
    pub fn has_authorization(&self) -> bool {
        self.header("authorization").is_some()
    }
}

/// What a handler learned about a request, merged into its log entry at the end.
#[derive(Debug, Default)]
pub(crate) struct Record {
    pub fields: BTreeMap<String, String>,
    pub body_len: u64,
    pub stored_path: Option<String>,
    pub fault: Option<String>,
}

/// The shared, append-only (until cleared) log.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    entries: Mutex<Vec<LoggedRequest>>,
    next_id: Mutex<u64>,
}

impl RequestLog {
    /// Appends an entry for a request whose head just arrived; returns its id.
    pub fn start(&self, host: Host, route: Option<Route>, parts: &http::request::Parts) -> u64 {
        let id = {
            let mut next = self.next_id.lock().unwrap_or_else(PoisonError::into_inner);
            *next += 1;
            *next
        };
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                let value = if name == http::header::AUTHORIZATION {
                    if value.starts_with("Bearer ") {
                        "Bearer [redacted]".to_owned()
                    } else {
                        "[redacted]".to_owned()
                    }
                } else {
                    value
                };
                (name.as_str().to_owned(), value)
            })
            .collect();
        let user_agent = parts
            .headers
            .get(http::header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let entry = LoggedRequest {
            id,
            method: parts.method.as_str().to_owned(),
            host,
            route,
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers,
            user_agent,
            fields: BTreeMap::new(),
            body_len: 0,
            stored_path: None,
            response_status: 0,
            response_code: None,
            fault: None,
        };
        self.lock().push(entry);
        id
    }

    /// Completes entry `id` (no-op if the log was cleared meanwhile).
    pub fn finish(&self, id: u64, record: Record, status: u16, code: Option<i64>) {
        let mut entries = self.lock();
        if let Some(entry) = entries.iter_mut().rev().find(|e| e.id == id) {
            entry.fields = record.fields;
            entry.body_len = record.body_len;
            entry.stored_path = record.stored_path;
            entry.fault = record.fault;
            entry.response_status = status;
            entry.response_code = code;
        }
    }

    pub fn snapshot(&self) -> Vec<LoggedRequest> {
        self.lock().clone()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<LoggedRequest>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
