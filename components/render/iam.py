"""IAM policy documents for the cluster and its add-ons, as plain dicts (pure: no Pulumi, tested directly).

Sources:
- node role managed policies: https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html
- cluster-autoscaler: kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/README.md ("Full Cluster Autoscaler
  Features Policy"), with the mutating actions narrowed by ASG tag as that README suggests.
- IRSA trust: https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html
- aws-load-balancer-controller: data/aws_load_balancer_controller_iam_policy.json (source: data/aws_load_balancer_controller_iam_policy.md).
"""

from __future__ import annotations

import json
from typing import Any

from modelstack.data import read_text

POLICY_VERSION = "2012-10-17"
AWS_MANAGED = "arn:aws:iam::aws:policy/"

# IAM's size limits (data/UPSTREAM.md "IAM quotas"): IAM counts a policy's characters without white space.
MANAGED_POLICY_MAX_CHARS = 6144
"""One customer managed policy document."""
ROLE_INLINE_POLICIES_MAX_CHARS = 10240
"""All inline policies of one role, together."""
TRUST_POLICY_MAX_CHARS = 2048
"""A role's trust policy, at the default quota (adjustable up to 4,096)."""
ROLE_NAME_MAX_CHARS = 64
POLICY_NAME_MAX_CHARS = 128
MANAGED_POLICIES_PER_ROLE = 10
"""Managed policies attached to one role, at the default quota (adjustable up to 20)."""
AUTONAME_SUFFIX_CHARS = 8
"""What Pulumi's auto-naming adds to a resource's name when no physical name is given: "-" and 7 hex characters."""


def policy_size(document: Any) -> int:
    """A policy's size as IAM counts it: the characters of its JSON text without white space."""
    text = document if isinstance(document, str) else json.dumps(document)
    return sum(1 for ch in text if not ch.isspace())

#: What every EKS node needs: join the cluster, run the VPC CNI (see Cluster for why on the node role), pull from
#: ECR, and be reachable by SSM Session Manager instead of SSH.
NODE_MANAGED_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonSSMManagedInstanceCore",
)

#: The AWS managed policy of the EBS CSI driver's controller (kubernetes-sigs/aws-ebs-csi-driver v1.64.0
#: docs/install.md: the baseline, scoped to volumes and snapshots the driver tags `ebs.csi.aws.com/cluster: true`).
EBS_CSI_DRIVER_POLICY = "service-role/AmazonEBSCSIDriverPolicyV2"

#: Config access level -> EKS access policy (https://docs.aws.amazon.com/eks/latest/userguide/access-policies.html).
ACCESS_POLICIES = {
    "cluster-admin": "AmazonEKSClusterAdminPolicy",
    "admin": "AmazonEKSAdminPolicy",
    "edit": "AmazonEKSEditPolicy",
    "view": "AmazonEKSViewPolicy",
}


def managed_policy_arn(name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::aws:policy/{name}"


def access_policy_arn(access: str, partition: str = "aws") -> str:
    """The EKS cluster access policy ARN for a config access level (`cluster-admin`, `admin`, `edit`, `view`)."""
    if access not in ACCESS_POLICIES:
        raise ValueError(f"access must be one of {', '.join(ACCESS_POLICIES)}, got {access!r}")
    return f"arn:{partition}:eks::aws:cluster-access-policy/{ACCESS_POLICIES[access]}"


def access_scope(namespaces: list[str] | None) -> dict[str, Any]:
    """Cluster-wide scope, or namespace scope when namespaces are given."""
    if namespaces:
        return {"type": "namespace", "namespaces": list(namespaces)}
    return {"type": "cluster"}


def assume_role_policy(service: str) -> dict[str, Any]:
    """Trust policy letting an AWS service (e.g. ec2.amazonaws.com) assume the role."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def issuer_host(oidc_url: str) -> str:
    """`https://oidc.eks.<region>.amazonaws.com/id/X` -> `oidc.eks.<region>.amazonaws.com/id/X` (IAM condition keys)."""
    return oidc_url.removeprefix("https://").removeprefix("http://").rstrip("/")


def irsa_trust_policy(oidc_provider_arn: str, oidc_url: str, namespace: str, service_account: str) -> dict[str, Any]:
    """Trust policy for IAM roles for service accounts: only `namespace/service_account` tokens, audience STS."""
    host = issuer_host(oidc_url)
    return {
        "Version": POLICY_VERSION,
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                f"{host}:aud": "sts.amazonaws.com",
            }},
        }],
    }


POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"


def pod_identity_trust_policy() -> dict[str, Any]:
    """Trust policy of a role used through EKS Pod Identity: the agent assumes it and tags the session with the
    pod's cluster, namespace and ServiceAccount (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html)."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [{"Effect": "Allow", "Principal": {"Service": POD_IDENTITY_SERVICE},
                       "Action": ["sts:AssumeRole", "sts:TagSession"]}],
    }


def statements_policy(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """An inline policy from `{actions, resources}` entries (Allow only: a model's role grants, never denies)."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [{"Effect": "Allow", "Action": list(st["actions"]), "Resource": list(st["resources"])}
                      for st in statements],
    }


def wildcard_actions(doc: dict[str, Any]) -> list[str]:
    """Actions of a policy document that grant more than one named action: "*", "s3:*", "s3:Get*"."""
    out: list[str] = []
    statements = doc.get("Statement") or []
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, dict) or st.get("Effect", "Allow") != "Allow":
            continue
        actions = st.get("Action") or []
        for a in [actions] if isinstance(actions, str) else actions:
            if isinstance(a, str) and "*" in a:
                out.append(a)
    return out


def cluster_autoscaler_policy(cluster_name: str) -> dict[str, Any]:
    """Least privilege for cluster-autoscaler with ASG auto-discovery on EKS managed node groups.

    Describe calls cannot be scoped by resource in IAM, so they stay on "*". The two calls that change capacity
    are allowed only on ASGs tagged `k8s.io/cluster-autoscaler/<cluster>=owned`, which EKS puts on every managed
    node group's ASG of this cluster: the autoscaler cannot touch another cluster's groups.
    `eks:DescribeNodegroup` lets it read labels/taints of a never-scaled managed group (scale from zero).
    """
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "Describe",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                    "eks:DescribeNodegroup",
                ],
                "Resource": "*",
            },
            {
                "Sid": "ScaleOwnGroupsOnly",
                "Effect": "Allow",
                "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                "Resource": "*",
                "Condition": {"StringEquals": {
                    f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned",
                    "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
                }},
            },
        ],
    }


def load_balancer_controller_policy() -> dict[str, Any]:
    """The official aws-load-balancer-controller IAM policy for the pinned app version (data file, unmodified)."""
    text = read_text("aws_load_balancer_controller_iam_policy.json")
    policy: dict[str, Any] = json.loads(text)
    return policy


def to_json(doc: dict[str, Any]) -> str:
    """Compact JSON: managed policies are limited to 6,144 characters without whitespace."""
    return json.dumps(doc, separators=(",", ":"), sort_keys=False)
