//! The emulator's injectable clock and the timestamp formats the service uses.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A cloneable handle to the emulator's clock.
///
/// The clock follows the real wall clock plus an offset that tests can grow with
/// [`Clock::advance`]; every expiry decision (upload TTL, 20-minute download links) and
/// every timestamp in a response (`uploadedAt`, `expiresAt`) reads this clock, so a test
/// can jump past a TTL without sleeping.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset: Arc<Mutex<Duration>>,
}

impl Clock {
    /// A clock that follows the real wall clock (offset zero).
    pub fn new() -> Clock {
        Clock::default()
    }

    /// Moves the clock forward by `by`; the move is permanent and cumulative.
    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        *offset = offset.saturating_add(by);
    }

    /// The current emulated time: the wall clock plus all advances so far.
    pub fn now(&self) -> SystemTime {
        let offset = *self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        SystemTime::now() + offset
    }

    /// The total offset added by [`Clock::advance`] so far.
    pub fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Formats `t` as ISO-8601 UTC with milliseconds, e.g. `2025-01-01T12:00:00.000Z`
/// (the `uploadedAt` format of the upload endpoint pages).
pub fn iso8601_millis(t: SystemTime) -> String {
    let (date, ms) = split(t);
    format!("{date}.{ms:03}Z")
}

/// Formats `t` as ISO-8601 UTC without fractional seconds, e.g. `2025-01-15T10:30:00Z`
/// (the `uploadTime`/`expiresAt` format of the quickstart pages).
pub fn iso8601_seconds(t: SystemTime) -> String {
    let (date, _) = split(t);
    format!("{date}Z")
}

/// Splits a time into `YYYY-MM-DDTHH:MM:SS` and the milliseconds. Times before 1970 are
/// clamped to the epoch (the emulator never produces them).
fn split(t: SystemTime) -> (String, u32) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let date = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    );
    (date, since.subsec_millis())
}

/// Converts days since 1970-01-01 into a proleptic Gregorian (year, month, day)
/// (Howard Hinnant's `civil_from_days`, restricted to non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        let t = UNIX_EPOCH + Duration::from_millis(1_735_732_800_123);
        assert_eq!(iso8601_millis(t), "2025-01-01T12:00:00.123Z");
        assert_eq!(iso8601_seconds(t), "2025-01-01T12:00:00Z");
        assert_eq!(iso8601_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(iso8601_seconds(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn advance_is_cumulative() {
        let c = Clock::new();
        let before = c.now();
        c.advance(Duration::from_secs(3600));
        c.advance(Duration::from_secs(60));
        assert_eq!(c.offset(), Duration::from_secs(3660));
        assert!(c.now() >= before + Duration::from_secs(3660));
    }
}
