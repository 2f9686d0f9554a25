"""The request-limit proxy in front of every model server: an HAProxy configuration, rendered as text (pure).

Cortex ran a proxy beside every API that let `max_concurrency` requests reach the server at once, queued up to
`max_queue_length` more, answered 503 to the rest at once and published the in-flight count. modelstack renders
the same contract for HAProxy, a container named `proxy` in every model pod:

- `server ... maxconn <max_concurrency>`: at most that many requests are at the model server at once; the rest
  wait in the backend's queue (FIFO), each for at most `timeout queue`, then 503.
- `http-request return status 503 if { be_conn(model) ge <max_concurrency + max_queue_length> }`: a request that
  finds the server full and the queue full gets a 503 at once, without waiting. HAProxy's own `maxqueue` does not
  do this with a single server: measured with Debian's HAProxy 2.6.12, requests over a server's `maxqueue` are
  "redispatched" to the backend queue and wait there (all 200, none refused), so the limit is an ACL on the
  backend's streams (served + queued), evaluated on one thread (`nbthread 1`) so the check and the enqueue do
  not race. With max_queue_length 0 the same rule refuses everything beyond `max_concurrency`.
- A second listener serves `/metrics` (HAProxy's built-in Prometheus exporter: in-flight at the server
  `haproxy_server_current_sessions`, waiting `haproxy_backend_current_queue`, overflow 503s
  `haproxy_frontend_http_responses_total{code="5xx"}` and `haproxy_frontend_intercepted_requests_total`) and
  `/healthz` (the proxy's own readiness).

Why HAProxy rather than Envoy's circuit breakers: HAProxy's queue is an explicit FIFO with a per-request wait
limit, which is Cortex's queue; Envoy's `max_pending_requests` bounds a pending pool but its config is an xDS
document several times the size, and Debian packages HAProxy, so the exact rendered file is measured here
(tests/render/test_proxy.py runs the real binary).
"""

from __future__ import annotations

import re

import hashlib
from dataclasses import dataclass
from typing import Optional

CONTAINER = "proxy"
"""Name of the proxy container in every model pod."""
IMAGE = "public.ecr.aws/docker/library/haproxy:3.2.21-alpine"
"""The official HAProxy image (docker-library/haproxy, 3.2 LTS) through its ECR Public mirror (no Docker Hub
rate limit). Built with USE_PROMEX=1, STOPSIGNAL SIGUSR1 (soft stop: finish in-flight requests), USER 99."""
CONFIG_DIR = "/usr/local/etc/haproxy"
"""Where the image's default command reads haproxy.cfg; the ConfigMap is mounted here."""
CONFIG_FILE = "haproxy.cfg"
PORT = 8888
"""Where the proxy listens (Cortex's proxy port); the Service sends traffic here."""
METRICS_PORT = 8404
"""Prometheus exporter (/metrics) and health (/healthz) listener."""
RESERVED_PORTS = (PORT, METRICS_PORT)
CPU = "100m"
"""Default CPU request of the proxy container (counted in sizing and cost)."""
MEMORY = "128Mi"
"""Default memory request and limit of the proxy container: buffers of 16 KiB per connection side."""
QUEUE_TIMEOUT_SECONDS = 60
"""Default longest wait in the queue before a 503."""
REQUEST_TIMEOUT_SECONDS = 600
"""Default longest a request may take at the server (`timeout server`), for long generations."""
KEEP_ALIVE_SECONDS = 4060
"""How long an idle client connection stays open (`timeout http-keep-alive`). AWS asks that a target's keep-alive
exceed the load balancer's idle timeout, or clients get intermittent 502s; this exceeds the largest value an ALB
accepts (4000 s, render/timeouts.ALB_IDLE_RANGE), whatever the group sets. HAProxy's default is 30 s."""
MAX_CLIENT_CONNECTIONS_FLOOR = 1024
"""Connections the proxy accepts at least: beyond `global maxconn` HAProxy stops accepting instead of answering
503, so it is kept well above max_concurrency + max_queue_length."""


@dataclass(frozen=True)
class ProxySettings:
    """What the proxy enforces for one model (per replica)."""

    max_concurrency: int
    max_queue_length: int
    upstream_port: int
    listen_port: int = PORT
    metrics_port: int = METRICS_PORT
    bind_address: str = ""
    """Empty: every address of the pod. Tests bind 127.0.0.1."""
    upstream_host: str = "127.0.0.1"
    queue_timeout_seconds: int = QUEUE_TIMEOUT_SECONDS
    request_timeout_seconds: int = REQUEST_TIMEOUT_SECONDS
    hard_stop_after_seconds: int = 45
    """After a stop signal, in-flight requests get this long before the proxy exits (keep under the pod's grace)."""
    health_path: Optional[str] = None
    """The load balancer's health-check path when it checks pods through the proxy (models not behind the KEDA
    interceptor). Its checks (GET/HEAD from ELB-HealthChecker) skip the queue and the 503 rule: a saturated but
    healthy replica must not be taken out of the target group, which would only push its load onto the others."""
    strip_prefix: Optional[str] = None
    """The route's path (e.g. /chat), taken off the request path before the server sees it (/chat/v1/models ->
    /v1/models): for servers that answer at their root, such as an LLM engine's OpenAI API. Default none."""

    def problems(self) -> list[str]:
        out = []
        if self.strip_prefix is not None and not re.fullmatch(r"/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]", self.strip_prefix):
            out.append(f"strip_prefix {self.strip_prefix!r}: a route path such as /chat (no trailing '/')")
        if self.max_concurrency < 1:
            out.append(f"max_concurrency {self.max_concurrency}: at least 1")
        if self.max_queue_length < 0:
            out.append(f"max_queue_length {self.max_queue_length}: at least 0")
        if self.health_path is not None and (not self.health_path.startswith("/") or any(
                ch.isspace() or ch in "{}#\\\"'" for ch in self.health_path)):
            out.append(f"health_path {self.health_path!r}: a URL path such as /healthz")
        if self.upstream_port in (self.listen_port, self.metrics_port):
            out.append(f"port {self.upstream_port}: the proxy uses {self.listen_port} and {self.metrics_port}; "
                       "give the model server another port")
        for name in ("queue_timeout_seconds", "request_timeout_seconds", "hard_stop_after_seconds"):
            if getattr(self, name) < 1:
                out.append(f"{name} {getattr(self, name)}: at least 1")
        return out

    @property
    def limit(self) -> int:
        """Requests one replica holds at once (served + queued); the next one gets a 503."""
        return self.max_concurrency + self.max_queue_length


def config(s: ProxySettings) -> str:
    """haproxy.cfg for one model replica."""
    problems = s.problems()
    if problems:
        raise ValueError("proxy: " + "; ".join(problems))
    bind = s.bind_address
    maxconn = max(MAX_CLIENT_CONNECTIONS_FLOOR, 2 * s.limit)
    return "\n".join([
        "# Rendered by modelstack (render/proxy.py): max_concurrency at the server, max_queue_length waiting, 503 beyond.",
        "global",
        f"    maxconn {maxconn}",
        "    nbthread 1",
        f"    hard-stop-after {s.hard_stop_after_seconds}s",
        "    log stdout format raw local0",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    option dontlog-normal",
        "    timeout connect 5s",
        # a client may wait in the queue, then for the server's answer; the server only for its answer
        f"    timeout client {s.queue_timeout_seconds + s.request_timeout_seconds}s",
        f"    timeout server {s.request_timeout_seconds}s",
        f"    timeout queue {s.queue_timeout_seconds}s",
        f"    timeout http-keep-alive {KEEP_ALIVE_SECONDS}s",
        "    timeout http-request 30s",
        "",
        "frontend model",
        f"    bind {bind}:{s.listen_port}",
        *([f"    http-request set-var(txn.lb_health_check) bool(true) if {{ path {s.health_path} }} "
           "{ method GET HEAD } { hdr_beg(user-agent) ELB-HealthChecker }"] if s.health_path else []),
        f"    http-request return status 503 content-type text/plain string \"over capacity\" if {{ be_conn(model) ge {s.limit} }}"
        + (" !{ var(txn.lb_health_check) -m bool }" if s.health_path else ""),
        *(["    use_backend health if { var(txn.lb_health_check) -m bool }"] if s.health_path else []),
        "    default_backend model",
        "",
        "backend model",
        *([f"    http-request replace-path '^{re.escape(s.strip_prefix)}/?(.*)$' '/\\1'"] if s.strip_prefix else []),
        f"    server model {s.upstream_host}:{s.upstream_port} maxconn {s.max_concurrency}",
        "",
        *(["backend health",
           f"    server model {s.upstream_host}:{s.upstream_port}",
           ""] if s.health_path else []),
        "frontend metrics",
        f"    bind {bind}:{s.metrics_port}",
        "    option dontlognull",
        "    monitor-uri /healthz",
        "    http-request use-service prometheus-exporter if { path /metrics }",
        "",
    ])


def config_hash(text: str) -> str:
    """Short digest of a config, put on the pod template so a limit change rolls the pods (a ConfigMap edit alone
    does not restart HAProxy)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
