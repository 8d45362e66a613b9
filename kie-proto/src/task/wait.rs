//! What a wait for a task is told: its [`PollPolicy`], a progress callback, and (for a
//! blocking client) a cancel flag. The same type in both drivers.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Family, PollPolicy, TaskRef, TaskStatus};

/// Where a waited-for task is, as a progress callback sees it: on every change of its
/// status or progress.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WaitProgress {
    /// The task.
    pub task: TaskRef,
    /// Its status.
    pub status: TaskStatus,
    /// How long the wait has lasted.
    pub elapsed: Duration,
}

/// A progress callback of a wait.
pub type WaitCallback = Arc<dyn Fn(&WaitProgress) + Send + Sync>;

/// How to wait for a task.
///
/// ```
/// use std::time::Duration;
/// use kie_proto::task::{PollPolicy, WaitOptions};
/// let options = WaitOptions::new()
///     .policy(PollPolicy::default().with_deadline(Some(Duration::from_secs(40 * 60))))
///     .on_progress(|p| eprintln!("{}: {:?} after {:?}", p.task, p.status, p.elapsed));
/// options.cancel_flag().cancel(); // from another thread: stop waiting (the task goes on)
/// assert!(options.cancel_flag().is_cancelled());
/// ```
#[derive(Clone, Default)]
pub struct WaitOptions {
    policy: Option<PollPolicy>,
    progress: Option<WaitCallback>,
    cancel: CancelFlag,
    just_created: bool,
}

impl fmt::Debug for WaitOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitOptions")
            .field("policy", &self.policy)
            .field("progress", &self.progress.as_ref().map(|_| "<callback>"))
            .field("cancel", &self.cancel)
            .field("just_created", &self.just_created)
            .finish()
    }
}

impl WaitOptions {
    /// Each family's own policy ([`Family::poll_policy`]: Market every 2–15 s within 15
    /// minutes, Veo every 30 s within 30), no callback.
    pub fn new() -> Self {
        Self::default()
    }

    /// Poll by `policy`, whatever the task's family.
    pub fn policy(mut self, policy: PollPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Call `callback` on every change of the task's status or progress.
    pub fn on_progress(mut self, callback: impl Fn(&WaitProgress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(callback));
        self
    }

    /// The policy a task of `family` is waited for by: the one set, else the family's.
    pub fn policy_for(&self, family: Family) -> PollPolicy {
        self.policy.unwrap_or_else(|| family.poll_policy())
    }

    /// The callback, if any.
    pub fn progress(&self) -> Option<&WaitCallback> {
        self.progress.as_ref()
    }

    /// The flag that stops the wait (shared by clones of these options).
    pub fn cancel_flag(&self) -> &CancelFlag {
        &self.cancel
    }

    /// The task was created a moment ago: the first poll waits the policy's first delay
    /// instead of going at once (it would only see "recordInfo is null"). The drivers'
    /// `run` and `run_many` say so themselves.
    pub fn just_created(mut self) -> Self {
        self.just_created = true;
        self
    }

    /// How long a wait for a task of `family` pauses before its first poll: the policy's
    /// first delay for a task [`just_created`](Self::just_created), else nothing.
    pub fn first_pause(&self, family: Family) -> Duration {
        if self.just_created {
            self.policy_for(family).first_delay()
        } else {
            Duration::ZERO
        }
    }

    /// Calls the progress callback with `status` if it differs from `last` (the status
    /// last reported, updated here): a driver calls it after every poll.
    pub fn notify(
        &self,
        last: &mut Option<TaskStatus>,
        task: &TaskRef,
        status: &TaskStatus,
        elapsed: Duration,
    ) {
        if last.as_ref() == Some(status) {
            return;
        }
        *last = Some(status.clone());
        if let Some(callback) = &self.progress {
            callback(&WaitProgress {
                task: task.clone(),
                status: status.clone(),
                elapsed,
            });
        }
    }
}

/// A flag that stops a wait from another thread; the task is not cancelled (the service
/// has no cancel endpoint), only the waiting. An async wait also stops when its future is
/// dropped.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// Stop the wait.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the wait was stopped.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_created_a_moment_ago_is_first_polled_after_the_first_delay() {
        let options = WaitOptions::new();
        assert_eq!(options.first_pause(Family::Market), Duration::ZERO);
        let options = options.just_created();
        assert_eq!(options.first_pause(Family::Market), Duration::from_secs(2));
        assert_eq!(options.first_pause(Family::Veo), Duration::from_secs(30));
        let policy = PollPolicy::default().with_first_delay(Duration::from_millis(50));
        let options = WaitOptions::new().policy(policy).just_created();
        assert_eq!(options.first_pause(Family::Veo), Duration::from_millis(50));
        assert_eq!(options.policy_for(Family::Veo), policy, "a policy set wins");
    }
}
