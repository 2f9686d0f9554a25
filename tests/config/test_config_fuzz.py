"""No traceback for a user mistake: any mangled stack config is either accepted or reported as a ConfigError."""

from __future__ import annotations

import copy
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelstack.planner.capacity import plan_platform
from modelstack.config.load import load_platform
from modelstack.config.schema import CONFIG_KEY, ConfigError
from stacks import stack_values

BASE = {env: stack_values(env) for env in ("dev", "prod")}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["", "0", "-1", "1Gi", "500m", "gpu", "1.35", "10.0.0.0/8"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=6)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _mutate(cfg: dict, path: tuple, op: str, value) -> None:
    if not path:
        return
    parent = cfg
    for p in path[:-1]:
        parent = parent[p]
    last = path[-1]
    if op == "delete" and isinstance(parent, dict):
        del parent[last]
    elif op == "extra" and isinstance(parent[last], dict):
        parent[last]["x-unknown"] = value
    elif op == "compute" and isinstance(parent[last], dict):
        # values the schema accepts one by one but that may clash together (gpu with inferentia, ...)
        parent[last].update(value)
    else:
        parent[last] = value


compute_values = st.dictionaries(st.sampled_from(["gpu", "inferentia", "min_gpu_memory_gib", "cpu", "memory"]),
                                 st.one_of(st.integers(0, 4), st.sampled_from(["1", "64", "1Gi", "900Gi"])), max_size=3)
mutation = st.one_of(st.tuples(st.integers(0, 10**6), st.sampled_from(["replace", "delete", "extra"]), values),
                     st.tuples(st.integers(0, 10**6), st.just("compute"), compute_values))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(env=st.sampled_from(["dev", "prod"]), mutations=st.lists(mutation, min_size=1, max_size=4))
def test_mangled_config_is_accepted_or_reported(env, mutations):
    vals = copy.deepcopy(BASE[env])
    for index, op, value in mutations:
        paths = list(_paths(vals[CONFIG_KEY]))[1:]
        _mutate(vals[CONFIG_KEY], paths[index % len(paths)], op, value)
    try:
        platform, capacity = plan_platform(env, vals, "fuzz", date(2026, 11, 22))
    except ConfigError as e:
        assert e.issues and all(i.path and i.allowed for i in e.issues)
        assert e.render().startswith(f"stack '{env}' (fuzz): ")
        return
    resolve_models(platform, capacity)


def resolve_models(platform, capacity) -> None:
    """Each model through its ModelAPI's own validation and rendering, as the stack program would build it."""
    from modelstack import program
    from modelstack.serving import model_api

    for name, m in platform.config.models.items():
        model_api.resolve(name, program.model_args(platform, name, m, capacity))


@settings(max_examples=100, deadline=None)
@given(raw=values)
def test_any_value_for_the_whole_platform_key_is_reported(raw):
    try:
        load_platform("dev", {"aws:region": "us-east-1", CONFIG_KEY: raw})
    except ConfigError as e:
        assert e.issues


@settings(max_examples=200, deadline=None)
@given(doc=values)
def test_any_stack_file_is_read_or_reported(tmp_path_factory, doc):
    import yaml

    from modelstack import cli

    path = tmp_path_factory.mktemp("stack") / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(doc if not isinstance(doc, dict) else {"config": doc}))
    try:
        load_platform("dev", cli.read_stack_values(path, "dev"), str(path))
    except ConfigError as e:
        assert e.issues


def test_non_string_keys_and_broken_yaml_are_reported(tmp_path):
    from modelstack import cli

    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("config:\n  1: 2\n  aws:region: us-east-1\n")
    try:
        load_platform("dev", cli.read_stack_values(path, "dev"), str(path))
        raise AssertionError("accepted")
    except ConfigError as e:
        assert "1: got unknown key 1" in e.render()
    path.write_text("config: {aws:region: [\n")
    try:
        cli.read_stack_values(path, "dev")
        raise AssertionError("accepted")
    except ConfigError as e:
        assert e.issues[0].given.startswith("text that is not valid YAML (") and e.issues[0].path.endswith(":2:1")


# ------------------------------------------------------------------------------------------------------------------
# Every model field, derived from the pydantic schema: a field added to ModelConfig (or to a model it nests, such as
# Probe or PreStop) is fuzzed without touching this file. Each nested model is drawn as a random subset of its keys,
# so probes and pre_stop come with no handler, one, or several; each leaf gets values around its bounds and of the
# wrong type. Accepted configs then go through the ModelAPI's own validation and rendering (`resolve`), which is where
# the traceback of issue 16 came from.

import typing

from pydantic import BaseModel

from modelstack.config.schema import ModelConfig

_JUNK = st.one_of(st.none(), st.booleans(), st.just(-1), st.just(""), st.just({}), st.just([]), st.just("x"))


def _bounds(field) -> list:
    out = []
    for m in field.metadata:
        for attr in ("ge", "gt", "le", "lt"):
            v = getattr(m, attr, None)
            if v is not None:
                out += [v, v - 1, v + 1]
    return out


def _leaf(tp, field=None, depth: int = 0):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return model_values(tp, depth + 1)
    if origin is typing.Union:
        return st.one_of(*[_leaf(a, field, depth) for a in args])
    if origin is typing.Literal:
        return st.sampled_from(list(args))
    if origin is typing.Annotated:
        return _leaf(args[0], field, depth)
    if origin is list:
        return st.lists(_leaf(args[0], None, depth), max_size=3)
    if origin is dict:
        return st.dictionaries(st.sampled_from(["a", "b", "A b", "kube-x"]), _leaf(args[1], None, depth), max_size=2)
    if tp is type(None):
        return st.none()
    if tp is bool:
        return st.booleans()
    if tp is int:
        edges = _bounds(field) if field is not None else []
        return st.one_of(st.integers(-2, 200), st.sampled_from(edges or [0, 1]))
    if tp is float:
        edges = _bounds(field) if field is not None else []
        return st.one_of(st.floats(-1, 200, allow_nan=False), st.sampled_from(edges or [0.0, 1.0]))
    if tp is str:
        return st.sampled_from(["", "/", "/healthz", "/a/", "1", "500m", "64Gi", "25%", "0%", "5m", "models", "default",
                                "kube-system", "cpu", "sh", "x" * 70])
    return _JUNK


def model_values(cls: type[BaseModel], depth: int = 0):
    """A mapping with a random subset of `cls`'s fields (pydantic field names), each drawn from its annotation."""
    if depth > 3:
        return st.just({})
    fields = list(cls.model_fields.items())
    return st.lists(st.sampled_from(range(len(fields))), unique=True, max_size=4).flatmap(
        lambda idx: st.fixed_dictionaries({fields[i][0]: st.one_of(_leaf(fields[i][1].annotation, fields[i][1], depth), _JUNK)
                                           for i in idx}))


def _deep_merge(base: dict, patch: dict) -> dict:
    out = dict(base)
    for k, v in patch.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def field_paths(cls: type[BaseModel], prefix: tuple = ()) -> list[tuple[tuple, object]]:
    """Every field of `cls` and of the models it nests (through Optional, lists and dicts), with its FieldInfo."""
    out = []
    for name, f in cls.model_fields.items():
        out.append((prefix + (name,), f))
        stack = [f.annotation]
        while stack:
            a = stack.pop()
            if isinstance(a, type) and issubclass(a, BaseModel):
                out += field_paths(a, prefix + (name,))
            else:
                stack += list(typing.get_args(a))
    return out


MODEL_FIELDS = field_paths(ModelConfig)


def _at(path: tuple, value) -> dict:
    for k in reversed(path):
        value = {k: value}
    return value


#: One model field (any depth) aimed at on purpose, over a random subset of the rest: every field is hit however
#: many the schema grows to, and the fields around it vary.
model_patches = st.sampled_from(MODEL_FIELDS).flatmap(lambda pf: st.builds(
    lambda around, v: _deep_merge(around, _at(pf[0], v)),
    model_values(ModelConfig), st.one_of(_leaf(pf[1].annotation, pf[1]), _JUNK)))


def test_model_strategy_reaches_every_field_of_the_schema():
    paths = {p for p, _ in MODEL_FIELDS}
    assert {("readiness_probe", "exec"), ("pre_stop", "http_get"), ("autoscaling", "upscale_tolerance"),
            ("compute", "shm"), ("liveness_probe", "http_get", "port")} <= paths
    assert {(n,) for n in ModelConfig.model_fields} <= paths
    seen: set = set()

    @settings(max_examples=20 * len(paths), deadline=None, database=None, derandomize=True)
    @given(model_patches)
    def collect(v):
        def walk(node, prefix=()):
            if isinstance(node, dict):
                for k, x in node.items():
                    seen.add(prefix + (k,))
                    walk(x, prefix + (k,))
        walk(v)

    collect()
    assert len(seen & paths) >= 0.95 * len(paths), sorted(paths - seen)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.sampled_from(["sentiment", "image-classifier", "llm-chat"]), patch=model_patches)
def test_any_model_field_is_planned_or_reported_never_a_traceback(model, patch):
    vals = copy.deepcopy(BASE["dev"])
    models = vals[CONFIG_KEY]["models"]
    models[model] = _deep_merge(models[model], patch)
    try:
        platform, capacity = plan_platform("dev", vals, "fuzz", date(2026, 11, 22))
    except ConfigError as e:
        assert e.issues and all(i.path and i.allowed for i in e.issues)
        return
    resolve_models(platform, capacity)
