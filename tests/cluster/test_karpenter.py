"""Karpenter component: its exact children, the controller's identity, the queue wiring, CRD-valid objects."""

from __future__ import annotations

import json

import pulumi
import pytest

import crd_schema
from modelstack.cluster.handle import ClusterHandle
from modelstack.cluster.karpenter import Karpenter
from modelstack.render import karpenter as k

from cluster_fixtures import OIDC_ARN, OIDC_URL, addon_versions, outputs  # noqa: F401

CRDS = {"NodePool": crd_schema.crd_path("karpenter", "v1.14.1", "karpenter.sh_nodepools.yaml"),
        "EC2NodeClass": crd_schema.crd_path("karpenter", "v1.14.1", "karpenter.k8s.aws_ec2nodeclasses.yaml")}

POOLS = [
    {"name": "gpu", "pool": "gpu", "kind": "gpu", "capacity_types": ["spot"], "instance_types": ["g5.xlarge", "g6.xlarge"],
     "weight": 50, "limits": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "2"},
     "labels": {"nvidia.com/gpu": "true"}, "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
     "node_class": "gpu"},
    {"name": "gpu-on-demand", "pool": "gpu", "kind": "gpu", "capacity_types": ["on-demand"],
     "instance_types": ["g5.xlarge"], "weight": 49, "limits": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "2"}},
]


def _handle():
    return ClusterHandle.existing("k8s", cluster_name="models-prod", kubernetes_version="1.35", kubeconfig="{}",
                                  oidc_provider_arn=OIDC_ARN, oidc_provider_url=OIDC_URL,
                                  node_role_arn="arn:aws:iam::123456789012:role/n", node_role_name="n",
                                  vpc_id="vpc-1", private_subnet_ids=["subnet-a", "subnet-b", "subnet-c"],
                                  cluster_security_group_id="sg-0123456789abcdef0")


def _program(**extra):
    def prog():
        marker = pulumi.CustomResource("test:index:Marker", "system-ready")
        Karpenter("kp", {"handle": _handle(), "region": "us-east-1", "node_pools": POOLS, "subnet_count": 3,
                         "environment": "prod", "zones": ["us-east-1a", "us-east-1b", "us-east-1c"],
                         "tags": {"team": "ml", "environment": "prod"},
                         "node_classes": [{"name": "default"}, {"name": "gpu", "root_volume_size_gib": 200}], **extra},
                  opts=pulumi.ResourceOptions(depends_on=[marker]))
    return prog


#: The controller policies besides the one that keeps the name `kp-controller` (node-lifecycle).
SPLIT = ["eks-integration", "iam-integration", "interruption", "resource-discovery", "zonal-shift"]
EVENT_ROLES = ["capacity-reservation-interruption", "health", "instance-state-change", "rebalance", "spot-interruption"]


def test_inventory_with_pod_identity(run):
    r = run(_program(), outputs=outputs)
    comp = r.named("kp", "modelstack:index:Karpenter")
    children = sorted((x.type, x.name) for x in r.children(comp))
    expected = sorted(
        [("aws:iam/role:Role", "kp-node"), ("aws:eks/accessEntry:AccessEntry", "kp-node-access"),
         *[("aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"kp-node-{p}") for p in k.NODE_MANAGED_POLICIES],
         *[("aws:ec2/tag:Tag", f"kp-discovery-subnet-{i}") for i in range(3)], ("aws:ec2/tag:Tag", "kp-discovery-sg"),
         ("aws:sqs/queue:Queue", "kp-interruption"), ("aws:sqs/queuePolicy:QueuePolicy", "kp-interruption-policy"),
         *[("aws:cloudwatch/eventRule:EventRule", f"kp-{e}") for e in EVENT_ROLES],
         *[("aws:cloudwatch/eventTarget:EventTarget", f"kp-{e}-target") for e in EVENT_ROLES],
         ("aws:iam/role:Role", "kp-controller"), ("aws:iam/policy:Policy", "kp-controller"),
         ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "kp-controller"),
         *[(t, f"kp-controller-{p}") for p in SPLIT
           for t in ("aws:iam/policy:Policy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment")],
         ("aws:eks/podIdentityAssociation:PodIdentityAssociation", "kp-controller"),
         ("kubernetes:helm.sh/v3:Release", "kp-release"),
         ("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "kp-nodeclass"),
         ("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "kp-nodeclass-gpu"),
         ("kubernetes:karpenter.sh/v1:NodePool", "kp-gpu"), ("kubernetes:karpenter.sh/v1:NodePool", "kp-gpu-on-demand")])
    assert children == expected

    assoc = r.named("kp-controller", "aws:eks/podIdentityAssociation:PodIdentityAssociation").inputs
    assert (assoc["namespace"], assoc["serviceAccount"], assoc["clusterName"]) == ("kube-system", "karpenter", "models-prod")
    trust = json.loads(r.named("kp-controller", "aws:iam/role:Role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    entry = r.named("kp-node-access").inputs
    assert entry["type"] == "EC2_LINUX" and entry["principalArn"] == "arn:aws:iam::123456789012:role/kp-node"
    rel = r.named("kp-release").inputs
    assert (rel["chart"], rel["version"], rel["namespace"]) == ("oci://public.ecr.aws/karpenter/karpenter", "1.14.1",
                                                                 "kube-system")
    assert "annotations" not in rel["values"]["serviceAccount"]
    assert rel["values"]["settings"] == {"clusterName": "models-prod", "interruptionQueue": "models-prod-karpenter"}


def test_queue_rules_and_policy_are_wired_to_one_queue(run):
    r = run(_program(), outputs=outputs)
    queue = r.named("kp-interruption")
    assert queue.inputs["sqsManagedSseEnabled"] is True and queue.inputs["messageRetentionSeconds"] == 300
    arn = queue.outputs["arn"]
    for role in EVENT_ROLES:
        target = r.named(f"kp-{role}-target").inputs
        assert target["arn"] == arn
        pattern = json.loads(r.named(f"kp-{role}").inputs["eventPattern"])
        assert pattern == k.event_pattern(role)
    policy = json.loads(r.named("kp-interruption-policy").inputs["policy"])
    assert policy["Statement"][0]["Resource"] == arn
    by_sid = {s["Sid"]: s for p in ["", *(f"-{x}" for x in SPLIT)]
              for s in json.loads(r.named(f"kp-controller{p}", "aws:iam/policy:Policy").inputs["policy"])["Statement"]}
    assert by_sid["AllowInterruptionQueueActions"]["Resource"] == arn
    assert by_sid["AllowPassingInstanceRole"]["Resource"] == "arn:aws:iam::123456789012:role/kp-node"
    assert by_sid["AllowRegionalReadActions"]["Condition"]["StringEquals"]["aws:RequestedRegion"] == "us-east-1"


def test_controller_policies_are_upstreams_six_and_the_old_one_shrinks_only_after_the_others_are_attached(run):
    """Upgrading a cluster from the one merged policy: `kp-controller` keeps its URN and description (no replacement)
    and now holds the node-lifecycle statements; it is updated after the five new policies are attached, and the
    chart waits for all six, so the controller never runs without a permission it had."""
    r = run(_program(), outputs=outputs)
    role_name = r.named("kp-controller", "aws:iam/role:Role").outputs["name"]
    docs = {}
    for role in k.CONTROLLER_POLICIES:
        suffix = "" if role == "node-lifecycle" else f"-{role}"
        policy = r.named(f"kp-controller{suffix}", "aws:iam/policy:Policy")
        attachment = r.named(f"kp-controller{suffix}", "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        assert attachment.inputs["policyArn"] == policy.outputs["arn"] and attachment.inputs["role"] == role_name
        docs[role] = [s["Sid"] for s in json.loads(policy.inputs["policy"])["Statement"]]
        assert attachment.urn in r.named("kp-release").dependencies
    assert docs == {role: list(sids) for role, sids in k.CONTROLLER_POLICIES.items()}
    old = r.named("kp-controller", "aws:iam/policy:Policy")
    assert old.inputs["description"] == "Karpenter controller (scoped)"
    for role in SPLIT:
        assert r.named(f"kp-controller-{role}", "aws:iam/rolePolicyAttachment:RolePolicyAttachment").urn in old.dependencies


def test_node_classes_outlive_the_node_roles_policies_and_access_entry_on_destroy(run):
    r = run(_program(), outputs=outputs)
    needed = {r.named(f"kp-node-{p}").urn for p in k.NODE_MANAGED_POLICIES} | {r.named("kp-node-access").urn}
    for name in ("kp-nodeclass", "kp-nodeclass-gpu"):
        assert needed <= set(r.named(name).dependencies), name


def test_discovery_tags_name_the_cluster_on_every_private_subnet_and_the_node_security_group(run):
    r = run(_program(), outputs=outputs)
    tagged = {r.named(f"kp-discovery-subnet-{i}").inputs["resourceId"] for i in range(3)}
    assert tagged == {"subnet-a", "subnet-b", "subnet-c"}
    sg = r.named("kp-discovery-sg").inputs
    assert (sg["resourceId"], sg["key"], sg["value"]) == ("sg-0123456789abcdef0", "karpenter.sh/discovery", "models-prod")


def test_objects_are_crd_valid_and_wait_for_the_chart(run):
    r = run(_program(), outputs=outputs)
    release = r.named("kp-release").urn
    for name in ("kp-nodeclass", "kp-nodeclass-gpu", "kp-gpu", "kp-gpu-on-demand"):
        obj = r.named(name)
        body = obj.inputs
        assert crd_schema.errors(body, CRDS[body["kind"]]) == [], name
        assert release in obj.dependencies
    pool = r.named("kp-gpu").inputs
    assert pool["spec"]["disruption"]["budgets"] == [{"nodes": "10%"}]  # prod
    assert {"key": "topology.kubernetes.io/zone", "operator": "In",
            "values": ["us-east-1a", "us-east-1b", "us-east-1c"]} in pool["spec"]["template"]["spec"]["requirements"]
    assert r.named("kp-nodeclass").inputs["spec"]["role"] == "kp-node"
    assert pool["spec"]["template"]["spec"]["nodeClassRef"]["name"] == "gpu"
    assert r.named("kp-gpu-on-demand").inputs["spec"]["template"]["spec"]["nodeClassRef"]["name"] == "default"
    gpu_class = r.named("kp-nodeclass-gpu").inputs
    assert gpu_class["metadata"]["name"] == "gpu"
    assert gpu_class["spec"]["blockDeviceMappings"][0]["ebs"]["volumeSize"] == "200Gi"
    assert r.named("kp-nodeclass-gpu").urn in r.named("kp-gpu").dependencies


def test_children_inherit_the_components_dependencies(run):
    r = run(_program(), outputs=outputs)
    marker = r.named("system-ready").urn
    for name in ("kp-release", "kp-node", "kp-interruption", "kp-gpu"):
        assert marker in r.named(name).dependencies, name


def test_irsa_annotates_the_service_account_and_needs_no_association(run):
    r = run(_program(controller_identity="irsa"), outputs=outputs)
    assert not r.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    role = r.named("kp-controller", "aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["StringEquals"][
        "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE:sub"] == "system:serviceaccount:kube-system:karpenter"
    sa = r.named("kp-release").inputs["values"]["serviceAccount"]
    assert sa["annotations"] == {"eks.amazonaws.com/role-arn": role.outputs["arn"]}


def test_disruption_overrides_reach_every_node_pool(run):
    r = run(_program(environment="dev", disruption_budget="1", consolidate_after="30m", expire_after="168h"),
            outputs=outputs)
    for name in ("kp-gpu", "kp-gpu-on-demand"):
        spec = r.named(name).inputs["spec"]
        assert spec["disruption"]["budgets"] == [{"nodes": "1"}]
        assert spec["disruption"]["consolidateAfter"] == "30m"
        assert spec["template"]["spec"]["expireAfter"] == "168h"


@pytest.mark.parametrize("extra,message", [
    ({"controller_identity": "kiam"}, "controller_identity must be pod-identity or irsa"),
    ({"node_pools": POOLS + POOLS[:1]}, "NodePool names must be unique"),
    ({"node_classes": [{"name": "default"}]}, r"NodePools refer to EC2NodeClasses \['gpu'\] not in node_classes \['default'\]"),
])
def test_bad_args_are_refused(run, extra, message):
    with pytest.raises(Exception, match=message):
        run(_program(**extra), outputs=outputs)
