"""One shared ALB per cluster: each model (and each traffic split) is its own Ingress in one IngressGroup.

The AWS Load Balancer Controller merges every Ingress carrying the same `alb.ingress.kubernetes.io/group.name`
into one ALB, so N models cost one load balancer, not N. Pure renderers plus :class:`PathRegistry`, which rejects
a second claim on a path, and conflicting group-wide settings, within one program run.

Settings the controller treats as exclusive per group (scheme, inbound CIDRs per listen port, ssl-redirect) must be
equal on every Ingress of the group, or the controller stops reconciling the whole group: the registry checks that.
"""

from __future__ import annotations

import ipaddress
import json
import re
import weakref
from dataclasses import dataclass
from typing import Any, Optional

import pulumi

ANN = "alb.ingress.kubernetes.io/"
SCHEMES = ("internal", "internet-facing")
_GROUP_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")
_PATH_RE = re.compile(r"^/[A-Za-z0-9._~/-]*$")


@dataclass(frozen=True)
class IngressSettings:
    """Group-wide settings of the shared ALB (equal on every Ingress of the group)."""

    group_name: str
    scheme: str = "internal"
    inbound_cidrs: tuple[str, ...] = ()
    certificate_arn: Any = None
    class_name: str = "alb"
    idle_timeout_seconds: Optional[int] = None
    """The ALB's idle timeout (load balancer attribute); None leaves the ALB's default (60 s)."""

    def problems(self) -> list[str]:
        out = []
        if not _GROUP_RE.match(self.group_name or ""):
            out.append(f"group_name {self.group_name!r}: lowercase alphanumerics, '-' or '.', at most 63 characters")
        if self.scheme not in SCHEMES:
            out.append(f"scheme {self.scheme!r}: allowed {', '.join(SCHEMES)}")
        for c in self.inbound_cidrs:
            try:
                ipaddress.ip_network(c, strict=True)
            except ValueError:
                out.append(f"inbound_cidrs entry {c!r} is not a CIDR block such as 10.0.0.0/8")
        if self.scheme == "internet-facing" and not self.inbound_cidrs:
            out.append("an internet-facing load balancer needs inbound_cidrs (an allow-list; 0.0.0.0/0 must be explicit)")
        return out

    def exclusive(self) -> tuple[Any, ...]:
        """What must agree across the group (the certificate merges, the rest does not)."""
        return (self.scheme, tuple(sorted(self.inbound_cidrs)), self.certificate_arn is not None, self.class_name,
                self.idle_timeout_seconds)


def validate_path(path: str) -> str:
    if not isinstance(path, str) or not _PATH_RE.match(path) or (len(path) > 1 and path.endswith("/")):
        raise ValueError(f"path {path!r}: a URL path such as /sentiment (starts with '/', no trailing '/', "
                         "characters A-Z a-z 0-9 . _ ~ / -)")
    return path


def group_annotations(s: IngressSettings) -> dict[str, Any]:
    """Annotations every Ingress of the group carries."""
    ann: dict[str, Any] = {
        ANN + "group.name": s.group_name,
        ANN + "scheme": s.scheme,
        ANN + "target-type": "ip",
    }
    if s.inbound_cidrs:
        ann[ANN + "inbound-cidrs"] = ",".join(s.inbound_cidrs)
    if s.certificate_arn is not None:
        ann[ANN + "certificate-arn"] = s.certificate_arn
        ann[ANN + "listen-ports"] = json.dumps([{"HTTP": 80}, {"HTTPS": 443}])
        ann[ANN + "ssl-redirect"] = "443"
    else:
        ann[ANN + "listen-ports"] = json.dumps([{"HTTP": 80}])
    if s.idle_timeout_seconds is not None:
        ann[ANN + "load-balancer-attributes"] = f"idle_timeout.timeout_seconds={int(s.idle_timeout_seconds)}"
    return ann


def health_annotations(path: Optional[str], port: Optional[int] = None) -> dict[str, str]:
    """Target-group health check: an HTTP path (the readiness path), or any HTTP answer at `/` for TCP readiness."""
    ann = {ANN + "healthcheck-path": path or "/", ANN + "success-codes": "200" if path else "200-499"}
    if port is not None:
        ann[ANN + "healthcheck-port"] = str(port)
    return ann


def target_group_attributes(*, deregistration_delay: int) -> dict[str, str]:
    """Target group attributes of one Ingress's target group (its own: the controller makes one per Ingress and
    backend): how long the ALB keeps a deregistered target's connections open."""
    return {ANN + "target-group-attributes": f"deregistration_delay.timeout_seconds={int(deregistration_delay)}"}


def ingress(*, name: str, namespace: str, labels: dict[str, str], path: str, service: str, port: Any,
            settings: IngressSettings, annotations: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """An Ingress routing `path` (and everything under it) to a Service port, joined to the group's ALB."""
    port_ref = {"name": port} if isinstance(port, str) else {"number": port}
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels),
                     "annotations": {**group_annotations(settings), **(annotations or {})}},
        "spec": {
            "ingressClassName": settings.class_name,
            "rules": [{"http": {"paths": [{"path": path, "pathType": "Prefix",
                                           "backend": {"service": {"name": service, "port": port_ref}}}]}}],
        },
    }


@dataclass(frozen=True)
class WeightedBackend:
    service: str
    port: int
    weight: int


def check_weights(split: str, backends: list[WeightedBackend]) -> None:
    """Weights are whole percentages summing to exactly 100 (ValueError naming the split, the weights and the sum)."""
    if not backends:
        raise ValueError(f"traffic split {split!r}: needs at least one backend")
    if len(backends) > 5:
        raise ValueError(f"traffic split {split!r}: at most 5 backends (an ALB rule forwards to at most 5 target groups)")
    weights = ", ".join(f"{b.service}={b.weight}" for b in backends)
    bad = [b for b in backends if isinstance(b.weight, bool) or not isinstance(b.weight, int) or not 0 <= b.weight <= 100]
    if bad:
        raise ValueError(f"traffic split {split!r}: weights must be whole numbers from 0 to 100 (got {weights})")
    total = sum(b.weight for b in backends)
    if total != 100:
        raise ValueError(f"traffic split {split!r}: weights must sum to 100, got {weights} (sum {total})")
    names = [b.service for b in backends]
    if len(set(names)) != len(names):
        raise ValueError(f"traffic split {split!r}: each backend service at most once (got {', '.join(names)})")


def forward_action(backends: list[WeightedBackend]) -> str:
    """The controller's `actions.<name>` JSON: one forward action over weighted target groups (the Services)."""
    return json.dumps({"type": "forward", "forwardConfig": {"targetGroups": [
        {"serviceName": b.service, "servicePort": b.port, "weight": b.weight} for b in backends]}},
        separators=(",", ":"))


def weighted_ingress(*, name: str, namespace: str, labels: dict[str, str], path: str, backends: list[WeightedBackend],
                     settings: IngressSettings) -> dict[str, Any]:
    """An Ingress whose rule forwards `path` to several Services by weight (the ALB does the split).

    `backends` are checked already (:func:`check_weights`, which TrafficSplitter runs before anything else)."""
    action = name
    return ingress(name=name, namespace=namespace, labels=labels, path=path, service=action, port="use-annotation",
                   settings=settings, annotations={ANN + f"actions.{action}": forward_action(backends),
                                                   **health_annotations(None)})


class PathRegistry:
    """Paths claimed on each IngressGroup in one program run, and the group's exclusive settings."""

    def __init__(self) -> None:
        self.paths: dict[tuple[str, str], str] = {}
        self.settings: dict[str, tuple[tuple[Any, ...], str]] = {}

    def claim(self, settings: IngressSettings, path: str, owner: str) -> None:
        """Record `owner`'s path on the group; ValueError if another owner has it or the group settings differ."""
        key = (settings.group_name, path)
        if key in self.paths and self.paths[key] != owner:
            raise ValueError(f"{owner}: path {path!r} on load balancer group {settings.group_name!r} is already "
                             f"used by {self.paths[key]}; give one of them another path")
        prior = self.settings.get(settings.group_name)
        if prior and prior[0] != settings.exclusive():
            raise ValueError(f"{owner}: load balancer group {settings.group_name!r} settings (scheme, inbound_cidrs, "
                             f"TLS, class, idle timeout) differ from those of {prior[1]}; every Ingress of a group must agree")
        self.paths[key] = owner
        self.settings.setdefault(settings.group_name, (settings.exclusive(), owner))


_registries: "weakref.WeakKeyDictionary[Any, PathRegistry]" = weakref.WeakKeyDictionary()
_fallback: dict[tuple[str, str], PathRegistry] = {}


def registry() -> PathRegistry:
    """The registry of the running program (a fresh one per program run, keyed by its root stack resource)."""
    root = pulumi.runtime.settings.get_root_resource()
    if root is None:
        return _fallback.setdefault((pulumi.get_project(), pulumi.get_stack()), PathRegistry())
    reg = _registries.get(root)
    if reg is None:
        reg = _registries[root] = PathRegistry()
    return reg
