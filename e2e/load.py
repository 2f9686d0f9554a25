"""A bounded HTTP load generator for the serving scenarios (standard library only).

Run inside the real node's network namespace (`RealNode.net_ns`) so it reaches pod and Service (ClusterIP,
through kube-proxy) addresses; it refuses any other target than those networks and loopback. Every run is
bounded in count (`max_requests`) and time (`seconds`); a steady run also ends when `stop_file` appears.
One new connection per request (`Connection: close`), so kube-proxy picks an endpoint per request, as it would
per client connection.

    python load.py '{"mode": "steady", "url": "http://10.96.3.4/x", "rate": 20, "seconds": 120, ...}'

Prints one JSON object: `results`, a list of [start offset s, latency ms, status (int) or "error:<kind>",
answer's "version" or null].
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

MAX_REQUESTS = 20000
MAX_SECONDS = 600


def one(url: urllib.parse.SplitResult, timeout: float, t0: float) -> list:
    start = time.monotonic()
    status: object
    version = None
    try:
        c = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=timeout)
        try:
            c.request("GET", url.path + (f"?{url.query}" if url.query else ""), headers={"Connection": "close"})
            r = c.getresponse()
            body = r.read()
            status = r.status
            if status == 200:
                try:
                    version = json.loads(body).get("version")
                except ValueError:
                    pass
        finally:
            c.close()
    except TimeoutError:
        status = "error:timeout"
    except ConnectionRefusedError:
        status = "error:refused"
    except (ConnectionResetError, BrokenPipeError):
        status = "error:reset"
    except (OSError, http.client.HTTPException) as e:
        status = f"error:{type(e).__name__}"
    return [round(start - t0, 4), round((time.monotonic() - start) * 1000, 2), status, version]


def check_target(host: str, allowed: list[str]) -> None:
    ip = ipaddress.ip_address(host)
    if not (ip.is_loopback or any(ip in ipaddress.ip_network(n) for n in allowed)):
        raise SystemExit(f"load: {host} is not loopback nor in the run's networks {allowed}")


def run(spec: dict) -> list:
    url = urllib.parse.urlsplit(spec["url"])
    check_target(url.hostname, spec.get("allowed", []))
    mode = spec["mode"]
    n = min(int(spec.get("max_requests", 1000)), MAX_REQUESTS)
    seconds = min(float(spec.get("seconds", 60)), MAX_SECONDS)
    timeout = float(spec.get("timeout", 30))
    t0 = time.monotonic()
    if mode == "sequential":
        out = []
        for _ in range(n):
            if time.monotonic() - t0 > seconds:
                break
            out.append(one(url, timeout, t0))
        return out
    if mode == "burst":  # n requests at once, each on its own thread, released together
        barrier = threading.Barrier(n)
        out = [None] * n

        def go(i: int) -> None:
            barrier.wait()
            out[i] = one(url, timeout, t0)
        threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + timeout)
        return [r for r in out if r is not None]
    if mode == "steady":
        rate = float(spec["rate"])
        stop = spec.get("stop_file")
        futures = []
        with ThreadPoolExecutor(max_workers=int(spec.get("concurrency", 16))) as pool:
            for i in range(n):
                due = t0 + i / rate
                now = time.monotonic()
                if due - t0 > seconds or (stop and os.path.exists(stop)):
                    break
                if due > now:
                    time.sleep(due - now)
                futures.append(pool.submit(one, url, timeout, t0))
        return [f.result() for f in futures]
    raise SystemExit(f"load: unknown mode {mode!r}")


if __name__ == "__main__":
    print(json.dumps({"results": run(json.loads(sys.argv[1]))}))
