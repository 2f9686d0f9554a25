"""PlatformAddons: managed add-ons that need nodes, pinned charts, LB controller IRSA, GPU device plugin."""

import json

import pulumi
import pytest

from modelstack.cluster.addons import PlatformAddons
from modelstack.cluster.handle import ClusterHandle

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
        ("kubernetes:helm.sh/v3:Release", "addons-prometheus"),
    ])
    marker = r.named("system-ready").urn
    for x in r.children(comp):
        if x.type in ("aws:eks/addon:Addon", "kubernetes:helm.sh/v3:Release"):
            assert marker in x.dependencies, x.name


def test_charts_pinned_and_on_the_system_pool(run):
    r = _run(run, {"keda_version": "2.17.1"})
    charts = {x.inputs["chart"]: x.inputs for x in r.of_type("kubernetes:helm.sh/v3:Release")}
    assert {c: (i["version"], i["repositoryOpts"]["repo"], i["namespace"]) for c, i in charts.items()} == {
        "metrics-server": ("3.13.1", "https://kubernetes-sigs.github.io/metrics-server/", "kube-system"),
        "aws-load-balancer-controller": ("3.5.0", "https://aws.github.io/eks-charts", "kube-system"),
        "keda": ("2.17.1", "https://kedacore.github.io/charts", "keda"),
        "keda-add-ons-http": ("0.15.0", "https://kedacore.github.io/charts", "keda"),
        "prometheus": ("29.27.0", "https://prometheus-community.github.io/helm-charts", "monitoring"),
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
        "nvidia-device-plugin", "0.20.0", "https://nvidia.github.io/k8s-device-plugin")
    assert i["values"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in i["values"]["tolerations"]
    assert r.of_type("aws:iam/role:Role") == []


PROMETHEUS_DAEMONSETS_OFF = {"kube-state-metrics": {"enabled": False}, "prometheus-node-exporter": {"enabled": False}}


def _releases(r) -> dict:
    return {x.inputs["chart"]: x for x in r.of_type("kubernetes:helm.sh/v3:Release")}


def test_prometheus_by_default_at_the_address_models_query(run):
    from modelstack.cluster.addons import PROMETHEUS_ADDRESS
    r = _run(run)
    rel = r.named("addons-prometheus")
    i = rel.inputs
    assert (i["chart"], i["name"], i["version"], i["repositoryOpts"]["repo"], i["namespace"]) == (
        "prometheus", "prometheus", "29.27.0", "https://prometheus-community.github.io/helm-charts", "monitoring")
    v = i["values"]
    # The Service is named by server.fullnameOverride and listens on server.service.servicePort: the address.
    assert (v["server"]["fullnameOverride"], i["namespace"], v["server"]["service"]["servicePort"]) == (
        "prometheus-server", "monitoring", 80)
    assert PROMETHEUS_ADDRESS == "http://prometheus-server.monitoring.svc:80"
    assert v["server"]["nodeSelector"] == {"modelstack.io/node-pool": "system"}
    assert SYSTEM_TOLERATION in v["server"]["tolerations"]
    assert (v["server"]["retention"], v["server"]["persistentVolume"], v["server"]["global"]) == (
        "1d", {"enabled": False}, {"scrape_interval": "15s"})
    assert v["alertmanager"] == {"enabled": False} and v["prometheus-pushgateway"] == {"enabled": False}
    assert {k: v[k] for k in PROMETHEUS_DAEMONSETS_OFF} == PROMETHEUS_DAEMONSETS_OFF
    assert "dcgm-exporter" not in _releases(r)
    assert r.named("system-ready").urn in rel.dependencies


def test_prometheus_options_and_opt_out(run):
    r = _run(run, {"prometheus_retention": "7d", "prometheus_volume_size": "20Gi", "prometheus_alertmanager": True,
                   "prometheus_version": "29.26.0"})
    i = r.named("addons-prometheus").inputs
    v = i["values"]
    assert i["version"] == "29.26.0"
    assert (v["server"]["retention"], v["server"]["persistentVolume"]) == (
        "7d", {"enabled": True, "size": "20Gi", "storageClass": "modelstack-gp3"})
    assert v["alertmanager"]["enabled"] is True and SYSTEM_TOLERATION in v["alertmanager"]["tolerations"]
    assert v["alertmanager"]["nodeSelector"] == {"modelstack.io/node-pool": "system"}
    assert v["alertmanager"]["persistence"] == {"storageClass": "modelstack-gp3"}
    r = _run(run, {"prometheus": False, "dcgm_exporter": True})
    assert not {"prometheus", "dcgm-exporter"} & set(_releases(r))


EBS_CSI = [("aws:iam/role:Role", "addons-ebs-csi"), ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "addons-ebs-csi"),
           ("aws:eks/addon:Addon", "addons-ebs-csi-driver"),
           ("kubernetes:storage.k8s.io/v1:StorageClass", "addons-storage-class")]


@pytest.mark.parametrize("extra", [{"prometheus_volume_size": "20Gi"}, {"prometheus_alertmanager": True}])
def test_a_claim_brings_the_ebs_csi_driver_with_pod_identity_and_the_storage_class(run, extra):
    r = _run(run, extra)
    comp = r.named("addons", "modelstack:index:PlatformAddons")
    children = {(x.type, x.name) for x in r.children(comp)}
    assert set(EBS_CSI) | {("aws:eks/podIdentityAssociation:PodIdentityAssociation", "addons-ebs-csi")} <= children
    trust = json.loads(r.named("addons-ebs-csi", "aws:iam/role:Role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    addon = r.named("addons-ebs-csi-driver").inputs
    assert "serviceAccountRoleArn" not in addon
    deps = r.named("addons-ebs-csi-driver").dependencies
    assert {r.named("addons-pod-identity-agent").urn,
            r.named("addons-ebs-csi", "aws:eks/podIdentityAssociation:PodIdentityAssociation").urn} <= set(deps)
    assert r.named("system-ready").urn in deps and r.named("system-ready").urn in r.named("addons-storage-class").dependencies


def test_without_the_pod_identity_agent_the_ebs_csi_driver_uses_irsa(run):
    r = _run(run, {"prometheus_volume_size": "20Gi", "pod_identity_agent": False})
    role = r.named("addons-ebs-csi", "aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert "system:serviceaccount:kube-system:ebs-csi-controller-sa" in json.dumps(trust)
    assert r.named("addons-ebs-csi-driver").inputs["serviceAccountRoleArn"] == role.outputs["arn"]
    assert not r.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")


def test_no_claim_no_ebs_csi_driver(run):
    r = _run(run)
    assert not {(x.type, x.name) for x in r.resources} & set(EBS_CSI)


def test_dcgm_exporter_on_gpu_nodes_scraped_by_prometheus(run):
    r = _run(run, {"nvidia_device_plugin": True, "dcgm_exporter": True})
    comp = r.named("addons", "modelstack:index:PlatformAddons")
    assert {x.name for x in r.children(comp) if x.type == "kubernetes:helm.sh/v3:Release"} >= {
        "addons-prometheus", "addons-dcgm-exporter", "addons-nvidia-device-plugin"}
    rel = r.named("addons-dcgm-exporter")
    i = rel.inputs
    assert (i["chart"], i["name"], i["version"], i["repositoryOpts"]["repo"], i["namespace"]) == (
        "dcgm-exporter", "dcgm-exporter", "4.8.2", "https://nvidia.github.io/dcgm-exporter/helm-charts", "monitoring")
    v = i["values"]
    assert v["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    # No key and operator Exists: tolerates the GPU taint and any other a GPU node group carries.
    assert v["tolerations"] == [{"operator": "Exists"}]
    # The prometheus chart's kubernetes-service-endpoints job keeps Services annotated prometheus.io/scrape.
    assert v["service"]["annotations"] == {"prometheus.io/scrape": "true", "prometheus.io/port": "9400"}
    assert v["serviceMonitor"] == {"enabled": False}  # no prometheus-operator CRDs
    assert r.named("addons-prometheus").urn in rel.dependencies


def test_neuron_device_plugin_when_asked(run):
    r = _run(run, {"neuron_device_plugin": True})
    rel = r.named("addons-neuron-device-plugin").inputs
    assert (rel["chart"], rel["version"], rel["namespace"]) == (
        "oci://public.ecr.aws/neuron/neuron-helm-chart", "1.9.0", "kube-system")
    assert {"key": "aws.amazon.com/neuron", "operator": "Exists", "effect": "NoSchedule"} in rel["values"]["devicePlugin"]["tolerations"]
    assert rel["values"]["npd"] == {"enabled": False}
    assert not [x for x in _run(run).resources if x.name == "addons-neuron-device-plugin"]
