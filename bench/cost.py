"""Cost benchmark of the product path: models-only stacks planned by `modelstack plan`, against the exact optimum.

Run: ``python bench/cost.py`` (or ``make bench``). Needs ``highspy`` (dev extra) for the exact optimum.

**Product path.** ``PRODUCT_PORTFOLIO`` (11 models: four CPU models, six single-GPU models from T4 to L40S
class, one 4-GPU model, one of them scaling to zero) is written as staging stack configs the way a user writes
them: models only, no node groups, a ``capacity: {spot: ...}`` section. The script runs ``modelstack plan`` on
each, reads ``plan.json`` and prices the model node groups from ``cost.node_groups.<group>.nodes_by_type`` and
the price table (instances only; the system group, root volumes and fixed costs are left out on both sides).
The stacks name no provisioner, so they get the default (Karpenter) and plan.json prices what it would buy.
It compares, at min and at max replicas:

* on-demand (``spot: false``) with the exact on-demand optimum;
* spot (``spot: true``, an on-demand fallback and each model's ``on_demand_base`` floor, as prod runs) with the
  exact optimum where every type may run at its expected spot price and floor replicas only on on-demand nodes.

The optimum is an integer program solved with HiGHS for each scenario on its own: how many nodes of each
allowed type and capacity type to run and which replicas go on each, minimizing the hourly price, over the
types the planner may use in the environment (our own accelerated-family policy). Its replicas are the pods the
plan places (server plus proxy), built from the same stack config by the planner's own ``demand_of``. The plan must keep one shape
per group at both min and max and prices a spot group at the mean over its types, so the optimum is a lower
bound and ratio = plan / optimum >= 1. Targets: within 3% on-demand and 5% with spot, at min and at max.

It also plans the same models with node groups declared by hand (our stacks' cpu / gpu / gpu-large / 4-GPU
layout, one cpu and one gpu group, one group per model) and prints their ratios, the plan's exit code and
whether the plan advised the planner's own design.

``PORTFOLIO`` is the previous benchmark's portfolio (GPU models pinned by name); ``PRODUCT_PORTFOLIO`` holds the
same requests, replica ranges and floors with each GPU class written as the GPU memory it needs, plus the model
that scales to zero. ``ADDENDUM`` holds the two models that need A100/H100 instances (p4d.24xlarge, an 8-GPU
node; p5.4xlarge): reported apart through the optimizer directly (prod's families; prod's min-replicas policy
rejects their one-replica minimum), with the reason spot cannot save there. The script exits 0 either way.

**Random portfolios** (``--random N --seed S [--jobs J] [--time-limit T] [-v]``): N portfolios of 3-9 models drawn
by :func:`random_portfolio` (CPU models of 0.25-16 vCPU; GPU models of 1-8 GPUs needing 8-44 GiB per GPU, the most
staging's families hold; replica ranges from zero; on-demand floors from none to nearly all), each written as a
models-only staging stack, on-demand and spot, planned by `modelstack plan` and compared with its exact optimum
(the same ILP over the same pods): median, p90 and worst of plan / optimum at min and at max, against
``RANDOM_TARGETS``. With ``--only pI --nested``, whether any layout that scales without moving a pod (a nested
ILP of both ends, :func:`nested_bound`) could meet the spot targets at both ends. ``--rules`` instead prints what each rule (one shape per group, strict zone spread, spot pools)
costs the planner's design of the same portfolios, in-process. ``--weight-at-min W`` writes
``capacity.weight_at_min: W`` into every random stack (default: the planner's own, 2).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Sequence

from modelstack.capacity.optimizer import (
    GroupChoice,
    GroupSelection,
    ModelDemand,
    allowed_types,
    plan_groups,
    packing_key,
)
from modelstack.capacity.pricing import InstanceType, PriceBook, catalog, price_book
from modelstack.capacity.sizing import Requests, node_capacity, replicas_per_node

R = Requests.parse
ROOT = Path(__file__).resolve().parents[1]

PORTFOLIO: tuple[ModelDemand, ...] = (
    ModelDemand("sentiment-distilbert", R("500m", "1Gi"), 3, 20, on_demand_base=2),
    ModelDemand("text-embed-minilm", R("2", "4Gi"), 2, 12, on_demand_base=2),
    ModelDemand("fraud-xgboost", R("1", "2Gi"), 2, 8, on_demand_base=1),
    ModelDemand("ner-spacy-large", R("4", "16Gi"), 1, 6, on_demand_base=1),
    ModelDemand("whisper-small-t4", R("3", "12Gi", gpu=1, gpu_models=("t4",)), 1, 4, on_demand_base=1),
    ModelDemand("sdxl-a10g", R("3", "12Gi", gpu=1, gpu_models=("a10g",)), 1, 6, on_demand_base=1),
    ModelDemand("llama-8b-24g", R("3", "12Gi", gpu=1, min_gpu_memory_gib=20), 1, 8, on_demand_base=1),
    ModelDemand("rerank-l4", R("2", "8Gi", gpu=1, gpu_models=("l4",)), 2, 10, on_demand_base=1),
    ModelDemand("mixtral-l40s", R("6", "48Gi", gpu=1, gpu_models=("l40s",)), 1, 4, on_demand_base=1),
    ModelDemand("llama-70b-awq-4gpu", R("24", "96Gi", gpu=4, min_gpu_memory_gib=20), 1, 3, on_demand_base=1),
)
"""What modelstack targets: CPU and 1- or 4-GPU models on g4dn/g5/g6/g6e and general-purpose nodes.
Realistic per-replica requests; on_demand_base is the prod on-demand floor (>= 1 for every model)."""

ADDENDUM: tuple[ModelDemand, ...] = (
    ModelDemand("llama-70b-a100", R("40", "400Gi", gpu=4, gpu_models=("a100",), min_gpu_memory_gib=40), 1, 2,
                on_demand_base=1),
    ModelDemand("llama-70b-fp8-h100", R("12", "160Gi", gpu=1, gpu_models=("h100",)), 1, 3, on_demand_base=1),
)
"""Models on A100/H100 instances (p4d.24xlarge 8-GPU nodes, p5.4xlarge): reported apart, never hidden."""

SELECTION = GroupSelection()  # every non-burstable amd64 family; the models' own requests narrow it

HAND_FAMILY = {"t4": "g4dn", "a10g": "g5", "l4": "g6", "l40s": "g6e", "h100": "p5"}


def hand_pick(d: ModelDemand, cat: Mapping[str, InstanceType]) -> InstanceType:
    """The type a user would pick by hand: the obvious family, its cheapest size the replica fits on."""
    req = d.requests
    if req.gpu == 0:
        family = "m6i"
    elif req.gpu_models and req.gpu_models[0] == "a100":
        family = "p4de" if (req.min_gpu_memory_gib or 0) > 40 else "p4d"
    elif req.gpu_models:
        family = HAND_FAMILY[req.gpu_models[0]]
    else:
        family = "g6e" if (req.min_gpu_memory_gib or 0) > 24 else "g5"  # L40S class: the 48 GB GPU's family
    fits = [t for t in cat.values() if t.family == family and t.on_demand_usd_per_hour is not None
            and replicas_per_node(req, t, None, d.sidecars) > 0]
    if not fits:
        raise SystemExit(f"hand-pick rule finds no {family} type for {d.name}")
    return min(fits, key=lambda t: (t.on_demand_usd_per_hour, t.name))


def hand_picked_cost(demands: Sequence[ModelDemand], cat: Mapping[str, InstanceType]) -> tuple[float, float]:
    lo = hi = 0.0
    for d in demands:
        t = hand_pick(d, cat)
        per = replicas_per_node(d.requests, t, None, d.sidecars)
        lo += math.ceil(d.min_replicas / per) * t.on_demand_usd_per_hour
        hi += math.ceil(d.max_replicas / per) * t.on_demand_usd_per_hour
    return lo, hi


def plan_cost(groups: Sequence[GroupChoice]) -> tuple[float, float]:
    return sum(g.usd_per_hour_min for g in groups), sum(g.usd_per_hour_max for g in groups)


# --------------------------------------------------------------------------------------------------
# Exact optimum (integer program)
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Exact:
    usd_per_hour: float  # best solution found
    lower_bound: float  # proven bound (equals usd_per_hour when solved to optimality)
    optimal: bool
    nodes: tuple[tuple[str, int], ...] = ()
    """The best solution's nodes: ("<type>/<capacity>", count), most first."""


def _components(demands: Sequence[ModelDemand], fits: Sequence[set[str]]) -> list[list[int]]:
    """Models that can share no instance type are independent sub-problems."""
    parent = list(range(len(demands)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(demands)):
        for j in range(i + 1, len(demands)):
            if fits[i] & fits[j]:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(demands)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


@dataclass(frozen=True)
class Variant:
    """One way to buy a node: an instance type at a capacity type and its expected hourly price."""

    key: str  # "<type>/<capacity>"
    itype: InstanceType
    price: float
    spot: bool


def _solve_component(demands: Sequence[ModelDemand], counts: Sequence[int], types: Sequence[InstanceType],
                     prices: PriceBook, time_limit: float) -> Exact:
    """On-demand optimum for ``counts`` replicas of ``demands`` on ``types``."""
    items = [(d.pod, c, False) for d, c in zip(demands, counts)]
    return _solve(items, [Variant(f"{t.name}/ON_DEMAND", t, prices.on_demand(t), False) for t in types], time_limit)


def _solve(items: Sequence[tuple[Requests, int, bool]], variants: Sequence[Variant], time_limit: float) -> Exact:
    """Cheapest nodes (any number of each variant) holding ``items`` = (pod, count, on-demand only) as an integer
    program: node slots per variant, replicas per slot, one row per resource per slot."""
    import highspy  # dev dependency, only the benchmark needs it

    if sum(c for _, c, _ in items) == 0:
        return Exact(0.0, 0.0, True)
    per = {(m, v.key): (0 if (od_only and v.spot) else replicas_per_node(pod, v.itype))
           for m, (pod, _, od_only) in enumerate(items) for v in variants}
    live = [m for m, (_, c, _) in enumerate(items) if c]
    variants = [v for v in variants if any(per[(m, v.key)] > 0 for m in live)]
    # Upper bound on the optimum: every item alone on its own cheapest variant.
    upper = sum(min(math.ceil(items[m][1] / per[(m, v.key)]) * v.price for v in variants if per[(m, v.key)] > 0)
                for m in live)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", 1e-6)
    inf = highspy.kHighsInf
    col = 0
    slot_of: dict[int, str] = {}
    rows: list[tuple[float, float, list[int], list[float]]] = []
    assign: dict[int, list[int]] = {m: [] for m in live}
    lbs, ubs, costs = [], [], []
    for v in variants:
        cap = node_capacity(v.itype)
        fitting = [m for m in live if per[(m, v.key)] > 0]
        slots = min(math.floor(upper / v.price + 1e-9) if v.price > 0 else 0,
                    sum(math.ceil(items[m][1] / per[(m, v.key)]) for m in fitting))
        prev_z = None
        for _ in range(slots):
            z = col
            slot_of[z] = v.key
            col += 1
            lbs.append(0.0), ubs.append(1.0), costs.append(v.price)
            xs = []
            for m in fitting:
                x = col
                col += 1
                lbs.append(0.0), ubs.append(float(min(items[m][1], per[(m, v.key)]))), costs.append(0.0)
                xs.append((m, x))
                assign[m].append(x)
            pods = [items[m][0] for m, _ in xs]
            dims = [
                ([1.0] * len(xs), cap.pods),
                ([float(p.cpu_millicores) for p in pods], cap.cpu_millicores),
                ([float(p.memory_mib) for p in pods], cap.memory_mib),
                ([float(p.gpu) for p in pods], cap.gpus),
                ([float(p.inferentia) for p in pods], cap.neuron_devices),
            ]
            for coeffs, capacity in dims:
                if any(coeffs):
                    # sum(x * size) - capacity * z <= 0
                    rows.append((-inf, 0.0, [x for _, x in xs] + [z], coeffs + [-float(capacity)]))
            if prev_z is not None:  # symmetry: use slot k before slot k+1
                rows.append((0.0, inf, [prev_z, z], [1.0, -1.0]))
            prev_z = z
    for m, xs in assign.items():
        rows.append((float(items[m][1]), float(items[m][1]), xs, [1.0] * len(xs)))
    import numpy as np

    h.addVars(col, np.array(lbs), np.array(ubs))
    h.changeColsCost(col, np.arange(col, dtype=np.int32), np.array(costs))
    h.changeColsIntegrality(col, np.arange(col, dtype=np.int32),
                            np.array([highspy.HighsVarType.kInteger] * col))
    for lo, hi, idx, vals in rows:
        h.addRow(lo, hi, len(idx), np.array(idx, dtype=np.int32), np.array(vals))
    h.run()
    info = h.getInfo()
    status = h.getModelStatus()
    optimal = status == highspy.HighsModelStatus.kOptimal
    value = info.objective_function_value
    bound = info.mip_dual_bound if not optimal else value
    counts: dict[str, int] = {}
    solution = h.getSolution().col_value
    for z, key in slot_of.items():
        if solution[z] > 0.5:
            counts[key] = counts.get(key, 0) + 1
    return Exact(value, bound, optimal, tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))


def _add(a: Exact, b: Exact) -> Exact:
    nodes = dict(a.nodes)
    for k, n in b.nodes:
        nodes[k] = nodes.get(k, 0) + n
    return Exact(a.usd_per_hour + b.usd_per_hour, a.lower_bound + b.lower_bound, a.optimal and b.optimal,
                 tuple(sorted(nodes.items(), key=lambda kv: (-kv[1], kv[0]))))


def exact_optimum(demands: Sequence[ModelDemand], scenario: str, selection: GroupSelection = SELECTION,
                  prices: PriceBook | None = None, cat: Mapping[str, InstanceType] | None = None,
                  time_limit: float = 60.0) -> Exact:
    """Minimum on-demand $/h to host every model's ``scenario`` ("min" or "max") replicas on allowed types."""
    cat = cat if cat is not None else catalog()
    prices = prices or price_book("us-east-1")
    # Equal shapes are interchangeable for packing; keep the cheapest of each (exactness-preserving).
    best: dict[tuple, InstanceType] = {}
    for t in allowed_types(selection, cat):
        k = packing_key(t)
        if k not in best or (prices.on_demand(t), t.name) < (prices.on_demand(best[k]), best[k].name):
            best[k] = t
    types = list(best.values())
    fits = [{t.name for t in types if replicas_per_node(d.requests, t, None, d.sidecars) > 0} for d in demands]
    counts = [d.min_replicas if scenario == "min" else d.max_replicas for d in demands]
    total = Exact(0.0, 0.0, True)
    for comp in _components(demands, fits):
        sub = [demands[i] for i in comp]
        sub_types = [t for t in types if any(t.name in fits[i] for i in comp)]
        r = _solve_component(sub, [counts[i] for i in comp], sub_types, prices, time_limit)
        total = _add(total, r)
    return total


# --------------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BenchResult:
    optimizer_od: tuple[float, float]
    exact_od: tuple[Exact, Exact]
    hand_picked: tuple[float, float]
    spot_with_floor: tuple[float, float]
    groups_od: tuple[GroupChoice, ...]
    groups_spot: tuple[GroupChoice, ...]

    @property
    def ratio(self) -> tuple[float, float]:
        return tuple(o / e.lower_bound if e.lower_bound else 1.0 for o, e in zip(self.optimizer_od, self.exact_od))

    @property
    def objective_ratio(self) -> float:
        """Optimizer's objective (cost at min + cost at max) over its lower bound, the sum of the two optima."""
        bound = sum(e.lower_bound for e in self.exact_od)
        return sum(self.optimizer_od) / bound if bound else 1.0

    @property
    def spot_savings(self) -> tuple[float, float]:
        return tuple(1.0 - s / o if o else 0.0 for s, o in zip(self.spot_with_floor, self.optimizer_od))


def run(demands: Sequence[ModelDemand] = PORTFOLIO, selection: GroupSelection = SELECTION,
        time_limit: float = 60.0) -> BenchResult:
    cat = catalog()
    prices = price_book("us-east-1")
    od_groups = plan_groups(replace(selection, spot=False), demands, prices, cat)
    spot_groups = plan_groups(replace(selection, spot=True), demands, prices, cat)
    return BenchResult(
        optimizer_od=plan_cost(od_groups),
        exact_od=(exact_optimum(demands, "min", selection, prices, cat, time_limit),
                  exact_optimum(demands, "max", selection, prices, cat, time_limit)),
        hand_picked=hand_picked_cost(demands, cat),
        spot_with_floor=plan_cost(spot_groups),
        groups_od=tuple(od_groups),
        groups_spot=tuple(spot_groups),
    )


def _groups_text(groups: Sequence[GroupChoice]) -> list[str]:
    lines = []
    for g in groups:
        for pool in g.pools:
            lines.append(f"    {pool.capacity_type:<9} {', '.join(pool.instance_types):<44} nodes {pool.nodes_min:>2} - "
                         f"{pool.nodes_max:<3} ${pool.unit_usd_per_hour:8.4f}/node-h  {', '.join(pool.models)}")
    return lines


def why_no_spot_saving(res: BenchResult, demands: Sequence[ModelDemand], selection: GroupSelection = SELECTION,
                       prices: PriceBook | None = None) -> list[str]:
    """For each model whose spot plan is wholly on-demand, why spot cannot save there (computed, not written)."""
    prices = prices or price_book("us-east-1")
    cat = catalog()
    by_name = {d.name: d for d in demands}
    od_of = {m: g for g in res.groups_od for m in g.models}
    lines = []
    for g in res.groups_spot:
        if any(p.capacity_type != "ON_DEMAND" for p in g.pools):
            continue
        for m in g.models:
            d, itype = by_name[m], od_of[m].primary
            per = replicas_per_node(d.requests, itype, None, d.sidecars)
            floor_nodes = math.ceil(d.base(d.max_replicas) / per)
            rest = d.max_replicas - d.base(d.max_replicas)
            if rest == 0 or math.ceil(d.max_replicas / per) == floor_nodes:
                lines.append(f"{m}: {per} replica(s) per {itype.name} node, so its {d.max_replicas} replicas at max "
                             f"fill {floor_nodes} node(s), and the on-demand floor for its on_demand_base of "
                             f"{d.on_demand_base} already is that node: nothing is left to run on spot")
                continue
            text = f"{m}: no Spot Advisor data for {itype.name}, so its spot price is unknown"
            if prices.spot(itype) is not None:
                text = f"{m}: spot on {itype.name} is not cheaper here"
            alts = [(math.ceil(rest / k) * prices.spot(t), t.name) for t in allowed_types(selection, cat)
                    if prices.spot(t) is not None and (k := replicas_per_node(d.requests, t, None, d.sidecars)) > 0]
            rest_od = math.ceil(rest / per) * prices.on_demand(itype)
            if alts:
                cost, name = min(alts)
                text += (f"; the {rest} replicas above the floor cost ${rest_od:.2f}/h on-demand on {itype.name}, "
                         f"and ${cost:.2f}/h at expected spot on {name}, the cheapest fitting type with spot data")
            lines.append(text)
    return lines


def verdicts(res: BenchResult, demands: Sequence[ModelDemand]) -> list[tuple[bool, str]]:
    """The PASS/FAIL lines for one portfolio, computed from its figures."""
    floor_ok = all(
        d.on_demand_base <= 0 or any(
            p.capacity_type == "ON_DEMAND" and d.name in p.models for g in res.groups_spot for p in g.pools)
        for d in demands)
    return [
        (res.objective_ratio <= 1.05, f"optimizer's objective (cost at min + cost at max) within 5% of the optimum "
                                      f"(ratio {res.objective_ratio:.4f})"),
        (all(r <= 1.05 for r in res.ratio), f"optimizer within 5% of the optimum in each scenario on its own (ratio "
                                            f"{res.ratio[0]:.4f} at min, {res.ratio[1]:.4f} at max; the optimum may "
                                            "use other types at min than at max, a node group may not)"),
        (res.spot_savings[1] >= 0.40, f"expected spot cost {res.spot_savings[1] * 100:.1f}% below all-on-demand at max "
                                      f"replicas (target >= 40%; at min {res.spot_savings[0] * 100:.1f}%, where the "
                                      "on-demand floor dominates)"),
        (floor_ok, "every model keeps on-demand capacity for its on_demand_base in the spot plan"),
    ]


def _table(res: BenchResult, *, with_optimum: bool = True) -> list[str]:
    rows = [("optimizer plan, all on-demand", res.optimizer_od)]
    if with_optimum:
        rows += [("exact optimum (ILP, HiGHS)", tuple(e.usd_per_hour for e in res.exact_od)),
                 ("ratio optimizer / optimum", res.ratio)]
    rows += [
        ("baseline: hand-picked, one group per model", res.hand_picked),
        ("baseline: all on-demand, optimizer packing", res.optimizer_od),
        ("optimizer spot plan, expected (prod floor)", res.spot_with_floor),
        ("spot saving vs all on-demand", res.spot_savings),
    ]
    lines = [f"{'':<46}{'at min':>12}{'at max':>12}"]
    for label, (lo, hi) in rows:
        if label.startswith("ratio"):
            fmt = lambda v: f"{v:12.4f}"  # noqa: E731
        elif label.startswith("spot saving"):
            fmt = lambda v: f"{v * 100:11.1f}%"  # noqa: E731
        else:
            fmt = lambda v: f"{v:12.4f}"  # noqa: E731
        lines.append(f"{label:<46}{fmt(lo)}{fmt(hi)}")
    for scenario, e in zip(("min", "max"), res.exact_od):
        if with_optimum and not e.optimal:
            lines.append(f"note: ILP at {scenario} stopped at the time limit; ratio uses its proven lower bound "
                         f"{e.lower_bound:.4f}")
    return lines


def _portfolio_text(demands: Sequence[ModelDemand], hand: bool = True) -> list[str]:
    lines = []
    for d in demands:
        p = d.pod
        acc = f", {p.gpu} GPU {'/'.join(p.gpu_models or ('any',))}" if p.gpu else ""
        mem = f" >= {p.min_gpu_memory_gib:g} GiB" if p.min_gpu_memory_gib else ""
        lines.append(f"  {d.name:<22} {p.cpu_millicores:>6}m {p.memory_mib:>7} MiB{acc}{mem}; replicas {d.min_replicas}-"
                     f"{d.max_replicas}, on-demand base {d.on_demand_base}"
                     + (f"; hand-pick {hand_pick(d, catalog()).name}" if hand else ""))
    return lines


def _saving(od: tuple[float, float], spot: tuple[float, float]) -> tuple[float, float]:
    return tuple(1.0 - s / o if o else 0.0 for s, o in zip(spot, od))


# --------------------------------------------------------------------------------------------------
# The product path: models-only stack configs through `modelstack plan`
# --------------------------------------------------------------------------------------------------

PRODUCT_ENV = "staging"
"""Where the product-path stacks plan: staging's own policies hold (20 nodes per group, the g4dn/g5/g6/g6e
families), and its min-replicas rule does not (prod's asks two replicas of every model)."""

PRODUCT_PORTFOLIO: tuple[ModelDemand, ...] = (
    ModelDemand("sentiment-distilbert", R("500m", "1Gi"), 3, 20, on_demand_base=2),
    ModelDemand("text-embed-minilm", R("2", "4Gi"), 2, 12, on_demand_base=2),
    ModelDemand("fraud-xgboost", R("1", "2Gi"), 2, 8, on_demand_base=1),
    ModelDemand("ner-spacy-large", R("4", "16Gi"), 1, 6, on_demand_base=1),
    ModelDemand("whisper-small-t4", R("3", "12Gi", gpu=1, min_gpu_memory_gib=16), 1, 4, on_demand_base=1),
    ModelDemand("sdxl-a10g", R("3", "12Gi", gpu=1, min_gpu_memory_gib=22), 1, 6, on_demand_base=1),
    ModelDemand("llama-8b-24g", R("3", "12Gi", gpu=1, min_gpu_memory_gib=20), 1, 8, on_demand_base=1),
    ModelDemand("rerank-l4", R("2", "8Gi", gpu=1, min_gpu_memory_gib=22), 2, 10, on_demand_base=1),
    ModelDemand("mixtral-l40s", R("6", "48Gi", gpu=1, min_gpu_memory_gib=44), 1, 4, on_demand_base=1),
    ModelDemand("llama-70b-awq-4gpu", R("24", "96Gi", gpu=4, min_gpu_memory_gib=20), 1, 3, on_demand_base=1),
    ModelDemand("caption-batch-t4", R("2", "8Gi", gpu=1, min_gpu_memory_gib=16), 0, 4),
)
"""PORTFOLIO as a user writes it in stack config: the same requests, replica ranges and floors, each GPU model's
class as the GPU memory it needs (a T4-class model needs 16 GiB, A10G/L4 class 22, L40S class 44: the price
table's figures), plus one model that scales to zero. 11 models."""


def _memory(mib: int) -> str:
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def stack_config(demands: Sequence[ModelDemand], spot: bool, env: str = PRODUCT_ENV,
                 node_groups: Mapping[str, dict] | None = None, assign: Mapping[str, str] | None = None,
                 weight_at_min: float | None = None) -> dict:
    """A stack file for ``demands``: models only (the planner designs the groups) unless ``node_groups`` are given.
    With spot, an on-demand fallback and each model's ``on_demand_base`` floor (prod's posture, set explicitly).
    ``weight_at_min``: the models-only stack's ``capacity.weight_at_min`` (default: left to the planner's default)."""
    models = {}
    for d in demands:
        r = d.requests
        compute: dict = {"cpu": f"{r.cpu_millicores}m", "memory": _memory(r.memory_mib)}
        if r.gpu:
            compute["gpu"] = r.gpu
        if r.min_gpu_memory_gib:
            compute["min_gpu_memory_gib"] = r.min_gpu_memory_gib
        if r.gpu_models:
            compute["gpu_models"] = list(r.gpu_models)
        auto: dict = {"min_replicas": d.min_replicas, "max_replicas": d.max_replicas}
        if d.min_replicas == 0:
            auto["scale_to_zero"] = True
        if spot and d.on_demand_base:
            auto["on_demand_base"] = d.on_demand_base
        models[d.name] = {"image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{d.name}:1", "compute": compute,
                          "autoscaling": auto, "readiness_probe": {"http_get": {"path": "/healthz"}},
                          "liveness_probe": {"http_get": {"path": "/healthz"}}}
        if assign:
            models[d.name]["node_group"] = assign[d.name]
    platform: dict = {"environment": env, "team": "bench", "cluster": {"name": "bench"}, "models": models}
    if node_groups:
        platform["node_groups"] = {n: {**g, **({"spot": True, "on_demand_fallback": True}
                                               if spot and g.get("kind") != "system" else {})}
                                   for n, g in node_groups.items()}
    else:
        platform["capacity"] = {"spot": spot, "on_demand_fallback": spot} if spot else {"spot": False}
        if weight_at_min is not None:
            platform["capacity"]["weight_at_min"] = weight_at_min
    return {"config": {"aws:region": "us-east-1", "modelstack:platform": platform}}


def _kind(d: ModelDemand) -> str:
    return "gpu" if d.requests.gpu else "cpu"


SYSTEM = {"kind": "system", "instance_types": ["m7i.large"], "min_size": 2, "max_size": 4, "root_volume": {"size_gib": 50}}


def declared_layouts(demands: Sequence[ModelDemand]) -> dict[str, tuple[dict, dict]]:
    """Node groups a user writes by hand, with each model's group: (node_groups, model -> group), max_size at
    staging's cap of 20 (:func:`product_path` raises it when a layout needs more)."""
    def stacks_way(d: ModelDemand) -> str:
        if not d.requests.gpu:
            return "cpu"
        if d.requests.gpu > 1:
            return "gpu-4x"
        return "gpu-large" if (d.requests.min_gpu_memory_gib or 0) >= 40 else "gpu"
    ours = {"system": SYSTEM, "cpu": {"kind": "cpu", "selection": {"families": ["m6i", "m7i", "m6a", "m7a", "m5"]},
                                      "max_size": 20},
            "gpu": {"kind": "gpu", "selection": {"gpu_models": ["a10g", "l4", "t4"]}, "max_size": 20,
                    "root_volume": {"size_gib": 200}},
            "gpu-large": {"kind": "gpu", "selection": {"min_gpu_memory_gib": 40}, "max_size": 20,
                          "root_volume": {"size_gib": 200}},
            "gpu-4x": {"kind": "gpu", "max_size": 20, "root_volume": {"size_gib": 200}}}
    used = {stacks_way(d) for d in demands} | {"system"}
    two = {"system": SYSTEM, "cpu": {"kind": "cpu", "max_size": 20},
           "gpu": {"kind": "gpu", "max_size": 20, "root_volume": {"size_gib": 200}}}
    per_model = {"system": SYSTEM, **{d.name[:32].rstrip("-"): {"kind": _kind(d), "max_size": 20} for d in demands}}
    return {
        "declared: cpu / gpu / gpu-large / gpu-4x (our stacks' way)":
            ({k: v for k, v in ours.items() if k in used}, {d.name: stacks_way(d) for d in demands}),
        "declared: one cpu and one gpu group": (two, {d.name: _kind(d) for d in demands}),
        "declared: one group per model": (per_model, {d.name: d.name[:32].rstrip("-") for d in demands}),
    }


@dataclass(frozen=True)
class PlanResult:
    exit_code: int
    usd_per_hour: tuple[float, float]  # model groups' instances at min and at max, recomputed from plan.json
    groups: tuple[str, ...]  # one line per node group
    error: str = ""
    advice: bool = False  # the plan advised the planner's own design (declared layouts >10% dearer at max)


def plan_product(doc: dict, work: Path, label: str, env: str = PRODUCT_ENV) -> PlanResult:
    """Write ``doc`` as a stack file, run `modelstack plan` on it, and price plan.json's nodes_by_type."""
    import subprocess

    import yaml

    stack_file = work / f"Pulumi.{label}.yaml"
    stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    out = work / f"{label}.plan.json"
    exe = Path(sys.executable).with_name("modelstack")
    proc = subprocess.run([str(exe), "plan", env, "--project-dir", str(ROOT), "--stack-file", str(stack_file),
                           "--json", str(out)], capture_output=True, text=True)
    if not out.exists():
        return PlanResult(proc.returncode, (math.nan, math.nan), (), (proc.stderr or proc.stdout).strip())
    plan = json.loads(out.read_text())
    out.unlink()
    cat, prices = catalog(), price_book("us-east-1")
    systems = {n for n, c in plan["capacity"].items() if not c["models"]}
    totals = [0.0, 0.0]
    lines = []
    for name, g in plan["cost"]["node_groups"].items():
        if name in systems:
            continue
        for i, k in enumerate(("min", "max")):
            for key, n in g["nodes_by_type"][k].items():
                t, capacity = key.split("/")
                totals[i] += n * (prices.spot(cat[t]) if capacity == "SPOT" else prices.on_demand(cat[t]))
        models = plan["capacity"][name]["models"]
        lines.append(f"    {name:<28} {g['capacity_type']:<9} {', '.join(plan['capacity'][name]['instance_types']):<48} "
                     f"nodes {g['nodes']['min']:>2} - {g['nodes']['max']:<3} {', '.join(models)}")
    advice = any(n.startswith("the planner's own design") for n in plan.get("notes") or [])
    return PlanResult(proc.returncode, (totals[0], totals[1]), tuple(lines), advice=advice)


def planned_demands(demands: Sequence[ModelDemand], spot: bool, env: str = PRODUCT_ENV) -> list[ModelDemand]:
    """``demands`` as `modelstack plan` sizes them: the stack config :func:`stack_config` writes, validated, and each
    model's demand built by the planner's own function (one replica's pod = the server, the proxy and any sidecars;
    the on-demand floor the planner keeps)."""
    from modelstack.config.load import load_platform
    from modelstack.planner import capacity, design

    platform = load_platform(env, stack_config(demands, spot, env)["config"])
    return [capacity.demand_of(d.name, mc, design.base_of(mc, spot, platform.is_prod))
            for d in demands for mc in (platform.config.models[d.name],)]


def _variants(spot: bool, env: str) -> list[Variant]:
    """The ways to buy a node the planner may use in ``env``: each allowed type on-demand and (with spot) at its
    expected spot price, one per packing shape and capacity type (the cheapest)."""
    from modelstack.planner import design

    prices = price_book("us-east-1")
    s = design.Settings(spot=spot, on_demand_fallback=spot, max_nodes=10**6, arch="amd64", max_types=4,
                        max_groups=None, families=(), exclude_families=(), gpu_models=(), exclude_gpu_models=(),
                        system_instance_types=())
    allowed = allowed_types(GroupSelection(), design.allowed_catalog(s, env))
    variants: dict[tuple, Variant] = {}
    for t in allowed:
        options = [Variant(f"{t.name}/ON_DEMAND", t, prices.on_demand(t), False)]
        if spot and prices.spot(t) is not None:
            options.append(Variant(f"{t.name}/SPOT", t, prices.spot(t), True))
        for v in options:  # equal packing, equal capacity type: keep the cheapest
            k = (packing_key(t), v.spot)
            if k not in variants or (v.price, t.name) < (variants[k].price, variants[k].itype.name):
                variants[k] = v
    return list(variants.values())


def exact_product(demands: Sequence[ModelDemand], scenario: str, spot: bool, env: str = PRODUCT_ENV,
                  time_limit: float = 60.0) -> Exact:
    """Minimum $/h for ``scenario`` replicas on every type the planner may use in ``env``: on-demand, or with
    spot every type's expected spot price and each model's on_demand_base on on-demand nodes (the floor runs
    whole even at min). Replicas are the pods `modelstack plan` places (:func:`planned_demands`), not the bare
    requests of ``demands``."""
    demands = planned_demands(demands, spot, env)
    vs = _variants(spot, env)
    items_of = []
    for d in demands:
        total = d.min_replicas if scenario == "min" else d.max_replicas
        if d.on_demand_base:
            base = d.base(total)
            items_of.append([(d.pod, base, True), (d.pod, d.running(total) - base, False)])
        else:
            items_of.append([(d.pod, total, False)])
    fits = [{v.itype.name for v in vs if replicas_per_node(d.pod, v.itype) > 0} for d in demands]
    total = Exact(0.0, 0.0, True)
    for comp in _components(demands, fits):
        items = [it for i in comp for it in items_of[i]]
        sub = [v for v in vs if any(v.itype.name in fits[i] for i in comp)]
        r = _solve(items, sub, time_limit)
        total = _add(total, r)
    return total


@dataclass(frozen=True)
class Nested:
    """The cheapest end of a layout that scales without moving a pod, the other end held within a budget."""

    end: str  # what is minimized: "min", "max" or "sum" (min + max)
    bound: float  # proven lower bound on that end's $/h
    value: float  # the best layout found (equals bound when optimal)
    other: float  # that layout's other end, $/h
    optimal: bool
    nodes: tuple[tuple[str, int, int], ...] = ()
    """The layout's nodes: ("<type>/<capacity>", at min, at max)."""


def nested_bound(demands: Sequence[ModelDemand], spot: bool, end: str, budget: float, env: str = PRODUCT_ENV,
                 time_limit: float = 60.0) -> Nested:
    """Least $/h at ``end`` ("min", "max", or "sum": min + max, the planner's objective) of any layout of the pods `modelstack plan` places in which scaling
    from min to max moves no pod (the nodes and pods at min stay at max; floors are the same pods at both ends,
    on on-demand nodes) and the other end costs at most ``budget``: an integer program (HiGHS).

    A Deployment's pods stay where they are scheduled as it scales up, so a cluster that scales from min to max
    before any consolidation can do no better than this; the per-end optimum (:func:`exact_product`) may place every
    pod afresh at each end, and so does the plan's estimate (each end as Karpenter buys it from empty), so either may
    lie below it. Any capacity type may hold autoscaled replicas here (Karpenter would buy only spot for them): a
    lower bound for such a cluster, not what Karpenter buys. A solve stopped at ``time_limit`` returns its proven
    bound (``-inf`` when it found neither a layout nor a bound)."""
    import highspy
    import numpy as np

    demands = planned_demands(demands, spot, env)
    items = []  # (pod, at min, at max, on-demand only, the same pods at both ends)
    for d in demands:
        base = d.base(d.max_replicas) if spot else 0
        if base:
            items.append((d.pod, base, base, True, True))
        items.append((d.pod, d.running(d.min_replicas) - base, d.max_replicas - base, False, False))
    items = [it for it in items if it[2]]
    variants = _variants(spot, env)
    per = {(i, v.key): (0 if (it[3] and v.spot) else replicas_per_node(it[0], v.itype))
           for i, it in enumerate(items) for v in variants}
    variants = [v for v in variants if any(per[(i, v.key)] for i in range(len(items)))]
    other = "max" if end == "min" else "min"
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", 1e-6)
    inf = highspy.kHighsInf
    lbs: list[float] = []
    ubs: list[float] = []
    cost_end: list[float] = []
    cost_other: list[float] = []

    def var(ub: float, at_min: float = 0.0, at_max: float = 0.0) -> int:
        lbs.append(0.0), ubs.append(ub)
        cost_end.append(at_min + at_max if end == "sum" else at_min if end == "min" else at_max)
        cost_other.append(at_max if end in ("min", "sum") else at_min)
        return len(lbs) - 1

    rows: list[tuple[float, float, list[int], list[float]]] = []
    take: dict[tuple[int, str], list[int]] = {}
    slots_of: dict[str, list[tuple[int, int]]] = {}
    for v in variants:
        cap = node_capacity(v.itype)
        fitting = [i for i in range(len(items)) if per[(i, v.key)]]
        by_count = sum(math.ceil(items[i][2] / per[(i, v.key)]) for i in fitting)
        slots = by_count
        if other == "max" and math.isfinite(budget) and v.price > 0:  # no more of a type than the budget at max buys
            slots = min(slots, math.floor(budget / v.price + 1e-9))
        prev = None
        for _ in range(slots):
            z_max, z_min = var(1.0, at_max=v.price), var(1.0, at_min=v.price)
            slots_of.setdefault(v.key, []).append((z_min, z_max))
            rows.append((-inf, 0.0, [z_min, z_max], [1.0, -1.0]))  # a node at min is there at max too
            xs_max = []
            for i in fitting:
                k = float(min(items[i][2], per[(i, v.key)]))
                x_max = var(k)
                x_min = x_max if items[i][4] else var(k)
                if x_min != x_max:
                    rows.append((-inf, 0.0, [x_min, x_max], [1.0, -1.0]))  # pods at min stay at max
                rows.append((-inf, 0.0, [x_min, z_min], [1.0, -k]))  # pods at min only on nodes at min
                take.setdefault((i, "max"), []).append(x_max)
                take.setdefault((i, "min"), []).append(x_min)
                xs_max.append((i, x_max))
            pods = [items[i][0] for i, _ in xs_max]
            for coeffs, capacity in (([1.0] * len(pods), cap.pods),
                                     ([float(p.cpu_millicores) for p in pods], cap.cpu_millicores),
                                     ([float(p.memory_mib) for p in pods], cap.memory_mib),
                                     ([float(p.gpu) for p in pods], cap.gpus),
                                     ([float(p.inferentia) for p in pods], cap.neuron_devices)):
                if any(coeffs):
                    rows.append((-inf, 0.0, [x for _, x in xs_max] + [z_max], coeffs + [-float(capacity)]))
            if prev is not None:
                rows.append((0.0, inf, [prev, z_max], [1.0, -1.0]))  # symmetry: slot k before slot k+1
            prev = z_max
    for i, it in enumerate(items):
        for e, n in (("min", it[1]), ("max", it[2])):
            xs = take.get((i, e), [])
            rows.append((float(n), float(n), xs, [1.0] * len(xs)))
    n = len(lbs)
    rows.append((-inf, float(budget), list(range(n)), cost_other))
    h.addVars(n, np.array(lbs), np.array(ubs))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), np.array(cost_end))
    h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.array([highspy.HighsVarType.kInteger] * n))
    for lo, hi, idx, vals in rows:
        nz = [(j, c) for j, c in zip(idx, vals) if c]
        h.addRow(lo, hi, len(nz), np.array([j for j, _ in nz], dtype=np.int32), np.array([c for _, c in nz]))
    h.run()
    optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    info = h.getInfo()
    sol = h.getSolution().col_value
    value = info.objective_function_value
    nodes = tuple((key, sum(round(sol[a]) for a, _ in zs), sum(round(sol[b]) for _, b in zs))
                  for key, zs in slots_of.items() if any(sol[b] > 0.5 for _, b in zs))
    return Nested(end, value if optimal else info.mip_dual_bound, value,
                  sum(c * x for c, x in zip(cost_other, sol)), optimal, nodes)


TARGETS = {False: 1.03, True: 1.05}
"""Models-only plan / exact optimum, at min and at max: 3% on-demand, 5% with spot."""


def product_path(demands: Sequence[ModelDemand] = PRODUCT_PORTFOLIO, env: str = PRODUCT_ENV,
                 time_limit: float = 60.0, layouts: bool = True) -> dict:
    """Every variant's figures: {(label, spot): PlanResult} plus the optima {spot: (Exact min, Exact max)}."""
    import tempfile

    results: dict = {}
    optima = {spot: (exact_product(demands, "min", spot, env, time_limit),
                     exact_product(demands, "max", spot, env, time_limit)) for spot in (False, True)}
    variants = {"models only (the planner designs the groups)": (None, None)}
    if layouts:
        variants.update(declared_layouts(demands))
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, (groups, assign)) in enumerate(variants.items()):
            for spot in (False, True):
                doc = stack_config(demands, spot, env, groups, assign)
                res = plan_product(doc, Path(tmp), f"v{i}-{'spot' if spot else 'od'}", env)
                if res.exit_code == 2 and groups and "max_size" in res.error:
                    # A group needs more nodes than the cap: raise max_size as a user would. The plan is priced
                    # either way; max-nodes-per-group rejects it (exit 1) whichever the provisioner: a managed node
                    # group by its maxSize, a Karpenter NodePool by its limits in nodes of its largest type.
                    wide = {n: ({**g, "max_size": 100} if g.get("kind") != "system" else g) for n, g in groups.items()}
                    res = replace(plan_product(stack_config(demands, spot, env, wide, assign), Path(tmp),
                                               f"v{i}-{'spot' if spot else 'od'}-wide", env),
                                  error="max_size raised to 100 (past the cap of the max-nodes-per-group policy)")
                results[(label, spot)] = res
    return {"results": results, "optima": optima}


def product_verdicts(figures: dict) -> list[tuple[bool, str]]:
    out = []
    label = "models only (the planner designs the groups)"
    for spot in (False, True):
        res = figures["results"][(label, spot)]
        lo, hi = figures["optima"][spot]
        ratios = (res.usd_per_hour[0] / lo.lower_bound if lo.lower_bound else 1.0,
                  res.usd_per_hour[1] / hi.lower_bound if hi.lower_bound else 1.0)
        target = TARGETS[spot]
        ok = res.exit_code == 0 and all(r <= target for r in ratios)
        out.append((ok, f"models-only plan {'with spot' if spot else 'on-demand'} within {(target - 1) * 100:.0f}% of the "
                        f"optimum: ratio {ratios[0]:.4f} at min, {ratios[1]:.4f} at max (modelstack plan exit "
                        f"{res.exit_code})"))
    return out


def _product_text(figures: dict) -> list[str]:
    lines = [f"{'':<62}{'at min':>10}{'at max':>10}{'/opt min':>10}{'/opt max':>10}  exit  advice"]
    for spot in (False, True):
        lo, hi = figures["optima"][spot]
        mode = "spot + on-demand floor" if spot else "on-demand"
        lines.append(f"{'exact optimum (ILP, HiGHS), ' + mode:<62}{lo.usd_per_hour:10.4f}{hi.usd_per_hour:10.4f}")
        for (label, s), res in figures["results"].items():
            if s != spot:
                continue
            r = [res.usd_per_hour[i] / e.lower_bound if e.lower_bound else 1.0 for i, e in enumerate((lo, hi))]
            lines.append(f"{'  ' + label:<62}{res.usd_per_hour[0]:10.4f}{res.usd_per_hour[1]:10.4f}{r[0]:10.4f}"
                         f"{r[1]:10.4f}  {res.exit_code:>4}  {'yes' if res.advice else '-'}")
            if res.error:
                lines.append(f"      {res.error.strip().splitlines()[-1][:200]}")
        for e, scenario in ((lo, "min"), (hi, "max")):
            if not e.optimal:
                lines.append(f"  note: ILP at {scenario} stopped at the time limit; ratios use its proven lower bound "
                             f"{e.lower_bound:.4f}")
    return lines


# --------------------------------------------------------------------------------------------------
# Random portfolios: does the planner hold on portfolios it was not tuned on?
# --------------------------------------------------------------------------------------------------

CPU_VCPU = (0.25, 0.5, 1, 2, 4, 8, 16)
GIB_PER_VCPU = (1, 2, 4, 8)
GPUS = (1, 1, 1, 1, 2, 4, 8)
GPU_MEMORY_GIB = (8, 12, 16, 20, 22, 40, 44)
"""Per-GPU memory a random GPU model needs: up to the L40S's 44.7 GiB, the largest GPU staging's families hold."""
RANDOM_TARGETS = {False: (1.01, 1.03), True: (1.03, 1.05)}
"""Random portfolios, plan / optimum at min and at max: (median, worst), on-demand and with spot."""


def random_portfolio(rng, index: int = 0) -> tuple[ModelDemand, ...]:
    """3-9 models of realistic shapes: CPU models of 0.25-16 vCPU (1-8 GiB per vCPU); GPU models of 1-8 GPUs with
    8-44 GiB per GPU, 2-8 vCPU and 8-64 GiB per GPU; replica ranges from 0 or more; on-demand floors of 0-2 (a
    model with floor 0 runs wholly on spot in a spot stack, a floor of max - 1 nearly wholly on-demand)."""
    out = []
    for j in range(rng.randint(3, 9)):
        if rng.random() < 0.5:
            vcpu = rng.choice(CPU_VCPU)
            req = Requests(cpu_millicores=int(vcpu * 1000), memory_mib=int(max(0.5, vcpu * rng.choice(GIB_PER_VCPU)) * 1024))
            lo = rng.choice((0, 1, 1, 2, 2, 3))
            hi = max(lo, 1) + rng.randint(0, 14 if vcpu <= 4 else 6)
            name = f"p{index}-cpu{j}"
        else:
            gpus = rng.choice(GPUS)
            req = Requests(cpu_millicores=gpus * rng.choice((2, 3, 4, 6, 8)) * 1000,
                           memory_mib=gpus * rng.choice((8, 16, 32, 48, 64)) * 1024, gpu=gpus,
                           min_gpu_memory_gib=rng.choice(GPU_MEMORY_GIB))
            lo = rng.choice((0, 1, 1, 2))
            hi = max(lo, 1) + rng.randint(0, 6 if gpus == 1 else 2)
            name = f"p{index}-gpu{j}"
        base = 0 if lo == 0 else rng.choice((0, 1, 1, 2, hi - 1))
        out.append(ModelDemand(name, req, lo, hi, on_demand_base=max(0, min(base, hi - 1))))
    return tuple(out)


def random_portfolios(n: int, seed: int) -> list[tuple[ModelDemand, ...]]:
    import random

    rng = random.Random(seed)
    return [random_portfolio(rng, i) for i in range(n)]


@dataclass(frozen=True)
class RandomResult:
    portfolio: tuple[ModelDemand, ...]
    spot: bool
    plan: PlanResult
    optimum: tuple[Exact, Exact]

    @property
    def ratios(self) -> tuple[float, float]:
        return tuple(p / e.lower_bound if e.lower_bound > 1e-9 else (1.0 if p < 1e-9 else math.inf)
                     for p, e in zip(self.plan.usd_per_hour, self.optimum))


def _random_one(args: tuple[int, tuple[ModelDemand, ...], str, float, float | None]) -> list[RandomResult]:
    """One portfolio, on-demand and spot: its plans and optima (a worker of :func:`random_run`)."""
    import tempfile

    i, demands, env, time_limit, weight = args
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for spot in (False, True):
            res = plan_product(stack_config(demands, spot, env, weight_at_min=weight), Path(tmp),
                               f"r{i}-{'spot' if spot else 'od'}", env)
            optimum = (exact_product(demands, "min", spot, env, time_limit),
                       exact_product(demands, "max", spot, env, time_limit))
            out.append(RandomResult(demands, spot, res, optimum))
    return out


def random_run(n: int, seed: int, env: str = PRODUCT_ENV, time_limit: float = 30.0,
               progress=None, jobs: int = 1, only: Sequence[int] = (),
               weight_at_min: float | None = None) -> list[RandomResult]:
    """Each of ``n`` random portfolios planned by `modelstack plan` (models only, on-demand and spot) and its exact
    optimum at min and at max, ``jobs`` portfolios at a time; results in draw order. ``only``: just the portfolios
    of these indexes (p<i>) of the same draw; ``weight_at_min``: each stack's ``capacity.weight_at_min``."""
    work = [(i, d, env, time_limit, weight_at_min) for i, d in enumerate(random_portfolios(n, seed))
            if not only or i in only]
    out: list[RandomResult] = []
    if jobs <= 1:
        for w in work:
            for r in _random_one(w):
                out.append(r)
                if progress:
                    progress(r)
        return out
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for rs in pool.map(_random_one, work):
            for r in rs:
                out.append(r)
                if progress:
                    progress(r)
    return out


def _quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile by linear interpolation between order statistics (q=0.5: the median)."""
    v = sorted(values)
    if not v:
        return math.nan
    k = (len(v) - 1) * q
    lo = math.floor(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def random_summary(results: Sequence[RandomResult]) -> dict:
    """{(spot, "min"|"max"): (median, p90, worst, where the worst is)} of plan / optimum, over the portfolios
    whose plan ran (exit 0) and whose optimum is not zero at that end."""
    out = {}
    for spot in (False, True):
        for k, end in enumerate(("min", "max")):
            rs = [(r.ratios[k], r.portfolio[0].name.split("-")[0]) for r in results
                  if r.spot == spot and r.plan.exit_code == 0 and r.optimum[k].lower_bound > 1e-9]
            values = [v for v, _ in rs]
            worst = max(rs) if rs else (math.nan, "")
            out[(spot, end)] = (_quantile(values, 0.5), _quantile(values, 0.9), worst[0], worst[1], len(values))
    return out


def random_verdicts(results: Sequence[RandomResult]) -> list[tuple[bool, str]]:
    summary = random_summary(results)
    failed = [f"{r.portfolio[0].name.split('-')[0]} ({'spot' if r.spot else 'on-demand'}): exit {r.plan.exit_code}"
              for r in results if r.plan.exit_code != 0]
    out = [(not failed, "every random portfolio plans (exit 0)" + (": " + "; ".join(failed) if failed else ""))]
    for spot in (False, True):
        med_t, worst_t = RANDOM_TARGETS[spot]
        for end in ("min", "max"):
            med, _, worst, where, n = summary[(spot, end)]
            out.append((med <= med_t and worst <= worst_t,
                        f"{'spot' if spot else 'on-demand'} at {end}: median {med:.4f} (target <= {med_t}), worst "
                        f"{worst:.4f} (target <= {worst_t}, {where}) over {n} portfolios"))
    return out


def random_text(results: Sequence[RandomResult]) -> list[str]:
    summary = random_summary(results)
    lines = [f"{'plan / exact optimum':<28}{'median':>10}{'p90':>10}{'worst':>10}  worst at   portfolios"]
    for spot in (False, True):
        for end in ("min", "max"):
            med, p90, worst, where, n = summary[(spot, end)]
            lines.append(f"{('spot + floor' if spot else 'on-demand') + ' at ' + end:<28}{med:10.4f}{p90:10.4f}"
                         f"{worst:10.4f}  {where:<10} {n:>4}")
    stopped = sum(1 for r in results for e in r.optimum if not e.optimal)
    if stopped:
        lines.append(f"{stopped} of {2 * len(results)} optima stopped at the time limit: their ratios use the proven "
                     "lower bound (so they overstate the gap)")
    return lines


RULES = (
    ("packing: one shape per group (cluster-autoscaler) over Karpenter's mixes", False,
     {"karpenter": False}, {"karpenter": True}),
    ("zone spread: strict over 3 zones (prod) over soft (staging)", False, {"zones": 3}, {"zones": None}),
    ("spot pools: spot_spread_cost_pct 3 (default) over 0 (cheapest pool)", True,
     {"spot_spread_cost_pct": 3.0}, {"spot_spread_cost_pct": 0.0}),
    ("spot pools: spot_spread_cost_pct 20 over 0", True, {"spot_spread_cost_pct": 20.0}, {"spot_spread_cost_pct": 0.0}),
)
"""What each rule costs: (label, spot, the rule's settings, the settings without it), on the planner's own design."""


def rule_costs(n: int, seed: int, env: str = PRODUCT_ENV,
               weight_at_min: float | None = None) -> dict[str, dict[str, tuple[float, float, float]]]:
    """{rule: {"min"|"max": (median, p90, worst)}} of design cost with the rule / without it over ``n`` random
    portfolios: the planner's design (model groups' instances, floors included) under both settings, in-process."""
    from modelstack.config.load import load_platform
    from modelstack.planner import design

    ratios: dict[str, dict[str, list[float]]] = {label: {"min": [], "max": []} for label, *_ in RULES}
    for demands in random_portfolios(n, seed):
        for label, spot, on, off in RULES:
            platform = load_platform(env, stack_config(demands, spot, env, weight_at_min=weight_at_min)["config"])
            base = design.settings_of(platform)
            with_rule = design.design(platform, settings=replace(base, **on)).usd_per_hour
            without = design.design(platform, settings=replace(base, **off)).usd_per_hour
            for k, end in enumerate(("min", "max")):
                if without[k] > 1e-9:
                    ratios[label][end].append(with_rule[k] / without[k])
    return {label: {end: (_quantile(v, 0.5), _quantile(v, 0.9), max(v) if v else math.nan) for end, v in ends.items()}
            for label, ends in ratios.items()}


def rule_text(costs: dict) -> list[str]:
    lines = [f"{'design cost with the rule / without':<76}{'median':>9}{'p90':>9}{'worst':>9}"]
    for label, ends in costs.items():
        for end, (med, p90, worst) in ends.items():
            lines.append(f"{label + ' at ' + end:<76}{med:9.4f}{p90:9.4f}{worst:9.4f}")
    return lines


def nested_text(r: RandomResult, time_limit: float = 60.0) -> list[str]:
    """Whether a plan could meet the spot targets at both ends on ``r``'s portfolio: the cheapest layout that scales
    without moving a pod (:func:`nested_bound`) by min + max, at min with max within the target, and at max with
    min within it; each as plan-like ratios to the per-end optimum."""
    lo, hi = (e.lower_bound for e in r.optimum)
    target = RANDOM_TARGETS[True][1]
    name = r.portfolio[0].name.split("-")[0]
    out = []
    ends = {}
    for end, budget in (("sum", math.inf), ("min", target * hi), ("max", target * lo)):
        b = nested_bound(r.portfolio, True, end, budget, time_limit=time_limit)
        ends[end] = b
        if not math.isfinite(b.value):
            out.append(f"  {name} {end}: no layout found within the time limit (or none within the budget)")
            continue
        at_min, at_max = {"sum": (b.value - b.other, b.other), "min": (b.value, b.other), "max": (b.other, b.value)}[end]
        what = {"sum": "least min + max", "min": f"least at min, max within {target:g}",
                "max": f"least at max, min within {target:g}"}[end]
        proof = "" if b.optimal else (f" (stopped at the time limit: proven bound ${b.bound:.4f}/h on the "
                                      f"{'min + max' if end == 'sum' else end})")
        out.append(f"  {name} {what:<34} min {at_min / lo:.4f}  max {at_max / hi:.4f}  min + max "
                   f"${at_min + at_max:.4f}/h{proof}")
    plan_sum = sum(r.plan.usd_per_hour)
    b_min, b_max = ends["min"], ends["max"]
    if (math.isfinite(b_min.value) and b_min.value <= target * lo + 1e-9) or (
            math.isfinite(b_max.value) and b_max.value <= target * hi + 1e-9):
        verdict = "reachable by such a layout (one was found)"
    elif all(b.optimal or (math.isfinite(b.bound) and b.bound > limit + 1e-9)
             for b, limit in ((b_min, target * lo), (b_max, target * hi))):
        verdict = "out of reach for any such layout"
    else:
        verdict = "unknown (an integer program stopped at its time limit without a layout or a bound that decides)"
    out.append(f"  {name} the plan: min {r.ratios[0]:.4f}  max {r.ratios[1]:.4f}  min + max ${plan_sum:.4f}/h; both ends "
               f"within {target:g}: {verdict}")
    return out


def _random_main(n: int, seed: int, verbose: bool, jobs: int = 1, time_limit: float = 30.0,
                 only: Sequence[int] = (), nested: bool = False, weight_at_min: float | None = None) -> int:
    print(f"RANDOM PORTFOLIOS: {n} drawn with seed {seed}, each written as a models-only {PRODUCT_ENV} stack (on-demand, "
          "and spot with an on-demand fallback), planned by `modelstack plan`, priced from plan.json, against the exact "
          "optimum (ILP, HiGHS) of the same pods")

    def progress(r: RandomResult) -> None:
        if verbose:
            lo, hi = r.ratios
            print(f"  {r.portfolio[0].name.split('-')[0]:<5} {'spot' if r.spot else 'od  '} exit {r.plan.exit_code} "
                  f"plan {r.plan.usd_per_hour[0]:9.4f} {r.plan.usd_per_hour[1]:9.4f}  optimum "
                  f"{r.optimum[0].lower_bound:9.4f} {r.optimum[1].lower_bound:9.4f}  ratio {lo:.4f} {hi:.4f}",
                  flush=True)

    if only:
        print(f"only portfolio(s) {', '.join(f'p{i}' for i in only)} of the draw")
        if verbose:
            for i, demands in enumerate(random_portfolios(n, seed)):
                if i in only:
                    print("\n".join(_portfolio_text(demands, hand=False)))
    if weight_at_min is not None:
        print(f"each stack with capacity.weight_at_min {weight_at_min:g}")
    results = random_run(n, seed, progress=progress, jobs=jobs, time_limit=time_limit, only=only,
                         weight_at_min=weight_at_min)
    if nested:
        print("layouts that scale without moving a pod (nested ILP; the per-end optimum places every pod afresh):")
        for r in results:
            if r.spot:
                print("\n".join(nested_text(r, time_limit=max(time_limit, 60.0))))
    if verbose and only:
        for r in results:
            print(f"  {r.portfolio[0].name.split('-')[0]} {'spot' if r.spot else 'on-demand'}: optimum at min "
                  f"{dict(r.optimum[0].nodes)}, at max {dict(r.optimum[1].nodes)}")
            print("\n".join(r.plan.groups))
    print("\n".join(random_text(results)))
    for ok, text in random_verdicts(results):
        print(f"{'PASS' if ok else 'FAIL'}: {text}")
    return 0


def main(argv: Sequence[str] = ()) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="cost benchmark: modelstack plan against the exact optimum")
    parser.add_argument("--random", type=int, metavar="N", help="N random portfolios instead of the shipped one")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random portfolios (default 1)")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per random portfolio")
    parser.add_argument("--rules", action="store_true",
                        help="with --random: what each rule (packing, zone spread, spot pools) costs the design")
    parser.add_argument("--only", type=lambda v: int(v.lstrip("p")), action="append", default=[], metavar="pI",
                        help="with --random: only portfolio pI of the draw (repeatable), e.g. --only p23")
    parser.add_argument("--jobs", type=int, default=1, help="random portfolios planned at a time (default 1)")
    parser.add_argument("--nested", action="store_true",
                        help="with --random --only: whether any layout that scales without moving a pod meets the "
                             "spot targets at both ends (nested ILP)")
    parser.add_argument("--time-limit", type=float, default=30.0,
                        help="seconds per exact optimum before its proven bound is used (default 30)")
    parser.add_argument("--weight-at-min", type=float, metavar="W",
                        help="with --random: each stack's capacity.weight_at_min (default: the planner's, 2)")
    args = parser.parse_args(list(argv))
    if args.weight_at_min is not None and not args.random:
        parser.error("--weight-at-min needs --random N")
    if args.random and args.rules:
        print(f"WHAT EACH RULE COSTS: the planner's design of {args.random} random portfolios (seed {args.seed}), "
              f"{PRODUCT_ENV}, with and without the rule; model groups' instances, USD per hour")
        print("\n".join(rule_text(rule_costs(args.random, args.seed, weight_at_min=args.weight_at_min))))
        return 0
    if args.random:
        if args.nested and not args.only:
            parser.error("--nested needs --only pI (one ILP of both ends per portfolio takes up to minutes)")
        return _random_main(args.random, args.seed, args.verbose, args.jobs, args.time_limit, args.only, args.nested,
                            args.weight_at_min)
    print("us-east-1 prices (on-demand 2026-07-20; spot = on-demand x (1 - Spot Advisor savings), advisor data "
          "<= 2025-06-28); model node groups' instances only, USD per hour")
    print(f"\nPRODUCT PATH: {len(PRODUCT_PORTFOLIO)} models written as {PRODUCT_ENV} stack configs, planned by "
          "`modelstack plan`, priced from plan.json's nodes_by_type")
    print("\n".join(_portfolio_text(PRODUCT_PORTFOLIO)))
    figures = product_path()
    for spot in (False, True):
        res = figures["results"][("models only (the planner designs the groups)", spot)]
        print(f"\nmodels only, {'spot with on-demand floor' if spot else 'on-demand'}: designed node groups")
        print("\n".join(res.groups))
    print()
    print("\n".join(_product_text(figures)))
    print("(exit: of `modelstack plan`; advice: the plan said the planner's own design costs >10% less at max)")
    print()
    for ok, text in product_verdicts(figures):
        print(f"{'PASS' if ok else 'FAIL'}: {text}")

    print("\nADDENDUM, 8-GPU instance models: A100 on p4d.24xlarge (8 GPUs per node), H100 on p5.4xlarge (the "
          "1-GPU p5), through the optimizer directly (prod families; not part of the targets)")
    print("\n".join(_portfolio_text(ADDENDUM)))
    add = run(ADDENDUM)
    print("optimizer, all on-demand:")
    print("\n".join(_groups_text(add.groups_od)))
    print("optimizer, spot with on-demand floor:")
    print("\n".join(_groups_text(add.groups_spot)))
    print()
    print("\n".join(_table(add)))
    for line in why_no_spot_saving(add, ADDENDUM):
        print(f"why no spot saving: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
