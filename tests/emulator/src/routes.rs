//! The three hosts the emulator plays and the routes it serves on them.

/// One of the three hosts of the real service; the emulator runs one listener per host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// The File Upload API host (`https://kieai.redpandaai.co`).
    Upload,
    /// The Common API host (`https://api.kie.ai`): credits and download-url.
    Api,
    /// The host serving uploaded and generated files (`https://tempfile.redpandaai.co`).
    Files,
}

impl Host {
    /// `"upload"`, `"api"` or `"files"`.
    pub fn name(self) -> &'static str {
        match self {
            Host::Upload => "upload",
            Host::Api => "api",
            Host::Files => "files",
        }
    }
}

/// A route of the emulator, used to target faults ([`crate::FaultPlan`]) and to read the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /api/file-base64-upload` on the upload host.
    Base64Upload,
    /// `POST /api/file-stream-upload` on the upload host.
    StreamUpload,
    /// `POST /api/file-url-upload` on the upload host.
    UrlUpload,
    /// `GET /api/v1/chat/credit` on the api host.
    Credits,
    /// `POST /api/v1/common/download-url` on the api host.
    DownloadUrl,
    /// `POST /api/v1/jobs/createTask` on the api host.
    CreateTask,
    /// `GET /api/v1/jobs/recordInfo` on the api host.
    RecordInfo,
    /// `POST /api/v1/veo/generate` on the api host.
    VeoGenerate,
    /// `POST /api/v1/veo/extend` on the api host.
    VeoExtend,
    /// `GET /api/v1/veo/record-info` on the api host.
    VeoRecordInfo,
    /// `GET /api/v1/veo/get-1080p-video` on the api host.
    Veo1080p,
    /// `POST /api/v1/veo/get-4k-video` on the api host.
    Veo4k,
    /// Any path on the files host (downloads of stored and generated files).
    Files,
}

/// Path of the Base64 upload route.
pub const BASE64_UPLOAD_PATH: &str = "/api/file-base64-upload";
/// Path of the stream (multipart) upload route.
pub const STREAM_UPLOAD_PATH: &str = "/api/file-stream-upload";
/// Path of the URL upload route.
pub const URL_UPLOAD_PATH: &str = "/api/file-url-upload";
/// Path of the credits route.
pub const CREDITS_PATH: &str = "/api/v1/chat/credit";
/// Path of the download-url route.
pub const DOWNLOAD_URL_PATH: &str = "/api/v1/common/download-url";
/// Path of the Market create-task route.
pub const CREATE_TASK_PATH: &str = "/api/v1/jobs/createTask";
/// Path of the Market task-record route.
pub const RECORD_INFO_PATH: &str = "/api/v1/jobs/recordInfo";
/// Path of the Veo generate route.
pub const VEO_GENERATE_PATH: &str = "/api/v1/veo/generate";
/// Path of the Veo extend route.
pub const VEO_EXTEND_PATH: &str = "/api/v1/veo/extend";
/// Path of the Veo task-record route.
pub const VEO_RECORD_INFO_PATH: &str = "/api/v1/veo/record-info";
/// Path of the Veo 1080p route.
pub const VEO_1080P_PATH: &str = "/api/v1/veo/get-1080p-video";
/// Path of the Veo 4K route.
pub const VEO_4K_PATH: &str = "/api/v1/veo/get-4k-video";

impl Route {
    /// The route a request for `path` on `host` belongs to, if any. Every path on the
    /// files host belongs to [`Route::Files`]; unknown paths on the other hosts have none.
    pub fn of(host: Host, path: &str) -> Option<Route> {
        match (host, path) {
            (Host::Upload, BASE64_UPLOAD_PATH) => Some(Route::Base64Upload),
            (Host::Upload, STREAM_UPLOAD_PATH) => Some(Route::StreamUpload),
            (Host::Upload, URL_UPLOAD_PATH) => Some(Route::UrlUpload),
            (Host::Api, CREDITS_PATH) => Some(Route::Credits),
            (Host::Api, DOWNLOAD_URL_PATH) => Some(Route::DownloadUrl),
            (Host::Api, CREATE_TASK_PATH) => Some(Route::CreateTask),
            (Host::Api, RECORD_INFO_PATH) => Some(Route::RecordInfo),
            (Host::Api, VEO_GENERATE_PATH) => Some(Route::VeoGenerate),
            (Host::Api, VEO_EXTEND_PATH) => Some(Route::VeoExtend),
            (Host::Api, VEO_RECORD_INFO_PATH) => Some(Route::VeoRecordInfo),
            (Host::Api, VEO_1080P_PATH) => Some(Route::Veo1080p),
            (Host::Api, VEO_4K_PATH) => Some(Route::Veo4k),
            (Host::Files, _) => Some(Route::Files),
            _ => None,
        }
    }

    /// The host this route is served on.
    pub fn host(self) -> Host {
        match self {
            Route::Base64Upload | Route::StreamUpload | Route::UrlUpload => Host::Upload,
            Route::Credits
            | Route::DownloadUrl
            | Route::CreateTask
            | Route::RecordInfo
            | Route::VeoGenerate
            | Route::VeoExtend
            | Route::VeoRecordInfo
            | Route::Veo1080p
            | Route::Veo4k => Host::Api,
            Route::Files => Host::Files,
        }
    }

    /// Whether this is one of the three upload routes (counted by the in-flight counter).
    pub fn is_upload(self) -> bool {
        self.host() == Host::Upload
    }
}
