//! Webhook signature verification (spec §3.4), pure: headers, body and the current time in,
//! a verdict out.
//!
//! KIE.AI signs `taskId + "." + timestamp` with HMAC-SHA256 under the account's
//! `webhookHmacKey` (used as UTF-8 bytes, not decoded) and sends the standard base64 of the
//! digest in `X-Webhook-Signature`, the Unix time in seconds in `X-Webhook-Timestamp`.
//!
//! **The body is not signed**: only the task id and the timestamp are. A verified callback
//! proves that KIE.AI sent a callback for that task at that time; it does not prove the rest
//! of the body was not altered. Re-read the task's state from the API before acting on
//! anything important in the body.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;

use crate::input::InvalidInput;

/// Header carrying the Unix time in seconds.
pub const TIMESTAMP_HEADER: &str = "x-webhook-timestamp";
/// Header carrying the base64 HMAC-SHA256 signature.
pub const SIGNATURE_HEADER: &str = "x-webhook-signature";

/// Why a callback was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// `X-Webhook-Timestamp` is absent.
    #[error("missing X-Webhook-Timestamp header")]
    MissingTimestamp,
    /// `X-Webhook-Signature` is absent.
    #[error("missing X-Webhook-Signature header")]
    MissingSignature,
    /// The timestamp is not a decimal number of seconds.
    #[error("X-Webhook-Timestamp is not a decimal Unix time in seconds")]
    InvalidTimestamp,
    /// The body is not a JSON object.
    #[error("callback body is not a JSON object")]
    BodyNotJson,
    /// None of `data.task_id`, `data.taskId` and `taskId` holds a string.
    #[error("callback body has no task id (data.task_id, data.taskId or taskId)")]
    MissingTaskId,
    /// The signature does not match.
    #[error("X-Webhook-Signature does not match")]
    SignatureMismatch,
    /// The timestamp is further from now than the replay window allows.
    #[error(
        "callback timestamp is {skew_seconds} s away from now, outside the {window_seconds} s replay window"
    )]
    OutsideReplayWindow {
        /// Distance between the timestamp and now, in seconds.
        skew_seconds: u64,
        /// The window, in seconds.
        window_seconds: u64,
    },
}

/// A callback whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedWebhook {
    /// The signed task id.
    pub task_id: String,
    /// The signed timestamp, seconds since the Unix epoch.
    pub timestamp: u64,
}

/// Checks callbacks signed with one account's `webhookHmacKey`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use kie_proto::webhook::{WebhookVerifier, sign};
/// let verifier = WebhookVerifier::new("example-webhook-hmac-key")?;
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-webhook-timestamp", "1700000000".parse()?);
/// headers.insert("x-webhook-signature", sign("example-webhook-hmac-key", "task_12345678", "1700000000").parse()?);
/// let body = br#"{"code":200,"data":{"taskId":"task_12345678"}}"#;
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_010);
/// assert_eq!(verifier.verify(&headers, body, now)?.task_id, "task_12345678");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct WebhookVerifier {
    key: Vec<u8>,
    replay_window: Option<Duration>,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("key", &"[redacted]")
            .field("replay_window", &self.replay_window)
            .finish()
    }
}

impl WebhookVerifier {
    /// A verifier for `key` with a 300 s replay window.
    pub fn new(key: impl AsRef<str>) -> Result<Self, InvalidInput> {
        let key = key.as_ref();
        if key.is_empty() {
            return Err(InvalidInput::WebhookKeyEmpty);
        }
        Ok(Self {
            key: key.as_bytes().to_vec(),
            replay_window: Some(Duration::from_secs(300)),
        })
    }

    /// Accept timestamps at most `window` away from now, either way; `None` accepts any
    /// (KIE.AI documents no window).
    pub fn with_replay_window(mut self, window: Option<Duration>) -> Self {
        self.replay_window = window;
        self
    }

    /// Verifies a callback: headers (matched case-insensitively), raw body, and now.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<VerifiedWebhook, WebhookError> {
        let timestamp_text = headers
            .get(TIMESTAMP_HEADER)
            .ok_or(WebhookError::MissingTimestamp)?;
        let signature = headers
            .get(SIGNATURE_HEADER)
            .ok_or(WebhookError::MissingSignature)?;
        let timestamp_text = timestamp_text
            .to_str()
            .map_err(|_| WebhookError::InvalidTimestamp)?;
        if timestamp_text.is_empty() || !timestamp_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(WebhookError::InvalidTimestamp);
        }
        let timestamp: u64 = timestamp_text
            .parse()
            .map_err(|_| WebhookError::InvalidTimestamp)?;
        let task_id = task_id(body)?;
        let expected = sign_bytes(&self.key, &task_id, timestamp_text);
        if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
            return Err(WebhookError::SignatureMismatch);
        }
        if let Some(window) = self.replay_window {
            let now_seconds = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let skew_seconds = now_seconds.abs_diff(timestamp);
            if skew_seconds > window.as_secs() {
                return Err(WebhookError::OutsideReplayWindow {
                    skew_seconds,
                    window_seconds: window.as_secs(),
                });
            }
        }
        Ok(VerifiedWebhook { task_id, timestamp })
    }
}

/// The task id of a callback body: the first string among `data.task_id`, `data.taskId`
/// and top-level `taskId` (the documented places disagree, spec §7.6).
pub fn task_id(body: &[u8]) -> Result<String, WebhookError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| WebhookError::BodyNotJson)?;
    if !value.is_object() {
        return Err(WebhookError::BodyNotJson);
    }
    let data = value.get("data");
    [
        data.and_then(|d| d.get("task_id")),
        data.and_then(|d| d.get("taskId")),
        value.get("taskId"),
    ]
    .into_iter()
    .flatten()
    .find_map(|v| v.as_str())
    .map(str::to_owned)
    .ok_or(WebhookError::MissingTaskId)
}

/// The `X-Webhook-Signature` value for `task_id` and `timestamp` (the header text) under
/// `key`. For emulators and tests of webhook receivers.
///
/// ```
/// assert_eq!(
///     kie_proto::webhook::sign("example-webhook-hmac-key", "task_12345678", "1700000000"),
///     "dyY6O9H1jlgJH9r8tnx4qIffVGCUOXPpFennZeYV9SU="
/// );
/// ```
pub fn sign(key: &str, task_id: &str, timestamp: &str) -> String {
    sign_bytes(key.as_bytes(), task_id, timestamp)
}

fn sign_bytes(key: &[u8], task_id: &str, timestamp: &str) -> String {
    // HMAC accepts keys of any length: new_from_slice cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(task_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Compares in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "example-webhook-hmac-key";

    #[test]
    fn spec_test_vectors() {
        assert_eq!(
            sign(KEY, "ee9c2715375b7837f8bb51d641ff5863", "1769670760"),
            "cXt5ktJNRaOK/k+AzSYTGlgsA0eLYLMlKxdgTACYOSQ="
        );
        assert_eq!(
            sign(KEY, "task_12345678", "1700000000"),
            "dyY6O9H1jlgJH9r8tnx4qIffVGCUOXPpFennZeYV9SU="
        );
    }

    fn headers(timestamp: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let (false, Ok(v)) = (timestamp.is_empty(), timestamp.parse()) {
            headers.insert("X-Webhook-Timestamp", v);
        }
        if let (false, Ok(v)) = (signature.is_empty(), signature.parse()) {
            headers.insert("X-Webhook-Signature", v);
        }
        headers
    }

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn official_example_body_verifies() -> Result<(), Box<dyn std::error::Error>> {
        let body = br#"{"taskId":"ee9c2715375b7837f8bb51d641ff5863","code":200,"msg":"Success","data":{"task_id":"ee9c2715375b7837f8bb51d641ff5863","callbackType":"task_completed"}}"#;
        let verifier = WebhookVerifier::new(KEY)?;
        let h = headers("1769670760", "cXt5ktJNRaOK/k+AzSYTGlgsA0eLYLMlKxdgTACYOSQ=");
        let verified = verifier.verify(&h, body, at(1_769_670_800))?;
        assert_eq!(
            verified,
            VerifiedWebhook {
                task_id: "ee9c2715375b7837f8bb51d641ff5863".into(),
                timestamp: 1_769_670_760
            }
        );
        Ok(())
    }

    #[test]
    fn failures() -> Result<(), Box<dyn std::error::Error>> {
        let verifier = WebhookVerifier::new(KEY)?;
        let body = br#"{"data":{"task_id":"task_12345678"}}"#;
        let good = "dyY6O9H1jlgJH9r8tnx4qIffVGCUOXPpFennZeYV9SU=";
        let now = at(1_700_000_000);
        assert_eq!(
            verifier.verify(&headers("", good), body, now),
            Err(WebhookError::MissingTimestamp)
        );
        assert_eq!(
            verifier.verify(&headers("1700000000", ""), body, now),
            Err(WebhookError::MissingSignature)
        );
        assert_eq!(
            verifier.verify(&headers("17e8", good), body, now),
            Err(WebhookError::InvalidTimestamp)
        );
        assert_eq!(
            verifier.verify(&headers("1700000000", good), b"[]", now),
            Err(WebhookError::BodyNotJson)
        );
        assert_eq!(
            verifier.verify(&headers("1700000000", good), b"{\"data\":{}}", now),
            Err(WebhookError::MissingTaskId)
        );
        assert_eq!(
            verifier.verify(&headers("1700000001", good), body, now),
            Err(WebhookError::SignatureMismatch)
        );
        assert_eq!(
            verifier.verify(&headers("1700000000", &good[..43]), body, now),
            Err(WebhookError::SignatureMismatch)
        );
        assert_eq!(
            verifier.verify(&headers("1700000000", good), body, at(1_700_000_301)),
            Err(WebhookError::OutsideReplayWindow {
                skew_seconds: 301,
                window_seconds: 300
            })
        );
        let lenient = verifier.clone().with_replay_window(None);
        assert!(
            lenient
                .verify(&headers("1700000000", good), body, at(1_900_000_000))
                .is_ok()
        );
        assert!(!format!("{verifier:?}").contains(KEY));
        assert_eq!(
            WebhookVerifier::new("").err(),
            Some(InvalidInput::WebhookKeyEmpty)
        );
        Ok(())
    }

    #[test]
    fn task_id_places_in_order() {
        assert_eq!(
            task_id(br#"{"taskId":"c","data":{"taskId":"b","task_id":"a"}}"#),
            Ok("a".into())
        );
        assert_eq!(
            task_id(br#"{"taskId":"c","data":{"taskId":"b"}}"#),
            Ok("b".into())
        );
        assert_eq!(task_id(br#"{"taskId":"c","data":null}"#), Ok("c".into()));
        assert_eq!(
            task_id(br#"{"taskId":7}"#),
            Err(WebhookError::MissingTaskId)
        );
    }

    /// The jobs spec's two vectors for Market-shaped callbacks (key
    /// `example-webhook-hmac-key`), verified and then read as Market callbacks.
    #[test]
    fn market_callback_vectors() {
        let verifier = WebhookVerifier::new("example-webhook-hmac-key").unwrap();
        for (task, timestamp, signature) in [
            (
                "e989621f54392584b05867f87b160672",
                "1755599645",
                "RtvvEtoFJWpg1p4xRTAcWuc6tLhN8/XMqBPX40SHCZE=",
            ),
            (
                "bd3a37c523149e4adf45a3ddb5faf1a8",
                "1755597082",
                "s5FcBxxh4YaclOmSU88qjmyT9e4D9PSGVteVmaUYQg8=",
            ),
        ] {
            assert_eq!(sign("example-webhook-hmac-key", task, timestamp), signature);
            let body = format!(
                r#"{{"code":200,"msg":"Playground task completed successfully.","data":{{"taskId":"{task}","model":"m","state":"success","param":"{{}}","resultJson":"{{\"resultUrls\":[\"https://tempfile.aiquickdraw.com/r.png\"]}}"}}}}"#
            );
            let mut headers = HeaderMap::new();
            headers.insert(TIMESTAMP_HEADER, timestamp.parse().unwrap());
            headers.insert(SIGNATURE_HEADER, signature.parse().unwrap());
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(timestamp.parse().unwrap());
            let verified = verifier.verify(&headers, body.as_bytes(), now).unwrap();
            assert_eq!(verified.task_id, task);
            let callback = crate::task::MarketCallback::parse(body.as_bytes()).unwrap();
            assert_eq!(callback.record.task.id(), task);
            assert_eq!(callback.record.view().assets.len(), 1);
            // A stale timestamp is refused.
            let late = now + Duration::from_secs(3600);
            assert!(verifier.verify(&headers, body.as_bytes(), late).is_err());
        }
    }
}
