//! Downloading an uploaded file back to verify it
//! ([`UploadOptions::verify_download`](kie_proto::UploadOptions::verify_download)).
//! kie-proto builds the request and judges the bytes; this module only moves them, through
//! a fixed buffer.

use std::io::{self, Read};

use kie_proto::driver::DownloadCheck;
use kie_proto::{Api, Digest, Error, UploadResult};

use crate::run::Transport;
use crate::source::CHUNK;
use crate::transport::{self, TransportError};

/// Downloads `result.download_url` (without `Authorization`) and checks it against `sent`.
pub(crate) fn download(
    transport: &Transport,
    api: &Api,
    result: &UploadResult,
    sent: Digest,
) -> Result<(), Error> {
    let url = &result.download_url;
    let request = kie_proto::driver::download_request(api, url)?;
    let agent = transport.agents.for_uri(request.uri());
    let via_proxy = transport::via_proxy(agent, request.uri());
    let failed = |error: ureq::Error| {
        TransportError::new(error, via_proxy)
            .into_failure()
            .into_error(1)
    };
    // Outside an attempt: the timeouts apply as ureq's own.
    let request = transport::configure(agent, &transport.timeouts, false, request);
    let response = agent.run(request).map_err(failed)?;
    let (parts, body) = response.into_parts();
    let mut check = DownloadCheck::new(url, sent, parts.status)?;
    let mut reader = body.into_reader();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(failed(ureq::Error::from(error))),
        };
        check.update(&buf[..n])?;
    }
    Ok(check.finish()?)
}
