"""Alerts as code: Prometheus rule files for every model, and where Alertmanager sends them (pure).

The stack installs the prometheus-community `prometheus` chart (server, no operator), so the rules are rule files
in its `serverFiles` (`alerting_rules.yml`, `recording_rules.yml`, which its `prometheus.yml` loads), not
PrometheusRule objects (there is no operator to read them). Alertmanager is the chart's `alertmanager` subchart
(app v0.34.0); receiver secrets (Slack webhook URL, PagerDuty routing key, webhook URL) are never in stack config:
the operator creates a Kubernetes Secret in the monitoring namespace, mounted into Alertmanager and read through
the receivers' `*_file` fields. SNS publishes with Alertmanager's own role (EKS Pod Identity; SigV4).

Per model (severity in brackets):
- ModelErrorRateHigh [critical]: the share of requests answered 5xx (model errors, timeouts and the proxy's
  503 refusals) above `error_rate` for 5 minutes, with at least `min_request_rate` requests per second.
- ModelLatencyAboveTimeout [warning]: the slowest replica's average total time (queue + server, last 1024
  requests) above the model's response timeout for 5 minutes: clients are being cut off or close to it.
- ModelPodsPendingTooLong [warning]: a pod of the model Pending longer than its cold-start budget (node launch +
  image pull + start-up probe, render/timeouts.py): the capacity it asked for did not arrive in the time planned.
- ModelScaleFromZeroFailed [critical] (scale-to-zero models): a replica wanted but none available for longer than
  the cold-start budget, so the interceptor is holding or failing requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from modelstack.render.metrics import CAPACITY_TYPE, INSTANCE_TYPE, PRICE_METRIC, ModelQueries

SEVERITIES = ("critical", "warning")
SECRET_MOUNT_DIR = "/etc/alertmanager/secrets"
"""Where each receiver Secret is mounted in the Alertmanager pod (`<dir>/<secret>/<key>`)."""
ALERTMANAGER_SERVICE_ACCOUNT = "alertmanager"
RECEIVER_KINDS = ("sns", "slack", "pagerduty", "webhook")


@dataclass(frozen=True)
class ModelAlerting:
    """What one model's alerts need."""

    model: str
    namespace: str
    response_seconds: int
    """The model's response timeout (the latency alert's threshold)."""
    cold_start_seconds: int
    """The model's cold-start budget (how long a pod may be Pending, a scale from zero may take)."""
    scale_to_zero: bool = False


@dataclass(frozen=True)
class Thresholds:
    error_rate: float = 0.05
    """Share of requests answered 5xx that fires ModelErrorRateHigh."""
    min_request_rate: float = 0.1
    """Requests per second below which the error rate is not judged (one failed probe is not an outage)."""
    error_for: str = "5m"
    latency_for: str = "5m"


@dataclass(frozen=True)
class Receiver:
    """One Alertmanager receiver. `secret`/`key`: the Kubernetes Secret (monitoring namespace) holding the Slack
    webhook URL, the PagerDuty routing key or the webhook URL; SNS needs `topic_arn` only."""

    name: str
    kind: str
    severities: tuple[str, ...] = SEVERITIES
    topic_arn: Optional[str] = None
    channel: Optional[str] = None
    secret: Optional[str] = None
    key: Optional[str] = None

    def problems(self) -> list[str]:
        out = []
        if self.kind not in RECEIVER_KINDS:
            out.append(f"receiver {self.name!r}: kind {self.kind!r}: allowed {', '.join(RECEIVER_KINDS)}")
        if self.kind == "sns" and not self.topic_arn:
            out.append(f"receiver {self.name!r}: sns needs topic_arn")
        if self.kind in ("slack", "pagerduty", "webhook") and not (self.secret and self.key):
            out.append(f"receiver {self.name!r}: {self.kind} needs secret and key")
        bad = [s for s in self.severities if s not in SEVERITIES]
        if bad or not self.severities:
            out.append(f"receiver {self.name!r}: severities {list(self.severities)}: allowed {', '.join(SEVERITIES)}")
        return out

    @property
    def secret_file(self) -> str:
        return f"{SECRET_MOUNT_DIR}/{self.secret}/{self.key}"


def _seconds(s: int) -> str:
    return f"{int(s)}s"


def model_rules(m: ModelAlerting, t: Thresholds = Thresholds()) -> dict[str, Any]:
    """The alerting rule group of one model."""
    q = ModelQueries(m.model, m.namespace, "5m")
    lbl = {"model": m.model, "namespace": m.namespace}
    rules: list[dict[str, Any]] = [
        {"alert": "ModelErrorRateHigh",
         "expr": f"({q.error_ratio}) > {t.error_rate:g} and ({q.request_rate}) >= {t.min_request_rate:g}",
         "for": t.error_for, "labels": {**lbl, "severity": "critical"},
         "annotations": {"summary": f"{m.model}: {{{{ $value | humanizePercentage }}}} of requests answered 5xx",
                         "description": f"More than {t.error_rate:.0%} of {m.model}'s requests got a 5xx for "
                                        f"{t.error_for} (model errors, timeouts, and 503s when every replica is full)."}},
        {"alert": "ModelLatencyAboveTimeout",
         "expr": f"{q.total_time_worst_replica} > {m.response_seconds}",
         "for": t.latency_for, "labels": {**lbl, "severity": "warning"},
         "annotations": {"summary": f"{m.model}: requests take {{{{ $value | humanizeDuration }}}}, over the "
                                    f"{m.response_seconds}s response timeout",
                         "description": "The slowest replica's average time per request (queue + server, last "
                                        "1024 requests) exceeds the model's response timeout: clients are cut off."}},
        {"alert": "ModelPodsPendingTooLong",
         "expr": q.pods_pending,
         "for": _seconds(m.cold_start_seconds), "labels": {**lbl, "severity": "warning"},
         "annotations": {"summary": f"{m.model}: pod {{{{ $labels.pod }}}} Pending longer than the "
                                    f"{m.cold_start_seconds}s cold-start budget",
                         "description": "Its node did not arrive (capacity, quota, spot availability) or it cannot "
                                        "be scheduled; see `modelstack get " + m.model + "` for its events."}},
    ]
    if m.scale_to_zero:
        rules.append({
            "alert": "ModelScaleFromZeroFailed",
            "expr": f"({q.replicas_desired}) > 0 and ({q.replicas_available}) == 0",
            "for": _seconds(m.cold_start_seconds), "labels": {**lbl, "severity": "critical"},
            "annotations": {"summary": f"{m.model}: scaled up from zero but no replica is available after "
                                       f"{m.cold_start_seconds}s",
                            "description": "Requests held by the interceptor time out. Check the pod's events "
                                           "(image pull, node launch, start-up probe)."}})
    return {"name": f"modelstack-{m.model}", "rules": rules}


@dataclass(frozen=True)
class Price:
    instance_type: str
    capacity_type: str
    """ON_DEMAND or SPOT (the node label's values)."""
    usd_per_hour: float


def price_rules(prices: Iterable[Price]) -> dict[str, Any]:
    """Recording rules: the price table as series, one per (instance type, capacity type), so dashboards can join
    node labels with prices (spot prices are the plan's expected spot price, not a market quote)."""
    seen: dict[tuple[str, str], Price] = {}
    for p in prices:
        seen.setdefault((p.instance_type, p.capacity_type), p)
    return {"name": "modelstack-prices", "interval": "5m", "rules": [
        {"record": PRICE_METRIC, "expr": f"vector({round(p.usd_per_hour, 6):g})",
         "labels": {INSTANCE_TYPE: p.instance_type, CAPACITY_TYPE: p.capacity_type}}
        for _, p in sorted(seen.items())]}


def alerting_rules(models: Iterable[ModelAlerting], t: Thresholds = Thresholds()) -> dict[str, Any]:
    """`alerting_rules.yml`: one group per model (sorted by name, so the file does not churn)."""
    return {"groups": [model_rules(m, t) for m in sorted(models, key=lambda m: m.model)]}


def recording_rules(prices: Iterable[Price]) -> dict[str, Any]:
    """`recording_rules.yml`."""
    return {"groups": [price_rules(prices)]}


@dataclass(frozen=True)
class AlertRouting:
    receivers: tuple[Receiver, ...] = ()
    region: str = "us-east-1"
    group_by: tuple[str, ...] = field(default=("alertname", "model"))

    def problems(self) -> list[str]:
        out = [p for r in self.receivers for p in r.problems()]
        names = [r.name for r in self.receivers]
        out += [f"receiver {n!r} given twice" for n in sorted({n for n in names if names.count(n) > 1})]
        return out


def _receiver(r: Receiver, region: str) -> dict[str, Any]:
    if r.kind == "sns":
        return {"name": r.name, "sns_configs": [{"topic_arn": r.topic_arn, "sigv4": {"region": region},
                                                 "subject": '{{ .CommonLabels.alertname }} ({{ .CommonLabels.model }})',
                                                 "send_resolved": True}]}
    if r.kind == "slack":
        cfg: dict[str, Any] = {"api_url_file": r.secret_file, "send_resolved": True}
        if r.channel:
            cfg["channel"] = r.channel
        return {"name": r.name, "slack_configs": [cfg]}
    if r.kind == "pagerduty":
        return {"name": r.name, "pagerduty_configs": [{"routing_key_file": r.secret_file, "send_resolved": True}]}
    return {"name": r.name, "webhook_configs": [{"url_file": r.secret_file, "send_resolved": True}]}


NULL_RECEIVER = "modelstack-null"
"""Root receiver with no integrations: alerts that match no receiver's severities go nowhere."""


def alertmanager_config(routing: AlertRouting) -> dict[str, Any]:
    """alertmanager.yml: every receiver gets the alerts of its severities (`continue`, so several can)."""
    problems = routing.problems()
    if problems:
        raise ValueError("alert routing: " + "; ".join(problems))
    return {
        "receivers": [{"name": NULL_RECEIVER}] + [_receiver(r, routing.region) for r in routing.receivers],
        "route": {
            "receiver": NULL_RECEIVER, "group_by": list(routing.group_by),
            "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h",
            "routes": [{"receiver": r.name, "matchers": [f'severity=~"{"|".join(r.severities)}"'], "continue": True}
                       for r in routing.receivers],
        },
    }


def secret_mounts(routing: AlertRouting) -> list[dict[str, Any]]:
    """The alertmanager chart's `extraSecretMounts`: one read-only mount per Secret the receivers name."""
    names = sorted({r.secret for r in routing.receivers if r.secret})
    return [{"name": f"receiver-{n}", "mountPath": f"{SECRET_MOUNT_DIR}/{n}", "secretName": n, "readOnly": True}
            for n in names]


def sns_publish_policy(topic_arns: Iterable[str]) -> dict[str, Any]:
    """Alertmanager's role: publish to the configured topics only."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "PublishAlerts", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": sorted(set(topic_arns))}]}
