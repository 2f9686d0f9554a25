"""Platform add-ons every model API relies on: cluster DNS, metrics, the load balancer controller, KEDA and its
HTTP add-on (in-flight request scaling, scale to zero), the NVIDIA device plugin when GPU nodes exist, the AWS
Neuron device plugin when Inferentia/Trainium nodes exist, and the
Prometheus KEDA queries for the gpu and prometheus signals (with the DCGM exporter's GPU metrics on GPU nodes)."""

from __future__ import annotations

import json
from typing import Optional, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from typing_extensions import NotRequired

from modelstack.render import addon_values, alerts, iam, observability, timeouts
from modelstack.render.charts import CHARTS
from modelstack.cluster.handle import ClusterHandle, inherited_depends_on

TYPE = "modelstack:index:PlatformAddons"

LBC_SERVICE_ACCOUNT = "aws-load-balancer-controller"

PROMETHEUS_ADDRESS = (f"http://{addon_values.PROMETHEUS_SERVER}.{CHARTS['prometheus'].namespace}.svc:"
                      f"{addon_values.PROMETHEUS_PORT}")
"""The in-cluster URL of the Prometheus server this component installs (what ModelAPI's prometheus_address takes)."""


class PlatformAddonsArgs(TypedDict):
    handle: ClusterHandle
    """The cluster. Required."""
    region: str
    """AWS region of the cluster. Required."""
    system_node_pool: NotRequired[str]
    """Pool every add-on runs on (tolerating SYSTEM_TAINT). Default "system"."""
    coredns_version: NotRequired[pulumi.Input[str]]
    """coredns managed add-on version. Default: the newest EKS offers for the cluster version (follows upgrades)."""
    pod_identity_agent: NotRequired[bool]
    """Install the eks-pod-identity-agent managed add-on (lets model APIs use EKS Pod Identity). Default True."""
    pod_identity_agent_version: NotRequired[pulumi.Input[str]]
    """Its version. Default: the newest for the cluster version."""
    metrics_server_version: NotRequired[str]
    """metrics-server chart version. Default "3.12.2"."""
    load_balancer_controller: NotRequired[bool]
    """Install the AWS Load Balancer Controller (shared ingress). Default True."""
    load_balancer_controller_version: NotRequired[str]
    """aws-load-balancer-controller chart version. Default "1.13.3" (app v2.13.3, matching the IAM policy file)."""
    keda: NotRequired[bool]
    """Install KEDA and its HTTP add-on (model API autoscaling and scale to zero). Default True."""
    keda_version: NotRequired[str]
    """keda chart version. Default "2.17.2"."""
    keda_http_add_on_version: NotRequired[str]
    """keda-add-ons-http chart version. Default "0.10.0"."""
    nvidia_device_plugin: NotRequired[bool]
    """Install the NVIDIA device plugin (the AL2023 NVIDIA AMI has drivers but not the plugin). Default False;
    set it when any GPU node group exists."""
    nvidia_device_plugin_version: NotRequired[str]
    """nvidia-device-plugin chart version. Default "0.17.1"."""
    neuron_device_plugin: NotRequired[bool]
    """Install the AWS Neuron device plugin (aws.amazon.com/neuron and neuroncore on inf/trn nodes; without it
    Neuron pods never schedule). Default False; set it when any inferentia node group exists."""
    neuron_version: NotRequired[str]
    """neuron-helm-chart (oci://public.ecr.aws/neuron) version. Default "1.9.0" (device plugin 2.31.0.0)."""
    prometheus: NotRequired[bool]
    """Install Prometheus (prometheus-community/prometheus) at PROMETHEUS_ADDRESS, server on the system pool. Default
    True; alertmanager, pushgateway, node-exporter and kube-state-metrics off."""
    prometheus_version: NotRequired[str]
    """prometheus chart version. Default "29.27.0"."""
    prometheus_retention: NotRequired[str]
    """How long Prometheus keeps samples. Default "1d" (KEDA's queries look back one window)."""
    prometheus_volume_size: NotRequired[Optional[str]]
    """Size of a PersistentVolumeClaim for the TSDB, e.g. "20Gi" (needs the EBS CSI driver and a default
    StorageClass, not installed by modelstack). Default None: an emptyDir, lost when the pod moves."""
    prometheus_alertmanager: NotRequired[bool]
    """Also install the chart's alertmanager (on the system pool). Default False."""
    prometheus_pushgateway: NotRequired[bool]
    """Also install the chart's pushgateway (on the system pool). Default False."""
    prometheus_values: NotRequired[dict]
    """Values merged over modelstack's for the prometheus release (render/observability.py: rule files,
    kube-state-metrics, Alertmanager). Default none."""
    alertmanager_sns_topic_arns: NotRequired[list[str]]
    """SNS topics the chart's Alertmanager publishes to: a role allowed sns:Publish on them only, bound to its
    ServiceAccount through EKS Pod Identity before the release installs. Default none."""
    dcgm_exporter: NotRequired[bool]
    """Install NVIDIA's DCGM exporter on GPU nodes (GPU utilization for signal gpu), scraped by that Prometheus.
    Default False; set it when any GPU node group exists. Only installed with `prometheus`."""
    dcgm_exporter_version: NotRequired[str]
    """dcgm-exporter chart version. Default "4.8.2"."""
    tags: NotRequired[dict[str, str]]
    """AWS tags on IAM resources and managed add-ons. Default: none."""


class PlatformAddons(pulumi.ComponentResource):
    """Managed add-ons that need nodes (coredns, pod identity agent) and the platform Helm releases.

    Create it with `depends_on=[<system node group>]`: children inherit that dependency, so coredns and the charts
    are installed once there are nodes to run them.
    """

    releases: dict[str, k8s.helm.v3.Release]
    """Helm releases by chart name (Python attribute)."""
    load_balancer_controller_role_arn: pulumi.Output[Optional[str]]
    """IRSA role of the load balancer controller (None when not installed)."""
    prometheus_address: pulumi.Output[Optional[str]]
    """PROMETHEUS_ADDRESS when Prometheus is installed, else None."""

    def __init__(self, name: str, args: PlatformAddonsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, None, opts)
        h = args["handle"]
        deps = inherited_depends_on(opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=deps)
        tags = dict(args.get("tags") or {})
        pool = args.get("system_node_pool", "system")

        def addon_version(addon: str, pinned: Optional[pulumi.Input[str]]) -> pulumi.Input[str]:
            if pinned is not None:
                return pinned
            return aws.eks.get_addon_version_output(addon_name=addon, kubernetes_version=h.kubernetes_version,
                                                    most_recent=True, opts=pulumi.InvokeOptions(parent=self)).version

        aws.eks.Addon(f"{name}-coredns", cluster_name=h.cluster_name, addon_name="coredns",
                      addon_version=addon_version("coredns", args.get("coredns_version")),
                      configuration_values=json.dumps(addon_values.coredns_configuration(pool)),
                      resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
                      tags=tags, opts=child)
        if args.get("pod_identity_agent", True):
            aws.eks.Addon(f"{name}-pod-identity-agent", cluster_name=h.cluster_name, addon_name="eks-pod-identity-agent",
                          addon_version=addon_version("eks-pod-identity-agent", args.get("pod_identity_agent_version")),
                          resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
                          tags=tags, opts=child)

        self.releases = {}

        def release(key: str, chart: str, version: Optional[str], values: pulumi.Input[dict], extra_deps=()) -> k8s.helm.v3.Release:
            pin = CHARTS[chart]
            r = k8s.helm.v3.Release(
                f"{name}-{key}", name=chart, chart=chart, version=version or pin.version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=pin.repo), namespace=pin.namespace,
                create_namespace=pin.namespace != "kube-system", values=values,
                # The pods may wait for cluster-autoscaler to add a system node: longer than Helm's 300 s default.
                timeout=timeouts.HELM_RELEASE_TIMEOUT_SECONDS,
                opts=pulumi.ResourceOptions(parent=self, provider=h.provider, depends_on=[*deps, *extra_deps]))
            self.releases[chart] = r
            return r

        release("metrics-server", "metrics-server", args.get("metrics_server_version"), addon_values.metrics_server(pool))

        self.load_balancer_controller_role_arn = pulumi.Output.from_input(None)
        if args.get("load_balancer_controller", True):
            role = aws.iam.Role(
                f"{name}-lbc",
                assume_role_policy=pulumi.Output.all(h.oidc_provider_arn, h.oidc_provider_url).apply(
                    lambda a: json.dumps(iam.irsa_trust_policy(a[0], a[1], "kube-system", LBC_SERVICE_ACCOUNT))),
                description="aws-load-balancer-controller (IRSA)", tags=tags, opts=child)
            policy = aws.iam.Policy(f"{name}-lbc", description="AWS Load Balancer Controller (official policy)",
                                    policy=iam.to_json(iam.load_balancer_controller_policy()), tags=tags, opts=child)
            attach = aws.iam.RolePolicyAttachment(f"{name}-lbc", role=role.name, policy_arn=policy.arn, opts=child)
            values = pulumi.Output.all(h.cluster_name, h.vpc_id, role.arn).apply(
                lambda a: addon_values.load_balancer_controller(a[0], args["region"], a[1], a[2], pool, LBC_SERVICE_ACCOUNT))
            release("aws-load-balancer-controller", "aws-load-balancer-controller",
                    args.get("load_balancer_controller_version"), values, extra_deps=[attach])
            self.load_balancer_controller_role_arn = role.arn

        if args.get("keda", True):
            keda = release("keda", "keda", args.get("keda_version"), addon_values.keda(pool))
            release("keda-http", "keda-add-ons-http", args.get("keda_http_add_on_version"),
                    addon_values.keda_http_add_on(pool), extra_deps=[keda])

        if args.get("nvidia_device_plugin", False):
            release("nvidia-device-plugin", "nvidia-device-plugin", args.get("nvidia_device_plugin_version"),
                    addon_values.nvidia_device_plugin())

        if args.get("neuron_device_plugin", False):
            pin = CHARTS["neuron-helm-chart"]
            # An OCI chart: the reference is the chart, there is no repository index.
            self.releases["neuron-helm-chart"] = k8s.helm.v3.Release(
                f"{name}-neuron-device-plugin", name="neuron", chart=f"{pin.repo}/neuron-helm-chart",
                version=args.get("neuron_version") or pin.version, namespace=pin.namespace,
                values=addon_values.neuron_device_plugin(), timeout=timeouts.HELM_RELEASE_TIMEOUT_SECONDS,
                opts=pulumi.ResourceOptions(parent=self, provider=h.provider, depends_on=deps))

        self.prometheus_address = pulumi.Output.from_input(None)
        if args.get("prometheus", True):
            values = observability.merge(addon_values.prometheus(
                pool, retention=args.get("prometheus_retention", "1d"), volume_size=args.get("prometheus_volume_size"),
                alertmanager=args.get("prometheus_alertmanager", False),
                pushgateway=args.get("prometheus_pushgateway", False)), args.get("prometheus_values") or {})
            before: list[pulumi.Resource] = []
            if args.get("alertmanager_sns_topic_arns"):
                am = aws.iam.Role(f"{name}-alertmanager", assume_role_policy=iam.to_json(iam.pod_identity_trust_policy()),
                                  description="Alertmanager: publish alerts to SNS (pod identity)", tags=tags, opts=child)
                before.append(aws.iam.RolePolicy(f"{name}-alertmanager", role=am.id, opts=child, policy=iam.to_json(
                    alerts.sns_publish_policy(args["alertmanager_sns_topic_arns"]))))
                before.append(aws.eks.PodIdentityAssociation(
                    f"{name}-alertmanager", cluster_name=h.cluster_name, namespace=CHARTS["prometheus"].namespace,
                    service_account=alerts.ALERTMANAGER_SERVICE_ACCOUNT, role_arn=am.arn, tags=tags, opts=child))
            prometheus = release("prometheus", "prometheus", args.get("prometheus_version"), values, extra_deps=before)
            self.prometheus_address = pulumi.Output.from_input(PROMETHEUS_ADDRESS)
            if args.get("dcgm_exporter", False):
                # After the prometheus release: both create the namespace.
                release("dcgm-exporter", "dcgm-exporter", args.get("dcgm_exporter_version"),
                        addon_values.dcgm_exporter(), extra_deps=[prometheus])

        self.register_outputs({"load_balancer_controller_role_arn": self.load_balancer_controller_role_arn,
                               "prometheus_address": self.prometheus_address})
