//! The streamed request body of one upload attempt: head, content read through a fixed
//! buffer and encoded by kie-proto's [`FrameEncoder`], tail.
//!
//! The stream owns nothing that outlives the request except a shared [`Slot`] holding the
//! source reader. The upload future keeps the other handle and a [`SlotGuard`]: when the
//! future is dropped (cancelled), the guard takes the reader out of the slot and drops it at
//! once, closing a file even if the connection task still holds the stream; the stream then
//! fails its next poll, which aborts the request.
//!
//! A panic of the caller's code while the stream is polled (a progress callback, a reader)
//! is caught, ends the body, and is left in the slot for the upload future, which raises it
//! again once the attempt ends (see [`SlotState::panic`]).

use std::any::Any;
use std::collections::VecDeque;
use std::io;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use kie_proto::driver::{AttemptFailure, CallBudget, FrameEncoder, ProgressReporter};
use kie_proto::{Body, Error, TimeoutReason};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::Instant;

use crate::source::{CHUNK, Content, PIECE, ReadAhead, Reader};

/// What the body stream and the upload future share.
#[derive(Default)]
pub(crate) struct SlotState {
    /// The reader, until the attempt ends or is cancelled.
    pub(crate) reader: Option<Reader>,
    /// Whether any byte was read from `reader` (it cannot be rewound afterwards).
    pub(crate) touched: bool,
    /// Why the stream failed, when the failure is the source's and not the network's.
    pub(crate) error: Option<Error>,
    /// The payload of a panic of the caller's code (a progress callback, a reader) while
    /// the stream was polled, raised again by the upload future.
    pub(crate) panic: Option<Box<dyn Any + Send>>,
}

/// The shared state of one attempt.
#[derive(Clone)]
pub(crate) struct Slot(Arc<Mutex<SlotState>>);

impl Slot {
    pub(crate) fn new(reader: Option<Reader>) -> Self {
        Self(Arc::new(Mutex::new(SlotState {
            reader,
            ..SlotState::default()
        })))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Drops the slot's reader when the attempt ends, however it ends (cancellation included).
pub(crate) struct SlotGuard(pub(crate) Slot);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let reader = self.0.lock().reader.take();
        drop(reader);
    }
}

/// The call's time budget ([`CallBudget`]), shared by the body stream, the response reader
/// and the watchdog of each attempt: the first two report bytes moved, the watchdog waits
/// for the budget's deadline. Time is tokio's (so paused-clock tests work), handed to the
/// budget as a `std::time::Instant`.
#[derive(Clone)]
pub(crate) struct AttemptState(Arc<AttemptShared>);

struct AttemptShared {
    budget: Mutex<CallBudget>,
    /// Set when the server refused before the body was complete: the body stream ends
    /// (with an error, which aborts the rest of the upload) instead of sending the rest.
    refused: std::sync::atomic::AtomicBool,
    /// Wakes the watchdog when the deadline moved earlier (a low-speed window opened, the
    /// answer limit started).
    earlier: tokio::sync::Notify,
}

impl AttemptState {
    /// The budget of one attempt.
    pub(crate) fn new(budget: CallBudget) -> Self {
        Self(Arc::new(AttemptShared {
            budget: Mutex::new(budget),
            refused: std::sync::atomic::AtomicBool::new(false),
            earlier: tokio::sync::Notify::new(),
        }))
    }

    /// Updates the budget, waking the watchdog if its deadline moved earlier.
    fn update(&self, change: impl FnOnce(&mut CallBudget)) {
        let mut budget = self
            .0
            .budget
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let before = budget.deadline().map(|(at, _)| at);
        change(&mut budget);
        let after = budget.deadline().map(|(at, _)| at);
        drop(budget);
        if after.is_some_and(|after| before.is_none_or(|before| after < before)) {
            self.0.earlier.notify_one();
        }
    }

    /// `bytes` moved just now.
    pub(crate) fn moved(&self, bytes: u64) {
        self.update(|budget| budget.moved(now(), bytes));
    }

    /// The request's last byte went out just now.
    pub(crate) fn request_sent(&self) {
        self.update(|budget| budget.request_sent(now()));
    }

    /// The server answered with a refusal while the body was still going out: the rest of
    /// the body is not sent.
    pub(crate) fn refuse_body(&self) {
        self.0
            .refused
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn body_refused(&self) -> bool {
        self.0.refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the request's last byte went out in this attempt.
    pub(crate) fn request_complete(&self) -> bool {
        self.0
            .budget
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_request_sent()
    }

    /// The answer's status line and headers are complete.
    pub(crate) fn answer_head_received(&self) {
        self.update(|budget| budget.answer_head_received(now()));
    }

    fn deadline(&self) -> Option<(std::time::Instant, TimeoutReason)> {
        self.0
            .budget
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .deadline()
    }

    /// Completes, with the rule that fired, once the budget's deadline has passed; never
    /// when no rule applies.
    pub(crate) async fn expired(&self) -> TimeoutReason {
        loop {
            let deadline = self.deadline();
            let sleep = async {
                match deadline {
                    Some((at, _)) => tokio::time::sleep_until(Instant::from_std(at)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sleep => {}
                () = self.0.earlier.notified() => continue,
            }
            if let Some((at, reason)) = self.deadline()
                && now() >= at
            {
                return reason;
            }
        }
    }
}

/// Tokio's clock (so paused-clock tests work), as a `std::time::Instant`.
pub(crate) fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// The body of one attempt, as a stream of wire chunks.
pub(crate) struct BodyStream {
    encoder: FrameEncoder<'static>,
    /// Content already in memory, sent before anything is read from the slot's reader.
    prefix: Bytes,
    /// Content bytes still to read from the slot's reader.
    remaining: u64,
    /// Whether to check that the reader is exhausted after `remaining` bytes (files).
    probe_eof: bool,
    slot: Slot,
    path: Option<PathBuf>,
    buf: Box<[u8]>,
    progress: ProgressReporter,
    attempt_state: AttemptState,
    /// Wire pieces ready for the connection: encoder output, and raw content passed
    /// through as it was read.
    queue: VecDeque<Bytes>,
    done: bool,
}

/// The parts of a [`BodyStream`].
pub(crate) struct BodyParts {
    pub(crate) encoder: FrameEncoder<'static>,
    pub(crate) prefix: Bytes,
    pub(crate) remaining: u64,
    pub(crate) probe_eof: bool,
    pub(crate) slot: Slot,
    pub(crate) path: Option<PathBuf>,
    pub(crate) progress: ProgressReporter,
    pub(crate) attempt_state: AttemptState,
}

impl BodyStream {
    pub(crate) fn new(parts: BodyParts) -> Self {
        let buf_len = usize::try_from(parts.remaining.saturating_add(u64::from(parts.probe_eof)))
            .unwrap_or(CHUNK)
            .min(CHUNK);
        Self {
            encoder: parts.encoder,
            prefix: parts.prefix,
            remaining: parts.remaining,
            probe_eof: parts.probe_eof,
            slot: parts.slot,
            path: parts.path,
            buf: vec![0; buf_len].into_boxed_slice(),
            progress: parts.progress,
            attempt_state: parts.attempt_state,
            queue: VecDeque::new(),
            done: false,
        }
    }

    /// Queues encoder output (nothing when empty).
    fn push(&mut self, out: Vec<u8>) {
        if !out.is_empty() {
            self.queue.push_back(Bytes::from(out));
        }
    }

    /// Queues a piece of content: as it is when the encoding allows (raw content, no
    /// copy), else encoded.
    fn emit(&mut self, piece: Bytes) -> Result<(), Error> {
        let mut out = Vec::new();
        if self.encoder.pass_through(piece.len(), &mut out)? {
            self.push(out);
            self.progress.advance(piece.len() as u64);
            self.queue.push_back(piece);
        } else {
            out.reserve(piece.len() * 4 / 3 + 4);
            self.encode(&piece, &mut out)?;
            self.push(out);
        }
        Ok(())
    }

    /// Queues the end of the body.
    fn emit_finish(&mut self) -> Result<(), Error> {
        let mut out = Vec::new();
        self.finish(&mut out)?;
        self.push(out);
        Ok(())
    }

    /// Records a source failure for the driver and returns the error the transport sees.
    fn fail(&mut self, error: Error) -> io::Error {
        self.done = true;
        let message = error.to_string();
        let mut slot = self.slot.lock();
        slot.reader = None;
        slot.error.get_or_insert(error);
        io::Error::other(message)
    }

    fn io_error(&self, source: io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Encodes `content` (already counted in `remaining` or the prefix) into `out`.
    fn encode(&mut self, content: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        self.encoder.encode(content, out)?;
        self.progress.advance(content.len() as u64);
        Ok(())
    }

    /// Appends the tail once all content is encoded.
    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        self.encoder.finish(out)?;
        self.progress.complete();
        self.done = true;
        Ok(())
    }

    /// Content bytes that fit before the next [`PIECE`] boundary of the content, so that
    /// pieces line up with the progress interval whatever the prefix length.
    fn room(&self) -> usize {
        PIECE - (self.encoder.content_consumed() % PIECE as u64) as usize
    }

    /// Queues the next wire pieces (the body is complete once `done`).
    fn poll_piece(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if !self.prefix.is_empty() {
            let piece = self.prefix.split_to(self.room().min(self.prefix.len()));
            self.emit(piece)?;
            if self.prefix.is_empty() && self.remaining == 0 && !self.probe_eof {
                self.emit_finish()?;
            }
            return Poll::Ready(Ok(()));
        }
        if self.remaining == 0 && !self.probe_eof {
            self.emit_finish()?;
            return Poll::Ready(Ok(()));
        }
        let probing = self.remaining == 0;
        let slot = self.slot.clone();
        let mut state = slot.lock();
        let Some(reader) = state.reader.as_mut() else {
            return Poll::Ready(Err(self.io_error(io::Error::new(
                io::ErrorKind::Interrupted,
                "the upload was cancelled",
            ))));
        };
        let piece = match reader {
            Reader::ReadAhead(read_ahead) => match read_ahead.poll_piece(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(piece))) => piece,
                Poll::Ready(Some(Err(err))) => return Poll::Ready(Err(self.io_error(err))),
                Poll::Ready(None) => Bytes::new(),
            },
            reader => {
                let want = if probing {
                    1
                } else {
                    usize::try_from(self.remaining)
                        .unwrap_or(usize::MAX)
                        .min(self.buf.len())
                };
                let mut read_buf = ReadBuf::new(&mut self.buf[..want]);
                match Pin::new(reader).poll_read(cx, &mut read_buf) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(err)) => return Poll::Ready(Err(self.io_error(err))),
                    Poll::Ready(Ok(())) => Bytes::copy_from_slice(read_buf.filled()),
                }
            }
        };
        // A reader that only reported its end can be sent again: it is still at its end.
        state.touched |= !piece.is_empty();
        drop(state);
        if piece.is_empty() {
            // End of input: the encoder reports a source shorter than declared.
            self.emit_finish()?;
            return Poll::Ready(Ok(()));
        }
        if !probing {
            self.remaining = self.remaining.saturating_sub(piece.len() as u64);
        }
        // A byte past the declared length makes the encoder report the mismatch.
        self.emit(piece)?;
        if self.remaining == 0 && !self.probe_eof {
            self.emit_finish()?;
        }
        Poll::Ready(Ok(()))
    }
}

impl BodyStream {
    /// Accounts for `piece` handed to the connection: bytes moved, and the request sent
    /// with its last piece.
    fn sent(&mut self, piece: Bytes) -> Bytes {
        self.attempt_state.moved(piece.len() as u64);
        if self.done && self.queue.is_empty() {
            self.attempt_state.request_sent();
        }
        piece
    }
}

impl Stream for BodyStream {
    type Item = Result<Bytes, io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done && this.queue.is_empty() {
            return Poll::Ready(None);
        }
        if this.attempt_state.body_refused() {
            // Not the source's failure (nothing goes to the slot): the server refused, and
            // this error stops hyper from sending the rest.
            this.done = true;
            return Poll::Ready(Some(Err(io::Error::other(
                "the server refused the request before its body was complete",
            ))));
        }
        if let Some(piece) = this.queue.pop_front() {
            return Poll::Ready(Some(Ok(this.sent(piece))));
        }
        if this.done {
            return Poll::Ready(None);
        }
        // The stream is polled by the connection (maybe another task): a panic of the
        // caller's code here would only fail the attempt. It stops the body instead and is
        // kept for the upload future to raise.
        let piece = match std::panic::catch_unwind(AssertUnwindSafe(|| this.poll_piece(cx))) {
            Ok(piece) => piece,
            Err(payload) => {
                this.done = true;
                let mut slot = this.slot.lock();
                slot.reader = None;
                slot.panic.get_or_insert(payload);
                return Poll::Ready(Some(Err(io::Error::other(
                    "the upload's progress callback or reader panicked",
                ))));
            }
        };
        match piece {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => match this.queue.pop_front() {
                Some(piece) => Poll::Ready(Some(Ok(this.sent(piece)))),
                // Nothing to send yet (an empty tail): ask again.
                None if !this.done => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                None => {
                    this.attempt_state.request_sent();
                    Poll::Ready(None)
                }
            },
            Poll::Ready(Err(error)) => Poll::Ready(Some(Err(this.fail(error)))),
        }
    }
}

impl Content {
    /// The reqwest body of one attempt, with the guard that closes its source.
    pub(crate) fn body(
        &mut self,
        body: &Body,
        progress: ProgressReporter,
        attempt_state: &AttemptState,
    ) -> Result<(reqwest::Body, Option<SlotGuard>), AttemptFailure> {
        let framed = match body {
            Body::Empty => {
                attempt_state.request_sent();
                return Ok((reqwest::Body::from(Vec::new()), None));
            }
            // A complete body stays a replayable bytes body (a caller's client that follows
            // a 307 can send it again), so the budget cannot see it go out: it counts as
            // sent when the attempt starts (a few hundred bytes; the answer limit then also
            // covers connecting).
            Body::Complete(bytes) => {
                attempt_state.request_sent();
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
                let read = start.content.len() as u64;
                let rest = content_len.saturating_sub(read);
                let reader = match start.rest {
                    Some(file) => Some(Reader::ReadAhead(ReadAhead::start(
                        file, read, rest, probe_eof,
                    ))),
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
            attempt_state: attempt_state.clone(),
        });
        Ok((reqwest::Body::wrap_stream(stream), Some(SlotGuard(slot))))
    }

    /// Takes the reader back after an attempt, if it can be sent again.
    pub(crate) fn reclaim(&mut self, slot: &Slot) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt as _;
    use kie_proto::driver::CallKind;
    use kie_proto::{ContentEncoding, FramedBody, Timeouts};
    use std::time::Duration;

    async fn collect(
        body: FramedBody,
        prefix: &[u8],
        rest: &[u8],
        probe: bool,
    ) -> Result<Vec<u8>, String> {
        let slot = Slot::new(Some(Reader::plain(std::io::Cursor::new(rest.to_vec()))));
        let mut stream = BodyStream::new(BodyParts {
            remaining: body.content_len() - prefix.len() as u64,
            encoder: body.into_encoder(),
            prefix: Bytes::copy_from_slice(prefix),
            probe_eof: probe,
            slot: slot.clone(),
            path: None,
            progress: ProgressReporter::new(None, 0),
            attempt_state: AttemptState::new(CallBudget::new(
                &Timeouts::NONE,
                CallKind::Upload,
                now(),
            )),
        });
        let mut wire = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => wire.extend_from_slice(&chunk),
                Err(_) => {
                    return Err(slot
                        .lock()
                        .error
                        .take()
                        .map(|e| e.to_string())
                        .unwrap_or_default());
                }
            }
        }
        Ok(wire)
    }

    #[tokio::test]
    async fn huge_idle_timeout_never_fires_and_does_not_panic() {
        let huge = Timeouts::NONE.with_idle(Some(Duration::MAX));
        let attempt_state = AttemptState::new(CallBudget::new(&huge, CallKind::Upload, now()));
        let waited = tokio::time::timeout(Duration::from_millis(20), attempt_state.expired()).await;
        assert!(waited.is_err(), "an idle limit of Duration::MAX fired");
        let tiny = Timeouts::NONE.with_idle(Some(Duration::from_millis(1)));
        let attempt_state = AttemptState::new(CallBudget::new(&tiny, CallKind::Upload, now()));
        let waited = tokio::time::timeout(Duration::from_secs(5), attempt_state.expired()).await;
        assert_eq!(
            waited.ok(),
            Some(TimeoutReason::Idle {
                limit: Duration::from_millis(1)
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_moving_restart_the_idle_timer() {
        let limit = Duration::from_secs(10);
        let timeouts = Timeouts::NONE.with_idle(Some(limit));
        let attempt_state = AttemptState::new(CallBudget::new(&timeouts, CallKind::Upload, now()));
        let started = Instant::now();
        let feeder = {
            let attempt_state = attempt_state.clone();
            async move {
                for _ in 0..5 {
                    tokio::time::sleep(Duration::from_secs(8)).await;
                    attempt_state.moved(1);
                }
                std::future::pending::<()>().await;
            }
        };
        let reason = tokio::select! {
            reason = attempt_state.expired() => reason,
            () = feeder => unreachable!(),
        };
        assert_eq!(reason, TimeoutReason::Idle { limit });
        assert_eq!(started.elapsed(), Duration::from_secs(50));
    }

    #[tokio::test]
    async fn streams_prefix_then_reader_through_the_encoder() {
        let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for encoding in [ContentEncoding::Raw, ContentEncoding::Base64] {
            let body = FramedBody::new(
                b"HEAD".to_vec(),
                content.len() as u64,
                encoding,
                b"TAIL".to_vec(),
            );
            let expected = body.to_vec(&content).map_err(|e| e.to_string());
            for probe in [false, true] {
                let wire = collect(body.clone(), &content[..100], &content[100..], probe).await;
                assert_eq!(wire, expected);
            }
        }
    }

    #[tokio::test]
    async fn short_and_long_sources_are_errors() {
        let body = FramedBody::new(b"H".to_vec(), 10, ContentEncoding::Raw, b"T".to_vec());
        let short = collect(body.clone(), b"ab", b"cd", false).await;
        assert!(short.is_err_and(|e| e.contains("upload content is 4 bytes but 10")));
        let long = collect(body.clone(), b"", b"0123456789X", true).await;
        assert!(long.is_err_and(|e| e.contains("11 or more")));
        let exact_no_probe = collect(body, b"", b"0123456789X", false).await;
        assert_eq!(exact_no_probe, Ok(b"H0123456789T".to_vec()));
    }
}
