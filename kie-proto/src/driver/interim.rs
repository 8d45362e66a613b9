//! Interim (1xx) answers, read the way RFC 9110 §15.2 asks: a client parses any number of
//! them before the final answer, asked for or not, and a `101 Switching Protocols` nobody
//! asked for is not an answer at all.
//!
//! Servers send them more often than one would think: Python's `http.server` (and so
//! Werkzeug, Flask and most Python test servers) sends `100 Continue` twice, CDNs send
//! `103 Early Hints` with `Link` headers before `100 Continue`, WebDAV servers send
//! `102 Processing` while they work. A driver that looks at the bytes of an answer before
//! its HTTP stack does (to notice an answer that arrives while the body is still going out)
//! asks [`next_answer_head`] what they are, and acts only on a final status.

use crate::failure::TransportFailure;
use crate::retry::AttemptFailure;

/// What the bytes at the start of an answer (or of what follows an interim answer) are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnswerHead {
    /// A complete interim answer (a 1xx status other than 101, with its header fields and
    /// the blank line that ends them), `len` bytes long; more answers follow it.
    Interim {
        /// Its status (100, 102, 103, or any other 1xx).
        status: u16,
        /// Whether it carried header fields (a `103 Early Hints` does; a `100 Continue`
        /// usually does not).
        has_headers: bool,
        /// Its length in bytes.
        len: usize,
    },
    /// The complete status line of the final answer (2xx to 5xx; its headers may still be
    /// arriving).
    Final {
        /// Its status.
        status: u16,
    },
    /// The complete status line of a `101 Switching Protocols`: the connection would
    /// change protocols, which no request of this crate asks for, so the answer is
    /// malformed ([`TransportFailure::MalformedAnswer`](crate::TransportFailure::MalformedAnswer)).
    SwitchingProtocols,
    /// Too few bytes to tell: a status line, or an interim answer's header fields, not
    /// complete yet (an answer split across TCP segments).
    Incomplete,
    /// Not an HTTP/1.x status line (through TLS, the encrypted bytes; or garbage).
    NotHttp,
}

/// What the bytes at the start of `bytes` are; see [`AnswerHead`]. Lines may end in CRLF
/// or in a bare LF (RFC 9112 §2.2 lets a recipient accept either).
///
/// ```
/// use kie_proto::driver::{AnswerHead, next_answer_head};
/// let wire = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 413 Payload Too Large\r\n";
/// let AnswerHead::Interim { status: 103, has_headers: true, len } = next_answer_head(wire) else { panic!() };
/// let rest = &wire[len..];
/// let AnswerHead::Interim { status: 100, has_headers: false, len } = next_answer_head(rest) else { panic!() };
/// assert_eq!(next_answer_head(&rest[len..]), AnswerHead::Final { status: 413 });
/// assert_eq!(next_answer_head(b"HTTP/1.1 10"), AnswerHead::Incomplete);
/// ```
pub fn next_answer_head(bytes: &[u8]) -> AnswerHead {
    let Some(line_end) = bytes.iter().position(|&b| b == b'\n') else {
        return if could_start_status_line(bytes) {
            AnswerHead::Incomplete
        } else {
            AnswerHead::NotHttp
        };
    };
    let Some(status) = status_code(trim_cr(&bytes[..line_end])) else {
        return AnswerHead::NotHttp;
    };
    match status {
        101 => return AnswerHead::SwitchingProtocols,
        100..=199 => {}
        _ => return AnswerHead::Final { status },
    }
    // An interim answer: find the blank line that ends its header fields.
    let mut start = line_end + 1;
    let mut has_headers = false;
    while let Some(offset) = bytes[start..].iter().position(|&b| b == b'\n') {
        let end = start + offset;
        if trim_cr(&bytes[start..end]).is_empty() {
            return AnswerHead::Interim {
                status,
                has_headers,
                len: end + 1,
            };
        }
        has_headers = true;
        start = end + 1;
    }
    AnswerHead::Incomplete
}

/// The total length of the complete interim answers at the start of `bytes`, and what
/// follows them.
///
/// ```
/// use kie_proto::driver::{AnswerHead, skip_interim};
/// let wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\n";
/// assert_eq!(skip_interim(wire), (52, AnswerHead::Final { status: 200 }));
/// ```
pub fn skip_interim(bytes: &[u8]) -> (usize, AnswerHead) {
    let mut skipped = 0;
    loop {
        match next_answer_head(&bytes[skipped..]) {
            AnswerHead::Interim { len, .. } => skipped += len,
            other => return (skipped, other),
        }
    }
}

/// Checks the status of an answer a transport handed over as final. A 1xx there is not
/// an answer: a `101 Switching Protocols` nobody asked for (no request of this crate asks
/// to switch protocols), or an interim answer the transport took for the final one. Either
/// is [`TransportFailure::MalformedAnswer`] (not retried: the same server answers the
/// same way again).
///
/// ```
/// use kie_proto::{TransportFailure, http::StatusCode};
/// use kie_proto::driver::AttemptFailure;
/// use kie_proto::driver::check_final_status;
/// assert!(check_final_status(StatusCode::OK).is_ok());
/// assert!(matches!(
///     check_final_status(StatusCode::SWITCHING_PROTOCOLS),
///     Err(AttemptFailure::Transport { kind: TransportFailure::MalformedAnswer, .. })
/// ));
/// ```
pub fn check_final_status(status: http::StatusCode) -> Result<(), AttemptFailure> {
    if !status.is_informational() {
        return Ok(());
    }
    let what = if status == http::StatusCode::SWITCHING_PROTOCOLS {
        "the server switched protocols (101) although no request asks it to".to_owned()
    } else {
        format!("an interim answer ({status}) came where the final answer belongs")
    };
    Err(AttemptFailure::Transport {
        kind: TransportFailure::MalformedAnswer,
        source: what.into(),
    })
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `HTTP/<digit>.<digit> <3 digits>`, then the end of the line or a space and a reason.
fn status_code(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/")?;
    let [major, b'.', minor, b' ', rest @ ..] = rest else {
        return None;
    };
    if !major.is_ascii_digit() || !minor.is_ascii_digit() {
        return None;
    }
    let (digits, after) = rest.split_at_checked(3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !matches!(after.first(), None | Some(b' ')) {
        return None;
    }
    let status = digits
        .iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    (100..=599).contains(&status).then_some(status)
}

/// Whether `partial` (no line end yet) may still become a status line.
fn could_start_status_line(partial: &[u8]) -> bool {
    const SHAPE: &[u8] = b"HTTP/1.1 100";
    partial.iter().zip(SHAPE).all(|(&b, &shape)| {
        if shape.is_ascii_digit() {
            b.is_ascii_digit()
        } else {
            b == shape
        }
    }) && (partial.len() <= SHAPE.len() || partial[SHAPE.len()] == b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_status_lines() {
        assert_eq!(
            next_answer_head(b"HTTP/1.1 200 OK\r\n"),
            AnswerHead::Final { status: 200 }
        );
        assert_eq!(
            next_answer_head(b"HTTP/1.0 413\n"),
            AnswerHead::Final { status: 413 }
        );
        assert_eq!(
            next_answer_head(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
            AnswerHead::SwitchingProtocols
        );
    }

    #[test]
    fn interim_answers_need_their_blank_line() {
        let early = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n";
        for cut in 0..early.len() {
            assert_eq!(
                next_answer_head(&early[..cut]),
                AnswerHead::Incomplete,
                "{cut}"
            );
        }
        assert_eq!(
            next_answer_head(early),
            AnswerHead::Interim {
                status: 103,
                has_headers: true,
                len: early.len()
            }
        );
        assert_eq!(
            next_answer_head(b"HTTP/1.1 100 Continue\n\n"),
            AnswerHead::Interim {
                status: 100,
                has_headers: false,
                len: 23
            }
        );
    }

    #[test]
    fn not_http() {
        for bytes in [
            &b"\x17\x03\x03\x00\x20"[..],
            b"HTTP/1.1 2000 OK\r\n",
            b"HTTP/1.1 099 Low\r\n",
            b"HTTP/1.1 600 High\r\n",
            b"HTTP/x.1 200 OK\r\n",
            b"HTTP/1.1 20",
            b"HTTP/1.1 200OK",
            b"<html>",
        ] {
            let head = next_answer_head(bytes);
            let expected = if bytes == b"HTTP/1.1 20" {
                AnswerHead::Incomplete
            } else {
                AnswerHead::NotHttp
            };
            assert_eq!(head, expected, "{:?}", String::from_utf8_lossy(bytes));
        }
        assert_eq!(next_answer_head(b""), AnswerHead::Incomplete);
    }

    #[test]
    fn skipping() {
        assert_eq!(skip_interim(b""), (0, AnswerHead::Incomplete));
        let two = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n";
        assert_eq!(skip_interim(two), (two.len(), AnswerHead::Incomplete));
        assert_eq!(
            skip_interim(b"HTTP/1.1 100 Continue\r\n\r\n\x17\x03"),
            (25, AnswerHead::NotHttp)
        );
    }
}
