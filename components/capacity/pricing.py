"""EC2 shapes and prices, and the fixed AWS fees a modelstack cluster pays.

Instance data comes from ``data/ec2_instances.csv`` (see ``data/SOURCES.md``: every cell is read from a
public source at a pinned commit, nothing estimated). Fixed fees are named constants below, each with its
source in ``FIXED_COST_SOURCES`` and in ``data/FIXED_COSTS.md``.

On-demand prices exist in the CSV for **us-east-1 only** (Karpenter generates its price table for that
region alone). Any region's own prices can come from a *region price file* (:class:`RegionPrices`, written by
``modelstack prices refresh`` from the AWS APIs: on-demand, spot and which types the region offers, dated, with
its sources); :func:`price_book` uses it when the caller hands it over (``data=``). Without one, for a region
other than us-east-1 :func:`price_book` raises :class:`PricingError`, unless the caller asks for
``fallback_to_us_east_1=True``; then every price is the us-east-1 price and the book says so in
``PriceBook.notes`` so that the plan can print it. No price is invented.

Pure module: standard library only.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterable, Mapping

from modelstack.data import read_text

__all__ = [
    "PricingError",
    "InstanceType",
    "PriceBook",
    "RegionPrices",
    "PRICE_FILE_FORMAT",
    "parse_region_prices",
    "catalog",
    "known_unpriced",
    "price_book",
    "on_demand_usd_per_hour",
    "spot_usd_per_hour",
    "interruption_rank",
    "ON_DEMAND_REGIONS",
    "SPOT_ADVISOR_REGIONS",
    "INTERRUPTION_BUCKETS",
    "HOURS_PER_MONTH",
    "EKS_CONTROL_PLANE_USD_PER_HOUR",
    "EKS_EXTENDED_SUPPORT_USD_PER_HOUR",
    "NAT_GATEWAY_USD_PER_HOUR",
    "NAT_GATEWAY_USD_PER_GB",
    "ALB_USD_PER_HOUR",
    "ALB_LCU_USD_PER_HOUR",
    "NLB_USD_PER_HOUR",
    "NLB_NLCU_USD_PER_HOUR",
    "PUBLIC_IPV4_USD_PER_HOUR",
    "EBS_GP3_USD_PER_GB_MONTH",
    "EBS_GP3_BASELINE_IOPS",
    "EBS_GP3_USD_PER_IOPS_MONTH",
    "EBS_GP3_BASELINE_THROUGHPUT_MBPS",
    "EBS_GP3_USD_PER_MBPS_MONTH",
    "EBS_GP2_USD_PER_GB_MONTH",
    "KMS_KEY_USD_PER_MONTH",
    "AMG_EDITOR_USD_PER_MONTH",
    "AMG_VIEWER_USD_PER_MONTH",
    "AMG_MIN_EDITORS",
    "AMP_USD_PER_10M_SAMPLES",
    "AMP_FIRST_TIER_SAMPLES",
    "FIXED_COST_SOURCES",
    "INSTANCE_DATA_SOURCES",
]


class PricingError(ValueError):
    """A price or shape the data does not hold was asked for."""


# --------------------------------------------------------------------------------------------------
# Data provenance (from data/SOURCES.md; dates are the source commits' dates)
# --------------------------------------------------------------------------------------------------

ON_DEMAND_REGIONS: tuple[str, ...] = ("us-east-1",)
"""Regions whose on-demand prices are in the CSV."""

SPOT_ADVISOR_REGIONS: tuple[str, ...] = ("us-east-1", "us-west-2", "eu-west-1")
"""Regions whose Spot Advisor savings and interruption buckets are in the CSV."""

INTERRUPTION_BUCKETS: tuple[str, ...] = ("<5%", "5-10%", "10-15%", "15-20%", ">20%")
"""Spot Advisor 'frequency of interruption' buckets, best first."""

INSTANCE_DATA_SOURCES: tuple[Mapping[str, str], ...] = (
    MappingProxyType({
        "item": "instance shapes and allocatable CPU/memory",
        "source": "aws/karpenter-provider-aws website/content/en/docs/reference/instance-types.md",
        "commit": "692ccdd0629e488300821443f0fa0bc3c3e08047",
        "date": "2026-07-11",
    }),
    MappingProxyType({
        "item": "us-east-1 on-demand prices (Linux, shared tenancy)",
        "source": "aws/karpenter-provider-aws pkg/providers/pricing/zz_generated.pricing_aws.go",
        "commit": "6fc13b5236fd04fd16ff3f9dc7490d0813994099",
        "date": "2026-07-20",
    }),
    MappingProxyType({
        "item": "max pods (ENI limit, no prefix delegation)",
        "source": "awslabs/amazon-eks-ami templates/shared/runtime/eni-max-pods.txt",
        "commit": "2377b69aaeb8d751af1a265c2bfbeb94e6f6da90",
        "date": "2026-02-27",
    }),
    MappingProxyType({
        "item": "spot savings over on-demand and interruption buckets (AWS Spot Instance Advisor feed)",
        "source": "alexei-led/spotinfo internal/spot/data/spot-advisor-data.json",
        "commit": "5eedf20a99614443af215f4aaf09bd10805cac72",
        "date": "on or before 2025-06-28",
    }),
)

# --------------------------------------------------------------------------------------------------
# Fixed fees, us-east-1. Hourly unless the name says MONTH. AWS bills GB-month and key-month items
# prorated; modelstack converts them with HOURS_PER_MONTH.
# --------------------------------------------------------------------------------------------------

HOURS_PER_MONTH = 730
"""AWS's own convention for monthly estimates (365 × 24 / 12)."""

# data/SOURCES.md "EKS fees": AWS Containers blog, "Amazon EKS extended support for Kubernetes versions
# pricing" (effective April 2024 billing cycle); repeated by cloudburn.io and factualminds.com, 2026-06-13.
EKS_CONTROL_PLANE_USD_PER_HOUR = 0.10
EKS_EXTENDED_SUPPORT_USD_PER_HOUR = 0.60

# VPC pricing page (aws.amazon.com/vpc/pricing, worked example "$0.045 per hour", "$0.045 per GB"), as
# transcribed 2026-09-20 by api-evangelist/amazon-vpc plans/amazon-vpc-plans-pricing.yml; us-east-1 rate
# confirmed by cloudburn.io "AWS NAT Gateway Pricing" (2026-02-24) and rajesh.medampudi.com.
NAT_GATEWAY_USD_PER_HOUR = 0.045
NAT_GATEWAY_USD_PER_GB = 0.045  # data processed; traffic-dependent, not in the estimate

# aws.amazon.com/elasticloadbalancing/pricing (us-east-1 worked examples), as transcribed 2026-09-20 by
# api-evangelist/amazon-elastic-load-balancing plans/amazon-elastic-load-balancing-plans-pricing.yml.
ALB_USD_PER_HOUR = 0.0225
ALB_LCU_USD_PER_HOUR = 0.008  # per LCU-hour; traffic-dependent, not in the estimate
NLB_NLCU_USD_PER_HOUR = 0.006  # per NLCU-hour; traffic-dependent, not in the estimate
# The NLB hourly rate is not in that transcription; clustercost.com "AWS Network Load Balancer Pricing
# (US-East-1 2025 Guide)" gives $0.0225 per NLB-hour, the same as the ALB.
NLB_USD_PER_HOUR = 0.0225

# Every public IPv4 address (a NAT gateway's Elastic IP, an internet-facing load balancer's per-AZ
# addresses) since February 2024. cloudburn.io "AWS NAT Gateway Pricing" (2026-02-24).
PUBLIC_IPV4_USD_PER_HOUR = 0.005

# EBS. gp3 and gp2 storage: aws/agent-toolkit-for-aws skills/.../aws-billing-and-cost-management/references/
# ebs-optimization.md ("$0.08 vs $0.10 in us-east-1", "approximate as of early 2026"). gp3 IOPS above the
# 3,000 baseline, $0.005 per provisioned IOPS-month: webuildup.live "EBS gp2 vs gp3" (2026-04). gp3
# throughput above the 125 MB/s baseline, $0.04 per provisioned MB/s-month: saisci.com "gp3 Throughput
# Explained" (2021-01-13, us-east-1). That page prints the IOPS rate as $0.05, ten times the figure every
# other source gives; we use $0.005.
EBS_GP3_USD_PER_GB_MONTH = 0.08
EBS_GP3_BASELINE_IOPS = 3000
EBS_GP3_USD_PER_IOPS_MONTH = 0.005
EBS_GP3_BASELINE_THROUGHPUT_MBPS = 125
EBS_GP3_USD_PER_MBPS_MONTH = 0.04
EBS_GP2_USD_PER_GB_MONTH = 0.10

# aws.amazon.com/kms/pricing: "Each AWS KMS key that you create in KMS costs $1/month" (prorated hourly);
# requests beyond the 20,000/month free tier are $0.03 per 10,000 and are not in the estimate.
KMS_KEY_USD_PER_MONTH = 1.00

# Amazon Managed Grafana (aws.amazon.com/grafana/pricing, read 2026-12-03 as stored): every user licence is per
# workspace and per month, billed for *active* users (signed in or made an API request in the month); an editor
# licence is $9 per active editor or admin, a viewer licence $5 per active viewer; every workspace needs at least
# one editor licence even with no user signed in.
AMG_EDITOR_USD_PER_MONTH = 9.00
AMG_VIEWER_USD_PER_MONTH = 5.00
AMG_MIN_EDITORS = 1

# Amazon Managed Service for Prometheus (aws.amazon.com/prometheus/pricing, read 2026-12-03 as stored, and its
# worked example as transcribed by third parties): samples ingested, $0.90 per 10 million for the first 2 billion a
# month. Above 2 billion the page's cheaper tiers were not read, so the estimate prices every sample at the first
# tier's rate (an upper bound there). Storage (1-2 bytes a sample plus metadata, per GB-month) and query samples
# processed are not estimated.
AMP_USD_PER_10M_SAMPLES = 0.90
AMP_FIRST_TIER_SAMPLES = 2_000_000_000

FIXED_COST_SOURCES: tuple[Mapping[str, object], ...] = tuple(MappingProxyType(d) for d in (
    {"item": "EKS control plane (standard support)", "usd": EKS_CONTROL_PLANE_USD_PER_HOUR, "unit": "cluster-hour",
     "source": "AWS Containers blog, 'Amazon EKS extended support for Kubernetes versions pricing' (via data/SOURCES.md)",
     "date": "effective April 2024; re-confirmed by third-party guides 2026-06-13"},
    {"item": "EKS control plane (extended support)", "usd": EKS_EXTENDED_SUPPORT_USD_PER_HOUR, "unit": "cluster-hour",
     "source": "same as above", "date": "effective April 2024"},
    {"item": "NAT gateway", "usd": NAT_GATEWAY_USD_PER_HOUR, "unit": "gateway-hour",
     "source": "https://aws.amazon.com/vpc/pricing/ (transcribed by api-evangelist/amazon-vpc); "
               "https://cloudburn.io/blog/aws-nat-gateway-pricing",
     "date": "2026-02-24 / 2026-09-20"},
    {"item": "NAT gateway data processing (not estimated)", "usd": NAT_GATEWAY_USD_PER_GB, "unit": "GB",
     "source": "same as above", "date": "2026-02-24 / 2026-09-20"},
    {"item": "Application Load Balancer", "usd": ALB_USD_PER_HOUR, "unit": "ALB-hour",
     "source": "https://aws.amazon.com/elasticloadbalancing/pricing/ (transcribed by "
               "api-evangelist/amazon-elastic-load-balancing)", "date": "2026-09-20"},
    {"item": "ALB LCU (traffic-dependent, not estimated)", "usd": ALB_LCU_USD_PER_HOUR, "unit": "LCU-hour",
     "source": "same as above", "date": "2026-09-20"},
    {"item": "Network Load Balancer", "usd": NLB_USD_PER_HOUR, "unit": "NLB-hour",
     "source": "https://clustercost.com/blog/network-load-balancer-pricing-2025", "date": "2025"},
    {"item": "NLB NLCU (traffic-dependent, not estimated)", "usd": NLB_NLCU_USD_PER_HOUR, "unit": "NLCU-hour",
     "source": "https://aws.amazon.com/elasticloadbalancing/pricing/ (transcribed by "
               "api-evangelist/amazon-elastic-load-balancing)", "date": "2026-09-20"},
    {"item": "Public IPv4 address", "usd": PUBLIC_IPV4_USD_PER_HOUR, "unit": "address-hour",
     "source": "https://cloudburn.io/blog/aws-nat-gateway-pricing", "date": "2026-02-24"},
    {"item": "EBS gp3 storage", "usd": EBS_GP3_USD_PER_GB_MONTH, "unit": "GB-month",
     "source": "aws/agent-toolkit-for-aws references/ebs-optimization.md", "date": "early 2026"},
    {"item": "EBS gp3 IOPS above 3,000", "usd": EBS_GP3_USD_PER_IOPS_MONTH, "unit": "IOPS-month",
     "source": "https://www.webuildup.live/2026/04/ebs-gp2-vs-gp3-why-gp3-wins-on-cost-and.html", "date": "2026-04"},
    {"item": "EBS gp3 throughput above 125 MB/s", "usd": EBS_GP3_USD_PER_MBPS_MONTH, "unit": "MB/s-month",
     "source": "https://www.saisci.com/aws/gp3-throughput-explained/", "date": "2021-01-13"},
    {"item": "EBS gp2 storage", "usd": EBS_GP2_USD_PER_GB_MONTH, "unit": "GB-month",
     "source": "aws/agent-toolkit-for-aws references/ebs-optimization.md", "date": "early 2026"},
    {"item": "KMS customer managed key", "usd": KMS_KEY_USD_PER_MONTH, "unit": "key-month",
     "source": "https://aws.amazon.com/kms/pricing/", "date": "page as stored, undated"},
    {"item": "Amazon Managed Grafana editor licence", "usd": AMG_EDITOR_USD_PER_MONTH,
     "unit": "active editor or admin user-month, per workspace (at least one)",
     "source": "https://aws.amazon.com/grafana/pricing/", "date": "read 2026-12-03 (page as stored)"},
    {"item": "Amazon Managed Grafana viewer licence", "usd": AMG_VIEWER_USD_PER_MONTH,
     "unit": "active viewer user-month, per workspace",
     "source": "https://aws.amazon.com/grafana/pricing/", "date": "read 2026-12-03 (page as stored)"},
    {"item": "Amazon Managed Service for Prometheus samples ingested", "usd": AMP_USD_PER_10M_SAMPLES,
     "unit": "10 million samples (first 2 billion a month; applied to all)",
     "source": "https://aws.amazon.com/prometheus/pricing/", "date": "read 2026-12-03 (page as stored)"},
))


# --------------------------------------------------------------------------------------------------
# Instance catalog
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class InstanceType:
    """One EC2 instance type, as the CSV describes it. Sizes per GPU unless the name says total."""

    name: str
    family: str
    arch: str | None  # "amd64", "arm64", or None where the source has no label (p3)
    vcpu: int
    memory_gib: float
    gpu_count: int
    gpu_model: str | None  # Karpenter's lower-case name: t4, a10g, l4, l40s, v100, a100, h100, h200
    gpu_memory_gib: float | None  # per GPU, EC2-API value (A10G = 22.352, below the marketed 24)
    accelerator_count: int  # Inferentia devices
    accelerator_model: str | None
    neuroncores: int
    max_pods: int
    alloc_cpu_millicores: int | None  # None when the source has no allocatable data (p3.*)
    alloc_memory_gib: float | None
    on_demand_usd_per_hour: float | None  # us-east-1; None when absent (p5e.48xlarge)
    spot_savings_pct: Mapping[str, float] = field(default_factory=dict, hash=False, compare=False)
    spot_interruption: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    local_nvme_gb: int = 0  # instance-store NVMe, GB (0: none); the LLM weights' node-local cache needs some

    def __repr__(self) -> str:
        return f"InstanceType({self.name!r})"

    @property
    def is_gpu(self) -> bool:
        return self.gpu_count > 0

    @property
    def is_inferentia(self) -> bool:
        return self.accelerator_count > 0

    @property
    def alloc_memory_mib(self) -> float | None:
        return None if self.alloc_memory_gib is None else self.alloc_memory_gib * 1024.0

    @property
    def size(self) -> str:
        return self.name.split(".", 1)[1]


def _int(cell: str) -> int:
    return int(cell) if cell.strip() else 0


def _float_or_none(cell: str) -> float | None:
    return float(cell) if cell.strip() else None


def _parse_row(row: Mapping[str, str]) -> InstanceType:
    savings: dict[str, float] = {}
    buckets: dict[str, str] = {}
    for region in SPOT_ADVISOR_REGIONS:
        key = region.replace("-", "_")
        pct = row[f"spot_savings_pct_{key}"].strip()
        bucket = row[f"spot_interrupt_freq_{key}"].strip()
        if pct:
            savings[region] = float(pct)
        if bucket:
            buckets[region] = bucket
    alloc_cpu = row["alloc_cpu_millicores"].strip()
    return InstanceType(
        name=row["instance_type"],
        family=row["family"],
        arch=row["arch"].strip() or None,
        vcpu=int(row["vcpu"]),
        memory_gib=float(row["memory_gib"]),
        gpu_count=_int(row["gpu_count"]),
        gpu_model=row["gpu_model"].strip() or None,
        gpu_memory_gib=_float_or_none(row["gpu_memory_gib"]),
        accelerator_count=_int(row["accelerator_count"]),
        accelerator_model=row["accelerator_model"].strip() or None,
        neuroncores=_int(row["neuroncores"]),
        max_pods=int(row["max_pods"]),
        alloc_cpu_millicores=int(alloc_cpu) if alloc_cpu else None,
        alloc_memory_gib=_float_or_none(row["alloc_memory_gib"]),
        on_demand_usd_per_hour=_float_or_none(row["on_demand_usd_per_hour"]),
        spot_savings_pct=MappingProxyType(savings),
        spot_interruption=MappingProxyType(buckets),
        local_nvme_gb=_int(row.get("local_nvme_gb") or ""),
    )


def load_catalog(text: str) -> Mapping[str, InstanceType]:
    """Parse CSV text in the ``ec2_instances.csv`` layout (exposed for tests with hand-made rows)."""
    rows = csv.DictReader(io.StringIO(text))
    out: dict[str, InstanceType] = {}
    for row in rows:
        itype = _parse_row(row)
        if itype.name in out:
            raise PricingError(f"duplicate instance type {itype.name!r} in the pricing data")
        out[itype.name] = itype
    return MappingProxyType(out)


@functools.lru_cache(maxsize=1)
def catalog() -> Mapping[str, InstanceType]:
    """Every instance type in ``modelstack/data/ec2_instances.csv``, keyed by name (read once)."""
    return load_catalog(read_text("ec2_instances.csv"))


@functools.lru_cache(maxsize=1)
def known_unpriced() -> frozenset[str]:
    """Real EC2 instance types that are not rows of the price table (``data/ec2_known_unpriced.txt``: every type
    named in the pinned Karpenter instance-type reference or us-east-1 price table that the CSV does not hold,
    e.g. `*.metal`, sizes above the table's largest, types with a source column missing such as trn2.48xlarge)."""
    lines = read_text("ec2_known_unpriced.txt").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def interruption_rank(bucket: str | None) -> int:
    """0 for '<5%' … 4 for '>20%'; 5 when the feed has no bucket (unknown is worst)."""
    try:
        return INTERRUPTION_BUCKETS.index(bucket) if bucket else len(INTERRUPTION_BUCKETS)
    except ValueError:
        return len(INTERRUPTION_BUCKETS)


# --------------------------------------------------------------------------------------------------
# Prices per region
# --------------------------------------------------------------------------------------------------

def _check_region(region: str) -> None:
    if region not in ON_DEMAND_REGIONS:
        raise PricingError(
            f"no on-demand prices for region {region!r}: the pricing data holds us-east-1 prices only "
            "(Karpenter's generated price table, 2026-07-20). Estimate with us-east-1 prices explicitly "
            "(price_book(region, fallback_to_us_east_1=True)) and say so, or add that region's prices."
        )


def on_demand_usd_per_hour(itype: InstanceType, region: str = "us-east-1") -> float:
    """The on-demand Linux price of ``itype`` in ``region``; PricingError when the data has none."""
    _check_region(region)
    if itype.on_demand_usd_per_hour is None:
        raise PricingError(f"{itype.name} has no on-demand price in the pricing data (source has no entry)")
    return itype.on_demand_usd_per_hour


def spot_usd_per_hour(itype: InstanceType, region: str = "us-east-1") -> float | None:
    """Expected spot price: on-demand × (1 − Spot Advisor savings/100). None when savings are unknown.

    The Advisor's savings figure is a ±10-point proxy, not a price (data/SOURCES.md, cross-checks).
    Raises PricingError, like :func:`on_demand_usd_per_hour`, when the on-demand price is unknown.
    """
    od = on_demand_usd_per_hour(itype, region)
    savings = itype.spot_savings_pct.get(region)
    if savings is None:
        return None
    return _expected_spot(od, savings)


def _expected_spot(on_demand: float, savings_pct: float) -> float:
    return on_demand * (1.0 - savings_pct / 100.0)


PRICE_FILE_FORMAT = 1
"""The ``format`` of a region price file this code reads and ``modelstack prices refresh`` writes."""


@dataclass(frozen=True)
class RegionPrices:
    """One region's EC2 prices and offerings, as a region price file holds them (see :func:`parse_region_prices`).

    ``on_demand``: Linux, shared tenancy on-demand $/h per type. ``spot``: expected spot $/h per type, the median
    over the region's availability zones of each zone's latest spot price (``spot_by_zone``). ``offered``: the
    types the region offers (DescribeInstanceTypeOfferings); a type not listed is never chosen.
    """

    region: str
    date: str
    """Day the prices were fetched (YYYY-MM-DD)."""
    sources: Mapping[str, str]
    on_demand: Mapping[str, float]
    spot: Mapping[str, float]
    spot_by_zone: Mapping[str, Mapping[str, float]]
    offered: frozenset[str]
    origin: str = ""
    """Where the file was read from, as the plan names it."""

    def describe(self) -> str:
        where = f" ({self.origin})" if self.origin else ""
        return (f"{self.region} prices fetched {self.date} from the AWS APIs{where}: on-demand from "
                f"{self.sources.get('on_demand', '?')}; spot from {self.sources.get('spot', '?')}; offered types from "
                f"{self.sources.get('offered', '?')}")


def _median(values: Iterable[float]) -> float:
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


def _positive(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 and x == x and x != float("inf")


def parse_region_prices(doc: object, origin: str = "") -> RegionPrices:
    """A region price file's JSON document (already parsed) as :class:`RegionPrices`; PricingError naming the
    file and the first thing wrong. Layout (``format`` 1)::

        {"format": 1, "region": "eu-central-1", "date": "2026-12-03", "fetched_at": "2026-12-03T05:49:43Z",
         "sources": {"on_demand": "...", "spot": "...", "offered": "..."},
         "instance_types": {"m6i.large": {"offered": true, "on_demand_usd_per_hour": 0.115,
                                          "spot_usd_per_hour": {"eu-central-1a": 0.0412, ...}}, ...}}
    """
    import datetime as _dt

    where = origin or "region price file"

    def bad(what: str) -> PricingError:
        return PricingError(f"{where}: {what}")

    if not isinstance(doc, Mapping):
        raise bad("not a JSON object")
    if doc.get("format") != PRICE_FILE_FORMAT:
        raise bad(f"format is {doc.get('format')!r}, this modelstack reads format {PRICE_FILE_FORMAT}")
    region, day = doc.get("region"), doc.get("date")
    if not isinstance(region, str) or not region:
        raise bad("no region")
    try:
        if not isinstance(day, str):
            raise ValueError(day)
        _dt.date.fromisoformat(day)
    except ValueError:
        raise bad(f"date is {day!r}, not YYYY-MM-DD") from None
    sources = doc.get("sources")
    if not isinstance(sources, Mapping) or not all(isinstance(sources.get(k), str) for k in ("on_demand", "spot", "offered")):
        raise bad("sources must name on_demand, spot and offered")
    types = doc.get("instance_types")
    if not isinstance(types, Mapping) or not types:
        raise bad("no instance_types")
    on_demand: dict[str, float] = {}
    spot: dict[str, float] = {}
    by_zone: dict[str, Mapping[str, float]] = {}
    offered: set[str] = set()
    for name, entry in types.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("offered"), bool):
            raise bad(f"instance_types.{name}: needs offered: true or false")
        if entry["offered"]:
            offered.add(name)
        od = entry.get("on_demand_usd_per_hour")
        if od is not None:
            if not _positive(od):
                raise bad(f"instance_types.{name}.on_demand_usd_per_hour is {od!r}, not a positive number")
            on_demand[name] = float(od)
        zones = entry.get("spot_usd_per_hour") or {}
        if not isinstance(zones, Mapping) or not all(isinstance(z, str) and _positive(v) for z, v in zones.items()):
            raise bad(f"instance_types.{name}.spot_usd_per_hour must map availability zones to positive prices")
        if zones:
            by_zone[name] = MappingProxyType({z: float(v) for z, v in sorted(zones.items())})
            spot[name] = _median(by_zone[name].values())
    return RegionPrices(region=region, date=day, sources=MappingProxyType(dict(sources)),
                        on_demand=MappingProxyType(on_demand), spot=MappingProxyType(spot),
                        spot_by_zone=MappingProxyType(by_zone), offered=frozenset(offered), origin=origin)


#: How the built-in table's prices are described in a plan (data/SOURCES.md).
_CSV_ON_DEMAND = "on-demand EC2 prices: us-east-1, Linux, shared tenancy, Karpenter's generated table of 2026-07-20"
_CSV_SPOT = ("expected spot price = on-demand × (1 − AWS Spot Advisor 'savings over on-demand'/100), averaged over a "
             "spot group's instance types; Advisor data from on or before 2025-06-28, a ±10-point proxy, not a price")


@dataclass(frozen=True)
class PriceBook:
    """Prices for one deployment region, with any fallback spelled out in ``notes``.

    ``region`` is where the cluster runs; ``price_region`` is whose on-demand prices are used. They differ
    only when the caller accepted the us-east-1 fallback. With ``data`` (the region's price file), on-demand and
    spot prices are the file's and only the types it lists as offered (and priced) are usable. Without it, spot
    savings and interruption buckets are taken from ``region`` when the Spot Advisor data has it, else from
    ``price_region`` (also noted).
    """

    region: str
    price_region: str
    notes: tuple[str, ...] = ()
    data: RegionPrices | None = field(default=None, compare=False, hash=False)

    @property
    def is_fallback(self) -> bool:
        return self.region != self.price_region

    def _spot_region(self) -> str:
        return self.region if self.region in SPOT_ADVISOR_REGIONS else self.price_region

    def offers(self, itype: InstanceType) -> bool:
        """False when the region's data says it does not offer ``itype``, or has no on-demand price for it (such a
        type is never chosen). True without data: nothing is known against it."""
        if self.data is None:
            return True
        return itype.name in self.data.offered and itype.name in self.data.on_demand

    def usable(self, catalog: Mapping[str, InstanceType]) -> dict[str, InstanceType]:
        """The part of ``catalog`` this region offers and has prices for."""
        return {n: t for n, t in catalog.items() if self.offers(t) and self.on_demand(t) is not None}

    def on_demand(self, itype: InstanceType) -> float | None:
        """On-demand $/h, or None when the data has no price for this type (or the region does not offer it)."""
        if self.data is not None:
            return self.data.on_demand.get(itype.name) if itype.name in self.data.offered else None
        if itype.on_demand_usd_per_hour is None:
            return None
        return on_demand_usd_per_hour(itype, self.price_region)

    def priced_on_demand(self, itype: InstanceType) -> float:
        """:meth:`on_demand` of a type already known to have one (one of :meth:`usable`); PricingError if not."""
        od = self.on_demand(itype)
        if od is None:
            raise PricingError(f"{itype.name} has no on-demand price in {self.region}'s price data")
        return od

    def savings_pct(self, itype: InstanceType) -> float | None:
        if self.data is not None:
            od, spot = self.on_demand(itype), self.spot(itype)
            return None if od is None or spot is None else (1.0 - spot / od) * 100.0
        return itype.spot_savings_pct.get(self._spot_region())

    def spot(self, itype: InstanceType) -> float | None:
        """Expected spot $/h, or None when unknown. From the region's file: the median over zones of the latest
        price. Else on-demand × (1 − Spot Advisor savings/100)."""
        od = self.on_demand(itype)
        if od is None:
            return None
        if self.data is not None:
            return self.data.spot.get(itype.name)
        savings = self.savings_pct(itype)
        if savings is None:
            return None
        return _expected_spot(od, savings)

    def priced_spot(self, itype: InstanceType) -> float:
        """:meth:`spot` of a type already known to have one (spot data checked); PricingError if not."""
        spot = self.spot(itype)
        if spot is None:
            raise PricingError(f"{itype.name} has no spot price in {self.region}'s price data")
        return spot

    def mean_spot(self, itypes: Iterable[InstanceType]) -> float | None:
        """Mean expected spot $/h over the types that have one (a spot group's unit price); None when none has."""
        known = [p for p in (self.spot(t) for t in itypes) if p is not None]
        return sum(known) / len(known) if known else None

    def interruption(self, itype: InstanceType) -> str | None:
        """Spot Advisor bucket (the CSV's regions only; None, ranked worst, elsewhere)."""
        if self.data is not None:
            return itype.spot_interruption.get(self.region)
        return itype.spot_interruption.get(self._spot_region())

    def source(self) -> str:
        """One line: the region, and where and when its prices come from (what every plan shows)."""
        if self.data is not None:
            return self.data.describe()
        if self.is_fallback:
            return (f"no price data for {self.region}: us-east-1 prices used instead (Karpenter's generated table of "
                    f"2026-07-20; spot from the Spot Advisor, on or before 2025-06-28); run `modelstack prices refresh "
                    f"--region {self.region}` for {self.region}'s own prices and offered types")
        return ("us-east-1 prices from the built-in table: on-demand from Karpenter's generated table of 2026-07-20, "
                "spot from the AWS Spot Advisor (on or before 2025-06-28); see data/SOURCES.md")

    def assumptions(self) -> tuple[str, ...]:
        """The cost estimate's lines on its EC2 prices."""
        fixed = () if self.region == "us-east-1" else (
            f"fixed fees (NAT gateway, load balancers, public IPv4, EBS, KMS) are us-east-1 list prices, not "
            f"{self.region}'s; the EKS control plane fee is the same in every region",)
        if self.data is None:
            return (_CSV_ON_DEMAND, _CSV_SPOT) + fixed
        d = self.data
        where = f" ({d.origin})" if d.origin else ""
        return (f"on-demand EC2 prices: {d.region}, Linux, shared tenancy, {d.sources.get('on_demand')}, fetched "
                f"{d.date}{where}",
                f"expected spot price = the median over {d.region}'s availability zones of the latest spot price "
                f"({d.sources.get('spot')}, fetched {d.date}), averaged over a spot group's instance types",
                f"instance types: only the {len(d.offered & set(d.on_demand))} types {d.region} offers and prices "
                f"({d.sources.get('offered')}, fetched {d.date}) are chosen") + fixed

    def to_json(self) -> dict[str, object]:
        """The ``prices`` object of ``plan.json``: whose prices, from when and where."""
        d = self.data
        return {
            "region": self.region,
            "price_region": self.price_region,
            "fallback": self.is_fallback,
            "date": d.date if d else "2026-07-20",
            "spot_date": d.date if d else "on or before 2025-06-28",
            "source": dict(d.sources) if d else {
                "on_demand": "aws/karpenter-provider-aws pkg/providers/pricing/zz_generated.pricing_aws.go (us-east-1)",
                "spot": "AWS Spot Instance Advisor feed (alexei-led/spotinfo copy), savings over on-demand",
                "offered": "not checked"},
            "file": d.origin if d else None,
            "summary": self.source(),
        }


def price_book(region: str, *, fallback_to_us_east_1: bool = False, data: RegionPrices | None = None) -> PriceBook:
    """The prices to use for a cluster in ``region``.

    With ``data`` (the region's price file), the book uses it. Otherwise, raises PricingError for a region without
    on-demand prices unless ``fallback_to_us_east_1``; with it, the book uses us-east-1 prices and carries a note
    that the plan must show.
    """
    if data is not None:
        if data.region != region:
            raise PricingError(f"{data.origin or 'region price file'} holds prices for {data.region}, not {region}")
        return PriceBook(region=region, price_region=region, data=data)
    if region in ON_DEMAND_REGIONS:
        return PriceBook(region=region, price_region=region)
    if not fallback_to_us_east_1:
        _check_region(region)
    notes = [
        f"on-demand prices for {region} are not in the pricing data; every EC2 and fixed price shown is the "
        "us-east-1 price, not a price for this region"
    ]
    if region in SPOT_ADVISOR_REGIONS:
        notes.append(f"spot savings and interruption buckets are {region}'s (Spot Advisor), applied to us-east-1 prices")
    else:
        notes.append(f"spot savings and interruption buckets are us-east-1's; the data has none for {region}")
    notes.append(f"which instance types {region} offers is not checked (no price file for it); run `modelstack "
                 f"prices refresh --region {region}` for its own prices and offerings")
    return PriceBook(region=region, price_region="us-east-1", notes=tuple(notes))
