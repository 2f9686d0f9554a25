"""`modelstack plan` on models-only stacks (no node_groups): exit 0 in every environment, policies included,
and a plan.json whose cost figures a reader can recompute from the price table."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from modelstack import cli
from modelstack.capacity import pricing
from modelstack.config.schema import CONFIG_KEY

ROOT = Path(__file__).resolve().parents[2]
ENVS = ("dev", "staging", "prod")


def models_only_file(tmp_path: Path, env: str, capacity: dict | None = None) -> Path:
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{env}.yaml").read_text())
    p = doc["config"][CONFIG_KEY]
    p.pop("node_groups", None)
    for m in p["models"].values():
        m.pop("node_group", None)
    if capacity is not None:
        p["capacity"] = capacity
    path = tmp_path / f"Pulumi.{env}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("env", ENVS)
def test_models_only_stacks_plan_with_exit_0_and_explain_each_designed_group(tmp_path, env, capsys):
    path = models_only_file(tmp_path, env, {"spot": True})
    out_json = tmp_path / "plan.json"
    code = cli.main(["plan", env, "--project-dir", str(ROOT), "--stack-file", str(path), "--json", str(out_json),
                     "--as-of", "2026-11-22"])
    out = capsys.readouterr().out
    assert code == 0, out
    doc = yaml.safe_load(out_json.read_text())
    assert doc["policy"]["mandatory"] == 0
    designed = {n: c for n, c in doc["capacity"].items() if c["designed"]}
    assert set(designed) == set(doc["cost"]["node_groups"])
    assert "designed by the planner from the models" in out
    # Group sizes and estimated node counts are different things, named apart.
    assert "size min-max" in out.split("node groups:")[1].splitlines()[1]
    assert "count min-max" in out.split("cost:")[1].splitlines()[1]
    for name, c in designed.items():
        if c["models"] and not name.endswith("-on-demand"):
            assert f"  {name}: {', '.join(c['models'])}: " in out  # one line: its models and why this type
    # plan.json keeps its shape: node_groups with the sizes, cost.node_groups with nodes at min and max.
    for g in doc["node_groups"]:
        assert set(g) >= {"name", "pool", "instance_types", "capacity_type", "min_size", "max_size", "priority"}
        assert g["priority"] == (49 if g["name"].endswith("-on-demand") else 50)


@pytest.mark.parametrize("env", ("dev", "prod"))
def test_every_group_cost_recomputes_from_nodes_by_type_and_the_price_table(tmp_path, env):
    path = models_only_file(tmp_path, env)
    doc = cli.plan(env, yaml.safe_load(path.read_text())["config"], str(path), ROOT)
    cat, prices = pricing.catalog(), pricing.price_book("us-east-1")
    rows = {r["resource"]: r for r in doc["cost"]["rows"]}
    for name, g in doc["cost"]["node_groups"].items():
        # a managed node group's row, or a Karpenter NodePool's (priced per end with its own type)
        row = rows.get(f"ebs root volumes, nodegroup {name}") or rows[f"ebs root volumes, nodepool {name}"]
        volume = row["unit_usd_per_hour"]["on_demand"]
        for k in ("min", "max"):
            by_type = g["nodes_by_type"][k]
            assert sum(by_type.values()) == pytest.approx(g["nodes"][k], abs=1e-5)  # 6-decimal rounding
            instances = sum(n * (prices.spot(cat[t.split("/")[0]]) if t.endswith("/SPOT")
                                 else prices.on_demand(cat[t.split("/")[0]])) for t, n in by_type.items())
            assert g["usd_per_hour"][k] == pytest.approx(instances + g["nodes"][k] * volume, abs=2e-5)
