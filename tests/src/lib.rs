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

pub mod hostile;

pub mod connect_proxy;
pub mod python_peer;
pub mod real_servers;
pub mod tls_front;

/// A listener on a free loopback port (non-blocking, for tokio), and its address.
pub(crate) fn loopback_listener(what: &str) -> (std::net::TcpListener, std::net::SocketAddr) {
    let bound =
        std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).and_then(|listener| {
            listener.set_nonblocking(true)?;
            let addr = listener.local_addr()?;
            Ok((listener, addr))
        });
    match bound {
        Ok(bound) => bound,
        Err(e) => panic!("{what}: {e}"),
    }
}

/// A small tokio runtime for a test server that lives as long as its owner.
pub(crate) fn net_runtime(name: &str) -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => panic!("{name}: cannot start a runtime: {e}"),
    }
}

/// The README's Rust snippets, compiled (and, where they need no network, run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
