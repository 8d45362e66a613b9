//! Micro-benchmarks of kie-proto (divan): building and parsing each operation, and the
//! throughput of the framed-body encoders against plain baselines. Figures: `BENCHMARKS.md`.
//!
//! Run with `cargo bench -p kie-proto`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use divan::Bencher;
use divan::counter::BytesCount;
use kie_proto::{
    Api, ApiKey, Base64Form, Base64Upload, Body, Boundary, FileName, FramedBody, GetCredits,
    GetDownloadUrl, HttpUrl, MimeType, Operation, StreamUpload, UploadPath, UrlUpload,
};

fn main() {
    divan::main();
}

/// Size of the throughput benchmarks' content.
const BIG: usize = 64 << 20;
/// Size of the chunks a driver reads from a file.
const CHUNK: usize = 64 << 10;

const UPLOAD_OK: &[u8] = br#"{"success":true,"code":200,"msg":"File uploaded successfully","data":{"fileName":"uploaded-image.png","filePath":"images/user-uploads/uploaded-image.png","downloadUrl":"https://tempfile.redpandaai.co/xxx/images/user-uploads/uploaded-image.png","fileSize":154832,"mimeType":"image/png","uploadedAt":"2025-01-01T12:00:00.000Z"}}"#;
const CREDITS_OK: &[u8] = br#"{"code":200,"msg":"success","data":100}"#;
const DOWNLOAD_OK: &[u8] =
    br#"{"code":200,"msg":"success","data":"https://tempfile.aiquickdraw.com/path/to/image.jpg"}"#;
const ERROR_402: &[u8] = br#"{"code":402,"msg":"Insufficient credits","data":null}"#;

fn api() -> Api {
    Api::new(ApiKey::new("sk-bench-key").unwrap())
}

fn path() -> UploadPath {
    UploadPath::new("images/user-uploads").unwrap()
}

fn name() -> FileName {
    FileName::new("uploaded-image.png").unwrap()
}

fn stream_upload(len: usize) -> StreamUpload {
    StreamUpload::new(path(), name(), len as u64)
        .with_mime_type(MimeType::new("image/png").unwrap())
        .with_boundary(Boundary::from_random_bytes([7; 16]))
}

fn base64_upload(len: usize) -> Base64Upload {
    Base64Upload::new(path(), len as u64)
        .with_file_name(name())
        .with_form(Base64Form::DataUrl(MimeType::new("image/png").unwrap()))
}

fn url_upload() -> UrlUpload {
    UrlUpload::new(
        path(),
        HttpUrl::new("https://example.com/images/sample.jpg").unwrap(),
    )
    .with_file_name(name())
}

fn download_url() -> GetDownloadUrl {
    GetDownloadUrl::new(HttpUrl::new("https://tempfile.aiquickdraw.com/path/to/image.jpg").unwrap())
}

fn content() -> Vec<u8> {
    (0..BIG).map(|i| (i.wrapping_mul(31) >> 3) as u8).collect()
}

fn framed(body: &Body) -> &FramedBody {
    match body {
        Body::Framed(framed) => framed,
        _ => panic!("not framed"),
    }
}

/// `to_request` of each operation (the framed bodies' heads and tails included).
mod build {
    use super::*;

    #[divan::bench]
    fn base64_upload(bencher: Bencher) {
        let (api, op) = (api(), super::base64_upload(1000));
        bencher.bench_local(|| op.to_request(divan::black_box(&api)).unwrap());
    }

    #[divan::bench]
    fn stream_upload(bencher: Bencher) {
        let (api, op) = (api(), super::stream_upload(1000));
        bencher.bench_local(|| op.to_request(divan::black_box(&api)).unwrap());
    }

    #[divan::bench]
    fn url_upload(bencher: Bencher) {
        let (api, op) = (api(), super::url_upload());
        bencher.bench_local(|| op.to_request(divan::black_box(&api)).unwrap());
    }

    #[divan::bench]
    fn get_credits(bencher: Bencher) {
        let api = api();
        bencher.bench_local(|| GetCredits.to_request(divan::black_box(&api)).unwrap());
    }

    #[divan::bench]
    fn get_download_url(bencher: Bencher) {
        let (api, op) = (api(), download_url());
        bencher.bench_local(|| op.to_request(divan::black_box(&api)).unwrap());
    }
}

/// `parse_response` of each operation on the spec's example answers.
mod parse {
    use super::*;

    fn answer(body: &[u8]) -> http::Response<&[u8]> {
        http::Response::new(divan::black_box(body))
    }

    #[divan::bench]
    fn base64_upload(bencher: Bencher) {
        let op = super::base64_upload(1000);
        bencher.bench_local(|| op.parse_response(answer(UPLOAD_OK)).unwrap());
    }

    #[divan::bench]
    fn stream_upload(bencher: Bencher) {
        let op = super::stream_upload(1000);
        bencher.bench_local(|| op.parse_response(answer(UPLOAD_OK)).unwrap());
    }

    #[divan::bench]
    fn url_upload(bencher: Bencher) {
        let op = super::url_upload();
        bencher.bench_local(|| op.parse_response(answer(UPLOAD_OK)).unwrap());
    }

    #[divan::bench]
    fn get_credits(bencher: Bencher) {
        bencher.bench_local(|| GetCredits.parse_response(answer(CREDITS_OK)).unwrap());
    }

    #[divan::bench]
    fn get_download_url(bencher: Bencher) {
        let op = download_url();
        bencher.bench_local(|| op.parse_response(answer(DOWNLOAD_OK)).unwrap());
    }

    #[divan::bench]
    fn error_402(bencher: Bencher) {
        bencher.bench_local(|| GetCredits.parse_response(answer(ERROR_402)).unwrap_err());
    }
}

/// 64 MiB of content. The framed encoders get it in 64 KiB chunks and write each chunk's
/// output into one reused buffer, as a driver does (constant memory); the baselines build
/// the whole body in memory at once.
mod throughput {
    use super::*;

    /// Multipart: `FrameEncoder` (raw), chunked, constant memory.
    #[divan::bench(sample_count = 10, sample_size = 1)]
    fn multipart_frame_encoder_chunked(bencher: Bencher) {
        let content = content();
        let request = stream_upload(BIG).to_request(&api()).unwrap();
        let body = framed(request.body());
        bencher
            .counter(BytesCount::new(BIG))
            .bench_local(|| encode_chunked(body, &content));
    }

    /// Multipart: `FramedBody::to_vec`, the whole body in one `Vec`.
    #[divan::bench(sample_count = 10, sample_size = 1)]
    fn multipart_to_vec(bencher: Bencher) {
        let content = content();
        let request = stream_upload(BIG).to_request(&api()).unwrap();
        let body = framed(request.body());
        bencher
            .counter(BytesCount::new(BIG))
            .bench_local(|| body.to_vec(&content).unwrap());
    }

    /// Baseline for multipart: naive `[head, content, tail].concat()`.
    #[divan::bench(sample_count = 10, sample_size = 1)]
    fn multipart_baseline_vec_concat(bencher: Bencher) {
        let content = content();
        let request = stream_upload(BIG).to_request(&api()).unwrap();
        let body = framed(request.body());
        bencher
            .counter(BytesCount::new(BIG))
            .bench_local(|| [body.head(), &content[..], body.tail()].concat());
    }

    /// Base64: `FrameEncoder` (incremental base64), chunked, constant memory.
    #[divan::bench(sample_count = 10, sample_size = 1)]
    fn base64_frame_encoder_chunked(bencher: Bencher) {
        let content = content();
        let request = base64_upload(BIG).to_request(&api()).unwrap();
        let body = framed(request.body());
        bencher
            .counter(BytesCount::new(BIG))
            .bench_local(|| encode_chunked(body, &content));
    }

    /// Baseline for base64: `base64::STANDARD.encode` of the whole buffer.
    #[divan::bench(sample_count = 10, sample_size = 1)]
    fn base64_baseline_standard_encode(bencher: Bencher) {
        let content = content();
        bencher
            .counter(BytesCount::new(BIG))
            .bench_local(|| STANDARD.encode(&content));
    }

    /// Feeds `content` in `CHUNK`s; each chunk's output goes to one reused buffer.
    fn encode_chunked(body: &FramedBody, content: &[u8]) -> usize {
        let mut out = Vec::with_capacity(2 * CHUNK);
        let mut sent = 0;
        let mut encoder = body.encoder();
        encoder.write_head(&mut out);
        for chunk in content.chunks(CHUNK) {
            sent += out.len();
            out.clear();
            encoder.encode(chunk, &mut out).unwrap();
            divan::black_box(&out);
        }
        sent += out.len();
        out.clear();
        encoder.finish(&mut out).unwrap();
        sent + out.len()
    }
}
