"""No traceback for a user mistake: any mangled stack config is either accepted or reported as a ConfigError."""

from __future__ import annotations

import copy
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelstack.planner.capacity import plan_capacity
from modelstack.config.load import load_platform
from modelstack.config.schema import CONFIG_KEY, ConfigError
from test_config import stack_values

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
        platform = load_platform(env, vals, "fuzz")
        plan_capacity(platform, date(2026, 11, 22))
    except ConfigError as e:
        assert e.issues and all(i.path and i.allowed for i in e.issues)
        assert e.render().startswith(f"stack '{env}' (fuzz): ")


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
