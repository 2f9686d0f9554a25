"""Cost rules: what capacity each environment may buy, and that every dollar is attributable."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import json
import re
import warnings
from typing import Any, Iterator, Mapping

from modelstack.capacity import pricing, sizing
from modelstack.planner.design import ACCELERATED_FAMILIES, MAX_NODES_PER_GROUP
from modelstack.render import labels as _labels
from modelstack.render import tiers

from .reliability import accelerated, accelerator_of, allows_spot, instance_family, node_pool_requirement
from .rule import (
    NODE_GROUP, NODE_GROUP_LABEL, NODE_POOL, NODE_POOL_LABEL, POD_TEMPLATE_TYPES, Context, Param, as_list, config_file, get, in_envs, is_unknown, key,
    labels, resource_rule,
)

ACCELERATOR_TAINTS = {"gpu": _labels.GPU_TAINT["key"], "neuron": _labels.NEURON_TAINT["key"]}
ENV_MAP_OF_LISTS = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}


@resource_rule(
    "gpu-instance-families", category="cost", level="mandatory", types={NODE_GROUP, NODE_POOL},
    description="Accelerated instance families are limited per environment.",
    why="A p5 node costs ~100x a g4dn; development and staging get the small single-GPU families.",
    params={"allowed_families": Param(
        {env: list(families) for env, families in ACCELERATED_FAMILIES.items()},
        ENV_MAP_OF_LISTS, "Allowed accelerated instance families, keyed by environment.")},
)
def gpu_instance_families(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    env = ctx.env_of(props)
    types, kinds = accelerated(props)
    if not kinds or env is None:
        return
    entry, allowed = tiers.lookup(ctx["allowed_families"], env)
    where = env if entry in (env, None) else f"{env} (as {entry}, its nearest tier)"
    to_set = f"set `gpu-instance-families.allowed_families.{env}` in {config_file(env)}"
    if allowed is None:
        tier = tiers.tier_of(env)
        why = ("none are set for it" + (f" or its tier {tier}" if tier != env else "") if tier else
               f"it is not a documented tier ({', '.join(tiers.TIERS)}) nor named like one, and none are set for it")
        yield (f"no accelerated instance families are allowed in environment {env!r}: {why}; {to_set} "
               f"(e.g. [\"g4dn\", \"g5\"])")
        return
    for t in types:
        if accelerator_of(t) and instance_family(t) not in allowed:
            yield (f"instance type {t} (family {instance_family(t)}) is not allowed in {where}; allowed: "
                   f"{', '.join(allowed) or 'none'} (to allow it, {to_set})")


INSTANCE_FAMILY_LABEL = "karpenter.k8s.aws/instance-family"
#: NodePool limit keys a node count follows from: per instance type, how much of it one node brings
#: (cpu in millicores, memory in MiB, as sizing parses the limit).
_NODE_CAPACITY = {
    "cpu": (lambda t: t.vcpu * 1000, sizing.parse_cpu),
    "memory": (lambda t: int(t.memory_gib * 1024), sizing.parse_memory),
    _labels.GPU_RESOURCE: (lambda t: t.gpu_count, lambda v: sizing.parse_cpu(v) // 1000),
    _labels.NEURON_RESOURCE: (lambda t: t.accelerator_count, lambda v: sizing.parse_cpu(v) // 1000),
}


def _pool_types(props: Mapping[str, Any]) -> list[pricing.InstanceType] | None:
    """The catalog types a NodePool may launch: its instance-type list, else its instance families, else every
    type; None when a requirement is unknown (preview). Types missing from the price table are left out."""
    cat = pricing.catalog()
    named = node_pool_requirement(props, _labels.INSTANCE_TYPE_LABEL)
    families = node_pool_requirement(props, INSTANCE_FAMILY_LABEL)
    if is_unknown(named) or is_unknown(families):
        return None
    if named is not None:
        return [cat[t] for t in named if isinstance(t, str) and t in cat]
    if families is not None:
        return [t for t in cat.values() if t.family in families]
    return list(cat.values())


def nodepool_node_bound(props: Mapping[str, Any]) -> tuple[int, str] | str | None:
    """How many nodes a NodePool's spec.limits let Karpenter launch, as ``(nodes, why)``; a message when
    no limit bounds the count; None when it cannot be known (preview, or no type in the price table).

    `limits.nodes` counts nodes. A resource limit (cpu, memory, GPUs, Neuron devices) is read as nodes of the
    pool's largest type for that resource: limits total resources, so N nodes of the largest type and more,
    smaller nodes add up to the same vCPUs, memory and accelerators, about the same bill. This is the figure the
    planner writes (`limits` = planned nodes x the pool's largest type). The tightest limit binds."""
    limits = get(props, "spec.limits")
    if is_unknown(limits):
        return None
    bounds: list[tuple[int, str]] = []
    nodes = key(limits, "nodes")
    if is_unknown(nodes):
        return None
    if nodes is not None:
        try:
            bounds.append((sizing.parse_cpu(nodes) // 1000, f"limits.nodes={nodes}"))
        except ValueError:
            return None  # the CRD's quantity pattern is the place to reject a malformed limit
    types = _pool_types(props)
    for resource, (per_node, parse) in _NODE_CAPACITY.items():
        given = key(limits, resource)
        if given is None:
            continue
        if is_unknown(given) or types is None:
            return None
        if not types:
            continue
        largest = max(types, key=per_node)
        if per_node(largest) <= 0:
            continue
        try:
            total = parse(given)
        except ValueError:
            return None
        bounds.append((total // per_node(largest), f"limits.{resource}={given} is {total // per_node(largest)} "
                                                   f"nodes of {largest.name}, its largest type"))
    if not bounds:
        if types is not None and not types and limits:
            return None  # only types the price table does not know: their sizes are not visible here
        return "spec.limits bounds neither nodes, cpu, memory nor accelerators: the NodePool may launch any number of nodes"
    return min(bounds)


@resource_rule(
    "max-nodes-per-group", category="cost", level="mandatory", types={NODE_GROUP, NODE_POOL},
    description="A node group's maxSize stays under the environment's cap; a NodePool's limits allow no more "
                "nodes of its largest instance type than that cap.",
    why="maxSize is the bill's upper bound when an autoscaler or a traffic spike runs away; a NodePool's limits "
        "are that bound under Karpenter.",
    params={"max_nodes": Param(
        dict(MAX_NODES_PER_GROUP),
        {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
        "Largest maxSize (or NodePool node count at its limits) per environment; `default` applies to "
        "environments not listed.")},
)
def max_nodes_per_group(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    env = ctx.env_of(props)
    entry, cap = tiers.lookup(ctx["max_nodes"], env)
    if cap is None:
        return
    where = (env or "this environment") if entry in (env, "default") else f"{env} (as {entry}, its nearest tier)"
    if resource_type == NODE_POOL:
        replicas = get(props, "spec.replicas")
        if isinstance(replicas, (int, float)) and not isinstance(replicas, bool):
            if replicas > cap:  # a static NodePool keeps this many nodes; limits.nodes bounds scaling it by hand
                yield f"spec.replicas is {replicas:g} (a static NodePool); at most {cap} in {where}"
            if key(get(props, "spec.limits"), "nodes") is None:
                return
        bound = nodepool_node_bound(props)
        if isinstance(bound, str):
            yield f"{bound}; at most {cap} in {where}"
        elif bound is not None and bound[0] > cap:
            yield f"spec.limits allow {bound[0]} nodes ({bound[1]}); at most {cap} in {where}"
        return
    size = get(props, "scalingConfig.maxSize")
    if isinstance(size, (int, float)) and size > cap:
        yield f"scalingConfig.maxSize is {size:g}; at most {cap} in {where}"


@resource_rule(
    "spot-in-non-prod", category="cost", level="advisory", types={NODE_GROUP, NODE_POOL},
    description="Node groups and NodePools outside production use spot capacity.",
    why="Spot is 60-90% cheaper; outside production an interruption costs a retry, not an outage.",
    params={"on_demand_environments": Param(["prod"], {"type": "array", "items": {"type": "string"}},
                                            "Environments allowed to buy on-demand capacity."),
            "exempt_node_groups": Param(["system"], {"type": "array", "items": {"type": "string"}},
                                        "Node groups or pools (label modelstack.io/node-group or modelstack.io/node-pool) that stay on-demand.")},
)
def spot_in_non_prod(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    env = ctx.env_of(props)
    if env is None or in_envs(env, ctx["on_demand_environments"]):
        return
    pool = resource_type == NODE_POOL
    node_labels = get(props, "spec.template.metadata.labels" if pool else "labels")
    if {key(node_labels, NODE_GROUP_LABEL), key(node_labels, NODE_POOL_LABEL)} & set(ctx["exempt_node_groups"]):
        return
    if pool:
        if allows_spot(props) is False:
            yield f"karpenter.sh/capacity-type admits no spot in {env}; allow spot"
        return
    capacity = get(props, "capacityType", "ON_DEMAND")
    if not is_unknown(capacity) and capacity != "SPOT":
        yield f"capacityType is {capacity} in {env}; use SPOT"


@resource_rule(
    "gpu-node-taint", category="cost", level="mandatory", types={NODE_GROUP, NODE_POOL},
    description="Accelerated node groups carry the accelerator NoSchedule taint.",
    why="Without it, CPU-only pods fill expensive GPU nodes and keep them from scaling down.",
)
def gpu_node_taint(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    _, kinds = accelerated(props)
    pool = resource_type == NODE_POOL  # Kubernetes spelling (NoSchedule) under spec.template.spec
    taints = get(props, "spec.template.spec.taints" if pool else "taints")
    effect = "NoSchedule" if pool else "NO_SCHEDULE"
    if is_unknown(taints):
        return
    if any(is_unknown(t) or is_unknown(key(t, "key")) or is_unknown(key(t, "effect")) for t in as_list(taints)):
        return
    for kind in sorted(kinds):
        wanted = ACCELERATOR_TAINTS[kind]
        if not any(key(t, "key") == wanted and key(t, "effect") == effect for t in as_list(taints)):
            yield f"no {wanted} {effect} taint"


def _idle_nodes_kept(props: Mapping[str, Any]) -> Iterator[str]:
    """Why a NodePool keeps idle nodes: Karpenter has no minimum node count, so a dynamic NodePool drops to zero
    once its nodes are empty, unless it is static (spec.replicas), never consolidates (consolidateAfter Never), or
    an unscheduled budget of zero nodes covers emptiness (no reasons, or reason Empty)."""
    replicas = get(props, "spec.replicas")
    if isinstance(replicas, (int, float)) and not isinstance(replicas, bool) and replicas > 0:
        yield f"spec.replicas is {replicas:g}: a static NodePool keeps its nodes when idle; leave replicas unset"
    if get(props, "spec.disruption.consolidateAfter") == "Never":
        yield "spec.disruption.consolidateAfter is Never: empty nodes are not removed until they expire"
    for b in as_list(get(props, "spec.disruption.budgets")):
        reasons = key(b, "reasons")
        if is_unknown(reasons) or key(b, "schedule"):
            continue
        if str(key(b, "nodes")).strip() in ("0", "0%") and (not as_list(reasons) or "Empty" in as_list(reasons)):
            yield "a disruption budget of 0 nodes without a schedule keeps empty nodes"


@resource_rule(
    "gpu-scale-to-zero", category="cost", level="advisory", types={NODE_GROUP, NODE_POOL},
    description="Accelerated node groups outside production scale to zero when idle (minSize 0); accelerated "
                "NodePools there let Karpenter remove empty nodes (not static, consolidation not Never, no "
                "zero-node budget).",
    why="An idle GPU node left running over a weekend costs more than the week's experiments.",
    params={"environments": Param(["dev", "staging"], {"type": "array", "items": {"type": "string"}},
                                  "Environments whose accelerated groups must allow zero nodes.")},
)
def gpu_scale_to_zero(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    if not in_envs(ctx.env_of(props), ctx["environments"]):
        return
    _, kinds = accelerated(props)
    if not kinds:
        return
    if resource_type == NODE_POOL:
        yield from _idle_nodes_kept(props)
        return
    size = get(props, "scalingConfig.minSize")
    if isinstance(size, (int, float)) and size > 0:
        yield f"scalingConfig.minSize is {size:g}; set it to 0"


@resource_rule(
    "nodepool-limits", category="cost", level="mandatory", types={NODE_POOL},
    description="Every Karpenter NodePool caps what it may launch: cpu, and accelerators where it offers them.",
    why="A NodePool without limits launches whatever pending pods ask for; a crash-looping scale-up or a "
        "runaway replica count becomes an unbounded bill.",
)
def nodepool_limits(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    limits = get(props, "spec.limits")
    if is_unknown(limits):
        return
    if not isinstance(limits, Mapping) or key(limits, "cpu") is None:
        yield "spec.limits.cpu is not set"
    node_labels = get(props, "spec.template.metadata.labels")
    if is_unknown(node_labels):
        return
    for resource, marker in ((_labels.GPU_RESOURCE, _labels.GPU_RESOURCE), (_labels.NEURON_RESOURCE, _labels.NEURON_RESOURCE)):
        if key(node_labels, marker) is not None and key(limits, resource) is None:
            yield f"spec.limits.{resource} is not set on an accelerated NodePool"


# Taggability comes from the installed provider SDKs: a resource type is taggable when its Python class
# takes a `tags` argument. An explicit list would silently miss every type a component adds later.
_SDK_PACKAGES = {"aws": "pulumi_aws", "eks": "pulumi_eks"}
_MODULES_RE = re.compile(r'resource_modules="""(.*?)"""', re.S)


@functools.lru_cache(maxsize=None)
def _sdk_classes(package: str) -> Mapping[str, tuple[str, str]]:
    """Type token -> (module, class) from the SDK's own registration table, without importing it all."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return {}
    with open(spec.origin, encoding="utf-8") as f:
        match = _MODULES_RE.search(f.read())
    if not match:
        return {}
    table = {}
    for entry in json.loads(match.group(1)):
        for token, cls in entry.get("classes", {}).items():
            table[token] = (entry["fqn"], cls)
    return table


@functools.lru_cache(maxsize=None)
def sdk_taggable(resource_type: str) -> bool | None:
    """True/False from the provider SDK, None when the SDK does not know the type."""
    package = _SDK_PACKAGES.get(resource_type.split(":", 1)[0])
    if package is None:
        return False
    entry = _sdk_classes(package).get(resource_type)
    if entry is None:
        return None
    with warnings.catch_warnings():  # SDK modules warn about their own deprecated resources on import
        warnings.simplefilter("ignore")
        cls = getattr(importlib.import_module(entry[0]), entry[1], None)
    init = getattr(cls, "_internal_init", None) or getattr(cls, "__init__", None)
    return init is not None and "tags" in inspect.signature(init).parameters


def taggable(resource_type: str, props: Mapping[str, Any]) -> bool:
    known = sdk_taggable(resource_type)
    return ("tags" in props and resource_type.split(":", 1)[0] in _SDK_PACKAGES) if known is None else known


def _owner_types(urn: str) -> list[str]:
    """Component types above a resource, read from its URN (``...::parent$child::name``)."""
    parts = urn.split("::")
    return parts[2].split("$")[:-1] if len(parts) >= 4 else []


def _missing(tags: Any, required: list[str]) -> list[str]:
    """Required keys absent or empty; unknown values (preview) count as present."""
    if is_unknown(tags):
        return []
    return [t for t in required if not is_unknown(key(tags, t)) and not (isinstance(key(tags, t), str) and key(tags, t))]


@resource_rule(
    "cost-allocation-tags", category="cost", level="mandatory",
    applies=lambda t: t.split(":", 1)[0] in _SDK_PACKAGES,
    description="Every taggable AWS resource carries team and environment tags, plus model when it belongs "
                "to one model; launch templates pass them on to instances and volumes.",
    why="Cost Explorer can only split the bill by tags that exist; EKS managed node groups do not copy "
        "their tags to instances, so the launch template has to.",
    params={"required_tags": Param([_labels.TAG_TEAM, _labels.TAG_ENVIRONMENT], {"type": "array", "items": {"type": "string"}},
                                   "Tags every taggable resource carries."),
            "model_tag": Param(_labels.TAG_MODEL, {"type": "string"}, "Tag naming the model a resource belongs to."),
            "model_component_types": Param(["modelstack:index:ModelAPI"],
                                           {"type": "array", "items": {"type": "string"}},
                                           "Component types whose children belong to one model.")},
)
def cost_allocation_tags(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    if not taggable(resource_type, props):
        return
    tags = get(props, "tags")
    if is_unknown(tags):
        return
    required = list(ctx["required_tags"])
    if any(t in ctx["model_component_types"] for t in _owner_types(ctx.urn)):
        required.append(ctx["model_tag"])
    missing = _missing(tags, required)
    if missing:
        yield f"missing tags: {', '.join(missing)}"
    env_tag = key(tags, _labels.TAG_ENVIRONMENT)
    if ctx.environment and isinstance(env_tag, str) and env_tag and env_tag != ctx.environment:
        yield f"tag environment={env_tag} but the stack is {ctx.environment}"
    if resource_type == "aws:ec2/launchTemplate:LaunchTemplate":
        specs = get(props, "tagSpecifications")
        if is_unknown(specs) or any(is_unknown(s) or is_unknown(key(s, "resourceType")) for s in as_list(specs)):
            return
        for kind in ("instance", "volume"):
            spec = next((s for s in as_list(specs) if key(s, "resourceType") == kind), None)
            if spec is None:
                yield f"no tagSpecifications for {kind}: its cost is not attributable"
            elif _missing(key(spec, "tags"), required):
                yield f"tagSpecifications for {kind} miss: {', '.join(_missing(key(spec, 'tags'), required))}"


K8S_COST_LABELS = [_labels.TEAM_LABEL, _labels.MODEL_LABEL, _labels.ENVIRONMENT_LABEL]


@resource_rule(
    "k8s-cost-labels", category="cost", level="mandatory", types=POD_TEMPLATE_TYPES,
    description="Workloads and their pods carry team, model and environment labels.",
    why="In-cluster cost tools (Kubecost, OpenCost, Container Insights) split shared nodes by pod labels.",
    params={"required_labels": Param(K8S_COST_LABELS, {"type": "array", "items": {"type": "string"}},
                                     "Labels required on the workload and on its pod template.")},
)
def k8s_cost_labels(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    for where, found in (("metadata.labels", labels(props)),
                         ("spec.template.metadata.labels", get(props, "spec.template.metadata.labels", {}))):
        if is_unknown(found):
            continue
        missing = _missing(found, list(ctx["required_labels"]))
        if missing:
            yield f"{where} miss: {', '.join(missing)}"
