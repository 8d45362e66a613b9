//! The TCP layer of the client's own ureq agent: every socket wait is bounded by the call's
//! time budget (kie-proto's [`CallBudget`]), and an answer that arrives while the body is
//! still going out is read, not lost.
//!
//! Why not ureq's own TCP transport: it applies its per-write timeout to each `write`
//! system call, and one stalled `write_all` makes two or three of them, so a peer that
//! stops reading held an attempt for up to 3× the configured time. Here every system call
//! waits at most until the budget's deadline, so the configured time holds.
//!
//! And when the peer answers early and stops reading (a 413 from a server or CDN that will
//! not take the body, then a close or a reset), a write fails with a broken pipe or a reset.
//! ureq would report that error and lose the answer sitting in the socket's receive queue;
//! here the failed write marks the attempt [`refused`](AttemptState::refused): the rest of
//! the body is skipped (the body reader stops reading the source, see
//! `source::FramedReader`) and ureq goes on to read the answer that arrived. No answer
//! there means the connection was lost, reported as before.
//!
//! The budget of the attempt in progress lives in a thread-local [`ATTEMPT`]: a blocking
//! call runs its whole exchange (ureq's state machine, this transport, the body reader) on
//! the calling thread, and ureq offers no other way to hand per-request state to a pooled
//! connection. Outside an attempt of this crate (no budget set), the transport only honours
//! ureq's own timeouts.

use std::cell::RefCell;
use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use kie_proto::TimeoutReason;
use kie_proto::driver::CallBudget;
use kie_proto::driver::{AnswerHead, next_answer_head, skip_interim};
use ureq::Error;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
};

/// The state of the attempt running on this thread.
#[derive(Debug)]
pub(crate) struct AttemptState {
    /// The call's budget.
    pub budget: CallBudget,
    /// The rule that ended the attempt, if one did.
    pub expired: Option<TimeoutReason>,
    /// The request body was produced to its end (set by the body reader; for complete
    /// bodies, from the start).
    pub body_complete: bool,
    /// A write failed while the body was going out: the peer stopped reading, maybe after
    /// answering. The rest of the body is skipped, and the answer read if there is one.
    pub refused: bool,
    /// Wire bytes written to the socket in this attempt.
    pub written: u64,
}

impl AttemptState {
    /// The state of an attempt under `budget` that sends `body`.
    pub(crate) fn new(budget: CallBudget, body: &kie_proto::Body) -> Self {
        AttemptState {
            budget,
            expired: None,
            body_complete: !matches!(body, kie_proto::Body::Framed(_)),
            refused: false,
            written: 0,
        }
    }
}

thread_local! {
    /// The attempt in progress on this thread, set by [`with_attempt`].
    static ATTEMPT: RefCell<Option<AttemptState>> = const { RefCell::new(None) };
}

/// Runs `f` with `state` as this thread's attempt; afterwards `state` holds the attempt's
/// state as `f` left it (and the thread's slot what it held before).
pub(crate) fn with_attempt<T>(state: &mut Option<AttemptState>, f: impl FnOnce() -> T) -> T {
    struct SwapBack<'a>(&'a mut Option<AttemptState>);
    impl Drop for SwapBack<'_> {
        fn drop(&mut self) {
            ATTEMPT.with(|slot| std::mem::swap(&mut *slot.borrow_mut(), self.0));
        }
    }
    ATTEMPT.with(|slot| std::mem::swap(&mut *slot.borrow_mut(), state));
    let _back = SwapBack(state);
    f()
}

/// Runs `f` on this thread's attempt, if there is one.
pub(crate) fn attempt<T>(f: impl FnOnce(&mut AttemptState) -> T) -> Option<T> {
    ATTEMPT.with(|slot| slot.borrow_mut().as_mut().map(f))
}

/// The longest one `read` or `write` system call may block before the loop around it looks
/// at the deadline again. Two reasons: a socket timeout is served by the kernel's coarse
/// timer wheel, which fires up to 1/8 of a long timeout late (a 29.5 s wait returned 1.5 s
/// late), and a blocked `write` reports the bytes it copied only when it returns, so a long
/// wait would restart the idle timer late. Short slices keep both errors within a few ms.
const WAIT_SLICE: Duration = Duration::from_millis(200);

/// Opens TCP connections whose transport obeys the call's budget; passes through a
/// connection a connector before it made (a CONNECT proxy's tunnel).
#[derive(Debug, Default)]
pub(crate) struct BudgetTcpConnector;

impl<In: Transport> Connector<In> for BudgetTcpConnector {
    type Out = Either<In, BudgetTcpTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        if let Some(chained) = chained {
            return Ok(Some(Either::A(chained)));
        }
        let config = details.config;
        let stream = connect(details.addrs.iter().copied(), details.timeout)?;
        stream.set_nodelay(config.no_delay())?;
        let buffers = LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
        Ok(Some(Either::B(BudgetTcpTransport {
            stream,
            buffers,
            read_timeout: SocketTimeout::default(),
            write_timeout: SocketTimeout::default(),
        })))
    }
}

/// Tries each address in turn within ureq's connect timeout.
fn connect(
    addrs: impl Iterator<Item = SocketAddr>,
    timeout: NextTimeout,
) -> Result<TcpStream, Error> {
    let deadline = if timeout.after.is_not_happening() {
        None
    } else {
        Instant::now().checked_add(*timeout.after)
    };
    let mut last = None;
    for addr in addrs {
        let result = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::Timeout(timeout.reason));
                }
                TcpStream::connect_timeout(&addr, left)
            }
            None => TcpStream::connect(addr),
        };
        match result {
            Ok(stream) => return Ok(stream),
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                last = Some(Error::Timeout(timeout.reason));
            }
            Err(e) => last = Some(Error::Io(e)),
        }
    }
    Err(last.unwrap_or(Error::ConnectionFailed))
}

/// A TCP connection whose every wait ends at the earlier of ureq's timeout and the call
/// budget's deadline.
pub(crate) struct BudgetTcpTransport {
    stream: TcpStream,
    buffers: LazyBuffers,
    read_timeout: SocketTimeout,
    write_timeout: SocketTimeout,
}

/// A socket timeout as last set, so an unchanged one (the usual [`WAIT_SLICE`]) costs no
/// system call per read or write.
#[derive(Debug, Default)]
struct SocketTimeout(Option<Duration>);

impl SocketTimeout {
    /// Makes the next blocking call wait at most `wait`, through `set` when it changed.
    fn arm(
        &mut self,
        wait: Duration,
        set: impl FnOnce(Option<Duration>) -> io::Result<()>,
    ) -> io::Result<()> {
        if self.0 != Some(wait) {
            set(Some(wait))?;
            self.0 = Some(wait);
        }
        Ok(())
    }
}

impl fmt::Debug for BudgetTcpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BudgetTcpTransport")
            .field("peer", &self.stream.peer_addr().ok())
            .finish_non_exhaustive()
    }
}

/// How long the next system call may block: the earlier of ureq's limit and the budget's
/// deadline. `Err` when one of them has already passed.
fn next_wait(timeout: &NextTimeout) -> Result<Option<Duration>, Error> {
    let ureq_limit = (!timeout.after.is_not_happening()).then(|| *timeout.after);
    let now = Instant::now();
    let budget = attempt(|state| match state.budget.check(now) {
        Err(reason) => {
            state.expired.get_or_insert(reason);
            Err(())
        }
        Ok(()) => Ok(state.budget.remaining(now)),
    });
    let budget_limit = match budget {
        Some(Err(())) => return Err(timed_out()),
        Some(Ok(left)) => left,
        None => None,
    };
    if ureq_limit.is_some_and(|d| d.is_zero()) {
        return Err(Error::Timeout(timeout.reason));
    }
    let wait = match (ureq_limit, budget_limit) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    // A zero wait would mean "block forever" to the socket: the smallest real one instead.
    Ok(wait.map(|d| d.max(Duration::from_millis(1))))
}

/// The error of an attempt the budget ended; the reason is in [`AttemptState::expired`].
fn timed_out() -> Error {
    Error::Io(io::Error::new(
        ErrorKind::TimedOut,
        "the call's time budget ran out",
    ))
}

/// Whether a write error means the peer stopped taking the request.
fn peer_stopped_reading(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
    )
}

impl BudgetTcpTransport {
    /// Whether, while this attempt's body is going out, the server has already started its
    /// final plain-HTTP answer: it answered before reading the whole body (a 413 then a
    /// graceful close, as nginx does), so the rest is not sent. Interim answers (`100
    /// Continue`, sent twice by Python's `http.server`; `103 Early Hints`; `102
    /// Processing`) are skipped: the body goes on. Only a complete final status line counts
    /// (kie-proto's [`skip_interim`]). Through TLS the bytes are encrypted and never match:
    /// there an early answer is found only when a write fails.
    fn answered_early(&self) -> bool {
        let sending_body = attempt(|state| !state.body_complete && state.written > 0);
        if sending_body != Some(true) || self.stream.set_nonblocking(true).is_err() {
            return false;
        }
        let mut head = [0u8; PEEK_LEN];
        let peeked = self.stream.peek(&mut head);
        let restored = self.stream.set_nonblocking(false);
        let Ok(peeked) = peeked else {
            return false;
        };
        let (_, next) = skip_interim(&head[..peeked]);
        restored.is_ok()
            && matches!(
                next,
                AnswerHead::Final { .. } | AnswerHead::SwitchingProtocols
            )
    }
}

/// How many waiting answer bytes [`BudgetTcpTransport::answered_early`] looks at: room for a
/// few interim answers with headers (a `103 Early Hints` with several `Link` fields) before
/// the final status line. Interim answers longer than this leave the body going out, as if
/// nothing had arrived.
const PEEK_LEN: usize = 4096;

impl Transport for BudgetTcpTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        let timeout = timeout.for_write();
        if attempt(|state| state.refused) == Some(true) {
            return Ok(()); // the peer stopped reading: the rest of the body is skipped
        }
        if self.answered_early() {
            attempt(|state| state.refused = true);
            return Ok(());
        }
        let started = Instant::now();
        let mut sent = 0;
        while sent < amount {
            self.write_timeout
                .arm(slice_of(&timeout, started)?, |wait| {
                    self.stream.set_write_timeout(wait)
                })?;
            let output = &self.buffers.output()[sent..amount];
            match self.stream.write(output) {
                Ok(0) => return Err(Error::Io(ErrorKind::WriteZero.into())),
                Ok(n) => {
                    sent += n;
                    attempt(|state| {
                        state.budget.moved(Instant::now(), n as u64);
                        state.written += n as u64;
                    });
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if peer_stopped_reading(&e) => {
                    // An answer may be waiting in the receive queue: let ureq read it.
                    let in_attempt = attempt(|state| state.refused = true).is_some();
                    return if in_attempt { Ok(()) } else { Err(e.into()) };
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        let timeout = timeout.for_read();
        attempt(|state| {
            if state.body_complete || state.refused {
                state.budget.request_sent(Instant::now());
            }
        });
        let started = Instant::now();
        loop {
            self.read_timeout
                .arm(slice_of(&timeout, started)?, |wait| {
                    self.stream.set_read_timeout(wait)
                })?;
            let input = self.buffers.input_append_buf();
            match self.stream.read(input) {
                Ok(n) => {
                    self.buffers.input_appended(n);
                    attempt(|state| state.budget.moved(Instant::now(), n as u64));
                    return Ok(n > 0);
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn is_open(&mut self) -> bool {
        probe(&self.stream).unwrap_or(false)
    }
}

/// How long one blocking read or write of an operation started at `started` may wait: what
/// is left of ureq's timeout and the budget, at most [`WAIT_SLICE`].
fn slice_of(timeout: &NextTimeout, started: Instant) -> Result<Duration, Error> {
    Ok(next_wait(&remaining(timeout, started))?.map_or(WAIT_SLICE, |wait| wait.min(WAIT_SLICE)))
}

/// ureq's timeout less the time already spent in this operation.
fn remaining(timeout: &NextTimeout, started: Instant) -> NextTimeout {
    let mut timeout = *timeout;
    if !timeout.after.is_not_happening() {
        timeout.after = (*timeout.after).saturating_sub(started.elapsed()).into();
    }
    timeout
}

/// Wraps the connection ureq finally talks HTTP over (after TLS, if any) in a
/// [`ReparseTransport`].
#[derive(Debug, Default)]
pub(crate) struct ReparseConnector;

impl<In: Transport> Connector<In> for ReparseConnector {
    type Out = ReparseTransport<In>;

    fn connect(
        &self,
        _details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        Ok(chained.map(|inner| ReparseTransport {
            inner,
            reparsed: None,
        }))
    }
}

/// A connection on which ureq is shown the answer in a shape it reads right, at the right
/// time.
///
/// - An answer ureq holds but did not parse is parsed before ureq waits for more bytes.
///   After a refusal (a 413) in answer to `Expect: 100-continue`, ureq reads the refusal
///   while waiting for `100 Continue`, then waits for more input before parsing it, until
///   the server closes (nginx: 5 s later, and through TLS without `close_notify`, so the
///   answer was lost as a broken connection). Here ureq is let to parse once more before
///   blocking; if that makes no progress, it waits for bytes as usual.
/// - While an attempt waits for its final answer, interim answers ureq would take wrongly
///   are dropped before it sees them (RFC 9110 §15.2: a client reads any number of 1xx
///   answers before the final one). Waiting for `100 Continue`, ureq takes a 1xx with
///   header fields (a `103 Early Hints` with `Link`), even one still arriving, for the
///   final answer and never sends the body; and it refuses a `100 Continue` with header
///   fields. A bare `100 Continue` is left to ureq (it ends ureq's wait for one), and an
///   answer head still arriving is completed before ureq sees it.
///
/// This sits on the decrypted side of TLS: the input that matters is the plaintext ureq
/// reads.
#[derive(Debug)]
pub(crate) struct ReparseTransport<T> {
    inner: T,
    /// The unconsumed input length for which ureq was already let to parse again without
    /// new bytes.
    reparsed: Option<usize>,
}

/// The longest answer head [`ReparseTransport`] completes before ureq sees it; past this,
/// ureq sees it as it is (and reports a header section that is too large).
const MAX_HELD_HEAD: usize = 16 * 1024;

impl<T: Transport> ReparseTransport<T> {
    /// Drops, from the front of ureq's input, the complete interim answers ureq would take
    /// wrongly. Returns whether the input now starts with an answer head still arriving,
    /// which ureq must not see yet. Only inside an attempt, before its final answer's head
    /// (afterwards the input is the answer's body, whatever its bytes).
    fn tidy_answer_head(&mut self) -> bool {
        let awaiting_head = attempt(|state| !state.budget.is_answer_head_received());
        if awaiting_head != Some(true) {
            return false;
        }
        loop {
            let input = self.inner.buffers().input();
            if input.len() > MAX_HELD_HEAD {
                return false;
            }
            match next_answer_head(input) {
                AnswerHead::Interim {
                    status: 100,
                    has_headers: false,
                    ..
                } => return false,
                AnswerHead::Interim { len, .. } => self.inner.buffers().input_consume(len),
                AnswerHead::Incomplete => return !input.is_empty(),
                _ => return false,
            }
        }
    }
}

impl<T: Transport> Transport for ReparseTransport<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.inner.transmit_output(amount, timeout)
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        if !self.tidy_answer_head() && self.inner.buffers().can_use_input() {
            return Ok(true);
        }
        self.await_input(timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        loop {
            let held = self.tidy_answer_head();
            let unconsumed = self.inner.buffers().input().len();
            if unconsumed > 0 && !held && self.reparsed != Some(unconsumed) {
                self.reparsed = Some(unconsumed);
                return Ok(true);
            }
            if !self.inner.await_input(timeout)? {
                return Ok(false);
            }
            // New bytes: ureq parses them (and, if that makes no progress, once more
            // before it blocks again).
            if !self.tidy_answer_head() && !self.inner.buffers().input().is_empty() {
                return Ok(true);
            }
        }
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// Whether an idle pooled connection is still usable: nothing to read, no error, no EOF.
fn probe(stream: &TcpStream) -> io::Result<bool> {
    stream.set_nonblocking(true)?;
    let mut buf = [0u8; 1];
    let open = matches!((&*stream).read(&mut buf), Err(e) if e.kind() == ErrorKind::WouldBlock);
    stream.set_nonblocking(false)?;
    Ok(open)
}
