"""Pure IAM policy documents."""

import pytest

from modelstack.render import iam


def test_irsa_trust_is_limited_to_one_service_account_and_sts():
    doc = iam.irsa_trust_policy("arn:aws:iam::1:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/A",
                                "https://oidc.eks.us-east-1.amazonaws.com/id/A", "kube-system", "cluster-autoscaler")
    [st] = doc["Statement"]
    assert st["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert st["Principal"] == {"Federated": "arn:aws:iam::1:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/A"}
    assert st["Condition"] == {"StringEquals": {
        "oidc.eks.us-east-1.amazonaws.com/id/A:sub": "system:serviceaccount:kube-system:cluster-autoscaler",
        "oidc.eks.us-east-1.amazonaws.com/id/A:aud": "sts.amazonaws.com",
    }}


def test_cluster_autoscaler_can_only_change_its_own_clusters_groups():
    doc = iam.cluster_autoscaler_policy("models-prod")
    describe, scale = doc["Statement"]
    assert all(a.split(":")[1].startswith(("Describe", "Get")) for a in describe["Action"])
    assert "eks:DescribeNodegroup" in describe["Action"]
    assert scale["Action"] == ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
    assert scale["Condition"]["StringEquals"] == {
        "aws:ResourceTag/k8s.io/cluster-autoscaler/models-prod": "owned",
        "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
    }


@pytest.mark.parametrize("access,policy", [
    ("cluster-admin", "AmazonEKSClusterAdminPolicy"), ("admin", "AmazonEKSAdminPolicy"),
    ("edit", "AmazonEKSEditPolicy"), ("view", "AmazonEKSViewPolicy"),
])
def test_access_levels_map_to_eks_access_policies(access, policy):
    assert iam.access_policy_arn(access) == f"arn:aws:eks::aws:cluster-access-policy/{policy}"


def test_unknown_access_level_is_rejected():
    with pytest.raises(ValueError, match="access must be one of"):
        iam.access_policy_arn("root")


def test_access_scope_namespace_or_cluster():
    assert iam.access_scope([]) == {"type": "cluster"}
    assert iam.access_scope(["a", "b"]) == {"type": "namespace", "namespaces": ["a", "b"]}


def test_load_balancer_controller_policy_is_the_official_one_and_fits_a_managed_policy():
    doc = iam.load_balancer_controller_policy()
    actions = {a for s in doc["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "elasticloadbalancing:CreateLoadBalancer" in actions
    assert "iam:CreateServiceLinkedRole" in actions
    assert len(iam.to_json(doc)) <= 6144  # IAM managed policy size limit (whitespace excluded)
