"""The stack program: one validated config in, the whole platform out.

`stacks/__main__.py` calls :func:`main` under `pulumi up`; `modelstack plan` calls the same function under
Pulumi's mocks. Only this module reads Pulumi config; components take typed args.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, cast

import pulumi
import pulumi_kubernetes as k8s
from pulumi.runtime import config as runtime_config

from modelstack.config import schema as cfg
from modelstack.render import labels, managed_grafana, node_templates, timeouts
from modelstack.render.observability import merge as merge_values
from modelstack.capacity import pricing, sizing
from modelstack.cluster.addons import PROMETHEUS_ADDRESS, PlatformAddons, PlatformAddonsArgs
from modelstack.planner.capacity import CapacityPlan, NodeGroupPlan, plan_platform
from modelstack.planner.system import addon_switches
from modelstack.planner.llm import model_api_extras as llm_model_api_extras
from modelstack.planner.recorded import Recorded, RecordError, read as read_recorded
from modelstack.cluster.control_plane import AccessEntryArgs, Cluster, ClusterArgs
from modelstack.cluster.logging import ClusterLogging, ClusterLoggingArgs
from modelstack.cluster.managed_observability import ManagedObservability, ManagedObservabilityArgs, SamlArgs
from modelstack.cluster.observability import Observability
from modelstack.ops.observability import ObservabilityPlan, plan_observability
from modelstack.ops import outputs as ops_outputs
from modelstack.cluster.autoscaler import ClusterAutoscaler
from modelstack.cluster.karpenter import Karpenter, KarpenterArgs, NodeClassArgs
from modelstack.planner.karpenter import KarpenterPlan, node_class_of, node_classes, plan_karpenter
from modelstack.config.schema import ConfigError, Platform, duration_seconds
from modelstack.cluster.handle import ClusterHandle
from modelstack.serving import model_api
from modelstack.serving.model_api import ModelAPI, ModelAPIArgs
from modelstack.cluster.network import Network, NetworkArgs
from modelstack.cluster.node_group import NodeGroup, NodeGroupArgs, TaintArgs
from modelstack.serving.traffic_splitter import TrafficSplitter
from modelstack.cluster.keda_identity import KedaIdentity
from modelstack.serving.async_model_api import AsyncModelAPI, AsyncModelAPIArgs
from modelstack.serving.batch_model_api import BatchModelAPI
from modelstack.config.checks import model_path, pod_requests
from modelstack.config.load import stack_config_dir


@dataclass
class PlatformResources:
    network: Network
    cluster: Cluster
    handle: ClusterHandle
    node_groups: dict[str, NodeGroup]
    autoscaler: Optional[ClusterAutoscaler]
    """cluster-autoscaler (provisioner cluster-autoscaler, or karpenter while keep_node_groups migrates)."""
    addons: PlatformAddons
    models: dict[str, ModelAPI]
    splits: dict[str, TrafficSplitter]
    karpenter: Optional[Karpenter] = None
    queue_apis: dict[str, Any] = field(default_factory=dict)
    """AsyncModelAPI / BatchModelAPI per model of kind async or batch (those are not in `models`)."""


def config_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The stack's config values in the modelstack namespace and aws:region, from the engine's config strings
    (structured values arrive as JSON text; text that is not JSON is left for validation to report)."""
    values: dict[str, Any] = {}
    for k in sorted(raw):
        if k.startswith(f"{cfg.NAMESPACE}:") or k == cfg.REGION_KEY:
            v = raw[k]
            if k == cfg.CONFIG_KEY and isinstance(v, str):
                try:
                    v = json.loads(v)
                except ValueError:
                    pass
            values[k] = v
    return values


def read_config() -> dict[str, Any]:
    """This stack's config values (:func:`config_values`), as the engine handed them to the program."""
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env() or {})
    return config_values({k: runtime_config.get_config(k) for k in keys})


@dataclass(frozen=True)
class Planned:
    """A capacity plan made before the program runs (by `modelstack plan`, from the config it hands the mocks), so
    the program does not plan the same platform again. `config` is what :func:`read_config` must return for the plan
    to be used: the program still plans from the config it reads when that differs."""

    stack: str
    config: dict[str, Any]
    platform: Platform
    capacity: CapacityPlan
    karpenter: Optional[KarpenterPlan] = None


def project_root() -> Path:
    """The folder of the project's Pulumi.yaml (Pulumi runs the program there; so does `modelstack plan --program`,
    whose mocks may report another root)."""
    if (Path.cwd() / "Pulumi.yaml").is_file():
        return Path.cwd()
    try:
        return Path(pulumi.get_root_directory() or Path.cwd())
    except Exception:  # noqa: BLE001 - older engines, or no engine (mocks): the working folder
        return Path.cwd()


def recorded_choices(stack: str) -> Optional[Recorded]:
    """The stack's recorded capacity choices, read from beside its stack file in the project `pulumi up` runs."""
    root = project_root()
    try:
        return read_recorded(stack_config_dir(root), stack, root)
    except RecordError as e:
        raise pulumi.RunError(str(e)) from None


def load(planned: Optional[Planned] = None) -> tuple[Platform, CapacityPlan]:
    stack = pulumi.get_stack()
    values = read_config()
    if planned is not None and planned.stack == stack and planned.config == values:
        platform, capacity = planned.platform, planned.capacity
    else:
        try:
            # The plan's price files (planner/prices.py) and recorded choices live in the project `pulumi up` runs.
            root = project_root()
            source = stack_config_dir(root).relative_to(root) / f"Pulumi.{stack}.yaml"
            platform, capacity = plan_platform(stack, values, str(source), project=root,
                                               recorded=recorded_choices(stack))
        except ConfigError as e:
            # RunError prints the message without a Python traceback.
            raise pulumi.RunError(e.render()) from None
    for w in platform.warnings:  # valid settings that do nothing: `pulumi up` shows them as the plan does
        pulumi.log.warn(w.render())
    return platform, capacity


def _node_group_args(p: Platform, g: NodeGroupPlan, cluster: Cluster, tags: dict[str, str],
                     capacity: Optional[CapacityPlan] = None) -> NodeGroupArgs:
    c = g.config
    primary = g.primary
    args: NodeGroupArgs = {
        "cluster_name": cluster.cluster_name,
        "node_role_arn": cluster.node_role_arn,
        "subnet_ids": cluster.private_subnet_ids,
        "instance_types": list(g.instance_types),
        "kubernetes_version": cluster.kubernetes_version,
        "kind": g.kind,
        "arch": primary.arch or "amd64",
        "capacity_type": g.capacity_type,
        "node_group_name": p.config.cluster.node_group_name(g.name),
        "node_pool": g.pool,
        "priority": g.priority,
        "min_size": g.min_size,
        "max_size": g.max_size,
        "accelerator_count": primary.gpu_count if g.kind == "gpu" else (primary.accelerator_count or 0) if g.kind == "inferentia" else 0,
        "root_volume_size_gib": c.root_volume.size_gib,
        "root_volume_type": c.root_volume.type,
        "max_unavailable_percentage": c.max_unavailable_percentage,
        "labels": dict(c.labels),
        "taints": [taint_args(t) for t in c.taints],
        "tags": tags,
    }
    if c.root_volume.type == "gp3":
        args["root_volume_iops"] = c.root_volume.iops
        args["root_volume_throughput"] = c.root_volume.throughput
    if g.pool in llm_nvme_pools(capacity):  # an LLM's weights are cached on the instance stores (planner/llm.py)
        args["instance_store_policy"] = "RAID0"
        if g.pool in llm_nvme_pools(capacity, node_cache=True):  # only then the node-wide cache's folder
            args["weights_cache"] = True
    return args


def access_entry_args(e: cfg.AccessEntry) -> AccessEntryArgs:
    """An access entry's config as the Cluster component's args."""
    return {"principal_arn": e.principal_arn, "access": e.access, "namespaces": list(e.namespaces),
            "cluster_creator": e.cluster_creator}


def taint_args(t: cfg.Taint) -> TaintArgs:
    return {"key": t.key, "value": t.value, "effect": t.effect}


def _probe(probe: Optional[cfg.Probe]) -> Optional[model_api.ProbeArgs]:
    """A probe's config as ProbeArgs (the config model has its fields)."""
    return cast(model_api.ProbeArgs, probe.model_dump(exclude_none=True)) if probe else None


def fitting_types(m: cfg.ModelConfig, pool: str, capacity: CapacityPlan,
                  kplan: Optional[KarpenterPlan] = None) -> list[str]:
    """The pool's instance types one replica fits on, when that is not all of them (e.g. GPU memory in a mixed
    pool: the scheduler cannot see GPU memory, so the pod must be kept off the smaller GPUs by type). With Karpenter
    (`kplan`), the pool's NodePools' types: a NodePool may allow types only some of its models fit."""
    cat = pricing.catalog()
    types = sorted({t for g in capacity.groups if g.pool == pool for t in g.instance_types}
                   | ({t for s in kplan.node_pools if s.pool == pool for t in s.instance_types} if kplan else set()))
    req = pod_requests(m)
    fit = [t for t in types if sizing.replicas_per_node(req, cat[t]) > 0]
    return fit if len(fit) < len(types) else []


def ingress_args(cluster: cfg.ClusterConfig, path: str) -> model_api.IngressArgs:
    """A route on the cluster's one shared load balancer."""
    lb = cluster.load_balancer
    return {"group_name": cluster.ingress_group, "scheme": lb.scheme, "inbound_cidrs": list(lb.allowed_cidrs),
            "certificate_arn": lb.certificate_arn, "path": path}


def with_group_idle_timeout(all_args: dict[str, ModelAPIArgs]) -> dict[str, ModelAPIArgs]:
    """Every model's args with the shared ALB's idle timeout: the longest silent wait of any model behind it (an
    attribute of the one load balancer, so every Ingress of the group must carry the same value)."""
    plans = resolved(all_args)
    idle = timeouts.alb_idle_timeout((pl.cold_start.total, pl.response_seconds) for pl in plans.values())
    return {name: _with_idle_timeout(a, idle) for name, a in all_args.items()}


def _with_idle_timeout(a: ModelAPIArgs, idle: int) -> ModelAPIArgs:
    out = a.copy()
    route = a.get("ingress")
    if route is not None:
        timed = route.copy()
        timed["idle_timeout_seconds"] = idle
        out["ingress"] = timed
    return out


def resolved(all_args: dict[str, ModelAPIArgs]) -> dict[str, model_api.Plan]:
    """Every model's objects as its ModelAPI renders them from `all_args` (model_api.resolve), by model name."""
    return {name: model_api.resolve(name, a) for name, a in all_args.items()}


def interceptor_drain(plans: Mapping[str, model_api.Plan]) -> timeouts.Drain:
    """How the KEDA interceptor stops, from the routes through it: every in_flight model's (readiness, response)."""
    return timeouts.interceptor_drain((pl.cold_start.total, pl.response_seconds)
                                      for pl in plans.values() if "interceptor_route" in pl.objects)


def longest_grace_seconds(all_args: dict[str, ModelAPIArgs], drain: timeouts.Drain) -> int:
    """The longest termination grace period of a pod cluster-autoscaler may evict (a model's, the interceptor's), and
    never below the autoscaler's own default."""
    return max([timeouts.AUTOSCALER_GRACEFUL_TERMINATION_DEFAULT_SECONDS, drain.grace_seconds,
                *(g if isinstance(g := a.get("termination_grace_period_seconds", 60), int) else 60
                  for a in all_args.values())])


def model_args(p: Platform, name: str, m: cfg.ModelConfig, capacity: CapacityPlan,
               kplan: Optional[KarpenterPlan] = None) -> ModelAPIArgs:
    """A model's config as ModelAPI args: the one place config meets the component."""
    c = p.config
    a = m.autoscaling
    placement = capacity.placements[name]
    lb = c.cluster.load_balancer
    max_unavailable = m.update_strategy.max_unavailable
    if max_unavailable is None:
        max_unavailable = 0 if p.is_prod else "25%"
    autoscaling: model_api.AutoscalingArgs = {
        "min_replicas": a.min_replicas,
        "max_replicas": a.max_replicas,
        "window_seconds": duration_seconds(a.window),
        "downscale_stabilization_seconds": duration_seconds(a.downscale_stabilization),
        "upscale_stabilization_seconds": duration_seconds(a.upscale_stabilization),
        "max_downscale_factor": a.max_downscale_factor,
        "max_upscale_factor": a.max_upscale_factor,
        "downscale_tolerance": a.downscale_tolerance,
        "upscale_tolerance": a.upscale_tolerance,
        "signal": a.signal,
        "scale_to_zero": a.scale_to_zero,
        "target_in_flight": a.target_in_flight if a.target_in_flight is not None else float(m.max_concurrency),
    }
    if a.init_replicas is not None:
        autoscaling["init_replicas"] = a.init_replicas
    if a.target_utilization is not None:
        autoscaling["target_utilization"] = a.target_utilization
    if a.prometheus_query is not None:
        autoscaling["prometheus_query"] = a.prometheus_query
    if a.prometheus_threshold is not None:
        autoscaling["prometheus_threshold"] = a.prometheus_threshold
    compute: model_api.ComputeArgs = {"cpu": str(m.compute.cpu), "memory": m.compute.memory, "gpu": m.compute.gpu,
                                      "inferentia": m.compute.inferentia}
    if m.compute.hugepages:
        compute["hugepages"] = m.compute.hugepages
    placement_args: model_api.PlacementArgs = {"node_pool": placement.pool, "accelerator": placement.accelerator,
                                               "spot": placement.spot}
    if tol := pool_taints(capacity, placement.pool):
        placement_args["tolerate_taints"] = tol
    placement_args["on_demand_base"] = placement.on_demand_base
    placement_args["strict_zone_spread"] = p.is_prod
    if fit := fitting_types(m, placement.pool, capacity, kplan):
        placement_args["instance_types"] = fit
    route = ingress_args(c.cluster, model_path(name, m))
    if lb.hosts:
        route["hosts"] = list(lb.hosts)
    args: ModelAPIArgs = {
        "image": m.image,
        "port": m.port,
        "compute": compute,
        "model_name": name,
        "namespace": m.namespace,
        "team": m.team or c.team,
        "environment": c.environment,
        "max_concurrency": m.max_concurrency,
        "max_queue_length": m.max_queue_length,
        "autoscaling": autoscaling,
        "update_strategy": {"max_surge": str(m.update_strategy.max_surge), "max_unavailable": str(max_unavailable)},
        "pre_stop": cast(model_api.PreStopArgs, m.pre_stop.model_dump(exclude_none=True)),  # the same fields
        "termination_grace_period_seconds": m.termination_grace_period_seconds,
        "placement": placement_args,
        "ingress": route,
        "response_timeout_seconds": duration_seconds(m.response_timeout),
    }
    if lb.scheme == "internal":
        args["network_policy_cidrs"] = [c.cluster.vpc.cidr] + list(lb.allowed_cidrs)
    if m.cold_start is not None:
        args["cold_start_seconds"] = duration_seconds(m.cold_start)
    if m.command:
        args["command"] = m.command
    if m.args:
        args["args"] = m.args
    if m.env:
        args["env"] = dict(m.env)
    if m.compute.shm:
        args["shm"] = m.compute.shm
    if m.readiness_probe is not None:
        args["readiness_probe"] = _probe(m.readiness_probe)
    if m.liveness_probe is not None:
        args["liveness_probe"] = _probe(m.liveness_probe)
    if m.startup_probe is not None:
        args["startup_probe"] = _probe(m.startup_probe)
    if a.signal in ("gpu", "prometheus", "llm"):
        args["prometheus_address"] = PROMETHEUS_ADDRESS
    if name in capacity.llms:  # the weights' node-local cache and its init container, the engine's metrics
        args.update(cast(ModelAPIArgs, {**llm_model_api_extras(capacity.llms[name]), "engine_metrics": True,
                                        "strip_path_prefix": True}))
    if m.sidecars:
        args["sidecars"] = [sidecar_args(n, sc) for n, sc in m.sidecars.items()]
    if m.aws is not None:
        args["aws"] = {"cluster_name": c.cluster.name, "policy_arns": list(m.aws.policy_arns),
                       "statements": [cast(model_api.StatementArgs, st.model_dump()) for st in m.aws.statements],
                       "allow_wildcard_actions": m.aws.allow_wildcard_actions,
                       "tags": labels.base_tags(c.environment, c.team, c.tags)}
    return args


def llm_nvme_pools(capacity: Optional[CapacityPlan], node_cache: bool = False) -> set[str]:
    """Pools (node groups and their fallbacks) that run an LLM whose weights are on the instance stores: s3:// ones
    (copied there) and any with the node-wide cache; `node_cache`: only those that run one with the node cache."""
    if capacity is None:
        return set()
    return {capacity.placements[m].pool for m, p in capacity.llms.items()
            if (p.node_cache if node_cache else p.on_nvme) and m in capacity.placements}


#: Pod Security admission labels of a model namespace (Kubernetes' pod-security.kubernetes.io/<mode>).
PSA = "pod-security.kubernetes.io"


def pod_security_labels(host_path: bool) -> dict[str, str]:
    """`restricted`, enforced. A namespace whose LLMs cache weights on the node needs hostPath volumes, which every
    Pod Security level but `privileged` refuses; it enforces `privileged` and still warns and audits at
    `restricted`, the config only lets node-cache LLMs into it (config/checks.py), and the policy pack's
    `pod-host-path` rule admits no hostPath but the weights cache, read-only for the engine."""
    if not host_path:
        return {f"{PSA}/enforce": "restricted"}
    return {f"{PSA}/enforce": "privileged", f"{PSA}/warn": "restricted", f"{PSA}/audit": "restricted"}


def llm_nvme_classes(capacity: CapacityPlan, node_cache: bool = False) -> set[str]:
    """EC2NodeClasses of pools that run an LLM with s3:// weights or the node cache: the kubelet goes on the instance
    stores' RAID 0 (instanceStorePolicy RAID0), where the weights' emptyDir or cache lands (planner/llm.py). Pools
    sharing that root volume share the class. `node_cache`: only the classes of pools with a node-cache LLM."""
    return {node_class_of(capacity, pool) for pool in llm_nvme_pools(capacity, node_cache)}


def karpenter_args(p: Platform, capacity: CapacityPlan, network: Network, handle: ClusterHandle,
                   tags: dict[str, str], kplan: Optional[KarpenterPlan] = None) -> KarpenterArgs:
    """The Karpenter component's args: NodePools from the capacity plan (`kplan`: its Karpenter plan, when made
    already), options from `cluster.karpenter`."""
    c = p.config
    k = c.cluster.karpenter
    vpc = c.cluster.vpc
    system = next(g for g in capacity.groups if g.kind == "system")
    nvme, cached = llm_nvme_classes(capacity), llm_nvme_classes(capacity, node_cache=True)
    args: KarpenterArgs = {
        "handle": handle,
        "region": p.region,
        "node_pools": [{"name": s.name, "pool": s.pool, "kind": s.kind, "capacity_types": list(s.capacity_types),
                        "instance_types": list(s.instance_types), "arch": s.arch, "weight": s.weight,
                        "limits": dict(s.limits), "labels": dict(s.labels), "taints": [dict(t) for t in s.taints],
                        "node_class": s.node_class}
                       for s in (kplan or plan_karpenter(p, capacity)).node_pools],
        "subnet_count": len(vpc.existing.private_subnet_ids) if vpc.existing else vpc.az_count,
        "zones": network.availability_zones,
        "environment": c.environment,
        "chart_version": c.cluster.charts.version("karpenter", c.cluster.kubernetes_version),
        "system_node_pool": system.pool,
        # the chart's required hostname anti-affinity puts each replica on its own system node
        "replicas": 2 if system.nodes_min >= 2 else 1,
        "controller_identity": k.controller_identity,
        "ami_version": k.ami_version,
        "node_classes": [node_class_args(n, v, n in nvme, n in cached) for n, v in node_classes(capacity).items()],
        "labels": {labels.ENVIRONMENT_LABEL: c.environment, labels.TEAM_LABEL: c.team},
        "tags": tags,
    }
    if k.consolidation_policy is not None:
        args["consolidation_policy"] = k.consolidation_policy
    if k.consolidate_after is not None:
        args["consolidate_after"] = k.consolidate_after
    if k.disruption_budget is not None:
        args["disruption_budget"] = k.disruption_budget
    if k.expire_after is not None:
        args["expire_after"] = k.expire_after
    return args


def node_class_args(name: str, volume: cfg.RootVolume, raid0: bool = False, weights_cache: bool = False) -> NodeClassArgs:
    """An EC2NodeClass of the Karpenter component: its root volume (gp3 with its IOPS and throughput); `raid0`: its
    instance stores as one RAID 0 array, where an LLM's weights are cached (planner/llm.py); `weights_cache`: with
    the node-wide cache's folder prepared on it. Both default off."""
    out: NodeClassArgs = {"name": name, "root_volume_size_gib": volume.size_gib, "root_volume_type": volume.type}
    if volume.type == "gp3":
        out["root_volume_iops"] = volume.iops
        out["root_volume_throughput"] = volume.throughput
    if raid0:
        out["instance_store_policy"] = "RAID0"
        if weights_cache:
            out["weights_cache"] = True
    return out


def sidecar_args(name: str, sc: cfg.Sidecar) -> model_api.ContainerArgs:
    """A sidecar's config as ModelAPI ContainerArgs."""
    out: model_api.ContainerArgs = {"name": name, "image": sc.image,
                                    "compute": {"cpu": str(sc.compute.cpu), "memory": sc.compute.memory}}
    if sc.command:
        out["command"] = list(sc.command)
    if sc.args:
        out["args"] = list(sc.args)
    if sc.env:
        out["env"] = dict(sc.env)
    if sc.port is not None:
        out["port"] = sc.port
    if sc.readiness_probe is not None:
        out["readiness_probe"] = _probe(sc.readiness_probe)
    if sc.liveness_probe is not None:
        out["liveness_probe"] = _probe(sc.liveness_probe)
    if sc.startup_probe is not None:
        out["startup_probe"] = _probe(sc.startup_probe)
    return out


def pool_taints(capacity: CapacityPlan, pool: str) -> list[model_api.TolerationArgs]:
    """The user taints of a pool's node groups (`node_groups.<name>.taints`), once each: what its models tolerate
    besides the accelerator's taint."""
    out: list[model_api.TolerationArgs] = []
    for g in capacity.groups:
        if g.pool == pool:
            for t in g.config.taints:
                toleration: model_api.TolerationArgs = {"key": t.key, "value": t.value, "effect": t.effect}
                if toleration not in out:
                    out.append(toleration)
    return out


def node_taints(capacity: CapacityPlan, kind: str) -> list[dict[str, Any]]:
    """Every taint the nodes of that kind carry (the kind's own, then each group's), once each: what a DaemonSet that
    must run on all of them (a device plugin) tolerates. Karpenter's NodePools carry the same taints as the groups."""
    out: list[dict[str, Any]] = []
    for g in capacity.groups:
        if g.kind == kind:
            for t in node_templates.node_taints(g.kind, [t.model_dump() for t in g.config.taints]):
                if t not in out:
                    out.append(t)
    return out


def log_retention_days(p: Platform) -> int:
    """`cluster.logging.retention_days`, else the environment's default (dev 7, staging 30, prod 90, others 30)."""
    return p.config.cluster.logging.retention_days or cfg.LOG_RETENTION_DAYS.get(p.tier or "", 30)


def observability_plan(p: Platform, capacity: CapacityPlan, plans: Mapping[str, model_api.Plan]) -> ObservabilityPlan:
    """Rules, routing and dashboards of the platform; cold-start budgets as each ModelAPI renders them (`plans`:
    :func:`resolved`)."""
    return plan_observability(p, capacity, {n: pl.cold_start.total for n, pl in plans.items()})


def managed_observability_args(p: Platform, obs: ObservabilityPlan, handle: ClusterHandle,
                               tags: dict[str, str]) -> ManagedObservabilityArgs:
    """ManagedObservability's args from `cluster.observability.managed_grafana` (`grafana: managed`) and the
    observability plan `obs` (its dashboards, and the metrics they read when only those are remote-written)."""
    m = p.config.cluster.observability.grafana_managed
    assert m is not None
    args: ManagedObservabilityArgs = {"handle": handle, "region": p.region, "dashboards": obs.dashboard_files(),
                                      "tags": tags}
    if m.remote_write == "dashboards":
        args["remote_write_metrics"] = managed_grafana.metric_names(obs.dashboards.values())
    if m.workspace_id:
        args["existing_workspace_id"] = m.workspace_id
        if m.workspace_role_name:
            args["existing_workspace_role_name"] = m.workspace_role_name
        return args
    args["authentication_providers"] = list(m.authentication)
    if m.saml is not None:
        args["saml"] = cast(SamlArgs, m.saml.model_dump())  # the same fields
    if m.groups:
        args["groups"] = {role: list(ids) for role, ids in m.groups.items()}
    return args


def queue_api_args(p: Platform, name: str, m: cfg.ModelConfig, base: ModelAPIArgs, capacity: CapacityPlan,
                   system_pool: str, keda_role_arn: Any = None) -> AsyncModelAPIArgs:
    """A model of kind async or batch as AsyncModelAPI / BatchModelAPI args: its ModelAPI args (the workers; the
    planner placed them as any model), scaled on the queue (from zero unless min_replicas is given), plus the queue's
    settings; an async model's gateway runs on the system pool."""
    c = p.config
    base_auto = base.get("autoscaling")
    assert base_auto is not None  # model_api_args always sets it
    auto: model_api.AutoscalingArgs = {**base_auto}
    auto.pop("signal", None)
    auto.pop("target_in_flight", None)
    if m.scales_from_zero:
        auto["min_replicas"], auto["scale_to_zero"] = 0, True
    qs = m.queue or cfg.QueueSettings()
    # A cast: mypy cannot tell that base holds no key of AsyncModelAPIArgs' own (gateway, consumer) of another type.
    a = cast(AsyncModelAPIArgs, {
        **base, "autoscaling": auto,
        "cluster_name": c.cluster.name, "region": p.region, "tags": labels.base_tags(c.environment, c.team, c.tags),
        "keda_role_arn": keda_role_arn,
        "queue": {"max_receives": qs.max_receives, "result_expiry_days": qs.result_expiry_days,
                  "message_timeout_seconds": duration_seconds(qs.message_timeout), "queue_length": qs.queue_length,
                  "model_path": qs.model_path}})
    if m.kind == "batch":
        a.pop("ingress", None)
    else:
        placement: model_api.PlacementArgs = {"node_pool": system_pool}
        if t := pool_taints(capacity, system_pool):
            placement["tolerate_taints"] = t
        a["gateway"] = {"placement": placement}
    return a


def build(p: Platform, capacity: CapacityPlan, kplan: Optional[KarpenterPlan] = None) -> PlatformResources:
    """Register every resource of the platform described by `p` (`kplan`: the Karpenter plan, when made already)."""
    c = p.config
    cl = c.cluster
    if cl.provisioner == "karpenter" and kplan is None:
        kplan = plan_karpenter(p, capacity)  # once: the NodePools' types bound each model's instance types
    tags = labels.base_tags(c.environment, c.team, c.tags)
    vpc = cl.vpc
    network_args: NetworkArgs = {"cidr": vpc.cidr, "az_count": vpc.az_count, "nat": vpc.nat, "tags": tags}
    if vpc.existing:
        network_args["existing_vpc_id"] = vpc.existing.vpc_id
        network_args["existing_private_subnet_ids"] = vpc.existing.private_subnet_ids
        network_args["existing_public_subnet_ids"] = vpc.existing.public_subnet_ids
    # Every model's args first (pure): the interceptor's drain and the autoscaler's grace limit follow from them.
    all_args = with_group_idle_timeout({name: model_args(p, name, m, capacity, kplan) for name, m in c.models.items()})
    plans = resolved(all_args)
    drain = interceptor_drain(plans)
    network = Network(f"{cl.name}-network", network_args)
    cluster_args: ClusterArgs = {
        "cluster_name": cl.name,
        "kubernetes_version": cl.kubernetes_version,
        "vpc_id": network.vpc_id,
        "private_subnet_ids": network.private_subnet_ids,
        "public_subnet_ids": network.public_subnet_ids,
        "endpoint_private_access": cl.endpoint.private,
        "endpoint_public_access": cl.endpoint.public,
        "public_access_cidrs": list(cl.endpoint.public_access_cidrs),
        "secrets_encryption": cl.secrets_encryption,
        "network_policy": cl.network_policy,
        "deletion_protection": cl.deletion_protection,
        "log_types": list(cl.log_types),
        "access_entries": {k: access_entry_args(e) for k, e in cl.access_entries.items()},
        "tags": tags,
    }
    if cl.addons.vpc_cni:
        cluster_args["vpc_cni_version"] = cl.addons.vpc_cni
    if cl.addons.kube_proxy:
        cluster_args["kube_proxy_version"] = cl.addons.kube_proxy
    cluster = Cluster(cl.name, cluster_args)
    handle = ClusterHandle.of(cluster)
    use_karpenter = cl.provisioner == "karpenter"
    # With Karpenter only the system group stays a managed node group, unless a migration keeps the old groups
    # running beside the NodePools until they drain. cluster-autoscaler goes as Karpenter comes (upstream's
    # migration order: two autoscalers would each buy a node for the same pending pod), so nothing scales a
    # managed group any more: the system group runs at its max_size, and the old groups keep the nodes they have.
    managed = [g for g in capacity.groups
               if not use_karpenter or g.kind == "system" or cl.karpenter.keep_node_groups]
    groups = {}
    for g in managed:
        ng_args = _node_group_args(p, g, cluster, tags, capacity)
        if use_karpenter and g.kind != "system":
            ng_args["min_size"] = 0  # migrating: nothing holds the old groups up while their nodes drain
        elif use_karpenter:  # nothing scales it: it runs at the size its add-ons need (planner/system.py)
            ng_args["min_size"] = g.nodes_min
        groups[g.name] = NodeGroup(g.name, ng_args)
    system_pool = next(g.pool for g in capacity.groups if g.kind == "system")
    autoscaler = None
    if not use_karpenter:
        ranks: list[node_templates.GroupRank] = [
            {"name": cl.node_group_name(g.name), "priority": g.priority, "capacity_type": g.capacity_type,
             "vcpu": float(g.primary.vcpu)} for g in managed]
        autoscaler = ClusterAutoscaler(f"{cl.name}-autoscaler", {
            "handle": handle, "region": p.region, "node_groups": ranks, "kubernetes_version": cl.kubernetes_version,
            "chart_version": cl.charts.version("cluster-autoscaler", cl.kubernetes_version),
            "system_node_pool": system_pool, "max_graceful_termination_seconds": longest_grace_seconds(all_args, drain),
            "tags": tags,
        }, pulumi.ResourceOptions(depends_on=list(groups.values())))
    obs = observability_plan(p, capacity, plans)
    # Amazon Managed Grafana: before the prometheus release, whose remote write waits for the Pod Identity binding.
    managed_obs = None
    prometheus_values = obs.prometheus_values(system_pool) if cl.observability.prometheus else {}
    if cl.observability.grafana_managed is not None:
        managed_obs = ManagedObservability(f"{cl.name}-amg", managed_observability_args(
            p, obs, handle, tags))
        prometheus_values = merge_values(prometheus_values, {"server": {"remoteWrite": managed_obs.remote_write}})
    # KEDA reads the queues of async and batch models as itself: its identity exists before its pods start.
    keda_identity = (KedaIdentity(f"{cl.name}-keda-identity", {"cluster_name": cluster.cluster_name, "tags": tags})
                     if any(m.kind != "realtime" for m in c.models.values()) else None)
    addon_args: PlatformAddonsArgs = {
        "handle": handle, "region": p.region, "system_node_pool": system_pool,
        "metrics_server_version": cl.charts.version("metrics-server", cl.kubernetes_version),
        "load_balancer_controller_version": cl.charts.version("aws-load-balancer-controller", cl.kubernetes_version),
        "keda_version": cl.charts.version("keda", cl.kubernetes_version),
        "keda_http_add_on_version": cl.charts.version("keda-add-ons-http", cl.kubernetes_version),
        "interceptor_drain_seconds": drain.drain_seconds,
        "nvidia_device_plugin": any(g.kind == "gpu" for g in capacity.groups),
        "gpu_node_taints": node_taints(capacity, "gpu"),
        "neuron_node_taints": node_taints(capacity, "inferentia"),
        "nvidia_device_plugin_version": cl.charts.version("nvidia-device-plugin", cl.kubernetes_version),
        "neuron_device_plugin": any(g.kind == "inferentia" for g in capacity.groups),
        "neuron_version": cl.charts.version("neuron-helm-chart", cl.kubernetes_version),
        "prometheus_version": cl.charts.version("prometheus", cl.kubernetes_version),
        "prometheus_retention": cl.observability.retention,
        "dcgm_exporter": any(g.kind == "gpu" for g in capacity.groups),
        "dcgm_exporter_version": cl.charts.version("dcgm-exporter", cl.kubernetes_version),
        "tags": tags,
    }
    # Which optional add-ons run: the very arguments the system group's sizing reads (planner.system).
    switches = addon_switches(p)
    addon_args["load_balancer_controller"] = switches["load_balancer_controller"]
    addon_args["prometheus"] = switches["prometheus"]
    addon_args["prometheus_alertmanager"] = switches["prometheus_alertmanager"]
    if "prometheus_volume_size" in switches:
        addon_args["prometheus_volume_size"] = switches["prometheus_volume_size"]
    if cl.addons.coredns:
        addon_args["coredns_version"] = cl.addons.coredns
    if cl.addons.pod_identity_agent:
        addon_args["pod_identity_agent_version"] = cl.addons.pod_identity_agent
    if cl.addons.ebs_csi_driver:
        addon_args["ebs_csi_driver_version"] = cl.addons.ebs_csi_driver
    if cl.observability.prometheus:
        addon_args["prometheus_values"] = prometheus_values
        if obs.sns_topic_arns:
            addon_args["alertmanager_sns_topic_arns"] = obs.sns_topic_arns
    addons = PlatformAddons(f"{cl.name}-addons", addon_args, pulumi.ResourceOptions(
        depends_on=[groups[system_pool], *([keda_identity] if keda_identity else [])]))
    provisioner = None
    if use_karpenter:
        provisioner = Karpenter(f"{cl.name}-karpenter", karpenter_args(p, capacity, network, handle, tags, kplan),
                                pulumi.ResourceOptions(depends_on=[groups[system_pool], addons]))
    logging: Optional[ClusterLogging] = None
    if cl.logging.enabled and c.models:
        logging_args: ClusterLoggingArgs = {
            "handle": handle, "region": p.region, "namespaces": sorted({m.namespace for m in c.models.values()}),
            "retention_days": log_retention_days(p),
            "chart_version": cl.charts.version("aws-for-fluent-bit", cl.kubernetes_version), "credentials": cl.logging.credentials, "tags": tags,
        }
        if cl.logging.log_group:
            logging_args["log_group_name"] = cl.logging.log_group
        logging = ClusterLogging(f"{cl.name}-logging", logging_args, pulumi.ResourceOptions(depends_on=[groups[system_pool]]))
    observability = None
    if obs.grafana and managed_obs is None:
        observability = Observability(f"{cl.name}-observability", {
            "handle": handle, "dashboards": obs.dashboard_files(), "prometheus_url": PROMETHEUS_ADDRESS,
            "system_node_pool": system_pool, "chart_version": cl.charts.version("grafana", cl.kubernetes_version),
        }, pulumi.ResourceOptions(depends_on=[addons]))
    k8s_opts = pulumi.ResourceOptions(provider=handle.provider, depends_on=[addons])
    namespaces = {}
    cached = c.node_cache_namespaces
    for ns in sorted({m.namespace for m in c.models.values()}):
        namespaces[ns] = k8s.core.v1.Namespace(f"{cl.name}-ns-{ns}", metadata={
            "name": ns, "labels": {labels.TEAM_LABEL: c.team, labels.ENVIRONMENT_LABEL: c.environment, **labels.MANAGED_BY,
                                   **pod_security_labels(ns in cached)}}, opts=k8s_opts)
    idle = next((r.get("idle_timeout_seconds") for a in all_args.values() if (r := a.get("ingress")) is not None), None)
    models = {}
    queue_apis: dict[str, Any] = {}
    for name, m in c.models.items():
        deps = [addons, namespaces[m.namespace]] + ([provisioner] if provisioner is not None else [])
        opts = handle.options(pulumi.ResourceOptions(depends_on=deps))
        if m.kind == "realtime":
            models[name] = ModelAPI(name, all_args[name], opts)
        else:
            cls = AsyncModelAPI if m.kind == "async" else BatchModelAPI
            queue_apis[name] = cls(name, queue_api_args(p, name, m, all_args[name], capacity, system_pool,
                                                        keda_identity.role_arn if keda_identity else None), opts)
    splits = {}
    for name, s in c.traffic_splits.items():
        namespace = c.models[next(iter(s.backends))].namespace  # validation keeps a split in one namespace
        split_route = ingress_args(cl, s.path or f"/{name}")
        if idle is not None:
            split_route["idle_timeout_seconds"] = idle
        splits[name] = TrafficSplitter(name, {
            "backends": [{"service": b, "port": c.models[b].port, "weight": w} for b, w in s.backends.items()],
            "ingress": split_route,
            "namespace": namespace,
            "team": c.team, "environment": c.environment,
        }, handle.options(pulumi.ResourceOptions(depends_on=list(models.values()))))
    pulumi.export("cluster_name", cluster.cluster_name)
    pulumi.export("kubeconfig", pulumi.Output.secret(cluster.kubeconfig))
    pulumi.export("endpoints", {n: api.endpoint for n, api in models.items()} | {n: s.endpoint for n, s in splits.items()}
                  | {n: q.endpoint for n, q in queue_apis.items() if isinstance(q, AsyncModelAPI)})
    pulumi.export("node_groups", {n: g.node_group_name for n, g in groups.items()})
    if logging is not None:
        pulumi.export("log_group", logging.log_group_name)
    if provisioner is not None:
        pulumi.export("node_pools", provisioner.node_pools)
    # What `modelstack get` and `modelstack logs` read (modelstack.ops.outputs).
    pulumi.export("region", p.region)
    pulumi.export("models", ops_outputs.models_output(models))
    pulumi.export("observability", ops_outputs.observability_output(
        PROMETHEUS_ADDRESS if cl.observability.prometheus else None,
        observability.grafana_service if observability is not None else None))
    if managed_obs is not None:
        pulumi.export("managed_grafana", {"url": managed_obs.grafana_url, "workspace_id": managed_obs.grafana_workspace_id,
                                          "prometheus_workspace_arn": managed_obs.prometheus_workspace_arn})
    # What `modelstack batch submit|status` read (modelstack.ops.batch).
    if queue_apis:
        pulumi.export("queues", {n: {"kind": c.models[n].kind, "queue_url": q.queue_url, "dlq_url": q.dlq_url,
                                     "bucket": q.bucket} for n, q in queue_apis.items()})
    return PlatformResources(network, cluster, handle, groups, autoscaler, addons, models, splits, provisioner,
                             queue_apis)


def main(planned: Optional[Planned] = None) -> PlatformResources:
    """The stack program. `planned`: a plan of this stack's config made already (see :class:`Planned`)."""
    platform, capacity = load(planned)
    used = planned is not None and planned.platform is platform
    return build(platform, capacity, planned.karpenter if planned is not None and used else None)
