"""`modelstack plan` of a stack whose environment is not dev/staging/prod, and of a bad policy config: the nearest
tier is said (and used by the planner and the policies alike); a policy config error is exit 2 naming file, key,
value and what is allowed, with no traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from modelstack import cli
from modelstack.config.schema import CONFIG_KEY

ROOT = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, env: str) -> Path:
    """A project folder with a models-only stack of `env` (dev's models, a GPU one among them)."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    p = doc["config"][CONFIG_KEY]
    p["environment"] = env
    p.pop("node_groups", None)
    for m in p["models"].values():
        m.pop("node_group", None)
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / f"Pulumi.{env}.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def test_a_models_only_sandbox_stack_with_a_gpu_model_plans_as_dev_and_says_so(tmp_path, capsys):
    project = _project(tmp_path, "sandbox")
    out_json = tmp_path / "plan.json"
    code = cli.main(["plan", "sandbox", "--project-dir", str(project), "--json", str(out_json), "--as-of", "2026-11-22"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "note on environment: environment 'sandbox' is not a documented tier (dev, staging, prod): it takes dev's" \
        in out
    doc = json.loads(out_json.read_text())
    assert doc["policy"]["mandatory"] == 0
    assert doc["notes"][0].startswith("environment 'sandbox' is not a documented tier")
    gpu_types = [t for g in doc["node_groups"] for t in g["instance_types"] if t.startswith(("g", "p", "inf"))]
    assert gpu_types and all(t.split(".")[0] in ("g4dn", "g5", "g6", "g6e", "inf2") for t in gpu_types), gpu_types


def test_a_bad_policy_config_is_exit_2_naming_file_key_value_and_allowed(tmp_path, capsys):
    project = _project(tmp_path, "sandbox")
    (project / "policies").mkdir()
    (project / "policies" / "config.sandbox.json").write_text(json.dumps({
        "gpu-instance-families": {"allowed_families": {"sandbox": "g5"}},
        "max-nodes-per-grup": {"max_nodes": {"sandbox": 4}}}))
    code = cli.main(["plan", "sandbox", "--project-dir", str(project)])
    captured = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in captured.err and "stack sandbox:" not in captured.out  # nothing planned
    assert "modelstack: policy config policies/config.sandbox.json: 2 problem(s)" in captured.err
    assert 'gpu-instance-families.allowed_families.sandbox: "g5": allowed: a list of strings' in captured.err
    assert "max-nodes-per-grup: not a policy of this pack; did you mean 'max-nodes-per-group'?" in captured.err


def test_a_policy_config_that_is_not_json_is_exit_2(tmp_path, capsys):
    project = _project(tmp_path, "qa")
    (project / "policies").mkdir()
    (project / "policies" / "config.qa.json").write_text('{"all": "advisory",}')
    assert cli.main(["plan", "qa", "--project-dir", str(project)]) == 2
    err = capsys.readouterr().err
    assert "policy config policies/config.qa.json: 1 problem(s)\n  not JSON: " in err and "Traceback" not in err


def test_a_bad_policy_config_of_a_program_is_exit_2_before_it_runs(tmp_path, capsys):
    bad = tmp_path / "policy.json"
    bad.write_text(json.dumps({"allowed-image-registries": {"allowed_registries": "ghcr.io"}}))
    code = cli.main(["plan", "--program", str(ROOT / "examples" / "team-model"), "--policy-config", str(bad)])
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err
    assert (f"policy config {bad}: 1 problem(s)\n  allowed-image-registries.allowed_registries: \"ghcr.io\": "
            "allowed: a list of strings") in captured.err
