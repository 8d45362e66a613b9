//! Downloads a result URL into a file, in constant memory and without the API key (one
//! `download-url` refresh if the link is refused), and prints the bytes written.
//!
//! ```text
//! cargo run --release -p kie-blocking --example download_result -- <url> <file>
//! ```
//! Uses `KIE_API_KEY` and `KIE_API_BASE_URL` (for the refresh) from the environment.

use std::error::Error;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: download_result <url> <file>";
    let url = args.next().ok_or(usage)?;
    let path = PathBuf::from(args.next().ok_or(usage)?);
    let client = kie_blocking::Client::from_env()?;
    let bytes = client.download_result_to(&url, &path)?;
    println!("{bytes}");
    Ok(())
}
