"""From the capacity plan to NodePools, and what Karpenter would buy at min and at max (modelstack.planner.karpenter)."""

from __future__ import annotations

import pytest

from modelstack.capacity import pricing
from modelstack.capacity.cost import estimate
from modelstack.config.schema import ConfigError
from modelstack.planner.karpenter import node_class_of, node_classes, plan_karpenter
from modelstack.render import labels
from test_program import _platform


def _usd(est, pool: str) -> tuple[float, float]:
    """A pool's instances plus root volumes, per hour at min and at max (managed node group or NodePool rows)."""
    rows = [r for r in est.rows for kind in ("nodegroup", "nodepool")
            if r.resource in (f"{kind} {pool}", f"ebs root volumes, {kind} {pool}")]
    assert len(rows) == 2
    return sum(r.usd_per_hour_min for r in rows), sum(r.usd_per_hour_max for r in rows)


def test_one_node_pool_per_planned_group_except_system_with_the_groups_weights_and_taints():
    p, cap = _platform("prod")
    kp = plan_karpenter(p, cap)
    planned = {g.name: g for g in cap.groups if g.kind != "system"}
    assert [s.name for s in kp.node_pools] == list(planned)
    for s in kp.node_pools:
        g = planned[s.name]
        assert s.pool == g.pool and s.weight == g.priority
        assert s.capacity_types == (("spot",) if g.capacity_type == "SPOT" else ("on-demand",))
        assert set(g.instance_types) <= set(s.instance_types)
        if g.kind == "gpu":
            assert {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"} in s.taints
            assert s.labels[labels.GPU_RESOURCE] == "true"
    # the on-demand fallback is tried after its spot pool
    weights = {s.name: s.weight for s in kp.node_pools}
    assert weights["cpu-on-demand"] < weights["cpu"]


def test_limits_hold_the_nodes_of_max_replicas_and_a_fallback_can_stand_in_for_its_spot_pool():
    p, cap = _platform("prod")
    kp = plan_karpenter(p, cap)
    cat = pricing.catalog()
    pools = {s.name: s for s in kp.node_pools}
    for g in cap.groups:
        if g.kind == "system":
            continue
        s = pools[g.name]
        needed = g.nodes_max * cat[g.instance_types[0]].vcpu
        assert int(s.limits["cpu"]) >= needed, g.name
        if g.kind == "gpu":
            assert int(s.limits[labels.GPU_RESOURCE]) >= g.nodes_max * cat[g.instance_types[0]].gpu_count
    spot_nodes = next(g for g in cap.groups if g.name == "cpu").nodes_max
    biggest = max(cat[t].vcpu for t in pools["cpu-on-demand"].instance_types)
    assert int(pools["cpu-on-demand"].limits["cpu"]) >= spot_nodes * biggest


def test_karpenter_may_pick_another_type_at_min_than_at_max_and_never_pays_more_than_one_shape():
    p, cap = _platform("dev")
    kp = plan_karpenter(p, cap)
    sims = kp.simulations
    assert set(sims) == {"cpu", "gpu", "gpu-large"}
    assert any(s.type_at_min != s.type_at_max for s in sims.values())  # the point of the simulation
    one_shape, karpenter = estimate(cap.cost_inputs), estimate(kp.cost_inputs)
    for name in sims:
        (k_min, k_max), (o_min, o_max) = _usd(karpenter, name), _usd(one_shape, name)
        assert k_min <= o_min + 1e-9 and k_max <= o_max + 1e-9, name
    # dev's cpu pool: smaller nodes at min (the pools only: the system group runs at its max_size under Karpenter)
    assert sum(_usd(karpenter, n)[0] for n in sims) < sum(_usd(one_shape, n)[0] for n in sims)
    assert {r.resource for r in karpenter.rows} >= {"nodepool cpu", "ebs root volumes, nodepool cpu", "nodegroup system"}
    # every type the estimate assumes Karpenter buys is one its NodePool allows
    pools = {s.name: s for s in kp.node_pools}
    for s in sims.values():
        assert {s.type_at_min, s.type_at_max} <= set(pools[s.name].instance_types)


def test_karpenter_keeps_no_idle_nodes_min_size_does_not_apply():
    # min_size on a model group would do nothing under Karpenter: refused, naming each group.
    with pytest.raises(ConfigError) as e:
        _platform("dev", lambda c: (c["node_groups"]["cpu"].update(min_size=3),
                                    c["node_groups"].update(spare={"kind": "cpu", "min_size": 2, "max_size": 4})))
    assert sorted(i.path.rsplit(".", 2)[-2] for i in e.value.issues) == ["cpu", "spare"]
    p, cap = _platform("dev", lambda c: c["node_groups"].update(spare={"kind": "cpu", "min_size": 0, "max_size": 4}))
    kp = plan_karpenter(p, cap)
    assert kp.simulations["cpu"].nodes_at_min == 1  # sentiment's one replica fits on one node
    assert "spare" not in {g.name for g in kp.cost_inputs.node_groups}
    assert "spare" in {s.name for s in kp.node_pools}  # still offered, for models added later
    assert "system" in {g.name for g in kp.cost_inputs.node_groups}  # the managed system group is as planned


def test_one_node_class_per_distinct_root_volume_so_cpu_nodes_do_not_pay_for_gpu_disks():
    p, cap = _platform("dev")
    classes = node_classes(cap)
    assert {n: (v.size_gib, v.iops, v.throughput) for n, v in classes.items()} == {
        "default": (100, 3000, 125), "gpu": (200, 3000, 125), "gpu-large": (300, 6000, 500)}
    assert {s.name: s.node_class for s in plan_karpenter(p, cap).node_pools} == {
        "cpu": "default", "gpu": "gpu", "gpu-large": "gpu-large"}
    # groups that share a volume share a class, fallbacks use their pool's, and the names do not follow the order
    p, cap = _platform("prod")
    assert {s.name: s.node_class for s in plan_karpenter(p, cap).node_pools}["cpu-on-demand"] == node_class_of(cap, "cpu")
    _, cap2 = _platform("dev", lambda c: c.update(node_groups=dict(reversed(list(c["node_groups"].items())))))
    assert node_classes(cap2) == classes


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_shipped_stack_has_a_karpenter_plan(env):
    p, cap = _platform(env, lambda c: c["cluster"].update(provisioner="karpenter"))
    kp = plan_karpenter(p, cap)
    assert kp.node_pools and all(s.limits.get("cpu") for s in kp.node_pools)


def test_a_group_called_default_with_its_own_volume_does_not_take_the_default_class():
    def mutate(c):
        c["node_groups"]["default"] = {"kind": "cpu", "root_volume": {"size_gib": 60}}
    _, cap = _platform("dev", mutate)
    classes = node_classes(cap)
    assert classes["default"].size_gib == 100 and classes["default-group"].size_gib == 60
    assert node_class_of(cap, "default") == "default-group" and node_class_of(cap, "cpu") == "default"


def _models_only_spot(c):
    """Staging without node groups: four CPU models with on-demand floors, spot with an on-demand fallback."""
    c.pop("node_groups")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"
    sizes = {"api": ("500m", "1Gi", 3, 20, 2), "embed": ("2", "4Gi", 2, 12, 2), "fraud": ("1", "2Gi", 2, 8, 1),
             "ner": ("4", "16Gi", 1, 6, 1)}
    c["models"] = {m: {"image": image, "compute": {"cpu": cpu, "memory": mem},
                       "autoscaling": {"min_replicas": lo, "max_replicas": hi, "on_demand_base": base}}
                   for m, (cpu, mem, lo, hi, base) in sizes.items()}
    c["traffic_splits"] = {}
    c["capacity"] = {"spot": True, "on_demand_fallback": True}
    c["cluster"]["provisioner"] = "karpenter"


def test_a_designed_spot_pool_keeps_the_on_demand_floor_the_design_chose():
    # The design puts a floor on the cheapest on-demand type for the floor's replicas, which need not be the spot
    # pool's primary type; the pool's config lists only the spot types, so re-choosing from it loses the floor.
    p, cap = _platform("staging", _models_only_spot)
    assert cap.designed
    groups = {g.name: g for g in cap.groups}
    fallbacks = [g for g in cap.groups if g.name != g.pool and g.nodes_max]
    assert any(fb.instance_types[0] != groups[fb.pool].instance_types[0] for fb in fallbacks)  # the case in point
    kp = plan_karpenter(p, cap)
    for fb in fallbacks:
        s = kp.simulations[fb.name]
        floor = groups[fb.pool].choice.on_demand_floor  # what the design chose, a mix at each end under Karpenter
        for at_max, parts, first, nodes in ((False, s.parts_at_min, s.type_at_min, s.nodes_at_min),
                                            (True, s.parts_at_max, s.type_at_max, s.nodes_at_max)):
            bought = [(q.instance_types, q.nodes) for q in parts] or [((first,), nodes)]
            assert bought == [(q.instance_types, q.nodes) for q in floor.parts(at_max)], fb.name
    one_shape, karpenter = estimate(cap.cost_inputs), estimate(kp.cost_inputs)
    for name in kp.simulations:
        (k_min, k_max), (o_min, o_max) = _usd(karpenter, name), _usd(one_shape, name)
        assert k_min <= o_min + 1e-9 and k_max <= o_max + 1e-9, name


def test_limits_allow_the_groups_max_size_of_the_largest_type_it_offers():
    # dev's cpu pool offers .large and .xlarge types; sized to the max replicas alone (8 vCPU), replicas 5 and 6
    # stayed Pending on .large nodes, and a rollout at max could not surge onto a new GPU node.
    from modelstack.capacity import pricing

    p, cap = _platform("dev", lambda c: c["cluster"].update(provisioner="karpenter"))
    cat = pricing.catalog()
    groups = {g.name: g for g in cap.groups}
    for s in plan_karpenter(p, cap).node_pools:
        largest = max(s.instance_types, key=lambda t: cat[t].vcpu)
        assert int(s.limits["cpu"]) >= groups[s.name].max_size * cat[largest].vcpu, s.name
