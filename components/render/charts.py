"""The Helm charts modelstack installs: repository, namespace and default version of each, in one place.

The versions are defaults for the components; stacks pin their own in `cluster.charts` (config.Charts takes
its defaults from here).
"""

from __future__ import annotations

from typing import NamedTuple


class Chart(NamedTuple):
    repo: str
    namespace: str
    version: str


CHARTS: dict[str, Chart] = {
    "cluster-autoscaler": Chart("https://kubernetes.github.io/autoscaler", "kube-system", "9.46.6"),
    "metrics-server": Chart("https://kubernetes-sigs.github.io/metrics-server/", "kube-system", "3.12.2"),
    "aws-load-balancer-controller": Chart("https://aws.github.io/eks-charts", "kube-system", "1.13.3"),
    "keda": Chart("https://kedacore.github.io/charts", "keda", "2.17.2"),
    "keda-add-ons-http": Chart("https://kedacore.github.io/charts", "keda", "0.10.0"),
    "nvidia-device-plugin": Chart("https://nvidia.github.io/k8s-device-plugin", "kube-system", "0.17.1"),
    "prometheus": Chart("https://prometheus-community.github.io/helm-charts", "monitoring", "29.27.0"),
    "dcgm-exporter": Chart("https://nvidia.github.io/dcgm-exporter/helm-charts", "monitoring", "4.8.2"),
    "aws-for-fluent-bit": Chart("https://aws.github.io/eks-charts", "logging", "0.2.0"),
    "neuron-helm-chart": Chart("oci://public.ecr.aws/neuron", "kube-system", "1.9.0"),
}
