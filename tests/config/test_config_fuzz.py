"""No traceback for a user mistake: any mangled stack config is either accepted or reported as a ConfigError."""

from __future__ import annotations

import copy
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelstack.planner.capacity import plan_platform
from modelstack.config.load import load_platform
from modelstack.config.schema import CONFIG_KEY, ConfigError
from stacks import stack_values

BASE = {env: stack_values(env) for env in ("dev", "prod")}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["", "0", "-1", "1Gi", "500m", "gpu", "1.35", "10.0.0.0/8",
                                                           "8080", "0.5", "yes", "true", "x" * 300]))
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
    # Each scalar also comes in the forms a lax loader would coerce ("8080", 2.0, true for an integer; "0.5" for a
    # number; "yes" for a boolean): the schema must refuse them, and what it accepts it must keep as given
    # (test_any_model_field_is_planned_or_reported_never_a_traceback checks both).
    if tp is bool:
        return st.one_of(st.booleans(), st.sampled_from(["true", "yes", "no", 0, 1]))
    if tp is int:
        edges = _bounds(field) if field is not None else []
        ints = st.one_of(st.integers(-2, 200), st.sampled_from(edges or [0, 1]))
        return st.one_of(ints, ints.map(str), ints.map(float), st.just(2.5), st.booleans())
    if tp is float:
        edges = _bounds(field) if field is not None else []
        floats = st.one_of(st.floats(-1, 200, allow_nan=False), st.sampled_from(edges or [0.0, 1.0]))
        return st.one_of(floats, st.integers(-2, 200), floats.map(repr), st.sampled_from([True, float("inf"), float("nan")]))
    if tp is str:
        return st.sampled_from(["", "/", "/healthz", "/a/", "1", "500m", "64Gi", "25%", "0%", "5m", "models", "default",
                                "kube-system", "cpu", "sh", "x" * 70, "0", "0Gi", "8080", "yes", "/health z", "/q'", "a b",
                                "x" * 300, "r.io/x:" + "1" * 129, "r.io/x@sha256:" + "a" * 64, "é" * 5])
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


def _leaves(node, prefix: tuple = ()):
    """(path, value) of every scalar in a patch."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, prefix + (i,))
    else:
        yield prefix, node


def _parsed(obj, path: tuple):
    for k in path:
        obj = getattr(obj, k) if isinstance(obj, BaseModel) else obj[k]
    return obj


def assert_kept_as_given(model, patch: dict) -> None:
    """Every scalar of an accepted patch is in the parsed model as written: no "8080" -> 8080, "yes" -> true, 2.5 -> 2
    (an integer where a number is allowed is the one widening)."""
    for path, raw in _leaves(patch):
        got = _parsed(model, path)
        widened = type(raw) is int and type(got) is float
        assert (type(got) is type(raw) or widened) and got == raw, f"{'.'.join(map(str, path))}: {raw!r} became {got!r}"


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
    assert_kept_as_given(platform.config.models[model], patch)
    resolve_models(platform, capacity)


# ------------------------------------------------------------------------------------------------------------------
# Strict types everywhere (issue 19): every integer, number and boolean of the whole schema, derived from the pydantic
# models, refuses the forms a lax loader would coerce, at its own key path.

from modelstack.config.load import validate_platform
from modelstack.config.schema import CapacityConfig, ClusterConfig, NodeGroupConfig, PlatformConfig


def _scalar_type(tp):
    """int, float or bool when `tp` is one of them (or Optional of one), else None (strings, unions with str...)."""
    args = [a for a in typing.get_args(tp) if a is not type(None)] if typing.get_origin(tp) is typing.Union else [tp]
    return args[0] if len(args) == 1 and args[0] in (int, float, bool) else None


def scalar_fields(cls: type[BaseModel], prefix: tuple = ()) -> list[tuple[tuple, type]]:
    """(path, type) of every int/float/bool field of `cls` and what it nests; a key "x" or index 0 stands for
    the entries of a dict or list of models (and of dict[str, int], the split weights)."""
    out = []
    for name, f in cls.model_fields.items():
        tp = f.annotation
        if typing.get_origin(tp) is typing.Union:
            inner = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = inner[0] if len(inner) == 1 else tp
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            out += scalar_fields(tp, prefix + (name,))
        elif origin in (dict, list) and args and isinstance(args[-1], type) and issubclass(args[-1], BaseModel):
            out += scalar_fields(args[-1], prefix + (name, "x" if origin is dict else 0))
        elif origin is dict and args and args[-1] in (int, float, bool):
            out.append((prefix + (name, "x"), args[-1]))
        elif _scalar_type(f.annotation):
            out.append((prefix + (name,), _scalar_type(f.annotation)))
    return out


def _put(node, path: tuple, value) -> None:
    for k, nxt in zip(path, path[1:]):
        if isinstance(k, int):
            while len(node) <= k:
                node.append({})
            node = node[k]
        else:
            if not isinstance(node.get(k), (dict, list)):
                node[k] = [] if isinstance(nxt, int) else {}
            node = node[k]
    node[path[-1]] = value


#: Where each section sits in the dev stack (capacity needs a stack without node_groups, set up in the test).
ANCHORS = {("models", "sentiment"): "ModelConfig", ("node_groups", "cpu"): "NodeGroupConfig", ("cluster",): "ClusterConfig",
           ("capacity",): "CapacityConfig"}
SCALARS = ([(("models", "sentiment") + p, t) for p, t in scalar_fields(ModelConfig)]
           + [(("node_groups", "cpu") + p, t) for p, t in scalar_fields(NodeGroupConfig)]
           + [(("cluster",) + p, t) for p, t in scalar_fields(ClusterConfig)]
           + [(("capacity",) + p, t) for p, t in scalar_fields(CapacityConfig)]
           + [(("traffic_splits", "x", "backends", "sentiment"), int)])
WRONG = {int: ["7", 7.0, True], float: ["0.5", True, float("inf")], bool: ["true", "yes", 1]}


def test_scalar_fields_cover_the_schema():
    top = {name for name, f in PlatformConfig.model_fields.items()}
    assert {p[0] for p, _ in SCALARS} == top - {"environment", "team", "tags", "prices_file"}, "a section has no anchor here"
    assert (("models", "sentiment", "sidecars", "x", "port"), int) in SCALARS
    assert (("node_groups", "cpu", "root_volume", "iops"), int) in SCALARS and len(SCALARS) > 60


@pytest.mark.parametrize("path,kind", SCALARS, ids=[".".join(map(str, p)) for p, _ in SCALARS])
def test_a_number_or_boolean_of_another_type_is_refused_never_coerced(path, kind):
    for wrong in WRONG[kind]:
        vals = copy.deepcopy(BASE["dev"])
        cfg = vals[CONFIG_KEY]
        if path[0] == "capacity":
            cfg.pop("node_groups")
            for m in cfg["models"].values():
                m.pop("node_group")
        _put(cfg, path, wrong)
        _, issues = validate_platform("dev", vals, "fuzz")
        key = CONFIG_KEY + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path)
        mine = [i for i in issues if i.path == key]
        shown = "true" if wrong is True else repr(wrong)
        assert mine and mine[0].given == shown, (key, wrong, [i.render() for i in issues])
        assert mine[0].allowed.startswith(("an integer", "a number", "true or false", "a whole number", "a finite")), mine[0].render()


# ------------------------------------------------------------------------------------------------------------------
# Pathological YAML (issue 19): any chain of anchors and aliases, any nesting, is read or refused, never a hang or
# a traceback, and the bounds decide which.

from guards import no_hang
from modelstack.config.load import MAX_DEPTH, MAX_NODES, read_stack_file


@settings(max_examples=150, deadline=None)
@given(levels=st.integers(1, 14), width=st.integers(1, 12), mapping=st.booleans())
def test_any_alias_chain_is_read_or_refused_by_its_expanded_size(levels, width, mapping):
    def ref(i):
        return ("{" + ", ".join(f"k{j}: *a{i}" for j in range(width)) + "}") if mapping else f"[{', '.join([f'*a{i}'] * width)}]"
    lines = ["config:", "  aws:region: us-east-1", "  x:", "    a0: &a0 lol"]
    lines += [f"    a{i}: &a{i} {ref(i - 1)}" for i in range(1, levels)]
    sizes = [1]  # values each anchor stands for: a mapping or list, and per entry its key and what the alias is
    for _ in range(1, levels):
        sizes.append(1 + width * ((1 if mapping else 0) + sizes[-1]))
    expanded = 6 + 1 + sum(1 + n for n in sizes)  # the document, config, aws:region and its value, x and its anchors
    try:
        with no_hang():
            read_stack_file("\n".join(lines) + "\n", "dev", "s.yaml")
    except ConfigError as e:
        assert expanded > MAX_NODES, e.render()
        return
    assert expanded <= MAX_NODES


@settings(max_examples=100, deadline=None)
@given(shape=st.lists(st.sampled_from(["[", "{k: "]), min_size=1, max_size=3 * MAX_DEPTH))
def test_any_nesting_is_read_or_refused_by_its_depth(shape):
    text = "config:\n  a: " + "".join(shape) + "x" + "".join("]" if s == "[" else "}" for s in reversed(shape)) + "\n"
    try:
        got = read_stack_file(text, "dev", "s.yaml")
    except ConfigError as e:
        assert len(shape) + 3 > MAX_DEPTH and "nested deeper than" in e.render(), e.render()
        return
    assert len(shape) + 3 <= MAX_DEPTH and got["a"] is not None
