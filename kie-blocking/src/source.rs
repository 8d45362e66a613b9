//! Where upload content comes from, and the `Read` adapter that turns a framed body plus its
//! content into wire bytes for ureq.
//!
//! Nothing here knows the protocol: the head, the tail, the encoding and the exact length all
//! come from kie-proto's [`FramedBody`] and [`FrameEncoder`]. This module only moves bytes
//! through a fixed-size buffer and remembers why it stopped, if it did.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use kie_proto::driver::{ContentDigest, FrameEncoder, ProgressReporter};
use kie_proto::{ContentLengthMismatch, Digest, Error, FramedBody};

use crate::socket;

/// Content bytes read from the source per step (the encoded output is at most 4/3 of it).
pub(crate) const CHUNK: usize = 64 * 1024;

/// A reader that can also seek; what [`Client::send_with_content`](crate::Client::send_with_content) takes.
pub trait ReadSeek: Read + Seek {}
impl<T: Read + Seek + ?Sized> ReadSeek for T {}

/// The content of one upload, readable once per attempt.
pub(crate) enum Source<'a> {
    /// A file, rewound by seeking on every attempt.
    File {
        /// The path, for error messages.
        path: &'a Path,
        /// The open file.
        file: File,
    },
    /// Bytes in memory.
    Bytes {
        /// All of the content.
        bytes: &'a [u8],
        /// Bytes already read in this attempt.
        pos: usize,
    },
    /// A caller's seekable reader, rewound to where it started.
    Seekable {
        /// The reader.
        reader: &'a mut dyn ReadSeek,
        /// Its position when handed over.
        start: u64,
    },
    /// A one-shot reader. Its first bytes (read for MIME sniffing) are kept, so an attempt
    /// that failed before reading past them can still be retried.
    Reader {
        /// The bytes read ahead.
        prefix: Vec<u8>,
        /// Bytes of `prefix` already read in this attempt.
        pos: usize,
        /// The rest of the content.
        reader: Box<dyn Read + 'a>,
        /// Whether bytes beyond `prefix` were read: from then on there is no going back.
        consumed: bool,
    },
}

impl<'a> Source<'a> {
    /// Opens the file at `path`; returns it with its length. A directory is refused here,
    /// before anything is sent.
    pub(crate) fn open_file(path: &'a Path) -> Result<(Self, u64), Error> {
        let io_error = |source| Error::Io {
            path: Some(path.to_owned()),
            source,
        };
        let file = File::open(path).map_err(io_error)?;
        let metadata = file.metadata().map_err(io_error)?;
        if metadata.is_dir() {
            return Err(io_error(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory, not a file",
            )));
        }
        Ok((Source::File { path, file }, metadata.len()))
    }

    /// A one-shot reader.
    pub(crate) fn reader(reader: impl Read + 'a) -> Self {
        Source::Reader {
            prefix: Vec::new(),
            pos: 0,
            reader: Box::new(reader),
            consumed: false,
        }
    }

    /// Bytes in memory.
    pub(crate) fn bytes(bytes: &'a [u8]) -> Self {
        Source::Bytes { bytes, pos: 0 }
    }

    /// A seekable reader, rewound on every attempt to its current position.
    pub(crate) fn seekable(reader: &'a mut dyn ReadSeek) -> Result<Self, Error> {
        let start = reader
            .stream_position()
            .map_err(|source| Error::Io { path: None, source })?;
        Ok(Source::Seekable { reader, start })
    }

    /// The file's path, if the source is a file.
    pub(crate) fn path(&self) -> Option<&Path> {
        match self {
            Source::File { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The file name of the source, for naming and MIME detection.
    pub(crate) fn name(&self) -> Option<&str> {
        self.path()?.file_name()?.to_str()
    }

    /// An I/O error of this source, naming its path.
    pub(crate) fn io_error(&self, source: io::Error) -> Error {
        Error::Io {
            path: self.path().map(Path::to_owned),
            source,
        }
    }

    /// The first `min(SNIFF_LEN, len)` bytes of the content, for [`kie_proto::UploadOptions::plan`].
    /// The source is left ready for the first attempt. Content shorter than that is a
    /// [`Error::ContentLength`] before anything is sent.
    pub(crate) fn sniff(&mut self, len: u64) -> Result<Vec<u8>, Error> {
        let want = kie_proto::driver::sniff_len(len);
        let mut head = Vec::with_capacity(want);
        let read = match self {
            Source::Bytes { bytes, .. } => read_up_to(&mut &bytes[..], want, &mut head),
            Source::File { file, .. } => read_up_to(file, want, &mut head),
            Source::Seekable { reader, .. } => read_up_to(reader, want, &mut head),
            Source::Reader { reader, .. } => read_up_to(reader, want, &mut head),
        };
        read.map_err(|e| self.io_error(e))?;
        ContentLengthMismatch::check_prefix(head.len(), len)?;
        match self {
            Source::Reader { prefix, .. } => *prefix = head.clone(),
            _ => self.rewind().map_err(|e| self.io_error(e))?,
        }
        Ok(head)
    }

    /// Whether the content can be read again after the upload, to verify the stored file:
    /// files and bytes, not readers.
    pub(crate) fn can_verify(&self) -> bool {
        matches!(self, Source::File { .. } | Source::Bytes { .. })
    }

    /// Length and SHA-256 of the first `len` content bytes, read again from the start
    /// through a fixed buffer.
    pub(crate) fn digest(&mut self, len: u64) -> Result<Digest, Error> {
        self.rewind().map_err(|e| self.io_error(e))?;
        let mut digest = ContentDigest::new();
        let mut buf = vec![0u8; CHUNK];
        let mut content = (&mut *self).take(len);
        loop {
            match content.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => digest.update(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e)),
            }
        }
        Ok(digest.finish())
    }

    /// Whether the content can be sent again from its start.
    pub(crate) fn can_rewind(&self) -> bool {
        !matches!(self, Source::Reader { consumed: true, .. })
    }

    /// Goes back to the start of the content for a new attempt.
    pub(crate) fn rewind(&mut self) -> io::Result<()> {
        match self {
            Source::File { file, .. } => file.rewind(),
            Source::Bytes { pos, .. } => {
                *pos = 0;
                Ok(())
            }
            Source::Seekable { reader, start } => reader.seek(SeekFrom::Start(*start)).map(drop),
            Source::Reader { pos, consumed, .. } => {
                if *consumed {
                    Err(io::Error::other("the reader cannot be rewound"))
                } else {
                    *pos = 0;
                    Ok(())
                }
            }
        }
    }
}

impl Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::File { file, .. } => file.read(buf),
            Source::Bytes { bytes, pos } => {
                let n = (&bytes[*pos..]).read(buf)?;
                *pos += n;
                Ok(n)
            }
            Source::Seekable { reader, .. } => reader.read(buf),
            Source::Reader {
                prefix,
                pos,
                reader,
                consumed,
            } => {
                if *pos < prefix.len() {
                    let n = (&prefix[*pos..]).read(buf)?;
                    *pos += n;
                    return Ok(n);
                }
                let n = reader.read(buf)?;
                *consumed |= n > 0;
                Ok(n)
            }
        }
    }
}

/// Reads until `out` holds `want` bytes or the reader ends.
fn read_up_to(reader: &mut (impl Read + ?Sized), want: usize, out: &mut Vec<u8>) -> io::Result<()> {
    reader.take(want as u64).read_to_end(out).map(drop)
}

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
            failure: None,
        }
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
        // Read one byte past the declared end to notice a source that grew.
        let want = usize::try_from(self.remaining).map_or(CHUNK, |r| r.clamp(1, CHUNK));
        let n = loop {
            match self.source.read(&mut self.chunk[..want]) {
                // A reader claiming more than the buffer holds breaks `Read`'s contract.
                Ok(n) if n > want => {
                    let broken = io::Error::other(
                        "the reader reported more bytes than it was given room for",
                    );
                    return Err(self.source.io_error(broken));
                }
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.source.io_error(e)),
            }
        };
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
        while self.pos == self.out.len() && !self.done {
            if let Err(failure) = self.refill() {
                let message = failure.to_string();
                self.failure = Some(failure);
                self.done = true;
                self.out.clear();
                self.pos = 0;
                return Err(io::Error::other(message));
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
        assert!(source.can_rewind());
        source.rewind().unwrap();
        let mut all = Vec::new();
        source.read_to_end(&mut all).unwrap();
        assert_eq!(all, data);
        assert!(!source.can_rewind());
        assert!(source.rewind().is_err());

        let mut short = Source::reader(&b"ab"[..]);
        assert!(matches!(short.sniff(5), Err(Error::ContentLength(_))));
    }
}
