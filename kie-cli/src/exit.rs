//! Exit codes, and the one place an SDK error becomes a kind string (for `--json`) and an
//! exit code: [`classify`].

use std::process::ExitCode;

use kie_async::{ApiError, Error, ErrorKind, IntegrityError, InvalidInput, TransportFailure};

/// The process's exit status; the numbers are documented in `kie --help` and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything succeeded.
    Success = 0,
    /// Some operations failed (or they failed for different reasons); a webhook was rejected.
    Failed = 1,
    /// Bad arguments, or input the SDK refused before sending anything.
    Usage = 2,
    /// No API key, a malformed one, or an HTTP 401.
    Auth = 3,
    /// No answer from the service.
    Network = 4,
    /// The service (or the CDN in front of it) refused or failed the request.
    Refused = 5,
    /// A local file could not be read, or changed size during the upload.
    LocalFile = 6,
    /// The upload was answered but the stored file is not what was sent (its reported size
    /// differs; with `--verify`, the download differs or could not be fetched).
    Integrity = 7,
    /// The task ran and failed (its `failCode` / `failMsg` were reported).
    TaskFailed = 8,
    /// A wait ended before the task did (its deadline, or a status word that never
    /// changed): the task may still finish.
    WaitStopped = 9,
    /// The service rejected a task's input before creating it (unknown model, missing or
    /// invalid field).
    InputRejected = 10,
    /// A create got no clear answer: the task may exist and was not created again.
    MaybeCreated = 11,
    /// Ctrl-C (SIGINT).
    Interrupted = 130,
    /// SIGTERM: ended as by Ctrl-C.
    Terminated = 143,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

impl Exit {
    /// The exit of a command that ran several operations: success when none failed; the
    /// failures' common code when nothing succeeded and they agree; otherwise [`Exit::Failed`].
    pub fn combine(succeeded: usize, failures: impl IntoIterator<Item = Exit>) -> Exit {
        let mut failures = failures.into_iter();
        let Some(first) = failures.next() else {
            return Exit::Success;
        };
        if succeeded == 0 && failures.all(|exit| exit == first) {
            first
        } else {
            Exit::Failed
        }
    }
}

/// What [`classify`] makes of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    /// A stable snake_case name, the `error.kind` of `--json` output.
    pub kind: &'static str,
    /// The exit code it leads to.
    pub exit: Exit,
}

const fn class(kind: &'static str, exit: Exit) -> Class {
    Class { kind, exit }
}

/// The kind string and exit code of an SDK error: the only place the CLI looks into an
/// error. Error kinds the SDK adds later fall to the catch-all arms (`error`, `api_error`,
/// `network`) until they get their own line here.
pub fn classify(error: &Error) -> Class {
    match error {
        Error::Api { error, .. } => refusal(error),
        Error::Transport { kind, .. } => transport(*kind),
        Error::NotRewindable {
            transport: Some(kind),
            ..
        } => transport(*kind),
        Error::InvalidInput(
            InvalidInput::ApiKeyEmpty
            | InvalidInput::ApiKeyNotInEnvironment { .. }
            | InvalidInput::ApiKeyInvalidByte { .. },
        ) => class("api_key", Exit::Auth),
        Error::InvalidInput(_) => class("invalid_input", Exit::Usage),
        Error::Io { .. } => class("io", Exit::LocalFile),
        Error::ContentLength(_) => class("content_length", Exit::LocalFile),
        Error::Integrity(integrity) => match integrity {
            IntegrityError::SizeMismatch { .. } => class("size_mismatch", Exit::Integrity),
            IntegrityError::DownloadMismatch { .. } => class("download_mismatch", Exit::Integrity),
            IntegrityError::DownloadRefused { .. } => class("download_refused", Exit::Integrity),
            IntegrityError::DownloadUrlInvalid { .. } => {
                class("download_url_invalid", Exit::Integrity)
            }
            // Checks added to the SDK later.
            _ => class("integrity", Exit::Integrity),
        },
        Error::NotRewindable { .. } => match error.api_error() {
            Some(refused) => refusal(refused),
            None => class("error", Exit::Failed),
        },
        Error::Config { .. } => class("config", Exit::Usage),
        Error::MaybeCreated { .. } => class("maybe_created", Exit::MaybeCreated),
        Error::TaskWait {
            may_finish: true, ..
        } => class("wait_stopped", Exit::WaitStopped),
        Error::TaskWait { .. } => class("task_not_found", Exit::Refused),
        // Errors added to the SDK later.
        _ => class("error", Exit::Failed),
    }
}

/// The kind and exit code of a refusal.
fn refusal(api: &ApiError) -> Class {
    match api.kind {
        ErrorKind::Unauthorized => class("unauthorized", Exit::Auth),
        ErrorKind::BadRequest => class("bad_request", Exit::Refused),
        ErrorKind::InsufficientCredits => class("insufficient_credits", Exit::Refused),
        ErrorKind::NotFound => class("not_found", Exit::Refused),
        ErrorKind::MethodNotAllowed => class("method_not_allowed", Exit::Refused),
        ErrorKind::Timeout => class("service_timeout", Exit::Refused),
        ErrorKind::Validation => class("validation", Exit::Refused),
        ErrorKind::RateLimited => class("rate_limited", Exit::Refused),
        ErrorKind::UsageLimitExceeded => class("usage_limit_exceeded", Exit::Refused),
        ErrorKind::Maintenance => class("maintenance", Exit::Refused),
        ErrorKind::Server => class("server_error", Exit::Refused),
        ErrorKind::GenerationFailed => class("generation_failed", Exit::Refused),
        ErrorKind::FeatureDisabled => class("feature_disabled", Exit::Refused),
        ErrorKind::CdnRefused => class("cdn_refused", Exit::Refused),
        ErrorKind::NotJson => class("not_json", Exit::Refused),
        ErrorKind::MalformedResponse => class("malformed_response", Exit::Refused),
        ErrorKind::PayloadTooLarge => class("payload_too_large", Exit::Refused),
        ErrorKind::Redirect => class("redirect", Exit::Refused),
        ErrorKind::ProxyAuthenticationRequired => class("proxy_auth", Exit::Network),
        ErrorKind::Other => class("api_error", Exit::Refused),
        // Kinds added to the SDK later: refusals until named here.
        _ => class("api_error", Exit::Refused),
    }
}

/// The kind and exit code of a transport failure.
fn transport(kind: TransportFailure) -> Class {
    match kind {
        TransportFailure::Connect => class("connect", Exit::Network),
        TransportFailure::ConnectTimeout => class("connect_timeout", Exit::Network),
        TransportFailure::ConnectionLost => class("connection_lost", Exit::Network),
        TransportFailure::Timeout => class("timeout", Exit::Network),
        TransportFailure::Tls(_) => class("tls", Exit::Network),
        TransportFailure::ProxyUnreachable => class("proxy_unreachable", Exit::Network),
        TransportFailure::ProxyRefused { .. } => class("proxy_refused", Exit::Network),
        TransportFailure::MalformedAnswer => class("malformed_answer", Exit::Network),
        TransportFailure::Unsendable => class("unsendable", Exit::Network),
        TransportFailure::Redirected => class("redirected", Exit::Network),
        // Failures added to the SDK later.
        _ => class("network", Exit::Network),
    }
}

/// Whether `error` refuses the whole account (the key, the credits, the key's usage cap):
/// every further request would meet it, so a batch stops starting new work.
pub fn is_account_wide(error: &Error) -> bool {
    matches!(
        error.api_error().map(|api| api.kind),
        Some(
            ErrorKind::Unauthorized
                | ErrorKind::InsufficientCredits
                | ErrorKind::UsageLimitExceeded
        )
    )
}

/// The HTTP status behind an error, for `--json`: the service's answer to a refused
/// request, or the storage host's to the download of `--verify`.
pub fn http_status(error: &Error) -> Option<u16> {
    match error {
        Error::Integrity(IntegrityError::DownloadRefused { status, .. }) => Some(*status),
        _ => error.api_error().map(|api| api.status.as_u16()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_reports_partial_failure_as_1_and_a_common_cause_as_itself() {
        assert_eq!(Exit::combine(3, []), Exit::Success);
        assert_eq!(Exit::combine(0, []), Exit::Success);
        assert_eq!(Exit::combine(2, [Exit::Auth]), Exit::Failed);
        assert_eq!(Exit::combine(0, [Exit::Auth, Exit::Auth]), Exit::Auth);
        assert_eq!(Exit::combine(0, [Exit::Network]), Exit::Network);
        assert_eq!(Exit::combine(0, [Exit::Auth, Exit::Network]), Exit::Failed);
    }

    #[test]
    fn not_rewindable_is_classified_by_its_cause() {
        let error = Error::NotRewindable {
            attempts: 1,
            transport: Some(TransportFailure::ConnectionLost),
            source: "reset".into(),
        };
        assert_eq!(classify(&error), class("connection_lost", Exit::Network));
    }

    #[test]
    fn every_integrity_failure_exits_7_with_its_own_kind() {
        let digest = |len| kie_async::kie_proto::Digest {
            len,
            sha256: [0; 32],
        };
        let url = "http://files.example/a.bin".to_owned();
        for (error, kind) in [
            (
                IntegrityError::DownloadMismatch {
                    url: url.clone(),
                    sent: digest(1),
                    received: digest(2),
                },
                "download_mismatch",
            ),
            (
                IntegrityError::DownloadRefused {
                    url: url.clone(),
                    status: 404,
                },
                "download_refused",
            ),
            (
                IntegrityError::DownloadUrlInvalid { url },
                "download_url_invalid",
            ),
        ] {
            assert_eq!(
                classify(&Error::Integrity(error)),
                class(kind, Exit::Integrity)
            );
        }
    }

    #[test]
    fn a_missing_key_is_an_auth_failure_and_other_bad_input_is_usage() {
        let missing = Error::InvalidInput(InvalidInput::ApiKeyNotInEnvironment {
            variable: kie_async::ENV_API_KEY,
        });
        assert_eq!(classify(&missing).exit, Exit::Auth);
        let bad_path = Error::InvalidInput(InvalidInput::UploadPathEmpty);
        assert_eq!(classify(&bad_path), class("invalid_input", Exit::Usage));
    }
}
