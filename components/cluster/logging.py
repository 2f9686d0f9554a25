"""ClusterLogging: every model container's logs in one CloudWatch log group with a retention (Cortex shipped every
API's logs to CloudWatch)."""

from __future__ import annotations

import json
from typing import Optional, TypedDict

import pulumi
import pulumi_aws as aws
from typing_extensions import NotRequired

from modelstack.cluster import helm
from modelstack.cluster.handle import ClusterHandle, inherited_depends_on
from modelstack.render import iam
from modelstack.render import logging as log_values
from modelstack.render.charts import CHARTS

TYPE = "modelstack:index:ClusterLogging"
CHART = "aws-for-fluent-bit"
CREDENTIALS = ("pod_identity", "irsa")


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
    credentials: NotRequired[str]
    """"pod_identity" (an EKS Pod Identity association, needs the eks-pod-identity-agent add-on) or "irsa" (the role
    ARN on the ServiceAccount, trusted through the cluster's OIDC provider). Default "pod_identity"."""
    tags: NotRequired[dict[str, str]]
    """AWS tags on the log group and the role. Default none."""


class ClusterLogging(pulumi.ComponentResource):
    """A log group with a retention, a role of its own that may only write to it, bound to fluent-bit's
    ServiceAccount (EKS Pod Identity by default), and the aws-for-fluent-bit DaemonSet on every node (it tolerates
    every taint).

    Fluent Bit's AWS credential chain learnt EKS Pod Identity in fluent/fluent-bit#10115 (merged 2025-03-21);
    aws-for-fluent-bit 3.x is built from upstream Fluent Bit 4+ (see data/UPSTREAM.md for how far that was
    verified). `credentials: "irsa"` is the fallback that Fluent Bit has supported for years.
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
        credentials = args.get("credentials", "pod_identity")
        if credentials not in CREDENTIALS:
            raise ValueError(f"ClusterLogging {name!r}: credentials {credentials!r}: allowed {', '.join(CREDENTIALS)}")
        pin = CHARTS[CHART]
        namespace = pin.namespace
        group_name = args.get("log_group_name") or h.cluster_name.apply(log_values.default_log_group)
        group = aws.cloudwatch.LogGroup(f"{name}-log-group", name=group_name,
                                        retention_in_days=args.get("retention_days", 30), tags=tags, opts=child)
        if credentials == "irsa":
            trust: pulumi.Input[str] = pulumi.Output.all(h.oidc_provider_arn, h.oidc_provider_url).apply(
                lambda a: json.dumps(iam.irsa_trust_policy(a[0], a[1], namespace, log_values.SERVICE_ACCOUNT)))
        else:
            trust = iam.to_json(iam.pod_identity_trust_policy())
        role = aws.iam.Role(f"{name}-role", assume_role_policy=trust,
                            description=f"aws-for-fluent-bit: write model logs ({credentials})", tags=tags, opts=child)
        policy = aws.iam.RolePolicy(f"{name}-policy", role=role.id,
                                    policy=group.arn.apply(lambda arn: iam.to_json(log_values.fluent_bit_policy(arn))),
                                    opts=child)
        before_pods: list[pulumi.Resource] = [policy]
        if credentials == "pod_identity":
            # Before the DaemonSet: the webhook injects credentials only into pods created after the association.
            before_pods.append(aws.eks.PodIdentityAssociation(
                f"{name}-pod-identity", cluster_name=h.cluster_name, namespace=namespace,
                service_account=log_values.SERVICE_ACCOUNT, role_arn=role.arn, tags=tags, opts=child))
        values = pulumi.Output.all(group.name, role.arn).apply(
            lambda a: log_values.fluent_bit_values(args["region"], a[0], list(args["namespaces"]),
                                                   a[1] if credentials == "irsa" else None))
        helm.release(f"{name}-fluent-bit", chart=CHART, pin=pin, release_name=CHART, version=args.get("chart_version"),
                     values=values, create_namespace=True, provider=h.provider, parent=self,
                     depends_on=[*deps, *before_pods])
        self.log_group_name = group.name
        self.role_arn = role.arn
        self.register_outputs({"log_group_name": self.log_group_name, "role_arn": self.role_arn})
