"""Issue 19: defects of the real path that an offline plan can still show, held on the shipped stacks and on variants
built from them (a 32-character cluster name on Karpenter, a user taint on GPU groups, a Prometheus volume, prod as
shipped for route hosts and the interceptor's drain)."""

from __future__ import annotations

import copy
import json

import pytest

from modelstack.config.schema import CONFIG_KEY
from modelstack.render import timeouts
from test_plan import ENVS, plan_of, values


def _with(env: str, **cluster) -> dict:
    vals = copy.deepcopy(values(env))
    vals[CONFIG_KEY]["cluster"].update(cluster)
    return vals


def _of(doc: dict, typ: str) -> list:
    return [r for r in doc["_resources"] if r.type == typ]


@pytest.fixture(scope="module")
def plans() -> dict[str, dict]:
    return {env: plan_of(env) for env in ENVS}


# ------------------------------------------------------------------------------- 9: one rule for every Helm release

@pytest.mark.parametrize("env", ENVS)
def test_every_helm_release_waits_the_same_time_budget(plans, env):
    releases = _of(plans[env], "kubernetes:helm.sh/v3:Release")
    assert releases
    late = {r.name: r.inputs.get("timeout") for r in releases
            if r.inputs.get("timeout") != timeouts.HELM_RELEASE_TIMEOUT_SECONDS}
    assert late == {}


def test_the_karpenter_release_waits_as_long_as_the_others():
    """prod on Karpenter, with Neuron and logging: every kind of release the program makes."""
    doc = plan_of("prod", _with("prod", provisioner="karpenter"))
    names = {r.name: r.inputs.get("timeout") for r in _of(doc, "kubernetes:helm.sh/v3:Release")}
    assert names["models-prod-karpenter-release"] == timeouts.HELM_RELEASE_TIMEOUT_SECONDS
    assert set(names.values()) == {timeouts.HELM_RELEASE_TIMEOUT_SECONDS}


# ------------------------------------------------------------ 11: node groups outlive the node role's permissions

@pytest.mark.parametrize("env", ENVS)
def test_node_groups_depend_on_every_policy_attachment_of_the_node_role(plans, env):
    """`pulumi destroy` deletes dependents first: a node group (and its draining nodes) must go before the policies
    its nodes run on (CNI, ECR pull, joining the cluster)."""
    doc = plans[env]
    cluster = values(env)[CONFIG_KEY]["cluster"]["name"]
    attachments = {r.urn for r in _of(doc, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                   if r.parent and r.parent.endswith(f"modelstack:index:Cluster::{cluster}")}
    assert len(attachments) >= 4
    groups = _of(doc, "aws:eks/nodeGroup:NodeGroup")
    assert groups
    for g in groups:
        assert attachments <= set(g.dependencies), g.name


# ------------------------------------------------- 2: DaemonSets that must run on tainted nodes tolerate their taints

VISION = {"key": "team", "value": "vision", "effect": "NoSchedule"}


def _tainted_gpu_groups(env: str) -> dict:
    vals = copy.deepcopy(values(env))
    for g in vals[CONFIG_KEY]["node_groups"].values():
        if g.get("kind") == "gpu":
            g["taints"] = [dict(VISION)]
    return vals


def _tolerates(tolerations: list[dict], taint: dict) -> bool:
    """Kubernetes' rule: same key (or none), same effect (or none), and Exists or an equal value."""
    for t in tolerations:
        if t.get("key") not in (None, taint["key"]) or t.get("effect") not in (None, taint["effect"]):
            continue
        if t.get("operator") == "Exists" or t.get("value", "") == taint.get("value", ""):
            return True
    return False


def _node_taints(doc: dict) -> list[list[dict]]:
    """The taints of every GPU node group and GPU NodePool of a plan (Kubernetes spelling)."""
    effects = {"NO_SCHEDULE": "NoSchedule", "PREFER_NO_SCHEDULE": "PreferNoSchedule", "NO_EXECUTE": "NoExecute"}
    out = []
    for r in _of(doc, "aws:eks/nodeGroup:NodeGroup"):
        if r.inputs["amiType"].endswith("_NVIDIA"):
            out.append([{**t, "effect": effects[t["effect"]]} for t in r.inputs.get("taints") or []])
    for r in _of(doc, "kubernetes:karpenter.sh/v1:NodePool"):
        taints = r.inputs["spec"]["template"]["spec"].get("taints") or []
        if any(t["key"] == "nvidia.com/gpu" for t in taints):
            out.append(taints)
    return out


@pytest.mark.parametrize("env,cluster", [("dev", {}), ("staging", {}), ("prod", {}),
                                         ("prod", {"provisioner": "karpenter"})])
def test_with_a_user_taint_on_gpu_groups_the_gpu_daemonsets_and_models_still_run_there(env, cluster):
    vals = _tainted_gpu_groups(env)
    vals[CONFIG_KEY]["cluster"].update(cluster)
    doc = plan_of(env, vals)
    node_taints = _node_taints(doc)
    assert node_taints and all(VISION in [{**t, "value": t.get("value", "")} for t in ts] for ts in node_taints)
    releases = {r.inputs["name"]: r.inputs["values"] for r in _of(doc, "kubernetes:helm.sh/v3:Release")}
    daemonsets = {"nvidia-device-plugin": releases["nvidia-device-plugin"]["tolerations"],
                  "dcgm-exporter": releases["dcgm-exporter"]["tolerations"],
                  "aws-for-fluent-bit": releases["aws-for-fluent-bit"]["tolerations"]}
    for name, tolerations in daemonsets.items():
        for taints in node_taints:
            missing = [t for t in taints if not _tolerates(tolerations, t)]
            assert not missing, (name, missing)
    # and the models placed there: a GPU model's pods tolerate every taint of their pool's nodes
    gpu_models = [r for r in _of(doc, "kubernetes:apps/v1:Deployment")
                  if "nvidia.com/gpu" in str(r.inputs["spec"]["template"]["spec"]["containers"])]
    assert gpu_models
    for r in gpu_models:
        tolerations = r.inputs["spec"]["template"]["spec"]["tolerations"]
        assert _tolerates(tolerations, VISION) and _tolerates(tolerations, {"key": "nvidia.com/gpu", "value": "true",
                                                                             "effect": "NoSchedule"}), r.name
    cpu_models = [r for r in _of(doc, "kubernetes:apps/v1:Deployment")
                  if r.inputs["metadata"].get("namespace") == "models" and r not in gpu_models]
    assert cpu_models and not any(_tolerates(r.inputs["spec"]["template"]["spec"].get("tolerations") or [], VISION)
                                  for r in cpu_models)


# ------------------------------------------------------- 3: a Prometheus volume gets a StorageClass and a CSI driver

@pytest.mark.parametrize("env", ENVS)
def test_a_prometheus_volume_brings_the_ebs_csi_driver_and_the_storage_class_its_claim_names(plans, env):
    vals = copy.deepcopy(values(env))
    vals[CONFIG_KEY]["cluster"].setdefault("observability", {})["volume_size"] = "20Gi"
    doc = plan_of(env, vals)
    cluster = vals[CONFIG_KEY]["cluster"]["name"]
    prometheus = next(r for r in _of(doc, "kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "prometheus")
    volume = prometheus.inputs["values"]["server"]["persistentVolume"]
    classes = _of(doc, "kubernetes:storage.k8s.io/v1:StorageClass")
    assert len(classes) == 1
    sc = classes[0]
    assert volume == {"enabled": True, "size": "20Gi", "storageClass": sc.inputs["metadata"]["name"]}
    assert sc.inputs["provisioner"] == "ebs.csi.aws.com"
    assert sc.inputs["parameters"]["type"] == "gp3" and sc.inputs["parameters"]["encrypted"] == "true"
    assert sc.inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    addon = next(r for r in _of(doc, "aws:eks/addon:Addon") if r.inputs["addonName"] == "aws-ebs-csi-driver")
    assert addon.inputs["addonVersion"]  # the newest for the cluster's version, like the other managed add-ons
    assert {addon.urn, sc.urn} <= set(prometheus.dependencies)
    # its controller: a role of its own through Pod Identity, bound to the add-on's ServiceAccount, before the add-on
    assoc = next(r for r in _of(doc, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
                 if r.inputs["serviceAccount"] == "ebs-csi-controller-sa")
    assert assoc.inputs["namespace"] == "kube-system" and assoc.urn in addon.dependencies
    role = next(r for r in _of(doc, "aws:iam/role:Role") if r.outputs["arn"] == assoc.inputs["roleArn"])
    attached = [r.inputs["policyArn"] for r in _of(doc, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if r.inputs["role"] == role.outputs["name"]]
    assert attached == ["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicyV2"]
    config = json.loads(addon.inputs["configurationValues"])
    assert config["controller"]["nodeSelector"] == {"modelstack.io/node-pool": "system"}
    assert addon.inputs["clusterName"] == cluster
    # without a volume nothing of it is installed
    assert not _of(plans[env], "kubernetes:storage.k8s.io/v1:StorageClass")
    assert not [r for r in _of(plans[env], "aws:eks/addon:Addon") if r.inputs["addonName"] == "aws-ebs-csi-driver"]


# ---------------------------------------------------- 6: the interceptor drains the longest request it carries

def _seconds(text: str) -> int:
    assert text.endswith("s"), text
    return int(text[:-1])


@pytest.mark.parametrize("env", ENVS)
def test_a_stopping_interceptor_and_its_target_groups_outlast_the_longest_request_of_every_route(plans, env):
    """prod as shipped: llm-chat may wait 1440 s for a cold GPU replica and 660 s for its answer; the add-on's
    defaults (30 s drain, 45 s grace) and the ALB's 300 s deregistration delay would cut it when an interceptor
    pod stops (scale-in, rollout, node drain); so would cluster-autoscaler's 600 s on a system node scale-down."""
    doc = plans[env]
    routes = {r.name.removesuffix("-http-route"): r.inputs["spec"]["timeouts"]
              for r in _of(doc, "kubernetes:http.keda.sh/v1beta1:InterceptorRoute")}
    assert routes
    longest = {m: _seconds(t["readiness"]) + _seconds(t["responseHeader"]) for m, t in routes.items()}
    release = next(r for r in _of(doc, "kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "keda-add-ons-http")
    interceptor = release.inputs["values"]["interceptor"]
    drain, delay = _seconds(interceptor["drainTimeout"]), _seconds(interceptor["shutdownDelay"])
    assert drain >= max(longest.values())
    assert interceptor["terminationGracePeriodSeconds"] >= delay + drain  # the chart's rule (values.yaml)
    for m, need in longest.items():
        ing = next(r for r in _of(doc, "kubernetes:networking.k8s.io/v1:Ingress") if r.name == f"{m}-ingress")
        attrs = ing.inputs["metadata"]["annotations"]["alb.ingress.kubernetes.io/target-group-attributes"]
        assert int(attrs.split("deregistration_delay.timeout_seconds=")[1]) >= min(need, 3600), m
    autoscaler = [r for r in _of(doc, "kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "cluster-autoscaler"]
    for ca in autoscaler:  # staging and prod; Karpenter waits for a pod's own grace period
        limit = ca.inputs["values"]["extraArgs"]["max-graceful-termination-sec"]
        graces = [r.inputs["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
                  for r in _of(doc, "kubernetes:apps/v1:Deployment")]
        assert limit >= max([interceptor["terminationGracePeriodSeconds"], *graces])
    if env == "prod":
        assert longest["llm-chat"] == 1440 + 660 and drain >= 2100
        assert autoscaler


# -------------------------------------------------------- 4: a client's own domain reaches the model through the ALB

def _key(host: str, path: str) -> str:
    path = path.strip("/")
    return f"{host}/{path}/" if path else f"{host}/"


def interceptor_route(routes: list[dict], host: str, path: str) -> str | None:
    """Which InterceptorRoute the interceptor picks, after kedacore/http-add-on v0.15.0 `pkg/routing`: a rule's keys
    are host + "/" + path + "/" (no hosts: the catch-all "*"); a request is matched by the longest key that prefixes
    its own (the request's port stripped), first for its exact host, then its wildcards ("*.example.com", most specific first), then "*"."""
    host = host.rsplit(":", 1)[0] if ":" in host else host  # the port is stripped (stripPort)
    keys: dict[str, str] = {}
    for r in routes:
        for rule in r["spec"]["rules"]:
            for h in rule.get("hosts") or ["*"]:
                for p in rule.get("paths") or [{"value": ""}]:
                    keys.setdefault(_key("*" if h in ("", "*") else h, p["value"]), r["metadata"]["name"])
    labels = host.split(".")
    for candidate in [host, *("*." + ".".join(labels[i:]) for i in range(1, len(labels))), "*"]:
        want = _key(candidate, path)
        found = [k for k in keys if want.startswith(k)]
        if found:
            return keys[max(found, key=len)]
    return None


def test_prod_as_shipped_answers_on_the_clients_own_domain_and_on_the_alb_name(plans):
    """prod's ALB has an ACM certificate (which cannot name `*.elb.amazonaws.com`): clients call through their own
    domain, which the ALB forwards as the Host. Every in_flight model must be reached by its path on any Host."""
    doc = plans["prod"]
    routes = [r.inputs for r in _of(doc, "kubernetes:http.keda.sh/v1beta1:InterceptorRoute")]
    assert {r["metadata"]["name"] for r in routes} == {"image-classifier", "llm-chat"}
    assert values("prod")[CONFIG_KEY]["cluster"]["load_balancer"]["certificate_arn"]
    ingresses = {r.name: r.inputs for r in _of(doc, "kubernetes:networking.k8s.io/v1:Ingress")}
    for r in routes:
        model, path = r["metadata"]["name"], r["spec"]["rules"][0]["paths"][0]["value"]
        alb_path = ingresses[f"{model}-ingress"]["spec"]["rules"][0]["http"]["paths"][0]
        assert alb_path["path"] == path and "host" not in ingresses[f"{model}-ingress"]["spec"]["rules"][0]
        for host in ("api.models.example.com", "models.internal", "pending-load-balancer.invalid"):
            assert interceptor_route(routes, host, f"{path}/v1/predict") == model, (host, model)
            assert interceptor_route(routes, f"{host}:443", path) == model
    # paths stay apart: a prefix of another model's path does not capture it
    assert interceptor_route(routes, "api.models.example.com", "/llm-chatter/x") is None
    assert interceptor_route(routes, "api.models.example.com", "/sentiment/predict") is None  # not behind the interceptor


def test_the_routing_model_follows_upstreams_precedence():
    """The lookup above, on the cases upstream's tests name: exact before wildcard before catch-all."""
    def r(name, hosts, path="/m"):
        return {"metadata": {"name": name}, "spec": {"rules": [{"hosts": hosts, "paths": [{"value": path}]}]}}
    routes = [r("catch-all", ["*"]), r("wild", ["*.example.com"]), r("exact", ["a.example.com"])]
    assert interceptor_route(routes, "a.example.com", "/m/x") == "exact"
    assert interceptor_route(routes, "b.example.com", "/m") == "wild"
    assert interceptor_route(routes, "other.org", "/m") == "catch-all"
    assert interceptor_route([r("only-alb", ["alb.example"])], "custom.example", "/m") is None  # main's 404


# ------------------------------------------------ 5: no second access entry for the principal that creates the cluster

DEPLOYER = "arn:aws:iam::123456789012:role/ci-deployer"
"""The role deploy.yml assumes for staging and prod (vars.AWS_DEPLOY_ROLE_ARN): it creates their clusters."""


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_the_deploying_role_gets_no_access_entry_besides_the_one_eks_gives_the_creator(plans, env):
    doc = plans[env]
    cluster = next(r for r in _of(doc, "eks:index:Cluster"))
    entries = cluster.inputs.get("accessEntries") or {}
    principals = [e["principalArn"] for e in entries.values()]
    assert DEPLOYER not in principals, "EKS would refuse it: the creator already has an entry (ResourceInUseException)"
    assert len(principals) == len(set(principals)) and principals
    # and the plan says where the deployer's access comes from
    assert any(DEPLOYER in n and "creator" in n for n in doc["notes"]), doc["notes"]
