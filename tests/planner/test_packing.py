"""Issue 26: replicas packed onto multi-accelerator nodes when cheaper per replica, mixes of node types under
Karpenter, autoscaled replicas on the on-demand floor's spare room, and the price of spreading over spot pools."""

from __future__ import annotations

import pytest

from modelstack import program
from modelstack.capacity import pricing
from modelstack.capacity.cost import estimate
from modelstack.capacity.optimizer import GroupSelection, ModelDemand, choose_group, pack_mixed
from modelstack.capacity.sizing import NodeCapacity, Requests, node_capacity
from modelstack.config.schema import CONFIG_KEY, ConfigError
from modelstack.planner.karpenter import plan_karpenter
from test_program import _platform

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"
PRICES = pricing.price_book("us-east-1")
CAT = pricing.catalog()


def _models_only(models: dict, spot: bool = False, provisioner: str = "karpenter", **capacity):
    def mutate(c):
        c.pop("node_groups")
        for m in c["models"].values():
            m.pop("node_group", None)
        c["models"] = models
        c["traffic_splits"] = {}
        c["capacity"] = {"spot": spot, **({"on_demand_fallback": True} if spot else {}), **capacity}
        c["cluster"]["provisioner"] = provisioner
    return mutate


def _l40s(lo: int, hi: int, **auto) -> dict:
    """A one-GPU model needing 44 GiB of GPU memory (an L40S), 6 vCPU and 64 GiB (too much for a g6e.2xlarge)."""
    return {"image": IMAGE, "compute": {"cpu": "6", "memory": "64Gi", "gpu": 1, "min_gpu_memory_gib": 44},
            "autoscaling": {"min_replicas": lo, "max_replicas": hi, **auto}}


def _bought(kp, pool: str, at_max: bool) -> dict[str, int]:
    s = kp.simulations[pool]
    parts = s.parts_at_max if at_max else s.parts_at_min
    if parts:
        return {p.instance_types[0]: p.nodes for p in parts}
    return {s.type_at_max if at_max else s.type_at_min: s.nodes_at_max if at_max else s.nodes_at_min}


def test_four_replicas_of_a_one_gpu_model_share_one_four_gpu_node_under_karpenter():
    p, cap = _platform("staging", _models_only({"llm": _l40s(1, 4)}))
    kp = plan_karpenter(p, cap)
    (pool,) = [s.name for s in kp.node_pools]
    four = PRICES.on_demand(CAT["g6e.12xlarge"])
    assert four < 4 * PRICES.on_demand(CAT["g6e.4xlarge"])  # the case in point: cheaper per replica
    assert _bought(kp, pool, at_max=True) == {"g6e.12xlarge": 1}
    assert "g6e.12xlarge" in next(s for s in kp.node_pools if s.name == pool).instance_types
    # at min one replica: a one-GPU node, not the four-GPU one
    (small,) = _bought(kp, pool, at_max=False)
    assert CAT[small].gpu_count == 1
    est = estimate(kp.cost_inputs)
    (row,) = [r for r in est.rows if r.resource == f"nodepool {pool}"]
    assert row.usd_per_hour_max == pytest.approx(four)


def test_five_replicas_mix_a_four_gpu_node_and_a_one_gpu_node_and_price_the_mix():
    p, cap = _platform("staging", _models_only({"llm": _l40s(1, 5)}))
    kp = plan_karpenter(p, cap)
    (pool,) = [s.name for s in kp.node_pools]
    bought = _bought(kp, pool, at_max=True)
    assert bought.get("g6e.12xlarge") == 1 and sum(bought.values()) == 2
    est = estimate(kp.cost_inputs)
    (row,) = [r for r in est.rows if r.resource == f"nodepool {pool}"]
    assert row.usd_per_hour_max == pytest.approx(sum(PRICES.on_demand(CAT[t]) * n for t, n in bought.items()))
    nodes = est.to_json()["node_groups"][pool]["nodes_by_type"]["max"]
    assert nodes == {f"{t}/ON_DEMAND": n for t, n in bought.items()}
    # Every type the estimate buys is one the NodePool allows, and the model is kept to the types it fits.
    spec = next(s for s in kp.node_pools if s.name == pool)
    assert set(bought) <= set(spec.instance_types)
    fit = program.fitting_types(p.config.models["llm"], pool, cap, kp)
    assert all(CAT[t].gpu_memory_gib >= 44 for t in (fit or spec.instance_types))


def test_a_model_is_kept_off_the_pool_types_it_does_not_fit():
    # A two-GPU model and a one-GPU model of the same GPU class share a pool: the one-GPU nodes the mix buys for
    # the second must never take the first.
    two = {"image": IMAGE, "compute": {"cpu": "4", "memory": "32Gi", "gpu": 2, "min_gpu_memory_gib": 40},
           "autoscaling": {"min_replicas": 1, "max_replicas": 1}}
    p, cap = _platform("staging", _models_only({"two": two, "one": _l40s(1, 4)}))
    kp = plan_karpenter(p, cap)
    for name in ("two", "one"):
        pool = cap.placements[name].pool
        allowed = program.fitting_types(p.config.models[name], pool, cap, kp) or next(
            s.instance_types for s in kp.node_pools if s.name == pool)
        need = 2 if name == "two" else 1
        assert all(CAT[t].gpu_count >= need and CAT[t].gpu_memory_gib >= 40 for t in allowed), name


def test_node_groups_pack_onto_the_multi_gpu_type_when_the_objective_says_so():
    # cluster-autoscaler: one shape for both ends. Four replicas at min and at max: the four-GPU node wins both.
    p, cap = _platform("staging", _models_only({"llm": _l40s(4, 4)}, provisioner="cluster-autoscaler"))
    (g,) = [g for g in cap.groups if g.models]
    assert g.instance_types == ("g6e.12xlarge",) and (g.nodes_min, g.nodes_max) == (1, 1)


def test_pack_mixed_is_never_dearer_than_one_kind_and_beats_it_on_a_remainder():
    pod = Requests(cpu_millicores=6100, memory_mib=65664, gpu=1)
    options = [(node_capacity(CAT[t]), PRICES.on_demand(CAT[t])) for t in ("g6e.12xlarge", "g6e.4xlarge")]
    shape = (pod.cpu_millicores, pod.memory_mib, pod.gpu, 0)
    for n in range(1, 10):
        usd, mix = pack_mixed({(shape, frozenset({0, 1})): n}, options)
        single = min(-(-n // k) * price for (cap, price), k in zip(options, (4, 1)))
        assert usd <= single + 1e-9, n
        assert sum(count * k for (o, count), k in ((m, (4, 1)[m[0]]) for m in mix)) >= n
    usd, mix = pack_mixed({(shape, frozenset({0, 1})): 5}, options)
    assert dict(mix) == {0: 1, 1: 1} and usd == pytest.approx(sum(p for _, p in options))
    # a replica may only go where it is allowed: kind 0 barred leaves kind 1 alone
    assert pack_mixed({(shape, frozenset({1})): 5}, options)[1] == ((1, 5),)


def _nodes(capacity_gpus: int, price: float):
    """A node kind of ``capacity_gpus`` GPUs with 12 vCPU and 45 GiB per GPU, at ``price`` ($1 per GPU-hour)."""
    return (NodeCapacity(cpu_millicores=12000 * capacity_gpus, memory_mib=46080 * capacity_gpus, pods=100,
                         gpus=capacity_gpus, neuron_devices=0), price)


def test_pack_mixed_shares_a_multi_gpu_node_between_two_shapes():
    # Hand-checked: X needs 4 GPUs and 64 GiB, Y 2 GPUs and 128 GiB. Every GPU costs $1/h on either kind, so a mix
    # costs at least the GPUs it needs; it gets there only if no GPU idles. Y's memory leaves a 4-GPU node (180 GiB)
    # two idle GPUs, so both Ys must share an 8-GPU node with one X (8 GPUs, 256 of 360 GiB). First-fit decreasing
    # with the largest shape first fills each 8-GPU node with two Xs, then pays for idle GPUs beside each Y.
    small, big = _nodes(4, 4.0), _nodes(8, 8.0)
    x = ((12000, 65536, 4, 0), frozenset({0, 1}))
    y = ((6000, 131072, 2, 0), frozenset({0, 1}))
    for nx, ny in ((4, 2), (2, 2), (1, 2)):
        usd, mix = pack_mixed({x: nx, y: ny}, [small, big])
        assert usd == pytest.approx(4 * nx + 2 * ny), (nx, ny, mix)  # no GPU idle
        assert sum(n * (4, 8)[o] for o, n in mix) == 4 * nx + 2 * ny
    # Three Xs and a Y need 14 GPUs but cost 16 (the Y idles two GPUs wherever it runs); at that price, two 8-GPU
    # nodes win over four 4-GPU ones: fewer root volumes and DaemonSet pods.
    usd, mix = pack_mixed({x: 3, y: 1}, [small, big])
    assert usd == pytest.approx(16.0) and mix == ((1, 2),)


def test_pack_mixed_values_a_lone_large_replica_at_its_whole_node():
    # Hand-checked: L needs 2 GPUs and may only run on the 4-GPU kind ($10.50); three S need 1 GPU each, anywhere
    # (a 1-GPU node is $2.25). L's node costs $10.50 whatever else it holds, so its two spare GPUs take two S for
    # nothing and the third S runs alone: $12.75. Valued at half a node (two Ls fit one), L looked cheaper than
    # topping its node up, and the three S were bought 1-GPU nodes first: $17.25.
    one, four = _nodes(1, 2.25), _nodes(4, 10.5)
    large = ((16000, 32768, 2, 0), frozenset({1}))
    small_pod = ((4000, 16384, 1, 0), frozenset({0, 1}))
    usd, mix = pack_mixed({large: 1, small_pod: 3}, [one, four])
    assert usd == pytest.approx(12.75) and mix == ((0, 1), (1, 1))


def test_the_floor_leaves_its_spare_room_where_an_autoscaled_replica_fits():
    # Hand-checked on g4dn (12xlarge: 4 T4, ~174 GiB allocatable, $3.912/h; metal: 8 T4, ~346 GiB, $7.824/h). The
    # floor is one "two" (2 GPUs, 128 GiB) and two "four" (4 GPUs, 64 GiB): 10 GPUs, $11.736/h either as three
    # 12xlarge or as a metal and a 12xlarge. Only the second way leaves a hole for the autoscaled "two" at max (two
    # GPUs and the memory beside the floor's "two" and "four" on the metal), so spot buys nodes for the two
    # autoscaled "four" alone. Three 12xlarge (the first at that price) leave two GPUs but 46 GiB on one node.
    two = ModelDemand("two", Requests(cpu_millicores=6000, memory_mib=131072, gpu=2), 1, 2, on_demand_base=1)
    four = ModelDemand("four", Requests(cpu_millicores=12000, memory_mib=65536, gpu=4), 2, 4, on_demand_base=2)
    sel = GroupSelection(families=("g4dn",), spot=True, mixed=True, relax_spot_premium=False)
    ch = choose_group(sel, [two, four], PRICES, CAT)
    floor = ch.on_demand_floor
    assert sorted((p.instance_types, p.nodes) for p in floor.parts(True)) == [(("g4dn.12xlarge",), 1), (("g4dn.metal",), 1)]
    assert floor.usd_per_hour_max == pytest.approx(3 * 3.912)
    spot_gpus = sum(p.nodes * CAT[p.instance_types[0]].gpu_count for p in ch.main.parts(True))
    assert spot_gpus == 8  # the two autoscaled "four"; the autoscaled "two" is on the floor's metal


def test_autoscaled_replicas_fill_the_on_demand_floor_before_spot_is_bought():
    # Two replicas at min, one of them the on-demand floor, on nodes holding two: at min one on-demand node holds
    # both (the autoscaled replica only prefers spot), and no spot node runs; at max the rest is on spot.
    d = ModelDemand("m", Requests(cpu_millicores=800, memory_mib=1000), 2, 6, on_demand_base=1)
    ch = choose_group(GroupSelection(families=("c6i",), spot=True), [d], PRICES, CAT)
    floor = ch.on_demand_floor
    assert floor.primary.name == "c6i.large" and node_capacity(floor.primary).cpu_millicores // 800 == 2
    assert (floor.nodes_min, ch.main.nodes_min) == (1, 0)
    assert ch.main.capacity_type == "SPOT" and ch.main.nodes_max >= 1


def test_spot_spread_cost_is_a_validated_key_and_its_price_is_in_the_plan():
    cpu = {"image": IMAGE, "compute": {"cpu": "1", "memory": "2Gi"}, "autoscaling": {"min_replicas": 2, "max_replicas": 20}}
    with pytest.raises(ConfigError) as e:
        _platform("staging", _models_only({"api": cpu}, spot=True, spot_spread_cost_pct=-1))
    assert [i.path for i in e.value.issues] == [f"{CONFIG_KEY}.capacity.spot_spread_cost_pct"]
    wide = _platform("staging", _models_only({"api": cpu}, spot=True, spot_spread_cost_pct=20))[1]
    one = _platform("staging", _models_only({"api": cpu}, spot=True, spot_spread_cost_pct=0))[1]
    spot = lambda cap: next(g for g in cap.groups if g.models and g.capacity_type == "SPOT")  # noqa: E731
    assert len(spot(one).instance_types) == 1 < len(spot(wide).instance_types)
    assert "its spot pools cost $" in spot(wide).reason and "capacity.spot_spread_cost_pct 20" in spot(wide).reason
    assert "its spot pools cost" not in spot(one).reason
    cheapest = estimate(one.cost_inputs).node_groups
    wider = estimate(wide.cost_inputs).node_groups
    assert sum(g.usd_per_hour_max for g in cheapest) <= sum(g.usd_per_hour_max for g in wider) + 1e-9


def test_strict_zone_spread_in_prod_packs_zone_by_zone_and_soft_spread_says_what_it_trades():
    p, cap = _platform("prod", _models_only({"llm": _l40s(2, 4)}))
    zones = p.config.cluster.vpc.az_count
    assert zones == 3
    kp = plan_karpenter(p, cap)
    (pool,) = [s.name for s in kp.node_pools]
    bought = _bought(kp, pool, at_max=True)
    # 4 replicas over 3 zones: 2, 1, 1. A node holds no more than its zone's share, so one four-GPU node cannot.
    assert sum(bought.values()) >= zones and "g6e.12xlarge" not in bought
    (g,) = [g for g in cap.groups if g.models]
    assert "packing trades zone spread" not in g.reason
    _, soft = _platform("staging", _models_only({"llm": _l40s(2, 4)}))
    (g,) = [g for g in soft.groups if g.models]
    assert "packing trades zone spread for cost" in g.reason and "llm: up to 4 of 4 replicas on one node" in g.reason


def test_zone_shares_are_even_and_staggered():
    from modelstack.capacity.optimizer import zone_shares

    pod = Requests(cpu_millicores=100, memory_mib=100)
    shares = zone_shares([(pod, 4, 1), (pod, 1, 2)], 3)
    per_zone = [sum(n for _, n, _ in z) for z in shares]
    assert sum(per_zone) == 6 and max(per_zone) - min(per_zone) <= 1
    assert [sum(n for q, n, _ in z if q == pod) for z in zone_shares([(pod, 4, 1)], 3)] == [2, 1, 1]


def test_fewer_larger_nodes_at_max_than_at_min_are_priced_as_bought():
    # Two replicas at min on two one-GPU nodes; four at max on one four-GPU node: max runs fewer nodes than min.
    p, cap = _platform("staging", _models_only({"llm": _l40s(2, 4)}))
    kp = plan_karpenter(p, cap)
    (pool,) = [s.name for s in kp.node_pools]
    assert _bought(kp, pool, at_max=False) == {"g6e.4xlarge": 2} and _bought(kp, pool, at_max=True) == {"g6e.12xlarge": 1}
    g = estimate(kp.cost_inputs).to_json()["node_groups"][pool]
    assert g["nodes"] == {"min": 2, "max": 1} and g["nodes_by_type"]["max"] == {"g6e.12xlarge/ON_DEMAND": 1.0}


def test_the_launch_facts_are_read_at_the_pinned_karpenter():
    from pathlib import Path

    from modelstack.render.charts import CHARTS

    text = (Path(__file__).resolve().parents[2] / "components" / "data" / "UPSTREAM.md").read_text()
    section = text.split("## Karpenter launches", 1)[1].split("\n## ", 1)[0]
    assert f"tag **v{CHARTS['karpenter'].version}**" in section
    assert "SpotAllocationStrategyPriceCapacityOptimized" in section and "`maxInstanceTypes = 60`" in section
    # The NodePools stay far under the 60 types a launch is truncated to.
    p, cap = _platform("staging", _models_only({"llm": _l40s(1, 5)}))
    assert all(len(s.instance_types) <= 60 for s in plan_karpenter(p, cap).node_pools)
