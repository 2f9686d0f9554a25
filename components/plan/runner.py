"""Run a Pulumi program in-process under recording mocks and return what it registered."""

from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Optional

import pulumi
from pulumi.runtime import mocks
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

from .offline_sdk import offline_sdk
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


#: Allocations between two young-generation collections while a plan runs (CPython's default is 700).
GC_YOUNG_THRESHOLD = 100_000
#: Young-generation collections between two collections of the middle one while a plan runs: so many that a plan
#: never reaches it (CPython's default is 10).
GC_NO_OLDER = 1_000_000
_tuned = 0


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Garbage collection tuned for one offline plan, then restored. A plan allocates millions of objects that stay
    alive until it ends (every resource, output and recorded input): with the defaults, the collector rescans them
    over and over. So: what exists before (imports, the price table, the validated config) is frozen out of the
    collector's scans; the young generation is collected every GC_YOUNG_THRESHOLD allocations instead of every 700
    (short-lived reference cycles are still collected); the older generations are not collected while the plan
    runs (each of those collections rescans everything the plan holds so far); and when the plan ends, what it
    allocated joins the oldest generation without a scan (gc.freeze, then gc.unfreeze: a collection of the young
    generation right after the plan would scan all of it), where the next full collection finds its garbage.
    Nested uses are one."""
    global _tuned
    if _tuned:
        yield
        return
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, GC_NO_OLDER, GC_NO_OLDER)
    _tuned += 1
    try:
        yield
    finally:
        _tuned -= 1
        gc.freeze()
        gc.unfreeze()
        gc.set_threshold(*threshold)


def run_program(program: Callable[[], Any], stack: str, config: Mapping[str, Any], *, project: str = PROJECT,
                region: str = "us-east-1", outputs: Optional[OutputsFn] = None,
                secret_keys: Optional[list[str]] = None,
                stack_outputs: Optional[dict[str, dict[str, Any]]] = None) -> ProgramRun:
    """Run `program` as `pulumi up` would (not a preview: every apply runs) and record every resource.

    Resets the root stack and config first, so runs do not leak exports or config into each other.
    `secret_keys`: config keys the engine would mark secret (a stack file's `secure:` values). `stack_outputs`: what
    each `pulumi.StackReference` reads, by the stack name it is given (`pulumi stack output --json` of that stack).
    """
    with fewer_collections(), offline_sdk():
        pulumi.runtime.settings.ROOT.set(None)
        pulumi.runtime.set_all_config(config_strings(config), list(secret_keys or []))
        monitor = RecordingMonitor(RecordingMocks(region=region, outputs=outputs, stack_outputs=stack_outputs))
        mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
        program()
        _sync_await(wait_for_rpcs())
        root = pulumi.runtime.settings.get_root_resource()
        exports = {}
        for k, v in (getattr(root, "outputs", None) or {}).items():
            exports[k] = _sync_await(pulumi.Output.from_input(v).future())
        return ProgramRun(stack=stack, resources=list(monitor.recorded), exports=exports)
