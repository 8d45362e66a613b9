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

/// The incremental form of [`base64_data`], for values too large to hold: fed the
/// characters of a `base64Data` value piece by piece (split anywhere), it hands the
/// decoded bytes to a callback as it goes and accepts and rejects exactly what
/// [`base64_data`] does, in constant memory.
///
/// The optional `data:<mime>;base64,` prefix is recognised on the fly (only its last
/// bytes are kept); payload characters are decoded in groups of four, holding back the
/// last group, the only one where `=` padding may appear, until [`Base64Stream::finish`].
#[derive(Debug)]
pub(crate) struct Base64Stream {
    mode: B64Mode,
    /// `Start`: the first characters (at most 5, a prefix of `data:`); `Meta`: the last
    /// (at most 7) characters of the metadata; `Payload`: undecoded characters.
    pending: Vec<u8>,
    decoded: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum B64Mode {
    /// Not yet known whether this is a data URL.
    Start,
    /// Inside the metadata of a data URL, before its first `,`.
    Meta,
    /// In the Base64 payload.
    Payload,
    /// Already known to be invalid; the rest is ignored.
    Invalid,
}

const DATA_PREFIX: &[u8] = b"data:";
const BASE64_SUFFIX: &[u8] = b";base64";

impl Base64Stream {
    pub(crate) fn new() -> Base64Stream {
        Base64Stream {
            mode: B64Mode::Start,
            pending: Vec::new(),
            decoded: Vec::new(),
        }
    }

    /// Whether the value is already known to be invalid.
    pub(crate) fn is_invalid(&self) -> bool {
        self.mode == B64Mode::Invalid
    }

    /// Feeds the next characters (bytes of the UTF-8 value); decoded bytes go to `out`.
    pub(crate) fn push(&mut self, mut chars: &[u8], out: &mut impl FnMut(&[u8])) {
        while !chars.is_empty() {
            match self.mode {
                B64Mode::Invalid => return,
                B64Mode::Start => {
                    let take = (DATA_PREFIX.len() - self.pending.len()).min(chars.len());
                    self.pending.extend_from_slice(&chars[..take]);
                    chars = &chars[take..];
                    if !DATA_PREFIX.starts_with(&self.pending) {
                        // A bare value: what was held back is payload.
                        self.mode = B64Mode::Payload;
                        let head = std::mem::take(&mut self.pending);
                        self.payload(&head, out);
                    } else if self.pending.len() == DATA_PREFIX.len() {
                        self.mode = B64Mode::Meta;
                        self.pending.clear();
                    }
                }
                B64Mode::Meta => {
                    // RFC 2397: the metadata ends at the first ',' and must end in ";base64".
                    let comma = chars.iter().position(|&b| b == b',');
                    let meta = &chars[..comma.unwrap_or(chars.len())];
                    self.pending.extend_from_slice(meta);
                    let excess = self.pending.len().saturating_sub(BASE64_SUFFIX.len());
                    self.pending.drain(..excess);
                    let Some(comma) = comma else { return };
                    chars = &chars[comma + 1..];
                    if self.pending == BASE64_SUFFIX {
                        self.mode = B64Mode::Payload;
                        self.pending.clear();
                    } else {
                        self.invalid();
                    }
                }
                B64Mode::Payload => {
                    self.payload(chars, out);
                    return;
                }
            }
        }
    }

    /// Payload characters: decodes every complete group but the last one.
    fn payload(&mut self, chars: &[u8], out: &mut impl FnMut(&[u8])) {
        self.pending.extend_from_slice(chars);
        let ready = self.pending.len().saturating_sub(1) / 4 * 4;
        if ready == 0 {
            return;
        }
        // `=` may only pad the very last group.
        if self.pending[..ready].contains(&b'=') {
            return self.invalid();
        }
        self.decoded.clear();
        let engine = &base64::engine::general_purpose::STANDARD;
        if engine
            .decode_vec(&self.pending[..ready], &mut self.decoded)
            .is_err()
        {
            return self.invalid();
        }
        out(&self.decoded);
        self.pending.drain(..ready);
    }

    fn invalid(&mut self) {
        self.mode = B64Mode::Invalid;
        self.pending = Vec::new();
        self.decoded = Vec::new();
    }

    /// Ends the value: decodes the held-back last group into `out` and tells whether the
    /// whole value was valid.
    pub(crate) fn finish(mut self, out: &mut impl FnMut(&[u8])) -> bool {
        match self.mode {
            B64Mode::Invalid | B64Mode::Meta => false,
            B64Mode::Start | B64Mode::Payload => {
                let engine = &base64::engine::general_purpose::STANDARD;
                match engine.decode(&self.pending) {
                    Ok(last) => {
                        out(&last);
                        true
                    }
                    Err(_) => {
                        self.invalid();
                        false
                    }
                }
            }
        }
    }
}

/// Decodes a `base64Data` value fed to the incremental decoder in `pieces` (split anywhere), as
/// the server does with a streamed body: the same outcome as [`base64_data`] on the whole
/// value. For the `emulator_base64_body` fuzz target.
pub fn base64_data_streamed<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Option<Vec<u8>> {
    let mut stream = Base64Stream::new();
    let mut decoded = Vec::new();
    let mut out = |bytes: &[u8]| decoded.extend_from_slice(bytes);
    for piece in pieces {
        stream.push(piece, &mut out);
    }
    stream.finish(&mut out).then_some(decoded)
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

    /// Feeds `value` to a [`Base64Stream`] cut at `cuts` and returns what it decoded.
    fn stream_decode(value: &str, cuts: &[usize]) -> Option<Vec<u8>> {
        let mut decoder = Base64Stream::new();
        let mut bytes = Vec::new();
        let mut out = |chunk: &[u8]| bytes.extend_from_slice(chunk);
        let mut at = 0;
        for &cut in cuts.iter().chain([&value.len()]) {
            decoder.push(&value.as_bytes()[at..cut], &mut out);
            at = cut;
        }
        decoder.finish(&mut out).then_some(bytes)
    }

    #[test]
    fn base64_stream_agrees_with_base64_data_at_every_split() {
        let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
        let mut values: Vec<String> = vec![
            String::new(),
            "aGk=".into(),
            "aGk".into(),
            "aG k=".into(),
            "aGk=\n".into(),
            "-_8=".into(),
            "aGk=aGk=".into(),
            "aGk=a".into(),
            "aGl=".into(),
            "aA==".into(),
            "aB==".into(),
            "aA=".into(),
            "====".into(),
            "=".into(),
            "d".into(),
            "dat".into(),
            "data".into(),
            "data:".into(),
            "datb:aGk=".into(),
            "data:;base64,".into(),
            "data:;base64".into(),
            "data:text/plain;base64,aGk=".into(),
            "data:text/plain;base64,".into(),
            "data:text/plain,aGk=".into(),
            "data:text/plain,x;base64,aGk=".into(),
            "data:text/plain;base64;base64,aGk=".into(),
            "data:base64,aGk=".into(),
            "data:;base64,data:;base64,aGk=".into(),
            "data:text/plain;base64,aGk=,".into(),
            "aGVsbG8sIHBsYWluIHRleHQ=".into(),
            png.into(),
            format!("data:image/png;base64,{png}"),
            format!("data:image/png;base64,{}", &png[1..]),
            format!("data:image/png;charset=x;base64,{png}"),
        ];
        let engine = &base64::engine::general_purpose::STANDARD;
        for len in 0..20 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            values.push(engine.encode(&data));
            values.push(format!(
                "data:application/x;base64,{}",
                engine.encode(&data)
            ));
        }
        for value in &values {
            let expected = base64_data(value);
            let n = value.len();
            assert_eq!(stream_decode(value, &[]), expected, "{value:?}");
            for a in 0..=n {
                assert_eq!(stream_decode(value, &[a]), expected, "{value:?} cut at {a}");
                if n <= 40 {
                    for b in a..=n {
                        let got = stream_decode(value, &[a, b]);
                        assert_eq!(got, expected, "{value:?} cut at {a}, {b}");
                    }
                }
            }
            let singles: Vec<usize> = (1..n).collect();
            assert_eq!(
                stream_decode(value, &singles),
                expected,
                "{value:?} bytewise"
            );
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
