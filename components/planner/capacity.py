"""From a validated platform to the node groups to create and what they cost: the optimizer, applied.

For each configured node group this decides the instance types (the user's, or the optimizer's cheapest
within `selection`), the capacity type, an on-demand fallback group for a spot pool when asked, and the node
counts at the models' min and max replicas. Problems the optimizer finds (nothing fits, `max_size` too small
for `max_replicas`) come back as config issues, so they are reported with every other config error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping, Optional

from modelstack.config import schema as cfg
from modelstack.capacity import cost, optimizer, pricing
from modelstack.render import subnets
from modelstack.config.schema import ConfigIssue, NodeGroupConfig, Platform
from modelstack.capacity.optimizer import ON_DEMAND, SPOT, GroupChoice, GroupSelection, ModelDemand, SizingError
from modelstack.config.checks import compute_accelerator, pod_requests, selection_of
from modelstack.config.load import validate_platform

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


def on_demand_base(platform: Platform, model: cfg.ModelConfig) -> int:
    """Replicas kept on on-demand capacity. Default: 1 in prod on a spot pool with a fallback group, else 0."""
    group = platform.config.node_groups[model.node_group]
    if not (group.spot and group.on_demand_fallback):
        return 0
    a = model.autoscaling
    if a.on_demand_base is not None:
        return a.on_demand_base
    return 1 if platform.is_prod and not a.scale_to_zero else 0


def demand_of(name: str, model: cfg.ModelConfig, base: int) -> ModelDemand:
    a = model.autoscaling
    return ModelDemand(name=name, requests=pod_requests(model), min_replicas=a.min_replicas,
                       max_replicas=a.max_replicas, on_demand_base=base)


def _idle_choice(selection: GroupSelection, catalog) -> tuple[tuple[str, ...], str]:
    """Types for a group no model uses yet: the cheapest allowed shape (spot: its equal-shape peers too)."""
    if selection.instance_types:
        return selection.instance_types, "configured instance types"
    allowed = [t for t in optimizer.allowed_types(selection, catalog) if t.on_demand_usd_per_hour is not None]
    if not allowed:
        raise SizingError(f"no instance type in the price table matches {selection.describe()}")
    allowed.sort(key=lambda t: (t.on_demand_usd_per_hour, t.name))
    primary = allowed[0]
    if not selection.spot:
        return (primary.name,), "no models yet: cheapest allowed type"
    key = optimizer.shape_key(primary)
    peers = [t.name for t in allowed if optimizer.shape_key(t) == key][: selection.max_types]
    return tuple(peers), "no models yet: cheapest allowed shape"


def plan_capacity(platform: Platform, today: Optional[date] = None) -> CapacityPlan:
    """Node groups, placements and cost inputs; raises ConfigError with every sizing problem found."""
    c = platform.config
    cat = pricing.catalog()
    # Only us-east-1 has on-demand prices in the data: other regions are sized and priced at us-east-1 prices
    # (with that region's spot savings where the data has them), and every plan and cost table says so.
    prices = pricing.price_book(platform.region, fallback_to_us_east_1=True)
    day = today or date.today()
    issues: list[ConfigIssue] = []
    groups: list[NodeGroupPlan] = []
    placements: dict[str, Placement] = {}
    costs: list[cost.NodeGroupCost] = []

    def issue(path: str, given: str, allowed: str) -> None:
        issues.append(ConfigIssue(path=f"{cfg.CONFIG_KEY}.{path}", given=given, allowed=allowed))

    for gname, g in c.node_groups.items():
        sel = selection_of(g, cat)
        models = {m: mc for m, mc in c.models.items() if mc.node_group == gname}
        bases = {m: on_demand_base(platform, mc) for m, mc in models.items()}
        demands = [demand_of(m, mc, bases[m]) for m, mc in models.items()]
        capacity = SPOT if g.spot else ON_DEMAND
        volume = cost.RootVolume(size_gib=g.root_volume.size_gib, volume_type=g.root_volume.type,
                                 iops=g.root_volume.iops if g.root_volume.type == "gp3" else None,
                                 throughput_mbps=g.root_volume.throughput if g.root_volume.type == "gp3" else None)
        try:
            if demands:
                choice: Optional[GroupChoice] = optimizer.choose_group(sel, demands, prices, cat)
                types, reason = choice.instance_types, choice.reason
                # the price book's own notes are the whole plan's (the cost table says them once)
                notes = tuple(n for n in dict.fromkeys(choice.notes) if n not in prices.notes)
                nodes_min, nodes_max = choice.main.nodes_min, choice.main.nodes_max
            else:
                choice, notes = None, ()
                types, reason = _idle_choice(sel, cat)
                nodes_min = nodes_max = g.min_size
        except (SizingError, pricing.PricingError) as e:
            issue(f"node_groups.{gname}", "models and instance types that do not fit together", str(e))
            continue
        nodes_min = max(nodes_min, g.min_size)
        if nodes_max > g.max_size:
            issue(f"node_groups.{gname}.max_size", repr(g.max_size),
                  f"at least {nodes_max}: the max_replicas of {', '.join(models)} need {nodes_max} {types[0]} nodes")
        nodes_max = max(nodes_min, min(nodes_max, g.max_size))
        groups.append(NodeGroupPlan(name=gname, pool=gname, kind=g.kind, capacity_type=capacity, instance_types=types,
                                    min_size=g.min_size, max_size=g.max_size, priority=g.priority,
                                    nodes_min=nodes_min, nodes_max=nodes_max, explicit=bool(g.instance_types),
                                    reason=reason, models=tuple(models), config=g, notes=notes))
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
            groups.append(NodeGroupPlan(name=fb_name, pool=gname, kind=g.kind, capacity_type=ON_DEMAND,
                                        instance_types=fb_types, min_size=0, max_size=g.max_size,
                                        priority=max(1, g.priority - 1),
                                        nodes_min=fb_min, nodes_max=fb_max, explicit=bool(g.instance_types),
                                        reason="on-demand fallback and floor for spot pool " + gname,
                                        models=tuple(models), config=g))
            costs.append(cost.NodeGroupCost(name=fb_name, instance_type=fb_types[0], capacity_type=ON_DEMAND,
                                            nodes_min=fb_min, nodes_max=fb_max, root_volume=volume))
        for m, mc in models.items():
            placements[m] = Placement(pool=gname, node_group=gname,
                                      accelerator=compute_accelerator(mc.compute),
                                      spot=g.spot, on_demand_base=bases[m])
    if issues:
        raise cfg.ConfigError(platform.stack, issues, platform.source)
    vpc = c.cluster.vpc
    nat = 0 if vpc.existing else subnets.nat_count(vpc.nat, vpc.az_count)
    cost_inputs = cost.CostInputs(
        region=platform.region,
        fallback_to_us_east_1=prices.is_fallback,
        node_groups=tuple(costs),
        control_planes=1,
        extended_support=cfg.in_extended_support(c.cluster.kubernetes_version, day),
        nat_gateways=nat,
        load_balancers=(cost.LoadBalancer("alb", c.cluster.ingress_group),) if c.models else (),
        kms_keys=1 if c.cluster.secrets_encryption else 0,
    )
    note = support_note(c.cluster.kubernetes_version, day)
    return CapacityPlan(groups=tuple(groups), placements=placements, cost_inputs=cost_inputs,
                        notes=(note,) if note else ())


def plan_platform(stack: str, values: Mapping[str, Any], source: Optional[str] = None,
                  today: Optional[date] = None) -> tuple[Platform, CapacityPlan]:
    """The one report path (the CLI's and the stack program's): the schema, the cross-key checks and the capacity
    checks together. Capacity runs on what is valid so far, so a `max_size` too small is reported in the same
    ConfigError as a typo elsewhere, not in the next run."""
    platform, issues = validate_platform(stack, values, source)
    capacity: Optional[CapacityPlan] = None
    if platform is not None:
        try:
            capacity = plan_capacity(platform, today)
        except cfg.ConfigError as e:
            issues = issues + e.issues
    if issues:
        raise cfg.ConfigError(stack, issues, source)
    assert platform is not None and capacity is not None
    return platform, capacity
