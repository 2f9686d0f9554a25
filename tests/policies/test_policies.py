"""Every rule, passing and failing, called as a plain function and through its pulumi_policy wrapper."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, ResourceValidationArgs,
    ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from modelstack.policies import engine
from modelstack.policies.engine import evaluate, has_mandatory
from modelstack.policies.pack import build_policies
from modelstack.policies.rule import Context, Resource, Rule
from modelstack.render.node_templates import WEIGHTS_CACHE_ROOT
from policy_stacks import bad_stack, find, good_stack, karpenter_resources, pod, queue_resources

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "bad_resources.json"
Stack = list[dict[str, Any]]


def inputs(stack: Stack, name: str, type_suffix: str = "") -> dict[str, Any]:
    return find(stack, name, type_suffix)["inputs"]


def deploy(stack: Stack, name: str = "sentiment") -> dict[str, Any]:
    return inputs(stack, name, "Deployment")


def server(stack: Stack) -> dict[str, Any]:
    return pod(find(stack, "sentiment", "Deployment"))["containers"][0]


def ingress_notes(stack: Stack) -> dict[str, Any]:
    return inputs(stack, "sentiment", "Ingress")["metadata"]["annotations"]


def policy_doc(stack: Stack, name: str, document: dict[str, Any]) -> None:
    inputs(stack, name)["policy"] = json.dumps(document)


def allow(*actions: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}


def set_path(d: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for p in parents:
        d = d[p]
    if value is DELETE:
        del d[last]
    else:
        d[last] = value


DELETE = object()


def host_path_volume(stack: Stack, path: str, readonly: bool, kind: str = "Directory") -> None:
    """The server mounts a hostPath volume."""
    spec = pod(find(stack, "sentiment", "Deployment"))
    spec.setdefault("volumes", []).append({"name": "host", "hostPath": {"path": path, "type": kind}})
    spec["containers"][0].setdefault("volumeMounts", []).append({"name": "host", "mountPath": "/host",
                                                                 "readOnly": readonly})


def at(name: str, path: str, value: Any, type_suffix: str = "") -> Callable[[Stack], None]:
    return lambda s: set_path(inputs(s, name, type_suffix), path, value)


# (rule id, environment, how to break the compliant stack). Each rule has at least one failing case;
# the passing case is the compliant stack itself, in the same environment.
CASES: list[tuple[str, str, str, Callable[[Stack], None]]] = [
    ("eks-private-endpoint", "prod", "public endpoint", at("ms-cluster", "endpointPublicAccess", True)),
    ("eks-private-endpoint", "prod", "public access unset", at("ms-cluster", "endpointPublicAccess", DELETE)),
    ("eks-private-endpoint", "prod", "private access off", at("ms-cluster", "endpointPrivateAccess", False)),
    ("eks-secrets-encryption", "dev", "no key", at("ms-cluster", "encryptionConfigKeyArn", DELETE)),
    ("kms-key-rotation", "dev", "rotation off", at("ms-secrets", "enableKeyRotation", False)),
    ("nodes-imdsv2", "dev", "IMDSv1 allowed", at("ms-gpu-a10g-lt", "metadataOptions.httpTokens", "optional")),
    ("nodes-imdsv2", "dev", "hop limit 3", at("ms-gpu-a10g-lt", "metadataOptions.httpPutResponseHopLimit", 3)),
    ("nodes-imdsv2", "dev", "node group without launch template", at("ms-system", "launchTemplate", DELETE)),
    ("ebs-encryption", "dev", "unencrypted root volume",
     at("ms-gpu-a10g-lt", "blockDeviceMappings", [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}])),
    ("ebs-encryption", "dev", "no block devices", at("ms-gpu-a10g-lt", "blockDeviceMappings", [])),
    ("iam-no-wildcard-actions", "staging", "s3:*", lambda s: policy_doc(s, "ms-autoscaler", allow("s3:*"))),
    ("iam-no-wildcard-actions", "staging", "star", lambda s: policy_doc(s, "ms-autoscaler", allow("*"))),
    ("iam-no-wildcard-actions", "staging", "NotAction", lambda s: policy_doc(s, "ms-autoscaler", {
        "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]})),
    ("iam-no-wildcard-actions", "staging", "inline role policy",
     at("ms-node-role", "inlinePolicies", [{"name": "x", "policy": json.dumps(allow("ec2:*"))}])),
    ("iam-no-admin-policies", "dev", "AdministratorAccess",
     at("ms-node-worker", "policyArn", "arn:aws:iam::aws:policy/AdministratorAccess")),
    ("iam-trust-scoped", "dev", "IRSA without sub", at("sentiment-irsa", "assumeRolePolicy", json.dumps({
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": {
            "Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"}}]}))),
    ("iam-trust-scoped", "dev", "any principal", at("ms-node-role", "assumeRolePolicy", json.dumps({
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "*"}}]}))),
    ("pod-non-root", "dev", "runAsUser 0", lambda s: server(s)["securityContext"].update(runAsUser=0)),
    ("pod-non-root", "dev", "runAsNonRoot unset", lambda s: (
        pod(find(s, "sentiment", "Deployment"))["securityContext"].pop("runAsNonRoot"),
        server(s)["securityContext"].pop("runAsNonRoot"))),
    ("pod-no-privilege-escalation", "dev", "escalation allowed",
     lambda s: server(s)["securityContext"].pop("allowPrivilegeEscalation")),
    ("pod-no-privilege-escalation", "dev", "privileged",
     lambda s: server(s)["securityContext"].update(privileged=True)),
    ("pod-no-privilege-escalation", "dev", "capabilities kept",
     lambda s: server(s)["securityContext"].pop("capabilities")),
    ("pod-no-privilege-escalation", "dev", "host network",
     lambda s: pod(find(s, "sentiment", "Deployment")).update(hostNetwork=True)),
    ("pod-host-path", "dev", "the node's root filesystem",
     lambda s: host_path_volume(s, "/", readonly=True)),
    ("pod-host-path", "dev", "the weights cache, writable by the server",
     lambda s: host_path_volume(s, WEIGHTS_CACHE_ROOT, readonly=False)),
    ("pod-host-path", "dev", "the weights cache, created by the kubelet if missing",
     lambda s: host_path_volume(s, WEIGHTS_CACHE_ROOT, readonly=True, kind="DirectoryOrCreate")),
    ("pod-host-path", "dev", "a folder beside the weights cache",
     lambda s: host_path_volume(s, WEIGHTS_CACHE_ROOT + "/../../..", readonly=True)),
    ("lb-cidr-allowlist", "dev", "no allow-list",
     lambda s: ingress_notes(s).pop("alb.ingress.kubernetes.io/inbound-cidrs")),
    ("lb-cidr-allowlist", "dev", "open to the internet",
     lambda s: ingress_notes(s).update({"alb.ingress.kubernetes.io/inbound-cidrs": "0.0.0.0/0"})),
    ("lb-cidr-allowlist", "dev", "LoadBalancer Service without source ranges",
     at("sentiment", "spec.type", "LoadBalancer", "Service")),
    ("lb-tls", "dev", "no certificate",
     lambda s: ingress_notes(s).pop("alb.ingress.kubernetes.io/certificate-arn")),
    ("allowed-image-registries", "dev", "Docker Hub", lambda s: server(s).update(image="pytorch/torchserve:0.12")),
    ("allowed-image-registries", "dev", "lookalike host",
     lambda s: server(s).update(image="evil.example/123.dkr.ecr.us-east-1.amazonaws.com/x:1")),
    ("image-pinned", "dev", ":latest",
     lambda s: server(s).update(image="123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:latest")),
    ("image-pinned", "dev", "no tag",
     lambda s: server(s).update(image="123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment")),
    ("readiness-probe", "dev", "no readiness probe", lambda s: server(s).pop("readinessProbe")),
    ("liveness-probe", "dev", "no liveness probe", lambda s: server(s).pop("livenessProbe")),
    ("resource-requests", "dev", "no cpu request", lambda s: server(s)["resources"]["requests"].pop("cpu")),
    ("resource-requests", "dev", "gpu request != limit",
     lambda s: server(s)["resources"]["limits"].update({"nvidia.com/gpu": "2"})),
    ("min-replicas", "prod", "one replica, nothing scales it, no floor", lambda s: (
        at("sentiment", "spec.replicas", 1, "Deployment")(s),
        at("sentiment-on-demand", "spec.replicas", 0, "Deployment")(s),
        s.remove(find(s, "sentiment", "HorizontalPodAutoscaler")))),
    ("min-replicas", "prod", "HPA minimum 1 and no floor", lambda s: (
        at("sentiment", "spec.minReplicas", 1, "HorizontalPodAutoscaler")(s),
        at("sentiment-on-demand", "spec.replicas", 0, "Deployment")(s))),
    ("min-replicas", "prod", "KEDA scale to zero", lambda s: s.append({
        "urn": "urn:pulumi:prod::modelstack::keda.sh:ScaledObject::sentiment", "name": "sentiment", "parent": None,
        "type": "kubernetes:keda.sh/v1alpha1:ScaledObject",
        "inputs": {"metadata": {"name": "sentiment", "labels": {"modelstack.io/environment": "prod"}},
                   "spec": {"minReplicaCount": 0, "maxReplicaCount": 4, "scaleTargetRef": {"name": "sentiment"}}}})),
    ("zone-spread", "prod", "no spread", lambda s: pod(find(s, "sentiment", "Deployment")).pop(
        "topologySpreadConstraints")),
    ("max-unavailable-zero", "prod", "default maxUnavailable",
     at("sentiment", "spec.strategy.rollingUpdate.maxUnavailable", DELETE, "Deployment")),
    ("max-unavailable-zero", "prod", "25%",
     at("sentiment", "spec.strategy.rollingUpdate.maxUnavailable", "25%", "Deployment")),
    ("max-unavailable-zero", "prod", "Recreate", at("sentiment", "spec.strategy", {"type": "Recreate"}, "Deployment")),
    ("pdb-required", "dev", "no PDB", lambda s: s.remove(find(s, "sentiment", "PodDisruptionBudget"))),
    ("pdb-required", "dev", "PDB selects other pods",
     at("sentiment", "spec.selector.matchLabels", {"app.kubernetes.io/name": "other"}, "PodDisruptionBudget")),
    ("pdb-required", "dev", "PDB blocks drains", at("sentiment", "spec.maxUnavailable", 0, "PodDisruptionBudget")),
    ("spot-on-demand-floor", "prod", "no companion",
     lambda s: s.remove(find(s, "sentiment-on-demand", "Deployment"))),
    ("spot-on-demand-floor", "prod", "spot detected from the node group, no companion", lambda s: (
        s.remove(find(s, "sentiment-on-demand", "Deployment")),
        deploy(s)["metadata"]["annotations"].clear())),
    ("spot-on-demand-floor", "prod", "companion at zero", at("sentiment-on-demand", "spec.replicas", 0, "Deployment")),
    ("spot-on-demand-floor", "prod", "companion not pinned to on-demand",
     lambda s: pod(find(s, "sentiment-on-demand", "Deployment")).pop("affinity")),
    ("spot-on-demand-floor", "prod", "companion pinned to spot", lambda s: [
        e.update(values=["SPOT"]) for e in pod(find(s, "sentiment-on-demand", "Deployment"))["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"]
        if e["key"] == "eks.amazonaws.com/capacityType"]),
    ("pdb-required", "dev", "PDB minAvailable 100%", lambda s: (
        inputs(s, "sentiment", "PodDisruptionBudget")["spec"].pop("maxUnavailable"),
        inputs(s, "sentiment", "PodDisruptionBudget")["spec"].update(minAvailable="100%"))),
    ("pdb-required", "dev", "PDB in another namespace", at("sentiment", "metadata.namespace", "other", "PodDisruptionBudget")),
    ("pod-no-privilege-escalation", "dev", "drops some capabilities but not ALL",
     lambda s: server(s)["securityContext"].update(capabilities={"drop": ["NET_RAW"]})),
    ("allowed-image-registries", "dev", "local registry", lambda s: server(s).update(image="localhost/sentiment:1.4.2")),
    ("allowed-image-registries", "dev", "registry host with a port", lambda s: server(s).update(image="registry:5000/sentiment:1.4.2")),
    ("gpu-ami-type", "dev", "standard AMI on g5", at("ms-gpu-a10g", "amiType", "AL2023_x86_64_STANDARD")),
    ("gpu-instance-families", "dev", "p4d in dev", at("ms-gpu-a10g", "instanceTypes", ["p4d.24xlarge"])),
    ("gpu-instance-families", "prod", "p3 in prod", at("ms-gpu-a10g", "instanceTypes", ["p3.2xlarge"])),
    ("max-nodes-per-group", "dev", "maxSize 50 in dev", at("ms-gpu-a10g", "scalingConfig.maxSize", 50)),
    ("spot-in-non-prod", "dev", "on-demand GPU group in dev", at("ms-gpu-a10g", "capacityType", "ON_DEMAND")),
    ("spot-in-non-prod", "staging", "capacity type unset", at("ms-gpu-a10g", "capacityType", DELETE)),
    ("gpu-node-taint", "dev", "untainted GPU group", at("ms-gpu-a10g", "taints", [])),
    ("gpu-scale-to-zero", "dev", "GPU floor in dev", at("ms-gpu-a10g", "scalingConfig.minSize", 1)),
    ("cost-allocation-tags", "dev", "no team tag", lambda s: inputs(s, "ms-vpc")["tags"].pop("team")),
    ("cost-allocation-tags", "dev", "no tags at all", at("ms-private-a", "tags", DELETE)),
    ("cost-allocation-tags", "dev", "model resource without model tag",
     lambda s: inputs(s, "sentiment-irsa")["tags"].pop("model")),
    ("cost-allocation-tags", "dev", "wrong environment tag", lambda s: inputs(s, "ms-vpc")["tags"].update(
        environment="prod")),
    ("cost-allocation-tags", "dev", "instances untagged",
     at("ms-gpu-a10g-lt", "tagSpecifications", [{"resourceType": "volume", "tags": {}}])),
    ("k8s-cost-labels", "dev", "pod template without team", lambda s: deploy(s)["spec"]["template"]["metadata"][
        "labels"].pop("modelstack.io/team")),
]

def with_karpenter(env: str, mutate: Callable[[Stack], None]) -> Callable[[Stack], None]:
    """Add the Karpenter resources (compliant), then break them."""
    return lambda s: (s.extend(karpenter_resources(env)), mutate(s))


def with_queues(env: str, mutate: Callable[[Stack], None]) -> Callable[[Stack], None]:
    """Add an AsyncModelAPI's queue and bucket (compliant), then break them."""
    return lambda s: (s.extend(queue_resources(env)), mutate(s))


CASES += [
    ("sqs-encryption", "dev", "SSE-SQS off", with_queues("dev", lambda s: inputs(
        s, "summarize-queue-queue").update(sqsManagedSseEnabled=False))),
    ("sqs-dead-letter-queue", "dev", "no redrive policy", with_queues("dev", lambda s: inputs(
        s, "summarize-queue-queue").pop("redrivePolicy"))),
    ("sqs-dead-letter-queue", "prod", "redrive without maxReceiveCount", with_queues("prod", lambda s: inputs(
        s, "summarize-queue-queue").update(redrivePolicy=json.dumps({"deadLetterTargetArn": "arn:aws:sqs:x"})))),
    ("s3-encryption", "dev", "a rule without an algorithm", with_queues("dev", lambda s: inputs(
        s, "summarize-queue-bucket-encryption")["rules"][0].pop("applyServerSideEncryptionByDefault"))),
    ("s3-no-public-access", "dev", "public policies allowed", with_queues("dev", lambda s: inputs(
        s, "summarize-queue-bucket-public-access").update(blockPublicPolicy=False))),
    ("s3-no-public-access", "staging", "a public-read bucket", with_queues("staging", lambda s: inputs(
        s, "summarize-queue-bucket").update(acl="public-read"))),
]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_compliant_stack_with_queues_passes_every_rule(env: str) -> None:
    stack = good_stack(env) + queue_resources(env)
    assert evaluate(stack, None, env) == []


def pool(s: Stack) -> dict[str, Any]:
    return inputs(s, "ms-karpenter-gpu-a10g", "NodePool")


CASES += [
    ("node-group-autoscaled", "dev", "GPU group at 0 with no cluster-autoscaler",
     lambda s: s.remove(find(s, "ms-autoscaler-release"))),
    ("karpenter-interruption-queue", "dev", "no queue in the chart values", with_karpenter("dev", lambda s: inputs(
        s, "ms-karpenter-release")["values"]["settings"].update(interruptionQueue=""))),
    ("karpenter-interruption-queue", "prod", "no spot warning rule",
     with_karpenter("prod", lambda s: s.remove(find(s, "ms-karpenter-spot-interruption")))),
    ("gpu-instance-families", "dev", "p5 in a dev NodePool", with_karpenter("dev", lambda s: pool(s)["spec"]["template"][
        "spec"]["requirements"][0].update(values=["g5.xlarge", "p5.48xlarge"]))),
    ("nodes-imdsv2", "dev", "EC2NodeClass allows IMDSv1", with_karpenter("dev", lambda s: inputs(
        s, "ms-karpenter-nodeclass")["spec"]["metadataOptions"].update(httpTokens="optional"))),
    ("nodes-imdsv2", "dev", "EC2NodeClass hop limit 3", with_karpenter("dev", lambda s: inputs(
        s, "ms-karpenter-nodeclass")["spec"]["metadataOptions"].update(httpPutResponseHopLimit=3))),
    ("ebs-encryption", "dev", "EC2NodeClass root volume unencrypted", with_karpenter("dev", lambda s: inputs(
        s, "ms-karpenter-nodeclass")["spec"]["blockDeviceMappings"][0]["ebs"].update(encrypted=False))),
    ("gpu-node-taint", "dev", "untainted GPU NodePool",
     with_karpenter("dev", lambda s: pool(s)["spec"]["template"]["spec"].pop("taints"))),
    ("nodepool-limits", "dev", "no limits", with_karpenter("dev", lambda s: pool(s)["spec"].pop("limits"))),
    ("nodepool-limits", "dev", "GPU pool without a GPU limit",
     with_karpenter("dev", lambda s: pool(s)["spec"]["limits"].pop("nvidia.com/gpu"))),
    ("max-nodes-per-group", "dev", "NodePool limits allow 30 g5.xlarge", with_karpenter("dev", lambda s: pool(s)[
        "spec"].update(limits={"cpu": "120", "memory": "480Gi", "nvidia.com/gpu": "30"}))),
    ("max-nodes-per-group", "dev", "NodePool limits.nodes 50, no resource limit",
     with_karpenter("dev", lambda s: pool(s)["spec"].update(limits={"nodes": "50"}))),
    ("max-nodes-per-group", "dev", "NodePool without limits", with_karpenter("dev", lambda s: pool(s)["spec"].pop("limits"))),
    ("max-nodes-per-group", "dev", "static NodePool of 12 nodes", with_karpenter("dev", lambda s: pool(s)["spec"].update(
        replicas=12, limits={"nodes": "12"}))),
    ("spot-in-non-prod", "dev", "on-demand-only NodePool in dev", with_karpenter("dev", lambda s: pool(s)["spec"][
        "template"]["spec"]["requirements"][1].update(values=["on-demand"]))),
    ("spot-in-non-prod", "staging", "NodePool on on-demand and reserved capacity", with_karpenter("staging", lambda s: pool(
        s)["spec"]["template"]["spec"]["requirements"][1].update(values=["on-demand", "reserved"]))),
    ("spot-in-non-prod", "dev", "NodePool excluding spot", with_karpenter("dev", lambda s: pool(s)["spec"]["template"][
        "spec"]["requirements"][1].update(operator="NotIn", values=["spot"]))),
    ("gpu-ami-type", "dev", "GPU NodePool on a Windows EC2NodeClass", with_karpenter("dev", lambda s: inputs(
        s, "ms-karpenter-nodeclass")["spec"].update(amiSelectorTerms=[{"alias": "windows2022@latest"}]))),
    ("gpu-scale-to-zero", "dev", "static GPU NodePool", with_karpenter("dev", lambda s: pool(s)["spec"].update(replicas=1))),
    ("gpu-scale-to-zero", "staging", "GPU NodePool never consolidates", with_karpenter("staging", lambda s: pool(s)[
        "spec"]["disruption"].update(consolidateAfter="Never"))),
    ("gpu-scale-to-zero", "dev", "GPU NodePool budget of 0 nodes", with_karpenter("dev", lambda s: pool(s)["spec"][
        "disruption"].update(budgets=[{"nodes": "0"}]))),
    ("nodepool-disruption-budget", "prod", "no budgets",
     with_karpenter("prod", lambda s: pool(s)["spec"]["disruption"].pop("budgets"))),
    ("nodepool-disruption-budget", "prod", "half the pool at once",
     with_karpenter("prod", lambda s: pool(s)["spec"]["disruption"].update(budgets=[{"nodes": "50%"}]))),
    ("nodepool-disruption-budget", "prod", "five nodes at once",
     with_karpenter("prod", lambda s: pool(s)["spec"]["disruption"].update(budgets=[{"nodes": "5"}]))),
]

RULES_BY_ID = {r.id: r for r in engine.rules()}
POLICIES_BY_ID = {p.name: p for p in build_policies()}


def broken(env: str, mutate: Callable[[Stack], None]) -> Stack:
    stack = copy.deepcopy(good_stack(env))
    mutate(stack)
    return stack


def run_plain(rule: Rule, stack: Stack, env: str) -> list[str]:
    """The rule's own function, called directly."""
    resources = [Resource.from_record(r) for r in stack]
    params = rule.defaults()
    if rule.scope == "stack":
        return [m for _, m in rule.check(resources, Context(env, params))]
    return [m for r in resources if rule.applies_to(r.type)
            for m in rule.check(r.type, r.props, Context(env, params, urn=r.urn, name=r.name))]


def _opts(parent: str | None = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def run_pack(rule: Rule, stack: Stack, env: str | None, config: dict[str, Any] | None = None) -> list[str]:
    """The same rule through its pulumi_policy policy, with props proxied as the analyzer does."""
    policy = POLICIES_BY_ID[rule.id]
    config = {"environment": env, **(config or {})} if env else dict(config or {})
    found: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(message)

    if isinstance(policy, StackValidationPolicy):
        resources = [PolicyResource(r["type"], unknown_checking_proxy(copy.deepcopy(r["inputs"])), r["urn"],
                                    r["name"], _opts(r["parent"]), None, None, [], {}) for r in stack]
        policy.validate(StackValidationArgs(resources, config), report)
    else:
        for r in stack:
            args = ResourceValidationArgs(r["type"], unknown_checking_proxy(copy.deepcopy(r["inputs"])), r["urn"],
                                          r["name"], _opts(r["parent"]), None, config)
            policy.validate(args, report)
    return found


def test_there_are_at_least_twenty_rules_in_every_category() -> None:
    rules = engine.rules()
    assert len(rules) >= 20
    assert {r.category for r in rules} == {"security", "reliability", "cost"}
    assert len({r.id for r in rules}) == len(rules)


def test_every_rule_has_a_failing_case() -> None:
    assert {c[0] for c in CASES} == set(RULES_BY_ID)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_compliant_stack_passes_every_rule(env: str) -> None:
    stack = good_stack(env)
    assert evaluate(stack, None, env) == []
    for rule in engine.rules():
        assert run_plain(rule, stack, env) == [], rule.id
        assert run_pack(rule, stack, env) == [], rule.id


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_compliant_stack_with_karpenter_passes_every_rule(env: str) -> None:
    stack = good_stack(env) + karpenter_resources(env)
    assert evaluate(stack, None, env) == []
    for rule in engine.rules():
        assert run_plain(rule, stack, env) == [], rule.id
        assert run_pack(rule, stack, env) == [], rule.id


def test_interruption_queue_is_not_required_without_spot() -> None:
    stack = good_stack("dev") + karpenter_resources("dev")
    pool(stack)["spec"]["template"]["spec"]["requirements"][1]["values"] = ["on-demand"]
    stack.remove(find(stack, "ms-karpenter-spot-interruption"))
    assert run_plain(RULES_BY_ID["karpenter-interruption-queue"], stack, "dev") == []


def karpenter_stack(env: str) -> Stack:
    return good_stack(env) + karpenter_resources(env)


def rule_messages(rule_id: str, stack: Stack, env: str) -> list[str]:
    plain = run_plain(RULES_BY_ID[rule_id], stack, env)
    assert sorted(run_pack(RULES_BY_ID[rule_id], stack, env)) == sorted(plain)
    return plain


@pytest.mark.parametrize("limits,messages", [
    # 40 vCPUs, 160 GiB and 10 GPUs are each 10 g5.xlarge (4 vCPU, 16 GiB, 1 GPU): dev's cap exactly.
    ({"cpu": "40", "memory": "160Gi", "nvidia.com/gpu": "10"}, []),
    ({"cpu": "44", "memory": "176Gi", "nvidia.com/gpu": "11"}, [
        "spec.limits allow 11 nodes (limits.cpu=44 is 11 nodes of g5.xlarge, its largest type); at most 10 in dev"]),
    # The tightest limit binds: 11 nodes' cpu but 3 GPUs is 3 nodes.
    ({"cpu": "44", "nvidia.com/gpu": "3"}, []),
    ({"cpu": "400", "nodes": 10}, []),
    ({"nodes": 11}, ["spec.limits allow 11 nodes (limits.nodes=11); at most 10 in dev"]),
    ({"memory": "1Ti"}, ["spec.limits allow 64 nodes (limits.memory=1Ti is 64 nodes of g5.xlarge, its largest type); "
                         "at most 10 in dev"]),
    ({}, ["spec.limits bounds neither nodes, cpu, memory nor accelerators: the NodePool may launch any number of "
          "nodes; at most 10 in dev"]),
])
def test_max_nodes_counts_a_nodepool_in_nodes_of_its_largest_type(limits: dict[str, Any], messages: list[str]) -> None:
    stack = karpenter_stack("dev")
    pool(stack)["spec"]["limits"] = limits
    assert rule_messages("max-nodes-per-group", stack, "dev") == messages


def test_max_nodes_reads_a_mixed_pool_by_its_largest_type_and_a_family_pool_from_the_price_table() -> None:
    stack = karpenter_stack("dev")
    reqs = pool(stack)["spec"]["template"]["spec"]["requirements"]
    reqs[0]["values"] = ["g4dn.xlarge", "g5.2xlarge"]  # 4 and 8 vCPUs: 80 vCPUs are 10 g5.2xlarge (20 g4dn.xlarge)
    pool(stack)["spec"]["limits"] = {"cpu": "80"}
    assert rule_messages("max-nodes-per-group", stack, "dev") == []
    pool(stack)["spec"]["limits"] = {"cpu": "88"}
    assert rule_messages("max-nodes-per-group", stack, "dev") == [
        "spec.limits allow 11 nodes (limits.cpu=88 is 11 nodes of g5.2xlarge, its largest type); at most 10 in dev"]
    # No instance-type list: the instance-family requirement's types from the price table (g5 tops out at 192 vCPUs).
    reqs[0] = {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g5"]}
    pool(stack)["spec"]["limits"] = {"cpu": str(192 * 11)}
    assert rule_messages("max-nodes-per-group", stack, "dev") == [
        "spec.limits allow 11 nodes (limits.cpu=2112 is 11 nodes of g5.48xlarge, its largest type); at most 10 in dev"]


def test_max_nodes_skips_a_nodepool_of_types_the_price_table_does_not_know() -> None:
    stack = karpenter_stack("dev")
    pool(stack)["spec"]["template"]["spec"]["requirements"][0]["values"] = ["g99.xlarge"]
    pool(stack)["spec"]["limits"] = {"cpu": "4000"}
    assert rule_messages("max-nodes-per-group", stack, "dev") == []


def test_max_nodes_cap_is_the_environments_and_configurable() -> None:
    stack = karpenter_stack("prod")
    pool(stack)["spec"]["limits"] = {"cpu": "400", "nvidia.com/gpu": "100"}  # 100 g5.xlarge: prod's cap
    assert rule_messages("max-nodes-per-group", stack, "prod") == []
    hits = evaluate(stack, {"max-nodes-per-group": {"max_nodes": {"prod": 50}}}, "prod")
    assert [(v.policy, v.message) for v in hits if "NodePool" in v.resource] == [("max-nodes-per-group",
        "spec.limits allow 100 nodes (limits.cpu=400 is 100 nodes of g5.xlarge, its largest type); at most 50 in prod")]


@pytest.mark.parametrize("env,requirement,messages", [
    ("dev", {"operator": "In", "values": ["spot", "on-demand"]}, []),
    ("dev", {"operator": "NotIn", "values": ["on-demand"]}, []),
    ("dev", {"operator": "Exists"}, []),
    ("dev", {"operator": "In", "values": ["on-demand"]}, ["karpenter.sh/capacity-type admits no spot in dev; allow spot"]),
    ("dev", {"operator": "DoesNotExist"}, ["karpenter.sh/capacity-type admits no spot in dev; allow spot"]),
    ("prod", {"operator": "In", "values": ["on-demand"]}, []),
])
def test_spot_in_non_prod_reads_a_nodepools_capacity_type(env: str, requirement: dict[str, Any], messages: list[str]) -> None:
    stack = karpenter_stack(env)
    pool(stack)["spec"]["template"]["spec"]["requirements"][1] = {"key": "karpenter.sh/capacity-type", **requirement}
    assert rule_messages("spot-in-non-prod", stack, env) == messages


def test_a_nodepool_without_a_capacity_type_requirement_may_launch_spot() -> None:
    """Karpenter reads a missing requirement as Exists and prefers spot: no advice to add spot, but the queue is due."""
    stack = karpenter_stack("dev")
    pool(stack)["spec"]["template"]["spec"]["requirements"].pop(1)
    assert rule_messages("spot-in-non-prod", stack, "dev") == []
    stack.remove(find(stack, "ms-karpenter-spot-interruption"))
    assert rule_messages("karpenter-interruption-queue", stack, "dev") == [
        "NodePool allows spot but no EventBridge rule forwards 'EC2 Spot Instance Interruption Warning' events"]


def test_spot_in_non_prod_exempts_the_system_pool() -> None:
    stack = karpenter_stack("dev")
    pool(stack)["spec"]["template"]["spec"]["requirements"][1]["values"] = ["on-demand"]
    pool(stack)["spec"]["template"]["metadata"]["labels"]["modelstack.io/node-pool"] = "system"
    assert rule_messages("spot-in-non-prod", stack, "dev") == []


@pytest.mark.parametrize("terms,messages", [
    ([{"alias": "al2023@latest"}], []),
    ([{"alias": "al2@v20250101"}], []),
    ([{"alias": "bottlerocket@v1.30.0"}], []),
    ([{"id": "ami-0123456789abcdef0"}], []),  # a custom AMI: its drivers are not visible here
    ([{"alias": "windows2025@latest"}], [
        "gpu instance types with EC2NodeClass 'default' (amiSelectorTerms alias 'windows2025@latest'): Karpenter has "
        "no gpu AMI variant for windows2025; use one of al2, al2023, bottlerocket"]),
])
def test_gpu_ami_type_reads_the_nodepools_ec2nodeclass(terms: list[dict[str, str]], messages: list[str]) -> None:
    stack = karpenter_stack("dev")
    inputs(stack, "ms-karpenter-nodeclass")["spec"]["amiSelectorTerms"] = terms
    assert rule_messages("gpu-ami-type", stack, "dev") == messages


def test_gpu_ami_type_passes_cpu_nodepools_and_classes_it_cannot_see() -> None:
    stack = karpenter_stack("dev")
    inputs(stack, "ms-karpenter-nodeclass")["spec"]["amiSelectorTerms"] = [{"alias": "windows2022@latest"}]
    pool(stack)["spec"]["template"]["spec"]["requirements"][0]["values"] = ["m7i.xlarge"]
    assert rule_messages("gpu-ami-type", stack, "dev") == []
    stack = karpenter_stack("dev")
    pool(stack)["spec"]["template"]["spec"]["nodeClassRef"]["name"] = "managed-elsewhere"
    assert rule_messages("gpu-ami-type", stack, "dev") == []


@pytest.mark.parametrize("env,change,messages", [
    ("prod", {"replicas": 2}, []),
    ("dev", {"budgets": [{"nodes": "0", "schedule": "0 9 * * mon-fri", "duration": "8h"}]}, []),
    ("dev", {"budgets": [{"nodes": "0", "reasons": ["Drifted", "Underutilized"]}]}, []),
    ("dev", {"budgets": [{"nodes": "0", "reasons": ["Empty"]}]},
     ["a disruption budget of 0 nodes without a schedule keeps empty nodes"]),
    ("dev", {"replicas": 2}, ["spec.replicas is 2: a static NodePool keeps its nodes when idle; leave replicas unset"]),
    ("staging", {"consolidateAfter": "Never"},
     ["spec.disruption.consolidateAfter is Never: empty nodes are not removed until they expire"]),
])
def test_gpu_scale_to_zero_flags_nodepools_that_keep_idle_nodes(env: str, change: dict[str, Any], messages: list[str]) -> None:
    stack = karpenter_stack(env)
    spec = pool(stack)["spec"]
    if "replicas" in change:
        spec["replicas"] = change["replicas"]
    else:
        spec["disruption"].update(change)
    assert rule_messages("gpu-scale-to-zero", stack, env) == messages


def test_gpu_scale_to_zero_leaves_cpu_nodepools_alone() -> None:
    stack = karpenter_stack("dev")
    pool(stack)["spec"]["template"]["spec"]["requirements"][0]["values"] = ["m7i.xlarge"]
    pool(stack)["spec"]["replicas"] = 2
    assert rule_messages("gpu-scale-to-zero", stack, "dev") == []

def test_disruption_budget_is_a_prod_rule() -> None:
    stack = good_stack("dev") + karpenter_resources("dev")
    pool(stack)["spec"]["disruption"]["budgets"] = [{"nodes": "50%"}]
    assert run_plain(RULES_BY_ID["nodepool-disruption-budget"], stack, "dev") == []


@pytest.mark.parametrize("rule_id,env,case,mutate", CASES, ids=[f"{c[0]}: {c[2]}" for c in CASES])
def test_rule_fails_on_broken_stack(rule_id: str, env: str, case: str, mutate: Callable[[Stack], None]) -> None:
    rule = RULES_BY_ID[rule_id]
    stack = broken(env, mutate)
    plain = run_plain(rule, stack, env)
    assert plain, f"{rule_id} did not fire for: {case}"
    # The pack reports the rule's messages verbatim (Pulumi prefixes the description itself).
    assert sorted(run_pack(rule, stack, env)) == sorted(plain)
    assert run_plain(rule, good_stack(env), env) == []


def test_pack_wrappers_are_the_right_policy_kind_and_level() -> None:
    for rule in engine.rules():
        policy = POLICIES_BY_ID[rule.id]
        kind = StackValidationPolicy if rule.scope == "stack" else ResourceValidationPolicy
        assert isinstance(policy, kind)
        assert policy.enforcement_level.value == rule.level
        assert policy.config_schema is not None and "environment" in policy.config_schema.properties
        assert set(rule.params) <= set(policy.config_schema.properties)


def test_pack_takes_environment_from_config_else_from_resource_tags() -> None:
    rule = RULES_BY_ID["eks-private-endpoint"]
    stack = broken("prod", at("ms-cluster", "endpointPublicAccess", True))
    assert run_pack(rule, stack, None)                      # tag environment=prod
    assert run_pack(rule, stack, "dev") == []               # config wins over the tag
    dev_tagged = broken("dev", at("ms-cluster", "endpointPublicAccess", True))
    assert run_pack(rule, dev_tagged, None) == []
    assert run_pack(rule, dev_tagged, "prod")


def test_pack_reads_thresholds_from_policy_config() -> None:
    rule = RULES_BY_ID["max-nodes-per-group"]
    stack = good_stack("dev")  # the GPU group's maxSize is 4
    assert run_pack(rule, stack, "dev") == []
    assert run_pack(rule, stack, "dev", {"max_nodes": {"dev": 3}})


def unknown_everywhere(value: Any, depth: int) -> Any:
    if depth == 0:
        return UNKNOWN_STRING_VALUE
    if isinstance(value, dict):
        return {k: unknown_everywhere(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        return [unknown_everywhere(v, depth - 1) for v in value]
    return UNKNOWN_STRING_VALUE


@pytest.mark.parametrize("depth", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
def test_unknown_values_are_skipped_not_reported_and_do_not_crash(depth: int) -> None:
    """At preview, outputs of resources not yet created are unknown; a rule skips them."""
    for env in ("dev", "prod"):
        stack = good_stack(env) + karpenter_resources(env)
        for r in stack:
            r["inputs"] = unknown_everywhere(r["inputs"], depth) if depth else {
                k: UNKNOWN_STRING_VALUE for k in r["inputs"]}
        for rule in engine.rules():
            assert run_pack(rule, stack, env) == [], (rule.id, depth)
        assert [v for v in evaluate(stack, None, env) if v.level == "mandatory"] == []


def test_missing_inputs_do_not_crash() -> None:
    stack = [dict(r, inputs={}) for r in good_stack("prod") + karpenter_resources("prod")]
    for rule in engine.rules():
        run_plain(rule, stack, "prod")
        run_pack(rule, stack, "prod")


def test_bad_fixture_violates_every_category_with_mandatory_rules() -> None:
    resources = json.loads(FIXTURE.read_text())
    violations = evaluate(resources, None, "prod")
    assert has_mandatory(violations)
    mandatory = [v for v in violations if v.level == "mandatory"]
    assert {v.category for v in mandatory} == {"security", "reliability", "cost"}
    assert {v.policy for v in mandatory} >= {
        "eks-private-endpoint", "iam-no-wildcard-actions", "readiness-probe", "min-replicas",
        "gpu-instance-families", "max-nodes-per-group", "cost-allocation-tags"}
    for v in violations:
        assert set(v.to_json()) >= {"policy", "resource", "message", "level"}
        assert v.resource.startswith("urn:pulumi:prod::")


def test_bad_fixture_is_the_builders_output() -> None:
    assert json.loads(FIXTURE.read_text()) == bad_stack()


def test_engine_cli_exits_1_on_the_bad_fixture(capsys: pytest.CaptureFixture[str]) -> None:
    assert engine.main(["check", str(FIXTURE), "--environment", "prod"]) == 1
    out = capsys.readouterr().out
    assert "[mandatory] eks-private-endpoint" in out


def test_an_ec2_node_class_without_metadata_options_gets_karpenters_imdsv2_default():
    stack = good_stack("dev") + karpenter_resources("dev")
    inputs(stack, "ms-karpenter-nodeclass")["spec"].pop("metadataOptions")
    assert run_plain(RULES_BY_ID["nodes-imdsv2"], stack, "dev") == []


def test_wildcard_actions_pass_in_dev_where_models_opt_in() -> None:
    # A model's `aws.allow_wildcard_actions` is for exploring in dev; staging and prod flag the same document.
    from modelstack.policies.security import iam_no_wildcard_actions
    from modelstack.policies.rule import Context
    props = {"policy": json.dumps(allow("s3:*")), "tags": {}}
    ctx = lambda env: Context(env, {"exceptions": [], "allowed_environments": ["dev"]})  # noqa: E731
    assert list(iam_no_wildcard_actions("aws:iam/rolePolicy:RolePolicy", props, ctx("dev"))) == []
    assert list(iam_no_wildcard_actions("aws:iam/rolePolicy:RolePolicy", props, ctx("staging"))) == [
        "policy statement 0 allows wildcard action 's3:*'"]


def test_nodepool_rules_are_pinned_to_the_karpenter_crds() -> None:
    """The facts the NodePool rules read, in the v1.14.1 CRDs: alias families (each one classified as having an
    accelerator variant or not), spec.replicas (static pools), the Never consolidation and the Empty budget reason."""
    import re

    import yaml

    from crd_schema import crd_path
    from modelstack.policies.reliability import ACCELERATED_ALIAS_FAMILIES

    classes = crd_path("karpenter", "v1.14.1", "karpenter.k8s.aws_ec2nodeclasses.yaml").read_text()
    listed = re.search(r"self\.split\('@'\)\[0\] in \[([^\]]*)\]", classes.replace("''", "'"))
    assert listed, "the alias family rule moved in the EC2NodeClass CRD"
    families = set(re.findall(r"'([a-z0-9]+)'", listed.group(1)))
    accelerated_families = set(ACCELERATED_ALIAS_FAMILIES["gpu"]) | set(ACCELERATED_ALIAS_FAMILIES["neuron"])
    assert accelerated_families <= families
    assert families - accelerated_families == {"windows2019", "windows2022", "windows2025"}

    pools = yaml.safe_load(crd_path("karpenter", "v1.14.1", "karpenter.sh_nodepools.yaml").read_text())
    spec = pools["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert {"replicas", "limits", "disruption", "template"} <= set(spec)
    disruption = spec["disruption"]["properties"]
    assert "Never" in disruption["consolidateAfter"]["pattern"]
    assert "Empty" in disruption["budgets"]["items"]["properties"]["reasons"]["items"]["enum"]
