//! The three File Upload API endpoints (spec §2): base64, stream (multipart) and URL upload.

use http::{Method, Request};

use crate::api::Api;
use crate::api_error::ApiError;
use crate::body::{Body, ContentEncoding, FramedBody};
use crate::envelope::parse_envelope;
use crate::error::IntegrityError;
use crate::input::{FileName, HttpUrl, InvalidInput, MimeType, UploadPath};
use crate::multipart::{self, Boundary, TextField};
use crate::operation::{Operation, request};
use crate::upload_result::UploadResult;

/// Which text the base64 endpoint receives in `base64Data` (spec §2.2: both are documented).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Base64Form {
    /// Bare standard base64 (the default: one integrator reports data URLs stored corrupt).
    #[default]
    Bare,
    /// A data URL: `data:<mime>;base64,<base64>`.
    DataUrl(MimeType),
}

/// `POST /api/file-base64-upload`: the content, base64-encoded on the fly, in a JSON body.
///
/// Empty content is refused when the request is built
/// ([`InvalidInput::Base64ContentEmpty`]): the service reads an empty `base64Data` as a
/// missing parameter. Empty files go through [`StreamUpload`].
///
/// The docs recommend it for small files (≤ 10 MB); it costs a third more bytes on the wire.
/// The body is framed: `{"uploadPath":…,"fileName":…,"base64Data":"` + base64 + `"}`.
///
/// ```
/// use kie_proto::{Api, ApiKey, Base64Upload, Body, FileName, Operation, UploadPath};
/// let api = Api::new(ApiKey::new("sk-example")?);
/// let upload = Base64Upload::new(UploadPath::new("images/base64")?, 3).with_file_name(FileName::new("a.txt")?);
/// let request = upload.to_request(&api)?;
/// let Body::Framed(body) = request.body() else { unreachable!() };
/// assert_eq!(
///     body.to_vec(b"abc")?,
///     br#"{"uploadPath":"images/base64","fileName":"a.txt","base64Data":"YWJj"}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base64Upload {
    upload_path: UploadPath,
    file_name: Option<FileName>,
    form: Base64Form,
    content_len: u64,
}

impl Base64Upload {
    /// Path of the endpoint on the upload host.
    pub const PATH: &'static str = "/api/file-base64-upload";

    /// An upload of `content_len` bytes (supplied later by the driver) into `upload_path`.
    pub fn new(upload_path: UploadPath, content_len: u64) -> Self {
        Self {
            upload_path,
            file_name: None,
            form: Base64Form::Bare,
            content_len,
        }
    }

    /// Stores the file under `file_name` (otherwise the service picks a random name).
    pub fn with_file_name(mut self, file_name: FileName) -> Self {
        self.file_name = Some(file_name);
        self
    }

    /// Sends the content as bare base64 or as a data URL.
    pub fn with_form(mut self, form: Base64Form) -> Self {
        self.form = form;
        self
    }

    /// The framed JSON body.
    pub fn body(&self) -> FramedBody {
        let mut head = String::from("{");
        push_json_field(&mut head, "uploadPath", self.upload_path.as_str());
        if let Some(name) = &self.file_name {
            push_json_field(&mut head, "fileName", name.as_str());
        }
        head.push_str("\"base64Data\":\"");
        if let Base64Form::DataUrl(mime) = &self.form {
            // MimeType holds token characters only: nothing to escape in a JSON string.
            head.push_str("data:");
            head.push_str(mime.as_str());
            head.push_str(";base64,");
        }
        FramedBody::new(
            head.into_bytes(),
            self.content_len,
            ContentEncoding::Base64,
            b"\"}".to_vec(),
        )
    }
}

/// Appends `"name":<value as JSON string>,` to `out`.
fn push_json_field(out: &mut String, name: &str, value: &str) {
    out.push('"');
    out.push_str(name);
    out.push_str("\":");
    // Serializing a &str cannot fail.
    out.push_str(&serde_json::to_string(value).unwrap_or_default());
    out.push(',');
}

impl Operation for Base64Upload {
    type Output = UploadResult;

    fn to_request(&self, api: &Api) -> Result<Request<Body>, InvalidInput> {
        if self.content_len == 0 {
            return Err(InvalidInput::Base64ContentEmpty);
        }
        let body = Body::Framed(self.body());
        request(
            api,
            Method::POST,
            api.upload_url(Self::PATH),
            Some("application/json"),
            body,
        )
    }

    fn parse_response(&self, response: http::Response<&[u8]>) -> Result<UploadResult, ApiError> {
        parse_envelope(&response)
    }

    fn check_output(&self, output: &UploadResult) -> Result<(), IntegrityError> {
        check_size(self.content_len, output)
    }
}

/// `POST /api/file-stream-upload`: the content as the `file` part of a
/// `multipart/form-data` body, after the `uploadPath` and `fileName` parts.
///
/// The recommended endpoint for anything over 10 MB; no maximum is documented.
///
/// ```
/// use kie_proto::{Api, ApiKey, Body, Boundary, FileName, MimeType, Operation, StreamUpload, UploadPath};
/// let api = Api::new(ApiKey::new("sk-example")?);
/// let upload = StreamUpload::new(UploadPath::new("docs")?, FileName::new("a.txt")?, 2)
///     .with_mime_type(MimeType::new("text/plain")?)
///     .with_boundary(Boundary::new("XyZ")?);
/// let request = upload.to_request(&api)?;
/// assert_eq!(request.headers()["content-type"], "multipart/form-data; boundary=XyZ");
/// let Body::Framed(body) = request.body() else { unreachable!() };
/// let wire = String::from_utf8(body.to_vec(b"hi")?)?;
/// assert!(wire.ends_with("filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhi\r\n--XyZ--\r\n"));
/// assert_eq!(request.headers()["content-length"], wire.len().to_string().as_str());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamUpload {
    upload_path: UploadPath,
    file_name: FileName,
    mime_type: MimeType,
    content_len: u64,
    boundary: Boundary,
}

impl StreamUpload {
    /// Path of the endpoint on the upload host.
    pub const PATH: &'static str = "/api/file-stream-upload";

    /// An upload of `content_len` bytes stored as `upload_path/file_name`.
    ///
    /// The name is required here: it is the multipart part's `filename` and is also sent as
    /// `fileName`, so the stored name does not depend on which of the documented naming rules
    /// (random name, or the part's filename) the service follows.
    pub fn new(upload_path: UploadPath, file_name: FileName, content_len: u64) -> Self {
        Self {
            upload_path,
            file_name,
            mime_type: MimeType::octet_stream(),
            content_len,
            boundary: Boundary::random(),
        }
    }

    /// The part's `Content-Type` (default `application/octet-stream`).
    pub fn with_mime_type(mut self, mime_type: MimeType) -> Self {
        self.mime_type = mime_type;
        self
    }

    /// A fixed boundary instead of a random one.
    pub fn with_boundary(mut self, boundary: Boundary) -> Self {
        self.boundary = boundary;
        self
    }

    /// The boundary in use.
    pub fn boundary(&self) -> &Boundary {
        &self.boundary
    }

    /// The framed multipart body.
    pub fn body(&self) -> FramedBody {
        let fields = [
            TextField {
                name: "uploadPath",
                value: self.upload_path.as_str(),
            },
            TextField {
                name: "fileName",
                value: self.file_name.as_str(),
            },
        ];
        let (head, tail) = multipart::frame(
            &self.boundary,
            &fields,
            "file",
            &self.file_name,
            &self.mime_type,
        );
        FramedBody::new(head, self.content_len, ContentEncoding::Raw, tail)
    }
}

impl Operation for StreamUpload {
    type Output = UploadResult;

    fn to_request(&self, api: &Api) -> Result<Request<Body>, InvalidInput> {
        let content_type = self.boundary.content_type();
        let body = Body::Framed(self.body());
        request(
            api,
            Method::POST,
            api.upload_url(Self::PATH),
            Some(&content_type),
            body,
        )
    }

    fn parse_response(&self, response: http::Response<&[u8]>) -> Result<UploadResult, ApiError> {
        parse_envelope(&response)
    }

    fn check_output(&self, output: &UploadResult) -> Result<(), IntegrityError> {
        check_size(self.content_len, output)
    }
}

/// `POST /api/file-url-upload`: the service downloads `fileUrl` itself (30 s timeout,
/// ≤ 100 MB recommended) and stores it.
///
/// ```
/// use kie_proto::{Api, ApiKey, Body, HttpUrl, Operation, UploadPath, UrlUpload};
/// let api = Api::new(ApiKey::new("sk-example")?);
/// let upload = UrlUpload::new(UploadPath::new("documents/manuals")?, HttpUrl::new("https://example.com/docs/manual.pdf")?);
/// let request = upload.to_request(&api)?;
/// assert_eq!(request.uri(), "https://kieai.redpandaai.co/api/file-url-upload");
/// assert_eq!(
///     request.body(),
///     &Body::Complete(br#"{"fileUrl":"https://example.com/docs/manual.pdf","uploadPath":"documents/manuals"}"#.to_vec())
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlUpload {
    upload_path: UploadPath,
    file_url: HttpUrl,
    file_name: Option<FileName>,
}

impl UrlUpload {
    /// Path of the endpoint on the upload host.
    pub const PATH: &'static str = "/api/file-url-upload";

    /// An upload of the file at `file_url` into `upload_path`.
    pub fn new(upload_path: UploadPath, file_url: HttpUrl) -> Self {
        Self {
            upload_path,
            file_url,
            file_name: None,
        }
    }

    /// Like [`UrlUpload::new`], checking the URL (the error names `fileUrl`).
    pub fn from_url(upload_path: UploadPath, file_url: &str) -> Result<Self, InvalidInput> {
        Ok(Self::new(
            upload_path,
            HttpUrl::for_field("fileUrl", file_url)?,
        ))
    }

    /// The URL the service fetches, as sent (normalised).
    pub fn file_url(&self) -> &HttpUrl {
        &self.file_url
    }

    /// Stores the file under `file_name` (otherwise the name comes from the URL).
    pub fn with_file_name(mut self, file_name: FileName) -> Self {
        self.file_name = Some(file_name);
        self
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct UrlUploadBody<'a> {
    file_url: &'a str,
    upload_path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_name: Option<&'a str>,
}

impl Operation for UrlUpload {
    type Output = UploadResult;

    fn to_request(&self, api: &Api) -> Result<Request<Body>, InvalidInput> {
        let body = UrlUploadBody {
            file_url: self.file_url.as_str(),
            upload_path: self.upload_path.as_str(),
            file_name: self.file_name.as_ref().map(FileName::as_str),
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        request(
            api,
            Method::POST,
            api.upload_url(Self::PATH),
            Some("application/json"),
            Body::Complete(json),
        )
    }

    fn parse_response(&self, response: http::Response<&[u8]>) -> Result<UploadResult, ApiError> {
        parse_envelope(&response)
    }
}

/// Checks the `fileSize` of `result` against the `sent` content bytes.
///
/// An answer without `fileSize` passes: the endpoint pages and the quickstart both document
/// it, but recorded answers (spec §2.1, [O]) and the `fileUrl`-only form do not always carry
/// it, and an unreadable `fileSize` is read as absent.
fn check_size(sent: u64, result: &UploadResult) -> Result<(), IntegrityError> {
    match result.file_size {
        Some(reported) if reported != sent => Err(IntegrityError::SizeMismatch {
            sent,
            reported,
            result: Box::new(result.clone()),
        }),
        _ => Ok(()),
    }
}

/// Which endpoint carries an upload's content (spec §2.2, §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum UploadEndpoint {
    /// `POST /api/file-stream-upload`, multipart: for files of any size (the default).
    #[default]
    Stream,
    /// `POST /api/file-base64-upload`, JSON with the content in base64 (a third larger on
    /// the wire): the docs recommend it up to 10 MB.
    Base64,
}

/// An upload of content through either endpoint, as [`UploadPlan::upload`](crate::UploadPlan::upload)
/// makes it: one operation type for a driver's one upload path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentUpload {
    /// Through the stream endpoint.
    Stream(StreamUpload),
    /// Through the base64 endpoint.
    Base64(Base64Upload),
}

impl Operation for ContentUpload {
    type Output = UploadResult;

    fn to_request(&self, api: &Api) -> Result<Request<Body>, InvalidInput> {
        match self {
            ContentUpload::Stream(upload) => upload.to_request(api),
            ContentUpload::Base64(upload) => upload.to_request(api),
        }
    }

    fn parse_response(&self, response: http::Response<&[u8]>) -> Result<UploadResult, ApiError> {
        match self {
            ContentUpload::Stream(upload) => upload.parse_response(response),
            ContentUpload::Base64(upload) => upload.parse_response(response),
        }
    }

    fn check_output(&self, output: &UploadResult) -> Result<(), IntegrityError> {
        match self {
            ContentUpload::Stream(upload) => upload.check_output(output),
            ContentUpload::Base64(upload) => upload.check_output(output),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_error::ErrorKind;

    fn ok(body: &str) -> Result<UploadResult, ApiError> {
        parse_envelope(&http::Response::new(body.as_bytes()))
    }

    #[test]
    fn endpoint_page_shape() {
        let result = ok(
            r#"{"success":true,"code":200,"msg":"File uploaded successfully","data":{
            "fileName":"uploaded-image.png","filePath":"images/user-uploads/uploaded-image.png",
            "downloadUrl":"https://tempfile.redpandaai.co/xxx/images/user-uploads/uploaded-image.png",
            "fileSize":154832,"mimeType":"image/png","uploadedAt":"2025-01-01T12:00:00.000Z"}}"#,
        );
        let result = result.map_err(|e| e.to_string());
        assert_eq!(
            result.as_ref().map(|r| r.download_url.as_str()),
            Ok("https://tempfile.redpandaai.co/xxx/images/user-uploads/uploaded-image.png")
        );
        assert_eq!(result.as_ref().map(|r| r.file_size), Ok(Some(154_832)));
        assert_eq!(
            result.as_ref().map(|r| r.uploaded_at.as_deref()),
            Ok(Some("2025-01-01T12:00:00.000Z"))
        );
        assert_eq!(result.as_ref().map(|r| r.expires_at.as_deref()), Ok(None));
    }

    #[test]
    fn quickstart_shape() {
        let result = ok(r#"{"success":true,"code":200,"msg":"File upload successful","data":{
            "fileId":"file_abc123456","fileName":"my-image.jpg","originalName":"sample-image.jpg",
            "fileSize":245760,"mimeType":"image/jpeg","uploadPath":"images",
            "fileUrl":"https://kieai.redpandaai.co/files/images/my-image.jpg",
            "downloadUrl":"https://kieai.redpandaai.co/download/file_abc123456",
            "uploadTime":"2025-01-15T10:30:00Z","expiresAt":"2025-01-18T10:30:00Z","somethingNew":[1]}}"#)
        .map_err(|e| e.to_string());
        let result = result.as_ref();
        assert_eq!(
            result.map(|r| r.download_url.as_str()),
            Ok("https://kieai.redpandaai.co/download/file_abc123456")
        );
        assert_eq!(
            result.map(|r| r.uploaded_at.as_deref()),
            Ok(Some("2025-01-15T10:30:00Z"))
        );
        assert_eq!(
            result.map(|r| r.file_id.as_deref()),
            Ok(Some("file_abc123456"))
        );
        assert_eq!(
            result.map(|r| r.expires_at.as_deref()),
            Ok(Some("2025-01-18T10:30:00Z"))
        );
    }

    #[test]
    fn file_url_fallback_and_missing_url() {
        let result = ok(r#"{"code":200,"data":{"fileUrl":"https://x/y.png"}}"#);
        assert_eq!(
            result.map(|r| r.download_url),
            Ok("https://x/y.png".to_owned())
        );
        let err = ok(r#"{"success":true,"code":200,"data":{"fileName":"a"}}"#).err();
        assert_eq!(
            err.as_ref().map(|e| e.kind),
            Some(ErrorKind::MalformedResponse)
        );
        let err = ok(r#"{"success":true,"code":200,"data":null}"#).err();
        assert_eq!(err.map(|e| e.kind), Some(ErrorKind::MalformedResponse));
    }

    #[test]
    fn data_must_be_an_object() {
        let err = ok(r#"{"success":true,"code":200,"data":["https://x/y.png","y.png"]}"#);
        assert_eq!(err.map_err(|e| e.kind), Err(ErrorKind::MalformedResponse));
    }

    #[test]
    fn wrong_types_in_text_fields_are_ignored() {
        let result = ok(
            r#"{"success":"true","code":"200","data":{"downloadUrl":"https://x/y.png",
            "fileName":7,"fileId":{"a":1},"mimeType":null,"fileSize":"12","note":"\ud83d\ude00"}}"#,
        );
        let result = result.map_err(|e| e.to_string());
        assert_eq!(
            result.as_ref().map(|r| (
                r.download_url.as_str(),
                r.file_name.as_deref(),
                r.file_id.as_deref(),
                r.mime_type.as_deref(),
                r.file_size
            )),
            Ok(("https://x/y.png", None, None, None, Some(12)))
        );
        // A non-string downloadUrl falls back to fileUrl.
        let result = ok(r#"{"code":200,"data":{"downloadUrl":5,"fileUrl":"https://x/z.png"}}"#);
        assert_eq!(
            result.map(|r| r.download_url),
            Ok("https://x/z.png".to_owned())
        );
    }

    #[test]
    fn stored_size_must_match_what_was_sent() -> Result<(), InvalidInput> {
        let stream = StreamUpload::new(UploadPath::new("p")?, FileName::new("a.bin")?, 5);
        let base64 = Base64Upload::new(UploadPath::new("p")?, 5);
        let url = UrlUpload::from_url(UploadPath::new("p")?, "https://x/a.bin")?;
        let answer = |size: &str| {
            ok(&format!(
                r#"{{"success":true,"code":200,"data":{{"downloadUrl":"https://x/a.bin"{size}}}}}"#
            ))
            .map_err(|e| e.to_string())
        };
        for (size, matches) in [
            (r#","fileSize":5"#, true),
            (r#","fileSize":"5""#, true),
            ("", true),
            (r#","fileSize":null"#, true),
            (r#","fileSize":4"#, false),
            (r#","fileSize":6"#, false),
            (r#","fileSize":0"#, false),
        ] {
            let result = answer(size);
            let result = result.as_ref().map_err(String::as_str);
            let checked = result.map(|r| stream.check_output(r).is_ok());
            assert_eq!(checked, Ok(matches), "{size}");
            assert_eq!(result.map(|r| base64.check_output(r).is_ok()), Ok(matches));
            // The service fetched the URL itself: nothing to compare.
            assert_eq!(result.map(|r| url.check_output(r).is_ok()), Ok(true));
        }
        let result = answer(r#","fileSize":4"#).unwrap();
        let error = stream.check_output(&result).unwrap_err();
        assert_eq!(
            error.to_string(),
            "KIE.AI reports 4 bytes stored for an upload of 5 bytes, so the stored file is not what was sent; upload it again"
        );
        assert_eq!(
            error,
            IntegrityError::SizeMismatch {
                sent: 5,
                reported: 4,
                result: Box::new(result),
            }
        );
        Ok(())
    }

    #[test]
    fn empty_base64_content_is_refused() -> Result<(), InvalidInput> {
        let api = Api::new(crate::ApiKey::new("k")?);
        let upload = Base64Upload::new(UploadPath::new("p")?, 0);
        assert_eq!(
            upload.to_request(&api).err(),
            Some(InvalidInput::Base64ContentEmpty)
        );
        Ok(())
    }

    #[test]
    fn base64_data_url_body() -> Result<(), Box<dyn std::error::Error>> {
        let upload = Base64Upload::new(UploadPath::new("p")?, 1)
            .with_form(Base64Form::DataUrl(MimeType::new("image/png")?));
        let json = upload.body().to_vec(&[0xff])?;
        assert_eq!(
            json,
            br#"{"uploadPath":"p","base64Data":"data:image/png;base64,/w=="}"#
        );
        Ok(())
    }
}
