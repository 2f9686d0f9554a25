"""modelstack get's pure parts: rollout state, scaling (ScaledObject + KEDA's HPA), cost share, events, rendering.
Objects are shaped as the API server returns them (apps/v1 Deployment, autoscaling/v2 HPA, keda.sh/v1alpha1)."""

from __future__ import annotations

import datetime as dt

import pytest

from modelstack.capacity import pricing
from modelstack.ops import status
from modelstack.ops.prom import Prometheus, PrometheusUnavailable

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
BOOK = pricing.price_book("us-east-1")


def deployment(name="sentiment", desired=3, ready=3, updated=3, total=3, gen=2, observed=2, reason="NewReplicaSetAvailable",
               image="r.example.com/sentiment:1.0"):
    return {"metadata": {"name": name, "generation": gen, "annotations": {"deployment.kubernetes.io/revision": "2"}},
            "spec": {"replicas": desired, "template": {"spec": {"containers": [{"name": "model", "image": image},
                                                                              {"name": "proxy", "image": "haproxy"}]}}},
            "status": {"observedGeneration": observed, "replicas": total, "readyReplicas": ready, "updatedReplicas": updated,
                       "conditions": [{"type": "Progressing", "status": "True", "reason": reason, "message": "m"}]}}


@pytest.mark.parametrize("kw,state", [
    ({}, "complete"),
    ({"updated": 1, "total": 4}, "in progress"),
    ({"ready": 2}, "in progress"),
    ({"gen": 3}, "pending"),
    ({"reason": "ProgressDeadlineExceeded", "updated": 1}, "failed"),
])
def test_rollout_state(kw, state):
    assert status.rollout(deployment(**kw))["state"] == state


def scaled_object(lo=1, hi=10, trigger="cpu"):
    return {"spec": {"minReplicaCount": lo, "maxReplicaCount": hi, "triggers": [{"type": trigger}]},
            "status": {"hpaName": "keda-hpa-sentiment", "conditions": [{"type": "Ready", "status": "True"}]}}


def test_scaling_adds_the_floor_and_reads_the_hpas_signal():
    hpa = {"spec": {"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                              "averageUtilization": 60}}}]},
           "status": {"desiredReplicas": 4, "currentMetrics": [
               {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 72, "averageValue": "720m"}}}]}}
    s = status.scaling(scaled_object(1, 18), hpa, floor=2, current=3)
    assert (s["min"], s["max"], s["on_demand_floor"], s["current"]) == (3, 20, 2, 3)
    assert s["signal"] == [{"metric": "cpu", "value": 72.0, "unit": "% utilization", "target": 60.0}]
    assert s["hpa_desired"] == 4


def test_scaling_of_an_external_metric_and_without_an_hpa():
    hpa = {"spec": {"metrics": [{"type": "External", "external": {"metric": {"name": "s0-in-flight"},
                                                                  "target": {"type": "AverageValue", "averageValue": "4"}}}]},
           "status": {"currentMetrics": [{"type": "External", "external": {"metric": {"name": "s0-in-flight"},
                                                                           "current": {"averageValue": "2500m"}}}]}}
    s = status.scaling(scaled_object(trigger="external-push"), hpa, floor=0, current=1)
    assert s["signal"][0]["value"] == 2.5 and s["signal"][0]["target"] == 4.0
    none = status.scaling(scaled_object(), None, floor=0, current=1)
    assert none["signal"] is None and "no HPA" in none["note"]


def node(name, itype, cap, cpu="4", mem="16Gi", gpu=None):
    alloc = {"cpu": cpu, "memory": mem, **({"nvidia.com/gpu": gpu} if gpu else {})}
    return {"metadata": {"name": name, "labels": {"node.kubernetes.io/instance-type": itype,
                                                  "eks.amazonaws.com/capacityType": cap,
                                                  "topology.kubernetes.io/zone": "us-east-1a"}},
            "status": {"allocatable": alloc, "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name, node_name, cpu="1", mem="2Gi", gpu=None):
    req = {"cpu": cpu, "memory": mem, **({"nvidia.com/gpu": gpu} if gpu else {})}
    return {"metadata": {"name": name, "labels": {}, "creationTimestamp": "2026-12-01T11:00:00Z"},
            "spec": {"nodeName": node_name, "containers": [{"name": "model", "resources": {"requests": req}},
                                                           {"name": "proxy", "resources": {"requests": {"cpu": "100m"}}}]},
            "status": {"phase": "Running", "containerStatuses": [{"ready": True, "restartCount": 1}]}}


def test_cost_is_the_dominant_share_of_each_node_at_its_price():
    cat = pricing.catalog()
    nodes = {"a": node("a", "m6a.xlarge", "ON_DEMAND"), "g": node("g", "g6.xlarge", "SPOT", gpu="1")}
    pods = [pod("p1", "a", cpu="1", mem="2Gi"),  # cpu 1.1 of 4 dominates memory 2 of 16
            pod("p2", "g", cpu="1", gpu="1"),   # the whole GPU: the whole node
            pod("p3", None)]                    # pending: costs nothing yet
    c = status.cost(pods, nodes, BOOK)
    want = BOOK.on_demand(cat["m6a.xlarge"]) * 1.1 / 4 + BOOK.spot(cat["g6.xlarge"])
    assert c["usd_per_hour"] == pytest.approx(want, abs=1e-4)
    assert c["pods_priced"] == 2


def test_a_node_outside_the_price_table_is_named_not_guessed():
    c = status.cost([pod("p", "x")], {"x": node("x", "z9.huge", "ON_DEMAND")}, BOOK)
    assert c["usd_per_hour"] == 0 and c["unpriced"] == ["x: instance type 'z9.huge' not in the price table"]


def test_karpenter_capacity_label_is_read():
    n = node("k", "m6a.xlarge", "ON_DEMAND")
    del n["metadata"]["labels"]["eks.amazonaws.com/capacityType"]
    n["metadata"]["labels"]["karpenter.sh/capacity-type"] = "spot"
    assert status.node_capacity_type(n) == "SPOT"


def event(kind, name, reason, ts):
    return {"involvedObject": {"kind": kind, "name": name}, "reason": reason, "type": "Normal", "lastTimestamp": ts,
            "message": reason}


def test_events_are_the_models_own():
    evs = [event("Deployment", "sentiment", "ScalingReplicaSet", "2026-12-01T11:59:00Z"),
           event("ReplicaSet", "sentiment-7d4f9", "SuccessfulCreate", "2026-12-01T11:59:01Z"),
           event("Pod", "sentiment-7d4f9-abcde", "Scheduled", "2026-12-01T11:59:02Z"),
           event("Pod", "sentiment-7d4f9-gone1", "FailedScheduling", "2026-12-01T11:59:03Z"),
           event("Deployment", "sentiment-canary", "ScalingReplicaSet", "2026-12-01T11:59:04Z"),
           event("ReplicaSet", "sentiment-canary-5c8b7", "SuccessfulCreate", "2026-12-01T11:59:05Z"),
           event("Pod", "sentiment-canary-5c8b7-xyz12", "Scheduled", "2026-12-01T11:59:06Z")]
    rows = status.event_rows(evs, {"sentiment", "sentiment-7d4f9-abcde"}, {"sentiment", "sentiment-on-demand"}, NOW)
    assert [r["object"] for r in rows] == ["Deployment/sentiment", "ReplicaSet/sentiment-7d4f9",
                                           "Pod/sentiment-7d4f9-abcde", "Pod/sentiment-7d4f9-gone1"]
    assert rows[0]["age"] == "60s"


class _Fetch:
    def __init__(self, answers):
        self.answers, self.asked = answers, []

    def __call__(self, path, params):
        self.asked.append(params["query"])
        a = self.answers(params["query"])
        if isinstance(a, Exception):
            raise a
        return a


def _vector(v):
    return {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, v]}]}}


def test_live_metrics_from_prometheus_and_nan_is_not_a_number():
    f = _Fetch(lambda q: _vector("NaN") if "response_time" in q else _vector("2.5"))
    live = status.live_metrics(Prometheus(f, "test"), "sentiment", "models")
    assert live.available and live.values["requests_per_second"] == 2.5
    assert live.values["response_seconds_avg"] is None
    assert all('modelstack_io_model="sentiment"' in q for q in f.asked)


def test_without_prometheus_get_says_why_and_shows_no_number():
    f = _Fetch(lambda q: PrometheusUnavailable("service monitoring/prometheus-server not found"))
    live = status.live_metrics(Prometheus(f, "test"), "sentiment", "models")
    assert not live.available and live.values == {} and "not found" in live.reason
    st = status.model_status("sentiment", {"namespace": "models", "deployment": "sentiment",
                                           "endpoint": "https://pending-load-balancer.invalid/sentiment"},
                             [deployment()], scaled_object(), None, [], {}, BOOK, live)
    assert st["metrics"] == {"available": False, "reason": "service monitoring/prometheus-server not found"}
    assert st["endpoint"] is None and st["endpoint_note"] == "the load balancer has no address yet"
    text = status.render_stack("prod", {"prometheus": {"available": False, "reason": "x"}, "models": [st],
                                        "cost_per_hour": {"models_usd": 0.0, "nodes_usd": None}})
    assert "n/a" in text and "Prometheus could not be asked: x" in text
