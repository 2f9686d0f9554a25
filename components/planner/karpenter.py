"""From the capacity plan to Karpenter: one NodePool per planned node group, and what Karpenter would buy.

A managed node group holds one shape, so the capacity plan picks one type per group for min and max replicas
together. Karpenter launches per batch of pending pods, so the simulation runs the same optimizer twice per pool:
once for the cost at min replicas, once for the cost at max replicas, each free to pick its own type. Both picks
join the NodePool's instance types, so what the estimate assumes Karpenter buys is something it is allowed to buy.
Karpenter keeps no minimum node count: a pool's nodes at min replicas come from its models alone (config
`min_size` does not apply), and a pool without models launches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from modelstack.config.schema import RootVolume

from modelstack.capacity import cost, optimizer, pricing
from modelstack.capacity.optimizer import SPOT, SizingError
from modelstack.config.checks import selection_of
from modelstack.config.schema import Platform
from modelstack.planner.capacity import FALLBACK_SUFFIX, CapacityPlan, NodeGroupPlan, demand_of, on_demand_base
from modelstack.render import karpenter, labels, node_templates

#: Objective weights that price one end of the replica range and break ties on the other.
AT_MIN, AT_MAX = (1.0, 1e-6), (1e-6, 1.0)


@dataclass(frozen=True)
class PoolSimulation:
    """What Karpenter would launch for one NodePool at min and at max replicas."""

    name: str
    capacity_type: str
    type_at_min: str
    nodes_at_min: int
    type_at_max: str
    nodes_at_max: int
    spot_types_at_min: tuple[str, ...] = ()
    spot_types_at_max: tuple[str, ...] = ()


@dataclass(frozen=True)
class KarpenterPlan:
    node_pools: tuple[karpenter.NodePoolSpec, ...]
    simulations: dict[str, PoolSimulation]
    cost_inputs: cost.CostInputs
    """The plan's cost inputs with every NodePool priced as simulated (the system node group as planned)."""


def _simulate(platform: Platform, capacity: CapacityPlan) -> dict[str, PoolSimulation]:
    c = platform.config
    cat = pricing.catalog()
    prices = pricing.price_book(platform.region, fallback_to_us_east_1=True)
    out: dict[str, PoolSimulation] = {}
    for gname, g in c.node_groups.items():
        if g.kind == "system":
            continue
        models = {m: mc for m, mc in c.models.items() if mc.node_group == gname}
        if not models:
            continue
        demands = [demand_of(m, mc, on_demand_base(platform, mc)) for m, mc in models.items()]
        sel = selection_of(g, cat)
        try:
            lo = optimizer.choose_group(sel, demands, prices, cat, weights=AT_MIN)
            hi = optimizer.choose_group(sel, demands, prices, cat, weights=AT_MAX)
        except (SizingError, pricing.PricingError):
            continue  # plan_capacity has reported it already; the plan never gets here
        for name, a, b in ((gname, lo.main, hi.main), (f"{gname}{FALLBACK_SUFFIX}", lo.on_demand_floor, hi.on_demand_floor)):
            if a is None and b is None:
                continue
            if a is None or b is None or a.capacity_type != b.capacity_type:
                # a floor at one end only, or spot at one end only: both ends priced on the pick that exists at max
                a = b = b if b is not None else a
            out[name] = PoolSimulation(
                name=name, capacity_type=b.capacity_type,
                type_at_min=a.primary.name, nodes_at_min=a.nodes_min,
                type_at_max=b.primary.name, nodes_at_max=max(a.nodes_min, b.nodes_max),
                spot_types_at_min=a.instance_types if a.capacity_type == SPOT else (),
                spot_types_at_max=b.instance_types if b.capacity_type == SPOT else ())
    return out


def _limits(kind: str, types: list[pricing.InstanceType], nodes: int) -> dict[str, str]:
    """Totals the NodePool may launch: `nodes` of its largest type (cpu, memory, and GPUs or Neuron devices)."""
    out = {"cpu": str(nodes * max(t.vcpu for t in types)),
           "memory": f"{int(nodes * max(t.memory_gib for t in types))}Gi"}
    if kind == "gpu":
        out[labels.GPU_RESOURCE] = str(nodes * max(t.gpu_count for t in types))
    elif kind == "inferentia":
        out[labels.NEURON_RESOURCE] = str(nodes * max(t.accelerator_count for t in types))
    return out


def _node_pool(g: NodeGroupPlan, sim: Optional[PoolSimulation], main_nodes: int) -> karpenter.NodePoolSpec:
    cat = pricing.catalog()
    types = list(g.instance_types)
    nodes = g.nodes_max if g.models else g.max_size
    if sim is not None:
        types += [sim.type_at_min, sim.type_at_max, *sim.spot_types_at_min, *sim.spot_types_at_max]
        nodes = max(nodes, sim.nodes_at_max)
    if g.name != g.pool:  # an on-demand fallback must be able to stand in for every spot node of its pool
        nodes = max(nodes, main_nodes)
    types = list(dict.fromkeys(types))
    c = g.config
    return karpenter.NodePoolSpec(
        name=g.name, pool=g.pool, kind=g.kind,
        capacity_types=(karpenter.SPOT,) if g.capacity_type == SPOT else (karpenter.ON_DEMAND,),
        instance_types=tuple(sorted(types)),
        arch=g.primary.arch or "amd64",
        weight=g.priority,
        limits=_limits(g.kind, [cat[t] for t in types], nodes),
        labels={**node_templates.kind_labels(g.kind), **c.labels},
        taints=tuple(node_templates.node_taints(g.kind, [t.model_dump() for t in c.taints])),
    )


def node_class_volume(platform: Platform) -> RootVolume:
    """The one EC2NodeClass's root volume: the largest any non-system group asks for (GPU images need the room)."""
    vols = [g.root_volume for g in platform.config.node_groups.values() if g.kind != "system"]
    if not vols:
        return RootVolume()
    return max(vols, key=lambda v: (v.size_gib, v.iops, v.throughput))


def plan_karpenter(platform: Platform, capacity: CapacityPlan) -> KarpenterPlan:
    """NodePools for every non-system group of the capacity plan, and the cost of what Karpenter would buy."""
    sims = _simulate(platform, capacity)
    main_nodes = {}
    for g in capacity.groups:
        if g.name == g.pool:
            s = sims.get(g.name)
            main_nodes[g.pool] = max(g.nodes_max if g.models else g.max_size, s.nodes_at_max if s else 0)
    pools = tuple(_node_pool(g, sims.get(g.name), main_nodes.get(g.pool, 0))
                  for g in capacity.groups if g.kind != "system")
    managed = {g.name for g in capacity.groups if g.kind == "system"}
    v = node_class_volume(platform)
    volume = cost.RootVolume(size_gib=v.size_gib, volume_type=v.type, iops=v.iops if v.type == "gp3" else None,
                             throughput_mbps=v.throughput if v.type == "gp3" else None)
    groups = [ng for ng in capacity.cost_inputs.node_groups if ng.name in managed]
    for s in sims.values():
        groups.append(cost.NodeGroupCost(
            name=s.name, instance_type=s.type_at_min, capacity_type=s.capacity_type, nodes_min=s.nodes_at_min,
            nodes_max=max(s.nodes_at_min, s.nodes_at_max), root_volume=volume,
            spot_instance_types=s.spot_types_at_min, max_instance_type=s.type_at_max,
            max_spot_instance_types=s.spot_types_at_max))
    return KarpenterPlan(node_pools=pools, simulations=sims,
                         cost_inputs=replace(capacity.cost_inputs, node_groups=tuple(groups)))

