"""ClusterLogging: every model container's logs in one CloudWatch log group with a retention (Cortex shipped every
API's logs to CloudWatch)."""

from __future__ import annotations

import json
from typing import Optional, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from typing_extensions import NotRequired

from modelstack.cluster.handle import ClusterHandle, inherited_depends_on
from modelstack.render import iam
from modelstack.render import logging as log_values
from modelstack.render.charts import CHARTS

TYPE = "modelstack:index:ClusterLogging"
CHART = "aws-for-fluent-bit"


class ClusterLoggingArgs(TypedDict):
    handle: ClusterHandle
    """The cluster. Required."""
    region: str
    """AWS region of the cluster and the log group. Required."""
    namespaces: list[str]
    """Namespaces whose containers' logs are shipped (the model namespaces). Required."""
    log_group_name: NotRequired[str]
    """Default /aws/eks/<cluster>/models."""
    retention_days: NotRequired[int]
    """CloudWatch retention. Default 30 (the stack program picks dev 7, staging 30, prod 90)."""
    chart_version: NotRequired[str]
    """aws-for-fluent-bit chart version. Default "0.2.0" (image aws-for-fluent-bit 3.2.1)."""
    tags: NotRequired[dict[str, str]]
    """AWS tags on the log group and the role. Default none."""


class ClusterLogging(pulumi.ComponentResource):
    """A log group with a retention, a role that may only write to it (IRSA, bound to fluent-bit's ServiceAccount),
    and the aws-for-fluent-bit DaemonSet on every node (it tolerates every taint).

    Why IRSA and not Pod Identity: Fluent Bit's AWS credential chain learnt EKS Pod Identity only in
    fluent/fluent-bit#10115 (merged 2025-03); whether aws-for-fluent-bit 3.2.1 carries it was not verified, while
    web-identity (IRSA) credentials have long been in the chain. Model roles use Pod Identity (AWS SDKs have it).
    """

    log_group_name: pulumi.Output[str]
    """The log group."""
    role_arn: pulumi.Output[str]
    """Fluent Bit's role."""

    def __init__(self, name: str, args: ClusterLoggingArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, None, opts)
        h = args["handle"]
        deps = inherited_depends_on(opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=deps)
        tags = dict(args.get("tags") or {})
        repo, namespace, default_version = CHARTS[CHART]
        group_name = args.get("log_group_name") or h.cluster_name.apply(log_values.default_log_group)
        group = aws.cloudwatch.LogGroup(f"{name}-log-group", name=group_name,
                                        retention_in_days=args.get("retention_days", 30), tags=tags, opts=child)
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=pulumi.Output.all(h.oidc_provider_arn, h.oidc_provider_url).apply(
                lambda a: json.dumps(iam.irsa_trust_policy(a[0], a[1], namespace, log_values.SERVICE_ACCOUNT))),
            description="aws-for-fluent-bit: write model logs (IRSA)", tags=tags, opts=child)
        policy = aws.iam.RolePolicy(f"{name}-policy", role=role.id,
                                    policy=group.arn.apply(lambda arn: iam.to_json(log_values.fluent_bit_policy(arn))),
                                    opts=child)
        values = pulumi.Output.all(group.name, role.arn).apply(
            lambda a: log_values.fluent_bit_values(args["region"], a[0], list(args["namespaces"]), a[1]))
        k8s.helm.v3.Release(
            f"{name}-fluent-bit", name=CHART, chart=CHART, version=args.get("chart_version") or default_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repo), namespace=namespace, create_namespace=True,
            values=values, opts=pulumi.ResourceOptions(parent=self, provider=h.provider, depends_on=[*deps, policy]))
        self.log_group_name = group.name
        self.role_arn = role.arn
        self.register_outputs({"log_group_name": self.log_group_name, "role_arn": self.role_arn})
