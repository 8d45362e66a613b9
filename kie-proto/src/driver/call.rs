//! One call, as pure state: the retry policy, the time budget, the attempt count, the trace
//! and the progress of its content, answering the driver step by step. A driver's loop is
//! then four moves — start an attempt, send it, report how it ended, sleep or stop — and
//! every decision (retry or not, how long to wait, which error to report) is made here,
//! once for every driver.
//!
//! ```
//! use std::time::{Instant, SystemTime};
//! use kie_proto::driver::{Call, Moment, Next};
//! use kie_proto::{Api, ApiKey, GetCredits, Operation, RetryPolicy, Timeouts, TransportFailure};
//! use kie_proto::driver::AttemptFailure;
//!
//! let api = Api::new(ApiKey::new("sk-example")?);
//! let request = GetCredits.to_request(&api)?;
//! let start = Instant::now();
//! let moment = |at| Moment { at, wall: SystemTime::UNIX_EPOCH, random: 0.5 };
//! let mut call = Call::new(&request, RetryPolicy::default(), &Timeouts::DEFAULT, start)
//!     .idempotent(GetCredits.is_idempotent());
//!
//! // Attempt 1: the connection is refused. Retried after the policy's backoff.
//! let attempt = call.start_attempt(start)?;
//! assert_eq!(attempt.number, 1);
//! let refused = AttemptFailure::Transport { kind: TransportFailure::Connect, source: "refused".into() };
//! let wait = call.failed(refused, None, true, moment(start))?;
//!
//! // Attempt 2: an answer. Done.
//! call.start_attempt(start + wait)?;
//! let answer = http::Response::new(&br#"{"code":200,"msg":"success","data":42.5}"#[..]);
//! match call.answered(&GetCredits, answer, true, moment(start + wait))? {
//!     Next::Done(credits) => assert_eq!(credits, 42.5),
//!     Next::RetryAfter(_) => unreachable!("a success is final"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::{Duration, Instant, SystemTime};

use http::{Request, Response};

use crate::body::Body;
use crate::deadline::{CallBudget, CallKind, TimeoutReason, Timeouts};
use crate::error::Error;
use crate::failure::TransportFailure;
use crate::operation::Operation;
use crate::options::{ProgressCallback, ProgressReporter, RetryCause};
use crate::retry::{AttemptFailure, RetryDecision, RetryPolicy, Retryable as _};
use crate::trace::CallTrace;

/// The moment an attempt ended, as the driver read it: time and randomness are inputs.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    /// The monotonic clock (budgets, waits).
    pub at: Instant,
    /// The wall clock (a `Retry-After` date).
    pub wall: SystemTime,
    /// A random number, uniform in `[0, 1)` (the backoff's jitter).
    pub random: f64,
}

/// What a driver is given for one attempt.
#[derive(Debug)]
pub struct Attempt {
    /// The attempt's number, 1 for the first.
    pub number: u32,
    /// The attempt's time budget: the driver's I/O feeds it the bytes moved and waits at
    /// most until its deadline (see [`CallBudget`]).
    pub budget: CallBudget,
    /// The progress reporter of the attempt's content (the caller's callback, if any).
    pub progress: ProgressReporter,
}

/// What comes after an answer.
#[derive(Debug)]
#[must_use]
pub enum Next<T> {
    /// The call succeeded.
    Done(T),
    /// The answer was a retryable refusal: sleep this long, then start another attempt.
    RetryAfter(Duration),
}

/// One call to the service, from its first attempt to its outcome. See the module docs.
pub struct Call {
    retry: RetryPolicy,
    budget: CallBudget,
    attempt: u32,
    trace: CallTrace,
    progress: Option<ProgressCallback>,
    content_len: u64,
    idempotent: bool,
    /// Why the last attempt failed, for the next one's progress reports.
    retry_cause: Option<RetryCause>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("attempt", &self.attempt)
            .field("idempotent", &self.idempotent)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl Call {
    /// The call that sends `request` under `retry` and `timeouts`, starting at `now`.
    /// Idempotent, without progress reports and without an outer deadline unless told.
    pub fn new(
        request: &Request<Body>,
        retry: RetryPolicy,
        timeouts: &Timeouts,
        now: Instant,
    ) -> Call {
        let body = request.body();
        Call {
            retry,
            budget: CallBudget::new(timeouts, CallKind::of(body), now),
            attempt: 0,
            trace: CallTrace::start(request.uri(), body.len()),
            progress: None,
            content_len: match body {
                Body::Framed(framed) => framed.content_len(),
                Body::Empty | Body::Complete(_) => 0,
            },
            idempotent: true,
            retry_cause: None,
        }
    }

    /// The call that downloads a stored file with `request` (from
    /// [`download_request`](super::download_request)), under `retry` and `timeouts` as a
    /// [`CallKind::Download`], starting at `now`. A driver reports a failure with
    /// [`failed`](Self::failed) (a download can always be started again: it is a `GET`) and
    /// the end of the body with [`done`](Self::done).
    pub fn download<B>(
        request: &Request<B>,
        retry: RetryPolicy,
        timeouts: &Timeouts,
        now: Instant,
    ) -> Call {
        Call {
            retry,
            budget: CallBudget::new(timeouts, CallKind::Download, now),
            attempt: 0,
            trace: CallTrace::start(request.uri(), 0),
            progress: None,
            content_len: 0,
            idempotent: true,
            retry_cause: None,
        }
    }

    /// The download (or another exchange a driver judges itself) completed.
    pub fn done(&mut self) {
        self.trace.succeeded(self.attempt);
    }

    /// Reports the content's progress to `callback`.
    pub fn with_progress(mut self, callback: Option<ProgressCallback>) -> Call {
        self.progress = callback;
        self
    }

    /// The caller's outer deadline: no attempt starts and no retry sleeps past it, and an
    /// attempt under way is cut at it ([`TimeoutReason::Deadline`]). A wait for a task
    /// bounds every call it makes this way.
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Call {
        self.budget = self.budget.with_deadline(deadline);
        self
    }

    /// Whether the request may be sent twice ([`Operation::is_idempotent`]). A call that
    /// is not is retried only when the failure proves the request never reached the
    /// service ([`AttemptFailure::may_have_reached_service`]).
    pub fn idempotent(mut self, idempotent: bool) -> Call {
        self.idempotent = idempotent;
        self
    }

    /// Attempts started so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Starts the next attempt at `now`. Fails when the outer deadline has passed (then
    /// nothing more is sent).
    pub fn start_attempt(&mut self, now: Instant) -> Result<Attempt, Error> {
        if let Some(reason) = self.budget.deadline_passed(now) {
            let error = AttemptFailure::timed_out(reason).into_error(self.attempt);
            self.trace.failed(self.attempt, "deadline", &error);
            return Err(error);
        }
        self.attempt += 1;
        self.budget.start_attempt(now);
        self.trace.attempt(self.attempt);
        let mut progress = ProgressReporter::new(self.progress.clone(), self.content_len);
        progress.set_retry_cause(self.retry_cause);
        progress.start_attempt(self.attempt);
        Ok(Attempt {
            number: self.attempt,
            budget: self.budget.clone(),
            progress,
        })
    }

    /// The attempt got an answer: `Done` with the operation's output, `RetryAfter` a
    /// retryable refusal, or the final error. An interim status is a malformed answer
    /// ([`check_final_status`](super::check_final_status)); an output that contradicts
    /// what was sent ([`Operation::check_output`]) is final. `can_resend`: whether the
    /// content can be sent again.
    pub fn answered<O: Operation + ?Sized>(
        &mut self,
        operation: &O,
        answer: Response<&[u8]>,
        can_resend: bool,
        moment: Moment,
    ) -> Result<Next<O::Output>, Error> {
        let parsed = super::check_final_status(answer.status()).and_then(|()| {
            operation
                .parse_response(answer)
                .map_err(AttemptFailure::Api)
        });
        match parsed {
            Ok(output) => {
                if let Err(mismatch) = operation.check_output(&output) {
                    let error = Error::Integrity(mismatch);
                    self.trace.failed(self.attempt, "integrity", &error);
                    return Err(error);
                }
                self.trace.succeeded(self.attempt);
                Ok(Next::Done(output))
            }
            Err(failure) => self
                .failed(failure, None, can_resend, moment)
                .map(Next::RetryAfter),
        }
    }

    /// The attempt failed: `Ok(wait)` to sleep for `wait` and start another attempt, or the
    /// final error. `cut_by`: the budget rule that ended the attempt, if one did — it is the
    /// cause reported, whatever the transport said about the cut. `can_resend`: whether
    /// the content can be sent again.
    ///
    /// In order: the policy ([`RetryPolicy::decide`]) may give up; a call that is not
    /// idempotent gives up unless the request provably never reached the service; a wait
    /// past the small-call limit or the outer deadline is not slept, the failure is final
    /// as it is; content that cannot be sent again ends the call with
    /// [`Error::NotRewindable`].
    pub fn failed(
        &mut self,
        failure: AttemptFailure,
        cut_by: Option<TimeoutReason>,
        can_resend: bool,
        moment: Moment,
    ) -> Result<Duration, Error> {
        let failure = match (cut_by, failure) {
            (Some(reason), AttemptFailure::Transport { .. }) => AttemptFailure::timed_out(reason),
            (_, failure) => failure,
        };
        let reason = failure.reason();
        let retry_after = failure
            .retry_after()
            .map(|after| after.delay_from(moment.wall));
        let attempt = self.attempt;
        let wait = match self
            .retry
            .decide(attempt, &failure, moment.random, moment.wall)
        {
            RetryDecision::RetryAfter(wait)
                if (self.idempotent || !failure.may_have_reached_service())
                    && self.budget.may_wait(moment.at, wait) =>
            {
                wait
            }
            _ => {
                // A request that must not run twice says so when it may have done its work.
                let error = if !self.idempotent && failure.may_have_created() {
                    failure.into_maybe_created(attempt)
                } else {
                    failure.into_error(attempt)
                };
                self.trace.failed(attempt, &reason, &error);
                return Err(error);
            }
        };
        if !can_resend {
            let error = failure.into_not_rewindable(attempt);
            self.trace.failed(attempt, &reason, &error);
            return Err(error);
        }
        self.trace.retry(attempt, &reason, wait, retry_after);
        self.retry_cause = match &failure {
            AttemptFailure::Api(error) => Some(RetryCause::Status(error.status)),
            AttemptFailure::Transport { kind, .. } => Some(RetryCause::Transport(*kind)),
            AttemptFailure::Fatal(_) => None,
        };
        Ok(wait)
    }
}

impl Call {
    /// The attempt failed and nothing can be sent again, whatever the policy would say (a
    /// download whose writer already took bytes): the failure is final, as it is. `cut_by`
    /// as in [`failed`](Self::failed).
    pub fn give_up(&mut self, failure: AttemptFailure, cut_by: Option<TimeoutReason>) -> Error {
        let failure = match (cut_by, failure) {
            (Some(reason), AttemptFailure::Transport { .. }) => AttemptFailure::timed_out(reason),
            (_, failure) => failure,
        };
        let reason = failure.reason();
        let error = failure.into_error(self.attempt);
        self.trace.failed(self.attempt, &reason, &error);
        error
    }
}

impl AttemptFailure {
    /// The failure of an attempt a budget rule ended.
    pub fn timed_out(reason: TimeoutReason) -> AttemptFailure {
        AttemptFailure::Transport {
            kind: TransportFailure::Timeout,
            source: Box::new(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Api, ApiKey};
    use crate::api_error::{ApiError, ErrorKind, RetryAfter};
    use crate::common::GetCredits;

    fn moment(at: Instant) -> Moment {
        Moment {
            at,
            wall: SystemTime::UNIX_EPOCH,
            random: 0.5,
        }
    }

    fn call(idempotent: bool, timeouts: &Timeouts, now: Instant) -> Call {
        let request = GetCredits
            .to_request(&Api::new(ApiKey::new("sk-test").unwrap()))
            .unwrap();
        Call::new(&request, RetryPolicy::default(), timeouts, now).idempotent(idempotent)
    }

    fn transport(kind: TransportFailure) -> AttemptFailure {
        AttemptFailure::Transport {
            kind,
            source: "test".into(),
        }
    }

    fn refusal(kind: ErrorKind, status: u16) -> AttemptFailure {
        let mut error = ApiError::new(http::StatusCode::from_u16(status).unwrap(), kind);
        error.retry_after = Some(RetryAfter::Delay(Duration::from_secs(1)));
        AttemptFailure::Api(error)
    }

    #[test]
    fn progress_after_a_failed_attempt_says_why_it_failed() {
        let t0 = Instant::now();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let callback: ProgressCallback =
            std::sync::Arc::new(move |p: crate::Progress| record.lock().unwrap().push(p));
        let mut call = call(true, &Timeouts::NONE, t0).with_progress(Some(callback));
        for failure in [
            refusal(ErrorKind::Server, 503),
            transport(TransportFailure::ConnectionLost),
        ] {
            call.start_attempt(t0).unwrap().progress.complete();
            call.failed(failure, None, true, moment(t0)).unwrap();
        }
        call.start_attempt(t0).unwrap().progress.complete();
        let causes: Vec<(u32, Option<String>)> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|p| (p.attempt, p.retry_cause.map(|c| c.to_string())))
            .collect();
        assert_eq!(
            causes,
            [
                (1, None),
                (2, Some("HTTP 503".to_owned())),
                (3, Some(TransportFailure::ConnectionLost.summary())),
            ]
        );
    }

    #[test]
    fn idempotent_calls_retry_every_retryable_failure() {
        let t0 = Instant::now();
        for failure in [
            transport(TransportFailure::Timeout),
            transport(TransportFailure::ConnectionLost),
            transport(TransportFailure::Connect),
            refusal(ErrorKind::Server, 503),
        ] {
            let mut call = call(true, &Timeouts::NONE, t0);
            call.start_attempt(t0).unwrap();
            assert!(call.failed(failure, None, true, moment(t0)).is_ok());
        }
    }

    #[test]
    fn a_call_that_is_not_idempotent_retries_only_what_never_arrived() {
        let t0 = Instant::now();
        let never_arrived = [
            transport(TransportFailure::Connect),
            transport(TransportFailure::ConnectTimeout),
            transport(TransportFailure::ProxyUnreachable),
            refusal(ErrorKind::RateLimited, 429),
            refusal(ErrorKind::Maintenance, 455),
        ];
        for failure in never_arrived {
            let mut call = call(false, &Timeouts::NONE, t0);
            call.start_attempt(t0).unwrap();
            let what = failure.reason();
            assert!(
                call.failed(failure, None, true, moment(t0)).is_ok(),
                "{what}"
            );
        }
        let may_have_arrived = [
            transport(TransportFailure::Timeout),
            transport(TransportFailure::ConnectionLost),
            refusal(ErrorKind::Server, 500),
            refusal(ErrorKind::Server, 503),
        ];
        for failure in may_have_arrived {
            let mut call = call(false, &Timeouts::NONE, t0);
            call.start_attempt(t0).unwrap();
            let what = failure.reason();
            let error = call.failed(failure, None, true, moment(t0)).unwrap_err();
            assert_eq!(error.attempts(), Some(1), "{what}");
            assert!(
                matches!(error, Error::MaybeCreated { .. }),
                "{what}: {error:?}"
            );
            assert!(error.to_string().contains("the task may exist"), "{error}");
        }
        // A refusal of the request itself created nothing: reported as it is.
        let mut call = call(false, &Timeouts::NONE, t0);
        call.start_attempt(t0).unwrap();
        let error = call
            .failed(
                refusal(ErrorKind::InsufficientCredits, 402),
                None,
                true,
                moment(t0),
            )
            .unwrap_err();
        assert!(matches!(error, Error::Api { .. }), "{error:?}");
    }

    #[test]
    fn the_budget_rule_is_the_reported_cause() {
        let t0 = Instant::now();
        let mut call = call(true, &Timeouts::NONE, t0).idempotent(true);
        call.retry = RetryPolicy::never();
        call.start_attempt(t0).unwrap();
        let cut = TimeoutReason::Idle {
            limit: Duration::from_secs(3),
        };
        let error = call
            .failed(
                transport(TransportFailure::ConnectionLost),
                Some(cut),
                true,
                moment(t0),
            )
            .unwrap_err();
        let Error::Transport { kind, source, .. } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(*kind, TransportFailure::Timeout);
        assert_eq!(source.downcast_ref::<TimeoutReason>(), Some(&cut));
    }

    #[test]
    fn the_outer_deadline_bounds_attempts_and_waits() {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(10);
        let mut call = call(true, &Timeouts::NONE, t0).with_deadline(Some(deadline));
        let attempt = call.start_attempt(t0).unwrap();
        // An attempt under way is cut at the deadline.
        assert_eq!(
            attempt.budget.deadline(),
            Some((deadline, TimeoutReason::Deadline))
        );
        // A wait that would end past it is not slept: the failure is final.
        let late = moment(t0 + Duration::from_millis(9_900));
        let error = call
            .failed(transport(TransportFailure::Timeout), None, true, late)
            .unwrap_err();
        assert_eq!(error.attempts(), Some(1));
        // No attempt starts past it.
        let error = call.start_attempt(deadline).unwrap_err();
        let Error::Transport { source, .. } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(
            source.downcast_ref::<TimeoutReason>(),
            Some(&TimeoutReason::Deadline)
        );
    }

    #[test]
    fn content_that_cannot_be_resent_ends_a_retryable_failure() {
        let t0 = Instant::now();
        let mut call = call(true, &Timeouts::NONE, t0);
        call.start_attempt(t0).unwrap();
        let error = call
            .failed(
                transport(TransportFailure::Timeout),
                None,
                false,
                moment(t0),
            )
            .unwrap_err();
        assert!(matches!(error, Error::NotRewindable { .. }), "{error:?}");
        // A failure that is final anyway is reported as it is.
        let mut call = self::call(true, &Timeouts::NONE, t0);
        call.start_attempt(t0).unwrap();
        let error = call
            .failed(
                refusal(ErrorKind::Unauthorized, 401),
                None,
                false,
                moment(t0),
            )
            .unwrap_err();
        assert!(matches!(error, Error::Api { .. }), "{error:?}");
    }

    #[test]
    fn answers_are_judged_once() {
        let t0 = Instant::now();
        let mut call = call(true, &Timeouts::NONE, t0);
        call.start_attempt(t0).unwrap();
        let mut busy = Response::new(&br#"{"code":429,"msg":"slow down"}"#[..]);
        *busy.status_mut() = http::StatusCode::TOO_MANY_REQUESTS;
        assert!(matches!(
            call.answered(&GetCredits, busy, true, moment(t0)),
            Ok(Next::RetryAfter(_))
        ));
        call.start_attempt(t0).unwrap();
        let mut switching = Response::new(&b""[..]);
        *switching.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
        let error = call
            .answered(&GetCredits, switching, true, moment(t0))
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::Transport {
                    kind: TransportFailure::MalformedAnswer,
                    attempts: 2,
                    ..
                }
            ),
            "{error:?}"
        );
    }
}
