"""Karpenter objects and documents, rendered without Pulumi; NodePools and EC2NodeClasses checked strictly against the
v1.14.1 CRDs (tests/crd_schema.py)."""

from __future__ import annotations

import re

import pytest

import crd_schema
from modelstack.config import schema as cfg
from modelstack.render import iam
from modelstack.render import karpenter as k
from modelstack.render import labels
from modelstack.render.charts import CHARTS

NODEPOOL_CRD = crd_schema.crd_path("karpenter", "v1.14.1", "karpenter.sh_nodepools.yaml")
NODECLASS_CRD = crd_schema.crd_path("karpenter", "v1.14.1", "karpenter.k8s.aws_ec2nodeclasses.yaml")
ROLE = "arn:aws:iam::123456789012:role/models-dev-karpenter-node"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:models-dev-karpenter"


def gpu_spec(**kw) -> k.NodePoolSpec:
    base = dict(name="gpu", pool="gpu", kind="gpu", capacity_types=("spot",),
                instance_types=("g6.xlarge", "g5.xlarge", "g4dn.xlarge"), weight=50,
                limits={"cpu": "12", "memory": "48Gi", "nvidia.com/gpu": "3"},
                labels={"nvidia.com/gpu": "true", "nvidia.com/gpu.present": "true"},
                taints=({"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},))
    base.update(kw)
    return k.NodePoolSpec(**base)


def requirement(pool: dict, key: str) -> list[str] | None:
    for r in pool["spec"]["template"]["spec"]["requirements"]:
        if r["key"] == key:
            return r["values"]
    return None


# ------------------------------------------------------------------------------------------ pins


def test_chart_pin_is_the_oci_chart_at_1_14_1_and_stacks_pin_it_in_config():
    pin = CHARTS["karpenter"]
    assert (pin.repo, pin.namespace, pin.version, pin.app_version) == (
        "oci://public.ecr.aws/karpenter", "kube-system", "1.14.1", "1.14.1")
    assert cfg.Charts().version("karpenter", "1.35") == "1.14.1"
    assert k.CONTROLLER_TAG == pin.app_version
    assert pin.images == (f"{k.CONTROLLER_IMAGE}:{k.CONTROLLER_TAG}",)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", k.CONTROLLER_DIGEST)


def _minor(v: str) -> tuple[int, int]:
    major, minor = v.split(".")
    return int(major), int(minor)


def test_every_supported_kubernetes_version_is_within_karpenter_1_14s_range():
    for v in cfg.KUBERNETES_VERSIONS:
        assert _minor(k.MIN_KUBERNETES) <= _minor(v) <= _minor(k.MAX_KUBERNETES), v


# ------------------------------------------------------------------------------------------ NodePool


@pytest.mark.parametrize("env", ["dev", "staging", "prod", "qa"])
def test_node_pool_is_valid_against_the_crd_in_every_environment(env):
    pool = k.node_pool(gpu_spec(), k.disruption_for(env), ["us-east-1a", "us-east-1b"], {"modelstack.io/environment": env})
    assert crd_schema.errors(pool, NODEPOOL_CRD) == []


def test_node_pool_carries_the_plan_placement_and_the_labels_models_select():
    pool = k.node_pool(gpu_spec(), k.disruption_for("dev"), ["us-east-1b", "us-east-1a"])
    assert requirement(pool, labels.INSTANCE_TYPE_LABEL) == ["g4dn.xlarge", "g5.xlarge", "g6.xlarge"]
    assert requirement(pool, "karpenter.sh/capacity-type") == ["spot"]
    assert requirement(pool, labels.ZONE_LABEL) == ["us-east-1a", "us-east-1b"]
    assert requirement(pool, "kubernetes.io/arch") == ["amd64"]
    node_labels = pool["spec"]["template"]["metadata"]["labels"]
    assert node_labels[labels.NODE_POOL_LABEL] == "gpu" and node_labels[labels.NODE_GROUP_LABEL] == "gpu"
    # ModelAPI's spot preference and on-demand floor select on the EKS label: Karpenter nodes carry it too
    assert node_labels[labels.CAPACITY_TYPE_LABEL] == "SPOT"
    assert pool["spec"]["template"]["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    assert pool["spec"]["limits"] == {"cpu": "12", "memory": "48Gi", "nvidia.com/gpu": "3"}
    assert pool["spec"]["weight"] == 50
    assert pool["spec"]["template"]["spec"]["nodeClassRef"] == {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass",
                                                                "name": "default"}


def test_on_demand_pool_labels_its_nodes_on_demand_and_no_zones_means_no_zone_requirement():
    pool = k.node_pool(gpu_spec(name="gpu-on-demand", capacity_types=("on-demand",), weight=49, node_class="gpu"),
                       k.disruption_for("prod"))
    assert pool["spec"]["template"]["spec"]["nodeClassRef"]["name"] == "gpu"
    assert pool["spec"]["template"]["metadata"]["labels"][labels.CAPACITY_TYPE_LABEL] == "ON_DEMAND"
    assert requirement(pool, labels.ZONE_LABEL) is None
    assert crd_schema.errors(pool, NODEPOOL_CRD) == []


def test_a_taint_with_an_empty_value_leaves_the_value_out():
    """The CRD's value pattern rejects "", which is what a config taint without a value holds."""
    pool = k.node_pool(gpu_spec(taints=({"key": "dedicated", "value": "", "effect": "NoExecute"},)), k.disruption_for("dev"))
    assert pool["spec"]["template"]["spec"]["taints"] == [{"key": "dedicated", "effect": "NoExecute"}]
    assert crd_schema.errors(pool, NODEPOOL_CRD) == []


def test_the_crd_check_catches_what_the_renderer_must_not_produce():
    pool = k.node_pool(gpu_spec(), k.disruption_for("dev"))
    pool["spec"]["disruption"]["budgets"] = [{"nodes": "ten"}]
    pool["spec"]["template"]["spec"]["expireAfter"] = "30d"
    errs = crd_schema.errors(pool, NODEPOOL_CRD)
    assert any(e.startswith("spec.disruption.budgets.0.nodes") for e in errs)
    assert any(e.startswith("spec.template.spec.expireAfter") for e in errs)


@pytest.mark.parametrize("spec,message", [
    (gpu_spec(instance_types=()), "no instance types"),
    (gpu_spec(capacity_types=("SPOT",)), "capacity types must be among spot, on-demand"),
    (gpu_spec(capacity_types=()), "capacity types must be among"),
    (gpu_spec(weight=0), "weight must be 1-100"),
])
def test_node_pool_refuses_what_karpenter_would_reject(spec, message):
    with pytest.raises(ValueError, match=message):
        k.node_pool(spec, k.disruption_for("dev"))


# ------------------------------------------------------------------------------------------ disruption


def test_prod_disrupts_at_most_a_tenth_of_a_pool_and_waits_longer_than_dev():
    prod, dev = k.disruption_for("prod"), k.disruption_for("dev")
    assert prod.budget_nodes == "10%" and int(dev.budget_nodes[:-1]) > 10
    assert prod.consolidate_after == "15m" and dev.consolidate_after == "1m"
    assert k.disruption_for("blue") == prod  # a name near no tier gets the strictest settings
    assert k.disruption_for("sandbox") == dev and k.disruption_for("production") == prod  # the nearest tier's


def test_disruption_overrides_win_over_the_environment():
    d = k.disruption_for("prod", consolidation_policy="WhenEmpty", consolidate_after="1h", budget_nodes="1",
                         expire_after="Never")
    assert d.to_spec() == {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "1h", "budgets": [{"nodes": "1"}]}
    pool = k.node_pool(gpu_spec(), d)
    assert pool["spec"]["template"]["spec"]["expireAfter"] == "Never"
    assert crd_schema.errors(pool, NODEPOOL_CRD) == []


# ------------------------------------------------------------------------------------------ EC2NodeClass


def test_node_class_is_valid_and_hardened():
    nc = k.ec2_node_class("models-dev", "models-dev-karpenter-node", volume_size_gib=200, iops=6000, throughput=500,
                          tags={"team": "ml-platform", "environment": "dev"}, metadata_labels={"modelstack.io/environment": "dev"})
    assert crd_schema.errors(nc, NODECLASS_CRD) == []
    spec = nc["spec"]
    assert spec["amiSelectorTerms"] == [{"alias": "al2023@latest"}]
    assert spec["metadataOptions"]["httpTokens"] == "required"
    assert spec["metadataOptions"]["httpPutResponseHopLimit"] == 1
    ebs = spec["blockDeviceMappings"][0]["ebs"]
    assert ebs == {"volumeSize": "200Gi", "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True,
                   "iops": 6000, "throughput": 500}
    assert spec["subnetSelectorTerms"] == spec["securityGroupSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": "models-dev"}}]
    assert spec["role"] == "models-dev-karpenter-node" and spec["tags"]["team"] == "ml-platform"


def test_node_class_pins_an_ami_release_and_gp2_has_no_iops():
    nc = k.ec2_node_class("c", "r", name="gpu", ami_version="v20251016", volume_type="gp2")
    assert nc["metadata"]["name"] == "gpu"
    assert nc["spec"]["amiSelectorTerms"] == [{"alias": "al2023@v20251016"}]
    assert set(nc["spec"]["blockDeviceMappings"][0]["ebs"]) == {"volumeSize", "volumeType", "encrypted", "deleteOnTermination"}
    assert crd_schema.errors(nc, NODECLASS_CRD) == []


# ------------------------------------------------------------------------------------------ controller


def statements(doc: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in doc["Statement"]}


def merged(docs: dict[str, dict]) -> dict:
    """The six controller policies as one document (what they grant together)."""
    return {"Version": "2012-10-17", "Statement": [st for d in docs.values() for st in d["Statement"]]}


def test_controller_policy_is_scoped_as_upstream_scopes_it():
    doc = merged(k.controller_policies("models-dev", "us-east-1", "123456789012", ROLE, QUEUE))
    s = statements(doc)
    assert s["AllowPassingInstanceRole"]["Resource"] == ROLE  # the node role only, never "*"
    assert s["AllowPassingInstanceRole"]["Condition"]["StringEquals"]["iam:PassedToService"][0] == "ec2.amazonaws.com"
    launch = s["AllowScopedEC2InstanceActionsWithTags"]["Condition"]
    assert launch["StringEquals"]["aws:RequestTag/kubernetes.io/cluster/models-dev"] == "owned"
    assert launch["StringEquals"]["aws:RequestTag/eks:eks-cluster-name"] == "models-dev"
    assert launch["StringLike"] == {"aws:RequestTag/karpenter.sh/nodepool": "*"}
    delete = s["AllowScopedDeletion"]
    assert delete["Condition"]["StringEquals"] == {"aws:ResourceTag/kubernetes.io/cluster/models-dev": "owned"}
    assert all(":us-east-1:" in r for r in delete["Resource"])
    assert s["AllowInterruptionQueueActions"]["Resource"] == QUEUE
    assert s["AllowAPIServerEndpointDiscovery"]["Resource"] == "arn:aws:eks:us-east-1:123456789012:cluster/models-dev"
    assert s["AllowRegionalReadActions"]["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}
    # every mutating statement is conditioned or resource-scoped; only reads, pricing and listing are on "*"
    unscoped = {sid for sid, st in s.items() if st["Resource"] == "*" and "Condition" not in st}
    assert unscoped == {"AllowPricingReadActions", "AllowUnscopedInstanceProfileListAction"}
    actions = [a for st in doc["Statement"] for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])]
    assert not [a for a in actions if "*" in a]


def test_controller_policy_follows_the_partition():
    doc = merged(k.controller_policies("c", "cn-north-1", "123456789012", "arn:aws-cn:iam::123456789012:role/n", "q",
                                       "aws-cn"))
    resources = [r for st in doc["Statement"] for r in ([st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"])]
    assert not [r for r in resources if r.startswith("arn:aws:")]


#: Statement ids of upstream's six managed policies (aws/karpenter-provider-aws v1.14.1, getting-started
#: cloudformation.yaml), written out here so that a regrouping in render/karpenter.py is a test failure.
UPSTREAM_POLICIES = {
    "node-lifecycle": ["AllowScopedEC2InstanceAccessActions", "AllowScopedEC2LaunchTemplateAccessActions",
                       "AllowScopedEC2InstanceActionsWithTags", "AllowScopedResourceCreationTagging",
                       "AllowScopedResourceTagging", "AllowScopedDeletion"],
    "iam-integration": ["AllowPassingInstanceRole", "AllowScopedInstanceProfileCreationActions",
                        "AllowScopedInstanceProfileTagActions", "AllowScopedInstanceProfileActions"],
    "eks-integration": ["AllowAPIServerEndpointDiscovery"],
    "interruption": ["AllowInterruptionQueueActions"],
    "zonal-shift": ["AllowZonalShiftStatusReadOnly"],
    "resource-discovery": ["AllowRegionalReadActions", "AllowSSMReadActions", "AllowPricingReadActions",
                           "AllowUnscopedInstanceProfileListAction", "AllowInstanceProfileReadActions"],
}


def test_controller_permissions_are_split_into_upstreams_six_policies_each_under_the_managed_policy_limit():
    longest = "c" + "x" * 30 + "d"  # the longest cluster name the schema allows (32 characters)
    docs = k.controller_policies(longest, "ap-southeast-2", "123456789012",
                                 "arn:aws:iam::123456789012:role/" + longest + "-karpenter-node-abcdef1",
                                 "arn:aws:sqs:ap-southeast-2:123456789012:" + longest + "-karpenter")
    assert {role: [st["Sid"] for st in d["Statement"]] for role, d in docs.items()} == UPSTREAM_POLICIES
    for role, d in docs.items():
        assert iam.policy_size(d) <= iam.MANAGED_POLICY_MAX_CHARS, role
    # merged, as before the split, it would not fit: the reason for the split
    assert iam.policy_size(merged(docs)) > iam.MANAGED_POLICY_MAX_CHARS


def test_pod_identity_trust_lets_only_the_eks_pods_service_assume_and_tag():
    st = k.pod_identity_trust_policy()["Statement"]
    assert st == [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                   "Action": ["sts:AssumeRole", "sts:TagSession"]}]


def test_helm_values_point_the_chart_at_the_cluster_queue_and_system_pool():
    v = k.helm_values("models-dev", "models-dev-karpenter", "system", replicas=1)
    assert v["settings"] == {"clusterName": "models-dev", "interruptionQueue": "models-dev-karpenter"}
    assert v["serviceAccount"] == {"create": True, "name": "karpenter"}  # Pod Identity: no annotation
    assert v["nodeSelector"][labels.NODE_POOL_LABEL] == "system"
    assert labels.k8s_taint(labels.SYSTEM_TAINT) in v["tolerations"]
    assert v["controller"]["image"] == {"repository": "public.ecr.aws/karpenter/controller", "tag": "1.14.1",
                                        "digest": k.CONTROLLER_DIGEST}
    irsa = k.helm_values("c", "q", "system", irsa_role_arn=ROLE)
    assert irsa["serviceAccount"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE}


def test_the_controller_service_is_scraped_on_the_charts_metrics_port():
    """The prometheus chart scrapes annotated Services; Karpenter's chart 1.14.1 annotates its Service with
    `service.annotations` and exposes `controller.metrics.port` (8080), where the interruption counter is."""
    v = k.helm_values("c", "q", "system")
    assert v["service"]["annotations"] == {"prometheus.io/scrape": "true", "prometheus.io/port": "8080"}
    assert k.METRICS_PORT == 8080


# ------------------------------------------------------------------------------------------ interruption


def test_event_patterns_cover_the_four_interruption_sources_upstream_routes():
    patterns = {role: k.event_pattern(role) for role in k.INTERRUPTION_EVENTS}
    detail_types = {p["detail-type"][0]: p["source"][0] for p in patterns.values()}
    assert detail_types["EC2 Spot Instance Interruption Warning"] == "aws.ec2"
    assert detail_types["EC2 Instance Rebalance Recommendation"] == "aws.ec2"
    assert detail_types["EC2 Instance State-change Notification"] == "aws.ec2"
    assert detail_types["AWS Health Event"] == "aws.health"


def test_queue_policy_admits_eventbridge_and_denies_plain_http():
    allow, deny = k.queue_policy(QUEUE)["Statement"]
    assert allow["Principal"] == {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]}
    assert allow["Action"] == "sqs:SendMessage" and allow["Resource"] == QUEUE
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
