"""The stack program: one validated config in, the whole platform out.

`stacks/__main__.py` calls :func:`main` under `pulumi up`; `modelstack plan` calls the same function under
Pulumi's mocks. Only this module reads Pulumi config; components take typed args.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s
from pulumi.runtime import config as runtime_config

from modelstack.config import schema as cfg
from modelstack.render import labels, node_templates, timeouts
from modelstack.capacity import pricing, sizing
from modelstack.cluster.addons import PROMETHEUS_ADDRESS, PlatformAddons
from modelstack.planner.capacity import CapacityPlan, NodeGroupPlan, plan_platform
from modelstack.planner.recorded import Recorded, RecordError, read as read_recorded
from modelstack.cluster.control_plane import Cluster
from modelstack.cluster.logging import ClusterLogging
from modelstack.cluster.observability import Observability
from modelstack.ops.observability import plan_observability
from modelstack.ops import outputs as ops_outputs
from modelstack.cluster.autoscaler import ClusterAutoscaler
from modelstack.cluster.karpenter import Karpenter
from modelstack.planner.karpenter import KarpenterPlan, node_classes, plan_karpenter
from modelstack.config.schema import ConfigError, Platform, duration_seconds
from modelstack.cluster.handle import ClusterHandle
from modelstack.serving import model_api
from modelstack.serving.model_api import ModelAPI
from modelstack.cluster.network import Network
from modelstack.cluster.node_group import NodeGroup
from modelstack.serving.traffic_splitter import TrafficSplitter
from modelstack.cluster.keda_identity import KedaIdentity
from modelstack.serving.async_model_api import AsyncModelAPI
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
    """The folder of the project's Pulumi.yaml (Pulumi runs the program there)."""
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
            platform, capacity = plan_platform(stack, values, f"stacks/Pulumi.{stack}.yaml", project=project_root(),
                                               recorded=recorded_choices(stack))
        except ConfigError as e:
            # RunError prints the message without a Python traceback.
            raise pulumi.RunError(e.render()) from None
    for w in platform.warnings:  # valid settings that do nothing: `pulumi up` shows them as the plan does
        pulumi.log.warn(w.render())
    return platform, capacity


def _node_group_args(p: Platform, g: NodeGroupPlan, cluster: Cluster, tags: dict[str, str]) -> dict:
    c = g.config
    primary = g.primary
    args = {
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
        "taints": [t.model_dump() for t in c.taints],
        "tags": tags,
    }
    if c.root_volume.type == "gp3":
        args.update(root_volume_iops=c.root_volume.iops, root_volume_throughput=c.root_volume.throughput)
    return args


def _probe(probe: Optional[cfg.Probe]) -> Optional[dict]:
    return probe.model_dump(exclude_none=True) if probe else None


def fitting_types(m: cfg.ModelConfig, pool: str, capacity: CapacityPlan) -> list[str]:
    """The pool's instance types one replica fits on, when that is not all of them (e.g. GPU memory in a mixed
    pool: the scheduler cannot see GPU memory, so the pod must be kept off the smaller GPUs by type)."""
    cat = pricing.catalog()
    types = sorted({t for g in capacity.groups if g.pool == pool for t in g.instance_types})
    req = pod_requests(m)
    fit = [t for t in types if sizing.replicas_per_node(req, cat[t]) > 0]
    return fit if len(fit) < len(types) else []


def ingress_args(cluster: cfg.ClusterConfig, path: str) -> dict:
    """A route on the cluster's one shared load balancer."""
    lb = cluster.load_balancer
    return {"group_name": cluster.ingress_group, "scheme": lb.scheme, "inbound_cidrs": list(lb.allowed_cidrs),
            "certificate_arn": lb.certificate_arn, "path": path}


def with_group_idle_timeout(all_args: dict[str, dict]) -> dict[str, dict]:
    """Every model's args with the shared ALB's idle timeout: the longest silent wait of any model behind it (an
    attribute of the one load balancer, so every Ingress of the group must carry the same value)."""
    plans = {name: model_api.resolve(name, a) for name, a in all_args.items()}
    idle = timeouts.alb_idle_timeout((pl.cold_start.total, pl.response_seconds) for pl in plans.values())
    return {name: {**a, "ingress": {**a["ingress"], "idle_timeout_seconds": idle}} for name, a in all_args.items()}


def interceptor_drain(all_args: dict[str, dict]) -> timeouts.Drain:
    """How the KEDA interceptor stops, from the routes through it: every in_flight model's (readiness, response)."""
    plans = [model_api.resolve(name, a) for name, a in all_args.items()]
    return timeouts.interceptor_drain((pl.cold_start.total, pl.response_seconds)
                                      for pl in plans if "interceptor_route" in pl.objects)


def longest_grace_seconds(all_args: dict[str, dict], drain: timeouts.Drain) -> int:
    """The longest termination grace period of a pod cluster-autoscaler may evict (a model's, the interceptor's), and
    never below the autoscaler's own default."""
    return max([timeouts.AUTOSCALER_GRACEFUL_TERMINATION_DEFAULT_SECONDS, drain.grace_seconds,
                *(int(a.get("termination_grace_period_seconds", 60)) for a in all_args.values())])


def model_args(p: Platform, name: str, m: cfg.ModelConfig, capacity: CapacityPlan) -> dict:
    """A model's config as ModelAPI args: the one place config meets the component."""
    c = p.config
    a = m.autoscaling
    placement = capacity.placements[name]
    lb = c.cluster.load_balancer
    max_unavailable = m.update_strategy.max_unavailable
    if max_unavailable is None:
        max_unavailable = 0 if p.is_prod else "25%"
    autoscaling: dict[str, Any] = {
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
    for k in ("init_replicas", "target_utilization", "prometheus_query", "prometheus_threshold"):
        if getattr(a, k) is not None:
            autoscaling[k] = getattr(a, k)
    args: dict[str, Any] = {
        "image": m.image,
        "port": m.port,
        "compute": {"cpu": str(m.compute.cpu), "memory": m.compute.memory, "gpu": m.compute.gpu,
                    "inferentia": m.compute.inferentia,
                    **({"hugepages": m.compute.hugepages} if m.compute.hugepages else {})},
        "model_name": name,
        "namespace": m.namespace,
        "team": m.team or c.team,
        "environment": c.environment,
        "max_concurrency": m.max_concurrency,
        "max_queue_length": m.max_queue_length,
        "autoscaling": autoscaling,
        "update_strategy": {"max_surge": str(m.update_strategy.max_surge), "max_unavailable": str(max_unavailable)},
        "pre_stop": m.pre_stop.model_dump(exclude_none=True),
        "termination_grace_period_seconds": m.termination_grace_period_seconds,
        "placement": {"node_pool": placement.pool, "accelerator": placement.accelerator, "spot": placement.spot,
                      **({"tolerate_taints": tol} if (tol := pool_taints(capacity, placement.pool)) else {}),
                      "on_demand_base": placement.on_demand_base, "strict_zone_spread": p.is_prod,
                      **({"instance_types": fit} if (fit := fitting_types(m, placement.pool, capacity)) else {})},
        "ingress": {**ingress_args(c.cluster, model_path(name, m)), **({"hosts": list(lb.hosts)} if lb.hosts else {})},
        "network_policy_cidrs": [c.cluster.vpc.cidr] + list(lb.allowed_cidrs) if lb.scheme == "internal" else None,
        "response_timeout_seconds": duration_seconds(m.response_timeout),
        "cold_start_seconds": duration_seconds(m.cold_start) if m.cold_start is not None else None,
    }
    for k in ("command", "args", "env"):
        if getattr(m, k):
            args[k] = getattr(m, k) if k != "env" else dict(m.env)
    if m.compute.shm:
        args["shm"] = m.compute.shm
    for k in ("readiness_probe", "liveness_probe", "startup_probe"):
        if getattr(m, k) is not None:
            args[k] = _probe(getattr(m, k))
    if a.signal in ("gpu", "prometheus"):
        args["prometheus_address"] = PROMETHEUS_ADDRESS
    if m.sidecars:
        args["sidecars"] = [sidecar_args(n, sc) for n, sc in m.sidecars.items()]
    if m.aws is not None:
        args["aws"] = {"cluster_name": c.cluster.name, "policy_arns": list(m.aws.policy_arns),
                       "statements": [st.model_dump() for st in m.aws.statements],
                       "allow_wildcard_actions": m.aws.allow_wildcard_actions,
                       "tags": labels.base_tags(c.environment, c.team, c.tags)}
    return {k: v for k, v in args.items() if v is not None}


def karpenter_args(p: Platform, capacity: CapacityPlan, network: Network, handle: ClusterHandle,
                   tags: dict[str, str], kplan: Optional[KarpenterPlan] = None) -> dict:
    """The Karpenter component's args: NodePools from the capacity plan (`kplan`: its Karpenter plan, when made
    already), options from `cluster.karpenter`."""
    c = p.config
    k = c.cluster.karpenter
    vpc = c.cluster.vpc
    system = next(g for g in capacity.groups if g.kind == "system")
    args: dict[str, Any] = {
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
        "node_classes": [{"name": n, "root_volume_size_gib": v.size_gib, "root_volume_type": v.type,
                          **({"root_volume_iops": v.iops, "root_volume_throughput": v.throughput} if v.type == "gp3" else {})}
                         for n, v in node_classes(capacity).items()],
        "labels": {labels.ENVIRONMENT_LABEL: c.environment, labels.TEAM_LABEL: c.team},
        "tags": tags,
    }
    for key in ("consolidation_policy", "consolidate_after", "disruption_budget", "expire_after"):
        if getattr(k, key) is not None:
            args[key] = getattr(k, key)
    return args


def sidecar_args(name: str, sc: cfg.Sidecar) -> dict:
    """A sidecar's config as ModelAPI ContainerArgs."""
    out: dict[str, Any] = {"name": name, "image": sc.image,
                           "compute": {"cpu": str(sc.compute.cpu), "memory": sc.compute.memory}}
    for k in ("command", "args", "env"):
        if getattr(sc, k):
            out[k] = list(getattr(sc, k)) if k != "env" else dict(sc.env)
    if sc.port is not None:
        out["port"] = sc.port
    for k in ("readiness_probe", "liveness_probe", "startup_probe"):
        if getattr(sc, k) is not None:
            out[k] = _probe(getattr(sc, k))
    return out


def pool_taints(capacity: CapacityPlan, pool: str) -> list[dict]:
    """The user taints of a pool's node groups (`node_groups.<name>.taints`), once each: what its models tolerate
    besides the accelerator's taint."""
    out: list[dict] = []
    for g in capacity.groups:
        if g.pool == pool:
            for t in g.config.taints:
                if t.model_dump() not in out:
                    out.append(t.model_dump())
    return out


def node_taints(capacity: CapacityPlan, kind: str) -> list[dict]:
    """Every taint the nodes of that kind carry (the kind's own, then each group's), once each: what a DaemonSet that
    must run on all of them (a device plugin) tolerates. Karpenter's NodePools carry the same taints as the groups."""
    out: list[dict] = []
    for g in capacity.groups:
        if g.kind == kind:
            for t in node_templates.node_taints(g.kind, [t.model_dump() for t in g.config.taints]):
                if t not in out:
                    out.append(t)
    return out


def log_retention_days(p: Platform) -> int:
    """`cluster.logging.retention_days`, else the environment's default (dev 7, staging 30, prod 90, others 30)."""
    return p.config.cluster.logging.retention_days or cfg.LOG_RETENTION_DAYS.get(p.config.environment, 30)


def observability_plan(p: Platform, capacity: CapacityPlan, all_args: dict[str, dict]):
    """Rules, routing and dashboards of the platform; cold-start budgets as each ModelAPI resolves its args."""
    return plan_observability(p, capacity, {n: model_api.resolve(n, a).cold_start.total for n, a in all_args.items()})


def queue_api_args(p: Platform, name: str, m: cfg.ModelConfig, base: dict, capacity: CapacityPlan,
                   system_pool: str, keda_role_arn: Any = None) -> dict:
    """A model of kind async or batch as AsyncModelAPI / BatchModelAPI args: its ModelAPI args (the workers; the
    planner placed them as any model), scaled on the queue (from zero unless min_replicas is given), plus the queue's
    settings; an async model's gateway runs on the system pool."""
    c = p.config
    a = dict(base)
    auto = {k: v for k, v in a["autoscaling"].items() if k not in ("signal", "target_in_flight")}
    if "min_replicas" not in m.autoscaling.model_fields_set:
        auto.update(min_replicas=0, scale_to_zero=True)
    a["autoscaling"] = auto
    qs = m.queue or cfg.QueueSettings()
    a.update(cluster_name=c.cluster.name, region=p.region, tags=labels.base_tags(c.environment, c.team, c.tags),
             keda_role_arn=keda_role_arn,
             queue={"max_receives": qs.max_receives, "result_expiry_days": qs.result_expiry_days,
                    "message_timeout_seconds": duration_seconds(qs.message_timeout), "queue_length": qs.queue_length,
                    "model_path": qs.model_path})
    if m.kind == "batch":
        a.pop("ingress", None)
    else:
        a["gateway"] = {"placement": {"node_pool": system_pool,
                                      **({"tolerate_taints": t} if (t := pool_taints(capacity, system_pool)) else {})}}
    return a


def build(p: Platform, capacity: CapacityPlan, kplan: Optional[KarpenterPlan] = None) -> PlatformResources:
    """Register every resource of the platform described by `p` (`kplan`: the Karpenter plan, when made already)."""
    c = p.config
    cl = c.cluster
    tags = labels.base_tags(c.environment, c.team, c.tags)
    vpc = cl.vpc
    network_args: dict[str, Any] = {"cidr": vpc.cidr, "az_count": vpc.az_count, "nat": vpc.nat, "tags": tags}
    if vpc.existing:
        network_args.update(existing_vpc_id=vpc.existing.vpc_id,
                            existing_private_subnet_ids=vpc.existing.private_subnet_ids,
                            existing_public_subnet_ids=vpc.existing.public_subnet_ids)
    # Every model's args first (pure): the interceptor's drain and the autoscaler's grace limit follow from them.
    all_args = with_group_idle_timeout({name: model_args(p, name, m, capacity) for name, m in c.models.items()})
    drain = interceptor_drain(all_args)
    network = Network(f"{cl.name}-network", network_args)
    cluster = Cluster(cl.name, {
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
        "access_entries": {k: e.model_dump() for k, e in cl.access_entries.items()},
        **({"vpc_cni_version": cl.addons.vpc_cni} if cl.addons.vpc_cni else {}),
        **({"kube_proxy_version": cl.addons.kube_proxy} if cl.addons.kube_proxy else {}),
        "tags": tags,
    })
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
        ng_args = _node_group_args(p, g, cluster, tags)
        if use_karpenter and g.kind != "system":
            ng_args["min_size"] = 0  # migrating: nothing holds the old groups up while their nodes drain
        elif use_karpenter:  # nothing scales it: it runs at the size its add-ons need (planner/system.py)
            ng_args["min_size"] = g.nodes_min
        groups[g.name] = NodeGroup(g.name, ng_args)
    system_pool = next(g.pool for g in capacity.groups if g.kind == "system")
    autoscaler = None
    if not use_karpenter:
        ranks = [{"name": cl.node_group_name(g.name), "priority": g.priority, "capacity_type": g.capacity_type,
                  "vcpu": float(g.primary.vcpu)} for g in managed]
        autoscaler = ClusterAutoscaler(f"{cl.name}-autoscaler", {
            "handle": handle, "region": p.region, "node_groups": ranks, "kubernetes_version": cl.kubernetes_version,
            "chart_version": cl.charts.version("cluster-autoscaler", cl.kubernetes_version),
            "system_node_pool": system_pool, "max_graceful_termination_seconds": longest_grace_seconds(all_args, drain),
            "tags": tags,
        }, pulumi.ResourceOptions(depends_on=list(groups.values())))
    all_args = with_group_idle_timeout({name: model_args(p, name, m, capacity) for name, m in c.models.items()})
    obs = observability_plan(p, capacity, all_args)
    # KEDA reads the queues of async and batch models as itself: its identity exists before its pods start.
    keda_identity = (KedaIdentity(f"{cl.name}-keda-identity", {"cluster_name": cluster.cluster_name, "tags": tags})
                     if any(m.kind != "realtime" for m in c.models.values()) else None)
    addons = PlatformAddons(f"{cl.name}-addons", {
        "handle": handle, "region": p.region, "system_node_pool": system_pool,
        **({"coredns_version": cl.addons.coredns} if cl.addons.coredns else {}),
        **({"pod_identity_agent_version": cl.addons.pod_identity_agent} if cl.addons.pod_identity_agent else {}),
        "metrics_server_version": cl.charts.version("metrics-server", cl.kubernetes_version),
        "load_balancer_controller": bool(c.models),
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
        "prometheus": cl.observability.prometheus,
        "prometheus_version": cl.charts.version("prometheus", cl.kubernetes_version),
        "prometheus_retention": cl.observability.retention,
        "prometheus_volume_size": cl.observability.volume_size,
        # Receivers turn the chart's Alertmanager on; its 50Mi claim needs the StorageClass the EBS CSI driver serves.
        "prometheus_alertmanager": bool(cl.observability.alerts.receivers),
        **({"ebs_csi_driver_version": cl.addons.ebs_csi_driver} if cl.addons.ebs_csi_driver else {}),
        **({"prometheus_values": obs.prometheus_values(system_pool),
            **({"alertmanager_sns_topic_arns": obs.sns_topic_arns} if obs.sns_topic_arns else {})}
           if cl.observability.prometheus else {}),
        "dcgm_exporter": any(g.kind == "gpu" for g in capacity.groups),
        "dcgm_exporter_version": cl.charts.version("dcgm-exporter", cl.kubernetes_version),
        "tags": tags,
    }, pulumi.ResourceOptions(depends_on=[groups[system_pool], *([keda_identity] if keda_identity else [])]))
    provisioner = None
    if use_karpenter:
        provisioner = Karpenter(f"{cl.name}-karpenter", karpenter_args(p, capacity, network, handle, tags, kplan),
                                pulumi.ResourceOptions(depends_on=[groups[system_pool], addons]))
    logging: Optional[ClusterLogging] = None
    if cl.logging.enabled and c.models:
        logging = ClusterLogging(f"{cl.name}-logging", {
            "handle": handle, "region": p.region, "namespaces": sorted({m.namespace for m in c.models.values()}),
            "retention_days": log_retention_days(p),
            **({"log_group_name": cl.logging.log_group} if cl.logging.log_group else {}),
            "chart_version": cl.charts.version("aws-for-fluent-bit", cl.kubernetes_version), "credentials": cl.logging.credentials, "tags": tags,
        }, pulumi.ResourceOptions(depends_on=[groups[system_pool]]))
    observability = None
    if obs.grafana:
        observability = Observability(f"{cl.name}-observability", {
            "handle": handle, "dashboards": obs.dashboard_files(), "prometheus_url": PROMETHEUS_ADDRESS,
            "system_node_pool": system_pool, "chart_version": cl.charts.version("grafana", cl.kubernetes_version),
        }, pulumi.ResourceOptions(depends_on=[addons]))
    k8s_opts = pulumi.ResourceOptions(provider=handle.provider, depends_on=[addons])
    namespaces = {}
    for ns in sorted({m.namespace for m in c.models.values()}):
        namespaces[ns] = k8s.core.v1.Namespace(f"{cl.name}-ns-{ns}", metadata={
            "name": ns, "labels": {labels.TEAM_LABEL: c.team, labels.ENVIRONMENT_LABEL: c.environment, **labels.MANAGED_BY,
                                   "pod-security.kubernetes.io/enforce": "restricted"}}, opts=k8s_opts)
    idle = next((a["ingress"]["idle_timeout_seconds"] for a in all_args.values()), None)
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
        splits[name] = TrafficSplitter(name, {
            "backends": [{"service": b, "port": c.models[b].port, "weight": w} for b, w in s.backends.items()],
            "ingress": {**ingress_args(cl, s.path or f"/{name}"), "idle_timeout_seconds": idle},
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
    return build(platform, capacity, planned.karpenter if used else None)
