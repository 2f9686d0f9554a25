"""Cortex's autoscaling knobs, mapped onto KEDA (ScaledObject + the HTTP add-on) and the HPA v2 `behavior` it drives.

Pure functions, no Pulumi: :func:`scaled_object_spec` renders the ScaledObject `spec`, :func:`interceptor_route_spec`
the HTTP add-on's route. :data:`MAPPING` is the knob table the ModelAPI docstring and the tests are built from;
:func:`mapping_table` renders it as text.

Why KEDA + the HTTP add-on for `in_flight`: Cortex counted in-flight requests in a proxy in front of every replica
and held the first request while a replica started (its activator). The HTTP add-on's interceptor does both: it
counts concurrent requests per route and holds a request while a workload scales from zero. The route is an
`InterceptorRoute` (http.keda.sh/v1beta1, add-on >= 0.14): routing, the concurrency target and per-route timeouts
only; we own the `ScaledObject`, because only it exposes the HPA `behavior` that carries Cortex's stabilization
windows and step limits. (The older `HTTPScaledObject` made its own ScaledObject and is deprecated in 0.15.0.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

from modelstack.render import timeouts, vllm

SIGNALS = ("in_flight", "cpu", "gpu", "prometheus", "llm")
#: Signals whose requests pass the HTTP add-on's interceptor (it counts them and holds them through a cold start).
#: `llm` scales on the engine's own queue (vLLM's requests running + waiting per replica, render/vllm.py) and keeps
#: the interceptor for scale from zero, when no engine exists yet to report a queue.
INTERCEPTED_SIGNALS = ("in_flight", "llm")
#: Queue depth (KEDA's aws-sqs-queue scaler): the workers of an AsyncModelAPI / BatchModelAPI, not a config choice.
QUEUE_SIGNAL = "queue"
#: Cortex re-evaluated every 10 s; KEDA's polling interval (activation checks and trigger sampling) matches it.
POLLING_INTERVAL_SECONDS = 10
#: The period the HPA step limits apply over: the HPA controller's sync period (15 s, not settable on EKS).
POLICY_PERIOD_SECONDS = 15
#: Cluster-wide HPA tolerance (kube-controller-manager default; EKS does not let you change it).
HPA_DEFAULT_TOLERANCE = 0.1
DEFAULT_EXTERNAL_SCALER = "keda-add-ons-http-external-scaler.keda:9090"
GPU_UTIL_METRIC = "DCGM_FI_DEV_GPU_UTIL"
#: A scale-to-zero route also reports its request rate over this window, so it stays active while requests arrive.
ACTIVITY_WINDOW_SECONDS = 60
#: The request-rate target (requests/s per replica) of that metric: out of reach, so replicas follow concurrency.
ACTIVITY_RATE_TARGET = 1_000_000


@dataclass(frozen=True)
class Knobs:
    """Resolved autoscaling settings with Cortex's names and defaults (durations in seconds)."""

    min_replicas: int = 1
    max_replicas: int = 100
    init_replicas: Optional[int] = None
    target_in_flight: float = 1.0
    window_seconds: int = 60
    downscale_stabilization_seconds: int = 300
    upscale_stabilization_seconds: int = 60
    max_downscale_factor: float = 0.75
    max_upscale_factor: float = 1.5
    downscale_tolerance: float = 0.05
    upscale_tolerance: float = 0.05
    signal: str = "in_flight"
    target_utilization: Optional[int] = None
    prometheus_query: Optional[str] = None
    prometheus_threshold: Optional[float] = None
    scale_to_zero: bool = False

    def problems(self) -> list[str]:
        """Every inconsistency, as readable sentences (empty when valid)."""
        out: list[str] = []
        if self.signal not in (*SIGNALS, QUEUE_SIGNAL):
            out.append(f"signal {self.signal!r}: allowed {', '.join(SIGNALS)}")
        if self.min_replicas < 0 or self.max_replicas < 1:
            out.append(f"min_replicas {self.min_replicas} / max_replicas {self.max_replicas}: need min >= 0 and max >= 1")
        if self.min_replicas > self.max_replicas:
            out.append(f"min_replicas {self.min_replicas} is above max_replicas {self.max_replicas}")
        if self.init_replicas is not None and not self.min_replicas <= self.init_replicas <= self.max_replicas:
            out.append(f"init_replicas {self.init_replicas} is outside [{self.min_replicas}, {self.max_replicas}]")
        if self.min_replicas == 0 and not self.scale_to_zero:
            out.append("min_replicas 0 needs scale_to_zero true (an explicit opt-in to cold starts)")
        if self.scale_to_zero and self.min_replicas != 0:
            out.append(f"scale_to_zero needs min_replicas 0 (got {self.min_replicas})")
        if self.scale_to_zero and self.signal in ("cpu", "gpu"):
            out.append(f"scale_to_zero with signal {self.signal!r}: utilization of zero replicas is undefined; use in_flight or prometheus")
        if self.target_in_flight <= 0:
            out.append(f"target_in_flight {self.target_in_flight} must be > 0")
        if not 0 < self.max_downscale_factor < 1:
            out.append(f"max_downscale_factor {self.max_downscale_factor} must be in (0, 1)")
        if not self.max_upscale_factor > 1:
            out.append(f"max_upscale_factor {self.max_upscale_factor} must be > 1")
        for n in ("downscale_tolerance", "upscale_tolerance"):
            if not 0 <= getattr(self, n) < 1:
                out.append(f"{n} {getattr(self, n)} must be in [0, 1)")
        if self.window_seconds < 10:
            out.append(f"window_seconds {self.window_seconds} must be >= 10 (the autoscaler samples every 10 s)")
        for n in ("downscale_stabilization_seconds", "upscale_stabilization_seconds"):
            if not 0 <= getattr(self, n) <= 3600:
                out.append(f"{n} {getattr(self, n)} must be in [0, 3600] (the HPA limit)")
        if self.signal in ("cpu", "gpu") and not (self.target_utilization and 1 <= self.target_utilization <= 100):
            out.append(f"signal {self.signal!r} needs target_utilization from 1 to 100")
        if self.signal == "prometheus" and (not self.prometheus_query or not self.prometheus_threshold or self.prometheus_threshold <= 0):
            out.append("signal 'prometheus' needs prometheus_query and prometheus_threshold > 0")
        return out


@dataclass(frozen=True)
class Mapping:
    """One row of the knob table: a Cortex knob, its default, where it lands, and how the meaning differs."""

    knob: str
    cortex_default: str
    target: str
    how: str
    difference: str = ""


MAPPING: tuple[Mapping, ...] = (
    Mapping("min_replicas", "1", "ScaledObject.spec.minReplicaCount",
            "copied (less the on-demand floor, never below 0)", "0 only with scale_to_zero"),
    Mapping("max_replicas", "100", "ScaledObject.spec.maxReplicaCount",
            "copied (less the on-demand floor)"),
    Mapping("init_replicas", "min_replicas", "Deployment.spec.replicas",
            "replicas at creation; later updates leave spec.replicas to the autoscaler (ignore_changes)"),
    Mapping("target_in_flight", "max_concurrency", "InterceptorRoute.spec.scalingMetric.concurrency.targetValue",
            "rounded to an integer >= 1; KEDA's AverageValue target gives ceil(sum in-flight / target)",
            "the add-on takes integer targets, Cortex took fractions"),
    Mapping("window", "60s", "prometheus/gpu queries: avg_over_time(...[window])",
            "the averaging window of the gpu query",
            "in_flight: the add-on reports current concurrency, not a 60 s average; the stabilization windows smooth instead"),
    Mapping("upscale_stabilization", "1m", "behavior.scaleUp.stabilizationWindowSeconds",
            "copied: scale up only to the lowest recommendation of the window (Cortex's rule)"),
    Mapping("downscale_stabilization", "5m", "behavior.scaleDown.stabilizationWindowSeconds; cooldownPeriod",
            "copied: scale down only to the highest recommendation of the window; also KEDA's 1 -> 0 cooldown"),
    Mapping("max_upscale_factor", "1.5", "behavior.scaleUp.policies Percent",
            "(factor - 1) x 100 % per 15 s, with a Pods 1 policy and selectPolicy Max (Cortex always allowed +1)",
            "limits per HPA sync (15 s) rather than per 10 s Cortex step"),
    Mapping("max_downscale_factor", "0.75", "behavior.scaleDown.policies Percent",
            "(1 - factor) x 100 % per 15 s, with a Pods 1 policy and selectPolicy Max (Cortex always allowed -1)",
            "limits per HPA sync (15 s) rather than per 10 s Cortex step"),
    Mapping("upscale_tolerance", "0.05", "(not rendered)",
            "the cluster-wide HPA tolerance applies",
            "0.1 both ways: behavior.*.tolerance is alpha/feature-gated (HPAConfigurableTolerance) on 1.33-1.34, absent "
            "before, and KEDA's CRD does not carry it"),
    Mapping("downscale_tolerance", "0.05", "(not rendered)",
            "the cluster-wide HPA tolerance applies", "0.1, as for upscale_tolerance"),
    Mapping("scale_to_zero", "false", "minReplicaCount 0 + the add-on's interceptor",
            "the interceptor holds requests while KEDA scales 0 -> 1 (Cortex's activator); no request for "
            f"{ACTIVITY_WINDOW_SECONDS} s (the route's request-rate window) + cooldownPeriod -> 0",
            "cold start: a pod on a warm node is seconds; a GPU node from zero plus a multi-GB image pull is minutes"),
    Mapping("signal=cpu", "-", "trigger cpu, metricType Utilization", "value = target_utilization"),
    Mapping("signal=gpu", "-", "trigger prometheus, metricType Value",
            f"avg of {GPU_UTIL_METRIC} over the model's pods and window; threshold = target_utilization"),
    Mapping("signal=prometheus", "-", "trigger prometheus, metricType AverageValue",
            "the user's query and threshold, as given"),
    Mapping("signal=llm", "-", "trigger prometheus, metricType AverageValue, + the interceptor's",
            "vLLM requests running + waiting over the model's pods; threshold = target_in_flight (default "
            "max_num_seqs); the interceptor trigger wakes it from zero"),
)


def mapping_table() -> str:
    """The knob table as aligned text (embedded in the ModelAPI docstring; a test keeps them equal)."""
    rows = [(m.knob, m.cortex_default, m.target) for m in MAPPING]
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{a:<{w[0]}}  {b:<{w[1]}}  {c}" for a, b, c in rows)


def percent_up(factor: float) -> int:
    """Cortex's max_upscale_factor as an HPA Percent policy value: 1.5 -> 50 (at least 1)."""
    return max(1, round((factor - 1) * 100))


def percent_down(factor: float) -> int:
    """Cortex's max_downscale_factor as an HPA Percent policy value: 0.75 -> 25 (1 to 100)."""
    return min(100, max(1, round((1 - factor) * 100)))


def behavior(k: Knobs) -> dict[str, Any]:
    """HPA v2 `behavior` with Cortex's stabilization windows and step limits (always allowing +/- 1 pod)."""

    def rules(window: int, percent: int) -> dict[str, Any]:
        return {
            "stabilizationWindowSeconds": window,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Percent", "value": percent, "periodSeconds": POLICY_PERIOD_SECONDS},
                {"type": "Pods", "value": 1, "periodSeconds": POLICY_PERIOD_SECONDS},
            ],
        }

    return {
        "scaleUp": rules(k.upscale_stabilization_seconds, percent_up(k.max_upscale_factor)),
        "scaleDown": rules(k.downscale_stabilization_seconds, percent_down(k.max_downscale_factor)),
    }


def concurrency_target(target_in_flight: float) -> int:
    """The add-on's integer concurrency target for Cortex's (possibly fractional) target_in_flight."""
    return max(1, int(math.floor(target_in_flight + 0.5)))


def gpu_query(namespace: str, deployment: str, container: str, window_seconds: int) -> str:
    """Average GPU utilization (0-100) of the Deployment's pods over the window, from the DCGM exporter.

    dcgm-exporter (Kubernetes mode) labels each GPU's series with the `namespace`, `pod` and `container` using it;
    the prometheus chart's service-endpoints job honors them (honor_labels). Every model's server container is
    named alike, so the pod name (`<deployment>-<replicaset hash>-<suffix>`, neither part holding a dash) is what
    keeps two GPU models in one namespace apart.
    """
    sel = f'namespace="{namespace}",pod=~"{deployment}-[a-z0-9]+-[a-z0-9]+",container="{container}"'
    return f"avg(avg_over_time({GPU_UTIL_METRIC}{{{sel}}}[{window_seconds}s]))"


@dataclass(frozen=True)
class Target:
    """What the ScaledObject scales and how to reach the HTTP add-on and Prometheus."""

    deployment: str
    namespace: str
    container: str
    interceptor_route: str = ""
    """Name of the model's InterceptorRoute (signal in_flight), in the model's namespace."""
    external_scaler_address: str = DEFAULT_EXTERNAL_SCALER
    prometheus_address: Optional[str] = None
    replicas_offset: int = 0
    """Replicas served elsewhere (the on-demand floor), subtracted from min and max."""
    queue: Optional["QueueTarget"] = None
    """Signal queue: the SQS queue and how KEDA reads it."""


@dataclass(frozen=True)
class QueueTarget:
    """KEDA's aws-sqs-queue trigger (kedacore/keda v2.20.2 pkg/scalers/aws_sqs_queue_scaler.go, data/UPSTREAM.md)."""

    queue_url: Any
    region: str
    authentication: str
    """The TriggerAuthentication (podIdentity provider aws) in the model's namespace."""
    queue_length: int = 1
    """Messages per replica (`queueLength`, KEDA's default 5): the consumer takes one at a time, so 1."""
    activation_queue_length: int = 0
    """Wake from zero when more messages than this wait (`activationQueueLength`, default 0)."""
    endpoint: str = ""
    """The SQS endpoint KEDA calls (`awsEndpoint`): default "", the region's own (SQS-compatible servers, tests)."""


def sqs_queue_length(visible: int, in_flight: int, delayed: int = 0, *, scale_on_in_flight: bool = True,
                     scale_on_delayed: bool = False) -> int:
    """The queue length KEDA's scaler reports: ApproximateNumberOfMessages, plus ...NotVisible with
    scaleOnInFlight (default true) and ...Delayed with scaleOnDelayed (default false)."""
    return visible + (in_flight if scale_on_in_flight else 0) + (delayed if scale_on_delayed else 0)


def queue_replicas(queue_length: int, q: QueueTarget, k: Knobs, current: int) -> int:
    """Replicas KEDA and the HPA settle on for a queue length (before the behavior's rate limits): 0 while the
    length is at most the activation threshold and min is 0 (KEDA deactivates); else the HPA's AverageValue rule,
    ceil(length / queueLength), kept at `current` within the 10 % tolerance, clamped to [max(min, 1), max]."""
    lo, hi = replica_bounds(k)
    if queue_length <= q.activation_queue_length and lo == 0:
        return 0
    if current > 0 and abs(queue_length / (q.queue_length * current) - 1) <= HPA_DEFAULT_TOLERANCE:
        desired = current
    else:
        desired = math.ceil(queue_length / q.queue_length)
    return min(hi, max(lo, 1, desired))


def triggers(k: Knobs, t: Target) -> list[dict[str, Any]]:
    """The ScaledObject triggers for the chosen signal."""
    if k.signal == "in_flight":
        return [{"type": "external-push", "name": "in-flight", "metadata": {
            "scalerAddress": t.external_scaler_address, "interceptorRoute": t.interceptor_route}}]
    if k.signal == "cpu":
        return [{"type": "cpu", "name": "cpu", "metricType": "Utilization",
                 "metadata": {"value": str(k.target_utilization), "containerName": t.container}}]
    if k.signal == QUEUE_SIGNAL:
        if t.queue is None:
            raise ValueError("signal 'queue' needs the queue (Target.queue)")
        return [{"type": "aws-sqs-queue", "name": "queue-depth", "authenticationRef": {"name": t.queue.authentication},
                 "metadata": {"queueURL": t.queue.queue_url, "queueLength": str(t.queue.queue_length),
                              "activationQueueLength": str(t.queue.activation_queue_length),
                              "awsRegion": t.queue.region, "scaleOnInFlight": "true",
                              **({"awsEndpoint": t.queue.endpoint} if t.queue.endpoint else {})}}]
    if not t.prometheus_address:
        raise ValueError(f"signal {k.signal!r} needs prometheus_address (the Prometheus server KEDA queries)")
    if k.signal == "gpu":
        return [{"type": "prometheus", "name": "gpu-utilization", "metricType": "Value", "metadata": {
            "serverAddress": t.prometheus_address, "query": gpu_query(t.namespace, t.deployment, t.container, k.window_seconds),
            "threshold": str(k.target_utilization)}}]
    if k.signal == "llm":
        # desired replicas = ceil(engine requests running + waiting, summed / target per replica); the in-flight
        # trigger beside it wakes the model from zero and holds the first requests meanwhile
        return [{"type": "prometheus", "name": "engine-requests", "metricType": "AverageValue", "metadata": {
                    "serverAddress": t.prometheus_address, "query": vllm.load_query(t.namespace, t.deployment),
                    "threshold": _num(concurrency_target(k.target_in_flight))}},
                {"type": "external-push", "name": "in-flight", "metadata": {
                    "scalerAddress": t.external_scaler_address, "interceptorRoute": t.interceptor_route}}]
    return [{"type": "prometheus", "name": "prometheus", "metricType": "AverageValue", "metadata": {
        "serverAddress": t.prometheus_address, "query": k.prometheus_query, "threshold": _num(k.prometheus_threshold)}}]


def replica_bounds(k: Knobs, offset: int = 0) -> tuple[int, int]:
    """(min, max) for the autoscaled Deployment once `offset` replicas are served by the on-demand floor."""
    return max(0, k.min_replicas - offset), k.max_replicas - offset


def scaled_object_spec(k: Knobs, t: Target) -> dict[str, Any]:
    """The KEDA ScaledObject `spec` for the knobs (raises ValueError on inconsistent knobs)."""
    problems = k.problems()
    if problems:
        raise ValueError("autoscaling: " + "; ".join(problems))
    lo, hi = replica_bounds(k, t.replicas_offset)
    if hi < 1:
        raise ValueError(f"autoscaling: max_replicas {k.max_replicas} leaves no replica for the autoscaled Deployment "
                         f"after the on-demand floor of {t.replicas_offset}; use on_demand_base < max_replicas")
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": t.deployment},
        "pollingInterval": POLLING_INTERVAL_SECONDS,
        "cooldownPeriod": k.downscale_stabilization_seconds,
        "minReplicaCount": lo,
        "maxReplicaCount": hi,
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": behavior(k)}},
        "triggers": triggers(k, t),
    }


def interceptor_route_spec(k: Knobs, *, service: str, port: int, path: str, hosts: Optional[list[str]] = None,
                           readiness_seconds: int, response_seconds: int) -> dict[str, Any]:
    """The HTTP add-on route: the interceptor forwards `path` (a prefix) to the Service, counts concurrent requests,
    holds a request up to `readiness_seconds` for a replica (scale from zero) and waits up to `response_seconds`
    for the response headers. Without `hosts` the route matches any Host."""
    rule: dict[str, Any] = {"paths": [{"value": path}]}
    if hosts:
        rule["hosts"] = list(hosts)
    metric: dict[str, Any] = {"concurrency": {"targetValue": concurrency_target(k.target_in_flight)}}
    if k.scale_to_zero:
        # The add-on calls a route active when any of its metrics is above 0 (scaler/handlers.go IsActive @v0.15.0).
        # With concurrency alone that is "a request in flight at the sample": a model with light traffic is idle
        # between requests and drops to zero cooldownPeriod after the last overlap, then cold-starts again. The rate
        # over ACTIVITY_WINDOW_SECONDS keeps it active while requests arrive; its unreachable target leaves the
        # replica count to concurrency (the HPA takes the larger of the two).
        metric["requestRate"] = {"targetValue": ACTIVITY_RATE_TARGET,
                                 "window": timeouts.duration(ACTIVITY_WINDOW_SECONDS), "granularity": "1s"}
    return {
        "target": {"service": service, "port": port},
        "rules": [rule],
        "scalingMetric": metric,
        "timeouts": {"readiness": timeouts.duration(readiness_seconds),
                     "responseHeader": timeouts.duration(response_seconds)},
    }


def _num(v: Optional[float]) -> str:
    return str(int(v)) if v is not None and float(v).is_integer() else str(v)
