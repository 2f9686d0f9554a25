"""The Helm charts modelstack installs, each pinned to facts read from its upstream source at that version.

Every pin carries what we rely on: the app version, the images the chart runs with our values (registry
included), the Kubernetes minors upstream tests it on, and where that was read. The full record, with paths
and commits, is `components/data/UPSTREAM.md`; `tests/render/test_charts.py` holds the pins to it (app minor vs
cluster minor, no image from a registry that stopped serving, every supported Kubernetes minor in range).

cluster-autoscaler is pinned per Kubernetes minor: its minor must equal the cluster's (1.35 always watches
`resource.k8s.io` objects, which only charts of app 1.35 grant), so the image is never forced across minors.
"""

from __future__ import annotations

from typing import NamedTuple, Optional


class Chart(NamedTuple):
    repo: str
    """Helm repository URL (or `oci://...`)."""
    namespace: str
    version: str
    """Chart version."""
    app_version: str
    """The chart's appVersion: the version of what it runs."""
    images: tuple[str, ...]
    """Images the chart runs with our values, `registry/repository:tag`."""
    kubernetes: tuple[Optional[str], Optional[str]]
    """Kubernetes minors upstream supports or tests it on, (lowest, highest); None where upstream states no bound."""
    source: str
    """Where the facts were read: `owner/repo@tag:path` (details in data/UPSTREAM.md)."""

    @property
    def app_minor(self) -> str:
        """"1.35" for app version "1.35.0" or "v1.35.0"."""
        return ".".join(self.app_version.lstrip("v").split(".")[:2])


_CA_REPO = "https://kubernetes.github.io/autoscaler"

#: cluster-autoscaler by Kubernetes minor: the chart whose appVersion has that minor.
CLUSTER_AUTOSCALER: dict[str, Chart] = {
    "1.34": Chart(_CA_REPO, "kube-system", "9.53.0", "1.34.2",
                  ("registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.2",), ("1.34", "1.34"),
                  "kubernetes/autoscaler@cluster-autoscaler-chart-9.53.0:cluster-autoscaler/charts/cluster-autoscaler/"),
    "1.35": Chart(_CA_REPO, "kube-system", "9.59.0", "1.35.0",
                  ("registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.0",), ("1.35", "1.35"),
                  "kubernetes/autoscaler@cluster-autoscaler-chart-9.59.0:cluster-autoscaler/charts/cluster-autoscaler/"),
}

#: The Kubernetes minors modelstack supports: those every pinned chart is supported or tested on.
KUBERNETES_VERSIONS: tuple[str, ...] = tuple(CLUSTER_AUTOSCALER)

CHARTS: dict[str, Chart] = {
    "cluster-autoscaler": CLUSTER_AUTOSCALER[KUBERNETES_VERSIONS[-1]],
    "metrics-server": Chart(
        "https://kubernetes-sigs.github.io/metrics-server/", "kube-system", "3.13.1", "0.8.1",
        ("registry.k8s.io/metrics-server/metrics-server:v0.8.1",), ("1.31", None),
        "kubernetes-sigs/metrics-server@metrics-server-helm-chart-3.13.1:charts/metrics-server/, README.md"),
    "aws-load-balancer-controller": Chart(
        "https://aws.github.io/eks-charts", "kube-system", "3.5.0", "v3.5.0",
        ("public.ecr.aws/eks/aws-load-balancer-controller:v3.5.0",), ("1.22", None),
        "aws/eks-charts@5239609:stable/aws-load-balancer-controller/; kubernetes-sigs/aws-load-balancer-controller@v3.5.0"),
    "keda": Chart(
        "https://kedacore.github.io/charts", "keda", "2.20.2", "2.20.2",
        ("ghcr.io/kedacore/keda:2.20.2", "ghcr.io/kedacore/keda-metrics-apiserver:2.20.2",
         "ghcr.io/kedacore/keda-admission-webhooks:2.20.2"), ("1.33", "1.35"),
        "kedacore/charts@v2.20.2:keda/; kedacore/keda-docs:content/docs/2.20/operate/cluster.md"),
    "keda-add-ons-http": Chart(
        "https://kedacore.github.io/charts", "keda", "0.15.0", "0.15.0",
        ("ghcr.io/kedacore/http-add-on-operator:0.15.0", "ghcr.io/kedacore/http-add-on-interceptor:0.15.0",
         "ghcr.io/kedacore/http-add-on-scaler:0.15.0"), ("1.34", "1.36"),
        "kedacore/charts@c4b92e9:http-add-on/; kedacore/http-add-on@v0.15.0 (.github/workflows/e2e-tests.yaml)"),
    "nvidia-device-plugin": Chart(
        "https://nvidia.github.io/k8s-device-plugin", "kube-system", "0.20.0", "0.20.0",
        ("nvcr.io/nvidia/k8s-device-plugin:v0.20.0",), ("1.10", None),
        "NVIDIA/k8s-device-plugin@v0.20.0:deployments/helm/nvidia-device-plugin/"),
    "prometheus": Chart(
        "https://prometheus-community.github.io/helm-charts", "monitoring", "29.27.0", "v3.14.0",
        ("quay.io/prometheus/prometheus:v3.14.0", "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1"),
        ("1.19", None), "prometheus-community/helm-charts@prometheus-29.27.0:charts/prometheus/"),
    "dcgm-exporter": Chart(
        "https://nvidia.github.io/dcgm-exporter/helm-charts", "monitoring", "4.8.2", "4.8.2",
        ("nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless",), ("1.19", None),
        "NVIDIA/dcgm-exporter@4.5.3-4.8.2:deployment/"),
    "karpenter": Chart(
        "oci://public.ecr.aws/karpenter", "kube-system", "1.14.1", "1.14.1",
        ("public.ecr.aws/karpenter/controller:1.14.1",), ("1.26", "1.36"),
        "aws/karpenter-provider-aws@v1.14.1:charts/karpenter/, pkg/providers/version/version.go"),
    "aws-for-fluent-bit": Chart(
        "https://aws.github.io/eks-charts", "logging", "0.2.0", "3.2.1",
        ("public.ecr.aws/aws-observability/aws-for-fluent-bit:3.2.1",), (None, None),
        "aws/eks-charts@2942cdce:stable/aws-for-fluent-bit/ (Chart.yaml states no kubeVersion)"),
    "grafana": Chart(
        "https://grafana.github.io/helm-charts", "monitoring", "10.5.15", "12.3.1",
        ("docker.io/grafana/grafana:12.3.1",), ("1.8", None),
        "grafana/helm-charts@grafana-10.5.15:charts/grafana/ (kubeVersion ^1.8.0-0: no upper bound)"),
    "neuron-helm-chart": Chart(
        "oci://public.ecr.aws/neuron", "kube-system", "1.9.0", "1.9.0",
        ("public.ecr.aws/neuron/neuron-device-plugin:2.31.0.0",), (None, None),
        "aws-neuron/neuron-helm-charts@b77a6f90:charts/neuron-helm-chart/ (no kubeVersion read)"),
}

#: Registries that stopped serving images, and since when (a pull from them fails: ImagePullBackOff).
STOPPED_REGISTRIES: dict[str, str] = {
    "gcr.io/kubebuilder": "kubebuilder stopped publishing kube-rbac-proxy there (2025); keda-add-ons-http <= 0.11.1 ran it",
    "k8s.gcr.io": "frozen since 2023-04-03; Kubernetes images moved to registry.k8s.io",
}


def chart(name: str, kubernetes_version: str) -> Chart:
    """The pinned chart `name` for a cluster of that Kubernetes minor (only cluster-autoscaler depends on it)."""
    if name == "cluster-autoscaler":
        return CLUSTER_AUTOSCALER[kubernetes_version]
    return CHARTS[name]


def known_versions(name: str) -> tuple[str, ...]:
    """Chart versions we hold facts for (a stack may pin only these)."""
    if name == "cluster-autoscaler":
        return tuple(c.version for c in CLUSTER_AUTOSCALER.values())
    return (CHARTS[name].version,)
