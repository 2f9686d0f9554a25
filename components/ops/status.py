"""`modelstack get`: what runs, whether it is healthy, what it costs now (Cortex's `cortex get`).

Sources, and nothing else (a figure without a source is shown as unavailable, never estimated):
- the stack's outputs (ops/outputs.py): models, endpoints, namespaces, where Prometheus is, the region;
- the cluster's API: the model's Deployments (label `modelstack.io/model`), its KEDA ScaledObject and the HPA KEDA
  makes for it (`status.hpaName`, else `keda-hpa-<name>`), pods, nodes, events;
- Prometheus (render/metrics.py's queries over 5 minutes): request rate, 4xx/5xx/503-refused rates, latency
  (HAProxy averages and maxima: its exporter has no histogram), in flight, queued;
- the load balancer (ops/alb.py): p50/p99 of the ALB's TargetResponseTime for the model's target group;
- the price table (capacity/pricing.py) for the nodes the model's pods run on: each pod costs its node's price times
  its share of the node (the largest of its CPU, memory and GPU requests over the node's allocatable).

The pure part (`model_status`, `rollout`, `scaling`, `cost`, `render_*`) takes the API's JSON; `gather` reads it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from kubernetes.utils import parse_quantity

from modelstack.capacity import pricing
from modelstack.ops.kube import Kube, KubeError
from modelstack.ops.prom import Prometheus, PrometheusUnavailable
from modelstack.render import labels
from modelstack.render.metrics import ModelQueries

CAPACITY_LABELS = (labels.CAPACITY_TYPE_LABEL, "karpenter.sh/capacity-type")
EVENTS_SHOWN = 15
PENDING_HOST = "pending-load-balancer.invalid"
"""The host ModelAPI's `endpoint` carries until the Ingress has a load balancer address (serving/model_api.py)."""


# ------------------------------------------------------------------------------------------------ pure parts


def _q(v: Any) -> float:
    try:
        return float(parse_quantity(v)) if v is not None else 0.0
    except (ValueError, TypeError):
        return 0.0


def pod_requests(pod: Mapping[str, Any]) -> dict[str, float]:
    """cpu (cores), memory (bytes), gpu of a pod: its containers' requests (init containers run before, not beside)."""
    out = {"cpu": 0.0, "memory": 0.0, "gpu": 0.0}
    for c in (pod.get("spec") or {}).get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        out["cpu"] += _q(req.get("cpu"))
        out["memory"] += _q(req.get("memory"))
        out["gpu"] += _q(req.get(labels.GPU_RESOURCE))
    return out


def node_capacity_type(node: Mapping[str, Any]) -> Optional[str]:
    """ON_DEMAND or SPOT from the EKS label (managed node groups, our NodePools) or Karpenter's own."""
    lbl = (node.get("metadata") or {}).get("labels") or {}
    for k in CAPACITY_LABELS:
        v = lbl.get(k)
        if v:
            kind: str = {"on-demand": "ON_DEMAND", "spot": "SPOT"}.get(v, v.upper())
            return kind
    return None


def node_price(node: Mapping[str, Any], book: pricing.PriceBook) -> tuple[Optional[float], str]:
    """(USD per hour, where it comes from) of a node, from its instance type and capacity type."""
    lbl = (node.get("metadata") or {}).get("labels") or {}
    itype = lbl.get(labels.INSTANCE_TYPE_LABEL)
    cap = node_capacity_type(node)
    it = pricing.catalog().get(itype or "")
    if it is None:
        return None, f"instance type {itype!r} not in the price table" if itype else "no instance-type label"
    if cap == "SPOT":
        usd = book.spot(it)
        return usd, "expected spot price (price table)" if usd is not None else "no spot data for this type"
    usd = book.on_demand(it)
    return usd, "on-demand price (price table)" if cap == "ON_DEMAND" else "on-demand price (capacity type unknown)"


def pod_share(pod: Mapping[str, Any], node: Mapping[str, Any]) -> float:
    """The pod's share of its node: the largest of its requests over the node's allocatable (dominant resource)."""
    alloc = (node.get("status") or {}).get("allocatable") or {}
    req = pod_requests(pod)
    shares = []
    for key, name in (("cpu", "cpu"), ("memory", "memory"), ("gpu", labels.GPU_RESOURCE)):
        total = _q(alloc.get(name))
        if total > 0 and req[key] > 0:
            shares.append(req[key] / total)
    return min(1.0, max(shares, default=0.0))


def cost(pods: Iterable[Mapping[str, Any]], nodes: Mapping[str, Mapping[str, Any]], book: pricing.PriceBook) -> dict[str, Any]:
    """The model's cost per hour now: each scheduled pod's share of its node's price."""
    total, unpriced = 0.0, []
    counted = 0
    for pod in pods:
        node_name = (pod.get("spec") or {}).get("nodeName")
        node = nodes.get(node_name or "")
        if node is None:
            continue  # pending: costs nothing yet
        usd, why = node_price(node, book)
        if usd is None:
            unpriced.append(f"{node_name}: {why}")
            continue
        total += usd * pod_share(pod, node)
        counted += 1
    out: dict[str, Any] = {"usd_per_hour": round(total, 4), "pods_priced": counted,
                           "basis": "each pod's share of its node (largest of cpu, memory, gpu requests / allocatable) "
                                    "x the node's price-table price"}
    if unpriced:
        out["unpriced"] = unpriced
    if book.is_fallback:
        out["note"] = f"us-east-1 prices used for {book.region}"
    return out


def _condition(obj: Mapping[str, Any], kind: str) -> Optional[Mapping[str, Any]]:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def rollout(d: Mapping[str, Any]) -> dict[str, Any]:
    """The last rollout's state of one Deployment: complete, in progress, failed, or pending (not yet observed)."""
    md, spec, st = d.get("metadata") or {}, d.get("spec") or {}, d.get("status") or {}
    desired = spec.get("replicas", 1)
    updated, ready, total = st.get("updatedReplicas", 0), st.get("readyReplicas", 0), st.get("replicas", 0)
    prog = _condition(d, "Progressing") or {}
    base = {"deployment": md.get("name"), "revision": (md.get("annotations") or {}).get("deployment.kubernetes.io/revision")}
    if md.get("generation", 0) > st.get("observedGeneration", 0):
        return {**base, "state": "pending", "detail": f"generation {md.get('generation')} not yet observed by the controller"}
    if prog.get("reason") == "ProgressDeadlineExceeded":
        return {**base, "state": "failed", "detail": prog.get("message", "progress deadline exceeded")}
    if updated < desired or ready < desired or total > updated:
        return {**base, "state": "in progress", "detail": f"{updated} of {desired} updated, {ready} ready, {total - updated} old"}
    return {**base, "state": "complete", "detail": prog.get("message") or f"{desired} of {desired} updated and ready"}


_ORDER = {"failed": 0, "pending": 1, "in progress": 2, "complete": 3}


def replicas(deployments: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    ds = list(deployments)
    return {"ready": sum((d.get("status") or {}).get("readyReplicas", 0) for d in ds),
            "desired": sum((d.get("spec") or {}).get("replicas", 1) for d in ds),
            "up_to_date": sum((d.get("status") or {}).get("updatedReplicas", 0) for d in ds)}


def _metric_value(m: Mapping[str, Any]) -> tuple[str, Optional[float], str]:
    kind = m.get("type", "")
    body = m.get(kind[:1].lower() + kind[1:], {}) if kind else {}
    name = (body.get("metric") or {}).get("name") or body.get("name") or kind
    cur = body.get("current") or {}
    if "averageUtilization" in cur:
        return name, float(cur["averageUtilization"]), "% utilization"
    for k in ("averageValue", "value"):
        if k in cur:
            return name, _q(cur[k]), "average per replica" if k == "averageValue" else "value"
    return name, None, ""


def scaling(so: Optional[Mapping[str, Any]], hpa: Optional[Mapping[str, Any]], floor: int, current: int) -> dict[str, Any]:
    """Current, min and max replicas (the ScaledObject's bounds plus the on-demand floor) and the signal's value."""
    if so is None:
        return {"current": current, "min": None, "max": None, "signal": None,
                "note": "no ScaledObject found (KEDA CRD missing or the model not deployed by modelstack)"}
    spec = so.get("spec") or {}
    trig = (spec.get("triggers") or [{}])[0]
    out: dict[str, Any] = {"current": current, "min": spec.get("minReplicaCount", 0) + floor,
                           "max": spec.get("maxReplicaCount", 100) + floor, "on_demand_floor": floor,
                           "trigger": trig.get("type"), "signal": None}
    ready = _condition(so, "Ready") or {}
    if ready:
        out["scaled_object_ready"] = ready.get("status") == "True"
    if hpa is None:
        out["note"] = "no HPA: KEDA has not created one for this ScaledObject (is KEDA running?)"
        return out
    cm = (hpa.get("status") or {}).get("currentMetrics") or []
    values = [_metric_value(m) for m in cm]
    targets = [_metric_target(m) for m in (hpa.get("spec") or {}).get("metrics") or []]
    out["signal"] = [{"metric": n, "value": v, "unit": u, "target": t} for (n, v, u), t in
                     zip(values, targets + [None] * (len(values) - len(targets)))] or None
    out["hpa_desired"] = (hpa.get("status") or {}).get("desiredReplicas")
    if out["signal"] is None:
        out["note"] = "the HPA reports no current metric yet"
    return out


def _metric_target(m: Mapping[str, Any]) -> Optional[float]:
    kind = m.get("type", "")
    body = m.get(kind[:1].lower() + kind[1:], {}) if kind else {}
    t = body.get("target") or {}
    if "averageUtilization" in t:
        return float(t["averageUtilization"])
    for k in ("averageValue", "value"):
        if k in t:
            return _q(t[k])
    return None


def image(deployments: Sequence[Mapping[str, Any]], main: str) -> Optional[str]:
    for d in sorted(deployments, key=lambda d: (d["metadata"]["name"] != main)):
        for c in ((d.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []:
            if c.get("name") == "model":
                ref: Optional[str] = c.get("image")
                return ref
    return None


def _age(ts: Optional[str], now: dt.datetime) -> Optional[str]:
    if not ts:
        return None
    try:
        t = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    s = int((now - t).total_seconds())
    return f"{s}s" if s < 120 else f"{s // 60}m" if s < 7200 else f"{s // 3600}h" if s < 172800 else f"{s // 86400}d"


def pod_rows(pods: Iterable[Mapping[str, Any]], now: dt.datetime) -> list[dict[str, Any]]:
    rows = []
    for p in sorted(pods, key=lambda p: p["metadata"]["name"]):
        st = p.get("status") or {}
        cs = st.get("containerStatuses") or []
        waiting = [c["state"]["waiting"].get("reason") for c in cs if (c.get("state") or {}).get("waiting")]
        rows.append({"name": p["metadata"]["name"], "phase": st.get("phase"),
                     "ready": f"{sum(1 for c in cs if c.get('ready'))}/{len((p.get('spec') or {}).get('containers') or [])}",
                     "restarts": sum(c.get("restartCount", 0) for c in cs), "node": (p.get("spec") or {}).get("nodeName"),
                     "capacity": ((p.get("metadata") or {}).get("labels") or {}).get(labels.CAPACITY_LABEL),
                     "age": _age(st.get("startTime") or p["metadata"].get("creationTimestamp"), now),
                     **({"waiting": ", ".join(w for w in waiting if w)} if waiting else {}),
                     **({"terminating": True} if p["metadata"].get("deletionTimestamp") else {})})
    return rows


def node_rows(names: Iterable[str], nodes: Mapping[str, Mapping[str, Any]], book: pricing.PriceBook) -> list[dict[str, Any]]:
    rows = []
    for n in sorted(set(names)):
        node = nodes.get(n)
        if node is None:
            continue
        lbl = node["metadata"].get("labels") or {}
        usd, why = node_price(node, book)
        ready = (_condition(node, "Ready") or {}).get("status") == "True"
        rows.append({"name": n, "instance_type": lbl.get(labels.INSTANCE_TYPE_LABEL), "capacity_type": node_capacity_type(node),
                     "zone": lbl.get(labels.ZONE_LABEL), "pool": lbl.get(labels.NODE_POOL_LABEL), "ready": ready,
                     "usd_per_hour": round(usd, 4) if usd is not None else None, "price": why})
    return rows


def event_rows(events: Iterable[Mapping[str, Any]], names: set[str], deployments: set[str],
               now: dt.datetime) -> list[dict[str, Any]]:
    """The model's recent events: those about its Deployments, their ReplicaSets (`<deployment>-<hash>`), its pods,
    ScaledObject and HPA (`names`)."""
    def generated(n: str, d: str, parts: int) -> bool:
        rest = n[len(d) + 1:].split("-") if n.startswith(d + "-") else []
        return len(rest) == parts and all(re.fullmatch(r"[a-z0-9]+", p) for p in rest)

    def mine(e: Mapping[str, Any]) -> bool:
        obj = e.get("involvedObject") or {}
        n, kind = obj.get("name", ""), obj.get("kind")
        if n in names:
            return True
        # ReplicaSets are <deployment>-<hash>, their pods <deployment>-<hash>-<suffix> (also pods already gone)
        return any(generated(n, d, 1 if kind == "ReplicaSet" else 2) for d in deployments) and kind in ("ReplicaSet", "Pod")

    def when(e: Mapping[str, Any]) -> str:
        return e.get("lastTimestamp") or e.get("eventTime") or (e.get("metadata") or {}).get("creationTimestamp") or ""

    rows = []
    for e in sorted((e for e in events if mine(e)), key=when)[-EVENTS_SHOWN:]:
        obj = e.get("involvedObject") or {}
        rows.append({"age": _age(when(e), now), "type": e.get("type"), "reason": e.get("reason"),
                     "object": f"{obj.get('kind', '')}/{obj.get('name', '')}", "count": e.get("count") or 1,
                     "message": (e.get("message") or "").strip()})
    return rows


@dataclass
class Live:
    """What Prometheus says about a model, or why it cannot."""

    available: bool
    values: dict[str, Optional[float]] = field(default_factory=dict)
    reason: str = ""


def live_metrics(prom: Optional[Prometheus], model: str, namespace: str, reason: str = "") -> Live:
    if prom is None:
        return Live(False, reason=reason or "no Prometheus configured for this stack")
    out: dict[str, Optional[float]] = {}
    try:
        for key, expr in ModelQueries(model, namespace).live().items():
            out[key] = prom.scalar(expr)
    except PrometheusUnavailable as e:
        return Live(False, reason=str(e))
    return Live(True, out)


LATENCY_NOTE = ("avg latency: HAProxy's exporter publishes each replica's average over its last 1024 requests and "
                "its maximum since start, no histogram; p50/p99 come from the load balancer")


NO_LATENCY = {"available": False, "reason": "not asked (no load balancer reader)"}


def model_status(name: str, out: Mapping[str, Any], deployments: list[dict[str, Any]], so: Optional[dict[str, Any]],
                 hpa: Optional[dict[str, Any]], pods: list[dict[str, Any]], nodes: Mapping[str, dict[str, Any]],
                 book: pricing.PriceBook, live: Live, latency: Mapping[str, Any] = NO_LATENCY) -> dict[str, Any]:
    main = out.get("deployment") or name
    floor = sum((d.get("spec") or {}).get("replicas", 0) for d in deployments if d["metadata"]["name"] != main)
    rolls = [rollout(d) for d in sorted(deployments, key=lambda d: d["metadata"]["name"])]
    worst = min((r["state"] for r in rolls), key=lambda s: _ORDER[s], default="not deployed")
    reps = replicas(deployments)
    endpoint = out.get("endpoint")
    if endpoint and PENDING_HOST in endpoint:
        endpoint = None  # the Ingress has no load balancer address yet (ModelAPI's placeholder host)
    st: dict[str, Any] = {
        "model": name, "namespace": out.get("namespace"), "endpoint": endpoint,
        **({"endpoint_note": "the load balancer has no address yet"} if endpoint is None and out.get("endpoint") else {}),
        "image": image(deployments, main), "replicas": reps,
        "scaling": scaling(so, hpa, floor, reps["ready"]),
        "rollout": {"state": worst, "deployments": rolls},
        "metrics": ({"window": "5m", **live.values, "note": LATENCY_NOTE} if live.available else
                    {"available": False, "reason": live.reason}),
        "latency": dict(latency),
        "cost": cost(pods, nodes, book),
    }
    return st


# -------------------------------------------------------------------------------------------------- reading


def gather(kube: Kube, outputs: Mapping[str, Any], prom: Optional[Prometheus], models: Optional[list[str]] = None,
           detail: bool = False, prom_reason: str = "", now: Optional[dt.datetime] = None,
           latency: Optional[Callable[[str, Optional[str]], Mapping[str, Any]]] = None) -> dict[str, Any]:
    """Every model's status (or only `models`); with `detail`, its pods, nodes and recent events too. `latency`
    (ops/alb.reader) reads each model's p50/p99 from its load balancer."""
    now = now or dt.datetime.now(dt.timezone.utc)
    region = outputs.get("region") or "us-east-1"
    book = pricing.price_book(region, fallback_to_us_east_1=True)
    nodes = {n["metadata"]["name"]: n for n in kube.nodes()}
    prom_state: dict[str, Any] = {"available": False, "reason": prom_reason or "no Prometheus configured for this stack"}
    if prom is not None:
        try:
            prom.ready()
            prom_state = {"available": True, "at": prom.where}
        except PrometheusUnavailable as e:
            prom_state = {"available": False, "at": prom.where, "reason": str(e)}
            prom = None
    result: dict[str, Any] = {"prometheus": prom_state, "models": []}
    for name in models or sorted(outputs["models"]):
        out = outputs["models"].get(name)
        if out is None:
            raise KubeError(f"model {name!r} is not in this stack's outputs (models: {', '.join(sorted(outputs['models']))})")
        ns = out["namespace"]
        deps = kube.deployments(ns, labels.MODEL_LABEL, name)
        so = kube.scaled_object(ns, out.get("deployment") or name)
        hpa_name = ((so or {}).get("status") or {}).get("hpaName") or f"keda-hpa-{out.get('deployment') or name}"
        hpa = kube.hpa(ns, hpa_name) if so is not None else None
        pods = kube.pods(ns, labels.MODEL_LABEL, name)
        live = live_metrics(prom, name, ns, prom_state.get("reason", ""))
        st = model_status(name, out, deps, so, hpa, pods, nodes, book, live,
                          latency(ns, out.get("service")) if latency else NO_LATENCY)
        if detail:
            st["pods"] = pod_rows(pods, now)
            st["nodes"] = node_rows([p["spec"].get("nodeName") for p in pods if p["spec"].get("nodeName")], nodes, book)
            dnames = {d["metadata"]["name"] for d in deps}
            names = dnames | {p["metadata"]["name"] for p in pods} | {out.get("deployment") or name, hpa_name}
            st["events"] = event_rows(kube.events(ns), names, dnames, now)
        result["models"].append(st)
    result["cost_per_hour"] = {"models_usd": round(sum(m["cost"]["usd_per_hour"] for m in result["models"]), 4),
                               "nodes_usd": _nodes_total(nodes.values(), book)}
    return result


def _nodes_total(nodes: Iterable[Mapping[str, Any]], book: pricing.PriceBook) -> Optional[float]:
    prices = [node_price(n, book)[0] for n in nodes]
    known = [p for p in prices if p is not None]
    return round(sum(known), 4) if known else None


# ------------------------------------------------------------------------------------------------ rendering


def _fmt(v: Optional[float], unit: str = "", digits: int = 2) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}f}{unit}"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _signal(s: Mapping[str, Any]) -> str:
    if not s.get("signal"):
        return "-"
    parts = []
    for m in s["signal"]:
        v = _fmt(m["value"], "%" if m["unit"] == "% utilization" else "", 1)
        parts.append(f"{v}" + (f"/{_fmt(m['target'], '%' if m['unit'] == '% utilization' else '', 0)}" if m.get("target") is not None else ""))
    return ",".join(parts)


def _percentiles(lat: Mapping[str, Any]) -> str:
    if not lat.get("available"):
        return "n/a"
    return f"{_fmt(lat['p50_seconds'], 's', 3)}/{_fmt(lat['p99_seconds'], 's', 3)}"


def render_stack(stack: str, st: Mapping[str, Any]) -> str:
    rows = [["model", "ready", "up-to-date", "scaling cur/min/max", "signal", "rollout", "req/s", "4xx/s", "5xx/s",
             "503 shed/s", "avg latency", "p50/p99", "$/h", "image"]]
    for m in st["models"]:
        r, s, x = m["replicas"], m["scaling"], m["metrics"]
        ok = x.get("available", True)
        rows.append([m["model"], f"{r['ready']}/{r['desired']}", str(r["up_to_date"]),
                     f"{s['current']}/{s['min'] if s['min'] is not None else '-'}/{s['max'] if s['max'] is not None else '-'}",
                     _signal(s), m["rollout"]["state"],
                     _fmt(x.get("requests_per_second")) if ok else "n/a", _fmt(x.get("4xx_per_second")) if ok else "n/a",
                     _fmt(x.get("5xx_per_second")) if ok else "n/a", _fmt(x.get("shed_503_per_second")) if ok else "n/a",
                     _fmt(x.get("total_seconds_avg"), "s", 3) if ok else "n/a", _percentiles(m["latency"]),
                     _fmt(m["cost"]["usd_per_hour"], "", 4), m["image"] or "-"])
    out = [f"stack {stack}", "", _table(rows), ""]
    for m in st["models"]:
        out.append(f"{m['model']}: {m['endpoint'] or m.get('endpoint_note') or '-'}")
    p = st["prometheus"]
    out.append("")
    out.append(f"metrics: from Prometheus at {p['at']} (last 5m)" if p["available"] else
               f"metrics: not available, Prometheus could not be asked: {p['reason']}")
    if p["available"]:
        out.append(LATENCY_NOTE)
    reasons = sorted({m["latency"]["reason"] for m in st["models"] if not m["latency"].get("available")})
    out += [f"p50/p99: not available: {r}" for r in reasons]
    sources = sorted({m["latency"]["source"] for m in st["models"] if m["latency"].get("available")})
    out += [f"p50/p99: from the {s}" for s in sources]
    c = st["cost_per_hour"]
    out.append(f"cost now: ${c['models_usd']:.4f}/h for the models' share of their nodes; "
               f"all nodes ${c['nodes_usd']:.4f}/h (price table, not a bill)" if c["nodes_usd"] is not None else
               f"cost now: ${c['models_usd']:.4f}/h for the models' share of their nodes")
    notes = sorted({m['scaling'].get('note') for m in st['models'] if m['scaling'].get('note')})
    out += [f"scaling: {n}" for n in notes]
    return "\n".join(out)


def render_model(stack: str, st: Mapping[str, Any]) -> str:
    (m,) = st["models"]
    r, s, x = m["replicas"], m["scaling"], m["metrics"]
    lines = [f"model {m['model']} (stack {stack}, namespace {m['namespace']})",
             f"endpoint   {m['endpoint'] or m.get('endpoint_note') or '-'}",
             f"image      {m['image'] or '-'}",
             f"replicas   {r['ready']} ready / {r['desired']} desired / {r['up_to_date']} up to date",
             f"scaling    current {s['current']}, min {s.get('min')}, max {s.get('max')}"
             + (f" (on-demand floor {s['on_demand_floor']})" if s.get("on_demand_floor") else "")
             + f", trigger {s.get('trigger') or '-'}, signal {_signal(s)}" + (f"; {s['note']}" if s.get("note") else ""),
             f"rollout    {m['rollout']['state']}: " + "; ".join(f"{d['deployment']} {d['state']} ({d['detail']})"
                                                           for d in m["rollout"]["deployments"])]
    if x.get("available", True):
        lines.append(f"traffic    {_fmt(x['requests_per_second'])} req/s, 4xx {_fmt(x['4xx_per_second'])}/s, "
                     f"5xx {_fmt(x['5xx_per_second'])}/s, 503 shed {_fmt(x['shed_503_per_second'])}/s, "
                     f"in flight {_fmt(x['in_flight'], '', 0)}, queued {_fmt(x['queued'], '', 0)} (last 5m)")
        lines.append(f"latency    avg total {_fmt(x['total_seconds_avg'], 's', 3)}, avg server "
                     f"{_fmt(x['response_seconds_avg'], 's', 3)}, max since start {_fmt(x['total_seconds_max_since_start'], 's', 3)}"
                     " (HAProxy's exporter has no histogram)")
    else:
        lines.append(f"metrics    not available: {x['reason']}")
    lat = m["latency"]
    lines.append(f"latency    p50 {_fmt(lat['p50_seconds'], 's', 3)}, p99 {_fmt(lat['p99_seconds'], 's', 3)} "
                 f"(from the {lat['source']})" if lat.get("available") else f"latency    not available: {lat['reason']}")
    lines.append(f"cost       ${m['cost']['usd_per_hour']:.4f}/h ({m['cost']['pods_priced']} pods priced: {m['cost']['basis']})")
    lines += ["", "pods:"]
    lines.append(_table([["name", "ready", "phase", "restarts", "node", "capacity", "age"]] +
                        [[p["name"], p["ready"], str(p["phase"]) + (" (terminating)" if p.get("terminating") else "")
                          + (f" {p['waiting']}" if p.get("waiting") else ""), str(p["restarts"]), p["node"] or "-",
                          p["capacity"] or "-", p["age"] or "-"] for p in m["pods"]]) if m["pods"] else "  none")
    lines += ["", "nodes:"]
    lines.append(_table([["name", "instance type", "capacity", "zone", "pool", "ready", "$/h"]] +
                        [[n["name"], n["instance_type"] or "-", n["capacity_type"] or "-", n["zone"] or "-",
                          n["pool"] or "-", "yes" if n["ready"] else "no", _fmt(n["usd_per_hour"], "", 4)]
                         for n in m["nodes"]]) if m["nodes"] else "  none")
    lines += ["", "events:"]
    lines.append(_table([["age", "type", "reason", "object", "message"]] +
                        [[e["age"] or "-", e["type"] or "-", e["reason"] or "-", e["object"],
                          (e["message"][:100] + (f" (x{e['count']})" if e["count"] > 1 else ""))] for e in m["events"]])
                 if m["events"] else "  none")
    return "\n".join(lines)
