"""The planner designs the node groups of a stack that declares none: from the models alone to groups to create.

A stack may leave out `node_groups` and give an optional platform-level `capacity` section instead. Then:

* **Which models share.** Models are split into groups at the lowest cost by
  :func:`modelstack.capacity.optimizer.plan_groups` (exact set-partition search over each set of models that
  can share an instance type, up to 8 models; greedy merging beyond). Models naming the same `node_group`
  share that group whatever the cost; `capacity.max_groups` caps the number of model groups (the cheapest
  merges are made until it holds).
* **Instance types.** Each group holds one shape; a spot group lists up to `capacity.max_types` equal-shape
  types (at least 3 where the allowed types have them, each a spot capacity pool), GPU models mixed only
  where every model of the group accepts them (a model's `compute.gpu_models` and `min_gpu_memory_gib`).
* **Objective.** 2 × cost at min replicas + cost at max replicas (USD per hour): an API spends more hours near
  its min than at its max (a ceiling above the expected peak); a model that scales to zero counts at max only
  (its min is 0). `capacity.weight_at_min` (default 2) sets the weight: 1 counts both ends equally.
* **Our own policies.** Accelerated families are those the environment's `gpu-instance-families` policy
  allows (:data:`ACCELERATED_FAMILIES`), and no group needs more nodes at max replicas than the environment's
  `max-nodes-per-group` cap (:data:`MAX_NODES_PER_GROUP`, 10 in dev): a shape that would is not chosen.
  Both tables are the policies' defaults, defined here once.
* **Sizes.** Model groups: min_size 0 (the autoscaler adds nodes for pending replicas; GPU groups scale to
  zero), max_size the nodes needed at max replicas plus 25% (at least one node) for packing the scheduler
  does worse than the estimate, within the cap. Priority 50 (a spot group's on-demand fallback gets 49).
* **System group.** On-demand, `capacity.system_instance_types` or the cheapest allowed non-burstable type
  with at least 2 vCPU and 8 GiB; 1-3 nodes in dev, else one per availability zone up to twice that.
* **Spot.** `capacity.spot` (default true); `capacity.on_demand_fallback` (default: prod) adds the on-demand
  fallback group and each model's on-demand floor (`on_demand_base`, default 1 in prod), as declared groups do.
  A designed floor may hold a model's `min_replicas` instead (at most `max_replicas - 1`) when that costs less at
  min and max weighed: the replicas at min then all run on on-demand nodes, which the plan says in the group's
  reason (e.g. a replica too large for the floor's room would need a spot node of its own).

Pure module: no Pulumi.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Mapping, Optional

from modelstack.capacity import optimizer, pricing
from modelstack.capacity.optimizer import SPOT, GroupChoice, GroupSelection, ModelDemand, SizingError
from modelstack.capacity.pricing import InstanceType
from modelstack.capacity.sizing import replicas_per_node
from modelstack.config import schema as cfg
from modelstack.config.checks import pod_requests
from modelstack.config.schema import CapacityConfig, ConfigIssue, NodeGroupConfig, Platform
from modelstack.render import tiers

__all__ = ["ACCELERATED_FAMILIES", "MAX_NODES_PER_GROUP", "DesignedGroup", "Design", "Settings", "settings_of",
           "allowed_catalog", "design", "base_of", "capacity_issues"]

MAX_NODES_PER_GROUP: dict[str, int] = {"dev": 10, "staging": 20, "prod": 100, "default": 20}
"""Largest node group maxSize per environment (its tier's, render.tiers; `default` for the others): the
`max-nodes-per-group` policy."""

ACCELERATED_FAMILIES: dict[str, list[str]] = {
    "dev": ["g4dn", "g5", "g6", "g6e", "inf2"],
    "staging": ["g4dn", "g5", "g6", "g6e", "inf2"],
    "prod": ["g4dn", "g5", "g6", "g6e", "inf2", "p4d", "p5"],
}
"""Accelerated instance families per environment (its tier's, render.tiers): the `gpu-instance-families` policy."""

SYSTEM_MIN_VCPU = 2
SYSTEM_MIN_MEMORY_GIB = 8.0
ROOT_VOLUME_GIB = {"system": 50, "cpu": 100, "gpu": 200, "inferentia": 200}
"""Root volume per designed group kind: model images with weights (GPU, Inferentia) need more room."""
PRIORITY = 50
HEADROOM = 0.25


@dataclass(frozen=True)
class Settings:
    """The `capacity` section with the environment's defaults resolved."""

    spot: bool
    on_demand_fallback: bool
    max_nodes: int
    arch: str
    max_types: int
    max_groups: Optional[int]
    families: tuple[str, ...]
    exclude_families: tuple[str, ...]
    gpu_models: tuple[str, ...]
    exclude_gpu_models: tuple[str, ...]
    system_instance_types: tuple[str, ...]
    karpenter: bool = False
    """Karpenter buys the nodes: each end of the replica range is priced on its own mix of the allowed types."""
    spot_spread_cost_pct: float = 3.0
    """`capacity.spot_spread_cost_pct`: what more spot pools may add to a spot group's expected price."""
    zones: Optional[int] = None
    """Strict zone spread over this many zones (prod): each zone's share of a model packed on its own nodes."""
    az_count: int = 1
    weights: tuple[float, float] = (CapacityConfig.model_fields["weight_at_min"].default, 1.0)
    """(`capacity.weight_at_min`, 1): the objective's weights on the cost at min and at max replicas (default: the
    config's default)."""


def settings_of(platform: Platform, capacity: Optional[CapacityConfig] = None) -> Settings:
    """`capacity` (default: the platform's own section, or all defaults) resolved for the environment."""
    c = capacity or platform.config.capacity or CapacityConfig()
    env = platform.config.environment
    spot = True if c.spot is None else c.spot
    fallback = (platform.is_prod and spot) if c.on_demand_fallback is None else c.on_demand_fallback
    return Settings(
        spot=spot, on_demand_fallback=fallback,
        max_nodes=c.max_nodes_per_group or tiers.lookup(MAX_NODES_PER_GROUP, env)[1] or MAX_NODES_PER_GROUP["default"],
        arch=c.arch, max_types=c.max_types, max_groups=c.max_groups, families=tuple(c.families),
        exclude_families=tuple(c.exclude_families), gpu_models=tuple(m.lower() for m in c.gpu_models),
        exclude_gpu_models=tuple(m.lower() for m in c.exclude_gpu_models),
        system_instance_types=tuple(c.system_instance_types),
        karpenter=platform.config.cluster.provisioner == "karpenter", spot_spread_cost_pct=c.spot_spread_cost_pct,
        zones=platform.config.cluster.vpc.az_count if platform.is_prod else None,
        az_count=platform.config.cluster.vpc.az_count, weights=(c.weight_at_min, 1.0),
    )


def allowed_catalog(settings: Settings, environment: str,
                    catalog: Optional[Mapping[str, InstanceType]] = None) -> dict[str, InstanceType]:
    """The instance types the planner may use in `environment` under `settings`."""
    cat = catalog if catalog is not None else pricing.catalog()
    accelerated = tiers.lookup(ACCELERATED_FAMILIES, environment)[1]
    out = {}
    for name, t in cat.items():
        if t.arch != settings.arch or t.family in optimizer.BURSTABLE_FAMILIES:
            continue
        if settings.families and t.family not in settings.families:
            continue
        if t.family in settings.exclude_families:
            continue
        if (t.is_gpu or t.is_inferentia) and accelerated is not None and t.family not in accelerated:
            continue
        if t.is_gpu:
            model = (t.gpu_model or "").lower()
            if (settings.gpu_models and model not in settings.gpu_models) or model in settings.exclude_gpu_models:
                continue
        out[name] = t
    return out


def capacity_issues(platform: Platform, catalog: Optional[Mapping[str, InstanceType]] = None) -> list[ConfigIssue]:
    """Problems with the `capacity` section: unknown names, a section next to declared node groups."""
    c = platform.config.capacity
    if c is None:
        return []
    cat = catalog if catalog is not None else pricing.catalog()
    issues: list[ConfigIssue] = []

    def add(path: str, given: str, allowed: str) -> None:
        issues.append(ConfigIssue(path=f"{cfg.CONFIG_KEY}.capacity{path}", given=given, allowed=allowed))

    if platform.config.node_groups:
        add("", "a capacity section next to node_groups",
            "capacity only in a stack without node_groups (the planner designs the groups); or leave it out")
    families = sorted({t.family for t in cat.values()})
    gpus = sorted({(t.gpu_model or "").lower() for t in cat.values() if t.is_gpu})
    for key in ("families", "exclude_families"):
        for f in getattr(c, key):
            if f not in families:
                add(f".{key}", repr(f), "instance families in the price table, e.g. m7i, c7a, g6, g5")
    for key in ("gpu_models", "exclude_gpu_models"):
        for m in getattr(c, key):
            if m.lower() not in gpus:
                add(f".{key}", repr(m), "GPU models in the price table: " + ", ".join(gpus))
    for t in c.system_instance_types:
        if t not in cat:
            add(".system_instance_types", repr(t), "instance types in the price table (data/ec2_instances.csv)")
        elif cat[t].is_gpu or cat[t].is_inferentia:
            add(".system_instance_types", repr(t), "instance types without accelerators")
    if c.on_demand_fallback and c.spot is False:
        add(".on_demand_fallback", "true with spot: false", "on_demand_fallback only with spot capacity")
    return issues


def base_of(model: cfg.ModelConfig, spot_with_fallback: bool, is_prod: bool) -> int:
    """Replicas kept on on-demand capacity. Default: 1 in prod on a spot pool with a fallback group, else 0 (and 0
    for a model that scales from zero, as async and batch workers do unless min_replicas is given)."""
    if not spot_with_fallback:
        return 0
    a = model.autoscaling
    if a.on_demand_base is not None:
        return a.on_demand_base
    return 1 if is_prod and not model.scales_from_zero else 0


@dataclass(frozen=True)
class DesignedGroup:
    """One designed model or system group: its config as if declared, and the optimizer's choice for it."""

    name: str
    config: NodeGroupConfig
    models: tuple[str, ...]
    choice: Optional[GroupChoice]
    reason: str


@dataclass(frozen=True)
class Design:
    groups: tuple[DesignedGroup, ...]
    assignment: dict[str, str]
    """Model name -> designed group name."""
    settings: Settings

    @property
    def usd_per_hour(self) -> tuple[float, float]:
        """Instances of the model groups (floors included) at min and at max replicas."""
        chosen = [g.choice for g in self.groups if g.choice is not None]
        return sum(c.usd_per_hour_min for c in chosen), sum(c.usd_per_hour_max for c in chosen)


def _selection(s: Settings, spot: bool) -> GroupSelection:
    # Every allowed type is in the catalog handed to the optimizer; models narrow it by their own requests.
    return GroupSelection(families=None, arch=s.arch, spot=spot, max_types=s.max_types, mix_gpu_models=True,
                          max_nodes=s.max_nodes, relax_spot_premium=False, mixed=s.karpenter,
                          max_spot_spread_pct=s.spot_spread_cost_pct, zones=s.zones,
                          raise_floors=spot and s.on_demand_fallback)


def _components(demands: list[ModelDemand], fits: list[set[str]]) -> list[list[int]]:
    """Models that can share no instance type never share a group: independent sub-problems."""
    out: list[list[int]] = []
    seen: list[set[str]] = []
    for i in range(len(demands)):
        joined = [k for k, types in enumerate(seen) if types & fits[i]]
        members, types = [i], set(fits[i])
        for k in sorted(joined, reverse=True):
            members += out.pop(k)
            types |= seen.pop(k)
        out.append(sorted(members))
        seen.append(types)
    return out


class _Optimizers:
    """One :class:`~modelstack.capacity.optimizer.GroupOptimizer` per selection, shared by every question a design
    asks (the partition, each group, each model alone, the on-demand redo), so equal models are evaluated once."""

    def __init__(self, prices: pricing.PriceBook, cat: Mapping[str, InstanceType],
                 weights: tuple[float, float] = (1.0, 1.0)) -> None:
        self.prices, self.cat, self.weights = prices, cat, weights
        self._by: dict[GroupSelection, optimizer.GroupOptimizer] = {}

    def __call__(self, selection: GroupSelection) -> optimizer.GroupOptimizer:
        if selection not in self._by:
            self._by[selection] = optimizer.GroupOptimizer(selection, self.prices, self.cat, weights=self.weights)
        return self._by[selection]


def _choose(opt: _Optimizers, selection: GroupSelection, demands: list[ModelDemand]) -> GroupChoice:
    """One group for `demands`; a spot block that ends on on-demand is redone as one on-demand pool."""
    choice = opt(selection).choose(demands)
    if selection.spot and choice.main.capacity_type != SPOT:
        choice = opt(replace(selection, spot=False)).choose([replace(d, on_demand_base=0) for d in demands])
    return choice


def _merge_to(blocks: list[list[ModelDemand]], limit: int, selection: GroupSelection,
              opt: _Optimizers) -> list[list[ModelDemand]]:
    """Merge the pair of blocks that costs least to merge until at most `limit` remain."""
    def objective(ds: list[ModelDemand]) -> Optional[float]:
        try:
            c = _choose(opt, selection, ds)
        except SizingError:
            return None
        return opt.weights[0] * c.usd_per_hour_min + opt.weights[1] * c.usd_per_hour_max

    current = [objective(b) for b in blocks]
    while len(blocks) > limit:
        best = None
        for i in range(len(blocks)):
            for j in range(i + 1, len(blocks)):
                merged = objective(blocks[i] + blocks[j])
                ci, cj = current[i], current[j]
                if merged is None or ci is None or cj is None:
                    continue  # a block the optimizer cannot choose has no cost to weigh a merge with
                if best is None or merged - ci - cj < best[0]:
                    best = (merged - ci - cj, i, j, merged)
        if best is None:
            raise SizingError(f"the models need at least {len(blocks)} node groups (no two of the remaining groups "
                              f"share an instance type)")
        _, i, j, merged = best
        blocks = [b for k, b in enumerate(blocks) if k not in (i, j)] + [blocks[i] + blocks[j]]
        current = [c for k, c in enumerate(current) if k not in (i, j)] + [merged]
    return blocks


class _Names:
    """Group names `<kind>-<family>`, then `-2`, `-3`, ... past the names taken. Names are only ever added, so each
    base resumes where it stopped: naming n groups of one family costs n steps, not n²."""

    def __init__(self, taken: set[str]):
        self.taken = set(taken)
        self._next: dict[str, int] = {}

    def add(self, name: str) -> None:
        self.taken.add(name)

    def new(self, kind: str, choice: GroupChoice) -> str:
        base = f"{kind}-{choice.primary.family}"
        n = self._next.get(base, 1)
        name = base if n == 1 else f"{base}-{n}"
        while name in self.taken:
            n += 1
            name = f"{base}-{n}"
        self._next[base] = n
        return name


def spread_price(choice: GroupChoice, prices: pricing.PriceBook, cat: Mapping[str, InstanceType]) -> tuple[float, float]:
    """What listing several spot pools costs a group over each node's cheapest pool alone, $/h at min and at max: the
    price of fewer interruptions (the estimate is the mean over the pools; price-capacity-optimized allocation
    may buy cheaper)."""
    pool = choice.main
    if pool.capacity_type != SPOT:
        return 0.0, 0.0
    out = []
    for at_max in (False, True):
        out.append(sum(p.nodes * (p.unit_usd_per_hour - min(prices.priced_spot(cat[t]) for t in p.instance_types))
                       for p in pool.parts(at_max) if len(p.instance_types) > 1))
    return out[0], out[1]


def spread_trade(choice: GroupChoice, demands: list[ModelDemand], s: Settings,
                 cat: Mapping[str, InstanceType]) -> list[str]:
    """Where packing trades zone spread for cost: models whose replicas at max may share one node beyond their zone's
    share (ceil(max_replicas / zones)) because zone spread is soft in this environment (ScheduleAnyway)."""
    if s.zones or s.az_count < 2:
        return []  # strict spread (prod) is packed zone by zone; one zone has nothing to trade
    out = []
    types = {t for pool in choice.pools for at_max in (False, True) for p in pool.parts(at_max) for t in p.instance_types}
    for d in demands:
        share = -(-d.max_replicas // s.az_count)
        per = max((min(d.max_replicas, replicas_per_node(d.pod, cat[t])) for t in types if t in cat), default=0)
        if per > share:
            out.append(f"{d.name}: up to {per} of {d.max_replicas} replicas on one node, over its zone share of {share}")
    return out


def _reason(models: tuple[str, ...], choice: GroupChoice, alone_max: float, n_allowed: int,
            spread: tuple[float, float] = (0.0, 0.0), spread_pct: float = 0.0,
            weights: tuple[float, float] = (1.0, 1.0)) -> str:
    main = choice.main
    if main.capacity_type == SPOT:
        n = len(main.instance_types)
        what = f"spot on {', '.join(main.instance_types)} (one shape, {n} spot pool{'s' if n > 1 else ''})"
    else:
        what = f"on-demand {main.primary.name}"
    line = (f"{', '.join(models)}: {what}, the cheapest of {n_allowed} allowed types that fits "
            f"{'them all' if len(models) > 1 else 'it'} at {weights[0]:g}×cost at min + {weights[1]:g}×cost at max replicas "
            f"(${choice.usd_per_hour_min:.2f}/h at min, ${choice.usd_per_hour_max:.2f}/h at max")
    if choice.on_demand_floor is not None:
        line += f", on-demand floor on {choice.on_demand_floor.primary.name} included"
    line += ")"
    if spread[1] > 0.0005 or spread[0] > 0.0005:
        line += (f"; its spot pools cost ${spread[0]:.2f}/h at min, ${spread[1]:.2f}/h at max over the cheapest pool "
                 f"alone (fewer interruptions; capacity.spot_spread_cost_pct {spread_pct:g})")
    if len(models) > 1 and alone_max > choice.usd_per_hour_max + 1e-9:
        line += f"; sharing saves ${alone_max - choice.usd_per_hour_max:.2f}/h at max against one group per model"
    return line


def design(platform: Platform, prices: Optional[pricing.PriceBook] = None,
           catalog: Optional[Mapping[str, InstanceType]] = None, settings: Optional[Settings] = None) -> Design:
    """The node groups for `platform`'s models (declared `node_groups` are ignored). Raises ConfigError."""
    c = platform.config
    s = settings or settings_of(platform)
    prices = prices or pricing.price_book(platform.region, fallback_to_us_east_1=True)
    # Only the types the region offers and prices (its price file's; every type without one).
    cat = prices.usable(allowed_catalog(s, c.environment, catalog))
    issues: list[ConfigIssue] = []
    selection = _selection(s, s.spot)
    demands = {m: ModelDemand(m, pod_requests(mc), mc.running_min_replicas, mc.autoscaling.max_replicas,
                              base_of(mc, s.spot and s.on_demand_fallback, platform.is_prod))
               for m, mc in c.models.items()}
    blocks: list[list[ModelDemand]] = []
    named: dict[str, list[ModelDemand]] = {}
    free: list[ModelDemand] = []
    for m, mc in c.models.items():
        if mc.node_group == "system":
            issues.append(ConfigIssue(path=f"{cfg.CONFIG_KEY}.models.{m}.node_group", given="'system'",
                                      allowed="another name: the designed system group runs only platform add-ons"))
            continue
        (named.setdefault(mc.node_group, []) if mc.node_group else free).append(demands[m])
    fits = []
    opt = _Optimizers(prices, cat, s.weights)
    for d in list(free) + [d for ds in named.values() for d in ds]:
        ok = set(opt(selection).fits(d))
        if not ok:
            try:
                opt(selection).choose([d])
                why = "a type that fits one replica"
            except SizingError as e:
                why = str(e)
            issues.append(ConfigIssue(path=f"{cfg.CONFIG_KEY}.models.{d.name}.compute",
                                      given="a replica that fits no instance type the planner may use",
                                      allowed=f"{why} (environment {c.environment!r}; widen capacity.families or "
                                              "capacity.gpu_models, or ask for less)"))
        fits.append(ok)
    fits = fits[:len(free)]
    if issues:
        raise cfg.ConfigError(platform.stack, issues, platform.source)
    for comp in _components(free, fits):
        try:
            for choice in opt(selection).plan([free[i] for i in comp]):
                blocks.append([demands[m] for m in choice.models])
        except SizingError as e:
            issues.append(ConfigIssue(path=f"{cfg.CONFIG_KEY}.models", given=", ".join(free[i].name for i in comp),
                                      allowed=str(e)))
    fixed = list(named.items())
    if s.max_groups is not None and len(blocks) + len(fixed) > s.max_groups:
        try:
            blocks = _merge_to(blocks, max(1, s.max_groups - len(fixed)), selection, opt)
        except SizingError as e:
            issues.append(ConfigIssue(path=f"{cfg.CONFIG_KEY}.capacity.max_groups", given=repr(s.max_groups), allowed=str(e)))
        if len(blocks) + len(fixed) > s.max_groups:
            issues.append(ConfigIssue(path=f"{cfg.CONFIG_KEY}.capacity.max_groups", given=repr(s.max_groups),
                                      allowed=f"at least {len(blocks) + len(fixed)}: models naming {len(fixed)} node "
                                              "group(s) keep them, and the rest need one group at least"))
    groups: list[DesignedGroup] = []
    names = _Names({name for name, _ in fixed} | {"system"})
    n_allowed = len(optimizer.allowed_types(selection, cat))
    entries = [(None, b) for b in blocks] + [(name, b) for name, b in fixed]
    for name, ds in entries:
        try:
            choice = _choose(opt, selection, ds)
        except SizingError as e:
            where = f"models of node_group {name!r}" if name else "models"
            issues.append(ConfigIssue(path=f"{cfg.CONFIG_KEY}.models", given=f"{where}: {', '.join(d.name for d in ds)}",
                                      allowed=str(e)))
            continue
        alone = 0.0
        if len(ds) > 1:
            alone = sum(_choose(opt, selection, [d]).usd_per_hour_max for d in ds)
        primary = choice.primary
        kind = "gpu" if primary.is_gpu else "inferentia" if primary.is_inferentia else "cpu"
        gname = name or names.new(kind, choice)
        names.add(gname)
        spot = choice.main.capacity_type == SPOT
        need = max(p.nodes_max for p in choice.pools)
        max_size = min(s.max_nodes, need + max(1, math.ceil(need * HEADROOM)))
        config = NodeGroupConfig(kind=kind, instance_types=list(choice.instance_types), spot=spot,
                                 on_demand_fallback=spot and s.on_demand_fallback, min_size=0, max_size=max_size,
                                 priority=PRIORITY, root_volume=cfg.RootVolume(size_gib=ROOT_VOLUME_GIB[kind]))
        models = tuple(d.name for d in ds)
        reason = _reason(models, choice, alone, n_allowed, spread_price(choice, prices, cat), s.spot_spread_cost_pct,
                         s.weights)
        if raised := optimizer.raised_floors_text(choice.on_demand_floor, ds):
            reason += "; " + raised
        trade = spread_trade(choice, ds, s, cat)
        if trade:
            reason += (f"; packing trades zone spread for cost (soft in {c.environment}: a zone's loss takes more): "
                       + "; ".join(trade))
        groups.append(DesignedGroup(gname, config, models, choice, reason))
    if issues:
        raise cfg.ConfigError(platform.stack, issues, platform.source)
    groups.sort(key=lambda g: g.name)
    groups.insert(0, _system_group(platform, s, cat, prices))
    assignment = {m: g.name for g in groups for m in g.models}
    return Design(groups=tuple(groups), assignment=assignment, settings=s)


def _system_group(platform: Platform, s: Settings, cat: Mapping[str, InstanceType],
                  prices: pricing.PriceBook) -> DesignedGroup:
    if s.system_instance_types:
        types, why = list(s.system_instance_types), "the configured system instance types"
    else:
        fits = [t for t in cat.values() if not (t.is_gpu or t.is_inferentia) and t.vcpu >= SYSTEM_MIN_VCPU
                and t.memory_gib >= SYSTEM_MIN_MEMORY_GIB and prices.on_demand(t) is not None
                and t.alloc_cpu_millicores is not None]
        if not fits:
            raise cfg.ConfigError(platform.stack, [ConfigIssue(
                path=f"{cfg.CONFIG_KEY}.capacity", given="no allowed type for the system group",
                allowed=f"families or arch that allow a type with >= {SYSTEM_MIN_VCPU} vCPU and "
                        f"{SYSTEM_MIN_MEMORY_GIB:g} GiB, or capacity.system_instance_types")], platform.source)
        best = min(fits, key=lambda t: (prices.on_demand(t), t.name))
        types, why = [best.name], (f"the cheapest allowed type with >= {SYSTEM_MIN_VCPU} vCPU and "
                                   f"{SYSTEM_MIN_MEMORY_GIB:g} GiB")
    low = 1 if platform.tier == "dev" else platform.config.cluster.vpc.az_count
    high = max(3, 2 * low)
    config = NodeGroupConfig(kind="system", instance_types=types, min_size=low, max_size=high, priority=PRIORITY,
                             root_volume=cfg.RootVolume(size_gib=ROOT_VOLUME_GIB["system"]))
    reason = (f"platform add-ons on on-demand {types[0]}, {why}; {low}-{high} nodes "
              f"({'one per availability zone' if low > 1 else 'one in dev'})")
    return DesignedGroup("system", config, (), None, reason)
