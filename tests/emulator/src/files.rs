//! The files host: serves uploads at their `downloadUrl`, generated files and
//! download links, until they expire. No authentication.

use crate::server::{Reply, Shared};
use crate::validate;

/// Handles a request on the files host.
pub(crate) fn handle(shared: &Shared, parts: &http::request::Parts) -> Reply {
    if parts.method != http::Method::GET && parts.method != http::Method::HEAD {
        return Reply::text(405, "Method Not Allowed").with_header("Allow", "GET, HEAD");
    }
    let raw = parts.uri.path().trim_start_matches('/');
    if raw.is_empty() {
        return Reply::text(403, "Forbidden");
    }
    let Some(path) = validate::decode_path(raw) else {
        return Reply::text(404, "Not Found");
    };
    let now = shared.clock.now();
    let mut storage = shared.storage();
    storage.purge(now);
    if let Some(file) = storage.uploads.get(&path) {
        return match &file.content {
            Some(data) => Reply {
                status: 200,
                code: None,
                content_type: file.mime.clone(),
                body: data.clone(),
                headers: Vec::new(),
            },
            None => Reply::text(
                404,
                "Not Found (content discarded: the emulator runs in discard storage mode)",
            ),
        };
    }
    if let Some(blob) = storage.blobs.get(&path) {
        return Reply {
            status: 200,
            code: None,
            content_type: blob.mime.clone(),
            body: blob.data.clone(),
            headers: Vec::new(),
        };
    }
    Reply::text(404, "Not Found")
}
