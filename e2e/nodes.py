"""kwok Node objects standing in for the prod node groups: the labels, taints and capacity ours would carry.

Labels and taints come from modelstack's own node_templates (what NodeGroup gives EKS) plus what EKS adds
(capacityType, nodegroup name, zone, instance type). Capacity is the primary instance type's allocatable CPU and
memory from modelstack's instance catalog, and nvidia.com/gpu on GPU groups. cluster-autoscaler does not run here,
so every group gets NODES_PER_ZONE nodes in each of the three zones up front.
"""

from __future__ import annotations

from modelstack.capacity import pricing
from modelstack.config.schema import Platform
from modelstack.planner.capacity import CapacityPlan, NodeGroupPlan
from modelstack.render import labels, node_templates

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
NODES_PER_ZONE = 2
KWOK_ANNOTATION = {"kwok.x-k8s.io/node": "fake"}


def node_name(group: str, zone: str, i: int) -> str:
    return f"{group}-{zone[-1]}-{i}"


def group_nodes(p: Platform, g: NodeGroupPlan) -> list[dict]:
    cat = pricing.catalog()
    it = g.primary if not isinstance(g.primary, str) else cat[g.primary]
    eks_name = p.config.cluster.node_group_name(g.name)
    base_labels = node_templates.node_labels(eks_name, g.pool, g.kind, dict(g.config.labels))
    taints = node_templates.node_taints(g.kind, [t.model_dump() for t in g.config.taints])
    cpu_m = it.alloc_cpu_millicores or it.vcpu * 1000
    mem_mi = int((it.alloc_memory_gib or it.memory_gib * 0.9) * 1024)
    capacity = {"cpu": f"{cpu_m}m", "memory": f"{mem_mi}Mi", "pods": str(it.max_pods or 110),
                "ephemeral-storage": "100Gi"}
    if g.kind == "gpu" and it.gpu_count:
        capacity[labels.GPU_RESOURCE] = str(it.gpu_count)
    out = []
    for zone in ZONES:
        for i in range(NODES_PER_ZONE):
            name = node_name(g.name, zone, i)
            out.append({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {
                    "name": name, "annotations": dict(KWOK_ANNOTATION),
                    "labels": {**base_labels,
                               labels.CAPACITY_TYPE_LABEL: g.capacity_type,
                               labels.EKS_NODEGROUP_LABEL: eks_name,
                               labels.ZONE_LABEL: zone, "topology.kubernetes.io/region": zone[:-1],
                               labels.INSTANCE_TYPE_LABEL: it.name,
                               "kubernetes.io/arch": it.arch or "amd64", "kubernetes.io/os": "linux",
                               "kubernetes.io/hostname": name, "type": "kwok"},
                },
                "spec": {"taints": [dict(t) for t in taints]},
                "status": {"allocatable": capacity, "capacity": capacity,
                           "nodeInfo": {"architecture": it.arch or "amd64", "operatingSystem": "linux",
                                        "kubeletVersion": "fake", "kubeProxyVersion": "fake"}},
            })
    return out


def all_nodes(p: Platform, capacity: CapacityPlan) -> list[dict]:
    return [n for g in capacity.groups for n in group_nodes(p, g)]
