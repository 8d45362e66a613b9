//! The driver loops: one attempt after another, each a small step — start, send, report,
//! obey — until kie-proto's [`Call`] says the call is done or the retry policy gives up.
//! [`Inner::run`] sends an operation; [`Inner::download`] fetches a stored file.

use std::time::SystemTime;

use kie_proto::driver::{AttemptFailure, Call, DownloadSink, Moment, Next, VerifySink};
use kie_proto::http;
use kie_proto::{Digest, Error, Operation, ProgressCallback};

use crate::body::{AttemptState, now};
use crate::client::Inner;
use crate::source::Content;

impl Inner {
    /// Sends `op` until it succeeds or the retry policy gives up, streaming `content` for a
    /// framed body: the loop of kie-proto's [`Call`], which makes every decision.
    pub(crate) async fn run<O: Operation>(
        &self,
        op: &O,
        content: Content,
        progress: Option<ProgressCallback>,
    ) -> Result<O::Output, Error> {
        self.run_until(op, content, progress, None).await
    }

    /// [`run`](Self::run) under an outer `deadline`: no attempt starts and no retry sleeps
    /// past it (a wait for a task bounds every poll so).
    pub(crate) async fn run_until<O: Operation>(
        &self,
        op: &O,
        mut content: Content,
        progress: Option<ProgressCallback>,
        deadline: Option<std::time::Instant>,
    ) -> Result<O::Output, Error> {
        let request = op.to_request(&self.api)?;
        let mut call = Call::new(&request, self.retry_policy, &self.timeouts, now())
            .with_deadline(deadline)
            .with_progress(progress)
            .idempotent(op.is_idempotent());
        loop {
            let attempt = call.start_attempt(now())?;
            let attempt_state = AttemptState::new(attempt.budget);
            let sent = self
                .attempt(&request, &mut content, attempt.progress, &attempt_state)
                .await;
            let wait = match sent {
                Ok((status, headers, body)) => {
                    let mut answer = http::Response::new(&body[..]);
                    *answer.status_mut() = status;
                    *answer.headers_mut() = headers;
                    match call.answered(op, answer, content.can_resend(), moment())? {
                        Next::Done(output) => return Ok(output),
                        Next::RetryAfter(wait) => wait,
                    }
                }
                Err((failure, cut_by)) => {
                    call.failed(failure, cut_by, content.can_resend(), moment())?
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

impl Inner {
    /// Downloads the stored file at `url` (without `Authorization`) and checks it against
    /// the content `sent` ([`VerifySink`]), under the time budget of a download, retried
    /// like any call that may be sent twice; every attempt checks from the first byte again.
    pub(crate) async fn download(&self, url: &str, sent: Digest) -> Result<(), Error> {
        let request = kie_proto::driver::download_request(&self.api, url)?;
        let mut call = Call::download(&request, self.retry_policy, &self.timeouts, now());
        loop {
            let attempt = call.start_attempt(now())?;
            let attempt_state = AttemptState::new(attempt.budget);
            let mut sink = VerifySink::new(url, sent);
            let fetched = tokio::select! {
                fetched = self.fetch_into(&request, &mut sink, &attempt_state) => fetched.map_err(|failure| (failure, None)),
                reason = attempt_state.expired() => Err((AttemptFailure::timed_out(reason), Some(reason))),
            };
            let (failure, cut_by) = match fetched.map(|()| sink.finish()) {
                Ok(Ok(())) => {
                    call.done();
                    return Ok(());
                }
                Ok(Err(mismatch)) => (AttemptFailure::Fatal(mismatch), None),
                Err(failed) => failed,
            };
            let wait = call.failed(failure, cut_by, true, moment())?;
            tokio::time::sleep(wait).await;
        }
    }
}

impl Inner {
    /// Fetches `request` into a sink that judges the bytes as they come (a verification).
    async fn fetch_into(
        &self,
        request: &http::Request<()>,
        sink: &mut (dyn DownloadSink + Send),
        attempt_state: &AttemptState,
    ) -> Result<(), AttemptFailure> {
        let mut fetch = self.fetch(request, attempt_state).await?;
        sink.head(fetch.status(), fetch.content_length())
            .map_err(AttemptFailure::Fatal)?;
        while let Some(chunk) = fetch.chunk(attempt_state).await? {
            sink.bytes(&chunk).map_err(AttemptFailure::Fatal)?;
        }
        Ok(())
    }
}

/// Now, as kie-proto's [`Call`] takes it (tokio's clock, so paused-clock tests work).
fn moment() -> Moment {
    Moment {
        at: now(),
        wall: SystemTime::now(),
        random: kie_proto::driver::random_unit(),
    }
}
