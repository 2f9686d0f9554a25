"""Helm values for the platform charts (pure; keys checked against each chart's values.yaml at the pinned version).

Charts: cluster-autoscaler 9.46.6 (kubernetes/autoscaler), metrics-server 3.12.2 (kubernetes-sigs/metrics-server),
aws-load-balancer-controller 1.13.3 (aws/eks-charts), keda 2.17.2 and keda-add-ons-http 0.10.0 (kedacore/charts),
nvidia-device-plugin 0.17.1 (NVIDIA/k8s-device-plugin).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from . import labels

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
CRITICAL_ADDONS_ONLY = {"key": "CriticalAddonsOnly", "operator": "Exists"}


def system_placement(system_pool: str) -> dict[str, Any]:
    """Run on the system pool and tolerate its taint (every platform add-on)."""
    return {
        "nodeSelector": {labels.NODE_POOL_LABEL: system_pool},
        "tolerations": [CRITICAL_ADDONS_ONLY, labels.k8s_taint(labels.SYSTEM_TAINT)],
    }


def cluster_autoscaler(
    cluster_name: str,
    region: str,
    role_arn: str,
    priorities: Mapping[int, Sequence[str]],
    system_pool: str,
    service_account: str = "cluster-autoscaler",
    image_tag: Optional[str] = None,
    scale_down_unneeded_time: str = "10m",
    scale_down_delay_after_add: str = "10m",
    expendable_pods_priority_cutoff: int = -10,
) -> dict[str, Any]:
    """cluster-autoscaler: ASG auto-discovery by the EKS-managed tags, priority expander (least-waste on ties)."""
    values: dict[str, Any] = {
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster_name},
        "rbac": {"serviceAccount": {"create": True, "name": service_account, "annotations": {IRSA_ANNOTATION: role_arn}}},
        "extraArgs": {
            "expander": "priority,least-waste",
            # Never balance a spot group with its on-demand twin (that would split scale-ups between them and
            # defeat spot-first): they differ in capacityType and node-group labels, so they are not "similar".
            "balance-similar-node-groups": True,
            "skip-nodes-with-system-pods": False,
            "skip-nodes-with-local-storage": False,
            "scale-down-unneeded-time": scale_down_unneeded_time,
            "scale-down-delay-after-add": scale_down_delay_after_add,
            "expendable-pods-priority-cutoff": expendable_pods_priority_cutoff,
        },
        # Chart template: `{{ $k | int }}:` per key; string keys because Helm values are JSON objects.
        "expanderPriorities": {str(k): list(v) for k, v in priorities.items()},
        "priorityClassName": "system-cluster-critical",
        **system_placement(system_pool),
    }
    if image_tag:
        values["image"] = {"tag": image_tag}
    return values


def metrics_server(system_pool: str) -> dict[str, Any]:
    return {"replicas": 2, **system_placement(system_pool)}


def load_balancer_controller(cluster_name: str, region: str, vpc_id: str, role_arn: str, system_pool: str,
                             service_account: str = "aws-load-balancer-controller") -> dict[str, Any]:
    """Region and VPC are given explicitly: with IMDS hop limit 1 the controller cannot look them up.

    The Service mutator webhook is off. The chart (1.13.3) registers `mservice.elbv2.k8s.aws` on every Service
    CREATE with failurePolicy Fail; it only matters for type LoadBalancer Services, which modelstack does not make.
    Left on, every Service in the cluster fails to create while the controller's pods are not ready: the KEDA,
    metrics-server and cluster-autoscaler releases install in parallel with this one and race it.
    """
    return {
        "clusterName": cluster_name,
        "enableServiceMutatorWebhook": False,
        "region": region,
        "vpcId": vpc_id,
        "replicaCount": 2,
        "serviceAccount": {"create": True, "name": service_account, "annotations": {IRSA_ANNOTATION: role_arn}},
        **system_placement(system_pool),
    }


def keda(system_pool: str) -> dict[str, Any]:
    return system_placement(system_pool)


def keda_http_add_on(system_pool: str) -> dict[str, Any]:
    """The operator, scaler and interceptor (the proxy counting in-flight requests) all on the system pool."""
    p = system_placement(system_pool)
    return {"operator": dict(p), "scaler": dict(p), "interceptor": dict(p)}


def nvidia_device_plugin() -> dict[str, Any]:
    """Runs on GPU nodes only: the chart's default affinity matches `nvidia.com/gpu.present=true`, which our GPU
    node groups set (no node-feature-discovery needed); tolerates the GPU taint."""
    return {
        "nodeSelector": {labels.GPU_PRESENT_LABEL: "true"},
        "tolerations": [CRITICAL_ADDONS_ONLY, labels.k8s_taint(labels.GPU_TAINT)],
    }


def coredns_configuration(system_pool: str) -> dict[str, Any]:
    """coredns managed add-on configuration: on the system pool, or it would stay Pending while model groups are at 0."""
    return {"replicaCount": 2, **system_placement(system_pool)}
