"""Network: subnet carving (pure) and the VPC component's inventory per NAT mode."""

import pytest

from modelstack.render import subnets
from modelstack.cluster.network import Network

from cluster_fixtures import addon_versions  # noqa: F401


def test_carving_three_zones():
    plan = subnets.carve("10.0.0.0/16", ["a", "b", "c"])
    assert [(p.private_cidr, p.public_cidr) for p in plan] == [
        ("10.0.0.0/18", "10.0.192.0/20"), ("10.0.64.0/18", "10.0.208.0/20"), ("10.0.128.0/18", "10.0.224.0/20")]


@pytest.mark.parametrize("cidr,zones,msg", [
    ("10.0.0.0/25", ["a", "b"], "/24 or larger"), ("10.0.0.0/16", ["a"], "2 or 3"), ("10.0.0.1/16", ["a", "b"], "host bits"),
])
def test_carving_rejects(cidr, zones, msg):
    with pytest.raises(ValueError, match=msg):
        subnets.carve(cidr, zones)


def _types(run, args):
    r = run(lambda: Network("net", args))
    net = r.named("net", "modelstack:index:Network")
    return r, sorted((x.type.split(":")[-1], x.name) for x in r.children(net))


def test_dev_single_nat(run):
    r, inv = _types(run, {"nat": "single", "az_count": 2})
    assert inv == sorted([
        ("Vpc", "net-vpc"), ("InternetGateway", "net-igw"), ("RouteTable", "net-public"),
        ("Subnet", "net-public-us-east-1a"), ("Subnet", "net-public-us-east-1b"),
        ("RouteTableAssociation", "net-public-us-east-1a"), ("RouteTableAssociation", "net-public-us-east-1b"),
        ("Eip", "net-nat-us-east-1a"), ("NatGateway", "net-nat-us-east-1a"),
        ("Subnet", "net-private-us-east-1a"), ("Subnet", "net-private-us-east-1b"),
        ("RouteTable", "net-private-us-east-1a"), ("RouteTable", "net-private-us-east-1b"),
        ("RouteTableAssociation", "net-private-us-east-1a"), ("RouteTableAssociation", "net-private-us-east-1b"),
    ])
    for z in "ab":
        assert r.named(f"net-private-us-east-1{z}", "aws:ec2/routeTable:RouteTable").inputs["routes"] == [
            {"cidrBlock": "0.0.0.0/0", "natGatewayId": "net-nat-us-east-1a-id"}]


def test_prod_nat_per_zone_and_elb_subnet_tags(run):
    r, _ = _types(run, {"nat": "per_az", "az_count": 3, "tags": {"team": "ml"}})
    nats = r.of_type("aws:ec2/natGateway:NatGateway")
    assert [n.name for n in nats] == ["net-nat-us-east-1a", "net-nat-us-east-1b", "net-nat-us-east-1c"]
    for z in "abc":
        rt = r.named(f"net-private-us-east-1{z}", "aws:ec2/routeTable:RouteTable")
        assert rt.inputs["routes"] == [{"cidrBlock": "0.0.0.0/0", "natGatewayId": f"net-nat-us-east-1{z}-id"}]
        pub = r.named(f"net-public-us-east-1{z}", "aws:ec2/subnet:Subnet").inputs
        priv = r.named(f"net-private-us-east-1{z}", "aws:ec2/subnet:Subnet").inputs
        assert pub["tags"]["kubernetes.io/role/elb"] == "1" and pub["tags"]["team"] == "ml"
        assert priv["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert priv["mapPublicIpOnLaunch"] is False


def test_no_nat_leaves_private_routes_empty(run):
    r, _ = _types(run, {"nat": "none"})
    assert r.of_type("aws:ec2/natGateway:NatGateway") == []
    assert r.named("net-private-us-east-1a", "aws:ec2/routeTable:RouteTable").inputs.get("routes", []) == []


def test_existing_vpc_creates_nothing(run):
    import pulumi

    def prog():
        n = Network("net", {"existing_vpc_id": "vpc-0123456789abcdef0", "existing_private_subnet_ids": ["subnet-01", "subnet-02"]})
        pulumi.export("vpc", n.vpc_id)
        pulumi.export("private", n.private_subnet_ids)
        pulumi.export("public", n.public_subnet_ids)

    r = run(prog)
    assert [x.type for x in r.resources] == ["modelstack:index:Network"]
    assert r.exports == {"vpc": "vpc-0123456789abcdef0", "private": ["subnet-01", "subnet-02"], "public": []}
