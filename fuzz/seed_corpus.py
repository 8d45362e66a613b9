#!/usr/bin/env python3
"""Writes the seed corpus under fuzz/corpus/<target>/ (formats: kie-proto/tests/fuzz_targets/mod.rs).

Run from the repository root: python3 fuzz/seed_corpus.py. Regression inputs found by
fuzzing are added next to these seeds by hand (named regression-*), never regenerated.
"""
import base64
import hashlib
import hmac
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def response(status, body, retry_after=None):
    head = struct.pack(">H", status - 100)
    ra = b"\x00" if retry_after is None else bytes([len(retry_after) + 1]) + retry_after.encode()
    return head + ra + (body if isinstance(body, bytes) else body.encode())


UPLOAD_OK = ('{"success":true,"code":200,"msg":"File uploaded successfully","data":{"fileName":"uploaded-image.png",'
             '"filePath":"images/user-uploads/uploaded-image.png","downloadUrl":"https://tempfile.redpandaai.co/xxx/images/user-uploads/uploaded-image.png",'
             '"fileSize":154832,"mimeType":"image/png","uploadedAt":"2025-01-01T12:00:00.000Z"}}')
QUICKSTART_OK = ('{"success":true,"code":200,"msg":"File upload successful","data":{"fileId":"file_abc123456","fileName":"my-image.jpg",'
                 '"originalName":"sample-image.jpg","fileSize":245760,"mimeType":"image/jpeg","uploadPath":"images",'
                 '"fileUrl":"https://kieai.redpandaai.co/files/images/my-image.jpg","downloadUrl":"https://kieai.redpandaai.co/download/file_abc123456",'
                 '"uploadTime":"2025-01-15T10:30:00Z","expiresAt":"2025-01-18T10:30:00Z"}}')
for name, status, body, ra in [
    ("upload-success", 200, UPLOAD_OK, None),
    ("upload-success-quickstart", 200, QUICKSTART_OK, None),
    ("upload-fileurl-only", 200, '{"code":200,"data":{"fileUrl":"https://x/y.png"}}', None),
    ("credits-success", 200, '{"code":200,"msg":"success","data":100}', None),
    ("credits-fractional", 200, '{"code":200,"msg":"success","data":4.8}', None),
    ("download-url-success", 200, '{"code":200,"msg":"success","data":"https://tempfile.1f6cxxxx/bd98"}', None),
    ("download-url-object", 200, '{"code":200,"msg":"success","data":{"url":"https://x/y"}}', None),
    ("upload-400-path", 400, '{"success":false,"code":400,"msg":"Missing required parameter: uploadPath"}', None),
    ("upload-400-base64", 400, '{"success":false,"code":400,"msg":"Base64 decoding failed: Invalid Base64 format"}', None),
    ("upload-401", 401, '{"success":false,"code":401,"msg":"Authentication failed: Invalid API Key"}', None),
    ("upload-500", 500, '{"success":false,"code":500,"msg":"Internal server error"}', None),
    ("api-401-http200", 200, '{"code":401,"msg":"You do not have access permissions"}', None),
    ("common-500", 500, '{"code":500,"msg":"Server Error - An unexpected error occurred while processing the request","data":null}', None),
    ("recorded-402", 200, '{"code":402,"msg":"Insufficient credits","data":null}', None),
    ("recorded-429-retry-after", 200, '{"code":429,"msg":"Too many requests","data":null}', "30"),
    ("http-429-date", 429, '{"code":429,"msg":"Rate limit exceeded"}', "Sun, 06 Nov 1994 08:49:37 GMT"),
    ("download-422", 200, '{"code":422,"msg":"Validation Error - Invalid URL (External file URLs are not supported)","data":null}', None),
    ("cdn-403-1010", 403, "error code: 1010", None),
    ("html-502", 502, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>", None),
    ("html-503", 503, "<!DOCTYPE html><html><body>Service Temporarily Unavailable</body></html>", "120"),
    ("html-504", 504, "<html><body>504 Gateway Time-out</body></html>", None),
    ("empty-200", 200, "", None),
    ("success-false-code-200", 200, '{"success":false,"code":200,"msg":"?"}', None),
    ("code-string", 200, '{"code":"200","msg":"success","data":7}', None),
    ("code-weird", 200, '{"code":"abc","data":7}', None),
    ("utf8-msg", 200, '{"success":true,"code":200,"msg":"\u6587\u4ef6\u4e0a\u4f20\u6210\u529f","data":{"downloadUrl":"https://x/y"}}', None),
]:
    write("parse_response", name, response(status, body, ra))

for name, text in [
    ("png-data-url", "data:image/png;base64," + base64.b64encode(PNG).decode()),
    ("png-bare", base64.b64encode(PNG).decode()),
    ("empty-data-url", "data:;base64,"),
    ("uppercase", "DATA:IMAGE/PNG;BASE64,/w=="),
    ("charset-param", "data:text/plain;charset=utf-8;base64,aGVsbG8="),
    ("not-base64-data-url", "data:text/plain,hello%20world"),
    ("url-safe-alphabet", "data:image/png;base64,_w=="),
    ("missing-padding", "data:image/png;base64,/w"),
    ("whitespace", "aGVs bG8="),
    ("comma-in-payload", "data:a/b;base64,aGk=,aGk="),
    ("unicode-mime", "data:\u00fc/x;base64,QQ=="),
    ("just-scheme", "data:"),
    ("jpeg-bytes", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01"),
    ("empty", b""),
]:
    write("data_url", name, text)

KEY = "example-webhook-hmac-key"


def sign(key, task, ts):
    return base64.b64encode(hmac.new(key.encode(), f"{task}.{ts}".encode(), hashlib.sha256).digest()).decode()


def hook(key, ts, sig, body):
    return b"\x00".join(x.encode() if isinstance(x, str) else x for x in (key, ts, sig, body))


OFFICIAL = ('{"taskId":"ee9c2715375b7837f8bb51d641ff5863","code":200,"msg":"Success",'
            '"data":{"task_id":"ee9c2715375b7837f8bb51d641ff5863","callbackType":"task_completed"}}')
T1 = "ee9c2715375b7837f8bb51d641ff5863"
for name, data in [
    ("official-example", hook(KEY, "1769670760", "cXt5ktJNRaOK/k+AzSYTGlgsA0eLYLMlKxdgTACYOSQ=", OFFICIAL)),
    ("vector-2", hook(KEY, "1700000000", "dyY6O9H1jlgJH9r8tnx4qIffVGCUOXPpFennZeYV9SU=", '{"data":{"task_id":"task_12345678"}}')),
    ("data-taskId", hook(KEY, "1769670790", sign(KEY, "t-camel", "1769670790"), '{"code":200,"data":{"taskId":"t-camel"}}')),
    ("top-level-taskId", hook(KEY, "1769670800", sign(KEY, "t-top", "1769670800"), '{"taskId":"t-top","data":null}')),
    ("bad-signature", hook(KEY, "1769670760", "cXt5ktJNRaOK/k+AzSYTGlgsA0eLYLMlKxdgTACYOSQ!", OFFICIAL)),
    ("short-signature", hook(KEY, "1769670760", "cXt5ktJNRaOK", OFFICIAL)),
    ("missing-timestamp", hook(KEY, "", sign(KEY, T1, "1769670760"), OFFICIAL)),
    ("missing-signature", hook(KEY, "1769670760", "", OFFICIAL)),
    ("non-numeric-timestamp", hook(KEY, "17e8", sign(KEY, T1, "17e8"), OFFICIAL)),
    ("leading-zero-timestamp", hook(KEY, "01769670760", sign(KEY, T1, "01769670760"), OFFICIAL)),
    ("outside-window", hook(KEY, "1700000000", sign(KEY, T1, "1700000000"), OFFICIAL)),
    ("body-array", hook(KEY, "1769670760", sign(KEY, T1, "1769670760"), "[]")),
    ("body-not-json", hook(KEY, "1769670760", sign(KEY, T1, "1769670760"), "<html>")),
    ("task-id-number", hook(KEY, "1769670760", sign(KEY, "7", "1769670760"), '{"taskId":7}')),
    ("empty-key", hook("", "1769670760", sign(KEY, T1, "1769670760"), OFFICIAL)),
    ("unicode-key-and-task", hook("cl\u00e9-\u79d8\u5bc6", "1769670760", sign("cl\u00e9-\u79d8\u5bc6", "t\u00e2che", "1769670760"), '{"data":{"task_id":"t\u00e2che"}}')),
]:
    write("webhook_verify", name, data)


def multipart(path, name, content, seed=bytes(range(16))):
    p, n = path.encode(), name.encode()
    return bytes([len(p), len(n)]) + seed + p + n + content


for fname, data in [
    ("png", multipart("images/user-uploads", "uploaded-image.png", PNG)),
    ("empty-content", multipart("documents/uploads", "empty.txt", b"")),
    ("quotes-in-name", multipart("images", 'my "cat".png', b"meow")),
    ("unicode-name", multipart("\u65e5\u672c/\u00fc ber", "\u00fcn\u00ef \u20ac \U0001F600.txt", "h\u00e9llo".encode())),
    ("semicolon-name", multipart("a", 'x"; name="evil.png', b"payload")),
    ("crlf-name", multipart("a", "x\r\nContent-Type: text/html", b"<b>")),
    ("backslash-name", multipart("a", "a\\b.txt", b"x")),
    ("slash-name", multipart("a", "a/b.txt", b"x")),
    ("dot-name", multipart("a", "..", b"x")),
    ("leading-slash-path", multipart("/images", "a.png", b"x")),
    ("dot-segment-path", multipart("a/../b", "a.png", b"x")),
    ("empty-segment-path", multipart("a//b", "a.png", b"x")),
    ("control-path", multipart("a\x00b", "a.png", b"x")),
    ("boundary-lookalike", multipart("a", "b.bin", b"\r\n--kie-rs-000102030405060708090a0b0c0d0e\r\n--kie-rs-\r\n\r\n")),
    ("pdf", multipart("documents/manuals", "manual.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")),
]:
    write("multipart_roundtrip", fname, data)
