//! The two Common API endpoints (spec §3): remaining credits and download links.

use http::{Method, Request};
use serde::Deserialize;

use crate::api::Api;
use crate::api_error::ApiError;
use crate::body::Body;
use crate::envelope::{ObjectOnly, parse_envelope};
use crate::input::{HttpUrl, InvalidInput};
use crate::operation::{Operation, request};

/// `GET /api/v1/chat/credit`: the account's remaining credits.
///
/// `data` is documented as an integer, but prices can be fractional (4.8 credits), so the
/// balance is an `f64`; a numeric string is accepted too.
///
/// ```
/// use kie_proto::{Api, ApiKey, GetCredits, Operation};
/// let api = Api::new(ApiKey::new("sk-example")?);
/// let request = GetCredits.to_request(&api)?;
/// assert_eq!(request.uri(), "https://api.kie.ai/api/v1/chat/credit");
/// let answer = http::Response::new(&br#"{"code":200,"msg":"success","data":100}"#[..]);
/// assert_eq!(GetCredits.parse_response(answer)?, 100.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GetCredits;

impl GetCredits {
    /// Path of the endpoint on the API host.
    pub const PATH: &'static str = "/api/v1/chat/credit";
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WireCredits {
    Number(f64),
    Text(String),
}

impl Operation for GetCredits {
    type Output = f64;

    fn to_request(&self, api: &Api) -> Result<Request<Body>, InvalidInput> {
        request(api, Method::GET, api.api_url(Self::PATH), None, Body::Empty)
    }

    fn parse_response(&self, response: http::Response<&[u8]>) -> Result<f64, ApiError> {
        let credits: WireCredits = parse_envelope(&response)?;
        // A numeric string could spell `NaN` or `inf`, which no balance is.
        let credits = match credits {
            WireCredits::Number(n) => Some(n),
            WireCredits::Text(text) => text.trim().parse::<f64>().ok(),
        };
        credits
            .filter(|n| n.is_finite())
            .ok_or_else(|| malformed(&response, "credits are not a number"))
    }
}

/// `POST /api/v1/common/download-url`: a temporary (20-minute) download link for a file
/// KIE.AI generated. URLs of other hosts are refused with code 422
/// ([`ErrorKind::Validation`](crate::ErrorKind::Validation)).
///
/// `data` is documented as the URL string; an object `{"url": …}` (reported once) is
/// accepted too.
///
/// ```
/// use kie_proto::{Api, ApiKey, Body, GetDownloadUrl, HttpUrl, Operation};
/// let api = Api::new(ApiKey::new("sk-example")?);
/// let op = GetDownloadUrl::new(HttpUrl::new("https://tempfile.aiquickdraw.com/path/to/image.jpg")?);
/// let request = op.to_request(&api)?;
/// assert_eq!(request.body(), &Body::Complete(br#"{"url":"https://tempfile.aiquickdraw.com/path/to/image.jpg"}"#.to_vec()));
/// let answer = http::Response::new(&br#"{"code":200,"msg":"success","data":"https://tempfile.x/abc"}"#[..]);
/// assert_eq!(op.parse_response(answer)?, "https://tempfile.x/abc");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetDownloadUrl {
    url: HttpUrl,
}

impl GetDownloadUrl {
    /// Path of the endpoint on the API host.
    pub const PATH: &'static str = "/api/v1/common/download-url";

    /// A download link for the generated file at `url`.
    pub fn new(url: HttpUrl) -> Self {
        Self { url }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WireDownloadUrl {
    Url(String),
    Object(ObjectOnly<UrlObject>),
}

#[derive(Deserialize)]
struct UrlObject {
    url: String,
}

impl Operation for GetDownloadUrl {
    type Output = String;

    fn to_request(&self, api: &Api) -> Result<Request<Body>, InvalidInput> {
        let json = serde_json::json!({ "url": self.url.as_str() })
            .to_string()
            .into_bytes();
        request(
            api,
            Method::POST,
            api.api_url(Self::PATH),
            Some("application/json"),
            Body::Complete(json),
        )
    }

    fn parse_response(&self, response: http::Response<&[u8]>) -> Result<String, ApiError> {
        let url = match parse_envelope(&response)? {
            WireDownloadUrl::Url(url) | WireDownloadUrl::Object(ObjectOnly(UrlObject { url })) => {
                url
            }
        };
        if url.is_empty() {
            return Err(malformed(&response, "the download URL is empty"));
        }
        Ok(url)
    }
}

fn malformed(response: &http::Response<&[u8]>, message: &str) -> ApiError {
    ApiError {
        status: response.status(),
        code: Some(200),
        message: Some(message.to_owned()),
        kind: crate::ErrorKind::MalformedResponse,
        retry_after: crate::RetryAfter::from_headers(response.headers()),
        body_excerpt: None,
        redirect_host: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_error::ErrorKind;

    fn credits(body: &str) -> Result<f64, ApiError> {
        GetCredits.parse_response(http::Response::new(body.as_bytes()))
    }

    #[test]
    fn credit_values() {
        assert_eq!(
            credits(r#"{"code":200,"msg":"success","data":4.8}"#),
            Ok(4.8)
        );
        assert_eq!(
            credits(r#"{"code":200,"msg":"success","data":"5363"}"#),
            Ok(5363.0)
        );
        assert_eq!(
            credits(r#"{"code":200,"data":"lots"}"#).map_err(|e| e.kind),
            Err(ErrorKind::MalformedResponse)
        );
        assert_eq!(
            credits(r#"{"code":200,"data":null}"#).map_err(|e| e.kind),
            Err(ErrorKind::MalformedResponse)
        );
        for text in ["NaN", "inf", "-infinity", "1e999"] {
            let body = format!(r#"{{"code":200,"data":"{text}"}}"#);
            assert_eq!(
                credits(&body).map_err(|e| e.kind),
                Err(ErrorKind::MalformedResponse),
                "{text}"
            );
        }
    }

    #[test]
    fn download_url_object_form() -> Result<(), InvalidInput> {
        let op = GetDownloadUrl::new(HttpUrl::new("https://tempfile.aiquickdraw.com/a.png")?);
        let parse = |body: &str| op.parse_response(http::Response::new(body.as_bytes()));
        assert_eq!(
            parse(r#"{"code":200,"data":{"url":"https://x/y"}}"#),
            Ok("https://x/y".to_owned())
        );
        assert_eq!(
            parse(r#"{"code":200,"data":""}"#).map_err(|e| e.kind),
            Err(ErrorKind::MalformedResponse)
        );
        assert_eq!(
            parse(r#"{"code":200,"data":["https://x/y"]}"#).map_err(|e| e.kind),
            Err(ErrorKind::MalformedResponse)
        );
        assert_eq!(
            parse(r#"{"code":422,"msg":"Validation Error","data":null}"#).map_err(|e| e.kind),
            Err(ErrorKind::Validation)
        );
        Ok(())
    }
}
