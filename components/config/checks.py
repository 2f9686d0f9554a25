"""Checks that span keys (a model against its node group, paths across models, splits against models).

They run on the raw config even when the schema rejected parts of it, so one report names every problem:
each node group and model is re-validated on its own and the checks use whatever parsed.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Callable, Mapping, Optional

from pydantic import BaseModel, ValidationError

from modelstack.capacity import optimizer, pricing, sizing
from modelstack.render import iam
from modelstack.render import proxy as proxy_config
from modelstack.render import queue as queue_config
from modelstack.capacity.optimizer import GroupSelection, allowed_types
from modelstack.render.charts import CLUSTER_AUTOSCALER
from modelstack.config.schema import (
    CONFIG_KEY,
    Autoscaling,
    ClusterConfig,
    Compute,
    ConfigIssue,
    ModelConfig,
    NodeGroupConfig,
    PlatformConfig,
    duration_seconds,
)
from modelstack.render import autoscaling as autoscaling_render
from modelstack.render import manifests, tiers, timeouts
from modelstack.render import vllm as vllm_render
from modelstack.render import labels as labels_render
from modelstack.render.charts import CHARTS

Add = Callable[[str, str, str], None]

# AWS tag rules (the tagging restrictions every AWS service documents): at most 50 user tags per resource, keys of
# 1-128 and values of 0-256 Unicode characters drawn from letters, digits, spaces and + - = . _ : / @, and no key
# or value that starts with "aws:" in any case (reserved for AWS).
TAG_KEY_MAX, TAG_VALUE_MAX, TAGS_PER_RESOURCE = 128, 256, 50
_TAG_CHARS = re.compile(r"^[\w .:/=+\-@]*$")
#: Tags modelstack sets on every resource itself (plus `model` on a model's resources).
OWN_TAGS = (labels_render.TAG_ENVIRONMENT, labels_render.TAG_TEAM, labels_render.TAG_MANAGED_BY, labels_render.TAG_MODEL)

# Kubernetes label syntax ("Labels and Selectors"): a key is an optional DNS-subdomain prefix (at most 253
# characters) and '/', then a name of at most 63 characters, alphanumeric at both ends with '-', '_', '.' inside;
# a value is empty or such a name. The kubernetes.io and k8s.io prefixes are reserved for Kubernetes (the
# NodeRestriction admission plugin stops a kubelet from setting them on its node, apart from the node.kubernetes.io
# and kubelet.kubernetes.io ones); modelstack.io is this tool's own.
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_KEY_RULE = ("a Kubernetes label key: an optional DNS-subdomain prefix and '/', then at most 63 characters "
                  "a-z, A-Z, 0-9, '-', '_', '.', starting and ending alphanumeric")
LABEL_VALUE_RULE = "a Kubernetes label value: empty, or at most 63 characters a-z, A-Z, 0-9, '-', '_', '.', starting and ending alphanumeric"
_ALLOWED_K8S_PREFIXES = ("node.kubernetes.io", "kubelet.kubernetes.io")

#: Namespaces a model may not use: Kubernetes' own (`default` and the reserved `kube-` prefix) and those where
#: modelstack's add-ons run.
RESERVED_NAMESPACES = tuple(sorted({"default", "kube-system", "kube-public", "kube-node-lease"}
                                   | {c.namespace for c in CHARTS.values()}))

# gp3 limits from the EBS volume-type documentation: at most 500 provisioned IOPS per GiB of volume, and at most
# 0.25 MiB/s of provisioned throughput per provisioned IOPS.
GP3_IOPS_PER_GIB = 500
GP3_MIBPS_PER_IOPS = 0.25


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
    accepts: bool = {"gpu": itype.is_gpu, "inferentia": itype.is_inferentia}.get(
        kind, not itype.is_gpu and not itype.is_inferentia)
    return accepts


def label_key_problem(key: Any) -> Optional[str]:
    """Why `key` is not a label key a node group may set (None when it is one)."""
    if not isinstance(key, str):
        return LABEL_KEY_RULE
    prefix, _, name = key.rpartition("/")
    if not _LABEL_NAME.match(name) or (prefix and not _DNS_SUBDOMAIN.match(prefix)) or (not prefix and "/" in key):
        return LABEL_KEY_RULE
    reserved = prefix and (prefix in ("kubernetes.io", "k8s.io", "modelstack.io")
                           or prefix.endswith((".kubernetes.io", ".k8s.io", ".modelstack.io")))
    if reserved and prefix not in _ALLOWED_K8S_PREFIXES:
        return ("a key outside the kubernetes.io and k8s.io prefixes (reserved for Kubernetes: the NodeRestriction "
                "admission plugin refuses them on a node) and modelstack.io (modelstack's own labels)")
    return None


def _tag_issues(add: Add, path: str, tags: Mapping[Any, Any]) -> None:
    user = [k for k in tags if isinstance(k, str)]
    for k in user:
        v = tags[k]
        q = f"{path}.{k}"
        if not 1 <= len(k) <= TAG_KEY_MAX or not _TAG_CHARS.match(k):
            add(q, repr(k), f"a tag key of 1 to {TAG_KEY_MAX} characters: letters, digits, spaces and + - = . _ : / @")
        elif k.lower().startswith("aws:"):
            add(q, repr(k), "a key that does not start with 'aws:' (reserved for AWS in any case)")
        elif k in OWN_TAGS:
            add(q, repr(k), f"a key modelstack does not set itself ({', '.join(OWN_TAGS)} come from the config)")
        if isinstance(v, str) and (len(v) > TAG_VALUE_MAX or not _TAG_CHARS.match(v)):
            add(q, repr(v) if len(v) <= 40 else f"a value of {len(v)} characters",
                f"a tag value of at most {TAG_VALUE_MAX} characters: letters, digits, spaces and + - = . _ : / @")
        elif isinstance(v, str) and v.lower().startswith("aws:"):
            add(q, repr(v), "a value that does not start with 'aws:' (reserved for AWS in any case)")
    room = TAGS_PER_RESOURCE - len(OWN_TAGS)
    if len(user) > room:
        add(path, f"{len(user)} tags", f"at most {room}: AWS allows {TAGS_PER_RESOURCE} tags per resource and "
            f"modelstack sets {len(OWN_TAGS)} ({', '.join(OWN_TAGS)})")


def _node_labels_issues(add: Add, p: str, g: NodeGroupConfig) -> None:
    for k, v in g.labels.items():
        why = label_key_problem(k)
        if why:
            add(f"{p}.labels.{k}", repr(k), why)
        if not (v == "" or _LABEL_NAME.match(v)):
            add(f"{p}.labels.{k}", repr(v), LABEL_VALUE_RULE)
    for i, t in enumerate(g.taints):
        why = label_key_problem(t.key)
        if why:
            add(f"{p}.taints[{i}].key", repr(t.key), why.replace("label key", "taint key"))
        if not (t.value == "" or _LABEL_NAME.match(t.value)):
            add(f"{p}.taints[{i}].value", repr(t.value), LABEL_VALUE_RULE.replace("label value", "taint value"))


def _root_volume_issues(add: Add, p: str, g: NodeGroupConfig) -> None:
    rv = g.root_volume
    q = f"{p}.root_volume"
    if rv.type == "gp3":
        if rv.iops > rv.size_gib * GP3_IOPS_PER_GIB:
            add(f"{q}.iops", f"{rv.iops} on {rv.size_gib} GiB",
                f"at most {rv.size_gib * GP3_IOPS_PER_GIB} ({GP3_IOPS_PER_GIB} IOPS per GiB on gp3), or a larger size_gib")
        if rv.throughput > rv.iops * GP3_MIBPS_PER_IOPS:
            add(f"{q}.throughput", f"{rv.throughput} MiB/s with {rv.iops} IOPS",
                f"at most {rv.iops * GP3_MIBPS_PER_IOPS:g} MiB/s ({GP3_MIBPS_PER_IOPS} MiB/s per provisioned IOPS on gp3), or more iops")
    else:
        for k in ("iops", "throughput"):
            if k in rv.model_fields_set:
                add(f"{q}.{k}", f"{getattr(rv, k)} on a {rv.type} volume",
                    f"{k} only with type: gp3 ({rv.type} performance follows its size and is not provisioned)")


def _selection_issues(add: Add, p: str, g: NodeGroupConfig, cat: Mapping[str, Any]) -> bool:
    """Families and GPU models of a group's selection that the price table does not hold (before, the models on the
    group got "a selection no instance type matches" instead). True when there was one."""
    families = {t.family for t in cat.values()}
    gpus = sorted({(t.gpu_model or "").lower() for t in cat.values() if t.is_gpu})
    bad = [f for f in g.selection.families if f not in families]
    for f in bad:
        add(f"{p}.selection.families", repr(f), "instance families in the price table, e.g. m7i, c7a, g6, g5")
    bad_gpus = [m for m in g.selection.gpu_models if m.lower() not in gpus]
    for m in bad_gpus:
        add(f"{p}.selection.gpu_models", repr(m), "GPU models in the price table: " + ", ".join(gpus))
    return bool(bad or bad_gpus)


def _cluster_issues(add: Add, c: ClusterConfig) -> None:
    if c.vpc.nat == "none" and c.vpc.existing is None:
        add("cluster.vpc.nat", "'none' for a new VPC",
            "single or per_az: nodes run in the private subnets and, without a NAT gateway, have no route to pull "
            "images or reach the EKS API (modelstack creates no VPC endpoints); bring a VPC with endpoints as "
            "vpc.existing instead")
    _access_entry_issues(add, c)
    lb = c.load_balancer
    if lb.scheme == "internet-facing" and not lb.allowed_cidrs:
        add("cluster.load_balancer.allowed_cidrs", "nothing for an internet-facing load balancer",
            "an allow-list of CIDR blocks (0.0.0.0/0 must be written out to open it to everyone)")


def _access_entry_issues(add: Add, c: ClusterConfig) -> None:
    """EKS keeps one access entry per principal, and gives the cluster's creator one of its own (cluster-admin)."""
    seen: dict[str, str] = {}
    creators = [k for k, e in c.access_entries.items() if e.cluster_creator]
    for key, e in c.access_entries.items():
        p = f"cluster.access_entries.{key}"
        if e.principal_arn in seen:
            add(f"{p}.principal_arn", repr(e.principal_arn),
                f"a principal no other entry names (access_entries.{seen[e.principal_arn]} has it): EKS allows one "
                "access entry per principal")
        seen.setdefault(e.principal_arn, key)
        if e.cluster_creator and (e.access != "cluster-admin" or e.namespaces):
            add(f"{p}.access", f"{e.access!r}{' in namespaces ' + ', '.join(e.namespaces) if e.namespaces else ''} "
                "for the cluster creator", "cluster-admin, cluster-wide: what the creator's bootstrap entry grants "
                "(modelstack creates no entry for it)")
    if len(creators) > 1:
        add("cluster.access_entries", f"cluster_creator on {', '.join(creators)}",
            "at most one entry: only one principal creates the cluster")


def _model_issues(add: Add, p: str, m: ModelConfig, environment: Any) -> None:
    c = m.compute
    if c.shm is not None and c.memory and sizing.parse_memory(c.shm) > sizing.parse_memory(c.memory):
        add(f"{p}.compute.shm", f"{c.shm!r} with memory {c.memory!r}",
            f"at most memory ({c.memory}): /dev/shm is a memory-backed volume counted against the container's memory limit")
    if m.namespace in RESERVED_NAMESPACES or m.namespace.startswith("kube-"):
        add(f"{p}.namespace", repr(m.namespace),
            "a namespace of your own, not default, a kube-* namespace (reserved for Kubernetes) or "
            + ", ".join(sorted({ch.namespace for ch in CHARTS.values()} - {"kube-system"})) + " (modelstack's add-ons)")
    a = m.autoscaling
    if a.signal == "in_flight" and a.target_in_flight is not None and a.target_in_flight > m.max_concurrency + m.max_queue_length:
        add(f"{p}.autoscaling.target_in_flight", f"{a.target_in_flight:g}",
            f"at most max_concurrency + max_queue_length ({m.max_concurrency} + {m.max_queue_length} = "
            f"{m.max_concurrency + m.max_queue_length}): the proxy answers 503 beyond that, so a replica never holds "
            "more requests in flight and the autoscaler would never reach the target")
    ps = m.pre_stop
    if ps.exec is None and ps.http_get is None and ps.sleep_seconds >= m.termination_grace_period_seconds:
        add(f"{p}.termination_grace_period_seconds", f"{m.termination_grace_period_seconds} with a pre_stop sleep of {ps.sleep_seconds} s",
            "more than pre_stop.sleep_seconds: the grace period must leave time to drain in-flight requests")
    cold = cold_start_seconds(m)
    response = duration_seconds(m.response_timeout) + proxy_config.QUEUE_TIMEOUT_SECONDS
    longest = timeouts.ALB_IDLE_RANGE[1]
    if cold + response > longest:
        add(f"{p}.response_timeout", f"{m.response_timeout!r} after a cold start of {cold} s and up to "
            f"{proxy_config.QUEUE_TIMEOUT_SECONDS} s in the proxy's queue ({cold + response} s in all)",
            f"a cold start, queue wait and response_timeout of at most {longest} s (the load balancer's maximum idle "
            "timeout): shorten response_timeout, cold_start or the start-up probe")
    us = m.update_strategy
    unavailable = us.max_unavailable if us.max_unavailable is not None else (0 if tiers.tier_of(environment) == "prod" else "25%")
    if us.max_unavailable is None and _is_zero(us.max_surge) and _is_zero(unavailable):
        add(f"{p}.update_strategy.max_surge", f"{us.max_surge!r} in prod, where max_unavailable defaults to 0",
            "max_surge above 0, or max_unavailable above 0, or a rollout cannot progress")


def cold_start_seconds(m: ModelConfig) -> int:
    """A model's planned worst seconds from no replica to a Ready one, as its ModelAPI computes them (node launch,
    image pull and the start-up probe's budget by render.timeouts; or the model's own `cold_start`)."""
    budget = manifests.startup_budget(m.startup_probe, m.liveness_probe, m.readiness_probe, m.port)
    override = duration_seconds(m.cold_start) if m.cold_start is not None else None
    return timeouts.cold_start(compute_accelerator(m.compute), budget, override).total


def semantic_warnings(cfg: PlatformConfig) -> list[ConfigIssue]:
    """Settings that are valid but do not do what they say; the plan shows each with its reason."""
    out: list[ConfigIssue] = []
    for name, m in cfg.models.items():
        a = m.autoscaling
        q = f"{CONFIG_KEY}.models.{name}.autoscaling"
        for k in ("upscale_tolerance", "downscale_tolerance"):
            if k in a.model_fields_set:
                out.append(ConfigIssue(path=f"{q}.{k}", given=f"{getattr(a, k):g}", allowed=(
                    f"has no effect: the cluster-wide HPA tolerance ({autoscaling_render.HPA_DEFAULT_TOLERANCE:g}) applies "
                    "(behavior.*.tolerance is feature-gated on EKS and KEDA's ScaledObject does not carry it); remove it")))
        if a.signal not in autoscaling_render.INTERCEPTED_SIGNALS and "target_in_flight" in a.model_fields_set:
            out.append(ConfigIssue(path=f"{q}.target_in_flight", given=f"{a.target_in_flight:g} with signal {a.signal}",
                                   allowed="has no effect: only signal in_flight scales on requests in flight; remove it"))
        tag = m.image.rpartition(":")[2] if "vllm-openai:" in m.image else None
        if m.llm is not None and tag is not None and tag != vllm_render.IMAGE.rpartition(":")[2]:
            out.append(ConfigIssue(path=f"{CONFIG_KEY}.models.{name}.image", given=repr(m.image), allowed=(
                f"vLLM {vllm_render.VERSION} ({vllm_render.IMAGE.rpartition(':')[2]}): the engine's flags and metric names "
                "are checked against that release only (render/vllm.py); another tag may not take them")))
    return out


def semantic_issues(raw: Mapping[str, Any], cfg: Optional[PlatformConfig]) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []

    def add(path: str, given: str, allowed: str) -> None:
        issues.append(ConfigIssue(path=f"{CONFIG_KEY}.{path}", given=given, allowed=allowed))

    tags = cfg.tags if cfg else raw.get("tags")
    if isinstance(tags, Mapping):
        _tag_issues(add, "tags", tags)
    cluster = cfg.cluster if cfg else _try(ClusterConfig, raw.get("cluster"))
    if cluster is not None:
        _cluster_issues(add, cluster)

    groups: dict[str, Optional[NodeGroupConfig]] = {}
    for name, g in _entries(raw, "node_groups").items():
        groups[name] = cfg.node_groups[name] if cfg else _try(NodeGroupConfig, g)
    models: dict[str, Any] = _entries(raw, "models")

    if cfg is not None and cfg.cluster.provisioner != "karpenter" and cfg.cluster.karpenter.keep_node_groups:
        add("cluster.karpenter.keep_node_groups", "true with provisioner cluster-autoscaler",
            "true only with cluster.provisioner karpenter (it keeps the old node groups during the migration to it)")

    cat = pricing.catalog()
    unmatched: set[str] = set()  # groups whose selection names what the price table does not hold
    for name, g in groups.items():
        if g is None:
            continue
        p = f"node_groups.{name}"
        if g.min_size > g.max_size:
            add(f"{p}.min_size", repr(g.min_size), f"at most max_size ({g.max_size})")
        unknown = [t for t in g.instance_types if t not in cat]
        for t in unknown:
            add(f"{p}.instance_types", repr(t), unknown_type_allowed(t, cat))
        known = [cat[t] for t in g.instance_types if t in cat]
        arches = sorted({it.arch or "amd64" for it in known})
        if len(arches) > 1:
            add(f"{p}.instance_types", ", ".join(f"{it.name}={it.arch or 'amd64'}" for it in known),
                "types of one architecture (amd64 or arm64): a managed node group runs one AMI type")
        _node_labels_issues(add, p, g)
        _root_volume_issues(add, p, g)
        for it in known:
            if not kind_accepts(g.kind, it):
                kinds = {"gpu": "GPU instance types (g*, p*)", "inferentia": "Neuron instance types (inf1, inf2, trn1, trn1n)"}
                add(f"{p}.instance_types", repr(it.name), f"{kinds.get(g.kind, 'instance types without accelerators')} for a {g.kind} node group")
        if g.spot and len({(it.vcpu, it.memory_gib, it.gpu_count) for it in known}) > 1:
            shapes = ", ".join(f"{it.name}={it.vcpu}vCPU/{it.memory_gib:g}GiB" for it in known)
            add(f"{p}.instance_types", shapes, "types of one shape (same vCPU, memory and GPUs): cluster-autoscaler sizes a group from one type")
        if g.instance_types and isinstance(raw["node_groups"][name], Mapping) and "selection" in raw["node_groups"][name]:
            add(f"{p}.selection", "a selection next to instance_types", "either instance_types (used as given) or selection (the optimizer chooses), not both")
        if g.on_demand_fallback and not g.spot:
            add(f"{p}.on_demand_fallback", "true on an on-demand group", "on_demand_fallback only on a spot group (spot: true)")
        if _selection_issues(add, p, g, cat):
            unmatched.add(name)
        if g.kind == "system" and g.spot:
            add(f"{p}.spot", "true on the system group", "false (the default): the system group is on-demand; it runs "
                "the controllers and add-ons every model depends on, which a spot interruption would take down")
    systems = [n for n, g in groups.items() if g is not None and g.kind == "system"]
    for extra in systems[1:]:
        add(f"node_groups.{extra}.kind", f"'system' again ({systems[0]!r} is the system group)",
            "one node group of kind system: the platform add-ons run on one, and a second would keep nodes nothing "
            "is scheduled on; use kind cpu for more capacity")
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
        if compute is not None and isinstance(m_raw.get("llm"), Mapping):
            compute = compute.model_copy(update={"gpu": 1})  # an LLM runs on GPUs; planner/llm.py sizes how many
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
            elif not (compute.gpu and compute.inferentia) and group_name not in unmatched:  # else reported above
                issues_fit = _fit_issue(pod_requests(m.model_copy(update={"compute": compute})) if m
                                        else requests_of(compute), group, cat)
                if issues_fit:
                    add(f"{p}.compute", issues_fit[0], issues_fit[1])
        if auto is not None:
            _autoscaling_issues(add, p, auto, compute)
            if m is not None and m.kind != "realtime" and auto.on_demand_base and m.scales_from_zero:
                add(f"{p}.autoscaling.on_demand_base", repr(auto.on_demand_base),
                    f"0 for a {m.kind} model whose workers scale from zero (min_replicas not given); give "
                    "min_replicas to keep a floor of workers")
            if auto.signal == "llm" and not isinstance(m_raw.get("llm"), Mapping):
                add(f"{p}.autoscaling.signal", "'llm' on a model without llm",
                    "llm only for a model with an llm section (it scales on the engine's queue)")
            if auto.on_demand_base and group is not None and not (group.spot and group.on_demand_fallback):
                add(f"{p}.autoscaling.on_demand_base", repr(auto.on_demand_base),
                    f"on_demand_base only on a spot node group with on_demand_fallback: true ({group_name!r} is not)")
        if m is not None:
            _pod_issues(add, p, m)
            environment = cfg.environment if cfg else raw.get("environment")
            _model_issues(add, p, m, environment)
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
    if cfg is not None:
        _chart_issues(add, cfg.cluster)
        _node_cache_issues(add, cfg)
    return issues


def _node_cache_issues(add: Any, cfg: PlatformConfig) -> None:
    """A namespace with a node-cache LLM enforces Pod Security `privileged` (hostPath; program.pod_security_labels):
    only node-cache LLMs, whose pods modelstack renders and the policy pack checks, may share it."""
    cached = cfg.node_cache_namespaces
    for name, m in cfg.models.items():
        if m.namespace in cached and not m.node_cache:
            add(f"models.{name}.namespace", f"{m.namespace!r}, shared with an LLM with llm.node_cache "
                f"({', '.join(sorted(n for n, o in cfg.models.items() if o.namespace == m.namespace and o.node_cache))})",
                "a namespace of its own, or llm.node_cache: true (that namespace admits hostPath volumes, so it holds "
                "only LLMs that cache weights on the node)")


def unknown_type_allowed(name: str, cat: Mapping[str, Any]) -> str:
    """What to say about an instance type the price table does not hold: a real type we do not price, or a typo."""
    if name in pricing.known_unpriced():
        family = name.split(".")[0]
        priced = [t for t in cat if t.split(".")[0] == family]
        return (f"a type from the price table: {name} is a real EC2 type that the table does not price "
                "(data/ec2_known_unpriced.txt; no sourced price or allocatable figures)"
                + (f"; priced {family} types: {', '.join(priced)}" if priced else ""))
    close = difflib.get_close_matches(name, list(cat), n=3, cutoff=0.6)
    return ("an instance type from the price table (data/ec2_instances.csv)" + (", e.g. " + ", ".join(close) if close else "")
            + f"; {name!r} is not an EC2 instance type")


def _chart_issues(add: Any, cluster: Any) -> None:
    """cluster-autoscaler's minor must equal the cluster's: a chart pinned for another minor is refused."""
    ca = cluster.charts.cluster_autoscaler
    pinned = CLUSTER_AUTOSCALER.get(cluster.kubernetes_version)
    if ca is not None and pinned is not None and ca != pinned.version:
        add("cluster.charts.cluster_autoscaler", repr(ca),
            f"{pinned.version!r}, the chart of app {pinned.app_version} for Kubernetes {cluster.kubernetes_version} "
            "(the autoscaler's minor must equal the cluster's), or unset")
def _pod_issues(add: Any, p: str, m: ModelConfig) -> None:
    """The proxy's limits against autoscaling, ports shared by the pod's containers, sidecar probes, AWS access."""
    reserved = {proxy_config.PORT: "the proxy", proxy_config.METRICS_PORT: "the proxy's metrics"}
    if m.port in reserved:
        add(f"{p}.port", repr(m.port), f"a port other than {proxy_config.PORT} and {proxy_config.METRICS_PORT} (the proxy's)")
    taken = {**reserved, m.port: "the model server"}
    for name, sc in m.sidecars.items():
        q = f"{p}.sidecars.{name}"
        if name in ("model", proxy_config.CONTAINER):
            add(q, repr(name), "a sidecar name other than model and proxy (modelstack's own containers)")
        if sc.port is not None:
            if sc.port in taken:
                add(f"{q}.port", repr(sc.port), f"a port no other container of the pod uses ({taken[sc.port]} has it)")
            else:
                taken[sc.port] = f"sidecar {name!r}"
        for k in ("readiness_probe", "liveness_probe", "startup_probe"):
            pr = getattr(sc, k)
            if pr is not None and sc.port is None and (
                    (pr.http_get and pr.http_get.port is None) or (pr.tcp_socket and pr.tcp_socket.port is None)):
                add(f"{q}.{k}", "a probe without a port on a sidecar without a port", "a probe port, or the sidecar's port")
    if m.aws is not None:
        if not m.aws.policy_arns and not m.aws.statements:
            add(f"{p}.aws", "no policy_arns and no statements", "policy_arns and/or statements (what the model may do)")
        wild = iam.wildcard_actions(iam.statements_policy([st.model_dump() for st in m.aws.statements])) if m.aws.statements else []
        if wild and not m.aws.allow_wildcard_actions:
            add(f"{p}.aws.statements", "wildcard actions " + ", ".join(wild),
                "named actions (s3:GetObject), or allow_wildcard_actions: true to opt in (flagged outside dev)")


def pod_requests(m: ModelConfig) -> "sizing.Requests":
    """One replica's pod: the server, the proxy and every sidecar (what sizing and cost count)."""
    parts = [sizing.Requests.parse(proxy_config.CPU, proxy_config.MEMORY)]
    parts += [sizing.Requests.parse(sc.compute.cpu, sc.compute.memory) for sc in m.sidecars.values()]
    if m.kind != "realtime":  # the queue consumer beside the server of an async or batch model
        parts.append(sizing.Requests.parse(queue_config.CONSUMER_CPU, queue_config.CONSUMER_MEMORY))
    return sizing.replica_total(requests_of(m.compute), parts)


def _groups_of(groups: Mapping[str, Optional[NodeGroupConfig]], need: str) -> str:
    names = sorted(n for n, g in groups.items() if g is not None and g.kind != "system" and group_accelerator(g) == need)
    kind = {"gpu": "a GPU node group", "inferentia": "an Inferentia node group", "none": "a CPU node group"}[need]
    return f"{kind}: " + (", ".join(names) if names else "none is defined")


def _is_zero(v: Any) -> bool:
    return v in (0, "0%")


def _fit_issue(req: "sizing.Requests", group: NodeGroupConfig, cat: Mapping[str, Any]) -> Optional[tuple[str, str]]:
    """Whether one replica (all its containers) fits on the group's types (explicit, or any the selection allows)."""
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


#: Families the optimizer picks only when named in `selection.families` or `instance_types`: a model compiled
#: with the Neuron SDK for one chip (Inferentia2) does not run on another (Inferentia1, Trainium), so the default
#: for an inferentia group stays inf2, as before these rows existed.
OPT_IN_FAMILIES = ("inf1", "trn1", "trn1n")


def selection_of(group: NodeGroupConfig, catalog: Optional[Mapping[str, pricing.InstanceType]] = None) -> GroupSelection:
    """The optimizer's view of a node group's config; the group's kind narrows the families."""
    sel = group.selection
    cat = catalog or pricing.catalog()
    families = tuple(sel.families) or None
    if families is None and not sel.gpu_models and sel.min_gpu_memory_gib is None:
        families = tuple(sorted({t.family for t in cat.values() if kind_accepts(group.kind, t)}
                                - set(optimizer.BURSTABLE_FAMILIES) - set(OPT_IN_FAMILIES)))
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
