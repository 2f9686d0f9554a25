"""Shared fixtures: an isolated recording run of any Pulumi program under mocks."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# CI replays the same examples every run: a red CI must be reproducible, not a roll of the dice.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

from modelstack.plan.runner import ProgramRun, run_program


@pytest.fixture
def run():
    """`run(program, stack="dev", config={...}) -> ProgramRun`, each call isolated (fresh root stack and config)."""

    def _run(program, stack: str = "dev", config: dict | None = None, **kw) -> ProgramRun:
        return run_program(program, stack, config or {"aws:region": "us-east-1"}, **kw)

    return _run


def pytest_sessionfinish(session, exitstatus):
    """Under CI a skipped test is a failure: every skip here means a dev dependency did not install (checkov,
    node, kubernetes-validate, KEDA models), and the checks behind it silently stopped running."""
    if os.environ.get("CI") != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and session.exitstatus == 0:
        for report in skipped:
            reporter.write_line(f"skipped under CI: {report.nodeid}: {report.longrepr[-1] if report.longrepr else ''}", red=True)
        session.exitstatus = 1
