//! Buffers that file content is read into, used again: a piece handed to the connection
//! gives its buffer back when the last `Bytes` of it is dropped (once written), so a batch
//! of uploads cycles through the same few buffers. Their pages stay mapped (no page fault
//! per file or piece, as a fresh buffer has) and the memory sits in one place whichever
//! thread freed it. At most [`KEEP`] buffers and [`KEEP_BYTES`] are kept, process-wide.
//!
//! Buffers are taken on the runtime's side and only filled on the blocking pool's threads:
//! glibc gives every thread that allocates an arena of its own and keeps there what is
//! freed, so 1 MiB buffers allocated on those threads held `kie upload -j 4` at 20–35 MiB.

use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

/// How many buffers are kept for reuse at most.
const KEEP: usize = 8;
/// How many bytes of buffers are kept for reuse at most.
const KEEP_BYTES: usize = 16 * 1024 * 1024;

/// The process's pool.
static POOL: Pool = Pool::new();

/// An empty buffer of at least `capacity` bytes: the smallest kept one that fits, else a
/// new one.
pub(crate) fn take(capacity: usize) -> Vec<u8> {
    POOL.take(capacity)
}

/// The smallest kept buffer of at least `capacity` bytes, emptied, if one is kept: never a
/// new one, so it may be called on any thread.
pub(crate) fn take_kept(capacity: usize) -> Option<Vec<u8>> {
    POOL.take_kept(capacity)
}

/// `buffer`'s content as `Bytes` that give the buffer back when the last of them is dropped.
pub(crate) fn lend(buffer: Vec<u8>) -> Bytes {
    POOL.lend(buffer)
}

/// Buffers given back and not taken again yet.
struct Pool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl Pool {
    const fn new() -> Pool {
        Pool {
            free: Mutex::new(Vec::new()),
        }
    }

    fn take(&self, capacity: usize) -> Vec<u8> {
        self.take_kept(capacity)
            .unwrap_or_else(|| Vec::with_capacity(capacity))
    }

    fn take_kept(&self, capacity: usize) -> Option<Vec<u8>> {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        let fits = free
            .iter()
            .enumerate()
            .filter(|(_, buffer)| buffer.capacity() >= capacity)
            .min_by_key(|(_, buffer)| buffer.capacity())
            .map(|(index, _)| index)?;
        Some(free.swap_remove(fits))
    }

    fn lend(&'static self, buffer: Vec<u8>) -> Bytes {
        Bytes::from_owner(GivenBack { buffer, pool: self })
    }

    /// Keeps `buffer` if there is room.
    fn give_back(&self, mut buffer: Vec<u8>) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        let kept: usize = free.iter().map(Vec::capacity).sum();
        if free.len() < KEEP && kept + buffer.capacity() <= KEEP_BYTES {
            buffer.clear();
            free.push(buffer);
        }
    }
}

/// A buffer that goes back to its pool when dropped.
struct GivenBack {
    buffer: Vec<u8>,
    pool: &'static Pool,
}

impl AsRef<[u8]> for GivenBack {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for GivenBack {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buffer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_piece_gives_its_buffer_back_within_the_bounds() {
        static TESTED: Pool = Pool::new();
        let mut buffer = TESTED.take(1000);
        buffer.extend_from_slice(b"content");
        let address = buffer.as_ptr();
        let piece = TESTED.lend(buffer);
        let slice = piece.slice(1..3);
        assert_eq!(&piece[..], b"content");
        drop(piece);
        assert_eq!(&slice[..], b"on", "a slice keeps the buffer alive");
        let other = TESTED.take(1000);
        assert!(
            other.as_ptr() != address,
            "given back before its last slice"
        );
        drop(slice);
        assert!(TESTED.take_kept(1001).is_none(), "none kept is that large");
        let again = TESTED.take_kept(10).unwrap();
        assert!(again.is_empty() && again.capacity() >= 1000);
        assert_eq!(again.as_ptr(), address, "the same buffer, taken again");
        // Past the bounds, a buffer is freed, not kept.
        drop(TESTED.lend(Vec::with_capacity(KEEP_BYTES + 1)));
        for _ in 0..KEEP + 2 {
            drop(TESTED.lend(Vec::with_capacity(16)));
        }
        let free = TESTED.free.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(free.len(), KEEP);
        assert!(free.iter().all(|buffer| buffer.capacity() < 1000));
    }
}
