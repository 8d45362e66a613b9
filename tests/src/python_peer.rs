//! An upload endpoint on Python's standard `http.server` (`tests/peers/http_server_upload.py`),
//! so that the suite meets a server nobody on kie-rs wrote: it sends `100 Continue` twice, as
//! a Flask app under Werkzeug does. Where `python3` is absent, [`PythonUploadServer::start`]
//! prints a skip line and returns `None`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::real_servers::find_or_skip;

/// The script, run with `python3 -c`.
const SCRIPT: &str = include_str!("../peers/http_server_upload.py");

/// A running Python upload server on `127.0.0.1`; killed when dropped.
#[derive(Debug)]
pub struct PythonUploadServer {
    child: Child,
    port: u16,
}

impl PythonUploadServer {
    /// Starts the server, or prints `skipped: python3 not installed` and returns `None`.
    ///
    /// # Panics
    /// If `python3` is installed but the server does not start within 10 s.
    pub fn start() -> Option<PythonUploadServer> {
        let python = find_or_skip("python3")?;
        let mut child = match Command::new(python)
            .args(["-u", "-c", SCRIPT])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => panic!("python3 did not start: {e}"),
        };
        let Some(stdout) = child.stdout.take() else {
            panic!("python3's stdout is piped");
        };
        let (ready, port) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = ready.send(line);
        });
        let line = port
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_default();
        let Some(port) = line
            .strip_prefix("READY ")
            .and_then(|port| port.trim().parse().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the Python upload server did not start: {line:?}");
        };
        Some(PythonUploadServer { child, port })
    }

    /// `http://127.0.0.1:<port>`, to use as the upload base URL.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for PythonUploadServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
