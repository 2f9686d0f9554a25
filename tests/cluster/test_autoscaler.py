"""ClusterAutoscaler: IRSA role, least-privilege policy, the chart with the priority expander."""

import json

import pulumi
import pytest

from modelstack.render import node_templates as nt
from modelstack.cluster.autoscaler import ClusterAutoscaler, _pinned_chart
from modelstack.cluster.handle import ClusterHandle

from cluster_fixtures import OIDC_ARN, OIDC_URL, addon_versions, outputs  # noqa: F401

GROUPS = [{"name": "cpu", "priority": 60, "capacity_type": "SPOT", "vcpu": 4},
          {"name": "cpu-on-demand", "priority": 60, "capacity_type": "ON_DEMAND", "vcpu": 4}]


def _handle():
    return ClusterHandle.existing("k8s", cluster_name="models-prod", kubernetes_version="1.33", kubeconfig="{}",
                                  oidc_provider_arn=OIDC_ARN, oidc_provider_url=OIDC_URL,
                                  node_role_arn="arn:aws:iam::123456789012:role/n", node_role_name="n",
                                  vpc_id="vpc-1", private_subnet_ids=["subnet-a"])


def test_inventory_policy_and_values(run):
    def prog():
        h = _handle()
        marker = pulumi.CustomResource("test:index:Marker", "system-ready")
        ClusterAutoscaler("ca", {"handle": h, "region": "us-east-1", "node_groups": GROUPS,
                                "kubernetes_version": "1.35"},
                          opts=pulumi.ResourceOptions(depends_on=[marker]))

    r = run(prog, outputs=outputs)
    comp = r.named("ca", "modelstack:index:ClusterAutoscaler")
    assert sorted((x.type, x.name) for x in r.children(comp)) == [
        ("aws:iam/role:Role", "ca-role"), ("aws:iam/rolePolicy:RolePolicy", "ca-policy"),
        ("kubernetes:helm.sh/v3:Release", "ca-release")]
    trust = json.loads(r.named("ca-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["StringEquals"][
        "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE:sub"] == "system:serviceaccount:kube-system:cluster-autoscaler"
    policy = json.loads(r.named("ca-policy").inputs["policy"])
    assert policy["Statement"][1]["Condition"]["StringEquals"][
        "aws:ResourceTag/k8s.io/cluster-autoscaler/models-prod"] == "owned"

    rel = r.named("ca-release")
    i = rel.inputs
    assert (i["chart"], i["version"], i["namespace"], i["repositoryOpts"]["repo"]) == (
        "cluster-autoscaler", "9.59.0", "kube-system", "https://kubernetes.github.io/autoscaler")
    assert i["timeout"] == 900  # may wait for a system node: longer than Helm's 300 s
    v = i["values"]
    assert v["autoDiscovery"] == {"clusterName": "models-prod"} and v["awsRegion"] == "us-east-1"
    assert v["rbac"]["serviceAccount"] == {"create": True, "name": "cluster-autoscaler",
                                           "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/ca-role"}}
    assert v["extraArgs"]["expander"] == "priority,least-waste"
    assert "image" not in v  # the chart's own image: its minor is the chart's app minor
    spot, on_demand = nt.expander_score(60, "SPOT", 4), nt.expander_score(60, "ON_DEMAND", 4)
    assert spot > on_demand
    assert v["expanderPriorities"] == {str(spot): [nt.asg_name_regex("cpu")],
                                       str(on_demand): [nt.asg_name_regex("cpu-on-demand")], "1": [".*"]}
    assert v["nodeSelector"] == {"modelstack.io/node-pool": "system"}
    assert {"key": "modelstack.io/system", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in v["tolerations"]
    assert rel.provider.startswith(r.named("k8s", "pulumi:providers:kubernetes").urn)
    marker = r.named("system-ready").urn
    assert marker in rel.dependencies and marker in r.named("ca-role").dependencies


@pytest.mark.parametrize("minor, chart", [("1.34", "9.53.0"), ("1.35", "9.59.0")])
def test_chart_follows_the_cluster_minor(run, minor, chart):
    r = run(lambda: ClusterAutoscaler("ca", {"handle": _handle(), "region": "us-east-1", "node_groups": GROUPS,
                                             "kubernetes_version": minor}), outputs=outputs)
    assert r.named("ca-release").inputs["version"] == chart


@pytest.mark.parametrize("minor, version, message", [
    ("1.35", "9.53.0", "cluster-autoscaler: chart 9.53.0 is not the one pinned for Kubernetes 1.35 (9.59.0, app 1.35.0); "
                       "its minor must equal the cluster's"),
    ("1.33", None, "cluster-autoscaler: no chart pinned for Kubernetes '1.33' (pinned: 1.34, 1.35)"),
])
def test_a_chart_of_another_minor_is_refused(minor, version, message):
    with pytest.raises(ValueError) as e:
        _pinned_chart(minor, version)
    assert str(e.value) == message
