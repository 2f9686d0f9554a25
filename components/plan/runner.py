"""Run a Pulumi program in-process under recording mocks and return what it registered."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

import pulumi
from pulumi.runtime import mocks
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

from .mocks import Recorded, RecordingMocks, RecordingMonitor, OutputsFn

PROJECT = "modelstack"


@dataclass
class ProgramRun:
    """The resources one program run registered, in order, and the stack's exports."""

    stack: str
    resources: list[Recorded]
    exports: dict[str, Any]

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == typ]

    def named(self, name: str, typ: Optional[str] = None) -> Recorded:
        found = [r for r in self.resources if r.name == name and (typ is None or r.type == typ)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}" + (f" of type {typ}" if typ else ""))
        return found[0]

    def children(self, parent: Recorded) -> list[Recorded]:
        return [r for r in self.resources if r.parent == parent.urn]


def config_strings(values: Mapping[str, Any]) -> dict[str, str]:
    """Stack-file config values as the engine hands them to a program: structured values as JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def run_program(program: Callable[[], Any], stack: str, config: Mapping[str, Any], *, project: str = PROJECT,
                region: str = "us-east-1", outputs: Optional[OutputsFn] = None) -> ProgramRun:
    """Run `program` as `pulumi up` would (not a preview: every apply runs) and record every resource.

    Resets the root stack and config first, so runs do not leak exports or config into each other.
    """
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_all_config(config_strings(config))
    monitor = RecordingMonitor(RecordingMocks(region=region, outputs=outputs))
    mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
    program()
    _sync_await(wait_for_rpcs())
    root = pulumi.runtime.settings.get_root_resource()
    exports = {}
    for k, v in (getattr(root, "outputs", None) or {}).items():
        exports[k] = _sync_await(pulumi.Output.from_input(v).future())
    return ProgramRun(stack=stack, resources=list(monitor.recorded), exports=exports)
