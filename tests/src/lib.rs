//! `kie-tests`: the driver conformance suite of kie-rs and its test-only helpers (not
//! published).
//!
//! The emulator of the KIE.AI service lives in its own published crate,
//! [`kie-emulator`](kie_emulator); everything it exports is re-exported here, so
//! `kie_tests::Emulator` and `kie_tests::emulator::...` paths keep working.
//!
//! ```
//! use kie_tests::{Emulator, Fault, Route};
//!
//! let emu = Emulator::start();
//! emu.faults().push(Route::Credits, Fault::rate_limited(Some(2)));
//! assert_eq!(emu.faults().remaining(Route::Credits), 1);
//! ```

/// The emulator crate, under its former module path `kie_tests::emulator`.
pub use kie_emulator as emulator;
pub use kie_emulator::*;

/// The README's Rust snippets, compiled (and, where they need no network, run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
