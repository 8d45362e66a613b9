//! A complete upload over a bare `std::net::TcpStream` speaking HTTP/1.1: proof that
//! kie-proto needs nothing but a way to move bytes.
//!
//! ```text
//! KIE_API_KEY=sk-... cargo run -p kie-proto --example custom_transport -- http://127.0.0.1:PORT <file> [api-base]
//! ```
//!
//! The file is streamed through the body's `FrameEncoder` in 64 KiB chunks (constant memory
//! for any size), the answer is read (by `Content-Length`, chunked, or until close; at most
//! `MAX_RESPONSE_BODY` bytes) and parsed by the operation. Then the credits are fetched,
//! with retries: kie-proto's `driver::Call` decides whether and when to try again, the
//! example only sleeps (`send_with_retries`, a dozen lines). Plain `http://` only: TLS is a
//! driver's business, not the protocol's.

use std::error::Error;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Instant, SystemTime};

use kie_proto::driver::{
    AttemptFailure, Call, FailureFacts, MAX_RESPONSE_BODY, Moment, Next, SNIFF_LEN, random_u64,
    random_unit,
};
use kie_proto::http::{self, Request, Response};
use kie_proto::{
    Api, ApiKey, Body, ContentStart, GetCredits, Operation, RetryPolicy, SourceKind, Timeouts,
    UploadOptions, UploadResult,
};

const CHUNK: usize = 64 * 1024;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [upload_base, path, rest @ ..] = args.as_slice() else {
        return Err("usage: custom_transport <http://upload-base> <file> [http://api-base]".into());
    };
    let api_base = rest.first().unwrap_or(upload_base);
    let key = std::env::var("KIE_API_KEY").map_err(|_| "set KIE_API_KEY")?;
    let api = Api::new(ApiKey::new(key)?)
        .with_upload_base_url(upload_base)?
        .with_api_base_url(api_base)?;
    let (result, credits) = upload_then_credits(&api, Path::new(path))?;
    println!("uploaded {path} -> {}", result.download_url);
    println!("credits left: {credits}");
    Ok(())
}

/// Uploads the file at `path` through the stream endpoint, then reads the credits: two
/// operations over the tiny transport below.
pub fn upload_then_credits(api: &Api, path: &Path) -> Result<(UploadResult, f64), Box<dyn Error>> {
    // 1. Settle name and MIME type from the first bytes, then build the stream upload.
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut start = Vec::with_capacity(SNIFF_LEN);
    (&mut file).take(SNIFF_LEN as u64).read_to_end(&mut start)?;
    let content = ContentStart::new(SourceKind::File, &start, size)
        .with_name(path.file_name().and_then(|n| n.to_str()));
    let plan = UploadOptions::new("examples/custom-transport").plan(content, random_u64())?;
    let upload = plan.upload();

    // 2. Send it, streaming `start` and then the rest of the file through the encoder.
    let request = upload.to_request(api)?;
    let response = send(&request, &start, &mut file)?;
    let result = upload.parse_response(borrowed(&response))?;
    // The stored size must be the size sent.
    upload.check_output(&result)?;

    // 3. A second operation over the same transport, retried by kie-proto's rules.
    let credits = send_with_retries(api, &GetCredits, RetryPolicy::default())?;
    Ok((result, credits))
}

/// Sends an operation without streamed content until kie-proto's [`Call`] says it is done:
/// retryable refusals (429, 5xx) and network failures are sent again after the policy's
/// wait; everything else is final.
pub fn send_with_retries<O: Operation>(
    api: &Api,
    operation: &O,
    policy: RetryPolicy,
) -> Result<O::Output, Box<dyn Error>> {
    let request = operation.to_request(api)?;
    let mut call = Call::new(&request, policy, &Timeouts::NONE, Instant::now())
        .idempotent(operation.is_idempotent());
    loop {
        call.start_attempt(Instant::now())?;
        let sent = send(&request, &[], &mut std::io::empty());
        let now = Moment {
            at: Instant::now(),
            wall: SystemTime::now(),
            random: random_unit(),
        };
        let wait = match sent {
            Ok(answer) => match call.answered(operation, borrowed(&answer), true, now)? {
                Next::Done(output) => return Ok(output),
                Next::RetryAfter(wait) => wait,
            },
            Err(error) => {
                // What the error shows, for kie-proto to judge.
                let mut facts = FailureFacts::new();
                if let Some(io) = error.downcast_ref::<std::io::Error>() {
                    facts.saw_io(io.kind());
                }
                let failure = AttemptFailure::Transport {
                    kind: facts.classify(),
                    source: error.to_string().into(),
                };
                call.failed(failure, None, true, now)?
            }
        };
        std::thread::sleep(wait);
    }
}

/// One request on a fresh connection (`Connection: close`), one response back.
fn send(
    request: &Request<Body>,
    start: &[u8],
    rest: &mut dyn Read,
) -> Result<Response<Vec<u8>>, Box<dyn Error>> {
    let uri = request.uri();
    if uri.scheme_str() != Some("http") {
        return Err(format!("only http:// base URLs are supported, not {uri}").into());
    }
    let authority = uri.authority().ok_or("no host in URL")?;
    let port = authority.port_u16().unwrap_or(80);
    let mut stream = TcpStream::connect((authority.host(), port))?;

    // Request line and headers; kie-proto gave every header but Host and Connection.
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!(
        "{} {target} HTTP/1.1\r\nHost: {authority}\r\n",
        request.method()
    );
    for (name, value) in request.headers() {
        head.push_str(&format!("{name}: {}\r\n", value.to_str()?));
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;

    // Body: complete bytes, or head + content (through the encoder) + tail.
    match request.body() {
        Body::Empty => {}
        Body::Complete(bytes) => stream.write_all(bytes)?,
        Body::Framed(framed) => {
            let mut encoder = framed.encoder();
            let mut out = Vec::with_capacity(2 * CHUNK);
            encoder.write_head(&mut out);
            encoder.encode(start, &mut out)?;
            let mut buf = vec![0; CHUNK];
            loop {
                stream.write_all(&out)?;
                out.clear();
                let n = rest.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                encoder.encode(&buf[..n], &mut out)?;
            }
            encoder.finish(&mut out)?; // fails if the file changed size meanwhile
            stream.write_all(&out)?;
        }
    }
    stream.flush()?;
    read_response(BufReader::new(stream))
}

/// Status line, headers, then the body by `Content-Length`, chunked, or until close.
fn read_response(mut reader: impl BufRead) -> Result<Response<Vec<u8>>, Box<dyn Error>> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line.split_whitespace().nth(1).ok_or("no status line")?;
    let mut response = Response::builder().status(status.parse::<u16>()?);
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break; // the empty line (or a broken header) ends the head
        };
        response = response.header(name.trim(), value.trim());
    }
    let headers = response.headers_ref().ok_or("bad response headers")?;
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let chunked = header(http::header::TRANSFER_ENCODING).is_some_and(|v| v.contains("chunked"));
    let length = header(http::header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    let cap = MAX_RESPONSE_BODY as u64;
    let mut body = Vec::new();
    if chunked {
        while body.len() < MAX_RESPONSE_BODY {
            line.clear();
            reader.read_line(&mut line)?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size, 16)?;
            if size == 0 {
                break;
            }
            (&mut reader).take(size).read_to_end(&mut body)?;
            reader.read_line(&mut line)?; // the CRLF after the chunk
        }
        body.truncate(MAX_RESPONSE_BODY);
    } else {
        let limit = length.map_or(cap, |len| len.min(cap));
        reader.take(limit).read_to_end(&mut body)?;
    }
    Ok(response.body(body)?)
}

/// The response with a borrowed body, as `Operation::parse_response` takes it.
fn borrowed(response: &Response<Vec<u8>>) -> Response<&[u8]> {
    let mut borrowed = Response::new(response.body().as_slice());
    *borrowed.status_mut() = response.status();
    *borrowed.headers_mut() = response.headers().clone();
    borrowed
}
