"""What a cluster will cost per hour and per month, at min and at max replicas, before anything is created.

:func:`estimate` turns :class:`CostInputs` (node groups with their node counts, plus fixed items) into a
:class:`CostEstimate`: one row per resource, totals, ``to_json()`` for ``plan.json`` and ``render_table()``
for the terminal, in the spirit of Cortex's ``cluster up`` table. Unlike Cortex, the gp3 root-volume cost
includes provisioned IOPS above 3,000 and throughput above 125 MB/s.

Formulas (all per hour; monthly items divided by ``hours_per_month``, 730 by default):

* node: on-demand price, or for SPOT the mean over the group's types of on-demand × (1 − savings/100), a
  conservative expectation: price-capacity-optimized allocation favours the cheaper pools with capacity (a
  spot row's on-demand column is the mean over the same types; ``nodes_by_type`` spreads a spot group's nodes
  evenly over them, so nodes × price per type adds up to the row);
* gp3 root volume: (size × 0.08 + max(0, iops − 3000) × 0.005 + max(0, MB/s − 125) × 0.04) / 730;
  gp2: size × 0.10 / 730;
* fixed: EKS control plane, NAT gateways, public IPv4 addresses, ALB/NLB hours, KMS keys (constants and
  their sources in :mod:`modelstack.capacity.pricing`).

With ``CostInputs.on_demand_design`` (the same models' groups designed all on-demand), the table ends with
the maximum that design would cost: spot is compared with what on-demand would really buy, not with the spot
types at on-demand prices.

Traffic-dependent charges (NAT data processing, LCUs, data transfer, KMS requests) are not estimated; the
estimate's ``assumptions`` say so. Nothing is rounded except in ``render_table`` and, to 6 decimals, in
``to_json``.

Pure module: standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from modelstack.capacity import pricing
from modelstack.capacity.optimizer import ON_DEMAND, SPOT, GroupChoice, Pool
from modelstack.capacity.pricing import PricingError
from modelstack.render import table as text_table

__all__ = [
    "RootVolume",
    "NodeGroupCost",
    "LoadBalancer",
    "CostInputs",
    "ManagedGrafanaCost",
    "CostRow",
    "NodeGroupEstimate",
    "CostEstimate",
    "estimate",
    "node_groups_from_choice",
    "root_volume_usd_per_month",
]

VOLUME_TYPES = ("gp3", "gp2")


@dataclass(frozen=True)
class RootVolume:
    """A node's root EBS volume. ``iops``/``throughput_mbps`` are gp3 settings (None: the free baseline)."""

    size_gib: int = 50
    volume_type: str = "gp3"
    iops: int | None = None
    throughput_mbps: int | None = None

    def __post_init__(self) -> None:
        if self.volume_type not in VOLUME_TYPES:
            raise ValueError(f"root volume type must be one of {VOLUME_TYPES}, got {self.volume_type!r}")
        if self.size_gib <= 0:
            raise ValueError(f"root volume size must be positive, got {self.size_gib}")
        if self.volume_type != "gp3" and (self.iops is not None or self.throughput_mbps is not None):
            raise ValueError("root volume iops/throughput are gp3 settings; gp2 performance follows size")

    def describe(self) -> str:
        text = f"{self.volume_type} {self.size_gib} GiB"
        if self.volume_type == "gp3":
            text += f", {self.iops or pricing.EBS_GP3_BASELINE_IOPS} IOPS, " \
                    f"{self.throughput_mbps or pricing.EBS_GP3_BASELINE_THROUGHPUT_MBPS} MB/s"
        return text


def root_volume_usd_per_month(volume: RootVolume) -> float:
    """Monthly price of one volume, including gp3 IOPS and throughput above the free baseline."""
    if volume.volume_type == "gp2":
        return volume.size_gib * pricing.EBS_GP2_USD_PER_GB_MONTH
    iops = volume.iops if volume.iops is not None else pricing.EBS_GP3_BASELINE_IOPS
    mbps = volume.throughput_mbps if volume.throughput_mbps is not None else pricing.EBS_GP3_BASELINE_THROUGHPUT_MBPS
    return (volume.size_gib * pricing.EBS_GP3_USD_PER_GB_MONTH
            + max(0, iops - pricing.EBS_GP3_BASELINE_IOPS) * pricing.EBS_GP3_USD_PER_IOPS_MONTH
            + max(0, mbps - pricing.EBS_GP3_BASELINE_THROUGHPUT_MBPS) * pricing.EBS_GP3_USD_PER_MBPS_MONTH)


@dataclass(frozen=True)
class NodeGroupCost:
    """One node group as priced: the instance type used for the estimate and its node counts.

    For SPOT, ``spot_instance_types`` are the group's types whose mean expected spot price is used
    (default: ``instance_type`` alone).
    """

    name: str
    instance_type: str
    capacity_type: str
    nodes_min: int
    nodes_max: int
    root_volume: RootVolume = RootVolume()
    spot_instance_types: tuple[str, ...] = ()
    max_instance_type: str = ""
    """What runs at max replicas when that differs from ``instance_type`` (Karpenter picks per demand; a managed
    node group has one shape). Default: ``instance_type``."""
    max_spot_instance_types: tuple[str, ...] = ()
    """The spot types priced at max replicas when ``max_instance_type`` is set. Default: ``(max_instance_type,)``."""
    kind: str = "nodegroup"
    """What the rows call it: "nodegroup" (managed node group) or "nodepool" (Karpenter)."""
    parts_min: tuple[tuple[tuple[str, ...], int], ...] = ()
    """A Karpenter pool's nodes at min as a mix: (types, nodes) per kind, types being one on-demand type or a spot
    shape's types (priced at their mean). Empty: ``nodes_min`` of ``instance_type``. The counts sum to nodes_min."""
    parts_max: tuple[tuple[tuple[str, ...], int], ...] = ()
    """The same at max (its counts sum to nodes_max, which may then be below nodes_min: fewer, larger nodes)."""

    def __post_init__(self) -> None:
        if self.capacity_type not in (SPOT, ON_DEMAND):
            raise ValueError(f"node group {self.name!r}: capacity_type must be {SPOT!r} or {ON_DEMAND!r}, got {self.capacity_type!r}")
        if self.parts_min or self.parts_max:
            # A mix may run fewer, larger nodes at max than at min: the parts must add up instead.
            for label, parts, nodes in (("min", self.parts_min, self.nodes_min), ("max", self.parts_max, self.nodes_max)):
                if parts and sum(n for _, n in parts) != nodes:
                    raise ValueError(f"node group {self.name!r}: parts_{label} add up to {sum(n for _, n in parts)} "
                                     f"nodes, nodes_{label} is {nodes}")
            if min(self.nodes_min, self.nodes_max) < 0:
                raise ValueError(f"node group {self.name!r}: negative node counts {self.nodes_min}, {self.nodes_max}")
        elif not 0 <= self.nodes_min <= self.nodes_max:
            raise ValueError(f"node group {self.name!r}: need 0 <= nodes_min <= nodes_max, got {self.nodes_min}, {self.nodes_max}")


def _from_pool(name: str, pool: Pool, root_volume: RootVolume) -> NodeGroupCost:
    """A pool as priced; a mixed pool (Karpenter's) as the mix it buys at each end."""
    if pool.parts_min is None and pool.parts_max is None:
        return NodeGroupCost(name=name, instance_type=pool.primary.name, capacity_type=pool.capacity_type,
                             nodes_min=pool.nodes_min, nodes_max=pool.nodes_max, root_volume=root_volume,
                             spot_instance_types=pool.instance_types if pool.capacity_type == SPOT else ())
    lo, hi = pool.parts(False), pool.parts(True)
    n_min, n_max = sum(p.nodes for p in lo), sum(p.nodes for p in hi)
    return NodeGroupCost(name=name, instance_type=pool.primary.name, capacity_type=pool.capacity_type,
                         nodes_min=n_min, nodes_max=n_max, root_volume=root_volume,
                         spot_instance_types=pool.instance_types if pool.capacity_type == SPOT else (),
                         parts_min=tuple((p.instance_types, p.nodes) for p in lo) or ((pool.instance_types, 0),),
                         parts_max=tuple((p.instance_types, p.nodes) for p in hi) or ((pool.instance_types, 0),))


def node_groups_from_choice(name: str, choice: GroupChoice, root_volume: RootVolume = RootVolume()) -> list[NodeGroupCost]:
    """The node groups a :class:`GroupChoice` creates: ``name`` itself, plus ``{name}-on-demand`` for its floor."""
    out = [_from_pool(name, choice.main, root_volume)]
    if choice.on_demand_floor is not None:
        out.append(_from_pool(f"{name}-on-demand", choice.on_demand_floor, root_volume))
    return out


@dataclass(frozen=True)
class LoadBalancer:
    kind: str  # "alb" or "nlb"
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("alb", "nlb"):
            raise ValueError(f"load balancer kind must be 'alb' or 'nlb', got {self.kind!r}")


#: Active series the in-cluster Prometheus remote-writes to AMP, by `managed_grafana.remote_write`: (per cluster,
#: per node, per model pod). Assumed, not measured; the plan's assumptions name them. Every series is scraped every
#: `scrape_interval_seconds`.
#: - all: the API server, CoreDNS, Prometheus, kube-state-metrics' cluster objects, KEDA and the autoscaler; a node's
#:   kubelet and cAdvisor series for its system pods and DaemonSets; a model pod's proxy exporter, cAdvisor and
#:   kube-state-metrics series.
#: - dashboards: only the metrics the dashboards read: the price rules, Karpenter's interruption counters and each
#:   model's deployment replicas; a node's kube_node_labels and DCGM GPU series; a model pod's proxy series the panels
#:   query (requests, responses by code class, queue, sessions, time averages).
AMP_SERIES = {"all": (10_000, 1_500, 400), "dashboards": (200, 5, 40)}


def amp_series(remote_write: str) -> tuple[int, int, int]:
    """(per cluster, per node, per model pod) active series remote-written under `remote_write`."""
    return AMP_SERIES[remote_write]


@dataclass(frozen=True)
class ManagedGrafanaCost:
    """Amazon Managed Grafana users and the AMP samples the in-cluster Prometheus remote-writes (`grafana: managed`)."""

    editors: int = 1
    viewers: int = 0
    nodes_min: int = 0
    nodes_max: int = 0
    model_pods_min: int = 0
    model_pods_max: int = 0
    scrape_interval_seconds: int = 15
    workspaces: int = 1
    """AMG workspaces this stack pays for (0: it provisions into an existing workspace, licensed elsewhere)."""
    remote_write: str = "dashboards"
    """Which series go to AMP (`managed_grafana.remote_write`): dashboards or all (AMP_SERIES)."""

    def __post_init__(self) -> None:
        if self.remote_write not in AMP_SERIES:
            raise ValueError(f"remote_write must be one of {', '.join(AMP_SERIES)}, got {self.remote_write!r}")

    def active_series(self, at_max: bool) -> int:
        nodes, pods = (self.nodes_max, self.model_pods_max) if at_max else (self.nodes_min, self.model_pods_min)
        cluster, per_node, per_pod = amp_series(self.remote_write)
        return cluster + per_node * nodes + per_pod * pods

    def samples_per_month(self, at_max: bool, hours_per_month: float = pricing.HOURS_PER_MONTH) -> float:
        return self.active_series(at_max) * hours_per_month * 3600 / self.scrape_interval_seconds


@dataclass(frozen=True)
class CostInputs:
    """Everything the estimate needs. ``public_ipv4_addresses`` None means one per NAT gateway (its Elastic IP);
    count an internet-facing load balancer's per-AZ addresses yourself if you want them in.
    ``fallback_to_us_east_1`` allows a region without price data, estimated at us-east-1 prices and flagged."""

    region: str
    node_groups: Sequence[NodeGroupCost] = ()
    control_planes: int = 1
    extended_support: bool = False
    nat_gateways: int = 0
    load_balancers: Sequence[LoadBalancer] = ()
    kms_keys: int = 0
    public_ipv4_addresses: int | None = None
    hours_per_month: float = pricing.HOURS_PER_MONTH
    fallback_to_us_east_1: bool = False
    on_demand_design: Sequence[NodeGroupCost] | None = None
    """Every node group of the same cluster as designed with all capacity on-demand (types chosen for on-demand,
    not the spot types at on-demand prices): the table's spot-versus-on-demand line compares with it. None: no
    line."""
    managed_grafana: ManagedGrafanaCost | None = None
    """Amazon Managed Grafana and Prometheus (`grafana: managed`); None: not used."""
    prices: pricing.PriceBook | None = field(default=None, compare=False, hash=False)
    """The price book to use (a region's price file in it, say); None: ``price_book(region, fallback_to_us_east_1=...)``."""


@dataclass(frozen=True)
class CostRow:
    resource: str
    detail: str
    count_min: int
    count_max: int
    unit_usd_per_hour_on_demand: float
    unit_usd_per_hour_spot: float | None
    usd_per_hour_min: float
    usd_per_hour_max: float

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "detail": self.detail,
            "count": {"min": self.count_min, "max": self.count_max},
            "unit_usd_per_hour": {"on_demand": _r(self.unit_usd_per_hour_on_demand),
                                  "spot": None if self.unit_usd_per_hour_spot is None else _r(self.unit_usd_per_hour_spot)},
            "usd_per_hour": {"min": _r(self.usd_per_hour_min), "max": _r(self.usd_per_hour_max)},
        }


@dataclass(frozen=True)
class NodeGroupEstimate:
    name: str
    instance_type: str
    capacity_type: str
    nodes_min: int
    nodes_max: int
    usd_per_hour_min: float  # instances + root volumes
    usd_per_hour_max: float
    max_instance_type: str = ""  # what runs at max replicas (the same as instance_type for a node group)
    nodes_by_type: Mapping[str, Mapping[str, float]] | None = None
    """{"min"|"max": {"<type>/<capacity>": expected nodes}}."""


def _r(x: float) -> float:
    return round(x, 6)


@dataclass(frozen=True)
class CostEstimate:
    region: str
    rows: tuple[CostRow, ...]
    node_groups: tuple[NodeGroupEstimate, ...]
    usd_per_hour_min: float
    usd_per_hour_max: float
    hours_per_month: float
    sources: tuple[Mapping[str, Any], ...]
    assumptions: tuple[str, ...]
    flagged: bool = False  # prices are not the region's own (us-east-1 fallback)
    on_demand_design_usd_per_hour_max: float | None = None
    """Max with the on-demand design of the same models (CostInputs.on_demand_design); None: not computed."""
    prices: Mapping[str, Any] | None = None
    """Whose prices, from when and where (``PriceBook.to_json``): plan.json's ``cost.prices``."""

    @property
    def usd_per_month_min(self) -> float:
        return self.usd_per_hour_min * self.hours_per_month

    @property
    def usd_per_month_max(self) -> float:
        return self.usd_per_hour_max * self.hours_per_month

    def to_json(self) -> dict[str, Any]:
        """The ``cost`` object of ``plan.json`` (USD, rounded to 6 decimals)."""
        return {
            "usd_per_hour": {"min": _r(self.usd_per_hour_min), "max": _r(self.usd_per_hour_max)},
            "usd_per_month": {"min": _r(self.usd_per_month_min), "max": _r(self.usd_per_month_max)},
            "node_groups": {
                g.name: {
                    "nodes": {"min": g.nodes_min, "max": g.nodes_max},
                    "nodes_by_type": {k: {t: _r(n) for t, n in v.items()} for k, v in (g.nodes_by_type or {}).items()},
                    "instance_type": g.instance_type,
                    **({"instance_type_at_max": g.max_instance_type}
                       if g.max_instance_type and g.max_instance_type != g.instance_type else {}),
                    "capacity_type": g.capacity_type,
                    "usd_per_hour": {"min": _r(g.usd_per_hour_min), "max": _r(g.usd_per_hour_max)},
                    "usd_per_hour_includes": ["instances", "root volumes"],
                }
                for g in self.node_groups
            },
            "rows": [row.to_json() for row in self.rows],
            "region": self.region,
            "prices": dict(self.prices) if self.prices else None,
            "currency": "USD",
            "sources": [dict(s) for s in self.sources],
            "assumptions": list(self.assumptions),
        }

    def render_table(self) -> str:
        """Fixed-width table, one row per resource, ending in the "your cluster will cost" line."""
        headers = ("aws resource", "count min-max", "unit $/h on-demand", "unit $/h spot", "$/h at min", "$/h at max")
        body = []
        for row in self.rows:
            count = str(row.count_min) if row.count_min == row.count_max else f"{row.count_min} - {row.count_max}"
            body.append((
                f"{row.resource}: {row.detail}" if row.detail else row.resource,
                count,
                f"{row.unit_usd_per_hour_on_demand:.4f}",
                "-" if row.unit_usd_per_hour_spot is None else f"{row.unit_usd_per_hour_spot:.4f}",
                f"{row.usd_per_hour_min:.4f}",
                f"{row.usd_per_hour_max:.4f}",
            ))
        total = ("total", "", "", "", f"{self.usd_per_hour_min:.4f}", f"{self.usd_per_hour_max:.4f}")
        out = [text_table.table(headers, [*body, total], right=range(1, len(headers)), rules_before=[len(body)]), ""]
        where = f"in {self.region}" + (" (at us-east-1 prices: this region's prices are not in the data)" if self.flagged else "")
        out.append(text_table.paragraph(
            f"your cluster will cost ${self.usd_per_hour_min:,.2f} - ${self.usd_per_hour_max:,.2f} per hour "
            f"(${self.usd_per_month_min:,.2f} - ${self.usd_per_month_max:,.2f} per month) {where}, "
            "before traffic-dependent charges"))
        if self.prices:
            out.append(text_table.paragraph(f"prices: {self.prices['summary']}"))
        od = self.on_demand_design_usd_per_hour_max
        if od is not None:
            out.append(text_table.paragraph(
                "all on-demand (the same models, node groups designed for on-demand), the maximum would be "
                f"${od:,.2f} per hour" + (f" (spot saves {(1 - self.usd_per_hour_max / od) * 100:.0f}% at max)"
                                          if od > self.usd_per_hour_max + 1e-9 else "")))
        return "\n".join(out)


def estimate(inputs: CostInputs, catalog: Mapping[str, pricing.InstanceType] | None = None) -> CostEstimate:
    """Rows and totals for ``inputs``. Raises PricingError for unknown types/regions, naming what is missing."""
    cat = catalog if catalog is not None else pricing.catalog()
    prices = inputs.prices or pricing.price_book(inputs.region, fallback_to_us_east_1=inputs.fallback_to_us_east_1)
    if prices.region != inputs.region:
        raise PricingError(f"price book for {prices.region} handed to an estimate for {inputs.region}")
    hpm = inputs.hours_per_month
    rows: list[CostRow] = []
    groups: list[NodeGroupEstimate] = []
    assumptions = [
        f"{hpm:g} hours per month",
        *prices.assumptions(),
        "not estimated (traffic-dependent): NAT gateway data processing ($0.045/GB), ALB LCUs ($0.008/LCU-hour), "
        "NLB NLCUs ($0.006/NLCU-hour), data transfer, KMS requests, CloudWatch logs and metrics",
        "node counts at min and max replicas come from packing replicas on allocatable capacity minus per-node "
        "DaemonSet reserves; the system node group is a node group like any other",
        *prices.notes,
    ]

    def fixed(resource: str, detail: str, count: int, unit: float) -> None:
        if count:
            rows.append(CostRow(resource, detail, count, count, unit, None, count * unit, count * unit))

    if inputs.control_planes:
        unit = pricing.EKS_EXTENDED_SUPPORT_USD_PER_HOUR if inputs.extended_support else pricing.EKS_CONTROL_PLANE_USD_PER_HOUR
        fixed("eks control plane", "extended support" if inputs.extended_support else "standard support",
              inputs.control_planes, unit)

    names_seen: set[str] = set()
    for g in inputs.node_groups:
        if g.name in names_seen:
            raise ValueError(f"node group name {g.name!r} appears twice")
        names_seen.add(g.name)
        label = "spot" if g.capacity_type == SPOT else "on-demand"

        def priced(instance_type: str, spot_types: tuple[str, ...]) -> tuple[float, float | None, float, str]:
            if instance_type not in cat:
                raise PricingError(f"node group {g.name!r}: instance type {instance_type!r} is not in the pricing data")
            od = prices.on_demand(cat[instance_type])
            if od is None:
                where = f" for {prices.region} ({prices.data.origin})" if prices.data else ""
                raise PricingError(f"node group {g.name!r}: {instance_type} has no on-demand price in the pricing data{where}")
            spot_names = spot_types or (instance_type,)
            for n in spot_names:
                if n not in cat:
                    raise PricingError(f"node group {g.name!r}: instance type {n!r} is not in the pricing data")
            spot = prices.mean_spot(cat[n] for n in spot_names) if g.capacity_type == SPOT else None
            if g.capacity_type == SPOT and spot is None:
                assumptions.append(f"node group {g.name!r}: no spot data for {', '.join(spot_names)}; priced at on-demand")
            if spot is not None:
                # The same types as the spot mean: the spot row compares like with like.
                od = sum(prices.priced_on_demand(cat[n]) for n in spot_names if prices.spot(cat[n]) is not None) / \
                    sum(1 for n in spot_names if prices.spot(cat[n]) is not None)
            text = ", ".join(spot_names) if g.capacity_type == SPOT else instance_type
            return od, spot, spot if spot is not None else od, f"{text} ({label})"

        od, spot, unit, detail = priced(g.instance_type, g.spot_instance_types)
        od_max, spot_max, unit_max = od, spot, unit
        if g.max_instance_type and g.max_instance_type != g.instance_type:
            od_max, spot_max, unit_max, detail_max = priced(g.max_instance_type, g.max_spot_instance_types)
            detail = f"{detail} at min; {detail_max} at max"
        usd_min, usd_max = g.nodes_min * unit, g.nodes_max * unit_max
        if g.parts_min or g.parts_max:
            # A mix at one end (or both): each kind at its own price; the row's unit prices are then the mean per node.
            def mix(parts: tuple[tuple[tuple[str, ...], int], ...], nodes: int,
                    one: tuple[str, tuple[str, ...]]) -> tuple[float, float, float | None, str]:
                parts = parts or ((one[1] or (one[0],), nodes),)
                usd = od_sum = 0.0
                spot_sum: float | None = 0.0 if g.capacity_type == SPOT else None
                words = []
                for types, n in parts:
                    p_od, p_spot, p_unit, p_detail = priced(types[0], types if g.capacity_type == SPOT else ())
                    usd += n * p_unit
                    od_sum += n * p_od
                    spot_sum = None if spot_sum is None or p_spot is None else spot_sum + n * p_spot
                    words.append(f"{n} × {p_detail}")
                total = sum(n for _, n in parts) or 1
                return usd, od_sum / total, None if spot_sum is None else spot_sum / total, " + ".join(words)
            usd_min, _, _, detail_min = mix(g.parts_min, g.nodes_min, (g.instance_type, g.spot_instance_types))
            usd_max, od_max, spot_max, detail_max = mix(
                g.parts_max, g.nodes_max, (g.max_instance_type or g.instance_type,
                                           g.max_spot_instance_types if g.max_instance_type else g.spot_instance_types))
            detail = f"{detail_min} at min; {detail_max} at max"
        rows.append(CostRow(f"{g.kind} {g.name}", detail, g.nodes_min, g.nodes_max, od_max, spot_max,
                            usd_min, usd_max))
        vol_unit = root_volume_usd_per_month(g.root_volume) / hpm
        rows.append(CostRow(f"ebs root volumes, {g.kind} {g.name}", g.root_volume.describe(), g.nodes_min,
                            g.nodes_max, vol_unit, None, g.nodes_min * vol_unit, g.nodes_max * vol_unit))
        groups.append(NodeGroupEstimate(g.name, g.instance_type, g.capacity_type, g.nodes_min, g.nodes_max,
                                        usd_min + g.nodes_min * vol_unit, usd_max + g.nodes_max * vol_unit,
                                        g.max_instance_type or g.instance_type, _nodes_by_type(g, prices, cat)))

    fixed("nat gateways", "", inputs.nat_gateways, pricing.NAT_GATEWAY_USD_PER_HOUR)
    ipv4 = inputs.nat_gateways if inputs.public_ipv4_addresses is None else inputs.public_ipv4_addresses
    fixed("public ipv4 addresses", "one per nat gateway" if inputs.public_ipv4_addresses is None else "", ipv4,
          pricing.PUBLIC_IPV4_USD_PER_HOUR)
    for kind, unit in (("alb", pricing.ALB_USD_PER_HOUR), ("nlb", pricing.NLB_USD_PER_HOUR)):
        lbs = [lb for lb in inputs.load_balancers if lb.kind == kind]
        fixed(f"{kind} load balancers", ", ".join(lb.name for lb in lbs if lb.name), len(lbs), unit)
    fixed("kms keys", "", inputs.kms_keys, pricing.KMS_KEY_USD_PER_MONTH / hpm)
    if inputs.managed_grafana is not None:
        _managed_grafana_rows(inputs.managed_grafana, hpm, rows, assumptions)

    total_min = sum(r.usd_per_hour_min for r in rows)
    total_max = sum(r.usd_per_hour_max for r in rows)
    return CostEstimate(
        region=inputs.region,
        rows=tuple(rows),
        node_groups=tuple(groups),
        usd_per_hour_min=total_min,
        usd_per_hour_max=total_max,
        hours_per_month=hpm,
        sources=tuple(pricing.INSTANCE_DATA_SOURCES) + tuple(pricing.FIXED_COST_SOURCES),
        assumptions=tuple(assumptions),
        flagged=prices.is_fallback,
        on_demand_design_usd_per_hour_max=_on_demand_design_max(inputs, groups, total_max, catalog),
        prices=prices.to_json(),
    )


def _managed_grafana_rows(m: ManagedGrafanaCost, hpm: float, rows: list[CostRow], assumptions: list[str]) -> None:
    """AMG licences (at least one editor per workspace) and AMP samples ingested, at min and at max replicas."""
    if m.workspaces:
        editors = max(m.editors, pricing.AMG_MIN_EDITORS) * m.workspaces
        unit = pricing.AMG_EDITOR_USD_PER_MONTH / hpm
        rows.append(CostRow("managed grafana editor licences", "active editors and admins a month", editors, editors,
                            unit, None, editors * unit, editors * unit))
        if m.viewers:
            unit = pricing.AMG_VIEWER_USD_PER_MONTH / hpm
            rows.append(CostRow("managed grafana viewer licences", "active viewers a month", m.viewers, m.viewers,
                                unit, None, m.viewers * unit, m.viewers * unit))
    per_sample = pricing.AMP_USD_PER_10M_SAMPLES / 1e7
    lo, hi = m.samples_per_month(False, hpm), m.samples_per_month(True, hpm)
    rows.append(CostRow(
        "amp samples ingested",
        f"{m.active_series(False):,} - {m.active_series(True):,} series every {m.scrape_interval_seconds} s: "
        f"{lo / 1e9:.2f} - {hi / 1e9:.2f} billion samples a month", 1, 1, hi * per_sample / hpm, None,
        lo * per_sample / hpm, hi * per_sample / hpm))
    cluster, per_node, per_pod = amp_series(m.remote_write)
    what = "every series" if m.remote_write == "all" else "only the dashboards' metrics"
    assumptions.append(
        f"amp active series assumed, not measured ({what} remote-written): {cluster:,} for the cluster + {per_node:,} "
        f"per node + {per_pod:,} per model pod; every sample at the first tier's "
        f"${pricing.AMP_USD_PER_10M_SAMPLES:.2f} per 10 million"
        + (" (above 2 billion a month the real tiers are cheaper)" if hi > pricing.AMP_FIRST_TIER_SAMPLES else "")
        + "; AMP storage and query samples processed, and AMG's free trial, not estimated")


def _on_demand_design_max(inputs: CostInputs, groups: Sequence[NodeGroupEstimate], total_max: float,
                          catalog: Mapping[str, pricing.InstanceType] | None) -> float | None:
    """Total at max with the on-demand design's node groups in place of this estimate's node groups."""
    if inputs.on_demand_design is None:
        return None
    od = estimate(CostInputs(region=inputs.region, node_groups=tuple(inputs.on_demand_design), control_planes=0,
                             fallback_to_us_east_1=inputs.fallback_to_us_east_1, hours_per_month=inputs.hours_per_month,
                             prices=inputs.prices),
                  catalog)
    return total_max - sum(g.usd_per_hour_max for g in groups) + od.usd_per_hour_max


def _nodes_by_type(g: NodeGroupCost, prices: pricing.PriceBook, cat: Mapping[str, pricing.InstanceType]) -> dict[str, Any]:
    """Expected nodes per "<type>/<capacity>" at min and at max: a spot group's nodes spread evenly over its types
    with spot data (the assumption behind its mean spot price); an on-demand group's on its type. At max, the
    types that run at max (``max_instance_type``, for Karpenter pools)."""
    def spread(instance_type: str, spot_types: tuple[str, ...], count: int) -> dict[str, float]:
        if not count:
            return {}
        names, label = [instance_type], ON_DEMAND
        if g.capacity_type == SPOT:
            with_spot = [n for n in (spot_types or (instance_type,)) if prices.spot(cat[n]) is not None]
            if with_spot:
                names, label = with_spot, SPOT
        return {f"{n}/{label}": count / len(names) for n in names}

    def mixed(parts: tuple[tuple[tuple[str, ...], int], ...], one: tuple[str, tuple[str, ...]],
              count: int) -> dict[str, float]:
        if not parts:
            return spread(*one, count)
        out: dict[str, float] = {}
        for types, n in parts:
            for k, v in spread(types[0], types if g.capacity_type == SPOT else (), n).items():
                out[k] = out.get(k, 0.0) + v
        return out

    at_max = (g.max_instance_type, g.max_spot_instance_types) if g.max_instance_type else (g.instance_type, g.spot_instance_types)
    return {"min": mixed(g.parts_min, (g.instance_type, g.spot_instance_types), g.nodes_min),
            "max": mixed(g.parts_max, at_max, g.nodes_max)}
