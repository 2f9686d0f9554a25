"""The prod stack's platform (stacks/Pulumi.prod.yaml), validated and capacity-planned by modelstack itself.

Both the e2e stack program (which models to deploy, with which args) and the driver (which kwok nodes stand in
for which node groups) read it from here, so the nodes carry exactly what our node groups would.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from modelstack.capacity import CapacityPlan, plan_capacity
from modelstack.config import Platform, load_platform

ROOT = Path(__file__).resolve().parent.parent
PROD = ROOT / "stacks" / "Pulumi.prod.yaml"


def load(path: Path = PROD) -> tuple[Platform, CapacityPlan]:
    values = yaml.safe_load(path.read_text())["config"]
    platform = load_platform("prod", values, str(path))
    return platform, plan_capacity(platform)
