//! What an upload answers ([`UploadResult`]), read with the tolerance the spec asks for.

use serde::Deserialize;

use crate::envelope::ObjectOnly;

/// What an upload returns. `download_url` is always there; every other field is optional
/// because the two documented shapes (endpoint pages and quickstart, spec §2.1) differ and
/// real answers carry a subset. Unknown fields are ignored.
///
/// The service does not promise a lifetime for the file (the docs say 24 hours or 3 days);
/// use [`expires_at`](Self::expires_at) when the answer has it.
///
/// `data` must be a JSON object. A text field of another type (a number as `fileName`) is
/// ignored like an unknown field rather than failing an upload that happened; `fileSize`
/// may be an integer, an integral float or a numeric string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "ObjectOnly<WireUploadResult>")]
#[non_exhaustive]
pub struct UploadResult {
    /// Public URL of the stored file (`downloadUrl`, or `fileUrl` when only that is sent).
    pub download_url: String,
    /// Stored name (`fileName`).
    pub file_name: Option<String>,
    /// Full storage path, e.g. `kieai/123/images/cat.png` (`filePath`).
    pub file_path: Option<String>,
    /// Size in bytes (`fileSize`).
    pub file_size: Option<u64>,
    /// Detected MIME type (`mimeType`).
    pub mime_type: Option<String>,
    /// Upload time, ISO 8601 as sent (`uploadedAt`, or quickstart `uploadTime`).
    pub uploaded_at: Option<String>,
    /// Quickstart shape: file id (`fileId`).
    pub file_id: Option<String>,
    /// Quickstart shape: the original name (`originalName`).
    pub original_name: Option<String>,
    /// Quickstart shape: the folder (`uploadPath`).
    pub upload_path: Option<String>,
    /// Quickstart shape: another URL of the file (`fileUrl`).
    pub file_url: Option<String>,
    /// Quickstart shape: when the file is deleted, ISO 8601 as sent (`expiresAt`).
    pub expires_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireUploadResult {
    #[serde(default, deserialize_with = "text")]
    download_url: Option<String>,
    #[serde(default, deserialize_with = "text")]
    file_name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    file_path: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    file_size: Option<u64>,
    #[serde(default, deserialize_with = "text")]
    mime_type: Option<String>,
    #[serde(default, deserialize_with = "text")]
    uploaded_at: Option<String>,
    #[serde(default, deserialize_with = "text")]
    upload_time: Option<String>,
    #[serde(default, deserialize_with = "text")]
    file_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    original_name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    upload_path: Option<String>,
    #[serde(default, deserialize_with = "text")]
    file_url: Option<String>,
    #[serde(default, deserialize_with = "text")]
    expires_at: Option<String>,
}

impl TryFrom<ObjectOnly<WireUploadResult>> for UploadResult {
    type Error = &'static str;

    fn try_from(ObjectOnly(wire): ObjectOnly<WireUploadResult>) -> Result<Self, Self::Error> {
        let download_url = wire
            .download_url
            .clone()
            .or_else(|| wire.file_url.clone())
            .filter(|url| !url.is_empty())
            .ok_or("neither downloadUrl nor fileUrl is present")?;
        Ok(UploadResult {
            download_url,
            file_name: wire.file_name,
            file_path: wire.file_path,
            file_size: wire.file_size,
            mime_type: wire.mime_type,
            uploaded_at: wire.uploaded_at.or(wire.upload_time),
            file_id: wire.file_id,
            original_name: wire.original_name,
            upload_path: wire.upload_path,
            file_url: wire.file_url,
            expires_at: wire.expires_at,
        })
    }
}

/// A text field: a JSON string; anything else (a number, an object) is ignored.
fn text<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(de)? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    })
}

/// A size as a JSON integer, an integral float or a numeric string.
fn lenient_u64<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<u64>, D::Error> {
    Ok(match serde_json::Value::deserialize(de)? {
        serde_json::Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
        }),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}
