"""An EKS managed node group (system, CPU, GPU, Inferentia; on-demand or spot) that can scale from zero.

Args are plain serializable inputs (no Python objects, no unions) so the component can be offered to other
languages through the Python component provider.
"""

import base64
from typing import Mapping, Optional, Sequence, TypedDict, cast

import pulumi
import pulumi_aws as aws
from typing_extensions import NotRequired

from modelstack.render import labels, node_templates

TYPE = "modelstack:index:NodeGroup"


class TaintArgs(TypedDict):
    key: str
    """Taint key."""
    value: NotRequired[str]
    """Taint value. Default ""."""
    effect: NotRequired[str]
    """NoSchedule, PreferNoSchedule or NoExecute. Default NoSchedule."""


class NodeGroupArgs(TypedDict):
    cluster_name: pulumi.Input[str]
    """EKS cluster name (ClusterHandle.cluster_name). Required."""
    node_role_arn: pulumi.Input[str]
    """Node IAM role (ClusterHandle.node_role_arn). Required."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Private subnets the nodes run in. Required."""
    instance_types: Sequence[str]
    """Instance types; for spot, several of the same CPU/memory/GPU shape. Required. Changing them replaces the
    managed node group (EKS cannot update instance types in place)."""
    kubernetes_version: NotRequired[pulumi.Input[str]]
    """Kubelet version; pass ClusterHandle.kubernetes_version so a control plane upgrade rolls the nodes after it.
    Default: the cluster's version at creation, never updated."""
    kind: NotRequired[str]
    """"system", "cpu", "gpu" or "inferentia": AMI type, labels and taints. Default "cpu"."""
    arch: NotRequired[str]
    """"amd64" or "arm64" (Graviton). Default "amd64"."""
    capacity_type: NotRequired[str]
    """"ON_DEMAND" or "SPOT". Default "ON_DEMAND"."""
    node_group_name: NotRequired[str]
    """Base of the managed node group's name, at most 55 characters: EKS gets `<base>-<7 hex digits>`, a digest
    of the inputs whose change replaces the group, so a replacement is created under a new name and ready before
    the old group drains and goes. Default: the component name."""
    node_pool: NotRequired[str]
    """Pool label shared by a spot group and its on-demand fallback; models select the pool. Default: node_group_name."""
    priority: NotRequired[int]
    """1-100, higher preferred by the cluster-autoscaler priority expander. Default 50."""
    min_size: NotRequired[int]
    """Minimum nodes; 0 scales to zero. Default 0."""
    max_size: NotRequired[int]
    """Maximum nodes. Default 5."""
    accelerator_count: NotRequired[int]
    """GPUs (gpu) or Neuron devices (inferentia) per node, advertised to cluster-autoscaler for scale from zero.
    Default 0."""
    root_volume_size_gib: NotRequired[int]
    """Root EBS volume size. Default 100."""
    root_volume_type: NotRequired[str]
    """"gp3" or "gp2". Default "gp3"."""
    root_volume_iops: NotRequired[int]
    """gp3 IOPS (above 3000 is billed). Default 3000."""
    root_volume_throughput: NotRequired[int]
    """gp3 throughput MB/s (above 125 is billed). Default 125."""
    max_unavailable_percentage: NotRequired[int]
    """Nodes replaced at once when the AMI or Kubernetes version changes. Default 33."""
    instance_store_policy: NotRequired[str]
    """"RAID0": the instance-store NVMe volumes as one RAID 0 for the kubelet and containerd (nodeadm user data in the
    launch template), so emptyDir volumes and image layers are node-local NVMe (an LLM's weights). Default none."""
    weights_cache: NotRequired[bool]
    """Also prepare the LLM weights' node-wide cache folder on that RAID (a script in the launch template's user data,
    render/node_templates.py; needs instance_store_policy). Default false."""
    imds_hop_limit: NotRequired[int]
    """IMDSv2 response hop limit. Default 1: pods (one hop away) cannot read the node role's credentials;
    add-ons use IRSA and get region/VPC from their values instead."""
    labels: NotRequired[Mapping[str, str]]
    """Extra Kubernetes labels. Default: none."""
    taints: NotRequired[Sequence[TaintArgs]]
    """Extra taints (Kubernetes spelling). Default: none."""
    tags: NotRequired[Mapping[str, str]]
    """AWS tags on the node group, launch template, instances and volumes. Default: none."""



def _asg_name(resources: Sequence[aws.eks.outputs.NodeGroupResource]) -> str:
    """The Auto Scaling group EKS made for a managed node group (it makes exactly one)."""
    groups = resources[0].autoscaling_groups or []
    return groups[0].name or ""

class NodeGroup(pulumi.ComponentResource):
    """A launch template (IMDSv2, encrypted gp3 root, cost tags on instances and volumes), a managed node group,
    and the ASG tags cluster-autoscaler needs to scale the group up from zero.

    Spot: managed node groups use price-capacity-optimized allocation and turn on Capacity Rebalancing; on a
    rebalance recommendation EKS launches a replacement, then cordons and drains the old node, so model pods get
    their preStop hook and termination grace (Cortex #1447). No interruption handler is needed.
    Upgrades: a new `kubernetes_version` or launch template version rolls nodes `max_unavailable_percentage` at a
    time, respecting PodDisruptionBudgets. `scalingConfig.desiredSize` is ignored after creation: cluster-autoscaler
    owns it.
    """

    node_group_name: pulumi.Output[str]
    """The managed node group's name in EKS (`<base>-<digest>`)."""
    node_pool: pulumi.Output[str]
    """The pool label value of its nodes."""
    priority: pulumi.Output[int]
    """Its priority for the expander."""
    capacity_type: pulumi.Output[str]
    """ON_DEMAND or SPOT."""
    asg_name: pulumi.Output[str]
    """Name of the Auto Scaling group EKS made for it."""
    launch_template_id: pulumi.Output[str]
    """The launch template."""
    node_labels: pulumi.Output[dict[str, str]]
    """Kubernetes labels its nodes carry."""

    def __init__(self, name: str, args: NodeGroupArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kind = args.get("kind", "cpu")
        arch = args.get("arch", "amd64")
        capacity = args.get("capacity_type", "ON_DEMAND")
        ng_name = args.get("node_group_name", name)
        pool = args.get("node_pool", ng_name)
        priority = args.get("priority", 50)
        min_size, max_size = args.get("min_size", 0), args.get("max_size", 5)
        instance_types = list(args["instance_types"])
        if not instance_types:
            raise ValueError(f"{name}: instance_types must not be empty")
        if not 0 <= min_size <= max_size or max_size < 1:
            raise ValueError(f"{name}: need 0 <= min_size <= max_size and max_size >= 1, got {min_size}/{max_size}")
        if not 1 <= priority <= 100:
            raise ValueError(f"{name}: priority must be 1-100, got {priority}")
        ami_type = node_templates.ami_type(kind, arch)
        node_labels = node_templates.node_labels(ng_name, pool, kind, args.get("labels"))
        taints = node_templates.node_taints(kind, args.get("taints") or [])
        volume_gib = args.get("root_volume_size_gib", 100)
        template = node_templates.template_tags(node_labels, taints, capacity, kind,
                                                args.get("accelerator_count", 0), volume_gib)
        tags = dict(args.get("tags") or {})

        volume_type = args.get("root_volume_type", "gp3")
        ebs: aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgsDict = {
            "volume_size": volume_gib, "volume_type": volume_type, "encrypted": "true", "delete_on_termination": "true"}
        if volume_type == "gp3":
            ebs["iops"] = args.get("root_volume_iops", 3000)
            ebs["throughput"] = args.get("root_volume_throughput", 125)
        store = args.get("instance_store_policy")  # nodeadm's NodeConfig: the instance stores as one RAID 0 array
        user_data = base64.b64encode(node_templates.instance_store_user_data(
            store, weights_cache=bool(args.get("weights_cache"))).encode()).decode() if store else None
        lt = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description=f"EKS managed node group {ng_name}",
            # AL2023 EKS AMIs boot from /dev/xvda.
            block_device_mappings=[{"device_name": "/dev/xvda", "ebs": ebs}],
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                              "http_put_response_hop_limit": args.get("imds_hop_limit", 1),
                              "instance_metadata_tags": "disabled"},
            tag_specifications=[aws.ec2.LaunchTemplateTagSpecificationArgsDict(resource_type=rt, tags={**tags, "Name": ng_name})
                                for rt in ("instance", "volume", "network-interface")],
            update_default_version=True,
            user_data=user_data,
            tags=tags,
            opts=child,
        )
        if len(ng_name) > node_templates.BASE_NAME_MAX:
            raise ValueError(f"{name}: node_group_name {ng_name!r} is {len(ng_name)} characters; at most "
                             f"{node_templates.BASE_NAME_MAX} (EKS allows {node_templates.EKS_NAME_MAX} with the digest)")
        lt_ref: aws.eks.NodeGroupLaunchTemplateArgsDict = {"id": lt.id, "version": lt.latest_version.apply(str)}
        # Every input of the group that EKS cannot update in place goes into its name (replace_on.json holds them).
        eks_name = pulumi.Output.all(args["cluster_name"], args["node_role_arn"], args["subnet_ids"], lt.id).apply(
            lambda v: node_templates.eks_node_group_name(ng_name, {
                "clusterName": v[0], "nodeRoleArn": v[1], "subnetIds": sorted(v[2]), "launchTemplate.id": v[3],
                "instanceTypes": instance_types, "capacityType": capacity, "amiType": ami_type}))
        ng = aws.eks.NodeGroup(
            f"{name}-ng",
            cluster_name=args["cluster_name"],
            node_group_name=eks_name,
            node_role_arn=args["node_role_arn"],
            subnet_ids=args["subnet_ids"],
            ami_type=ami_type,
            capacity_type=capacity,
            instance_types=instance_types,
            labels=node_labels,
            taints=[cast(aws.eks.NodeGroupTaintArgsDict, labels.eks_taint(t)) for t in taints],  # key, value, effect
            scaling_config=aws.eks.NodeGroupScalingConfigArgsDict(min_size=min_size, max_size=max_size,
                                                                  desired_size=min_size),
            update_config=aws.eks.NodeGroupUpdateConfigArgsDict(
                max_unavailable_percentage=args.get("max_unavailable_percentage", 33)),
            launch_template=lt_ref,
            tags={**tags, labels.NODE_POOL_LABEL: pool},
            version=args.get("kubernetes_version"),  # None: the cluster's at creation (not sent)
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["scalingConfig.desiredSize"]),
        )
        asg_name = ng.resources.apply(_asg_name)
        for key, slug in node_templates.tag_slugs(template).items():
            aws.autoscaling.Tag(f"{name}-asg-{slug}", autoscaling_group_name=asg_name,
                                tag={"key": key, "value": template[key], "propagate_at_launch": False}, opts=child)

        self.node_group_name = ng.node_group_name
        self.node_pool = pulumi.Output.from_input(pool)
        self.priority = pulumi.Output.from_input(priority)
        self.capacity_type = pulumi.Output.from_input(capacity)
        self.asg_name = asg_name
        self.launch_template_id = lt.id
        self.node_labels = pulumi.Output.from_input(node_labels)
        self.register_outputs({
            "node_group_name": self.node_group_name,
            "node_pool": self.node_pool,
            "priority": self.priority,
            "capacity_type": self.capacity_type,
            "asg_name": self.asg_name,
            "launch_template_id": self.launch_template_id,
            "node_labels": self.node_labels,
        })
