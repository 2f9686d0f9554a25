"""Kubernetes objects of one model API, rendered as plain dicts from a resolved :class:`ModelSpec`.

Pure: no Pulumi resources here (the ModelAPI component wires these dicts into pulumi_kubernetes resources, and
`--out` writes them as YAML). Every object is named after the model (no content hashes): changing an image or an
environment variable changes the pod template of the same Deployment, which rolls; nothing is replaced.

Values that are only known at deploy time (an image from an ECR repository output, a secret env value) may be
Pulumi Outputs: they are placed into the dicts as they are and resolved by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from modelstack.render import autoscaling, labels, proxy as proxy_config, timeouts

POOL_AFFINITY_WEIGHT = 100
SHM_VOLUME = "dshm"
CACHE_VOLUME = "cache"
NODE_CACHE_VOLUME = "node-cache"
TMP_VOLUME = "tmp"
PROXY_VOLUME = "proxy-config"
MODEL_PORT_NAME = "model"
"""Name of the model server's port when the proxy owns the "http" port the Service targets."""
PROXY_CONFIG_ANNOTATION = "modelstack.io/proxy-config"
HUGEPAGES_RESOURCE = "hugepages-2Mi"
INSTANCE_LABEL = "app.kubernetes.io/instance"
"""Tells the autoscaled Deployment's pods from the on-demand floor's (both carry the model label)."""


@dataclass(frozen=True)
class ProbeSpec:
    """One probe: exactly one of http_path / tcp / exec_command; port defaults to the model's port."""

    http_path: Optional[str] = None
    tcp: bool = False
    exec_command: Optional[tuple[str, ...]] = None
    port: Optional[int] = None
    initial_delay_seconds: int = 0
    period_seconds: int = 10
    timeout_seconds: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3

    def handlers(self) -> int:
        return sum((self.http_path is not None, bool(self.tcp), self.exec_command is not None))


@dataclass(frozen=True)
class ContainerSpec:
    """A container of the pod: the model server (first) or a sidecar."""

    name: str
    image: Any
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, Any], ...] = ()
    secret_env: tuple[tuple[str, str, str], ...] = ()
    """(variable, Secret name, key): variables read from a Secret of the model's namespace (secretKeyRef)."""
    cpu: str = "200m"
    cpu_limit: Optional[str] = None
    memory: Optional[str] = None
    gpu: int = 0
    inferentia: int = 0
    hugepages: Optional[str] = None
    """hugepages-2Mi, requested = limited (Neuron runtimes need them), e.g. "256Mi". Default none."""
    port: Optional[int] = None
    """Sidecars only: a port the container listens on (probes default to it). The server's is ModelSpec.port."""
    readiness: Optional[ProbeSpec] = None
    """Sidecars only: the server's probes are ModelSpec's."""
    liveness: Optional[ProbeSpec] = None
    startup: Optional[ProbeSpec] = None


@dataclass(frozen=True)
class NodeCache:
    """A node-wide cache on the node's disk (a hostPath folder, which the node prepares): the init containers mount
    the whole folder read-write at `init_mount_path` and fill `sub_path` in it; the server mounts only `sub_path`,
    read-only, at `mount_path`. Sidecars do not see it."""

    host_path: str
    sub_path: str
    mount_path: str
    init_mount_path: str


@dataclass(frozen=True)
class ProxySpec:
    """The `proxy` container in front of the model server (render/proxy.py renders its config)."""

    settings: proxy_config.ProxySettings
    image: Any = proxy_config.IMAGE
    cpu: str = proxy_config.CPU
    memory: str = proxy_config.MEMORY

    @property
    def config(self) -> str:
        return proxy_config.config(self.settings)

    def container(self) -> ContainerSpec:
        return ContainerSpec(name=proxy_config.CONTAINER, image=self.image, cpu=self.cpu, memory=self.memory)


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to render one model's objects, resolved to plain values and defaults."""

    name: str
    namespace: str
    containers: tuple[ContainerSpec, ...]
    port: int = 8080
    team: str = "unassigned"
    environment: str = "unassigned"
    shm: Optional[str] = None
    readiness: Optional[ProbeSpec] = None
    liveness: Optional[ProbeSpec] = None
    startup: Optional[ProbeSpec] = None
    pre_stop_sleep_seconds: int = 15
    pre_stop_exec: Optional[tuple[str, ...]] = None
    pre_stop_http_path: Optional[str] = None
    pre_stop_http_port: Optional[int] = None
    termination_grace_period_seconds: int = 60
    max_surge: str = "25%"
    max_unavailable: str = "25%"
    min_ready_seconds: int = 0
    progress_deadline_seconds: int = 600
    node_pool: Optional[Any] = None
    """A pool name, or a pulumi Output of one (e.g. a NodeGroup's `node_pool`): it only ever is a value in the node
    affinity, so it need not be known when the objects are rendered."""
    node_groups: tuple[str, ...] = ()
    instance_types: tuple[str, ...] = ()
    accelerator: str = "none"
    tolerate_taints: tuple[dict[str, Any], ...] = ()
    """Taints of the model's nodes besides the accelerator's (its node group's own), tolerated exactly."""
    spot: bool = False
    on_demand_base: int = 0
    strict_zone_spread: bool = False
    run_as_user: int = 10001
    read_only_root_filesystem: bool = True
    replicas: int = 1
    allowed_ingress_cidrs: tuple[str, ...] = ()
    extra_pod_labels: dict[str, str] = field(default_factory=dict)
    proxy: Optional[ProxySpec] = None
    """The request-limit proxy. None: the Service targets the server directly (no limits enforced)."""
    aws_access: bool = False
    """The model has an AWS role: mount the ServiceAccount token (Pod Identity / IRSA need it). Default false."""
    init_containers: tuple[ContainerSpec, ...] = ()
    """Run to completion, in order, before the server starts (e.g. copying LLM weights onto the node). Default none."""
    cache_volume: Optional[tuple[str, str]] = None
    """(mount path, size limit) of an emptyDir every container mounts: node-local disk shared by the init containers
    and the server (an LLM's weights). Default none."""
    node_cache: Optional[NodeCache] = None
    """A node-wide cache (hostPath) instead of `cache_volume`: shared by the pods on one node. Default none."""
    engine_metrics: bool = False
    """The server exports Prometheus metrics on its own port at /metrics (an LLM engine's queue, which KEDA
    scales on): the Service carries the scrape annotations and Prometheus's namespace may reach that port."""

    @property
    def traffic_port(self) -> int:
        """Where the Service sends requests: the proxy's port, else the server's."""
        return self.proxy.settings.listen_port if self.proxy else self.port

    @property
    def server(self) -> ContainerSpec:
        return self.containers[0]

    @property
    def has_floor(self) -> bool:
        return self.spot and self.on_demand_base > 0

    def labels(self) -> dict[str, str]:
        """Labels on every object of the model."""
        return {
            "app.kubernetes.io/name": self.name,
            **labels.MANAGED_BY,
            labels.MODEL_LABEL: self.name,
            labels.TEAM_LABEL: self.team,
            labels.ENVIRONMENT_LABEL: self.environment,
        }

    def selector(self) -> dict[str, str]:
        """Selects every pod of the model: the autoscaled Deployment's and the on-demand floor's."""
        return {labels.MODEL_LABEL: self.name}


def metadata(spec: ModelSpec, name: Optional[str] = None, annotations: Optional[dict[str, str]] = None,
             namespace: Optional[str] = None, extra_labels: Optional[dict[str, str]] = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name or spec.name, "namespace": namespace or spec.namespace,
                          "labels": {**spec.labels(), **(extra_labels or {})}}
    if annotations:
        md["annotations"] = dict(annotations)
    return md


# ------------------------------------------------------------------------------------------------ pods


def probe(p: ProbeSpec, port: int) -> dict[str, Any]:
    if p.handlers() != 1:
        raise ValueError("a probe needs exactly one of http_path, tcp, exec_command")
    out: dict[str, Any]
    if p.http_path is not None:
        out = {"httpGet": {"path": p.http_path, "port": p.port or port}}
    elif p.tcp:
        out = {"tcpSocket": {"port": p.port or port}}
    else:
        out = {"exec": {"command": list(p.exec_command or ())}}
    out.update(initialDelaySeconds=p.initial_delay_seconds, periodSeconds=p.period_seconds,
               timeoutSeconds=p.timeout_seconds, successThreshold=p.success_threshold,
               failureThreshold=p.failure_threshold)
    return out


def default_readiness(port: int) -> ProbeSpec:
    """Cortex's default readiness check: the port accepts TCP connections."""
    return ProbeSpec(tcp=True, port=port, period_seconds=5, failure_threshold=2)


def startup_budget(startup: Any, liveness: Any, readiness: Any, port: int) -> int:
    """The longest a container may take to become ready: its start-up probe's budget; else its liveness probe's
    (which restarts a container that has not started by then); else its readiness probe's (default: TCP). Takes
    any probe with initial_delay_seconds, period_seconds and failure_threshold (ProbeSpec or the config's Probe)."""
    p = startup or liveness or readiness or default_readiness(port)
    return timeouts.probe_budget(p.initial_delay_seconds, p.period_seconds, p.failure_threshold)


def resources(c: ContainerSpec) -> dict[str, Any]:
    """Requests for every resource; limits for memory and accelerators (GPUs are only ever requested = limit).

    No CPU limit unless asked for: CFS throttling adds tail latency to model servers (documented checkov exception).
    """
    req: dict[str, Any] = {"cpu": c.cpu}
    lim: dict[str, Any] = {}
    if c.memory:
        req["memory"] = c.memory
        lim["memory"] = c.memory
    if c.cpu_limit:
        lim["cpu"] = c.cpu_limit
    if c.gpu:
        req[labels.GPU_RESOURCE] = str(c.gpu)
        lim[labels.GPU_RESOURCE] = str(c.gpu)
    if c.inferentia:
        req[labels.NEURON_RESOURCE] = str(c.inferentia)
        lim[labels.NEURON_RESOURCE] = str(c.inferentia)
    if c.hugepages:
        req[HUGEPAGES_RESOURCE] = c.hugepages
        lim[HUGEPAGES_RESOURCE] = c.hugepages
    out: dict[str, Any] = {"requests": req}
    if lim:
        out["limits"] = lim
    return out


def image_pull_policy(image: Any) -> str:
    """IfNotPresent for digest-pinned images (immutable); Always for tags, so every replica runs the same bytes.

    With the layers cached, Always costs one registry round-trip per pod start, not a re-download.
    """
    return "IfNotPresent" if isinstance(image, str) and "@sha256:" in image else "Always"


def _probes(out: dict[str, Any], readiness: Optional[ProbeSpec], liveness: Optional[ProbeSpec],
            startup: Optional[ProbeSpec], port: Optional[int]) -> None:
    for key, p in (("readinessProbe", readiness), ("livenessProbe", liveness), ("startupProbe", startup)):
        if p is None:
            continue
        if p.port is None and port is None and p.exec_command is None:
            raise ValueError(f"{key}: an http or tcp probe needs a port (the container declares none)")
        out[key] = probe(p, port or 0)


def env(c: ContainerSpec) -> list[dict[str, Any]]:
    """The container's variables: plain values, then those read from a Secret (secretKeyRef)."""
    return [*({"name": k, "value": v} for k, v in c.env),
            *({"name": k, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}} for k, secret, key in c.secret_env)]


def container(spec: ModelSpec, c: ContainerSpec, serving: bool, init: bool = False) -> dict[str, Any]:
    """The server (first container: the model's port, probes and preStop hook), a sidecar (its own port and
    probes) or an init container. Every container shares the pod's localhost, /tmp and /dev/shm."""
    out: dict[str, Any] = {"name": c.name, "image": c.image, "imagePullPolicy": image_pull_policy(c.image)}
    if c.command:
        out["command"] = list(c.command)
    if c.args:
        out["args"] = list(c.args)
    if c.env or c.secret_env:
        out["env"] = env(c)
    if serving:
        out["ports"] = [{"name": MODEL_PORT_NAME if spec.proxy else "http", "containerPort": spec.port, "protocol": "TCP"}]
        _probes(out, spec.readiness or default_readiness(spec.port), spec.liveness, spec.startup, spec.port)
        pre_stop = pre_stop_handler(spec)
        if pre_stop:
            out["lifecycle"] = {"preStop": pre_stop}
    else:
        if c.port:
            out["ports"] = [{"containerPort": c.port, "protocol": "TCP"}]
        _probes(out, c.readiness, c.liveness, c.startup, c.port)
    out["resources"] = resources(c)
    out["securityContext"] = _security_context(spec)
    mounts: list[dict[str, Any]] = [{"name": TMP_VOLUME, "mountPath": "/tmp"}]
    if spec.shm:
        mounts.append({"name": SHM_VOLUME, "mountPath": "/dev/shm"})
    if spec.cache_volume:
        mounts.append({"name": CACHE_VOLUME, "mountPath": spec.cache_volume[0]})
    nc = spec.node_cache
    if nc and init:
        mounts.append({"name": NODE_CACHE_VOLUME, "mountPath": nc.init_mount_path})
    elif nc and serving:
        mounts.append({"name": NODE_CACHE_VOLUME, "mountPath": nc.mount_path, "subPath": nc.sub_path, "readOnly": True})
    out["volumeMounts"] = mounts
    return out


def _security_context(spec: ModelSpec) -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": spec.read_only_root_filesystem,
        "runAsNonRoot": True,
        "runAsUser": spec.run_as_user,
        "capabilities": {"drop": ["ALL"]},
    }


def proxy_container(spec: ModelSpec) -> dict[str, Any]:
    """HAProxy in front of the server: the Service's "http" port, /metrics for Prometheus, /healthz for readiness.

    It gets the server's preStop sleep, so it keeps accepting while the load balancer deregisters the pod; then the
    image's stop signal (SIGUSR1) makes it stop listening and finish what is in flight (hard-stop-after bounds it).
    """
    assert spec.proxy is not None
    p = spec.proxy
    s = p.settings
    health = ProbeSpec(http_path="/healthz", port=s.metrics_port, period_seconds=5, failure_threshold=2)
    out: dict[str, Any] = {
        "name": proxy_config.CONTAINER, "image": p.image, "imagePullPolicy": image_pull_policy(p.image),
        "ports": [{"name": "http", "containerPort": s.listen_port, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": s.metrics_port, "protocol": "TCP"}],
        "readinessProbe": probe(health, s.metrics_port),
        "livenessProbe": probe(ProbeSpec(http_path="/healthz", port=s.metrics_port, period_seconds=10,
                                         failure_threshold=3), s.metrics_port),
    }
    if spec.pre_stop_sleep_seconds > 0:
        out["lifecycle"] = {"preStop": {"sleep": {"seconds": spec.pre_stop_sleep_seconds}}}
    out["resources"] = resources(p.container())
    out["securityContext"] = {**_security_context(spec), "readOnlyRootFilesystem": True}
    out["volumeMounts"] = [{"name": PROXY_VOLUME, "mountPath": proxy_config.CONFIG_DIR, "readOnly": True}]
    return out


def proxy_config_map(spec: ModelSpec) -> dict[str, Any]:
    """The proxy's haproxy.cfg (`<model>-proxy`); the pod template carries its hash, so a change rolls the pods."""
    assert spec.proxy is not None
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(spec, name=proxy_config_map_name(spec)),
            "data": {proxy_config.CONFIG_FILE: spec.proxy.config}}


def proxy_config_map_name(spec: ModelSpec) -> str:
    return f"{spec.name}-proxy"


def pre_stop_handler(spec: ModelSpec) -> Optional[dict[str, Any]]:
    """The preStop hook: the user's exec/http hook, else a kubelet `sleep` (no shell needed in the image).

    `lifecycle.preStop.sleep` is beta and on by default from Kubernetes 1.30, older than every version we support; it lets
    the load balancer deregister the pod before the server gets SIGTERM, so in-flight requests are not cut.
    """
    if spec.pre_stop_exec:
        return {"exec": {"command": list(spec.pre_stop_exec)}}
    if spec.pre_stop_http_path:
        return {"httpGet": {"path": spec.pre_stop_http_path, "port": spec.pre_stop_http_port or spec.port}}
    if spec.pre_stop_sleep_seconds > 0:
        return {"sleep": {"seconds": spec.pre_stop_sleep_seconds}}
    return None


def tolerations(spec: ModelSpec) -> list[dict[str, Any]]:
    out = []
    if spec.accelerator == "gpu" or any(c.gpu for c in spec.containers):
        out.append(labels.k8s_taint(labels.GPU_TAINT))
    if spec.accelerator == "inferentia" or any(c.inferentia for c in spec.containers):
        out.append(labels.k8s_taint(labels.NEURON_TAINT))
    return labels.tolerations_for(spec.tolerate_taints, *out)


def affinity(spec: ModelSpec, on_demand_floor: bool = False) -> Optional[dict[str, Any]]:
    """Required: the model's node pool, EKS node groups and instance types when given (and ON_DEMAND capacity for
    the floor). Preferred: SPOT capacity when spot."""
    terms: list[dict[str, Any]] = []
    if spec.node_pool is not None and spec.node_pool != "":
        terms.append({"key": labels.NODE_POOL_LABEL, "operator": "In", "values": [spec.node_pool]})
    if spec.node_groups:
        terms.append({"key": labels.EKS_NODEGROUP_LABEL, "operator": "In", "values": list(spec.node_groups)})
    if spec.instance_types:
        terms.append({"key": labels.INSTANCE_TYPE_LABEL, "operator": "In", "values": list(spec.instance_types)})
    if on_demand_floor:
        terms.append({"key": labels.CAPACITY_TYPE_LABEL, "operator": "In", "values": ["ON_DEMAND"]})
    node: dict[str, Any] = {}
    if terms:
        node["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [{"matchExpressions": terms}]}
    if spec.spot and not on_demand_floor:
        node["preferredDuringSchedulingIgnoredDuringExecution"] = [{
            "weight": POOL_AFFINITY_WEIGHT,
            "preference": {"matchExpressions": [{"key": labels.CAPACITY_TYPE_LABEL, "operator": "In", "values": ["SPOT"]}]},
        }]
    return {"nodeAffinity": node} if node else None


def topology_spread(spec: ModelSpec, pod_labels: dict[str, str]) -> list[dict[str, Any]]:
    """Spread replicas across zones (hard in prod) and across nodes (always soft: one node may be all there is)."""
    sel = {"matchLabels": dict(pod_labels)}
    return [
        {"maxSkew": 1, "topologyKey": labels.ZONE_LABEL,
         "whenUnsatisfiable": "DoNotSchedule" if spec.strict_zone_spread else "ScheduleAnyway", "labelSelector": sel},
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": sel},
    ]


def pod_labels(spec: ModelSpec, capacity: Optional[str], instance: Optional[str] = None) -> dict[str, str]:
    out = {**spec.labels(), **spec.extra_pod_labels, INSTANCE_LABEL: instance or spec.name}
    if capacity:
        out[labels.CAPACITY_LABEL] = capacity
    return out


def pod_template(spec: ModelSpec, capacity: Optional[str], on_demand_floor: bool = False) -> dict[str, Any]:
    pl = pod_labels(spec, capacity, f"{spec.name}-on-demand" if on_demand_floor else None)
    volumes: list[dict[str, Any]] = [{"name": TMP_VOLUME, "emptyDir": {}}]
    if spec.shm:
        volumes.append({"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": spec.shm}})
    if spec.cache_volume:
        volumes.append({"name": CACHE_VOLUME, "emptyDir": {"sizeLimit": spec.cache_volume[1]}})
    if spec.node_cache:
        # type Directory: the node made it (owned by the pods' UID); a node that did not fails the pod visibly
        volumes.append({"name": NODE_CACHE_VOLUME, "hostPath": {"path": spec.node_cache.host_path, "type": "Directory"}})
    containers = [container(spec, c, i == 0) for i, c in enumerate(spec.containers)]
    meta: dict[str, Any] = {"labels": pl}
    if spec.proxy:
        containers.insert(1, proxy_container(spec))
        volumes.append({"name": PROXY_VOLUME, "configMap": {"name": proxy_config_map_name(spec)}})
        meta["annotations"] = {
            PROXY_CONFIG_ANNOTATION: proxy_config.config_hash(spec.proxy.config),
            # The prometheus chart's kubernetes-pods job scrapes pods that carry these.
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(spec.proxy.settings.metrics_port),
            "prometheus.io/path": "/metrics",
        }
    pod: dict[str, Any] = {
        "serviceAccountName": spec.name,
        # Only models with an AWS role get a token (Pod Identity and IRSA exchange it for credentials).
        "automountServiceAccountToken": spec.aws_access,
        "terminationGracePeriodSeconds": spec.termination_grace_period_seconds,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": spec.run_as_user,
            "runAsGroup": spec.run_as_user,
            "fsGroup": spec.run_as_user,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        **({"initContainers": [container(spec, c, False, init=True) for c in spec.init_containers]}
           if spec.init_containers else {}),
        "containers": containers,
        "volumes": volumes,
        "topologySpreadConstraints": topology_spread(spec, {labels.MODEL_LABEL: spec.name}),
    }
    aff = affinity(spec, on_demand_floor)
    if aff:
        pod["affinity"] = aff
    tol = tolerations(spec)
    if tol:
        pod["tolerations"] = tol
    return {"metadata": meta, "spec": pod}


def _deployment(spec: ModelSpec, meta: dict[str, Any], replicas: int, capacity: Optional[str],
                instance: Optional[str] = None, on_demand_floor: bool = False) -> dict[str, Any]:
    """A rolling, readiness-gated Deployment of the model's pod template."""
    pl = pod_labels(spec, capacity, instance)
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": _selector_labels(pl)},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": _int_or_str(spec.max_surge), "maxUnavailable": _int_or_str(spec.max_unavailable)}},
            "minReadySeconds": spec.min_ready_seconds,
            "progressDeadlineSeconds": spec.progress_deadline_seconds,
            "revisionHistoryLimit": 5,
            "template": pod_template(spec, capacity, on_demand_floor=on_demand_floor),
        },
    }


def deployment(spec: ModelSpec) -> dict[str, Any]:
    """The autoscaled Deployment: spot-preferring when the pool has spot."""
    annotations = {labels.CAPACITY_LABEL: "spot"} if spec.has_floor else None
    return _deployment(spec, metadata(spec, annotations=annotations), spec.replicas, "spot" if spec.spot else None)


def on_demand_deployment(spec: ModelSpec) -> dict[str, Any]:
    """The fixed on-demand floor of a spot model: `on_demand_base` replicas that a spot reclaim cannot take."""
    name = f"{spec.name}-on-demand"
    meta = metadata(spec, name=name, extra_labels={labels.CAPACITY_LABEL: "on-demand"})
    return _deployment(spec, meta, spec.on_demand_base, "on-demand", name, on_demand_floor=True)


def _selector_labels(pl: dict[str, str]) -> dict[str, str]:
    # Selectors are immutable (a change would replace the Deployment): only the model and the Deployment's own
    # instance name, never team, environment or capacity, which a config change may alter.
    keep = (labels.MODEL_LABEL, INSTANCE_LABEL)
    return {k: v for k, v in pl.items() if k in keep}


#: The prometheus chart's `kubernetes-service-endpoints` job scrapes every endpoint of a Service that carries these.
def engine_scrape_annotations(port: int) -> dict[str, str]:
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics"}


def service(spec: ModelSpec) -> dict[str, Any]:
    meta = metadata(spec)
    if spec.engine_metrics:
        meta = {**meta, "annotations": {**(meta.get("annotations") or {}), **engine_scrape_annotations(spec.port)}}
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": meta,
        "spec": {"type": "ClusterIP", "selector": spec.selector(),
                 "ports": [{"name": "http", "port": spec.port, "targetPort": "http", "protocol": "TCP"}]},
    }


def service_account(spec: ModelSpec) -> dict[str, Any]:
    """The model's own identity; its token is mounted only when the model has AWS access."""
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(spec),
            "automountServiceAccountToken": spec.aws_access}


def pod_disruption_budget(spec: ModelSpec) -> dict[str, Any]:
    """At most one pod of the model (either Deployment) is evicted at a time by drains and node upgrades.

    maxUnavailable, not minAvailable: with minAvailable = replicas a single-replica model would block every drain.
    """
    return {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": metadata(spec),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": spec.selector()},
                 "unhealthyPodEvictionPolicy": "AlwaysAllow"},
    }


def _namespaces(names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}} for ns in names]


def network_policy(spec: ModelSpec, from_namespaces: tuple[str, ...] = (),
                   metrics_namespaces: tuple[str, ...] = ()) -> dict[str, Any]:
    """Only the traffic port (the proxy's) and the server's port (kubelet probes) are reachable: from the VPC (the
    ALB targets pod IPs) and from the add-on's namespace; the proxy's metrics port from `metrics_namespaces`."""
    peers: list[dict[str, Any]] = [{"ipBlock": {"cidr": c}} for c in spec.allowed_ingress_cidrs]
    peers += _namespaces(from_namespaces)
    ports = sorted({spec.traffic_port, spec.port})
    rule: dict[str, Any] = {"ports": [{"protocol": "TCP", "port": p} for p in ports]}
    if peers:
        rule["from"] = peers
    rules = [rule]
    if spec.proxy and metrics_namespaces:
        rules.append({"ports": [{"protocol": "TCP", "port": spec.proxy.settings.metrics_port}],
                      "from": _namespaces(metrics_namespaces)})
    if spec.engine_metrics and metrics_namespaces:
        rules.append({"ports": [{"protocol": "TCP", "port": spec.port}], "from": _namespaces(metrics_namespaces)})
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": metadata(spec),
        "spec": {"podSelector": {"matchLabels": spec.selector()}, "policyTypes": ["Ingress"], "ingress": rules},
    }


def scaled_object(spec: ModelSpec, knobs: autoscaling.Knobs, target: autoscaling.Target) -> dict[str, Any]:
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": metadata(spec),
            "spec": autoscaling.scaled_object_spec(knobs, target)}


def interceptor_route(spec: ModelSpec, knobs: autoscaling.Knobs, path: str, *, readiness_seconds: int,
                      response_seconds: int, hosts: Optional[list[str]] = None) -> dict[str, Any]:
    """The add-on route (InterceptorRoute). `hosts` are the static ones; ModelAPI adds the ALB's DNS name once it is
    known. No hosts: any Host (in-cluster clients through the interceptor)."""
    return {
        "apiVersion": "http.keda.sh/v1beta1", "kind": "InterceptorRoute",
        "metadata": metadata(spec),
        "spec": autoscaling.interceptor_route_spec(knobs, service=spec.name, port=spec.port, path=path, hosts=hosts,
                                                   readiness_seconds=readiness_seconds,
                                                   response_seconds=response_seconds),
    }


def _int_or_str(v: str) -> Any:
    """"1" -> 1 (a count), "25%" -> "25%": the API's IntOrString."""
    return int(v) if isinstance(v, str) and v.isdigit() else v
