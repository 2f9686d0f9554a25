"""What the offline plan leaves out of the Pulumi SDK's work (plan/offline_sdk.py): each change still matches the SDK it
was read from, gives the SDK's answers, holds only while a plan runs, and keeps the plan's work per model flat."""

from __future__ import annotations

import asyncio
import random
import types
from contextlib import contextmanager
from importlib import metadata
from typing import Any, Optional

import pulumi
import pytest
from pulumi import _types
from pulumi.runtime import resource as sdk_resource, resource_cycle_breaker, rpc
from pulumi.runtime.sync_await import _sync_await

from modelstack.plan import offline_sdk, runner
from modelstack.serving import model_api


def _names(code: types.CodeType) -> set[str]:
    """Every global and attribute name a function's code (nested functions included) refers to."""
    out = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out |= _names(c)
    return out


def test_the_sdk_is_the_version_the_changes_were_read_from():
    assert metadata.version("pulumi") == offline_sdk.PULUMI_VERSION


@pytest.mark.parametrize("caller, name", [
    (sdk_resource.register_resource, "_get_stack_trace"),  # the stack trace of every resource
    (sdk_resource.register_resource, "run_in_executor"),   # the monitor call, through the thread pool
    (sdk_resource.register_resource, "create_urn"),        # the URN made for a run without a monitor
    (rpc._add_dependency, "declare_dependency"),          # the cycle check before each dependency
    (rpc.serialize_property, "unwrap_type"),              # type unwrapping of every input value
    (pulumi.output.contains_unknowns, "contains_unknowns"),
])
def test_the_sdk_still_calls_what_the_plan_replaces(caller, name):
    assert name in _names(caller.__code__)


def test_the_replaced_attributes_and_what_the_replacements_use_exist():
    for owner, name in ((sdk_resource, "_get_stack_trace"), (sdk_resource, "create_urn"), (rpc, "declare_dependency"),
                        (_types, "unwrap_type"), (rpc, "contains_unknowns"), (resource_cycle_breaker, "_add_dep"),
                        (resource_cycle_breaker, "_deps"), (resource_cycle_breaker, "_reachable")):
        assert callable(getattr(owner, name)), (owner.__name__, name)
    # The monitor ignores source positions: the SDK sends none when the stack trace is empty.
    assert sdk_resource._get_source_position(offline_sdk._no_stack_trace()) is None


def _originals() -> dict:
    return {"stack": sdk_resource._get_stack_trace, "urn": sdk_resource.create_urn, "cycle": rpc.declare_dependency,
            "unwrap": _types.unwrap_type, "unknowns": rpc.contains_unknowns}


def test_everything_is_put_back_after_a_plan_also_when_it_fails():
    before = _originals()
    loop = asyncio.get_event_loop()
    with pytest.raises(RuntimeError):
        with offline_sdk.offline_sdk():
            assert _originals()["cycle"] != before["cycle"] and "run_in_executor" in vars(loop)
            raise RuntimeError("the plan failed")
    assert _originals() == before
    assert "run_in_executor" not in vars(loop)

    def failing_program():
        raise ValueError("bad program")

    with pytest.raises(ValueError):
        runner.run_program(failing_program, "dev", {})
    assert _originals() == before


def test_monitor_calls_run_at_once_and_hand_errors_to_the_caller():
    loop = asyncio.get_event_loop()
    with offline_sdk._inline_executor(loop):
        done = loop.run_in_executor(None, lambda a, b: a + b, 2, 3)
        assert done.done() and done.result() == 5
        failed = loop.run_in_executor(None, lambda: 1 / 0)
        assert isinstance(failed.exception(), ZeroDivisionError)


class _Node:
    def __init__(self, i: int) -> None:
        self.i = i


def test_the_cycle_check_answers_as_the_sdk_does_and_records_the_same_dependencies():
    rng = random.Random(21)
    for _ in range(200):
        n = rng.randint(2, 12)
        ours, sdks = [_Node(i) for i in range(n)], [_Node(i) for i in range(n)]
        check = offline_sdk.CycleCheck()
        for _ in range(rng.randint(1, 3 * n)):
            a, b = rng.randrange(n), rng.randrange(n)
            assert check.declare_dependency(ours[a], ours[b]) == resource_cycle_breaker.declare_dependency(sdks[a], sdks[b])
        for x, y in zip(ours, sdks):
            assert sorted(d.i for d in resource_cycle_breaker._deps(x)) == sorted(d.i for d in resource_cycle_breaker._deps(y))


def test_a_dependency_that_closes_a_cycle_is_refused():
    a, b, c = _Node(0), _Node(1), _Node(2)
    check = offline_sdk.CycleCheck()
    assert check.declare_dependency(a, b) and check.declare_dependency(b, c)
    assert not check.declare_dependency(c, a)
    assert not check.declare_dependency(a, a)


def _random_value(rng: random.Random, depth: int) -> Any:
    kind = rng.randrange(6 if depth < 4 else 3)
    if kind == 0:
        return pulumi.output.UNKNOWN if rng.random() < 0.1 else rng.choice([1, "x", None, 2.5, True])
    if kind == 1:
        return (pulumi.output.UNKNOWN,)  # tuples are not looked into
    if kind == 2:
        return "s"
    if kind in (3, 4):
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randint(0, 4))}


def test_unknowns_are_found_where_the_sdk_finds_them():
    rng = random.Random(3)
    original = rpc.contains_unknowns
    for _ in range(3000):
        v = _random_value(rng, 0)
        assert offline_sdk.contains_unknowns(v) == original(v)
    looped: list = [1]
    looped.append(looped)
    assert offline_sdk.contains_unknowns(looped) is original(looped) is False
    looped.append({"a": pulumi.output.UNKNOWN})
    assert offline_sdk.contains_unknowns(looped) is original(looped) is True


def test_type_unwrapping_is_remembered_with_the_sdks_answers():
    unwrap = offline_sdk._remembered(_types.unwrap_type)
    samples = [str, Optional[str], pulumi.Input[str], pulumi.Input[list[pulumi.Input[str]]], pulumi.Output[int],
               Optional[pulumi.Input[dict[str, Any]]], pulumi.Input[Optional[int]], list[str]]
    for t in samples * 2:
        assert unwrap(t) == _types.unwrap_type(t)


def _state(out: pulumi.Output) -> tuple:
    return (_sync_await(out.future()), _sync_await(out.is_known()), _sync_await(out.is_secret()),
            _sync_await(out.resources()))


def test_plain_urns_are_the_urns_the_sdk_makes():
    plain = offline_sdk._plain_create_urn(sdk_resource.create_urn)
    parent = "urn:pulumi:dev::modelstack::modelstack:index:ModelAPI::m"
    for name, typ, par in (("m-service", "kubernetes:core/v1:Service", parent), ("x", "a:b:C", ""),
                           ("root", "modelstack:index:Cluster", "urn:pulumi:dev::modelstack::pulumi:pulumi:Stack::modelstack-dev")):
        assert _state(plain(name, typ, par)) == _state(sdk_resource.create_urn(name, typ, par))
    # Anything else (an Output, no parent) is the SDK's own.
    out = plain("n", "a:b:C", pulumi.Output.from_input(parent))
    assert _state(out) == _state(sdk_resource.create_urn("n", "a:b:C", pulumi.Output.from_input(parent)))


def _plan_work(models: int, monkeypatch) -> dict[str, float]:
    """The work of an offline plan of the bench portfolio (bench/plan.py) with `models` models, counted."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("bench_plan", Path(__file__).parents[2] / "bench" / "plan.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    checks: list[offline_sdk.CycleCheck] = []
    counts = {"resolve": 0, "serialize": 0}
    real_sdk, real_resolve, real_serialize = runner.offline_sdk, model_api.resolve, rpc.serialize_property

    @contextmanager
    def counted_sdk():
        with real_sdk() as check:
            checks.append(check)
            yield check

    def counted_resolve(*a, **k):
        counts["resolve"] += 1
        return real_resolve(*a, **k)

    def counted_serialize(*a, **k):
        counts["serialize"] += 1
        return real_serialize(*a, **k)

    monkeypatch.setattr(runner, "offline_sdk", counted_sdk)
    monkeypatch.setattr(model_api, "resolve", counted_resolve)
    monkeypatch.setattr(rpc, "serialize_property", counted_serialize)
    doc = bench.run(bench.platform_with(models))
    monkeypatch.undo()
    resources = len(doc["resources"])
    (check,) = checks
    return {"resolve per model": counts["resolve"] / models, "values per resource": counts["serialize"] / resources,
            "dependencies per resource": check.declared / resources,
            "visited per dependency": check.visited / max(check.declared, 1)}


def test_plan_work_per_model_stays_flat_up_to_1000_models(monkeypatch):
    """Counted, not timed: model renderings, input values serialized, dependencies declared and the resources the
    cycle check looks at, per unit, at 1,000 models as at 100 (the SDK's own check looked at most of the cluster for
    every dependency of every model)."""
    small, large = _plan_work(100, monkeypatch), _plan_work(1000, monkeypatch)
    for what in small:
        assert large[what] <= 1.2 * small[what], (what, small, large)
    assert small["resolve per model"] <= 3  # the idle timeout, the plan's budgets, the ModelAPI itself
