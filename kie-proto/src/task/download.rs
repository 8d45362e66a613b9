//! Downloading a task's results: never with the API key (the storage host is not KIE.AI's
//! API); a link that is refused or expired is exchanged once for a fresh one through
//! [`GetDownloadUrl`](crate::GetDownloadUrl), then tried again.

use http::StatusCode;

/// The rule of one result download, as a driver walks it: download the asset's URL; on a
/// refusal (401, 403, 404, 410), ask for a fresh link once and download that; then stop.
///
/// ```
/// use kie_proto::task::{ResultDownload, ResultDownloadStep};
/// use kie_proto::http::StatusCode;
/// let mut download = ResultDownload::new("https://tempfile.aiquickdraw.com/a.png");
/// assert_eq!(download.url(), "https://tempfile.aiquickdraw.com/a.png");
/// assert_eq!(download.after_status(StatusCode::FORBIDDEN), ResultDownloadStep::Refresh);
/// download.refreshed("https://tempfile.aiquickdraw.com/a.png?sig=fresh");
/// assert_eq!(download.after_status(StatusCode::FORBIDDEN), ResultDownloadStep::Refused);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultDownload {
    original: String,
    current: String,
    refreshed: bool,
}

/// What to do after a result download's answer status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResultDownloadStep {
    /// A 2xx: read the body.
    Read,
    /// The link was refused or expired: ask `download-url` for a fresh one for
    /// [`ResultDownload::original`], then download again.
    Refresh,
    /// Refused again (or another status): the download failed with this status.
    Refused,
}

impl ResultDownload {
    /// A download of the result at `url`.
    pub fn new(url: &str) -> Self {
        ResultDownload {
            original: url.to_owned(),
            current: url.to_owned(),
            refreshed: false,
        }
    }

    /// The URL to download now.
    pub fn url(&self) -> &str {
        &self.current
    }

    /// The result's own URL (what `download-url` is asked about).
    pub fn original(&self) -> &str {
        &self.original
    }

    /// What to do after `status`.
    pub fn after_status(&self, status: StatusCode) -> ResultDownloadStep {
        if status.is_success() {
            return ResultDownloadStep::Read;
        }
        let expired = matches!(status.as_u16(), 401 | 403 | 404 | 410);
        if expired && !self.refreshed {
            ResultDownloadStep::Refresh
        } else {
            ResultDownloadStep::Refused
        }
    }

    /// The fresh link `download-url` gave.
    pub fn refreshed(&mut self, url: &str) {
        self.current = url.to_owned();
        self.refreshed = true;
    }
}
