//! How to wait for a task, decided without clocks or randomness of its own (like
//! [`RetryPolicy`](crate::RetryPolicy)): the driver polls, hands each answer to the policy
//! with the time and a random number, and sleeps for what it says.

use std::time::{Duration, Instant};

use super::{TaskRef, TaskStatus, TaskView};
use crate::api_error::ErrorKind;
use crate::error::Error;

/// The poll policy: exponential spacing from `first_delay` by `factor` up to `max_delay`,
/// jittered by ±`jitter`, never closer than `min_gap`, within an overall `deadline`; a task
/// not visible yet (422 "recordInfo is null" right after its create) is tolerated for
/// `not_visible_grace`, a status word nobody documented for `unknown_grace`.
///
/// Defaults: 2 s, ×1.5, 15 s, ±20 %, 1 s, 15 minutes (the docs' advice; video callers raise
/// it, `None` waits forever), 30 s, 5 minutes.
///
/// ```
/// use std::time::{Duration, Instant};
/// use kie_proto::task::{PollDecision, PollPolicy, TaskRef, TaskView};
/// let policy = PollPolicy::default().with_jitter(0.0);
/// let t0 = Instant::now();
/// let task = TaskRef::market("t")?;
/// let mut state = policy.start(task, t0);
/// // A running task: wait 2 s, then 3 s, then 4.5 s …
/// let running = kie_proto::task::TaskStatus::Running { stage: "generating".into(), progress: None };
/// assert_eq!(policy.on_status(&mut state, &running, t0, 0.5), PollDecision::PollAfter(Duration::from_secs(2)));
/// assert_eq!(policy.on_status(&mut state, &running, t0, 0.5), PollDecision::PollAfter(Duration::from_secs(3)));
/// # Ok::<(), kie_proto::InvalidInput>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollPolicy {
    first_delay: Duration,
    factor: f64,
    max_delay: Duration,
    jitter: f64,
    min_gap: Duration,
    deadline: Option<Duration>,
    not_visible_grace: Duration,
    unknown_grace: Option<Duration>,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            first_delay: Duration::from_secs(2),
            factor: 1.5,
            max_delay: Duration::from_secs(15),
            jitter: 0.2,
            min_gap: Duration::from_secs(1),
            deadline: Some(Duration::from_secs(15 * 60)),
            not_visible_grace: Duration::from_secs(30),
            unknown_grace: Some(Duration::from_secs(5 * 60)),
        }
    }
}

impl PollPolicy {
    /// The first wait between polls.
    pub fn with_first_delay(mut self, delay: Duration) -> Self {
        self.first_delay = delay;
        self
    }

    /// The first wait between polls (also the pause before the first poll of a task
    /// created a moment ago: [`WaitOptions::just_created`](super::WaitOptions::just_created)).
    pub fn first_delay(&self) -> Duration {
        self.first_delay
    }
    /// The growth of the wait per poll (at least 1).
    pub fn with_factor(mut self, factor: f64) -> Self {
        self.factor = if factor.is_finite() {
            factor.max(1.0)
        } else {
            1.0
        };
        self
    }
    /// The longest wait between polls.
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }
    /// The jitter, a fraction of the wait (clamped to 0–0.5, so a wait is never less than
    /// half its base).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 0.5)
        };
        self
    }
    /// The shortest wait between polls (the service allows about 10 polls a second per task).
    pub fn with_min_gap(mut self, gap: Duration) -> Self {
        self.min_gap = gap;
        self
    }
    /// The overall deadline from the start of the wait; `None` waits forever.
    pub fn with_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }
    /// How long a task may stay not visible (422 "recordInfo is null") before it counts as
    /// not found.
    pub fn with_not_visible_grace(mut self, grace: Duration) -> Self {
        self.not_visible_grace = grace;
        self
    }
    /// How long an undocumented status word is tolerated; `None` forever (within the
    /// deadline).
    pub fn with_unknown_grace(mut self, grace: Option<Duration>) -> Self {
        self.unknown_grace = grace;
        self
    }

    /// The deadline from the start of the wait, if any.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// The state of a wait for `task` starting at `now` (poll at once).
    pub fn start(&self, task: TaskRef, now: Instant) -> PollState {
        PollState {
            task,
            started: now,
            deadline: self.deadline.and_then(|d| now.checked_add(d)),
            polls: 0,
            not_visible_since: None,
            unknown_since: None,
            last_status: None,
            last_error: None,
        }
    }

    /// The decision after a poll answered `view` at `now`.
    pub fn on_view(
        &self,
        state: &mut PollState,
        view: &TaskView,
        now: Instant,
        random: f64,
    ) -> PollDecision {
        if view.status.is_terminal() {
            return PollDecision::Done(Box::new(view.clone()));
        }
        self.on_status(state, &view.status, now, random)
    }

    /// The decision after a poll answered a task that is not finished, with `status`.
    pub fn on_status(
        &self,
        state: &mut PollState,
        status: &TaskStatus,
        now: Instant,
        random: f64,
    ) -> PollDecision {
        state.not_visible_since = None;
        state.last_error = None;
        state.last_status = Some(status.clone());
        if let TaskStatus::Unknown(word) = status {
            let since = *state.unknown_since.get_or_insert(now);
            if self
                .unknown_grace
                .is_some_and(|grace| now.saturating_duration_since(since) >= grace)
            {
                return PollDecision::GiveUp(GiveUp::UnknownStatus {
                    task: state.task.clone(),
                    word: word.clone(),
                });
            }
        } else {
            state.unknown_since = None;
        }
        self.next(state, now, random)
    }

    /// The decision after a poll failed with `error` (after the poll's own retries). A task
    /// not visible yet is waited for within the grace; a failure a later poll may get past
    /// (the network, a 5xx, a rate limit) is polled again within the deadline and named if
    /// the deadline ends the wait; anything else ends the wait with it.
    pub fn on_error(
        &self,
        state: &mut PollState,
        error: Error,
        now: Instant,
        random: f64,
    ) -> PollDecision {
        let api_kind = error.api_error().map(|e| e.kind);
        if api_kind == Some(ErrorKind::TaskNotVisible) {
            let since = *state.not_visible_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= self.not_visible_grace {
                return PollDecision::GiveUp(GiveUp::NotFound {
                    task: state.task.clone(),
                });
            }
            return self.next(state, now, random);
        }
        let passing = match &error {
            Error::Transport { .. } => true,
            Error::Api { error, .. } => error.is_retryable(),
            _ => false,
        };
        if !passing {
            return PollDecision::GiveUp(GiveUp::Failed(Box::new(error)));
        }
        // A poll that made no attempt (the wait's own deadline left its call no room) got
        // no answer to report: the last one that was asked stays the news.
        if error.attempts() != Some(0) {
            state.last_error = Some(error.to_string());
        }
        self.next(state, now, random)
    }

    /// The next wait, or the end when the deadline leaves no room for another poll (no
    /// poll runs closer than the minimum gap, none at or past the deadline).
    fn next(&self, state: &mut PollState, now: Instant, random: f64) -> PollDecision {
        let gap = self.min_gap.max(FLOOR);
        let remaining = state
            .deadline
            .map(|deadline| deadline.saturating_duration_since(now));
        if remaining.is_some_and(|remaining| remaining <= gap) {
            return PollDecision::GiveUp(self.deadline_reached(state, now));
        }
        let exponent = i32::try_from(state.polls).unwrap_or(i32::MAX).min(64);
        let base = self.first_delay.as_secs_f64() * self.factor.powi(exponent);
        let base = base.min(self.max_delay.as_secs_f64());
        let random = if random.is_nan() {
            0.5
        } else {
            random.clamp(0.0, 1.0)
        };
        let jittered = base * (1.0 - self.jitter + 2.0 * self.jitter * random);
        let mut wait = Duration::try_from_secs_f64(jittered)
            .unwrap_or(self.max_delay)
            .max(gap);
        if let Some(remaining) = remaining {
            // The last poll runs before the deadline, so its call is not refused for it.
            wait = wait.min((remaining * 9 / 10).max(gap));
        }
        state.polls = state.polls.saturating_add(1);
        PollDecision::PollAfter(wait)
    }

    fn deadline_reached(&self, state: &PollState, now: Instant) -> GiveUp {
        GiveUp::Deadline {
            task: state.task.clone(),
            limit: self.deadline.unwrap_or_default(),
            waited: now.saturating_duration_since(state.started),
            last_status: state.last_status.clone(),
            last_error: state.last_error.clone(),
        }
    }
}

/// The shortest wait whatever the settings, so a wait always moves towards its deadline.
const FLOOR: Duration = Duration::from_millis(10);

/// The state of one wait.
#[derive(Debug, Clone)]
pub struct PollState {
    task: TaskRef,
    started: Instant,
    deadline: Option<Instant>,
    polls: u32,
    not_visible_since: Option<Instant>,
    unknown_since: Option<Instant>,
    last_status: Option<TaskStatus>,
    last_error: Option<String>,
}

impl PollState {
    /// The task waited for.
    pub fn task(&self) -> &TaskRef {
        &self.task
    }

    /// When the wait started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The instant past which no poll runs, if any: the outer deadline of every poll's call.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

/// What to do after a poll.
#[derive(Debug, PartialEq)]
#[non_exhaustive]
pub enum PollDecision {
    /// Sleep this long, then poll again.
    PollAfter(Duration),
    /// The task finished (succeeded or failed): its view.
    Done(Box<TaskView>),
    /// Stop waiting.
    GiveUp(GiveUp),
}

/// Why a wait stopped without the task's outcome.
#[derive(Debug)]
#[non_exhaustive]
pub enum GiveUp {
    /// The deadline came. The task may still finish: query it again.
    Deadline {
        /// The task.
        task: TaskRef,
        /// The deadline, from the start of the wait.
        limit: Duration,
        /// How long the wait lasted.
        waited: Duration,
        /// The last status seen, if any.
        last_status: Option<TaskStatus>,
        /// The last failure of a poll, when the last poll failed.
        last_error: Option<String>,
    },
    /// The task stayed not visible for the whole grace: the service does not know it.
    NotFound {
        /// The task.
        task: TaskRef,
    },
    /// An undocumented status word lasted the whole grace.
    UnknownStatus {
        /// The task.
        task: TaskRef,
        /// The word.
        word: String,
    },
    /// A poll failed in a way another poll does not get past (401, 402, 404, …).
    Failed(Box<Error>),
}

impl PartialEq for GiveUp {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (GiveUp::Deadline { task: a, .. }, GiveUp::Deadline { task: b, .. })
            | (GiveUp::NotFound { task: a }, GiveUp::NotFound { task: b }) => a == b,
            (
                GiveUp::UnknownStatus { task: a, word: x },
                GiveUp::UnknownStatus { task: b, word: y },
            ) => a == b && x == y,
            (GiveUp::Failed(a), GiveUp::Failed(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

/// A duration as people read it: `3 s`, `2.9 s`, `15 min`, `1 h 30 min`.
fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs >= 3600 {
        let minutes = (secs % 3600) / 60;
        return match minutes {
            0 => format!("{} h", secs / 3600),
            _ => format!("{} h {minutes} min", secs / 3600),
        };
    }
    if secs >= 60 && secs.is_multiple_of(60) {
        return format!("{} min", secs / 60);
    }
    let tenths = (duration.as_millis() + 50) / 100;
    if tenths.is_multiple_of(10) {
        format!("{} s", tenths / 10)
    } else {
        format!("{}.{} s", tenths / 10, tenths % 10)
    }
}

impl GiveUp {
    /// The error a driver reports: [`Error::TaskWait`] naming the task (it was not
    /// cancelled), or the poll's own failure.
    pub fn into_error(self) -> Error {
        match self {
            GiveUp::Deadline {
                task,
                limit,
                waited,
                last_status,
                last_error,
            } => {
                let status = match last_status {
                    Some(TaskStatus::Running { stage, .. }) => format!("last seen {stage}"),
                    Some(TaskStatus::Unknown(word)) => format!("last seen {word:?}"),
                    _ => "not seen yet".to_owned(),
                };
                let reason = match last_error {
                    Some(error) => format!(
                        "the wait's deadline of {} came after {} ({status}; the last poll got no answer: {error})",
                        seconds(limit),
                        seconds(waited)
                    ),
                    None => {
                        format!(
                            "the wait's deadline of {} came after {} ({status})",
                            seconds(limit),
                            seconds(waited)
                        )
                    }
                };
                Error::TaskWait {
                    task: task.to_string(),
                    reason,
                    may_finish: true,
                }
            }
            GiveUp::NotFound { task } => Error::TaskWait {
                task: task.to_string(),
                reason: "KIE.AI does not know the task (recordInfo stayed null)".to_owned(),
                may_finish: false,
            },
            GiveUp::UnknownStatus { task, word } => Error::TaskWait {
                task: task.to_string(),
                reason: format!("its status {word:?} is not documented and did not change"),
                may_finish: true,
            },
            GiveUp::Failed(error) => *error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn running() -> TaskStatus {
        TaskStatus::Running {
            stage: "generating".into(),
            progress: None,
        }
    }

    #[test]
    fn not_visible_is_tolerated_for_the_grace_then_not_found() {
        let policy = PollPolicy::default();
        let t0 = Instant::now();
        let mut state = policy.start(TaskRef::market("t").unwrap(), t0);
        let not_visible = || Error::Api {
            error: crate::ApiError::new(http::StatusCode::OK, ErrorKind::TaskNotVisible),
            attempts: 1,
        };
        assert!(matches!(
            policy.on_error(&mut state, not_visible(), t0, 0.5),
            PollDecision::PollAfter(_)
        ));
        let later = t0 + Duration::from_secs(29);
        assert!(matches!(
            policy.on_error(&mut state, not_visible(), later, 0.5),
            PollDecision::PollAfter(_)
        ));
        let end = t0 + Duration::from_secs(30);
        assert!(matches!(
            policy.on_error(&mut state, not_visible(), end, 0.5),
            PollDecision::GiveUp(GiveUp::NotFound { .. })
        ));
    }

    #[test]
    fn the_deadline_says_the_task_may_still_finish() {
        let policy = PollPolicy::default().with_deadline(Some(Duration::from_secs(10)));
        let t0 = Instant::now();
        let mut state = policy.start(TaskRef::market("abc").unwrap(), t0);
        let decision = policy.on_status(
            &mut state,
            &running(),
            t0 + Duration::from_millis(9_500),
            0.5,
        );
        let PollDecision::GiveUp(give_up) = decision else {
            panic!("{decision:?}")
        };
        let error = give_up.into_error();
        let text = error.to_string();
        assert!(
            text.contains("market:abc") && text.contains("may still finish"),
            "{text}"
        );
        assert!(!text.contains("failed"), "{text}");
        assert!(
            text.contains("the wait's deadline of 10 s came after 9.5 s (last seen generating)"),
            "{text}"
        );
    }

    #[test]
    fn durations_read_as_people_say_them() {
        for (millis, text) in [
            (0, "0 s"),
            (2_865, "2.9 s"),
            (3_000, "3 s"),
            (59_960, "60 s"),
            (90_000, "90 s"),
            (900_000, "15 min"),
            (5_400_000, "1 h 30 min"),
            (7_200_000, "2 h"),
        ] {
            assert_eq!(seconds(Duration::from_millis(millis)), text, "{millis}");
        }
    }

    #[test]
    fn fatal_errors_end_the_wait_and_passing_ones_do_not() {
        let policy = PollPolicy::default();
        let t0 = Instant::now();
        let mut state = policy.start(TaskRef::market("t").unwrap(), t0);
        let unauthorized = Error::Api {
            error: crate::ApiError::new(http::StatusCode::OK, ErrorKind::Unauthorized),
            attempts: 1,
        };
        assert!(matches!(
            policy.on_error(&mut state, unauthorized, t0, 0.5),
            PollDecision::GiveUp(GiveUp::Failed(_))
        ));
        let lost = Error::Transport {
            kind: crate::TransportFailure::ConnectionLost,
            attempts: 4,
            source: "reset".into(),
        };
        assert!(matches!(
            policy.on_error(&mut state, lost, t0, 0.5),
            PollDecision::PollAfter(_)
        ));
        // A poll the deadline kept from being sent is not "the last poll got no answer".
        let policy = policy.with_deadline(Some(Duration::from_secs(2)));
        let mut cut = policy.start(TaskRef::market("t").unwrap(), t0);
        let unsent = Error::Transport {
            kind: crate::TransportFailure::Timeout,
            attempts: 0,
            source: "no room left".into(),
        };
        let PollDecision::GiveUp(end) =
            policy.on_error(&mut cut, unsent, t0 + Duration::from_millis(1995), 0.5)
        else {
            panic!("the deadline has come");
        };
        assert_eq!(
            end.into_error().to_string(),
            "stopped waiting for task market:t: the wait's deadline of 2 s came after 2 s (not seen yet); the task may still finish: query it again with its id"
        );
        let unknown = TaskStatus::Unknown("paused".into());
        assert!(matches!(
            policy.on_status(&mut state, &unknown, t0, 0.5),
            PollDecision::PollAfter(_)
        ));
        let end = t0 + Duration::from_secs(300);
        assert!(matches!(
            policy.on_status(&mut state, &unknown, end, 0.5),
            PollDecision::GiveUp(GiveUp::UnknownStatus { .. })
        ));
    }

    proptest! {
        /// Whatever the answers, the times and the random numbers: a wait never polls
        /// closer than the minimum gap (but at the deadline), never past the deadline, and
        /// always ends.
        #[test]
        fn waits_are_spaced_bounded_and_end(
            steps in proptest::collection::vec((0u8..4, 0.0f64..1.0), 1..400),
            deadline_s in 1u64..3600,
            gap_ms in 0u64..5000,
            jitter in 0.0f64..0.5,
        ) {
            let policy = PollPolicy::default()
                .with_deadline(Some(Duration::from_secs(deadline_s)))
                .with_min_gap(Duration::from_millis(gap_ms))
                .with_jitter(jitter);
            let t0 = Instant::now();
            let deadline = t0 + Duration::from_secs(deadline_s);
            let mut state = policy.start(TaskRef::market("t").unwrap(), t0);
            let mut now = t0;
            let mut ended = false;
            for _ in 0..100_000 {
                let (what, random) = steps[state.polls as usize % steps.len()];
                let decision = match what {
                    0 => policy.on_status(&mut state, &running(), now, random),
                    1 => policy.on_status(&mut state, &TaskStatus::Unknown("x".into()), now, random),
                    2 => policy.on_error(&mut state, Error::Transport {
                        kind: crate::TransportFailure::Timeout, attempts: 1, source: "t".into(),
                    }, now, random),
                    _ => policy.on_error(&mut state, Error::Api {
                        error: crate::ApiError::new(http::StatusCode::OK, ErrorKind::TaskNotVisible),
                        attempts: 1,
                    }, now, random),
                };
                match decision {
                    PollDecision::PollAfter(wait) => {
                        prop_assert!(wait >= policy.min_gap.max(FLOOR), "{wait:?}");
                        now += wait;
                        prop_assert!(now < deadline);
                    }
                    PollDecision::Done(_) => prop_assert!(false, "nothing terminal was seen"),
                    PollDecision::GiveUp(_) => { ended = true; break; }
                }
            }
            prop_assert!(ended);
        }
    }
}
