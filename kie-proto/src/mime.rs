//! MIME type detection: magic bytes first, then the file name's extension, then
//! `application/octet-stream`. The caller's explicit type always wins over both.

use crate::input::{MimeType, extension_of};

/// How many leading bytes of the content detection looks at. Drivers read this much before
/// building an upload (and send it as the start of the content).
pub const SNIFF_LEN: usize = 8192;

/// How many leading bytes a driver reads for detection from content of `content_len`
/// bytes: [`SNIFF_LEN`], or the whole content when it is shorter. Check what was actually
/// read with [`ContentLengthMismatch::check_prefix`](crate::ContentLengthMismatch::check_prefix).
///
/// ```
/// assert_eq!(kie_proto::driver::sniff_len(3), 3);
/// assert_eq!(kie_proto::driver::sniff_len(u64::MAX), kie_proto::driver::SNIFF_LEN);
/// ```
pub fn sniff_len(content_len: u64) -> usize {
    usize::try_from(content_len).map_or(SNIFF_LEN, |len| len.min(SNIFF_LEN))
}

/// The MIME type of content that starts with `content_start`, named `file_name` (if known).
///
/// ```
/// use kie_proto::detect_mime;
/// assert_eq!(detect_mime(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Some("x.bin")).as_str(), "image/png");
/// assert_eq!(detect_mime(b"plain words", Some("notes.txt")).as_str(), "text/plain");
/// assert_eq!(detect_mime(b"", None).as_str(), "application/octet-stream");
/// ```
pub fn detect_mime(content_start: &[u8], file_name: Option<&str>) -> MimeType {
    if let Some(kind) = infer::get(content_start) {
        return MimeType::from_static(kind.mime_type());
    }
    file_name
        .and_then(extension_of)
        .and_then(|ext| mime_guess::from_ext(ext).first_raw())
        .map_or_else(MimeType::octet_stream, MimeType::from_static)
}

/// The usual file extension for `mime`, without the dot (`image/jpeg` → `jpg`).
///
/// ```
/// use kie_proto::{MimeType, extension_for_mime};
/// assert_eq!(extension_for_mime(&MimeType::new("image/jpeg")?), Some("jpg"));
/// assert_eq!(extension_for_mime(&MimeType::new("video/mp4")?), Some("mp4"));
/// assert_eq!(extension_for_mime(&MimeType::octet_stream()), None);
/// # Ok::<(), kie_proto::InvalidInput>(())
/// ```
pub fn extension_for_mime(mime: &MimeType) -> Option<&'static str> {
    const PREFERRED: &[(&str, &str)] = &[
        ("image/jpeg", "jpg"),
        ("image/png", "png"),
        ("image/gif", "gif"),
        ("image/webp", "webp"),
        ("image/svg+xml", "svg"),
        ("image/tiff", "tif"),
        ("audio/mpeg", "mp3"),
        ("audio/x-wav", "wav"),
        ("audio/wav", "wav"),
        ("audio/mp4", "m4a"),
        ("audio/ogg", "ogg"),
        ("video/mp4", "mp4"),
        ("video/quicktime", "mov"),
        ("video/webm", "webm"),
        ("text/plain", "txt"),
        ("application/pdf", "pdf"),
        ("application/zip", "zip"),
        ("application/json", "json"),
    ];
    let mime = mime.as_str();
    if mime == "application/octet-stream" {
        return None;
    }
    PREFERRED
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(mime))
        .map(|(_, ext)| *ext)
        .or_else(|| {
            mime_guess::get_mime_extensions_str(mime).and_then(|exts| exts.first().copied())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_beats_extension() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'];
        assert_eq!(detect_mime(&jpeg, Some("lying.png")).as_str(), "image/jpeg");
        assert_eq!(detect_mime(b"%PDF-1.7\n", None).as_str(), "application/pdf");
        assert_eq!(detect_mime(b"...", Some("song.mp3")).as_str(), "audio/mpeg");
        assert_eq!(
            detect_mime(b"...", Some("noext")).as_str(),
            "application/octet-stream"
        );
    }
}
