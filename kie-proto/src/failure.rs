//! What a failed exchange means, decided once for both drivers: the [`TransportFailure`]
//! kinds, what each says to the user, and how a driver's facts map to one.
//!
//! A driver's HTTP client reports a failure as an error with a chain of causes (ureq's
//! `ureq::Error`, reqwest's `reqwest::Error` over hyper's over an `io::Error` over a
//! `rustls::Error` …). The driver walks that chain **once** and writes down what it found
//! as [`FailureFacts`], in words that depend on no HTTP or TLS library; [`FailureFacts::classify`]
//! turns the facts into the one [`TransportFailure`] both drivers report, which says whether
//! a retry may help ([`Retryable`](crate::driver::Retryable)) and what the user should do (its
//! `Display`).

use std::fmt;
use std::io;

/// How a request failed to get an answer. Drivers find out with
/// [`FailureFacts::classify`](crate::driver::FailureFacts::classify); `Display` says what happened
/// and what to do (the client's own error stays reachable through `source()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportFailure {
    /// No connection could be made (refused, DNS, unreachable).
    Connect,
    /// No connection could be made to the proxy the request was to go through.
    ProxyUnreachable,
    /// The proxy refused to open a tunnel to the service (`CONNECT` answered with `status`,
    /// e.g. 407 when it wants credentials). Never retried: the same proxy refuses again.
    ProxyRefused {
        /// The proxy's status code, when it answered one.
        status: Option<u16>,
    },
    /// The connection broke before a complete answer arrived.
    ConnectionLost,
    /// No connection could be made in time (resolving the host and connecting, TCP, to the
    /// service or to the proxy). Nothing was sent.
    ConnectTimeout,
    /// A timeout fired once connected (an idle read or write, the answer, the low-speed
    /// rule, overall): the request may have reached the service.
    Timeout,
    /// The TLS handshake failed, for this reason. Never retried: the same certificate comes
    /// back.
    Tls(TlsFailure),
    /// An answer arrived but was not valid HTTP (a garbage status line, invalid chunked
    /// framing, over-long headers, conflicting `Content-Length` and `Transfer-Encoding`).
    /// Never retried: such answers come from a broken server or middlebox, which answers
    /// the same way again, and a retry would send the whole upload again for nothing.
    MalformedAnswer,
    /// The request could not be sent at all (bad URL, unsupported by the transport).
    Unsendable,
    /// The transport followed a redirect, so the answer is not the endpoint's own: a
    /// caller-supplied HTTP client configured to follow redirects. Never retried.
    Redirected,
}

impl TransportFailure {
    /// What happened, without the advice.
    pub fn summary(&self) -> String {
        match self {
            TransportFailure::Connect => "could not connect to KIE.AI".to_owned(),
            TransportFailure::ProxyUnreachable => "could not connect to the proxy".to_owned(),
            TransportFailure::ProxyRefused {
                status: Some(status),
            } => {
                format!("the proxy refused to open a tunnel to KIE.AI (HTTP {status})")
            }
            TransportFailure::ProxyRefused { status: None } => {
                "the proxy did not open a tunnel to KIE.AI".to_owned()
            }
            TransportFailure::ConnectionLost => {
                "the connection to KIE.AI broke before an answer arrived".to_owned()
            }
            TransportFailure::ConnectTimeout => "could not connect to KIE.AI in time".to_owned(),
            TransportFailure::Timeout => "KIE.AI did not answer in time".to_owned(),
            TransportFailure::Tls(_) => "the TLS handshake with KIE.AI failed".to_owned(),
            TransportFailure::MalformedAnswer => {
                "an answer arrived but it is not valid HTTP".to_owned()
            }
            TransportFailure::Unsendable => "the request could not be sent".to_owned(),
            TransportFailure::Redirected => {
                "the HTTP client followed a redirect, so the answer is not KIE.AI's".to_owned()
            }
        }
    }

    /// Why, and what to do about it.
    pub fn advice(&self) -> &'static str {
        match self {
            TransportFailure::Connect => "check the network and the base URLs",
            TransportFailure::ProxyUnreachable => {
                "check the proxy URL (the client's proxy setting, or HTTPS_PROXY / HTTP_PROXY / ALL_PROXY)"
            }
            TransportFailure::ProxyRefused { status: Some(407) } => {
                "the proxy wants credentials; put them in the proxy URL (http://user:password@host:port)"
            }
            TransportFailure::ProxyRefused { .. } => {
                "the proxy does not allow this connection; check its rules or use another proxy"
            }
            TransportFailure::ConnectionLost => "retrying later may help",
            TransportFailure::ConnectTimeout => {
                "check the network, the base URLs and any proxy (or raise the connect timeout)"
            }
            TransportFailure::Timeout => "raise the timeouts for large files",
            TransportFailure::Tls(reason) => reason.reason(),
            TransportFailure::MalformedAnswer => {
                "a server or proxy in between is broken or is not an HTTP server; not retried"
            }
            TransportFailure::Unsendable => "the HTTP client refused the request",
            TransportFailure::Redirected => "configure it not to follow redirects",
        }
    }
}

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.summary(), self.advice())
    }
}

/// Why a TLS handshake failed, independent of the TLS library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The server's certificate has expired (or the local clock is ahead).
    Expired,
    /// The server's certificate is not valid yet (or the local clock is behind).
    NotYetValid,
    /// The server's certificate is for another host name.
    WrongHost,
    /// The server's certificate chains to no trusted root (a self-signed certificate, a
    /// private CA, a TLS-inspecting proxy whose CA is not trusted).
    UnknownIssuer,
    /// The server's certificate was revoked.
    Revoked,
    /// The certificate was rejected for another reason (bad signature, wrong usage, …).
    BadCertificate,
    /// The handshake failed before or apart from the certificate check (the peer does not
    /// speak TLS, no common protocol version or cipher, an alert from the server).
    Handshake,
    /// This machine has no trusted root certificates to check the server's certificate
    /// with (no system trust store, or `SSL_CERT_FILE` / `SSL_CERT_DIR` name nothing
    /// readable). Nothing was checked; the server may be fine.
    NoTrustRoots,
}

impl TlsFailure {
    /// What went wrong and what to do, in a user's words.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            TlsFailure::Expired => {
                "the server's certificate has expired (or this machine's clock is wrong)"
            }
            TlsFailure::NotYetValid => {
                "the server's certificate is not valid yet (check this machine's clock)"
            }
            TlsFailure::WrongHost => {
                "the server's certificate is for another host name (check the base URL; a proxy may be intercepting TLS)"
            }
            TlsFailure::UnknownIssuer => {
                "the server's certificate is not signed by a trusted authority (a TLS-inspecting proxy's CA must be in the system trust store or in SSL_CERT_FILE)"
            }
            TlsFailure::Revoked => "the server's certificate has been revoked",
            TlsFailure::BadCertificate => "the server's certificate was rejected",
            TlsFailure::Handshake => {
                "the server did not complete a TLS handshake (check that the base URL is an https:// server, and any proxy)"
            }
            TlsFailure::NoTrustRoots => {
                "this machine has no trusted root certificates to check the server with (install the system's CA certificates, e.g. the ca-certificates package, or point SSL_CERT_FILE at a PEM bundle)"
            }
        }
    }
}

/// What a rustls error (anywhere in a driver's error chain) says about the handshake.
///
/// A certificate error keeps its kind; the platform verifier's "No CA certificates were
/// loaded from the system" (it has nothing to check with: rustls-platform-verifier on
/// Linux and other Unix systems, where it reads the trust store at the first handshake) is
/// [`TlsFailure::NoTrustRoots`]; anything else is [`TlsFailure::Handshake`].
#[cfg(feature = "rustls")]
pub fn tls_failure(error: &rustls::Error) -> TlsFailure {
    use rustls::CertificateError as C;
    match error {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            C::Expired | C::ExpiredContext { .. } => TlsFailure::Expired,
            C::NotValidYet | C::NotValidYetContext { .. } => TlsFailure::NotYetValid,
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsFailure::WrongHost,
            C::UnknownIssuer => TlsFailure::UnknownIssuer,
            C::Revoked => TlsFailure::Revoked,
            _ => TlsFailure::BadCertificate,
        },
        rustls::Error::General(message)
            if message.starts_with("No CA certificates were loaded") =>
        {
            TlsFailure::NoTrustRoots
        }
        _ => TlsFailure::Handshake,
    }
}

/// What a driver found in the source chain of one failed exchange. Every field defaults to
/// "not seen"; a driver sets what its client's error chain shows (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailureFacts {
    /// The kind of the innermost `io::Error` in the chain.
    pub io: Option<io::ErrorKind>,
    /// A timeout of the client fired (connect, read, write or overall).
    pub timed_out: bool,
    /// The failure happened while connecting (resolving, TCP, proxy, TLS), before the
    /// request was sent; with `timed_out`, a connect timeout.
    pub connecting: bool,
    /// A TLS error was in the chain, and what it said.
    pub tls: Option<TlsFailure>,
    /// The request was sent through a proxy (it was the proxy that was connected to).
    pub via_proxy: bool,
    /// A proxy refused to open a tunnel (`CONNECT`); its answer's status, when known.
    pub proxy_refused: Option<Option<u16>>,
    /// Bytes came back, but they are not valid HTTP (bad status line, invalid chunked
    /// framing, over-long or invalid headers, conflicting `Content-Length` and
    /// `Transfer-Encoding`).
    pub malformed_answer: bool,
    /// The request could not be sent at all (the client rejected it before connecting).
    pub unsendable: bool,
}

impl FailureFacts {
    /// No facts yet.
    pub fn new() -> FailureFacts {
        FailureFacts::default()
    }

    /// Records an `io::Error` met in the chain: its kind (the innermost wins, so call it in
    /// chain order), and whether it is a timeout.
    pub fn saw_io(&mut self, kind: io::ErrorKind) {
        self.io = Some(kind);
        if matches!(kind, io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) {
            self.timed_out = true;
        }
    }

    /// Records a TLS error met in the chain; a certificate reason is kept over a later,
    /// vaguer one.
    pub fn saw_tls(&mut self, failure: TlsFailure) {
        if matches!(self.tls, None | Some(TlsFailure::Handshake)) {
            self.tls = Some(failure);
        }
    }

    /// The one judgement of these facts. In order: a request that could not be sent; a
    /// TLS failure (final: the same certificate comes back); a proxy's refusal (final); a
    /// timeout (while connecting: nothing was sent); a malformed answer (final: see [`TransportFailure::MalformedAnswer`]); a
    /// failure to connect (to the proxy, when one is used); else a connection lost.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use kie_proto::{TlsFailure, TransportFailure};
    /// use kie_proto::driver::FailureFacts;
    /// let mut facts = FailureFacts::new();
    /// facts.saw_io(ErrorKind::InvalidData);
    /// facts.saw_tls(TlsFailure::Expired);
    /// assert_eq!(facts.classify(), TransportFailure::Tls(TlsFailure::Expired));
    /// ```
    pub fn classify(&self) -> TransportFailure {
        if self.unsendable {
            return TransportFailure::Unsendable;
        }
        if let Some(tls) = self.tls {
            return TransportFailure::Tls(tls);
        }
        if let Some(status) = self.proxy_refused {
            return TransportFailure::ProxyRefused { status };
        }
        if self.timed_out {
            return if self.connecting {
                TransportFailure::ConnectTimeout
            } else {
                TransportFailure::Timeout
            };
        }
        if self.malformed_answer {
            return TransportFailure::MalformedAnswer;
        }
        let connect_error = matches!(
            self.io,
            Some(
                io::ErrorKind::ConnectionRefused
                    | io::ErrorKind::AddrNotAvailable
                    | io::ErrorKind::NetworkUnreachable
                    | io::ErrorKind::HostUnreachable
                    | io::ErrorKind::NetworkDown
            )
        );
        if self.connecting || connect_error {
            return if self.via_proxy {
                TransportFailure::ProxyUnreachable
            } else {
                TransportFailure::Connect
            };
        }
        TransportFailure::ConnectionLost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::Retryable;

    fn facts(edit: impl FnOnce(&mut FailureFacts)) -> FailureFacts {
        let mut facts = FailureFacts::new();
        edit(&mut facts);
        facts
    }

    /// The whole mapping table: facts → failure → retried or final.
    #[test]
    fn mapping_table() {
        use TransportFailure as T;
        let table: Vec<(FailureFacts, TransportFailure, bool)> = vec![
            (facts(|_| {}), T::ConnectionLost, true),
            (
                facts(|f| f.saw_io(io::ErrorKind::ConnectionReset)),
                T::ConnectionLost,
                true,
            ),
            (
                facts(|f| f.saw_io(io::ErrorKind::UnexpectedEof)),
                T::ConnectionLost,
                true,
            ),
            (
                facts(|f| f.saw_io(io::ErrorKind::ConnectionRefused)),
                T::Connect,
                true,
            ),
            (
                facts(|f| f.saw_io(io::ErrorKind::HostUnreachable)),
                T::Connect,
                true,
            ),
            (facts(|f| f.connecting = true), T::Connect, true),
            (
                facts(|f| {
                    f.saw_io(io::ErrorKind::ConnectionRefused);
                    f.via_proxy = true;
                }),
                T::ProxyUnreachable,
                true,
            ),
            (
                facts(|f| {
                    f.connecting = true;
                    f.via_proxy = true;
                }),
                T::ProxyUnreachable,
                true,
            ),
            (
                facts(|f| f.saw_io(io::ErrorKind::TimedOut)),
                T::Timeout,
                true,
            ),
            (
                facts(|f| f.saw_io(io::ErrorKind::WouldBlock)),
                T::Timeout,
                true,
            ),
            (
                facts(|f| {
                    f.connecting = true;
                    f.timed_out = true;
                }),
                T::ConnectTimeout,
                true,
            ),
            (
                facts(|f| f.proxy_refused = Some(Some(407))),
                T::ProxyRefused { status: Some(407) },
                false,
            ),
            (
                facts(|f| {
                    f.proxy_refused = Some(None);
                    f.via_proxy = true;
                    f.connecting = true;
                }),
                T::ProxyRefused { status: None },
                false,
            ),
            (
                facts(|f| {
                    f.saw_io(io::ErrorKind::InvalidData);
                    f.saw_tls(TlsFailure::UnknownIssuer);
                    f.connecting = true;
                }),
                T::Tls(TlsFailure::UnknownIssuer),
                false,
            ),
            (
                facts(|f| f.saw_tls(TlsFailure::Handshake)),
                T::Tls(TlsFailure::Handshake),
                false,
            ),
            (
                facts(|f| f.malformed_answer = true),
                T::MalformedAnswer,
                false,
            ),
            (
                facts(|f| {
                    f.malformed_answer = true;
                    f.saw_io(io::ErrorKind::InvalidData);
                }),
                T::MalformedAnswer,
                false,
            ),
            (facts(|f| f.unsendable = true), T::Unsendable, false),
        ];
        for (facts, failure, retried) in table {
            assert_eq!(facts.classify(), failure, "{facts:?}");
            assert_eq!(failure.is_retryable(), retried, "{failure:?}");
        }
        assert!(!TransportFailure::Redirected.is_retryable());
    }

    #[test]
    fn certificate_reason_wins_over_a_vaguer_one() {
        let both = facts(|f| {
            f.saw_tls(TlsFailure::Handshake);
            f.saw_tls(TlsFailure::Expired);
            f.saw_tls(TlsFailure::Handshake);
        });
        assert_eq!(both.tls, Some(TlsFailure::Expired));
    }

    #[test]
    fn innermost_io_kind_wins() {
        let chain = facts(|f| {
            f.saw_io(io::ErrorKind::Other);
            f.saw_io(io::ErrorKind::ConnectionRefused);
        });
        assert_eq!(chain.classify(), TransportFailure::Connect);
    }

    #[cfg(feature = "rustls")]
    #[test]
    fn rustls_errors_in_kie_proto_words() {
        use rustls::CertificateError as C;
        for (certificate, failure) in [
            (C::Expired, TlsFailure::Expired),
            (C::NotValidYet, TlsFailure::NotYetValid),
            (C::NotValidForName, TlsFailure::WrongHost),
            (C::UnknownIssuer, TlsFailure::UnknownIssuer),
            (C::Revoked, TlsFailure::Revoked),
            (C::BadSignature, TlsFailure::BadCertificate),
        ] {
            let error = rustls::Error::InvalidCertificate(certificate);
            assert_eq!(tls_failure(&error), failure);
        }
        // rustls-platform-verifier 0.7's words when it finds no trust store.
        let no_roots =
            rustls::Error::General("No CA certificates were loaded from the system".to_owned());
        assert_eq!(tls_failure(&no_roots), TlsFailure::NoTrustRoots);
        assert!(
            TransportFailure::Tls(TlsFailure::NoTrustRoots)
                .to_string()
                .contains("no trusted root certificates")
        );
        let other = rustls::Error::General("something else".to_owned());
        assert_eq!(tls_failure(&other), TlsFailure::Handshake);
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        assert_eq!(tls_failure(&alert), TlsFailure::Handshake);
    }
}
