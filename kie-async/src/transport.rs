//! One attempt over the network, and the retry loop around attempts. Every decision comes
//! from kie-proto: the request from the [`Operation`], success or refusal from its
//! `parse_response`, whether and when to retry from the [`RetryPolicy`]. This module moves
//! bytes, sleeps and reports.

use std::error::Error as StdError;
use std::path::PathBuf;
use std::time::SystemTime;

use bytes::Bytes;
use kie_proto::driver::{AttemptFailure, FailureFacts, MAX_RESPONSE_BODY, ProgressReporter};
use kie_proto::driver::{Call, Moment, Next};
use kie_proto::http::{self, HeaderMap, StatusCode};
use kie_proto::{
    Body, Error, Operation, ProgressCallback, TimeoutReason, TlsFailure, TransportFailure,
};
use tokio::io::AsyncSeekExt as _;

use crate::body::{Activity, AsyncReadSeek, BodyParts, BodyStream, Reader, Slot, SlotGuard, now};
use crate::client::{FileStart, Inner, open_start};

/// Where the content of a framed body comes from.
pub(crate) enum Content {
    /// No content (a body without a framed part, or nothing to read).
    None,
    /// Bytes in memory: every attempt sends them again.
    Bytes(Bytes),
    /// A file of `len` bytes: the first attempt continues from what was opened and read
    /// for MIME detection; later attempts open the path again (on a blocking thread, before
    /// the attempt).
    File {
        path: PathBuf,
        len: u64,
        first: Option<FileStart>,
    },
    /// A reader of known length: `prefix` (already read, for MIME detection) then the rest.
    /// It can be sent again only if nothing beyond the prefix was read.
    Reader {
        prefix: Bytes,
        reader: Option<Reader>,
    },
    /// A seekable reader, sought back to `start` before every attempt.
    Seekable {
        reader: Option<Box<dyn AsyncReadSeek>>,
        start: u64,
    },
}

impl Inner {
    /// Sends `op` until it succeeds or the retry policy gives up, streaming `content` for a
    /// framed body: the loop of kie-proto's [`Call`], which makes every decision.
    pub(crate) async fn run<O: Operation>(
        &self,
        op: &O,
        mut content: Content,
        progress: Option<ProgressCallback>,
    ) -> Result<O::Output, Error> {
        let request = op.to_request(&self.api)?;
        let mut call = Call::new(&request, self.retry_policy, &self.timeouts, now())
            .with_progress(progress)
            .idempotent(op.is_idempotent());
        loop {
            let attempt = call.start_attempt(now())?;
            let activity = Activity::new(attempt.budget);
            let sent = self
                .attempt(&request, &mut content, attempt.progress, &activity)
                .await;
            let wait = match sent {
                Ok((status, headers, body)) => {
                    let mut answer = http::Response::new(&body[..]);
                    *answer.status_mut() = status;
                    *answer.headers_mut() = headers;
                    match call.answered(op, answer, content.rewindable(), moment())? {
                        Next::Done(output) => return Ok(output),
                        Next::RetryAfter(wait) => wait,
                    }
                }
                Err((failure, cut_by)) => {
                    call.failed(failure, cut_by, content.rewindable(), moment())?
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt: send, read at most [`MAX_RESPONSE_BODY`] bytes of the answer, all under
    /// the call's time budget (the first rule to expire ends the attempt and names itself).
    /// A failure comes with the budget rule that cut the attempt, if one did.
    async fn attempt(
        &self,
        request: &http::Request<Body>,
        content: &mut Content,
        progress: ProgressReporter,
        activity: &Activity,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), (AttemptFailure, Option<TimeoutReason>)> {
        content.rewind().await.map_err(|failure| (failure, None))?;
        let (body, guard) = content
            .body(request.body(), progress, activity)
            .map_err(|failure| (failure, None))?;
        let exchange = self.exchange(request, body, activity);
        let result = tokio::select! {
            result = exchange => result.map_err(|failure| (failure, None)),
            reason = activity.expired() => Err((AttemptFailure::timed_out(reason), Some(reason))),
        };
        // The reader goes back to the content (to be sent again if it was never read), or is
        // dropped with the guard.
        if let Some(guard) = guard {
            // A panic of the caller's code in the body stream is the caller's: raised here,
            // in the upload future, whatever the attempt came to (never retried).
            let panic = guard.0.lock().panic.take();
            if let Some(payload) = panic {
                drop(guard);
                std::panic::resume_unwind(payload);
            }
            content.reclaim(&guard.0);
            // A failure of the source explains the transport error it caused.
            if result.is_err()
                && let Some(error) = guard.0.lock().error.take()
            {
                return Err((AttemptFailure::Fatal(error), None));
            }
        }
        result
    }

    async fn exchange(
        &self,
        request: &http::Request<Body>,
        body: reqwest::Body,
        activity: &Activity,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), AttemptFailure> {
        let mut builder = http::Request::builder()
            .method(request.method().clone())
            .uri(request.uri().clone());
        if let Some(headers) = builder.headers_mut() {
            headers.clone_from(request.headers());
        }
        let outgoing = builder
            .body(body)
            .map_err(|err| transport(TransportFailure::Unsendable, err))?;
        let outgoing = reqwest::Request::try_from(outgoing)
            .map_err(|err| transport(classify(&err, false), err))?;
        let sent_to = outgoing.url().clone();
        let via_proxy = self.via_proxy(&sent_to);
        let mut response = self
            .http
            .execute(outgoing)
            .await
            .map_err(|err| transport(classify(&err, via_proxy), err))?;
        // The head is complete (its bytes are not visible one by one through reqwest).
        activity.answer_head_received();
        // A caller's client may follow redirects; the answer of another URL is not this
        // endpoint's answer (after a 303 it is even the answer to a GET without the content).
        if response.url() != &sent_to {
            let message = format!("redirected from {sent_to} to {}", response.url());
            return Err(AttemptFailure::Transport {
                kind: TransportFailure::Redirected,
                source: message.into(),
            });
        }
        let status = response.status();
        // A refusal that arrives while the body is still going out (a 413): the rest of the
        // body is not sent.
        if !status.is_success() && !activity.request_complete() {
            activity.refuse_body();
        }
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        while body.len() < MAX_RESPONSE_BODY {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    activity.moved(chunk.len() as u64);
                    let room = MAX_RESPONSE_BODY - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) => break,
                // A refusal whose body was cut (a server that answered early and reset the
                // connection while the request body was still arriving) is still the
                // server's answer: its status says what happened. A cut success is not.
                Err(_) if !status.is_success() => break,
                Err(err) => return Err(transport(classify(&err, via_proxy), err)),
            }
        }
        Ok((status, headers, body))
    }
}

impl Content {
    /// Whether the content can be sent again from the start.
    fn rewindable(&self) -> bool {
        !matches!(
            self,
            Content::Reader { reader: None, .. } | Content::Seekable { reader: None, .. }
        )
    }

    /// The reqwest body of one attempt, with the guard that closes its source.
    fn body(
        &mut self,
        body: &Body,
        progress: ProgressReporter,
        activity: &Activity,
    ) -> Result<(reqwest::Body, Option<SlotGuard>), AttemptFailure> {
        let framed = match body {
            Body::Empty => {
                activity.request_sent();
                return Ok((reqwest::Body::from(Vec::new()), None));
            }
            // A complete body stays a replayable bytes body (a caller's client that follows
            // a 307 can send it again), so the budget cannot see it go out: it counts as
            // sent when the attempt starts (a few hundred bytes; the answer limit then also
            // covers connecting).
            Body::Complete(bytes) => {
                activity.request_sent();
                return Ok((reqwest::Body::from(bytes.clone()), None));
            }
            Body::Framed(framed) => framed,
        };
        let content_len = framed.content_len();
        let (prefix, reader, path, probe_eof) = match self {
            Content::None => (
                Bytes::new(),
                Some(Reader::plain(tokio::io::empty())),
                None,
                false,
            ),
            Content::Bytes(bytes) => (bytes.clone(), None, None, false),
            Content::File { path, first, .. } => {
                let Some(start) = first.take() else {
                    return Err(AttemptFailure::Fatal(Error::Io {
                        path: Some(path.clone()),
                        source: std::io::Error::other("the file was not reopened"),
                    }));
                };
                let probe_eof = start.rest.is_some();
                let reader = match start.rest {
                    Some(file) => Some(Reader::plain(tokio::fs::File::from_std(file))),
                    // Read whole; if it was short, an empty reader lets the encoder say so.
                    None if (start.content.len() as u64) < content_len => {
                        Some(Reader::plain(tokio::io::empty()))
                    }
                    None => None,
                };
                (start.content, reader, Some(path.clone()), probe_eof)
            }
            Content::Seekable { reader, .. } => match reader.take() {
                Some(reader) => (Bytes::new(), Some(Reader::Seekable(reader)), None, true),
                None => {
                    return Err(AttemptFailure::Fatal(Error::Io {
                        path: None,
                        source: std::io::Error::other("the reader was lost by a failed attempt"),
                    }));
                }
            },
            Content::Reader { prefix, reader } => match reader.take() {
                Some(reader) => (prefix.clone(), Some(reader), None, true),
                None => {
                    return Err(AttemptFailure::Fatal(Error::Io {
                        path: None,
                        source: std::io::Error::other("the reader was already consumed"),
                    }));
                }
            },
        };
        let remaining = content_len.saturating_sub(prefix.len() as u64);
        let slot = Slot::new(reader);
        let stream = BodyStream::new(BodyParts {
            encoder: framed.clone().into_encoder(),
            prefix,
            remaining,
            probe_eof,
            slot: slot.clone(),
            path,
            progress,
            activity: activity.clone(),
        });
        Ok((reqwest::Body::wrap_stream(stream), Some(SlotGuard(slot))))
    }

    /// Takes the reader back after an attempt, if it can be sent again.
    fn reclaim(&mut self, slot: &Slot) {
        let mut state = slot.lock();
        match self {
            Content::Reader { reader, .. } if !state.touched => *reader = state.reader.take(),
            Content::Seekable { reader, .. } => {
                if let Some(Reader::Seekable(taken)) = state.reader.take() {
                    *reader = Some(taken);
                }
            }
            _ => {}
        }
    }

    /// Seeks a seekable reader back to where it started; opens a file again for a retry.
    async fn rewind(&mut self) -> Result<(), AttemptFailure> {
        match self {
            Content::Seekable {
                reader: Some(reader),
                start,
            } => {
                reader
                    .seek(std::io::SeekFrom::Start(*start))
                    .await
                    .map_err(|source| AttemptFailure::Fatal(Error::Io { path: None, source }))?;
            }
            Content::File {
                path,
                len,
                first: first @ None,
            } => {
                let io = |source| {
                    AttemptFailure::Fatal(Error::Io {
                        path: Some(path.clone()),
                        source,
                    })
                };
                let (reopen, declared) = (path.clone(), *len);
                let start =
                    tokio::task::spawn_blocking(move || open_start(&reopen, Some(declared)))
                        .await
                        .map_err(|join| io(std::io::Error::other(join)))?
                        .map_err(io)?;
                *first = Some(start);
            }
            _ => {}
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

pub(crate) fn timeout(message: String) -> AttemptFailure {
    AttemptFailure::Transport {
        kind: TransportFailure::Timeout,
        source: message.into(),
    }
}

pub(crate) fn transport(
    kind: TransportFailure,
    err: impl StdError + Send + Sync + 'static,
) -> AttemptFailure {
    AttemptFailure::Transport {
        kind,
        source: Box::new(err),
    }
}

/// Maps a reqwest error to the kind of failure the retry policy judges.
pub(crate) fn classify(err: &reqwest::Error, via_proxy: bool) -> TransportFailure {
    facts(err, via_proxy).classify()
}

/// What a reqwest error's whole chain shows — reqwest's and hyper's own error kinds, the
/// proxy tunnel's error, `io::Error`s and the `rustls::Error` they may wrap — for
/// kie-proto to judge.
pub(crate) fn facts(err: &reqwest::Error, via_proxy: bool) -> FailureFacts {
    let mut facts = FailureFacts::new();
    facts.via_proxy = via_proxy;
    facts.timed_out = err.is_timeout();
    facts.connecting = err.is_connect();
    facts.unsendable = err.is_builder();
    let mut next: Option<&(dyn StdError + 'static)> = err.source();
    // Below a hyper error, invalid data is hyper's verdict on the answer's framing (a bad
    // chunk size line, …), not the network's.
    let mut in_hyper = false;
    while let Some(cause) = next {
        next = cause.source();
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            facts.saw_io(io.kind());
            facts.malformed_answer |= in_hyper
                && matches!(
                    io.kind(),
                    std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput
                );
            // `io::Error::source` skips the wrapped error itself; step into it.
            next = io.get_ref().map(|inner| inner as &(dyn StdError + 'static));
        } else if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            facts.saw_tls(tls_failure(tls));
        } else if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            in_hyper = true;
            facts.malformed_answer |= hyper.is_parse();
            facts.timed_out |= hyper.is_timeout();
        } else {
            // hyper-util's proxy tunnel error is private; its messages are all there is.
            match cause.to_string().as_str() {
                "tunnel error: proxy authorization required" => {
                    facts.proxy_refused = Some(Some(407));
                }
                "tunnel error: unsuccessful"
                | "tunnel error: unexpected end of file"
                | "tunnel error: proxy response headers too long" => {
                    facts.proxy_refused = Some(None);
                }
                _ => {}
            }
        }
    }
    facts
}

/// A rustls error in kie-proto's words.
fn tls_failure(error: &rustls::Error) -> TlsFailure {
    use rustls::CertificateError as C;
    match error {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            C::Expired | C::ExpiredContext { .. } => TlsFailure::Expired,
            C::NotValidYet | C::NotValidYetContext { .. } => TlsFailure::NotYetValid,
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsFailure::WrongHost,
            C::UnknownIssuer => TlsFailure::UnknownIssuer,
            C::Revoked => TlsFailure::Revoked,
            _ => TlsFailure::BadCertificate,
        },
        _ => TlsFailure::Handshake,
    }
}
