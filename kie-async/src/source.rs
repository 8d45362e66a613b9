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

/// Size of the read buffer of a reader's content (files are read ahead instead).
pub(crate) const CHUNK: usize = 64 * 1024;

/// Files smaller than this are read whole when opened (no reader thread): at most this
/// much of a file in memory per upload.
pub(crate) const WHOLE_FILE: u64 = 4 * 1024 * 1024;

/// Files smaller than this are read whole by the blocking call that opens them, into a
/// buffer of that thread's (below glibc's smallest mmap threshold, where freed chunks are
/// reused). Larger ones (up to [`WHOLE_FILE`]) are read into a buffer from
/// [`crate::buffers`]: by the same call when one that fits is kept (the usual case in a
/// batch), else by a second call, into a new one taken on the runtime's side.
const READ_WHEN_OPENED: u64 = 128 * 1024;

/// A piece of a larger file, read ahead on its own blocking thread and handed to the
/// connection as it is (raw content is not copied again).
pub(crate) const PIECE: usize = 1024 * 1024;

/// How many pieces may wait for the connection: with the one being read and the one being
/// sent, a large upload holds about four pieces (4 MiB) whatever its size.
const PIECES_AHEAD: usize = 2;

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
    /// A file read ahead in pieces (read through [`ReadAhead::poll_piece`], not as a reader).
    ReadAhead(ReadAhead),
}

/// A file read ahead on one blocking thread, [`PIECE`] bytes at a time, at most
/// [`PIECES_AHEAD`] pieces ahead of the connection: one thread per upload instead of a
/// thread round trip per 64 KiB read. Dropping it stops the thread at its next piece.
///
/// The thread reads into buffers from [`crate::buffers`], taken here, on the runtime's
/// side, one more per piece taken.
pub(crate) struct ReadAhead {
    pieces: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    buffers: tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
}

impl ReadAhead {
    /// Reads the next `remaining` bytes of `file` (from content offset `offset`: pieces
    /// end on [`PIECE`] boundaries of the content, as the progress reports do) and, with
    /// `probe_eof`, tries one more (sent as a piece if the file goes on, so the encoder
    /// reports the length mismatch). The pieces end early at the end of the file; a read
    /// error ends them with the error.
    pub(crate) fn start(
        file: std::fs::File,
        offset: u64,
        remaining: u64,
        probe_eof: bool,
    ) -> ReadAhead {
        // The thread holds at most the buffers given to it: one being read, PIECES_AHEAD
        // waiting as pieces; one more is given as each piece is taken.
        let (sender, pieces) = tokio::sync::mpsc::channel(PIECES_AHEAD + 1);
        let (buffers, mut empty) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..=PIECES_AHEAD {
            let _ = buffers.send(crate::buffers::take(PIECE));
        }
        tokio::task::spawn_blocking(move || {
            read_ahead(file, offset, remaining, probe_eof, &mut empty, &sender)
        });
        ReadAhead { pieces, buffers }
    }

    /// The next piece; `None` once the pieces have ended.
    pub(crate) fn poll_piece(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        let piece = self.pieces.poll_recv(cx);
        if let Poll::Ready(Some(Ok(_))) = piece {
            // The thread may have stopped already: then the buffer is dropped with it.
            let _ = self.buffers.send(crate::buffers::take(PIECE));
        }
        piece
    }
}

/// The read-ahead thread's loop (see [`ReadAhead::start`]).
fn read_ahead(
    mut file: std::fs::File,
    mut offset: u64,
    mut left: u64,
    probe_eof: bool,
    buffers: &mut tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    pieces: &tokio::sync::mpsc::Sender<io::Result<Bytes>>,
) {
    loop {
        let probing = left == 0;
        let want = match (probing, probe_eof) {
            (false, _) => left.min(PIECE as u64 - offset % PIECE as u64),
            (true, true) => 1,
            (true, false) => return,
        };
        // None: the reading side was dropped.
        let Some(mut piece) = buffers.blocking_recv() else {
            return;
        };
        match (&mut file).take(want).read_to_end(&mut piece) {
            Ok(0) => return,
            Ok(read) => {
                left = left.saturating_sub(read as u64);
                offset += read as u64;
                let ended = (read as u64) < want;
                if pieces
                    .blocking_send(Ok(crate::buffers::lend(piece)))
                    .is_err()
                    || ended
                    || probing
                {
                    return;
                }
            }
            Err(error) => {
                let _ = pieces.blocking_send(Err(error));
                return;
            }
        }
    }
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
            // Read by pieces, never as a reader.
            Reader::ReadAhead(_) => {
                Poll::Ready(Err(io::Error::other("a read-ahead is read by pieces")))
            }
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
                *first = Some(open_file(path, Some(*len)).await.map_err(io)?);
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

/// Opens `path` ([`open_start`] on a blocking thread) and reads a file shorter than
/// [`WHOLE_FILE`] whole: in the same call below [`READ_WHEN_OPENED`] or when a kept buffer
/// fits, else in a second one into a buffer allocated here.
pub(crate) async fn open_file(path: &Path, declared: Option<u64>) -> io::Result<FileStart> {
    let owned = path.to_path_buf();
    let start = on_blocking_pool(move || open_start(&owned, declared)).await?;
    let FileStart {
        len,
        content,
        rest: Some(file),
    } = start
    else {
        return Ok(start);
    };
    if len >= WHOLE_FILE {
        return Ok(FileStart {
            len,
            content,
            rest: Some(file),
        });
    }
    let mut whole = crate::buffers::take(len as usize + 1);
    whole.extend_from_slice(&content);
    let whole = on_blocking_pool(move || read_whole(file, whole, len)).await?;
    Ok(FileStart {
        len,
        content: crate::buffers::lend(whole),
        rest: None,
    })
}

/// Runs `io` (file calls that may block) on tokio's blocking pool.
pub(crate) async fn on_blocking_pool<T: Send + 'static>(
    io: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(io)
        .await
        .map_err(io::Error::other)?
}

/// Opens `path`, in one go: its length (from the metadata, unless `declared` by an earlier
/// attempt), then its start. A file shorter than [`READ_WHEN_OPENED`] is read whole
/// ([`read_whole`]); a larger one has its first
/// [`sniff_len`](kie_proto::driver::sniff_len) bytes read for MIME detection on a first open,
/// none on a reopen.
fn open_start(path: &Path, declared: Option<u64>) -> std::io::Result<FileStart> {
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
    if len < READ_WHEN_OPENED {
        let whole = read_whole(file, Vec::with_capacity(len as usize + 1), len)?;
        return Ok(FileStart {
            len,
            content: Bytes::from(whole),
            rest: None,
        });
    }
    if len < WHOLE_FILE
        && let Some(buffer) = crate::buffers::take_kept(len as usize + 1)
    {
        return Ok(FileStart {
            len,
            content: crate::buffers::lend(read_whole(file, buffer, len)?),
            rest: None,
        });
    }
    let want = match declared {
        None => kie_proto::driver::sniff_len(len),
        Some(_) => 0,
    };
    let mut content = Vec::with_capacity(want);
    fill(&mut file, &mut content, want)?;
    Ok(FileStart {
        len,
        content: Bytes::from(content),
        rest: Some(file),
    })
}

/// Reads the rest of `file` after `content` (what was read of it already) up to `len` bytes
/// and one more, which is the end-of-file check, and closes it. Content past `len` is kept
/// (the encoder reports it); a file that ends before `len` gives what it holds.
fn read_whole(mut file: std::fs::File, mut content: Vec<u8>, len: u64) -> io::Result<Vec<u8>> {
    fill(&mut file, &mut content, len as usize + 1)?;
    Ok(content)
}

/// Reads from `file` onto the end of `content` until it holds `want` bytes or the file ends.
fn fill(file: &mut std::fs::File, content: &mut Vec<u8>, want: usize) -> io::Result<()> {
    let missing = want.saturating_sub(content.len()) as u64;
    file.take(missing).read_to_end(content).map(drop)
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
                let reopen = path.clone();
                on_blocking_pool(move || file_digest(&reopen, len))
                    .await
                    .map_err(|source| Error::Io {
                        path: Some(path.clone()),
                        source,
                    })
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

    #[tokio::test]
    async fn open_file_reads_files_under_whole_file_whole() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("kie-async-open-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let medium = dir.join("medium");
        let content: Vec<u8> = (0..READ_WHEN_OPENED as usize * 3)
            .map(|i| i as u8)
            .collect();
        std::fs::write(&medium, &content)?;
        let start = open_file(&medium, None).await?;
        assert_eq!(start.len, content.len() as u64);
        assert!(start.content == content && start.rest.is_none());
        // Reopened for a retry with the declared length; grown meanwhile: one byte past.
        let grown = open_file(&medium, Some(content.len() as u64 - 1)).await?;
        assert!(grown.content == content && grown.rest.is_none());
        let shrunk = open_file(&medium, Some(content.len() as u64 + 7)).await?;
        assert!(shrunk.content == content && shrunk.rest.is_none());
        // Once a buffer that fits is kept, the opening call reads the whole file into it.
        let kept = [&start, &grown, &shrunk].map(|opened| opened.content.as_ptr());
        drop((start, grown, shrunk));
        let again = open_start(&medium, None)?;
        assert!(again.content == content && again.rest.is_none());
        assert!(
            kept.contains(&again.content.as_ptr()),
            "read into a kept buffer"
        );
        let large = dir.join("large");
        std::fs::write(&large, vec![7; WHOLE_FILE as usize])?;
        let first = open_file(&large, None).await?;
        assert_eq!(first.content.len(), kie_proto::driver::SNIFF_LEN);
        assert!(first.rest.is_some());
        std::fs::remove_dir_all(&dir)
    }

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
        std::fs::write(&large, vec![7; WHOLE_FILE as usize])?;
        let first = open_start(&large, None)?;
        assert_eq!(first.content.len(), kie_proto::driver::SNIFF_LEN);
        assert!(first.rest.is_some());
        let reopened = open_start(&large, Some(WHOLE_FILE))?;
        assert!(reopened.content.is_empty() && reopened.rest.is_some());
        let error = open_start(&dir, None).err().map(|e| e.kind());
        assert_eq!(error, Some(std::io::ErrorKind::IsADirectory));
        std::fs::remove_dir_all(&dir)
    }
}
