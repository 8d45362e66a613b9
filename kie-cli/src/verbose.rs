//! `-v`: the SDK's own trace on stderr, one line per attempt, retry decision and outcome
//! (its `kie.call` span names the operation, host and body length; the SDK never records
//! the key, a header, a body or an answer). Lines are written with the progress bars
//! stepped aside, so they never tear a bar.

use std::io::Write as _;

use indicatif::MultiProgress;
use tracing_subscriber::fmt::MakeWriter;

/// Sends the SDK's events (debug and up; the HTTP stack's are left out) to stderr for the rest of the process.
pub fn install(multi: &MultiProgress) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::DEBUG)
        .with_writer(AroundBars(multi.clone()))
        .with_target(false)
        .with_ansi(false)
        .without_time()
        .finish()
        // The SDK's events only, not those of the HTTP stack below it.
        .with(Targets::new().with_target("kie_proto", LevelFilter::DEBUG));
    // Only fails if a subscriber is already installed: then that one reports.
    let _ = tracing_subscriber::util::SubscriberInitExt::try_init(subscriber);
}

/// Makes one [`Line`] per event.
struct AroundBars(MultiProgress);

impl<'a> MakeWriter<'a> for AroundBars {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line {
            multi: self.0.clone(),
            text: Vec::new(),
        }
    }
}

/// One event's text, written to stderr in one piece when the event is done.
struct Line {
    multi: MultiProgress,
    text: Vec<u8>,
}

impl std::io::Write for Line {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let text = std::mem::take(&mut self.text);
        self.multi.suspend(|| {
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(&text);
            let _ = stderr.flush();
        });
    }
}
