//! An HTTP proxy on loopback, as squid would be: `CONNECT host:port` opens a tunnel;
//! any other request (absolute-form, `GET http://host:port/path`) is forwarded to its host.
//! With credentials set, a request without the matching `Proxy-Authorization: Basic` gets
//! `407 Proxy Authentication Required`. Every request head is logged.
//!
//! ```
//! use kie_tests::connect_proxy::ConnectProxy;
//! let proxy = ConnectProxy::start(Some(("user", "secret")));
//! assert!(proxy.url_with("user", "secret").starts_with("http://user:secret@127.0.0.1:"));
//! assert!(proxy.requests().is_empty());
//! ```
#![allow(clippy::expect_used)] // test infrastructure: failing to bind is a broken machine

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// One request head the proxy received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRequest {
    /// `CONNECT`, `GET`, `POST` …
    pub method: String,
    /// The request target: `host:port` for `CONNECT`, an absolute URL otherwise.
    pub target: String,
    /// The `Proxy-Authorization: Basic` credentials, decoded (`user:password`).
    pub credentials: Option<String>,
    /// Whether the proxy let it through.
    pub allowed: bool,
}

/// A running proxy; stops when dropped.
pub struct ConnectProxy {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<ProxyRequest>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl ConnectProxy {
    /// Listens on a free loopback port; requires `credentials` (user, password) when given.
    pub fn start(credentials: Option<(&str, &str)>) -> ConnectProxy {
        let required = credentials.map(|(user, password)| format!("{user}:{password}"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let runtime = crate::net_runtime("kie-connect-proxy");
        let (listener, addr) = crate::loopback_listener("bind the proxy");
        let serving = Arc::clone(&log);
        runtime.spawn(async move {
            let Ok(listener) = TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((client, _)) = listener.accept().await {
                let (log, required) = (Arc::clone(&serving), required.clone());
                tokio::spawn(async move {
                    let _ = serve(client, log, required).await;
                });
            }
        });
        ConnectProxy {
            addr,
            log,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://user:password@127.0.0.1:<port>` (both percent-encoded).
    pub fn url_with(&self, user: &str, password: &str) -> String {
        let encode = |text: &str| -> String {
            text.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        };
        format!("http://{}:{}@{}", encode(user), encode(password), self.addr)
    }

    /// Every request head received so far.
    pub fn requests(&self) -> Vec<ProxyRequest> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn serve(
    mut client: TcpStream,
    log: Arc<Mutex<Vec<ProxyRequest>>>,
    required: Option<String>,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if buffer.len() > 64 << 10 {
            return Ok(());
        }
        let mut chunk = [0; 4096];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default().to_owned();
    let credentials = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("proxy-authorization"))
        .and_then(|(_, value)| {
            let encoded = value.trim().strip_prefix("Basic ")?;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()?;
            String::from_utf8(decoded).ok()
        });
    let allowed = required.is_none() || credentials == required;
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(ProxyRequest {
            method: method.clone(),
            target: target.clone(),
            credentials,
            allowed,
        });
    if !allowed {
        client
            .write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                  Proxy-Authenticate: Basic realm=\"kie-tests\"\r\n\
                  Content-Type: text/html\r\nContent-Length: 27\r\nConnection: close\r\n\r\n\
                  <h1>407 login required</h1>",
            )
            .await?;
        return client.shutdown().await;
    }
    let authority = if method == "CONNECT" {
        target.clone()
    } else {
        let rest = target
            .split_once("://")
            .map_or(target.as_str(), |(_, rest)| rest);
        rest.split('/').next().unwrap_or_default().to_owned()
    };
    let Ok(mut upstream) = TcpStream::connect(authority.as_str()).await else {
        client
            .write_all(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await?;
        return client.shutdown().await;
    };
    if method == "CONNECT" {
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await?;
        upstream.write_all(&buffer[head_end..]).await?;
    } else {
        // Forwarded in the absolute form (an HTTP/1.1 server accepts it), one request per
        // connection: the next one on this client connection may be for another host.
        let mut forwarded: Vec<&str> = head
            .trim_end_matches("\r\n")
            .split("\r\n")
            .filter(|line| {
                let name = line.split(':').next().unwrap_or_default().trim();
                !["connection", "proxy-connection", "proxy-authorization"]
                    .iter()
                    .any(|hop| name.eq_ignore_ascii_case(hop))
            })
            .collect();
        forwarded.push("Connection: close");
        let forwarded = forwarded.join("\r\n") + "\r\n\r\n";
        upstream.write_all(forwarded.as_bytes()).await?;
        upstream.write_all(&buffer[head_end..]).await?;
    }
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}
