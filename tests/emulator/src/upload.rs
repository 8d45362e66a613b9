//! The upload host: `file-base64-upload`, `file-stream-upload`, `file-url-upload`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use crate::base64_body::{self, Base64Field, BodyError};
use crate::clock::{iso8601_millis, iso8601_seconds};
use crate::log::Record;
use crate::routes::Route;
use crate::server::{BodyReader, ReadError, Reply, Shared};
use crate::storage::{
    Content, Sink, StorageMode, StoredFile, detect_mime, extension_of, random_hex,
};
use crate::validate;

/// Longest text part accepted in a multipart upload (`uploadPath`, `fileName`, ...).
const MAX_TEXT_PART: usize = 64 * 1024;

/// A 4xx/5xx outcome of an upload, rendered in the host's error style.
struct Fail {
    code: u16,
    msg: String,
}

fn bad(msg: impl Into<String>) -> Fail {
    Fail {
        code: 400,
        msg: msg.into(),
    }
}

fn missing(name: &str) -> Fail {
    bad(format!("Missing required parameter: {name}"))
}

/// Handles a request on the upload host.
pub(crate) async fn handle(
    shared: &Shared,
    route: Option<Route>,
    parts: &http::request::Parts,
    body: &mut BodyReader,
    rec: &mut Record,
) -> Reply {
    let style = shared.settings().upload_style;
    let Some(route) = route else {
        if parts.uri.path() == "/" && parts.method == http::Method::GET {
            return Reply::text(200, "KIE.AI emulator: upload host");
        }
        let body = json!({"success": false, "code": 404, "msg": "Not Found"});
        return Reply::json(404, &body);
    };
    if parts.method == http::Method::OPTIONS {
        return Reply::text(204, "")
            .with_header("Access-Control-Allow-Origin", "*")
            .with_header("Access-Control-Allow-Methods", "POST, OPTIONS")
            .with_header(
                "Access-Control-Allow-Headers",
                "Authorization, Content-Type",
            );
    }
    if parts.method != http::Method::POST {
        return Reply::upload_error(style, 405, "Method Not Allowed").with_header("Allow", "POST");
    }
    if !shared.authorized(&parts.headers) {
        return Reply::upload_error(style, 401, "Authentication failed: Invalid API Key");
    }
    let outcome = match route {
        Route::Base64Upload => base64_upload(shared, parts, body, rec).await,
        Route::StreamUpload => stream_upload(shared, parts, body, rec).await,
        Route::UrlUpload => url_upload(shared, parts, body, rec).await,
        _ => Err(Fail {
            code: 404,
            msg: "Not Found".to_owned(),
        }),
    };
    match outcome {
        Ok(stored) => {
            rec.stored_path = Some(stored.file.path.clone());
            success(shared, &stored)
        }
        Err(fail) => Reply::upload_error(style, fail.code, &fail.msg),
    }
}

/// A stored upload plus what the quickstart extras need.
struct Stored {
    file: StoredFile,
    original_name: String,
}

fn success(shared: &Shared, stored: &Stored) -> Reply {
    let f = &stored.file;
    let mut data = json!({
        "fileName": f.file_name,
        "filePath": f.path,
        "downloadUrl": f.download_url,
        "fileSize": f.size,
        "mimeType": f.mime,
        "uploadedAt": iso8601_millis(f.uploaded_at),
    });
    let quickstart = shared.settings().quickstart_fields;
    if quickstart && let Some(obj) = data.as_object_mut() {
        obj.insert("fileId".into(), json!(format!("file_{}", random_hex(6))));
        obj.insert("originalName".into(), json!(stored.original_name));
        obj.insert("uploadPath".into(), json!(f.upload_path));
        obj.insert("fileUrl".into(), json!(f.download_url));
        obj.insert("uploadTime".into(), json!(iso8601_seconds(f.uploaded_at)));
        obj.insert("expiresAt".into(), json!(iso8601_seconds(f.expires_at)));
    }
    let body = json!({
        "success": true,
        "code": 200,
        "msg": "File uploaded successfully",
        "data": data,
    });
    Reply::json(200, &body)
}

/// Reads a JSON object body (Content-Type `application/json` required) and records its
/// fields in the log.
async fn json_object(
    shared: &Shared,
    parts: &http::request::Parts,
    body: &mut BodyReader,
    rec: &mut Record,
) -> Result<Map<String, Value>, Fail> {
    if !is_json(&parts.headers) {
        return Err(bad("Invalid Content-Type: expected application/json"));
    }
    let limit = shared.cfg.json_body_limit;
    let bytes = body
        .read_limited(limit)
        .await
        .map_err(|e| read_failed(e, limit))?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("Invalid JSON body: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(bad("Invalid JSON body: expected an object"));
    };
    for (key, value) in &obj {
        let shown = match (key.as_str(), value) {
            ("base64Data", Value::String(s)) => s.len().to_string(),
            (_, Value::String(s)) => s.clone(),
            (_, other) => other.to_string(),
        };
        rec.fields.insert(key.clone(), shown);
    }
    Ok(obj)
}

/// The 400 for a JSON body that was too large or could not be read.
fn read_failed(e: ReadError, limit: u64) -> Fail {
    match e {
        ReadError::TooLarge => bad(format!("Request body too large (limit {limit} bytes)")),
        ReadError::Io(e) => bad(format!("Failed to read request body: {e}")),
    }
}

/// Whether the request's Content-Type is `application/json` (parameters allowed).
pub(crate) fn is_json(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// A string field: absent, `null` and `""` count as absent; other non-strings are a 400.
fn opt_str(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, Fail> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("Invalid parameter: {name} must be a string"))),
    }
}

/// Checks `uploadPath` (required) and `fileName` (optional).
fn check_names(upload_path: Option<&str>, file_name: Option<&str>) -> Result<(), Fail> {
    let upload_path = upload_path.ok_or_else(|| missing("uploadPath"))?;
    validate::upload_path(upload_path).map_err(bad)?;
    if let Some(name) = file_name {
        validate::file_name(name).map_err(bad)?;
    }
    Ok(())
}

async fn base64_upload(
    shared: &Shared,
    parts: &http::request::Parts,
    body: &mut BodyReader,
    rec: &mut Record,
) -> Result<Stored, Fail> {
    if !is_json(&parts.headers) {
        return Err(bad("Invalid Content-Type: expected application/json"));
    }
    let limit = shared.cfg.json_body_limit;
    let parsed = match base64_body::read(body, limit, shared.cfg.storage).await {
        Ok(parsed) => parsed,
        Err(BodyError::Read(e)) => return Err(read_failed(e, limit)),
        Err(BodyError::Json(e)) => return Err(bad(format!("Invalid JSON body: {e}"))),
        Err(BodyError::Internal) => {
            return Err(Fail {
                code: 500,
                msg: "Internal server error".to_owned(),
            });
        }
    };
    rec.fields.extend(parsed.fields);
    let (len, content) = match parsed.base64 {
        Base64Field::Other => return Err(bad("Invalid parameter: base64Data must be a string")),
        Base64Field::Absent => (0, None),
        Base64Field::Str { len, content } => (len, content),
    };
    if len == 0 {
        return Err(missing("base64Data"));
    }
    let upload_path = opt_str(&parsed.others, "uploadPath")?;
    let file_name = opt_str(&parsed.others, "fileName")?;
    check_names(upload_path.as_deref(), file_name.as_deref())?;
    let content = content.ok_or_else(|| bad("Base64 decoding failed: Invalid Base64 format"))?;
    Ok(store(
        shared,
        upload_path.as_deref().unwrap_or_default(),
        file_name,
        None,
        content,
    ))
}

async fn stream_upload(
    shared: &Shared,
    parts: &http::request::Parts,
    body: &mut BodyReader,
    rec: &mut Record,
) -> Result<Stored, Fail> {
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| bad("Invalid Content-Type: expected multipart/form-data with a boundary"))?;
    let multipart = multer::Multipart::new(body.take_stream(), boundary);
    let StreamParts {
        file,
        upload_path,
        file_name,
    } = read_stream_parts(multipart, shared.cfg.storage, &mut rec.fields).await?;
    let (content, original) = file.ok_or_else(|| missing("file"))?;
    check_names(upload_path.as_deref(), file_name.as_deref())?;
    Ok(store(
        shared,
        upload_path.as_deref().unwrap_or_default(),
        file_name,
        original,
        content,
    ))
}

/// The parts of a stream-upload body the service reads: the file (its content and the
/// part's `filename`), and the `uploadPath` and `fileName` text parts (empty means absent).
struct StreamParts {
    file: Option<(Content, Option<String>)>,
    upload_path: Option<String>,
    file_name: Option<String>,
}

/// Reads every part of `multipart` by the part rules: one `file` part at most, text parts
/// UTF-8 and at most [`MAX_TEXT_PART`] bytes, unknown parts ignored. The parts are logged
/// into `fields`.
async fn read_stream_parts(
    mut multipart: multer::Multipart<'_>,
    mode: StorageMode,
    fields: &mut BTreeMap<String, String>,
) -> Result<StreamParts, Fail> {
    let malformed = |e: multer::Error| bad(format!("Malformed multipart/form-data body: {e}"));

    let mut file: Option<(Content, Option<String>)> = None;
    let mut upload_path = None;
    let mut file_name = None;
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            if file.is_some() {
                return Err(bad("Invalid parameter: only one file part is allowed"));
            }
            let original = field.file_name().map(str::to_owned);
            if let Some(o) = &original {
                fields.insert("file.filename".into(), o.clone());
            }
            if let Some(ct) = field.content_type() {
                fields.insert("file.content_type".into(), ct.to_string());
            }
            let mut sink = Sink::new(mode);
            while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                sink.push(&chunk);
            }
            fields.insert("file".into(), sink.size().to_string());
            file = Some((sink.finish(), original));
            continue;
        }
        let mut text = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if text.len() + chunk.len() > MAX_TEXT_PART {
                return Err(bad(format!("Invalid parameter: {name} is too long")));
            }
            text.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(text)
            .map_err(|_| bad(format!("Invalid parameter: {name} must be UTF-8 text")))?;
        fields.insert(name.clone(), text.clone());
        let text = (!text.is_empty()).then_some(text);
        match name.as_str() {
            "uploadPath" => upload_path = text,
            "fileName" => file_name = text,
            _ => {}
        }
    }
    Ok(StreamParts {
        file,
        upload_path,
        file_name,
    })
}

/// What a stream-upload body (`body` sent with `content_type`) comes to under the server's
/// rules, read from memory: the stored folder, name, the file part's `filename` and the
/// content; or the 400 message. For the `emulator_multipart` fuzz target.
pub async fn parse_stream_upload(
    content_type: &str,
    body: bytes::Bytes,
) -> Result<ParsedStreamUpload, String> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| e.to_string())?;
    let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(body)]);
    let multipart = multer::Multipart::new(stream, boundary);
    let parsed = async {
        let parts = read_stream_parts(multipart, StorageMode::Memory, &mut BTreeMap::new()).await?;
        let (content, original) = parts.file.ok_or_else(|| missing("file"))?;
        check_names(parts.upload_path.as_deref(), parts.file_name.as_deref())?;
        Ok::<_, Fail>(ParsedStreamUpload {
            upload_path: parts.upload_path,
            file_name: parts.file_name,
            original_name: original,
            content: content.data.map(|d| d.to_vec()).unwrap_or_default(),
        })
    };
    parsed.await.map_err(|fail| fail.msg)
}

/// A stream-upload body as [`parse_stream_upload`] read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedStreamUpload {
    /// The `uploadPath` part (absent or empty: `None`).
    pub upload_path: Option<String>,
    /// The `fileName` part (absent or empty: `None`).
    pub file_name: Option<String>,
    /// The `filename` parameter of the file part.
    pub original_name: Option<String>,
    /// The file part's bytes.
    pub content: Vec<u8>,
}

async fn url_upload(
    shared: &Shared,
    parts: &http::request::Parts,
    body: &mut BodyReader,
    rec: &mut Record,
) -> Result<Stored, Fail> {
    let obj = json_object(shared, parts, body, rec).await?;
    let file_url = opt_str(&obj, "fileUrl")?.ok_or_else(|| missing("fileUrl"))?;
    let upload_path = opt_str(&obj, "uploadPath")?;
    let file_name = opt_str(&obj, "fileName")?;
    check_names(upload_path.as_deref(), file_name.as_deref())?;
    let url = reqwest::Url::parse(&file_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| bad("Invalid parameter: fileUrl must be a valid http:// or https:// URL"))?;
    let original = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .and_then(validate::decode_path)
        .filter(|name| !name.is_empty() && validate::file_name(name).is_ok());
    let content = fetch(shared, url).await?;
    let file_name = file_name.or_else(|| original.clone());
    Ok(store(
        shared,
        upload_path.as_deref().unwrap_or_default(),
        file_name,
        original,
        content,
    ))
}

/// Downloads `url` with the configured timeout (set on the client) and size cap.
async fn fetch(shared: &Shared, url: reqwest::Url) -> Result<Content, Fail> {
    let cap = shared.cfg.url_fetch_max_bytes;
    let failed = |why: String| bad(format!("File download failed: {why}"));
    let describe = |e: reqwest::Error| {
        if e.is_timeout() {
            return "timed out".to_owned();
        }
        // reqwest's own message names the URL only; the cause is in its sources.
        crate::server::chain(&e)
    };
    if url.scheme() == "https" && !cfg!(feature = "https") {
        return Err(failed(
            "this emulator was built without its `https` feature".to_owned(),
        ));
    }
    let client = shared.http.client().map_err(failed)?;
    let mut resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| failed(describe(e)))?;
    if !resp.status().is_success() {
        return Err(failed(format!(
            "remote server answered HTTP {}",
            resp.status().as_u16()
        )));
    }
    if resp.content_length().is_some_and(|len| len > cap) {
        return Err(failed(format!("file exceeds the {cap}-byte limit")));
    }
    let mut sink = Sink::new(shared.cfg.storage);
    while let Some(chunk) = resp.chunk().await.map_err(|e| failed(describe(e)))? {
        if sink.size() + chunk.len() as u64 > cap {
            return Err(failed(format!("file exceeds the {cap}-byte limit")));
        }
        sink.push(&chunk);
    }
    Ok(sink.finish())
}

/// Stores `content` under `upload_path/name`, overwriting any file with the same key.
/// Without a `file_name` a random name with the detected extension is generated.
fn store(
    shared: &Shared,
    upload_path: &str,
    file_name: Option<String>,
    original: Option<String>,
    content: Content,
) -> Stored {
    let hint = file_name.as_deref().or(original.as_deref());
    let (mime, sniffed_ext) = detect_mime(&content.head, hint);
    let file_name = file_name.unwrap_or_else(|| {
        let ext = sniffed_ext
            .clone()
            .or_else(|| {
                original
                    .as_deref()
                    .and_then(extension_of)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "bin".to_owned());
        format!("{}.{ext}", random_hex(8))
    });
    let original_name = original.unwrap_or_else(|| file_name.clone());
    let path = format!("kieai/{}/{upload_path}/{file_name}", shared.cfg.account_id);
    let download_url = format!("{}/{}", shared.urls.files, validate::encode_path(&path));
    let now: SystemTime = shared.clock.now();
    let mut storage = shared.storage();
    storage.purge(now);
    let writes = storage.uploads.get(&path).map_or(0, |f| f.writes) + 1;
    let file = StoredFile {
        path: path.clone(),
        upload_path: upload_path.to_owned(),
        file_name,
        download_url,
        size: content.size,
        sha256: content.sha256,
        mime,
        content: content.data,
        uploaded_at: now,
        expires_at: now + shared.cfg.ttl,
        writes,
    };
    storage.uploads.insert(path, file.clone());
    Stored {
        file,
        original_name,
    }
}
