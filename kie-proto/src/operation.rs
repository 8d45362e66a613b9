//! The [`Operation`] trait: one implementation per endpoint, each turning itself into an
//! `http::Request` and reading the matching `http::Response`.

use http::{HeaderValue, Method, Request, header};

use crate::api::Api;
use crate::api_error::ApiError;
use crate::body::Body;
use crate::error::IntegrityError;
use crate::input::InvalidInput;

/// One call to the KIE.AI API, without I/O.
///
/// A driver calls [`to_request`](Operation::to_request), sends the request (for a
/// [`Body::Framed`] body it streams the content through the body's
/// [`FrameEncoder`](crate::driver::FrameEncoder)), reads at most
/// [`MAX_RESPONSE_BODY`](crate::driver::MAX_RESPONSE_BODY) bytes of the answer and passes them to
/// [`parse_response`](Operation::parse_response). The same operation value can build the
/// request again for a retry.
pub trait Operation {
    /// What a successful answer yields.
    type Output;

    /// The request: method, URL, `Authorization`, `User-Agent`, `Accept`, `Content-Type`,
    /// exact `Content-Length`, and the body.
    fn to_request(&self, api: &Api) -> Result<Request<Body>, InvalidInput>;

    /// Reads the answer: the typed result, or the [`ApiError`] the answer stands for.
    fn parse_response(&self, response: http::Response<&[u8]>) -> Result<Self::Output, ApiError>;

    /// Checks a successful output against what this operation sent; a driver calls it after
    /// [`parse_response`](Operation::parse_response) succeeded and reports an error as final
    /// (not retried). The base64 and stream uploads compare the answer's `fileSize` with the
    /// content length ([`IntegrityError::SizeMismatch`]); the other operations have nothing
    /// to compare.
    fn check_output(&self, output: &Self::Output) -> Result<(), IntegrityError> {
        let _ = output;
        Ok(())
    }

    /// Whether sending the request twice does no harm. Every upload and read is (a second
    /// upload to the same path replaces the first); creating a paid task is not. A driver
    /// retries an operation that is not only when the failure proves the request never
    /// reached the service
    /// ([`AttemptFailure::may_have_reached_service`](crate::driver::AttemptFailure::may_have_reached_service)).
    fn is_idempotent(&self) -> bool {
        true
    }
}

/// A request with the headers every operation sends.
pub(crate) fn request(
    api: &Api,
    method: Method,
    url: String,
    content_type: Option<&str>,
    body: Body,
) -> Result<Request<Body>, InvalidInput> {
    let invalid_url = |err: http::Error| InvalidInput::UrlInvalid {
        field: "request URL",
        url: url.clone(),
        reason: err.to_string(),
    };
    let mut builder = Request::builder()
        .method(method)
        .uri(url.as_str())
        .header(header::AUTHORIZATION, api.key().authorization().clone())
        .header(header::USER_AGENT, api.user_agent().clone())
        .header(header::ACCEPT, HeaderValue::from_static("application/json"));
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    if !matches!(body, Body::Empty) {
        builder = builder.header(header::CONTENT_LENGTH, body.len());
    }
    builder.body(body).map_err(invalid_url)
}
