"""The PromQL that `modelstack get`, the dashboards and the alert rules share (pure).

Where the series come from (facts in data/UPSTREAM.md, "Observability"):
- The request-limit proxy's exporter (HAProxy 3.2 `addons/promex`), scraped by the prometheus chart's
  `kubernetes-pods` job, which adds `namespace`, `pod`, `node` and every pod label sanitized (the model label
  `modelstack.io/model` becomes `modelstack_io_model`). The proxy's traffic is the `model` frontend and backend
  (`proxy="model"`); the `metrics` frontend serves the scrapes themselves and is left out.
  HAProxy's exporter has no latency histogram: its times are averages over the last 1024 requests
  (`*_time_average_seconds`) and maxima since start, so no percentile can be computed from it.
- kube-state-metrics (the prometheus chart's subchart, on when dashboards or alerts are): Deployment replicas,
  pod phases, node labels (allow-listed pool, capacity type and instance type).
- dcgm-exporter (GPU nodes): GPU utilisation and framebuffer memory with the `namespace`/`pod` using the GPU.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelstack.render import labels

PROXY = "model"
"""The HAProxy frontend and backend name of the request path (render/proxy.py)."""
MODEL_LABEL = labels.MODEL_LABEL.replace(".", "_").replace("/", "_")
"""The model's pod label as the kubernetes-pods job writes it on every proxy series."""


def ksm_label(key: str) -> str:
    """The label kube-state-metrics 2.20 writes for Kubernetes label `key` on a `*_labels` series: `label_` +
    the key with every character outside [a-zA-Z0-9_] made `_`, then snake-cased and lowercased
    (`internal/store/utils.go` labelName), so `eks.amazonaws.com/capacityType` is `label_eks_amazonaws_com_capacity_type`."""
    s = re.sub(r"[^a-zA-Z0-9_]", "_", key)
    return "label_" + re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


NODE_POOL = ksm_label(labels.NODE_POOL_LABEL)
CAPACITY_TYPE = ksm_label(labels.CAPACITY_TYPE_LABEL)
INSTANCE_TYPE = ksm_label(labels.INSTANCE_TYPE_LABEL)
NODE_LABELS_ALLOWLIST = (labels.NODE_POOL_LABEL, labels.CAPACITY_TYPE_LABEL, labels.INSTANCE_TYPE_LABEL)
"""Node labels kube-state-metrics must export on `kube_node_labels` (its `--metric-labels-allowlist`)."""
PRICE_METRIC = "modelstack:node_price_usd_per_hour"
"""Recording rule: one constant series per (instance type, capacity type) the stack can run, from the price table."""
GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"
GPU_MEMORY_USED = "DCGM_FI_DEV_FB_USED"
"""MiB of framebuffer in use (dcgm-exporter default counters)."""
GPU_MEMORY_FREE = "DCGM_FI_DEV_FB_FREE"
KARPENTER_INTERRUPTIONS = "karpenter_interruption_received_messages_total"
"""Karpenter's count of interruption-queue messages by `message_type` (spot interruption, rebalance, ...)."""


@dataclass(frozen=True)
class ModelQueries:
    """Every query about one model, over `window` (a PromQL range such as "5m" or "$__rate_interval")."""

    model: str
    namespace: str
    window: str = "5m"

    @property
    def proxy(self) -> str:
        """Selector of the model's proxy series (both Deployments: the autoscaled one and the on-demand floor)."""
        return f'{MODEL_LABEL}="{self.model}",namespace="{self.namespace}",proxy="{PROXY}"'

    @property
    def pod_regex(self) -> str:
        """The model's pod names: `<model>-<rs hash>-<suffix>` and `<model>-on-demand-<rs hash>-<suffix>` (neither
        generated part holds a dash, so `sentiment` never matches `sentiment-canary`'s pods)."""
        return f"{self.model}(-on-demand)?-[a-z0-9]+-[a-z0-9]+"

    @property
    def deployments(self) -> str:
        return f'namespace="{self.namespace}",deployment=~"{self.model}(-on-demand)?"'

    def _rate(self, metric: str, extra: str = "") -> str:
        return f"sum(rate({metric}{{{self.proxy}{extra}}}[{self.window}]))"

    @property
    def request_rate(self) -> str:
        """Requests per second reaching the proxy (served, queued or refused)."""
        return self._rate("haproxy_frontend_http_requests_total")

    @property
    def rate_4xx(self) -> str:
        return self._rate("haproxy_frontend_http_responses_total", ',code="4xx"')

    @property
    def rate_5xx(self) -> str:
        """5xx answered to clients per second: the model's own, timeouts (504) and the proxy's refusals (503)."""
        return self._rate("haproxy_frontend_http_responses_total", ',code="5xx"')

    @property
    def rate_shed(self) -> str:
        """Requests refused with 503 because the replica held max_concurrency + max_queue_length (per second)."""
        return self._rate("haproxy_frontend_intercepted_requests_total")

    @property
    def error_ratio(self) -> str:
        """Share of requests answered 5xx (0 to 1)."""
        return f"{self.rate_5xx} / {self.request_rate}"

    def _avg(self, metric: str, how: str = "avg") -> str:
        return f"{how}(haproxy_backend_{metric}{{{self.proxy}}})"

    @property
    def response_time_avg(self) -> str:
        """Seconds the server took to answer, averaged over each replica's last 1024 requests, then over replicas."""
        return self._avg("response_time_average_seconds")

    @property
    def total_time_avg(self) -> str:
        """Seconds from request to end of response (queue + connect + server), as above."""
        return self._avg("total_time_average_seconds")

    @property
    def total_time_worst_replica(self) -> str:
        """The slowest replica's average total time (what the latency alert compares with the response timeout)."""
        return self._avg("total_time_average_seconds", "max")

    @property
    def queue_time_avg(self) -> str:
        return self._avg("queue_time_average_seconds")

    @property
    def total_time_max(self) -> str:
        """The longest request any replica has seen since it started (HAProxy keeps no windowed maximum)."""
        return self._avg("max_total_time_seconds", "max")

    @property
    def in_flight(self) -> str:
        """Requests at the model servers now (what the in_flight signal counts)."""
        return f'sum(haproxy_server_current_sessions{{{self.proxy},server="{PROXY}"}})'

    @property
    def queued(self) -> str:
        """Requests waiting in the proxies' queues now."""
        return f"sum(haproxy_backend_current_queue{{{self.proxy}}})"

    @property
    def replicas_available(self) -> str:
        return f"sum(kube_deployment_status_replicas_available{{{self.deployments}}})"

    @property
    def replicas_desired(self) -> str:
        return f"sum(kube_deployment_spec_replicas{{{self.deployments}}})"

    @property
    def pods_pending(self) -> str:
        """1 per pod of the model in phase Pending."""
        return (f'max by (pod) (kube_pod_status_phase{{namespace="{self.namespace}",pod=~"{self.pod_regex}",'
                f'phase="Pending"}}) == 1')

    @property
    def gpu_utilization(self) -> str:
        """Mean GPU utilisation (0-100) of the GPUs the model's pods use."""
        return f'avg({GPU_UTIL}{{namespace="{self.namespace}",pod=~"{self.pod_regex}"}})'

    @property
    def gpu_memory_used_bytes(self) -> str:
        return f'sum({GPU_MEMORY_USED}{{namespace="{self.namespace}",pod=~"{self.pod_regex}"}}) * 1048576'

    @property
    def gpu_memory_total_bytes(self) -> str:
        sel = f'namespace="{self.namespace}",pod=~"{self.pod_regex}"'
        return f"(sum({GPU_MEMORY_USED}{{{sel}}}) + sum({GPU_MEMORY_FREE}{{{sel}}})) * 1048576"

    def live(self) -> dict[str, str]:
        """What `modelstack get` asks for, by the field name it prints."""
        return {"requests_per_second": self.request_rate, "4xx_per_second": self.rate_4xx,
                "5xx_per_second": self.rate_5xx, "shed_503_per_second": self.rate_shed,
                "response_seconds_avg": self.response_time_avg, "total_seconds_avg": self.total_time_avg,
                "total_seconds_max_since_start": self.total_time_max,
                "in_flight": self.in_flight, "queued": self.queued}


def node_count_by_pool() -> str:
    return f"count by ({NODE_POOL}, {CAPACITY_TYPE}) (kube_node_labels)"


def node_cost_by_pool() -> str:
    """USD per hour of the nodes now, by pool and capacity type: each node's labels joined with the price rule."""
    return (f"sum by ({NODE_POOL}, {CAPACITY_TYPE}) (kube_node_labels * on ({INSTANCE_TYPE}, {CAPACITY_TYPE}) "
            f"group_left {PRICE_METRIC})")


def node_cost_total() -> str:
    return f"sum({node_cost_by_pool()})"


def spot_interruptions(window: str) -> str:
    """Spot interruption warnings Karpenter received (its EventBridge queue), per message type."""
    return f"sum by (message_type) (increase({KARPENTER_INTERRUPTIONS}[{window}]))"


def spot_nodes_removed(window: str) -> str:
    """SPOT nodes that went away (any cause: reclaim, scale-down, consolidation): the fall in their count."""
    return (f'clamp_min(max_over_time(count(kube_node_labels{{{CAPACITY_TYPE}="SPOT"}})[{window}:1m]) '
            f'- count(kube_node_labels{{{CAPACITY_TYPE}="SPOT"}}), 0)')
