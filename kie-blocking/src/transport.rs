//! The ureq side: agent settings, one HTTP exchange, and what a ureq error means.

use std::io::{self, Read};

use kie_proto::http::{self, request, response};
use kie_proto::{AttemptFailure, MAX_RESPONSE_BODY, TransportFailure};
use ureq::{Agent, AsSendBody};

use crate::run::Transport;

/// A failed exchange: no answer arrived.
#[derive(Debug)]
pub(crate) struct TransportError {
    pub kind: TransportFailure,
    pub source: ureq::Error,
}

impl From<ureq::Error> for TransportError {
    fn from(source: ureq::Error) -> Self {
        Self {
            kind: classify(&source),
            source,
        }
    }
}

impl TransportError {
    /// The failure the retry policy judges.
    pub(crate) fn into_failure(self) -> AttemptFailure {
        AttemptFailure::Transport {
            kind: self.kind,
            source: Box::new(self.source),
        }
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
    let agent = &transport.agent;
    let mut request = http::Request::new(body);
    *request.method_mut() = head.method.clone();
    *request.uri_mut() = head.uri.clone();
    *request.headers_mut() = head.headers.clone();
    let request = configure(agent, transport, request);
    let response = agent.run(request)?;
    crate::socket::attempt(|state| state.budget.answer_head_received(std::time::Instant::now()));
    let (parts, body) = response.into_parts();
    let body = read_body(body).map_err(ureq::Error::from)?;
    Ok((parts, body))
}

/// Applies the per-request settings on top of the agent's configuration. The client's own
/// agent leaves every limit but connecting to its sockets, which obey the call budget
/// (`socket`); a caller's agent gets them as ureq's per-read, per-write and per-call
/// timeouts.
fn configure<S: AsSendBody>(
    agent: &Agent,
    transport: &Transport,
    request: http::Request<S>,
) -> http::Request<S> {
    let timeouts = &transport.timeouts;
    let mut config = agent
        .configure_request(request)
        .http_status_as_error(false)
        .max_redirects(0);
    if let Some(connect) = timeouts.connect {
        config = config
            .timeout_resolve(Some(connect))
            .timeout_connect(Some(connect));
    }
    if transport.budget_sockets {
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

/// What a ureq error means for the caller and the retry policy.
pub(crate) fn classify(error: &ureq::Error) -> TransportFailure {
    use ureq::Error as E;
    match error {
        E::Timeout(_) => TransportFailure::Timeout,
        E::HostNotFound | E::ConnectionFailed | E::ConnectProxyFailed(_) => {
            TransportFailure::Connect
        }
        E::Io(io) => match io.kind() {
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkDown => TransportFailure::Connect,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => TransportFailure::Timeout,
            _ => TransportFailure::ConnectionLost,
        },
        E::Tls(_) | E::Rustls(_) | E::Pem(_) | E::TlsRequired => TransportFailure::Tls,
        E::Protocol(_) | E::Decompress(..) | E::LargeResponseHeader(..) => {
            TransportFailure::ConnectionLost
        }
        _ => TransportFailure::Unsendable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let io = |kind: io::ErrorKind| ureq::Error::Io(io::Error::from(kind));
        assert_eq!(
            classify(&io(io::ErrorKind::ConnectionRefused)),
            TransportFailure::Connect
        );
        assert_eq!(
            classify(&io(io::ErrorKind::UnexpectedEof)),
            TransportFailure::ConnectionLost
        );
        assert_eq!(
            classify(&io(io::ErrorKind::BrokenPipe)),
            TransportFailure::ConnectionLost
        );
        assert_eq!(
            classify(&ureq::Error::Timeout(ureq::Timeout::RecvBody)),
            TransportFailure::Timeout
        );
        assert_eq!(
            classify(&ureq::Error::HostNotFound),
            TransportFailure::Connect
        );
        assert_eq!(
            classify(&ureq::Error::Tls("bad certificate")),
            TransportFailure::Tls
        );
        assert_eq!(
            classify(&ureq::Error::BadUri("x".into())),
            TransportFailure::Unsendable
        );
        // A body-read error wrapped in io::Error comes back as the ureq error.
        let wrapped = io::Error::other(ureq::Error::Timeout(ureq::Timeout::PerRead));
        assert_eq!(
            classify(&ureq::Error::from(wrapped)),
            TransportFailure::Timeout
        );
    }
}
