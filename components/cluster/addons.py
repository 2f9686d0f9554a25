"""Platform add-ons every model API relies on: cluster DNS, metrics, the load balancer controller, KEDA and its
HTTP add-on (in-flight request scaling, scale to zero), the NVIDIA device plugin when GPU nodes exist, the AWS
Neuron device plugin when Inferentia/Trainium nodes exist, the
Prometheus KEDA queries for the gpu and prometheus signals (with the DCGM exporter's GPU metrics on GPU nodes), and
the EBS CSI driver with an encrypted gp3 StorageClass when Prometheus keeps its data on a volume."""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional, Sequence, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from typing_extensions import NotRequired

from modelstack.render import addon_values, alerts, iam, observability
from modelstack.render.charts import CHARTS
from modelstack.cluster import helm
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
    """metrics-server chart version. Default "3.13.1" (app 0.8.1)."""
    load_balancer_controller: NotRequired[bool]
    """Install the AWS Load Balancer Controller (shared ingress). Default True."""
    load_balancer_controller_version: NotRequired[str]
    """aws-load-balancer-controller chart version. Default "3.5.0" (app v3.5.0, matching the IAM policy file)."""
    keda: NotRequired[bool]
    """Install KEDA and its HTTP add-on (model API autoscaling and scale to zero). Default True."""
    keda_version: NotRequired[str]
    """keda chart version. Default "2.20.2"."""
    interceptor_drain_seconds: NotRequired[int]
    """How long a stopping interceptor waits for the requests in flight: the longest readiness + response of the
    routes through it (render/timeouts.interceptor_drain; its grace period adds the shutdown delay). Default: the
    interceptor-wide timeouts' (900 s + 600 s)."""
    keda_http_add_on_version: NotRequired[str]
    """keda-add-ons-http chart version. Default "0.15.0"."""
    nvidia_device_plugin: NotRequired[bool]
    """Install the NVIDIA device plugin (the AL2023 NVIDIA AMI has drivers but not the plugin). Default False;
    set it when any GPU node group exists."""
    nvidia_device_plugin_version: NotRequired[str]
    """nvidia-device-plugin chart version. Default "0.20.0"."""
    gpu_node_taints: NotRequired[Sequence[Mapping[str, str]]]
    """Every taint of the GPU node groups and NodePools (key, value, effect), tolerated by the NVIDIA device plugin so
    that it runs on all of them. Default: the GPU taint only."""
    neuron_device_plugin: NotRequired[bool]
    """Install the AWS Neuron device plugin (aws.amazon.com/neuron and neuroncore on inf/trn nodes; without it
    Neuron pods never schedule). Default False; set it when any inferentia node group exists."""
    neuron_node_taints: NotRequired[Sequence[Mapping[str, str]]]
    """Every taint of the Inferentia node groups and NodePools, tolerated by the Neuron device plugin. Default: the
    Neuron taint only."""
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
    """Size of a PersistentVolumeClaim for the TSDB, e.g. "20Gi", on the StorageClass `modelstack-gp3` (with it
    the EBS CSI driver is installed). Default None: an emptyDir, lost when the pod moves."""
    prometheus_alertmanager: NotRequired[bool]
    """Also install the chart's alertmanager (on the system pool). Default False."""
    prometheus_pushgateway: NotRequired[bool]
    """Also install the chart's pushgateway (on the system pool). Default False."""
    ebs_csi_driver: NotRequired[bool]
    """Install the aws-ebs-csi-driver managed add-on (its controller on the system pool, with a role of its own
    through Pod Identity, or IRSA without the agent) and the encrypted gp3 StorageClass `modelstack-gp3`. Default:
    when Prometheus asks for a volume (`prometheus_volume_size`, or `prometheus_alertmanager`)."""
    ebs_csi_driver_version: NotRequired[pulumi.Input[str]]
    """Its add-on version. Default: the newest EKS offers for the cluster version (follows upgrades)."""
    prometheus_values: NotRequired[dict[str, Any]]
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
    """Managed add-ons that need nodes (coredns, pod identity agent; the EBS CSI driver and its StorageClass when a
    Prometheus volume asks for them) and the platform Helm releases.

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
        agent: Optional[aws.eks.Addon] = None
        if args.get("pod_identity_agent", True):
            agent = aws.eks.Addon(f"{name}-pod-identity-agent", cluster_name=h.cluster_name,
                                  addon_name="eks-pod-identity-agent",
                                  addon_version=addon_version("eks-pod-identity-agent", args.get("pod_identity_agent_version")),
                                  resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
                                  tags=tags, opts=child)

        # Volumes: the EBS CSI driver (its own role) and an encrypted gp3 StorageClass, when a release asks for a claim.
        installs = addon_values.installed(args)
        storage: list[pulumi.Resource] = []
        if installs.ebs_csi_driver:
            sa = addon_values.EBS_CSI_SERVICE_ACCOUNT
            if agent is not None:
                trust: pulumi.Input[str] = iam.to_json(iam.pod_identity_trust_policy())
            else:
                trust = pulumi.Output.all(h.oidc_provider_arn, h.oidc_provider_url).apply(
                    lambda a: json.dumps(iam.irsa_trust_policy(a[0], a[1], "kube-system", sa)))
            role = aws.iam.Role(f"{name}-ebs-csi", assume_role_policy=trust,
                                description=f"aws-ebs-csi-driver controller ({'pod identity' if agent else 'IRSA'})",
                                tags=tags, opts=child)
            first: list[pulumi.Resource] = [aws.iam.RolePolicyAttachment(
                f"{name}-ebs-csi", role=role.name, policy_arn=iam.managed_policy_arn(iam.EBS_CSI_DRIVER_POLICY), opts=child)]
            if agent is not None:
                # Before the add-on: the agent's webhook gives credentials only to pods created after the association.
                first += [agent, aws.eks.PodIdentityAssociation(
                    f"{name}-ebs-csi", cluster_name=h.cluster_name, namespace="kube-system", service_account=sa,
                    role_arn=role.arn, tags=tags, opts=child)]
            storage.append(aws.eks.Addon(
                f"{name}-ebs-csi-driver", cluster_name=h.cluster_name, addon_name=addon_values.EBS_CSI_ADDON,
                addon_version=addon_version(addon_values.EBS_CSI_ADDON, args.get("ebs_csi_driver_version")),
                configuration_values=json.dumps(addon_values.ebs_csi_driver_configuration(pool)),
                service_account_role_arn=None if agent is not None else role.arn,
                resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE", tags=tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*deps, *first])))
            sc = addon_values.storage_class()
            storage.append(k8s.storage.v1.StorageClass(
                f"{name}-storage-class", metadata=sc["metadata"], provisioner=sc["provisioner"],
                parameters=sc["parameters"], reclaim_policy=sc["reclaimPolicy"],
                volume_binding_mode=sc["volumeBindingMode"], allow_volume_expansion=sc["allowVolumeExpansion"],
                opts=pulumi.ResourceOptions(parent=self, provider=h.provider, depends_on=deps)))

        self.releases = {}

        def release(key: str, chart: str, version: Optional[str], values: pulumi.Input[dict[str, Any]],
                    extra_deps: Sequence[pulumi.Resource] = ()) -> k8s.helm.v3.Release:
            pin = CHARTS[chart]
            r = helm.release(f"{name}-{key}", chart=chart, pin=pin, release_name=chart, version=version, values=values,
                             create_namespace=pin.namespace != "kube-system", provider=h.provider, parent=self,
                             depends_on=[*deps, *extra_deps])
            self.releases[chart] = r
            return r

        release("metrics-server", "metrics-server", args.get("metrics_server_version"), addon_values.metrics_server(pool))

        self.load_balancer_controller_role_arn = pulumi.Output.from_input(None)
        if installs.load_balancer_controller:
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
            keda_values = addon_values.keda_charts(pool, args.get("interceptor_drain_seconds"))
            keda = release("keda", "keda", args.get("keda_version"), keda_values["keda"])
            release("keda-http", "keda-add-ons-http", args.get("keda_http_add_on_version"),
                    keda_values["keda-add-ons-http"], extra_deps=[keda])

        if args.get("nvidia_device_plugin", False):
            release("nvidia-device-plugin", "nvidia-device-plugin", args.get("nvidia_device_plugin_version"),
                    addon_values.nvidia_device_plugin(list(args.get("gpu_node_taints") or ())))

        if args.get("neuron_device_plugin", False):
            self.releases["neuron-helm-chart"] = helm.release(
                f"{name}-neuron-device-plugin", chart="neuron-helm-chart", pin=CHARTS["neuron-helm-chart"],
                release_name="neuron", version=args.get("neuron_version"), values=addon_values.neuron_device_plugin(list(args.get("neuron_node_taints") or ())),
                provider=h.provider, parent=self, depends_on=deps)

        self.prometheus_address = pulumi.Output.from_input(None)
        if installs.prometheus:
            prometheus_values = observability.merge(addon_values.prometheus(
                pool, retention=args.get("prometheus_retention", "1d"), volume_size=args.get("prometheus_volume_size"),
                alertmanager=installs.alertmanager,
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
            prometheus = release("prometheus", "prometheus", args.get("prometheus_version"), prometheus_values,
                                 extra_deps=storage + before)
            self.prometheus_address = pulumi.Output.from_input(PROMETHEUS_ADDRESS)
            if args.get("dcgm_exporter", False):
                # After the prometheus release: both create the namespace.
                release("dcgm-exporter", "dcgm-exporter", args.get("dcgm_exporter_version"),
                        addon_values.dcgm_exporter(), extra_deps=[prometheus])

        self.register_outputs({"load_balancer_controller_role_arn": self.load_balancer_controller_role_arn,
                               "prometheus_address": self.prometheus_address})
