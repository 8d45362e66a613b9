//! The time budget of one call, as pure state: the driver feeds it the time (`now`, an
//! [`Instant`] it read) and the bytes it moved, and asks it when to give up and why. No clock
//! is read here, so every rule is tested with a fake `now`.
//!
//! The rules (each off when its limit is `None`; defaults in [`Timeouts::DEFAULT`]):
//!
//! | rule | limit | gives up when |
//! |---|---|---|
//! | idle | [`Timeouts::idle`] | nothing moved, either way, for this long |
//! | answer | [`Timeouts::answer`] | the answer is not complete this long after the request's last byte |
//! | low speed | [`Timeouts::low_speed`] | fewer than `bytes` moved while sending the body, in a window of `window` (consecutive windows from the first byte moved) |
//! | attempt | [`Timeouts::overall`] | one attempt took this long |
//! | small call | [`Timeouts::small_call`] | a small call (no streamed body: credits, download-url, URL upload), all attempts and retry waits included, took this long |
//!
//! Connecting is bounded by [`Timeouts::connect`], which drivers hand to their HTTP stack;
//! it is not tracked here.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use kie_proto::{TimeoutReason, Timeouts};
//! use kie_proto::driver::{CallBudget, CallKind};
//!
//! let start = Instant::now(); // a driver reads the clock; tests use any Instant
//! let s = Duration::from_secs;
//! let timeouts = Timeouts::NONE.with_idle(Some(s(60)));
//! let mut budget = CallBudget::new(&timeouts, CallKind::Upload, start);
//! budget.moved(start + s(50), 1024);                  // bytes restart the idle timer
//! assert_eq!(budget.check(start + s(100)), Ok(()));
//! assert_eq!(budget.deadline().map(|(at, _)| at), Some(start + s(110)));
//! assert_eq!(budget.check(start + s(110)), Err(TimeoutReason::Idle { limit: s(60) }));
//! ```

use std::fmt;
use std::time::{Duration, Instant};

/// Default time allowed to establish a connection (TCP and TLS).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default idle timeout: the longest time nothing may be sent or received during a request.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The time limits of a client; `None` is "no limit" (or, over a caller-supplied
/// transport, "the transport's own"). How they combine into one call's budget:
/// [`CallBudget`](crate::driver::CallBudget).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Timeouts {
    /// Establishing the connection: DNS, TCP and TLS.
    pub connect: Option<Duration>,
    /// One whole attempt, from connecting to the last byte of the answer, body upload
    /// included.
    pub overall: Option<Duration>,
    /// The longest the connection may stall, sending or receiving (also the wait for the
    /// answer to start).
    pub idle: Option<Duration>,
    /// The longest the answer may take to be complete after the request's last byte.
    pub answer: Option<Duration>,
    /// The slowest a request body may move ([`LowSpeed`]).
    pub low_speed: Option<LowSpeed>,
    /// The longest a small call (credits, download-url, URL upload) may take, all
    /// attempts and retry waits included.
    pub small_call: Option<Duration>,
}

impl Timeouts {
    /// The defaults of a client that builds its own transport: [`DEFAULT_CONNECT_TIMEOUT`],
    /// no per-attempt limit, [`DEFAULT_READ_TIMEOUT`] idle, [`DEFAULT_ANSWER_TIMEOUT`],
    /// [`DEFAULT_LOW_SPEED`] and [`DEFAULT_SMALL_CALL_TIMEOUT`]. Every call ends in bounded
    /// time under them (the README's worst-case table).
    pub const DEFAULT: Timeouts = Timeouts {
        connect: Some(DEFAULT_CONNECT_TIMEOUT),
        overall: None,
        idle: Some(DEFAULT_READ_TIMEOUT),
        answer: Some(DEFAULT_ANSWER_TIMEOUT),
        low_speed: Some(DEFAULT_LOW_SPEED),
        small_call: Some(DEFAULT_SMALL_CALL_TIMEOUT),
    };

    /// These timeouts with the connect timeout set to `connect` (`None`: no limit).
    pub const fn with_connect(mut self, connect: Option<Duration>) -> Timeouts {
        self.connect = connect;
        self
    }

    /// These timeouts with the overall (whole attempt) timeout set to `overall`.
    pub const fn with_overall(mut self, overall: Option<Duration>) -> Timeouts {
        self.overall = overall;
        self
    }

    /// These timeouts with the idle timeout set to `idle`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kie_proto::Timeouts;
    /// let timeouts = Timeouts::NONE.with_idle(Some(Duration::from_secs(5)));
    /// assert_eq!(timeouts.idle, Some(Duration::from_secs(5)));
    /// assert_eq!(timeouts.connect, None);
    /// ```
    pub const fn with_idle(mut self, idle: Option<Duration>) -> Timeouts {
        self.idle = idle;
        self
    }

    /// These timeouts with the answer timeout (after the request's last byte) set to
    /// `answer`.
    pub const fn with_answer(mut self, answer: Option<Duration>) -> Timeouts {
        self.answer = answer;
        self
    }

    /// These timeouts with the low-speed rule for request bodies set to `low_speed`.
    pub const fn with_low_speed(mut self, low_speed: Option<LowSpeed>) -> Timeouts {
        self.low_speed = low_speed;
        self
    }

    /// These timeouts with the small-call limit (all attempts of credits, download-url and
    /// URL upload) set to `small_call`.
    pub const fn with_small_call(mut self, small_call: Option<Duration>) -> Timeouts {
        self.small_call = small_call;
        self
    }

    /// No limits: what a client over a caller-supplied transport adds to the transport's own
    /// timeouts unless told otherwise.
    pub const NONE: Timeouts = Timeouts {
        connect: None,
        overall: None,
        idle: None,
        answer: None,
        low_speed: None,
        small_call: None,
    };

    /// These timeouts, each unset one taken from `base`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kie_proto::Timeouts;
    /// let set = Timeouts::NONE.with_idle(Some(Duration::from_secs(5)));
    /// assert_eq!(set.or(Timeouts::DEFAULT).idle, Some(Duration::from_secs(5)));
    /// assert_eq!(set.or(Timeouts::DEFAULT).connect, Timeouts::DEFAULT.connect);
    /// assert_eq!(set.or(Timeouts::NONE), set);
    /// ```
    #[must_use]
    pub fn or(self, base: Timeouts) -> Timeouts {
        Timeouts {
            connect: self.connect.or(base.connect),
            overall: self.overall.or(base.overall),
            idle: self.idle.or(base.idle),
            answer: self.answer.or(base.answer),
            low_speed: self.low_speed.or(base.low_speed),
            small_call: self.small_call.or(base.small_call),
        }
    }
}

/// The low-speed rule for request bodies, like curl's `--speed-limit` / `--speed-time`: an
/// upload is given up when fewer than `bytes` moved within `window`. A slow but moving
/// upload (hours long) is never cut; a peer that stalls or drips is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LowSpeed {
    /// The fewest bytes that must move per window.
    pub bytes: u64,
    /// The window.
    pub window: Duration,
}

/// Default low-speed rule: at least 16 KiB per 30 s (an average of 546 B/s) while sending a
/// body.
pub const DEFAULT_LOW_SPEED: LowSpeed = LowSpeed {
    bytes: 16 * 1024,
    window: Duration::from_secs(30),
};

/// Default answer timeout: the answer must be complete 120 s after the request's last byte.
pub const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// Default small-call timeout: credits, download-url and URL uploads end within 90 s, all
/// attempts and waits included (the service itself fetches a URL for up to 30 s).
pub const DEFAULT_SMALL_CALL_TIMEOUT: Duration = Duration::from_secs(90);

/// Which rules a call is under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// A request with a complete (JSON) or empty body: credits, download-url, URL upload.
    /// Bounded as a whole by [`Timeouts::small_call`].
    Small,
    /// A streamed body (a file, bytes or a reader, multipart or base64): as long as it
    /// moves fast enough, it may take hours.
    Upload,
    /// A download of a stored file (a verification, a generated result): the *answer's*
    /// body streams, under the low-speed rule, for as long as it moves fast enough; the
    /// answer limit covers only the wait for its status line and headers.
    Download,
}

impl CallKind {
    /// The kind of a call sending `body`: a framed (streamed) body is an upload, anything
    /// else a small call.
    pub fn of(body: &crate::Body) -> CallKind {
        match body {
            crate::Body::Framed(_) => CallKind::Upload,
            crate::Body::Empty | crate::Body::Complete(_) => CallKind::Small,
        }
    }
}

/// Why a call gave up waiting; the text names the rule and its setting. Carried as the
/// `source` of an [`Error::Transport`](crate::Error::Transport) whose kind is
/// [`TransportFailure::Timeout`](crate::TransportFailure::Timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutReason {
    /// Nothing was sent or received for `limit` ([`Timeouts::idle`]).
    Idle {
        /// The idle limit.
        limit: Duration,
    },
    /// The request was sent, but the answer's status line and headers were not complete and
    /// nothing moved for `limit` ([`Timeouts::idle`]: the idle limit, while waiting for the
    /// answer to start). Drivers that see header bytes one by one restart the idle timer
    /// with them; one that sees the head only once complete (kie-async) cannot, and this
    /// text is true for both.
    AnswerHead {
        /// The idle limit.
        limit: Duration,
    },
    /// The answer was not complete `limit` after the request's last byte
    /// ([`Timeouts::answer`]).
    Answer {
        /// The answer limit.
        limit: Duration,
    },
    /// The body moved slower than the low-speed rule allows ([`Timeouts::low_speed`]).
    LowSpeed {
        /// The rule.
        limit: LowSpeed,
    },
    /// A download's body moved slower than the low-speed rule allows
    /// ([`Timeouts::low_speed`]).
    DownloadLowSpeed {
        /// The rule.
        limit: LowSpeed,
    },
    /// One attempt took `limit` ([`Timeouts::overall`]).
    Attempt {
        /// The per-attempt limit.
        limit: Duration,
    },
    /// The whole small call took `limit` ([`Timeouts::small_call`]).
    SmallCall {
        /// The small-call limit.
        limit: Duration,
    },
    /// The caller's outer deadline passed (a wait for a task bounds every call it makes).
    Deadline,
}

impl fmt::Display for TimeoutReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeoutReason::Idle { limit } => {
                write!(
                    f,
                    "nothing was sent or received for {limit:?} (read timeout)"
                )
            }
            TimeoutReason::AnswerHead { limit } => write!(
                f,
                "the answer's status line and headers were not complete {limit:?} after the request was sent (read timeout)"
            ),
            TimeoutReason::Answer { limit } => write!(
                f,
                "the answer was not complete {limit:?} after the request was sent (answer timeout)"
            ),
            TimeoutReason::LowSpeed { limit } => write!(
                f,
                "the upload moved fewer than {} bytes in {:?} (low-speed limit)",
                limit.bytes, limit.window
            ),
            TimeoutReason::DownloadLowSpeed { limit } => write!(
                f,
                "the download moved fewer than {} bytes in {:?} (low-speed limit)",
                limit.bytes, limit.window
            ),
            TimeoutReason::Attempt { limit } => {
                write!(
                    f,
                    "the request took longer than {limit:?} (overall timeout)"
                )
            }
            TimeoutReason::SmallCall { limit } => write!(
                f,
                "the call, retries included, took longer than {limit:?} (small-call timeout)"
            ),
            TimeoutReason::Deadline => f.write_str("the caller's deadline passed"),
        }
    }
}

impl std::error::Error for TimeoutReason {}

/// The time budget of one call: the idle, answer, low-speed, per-attempt and small-call
/// limits of [`Timeouts`], fed `now` and the bytes moved by the driver.
///
/// A driver makes one per call, calls [`start_attempt`](Self::start_attempt) before each
/// attempt, [`moved`](Self::moved) whenever bytes go out or come in,
/// [`request_sent`](Self::request_sent) after the request's last byte, and waits at most
/// until [`deadline`](Self::deadline) for anything to happen; [`check`](Self::check) says
/// whether to give up and why. Before sleeping for a retry it asks
/// [`may_wait`](Self::may_wait).
#[derive(Debug, Clone)]
pub struct CallBudget {
    timeouts: Timeouts,
    kind: CallKind,
    call_start: Instant,
    attempt_start: Instant,
    last_moved: Instant,
    request_sent: Option<Instant>,
    head_received: bool,
    /// The current low-speed window: its start (set by the first byte moved) and the bytes
    /// moved in it.
    window: Option<(Instant, u64)>,
    /// The caller's outer deadline.
    outer: Option<Instant>,
}

impl CallBudget {
    /// The budget of a call of `kind` under `timeouts`, starting at `now` (the first
    /// attempt starts then too).
    pub fn new(timeouts: &Timeouts, kind: CallKind, now: Instant) -> Self {
        Self {
            timeouts: *timeouts,
            kind,
            call_start: now,
            attempt_start: now,
            last_moved: now,
            request_sent: None,
            head_received: false,
            window: None,
            outer: None,
        }
    }

    /// The same budget under the caller's outer `deadline` as well: an attempt under way is
    /// cut at it ([`TimeoutReason::Deadline`]) and no wait may end past it.
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.outer = deadline;
        self
    }

    /// [`TimeoutReason::Deadline`] when the outer deadline has passed at `now`, or a small
    /// call's limit ([`TimeoutReason::SmallCall`]): no attempt may start then.
    pub fn deadline_passed(&self, now: Instant) -> Option<TimeoutReason> {
        if self.outer.is_some_and(|deadline| now >= deadline) {
            return Some(TimeoutReason::Deadline);
        }
        let limit = self.small_call_limit()?;
        let end = self.call_start.checked_add(limit)?;
        (now >= end).then_some(TimeoutReason::SmallCall { limit })
    }

    fn small_call_limit(&self) -> Option<Duration> {
        (self.kind == CallKind::Small)
            .then_some(self.timeouts.small_call)
            .flatten()
    }

    /// A new attempt starts at `now`: the per-attempt rules start again; the small-call
    /// limit keeps counting from the call's start.
    pub fn start_attempt(&mut self, now: Instant) {
        *self = Self {
            call_start: self.call_start,
            outer: self.outer,
            ..Self::new(&self.timeouts, self.kind, now)
        };
    }

    /// `bytes` moved (sent or received) at `now`.
    pub fn moved(&mut self, now: Instant, bytes: u64) {
        if bytes == 0 {
            return;
        }
        self.last_moved = self.last_moved.max(now);
        if !self.body_moving() {
            return;
        }
        let Some(rule) = self.low_speed() else {
            return;
        };
        let (start, moved) = self.window.get_or_insert((now, 0));
        // Roll over the windows that ended with enough bytes; a window that ended short
        // stays, so `check` reports it whatever arrives later. (A window past the end of
        // time never ends.)
        while let Some(end) = start.checked_add(rule.window) {
            if now < end {
                *moved = moved.saturating_add(bytes);
                return;
            }
            if *moved < rule.bytes {
                return;
            }
            *start = end;
            *moved = 0;
        }
        *moved = moved.saturating_add(bytes);
    }

    /// The request's last byte was sent at `now`: the answer limit starts; the low-speed
    /// rule (for request bodies) ends.
    pub fn request_sent(&mut self, now: Instant) {
        self.request_sent.get_or_insert(now);
        if self.kind != CallKind::Download {
            self.window = None;
        }
    }

    /// The answer's status line and headers are complete (at `now`, which counts as bytes
    /// moved). For a download, the low-speed rule starts with its body.
    pub fn answer_head_received(&mut self, now: Instant) {
        if !self.head_received && self.kind == CallKind::Download {
            self.window = None;
        }
        self.head_received = true;
        self.last_moved = self.last_moved.max(now);
    }

    /// Whether the bytes moving now are the streamed body the low-speed rule watches: the
    /// request's (before its last byte), or a download's answer (after its head).
    fn body_moving(&self) -> bool {
        match self.kind {
            CallKind::Small | CallKind::Upload => self.request_sent.is_none(),
            CallKind::Download => self.head_received,
        }
    }

    /// Whether the request's last byte was sent in this attempt.
    pub fn is_request_sent(&self) -> bool {
        self.request_sent.is_some()
    }

    /// Whether the final answer's status line and headers arrived in this attempt (interim
    /// 1xx answers do not count).
    pub fn is_answer_head_received(&self) -> bool {
        self.head_received
    }

    fn low_speed(&self) -> Option<LowSpeed> {
        self.timeouts
            .low_speed
            .filter(|rule| rule.bytes > 0 && !rule.window.is_zero())
    }

    /// The earliest moment at which the call gives up if nothing moves until then, and why;
    /// `None` when no rule applies. A driver waits for I/O at most until then.
    pub fn deadline(&self) -> Option<(Instant, TimeoutReason)> {
        let t = &self.timeouts;
        let small = self.small_call_limit();
        let candidates = [
            self.outer.map(|at| (at, TimeoutReason::Deadline)),
            small.and_then(|limit| {
                Some((
                    self.call_start.checked_add(limit)?,
                    TimeoutReason::SmallCall { limit },
                ))
            }),
            t.overall.and_then(|limit| {
                Some((
                    self.attempt_start.checked_add(limit)?,
                    TimeoutReason::Attempt { limit },
                ))
            }),
            self.request_sent
                .zip(t.answer)
                .filter(|_| !(self.kind == CallKind::Download && self.head_received))
                .and_then(|(sent, limit)| {
                    Some((sent.checked_add(limit)?, TimeoutReason::Answer { limit }))
                }),
            self.window
                .zip(self.low_speed())
                .and_then(|((start, moved), limit)| {
                    // A window with enough bytes can only fail at the end of the next one.
                    let windows = if moved >= limit.bytes { 2 } else { 1 };
                    let at = start.checked_add(limit.window.checked_mul(windows)?)?;
                    let reason = if self.kind == CallKind::Download {
                        TimeoutReason::DownloadLowSpeed { limit }
                    } else {
                        TimeoutReason::LowSpeed { limit }
                    };
                    Some((at, reason))
                }),
            t.idle.and_then(|limit| {
                let reason = if self.request_sent.is_some() && !self.head_received {
                    TimeoutReason::AnswerHead { limit }
                } else {
                    TimeoutReason::Idle { limit }
                };
                Some((self.last_moved.checked_add(limit)?, reason))
            }),
        ];
        candidates.into_iter().flatten().min_by_key(|(at, _)| *at)
    }

    /// `Err(reason)` once `now` has reached the [`deadline`](Self::deadline).
    pub fn check(&self, now: Instant) -> Result<(), TimeoutReason> {
        match self.deadline() {
            Some((at, reason)) if now >= at => Err(reason),
            _ => Ok(()),
        }
    }

    /// How long a driver may block waiting for I/O from `now`: the time left until the
    /// deadline (zero once it passed), or `None` when no rule applies.
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        self.deadline()
            .map(|(at, _)| at.saturating_duration_since(now))
    }

    /// Whether a retry may sleep `wait` from `now`: false when the small-call limit or the
    /// outer deadline would pass first (the call then ends with the failure it has).
    pub fn may_wait(&self, now: Instant, wait: Duration) -> bool {
        let Some(ready) = now.checked_add(wait) else {
            return self.outer.is_none() && self.small_call_limit().is_none();
        };
        let small_end = self
            .small_call_limit()
            .and_then(|limit| self.call_start.checked_add(limit));
        // A limit past the end of time is no limit.
        small_end.is_none_or(|end| ready < end) && self.outer.is_none_or(|end| ready < end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn at(start: Instant, secs: u64) -> Instant {
        start + s(secs)
    }

    #[test]
    fn no_rules_no_deadline() {
        let now = Instant::now();
        let budget = CallBudget::new(&Timeouts::NONE, CallKind::Small, now);
        assert_eq!(budget.deadline(), None);
        assert_eq!(budget.check(at(now, 1_000_000)), Ok(()));
        assert!(budget.may_wait(now, s(1_000_000)));
    }

    #[test]
    fn defaults_bound_every_call_kind() {
        let now = Instant::now();
        for kind in [CallKind::Small, CallKind::Upload] {
            let budget = CallBudget::new(&Timeouts::DEFAULT, kind, now);
            assert!(budget.deadline().is_some(), "{kind:?}");
        }
    }

    #[test]
    fn idle_restarts_on_any_byte() {
        let t0 = Instant::now();
        let timeouts = Timeouts {
            idle: Some(s(10)),
            ..Timeouts::NONE
        };
        let mut budget = CallBudget::new(&timeouts, CallKind::Upload, t0);
        for second in 1..100 {
            budget.moved(at(t0, second), 1);
            assert_eq!(budget.check(at(t0, second)), Ok(()));
        }
        budget.request_sent(at(t0, 99));
        budget.moved(at(t0, 105), 1); // a byte of the answer's head
        assert_eq!(budget.check(at(t0, 114)), Ok(()));
        assert_eq!(
            budget.check(at(t0, 115)),
            Err(TimeoutReason::AnswerHead { limit: s(10) })
        );
        budget.answer_head_received(at(t0, 110));
        budget.moved(at(t0, 112), 1); // a byte of the answer's body
        assert_eq!(budget.check(at(t0, 121)), Ok(()));
        assert_eq!(
            budget.check(at(t0, 122)),
            Err(TimeoutReason::Idle { limit: s(10) })
        );
    }

    #[test]
    fn answer_limit_starts_with_the_last_request_byte() {
        let t0 = Instant::now();
        let timeouts = Timeouts {
            idle: Some(s(10)),
            answer: Some(s(30)),
            ..Timeouts::NONE
        };
        let mut budget = CallBudget::new(&timeouts, CallKind::Upload, t0);
        budget.request_sent(at(t0, 5));
        // A drip of one byte every 5 s keeps idle quiet, not the answer limit.
        for second in (10..35).step_by(5) {
            budget.moved(at(t0, second), 1);
            assert_eq!(budget.check(at(t0, second)), Ok(()), "{second}");
        }
        assert_eq!(
            budget.deadline(),
            Some((at(t0, 35), TimeoutReason::Answer { limit: s(30) }))
        );
        assert_eq!(
            budget.check(at(t0, 35)),
            Err(TimeoutReason::Answer { limit: s(30) })
        );
    }

    #[test]
    fn low_speed_cuts_a_drip_not_a_slow_upload() {
        let t0 = Instant::now();
        let rule = LowSpeed {
            bytes: 1000,
            window: s(10),
        };
        let timeouts = Timeouts {
            idle: Some(s(60)),
            low_speed: Some(rule),
            ..Timeouts::NONE
        };
        // 100 B/s, exactly the limit, for ten hours: never cut.
        let mut slow = CallBudget::new(&timeouts, CallKind::Upload, t0);
        for second in 0..36_000 {
            slow.moved(at(t0, second), 100);
            assert_eq!(slow.check(at(t0, second)), Ok(()), "{second}");
        }
        // 99 B/s: cut at the end of the first window.
        let mut drip = CallBudget::new(&timeouts, CallKind::Upload, t0);
        for second in 0..10 {
            drip.moved(at(t0, second), 99);
            assert_eq!(drip.check(at(t0, second)), Ok(()));
        }
        assert_eq!(
            drip.deadline(),
            Some((at(t0, 10), TimeoutReason::LowSpeed { limit: rule }))
        );
        // A burst after the window ended does not undo it.
        drip.moved(at(t0, 11), 1_000_000);
        assert_eq!(
            drip.check(at(t0, 11)),
            Err(TimeoutReason::LowSpeed { limit: rule })
        );
        // A fast start then a stall: cut at the end of the next window, before idle.
        let mut stall = CallBudget::new(&timeouts, CallKind::Upload, t0);
        stall.moved(t0, 4 << 20);
        assert_eq!(stall.check(at(t0, 19)), Ok(()));
        assert_eq!(
            stall.check(at(t0, 20)),
            Err(TimeoutReason::LowSpeed { limit: rule })
        );
        // The answer phase is not under the rule.
        let mut answered = CallBudget::new(&timeouts, CallKind::Upload, t0);
        answered.moved(t0, 10);
        answered.request_sent(at(t0, 1));
        assert_eq!(answered.check(at(t0, 59)), Ok(()));
        assert_eq!(
            answered.check(at(t0, 61)),
            Err(TimeoutReason::AnswerHead { limit: s(60) })
        );
    }

    #[test]
    fn downloads_are_cut_by_a_stalled_answer_body_not_a_long_one() {
        let t0 = Instant::now();
        let rule = LowSpeed {
            bytes: 1000,
            window: s(10),
        };
        let timeouts = Timeouts {
            idle: Some(s(60)),
            answer: Some(s(30)),
            low_speed: Some(rule),
            ..Timeouts::NONE
        };
        let mut budget = CallBudget::new(&timeouts, CallKind::Download, t0);
        budget.request_sent(t0);
        // The wait for the head is the answer limit's.
        assert_eq!(
            budget.deadline(),
            Some((at(t0, 30), TimeoutReason::Answer { limit: s(30) }))
        );
        budget.answer_head_received(at(t0, 1));
        // A body at 100 B/s for an hour is never cut (the answer limit is off once the
        // head is in).
        for second in 1..3600 {
            budget.moved(at(t0, second), 100);
            assert_eq!(budget.check(at(t0, second)), Ok(()), "{second}");
        }
        // Then it drips: the low-speed rule ends it.
        budget.moved(at(t0, 3600), 10);
        assert_eq!(
            budget.check(at(t0, 3610)),
            Err(TimeoutReason::DownloadLowSpeed { limit: rule })
        );
    }

    #[test]
    fn small_call_limit_spans_attempts_and_waits() {
        let t0 = Instant::now();
        let timeouts = Timeouts {
            small_call: Some(s(90)),
            overall: Some(s(60)),
            ..Timeouts::NONE
        };
        let mut budget = CallBudget::new(&timeouts, CallKind::Small, t0);
        assert_eq!(
            budget.deadline(),
            Some((at(t0, 60), TimeoutReason::Attempt { limit: s(60) }))
        );
        assert!(budget.may_wait(at(t0, 60), s(29)));
        assert!(!budget.may_wait(at(t0, 60), s(30)));
        budget.start_attempt(at(t0, 61));
        assert_eq!(
            budget.deadline(),
            Some((at(t0, 90), TimeoutReason::SmallCall { limit: s(90) }))
        );
        // An upload is not a small call.
        let upload = CallBudget::new(&timeouts, CallKind::Upload, t0);
        assert!(upload.may_wait(at(t0, 1000), s(1000)));
        assert_eq!(
            upload.deadline(),
            Some((at(t0, 60), TimeoutReason::Attempt { limit: s(60) }))
        );
    }

    #[test]
    fn huge_limits_do_not_overflow() {
        let t0 = Instant::now();
        let timeouts = Timeouts {
            connect: Some(Duration::MAX),
            overall: Some(Duration::MAX),
            idle: Some(Duration::MAX),
            answer: Some(Duration::MAX),
            low_speed: Some(LowSpeed {
                bytes: u64::MAX,
                window: Duration::MAX,
            }),
            small_call: Some(Duration::MAX),
        };
        let mut budget = CallBudget::new(&timeouts, CallKind::Small, t0);
        budget.moved(t0, u64::MAX);
        budget.moved(t0, u64::MAX);
        budget.request_sent(t0);
        assert_eq!(budget.deadline(), None);
        assert_eq!(budget.check(at(t0, 1 << 40)), Ok(()));
        assert!(budget.may_wait(t0, s(1 << 40)));
    }

    #[test]
    fn reasons_name_rule_and_setting() {
        assert_eq!(
            TimeoutReason::AnswerHead { limit: s(5) }.to_string(),
            "the answer's status line and headers were not complete 5s after the request was sent (read timeout)"
        );
        assert_eq!(
            TimeoutReason::Idle { limit: s(60) }.to_string(),
            "nothing was sent or received for 60s (read timeout)"
        );
        assert_eq!(
            TimeoutReason::LowSpeed {
                limit: DEFAULT_LOW_SPEED
            }
            .to_string(),
            "the upload moved fewer than 16384 bytes in 30s (low-speed limit)"
        );
        assert_eq!(
            TimeoutReason::SmallCall { limit: s(90) }.to_string(),
            "the call, retries included, took longer than 90s (small-call timeout)"
        );
    }
}
