//! `multipart/form-data` framing (RFC 7578) for the stream upload.
//!
//! The text fields come first and the file part last, so the whole body is
//! `head ++ file bytes ++ tail` and the file never has to be held in memory. (Observed
//! clients send the file first; the order is not specified and any multipart parser accepts
//! both, while a streaming server can only act on `uploadPath` early if it comes first.)

use std::fmt::Write as _;

use crate::input::{FileName, InvalidInput, MimeType};

/// A multipart boundary: 1–70 characters from RFC 2046's `bchars`, not ending in a space.
///
/// [`Boundary::random`] gives `kie-rs-` and 32 random hex digits: 128 bits make a collision
/// with file content practically impossible, which matters because a streamed file cannot
/// be scanned for the boundary before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boundary(String);

impl Boundary {
    /// A boundary from 16 bytes of the operating system's random source.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&crate::driver::random_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&crate::driver::random_u64().to_le_bytes());
        Self::from_random_bytes(bytes)
    }

    /// A boundary from caller-supplied random bytes (deterministic tests).
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        let mut boundary = String::with_capacity(7 + 32);
        boundary.push_str("kie-rs-");
        for byte in bytes {
            let _ = write!(boundary, "{byte:02x}");
        }
        Self(boundary)
    }

    /// Checks a caller-chosen boundary against RFC 2046.
    pub fn new(boundary: impl Into<String>) -> Result<Self, InvalidInput> {
        let boundary = boundary.into();
        let bchar = |b: u8| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b);
        let valid = (1..=70).contains(&boundary.len())
            && boundary.bytes().all(bchar)
            && !boundary.ends_with(' ');
        if valid {
            Ok(Self(boundary))
        } else {
            Err(InvalidInput::Boundary(boundary))
        }
    }

    /// The boundary text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The request's `Content-Type` value: `multipart/form-data; boundary=<boundary>`.
    /// The boundary is quoted when it contains characters that are not token characters.
    pub fn content_type(&self) -> String {
        let token = self
            .0
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"'+_-.".contains(&b));
        if token {
            format!("multipart/form-data; boundary={}", self.0)
        } else {
            format!("multipart/form-data; boundary=\"{}\"", self.0)
        }
    }
}

/// A text field of a form: its name and value.
pub(crate) struct TextField<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

/// Head and tail of a form whose text `fields` come first and whose last part is the file
/// `field_name` with `file_name` and `mime`.
pub(crate) fn frame(
    boundary: &Boundary,
    fields: &[TextField<'_>],
    field_name: &str,
    file_name: &FileName,
    mime: &MimeType,
) -> (Vec<u8>, Vec<u8>) {
    let b = boundary.as_str();
    let mut head = String::new();
    for field in fields {
        let _ = write!(
            head,
            "--{b}\r\nContent-Disposition: form-data; name={}\r\n\r\n{}\r\n",
            quoted(field.name),
            field.value
        );
    }
    let _ = write!(
        head,
        "--{b}\r\nContent-Disposition: form-data; name={}; filename={}\r\nContent-Type: {mime}\r\n\r\n",
        quoted(field_name),
        quoted(file_name.as_str())
    );
    let tail = format!("\r\n--{b}--\r\n");
    (head.into_bytes(), tail.into_bytes())
}

/// `value` as an RFC 9110 quoted-string: `"` and `\` are backslash-escaped; UTF-8 passes
/// through unchanged (RFC 7578 §4.2 allows it, and browsers send it so). Callers never pass
/// control characters (validated types), and if one did it becomes `%XX` so it still cannot
/// end the header line.
pub(crate) fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii_control() => {
                let _ = write!(out, "%{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_rules() {
        assert_eq!(
            Boundary::from_random_bytes([0xab; 16]).as_str(),
            "kie-rs-abababababababababababababababab"
        );
        assert_ne!(Boundary::random(), Boundary::random());
        assert!(Boundary::new("simple").is_ok());
        assert!(Boundary::new("").is_err());
        assert!(Boundary::new("x".repeat(71)).is_err());
        assert!(Boundary::new("ends ").is_err());
        assert!(Boundary::new("bad\r\n").is_err());
        assert_eq!(
            Boundary::new("a b").map(|b| b.content_type()),
            Ok("multipart/form-data; boundary=\"a b\"".to_owned())
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(quoted(r#"a "b" \c ü"#), r#""a \"b\" \\c ü""#);
        assert_eq!(quoted("x\r\ny"), "\"x%0D%0Ay\"");
    }

    #[test]
    fn exact_wire_bytes() -> Result<(), InvalidInput> {
        let (head, tail) = frame(
            &Boundary::new("B")?,
            &[
                TextField {
                    name: "uploadPath",
                    value: "images",
                },
                TextField {
                    name: "fileName",
                    value: "a.png",
                },
            ],
            "file",
            &FileName::new("a.png")?,
            &MimeType::new("image/png")?,
        );
        assert_eq!(
            String::from_utf8_lossy(&head),
            "--B\r\nContent-Disposition: form-data; name=\"uploadPath\"\r\n\r\nimages\r\n\
             --B\r\nContent-Disposition: form-data; name=\"fileName\"\r\n\r\na.png\r\n\
             --B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
        );
        assert_eq!(tail, b"\r\n--B--\r\n");
        Ok(())
    }
}
