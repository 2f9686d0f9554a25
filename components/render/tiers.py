"""Documented environment tiers (dev, staging, prod) and the nearest one of any other environment's name.

Every default keyed by environment (the planner's accelerated families and node caps, the policies' thresholds,
log retention, Karpenter's disruption settings) is written for the three tiers. An environment with another name
takes the defaults of the tier its name is nearest to: each part of the name (split at `-`, `_`, `.`) is looked up
in :data:`ALIASES` (`sandbox`, `qa-eu`, `production` ...); when parts point at different tiers the strictest wins
(prod, then staging, then dev). A name with no known part has no tier: settings that have a `default` use it, the
rest must be set for that environment (the policies' messages name the file and key).

Pure module.
"""

from __future__ import annotations

import re
from typing import Mapping, Optional, TypeVar

V = TypeVar("V")

TIERS: tuple[str, ...] = ("dev", "staging", "prod")
"""The documented tiers, least strict first."""

ALIASES: dict[str, str] = {
    **{n: "dev" for n in ("dev", "development", "develop", "devel", "sandbox", "sbx", "test", "testing", "tst",
                          "local", "demo", "playground", "experiment", "experimental", "exp", "scratch", "ci",
                          "preview", "feature", "personal")},
    **{n: "staging" for n in ("staging", "stage", "stg", "preprod", "uat", "qa", "acceptance", "perf",
                              "performance", "integration", "int")},
    **{n: "prod" for n in ("prod", "production", "prd", "live")},
}
"""Name parts that say which tier an environment is nearest to."""


def tier_of(environment: Optional[str]) -> Optional[str]:
    """The documented tier whose defaults `environment` takes: itself for dev/staging/prod, the nearest by name
    otherwise (strictest of its parts), None when no part of the name is known."""
    if not isinstance(environment, str) or not environment:  # checks run on configs that failed their schema too
        return None
    low = environment.lower()
    if low in TIERS:
        return low
    # "pre-prod" / "pre_prod" read as one word, like "preprod" (staging, not prod).
    parts = [p for p in re.split(r"[-_.]+", re.sub(r"pre[-_.]prod", "preprod", low)) if p]
    found = {ALIASES[p] for p in parts if p in ALIASES}
    return max(found, key=TIERS.index) if found else None


def lookup(table: Mapping[str, V], environment: Optional[str]) -> tuple[Optional[str], Optional[V]]:
    """`(key, value)` of `environment` in a table keyed by environment: its own entry, else its tier's, else the
    table's `default`; `(None, None)` when none is there."""
    for k in (environment, tier_of(environment), "default"):
        if k is not None and k in table:
            return k, table[k]
    return None, None


def note(environment: Optional[str], config_file: str) -> Optional[str]:
    """What the plan says about an environment that is not a documented tier (None for dev, staging, prod)."""
    if not environment or environment in TIERS:
        return None
    tier = tier_of(environment)
    if tier is not None:
        return (f"environment {environment!r} is not a documented tier ({', '.join(TIERS)}): it takes {tier}'s "
                f"defaults (the nearest tier by name) in the planner and the policies. To give it values of its "
                f"own, key them by {environment!r} in {config_file} (e.g. `gpu-instance-families.allowed_families`, "
                f"`max-nodes-per-group.max_nodes`)")
    return (f"environment {environment!r} is not a documented tier ({', '.join(TIERS)}) and its name is near none "
            f"of them: settings keyed by environment use their `default` where they have one; set the others for "
            f"{environment!r} in {config_file} (e.g. `gpu-instance-families.allowed_families.{environment}`), or "
            f"name the environment after its tier (e.g. {environment}-dev)")
