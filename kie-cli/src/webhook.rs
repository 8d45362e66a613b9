//! `kie webhook verify`, `sign` and `listen`: the SDK's webhook rules
//! (`kie_proto::webhook`, `kie_proto::task::TaskCallback`) on a raw HTTP request from a
//! file or stdin, or on the callbacks a local receiver gets.

use std::io::Read as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use kie_async::kie_proto::task::TaskCallback;
use kie_async::kie_proto::webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookVerifier, sign};
use serde_json::json;

use crate::cli::{WebhookListenArgs, WebhookSignArgs, WebhookVerifyArgs};
use crate::exit::Exit;
use crate::output;
use crate::signals;

/// The most headers a request may have.
const MAX_HEADERS: usize = 128;

/// A raw HTTP request split into headers and body.
#[derive(Debug)]
pub struct RawRequest {
    /// The headers.
    pub headers: HeaderMap,
    /// The body: everything after the blank line, cut at `Content-Length` when it is given.
    pub body: Vec<u8>,
}

/// Splits `input` (request line, headers, blank line, body; CRLF or LF line ends).
pub fn parse_request(input: &[u8]) -> Result<RawRequest, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(input) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return Err(
                "the request ends before its headers do (no blank line after them)".to_owned(),
            );
        }
        Err(error) => return Err(format!("not an HTTP request: {error}")),
    };
    let mut map = HeaderMap::new();
    for header in request.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes())
            .map_err(|_| format!("invalid header name {:?}", header.name))?;
        let value = HeaderValue::from_bytes(header.value)
            .map_err(|_| format!("invalid value of header {}", header.name))?;
        map.append(name, value);
    }
    let mut body = input.get(head_len..).unwrap_or_default().to_vec();
    if let Some(length) = map
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        body.truncate(length);
    }
    Ok(RawRequest { headers: map, body })
}

/// `kie webhook verify`.
pub fn verify(args: &WebhookVerifyArgs, json: bool) -> Exit {
    let key = match webhook_key(&args.key_env) {
        Ok(key) => key,
        Err(message) => return usage(&message),
    };
    let request = match request_of(args) {
        Ok(request) => request,
        Err(message) => return usage(&message),
    };
    let verifier = match WebhookVerifier::new(&key) {
        Ok(verifier) => verifier,
        Err(error) => return usage(&error.to_string()),
    };
    let window = (args.replay_window > 0).then(|| Duration::from_secs(args.replay_window));
    let verifier = verifier.with_replay_window(window);
    match verifier.verify(&request.headers, &request.body, SystemTime::now()) {
        Ok(verified) => {
            if json {
                output::print_json(&json!({
                    "verified": true,
                    "taskId": verified.task_id,
                    "timestamp": verified.timestamp,
                }));
            } else {
                output::print_text(&format!(
                    "verified: task {} signed at {}\n",
                    verified.task_id, verified.timestamp
                ));
            }
            Exit::Success
        }
        Err(error) => {
            if json {
                output::print_json(&json!({
                    "verified": false,
                    "error": { "kind": "webhook_rejected", "message": error.to_string() },
                }));
            }
            say!("kie: webhook rejected: {error}");
            Exit::Failed
        }
    }
}

/// `kie webhook sign`.
pub fn sign_headers(args: &WebhookSignArgs, json: bool) -> Exit {
    let key = match webhook_key(&args.key_env) {
        Ok(key) => key,
        Err(message) => return usage(&message),
    };
    let timestamp = args.timestamp.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let timestamp = timestamp.to_string();
    let signature = sign(&key, &args.task_id, &timestamp);
    if json {
        output::print_json(&json!({
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature,
        }));
    } else {
        output::print_text(&format!(
            "X-Webhook-Timestamp: {timestamp}\nX-Webhook-Signature: {signature}\n"
        ));
    }
    Exit::Success
}

/// The largest callback body `kie webhook listen` reads.
const MAX_CALLBACK_BODY: usize = 1 << 20;

/// How long a callback's headers and body may take to arrive (the sender gives up at 15 s).
const CALLBACK_READ_LIMIT: Duration = Duration::from_secs(15);

/// What `kie webhook listen` keeps between callbacks.
struct Receiver {
    /// `None` when the key variable is not set: callbacks are printed unverified.
    verifier: Option<WebhookVerifier>,
    key_env: String,
    json: bool,
    /// `(task id, state)` of every callback printed: a repeated delivery is answered, not
    /// printed again.
    seen: std::sync::Mutex<std::collections::HashSet<(String, String)>>,
    /// What became of the requests, for the line printed at Ctrl-C.
    tally: Tally,
}

/// Counts of the requests a listener answered.
#[derive(Debug, Default)]
struct Tally {
    /// Callbacks printed (the first delivery of a task's state).
    taken: AtomicUsize,
    /// Deliveries of a state already printed, answered 200 again.
    repeats: AtomicUsize,
    /// Refused: a signature that failed (401).
    rejected: AtomicUsize,
    /// Refused: not a callback, or an unreadable body (400).
    unreadable: AtomicUsize,
}

impl Tally {
    fn count(counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `3 callbacks (1 repeated delivery), 1 rejected signature, 0 unreadable`.
    fn summary(&self) -> String {
        let get = |counter: &AtomicUsize| counter.load(Ordering::Relaxed);
        let plural = |n: usize, one: &str, many: &str| match n {
            1 => format!("1 {one}"),
            n => format!("{n} {many}"),
        };
        format!(
            "{} ({}), {}, {} unreadable",
            plural(get(&self.taken), "callback", "callbacks"),
            plural(
                get(&self.repeats),
                "repeated delivery",
                "repeated deliveries"
            ),
            plural(
                get(&self.rejected),
                "rejected signature",
                "rejected signatures"
            ),
            get(&self.unreadable),
        )
    }
}

/// `kie webhook listen`: serves until Ctrl-C, then says what it received (exit 130).
pub async fn listen(args: &WebhookListenArgs, json: bool) -> Exit {
    let verifier = match std::env::var(&args.key_env) {
        Ok(key) if !key.is_empty() => match WebhookVerifier::new(&key) {
            Ok(verifier) => {
                let window =
                    (args.replay_window > 0).then(|| Duration::from_secs(args.replay_window));
                Some(verifier.with_replay_window(window))
            }
            Err(error) => return usage(&format!("{}: {error}", args.key_env)),
        },
        _ => None,
    };
    let listener = match tokio::net::TcpListener::bind((args.bind, args.port)).await {
        Ok(listener) => listener,
        Err(error) => {
            return usage(&format!(
                "cannot listen on {}:{}: {error}",
                args.bind, args.port
            ));
        }
    };
    let address = listener.local_addr().map_or_else(
        |_| format!("{}:{}", args.bind, args.port),
        |a| a.to_string(),
    );
    let how = if verifier.is_some() {
        format!("signatures checked with ${}", args.key_env)
    } else {
        format!("${} is not set: callbacks are NOT verified", args.key_env)
    };
    say!("kie: listening on http://{address}/ ({how}); Ctrl-C stops");
    let receiver = std::sync::Arc::new(Receiver {
        verifier,
        key_env: args.key_env.clone(),
        json,
        seen: std::sync::Mutex::default(),
        tally: Tally::default(),
    });
    let stop = signals::stop_requested();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            biased;
            stop = &mut stop => {
                signals::after_the_echo(stop);
                say!("kie: stopped listening: {}", receiver.tally.summary());
                return stop;
            }
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let receiver = receiver.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let receiver = receiver.clone();
                async move { Ok::<_, std::convert::Infallible>(receiver.receive(request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(CALLBACK_READ_LIMIT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

impl Receiver {
    /// Answers one request: 200 for a callback taken (or a repeat), 401 for a signature
    /// that fails, 400 for a body that is not a callback, 405 for anything but `POST`.
    async fn receive(
        &self,
        request: http::Request<hyper::body::Incoming>,
    ) -> http::Response<http_body_util::Full<bytes::Bytes>> {
        use http_body_util::BodyExt as _;
        if request.method() != http::Method::POST {
            Tally::count(&self.tally.unreadable);
            return answer(
                http::StatusCode::METHOD_NOT_ALLOWED,
                r#"{"code":405,"msg":"POST a callback"}"#,
            );
        }
        let (parts, body) = request.into_parts();
        let limited = http_body_util::Limited::new(body, MAX_CALLBACK_BODY);
        let body = match tokio::time::timeout(CALLBACK_READ_LIMIT, limited.collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            _ => {
                Tally::count(&self.tally.unreadable);
                return answer(
                    http::StatusCode::BAD_REQUEST,
                    r#"{"code":400,"msg":"unreadable body"}"#,
                );
            }
        };
        let verified = self
            .verifier
            .as_ref()
            .map(|verifier| verifier.verify(&parts.headers, &body, SystemTime::now()));
        let callback = TaskCallback::parse(&body);
        let task_id = match &callback {
            Ok(callback) => Some(callback.view().task.to_string()),
            Err(_) => serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|value| {
                    value
                        .pointer("/data/taskId")
                        .and_then(|id| id.as_str())
                        .map(str::to_owned)
                }),
        };
        if let Some(Err(error)) = &verified {
            Tally::count(&self.tally.rejected);
            self.print(
                &json!({
                    "task": task_id,
                    "verified": false,
                    "why": error.to_string(),
                }),
                &format!(
                    "REJECTED {}: {error}",
                    task_id.as_deref().unwrap_or("(no task id)")
                ),
            );
            return answer(
                http::StatusCode::UNAUTHORIZED,
                r#"{"code":401,"msg":"signature rejected"}"#,
            );
        }
        let callback = match callback {
            Ok(callback) => callback,
            Err(error) => {
                Tally::count(&self.tally.unreadable);
                let why = output::message(&error);
                self.print(
                    &json!({"task": task_id, "verified": verified.is_some(), "why": why}),
                    &format!("UNREADABLE callback: {why}"),
                );
                return answer(
                    http::StatusCode::BAD_REQUEST,
                    r#"{"code":400,"msg":"not a callback"}"#,
                );
            }
        };
        let view = callback.view();
        let state = match &view.status {
            kie_async::kie_proto::task::TaskStatus::Succeeded => "success".to_owned(),
            kie_async::kie_proto::task::TaskStatus::Failed { .. } => "fail".to_owned(),
            kie_async::kie_proto::task::TaskStatus::Running { stage, .. } => stage.clone(),
            kie_async::kie_proto::task::TaskStatus::Unknown(word) => word.clone(),
            _ => "unknown".to_owned(),
        };
        let first = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((view.task.to_string(), state.clone()));
        Tally::count(if first {
            &self.tally.taken
        } else {
            &self.tally.repeats
        });
        if first {
            let urls: Vec<&str> = view.assets.iter().map(|asset| asset.url.as_str()).collect();
            let why = if verified.is_some() {
                None
            } else {
                Some(format!("${} is not set", self.key_env))
            };
            let (fail_code, fail_msg) = match &view.status {
                kie_async::kie_proto::task::TaskStatus::Failed { code, message, .. } => {
                    (code.clone(), message.clone())
                }
                _ => (None, None),
            };
            let verified_text = if verified.is_some() {
                "verified"
            } else {
                "unverified"
            };
            let mut text = format!("{}  {state}  {verified_text}", view.task);
            for url in &urls {
                text.push_str(&format!("  {url}"));
            }
            if let Some(message) = &fail_msg {
                text.push_str(&format!("  {message}"));
            }
            self.print(
                &json!({
                    "task": view.task.to_string(),
                    "model": view.model,
                    "state": state,
                    "resultUrls": urls,
                    "creditsConsumed": view.credits_consumed,
                    "failCode": fail_code,
                    "failMsg": fail_msg,
                    "verified": verified.is_some(),
                    "why": why,
                }),
                &text,
            );
        }
        let ack = kie_async::kie_proto::task::callback_ack();
        let (parts, body) = ack.into_parts();
        http::Response::from_parts(parts, http_body_util::Full::new(bytes::Bytes::from(body)))
    }

    fn print(&self, line: &serde_json::Value, text: &str) {
        if self.json {
            output::print_json(line);
        } else {
            output::print_text(&format!("{text}\n"));
        }
    }
}

fn answer(
    status: http::StatusCode,
    body: &'static str,
) -> http::Response<http_body_util::Full<bytes::Bytes>> {
    let mut response = http::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(
        body.as_bytes(),
    )));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn webhook_key(variable: &str) -> Result<String, String> {
    match std::env::var(variable) {
        Ok(key) if !key.is_empty() => Ok(key),
        _ => Err(format!(
            "{variable} is not set: export it with the webhook HMAC key from the KIE.AI dashboard \
             (or name another variable with --key-env)"
        )),
    }
}

/// The request the arguments give: a raw request (FILE or stdin), or a body with its
/// headers from flags or a headers file.
fn request_of(args: &WebhookVerifyArgs) -> Result<RawRequest, String> {
    let Some(body) = &args.body else {
        return parse_request(&read_input(args.file.as_deref())?);
    };
    let body = read_input(Some(body))?;
    let headers = match (&args.headers, &args.timestamp, &args.signature) {
        (Some(file), _, _) => {
            let text = read_input(Some(file))?;
            parse_header_lines(&String::from_utf8_lossy(&text))
                .map_err(|problem| format!("{}: {problem}", file.display()))?
        }
        (None, Some(timestamp), Some(signature)) => {
            let mut headers = HeaderMap::new();
            for (name, flag, value) in [
                (TIMESTAMP_HEADER, "--timestamp", timestamp),
                (SIGNATURE_HEADER, "--signature", signature),
            ] {
                let value = HeaderValue::from_str(value.trim())
                    .map_err(|_| format!("{flag}: not a valid header value"))?;
                headers.insert(name, value);
            }
            headers
        }
        // clap requires one of the two with --body.
        _ => {
            return Err("--body needs --headers FILE, or --timestamp and --signature".to_owned());
        }
    };
    Ok(RawRequest { headers, body })
}

/// `Name: value` lines; an empty line ends them and a first line without a colon (the
/// request line) is skipped.
fn parse_header_lines(text: &str) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            if number == 0 {
                continue;
            }
            return Err(format!("line {}: not a `Name: value` header", number + 1));
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("line {}: invalid header name {name:?}", number + 1))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| format!("line {}: invalid value of header {name}", number + 1))?;
        headers.append(name, value);
        if headers.len() > MAX_HEADERS {
            return Err(format!("more than {MAX_HEADERS} headers"));
        }
    }
    Ok(headers)
}

fn read_input(file: Option<&std::path::Path>) -> Result<Vec<u8>, String> {
    let mut input = Vec::new();
    match file {
        Some(path) if path.as_os_str() != "-" => std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut input))
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?,
        _ => std::io::stdin()
            .lock()
            .read_to_end(&mut input)
            .map_err(|error| format!("cannot read stdin: {error}"))?,
    };
    Ok(input)
}

fn usage(message: &str) -> Exit {
    say!("kie: {message}");
    Exit::Usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_with_crlf_or_lf_line_ends_splits_into_headers_and_body() {
        for input in [
            &b"POST /hook HTTP/1.1\r\nHost: x\r\nX-Webhook-Timestamp: 1\r\nContent-Length: 2\r\n\r\n{}trailing"[..],
            &b"POST /hook HTTP/1.1\nHost: x\nX-Webhook-Timestamp: 1\nContent-Length: 2\n\n{}trailing"[..],
        ] {
            let request = parse_request(input).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(request.headers.get(TIMESTAMP_HEADER).map(|v| v.as_bytes()), Some(&b"1"[..]));
            assert_eq!(request.body, b"{}");
        }
    }

    #[test]
    fn a_request_without_the_blank_line_is_refused() {
        assert!(parse_request(b"POST / HTTP/1.1\r\nHost: x\r\n").is_err());
        assert!(parse_request(b"{\"taskId\":\"x\"}").is_err());
    }
}
