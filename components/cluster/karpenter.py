"""Karpenter as the node provisioner: controller chart, its IAM, the node role, discovery tags, the interruption
queue and its EventBridge rules, the EC2NodeClass and one NodePool per planned node group.

Documents and objects come from render/karpenter.py (pure); this module only wires resources.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Mapping, Optional, Sequence, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from typing_extensions import NotRequired

from modelstack.cluster import helm
from modelstack.cluster.handle import ClusterHandle, inherited_depends_on
from modelstack.render import iam, karpenter, node_templates
from modelstack.render.charts import CHARTS

TYPE = "modelstack:index:Karpenter"
_PIN = CHARTS[karpenter.CHART_NAME]
NAMESPACE = _PIN.namespace
#: The controller policy that keeps the resource name `<name>-controller` (the one policy before the split).
_FIRST_POLICY = "node-lifecycle"


class NodePoolArgs(TypedDict):
    name: str
    """NodePool name (the planned node group's name). Required."""
    pool: str
    """modelstack.io/node-pool label value models select. Required."""
    kind: str
    """"cpu", "gpu" or "inferentia". Required."""
    capacity_types: Sequence[str]
    """karpenter.sh/capacity-type values ("spot" or "on-demand"). Required."""
    instance_types: Sequence[str]
    """Instance types Karpenter may launch. Required."""
    arch: NotRequired[str]
    """"amd64" or "arm64". Default "amd64"."""
    weight: NotRequired[int]
    """1-100; Karpenter tries heavier NodePools first. Default 50."""
    limits: NotRequired[Mapping[str, str]]
    """Resource totals the NodePool may launch (cpu, memory, nvidia.com/gpu, ...). Default: none (unbounded)."""
    labels: NotRequired[Mapping[str, str]]
    """Extra node labels. Default: none."""
    taints: NotRequired[Sequence[Mapping[str, str]]]
    """Node taints (Kubernetes spelling). Default: none."""
    node_class: NotRequired[str]
    """Name of the EC2NodeClass (in `node_classes`) its nodes launch from. Default "default"."""


class NodeClassArgs(TypedDict):
    name: str
    """EC2NodeClass name. Required."""
    root_volume_size_gib: NotRequired[int]
    """Root volume size. Default 100."""
    root_volume_type: NotRequired[str]
    """"gp3" or "gp2". Default "gp3"."""
    root_volume_iops: NotRequired[int]
    """gp3 IOPS. Default 3000."""
    root_volume_throughput: NotRequired[int]
    """gp3 MB/s. Default 125."""
    instance_store_policy: NotRequired[str]
    """"RAID0": the instance-store NVMe volumes as one RAID 0 holding the kubelet's and containerd's folders (so
    emptyDir volumes and image layers are node-local NVMe; the LLM weights' cache). Default none (root volume)."""
    weights_cache: NotRequired[bool]
    """A `userData` script that prepares the LLM weights' node-wide cache folder on that RAID
    (render/node_templates.py; needs instance_store_policy). Default false: no userData."""


def _managed_policy_arn(name: str, partition: str) -> str:
    return iam.managed_policy_arn(name, partition)


def _item(i: int, ids: Sequence[str]) -> str:
    return ids[i]


def _document(role: str, documents: Mapping[str, Any]) -> str:
    return json.dumps(documents[role])


class KarpenterArgs(TypedDict):
    handle: ClusterHandle
    """The cluster. Required."""
    region: str
    """AWS region of the cluster (the controller policy is scoped to it). Required."""
    node_pools: Sequence[NodePoolArgs]
    """One NodePool each. Required (may be empty)."""
    subnet_count: int
    """How many of `handle.private_subnet_ids` to tag for discovery (their number is known to the program). Required."""
    environment: NotRequired[str]
    """Picks the disruption defaults (render/karpenter.py DISRUPTION_DEFAULTS). Default "prod" (the strictest)."""
    zones: NotRequired[pulumi.Input[Sequence[str]]]
    """Zones NodePools may use. Default: any zone of the discovered subnets."""
    chart_version: NotRequired[str]
    """karpenter chart version (OCI). Default "1.14.1"."""
    system_node_pool: NotRequired[str]
    """Pool the controller runs on (a managed, on-demand group). Default "system"."""
    replicas: NotRequired[int]
    """Controller replicas; each needs its own system node (the chart's hostname anti-affinity). Default 2."""
    controller_identity: NotRequired[str]
    """"pod-identity" (EKS Pod Identity; needs the agent add-on) or "irsa". Default "pod-identity"."""
    consolidation_policy: NotRequired[str]
    """WhenEmpty or WhenEmptyOrUnderutilized. Default: the environment's."""
    consolidate_after: NotRequired[str]
    """Default: the environment's (dev 1m, staging 5m, prod 15m)."""
    disruption_budget: NotRequired[str]
    """Nodes of a NodePool disrupted at once. Default: the environment's (dev 50%, staging 20%, prod 10%)."""
    expire_after: NotRequired[str]
    """Node lifetime. Default "720h"."""
    ami_version: NotRequired[str]
    """AL2023 AMI release for the alias (v20251016) or "latest". Default "latest"."""
    node_classes: NotRequired[Sequence[NodeClassArgs]]
    """EC2NodeClasses, one per distinct root volume. Default: one named "default" (gp3 100 GiB)."""
    imds_hop_limit: NotRequired[int]
    """IMDSv2 hop limit, as NodeGroup. Default 1."""
    labels: NotRequired[Mapping[str, str]]
    """Labels on the NodePool and EC2NodeClass objects (environment, team). Default: none."""
    tags: NotRequired[Mapping[str, str]]
    """AWS tags on every AWS resource and on the instances Karpenter launches. Default: none."""


class Karpenter(pulumi.ComponentResource):
    """Karpenter 1.14 on EKS, scoped as upstream's CloudFormation scopes it.

    Children: the node role (4 AWS managed policies) with an EC2_LINUX access entry; the controller role and its six
    managed policies, split as upstream splits them (`<name>-controller` holds the node-lifecycle statements,
    `<name>-controller-<role>` the others; render/karpenter.CONTROLLER_POLICIES) (Pod Identity association, or IRSA); `karpenter.sh/discovery` tags on the private subnets and the cluster
    security group; an SQS queue (SSE, 300 s retention) with a TLS-only policy and EventBridge rules for spot
    interruptions, rebalance recommendations, instance state changes, AWS Health events and capacity reservation
    interruptions; the Helm release (OCI); an EC2NodeClass per entry of `node_classes`; a NodePool per entry of
    `node_pools`.
    Create it with `depends_on` the system node group (and the Pod Identity agent): children inherit it.
    """

    node_role_arn: pulumi.Output[str]
    """Role of the nodes Karpenter launches."""
    controller_role_arn: pulumi.Output[str]
    """Role the controller's service account uses."""
    queue_name: pulumi.Output[str]
    """The interruption queue the chart reads."""
    node_pools: pulumi.Output[list[str]]
    """NodePool names."""

    def __init__(self, name: str, args: KarpenterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, None, opts)
        h = args["handle"]
        region = args["region"]
        deps = inherited_depends_on(opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=deps)
        tags = dict(args.get("tags") or {})
        meta_labels = dict(args.get("labels") or {})
        identity = args.get("controller_identity", "pod-identity")
        if identity not in ("pod-identity", "irsa"):
            raise ValueError(f"{name}: controller_identity must be pod-identity or irsa, got {identity!r}")
        disruption = karpenter.disruption_for(
            args.get("environment", "prod"), consolidation_policy=args.get("consolidation_policy"),
            consolidate_after=args.get("consolidate_after"), budget_nodes=args.get("disruption_budget"),
            expire_after=args.get("expire_after"))
        specs = [karpenter.NodePoolSpec(
            name=p["name"], pool=p["pool"], kind=p["kind"], capacity_types=tuple(p["capacity_types"]),
            instance_types=tuple(p["instance_types"]), arch=p.get("arch", "amd64"), weight=p.get("weight", 50),
            limits=dict(p.get("limits") or {}), labels=dict(p.get("labels") or {}), taints=tuple(p.get("taints") or ()),
            node_class=p.get("node_class", karpenter.NODECLASS_NAME))
            for p in args["node_pools"]]
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"{name}: NodePool names must be unique, got {names}")
        classes = list(args.get("node_classes") or [{"name": karpenter.NODECLASS_NAME}])
        class_names = [c["name"] for c in classes]
        if len(set(class_names)) != len(class_names):
            raise ValueError(f"{name}: EC2NodeClass names must be unique, got {class_names}")
        missing = sorted({s.node_class for s in specs} - set(class_names))
        if missing:
            raise ValueError(f"{name}: NodePools refer to EC2NodeClasses {missing} not in node_classes {class_names}")
        identity_info = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOptions(parent=self)).partition

        # Nodes: their own role, admitted by an EC2_LINUX access entry (no aws-auth ConfigMap).
        node_role = aws.iam.Role(
            f"{name}-node", assume_role_policy=json.dumps(iam.assume_role_policy("ec2.amazonaws.com")),
            description="Nodes launched by Karpenter", tags=tags, opts=child)
        node_attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-node-{policy}", role=node_role.name,
                                         policy_arn=partition.apply(functools.partial(_managed_policy_arn, policy)),
                                         opts=child)
            for policy in karpenter.NODE_MANAGED_POLICIES]
        access = aws.eks.AccessEntry(f"{name}-node-access", cluster_name=h.cluster_name, principal_arn=node_role.arn,
                                     type="EC2_LINUX", tags=tags, opts=child)

        # Discovery: the EC2NodeClass selects subnets and the security group by this tag.
        count = args["subnet_count"]
        for i in range(count):
            aws.ec2.Tag(f"{name}-discovery-subnet-{i}", resource_id=h.private_subnet_ids.apply(functools.partial(_item, i)),
                        key=karpenter.DISCOVERY_TAG, value=h.cluster_name, opts=child)
        aws.ec2.Tag(f"{name}-discovery-sg", resource_id=h.cluster_security_group_id, key=karpenter.DISCOVERY_TAG,
                    value=h.cluster_name, opts=child)

        # Interruption handling: EventBridge -> SQS -> controller.
        queue = aws.sqs.Queue(f"{name}-interruption", name=h.cluster_name.apply(lambda n: f"{n}-karpenter"),
                              message_retention_seconds=karpenter.QUEUE_RETENTION_SECONDS,
                              sqs_managed_sse_enabled=True, tags=tags, opts=child)
        aws.sqs.QueuePolicy(f"{name}-interruption-policy", queue_url=queue.url,
                            policy=queue.arn.apply(lambda a: json.dumps(karpenter.queue_policy(a))), opts=child)
        for role in karpenter.INTERRUPTION_EVENTS:
            rule = aws.cloudwatch.EventRule(f"{name}-{role}", event_pattern=json.dumps(karpenter.event_pattern(role)),
                                            description=f"Karpenter interruption handling: {karpenter.INTERRUPTION_EVENTS[role][1]}",
                                            tags=tags, opts=child)
            aws.cloudwatch.EventTarget(f"{name}-{role}-target", rule=rule.name, arn=queue.arn,
                                       target_id="KarpenterInterruptionQueueTarget", opts=child)

        # Controller: a role scoped to this cluster, its node role and its queue.
        if identity == "pod-identity":
            trust = pulumi.Output.from_input(json.dumps(karpenter.pod_identity_trust_policy()))
        else:
            trust = pulumi.Output.all(h.oidc_provider_arn, h.oidc_provider_url).apply(lambda a: json.dumps(
                iam.irsa_trust_policy(a[0], a[1], NAMESPACE, karpenter.SERVICE_ACCOUNT)))
        controller_role = aws.iam.Role(f"{name}-controller", assume_role_policy=trust,
                                       description="Karpenter controller", tags=tags, opts=child)
        documents = pulumi.Output.all(h.cluster_name, identity_info.account_id, node_role.arn, queue.arn, partition).apply(
            lambda a: karpenter.controller_policies(a[0], region, a[1], a[2], a[3], a[4]))
        attachments = []
        for role in karpenter.CONTROLLER_POLICIES:
            if role == _FIRST_POLICY:
                continue
            p = aws.iam.Policy(f"{name}-controller-{role}", policy=documents.apply(functools.partial(_document, role)),
                               description=f"Karpenter controller: {role} (scoped)", tags=tags, opts=child)
            attachments.append(aws.iam.RolePolicyAttachment(f"{name}-controller-{role}", role=controller_role.name,
                                                            policy_arn=p.arn, opts=child))
        # The node-lifecycle statements keep the policy resource that held all of them before the split (same URN,
        # same description: the provider replaces a policy whose description changes). It is updated only after the
        # other five are attached, so an upgraded controller never runs without a permission it had.
        policy = aws.iam.Policy(f"{name}-controller", policy=documents.apply(lambda d: json.dumps(d[_FIRST_POLICY])),
                                description="Karpenter controller (scoped)", tags=tags,
                                opts=pulumi.ResourceOptions(parent=self, depends_on=[*deps, *attachments]))
        attachments.insert(0, aws.iam.RolePolicyAttachment(f"{name}-controller", role=controller_role.name,
                                                           policy_arn=policy.arn, opts=child))
        release_deps = [*deps, *attachments, access, queue]
        if identity == "pod-identity":
            release_deps.append(aws.eks.PodIdentityAssociation(
                f"{name}-controller", cluster_name=h.cluster_name, namespace=NAMESPACE,
                service_account=karpenter.SERVICE_ACCOUNT, role_arn=controller_role.arn, tags=tags, opts=child))

        values = pulumi.Output.all(h.cluster_name, queue.name, controller_role.arn).apply(
            lambda a: karpenter.helm_values(a[0], a[1], args.get("system_node_pool", "system"),
                                            replicas=args.get("replicas", 2),
                                            irsa_role_arn=a[2] if identity == "irsa" else None))
        release = helm.release(f"{name}-release", chart=karpenter.CHART_NAME, pin=_PIN, release_name=karpenter.RELEASE_NAME,
                               version=args.get("chart_version"), values=values, provider=h.provider, parent=self,
                               depends_on=release_deps)

        # The node classes wait for the node role's policies and access entry, so that `pulumi destroy` removes
        # them (and with them Karpenter's nodes) before the permissions those nodes run on.
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=h.provider,
                                          depends_on=[*deps, release, *node_attachments, access])
        node_class_resources = []

        def node_class(c: Mapping[str, Any], a: list[Any]) -> dict[str, Any]:
            return karpenter.ec2_node_class(
                a[0], a[1], name=c["name"], ami_version=args.get("ami_version", "latest"),
                volume_size_gib=c.get("root_volume_size_gib", 100), volume_type=c.get("root_volume_type", "gp3"),
                iops=c.get("root_volume_iops", 3000), throughput=c.get("root_volume_throughput", 125),
                imds_hop_limit=args.get("imds_hop_limit", 1), tags=tags, metadata_labels=meta_labels,
                instance_store_policy=c.get("instance_store_policy"),
                # the LLM weights' node-wide cache folder on that RAID (render/node_templates.py)
                user_data=node_templates.weights_cache_user_data() if c.get("weights_cache") else None)

        for c in classes:
            suffix = "" if c["name"] == karpenter.NODECLASS_NAME else f"-{c['name']}"
            node_class_resources.append(k8s.apiextensions.CustomResource(
                f"{name}-nodeclass{suffix}",
                **_object(karpenter.NODECLASS_API, "EC2NodeClass", pulumi.Output.all(h.cluster_name, node_role.name).apply(
                    functools.partial(node_class, c))),
                opts=k8s_opts))
        zones = pulumi.Output.from_input(args.get("zones") or [])
        pool_opts = pulumi.ResourceOptions(parent=self, provider=h.provider, depends_on=[*deps, release, *node_class_resources])

        def node_pool(spec: karpenter.NodePoolSpec, z: Sequence[str]) -> dict[str, Any]:
            return karpenter.node_pool(spec, disruption, list(z), meta_labels)

        for s in specs:
            k8s.apiextensions.CustomResource(
                f"{name}-{s.name}",
                **_object(karpenter.NODEPOOL_API, "NodePool", zones.apply(functools.partial(node_pool, s))),
                opts=pool_opts)

        self.node_role_arn = node_role.arn
        self.controller_role_arn = controller_role.arn
        self.queue_name = queue.name
        self.node_pools = pulumi.Output.from_input(names)
        self.register_outputs({"node_role_arn": self.node_role_arn, "controller_role_arn": self.controller_role_arn,
                               "queue_name": self.queue_name, "node_pools": self.node_pools})


def _object(api_version: str, kind: str, body: pulumi.Output[dict[str, Any]]) -> dict[str, Any]:
    """CustomResource arguments from a rendered object; apiVersion and kind are plain strings (they make the type)."""
    return {"api_version": api_version, "kind": kind,
            "metadata": body.apply(lambda b: b["metadata"]), "spec": body.apply(lambda b: b["spec"])}
