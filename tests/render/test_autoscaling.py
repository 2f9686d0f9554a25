"""The Cortex knob -> KEDA/HPA mapping, value by value (pure: no mocks)."""

from __future__ import annotations

import pytest

from modelstack.render import autoscaling
from modelstack.render.autoscaling import Knobs, Target
from modelstack.serving.model_api import ModelAPI

T = Target(deployment="sentiment", namespace="models", container="model", interceptor_route="sentiment")


def test_cortex_defaults_map_to_this_behavior() -> None:
    assert autoscaling.behavior(Knobs()) == {
        "scaleUp": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
            {"type": "Percent", "value": 50, "periodSeconds": 15}, {"type": "Pods", "value": 1, "periodSeconds": 15}]},
        "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max", "policies": [
            {"type": "Percent", "value": 25, "periodSeconds": 15}, {"type": "Pods", "value": 1, "periodSeconds": 15}]},
    }


def test_default_scaled_object_spec() -> None:
    assert autoscaling.scaled_object_spec(Knobs(), T) == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sentiment"},
        "pollingInterval": 10,
        "cooldownPeriod": 300,
        "minReplicaCount": 1,
        "maxReplicaCount": 100,
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": autoscaling.behavior(Knobs())}},
        "triggers": [{"type": "external-push", "name": "in-flight", "metadata": {
            "scalerAddress": "keda-add-ons-http-external-scaler.keda:9090", "interceptorRoute": "sentiment"}}],
    }


@pytest.mark.parametrize("factor, percent", [(1.5, 50), (2.0, 100), (3.0, 200), (1.001, 1), (100.0, 9900)])
def test_upscale_factor_to_percent(factor: float, percent: int) -> None:
    assert autoscaling.percent_up(factor) == percent


@pytest.mark.parametrize("factor, percent", [(0.75, 25), (0.5, 50), (0.999, 1), (0.01, 99)])
def test_downscale_factor_to_percent(factor: float, percent: int) -> None:
    assert autoscaling.percent_down(factor) == percent


@pytest.mark.parametrize("target, value", [(1, 1), (4, 4), (0.3, 1), (2.5, 3), (2.4, 2)])
def test_target_in_flight_to_concurrency(target: float, value: int) -> None:
    assert autoscaling.concurrency_target(target) == value


def test_knobs_land_where_the_table_says() -> None:
    k = Knobs(min_replicas=2, max_replicas=20, upscale_stabilization_seconds=30, downscale_stabilization_seconds=600,
              max_upscale_factor=2.0, max_downscale_factor=0.5, target_in_flight=8)
    spec = autoscaling.scaled_object_spec(k, T)
    b = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"], spec["cooldownPeriod"]) == (2, 20, 600)
    assert b["scaleUp"]["stabilizationWindowSeconds"] == 30
    assert b["scaleDown"]["stabilizationWindowSeconds"] == 600
    assert b["scaleUp"]["policies"][0] == {"type": "Percent", "value": 100, "periodSeconds": 15}
    assert b["scaleDown"]["policies"][0] == {"type": "Percent", "value": 50, "periodSeconds": 15}
    assert "tolerance" not in b["scaleUp"] and "tolerance" not in b["scaleDown"]
    route = autoscaling.interceptor_route_spec(k, service="sentiment", port=8080, path="/sentiment",
                                               readiness_seconds=360, response_seconds=600)
    # Routing, the concurrency target and timeouts only: replicas and cooldown live on our ScaledObject.
    assert route == {
        "target": {"service": "sentiment", "port": 8080},
        "rules": [{"paths": [{"value": "/sentiment"}]}],
        "scalingMetric": {"concurrency": {"targetValue": 8}},
        "timeouts": {"readiness": "360s", "responseHeader": "600s"},
    }


def test_mapping_table_names_every_cortex_knob() -> None:
    knobs = {m.knob for m in autoscaling.MAPPING}
    assert {"min_replicas", "max_replicas", "init_replicas", "target_in_flight", "window", "upscale_stabilization",
            "downscale_stabilization", "max_upscale_factor", "max_downscale_factor", "upscale_tolerance",
            "downscale_tolerance", "scale_to_zero"} <= knobs
    assert autoscaling.mapping_table().splitlines()[0].split() == ["min_replicas", "1", "ScaledObject.spec.minReplicaCount"]


def test_docstring_carries_the_mapping_table() -> None:
    doc = ModelAPI.__doc__ or ""
    for line in autoscaling.mapping_table().splitlines():
        assert line in doc


def test_scale_to_zero() -> None:
    k = Knobs(min_replicas=0, max_replicas=3, scale_to_zero=True, downscale_stabilization_seconds=120)
    spec = autoscaling.scaled_object_spec(k, T)
    assert (spec["minReplicaCount"], spec["maxReplicaCount"], spec["cooldownPeriod"]) == (0, 3, 120)
    assert spec["triggers"][0]["type"] == "external-push"


@pytest.mark.parametrize("knobs, message", [
    (Knobs(min_replicas=0), "min_replicas 0 needs scale_to_zero true"),
    (Knobs(scale_to_zero=True), "scale_to_zero needs min_replicas 0 (got 1)"),
    (Knobs(min_replicas=0, scale_to_zero=True, signal="cpu", target_utilization=50), "scale_to_zero with signal 'cpu'"),
    (Knobs(min_replicas=5, max_replicas=2), "min_replicas 5 is above max_replicas 2"),
    (Knobs(init_replicas=200), "init_replicas 200 is outside [1, 100]"),
    (Knobs(signal="cpu"), "signal 'cpu' needs target_utilization from 1 to 100"),
    (Knobs(signal="prometheus"), "signal 'prometheus' needs prometheus_query and prometheus_threshold > 0"),
    (Knobs(signal="rps"), "signal 'rps': allowed in_flight, cpu, gpu, prometheus"),
    (Knobs(max_upscale_factor=1.0), "max_upscale_factor 1.0 must be > 1"),
    (Knobs(max_downscale_factor=1.0), "max_downscale_factor 1.0 must be in (0, 1)"),
    (Knobs(window_seconds=5), "window_seconds 5 must be >= 10"),
])
def test_inconsistent_knobs_are_rejected(knobs: Knobs, message: str) -> None:
    with pytest.raises(ValueError, match="autoscaling: .*" + __import__("re").escape(message)):
        autoscaling.scaled_object_spec(knobs, T)


def test_cpu_trigger() -> None:
    assert autoscaling.triggers(Knobs(signal="cpu", target_utilization=70), T) == [
        {"type": "cpu", "name": "cpu", "metricType": "Utilization", "metadata": {"value": "70", "containerName": "model"}}]


def test_gpu_trigger_averages_dcgm_over_the_window() -> None:
    t = Target(deployment="vision", namespace="models", container="model", prometheus_address="http://prom:9090")
    assert autoscaling.triggers(Knobs(signal="gpu", target_utilization=80, window_seconds=120), t) == [
        {"type": "prometheus", "name": "gpu-utilization", "metricType": "Value", "metadata": {
            "serverAddress": "http://prom:9090",
            "query": 'avg(avg_over_time(DCGM_FI_DEV_GPU_UTIL{namespace="models",pod=~"vision-[a-z0-9]+-[a-z0-9]+",'
                     'container="model"}[120s]))',
            "threshold": "80"}}]


def test_prometheus_trigger_takes_the_query_as_given() -> None:
    t = Target(deployment="r", namespace="models", container="model", prometheus_address="http://prom:9090")
    k = Knobs(signal="prometheus", prometheus_query="sum(rate(x[1m]))", prometheus_threshold=50.0)
    assert autoscaling.triggers(k, t) == [{"type": "prometheus", "name": "prometheus", "metricType": "AverageValue",
                                           "metadata": {"serverAddress": "http://prom:9090", "query": "sum(rate(x[1m]))",
                                                        "threshold": "50"}}]


def test_prometheus_signals_need_an_address() -> None:
    with pytest.raises(ValueError, match="signal 'gpu' needs prometheus_address"):
        autoscaling.triggers(Knobs(signal="gpu", target_utilization=80), T)


def test_on_demand_floor_reduces_bounds() -> None:
    k = Knobs(min_replicas=2, max_replicas=10)
    t = Target(deployment="m", namespace="models", container="model", interceptor_route="m", replicas_offset=3)
    spec = autoscaling.scaled_object_spec(k, t)
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (0, 7)
    with pytest.raises(ValueError, match="use on_demand_base < max_replicas"):
        autoscaling.scaled_object_spec(Knobs(min_replicas=2, max_replicas=3),
                                       Target(deployment="m", namespace="models", container="model", replicas_offset=3))


def test_gpu_query_selects_only_the_deployments_own_pods() -> None:
    import re
    q = autoscaling.gpu_query("models", "vision", "model", 60)
    pod_re = re.search(r'pod=~"([^"]+)"', q).group(1)  # Prometheus anchors regex matchers: fullmatch
    assert re.fullmatch(pod_re, "vision-7d4b9c8f5b-x2x7k")
    for other in ("vision-v2-7d4b9c8f5b-x2x7k", "vision-on-demand-7d4b9c8f5b-x2x7k", "xvision-7d4b9c8f5b-x2x7k"):
        assert not re.fullmatch(pod_re, other), other


def test_a_scale_to_zero_route_stays_active_while_requests_arrive() -> None:
    # The add-on's activity is "a metric above 0": concurrency alone is 0 between light requests, so the route also
    # reports its request rate over a window; the rate's target is out of reach, so replicas follow concurrency.
    zero = autoscaling.Knobs(min_replicas=0, max_replicas=2, scale_to_zero=True, target_in_flight=2)
    route = autoscaling.interceptor_route_spec(zero, service="m", port=8080, path="/m", readiness_seconds=360,
                                               response_seconds=600)
    assert route["scalingMetric"] == {
        "concurrency": {"targetValue": 2},
        "requestRate": {"targetValue": autoscaling.ACTIVITY_RATE_TARGET,
                        "window": f"{autoscaling.ACTIVITY_WINDOW_SECONDS}s", "granularity": "1s"}}
    warm = autoscaling.Knobs(min_replicas=1, max_replicas=2, target_in_flight=2)
    assert "requestRate" not in autoscaling.interceptor_route_spec(
        warm, service="m", port=8080, path="/m", readiness_seconds=360, response_seconds=600)["scalingMetric"]
