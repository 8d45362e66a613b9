//! Where an upload's content comes from, as far as the protocol cares: whether a retry may
//! send it again and whether a verification may read it again. The bytes themselves are the
//! driver's business (files, memory, readers); the rules are here, once.

/// The kind of an upload's source.
///
/// | source | sent again on a retry | read again to verify |
/// |---|---|---|
/// | [`File`](Self::File) | yes (opened again) | yes |
/// | [`Bytes`](Self::Bytes) | yes | yes |
/// | [`Seekable`](Self::Seekable) | yes (sought back to its start) | no |
/// | [`Reader`](Self::Reader) | only while nothing past its first bytes was read (they are kept for MIME detection) | no |
///
/// ```
/// use kie_proto::SourceKind;
/// assert!(SourceKind::File.can_resend(true));
/// assert!(SourceKind::Reader.can_resend(false));
/// assert!(!SourceKind::Reader.can_resend(true));
/// assert!(!SourceKind::Seekable.can_verify());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SourceKind {
    /// A file, by its path.
    File,
    /// Bytes in memory.
    Bytes,
    /// A reader that can seek back to where it started.
    Seekable,
    /// A reader read once.
    Reader,
}

impl SourceKind {
    /// Whether the content can be sent again from its start, once `read_past_prefix`
    /// (anything was read beyond the first bytes kept for MIME detection).
    pub fn can_resend(self, read_past_prefix: bool) -> bool {
        match self {
            SourceKind::File | SourceKind::Bytes | SourceKind::Seekable => true,
            SourceKind::Reader => !read_past_prefix,
        }
    }

    /// Whether the content can be read again after the upload, to compare with the stored
    /// file ([`UploadOptions::verify_download`](crate::UploadOptions::verify_download)).
    pub fn can_verify(self) -> bool {
        matches!(self, SourceKind::File | SourceKind::Bytes)
    }
}

/// What a driver knows of an upload's content before sending it, for
/// [`UploadOptions::plan`](crate::UploadOptions::plan).
#[derive(Debug, Clone, Copy)]
pub struct ContentStart<'a> {
    /// The kind of source.
    pub source: SourceKind,
    /// The source's own name (a file's name), which gives a generated name its extension.
    pub name: Option<&'a str>,
    /// The content's first bytes: [`sniff_len(len)`](crate::driver::sniff_len) of them (all
    /// of a short content), for MIME detection.
    pub prefix: &'a [u8],
    /// The content's declared length.
    pub len: u64,
}

impl<'a> ContentStart<'a> {
    /// `len` bytes from a source of kind `source`, starting with `prefix`.
    pub fn new(source: SourceKind, prefix: &'a [u8], len: u64) -> Self {
        ContentStart {
            source,
            name: None,
            prefix,
            len,
        }
    }

    /// The source's own name (a file's name).
    pub fn with_name(mut self, name: Option<&'a str>) -> Self {
        self.name = name;
        self
    }
}
