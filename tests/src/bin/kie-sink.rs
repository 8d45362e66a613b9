//! `kie-sink`: an upload host that costs nothing, for benchmarks — it reads every request
//! body as it arrives, keeps only its first 64 KiB and last 8 KiB, and answers a KIE-shaped
//! success whose `fileSize` is the *content* size counted from them: the bytes of the
//! multipart part with a `filename` (the body less the framing before and after it), or
//! the decoded size of `base64Data` (characters counted, padding and a data-URL prefix
//! left out). Any path, any method with a body. A `GET /bytes/N` is answered with N bytes
//! (with `Content-Length`), sent from one buffer without copies, for downloads. HTTP/1.1 on
//! loopback, or with `--tls` HTTPS offering `h2` and `http/1.1` by ALPN (a certificate from a
//! CA made at start).
//!
//! ```text
//! kie-sink --port 0                  # prints KIE_UPLOAD_BASE_URL=http://127.0.0.1:<port>
//! kie-sink --port 0 --tls ca.pem     # https://…; trust it with SSL_CERT_FILE=ca.pem
//! ```
#![forbid(unsafe_code)]

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use kie_tests::tls_front::{CertKind, TestCa};

/// How much of the start of a body is kept (the framing before the content).
const HEAD: usize = 64 * 1024;
/// How much of the end of a body is kept (the framing after the content).
const TAIL: usize = 8 * 1024;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let arg = |name: &str| std::env::args().skip_while(|arg| arg != name).nth(1);
    let port = arg("--port")
        .and_then(|port| port.parse::<u16>().ok())
        .unwrap_or(0);
    let tls = match arg("--tls") {
        Some(ca_out) => {
            let ca = TestCa::generate("kie-sink CA");
            std::fs::write(&ca_out, ca.pem())?;
            Some(ca.issue(CertKind::Valid).acceptor(&[b"h2", b"http/1.1"]))
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("KIE_UPLOAD_BASE_URL={scheme}://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(answer);
            // A connection's own failure (a client gone mid-body) ends only that connection.
            match tls {
                None => {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
                Some(acceptor) => {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
            }
        });
    }
}

/// What is kept of a body: its length, its start and its end.
struct Seen {
    len: u64,
    head: Vec<u8>,
    tail: Vec<u8>,
}

/// An answer's body: a JSON reply or the bytes of a download.
type Body = BoxBody<Bytes, Infallible>;

/// The piece a download is sent in (the same bytes each time).
const PIECE: usize = 1024 * 1024;

async fn answer(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    if request.method() == http::Method::GET {
        return Ok(download(request.uri().path()));
    }
    let content_type = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut body = request.into_body();
    let mut seen = Seen {
        len: 0,
        head: Vec::with_capacity(HEAD),
        tail: Vec::with_capacity(2 * TAIL),
    };
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Ok(reply(
                400,
                r#"{"code":400,"msg":"body cut off"}"#.to_owned(),
            ));
        };
        if let Ok(data) = frame.into_data() {
            seen.len += data.len() as u64;
            let room = HEAD.saturating_sub(seen.head.len());
            seen.head.extend_from_slice(&data[..room.min(data.len())]);
            seen.tail
                .extend_from_slice(&data[data.len().saturating_sub(TAIL)..]);
            if seen.tail.len() > 2 * TAIL {
                seen.tail.drain(..seen.tail.len() - TAIL);
            }
        }
    }
    let size = match content_type.split_once("boundary=") {
        Some((_, boundary)) => multipart_content(&seen, boundary.trim_matches('"')),
        None => base64_content(&seen),
    };
    let Some(size) = size else {
        return Ok(reply(
            400,
            r#"{"code":400,"msg":"no file content found"}"#.to_owned(),
        ));
    };
    Ok(reply(
        200,
        format!(
            r#"{{"success":true,"code":200,"msg":"File uploaded successfully","data":{{"fileName":"sink.bin","filePath":"kieai/sink/sink.bin","downloadUrl":"http://127.0.0.1/sink.bin","fileSize":{size},"mimeType":"application/octet-stream","uploadedAt":"2026-01-01T00:00:00.000Z"}}}}"#
        ),
    ))
}

/// `GET /bytes/N`: N bytes of a repeated pattern; anything else 404.
fn download(path: &str) -> Response<Body> {
    let Some(len) = path
        .strip_prefix("/bytes/")
        .and_then(|len| len.parse::<u64>().ok())
    else {
        return reply(404, r#"{"code":404,"msg":"GET /bytes/N only"}"#.to_owned());
    };
    let piece = Bytes::from((0..PIECE).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    let pieces = (0..len.div_ceil(PIECE as u64)).map(move |index| {
        let end = (len - index * PIECE as u64).min(PIECE as u64) as usize;
        Ok(Frame::data(piece.slice(..end)))
    });
    let mut response = Response::new(StreamBody::new(futures_util::stream::iter(pieces)).boxed());
    response
        .headers_mut()
        .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
    response
}

fn reply(status: u16, body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed());
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The size of the part with a `filename`: from the end of its headers to the delimiter
/// that follows it (in the kept tail).
fn multipart_content(seen: &Seen, boundary: &str) -> Option<u64> {
    let part = find(&seen.head, b"filename=")?;
    let start = part + find(&seen.head[part..], b"\r\n\r\n")? + 4;
    let tail_start = seen.len - seen.tail.len() as u64;
    let delimiter = format!("\r\n--{boundary}");
    // The first delimiter in the tail that is past the content's start.
    let mut from = 0;
    loop {
        let at = from + find(&seen.tail[from..], delimiter.as_bytes())?;
        let end = tail_start + at as u64;
        if end >= start as u64 {
            return Some(end - start as u64);
        }
        from = at + 1;
    }
}

/// The decoded size of `base64Data`: its characters (after a data URL's comma) up to the
/// closing quote, less the padding.
fn base64_content(seen: &Seen) -> Option<u64> {
    let key = find(&seen.head, b"\"base64Data\":\"")? + 14;
    let start = match seen.head[key..].iter().take(256).position(|b| *b == b',') {
        Some(comma) if seen.head[key..].starts_with(b"data:") => key + comma + 1,
        _ => key,
    };
    let tail_start = seen.len - seen.tail.len() as u64;
    let quote = seen.tail.iter().rposition(|b| *b == b'"')?;
    let end = tail_start + quote as u64;
    let chars = end.checked_sub(start as u64)?;
    let padding = seen.tail[..quote]
        .iter()
        .rev()
        .take_while(|b| **b == b'=')
        .count() as u64;
    Some(chars / 4 * 3 - padding)
}
