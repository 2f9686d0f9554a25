"""What an offline plan shows: a summary for people, `plan.json` for machines, manifests as YAML for review.

Node groups and models are read back from the recorded resources (what the program really registered),
not from the config, so the plan proves the program.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

from modelstack.render import labels
from modelstack.capacity import pricing
from .mocks import Recorded

BANNER = ("OFFLINE PLAN: the stack program ran under Pulumi's in-process mocks. Nothing was sent to AWS or "
          "Kubernetes; this is not a `pulumi preview`.")

_K8S_SKIP = ("pulumi:providers:", "kubernetes:helm.sh/")


def is_k8s_object(r: Recorded) -> bool:
    return r.type.startswith("kubernetes:") and not r.type.startswith(_K8S_SKIP)


def component_of(r: Recorded, by_urn: dict[str, Recorded]) -> Optional[Recorded]:
    """The nearest ancestor that is a component (not a custom resource)."""
    p = by_urn.get(r.parent or "")
    while p is not None and (p.custom or p.remote):
        p = by_urn.get(p.parent or "")
    return p


def node_groups(resources: list[Recorded]) -> list[dict]:
    cat = pricing.catalog()
    out = []
    for r in resources:
        if r.type != "aws:eks/nodeGroup:NodeGroup":
            continue
        i = r.inputs
        types = list(i.get("instanceTypes") or [])
        sc = i.get("scalingConfig") or {}
        gpu = cat[types[0]].gpu_count if types and types[0] in cat else 0
        lab = i.get("labels") or {}
        out.append({
            "name": i.get("nodeGroupName") or r.name,
            "pool": lab.get(labels.NODE_POOL_LABEL),
            "instance_types": types,
            "capacity_type": i.get("capacityType", "ON_DEMAND"),
            "min_size": sc.get("minSize"),
            "max_size": sc.get("maxSize"),
            "gpu": gpu,
            "ami_type": i.get("amiType"),
            "taints": i.get("taints") or [],
            "version": i.get("version"),
        })
    return out


def _pools(spec: dict) -> list[str]:
    terms = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for t in terms:
        for e in t.get("matchExpressions") or []:
            if e.get("key") == labels.NODE_POOL_LABEL:
                return list(e.get("values") or [])
    sel = (spec.get("nodeSelector") or {}).get(labels.NODE_POOL_LABEL)
    return [sel] if sel else []


#: KEDA trigger types as the config's autoscaling signal names them.
_SIGNALS = {"external-push": "in_flight", "prometheus": "prometheus"}


def models(resources: list[Recorded]) -> list[dict]:
    """Each model's placement, replica range and per-replica requests, read from its registered objects."""
    deployments: dict[str, list[dict]] = defaultdict(list)
    scalers: dict[str, dict] = {}
    paths: dict[str, str] = {}
    for r in resources:
        body = r.inputs
        kind = body.get("kind")
        meta = body.get("metadata") or {}
        model = (meta.get("labels") or {}).get(labels.MODEL_LABEL)
        if kind == "Deployment" and model:
            deployments[model].append(body)
        elif kind == "Ingress" and model:
            rules = (body.get("spec") or {}).get("rules") or [{}]
            found = [p.get("path") for p in ((rules[0].get("http") or {}).get("paths") or [])]
            if found:
                paths[model] = found[0]
        elif kind in ("ScaledObject", "HorizontalPodAutoscaler"):
            spec = body.get("spec") or {}
            target = (spec.get("scaleTargetRef") or {}).get("name")
            triggers = [t.get("type") for t in spec.get("triggers") or []]
            if target:
                scalers[target] = {"kind": kind, "min": spec.get("minReplicaCount", spec.get("minReplicas")),
                                   "max": spec.get("maxReplicaCount", spec.get("maxReplicas")),
                                   "signal": ", ".join(_SIGNALS.get(t, t) for t in triggers) or "cpu (HPA)"}
    out = []
    for model, deps in deployments.items():
        floor = [d for d in deps if ((d.get("metadata") or {}).get("labels") or {}).get(labels.CAPACITY_LABEL) == "on-demand"]
        main = [d for d in deps if d not in floor] or deps
        d = main[0]
        name = d["metadata"].get("name")
        pod = ((d.get("spec") or {}).get("template") or {}).get("spec") or {}
        container = (pod.get("containers") or [{}])[0]
        req = (container.get("resources") or {}).get("requests") or {}
        lim = (container.get("resources") or {}).get("limits") or {}
        base = sum(int((f.get("spec") or {}).get("replicas") or 0) for f in floor)
        sc = scalers.get(name, {})
        lo = sc.get("min", (d.get("spec") or {}).get("replicas"))
        hi = sc.get("max", lo)
        pools = _pools(pod)
        out.append({
            "name": model,
            "node_group": pools[0] if pools else None,
            "replicas": {"min": (lo or 0) + base, "max": (hi or 0) + base, "on_demand_base": base},
            "requests": {"cpu": req.get("cpu"), "memory": req.get("memory"),
                         "gpu": int(lim.get(labels.GPU_RESOURCE, req.get(labels.GPU_RESOURCE, 0)) or 0)},
            "image": container.get("image"),
            "autoscaler": sc.get("kind"),
            "signal": sc.get("signal"),
            "path": paths.get(model),
        })
    return sorted(out, key=lambda m: m["name"])


def resources_json(resources: list[Recorded]) -> list[dict]:
    """Sorted by URN: registration order depends on how async registrations interleave, and a plan that
    reorders itself between runs makes useless PR diffs."""
    return [r.to_json() for r in sorted(resources, key=lambda r: r.urn)]


def manifests_by_component(resources: list[Recorded]) -> dict[str, list[dict]]:
    by_urn = {r.urn: r for r in resources}
    files: dict[str, list[dict]] = defaultdict(list)
    for r in resources:
        if is_k8s_object(r):
            comp = component_of(r, by_urn)
            key = comp.name if comp else "stack"
            files[key].append(r.inputs)
    return dict(files)


def write_manifests(resources: list[Recorded], out: Path) -> list[Path]:
    """One YAML file per component with every Kubernetes object it registers."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for comp, docs in sorted(manifests_by_component(resources).items()):
        path = out / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', comp)}.yaml"
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        written.append(path)
    return written


def _table(rows: list[list[Any]], head: list[str]) -> str:
    cells = [head] + [[("-" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary(stack: str, resources: list[Recorded], cost_table: Optional[str], violations: Iterable[Any],
            capacity_notes: Optional[dict[str, Iterable[str]]] = None,
            designed: Optional[dict[str, str]] = None) -> str:
    """`designed`: one line per group the planner designed (its models and why its type), printed under the
    node group table."""
    by_urn = {r.urn: r for r in resources}
    per_component: Counter = Counter()
    for r in resources:
        comp = component_of(r, by_urn) if (r.custom or r.remote) else r
        per_component[(comp.type, comp.name) if comp else ("stack", stack)] += 1
    parts = [BANNER, "", f"stack {stack}: {len(resources)} resources"]
    parts.append(_table([[t, n, c] for (t, n), c in sorted(per_component.items())], ["component", "name", "resources"]))
    ngs = node_groups(resources)
    parts += ["", "node groups:", _table(
        [[g["name"], g["capacity_type"], ", ".join(g["instance_types"]), f"{g['min_size']}-{g['max_size']}", g["gpu"] or "-", g["ami_type"]]
         for g in ngs], ["name", "capacity", "instance types", "size min-max", "gpus", "ami"])]
    if designed:
        parts.append("  designed by the planner from the models (the stack declares no node_groups):")
        parts += [f"  {group}: {line}" for group, line in designed.items()]
    for group, lines in (capacity_notes or {}).items():
        parts += [f"  note on {group}: {line}" for line in lines]
    ms = models(resources)
    parts += ["", "models:", _table(
        [[m["name"], m["node_group"], f"{m['replicas']['min']}-{m['replicas']['max']}", m["replicas"]["on_demand_base"] or "-",
          m["requests"]["cpu"], m["requests"]["memory"], m["requests"]["gpu"] or "-", m["signal"], m["path"]] for m in ms],
        ["model", "node pool", "replicas", "on-demand floor", "cpu", "memory", "gpus", "scales on", "path"])]
    if cost_table:
        parts += ["", "cost:", cost_table]
    vs = list(violations)
    parts += ["", f"policy: {len(vs)} violation(s)" + ("" if vs else ", none")]
    for v in vs:
        parts.append(f"  [{v.level}] {v.policy}: {v.message} ({v.resource})")
    return "\n".join(parts)


def plan_json(stack: str, resources: list[Recorded], cost: Optional[dict], violations: Iterable[Any],
              capacity_reasons: Optional[dict] = None) -> dict:
    vs = [v.to_json() for v in violations]
    return {
        "stack": stack,
        "kind": "offline-plan",
        "note": BANNER,
        "resources": resources_json(resources),
        "node_groups": node_groups(resources),
        "models": models(resources),
        "capacity": capacity_reasons or {},
        "cost": cost,
        "policy": {"violations": vs, "mandatory": sum(1 for v in vs if v["level"] == "mandatory")},
    }


def dump_json(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
