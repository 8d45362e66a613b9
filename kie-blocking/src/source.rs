//! Where upload content comes from: a file, bytes, a seekable or a one-shot reader. Whether
//! a source can be sent again or read again to verify is kie-proto's rule
//! ([`SourceKind`]); this module reads, rewinds and hashes.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use kie_proto::driver::ContentDigest;
use kie_proto::{ContentStart, Digest, Error, SourceKind};

/// Content bytes read from a source per step (the encoded output is at most 4/3 of it).
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

    /// The first `min(SNIFF_LEN, len)` bytes of the content (fewer if the source is
    /// shorter), for [`kie_proto::UploadOptions::plan`], which checks them. The source is left
    /// ready for the first attempt.
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
        match self {
            Source::Reader { prefix, .. } => *prefix = head.clone(),
            _ => self.rewind().map_err(|e| self.io_error(e))?,
        }
        Ok(head)
    }

    /// The kind of source, for kie-proto's rules.
    pub(crate) fn kind(&self) -> SourceKind {
        match self {
            Source::File { .. } => SourceKind::File,
            Source::Bytes { .. } => SourceKind::Bytes,
            Source::Seekable { .. } => SourceKind::Seekable,
            Source::Reader { .. } => SourceKind::Reader,
        }
    }

    /// What [`kie_proto::UploadOptions::plan`] is told about `len` bytes of this source
    /// starting with `prefix`.
    pub(crate) fn start<'p>(&'p self, prefix: &'p [u8], len: u64) -> ContentStart<'p> {
        ContentStart::new(self.kind(), prefix, len).with_name(self.name())
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

    /// Whether the content can be sent again from its start (kie-proto's
    /// [`SourceKind::can_resend`]).
    pub(crate) fn can_resend(&self) -> bool {
        let read_past_prefix = matches!(self, Source::Reader { consumed: true, .. });
        self.kind().can_resend(read_past_prefix)
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
