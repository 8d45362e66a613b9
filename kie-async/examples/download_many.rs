//! Downloads result URLs into files, all at once, each in constant memory and without the
//! API key (one `download-url` refresh if a link is refused), and prints the bytes written
//! to each file.
//!
//! ```text
//! cargo run --release -p kie-async --example download_many -- <url> <file> [<url> <file>]...
//! ```
//! Uses `KIE_API_KEY` and `KIE_API_BASE_URL` (for the refresh) from the environment.

use std::error::Error;
use std::path::PathBuf;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || !args.len().is_multiple_of(2) {
        return Err("usage: download_many <url> <file> [<url> <file>]...".into());
    }
    let client = kie_async::Client::from_env()?;
    let downloads = args.chunks(2).map(|pair| {
        let (url, path) = (&pair[0], PathBuf::from(&pair[1]));
        let client = &client;
        async move {
            let written = client.download_result_to(url, &path).await;
            (path, written)
        }
    });
    let mut failed = 0;
    for (path, written) in futures_util::future::join_all(downloads).await {
        match written {
            Ok(bytes) => println!("{}\t{bytes}", path.display()),
            Err(error) => {
                eprintln!("{}: {error}", path.display());
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(format!("{failed} downloads failed").into());
    }
    Ok(())
}
