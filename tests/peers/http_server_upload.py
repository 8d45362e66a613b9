"""An upload endpoint on Python's standard `http.server`, written by nobody on kie-rs.

It answers `POST /api/file-stream-upload` (multipart) and `POST /api/file-base64-upload`
(JSON) in the shape of KIE.AI's answers, and serves what it stored at `GET /files/<name>`.
Like a Flask app under Werkzeug's development server, it sends `100 Continue` twice when a
client asks for it: once from `http.server`'s own header handling (`handle_expect_100`),
once more when the application starts (Werkzeug's `run_wsgi` writes its own), which reaches
the client while the body is already going out.

Run: `python3 http_server_upload.py` prints `READY <port>` once it listens on 127.0.0.1.
"""

import base64
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STORED = {}
LOCK = threading.Lock()


def multipart_parts(content_type, body):
    boundary = content_type.split("boundary=", 1)[1].strip().strip('"').encode()
    parts = {}
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk.partition(b"\r\n\r\n")
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
        filename = None
        if b'filename="' in head:
            filename = head.split(b'filename="', 1)[1].split(b'"', 1)[0].decode()
        parts[name] = (filename, content[:-2])  # the CRLF before the next boundary
    return parts


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, payload, content_type="application/json"):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        if self.headers.get("Expect", "").lower() == "100-continue":
            # Werkzeug's second `100 Continue`.
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path == "/api/file-stream-upload":
            parts = multipart_parts(self.headers["Content-Type"], body)
            name, content = parts["file"]
            name = parts.get("fileName", (None, name.encode()))[1]
            name = name.decode() if isinstance(name, bytes) else name
        elif self.path == "/api/file-base64-upload":
            request = json.loads(body)
            data = request["base64Data"]
            content = base64.b64decode(data.split(",", 1)[1] if data.startswith("data:") else data)
            name = request.get("fileName", "upload.bin")
        else:
            return self.answer(404, {"success": False, "code": 404, "msg": "not found"})
        with LOCK:
            STORED[name] = content
        host, port = self.server.server_address
        self.answer(200, {
            "success": True,
            "code": 200,
            "msg": "File uploaded successfully",
            "data": {
                "fileName": name,
                "filePath": "python/" + name,
                "downloadUrl": "http://%s:%d/files/%s" % (host, port, name),
                "fileSize": len(content),
                "mimeType": "application/octet-stream",
                "uploadedAt": "2026-12-05T12:00:00.000Z",
            },
        })

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        with LOCK:
            content = STORED.get(name)
        if content is None:
            return self.answer(404, b"not found", "text/plain")
        self.answer(200, content, "application/octet-stream")


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("READY %d" % server.server_address[1], flush=True)
    server.serve_forever()
