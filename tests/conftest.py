"""Shared fixtures: an isolated recording run of any Pulumi program under mocks."""

from __future__ import annotations

import pytest

from modelstack.plan.runner import ProgramRun, run_program


@pytest.fixture
def run():
    """`run(program, stack="dev", config={...}) -> ProgramRun`, each call isolated (fresh root stack and config)."""

    def _run(program, stack: str = "dev", config: dict | None = None, **kw) -> ProgramRun:
        return run_program(program, stack, config or {"aws:region": "us-east-1"}, **kw)

    return _run
