//! Pacing creates: the service takes up to 20 new tasks per 10 s per account and rejects
//! the rest with a 429 ("rejected requests will not enter the queue"). A batch paced by a
//! [`CreateWindow`] is never refused for it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A sliding window of creates: at most `limit` in any `window`, plus 5 % of slack — the
/// service counts *arrivals*, and a create admitted exactly one window after the oldest
/// could arrive a little earlier than that one did. Time is an input.
///
/// ```
/// use std::time::{Duration, Instant};
/// use kie_proto::task::CreateWindow;
/// let mut window = CreateWindow::new(2, Duration::from_secs(10));
/// let t0 = Instant::now();
/// assert_eq!(window.admit(t0), Ok(()));
/// assert_eq!(window.admit(t0), Ok(()));
/// assert_eq!(window.admit(t0 + Duration::from_secs(4)), Err(Duration::from_millis(6_500)));
/// assert_eq!(window.admit(t0 + Duration::from_millis(10_500)), Ok(()));
/// ```
#[derive(Debug, Clone)]
pub struct CreateWindow {
    limit: usize,
    window: Duration,
    admitted: VecDeque<Instant>,
}

impl Default for CreateWindow {
    /// 20 creates per 10 s, the documented account limit.
    fn default() -> Self {
        CreateWindow::new(20, Duration::from_secs(10))
    }
}

impl CreateWindow {
    /// At most `limit` creates (at least 1) in any `window`.
    pub fn new(limit: usize, window: Duration) -> Self {
        CreateWindow {
            limit: limit.max(1),
            window,
            admitted: VecDeque::new(),
        }
    }

    /// A create may go at `now` (`Ok`, and it is counted), or after the wait in `Err`.
    pub fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        let span = self.span();
        while self
            .admitted
            .front()
            .is_some_and(|first| now.saturating_duration_since(*first) >= span)
        {
            self.admitted.pop_front();
        }
        if self.admitted.len() < self.limit {
            self.admitted.push_back(now);
            return Ok(());
        }
        let oldest = self.admitted.front().copied().unwrap_or(now);
        Err((oldest + span)
            .saturating_duration_since(now)
            .max(Duration::from_millis(1)))
    }

    /// The window with its slack.
    fn span(&self) -> Duration {
        self.window + self.window / 20
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// However the creates come, no window of `window` ever holds more than `limit`.
        #[test]
        fn never_more_than_the_limit_in_a_window(
            gaps in proptest::collection::vec(0u64..3000, 1..200),
            limit in 1usize..25,
        ) {
            let window = Duration::from_secs(10);
            let mut pacer = CreateWindow::new(limit, window);
            let t0 = Instant::now();
            let mut now = t0;
            let mut sent: Vec<Instant> = Vec::new();
            for gap in gaps {
                now += Duration::from_millis(gap);
                loop {
                    match pacer.admit(now) {
                        Ok(()) => { sent.push(now); break; }
                        Err(wait) => now += wait,
                    }
                }
            }
            for (i, at) in sent.iter().enumerate() {
                let in_window = sent[i..].iter().filter(|t| t.saturating_duration_since(*at) < window).count();
                prop_assert!(in_window <= limit);
            }
        }
    }
}
