//! One attempt over the network: the request out (its body streamed from the content),
//! the answer in, all under the attempt's time budget; and what a reqwest error means.

use std::error::Error as StdError;

use kie_proto::driver::{AttemptFailure, FailureFacts, MAX_RESPONSE_BODY, ProgressReporter};
use kie_proto::http::{self, HeaderMap, StatusCode};
use kie_proto::{Body, TimeoutReason, TransportFailure};

use crate::body::AttemptState;
use crate::client::Inner;
use crate::source::Content;

impl Inner {
    /// One attempt: send, read at most [`MAX_RESPONSE_BODY`] bytes of the answer, all under
    /// the call's time budget (the first rule to expire ends the attempt and names itself).
    /// A failure comes with the budget rule that cut the attempt, if one did.
    pub(crate) async fn attempt(
        &self,
        request: &http::Request<Body>,
        content: &mut Content,
        progress: ProgressReporter,
        attempt_state: &AttemptState,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), (AttemptFailure, Option<TimeoutReason>)> {
        content.rewind().await.map_err(|failure| (failure, None))?;
        let (body, guard) = content
            .body(request.body(), progress, attempt_state)
            .map_err(|failure| (failure, None))?;
        let exchange = self.exchange(request, body, attempt_state);
        let result = tokio::select! {
            result = exchange => result.map_err(|failure| (failure, None)),
            reason = attempt_state.expired() => Err((AttemptFailure::timed_out(reason), Some(reason))),
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
        attempt_state: &AttemptState,
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
        attempt_state.answer_head_received();
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
        if !status.is_success() && !attempt_state.request_complete() {
            attempt_state.refuse_body();
        }
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        while body.len() < MAX_RESPONSE_BODY {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    attempt_state.moved(chunk.len() as u64);
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

    /// Sends `request` (a download from the storage host) and returns the answer once its
    /// head is in, under the attempt's time budget; its body is read with
    /// [`Fetch::chunk`].
    pub(crate) async fn fetch(
        &self,
        request: &http::Request<()>,
        attempt_state: &AttemptState,
    ) -> Result<Fetch, AttemptFailure> {
        let outgoing = request.clone().map(|()| reqwest::Body::from(Vec::new()));
        let outgoing = reqwest::Request::try_from(outgoing)
            .map_err(|err| transport(classify(&err, false), err))?;
        let via_proxy = self.via_proxy(outgoing.url());
        attempt_state.request_sent();
        let response = self
            .http
            .execute(outgoing)
            .await
            .map_err(|err| transport(classify(&err, via_proxy), err))?;
        attempt_state.answer_head_received();
        Ok(Fetch {
            response,
            via_proxy,
        })
    }
}

/// A download whose head is in.
pub(crate) struct Fetch {
    response: reqwest::Response,
    via_proxy: bool,
}

impl Fetch {
    /// The answer's status.
    pub(crate) fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// The answer's `Content-Length`, when it states one.
    pub(crate) fn content_length(&self) -> Option<u64> {
        self.response.content_length()
    }

    /// The next piece of the body (`None` at its end), counted by the attempt's budget.
    pub(crate) async fn chunk(
        &mut self,
        attempt_state: &AttemptState,
    ) -> Result<Option<bytes::Bytes>, AttemptFailure> {
        match self.response.chunk().await {
            Ok(Some(chunk)) => {
                attempt_state.moved(chunk.len() as u64);
                Ok(Some(chunk))
            }
            Ok(None) => Ok(None),
            Err(err) => Err(transport(classify(&err, self.via_proxy), err)),
        }
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
            facts.saw_tls(kie_proto::driver::tls_failure(tls));
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
