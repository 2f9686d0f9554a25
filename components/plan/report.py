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

from modelstack.render import labels, table as text_table
from modelstack.capacity import pricing, sizing
from modelstack.plan import queues as queue_plan
from .mocks import Recorded

BANNER = ("OFFLINE PLAN: the stack program ran under Pulumi's in-process mocks. Nothing was sent to AWS or "
          "Kubernetes; this is not a `pulumi preview`.")
PROGRAM_BANNER = ("OFFLINE PLAN: your program ({main} of project {project}) ran under Pulumi's in-process mocks. Nothing "
                  "was sent to AWS or Kubernetes; this is not a `pulumi preview`.")

_K8S_SKIP = ("pulumi:providers:", "kubernetes:helm.sh/")


def is_k8s_object(r: Recorded) -> bool:
    return r.type.startswith("kubernetes:") and not r.type.startswith(_K8S_SKIP)


def component_of(r: Recorded, by_urn: dict[str, Recorded]) -> Optional[Recorded]:
    """The nearest ancestor that is a component (not a custom resource)."""
    p = by_urn.get(r.parent or "")
    while p is not None and (p.custom or p.remote):
        p = by_urn.get(p.parent or "")
    return p


#: The priority expander's score is `priority * 1000 + ...` (render.node_templates.expander_score).
_SCORE_STEP = 1000
_ASG_PROBE = "-00000000-0000-0000-0000-000000000000"


def expander_scores(resources: list[Recorded]) -> dict[str, int]:
    """Each managed node group's priority-expander score, read from the cluster-autoscaler release's values
    (`expanderPriorities`: score -> ASG-name regexes; an EKS ASG is named `eks-<node group>-<uuid>`)."""
    tiers: dict[int, list[str]] = {}
    for r in resources:
        values = r.inputs.get("values") if r.type == "kubernetes:helm.sh/v3:Release" else None
        if isinstance(values, dict) and isinstance(values.get("expanderPriorities"), dict):
            for score, regexes in values["expanderPriorities"].items():
                tiers[int(score)] = [x for x in regexes if x != ".*"]
    out: dict[str, int] = {}
    for r in resources:
        if r.type == "aws:eks/nodeGroup:NodeGroup":
            name = r.inputs.get("nodeGroupName") or r.name
            for score, regexes in tiers.items():
                if any(re.match(x, f"eks-{name}{_ASG_PROBE}") for x in regexes):
                    out[name] = score
    return out


def accelerators(itype: Optional[pricing.InstanceType]) -> dict[str, Any]:
    """The accelerator chips of one node: NVIDIA GPUs, or AWS Neuron devices (Inferentia, Trainium) and their cores."""
    if itype is None or not (itype.gpu_count or itype.accelerator_count):
        return {"kind": None, "count": 0, "model": None, "neuroncores": 0}
    if itype.gpu_count:
        return {"kind": "gpu", "count": itype.gpu_count, "model": itype.gpu_model, "neuroncores": 0}
    return {"kind": "neuron", "count": itype.accelerator_count, "model": itype.accelerator_model,
            "neuroncores": itype.neuroncores}


def _chips(a: dict[str, Any]) -> str:
    if not a["count"]:
        return "-"
    return f"{a['count']} {a['model']}" + (f" ({a['neuroncores']} NeuronCores)" if a["neuroncores"] else "")


def node_groups(resources: list[Recorded]) -> list[dict[str, Any]]:
    cat = pricing.catalog()
    scores = expander_scores(resources)
    out = []
    for r in resources:
        if r.type != "aws:eks/nodeGroup:NodeGroup":
            continue
        i = r.inputs
        types = list(i.get("instanceTypes") or [])
        sc = i.get("scalingConfig") or {}
        accel = accelerators(cat.get(types[0]) if types else None)
        lab = i.get("labels") or {}
        eks_name = i.get("nodeGroupName") or r.name
        score = scores.get(eks_name)
        out.append({
            "name": lab.get(labels.NODE_GROUP_LABEL) or eks_name,
            "eks_name": eks_name,
            "pool": lab.get(labels.NODE_POOL_LABEL),
            "instance_types": types,
            "capacity_type": i.get("capacityType", "ON_DEMAND"),
            "min_size": sc.get("minSize"),
            "max_size": sc.get("maxSize"),
            "priority": score // _SCORE_STEP if score is not None else None,
            "expander_score": score,
            "gpu": accel["count"] if accel["kind"] == "gpu" else 0,
            "accelerators": accel,
            "ami_type": i.get("amiType"),
            "taints": i.get("taints") or [],
            "version": i.get("version"),
        })
    return out


NODEPOOL_TYPE = "kubernetes:karpenter.sh/v1:NodePool"


def node_pools(resources: list[Recorded]) -> list[dict[str, Any]]:
    """Karpenter NodePools as registered: what each may launch, its limits and how it is disrupted."""
    out = []
    for r in resources:
        if r.type != NODEPOOL_TYPE:
            continue
        spec = r.inputs.get("spec") or {}
        tmpl = spec.get("template") or {}
        reqs = {q.get("key"): list(q.get("values") or []) for q in (tmpl.get("spec") or {}).get("requirements") or []}
        dis = spec.get("disruption") or {}
        out.append({
            "name": (r.inputs.get("metadata") or {}).get("name") or r.name,
            "pool": ((tmpl.get("metadata") or {}).get("labels") or {}).get(labels.NODE_POOL_LABEL),
            "capacity_types": reqs.get("karpenter.sh/capacity-type", []),
            "instance_types": reqs.get(labels.INSTANCE_TYPE_LABEL, []),
            "zones": reqs.get(labels.ZONE_LABEL, []),
            "weight": spec.get("weight"),
            "limits": dict(spec.get("limits") or {}),
            "consolidation_policy": dis.get("consolidationPolicy"),
            "consolidate_after": dis.get("consolidateAfter"),
            "budgets": [b.get("nodes") for b in dis.get("budgets") or []],
            "expire_after": (tmpl.get("spec") or {}).get("expireAfter"),
        })
    return sorted(out, key=lambda p: (-(p["weight"] or 0), p["name"]))


def _limits_text(limits: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in limits.items()) or "none"


_ACTION = "alb.ingress.kubernetes.io/actions."


def traffic_splits(resources: list[Recorded]) -> list[dict[str, Any]]:
    """Each weighted split, read from its Ingress: the path and the weight per backend Service."""
    out = []
    for r in resources:
        body = r.inputs
        if body.get("kind") != "Ingress":
            continue
        meta = body.get("metadata") or {}
        for key, action in (meta.get("annotations") or {}).items():
            if not key.startswith(_ACTION):
                continue
            try:
                groups = json.loads(action)["forwardConfig"]["targetGroups"]
            except (ValueError, KeyError, TypeError):
                continue
            rules = (body.get("spec") or {}).get("rules") or [{}]
            paths = [p.get("path") for p in ((rules[0].get("http") or {}).get("paths") or [])]
            out.append({"name": key[len(_ACTION):], "namespace": meta.get("namespace"), "path": paths[0] if paths else None,
                        "backends": [{"service": g.get("serviceName"), "weight": g.get("weight")} for g in groups]})
    return sorted(out, key=lambda s: s["name"])


def _pools(spec: dict[str, Any]) -> list[str]:
    terms = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for t in terms:
        for e in t.get("matchExpressions") or []:
            if e.get("key") == labels.NODE_POOL_LABEL:
                return list(e.get("values") or [])
    sel = (spec.get("nodeSelector") or {}).get(labels.NODE_POOL_LABEL)
    if sel:
        return [sel]
    for t in terms:  # placed by node group name (a cluster modelstack did not build): the groups stand for the pool
        for e in t.get("matchExpressions") or []:
            if e.get("key") == labels.EKS_NODEGROUP_LABEL and e.get("operator") == "In":
                return [", ".join(e.get("values") or [])]
    return []


#: KEDA trigger types as the config's autoscaling signal names them.
_SIGNALS = {"external-push": "in_flight", "prometheus": "prometheus"}


def models(resources: list[Recorded]) -> list[dict[str, Any]]:
    """Each model's placement, replica range and per-replica requests, read from its registered objects."""
    deployments: dict[str, list[dict[str, Any]]] = defaultdict(list)
    scalers: dict[str, dict[str, Any]] = {}
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
                         "gpu": int(lim.get(labels.GPU_RESOURCE, req.get(labels.GPU_RESOURCE, 0)) or 0),
                         "neuron": int(lim.get(labels.NEURON_RESOURCE, req.get(labels.NEURON_RESOURCE, 0)) or 0)},
            "pod_requests": _pod_requests(pod.get("containers") or []),
            "image": container.get("image"),
            "autoscaler": sc.get("kind"),
            "signal": sc.get("signal"),
            "path": paths.get(model),
        })
    return sorted(out, key=lambda m: m["name"])


def _pod_requests(containers: list[dict[str, Any]]) -> dict[str, Any]:
    """What one replica's pod asks of a node: the server, the request-limit proxy and every sidecar together."""
    cpu = mem = 0
    for c in containers:
        req = (c.get("resources") or {}).get("requests") or {}
        if isinstance(req.get("cpu"), (str, int, float)):
            cpu += sizing.parse_cpu(req["cpu"])
        if isinstance(req.get("memory"), (str, int)):
            mem += sizing.parse_memory(req["memory"])
    return {"cpu": f"{cpu}m", "memory": f"{mem}Mi", "containers": [c.get("name") for c in containers]}


def resources_json(resources: list[Recorded]) -> list[dict[str, Any]]:
    """Sorted by URN: registration order depends on how async registrations interleave, and a plan that
    reorders itself between runs makes useless PR diffs."""
    return [r.to_json() for r in sorted(resources, key=lambda r: r.urn)]


def manifests_by_component(resources: list[Recorded]) -> dict[str, list[dict[str, Any]]]:
    by_urn = {r.urn: r for r in resources}
    files: dict[str, list[dict[str, Any]]] = defaultdict(list)
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
    return text_table.table(head, rows)


def _what(r: Recorded) -> str:
    """A resource as the component table names it: its type's short name, a Helm release with chart and version."""
    if r.type == RELEASE:
        chart = str(r.inputs.get("chart") or "?").rstrip("/").rsplit("/", 1)[-1]
        return f"helm:{chart}@{r.inputs.get('version') or 'unpinned'}"
    module, _, kind = r.type.rpartition(":")
    return f"{module.split(':')[0]}:{kind}" if module.startswith("pulumi:") else kind


def _model_chips(m: dict[str, Any]) -> str:
    r = m["requests"]
    parts = [f"{r['gpu']} gpu" if r["gpu"] else "", f"{r.get('neuron', 0)} neuron" if r.get("neuron") else ""]
    return ", ".join(p for p in parts if p) or "-"


def summary(stack: str, resources: list[Recorded], cost_table: Optional[str], violations: Iterable[Any],
            capacity_notes: Optional[dict[str, Iterable[str]]] = None, warnings: Iterable[Any] = (),
            designed: Optional[dict[str, str]] = None, record_lines: Iterable[str] = (), banner: str = BANNER,
            llm_lines: Iterable[str] = ()) -> str:
    """`designed`: one line per group the planner designed (its models and why its type), printed under the
    node group table. `llm_lines`: the LLM sizing table (planner/llm.py), printed under the models."""
    by_urn = {r.urn: r for r in resources}
    per_component: Counter[tuple[str, str]] = Counter()
    held: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for r in resources:
        comp = component_of(r, by_urn) if (r.custom or r.remote) else r
        key = (comp.type, comp.name) if comp else ("stack", stack)
        per_component[key] += 1
        if r is not comp and (r.custom or r.remote):
            held[key][_what(r)] += 1
    parts = [text_table.paragraph(banner), "", f"stack {stack}: {len(resources)} resources"]
    parts.append(_table([[t, n, c, ", ".join(f"{w} x{k}" if k > 1 else w for w, k in sorted(held[(t, n)].items()))]
                         for (t, n), c in sorted(per_component.items())],
                        ["component", "name", "resources", "registers (helm: chart@version)"]))
    ngs = node_groups(resources)
    parts += ["", "node groups:" + ("" if ngs else " none registered")] + ([_table(
        [[g["name"], g["capacity_type"], ", ".join(g["instance_types"]), f"{g['min_size']}-{g['max_size']}", g["priority"],
          _chips(g["accelerators"]), g["ami_type"]]
         for g in ngs], ["name", "capacity", "instance types", "size min-max", "priority", "accel./node", "ami"])] if ngs else [])
    parts += [text_table.paragraph(line) for line in record_lines]
    if designed:
        parts.append("  designed by the planner from the models (the stack declares no node_groups):")
        parts += [text_table.paragraph(f"{group}: {line}", "  ") for group, line in designed.items()]
    nps = node_pools(resources)
    if nps:
        parts += ["", "node pools (karpenter):", _table(
            [[p["name"], p["pool"], ", ".join(p["capacity_types"]), ", ".join(p["instance_types"]), p["weight"],
              _limits_text(p["limits"]), f"{p['consolidation_policy']} after {p['consolidate_after']}",
              ", ".join(p["budgets"]) or "-", p["expire_after"]] for p in nps],
            ["name", "pool", "capacity", "instance types", "weight", "limits", "consolidation", "budget", "expire"])]
    for group, lines in (capacity_notes or {}).items():
        parts += [text_table.paragraph(f"note on {group}: {line}", "  ") for line in lines]
    ms = models(resources)
    parts += ["", "models:", _table(
        [[m["name"], m["node_group"], f"{m['replicas']['min']}-{m['replicas']['max']}", m["replicas"]["on_demand_base"] or "-",
          m["pod_requests"]["cpu"], m["pod_requests"]["memory"], _model_chips(m), m["signal"], m["path"]] for m in ms],
        ["model", "node pool", "replicas", "on-demand floor", "pod cpu", "pod memory", "accelerators", "scales on", "path"])]
    llm = list(llm_lines)
    if llm:
        parts += ["", "llms (sized by GPU memory, per GPU; $/h per replica at the price the pool pays):", *llm]
    splits = traffic_splits(resources)
    if splits:
        parts += ["", "traffic splits:", _table(
            [[s["name"], s["path"], ", ".join(f"{b['service']} {b['weight']}%" for b in s["backends"])] for s in splits],
            ["split", "path", "backends"])]
    ws = list(warnings)
    if ws:
        parts += ["", f"config warnings: {len(ws)} setting(s) without effect"] + [f"  {w.render()}" for w in ws]
    obs = observability(resources)
    if obs:
        parts += ["", "observability:", _table([[o["what"], o["where"], o["detail"], o["cost"]] for o in obs],
                                               ["what", "where", "detail", "cost"])]
    qa = queue_plan.queue_apis(resources)
    if qa:
        parts += ["", "queue-backed APIs (request charges, not in the hourly estimate):",
                  _table(queue_plan.table_rows(qa), queue_plan.HEAD)]
    if cost_table:
        parts += ["", "cost:", cost_table]
    vs = list(violations)
    parts += ["", f"policy: {len(vs)} violation(s)" + ("" if vs else ", none")]
    for v in vs:
        parts.append(f"  [{v.level}] {v.policy}: {v.message} ({v.resource})")
    return "\n".join(parts)


RELEASE = "kubernetes:helm.sh/v3:Release"


#: The rows of the plan's observability table, in the order it prints them.
OBSERVABILITY_ROWS = ("prometheus server", "kube-state-metrics", "alertmanager", "grafana", "grafana dashboards",
                      "amazon managed prometheus", "amazon managed grafana", "managed grafana dashboards",
                      "cloudwatch log group")


def observability(resources: list[Recorded]) -> list[dict[str, Any]]:
    """What the stack creates to observe itself (Prometheus and its rule files, kube-state-metrics, Alertmanager,
    Grafana and its dashboards, the log group), each with where it runs and what it costs. Pods on the system group
    are paid through its nodes (already in the cost table): they add requests there, not nodes."""
    out: list[dict[str, Any]] = []
    for r in resources:
        vals = r.inputs.get("values") if r.type == RELEASE else None
        chart = r.inputs.get("chart") if r.type == RELEASE else None
        if chart == "prometheus" and isinstance(vals, dict):
            files = vals.get("serverFiles") or {}
            alerting = [rule for g in (files.get("alerting_rules.yml") or {}).get("groups", []) for rule in g["rules"]]
            recording = [rule for g in (files.get("recording_rules.yml") or {}).get("groups", []) for rule in g["rules"]]
            out.append({"what": "prometheus server", "where": "system group", "detail":
                        f"{len(alerting)} alert rules, {len(recording)} price rules, retention {vals['server'].get('retention')}",
                        "cost": "in the system group's nodes"})
            if (vals.get("kube-state-metrics") or {}).get("enabled"):
                out.append({"what": "kube-state-metrics", "where": "system group", "detail": "replicas, pod phases, node labels",
                            "cost": "in the system group's nodes"})
            am = vals.get("alertmanager") or {}
            if am.get("enabled"):
                receivers = [x["name"] for x in (am.get("config") or {}).get("receivers", [])][1:]
                out.append({"what": "alertmanager", "where": "system group", "detail": "receivers " + ", ".join(receivers),
                            "cost": "in the system group's nodes" + ("; SNS publishes and Slack/PagerDuty are billed by "
                                                                     "their services, not estimated" if receivers else "")})
        elif chart == "grafana" and isinstance(vals, dict):
            req = (vals.get("resources") or {}).get("requests") or {}
            out.append({"what": "grafana", "where": "system group",
                        "detail": f"requests {req.get('cpu')} cpu, {req.get('memory')} memory; no persistence",
                        "cost": "in the system group's nodes"})
        elif r.type == "kubernetes:core/v1:ConfigMap" and (r.inputs.get("metadata") or {}).get("name") == "modelstack-dashboards":
            boards = sorted(r.inputs.get("data") or {})
            out.append({"what": "grafana dashboards", "where": "ConfigMap monitoring/modelstack-dashboards",
                        "detail": f"{len(boards)}: " + ", ".join(b.removesuffix(".json") for b in boards), "cost": "-"})
        elif r.type == "aws:amp/workspace:Workspace":
            out.append({"what": "amazon managed prometheus", "where": f"workspace {r.inputs.get('alias') or r.name}",
                        "detail": "remote-written by prometheus-server with SigV4 (pod identity)",
                        "cost": "samples ingested: in the estimate; storage and queries not estimated"})
        elif r.type == "aws:grafana/workspace:Workspace":
            out.append({"what": "amazon managed grafana", "where": f"workspace {r.inputs.get('name') or r.name}",
                        "detail": "sign-in " + ", ".join(r.inputs.get("authenticationProviders") or []),
                        "cost": "active editor and viewer users: in the estimate"})
        elif r.type == "grafana:oss/dashboard:Dashboard":
            title = str(json.loads(r.inputs.get("configJson") or "{}").get("title") or r.name)
            row = next((o for o in out if o["what"] == "managed grafana dashboards"), None)
            if row is None:
                row = {"what": "managed grafana dashboards", "where": "the stack's folder in the workspace", "detail": "",
                       "cost": "-"}
                out.append(row)
            row["detail"] = ", ".join(x for x in (row["detail"], title) if x)
        elif r.type == "aws:cloudwatch/logGroup:LogGroup":
            out.append({"what": "cloudwatch log group", "where": str(r.inputs.get("name") or r.name),
                        "detail": f"retention {r.inputs.get('retentionInDays')} days",
                        "cost": "traffic-dependent (ingestion and storage per GB), not in the estimate"})
    for row in out:
        if row["what"] == "managed grafana dashboards":
            row["detail"] = ", ".join(sorted(row["detail"].split(", ")))
    # In a fixed order: the mocks register resources made inside an apply in whatever order their inputs resolve.
    out.sort(key=lambda o: (OBSERVABILITY_ROWS.index(o["what"]), o["where"]))
    return out


def plan_json(stack: str, resources: list[Recorded], cost: Optional[dict[str, Any]], violations: Iterable[Any],
              capacity_reasons: Optional[dict[str, Any]] = None, warnings: Iterable[Any] = (), banner: str = BANNER) -> dict[str, Any]:
    vs = [v.to_json() for v in violations]
    qa = queue_plan.queue_apis(resources)
    return {**({"queue_apis": qa} if qa else {}),
        "stack": stack,
        "kind": "offline-plan",
        "note": banner,
        "resources": resources_json(resources),
        "node_groups": node_groups(resources),
        "node_pools": node_pools(resources),
        "models": models(resources),
        "traffic_splits": traffic_splits(resources),
        "observability": observability(resources),
        "capacity": capacity_reasons or {},
        "warnings": [w.model_dump() if hasattr(w, "model_dump") else w for w in warnings],
        "cost": cost,
        "policy": {"violations": vs, "mandatory": sum(1 for v in vs if v["level"] == "mandatory")},
    }


def json_text(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"


def dump_json(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json_text(data))
