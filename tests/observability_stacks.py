"""The observability of every shipped stack, computed as the stack program computes it (program.observability_plan)."""

from __future__ import annotations

from functools import lru_cache

from modelstack import program
from modelstack.planner.capacity import plan_platform
from stacks import ROOT, stack_values


@lru_cache(maxsize=None)
def observability(env: str):
    values = stack_values(env)
    platform, capacity = plan_platform(env, values, str(ROOT / "stacks" / f"Pulumi.{env}.yaml"))
    all_args = program.with_group_idle_timeout(
        {n: program.model_args(platform, n, m, capacity) for n, m in platform.config.models.items()})
    return platform, program.observability_plan(platform, capacity, program.resolved(all_args))
