"""A few Kubernetes API calls over HTTPS with a bearer token (standard library only)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any, Optional


class ApiError(Exception):
    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body


class Kube:
    def __init__(self, server: str, token: str):
        self.server = server
        self.token = token
        # The run's API server has a self-signed serving certificate on loopback.
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE

    def _req(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> tuple[int, str]:
        data = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
        if isinstance(data, str):
            data = data.encode()
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def raw(self, method: str, path: str) -> str:
        status, text = self._req(method, path)
        if status >= 400:
            raise ApiError(status, text)
        return text

    def get(self, path: str) -> Optional[dict]:
        status, text = self._req("GET", path)
        if status == 404:
            return None
        if status >= 400:
            raise ApiError(status, text)
        return json.loads(text)

    def items(self, path: str) -> list[dict]:
        got = self.get(path)
        return got["items"] if got else []

    def create(self, path: str, obj: dict) -> dict:
        status, text = self._req("POST", path, obj)
        if status >= 400:
            raise ApiError(status, text)
        return json.loads(text)

    def apply(self, path: str, obj: dict) -> None:
        """Create, or leave as is when it exists."""
        status, text = self._req("POST", path, obj)
        if status >= 400 and status != 409:
            raise ApiError(status, text)

    def patch(self, path: str, patch: dict) -> dict:
        status, text = self._req("PATCH", path, patch, "application/merge-patch+json")
        if status >= 400:
            raise ApiError(status, text)
        return json.loads(text)

    def delete(self, path: str) -> bool:
        status, text = self._req("DELETE", path)
        if status >= 400 and status != 404:
            raise ApiError(status, text)
        return status != 404

    def stream(self, path: str):
        """The events of a watch (`?watch=1` in `path`), one JSON object per line, until the server ends it."""
        req = urllib.request.Request(self.server + path, method="GET")
        req.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(req, context=self.ctx, timeout=3600) as r:
            for line in r:
                if line.strip():
                    yield json.loads(line)

    def post_status(self, path: str, obj: dict) -> int:
        """POST and return only the status code (evictions answer 429 while a PDB forbids them)."""
        status, _ = self._req("POST", path, obj)
        return status
