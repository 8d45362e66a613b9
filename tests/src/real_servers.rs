//! Real nginx and squid, when the machine has them: each instance runs on free loopback
//! ports with its own configuration, pid, log and temporary files in a fresh directory
//! (nothing of the distribution's defaults is read or written), in the foreground as one
//! process, and is killed when dropped.
//!
//! These servers are an extra layer over the in-process fronts ([`crate::tls_front`],
//! [`crate::connect_proxy`]): `.ci/run` installs them with apt-get when it can, and a
//! machine with only the Rust toolchain skips the scenarios that need them.
//!
//! ```no_run
//! use kie_tests::real_servers::{Nginx, Squid};
//! use kie_tests::tls_front::{CertKind, TestCa};
//!
//! let emulator = kie_tests::Emulator::start();
//! let upstream = emulator.upload_base_url().trim_start_matches("http://").parse().unwrap();
//! let ca = TestCa::generate("example CA");
//! if let Some(nginx) = Nginx::find() {
//!     let front = Nginx::start_tls_proxy(&nginx, &ca.issue(CertKind::Valid), upstream, "64m");
//!     assert!(front.base_url().starts_with("https://127.0.0.1:"));
//! }
//! if let Some(squid) = Squid::find() {
//!     let proxy = Squid::start(&squid);
//!     assert!(proxy.url().starts_with("http://127.0.0.1:"));
//! }
//! ```
#![allow(clippy::expect_used)] // test infrastructure: a temp directory that cannot be written is a broken machine

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tls_front::ServerIdentity;

/// How long a server may take to accept connections after it was started.
const START_LIMIT: Duration = Duration::from_secs(10);
/// How often a server that did not start is restarted on another port (a free port found
/// by binding port 0 may be taken by someone else before the server binds it).
const START_TRIES: usize = 3;

/// Where `program` is: the first match on `PATH`, then the system directories that a
/// non-root `PATH` often lacks (`/usr/sbin`, `/usr/local/sbin`, `/sbin`).
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// [`find_program`], printing `skipped: <program> not installed` when it is absent (for a
/// scenario that then returns, passing).
pub fn find_or_skip(program: &str) -> Option<PathBuf> {
    let found = find_program(program);
    if found.is_none() {
        println!("skipped: {program} not installed");
    }
    found
}

/// A running nginx terminating TLS in front of an upstream HTTP server; killed on drop.
pub struct Nginx {
    server: Server,
}

impl Nginx {
    /// The nginx binary, if installed (prints the skip line if not).
    pub fn find() -> Option<PathBuf> {
        find_or_skip("nginx")
    }

    /// Starts `program` as a TLS reverse proxy on a free loopback port: HTTPS (HTTP/1.1 and
    /// HTTP/2 by ALPN) with `identity`, every request forwarded to `upstream` over
    /// HTTP/1.1, request bodies over `client_max_body_size` (nginx syntax: `1m`, `64m`,
    /// `0` for no limit) refused with nginx's own 413 page. Panics with nginx's error log
    /// if it does not start.
    pub fn start_tls_proxy(
        program: &Path,
        identity: &ServerIdentity,
        upstream: SocketAddr,
        client_max_body_size: &str,
    ) -> Nginx {
        let dir = ServerDir::new("nginx");
        let certificate = dir.write("server.pem", identity.certificate_pem());
        let key = dir.write("server.key", identity.key_pem());
        let root = dir.path().display().to_string();
        let server = Server::start(dir, |dir, port| {
            let config = format!(
                r#"master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format kie '$request_method $request_uri $server_protocol $status';
    access_log {root}/access.log kie;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {certificate};
        ssl_certificate_key {key};
        client_max_body_size {client_max_body_size};
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
        }}
    }}
}}
"#,
                certificate = certificate.display(),
                key = key.display(),
            );
            let config = dir.write("nginx.conf", &config);
            let mut command = Command::new(program);
            command
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(config)
                .args(["-g", "daemon off;"]);
            command
        });
        Nginx { server }
    }

    /// `https://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.server.port)
    }

    /// The access log so far, one line per request: `METHOD URI PROTOCOL STATUS` (nginx
    /// writes a line when a request ends).
    pub fn access_log(&self) -> Vec<String> {
        self.server.dir.lines("access.log")
    }
}

/// A running squid forwarding proxy that lets loopback clients reach loopback servers,
/// `CONNECT` tunnels to any port included; killed on drop.
pub struct Squid {
    server: Server,
}

impl Squid {
    /// The squid binary, if installed (prints the skip line if not).
    pub fn find() -> Option<PathBuf> {
        find_or_skip("squid")
    }

    /// Starts `program` on a free loopback port, caching nothing. Panics with squid's
    /// cache log if it does not start.
    pub fn start(program: &Path) -> Squid {
        let dir = ServerDir::new("squid");
        // Started as root, squid works as its unprivileged user (`proxy` on Debian), which
        // must be able to write its logs here.
        dir.open_to_everyone();
        let root = dir.path().display().to_string();
        let server = Server::start(dir, |dir, port| {
            let config = format!(
                r#"http_port 127.0.0.1:{port}
pid_filename none
pinger_enable off
cache_log {root}/cache.log
logformat kie %rm %ru %>Hs
access_log stdio:{root}/access.log kie
cache_store_log none
cache deny all
cache_mem 8 MB
coredump_dir {root}
visible_hostname kie-tests
shutdown_lifetime 0 seconds
acl kie_clients src 127.0.0.1/32
acl kie_loopback dst 127.0.0.1/32
http_access allow kie_clients kie_loopback
http_access deny all
"#
            );
            let config = dir.write("squid.conf", &config);
            let mut command = Command::new(program);
            command.arg("-N").arg("-f").arg(config);
            command
        });
        Squid { server }
    }

    /// `http://127.0.0.1:<port>` (for a client's `proxy(url)`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    /// The access log so far, one line per transaction: `METHOD URL STATUS` (a `CONNECT`
    /// tunnel is logged when it closes).
    pub fn access_log(&self) -> Vec<String> {
        self.server.dir.lines("access.log")
    }
}

/// A server process listening on `port`, with its directory.
struct Server {
    child: Child,
    port: u16,
    dir: ServerDir,
}

impl Server {
    /// Runs the command `make(dir, port)` for a free port until it accepts connections
    /// there, trying another port if it exits first.
    fn start(dir: ServerDir, make: impl Fn(&ServerDir, u16) -> Command) -> Server {
        let mut failures = String::new();
        for _ in 0..START_TRIES {
            let port = free_port();
            let mut command = make(&dir, port);
            command
                .stdin(Stdio::null())
                .stdout(dir.create("stdout.log"))
                .stderr(dir.create("stderr.log"));
            let mut child = match command.spawn() {
                Ok(child) => child,
                Err(e) => panic!("cannot run {command:?}: {e}"),
            };
            let deadline = Instant::now() + START_LIMIT;
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Server { child, port, dir };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    failures.push_str(&format!("{command:?} exited ({status}):\n"));
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    failures.push_str(&format!("{command:?} did not listen in time:\n"));
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            for log in ["stderr.log", "error.log", "cache.log"] {
                failures.push_str(&dir.lines(log).join("\n"));
            }
            failures.push('\n');
        }
        panic!("a real server did not start:\n{failures}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // One process each (nginx `master_process off`, squid `-N` without the pinger):
        // killing it leaves nothing behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let (listener, addr) = crate::loopback_listener("find a free port");
    drop(listener);
    addr.port()
}

/// A fresh directory for one server, removed on drop.
struct ServerDir(PathBuf);

impl ServerDir {
    fn new(tag: &str) -> ServerDir {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("kie-real-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a directory for a real server");
        ServerDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to `name` and returns its path.
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write a real server's file");
        path
    }

    /// A new file `name`, for a child's output.
    fn create(&self, name: &str) -> std::fs::File {
        std::fs::File::create(self.0.join(name)).expect("create a real server's log")
    }

    /// Lets any user create files in the directory.
    fn open_to_everyone(&self) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o777))
                .expect("open a real server's directory");
        }
    }

    /// The lines of `name` (none if it does not exist).
    fn lines(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.0.join(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for ServerDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
