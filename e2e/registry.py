"""A read-only container registry over an images.Store, for containerd on the real node (its only registry).

It answers the pull side of the OCI distribution API: `GET /v2/`, `GET|HEAD /v2/<name>/manifests/<tag|digest>`
and `GET|HEAD /v2/<name>/blobs/<digest>`. containerd reaches it as a mirror of every registry host an image
names (`?ns=<host>` tells which), so pods keep the image references the components render, and a pull policy of
Always really pulls. It listens on a socket the caller made (the node's loopback, inside the node's network
namespace), so nothing outside the run can reach it.
"""

from __future__ import annotations

import re
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from images import MANIFEST, Store


class Registry:
    def __init__(self, store: Store, sock: socket.socket, log_path=None):
        self.store = store
        self.pulls: list[str] = []  # "<ref>" of every manifest served: what containerd pulled
        reg = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # one line per request in the run's log
                if log_path:
                    with open(log_path, "a") as f:
                        f.write("%s %s\n" % (self.log_date_time_string(), fmt % args))

            def _send(self, code: int, body: bytes = b"", headers: dict | None = None) -> None:
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Docker-Distribution-API-Version", "registry/2.0")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self):  # noqa: N802 - http.server's naming
                u = urllib.parse.urlsplit(self.path)
                host = urllib.parse.parse_qs(u.query).get("ns", [""])[0]
                if u.path in ("/v2", "/v2/"):
                    return self._send(200, b"{}", {"Content-Type": "application/json"})
                m = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/([^/]+)", u.path)
                if not m:
                    return self._send(404)
                name, kind, ref = m.groups()
                if kind == "manifests":
                    key = ref if ref.startswith("sha256:") else f"{host}/{name}:{ref}" if host else f"{name}:{ref}"
                    got = reg.store.manifest(key)
                    if got is None:
                        return self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
                    digest, body = got
                    if self.command == "GET":
                        reg.pulls.append(key)
                    return self._send(200, body, {"Content-Type": MANIFEST, "Docker-Content-Digest": digest})
                try:
                    p = reg.store.blob_path(ref)
                except ValueError:
                    return self._send(400)
                if not p.exists():
                    return self._send(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
                return self._send(200, p.read_bytes(), {"Content-Type": "application/octet-stream",
                                                        "Docker-Content-Digest": ref})

            do_HEAD = do_GET  # noqa: N815

        self.server = ThreadingHTTPServer(sock.getsockname()[:2], Handler, bind_and_activate=False)
        self.server.socket.close()
        self.server.socket = sock
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server.socket.getsockname()[:2]
        return f"{host}:{port}"

    def start(self) -> "Registry":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
