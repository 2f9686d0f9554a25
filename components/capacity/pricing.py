"""EC2 shapes and prices, and the fixed AWS fees a modelstack cluster pays.

Instance data comes from ``data/ec2_instances.csv`` (see ``data/SOURCES.md``: every cell is read from a
public source at a pinned commit, nothing estimated). Fixed fees are named constants below, each with its
source in ``FIXED_COST_SOURCES`` and in ``data/FIXED_COSTS.md``.

On-demand prices exist in the data for **us-east-1 only** (Karpenter generates its price table for that
region alone). For any other region :func:`price_book` raises :class:`PricingError`, unless the caller asks
for ``fallback_to_us_east_1=True``; then every price is the us-east-1 price and the book says so in
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


@dataclass(frozen=True)
class PriceBook:
    """Prices for one deployment region, with any fallback spelled out in ``notes``.

    ``region`` is where the cluster runs; ``price_region`` is whose on-demand prices are used. They differ
    only when the caller accepted the us-east-1 fallback. Spot savings and interruption buckets are taken
    from ``region`` when the Spot Advisor data has it, else from ``price_region`` (also noted).
    """

    region: str
    price_region: str
    notes: tuple[str, ...] = ()

    @property
    def is_fallback(self) -> bool:
        return self.region != self.price_region

    def _spot_region(self) -> str:
        return self.region if self.region in SPOT_ADVISOR_REGIONS else self.price_region

    def on_demand(self, itype: InstanceType) -> float | None:
        """On-demand $/h, or None when the data has no price for this type."""
        if itype.on_demand_usd_per_hour is None:
            return None
        return on_demand_usd_per_hour(itype, self.price_region)

    def savings_pct(self, itype: InstanceType) -> float | None:
        return itype.spot_savings_pct.get(self._spot_region())

    def spot(self, itype: InstanceType) -> float | None:
        """Expected spot $/h (on-demand × (1 − savings/100)), or None when either input is unknown."""
        od = self.on_demand(itype)
        savings = self.savings_pct(itype)
        if od is None or savings is None:
            return None
        return _expected_spot(od, savings)

    def mean_spot(self, itypes: Iterable[InstanceType]) -> float | None:
        """Mean expected spot $/h over the types that have one (a spot group's unit price); None when none has."""
        known = [p for p in (self.spot(t) for t in itypes) if p is not None]
        return sum(known) / len(known) if known else None

    def interruption(self, itype: InstanceType) -> str | None:
        return itype.spot_interruption.get(self._spot_region())


def price_book(region: str, *, fallback_to_us_east_1: bool = False) -> PriceBook:
    """The prices to use for a cluster in ``region``.

    Raises PricingError for a region without on-demand prices unless ``fallback_to_us_east_1``; with it,
    the book uses us-east-1 prices and carries a note that the plan must show.
    """
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
    return PriceBook(region=region, price_region="us-east-1", notes=tuple(notes))
