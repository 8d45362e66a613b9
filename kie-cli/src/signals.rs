//! What stops kie from outside: Ctrl-C (SIGINT) and, on Unix, SIGTERM (`timeout`, `kill`,
//! a CI runner cancelling a job). Both end a command the same way: what finished is
//! printed, uploads in flight are cut off, a created task's resume command is given; only
//! the exit code tells them apart (128 + the signal's number, as a shell reports it).
//! SIGHUP is left alone, so `nohup kie …` keeps working.

use std::io::IsTerminal as _;

use crate::exit::Exit;

/// After `stop`, before kie's own message: on a terminal, the `^C` the terminal echoed
/// ends the last line without a line break; start a new one (nothing else cleared it).
pub fn after_the_echo(stop: Exit) {
    if stop == Exit::Interrupted && std::io::stderr().is_terminal() {
        say!();
    }
}

/// Resolves when kie is asked to stop, with the exit code that says how. The handlers are
/// installed when it is first polled; one that cannot be installed never fires.
pub async fn stop_requested() -> Exit {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = async {
            match signal(SignalKind::terminate()) {
                Ok(mut terminate) => {
                    terminate.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = interrupt => Exit::Interrupted,
            () = terminate => Exit::Terminated,
        }
    }
    #[cfg(not(unix))]
    {
        interrupt.await;
        Exit::Interrupted
    }
}
