"""Latency percentiles of a model from its load balancer: CloudWatch's `TargetResponseTime` of the ALB target group
the AWS Load Balancer Controller bound to the model's Service.

HAProxy's exporter has no histogram, so Prometheus cannot give a percentile; the ALB's own metric can. Facts
(recorded in data/UPSTREAM.md):
- `TargetGroupBinding` (`elbv2.k8s.aws/v1beta1`, the storage version in the aws-load-balancer-controller chart
  3.5.0's CRDs) names the target group in `spec.targetGroupARN` and the Service in `spec.serviceRef.name`.
- `AWS/ApplicationELB` `TargetResponseTime` (seconds, request leaving the load balancer to the target's response
  headers; health checks excluded; reported only while requests flow), dimensions `LoadBalancer` and
  `TargetGroup` (the ARNs' resource parts, `app/...` and `targetgroup/...`), percentile statistics `pNN`.

Models routed through the KEDA interceptor (scale to zero, in_flight) share the interceptor's target group, so no
per-model figure exists for them; they are said to be unavailable, with that reason. Reads make no AWS call unless
a target group is bound (the e2e cluster has none, so it never leaves loopback).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Iterable, Mapping, Optional

from modelstack.ops.kube import KubeError

TGB_API = "/apis/elbv2.k8s.aws/v1beta1"
NAMESPACE = "AWS/ApplicationELB"
METRIC = "TargetResponseTime"
STATISTICS = ("p50", "p99")
PERIOD_S = 300
"""One 5-minute percentile: the newest complete period (percentiles of periods cannot be combined)."""


class LatencyUnavailable(Exception):
    """No percentile can be read; the message says why."""


def bound_target_groups(bindings: Iterable[Mapping[str, Any]], service: str) -> list[str]:
    """ARNs of the target groups bound to `service` (one per Ingress group that routes to it)."""
    arns = []
    for b in bindings:
        spec = b.get("spec") or {}
        if (spec.get("serviceRef") or {}).get("name") == service and spec.get("targetGroupARN"):
            arns.append(spec["targetGroupARN"])
    return sorted(set(arns))


def arn_resource(arn: str, kind: str) -> str:
    """The CloudWatch dimension value of an ELB ARN: `targetgroup/<name>/<id>` or `app/<name>/<id>`."""
    marker = f":{kind}/"
    if marker not in arn:
        raise LatencyUnavailable(f"{arn!r} is not an ELB {kind} ARN")
    rest = arn.split(marker, 1)[1]
    return rest if kind == "loadbalancer" else f"{kind}/{rest}"


def metric_queries(target_group_arn: str, load_balancer_arn: str) -> list[dict[str, Any]]:
    """GetMetricData queries: p50 and p99 of TargetResponseTime for one target group behind one load balancer."""
    dims = [{"Name": "LoadBalancer", "Value": arn_resource(load_balancer_arn, "loadbalancer")},
            {"Name": "TargetGroup", "Value": arn_resource(target_group_arn, "targetgroup")}]
    return [{"Id": stat, "ReturnData": True,
             "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": METRIC, "Dimensions": dims},
                            "Period": PERIOD_S, "Stat": stat, "Unit": "Seconds"}} for stat in STATISTICS]


def window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The last three complete periods (CloudWatch publishes a minute or two late; the newest with data is used)."""
    end = now.replace(second=0, microsecond=0)
    end -= dt.timedelta(minutes=end.minute % (PERIOD_S // 60))
    return end - dt.timedelta(seconds=3 * PERIOD_S), end


def newest(results: Iterable[Mapping[str, Any]]) -> dict[str, Optional[float]]:
    """{p50, p99}: each statistic's value at the newest timestamp the p99 has (None when nothing was reported)."""
    by_id = {r["Id"]: dict(zip(r.get("Timestamps") or [], r.get("Values") or [])) for r in results}
    stamps = sorted(by_id.get("p99", {}), reverse=True)
    if not stamps:
        return {s: None for s in STATISTICS}
    return {s: by_id.get(s, {}).get(stamps[0]) for s in STATISTICS}


def percentiles(cloudwatch: Any, elbv2: Any, target_group_arns: list[str],
                now: Optional[dt.datetime] = None) -> dict[str, Any]:
    """p50/p99 seconds of each bound target group, and the largest of them as the model's."""
    if not target_group_arns:
        raise LatencyUnavailable("no target group is bound to the model's Service")
    start, end = window(now or dt.datetime.now(dt.timezone.utc))
    groups = []
    try:
        described = elbv2.describe_target_groups(TargetGroupArns=target_group_arns)["TargetGroups"]
        for tg in described:
            for lb in tg.get("LoadBalancerArns") or []:
                got = cloudwatch.get_metric_data(MetricDataQueries=metric_queries(tg["TargetGroupArn"], lb),
                                                 StartTime=start, EndTime=end)
                groups.append({"target_group": tg["TargetGroupArn"], "load_balancer": lb,
                               **{f"{k}_seconds": v for k, v in newest(got["MetricDataResults"]).items()}})
    except LatencyUnavailable:
        raise
    except Exception as e:  # noqa: BLE001 - botocore's errors (credentials, endpoint, ClientError) are many types
        raise LatencyUnavailable(f"CloudWatch/ELB could not be read: {type(e).__name__}: {e}") from None
    if not groups:
        raise LatencyUnavailable("the bound target group is attached to no load balancer")
    known = [g for g in groups if g["p99_seconds"] is not None]
    if not known:
        raise LatencyUnavailable("the load balancer reported no TargetResponseTime in the last 15 minutes "
                                 "(it reports only while requests flow)")
    worst = max(known, key=lambda g: g["p99_seconds"])
    return {"p50_seconds": worst["p50_seconds"], "p99_seconds": worst["p99_seconds"],
            "source": f"ALB {METRIC} (CloudWatch, {PERIOD_S // 60}-minute period)", "target_groups": groups}


def reader(kube: Any, region: str, clients: Optional[Callable[[str, str], Any]] = None
           ) -> Callable[[str, Optional[str]], dict[str, Any]]:
    """`read(namespace, service)` for `status.gather`: the model's percentiles, or {available: False, reason}."""
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            if clients is not None:
                made[service] = clients(service, region)
            else:
                import boto3
                made[service] = boto3.client(service, region_name=region)
        return made[service]

    def read(namespace: str, service: Optional[str]) -> dict[str, Any]:
        if not service:
            return {"available": False, "reason": "the stack's outputs name no Service for this model"}
        try:
            got = kube.get(f"{TGB_API}/namespaces/{namespace}/targetgroupbindings")
        except KubeError as e:
            return {"available": False, "reason": f"TargetGroupBindings could not be read: {e}"}
        if got is None:
            return {"available": False, "reason": "no TargetGroupBinding API (no AWS Load Balancer Controller, so no ALB)"}
        arns = bound_target_groups(got.get("items") or [], service)
        if not arns:
            return {"available": False, "reason": f"no ALB target group is bound to service {namespace}/{service} "
                                                  "(models behind the KEDA interceptor share its target group)"}
        try:
            return {"available": True, **percentiles(client("cloudwatch"), client("elbv2"), arns)}
        except LatencyUnavailable as e:
            return {"available": False, "reason": str(e)}

    return read
