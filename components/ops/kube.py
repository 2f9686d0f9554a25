"""The cluster's API for `modelstack get` / `logs`, through the official Kubernetes Python client.

The client reads the kubeconfig as kubectl does: certificates, bearer tokens and `exec` credential plugins (the
kubeconfig pulumi-eks makes runs `aws eks get-token`). Only reads are made.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

REQUEST_TIMEOUT_S = 20


class KubeError(Exception):
    """The API could not be reached or refused a read; the message names the request."""


def _quiet_insecure_warning() -> None:
    # A kubeconfig with insecure-skip-tls-verify is the user's choice; urllib3 would warn on every request.
    import warnings

    import urllib3

    warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)


def load_kubeconfig(text: Optional[str] = None, path: Optional[str] = None) -> client.ApiClient:
    """An API client from kubeconfig `text` (e.g. the stack's `kubeconfig` output), else the file at `path`, else
    $KUBECONFIG / ~/.kube/config."""
    _quiet_insecure_warning()
    try:
        if text:
            doc = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
            return config.new_client_from_config_dict(doc)
        return config.new_client_from_config(config_file=path or os.environ.get("KUBECONFIG") or
                                             str(Path.home() / ".kube" / "config"))
    except (config.ConfigException, OSError, ValueError, yaml.YAMLError, TypeError) as e:
        raise KubeError(f"cannot use the kubeconfig: {e}") from None


class Kube:
    """The reads `get` and `logs` make, returned as plain dicts (the API's JSON)."""

    def __init__(self, api: client.ApiClient):
        self.api = api

    def _get(self, path: str, query: Optional[dict[str, Any]] = None, *, missing_ok: bool = False) -> Optional[dict[str, Any]]:
        try:
            method, url, headers, body, post = self.api.param_serialize(
                "GET", path, query_params=list((query or {}).items()), header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"])
            resp = self.api.call_api(method, url, header_params=headers, body=body, post_params=post,
                                     _request_timeout=REQUEST_TIMEOUT_S)
            resp.read()
        except ApiException as e:
            if missing_ok and e.status == 404:
                return None
            raise KubeError(f"GET {path}: HTTP {e.status} {e.reason}: {(e.body or '')[:300]}") from None
        except Exception as e:  # noqa: BLE001 - connection errors surface as many types (urllib3, ssl, socket)
            raise KubeError(f"GET {path}: {type(e).__name__}: {e}") from None
        text = (resp.data or b"").decode(errors="replace")
        if resp.status == 404 and missing_ok:
            return None
        if resp.status >= 400:
            try:  # a Kubernetes Status says what went wrong in one sentence
                detail = json.loads(text).get("message") or text[:300]
            except (ValueError, AttributeError):
                detail = text[:300]
            raise KubeError(f"GET {path}: HTTP {resp.status}: {detail}")
        try:
            doc: Optional[dict[str, Any]] = json.loads(text)
            return doc
        except ValueError:
            raise KubeError(f"GET {path}: the answer is not JSON: {text[:200]}") from None

    def items(self, path: str, query: Optional[dict[str, Any]] = None) -> list[dict[str, Any]]:
        got = self._get(path, query)
        return list((got or {}).get("items") or [])

    def get(self, path: str) -> Optional[dict[str, Any]]:
        return self._get(path, missing_ok=True)

    def deployments(self, namespace: str, model_label: str, model: str) -> list[dict[str, Any]]:
        return self.items(f"/apis/apps/v1/namespaces/{namespace}/deployments", {"labelSelector": f"{model_label}={model}"})

    def pods(self, namespace: str, model_label: str, model: str) -> list[dict[str, Any]]:
        return self.items(f"/api/v1/namespaces/{namespace}/pods", {"labelSelector": f"{model_label}={model}"})

    def scaled_object(self, namespace: str, name: str) -> Optional[dict[str, Any]]:
        return self.get(f"/apis/keda.sh/v1alpha1/namespaces/{namespace}/scaledobjects/{name}")

    def hpa(self, namespace: str, name: str) -> Optional[dict[str, Any]]:
        return self.get(f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{name}")

    def nodes(self) -> list[dict[str, Any]]:
        return self.items("/api/v1/nodes")

    def events(self, namespace: str) -> list[dict[str, Any]]:
        return self.items(f"/api/v1/namespaces/{namespace}/events")

    def service_proxy_get(self, namespace: str, service: str, port: int, path: str, query: dict[str, Any]) -> dict[str, Any]:
        """GET through the API server's service proxy (`.../services/<name>:<port>/proxy/<path>`)."""
        got = self._get(f"/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy/{path.lstrip('/')}", query)
        if not isinstance(got, dict):
            raise KubeError(f"service {namespace}/{service}: answer is not a JSON object")
        return got

    def pod_log(self, namespace: str, pod: str, container: str, since_seconds: Optional[int], follow: bool,
                tail: Optional[int] = None) -> Iterator[str]:
        """Lines of one container's log (following it until the pod ends, with `follow`)."""
        core = client.CoreV1Api(self.api)
        kw: dict[str, Any] = {"container": container, "timestamps": True, "follow": follow, "_preload_content": False}
        if since_seconds is not None:
            kw["since_seconds"] = since_seconds
        if tail is not None:
            kw["tail_lines"] = tail
        if not follow:
            kw["_request_timeout"] = REQUEST_TIMEOUT_S
        try:
            resp = core.read_namespaced_pod_log(pod, namespace, **kw)
        except ApiException as e:
            raise KubeError(f"logs of {namespace}/{pod}/{container}: HTTP {e.status} {e.reason}") from None
        buf = b""
        try:
            for chunk in resp.stream(4096):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    yield line.decode(errors="replace")
            if buf:
                yield buf.decode(errors="replace")
        finally:
            resp.release_conn()
