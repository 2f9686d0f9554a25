"""A plan of 1,000 models does the work of 1,000 models: the work per model stays flat as the model count grows.

Work is counted, not timed (bench/plan.py prints the times): node packings and block evaluations in the capacity
plan (design and advice included), and property reads in the policy engine.
"""

from __future__ import annotations

import copy
import json
from datetime import date

import pytest

from modelstack import cli
from modelstack.capacity import optimizer
from modelstack.config.schema import CONFIG_KEY
from modelstack.planner.capacity import plan_platform
from modelstack.planner.karpenter import plan_karpenter
from modelstack.policies import cost, engine, reliability, rule, security
from stacks import stack_values

TEMPLATES = (
    {"compute": {"cpu": "1", "memory": "2Gi"}, "autoscaling": {"min_replicas": 1, "max_replicas": 2, "target_in_flight": 4}},
    {"compute": {"cpu": "500m", "memory": "1Gi"}, "autoscaling": {"min_replicas": 1, "max_replicas": 4, "target_in_flight": 4}},
    {"compute": {"cpu": "2", "memory": "6Gi"}, "autoscaling": {"min_replicas": 2, "max_replicas": 6, "target_in_flight": 4}},
    {"compute": {"cpu": "250m", "memory": "512Mi"}, "autoscaling": {"min_replicas": 0, "max_replicas": 3, "scale_to_zero": True,
                                                                   "target_in_flight": 2}},
)


def platform_with(models: int, declared: bool) -> dict:
    """The dev stack with `models` CPU models of four shapes; `declared`: on dev's cpu group (the plan also
    designs the layout to advise on it), else models-only (the planner designs the groups)."""
    values = copy.deepcopy(stack_values("dev"))
    p = values[CONFIG_KEY]
    base = p["models"]["sentiment"]
    p["models"] = {}
    for i in range(models):
        m = {**copy.deepcopy(base), **copy.deepcopy(TEMPLATES[i % len(TEMPLATES)]),
             "image": base["image"].replace("sentiment", f"m{i}")}
        if not declared:
            m.pop("node_group")
        p["models"][f"model-{i:04d}"] = m
    if declared:
        p["node_groups"]["cpu"]["max_size"] = 1000
    else:
        del p["node_groups"]
        p["capacity"] = {"max_nodes_per_group": 1000}
    return values


def capacity_work(models: int, declared: bool, monkeypatch) -> dict[str, int]:
    counts = {"packings": 0, "blocks": 0}
    pack, block = optimizer._pack, optimizer._Evaluator.block_of

    def counted_pack(*a, **k):
        counts["packings"] += 1
        return pack(*a, **k)

    def counted_block(self, key):
        counts["blocks"] += 1
        return block(self, key)

    monkeypatch.setattr(optimizer, "_pack", counted_pack)
    monkeypatch.setattr(optimizer._Evaluator, "block_of", counted_block)
    platform, capacity = plan_platform("dev", platform_with(models, declared), "bench", date(2026, 11, 22))
    plan_karpenter(platform, capacity)
    assert sorted(capacity.placements) == sorted(platform.config.models)
    monkeypatch.undo()
    return counts


@pytest.mark.parametrize("declared", [True, False], ids=["declared-groups", "models-only"])
def test_capacity_plan_work_per_model_stays_flat_up_to_1000_models(monkeypatch, declared):
    small, large = capacity_work(100, declared, monkeypatch), capacity_work(1000, declared, monkeypatch)
    for what in ("packings", "blocks"):
        assert large[what] / 1000 <= 1.5 * small[what] / 100, (what, small, large)


def _model_records(models: int) -> list[dict]:
    """Recorded resources of a dev plan with `models` models: one planned model's resources, cloned per model."""
    doc = cli.plan("dev", platform_with(1, True), "test", today=date(2026, 11, 22))
    records = doc["resources"]
    own = [r for r in records if "model-0000" in r["urn"]]
    rest = [r for r in records if "model-0000" not in r["urn"]]
    text = json.dumps(own)
    return rest + [r for i in range(models) for r in json.loads(text.replace("model-0000", f"model-{i:04d}"))]


def policy_work(records: list[dict], monkeypatch) -> int:
    reads = [0]
    real = rule.get

    def counted(*a, **k):
        reads[0] += 1
        return real(*a, **k)

    for module in (rule, reliability, security, cost):
        monkeypatch.setattr(module, "get", counted)
    engine.evaluate(records, None, "dev")
    monkeypatch.undo()
    return reads[0]


def test_policy_work_per_resource_stays_flat_up_to_1000_models(monkeypatch):
    small, large = _model_records(100), _model_records(1000)
    per_small = policy_work(small, monkeypatch) / len(small)
    per_large = policy_work(large, monkeypatch) / len(large)
    assert per_large <= 1.2 * per_small, (per_small, per_large)
