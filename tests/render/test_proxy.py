"""The request-limit proxy: its rendered HAProxy config, and that config run by the real HAProxy on loopback.

The measurement: a tiny local HTTP server holds every request until released and records how many it holds at
once; the proxy runs the rendered config in front of it; a bounded burst of requests (at most 20) arrives at once.
At most max_concurrency reach the server, max_queue_length more wait, the rest get 503 at once, and the proxy's
Prometheus exporter reports the same counts. Needs `haproxy` (`make test` installs Debian's package).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from modelstack.render import proxy, timeouts

HAPROXY = shutil.which("haproxy")
needs_haproxy = pytest.mark.skipif(
    HAPROXY is None and not os.environ.get("MODELSTACK_REQUIRE_HAPROXY"),
    reason="haproxy is not installed (make test installs it)")


def settings(**kw) -> proxy.ProxySettings:
    base = dict(max_concurrency=2, max_queue_length=3, upstream_port=8080)
    base.update(kw)
    return proxy.ProxySettings(**base)


def test_config_carries_the_limits() -> None:
    text = proxy.config(settings(max_concurrency=4, max_queue_length=10, upstream_port=9000, queue_timeout_seconds=7))
    assert "    server model 127.0.0.1:9000 maxconn 4" in text
    assert "if { be_conn(model) ge 14 }" in text
    assert "    timeout queue 7s" in text
    assert "    bind :8888" in text and "    bind :8404" in text
    assert "    nbthread 1" in text


def test_timeouts_follow_the_request_path() -> None:
    # A client may wait the queue, then the answer; the server only the answer; an idle connection outlives any
    # ALB idle timeout (AWS: a target's keep-alive must exceed it, or clients see 502s).
    cfg = proxy.config(settings(queue_timeout_seconds=60, request_timeout_seconds=600))
    assert "    timeout client 660s" in cfg and "    timeout server 600s" in cfg and "    timeout queue 60s" in cfg
    keep_alive = int(cfg.split("timeout http-keep-alive ")[1].split("s")[0])
    assert keep_alive > timeouts.ALB_IDLE_RANGE[1]


def test_accepts_far_more_connections_than_it_holds() -> None:
    # Beyond `global maxconn` HAProxy stops accepting (clients hang) instead of answering 503.
    small = proxy.config(settings(max_concurrency=1, max_queue_length=0))
    big = proxy.config(settings(max_concurrency=900, max_queue_length=900))
    assert "    maxconn 1024" in small
    assert "    maxconn 3600" in big


@pytest.mark.parametrize("kw, message", [
    (dict(max_concurrency=0), "proxy: max_concurrency 0: at least 1"),
    (dict(max_queue_length=-1), "proxy: max_queue_length -1: at least 0"),
    (dict(upstream_port=8888), "proxy: port 8888: the proxy uses 8888 and 8404; give the model server another port"),
    (dict(upstream_port=8404), "proxy: port 8404: the proxy uses 8888 and 8404; give the model server another port"),
    (dict(queue_timeout_seconds=0), "proxy: queue_timeout_seconds 0: at least 1"),
])
def test_bad_settings_are_refused(kw, message) -> None:
    with pytest.raises(ValueError) as e:
        proxy.config(settings(**kw))
    assert str(e.value) == message


def test_hash_changes_with_the_limits() -> None:
    a = proxy.config_hash(proxy.config(settings()))
    assert a == proxy.config_hash(proxy.config(settings()))
    assert a != proxy.config_hash(proxy.config(settings(max_queue_length=4)))


def test_image_is_the_pinned_official_one() -> None:
    assert proxy.IMAGE == "public.ecr.aws/docker/library/haproxy:3.2.21-alpine"


# ------------------------------------------------------------------------------------------- real HAProxy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Held:
    """A model server that holds each request until `release` and records how many it held at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current = 0
        self.peak = 0
        self.served = 0
        self.gate = threading.Event()
        held = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/healthz":  # answers at once, like a model's health endpoint
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with held.lock:
                    held.current += 1
                    held.peak = max(held.peak, held.current)
                held.gate.wait(30)
                with held.lock:
                    held.current -= 1
                    held.served += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def handle(self) -> None:
                try:
                    super().handle()
                except ConnectionError:
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


def get(port: int, path: str, timeout: float = 35, headers: dict | None = None) -> tuple[int, float, str]:
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, time.monotonic() - start, r.read().decode()
    finally:
        conn.close()


def metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(rf"^{name}\{{{re.escape(want)}\}} (\S+)$", text, re.M)
    assert m, f"{name}{{{want}}} not exported"
    return float(m.group(1))


def wait_for(check, what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@needs_haproxy
@pytest.mark.parametrize("concurrency, queue, extra", [(2, 3, 4), (1, 0, 3), (4, 10, 6)])
def test_real_haproxy_enforces_the_limits(tmp_path: Path, concurrency: int, queue: int, extra: int) -> None:
    assert HAPROXY, "haproxy is not installed: `make test` installs Debian's package"
    model = Held()
    s = settings(max_concurrency=concurrency, max_queue_length=queue, upstream_port=model.port,
                 listen_port=free_port(), metrics_port=free_port(), bind_address="127.0.0.1")
    cfg = tmp_path / proxy.CONFIG_FILE
    cfg.write_text(proxy.config(s))
    check = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    haproxy = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: _up(s.metrics_port), "the proxy's /healthz")
        admitted = concurrency + queue
        pool = ThreadPoolExecutor(admitted + extra)
        held = [pool.submit(get, s.listen_port, f"/predict/{i}") for i in range(admitted)]
        # The admitted ones are at the server or in the queue before the overflow arrives.
        wait_for(lambda: model.current == concurrency and _queued(s.metrics_port) == queue, "a full server and queue")
        overflow = [f.result() for f in [pool.submit(get, s.listen_port, "/predict/x", 5) for _ in range(extra)]]
        assert [code for code, _, _ in overflow] == [503] * extra
        assert max(seconds for _, seconds, _ in overflow) < 1.0, "the overflow must be refused at once, not queued"
        assert model.current == concurrency and model.peak == concurrency
        metrics = get(s.metrics_port, "/metrics")[2]
        assert metric(metrics, "haproxy_server_current_sessions", proxy="model", server="model") == concurrency
        assert metric(metrics, "haproxy_backend_current_queue", proxy="model") == queue
        assert metric(metrics, "haproxy_frontend_http_responses_total", proxy="model", code="5xx") == extra
        assert metric(metrics, "haproxy_frontend_intercepted_requests_total", proxy="model") == extra
        assert not any(f.done() for f in held), "admitted requests wait for the server"
        model.gate.set()
        results = [f.result() for f in held]
        assert [code for code, _, _ in results] == [200] * admitted
        assert model.peak == concurrency and model.served == admitted
        after = get(s.metrics_port, "/metrics")[2]
        assert metric(after, "haproxy_frontend_http_responses_total", proxy="model", code="2xx") == admitted
        pool.shutdown()
    finally:
        haproxy.terminate()
        haproxy.wait(10)
        model.close()


def _up(port: int) -> bool:
    try:
        return get(port, "/healthz", 1)[0] == 200
    except OSError:
        return False


def _queued(port: int) -> float:
    return metric(get(port, "/metrics", 2)[2], "haproxy_backend_current_queue", proxy="model")


@needs_haproxy
def test_debian_haproxy_has_the_prometheus_exporter() -> None:
    assert HAPROXY
    out = subprocess.run([HAPROXY, "-vv"], capture_output=True, text=True).stdout
    assert "Built with the Prometheus exporter as a service" in out


@needs_haproxy
def test_load_balancer_health_checks_skip_the_queue(tmp_path: Path) -> None:
    # A saturated replica is still healthy: the ALB's check must not queue behind requests or get the 503.
    assert HAPROXY
    model = Held()
    s = settings(max_concurrency=1, max_queue_length=1, upstream_port=model.port, listen_port=free_port(),
                 metrics_port=free_port(), bind_address="127.0.0.1", health_path="/healthz")
    cfg = tmp_path / proxy.CONFIG_FILE
    cfg.write_text(proxy.config(s))
    haproxy = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _up(s.metrics_port), "the proxy's /healthz")
        pool = ThreadPoolExecutor(2)
        held = [pool.submit(get, s.listen_port, f"/predict/{i}") for i in range(2)]
        wait_for(lambda: model.current == 1 and _queued(s.metrics_port) == 1, "a full server and queue")
        elb = {"User-Agent": "ELB-HealthChecker/2.0"}
        code, seconds, _ = get(s.listen_port, "/healthz", 5, elb)
        assert code == 200 and seconds < 1.0
        assert get(s.listen_port, "/healthz", 5)[0] == 503, "only the load balancer's checks skip the limits"
        assert get(s.listen_port, "/predict/x", 5, elb)[0] == 503, "only the health path skips the limits"
        model.gate.set()
        assert [f.result()[0] for f in held] == [200, 200]
        pool.shutdown()
    finally:
        haproxy.terminate()
        haproxy.wait(10)
        model.close()


def test_health_path_must_be_a_plain_path() -> None:
    with pytest.raises(ValueError) as e:
        proxy.config(settings(health_path="/x } || { always_true"))
    assert str(e.value) == "proxy: health_path '/x } || { always_true': a URL path such as /healthz"


@needs_haproxy
def test_the_config_a_model_api_ships_is_valid_haproxy(tmp_path: Path) -> None:
    # The exact ConfigMap text (binding every address on 8888/8404), checked by HAProxy's own parser.
    from modelstack.serving.model_api import resolve
    assert HAPROXY
    plan = resolve("llm", {"image": "ghcr.io/acme/m:1", "max_concurrency": 4, "max_queue_length": 0,
                           "readiness_probe": {"http_get": {"path": "/ready"}},
                           "autoscaling": {"signal": "cpu", "target_utilization": 70},
                           "ingress": {"group_name": "c1-models"}})
    cfg = tmp_path / proxy.CONFIG_FILE
    cfg.write_text(plan.objects["proxy_config"]["data"][proxy.CONFIG_FILE])
    check = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "be_conn(model) ge 4 }" in cfg.read_text()


class Echo:
    """A server that answers every GET with the path it was asked for."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                body = self.path.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@needs_haproxy
def test_real_haproxy_strips_the_route_prefix_before_the_server(tmp_path: Path) -> None:
    # An LLM engine answers its OpenAI API at /v1/...; the ALB and the interceptor keep the route's /chat prefix.
    assert HAPROXY
    model = Echo()
    s = settings(max_concurrency=2, max_queue_length=2, upstream_port=model.port, listen_port=free_port(),
                 metrics_port=free_port(), bind_address="127.0.0.1", strip_prefix="/chat.v2")
    cfg = tmp_path / proxy.CONFIG_FILE
    cfg.write_text(proxy.config(s))
    check = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    haproxy = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _up(s.metrics_port), "the proxy's /healthz")
        assert get(s.listen_port, "/chat.v2/v1/chat/completions", 5)[2] == "/v1/chat/completions"
        assert get(s.listen_port, "/chat.v2/v1/models?x=1", 5)[2] == "/v1/models?x=1"
        assert get(s.listen_port, "/chat.v2", 5)[2] == "/"
        assert get(s.listen_port, "/chatxv2/v1", 5)[2] == "/chatxv2/v1"  # the '.' is literal
    finally:
        haproxy.terminate()
        haproxy.wait(10)
        model.close()


def test_strip_prefix_must_be_a_route_path() -> None:
    assert settings(strip_prefix="/chat/").problems()
    assert not settings(strip_prefix="/team/chat").problems()
