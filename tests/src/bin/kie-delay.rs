//! `kie-delay`: a TCP relay that adds a fixed one-way delay, for benchmarks of a link with a
//! round-trip time (loopback has none, and `tc netem` needs a kernel module containers often
//! lack). Every byte read from one side is written to the other `--delay-ms` later, in
//! order, each direction on its own; bandwidth is not limited. At most `--window` bytes
//! (default 4 MiB, Linux's largest send buffer by default) are on the way per direction, so
//! a sender is held back as TCP's window would hold it back: a window per round trip.
//!
//! ```text
//! kie-delay --upstream 127.0.0.1:8443 --delay-ms 10 --port 0
//! # prints KIE_DELAY_ADDR=127.0.0.1:<port>: a round trip through it takes 2 × 10 ms more
//! ```
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

/// The bytes on the way per direction unless `--window` says otherwise.
const WINDOW: u32 = 4 * 1024 * 1024;
/// The largest piece read at once.
const PIECE: usize = 64 * 1024;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let arg = |name: &str| std::env::args().skip_while(|arg| arg != name).nth(1);
    let usage =
        || std::io::Error::other("usage: kie-delay --upstream IP:PORT --delay-ms N [--port P]");
    let upstream: SocketAddr = arg("--upstream")
        .and_then(|a| a.parse().ok())
        .ok_or_else(usage)?;
    let delay = Duration::from_millis(
        arg("--delay-ms")
            .and_then(|a| a.parse().ok())
            .ok_or_else(usage)?,
    );
    let window = arg("--window")
        .and_then(|a| a.parse().ok())
        .unwrap_or(WINDOW);
    let port = arg("--port").and_then(|a| a.parse().ok()).unwrap_or(0u16);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("KIE_DELAY_ADDR={}", listener.local_addr()?);
    loop {
        let (client, _) = listener.accept().await?;
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::join!(
                relay(client_read, server_write, delay, window),
                relay(server_read, client_write, delay, window)
            );
        });
    }
}

/// Copies `from` to `to`, each piece `delay` after it was read; the end of `from` is
/// passed on (as a shutdown) after the same delay. At most `window` bytes are read and
/// whose acknowledgement (a delay after they are written) is not back yet.
async fn relay(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration, window: u32) {
    let (queue, mut due) = mpsc::unbounded_channel::<(Instant, Bytes)>();
    let room = Arc::new(Semaphore::new(window as usize));
    let writer_room = Arc::clone(&room);
    let reader = async move {
        let mut buffer = vec![0; PIECE.min(window as usize)];
        loop {
            let Ok(permit) = room.acquire_many(buffer.len() as u32).await else {
                return;
            };
            let n = from.read(&mut buffer).await.unwrap_or(0);
            // The unused part of the permit goes back at once; the rest when written.
            permit.forget();
            room.add_permits(buffer.len() - n);
            let piece = Bytes::copy_from_slice(&buffer[..n]);
            if queue.send((Instant::now() + delay, piece)).is_err() || n == 0 {
                return;
            }
        }
    };
    let writer = async move {
        while let Some((at, piece)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if piece.is_empty() || to.write_all(&piece).await.is_err() {
                break;
            }
            // The sender's window opens when the acknowledgement would reach it: one
            // more delay back.
            let (room, len) = (Arc::clone(&writer_room), piece.len());
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                room.add_permits(len);
            });
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
