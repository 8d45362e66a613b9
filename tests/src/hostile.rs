//! A hostile HTTP peer on loopback: raw sockets, scripted misbehaviour, exact byte counts.
//!
//! The [emulator](crate::Emulator) is the protocol's truth; this peer is the network's. It
//! speaks just enough HTTP/1.1 to read a request head (and `Content-Length` and
//! `Expect: 100-continue`), then does what its [`Behaviour`] says: stall before or after
//! the answer's headers, drip bytes in either direction, never read at all, stop reading
//! mid-body, answer early and close, or send any bytes as the answer (malformed status
//! lines, chunking or headers, a BOM before the JSON, a JSON array).
//!
//! It records, per connection, the request head, the body bytes it read and when the
//! connection started and ended, so a test can assert "the client sent at most N bytes
//! before it reported the 413" or "the client hung up after 1 s".
//!
//! Everything is bounded: every socket operation polls a stop flag at least every 50 ms, a
//! connection lives at most [`MAX_CONNECTION_LIFETIME`], and dropping the peer stops and
//! joins every thread it started.
//!
//! ```
//! use std::io::{Read, Write};
//! use kie_tests::hostile::{Behaviour, HostilePeer};
//!
//! let peer = HostilePeer::start(Behaviour::Answer(Behaviour::json(200, r#"{"code":200,"data":5}"#)));
//! let mut socket = std::net::TcpStream::connect(peer.addr())?;
//! socket.write_all(b"GET /api/v1/chat/credit HTTP/1.1\r\nHost: x\r\n\r\n")?;
//! let mut answer = String::new();
//! socket.read_to_string(&mut answer)?;
//! assert!(answer.starts_with("HTTP/1.1 200 "));
//! assert!(answer.ends_with(r#"{"code":200,"data":5}"#));
//! assert_eq!(peer.connections()[0].request_line(), "GET /api/v1/chat/credit HTTP/1.1");
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest a connection is kept, whatever its behaviour: a stalled client is let go
/// after this, so no test can hang on the peer.
pub const MAX_CONNECTION_LIFETIME: Duration = Duration::from_secs(600);

/// How often blocked socket operations wake to check the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// The pause between the pieces of a split write ([`Behaviour::Interim`]'s `segment`).
const SEGMENT_PAUSE: Duration = Duration::from_millis(5);

/// The largest request head the peer reads.
const MAX_HEAD: usize = 64 * 1024;

/// What the peer does with one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Accept and never read or write: the client's writes stall once the socket buffers
    /// are full, its reads never see a byte.
    Blackhole,
    /// Read the request head and the whole body, then never answer.
    StallBeforeHeaders,
    /// Read the request head and the whole body, send `head` (a status line and headers
    /// that promise a body), then never send anything else.
    StallAfterHeaders {
        /// The answer's status line and headers, up to and including the blank line.
        head: Vec<u8>,
    },
    /// Read the request head and the whole body, then send `answer` in pieces of `bytes`,
    /// one piece every `every`, and close.
    DripAnswer {
        /// The complete answer (status line, headers, body).
        answer: Vec<u8>,
        /// Bytes per piece (at least 1).
        bytes: usize,
        /// The pause before each piece.
        every: Duration,
    },
    /// Read the request head, then read the body at most `bytes` at a time, one read every
    /// `every`; once the whole body is read, send `answer` and close.
    DripRead {
        /// Bytes per read (at least 1).
        bytes: usize,
        /// The pause before each read.
        every: Duration,
        /// The answer sent after the whole body.
        answer: Vec<u8>,
    },
    /// Read the request head and the first `after` body bytes, then stop reading and never
    /// answer.
    StopReading {
        /// Body bytes read before the peer stops reading.
        after: u64,
    },
    /// Read the request head and the first `after` body bytes (0: none, like a server
    /// refusing on the `Content-Length` header), send `answer` while the body is still
    /// arriving, then close as `close` says.
    EarlyAnswer {
        /// Body bytes read before answering.
        after: u64,
        /// The answer.
        answer: Vec<u8>,
        /// How the connection ends.
        close: Close,
    },
    /// Read the request head and the whole body, send these bytes as the answer (anything:
    /// a malformed status line, broken chunking, bad headers, a BOM, a JSON array), close.
    Answer(Vec<u8>),
    /// Interim (1xx) answers around a final one, as Python's `http.server`, Werkzeug or a
    /// CDN send them: read the request head, send `at_once` (asked for or not, before any
    /// body byte is read), read the first `mid_after` body bytes, send `mid`, read the rest
    /// of the body, send `after_body`, then `answer`, and close. The body read is kept
    /// ([`ConnectionRecord::body`]). With `segment`, every write goes out `segment` bytes
    /// at a time, 5 ms apart (answers split across TCP segments).
    Interim {
        /// Sent right after the request head (e.g. `103 Early Hints` then `100 Continue`).
        at_once: Vec<u8>,
        /// Body bytes read before `mid` is sent.
        mid_after: u64,
        /// Sent while the body is arriving (e.g. Werkzeug's second `100 Continue`).
        mid: Vec<u8>,
        /// Sent after the whole body was read (e.g. `102 Processing`).
        after_body: Vec<u8>,
        /// The final answer.
        answer: Vec<u8>,
        /// Bytes per write, when writes are split.
        segment: Option<usize>,
    },
}

/// How the peer ends a connection after an early answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Close {
    /// Close at once with the rest of the body unread: the kernel answers the client's
    /// next segments with a reset (what a crashing or impatient server does).
    Reset,
    /// Half-close (FIN), then read and discard what still arrives until the client hangs up
    /// (the client can read the answer, and sees its end).
    Linger,
    /// Keep the connection open, reading and discarding what arrives, until the client hangs
    /// up (nginx's lingering close: it closes only after 5 s without data). A client that
    /// waits for the close before reading the answer waits for nothing.
    Open,
}

impl Behaviour {
    /// An HTTP/1.1 answer with `status`, `Content-Type: application/json`, an exact
    /// `Content-Length` and `Connection: close`.
    pub fn json(status: u16, body: &str) -> Vec<u8> {
        Behaviour::response(
            status,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }

    /// An HTTP/1.1 answer with `status`, the given headers, an exact `Content-Length` and
    /// `Connection: close`.
    pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        for (name, value) in headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        ));
        let mut out = out.into_bytes();
        out.extend_from_slice(body);
        out
    }

    /// The head of a JSON answer that promises `len` body bytes (for
    /// [`StallAfterHeaders`](Self::StallAfterHeaders)).
    pub fn json_head(status: u16, len: usize) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n",
            reason(status)
        )
        .into_bytes()
    }

    /// The 413 a server or CDN sends for a body it will not take.
    pub fn payload_too_large() -> Vec<u8> {
        Behaviour::response(
            413,
            &[("Content-Type", "text/html")],
            b"<html><head><title>413 Request Entity Too Large</title></head><body>\
              <center><h1>413 Request Entity Too Large</h1></center></body></html>\r\n",
        )
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        413 => "Request Entity Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Status",
    }
}

/// What happened on one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionRecord {
    /// The request head as received (request line and headers), lossily decoded.
    pub head: String,
    /// The request's `Content-Length`, if it had one.
    pub content_length: Option<u64>,
    /// Whether the request asked for `Expect: 100-continue`.
    pub expect_continue: bool,
    /// Request body bytes the peer read.
    pub body_received: u64,
    /// When the connection was accepted.
    pub accepted: Instant,
    /// When the peer saw the client hang up (EOF or reset), if it did.
    pub client_closed: Option<Instant>,
    /// When the peer let go of the connection.
    pub ended: Option<Instant>,
    /// The request body bytes read, kept by [`Behaviour::Interim`] only (empty otherwise).
    pub body: Vec<u8>,
}

impl ConnectionRecord {
    /// The request line, e.g. `POST /api/file-stream-upload HTTP/1.1`.
    pub fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }
}

struct Shared {
    stop: AtomicBool,
    script: Mutex<Script>,
    log: Mutex<Vec<ConnectionRecord>>,
}

struct Script {
    next: VecDeque<Behaviour>,
    default: Behaviour,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running hostile peer; stops (and joins its threads) when dropped.
pub struct HostilePeer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for HostilePeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostilePeer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl HostilePeer {
    /// Starts a peer on `127.0.0.1` (a free port) that treats every connection with
    /// `default`, unless [`push`](Self::push) scripted something else for it.
    ///
    /// # Panics
    /// If no loopback port can be bound (a broken test machine).
    pub fn start(default: Behaviour) -> HostilePeer {
        #[allow(clippy::expect_used)]
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        #[allow(clippy::expect_used)]
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        #[allow(clippy::expect_used)]
        listener
            .set_nonblocking(true)
            .expect("a listener can be non-blocking");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            script: Mutex::new(Script {
                next: VecDeque::new(),
                default,
            }),
            log: Mutex::new(Vec::new()),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || accept_loop(&listener, &shared))
        };
        HostilePeer {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// The next connection (after those already scripted) gets `behaviour`.
    pub fn push(&self, behaviour: Behaviour) {
        lock(&self.shared.script).next.push_back(behaviour);
    }

    /// The peer's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, to use as an upload or API base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every connection so far, in the order accepted.
    pub fn connections(&self) -> Vec<ConnectionRecord> {
        lock(&self.shared.log).clone()
    }

    /// Request body bytes read over all connections.
    pub fn body_bytes_received(&self) -> u64 {
        lock(&self.shared.log).iter().map(|c| c.body_received).sum()
    }
}

impl Drop for HostilePeer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let mut handlers: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((socket, _)) => {
                let behaviour = {
                    let mut script = lock(&shared.script);
                    script
                        .next
                        .pop_front()
                        .unwrap_or_else(|| script.default.clone())
                };
                let index = {
                    let mut log = lock(&shared.log);
                    log.push(ConnectionRecord {
                        head: String::new(),
                        content_length: None,
                        expect_continue: false,
                        body_received: 0,
                        accepted: Instant::now(),
                        client_closed: None,
                        ended: None,
                        body: Vec::new(),
                    });
                    log.len() - 1
                };
                let shared = Arc::clone(shared);
                handlers.push(std::thread::spawn(move || {
                    let mut connection = Connection {
                        socket,
                        shared: &shared,
                        index,
                        deadline: Instant::now() + MAX_CONNECTION_LIFETIME,
                        pending: Vec::new(),
                        keep_body: matches!(behaviour, Behaviour::Interim { .. }),
                        segment: match &behaviour {
                            Behaviour::Interim { segment, .. } => *segment,
                            _ => None,
                        },
                    };
                    // Every error ends the connection; the record says how far it got.
                    let _ = connection.serve(&behaviour);
                    lock(&shared.log)[index].ended = Some(Instant::now());
                }));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(_) => std::thread::sleep(POLL),
        }
        handlers.retain(|h| !h.is_finished());
    }
    for handler in handlers {
        let _ = handler.join();
    }
}

/// Why the peer stopped serving a connection early.
#[derive(Debug)]
enum Stop {
    /// The peer is shutting down or the connection outlived its lifetime.
    Stopped,
    /// The client hung up.
    ClientClosed,
    /// A socket error.
    Io,
}

impl From<io::Error> for Stop {
    fn from(_: io::Error) -> Self {
        Stop::Io
    }
}

struct Connection<'a> {
    socket: TcpStream,
    shared: &'a Shared,
    index: usize,
    deadline: Instant,
    /// Bytes read past the request head (the start of the body) and not yet counted.
    pending: Vec<u8>,
    /// Whether the body read is kept in the record.
    keep_body: bool,
    /// Bytes per write, when writes are split into segments.
    segment: Option<usize>,
}

impl Connection<'_> {
    fn record(&self, update: impl FnOnce(&mut ConnectionRecord)) {
        update(&mut lock(&self.shared.log)[self.index]);
    }

    fn check(&self) -> Result<(), Stop> {
        if self.shared.stop.load(Ordering::SeqCst) || Instant::now() >= self.deadline {
            Err(Stop::Stopped)
        } else {
            Ok(())
        }
    }

    /// Waits (without reading) until stopped.
    fn hold(&self) -> Result<(), Stop> {
        loop {
            self.check()?;
            std::thread::sleep(POLL);
        }
    }

    /// Sleeps `pause`, waking to check the stop flag.
    fn pause(&self, pause: Duration) -> Result<(), Stop> {
        let until = Instant::now() + pause;
        while Instant::now() < until {
            self.check()?;
            std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
        }
        Ok(())
    }

    /// One read of at most `buf.len()` bytes, waking every [`POLL`] to check the stop flag.
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, Stop> {
        loop {
            self.check()?;
            match self.socket.read(buf) {
                Ok(0) => {
                    self.record(|r| r.client_closed = Some(Instant::now()));
                    return Err(Stop::ClientClosed);
                }
                Ok(n) => return Ok(n),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    self.record(|r| r.client_closed = Some(Instant::now()));
                    return Err(Stop::Io);
                }
            }
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        let Some(segment) = self.segment else {
            return self.write_whole(bytes);
        };
        for piece in bytes.chunks(segment.max(1)) {
            self.write_whole(piece)?;
            self.pause(SEGMENT_PAUSE)?;
        }
        Ok(())
    }

    fn write_whole(&mut self, mut bytes: &[u8]) -> Result<(), Stop> {
        while !bytes.is_empty() {
            self.check()?;
            match self.socket.write(bytes) {
                Ok(0) => return Err(Stop::ClientClosed),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(Stop::Io),
            }
        }
        Ok(())
    }

    /// Reads the request head; keeps what follows it in `pending`.
    fn read_head(&mut self) -> Result<(), Stop> {
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        let end = loop {
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if head.len() > MAX_HEAD {
                return Err(Stop::Io);
            }
            let n = self.read_some(&mut buf)?;
            head.extend_from_slice(&buf[..n]);
        };
        self.pending = head.split_off(end);
        let text = String::from_utf8_lossy(&head).into_owned();
        let header = |name: &str| {
            text.lines().skip(1).find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
        };
        let content_length = header("content-length").and_then(|v| v.parse().ok());
        let expect_continue =
            header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        self.record(|r| {
            r.head = text.clone();
            r.content_length = content_length;
            r.expect_continue = expect_continue;
        });
        Ok(())
    }

    fn content_length(&self) -> u64 {
        lock(&self.shared.log)[self.index]
            .content_length
            .unwrap_or(0)
    }

    /// Sends `100 Continue` if the client asked for it (before reading any body).
    fn continue_if_asked(&mut self) -> Result<(), Stop> {
        let asked = lock(&self.shared.log)[self.index].expect_continue;
        if asked {
            self.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        Ok(())
    }

    /// Reads body bytes until `limit` of them were read in all (counting those read with
    /// the head and by earlier calls), at most `step` per read, pausing `every` before each
    /// read.
    fn read_body(&mut self, limit: u64, step: usize, every: Duration) -> Result<(), Stop> {
        let mut done = self.record_body_read(limit);
        let mut buf = vec![0u8; step.clamp(1, 256 * 1024)];
        while done < limit {
            self.pause(every)?;
            let want = usize::try_from(limit - done)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            let n = self.read_some(&mut buf[..want])?;
            done += n as u64;
            self.record(|r| r.body_received += n as u64);
            if self.keep_body {
                self.record(|r| r.body.extend_from_slice(&buf[..n]));
            }
        }
        Ok(())
    }

    /// Counts (and keeps, with `keep_body`) the body bytes that arrived with the head, up
    /// to `limit` body bytes in all; returns the body bytes read so far.
    fn record_body_read(&mut self, limit: u64) -> u64 {
        let received = lock(&self.shared.log)[self.index].body_received;
        let from_pending = usize::try_from(limit.saturating_sub(received))
            .unwrap_or(usize::MAX)
            .min(self.pending.len());
        let taken: Vec<u8> = self.pending.drain(..from_pending).collect();
        let keep = self.keep_body;
        self.record(|r| {
            r.body_received += taken.len() as u64;
            if keep {
                r.body.extend_from_slice(&taken);
            }
        });
        received + taken.len() as u64
    }

    /// Reads and discards until the client hangs up or the peer stops.
    fn drain(&mut self) {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = self.read_some(&mut buf) {
            self.record(|r| r.body_received += n as u64);
        }
    }

    fn serve(&mut self, behaviour: &Behaviour) -> Result<(), Stop> {
        self.socket.set_read_timeout(Some(POLL))?;
        self.socket.set_write_timeout(Some(POLL))?;
        if *behaviour == Behaviour::Blackhole {
            return self.hold();
        }
        self.read_head()?;
        let len = self.content_length();
        match behaviour {
            Behaviour::Blackhole => self.hold(),
            Behaviour::StallBeforeHeaders => {
                self.continue_if_asked()?;
                self.read_body(len, 64 * 1024, Duration::ZERO)?;
                self.hold()
            }
            Behaviour::StallAfterHeaders { head } => {
                self.continue_if_asked()?;
                self.read_body(len, 64 * 1024, Duration::ZERO)?;
                self.write_all(head)?;
                self.hold()
            }
            Behaviour::DripAnswer {
                answer,
                bytes,
                every,
            } => {
                self.continue_if_asked()?;
                self.read_body(len, 64 * 1024, Duration::ZERO)?;
                for piece in answer.chunks((*bytes).max(1)) {
                    self.pause(*every)?;
                    self.write_all(piece)?;
                }
                self.finish()
            }
            Behaviour::DripRead {
                bytes,
                every,
                answer,
            } => {
                self.continue_if_asked()?;
                self.read_body(len, (*bytes).max(1), *every)?;
                self.write_all(answer)?;
                self.finish()
            }
            Behaviour::StopReading { after } => {
                self.continue_if_asked()?;
                self.read_body((*after).min(len), 64 * 1024, Duration::ZERO)?;
                self.hold()
            }
            Behaviour::EarlyAnswer {
                after,
                answer,
                close,
            } => {
                if *after > 0 {
                    self.continue_if_asked()?;
                }
                self.read_body((*after).min(len), 64 * 1024, Duration::ZERO)?;
                self.write_all(answer)?;
                match close {
                    Close::Reset => Ok(()),
                    Close::Linger => {
                        let _ = self.socket.shutdown(Shutdown::Write);
                        self.drain();
                        Ok(())
                    }
                    Close::Open => {
                        self.drain();
                        Ok(())
                    }
                }
            }
            Behaviour::Interim {
                at_once,
                mid_after,
                mid,
                after_body,
                answer,
                segment: _,
            } => {
                self.socket.set_nodelay(true)?;
                self.write_all(at_once)?;
                self.read_body((*mid_after).min(len), 64 * 1024, Duration::ZERO)?;
                self.write_all(mid)?;
                self.read_body(len, 64 * 1024, Duration::ZERO)?;
                self.write_all(after_body)?;
                self.write_all(answer)?;
                self.finish()
            }
            Behaviour::Answer(answer) => {
                self.continue_if_asked()?;
                self.read_body(len, 64 * 1024, Duration::ZERO)?;
                self.write_all(answer)?;
                self.finish()
            }
        }
    }

    /// Ends an answered connection cleanly: half-close, then wait (bounded) for the
    /// client to hang up, so the answer is never cut by a reset.
    fn finish(&mut self) -> Result<(), Stop> {
        let _ = self.socket.shutdown(Shutdown::Write);
        self.deadline = self.deadline.min(Instant::now() + Duration::from_secs(5));
        self.drain();
        Ok(())
    }
}
