//! The request body of one attempt, as ureq reads it: the framed body's head, its content
//! and its tail. Raw content (multipart) is read from the [`Source`] straight into ureq's
//! buffer, counted by kie-proto's [`FrameEncoder`] (one copy between the file and the
//! socket); base64 content is read through a fixed buffer and encoded.
//!
//! Nothing here knows the protocol: the head, the tail, the encoding and the exact length all
//! come from kie-proto's [`FramedBody`]. This module only moves bytes and remembers why it
//! stopped, if it did.

use std::io::{self, Read};

use kie_proto::driver::{FrameEncoder, ProgressReporter};
use kie_proto::{ContentEncoding, Error, FramedBody};

use crate::socket;
use crate::source::{CHUNK, Source};

/// The request body of one attempt: the framed body's wire bytes, produced on demand from
/// the source through a fixed-size buffer.
///
/// When reading the source fails or its length is wrong, `read` returns an I/O error to
/// ureq (which aborts the request) and keeps the real cause in [`failure`](Self::failure).
pub(crate) struct FramedReader<'b, 's, 'a> {
    encoder: FrameEncoder<'b>,
    source: &'s mut Source<'a>,
    reporter: &'s mut ProgressReporter,
    chunk: Box<[u8]>,
    out: Vec<u8>,
    pos: usize,
    done: bool,
    remaining: u64,
    /// Wire bytes not yet handed to ureq.
    wire_left: u64,
    /// Raw content: read straight into ureq's buffer once the head is out.
    raw: bool,
    failure: Option<Error>,
}

impl<'b, 's, 'a> FramedReader<'b, 's, 'a> {
    /// A reader of `body` whose content is read from `source`.
    pub(crate) fn new(
        body: &'b FramedBody,
        source: &'s mut Source<'a>,
        reporter: &'s mut ProgressReporter,
    ) -> Self {
        Self {
            encoder: body.encoder(),
            source,
            reporter,
            chunk: vec![0; CHUNK].into_boxed_slice(),
            out: Vec::with_capacity(body.head().len().max(CHUNK / 3 * 4 + 4)),
            pos: 0,
            done: false,
            remaining: body.content_len(),
            wire_left: body.len(),
            raw: body.encoding() == ContentEncoding::Raw,
            failure: None,
        }
    }

    /// Reads raw content from the source straight into `buf` (one byte past the declared
    /// end, to notice a source that grew), counted by the encoder; `None` at the end of the
    /// source (the tail then goes through `out`).
    fn read_raw(&mut self, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        let n = read_content(self.source, buf, self.remaining)?;
        if n == 0 {
            return Ok(None);
        }
        // The head is out already: nothing is appended to `out`.
        self.encoder.pass_through(n, &mut self.out)?;
        self.remaining -= n as u64;
        self.reporter.advance(n as u64);
        Ok(Some(n))
    }

    /// Records why the body stops and returns the error ureq sees.
    fn fail(&mut self, failure: Error) -> io::Error {
        let message = failure.to_string();
        self.failure = Some(failure);
        self.done = true;
        self.out.clear();
        self.pos = 0;
        io::Error::other(message)
    }

    /// Why the body stopped early, if it did because of its source.
    pub(crate) fn failure(&mut self) -> Option<Error> {
        self.failure.take()
    }

    /// Refills `out` with the next wire bytes; leaves it empty at the end of the body.
    fn refill(&mut self) -> Result<(), Error> {
        self.out.clear();
        self.pos = 0;
        if self.done {
            return Ok(());
        }
        let n = read_content(self.source, &mut self.chunk, self.remaining)?;
        if n == 0 {
            self.encoder.finish(&mut self.out)?;
            self.reporter.complete();
            self.done = true;
            socket::attempt(|state| state.body_complete = true);
            return Ok(());
        }
        self.encoder.encode(&self.chunk[..n], &mut self.out)?;
        self.remaining -= n as u64;
        self.reporter.advance(n as u64);
        Ok(())
    }
}

/// Reads the next content bytes of `source` into `buf`: up to `remaining`, but at least one
/// byte of room, so that a source that grew past its declared end is noticed.
fn read_content(source: &mut Source<'_>, buf: &mut [u8], remaining: u64) -> Result<usize, Error> {
    let want = usize::try_from(remaining).map_or(buf.len(), |r| r.clamp(1, buf.len()));
    loop {
        match source.read(&mut buf[..want]) {
            // A reader claiming more than the buffer holds breaks `Read`'s contract.
            Ok(n) if n > want => {
                let broken =
                    io::Error::other("the reader reported more bytes than it was given room for");
                return Err(source.io_error(broken));
            }
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(source.io_error(e)),
        }
    }
}

impl Read for FramedReader<'_, '_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if socket::attempt(|state| state.refused) == Some(true) {
            // The peer stopped reading (and may have answered): the rest of the body is
            // not read from the source. ureq still counts the declared length, so it is
            // handed bytes the socket layer drops (their content does not matter).
            let n = usize::try_from(self.wire_left).map_or(buf.len(), |left| left.min(buf.len()));
            self.wire_left -= n as u64;
            return Ok(n);
        }
        if self.pos == self.out.len() && !self.done && self.raw && !buf.is_empty() {
            if self.encoder.content_consumed() == 0 && self.out.is_empty() {
                // The head first, through `out`.
                self.encoder.write_head(&mut self.out);
                self.pos = 0;
            }
            if self.pos == self.out.len() {
                self.out.clear();
                self.pos = 0;
                match self.read_raw(buf) {
                    Ok(Some(n)) => {
                        self.wire_left = self.wire_left.saturating_sub(n as u64);
                        return Ok(n);
                    }
                    // The end of the source: `refill` writes the tail (or the mismatch).
                    Ok(None) => {}
                    Err(failure) => return Err(self.fail(failure)),
                }
            }
        }
        while self.pos == self.out.len() && !self.done {
            if let Err(failure) = self.refill() {
                return Err(self.fail(failure));
            }
        }
        let n = (&self.out[self.pos..]).read(buf)?;
        self.pos += n;
        self.wire_left = self.wire_left.saturating_sub(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kie_proto::ContentEncoding;
    use kie_proto::driver::SNIFF_LEN;

    fn wire(body: &FramedBody, source: &mut Source<'_>) -> (Vec<u8>, Option<Error>) {
        let mut reporter = ProgressReporter::new(None, body.content_len());
        reporter.start_attempt(1);
        let mut reader = FramedReader::new(body, source, &mut reporter);
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        (out, reader.failure())
    }

    #[test]
    fn framed_reader_matches_to_vec() {
        let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for encoding in [ContentEncoding::Raw, ContentEncoding::Base64] {
            let body = FramedBody::new(
                b"HEAD".to_vec(),
                content.len() as u64,
                encoding,
                b"TAIL".to_vec(),
            );
            let mut source = Source::bytes(&content);
            let (out, failure) = wire(&body, &mut source);
            assert!(failure.is_none());
            assert_eq!(out, body.to_vec(&content).unwrap());
            assert_eq!(out.len() as u64, body.len());
        }
    }

    #[test]
    fn length_mismatches_are_reported() {
        let body = FramedBody::new(Vec::new(), 4, ContentEncoding::Raw, Vec::new());
        let (_, failure) = wire(&body, &mut Source::bytes(b"abc"));
        assert!(matches!(failure, Some(Error::ContentLength(m)) if !m.at_least));
        let (_, failure) = wire(&body, &mut Source::bytes(b"abcde"));
        assert!(matches!(failure, Some(Error::ContentLength(m)) if m.at_least));
        let (out, failure) = wire(&body, &mut Source::bytes(b"abcd"));
        assert!(failure.is_none());
        assert_eq!(out, b"abcd");
    }

    /// A reader that claims to have read more than the buffer it was given.
    struct Lying;
    impl Read for Lying {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            Ok(buf.len() + 1)
        }
    }

    #[test]
    fn a_lying_reader_is_an_error_not_a_panic() {
        let body = FramedBody::new(Vec::new(), 1 << 20, ContentEncoding::Raw, Vec::new());
        let mut source = Source::reader(Lying);
        let (_, failure) = wire(&body, &mut source);
        assert!(matches!(failure, Some(Error::Io { .. })), "{failure:?}");
    }

    #[test]
    fn reader_rewinds_only_within_its_prefix() {
        let data = vec![7u8; SNIFF_LEN + 10];
        let mut source = Source::reader(&data[..]);
        let head = source.sniff(data.len() as u64).unwrap();
        assert_eq!(head.len(), SNIFF_LEN);
        let mut buf = vec![0; SNIFF_LEN];
        source.read_exact(&mut buf).unwrap();
        assert!(source.can_resend());
        source.rewind().unwrap();
        let mut all = Vec::new();
        source.read_to_end(&mut all).unwrap();
        assert_eq!(all, data);
        assert!(!source.can_resend());
        assert!(source.rewind().is_err());

        // A short source gives what it has; the plan refuses it.
        let mut short = Source::reader(&b"ab"[..]);
        let prefix = short.sniff(5).unwrap();
        let plan = kie_proto::UploadOptions::new("x").plan(short.start(&prefix, 5), 1);
        assert!(matches!(plan, Err(Error::ContentLength(_))));
    }
}
