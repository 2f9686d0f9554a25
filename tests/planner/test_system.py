"""The system group is sized from the requests of the add-ons it carries (components/data/addon_requests.json),
under Karpenter and cluster-autoscaler alike; min_size on a model group is honoured or refused."""

from __future__ import annotations

import copy
import json
import math
from datetime import date

import pytest

from modelstack import cli
from modelstack.capacity import optimizer, pricing, sizing
from modelstack.config.schema import CONFIG_KEY, ConfigError
from modelstack.planner.capacity import plan_platform
from modelstack.planner.karpenter import plan_karpenter
from stacks import ROOT, stack_values

TODAY = date(2026, 11, 22)
FACTS = json.loads((ROOT / "components" / "data" / "addon_requests.json").read_text())["workloads"]


def _values(env: str, mutate=None) -> dict:
    v = copy.deepcopy(stack_values(env))
    if mutate:
        mutate(v[CONFIG_KEY])
    return v


def _on_cluster_autoscaler(c):
    c["cluster"]["provisioner"] = "cluster-autoscaler"
    c["cluster"].pop("karpenter", None)


def _system(capacity):
    return next(g for g in capacity.groups if g.kind == "system")


def _sandbox(c):
    """Two CPU models on Karpenter, a system group allowed up to 4 nodes (the issue's sandbox)."""
    c["models"] = {k: v for k, v in c["models"].items() if k == "sentiment"}
    c["models"]["sentiment-b"] = copy.deepcopy(c["models"]["sentiment"])
    c["node_groups"] = {"system": {**c["node_groups"]["system"], "min_size": 1, "max_size": 4},
                        "cpu": c["node_groups"]["cpu"]}
    c["cluster"]["observability"] = {"grafana": False}


def test_the_sandbox_runs_the_system_nodes_its_add_ons_need_not_its_max_size():
    platform, capacity = plan_platform("dev", _values("dev", _sandbox), today=TODAY)
    sys_group = _system(capacity)
    need = capacity.system.nodes
    assert 1 <= need < 4 and sys_group.nodes_min == sys_group.nodes_max == need
    # The need, recomputed from the facts: the system Deployments packed on the system type.
    cap = optimizer.group_capacity([pricing.catalog()[sys_group.instance_types[0]]], sizing.DEFAULT_NODE_RESERVE)
    cpu = capacity.system.cpu_millicores
    assert need >= math.ceil(cpu / cap.cpu_millicores) and need >= 2  # Karpenter's controllers need a node each
    kp = plan_karpenter(platform, capacity)
    system_cost = next(g for g in kp.cost_inputs.node_groups if g.name == "system")
    assert system_cost.nodes_min == system_cost.nodes_max == need


def test_the_counted_add_ons_follow_the_stack():
    _, on_karpenter = plan_platform("dev", _values("dev"), today=TODAY)
    _, on_cas = plan_platform("dev", _values("dev", _on_cluster_autoscaler), today=TODAY)
    k, a = on_karpenter.system, on_cas.system
    karpenter = next(w for w in FACTS if w["chart"] == "karpenter")
    assert any(w.startswith("karpenter x") for w in k.workloads) and not any(w.startswith("karpenter") for w in a.workloads)
    assert any(w.startswith("cluster-autoscaler x") for w in a.workloads)
    assert k.cpu_millicores - a.cpu_millicores == sizing.parse_cpu(karpenter["requests"]["cpu"]) * karpenter["replicas"]
    # Workloads whose charts set no requests are named: the size is a floor.
    assert "prometheus-server" in k.unrequested and "set no requests, so this is a floor" in k.describe()
    assert any("sized" in n and "for the add-ons' requests" in n for n in _system(on_karpenter).notes)


def test_a_min_size_above_the_need_is_honoured_and_said():
    _, capacity = plan_platform("prod", _values("prod"), today=TODAY)
    g = _system(capacity)
    assert g.nodes_min == max(3, capacity.system.nodes) and g.min_size == g.nodes_min
    assert g.notes[0].startswith(f"sized {g.nodes_min} (")


def test_a_system_group_too_small_for_its_add_ons_is_refused_with_exit_2(tmp_path, capsys):
    vals = _values("dev", lambda c: c["node_groups"]["system"].update(min_size=1, max_size=1))
    with pytest.raises(ConfigError) as e:
        plan_platform("dev", vals, today=TODAY)
    issue = next(i for i in e.value.issues if i.path.endswith("node_groups.system.max_size"))
    assert issue.given == "1" and "for the add-ons' requests" in issue.allowed
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(json.dumps({"config": vals}))
    assert cli.main(["plan", "dev", "--project-dir", str(ROOT), "--stack-file", str(stack)]) == 2
    assert "node_groups.system.max_size" in capsys.readouterr().err


def test_min_size_on_a_model_group_under_karpenter_is_refused():
    vals = _values("dev", lambda c: c["node_groups"]["cpu"].update(min_size=2))
    with pytest.raises(ConfigError) as e:
        plan_platform("dev", vals, today=TODAY)
    issue = next(i for i in e.value.issues if i.path.endswith("node_groups.cpu.min_size"))
    assert issue.given == "2" and "Karpenter" in issue.allowed and "cluster-autoscaler" in issue.allowed


def test_min_size_on_a_model_group_under_cluster_autoscaler_is_honoured():
    def cas(c):
        _on_cluster_autoscaler(c)
        c["node_groups"]["cpu"]["min_size"] = 2
    _, capacity = plan_platform("dev", _values("dev", cas), today=TODAY)
    cpu = next(g for g in capacity.groups if g.name == "cpu")
    assert cpu.min_size == 2 and cpu.nodes_min >= 2


def _observability(**obs):
    def mutate(c):
        c["cluster"]["observability"] = {**c["cluster"].get("observability", {}), **obs}
    return mutate


@pytest.mark.parametrize("mutate", [
    None,
    _observability(prometheus=False),
    _observability(volume_size="20Gi"),
    _observability(alerts={"receivers": {"ops": {"kind": "sns", "topic_arn": "arn:aws:sns:us-east-1:123456789012:ops"}}}),
    lambda c: c["cluster"].setdefault("addons", {}).update(ebs_csi_driver="v1.50.0-eksbuild.1"),
], ids=["defaults", "no-prometheus", "volume", "receivers", "ebs-version-only"])
def test_the_sizing_counts_exactly_the_optional_add_ons_the_program_installs(run, mutate):
    """One decision serves both: what the system group is sized for is what `pulumi up` would install."""
    from modelstack import program

    values = _values("dev", mutate)
    _, capacity = plan_platform("dev", values, today=TODAY)
    counted = {w.split(" x")[0] for w in capacity.system.workloads}
    resources = run(program.main, "dev", values).resources
    addons = {r.inputs.get("addonName") for r in resources if r.type == "aws:eks/addon:Addon"}
    releases = {r.inputs.get("chart") for r in resources if r.type == "kubernetes:helm.sh/v3:Release"}
    ebs = next(w["workload"] for w in FACTS if w["chart"] == "aws-ebs-csi-driver" and w["kind"] != "DaemonSet")
    lbc = next(w["workload"] for w in FACTS if w["chart"] == "aws-load-balancer-controller")
    assert (ebs in counted) == ("aws-ebs-csi-driver" in addons)
    assert (lbc in counted) == ("aws-load-balancer-controller" in releases)
    assert ("prometheus-server" in counted) == ("prometheus" in releases)
