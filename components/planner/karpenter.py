"""From the capacity plan to Karpenter: one NodePool per planned node group, and what Karpenter would buy.

A managed node group holds one shape, so the capacity plan picks one type per group for min and max replicas
together. Karpenter launches per batch of pending pods, so the simulation runs the same optimizer twice per pool:
once for the cost at min replicas, once for the cost at max replicas, each free to pick its own type. Both picks
join the NodePool's instance types, so what the estimate assumes Karpenter buys is something it is allowed to buy.
Karpenter buys a mix of the types a NodePool allows (per batch of pending pods, then consolidation toward cheaper
nodes), so each end is priced on the mix the optimizer finds for it (`GroupSelection.mixed`, `pack_mixed`), a
designed pool's as the design found it; every type of both mixes joins the NodePool. A pool whose types a declared
group lists is priced on those types as planned.
Karpenter keeps no minimum node count: a pool's nodes at min replicas come from its models alone (config
`min_size` does not apply), and a pool without models launches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from modelstack.capacity import cost, optimizer, pricing
from modelstack.capacity.optimizer import SPOT, GroupChoice, Part, Pool, SizingError
from modelstack.config.checks import selection_of
from modelstack.config.schema import Platform, RootVolume
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
    parts_at_min: tuple[Part, ...] = ()
    """The nodes at min by type (empty: ``nodes_at_min`` of ``type_at_min``)."""
    parts_at_max: tuple[Part, ...] = ()
    """The nodes at max by type; they may be fewer than at min (larger ones). ``nodes_at_max`` is the most either
    end runs, for the NodePool's limits."""

    @property
    def types(self) -> tuple[str, ...]:
        """Every type the simulation buys at either end."""
        names = [self.type_at_min, self.type_at_max, *self.spot_types_at_min, *self.spot_types_at_max]
        names += [t for p in self.parts_at_min + self.parts_at_max for t in p.instance_types]
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class KarpenterPlan:
    node_pools: tuple[karpenter.NodePoolSpec, ...]
    simulations: dict[str, PoolSimulation]
    cost_inputs: cost.CostInputs
    """The plan's cost inputs with every NodePool priced as simulated (the system node group as planned)."""


def _simulate(platform: Platform, capacity: CapacityPlan) -> dict[str, PoolSimulation]:
    c = platform.config
    cat = pricing.catalog()
    # The capacity plan's own book (the region's price file, when it has one).
    prices = capacity.cost_inputs.prices or pricing.price_book(platform.region, fallback_to_us_east_1=True)
    out: dict[str, PoolSimulation] = {}
    for plan in capacity.groups:  # declared or designed: each pool's main group carries its config and models
        gname, g = plan.pool, plan.config
        if plan.kind == "system" or plan.name != plan.pool or not plan.models:
            continue
        models = {m: c.models[m] for m in plan.models}
        demands = [demand_of(m, mc, on_demand_base(platform, mc, g)) for m, mc in models.items()]
        # prod's ModelAPIs spread strictly over the zones: a node never holds more of a model than its zone's share
        sel = replace(selection_of(g, cat), mixed=True,
                      zones=c.cluster.vpc.az_count if platform.is_prod else None)
        try:
            both = plan.choice or optimizer.choose_group(sel, demands, prices, cat)
            if sel.instance_types is not None:
                # Types fixed (declared, or designed): nothing to choose per end. A designed pool's mixes and floor
                # are where the design put them, on types its config cannot name; re-choosing would move them.
                lo = hi = both
            else:
                lo = optimizer.choose_group(sel, demands, prices, cat, weights=AT_MIN)
                hi = optimizer.choose_group(sel, demands, prices, cat, weights=AT_MAX)
        except (SizingError, pricing.PricingError):
            continue  # plan_capacity has reported it already; the plan never gets here
        # The optimizer prices instances only; with root volumes counted, the one-shape pick can still win an end
        # (e.g. two small nodes at min cost less in EC2 but more in EBS than one larger node).
        volume = cost.root_volume_usd_per_month(_cost_volume(g.root_volume)) / pricing.HOURS_PER_MONTH
        lo = min((lo, both), key=lambda ch: _usd(ch, volume, at_max=False))
        hi = min((hi, both), key=lambda ch: _usd(ch, volume, at_max=True))
        for name, lo_pool, hi_pool in ((gname, lo.main, hi.main),
                                       (f"{gname}{FALLBACK_SUFFIX}", lo.on_demand_floor, hi.on_demand_floor)):
            pick = hi_pool if hi_pool is not None else lo_pool
            if pick is None:
                continue
            if lo_pool is None or hi_pool is None or lo_pool.capacity_type != hi_pool.capacity_type:
                # a floor at one end only, or spot at one end only: both ends priced on the pick that exists at max
                a = b = pick
            else:
                a, b = lo_pool, hi_pool
            at_min, at_max = a.parts(False), b.parts(True)
            n_min, n_max = sum(p.nodes for p in at_min), sum(p.nodes for p in at_max)
            out[name] = PoolSimulation(
                name=name, capacity_type=b.capacity_type,
                type_at_min=_first(at_min, a), nodes_at_min=n_min,
                type_at_max=_first(at_max, b), nodes_at_max=max(n_min, n_max),
                spot_types_at_min=(at_min[0].instance_types if at_min else a.instance_types) if a.capacity_type == SPOT else (),
                spot_types_at_max=(at_max[0].instance_types if at_max else b.instance_types) if b.capacity_type == SPOT else (),
                parts_at_min=at_min, parts_at_max=at_max)
    return out


def _first(parts: tuple[Part, ...], pool: Pool) -> str:
    return parts[0].instance_types[0] if parts else pool.primary.name


def _cost_volume(v: RootVolume) -> cost.RootVolume:
    gp3 = v.type == "gp3"
    return cost.RootVolume(size_gib=v.size_gib, volume_type=v.type, iops=v.iops if gp3 else None,
                           throughput_mbps=v.throughput if gp3 else None)


def _usd(choice: GroupChoice, volume_usd_per_hour: float, *, at_max: bool) -> float:
    """A choice's cost per hour at one end of the replica range, instances and root volumes."""
    total = 0.0
    for pool in (choice.main, choice.on_demand_floor):
        if pool is not None:
            total += sum(p.nodes * (p.unit_usd_per_hour + volume_usd_per_hour) for p in pool.parts(at_max))
    return total


def _limits(kind: str, types: list[pricing.InstanceType], nodes: int) -> dict[str, str]:
    """Totals the NodePool may launch: `nodes` of its largest type (cpu, memory, and GPUs or Neuron devices)."""
    out = {"cpu": str(nodes * max(t.vcpu for t in types)),
           "memory": f"{int(nodes * max(t.memory_gib for t in types))}Gi"}
    if kind == "gpu":
        out[labels.GPU_RESOURCE] = str(nodes * max(t.gpu_count for t in types))
    elif kind == "inferentia":
        out[labels.NEURON_RESOURCE] = str(nodes * max(t.accelerator_count for t in types))
    return out


def _node_pool(g: NodeGroupPlan, sim: Optional[PoolSimulation], main_nodes: int, node_class: str) -> karpenter.NodePoolSpec:
    cat = pricing.catalog()
    types = list(g.instance_types)
    # The group's max_size is the capacity the stack accepted (a designed group's includes headroom): a pool sized
    # to the max replicas alone could not surge a rollout at max, nor fit the replicas on smaller types it allows.
    nodes = max(g.max_size, g.nodes_max if g.models else 0)
    if sim is not None:
        types += list(sim.types)
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
        node_class=node_class,
    )


def node_classes(capacity: CapacityPlan) -> dict[str, RootVolume]:
    """EC2NodeClasses by name, one per distinct root volume of the non-system pools (declared or designed):
    "default" for the schema's default volume, else named after the first pool that asks for it (a CPU pool does
    not pay for a GPU pool's 300 GiB). Names follow the volumes, so reordering groups renames nothing."""
    out: dict[str, RootVolume] = {}
    for g in capacity.groups:
        volume = g.config.root_volume
        if g.kind == "system" or g.name != g.pool or volume in out.values():
            continue
        if volume == RootVolume():
            out[karpenter.NODECLASS_NAME] = volume
        else:  # a group called "default" with its own volume must not take the default class's name
            out[f"{g.pool}-group" if g.pool == karpenter.NODECLASS_NAME else g.pool] = volume
    return out


def node_class_of(capacity: CapacityPlan, pool: str) -> str:
    """The EC2NodeClass a pool's NodePools launch from."""
    volume = next(g.config.root_volume for g in capacity.groups if g.name == pool)
    return next(n for n, v in node_classes(capacity).items() if v == volume)


def plan_karpenter(platform: Platform, capacity: CapacityPlan) -> KarpenterPlan:
    """NodePools for every non-system group of the capacity plan, and the cost of what Karpenter would buy."""
    sims = _simulate(platform, capacity)
    main_nodes = {}
    for g in capacity.groups:
        if g.name == g.pool:
            s = sims.get(g.name)
            main_nodes[g.pool] = max(g.nodes_max if g.models else g.max_size, s.nodes_at_max if s else 0)
    pools = tuple(_node_pool(g, sims.get(g.name), main_nodes.get(g.pool, 0), node_class_of(capacity, g.pool))
                  for g in capacity.groups if g.kind != "system")
    # Nothing scales a managed node group under Karpenter: the system group runs at the size its add-ons need.
    system_size = {g.name: g.nodes_min for g in capacity.groups if g.kind == "system"}
    volumes = {ng.name: ng.root_volume for ng in capacity.cost_inputs.node_groups}  # each pool's own, as planned
    groups = [replace(ng, nodes_min=system_size[ng.name], nodes_max=system_size[ng.name])
              for ng in capacity.cost_inputs.node_groups if ng.name in system_size]
    for s in sims.values():
        n_max = sum(p.nodes for p in s.parts_at_max) if s.parts_at_max else max(s.nodes_at_min, s.nodes_at_max)
        groups.append(cost.NodeGroupCost(
            name=s.name, instance_type=s.type_at_min, capacity_type=s.capacity_type, nodes_min=s.nodes_at_min,
            nodes_max=n_max, root_volume=volumes.get(s.name, cost.RootVolume()),
            spot_instance_types=s.spot_types_at_min, max_instance_type=s.type_at_max,
            max_spot_instance_types=s.spot_types_at_max, kind="nodepool",
            parts_min=tuple((p.instance_types, p.nodes) for p in s.parts_at_min),
            parts_max=tuple((p.instance_types, p.nodes) for p in s.parts_at_max)))
    return KarpenterPlan(node_pools=pools, simulations=sims,
                         cost_inputs=replace(capacity.cost_inputs, node_groups=tuple(groups)))

