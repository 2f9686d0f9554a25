"""Node group facts that cluster-autoscaler reads: ASG node-template tags and the priority expander ranking (pure).

Sources: kubernetes/autoscaler `cluster-autoscaler/cloudprovider/aws/README.md` (tag formats, "Scaling a node group
to 0") and `cluster-autoscaler/expander/priority/readme.md` (ConfigMap format: higher number wins, values are lists
of regexes matched against node group = ASG names).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Iterable, Mapping, Optional, Sequence, TypedDict

from modelstack.render import labels

TEMPLATE_PREFIX = "k8s.io/cluster-autoscaler/node-template"
GROUP_KINDS = ("system", "cpu", "gpu", "inferentia")
CAPACITY_TYPES = ("ON_DEMAND", "SPOT")
ARCHES = ("amd64", "arm64")



def ami_type(kind: str, arch: str = "amd64") -> str:
    """The EKS managed node group AMI type (AL2023 family) for a group kind and CPU architecture."""
    if kind not in GROUP_KINDS:
        raise ValueError(f"kind must be one of {', '.join(GROUP_KINDS)}, got {kind!r}")
    if arch not in ARCHES:
        raise ValueError(f"arch must be amd64 or arm64, got {arch!r}")
    a = "x86_64" if arch == "amd64" else "ARM_64"
    if kind == "gpu":
        return f"AL2023_{a}_NVIDIA"
    if kind == "inferentia":
        if arch != "amd64":
            raise ValueError("inferentia node groups are x86_64 only (AL2023_x86_64_NEURON)")
        return "AL2023_x86_64_NEURON"
    return f"AL2023_{a}_STANDARD"


def kind_labels(kind: str) -> dict[str, str]:
    """Labels a node group kind implies (GPU / Neuron nodes are labelled like Cortex did)."""
    if kind == "gpu":
        return {labels.GPU_RESOURCE: "true", labels.GPU_PRESENT_LABEL: "true"}
    if kind == "inferentia":
        return {labels.NEURON_RESOURCE: "true"}
    return {}


def kind_taints(kind: str) -> list[dict[str, Any]]:
    """Taints a node group kind implies: GPU/Neuron nodes repel pods that do not ask for them; system nodes repel models."""
    return {"gpu": [labels.GPU_TAINT], "inferentia": [labels.NEURON_TAINT], "system": [labels.SYSTEM_TAINT]}.get(kind, [])


def node_labels(node_group_name: str, node_pool: str, kind: str, extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """Every Kubernetes label a node of the group carries (EKS adds its own, e.g. capacityType, on top)."""
    out = {labels.NODE_GROUP_LABEL: node_group_name, labels.NODE_POOL_LABEL: node_pool}
    out.update(kind_labels(kind))
    out.update(extra or {})
    return out


def node_taints(kind: str, extra: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """Kind taints then user taints (Kubernetes spelling), without duplicate keys+effects."""
    out: list[dict[str, Any]] = []
    seen = set()
    for t in [*kind_taints(kind), *extra]:
        t = {"key": t["key"], "value": t.get("value", "") or "", "effect": t.get("effect", "NoSchedule")}
        k = (t["key"], t["effect"])
        if k not in seen:
            seen.add(k)
            out.append(t)
    return out


def template_tags(
    node_labels_: Mapping[str, str],
    taints: Sequence[Mapping[str, str]],
    capacity_type: str,
    kind: str,
    accelerator_count: int = 0,
    ephemeral_storage_gib: Optional[int] = None,
) -> dict[str, str]:
    """ASG tags telling cluster-autoscaler what a node of a group *at zero size* would look like.

    Managed node groups do not copy their labels/taints to the ASG, and `eks:DescribeNodegroup` is only consulted
    for groups that never had a node, so these tags are what makes scale-from-zero dependable.
    The auto-discovery tags (`k8s.io/cluster-autoscaler/enabled`, `k8s.io/cluster-autoscaler/<cluster>`) are
    *not* here: EKS puts them on every managed node group's ASG itself.
    """
    if capacity_type not in CAPACITY_TYPES:
        raise ValueError(f"capacity_type must be ON_DEMAND or SPOT, got {capacity_type!r}")
    tags = {f"{TEMPLATE_PREFIX}/label/{k}": v for k, v in node_labels_.items()}
    tags[f"{TEMPLATE_PREFIX}/label/{labels.CAPACITY_TYPE_LABEL}"] = capacity_type
    for t in taints:
        tags[f"{TEMPLATE_PREFIX}/taint/{t['key']}"] = f"{t.get('value', '')}:{t['effect']}"
    if accelerator_count:
        resource = {"gpu": labels.GPU_RESOURCE, "inferentia": labels.NEURON_RESOURCE}.get(kind)
        if resource is None:
            raise ValueError(f"accelerator_count is for gpu or inferentia groups, not {kind!r}")
        tags[f"{TEMPLATE_PREFIX}/resources/{resource}"] = str(accelerator_count)
    if ephemeral_storage_gib:
        tags[f"{TEMPLATE_PREFIX}/resources/ephemeral-storage"] = f"{ephemeral_storage_gib}Gi"
    return dict(sorted(tags.items()))


def tag_slug(key: str) -> str:
    """A resource-name-safe suffix for one template tag key: `label-modelstack-io-node-group`."""
    rest = key.removeprefix(TEMPLATE_PREFIX + "/")
    return re.sub(r"[^a-z0-9]+", "-", rest.lower()).strip("-")


def tag_slugs(keys: Iterable[str]) -> dict[str, str]:
    """key -> slug, refusing two keys that would give two resources the same name."""
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for k in keys:
        s = tag_slug(k)
        if s in seen:
            raise ValueError(f"tags {seen[s]!r} and {k!r} would share the resource name suffix {s!r}")
        seen[s] = k
        out[k] = s
    return out


# ------------------------------------------------------------------------------------ priority expander


class GroupRank(TypedDict):
    """One node group as the priority expander sees it."""

    name: str
    """The EKS managed node group name (its ASG is `eks-<name>-<uuid>`)."""
    priority: int
    """1-100 from config, higher preferred (Cortex semantics)."""
    capacity_type: str
    """ON_DEMAND or SPOT."""
    vcpu: float
    """vCPUs of the group's instance shape."""


_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


#: The EKS name of a managed node group is `<base>-<7 hex>`: the hex digits are a digest of the inputs whose
#: change replaces the group, so a replacement gets a new name and is created before the old group is deleted
#: (EKS allows a name once per cluster). EKS names are at most 63 characters, so a base at most 55.
NAME_DIGEST = 7
EKS_NAME_MAX = 63
BASE_NAME_MAX = EKS_NAME_MAX - NAME_DIGEST - 1


def eks_node_group_name(base: str, replacing_inputs: dict[str, Any]) -> str:
    """`<base>-<digest>` of the inputs that replace the group (instance and capacity types, AMI, subnets, role,
    cluster, launch template): unchanged while none of them changes."""
    digest = hashlib.sha256(json.dumps(replacing_inputs, sort_keys=True, default=str).encode()).hexdigest()
    return f"{base}-{digest[:NAME_DIGEST]}"


def asg_name_regex(node_group_name: str) -> str:
    """Matches exactly the ASG EKS creates for the managed node group of base name `node_group_name`
    (`eks-<base>-<digest>-<uuid>`), whatever its digest.

    Anchored with the digest and the UUID so `gpu` does not also match `gpu-on-demand`'s ASG.
    """
    return f"^eks-{re.escape(node_group_name)}-[0-9a-f]{{{NAME_DIGEST}}}-{_UUID}$"


def expander_score(priority: int, capacity_type: str, vcpu: float) -> int:
    """The expander number of a group: config priority first, then spot over on-demand, then smaller over larger.

    `priority * 1000 + (500 if spot) + (499 - vcpu)`: each term is smaller than the step of the one before, so
    the ordering is lexicographic and the number stays readable in the ConfigMap.
    """
    if not 1 <= priority <= 100:
        raise ValueError(f"priority must be 1-100, got {priority}")
    if capacity_type not in CAPACITY_TYPES:
        raise ValueError(f"capacity_type must be ON_DEMAND or SPOT, got {capacity_type!r}")
    size = 499 - min(int(round(vcpu)), 499)
    return priority * 1000 + (500 if capacity_type == "SPOT" else 0) + size


#: Lowest rank, for ASGs this stack did not declare: still usable, never preferred.
FALLBACK_PRIORITY = 1
FALLBACK_REGEX = ".*"


def expander_priorities(groups: Sequence[GroupRank]) -> dict[int, list[str]]:
    """The priority expander's `priorities` map: score -> ASG-name regexes; equal scores share a tier
    (cluster-autoscaler then breaks the tie with the next expander, least-waste)."""
    names = [g["name"] for g in groups]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"node group names must be unique, repeated: {', '.join(dupes)}")
    out: dict[int, list[str]] = {}
    for g in sorted(groups, key=lambda g: g["name"]):
        out.setdefault(expander_score(g["priority"], g["capacity_type"], g["vcpu"]), []).append(asg_name_regex(g["name"]))
    out[FALLBACK_PRIORITY] = [FALLBACK_REGEX]
    return dict(sorted(out.items(), reverse=True))


def render_expander_config(priorities: Mapping[int, Sequence[str]]) -> str:
    """The ConfigMap `priorities` text (YAML), as the chart would render it; for review and snapshots."""
    lines = []
    for score, regexes in sorted(priorities.items(), reverse=True):
        lines.append(f"{score}:")
        lines.extend(f"  - '{r}'" for r in regexes)
    return "\n".join(lines) + "\n"


#: The MIME part type nodeadm (AL2023) reads a NodeConfig from in a node's user data.
NODEADM_CONTENT_TYPE = "application/node.eks.aws"
_BOUNDARY = "MODELSTACK"


#: Where nodeadm's `setup-local-disks` mounts the instance stores' RAID (its default `--dir` /mnt/k8s-disks, the
#: array at `<dir>/0`; awslabs/amazon-eks-ami `templates/al2023/runtime/bin/setup-local-disks`, data/UPSTREAM.md).
RAID_MOUNT = "/mnt/k8s-disks/0"
#: The node-wide LLM weight cache: one folder per model and weights on the RAID, shared by the pods of the node.
WEIGHTS_CACHE_ROOT = f"{RAID_MOUNT}/modelstack-weights"
#: Who owns it: the UID every model container runs as (ModelAPI's run_as_user default), so the weights' init
#: container, which runs as that user, can write there; other users may read (mode 0755).
WEIGHTS_CACHE_UID = 10001
#: The kubelet drop-in that makes the cache folder before the kubelet starts (so after the RAID is mounted).
WEIGHTS_CACHE_DROP_IN = "/etc/systemd/system/kubelet.service.d/90-modelstack-weights.conf"
SHELL_CONTENT_TYPE = 'text/x-shellscript; charset="us-ascii"'


def weights_cache_script(uid: int = WEIGHTS_CACHE_UID) -> str:
    """A user-data shell script that has the kubelet create WEIGHTS_CACHE_ROOT, owned by `uid`, each time it starts.

    Why a kubelet drop-in, not a mkdir here: cloud-init runs this script before nodeadm's run phase, which mounts the
    instance stores' RAID at RAID_MOUNT (the `local-disk` aspect of `nodeadm init`'s run phase, after cloud-final);
    a folder made now would be hidden under that mount. The kubelet is started by the same run phase, after the disks
    (data/UPSTREAM.md, "LLM weights")."""
    return "\n".join([
        "#!/bin/bash", "set -euo pipefail", f"mkdir -p {WEIGHTS_CACHE_DROP_IN.rsplit('/', 1)[0]}",
        f"cat > {WEIGHTS_CACHE_DROP_IN} <<'EOF'", "[Service]",
        f"ExecStartPre=/usr/bin/install -d -o {uid} -g {uid} -m 0755 {WEIGHTS_CACHE_ROOT}", "EOF",
        "systemctl daemon-reload", ""])


def _mime(parts: Sequence[tuple[str, str]]) -> str:
    out = ["MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{_BOUNDARY}"', ""]
    for content_type, body in parts:
        out += [f"--{_BOUNDARY}", f"Content-Type: {content_type}", "", body.rstrip("\n"), ""]
    return "\n".join([*out, f"--{_BOUNDARY}--", ""])


def weights_cache_user_data() -> str:
    """An EC2NodeClass's `userData` (MIME multipart; Karpenter v1.14.1 puts these parts first and its own NodeConfig
    last, aws/karpenter-provider-aws `pkg/providers/amifamily/bootstrap/nodeadm.go`): the cache folder's script."""
    return _mime([(SHELL_CONTENT_TYPE, weights_cache_script())])


def instance_store_user_data(strategy: str = "RAID0", weights_cache: bool = False) -> str:
    """Launch-template user data (MIME multipart, which EKS merges with its own for a managed node group) with a
    nodeadm NodeConfig whose `spec.instance.localStorage.strategy` puts the instance-store NVMe volumes in one
    RAID 0 for the kubelet and containerd: the managed node group equivalent of Karpenter's instanceStorePolicy.
    awslabs/amazon-eks-ami `nodeadm/api/v1alpha1/nodeconfig_types.go` (LocalStorageStrategy RAID0, RAID10, Mount).
    With `weights_cache`, then the script that prepares the node-wide weight cache on that RAID
    (`weights_cache_script`). Default without."""
    if strategy not in ("RAID0", "RAID10", "Mount"):
        raise ValueError(f"instance store strategy {strategy!r}: RAID0, RAID10 or Mount")
    node_config = "\n".join(["---", "apiVersion: node.eks.aws/v1alpha1", "kind: NodeConfig", "spec:", "  instance:",
                             "    localStorage:", f"      strategy: {strategy}"])
    return _mime([(NODEADM_CONTENT_TYPE, node_config),
                  *([(SHELL_CONTENT_TYPE, weights_cache_script())] if weights_cache else [])])
