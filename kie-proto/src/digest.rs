//! Length and SHA-256 of content, computed piece by piece in constant memory: what an
//! upload sent, and what a download brought back.

use std::fmt;

use sha2::{Digest as _, Sha256};

/// Length and SHA-256 of some content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest {
    /// Length in bytes.
    pub len: u64,
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes with SHA-256 ", self.len)?;
        self.sha256.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// Length and SHA-256 of content fed to it piece by piece, in constant memory.
///
/// ```
/// use kie_proto::driver::ContentDigest;
/// let mut digest = ContentDigest::new();
/// digest.update(b"ab");
/// digest.update(b"c");
/// assert_eq!(
///     digest.finish().to_string(),
///     "3 bytes with SHA-256 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct ContentDigest {
    hasher: Sha256,
    len: u64,
}

impl ContentDigest {
    /// An empty digest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was fed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        Digest {
            len: self.len,
            sha256: self.hasher.finalize().into(),
        }
    }
}
