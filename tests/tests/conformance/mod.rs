//! The driver conformance suite: written once, run against every kie-rs driver, always
//! against the emulator over real sockets.
//!
//! A driver test file implements [`Driver`] (a small synchronous harness; an async driver
//! blocks on its runtime inside each method) and invokes [`conformance_suite!`], which
//! generates one `#[test]` per scenario:
//!
//! ```ignore
//! #[macro_use]
//! mod conformance;
//! struct Blocking(kie_blocking::Client);
//! impl conformance::Driver for Blocking { /* … */ }
//! conformance::conformance_suite!(Blocking);
//! ```
//!
//! Downloads are checked with a tiny HTTP/1.1 client written here over `TcpStream`, so the
//! check does not depend on any driver.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kie_proto::{
    Error, ErrorKind, IntegrityError, InvalidInput, Progress, RetryAfter, RetryPolicy,
    TimeoutReason, TransportFailure, UploadOptions, UploadResult,
};
use kie_tests::hostile::{Behaviour, Close, HostilePeer};
use kie_tests::{Emulator, ErrorStyle, Fault, Host, LoggedRequest, Route, StoredFile};
use serde_json::json;

mod error_codes;
mod faults;
mod happy_paths;
mod helpers;
mod hostile;
mod inputs_and_wire;
mod jobs;
mod real_networks;
mod real_servers;

pub use error_codes::*;
pub use faults::*;
pub use happy_paths::*;
pub use helpers::*;
pub use hostile::*;
pub use inputs_and_wire::*;
pub use jobs::*;
pub use real_networks::*;
pub use real_servers::*;

// ---------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------

/// How a scenario wants its client configured. Every field maps to a `ClientConfig` setter
/// of the same name ([`Settings::config`]), but `http2`, kie-async's own knob.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The API key; `None` uses the emulator's.
    pub key: Option<String>,
    /// Upload base URL; `None` uses the emulator's upload host.
    pub upload_base_url: Option<String>,
    /// API base URL; `None` uses the emulator's api host.
    pub api_base_url: Option<String>,
    /// The retry policy.
    pub retry: RetryPolicy,
    /// `connect_timeout`.
    pub connect_timeout: Option<Duration>,
    /// `timeout` (overall, per attempt).
    pub timeout: Option<Duration>,
    /// `read_timeout` (idle).
    pub read_timeout: Option<Duration>,
    /// `proxy(url)`.
    pub proxy: Option<String>,
    /// `no_proxy()`.
    pub no_proxy: bool,
    /// `http2()` (kie-async only: kie-blocking speaks HTTP/1.1 only).
    pub http2: bool,
    /// `tls_roots(…)`.
    pub tls_roots: Option<kie_proto::TlsRoots>,
    /// `answer_timeout`.
    pub answer_timeout: Option<Duration>,
    /// `low_speed_limit(bytes, window)`.
    pub low_speed_limit: Option<(u64, Duration)>,
    /// `small_call_timeout`.
    pub small_call_timeout: Option<Duration>,
}

impl Default for Settings {
    /// Retries on with tiny delays (3 attempts, 10 ms base), a 60 s idle timeout (an
    /// unoptimised emulator takes seconds to digest 64 MiB of base64).
    fn default() -> Self {
        Settings {
            key: None,
            upload_base_url: None,
            api_base_url: None,
            retry: retries_on(),
            connect_timeout: Some(Duration::from_secs(5)),
            timeout: None,
            read_timeout: Some(Duration::from_secs(60)),
            proxy: None,
            no_proxy: false,
            http2: false,
            tls_roots: None,
            answer_timeout: None,
            low_speed_limit: None,
            small_call_timeout: None,
        }
    }
}

impl Settings {
    /// The default settings without retries.
    pub fn no_retries() -> Self {
        Settings {
            retry: RetryPolicy::never(),
            ..Settings::default()
        }
    }

    /// The key to use with `emulator`.
    pub fn key_for<'a>(&'a self, emulator: &'a Emulator) -> &'a str {
        self.key.as_deref().unwrap_or_else(|| emulator.api_key())
    }

    /// The upload base URL to use with `emulator`.
    pub fn upload_base_url_for(&self, emulator: &Emulator) -> String {
        self.upload_base_url
            .clone()
            .unwrap_or_else(|| emulator.upload_base_url())
    }

    /// The API base URL to use with `emulator`.
    pub fn api_base_url_for(&self, emulator: &Emulator) -> String {
        self.api_base_url
            .clone()
            .unwrap_or_else(|| emulator.api_base_url())
    }

    /// The client settings for `emulator`, the same for every driver (a driver adds only
    /// its own transport knobs, such as `http2`).
    pub fn config(&self, emulator: &Emulator) -> kie_proto::ClientConfig {
        let mut config = kie_proto::ClientConfig::new(self.key_for(emulator))
            .upload_base_url(&self.upload_base_url_for(emulator))
            .api_base_url(&self.api_base_url_for(emulator))
            .retry_policy(self.retry);
        if let Some(timeout) = self.connect_timeout {
            config = config.connect_timeout(timeout);
        }
        if let Some(timeout) = self.timeout {
            config = config.timeout(timeout);
        }
        if let Some(timeout) = self.read_timeout {
            config = config.read_timeout(timeout);
        }
        if let Some(proxy) = &self.proxy {
            config = config.proxy(proxy);
        }
        if self.no_proxy {
            config = config.no_proxy();
        }
        if let Some(roots) = &self.tls_roots {
            config = config.tls_roots(roots.clone());
        }
        if let Some(timeout) = self.answer_timeout {
            config = config.answer_timeout(timeout);
        }
        if let Some((bytes, window)) = self.low_speed_limit {
            config = config.low_speed_limit(bytes, window);
        }
        if let Some(timeout) = self.small_call_timeout {
            config = config.small_call_timeout(timeout);
        }
        config
    }
}

/// Retries on, with short delays so the suite stays fast.
pub fn retries_on() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(3)
        .with_base_delay(Duration::from_millis(10))
        .with_max_retry_after(Duration::from_secs(5))
}

/// One driver, seen synchronously. Every method forwards to the client method of the same
/// name.
pub trait Driver: Sized {
    /// Whether the driver reads an answer that arrived before the peer reset the
    /// connection while the request body was still going out. kie-blocking does (its TCP
    /// layer reads what is queued after the failed write); kie-async (hyper under reqwest)
    /// does only when it happened to read before the failed write, so there the scenario
    /// checks the weaker promise: bounded bytes per attempt, the 413 or a connection loss.
    const READS_AN_ANSWER_AFTER_A_RESET: bool;
    /// Whether the driver sees the answer's header bytes one by one (kie-blocking: its own
    /// TCP layer), so that they restart the idle timer; kie-async sees the head only once
    /// complete (reqwest hides the connection).
    const SEES_HEADER_BYTES: bool;
    /// Whether the driver negotiates HTTP/2 by ALPN with a server that offers it when
    /// [`Settings::http2`] asks (kie-async; kie-blocking speaks HTTP/1.1 only).
    const SPEAKS_HTTP2: bool;
    /// Builds a client for `emulator` with `settings` (nothing is sent).
    fn connect(emulator: &Emulator, settings: &Settings) -> Result<Self, Error>;
    /// `upload_file`.
    fn upload_file(&self, path: &Path, options: &UploadOptions) -> Result<UploadResult, Error>;
    /// `upload_reader`.
    fn upload_reader(
        &self,
        reader: Box<dyn Read + Send>,
        len: u64,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error>;
    /// `upload_bytes`.
    fn upload_bytes(&self, bytes: &[u8], options: &UploadOptions) -> Result<UploadResult, Error>;
    /// `upload_base64_file`.
    fn upload_base64_file(
        &self,
        path: &Path,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error>;
    /// `upload_base64_bytes`.
    fn upload_base64_bytes(
        &self,
        bytes: &[u8],
        options: &UploadOptions,
    ) -> Result<UploadResult, Error>;
    /// `upload_url`.
    fn upload_url(&self, url: &str, options: &UploadOptions) -> Result<UploadResult, Error>;
    /// `credits`.
    fn credits(&self) -> Result<f64, Error>;
    /// `download_url`.
    fn download_url(&self, url: &str) -> Result<String, Error>;
    /// `format!("{client:?}")`.
    fn debug_of_client(&self) -> String;
    /// `from_config`.
    fn from_config(config: kie_proto::ClientConfig) -> Result<Self, Error>;
    /// `from_env` (reads `KIE_API_KEY` and the base URL variables).
    fn from_env() -> Result<Self, Error>;
    /// `api`.
    fn api(&self) -> kie_proto::Api;
    /// `retry_policy`.
    fn retry_policy(&self) -> RetryPolicy;
    /// `upload` of a path or bytes, through the endpoint the options choose.
    fn upload(&self, source: Source<'_>, options: &UploadOptions) -> Result<UploadResult, Error>;
    /// `upload_source`.
    fn upload_source(
        &self,
        source: Source<'_>,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error>;
    /// `upload_base64_reader`.
    fn upload_base64_reader(
        &self,
        reader: Box<dyn Read + Send>,
        len: u64,
        options: &UploadOptions,
    ) -> Result<UploadResult, Error>;
    /// `send`.
    fn send<O>(&self, operation: &O) -> Result<O::Output, Error>
    where
        O: kie_proto::Operation + Sync,
        O::Output: Send;
    /// `send_with_content`, the content in memory (read through each driver's seekable
    /// reader type).
    fn send_with_content<O>(
        &self,
        operation: &O,
        content: Vec<u8>,
        progress: Option<kie_proto::ProgressCallback>,
    ) -> Result<O::Output, Error>
    where
        O: kie_proto::Operation + Sync,
        O::Output: Send;
    /// `create_task`.
    fn create_task(
        &self,
        create: &kie_proto::task::NewTask,
    ) -> Result<kie_proto::task::TaskRef, Error>;
    /// `get_task`.
    fn get_task(
        &self,
        task: &kie_proto::task::TaskRef,
    ) -> Result<kie_proto::task::TaskRecord, Error>;
    /// `wait_task`.
    fn wait_task(
        &self,
        task: &kie_proto::task::TaskRef,
        options: &kie_proto::task::WaitOptions,
    ) -> Result<kie_proto::task::TaskView, Error>;
    /// `run`.
    fn run(
        &self,
        create: &kie_proto::task::NewTask,
        options: &kie_proto::task::WaitOptions,
    ) -> Result<kie_proto::task::TaskView, Error>;
    /// `veo_1080p`.
    fn veo_1080p(
        &self,
        task: &kie_proto::task::TaskRef,
        index: Option<u32>,
        wait: &kie_proto::task::veo::Veo1080pWait,
    ) -> Result<Vec<String>, Error>;
    /// `prepare_input`.
    fn prepare_input(
        &self,
        input: &kie_proto::task::TaskInput,
        options: &UploadOptions,
    ) -> Result<serde_json::Value, Error>;
    /// `download_result` into memory.
    fn download_result(&self, url: &str) -> Result<Vec<u8>, Error>;
    /// `download_result_to`.
    fn download_result_to(&self, url: &str, path: &Path) -> Result<u64, Error>;
}

/// What [`Driver::upload`] sends: each driver's `UploadSource` of the same name.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A file.
    Path(&'a Path),
    /// Bytes.
    Bytes(&'a [u8]),
}

/// Generates one `#[test]` per scenario for `$driver` (declare the module with
/// `#[macro_use] mod conformance;`).
macro_rules! conformance_suite {
    ($driver:ty) => {
        conformance_suite!(@tests $driver;
            happy_paths,
            round_trip_edge_sizes,
            large_file_stream,
            large_file_base64,
            hostile_file_names,
            generated_names_are_fixed_per_upload,
            progress_contract,
            error_codes_upload_host,
            error_codes_api_host,
            natural_refusals,
            rate_limit_retry_after_is_honoured,
            maintenance_455,
            server_errors_500_and_502_html,
            success_false_at_http_200,
            connection_dropped_mid_upload,
            connection_dropped_before_read,
            truncated_response,
            result_download_cut_then_written_again,
            stalled_response_body,
            stalled_response_headers,
            overall_timeout,
            connect_failure,
            non_rewindable_reader,
            small_reader_is_retried,
            content_length_mismatch,
            bad_input_sends_nothing,
            bad_settings_send_nothing,
            key_never_printed,
            redirects_not_followed,
            wire_format,
            stored_size_is_checked,
            verify_download,
            every_method_of_the_client,
            jobs_upload_run_download,
            jobs_failed_tasks_say_whether_to_create_again,
            jobs_not_visible_then_found,
            jobs_deadline_says_the_task_may_still_finish,
            jobs_create_refused_by_rate_is_retried_once_created,
            jobs_create_answer_lost_is_not_sent_again,
            jobs_expired_input_fails_the_task,
            jobs_refused_result_link_is_refreshed_once,
            jobs_record_variants,
            jobs_transport_failures_mid_wait_are_retried,
            jobs_callback_verified_and_confirmed,
            jobs_cancelled_wait_leaves_the_task_running,
            jobs_veo_from_image_to_1080p,
            url_upload_sends_the_normalised_url,
            payload_too_large_413,
            malformed_answers,
            tls_roots_chosen_on_the_builder,
            hostile_stall_before_headers,
            hostile_stall_after_headers,
            hostile_verify_download_stalls,
            hostile_result_download_stalls,
            hostile_answer_drip,
            hostile_header_drip,
            hostile_blackhole_upload,
            hostile_stop_reading_mid_body,
            hostile_drip_read_is_low_speed,
            hostile_slow_moving_upload_is_not_cut,
            hostile_small_call_deadline,
            hostile_early_413_then_reset,
            hostile_413_on_headers,
            hostile_413_on_headers_over_tls,
            hostile_malformed_answers,
            hostile_interim_answers,
            hostile_unasked_switching_protocols,
            python_http_server,
            real_nginx_tls_front,
            real_nginx_body_limit,
            real_squid_tunnel,
        );
        /// TLS and proxies, in a child process whose `SSL_CERT_FILE` and `HTTPS_PROXY` are
        /// set for it (environment variables are global to a process).
        #[test]
        fn real_networks() {
            conformance::real_networks_in_child("real_networks_child");
        }
        #[test]
        #[ignore = "run by real_networks in a child process with its environment"]
        fn real_networks_child() {
            if conformance::is_real_networks_child() {
                conformance::real_networks::<$driver>();
            }
        }
    };
    (@tests $driver:ty; $($name:ident,)*) => {
        $(
            #[test]
            fn $name() {
                conformance::$name::<$driver>();
            }
        )*
    };
}
