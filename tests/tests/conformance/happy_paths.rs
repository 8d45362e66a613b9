//! Scenarios: happy paths and round trips

use super::*;

/// Every endpoint succeeds and every upload downloads back byte-exact, without the files
/// host ever seeing an `Authorization` header.
pub fn happy_paths<D: Driver>() {
    let emulator = Emulator::builder().credits(4.8).start();
    let driver: D = client(&emulator, &Settings::default());
    let dir = TempDir::new("happy");

    let bytes = content(10_000, 1);
    let r = driver
        .upload_bytes(
            &bytes,
            &UploadOptions::new("docs/bytes").file_name("bytes.bin"),
        )
        .unwrap();
    assert_eq!(r.file_name.as_deref(), Some("bytes.bin"));
    assert_eq!(r.file_size, Some(10_000));
    assert!(r.download_url.ends_with("/docs/bytes/bytes.bin"), "{r:?}");
    assert_downloads(&r, &bytes);

    let png = png();
    let path = dir.file("pixel.png", &png);
    let r = driver
        .upload_file(&path, &UploadOptions::new("images/user-uploads"))
        .unwrap();
    assert_eq!(r.mime_type.as_deref(), Some("image/png"));
    assert!(r.file_name.as_deref().unwrap().ends_with(".png"), "{r:?}");
    assert_downloads(&r, &png);

    let data = content(300_000, 2);
    let r = driver
        .upload_reader(
            Box::new(std::io::Cursor::new(data.clone())),
            data.len() as u64,
            &UploadOptions::new("docs/reader").file_name("reader.dat"),
        )
        .unwrap();
    assert_eq!(r.file_size, Some(300_000));
    assert_downloads(&r, &data);

    let r = driver
        .upload_base64_bytes(&png, &UploadOptions::new("images/base64"))
        .unwrap();
    assert_eq!(r.mime_type.as_deref(), Some("image/png"));
    assert_downloads(&r, &png);
    let fields = &requests_to(&emulator, Route::Base64Upload)[0].fields;
    assert!(fields.contains_key("base64Data"));

    let r = driver
        .upload_base64_bytes(
            &png,
            &UploadOptions::new("images/base64")
                .file_name("data-url.png")
                .data_url(true),
        )
        .unwrap();
    assert_eq!(r.file_name.as_deref(), Some("data-url.png"));
    assert_downloads(&r, &png);

    let text = b"plain text, base64 from a file".to_vec();
    let path = dir.file("note.txt", &text);
    let r = driver
        .upload_base64_file(&path, &UploadOptions::new("notes"))
        .unwrap();
    assert!(r.file_name.as_deref().unwrap().ends_with(".txt"), "{r:?}");
    assert_downloads(&r, &text);

    // URL upload: the emulator fetches a file it serves itself.
    let source = driver
        .upload_bytes(&bytes, &UploadOptions::new("src").file_name("remote.bin"))
        .unwrap();
    let r = driver
        .upload_url(
            &source.download_url,
            &UploadOptions::new("images/downloaded"),
        )
        .unwrap();
    assert_eq!(r.file_name.as_deref(), Some("remote.bin"));
    assert!(r.download_url.contains("/images/downloaded/"));
    assert_downloads(&r, &bytes);

    assert_eq!(driver.credits().unwrap(), 4.8);

    let generated = emulator.issue_generated_file(png.clone(), "image/png");
    let link = driver.download_url(&generated).unwrap();
    let (status, body) = http_get(&link);
    assert_eq!((status, body), (200, png.clone()));

    for request in emulator.requests() {
        match request.host {
            Host::Files => assert!(
                !request.has_authorization(),
                "Authorization sent to the files host: {request:?}"
            ),
            Host::Upload | Host::Api => {
                assert_eq!(request.header("authorization"), Some("Bearer [redacted]"));
                assert!((200..300).contains(&request.response_status), "{request:?}");
            }
        }
    }
}

/// Empty content, base64 padding lengths and a size just past a buffer boundary, through
/// both endpoints and all sources.
pub fn round_trip_edge_sizes<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let dir = TempDir::new("sizes");
    for (i, len) in [
        0usize,
        1,
        2,
        3,
        4,
        8191,
        8192,
        8193,
        65_536,
        65_537,
        (1 << 20) + 1,
    ]
    .into_iter()
    .enumerate()
    {
        let data = content(len, 10 + i as u64);
        let name = format!("size-{len}.bin");
        let options = UploadOptions::new("sizes").file_name(&name);
        let path = dir.file(&name, &data);
        let mut results = vec![
            driver.upload_bytes(&data, &options).unwrap(),
            driver.upload_file(&path, &options).unwrap(),
            driver
                .upload_reader(
                    Box::new(std::io::Cursor::new(data.clone())),
                    len as u64,
                    &options,
                )
                .unwrap(),
        ];
        // The service treats an empty `base64Data` as missing (400), so the SDK refuses
        // empty base64 content before sending; empty files go through the stream endpoint.
        if len > 0 {
            results.push(driver.upload_base64_bytes(&data, &options).unwrap());
            results.push(driver.upload_base64_file(&path, &options).unwrap());
        } else {
            let before = emulator.requests().len();
            for result in [
                driver.upload_base64_bytes(&data, &options),
                driver.upload_base64_file(&path, &options),
            ] {
                assert!(
                    matches!(
                        result,
                        Err(Error::InvalidInput(InvalidInput::Base64ContentEmpty))
                    ),
                    "{result:?}"
                );
            }
            assert_eq!(
                emulator.requests().len(),
                before,
                "empty base64 upload was sent"
            );
        }
        for r in &results {
            assert_eq!(r.file_size, Some(len as u64), "{r:?}");
            assert_downloads(r, &data);
        }
    }
    // Empty content without a name still gets one.
    let r = driver
        .upload_bytes(b"", &UploadOptions::new("sizes/empty"))
        .unwrap();
    assert_downloads(&r, b"");
}

pub const LARGE: usize = 64 << 20;

pub fn large_file<D: Driver>(base64: bool) {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let dir = TempDir::new("large");
    let data = content(LARGE, 64);
    let path = dir.file("large.bin", &data);
    let progress = ProgressLog::default();
    let options = progress.options(UploadOptions::new("videos").file_name("large.bin"));
    let r = if base64 {
        driver.upload_base64_file(&path, &options).unwrap()
    } else {
        driver.upload_file(&path, &options).unwrap()
    };
    assert_eq!(r.file_size, Some(LARGE as u64));
    assert_eq!(progress.assert_contract(LARGE as u64), 1);
    let route = if base64 {
        Route::Base64Upload
    } else {
        Route::StreamUpload
    };
    let request = &requests_to(&emulator, route)[0];
    let declared: u64 = request.header("content-length").unwrap().parse().unwrap();
    assert_eq!(declared, request.body_len);
    assert!(declared > LARGE as u64);
    assert_downloads(&r, &data);
}

/// A 64 MiB file through the stream endpoint, downloaded back byte-exact.
pub fn large_file_stream<D: Driver>() {
    large_file::<D>(false);
}

/// A 64 MiB file through the base64 endpoint, downloaded back byte-exact.
pub fn large_file_base64<D: Driver>() {
    large_file::<D>(true);
}

/// Names with quotes, `;`, emoji, non-Latin scripts, `%` and spaces survive both endpoints;
/// a source file whose own name is hostile is stored under a generated name.
pub fn hostile_file_names<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let dir = TempDir::new("names");
    let data = b"name test".to_vec();
    for name in [
        "say \"hi\".txt",
        "semi;colon=1.txt",
        "emoji 😀🎬.txt",
        "ünïcödé 名前 файл.txt",
        "percent%20and+plus.txt",
        "apos'trophe & amp.txt",
        "quote\"; filename=evil.sh",
        "trailing dot..txt",
    ] {
        for base64 in [false, true] {
            let options = UploadOptions::new("names/ü ber").file_name(name);
            let r = if base64 {
                driver.upload_base64_bytes(&data, &options)
            } else {
                driver.upload_bytes(&data, &options)
            }
            .unwrap_or_else(|e| panic!("{name:?}: {e}"));
            assert_eq!(r.file_name.as_deref(), Some(name));
            assert_downloads(&r, &data);
        }
    }
    let stored: Vec<String> = emulator
        .stored_files()
        .into_iter()
        .map(|f| f.file_name)
        .collect();
    assert_eq!(stored.len(), 8, "{stored:?}");

    // A hostile name on disk: the stored name is generated, with the extension kept.
    let path = dir.file("back\\slash;\"quote\" 😀.bin", &data);
    let r = driver
        .upload_file(&path, &UploadOptions::new("names"))
        .unwrap();
    let name = r.file_name.clone().unwrap();
    assert!(name.ends_with(".bin") && name.len() == 20, "{name}");
    assert_downloads(&r, &data);
}

/// Without a file name, each upload gets its own random name, and the multipart
/// `filename`, `fileName` field and stored name agree.
pub fn generated_names_are_fixed_per_upload<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let png = png();
    let a = driver
        .upload_bytes(&png, &UploadOptions::new("gen"))
        .unwrap();
    let b = driver
        .upload_bytes(&png, &UploadOptions::new("gen"))
        .unwrap();
    assert_ne!(a.file_name, b.file_name);
    for r in [&a, &b] {
        let name = r.file_name.as_deref().unwrap();
        assert!(name.ends_with(".png"), "{name}");
    }
    let logged = requests_to(&emulator, Route::StreamUpload);
    for (request, result) in logged.iter().zip([&a, &b]) {
        assert_eq!(
            request.fields.get("fileName").map(String::as_str),
            result.file_name.as_deref()
        );
        assert_eq!(
            request.fields.get("file.filename").map(String::as_str),
            result.file_name.as_deref()
        );
    }
    assert_eq!(emulator.stored_files().len(), 2);
}

/// Progress: monotonic, at least every MiB, total exactly once; a retry restarts at 0.
pub fn progress_contract<D: Driver>() {
    let emulator = Emulator::start();
    let driver: D = client(&emulator, &Settings::default());
    let total = (7 << 19) as u64; // 3.5 MiB
    let data = content(total as usize, 5);

    for base64 in [false, true] {
        let progress = ProgressLog::default();
        let options = progress.options(UploadOptions::new("progress").file_name("p.bin"));
        if base64 {
            driver.upload_base64_bytes(&data, &options).unwrap();
        } else {
            driver.upload_bytes(&data, &options).unwrap();
        }
        assert_eq!(progress.assert_contract(total), 1);
    }

    // Empty content: one report of (0, 0).
    let progress = ProgressLog::default();
    driver
        .upload_bytes(b"", &progress.options(UploadOptions::new("progress")))
        .unwrap();
    let reports = progress.reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!((reports[0].sent, reports[0].total), (0, 0));

    // A retry after the connection dropped mid-body.
    emulator
        .faults()
        .push(Route::StreamUpload, Fault::DropAfterBytes(1 << 20));
    let progress = ProgressLog::default();
    let r = driver
        .upload_bytes(
            &data,
            &progress.options(UploadOptions::new("progress").file_name("r.bin")),
        )
        .unwrap();
    assert_eq!(progress.assert_contract(total), 2);
    assert_downloads(&r, &data);
}
