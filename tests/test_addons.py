"""PlatformAddons: managed add-ons that need nodes, pinned charts, LB controller IRSA, GPU device plugin."""

import json

import pulumi
import pytest

from modelstack.addons import PlatformAddons
from modelstack.handle import ClusterHandle

from cluster_fixtures import OIDC_ARN, OIDC_URL, addon_versions, outputs  # noqa: F401

SYSTEM_TOLERATION = {"key": "modelstack.io/system", "operator": "Equal", "value": "true", "effect": "NoSchedule"}


def _run(run, extra=None):
    def prog():
        h = ClusterHandle.existing("k8s", cluster_name="models-prod", kubernetes_version="1.33", kubeconfig="{}",
                                   oidc_provider_arn=OIDC_ARN, oidc_provider_url=OIDC_URL,
                                   node_role_arn="arn:aws:iam::123456789012:role/n", node_role_name="n",
                                   vpc_id="vpc-1", private_subnet_ids=["subnet-a"])
        marker = pulumi.CustomResource("test:index:Marker", "system-ready")
        PlatformAddons("addons", {"handle": h, "region": "us-east-1", **(extra or {})},
                       opts=pulumi.ResourceOptions(depends_on=[marker]))
    return run(prog, outputs=outputs)


def test_default_inventory(run):
    r = _run(run)
    comp = r.named("addons", "modelstack:index:PlatformAddons")
    assert sorted((x.type, x.name) for x in r.children(comp)) == sorted([
        ("aws:eks/addon:Addon", "addons-coredns"),
        ("aws:eks/addon:Addon", "addons-pod-identity-agent"),
        ("kubernetes:helm.sh/v3:Release", "addons-metrics-server"),
        ("aws:iam/role:Role", "addons-lbc"),
        ("aws:iam/policy:Policy", "addons-lbc"),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "addons-lbc"),
        ("kubernetes:helm.sh/v3:Release", "addons-aws-load-balancer-controller"),
        ("kubernetes:helm.sh/v3:Release", "addons-keda"),
        ("kubernetes:helm.sh/v3:Release", "addons-keda-http"),
    ])
    marker = r.named("system-ready").urn
    for x in r.children(comp):
        if x.type in ("aws:eks/addon:Addon", "kubernetes:helm.sh/v3:Release"):
            assert marker in x.dependencies, x.name


def test_charts_pinned_and_on_the_system_pool(run):
    r = _run(run, {"keda_version": "2.17.1"})
    charts = {x.inputs["chart"]: x.inputs for x in r.of_type("kubernetes:helm.sh/v3:Release")}
    assert {c: (i["version"], i["repositoryOpts"]["repo"], i["namespace"]) for c, i in charts.items()} == {
        "metrics-server": ("3.12.2", "https://kubernetes-sigs.github.io/metrics-server/", "kube-system"),
        "aws-load-balancer-controller": ("1.13.3", "https://aws.github.io/eks-charts", "kube-system"),
        "keda": ("2.17.1", "https://kedacore.github.io/charts", "keda"),
        "keda-add-ons-http": ("0.10.0", "https://kedacore.github.io/charts", "keda"),
    }
    for c in ("metrics-server", "aws-load-balancer-controller", "keda"):
        assert SYSTEM_TOLERATION in charts[c]["values"]["tolerations"], c
        assert charts[c]["values"]["nodeSelector"] == {"modelstack.io/node-pool": "system"}
    for part in ("operator", "scaler", "interceptor"):
        assert SYSTEM_TOLERATION in charts["keda-add-ons-http"]["values"][part]["tolerations"]
    keda_http = r.named("addons-keda-http")
    assert r.named("addons-keda").urn in keda_http.dependencies


def test_load_balancer_controller_irsa_and_values(run):
    r = _run(run)
    v = r.named("addons-aws-load-balancer-controller").inputs["values"]
    assert (v["clusterName"], v["region"], v["vpcId"]) == ("models-prod", "us-east-1", "vpc-1")
    # No cluster-wide Service webhook with failurePolicy Fail racing the parallel chart installs.
    assert v["enableServiceMutatorWebhook"] is False
    assert v["serviceAccount"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/addons-lbc"}
    trust = json.loads(r.named("addons-lbc", "aws:iam/role:Role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["StringEquals"][
        "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE:sub"] == "system:serviceaccount:kube-system:aws-load-balancer-controller"
    policy = json.loads(r.named("addons-lbc", "aws:iam/policy:Policy").inputs["policy"])
    assert any("elasticloadbalancing:CreateLoadBalancer" in s["Action"] for s in policy["Statement"])


def test_coredns_follows_the_cluster_version_and_tolerates_the_system_taint(run):
    r = _run(run)
    c = r.named("addons-coredns").inputs
    assert c["addonVersion"] == "v1.33-coredns-eksbuild.1"
    assert SYSTEM_TOLERATION in json.loads(c["configurationValues"])["tolerations"]
    r = _run(run, {"coredns_version": "v1.11.4-eksbuild.14", "pod_identity_agent": False})
    assert r.named("addons-coredns").inputs["addonVersion"] == "v1.11.4-eksbuild.14"
    assert r.of_type("aws:eks/addon:Addon") == [r.named("addons-coredns")]


def test_nvidia_device_plugin_only_when_asked_and_only_on_gpu_nodes(run):
    assert not [x for x in _run(run).of_type("kubernetes:helm.sh/v3:Release") if x.inputs["chart"] == "nvidia-device-plugin"]
    r = _run(run, {"nvidia_device_plugin": True, "load_balancer_controller": False, "keda": False})
    i = r.named("addons-nvidia-device-plugin").inputs
    assert (i["chart"], i["version"], i["repositoryOpts"]["repo"]) == (
        "nvidia-device-plugin", "0.17.1", "https://nvidia.github.io/k8s-device-plugin")
    assert i["values"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in i["values"]["tolerations"]
    assert r.of_type("aws:iam/role:Role") == []
