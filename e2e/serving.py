"""Serving scenarios on the real node: real pods of ModelAPIs made by `pulumi up`, real traffic, measured.

The models (`models(...)`, the stack's `serving` config) are prod's `sentiment` args (maxUnavailable 0, surge,
preStop sleep, grace period, PDB, probes, strict zone spread) with our stand-in server (e2e/tools/modelserver)
as the image, small compute (the node is the 2-core machine itself), and placement on the real node: its pool
label and a toleration of its taint, so only these models run there. The request-limit proxy is HAProxy with
the exact config the ModelAPI renders (its ConfigMap), from the image `images.haproxy` builds.

The load balancer stand-in is the model's Service: ClusterIP routing by kube-proxy (iptables) inside the node's
network namespace, one new connection per request. Not exercised: the ALB itself (its health checks, target
registration and deregistration delay, idle timeout, cross-zone balancing).

Scenarios, each reported under `serving` in report.json:
- `rollout`: steady load on `serve-rollout` while `pulumi up` changes its image (modelserver v1 -> v2):
  requests, failed (non-2xx or connection errors), p50/p99 ms, answers per version. Goal: 0 failed.
- `limits`: a burst of more concurrent requests than max_concurrency + max_queue_length at `serve-limits`
  (one replica, a slow server): accepted (200), shed (503, and how fast), other. Goal: shed > 0, other 0.
- `dns`: a model pod's own resolver (cluster DNS: CoreDNS on the node) gives a Service's ClusterIP for its short
  and full names.
- `overhead`: light sequential load on one `serve-rollout` pod, straight to the server's port and through the
  proxy's: p50/p99 of each and the difference.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import images
from realnode import DNS_DOMAIN
from modelstack.render import labels, node_templates, proxy

HERE = Path(__file__).resolve().parent
POOL = "e2e-real"
ZONE = "us-east-1a"
ROLLOUT, LIMITS = "serve-rollout", "serve-limits"
LIMITS_CONCURRENCY, LIMITS_QUEUE, LIMITS_LATENCY_MS = 2, 2, 1500
LIMITS_BURST = 16
SHED_FAST_MS = 250
"""A shed request is answered at once: well under the server's latency."""
COMPUTE = {"cpu": "50m", "memory": "64Mi"}


def node_labels() -> dict[str, str]:
    """The real node's labels: a node of our own pool `e2e-real`, as EKS would label it (on-demand, one zone)."""
    return {**node_templates.node_labels(POOL, POOL, "cpu"), labels.CAPACITY_TYPE_LABEL: "ON_DEMAND",
            labels.EKS_NODEGROUP_LABEL: POOL, labels.ZONE_LABEL: ZONE, "topology.kubernetes.io/region": ZONE[:-1],
            labels.INSTANCE_TYPE_LABEL: "e2e.real"}


def placement(taint_key: str) -> dict:
    return {"node_pool": POOL, "tolerate_taints": [{"key": taint_key, "value": "true", "effect": "NoSchedule"}]}


def models(taint_key: str, version: str = "v1") -> dict:
    """The stack's `serving` config: scenario model name -> base prod model, image, env, compute, placement."""
    image = f"{images.MODEL_SERVER}:{version}"
    return {
        ROLLOUT: {"base": "sentiment", "image": image, "compute": COMPUTE, "placement": placement(taint_key),
                  "env": {"MODEL_STARTUP_SECONDS": "3", "MODEL_LATENCY_MS": "20"}},
        LIMITS: {"base": "sentiment", "image": image, "compute": COMPUTE,
                 "placement": {**placement(taint_key), "on_demand_base": 0},
                 "env": {"MODEL_LATENCY_MS": str(LIMITS_LATENCY_MS)},
                 "overrides": {"max_concurrency": LIMITS_CONCURRENCY, "max_queue_length": LIMITS_QUEUE,
                               "autoscaling": {"min_replicas": 1, "max_replicas": 1}}},
    }


def build_images(node, podbins: Path) -> dict[str, str]:
    """The proxy image (under the reference the ModelAPI renders) and both model server versions."""
    return images.standard(node.store, podbins, proxy.IMAGE, proxy.CONFIG_DIR, proxy.CONFIG_FILE)


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1], 1)


class Load:
    """The load generator (load.py) in the node's network namespace, bounded by its spec."""

    def __init__(self, node, spec: dict):
        self.spec = {**spec, "allowed": [str(node.pod_cidr), "10.96.0.0/16"]}
        self.proc = subprocess.Popen(node.net_ns([sys.executable, str(HERE / "load.py"), json.dumps(self.spec)]),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def results(self, timeout: float = 700) -> list:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise RuntimeError("load generator did not finish") from None
        if self.proc.returncode != 0:
            raise RuntimeError(f"load generator failed: {err[-1000:]}")
        return json.loads(out)["results"]


def run_load(node, spec: dict) -> list:
    return Load(node, spec).results()


def summary(results: list) -> dict:
    ok = [r[1] for r in results if r[2] == 200]
    failed = [r for r in results if r[2] != 200]
    kinds: dict[str, int] = {}
    for r in failed:
        kinds[str(r[2])] = kinds.get(str(r[2]), 0) + 1
    versions: dict[str, int] = {}
    for r in results:
        if r[3]:
            versions[r[3]] = versions.get(r[3], 0) + 1
    return {"requests": len(results), "failed": len(failed), "failures_by_kind": kinds,
            "p50_ms": pct(ok, 50), "p99_ms": pct(ok, 99), "answers_by_version": versions}


def service_url(kube, ns: str, name: str, path: str = "/predict") -> str:
    svc = kube.get(f"/api/v1/namespaces/{ns}/services/{name}")
    return f"http://{svc['spec']['clusterIP']}:{svc['spec']['ports'][0]['port']}{path}"


def model_pods(kube, ns: str, name: str) -> list[dict]:
    return [p for p in kube.items(f"/api/v1/namespaces/{ns}/pods?labelSelector=modelstack.io/model%3D{name}")
            if not p["metadata"].get("deletionTimestamp")]


def pod_ready(p: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))


def rolled_out(kube, ns: str, name: str, image: str) -> bool:
    """Every live pod of the model runs `image`, is Ready, and no old pod is left (terminating ones included)."""
    pods = kube.items(f"/api/v1/namespaces/{ns}/pods?labelSelector=modelstack.io/model%3D{name}")
    return bool(pods) and all(
        not p["metadata"].get("deletionTimestamp") and pod_ready(p)
        and next(c["image"] for c in p["spec"]["containers"] if c["name"] == "model") == image for p in pods)


def rollout(pl, kube, node, ns: str, taint_key: str, wait_until) -> dict:
    """Steady load on serve-rollout through its Service while `pulumi up` rolls v1 -> v2."""
    stop = node.dir / "rollout.stop"
    stop.unlink(missing_ok=True)
    load = Load(node, {"mode": "steady", "url": service_url(kube, ns, ROLLOUT), "rate": 25, "concurrency": 24,
                       "seconds": 420, "max_requests": 12000, "timeout": 20, "stop_file": str(stop)})
    time.sleep(5)
    t = time.time()
    # Only this module's models change image; other serving models in the config (other scenarios') stay as they are.
    current = json.loads(pl.run("config", "get", "serving").stdout)
    pl.run("config", "set", "serving", json.dumps({**current, **models(taint_key, "v2")}))
    pl.run("up", "--yes", "--skip-preview", log_name="up-serving-rollout")
    new = f"{images.MODEL_SERVER}:v2"
    done = wait_until(lambda: rolled_out(kube, ns, ROLLOUT, new), 240)
    seconds = round(time.time() - t, 1)
    time.sleep(5)  # keep loading the new pods for a while after the last old one is gone
    stop.write_text("")
    res = load.results()
    return {"model": ROLLOUT, "from": f"{images.MODEL_SERVER}:v1", "to": new, "rolled_out": done,
            "rollout_seconds": seconds, "rate_per_second": 25, **summary(res)}


def limits(kube, node, ns: str) -> dict:
    """A burst beyond max_concurrency + max_queue_length at the one replica of serve-limits."""
    res = run_load(node, {"mode": "burst", "url": service_url(kube, ns, LIMITS), "max_requests": LIMITS_BURST,
                          "seconds": 60, "timeout": 30})
    accepted = [r for r in res if r[2] == 200]
    shed = [r for r in res if r[2] == 503]
    other = [r for r in res if r[2] not in (200, 503)]
    return {"model": LIMITS, "max_concurrency": LIMITS_CONCURRENCY, "max_queue_length": LIMITS_QUEUE,
            "server_latency_ms": LIMITS_LATENCY_MS, "concurrent": len(res), "accepted": len(accepted),
            "shed_503": len(shed), "other_errors": len(other), "shed_p99_ms": pct([r[1] for r in shed], 99),
            "accepted_p50_ms": pct([r[1] for r in accepted], 50), "accepted_max_ms": max((r[1] for r in accepted), default=None)}


def overhead(kube, node, ns: str, n: int = 300) -> dict:
    """Light load (one request at a time, no server latency) on one pod: straight to the server and through the
    proxy, alternating in blocks so both see the same machine load."""
    pod = next(p for p in model_pods(kube, ns, ROLLOUT) if pod_ready(p))
    ip = pod["status"]["podIP"]
    ports = {c["name"]: {p.get("name"): p["containerPort"] for p in c.get("ports", [])} for c in pod["spec"]["containers"]}
    server_port = next(iter(ports["model"].values()))
    proxy_port = ports[proxy.CONTAINER]["http"]
    direct, proxied = [], []
    for _ in range(5):
        for port, into in ((server_port, direct), (proxy_port, proxied)):
            into += run_load(node, {"mode": "sequential", "url": f"http://{ip}:{port}/predict?sleep_ms=0",
                                    "max_requests": n // 5, "seconds": 60, "timeout": 10})
    d = [r[1] for r in direct if r[2] == 200]
    p = [r[1] for r in proxied if r[2] == 200]
    out = {"pod": pod["metadata"]["name"], "requests_each": n, "direct_p50_ms": pct(d, 50), "direct_p99_ms": pct(d, 99),
           "proxy_p50_ms": pct(p, 50), "proxy_p99_ms": pct(p, 99),
           "failed": len(direct) - len(d) + len(proxied) - len(p)}
    if d and p:
        out["added_p50_ms"] = round(out["proxy_p50_ms"] - out["direct_p50_ms"], 2)
        out["added_p99_ms"] = round(out["proxy_p99_ms"] - out["direct_p99_ms"], 2)
    return out


def fetch(node, url: str, timeout: float = 10) -> tuple[int, str]:
    """One GET from inside the node's network namespace: (status, body)."""
    code = ("import sys, urllib.request, urllib.error\n"
            "try:\n r = urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])); print(r.status); print(r.read().decode())\n"
            "except urllib.error.HTTPError as e:\n print(e.code); print(e.read().decode())\n")
    p = subprocess.run(node.net_ns([sys.executable, "-c", code, url, str(timeout)]), capture_output=True, text=True,
                       timeout=timeout + 10)
    if p.returncode != 0:
        raise RuntimeError(f"GET {url}: {p.stderr.strip()[-300:]}")
    status, _, body = p.stdout.partition("\n")
    return int(status), body


def dns(kube, node, ns: str) -> dict:
    """Cluster DNS as a pod sees it: a serve-rollout pod's own resolver (the kubelet's resolv.conf, CoreDNS on the
    node) asked for serve-limits by its short name (the namespace's search path) and by its full name."""
    pod = next(p for p in model_pods(kube, ns, ROLLOUT) if pod_ready(p))
    port = next(iter({p.get("name"): p["containerPort"] for c in pod["spec"]["containers"] if c["name"] == "model"
                      for p in c.get("ports", [])}.values()))
    want = kube.get(f"/api/v1/namespaces/{ns}/services/{LIMITS}")["spec"]["clusterIP"]
    out = {"pod": pod["metadata"]["name"], "cluster_ip": want, "answers": {}}
    for name in (LIMITS, f"{LIMITS}.{ns}.svc.{DNS_DOMAIN}"):
        status, body = fetch(node, f"http://{pod['status']['podIP']}:{port}/resolve?name={name}")
        out["answers"][name] = json.loads(body)["addresses"] if status == 200 else f"{status}: {body.strip()[:200]}"
    out["ok"] = all(a == [want] for a in out["answers"].values())
    return out


def ran(f: list[str], s: dict, key: str) -> dict:
    """Scenario `key`'s figures; empty, with the reason added to `f`, when it did not run or failed."""
    d = s.get(key)
    if not d:
        f.append(f"serving {key} not run")
        return {}
    if d.get("error"):
        f.append(f"serving {key}: {d['error'][:200]}")
        return {}
    return d


def row(rows: list[tuple[str, str]], s: dict, key: str, describe: Callable[[dict], str]) -> None:
    """Scenario `key`'s report row, "serving <key>": its error, or what `describe` makes of its figures; no row
    when it did not run."""
    d = s.get(key) or {}
    if d:
        rows.append((f"serving {key}", f"error: {d['error'][:120]}" if "error" in d else describe(d)))


def checks(s: dict) -> list[str]:
    """Which serving figures do not hold (report.Report.check calls this)."""
    f: list[str] = []
    if r := ran(f, s, "rollout"):
        if not r["rolled_out"]:
            f.append("serving rollout: v2 did not replace every pod")
        elif r["failed"]:
            f.append(f"serving rollout: {r['failed']} of {r['requests']} requests failed {r['failures_by_kind']}")
        elif not r["requests"] or set(r["answers_by_version"]) != {"v1", "v2"}:
            f.append(f"serving rollout: load did not span the rollout {r['answers_by_version']}")
    if lm := ran(f, s, "limits"):
        if not lm["shed_503"]:
            f.append("serving limits: nothing shed with 503")
        if lm["other_errors"]:
            f.append(f"serving limits: {lm['other_errors']} errors other than 503")
        if lm["accepted"] > LIMITS_CONCURRENCY + LIMITS_QUEUE:
            f.append(f"serving limits: {lm['accepted']} accepted > max_concurrency + max_queue_length")
        if lm["shed_p99_ms"] is not None and lm["shed_p99_ms"] > SHED_FAST_MS:
            f.append(f"serving limits: shedding took {lm['shed_p99_ms']} ms (p99) > {SHED_FAST_MS}")
    lg = (s.get("node") or {}).get("log_lines")
    if lg is not None and not (lg["containerd_container_starts"] and lg["containerd_container_stops"]
                               and lg["server_ready_lines"] and lg["server_exit_lines"]):
        f.append(f"serving: the node's logs lack container starts or exits {lg}")
    dn = s.get("dns")
    if not dn:
        f.append("serving dns not run")
    elif dn.get("error") or not dn.get("ok"):
        f.append(f"serving dns: a pod did not resolve a Service to its ClusterIP: {dn.get('error') or dn['answers']}")
    if (o := ran(f, s, "overhead")) and (o["failed"] or o.get("added_p50_ms") is None):
        f.append(f"serving overhead: {o['failed']} requests failed")
    return f


def node_log_counts(logs: Path) -> dict:
    """Evidence in the node's own logs that the pods really ran: containerd's image pulls, container starts and
    stops, and our server's "ready" and "exiting" lines in the containers' logs."""
    c = (logs / "containerd.log").read_text(errors="replace") if (logs / "containerd.log").exists() else ""
    pods = [f.read_text(errors="replace") for f in (logs / "pods").rglob("*.log")] if (logs / "pods").exists() else []
    lines = c.splitlines()
    return {"containerd_container_starts": sum("StartContainer for" in ln and "returns successfully" in ln
                                               for ln in lines),
            "containerd_container_stops": sum("StopContainer for" in ln and "returns successfully" in ln
                                              for ln in lines),
            "containerd_image_pulls": sum("PullImage" in ln and "returns image reference" in ln for ln in lines),
            "server_ready_lines": sum(p.count(" ready on :") for p in pods),
            "server_exit_lines": sum(p.count(" exiting after ") for p in pods)}
