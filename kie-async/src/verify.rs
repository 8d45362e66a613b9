//! Downloading an uploaded file back to verify it
//! ([`UploadOptions::verify_download`](kie_proto::UploadOptions::verify_download)).
//! kie-proto builds the request and judges the bytes; this module only moves them, chunk by
//! chunk, under the client's timeouts.

use std::future::Future;
use std::io::Read as _;
use std::path::PathBuf;

use bytes::Bytes;
use kie_proto::driver::{ContentDigest, DownloadCheck};
use kie_proto::{Digest, Error, UploadResult};

use crate::body::CHUNK;
use crate::client::Inner;
use crate::transport::{classify, timeout, transport};

/// The content of an upload, kept to be read again for verification: files and bytes.
pub(crate) enum Sent {
    /// Bytes in memory.
    Bytes(Bytes),
    /// A file, read again (on a blocking thread) from its path.
    File(PathBuf),
}

impl Sent {
    /// Length and SHA-256 of the first `len` bytes of the content, through a fixed buffer.
    pub(crate) async fn digest(self, len: u64) -> Result<Digest, Error> {
        match self {
            Sent::Bytes(bytes) => {
                let mut digest = ContentDigest::new();
                digest
                    .update(&bytes[..bytes.len().min(usize::try_from(len).unwrap_or(usize::MAX))]);
                Ok(digest.finish())
            }
            Sent::File(path) => {
                let io = |source| Error::Io {
                    path: Some(path.clone()),
                    source,
                };
                let reopen = path.clone();
                tokio::task::spawn_blocking(move || file_digest(&reopen, len))
                    .await
                    .map_err(|join| io(std::io::Error::other(join)))?
                    .map_err(io)
            }
        }
    }
}

fn file_digest(path: &std::path::Path, len: u64) -> std::io::Result<Digest> {
    let mut file = std::fs::File::open(path)?.take(len);
    let mut digest = ContentDigest::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(digest.finish()),
            Ok(n) => digest.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

impl Inner {
    /// Downloads `result.download_url` (without `Authorization`) and checks it against
    /// `sent`, under the overall timeout (if set) and the read timeout per chunk.
    pub(crate) async fn verify_download(
        &self,
        result: &UploadResult,
        sent: Digest,
    ) -> Result<(), Error> {
        let download = self.download(result, sent);
        match self.timeouts.overall {
            Some(limit) => tokio::time::timeout(limit, download)
                .await
                .unwrap_or_else(|_| {
                    Err(timeout(format!(
                        "the download took longer than {limit:?} (overall timeout)"
                    ))
                    .into_error(1))
                }),
            None => download.await,
        }
    }

    async fn download(&self, result: &UploadResult, sent: Digest) -> Result<(), Error> {
        let url = &result.download_url;
        let request = kie_proto::driver::download_request(&self.api, url)?;
        let request = reqwest::Request::try_from(request.map(|()| reqwest::Body::from(Vec::new())))
            .map_err(|err| transport(classify(&err, false), err).into_error(1))?;
        let via_proxy = self.via_proxy(request.url());
        let failed = |err: reqwest::Error| transport(classify(&err, via_proxy), err).into_error(1);
        let mut response = self
            .idle(self.http.execute(request))
            .await?
            .map_err(failed)?;
        let mut check = DownloadCheck::new(url, sent, response.status())?;
        while let Some(chunk) = self.idle(response.chunk()).await?.map_err(failed)? {
            check.update(&chunk)?;
        }
        Ok(check.finish()?)
    }

    /// `future`, cut at the read timeout (if set).
    async fn idle<T>(&self, future: impl Future<Output = T>) -> Result<T, Error> {
        match self.timeouts.idle {
            Some(limit) => tokio::time::timeout(limit, future).await.map_err(|_| {
                timeout(format!("nothing was received for {limit:?} (read timeout)")).into_error(1)
            }),
            None => Ok(future.await),
        }
    }
}
