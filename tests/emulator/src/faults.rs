//! The fault plan: scripted outcomes applied to the next requests on a route.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::routes::Route;

/// One scripted outcome for one request. Faults pushed for a route are applied in order to
/// the next requests on that route, one fault per request; requests after the queue is
/// empty are handled normally.
///
/// A fault is applied before anything else (before the user-agent rule, the method check
/// and authentication), like a proxy or load balancer in front of the service would.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this canned response; the request body is read and discarded, nothing
    /// is stored.
    Respond {
        /// HTTP status (any value `http` accepts, e.g. 455).
        status: u16,
        /// `Content-Type` of the response.
        content_type: String,
        /// The exact response body.
        body: Vec<u8>,
        /// Extra response headers, e.g. `("Retry-After", "3")`.
        headers: Vec<(String, String)>,
    },
    /// Wait this long, then handle the request normally (nothing of the body is read
    /// during the wait).
    Delay(Duration),
    /// Close the connection before reading the request body; no response is sent.
    DropBeforeRead,
    /// Read at least this many request-body bytes (or the whole body if shorter), then
    /// close the connection without a response. Nothing is stored.
    DropAfterBytes(u64),
    /// Handle the request normally (an upload IS stored), then send the headers with the
    /// full `Content-Length` but only the first half of the body, and close the connection.
    TruncatedResponse,
    /// Handle the request normally, send the headers, then wait this long before sending
    /// the body.
    StallResponse(Duration),
    /// Handle the request normally (an upload IS stored), then wait this long before
    /// sending the response headers.
    StallBeforeHeaders(Duration),
}

impl Fault {
    /// A JSON response with the given HTTP status and body.
    pub fn json(status: u16, body: serde_json::Value) -> Fault {
        Fault::Respond {
            status,
            content_type: "application/json".to_owned(),
            body: body.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    /// An HTML error page from a proxy, e.g. `Fault::html(502)` for a Cloudflare-style
    /// "Bad Gateway" page.
    pub fn html(status: u16) -> Fault {
        let body = format!(
            "<html>\r\n<head><title>{status} Bad Gateway</title></head>\r\n<body>\r\n\
             <center><h1>{status} Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n\
             </body>\r\n</html>\r\n"
        );
        Fault::Respond {
            status,
            content_type: "text/html".to_owned(),
            body: body.into_bytes(),
            headers: Vec::new(),
        }
    }

    /// HTTP 429 with `{"code":429,"msg":"Too many requests","data":null}` and, when
    /// given, a `Retry-After: <secs>` header.
    pub fn rate_limited(retry_after_secs: Option<u64>) -> Fault {
        let mut fault = Fault::json(
            429,
            serde_json::json!({"code": 429, "msg": "Too many requests", "data": null}),
        );
        if let (Some(secs), Fault::Respond { headers, .. }) = (retry_after_secs, &mut fault) {
            headers.push(("Retry-After".to_owned(), secs.to_string()));
        }
        fault
    }

    /// HTTP 455 with body code 455 ("service unavailable, maintenance"). For the
    /// HTTP-200 flavour use `Fault::json(200, json!({"code":455,...}))`.
    pub fn maintenance_455() -> Fault {
        Fault::json(
            455,
            serde_json::json!({"code": 455, "msg": "Service unavailable: maintenance", "data": null}),
        )
    }

    /// HTTP 200 carrying an upload-style failure:
    /// `{"success":false,"code":500,"msg":"Internal server error"}`.
    pub fn success_false_200() -> Fault {
        Fault::json(
            200,
            serde_json::json!({"success": false, "code": 500, "msg": "Internal server error"}),
        )
    }

    /// HTTP 500 with the documented upload body
    /// `{"success":false,"code":500,"msg":"Internal server error"}`.
    pub fn internal_error_500() -> Fault {
        Fault::json(
            500,
            serde_json::json!({"success": false, "code": 500, "msg": "Internal server error"}),
        )
    }

    /// The Cloudflare browser-integrity refusal: HTTP 403, `text/plain`,
    /// body `error code: 1010`.
    pub fn cloudflare_1010() -> Fault {
        Fault::Respond {
            status: 403,
            content_type: "text/plain; charset=UTF-8".to_owned(),
            body: b"error code: 1010".to_vec(),
            headers: Vec::new(),
        }
    }

    /// A short label for the request log, e.g. `"Respond(429)"` or `"DropAfterBytes(10)"`.
    pub fn label(&self) -> String {
        match self {
            Fault::Respond { status, .. } => format!("Respond({status})"),
            Fault::Delay(d) => format!("Delay({d:?})"),
            Fault::DropBeforeRead => "DropBeforeRead".to_owned(),
            Fault::DropAfterBytes(n) => format!("DropAfterBytes({n})"),
            Fault::TruncatedResponse => "TruncatedResponse".to_owned(),
            Fault::StallResponse(d) => format!("StallResponse({d:?})"),
            Fault::StallBeforeHeaders(d) => format!("StallBeforeHeaders({d:?})"),
        }
    }
}

/// A cloneable handle to the emulator's fault queues (one FIFO queue per [`Route`]).
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    queues: Arc<Mutex<HashMap<Route, VecDeque<Fault>>>>,
}

impl FaultPlan {
    /// Appends `fault` to the queue of `route`.
    pub fn push(&self, route: Route, fault: Fault) {
        self.lock().entry(route).or_default().push_back(fault);
    }

    /// Appends `fault` to the queue of `route` `times` times.
    pub fn push_n(&self, route: Route, fault: Fault, times: usize) {
        let mut queues = self.lock();
        let queue = queues.entry(route).or_default();
        for _ in 0..times {
            queue.push_back(fault.clone());
        }
    }

    /// Empties every queue.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// How many faults are still queued for `route`.
    pub fn remaining(&self, route: Route) -> usize {
        self.lock().get(&route).map_or(0, VecDeque::len)
    }

    /// Takes the next fault for `route`, if any (used by the server for each request).
    pub(crate) fn pop(&self, route: Route) -> Option<Fault> {
        self.lock().get_mut(&route).and_then(VecDeque::pop_front)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Route, VecDeque<Fault>>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
