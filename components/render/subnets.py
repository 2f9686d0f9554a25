"""Subnet CIDR carving for the cluster VPC (pure).

Layout of a VPC block of prefix /p (p <= 24), split in quarters: quarters 0..n-1 are the private subnets
(/p+2 each: nodes *and* pods take VPC addresses with the VPC CNI, so they get the space); quarter 3 is cut into
/p+4 blocks, the first n of which are the public subnets (load balancers and NAT gateways only).
For 10.0.0.0/16 and 3 AZs: private 10.0.0.0/18, 10.0.64.0/18, 10.0.128.0/18; public 10.0.192.0/20, 10.0.208.0/20,
10.0.224.0/20.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

NAT_MODES = ("none", "single", "per_az")


@dataclass(frozen=True)
class SubnetPlan:
    zone: str
    private_cidr: str
    public_cidr: str


def carve(vpc_cidr: str, zones: list[str]) -> list[SubnetPlan]:
    """One private and one public CIDR per zone (2 or 3 zones)."""
    net = ipaddress.ip_network(vpc_cidr, strict=True)
    if net.version != 4:
        raise ValueError("the VPC CIDR must be IPv4")
    if net.prefixlen > 24:
        raise ValueError(f"the VPC CIDR must be /24 or larger, got /{net.prefixlen}")
    if not 2 <= len(zones) <= 3:
        raise ValueError(f"2 or 3 availability zones are supported, got {len(zones)}")
    quarters = list(net.subnets(prefixlen_diff=2))
    public = list(quarters[3].subnets(prefixlen_diff=2))
    return [SubnetPlan(z, str(quarters[i]), str(public[i])) for i, z in enumerate(zones)]


def nat_count(nat: str, zones: int) -> int:
    """NAT gateways for a mode: none, one shared (dev), or one per zone (prod: a zone outage keeps egress elsewhere)."""
    if nat not in NAT_MODES:
        raise ValueError(f"nat must be one of {', '.join(NAT_MODES)}, got {nat!r}")
    return {"none": 0, "single": 1, "per_az": zones}[nat]


def nat_for_zone(nat: str, zone_index: int) -> int | None:
    """Index of the NAT gateway a zone's private route table points at (None: no egress route)."""
    return {"none": None, "single": 0, "per_az": zone_index}[nat]
