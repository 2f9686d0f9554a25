"""How many nodes the system group needs: the platform add-ons it carries, packed by their requests.

The add-ons, their replicas with modelstack's values, their requests and which must sit on distinct nodes are
facts read at the pinned charts (components/data/addon_requests.json, sources in UPSTREAM.md). Which of them run
follows the stack (provisioner, models, Prometheus, Grafana, Alertmanager, volumes). DaemonSets are the per-node
reserve the packing already subtracts. Workloads whose chart sets no requests count as zero, so the size is a
floor, and the plan names them. Pure module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

from modelstack import data
from modelstack.capacity import optimizer, pricing, sizing
from modelstack.config.schema import Platform
from modelstack.render import addon_values


@dataclass(frozen=True)
class SystemSizing:
    nodes: int
    """Nodes the add-ons need: packed by requests, at least one per replica that must run on a node of its own,
    and two outside dev (so one node going does not take every add-on with it)."""
    cpu_millicores: int
    memory_mib: int
    pods: int
    workloads: tuple[str, ...]
    """`name xN` of every add-on Deployment counted."""
    unrequested: tuple[str, ...]
    """Counted workloads whose chart sets no requests (counted as zero)."""
    instance_type: str

    def describe(self) -> str:
        text = (f"{self.nodes} {self.instance_type} node(s) for the add-ons' requests ({self.cpu_millicores}m CPU, "
                f"{self.memory_mib} MiB over {self.pods} pods: {', '.join(self.workloads)})")
        if self.unrequested:
            text += f"; {', '.join(self.unrequested)} set no requests, so this is a floor"
        return text


@lru_cache(maxsize=1)
def _workloads() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(data.read_text("addon_requests.json"))["workloads"])


def _mebibytes(q: Optional[str]) -> int:
    return 0 if not q else sizing.parse_memory(q)


def _millicores(q: Optional[str]) -> int:
    return 0 if not q else sizing.parse_cpu(q)


def addon_switches(platform: Platform) -> addon_values.AddonSwitches:
    """The PlatformAddons arguments, read from the stack config, that decide which optional add-ons run: the load
    balancer controller with models, Prometheus as configured, Alertmanager with receivers, the TSDB volume. The
    stack program passes these very arguments, so the sizing counts what is installed."""
    obs = platform.config.cluster.observability
    switches: addon_values.AddonSwitches = {
        "load_balancer_controller": bool(platform.config.models), "prometheus": obs.prometheus,
        "prometheus_alertmanager": bool(obs.alerts.receivers)}
    if obs.volume_size:
        switches["prometheus_volume_size"] = obs.volume_size
    return switches


def _runs(w: dict[str, Any], platform: Platform, installs: addon_values.Installed, kubernetes_chart: str) -> bool:
    """Whether modelstack installs workload `w` for this stack (the facts file's `when`)."""
    cl = platform.config.cluster
    chart = w["chart"]
    if w["kind"] == "DaemonSet" or w["placement"] != "system" or not w.get("replicas"):
        return False
    if chart == "karpenter":
        return cl.provisioner == "karpenter"
    if chart == "cluster-autoscaler":
        chart_version: str = w["chart_version"]  # the facts file's string
        return cl.provisioner == "cluster-autoscaler" and chart_version == kubernetes_chart
    if chart == "aws-load-balancer-controller":
        return installs.load_balancer_controller
    if chart == "prometheus":
        return installs.alertmanager if w["workload"].endswith("alertmanager") else installs.prometheus
    if chart == "grafana":  # with `grafana: managed` the dashboards are in Amazon Managed Grafana, not a pod here
        return cl.observability.grafana_enabled and cl.observability.grafana_managed is None
    if chart == "aws-ebs-csi-driver":
        return installs.ebs_csi_driver
    return True  # metrics-server, coredns, KEDA and its HTTP add-on: every stack


def system_sizing(platform: Platform, instance_type: str, cluster_autoscaler_chart: str) -> SystemSizing:
    """The add-ons of `platform` on nodes of `instance_type` (the system group's primary type)."""
    cat = pricing.catalog()
    itype = cat[instance_type]
    cap = optimizer.group_capacity([itype], sizing.DEFAULT_NODE_RESERVE)
    installs = addon_values.installed(addon_switches(platform))
    counted = [w for w in _workloads() if _runs(w, platform, installs, cluster_autoscaler_chart)]
    items = [(sizing.Requests(cpu_millicores=_millicores(w["requests"]["cpu"]),
                              memory_mib=_mebibytes(w["requests"]["memory"])), int(w["replicas"])) for w in counted]
    packed, _ = optimizer.pack_nodes(items, cap)
    distinct = max([int(w["replicas"]) for w in counted if w.get("distinct_nodes")], default=1)
    floor = 1 if platform.tier == "dev" else 2
    return SystemSizing(
        nodes=max(packed, distinct, floor),
        cpu_millicores=sum(r.cpu_millicores * n for r, n in items),
        memory_mib=sum(r.memory_mib * n for r, n in items),
        pods=sum(n for _, n in items),
        workloads=tuple(f"{w['workload']} x{w['replicas']}" for w in counted),
        unrequested=tuple(w["workload"] for w in counted if w.get("requests_status") == "none"),
        instance_type=instance_type,
    )
