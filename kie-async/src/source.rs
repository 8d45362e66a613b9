//! Where upload content comes from: bytes, a file (opened again for a retry), a seekable
//! or a one-shot reader. Whether a source can be sent again or read again to verify is
//! kie-proto's rule ([`SourceKind`]); this module opens, reads, rewinds and hashes.

use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use kie_proto::driver::{AttemptFailure, ContentDigest};
use kie_proto::{Digest, Error, SourceKind};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncSeek, AsyncSeekExt as _, ReadBuf};

/// Size of the read buffer: the only per-upload buffer, whatever the content's size.
pub(crate) const CHUNK: usize = 64 * 1024;

/// A reader that can also seek, for [`Client::send_with_content`](crate::Client::send_with_content):
/// it is sought back to its starting position before every attempt.
pub trait AsyncReadSeek: AsyncRead + AsyncSeek + Send + Unpin {}

impl<T: AsyncRead + AsyncSeek + Send + Unpin + ?Sized> AsyncReadSeek for T {}

/// A source of content bytes, boxed so every source is one type.
pub(crate) enum Reader {
    /// Read once (files are reopened for a retry instead).
    Plain(Box<dyn AsyncRead + Send + Unpin>),
    /// Sought back to its start for a retry.
    Seekable(Box<dyn AsyncReadSeek>),
}

impl Reader {
    pub(crate) fn plain(reader: impl AsyncRead + Send + Unpin + 'static) -> Self {
        Reader::Plain(Box::new(reader))
    }
}

impl AsyncRead for Reader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Reader::Plain(reader) => Pin::new(reader).poll_read(cx, buf),
            Reader::Seekable(reader) => Pin::new(reader).poll_read(cx, buf),
        }
    }
}

/// Where the content of a framed body comes from.
pub(crate) enum Content {
    /// No content (a body without a framed part, or nothing to read).
    None,
    /// Bytes in memory: every attempt sends them again.
    Bytes(Bytes),
    /// A file of `len` bytes: the first attempt continues from what was opened and read
    /// for MIME detection; later attempts open the path again (on a blocking thread, before
    /// the attempt).
    File {
        path: PathBuf,
        len: u64,
        first: Option<FileStart>,
    },
    /// A reader of known length: `prefix` (already read, for MIME detection) then the rest.
    /// It can be sent again only if nothing beyond the prefix was read.
    Reader {
        prefix: Bytes,
        reader: Option<Reader>,
    },
    /// A seekable reader, sought back to `start` before every attempt.
    Seekable {
        reader: Option<Box<dyn AsyncReadSeek>>,
        start: u64,
    },
}

impl Content {
    /// The kind of source, for kie-proto's rules.
    pub(crate) fn kind(&self) -> SourceKind {
        match self {
            Content::None | Content::Bytes(_) => SourceKind::Bytes,
            Content::File { .. } => SourceKind::File,
            Content::Reader { .. } => SourceKind::Reader,
            Content::Seekable { .. } => SourceKind::Seekable,
        }
    }

    /// Whether the content can be sent again from the start.
    pub(crate) fn can_resend(&self) -> bool {
        !matches!(
            self,
            Content::Reader { reader: None, .. } | Content::Seekable { reader: None, .. }
        )
    }

    /// Seeks a seekable reader back to where it started; opens a file again for a retry.
    pub(crate) async fn rewind(&mut self) -> Result<(), AttemptFailure> {
        match self {
            Content::Seekable {
                reader: Some(reader),
                start,
            } => {
                reader
                    .seek(std::io::SeekFrom::Start(*start))
                    .await
                    .map_err(|source| AttemptFailure::Fatal(Error::Io { path: None, source }))?;
            }
            Content::File {
                path,
                len,
                first: first @ None,
            } => {
                let io = |source| {
                    AttemptFailure::Fatal(Error::Io {
                        path: Some(path.clone()),
                        source,
                    })
                };
                let (reopen, declared) = (path.clone(), *len);
                let start =
                    tokio::task::spawn_blocking(move || open_start(&reopen, Some(declared)))
                        .await
                        .map_err(|join| io(std::io::Error::other(join)))?
                        .map_err(io)?;
                *first = Some(start);
            }
            _ => {}
        }
        Ok(())
    }
}

/// A file opened for an attempt: the first bytes, already read, and the handle to read
/// the rest from (none when `content` holds the whole file).
pub(crate) struct FileStart {
    pub(crate) len: u64,
    pub(crate) content: Bytes,
    pub(crate) rest: Option<std::fs::File>,
}

/// Opens `path` on a blocking thread, in one go: its length (from the metadata, unless
/// `declared` by an earlier attempt), then its start. A file shorter than the read buffer
/// ([`CHUNK`](CHUNK)) is read whole with one byte more, which is the
/// end-of-file check, and closed; a larger one has its first
/// [`sniff_len`](kie_proto::driver::sniff_len) bytes read for MIME detection on a first open, none
/// on a reopen. Content past the declared length is kept (the encoder reports it).
pub(crate) fn open_start(path: &Path, declared: Option<u64>) -> std::io::Result<FileStart> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let len = match declared {
        Some(len) => len,
        None => {
            let metadata = file.metadata()?;
            if metadata.is_dir() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::IsADirectory,
                    "is a directory, not a file",
                ));
            }
            metadata.len()
        }
    };
    let whole = len < CHUNK as u64;
    let want = if whole {
        len as usize + 1
    } else if declared.is_none() {
        kie_proto::driver::sniff_len(len)
    } else {
        0
    };
    let mut content = vec![0; want];
    let mut filled = 0;
    let mut ended = false;
    while filled < want {
        match file.read(&mut content[filled..]) {
            Ok(0) => {
                ended = true;
                break;
            }
            Ok(n) => filled += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    content.truncate(filled);
    // Read whole: the end was seen, or a byte past the declared length was.
    let rest = if whole && (ended || filled == want) {
        None
    } else {
        Some(file)
    };
    Ok(FileStart {
        len,
        content: Bytes::from(content),
        rest,
    })
}

/// Reads the start of the content for MIME detection: [`kie_proto::driver::sniff_len`]`(len)`
/// bytes, fewer if the source ends first (which the plan refuses before anything is sent).
pub(crate) async fn read_prefix<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    len: u64,
    io: impl Fn(std::io::Error) -> Error,
) -> Result<Bytes, Error> {
    let want = kie_proto::driver::sniff_len(len);
    let mut prefix = vec![0; want];
    let mut filled = 0;
    while filled < want {
        let n = reader.read(&mut prefix[filled..]).await.map_err(&io)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    prefix.truncate(filled);
    Ok(Bytes::from(prefix))
}

/// The content of an upload, kept to be read again for verification: files and bytes.
pub(crate) enum Sent {
    /// Bytes in memory.
    Bytes(Bytes),
    /// A file, read again (on a blocking thread) from its path.
    File(PathBuf),
}

impl Sent {
    /// Length and SHA-256 of the first `len` bytes of the content, through a fixed buffer.
    pub(crate) async fn digest(self, len: u64) -> Result<Digest, Error> {
        match self {
            Sent::Bytes(bytes) => {
                let mut digest = ContentDigest::new();
                digest
                    .update(&bytes[..bytes.len().min(usize::try_from(len).unwrap_or(usize::MAX))]);
                Ok(digest.finish())
            }
            Sent::File(path) => {
                let io = |source| Error::Io {
                    path: Some(path.clone()),
                    source,
                };
                let reopen = path.clone();
                tokio::task::spawn_blocking(move || file_digest(&reopen, len))
                    .await
                    .map_err(|join| io(std::io::Error::other(join)))?
                    .map_err(io)
            }
        }
    }
}

fn file_digest(path: &std::path::Path, len: u64) -> std::io::Result<Digest> {
    let mut file = std::fs::File::open(path)?.take(len);
    let mut digest = ContentDigest::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(digest.finish()),
            Ok(n) => digest.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_start_reads_small_files_whole_and_large_ones_from_the_start() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("kie-async-open-start-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let small = dir.join("small");
        std::fs::write(&small, b"hello")?;
        let start = open_start(&small, None)?;
        assert_eq!(
            (start.len, &start.content[..], start.rest.is_none()),
            (5, &b"hello"[..], true)
        );
        // Declared lengths of an earlier attempt: grown (one byte past), shrunk (short, seen).
        let grown = open_start(&small, Some(4))?;
        assert_eq!(
            (&grown.content[..], grown.rest.is_none()),
            (&b"hello"[..], true)
        );
        let shrunk = open_start(&small, Some(9))?;
        assert_eq!(
            (&shrunk.content[..], shrunk.rest.is_none()),
            (&b"hello"[..], true)
        );
        let large = dir.join("large");
        std::fs::write(&large, vec![7; CHUNK])?;
        let first = open_start(&large, None)?;
        assert_eq!(first.content.len(), kie_proto::driver::SNIFF_LEN);
        assert!(first.rest.is_some());
        let reopened = open_start(&large, Some(CHUNK as u64))?;
        assert!(reopened.content.is_empty() && reopened.rest.is_some());
        let error = open_start(&dir, None).err().map(|e| e.kind());
        assert_eq!(error, Some(std::io::ErrorKind::IsADirectory));
        std::fs::remove_dir_all(&dir)
    }
}
