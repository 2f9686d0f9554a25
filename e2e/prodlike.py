"""The prod stack's platform (stacks/Pulumi.prod.yaml), validated and capacity-planned by modelstack itself.

Both the e2e stack program (which models to deploy, with which args) and the driver (which kwok nodes stand in
for which node groups) read it from here, so the nodes carry exactly what our node groups would.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from modelstack.config.schema import Platform
from modelstack.planner.capacity import CapacityPlan, plan_platform

ROOT = Path(__file__).resolve().parent.parent
PROD = ROOT / "stacks" / "Pulumi.prod.yaml"


def load(path: Path = PROD) -> tuple[Platform, CapacityPlan]:
    values = yaml.safe_load(path.read_text())["config"]
    # The stack program's own path: schema, cross-key checks and capacity plan (raises ConfigError).
    return plan_platform("prod", values, str(path))
