"""Checks that span keys (a model against its node group, paths across models, splits against models).

They run on the raw config even when the schema rejected parts of it, so one report names every problem:
each node group and model is re-validated on its own and the checks use whatever parsed.
"""

from __future__ import annotations

import difflib
from typing import Any, Mapping, Optional

from pydantic import BaseModel, ValidationError

from modelstack.capacity import optimizer, pricing, sizing
from modelstack.capacity.optimizer import GroupSelection, allowed_types
from modelstack.config.schema import (
    CONFIG_KEY,
    Autoscaling,
    Compute,
    ConfigIssue,
    ModelConfig,
    NodeGroupConfig,
    PlatformConfig,
    duration_seconds,
)


def _try(model: type[BaseModel], raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except (ValidationError, TypeError, ValueError):
        return None


def _entries(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    v = raw.get(key)
    return dict(v) if isinstance(v, Mapping) else {}


def model_path(name: str, model: Optional[ModelConfig]) -> str:
    """The model's path on the shared load balancer (default `/<name>`)."""
    return (model.networking.path if model and model.networking.path else None) or f"/{name}"


def group_accelerator(group: NodeGroupConfig) -> str:
    return {"gpu": "gpu", "inferentia": "inferentia"}.get(group.kind, "none")


def compute_accelerator(compute: Compute) -> str:
    """The accelerator a model's replicas ask for: "gpu", "inferentia" or "none"."""
    return "gpu" if compute.gpu else "inferentia" if compute.inferentia else "none"


def kind_accepts(kind: str, itype: Any) -> bool:
    """Whether a node group of `kind` may use an instance type: GPU types for gpu, Inferentia types for
    inferentia, types with neither for system and cpu."""
    return {"gpu": itype.is_gpu, "inferentia": itype.is_inferentia}.get(kind, not itype.is_gpu and not itype.is_inferentia)


def semantic_issues(raw: Mapping[str, Any], cfg: Optional[PlatformConfig]) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []

    def add(path: str, given: str, allowed: str) -> None:
        issues.append(ConfigIssue(path=f"{CONFIG_KEY}.{path}", given=given, allowed=allowed))

    groups: dict[str, Optional[NodeGroupConfig]] = {}
    for name, g in _entries(raw, "node_groups").items():
        groups[name] = cfg.node_groups[name] if cfg else _try(NodeGroupConfig, g)
    models: dict[str, Any] = _entries(raw, "models")

    cat = pricing.catalog()
    for name, g in groups.items():
        if g is None:
            continue
        p = f"node_groups.{name}"
        if g.min_size > g.max_size:
            add(f"{p}.min_size", repr(g.min_size), f"at most max_size ({g.max_size})")
        unknown = [t for t in g.instance_types if t not in cat]
        for t in unknown:
            close = difflib.get_close_matches(t, list(cat), n=3, cutoff=0.6)
            add(f"{p}.instance_types", repr(t), "an instance type from the price table (data/ec2_instances.csv)"
                + (", e.g. " + ", ".join(close) if close else ""))
        known = [cat[t] for t in g.instance_types if t in cat]
        for it in known:
            if not kind_accepts(g.kind, it):
                kinds = {"gpu": "GPU instance types (g*, p*)", "inferentia": "Inferentia instance types (inf2)"}
                add(f"{p}.instance_types", repr(it.name), f"{kinds.get(g.kind, 'instance types without accelerators')} for a {g.kind} node group")
        if g.spot and len({(it.vcpu, it.memory_gib, it.gpu_count) for it in known}) > 1:
            shapes = ", ".join(f"{it.name}={it.vcpu}vCPU/{it.memory_gib:g}GiB" for it in known)
            add(f"{p}.instance_types", shapes, "types of one shape (same vCPU, memory and GPUs): cluster-autoscaler sizes a group from one type")
        if g.instance_types and isinstance(raw["node_groups"][name], Mapping) and "selection" in raw["node_groups"][name]:
            add(f"{p}.selection", "a selection next to instance_types", "either instance_types (used as given) or selection (the optimizer chooses), not both")
        if g.on_demand_fallback and not g.spot:
            add(f"{p}.on_demand_fallback", "true on an on-demand group", "on_demand_fallback only on a spot group (spot: true)")
    if groups and not any(g is not None and g.kind == "system" for g in groups.values()) and all(g is not None for g in groups.values()):
        add("node_groups", "no group of kind 'system'", "at least one node group with kind: system, where the platform add-ons run")

    paths: dict[str, str] = {}

    def claim(path: str, owner: str, key: str) -> None:
        if path in paths:
            add(key, repr(path), f"a path no other model or traffic split uses ({paths[path]} has it)")
        else:
            paths[path] = owner

    for name, m_raw in models.items():
        p = f"models.{name}"
        m = cfg.models[name] if cfg else _try(ModelConfig, m_raw)
        m_raw = m_raw if isinstance(m_raw, Mapping) else {}
        compute = m.compute if m else _try(Compute, m_raw.get("compute", {}))
        auto = m.autoscaling if m else _try(Autoscaling, m_raw.get("autoscaling", {}))
        group_name = m.node_group if m else m_raw.get("node_group")
        claim(model_path(name, m), f"model '{name}'", f"{p}.networking.path")

        if compute is not None:
            if compute.gpu and compute.inferentia:
                add(f"{p}.compute", f"gpu: {compute.gpu} and inferentia: {compute.inferentia}", "gpu or inferentia, not both")
            if compute.min_gpu_memory_gib is not None and not compute.gpu:
                add(f"{p}.compute.min_gpu_memory_gib", repr(compute.min_gpu_memory_gib), "min_gpu_memory_gib only with gpu >= 1")
            if compute.gpu_models and not compute.gpu:
                add(f"{p}.compute.gpu_models", repr(compute.gpu_models), "gpu_models only with gpu >= 1")
            known_gpus = sorted({(t.gpu_model or "").lower() for t in cat.values() if t.is_gpu})
            for gm in compute.gpu_models:
                if gm.lower() not in known_gpus:
                    add(f"{p}.compute.gpu_models", repr(gm), "GPU models in the price table: " + ", ".join(known_gpus))
        group = groups.get(group_name) if isinstance(group_name, str) else None
        if groups and isinstance(group_name, str) and group_name not in groups:
            add(f"{p}.node_group", repr(group_name), "one of the node groups " + ", ".join(sorted(groups)))
        if groups and group_name is None:
            add(f"{p}.node_group", "nothing", "one of the node groups " + ", ".join(sorted(groups))
                + " (or leave out node_groups and the planner designs the groups)")
        if compute is not None and group is not None:
            need = compute_accelerator(compute)
            have = group_accelerator(group)
            if group.kind == "system":
                add(f"{p}.node_group", f"{group_name!r} (the system group)", "a cpu, gpu or inferentia group; the system group runs only platform add-ons: " + _groups_of(groups, need))
            elif need != have:
                what = {"gpu": "a GPU model", "inferentia": "an Inferentia model", "none": "a CPU-only model"}[need]
                there = {"gpu": "a GPU node group", "inferentia": "an Inferentia node group", "none": "a node group with no GPUs"}[have]
                add(f"{p}.node_group", f"{group_name!r} ({there}) for {what}", _groups_of(groups, need))
            elif not (compute.gpu and compute.inferentia):  # reported above; no replica shape to size
                issues_fit = _fit_issue(compute, group, cat)
                if issues_fit:
                    add(f"{p}.compute", issues_fit[0], issues_fit[1])
        if auto is not None:
            _autoscaling_issues(add, p, auto, compute)
            if auto.on_demand_base and group is not None and not (group.spot and group.on_demand_fallback):
                add(f"{p}.autoscaling.on_demand_base", repr(auto.on_demand_base),
                    f"on_demand_base only on a spot node group with on_demand_fallback: true ({group_name!r} is not)")
        if m is not None:
            us = m.update_strategy
            if us.max_unavailable is not None and _is_zero(us.max_surge) and _is_zero(us.max_unavailable):
                add(f"{p}.update_strategy", "max_surge 0 and max_unavailable 0", "at least one of them above 0, or a rollout cannot progress")

    for name, s_raw in _entries(raw, "traffic_splits").items():
        p = f"traffic_splits.{name}"
        split = cfg.traffic_splits[name] if cfg else None
        s_raw = s_raw if isinstance(s_raw, Mapping) else {}
        path = (split.path if split else s_raw.get("path")) or f"/{name}"
        if isinstance(path, str):
            claim(path, f"traffic split '{name}'", f"{p}.path")
        backends = s_raw.get("backends")
        if isinstance(backends, Mapping) and backends:
            for b in backends:
                if b not in models:
                    add(f"{p}.backends.{b}", repr(b), "a model of this stack: " + (", ".join(sorted(models)) or "none defined"))
                elif cfg is not None:
                    a = cfg.models[b].autoscaling
                    if a.signal == "in_flight" or a.scale_to_zero:
                        add(f"{p}.backends.{b}", f"model {b!r} with signal {a.signal}" + (" and scale_to_zero" if a.scale_to_zero else ""),
                            "backends that autoscale on cpu, gpu or prometheus without scale_to_zero: the load balancer "
                            "splits straight to the models' Services, past the in-flight counter that drives in_flight "
                            "scaling and wakes a model from zero")
            if cfg is not None:
                spaces = sorted({cfg.models[b].namespace for b in backends if b in cfg.models})
                if len(spaces) > 1:
                    add(f"{p}.backends", f"backends in namespaces {', '.join(spaces)}",
                        "backends in one namespace (a load balancer rule forwards to Services of its Ingress's namespace)")
            weights = [w for w in backends.values() if isinstance(w, int) and not isinstance(w, bool)]
            if len(weights) == len(backends) and sum(weights) != 100:
                add(f"{p}.backends", f"weights summing to {sum(weights)}", "weights summing to exactly 100")
    return issues


def _groups_of(groups: Mapping[str, Optional[NodeGroupConfig]], need: str) -> str:
    names = sorted(n for n, g in groups.items() if g is not None and g.kind != "system" and group_accelerator(g) == need)
    kind = {"gpu": "a GPU node group", "inferentia": "an Inferentia node group", "none": "a CPU node group"}[need]
    return f"{kind}: " + (", ".join(names) if names else "none is defined")


def _is_zero(v: Any) -> bool:
    return v in (0, "0%")


def _fit_issue(compute: Compute, group: NodeGroupConfig, cat: Mapping[str, Any]) -> Optional[tuple[str, str]]:
    """Whether one replica fits on the group's types (explicit, or any the selection allows)."""
    req = requests_of(compute)
    if group.instance_types:
        types = [cat[t] for t in group.instance_types if t in cat]
    else:
        types = allowed_types(selection_of(group, cat), cat)
    if not types:
        return None if group.instance_types else ("a selection no instance type matches", "a selection that matches at least one type in the price table")
    if any(sizing.replicas_per_node(req, t) > 0 for t in types):
        return None
    closest = types[0] if group.instance_types else max(types, key=lambda t: t.alloc_cpu_millicores)
    reasons = "; ".join(sizing.fit_report(req, closest))
    return (f"a replica that fits none of {', '.join(t.name for t in types[:6])}{'...' if len(types) > 6 else ''} ({closest.name}: {reasons})",
            "requests within the allocatable capacity of at least one of the group's instance types")


def requests_of(compute: Compute) -> "sizing.Requests":
    """Per-replica scheduling requests of a model's compute block."""
    return sizing.Requests(
        cpu_millicores=sizing.parse_cpu(compute.cpu),
        memory_mib=sizing.parse_memory(compute.memory) if compute.memory else 0,
        gpu=compute.gpu,
        min_gpu_memory_gib=compute.min_gpu_memory_gib if compute.gpu else None,
        gpu_models=tuple(compute.gpu_models) if compute.gpu and compute.gpu_models else None,
        inferentia=compute.inferentia,
    )


def _autoscaling_issues(add: Any, p: str, a: Autoscaling, compute: Optional[Compute]) -> None:
    q = f"{p}.autoscaling"
    if a.min_replicas > a.max_replicas:
        add(f"{q}.min_replicas", repr(a.min_replicas), f"at most max_replicas ({a.max_replicas})")
    if a.init_replicas is not None and not a.min_replicas <= a.init_replicas <= a.max_replicas:
        add(f"{q}.init_replicas", repr(a.init_replicas), f"between min_replicas ({a.min_replicas}) and max_replicas ({a.max_replicas})")
    if a.min_replicas == 0 and not a.scale_to_zero:
        add(f"{q}.min_replicas", "0 without scale_to_zero", "min_replicas >= 1, or scale_to_zero: true to opt in to cold starts")
    if a.scale_to_zero and a.min_replicas != 0:
        add(f"{q}.scale_to_zero", f"true with min_replicas {a.min_replicas}", "scale_to_zero: true only with min_replicas: 0")
    if a.scale_to_zero and a.signal in ("cpu", "gpu"):
        add(f"{q}.signal", repr(a.signal), "in_flight or prometheus with scale_to_zero (utilization of zero replicas is undefined)")
    if a.signal in ("cpu", "gpu") and a.target_utilization is None:
        add(f"{q}.target_utilization", "nothing", f"a percentage from 1 to 100, required with signal {a.signal}")
    if a.signal == "prometheus" and (not a.prometheus_query or a.prometheus_threshold is None):
        add(f"{q}.prometheus_query", "nothing" if not a.prometheus_query else "no prometheus_threshold", "prometheus_query and prometheus_threshold, required with signal prometheus")
    if a.signal == "gpu" and compute is not None and compute.gpu == 0:
        add(f"{q}.signal", "'gpu' on a model without GPUs", "in_flight, cpu or prometheus")
    if a.on_demand_base and a.scale_to_zero:
        add(f"{q}.on_demand_base", repr(a.on_demand_base), "0 with scale_to_zero (a floor of replicas never scales to zero)")
    if a.on_demand_base is not None and a.on_demand_base >= a.max_replicas:
        add(f"{q}.on_demand_base", repr(a.on_demand_base), f"less than max_replicas ({a.max_replicas}): the rest autoscales on spot")
    if duration_seconds(a.window) < 10:
        add(f"{q}.window", repr(a.window), "at least 10 seconds (the autoscaler samples every 10 s)")


def selection_of(group: NodeGroupConfig, catalog=None) -> GroupSelection:
    """The optimizer's view of a node group's config; the group's kind narrows the families."""
    sel = group.selection
    cat = catalog or pricing.catalog()
    families = tuple(sel.families) or None
    if families is None and not sel.gpu_models and sel.min_gpu_memory_gib is None:
        families = tuple(sorted({t.family for t in cat.values() if kind_accepts(group.kind, t)}
                                - set(optimizer.BURSTABLE_FAMILIES)))
    return GroupSelection(
        families=families,
        gpu_models=tuple(sel.gpu_models) or None,
        min_gpu_memory_gib=sel.min_gpu_memory_gib,
        arch=sel.arch,
        spot=group.spot,
        max_types=sel.max_types,
        instance_types=tuple(group.instance_types) or None,
        # Listing several GPU models is consent to mix them in one spot group (equal CPU/memory/GPU count).
        mix_gpu_models=len(sel.gpu_models) > 1,
    )
