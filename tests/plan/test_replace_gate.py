"""`modelstack diff --fail-on-replace` tells the truth: which inputs replace comes from the providers' source
(components/data/replace_on.json), unknown types fail closed, and ignoreChanges are not shown as changes."""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

from modelstack import cli
from modelstack.plan import diff as plan_diff
from stacks import STACKS
from test_plan import ROOT
from test_plan_diff import _plan

FACTS = json.loads((ROOT / "components" / "data" / "replace_on.json").read_text())


@pytest.fixture(scope="module")
def plans() -> dict[str, dict]:
    return {env: _plan(env) for env in STACKS}


def _constructed_types() -> set[str]:
    """The type token of every pulumi_aws / pulumi_kubernetes / pulumi_eks / pulumiverse_grafana resource class the
    components construct."""
    modules = {"aws": "pulumi_aws", "k8s": "pulumi_kubernetes", "eks": "pulumi_eks", "grafana": "pulumiverse_grafana"}
    found: set[str] = set()
    for path in (ROOT / "components").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            parts, f = [], node.func
            while isinstance(f, ast.Attribute):
                parts.append(f.attr)
                f = f.value
            if not isinstance(f, ast.Name) or f.id not in modules or not parts[0][:1].isupper():
                continue
            obj = importlib.import_module(modules[f.id])
            for part in reversed(parts):
                obj = getattr(obj, part)
            if not (inspect.isclass(obj) and issubclass(obj, importlib.import_module("pulumi").Resource)):
                continue
            token = re.search(r"__init__\(\s*'([a-z0-9]+:[^']+)'", inspect.getsource(obj))
            if token and "apiextensions" not in token.group(1):
                found.add(token.group(1))
    return found


def test_every_type_the_project_registers_has_replace_facts_with_a_source(plans):
    registered = {r["type"] for doc in plans.values() for r in doc["resources"]} | _constructed_types()
    registered = {t for t in registered if not plan_diff.is_component(t)}
    assert "aws:eks/nodeGroup:NodeGroup" in registered and "kubernetes:storage.k8s.io/v1:StorageClass" in registered
    missing = sorted(t for t in registered if t not in FACTS["resources"])
    assert not missing, f"types with no entry in components/data/replace_on.json: {missing}"
    for typ in registered:
        entry = FACTS["resources"][typ]
        assert isinstance(entry["replace_on"], list) and re.match(r"^[\w.-]+/[\w.-]+@[0-9a-f.v]+:\S+$", entry["source"]), typ


def _gate(tmp_path: Path, old: dict, new: dict, capsys) -> tuple[int, str]:
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    code = cli.main(["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"), "--fail-on-replace"])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("change, replaced", [
    (lambda c: c["cluster"].setdefault("logging", {}).update(log_group="/teams/models/renamed"),
     {("aws:cloudwatch/logGroup:LogGroup", "name")}),
    (lambda c: c["cluster"].setdefault("vpc", {}).update(cidr="10.42.0.0/16"), {("aws:ec2/vpc:Vpc", "cidrBlock")}),
])
def test_real_replacements_fail_the_gate(env, change, replaced, plans, tmp_path, capsys):
    d = plan_diff.diff(plans[env], _plan(env, change))
    forced = {(c.type, p) for c in d.changes if c.action == "replace" for p, _, _ in c.fields}
    assert replaced <= forced
    assert _gate(tmp_path, plans[env], _plan(env, change), capsys)[0] == 1


def test_a_group_flipped_between_spot_and_on_demand_is_replaced(plans, tmp_path, capsys):
    def flip(c):
        c["node_groups"]["cpu"]["spot"] = False
    d = plan_diff.diff(plans["dev"], _plan("dev", flip))
    ng = next(c for c in d.changes if c.type == "aws:eks/nodeGroup:NodeGroup")
    assert ng.action == "replace" and "capacityType" in ng.why
    assert _gate(tmp_path, plans["dev"], _plan("dev", flip), capsys)[0] == 1


def test_ignored_inputs_are_not_shown_as_changes(plans):
    def more(c):
        a = c["models"]["sentiment"].setdefault("autoscaling", {})
        a["min_replicas"] = a.get("min_replicas", 1) + 2
        a["max_replicas"] = max(a.get("max_replicas", 1), a["min_replicas"])
    d = plan_diff.diff(plans["dev"], _plan("dev", more))
    assert not [c for c in d.changes if c.action in ("replace", "delete", "unknown")]
    dep = next((c for c in d.changes if c.name == "sentiment-deployment"), None)
    if dep is not None:
        assert "spec.replicas" not in [p for p, _, _ in dep.fields]
    assert ("sentiment-deployment", ["spec.replicas"]) in d.left_alone
    assert "sentiment-deployment: not changed by Pulumi (ignoreChanges): spec.replicas" in plan_diff.render(d)


def _one(doc: dict, typ: str) -> dict:
    return next(r for r in doc["resources"] if r["type"] == typ)


def test_a_type_with_no_facts_may_replace_and_fails_the_gate_closed(plans, tmp_path, capsys):
    old = copy.deepcopy(plans["dev"])
    for doc in (old,):
        r = _one(doc, "aws:kms/key:Key")
        r["type"] = "aws:brandnew/thing:Thing"
    new = copy.deepcopy(old)
    _one(new, "aws:brandnew/thing:Thing")["inputs"]["description"] = "changed"
    d = plan_diff.diff(old, new)
    assert [c.action for c in d.changes] == ["unknown"] and "may replace" in d.changes[0].why
    code, out = _gate(tmp_path, old, new, capsys)
    assert code == 1 and "1 that may replace (no facts)" in out.splitlines()[0]


def test_replace_on_changes_of_the_resource_is_honoured(plans):
    old = copy.deepcopy(plans["dev"])
    _one(old, "aws:kms/key:Key")["options"]["replace_on_changes"] = ["description"]
    new = copy.deepcopy(old)
    _one(new, "aws:kms/key:Key")["inputs"]["description"] = "another"
    assert [c.action for c in plan_diff.diff(old, new).changes] == ["replace"]


def test_config_map_data_updates_in_place_under_a_mutable_provider_and_replaces_otherwise(plans):
    dash = next(r for r in plans["dev"]["resources"] if r["type"] == "kubernetes:core/v1:ConfigMap")
    new = copy.deepcopy(plans["dev"])
    changed = next(r for r in new["resources"] if r["urn"] == dash["urn"])
    changed["inputs"]["data"] = {**(changed["inputs"].get("data") or {}), "extra": "1"}
    assert [c.action for c in plan_diff.diff(plans["dev"], new).changes] == ["update"]
    # Without enableConfigMapMutable on its provider (the Kubernetes provider's default), the same change replaces.
    old2, new2 = copy.deepcopy(plans["dev"]), copy.deepcopy(new)
    for doc in (old2, new2):
        for r in doc["resources"]:
            if r["type"] == "pulumi:providers:kubernetes":
                r["inputs"].pop("enableConfigMapMutable", None)
    assert [c.action for c in plan_diff.diff(old2, new2).changes if c.urn == dash["urn"]] == ["replace"]


def test_a_replaced_kubernetes_provider_replaces_what_it_manages(plans):
    new = copy.deepcopy(plans["dev"])
    provider = _one(new, "pulumi:providers:kubernetes")
    provider["inputs"]["renderYamlToDirectory"] = "rendered"
    d = plan_diff.diff(plans["dev"], new)
    managed = [r for r in new["resources"] if (r.get("provider") or "").startswith(provider["urn"] + "::")]
    assert managed and d.count("replace") == 1 + len(managed)
    assert all("its provider" in c.why for c in d.changes if c.urn != provider["urn"])


def test_a_grafana_dashboard_is_replaced_only_when_its_uid_changes():
    from modelstack.plan.diff import _replaced_by

    r = {"type": "grafana:oss/dashboard:Dashboard", "inputs": {}, "options": {}}
    old = json.dumps({"uid": "ms-prod-sentiment", "title": "a"})
    assert _replaced_by(r, [("configJson", old, json.dumps({"uid": "ms-prod-sentiment", "title": "b"}))], {}) == []
    assert _replaced_by(r, [("configJson", old, json.dumps({"uid": "ms-prod-other", "title": "a"}))], {}) == ["configJson"]
    # JSON without a uid: Grafana's own uid cannot be compared, so the gate stays closed.
    assert _replaced_by(r, [("configJson", "{}", "{}")], {}) == ["configJson"]
    assert _replaced_by(r, [("orgId", "1", "2")], {}) == ["orgId"]
