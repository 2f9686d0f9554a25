"""Shared by the cluster tests: extra mocked outputs and a whole-platform program for dev and prod."""

from __future__ import annotations

import pulumi
import pytest

from modelstack.render import labels
from modelstack.cluster.addons import PlatformAddons
from modelstack.cluster.control_plane import Cluster
from modelstack.cluster.autoscaler import ClusterAutoscaler
from modelstack.cluster.handle import ClusterHandle
from modelstack.cluster.network import Network
from modelstack.cluster.node_group import NodeGroup
from modelstack.plan import mocks

OIDC_URL = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
OIDC_ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"


def outputs(typ: str, name: str, inputs: dict) -> dict:
    """What the default mock does not return yet (reported to the lead)."""
    if typ == "eks:index:Cluster":
        return {"kubeconfigJson": '{"apiVersion": "v1"}', "oidcProviderArn": OIDC_ARN, "oidcProviderUrl": OIDC_URL,
                "clusterSecurityGroupId": "sg-0123456789abcdef0"}
    if typ == "aws:ec2/launchTemplate:LaunchTemplate":
        return {"latestVersion": 1}
    return {}


@pytest.fixture(autouse=True)
def addon_versions(monkeypatch):
    """Answer aws.eks.getAddonVersion like EKS: a version tied to the Kubernetes version asked about."""
    original = mocks.RecordingMocks.call

    def call(self, args):
        if args.token == "aws:eks/getAddonVersion:getAddonVersion":
            k = args.args.get("kubernetesVersion")
            return {"addonName": args.args["addonName"], "kubernetesVersion": k, "id": args.args["addonName"],
                    "version": f"v{k}-{args.args['addonName']}-eksbuild.1"}, None
        return original(self, args)

    monkeypatch.setattr(mocks.RecordingMocks, "call", call)


ENVS = {
    "dev": {"nat": "single", "az_count": 2, "private": True, "public": True, "cidrs": ["203.0.113.0/24"]},
    "prod": {"nat": "per_az", "az_count": 3, "private": True, "public": False, "cidrs": []},
}

GROUPS = [
    # name, kind, types, spot, pool, priority, vcpu, accelerators, min
    ("system", "system", ["m6i.large"], False, "system", 50, 2, 0, 2),
    ("cpu-spot", "cpu", ["m6i.xlarge", "m6a.xlarge", "m7i.xlarge", "m5.xlarge"], True, "cpu", 60, 4, 0, 0),
    ("cpu-on-demand", "cpu", ["m6i.xlarge"], False, "cpu", 60, 4, 0, 0),
    ("gpu", "gpu", ["g5.xlarge"], False, "gpu", 40, 4, 1, 0),
]


def platform(env: str, version: str = "1.35"):
    """The whole cluster of one environment, as the stack program will wire it."""
    e = ENVS[env]

    def program():
        tags = labels.base_tags(env, "ml")
        net = Network("net", {"nat": e["nat"], "az_count": e["az_count"], "tags": tags})
        cluster = Cluster("main", {
            "cluster_name": f"models-{env}", "kubernetes_version": version, "vpc_id": net.vpc_id,
            "private_subnet_ids": net.private_subnet_ids, "public_subnet_ids": net.public_subnet_ids,
            "endpoint_private_access": e["private"], "endpoint_public_access": e["public"],
            "public_access_cidrs": e["cidrs"], "tags": tags,
        })
        h = ClusterHandle.of(cluster)
        groups = {}
        for name, kind, types, spot, pool, prio, _vcpu, acc, mn in GROUPS:
            groups[name] = NodeGroup(name, {
                "cluster_name": h.cluster_name, "node_role_arn": h.node_role_arn, "subnet_ids": h.private_subnet_ids,
                "kubernetes_version": h.kubernetes_version, "instance_types": types, "kind": kind,
                "capacity_type": "SPOT" if spot else "ON_DEMAND", "node_pool": pool, "priority": prio,
                "min_size": mn, "max_size": 10, "accelerator_count": acc, "tags": tags,
            })
        after_system = pulumi.ResourceOptions(depends_on=[groups["system"]])
        ClusterAutoscaler("autoscaler", {
            "handle": h, "region": "us-east-1", "kubernetes_version": version,
            "node_groups": [{"name": n, "priority": p, "capacity_type": "SPOT" if s else "ON_DEMAND", "vcpu": v}
                            for n, _k, _t, s, _pool, p, v, _a, _m in GROUPS],
        }, opts=after_system)
        PlatformAddons("addons", {"handle": h, "region": "us-east-1", "nvidia_device_plugin": True, "tags": tags},
                       opts=after_system)
        pulumi.export("clusterName", h.cluster_name)

    return program
