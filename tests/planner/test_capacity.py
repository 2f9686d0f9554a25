"""The capacity plan: node groups, fallbacks, fixed-cost inputs and support notes (modelstack.planner.capacity)."""

from __future__ import annotations

from datetime import date

import pytest

from modelstack.capacity.cost import estimate
from modelstack.planner.capacity import plan_capacity, support_note
from test_program import _platform


# ------------------------------------------------------------------ capacity plan: groups and fixed cost inputs

def test_prod_capacity_plan_adds_an_on_demand_fallback_one_priority_below_each_spot_pool():
    p, cap = _platform("prod")
    got = [(g.name, g.pool, g.capacity_type, g.priority, g.min_size, g.max_size) for g in cap.groups]
    # From stacks/Pulumi.prod.yaml: system 50 (default), cpu 60, gpu 50, gpu-large 40; fallbacks one below, min 0.
    assert got == [
        ("system", "system", "ON_DEMAND", 50, 3, 6),
        ("cpu", "cpu", "SPOT", 60, 0, 20), ("cpu-on-demand", "cpu", "ON_DEMAND", 59, 0, 20),
        ("gpu", "gpu", "SPOT", 50, 0, 8), ("gpu-on-demand", "gpu", "ON_DEMAND", 49, 0, 8),
        ("gpu-large", "gpu-large", "SPOT", 40, 0, 4), ("gpu-large-on-demand", "gpu-large", "ON_DEMAND", 39, 0, 4),
    ]
    # The on-demand floors (sentiment's on_demand_base 2, every other model 1) each fit on one node.
    assert {g.name: (g.nodes_min, g.nodes_max) for g in cap.groups if g.name.endswith("-on-demand")} == {
        "cpu-on-demand": (1, 1), "gpu-on-demand": (1, 1), "gpu-large-on-demand": (1, 1)}
    assert {m: (pl.node_group, pl.spot, pl.on_demand_base, pl.accelerator) for m, pl in cap.placements.items()} == {
        "sentiment": ("cpu", True, 2, "none"), "sentiment-canary": ("cpu", True, 1, "none"),
        "image-classifier": ("gpu", True, 1, "gpu"), "llm-chat": ("gpu-large", True, 1, "gpu")}
    ci = cap.cost_inputs
    assert (ci.control_planes, ci.nat_gateways, ci.kms_keys) == (1, 3, 1)  # per_az NAT in 3 zones, one secrets key
    assert [(lb.kind, lb.name) for lb in ci.load_balancers] == [("alb", "models-prod-models")]


def test_fallback_of_a_priority_1_pool_stays_at_1():
    _, cap = _platform("prod", lambda c: c["node_groups"]["cpu"].update(priority=1))
    assert {g.name: g.priority for g in cap.groups if g.pool == "cpu"} == {"cpu": 1, "cpu-on-demand": 1}


def test_min_size_is_a_floor_under_the_nodes_the_models_need():
    def cas(c):  # min_size is cluster-autoscaler's: under Karpenter (dev's provisioner) it is refused
        c["cluster"]["provisioner"] = "cluster-autoscaler"
        c["cluster"].pop("karpenter", None)
        c["node_groups"]["cpu"].update(min_size=4)
    _, cap = _platform("dev", cas)
    cpu = next(g for g in cap.groups if g.name == "cpu")
    assert cpu.nodes_min == 4
    assert next(g for g in cap.cost_inputs.node_groups if g.name == "cpu").nodes_min == 4
    # A spot pool's min_size is the spot group's floor; its on-demand fallback keeps min_size 0.
    _, cap = _platform("prod", lambda c: c["node_groups"]["cpu"].update(min_size=4))
    assert {g.name: (g.min_size, g.nodes_min) for g in cap.groups if g.pool == "cpu"} == {
        "cpu": (4, 4), "cpu-on-demand": (0, 1)}


EXISTING_VPC = {"vpc_id": "vpc-0abc12345", "private_subnet_ids": ["subnet-0abc1234", "subnet-0def5678"]}


@pytest.mark.parametrize("vpc, secrets, expected", [
    ({"nat": "single", "existing": EXISTING_VPC}, True, (0, 1)),  # nat: none is refused for a new VPC (no egress)
    ({"nat": "single"}, False, (1, 0)), ({"nat": "per_az"}, True, (2, 1))])
def test_nat_gateways_and_kms_keys_follow_the_vpc_and_encryption_config(vpc, secrets, expected):
    def mutate(c):
        c["cluster"]["vpc"].update(az_count=2, **vpc)
        c["cluster"]["secrets_encryption"] = secrets

    _, cap = _platform("dev", mutate)
    assert (cap.cost_inputs.nat_gateways, cap.cost_inputs.kms_keys) == expected


@pytest.mark.parametrize("day, extended", [(date(2026, 12, 2), False), (date(2026, 12, 3), True)])
def test_control_plane_is_billed_at_the_extended_rate_after_standard_support_ends(day, extended):
    # 1.34's EKS standard support ends on 2026-12-02 (endoflife.date/amazon-eks).
    p, _ = _platform("prod", lambda c: c["cluster"].update(kubernetes_version="1.34"))
    cap = plan_capacity(p, day)
    assert cap.cost_inputs.extended_support is extended
    row = next(r for r in estimate(cap.cost_inputs).rows if r.resource == "eks control plane")
    assert row.unit_usd_per_hour_on_demand == (0.60 if extended else 0.10)




@pytest.mark.parametrize("version, day, expected", [
    ("1.35", date(2026, 11, 22), None),
    ("1.34", date(2026, 10, 2), None),  # 61 days before the end
    ("1.34", date(2026, 10, 3), "Kubernetes 1.34 leaves EKS standard support on 2026-12-02 (60 days): the control "
                                "plane's price rises to the extended-support rate then; upgrade to 1.35 "
                                "(cluster.kubernetes_version, one minor at a time)"),
    ("1.34", date(2026, 12, 2), "Kubernetes 1.34 leaves EKS standard support on 2026-12-02 (0 days): the control "
                                "plane's price rises to the extended-support rate then; upgrade to 1.35 "
                                "(cluster.kubernetes_version, one minor at a time)"),
    ("1.32", date(2026, 12, 3), "Kubernetes 1.32 left EKS standard support on 2026-03-23: the control plane is billed "
                                "at the extended-support rate; upgrade to 1.33 (cluster.kubernetes_version, one minor "
                                "at a time)"),
    ("1.35", date(2027, 3, 28), "Kubernetes 1.35 left EKS standard support on 2027-03-27: the control plane is billed "
                                "at the extended-support rate"),
])
def test_support_note_warns_before_and_after_standard_support_ends(version, day, expected):
    assert support_note(version, day) == expected


def test_support_note_reaches_the_capacity_plan():
    _, cap = _platform("prod", lambda c: c["cluster"].update(kubernetes_version="1.34"))
    assert cap.notes and cap.notes[0].startswith("Kubernetes 1.34 leaves EKS standard support on 2026-12-02 (10 days)")
    _, cap = _platform("prod")
    assert not any(n.startswith("Kubernetes") for n in cap.notes)
