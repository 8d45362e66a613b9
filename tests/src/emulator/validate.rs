//! Input rules: `uploadPath`, `fileName`, Base64 payloads, and path percent-encoding.

use base64::Engine as _;

/// Checks an `uploadPath` (already known to be non-empty).
///
/// Rejected: a leading or trailing `/`, an empty segment (`a//b`), a `.` or `..`
/// segment, and control characters. Returns the 400 message on failure.
pub fn upload_path(path: &str) -> Result<(), String> {
    if path.starts_with('/') || path.ends_with('/') {
        return Err("Invalid parameter: uploadPath must not start or end with '/'".to_owned());
    }
    if path.chars().any(char::is_control) {
        return Err("Invalid parameter: uploadPath must not contain control characters".to_owned());
    }
    for segment in path.split('/') {
        if segment.is_empty() {
            return Err("Invalid parameter: uploadPath must not contain empty segments".to_owned());
        }
        if segment == "." || segment == ".." {
            return Err(
                "Invalid parameter: uploadPath must not contain '.' or '..' segments".to_owned(),
            );
        }
    }
    Ok(())
}

/// Checks a `fileName` (already known to be non-empty).
///
/// Rejected: `/`, control characters, and the names `.` and `..`. Returns the 400
/// message on failure.
pub fn file_name(name: &str) -> Result<(), String> {
    if name.contains('/') {
        return Err("Invalid parameter: fileName must not contain '/'".to_owned());
    }
    if name.chars().any(char::is_control) {
        return Err("Invalid parameter: fileName must not contain control characters".to_owned());
    }
    if name == "." || name == ".." {
        return Err("Invalid parameter: fileName must not be '.' or '..'".to_owned());
    }
    Ok(())
}

/// Decodes a `base64Data` value: a bare standard Base64 string (RFC 4648 alphabet, `=`
/// padding required, no whitespace) or a data URL `data:<mime>;base64,<payload>` whose
/// prefix is stripped before decoding the same way. `None` when it is not valid.
pub fn base64_data(value: &str) -> Option<Vec<u8>> {
    let payload = match value.strip_prefix("data:") {
        // RFC 2397: the metadata ends at the first ',' and must end in ";base64"; a
        // ";base64," found later is inside a non-base64 payload (`data:text/plain,a;base64,…`).
        Some(rest) => {
            let (meta, payload) = rest.split_once(',')?;
            meta.strip_suffix(";base64")?;
            payload
        }
        None => value,
    };
    base64::engine::general_purpose::STANDARD
        .decode(payload)
        .ok()
}

/// Percent-encodes one path segment: every byte outside the RFC 3986 unreserved set
/// (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`.
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for &b in segment.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a `/`-separated path segment by segment.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// Decodes `%XX` escapes of a request path into text. `None` for a malformed escape or
/// a result that is not UTF-8. Segment boundaries are kept: a decoded `%2F` is returned
/// as part of a segment, so callers compare against [`encode_path`] output when needed.
pub fn decode_path(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            // Exactly two hex digits: `u8::from_str_radix` alone would take "%+f" as 0x0f.
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_paths() {
        assert!(upload_path("images").is_ok());
        assert!(upload_path("images/user-uploads").is_ok());
        for bad in ["/images", "images/", "a//b", "a/../b", "./a", "a/\u{7}"] {
            assert!(upload_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn file_names() {
        assert!(file_name("my-image.jpg").is_ok());
        assert!(file_name("ünïcødé ✓.png").is_ok());
        for bad in ["a/b", ".", "..", "a\nb"] {
            assert!(file_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn base64_forms() {
        assert_eq!(base64_data("aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(
            base64_data("data:text/plain;base64,aGk=").as_deref(),
            Some(&b"hi"[..])
        );
        for bad in [
            "aGk",
            "aG k=",
            "-_-_",
            "data:text/plain,aGk=",
            "a\nGk=",
            "data:text/plain,x;base64,aGk=",
            "data:;base64",
        ] {
            assert!(base64_data(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn percent_round_trip() {
        let p = "kieai/1/a b/ü?#%.png";
        let enc = encode_path(p);
        assert_eq!(enc, "kieai/1/a%20b/%C3%BC%3F%23%25.png");
        assert_eq!(decode_path(&enc).as_deref(), Some(p));
        assert!(decode_path("%zz").is_none());
        assert!(decode_path("%+f").is_none());
        assert!(decode_path("%4").is_none());
    }
}
