"""p50/p99 of a model from its ALB target group: TargetGroupBindings from the API server, DescribeTargetGroups and
GetMetricData through botocore's Stubber (which holds every request and response to the services' models)."""

from __future__ import annotations

import datetime as dt

import boto3
from botocore.stub import Stubber

from modelstack.ops import alb, status

REGION = "us-east-1"
TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/k8s-models-sentimen-0a1b2c3d4e/73e2d6bc24d8a067"
LB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/k8s-models-1f2e3d4c5b/50dc6c495c0c9188"
NOW = dt.datetime(2026, 12, 3, 8, 7, 30, tzinfo=dt.timezone.utc)


def binding(service: str, arn: str = TG) -> dict:
    return {"apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
            "spec": {"serviceRef": {"name": service, "port": 80}, "targetGroupARN": arn, "targetType": "ip"}}


class FakeKube:
    def __init__(self, items=None, missing=False):
        self.items, self.missing, self.asked = items or [], missing, []

    def get(self, path):
        self.asked.append(path)
        return None if self.missing else {"items": self.items}


def clients():
    made = {s: boto3.client(s, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
            for s in ("cloudwatch", "elbv2")}
    return made, (lambda service, region: made[service])


def test_dimensions_are_the_arns_resource_parts():
    assert alb.arn_resource(TG, "targetgroup") == "targetgroup/k8s-models-sentimen-0a1b2c3d4e/73e2d6bc24d8a067"
    assert alb.arn_resource(LB, "loadbalancer") == "app/k8s-models-1f2e3d4c5b/50dc6c495c0c9188"


def test_the_window_ends_on_a_period_boundary_and_covers_three_periods():
    start, end = alb.window(NOW)
    assert end == dt.datetime(2026, 12, 3, 8, 5, tzinfo=dt.timezone.utc)
    assert (end - start).total_seconds() == 3 * alb.PERIOD_S


def test_only_the_models_own_service_is_read():
    items = [binding("sentiment"), binding("other", TG.replace("73e2", "0000"))]
    assert alb.bound_target_groups(items, "sentiment") == [TG]
    assert alb.bound_target_groups(items, "nobody") == []


def test_percentiles_are_the_newest_period_of_the_bound_target_group():
    made, factory = clients()
    start, end = alb.window(NOW)
    t1, t2 = end - dt.timedelta(minutes=10), end - dt.timedelta(minutes=5)
    with Stubber(made["elbv2"]) as e, Stubber(made["cloudwatch"]) as c:
        e.add_response("describe_target_groups",
                       {"TargetGroups": [{"TargetGroupArn": TG, "LoadBalancerArns": [LB]}]}, {"TargetGroupArns": [TG]})
        c.add_response("get_metric_data", {"MetricDataResults": [
            {"Id": "p50", "Timestamps": [t2, t1], "Values": [0.021, 0.030], "StatusCode": "Complete"},
            {"Id": "p99", "Timestamps": [t2, t1], "Values": [0.180, 0.400], "StatusCode": "Complete"}]},
            {"MetricDataQueries": alb.metric_queries(TG, LB), "StartTime": start, "EndTime": end})
        got = alb.percentiles(made["cloudwatch"], made["elbv2"], [TG], now=NOW)
        e.assert_no_pending_responses()
        c.assert_no_pending_responses()
    assert (got["p50_seconds"], got["p99_seconds"]) == (0.021, 0.180)
    q = alb.metric_queries(TG, LB)[1]["MetricStat"]
    assert q["Metric"]["Namespace"] == "AWS/ApplicationELB" and q["Metric"]["MetricName"] == "TargetResponseTime"
    assert q["Stat"] == "p99" and {d["Name"] for d in q["Metric"]["Dimensions"]} == {"LoadBalancer", "TargetGroup"}


def test_no_traffic_no_number():
    made, factory = clients()
    with Stubber(made["elbv2"]) as e, Stubber(made["cloudwatch"]) as c:
        e.add_response("describe_target_groups", {"TargetGroups": [{"TargetGroupArn": TG, "LoadBalancerArns": [LB]}]})
        c.add_response("get_metric_data", {"MetricDataResults": [{"Id": "p50"}, {"Id": "p99"}]})
        read = alb.reader(FakeKube([binding("sentiment")]), REGION, factory)
        got = read("models", "sentiment")
    assert got == {"available": False, "reason": "the load balancer reported no TargetResponseTime in the last 15 "
                                                 "minutes (it reports only while requests flow)"}


def test_without_a_load_balancer_controller_no_aws_call_is_made():
    def refuse(service, region):
        raise AssertionError("AWS was asked")
    kube = FakeKube(missing=True)
    got = alb.reader(kube, REGION, refuse)("models", "sentiment")
    assert got["available"] is False and "no AWS Load Balancer Controller" in got["reason"]
    assert kube.asked == ["/apis/elbv2.k8s.aws/v1beta1/namespaces/models/targetgroupbindings"]
    # A model behind the interceptor: its Service is bound to no target group.
    got = alb.reader(FakeKube([binding("interceptor")]), REGION, refuse)("models", "sentiment")
    assert got["available"] is False and "KEDA interceptor" in got["reason"]


def test_an_aws_error_is_a_reason_not_a_traceback():
    made, factory = clients()
    with Stubber(made["elbv2"]) as e:
        e.add_client_error("describe_target_groups", "AccessDenied", "not allowed")
        got = alb.reader(FakeKube([binding("sentiment")]), REGION, factory)("models", "sentiment")
    assert got["available"] is False and "AccessDenied" in got["reason"]


def test_get_shows_the_percentiles_or_why_not():
    base = {"model": "sentiment", "namespace": "models", "endpoint": "http://x/sentiment", "image": "i:1",
            "replicas": {"ready": 1, "desired": 1, "up_to_date": 1},
            "scaling": {"current": 1, "min": 1, "max": 2, "signal": []}, "rollout": {"state": "complete", "deployments": []},
            "metrics": {"available": False, "reason": "no Prometheus"},
            "cost": {"usd_per_hour": 0.1, "pods_priced": 1, "basis": "b"}, "pods": [], "nodes": [], "events": []}
    have = {**base, "latency": {"available": True, "p50_seconds": 0.021, "p99_seconds": 0.18,
                                "source": "ALB TargetResponseTime (CloudWatch, 5-minute period)"}}
    lacking = {**base, "model": "b", "latency": {"available": False, "reason": "no ALB"}}
    st = {"prometheus": {"available": False, "reason": "none"}, "models": [have, lacking],
          "cost_per_hour": {"models_usd": 0.2, "nodes_usd": None}}
    text = status.render_stack("prod", st)
    assert "0.021s/0.180s" in text and "p50/p99: not available: no ALB" in text
    assert "p50/p99: from the ALB TargetResponseTime (CloudWatch, 5-minute period)" in text
    one = status.render_model("prod", {**st, "models": [have]})
    assert "latency    p50 0.021s, p99 0.180s" in one
