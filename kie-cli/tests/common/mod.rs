//! What every `kie` test binary needs: the binary pointed at an emulator in a clean
//! environment, and reading what it printed.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use kie_emulator::Emulator;
use serde_json::Value;

/// The variables that point `kie` at `emu`, with its key.
pub fn emulator_env(emu: &Emulator) -> [(&'static str, String); 3] {
    [
        ("KIE_API_KEY", emu.api_key().to_owned()),
        ("KIE_UPLOAD_BASE_URL", emu.upload_base_url()),
        ("KIE_API_BASE_URL", emu.api_base_url()),
    ]
}

/// The binary with a clean environment (only `PATH` kept) pointed at `emu`, stdin empty.
pub fn kie(emu: &Emulator) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kie"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(emulator_env(emu))
        .stdin(Stdio::null());
    command
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the exit code, showing the output when it is not the expected one.
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// stdout as NDJSON: one value per line.
pub fn json_lines(output: &Output) -> Vec<Value> {
    text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect()
}

/// Sends `signal` (`INT`, `TERM`) to the process `pid`, through the shell's own `kill` (no
/// dependency on a procps binary).
pub fn send_signal(pid: u32, signal: &str) {
    let sent = Command::new("sh")
        .args(["-c", &format!("kill -{signal} \"$0\""), &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} {pid}");
}

/// A fresh, empty directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kie-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
