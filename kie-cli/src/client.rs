//! The SDK client from the command line and the environment.

use std::time::Duration;

use kie_async::{Client, ClientConfig, ENV_API_KEY, Error, InvalidInput, RetryPolicy};

use crate::cli::GlobalArgs;

/// The client the global flags describe. The key comes from `--api-key-file` (less a final
/// line break) or else `KIE_API_KEY`; the base URLs from the flags or their environment variables
/// (clap reads `KIE_UPLOAD_BASE_URL` / `KIE_API_BASE_URL`). Every check of the key and URLs
/// is the SDK's, and no error shows the key.
pub fn build(global: &GlobalArgs, key: &str) -> Result<Client, Error> {
    let mut config =
        ClientConfig::new(key).user_agent_suffix(concat!("kie-cli/", env!("CARGO_PKG_VERSION")));
    if let Some(url) = &global.upload_base_url {
        config = config.upload_base_url(url);
    }
    if let Some(url) = &global.api_base_url {
        config = config.api_base_url(url);
    }
    if let Some(attempts) = global.max_attempts {
        config = config.retry_policy(RetryPolicy::default().with_max_attempts(attempts));
    }
    if let Some(seconds) = global.connect_timeout {
        config = config.connect_timeout(Duration::from_secs(seconds));
    }
    if let Some(seconds) = global.read_timeout {
        config = config.read_timeout(Duration::from_secs(seconds));
    }
    Client::from_config(config)
}

/// The key: the content of `--api-key-file` less a final line break, or `KIE_API_KEY`.
/// Any failure here, an unreadable key file included, is an authentication set-up error.
pub fn api_key(global: &GlobalArgs) -> Result<String, Error> {
    match &global.api_key_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                path: Some(path.clone()),
                source,
            })?;
            // The line ending a text file ends with is not part of the key; anything else
            // (spaces, a second line) is left for the SDK's check to report.
            let line = text.strip_suffix('\n').unwrap_or(&text);
            Ok(line.strip_suffix('\r').unwrap_or(line).to_owned())
        }
        None => match std::env::var(ENV_API_KEY) {
            Ok(key) if !key.is_empty() => Ok(key),
            _ => Err(InvalidInput::ApiKeyNotInEnvironment {
                variable: ENV_API_KEY,
            }
            .into()),
        },
    }
}

/// What to add after an error, when the CLI knows more than the SDK: the other way to give
/// the key.
pub fn hint(error: &Error) -> Option<&'static str> {
    match error {
        Error::InvalidInput(InvalidInput::ApiKeyNotInEnvironment { .. }) => {
            Some("or put the key in a file and pass --api-key-file PATH")
        }
        Error::Io { .. } => Some("the key file given with --api-key-file could not be read"),
        _ => None,
    }
}
