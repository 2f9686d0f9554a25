"""The rule model shared by the offline plan and the CrossGuard pack.

A rule is one plain function plus metadata. Resource rules take ``(type, props, ctx)`` and yield
messages; stack rules take ``(resources, ctx)`` and yield ``(urn, message)`` pairs. ``engine.evaluate``
and ``pack.build_policies`` both wrap the same registered function, so rule logic exists once.

Props are plain dicts and lists. A value the engine cannot know yet (preview) is the ``UNKNOWN``
sentinel; rules skip what they cannot see instead of guessing.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

from modelstack.render import labels as _labels
from modelstack.render import tiers

Category = Literal["security", "reliability", "cost"]
Level = Literal["advisory", "mandatory", "disabled"]
LEVELS: tuple[str, ...] = ("advisory", "mandatory", "remediate", "disabled")

ENV_TAG = _labels.TAG_ENVIRONMENT
ENV_LABEL = _labels.ENVIRONMENT_LABEL

# The sentinels pulumi_policy leaves in place of values unknown during preview (pulumi_policy/proxy.py).
_UNKNOWN_SENTINELS = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
    "030794c1-ac77-496b-92df-f27374a8bd58",
    "e48ece36-62e2-4504-bad9-02848725956a",
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
})


class _Unknown:
    """A value Pulumi cannot know before the update (an output of a resource not yet created)."""

    _instance: "_Unknown | None" = None

    def __new__(cls) -> "_Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def plain(value: Any) -> Any:
    """Deep-copy props into dicts/lists, unwrapping pulumi_policy proxies and marking unknowns.

    The CrossGuard proxy raises on unknown values at access time, which would abort the whole rule
    for a resource; unwrapping first lets a rule skip only the field it cannot see.
    """
    if isinstance(value, str):
        return UNKNOWN if value in _UNKNOWN_SENTINELS else value
    target = _proxy_target(value)
    if target is not None:
        value = target
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _proxy_target(value: Any) -> Any:
    name = type(value).__name__
    if name in ("_DictProxy", "_ListProxy", "_DictSecretsProxy", "_ListSecretsProxy"):
        return value["__target"]
    if name == "Secret":
        return getattr(value, "value", None)
    return None


def get(props: Any, path: str, default: Any = None) -> Any:
    """``props`` at a dotted path; ``UNKNOWN`` if any step is unknown, ``default`` if absent.

    Keys that contain dots (Kubernetes labels) are read with ``key(props, ...)`` instead.
    """
    cur = props
    for part in path.split("."):
        if is_unknown(cur):
            return UNKNOWN
        if isinstance(cur, Mapping):
            if part not in cur:
                return default
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit():
            idx = int(part)
            if idx >= len(cur):
                return default
            cur = cur[idx]
        else:
            return default
    return cur if cur is not None else default


def key(mapping: Any, name: str, default: Any = None) -> Any:
    """One key of a mapping that may itself be unknown or absent."""
    if is_unknown(mapping):
        return UNKNOWN
    if isinstance(mapping, Mapping):
        value = mapping.get(name, default)
        return default if value is None else value
    return default


def as_list(value: Any) -> list:
    """A known list (unknown or absent -> empty); a single value becomes a one-item list."""
    if value is None or is_unknown(value):
        return []
    if isinstance(value, list):
        return value
    return [value]


def parse_json_document(value: Any) -> Any:
    """An IAM policy document given as a JSON string or already as a dict."""
    if is_unknown(value) or value is None:
        return value
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return None


def glob_any(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def resource_environment(props: Mapping[str, Any]) -> str | None:
    """The environment a resource declares: AWS ``environment`` tag or the modelstack k8s label."""
    for path in ("tags", "clusterTags"):
        env = key(get(props, path), ENV_TAG)
        if isinstance(env, str) and env:
            return env
    env = key(get(props, "metadata.labels"), ENV_LABEL)
    if isinstance(env, str) and env:
        return env
    return None


@dataclass(frozen=True)
class Param:
    """A rule threshold: its default, its JSON schema (draft 7, as gojsonschema validates it) and why."""

    default: Any
    schema: Mapping[str, Any]
    description: str

    def json_schema(self) -> dict[str, Any]:
        return {**self.schema, "description": self.description, "default": self.default}


@dataclass(frozen=True)
class Resource:
    """One recorded resource, as the plan records it and as CrossGuard's stack policies see it."""

    urn: str
    type: str
    name: str
    parent: str | None
    props: Mapping[str, Any]

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "Resource":
        return cls(
            urn=str(record.get("urn") or ""),
            type=str(record.get("type") or ""),
            name=str(record.get("name") or ""),
            parent=record.get("parent"),
            props=plain(record.get("inputs") or record.get("props") or {}),
        )


@dataclass(frozen=True)
class Context:
    """What a rule may read besides the resource: the environment, its thresholds, the resource's URN."""

    environment: str | None
    params: Mapping[str, Any]
    urn: str = ""
    name: str = ""

    def env_of(self, props: Mapping[str, Any]) -> str | None:
        """The configured environment, falling back to the resource's own tag or label."""
        return self.environment or resource_environment(props)

    def __getitem__(self, name: str) -> Any:
        return self.params[name]


ResourceCheck = Callable[[str, Mapping[str, Any], Context], Iterable[str]]
StackCheck = Callable[[Sequence[Resource], Context], Iterable[tuple[str | None, str]]]


@dataclass(frozen=True)
class Rule:
    id: str
    category: Category
    level: Level
    description: str
    why: str
    scope: Literal["resource", "stack"]
    check: Callable[..., Iterable[Any]]
    types: frozenset[str] = frozenset()
    """Resource types a resource rule applies to; empty means it decides itself (``applies``)."""
    applies: Callable[[str], bool] | None = None
    params: Mapping[str, Param] = field(default_factory=dict)

    def applies_to(self, resource_type: str) -> bool:
        if self.applies is not None:
            return self.applies(resource_type)
        return resource_type in self.types

    def defaults(self) -> dict[str, Any]:
        return {name: p.default for name, p in self.params.items()}

    def params_from(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The rule's defaults overridden by `given` (policy config); keys that are not its params are ignored."""
        return {**self.defaults(), **{k: v for k, v in given.items() if k in self.params}}

    def config_properties(self) -> dict[str, dict[str, Any]]:
        """The rule's policy-config JSON schema properties (``enforcementLevel`` is added by Pulumi)."""
        props: dict[str, dict[str, Any]] = {
            "environment": {
                "type": "string",
                "minLength": 1,
                "description": "Environment of the stack under check (dev, staging, prod). Without it the "
                               "resource's `environment` tag or `modelstack.io/environment` label is used.",
            },
        }
        for name, p in self.params.items():
            props[name] = p.json_schema()
        return props


RULES: list[Rule] = []


def _register(rule: Rule) -> None:
    if any(r.id == rule.id for r in RULES):
        raise ValueError(f"duplicate policy id {rule.id!r}")
    RULES.append(rule)


def resource_rule(id: str, *, category: Category, level: Level, description: str, why: str,
                  types: Iterable[str] = (), applies: Callable[[str], bool] | None = None,
                  params: Mapping[str, Param] | None = None) -> Callable[[ResourceCheck], ResourceCheck]:
    def register(fn: ResourceCheck) -> ResourceCheck:
        _register(Rule(id=id, category=category, level=level, description=description, why=why,
                       scope="resource", check=fn, types=frozenset(types), applies=applies,
                       params=dict(params or {})))
        return fn
    return register


def stack_rule(id: str, *, category: Category, level: Level, description: str, why: str,
               params: Mapping[str, Param] | None = None) -> Callable[[StackCheck], StackCheck]:
    def register(fn: StackCheck) -> StackCheck:
        _register(Rule(id=id, category=category, level=level, description=description, why=why,
                       scope="stack", check=fn, params=dict(params or {})))
        return fn
    return register


PROD_ONLY = Param(["prod"], {"type": "array", "items": {"type": "string"}},
                  "Environments in which the rule applies.")
"""The `environments` param of rules that hold in production only."""

# Kubernetes workload helpers shared by the rule modules.

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
POD_TEMPLATE_TYPES = frozenset({
    DEPLOYMENT,
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:batch/v1:Job",
})
POD_TYPES = frozenset({"kubernetes:core/v1:Pod"})
WORKLOAD_TYPES = POD_TEMPLATE_TYPES | POD_TYPES
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
# The label keys the components write: one definition, in modelstack.render.labels.
CAPACITY_LABEL = _labels.CAPACITY_LABEL
MODEL_LABEL = _labels.MODEL_LABEL
NODE_GROUP_LABEL = _labels.NODE_GROUP_LABEL
NODE_POOL_LABEL = _labels.NODE_POOL_LABEL


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Any:
    if resource_type in POD_TYPES:
        return get(props, "spec")
    return get(props, "spec.template.spec")


def containers(spec: Any, include_init: bool = True) -> list[tuple[str, Mapping[str, Any]]]:
    """``(label, container)`` pairs of a pod spec; unknown or malformed entries are skipped."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    fields = ("containers", "initContainers") if include_init else ("containers",)
    for f in fields:
        for i, c in enumerate(as_list(key(spec, f))):
            if isinstance(c, Mapping):
                name = c.get("name")
                label = f"{'init ' if f == 'initContainers' else ''}container {name if isinstance(name, str) else i!s}"
                out.append((label, c))
    return out


def labels(props: Mapping[str, Any]) -> Any:
    return get(props, "metadata.labels", {})


def annotations_of(props: Mapping[str, Any]) -> Any:
    return get(props, "metadata.annotations", {})


def in_envs(env: str | None, envs: Iterable[str]) -> bool:
    """`env` is one of `envs`, or takes the defaults of a tier that is (`render.tiers`: `sandbox` reads as dev)."""
    if env is None:
        return False
    names = set(envs)
    return env in names or tiers.tier_of(env) in names


def config_file(env: str | None) -> str:
    """The policy-pack config file of an environment, as messages name it."""
    return f"policies/config.{env or '<env>'}.json"
