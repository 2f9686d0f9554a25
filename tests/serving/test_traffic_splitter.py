"""TrafficSplitter: weights, the ALB forward action, and rejection before anything registers."""

from __future__ import annotations

import json

import pytest

from modelstack.serving.model_api import ModelAPI
from modelstack.serving.traffic_splitter import TrafficSplitter

ING = "kubernetes:networking.k8s.io/v1:Ingress"


def split_args(weights: dict[str, int], **ingress) -> dict:
    return {"backends": [{"service": s, "weight": w} for s, w in weights.items()],
            "ingress": {"group_name": "c1-models", **ingress}, "team": "nlp", "environment": "dev"}


def test_weighted_forward_action(run) -> None:
    r = run(lambda: TrafficSplitter("sentiment-canary", split_args({"sentiment": 90, "sentiment-v2": 10}, path="/sentiment-ab")))
    comp = r.named("sentiment-canary", "modelstack:index:TrafficSplitter")
    assert [(c.type, c.name) for c in r.children(comp)] == [(ING, "sentiment-canary-ingress")]
    ing = r.named("sentiment-canary-ingress", ING).inputs
    ann = ing["metadata"]["annotations"]
    assert json.loads(ann["alb.ingress.kubernetes.io/actions.sentiment-canary"]) == {
        "type": "forward", "forwardConfig": {"targetGroups": [
            {"serviceName": "sentiment", "servicePort": 8080, "weight": 90},
            {"serviceName": "sentiment-v2", "servicePort": 8080, "weight": 10}]}}
    assert ann["alb.ingress.kubernetes.io/group.name"] == "c1-models"
    assert ing["metadata"]["namespace"] == "models"
    assert ing["spec"]["rules"][0]["http"]["paths"][0] == {"path": "/sentiment-ab", "pathType": "Prefix", "backend": {
        "service": {"name": "sentiment-canary", "port": {"name": "use-annotation"}}}}


@pytest.mark.parametrize("weights, message", [
    ({"a": 90, "b": 20}, "traffic split 's': weights must sum to 100, got a=90, b=20 (sum 110)"),
    ({"a": 50, "b": 40}, "traffic split 's': weights must sum to 100, got a=50, b=40 (sum 90)"),
    ({"a": 101, "b": -1}, "traffic split 's': weights must be whole numbers from 0 to 100 (got a=101, b=-1)"),
    ({}, "traffic split 's': needs at least one backend"),
    ({f"m{i}": 10 if i else 50 for i in range(6)}, "at most 5 backends"),
])
def test_bad_weights_raise_before_anything_registers(run, weights: dict[str, int], message: str) -> None:
    errors: list[str] = []

    def program() -> None:
        try:
            TrafficSplitter("s", split_args(weights))
        except ValueError as e:
            errors.append(str(e))
    r = run(program)
    assert len(errors) == 1 and message in errors[0]
    assert r.resources == []


def test_split_path_collides_with_a_model(run) -> None:
    def program() -> None:
        ModelAPI("sentiment", {"image": "ghcr.io/acme/s:1", "ingress": {"group_name": "c1-models"}})
        TrafficSplitter("s", split_args({"sentiment": 100}, path="/sentiment"))
    with pytest.raises(ValueError, match="traffic split 's': path '/sentiment' on load balancer group 'c1-models' is "
                                         "already used by ModelAPI 'sentiment'"):
        run(program)


def test_default_path_and_tls_endpoint(run) -> None:
    cert = "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-1111-2222-3333-444455556666"

    def program() -> None:
        import pulumi
        s = TrafficSplitter("canary", split_args({"a": 50, "b": 50}, certificate_arn=cert))
        pulumi.export("endpoint", s.endpoint)
        pulumi.export("path", s.path)
    r = run(program)
    assert r.exports == {"endpoint": "https://pending-load-balancer.invalid/canary", "path": "/canary"}


def test_default_namespace_is_rejected(run) -> None:
    with pytest.raises(ValueError, match="namespace 'default' is not allowed"):
        run(lambda: TrafficSplitter("s", dict(split_args({"a": 100}), namespace="default")))


@pytest.mark.parametrize("backends, message", [
    ([("a", 50), ("a", 50)], "traffic split 's': each backend service at most once (got a, a)"),
    ([("a", True), ("b", 99)], "traffic split 's': weights must be whole numbers from 0 to 100 (got a=True, b=99)"),
    ([("a", 50.0), ("b", 50)], "traffic split 's': weights must be whole numbers from 0 to 100 (got a=50.0, b=50)"),
])
def test_weights_checked_beyond_the_sum(backends, message) -> None:
    from modelstack.render.ingress import WeightedBackend, check_weights

    with pytest.raises(ValueError) as e:
        check_weights("s", [WeightedBackend(name, 8080, w) for name, w in backends])
    assert str(e.value) == message


def test_five_backends_with_a_zero_weight_are_accepted() -> None:
    from modelstack.render.ingress import WeightedBackend, check_weights

    check_weights("s", [WeightedBackend(f"m{i}", 8080, w) for i, w in enumerate([40, 30, 20, 10, 0])])
