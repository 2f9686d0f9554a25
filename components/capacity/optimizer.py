"""Choose node-group instance types at the lowest price that still fits every model.

The problem, per node group whose instance types are left to modelstack:

* Each model has a per-replica request (plus sidecars), ``min_replicas``, ``max_replicas`` and an
  ``on_demand_base`` (replicas that must run on on-demand capacity even when the group is spot).
* A node group holds one instance *shape*: cluster-autoscaler builds its node template from the first type
  of the group (nominal vCPU, nominal memory, GPU count; pods fixed at 110 by its AWS provider), so every
  type in a group must agree on those (:func:`shape_key`). A spot group lists several equal-shape types
  (at least ``min_types`` when the selection has that many: each type is another spot capacity pool); an
  on-demand group uses one type. Node counts of a multi-type group are packed on the *minimum* allocatable
  CPU, memory and max pods over its types, so they hold whichever type EC2 launches.
* Several models may share a group when packing them together is cheaper; :func:`plan_groups` decides
  which models share by exact set-partition search over small portfolios (≤ 8 models per selection) and by
  greedy pairwise merging beyond that.

**Objective.** For each group, minimize ``w_min · cost(min replicas) + w_max · cost(max replicas)`` in USD
per hour, with ``weights=(w_min, w_max)`` defaulting to ``(1, 1)``: the steady state and the scale-out
ceiling count equally (declared groups); the planner's designs pass ``(capacity.weight_at_min, 1)``, default
(2, 1). Ties go to the lower interruption bucket, then fewer nodes at max, then the name.
Cost is nodes × unit price; node counts come from packing the replicas on one node shape (exact for a
single model, first-fit-decreasing with a lower-bound check for several: ``Pool.exact`` says whether the
count is proven optimal).

**Spot price.** A spot pool's unit price is the mean over its chosen types of on-demand × (1 − Spot
Advisor savings/100). This is a conservative expectation: price-capacity-optimized allocation (what managed
node groups use for spot) favours the cheaper pools among those with capacity, so the bill is usually at or
below the mean. Members are the equal-shape types with known spot data that fit every model of the group,
ordered by interruption bucket then price, dropping types priced more than ``max_spot_price_premium_pct``
above the cheapest member, at most ``max_types`` of them. When that leaves fewer than ``min_types``, the
premium cap is relaxed: the next types by interruption bucket then price are added until ``min_types``
(the reason names them). Shapes that reach ``min_types`` are preferred over shapes that cannot; when no
fitting shape can, the choice says so in ``notes`` and ``reason``. In spot mode a block may still end on
on-demand when that is cheaper or when no fitting shape has spot data (the reason says so).

Pure module: standard library only.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from modelstack.capacity.pricing import InstanceType, PriceBook, catalog as _default_catalog, interruption_rank, price_book
from modelstack.capacity.sizing import (
    NodeCapacity,
    NodeReserve,
    Requests,
    fit_report,
    node_capacity,
    replica_total,
    replicas_per_node,
)

__all__ = [
    "SizingError",
    "GroupSelection",
    "ModelDemand",
    "Part",
    "Pool",
    "GroupChoice",
    "pack_mixed",
    "zone_shares",
    "SPOT",
    "ON_DEMAND",
    "choose_group",
    "plan_groups",
    "GroupOptimizer",
    "estimate_explicit",
    "raised_floors_text",
    "pack_nodes",
    "shape_key",
    "packing_key",
    "group_capacity",
    "allowed_types",
]

SPOT = "SPOT"
ON_DEMAND = "ON_DEMAND"
BURSTABLE_FAMILIES = ("t2", "t3", "t3a", "t4g")


class SizingError(ValueError):
    """No instance type can host a model, or the node group configuration cannot be estimated."""


# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GroupSelection:
    """What a node group's config allows modelstack to choose from.

    ``instance_types`` set means "respect these": nothing is chosen, the cost is estimated on them (first is
    primary). Otherwise types are filtered by ``families`` (None: every non-burstable family; t* families
    only when named), ``gpu_models`` / ``min_gpu_memory_gib`` (either makes the group GPU-only) and
    ``arch`` (default amd64: an amd64-only image crashes on Graviton; None allows arm64 too, for multi-arch
    images). ``spot`` picks between ``min_types`` (default 3) and ``max_types`` (default 4) equal-shape spot
    types; ``min_types`` above ``max_types`` is read as ``max_types``. ``max_spot_price_premium_pct`` (default
    20) drops types priced that much above the cheapest member, but never below ``min_types``.
    ``mix_gpu_models`` lets one spot group mix equal-shape types whose GPU models differ (e.g. g4dn.xlarge T4,
    g5.xlarge A10G and g6.xlarge L4).
    """

    families: tuple[str, ...] | None = None
    gpu_models: tuple[str, ...] | None = None
    min_gpu_memory_gib: float | None = None
    arch: str | None = "amd64"
    spot: bool = False
    max_types: int = 4
    instance_types: tuple[str, ...] | None = None
    max_spot_price_premium_pct: float = 20.0
    mix_gpu_models: bool = False
    min_types: int = 3
    max_nodes: int | None = None
    """Most nodes one pool may need at max replicas (an environment's cap on a group's size); shapes that need
    more are not chosen. None: no cap."""
    relax_spot_premium: bool = True
    """Add types above ``max_spot_price_premium_pct`` to reach ``min_types`` (True), or keep every spot member
    within the premium and take the shape with the most pools (up to ``min_types``) among those costing at most
    ``max_spread_cost_pct`` more than the cheapest (False: the planner's own designs, where spreading over pools
    may cost a little, not double a pool's price)."""
    max_spread_cost_pct: float = 2.0
    zones: int | None = None
    """Strict zone spread over this many zones (DoNotSchedule, maxSkew 1: prod's ModelAPIs): each zone holds its
    share of every model's replicas on nodes of its own, so a node never holds more of a model than its zone's
    share. None: spread is soft (the scheduler may pack a model's replicas on one node)."""
    max_spot_spread_pct: float | None = None
    """The most a spot candidate's extra pools may raise its mean spot price over its cheapest member, in percent:
    members join cheapest first while the mean stays within it (None: no such limit)."""
    raise_floors: bool = False
    """Let a spot block's on-demand floor hold a model's ``min_replicas`` (up to ``max_replicas - 1``) instead of
    its ``on_demand_base`` when that lowers the objective: at min every replica then runs on on-demand nodes,
    cheaper there than a spot node for them (the planner's own design with an on-demand fallback). Default off."""
    mixed: bool = False
    """Price each end of the replica range on a mix of the allowed node kinds (:func:`pack_mixed`), not on one
    shape for both: what a Karpenter NodePool buys. The pool's ``primary`` and one-shape node counts still come
    from the one-shape choice."""

    def __post_init__(self) -> None:
        if self.max_types < 1:
            raise ValueError(f"GroupSelection.max_types must be >= 1, got {self.max_types}")
        if self.min_types < 1:
            raise ValueError(f"GroupSelection.min_types must be >= 1, got {self.min_types}")
        if self.instance_types is not None and not self.instance_types:
            raise ValueError("GroupSelection.instance_types must be None or name at least one type")
        if self.gpu_models is not None:
            object.__setattr__(self, "gpu_models", tuple(m.lower() for m in self.gpu_models))

    def allows(self, itype: InstanceType) -> bool:
        """True when this selection lets modelstack use ``itype`` (explicit lists are handled separately)."""
        if self.families is not None:
            if itype.family not in self.families:
                return False
        elif itype.family in BURSTABLE_FAMILIES:
            return False
        if self.gpu_models is not None and (not itype.is_gpu or (itype.gpu_model or "").lower() not in self.gpu_models):
            return False
        if self.min_gpu_memory_gib is not None and (not itype.is_gpu or (itype.gpu_memory_gib or 0) < self.min_gpu_memory_gib):
            return False
        if self.arch is not None and itype.arch != self.arch:
            return False
        return True

    @property
    def spot_types_wanted(self) -> int:
        """The fewest types a spot group should list: ``min_types``, capped by ``max_types``."""
        return min(self.min_types, self.max_types)

    def describe(self) -> str:
        parts = []
        if self.families is not None:
            parts.append("families " + ", ".join(self.families))
        if self.gpu_models is not None:
            parts.append("GPU " + "/".join(self.gpu_models))
        if self.min_gpu_memory_gib is not None:
            parts.append(f">= {self.min_gpu_memory_gib:g} GiB per GPU")
        if self.arch is not None:
            parts.append(self.arch)
        return "; ".join(parts) or "any non-burstable type"


@dataclass(frozen=True)
class ModelDemand:
    """One model's replicas on a node group."""

    name: str
    requests: Requests
    min_replicas: int
    max_replicas: int
    on_demand_base: int = 0
    sidecars: tuple[Requests, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.min_replicas <= self.max_replicas:
            raise ValueError(
                f"model {self.name!r}: need 0 <= min_replicas <= max_replicas, got {self.min_replicas} and {self.max_replicas}"
            )
        if self.on_demand_base < 0:
            raise ValueError(f"model {self.name!r}: on_demand_base must be >= 0, got {self.on_demand_base}")
        object.__setattr__(self, "sidecars", tuple(self.sidecars))

    @property
    def pod(self) -> Requests:
        """One replica's pod: the model container plus sidecars."""
        return replica_total(self.requests, self.sidecars)

    def base(self, replicas: int) -> int:
        """Replicas that run on on-demand capacity when ``replicas`` run in all: the floor is a fixed Deployment
        of ``on_demand_base`` replicas, so it runs whole even when ``min_replicas`` is smaller."""
        return min(self.on_demand_base, self.max_replicas)

    def running(self, replicas: int) -> int:
        """Replicas that really run when the autoscaler asks for ``replicas``: never fewer than the floor."""
        return max(replicas, self.base(replicas))


# --------------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Part:
    """Nodes of one kind in a mix: ``nodes`` nodes of ``instance_types`` (one type, or a spot shape's pools) at
    ``unit_usd_per_hour`` each (on-demand, or the mean expected spot price over the types)."""

    instance_types: tuple[str, ...]
    nodes: int
    unit_usd_per_hour: float

    @property
    def usd_per_hour(self) -> float:
        return self.nodes * self.unit_usd_per_hour


@dataclass(frozen=True)
class Pool:
    """One node group to create: a capacity type, its instance types (primary first) and node counts.

    ``parts_min`` / ``parts_max`` (a :attr:`GroupSelection.mixed` selection: Karpenter) are the nodes it buys at
    each end, a mix of the allowed types; the money fields price them. ``nodes_min`` / ``nodes_max`` stay the
    one-shape counts on ``primary``."""

    capacity_type: str
    instance_types: tuple[str, ...]
    primary: InstanceType
    nodes_min: int
    nodes_max: int
    unit_usd_per_hour_on_demand: float
    unit_usd_per_hour: float  # what the estimate uses: on-demand, or mean expected spot over instance_types
    models: tuple[str, ...]
    exact: bool
    interruption: tuple[str | None, ...] = ()
    notes: tuple[str, ...] = ()  # how the spot types were chosen when the plain rule was not enough
    parts_min: tuple[Part, ...] | None = None
    parts_max: tuple[Part, ...] | None = None
    floor_replicas: tuple[int, ...] = ()
    """An on-demand floor the planner raised (:attr:`GroupSelection.raise_floors`): the replicas it holds per model,
    in ``models``' order. Empty: each model's ``on_demand_base``."""

    @property
    def usd_per_hour_min(self) -> float:
        if self.parts_min is not None:
            return sum(p.usd_per_hour for p in self.parts_min)
        return self.nodes_min * self.unit_usd_per_hour

    @property
    def usd_per_hour_max(self) -> float:
        if self.parts_max is not None:
            return sum(p.usd_per_hour for p in self.parts_max)
        return self.nodes_max * self.unit_usd_per_hour

    def parts(self, at_max: bool) -> tuple[Part, ...]:
        """The nodes at one end: the mix, or ``nodes`` of the one shape."""
        mix = self.parts_max if at_max else self.parts_min
        if mix is not None:
            return mix
        n = self.nodes_max if at_max else self.nodes_min
        return (Part(self.instance_types, n, self.unit_usd_per_hour),) if n else ()


@dataclass(frozen=True)
class GroupChoice:
    """The choice for one node group. Top-level node fields describe the main pool; money fields are totals.

    ``on_demand_floor`` is the separate on-demand pool that hosts ``on_demand_base`` replicas of a spot group
    (None when there is none). ``usd_per_hour_min/max`` include it.
    """

    instance_types: tuple[str, ...]
    primary: InstanceType
    capacity_type: str
    nodes_min: int
    nodes_max: int
    usd_per_hour_min: float
    usd_per_hour_max: float
    reason: str
    models: tuple[str, ...]
    main: Pool
    on_demand_floor: Pool | None = None
    explicit: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def pools(self) -> tuple[Pool, ...]:
        return (self.main,) if self.on_demand_floor is None else (self.main, self.on_demand_floor)


# --------------------------------------------------------------------------------------------------
# Packing
# --------------------------------------------------------------------------------------------------

def pack_nodes(items: Sequence[tuple[Requests, int]], cap: NodeCapacity) -> tuple[int, bool]:
    """Nodes of capacity ``cap`` needed for ``items`` = (pod, count) pairs, and whether that is proven minimal.

    One model: ceil(count / per-node), exact. Several: first-fit decreasing, proven exact when it meets the
    volume lower bound. Every pod must fit on an empty node (callers filter types first).
    """
    return _pack([(pod, n, 1) for pod, n in items], cap)


def _pack_shape(pod: Requests) -> tuple[int, int, int, int]:
    """What packing sees of a pod: CPU, memory, GPUs, Neuron devices (and one pod slot)."""
    return (pod.cpu_millicores, pod.memory_mib, pod.gpu, pod.inferentia)


def _pack(entries: Sequence[tuple[Requests, int, int]], cap: NodeCapacity) -> tuple[int, bool]:
    """:func:`pack_nodes` on ``entries`` = (pod, count, models): ``models`` models of ``count`` replicas each.

    First-fit decreasing in one canonical order (largest share of the node first, then CPU, memory, GPUs and
    Neuron devices, largest first), so a block's node count depends on which models it holds, never on the order
    they are listed in. Replicas of equal shape are placed together, which is the same as placing them one by
    one: the packing costs as many steps as there are distinct shapes, not replicas.
    """
    live = [(pod, n, k) for pod, n, k in entries if n > 0 and k > 0]
    if not live:
        return 0, True
    shapes: dict[tuple[int, int, int, int], int] = {}
    for pod, n, k in live:
        s = _pack_shape(pod)
        shapes[s] = shapes.get(s, 0) + n * k
    per_empty = {s: _fits_shape(s, cap.cpu_millicores, cap.memory_mib, cap.pods, cap.gpus, cap.neuron_devices)
                 for s in shapes}
    if any(v <= 0 for v in per_empty.values()):
        raise SizingError("pack_nodes: a replica does not fit on an empty node of this type")
    if len(live) == 1 and live[0][2] == 1:
        (s, n), = shapes.items()
        return -(-n // per_empty[s]), True

    def size(s: tuple[int, int, int, int]) -> float:
        cpu, mem, gpu, inf = s
        shares = [1.0 / cap.pods]
        if cpu:
            shares.append(cpu / cap.cpu_millicores)
        if mem:
            shares.append(mem / cap.memory_mib)
        if gpu:
            shares.append(gpu / cap.gpus)
        if inf:
            shares.append(inf / cap.neuron_devices)
        return max(shares)

    bins: list[list[float]] = []  # residual cpu, mem, pods, gpus, neuron
    for s in sorted(shapes, key=lambda s: (size(s), s), reverse=True):
        cpu, mem, gpu, inf = s
        remaining = shapes[s]
        for b in bins:
            k = min(remaining, _fits_shape(s, *b))
            if k:
                b[0] -= k * cpu
                b[1] -= k * mem
                b[2] -= k
                b[3] -= k * gpu
                b[4] -= k * inf
                remaining -= k
                if not remaining:
                    break
        if remaining:
            per = per_empty[s]
            full, rest = divmod(remaining, per)
            bins.extend([cap.cpu_millicores - per * cpu, cap.memory_mib - per * mem, cap.pods - per,
                         cap.gpus - per * gpu, cap.neuron_devices - per * inf] for _ in range(full))
            if rest:
                bins.append([cap.cpu_millicores - rest * cpu, cap.memory_mib - rest * mem, cap.pods - rest,
                             cap.gpus - rest * gpu, cap.neuron_devices - rest * inf])
    return len(bins), len(bins) == _lower_bound(shapes.items(), cap)


def _fits_shape(s: tuple[int, int, int, int], cpu_millicores: float, memory_mib: float, pods: float, gpus: float,
                neuron_devices: float) -> int:
    """:func:`~modelstack.capacity.sizing.fits_count` on a packing shape."""
    cpu, mem, gpu, inf = s
    k = pods  # no list: this is the packing's innermost step (_fill_node)
    if cpu:
        k = min(k, cpu_millicores // cpu)
    if mem:
        k = min(k, math.floor(memory_mib / mem + 1e-9))
    if gpu:
        k = min(k, gpus // gpu)
    if inf:
        k = min(k, neuron_devices // inf)
    return max(0, int(k))


def _lower_bound(shapes: Iterable[tuple[tuple[int, int, int, int], int]], cap: NodeCapacity) -> int:
    """The volume lower bound on nodes for (shape, replicas): no packing needs fewer."""
    pods = cpu = mem = gpu = inf = 0
    for (c, m, g, i), n in shapes:
        pods += n
        cpu += c * n
        mem += m * n
        gpu += g * n
        inf += i * n
    return max(
        math.ceil(pods / cap.pods),
        math.ceil(cpu / cap.cpu_millicores - 1e-9),
        math.ceil(mem / cap.memory_mib - 1e-9),
        math.ceil(gpu / cap.gpus) if cap.gpus else 0,
        math.ceil(inf / cap.neuron_devices) if cap.neuron_devices else 0,
    )


def zone_shares(entries: Sequence[tuple[Requests, int, int]], zones: int) -> list[list[tuple[Requests, int, int]]]:
    """``entries`` = (pod, replicas, models) split over ``zones`` as a strict zone spread with maxSkew 1 places
    them: each model's replicas evenly, the remainders staggered across zones, per zone (pod, replicas, 1)."""
    out: list[list[tuple[Requests, int, int]]] = [[] for _ in range(zones)]
    offset = 0
    for pod, n, k in entries:
        q, r = divmod(n, zones)
        extra = k * r
        for z in range(zones):
            count = k * q + extra // zones + (1 if (z - offset) % zones < extra % zones else 0)
            if count:
                out[z].append((pod, count, 1))
        offset = (offset + extra) % zones
    return out


MIX_SPLIT = 8
"""In :func:`pack_mixed`, a node kind that holds at most this many of some shape is coarse; the largest shape on it
is also tried at each count per node."""
MIX_SEARCH = 6
"""In :func:`pack_mixed`, replicas of at most this many shapes get the wider search on coarse kinds (its cost grows with
the cube of the shapes; many shapes in one pool fill its nodes finely anyway)."""
MIX_OPTIONS = 12
"""Node kinds a mix is drawn from, per model: the cheapest per replica of each size, up to this many sizes."""


def _shape_size(s: tuple[int, int, int, int], cap: NodeCapacity) -> float:
    cpu, mem, gpu, inf = s
    shares = [1.0 / cap.pods]
    if cpu:
        shares.append(cpu / cap.cpu_millicores)
    if mem:
        shares.append(mem / cap.memory_mib)
    if gpu:
        shares.append(gpu / cap.gpus if cap.gpus else math.inf)
    if inf:
        shares.append(inf / cap.neuron_devices if cap.neuron_devices else math.inf)
    return max(shares)


#: A replica kind in :func:`pack_mixed`: (packing shape, indexes of the options it may run on).
_MixItem = tuple[tuple[int, int, int, int], frozenset[int]]


def _fill_node(remaining: Mapping[_MixItem, int], order: Sequence[_MixItem], cap: NodeCapacity) -> dict[_MixItem, int]:
    """What first-fit decreasing puts on one empty node of ``cap`` from ``remaining`` (items in ``order``; an item
    is (packing shape, the option indexes it may go on))."""
    cpu_left, mem_left, pods_left, gpu_left, inf_left = (cap.cpu_millicores, cap.memory_mib, cap.pods, cap.gpus,
                                                         cap.neuron_devices)
    out: dict[_MixItem, int] = {}
    for item in order:
        n = remaining.get(item, 0)
        if not n:
            continue
        k = min(n, _fits_shape(item[0], cpu_left, mem_left, pods_left, gpu_left, inf_left))
        if k > 0:
            cpu, mem, gpu, inf = item[0]
            cpu_left -= k * cpu
            mem_left -= k * mem
            pods_left -= k
            gpu_left -= k * gpu
            inf_left -= k * inf
            out[item] = k
    return out


def pack_mixed(items: Mapping[_MixItem, int],
               options: Sequence[tuple[NodeCapacity, float]]) -> tuple[float, tuple[tuple[int, int], ...]]:
    """A cheap mix of nodes holding ``items`` = {(packing shape, indexes of the options it may run on): replicas},
    from ``options`` = (capacity, unit price) per node kind: (cost, ((option index, nodes), ...)), never dearer
    than the best single kind that holds them all.

    Greedy on price per value, a replica's value being what it costs alone: its cheapest kind for the replicas of
    its shape still to place, recomputed each step (a lone replica of a large shape is worth its whole node, so the
    fill that tops that node up with others is bought first). Each step fills one node of each kind and buys the
    fill with the lowest price per value as many times as it repeats, until one node of some kind holds all that is
    left for no more than the greedy rate would pay; at equal rates the fill worth more (fewer, larger nodes).
    On *coarse* kinds (a node that holds a few replicas of some shape and more than one shape) first-fit
    decreasing can fill a node with the largest shape alone where two shapes share it better, so a second run also
    tries there fills starting from each other shape, each count of the largest (up to :data:`MIX_SPLIT`), and by
    value per room, and then runs again without each coarse kind its mix bought (the first purchases steer the
    rest). The cheapest result wins, a tie going to fewer nodes, then to the single kind. Kinds are tried best
    bound first (each shape alone on a node) and skipped once the bound passes the best rate. That is how a
    Karpenter pool settles: launches for pending pods on the allowed types, then consolidation replacing nodes
    with cheaper ones. Raises SizingError when a replica fits no option.
    """
    live = {it: n for it, n in items.items() if n > 0}
    if not live:
        return 0.0, ()

    def per(it: _MixItem, cap: NodeCapacity) -> int:
        return _fits_shape(it[0], cap.cpu_millicores, cap.memory_mib, cap.pods, cap.gpus, cap.neuron_devices)

    fit = {it: [(k, price, o) for o, (cap, price) in enumerate(options) if o in it[1] and (k := per(it, cap)) > 0]
           for it in live}
    if not all(fit.values()):
        raise SizingError("pack_mixed: a replica fits no node kind offered")
    per_node = {(o, it): k for it, kinds in fit.items() for k, _, o in kinds}
    orders = [sorted((it for it in live if o in it[1]), key=lambda it: (_shape_size(it[0], cap), it[0]), reverse=True)
              for o, (cap, _) in enumerate(options)]
    # The best single kind, packed whole: the mix must beat it.
    best: tuple[float, tuple[tuple[int, int], ...]] = (math.inf, ())
    entries = [(_unpack_shape(it[0]), n, 1) for it, n in live.items()]
    for o, (cap, price) in enumerate(options):
        if all(o in it[1] and per(it, cap) for it in live):
            n, _ = _pack(entries, cap)
            if n * price < best[0] - 1e-12:
                best = (n * price, ((o, n),))
    # Coarse kinds: a node that holds two or more shapes, a few replicas of one of them. First-fit decreasing fills
    # such a node with the largest shape alone where two shapes share it better, so there the greedy tries more.
    coarse = frozenset(o for o, (cap, _) in enumerate(options) if len(live) <= MIX_SEARCH
                       and sum(1 for it in live if o in it[1] and per(it, cap)) > 1
                       and any(0 < per(it, cap) <= MIX_SPLIT for it in live if o in it[1]))

    def better(a: tuple[float, tuple[tuple[int, int], ...]], b: tuple[float, tuple[tuple[int, int], ...]]) -> bool:
        # A tie goes to fewer nodes (fewer root volumes and DaemonSet pods, larger holes for what comes next),
        # then to what was found first (the single kind: one shape).
        return (round(a[0], 9), sum(n for _, n in a[1])) < (round(b[0], 9), sum(n for _, n in b[1]))

    greedy = _greedy_mix(live, options, fit, orders, frozenset(), per_node)
    if better(greedy, best):
        best = greedy
    if coarse:
        greedy = _greedy_mix(live, options, fit, orders, coarse, per_node)
        if better(greedy, best):
            best = greedy
        for o in [o for o, _ in best[1] if o in coarse] if len(best[1]) > 1 else []:
            # Without a coarse kind the best mix bought: the greedy's first purchases steer the rest, and another
            # start may end cheaper.
            without = [order if k != o else [] for k, order in enumerate(orders)]
            if all(any(k != o and k in it[1] and per(it, options[k][0]) for k in range(len(options))) for it in live):
                greedy = _greedy_mix(live, options, fit, without, coarse, per_node, skip=o)
                if better(greedy, best):
                    best = greedy
    return best


def _greedy_mix(live: Mapping[_MixItem, int], options: Sequence[tuple[NodeCapacity, float]],
                fit: Mapping[_MixItem, list[tuple[int, float, int]]], orders: Sequence[Sequence[_MixItem]],
                coarse: frozenset[int], per_node: Mapping[tuple[int, _MixItem], int],
                skip: int | None = None) -> tuple[float, tuple[tuple[int, int], ...]]:
    """One run of :func:`pack_mixed`'s greedy: (cost, ((option index, nodes), ...)), trying more fills on the
    ``coarse`` kinds, never buying kind ``skip``."""
    remaining = dict(live)
    bought: dict[int, int] = {}
    total = 0.0
    while remaining:
        value = {it: min(math.ceil(n / k) * price for k, price, o in fit[it] if o != skip) / n
                 for it, n in remaining.items()}
        rest_value = sum(value[it] * n for it, n in remaining.items())
        best: tuple[float, float, int, dict[_MixItem, int]] | None = None
        finish: tuple[float, int] | None = None
        # Kinds by the best rate a node of them could reach (each shape alone at most as many as fit it, at most as
        # many as are left): once that bound is past the best rate found, no later kind can win, nor finish.
        bounds = []
        for o, (cap, price) in enumerate(options):
            present = [it for it in orders[o] if it in remaining]
            if present:
                worth = sum(value[it] * min(remaining[it], per_node.get((o, it), 0)) for it in present)
                if worth > 0:
                    bounds.append((price / worth, o, present))
        bounds.sort(key=lambda b: b[0])
        for bound, o, present in bounds:
            if best is not None and bound > best[0] + 1e-12:
                break
            cap, price = options[o]
            fills = [_fill_node(remaining, present, cap)]
            if o in coarse and len(present) > 1:
                for first in present:
                    rest = [it for it in present if it is not first]
                    most = min(remaining[first], per_node.get((o, first), 0))
                    # A few replicas of a large shape per node: each count of it, the rest filled first-fit
                    # decreasing (two on a 4-GPU node leave room for two of another shape).
                    for k in (range(1, most + 1) if first is present[0] and most <= MIX_SPLIT else (most,)):
                        if k == most and first is present[0]:
                            continue  # the plain first-fit decreasing fill
                        fills.append(_fill_node({**remaining, first: k}, [first] + rest, cap))
                fills.append(_fill_node(remaining, sorted(present, key=lambda it: value[it] / _shape_size(it[0], cap),
                                                          reverse=True), cap))
            for fill in fills:
                if not fill:
                    continue
                if fill == remaining and (finish is None or price < finish[0] - 1e-12):
                    finish = (price, o)
                worth = sum(value[it] * k for it, k in fill.items())
                rate = price / worth
                # At the same rate, the fill worth more: a larger node, so fewer of them.
                if best is None or rate < best[0] - 1e-12 or (rate <= best[0] + 1e-12 and worth > best[1] + 1e-9):
                    best = (rate, worth, o, fill)
        assert best is not None  # every replica fits some option (pack_mixed checks), so some fill is not empty
        if finish is not None and finish[0] <= best[0] * rest_value + 1e-9:
            bought[finish[1]] = bought.get(finish[1], 0) + 1
            total += finish[0]
            break
        _, _, o, fill = best
        times = min(remaining[it] // k for it, k in fill.items())
        for it, k in fill.items():
            remaining[it] -= k * times
            if not remaining[it]:
                del remaining[it]
        bought[o] = bought.get(o, 0) + times
        total += times * options[o][1]
    return total, tuple(sorted(bought.items()))


def _unpack_shape(s: tuple[int, int, int, int]) -> Requests:
    cpu, mem, gpu, inf = s
    return Requests(cpu_millicores=cpu, memory_mib=mem, gpu=gpu, inferentia=inf)


# --------------------------------------------------------------------------------------------------
# Candidate types and shapes
# --------------------------------------------------------------------------------------------------

def shape_key(itype: InstanceType, *, mix_gpu_models: bool = False) -> tuple[Any, ...]:
    """Types with equal keys may share one cluster-autoscaler node group.

    cluster-autoscaler's AWS provider builds a group's node template from the first instance type of the
    group: capacity = nominal vCPU, nominal memory and GPU count, pods fixed at 110, allocatable = capacity
    (``buildNodeFromTemplate`` in ``cloudprovider/aws/aws_manager.go``; its README asks for "the same amount
    of RAM and number of CPU cores"). So the key is arch (one AMI per group), nominal vCPU and memory, GPU
    count (and GPU model unless ``mix_gpu_models``), Inferentia, and burstable or not (a t3 "vCPU" runs on
    credits). Allocatable memory and max pods may differ within a key (g4dn.xlarge 14.14 GiB and 29 pods,
    g5.xlarge 13.83 GiB and 58 pods): :func:`group_capacity` packs on the minimum, which holds on any member.
    Graviton never shares with x86 (arch).
    """
    return (
        itype.arch, itype.vcpu, itype.memory_gib, itype.gpu_count,
        None if mix_gpu_models else itype.gpu_model, itype.accelerator_count, itype.neuroncores,
        itype.family in BURSTABLE_FAMILIES,
    )


def packing_key(itype: InstanceType) -> tuple[Any, ...]:
    """Types with equal keys are interchangeable for fitting and packing replicas (same allocatable, pods,
    GPU model and memory): keeping the cheapest of each key loses nothing for a one-type group."""
    return (
        itype.arch, itype.vcpu, itype.memory_gib, itype.alloc_cpu_millicores, itype.alloc_memory_gib,
        itype.max_pods, itype.gpu_count, itype.gpu_memory_gib, itype.gpu_model, itype.accelerator_count,
        itype.neuroncores, itype.family in BURSTABLE_FAMILIES,
    )


def group_capacity(members: Sequence[InstanceType], reserve: NodeReserve | None = None) -> NodeCapacity:
    """What every node of a multi-type group offers for sure: the minimum over its types, per resource."""
    caps = [c for c in (node_capacity(t, reserve) for t in members) if c is not None]
    if not caps or len(caps) < len(members):
        raise SizingError(f"no allocatable figures for {', '.join(t.name for t in members)}")
    return NodeCapacity(
        cpu_millicores=min(c.cpu_millicores for c in caps), memory_mib=min(c.memory_mib for c in caps),
        pods=min(c.pods for c in caps), gpus=min(c.gpus for c in caps),
        neuron_devices=min(c.neuron_devices for c in caps),
    )


def allowed_types(selection: GroupSelection, catalog: Mapping[str, InstanceType] | None = None) -> list[InstanceType]:
    """Types the selection allows that modelstack can size and price (allocatable data and on-demand price)."""
    cat = catalog if catalog is not None else _default_catalog()
    return [t for t in cat.values() if selection.allows(t) and t.alloc_cpu_millicores is not None
            and t.alloc_memory_gib is not None and t.on_demand_usd_per_hour is not None]


@dataclass(frozen=True)
class _Candidate:
    capacity_type: str
    members: tuple[InstanceType, ...]  # primary first
    unit_price: float
    unit_on_demand: float
    interruption: tuple[str | None, ...]
    notes: tuple[str, ...] = ()

    @property
    def primary(self) -> InstanceType:
        return self.members[0]

    @property
    def interruption_score(self) -> float:
        if self.capacity_type == ON_DEMAND:
            return 0.0
        return sum(interruption_rank(b) for b in self.interruption) / len(self.interruption)


def _on_demand_candidates(types: Iterable[InstanceType], prices: PriceBook) -> list[_Candidate]:
    best: dict[tuple[Any, ...], InstanceType] = {}
    for t in types:
        key = packing_key(t)
        if key not in best or (prices.priced_on_demand(t), t.name) < (prices.priced_on_demand(best[key]), best[key].name):
            best[key] = t
    return [_Candidate(ON_DEMAND, (t,), prices.priced_on_demand(t), prices.priced_on_demand(t), ())
            for t in best.values()]


def _spot_shapes(types: Iterable[InstanceType], prices: PriceBook, selection: GroupSelection) -> list[list[InstanceType]]:
    """The selection's types with spot data, grouped by equal shape."""
    shapes: dict[tuple[Any, ...], list[InstanceType]] = {}
    for t in types:
        if prices.spot(t) is not None:
            shapes.setdefault(shape_key(t, mix_gpu_models=selection.mix_gpu_models), []).append(t)
    return list(shapes.values())


def _spot_candidate(members: Sequence[InstanceType], prices: PriceBook, selection: GroupSelection) -> _Candidate:
    """The spot types to list for one shape, out of ``members`` (equal shape, all fitting the models, all with spot
    data: :func:`_spot_shapes`)."""
    spot = prices.priced_spot
    order = lambda t: (interruption_rank(prices.interruption(t)), spot(t), t.name)  # noqa: E731
    ranked = sorted(members, key=order)
    cheapest = min(spot(t) for t in members)
    cap_pct = selection.max_spot_price_premium_pct
    ceiling = cheapest * (1.0 + cap_pct / 100.0) + 1e-12
    chosen = [t for t in ranked if spot(t) <= ceiling][: selection.max_types]
    wanted = selection.spot_types_wanted
    notes = []
    if len(chosen) < wanted and selection.relax_spot_premium:
        # Diversification first: relax the premium cap, lowest interruption bucket then price first.
        extra = [t for t in ranked if t not in chosen][: wanted - len(chosen)]
        if extra:
            worst = max(spot(t) / cheapest - 1.0 for t in extra) * 100.0
            notes.append(f"{', '.join(t.name for t in extra)} added above the {cap_pct:g}% spot price premium cap "
                         f"(up to {worst:.0f}% above the cheapest member) to reach min_types={wanted} spot pools")
            chosen = sorted(chosen + extra, key=order)
    if len(chosen) < wanted:
        notes.append(f"only {len(chosen)} equal-shape type(s) with spot data fit these models within the selection "
                     f"({', '.join(t.name for t in chosen)}), fewer than min_types={wanted}: fewer spot pools means more "
                     "interruptions and failed launches; widen families or gpu_models (and allow mix_gpu_models)")
    if selection.max_spot_spread_pct is not None and len(chosen) > 1:
        by_price = sorted(chosen, key=lambda t: (spot(t), t.name))
        limit = spot(by_price[0]) * (1.0 + selection.max_spot_spread_pct / 100.0) + 1e-12
        keep = [by_price[0]]
        for t in by_price[1:]:
            if (sum(spot(k) for k in keep) + spot(t)) / (len(keep) + 1) <= limit:
                keep.append(t)
        chosen = [t for t in chosen if t in keep]
    unit = sum(spot(t) for t in chosen) / len(chosen)  # PriceBook.mean_spot, every member having spot data
    return _Candidate(SPOT, tuple(chosen), unit, prices.priced_on_demand(chosen[0]),
                      tuple(prices.interruption(t) for t in chosen), tuple(notes))


# --------------------------------------------------------------------------------------------------
# Choosing
# --------------------------------------------------------------------------------------------------

def _resolve_prices(region: str | PriceBook) -> PriceBook:
    return region if isinstance(region, PriceBook) else price_book(region)


def _describe_pod(pod: Requests) -> str:
    parts = [f"{pod.cpu_millicores}m CPU", f"{pod.memory_mib} MiB"]
    if pod.gpu:
        gpu = f"{pod.gpu} GPU"
        if pod.gpu_models:
            gpu += " " + "/".join(pod.gpu_models)
        if pod.min_gpu_memory_gib:
            gpu += f" >= {pod.min_gpu_memory_gib:g} GiB"
        parts.append(gpu)
    if pod.inferentia:
        parts.append(f"{pod.inferentia} Inferentia")
    if pod.arch:
        parts.append(pod.arch)
    return ", ".join(parts)


def _no_fit_error(demand: ModelDemand, types: Sequence[InstanceType], selection: GroupSelection,
                  reserve: NodeReserve | None, catalog: Mapping[str, InstanceType]) -> SizingError:
    pool = types or [t for t in catalog.values() if t.alloc_cpu_millicores is not None]
    scored = sorted(((len(fit_report(demand.requests, t, reserve, demand.sidecars)), t.on_demand_usd_per_hour or 1e9, t.name), t)
                    for t in pool)
    closest = scored[0][1]
    why = "; ".join(fit_report(demand.requests, closest, reserve, demand.sidecars))
    scope = f"allowed for this node group ({selection.describe()})" if types else "in the pricing data"
    return SizingError(
        f"model {demand.name!r} ({_describe_pod(demand.pod)} per replica) fits no instance type {scope}; "
        f"closest is {closest.name}: {why}"
    )


class _Evaluator:
    """Best pool for a set of models under one selection, memoized on what the answer depends on.

    A block's cost depends on its models' pods, replica ranges and on-demand bases, not on their names or order:
    blocks are keyed by the multiset of those signatures (:meth:`key`), so equal models cost one evaluation
    however many there are, and the packing runs once per distinct shape.
    """

    def __init__(self, selection: GroupSelection, prices: PriceBook, catalog: Mapping[str, InstanceType],
                 reserve: NodeReserve | None, weights: tuple[float, float]):
        self.selection = selection
        self.prices = prices
        self.catalog = catalog
        self.reserve = reserve
        self.weights = weights
        # Never a type the region's data says it does not offer (or cannot price): PriceBook.offers.
        self.type_list = [t for t in allowed_types(selection, catalog) if prices.offers(t) and prices.on_demand(t) is not None]
        self.types = {t.name: t for t in self.type_list}
        self.od_candidates = _on_demand_candidates(self.type_list, prices)
        self.spot_shapes = _spot_shapes(self.type_list, prices, selection) if selection.spot else []
        self._fits: dict[Requests, frozenset[str]] = {}
        self._sig_ids: dict[tuple[Any, ...], int] = {}
        self._sigs: list[ModelDemand] = []  # one demand per signature id
        self._caps: dict[tuple[str, ...], NodeCapacity] = {}
        self._spot_memo: dict[frozenset[Any], list[_Candidate]] = {}
        self._memo: dict[tuple[Any, ...], tuple[float, Pool] | None] = {}
        self._blocks: dict[tuple[Any, ...], tuple[float, Pool, Pool | None] | None] = {}
        self._mixes: dict[tuple[Any, ...], tuple[tuple[int, int], ...]] = {}
        """pack_mixed's answers: blocks that differ only in models packed on other kinds ask the same question."""
        self.packings = 0
        """pack_nodes runs so far (what the memo and the pruning save is counted by tests)."""

    def fits(self, d: ModelDemand) -> frozenset[str]:
        """Allowed types one replica of ``d`` fits on."""
        pod = d.pod
        ok = self._fits.get(pod)
        if ok is None:
            ok = frozenset(t.name for t in self.type_list if replicas_per_node(pod, t, self.reserve) > 0)
            self._fits[pod] = ok
        return ok

    def check(self, demands: Sequence[ModelDemand]) -> None:
        """SizingError naming the first model that fits no allowed type."""
        for d in demands:
            if not self.fits(d):
                raise _no_fit_error(d, self.type_list, self.selection, self.reserve, self.catalog)

    def sig(self, d: ModelDemand) -> int:
        s = (d.pod, d.min_replicas, d.max_replicas, d.on_demand_base)
        i = self._sig_ids.get(s)
        if i is None:
            i = self._sig_ids[s] = len(self._sigs)
            self._sigs.append(d)
        return i

    def key(self, demands: Iterable[ModelDemand]) -> tuple[tuple[int, int], ...]:
        """The block key: (signature id, number of models) pairs, sorted."""
        counts: dict[int, int] = {}
        for d in demands:
            i = self.sig(d)
            counts[i] = counts.get(i, 0) + 1
        return tuple(sorted(counts.items()))

    def capacity(self, members: Sequence[InstanceType]) -> NodeCapacity:
        names = tuple(t.name for t in members)
        if names not in self._caps:
            self._caps[names] = group_capacity(members, self.reserve)
        return self._caps[names]

    def spot_candidates(self, common: frozenset[str]) -> list[_Candidate]:
        """One spot candidate per shape, built from the types that fit every model in the block. Shapes that
        reach min_types come first in line: when any does, the others are not offered."""
        if common not in self._spot_memo:
            cands = [_spot_candidate(members, self.prices, self.selection)
                     for members in ([t for t in shape if t.name in common] for shape in self.spot_shapes) if members]
            if self.selection.relax_spot_premium:
                full = [c for c in cands if len(c.members) >= self.selection.spot_types_wanted]
                self._spot_memo[common] = full or cands
            else:
                self._spot_memo[common] = cands  # _best weighs pools against price
        return self._spot_memo[common]

    def _best(self, key: tuple[Any, ...], mode: str, candidates: list[_Candidate] | None, common: frozenset[str],
              counts: Sequence[tuple[Requests, int, int, int]]) -> tuple[float, Pool] | None:
        """Cheapest pool among ``candidates`` (None: the spot candidates for these models) for ``counts`` =
        (pod, replicas at min, replicas at max, models) per signature. Its ``models`` are left empty."""
        memo = (key, mode)
        if memo in self._memo:
            return self._memo[memo]
        result = self._memo[memo] = self._search(candidates, common, counts)
        return result

    def _search(self, candidates: list[_Candidate] | None, common: frozenset[str],
                counts: Sequence[tuple[Requests, int, int, int]]) -> tuple[float, Pool] | None:
        if sum(hi * k for _, _, hi, k in counts) == 0:
            return None
        spread = candidates is None and not self.selection.relax_spot_premium
        if candidates is None:
            candidates = self.spot_candidates(common)
        at_min = [(pod, lo, k) for pod, lo, _, k in counts]
        at_max = [(pod, hi, k) for pod, _, hi, k in counts]
        vol_min = [(_pack_shape(pod), lo * k) for pod, lo, _, k in counts]
        vol_max = [(_pack_shape(pod), hi * k) for pod, _, hi, k in counts]
        w_min, w_max = self.weights
        max_nodes = self.selection.max_nodes
        # Branch and bound: no packing needs fewer nodes than the volume bound, so a candidate whose bound already
        # costs more than the best found (or than the spread ceiling) cannot be chosen and is not packed.
        bounded = []
        for cand in candidates:
            if not all(m.name in common for m in cand.members):
                continue
            cap = self.capacity(cand.members)
            lo, hi = _lower_bound(vol_min, cap), _lower_bound(vol_max, cap)
            if max_nodes is not None and hi > max_nodes:
                continue
            bound = round(w_min * lo * cand.unit_price + w_max * hi * cand.unit_price, 9)
            bounded.append((bound, cand, cap))
        bounded.sort(key=lambda b: b[0])
        ranked = []
        cheapest = math.inf
        for bound, cand, cap in bounded:
            ceiling = cheapest * (1.0 + self.selection.max_spread_cost_pct / 100.0) + 1e-9 if spread else cheapest
            if bound > ceiling:
                break
            self.packings += 2
            n_max, ex_max = self._pack(at_max, cap)
            if max_nodes is not None and n_max > max_nodes:
                continue
            n_min, ex_min = self._pack(at_min, cap)
            cost = w_min * n_min * cand.unit_price + w_max * n_max * cand.unit_price
            rank = (round(cost, 9), cand.interruption_score, n_max, cand.primary.name)
            cheapest = min(cheapest, rank[0])
            ranked.append((rank, cand, n_min, n_max, ex_min and ex_max))
        if spread and ranked:
            # More spot pools (up to min_types) when they cost at most max_spread_cost_pct more than the cheapest.
            ceiling = min(r[0][0] for r in ranked) * (1.0 + self.selection.max_spread_cost_pct / 100.0) + 1e-9
            wanted = self.selection.spot_types_wanted
            ranked = [r for r in ranked if r[0][0] <= ceiling]
            most = max(min(len(r[1].members), wanted) for r in ranked)
            ranked = [r for r in ranked if min(len(r[1].members), wanted) == most]
        best = None
        for rank, cand, n_min, n_max, exact in ranked:
            if best is None or rank < best[0]:
                best = (rank, cand, n_min, n_max, exact)
        if best is None:
            return None
        rank, cand, n_min, n_max, exact = best
        pool = Pool(cand.capacity_type, tuple(t.name for t in cand.members), cand.primary, n_min, n_max,
                    cand.unit_on_demand, cand.unit_price, (), exact, cand.interruption, cand.notes)
        if not self.selection.mixed:
            return rank[0], pool
        # Karpenter: each end on its own mix of node kinds of the chosen pool's spread (spot: as many pools), each
        # model on the kinds it fits.
        parts = self._mix(cand, counts, spread)
        one = (pool.parts(False), pool.parts(True))
        # Never dearer than the one shape (a mix that fails or passes max_nodes keeps it); at the same price, fewer
        # nodes win (fewer root volumes; larger holes for replicas an on-demand floor's nodes take beside it).
        def price_nodes(ps: tuple[Part, ...]) -> tuple[float, int]:
            return round(sum(p.usd_per_hour for p in ps), 9), sum(p.nodes for p in ps)

        pick = tuple(m if m and price_nodes(m) < price_nodes(o) else o for m, o in zip(parts, one))
        pool = replace(pool, parts_min=pick[0], parts_max=pick[1])
        return w_min * pool.usd_per_hour_min + w_max * pool.usd_per_hour_max, pool

    def _mix(self, chosen: _Candidate, counts: Sequence[tuple[Requests, int, int, int]],
             spread: bool) -> tuple[tuple[Part, ...], tuple[Part, ...]]:
        """The nodes at min and at max as mixes (:func:`pack_mixed`) of the kinds of ``chosen``'s capacity type
        (spot: with as many pools as ``chosen``) that fit some model: each model's cheapest per replica, and the
        cheapest per replica for the whole block."""
        # A kind may serve some models of the block only: each model's pods are kept to the types it fits by
        # instance type (the program's placement.instance_types), as the scheduler cannot see GPU memory.
        fits = [self.fits_pod(pod) for pod, _, _, _ in counts]
        union = frozenset().union(*fits)
        if chosen.capacity_type == SPOT:
            pools = min(len(chosen.members), self.selection.spot_types_wanted)
            kinds = [c for c in self.spot_candidates(union)
                     if not spread or min(len(c.members), self.selection.spot_types_wanted) >= pools]
        else:
            kinds = [c for c in self.od_candidates if c.primary.name in union]
        kinds = [c for c in kinds if all(m.name in union for m in c.members)]
        caps = {id(c): self.capacity(c.members) for c in kinds}
        max_nodes = self.selection.max_nodes
        out: list[tuple[Part, ...]] = []
        for at_max in (False, True):
            live = [(pod, n, f) for (pod, lo, hi, k), f in zip(counts, fits) if (n := (hi if at_max else lo) * k)]
            if not live:
                out.append(())
                continue
            picked: dict[int, _Candidate] = {id(chosen): chosen}
            for pod, n, f in live:
                shape = _pack_shape(pod)
                ok = [c for c in kinds if all(m.name in f for m in c.members)]
                def rate(c: _Candidate) -> tuple[float, str]:
                    k = caps[id(c)]
                    n = _fits_shape(shape, k.cpu_millicores, k.memory_mib, k.pods, k.gpus, k.neuron_devices)
                    return (c.unit_price / n if n else math.inf, c.primary.name)

                # The best kind of each size, best first: a mix needs large nodes for the bulk and small ones for
                # what is left, not six equal sizes of different families.
                sizes: dict[tuple[int, float, int], _Candidate] = {}
                for c in sorted(ok, key=rate):
                    sizes.setdefault((c.primary.vcpu, c.primary.memory_gib, c.primary.gpu_count), c)
                for c in list(sizes.values())[:MIX_OPTIONS]:
                    picked.setdefault(id(c), c)
                # and the cheapest node that holds one replica, for what is left (the best rates are large nodes)
                small = min((c for c in ok if rate(c)[0] < math.inf), key=lambda c: (c.unit_price, c.primary.name),
                            default=None)
                if small is not None:
                    picked.setdefault(id(small), small)
            options = list(picked.values())
            index = {id(c): o for o, c in enumerate(options)}
            ok_of = {pod: frozenset(index[id(c)] for c in options if all(m.name in f for m in c.members))
                     for pod, _, f in live}
            zones = self.selection.zones if self.selection.zones and self.selection.zones > 1 else 1
            shares = zone_shares([(pod, n, 1) for pod, n, _ in live], zones) if zones > 1 else [
                [(pod, n, 1) for pod, n, _ in live]]
            bought: dict[int, int] = {}
            try:
                for share in shares:
                    items: dict[_MixItem, int] = {}
                    for pod, n, _ in share:
                        it = (_pack_shape(pod), ok_of[pod])
                        items[it] = items.get(it, 0) + n
                    self.packings += 1
                    kinds_offered = tuple((self.capacity(c.members), c.unit_price) for c in options)
                    memo = (tuple(sorted(items.items())), kinds_offered)
                    if memo not in self._mixes:
                        self._mixes[memo] = pack_mixed(items, kinds_offered)[1]
                    mix = self._mixes[memo]
                    for o, n in mix:
                        bought[o] = bought.get(o, 0) + n
            except SizingError:
                bought = {}
            parts = tuple(Part(tuple(t.name for t in options[o].members), n, options[o].unit_price)
                          for o, n in sorted(bought.items()))
            if max_nodes is not None and sum(p.nodes for p in parts) > max_nodes:
                parts = ()
            out.append(parts)
        return out[0], out[1]

    def _pack(self, entries: Sequence[tuple[Requests, int, int]], cap: NodeCapacity) -> tuple[int, bool]:
        """:func:`_pack`, zone by zone under a strict zone spread (:attr:`GroupSelection.zones`)."""
        zones = self.selection.zones
        if not zones or zones < 2:
            return _pack(entries, cap)
        total, exact = 0, True
        for share in zone_shares(entries, zones):
            n, ex = _pack(share, cap)
            total, exact = total + n, exact and ex
        return total, exact

    def _absorb(self, floor: Pool, floor_counts: Sequence[tuple[Requests, int, int, int]],
                rest: Sequence[tuple[Requests, int, int, int]]) -> list[tuple[Requests, int, int, int]]:
        """``rest`` less the replicas the floor's nodes hold beside the floor, at min and at max.

        The autoscaled replicas only prefer spot: the scheduler puts them on an on-demand floor node with room before
        any node is bought. Floor replicas are placed first (first-fit decreasing over the floor's nodes), then the
        rest, each on nodes of a type it fits. When the floor's nodes would hold all of the rest at max, nothing is
        taken at max (the pool keeps its spot capacity to stand in)."""
        ends = []
        for at_max in (False, True):
            bins: list[tuple[str, list[float]]] = []  # (instance type, room left: cpu, memory, pods, GPUs, Neuron)
            for part in floor.parts(at_max):
                cap = self.capacity([self.types[t] for t in part.instance_types])
                for _ in range(part.nodes):
                    bins.append((part.instance_types[0], [cap.cpu_millicores, cap.memory_mib, cap.pods, cap.gpus,
                                                          cap.neuron_devices]))
            taken = []
            placed_all = True
            for group, record in ((floor_counts, False), (rest, True)):
                for pod, lo, hi, k in sorted(group, key=lambda c: _pack_shape(c[0]), reverse=True):
                    n = (hi if at_max else lo) * k
                    shape, ok = _pack_shape(pod), self.fits_pod(pod)
                    got = 0
                    for itype, room in bins:
                        if got == n:
                            break
                        if itype not in ok:
                            continue
                        q = min(n - got, _fits_shape(shape, *room))
                        if q:
                            room[0] -= q * shape[0]
                            room[1] -= q * shape[1]
                            room[2] -= q
                            room[3] -= q * shape[2]
                            room[4] -= q * shape[3]
                            got += q
                    if record:
                        taken.append(got)
                    elif got < n:
                        placed_all = False  # this packing of the floor is not the floor's: take nothing
            ends.append(taken if placed_all else [0] * len(rest))
        # taken follows rest sorted by shape: map it back to rest's order.
        order = sorted(range(len(rest)), key=lambda i: _pack_shape(rest[i][0]), reverse=True)
        lo_taken, hi_taken = [0] * len(rest), [0] * len(rest)
        for pos, i in enumerate(order):
            lo_taken[i], hi_taken[i] = ends[0][pos], ends[1][pos]
        if sum(hi * k - t for (_, _, hi, k), t in zip(rest, hi_taken)) <= 0:
            hi_taken = [0] * len(rest)
        return [(pod, lo * k - a, hi * k - b, 1) for (pod, lo, hi, k), a, b in zip(rest, lo_taken, hi_taken)]

    def _split(self, key: tuple[Any, ...], tag: str, ds: Sequence[tuple[ModelDemand, int]], common: frozenset[str],
               bases: Sequence[int], ceiling: float = math.inf) -> tuple[float, int, Pool, Pool | None] | None:
        """An on-demand floor of ``bases`` replicas per model, the rest on the cheaper of spot and on-demand:
        (objective, tie rank, main pool, floor pool). None also when the floor alone costs ``ceiling`` or more."""
        rest = [(d.pod, max(d.running(d.min_replicas), b) - b, d.max_replicas - b, k) for (d, k), b in zip(ds, bases)]
        floor_counts = [(d.pod, b, b, k) for (d, k), b in zip(ds, bases)]
        floor = self._best(key, "floor" + tag, self.od_candidates, common, floor_counts)
        if floor is not None and floor[0] >= ceiling:
            return None
        if floor is not None:
            rest = self._absorb(floor[1], floor_counts, rest)
        options = []
        # A raised floor with an on-demand rest is two on-demand pools, which the one pool for all rarely loses to.
        for mode, cands in (("spot", None), ("rest-od", self.od_candidates))[:1 if tag else 2]:
            r = self._best(key, mode + tag, cands, common, rest)
            if r is not None:
                options.append(r)
        if not options:
            return None
        main = min(options, key=lambda r: (round(r[0], 9), r[1].capacity_type != SPOT))
        split_od = main[1].capacity_type == ON_DEMAND and floor is not None
        return main[0] + (floor[0] if floor else 0.0), 2 if split_od else 0, main[1], floor[1] if floor else None

    def fits_pod(self, pod: Requests) -> frozenset[str]:
        ok = self._fits.get(pod)
        if ok is None:
            ok = frozenset(t.name for t in self.type_list if replicas_per_node(pod, t, self.reserve) > 0)
            self._fits[pod] = ok
        return ok

    def block_of(self, key: tuple[tuple[int, int], ...]) -> tuple[float, Pool, Pool | None] | None:
        """Cheapest (objective, main pool, on-demand floor) for the models of ``key`` sharing one group (pools'
        ``models`` empty); None when no allowed type hosts them all."""
        if key in self._blocks:
            return self._blocks[key]
        result = self._blocks[key] = self._block(key)
        return result

    def _block(self, key: tuple[tuple[int, int], ...]) -> tuple[float, Pool, Pool | None] | None:
        ds = [(self._sigs[i], k) for i, k in key]
        common = frozenset.intersection(*(self.fits(d) for d, _ in ds))
        if not common:
            return None
        if not self.selection.spot:
            r = self._best(key, "od", self.od_candidates, common,
                           [(d.pod, d.min_replicas, d.max_replicas, k) for d, k in ds])
            return None if r is None else (r[0], r[1], None)
        # Spot: base replicas on an on-demand floor pool, the rest on the cheaper of spot and on-demand.
        totals = []
        bases = [d.base(d.max_replicas) for d, _ in ds]
        split = self._split(key, "", ds, common, bases)
        if split is not None:
            totals.append(split)
        raised = [max(b, min(d.min_replicas, d.max_replicas - 1)) for (d, _), b in zip(ds, bases)]
        # Raising the floor can only pay where replicas above it still need nodes of their own at min, and only
        # when the raised floor alone costs less than the whole split as asked.
        if self.selection.raise_floors and raised != bases and split is not None and split[2].usd_per_hour_min > 0:
            split = self._split(key, "+", ds, common, raised, ceiling=split[0])
            if split is not None and split[3] is not None:  # a tie keeps the floors as asked
                totals.append((split[0], split[1] + 3, split[2], replace(split[3], floor_replicas=tuple(raised))))
        # One on-demand pool for every replica can beat a floor plus an on-demand rest (and wins a tie with it:
        # one node group instead of two).
        all_od = self._best(key, "all-od", self.od_candidates, common,
                            [(d.pod, d.running(d.min_replicas), d.max_replicas, k) for d, k in ds])
        if all_od is not None:
            totals.append((all_od[0], 1, all_od[1], None))
        if not totals:
            return None
        best = min(totals, key=lambda t: (round(t[0], 9), t[1]))
        return best[0], best[2], best[3]

    def block(self, demands: Sequence[ModelDemand]) -> tuple[float, Pool, Pool | None] | None:
        """:meth:`block_of` for these models, their names (in this order) on the pools."""
        r = self.block_of(self.key(demands))
        if r is None:
            return None
        names = tuple(d.name for d in demands)
        obj, main, floor = r
        if floor is not None:
            # a raised floor's replicas follow the key's signatures: give them in the models' order
            by_sig = {i: n for (i, _), n in zip(self.key(demands), floor.floor_replicas)}
            floor = replace(floor, models=names,
                            floor_replicas=tuple(by_sig[self.sig(d)] for d in demands) if by_sig else ())
        return obj, replace(main, models=names), floor


def raised_floors_text(floor: Pool | None, demands: Sequence[ModelDemand]) -> str:
    """What a raised on-demand floor (:attr:`Pool.floor_replicas`) holds beyond the models' ``on_demand_base``, in
    words ("" when it holds what they ask)."""
    if floor is None or not floor.floor_replicas:
        return ""
    asked = {d.name: d.on_demand_base for d in demands}
    raised = [f"{m} {n} (on_demand_base {asked[m]})" for m, n in zip(floor.models, floor.floor_replicas)
              if n > asked.get(m, n)]
    if not raised:
        return ""
    return (f"on-demand floor raised to the min replicas of {', '.join(raised)}: on on-demand nodes beside the floor "
            "they cost less (min and max weighed) than on spot nodes of their own")


def _choice_from(block: tuple[float, Pool, Pool | None], selection: GroupSelection, n_allowed: int,
                 prices: PriceBook, weights: tuple[float, float], demands: Sequence[ModelDemand]) -> GroupChoice:
    _, main, floor = block
    usd_min = main.usd_per_hour_min + (floor.usd_per_hour_min if floor else 0.0)
    usd_max = main.usd_per_hour_max + (floor.usd_per_hour_max if floor else 0.0)
    words = [f"{main.primary.name} is the cheapest fit for {', '.join(main.models)} among {n_allowed} allowed types "
             f"({selection.describe()}), minimizing {weights[0]:g}×cost at min + {weights[1]:g}×cost at max replicas"]
    if main.capacity_type == SPOT:
        buckets = ", ".join(f"{n} {b or 'unknown'}" for n, b in zip(main.instance_types, main.interruption))
        words.append(f"spot across {len(main.instance_types)} equal-shape type(s), interruption {buckets}; "
                     f"expected ${main.unit_usd_per_hour:.4f}/h per node (mean of on-demand × (1 − savings); "
                     "price-capacity-optimized allocation usually does better)")
        words.extend(main.notes)
        if len(main.instance_types) > 1:
            words.append("nodes packed on the smallest allocatable CPU, memory and pods among these types")
    elif selection.spot:
        words.append("on-demand: cheaper than any spot shape with data for these models")
    if floor is not None:
        words.append(f"on-demand floor of {floor.nodes_min}-{floor.nodes_max} {floor.primary.name} for on_demand_base replicas")
        if text := raised_floors_text(floor, demands):
            words.append(text)
    if not main.exact or (floor is not None and not floor.exact):
        words.append("node counts from first-fit decreasing, not proven minimal")
    return GroupChoice(
        instance_types=main.instance_types, primary=main.primary, capacity_type=main.capacity_type,
        nodes_min=main.nodes_min, nodes_max=main.nodes_max, usd_per_hour_min=usd_min, usd_per_hour_max=usd_max,
        reason="; ".join(words), models=tuple(dict.fromkeys(main.models + (floor.models if floor else ()))),
        main=main, on_demand_floor=floor, notes=prices.notes + (main.notes if main.capacity_type == SPOT else ()),
    )


class GroupOptimizer:
    """:func:`choose_group` and :func:`plan_groups` for one selection, price book and catalog, with what they
    learn kept between calls: the types each pod fits, and the best pools per block of models (keyed on the
    models' pods, replica ranges and on-demand bases, so equal models are evaluated once). The planner asks many
    questions of one selection (a design, each model alone, the fallback): it keeps one of these per selection.
    """

    def __init__(self, selection: GroupSelection, region: str | PriceBook = "us-east-1",
                 catalog: Mapping[str, InstanceType] | None = None, *, reserve: NodeReserve | None = None,
                 weights: tuple[float, float] = (1.0, 1.0)):
        self.selection = selection
        self.catalog = catalog if catalog is not None else _default_catalog()
        self.prices = _resolve_prices(region)
        self.reserve = reserve
        self.weights = weights
        self._ev: _Evaluator | None = None

    @property
    def evaluator(self) -> _Evaluator:
        if self._ev is None:
            self._ev = _Evaluator(self.selection, self.prices, self.catalog, self.reserve, self.weights)
        return self._ev

    @property
    def packings(self) -> int:
        """Node packings run so far: the unit of work the complexity tests count."""
        return self._ev.packings if self._ev is not None else 0

    def fits(self, demand: ModelDemand) -> frozenset[str]:
        """The allowed types one replica of ``demand`` fits on."""
        return self.evaluator.fits(demand)

    def objective(self, demands: Sequence[ModelDemand]) -> float | None:
        """The objective of ``demands`` sharing one group (None: no allowed type hosts them all)."""
        ev = self.evaluator
        ev.check(demands)
        r = ev.block_of(ev.key(demands))
        return None if r is None else r[0]

    def choose(self, demands: Sequence[ModelDemand]) -> GroupChoice:
        """See :func:`choose_group`."""
        s = self.selection
        if not demands:
            raise SizingError("choose_group: no models to place on this node group")
        if s.instance_types is not None:
            choice = estimate_explicit(s.instance_types, SPOT if s.spot else ON_DEMAND, demands, self.prices,
                                       self.catalog, reserve=self.reserve)
            if s.spot and len(s.instance_types) < s.spot_types_wanted:
                note = (f"spot group lists {len(s.instance_types)} instance type(s), fewer than "
                        f"min_types={s.spot_types_wanted}: fewer spot pools means more interruptions")
                choice = replace(choice, notes=choice.notes + (note,))
            return choice
        ev = self.evaluator
        ev.check(demands)
        block = ev.block(demands)
        if block is None:
            names = ", ".join(d.name for d in demands)
            raise SizingError(f"no single instance type allowed for this node group ({s.describe()}) fits all of "
                              f"{names}; give them separate node groups (plan_groups does this)")
        return _choice_from(block, s, len(ev.types), self.prices, self.weights, demands)

    def plan(self, demands: Sequence[ModelDemand], exact_up_to: int = 8) -> list[GroupChoice]:
        """See :func:`plan_groups`."""
        if not demands:
            return []
        names = [d.name for d in demands]
        if len(set(names)) != len(names):
            raise SizingError(f"model names must be unique within a node group: {names}")
        if self.selection.instance_types is not None:
            return [self.choose(demands)]
        ev = self.evaluator
        ev.check(demands)
        n = len(demands)
        blocks = _partition(ev, demands) if n <= exact_up_to else _greedy(ev, demands)
        blocks.sort(key=min)
        choices = []
        for b in blocks:
            members = [demands[i] for i in b]
            block = ev.block(members)
            assert block is not None  # _partition and _greedy form only blocks some allowed type hosts
            choices.append(_choice_from(block, self.selection, len(ev.types), self.prices, self.weights, members))
        return choices


def _partition(ev: _Evaluator, demands: Sequence[ModelDemand]) -> list[tuple[int, ...]]:
    """The cheapest partition of ``demands`` into blocks: subset dynamic programming, 3^n steps."""
    n = len(demands)
    full = (1 << n) - 1
    cost: dict[int, float] = {}
    for mask in range(1, full + 1):
        b = ev.block_of(ev.key(demands[i] for i in range(n) if mask >> i & 1))
        cost[mask] = math.inf if b is None else b[0]
    best: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}
    for mask in range(1, full + 1):
        low = mask & -mask  # the block containing the lowest model: avoids counting partitions twice
        rest = mask ^ low
        sub = rest
        options = []
        while True:
            block_mask = sub | low
            c = cost[block_mask] + best[mask ^ block_mask][0]
            options.append((c, best[mask ^ block_mask][1] + (block_mask,)))
            if sub == 0:
                break
            sub = (sub - 1) & rest
        best[mask] = min(options, key=lambda o: (round(o[0], 9), len(o[1])))
    return [tuple(i for i in range(n) if m >> i & 1) for m in best[full][1]]


def _merge_keys(a: tuple[tuple[int, int], ...], b: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    counts = dict(a)
    for i, k in b:
        counts[i] = counts.get(i, 0) + k
    return tuple(sorted(counts.items()))


def _greedy(ev: _Evaluator, demands: Sequence[ModelDemand]) -> list[tuple[int, ...]]:
    """Start with one block per model; merge the pair of blocks that saves most (ties: the pair listed first, blocks
    in creation order), while a merge saves more than 1e-9 USD/h.

    Blocks of equal key (the same models up to names) cost the same and save the same with any partner, so the
    search runs over classes of equal blocks: a heap holds, per pair of classes, its first pair of blocks and what
    merging them saves. A merge changes the first blocks of three classes only, so a round costs a few heap pushes
    per class, not one block evaluation per pair of blocks: many equal models merge in time linear in their number.
    """
    alive: dict[int, tuple[list[int], tuple[Any, ...]]] = {}  # block sequence number -> (model indexes, key)
    classes: dict[tuple[Any, ...], deque[int]] = {}  # key -> its blocks' sequence numbers, oldest first
    cost: dict[tuple[Any, ...], float] = {}
    for i, d in enumerate(demands):
        key = ev.key([d])
        r = ev.block_of(key)
        if r is None:
            raise SizingError(f"model {d.name!r}: no instance type allowed for this node group "
                              f"({ev.selection.describe()}) hosts its max_replicas within max_nodes")
        cost[key] = r[0]
        alive[i] = ([i], key)
        classes.setdefault(key, deque()).append(i)
    gains: dict[tuple[Any, ...], float | None] = {}

    def gain(ka: tuple[Any, ...], kb: tuple[Any, ...]) -> float | None:
        pair = (ka, kb) if ka <= kb else (kb, ka)
        if pair not in gains:
            merged = _merge_keys(ka, kb)
            r = ev.block_of(merged)
            if r is not None:
                cost[merged] = r[0]
            gains[pair] = None if r is None else cost[ka] + cost[kb] - r[0]
        return gains[pair]

    heap: list[tuple[float, int, int]] = []

    def push(ka: tuple[Any, ...], kb: tuple[Any, ...]) -> None:
        qa, qb = classes.get(ka), classes.get(kb)
        if not qa or not qb:
            return
        if ka == kb:
            if len(qa) < 2:
                return
            first, second = qa[0], qa[1]
        else:
            first, second = min(qa[0], qb[0]), max(qa[0], qb[0])
        g = gain(ka, kb)
        if g is not None and g > 1e-9:
            heapq.heappush(heap, (-g, first, second))

    keys = list(classes)
    for x, ka in enumerate(keys):
        for kb in keys[x:]:
            push(ka, kb)
    seq = len(demands)
    while heap:
        _, a, b = heapq.heappop(heap)
        if a not in alive or b not in alive:
            continue  # one of them was merged since: the pair's classes were pushed again
        (ma, ka), (mb, kb) = alive.pop(a), alive.pop(b)
        for k, s in ((ka, a), (kb, b)):
            q = classes[k]
            assert q[0] == s  # merges take the oldest blocks of their classes
            q.popleft()
            if not q:
                del classes[k]
        key = _merge_keys(ka, kb)
        alive[seq] = (ma + mb, key)
        classes.setdefault(key, deque()).append(seq)
        seq += 1
        for k in {ka, kb, key}:
            if k in classes:
                for other in list(classes):
                    push(k, other)
    return [tuple(sorted(m)) for m, _ in alive.values()]


def choose_group(selection: GroupSelection, demands: Sequence[ModelDemand], region: str | PriceBook = "us-east-1",
                 catalog: Mapping[str, InstanceType] | None = None, *, reserve: NodeReserve | None = None,
                 weights: tuple[float, float] = (1.0, 1.0)) -> GroupChoice:
    """The cheapest single node group (one shape) hosting every model in ``demands``.

    With ``selection.instance_types`` set, nothing is chosen: see :func:`estimate_explicit`.
    Raises SizingError when a model fits no allowed type, or no type fits them all together.
    """
    return GroupOptimizer(selection, region, catalog, reserve=reserve, weights=weights).choose(demands)


def plan_groups(selection: GroupSelection, demands: Sequence[ModelDemand], region: str | PriceBook = "us-east-1",
                catalog: Mapping[str, InstanceType] | None = None, *, reserve: NodeReserve | None = None,
                weights: tuple[float, float] = (1.0, 1.0), exact_up_to: int = 8) -> list[GroupChoice]:
    """Split ``demands`` into node groups (each one shape) at minimum total objective.

    Exact over every partition of the models when there are at most ``exact_up_to`` of them (subset dynamic
    programming, 3^n steps), else greedy: start with one group per model, merge the pair that saves most,
    repeat while a merge saves money. Explicit ``selection.instance_types`` give one group.
    """
    return GroupOptimizer(selection, region, catalog, reserve=reserve, weights=weights).plan(demands, exact_up_to)


def estimate_explicit(instance_types: Sequence[str], capacity_type: str, demands: Sequence[ModelDemand],
                      region: str | PriceBook = "us-east-1", catalog: Mapping[str, InstanceType] | None = None, *,
                      reserve: NodeReserve | None = None, floor_types: Sequence[str] = ()) -> GroupChoice:
    """Cost of a node group whose instance types are given (by the user, or recorded): nothing is changed, only
    estimated.

    Nodes are packed on the first (primary) type; a spot group's unit price is the mean expected spot price
    over the listed types that have spot data. ``on_demand_base`` replicas of a spot group go to an on-demand
    floor pool of ``floor_types`` (default: the primary type). Raises SizingError when a type is unknown or a
    model does not fit the primary (or the floor's); a model that does not fit an alternate type is reported in
    ``notes``.
    """
    if capacity_type not in (SPOT, ON_DEMAND):
        raise SizingError(f"capacity_type must be {SPOT!r} or {ON_DEMAND!r}, got {capacity_type!r}")
    if not instance_types:
        raise SizingError("estimate_explicit: no instance types given")
    cat = catalog if catalog is not None else _default_catalog()
    prices = _resolve_prices(region)
    unknown = [n for n in instance_types if n not in cat]
    if unknown:
        raise SizingError(f"instance type(s) {', '.join(unknown)} not in the pricing data ({len(cat)} types; see data/SOURCES.md)")
    types = [cat[n] for n in instance_types]
    not_offered = [t.name for t in types if not prices.offers(t)]
    if not_offered:
        raise SizingError(f"instance type(s) {', '.join(not_offered)} not offered in {prices.region} "
                          f"(or not priced there), by {prices.data.origin if prices.data else 'the price data'}")
    primary = types[0]
    notes = list(prices.notes)
    od_unit = prices.on_demand(primary)
    if od_unit is None:
        raise SizingError(f"{primary.name} has no on-demand price in the pricing data, so its cost cannot be shown")
    cap = node_capacity(primary, reserve)
    if cap is None:
        raise SizingError(f"{primary.name} has no allocatable CPU/memory in the pricing data, so replicas cannot be sized on it")
    for d in demands:
        why = fit_report(d.requests, primary, reserve, d.sidecars)
        if why:
            raise SizingError(f"model {d.name!r} ({_describe_pod(d.pod)} per replica) does not fit on configured "
                              f"instance type {primary.name}: {'; '.join(why)}")
        for alt in types[1:]:
            alt_why = fit_report(d.requests, alt, reserve, d.sidecars)
            if alt_why:
                notes.append(f"model {d.name!r} does not fit on alternate type {alt.name}: {'; '.join(alt_why)}")
    for alt in types[1:]:
        if shape_key(alt, mix_gpu_models=True) != shape_key(primary, mix_gpu_models=True):
            notes.append(f"{alt.name} is not the same shape as {primary.name}; cluster-autoscaler sizes the group as {primary.name}")
    pods = [d.pod for d in demands]
    floor = None
    if capacity_type == SPOT:
        unit = prices.mean_spot(types)
        if unit is None:
            unit = od_unit
            notes.append("no spot data for the configured types; estimated at the on-demand price")
        base_min = [d.base(d.min_replicas) for d in demands]
        base_max = [d.base(d.max_replicas) for d in demands]
        counts_min = [d.running(d.min_replicas) - b for d, b in zip(demands, base_min)]
        counts_max = [d.max_replicas - b for d, b in zip(demands, base_max)]
        if any(base_max):
            f_names = tuple(floor_types) or (primary.name,)
            f_primary = cat.get(f_names[0])
            f_cap = node_capacity(f_primary, reserve) if f_primary else None
            f_unit = prices.on_demand(f_primary) if f_primary and f_primary.on_demand_usd_per_hour is not None else None
            if f_primary is None or f_cap is None or f_unit is None:
                raise SizingError(f"on-demand floor type {f_names[0]} is not priced and sized in the pricing data")
            for d, b in zip(demands, base_max):
                why = fit_report(d.requests, f_primary, reserve, d.sidecars) if b else []
                if why:
                    raise SizingError(f"model {d.name!r} ({_describe_pod(d.pod)} per replica) does not fit on the "
                                      f"on-demand floor type {f_primary.name}: {'; '.join(why)}")
            f_min, fx_min = pack_nodes(list(zip(pods, base_min)), f_cap)
            f_max, fx_max = pack_nodes(list(zip(pods, base_max)), f_cap)
            floor = Pool(ON_DEMAND, f_names, f_primary, f_min, f_max, f_unit, f_unit,
                         tuple(d.name for d, b in zip(demands, base_max) if b), fx_min and fx_max)
        interruption = tuple(prices.interruption(t) for t in types)
    else:
        unit = od_unit
        counts_min = [d.min_replicas for d in demands]
        counts_max = [d.max_replicas for d in demands]
        interruption = ()
    n_min, ex_min = pack_nodes(list(zip(pods, counts_min)), cap)
    n_max, ex_max = pack_nodes(list(zip(pods, counts_max)), cap)
    main = Pool(capacity_type, tuple(instance_types), primary, n_min, n_max, od_unit, unit,
                tuple(d.name for d in demands), ex_min and ex_max, interruption)
    usd_min = main.usd_per_hour_min + (floor.usd_per_hour_min if floor else 0.0)
    usd_max = main.usd_per_hour_max + (floor.usd_per_hour_max if floor else 0.0)
    reason = f"instance types configured explicitly ({', '.join(instance_types)}); cost estimated on {primary.name}"
    if floor is not None:
        reason += f"; on-demand floor of {floor.nodes_min}-{floor.nodes_max} {floor.primary.name} for on_demand_base replicas"
    return GroupChoice(
        instance_types=tuple(instance_types), primary=primary, capacity_type=capacity_type, nodes_min=n_min,
        nodes_max=n_max, usd_per_hour_min=usd_min, usd_per_hour_max=usd_max, reason=reason,
        models=tuple(d.name for d in demands), main=main, on_demand_floor=floor, explicit=True, notes=tuple(notes),
    )
