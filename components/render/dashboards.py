"""Grafana dashboards as code, generated from the stack's config: one per model and one per cluster (pure).

Classic dashboard JSON (the model `@grafana/schema` 12.3.1 types as `Dashboard`, generated from Grafana's
`kinds/dashboard/dashboard_kind.cue`; schemaVersion 42 is that version's default). Every query is one of
render/metrics.py's, so `modelstack get`, the dashboards and the alert rules read the same series. A new model in
the config is a new dashboard; uids are derived from names, so a dashboard keeps its URL across deploys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from modelstack.render import metrics
from modelstack.render.metrics import CAPACITY_TYPE, NODE_POOL, ModelQueries

SCHEMA_VERSION = 42
DATASOURCE_UID = "modelstack-prometheus"
"""The provisioned Prometheus data source every panel names."""
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}
RATE = "$__rate_interval"
FOLDER = "modelstack"


@dataclass(frozen=True)
class ModelDashboard:
    model: str
    namespace: str
    gpu: bool = False
    """Add GPU utilisation and memory panels (DCGM)."""
    max_concurrency: int = 1
    response_seconds: Optional[int] = None


def uid(*parts: str) -> str:
    """A Grafana uid (at most 40 characters of [a-zA-Z0-9-_]) from names; long names keep a hash suffix."""
    import hashlib

    raw = "-".join(["ms", *parts])
    if len(raw) <= 40:
        return raw
    return raw[:31] + "-" + hashlib.sha256(raw.encode()).hexdigest()[:8]


def _target(expr: str, legend: str, ref: str) -> dict[str, Any]:
    return {"refId": ref, "datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "range": True}


def _panel(pid: int, title: str, targets: list[tuple[str, str]], unit: str, x: int, y: int, w: int = 12, h: int = 8,
           kind: str = "timeseries", description: str = "", minimum: Optional[float] = 0) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": unit}
    if minimum is not None:
        defaults["min"] = minimum
    panel: dict[str, Any] = {
        "id": pid, "type": kind, "title": title, "datasource": DATASOURCE,
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "none"}} if kind == "timeseries" else
                   {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "value", "graphMode": "area", "textMode": "auto"},
        "targets": [_target(e, lg, chr(ord("A") + i)) for i, (e, lg) in enumerate(targets)],
    }
    if description:
        panel["description"] = description
    return panel


def _dashboard(title: str, dash_uid: str, tags: list[str], panels: list[dict[str, Any]], description: str) -> dict[str, Any]:
    return {
        "uid": dash_uid, "title": title, "description": description, "tags": tags,
        "editable": False, "graphTooltip": 1, "schemaVersion": SCHEMA_VERSION, "timezone": "browser",
        "time": {"from": "now-6h", "to": "now"}, "refresh": "30s",
        "annotations": {"list": []}, "links": [], "templating": {"list": []},
        "panels": panels,
    }


def model_dashboard(cluster: str, environment: str, m: ModelDashboard) -> dict[str, Any]:
    """Requests, responses by class and 503 refusals, latency, in-flight and queued, replicas, and on GPU models
    GPU utilisation and memory."""
    q = ModelQueries(m.model, m.namespace, RATE)
    p: list[dict[str, Any]] = [
        _panel(1, "Requests per second", [(q.request_rate, "requests")], "reqps", 0, 0,
               description="Every request reaching the model's proxies (served, queued or refused)."),
        _panel(2, "Errors and refusals per second", [(q.rate_4xx, "4xx"), (q.rate_5xx, "5xx"),
                                                     (q.rate_shed, "503 refused (replicas full)")], "reqps", 12, 0,
               description="5xx includes timeouts and the proxy's 503s; the refused line is those 503s alone: a "
                           "replica already held max_concurrency + max_queue_length requests."),
        _panel(3, "Latency (average of each replica's last 1024 requests)",
               [(q.total_time_avg, "total (queue + server)"), (q.response_time_avg, "server response"),
                (q.queue_time_avg, "queue")], "s", 0, 8,
               description="HAProxy's exporter publishes averages over the last 1024 requests and no histogram, so "
                           "no percentiles are shown."
                           + (f" Response timeout: {m.response_seconds}s." if m.response_seconds else "")),
        _panel(4, "In flight and queued", [(q.in_flight, "at the model servers"), (q.queued, "queued in the proxies")],
               "short", 12, 8, description=f"Each replica serves up to {m.max_concurrency} at once."),
        _panel(5, "Replicas", [(q.replicas_available, "available"), (q.replicas_desired, "desired")], "short", 0, 16,
               description="Both Deployments of the model (autoscaled and on-demand floor), from kube-state-metrics."),
        _panel(6, "Error ratio", [(q.error_ratio, "5xx share")], "percentunit", 12, 16, kind="stat"),
    ]
    if m.gpu:
        p += [
            _panel(7, "GPU utilisation", [(q.gpu_utilization, "mean over the model's GPUs")], "percent", 0, 24,
                   description="DCGM_FI_DEV_GPU_UTIL from dcgm-exporter."),
            _panel(8, "GPU memory", [(q.gpu_memory_used_bytes, "used"), (q.gpu_memory_total_bytes, "total")],
                   "bytes", 12, 24, description="Framebuffer used and used + free (DCGM_FI_DEV_FB_USED / _FREE)."),
        ]
    return _dashboard(f"{cluster} / {m.model}", uid(cluster, m.model), [FOLDER, environment, "model"], p,
                      f"modelstack model {m.model} in namespace {m.namespace} ({environment}).")


def cluster_dashboard(cluster: str, environment: str, karpenter: bool) -> dict[str, Any]:
    """Nodes by pool and capacity type, spot interruptions, cost per hour now."""
    legend = f"{{{{{NODE_POOL}}}}} {{{{{CAPACITY_TYPE}}}}}"
    spot = (_panel(3, "Spot interruption warnings", [(metrics.spot_interruptions("$__range"), "{{message_type}}")],
                   "short", 0, 8, kind="stat",
                   description="Messages Karpenter received from its interruption queue over the time range.")
            if karpenter else
            _panel(3, "SPOT nodes removed (any cause)", [(metrics.spot_nodes_removed("1h"), "nodes")], "short", 0, 8,
                   description="Fall in the SPOT node count over the last hour: reclaims, and scale-downs too "
                               "(cluster-autoscaler publishes no interruption count)."))
    p = [
        _panel(1, "Nodes by pool and capacity type", [(metrics.node_count_by_pool(), legend)], "short", 0, 0),
        _panel(2, "Cost per hour by pool (USD, price table)", [(metrics.node_cost_by_pool(), legend)], "currencyUSD",
               12, 0, description="Nodes joined with the modelstack:node_price_usd_per_hour rules: on-demand list "
                                  "prices and expected spot prices from the plan's price table, not a bill."),
        spot,
        _panel(4, "Cost per hour now (USD)", [(metrics.node_cost_total(), "nodes")], "currencyUSD", 12, 8, kind="stat"),
    ]
    return _dashboard(f"{cluster} / cluster", uid(cluster, "cluster"), [FOLDER, environment, "cluster"], p,
                      f"modelstack cluster {cluster} ({environment}): nodes, interruptions, cost.")


def dashboards(cluster: str, environment: str, models: Iterable[ModelDashboard], karpenter: bool) -> dict[str, dict[str, Any]]:
    """Every dashboard of a stack by file name (`<name>.json`): the cluster's and one per model."""
    out = {"cluster.json": cluster_dashboard(cluster, environment, karpenter)}
    for m in sorted(models, key=lambda m: m.model):
        out[f"model-{m.model}.json"] = model_dashboard(cluster, environment, m)
    return out


def to_json(d: dict[str, Any]) -> str:
    return json.dumps(d, indent=1, sort_keys=True)
