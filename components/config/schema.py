"""Stack configuration: the whole platform of one environment, parsed once and validated before any resource.

The stack file (``stacks/Pulumi.<env>.yaml``) holds these keys under the ``modelstack`` namespace::

    modelstack:platform   # environment, team, tags, cluster, node_groups, models, traffic_splits

plus ``aws:region``. :func:`modelstack.config.load.load_platform` turns them into a frozen :class:`Platform` or raises
:class:`ConfigError` listing *every* problem (key path, value given, what is allowed). Components never read
config; only the stack program does, through this module.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal, Mapping, Optional, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from modelstack.render import autoscaling, iam, ingress, karpenter, node_templates, subnets, tiers, vllm
from modelstack.capacity import sizing
from modelstack.render.charts import KUBERNETES_VERSIONS as SUPPORTED_KUBERNETES, chart, known_versions

NAMESPACE = "modelstack"
CONFIG_KEY = f"{NAMESPACE}:platform"
REGION_KEY = "aws:region"

#: EKS end of standard support per Kubernetes version (extended support, $0.60 instead of $0.10 per cluster-hour,
#: runs 12 months more). Source: endoflife.date/amazon-eks, which mirrors the EKS release calendar.
EKS_STANDARD_SUPPORT_END = {
    "1.32": date(2026, 3, 23),
    "1.33": date(2026, 7, 29),
    "1.34": date(2026, 12, 2),
    "1.35": date(2027, 3, 27),
}
#: The minors modelstack deploys: those every pinned chart supports (render/charts.py).
KUBERNETES_VERSIONS = SUPPORTED_KUBERNETES


def in_extended_support(version: str, on: date) -> bool:
    """Whether EKS bills `version` at the extended-support rate on day `on`."""
    return on > EKS_STANDARD_SUPPORT_END[version]

#: The AWS commercial-partition regions where EKS runs: botocore 1.44.8 (the locked version, requirements/dev.lock),
#: botocore/data/endpoints.json, partition "aws", service "eks" (what `Session().get_available_regions("eks")`
#: returns); data/SOURCES.md "EKS regions". tests/config/test_regions.py holds it to the installed botocore. Prices:
#: a region's price file when there is one (`modelstack prices refresh`), else us-east-1's, named in the plan.
REGIONS = (
    "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
    "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
    "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1",
    "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1",
    "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
)
EKS_REGIONS = REGIONS

_NAME_RE = r"^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$"
_NAME_RULE = "a lowercase DNS label: a-z, 0-9 and '-', starting with a letter, at most 32 characters"
_DURATION_RE = re.compile(r"^(\d+)(s|m|h)?$")



def _each_matching(values: list[str], pattern: str, allowed: str) -> list[str]:
    """`values` unchanged when every one matches `pattern`; else ValueError "<allowed> (bad: '<value>')"."""
    for v in values:
        if not re.match(pattern, v):
            raise ValueError(f"{allowed} (bad: {v!r})")
    return values

class ConfigIssue(BaseModel):
    """One problem: where (key path), what was given, what is allowed."""

    model_config = ConfigDict(frozen=True)
    path: str
    given: str
    allowed: str

    def render(self) -> str:
        return f"{self.path}: got {self.given}; allowed: {self.allowed}"


class ConfigError(Exception):
    """Every problem in one stack's configuration, reported together."""

    def __init__(self, stack: str, issues: list[ConfigIssue], source: str | None = None):
        self.stack, self.issues, self.source = stack, issues, source
        super().__init__(self.render())

    def render(self) -> str:
        where = f" ({self.source})" if self.source else ""
        n = len(self.issues)
        head = f"stack '{self.stack}'{where}: {n} configuration error{'s' if n != 1 else ''}"
        return "\n".join([head] + [f"  - {i.render()}" for i in self.issues])


class _Strict(BaseModel):
    """Every section of the stack config: unknown keys refused, and no coercion (strict mode): "8080" is not a port,
    "yes" is not true, 0.5 is not an integer; an integer stays welcome where a number is. No .inf or .nan."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def rule_error(given: str, allowed: str) -> PydanticCustomError:
    """A validator's error that carries its own 'got ...' text (not the whole mapping it was raised on)."""
    return PydanticCustomError("config_rule", "{allowed}", {"given": given, "allowed": allowed})


def _one_handler(obj: BaseModel, handlers: tuple[str, ...], allow_none: bool) -> None:
    set_ = [h for h in handlers if getattr(obj, h) is not None]
    if len(set_) > 1 or (not set_ and not allow_none):
        given = " and ".join(set_) if set_ else "no handler"
        what = "exactly one of " if not allow_none else "at most one of "
        raise rule_error(given, what + ", ".join(handlers))


Name = Annotated[str, StringConstraints(pattern=_NAME_RE)]
"""A key that names something (model, node group, split, access entry): a DNS label."""


def _name_field(default: Any = ..., **kw: Any) -> Any:
    return Field(default, pattern=_NAME_RE, **kw)


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as e:
        raise ValueError(f"a CIDR block such as 10.0.0.0/16 ({e})") from None


def _url_path(value: Optional[str]) -> Optional[str]:
    """A load balancer path, by the rule the Ingress renderer applies (render.ingress.validate_path)."""
    if value is None:
        return None
    try:
        return ingress.validate_path(value)
    except ValueError:
        raise ValueError("a URL path such as /sentiment (starts with '/', no trailing '/', characters A-Z a-z 0-9 . _ ~ / -)") from None


def duration_seconds(value: Union[int, str]) -> int:
    """`60`, `"60s"`, `"5m"` or `"1h"` as whole seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 60, '60s', '5m' or '1h'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a duration >= 0")
        return value
    m = _DURATION_RE.match(str(value).strip())
    if not m:
        raise ValueError("a duration such as 60, '60s', '5m' or '1h'")
    return int(m.group(1)) * {"s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]


#: The longest string execve(2) passes, NUL included: MAX_ARG_STRLEN = 32 pages of 4 KiB (Linux
#: include/uapi/linux/binfmts.h; fs/exec.c refuses a longer argv or envp string with E2BIG, so the container would
#: never start). It bounds each command and args item and each NAME=value of env.
MAX_ARG_STRLEN = 32 * 4096


def _exec_strings(values: list[str], what: str) -> list[str]:
    """`values` unchanged when each fits execve's limit; else ValueError naming the first that does not."""
    for i, v in enumerate(values):
        if len(v.encode()) >= MAX_ARG_STRLEN:
            raise ValueError(f"{what} of at most {MAX_ARG_STRLEN - 1:,} bytes each (execve's MAX_ARG_STRLEN, NUL "
                             f"included; item {i} has {len(v.encode()):,})")
    return values


def _env(values: dict[str, str]) -> dict[str, str]:
    for k, v in values.items():
        n = len(f"{k}={v}".encode())
        if n >= MAX_ARG_STRLEN:
            raise ValueError(f"variables of at most {MAX_ARG_STRLEN - 1:,} bytes as NAME=value (execve's MAX_ARG_STRLEN, "
                             f"NUL included; {k!r} has {n:,})")
    return values


# The image reference grammar of github.com/distribution/reference v0.6.0 (reference.go, regexp.go), which
# containerd and the kubelet parse images with: [host[:port]/]path[:tag][@digest]. A path of lowercase components
# separated by '.', '_', '__' or dashes, at most 255 characters; a tag of at most 128 word characters, '.' and '-',
# not starting with '.' or '-'; digests of the algorithms opencontainers/go-digest v1.0.0 registers, lowercase hex.
# The first component is a registry host only when it has a '.' or a ':port' or is localhost (normalize.go
# splitDockerDomain); modelstack requires one (no implicit Docker Hub) and a tag or digest (no implicit latest).
IMAGE_RULE = ("an image reference with a registry host and a tag or digest, e.g. "
              "123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:1.4.2")
IMAGE_PATH_MAX, IMAGE_TAG_MAX = 255, 128
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IMAGE_HOST = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?")
_IMAGE_PATH = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
_IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_IMAGE_DIGEST = re.compile(r"sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128}")
#: Longest reference the grammar allows: host (253) and port, path, tag and the longest digest.
IMAGE_MAX = 253 + 6 + 1 + IMAGE_PATH_MAX + 1 + IMAGE_TAG_MAX + 1 + len("sha512:") + 128


def image_problem(ref: str) -> Optional[str]:
    """What is wrong with an image reference (None when it is one modelstack deploys)."""
    if len(ref) > IMAGE_MAX:
        return f"at most {IMAGE_MAX} characters"
    name, _, digest = ref.partition("@")
    host, slash, rest = name.partition("/")
    if not slash or not ("." in host or ":" in host or host == "localhost") or not _IMAGE_HOST.fullmatch(host):
        return "a registry host first: without one the runtime pulls from Docker Hub"
    path, colon, tag = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if not _IMAGE_PATH.fullmatch(path):
        return "a repository path of lowercase a-z and 0-9 components joined by '/', '.', '_', '__' or '-'"
    if len(path) > IMAGE_PATH_MAX:
        return f"a repository path of at most {IMAGE_PATH_MAX} characters ({len(path)} given)"
    if not colon and not digest:
        return "a tag or digest (no implicit :latest)"
    if colon and not _IMAGE_TAG.fullmatch(tag):
        return "a tag of A-Z a-z 0-9 _ . - not starting with '.' or '-'"
    if len(tag) > IMAGE_TAG_MAX:
        return f"a tag of at most {IMAGE_TAG_MAX} characters ({len(tag)} given)"
    if digest and not _IMAGE_DIGEST.fullmatch(digest):
        return "a digest sha256:<64 lowercase hex digits> (or sha384:<96>, sha512:<128>)"
    return None


def _image(value: str) -> str:
    why = image_problem(value)
    if why:
        raise ValueError(f"{IMAGE_RULE} ({why})")
    return value


# ---------------------------------------------------------------------------------------------- cluster


class ExistingVpc(_Strict):
    """Subnets of a VPC built elsewhere; nodes go in the private ones, load balancers in the public ones."""

    vpc_id: str = Field(pattern=r"^vpc-[0-9a-f]{8,17}$")
    private_subnet_ids: list[str] = Field(min_length=2)
    public_subnet_ids: list[str] = Field(default_factory=list)

    @field_validator("private_subnet_ids", "public_subnet_ids")
    @classmethod
    def _subnets(cls, v: list[str]) -> list[str]:
        return _each_matching(v, r"^subnet-[0-9a-f]{8,17}$", "subnet IDs such as subnet-0abc1234")


class VpcConfig(_Strict):
    """A new VPC (default) across `az_count` zones, or `existing` subnets."""

    cidr: str = "10.0.0.0/16"
    az_count: int = Field(2, ge=2, le=3)
    nat: Literal[subnets.NAT_MODES] = "single"  # type: ignore[valid-type]
    existing: Optional[ExistingVpc] = None

    _cidr = field_validator("cidr")(classmethod(lambda cls, v: _cidr(v)))


class EndpointConfig(_Strict):
    """Kubernetes API endpoint access. Default: private only."""

    private: bool = True
    public: bool = False
    public_access_cidrs: list[str] = Field(default_factory=list)

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        return [_cidr(c) for c in v]


class AccessEntry(_Strict):
    """An IAM principal granted an EKS access policy, cluster-wide or in `namespaces`."""

    principal_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")
    access: Literal[tuple(iam.ACCESS_POLICIES)] = "view"  # type: ignore[valid-type]
    namespaces: list[str] = Field(default_factory=list)
    """Namespaces the access policy is scoped to (empty: cluster-wide); EKS takes '*' wildcards such as dev-*."""
    cluster_creator: bool = False
    """This principal creates the cluster (runs its first `pulumi up`): EKS gives it a cluster-admin access entry at
    creation (pulumi-eks always asks for it), so modelstack creates none (EKS refuses a second entry for one
    principal). Requires `access: cluster-admin`, cluster-wide; at most one entry."""

    @field_validator("namespaces")
    @classmethod
    def _namespaces(cls, v: list[str]) -> list[str]:
        return _each_matching(v, r"^[a-z0-9*]([-a-z0-9*]{0,61}[a-z0-9*])?$",
                              "Kubernetes namespace names: a-z, 0-9 and '-', at most 63 characters, '*' as a wildcard (dev-*)")


class ManagedAddons(_Strict):
    """EKS managed add-on versions; unset means the EKS default for the cluster's Kubernetes version."""

    vpc_cni: Optional[str] = None
    coredns: Optional[str] = None
    kube_proxy: Optional[str] = None
    pod_identity_agent: Optional[str] = None
    ebs_csi_driver: Optional[str] = None
    """aws-ebs-csi-driver, installed only when `observability.volume_size` is set."""


def _pinned(chart_name: str) -> Any:
    """At run time: the versions of `chart_name` we hold facts for, as a Literal pydantic checks against."""
    return Optional[Literal[known_versions(chart_name)]]


class Charts(_Strict):
    """Helm chart versions. Unset (the default) takes modelstack's pin, read upstream at that version
    (render/charts.py, data/UPSTREAM.md); a stack may pin only a version we hold facts for, so an upgrade is a
    reviewed change here and there. cluster-autoscaler's default follows the cluster's Kubernetes minor."""

    if TYPE_CHECKING:  # a type checker sees a version string; pydantic sees the Literal of the pinned versions
        cluster_autoscaler: Optional[str] = None
        metrics_server: Optional[str] = None
        aws_load_balancer_controller: Optional[str] = None
        keda: Optional[str] = None
        nvidia_device_plugin: Optional[str] = None
        keda_http_add_on: Optional[str] = None
        prometheus: Optional[str] = None
        dcgm_exporter: Optional[str] = None
        karpenter: Optional[str] = None
        aws_for_fluent_bit: Optional[str] = None
        neuron: Optional[str] = None
        grafana: Optional[str] = None
    else:
        cluster_autoscaler: _pinned("cluster-autoscaler") = None
        metrics_server: _pinned("metrics-server") = None
        aws_load_balancer_controller: _pinned("aws-load-balancer-controller") = None
        keda: _pinned("keda") = None
        nvidia_device_plugin: _pinned("nvidia-device-plugin") = None
        keda_http_add_on: _pinned("keda-add-ons-http") = None
        prometheus: _pinned("prometheus") = None
        dcgm_exporter: _pinned("dcgm-exporter") = None
        karpenter: _pinned("karpenter") = None
        aws_for_fluent_bit: _pinned("aws-for-fluent-bit") = None
        neuron: _pinned("neuron-helm-chart") = None
        grafana: _pinned("grafana") = None

    def version(self, chart_name: str, kubernetes_version: str) -> str:
        """The version to install: the stack's pin, else modelstack's for that Kubernetes minor."""
        return getattr(self, CHART_FIELDS[chart_name]) or chart(chart_name, kubernetes_version).version


#: Helm chart name -> its key under `cluster.charts`.
CHART_FIELDS = {"cluster-autoscaler": "cluster_autoscaler", "metrics-server": "metrics_server",
                "aws-load-balancer-controller": "aws_load_balancer_controller", "keda": "keda",
                "nvidia-device-plugin": "nvidia_device_plugin", "keda-add-ons-http": "keda_http_add_on",
                "prometheus": "prometheus", "dcgm-exporter": "dcgm_exporter", "karpenter": "karpenter",
                "aws-for-fluent-bit": "aws_for_fluent_bit", "neuron-helm-chart": "neuron",
                "grafana": "grafana"}


#: Alertmanager receiver kinds and the fields each needs.
RECEIVER_FIELDS = {"sns": ("topic_arn",), "slack": ("secret", "key"), "pagerduty": ("secret", "key"),
                   "webhook": ("secret", "key")}


Severity = Literal["critical", "warning"]


def _every_severity() -> list[Severity]:
    return ["critical", "warning"]


class ReceiverConfig(_Strict):
    """An Alertmanager receiver. Secrets stay out of stack config: Slack's webhook URL, PagerDuty's routing key and a
    webhook's URL are read from the Kubernetes Secret `secret` (key `key`) you create in the `monitoring` namespace."""

    kind: Literal["sns", "slack", "pagerduty", "webhook"]
    severities: list[Severity] = Field(default_factory=_every_severity, min_length=1)
    """Which alerts it gets (ModelErrorRateHigh and ModelScaleFromZeroFailed are critical, the others warning)."""
    topic_arn: Optional[str] = Field(None, pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
    """sns: the topic (Alertmanager publishes with a role of its own, allowed sns:Publish on it only)."""
    channel: Optional[str] = Field(None, pattern=r"^[#@]?[A-Za-z0-9._-]{1,80}$")
    """slack: channel override (default: the webhook's own)."""
    secret: Optional[str] = Field(None, pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    key: Optional[str] = Field(None, pattern=r"^[-._a-zA-Z0-9]{1,253}$")

    @model_validator(mode="after")
    def _fields_of_kind(self) -> "ReceiverConfig":
        need = RECEIVER_FIELDS[self.kind]
        missing = [f for f in need if getattr(self, f) is None]
        extra = [f for f in ("topic_arn", "channel", "secret", "key")
                 if getattr(self, f) is not None and f not in need and not (f == "channel" and self.kind == "slack")]
        if missing or extra:
            given = ", ".join([f"no {f}" for f in missing] + [f"{f} (not used by {self.kind})" for f in extra])
            raise rule_error(given, f"{self.kind} takes " + " and ".join(need)
                             + (" (and optionally channel)" if self.kind == "slack" else ""))
        return self


class AlertsConfig(_Strict):
    """Per-model alert thresholds and receivers (render/alerts.py has the rules)."""

    error_rate: float = Field(0.05, gt=0, le=1)
    """Share of a model's requests answered 5xx (for 5 minutes) that pages."""
    receivers: dict[Name, ReceiverConfig] = Field(default_factory=dict)
    """Unset: the rules are evaluated (Prometheus and Grafana show them) but nothing is sent, and no Alertmanager runs."""


#: Amazon Managed Grafana workspace roles a group of IAM Identity Center may be given (aws.grafana.RoleAssociation).
GRAFANA_ROLES = ("ADMIN", "EDITOR", "VIEWER")
_IDENTITY_STORE_ID = r"^([0-9a-f]{10}-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class SamlConfig(_Strict):
    """How the workspace trusts a SAML identity provider (aws.grafana.WorkspaceSamlConfiguration)."""

    idp_metadata_url: str = Field(pattern=r"^https://[^\s]+$")
    """The identity provider's SAML metadata document. Required."""
    role_assertion: str = Field("role", pattern=r"^[A-Za-z0-9_.:/-]{1,256}$")
    """The assertion attribute whose values map to workspace roles. Default "role"."""
    admin_role_values: list[str] = Field(default_factory=list)
    """Values of `role_assertion` that make a user Admin. Default none."""
    editor_role_values: list[str] = Field(min_length=1)
    """Values of `role_assertion` that make a user Editor (AMG requires at least one). Required."""


GrafanaAuthentication = Literal["AWS_SSO", "SAML"]
_AWS_SSO: GrafanaAuthentication = "AWS_SSO"


class ManagedGrafanaConfig(_Strict):
    """Amazon Managed Grafana (`grafana: managed`): modelstack creates the workspace, or uses `workspace_id`."""

    authentication: list[GrafanaAuthentication] = Field(default_factory=lambda: [_AWS_SSO], min_length=1)
    """How users sign in: IAM Identity Center (AWS_SSO, enabled in the account), SAML, or both. Default AWS_SSO."""
    saml: Optional[SamlConfig] = None
    """Required with SAML, refused without it."""
    groups: dict[Literal[GRAFANA_ROLES], list[str]] = Field(default_factory=dict)  # type: ignore[valid-type]
    """IAM Identity Center group ids per workspace role (ADMIN, EDITOR, VIEWER); AWS_SSO only. Default none."""
    workspace_id: Optional[str] = Field(None, pattern=r"^g-[0-9a-f]{10}$")
    """An existing workspace (g-0123456789) to provision the data source and dashboards into; then modelstack creates
    no workspace, and `authentication`, `saml` and `groups` are its owner's to set."""
    workspace_role_name: Optional[str] = Field(None, pattern=r"^[A-Za-z0-9+=,.@_-]{1,64}$")
    """With `workspace_id`: the workspace's IAM role, given an inline policy to query the stack's AMP workspace.
    Unset: that role must already be allowed to (the stack exports the AMP workspace ARN)."""
    remote_write: Literal["dashboards", "all"] = "dashboards"
    """Which series the in-cluster Prometheus sends to AMP: `dashboards`, only the metrics the generated dashboards
    read (AMP bills every sample ingested); `all`, every series it scrapes (for ad-hoc queries). Default dashboards."""
    active_editors: int = Field(1, ge=0)
    """Users who edit or administer in a month: what the plan's cost counts (AMG bills each active user). Default 1."""
    active_viewers: int = Field(0, ge=0)
    """Users who only view in a month (billed at the viewer rate). Default 0."""

    @model_validator(mode="after")
    def _consistent(self) -> "ManagedGrafanaConfig":
        problems: list[tuple[str, str]] = []
        if len(set(self.authentication)) != len(self.authentication):
            problems.append((f"authentication {self.authentication}", "each of AWS_SSO and SAML at most once"))
        if self.workspace_id is not None:
            owned = sorted(k for k in ("authentication", "saml", "groups") if k in self.model_fields_set)
            if owned:
                problems.append((" and ".join(owned) + " with workspace_id",
                                 "workspace_id alone (an existing workspace keeps its own sign-in and users)"))
        else:
            if self.workspace_role_name is not None:
                problems.append(("workspace_role_name without workspace_id",
                                 "workspace_role_name only with workspace_id (modelstack makes a created workspace's role)"))
            if ("SAML" in self.authentication) != (self.saml is not None):
                problems.append(("SAML without saml" if self.saml is None else "saml without SAML in authentication",
                                 "a saml block exactly when authentication includes SAML"))
            if self.groups and "AWS_SSO" not in self.authentication:
                problems.append(("groups without AWS_SSO", "groups only with AWS_SSO in authentication"))
        if problems:
            raise rule_error("; ".join(g for g, _ in problems), "; ".join(a for _, a in problems))
        return self

    @field_validator("groups")
    @classmethod
    def _group_ids(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for role, ids in v.items():
            for group in ids:
                if not isinstance(group, str) or not re.match(_IDENTITY_STORE_ID, group):
                    raise rule_error(f"{role}: {_fmt_value(group)}", "IAM Identity Center group ids (the identity "
                                     "store's GroupId, such as 90676d2b5c-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d)")
        return v


class ObservabilityConfig(_Strict):
    """The Prometheus that KEDA queries for signal gpu and prometheus, and the DCGM exporter's GPU metrics.

    With `prometheus: false`, models with those signals still query http://prometheus-server.monitoring.svc:80:
    bring your own Prometheus at that address.
    """

    prometheus: bool = True
    """Install Prometheus (server only, on the system pool) and, when GPU node groups exist, the DCGM exporter."""
    retention: str = Field("1d", pattern=r"^[1-9][0-9]*(h|d|w)$")
    """How long samples are kept (Prometheus duration: 12h, 1d, 2w)."""
    volume_size: Optional[str] = Field(None, pattern=r"^[1-9][0-9]*Gi$")
    """A PersistentVolumeClaim of this size for the TSDB, on an encrypted gp3 StorageClass that modelstack then
    installs with the EBS CSI driver add-on (`cluster.addons.ebs_csi_driver`); unset keeps it on an emptyDir."""
    grafana: Optional[Union[bool, Literal["managed"]]] = None
    """The generated dashboards (one per model, one per cluster) in Grafana: true runs Grafana's Helm chart on the
    system pool; `managed` puts them in Amazon Managed Grafana, reading an Amazon Managed Service for Prometheus
    workspace the in-cluster Prometheus remote-writes to (`managed_grafana`). Unset: true when `prometheus` is."""
    managed_grafana: Optional[ManagedGrafanaConfig] = None
    """Options of `grafana: managed` (unset: a new workspace, AWS_SSO sign-in); refused with any other `grafana`."""
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    """Alert rules per model (always, with `prometheus`) and where Alertmanager sends them (`receivers`)."""

    @field_validator("grafana", mode="before")
    @classmethod
    def _grafana_mode(cls, v: Any) -> Any:
        if v is None or isinstance(v, bool) or v == "managed":
            return v
        raise rule_error(_fmt_value(v), "true (Grafana on the system pool), false, or managed (Amazon Managed Grafana)")

    @model_validator(mode="after")
    def _needs_prometheus(self) -> "ObservabilityConfig":
        if not self.prometheus and (self.grafana or self.alerts.receivers):  # grafana None follows prometheus
            raise rule_error(f"grafana: {'managed' if self.grafana == 'managed' else 'true'} or alerts.receivers "
                             "with prometheus: false",
                             "prometheus: true (dashboards and alerts read the Prometheus modelstack installs), "
                             "or grafana: false and no alerts.receivers")
        if self.managed_grafana is not None and self.grafana != "managed":
            raise rule_error(f"managed_grafana with grafana {'unset' if self.grafana is None else _fmt_value(self.grafana)}",
                             "managed_grafana only with grafana: managed")
        return self

    @property
    def grafana_enabled(self) -> bool:
        return self.prometheus if self.grafana is None else bool(self.grafana)

    @property
    def grafana_managed(self) -> Optional[ManagedGrafanaConfig]:
        """The Amazon Managed Grafana options when `grafana: managed`, else None."""
        if self.grafana != "managed":
            return None
        return self.managed_grafana or ManagedGrafanaConfig()


#: Days CloudWatch keeps model logs when `cluster.logging.retention_days` is unset, per tier (others: 30).
LOG_RETENTION_DAYS = {"dev": 7, "staging": 30, "prod": 90}
#: Values CloudWatch Logs accepts for a log group's retention (PutRetentionPolicy).
CLOUDWATCH_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                             2557, 2922, 3288, 3653)


class LoggingConfig(_Strict):
    """Container logs to CloudWatch Logs through aws-for-fluent-bit (its own Pod Identity role)."""

    enabled: bool = True
    retention_days: Optional[int] = None
    """Unset: LOG_RETENTION_DAYS of the environment (dev 7, staging 30, prod 90; others 30)."""
    log_group: Optional[str] = Field(None, pattern=r"^[A-Za-z0-9_#/.-]+$", max_length=512)
    """Unset: /aws/eks/<cluster name>/models."""
    credentials: Literal["pod_identity", "irsa"] = "pod_identity"
    """How Fluent Bit gets its role: EKS Pod Identity (the agent is installed), or IRSA as a fallback."""

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, v: Optional[int]) -> Optional[int]:
        if v is not None and v not in CLOUDWATCH_RETENTION_DAYS:
            raise ValueError("a CloudWatch retention: " + ", ".join(map(str, CLOUDWATCH_RETENTION_DAYS)))
        return v


class LoadBalancerConfig(_Strict):
    """The one shared load balancer for every model API in the cluster."""

    scheme: Literal["internet-facing", "internal"] = "internal"
    allowed_cidrs: list[str] = Field(default_factory=list)
    certificate_arn: Optional[str] = Field(None, pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$")
    hosts: list[str] = Field(default_factory=list)
    """DNS names (yours, pointing at the load balancer) the KEDA interceptor matches exactly; models answer on any
    Host by path anyway (the routes end with the catch-all), these keep two IngressGroups on one path apart."""

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, v: list[str]) -> list[str]:
        return _each_matching(v, r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
                              "DNS names such as models.example.com")

    @field_validator("allowed_cidrs")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        return [_cidr(c) for c in v]


Provisioner = Literal["karpenter", "cluster-autoscaler"]
PROVISIONERS: tuple[Provisioner, ...] = get_args(Provisioner)


def _matching(pattern: str, what: str) -> "classmethod[Any, [Optional[str]], Optional[str]]":
    """A validator with a readable message (the default names the regular expression)."""
    def check(cls: Any, v: Optional[str]) -> Optional[str]:
        if v is not None and not re.fullmatch(pattern, v):
            raise ValueError(what)
        return v
    return classmethod(check)


class KarpenterConfig(_Strict):
    """Karpenter options (`cluster.provisioner: karpenter`); unset disruption keys take the environment's defaults
    (render/karpenter.py DISRUPTION_DEFAULTS: dev 1m/50%, staging 5m/20%, prod 15m/10%, nodes replaced after 720h)."""

    controller_identity: Literal["pod-identity", "irsa"] = "pod-identity"
    """How the controller gets AWS credentials: EKS Pod Identity (the agent add-on is installed) or IRSA."""
    consolidation_policy: Optional[Literal[karpenter.CONSOLIDATION_POLICIES]] = None  # type: ignore[valid-type]
    consolidate_after: Optional[str] = None
    """How long a node stays empty or underused before Karpenter consolidates it (e.g. 5m)."""
    disruption_budget: Optional[str] = None
    """Nodes of one NodePool disrupted at once, a share ('10%') or a count ('2')."""
    expire_after: Optional[str] = None
    """Node lifetime before replacement (720h), or Never."""
    ami_version: str = "latest"
    """AL2023 EKS AMI release (v20251016) or latest; a pinned release makes AMI updates a reviewed change."""
    keep_node_groups: bool = False
    """Migration from cluster-autoscaler: keep the managed node groups and cluster-autoscaler running beside
    Karpenter until their nodes drain, then set this back to false to remove them."""

    _after = field_validator("consolidate_after")(_matching(r"([0-9]+(s|m|h))+", "a duration such as 30s, 5m or 1h30m"))
    _budget = field_validator("disruption_budget")(_matching(
        r"(100|[0-9]{1,2})%|[0-9]+", "a share of nodes such as '10%' or a node count such as '2'"))
    _expire = field_validator("expire_after")(_matching(r"([0-9]+(s|m|h))+|Never",
                                                        "a duration in hours such as 720h (30 days), or Never"))
    _ami = field_validator("ami_version")(_matching(r"latest|v[0-9]{8}",
                                                    "latest or an AL2023 EKS AMI release such as v20251016"))


LogType = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]


def _default_log_types() -> list[LogType]:
    return ["api", "audit", "authenticator"]


class ClusterConfig(_Strict):
    name: str = _name_field()
    kubernetes_version: Literal[KUBERNETES_VERSIONS] = "1.35"  # type: ignore[valid-type]
    vpc: VpcConfig = Field(default_factory=VpcConfig)
    endpoint: EndpointConfig = Field(default_factory=EndpointConfig)
    secrets_encryption: bool = True
    network_policy: bool = False
    deletion_protection: bool = False
    log_types: list[LogType] = Field(default_factory=_default_log_types)
    access_entries: dict[Name, AccessEntry] = Field(default_factory=dict)
    addons: ManagedAddons = Field(default_factory=ManagedAddons)
    charts: Charts = Field(default_factory=Charts)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    load_balancer: LoadBalancerConfig = Field(default_factory=LoadBalancerConfig)
    provisioner: Provisioner = "karpenter"
    """Who launches model nodes: Karpenter NodePools (default) or managed node groups scaled by cluster-autoscaler.
    The system node group is a managed node group either way."""
    karpenter: KarpenterConfig = Field(default_factory=KarpenterConfig)

    @property
    def ingress_group(self) -> str:
        """The AWS Load Balancer Controller IngressGroup (one shared ALB) of this cluster's models."""
        return f"{self.name}-models"

    def node_group_name(self, group: str) -> str:
        """The EKS managed node group name of config group `group` (its ASG is `eks-<name>-<uuid>`)."""
        return f"{self.name}-{group}"


# ------------------------------------------------------------------------------------------ node groups


class RootVolume(_Strict):
    """Node root volume; gp3 extra IOPS (above 3000) and throughput (above 125 MB/s) are billed."""

    size_gib: int = Field(100, ge=20, le=16384)
    type: Literal["gp3", "gp2"] = "gp3"
    iops: int = Field(3000, ge=3000, le=16000)
    throughput: int = Field(125, ge=125, le=1000)


class InstanceSelection(_Strict):
    """What the optimizer may choose from when `instance_types` is not given."""

    gpu_models: list[str] = Field(default_factory=list)
    min_gpu_memory_gib: Optional[float] = Field(None, gt=0)
    families: list[str] = Field(default_factory=list)
    arch: Literal[node_templates.ARCHES] = "amd64"  # type: ignore[valid-type]
    max_types: int = Field(4, ge=1, le=20)


class Taint(_Strict):
    key: str
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class NodeGroupConfig(_Strict):
    """An EKS managed node group. Give `instance_types`, or leave them to the optimizer via `selection`."""

    kind: Literal[node_templates.GROUP_KINDS] = "cpu"  # type: ignore[valid-type]
    instance_types: list[str] = Field(default_factory=list)
    selection: InstanceSelection = Field(default_factory=InstanceSelection)
    spot: bool = False
    on_demand_fallback: bool = False
    min_size: int = Field(0, ge=0, le=1000)
    max_size: int = Field(5, ge=1, le=1000)
    priority: int = Field(50, ge=1, le=100)
    root_volume: RootVolume = Field(default_factory=RootVolume)
    max_unavailable_percentage: int = Field(33, ge=1, le=100)
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------- models


#: A probe's or pre-stop hook's HTTP path: printable ASCII without spaces, and none of the characters the proxy's
#: haproxy.cfg cannot carry in its health check (render/proxy.py); at most 1,024 characters.
HTTP_PATH_RULE = ("a URL path such as /healthz: '/' then at most 1023 printable ASCII characters, without spaces, "
                  "quotes, backslashes, '{', '}' or '#'")


class HttpGet(_Strict):
    path: str = "/"
    port: Optional[int] = Field(None, ge=1, le=65535)

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not re.fullmatch(r"/[!-~]{0,1023}", v) or any(ch in v for ch in "{}#\\\"'"):
            raise ValueError(HTTP_PATH_RULE)
        return v


class TcpSocket(_Strict):
    port: Optional[int] = Field(None, ge=1, le=65535)


class ExecAction(_Strict):
    command: list[str] = Field(min_length=1)

    _command = field_validator("command")(classmethod(lambda cls, v: _exec_strings(v, "arguments")))


class Probe(_Strict):
    """Exactly one of `http_get`, `tcp_socket`, `exec`; ports default to the model's port."""

    http_get: Optional[HttpGet] = None
    tcp_socket: Optional[TcpSocket] = None
    exec: Optional[ExecAction] = None
    initial_delay_seconds: int = Field(0, ge=0, le=3600)
    period_seconds: int = Field(10, ge=1, le=3600)
    timeout_seconds: int = Field(1, ge=1, le=3600)
    success_threshold: int = Field(1, ge=1, le=100)
    failure_threshold: int = Field(3, ge=1, le=100)

    @model_validator(mode="after")
    def _handler(self) -> "Probe":
        _one_handler(self, ("http_get", "tcp_socket", "exec"), allow_none=False)
        return self


class PreStop(_Strict):
    """Runs before SIGTERM; default: sleep `sleep_seconds` so the load balancer stops routing first."""

    exec: Optional[ExecAction] = None
    http_get: Optional[HttpGet] = None
    sleep_seconds: int = Field(15, ge=0, le=600)

    @model_validator(mode="after")
    def _handler(self) -> "PreStop":
        _one_handler(self, ("exec", "http_get"), allow_none=True)
        return self


def _cpu_quantity(v: Any) -> Any:
    """A CPU request above zero: a string quantity ('500m', '2') or a number of cores (2, 0.5); not true/false."""
    if sizing.parse_cpu(v) <= 0:
        raise ValueError("a CPU quantity > 0 such as '500m' or 2")
    return v


#: What a zero quantity would mean, per key: a memory request and limit of 0 (Kubernetes then sets no limit), an
#: empty /dev/shm, no huge pages.
_ZERO_MEMORY = {"memory": "a memory quantity > 0 such as '512Mi' or '2Gi'",
                "shm": "a size > 0 such as '1Gi' for /dev/shm, or no shm key (the container runtime's default /dev/shm)",
                "hugepages": "a size > 0 such as '256Mi', or no hugepages key (none)"}


def _memory_quantity(v: str, key: str) -> str:
    if sizing.parse_memory(v) <= 0:
        raise ValueError(_ZERO_MEMORY[key])
    return v


class Compute(_Strict):
    """Per-replica requests (and limits for memory, GPU, Inferentia). `gpu` and `inferentia` are exclusive."""

    cpu: Union[str, int, float] = "200m"
    memory: str = "1Gi"
    gpu: int = Field(0, ge=0, le=16)
    inferentia: int = Field(0, ge=0, le=16)
    shm: Optional[str] = None
    min_gpu_memory_gib: Optional[float] = Field(None, gt=0)
    hugepages: Optional[str] = None
    """hugepages-2Mi per replica, e.g. "256Mi" (Cortex gave each Inferentia chip 256Mi); the nodes must have them
    preallocated. Default none."""
    gpu_models: list[str] = Field(default_factory=list)
    """GPU models a replica may run on (t4, a10g, l4, l40s, a100, h100, ...); empty: any with enough memory."""

    _cpu = field_validator("cpu", mode="before")(classmethod(lambda cls, v: _cpu_quantity(v)))

    @field_validator("memory", "shm", "hugepages")
    @classmethod
    def _mem(cls, v: Any, info: Any) -> Any:
        return v if v is None else _memory_quantity(v, info.field_name)


#: The HPA's stabilizationWindowSeconds must lie in [0, 3600] (k8s.io/api autoscaling/v2 HPAScalingRules).
HPA_STABILIZATION_MAX = 3600
#: KEDA sends the query URL-escaped in the request line of a GET to Prometheus (kedacore/keda v2.20.2
#: pkg/scalers/prometheus_scaler.go ExecutePromQuery), which a Go server caps with the headers at 1 MiB by default
#: (net/http DefaultMaxHeaderBytes); 64 Ki characters stay below that even when every one is escaped to three.
PROMETHEUS_QUERY_MAX = 64 * 1024


class Autoscaling(_Strict):
    """Request-based autoscaling with Cortex's knobs and defaults (see ModelAPI for how each maps)."""

    min_replicas: int = Field(1, ge=0, le=1000)
    max_replicas: int = Field(100, ge=1, le=1000)
    init_replicas: Optional[int] = Field(None, ge=0, le=1000)
    target_in_flight: Optional[int] = None
    """Requests in flight per replica the autoscaler aims at (default: max_concurrency); a whole number, as the
    HTTP add-on's InterceptorRoute concurrency target is."""
    window: Union[int, str] = 60
    downscale_stabilization: Union[int, str] = "5m"
    upscale_stabilization: Union[int, str] = "1m"
    max_downscale_factor: float = Field(0.75, gt=0, lt=1)
    max_upscale_factor: float = Field(1.5, gt=1, le=100)
    downscale_tolerance: float = Field(0.05, ge=0, lt=1)
    upscale_tolerance: float = Field(0.05, ge=0, lt=1)
    signal: Literal[autoscaling.SIGNALS] = "in_flight"  # type: ignore[valid-type]
    target_utilization: Optional[int] = Field(None, ge=1, le=100)
    prometheus_query: Optional[str] = Field(None, min_length=1, max_length=PROMETHEUS_QUERY_MAX)
    prometheus_threshold: Optional[float] = Field(None, gt=0)
    scale_to_zero: bool = False
    on_demand_base: Optional[int] = Field(None, ge=0, le=1000)

    @field_validator("target_in_flight", mode="before")
    @classmethod
    def _target(cls, v: Any) -> Any:
        if v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
            return v
        raise rule_error(_fmt_value(v), "a whole number of requests >= 1 (the HTTP add-on's concurrency target, "
                         "InterceptorRoute scalingMetric.concurrency.targetValue, is an integer)")

    @field_validator("window", "downscale_stabilization", "upscale_stabilization")
    @classmethod
    def _duration(cls, v: Any, info: Any) -> Any:
        if duration_seconds(v) > HPA_STABILIZATION_MAX and info.field_name != "window":
            raise ValueError(f"a duration of at most {HPA_STABILIZATION_MAX // 60}m (the HPA's "
                             "stabilizationWindowSeconds limit)")
        return v

    @field_validator("max_upscale_factor", "max_downscale_factor")
    @classmethod
    def _whole_percent(cls, v: float, info: Any) -> float:
        step = abs(v - 1) * 100
        if abs(step - round(step)) > 1e-9:
            example = "1.5 (up to +50%)" if info.field_name == "max_upscale_factor" else "0.75 (down to -25%)"
            raise ValueError(f"a factor whose step is a whole percent, such as {example} per 15 s: the HPA's Percent "
                             f"policy takes integers ({v:g} would be {round(step)}%)")
        return v


class UpdateStrategy(_Strict):
    """Rolling update bounds, as counts or percentages; prod defaults max_unavailable to 0."""

    max_surge: Union[int, str] = "25%"
    max_unavailable: Optional[Union[int, str]] = None

    @field_validator("max_surge", "max_unavailable")
    @classmethod
    def _int_or_pct(cls, v: Any) -> Any:
        if v is None:
            return v
        if isinstance(v, bool) or (isinstance(v, int) and v < 0):
            raise ValueError("a count >= 0 or a percentage such as '25%'")
        if isinstance(v, str) and not re.match(r"^(100|[1-9]?\d)%$", v):
            raise ValueError("a count >= 0 or a percentage such as '25%'")
        return v


class Networking(_Strict):
    """Where the model is served on the shared load balancer. Default path: `/<model name>`."""

    path: Optional[str] = None

    _path = field_validator("path")(classmethod(lambda cls, v: _url_path(v)))


class SidecarCompute(_Strict):
    """A sidecar's requests (memory also its limit); they count in sizing and cost."""

    cpu: Union[str, int, float] = "100m"
    memory: str = "128Mi"

    _cpu = field_validator("cpu", mode="before")(classmethod(lambda cls, v: _cpu_quantity(v)))
    _mem = field_validator("memory")(classmethod(lambda cls, v: _memory_quantity(v, "memory")))


class Sidecar(_Strict):
    """Another container of the model's pod: same localhost, /tmp and /dev/shm; the server keeps the model's port
    and probes, and the Service reaches only the server (through the proxy)."""

    image: str
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)

    _image = field_validator("image")(classmethod(lambda cls, v: _image(v)))
    _exec = field_validator("command", "args")(classmethod(lambda cls, v: _exec_strings(v, "arguments")))
    _env = field_validator("env")(classmethod(lambda cls, v: _env(v)))
    port: Optional[int] = Field(None, ge=1, le=65535)
    compute: SidecarCompute = Field(default_factory=SidecarCompute)
    readiness_probe: Optional[Probe] = None
    liveness_probe: Optional[Probe] = None
    startup_probe: Optional[Probe] = None


class AwsStatement(_Strict):
    """One Allow statement of the model's inline policy."""

    actions: list[str] = Field(min_length=1)
    resources: list[str] = Field(min_length=1)

    @field_validator("actions")
    @classmethod
    def _actions(cls, v: list[str]) -> list[str]:
        return _each_matching(v, r"^(\*|[a-z0-9-]+:[A-Za-z0-9*]+)$", "IAM actions such as s3:GetObject")


class AwsAccess(_Strict):
    """AWS access for the model's pods: a role of its own (EKS Pod Identity), least privilege."""

    policy_arns: list[str] = Field(default_factory=list)
    statements: list[AwsStatement] = Field(default_factory=list)
    allow_wildcard_actions: bool = False
    """Opt in to actions such as "s3:*" in `statements` (the policy pack flags them outside dev)."""

    @field_validator("policy_arns")
    @classmethod
    def _arns(cls, v: list[str]) -> list[str]:
        return _each_matching(v, r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]+$",
                              "IAM policy ARNs such as arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")


#: Tensor-parallel degrees the LLM sizing considers: the GPU counts of one EC2 node.
TENSOR_PARALLEL_DEGREES = (1, 2, 4, 8)
#: Weight formats the LLM sizing knows: bytes per parameter of the linear layers (capacity/llm.py).
LLM_DTYPES = ("bfloat16", "float16", "fp8", "int4")
_WEIGHTS_RE = (r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[!-~]*)?"
               r"|hf://[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}(@[A-Za-z0-9][A-Za-z0-9_.-]{0,63})?)$")
WEIGHTS_RULE = ("s3://bucket/prefix (the folder holding config.json and the *.safetensors files) or "
                "hf://org/name[@revision] (a Hugging Face repository at a branch, tag or commit, default main; gated "
                "or private ones with llm.hf_token_secret)")
#: A Kubernetes Secret's name: a DNS-1123 subdomain (lower-case alphanumerics, '-' and '.', alphanumeric at both
#: ends and around each '.', at most 253 characters).
_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
SECRET_NAME_RE = rf"^{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*$"
SECRET_NAME_RULE = ("a Kubernetes Secret name (DNS-1123 subdomain: lower-case letters, digits, '-' and '.', starting and "
                    "ending with a letter or digit, at most 253 characters), e.g. hf-token")
#: A key in a Secret's data: letters, digits, '-', '_' and '.', at most 253 characters.
SECRET_KEY_RE = r"^[-._a-zA-Z0-9]{1,253}$"


class LlmArchitecture(_Strict):
    """A model's architecture, as its config.json states it (Hugging Face key names in brackets)."""

    layers: int = Field(ge=1, le=1024)
    """[num_hidden_layers]"""
    attention_heads: int = Field(ge=1, le=1024)
    """[num_attention_heads]"""
    kv_heads: Optional[int] = Field(None, ge=1, le=1024)
    """[num_key_value_heads]; default: attention_heads (no grouped-query attention)."""
    hidden_size: int = Field(ge=1, le=1_000_000)
    """[hidden_size]"""
    head_dim: Optional[int] = Field(None, ge=1, le=4096)
    """[head_dim]; default: hidden_size / attention_heads."""
    intermediate_size: Optional[int] = Field(None, ge=1, le=10_000_000)
    """[intermediate_size]: the MLP width; needed unless `parameters` is given."""
    vocab_size: int = Field(ge=1, le=10_000_000)
    """[vocab_size]"""
    max_position_embeddings: Optional[int] = Field(None, ge=1)
    """[max_position_embeddings]: the longest context; max_model_len may not exceed it."""
    tie_word_embeddings: bool = False
    """[tie_word_embeddings]: the output head shares the embedding matrix."""
    parameters: Optional[int] = Field(None, ge=1_000_000)
    """Total parameter count; default: counted from the shape above (a Llama-style dense decoder)."""
    dtype: Literal[LLM_DTYPES] = "bfloat16"  # type: ignore[valid-type]
    """Weight format [torch_dtype, or quantization_config]: bfloat16/float16 (2 bytes), fp8 (1 byte), int4
    (AWQ/GPTQ, 4 bits plus group scales); embeddings and the output head stay 16-bit."""

    @model_validator(mode="after")
    def _shape(self) -> "LlmArchitecture":
        kv = self.kv_heads or self.attention_heads
        if self.attention_heads % kv:
            raise rule_error(f"attention_heads {self.attention_heads} with kv_heads {kv}",
                             "kv_heads dividing attention_heads (grouped-query attention)")
        if self.head_dim is None and self.hidden_size % self.attention_heads:
            raise rule_error(f"hidden_size {self.hidden_size} with attention_heads {self.attention_heads}",
                             "head_dim given, or hidden_size a multiple of attention_heads")
        if self.parameters is None and self.intermediate_size is None:
            raise rule_error("neither parameters nor intermediate_size",
                             "parameters (the total count), or intermediate_size to count them from the shape")
        return self


class LlmConfig(_Strict):
    """A large language model served by an OpenAI-compatible engine (vLLM), sized by GPU memory (capacity/llm.py).

    Give the architecture as `config_file` (the model's config.json, committed beside the stack file) or as
    `architecture`. The planner picks the GPU, the tensor-parallel degree and the instance type."""

    engine: Literal["vllm"] = "vllm"
    """The engine; its image is pinned (render/vllm.py IMAGE) unless the model sets `image`."""
    weights: str = Field(pattern=_WEIGHTS_RE)
    """Where the weights are: s3://bucket/prefix (copied to the node's NVMe with the model's own read-only role) or
    hf://org/name[@revision] (downloaded from the Hugging Face Hub at that branch, tag or commit, default main;
    gated or private repositories need `hf_token_secret`)."""
    hf_token_secret: Optional[str] = None
    """hf:// only: the Kubernetes Secret, in the model's namespace, holding a Hugging Face access token; it reaches
    the container that downloads the weights as HF_TOKEN (secretKeyRef), never the stack config."""
    hf_token_secret_key: str = "token"
    """The key of that Secret's data holding the token."""
    node_cache: bool = False
    """Cache the weights once per node, on the instance-store NVMe (a hostPath under the RAID 0 mount, keyed by
    model and weights), shared by the model's pods on that node; off: one copy per pod (an emptyDir). On relaxes
    the namespace's Pod Security admission (README "LLMs", node-wide weight cache)."""
    config_file: Optional[str] = Field(None, min_length=1, max_length=4096)
    """The model's config.json, relative to the folder of the stack file (or absolute)."""
    architecture: Optional[LlmArchitecture] = None
    max_model_len: int = Field(ge=256, le=4_194_304)
    """The longest prompt + completion, in tokens (vLLM --max-model-len)."""
    max_num_seqs: int = Field(16, ge=1, le=4096)
    """Sequences one replica holds at full length at once (vLLM --max-num-seqs): the KV cache is sized for
    max_num_seqs x max_model_len tokens."""
    gpu_memory_utilization: float = Field(0.9, ge=0.5, le=0.98)
    """Share of each GPU's memory the engine may use (vLLM --gpu-memory-utilization)."""
    kv_cache_dtype: Literal["auto", "fp8"] = "auto"
    """KV cache element: auto (the activations' 16-bit type) or fp8 (half the memory)."""
    tensor_parallel_size: Optional[Literal[TENSOR_PARALLEL_DEGREES]] = None  # type: ignore[valid-type]
    """GPUs per replica; default: the planner's cheapest degree that fits."""
    engine_overhead_gib: float = Field(2.0, ge=0, le=64)
    """Per GPU, beyond weights and KV cache: CUDA context, CUDA graphs, activations at the batch peak."""
    served_model_name: Optional[str] = Field(None, pattern=r"^[A-Za-z0-9][\w./:-]{0,127}$")
    """The `model` name clients send; default: the model's key."""
    shutdown_timeout: Optional[Union[int, str]] = None
    """How long a stopping replica finishes the requests it holds (vLLM --shutdown-timeout; the pod's grace period
    follows it). Default: the model's response_timeout (its longest request), at most 50m."""

    @field_validator("shutdown_timeout")
    @classmethod
    def _shutdown(cls, v: Any) -> Any:
        if v is not None and (duration_seconds(v) < 1 or duration_seconds(v) > 3000):
            raise ValueError("a duration from 1 s to 50m, such as '10m'")
        return v

    @field_validator("hf_token_secret")
    @classmethod
    def _secret_name(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and (len(v) > 253 or not re.fullmatch(SECRET_NAME_RE, v)):
            raise ValueError(SECRET_NAME_RULE)
        return v

    @field_validator("hf_token_secret_key")
    @classmethod
    def _secret_key(cls, v: str) -> str:
        if not re.fullmatch(SECRET_KEY_RE, v):
            raise ValueError("a key of a Secret's data: letters, digits, '-', '_' and '.', at most 253 characters")
        return v

    @model_validator(mode="after")
    def _source(self) -> "LlmConfig":
        if self.hf_token_secret is not None and not self.weights.startswith("hf://"):
            raise rule_error(f"hf_token_secret {self.hf_token_secret!r} with weights {self.weights!r}",
                             "hf_token_secret only with hf://org/name weights (s3:// weights are read with the "
                             "model's own AWS role)")
        if "hf_token_secret_key" in self.model_fields_set and self.hf_token_secret is None:
            raise rule_error(f"hf_token_secret_key {self.hf_token_secret_key!r} without hf_token_secret",
                             "hf_token_secret_key only with hf_token_secret (the Secret it is a key of)")
        if (self.config_file is None) == (self.architecture is None):
            given = "both config_file and architecture" if self.config_file else "neither config_file nor architecture"
            raise rule_error(given, "exactly one of config_file (the model's config.json) and architecture")
        return self


MODEL_KINDS = ("realtime", "async", "batch")
"""realtime: ModelAPI; async: AsyncModelAPI (POST returns an id, GET <id> the result); batch: BatchModelAPI."""


class QueueSettings(_Strict):
    """The queue of an async or batch model (its defaults are render/queue.py's)."""

    max_receives: int = Field(3, ge=1, le=1000)
    """Receives (attempts) before a request or batch goes to the dead-letter queue (SQS maxReceiveCount)."""
    result_expiry_days: int = Field(7, ge=1, le=3650)
    """Payloads, statuses and results expire this many days after they were written (S3 lifecycle)."""
    message_timeout: Union[int, str] = 60
    """Visibility timeout, refreshed at half while a request runs (at most 12h, SQS's maximum)."""
    queue_length: int = Field(1, ge=1, le=10000)
    """Messages per worker replica KEDA aims at."""
    model_path: str = Field("/", pattern=r"^/[A-Za-z0-9._~/-]*$", max_length=256)
    """Where the consumer POSTs each payload on the model server."""

    @field_validator("message_timeout")
    @classmethod
    def _timeout(cls, v: Any) -> Any:
        if not 2 <= duration_seconds(v) <= 43200:
            raise ValueError("a duration from 2s to 12h (SQS's visibility timeout range)")
        return v


class ModelConfig(_Strict):
    image: str
    """The model server's image: required, except with `llm` (default: the pinned engine image)."""
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)

    _image = field_validator("image")(classmethod(lambda cls, v: _image(v)))
    _exec = field_validator("command", "args")(classmethod(lambda cls, v: _exec_strings(v, "arguments")))
    _env = field_validator("env")(classmethod(lambda cls, v: _env(v)))
    port: int = Field(8080, ge=1, le=65535)
    compute: Compute = Field(default_factory=Compute)
    node_group: Optional[str] = _name_field(None)
    """The node group the model runs on: required with `node_groups`; without them, models naming the same
    group share one designed group, and models naming none are grouped by the planner."""
    namespace: str = _name_field("models")
    team: Optional[str] = Field(None, pattern=_NAME_RE)
    max_concurrency: int = Field(1, ge=1, le=10000)
    max_queue_length: int = Field(100, ge=0, le=100000)
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    update_strategy: UpdateStrategy = Field(default_factory=UpdateStrategy)
    readiness_probe: Optional[Probe] = None
    liveness_probe: Optional[Probe] = None
    startup_probe: Optional[Probe] = None
    pre_stop: PreStop = Field(default_factory=PreStop)
    termination_grace_period_seconds: int = Field(60, ge=1, le=3600)
    networking: Networking = Field(default_factory=Networking)
    response_timeout: Union[int, str] = "10m"
    """How long the model may take to send response headers before the interceptor answers 504."""
    cold_start: Optional[Union[int, str]] = None
    """Worst time from no replica to a Ready one. Default: node launch + image pull + the start-up probe's budget."""

    @field_validator("response_timeout", "cold_start")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        if v is not None and duration_seconds(v) < 1:
            raise ValueError("a duration of at least 1 s, such as '90s' or '10m'")
        return v
    sidecars: dict[Name, Sidecar] = Field(default_factory=dict)
    aws: Optional[AwsAccess] = None
    llm: Optional[LlmConfig] = None
    """A large language model: the engine's command, GPUs, probes, drain and autoscaling come from it
    (planner/llm.py); give no `command`, `args`, `compute.gpu` or `startup_probe` of your own."""

    @model_validator(mode="before")
    @classmethod
    def _engine_image(cls, data: Any) -> Any:
        if isinstance(data, dict) and "image" not in data and isinstance(data.get("llm"), dict):
            return {**data, "image": vllm.IMAGE}
        return data

    @model_validator(mode="after")
    def _llm_owns(self) -> "ModelConfig":
        if self.llm is None:
            return self
        mine = [k for k, v in (("command", self.command), ("args", self.args), ("compute.gpu", self.compute.gpu),
                               ("compute.min_gpu_memory_gib", self.compute.min_gpu_memory_gib),
                               ("startup_probe", self.startup_probe)) if v]
        if mine:
            raise rule_error(" and ".join(mine) + " with llm",
                             "no command, args, compute.gpu, compute.min_gpu_memory_gib or startup_probe with llm: "
                             "the engine's own (compute.gpu_models narrows the GPUs the planner may pick)")
        return self

    kind: Literal[MODEL_KINDS] = "realtime"  # type: ignore[valid-type]
    """How requests reach the model: realtime (a route), async (a queue behind a gateway) or batch (jobs)."""
    queue: Optional[QueueSettings] = None
    """async and batch only: the queue's settings."""

    @model_validator(mode="after")
    def _queue_kind(self) -> "ModelConfig":
        if self.queue is not None and self.kind == "realtime":
            raise rule_error("queue with kind realtime", "queue only with kind async or batch")
        if self.kind != "realtime" and "signal" in self.autoscaling.model_fields_set:
            raise rule_error(f"autoscaling.signal {self.autoscaling.signal!r} with kind {self.kind}",
                             "no signal for async and batch models (their workers scale on the queue's depth)")
        if self.kind == "batch" and self.networking.path is not None:
            raise rule_error("networking.path with kind batch", "no path: batch jobs come through the queue")
        if self.kind != "realtime" and self.llm is not None:
            raise rule_error(f"llm with kind {self.kind}", "llm only with kind realtime (the engine serves its own "
                             "OpenAI-compatible routes)")
        return self

    @property
    def node_cache(self) -> bool:
        """An LLM whose weights are cached once per node (`llm.node_cache`: a hostPath volume)."""
        return self.llm is not None and self.llm.node_cache

    @property
    def scales_from_zero(self) -> bool:
        """The replicas scale from zero: `scale_to_zero`, or the workers of an async or batch model whose
        `min_replicas` is not given (they scale on the queue from zero)."""
        a = self.autoscaling
        return a.scale_to_zero or (self.kind != "realtime" and "min_replicas" not in a.model_fields_set)

    @property
    def running_min_replicas(self) -> int:
        """Replicas that run at the bottom of the range: 0 when the model scales from zero, else `min_replicas`."""
        return 0 if self.scales_from_zero else self.autoscaling.min_replicas


class TrafficSplit(_Strict):
    """Weighted routing across models at one path (canaries); weights are percentages summing to 100."""

    path: Optional[str] = None
    backends: dict[str, int] = Field(min_length=1)

    _path = field_validator("path")(classmethod(lambda cls, v: _url_path(v)))

    @field_validator("backends")
    @classmethod
    def _weights(cls, v: dict[str, int]) -> dict[str, int]:
        for k, w in v.items():
            if not 0 <= w <= 100:
                raise ValueError(f"weights from 0 to 100 (backend {k!r} has {w})")
        return v


class CapacityConfig(_Strict):
    """How the planner designs the node groups of a stack that gives no `node_groups` (see planner/design.py).

    Defaults are the environment's posture: spot everywhere, with an on-demand fallback group and floor in prod.
    """

    spot: Optional[bool] = None
    """Model groups on spot capacity (default: true)."""
    on_demand_fallback: Optional[bool] = None
    """An on-demand fallback group and floor under each spot group (default: true in prod); needs spot."""
    families: list[str] = Field(default_factory=list)
    """Instance families the planner may use (empty: every non-burstable family the environment allows)."""
    exclude_families: list[str] = Field(default_factory=list)
    gpu_models: list[str] = Field(default_factory=list)
    """GPU models the planner may use (empty: all); CPU types stay allowed for CPU models."""
    exclude_gpu_models: list[str] = Field(default_factory=list)
    arch: Literal[node_templates.ARCHES] = "amd64"  # type: ignore[valid-type]
    max_groups: Optional[int] = Field(None, ge=1, le=50)
    """Most model node groups (system and on-demand fallback groups not counted); default: no cap."""
    max_types: int = Field(4, ge=1, le=20)
    """Most instance types in one spot group."""
    spot_spread_cost_pct: float = Field(3.0, ge=0, le=100)
    """The most listing more spot pools (equal-shape types) may raise a spot group's expected price (the mean over
    its pools), in percent of its cheapest pool's: pools join cheapest first while the mean stays within it. 0: the
    cheapest pool alone (lowest price, most interruptions); 20: every pool within 20%. Default 3. The plan says
    what the pools cost per group."""
    weight_at_min: float = Field(2.0, gt=0, le=100)
    """How much the cost at min replicas counts against the cost at max replicas in the planner's objective
    (weight_at_min × cost at min + cost at max). Default 2: a request-autoscaled API spends more hours near its
    min_replicas than at its max_replicas, a ceiling set above the expected peak, so an hour at min counts twice
    (the plan then favours a cheaper steady state, such as an on-demand floor holding the min replicas, over a
    slightly cheaper ceiling); 1 counts both ends equally; higher for a stack that runs near min most hours."""
    max_nodes_per_group: Optional[int] = Field(None, ge=1, le=1000)
    """Largest max_size of a designed group (default: the environment's policy cap, 10 in dev)."""
    system_instance_types: list[str] = Field(default_factory=list)
    """The system group's types (default: the cheapest non-burstable type with >= 2 vCPU and 8 GiB)."""


class PlatformConfig(_Strict):
    environment: str = _name_field()
    team: str = _name_field()
    tags: dict[str, str] = Field(default_factory=dict)
    cluster: ClusterConfig
    node_groups: dict[Name, NodeGroupConfig] = Field(default_factory=dict)
    """Declared node groups; leave out (and give `capacity`, or nothing) to let the planner design them."""
    capacity: Optional[CapacityConfig] = None
    models: dict[Name, ModelConfig] = Field(default_factory=dict)
    traffic_splits: dict[Name, TrafficSplit] = Field(default_factory=dict)
    prices_file: Optional[str] = Field(default=None, min_length=1, max_length=4096)
    """The region price file to plan with (`modelstack prices refresh --out FILE`), relative to the project folder
    (the one with Pulumi.yaml) or absolute. Default: `prices/<aws:region>.json` in the project folder, when it exists."""

    @property
    def node_cache_namespaces(self) -> set[str]:
        """Namespaces holding an LLM with the node-wide weight cache (a hostPath volume)."""
        return {m.namespace for m in self.models.values() if m.node_cache}


# ---------------------------------------------------------------------------------------------- loading


class Platform(BaseModel):
    """A validated platform: the config plus the stack name and region it belongs to."""

    model_config = ConfigDict(frozen=True)
    stack: str
    region: str
    config: PlatformConfig
    source: Optional[str] = None
    """Where the config came from (the stack file), for error reports."""
    warnings: tuple[ConfigIssue, ...] = ()
    """Settings that are valid but do not do what they say (config.checks.semantic_warnings); the plan shows them."""

    @property
    def tier(self) -> Optional[str]:
        """The documented tier (dev, staging, prod) whose defaults the environment takes (render.tiers)."""
        return tiers.tier_of(self.config.environment)

    @property
    def is_prod(self) -> bool:
        return self.tier == "prod"


#: Longest value quoted back in a message; longer strings are described by their length.
_QUOTE_MAX = 80


def _fmt_value(v: Any) -> str:
    """A given value as a message shows it: YAML's true/false, a mapping or a list by its kind, a long string by
    its length (never the whole of a 5 MB string)."""
    if isinstance(v, (dict, list)):
        return "a " + ("mapping" if isinstance(v, dict) else "list")
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, date):
        return f"the date {v.isoformat()}"
    if isinstance(v, str) and len(v) > _QUOTE_MAX:
        return f"a string of {len(v):,} characters starting {v[:24]!r}"
    if isinstance(v, int) and abs(v) >= 10 ** _QUOTE_MAX:
        return f"an integer of {len(str(abs(v)))} digits"
    return repr(v)


def _quoted_number(v: Any) -> bool:
    """A string that a lax loader would have read as a number ("8080", "0.5")."""
    try:
        return isinstance(v, str) and 0 < len(v.strip()) <= _QUOTE_MAX and float(v) == float(v)
    except ValueError:
        return False


def _type_hint(t: str, v: Any) -> str:
    """What a wrong-type error allows, with a hint for the usual slip (a quoted number, a string for a boolean)."""
    if t in ("int_parsing", "int_type", "int_from_float"):
        if _quoted_number(v):
            return f"an integer, without quotes ({v.strip()} rather than {v!r})"
        if isinstance(v, float) and v.is_integer():
            return f"an integer, written without a decimal point ({int(v)})"
        if isinstance(v, float):
            return "an integer (a whole number)"
        return "an integer" + (", not true or false" if isinstance(v, bool) else "")
    if t in ("float_parsing", "float_type"):
        if _quoted_number(v):  # `pulumi config set --path` turns only integers and true/false into non-strings
            return f"a number, without quotes ({v.strip()} rather than {v!r}; with pulumi config set --path, add --type float)"
        return "a number" + (", not true or false" if isinstance(v, bool) else "")
    if t in ("bool_parsing", "bool_type"):
        if isinstance(v, str):
            return ("true or false, unquoted (YAML 1.2, as Pulumi reads the stack file: yes, no, on, off and quoted "
                    "values are strings)")
        return "true or false" + (" (not 0 or 1)" if isinstance(v, (int, float)) else "")
    if isinstance(v, (bool, int, float, date)):
        text = _fmt_value(v) if isinstance(v, bool) else v.isoformat() if isinstance(v, date) else repr(v)
        return f"a string: quote it ('{text}')"
    return "a string"


def _path(loc: tuple[Any, ...]) -> str:
    out = CONFIG_KEY
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _unwrap(tp: Any) -> Any:
    origin = get_origin(tp)
    if origin is Union:
        args = [a for a in get_args(tp) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else tp
    return tp


def _model_at(loc: tuple[Any, ...]) -> Any:
    """The pydantic model class at a config path, for listing its allowed keys."""
    tp: Any = PlatformConfig
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) in (dict, list):
            tp = get_args(tp)[-1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _allowed(err: Mapping[str, Any], loc: tuple[Any, ...]) -> str:
    t, ctx = err["type"], err.get("ctx") or {}
    if t == "extra_forbidden":
        model = _model_at(loc[:-1])
        keys = ", ".join(model.model_fields) if model else "none"
        return f"one of the keys {keys}"
    if t == "missing":
        return "a value (this key is required)"
    if t in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[t]
        bound = next(iter(ctx.values()))
        kind = "an integer" if isinstance(bound, int) else "a number"
        return f"{kind} {op} {bound:g}" if isinstance(bound, float) else f"{kind} {op} {bound}"
    if t == "literal_error":
        return f"one of {ctx.get('expected')}"
    if t == "string_pattern_mismatch":
        leaf = loc[-1] if loc else ""
        if leaf in ("environment", "team", "name", "node_group", "namespace") or (
                len(loc) >= 2 and loc[-2] in ("node_groups", "models", "traffic_splits", "access_entries")):
            return _NAME_RULE
        if leaf == "weights" and len(loc) >= 2 and loc[-2] == "llm":
            return WEIGHTS_RULE
        if leaf == "image":
            return "an image reference with a registry host and a tag or digest, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:1.4.2"
        return f"a string matching {ctx.get('pattern')}"
    if t == "string_too_long":
        return f"a string of at most {ctx.get('max_length'):,} characters"
    if t == "string_too_short":
        return "a non-empty string" if ctx.get("min_length") == 1 else f"a string of at least {ctx.get('min_length')} characters"
    if t in ("too_short", "too_long"):
        return f"at least {ctx.get('min_length')} item(s)" if t == "too_short" else f"at most {ctx.get('max_length')} item(s)"
    if t in ("int_parsing", "int_type", "int_from_float", "float_parsing", "float_type", "bool_parsing", "bool_type",
             "string_type"):
        return _type_hint(t, err.get("input"))
    if t == "finite_number":
        return "a finite number (not .inf or .nan)"
    if t in ("dict_type", "model_type", "model_attributes_type"):
        return "a mapping of keys to values"
    if t in ("list_type",):
        return "a list"
    if t == "value_error":
        return str(ctx.get("error", err["msg"]))
    if t == "config_rule":
        return str(ctx["allowed"])
    return str(err["msg"])


def _real_loc(loc: tuple[Any, ...], raw: Any, missing: bool) -> tuple[Any, ...]:
    """The key path of an error in the user's input: pydantic also puts validator and union-branch tags
    ("function-after[...]", "str", "[key]") in `loc`; those are not keys of the input and are dropped."""
    out, node = [], raw
    for i, part in enumerate(loc):
        if isinstance(node, Mapping) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif missing and i == len(loc) - 1:
            out.append(part)
    return tuple(out)


def _issues_from_pydantic(e: ValidationError, raw: Any) -> list[ConfigIssue]:
    out = []
    for err in e.errors(include_url=False):
        loc = _real_loc(tuple(err["loc"]), raw, err["type"] == "missing")
        if err["type"] == "extra_forbidden":
            given = f"unknown key {loc[-1]!r}" if loc else "an unknown key"
        elif err["type"] == "missing":
            given = "nothing"
        elif err["type"] == "config_rule":
            given = str(err["ctx"]["given"])
        else:
            given = _fmt_value(err.get("input"))
        out.append(ConfigIssue(path=_path(loc), given=given, allowed=_allowed(err, loc)))
    # A union (e.g. cpu: str | int | float) reports one error per branch; keep the first per path.
    seen: dict[str, ConfigIssue] = {}
    for i in out:
        seen.setdefault(i.path, i)
    return list(seen.values())
