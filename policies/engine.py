"""Run the policy rules offline over recorded resources, with the same config format as CrossGuard.

``evaluate(resources, config, environment)`` is what ``modelstack plan`` calls. ``config`` has the shape
of a ``pulumi preview --policy-pack-config`` file, so one JSON file drives both::

    {"all": "advisory",                                   # optional: level of every policy
     "min-replicas": "mandatory",                         # a level
     "max-nodes-per-group": {"enforcementLevel": "mandatory", "max_nodes": {"prod": 40}}}

Resolution follows the Pulumi CLI (``ReconcilePolicyPackConfig``): rule defaults, then ``all``, then the
per-policy entry; properties are merged over the rule's defaults.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import jsonschema

from . import cost, queues, reliability, security  # noqa: F401  (importing registers the rules)
from .rule import LEVELS, RULES, Context, Resource, Rule

CATEGORIES = ("security", "reliability", "cost")


def rules() -> list[Rule]:
    """Every registered rule, in a stable order (category, then definition order)."""
    return sorted(RULES, key=lambda r: CATEGORIES.index(r.category))


def rule(rule_id: str) -> Rule:
    for r in RULES:
        if r.id == rule_id:
            return r
    raise KeyError(rule_id)


@dataclass(frozen=True)
class Violation:
    policy: str
    resource: str
    """URN of the resource in violation; empty for a stack-wide violation."""
    message: str
    level: str
    """``advisory`` or ``mandatory``."""
    category: str = ""

    def to_json(self) -> dict[str, str]:
        return {"policy": self.policy, "resource": self.resource, "message": self.message,
                "level": self.level, "category": self.category}

    def __str__(self) -> str:
        return f"[{self.level}] {self.policy}: {self.resource or '(stack)'}: {self.message}"


class PolicyConfigError(ValueError):
    """Policy config that does not match the schema; ``errors`` lists every problem (key, value, what is allowed),
    ``source`` the file it came from when known."""

    def __init__(self, errors: list[str], source: str | None = None):
        where = f"policy config {source}" if source else "invalid policy config"
        super().__init__(f"{where}: {len(errors)} problem(s)\n  " + "\n  ".join(errors))
        self.errors = errors
        self.source = source


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _allowed(schema: Mapping[str, Any]) -> str:
    """What a JSON schema accepts, in words."""
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        plural = {"string": "strings", "integer": "integers", "number": "numbers", "boolean": "booleans"}
        kind_of = items.get("type") if isinstance(items, Mapping) else None
        return "a list of " + plural.get(str(kind_of), "values")
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            return f"an object of environment (or `default`) to {_allowed(extra)}"
        return "an object"
    bounds = [f">= {schema['minimum']}"] if "minimum" in schema else []
    bounds += [f"<= {schema['maximum']}"] if "maximum" in schema else []
    bounds += [f"at least {schema['minLength']} character(s)"] if schema.get("minLength") else []
    words = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false"}
    return " ".join([words.get(str(kind), str(kind)), *bounds]) if kind else "any value"


def _suggest(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def config_problems(data: Any) -> list[str]:
    """Every problem of a policy-pack config, each as `key: value: what is wrong; allowed: ...` (empty: valid).
    The same checks as :func:`config_schema`, said in terms of the file."""
    if not isinstance(data, Mapping):
        return [f"(whole file): {_shown(data)}: a policy config is a JSON object of policy ids to a level "
                f"({', '.join(LEVELS)}) or settings"]
    ids = [r.id for r in rules()]
    out: list[str] = []
    for name, value in data.items():
        if name != "all" and name not in ids:
            out.append(f"{name}: not a policy of this pack; {_suggest(name, ids)}policies: all, {', '.join(ids)}")
            continue
        if isinstance(value, str) or name == "all":
            if value not in LEVELS:
                out.append(f"{name}: {_shown(value)}: not a level; allowed: {', '.join(LEVELS)}")
            continue
        settings = policy_schema(rule(name))["properties"]
        if not isinstance(value, Mapping):
            out.append(f"{name}: {_shown(value)}: a level ({', '.join(LEVELS)}) or an object of its settings "
                       f"({', '.join(settings)})")
            continue
        for prop, given in value.items():
            if prop not in settings:
                out.append(f"{name}.{prop}: not a setting of {name}; {_suggest(prop, list(settings))}"
                           f"settings: {', '.join(settings)}")
                continue
            for e in sorted(jsonschema.Draft7Validator(settings[prop]).iter_errors(given),
                            key=lambda e: list(map(str, e.absolute_path))):
                path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path)
                out.append(f"{name}.{prop}{path}: {_shown(e.instance)}: allowed: {_allowed(e.schema)}")
    return out


def policy_schema(r: Rule) -> dict[str, Any]:
    """The JSON schema Pulumi validates one policy's config against (``convertSchema`` + enforcementLevel)."""
    return {
        "type": "object",
        "properties": {**r.config_properties(),
                       "enforcementLevel": {"type": "string", "enum": list(LEVELS)}},
    }


def config_schema() -> dict[str, Any]:
    """JSON schema of a whole policy-pack config file."""
    level = {"type": "string", "enum": list(LEVELS)}
    props: dict[str, Any] = {"all": level}
    for r in rules():
        props[r.id] = {"oneOf": [level, {**policy_schema(r), "additionalProperties": False}]}
    return {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "properties": props, "additionalProperties": False}


@dataclass(frozen=True)
class PolicyConfig:
    """Resolved policy-pack config: a level override and property overrides per policy."""

    all_level: str | None = None
    levels: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, source: str | None = None) -> "PolicyConfig":
        """The resolved config; PolicyConfigError (naming `source`, the file, when given) lists every problem."""
        errors = config_problems({} if data is None else data)
        if errors:
            raise PolicyConfigError(errors, source)
        data = dict(data or {})
        levels: dict[str, str] = {}
        properties: dict[str, dict[str, Any]] = {}
        for name, value in data.items():
            if name == "all":
                continue
            if isinstance(value, str):
                levels[name] = value
            else:
                value = dict(value)
                if "enforcementLevel" in value:
                    levels[name] = value.pop("enforcementLevel")
                properties[name] = value
        return cls(all_level=data.get("all"), levels=levels, properties=properties)

    @classmethod
    def coerce(cls, config: "PolicyConfig | Mapping[str, Any] | None") -> "PolicyConfig":
        return config if isinstance(config, PolicyConfig) else cls.from_mapping(config)

    @classmethod
    def load(cls, path: str | Path) -> "PolicyConfig":
        return cls.from_mapping(read_config_file(path), str(path))

    def level(self, r: Rule) -> str:
        level = self.levels.get(r.id) or self.all_level or r.level
        return "mandatory" if level == "remediate" else level  # as the SDK does: no remediations here

    def params(self, r: Rule) -> dict[str, Any]:
        return r.params_from(self.properties.get(r.id, {}))

    def environment(self, r: Rule) -> str | None:
        return self.properties.get(r.id, {}).get("environment")


def read_config_file(path: str | Path, shown: str | None = None) -> Any:
    """A policy config file's JSON (not yet checked); PolicyConfigError naming the file (as `shown`, default its
    path) when it cannot be read or is not JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise PolicyConfigError([f"cannot be read: {e.strerror or e}"], shown or str(path)) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise PolicyConfigError([f"not JSON: {e}"], shown or str(path)) from None


def _resource(record: Any) -> Resource:
    """A rule's view of one resource: a :class:`Resource`, a record mapping (`plan.json`'s `resources`), or any
    object with `to_json()` giving one (the plan runner's `Recorded`, `ProgramRun.resources` as they come)."""
    if isinstance(record, Resource):
        return record
    if isinstance(record, Mapping):
        return Resource.from_record(record)
    to_json = getattr(record, "to_json", None)
    if callable(to_json):
        data = to_json()
        if isinstance(data, Mapping):
            return Resource.from_record(data)
    raise TypeError(f"evaluate() takes resources as records (mappings with urn, type, name, parent, inputs), "
                    f"Resource objects or recorded resources with to_json(); got {type(record).__name__}")


def evaluate(resources: Iterable[Any],
             config: PolicyConfig | Mapping[str, Any] | None = None,
             environment: str | None = None) -> list[Violation]:
    """Every violation of every enabled rule over the recorded resources.

    ``resources``: dicts ``{"urn", "type", "name", "parent", "inputs"}`` with inputs as the engine sees
    them (camelCase), :class:`Resource` objects, or what the plan runner records (``run_program(...).resources``,
    anything with a ``to_json()`` giving such a dict); ``environment`` is the stack's environment and wins over
    config and tags.
    """
    cfg = PolicyConfig.coerce(config)
    recorded: Sequence[Resource] = [_resource(r) for r in resources]
    out: list[Violation] = []
    for r in rules():
        level = cfg.level(r)
        if level == "disabled":
            continue
        env = environment or cfg.environment(r)
        params = cfg.params(r)
        try:
            if r.scope == "stack":
                for urn, message in r.check(recorded, Context(env, params)):
                    out.append(Violation(r.id, urn or "", message, level, r.category))
                continue
            for res in recorded:
                if not r.applies_to(res.type):
                    continue
                ctx = Context(env, params, urn=res.urn, name=res.name)
                for message in r.check(res.type, res.props, ctx):
                    out.append(Violation(r.id, res.urn, message, level, r.category))
        except Exception as exc:  # a rule bug must name the rule, not surface as a bare KeyError
            raise RuntimeError(f"policy {r.id!r} failed: {exc!r}") from exc
    return out


def has_mandatory(violations: Iterable[Violation]) -> bool:
    return any(v.level == "mandatory" for v in violations)


def pack_config(environment: str) -> dict[str, Any]:
    """The shipped ``policies/config.<env>.json``: the environment for every policy, defaults otherwise.

    Pulumi hands each policy only its own config, so the environment is repeated per policy.
    """
    return {r.id: {"environment": environment} for r in rules()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelstack.policies.engine",
                                     description="Policy config tools.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    gen = sub.add_parser("config", help="print the policy-pack config file for an environment")
    gen.add_argument("environment")
    sub.add_parser("schema", help="print the JSON schema of a policy-pack config file")
    check = sub.add_parser("check", help="evaluate a JSON list of recorded resources")
    check.add_argument("resources")
    check.add_argument("--environment", required=True)
    check.add_argument("--config")
    val = sub.add_parser("validate", help="check policy-pack config files (exit 2 naming each key, value and what is "
                                          "allowed); CI runs it before `pulumi preview --policy-pack-config FILE`")
    val.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except PolicyConfigError as e:
        print(e, file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.cmd == "validate":
        problems = []
        for f in args.files:
            try:
                PolicyConfig.load(f)
            except PolicyConfigError as e:
                problems.append(str(e))
        for p in problems:
            print(p, file=sys.stderr)
        if not problems:
            print(f"{len(args.files)} policy config file(s) valid")
        return 2 if problems else 0
    if args.cmd == "config":
        print(json.dumps(pack_config(args.environment), indent=2))
        return 0
    if args.cmd == "schema":
        print(json.dumps(config_schema(), indent=2))
        return 0
    resources = json.loads(Path(args.resources).read_text(encoding="utf-8"))
    config = PolicyConfig.load(args.config) if args.config else None
    violations = evaluate(resources, config, args.environment)
    for v in violations:
        print(v)
    return 1 if has_mandatory(violations) else 0


if __name__ == "__main__":
    sys.exit(main())
