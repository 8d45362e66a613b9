//! Request bodies, including the *framed* bodies that let a driver send a file of any size in
//! constant memory.
//!
//! A framed body is `head ++ encode(content) ++ tail`: the head and tail are small, fixed and
//! built here; the content is the caller's file, of known length, read by the driver in
//! chunks and passed through a [`FrameEncoder`] (a copy for multipart, standard base64 for
//! the base64 endpoint). Because the encoded length is known up front, every body has an
//! exact `Content-Length` and is never sent chunked.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The body of a request built by an [`Operation`](crate::Operation).
///
/// Exhaustive on purpose: a transport must send every kind of body, so a new kind is a
/// breaking change that its compiler should point out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// No body (GET).
    Empty,
    /// A complete body, e.g. a JSON document.
    Complete(Vec<u8>),
    /// Head bytes, then content supplied by the driver, then tail bytes.
    Framed(FramedBody),
}

impl Body {
    /// Exact length in bytes: the request's `Content-Length`.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Complete(bytes) => bytes.len() as u64,
            Body::Framed(framed) => framed.len(),
        }
    }

    /// Whether the body has no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How the content of a framed body is written between its head and tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentEncoding {
    /// Bytes as they are (multipart file part).
    Raw,
    /// Standard base64 with padding (RFC 4648 §4), inside a JSON string.
    Base64,
}

impl ContentEncoding {
    /// Length of `content_len` bytes once encoded.
    pub fn encoded_len(self, content_len: u64) -> u64 {
        match self {
            ContentEncoding::Raw => content_len,
            // Saturating: a length near u64::MAX (a caller's bogus `len`) must not panic; such
            // a body cannot be sent anyway, and the source's real length is caught as a
            // ContentLengthMismatch.
            ContentEncoding::Base64 => content_len.div_ceil(3).saturating_mul(4),
        }
    }
}

/// A body made of a fixed head, `content_len` bytes of content from the driver, encoded as
/// `encoding`, and a fixed tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramedBody {
    head: Vec<u8>,
    content_len: u64,
    encoding: ContentEncoding,
    tail: Vec<u8>,
}

impl FramedBody {
    /// A framed body. Operations build these; a custom one is useful in tests.
    pub fn new(head: Vec<u8>, content_len: u64, encoding: ContentEncoding, tail: Vec<u8>) -> Self {
        Self {
            head,
            content_len,
            encoding,
            tail,
        }
    }

    /// Bytes sent before the content.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Bytes sent after the content.
    pub fn tail(&self) -> &[u8] {
        &self.tail
    }

    /// Number of raw content bytes the driver must supply, exactly.
    pub fn content_len(&self) -> u64 {
        self.content_len
    }

    /// How the content is encoded on the wire.
    pub fn encoding(&self) -> ContentEncoding {
        self.encoding
    }

    /// Exact length of the whole body on the wire.
    pub fn len(&self) -> u64 {
        (self.head.len() as u64)
            .saturating_add(self.encoding.encoded_len(self.content_len))
            .saturating_add(self.tail.len() as u64)
    }

    /// Whether the body has no bytes (never true for the operations of this crate).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A fresh encoder for one attempt at sending this body.
    pub fn encoder(&self) -> FrameEncoder<'_> {
        FrameEncoder {
            body: Cow::Borrowed(self),
            stage: Stage::Head,
            consumed: 0,
            base64: Base64Encoder::new(),
        }
    }

    /// Like [`encoder`](Self::encoder), but the encoder owns the body: for drivers that keep
    /// the encoder inside a stream or future that must be `'static` (e.g. an async request
    /// body), where borrowing the body would make the value self-referential.
    ///
    /// ```
    /// use kie_proto::{ContentEncoding, FramedBody};
    /// let body = FramedBody::new(b"<".to_vec(), 2, ContentEncoding::Raw, b">".to_vec());
    /// let len = body.len();
    /// let mut encoder = body.into_encoder();
    /// let mut wire = Vec::new();
    /// encoder.encode(b"hi", &mut wire)?;
    /// encoder.finish(&mut wire)?;
    /// assert_eq!(wire, b"<hi>");
    /// assert_eq!(wire.len() as u64, len);
    /// # Ok::<(), kie_proto::ContentLengthMismatch>(())
    /// ```
    pub fn into_encoder(self) -> FrameEncoder<'static> {
        FrameEncoder {
            body: Cow::Owned(self),
            stage: Stage::Head,
            consumed: 0,
            base64: Base64Encoder::new(),
        }
    }

    /// The whole body for in-memory `content` (handy for small files, tests and custom
    /// transports). Fails if `content` is not exactly [`content_len`](Self::content_len) long.
    pub fn to_vec(&self, content: &[u8]) -> Result<Vec<u8>, ContentLengthMismatch> {
        // Sized from the content actually given, not the declared length: a wrong (huge)
        // declared length must end in a ContentLengthMismatch, not a capacity overflow.
        let capacity = (self.head.len() as u64)
            .saturating_add(self.encoding.encoded_len(content.len() as u64))
            .saturating_add(self.tail.len() as u64);
        let mut out = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        let mut encoder = self.encoder();
        encoder.write_head(&mut out);
        encoder.encode(content, &mut out)?;
        encoder.finish(&mut out)?;
        Ok(out)
    }
}

/// The content supplied for a framed body was not exactly as long as declared, so the body
/// would not match its `Content-Length`. Drivers abort the request when they see this
/// (a file that changed size while being uploaded, a reader shorter than promised).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("upload content is {actual}{more} bytes but {declared} were declared; the file changed or the length is wrong",
    more = if *.at_least { " or more" } else { "" })]
#[non_exhaustive]
pub struct ContentLengthMismatch {
    /// Declared content length.
    pub declared: u64,
    /// Bytes actually supplied (so far, when `at_least`).
    pub actual: u64,
    /// True when more bytes than declared were supplied (the count stops at the overflow).
    pub at_least: bool,
}

impl ContentLengthMismatch {
    /// Checks the start of the content a driver read for detection: a source that ended
    /// before [`sniff_len`](crate::driver::sniff_len)`(declared)` bytes is shorter than declared, and
    /// the upload fails before anything is sent.
    ///
    /// ```
    /// use kie_proto::ContentLengthMismatch;
    /// assert_eq!(ContentLengthMismatch::check_prefix(5, 5), Ok(()));
    /// assert_eq!(ContentLengthMismatch::check_prefix(8192, 1 << 30), Ok(()));
    /// let short = ContentLengthMismatch::check_prefix(2, 5).unwrap_err();
    /// assert_eq!((short.declared, short.actual, short.at_least), (5, 2, false));
    /// ```
    pub fn check_prefix(prefix_len: usize, declared: u64) -> Result<(), ContentLengthMismatch> {
        if prefix_len < crate::driver::sniff_len(declared) {
            return Err(ContentLengthMismatch {
                declared,
                actual: prefix_len as u64,
                at_least: false,
            });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Head,
    Content,
    Done,
}

/// Turns one framed body into wire bytes as the driver reads its content: call
/// [`write_head`](Self::write_head) once, [`encode`](Self::encode) for each chunk of content
/// in order, and [`finish`](Self::finish) once. Chunk boundaries do not change the output.
///
/// ```
/// use kie_proto::{ContentEncoding, FramedBody};
/// let body = FramedBody::new(b"{\"base64Data\":\"".to_vec(), 5, ContentEncoding::Base64, b"\"}".to_vec());
/// let mut wire = Vec::new();
/// let mut encoder = body.encoder();
/// encoder.write_head(&mut wire);
/// encoder.encode(b"he", &mut wire)?;
/// encoder.encode(b"llo", &mut wire)?;
/// encoder.finish(&mut wire)?;
/// assert_eq!(wire, b"{\"base64Data\":\"aGVsbG8=\"}");
/// assert_eq!(wire.len() as u64, body.len());
/// # Ok::<(), kie_proto::ContentLengthMismatch>(())
/// ```
#[derive(Debug)]
pub struct FrameEncoder<'a> {
    body: Cow<'a, FramedBody>,
    stage: Stage,
    consumed: u64,
    base64: Base64Encoder,
}

impl FrameEncoder<'_> {
    /// Appends the head. Calling it again does nothing.
    pub fn write_head(&mut self, out: &mut Vec<u8>) {
        if self.stage == Stage::Head {
            out.extend_from_slice(&self.body.head);
            self.stage = Stage::Content;
        }
    }

    /// Appends the encoding of `chunk` (writing the head first if needed). Fails, appending
    /// nothing, if the content would exceed the declared length.
    pub fn encode(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), ContentLengthMismatch> {
        self.write_head(out);
        let total = self.consumed.saturating_add(chunk.len() as u64);
        if total > self.body.content_len {
            return Err(ContentLengthMismatch {
                declared: self.body.content_len,
                actual: total,
                at_least: true,
            });
        }
        self.consumed = total;
        match self.body.encoding {
            ContentEncoding::Raw => out.extend_from_slice(chunk),
            ContentEncoding::Base64 => self.base64.encode(chunk, out),
        }
        Ok(())
    }

    /// Sends `len` content bytes as they are, when the encoding allows: for
    /// [`ContentEncoding::Raw`] it counts them (appending the head to `out` first if it was
    /// not written yet) and returns `true` — the driver then sends its own buffer after
    /// `out`, with no copy; for base64 it does nothing and returns `false` (use
    /// [`encode`](Self::encode)). Fails, appending nothing, if the content would exceed
    /// the declared length.
    ///
    /// ```
    /// use kie_proto::{ContentEncoding, FramedBody};
    /// let body = FramedBody::new(b"<".to_vec(), 5, ContentEncoding::Raw, b">".to_vec());
    /// let mut encoder = body.encoder();
    /// let mut wire = Vec::new();
    /// assert!(encoder.pass_through(2, &mut wire)?); // the head, then "he" from the caller's buffer
    /// assert_eq!(wire, b"<");
    /// wire.extend_from_slice(b"he");
    /// encoder.encode(b"llo", &mut wire)?;
    /// encoder.finish(&mut wire)?;
    /// assert_eq!(wire, b"<hello>");
    /// assert!(encoder.pass_through(1, &mut Vec::new()).is_err()); // past the declared length
    /// # Ok::<(), kie_proto::ContentLengthMismatch>(())
    /// ```
    pub fn pass_through(
        &mut self,
        len: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool, ContentLengthMismatch> {
        if self.body.encoding != ContentEncoding::Raw {
            return Ok(false);
        }
        let total = self.consumed.saturating_add(len as u64);
        if total > self.body.content_len {
            return Err(ContentLengthMismatch {
                declared: self.body.content_len,
                actual: total,
                at_least: true,
            });
        }
        self.write_head(out);
        self.consumed = total;
        Ok(true)
    }

    /// Raw content bytes accepted so far.
    pub fn content_consumed(&self) -> u64 {
        self.consumed
    }

    /// The body being encoded.
    pub fn body(&self) -> &FramedBody {
        &self.body
    }

    /// Appends the end of the encoding and the tail. Fails, appending nothing, if less
    /// content than declared was supplied.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), ContentLengthMismatch> {
        self.write_head(out);
        if self.consumed != self.body.content_len {
            return Err(ContentLengthMismatch {
                declared: self.body.content_len,
                actual: self.consumed,
                at_least: false,
            });
        }
        if self.stage == Stage::Content {
            self.base64.finish(out);
            out.extend_from_slice(&self.body.tail);
            self.stage = Stage::Done;
        }
        Ok(())
    }
}

/// An incremental standard-base64 encoder (RFC 4648 §4, with padding): feeding the input in
/// any chunks gives the same text as encoding it whole.
///
/// ```
/// use base64::Engine as _;
/// use kie_proto::driver::Base64Encoder;
/// let mut out = Vec::new();
/// let mut encoder = Base64Encoder::new();
/// for chunk in [&b"a"[..], b"bcd", b"", b"efgh"] {
///     encoder.encode(chunk, &mut out);
/// }
/// encoder.finish(&mut out);
/// assert_eq!(out, base64::engine::general_purpose::STANDARD.encode(b"abcdefgh").as_bytes());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Base64Encoder {
    pending: [u8; 3],
    pending_len: usize,
}

impl Base64Encoder {
    /// An encoder with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the base64 of every complete 3-byte group available so far; keeps the
    /// remaining 0–2 bytes for the next call.
    pub fn encode(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        if self.pending_len > 0 {
            let take = (3 - self.pending_len).min(input.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&input[..take]);
            self.pending_len += take;
            input = &input[take..];
            if self.pending_len < 3 {
                return;
            }
            encode_into(&self.pending, out);
            self.pending_len = 0;
        }
        let whole = input.len() - input.len() % 3;
        encode_into(&input[..whole], out);
        let rest = &input[whole..];
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    /// Appends the final, padded group for any pending bytes.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        encode_into(&self.pending[..self.pending_len], out);
        self.pending_len = 0;
    }
}

fn encode_into(input: &[u8], out: &mut Vec<u8>) {
    if input.is_empty() {
        return;
    }
    let start = out.len();
    out.resize(start + input.len().div_ceil(3) * 4, 0);
    // The slice is exactly the encoded length, so this cannot fail; keep `out` consistent if it did.
    if STANDARD.encode_slice(input, &mut out[start..]).is_err() {
        out.truncate(start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_lengths() {
        assert_eq!(ContentEncoding::Base64.encoded_len(0), 0);
        assert_eq!(ContentEncoding::Base64.encoded_len(1), 4);
        assert_eq!(ContentEncoding::Base64.encoded_len(3), 4);
        assert_eq!(ContentEncoding::Base64.encoded_len(4), 8);
        assert_eq!(ContentEncoding::Base64.encoded_len(4 << 30), 5_726_623_064);
        assert_eq!(ContentEncoding::Raw.encoded_len(10), 10);
        // A caller's absurd length saturates instead of panicking on overflow.
        assert_eq!(ContentEncoding::Base64.encoded_len(u64::MAX), u64::MAX);
        let huge = FramedBody::new(b"H".to_vec(), u64::MAX, ContentEncoding::Raw, b"T".to_vec());
        assert_eq!(huge.len(), u64::MAX);
        assert_eq!(
            huge.to_vec(b"abc"),
            Err(ContentLengthMismatch {
                declared: u64::MAX,
                actual: 3,
                at_least: false
            })
        );
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let body = FramedBody::new(b"H".to_vec(), 3, ContentEncoding::Raw, b"T".to_vec());
        assert_eq!(
            body.to_vec(b"ab"),
            Err(ContentLengthMismatch {
                declared: 3,
                actual: 2,
                at_least: false
            })
        );
        assert_eq!(
            body.to_vec(b"abcd"),
            Err(ContentLengthMismatch {
                declared: 3,
                actual: 4,
                at_least: true
            })
        );
        assert_eq!(body.to_vec(b"abc"), Ok(b"HabcT".to_vec()));
        let msg = ContentLengthMismatch {
            declared: 3,
            actual: 4,
            at_least: true,
        }
        .to_string();
        assert_eq!(
            msg,
            "upload content is 4 or more bytes but 3 were declared; the file changed or the length is wrong"
        );
    }

    #[test]
    fn owned_encoder_matches_borrowed() {
        let body = FramedBody::new(
            b"{\"d\":\"".to_vec(),
            7,
            ContentEncoding::Base64,
            b"\"}".to_vec(),
        );
        let content = b"abcdefg";
        let expected = body.to_vec(content);
        let mut owned = body.clone().into_encoder();
        let mut wire = Vec::new();
        for chunk in content.chunks(2) {
            assert_eq!(owned.encode(chunk, &mut wire), Ok(()));
        }
        assert_eq!(owned.content_consumed(), 7);
        assert_eq!(owned.finish(&mut wire), Ok(()));
        assert_eq!(Ok(wire), expected);
        assert_eq!(owned.body(), &body);
    }

    #[test]
    fn finish_is_idempotent_and_empty_content_works() {
        let body = FramedBody::new(b"[".to_vec(), 0, ContentEncoding::Base64, b"]".to_vec());
        let mut out = Vec::new();
        let mut encoder = body.encoder();
        assert_eq!(encoder.finish(&mut out), Ok(()));
        assert_eq!(encoder.finish(&mut out), Ok(()));
        assert_eq!(out, b"[]");
    }
}
