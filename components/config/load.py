"""Loading a stack's config: the schema, then the cross-key checks, in one report."""

from __future__ import annotations

from typing import Any, Mapping, Optional

import yaml
from pydantic import ValidationError

from modelstack.config import checks as validation
from modelstack.config.schema import (
    CONFIG_KEY,
    NAMESPACE,
    REGION_KEY,
    REGIONS,
    ConfigError,
    ConfigIssue,
    Platform,
    PlatformConfig,
    _fmt_value,
    _issues_from_pydantic,
)


def load_platform(stack: str, values: Mapping[str, Any], source: str | None = None) -> Platform:
    """Validate a stack's config values (the `config:` mapping of its stack file, or `pulumi.Config` reads).

    Raises ConfigError with every problem found; registers nothing.
    """
    platform, issues = validate_platform(stack, values, source)
    if issues:
        raise ConfigError(stack, issues, source)
    assert platform is not None
    return platform


#: Stand-ins for top-level keys that failed validation, so the checks that come after (capacity) still run.
_STAND_INS: dict[str, Any] = {"environment": "invalid", "team": "invalid", "tags": {}, "cluster": {"name": "invalid"}}


def _names_with_issues(issues: list[ConfigIssue], section: str) -> set[str]:
    """The entries of `section` (node_groups, models) that an issue's path points into."""
    head = f"{CONFIG_KEY}.{section}."
    return {i.path[len(head):].split(".")[0].split("[")[0] for i in issues if i.path.startswith(head)}


def _valid_part(raw: Mapping[str, Any], issues: list[ConfigIssue]) -> Optional[PlatformConfig]:
    """The part of a rejected config that has no problem of its own: the node groups without an issue whose models
    all have none, those models, and stand-ins for broken top-level keys. None when nothing is left to check."""
    groups = raw.get("node_groups") if isinstance(raw.get("node_groups"), Mapping) else {}
    models = raw.get("models") if isinstance(raw.get("models"), Mapping) else {}
    bad_groups, bad_models = _names_with_issues(issues, "node_groups"), _names_with_issues(issues, "models")
    for m, body in models.items():
        if m in bad_models and isinstance(body, Mapping) and isinstance(body.get("node_group"), str):
            bad_groups.add(body["node_group"])
    keep_models = {m: b for m, b in models.items() if m not in bad_models and isinstance(b, Mapping)
                   and b.get("node_group") in groups and b.get("node_group") not in bad_groups}
    keep_groups = {g: b for g, b in groups.items() if g not in bad_groups}
    if not keep_groups:
        return None
    broken_top = {i.path[len(CONFIG_KEY) + 1:].split(".")[0].split("[")[0] for i in issues if i.path.startswith(f"{CONFIG_KEY}.")}
    reduced = {k: v for k, v in raw.items() if k in PlatformConfig.model_fields and k not in broken_top}
    reduced.update({k: v for k, v in _STAND_INS.items() if k in broken_top})
    reduced.update(node_groups=keep_groups, models=keep_models, traffic_splits={})
    try:
        return PlatformConfig.model_validate(reduced)
    except (ValidationError, TypeError, ValueError):
        return None


def validate_platform(stack: str, values: Mapping[str, Any],
                      source: str | None = None) -> tuple[Optional[Platform], list[ConfigIssue]]:
    """Every problem of a stack's config, and the platform to run later checks on: the whole one when there is no
    problem, else the valid part (`_valid_part`; None when nothing is left or the region is unknown)."""
    issues: list[ConfigIssue] = []
    region = values.get(REGION_KEY)
    if region not in REGIONS:
        issues.append(ConfigIssue(path=REGION_KEY, given=_fmt_value(region) if region is not None else "nothing",
                                  allowed=f"one of {', '.join(REGIONS)} (regions with spot data in the price table)"))
    unknown = sorted((k for k in values if not isinstance(k, str) or (k.startswith(f"{NAMESPACE}:") and k != CONFIG_KEY)), key=str)
    for k in unknown:
        issues.append(ConfigIssue(path=str(k), given=f"unknown key {k!r}", allowed=f"only {CONFIG_KEY} in the {NAMESPACE} namespace"))
    raw = values.get(CONFIG_KEY)
    cfg: Optional[PlatformConfig] = None
    if raw is None:
        issues.append(ConfigIssue(path=CONFIG_KEY, given="nothing", allowed="a mapping with environment, team, cluster, node_groups, models"))
    elif not isinstance(raw, Mapping):
        issues.append(ConfigIssue(path=CONFIG_KEY, given=_fmt_value(raw), allowed="a mapping with environment, team, cluster, node_groups, models"))
    else:
        try:
            cfg = PlatformConfig.model_validate(raw)
        except ValidationError as e:
            issues.extend(_issues_from_pydantic(e, raw))
        issues.extend(validation.semantic_issues(raw, cfg))
    if not issues:
        assert cfg is not None
        return Platform(stack=stack, region=str(region), config=cfg, source=source,
                        warnings=tuple(validation.semantic_warnings(cfg))), []
    partial = _valid_part(raw, issues) if isinstance(raw, Mapping) and region in REGIONS else None
    platform = Platform(stack=stack, region=str(region), config=partial, source=source) if partial else None
    return platform, issues


def _duplicate_keys(node: yaml.Node, path: str, source: str) -> list[ConfigIssue]:
    """Keys written twice in one mapping, each with the lines of both (YAML loaders keep the last silently)."""
    out: list[ConfigIssue] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, yaml.Node] = {}
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else None
            child = f"{path}.{key}" if path and path != "config" else str(key)
            if key is not None and key in seen:
                first = seen[key].start_mark.line + 1
                out.append(ConfigIssue(path=f"{source}:{k.start_mark.line + 1}:{k.start_mark.column + 1}",
                                       given=f"key {child!r} again (first on line {first})",
                                       allowed="each key once in a mapping: YAML would keep only the last one"))
            elif key is not None:
                seen[key] = k
            out.extend(_duplicate_keys(v, child, source))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out.extend(_duplicate_keys(v, f"{path}[{i}]", source))
    return out


def read_stack_file(text: str, stack: str, source: str) -> dict[str, Any]:
    """The `config:` mapping of a stack file. Raises ConfigError for text that is not YAML (with its line and
    column), for keys written twice (with both lines) and for a file without a `config:` mapping."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text) or {}
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        what = e.problem or "unreadable text"
        if e.context and e.context_mark:
            what = f"{e.context} started on line {e.context_mark.line + 1}, column {e.context_mark.column + 1}: {what}"
        raise ConfigError(stack, [ConfigIssue(path=where, given=f"text that is not valid YAML ({what})",
                                              allowed="a YAML stack file")], source) from None
    except yaml.YAMLError as e:
        raise ConfigError(stack, [ConfigIssue(path=source, given="text that is not valid YAML",
                                              allowed=f"a YAML stack file ({str(e).splitlines()[0]})")], source) from None
    dups = _duplicate_keys(node, "", source) if node is not None else []
    if dups:
        raise ConfigError(stack, dups, source)
    values = doc.get("config") if isinstance(doc, dict) else None
    if not isinstance(values, dict):
        raise ConfigError(stack, [ConfigIssue(path="config", given="nothing" if values is None else repr(type(values).__name__),
                                              allowed="a `config:` mapping of keys to values")], source)
    return values
