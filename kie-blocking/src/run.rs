//! The driver loop: one attempt after another, each a small step — build, send, read,
//! judge — until kie-proto says the answer is final or the retry policy gives up.

use std::time::{Instant, SystemTime};

use kie_proto::driver::{AttemptFailure, ProgressReporter};
use kie_proto::driver::{Call, Moment, Next};
use kie_proto::http::{HeaderValue, Response, header, request};
use kie_proto::{Api, Body, Error, FramedBody, Operation, ProgressCallback, RetryPolicy, Timeouts};
use ureq::SendBody;

use crate::socket::{self, AttemptState};
use crate::source::{FramedReader, Source};
use crate::transport::{self, Agents, Answer, TransportError};

/// Bodies longer than this are sent with `Expect: 100-continue` (as curl does): a server
/// that refuses on the headers (a 413 on `Content-Length`) answers before any body byte is
/// sent; one that says nothing gets the body after ureq's 1 s wait.
pub(crate) const EXPECT_CONTINUE_ABOVE: u64 = 1024 * 1024;

/// What a client sends with: the agents, their timeouts and the retry policy.
#[derive(Clone)]
pub(crate) struct Transport {
    pub agents: Agents,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    /// Whether the agent is the client's own, whose sockets obey the call budget
    /// ([`socket`]); a caller's agent gets the timeouts as ureq settings instead.
    pub budget_sockets: bool,
}

/// Sends `operation` until it succeeds, fails for good, or the policy stops retrying: the
/// loop of kie-proto's [`Call`], which makes every decision. A framed body's content is read
/// from `source`, which is rewound before every retry.
pub(crate) fn run<O: Operation>(
    transport: &Transport,
    api: &Api,
    operation: &O,
    source: &mut Source<'_>,
    progress: Option<ProgressCallback>,
) -> Result<O::Output, Error> {
    let request = operation.to_request(api)?;
    let mut call = Call::new(
        &request,
        transport.retry,
        &transport.timeouts,
        Instant::now(),
    )
    .with_progress(progress)
    .idempotent(operation.is_idempotent());
    let (head, body) = request.into_parts();
    loop {
        let attempt = call.start_attempt(Instant::now())?;
        let mut progress = attempt.progress;
        let mut state = Some(AttemptState::new(attempt.budget, &body));
        let sent = socket::with_attempt(&mut state, || {
            send_once(transport, &head, &body, source, &mut progress)
        });
        let cut_by = state.and_then(|state| state.expired);
        let wait = match sent {
            Ok((parts, answer)) => {
                let answer = Response::from_parts(parts, answer.as_slice());
                match call.answered(operation, answer, source.can_rewind(), moment())? {
                    Next::Done(output) => return Ok(output),
                    Next::RetryAfter(wait) => wait,
                }
            }
            Err(failure) => call.failed(failure, cut_by, source.can_rewind(), moment())?,
        };
        source.rewind().map_err(|e| source.io_error(e))?;
        std::thread::sleep(wait);
    }
}

/// Now, as kie-proto's [`Call`] takes it.
fn moment() -> Moment {
    Moment {
        at: Instant::now(),
        wall: SystemTime::now(),
        random: kie_proto::driver::random_unit(),
    }
}

/// One attempt: sends the request, returns the answer.
fn send_once(
    transport: &Transport,
    head: &request::Parts,
    body: &Body,
    source: &mut Source<'_>,
    reporter: &mut ProgressReporter,
) -> Result<Answer, AttemptFailure> {
    let answer = match body {
        Body::Empty => transport::exchange(transport, head, SendBody::none()),
        Body::Complete(bytes) => transport::exchange(transport, head, bytes.as_slice()),
        Body::Framed(framed) => return send_framed(transport, head, framed, source, reporter),
    };
    answer.map_err(TransportError::into_failure)
}

/// Streams a framed body: head, the content through the encoder, tail.
fn send_framed(
    transport: &Transport,
    head: &request::Parts,
    framed: &FramedBody,
    source: &mut Source<'_>,
    reporter: &mut ProgressReporter,
) -> Result<Answer, AttemptFailure> {
    let mut reader = FramedReader::new(framed, source, reporter);
    let expect = (framed.len() > EXPECT_CONTINUE_ABOVE).then(|| {
        let mut head = head.clone();
        head.headers
            .insert(header::EXPECT, HeaderValue::from_static("100-continue"));
        head
    });
    let result = transport::exchange(
        transport,
        expect.as_ref().unwrap_or(head),
        SendBody::from_reader(&mut reader),
    );
    // The source's own failure explains a transport error it caused.
    if let Some(failure) = reader.failure() {
        return Err(AttemptFailure::Fatal(failure));
    }
    result.map_err(TransportError::into_failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kie_proto::TransportFailure;

    #[test]
    fn transport_failures_report_attempts() {
        let failure = TransportError {
            kind: TransportFailure::Timeout,
            source: ureq::Error::Timeout(ureq::Timeout::PerRead),
        }
        .into_failure();
        let error = failure.into_error(3);
        assert!(matches!(
            error,
            Error::Transport {
                kind: TransportFailure::Timeout,
                attempts: 3,
                ..
            }
        ));
    }
}
