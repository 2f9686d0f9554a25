"""Recorded-resource stacks for the policy tests: one that follows every modelstack convention, and the
deliberately bad one written to ``tests/fixtures/bad_resources.json``.

Resources have the shape ``modelstack plan`` records: ``{"urn", "type", "name", "parent", "inputs"}``
with inputs camelCase as the Pulumi engine registers them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

MODEL_API = "modelstack:index:ModelAPI"
CLUSTER_COMPONENT = "modelstack:index:ModelCluster"
ACCOUNT = "123456789012"


def urn(env: str, chain: list[str], name: str) -> str:
    return f"urn:pulumi:{env}::modelstack::{'$'.join(chain)}::{name}"


def record(env: str, type_: str, name: str, inputs: dict[str, Any], owner: str | None = None,
           owner_name: str = "") -> dict[str, Any]:
    chain = [owner, type_] if owner else [type_]
    parent = urn(env, [owner], owner_name) if owner else None
    return {"urn": urn(env, chain, name), "type": type_, "name": name, "parent": parent, "inputs": inputs}


def tags(env: str, model: str | None = None) -> dict[str, str]:
    t = {"environment": env, "team": "ml-platform", "managed-by": "modelstack"}
    if model:
        t["model"] = model
    return t


def k8s_labels(env: str, model: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": model, "app.kubernetes.io/managed-by": "modelstack",
            "modelstack.io/model": model, "modelstack.io/team": "ml-platform", "modelstack.io/environment": env}


def container(image: str) -> dict[str, Any]:
    return {
        "name": "server", "image": image,
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                            "capabilities": {"drop": ["ALL"]}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
        "resources": {"requests": {"cpu": "3", "memory": "12Gi", "nvidia.com/gpu": "1"},
                      "limits": {"memory": "12Gi", "nvidia.com/gpu": "1"}},
    }


def deployment(env: str, model: str, name: str, replicas: int, node_group: str, *, floor: bool = False,
               spot: bool = False) -> dict[str, Any]:
    meta_labels = k8s_labels(env, model) | ({"modelstack.io/capacity": "on-demand"} if floor else {})
    pod_labels = {"app.kubernetes.io/name": model, "modelstack.io/model": model,
                  "modelstack.io/team": "ml-platform", "modelstack.io/environment": env}
    node_terms = [{"key": "modelstack.io/node-group", "operator": "In", "values": [node_group]}]
    if floor:
        node_terms = [{"key": "eks.amazonaws.com/capacityType", "operator": "In", "values": ["ON_DEMAND"]}]
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "models", "labels": meta_labels,
                     "annotations": {"modelstack.io/capacity": "spot"} if spot else {}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": model}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "serviceAccountName": model,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                    "containers": [container(f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{model}:1.4.2")],
                    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": node_terms}]}}},
                    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                                   "whenUnsatisfiable": "ScheduleAnyway",
                                                   "labelSelector": {"matchLabels": {"app.kubernetes.io/name": model}}}],
                },
            },
        },
    }


def good_stack(env: str) -> list[dict[str, Any]]:
    """A stack that passes every rule, advisory ones included, in ``env``."""
    model = "sentiment"
    key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd"
    oidc = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
    c = CLUSTER_COMPONENT
    autoscaler_policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Discover", "Effect": "Allow", "Resource": "*",
         "Action": ["autoscaling:Describe*", "ec2:Describe*", "eks:DescribeNodegroup"]},
        {"Sid": "Scale", "Effect": "Allow", "Resource": "*",
         "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
         "Condition": {"StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true"}}},
    ]}
    irsa_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": oidc}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            "oidc.eks.us-east-1.amazonaws.com/id/ABC:sub": f"system:serviceaccount:models:{model}",
            "oidc.eks.us-east-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com"}}}]}
    node_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    lt_tags = tags(env)
    node_group = lambda name, types, ami, capacity, mn, mx, taints: {  # noqa: E731
        "clusterName": "ms-cluster", "capacityType": capacity, "instanceTypes": types, "amiType": ami,
        "scalingConfig": {"minSize": mn, "maxSize": mx, "desiredSize": mn},
        "labels": {"modelstack.io/node-group": name}, "taints": taints,
        "launchTemplate": {"id": "lt-0abc", "version": "1"}, "updateConfig": {"maxUnavailablePercentage": 33},
        "tags": tags(env),
    }
    gpu_taint = [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    return [
        record(env, "aws:ec2/vpc:Vpc", "ms-vpc", {"cidrBlock": "10.0.0.0/16", "tags": tags(env)}, c, "ms"),
        record(env, "aws:ec2/subnet:Subnet", "ms-private-a",
               {"cidrBlock": "10.0.0.0/19", "vpcId": "vpc-1", "tags": tags(env)}, c, "ms"),
        record(env, "aws:kms/key:Key", "ms-secrets", {"enableKeyRotation": True, "tags": tags(env)}, c, "ms"),
        record(env, "eks:index:Cluster", "ms-cluster", {
            "endpointPrivateAccess": True, "endpointPublicAccess": False, "encryptionConfigKeyArn": key_arn,
            "version": "1.33", "tags": tags(env), "clusterTags": tags(env)}, c, "ms"),
        record(env, "aws:iam/role:Role", "ms-node-role",
               {"assumeRolePolicy": json.dumps(node_trust), "tags": tags(env)}, c, "ms"),
        record(env, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ms-node-worker",
               {"role": "ms-node-role", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"}, c, "ms"),
        record(env, "aws:iam/role:Role", "ms-autoscaler-role",
               {"assumeRolePolicy": json.dumps(irsa_trust), "tags": tags(env)}, c, "ms"),
        record(env, "aws:iam/policy:Policy", "ms-autoscaler",
               {"policy": json.dumps(autoscaler_policy), "tags": tags(env)}, c, "ms"),
        record(env, "kubernetes:helm.sh/v3:Release", "ms-autoscaler-release",
               {"chart": "cluster-autoscaler", "version": "9.53.0", "namespace": "kube-system",
                "repositoryOpts": {"repo": "https://kubernetes.github.io/autoscaler"}}, c, "ms"),
        record(env, "aws:ec2/launchTemplate:LaunchTemplate", "ms-gpu-a10g-lt", {
            "metadataOptions": {"httpTokens": "required", "httpEndpoint": "enabled", "httpPutResponseHopLimit": 2},
            "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {
                "volumeSize": 100, "volumeType": "gp3", "encrypted": "true", "iops": 3000, "throughput": 125}}],
            "tagSpecifications": [{"resourceType": "instance", "tags": lt_tags},
                                  {"resourceType": "volume", "tags": lt_tags}],
            "tags": tags(env)}, c, "ms"),
        record(env, "aws:eks/nodeGroup:NodeGroup", "ms-gpu-a10g",
               node_group("gpu-a10g", ["g5.xlarge"], "AL2023_x86_64_NVIDIA", "SPOT", 0, 4, gpu_taint), c, "ms"),
        record(env, "aws:eks/nodeGroup:NodeGroup", "ms-system",
               node_group("system", ["m6i.large"], "AL2023_x86_64_STANDARD", "ON_DEMAND", 2, 3, []), c, "ms"),
        record(env, "aws:autoscaling/tag:Tag", "ms-gpu-a10g-ca-label",
               {"autoscalingGroupName": "eks-gpu", "tag": {"key": "k8s.io/cluster-autoscaler/node-template/label/x",
                                                           "value": "y", "propagateAtLaunch": False}}, c, "ms"),
        record(env, "aws:iam/role:Role", f"{model}-irsa",
               {"assumeRolePolicy": json.dumps(irsa_trust), "tags": tags(env, model)}, MODEL_API, model),
        record(env, "kubernetes:core/v1:ServiceAccount", model,
               {"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": model, "namespace": "models", "labels": k8s_labels(env, model)}},
               MODEL_API, model),
        record(env, "kubernetes:apps/v1:Deployment", model,
               deployment(env, model, model, 2, "gpu-a10g", spot=True), MODEL_API, model),
        record(env, "kubernetes:apps/v1:Deployment", f"{model}-on-demand",
               deployment(env, model, f"{model}-on-demand", 1, "gpu-a10g", floor=True), MODEL_API, model),
        record(env, "kubernetes:core/v1:Service", model, {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": model, "namespace": "models", "labels": k8s_labels(env, model)},
            "spec": {"type": "ClusterIP", "selector": {"app.kubernetes.io/name": model},
                     "ports": [{"port": 80, "targetPort": 8080}]}}, MODEL_API, model),
        record(env, "kubernetes:policy/v1:PodDisruptionBudget", model, {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": model, "namespace": "models", "labels": k8s_labels(env, model)},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": model}}}},
            MODEL_API, model),
        record(env, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", model, {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": model, "namespace": "models", "labels": k8s_labels(env, model)},
            "spec": {"minReplicas": 2, "maxReplicas": 10,
                     "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": model}}},
            MODEL_API, model),
        record(env, "kubernetes:networking.k8s.io/v1:Ingress", model, {
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": model, "namespace": "models", "labels": k8s_labels(env, model), "annotations": {
                "alb.ingress.kubernetes.io/scheme": "internet-facing",
                "alb.ingress.kubernetes.io/inbound-cidrs": "203.0.113.0/24, 198.51.100.0/24",
                "alb.ingress.kubernetes.io/certificate-arn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/x",
                "alb.ingress.kubernetes.io/group.name": "models"}},
            "spec": {"ingressClassName": "alb", "rules": []}}, MODEL_API, model),
    ]


def karpenter_resources(env: str) -> list[dict[str, Any]]:
    """What cluster.provisioner karpenter adds: a spot GPU NodePool, the controller release, the spot warning rule."""
    c, owner = "modelstack:index:Karpenter", "ms-karpenter"
    node_pool = {
        "apiVersion": "karpenter.sh/v1", "kind": "NodePool",
        "metadata": {"name": "gpu-a10g", "labels": {"modelstack.io/environment": env}},
        "spec": {
            "template": {
                "metadata": {"labels": {"modelstack.io/node-pool": "gpu-a10g", "nvidia.com/gpu": "true"}},
                "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                         "requirements": [
                             {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["g5.xlarge"]},
                             {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}],
                         "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]}},
            "limits": {"cpu": "16", "memory": "64Gi", "nvidia.com/gpu": "4"},
            "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "15m",
                           "budgets": [{"nodes": "10%"}]},
        },
    }
    node_class = {
        "apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass",
        "metadata": {"name": "default", "labels": {"modelstack.io/environment": env}},
        "spec": {"role": "ms-karpenter-node", "amiSelectorTerms": [{"alias": "al2023@latest"}],
                 "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "ms"}}],
                 "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "ms"}}],
                 "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1},
                 "blockDeviceMappings": [{"deviceName": "/dev/xvda", "rootVolume": True, "ebs": {
                     "volumeSize": "100Gi", "volumeType": "gp3", "encrypted": True}}],
                 "tags": tags(env)},
    }
    return [
        record(env, "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "ms-karpenter-nodeclass", node_class, c, owner),
        record(env, "kubernetes:karpenter.sh/v1:NodePool", "ms-karpenter-gpu-a10g", node_pool, c, owner),
        record(env, "kubernetes:helm.sh/v3:Release", "ms-karpenter-release", {
            "chart": "oci://public.ecr.aws/karpenter/karpenter", "version": "1.14.1",
            "values": {"settings": {"clusterName": "ms", "interruptionQueue": "ms-karpenter"}}}, c, owner),
        record(env, "aws:cloudwatch/eventRule:EventRule", "ms-karpenter-spot-interruption", {
            "eventPattern": json.dumps({"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]}),
            "tags": tags(env)}, c, owner),
    ]


def find(stack: list[dict[str, Any]], name: str, type_suffix: str = "") -> dict[str, Any]:
    for r in stack:
        if r["name"] == name and r["type"].endswith(type_suffix):
            return r
    raise KeyError(name)


def pod(r: dict[str, Any]) -> dict[str, Any]:
    return r["inputs"]["spec"]["template"]["spec"]


def bad_stack() -> list[dict[str, Any]]:
    """A prod stack with at least one mandatory violation in every category."""
    stack = copy.deepcopy(good_stack("prod"))
    find(stack, "ms-cluster")["inputs"]["endpointPublicAccess"] = True                 # security
    find(stack, "ms-node-role")["inputs"]["inlinePolicies"] = [
        {"name": "everything", "policy": json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})}]                 # security
    find(stack, "sentiment", "HorizontalPodAutoscaler")["inputs"]["spec"]["minReplicas"] = 1  # reliability
    find(stack, "sentiment-on-demand", "Deployment")["inputs"]["spec"]["replicas"] = 0        # (no floor to add)
    del pod(find(stack, "sentiment", "Deployment"))["containers"][0]["readinessProbe"]  # reliability
    gpu = find(stack, "ms-gpu-a10g")["inputs"]
    gpu["instanceTypes"] = ["p3.2xlarge"]                                               # cost
    gpu["scalingConfig"]["maxSize"] = 500                                               # cost
    del find(stack, "ms-vpc")["inputs"]["tags"]["team"]                                 # cost
    return stack


def queue_resources(env: str) -> list[dict[str, Any]]:
    """What an AsyncModelAPI's ModelQueue adds (compliant): a queue with a DLQ, an encrypted, closed bucket."""
    c, owner = "modelstack:index:ModelQueue", "summarize-queue"
    dlq_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:summarize-queue-dlq"
    return [
        record(env, "aws:sqs/queue:Queue", "summarize-queue-dlq", {
            "sqsManagedSseEnabled": True, "tags": {**tags(env), "modelstack.io/queue-role": "dead-letter"}}, c, owner),
        record(env, "aws:sqs/queue:Queue", "summarize-queue-queue", {
            "sqsManagedSseEnabled": True, "tags": tags(env),
            "redrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})}, c, owner),
        record(env, "aws:s3/bucket:Bucket", "summarize-queue-bucket", {"tags": tags(env)}, c, owner),
        record(env, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
               "summarize-queue-bucket-encryption", {"bucket": "summarize-queue-bucket-id", "rules": [
                   {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}, "bucketKeyEnabled": True}]},
               c, owner),
        record(env, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "summarize-queue-bucket-public-access", {
            "bucket": "summarize-queue-bucket-id", "blockPublicAcls": True, "blockPublicPolicy": True,
            "ignorePublicAcls": True, "restrictPublicBuckets": True}, c, owner),
    ]
