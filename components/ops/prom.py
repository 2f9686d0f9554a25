"""Instant queries to Prometheus's HTTP API (`/api/v1/query`), through the API server's service proxy or a URL."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Optional

from modelstack.ops.kube import Kube, KubeError

TIMEOUT_S = 15

Fetch = Callable[[str, dict[str, Any]], dict[str, Any]]


class PrometheusUnavailable(Exception):
    """Prometheus could not be asked (not installed, not ready, unreachable); the message says which."""


class Prometheus:
    def __init__(self, fetch: Fetch, where: str):
        self._fetch, self.where = fetch, where

    @classmethod
    def through_api_server(cls, kube: Kube, namespace: str, service: str, port: int) -> "Prometheus":
        def fetch(path: str, params: dict[str, Any]) -> dict[str, Any]:
            try:
                return kube.service_proxy_get(namespace, service, port, path, params)
            except KubeError as e:
                raise PrometheusUnavailable(str(e)) from None
        return cls(fetch, f"service {namespace}/{service}:{port} (API server proxy)")

    @classmethod
    def at(cls, url: str) -> "Prometheus":
        base = url.rstrip("/")

        def fetch(path: str, params: dict[str, Any]) -> dict[str, Any]:
            req = urllib.request.Request(f"{base}/{path.lstrip('/')}?{urllib.parse.urlencode(params)}",
                                         headers={"Accept": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=TIMEOUT_S) as r:
                    doc: dict[str, Any] = json.loads(r.read())
                    return doc
            except urllib.error.HTTPError as e:
                raise PrometheusUnavailable(f"GET {base}/{path}: HTTP {e.code}") from None
            except (urllib.error.URLError, OSError, ValueError) as e:
                raise PrometheusUnavailable(f"GET {base}/{path}: {e}") from None
        return cls(fetch, base)

    def query(self, expr: str) -> list[tuple[dict[str, str], Optional[float]]]:
        """The instant vector (labels, value) of `expr`; NaN and infinities (0/0 ratios) as None."""
        got = self._fetch("api/v1/query", {"query": expr})
        if got.get("status") != "success":
            raise PrometheusUnavailable(f"{self.where}: query failed: {got.get('errorType')}: {got.get('error')}")
        data = got.get("data") or {}
        if data.get("resultType") == "scalar":
            return [({}, _num(data["result"][1]))]
        return [(r.get("metric") or {}, _num(r["value"][1])) for r in data.get("result") or []]

    def scalar(self, expr: str) -> Optional[float]:
        """The one value of `expr`, or None when the vector is empty (no such series) or the value is not a number."""
        rows = self.query(expr)
        return rows[0][1] if rows else None

    def ready(self) -> None:
        """Raise PrometheusUnavailable unless a trivial query answers."""
        self.scalar("vector(1)")


def _num(text: Any) -> Optional[float]:
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) or math.isinf(v) else v
