//! The driver loop: one attempt after another, each a small step — build, send, read,
//! judge — until kie-proto says the answer is final or the retry policy gives up.

use std::time::{Instant, SystemTime};

use kie_proto::http::{HeaderValue, header, request};
use kie_proto::{
    Api, AttemptFailure, Body, CallBudget, CallKind, CallTrace, Error, FramedBody, Operation,
    ProgressCallback, ProgressReporter, RetryPolicy, Timeouts, TransportFailure,
};
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

/// Sends `operation` until it succeeds, fails for good, or the policy stops retrying.
/// A framed body's content is read from `source`, which is rewound before every retry.
pub(crate) fn run<O: Operation>(
    transport: &Transport,
    api: &Api,
    operation: &O,
    source: &mut Source<'_>,
    progress: Option<ProgressCallback>,
) -> Result<O::Output, Error> {
    let request = operation.to_request(api)?;
    let trace = CallTrace::start(&request);
    let (head, body) = request.into_parts();
    let mut reporter = ProgressReporter::new(progress, content_len(&body));
    let mut budget = CallBudget::new(&transport.timeouts, CallKind::of(&body), Instant::now());
    let mut attempt = 1;
    loop {
        trace.attempt(attempt);
        reporter.start_attempt(attempt);
        budget.start_attempt(Instant::now());
        let mut state = Some(AttemptState {
            budget: budget.clone(),
            expired: None,
            body_complete: !matches!(body, Body::Framed(_)),
            refused: false,
            written: 0,
        });
        let sent = socket::with_attempt(&mut state, || {
            send_once(transport, &head, &body, source, &mut reporter)
        });
        let expired = state.and_then(|state| state.expired);
        let failure = match (sent, expired) {
            (Ok(answer), _) => match parse(operation, answer) {
                Ok(output) => {
                    // Checked against what was sent; a mismatch is final.
                    operation.check_output(&output)?;
                    trace.succeeded(attempt);
                    return Ok(output);
                }
                Err(error) => AttemptFailure::Api(error),
            },
            // The budget's rule, when one ended the attempt, is the cause to report.
            (Err(AttemptFailure::Transport { .. }), Some(reason)) => AttemptFailure::Transport {
                kind: TransportFailure::Timeout,
                source: Box::new(reason),
            },
            (Err(failure), _) => failure,
        };
        // The small-call limit ends the call rather than sleep past it.
        let wait = trace.after_failure(
            &transport.retry,
            attempt,
            failure,
            source.can_rewind(),
            kie_proto::random_unit(),
            SystemTime::now(),
            |wait| budget.may_wait(Instant::now(), wait),
        )?;
        source.rewind().map_err(|e| source.io_error(e))?;
        std::thread::sleep(wait);
        attempt += 1;
    }
}

/// Content bytes of the body (what progress counts).
fn content_len(body: &Body) -> u64 {
    match body {
        Body::Framed(framed) => framed.content_len(),
        Body::Empty | Body::Complete(_) => 0,
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

/// Lets the operation judge the answer.
fn parse<O: Operation>(
    operation: &O,
    (parts, body): Answer,
) -> Result<O::Output, kie_proto::ApiError> {
    operation.parse_response(kie_proto::http::Response::from_parts(
        parts,
        body.as_slice(),
    ))
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
