"""Work the Pulumi Python SDK does per resource that an offline plan does not need, left out while a plan runs.

Each change below was read from pulumi 3.272.0 (the `pulumi` package on PyPI, `pulumi/runtime/*.py` and
`pulumi/_types.py`; sources in components/data/UPSTREAM.md) and keeps what the program registers the same: only the
time it takes changes (tools/plan_snapshot.py compares the plans byte for byte). Everything is put back when the
plan ends, also when it fails. tests/plan/test_offline_sdk.py fails when the SDK changes under one of them.

- Monitor calls run at once. The SDK sends every call to the monitor through the event loop's thread pool
  (`asyncio.get_running_loop().run_in_executor(None, ...)` in `runtime/resource.py`, `invoke.py`, `settings.py`,
  `stack.py`); the plan's monitor is in-process and synchronous (plan/mocks.py), so a thread hop per resource only
  costs hand-offs of the interpreter lock.
- No stack trace per resource. `runtime/resource.py:register_resource` captures the Python stack of every resource
  (`_get_stack_trace`, for the engine's source positions); the plan's monitor never reads it.
- The dependency-cycle check searches from both ends. `runtime/rpc.py:_add_dependency` calls
  `declare_dependency` (`runtime/resource_cycle_breaker.py`), which walks everything the dependency depends on,
  transitively, before each new dependency: for a model's resource that is most of the cluster. The same answer
  (is the new dependent reachable from the dependency?) is found here by walking forward from the dependency and
  backward from the dependent in turns, stopping at the first that ends; the dependencies are recorded as the SDK
  records them, and a cycle raises the SDK's own error.
- Type unwrapping is remembered. `_types.unwrap_type` (called by `runtime/rpc.py:serialize_property` for every
  input value) is a pure function of a type annotation, so its answers are kept per type.
- Unknowns are looked for without recursion. `runtime/rpc.py:contains_unknowns` (called through
  `output.contains_unknowns` for every output value made, and again when one is awaited) walks dicts and lists
  with a nested generator per value; the same walk (dict values, list items, each container once) is done here
  with one loop.
- Plain URNs are built as strings. `runtime/resource.py:create_urn` (called for every registration, for a URN only
  used without a monitor, and for aliases) combines its parts through `Output.all`; when all parts are plain
  strings the same known, non-secret `Output` is made from the joined string.
"""

from __future__ import annotations

import asyncio
from contextlib import ExitStack, contextmanager
from typing import Any, Callable, Iterator, Optional

import pulumi
from pulumi import _types
from pulumi.runtime import resource as sdk_resource, resource_cycle_breaker, rpc
from pulumi.runtime.proto import source_pb2

#: The SDK version the changes below were read from.
PULUMI_VERSION = "3.272.0"


@contextmanager
def _patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    """`owner.name` is `value` inside; AttributeError when the SDK has no such attribute (it changed)."""
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextmanager
def _inline_executor(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """`loop.run_in_executor(...)` runs the function at once and returns its finished future."""

    def run_in_executor(executor: Any, func: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        fut = loop.create_future()
        try:
            fut.set_result(func(*args))
        except Exception as e:  # noqa: BLE001 - handed to the awaiting coroutine, as the thread pool does
            fut.set_exception(e)
        return fut

    loop.run_in_executor = run_in_executor  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        del loop.run_in_executor


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


class CycleCheck:
    """`resource_cycle_breaker.declare_dependency` with the same answers, searching from both ends (see above).

    `dependents` holds, per resource, the resources that declared a dependency on it through this check;
    `declared` counts the dependencies declared and `visited` the resources the searches looked at (the work)."""

    def __init__(self) -> None:
        self.dependents: dict[Any, set[Any]] = {}
        self.declared = 0
        self.visited = 0

    def declare_dependency(self, from_resource: Any, to_resource: Any) -> bool:
        self.declared += 1
        if self.reachable(to_resource, from_resource):
            return False
        resource_cycle_breaker._add_dep(from_resource, to_resource)
        self.dependents.setdefault(to_resource, set()).add(from_resource)
        return True

    def reachable(self, start: Any, target: Any) -> bool:
        """Whether `target` is `start` or one of its transitive dependencies."""
        if start is target:
            return True
        deps, dependents = resource_cycle_breaker._deps, self.dependents
        fwd_seen, bwd_seen = {start}, {target}
        fwd, bwd = [start], [target]
        while fwd and bwd:
            self.visited += 2
            r = fwd.pop()
            for x in deps(r):
                if x is target or x in bwd_seen:
                    return True
                if x not in fwd_seen:
                    fwd_seen.add(x)
                    fwd.append(x)
            r = bwd.pop()
            for x in dependents.get(r, ()):
                if x is start or x in fwd_seen:
                    return True
                if x not in bwd_seen:
                    bwd_seen.add(x)
                    bwd.append(x)
        return False


def _remembered(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    cache: dict[Any, Any] = {}

    def remembered(val: Any) -> Any:
        try:
            return cache[val]
        except KeyError:
            out = cache[val] = fn(val)
            return out
        except TypeError:  # an annotation that cannot be hashed
            return fn(val)

    return remembered


def contains_unknowns(val: Any) -> bool:
    """`rpc.contains_unknowns`: whether an `Unknown` is `val` or inside its dicts and lists."""
    unknown = pulumi.output.Unknown
    if isinstance(val, unknown):
        return True
    if not isinstance(val, (dict, list)):
        return False
    seen: set[int] = set()
    todo = [val]
    while todo:
        v = todo.pop()
        if isinstance(v, unknown):
            return True
        if id(v) in seen:
            continue
        seen.add(id(v))
        if isinstance(v, dict):
            todo.extend(v[k] for k in v)
        elif isinstance(v, list):
            todo.extend(v)
    return False


def _plain_create_urn(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_urn(name: Any, type_: Any, parent: Any = None, project: Optional[str] = None,
                   stack: Optional[str] = None) -> pulumi.Output[Any]:
        if isinstance(name, str) and isinstance(type_, str) and isinstance(parent, str):
            return pulumi.Output.from_input(parent[0: parent.rfind("::")] + "$" + type_ + "::" + name)
        urn: pulumi.Output[Any] = original(name, type_, parent, project, stack)
        return urn

    return create_urn


@contextmanager
def offline_sdk() -> Iterator[CycleCheck]:
    """The changes above, for one plan; yields the cycle check (its `dependents` serve tests)."""
    check = CycleCheck()
    with ExitStack() as stack:
        stack.enter_context(_inline_executor(asyncio.get_event_loop()))
        stack.enter_context(_patched(sdk_resource, "_get_stack_trace", _no_stack_trace))
        stack.enter_context(_patched(rpc, "declare_dependency", check.declare_dependency))
        stack.enter_context(_patched(_types, "unwrap_type", _remembered(_types.unwrap_type)))
        stack.enter_context(_patched(rpc, "contains_unknowns", contains_unknowns))
        stack.enter_context(_patched(sdk_resource, "create_urn", _plain_create_urn(sdk_resource.create_urn)))
        yield check
