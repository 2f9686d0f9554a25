"""Rendered Kubernetes objects of a model, value by value (pure: no mocks)."""

from __future__ import annotations

import pytest

from modelstack.render import labels, manifests
from modelstack.render.manifests import ContainerSpec, ModelSpec, ProbeSpec


def spec(**kw) -> ModelSpec:
    base = dict(name="llm", namespace="models", containers=(ContainerSpec(name="model", image="r.io/llm:1"),),
                team="nlp", environment="prod")
    base.update(kw)
    return ModelSpec(**base)


def gpu_spec(**kw) -> ModelSpec:
    c = ContainerSpec(name="model", image="r.io/llm:1", cpu="3", memory="12Gi", gpu=2)
    return spec(containers=(c,), accelerator="gpu", node_pool="gpu-a10g", **kw)


def pod(d: dict) -> dict:
    return d["spec"]["template"]["spec"]


def test_gpu_is_requested_and_limited_and_tolerated() -> None:
    p = pod(manifests.deployment(gpu_spec()))
    assert p["containers"][0]["resources"] == {
        "requests": {"cpu": "3", "memory": "12Gi", "nvidia.com/gpu": "2"},
        "limits": {"memory": "12Gi", "nvidia.com/gpu": "2"},
    }
    assert p["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]


def test_inferentia_is_requested_and_limited_and_tolerated() -> None:
    c = ContainerSpec(name="model", image="r.io/x:1", inferentia=1)
    p = pod(manifests.deployment(spec(containers=(c,), accelerator="inferentia")))
    assert p["containers"][0]["resources"] == {"requests": {"cpu": "200m", "aws.amazon.com/neuron": "1"},
                                               "limits": {"aws.amazon.com/neuron": "1"}}
    assert p["tolerations"] == [labels.k8s_taint(labels.NEURON_TAINT)]


def test_cpu_model_has_no_tolerations_and_no_cpu_limit() -> None:
    p = pod(manifests.deployment(spec()))
    assert "tolerations" not in p
    assert p["containers"][0]["resources"] == {"requests": {"cpu": "200m"}}


def test_spot_pool_placement() -> None:
    p = pod(manifests.deployment(gpu_spec(spot=True)))
    assert p["affinity"] == {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": labels.NODE_POOL_LABEL, "operator": "In", "values": ["gpu-a10g"]}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "preference": {"matchExpressions": [
            {"key": labels.CAPACITY_TYPE_LABEL, "operator": "In", "values": ["SPOT"]}]}}],
    }}


def test_on_demand_floor() -> None:
    s = gpu_spec(spot=True, on_demand_base=2)
    floor = manifests.on_demand_deployment(s)
    main = manifests.deployment(s)
    assert floor["metadata"]["name"] == "llm-on-demand"
    assert floor["metadata"]["labels"][labels.CAPACITY_LABEL] == "on-demand"
    assert floor["spec"]["replicas"] == 2
    assert pod(floor)["affinity"] == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": labels.NODE_POOL_LABEL, "operator": "In", "values": ["gpu-a10g"]},
            {"key": labels.CAPACITY_TYPE_LABEL, "operator": "In", "values": ["ON_DEMAND"]}]}]}}}
    assert main["metadata"]["annotations"] == {labels.CAPACITY_LABEL: "spot"}
    # The two Deployments own disjoint pods; the Service and the PDB cover both through the model label.
    assert main["spec"]["selector"]["matchLabels"] == {labels.MODEL_LABEL: "llm", "app.kubernetes.io/instance": "llm"}
    assert floor["spec"]["selector"]["matchLabels"] == {labels.MODEL_LABEL: "llm", "app.kubernetes.io/instance": "llm-on-demand"}
    assert manifests.service(s)["spec"]["selector"] == {labels.MODEL_LABEL: "llm"}
    assert manifests.pod_disruption_budget(s)["spec"]["selector"] == {"matchLabels": {labels.MODEL_LABEL: "llm"}}
    # Same pod template otherwise.
    strip = lambda t: {k: v for k, v in t.items() if k != "affinity"}  # noqa: E731
    assert strip(pod(floor)) == strip(pod(main))


def test_selector_does_not_change_with_spot_or_team() -> None:
    a = manifests.deployment(spec())["spec"]["selector"]
    b = manifests.deployment(spec(spot=True, team="other", environment="dev"))["spec"]["selector"]
    assert a == b


@pytest.mark.parametrize("strict, mode", [(False, "ScheduleAnyway"), (True, "DoNotSchedule")])
def test_zone_spread(strict: bool, mode: str) -> None:
    tsc = pod(manifests.deployment(spec(strict_zone_spread=strict)))["topologySpreadConstraints"]
    assert tsc == [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": mode,
         "labelSelector": {"matchLabels": {labels.MODEL_LABEL: "llm"}}},
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": {"matchLabels": {labels.MODEL_LABEL: "llm"}}},
    ]


def test_security_posture() -> None:
    p = pod(manifests.deployment(spec(shm="1Gi")))
    c = p["containers"][0]
    assert p["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                                    "seccompProfile": {"type": "RuntimeDefault"}}
    assert p["automountServiceAccountToken"] is False and p["serviceAccountName"] == "llm"
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                                    "runAsNonRoot": True, "runAsUser": 10001, "capabilities": {"drop": ["ALL"]}}
    assert p["volumes"] == [{"name": "tmp", "emptyDir": {}},
                            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}}]
    assert c["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}, {"name": "dshm", "mountPath": "/dev/shm"}]


@pytest.mark.parametrize("image, policy", [("r.io/llm:1", "Always"), ("r.io/llm@sha256:" + "a" * 64, "IfNotPresent")])
def test_pull_policy(image: str, policy: str) -> None:
    assert manifests.image_pull_policy(image) == policy


def test_rolling_update_and_lifecycle_defaults() -> None:
    d = manifests.deployment(spec(max_unavailable="0", max_surge="1"))
    assert d["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    c = pod(d)["containers"][0]
    assert c["readinessProbe"] == {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 0, "periodSeconds": 5,
                                   "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 2}
    assert c["lifecycle"] == {"preStop": {"sleep": {"seconds": 15}}}
    assert pod(d)["terminationGracePeriodSeconds"] == 60
    assert manifests.deployment(spec())["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}


def test_probes_and_pre_stop_as_given() -> None:
    s = spec(readiness=ProbeSpec(http_path="/ready", period_seconds=3), liveness=ProbeSpec(exec_command=("true",)),
             pre_stop_http_path="/drain")
    c = pod(manifests.deployment(s))["containers"][0]
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8080}
    assert c["livenessProbe"]["exec"] == {"command": ["true"]}
    assert c["lifecycle"] == {"preStop": {"httpGet": {"path": "/drain", "port": 8080}}}
    assert "lifecycle" not in pod(manifests.deployment(spec(pre_stop_sleep_seconds=0)))["containers"][0]
    c = pod(manifests.deployment(spec(pre_stop_http_path="/drain", pre_stop_http_port=9000)))["containers"][0]
    assert c["lifecycle"] == {"preStop": {"httpGet": {"path": "/drain", "port": 9000}}}


def test_labels_on_every_object() -> None:
    s = spec()
    want = {"app.kubernetes.io/name": "llm", "app.kubernetes.io/managed-by": "modelstack", labels.MODEL_LABEL: "llm",
            labels.TEAM_LABEL: "nlp", labels.ENVIRONMENT_LABEL: "prod"}
    for o in (manifests.deployment(s), manifests.service(s), manifests.service_account(s),
              manifests.pod_disruption_budget(s), manifests.network_policy(s)):
        assert o["metadata"]["labels"] == want, o["kind"]
        assert o["metadata"]["name"] == "llm" and o["metadata"]["namespace"] == "models"


def test_pdb_and_network_policy() -> None:
    s = spec(allowed_ingress_cidrs=("10.0.0.0/16",))
    assert manifests.pod_disruption_budget(s)["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {labels.MODEL_LABEL: "llm"}},
                                                          "unhealthyPodEvictionPolicy": "AlwaysAllow"}
    assert manifests.network_policy(s, ("keda",))["spec"] == {
        "podSelector": {"matchLabels": {labels.MODEL_LABEL: "llm"}}, "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"protocol": "TCP", "port": 8080}], "from": [
            {"ipBlock": {"cidr": "10.0.0.0/16"}},
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}]}]}


def test_interceptor_route_routes_any_host_on_the_path_without_hosts() -> None:
    from modelstack.render.autoscaling import Knobs

    o = manifests.interceptor_route(spec(), Knobs(), "/llm", readiness_seconds=900, response_seconds=600)
    assert (o["apiVersion"], o["kind"]) == ("http.keda.sh/v1beta1", "InterceptorRoute")
    assert o["metadata"]["name"] == "llm" and "annotations" not in o["metadata"]
    assert o["spec"]["rules"] == [{"paths": [{"value": "/llm"}]}]  # no hosts: the add-on's catch-all
    assert o["spec"]["timeouts"] == {"readiness": "900s", "responseHeader": "600s"}


def test_hugepages_are_requested_and_limited() -> None:
    c = ContainerSpec(name="model", image="r.io/llm:1", memory="8Gi", inferentia=1, hugepages="256Mi")
    res = manifests.resources(c)
    assert res["requests"]["hugepages-2Mi"] == "256Mi" and res["limits"]["hugepages-2Mi"] == "256Mi"
    assert res["limits"]["aws.amazon.com/neuron"] == "1"


def _proxied(**kw) -> ModelSpec:
    from modelstack.render import proxy
    return spec(proxy=manifests.ProxySpec(proxy.ProxySettings(max_concurrency=2, max_queue_length=5, upstream_port=8080)),
                allowed_ingress_cidrs=("10.0.0.0/16",), **kw)


def test_network_policy_opens_the_proxy_and_its_metrics_to_prometheus_only() -> None:
    np = manifests.network_policy(_proxied(), ("keda",), metrics_namespaces=("monitoring",))
    traffic, metrics = np["spec"]["ingress"]
    assert traffic["ports"] == [{"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": 8888}]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}} in traffic["from"]
    assert metrics == {"ports": [{"protocol": "TCP", "port": 8404}],
                       "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}


def test_proxy_container_drains_like_the_server_and_rolls_on_a_limit_change() -> None:
    from modelstack.render import proxy
    tpl = manifests.deployment(_proxied(pre_stop_sleep_seconds=20))["spec"]["template"]
    p = tpl["spec"]["containers"][1]
    assert p["name"] == "proxy" and p["lifecycle"] == {"preStop": {"sleep": {"seconds": 20}}}
    assert p["volumeMounts"] == [{"name": "proxy-config", "mountPath": "/usr/local/etc/haproxy", "readOnly": True}]
    assert p["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 8404}
    other = manifests.ProxySpec(proxy.ProxySettings(max_concurrency=3, max_queue_length=5, upstream_port=8080))
    changed = manifests.deployment(spec(proxy=other))["spec"]["template"]["metadata"]["annotations"]
    assert changed["modelstack.io/proxy-config"] != tpl["metadata"]["annotations"]["modelstack.io/proxy-config"]
