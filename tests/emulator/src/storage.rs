//! Storage of uploads, "generated" files and download links.

use std::collections::HashMap;
use std::time::SystemTime;

use bytes::Bytes;
use sha2::{Digest, Sha256};

/// Where uploaded bytes go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StorageMode {
    /// Keep every upload in memory and serve it at its `downloadUrl` (the default).
    #[default]
    Memory,
    /// Keep only size, SHA-256, MIME type and the first few KiB of each upload (hashed on
    /// the fly, so a multi-GiB stream, base64 or URL upload uses constant memory; the JSON
    /// body of a base64 upload is parsed and decoded as it arrives). Downloads of such
    /// files answer 404.
    Discard,
}

/// How many leading bytes are kept for MIME sniffing in [`StorageMode::Discard`].
pub(crate) const SNIFF_LEN: usize = 8192;

/// One stored upload, as returned by [`crate::Emulator::stored_files`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
    /// The full storage path (`filePath`): `kieai/<account id>/<uploadPath>/<fileName>`.
    pub path: String,
    /// The `uploadPath` it was stored under.
    pub upload_path: String,
    /// The stored file name (given or generated).
    pub file_name: String,
    /// The `downloadUrl` it is served at.
    pub download_url: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content.
    pub sha256: [u8; 32],
    /// Detected MIME type.
    pub mime: String,
    /// The content, in [`StorageMode::Memory`]; `None` in [`StorageMode::Discard`].
    pub content: Option<Bytes>,
    /// When it was (last) written, by the emulator's clock.
    pub uploaded_at: SystemTime,
    /// When it stops being served.
    pub expires_at: SystemTime,
    /// How many times this key was written (1 = never overwritten).
    pub writes: u32,
}

impl StoredFile {
    /// The SHA-256 as lower-case hex.
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Uploaded content, accumulated by a [`Sink`].
#[derive(Debug)]
pub(crate) struct Content {
    pub data: Option<Bytes>,
    pub head: Vec<u8>,
    pub size: u64,
    pub sha256: [u8; 32],
}

/// Accumulates upload bytes chunk by chunk: hashes everything, keeps everything in
/// memory mode and only the first [`SNIFF_LEN`] bytes in discard mode.
pub(crate) struct Sink {
    keep: bool,
    buf: Vec<u8>,
    hasher: Sha256,
    size: u64,
}

impl Sink {
    pub fn new(mode: StorageMode) -> Sink {
        Sink {
            keep: mode == StorageMode::Memory,
            buf: Vec::new(),
            hasher: Sha256::new(),
            size: 0,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        if self.keep {
            self.buf.extend_from_slice(chunk);
        } else if self.buf.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - self.buf.len()).min(chunk.len());
            self.buf.extend_from_slice(&chunk[..take]);
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn finish(self) -> Content {
        let sha256: [u8; 32] = self.hasher.finalize().into();
        if self.keep {
            let head = self.buf[..self.buf.len().min(SNIFF_LEN)].to_vec();
            Content {
                data: Some(Bytes::from(self.buf)),
                head,
                size: self.size,
                sha256,
            }
        } else {
            Content {
                data: None,
                head: self.buf,
                size: self.size,
                sha256,
            }
        }
    }
}

/// The MIME type of `head` by magic bytes, else by the extension of `name`, else
/// `application/octet-stream`; plus the extension matching the magic bytes, if any.
pub(crate) fn detect_mime(head: &[u8], name: Option<&str>) -> (String, Option<String>) {
    if let Some(kind) = infer::get(head) {
        return (
            kind.mime_type().to_owned(),
            Some(kind.extension().to_owned()),
        );
    }
    if let Some(guess) = name.and_then(|n| mime_guess::from_path(n).first()) {
        return (guess.essence_str().to_owned(), None);
    }
    ("application/octet-stream".to_owned(), None)
}

/// The extension of a file name (without the dot), if it has a sane one.
pub(crate) fn extension_of(name: &str) -> Option<&str> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty()
        && !ext.is_empty()
        && ext.len() <= 10
        && ext.chars().all(|c| c.is_ascii_alphanumeric()))
    .then_some(ext)
}

/// A random lower-case hex string of `n` bytes of entropy.
pub(crate) fn random_hex(n: usize) -> String {
    let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
    hex(&bytes)
}

/// A served blob that is not an upload: a "generated" file or a 20-minute download link.
#[derive(Clone, Debug)]
pub(crate) struct Blob {
    pub data: Bytes,
    pub mime: String,
    pub expires_at: SystemTime,
}

/// Everything the emulator stores.
#[derive(Debug, Default)]
pub(crate) struct Storage {
    /// Uploads by `filePath`.
    pub uploads: HashMap<String, StoredFile>,
    /// Generated files and download links by their path on the files host (decoded,
    /// without the leading `/`).
    pub blobs: HashMap<String, Blob>,
    /// URLs issued by `issue_generated_file` → their blob path.
    pub generated_urls: HashMap<String, String>,
}

impl Storage {
    /// Forgets uploads and blobs that have expired at `now`.
    pub fn purge(&mut self, now: SystemTime) {
        self.uploads.retain(|_, f| f.expires_at > now);
        self.blobs.retain(|_, b| b.expires_at > now);
    }
}
