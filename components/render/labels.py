"""Label, taint and annotation keys shared by node groups, autoscalers and model APIs.

One place, so a node group's labels and a model's selectors cannot drift apart.
"""

from typing import Any, Iterable, Mapping

NODE_GROUP_LABEL = "modelstack.io/node-group"
"""Every node carries the name of the managed node group it belongs to."""
NODE_POOL_LABEL = "modelstack.io/node-pool"
"""A spot group and its on-demand fallback group share one pool name; models select the pool."""
CAPACITY_TYPE_LABEL = "eks.amazonaws.com/capacityType"
"""Set by EKS on managed nodes: SPOT or ON_DEMAND."""
ZONE_LABEL = "topology.kubernetes.io/zone"
EKS_NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"
"""Set by EKS on nodes of a managed node group: its name (also on clusters modelstack did not build)."""
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
"""On GPU nodes, so the nvidia-device-plugin chart's default node affinity selects them (the label is normally set by
node-feature-discovery, which modelstack does not run)."""

GPU_RESOURCE = "nvidia.com/gpu"
NEURON_RESOURCE = "aws.amazon.com/neuron"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
NEURON_TAINT = {"key": "aws.amazon.com/neuron", "value": "true", "effect": "NoSchedule"}
SYSTEM_TAINT = {"key": "modelstack.io/system", "value": "true", "effect": "NoSchedule"}
"""Keeps model pods off the system group; platform add-ons tolerate it."""

MODEL_LABEL = "modelstack.io/model"
TEAM_LABEL = "modelstack.io/team"
ENVIRONMENT_LABEL = "modelstack.io/environment"
CAPACITY_LABEL = "modelstack.io/capacity"
"""On a model's pods and Deployments: 'spot' for the autoscaled Deployment on a spot pool, 'on-demand' for its floor."""
MANAGED_BY = {"app.kubernetes.io/managed-by": "modelstack"}

# AWS tags (cost allocation): every taggable resource carries these.
TAG_ENVIRONMENT = "environment"
TAG_TEAM = "team"
TAG_MODEL = "model"
TAG_MANAGED_BY = "managed-by"


def base_tags(environment: str, team: str, extra: dict[str, Any] | None = None) -> dict[str, str]:
    """Cost-allocation tags for an AWS resource (add `model` for one that belongs to a model)."""
    tags = {TAG_ENVIRONMENT: environment, TAG_TEAM: team, TAG_MANAGED_BY: "modelstack"}
    tags.update(extra or {})
    return tags


def k8s_taint(t: dict[str, Any]) -> dict[str, Any]:
    """A Kubernetes taint as a toleration that matches it exactly."""
    return {"key": t["key"], "operator": "Equal", "value": t["value"], "effect": t["effect"]}


def tolerations_for(taints: Iterable[Mapping[str, Any]], *base: dict[str, Any]) -> list[dict[str, Any]]:
    """`base` tolerations, then one exact toleration for each taint (key, value, effect; value "" when absent) that no
    earlier toleration already matches (Kubernetes' rule: same key or none, same effect or none, Exists or the same
    value)."""
    out = [dict(b) for b in base]
    for t in taints:
        tol = k8s_taint({"key": t["key"], "value": t.get("value", "") or "", "effect": t.get("effect", "NoSchedule")})
        if not any(_tolerates(b, tol) for b in out):
            out.append(tol)
    return out


def _tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    if toleration.get("key") not in (None, taint["key"]) or toleration.get("effect") not in (None, taint["effect"]):
        return False
    return toleration.get("operator") == "Exists" or toleration.get("value", "") == taint["value"]


def eks_taint(t: dict[str, Any]) -> dict[str, Any]:
    """A taint in the EKS NodeGroup API spelling (NO_SCHEDULE)."""
    effect = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}[t["effect"]]
    return {"key": t["key"], "value": t["value"], "effect": effect}
