"""TrafficSplitter: one path on the shared ALB, split across model APIs by weight (Cortex's TrafficSplitter)."""

import sys
from typing import Any, Optional, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from modelstack.render import ingress, labels, timeouts
from modelstack.serving.model_api import IngressArgs, _lb_host

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # pragma: no cover
    from typing_extensions import NotRequired

TYPE_TOKEN = "modelstack:index:TrafficSplitter"


class BackendArgs(TypedDict):
    """One model behind the split."""

    service: pulumi.Input[str]
    """The model's Service name (ModelAPI.service_name), in the split's namespace."""
    port: NotRequired[pulumi.Input[int]]
    """The Service port. Default 8080."""
    weight: pulumi.Input[int]
    """Percent of requests, 0-100; the weights of a split sum to exactly 100."""


class TrafficSplitterArgs(TypedDict):
    """Inputs of a TrafficSplitter. Every field must be a known value except `ingress.certificate_arn`."""

    backends: list[BackendArgs]
    """1 to 5 backends (an ALB rule forwards to at most 5 target groups), weights summing to 100."""
    ingress: IngressArgs
    """The shared ALB group; `ingress.path` defaults to "/<split name>" and must be unique in the group."""
    namespace: NotRequired[pulumi.Input[str]]
    """Namespace of the backends' Services (not "default"). Default "models"."""
    team: NotRequired[pulumi.Input[str]]
    """Owner label value. Default "unassigned"."""
    environment: NotRequired[pulumi.Input[str]]
    """Environment label value. Default "unassigned"."""
    kubeconfig: NotRequired[Optional[pulumi.Input[str]]]
    """Cluster credentials: the component creates its own Kubernetes provider. Default: the provider in opts."""


class TrafficSplitter(pulumi.ComponentResource):
    """Weighted routing of one path across models, done by the ALB itself (weighted target groups).

    One Ingress in the shared IngressGroup whose rule forwards to the backends' Services through an
    `alb.ingress.kubernetes.io/actions.<split>` forward action with per-Service weights: canaries and A/B tests with
    no proxy in the path. Requests through a split go straight to the models' pods: they bypass the KEDA HTTP
    add-on's interceptor, so they are not counted by in_flight autoscaling and cannot wake a model scaled to zero.
    Put canaries on models with min_replicas >= 1, and prefer cpu/gpu/prometheus signals for models that mostly
    receive split traffic. Cortex's shadow target (a mirrored copy of traffic) has no ALB equivalent and is not offered.
    """

    endpoint: pulumi.Output[str]
    """URL of the split: https://<ALB host><path>; a placeholder host in offline plans."""
    path: pulumi.Output[str]
    """The split's path on the shared ALB."""

    def __init__(self, name: str, args: TrafficSplitterArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        rendered, path, settings = render(name, args)  # every check before anything registers
        ingress.registry().claim(settings, path, f"traffic split {name!r}")
        tls = settings.certificate_arn is not None
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.get("kubeconfig") is not None:
            provider = k8s.Provider(f"{name}-provider", kubeconfig=args["kubeconfig"], enable_config_map_mutable=True,
                                   opts=child)
            child = pulumi.ResourceOptions(parent=self, provider=provider)
        ing = k8s.networking.v1.Ingress(f"{name}-ingress", metadata=rendered["metadata"], spec=rendered["spec"], opts=child)

        scheme = "https" if tls else "http"
        self.endpoint = ing.status.apply(lambda st: f"{scheme}://{_lb_host(st)}{path}")
        self.path = pulumi.Output.from_input(path)
        self.register_outputs({"endpoint": self.endpoint, "path": self.path})


def render(name: str, args: TrafficSplitterArgs) -> tuple[dict[str, Any], str, ingress.IngressSettings]:
    """Validate and render the split's Ingress; raises ValueError before anything registers."""
    a: dict[str, Any] = dict(args)
    raw = list(a.get("backends") or [])
    for i, b in enumerate(raw):
        for k in ("service", "port", "weight"):
            if isinstance(b.get(k), pulumi.Output):
                raise TypeError(f"traffic split {name!r}: backends[{i}].{k} must be a known value, not an Output")
    backends = [ingress.WeightedBackend(service=b["service"], port=int(b.get("port") or 8080), weight=b["weight"]) for b in raw]
    ingress.check_weights(name, backends)
    ns: str = a.get("namespace") or "models"
    if ns == "default":
        raise ValueError(f"traffic split {name!r}: namespace 'default' is not allowed")
    ia = dict(a.get("ingress") or {})
    if not ia.get("group_name"):
        raise ValueError(f"traffic split {name!r}: ingress.group_name is required (the shared ALB's IngressGroup)")
    settings = ingress.IngressSettings(group_name=ia["group_name"], scheme=ia.get("scheme") or "internal",
                                       inbound_cidrs=tuple(ia.get("inbound_cidrs") or ()),
                                       certificate_arn=ia.get("certificate_arn"), class_name=ia.get("class_name") or "alb",
                                       idle_timeout_seconds=ia.get("idle_timeout_seconds") or timeouts.alb_idle_timeout(()))
    problems = settings.problems()
    if problems:
        raise ValueError(f"traffic split {name!r}: ingress: " + "; ".join(problems))
    path = ingress.validate_path(ia.get("path") or f"/{name}")
    lab: dict[str, str] = {"app.kubernetes.io/name": name, **labels.MANAGED_BY,
           labels.TEAM_LABEL: a.get("team") or "unassigned", labels.ENVIRONMENT_LABEL: a.get("environment") or "unassigned"}
    rendered = ingress.weighted_ingress(name=name, namespace=ns, labels=lab, path=path, backends=backends, settings=settings)
    return rendered, path, settings
