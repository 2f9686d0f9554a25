"""The real KEDA and HTTP add-on on the real node, and the serving scenarios that need them.

- `deploy`: the add-ons' images (their static binaries from e2e/build.sh, as local images imported into the node's
  containerd under the names the charts pull; pods never pull them), then their upstream manifests rendered by
  addons.py with the values PlatformAddons gives the charts, applied to the API server; waits until every add-on
  pod is Ready and the external metrics API (KEDA's metrics API server, through the API server's aggregation
  layer) answers. The `kubernetes` Service is routed to the node's API relay first, so in-cluster clients reach
  the API server with their own ServiceAccount tokens and the CA the controller-manager publishes.
- `scale_from_zero` (`serve-zero`): a model at zero replicas whose server starts in STARTUP_SECONDS; requests go
  through the interceptor (its proxy Service, as the Ingress sends them) while KEDA scales it 0 -> 1: when the first
  answer came, how many requests were held and answered, how many failed; then light traffic (one quick request
  every 5 s) for longer than the cooldown, during which it must not drop to zero; then, idle, back to 0.
- `autoscale` (`serve-scale`): load above its in-flight target through the interceptor: replicas before and after,
  seconds until the HPA KEDA made had scaled it, the HPA's own metric and desired count.
- `interceptor_overhead` (`serve-scale`): light load (one request at a time, no server latency) to the model's
  Service and through the interceptor (which forwards to that Service), alternating in blocks: what it adds.
- `queue_scale` (`serve-queue`): workers scaled by KEDA's own aws-sqs-queue scaler on a queue of the run's moto
  (`QueueBackend`: moto on the driver's loopback, reached by KEDA's operator pod through a relay in the node's
  namespace; the ScaledObject is the one ModelAPI renders for signal `queue`, with `queue_scaling.endpoint` set to
  that relay and a TriggerAuthentication of static test keys instead of Pod Identity): from 0, messages in, the
  replicas KEDA's formula gives (render/autoscaling.queue_replicas) reached, capped at max; queue purged, back to 0.

Traffic goes only to the run's pods and Services (load.py, in the node's network namespace), bounded in count and
time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import boto3
import botocore.exceptions

import addons
import images
import netns
import queues
import serving
import upstream
from modelstack import program
from modelstack.render import addon_values, autoscaling

ZERO, SCALE = "serve-zero", "serve-scale"
STARTUP_SECONDS = 30
"""The scale-from-zero model's start-up: its server listens only after this (issue 22: at least 30 s)."""
ZERO_COOLDOWN = "30s"
SCALE_LATENCY_MS = 2000
SCALE_TARGET_IN_FLIGHT, SCALE_MAX = 1, 3
SCALE_RATE = 3
"""Requests per second at serve-scale: with 2 s answers about 6 in flight, six times its target of 1 per replica."""
QUEUE = "serve-queue"
QUEUE_LENGTH, QUEUE_MAX, QUEUE_COOLDOWN_SECONDS = 2, 4, 30
"""Messages per worker KEDA aims at, the workers' max, their cooldown (KEDA's cooldownPeriod) back to zero."""
QUEUE_STEPS = (5, 6)
"""Messages sent in turn: 5 -> ceil(5 / 2) = 3 workers, then 11 -> 6, capped at 4."""
QUEUE_AUTH = "e2e-sqs"
INTERCEPTOR_PROXY = "keda-add-ons-http-interceptor-proxy"
UID = "65532:65532"
"""The user the upstream images run as (distroless `nonroot` for KEDA, ko's default for the HTTP add-on)."""


# --- images and deployment ---------------------------------------------------------------------------------------

def addon_images(keda_bin: Path, http_bin: Path, refs: dict[str, str]) -> list[images.Image]:
    """One image per add-on Deployment, named as the chart names it: the binary where upstream's image has it (KEDA's
    Dockerfiles: `/keda`, `/keda-adapter`; the HTTP add-on's ko build: `/ko-app/<cmd>`), its entrypoint, user."""
    layout = {"keda-operator": (keda_bin / "keda", "/keda"),
              "keda-metrics-apiserver": (keda_bin / "keda-adapter", "/keda-adapter"),
              "keda-add-ons-http-interceptor": (http_bin / "interceptor", "/ko-app/interceptor"),
              "keda-add-ons-http-operator": (http_bin / "operator", "/ko-app/operator"),
              "keda-add-ons-http-scaler": (http_bin / "scaler", "/ko-app/scaler")}
    out = []
    for dep, (src, path) in layout.items():
        img = images.Image(refs[dep], entrypoint=[path], user=UID)
        img.add_file(path, src)
        out.append(img)
    return out


#: Kind -> (API prefix, plural, namespaced) for the kinds the rendered trees hold.
API = {"Namespace": ("/api/v1", "namespaces", False), "ServiceAccount": ("/api/v1", "serviceaccounts", True),
       "Service": ("/api/v1", "services", True), "Deployment": ("/apis/apps/v1", "deployments", True),
       "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
       "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
       "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
       "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
       "CustomResourceDefinition": ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", False),
       "APIService": ("/apis/apiregistration.k8s.io/v1", "apiservices", False),
       "ScaledObject": ("/apis/keda.sh/v1alpha1", "scaledobjects", True),
       "EndpointSlice": ("/apis/discovery.k8s.io/v1", "endpointslices", True)}


def collection(o: dict) -> str:
    prefix, plural, namespaced = API[o["kind"]]
    return f"{prefix}/namespaces/{o['metadata']['namespace']}/{plural}" if namespaced else f"{prefix}/{plural}"


def apply(kube, o: dict) -> None:
    """Create, or replace what is there (the driver installed the unpatched CRDs before; upstream's tree wins)."""
    try:
        kube.create(collection(o), o)
    except Exception as e:  # noqa: BLE001 - ApiError 409: replace it with the resourceVersion it has
        if getattr(e, "status", None) != 409:
            raise
        path = f"{collection(o)}/{o['metadata']['name']}"
        cur = kube.get(path)
        o = {**o, "metadata": {**o["metadata"], "resourceVersion": cur["metadata"]["resourceVersion"]}}
        status, text = kube._req("PUT", path, o)
        if status >= 400:
            raise RuntimeError(f"PUT {path}: {status} {text[:300]}")


def route_kubernetes_service(kube, node) -> None:
    """The `kubernetes` Service's endpoint: the node's relay to the API server (the API server runs with
    `--endpoint-reconciler-type=none`, since its own address is the host's loopback, which pods cannot reach)."""
    apply(kube, {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                 "metadata": {"name": "kubernetes", "namespace": "default",
                              "labels": {"kubernetes.io/service-name": "kubernetes",
                                         "endpointslice.kubernetes.io/managed-by": "e2e.modelstack"}},
                 "addressType": "IPv4",
                 "endpoints": [{"addresses": [node.node_ip], "conditions": {"ready": True}}],
                 "ports": [{"name": "https", "port": int(node.api_address.rsplit(":", 1)[1]), "protocol": "TCP"}]})


def platform_values(platform, capacity) -> dict[str, dict]:
    """The keda and keda-add-ons-http values PlatformAddons would install for this platform (program.build's drain
    over every model's routes, its system pool)."""
    all_args = program.with_group_idle_timeout({n: program.model_args(platform, n, m, capacity)
                                                for n, m in platform.config.models.items()})
    pool = next(g.pool for g in capacity.groups if g.kind == "system")
    return addon_values.keda_charts(pool, program.interceptor_drain(program.resolved(all_args)).drain_seconds)


def deploy(kube, node, tools_env: dict[str, str], platform, capacity, taint_key: str, wait_until) -> dict:
    """Images in, manifests applied, every add-on pod Ready and the external metrics API served; the figures."""
    t0 = time.time()
    kv, hv = upstream.version("keda"), upstream.version("keda-add-ons-http")
    refs = addons.images(kv, hv)
    digests = {}
    for img in addon_images(Path(tools_env["KEDA_BIN"]), Path(tools_env["HTTP_ADDON_BIN"]), refs):
        digests[img.ref] = node.store.add(img)
        node.import_image(node.store.oci_archive(img.ref, node.dir / f"{img.entrypoint[0].rsplit('/', 1)[1]}.tar"))
    images_s = round(time.time() - t0, 1)
    values = platform_values(platform, capacity)
    placement = {"nodeSelector": {"kubernetes.io/hostname": node.name},
                 "tolerations": [{"key": taint_key, "operator": "Equal", "value": "true", "effect": "NoSchedule"}]}
    objs = (addons.render_keda(upstream.module_tree("keda", "config"), values["keda"], refs, placement)
            + addons.render_http_add_on(upstream.module_tree("keda-add-ons-http", "config"), values["keda-add-ons-http"],
                                        refs, placement))
    route_kubernetes_service(kube, node)
    crds = [o for o in objs if o["kind"] == "CustomResourceDefinition"]
    for o in crds:
        apply(kube, o)
    wait_until(lambda: all(established(kube, o["metadata"]["name"]) for o in crds), 60)
    # As `kubectl apply` orders them: what the pods need (accounts, RBAC, Services) before the Deployments.
    order = ["Namespace", "ServiceAccount", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding", "Service"]
    for o in sorted((o for o in objs if o["kind"] != "CustomResourceDefinition"),
                    key=lambda o: order.index(o["kind"]) if o["kind"] in order else len(order)):
        apply(kube, o)
    deps = [o["metadata"]["name"] for o in objs if o["kind"] == "Deployment"]
    ready = wait_until(lambda: all(deployment_ready(kube, "keda", d) for d in deps), 300)
    api_ok = ready and wait_until(lambda: apiservice_available(kube, "v1beta1.external.metrics.k8s.io"), 180)
    return {"keda": kv, "http_add_on": hv, "images": digests, "images_seconds": images_s,
            "deployments": deps, "ready": bool(ready), "external_metrics_api": bool(api_ok),
            "seconds": round(time.time() - t0, 1),
            "interceptor_env": addons.env_of(objs, "keda-add-ons-http-interceptor"),
            "not_ready": [] if ready else [d for d in deps if not deployment_ready(kube, "keda", d)]}


def established(kube, name: str) -> bool:
    c = kube.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}") or {}
    return any(x["type"] == "Established" and x["status"] == "True" for x in c.get("status", {}).get("conditions", []))


def deployment_ready(kube, ns: str, name: str) -> bool:
    d = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}") or {}
    want = d.get("spec", {}).get("replicas", 1)
    return want > 0 and d.get("status", {}).get("readyReplicas", 0) >= want


def apiservice_available(kube, name: str) -> bool:
    a = kube.get(f"/apis/apiregistration.k8s.io/v1/apiservices/{name}") or {}
    return any(c["type"] == "Available" and c["status"] == "True" for c in a.get("status", {}).get("conditions", []))


# --- the queue ---------------------------------------------------------------------------------------------------

class QueueBackend:
    """moto's SQS on the driver's loopback (queues.start_moto), and a relay to it listening on the node's address
    inside its namespace, which the KEDA operator pod reaches; `stop()` ends both (the driver calls it at the end)."""

    def __init__(self, node, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.proc, local = queues.start_moto(work / "moto.log", {**os.environ, **queues.CREDENTIALS})
        try:
            self.relay = netns.Forwarder(netns.listen_in(node.holder.pid, node.node_ip, 0),
                                         ("127.0.0.1", int(local.rsplit(":", 1)[1])))
            self.endpoint = f"http://{node.node_ip}:{self.relay.sock.getsockname()[1]}"
            self.sqs = boto3.client("sqs", **queues.client_args(local))
            self.local_url = self.sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        except Exception:
            self.stop()
            raise
        # The URL KEDA is given: the relay's address, the queue's path (moto finds a queue by its URL's last part).
        self.queue_url = f"{self.endpoint}/{self.local_url.split('/', 3)[3]}"

    def send(self, n: int) -> None:
        for i in range(n):
            self.sqs.send_message(QueueUrl=self.local_url, MessageBody=f'{{"n": {i}}}')

    def depth(self) -> int:
        a = self.sqs.get_queue_attributes(QueueUrl=self.local_url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(a["Attributes"]["ApproximateNumberOfMessages"])

    def purge(self) -> None:
        self.sqs.purge_queue(QueueUrl=self.local_url)

    def auth(self, namespace: str) -> dict:
        """The stack's `queue_auth` config (e2e/stack): the TriggerAuthentication's name, namespace and test keys."""
        return {"name": QUEUE_AUTH, "namespace": namespace, "key_id": queues.CREDENTIALS["AWS_ACCESS_KEY_ID"],
                "secret_key": queues.CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}

    def stop(self) -> None:
        if getattr(self, "relay", None):
            self.relay.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired: make sure it ends
            self.proc.kill()
            self.proc.wait(timeout=10)


# --- models ------------------------------------------------------------------------------------------------------

def models(taint_key: str, queue: QueueBackend | None = None) -> dict:
    """The stack's `serving` entries for the scenarios (see serving.models for the format): prod's sentiment args
    with the in_flight signal, so each gets an InterceptorRoute and a ScaledObject pushed by the HTTP add-on; with a
    queue, the workers scaled on it (signal queue, from zero)."""
    image = f"{images.MODEL_SERVER}:v1"
    place = {**serving.placement(taint_key), "on_demand_base": 0}
    queued = {} if queue is None else {QUEUE: {
        "base": "sentiment", "image": image, "compute": serving.COMPUTE, "placement": place,
        "env": {"MODEL_STARTUP_SECONDS": "1", "MODEL_LATENCY_MS": "20"},
        "overrides": {"autoscaling": {"signal": "queue", "min_replicas": 0, "max_replicas": QUEUE_MAX,
                                      "scale_to_zero": True, "upscale_stabilization_seconds": 0,
                                      "max_upscale_factor": 4.0,
                                      "downscale_stabilization_seconds": QUEUE_COOLDOWN_SECONDS},
                      "queue_scaling": {"queue_url": queue.queue_url, "region": queues.REGION,
                                        "authentication": QUEUE_AUTH, "queue_length": QUEUE_LENGTH,
                                        "endpoint": queue.endpoint}}}}
    return {**queued,
        ZERO: {"base": "sentiment", "image": image, "compute": serving.COMPUTE, "placement": place,
               "env": {"MODEL_STARTUP_SECONDS": str(STARTUP_SECONDS), "MODEL_LATENCY_MS": "50"},
               "overrides": {"autoscaling": {"signal": "in_flight", "min_replicas": 0, "max_replicas": 1,
                                             "scale_to_zero": True, "target_in_flight": 1,
                                             "downscale_stabilization_seconds": int(ZERO_COOLDOWN[:-1])}}},
        SCALE: {"base": "sentiment", "image": image, "compute": serving.COMPUTE, "placement": place,
                "env": {"MODEL_STARTUP_SECONDS": "2", "MODEL_LATENCY_MS": str(SCALE_LATENCY_MS)},
                "overrides": {"autoscaling": {"signal": "in_flight", "min_replicas": 1, "max_replicas": SCALE_MAX,
                                              "target_in_flight": SCALE_TARGET_IN_FLIGHT,
                                              "upscale_stabilization_seconds": 0}}},
    }


def replicas(kube, ns: str, name: str) -> tuple[int, int]:
    d = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}") or {}
    return d.get("spec", {}).get("replicas", 0), d.get("status", {}).get("readyReplicas", 0) or 0


def interceptor_url(kube, path: str) -> str:
    svc = kube.get(f"/api/v1/namespaces/keda/services/{INTERCEPTOR_PROXY}")
    port = next(p["port"] for p in svc["spec"]["ports"] if p["name"] == "proxy")
    return f"http://{svc['spec']['clusterIP']}:{port}{path}"


def hpa_of(kube, ns: str, name: str) -> dict:
    """The HPA KEDA made for the model's ScaledObject (`keda-hpa-<name>`): its metric and counts."""
    h = kube.get(f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/keda-hpa-{name}") or {}
    st = h.get("status", {})
    metrics = [{"name": m.get("external", {}).get("metric", {}).get("name"),
                "value": m.get("external", {}).get("current", {}).get("averageValue")
                or m.get("external", {}).get("current", {}).get("value")} for m in st.get("currentMetrics") or []]
    return {"name": h.get("metadata", {}).get("name"), "current": st.get("currentReplicas"),
            "desired": st.get("desiredReplicas"), "metrics": metrics}


LIGHT_INTERVAL_SECONDS = 5
"""Light traffic after the cold start: one quick request every 5 s, so hardly ever one in flight when sampled."""


def scale_from_zero(kube, node, ns: str, wait_until) -> dict:
    """Requests through the interceptor at a model scaled to zero (1/s, through the cold start), then light traffic
    for longer than the cooldown (it must stay up: no drop to zero, no second cold start), then idle until it is
    back at zero."""
    ok_zero = wait_until(lambda: replicas(kube, ns, ZERO) == (0, 0), 180)
    if not ok_zero:
        raise RuntimeError(f"{ZERO} not at zero replicas before the scenario: {replicas(kube, ns, ZERO)}")
    url = interceptor_url(kube, f"/{ZERO}/predict")
    cold_n = STARTUP_SECONDS + 30
    load = serving.Load(node, {"mode": "steady", "url": url, "rate": 1, "concurrency": 60, "seconds": cold_n,
                               "max_requests": cold_n, "timeout": 300})
    t0 = time.time()
    ready_at: list[float] = []
    wait_until(lambda: replicas(kube, ns, ZERO)[1] >= 1 and not ready_at.append(time.time() - t0), 300)
    res = load.results(timeout=700)
    # Light traffic for the cooldown + the activity window + a margin: watch for drops to zero meanwhile.
    light_s = int(ZERO_COOLDOWN[:-1]) + autoscaling.ACTIVITY_WINDOW_SECONDS + 20
    light = serving.Load(node, {"mode": "steady", "url": url, "rate": 1 / LIGHT_INTERVAL_SECONDS, "concurrency": 4,
                                "seconds": light_s, "max_requests": light_s // LIGHT_INTERVAL_SECONDS + 1,
                                "timeout": 300})
    drops, was_up, end = 0, True, time.time() + light_s
    while time.time() < end:
        up = replicas(kube, ns, ZERO)[0] > 0
        drops += was_up and not up
        was_up = up
        time.sleep(1)
    light_res = light.results(timeout=light_s + 400)
    last = time.time()
    failed = [r for r in res + light_res if r[2] != 200]
    kinds: dict[str, int] = {}
    for r in failed:
        kinds[str(r[2])] = kinds.get(str(r[2]), 0) + 1
    first = min(res, key=lambda r: r[0]) if res else None
    ready_s = round(ready_at[0], 1) if ready_at else None
    # Held: sent before the first replica was Ready (the interceptor held them); answered or not.
    held = [r for r in res if ready_s is not None and r[0] < ready_s]
    back = wait_until(lambda: replicas(kube, ns, ZERO) == (0, 0),
                      int(ZERO_COOLDOWN[:-1]) + autoscaling.ACTIVITY_WINDOW_SECONDS + 180)
    return {"model": ZERO, "startup_seconds": STARTUP_SECONDS, "requests": len(res) + len(light_res),
            "failed": len(failed), "failures_by_kind": kinds,
            "first_request_seconds": round(first[1] / 1000, 1) if first and first[2] == 200 else None,
            "first_replica_ready_seconds": ready_s, "held": len(held),
            "held_answered": sum(1 for r in held if r[2] == 200),
            "light_traffic": {"seconds": light_s, "interval_seconds": LIGHT_INTERVAL_SECONDS, "requests": len(light_res),
                              "drops_to_zero": drops,
                              "cold_starts": sum(1 for r in light_res if r[1] > STARTUP_SECONDS * 500),
                              "max_ms": max((r[1] for r in light_res), default=None)},
            "cooldown": ZERO_COOLDOWN, "activity_window_seconds": autoscaling.ACTIVITY_WINDOW_SECONDS,
            "back_to_zero": bool(back), "back_to_zero_seconds": round(time.time() - last, 1) if back else None}


def autoscale(kube, node, ns: str, wait_until) -> dict:
    """Load above the in-flight target through the interceptor until the HPA KEDA made scales the model up."""
    wait_until(lambda: replicas(kube, ns, SCALE)[1] >= 1, 180)
    before = replicas(kube, ns, SCALE)[0]
    stop = node.dir / "autoscale.stop"
    stop.unlink(missing_ok=True)
    load = serving.Load(node, {"mode": "steady", "url": interceptor_url(kube, f"/{SCALE}/predict"), "rate": SCALE_RATE,
                               "concurrency": 40, "seconds": 300, "max_requests": 900, "timeout": 120,
                               "stop_file": str(stop)})
    t0 = time.time()
    scaled = wait_until(lambda: replicas(kube, ns, SCALE)[1] >= SCALE_MAX, 240)
    seconds = round(time.time() - t0, 1)
    hpa = hpa_of(kube, ns, SCALE)
    stop.write_text("")
    res = load.results()
    after = replicas(kube, ns, SCALE)
    return {"model": SCALE, "target_in_flight": SCALE_TARGET_IN_FLIGHT, "rate_per_second": SCALE_RATE,
            "server_latency_ms": SCALE_LATENCY_MS, "replicas_before": before, "replicas_after": after[0],
            "ready_after": after[1], "max_replicas": SCALE_MAX, "scaled": bool(scaled),
            "seconds_to_scale": seconds if scaled else None, "hpa": hpa, **serving.summary(res)}


def interceptor_overhead(kube, node, ns: str, n: int = 300) -> dict:
    """The interceptor's added latency at light load: the same path to serve-scale's Service and through the
    interceptor, `n` sequential requests each with the server's latency set to 0, in five alternating blocks."""
    svc = kube.get(f"/api/v1/namespaces/{ns}/services/{SCALE}")
    path = f"/{SCALE}/predict?sleep_ms=0"
    port = next(p["port"] for p in svc["spec"]["ports"] if p["name"] == "http")
    urls = {"service": f"http://{svc['spec']['clusterIP']}:{port}{path}",
            "interceptor": interceptor_url(kube, path)}
    got: dict[str, list] = {k: [] for k in urls}
    for _ in range(5):
        for k, url in urls.items():
            got[k] += serving.run_load(node, {"mode": "sequential", "url": url, "max_requests": n // 5, "seconds": 60,
                                              "timeout": 10})
    ok = {k: [r[1] for r in v if r[2] == 200] for k, v in got.items()}
    out: dict = {"model": SCALE, "requests_each": n, "failed": sum(len(got[k]) - len(ok[k]) for k in got)}
    for k, v in ok.items():
        out[f"{k}_p50_ms"], out[f"{k}_p99_ms"] = serving.pct(v, 50), serving.pct(v, 99)
    if ok["service"] and ok["interceptor"]:
        for q in ("p50", "p99"):
            out[f"added_{q}_ms"] = round(out[f"interceptor_{q}_ms"] - out[f"service_{q}_ms"], 2)
    return out


def queue_scale(kube, q: QueueBackend, ns: str, wait_until) -> dict:
    """Messages in, in QUEUE_STEPS, with no consumer (they stay visible): after each, the worker count KEDA's
    formula gives for the depth must be reached; then the queue is purged and the workers must go back to 0."""
    try:
        return _queue_scale(kube, q, ns, wait_until)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        raise RuntimeError(f"SQS (moto): {type(e).__name__}: {e}") from e


def _queue_scale(kube, q: QueueBackend, ns: str, wait_until) -> dict:
    if not wait_until(lambda: replicas(kube, ns, QUEUE) == (0, 0), 180):
        raise RuntimeError(f"{QUEUE} not at zero replicas before the scenario: {replicas(kube, ns, QUEUE)}")
    target = autoscaling.QueueTarget(queue_url=q.queue_url, region=queues.REGION, authentication=QUEUE_AUTH,
                                     queue_length=QUEUE_LENGTH)
    knobs = autoscaling.Knobs(min_replicas=0, max_replicas=QUEUE_MAX, scale_to_zero=True,
                              signal=autoscaling.QUEUE_SIGNAL)
    steps = []
    for n in QUEUE_STEPS:
        q.send(n)
        depth = q.depth()
        want = autoscaling.queue_replicas(depth, target, knobs, replicas(kube, ns, QUEUE)[0])
        t0 = time.time()
        reached = wait_until(lambda: replicas(kube, ns, QUEUE)[0] == want, 240)
        steps.append({"depth": depth, "expected": want, "replicas": replicas(kube, ns, QUEUE)[0],
                      "reached": bool(reached), "seconds": round(time.time() - t0, 1), "hpa": hpa_of(kube, ns, QUEUE)})
    q.purge()
    t0 = time.time()
    back = wait_until(lambda: replicas(kube, ns, QUEUE)[0] == 0, QUEUE_COOLDOWN_SECONDS + 240)
    return {"model": QUEUE, "queue_length": QUEUE_LENGTH, "max_replicas": QUEUE_MAX, "endpoint": q.endpoint,
            "steps": steps, "back_to_zero": bool(back),
            "back_to_zero_seconds": round(time.time() - t0, 1) if back else None,
            "cooldown_seconds": QUEUE_COOLDOWN_SECONDS}


def checks(s: dict) -> list[str]:
    """Which of these figures do not hold (report.Report.check calls this)."""
    f = []
    a = s.get("addons")
    if not a:
        return ["real KEDA / HTTP add-on not deployed"]
    if a.get("error") or not a.get("ready") or not a.get("external_metrics_api"):
        f.append(f"real KEDA / HTTP add-on not up: {a.get('error') or a.get('not_ready') or 'external metrics API'}")
    if z := serving.ran(f, s, "scale_from_zero"):
        if z["failed"]:
            f.append(f"serving scale_from_zero: {z['failed']} of {z['requests']} failed {z['failures_by_kind']}")
        if not z["held"] or z["first_replica_ready_seconds"] is None or z["first_replica_ready_seconds"] < STARTUP_SECONDS:
            f.append(f"serving scale_from_zero: no request held through a {STARTUP_SECONDS} s start-up")
        lt = z.get("light_traffic") or {}
        if lt.get("drops_to_zero") or lt.get("cold_starts"):
            f.append(f"serving scale_from_zero: light traffic (1 request / {lt['interval_seconds']} s) still dropped to "
                     f"zero {lt['drops_to_zero']} times ({lt['cold_starts']} cold starts)")
        if not z["back_to_zero"]:
            f.append(f"serving scale_from_zero: not back to 0 after the {z['cooldown']} cooldown")
    if au := serving.ran(f, s, "autoscale"):
        if not au["scaled"] or au["replicas_after"] <= au["replicas_before"]:
            f.append(f"serving autoscale: replicas {au['replicas_before']} -> {au['replicas_after']} (max {au['max_replicas']})")
        if au["failed"]:
            f.append(f"serving autoscale: {au['failed']} of {au['requests']} requests failed {au['failures_by_kind']}")
    if (io := serving.ran(f, s, "interceptor_overhead")) and (io["failed"] or io.get("added_p50_ms") is None):
        f.append(f"serving interceptor_overhead: {io['failed']} of {2 * io['requests_each']} requests failed")
    if qs := serving.ran(f, s, "queue_scale"):
        for st in qs["steps"]:
            if not st["reached"]:
                f.append(f"serving queue_scale: depth {st['depth']} -> {st['replicas']} workers, KEDA's formula gives "
                         f"{st['expected']}")
        if not qs["back_to_zero"]:
            f.append(f"serving queue_scale: not back to 0 after the queue was purged ({qs['cooldown_seconds']} s cooldown)")
    return f


def rows(s: dict) -> list[tuple[str, str]]:
    """Report table rows."""
    out = []
    a = s.get("addons") or {}
    if a:
        out.append(("real KEDA / HTTP add-on", f"error: {a['error'][:120]}" if "error" in a else
                    f"KEDA {a['keda']}, HTTP add-on {a['http_add_on']}: {len(a['deployments'])} Deployments "
                    f"{'Ready' if a['ready'] else 'NOT ready'}, external metrics API "
                    f"{'served' if a['external_metrics_api'] else 'NOT served'} ({a['seconds']} s)"))
    serving.row(out, s, "scale_from_zero", lambda z: (
        f"{STARTUP_SECONDS} s start-up: first answer {z['first_request_seconds']} s, {z['held']} held "
        f"({z['held_answered']} answered), {z['failed']} of {z['requests']} failed; light traffic "
        f"{(z.get('light_traffic') or {}).get('drops_to_zero')} drops to 0; back to 0: "
        f"{z['back_to_zero_seconds']} s after the last request (window "
        f"{z.get('activity_window_seconds')} s + cooldown {z['cooldown']})"))
    serving.row(out, s, "autoscale", lambda au: (
        f"replicas {au['replicas_before']} -> {au['replicas_after']} in {au['seconds_to_scale']} s "
        f"(HPA {au['hpa'].get('name')}: {au['hpa'].get('metrics')}), {au['failed']} of {au['requests']} failed"))
    serving.row(out, s, "interceptor_overhead", lambda io: (
        f"interceptor adds p50 {io.get('added_p50_ms')} ms, p99 {io.get('added_p99_ms')} ms (Service "
        f"{io['service_p50_ms']} / {io['service_p99_ms']} ms, through the interceptor "
        f"{io['interceptor_p50_ms']} / {io['interceptor_p99_ms']} ms; {io['requests_each']} requests each)"))
    serving.row(out, s, "queue_scale", lambda qs: "KEDA aws-sqs-queue on moto: " + ", ".join(
        f"depth {st['depth']} -> {st['replicas']} workers (formula {st['expected']}) in {st['seconds']} s"
        for st in qs["steps"]) + f"; purged -> 0 in {qs['back_to_zero_seconds']} s")
    return out
