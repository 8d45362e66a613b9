//! Scenarios: bad input, secrets, redirects, wire format

use super::*;

/// Bad input fails with the right error and no request reaches the emulator.
pub fn bad_input_sends_nothing<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let dir = TempDir::new("bad");
    let file = dir.file("ok.txt", b"fine");
    let missing = dir.path().join("missing.png");
    let png = png();

    let bad_options = [
        UploadOptions::new(""),
        UploadOptions::new("/images"),
        UploadOptions::new("images/"),
        UploadOptions::new("a//b"),
        UploadOptions::new(".."),
        UploadOptions::new("a/../b"),
        UploadOptions::new("./a"),
        UploadOptions::new("a\nb"),
        UploadOptions::new("a\rb"),
        UploadOptions::new("a\0b"),
        UploadOptions::new("a\u{7f}"),
        UploadOptions::new("ok").file_name(""),
        UploadOptions::new("ok").file_name("a/b.png"),
        UploadOptions::new("ok").file_name("a\\b.png"),
        UploadOptions::new("ok").file_name(".."),
        UploadOptions::new("ok").file_name("a\tb.png"),
        UploadOptions::new("ok").file_name("a\r\nContent-Type: x.png"),
        UploadOptions::new("ok").mime_type("not a mime"),
        UploadOptions::new("ok").mime_type("image/png\r\nX-Evil: 1"),
    ];
    for options in &bad_options {
        let results = [
            driver.upload_bytes(&png, options),
            driver.upload_base64_bytes(&png, options),
            driver.upload_file(&file, options),
            driver.upload_base64_file(&file, options),
            // Checked before the (missing) file is touched.
            driver.upload_file(&missing, options),
            driver.upload_reader(
                Box::new(std::io::Cursor::new(png.clone())),
                png.len() as u64,
                options,
            ),
            driver.upload_url("https://example.com/a.png", options),
        ];
        for result in results {
            assert!(
                matches!(result, Err(Error::InvalidInput(_))),
                "{options:?}: {result:?}"
            );
        }
    }

    let options = UploadOptions::new("ok");
    for result in [
        driver.upload_file(&missing, &options),
        driver.upload_base64_file(&missing, &options),
    ] {
        match result {
            Err(error @ Error::Io { .. }) => {
                assert!(error.to_string().contains("missing.png"), "{error}");
            }
            other => panic!("missing file: {other:?}"),
        }
    }
    for result in [
        driver.upload_file(dir.path(), &options),
        driver.upload_base64_file(dir.path(), &options),
    ] {
        match result {
            Err(error @ Error::Io { .. }) => {
                let text = error.to_string();
                assert!(text.contains(&*dir.path().to_string_lossy()), "{text}");
            }
            other => panic!("directory: {other:?}"),
        }
    }

    for url in [
        "",
        "not a url",
        "ftp://example.com/a.png",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "/relative/a.png",
        "http://",
    ] {
        assert!(
            matches!(
                driver.upload_url(url, &options),
                Err(Error::InvalidInput(_))
            ),
            "upload_url({url:?})"
        );
        assert!(
            matches!(driver.download_url(url), Err(Error::InvalidInput(_))),
            "download_url({url:?})"
        );
    }

    assert_nothing_sent(&emulator);
}

/// A bad key or base URL fails when the client is built.
pub fn bad_settings_send_nothing<D: Driver>() {
    let emulator = Emulator::start();
    // Every bad key carries the same marker, which no message may show.
    const MARKER: &str = "XQZSECRET";
    for key in [
        "",
        "XQZSECRET\n",
        "XQZSECRET with space",
        "XQZSECRETé",
        "\rXQZSECRET",
        "XQZSECRET\0",
    ] {
        let settings = Settings {
            key: Some(key.to_owned()),
            ..Settings::default()
        };
        match D::connect(&emulator, &settings) {
            Err(Error::InvalidInput(e)) => {
                assert!(!e.to_string().contains(MARKER), "key shown: {e}");
                assert!(!format!("{e:?}").contains(MARKER), "key shown: {e:?}");
            }
            Err(other) => panic!("{key:?}: {other:?}"),
            Ok(_) => panic!("{key:?} accepted"),
        }
    }
    for url in ["ftp://x", "not a url", "http://x/?q=1", "http://x/#f"] {
        let settings = Settings {
            upload_base_url: Some(url.to_owned()),
            ..Settings::default()
        };
        assert!(
            matches!(
                D::connect(&emulator, &settings),
                Err(Error::InvalidInput(_))
            ),
            "{url}"
        );
    }
    assert_nothing_sent(&emulator);
}

/// The key appears in no `Debug` or `Display` of the client, options or any error.
pub fn key_never_printed<D: Driver>() {
    const KEY: &str = "sk-CONFORMANCE-SECRET-7f3a9c";
    const FRAGMENT: &str = "CONFORMANCE-SECRET";
    let emulator = Emulator::builder().api_key(KEY).start();
    let driver: D = client(&emulator, &Settings::no_retries());
    let dir = TempDir::new("secret");
    let mut texts = vec![driver.debug_of_client()];
    let options = UploadOptions::new("s").on_progress(|_| {});
    texts.push(format!("{options:?}"));

    let mut errors = Vec::new();
    emulator
        .faults()
        .push(Route::StreamUpload, Fault::internal_error_500());
    errors.push(driver.upload_bytes(b"x", &options).unwrap_err());
    emulator
        .faults()
        .push(Route::StreamUpload, Fault::DropAfterBytes(1 << 10));
    errors.push(
        driver
            .upload_reader(
                Box::new(std::io::Cursor::new(content(1 << 20, 1))),
                1 << 20,
                &options,
            )
            .unwrap_err(),
    );
    errors.push(
        driver
            .upload_file(&dir.path().join("nope"), &options)
            .unwrap_err(),
    );
    errors.push(
        driver
            .upload_bytes(b"x", &UploadOptions::new(""))
            .unwrap_err(),
    );
    errors.push(
        driver
            .download_url("https://example.com/x.png")
            .unwrap_err(),
    );
    let wrong: D = client(
        &emulator,
        &Settings {
            key: Some(format!("{KEY}-wrong")),
            ..Settings::no_retries()
        },
    );
    texts.push(wrong.debug_of_client());
    errors.push(wrong.credits().unwrap_err());
    let dead: D = client(
        &emulator,
        &Settings {
            api_base_url: Some("http://127.0.0.1:9".to_owned()),
            ..Settings::no_retries()
        },
    );
    texts.push(dead.debug_of_client());
    errors.push(dead.credits().unwrap_err());
    for key in [format!("{KEY}\n"), format!("{KEY} x")] {
        let settings = Settings {
            key: Some(key),
            ..Settings::default()
        };
        errors.push(D::connect(&emulator, &settings).err().unwrap());
    }
    for error in &errors {
        texts.push(format!("{error}"));
        texts.push(format!("{error:?}"));
        texts.push(format!("{error:#?}"));
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            texts.push(format!("{inner} {inner:?}"));
            source = inner.source();
        }
    }
    for text in &texts {
        assert!(!text.contains(FRAGMENT), "key printed: {text}");
    }
}

/// A 302 to another host is reported, not followed: nothing reaches the other host.
pub fn redirects_not_followed<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::no_retries());
    let target = format!("{}/stolen", emulator.files_base_url());
    for route in [Route::Credits, Route::StreamUpload] {
        for status in [301, 302, 307, 308] {
            emulator.faults().push(
                route,
                Fault::Respond {
                    status,
                    content_type: "text/plain".to_owned(),
                    body: b"moved".to_vec(),
                    headers: vec![("Location".to_owned(), target.clone())],
                },
            );
            let error = match route {
                Route::Credits => driver.credits().map(drop),
                _ => driver
                    .upload_bytes(b"x", &UploadOptions::new("r"))
                    .map(drop),
            }
            .unwrap_err();
            let api = error.api_error().unwrap_or_else(|| panic!("{error:?}"));
            assert_eq!(api.status.as_u16(), status);
            assert_eq!(api.kind, ErrorKind::Redirect);
            assert_eq!(api.redirect_host.as_deref(), Some("127.0.0.1"));
            assert_eq!(
                error.to_string(),
                "KIE.AI answered HTTP {status} after 1 attempt: \"moved\" (it points to 127.0.0.1; redirects are not followed; check the base URLs)"
                    .replace("{status}", &status.to_string())
            );
        }
    }
    assert!(
        emulator.requests().iter().all(|r| r.host != Host::Files),
        "a redirect was followed"
    );
}

/// Uploads carry an exact `Content-Length` (never chunked), a `kie-rs/` user agent, and
/// the body the emulator read is as long as declared.
pub fn wire_format<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let data = content(200_001, 7);
    driver
        .upload_bytes(&data, &UploadOptions::new("wire").file_name("a.bin"))
        .unwrap();
    driver
        .upload_base64_bytes(&data, &UploadOptions::new("wire").file_name("b.bin"))
        .unwrap();
    driver
        .upload_url(
            &format!("{}/nothing.bin", emulator.files_base_url()),
            &UploadOptions::new("wire"),
        )
        .ok();
    driver.credits().unwrap();
    for request in emulator.requests() {
        if request.host == Host::Files {
            continue;
        }
        assert!(request.header("transfer-encoding").is_none(), "{request:?}");
        assert!(
            request
                .user_agent
                .as_deref()
                .unwrap_or("")
                .starts_with("kie-rs/"),
            "{request:?}"
        );
        if request.method == "POST" {
            let declared: u64 = request.header("content-length").unwrap().parse().unwrap();
            assert_eq!(declared, request.body_len, "{request:?}");
        }
    }
    let stream = &requests_to(&emulator, Route::StreamUpload)[0];
    assert_eq!(
        stream.fields.get("file").map(String::as_str),
        Some("200001")
    );
    assert_eq!(
        stream.fields.get("uploadPath").map(String::as_str),
        Some("wire")
    );
    let base64 = &requests_to(&emulator, Route::Base64Upload)[0];
    assert_eq!(
        base64.fields.get("base64Data").map(String::as_str),
        Some(&*(200_001usize.div_ceil(3) * 4).to_string())
    );
}

/// An upload answered with a `fileSize` other than the bytes sent is
/// `Error::Integrity(SizeMismatch)`, at once (not retried), through both endpoints; an
/// answer without `fileSize` is accepted.
pub fn stored_size_is_checked<D: Driver>() {
    let data = content(1000, 5);
    let answer = |file_size: Option<u64>| {
        let mut data = json!({"fileName": "s.bin", "downloadUrl": "http://127.0.0.1:9/s.bin"});
        if let Some(size) = file_size {
            data["fileSize"] = json!(size);
        }
        Fault::json(
            200,
            json!({"success": true, "code": 200, "msg": "File uploaded successfully", "data": data}),
        )
    };
    for route in [Route::StreamUpload, Route::Base64Upload] {
        let emulator = Emulator::start();
        let driver: D = client(&emulator, &Settings::default());
        let options = UploadOptions::new("sizes").file_name("s.bin");
        let upload = |driver: &D| match route {
            Route::StreamUpload => driver.upload_bytes(&data, &options),
            _ => driver.upload_base64_bytes(&data, &options),
        };
        emulator.faults().push(route, answer(Some(999)));
        let error = upload(&driver).unwrap_err();
        match &error {
            Error::Integrity(IntegrityError::SizeMismatch {
                sent,
                reported,
                result,
            }) => {
                assert_eq!((*sent, *reported), (1000, 999));
                assert_eq!(result.download_url, "http://127.0.0.1:9/s.bin");
            }
            other => panic!("{route:?}: {other:?}"),
        }
        assert_eq!(
            error.to_string(),
            "KIE.AI reports 999 bytes stored for an upload of 1000 bytes, so the stored file is not what was sent; upload it again"
        );
        assert_eq!(requests_to(&emulator, route).len(), 1, "{route:?} retried");

        emulator.faults().push(route, answer(None));
        let result = upload(&driver).unwrap();
        assert_eq!(result.file_size, None);
        // The emulator's own answers carry the true size.
        let result = upload(&driver).unwrap();
        assert_eq!(result.file_size, Some(1000));
    }
}

/// `UploadOptions::verify_download(true)`: after the upload the stored file is downloaded
/// back without `Authorization` and compared (length and SHA-256); a different, longer or
/// refused download is `Error::Integrity`; a reader is refused before anything is sent.
pub fn verify_download<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let data = content(300_000, 11);
    let dir = TempDir::new("verify");
    let path = dir.file("v.bin", &data);
    let options = UploadOptions::new("verify")
        .file_name("v.bin")
        .verify_download(true);

    driver.upload_bytes(&data, &options).unwrap();
    driver.upload_base64_file(&path, &options).unwrap();
    let downloads: Vec<_> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.host == Host::Files)
        .collect();
    assert_eq!(downloads.len(), 2, "{downloads:#?}");
    for download in &downloads {
        assert_eq!(download.method, "GET");
        assert!(!download.has_authorization(), "{download:?}");
        assert_eq!(download.response_status, 200);
    }

    let served = |status: u16, body: Vec<u8>| Fault::Respond {
        status,
        content_type: "application/octet-stream".to_owned(),
        body,
        headers: Vec::new(),
    };
    let sha256 = |bytes: &[u8]| {
        let mut digest = kie_proto::driver::ContentDigest::new();
        digest.update(bytes);
        digest.finish()
    };
    let mut altered = data.clone();
    altered[150_000] ^= 1;
    let mut longer = data.clone();
    longer.extend_from_slice(b"!!");
    for (fault, received) in [
        (served(200, altered.clone()), sha256(&altered)),
        (served(200, data[..1000].to_vec()), sha256(&data[..1000])),
        (served(200, longer.clone()), sha256(&longer[..=data.len()])),
    ] {
        emulator.faults().push(Route::Files, fault);
        let error = driver.upload_file(&path, &options).unwrap_err();
        let Error::Integrity(IntegrityError::DownloadMismatch {
            url,
            sent,
            received: got,
        }) = &error
        else {
            panic!("{error:?}");
        };
        assert_eq!((*sent, *got), (sha256(&data), received));
        assert_eq!(
            error.to_string(),
            format!(
                "the file downloaded back from {url} is not what was sent ({received} instead of {sent}); upload it again"
            )
        );
    }
    emulator
        .faults()
        .push(Route::Files, served(404, b"gone".to_vec()));
    let error = driver.upload_bytes(&data, &options).unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Integrity(IntegrityError::DownloadRefused { status: 404, .. })
        ),
        "{error:?}"
    );

    // A reader cannot be read again: refused before anything is sent.
    emulator.clear_log();
    let error = driver
        .upload_reader(
            Box::new(std::io::Cursor::new(data.clone())),
            data.len() as u64,
            &options,
        )
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidInput(InvalidInput::VerifyDownloadNeedsContent)
        ),
        "{error:?}"
    );
    assert_nothing_sent(&emulator);
}

/// A URL upload sends the URL in the WHATWG-normalised form it was checked in (scheme and
/// host lower-cased), and the name taken from it is percent-decoded; a URL without a host
/// after `//` is refused before anything is sent.
pub fn url_upload_sends_the_normalised_url<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let data = content(1000, 3);
    let source = driver
        .upload_bytes(&data, &UploadOptions::new("src").file_name("a b ü.bin"))
        .unwrap();
    assert!(
        source.download_url.ends_with("/src/a%20b%20%C3%BC.bin"),
        "{source:?}"
    );
    let shouted = source.download_url.replacen("http://", "HTTP://", 1);
    let r = driver
        .upload_url(&shouted, &UploadOptions::new("fetched"))
        .unwrap();
    assert_eq!(r.file_name.as_deref(), Some("a b ü.bin"));
    assert_downloads(&r, &data);
    let sent = &requests_to(&emulator, Route::UrlUpload)[0];
    assert_eq!(
        sent.fields.get("fileUrl").map(String::as_str),
        Some(source.download_url.as_str())
    );
    assert_eq!(
        sent.fields.get("fileName").map(String::as_str),
        Some("a b ü.bin")
    );

    emulator.clear_log();
    let error = driver
        .upload_url("http:///nohost.png", &UploadOptions::new("fetched"))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid input, nothing was sent: fileUrl is not an absolute URL (no host after \"//\"): \"http:///nohost.png\""
    );
    assert_nothing_sent(&emulator);
}

/// A 413 from a front server, as nginx's HTML page or a JSON body: `PayloadTooLarge`, one
/// attempt (never retried), the size-limit hint.
pub fn payload_too_large_413<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let html = "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
    let html_fault = Fault::Respond {
        status: 413,
        content_type: "text/html".to_owned(),
        body: html.as_bytes().to_vec(),
        headers: Vec::new(),
    };
    let json_fault = Fault::json(413, json!({"code": 413, "msg": "Request Entity Too Large"}));
    for (route, fault) in [
        (Route::StreamUpload, html_fault.clone()),
        (Route::Base64Upload, html_fault),
        (Route::StreamUpload, json_fault),
    ] {
        emulator.clear_log();
        emulator.faults().push(route, fault);
        let data = content(100_000, 7);
        let options = UploadOptions::new("big").file_name("big.bin");
        let error = match route {
            Route::Base64Upload => driver.upload_base64_bytes(&data, &options),
            _ => driver.upload_bytes(&data, &options),
        }
        .unwrap_err();
        let api = error.api_error().unwrap_or_else(|| panic!("{error:?}"));
        assert_eq!(
            (api.kind, api.status.as_u16()),
            (ErrorKind::PayloadTooLarge, 413)
        );
        assert_eq!(error.attempts(), Some(1), "{error:?}");
        assert_eq!(emulator.requests().len(), 1, "a 413 was retried");
        let message = error.to_string();
        assert!(
            message.starts_with("KIE.AI answered HTTP 413 after 1 attempt"),
            "{message}"
        );
        assert!(
            message.ends_with("(the upload is over a size limit of KIE.AI or of a proxy or CDN in front of it; a base64 upload sends a third more bytes than the file, so the stream upload sends 25 % fewer)"),
            "{message}"
        );
    }
}

/// A server that answers every connection with `answer` (after the request's head) and
/// closes it.
pub fn raw_server(answer: Vec<u8>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let answer = answer.clone();
            std::thread::spawn(move || {
                // The whole request head first: closing with unread request bytes would
                // reset the connection, and the client would see a lost connection instead
                // of the answer.
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut buf = [0; 8192];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(&answer);
                let _ = stream.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    url
}

/// Answers that are not HTTP: `MalformedAnswer`, one attempt (not retried), whatever the
/// malformation.
pub fn malformed_answers<D: Driver>() {
    let emulator = Emulator::start();
    let over_long_header = [
        &b"HTTP/1.1 200 OK\r\nX-Padding: "[..],
        &vec![b'a'; 1 << 20],
        b"\r\nContent-Length: 0\r\n\r\n",
    ]
    .concat();
    let answers: [Vec<u8>; 4] = [
        b"HELLO THERE\r\n\r\n".to_vec(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n".to_vec(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnot-a-size\r\nhello\r\n0\r\n\r\n".to_vec(),
        over_long_header,
    ];
    for answer in answers {
        let shown = String::from_utf8_lossy(&answer[..answer.len().min(80)]).into_owned();
        let url = raw_server(answer);
        let settings = Settings {
            api_base_url: Some(url),
            ..Settings::default()
        };
        let driver: D = client(&emulator, &settings);
        let error = driver.credits().unwrap_err();
        assert_eq!(
            transport_kind(&error),
            Some((TransportFailure::MalformedAnswer, 1)),
            "{shown:?}: {error:?}"
        );
        assert_eq!(
            error.to_string(),
            "an answer arrived but it is not valid HTTP after 1 attempt: a server or proxy in between is broken or is not an HTTP server; not retried"
        );
    }
}

/// Every public method of both clients, through the mirror the `Driver` trait checks at
/// compile time: `upload` follows the options' endpoint (`upload_source` is the same), the
/// base64 reader upload, `send` and `send_with_content` with hand-built operations, and the
/// accessors.
pub fn every_method_of_the_client<D: Driver>() {
    use kie_proto::{FileName, GetCredits, StreamUpload, UploadEndpoint, UploadPath};

    let emulator = Emulator::builder().credits(7.5).start();
    let settings = Settings::default();
    let driver = D::from_config(settings.config(&emulator)).unwrap();
    assert_eq!(driver.api().upload_base_url(), emulator.upload_base_url());
    assert_eq!(driver.retry_policy(), settings.retry);

    let dir = TempDir::new("methods");
    let path = dir.path().join("doc.txt");
    std::fs::write(&path, b"a file").unwrap();
    let stored = |result: &UploadResult| {
        let (status, body) = http_get(&result.download_url);
        assert_eq!(status, 200);
        body
    };
    let base64 = UploadOptions::new("m").endpoint(UploadEndpoint::Base64);
    let cases: [(Source<'_>, &UploadOptions, Route, &[u8]); 4] = [
        (
            Source::Bytes(b"bytes"),
            &base64,
            Route::Base64Upload,
            b"bytes",
        ),
        (Source::Path(&path), &base64, Route::Base64Upload, b"a file"),
        (
            Source::Bytes(b"bytes"),
            &UploadOptions::new("m"),
            Route::StreamUpload,
            b"bytes",
        ),
        (
            Source::Path(&path),
            &UploadOptions::new("m"),
            Route::StreamUpload,
            b"a file",
        ),
    ];
    for (source, options, route, content) in cases {
        let before = requests_to(&emulator, route).len();
        let uploaded = driver.upload(source, options).unwrap();
        assert_eq!(stored(&uploaded), content, "{source:?}");
        assert_eq!(
            requests_to(&emulator, route).len(),
            before + 1,
            "{source:?}"
        );
        let again = driver.upload_source(source, options).unwrap();
        assert_eq!(stored(&again), content);
    }
    let reader = Box::new(std::io::Cursor::new(b"read once".to_vec()));
    let uploaded = driver
        .upload_base64_reader(reader, 9, &UploadOptions::new("m").file_name("r.txt"))
        .unwrap();
    assert_eq!(stored(&uploaded), b"read once");

    assert_eq!(driver.send(&GetCredits).unwrap(), 7.5);
    let upload = StreamUpload::new(
        UploadPath::new("m").unwrap(),
        FileName::new("hand.txt").unwrap(),
        4,
    );
    let uploaded = driver
        .send_with_content(&upload, b"hand".to_vec(), None)
        .unwrap();
    assert_eq!(stored(&uploaded), b"hand");
}
