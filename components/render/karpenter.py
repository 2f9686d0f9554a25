"""Karpenter objects and documents (pure): NodePools, the EC2NodeClass, the controller's IAM policy, the interruption
queue's policy and EventBridge patterns, Helm values and the per-environment disruption settings.

Facts read at aws/karpenter-provider-aws tag v1.14.1 (commit bde00654) unless noted; see components/data/UPSTREAM.md
`## Karpenter`:
- CRDs `pkg/apis/crds/karpenter.sh_nodepools.yaml` and `karpenter.k8s.aws_ec2nodeclasses.yaml` (field names, label
  domains allowed in requirements, budget and duration patterns); rendered objects are validated against them in tests.
- Controller policy statements and conditions, node role policies, queue, queue policy and event rules:
  `website/content/en/docs/getting-started/getting-started-with-karpenter/cloudformation.yaml`.
- Helm values keys: `charts/karpenter/values.yaml`; controller image tag and digest of 1.14.1 from the same file at
  commit 1d927085 (the release bump lands after the tag).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from modelstack.render import labels, tiers

NODEPOOL_API = "karpenter.sh/v1"
NODECLASS_API = "karpenter.k8s.aws/v1"
NODECLASS_GROUP = "karpenter.k8s.aws"
NODECLASS_NAME = "default"

CHART_NAME = "karpenter"
RELEASE_NAME = "karpenter"
SERVICE_ACCOUNT = "karpenter"
CONTROLLER_IMAGE = "public.ecr.aws/karpenter/controller"
CONTROLLER_TAG = "1.14.1"
CONTROLLER_DIGEST = "sha256:723130949e4cab989461ff07d1be4cd781d63515432494641b33c235f300ae23"
METRICS_PORT = 8080
"""The chart's `controller.metrics.port` default, which its Service exposes as `http-metrics` (UPSTREAM.md)."""

#: Kubernetes minors karpenter 1.14 supports (pkg/providers/version/version.go: MinK8sVersion, MaxK8sVersion).
MIN_KUBERNETES, MAX_KUBERNETES = "1.26", "1.36"

DISCOVERY_TAG = "karpenter.sh/discovery"
CAPACITY_TYPE_KEY = "karpenter.sh/capacity-type"
NODEPOOL_KEY = "karpenter.sh/nodepool"
SPOT, ON_DEMAND = "spot", "on-demand"
#: karpenter.sh/capacity-type value -> the EKS managed node group label value ModelAPI placement selects on.
EKS_CAPACITY = {SPOT: "SPOT", ON_DEMAND: "ON_DEMAND"}
ARCH_KEY = "kubernetes.io/arch"
OS_KEY = "kubernetes.io/os"

CONSOLIDATION_POLICIES = ("WhenEmpty", "WhenEmptyOrUnderutilized")
#: The node role's AWS managed policies (cloudformation.yaml, KarpenterNodeRole.ManagedPolicyArns).
NODE_MANAGED_POLICIES = (
    "AmazonEKS_CNI_Policy",
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonSSMManagedInstanceCore",
)


# ------------------------------------------------------------------------------------------- disruption


@dataclass(frozen=True)
class Disruption:
    """When Karpenter may take nodes away: consolidation, how many nodes at once, and node lifetime."""

    consolidation_policy: str
    consolidate_after: str
    budget_nodes: str
    """Share (``"10%"``) or count (``"2"``) of a NodePool's nodes disrupted at once, for any reason."""
    expire_after: str
    """Node lifetime before Karpenter replaces it (``"720h"``, or ``"Never"``)."""

    def to_spec(self) -> dict[str, Any]:
        return {"consolidationPolicy": self.consolidation_policy, "consolidateAfter": self.consolidate_after,
                "budgets": [{"nodes": self.budget_nodes}]}


#: Per environment: dev consolidates fast (cost over churn), prod waits 15 minutes and never disrupts more than 10 %
#: of a pool at once; nodes are replaced every 30 days (Karpenter's default) so AMI fixes reach them.
DISRUPTION_DEFAULTS = {
    "dev": Disruption("WhenEmptyOrUnderutilized", "1m", "50%", "720h"),
    "staging": Disruption("WhenEmptyOrUnderutilized", "5m", "20%", "720h"),
    "prod": Disruption("WhenEmptyOrUnderutilized", "15m", "10%", "720h"),
}


def disruption_for(environment: str, *, consolidation_policy: Optional[str] = None,
                   consolidate_after: Optional[str] = None, budget_nodes: Optional[str] = None,
                   expire_after: Optional[str] = None) -> Disruption:
    """The environment's defaults (its tier's, render.tiers; prod's for a name near no tier), each overridable."""
    d = DISRUPTION_DEFAULTS.get(tiers.tier_of(environment) or "prod", DISRUPTION_DEFAULTS["prod"])
    return Disruption(consolidation_policy or d.consolidation_policy, consolidate_after or d.consolidate_after,
                      budget_nodes or d.budget_nodes, expire_after or d.expire_after)


# --------------------------------------------------------------------------------------------- NodePools


@dataclass(frozen=True)
class NodePoolSpec:
    """One NodePool, as the capacity plan describes it (one per planned node group)."""

    name: str
    pool: str
    """The modelstack.io/node-pool label models select (shared by a spot pool and its on-demand fallback)."""
    kind: str
    capacity_types: tuple[str, ...]
    """karpenter.sh/capacity-type values: ``("spot",)`` or ``("on-demand",)``."""
    instance_types: tuple[str, ...]
    arch: str = "amd64"
    weight: int = 50
    limits: Mapping[str, str] = field(default_factory=dict)
    """cpu, memory and accelerator totals the NodePool may launch (from the plan's nodes at max replicas)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[Mapping[str, str]] = ()
    """Every taint (kind taints and user taints) in Kubernetes spelling."""
    node_class: str = NODECLASS_NAME
    """The EC2NodeClass its nodes launch from (one per distinct root volume)."""


def _taint(t: Mapping[str, str]) -> dict[str, str]:
    out = {"key": t["key"], "effect": t.get("effect", "NoSchedule")}
    if t.get("value"):
        out["value"] = t["value"]  # the CRD's value pattern rejects "", so an empty value is left out
    return out


def node_pool(spec: NodePoolSpec, disruption: Disruption, zones: Sequence[str] = (),
              metadata_labels: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    """A karpenter.sh/v1 NodePool: the plan's instance types, capacity type, zones, taints and node labels, limits,
    disruption. Nodes carry the EKS capacity label too, so ModelAPI's on-demand floor affinity selects them."""
    if not spec.instance_types:
        raise ValueError(f"NodePool {spec.name}: no instance types")
    bad = [c for c in spec.capacity_types if c not in EKS_CAPACITY]
    if not spec.capacity_types or bad:
        raise ValueError(f"NodePool {spec.name}: capacity types must be among {', '.join(EKS_CAPACITY)}, got {list(spec.capacity_types)}")
    if not 1 <= spec.weight <= 100:
        raise ValueError(f"NodePool {spec.name}: weight must be 1-100, got {spec.weight}")
    if disruption.consolidation_policy not in CONSOLIDATION_POLICIES:
        raise ValueError(f"consolidation policy must be one of {', '.join(CONSOLIDATION_POLICIES)}")
    requirements = [
        {"key": labels.INSTANCE_TYPE_LABEL, "operator": "In", "values": sorted(spec.instance_types)},
        {"key": CAPACITY_TYPE_KEY, "operator": "In", "values": list(spec.capacity_types)},
        {"key": ARCH_KEY, "operator": "In", "values": [spec.arch]},
        {"key": OS_KEY, "operator": "In", "values": ["linux"]},
    ]
    if zones:
        requirements.append({"key": labels.ZONE_LABEL, "operator": "In", "values": sorted(zones)})
    node_labels = {labels.NODE_GROUP_LABEL: spec.name, labels.NODE_POOL_LABEL: spec.pool, **spec.labels}
    if len(spec.capacity_types) == 1:
        node_labels[labels.CAPACITY_TYPE_LABEL] = EKS_CAPACITY[spec.capacity_types[0]]
    template_spec: dict[str, Any] = {
        "nodeClassRef": {"group": NODECLASS_GROUP, "kind": "EC2NodeClass", "name": spec.node_class},
        "requirements": requirements,
        "expireAfter": disruption.expire_after,
    }
    if spec.taints:
        template_spec["taints"] = [_taint(t) for t in spec.taints]
    out: dict[str, Any] = {
        "apiVersion": NODEPOOL_API,
        "kind": "NodePool",
        "metadata": {"name": spec.name, "labels": {**labels.MANAGED_BY, **(metadata_labels or {})}},
        "spec": {
            "template": {"metadata": {"labels": node_labels}, "spec": template_spec},
            "disruption": disruption.to_spec(),
            "weight": spec.weight,
        },
    }
    if spec.limits:
        out["spec"]["limits"] = dict(spec.limits)
    return out


def ec2_node_class(cluster_name: str, role_name: str, *, name: str = NODECLASS_NAME, ami_version: str = "latest",
                   volume_size_gib: int = 100,
                   volume_type: str = "gp3", iops: Optional[int] = 3000, throughput: Optional[int] = 125,
                   imds_hop_limit: int = 1, tags: Optional[Mapping[str, str]] = None,
                   metadata_labels: Optional[Mapping[str, str]] = None,
                   instance_store_policy: Optional[str] = None, user_data: Optional[str] = None) -> dict[str, Any]:
    """An EC2NodeClass: AL2023 (Karpenter picks the NVIDIA/Neuron variant per instance type), IMDSv2 only with hop
    limit 1 like NodeGroup, an encrypted root volume, discovery-tagged subnets and security group, cost tags.
    `instance_store_policy` "RAID0" puts the kubelet and containerd on the instance stores' RAID 0 (default none);
    `user_data` (MIME multipart) is appended by Karpenter after its own NodeConfig (default none)."""
    ebs: dict[str, Any] = {"volumeSize": f"{volume_size_gib}Gi", "volumeType": volume_type, "encrypted": True,
                           "deleteOnTermination": True}
    if volume_type == "gp3":
        ebs.update(iops=iops, throughput=throughput)
    selector = [{"tags": {DISCOVERY_TAG: cluster_name}}]
    return {
        "apiVersion": NODECLASS_API,
        "kind": "EC2NodeClass",
        "metadata": {"name": name, "labels": {**labels.MANAGED_BY, **(metadata_labels or {})}},
        "spec": {
            "role": role_name,
            "amiSelectorTerms": [{"alias": f"al2023@{ami_version}"}],
            "subnetSelectorTerms": selector,
            "securityGroupSelectorTerms": selector,
            # AL2023 EKS AMIs boot from /dev/xvda.
            "blockDeviceMappings": [{"deviceName": "/dev/xvda", "rootVolume": True, "ebs": ebs}],
            "metadataOptions": {"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled",
                                "httpPutResponseHopLimit": imds_hop_limit, "httpTokens": "required"},
            "tags": dict(tags or {}),
            **({"instanceStorePolicy": instance_store_policy} if instance_store_policy else {}),
            **({"userData": user_data} if user_data else {}),
        },
    }


# --------------------------------------------------------------------------------------------- controller


def helm_values(cluster_name: str, queue_name: str, system_pool: str, *, replicas: int = 2,
                irsa_role_arn: Optional[str] = None) -> dict[str, Any]:
    """Chart values: cluster and interruption queue, the service account (IRSA annotation only without Pod Identity),
    the pinned controller image, on the system pool; the Service annotated so the prometheus chart's
    `kubernetes-service-endpoints` job scrapes the controller's metrics (the interruption panel reads them)."""
    sa: dict[str, Any] = {"create": True, "name": SERVICE_ACCOUNT}
    if irsa_role_arn:
        sa["annotations"] = {"eks.amazonaws.com/role-arn": irsa_role_arn}
    return {
        "settings": {"clusterName": cluster_name, "interruptionQueue": queue_name},
        "serviceAccount": sa,
        "service": {"annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT)}},
        "replicas": replicas,
        "controller": {
            "image": {"repository": CONTROLLER_IMAGE, "tag": CONTROLLER_TAG, "digest": CONTROLLER_DIGEST},
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}},
        },
        "nodeSelector": {OS_KEY: "linux", labels.NODE_POOL_LABEL: system_pool},
        "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}, labels.k8s_taint(labels.SYSTEM_TAINT)],
    }


def _arn(partition: str, service: str, region: str, account: str, resource: str) -> str:
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


#: The controller's managed policies, as upstream splits them (aws/karpenter-provider-aws v1.14.1
#: `website/content/en/docs/getting-started/getting-started-with-karpenter/cloudformation.yaml`: NodeLifecyclePolicy,
#: IAMIntegrationPolicy, EKSIntegrationPolicy, InterruptionPolicy, ZonalShiftPolicy, ResourceDiscoveryPolicy), each
#: with its statement ids. One merged document goes over IAM's 6,144-character limit for a managed policy once the
#: cluster name is 17 characters or longer; split, the largest (node lifecycle) stays under it at the schema's 32.
CONTROLLER_POLICIES: dict[str, tuple[str, ...]] = {
    "node-lifecycle": ("AllowScopedEC2InstanceAccessActions", "AllowScopedEC2LaunchTemplateAccessActions",
                       "AllowScopedEC2InstanceActionsWithTags", "AllowScopedResourceCreationTagging",
                       "AllowScopedResourceTagging", "AllowScopedDeletion"),
    "iam-integration": ("AllowPassingInstanceRole", "AllowScopedInstanceProfileCreationActions",
                        "AllowScopedInstanceProfileTagActions", "AllowScopedInstanceProfileActions"),
    "eks-integration": ("AllowAPIServerEndpointDiscovery",),
    "interruption": ("AllowInterruptionQueueActions",),
    "zonal-shift": ("AllowZonalShiftStatusReadOnly",),
    "resource-discovery": ("AllowRegionalReadActions", "AllowSSMReadActions", "AllowPricingReadActions",
                           "AllowUnscopedInstanceProfileListAction", "AllowInstanceProfileReadActions"),
}


def controller_policies(cluster_name: str, region: str, account_id: str, node_role_arn: str, queue_arn: str,
                        partition: str = "aws") -> dict[str, dict[str, Any]]:
    """The controller's permissions as one policy document per entry of CONTROLLER_POLICIES, scoped as upstream
    scopes them: launches and deletions only of resources tagged for this cluster and a NodePool, instance profiles
    only for an EC2NodeClass in this region, PassRole only for the node role and only to EC2, the one queue, the one
    cluster, read-only discovery in this region."""
    def ec2(resource: str) -> str:
        return _arn(partition, "ec2", region, "*", resource)

    owned = {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned"}
    request_owned = {f"aws:RequestTag/kubernetes.io/cluster/{cluster_name}": "owned",
                     "aws:RequestTag/eks:eks-cluster-name": cluster_name}
    nodepool_res = {"aws:ResourceTag/karpenter.sh/nodepool": "*"}
    nodepool_req = {"aws:RequestTag/karpenter.sh/nodepool": "*"}
    launched = [ec2(f"{t}/*") for t in ("fleet", "instance", "volume", "network-interface", "launch-template",
                                         "spot-instances-request")]
    profile = f"arn:{partition}:iam::{account_id}:instance-profile/*"
    region_tag = "topology.kubernetes.io/region"
    cluster_arn = _arn(partition, "eks", region, account_id, f"cluster/{cluster_name}")
    statements: list[dict[str, Any]] = [
        {"Sid": "AllowScopedEC2InstanceAccessActions", "Effect": "Allow",
         "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
         "Resource": [f"arn:{partition}:ec2:{region}::image/*", f"arn:{partition}:ec2:{region}::snapshot/*",
                      ec2("security-group/*"), ec2("subnet/*"), ec2("capacity-reservation/*"), ec2("placement-group/*")]},
        {"Sid": "AllowScopedEC2LaunchTemplateAccessActions", "Effect": "Allow",
         "Action": ["ec2:RunInstances", "ec2:CreateFleet"], "Resource": ec2("launch-template/*"),
         "Condition": {"StringEquals": owned, "StringLike": nodepool_res}},
        {"Sid": "AllowScopedEC2InstanceActionsWithTags", "Effect": "Allow",
         "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"], "Resource": launched,
         "Condition": {"StringEquals": request_owned, "StringLike": nodepool_req}},
        {"Sid": "AllowScopedResourceCreationTagging", "Effect": "Allow", "Action": "ec2:CreateTags",
         "Resource": launched,
         "Condition": {"StringEquals": {**request_owned,
                                        "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"]},
                       "StringLike": nodepool_req}},
        {"Sid": "AllowScopedResourceTagging", "Effect": "Allow", "Action": "ec2:CreateTags", "Resource": ec2("instance/*"),
         "Condition": {"StringEquals": owned, "StringLike": nodepool_res,
                       "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster_name},
                       "ForAllValues:StringEquals": {"aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]}}},
        {"Sid": "AllowScopedDeletion", "Effect": "Allow", "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
         "Resource": [ec2("instance/*"), ec2("launch-template/*")],
         "Condition": {"StringEquals": owned, "StringLike": nodepool_res}},
        {"Sid": "AllowPassingInstanceRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": node_role_arn,
         "Condition": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}}},
        {"Sid": "AllowScopedInstanceProfileCreationActions", "Effect": "Allow", "Action": ["iam:CreateInstanceProfile"],
         "Resource": profile,
         "Condition": {"StringEquals": {**request_owned, f"aws:RequestTag/{region_tag}": region},
                       "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"}}},
        {"Sid": "AllowScopedInstanceProfileTagActions", "Effect": "Allow", "Action": ["iam:TagInstanceProfile"],
         "Resource": profile,
         "Condition": {"StringEquals": {**owned, f"aws:ResourceTag/{region_tag}": region, **request_owned,
                                        f"aws:RequestTag/{region_tag}": region},
                       "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                                      "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"}}},
        {"Sid": "AllowScopedInstanceProfileActions", "Effect": "Allow",
         "Action": ["iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
         "Resource": profile,
         "Condition": {"StringEquals": {**owned, f"aws:ResourceTag/{region_tag}": region},
                       "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"}}},
        {"Sid": "AllowAPIServerEndpointDiscovery", "Effect": "Allow", "Action": "eks:DescribeCluster",
         "Resource": cluster_arn},
        {"Sid": "AllowInterruptionQueueActions", "Effect": "Allow",
         "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"], "Resource": queue_arn},
        {"Sid": "AllowZonalShiftStatusReadOnly", "Effect": "Allow", "Action": ["arc-zonal-shift:GetManagedResource"],
         "Resource": "*", "Condition": {"StringEquals": {"arc-zonal-shift:ResourceIdentifier": cluster_arn}}},
        {"Sid": "AllowRegionalReadActions", "Effect": "Allow",
         "Action": ["ec2:DescribeCapacityReservations", "ec2:DescribeImages", "ec2:DescribeInstances",
                    "ec2:DescribeInstanceStatus", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplates", "ec2:DescribePlacementGroups", "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets"],
         "Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": region}}},
        {"Sid": "AllowSSMReadActions", "Effect": "Allow", "Action": "ssm:GetParameter",
         "Resource": f"arn:{partition}:ssm:{region}::parameter/aws/service/*"},
        {"Sid": "AllowPricingReadActions", "Effect": "Allow", "Action": "pricing:GetProducts", "Resource": "*"},
        {"Sid": "AllowUnscopedInstanceProfileListAction", "Effect": "Allow", "Action": "iam:ListInstanceProfiles",
         "Resource": "*"},
        {"Sid": "AllowInstanceProfileReadActions", "Effect": "Allow", "Action": "iam:GetInstanceProfile",
         "Resource": profile},
    ]
    by_sid = {st["Sid"]: st for st in statements}
    return {role: {"Version": "2012-10-17", "Statement": [by_sid[sid] for sid in sids]}
            for role, sids in CONTROLLER_POLICIES.items()}


def pod_identity_trust_policy() -> dict[str, Any]:
    """Trust for EKS Pod Identity: the pods.eks.amazonaws.com service assumes the role and tags the session."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"]}]}


# --------------------------------------------------------------------------------------- interruption queue

#: Message retention of the interruption queue (cloudformation.yaml: MessageRetentionPeriod 300): an interruption
#: notice older than five minutes is past acting on.
QUEUE_RETENTION_SECONDS = 300

#: EventBridge rules feeding the queue, by rule role: (source, detail-type).
INTERRUPTION_EVENTS = {
    "health": ("aws.health", "AWS Health Event"),
    "spot-interruption": ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
    "rebalance": ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
    "instance-state-change": ("aws.ec2", "EC2 Instance State-change Notification"),
    "capacity-reservation-interruption": ("aws.ec2", "EC2 Capacity Reservation Instance Interruption Warning"),
}


def event_pattern(role: str) -> dict[str, list[str]]:
    source, detail_type = INTERRUPTION_EVENTS[role]
    return {"source": [source], "detail-type": [detail_type]}


def queue_policy(queue_arn: str) -> dict[str, Any]:
    """EventBridge (and SQS) may send to the queue; nothing may use it over plain HTTP."""
    return {"Version": "2012-10-17", "Id": "EC2InterruptionPolicy", "Statement": [
        {"Sid": "AllowEventBridge", "Effect": "Allow",
         "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
         "Action": "sqs:SendMessage", "Resource": queue_arn},
        {"Sid": "DenyHTTP", "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": queue_arn,
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]}
