"""Cluster: EKS via pulumi-eks with access entries, IRSA, KMS secrets encryption and endpoint access per env."""

import json

import pulumi
import pytest

from modelstack.cluster.control_plane import Cluster
from modelstack.cluster.handle import ClusterHandle

from cluster_fixtures import OIDC_ARN, OIDC_URL, addon_versions, outputs, platform  # noqa: F401

ARGS = {"kubernetes_version": "1.33", "vpc_id": "vpc-1", "private_subnet_ids": ["subnet-a", "subnet-b"]}


def _run(run, extra=None, program=None):
    def prog():
        c = Cluster("main", {**ARGS, **(extra or {})})
        h = ClusterHandle.of(c)
        for k in ("cluster_name", "kubernetes_version", "oidc_provider_arn", "oidc_provider_url", "node_role_arn",
                  "cluster_security_group_id", "vpc_id", "private_subnet_ids"):
            pulumi.export(k, getattr(h, k))
    return run(program or prog, outputs=outputs)


def test_inventory_and_handle(run):
    r = _run(run, {"node_policy_arns": ["arn:aws:iam::123456789012:policy/models-read"]})
    c = r.named("main", "modelstack:index:Cluster")
    assert sorted((x.type, x.name) for x in r.children(c)) == sorted([
        ("aws:iam/role:Role", "main-node"),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "main-node-AmazonEKSWorkerNodePolicy"),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "main-node-AmazonEKS_CNI_Policy"),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "main-node-AmazonEC2ContainerRegistryReadOnly"),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "main-node-AmazonSSMManagedInstanceCore"),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "main-node-models-read"),
        ("aws:kms/key:Key", "main-secrets"),
        ("eks:index:Cluster", "main-eks"),
        ("pulumi:providers:kubernetes", "main-k8s"),
    ])
    assert r.exports == {
        "cluster_name": "main", "kubernetes_version": "1.33", "oidc_provider_arn": OIDC_ARN,
        "oidc_provider_url": OIDC_URL, "node_role_arn": "arn:aws:iam::123456789012:role/main-node",
        "cluster_security_group_id": "sg-0123456789abcdef0", "vpc_id": "vpc-1", "private_subnet_ids": ["subnet-a", "subnet-b"],
    }
    role = json.loads(r.named("main-node", "aws:iam/role:Role").inputs["assumeRolePolicy"])
    assert role["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}


def test_eks_inputs_secure_defaults(run):
    r = _run(run)
    i = r.named("main-eks", "eks:index:Cluster").inputs
    assert i["version"] == "1.33"
    assert i["authenticationMode"] == "API"
    assert i["skipDefaultNodeGroup"] is True
    assert i["createOidcProvider"] is True
    assert i["encryptionConfigKeyArn"] == "arn:aws:kms:us-east-1:123456789012:key/main-secrets"
    assert i["endpointPrivateAccess"] is True and i["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in i
    assert i["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    assert i["upgradePolicy"] == {"supportType": "STANDARD"}
    assert i["corednsAddonOptions"]["enabled"] is False  # PlatformAddons installs it once nodes exist
    # pulumi-eks refuses instanceRoles (and role/user mappings) under API mode; nodes join through the EC2_LINUX
    # access entry EKS creates for a managed node group's role (data/UPSTREAM.md, pulumi-eks).
    assert not i.get("instanceRoles") and not i.get("roleMappings") and not i.get("userMappings")
    assert not i.get("instanceRole")
    assert r.named("main-secrets", "aws:kms/key:Key").inputs["enableKeyRotation"] is True


def test_public_endpoint_with_allow_list_and_pinned_addons(run):
    r = _run(run, {"endpoint_public_access": True, "public_access_cidrs": ["203.0.113.0/24"],
                   "vpc_cni_version": "v1.19.5-eksbuild.1", "kube_proxy_version": "v1.33.0-eksbuild.2"})
    i = r.named("main-eks", "eks:index:Cluster").inputs
    assert i["endpointPublicAccess"] is True and i["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert i["vpcCniOptions"]["addonVersion"] == "v1.19.5-eksbuild.1"
    assert i["kubeProxyAddonOptions"]["version"] == "v1.33.0-eksbuild.2"


def test_access_entries_map_levels_and_namespaces(run):
    r = _run(run, {"access_entries": {
        "ops": {"principal_arn": "arn:aws:iam::123456789012:role/ops", "access": "cluster-admin"},
        "team-a": {"principal_arn": "arn:aws:iam::123456789012:role/a", "access": "edit", "namespaces": ["team-a"]},
    }})
    e = r.named("main-eks", "eks:index:Cluster").inputs["accessEntries"]
    assert e["ops"]["accessPolicies"] == {"cluster-admin": {
        "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", "accessScope": {"type": "cluster"}}}
    assert e["team-a"]["accessPolicies"] == {"edit": {
        "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
        "accessScope": {"type": "namespace", "namespaces": ["team-a"]}}}


def test_no_encryption_no_key(run):
    r = _run(run, {"secrets_encryption": False})
    assert r.of_type("aws:kms/key:Key") == []
    assert "encryptionConfigKeyArn" not in r.named("main-eks", "eks:index:Cluster").inputs


@pytest.mark.parametrize("extra,msg", [
    ({"endpoint_private_access": False}, "private, public or both"),
    ({"public_access_cidrs": ["10.0.0.0/8"]}, "endpoint_public_access is False"),
])
def test_bad_endpoint_args(run, extra, msg):
    with pytest.raises(Exception, match=msg):
        _run(run, extra)


def test_existing_cluster_handle_registers_only_a_provider(run):
    def prog():
        h = ClusterHandle.existing("theirs", cluster_name="theirs", kubernetes_version="1.32", kubeconfig="{}",
                                   oidc_provider_arn=OIDC_ARN, oidc_provider_url=OIDC_URL,
                                   node_role_arn="arn:aws:iam::123456789012:role/n", node_role_name="n",
                                   vpc_id="vpc-1", private_subnet_ids=["subnet-a"])
        pulumi.export("name", h.cluster_name)
        pulumi.export("public", h.public_subnet_ids)
    r = run(prog)
    assert [(x.type, x.name) for x in r.resources] == [("pulumi:providers:kubernetes", "theirs")]
    assert r.exports == {"name": "theirs", "public": []}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_done_means_per_environment(run, env):
    """The issue's checklist, on the plan of each environment."""
    r = run(platform(env), stack=env, outputs=outputs)
    eks = r.named("main-eks", "eks:index:Cluster").inputs
    assert eks["encryptionConfigKeyArn"].startswith("arn:aws:kms:")
    nats = r.of_type("aws:ec2/natGateway:NatGateway")
    if env == "prod":
        assert len(nats) == 3
        assert eks["endpointPrivateAccess"] is True and eks["endpointPublicAccess"] is False
    else:
        assert len(nats) == 1
        assert eks["endpointPublicAccess"] is True and eks["publicAccessCidrs"] == ["203.0.113.0/24"]
    gpu = r.named("gpu-ng", "aws:eks/nodeGroup:NodeGroup").inputs
    assert gpu["amiType"] == "AL2023_x86_64_NVIDIA"
    assert {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"} in gpu["taints"]
    spot = r.named("cpu-spot-ng", "aws:eks/nodeGroup:NodeGroup").inputs
    assert spot["capacityType"] == "SPOT" and len(spot["instanceTypes"]) >= 3
    tags = r.of_type("aws:autoscaling/tag:Tag")
    from_zero = [ng for ng in r.of_type("aws:eks/nodeGroup:NodeGroup") if ng.inputs["scalingConfig"]["minSize"] == 0]
    assert {ng.name for ng in from_zero} >= {"gpu-ng", "cpu-spot-ng"}  # else the loop below checks nothing
    for ng in from_zero:
        asg = f"eks-{ng.inputs['nodeGroupName']}-asg"
        keys = {t.inputs["tag"]["key"] for t in tags if t.inputs["autoscalingGroupName"] == asg}
        assert "k8s.io/cluster-autoscaler/node-template/label/modelstack.io/node-pool" in keys, ng.name
    ca = r.named("autoscaler-release", "kubernetes:helm.sh/v3:Release").inputs
    assert ca["chart"] == "cluster-autoscaler" and ca["values"]["extraArgs"]["expander"].startswith("priority")
    assert ca["values"]["expanderPriorities"]


def test_the_cluster_creator_gets_no_second_access_entry(run):
    """pulumi-eks always sets bootstrapClusterCreatorAdminPermissions (no input turns it off, pulumi/pulumi-eks#2373):
    EKS makes the creator's cluster-admin entry itself and refuses a second one for the same principal."""
    r = _run(run, {"access_entries": {
        "ci": {"principal_arn": "arn:aws:iam::123456789012:role/ci", "access": "cluster-admin", "cluster_creator": True},
        "ops": {"principal_arn": "arn:aws:iam::123456789012:role/ops", "access": "view"},
    }})
    assert set(r.named("main-eks", "eks:index:Cluster").inputs["accessEntries"]) == {"ops"}


@pytest.mark.parametrize("entries,msg", [
    ({"ci": {"principal_arn": "arn:aws:iam::123456789012:role/ci", "access": "admin", "cluster_creator": True}},
     "bootstrap entry is cluster-admin"),
    ({k: {"principal_arn": f"arn:aws:iam::123456789012:role/{k}", "access": "cluster-admin", "cluster_creator": True}
      for k in ("a", "b")}, "only one principal creates the cluster"),
])
def test_a_cluster_creator_entry_must_say_what_eks_grants(run, entries, msg):
    with pytest.raises(Exception) as e:
        _run(run, {"access_entries": entries})
    assert msg in str(e.value)
