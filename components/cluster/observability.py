"""Observability: Grafana on the system pool with the dashboards generated from the stack's config (Cortex shipped
Grafana dashboards per API and for the cluster). The rule files and Alertmanager ride on the prometheus release
(PlatformAddons' `prometheus_values`)."""

from __future__ import annotations

import json
from typing import Optional, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from typing_extensions import NotRequired

from modelstack.cluster.handle import ClusterHandle, inherited_depends_on
from modelstack.render import labels, observability, timeouts
from modelstack.render.charts import CHARTS

TYPE = "modelstack:index:Observability"
CHART = "grafana"


class ObservabilityArgs(TypedDict):
    handle: ClusterHandle
    """The cluster. Required."""
    dashboards: dict[str, str]
    """Dashboard JSON by file name (render/dashboards.py). Required."""
    prometheus_url: str
    """The data source (the in-cluster Prometheus, PlatformAddons' PROMETHEUS_ADDRESS). Required."""
    system_node_pool: NotRequired[str]
    """Pool Grafana runs on. Default "system"."""
    chart_version: NotRequired[str]
    """grafana chart version. Default "10.5.15" (Grafana 12.3.1)."""


class Observability(pulumi.ComponentResource):
    """A ConfigMap of dashboards and the Grafana release that provisions them read-only.

    Create it with `depends_on=[<PlatformAddons>]`: the prometheus release creates the monitoring namespace.
    """

    grafana_service: pulumi.Output[str]
    """`<namespace>/<service>:<port>` of Grafana (reach it with `kubectl port-forward` or the API server's proxy)."""
    dashboard_uids: pulumi.Output[list[str]]
    """The uid of every dashboard provisioned."""

    def __init__(self, name: str, args: ObservabilityArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, None, opts)
        h = args["handle"]
        deps = inherited_depends_on(opts)
        pin = CHARTS[CHART]
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=h.provider, depends_on=deps)
        cm = k8s.core.v1.ConfigMap(f"{name}-dashboards", metadata={
            "name": observability.DASHBOARDS_CONFIG_MAP, "namespace": pin.namespace, "labels": dict(labels.MANAGED_BY)},
            data=dict(sorted(args["dashboards"].items())), opts=k8s_opts)
        k8s.helm.v3.Release(
            f"{name}-grafana", name=CHART, chart=CHART, version=args.get("chart_version") or pin.version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=pin.repo), namespace=pin.namespace,
            values=observability.grafana_values(args.get("system_node_pool", "system"), args["prometheus_url"]),
            timeout=timeouts.HELM_RELEASE_TIMEOUT_SECONDS,
            opts=pulumi.ResourceOptions(parent=self, provider=h.provider, depends_on=[*deps, cm]))
        self.grafana_service = pulumi.Output.from_input(
            f"{pin.namespace}/{observability.GRAFANA}:{observability.GRAFANA_PORT}")
        self.dashboard_uids = pulumi.Output.from_input(sorted(json.loads(d)["uid"] for d in args["dashboards"].values()))
        self.register_outputs({"grafana_service": self.grafana_service, "dashboard_uids": self.dashboard_uids})
