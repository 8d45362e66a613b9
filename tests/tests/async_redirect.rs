//! kie-async with a caller's `reqwest::Client` that DOES follow redirects: a 307 from the
//! service to another origin (the emulator's files host, another port) never carries the
//! API key there. reqwest drops `Authorization` (and cookies) when a redirect changes
//! scheme, host or port; a streamed upload body cannot be replayed, so a 307/308 of an
//! upload is not followed, and a 301-303 becomes a GET without the content.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kie_async::{Client, RetryPolicy, UploadOptions};
use kie_tests::{Emulator, Fault, Host, LoggedRequest, Route};

fn redirect_to(location: String) -> Fault {
    Fault::Respond {
        status: 307,
        content_type: "text/plain".into(),
        body: b"moved".to_vec(),
        headers: vec![("location".into(), location)],
    }
}

fn following_client(emu: &Emulator) -> Client {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .unwrap();
    let config = kie_proto::ClientConfig::new(emu.api_key())
        .upload_base_url(&emu.upload_base_url())
        .api_base_url(&emu.api_base_url())
        .retry_policy(RetryPolicy::never());
    Client::builder(config).http_client(http).build().unwrap()
}

fn on_files_host(emu: &Emulator) -> Vec<LoggedRequest> {
    emu.requests()
        .into_iter()
        .filter(|r| r.host == Host::Files)
        .collect()
}

#[tokio::test]
async fn a_followed_cross_origin_redirect_drops_the_key() {
    let emu = Emulator::start();
    let target = format!("{}/elsewhere/credit", emu.files_base_url());
    assert_ne!(emu.files_base_url(), emu.api_base_url());
    emu.faults()
        .push(Route::Credits, redirect_to(target.clone()));
    let client = following_client(&emu);
    // The answer of another URL is never taken for the endpoint's.
    let result = client.credits().await;
    assert!(
        matches!(
            result,
            Err(kie_async::Error::Transport {
                kind: kie_async::TransportFailure::Redirected,
                ..
            })
        ),
        "{result:?}"
    );

    let api: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.host == Host::Api)
        .collect();
    assert_eq!(api.len(), 1);
    assert!(api[0].has_authorization(), "the first request had no key");
    let files = on_files_host(&emu);
    // The redirect was followed (so the check below is not vacuous)...
    assert_eq!(files.len(), 1, "the redirect was not followed: {files:?}");
    assert_eq!(files[0].path, "/elsewhere/credit");
    // ...without the key.
    assert!(
        !files[0].has_authorization(),
        "Authorization reached another origin: {:?}",
        files[0].headers
    );
}

#[tokio::test]
async fn a_redirected_url_upload_drops_the_key() {
    let emu = Emulator::start();
    emu.faults().push(
        Route::UrlUpload,
        redirect_to(format!("{}/elsewhere/upload", emu.files_base_url())),
    );
    let client = following_client(&emu);
    let result = client
        .upload_url("https://example.com/cat.png", &UploadOptions::new("images"))
        .await;
    assert!(result.is_err(), "{result:?}");
    let files = on_files_host(&emu);
    // A JSON body can be replayed, so a 307 is followed, without the key.
    assert_eq!(files.len(), 1, "the redirect was not followed: {files:?}");
    assert_eq!(files[0].method, "POST");
    assert!(!files[0].has_authorization(), "{:?}", files[0].headers);
}

#[tokio::test]
async fn a_redirected_stream_upload_never_carries_the_key_or_the_content_away() {
    for status in [301, 302, 303, 307, 308] {
        let emu = Emulator::start();
        let mut fault = redirect_to(format!("{}/elsewhere/upload", emu.files_base_url()));
        if let Fault::Respond { status: s, .. } = &mut fault {
            *s = status;
        }
        emu.faults().push(Route::StreamUpload, fault);
        let client = following_client(&emu);
        let options = UploadOptions::new("images").file_name("a.bin");
        let result = client.upload_bytes(vec![7; 100_000], &options).await;
        assert!(result.is_err(), "{status}: {result:?}");
        let files = on_files_host(&emu);
        // 307/308 would resend the body, which a stream cannot do: not followed. 301-303
        // turn into a GET without a body. Either way neither the key nor the content
        // reaches the other origin.
        for request in &files {
            assert!(
                !request.has_authorization(),
                "{status}: {:?}",
                request.headers
            );
            assert_eq!(request.body_len, 0, "{status}: content sent elsewhere");
        }
        if status >= 307 {
            assert!(files.is_empty(), "{status}: followed");
        }
        assert!(emu.stored_files().is_empty());
    }
}

/// After a followed 303, the answer comes from another URL; even when it looks like a
/// successful upload answer, the client reports the redirect instead of a success.
#[tokio::test]
async fn an_answer_from_a_redirect_target_is_never_taken_for_the_upload() {
    let emu = Emulator::start();
    let client = following_client(&emu);
    let fake = br#"{"success":true,"code":200,"msg":"ok","data":{"downloadUrl":"https://attacker.example/x"}}"#;
    let decoy = client
        .upload_bytes(
            fake.to_vec(),
            &UploadOptions::new("decoy").file_name("answer.json"),
        )
        .await
        .unwrap();
    for status in [301, 302, 303] {
        emu.faults().push(
            Route::StreamUpload,
            Fault::Respond {
                status,
                content_type: "text/plain".into(),
                body: b"moved".to_vec(),
                headers: vec![("location".into(), decoy.download_url.clone())],
            },
        );
        let result = client
            .upload_bytes(
                vec![1; 1000],
                &UploadOptions::new("images").file_name("b.bin"),
            )
            .await;
        match result {
            Err(kie_async::Error::Transport {
                kind: kie_async::TransportFailure::Redirected,
                ..
            }) => {}
            other => panic!("{status}: {other:?}"),
        }
    }
}
