"""From a validated platform to the node groups to create and what they cost: the optimizer, applied.

A stack without `node_groups` gets groups designed by :mod:`modelstack.planner.design` (which models share,
types, sizes, system group); they are planned here like declared ones. For a declared layout, the plan notes
when the design would cost more than ADVICE_THRESHOLD less at max replicas, with both figures.

For each configured node group this decides the instance types (the user's, or the optimizer's cheapest
within `selection`), the capacity type, an on-demand fallback group for a spot pool when asked, and the node
counts at the models' min and max replicas. Problems the optimizer finds (nothing fits, `max_size` too small
for `max_replicas`) come back as config issues, so they are reported with every other config error.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from modelstack.config import schema as cfg
from modelstack.capacity import cost, optimizer, pricing
from modelstack.render import addon_values, node_templates, subnets
from modelstack.config.schema import ConfigIssue, NodeGroupConfig, Platform
from modelstack.capacity.optimizer import ON_DEMAND, SPOT, GroupChoice, GroupSelection, ModelDemand, SizingError
from modelstack.capacity.sizing import fit_report
from modelstack.config.checks import compute_accelerator, pod_requests, selection_of
from modelstack.config.load import validate_platform
from modelstack.planner import design as design_mod
from modelstack.planner.recorded import Recorded, RecordedGroup
from modelstack.planner.system import SystemSizing, system_sizing
from modelstack.planner import prices as prices_mod
from modelstack.planner import llm as llm_mod

FALLBACK_SUFFIX = "-on-demand"


@dataclass(frozen=True)
class NodeGroupPlan:
    """One managed node group to create. `pool` is the config group it serves (shared by its fallback)."""

    name: str
    pool: str
    kind: str
    capacity_type: str
    instance_types: tuple[str, ...]
    min_size: int
    max_size: int
    priority: int
    nodes_min: int
    nodes_max: int
    explicit: bool
    reason: str
    models: tuple[str, ...]
    config: NodeGroupConfig
    notes: tuple[str, ...] = ()
    """What the optimizer wants the user to know (e.g. fewer spot pools than wanted)."""
    designed: bool = False
    """The planner designed this group (the stack declares no node_groups); `reason` says why in one line."""
    choice: Optional[GroupChoice] = None
    """The optimizer's choice behind a main group with models (its on-demand floor included): for a designed group,
    the one record of where the floor goes, since its config lists only the main pool's types."""

    @property
    def primary(self) -> pricing.InstanceType:
        return pricing.catalog()[self.instance_types[0]]

    @property
    def gpu(self) -> int:
        return self.primary.gpu_count


@dataclass(frozen=True)
class Placement:
    """Where one model's replicas run: its pool, whether spot, and its on-demand floor."""

    pool: str
    node_group: str
    accelerator: str
    spot: bool
    on_demand_base: int


@dataclass(frozen=True)
class CapacityPlan:
    groups: tuple[NodeGroupPlan, ...]
    placements: dict[str, Placement]
    cost_inputs: cost.CostInputs
    notes: tuple[str, ...] = ()
    """Cluster-wide notes for whoever reviews the plan (e.g. the Kubernetes version leaving standard support)."""
    designed: bool = False
    """The node groups were designed by the planner (no `node_groups` in the stack)."""
    record: dict[str, RecordedGroup] = field(default_factory=dict)
    """The choices this plan made or followed, per group whose types the config does not pin: what
    `modelstack capacity record` writes."""
    followed: tuple[str, ...] = ()
    """Groups whose recorded types this plan kept."""
    rechosen: dict[str, str] = field(default_factory=dict)
    """Groups whose recorded types no longer serve, with why: the plan chose again (a replacement)."""
    unrecorded: tuple[str, ...] = ()
    """Groups the record does not hold (new, or no record at all): chosen afresh on every plan until recorded."""
    savings: dict[str, tuple[tuple[str, ...], float]] = field(default_factory=dict)
    """Followed groups a fresh choice would make cheaper: its types and the saving in $/h at max replicas."""
    system: Optional[SystemSizing] = None
    """What the system group's add-ons need (planner/system.py): its size comes from it."""
    llms: dict[str, Any] = field(default_factory=dict)
    """Per LLM model, its sizing (planner/llm.py LlmPlan): GPUs, degree, memory budget, cold start."""


#: Warn this many days before a Kubernetes version leaves EKS standard support.
SUPPORT_WARNING_DAYS = 60


def support_note(version: str, today: date) -> Optional[str]:
    """A note when `version` is in EKS extended support, or enters it within SUPPORT_WARNING_DAYS."""
    end = cfg.EKS_STANDARD_SUPPORT_END[version]
    newer = [v for v, e in cfg.EKS_STANDARD_SUPPORT_END.items() if e > end]
    upgrade = f"; upgrade to {newer[0]} (cluster.kubernetes_version, one minor at a time)" if newer else ""
    if today > end:
        return (f"Kubernetes {version} left EKS standard support on {end.isoformat()}: the control plane is billed "
                f"at the extended-support rate{upgrade}")
    days = (end - today).days
    if days <= SUPPORT_WARNING_DAYS:
        return (f"Kubernetes {version} leaves EKS standard support on {end.isoformat()} ({days} days): the control "
                f"plane's price rises to the extended-support rate then{upgrade}")
    return None


def declared_group(platform: Platform, model: cfg.ModelConfig) -> NodeGroupConfig:
    """The model's declared node group (with declared node_groups every model names one: config checks)."""
    if model.node_group is None:
        raise ValueError("the model names no node_group")
    return platform.config.node_groups[model.node_group]


def on_demand_base(platform: Platform, model: cfg.ModelConfig, group: Optional[NodeGroupConfig] = None) -> int:
    """Replicas kept on on-demand capacity. Default: 1 in prod on a spot pool with a fallback group, else 0.
    `group` defaults to the model's declared node group."""
    group = group or declared_group(platform, model)
    return design_mod.base_of(model, group.spot and group.on_demand_fallback, platform.is_prod)


def demand_of(name: str, model: cfg.ModelConfig, base: int) -> ModelDemand:
    return ModelDemand(name=name, requests=pod_requests(model), min_replicas=model.running_min_replicas,
                       max_replicas=model.autoscaling.max_replicas, on_demand_base=base)


def _idle_choice(selection: GroupSelection, catalog: Mapping[str, pricing.InstanceType], prices: pricing.PriceBook) -> tuple[tuple[str, ...], str]:
    """Types for a group no model uses yet: the cheapest allowed shape (spot: its equal-shape peers too), among the
    types the region offers."""
    if selection.instance_types:
        return selection.instance_types, "configured instance types"
    allowed = list(prices.usable({t.name: t for t in optimizer.allowed_types(selection, catalog)}).values())
    if not allowed:
        raise SizingError(f"no instance type in the price table matches {selection.describe()}"
                          + (f" and is offered in {prices.region}" if prices.data else ""))
    allowed.sort(key=lambda t: (prices.priced_on_demand(t), t.name))  # usable(): every one priced
    primary = allowed[0]
    if not selection.spot:
        return (primary.name,), "no models yet: cheapest allowed type"
    key = optimizer.shape_key(primary)
    peers = [t.name for t in allowed if optimizer.shape_key(t) == key][: selection.max_types]
    return tuple(peers), "no models yet: cheapest allowed shape"


#: Advise the automatic design for a declared layout when it costs this much less at max replicas.
ADVICE_THRESHOLD = 0.10


@dataclass(frozen=True)
class _Entry:
    """One node group to plan: declared (choice None: chosen here) or designed (choice made by the planner)."""

    name: str
    config: NodeGroupConfig
    models: tuple[str, ...]
    choice: Optional[GroupChoice] = None
    reason: Optional[str] = None
    designed: bool = False

    @property
    def recordable(self) -> bool:
        """The planner chooses its types and records them: neither pinned by the config nor designed."""
        return not (self.config.instance_types or self.designed)


def _volume(g: NodeGroupConfig) -> cost.RootVolume:
    gp3 = g.root_volume.type == "gp3"
    return cost.RootVolume(size_gib=g.root_volume.size_gib, volume_type=g.root_volume.type,
                           iops=g.root_volume.iops if gp3 else None, throughput_mbps=g.root_volume.throughput if gp3 else None)


def _entries(platform: Platform, prices: pricing.PriceBook, cat: Mapping[str, pricing.InstanceType]) -> tuple[list[_Entry], Optional[design_mod.Design]]:
    c = platform.config
    issues = design_mod.capacity_issues(platform, cat)
    if issues:
        raise cfg.ConfigError(platform.stack, issues, platform.source)
    if c.node_groups:
        return [_Entry(n, g, tuple(m for m, mc in c.models.items() if mc.node_group == n))
                for n, g in c.node_groups.items()], None
    d = design_mod.design(platform, prices, cat)
    return [_Entry(g.name, g.config, g.models, g.choice, g.reason, True) for g in d.groups], d


def _on_demand_design(platform: Platform, entries: list[_Entry], costs: list[cost.NodeGroupCost],
                      prices: pricing.PriceBook, cat: Mapping[str, pricing.InstanceType]) -> Optional[tuple[cost.NodeGroupCost, ...]]:
    """Every node group as the planner would build it all on-demand (None when no group is spot): what the plan
    compares spot with. Models-only stacks: the design with spot off; declared: each model group chosen
    on-demand. Groups without models (system, idle) are kept as they are."""
    if not any(e.config.spot for e in entries):
        return None
    idle = {e.name for e in entries if not e.models}
    out: list[cost.NodeGroupCost] = [k for k in costs if k.name in idle]
    try:
        if not platform.config.node_groups:
            s = replace(design_mod.settings_of(platform), spot=False, on_demand_fallback=False)
            for g in design_mod.design(platform, prices, cat, settings=s).groups:
                if g.choice is not None and g.models:
                    out += cost.node_groups_from_choice(g.name, g.choice, _volume(g.config))
            return tuple(out)
        for e in entries:
            if not e.models:
                continue
            sel = replace(selection_of(e.config, cat), spot=False)
            ds = [demand_of(m, platform.config.models[m], 0) for m in e.models]
            ch = optimizer.choose_group(sel, ds, prices, cat)
            out += cost.node_groups_from_choice(e.name, ch, _volume(e.config))
    except (SizingError, pricing.PricingError, cfg.ConfigError):
        return None
    return tuple(out)


def _gpu_limits(compute: cfg.Compute, group: NodeGroupConfig, cat: Mapping[str, pricing.InstanceType]) -> cfg.Compute:
    """A GPU model's compute with its declared group's GPU limits (GPU models, GPU memory) made its own, so the
    design the advice compares with keeps the user's GPU choices."""
    if not compute.gpu:
        return compute
    if group.instance_types:
        allowed = sorted({(cat[t].gpu_model or "").lower() for t in group.instance_types if t in cat and cat[t].is_gpu})
    else:
        allowed = [m.lower() for m in group.selection.gpu_models]
    own = [m.lower() for m in compute.gpu_models]
    models = [m for m in own if not allowed or m in allowed] if own else allowed
    memory = [v for v in (compute.min_gpu_memory_gib, group.selection.min_gpu_memory_gib) if v is not None]
    return compute.model_copy(update={"gpu_models": models or own, "min_gpu_memory_gib": max(memory) if memory else None})


def _advice(platform: Platform, entries: list[_Entry], declared_max: float, prices: pricing.PriceBook,
            cat: Mapping[str, pricing.InstanceType]) -> Optional[str]:
    """A note when the planner's own design of the same models costs > ADVICE_THRESHOLD less at max replicas."""
    model_groups = [e for e in entries if e.models]
    if not model_groups:
        return None
    spot = any(e.config.spot for e in model_groups)
    fallback = any(e.config.spot and e.config.on_demand_fallback for e in model_groups)
    c = platform.config
    models = {m: mc.model_copy(update={"node_group": None, "compute": _gpu_limits(mc.compute, declared_group(platform, mc), cat)})
              for m, mc in c.models.items()}
    bare = platform.model_copy(update={"config": c.model_copy(update={"node_groups": {}, "models": models})})
    s = design_mod.settings_of(bare, cfg.CapacityConfig(spot=spot, on_demand_fallback=fallback))
    try:
        d = design_mod.design(bare, prices, cat, settings=s)
    except (cfg.ConfigError, SizingError, pricing.PricingError):
        return None
    auto = cost.estimate(cost.CostInputs(region=platform.region, fallback_to_us_east_1=prices.is_fallback, prices=prices, node_groups=[
        k for g in d.groups if g.choice for k in cost.node_groups_from_choice(g.name, g.choice, _volume(g.config))]), cat)
    auto_max = sum(g.usd_per_hour_max for g in auto.node_groups)
    if declared_max <= 0 or auto_max >= declared_max * (1 - ADVICE_THRESHOLD):
        return None
    layout = "; ".join(f"{g.name}: {', '.join(g.models)} on {g.choice.primary.name}" for g in d.groups if g.choice)
    return (f"the planner's own design of these models would cost ${auto_max:.2f}/h at max replicas against "
            f"${declared_max:.2f}/h for the declared model node groups ({(1 - auto_max / declared_max) * 100:.0f}% less; "
            f"instances and root volumes, {'spot' if spot else 'on-demand'} and GPU choices as declared): {layout}. Leave out node_groups "
            "(and the models' node_group) to use it")


def _serves(rec: RecordedGroup, capacity: str, sel: GroupSelection, cat: Mapping[str, pricing.InstanceType]) -> Optional[str]:
    """Why recorded types can no longer serve a group (None when they can): the capacity type or the selection
    changed, or a type left the price table. Whether the models fit is the sizing's to say."""
    if rec.capacity_type != capacity:
        return f"the group is now {capacity.lower().replace('_', '-')}, recorded {rec.capacity_type.lower().replace('_', '-')}"
    gone = [t for t in rec.instance_types if t not in cat]
    if gone:
        return f"{', '.join(gone)} no longer in the price table"
    barred = [t for t in rec.instance_types if not sel.allows(cat[t])]
    if barred:
        return f"the group's selection no longer allows {', '.join(barred)}"
    return None


def _follow(rec: RecordedGroup, floor: Optional[RecordedGroup], capacity: str, sel: GroupSelection,
            demands: list[ModelDemand], max_size: int, prices: pricing.PriceBook,
            cat: Mapping[str, pricing.InstanceType]) -> tuple[Optional[GroupChoice], str]:
    """The group on its recorded types (and its on-demand floor on the floor's), or why that cannot serve."""
    why = _serves(rec, capacity, sel, cat)
    if why is None and floor is not None:
        why = _serves(floor, ON_DEMAND, replace(sel, spot=False), cat)
    if why is not None:
        return None, why
    try:
        ch = optimizer.estimate_explicit(rec.instance_types, capacity, demands, prices, cat,
                                         floor_types=floor.instance_types if floor else ())
    except (SizingError, pricing.PricingError) as err:
        return None, str(err)
    if ch.nodes_max > max_size:
        return None, f"the models' max_replicas need {ch.nodes_max} {rec.instance_types[0]} nodes, max_size is {max_size}"
    return ch, ""


def plan_capacity(platform: Platform, today: Optional[date] = None, project: Optional[Path] = None,
                  recorded: Optional[Recorded] = None, rechoose: Optional[frozenset[str]] = None) -> CapacityPlan:
    """Node groups, placements and cost inputs; raises ConfigError with every sizing problem found.

    Declared `node_groups` are planned as given; without them the planner designs the groups (planner/design.py).
    Prices: the region's price file (planner/prices.py: `prices_file`, else `prices/<region>.json` in `project`),
    else the built-in us-east-1 prices, which the plan names as a fallback outside us-east-1.
    With `recorded` (planner/recorded.py), a declared group whose types the config does not pin keeps its
    recorded types while they serve its models; `rechoose` names groups to choose afresh anyway (empty: all).
    """
    c = platform.config
    cat = pricing.catalog()
    prices, price_issues = prices_mod.book_for(platform, project)
    if price_issues:
        raise cfg.ConfigError(platform.stack, price_issues, platform.source)
    day = today or date.today()
    issues: list[ConfigIssue] = []
    groups: list[NodeGroupPlan] = []
    placements: dict[str, Placement] = {}
    costs: list[cost.NodeGroupCost] = []

    def issue(path: str, given: str, allowed: str) -> None:
        issues.append(ConfigIssue(path=f"{cfg.CONFIG_KEY}.{path}", given=given, allowed=allowed))

    entries, designed = _entries(platform, prices, cat)
    if c.cluster.provisioner == "karpenter":
        for n, g in c.node_groups.items():
            if g.kind != "system" and g.min_size > 0:
                issue(f"node_groups.{n}.min_size", repr(g.min_size),
                      "0 under provisioner karpenter: Karpenter's NodePools keep no minimum of nodes, so it would be "
                      "ignored; keep capacity up with the models' min_replicas (or on_demand_base), or use "
                      "provisioner cluster-autoscaler, which honours min_size")
    record: dict[str, RecordedGroup] = {}
    system: Optional[SystemSizing] = None
    followed: list[str] = []
    rechosen: dict[str, str] = {}
    unrecorded: list[str] = []
    savings: dict[str, tuple[tuple[str, ...], float]] = {}

    def recorded_for(e: _Entry, name: str) -> Optional[RecordedGroup]:
        """The recorded choice of group `name` (entry `e` or its fallback), unless the config pins its types, the
        planner designs it, or it is to be chosen afresh."""
        if recorded is None or not e.recordable or rechoose is not None and (not rechoose or e.name in rechoose):
            return None
        return recorded.get(name)

    for e in entries:
        gname, g = e.name, e.config
        recordable = e.recordable
        missing = [t for t in g.instance_types or () if t in cat and not prices.offers(cat[t])]
        if missing:
            key = f"node_groups.{gname}.instance_types" if not e.designed else "capacity.system_instance_types"
            issue(key, ", ".join(missing),
                  f"types {platform.region} offers and prices ({prices.data.origin if prices.data else 'price data'}, "
                  f"{prices.data.date if prices.data else ''}); {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not")
            continue
        sel = selection_of(g, cat)
        models = {m: c.models[m] for m in e.models}
        bases = {m: on_demand_base(platform, mc, g) for m, mc in models.items()}
        raised = e.choice.on_demand_floor if e.choice is not None else None
        if raised is not None and raised.floor_replicas:  # a designed floor that holds min_replicas (design.py)
            bases.update(zip(raised.models, raised.floor_replicas))
        demands = [demand_of(m, mc, bases[m]) for m, mc in models.items()]
        capacity = SPOT if g.spot else ON_DEMAND
        volume = _volume(g)
        where = f"node_groups.{gname}" if not e.designed else "models"
        choice: Optional[GroupChoice]
        try:
            if demands:
                choice = e.choice or optimizer.choose_group(sel, demands, prices, cat)
                fb = g.spot and g.on_demand_fallback
                rec = recorded_for(e, gname)
                if rec is not None:
                    floor_rec = recorded_for(e, gname + FALLBACK_SUFFIX) if fb and choice.on_demand_floor else None
                    kept, why = _follow(rec, floor_rec, capacity, sel, demands, g.max_size, prices, cat)
                    if kept is None:
                        rechosen[gname] = why
                    else:
                        saving = kept.usd_per_hour_max - choice.usd_per_hour_max
                        if choice.instance_types != kept.instance_types and saving > 0.0005:
                            savings[gname] = (choice.instance_types, saving)
                        on = f"; on-demand floor on {kept.on_demand_floor.primary.name}" if kept.on_demand_floor else ""
                        # The optimizer's notes on its own choice still hold when it chose these very types.
                        same = choice.instance_types == kept.instance_types
                        kept = replace(kept, reason=f"recorded choice ({', '.join(rec.instance_types)}{on}), kept: it "
                                                    f"still serves {', '.join(models)}", explicit=False,
                                       notes=tuple(dict.fromkeys(kept.notes + (choice.notes if same else ()))))
                        choice = kept
                        followed.append(gname)
                elif recordable:
                    unrecorded.append(gname)
                types, reason = choice.instance_types, e.reason or choice.reason
                # the price book's own notes are the whole plan's (the cost table says them once)
                notes = tuple(n for n in dict.fromkeys(choice.notes) if n not in prices.notes)
                nodes_min, nodes_max = choice.main.nodes_min, choice.main.nodes_max
            else:
                choice, notes = None, ()
                types, reason = _idle_choice(sel, cat, prices)
                reason = e.reason or reason
                rec = recorded_for(e, gname)
                stale = _serves(rec, capacity, sel, cat) if rec is not None else None
                if rec is not None and stale is None:
                    types, reason = rec.instance_types, "recorded choice, kept (no models yet)"
                    followed.append(gname)
                elif rec is not None:
                    rechosen[gname] = stale or ""
                elif recordable:
                    unrecorded.append(gname)
                nodes_min = nodes_max = g.min_size
                if g.kind == "system":
                    cl = c.cluster
                    system = system_sizing(platform, types[0], cl.charts.version("cluster-autoscaler",
                                                                                 cl.kubernetes_version))
                    if system.nodes > g.max_size:
                        issue(f"{where}.max_size", repr(g.max_size), f"at least {system.nodes}: {system.describe()}")
                    nodes_min = nodes_max = max(g.min_size, min(system.nodes, g.max_size))
                    sized = "the add-ons' need" if system.nodes >= g.min_size else f"min_size {g.min_size}"
                    notes = (f"sized {nodes_min} ({sized}): {system.describe()}",)
        except (SizingError, pricing.PricingError) as err:
            issue(where, "models and instance types that do not fit together", str(err))
            continue
        nodes_min = max(nodes_min, g.min_size)
        if nodes_max > g.max_size:
            issue(f"{where}.max_size", repr(g.max_size),
                  f"at least {nodes_max}: the max_replicas of {', '.join(models)} need {nodes_max} {types[0]} nodes")
        nodes_max = max(nodes_min, min(nodes_max, g.max_size))
        if recordable:
            record[gname] = RecordedGroup(capacity, tuple(types))
        groups.append(NodeGroupPlan(name=gname, pool=gname, kind=g.kind, capacity_type=capacity, instance_types=types,
                                    # the system group never runs below what its add-ons need
                                    min_size=nodes_min if g.kind == "system" else g.min_size,
                                    max_size=g.max_size, priority=g.priority,
                                    nodes_min=nodes_min, nodes_max=nodes_max,
                                    explicit=bool(g.instance_types) and not e.designed,
                                    reason=reason, models=tuple(models), config=g, notes=notes, designed=e.designed,
                                    choice=choice))
        costs.append(cost.NodeGroupCost(name=gname, instance_type=types[0], capacity_type=capacity, nodes_min=nodes_min,
                                        nodes_max=nodes_max, root_volume=volume,
                                        spot_instance_types=types if capacity == SPOT else ()))
        if g.spot and g.on_demand_fallback:
            fb_name = f"{gname}{FALLBACK_SUFFIX}"
            floor = choice.on_demand_floor if choice else None
            if floor is not None:
                fb_types, fb_min, fb_max = floor.instance_types, floor.nodes_min, floor.nodes_max
            elif demands:
                od = optimizer.choose_group(GroupSelection(**{**sel.__dict__, "spot": False}), demands, prices, cat)
                fb_types, fb_min, fb_max = od.instance_types, 0, 0
            else:
                fb_types, fb_min, fb_max = types[:1], 0, 0
            fb_rec = recorded_for(e, fb_name)
            if floor is None and fb_rec is not None and gname not in rechosen:
                od_sel = replace(sel, spot=False)
                if _serves(fb_rec, ON_DEMAND, od_sel, cat) is None and all(
                        not fit_report(d.requests, cat[fb_rec.instance_types[0]], None, d.sidecars)
                        for d in demands):
                    fb_types = fb_rec.instance_types
            if recordable:
                record[fb_name] = RecordedGroup(ON_DEMAND, tuple(fb_types))
            groups.append(NodeGroupPlan(name=fb_name, pool=gname, kind=g.kind, capacity_type=ON_DEMAND,
                                        instance_types=fb_types, min_size=0, max_size=g.max_size,
                                        priority=max(1, g.priority - 1),
                                        nodes_min=fb_min, nodes_max=fb_max,
                                        explicit=bool(g.instance_types) and not e.designed,
                                        reason="on-demand fallback and floor for spot pool " + gname,
                                        models=tuple(models), config=g, designed=e.designed))
            costs.append(cost.NodeGroupCost(name=fb_name, instance_type=fb_types[0], capacity_type=ON_DEMAND,
                                            nodes_min=fb_min, nodes_max=fb_max, root_volume=volume))
        for m, mc in models.items():
            placements[m] = Placement(pool=gname, node_group=gname,
                                      accelerator=compute_accelerator(mc.compute),
                                      spot=g.spot, on_demand_base=bases[m])
    for gp in groups:
        base = c.cluster.node_group_name(gp.name)
        if len(base) > node_templates.BASE_NAME_MAX:
            where = f"node_groups.{gp.pool}" if c.node_groups else "cluster.name"
            issue(where, f"{base!r} as the node group's name ({len(base)} characters)",
                  f"at most {node_templates.BASE_NAME_MAX} characters for <cluster.name>-<group>"
                  f"{'-on-demand' if gp.name.endswith(FALLBACK_SUFFIX) else ''} (EKS allows "
                  f"{node_templates.EKS_NAME_MAX} with modelstack's 8-character suffix): shorten the group or cluster name")
    if issues:
        raise cfg.ConfigError(platform.stack, issues, platform.source)
    vpc = c.cluster.vpc
    nat = 0 if vpc.existing else subnets.nat_count(vpc.nat, vpc.az_count)
    cost_inputs = cost.CostInputs(
        region=platform.region,
        fallback_to_us_east_1=prices.is_fallback,
        prices=prices,
        node_groups=tuple(costs),
        control_planes=1,
        extended_support=cfg.in_extended_support(c.cluster.kubernetes_version, day),
        nat_gateways=nat,
        load_balancers=(cost.LoadBalancer("alb", c.cluster.ingress_group),) if c.models else (),
        kms_keys=1 if c.cluster.secrets_encryption else 0,
        on_demand_design=_on_demand_design(platform, entries, costs, prices, cat),
        managed_grafana=managed_grafana_cost(platform, costs),
    )
    plan_notes: list[str] = []
    note = support_note(c.cluster.kubernetes_version, day)
    if note:
        plan_notes.append(note)
    for key, access in c.cluster.access_entries.items():
        if access.cluster_creator:
            plan_notes.append(f"access entry {key} ({access.principal_arn}) is the cluster's creator: EKS gives it cluster-admin "
                         "at creation (bootstrap access entry, not a resource of this stack); run the first `pulumi "
                         "up` as that principal")
    if designed is None and c.models:
        groups_with_models = {gp.name for gp in groups if gp.models}
        declared = cost.estimate(replace(cost_inputs, node_groups=tuple(k for k in costs if k.name in groups_with_models),
                                         on_demand_design=None), cat)
        advice = _advice(platform, entries, sum(g.usd_per_hour_max for g in declared.node_groups), prices, cat)
        if advice:
            plan_notes.append(advice)
    for gname, why in rechosen.items():
        assert recorded is not None  # a group is rechosen only against its recorded choice
        now = next(gp.instance_types for gp in groups if gp.name == gname)
        plan_notes.append(f"recorded choice of {gname} ({', '.join(recorded.groups[gname].instance_types)}) no longer "
                     f"serves: {why}; chosen again: {', '.join(now)} (the node group is replaced)")
    for gname, (types, saving) in savings.items():
        plan_notes.append(f"re-choosing {gname} ({', '.join(types)}) would save ${saving * pricing.HOURS_PER_MONTH:,.2f}"
                     f"/month at max replicas and replace its node group: `modelstack capacity rechoose "
                     f"{platform.stack} --group {gname}`")
    return CapacityPlan(groups=tuple(groups), placements=placements, cost_inputs=cost_inputs,
                        notes=tuple(plan_notes), designed=designed is not None, record=record, followed=tuple(followed),
                        rechosen=rechosen, unrecorded=tuple(unrecorded), savings=savings, system=system)


def managed_grafana_cost(platform: Platform, costs: Sequence[cost.NodeGroupCost]) -> Optional[cost.ManagedGrafanaCost]:
    """What `grafana: managed` bills: AMG users, and the AMP samples of the nodes and model pods at min and max."""
    m = platform.config.cluster.observability.grafana_managed
    if m is None:
        return None
    models = platform.config.models.values()
    return cost.ManagedGrafanaCost(
        editors=m.active_editors, viewers=m.active_viewers, workspaces=0 if m.workspace_id else 1,
        remote_write=m.remote_write,
        nodes_min=sum(k.nodes_min for k in costs), nodes_max=sum(k.nodes_max for k in costs),
        model_pods_min=sum(x.autoscaling.min_replicas for x in models),
        model_pods_max=sum(x.autoscaling.max_replicas for x in models),
        scrape_interval_seconds=addon_values.SCRAPE_INTERVAL_SECONDS)


def plan_platform(stack: str, values: Mapping[str, Any], source: Optional[str] = None,
                  today: Optional[date] = None, project: Optional[Path] = None, recorded: Optional[Recorded] = None,
                  rechoose: Optional[frozenset[str]] = None) -> tuple[Platform, CapacityPlan]:
    """The one report path (the CLI's and the stack program's): the schema, the cross-key checks and the capacity
    checks together. Capacity runs on what is valid so far, so a `max_size` too small is reported in the same
    ConfigError as a typo elsewhere, not in the next run."""
    platform, issues = validate_platform(stack, values, source)
    capacity: Optional[CapacityPlan] = None
    llms: dict[str, Any] = {}
    if platform is not None:
        # LLM models get their GPUs, engine command line and probes first (planner/llm.py), then plan as any model
        platform, llms, llm_issues = llm_mod.expand(platform, project)
        issues = issues + llm_issues
        try:
            capacity = plan_capacity(platform, today, project, recorded, rechoose)
        except cfg.ConfigError as e:
            issues = issues + e.issues
    if issues:
        raise cfg.ConfigError(stack, issues, source)
    assert platform is not None and capacity is not None
    return platform, replace(capacity, llms=llms) if llms else capacity
