"""KedaIdentity: an AWS identity for KEDA's operator (EKS Pod Identity), so that it can read the depth of the
queues of AsyncModelAPI / BatchModelAPI through each one's own scaler role."""

import sys
from typing import Optional, TypedDict

import pulumi
import pulumi_aws as aws

from modelstack.render import iam
from modelstack.render import queue as q
from modelstack.render.charts import CHARTS

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # pragma: no cover
    from typing_extensions import NotRequired

TYPE_TOKEN = "modelstack:index:KedaIdentity"


class KedaIdentityArgs(TypedDict):
    cluster_name: pulumi.Input[str]
    """EKS cluster of the Pod Identity association. Required."""
    namespace: NotRequired[str]
    """KEDA's namespace. Default "keda" (the chart's, render/charts.py)."""
    service_account: NotRequired[str]
    """KEDA's operator ServiceAccount. Default "keda-operator" (the chart's default)."""
    tags: NotRequired[dict[str, str]]
    """Tags on the role and the association. Default none."""


class KedaIdentity(pulumi.ComponentResource):
    """A role for KEDA's operator, bound to its ServiceAccount by a Pod Identity association, allowed only to assume
    roles under /modelstack/keda-scaler/ (each of which trusts this role alone and reads one queue's depth). Create
    it before KEDA's release: Pod Identity gives credentials to pods started after the association."""

    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: KedaIdentityArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.get("tags") or {})
        role = aws.iam.Role(f"{name}-role", description="KEDA operator: assumes the per-queue scaler roles",
                            assume_role_policy=iam.to_json(iam.pod_identity_trust_policy()), tags=tags, opts=child)
        aws.iam.RolePolicy(f"{name}-assume-scalers", role=role.id,
                           policy=iam.to_json(iam.statements_policy(q.keda_operator_statements())), opts=child)
        aws.eks.PodIdentityAssociation(f"{name}-pod-identity", cluster_name=args["cluster_name"],
                                       namespace=args.get("namespace") or CHARTS["keda"].namespace,
                                       service_account=args.get("service_account") or q.KEDA_OPERATOR_SERVICE_ACCOUNT,
                                       role_arn=role.arn, tags=tags, opts=child)
        self.role_arn = role.arn
        self.register_outputs({"role_arn": self.role_arn})
