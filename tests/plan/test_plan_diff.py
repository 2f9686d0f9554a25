"""`modelstack diff`: what a change does, read from two offline plans."""

from __future__ import annotations

import copy
import json

import pytest

from modelstack import cli
from modelstack.config.schema import CONFIG_KEY
from modelstack.plan import diff as plan_diff
from test_plan import ROOT, TODAY, values


def _plan(env: str, mutate=None) -> dict:
    vals = copy.deepcopy(values(env))
    if mutate:
        mutate(vals[CONFIG_KEY])
    doc = cli.plan(env, vals, f"stacks/Pulumi.{env}.yaml", ROOT, today=TODAY)
    doc.pop("_summary"), doc.pop("_run")
    return json.loads(json.dumps(doc, default=str))


@pytest.fixture(scope="module")
def prod() -> dict:
    return _plan("prod")


def _image(model: str, tag: str):
    def mutate(c):
        c["models"][model]["image"] = c["models"][model]["image"].rsplit(":", 1)[0] + ":" + tag
    return mutate


def test_a_new_image_is_an_in_place_rolling_update_that_drops_no_request(prod):
    d = plan_diff.diff(prod, _plan("prod", _image("sentiment", "1.5.0")))
    assert [(c.action, c.name) for c in d.changes] == [("update", "sentiment-deployment"), ("update", "sentiment-on-demand")]
    for c in d.changes:
        assert [p for p, _, _ in c.fields] == ["spec.template.spec.containers[0].image"]
        assert c.rollout == ("rolling update, maxSurge 25%, maxUnavailable 0, readiness-gated, old pods drain on a "
                             "preStop hook; capacity never drops below the ready count")
    assert d.cost["usd_per_hour"]["old"] == d.cost["usd_per_hour"]["new"]
    assert "0 to create, 2 to update, 0 to replace, 0 to delete" in plan_diff.render(d)


def test_dev_rollouts_say_how_much_capacity_they_may_take_down():
    d = plan_diff.diff(_plan("dev"), _plan("dev", _image("llm-chat", "1.0.0")))
    (c,) = d.changes
    assert c.rollout.endswith("up to 25% of replicas may be unavailable during the rollout")


def test_new_instance_types_replace_the_node_group_and_change_the_cost(prod, tmp_path, capsys):
    new = _plan("prod", lambda c: c["node_groups"]["system"].update(instance_types=["m7i.xlarge"]))
    d = plan_diff.diff(prod, new)
    replaced = [c for c in d.changes if c.action == "replace" and c.type == "aws:eks/nodeGroup:NodeGroup"]
    assert [(c.type, c.name) for c in replaced] == [("aws:eks/nodeGroup:NodeGroup", "system-ng")]
    # The new group's Auto Scaling group is a new one, so the tags on it are new resources too; nothing else goes.
    assert {c.type for c in d.changes if c.action == "replace"} == {"aws:eks/nodeGroup:NodeGroup", "aws:autoscaling/tag:Tag"}
    assert replaced[0].why.startswith("changes instanceTypes[0], nodeGroupName, which cannot be updated in place; ")
    # How the replacement happens is said: under a new name (its digest of the replacing inputs), created first.
    assert "created under a new name" in replaced[0].why
    assert [p for p, _, _ in replaced[0].fields if p == "nodeGroupName"] == ["nodeGroupName"]
    assert d.cost["usd_per_hour"]["new"]["min"] > d.cost["usd_per_hour"]["old"]["min"]
    old_path, new_path = tmp_path / "old.json", tmp_path / "new.json"
    old_path.write_text(json.dumps(prod))
    new_path.write_text(json.dumps(new))
    assert cli.main(["diff", str(old_path), str(new_path)]) == 0
    assert cli.main(["diff", str(old_path), str(new_path), "--fail-on-replace", "--json", str(tmp_path / "d.json")]) == 1
    assert f"{d.count('replace')} replacement(s), 0 deletion(s) and 0 change(s) that may replace" in capsys.readouterr().err
    assert json.loads((tmp_path / "d.json").read_text())["changes"][-1]["action"] in ("replace", "update")


def test_a_renamed_model_is_deleted_and_created_unless_aliased(prod):
    def rename(c):
        c["models"]["fraud"] = c["models"].pop("llm-chat")
    new = _plan("prod", rename)
    d = plan_diff.diff(prod, new)
    assert d.count("delete") > 0 and d.count("create") == d.count("delete")
    assert all(c.why == "URN gone without an alias" for c in d.changes if c.action == "delete")
    # the same rename with an alias on the new component claims the old URN
    old_api = next(r["urn"] for r in prod["resources"] if r["type"] == "modelstack:index:ModelAPI" and r["name"] == "llm-chat")
    for r in new["resources"]:
        if r["type"] == "modelstack:index:ModelAPI" and r["name"] == "fraud":
            r["aliases"] = [old_api]
    renamed = [c for c in plan_diff.diff(prod, new).changes if c.action == "rename"]
    assert [c.urn for c in renamed] == [old_api]


def test_rollout_without_readiness_probe_or_with_recreate_drops_requests():
    old = {"spec": {"template": {"spec": {"containers": [{"image": "a"}]}}}}
    new = {"spec": {"template": {"spec": {"containers": [{"image": "b"}]}}}}
    assert plan_diff.rollout(old, new).endswith("no readiness probe: new pods get traffic before they are ready, requests can fail")
    new["spec"]["strategy"] = {"type": "Recreate"}
    assert plan_diff.rollout(old, new) == "Recreate: every pod stops before new ones start; requests are dropped"
    assert plan_diff.rollout(new, new) == "no pod change: nothing restarts"


def test_new_and_resolved_policy_violations_are_listed(prod):
    v = {"policy": "min-replicas", "resource": "urn:x", "message": "one replica", "level": "mandatory"}
    broken = dict(prod, policy={"violations": [v]})
    assert plan_diff.diff(prod, broken).new_violations == [v]
    assert plan_diff.diff(broken, prod).resolved_violations == [v]
    assert "new policy violation [mandatory] min-replicas: one replica" in plan_diff.render(plan_diff.diff(prod, broken))


UNREADABLE = [
    ("not json", "{", "is not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
    ("a list", "[]", "is not a plan.json: a JSON list instead of an object"),
    ("no resources", '{"stack": "dev"}', "is not a plan.json of `modelstack plan`: no 'resources'"),
    ("nothing we need", '{"kind": "x"}', "is not a plan.json of `modelstack plan`: no 'stack' and no 'resources'"),
    ("resources not a list", '{"stack": "dev", "resources": {}}', "'resources' is not a list"),
    ("resource without type and name", '{"stack": "dev", "resources": [{"urn": "u"}]}', "resources[0] has no 'type', 'name'"),
]


@pytest.mark.parametrize("name,text,problem", UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_unreadable_plans_exit_2_with_the_path_and_what_is_missing(tmp_path, capsys, prod, name, text, problem):
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    bad.write_text(text)
    good.write_text(json.dumps(prod))
    assert cli.main(["diff", str(good), str(bad)]) == 2
    assert capsys.readouterr().err == f"modelstack diff: cannot read the plans: {bad}: {problem}\n"


def test_a_missing_plan_file_is_named(tmp_path, capsys):
    missing = tmp_path / "missing.json"
    assert cli.main(["diff", str(missing), str(missing)]) == 2
    assert capsys.readouterr().err == f"modelstack diff: cannot read the plans: {missing}: cannot be read (No such file or directory)\n"


def test_plans_of_two_stacks_are_said_to_be_different(prod, tmp_path, capsys):
    staging = _plan("staging")
    d = plan_diff.diff(staging, prod)
    assert (d.same_stack, d.old_stack, d.stack) == (False, "staging", "prod")
    assert d.to_json()["same_stack"] is False
    assert plan_diff.render(d).splitlines()[0] == (
        "DIFFERENT STACKS: the old plan is of stack staging, the new one of stack prod; their resources have different "
        "URNs, so every resource shows as deleted and created. Compare two plans of one stack to see what a change does.")
    assert plan_diff.diff(prod, prod).same_stack and not plan_diff.render(plan_diff.diff(prod, prod)).startswith("DIFFERENT")


def test_cost_deltas_are_in_dollars(prod):
    new = _plan("prod", lambda c: c["node_groups"]["system"].update(instance_types=["m7i.xlarge"]))
    d = plan_diff.diff(prod, new)
    o, n = prod["cost"]["usd_per_hour"], new["cost"]["usd_per_hour"]
    want = {b: round(n[b] - o[b], 6) for b in ("min", "max")}
    assert d.cost["usd_per_hour"]["delta_usd"] == want and want["min"] > 0
    lines = plan_diff.render(d).splitlines()
    line = next(line for line in lines if line.startswith("cost per hour: "))
    assert line == (f"cost per hour: min ${o['min']:,.4f} -> ${n['min']:,.4f} (+${want['min']:,.4f}/h), "
                    f"max ${o['max']:,.4f} -> ${n['max']:,.4f} (+${want['max']:,.4f}/h)")
    om, nm = prod["cost"]["usd_per_month"], new["cost"]["usd_per_month"]
    month = next(line for line in lines if line.startswith("cost per month: "))
    assert f"(+${nm['min'] - om['min']:,.2f}/month)" in month and "cents" not in month
    back = next(line for line in plan_diff.render(plan_diff.diff(new, prod)).splitlines()
                if line.startswith("cost per month: "))
    assert f"(-${nm['max'] - om['max']:,.2f}/month)" in back


def test_version_is_the_installed_distribution(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out == f"modelstack {version('modelstack')}\n"


# ------------------------------------------------------------------ migrating to Karpenter


def _provisioner(name: str, keep: bool | None = None):
    def mutate(c):
        c["cluster"]["provisioner"] = name
        if keep is None:
            c["cluster"].pop("karpenter", None)
        else:
            c["cluster"]["karpenter"] = {"keep_node_groups": keep}
    return mutate


def test_migrating_to_karpenter_adds_beside_the_node_groups_then_removes_only_them():
    # Upstream's order (migrating-from-cas): Karpenter comes up and cluster-autoscaler goes in step 1; the old
    # groups keep their nodes until step 2 deletes them.
    before = _plan("dev", _provisioner("cluster-autoscaler"))
    during = _plan("dev", _provisioner("karpenter", keep=True))
    after = _plan("dev", _provisioner("karpenter", keep=False))
    assert during["cost"] == after["cost"]  # the estimate prices the target: what Karpenter buys

    step1 = plan_diff.diff(before, during)
    assert not [c for c in step1.changes if c.action == "replace"]
    assert {c.urn.split("::")[2].split("$")[0] for c in step1.changes if c.action == "delete"} == {
        "modelstack:index:ClusterAutoscaler"}
    created = {c.type for c in step1.changes if c.action == "create"}
    assert {"kubernetes:karpenter.sh/v1:NodePool", "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
            "aws:sqs/queue:Queue", "kubernetes:helm.sh/v3:Release"} <= created
    # at most the old groups lose their floor (dev's are 0 already) and the system group is held at its max_size
    # (nothing scales it any more); models unchanged
    # (plus, in place, what observability reads off the provisioner: the cluster dashboard's spot panel and the
    # price rules of the types Karpenter may buy)
    for c in step1.changes:
        if c.action == "update" and c.type == "kubernetes:core/v1:ConfigMap":
            assert c.name.endswith("-observability-dashboards") and {p for p, _, _ in c.fields} == {"data.cluster.json"}, c
        elif c.action == "update" and c.type == "kubernetes:helm.sh/v3:Release":
            assert c.name.endswith("-addons-prometheus") and {p.split(".")[0] + "." + p.split(".")[1] for p, _, _ in c.fields} == {
                "values.serverFiles"}, c
        elif c.action == "update":
            assert c.type == "aws:eks/nodeGroup:NodeGroup" and {p for p, _, _ in c.fields} <= {
                "scalingConfig.minSize", "scalingConfig.desiredSize"}, c
    assert not [c for c in step1.changes if "ModelAPI" in c.urn.split("::")[2]]

    step2 = plan_diff.diff(during, after)
    assert not [c for c in step2.changes if c.action in ("create", "replace", "update")]
    deleted = {(c.type, c.name) for c in step2.changes if c.action == "delete"}
    assert {n for t, n in deleted if t == "aws:eks/nodeGroup:NodeGroup"} == {"cpu-ng", "gpu-ng", "gpu-large-ng"}
    owners = {"modelstack:index:NodeGroup"}
    for c in step2.changes:
        assert c.urn.split("::")[2].split("$")[0] in owners, c.urn  # nothing outside the old groups and CAS goes


def test_json_dash_puts_the_json_alone_on_stdout(prod, tmp_path, capsys):
    old_path, new_path = tmp_path / "old.json", tmp_path / "new.json"
    old_path.write_text(json.dumps(prod))
    new_path.write_text(json.dumps(_plan("prod", _image("sentiment", "1.5.0"))))
    assert cli.main(["diff", str(old_path), str(new_path), "--json", "-"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert {c["name"] for c in doc["changes"]} == {"sentiment-deployment", "sentiment-on-demand"}
    assert err.startswith("OFFLINE PLAN DIFF of stack prod") and not (tmp_path / "-").exists()
    assert cli.main(["plan", "dev", "--project-dir", str(ROOT), "--json", "-"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["stack"] == "dev" and "OFFLINE PLAN" in err and "your cluster will cost" in err
    assert max(len(line) for line in err.splitlines()) <= 120
