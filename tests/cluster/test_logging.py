"""ClusterLogging: a log group with retention, a write-only role bound to fluent-bit's ServiceAccount, the chart."""

import pytest

import json


from modelstack.cluster.handle import ClusterHandle
from modelstack.cluster.logging import ClusterLogging
from modelstack.render import logging as log_values
from modelstack.render.charts import CHARTS

from cluster_fixtures import OIDC_ARN, OIDC_URL, outputs  # noqa: F401


def _run(run, extra=None):
    def prog():
        h = ClusterHandle.existing("k8s", cluster_name="models-prod", kubernetes_version="1.35", kubeconfig="{}",
                                   oidc_provider_arn=OIDC_ARN, oidc_provider_url=OIDC_URL,
                                   node_role_arn="arn:aws:iam::123456789012:role/n", node_role_name="n",
                                   vpc_id="vpc-1", private_subnet_ids=["subnet-a"])
        ClusterLogging("logs", {"handle": h, "region": "us-east-1", "namespaces": ["models", "fraud"],
                                "retention_days": 90, **(extra or {})})
    return run(prog, outputs=outputs)


def test_inventory_and_values(run):
    r = _run(run)
    comp = r.named("logs", "modelstack:index:ClusterLogging")
    assert sorted((x.type, x.name) for x in r.children(comp)) == sorted([
        ("aws:cloudwatch/logGroup:LogGroup", "logs-log-group"),
        ("aws:iam/role:Role", "logs-role"),
        ("aws:iam/rolePolicy:RolePolicy", "logs-policy"),
        ("aws:eks/podIdentityAssociation:PodIdentityAssociation", "logs-pod-identity"),
        ("kubernetes:helm.sh/v3:Release", "logs-fluent-bit"),
    ])
    group = r.named("logs-log-group").inputs
    assert group["name"] == "/aws/eks/models-prod/models" and group["retentionInDays"] == 90
    release = r.named("logs-fluent-bit").inputs
    assert (release["chart"], release["version"], release["namespace"]) == ("aws-for-fluent-bit", "0.2.0", "logging")
    values = release["values"]
    assert values["input"]["path"] == "/var/log/containers/*_fraud_*.log,/var/log/containers/*_models_*.log"
    assert values["filter"]["mergeLog"] == "On"
    cw = values["cloudWatchLogs"]
    assert cw["logGroupName"] == "/aws/eks/models-prod/models" and cw["autoCreateGroup"] is False
    assert cw["logStreamTemplate"] == "$kubernetes['labels']['modelstack.io/model'].$kubernetes['pod_name'].$kubernetes['container_name']"
    assert values["tolerations"] == [{"operator": "Exists"}]
    trust = json.loads(r.named("logs-role").inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assoc = r.named("logs-pod-identity").inputs
    assert (assoc["namespace"], assoc["serviceAccount"], assoc["clusterName"]) == ("logging", "aws-for-fluent-bit", "models-prod")
    assert values["serviceAccount"] == {"create": True, "name": log_values.SERVICE_ACCOUNT, "annotations": {}}
    # Pods created before the association would get no credentials.
    assert {d.split("::")[-1] for d in r.named("logs-fluent-bit").dependencies} >= {"logs-pod-identity", "logs-policy"}


def test_irsa_fallback(run):
    r = _run(run, {"credentials": "irsa"})
    assert not [x for x in r.resources if x.name == "logs-pod-identity"]
    trust = json.loads(r.named("logs-role").inputs["assumeRolePolicy"])["Statement"][0]
    sub = next(v for k, v in trust["Condition"]["StringEquals"].items() if k.endswith(":sub"))
    assert sub == "system:serviceaccount:logging:aws-for-fluent-bit"
    sa = r.named("logs-fluent-bit").inputs["values"]["serviceAccount"]
    assert list(sa["annotations"]) == ["eks.amazonaws.com/role-arn"]


def test_unknown_credentials_are_refused(run):
    with pytest.raises(Exception) as e:
        _run(run, {"credentials": "keys"})
    assert "ClusterLogging 'logs': credentials 'keys': allowed pod_identity, irsa" in str(e.value)


def test_role_may_only_write_to_its_group():
    doc = log_values.fluent_bit_policy("arn:aws:logs:us-east-1:123456789012:log-group:/aws/eks/c/models")
    (st,) = doc["Statement"]
    assert st["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    assert st["Resource"] == ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/eks/c/models",
                              "arn:aws:logs:us-east-1:123456789012:log-group:/aws/eks/c/models:log-stream:*"]


def test_chart_pin():
    assert CHARTS["aws-for-fluent-bit"].version == "0.2.0"
    assert CHARTS["aws-for-fluent-bit"].repo == "https://aws.github.io/eks-charts"
