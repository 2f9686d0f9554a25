"""Optimizer: cheapest shapes, spot shape equality, explicit types respected, floors, errors, and the bench."""

from __future__ import annotations

import importlib.util
import math
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from modelstack.capacity.optimizer import (
    ON_DEMAND,
    SPOT,
    GroupSelection,
    ModelDemand,
    SizingError,
    allowed_types,
    choose_group,
    estimate_explicit,
    group_capacity,
    pack_nodes,
    plan_groups,
    shape_key,
)
from modelstack.capacity.pricing import catalog, price_book
from modelstack.capacity.sizing import Requests, node_capacity, replicas_per_node

CAT = catalog()
R = Requests.parse


def test_single_gpu_model_on_demand_picks_cheapest_fitting_type():
    d = ModelDemand("llm", R("3", "12Gi", gpu=1), 1, 4)
    c = choose_group(GroupSelection(families=("g5", "g6")), [d])
    assert c.instance_types == ("g6.xlarge",) and c.capacity_type == ON_DEMAND
    assert (c.nodes_min, c.nodes_max) == (1, 4)
    assert c.usd_per_hour_min == pytest.approx(0.8048) and c.usd_per_hour_max == pytest.approx(4 * 0.8048)
    assert c.main.exact


def test_replica_too_big_for_xlarge_goes_to_2xlarge():
    d = ModelDemand("sd", R("4", "12Gi", gpu=1, gpu_models=("a10g",)), 1, 2)
    assert choose_group(GroupSelection(), [d]).primary.name == "g5.2xlarge"


def test_spot_group_mixes_only_equal_shapes_and_favours_low_interruption():
    d = ModelDemand("api", R("500m", "1Gi"), 2, 20)
    c = choose_group(GroupSelection(spot=True, max_types=4), [d])
    assert c.capacity_type == SPOT
    assert 1 < len(c.instance_types) <= 4
    assert len({shape_key(CAT[n]) for n in c.instance_types}) == 1
    assert all(CAT[n].family not in ("t3",) and CAT[n].arch == "amd64" for n in c.instance_types)
    ranks = [["<5%", "5-10%", "10-15%", "15-20%", ">20%"].index(b) for b in c.main.interruption]
    assert ranks == sorted(ranks)
    # Expected spot price is the mean of on-demand × (1 − savings) over the chosen types.
    expected = sum(CAT[n].on_demand_usd_per_hour * (1 - CAT[n].spot_savings_pct["us-east-1"] / 100)
                   for n in c.instance_types) / len(c.instance_types)
    assert c.main.unit_usd_per_hour == pytest.approx(expected)


def test_graviton_and_x86_never_share_a_spot_group():
    assert shape_key(CAT["m6g.large"]) != shape_key(CAT["m6i.large"])  # arm64 vs amd64: one AMI per group
    assert shape_key(CAT["m6i.large"]) == shape_key(CAT["m7i.large"])
    assert shape_key(CAT["t3.large"]) != shape_key(CAT["m6i.large"])  # burstable CPU credits (max pods 35 vs 29 alone would not split them)


DEV_CPU = GroupSelection(families=("m6i", "m7i", "m6a", "m7a", "m5"), spot=True, max_types=4)
DEV_GPU = GroupSelection(gpu_models=("a10g", "l4", "t4"), spot=True, max_types=4, mix_gpu_models=True)


def test_dev_cpu_spot_group_lists_at_least_three_equal_shape_types():
    c = choose_group(DEV_CPU, [ModelDemand("sentiment", R("1", "2Gi"), 1, 6)])
    assert c.capacity_type == SPOT
    assert 3 <= len(c.instance_types) <= 4
    assert {CAT[n].size for n in c.instance_types} == {"xlarge"}
    assert len({shape_key(CAT[n]) for n in c.instance_types}) == 1
    # m5 and m6a are within the 20% premium cap; the third type came from relaxing it, lowest bucket first.
    assert {"m5.xlarge", "m6a.xlarge", "m6i.xlarge"} <= set(c.instance_types)
    assert any("above the 20% spot price premium cap" in n and "min_types=3" in n for n in c.notes)
    assert "min_types=3" in c.reason


def test_dev_gpu_group_mixes_t4_a10g_and_l4_xlarge():
    c = choose_group(DEV_GPU, [ModelDemand("image-classifier", R("3", "12Gi", gpu=1), 0, 3)])
    assert c.capacity_type == SPOT
    assert set(c.instance_types) == {"g4dn.xlarge", "g5.xlarge", "g6.xlarge"}
    # Packed on the smallest allocatable of the three: g5/g6 memory (13.83 GiB), g4dn pods (29).
    cap = group_capacity([CAT[n] for n in c.instance_types])
    assert cap.memory_mib == min(node_capacity(CAT[n]).memory_mib for n in c.instance_types)
    assert cap.pods == node_capacity(CAT["g4dn.xlarge"]).pods
    assert c.main.unit_usd_per_hour == pytest.approx(
        sum(CAT[n].on_demand_usd_per_hour * (1 - CAT[n].spot_savings_pct["us-east-1"] / 100)
            for n in c.instance_types) / 3)


def test_gpu_model_memory_need_keeps_t4_out_of_a_mixed_group():
    d = ModelDemand("llm", R("3", "12Gi", gpu=1, min_gpu_memory_gib=20), 1, 3)
    c = choose_group(DEV_GPU, [d])
    assert "g4dn.xlarge" not in c.instance_types and len(c.instance_types) == 2
    assert any("fewer than min_types=3" in n for n in c.notes)


def test_only_two_equal_shape_types_gives_two_and_says_so():
    c = choose_group(GroupSelection(families=("m6i", "m7i"), spot=True), [ModelDemand("api", R("1", "2Gi"), 1, 6)])
    assert c.capacity_type == SPOT and len(c.instance_types) == 2
    assert {CAT[n].family for n in c.instance_types} == {"m6i", "m7i"}
    assert any("only 2 equal-shape type(s)" in n and "fewer than min_types=3" in n for n in c.notes)
    assert "fewer than min_types=3" in c.reason


def test_min_types_is_capped_by_max_types_and_validated():
    c = choose_group(replace(DEV_CPU, max_types=2), [ModelDemand("api", R("1", "2Gi"), 1, 6)])
    assert len(c.instance_types) == 2 and not any("min_types" in n for n in c.notes)
    c = choose_group(replace(DEV_CPU, min_types=1), [ModelDemand("api", R("1", "2Gi"), 1, 6)])
    assert set(c.instance_types) == {"m5.xlarge", "m6a.xlarge"}  # the 20% premium cap alone
    with pytest.raises(ValueError, match="min_types must be >= 1"):
        GroupSelection(min_types=0)
    with pytest.raises(ValueError, match="max_types must be >= 1, got 0"):
        GroupSelection(max_types=0)


def test_explicit_spot_group_with_one_type_gets_a_note():
    d = ModelDemand("llm", R("3", "12Gi", gpu=1), 1, 2)
    c = choose_group(GroupSelection(instance_types=("g5.xlarge",), spot=True), [d])
    assert c.instance_types == ("g5.xlarge",)
    assert any("fewer than min_types=3" in n for n in c.notes)


def test_on_demand_base_gets_an_on_demand_floor_pool():
    d = ModelDemand("llm", R("3", "12Gi", gpu=1, gpu_models=("l4",)), 1, 5, on_demand_base=1)
    c = choose_group(GroupSelection(spot=True), [d])
    assert c.capacity_type == SPOT and c.on_demand_floor is not None
    assert c.on_demand_floor.capacity_type == ON_DEMAND
    assert (c.on_demand_floor.nodes_min, c.on_demand_floor.nodes_max) == (1, 1)
    assert (c.nodes_min, c.nodes_max) == (0, 4)
    g6 = CAT["g6.xlarge"]
    assert c.usd_per_hour_max == pytest.approx(0.8048 + 4 * 0.8048 * (1 - 0.49))
    assert c.primary is g6


def test_explicit_instance_types_are_respected_and_costed():
    d = ModelDemand("llm", R("3", "12Gi", gpu=1), 2, 3)
    c = estimate_explicit(["g5.2xlarge"], ON_DEMAND, [d])
    assert c.explicit and c.instance_types == ("g5.2xlarge",)
    assert (c.nodes_min, c.nodes_max) == (2, 3)
    assert c.usd_per_hour_max == pytest.approx(3 * 1.212)
    via_selection = choose_group(GroupSelection(instance_types=("g5.2xlarge",)), [d])
    assert via_selection.instance_types == ("g5.2xlarge",) and via_selection.usd_per_hour_max == c.usd_per_hour_max


def test_explicit_type_too_small_is_an_error_naming_the_model():
    d = ModelDemand("sd", R("4", "8Gi", gpu=1), 1, 1)
    with pytest.raises(SizingError, match=r"model 'sd' .* does not fit on configured instance type g5.xlarge: needs 4000m CPU"):
        estimate_explicit(["g5.xlarge"], ON_DEMAND, [d])
    # the size of the table it searched, not a figure written when the table was smaller
    with pytest.raises(SizingError, match=rf"g9.huge not in the pricing data \({len(catalog())} types;"):
        estimate_explicit(["g9.huge"], ON_DEMAND, [d])


def test_nothing_fits_names_model_and_closest_type():
    d = ModelDemand("big", R("4", "8Gi", gpu=1, min_gpu_memory_gib=40), 1, 2)
    with pytest.raises(SizingError, match=r"model 'big' .*fits no instance type allowed for this node group "
                                          r"\(families g5; amd64\); closest is g5\.2xlarge: needs 40 GiB per GPU"):
        choose_group(GroupSelection(families=("g5",)), [d])


def test_pack_nodes_exact_for_one_model_and_ffd_for_several():
    cap = node_capacity(CAT["m6i.xlarge"])  # 3770m, 13861.92 MiB, 54 pods
    a, b = Requests(1000, 1024), Requests(1500, 6144)
    assert pack_nodes([(a, 7)], cap) == (3, True)  # 3 per node
    n, exact = pack_nodes([(a, 3), (b, 2)], cap)
    # volume bound: CPU 6000/3770 -> 2, memory 15360/13861.92 -> 2; FFD: b,b,(1 a) | a,a -> 2 nodes
    assert (n, exact) == (2, True)
    assert pack_nodes([(a, 0)], cap) == (0, True)


def test_small_models_share_a_group_when_cheaper():
    ds = [ModelDemand("a", Requests(600, 512), 1, 1), ModelDemand("b", Requests(600, 512), 1, 1)]
    groups = plan_groups(GroupSelection(families=("c6a",)), ds)
    assert len(groups) == 1 and groups[0].models == ("a", "b")
    assert groups[0].primary.name == "c6a.large" and groups[0].nodes_max == 1


def test_gpu_and_cpu_models_get_separate_groups():
    ds = [ModelDemand("cpu", R("1", "1Gi"), 1, 2), ModelDemand("gpu", R("2", "8Gi", gpu=1), 1, 2)]
    groups = plan_groups(GroupSelection(), ds)
    assert [g.models for g in groups] == [("cpu",), ("gpu",)]
    with pytest.raises(SizingError, match="no single instance type"):
        choose_group(GroupSelection(), ds)


def test_demand_validation():
    with pytest.raises(ValueError, match="min_replicas <= max_replicas"):
        ModelDemand("x", Requests(1, 1), 3, 2)


def _load_bench():
    path = Path(__file__).resolve().parents[2] / "bench" / "cost.py"
    spec = importlib.util.spec_from_file_location("modelstack_bench_cost", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses in the module look themselves up there
    spec.loader.exec_module(module)
    return module


def test_bench_core_optimizer_within_5_percent_of_ilp_on_three_models():
    pytest.importorskip("highspy")
    bench = _load_bench()
    portfolio = (
        ModelDemand("api", R("500m", "1Gi"), 3, 17, on_demand_base=1),
        ModelDemand("embed", R("1500m", "5Gi"), 2, 9, on_demand_base=1),
        ModelDemand("llm", R("3", "12Gi", gpu=1, min_gpu_memory_gib=20), 1, 5, on_demand_base=1),
    )
    res = bench.run(portfolio, time_limit=30)
    for heuristic, exact in zip(res.optimizer_od, res.exact_od):
        assert exact.optimal
        assert exact.usd_per_hour <= heuristic + 1e-9  # the ILP optimum never loses to the heuristic
    assert 1.0 <= res.objective_ratio <= 1.05
    # At min alone the gap is larger here (one m5a.2xlarge shape serves min and max; the min optimum uses
    # smaller nodes), which is why the objective, not each scenario, is the optimizer's target.
    assert res.ratio[1] <= 1.05
    assert res.spot_with_floor[1] < res.optimizer_od[1]
    assert all(not math.isnan(x) for x in res.hand_picked)


def test_an_on_demand_floor_above_min_replicas_runs_whole_at_min():
    # The floor is a fixed Deployment of on_demand_base replicas: with base 3 over min_replicas 1, three replicas
    # run on on-demand nodes at min, not one (the cost at min used to count one).
    from modelstack.capacity.optimizer import estimate_explicit
    d = ModelDemand("api", Requests.parse("1", "2Gi"), 1, 6, on_demand_base=3)
    assert (d.base(d.min_replicas), d.running(d.min_replicas)) == (3, 3)
    choice = estimate_explicit(["m6i.large"], "SPOT", [d])
    per_node = 1  # m6i.large: 1930m allocatable - 150m reserved holds one 1-CPU replica
    assert (choice.on_demand_floor.nodes_min, choice.on_demand_floor.nodes_max) == (3 // per_node, 3 // per_node)
    assert (choice.main.nodes_min, choice.main.nodes_max) == (0, 3)
    assert choice.usd_per_hour_min == pytest.approx(3 * 0.096)


def test_without_premium_relaxation_spreading_costs_at_most_the_tolerance():
    # The dev GPU selection relaxes the 20% premium to list three xlarge types (g5/g6 at about twice g4dn's spot
    # price); the planner's designs do not: they keep members within the premium, and take more pools only when
    # that costs at most max_spread_cost_pct more than the cheapest pool choice.
    d = [ModelDemand("image-classifier", R("3", "12Gi", gpu=1), 0, 3)]
    relaxed = choose_group(DEV_GPU, d)
    strict = choose_group(replace(DEV_GPU, relax_spot_premium=False), d)
    assert len(relaxed.instance_types) == 3
    cheapest_spot = min(CAT[n].on_demand_usd_per_hour * (1 - CAT[n].spot_savings_pct["us-east-1"] / 100)
                        for n in relaxed.instance_types)
    assert strict.main.unit_usd_per_hour <= cheapest_spot * 1.2 + 1e-9
    assert strict.usd_per_hour_max < relaxed.usd_per_hour_max
    # With a generous tolerance, the three-pool shape comes back (it is the only one reaching min_types).
    wide = choose_group(replace(DEV_GPU, relax_spot_premium=False, max_spread_cost_pct=1000.0,
                                max_spot_price_premium_pct=1000.0), d)
    assert len(wide.instance_types) == 3


def test_max_nodes_skips_shapes_that_need_more_nodes():
    d = [ModelDemand("api", R("1", "2Gi"), 1, 60)]
    free = choose_group(GroupSelection(), d)
    capped = choose_group(GroupSelection(max_nodes=10), d)
    assert free.nodes_max > 10 >= capped.nodes_max
    with pytest.raises(SizingError):
        choose_group(GroupSelection(families=("m6i",), max_nodes=1), [ModelDemand("api", R("1", "2Gi"), 1, 400)])


def test_packing_does_not_depend_on_the_order_models_are_listed_in():
    # Three pods whose largest share of the node is equal (CPU 1600m of 4000m = memory 3200 of 8000 MiB): first-fit
    # decreasing used to keep their config order among equals, and 4 or 5 nodes came out depending on that order.
    import itertools
    from modelstack.capacity.sizing import NodeCapacity
    cap = NodeCapacity(cpu_millicores=4000, memory_mib=8000.0, pods=110, gpus=0, neuron_devices=0)
    items = [(Requests(1600, 199), 1), (Requests(1600, 2461), 2), (Requests(832, 3200), 6)]
    assert {pack_nodes(list(p), cap) for p in itertools.permutations(items)} == {pack_nodes(items, cap)}


def test_equal_pods_pack_as_one_shape():
    cap = node_capacity(CAT["m6i.xlarge"])
    a, twin = Requests(1000, 1024), Requests(1000, 1024, arch="amd64")  # packing sees the same shape
    n, _ = pack_nodes([(a, 4), (twin, 3)], cap)
    assert n == pack_nodes([(a, 7)], cap)[0] == 3


def _pairwise_greedy(opt, demands):
    """plan_groups' greedy as first written: every pair of blocks each round, the first best one merged."""
    blocks = [(i,) for i in range(len(demands))]
    cost = {b: opt.objective([demands[i] for i in b]) for b in blocks}
    while True:
        best_gain, best = 1e-9, None
        for x in range(len(blocks)):
            for y in range(x + 1, len(blocks)):
                a, b = blocks[x], blocks[y]
                merged = tuple(sorted(a + b))
                c = opt.objective([demands[i] for i in merged])
                if c is not None and cost[a] + cost[b] - c > best_gain:
                    best_gain, best = cost[a] + cost[b] - c, (a, b, merged, c)
        if best is None:
            return sorted(blocks, key=min)
        a, b, merged, c = best
        blocks = [x for x in blocks if x not in (a, b)] + [merged]
        cost[merged] = c


@pytest.mark.parametrize("seed", range(6))
def test_greedy_over_classes_of_equal_blocks_merges_as_the_pairwise_greedy(seed):
    import random
    from modelstack.capacity.optimizer import GroupOptimizer
    rng = random.Random(seed)
    shapes = rng.sample([("500m", "1Gi"), ("1", "2Gi"), ("1100m", "2176Mi"), ("2", "4Gi"), ("250m", "512Mi"),
                         ("3", "8Gi"), ("1500m", "6Gi")], rng.choice([1, 2, 3]))
    demands = []
    for i in range(rng.choice([9, 12, 16])):
        cpu, mem = rng.choice(shapes)
        lo = rng.choice([0, 1, 2])
        demands.append(ModelDemand(f"m{i}", R(cpu, mem), lo, max(1, lo + rng.choice([0, 1, 3, 6])),
                                   on_demand_base=rng.choice([0, 0, 1])))
    sel = GroupSelection(spot=seed % 2 == 0, mix_gpu_models=True, max_nodes=rng.choice([None, 10]),
                         relax_spot_premium=seed % 3 == 0)
    opt = GroupOptimizer(sel)
    groups = opt.plan(demands, exact_up_to=0)  # greedy at any size
    index = {d.name: i for i, d in enumerate(demands)}
    assert [tuple(index[m] for m in g.models) for g in groups] == _pairwise_greedy(GroupOptimizer(sel), demands)


def test_equal_models_cost_the_same_work_however_many_there_are():
    from modelstack.capacity.optimizer import GroupOptimizer
    sel = GroupSelection(spot=True, mix_gpu_models=True, max_nodes=10, relax_spot_premium=False)
    work = {}
    for n in (20, 400):
        opt = GroupOptimizer(sel)
        demands = [ModelDemand(f"m{i}", R(("1", "500m")[i % 2], ("2Gi", "1Gi")[i % 2]), 1, 2) for i in range(n)]
        groups = opt.plan(demands)
        assert sorted(m for g in groups for m in g.models) == sorted(d.name for d in demands)
        work[n] = opt.packings
    assert work[400] <= 2 * work[20]  # blocks are keyed on what they hold, not on which models


def test_a_spot_floor_may_hold_the_min_replicas_when_that_costs_less():
    # "big" (4 GPUs, 192 GiB) fits one per g4dn.metal (8 T4, 384 GiB); "wide" (4 GPUs, 16 vCPU) two per metal.
    # Floors as asked: big's two replicas on one on-demand g6.48xlarge (8 L4, 768 GiB: the cheapest floor), wide's
    # two at min on a spot g4dn.metal. Raised to min replicas: all four on two on-demand g4dn.metal, no spot at min.
    big = ModelDemand("big", R("8", "192Gi", gpu=4), 2, 3, on_demand_base=2)
    wide = ModelDemand("wide", R("16", "128Gi", gpu=4), 2, 3)
    asked = GroupSelection(spot=True, relax_spot_premium=False)
    prices = price_book("us-east-1")
    od, spot = prices.on_demand, prices.spot
    c = choose_group(asked, [big, wide])
    assert c.on_demand_floor.instance_types == ("g6.48xlarge",) and c.on_demand_floor.floor_replicas == ()
    assert c.usd_per_hour_min == pytest.approx(od(CAT["g6.48xlarge"]) + spot(CAT["g4dn.metal"]))
    assert "raised" not in c.reason
    r = choose_group(replace(asked, raise_floors=True), [big, wide])
    floor = r.on_demand_floor
    assert (floor.instance_types, floor.nodes_min, floor.nodes_max) == (("g4dn.metal",), 2, 2)
    assert floor.models == ("big", "wide") and floor.floor_replicas == (2, 2)
    assert r.main.nodes_min == 0 and r.usd_per_hour_min == pytest.approx(2 * od(CAT["g4dn.metal"]))
    assert r.usd_per_hour_min + r.usd_per_hour_max < c.usd_per_hour_min + c.usd_per_hour_max
    assert "raised to the min replicas of wide 2 (on_demand_base 0)" in r.reason and "big 2" not in r.reason
    # The floor's replicas follow the models in either order (wide with min 1: raised to 1, big stays at 2).
    narrow = replace(wide, min_replicas=1)
    sel = replace(asked, raise_floors=True)
    assert choose_group(sel, [big, narrow]).on_demand_floor.floor_replicas == (2, 1)
    assert choose_group(sel, [narrow, big]).on_demand_floor.floor_replicas == (1, 2)


def test_a_raised_floor_leaves_a_replica_to_autoscale_and_skips_a_model_that_scales_to_zero():
    # on_demand_base < max_replicas holds for a raised floor too: with min == max it holds max - 1. A model with
    # min 0 has nothing to raise (its floor stays as asked: none).
    big = ModelDemand("big", R("8", "192Gi", gpu=4), 2, 3, on_demand_base=2)
    sel = GroupSelection(spot=True, relax_spot_premium=False, raise_floors=True)
    for lo, hi, expected in ((3, 3, (2, 2)), (2, 2, (2, 1)), (0, 4, ())):
        wide = ModelDemand("wide", R("16", "128Gi", gpu=4), lo, hi)
        assert choose_group(sel, [big, wide]).on_demand_floor.floor_replicas == expected


def test_a_karpenter_floor_of_one_small_replica_goes_on_the_cheapest_node_that_holds_it():
    # "big" (4 vCPU) and "tiny" (0.5 vCPU, a floor of 1) share a Karpenter block: the group's one shape must hold
    # big, but the floor's mix may use any node tiny fits, and one replica is cheapest on the cheapest such node
    # (the best per-replica rates are large nodes, which the mix offered first).
    big = ModelDemand("big", R("4", "8Gi"), 1, 6)
    tiny = ModelDemand("tiny", R("500m", "1Gi"), 3, 12, on_demand_base=1)
    sel = GroupSelection(spot=True, mixed=True, relax_spot_premium=False)
    prices = price_book("us-east-1")
    fits = [t for t in allowed_types(sel, CAT) if prices.on_demand(t) is not None and replicas_per_node(tiny.pod, t) > 0]
    cheapest = min(fits, key=lambda t: (prices.on_demand(t), t.name))
    floor = choose_group(sel, [big, tiny]).on_demand_floor
    assert [(p.instance_types, p.nodes) for p in floor.parts(False)] == [((cheapest.name,), 1)]
    assert floor.usd_per_hour_min == pytest.approx(prices.on_demand(cheapest))
