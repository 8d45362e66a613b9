//! Scenarios: error codes

use super::*;

/// Every documented code; the kinds follow the code whichever error style carries it.
pub const CODES: [(u16, ErrorKind); 13] = [
    (400, ErrorKind::BadRequest),
    (401, ErrorKind::Unauthorized),
    (402, ErrorKind::InsufficientCredits),
    (404, ErrorKind::NotFound),
    (405, ErrorKind::MethodNotAllowed),
    (408, ErrorKind::Timeout),
    (422, ErrorKind::Validation),
    (429, ErrorKind::RateLimited),
    (433, ErrorKind::UsageLimitExceeded),
    (455, ErrorKind::Maintenance),
    (500, ErrorKind::Server),
    (501, ErrorKind::GenerationFailed),
    (505, ErrorKind::FeatureDisabled),
];

pub const STYLES: [ErrorStyle; 2] = [ErrorStyle::StatusEqualsCode, ErrorStyle::Http200WithCode];

/// Every code on each upload endpoint, in both error styles, without retries: one request
/// each, the right kind, the HTTP status and body code kept.
pub fn error_codes_upload_host<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::no_retries());
    let png = png();
    for style in STYLES {
        for (code, kind) in CODES {
            for route in [Route::StreamUpload, Route::Base64Upload, Route::UrlUpload] {
                let body =
                    json!({"success": false, "code": code, "msg": format!("emulated {code}")});
                emulator
                    .faults()
                    .push(route, Fault::json(style.status_for(code), body));
                let options = UploadOptions::new("errors").file_name("e.png");
                let before = emulator.requests().len();
                let error = match route {
                    Route::StreamUpload => driver.upload_bytes(&png, &options),
                    Route::Base64Upload => driver.upload_base64_bytes(&png, &options),
                    _ => driver.upload_url("http://127.0.0.1:9/x.png", &options),
                }
                .unwrap_err();
                let api = error.api_error().unwrap_or_else(|| panic!("{error:?}"));
                assert_eq!(api.kind, kind, "{style:?} {code} {route:?}: {error}");
                assert_eq!(api.code, Some(i64::from(code)));
                assert_eq!(api.status.as_u16(), style.status_for(code));
                assert_eq!(
                    emulator.requests().len(),
                    before + 1,
                    "retried without retries"
                );
            }
        }
    }
    assert!(emulator.stored_files().is_empty());
}

/// Every code on both Common API endpoints, in both error styles.
pub fn error_codes_api_host<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::no_retries());
    let generated = emulator.issue_generated_file(png(), "image/png");
    for style in STYLES {
        for (code, kind) in CODES {
            for route in [Route::Credits, Route::DownloadUrl] {
                let body = json!({"code": code, "msg": format!("emulated {code}"), "data": null});
                emulator
                    .faults()
                    .push(route, Fault::json(style.status_for(code), body));
                let error = match route {
                    Route::Credits => driver.credits().map(drop),
                    _ => driver.download_url(&generated).map(drop),
                }
                .unwrap_err();
                assert_eq!(api_kind(&error), Some(kind), "{style:?} {code}: {error}");
            }
        }
    }
    assert_eq!(emulator.requests().len(), 2 * 2 * CODES.len());
}

/// Refusals the emulator produces itself: a wrong key on every endpoint in both styles,
/// download-url of a URL KIE.AI did not generate, the CDN's user-agent refusal.
pub fn natural_refusals<D: Driver>() {
    let emulator = Emulator::start();
    let wrong = Settings {
        key: Some("sk-wrong-key".to_owned()),
        ..Settings::default()
    };
    let driver: D = client(&emulator, &wrong);
    let png = png();
    for style in STYLES {
        emulator.set_error_style(Host::Upload, style);
        emulator.set_error_style(Host::Api, style);
        let options = UploadOptions::new("auth");
        let errors = [
            driver.upload_bytes(&png, &options).unwrap_err(),
            driver.upload_base64_bytes(&png, &options).unwrap_err(),
            driver
                .upload_url("http://127.0.0.1:9/a.png", &options)
                .unwrap_err(),
            driver.credits().unwrap_err(),
            driver
                .download_url("https://example.com/a.png")
                .unwrap_err(),
        ];
        for error in errors {
            assert_eq!(api_kind(&error), Some(ErrorKind::Unauthorized), "{error}");
            assert!(error.to_string().contains("API key"), "{error}");
        }
    }
    // Not retried: 5 calls x 2 styles.
    assert_eq!(emulator.requests().len(), 10);

    let driver: D = client(&emulator, &Settings::default());
    for style in STYLES {
        emulator.set_error_style(Host::Api, style);
        let error = driver
            .download_url("https://example.com/a.png")
            .unwrap_err();
        assert_eq!(api_kind(&error), Some(ErrorKind::Validation), "{error}");
    }

    emulator
        .faults()
        .push(Route::Credits, Fault::cloudflare_1010());
    let error = driver.credits().unwrap_err();
    assert_eq!(api_kind(&error), Some(ErrorKind::CdnRefused), "{error}");

    // With the user-agent rule on, the driver's requests still pass: it always sends one.
    emulator.set_require_user_agent(true);
    driver.credits().unwrap();
    driver
        .upload_bytes(&png, &UploadOptions::new("ua"))
        .unwrap();
    assert!(emulator.stored_files().len() == 1);
}
