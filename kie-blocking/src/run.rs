//! The driver loops: one attempt after another, each a small step — start, send, report,
//! obey — until kie-proto's [`Call`] says the call is done or the retry policy gives up.
//! [`run`] sends an operation; [`download`] fetches a stored file.

use std::time::{Instant, SystemTime};

use kie_proto::driver::{AttemptFailure, Call, DownloadSink as _, Moment, Next, VerifySink};
use kie_proto::http::Response;
use kie_proto::{Api, Body, Digest, Error, Operation, ProgressCallback};

use crate::socket::{self, AttemptState};
use crate::source::Source;
use crate::transport::{self, Transport};

/// Sends `operation` until it succeeds, fails for good, or the policy stops retrying. A
/// framed body's content is read from `source`, which is rewound before every retry.
pub(crate) fn run<O: Operation>(
    transport: &Transport,
    api: &Api,
    operation: &O,
    source: &mut Source<'_>,
    progress: Option<ProgressCallback>,
) -> Result<O::Output, Error> {
    run_until(transport, api, operation, source, progress, None)
}

/// [`run`] under an outer `deadline`: no attempt starts and no retry sleeps past it (a
/// wait for a task bounds every poll so).
pub(crate) fn run_until<O: Operation>(
    transport: &Transport,
    api: &Api,
    operation: &O,
    source: &mut Source<'_>,
    progress: Option<ProgressCallback>,
    deadline: Option<Instant>,
) -> Result<O::Output, Error> {
    let request = operation.to_request(api)?;
    let mut call = Call::new(
        &request,
        transport.retry,
        &transport.timeouts,
        Instant::now(),
    )
    .with_deadline(deadline)
    .with_progress(progress)
    .idempotent(operation.is_idempotent());
    let (head, body) = request.into_parts();
    loop {
        let attempt = call.start_attempt(Instant::now())?;
        let mut progress = attempt.progress;
        let mut state = Some(AttemptState::new(attempt.budget, &body));
        let sent = socket::with_attempt(&mut state, || {
            transport::send(transport, &head, &body, source, &mut progress)
        });
        let cut_by = state.and_then(|state| state.expired);
        let wait = match sent {
            Ok((parts, answer)) => {
                let answer = Response::from_parts(parts, answer.as_slice());
                match call.answered(operation, answer, source.can_resend(), moment())? {
                    Next::Done(output) => return Ok(output),
                    Next::RetryAfter(wait) => wait,
                }
            }
            Err(failure) => call.failed(failure, cut_by, source.can_resend(), moment())?,
        };
        source.rewind().map_err(|e| source.io_error(e))?;
        std::thread::sleep(wait);
    }
}

/// Downloads the stored file at `url` (without `Authorization`) and checks it against the
/// content `sent` ([`VerifySink`]), under the time budget of a download, retried like
/// any call that may be sent twice; every attempt checks from the first byte again.
pub(crate) fn download(
    transport: &Transport,
    api: &Api,
    url: &str,
    sent: Digest,
) -> Result<(), Error> {
    let request = kie_proto::driver::download_request(api, url)?;
    let mut call = Call::download(
        &request,
        transport.retry,
        &transport.timeouts,
        Instant::now(),
    );
    loop {
        let attempt = call.start_attempt(Instant::now())?;
        let mut state = Some(AttemptState::new(attempt.budget, &Body::Empty));
        let mut sink = VerifySink::new(url, sent);
        let fetched = socket::with_attempt(&mut state, || {
            transport::fetch(transport, &request, &mut sink)
        });
        let cut_by = state.and_then(|state| state.expired);
        let failure = match fetched.map(|()| sink.finish()) {
            Ok(Ok(())) => {
                call.done();
                return Ok(());
            }
            Ok(Err(mismatch)) => AttemptFailure::Fatal(mismatch),
            Err(failure) => failure,
        };
        let wait = call.failed(failure, cut_by, true, moment())?;
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
