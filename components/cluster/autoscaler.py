"""cluster-autoscaler on EKS: its own least-privilege IRSA role and the Helm chart with the priority expander."""

from __future__ import annotations

import json
from typing import Optional, Sequence, TypedDict

import pulumi
import pulumi_aws as aws
from typing_extensions import NotRequired

from modelstack.render import addon_values, iam, node_templates, timeouts
from modelstack.render.charts import CHARTS, CLUSTER_AUTOSCALER, Chart
from modelstack.cluster import helm
from modelstack.cluster.handle import ClusterHandle, inherited_depends_on

TYPE = "modelstack:index:ClusterAutoscaler"
CHART = "cluster-autoscaler"
NAMESPACE = CHARTS[CHART].namespace
SERVICE_ACCOUNT = "cluster-autoscaler"


class ClusterAutoscalerArgs(TypedDict):
    handle: ClusterHandle
    """The cluster (names, OIDC provider, Kubernetes provider). Required."""
    region: str
    """AWS region of the cluster. Required."""
    node_groups: Sequence[node_templates.GroupRank]
    """Every autoscaled node group: name, priority, capacity_type, vcpu, for the priority expander. Required."""
    kubernetes_version: str
    """The cluster's Kubernetes minor ("1.35"). Required: the autoscaler's minor must equal it."""
    chart_version: NotRequired[str]
    """cluster-autoscaler chart version; its app minor must be `kubernetes_version`. Default: the chart pinned for
    that minor (render/charts.CLUSTER_AUTOSCALER; 9.59.0, app 1.35.0, for 1.35). The image is the chart's own."""
    system_node_pool: NotRequired[str]
    """Pool the autoscaler runs on (tolerating SYSTEM_TAINT). Default "system"."""
    scale_down_unneeded_time: NotRequired[str]
    """How long a node is unneeded before removal. Default "10m"."""
    scale_down_delay_after_add: NotRequired[str]
    """Scale-down pause after a scale-up. Default "10m"."""
    expendable_pods_priority_cutoff: NotRequired[int]
    """Pods below this priority never trigger scale-up. Default -10 (the autoscaler's default)."""
    max_graceful_termination_seconds: NotRequired[int]
    """How long a scale-down lets a pod terminate before the node goes anyway: at least the longest grace period of
    the pods on autoscaled nodes (model pods, the KEDA interceptor). Default 600 (the autoscaler's default)."""
    tags: NotRequired[dict[str, str]]
    """AWS tags on the IAM role. Default: none."""


class ClusterAutoscaler(pulumi.ComponentResource):
    """IRSA role + inline least-privilege policy + Helm release; ranks spot before on-demand, small before large.

    Children depend on whatever the component's own `depends_on` names (e.g. the system node group), so the
    release is not installed before there is a node to run it.
    """

    role_arn: pulumi.Output[str]
    """IAM role the autoscaler's service account assumes."""
    release_name: pulumi.Output[Optional[str]]
    """Helm release name."""
    expander_priorities: dict[int, list[str]]
    """The priority expander ranking rendered into the chart (Python attribute, known at plan time)."""

    def __init__(self, name: str, args: ClusterAutoscalerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, None, opts)
        h = args["handle"]
        deps = inherited_depends_on(opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=deps)
        tags = dict(args.get("tags") or {})
        pinned = _pinned_chart(args["kubernetes_version"], args.get("chart_version"))
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
            scale_down_unneeded_time=args.get("scale_down_unneeded_time", "10m"),
            scale_down_delay_after_add=args.get("scale_down_delay_after_add", "10m"),
            expendable_pods_priority_cutoff=args.get("expendable_pods_priority_cutoff", -10),
            max_graceful_termination_seconds=args.get("max_graceful_termination_seconds",
                                                      timeouts.AUTOSCALER_GRACEFUL_TERMINATION_DEFAULT_SECONDS)))
        release = helm.release(f"{name}-release", chart=CHART, pin=pinned, release_name="cluster-autoscaler",
                               values=values, provider=h.provider, parent=self, depends_on=[*deps, role])
        self.role_arn = role.arn
        self.release_name = release.name
        self.register_outputs({"role_arn": self.role_arn, "release_name": self.release_name})


def _pinned_chart(kubernetes_version: str, version: Optional[str]) -> Chart:
    """The chart for the cluster's minor; a given version must be one whose app minor is that minor."""
    if kubernetes_version not in CLUSTER_AUTOSCALER:
        raise ValueError(f"cluster-autoscaler: no chart pinned for Kubernetes {kubernetes_version!r} "
                         f"(pinned: {', '.join(CLUSTER_AUTOSCALER)})")
    pinned = CLUSTER_AUTOSCALER[kubernetes_version]
    if version is not None and version != pinned.version:
        raise ValueError(f"cluster-autoscaler: chart {version} is not the one pinned for Kubernetes {kubernetes_version} "
                         f"({pinned.version}, app {pinned.app_version}); its minor must equal the cluster's")
    return pinned
