//! The files host: serves uploads at their `downloadUrl`, generated files and
//! download links, until they expire. No authentication. Single byte ranges
//! (`Range: bytes=…`, RFC 9110 §14) are answered with 206; other range forms get the
//! whole file, as RFC 9110 allows.

use bytes::Bytes;

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
    let range = parts.headers.get(http::header::RANGE);
    if let Some(file) = storage.uploads.get(&path) {
        return match &file.content {
            Some(data) => serve(data, &file.mime, range),
            None => Reply::text(
                404,
                "Not Found (content discarded: the emulator runs in discard storage mode)",
            ),
        };
    }
    if let Some(blob) = storage.blobs.get(&path) {
        return serve(&blob.data, &blob.mime, range);
    }
    Reply::text(404, "Not Found")
}

/// The file, or the part of it that `range` asks for.
fn serve(data: &Bytes, mime: &str, range: Option<&http::HeaderValue>) -> Reply {
    let len = data.len() as u64;
    let reply = |status, body| {
        Reply {
            status,
            code: None,
            content_type: mime.to_owned(),
            body,
            headers: Vec::new(),
        }
        .with_header("Accept-Ranges", "bytes")
    };
    match range.and_then(|value| byte_range(value.to_str().ok()?, len)) {
        None => reply(200, data.clone()),
        Some(Ok((first, last))) => reply(206, data.slice(first as usize..=last as usize))
            .with_header("Content-Range", &format!("bytes {first}-{last}/{len}")),
        Some(Err(Unsatisfiable)) => Reply::text(416, "Range Not Satisfiable")
            .with_header("Content-Range", &format!("bytes */{len}")),
    }
}

/// A range that selects no byte of the file.
struct Unsatisfiable;

/// The first and last byte (inclusive) of a single `bytes=` range over `len` bytes;
/// `None` when the header is not a single byte range (the whole file is sent then).
fn byte_range(header: &str, len: u64) -> Option<Result<(u64, u64), Unsatisfiable>> {
    let spec = header.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    let (first, last) = match (first.trim().is_empty(), last.trim().is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => {
            let suffix = number(last)?;
            if suffix == 0 || len == 0 {
                return Some(Err(Unsatisfiable));
            }
            (len.saturating_sub(suffix), len - 1)
        }
        // bytes=A-: from A to the end.
        (false, true) => (number(first)?, len.saturating_sub(1)),
        // bytes=A-B.
        (false, false) => {
            let (first, last) = (number(first)?, number(last)?);
            if last < first {
                return None;
            }
            (first, last.min(len.saturating_sub(1)))
        }
        (true, true) => return None,
    };
    if first >= len {
        return Some(Err(Unsatisfiable));
    }
    Some(Ok((first, last)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(header: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
        byte_range(header, len).map(|r| r.map_err(|Unsatisfiable| ()))
    }

    #[test]
    fn single_byte_ranges() {
        assert_eq!(range("bytes=0-0", 10), Some(Ok((0, 0))));
        assert_eq!(range("bytes=2-5", 10), Some(Ok((2, 5))));
        assert_eq!(range("bytes=2-500", 10), Some(Ok((2, 9))));
        assert_eq!(range("bytes=7-", 10), Some(Ok((7, 9))));
        assert_eq!(range("bytes=-3", 10), Some(Ok((7, 9))));
        assert_eq!(range("bytes=-30", 10), Some(Ok((0, 9))));
        assert_eq!(range(" bytes= 1 - 2 ", 10), Some(Ok((1, 2))));
    }

    #[test]
    fn unsatisfiable_and_ignored_ranges() {
        assert_eq!(range("bytes=10-", 10), Some(Err(())));
        assert_eq!(range("bytes=10-20", 10), Some(Err(())));
        assert_eq!(range("bytes=-0", 10), Some(Err(())));
        assert_eq!(range("bytes=0-", 0), Some(Err(())));
        for ignored in [
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=5-2",
            "bytes=-",
            "bytes=a-b",
            "bytes=+1-2",
        ] {
            assert_eq!(range(ignored, 10), None, "{ignored}");
        }
    }
}
