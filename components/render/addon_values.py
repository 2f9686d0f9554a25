"""Helm values for the platform charts (pure; keys checked against each chart's values.yaml at the pinned version).

Charts: cluster-autoscaler (kubernetes/autoscaler), metrics-server (kubernetes-sigs/metrics-server),
aws-load-balancer-controller (aws/eks-charts), keda and keda-add-ons-http (kedacore/charts), nvidia-device-plugin
(NVIDIA/k8s-device-plugin), prometheus (prometheus-community/helm-charts, with its alertmanager and
prometheus-pushgateway subcharts), dcgm-exporter (NVIDIA/dcgm-exporter, `deployment/`), neuron-helm-chart
(aws-neuron/neuron-helm-charts). Their versions are the pins in render/charts.py (CHARTS), where the facts read at
each version are listed; a version written next to a chart name in this package is held to those pins by
tests/render/test_charts.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, TypedDict

from modelstack.render import labels, timeouts

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
CRITICAL_ADDONS_ONLY = {"key": "CriticalAddonsOnly", "operator": "Exists"}


def system_placement(system_pool: str) -> dict[str, Any]:
    """Run on the system pool and tolerate its taint (every platform add-on)."""
    return {
        "nodeSelector": {labels.NODE_POOL_LABEL: system_pool},
        "tolerations": [CRITICAL_ADDONS_ONLY, labels.k8s_taint(labels.SYSTEM_TAINT)],
    }


def cluster_autoscaler(
    cluster_name: str,
    region: str,
    role_arn: str,
    priorities: Mapping[int, Sequence[str]],
    system_pool: str,
    service_account: str = "cluster-autoscaler",
    scale_down_unneeded_time: str = "10m",
    scale_down_delay_after_add: str = "10m",
    expendable_pods_priority_cutoff: int = -10,
    max_graceful_termination_seconds: int = timeouts.AUTOSCALER_GRACEFUL_TERMINATION_DEFAULT_SECONDS,
) -> dict[str, Any]:
    """cluster-autoscaler: ASG auto-discovery by the EKS-managed tags, priority expander (least-waste on ties).
    `max_graceful_termination_seconds`: how long a scale-down lets a pod terminate before the node goes anyway
    (the flag's default is 600 s); at least the longest grace period of the pods it may evict."""
    values: dict[str, Any] = {
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster_name},
        "rbac": {"serviceAccount": {"create": True, "name": service_account, "annotations": {IRSA_ANNOTATION: role_arn}}},
        "extraArgs": {
            "expander": "priority,least-waste",
            # Never balance a spot group with its on-demand twin (that would split scale-ups between them and
            # defeat spot-first): they differ in capacityType and node-group labels, so they are not "similar".
            "balance-similar-node-groups": True,
            "skip-nodes-with-system-pods": False,
            "skip-nodes-with-local-storage": False,
            "scale-down-unneeded-time": scale_down_unneeded_time,
            "scale-down-delay-after-add": scale_down_delay_after_add,
            "expendable-pods-priority-cutoff": expendable_pods_priority_cutoff,
            "max-graceful-termination-sec": max_graceful_termination_seconds,
        },
        # Chart template: `{{ $k | int }}:` per key; string keys because Helm values are JSON objects.
        "expanderPriorities": {str(k): list(v) for k, v in priorities.items()},
        "priorityClassName": "system-cluster-critical",
        **system_placement(system_pool),
    }
    return values


def metrics_server(system_pool: str) -> dict[str, Any]:
    return {"replicas": 2, **system_placement(system_pool)}


def load_balancer_controller(cluster_name: str, region: str, vpc_id: str, role_arn: str, system_pool: str,
                             service_account: str = "aws-load-balancer-controller") -> dict[str, Any]:
    """Region and VPC are given explicitly: with IMDS hop limit 1 the controller cannot look them up.

    The Service mutator webhook is off. The chart (3.5.0) registers `mservice.elbv2.k8s.aws` on every Service
    CREATE with failurePolicy Fail; it only matters for type LoadBalancer Services, which modelstack does not make.
    Left on, every Service in the cluster fails to create while the controller's pods are not ready: the KEDA,
    metrics-server and cluster-autoscaler releases install in parallel with this one and race it.
    """
    return {
        "clusterName": cluster_name,
        "enableServiceMutatorWebhook": False,
        "region": region,
        "vpcId": vpc_id,
        "replicaCount": 2,
        "serviceAccount": {"create": True, "name": service_account, "annotations": {IRSA_ANNOTATION: role_arn}},
        **system_placement(system_pool),
    }


def keda(system_pool: str) -> dict[str, Any]:
    return system_placement(system_pool)


def keda_http_add_on(system_pool: str, drain: Optional[timeouts.Drain] = None) -> dict[str, Any]:
    """The operator, scaler and interceptor (the proxy counting in-flight requests) all on the system pool.

    Interceptor-wide timeouts for routes that set none (each model's InterceptorRoute sets its own): hold a request
    up to INTERCEPTOR_READINESS_SECONDS for a replica (the 0.15.0 default, 0, waits forever) and wait
    INTERCEPTOR_RESPONSE_HEADER_SECONDS for response headers (default 300 s). Shutdown (`drain`, default
    timeouts.interceptor_drain of no routes): `shutdownDelay`, `drainTimeout` and `terminationGracePeriodSeconds`
    (chart 0.15.0 defaults 5 s, 30 s, 45 s) long enough for the longest request a route carries."""
    p = system_placement(system_pool)
    d = drain or timeouts.interceptor_drain(())
    interceptor = {**p, "readinessTimeout": timeouts.duration(timeouts.INTERCEPTOR_READINESS_SECONDS),
                   "responseHeaderTimeout": timeouts.duration(timeouts.INTERCEPTOR_RESPONSE_HEADER_SECONDS),
                   "shutdownDelay": timeouts.duration(d.shutdown_delay_seconds),
                   "drainTimeout": timeouts.duration(d.drain_seconds),
                   "terminationGracePeriodSeconds": d.grace_seconds}
    return {"operator": dict(p), "scaler": dict(p), "interceptor": interceptor}


def keda_charts(system_pool: str, interceptor_drain_seconds: Optional[int] = None) -> dict[str, dict[str, Any]]:
    """The values PlatformAddons installs the `keda` and `keda-add-ons-http` charts with, by chart name.
    `interceptor_drain_seconds`: the routes' longest readiness + response (program.interceptor_drain); default the
    interceptor-wide timeouts' (timeouts.interceptor_drain of no routes). `make e2e` deploys the real add-ons with
    these same values."""
    drain = timeouts.Drain(timeouts.INTERCEPTOR_SHUTDOWN_DELAY_SECONDS,
                           interceptor_drain_seconds or timeouts.interceptor_drain(()).drain_seconds)
    return {"keda": keda(system_pool), "keda-add-ons-http": keda_http_add_on(system_pool, drain)}


def nvidia_device_plugin(node_taints: Sequence[Mapping[str, str]] = ()) -> dict[str, Any]:
    """Runs on GPU nodes only: the chart's default affinity matches `nvidia.com/gpu.present=true`, which our GPU
    node groups set (no node-feature-discovery needed). The chart's tolerations (values `tolerations`, rendered as
    they are by `templates/daemonset-device-plugin.yml`) are replaced: CriticalAddonsOnly, the GPU taint, and every
    taint of the GPU node groups and NodePools (`node_taints`, e.g. a user's `team=vision:NoSchedule`), or the
    plugin never runs there and no `nvidia.com/gpu` is advertised."""
    return {
        "nodeSelector": {labels.GPU_PRESENT_LABEL: "true"},
        "tolerations": labels.tolerations_for(node_taints, CRITICAL_ADDONS_ONLY, labels.k8s_taint(labels.GPU_TAINT)),
    }


PROMETHEUS_SERVER = "prometheus-server"
SCRAPE_INTERVAL_SECONDS = 15
"""How often the in-cluster Prometheus scrapes (the chart's 1m would leave KEDA's windows one sample or none)."""
"""The Prometheus server's Service name (set as `server.fullnameOverride`, so it does not hang on the release name)."""
PROMETHEUS_PORT = 80
"""The server Service's port (`server.service.servicePort`; the chart's default, set explicitly)."""
DCGM_EXPORTER_PORT = 9400
"""dcgm-exporter's metrics port (the chart's `service.port`)."""
TOLERATE_EVERYTHING = {"operator": "Exists"}
"""A toleration with no key matches every taint: GPU, Neuron, system and any taint a node group's config adds."""


EBS_CSI_ADDON = "aws-ebs-csi-driver"
"""The EKS managed add-on of the Amazon EBS CSI driver (kubernetes-sigs/aws-ebs-csi-driver)."""
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
"""The controller's ServiceAccount in kube-system (chart `controller.serviceAccount.name`), bound to its role."""
STORAGE_CLASS = "modelstack-gp3"
"""The StorageClass modelstack's own volumes name (EKS has no default StorageClass from Kubernetes 1.30)."""


def ebs_csi_driver_configuration(system_pool: str) -> dict[str, Any]:
    """aws-ebs-csi-driver add-on configuration: the controller on the system pool (or it waits for a model node).
    The node DaemonSet keeps the chart's `node.tolerateAllTaints: true`: it must run wherever a volume mounts."""
    return {"controller": system_placement(system_pool)}


def storage_class() -> dict[str, Any]:
    """An encrypted gp3 StorageClass of the EBS CSI driver (`ebs.csi.aws.com`; docs/parameters.md at v1.64.0: `type`,
    `encrypted`, the account's default EBS key when `kmsKeyId` is unset). WaitForFirstConsumer creates each volume in
    the zone of the node its pod lands on; volumes can grow; a released volume is deleted (no orphaned EBS cost)."""
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS, "labels": dict(labels.MANAGED_BY)},
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"},
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
    }


def needs_volumes(volume_size: Optional[str], alertmanager: bool) -> bool:
    """Whether the Prometheus release asks for PersistentVolumeClaims: a server volume, or alertmanager (whose chart
    keeps its state on a 50Mi claim by default)."""
    return bool(volume_size) or alertmanager


class AddonSwitches(TypedDict, total=False):
    """The PlatformAddons arguments that decide which optional add-ons run (`installed`)."""
    load_balancer_controller: bool
    prometheus: bool
    prometheus_alertmanager: bool
    prometheus_volume_size: Optional[str]


@dataclass(frozen=True)
class Installed:
    """Which of PlatformAddons' optional add-ons run, as it decides from its arguments."""
    load_balancer_controller: bool
    prometheus: bool
    alertmanager: bool
    ebs_csi_driver: bool


def installed(args: Mapping[str, Any]) -> Installed:
    """The optional add-ons PlatformAddons installs for `args`, with its defaults: the load balancer controller and
    Prometheus on, Alertmanager off, the EBS CSI driver only when Prometheus asks for a volume (unless
    `ebs_csi_driver` says otherwise). The component and the system group's sizing both read this."""
    prom = bool(args.get("prometheus", True))
    alertmanager = prom and bool(args.get("prometheus_alertmanager", False))
    volumes = prom and needs_volumes(args.get("prometheus_volume_size"), alertmanager)
    return Installed(load_balancer_controller=bool(args.get("load_balancer_controller", True)), prometheus=prom,
                     alertmanager=alertmanager, ebs_csi_driver=bool(args.get("ebs_csi_driver", volumes)))


def prometheus(system_pool: str, retention: str = "1d", volume_size: Optional[str] = None,
               scrape_interval: str = f"{SCRAPE_INTERVAL_SECONDS}s", alertmanager: bool = False, pushgateway: bool = False) -> dict[str, Any]:
    """The Prometheus server KEDA queries for the gpu and prometheus signals, on the system pool.

    - `volume_size` None keeps the TSDB on an emptyDir (KEDA's queries look back one window, so losing history on a
      restart is acceptable by default). With a size, the server's claim and alertmanager's name STORAGE_CLASS,
      which PlatformAddons installs with the EBS CSI driver (EKS has no default class from 1.30, so a claim naming
      none would stay Pending).
    - Scrape every 15 s (the chart's 1m would leave a 60 s `avg_over_time` window with zero or one sample).
    - node-exporter and kube-state-metrics are off: no KEDA query reads them, and node-exporter is one more
      DaemonSet on every (GPU) node. Container CPU/memory still come from the kubelet's cAdvisor job.
    """
    server: dict[str, Any] = {
        "fullnameOverride": PROMETHEUS_SERVER,
        "service": {"servicePort": PROMETHEUS_PORT},
        "retention": retention,
        "global": {"scrape_interval": scrape_interval},
        "persistentVolume": ({"enabled": True, "size": volume_size, "storageClass": STORAGE_CLASS} if volume_size
                             else {"enabled": False}),
        **system_placement(system_pool),
    }
    values: dict[str, Any] = {
        "server": server,
        "alertmanager": {"enabled": alertmanager},
        "prometheus-pushgateway": {"enabled": pushgateway},
        "kube-state-metrics": {"enabled": False},
        "prometheus-node-exporter": {"enabled": False},
    }
    for key, on in (("alertmanager", alertmanager), ("prometheus-pushgateway", pushgateway)):
        if on:
            values[key].update(system_placement(system_pool))
    if alertmanager:  # the alertmanager subchart (1.42.*) keeps a 50Mi `persistence` claim by default
        values["alertmanager"]["persistence"] = {"storageClass": STORAGE_CLASS}
    return values


def dcgm_exporter() -> dict[str, Any]:
    """GPU metrics from every GPU node, with the `pod`, `namespace` and `container` of the pod using each GPU.

    The chart always runs the exporter in Kubernetes mode (DCGM_EXPORTER_KUBERNETES=true) with the 2.x label names.
    Prometheus finds it by the Service annotation (the prometheus chart's `kubernetes-service-endpoints` job, which
    has `honor_labels: true`: the exporter's `namespace`/`pod` win over the target's, no `exported_` prefix).
    The chart's ServiceMonitor is off: it needs the prometheus-operator CRDs, which are not installed.
    """
    return {
        "nodeSelector": {labels.GPU_PRESENT_LABEL: "true"},
        "tolerations": [TOLERATE_EVERYTHING],
        "service": {"annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": str(DCGM_EXPORTER_PORT)}},
        "serviceMonitor": {"enabled": False},
    }


def coredns_configuration(system_pool: str) -> dict[str, Any]:
    """coredns managed add-on configuration: on the system pool, or it would stay Pending while model groups are at 0."""
    return {"replicaCount": 2, **system_placement(system_pool)}


def neuron_device_plugin(node_taints: Sequence[Mapping[str, str]] = ()) -> dict[str, Any]:
    """neuron-helm-chart values (chart 1.9.0, aws-neuron/neuron-helm-charts b77a6f9): the device plugin only.

    The chart's device plugin DaemonSet tolerates `aws.amazon.com/neuron:NoSchedule` (our Inferentia taint) and
    selects Neuron instance types by node affinity; `devicePlugin.tolerations` replaces the chart's list, so it is
    restated (CriticalAddonsOnly, the Neuron taint) with every taint of the Inferentia node groups and NodePools
    (`node_taints`). node-problem-detector (`npd`, on by default, on every node) is turned off: modelstack does not
    act on its conditions.
    """
    return {
        "devicePlugin": {"enabled": True, "tolerations": labels.tolerations_for(
            node_taints, CRITICAL_ADDONS_ONLY,
            {"key": labels.NEURON_TAINT["key"], "operator": "Exists", "effect": labels.NEURON_TAINT["effect"]})},
        "npd": {"enabled": False},
        "scheduler": {"enabled": False},
    }
