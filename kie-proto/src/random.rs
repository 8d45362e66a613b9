//! Random numbers for the inputs the protocol needs — upload names, multipart boundaries and
//! backoff jitter — from the operating system. The protocol itself never draws them: every
//! function that needs one takes it as an argument, so tests stay deterministic; drivers
//! call these.

use std::hash::{BuildHasher, Hasher};

/// 64 random bits from the operating system, or — if the OS source fails — from std's
/// randomly keyed hasher, which is still unique enough for names and jitter.
pub fn random_u64() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(0x6b69_652d_7273);
        hasher.finish()
    })
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
