//! kie-async over HTTP/2: with `http2()`, negotiated by ALPN with a TLS front that offers
//! `h2` (as nginx with `http2 on` does), for both upload kinds, files and `upload_many`;
//! by default HTTP/1.1 even with such a front. Every upload is read back byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::StreamExt as _;
use kie_async::{Client, TlsRoots, UploadOptions, UploadSource};
use kie_tests::Emulator;
use kie_tests::tls_front::{CertKind, TestCa, TlsFront};

fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8 ^ seed)
        .collect()
}

/// The bytes at a download URL of the emulator's files host (plain http).
async fn download(url: &str) -> Vec<u8> {
    let http = kie_async::reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap();
    http.get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

struct Fronts {
    emulator: Emulator,
    ca: TestCa,
    upload: TlsFront,
    api: TlsFront,
}

fn fronts() -> Fronts {
    let emulator = Emulator::start();
    let ca = TestCa::generate("kie-rs h2 CA");
    let addr = |url: String| url.trim_start_matches("http://").parse().unwrap();
    let upload = TlsFront::start_http2(ca.issue(CertKind::Valid), addr(emulator.upload_base_url()));
    let api = TlsFront::start_http2(ca.issue(CertKind::Valid), addr(emulator.api_base_url()));
    Fronts {
        emulator,
        ca,
        upload,
        api,
    }
}

fn client(fronts: &Fronts, http2: bool) -> Client {
    let mut builder = Client::builder(
        kie_proto::ClientConfig::new(fronts.emulator.api_key())
            .upload_base_url(&fronts.upload.base_url())
            .api_base_url(&fronts.api.base_url())
            .tls_roots(TlsRoots::Only(vec![fronts.ca.der()]))
            .no_proxy(),
    );
    if http2 {
        builder = builder.http2();
    }
    builder.build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_http2_both_upload_kinds_and_upload_many_negotiate_it() {
    let fronts = fronts();
    let client = client(&fronts, true);
    assert!(client.credits().await.unwrap() >= 0.0);

    let data = content(3 << 20, 1);
    let dir = std::env::temp_dir().join(format!("kie-async-h2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.bin");
    std::fs::write(&path, &data).unwrap();
    let options = || UploadOptions::new("h2").file_name("big.bin");
    for uploaded in [
        client.upload_file(&path, &options()).await,
        client.upload_base64_file(&path, &options()).await,
        client.upload_bytes(data.clone(), &options()).await,
        client.upload_base64_bytes(data.clone(), &options()).await,
    ] {
        assert_eq!(download(&uploaded.unwrap().download_url).await, data);
    }

    let uploads = (0..64u8).map(|i| {
        let source = if i % 2 == 0 {
            UploadSource::bytes(content(1000 + usize::from(i), i))
        } else {
            UploadSource::Base64Bytes(content(1000 + usize::from(i), i).into())
        };
        (
            source,
            UploadOptions::new("many").file_name(format!("{i}.bin")),
        )
    });
    let mut results = client.upload_many(uploads, 16);
    let mut stored = 0;
    while let Some((index, result)) = results.next().await {
        let uploaded = result.unwrap();
        let i = u8::try_from(index).unwrap();
        assert_eq!(
            download(&uploaded.download_url).await,
            content(1000 + usize::from(i), i)
        );
        stored += 1;
    }
    assert_eq!(stored, 64);
    std::fs::remove_dir_all(&dir).unwrap();

    let versions = [fronts.upload.versions(), fronts.api.versions()].concat();
    assert_eq!(versions.len(), 1 + 4 + 64);
    assert!(
        versions.iter().all(|v| *v == http::Version::HTTP_2),
        "{versions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_http_1_1_is_spoken_even_where_h2_is_offered() {
    let fronts = fronts();
    let client = client(&fronts, false);
    client.credits().await.unwrap();
    let uploaded = client
        .upload_base64_bytes(content(10_000, 3), &UploadOptions::new("h1"))
        .await
        .unwrap();
    assert_eq!(download(&uploaded.download_url).await, content(10_000, 3));
    let versions = [fronts.upload.versions(), fronts.api.versions()].concat();
    assert_eq!(versions, vec![http::Version::HTTP_11; 2]);
}
