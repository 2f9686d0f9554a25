"""cluster-autoscaler on EKS: its own least-privilege IRSA role and the Helm chart with the priority expander."""

from __future__ import annotations

import json
from typing import Optional, Sequence, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from typing_extensions import NotRequired

from modelstack.render import addon_values, iam, node_templates
from modelstack.render.charts import CHARTS
from modelstack.cluster.handle import ClusterHandle, inherited_depends_on

TYPE = "modelstack:index:ClusterAutoscaler"
CHART = "cluster-autoscaler"
REPO, NAMESPACE, DEFAULT_VERSION = CHARTS[CHART]
SERVICE_ACCOUNT = "cluster-autoscaler"


class ClusterAutoscalerArgs(TypedDict):
    handle: ClusterHandle
    """The cluster (names, OIDC provider, Kubernetes provider). Required."""
    region: str
    """AWS region of the cluster. Required."""
    node_groups: Sequence[node_templates.GroupRank]
    """Every autoscaled node group: name, priority, capacity_type, vcpu, for the priority expander. Required."""
    chart_version: NotRequired[str]
    """cluster-autoscaler chart version. Default "9.46.6" (app 1.32.0)."""
    image_tag: NotRequired[str]
    """Autoscaler image tag; keep its minor equal to the cluster's ("v1.33.0" for 1.33). Default: the chart's."""
    system_node_pool: NotRequired[str]
    """Pool the autoscaler runs on (tolerating SYSTEM_TAINT). Default "system"."""
    scale_down_unneeded_time: NotRequired[str]
    """How long a node is unneeded before removal. Default "10m"."""
    scale_down_delay_after_add: NotRequired[str]
    """Scale-down pause after a scale-up. Default "10m"."""
    expendable_pods_priority_cutoff: NotRequired[int]
    """Pods below this priority never trigger scale-up. Default -10 (the autoscaler's default)."""
    tags: NotRequired[dict[str, str]]
    """AWS tags on the IAM role. Default: none."""


class ClusterAutoscaler(pulumi.ComponentResource):
    """IRSA role + inline least-privilege policy + Helm release; ranks spot before on-demand, small before large.

    Children depend on whatever the component's own `depends_on` names (e.g. the system node group), so the
    release is not installed before there is a node to run it.
    """

    role_arn: pulumi.Output[str]
    """IAM role the autoscaler's service account assumes."""
    release_name: pulumi.Output[str]
    """Helm release name."""
    expander_priorities: dict[int, list[str]]
    """The priority expander ranking rendered into the chart (Python attribute, known at plan time)."""

    def __init__(self, name: str, args: ClusterAutoscalerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, None, opts)
        h = args["handle"]
        deps = inherited_depends_on(opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=deps)
        tags = dict(args.get("tags") or {})
        self.expander_priorities = node_templates.expander_priorities(list(args["node_groups"]))

        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=pulumi.Output.all(h.oidc_provider_arn, h.oidc_provider_url).apply(
                lambda a: json.dumps(iam.irsa_trust_policy(a[0], a[1], NAMESPACE, SERVICE_ACCOUNT))),
            description="cluster-autoscaler (IRSA)", tags=tags, opts=child)
        aws.iam.RolePolicy(f"{name}-policy", role=role.name,
                           policy=h.cluster_name.apply(lambda n: iam.to_json(iam.cluster_autoscaler_policy(n))),
                           opts=child)
        values = pulumi.Output.all(h.cluster_name, role.arn).apply(lambda a: addon_values.cluster_autoscaler(
            cluster_name=a[0], region=args["region"], role_arn=a[1], priorities=self.expander_priorities,
            system_pool=args.get("system_node_pool", "system"), service_account=SERVICE_ACCOUNT,
            image_tag=args.get("image_tag"),
            scale_down_unneeded_time=args.get("scale_down_unneeded_time", "10m"),
            scale_down_delay_after_add=args.get("scale_down_delay_after_add", "10m"),
            expendable_pods_priority_cutoff=args.get("expendable_pods_priority_cutoff", -10)))
        release = k8s.helm.v3.Release(
            f"{name}-release",
            name="cluster-autoscaler",
            chart=CHART,
            version=args.get("chart_version", DEFAULT_VERSION),
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=REPO),
            namespace=NAMESPACE,
            values=values,
            opts=pulumi.ResourceOptions(parent=self, provider=h.provider, depends_on=[*deps, role]),
        )
        self.role_arn = role.arn
        self.release_name = release.name
        self.register_outputs({"role_arn": self.role_arn, "release_name": self.release_name})
