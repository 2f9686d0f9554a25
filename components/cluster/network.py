"""The cluster's network: a VPC across 2-3 zones with private node subnets and public load balancer subnets,
or an existing VPC's subnets passed through untouched."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, TypedDict

import pulumi
import pulumi_aws as aws
from typing_extensions import NotRequired

from modelstack.cluster.handle import string_list
from modelstack.render import subnets

TYPE = "modelstack:index:Network"

#: Subnet tags the AWS Load Balancer Controller uses to pick subnets for internet-facing / internal load balancers.
PUBLIC_ELB_TAG = {"kubernetes.io/role/elb": "1"}
INTERNAL_ELB_TAG = {"kubernetes.io/role/internal-elb": "1"}


class NetworkArgs(TypedDict):
    cidr: NotRequired[str]
    """VPC CIDR block. Default "10.0.0.0/16"; /24 or larger. Ignored with `existing_vpc_id`."""
    az_count: NotRequired[int]
    """Availability zones, 2 or 3. Default 2. Ignored with `existing_vpc_id`."""
    nat: NotRequired[str]
    """NAT gateways: "none", "single" (dev) or "per_az" (prod). Default "single". "none" leaves nodes without
    internet egress (they then need VPC endpoints for ECR, S3, STS, EKS). Ignored with `existing_vpc_id`."""
    existing_vpc_id: NotRequired[pulumi.Input[str]]
    """Use this VPC instead of creating one; no resources are created. Default: create a VPC."""
    existing_private_subnet_ids: NotRequired[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """Node subnets of the existing VPC. Default: none; required with `existing_vpc_id`."""
    existing_public_subnet_ids: NotRequired[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """Load balancer subnets of the existing VPC. Default: none (internal load balancers only)."""
    tags: NotRequired[Mapping[str, str]]
    """Tags on every resource (cost allocation). Default: none."""


class Network(pulumi.ComponentResource):
    """A VPC for EKS: private subnets for nodes, public ones for load balancers, NAT none/single/per zone."""

    vpc_id: pulumi.Output[str]
    """The VPC."""
    private_subnet_ids: pulumi.Output[Sequence[str]]
    """Node subnets, one per zone."""
    public_subnet_ids: pulumi.Output[Sequence[str]]
    """Load balancer subnets, one per zone (empty for an existing VPC without them)."""
    availability_zones: pulumi.Output[list[str]]
    """Zones used (empty for an existing VPC)."""
    nat_gateway_ids: pulumi.Output[list[str]]
    """NAT gateways created (0, 1 or one per zone)."""

    def __init__(self, name: str, args: NetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, None, opts)
        tags = dict(args.get("tags") or {})
        if args.get("existing_vpc_id") is not None:
            if args.get("existing_private_subnet_ids") is None:
                raise ValueError(f"{name}: existing_private_subnet_ids is required with existing_vpc_id")
            self.vpc_id = pulumi.Output.from_input(args["existing_vpc_id"])
            self.private_subnet_ids = string_list(args["existing_private_subnet_ids"])
            self.public_subnet_ids = string_list(args.get("existing_public_subnet_ids") or [])
            self.availability_zones = pulumi.Output.from_input([])
            self.nat_gateway_ids = pulumi.Output.from_input([])
        else:
            self._create(name, args, tags)
        self.register_outputs({
            "vpc_id": self.vpc_id,
            "private_subnet_ids": self.private_subnet_ids,
            "public_subnet_ids": self.public_subnet_ids,
            "availability_zones": self.availability_zones,
            "nat_gateway_ids": self.nat_gateway_ids,
        })

    def _create(self, name: str, args: NetworkArgs, tags: dict[str, str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        nat = args.get("nat", "single")
        az_count = args.get("az_count", 2)
        if not 2 <= az_count <= 3:
            raise ValueError(f"{name}: az_count must be 2 or 3, got {az_count}")
        # Resolved at program time so each zone's resources get a stable, readable name.
        zones = aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(parent=self)).names[:az_count]
        if len(zones) < az_count:
            raise ValueError(f"{name}: the region offers {len(zones)} zones, {az_count} requested")
        plan = subnets.carve(args.get("cidr", "10.0.0.0/16"), list(zones))
        n_nat = subnets.nat_count(nat, az_count)

        def named(n: str, extra: Optional[dict[str, Any]] = None) -> dict[str, str]:
            return {**tags, "Name": n, **(extra or {})}

        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.get("cidr", "10.0.0.0/16"), enable_dns_hostnames=True,
                          enable_dns_support=True, tags=named(f"{name}-vpc"), opts=child)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=named(f"{name}-igw"), opts=child)
        public_rt = aws.ec2.RouteTable(f"{name}-public", vpc_id=vpc.id,
                                       routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
                                       tags=named(f"{name}-public"), opts=child)
        public, private, nats = [], [], []
        for p in plan:
            pub = aws.ec2.Subnet(f"{name}-public-{p.zone}", vpc_id=vpc.id, cidr_block=p.public_cidr,
                                 availability_zone=p.zone, map_public_ip_on_launch=False,
                                 tags=named(f"{name}-public-{p.zone}", PUBLIC_ELB_TAG), opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-public-{p.zone}", subnet_id=pub.id, route_table_id=public_rt.id, opts=child)
            public.append(pub)
        for i in range(n_nat):
            zone = plan[i].zone
            eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags=named(f"{name}-nat-{zone}"), opts=child)
            nats.append(aws.ec2.NatGateway(f"{name}-nat-{zone}", allocation_id=eip.allocation_id, subnet_id=public[i].id,
                                           connectivity_type="public", tags=named(f"{name}-nat-{zone}"),
                                           opts=pulumi.ResourceOptions(parent=self, depends_on=[igw])))
        for i, p in enumerate(plan):
            priv = aws.ec2.Subnet(f"{name}-private-{p.zone}", vpc_id=vpc.id, cidr_block=p.private_cidr,
                                  availability_zone=p.zone, map_public_ip_on_launch=False,
                                  tags=named(f"{name}-private-{p.zone}", INTERNAL_ELB_TAG), opts=child)
            k = subnets.nat_for_zone(nat, i)
            routes: list[aws.ec2.RouteTableRouteArgsDict] = (
                [{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nats[k].id}] if k is not None else [])
            rt = aws.ec2.RouteTable(f"{name}-private-{p.zone}", vpc_id=vpc.id, routes=routes,
                                    tags=named(f"{name}-private-{p.zone}"), opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-private-{p.zone}", subnet_id=priv.id, route_table_id=rt.id, opts=child)
            private.append(priv)
        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public])
        self.availability_zones = pulumi.Output.from_input(list(zones))
        self.nat_gateway_ids = pulumi.Output.all(*[n.id for n in nats])
