"""Loading a stack's config: the schema, then the cross-key checks, in one report."""

from __future__ import annotations

from typing import Any, Mapping, Optional

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
    if issues:
        raise ConfigError(stack, issues, source)
    assert cfg is not None
    return Platform(stack=stack, region=str(region), config=cfg, source=source)
