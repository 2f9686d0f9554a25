"""ModelAPI: a trained model served as an autoscaling HTTP API (Cortex's RealtimeAPI as one Pulumi component)."""

import re
import sys
from typing import Any, Mapping, Optional, TypedDict, cast

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pulumi_kubernetes.apiextensions import CustomResource

from modelstack.render import autoscaling, iam, ingress, labels, manifests, timeouts
from modelstack.render import proxy as proxy_config
from modelstack.render.charts import CHARTS

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # pragma: no cover
    from typing_extensions import NotRequired

TYPE_TOKEN = "modelstack:index:ModelAPI"
DEFAULT_NAMESPACE = "models"
ACCELERATORS = ("none", "gpu", "inferentia")


class ComputeArgs(TypedDict):
    """Per-container resources. `gpu` and `inferentia` are mutually exclusive."""

    cpu: NotRequired[pulumi.Input[str]]
    """CPU request, e.g. "500m" or "2". Default "200m" (Cortex's). No CPU limit unless `cpu_limit`."""
    cpu_limit: NotRequired[Optional[pulumi.Input[str]]]
    """CPU limit. Default none: throttling adds tail latency (see CHECKOV_EXCEPTIONS.md)."""
    memory: NotRequired[Optional[pulumi.Input[str]]]
    """Memory request and limit, e.g. "2Gi". Default none."""
    gpu: NotRequired[pulumi.Input[int]]
    """NVIDIA GPUs, requested and limited (nvidia.com/gpu). Default 0. Excludes `inferentia`."""
    inferentia: NotRequired[pulumi.Input[int]]
    """Neuron devices, requested and limited (aws.amazon.com/neuron). Default 0. Excludes `gpu`."""
    hugepages: NotRequired[Optional[pulumi.Input[str]]]
    """hugepages-2Mi requested and limited, e.g. "256Mi" (Cortex gave each Inferentia chip 256Mi); the nodes must
    have them preallocated. Default none."""


class SecretKeyArgs(TypedDict):
    """One key of a Kubernetes Secret in the model's namespace (the Secret is yours to create)."""

    secret: str
    """The Secret's name (a DNS-1123 subdomain)."""
    key: str
    """The key of its data."""


class ContainerArgs(TypedDict):
    """A sidecar container next to the model server: same pod, same localhost, /tmp and /dev/shm."""

    name: pulumi.Input[str]
    """Container name, a DNS label; not "model" or "proxy"."""
    image: pulumi.Input[str]
    """Image reference; pin a digest (@sha256:...) for immutable rollouts."""
    command: NotRequired[Optional[pulumi.Input[list[str]]]]
    """Entrypoint override. Default: the image's."""
    args: NotRequired[Optional[pulumi.Input[list[str]]]]
    """Arguments. Default: the image's."""
    env: NotRequired[Optional[pulumi.Input[dict[str, pulumi.Input[str]]]]]
    """Environment variables. Default none."""
    secret_env: NotRequired[Optional[dict[str, SecretKeyArgs]]]
    """Environment variables read from Secrets of the model's namespace (secretKeyRef). Default none."""
    compute: NotRequired[Optional[ComputeArgs]]
    """Resources. Default cpu "200m"."""
    port: NotRequired[Optional[pulumi.Input[int]]]
    """A port it listens on (in-pod only: the Service reaches the server through the proxy). Default none."""
    readiness_probe: NotRequired[Optional["ProbeArgs"]]
    """Default none. http/tcp probes default to `port`."""
    liveness_probe: NotRequired[Optional["ProbeArgs"]]
    """Default none."""
    startup_probe: NotRequired[Optional["ProbeArgs"]]
    """Default none."""


class ProxyArgs(TypedDict):
    """The `proxy` container (HAProxy) that enforces max_concurrency / max_queue_length in every pod."""

    image: NotRequired[pulumi.Input[str]]
    """Default public.ecr.aws/docker/library/haproxy:3.2.21-alpine (the official image's ECR Public mirror)."""
    cpu: NotRequired[pulumi.Input[str]]
    """CPU request. Default "100m"."""
    memory: NotRequired[pulumi.Input[str]]
    """Memory request and limit. Default "128Mi"."""
    queue_timeout_seconds: NotRequired[pulumi.Input[int]]
    """Longest wait in the queue before a 503. Default 60."""
    request_timeout_seconds: NotRequired[pulumi.Input[int]]
    """Longest a request may take at the server. Default 600."""


class StatementArgs(TypedDict):
    actions: list[str]
    """IAM actions, e.g. ["s3:GetObject"]; wildcards ("s3:*") only with `allow_wildcard_actions`."""
    resources: list[pulumi.Input[str]]
    """Resource ARNs, e.g. ["arn:aws:s3:::weights/llm-chat/*"]."""


class AwsArgs(TypedDict):
    """AWS access for the model's pods: a role of its own, bound to the model's ServiceAccount."""

    cluster_name: pulumi.Input[str]
    """EKS cluster (Pod Identity association). Required."""
    policy_arns: NotRequired[list[pulumi.Input[str]]]
    """Managed policies attached to the role. Default none."""
    statements: NotRequired[list[StatementArgs]]
    """Inline Allow statements. Default none. At least one of `policy_arns`, `statements`."""
    allow_wildcard_actions: NotRequired[bool]
    """Opt in to wildcard actions in `statements` (the policy pack flags them outside dev). Default false."""
    mode: NotRequired[str]
    """"pod_identity" (default: needs the eks-pod-identity-agent add-on) or "irsa" (needs `oidc_provider_arn/url`)."""
    oidc_provider_arn: NotRequired[Optional[pulumi.Input[str]]]
    """IRSA only: the cluster's OIDC provider ARN."""
    oidc_provider_url: NotRequired[Optional[pulumi.Input[str]]]
    """IRSA only: the cluster's OIDC issuer URL."""
    tags: NotRequired[dict[str, str]]
    """Tags on the role. Default none."""


class HttpGetArgs(TypedDict):
    path: NotRequired[pulumi.Input[str]]
    """HTTP path. Default "/"."""
    port: NotRequired[Optional[pulumi.Input[int]]]
    """Port. Default: the model's port."""


class TcpSocketArgs(TypedDict):
    port: NotRequired[Optional[pulumi.Input[int]]]
    """Port. Default: the model's port."""


class ExecArgs(TypedDict):
    command: pulumi.Input[list[str]]
    """Command run in the container; exit 0 is success."""


class ProbeArgs(TypedDict):
    """A probe: exactly one of `http_get`, `tcp_socket`, `exec` (the same shape as the stack config's)."""

    http_get: NotRequired[Optional[HttpGetArgs]]
    """HTTP GET check. Default none."""
    tcp_socket: NotRequired[Optional[TcpSocketArgs]]
    """TCP connect check. Default none."""
    exec: NotRequired[Optional[ExecArgs]]
    """Command check. Default none."""
    initial_delay_seconds: NotRequired[pulumi.Input[int]]
    """Default 0."""
    period_seconds: NotRequired[pulumi.Input[int]]
    """Default 10."""
    timeout_seconds: NotRequired[pulumi.Input[int]]
    """Default 1."""
    success_threshold: NotRequired[pulumi.Input[int]]
    """Default 1."""
    failure_threshold: NotRequired[pulumi.Input[int]]
    """Default 3."""


class PreStopArgs(TypedDict):
    """Runs before SIGTERM. Default: the kubelet sleeps `sleep_seconds` so the load balancer stops routing first."""

    sleep_seconds: NotRequired[pulumi.Input[int]]
    """Default 15; 0 for no hook. Ignored when `exec` or `http_get` is set."""
    exec: NotRequired[Optional[ExecArgs]]
    """A command instead of the sleep. Default none."""
    http_get: NotRequired[Optional[HttpGetArgs]]
    """An HTTP call instead of the sleep. Default none."""


class AutoscalingArgs(TypedDict):
    """Cortex's autoscaling knobs with Cortex's defaults; the ModelAPI docstring maps each onto KEDA/HPA."""

    min_replicas: NotRequired[pulumi.Input[int]]
    """Default 1. 0 only with `scale_to_zero`."""
    max_replicas: NotRequired[pulumi.Input[int]]
    """Default 100."""
    init_replicas: NotRequired[Optional[pulumi.Input[int]]]
    """Replicas at creation. Default `min_replicas` (at least 1 unless scaling to zero)."""
    target_in_flight: NotRequired[Optional[pulumi.Input[float]]]
    """In-flight requests per replica to aim for. Default `max_concurrency`."""
    window_seconds: NotRequired[pulumi.Input[int]]
    """Averaging window. Default 60."""
    downscale_stabilization_seconds: NotRequired[pulumi.Input[int]]
    """Scale down only to the highest recommendation of this period. Default 300."""
    upscale_stabilization_seconds: NotRequired[pulumi.Input[int]]
    """Scale up only to the lowest recommendation of this period. Default 60."""
    max_downscale_factor: NotRequired[pulumi.Input[float]]
    """Smallest fraction of replicas kept per step. Default 0.75."""
    max_upscale_factor: NotRequired[pulumi.Input[float]]
    """Largest growth factor per step. Default 1.5."""
    downscale_tolerance: NotRequired[pulumi.Input[float]]
    """Default 0.05 (not rendered: the cluster's 0.1 HPA tolerance applies)."""
    upscale_tolerance: NotRequired[pulumi.Input[float]]
    """Default 0.05 (not rendered: the cluster's 0.1 HPA tolerance applies)."""
    signal: NotRequired[pulumi.Input[str]]
    """One of "in_flight" (default), "cpu", "gpu", "prometheus", "llm" (vLLM's requests running + waiting per
    replica, behind the interceptor as in_flight; needs `engine_metrics`)."""
    target_utilization: NotRequired[Optional[pulumi.Input[int]]]
    """Percent, 1-100; required for signal cpu or gpu."""
    prometheus_query: NotRequired[Optional[pulumi.Input[str]]]
    """PromQL whose value, divided by `prometheus_threshold`, is the replica count; required for signal prometheus."""
    prometheus_threshold: NotRequired[Optional[pulumi.Input[float]]]
    """Per-replica target of `prometheus_query`; required for signal prometheus."""
    scale_to_zero: NotRequired[pulumi.Input[bool]]
    """Opt in to zero replicas when idle (needs min_replicas 0; signal in_flight or prometheus). Default false."""


class UpdateStrategyArgs(TypedDict):
    """Rolling update bounds: counts ("1") or percentages ("25%"); not both zero."""

    max_surge: NotRequired[pulumi.Input[str]]
    """Default "25%" (Cortex's)."""
    max_unavailable: NotRequired[pulumi.Input[str]]
    """Default "25%" (Cortex's); "0" never drops below the ready count (the prod choice)."""
    min_ready_seconds: NotRequired[pulumi.Input[int]]
    """Seconds a new pod must stay ready before it counts. Default 0."""
    progress_deadline_seconds: NotRequired[pulumi.Input[int]]
    """A rollout that makes no progress for this long is marked failed (and `pulumi up` with it). Default: the
    cold-start budget plus a minute, at least 600; a shorter value than the cold-start budget is refused."""


class TolerationArgs(TypedDict):
    """A node taint the model's pods tolerate (exactly: key, value and effect)."""

    key: str
    """Taint key."""
    value: NotRequired[str]
    """Taint value. Default ""."""
    effect: NotRequired[str]
    """NoSchedule, PreferNoSchedule or NoExecute. Default NoSchedule."""


class PlacementArgs(TypedDict):
    """Where pods run: a node pool, its accelerator and capacity type."""

    node_pool: NotRequired[Optional[pulumi.Input[str]]]
    """Required node label modelstack.io/node-pool value; may be an Output (a NodeGroup's `node_pool`). Default none
    (any node)."""
    node_groups: NotRequired[Optional[list[str]]]
    """EKS managed node group names (node label eks.amazonaws.com/nodegroup): placement on a cluster modelstack
    did not build. Default none."""
    instance_types: NotRequired[Optional[list[str]]]
    """Only these instance types (node.kubernetes.io/instance-type), e.g. the GPUs with enough memory in a mixed
    pool. Default none (any type in the pool)."""
    accelerator: NotRequired[pulumi.Input[str]]
    """"none" (default), "gpu" or "inferentia": adds the matching toleration."""
    tolerate_taints: NotRequired[Optional[list[TolerationArgs]]]
    """Other taints of the pool's nodes to tolerate: its node groups' own taints (`node_groups.<name>.taints`), or
    the pods never schedule there. Default none."""
    spot: NotRequired[pulumi.Input[bool]]
    """The pool has spot capacity: prefer SPOT nodes (weight 100). Default false."""
    on_demand_base: NotRequired[pulumi.Input[int]]
    """With spot: replicas always kept on ON_DEMAND nodes by a second Deployment. Default 0."""
    strict_zone_spread: NotRequired[pulumi.Input[bool]]
    """Zone spread as DoNotSchedule (prod) instead of ScheduleAnyway. Default false."""


class IngressArgs(TypedDict):
    """The model's route on the cluster's shared ALB (an IngressGroup)."""

    group_name: pulumi.Input[str]
    """IngressGroup name shared by every model of the cluster, e.g. "<cluster>-models"."""
    scheme: NotRequired[pulumi.Input[str]]
    """"internal" (default) or "internet-facing" (needs inbound_cidrs)."""
    inbound_cidrs: NotRequired[Optional[pulumi.Input[list[str]]]]
    """Client CIDR allow-list. Default none (the VPC for internal; required for internet-facing)."""
    certificate_arn: NotRequired[Optional[pulumi.Input[str]]]
    """ACM certificate: HTTPS 443 and an HTTP->HTTPS redirect. Default none (HTTP 80)."""
    path: NotRequired[Optional[pulumi.Input[str]]]
    """URL path prefix. Default "/<model name>"; unique within the group."""
    hosts: NotRequired[Optional[list[str]]]
    """Signal in_flight only: DNS names of yours pointing at the ALB, matched exactly by the KEDA interceptor before
    its catch-all. Any Host reaches the model by path anyway (the route ends with the catch-all "*", as the ALB
    forwards any Host); list your names when another IngressGroup of the cluster serves the same path, so that each
    name reaches its own group's model. Default none (the ALB's DNS name, then any Host)."""
    class_name: NotRequired[pulumi.Input[str]]
    """IngressClass of the AWS Load Balancer Controller. Default "alb"."""
    idle_timeout_seconds: NotRequired[int]
    """The shared ALB's idle timeout, group-wide: every Ingress of the group must carry the same value. Default
    1800 s (render/timeouts.ALB_IDLE_GROUP_SECONDS), or this model's longest silent wait (cold start + proxy queue +
    response) when longer; a value below that wait is refused, since the ALB would cut a held request."""


class HttpAddOnArgs(TypedDict):
    """Where the KEDA HTTP add-on runs (defaults match its Helm chart installed in namespace "keda")."""

    namespace: NotRequired[pulumi.Input[str]]
    """Default "keda"."""
    interceptor_service: NotRequired[pulumi.Input[str]]
    """Default "keda-add-ons-http-interceptor-proxy"."""
    interceptor_port: NotRequired[pulumi.Input[int]]
    """Default 8080."""
    interceptor_admin_port: NotRequired[pulumi.Input[int]]
    """The interceptor's admin port, where it answers /readyz (add-on >= 0.12.2; the ALB health-checks it there).
    Default 9090."""
    external_scaler_address: NotRequired[pulumi.Input[str]]
    """Default "keda-add-ons-http-external-scaler.keda:9090"."""


class NodeCacheArgs(TypedDict):
    """A node-wide cache: a folder on the node (hostPath, prepared by the node, e.g. the LLM weights' cache on the
    instance stores' RAID) shared by the model's pods on that node. The init containers mount the whole folder
    read-write at `init_mount_path` and fill `sub_path`; the server mounts `sub_path` read-only at `mount_path`."""

    host_path: str
    sub_path: str
    mount_path: str
    init_mount_path: str


class CacheVolumeArgs(TypedDict):
    """Disk shared by the pod's containers (an emptyDir)."""

    mount_path: str
    """Where every container sees it, e.g. "/models". Required."""
    size_limit: str
    """The emptyDir's size limit, e.g. "160Gi" (the kubelet evicts the pod past it). Required."""


class QueueScalingArgs(TypedDict):
    """KEDA's aws-sqs-queue trigger for signal "queue"."""

    queue_url: pulumi.Input[str]
    region: str
    authentication: str
    """Name of the TriggerAuthentication (podIdentity provider aws) in the model's namespace."""
    queue_length: NotRequired[int]
    """Messages per replica. Default 1."""
    endpoint: NotRequired[str]
    """The SQS endpoint KEDA calls (an http(s) URL). Default: the region's public endpoint."""


_DOC_TABLE_MARK = "Knob mapping (Cortex knob, Cortex default, where it lands)::"


class ModelAPIArgs(TypedDict):
    """Inputs of a ModelAPI. Fields that decide structure (names, counts, paths, knobs) must be known values;
    `image`, `env` values, `certificate_arn`, `placement.node_pool` and `kubeconfig` may be Outputs."""

    image: pulumi.Input[str]
    """The model server image; pin a digest (@sha256:...) for immutable rollouts."""
    command: NotRequired[Optional[pulumi.Input[list[str]]]]
    """Entrypoint override. Default: the image's."""
    args: NotRequired[Optional[pulumi.Input[list[str]]]]
    """Arguments. Default: the image's."""
    env: NotRequired[Optional[pulumi.Input[dict[str, pulumi.Input[str]]]]]
    """Environment variables. Default none (MODELSTACK_* are added, see the class docstring)."""
    port: NotRequired[pulumi.Input[int]]
    """The server's HTTP port. Default 8080."""
    compute: NotRequired[Optional[ComputeArgs]]
    """Model server resources. Default cpu "200m"."""
    shm: NotRequired[Optional[pulumi.Input[str]]]
    """Size of a memory-backed /dev/shm (e.g. "1Gi", for PyTorch data loaders). Default none."""
    sidecars: NotRequired[Optional[list[ContainerArgs]]]
    """More containers in the pod. Default none."""
    proxy: NotRequired[Optional[ProxyArgs]]
    """The request-limit proxy in front of the server (always present). Default: see ProxyArgs."""
    aws: NotRequired[Optional[AwsArgs]]
    """A per-model IAM role through Pod Identity (or IRSA); the ServiceAccount token is mounted only then.
    Default none: no AWS credentials (nodes keep IMDS hop limit 1, so pods cannot borrow the node role)."""
    model_name: NotRequired[Optional[pulumi.Input[str]]]
    """Kubernetes name of every object. Default: the component's name."""
    namespace: NotRequired[pulumi.Input[str]]
    """Existing namespace (not "default"). Default "models"."""
    team: NotRequired[pulumi.Input[str]]
    """Owner label value. Default "unassigned"."""
    environment: NotRequired[pulumi.Input[str]]
    """Environment label value. Default "unassigned"."""
    max_concurrency: NotRequired[pulumi.Input[int]]
    """Requests at one replica's server at once, enforced by the proxy (also MODELSTACK_MAX_CONCURRENCY). Default 1."""
    max_queue_length: NotRequired[pulumi.Input[int]]
    """Requests one replica's proxy queues beyond that; the next gets a 503 (also MODELSTACK_MAX_QUEUE_LENGTH).
    Default 100."""
    autoscaling: NotRequired[Optional[AutoscalingArgs]]
    """Request-based autoscaling. Default: Cortex's defaults on in-flight requests."""
    update_strategy: NotRequired[Optional[UpdateStrategyArgs]]
    """Rolling update bounds. Default 25% / 25%."""
    readiness_probe: NotRequired[Optional[ProbeArgs]]
    """Default: TCP on the port every 5 s (as Cortex)."""
    liveness_probe: NotRequired[Optional[ProbeArgs]]
    """Default none."""
    startup_probe: NotRequired[Optional[ProbeArgs]]
    """Default none (add one for models that load for minutes)."""
    pre_stop: NotRequired[Optional[PreStopArgs]]
    """Default: sleep 15 s."""
    termination_grace_period_seconds: NotRequired[pulumi.Input[int]]
    """Default 60; must exceed the pre-stop sleep (the rest is drain time)."""
    placement: NotRequired[Optional[PlacementArgs]]
    """Default: any node, on-demand, soft zone spread."""
    ingress: NotRequired[Optional[IngressArgs]]
    """Route on the shared ALB. Default none (in-cluster only)."""
    http_add_on: NotRequired[Optional[HttpAddOnArgs]]
    """KEDA HTTP add-on location (signal in_flight). Default: its chart's names in namespace "keda"."""
    prometheus_address: NotRequired[Optional[pulumi.Input[str]]]
    """Prometheus URL KEDA queries. Default: none; required for signal gpu, prometheus or llm."""
    network_policy_cidrs: NotRequired[Optional[pulumi.Input[list[str]]]]
    """Sources allowed to the model port (e.g. the VPC CIDR). Default none: any source, model port only."""
    run_as_user: NotRequired[pulumi.Input[int]]
    """UID (and GID, fsGroup) of the containers; never 0. Default 10001."""
    read_only_root_filesystem: NotRequired[pulumi.Input[bool]]
    """Default true (writable /tmp is mounted); false for servers that write elsewhere."""
    response_timeout_seconds: NotRequired[int]
    """How long the model may take to send response headers. Default 600. The interceptor's per-route
    responseHeader timeout and the proxy's client/server timeouts add the proxy's queue timeout to it."""
    cold_start_seconds: NotRequired[Optional[int]]
    """Worst seconds from no replica to a Ready one. Default: node launch + image pull for the accelerator
    (render/timeouts.py) + the container's start-up probe budget. Sets the interceptor's readiness timeout, the
    Deployment's progress deadline and how long `pulumi up` waits for it."""
    init_containers: NotRequired[Optional[list[ContainerArgs]]]
    """Containers run to completion before the server (name, image, command, args, env, compute; no ports or
    probes), e.g. copying LLM weights into `cache_volume`. Default none."""
    cache_volume: NotRequired[Optional["CacheVolumeArgs"]]
    """An emptyDir every container mounts; on nodes whose kubelet folder is on instance-store NVMe (Karpenter
    instanceStorePolicy RAID0) it is node-local disk. Default none."""
    node_cache: NotRequired[Optional[NodeCacheArgs]]
    """A hostPath folder shared by the model's pods on one node (not with `cache_volume`); the namespace's Pod
    Security admission must allow hostPath (README "LLMs"). Default none."""
    secret_env: NotRequired[Optional[dict[str, SecretKeyArgs]]]
    """The server's environment variables read from Secrets of the model's namespace (secretKeyRef). Default none."""
    strip_path_prefix: NotRequired[pulumi.Input[bool]]
    """The proxy takes the route's path off each request before the server sees it (/chat/v1/models -> /v1/models),
    for servers that answer at their root (an LLM engine's OpenAI API). Default false: the server gets the full path."""
    engine_metrics: NotRequired[pulumi.Input[bool]]
    """The server exports Prometheus metrics at /metrics on its port (vLLM): Prometheus scrapes it through the
    Service. Default false."""
    kubeconfig: NotRequired[Optional[pulumi.Input[str]]]
    """Cluster credentials: the component creates its own Kubernetes provider. Default: the provider in opts."""
    queue_scaling: NotRequired[Optional[QueueScalingArgs]]
    """Scale on an SQS queue's depth instead (autoscaling signal "queue"): the workers of an AsyncModelAPI or
    BatchModelAPI. Default none."""


class ModelAPI(pulumi.ComponentResource):
    """A model served as an autoscaling HTTP API on Kubernetes: Cortex's RealtimeAPI, as typed Kubernetes objects.

    Objects (all named after the model, so an image or env change is an in-place rolling update, never a replace):
    ServiceAccount, ConfigMap `<model>-proxy` (the proxy's haproxy.cfg), Deployment (+ `<model>-on-demand` floor
    Deployment for spot pools with on_demand_base), Service, PodDisruptionBudget (maxUnavailable 1), NetworkPolicy,
    KEDA ScaledObject, and for signal in_flight an HTTP add-on InterceptorRoute, plus an Ingress when `ingress` is
    given. With `aws`: an IAM role `<name>-role`, its policy attachments / inline policy, and a Pod Identity
    association (IRSA instead: the role ARN annotated on the ServiceAccount).

    Pod: the server (container "model", the model's port and probes), the request-limit proxy ("proxy", HAProxy,
    the Service's target port), then the sidecars; all share localhost, /tmp and /dev/shm.

    Routing. With signal in_flight every request must pass the KEDA HTTP add-on's interceptor, which counts
    in-flight requests and holds requests while a model scales from zero (Cortex's activator). So that model's
    Ingress lives in the add-on's namespace with the interceptor as its backend (an Ingress can only name Services
    of its own namespace), joined to the shared IngressGroup; the interceptor routes by path prefix to the model's Service, for
    the ALB's DNS name and `ingress.hosts` exactly and for any other Host through its catch-all (a client's own
    domain, which the ALB forwards as it is). The ALB health-checks the
    interceptor's /readyz on its admin port (9090). With other signals the Ingress is in the model's namespace and points at the model's Service, health-checked on the readiness path. Either way the
    model receives the full path (the ALB and the interceptor do not strip the prefix); serve under it, or catch all.

    Knob mapping (Cortex knob, Cortex default, where it lands)::

{table}

    Where the semantics differ from Cortex:
    - window: the add-on reports current concurrency, not a 60 s average. The HPA's stabilization windows smooth
      instead (up: lowest recommendation over 60 s, down: highest over 5 min, Cortex's rule). For signal gpu the
      window is the avg_over_time range; a user prometheus_query carries its own range.
    - step limits: Percent policies (1.5 -> 50 %, 0.75 -> 25 %) plus a Pods 1 policy with selectPolicy Max, per HPA
      sync (15 s) instead of Cortex's 10 s step.
    - tolerances: not rendered. The HPA v2 `behavior.*.tolerance` field is feature-gated (HPAConfigurableTolerance,
      alpha in 1.33) and absent before, and KEDA's CRD does not carry it; the cluster-wide 10 % applies both ways.
    - target_in_flight is rounded to an integer >= 1 (the add-on's concurrency target is an integer).
    - max_concurrency / max_queue_length are enforced per replica by the `proxy` container (HAProxy, see
      render/proxy.py): the Service targets it, it lets max_concurrency requests reach the server, queues
      max_queue_length more and answers 503 beyond, as Cortex's proxy did; its /metrics (port 8404) carry the
      in-flight, queued and overflow counts for Prometheus. The server also gets them as MODELSTACK_* variables.

    Scale to zero (opt in: scale_to_zero with min_replicas 0, signal in_flight or prometheus): KEDA scales 1 -> 0
    after cooldownPeriod (= downscale_stabilization) without requests, and 0 -> 1 when the interceptor sees one; the
    interceptor holds the request meanwhile. Cold start: seconds for a pod on a warm node; minutes for a GPU model
    whose node group is at zero (node launch + driver + a multi-GB image pull). The cold-start budget
    (`cold_start_seconds`, render/timeouts.py) sets the route's readiness timeout, the ALB idle timeout (with the
    response timeout), the progress deadline and how long `pulumi up` waits. Clients need timeouts that long.

    On-demand floor (placement spot with on_demand_base N): `<model>-on-demand` keeps N replicas on ON_DEMAND
    nodes; the autoscaled Deployment's min and max are reduced by N (min never below 0, so with min <= N the spot
    part idles at zero while the floor serves). The in-flight count covers the whole model, so the spot part sizes
    itself for all the load: up to N replicas of headroom, by design (a spot reclaim never drops capacity below
    target). scale_to_zero with a floor is rejected: the floor never sleeps.
    """

    endpoint: pulumi.Output[str]
    """URL of the API: https://<ALB host><path> (http:// without a certificate); the in-cluster URL without ingress.
    Offline plans show a placeholder host: the ALB name exists only after deploy."""
    service_name: pulumi.Output[str]
    """The model's Service (ClusterIP), e.g. for another team's in-cluster clients or a TrafficSplitter."""
    namespace: pulumi.Output[str]
    """Namespace of the model's objects."""
    deployment_name: pulumi.Output[str]
    """The autoscaled Deployment."""
    autoscaler_kind: pulumi.Output[str]
    """"ScaledObject" (KEDA)."""
    role_arn: pulumi.Output[Optional[str]]
    """The model's IAM role (None without `aws`)."""

    def __init__(self, name: str, args: ModelAPIArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        plan = resolve(name, args)  # every check before anything registers
        if plan.ingress_settings is not None:
            ingress.registry().claim(plan.ingress_settings, plan.path, f"ModelAPI {name!r}")
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.get("kubeconfig") is not None:
            provider = k8s.Provider(f"{name}-provider", kubeconfig=args["kubeconfig"], enable_config_map_mutable=True,
                                   opts=child)
            child = pulumi.ResourceOptions(parent=self, provider=provider)
        spec = plan.spec
        objs = plan.objects

        # The rendered metadata (render.manifests) has ObjectMeta's shape: name, namespace, labels.
        sa_meta = cast(k8s.meta.v1.ObjectMetaArgsDict, dict(objs["service_account"]["metadata"]))
        role = self._aws_role(name, plan, args.get("aws") or {}) if plan.aws else None
        if role is not None and plan.aws and plan.aws.mode == "irsa":
            sa_meta["annotations"] = {"eks.amazonaws.com/role-arn": role.arn}
        k8s.core.v1.ServiceAccount(f"{name}-service-account", metadata=sa_meta,
                                   automount_service_account_token=spec.aws_access, opts=child)
        k8s.core.v1.ConfigMap(f"{name}-proxy-config", metadata=objs["proxy_config"]["metadata"],
                              data=objs["proxy_config"]["data"], opts=child)
        # A first rollout onto a group at size 0 waits for a node, a pull and the start-up probe: longer than the
        # provider's 10-minute default on GPU groups, which would fail `pulumi up` while the rollout goes on.
        wait = f"{plan.await_seconds}s"
        awaited = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
            custom_timeouts=pulumi.CustomTimeouts(create=wait, update=wait)))
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment", metadata=objs["deployment"]["metadata"], spec=objs["deployment"]["spec"],
            # After creation the autoscaler owns the replica count; re-applying init_replicas would fight it.
            opts=pulumi.ResourceOptions.merge(awaited, pulumi.ResourceOptions(ignore_changes=["spec.replicas"])))
        if "on_demand" in objs:
            k8s.apps.v1.Deployment(f"{name}-on-demand", metadata=objs["on_demand"]["metadata"],
                                   spec=objs["on_demand"]["spec"], opts=awaited)
        service = k8s.core.v1.Service(f"{name}-service", metadata=objs["service"]["metadata"],
                                      spec=objs["service"]["spec"], opts=child)
        k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata=objs["pdb"]["metadata"], spec=objs["pdb"]["spec"],
                                          opts=child)
        k8s.networking.v1.NetworkPolicy(f"{name}-network-policy", metadata=objs["network_policy"]["metadata"],
                                        spec=objs["network_policy"]["spec"], opts=child)
        ingress_res: Optional[k8s.networking.v1.Ingress] = None
        if "ingress" in objs:
            ing = objs["ingress"]
            ingress_res = k8s.networking.v1.Ingress(f"{name}-ingress", metadata=ing["metadata"], spec=ing["spec"],
                                                    opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[service])))

        depends: list[pulumi.Resource] = [deployment]
        if "interceptor_route" in objs:
            route = objs["interceptor_route"]
            route_spec: dict[str, Any] = dict(route["spec"])
            if ingress_res is not None:
                # Behind the ALB: its own DNS name (known once the controller has provisioned it) and the extra
                # hosts, then any Host: the ALB accepts every Host, so a client's own domain (the one its TLS
                # certificate names) reaches the model by path.
                rule = dict(route_spec["rules"][0])
                extra = list(rule.get("hosts") or [])
                rule["hosts"] = ingress_res.status.apply(lambda st: _route_hosts(st, extra))
                route_spec["rules"] = [rule]
            depends.append(CustomResource(f"{name}-http-route", api_version=route["apiVersion"], kind=route["kind"],
                                          metadata=route["metadata"], spec=route_spec,
                                          opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[service]))))
        so = objs["scaled_object"]
        CustomResource(f"{name}-scaled-object", api_version=so["apiVersion"], kind=so["kind"], metadata=so["metadata"],
                       spec=so["spec"], opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=depends)))

        if ingress_res is not None:
            scheme = "https" if plan.tls else "http"
            path = plan.path
            self.endpoint = ingress_res.status.apply(lambda st: f"{scheme}://{_lb_host(st)}{path}")
        else:
            self.endpoint = pulumi.Output.from_input(
                f"http://{spec.name}.{spec.namespace}.svc.cluster.local:{spec.port}")
        self.service_name = pulumi.Output.from_input(spec.name)
        self.namespace = pulumi.Output.from_input(spec.namespace)
        self.deployment_name = pulumi.Output.from_input(spec.name)
        self.autoscaler_kind = pulumi.Output.from_input("ScaledObject")
        self.role_arn = role.arn if role is not None else pulumi.Output.from_input(None)
        self.register_outputs({"endpoint": self.endpoint, "service_name": self.service_name, "namespace": self.namespace,
                               "deployment_name": self.deployment_name, "autoscaler_kind": self.autoscaler_kind,
                               "role_arn": self.role_arn})

    def _aws_role(self, name: str, plan: "Plan", a: Mapping[str, Any]) -> aws.iam.Role:
        """The model's own role, its policies, and its binding to the model's ServiceAccount."""
        assert plan.aws is not None
        spec = plan.spec
        child = pulumi.ResourceOptions(parent=self)
        tags = {**dict(a.get("tags") or {}), labels.TAG_MODEL: spec.name}
        if plan.aws.mode == "irsa":
            trust: pulumi.Input[str] = pulumi.Output.all(a["oidc_provider_arn"], a["oidc_provider_url"]).apply(
                lambda v: iam.to_json(iam.irsa_trust_policy(v[0], v[1], spec.namespace, spec.name)))
        else:
            trust = iam.to_json(iam.pod_identity_trust_policy())
        role = aws.iam.Role(f"{name}-role", assume_role_policy=trust,
                            description=f"model {spec.namespace}/{spec.name} ({plan.aws.mode})", tags=tags, opts=child)
        for i, arn in enumerate(plan.aws.policy_arns):
            aws.iam.RolePolicyAttachment(f"{name}-policy-{i}", role=role.name, policy_arn=arn, opts=child)
        if plan.aws.inline is not None:
            aws.iam.RolePolicy(f"{name}-inline-policy", role=role.id, policy=iam.to_json(plan.aws.inline), opts=child)
        if plan.aws.mode == "pod_identity":
            aws.eks.PodIdentityAssociation(f"{name}-pod-identity", cluster_name=a["cluster_name"],
                                           namespace=spec.namespace, service_account=spec.name, role_arn=role.arn,
                                           tags=tags, opts=child)
        return role


ModelAPI.__doc__ = (ModelAPI.__doc__ or "").replace(
    "{table}", "\n".join("        " + line for line in autoscaling.mapping_table().splitlines()))

LB_PLACEHOLDER = "pending-load-balancer.invalid"


def _field(obj: Any, *names: str) -> Any:
    """A field of a typed output object or of a plain dict (mocks and older SDKs hand back dicts)."""
    for n in names:
        v = obj.get(n) if isinstance(obj, dict) else getattr(obj, n, None)
        if v is not None:
            return v
    return None


def _lb_host(status: Any) -> str:
    """The ALB hostname from the Ingress status, or a placeholder until the controller has provisioned it."""
    lb = _field(status, "load_balancer", "loadBalancer") if status is not None else None
    found = (_field(lb, "ingress") or []) if lb is not None else []
    host = _field(found[0], "hostname", "ip") if found else None
    return host or LB_PLACEHOLDER


CATCH_ALL_HOST = "*"
"""InterceptorRoute host matching any Host (kedacore/http-add-on v0.15.0 pkg/routing: exact hosts first, then
wildcards, then the catch-all)."""


def _route_hosts(status: Any, extra: list[str]) -> list[str]:
    """Hosts the interceptor routes for a model behind the ALB: the ALB's DNS name and the extra ones (exact, so two
    IngressGroups of a cluster can serve one path apart), then the catch-all, since the ALB forwards any Host."""
    first = _lb_host(status)
    return [first, *[h for h in extra if h not in (first, CATCH_ALL_HOST)], CATCH_ALL_HOST]


# ---------------------------------------------------------------------------------------------- resolve


class Plan:
    """A ModelAPI's resolved spec and rendered objects (pure: built before any resource registers)."""

    def __init__(self, spec: manifests.ModelSpec, knobs: autoscaling.Knobs, objects: dict[str, dict[str, Any]],
                 path: str, tls: bool, ingress_settings: Optional[ingress.IngressSettings] = None,
                 cold_start: Optional[timeouts.ColdStart] = None, response_seconds: int = timeouts.DEFAULT_RESPONSE_SECONDS,
                 aws: Optional["AwsPlan"] = None) -> None:
        self.spec, self.knobs, self.objects, self.path, self.tls = spec, knobs, objects, path, tls
        self.ingress_settings = ingress_settings
        self.cold_start = cold_start or timeouts.cold_start(spec.accelerator, 0)
        self.response_seconds = response_seconds  # behind the interceptor: proxy queue + model response
        self.aws = aws

    @property
    def await_seconds(self) -> int:
        """How long `pulumi up` waits for the Deployments to be ready."""
        return timeouts.deployment_await_seconds(self.cold_start)


def _plain(value: Any, what: str) -> Any:
    if isinstance(value, pulumi.Output) or hasattr(value, "__await__"):
        raise TypeError(f"{what} must be a known value (it decides the objects' names or structure), not an Output")
    return value


def _get(d: Optional[Mapping[str, Any]], key: str, default: Any, where: str) -> Any:
    if not d:
        return default
    v = d.get(key)
    return default if v is None else _plain(v, f"{where}.{key}" if where else key)


def _probe(p: Optional[Mapping[str, Any]], where: str) -> Optional[manifests.ProbeSpec]:
    if not p:
        return None
    http, tcp, ex = p.get("http_get"), p.get("tcp_socket"), p.get("exec")
    n = sum(x is not None for x in (http, tcp, ex))
    if n != 1:
        raise ValueError(f"{where}: exactly one of http_get, tcp_socket, exec (got {n})")
    common = {k: _get(p, k, d, where) for k, d in (("initial_delay_seconds", 0), ("period_seconds", 10),
                                                    ("timeout_seconds", 1), ("success_threshold", 1),
                                                    ("failure_threshold", 3))}
    if http is not None:
        return manifests.ProbeSpec(http_path=_get(http, "path", "/", where), port=_get(http, "port", None, where), **common)
    if tcp is not None:
        return manifests.ProbeSpec(tcp=True, port=_get(tcp, "port", None, where), **common)
    assert ex is not None  # exactly one of the three is given (checked above)
    return manifests.ProbeSpec(exec_command=tuple(_plain(ex["command"], f"{where}.exec.command")), **common)


def _container(name: str, a: Mapping[str, Any], where: str, extra_env: tuple[Any, ...] = (), sidecar: bool = False) -> manifests.ContainerSpec:
    c = a.get("compute") or {}
    gpu, inf = int(_get(c, "gpu", 0, where)), int(_get(c, "inferentia", 0, where))
    if gpu and inf:
        raise ValueError(f"{where + '.' if where else ''}compute: gpu ({gpu}) and inferentia ({inf}) are mutually exclusive")
    env = a.get("env") or {}
    _plain(env, f"{where}.env")
    probes: dict[str, Any] = {}
    port = None
    if sidecar:
        port = _get(a, "port", None, where)
        probes = {k: _probe(a.get(f"{k}_probe"), f"{where}.{k}_probe") for k in ("readiness", "liveness", "startup")}
        for k, p in probes.items():
            if p is not None and p.exec_command is None and p.port is None and port is None:
                raise ValueError(f"{where}.{k}_probe: an http_get or tcp_socket probe needs a port (the sidecar has none)")
    secret_env = a.get("secret_env") or {}
    for k, ref in secret_env.items():
        if not (isinstance(ref, Mapping) and ref.get("secret") and ref.get("key")):
            raise ValueError(f"{where + '.' if where else ''}secret_env.{k}: a secret and a key")
        if k in env:
            raise ValueError(f"{where + '.' if where else ''}secret_env.{k}: also in env (one value per variable)")
    return manifests.ContainerSpec(
        name=name, image=a["image"],
        command=tuple(_plain(a.get("command") or (), f"{where}.command")),
        args=tuple(_plain(a.get("args") or (), f"{where}.args")),
        env=tuple(sorted(env.items())) + extra_env,
        secret_env=tuple((k, str(_plain(r["secret"], f"{where}.secret_env")), str(_plain(r["key"], f"{where}.secret_env")))
                         for k, r in sorted(secret_env.items())),
        cpu=str(_get(c, "cpu", "200m", where)), cpu_limit=_get(c, "cpu_limit", None, where),
        memory=_get(c, "memory", None, where), gpu=gpu, inferentia=inf, hugepages=_get(c, "hugepages", None, where),
        port=int(port) if port is not None else None, **probes)


AWS_MODES = ("pod_identity", "irsa")


class AwsPlan:
    """A model's resolved AWS access: the role's policies and how pods get it."""

    def __init__(self, mode: str, policy_arns: list[Any], inline: Optional[dict[str, Any]]) -> None:
        self.mode, self.policy_arns, self.inline = mode, policy_arns, inline


def _aws(a: Optional[Mapping[str, Any]]) -> Optional[AwsPlan]:
    if not a:
        return None
    mode = _get(a, "mode", "pod_identity", "aws")
    if mode not in AWS_MODES:
        raise ValueError(f"aws.mode {mode!r}: allowed {', '.join(AWS_MODES)}")
    if a.get("cluster_name") is None:
        raise ValueError("aws.cluster_name is required (the Pod Identity association or IRSA trust names it)")
    if mode == "irsa" and (a.get("oidc_provider_arn") is None or a.get("oidc_provider_url") is None):
        raise ValueError("aws.mode irsa needs aws.oidc_provider_arn and aws.oidc_provider_url")
    arns = list(_plain(a.get("policy_arns") or [], "aws.policy_arns"))
    statements = list(_plain(a.get("statements") or [], "aws.statements"))
    if not arns and not statements:
        raise ValueError("aws: give policy_arns and/or statements (a role with no permissions is not AWS access)")
    for i, st in enumerate(statements):
        if not st.get("actions") or not st.get("resources"):
            raise ValueError(f"aws.statements[{i}]: actions and resources, each a non-empty list")
    inline = iam.statements_policy(statements) if statements else None
    wild = iam.wildcard_actions(inline) if inline else []
    if wild and not _get(a, "allow_wildcard_actions", False, "aws"):
        raise ValueError(f"aws.statements: wildcard actions {', '.join(wild)} need allow_wildcard_actions: true "
                         "(name the actions the model uses instead)")
    return AwsPlan(mode, arns, inline)


def knobs_of(a: Optional[Mapping[str, Any]], max_concurrency: int) -> autoscaling.Knobs:
    """The autoscaling args as Knobs with Cortex's defaults filled in."""
    def g(k: str, d: Any) -> Any:
        return _get(a, k, d, "autoscaling")

    return autoscaling.Knobs(
        min_replicas=g("min_replicas", 1), max_replicas=g("max_replicas", 100), init_replicas=g("init_replicas", None),
        target_in_flight=float(g("target_in_flight", max_concurrency)), window_seconds=g("window_seconds", 60),
        downscale_stabilization_seconds=g("downscale_stabilization_seconds", 300),
        upscale_stabilization_seconds=g("upscale_stabilization_seconds", 60),
        max_downscale_factor=g("max_downscale_factor", 0.75), max_upscale_factor=g("max_upscale_factor", 1.5),
        downscale_tolerance=g("downscale_tolerance", 0.05), upscale_tolerance=g("upscale_tolerance", 0.05),
        signal=g("signal", "in_flight"), target_utilization=g("target_utilization", None),
        prometheus_query=g("prometheus_query", None), prometheus_threshold=g("prometheus_threshold", None),
        scale_to_zero=bool(g("scale_to_zero", False)))


def _queue_target(q: Optional[QueueScalingArgs], knobs: autoscaling.Knobs) -> Optional[autoscaling.QueueTarget]:
    if (q is not None) != (knobs.signal == autoscaling.QUEUE_SIGNAL):
        raise ValueError(f"autoscaling signal {autoscaling.QUEUE_SIGNAL!r} and queue_scaling go together")
    if q is None:
        return None
    length = int(_get(q, "queue_length", 1, "queue_scaling"))
    if length < 1:
        raise ValueError(f"queue_scaling.queue_length {length}: at least 1")
    endpoint = str(_get(q, "endpoint", "", "queue_scaling") or "")
    if endpoint and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", endpoint):
        raise ValueError(f"queue_scaling.endpoint {endpoint!r}: an http(s) URL such as https://sqs.us-east-1.amazonaws.com")
    return autoscaling.QueueTarget(queue_url=q["queue_url"], region=_get(q, "region", "", "queue_scaling"),
                                   authentication=_get(q, "authentication", "", "queue_scaling"), queue_length=length,
                                   endpoint=endpoint)


def _count_or_percent(v: Any, what: str) -> str:
    s = str(v)
    if not (s.isdigit() or (s.endswith("%") and s[:-1].isdigit() and int(s[:-1]) <= 100)):
        raise ValueError(f"{what} {v!r}: a count such as \"1\" or a percentage such as \"25%\"")
    return s


def resolve(name: str, args: ModelAPIArgs) -> Plan:
    """Validate the args and render every object; raises ValueError/TypeError before anything registers."""
    prefix = f"ModelAPI {name!r}: "
    try:
        return _resolve(name, args)
    except (ValueError, TypeError) as e:
        msg = str(e)
        raise type(e)(msg if msg.startswith(prefix) else prefix + msg) from None


def _resolve(name: str, args: ModelAPIArgs) -> Plan:
    a: dict[str, Any] = dict(args)  # never mutate the caller's dict
    if "image" not in a or a["image"] is None:
        raise ValueError(f"ModelAPI {name!r}: image is required")
    model = _get(a, "model_name", name, "")
    ns = _get(a, "namespace", DEFAULT_NAMESPACE, "")
    if ns == "default":
        raise ValueError(f"ModelAPI {name!r}: namespace 'default' is not allowed; use a namespace per team or 'models'")
    port = int(_get(a, "port", 8080, ""))
    max_conc = int(_get(a, "max_concurrency", 1, ""))
    max_queue = int(_get(a, "max_queue_length", 100, ""))
    knobs = knobs_of(a.get("autoscaling"), max_conc)
    place = a.get("placement") or {}
    accel = _get(place, "accelerator", "none", "placement")
    if accel not in ACCELERATORS:
        raise ValueError(f"ModelAPI {name!r}: placement.accelerator {accel!r}: allowed {', '.join(ACCELERATORS)}")
    spot = bool(_get(place, "spot", False, "placement"))
    base = int(_get(place, "on_demand_base", 0, "placement"))
    if base and not spot:
        raise ValueError(f"ModelAPI {name!r}: placement.on_demand_base {base} only applies to a spot pool (spot: true)")
    if base and knobs.scale_to_zero:
        raise ValueError(f"ModelAPI {name!r}: scale_to_zero with on_demand_base {base}: the on-demand floor keeps "
                         f"{base} replicas running, so the model would never reach zero")
    us = a.get("update_strategy") or {}
    surge = _count_or_percent(_get(us, "max_surge", "25%", "update_strategy"), "update_strategy.max_surge")
    unavail = _count_or_percent(_get(us, "max_unavailable", "25%", "update_strategy"), "update_strategy.max_unavailable")
    if surge in ("0", "0%") and unavail in ("0", "0%"):
        raise ValueError(f"ModelAPI {name!r}: update_strategy max_surge and max_unavailable are both 0; a rollout could never progress")
    ps = a.get("pre_stop") or {}
    pre_exec = ps.get("exec")
    pre_http = ps.get("http_get")
    sleep = int(_get(ps, "sleep_seconds", 15, "pre_stop"))
    grace = int(_get(a, "termination_grace_period_seconds", 60, ""))
    if pre_exec is None and pre_http is None and sleep >= grace:
        raise ValueError(f"ModelAPI {name!r}: termination_grace_period_seconds {grace} must exceed the pre-stop sleep "
                         f"({sleep} s) to leave time to drain in-flight requests")
    uid = int(_get(a, "run_as_user", 10001, ""))
    if uid <= 0:
        raise ValueError(f"ModelAPI {name!r}: run_as_user {uid}: a non-root UID (> 0)")
    env_extra = (("MODELSTACK_MAX_CONCURRENCY", str(max_conc)), ("MODELSTACK_MAX_QUEUE_LENGTH", str(max_queue)))
    server = _container("model", a, "", env_extra)
    sidecars = tuple(_container(_plain(s["name"], "sidecars.name"), s, f"sidecars[{i}]", sidecar=True)
                     for i, s in enumerate(a.get("sidecars") or []))
    if knobs.signal == "llm" and not _get(a, "engine_metrics", False, ""):
        raise ValueError(f"ModelAPI {name!r}: signal 'llm' needs engine_metrics: true (Prometheus scrapes the engine's "
                         "queue through the Service)")
    inits = tuple(_container(_plain(s["name"], "init_containers.name"), s, f"init_containers[{i}]")
                  for i, s in enumerate(a.get("init_containers") or []))
    cache = a.get("cache_volume") or None
    if cache is not None and not (cache.get("mount_path") and cache.get("size_limit")):
        raise ValueError(f"ModelAPI {name!r}: cache_volume needs mount_path and size_limit")
    nc = a.get("node_cache") or None
    if nc is not None:
        fields = ("host_path", "sub_path", "mount_path", "init_mount_path")
        if cache is not None:
            raise ValueError(f"ModelAPI {name!r}: node_cache or cache_volume, not both")
        if not all(isinstance(nc.get(f), str) and nc.get(f) for f in fields):
            raise ValueError(f"ModelAPI {name!r}: node_cache needs {', '.join(fields)}")
        if not nc["host_path"].startswith("/") or any(p in ("", ".", "..") for p in nc["sub_path"].split("/")):
            raise ValueError(f"ModelAPI {name!r}: node_cache: an absolute host_path and a relative sub_path without "
                             f"'..' (got {nc['host_path']!r}, {nc['sub_path']!r})")
    names = [s.name for s in sidecars]
    for reserved in ("model", proxy_config.CONTAINER):
        if reserved in names:
            raise ValueError(f"ModelAPI {name!r}: a sidecar may not be named {reserved!r} (modelstack's own container)")
    if len(set(names)) != len(names):
        raise ValueError(f"ModelAPI {name!r}: sidecar names must be unique, got {', '.join(names)}")
    taken = {proxy_config.PORT: "the proxy", proxy_config.METRICS_PORT: "the proxy's metrics", port: "the model server"}
    for s in sidecars:
        if s.port is not None and s.port in taken:
            raise ValueError(f"ModelAPI {name!r}: sidecar {s.name!r} port {s.port} is taken by {taken[s.port]}")
        if s.port is not None:
            taken[s.port] = f"sidecar {s.name!r}"
    px = a.get("proxy") or {}
    readiness = _probe(a.get("readiness_probe"), "readiness_probe")
    response = int(_get(a, "response_timeout_seconds", timeouts.DEFAULT_RESPONSE_SECONDS, ""))
    if response < 1:
        raise ValueError(f"ModelAPI {name!r}: response_timeout_seconds {response}: at least 1")
    queue_timeout = int(_get(px, "queue_timeout_seconds", proxy_config.QUEUE_TIMEOUT_SECONDS, "proxy"))
    # Behind the proxy a request may wait its queue timeout, then the model's response time.
    upstream = queue_timeout + response
    # The ALB checks pods through the proxy whenever it may target the model's Service: the model's own Ingress or a
    # TrafficSplitter's (both only for signals other than in_flight, which go through the KEDA interceptor).
    alb_checks_pods = knobs.signal not in autoscaling.INTERCEPTED_SIGNALS
    ing_args = a.get("ingress")
    path = ingress.validate_path(_get(ing_args, "path", f"/{model}", "ingress")) if ing_args else f"/{model}"
    strip = path if bool(_get(a, "strip_path_prefix", False, "")) and path != "/" else None
    proxy = manifests.ProxySpec(
        settings=proxy_config.ProxySettings(
            max_concurrency=max_conc, max_queue_length=max_queue, upstream_port=port,
            queue_timeout_seconds=queue_timeout,
            request_timeout_seconds=int(_get(px, "request_timeout_seconds", response, "proxy")),
            hard_stop_after_seconds=max(1, grace - sleep - 2),
            health_path=((readiness.http_path if readiness else None) or "/") if alb_checks_pods else None,
            strip_prefix=strip),
        image=px.get("image") or proxy_config.IMAGE, cpu=str(_get(px, "cpu", proxy_config.CPU, "proxy")),
        memory=str(_get(px, "memory", proxy_config.MEMORY, "proxy")))
    problems = proxy.settings.problems()
    if problems:
        raise ValueError(f"ModelAPI {name!r}: proxy: " + "; ".join(problems))
    aws_plan = _aws(a.get("aws"))
    if accel == "none" and any(c.gpu for c in (server, *sidecars)):
        accel = "gpu"
    if accel == "none" and any(c.inferentia for c in (server, *sidecars)):
        accel = "inferentia"
    init = knobs.init_replicas if knobs.init_replicas is not None else knobs.min_replicas
    probes = {k: _probe(a.get(k), k) for k in ("readiness_probe", "liveness_probe", "startup_probe")}
    startup = manifests.startup_budget(probes["startup_probe"], probes["liveness_probe"], probes["readiness_probe"], port)
    cold = timeouts.cold_start(accel, startup, a.get("cold_start_seconds"))
    progress = int(_get(us, "progress_deadline_seconds", timeouts.deployment_await_seconds(cold), "update_strategy"))
    if progress < cold.total:
        raise ValueError(f"ModelAPI {name!r}: update_strategy.progress_deadline_seconds {progress} is shorter than the "
                         f"cold-start budget ({cold.total} s): a rollout onto a new node would be marked failed")
    add_on = a.get("http_add_on") or {}
    add_on_ns = _get(add_on, "namespace", "keda", "http_add_on")
    spec = manifests.ModelSpec(
        name=model, namespace=ns, containers=(server, *sidecars), port=port,
        team=_get(a, "team", "unassigned", ""), environment=_get(a, "environment", "unassigned", ""),
        shm=_get(a, "shm", None, ""),
        readiness=probes["readiness_probe"], liveness=probes["liveness_probe"], startup=probes["startup_probe"],
        pre_stop_sleep_seconds=sleep,
        pre_stop_exec=tuple(_plain(pre_exec["command"], "pre_stop.exec.command")) if pre_exec else None,
        pre_stop_http_path=_get(pre_http, "path", "/", "pre_stop.http_get") if pre_http else None,
        pre_stop_http_port=_get(pre_http, "port", None, "pre_stop.http_get") if pre_http else None,
        termination_grace_period_seconds=grace,
        max_surge=surge, max_unavailable=unavail,
        min_ready_seconds=int(_get(us, "min_ready_seconds", 0, "update_strategy")),
        progress_deadline_seconds=progress,
        node_pool=(place or {}).get("node_pool"),  # a value in the affinity only: an Output is fine
        node_groups=tuple(_plain(place.get("node_groups") or (), "placement.node_groups")),
        instance_types=tuple(_plain(place.get("instance_types") or (), "placement.instance_types")),
        accelerator=accel, spot=spot, on_demand_base=base,
        tolerate_taints=tuple({"key": str(t["key"]), "value": str(t.get("value") or ""),
                               "effect": str(t.get("effect") or "NoSchedule")}
                              for t in _plain(place.get("tolerate_taints") or (), "placement.tolerate_taints")),
        strict_zone_spread=bool(_get(place, "strict_zone_spread", False, "placement")),
        run_as_user=uid, read_only_root_filesystem=bool(_get(a, "read_only_root_filesystem", True, "")),
        replicas=max(0, init - base),
        allowed_ingress_cidrs=tuple(_plain(a.get("network_policy_cidrs") or (), "network_policy_cidrs")),
        proxy=proxy, aws_access=aws_plan is not None,
        init_containers=inits,
        cache_volume=(str(_plain(cache["mount_path"], "cache_volume.mount_path")),
                      str(_plain(cache["size_limit"], "cache_volume.size_limit"))) if cache else None,
        node_cache=manifests.NodeCache(host_path=nc["host_path"], sub_path=nc["sub_path"], mount_path=nc["mount_path"],
                                       init_mount_path=nc["init_mount_path"]) if nc else None,
        engine_metrics=bool(_get(a, "engine_metrics", False, "")),
    )
    target = autoscaling.Target(
        deployment=model, namespace=ns, container="model", interceptor_route=model,
        external_scaler_address=_get(add_on, "external_scaler_address", autoscaling.DEFAULT_EXTERNAL_SCALER, "http_add_on"),
        prometheus_address=_get(a, "prometheus_address", None, ""), replicas_offset=base,
        queue=_queue_target(a.get("queue_scaling"), knobs))
    try:
        objects: dict[str, dict[str, Any]] = {
            "service_account": manifests.service_account(spec),
            "proxy_config": manifests.proxy_config_map(spec),
            "deployment": manifests.deployment(spec),
            "service": manifests.service(spec),
            "pdb": manifests.pod_disruption_budget(spec),
            "scaled_object": manifests.scaled_object(spec, knobs, target),
        }
    except ValueError as e:
        raise ValueError(f"ModelAPI {name!r}: {e}") from None
    in_flight = knobs.signal in autoscaling.INTERCEPTED_SIGNALS
    if alb_checks_pods:
        # Target-group health checks set on the Service win over an Ingress's (aws-load-balancer-controller v3.5.0,
        # data/UPSTREAM.md): the model's own route and every TrafficSplitter in front of it check the one path
        # the proxy lets through its limits.
        meta = objects["service"]["metadata"]
        meta["annotations"] = {**(meta.get("annotations") or {}),
                               **ingress.health_annotations(readiness.http_path if readiness else None)}
    objects["network_policy"] = manifests.network_policy(spec, (add_on_ns,) if in_flight else (),
                                                         metrics_namespaces=(CHARTS["prometheus"].namespace,))
    if spec.has_floor:
        objects["on_demand"] = manifests.on_demand_deployment(spec)

    tls = False
    settings = None
    if ing_args:
        need = timeouts.alb_idle_timeout([(cold.total, upstream)])
        idle = int(_get(ing_args, "idle_timeout_seconds", need, "ingress"))
        if idle < need:
            raise ValueError(f"ModelAPI {name!r}: ingress.idle_timeout_seconds {idle} is shorter than this model's longest "
                             f"silent wait ({cold.total} s cold start + {queue_timeout} s in the proxy's queue + {response} s response = "
                             f"{need} s)")
        settings = ingress.IngressSettings(
            group_name=_get(ing_args, "group_name", "", "ingress"), scheme=_get(ing_args, "scheme", "internal", "ingress"),
            inbound_cidrs=tuple(_plain(ing_args.get("inbound_cidrs") or (), "ingress.inbound_cidrs")),
            certificate_arn=ing_args.get("certificate_arn"), class_name=_get(ing_args, "class_name", "alb", "ingress"),
            idle_timeout_seconds=idle)
        problems = settings.problems()
        if problems:
            raise ValueError(f"ModelAPI {name!r}: ingress: " + "; ".join(problems))
        tls = settings.certificate_arn is not None
        if in_flight:
            objects["ingress"] = ingress.ingress(
                name=f"{ns}-{model}", namespace=add_on_ns, labels=spec.labels(), path=path,
                service=_get(add_on, "interceptor_service", "keda-add-ons-http-interceptor-proxy", "http_add_on"),
                port=int(_get(add_on, "interceptor_port", 8080, "http_add_on")), settings=settings,
                # From add-on 0.12.2 the interceptor answers /readyz only on its admin port; on the proxy port the
                # health check would match no route and every target would be unhealthy (data/UPSTREAM.md).
                annotations={**ingress.health_annotations(
                    "/readyz", port=int(_get(add_on, "interceptor_admin_port", 9090, "http_add_on"))),
                    # A stopping interceptor drains this route's longest request; the ALB must not close its
                    # connections first (deregistration delay, 300 s by default).
                    **ingress.target_group_attributes(
                        deregistration_delay=timeouts.deregistration_delay(cold.total, upstream))})
        else:
            readiness = spec.readiness or manifests.default_readiness(port)
            objects["ingress"] = ingress.ingress(
                name=model, namespace=ns, labels=spec.labels(), path=path, service=model, port=port, settings=settings,
                annotations=ingress.health_annotations(readiness.http_path))
    if in_flight:
        hosts = [str(h) for h in _plain((ing_args or {}).get("hosts") or (), "ingress.hosts")]
        if ing_args:  # behind the ALB: ModelAPI puts the ALB's own name first once it is known
            hosts = [*[h for h in hosts if h != CATCH_ALL_HOST], CATCH_ALL_HOST]
        objects["interceptor_route"] = manifests.interceptor_route(
            spec, knobs, path, hosts=hosts, readiness_seconds=cold.total, response_seconds=upstream)
    return Plan(spec, knobs, objects, path, tls, settings, cold, upstream, aws_plan)
