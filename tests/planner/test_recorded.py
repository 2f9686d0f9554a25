"""Recorded capacity choices: routine changes keep them, a choice that no longer serves is made again (and says
why), re-choosing is asked for and shows its saving and its replacements; `modelstack capacity` keeps the file."""

from __future__ import annotations

import copy
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from modelstack import cli
from modelstack.config.schema import CONFIG_KEY
from modelstack.plan import diff as plan_diff
from modelstack.planner import recorded as rec_mod
from modelstack.planner.capacity import plan_platform
from stacks import ROOT, stack_values

TODAY = date(2026, 11, 22)


def _values(mutate=None) -> dict:
    v = copy.deepcopy(stack_values("prod"))
    if mutate:
        mutate(v[CONFIG_KEY])
    return v


def _more_replicas(c):
    a = c["models"]["sentiment"]["autoscaling"]
    a["min_replicas"] += 2
    a["max_replicas"] = max(a["max_replicas"], a["min_replicas"])


def _one_more_model(c):
    c["models"]["sentiment-two"] = copy.deepcopy(c["models"]["sentiment"])


def _huge_gpu_model(c):
    c["models"]["image-classifier"]["compute"]["memory"] = "120Gi"


@pytest.fixture(scope="module")
def record() -> rec_mod.Recorded:
    _, fresh = plan_platform("prod", _values(), today=TODAY)
    return rec_mod.parse(rec_mod.render("prod", fresh.record, TODAY, "test"), "prod", "stacks/capacity/prod.yaml")


def test_the_record_round_trips_and_holds_every_chosen_group(record):
    _, fresh = plan_platform("prod", _values(), today=TODAY)
    assert record.groups == fresh.record and record.recorded_on == TODAY.isoformat()
    assert {"cpu", "cpu-on-demand", "gpu", "gpu-on-demand"} <= set(record.groups)
    # The system group's types are pinned in the config: the config is its record.
    assert "system" not in record.groups


@pytest.mark.parametrize("change", [_more_replicas, _one_more_model])
def test_routine_changes_keep_every_recorded_choice(change, record):
    _, unrecorded = plan_platform("prod", _values(change), today=TODAY)
    _, kept = plan_platform("prod", _values(change), today=TODAY, recorded=record)
    # Without the record the optimizer re-chooses a live group's types; with it, none moves.
    assert any(unrecorded.record[n] != g for n, g in record.groups.items())
    assert {n: kept.record[n] for n in record.groups} == record.groups
    assert set(kept.followed) >= {"cpu", "gpu", "gpu-large"} and not kept.rechosen
    # Where a fresh choice of a kept group would be cheaper, the plan says by how much, with the command.
    if change is _more_replicas:
        assert any("re-choosing cpu" in n and "modelstack capacity rechoose prod --group cpu" in n for n in kept.notes)


def test_a_choice_that_no_longer_serves_is_made_again_and_says_which_model_and_why(record):
    _, p = plan_platform("prod", _values(_huge_gpu_model), today=TODAY, recorded=record)
    assert "gpu" in p.rechosen and "image-classifier" in p.rechosen["gpu"]
    assert p.record["gpu"] != record.groups["gpu"] and p.record["cpu"] == record.groups["cpu"]
    assert any(n.startswith("recorded choice of gpu (") and "(the node group is replaced)" in n for n in p.notes)


def test_a_selection_that_bars_a_recorded_type_re_chooses(record):
    def narrow(c):
        c["node_groups"]["cpu"]["selection"]["families"] = ["m7i"]
    _, p = plan_platform("prod", _values(narrow), today=TODAY, recorded=record)
    assert "selection no longer allows" in p.rechosen["cpu"]
    assert all(t.startswith("m7i") for t in p.record["cpu"].instance_types)


def test_rechoose_names_groups_and_leaves_the_others(record):
    _, p = plan_platform("prod", _values(_one_more_model), today=TODAY, recorded=record, rechoose=frozenset({"cpu"}))
    assert p.record["gpu"] == record.groups["gpu"] and "cpu" not in p.followed


def test_the_committed_records_keep_prod_and_dev_free_of_replacements(tmp_path):
    """The issue's bar: two more min_replicas on a CPU model, and one more model, replace nothing."""
    for env in ("prod", "dev"):
        recorded = cli.read_recorded(ROOT / "stacks" / f"Pulumi.{env}.yaml", env, ROOT)
        assert recorded is not None, f"stacks/capacity/{env}.yaml is missing"

        def planned(mutate=None):
            v = copy.deepcopy(stack_values(env))
            if mutate:
                mutate(v[CONFIG_KEY])
            doc = cli.plan(env, v, f"stacks/Pulumi.{env}.yaml", ROOT, today=TODAY, recorded=recorded)
            doc.pop("_run"), doc.pop("_summary")
            return json.loads(json.dumps(doc, default=str))

        base = planned()
        for change in (_more_replicas, _one_more_model):
            d = plan_diff.diff(base, planned(change))
            assert not [(c.action, c.name) for c in d.changes if c.action in ("replace", "delete", "unknown")], env


def _project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()
    shutil.copy(ROOT / "stacks" / "Pulumi.prod.yaml", tmp_path / "stacks" / "Pulumi.prod.yaml")
    return tmp_path


def test_the_capacity_commands_write_check_and_rechoose(tmp_path, capsys):
    project = _project(tmp_path)
    run = lambda *a: cli.main(["capacity", *a, "prod", "--project-dir", str(project)])  # noqa: E731
    assert run("check") == 1 and "modelstack capacity record prod" in capsys.readouterr().err
    assert run("record") == 0
    out = capsys.readouterr().out
    written = project / "stacks" / "capacity" / "prod.yaml"
    assert "wrote stacks/capacity/prod.yaml" in out and written.is_file()
    assert yaml.safe_load(written.read_text())["node_groups"]["cpu"]["capacity_type"] == "SPOT"
    assert run("check") == 0
    capsys.readouterr()
    # A config that the record cannot serve makes the record stale until it is recorded again.
    stack = project / "stacks" / "Pulumi.prod.yaml"
    doc = yaml.safe_load(stack.read_text())
    _huge_gpu_model(doc["config"][CONFIG_KEY])
    stack.write_text(yaml.safe_dump(doc))
    assert run("check") == 1 and "is stale" in capsys.readouterr().err
    assert run("record") == 0 and "gpu: g6.xlarge, g5.xlarge ->" in capsys.readouterr().out
    assert run("check") == 0
    capsys.readouterr()
    assert cli.main(["capacity", "rechoose", "prod", "--group", "nope", "--project-dir", str(project)]) == 2
    assert "no node group nope" in capsys.readouterr().err
    assert cli.main(["capacity", "rechoose", "prod", "--project-dir", str(project)]) == 0
    assert "re-choosing:" in capsys.readouterr().out


def test_an_unreadable_record_is_exit_2_naming_the_file(tmp_path, capsys):
    project = _project(tmp_path)
    (project / "stacks" / "capacity").mkdir()
    (project / "stacks" / "capacity" / "prod.yaml").write_text("node_groups: {cpu: {instance_types: m5.large}}\n")
    assert cli.main(["plan", "prod", "--project-dir", str(project)]) == 2
    err = capsys.readouterr().err
    assert "stacks/capacity/prod.yaml: node_groups.cpu" in err and "Traceback" not in err
