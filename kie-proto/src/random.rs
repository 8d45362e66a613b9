//! Random numbers for the inputs the protocol needs — upload names, multipart boundaries and
//! backoff jitter — from the operating system. The protocol itself never draws them: every
//! function that needs one takes it as an argument, so tests stay deterministic; drivers
//! call these.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// 64 random bits: SipHash, keyed once per process with 128 bits from the operating system
/// (std's [`RandomState`](std::collections::hash_map::RandomState)), of a process-wide
/// counter. Without the key the output cannot be predicted; each call hashes a new counter value.
pub fn random_u64() -> u64 {
    static KEY: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = KEY.get_or_init(Default::default).build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// A uniform random number in `[0, 1)`, e.g. for [`RetryPolicy::decide`](crate::RetryPolicy::decide).
pub fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        for _ in 0..1000 {
            assert!((0.0..1.0).contains(&random_unit()));
        }
        assert_ne!(random_u64(), random_u64());
    }
}
