//! Whether the stored file is the one that was sent: the size KIE.AI reports against the
//! bytes sent (always, when the answer has `fileSize`).

use crate::upload::UploadResult;

/// The service stored something other than what was sent. The upload itself "succeeded",
/// so the result is kept: the file can be inspected or overwritten by uploading again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrityError {
    /// The answer's `fileSize` differs from the number of content bytes sent.
    #[error(
        "KIE.AI reports {reported} bytes stored for an upload of {sent} bytes, so the stored file is not what was sent; upload it again"
    )]
    SizeMismatch {
        /// Content bytes sent (the file's size, not the larger base64 or multipart body).
        sent: u64,
        /// The answer's `fileSize`.
        reported: u64,
        /// The answer, as parsed.
        result: Box<UploadResult>,
    },
}

/// Checks the `fileSize` of `result` against the `sent` content bytes.
///
/// An answer without `fileSize` passes: the endpoint pages and the quickstart both document
/// it, but recorded answers (spec §2.1, [O]) and the `fileUrl`-only form do not always carry
/// it, and an unreadable `fileSize` is read as absent.
pub(crate) fn check_size(sent: u64, result: &UploadResult) -> Result<(), IntegrityError> {
    match result.file_size {
        Some(reported) if reported != sent => Err(IntegrityError::SizeMismatch {
            sent,
            reported,
            result: Box::new(result.clone()),
        }),
        _ => Ok(()),
    }
}
