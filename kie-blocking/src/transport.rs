//! The ureq side: what a client sends with ([`Transport`]), one attempt's exchange (a
//! request out, its body streamed, the answer in), and what a ureq error means.

use std::io::{self, Read};

use std::error::Error as StdError;

use kie_proto::http::{self, HeaderValue, header, request, response};

use kie_proto::driver::{
    AttemptFailure, DownloadSink, FailureFacts, MAX_RESPONSE_BODY, ProgressReporter, ProxyRules,
};
use kie_proto::{Body, FramedBody, ProxyUrl, RetryPolicy, Timeouts, TlsFailure, TransportFailure};
use ureq::{Agent, AsSendBody, SendBody};

use crate::body::FramedReader;
use crate::source::Source;

/// Bodies longer than this are sent with `Expect: 100-continue` (as curl does): a server
/// that refuses on the headers (a 413 on `Content-Length`) answers before any body byte is
/// sent; one that says nothing gets the body after ureq's 1 s wait.
pub(crate) const EXPECT_CONTINUE_ABOVE: u64 = 1024 * 1024;

/// What a client sends with: the agents, their timeouts and the retry policy.
#[derive(Clone)]
pub(crate) struct Transport {
    pub agents: Agents,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    /// Whether the agent is the client's own, whose sockets obey the call budget
    /// ([`socket`]); a caller's agent gets the timeouts as ureq settings instead.
    pub budget_sockets: bool,
}

/// A failed exchange: no answer arrived.
#[derive(Debug)]
pub(crate) struct TransportError {
    pub kind: TransportFailure,
    pub source: ureq::Error,
}

impl TransportError {
    /// Classifies `source`, an error of a request sent directly or (`via_proxy`) through a
    /// proxy.
    pub(crate) fn new(source: ureq::Error, via_proxy: bool) -> Self {
        Self {
            kind: facts(&source, via_proxy).classify(),
            source,
        }
    }

    /// The failure the retry policy judges.
    pub(crate) fn into_failure(self) -> AttemptFailure {
        AttemptFailure::Transport {
            kind: self.kind,
            source: Box::new(self.source),
        }
    }
}

/// The agents of a client, one per way out — directly, or through each proxy the rules
/// name — picked for every request by kie-proto's [`ProxyRules`] (ureq has one proxy per
/// agent, and no per-scheme proxies). A caller's agent is used for every request.
#[derive(Clone)]
pub(crate) struct Agents {
    direct: Agent,
    proxied: Vec<(ProxyUrl, Agent)>,
    rules: ProxyRules,
}

impl Agents {
    /// The caller's agent, for every request (its own proxy settings apply).
    pub(crate) fn single(agent: Agent) -> Self {
        Self {
            direct: agent,
            proxied: Vec::new(),
            rules: ProxyRules::default(),
        }
    }

    /// An agent made by `make` for going out directly (`None`) and one for each proxy of
    /// `rules`.
    pub(crate) fn for_rules<E>(
        rules: ProxyRules,
        proxies: &[&ProxyUrl],
        make: impl Fn(Option<&ProxyUrl>) -> Result<Agent, E>,
    ) -> Result<Self, E> {
        let mut proxied: Vec<(ProxyUrl, Agent)> = Vec::new();
        for &proxy in proxies {
            if !proxied.iter().any(|(known, _)| known == proxy) {
                proxied.push((proxy.clone(), make(Some(proxy))?));
            }
        }
        Ok(Self {
            direct: make(None)?,
            proxied,
            rules,
        })
    }

    /// The agent for a request to `uri`.
    pub(crate) fn for_uri(&self, uri: &http::Uri) -> &Agent {
        let scheme = uri.scheme_str().unwrap_or_default();
        let host = uri.host().unwrap_or_default();
        self.rules
            .proxy_for(scheme, host)
            .and_then(|proxy| self.proxied.iter().find(|(known, _)| known == proxy))
            .map_or(&self.direct, |(_, agent)| agent)
    }
}

/// An answer: status and headers, and at most [`MAX_RESPONSE_BODY`] bytes of body.
pub(crate) type Answer = (response::Parts, Vec<u8>);

/// Sends `head` with `body` and reads the answer.
///
/// Redirects are never followed (`max_redirects(0)`, so `Authorization` cannot reach another
/// host) and every status is returned as an answer (`http_status_as_error(false)`): kie-proto
/// judges them. The transport's timeouts override the agent's own where set.
pub(crate) fn exchange(
    transport: &Transport,
    head: &request::Parts,
    body: impl AsSendBody,
) -> Result<Answer, TransportError> {
    let agent = transport.agents.for_uri(&head.uri);
    let mut request = http::Request::new(body);
    *request.method_mut() = head.method.clone();
    *request.uri_mut() = head.uri.clone();
    *request.headers_mut() = head.headers.clone();
    let via_proxy = via_proxy(agent, &head.uri);
    let failed = |error| TransportError::new(error, via_proxy);
    let request = configure(
        agent,
        &transport.timeouts,
        transport.budget_sockets,
        request,
    );
    let response = agent.run(request).map_err(failed)?;
    crate::socket::attempt(|state| state.budget.answer_head_received(std::time::Instant::now()));
    let (parts, body) = response.into_parts();
    let body = read_body(body).map_err(|error| failed(ureq::Error::from(error)))?;
    Ok((parts, body))
}

/// One attempt: sends the request (a framed body's content read from `source`), returns
/// the answer.
pub(crate) fn send(
    transport: &Transport,
    head: &request::Parts,
    body: &Body,
    source: &mut Source<'_>,
    reporter: &mut ProgressReporter,
) -> Result<Answer, AttemptFailure> {
    let answer = match body {
        Body::Empty => exchange(transport, head, SendBody::none()),
        Body::Complete(bytes) => exchange(transport, head, bytes.as_slice()),
        Body::Framed(framed) => return send_framed(transport, head, framed, source, reporter),
    };
    answer.map_err(TransportError::into_failure)
}

/// Streams a framed body: head, the content through the encoder, tail.
fn send_framed(
    transport: &Transport,
    head: &request::Parts,
    framed: &FramedBody,
    source: &mut Source<'_>,
    reporter: &mut ProgressReporter,
) -> Result<Answer, AttemptFailure> {
    let mut reader = FramedReader::new(framed, source, reporter);
    let expect = (framed.len() > EXPECT_CONTINUE_ABOVE).then(|| {
        let mut head = head.clone();
        head.headers
            .insert(header::EXPECT, HeaderValue::from_static("100-continue"));
        head
    });
    let result = exchange(
        transport,
        expect.as_ref().unwrap_or(head),
        SendBody::from_reader(&mut reader),
    );
    // The source's own failure explains a transport error it caused.
    if let Some(failure) = reader.failure() {
        return Err(AttemptFailure::Fatal(failure));
    }
    result.map_err(TransportError::into_failure)
}

/// Fetches `request` (a download from the storage host) into `sink`, through a fixed
/// buffer. A transport failure is reported for kie-proto to judge; a sink's error is
/// [`AttemptFailure::Fatal`].
pub(crate) fn fetch(
    transport: &Transport,
    request: &http::Request<()>,
    sink: &mut dyn DownloadSink,
) -> Result<(), AttemptFailure> {
    let agent = transport.agents.for_uri(request.uri());
    let via_proxy = via_proxy(agent, request.uri());
    let failed = |error| TransportError::new(error, via_proxy).into_failure();
    let mut outgoing = http::Request::new(SendBody::none());
    *outgoing.method_mut() = request.method().clone();
    *outgoing.uri_mut() = request.uri().clone();
    *outgoing.headers_mut() = request.headers().clone();
    let outgoing = configure(
        agent,
        &transport.timeouts,
        transport.budget_sockets,
        outgoing,
    );
    let response = agent.run(outgoing).map_err(failed)?;
    crate::socket::attempt(|state| state.budget.answer_head_received(std::time::Instant::now()));
    let (parts, body) = response.into_parts();
    let length = content_length(&parts.headers);
    sink.head(parts.status, length)
        .map_err(AttemptFailure::Fatal)?;
    let mut reader = body.into_reader();
    let mut buf = vec![0u8; ANSWER_PIECE];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(failed(ureq::Error::from(error))),
        };
        sink.bytes(&buf[..n]).map_err(AttemptFailure::Fatal)?;
    }
}

/// The piece an answer's body is handed on in: ureq's input buffer, so each read from the
/// socket (copied once, from that buffer) is one write of the sink.
const ANSWER_PIECE: usize = crate::client::INPUT_BUFFER;

/// The `Content-Length` of an answer, when it states one.
fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether `agent` reaches `uri` through a proxy (so a failure to connect is the proxy's).
pub(crate) fn via_proxy(agent: &Agent, uri: &http::Uri) -> bool {
    agent
        .config()
        .proxy()
        .is_some_and(|proxy| !proxy.is_no_proxy(uri))
}

/// Applies the per-request settings on top of the agent's configuration. With
/// `budget_sockets` (the client's own agent, inside an attempt) every limit but connecting
/// is left to the sockets, which obey the call budget (`socket`); otherwise (a caller's
/// agent, or a request outside an attempt) the limits are ureq's per-read, per-write and
/// per-call timeouts.
pub(crate) fn configure<S: AsSendBody>(
    agent: &Agent,
    timeouts: &Timeouts,
    budget_sockets: bool,
    request: http::Request<S>,
) -> http::Request<S> {
    let mut config = agent
        .configure_request(request)
        .http_status_as_error(false)
        .max_redirects(0);
    if let Some(connect) = timeouts.connect {
        config = config
            .timeout_resolve(Some(connect))
            .timeout_connect(Some(connect));
    }
    if budget_sockets {
        return config.build();
    }
    if let Some(overall) = timeouts.overall {
        config = config.timeout_per_call(Some(overall));
    }
    if let Some(idle) = timeouts.idle {
        config = config
            .timeout_per_read(Some(idle))
            .timeout_per_write(Some(idle));
    }
    config.build()
}

/// Reads the answer's body, cut at [`MAX_RESPONSE_BODY`] bytes.
fn read_body(body: ureq::Body) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    body.into_reader()
        .take(MAX_RESPONSE_BODY as u64)
        .read_to_end(&mut out)?;
    Ok(out)
}

/// What a ureq error's whole chain shows (ureq's own variants, `io::Error`s and the
/// `rustls::Error` they may wrap), for kie-proto to judge.
pub(crate) fn facts(error: &ureq::Error, via_proxy: bool) -> FailureFacts {
    let mut facts = FailureFacts::new();
    facts.via_proxy = via_proxy;
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(cause) = next {
        next = if let Some(error) = cause.downcast_ref::<ureq::Error>() {
            ureq_facts(error, &mut facts)
        } else if let Some(io) = cause.downcast_ref::<io::Error>() {
            facts.saw_io(io.kind());
            // `io::Error::source` skips the wrapped error itself; step into it.
            io.get_ref().map(|inner| inner as &(dyn StdError + 'static))
        } else if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            facts.saw_tls(kie_proto::driver::tls_failure(tls));
            cause.source()
        } else {
            cause.source()
        };
    }
    facts
}

/// Records what one ureq error says; returns the error it wraps (ureq's `source()` is
/// always `None`).
fn ureq_facts<'a>(
    error: &'a ureq::Error,
    facts: &mut FailureFacts,
) -> Option<&'a (dyn StdError + 'static)> {
    use ureq::Error as E;
    match error {
        E::Io(io) => return Some(io),
        E::Rustls(tls) => return Some(tls),
        E::Decompress(_, io) => {
            facts.malformed_answer = true;
            return Some(io);
        }
        E::Other(inner) => return Some(&**inner),
        E::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => {
            facts.timed_out = true;
            facts.connecting = true;
        }
        E::Timeout(_) | E::BodyStalled => facts.timed_out = true,
        E::HostNotFound | E::ConnectionFailed => facts.connecting = true,
        E::ConnectProxyFailed(reason) => facts.proxy_refused = Some(proxy_status(reason)),
        E::Tls(_) | E::Pem(_) | E::TlsRequired => facts.saw_tls(TlsFailure::Handshake),
        E::Protocol(_) | E::LargeResponseHeader(..) | E::BodyExceedsLimit(_) => {
            facts.malformed_answer = true;
        }
        _ => facts.unsendable = true,
    }
    None
}

/// The status in ureq's `ConnectProxyFailed` text ("proxy server responded 407/Proxy
/// Authentication Required"), when the proxy answered one.
fn proxy_status(reason: &str) -> Option<u16> {
    let rest = reason.split("responded ").nth(1)?;
    rest.get(..3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kie_proto::Error;

    #[test]
    fn transport_failures_report_attempts() {
        let failure = TransportError {
            kind: TransportFailure::Timeout,
            source: ureq::Error::Timeout(ureq::Timeout::PerRead),
        }
        .into_failure();
        let error = failure.into_error(3);
        assert!(matches!(
            error,
            Error::Transport {
                kind: TransportFailure::Timeout,
                attempts: 3,
                ..
            }
        ));
    }

    fn classify(error: ureq::Error) -> TransportFailure {
        facts(&error, false).classify()
    }

    #[test]
    fn classification() {
        let io = |kind: io::ErrorKind| ureq::Error::Io(io::Error::from(kind));
        assert_eq!(
            classify(io(io::ErrorKind::ConnectionRefused)),
            TransportFailure::Connect
        );
        assert_eq!(
            facts(&io(io::ErrorKind::ConnectionRefused), true).classify(),
            TransportFailure::ProxyUnreachable
        );
        assert_eq!(
            classify(io(io::ErrorKind::UnexpectedEof)),
            TransportFailure::ConnectionLost
        );
        assert_eq!(
            classify(ureq::Error::Timeout(ureq::Timeout::RecvBody)),
            TransportFailure::Timeout
        );
        assert_eq!(
            classify(ureq::Error::HostNotFound),
            TransportFailure::Connect
        );
        assert_eq!(
            classify(ureq::Error::Tls("bad certificate")),
            TransportFailure::Tls(TlsFailure::Handshake)
        );
        assert_eq!(
            classify(ureq::Error::BadUri("x".into())),
            TransportFailure::Unsendable
        );
        assert_eq!(
            classify(ureq::Error::LargeResponseHeader(65, 64)),
            TransportFailure::MalformedAnswer
        );
        assert_eq!(
            classify(ureq::Error::ConnectProxyFailed(
                "proxy server responded 407/Proxy Authentication Required".into()
            )),
            TransportFailure::ProxyRefused { status: Some(407) }
        );
        assert_eq!(
            classify(ureq::Error::ConnectProxyFailed(
                "proxy server did not respond".into()
            )),
            TransportFailure::ProxyRefused { status: None }
        );
        // A body-read error wrapped in io::Error comes back as the ureq error.
        let wrapped = io::Error::other(ureq::Error::Timeout(ureq::Timeout::PerRead));
        assert_eq!(
            classify(ureq::Error::from(wrapped)),
            TransportFailure::Timeout
        );
    }

    /// Each request goes out through the agent of its scheme's proxy, or directly for a
    /// scheme without one or a host on the `NO_PROXY` list.
    #[test]
    fn agents_follow_the_proxy_rules() {
        let env = |name: &str| match name {
            "HTTPS_PROXY" => Some("http://secure-proxy:3128".to_owned()),
            "NO_PROXY" => Some("internal.example".to_owned()),
            _ => None,
        };
        let rules = ProxyRules::from_env_with(env).unwrap();
        let proxy = rules.proxy_for("https", "api.kie.ai").cloned().unwrap();
        let agents = Agents::for_rules(rules, &[&proxy], |proxy| {
            let proxy = proxy.map(|p| ureq::Proxy::new(p.as_str_with_credentials()).unwrap());
            Ok::<_, ureq::Error>(Agent::config_builder().proxy(proxy).build().into())
        })
        .unwrap();
        let proxy_host = |uri: &str| {
            let uri: http::Uri = uri.parse().unwrap();
            agents
                .for_uri(&uri)
                .config()
                .proxy()
                .map(|p| p.host().to_owned())
        };
        assert_eq!(
            proxy_host("https://api.kie.ai/api/v1/chat/credit").as_deref(),
            Some("secure-proxy")
        );
        assert_eq!(proxy_host("http://api.kie.ai/x"), None);
        assert_eq!(proxy_host("https://files.internal.example/x"), None);
    }

    /// A rustls error is found where ureq puts it: below the `io::Error` it wraps a
    /// handshake failure in, or as its own `Rustls` variant (the verifier could not
    /// start). What each says is kie-proto's table (`driver::tls_failure`).
    #[test]
    fn rustls_errors_are_found_in_ureq_errors() {
        let expired = rustls::Error::InvalidCertificate(rustls::CertificateError::Expired);
        let error = ureq::Error::Io(io::Error::new(io::ErrorKind::InvalidData, expired));
        assert_eq!(classify(error), TransportFailure::Tls(TlsFailure::Expired));
        // What ureq returns when the platform verifier finds no trust store to start from.
        let no_roots =
            rustls::Error::General("No CA certificates were loaded from the system".into());
        assert_eq!(
            classify(ureq::Error::Rustls(no_roots)),
            TransportFailure::Tls(TlsFailure::NoTrustRoots)
        );
    }
}
