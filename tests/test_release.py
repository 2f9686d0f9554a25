"""Release tags are made only for the version the package and the policy pack both carry, and the docs install
only from what exists (no tag is named that the repository does not have)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import release

ROOT = Path(__file__).resolve().parents[1]


def _repo(tmp_path: Path, project: str = "0.2.0", pack: str = "0.2.0") -> Path:
    (tmp_path / "policies").mkdir()
    text = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(re.sub(r'(?m)^version = ".*"$', f'version = "{project}"', text, count=1))
    pack_text = (ROOT / "policies" / "PulumiPolicy.yaml").read_text()
    (tmp_path / "policies" / "PulumiPolicy.yaml").write_text(re.sub(r"(?m)^version: .*$", f"version: {pack}", pack_text))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "add", "."], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-qm", "x"], check=True)
    return tmp_path


def test_the_shipped_versions_agree():
    assert len(set(release.versions(ROOT).values())) == 1


def test_check_accepts_the_tag_of_the_version_both_files_say(tmp_path):
    assert release.check("v0.2.0", _repo(tmp_path)) == "0.2.0"


@pytest.mark.parametrize("tag, project, pack, message", [
    ("v0.3.0", "0.2.0", "0.2.0", "tag v0.3.0: pyproject.toml [project] version is '0.2.0'; policies/PulumiPolicy.yaml "
                                 "version is '0.2.0'. Set both to '0.3.0'"),
    ("v0.3.0", "0.3.0", "0.2.0", "tag v0.3.0: policies/PulumiPolicy.yaml version is '0.2.0'. Set both"),
    ("0.2.0", "0.2.0", "0.2.0", "a release tag is v<major>.<minor>.<patch>"),
    ("v0.2", "0.2.0", "0.2.0", "a release tag is v<major>.<minor>.<patch>"),
])
def test_check_refuses_a_tag_a_file_disagrees_with(tmp_path, tag, project, pack, message):
    with pytest.raises(release.ReleaseError, match=re.escape(message)):
        release.check(tag, _repo(tmp_path, project, pack))


@pytest.mark.skipif(shutil.which("git") is None, reason="git is needed")
def test_tag_makes_an_annotated_tag_once_and_only_on_a_clean_tree(tmp_path):
    repo = _repo(tmp_path)
    assert release.tag("0.2.0", repo) == "v0.2.0"
    kind = subprocess.run(["git", "-C", str(repo), "cat-file", "-t", "v0.2.0"], capture_output=True, text=True)
    assert kind.stdout.strip() == "tag"  # annotated
    with pytest.raises(release.ReleaseError, match="exists already"):
        release.tag("0.2.0", repo)
    with pytest.raises(release.ReleaseError, match="Set both to '0.3.0'"):
        release.tag("0.3.0", repo)
    (repo / "pyproject.toml").write_text((repo / "pyproject.toml").read_text() + "\n")
    with pytest.raises(release.ReleaseError, match="uncommitted changes"):
        release.tag("0.2.0", repo)


def _tracked_docs() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "*.md", "*requirements.txt", "examples/*"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / p for p in out if (ROOT / p).is_file()]


def test_install_commands_name_only_tags_that_exist():
    tags = set(subprocess.run(["git", "tag", "--list"], cwd=ROOT, capture_output=True, text=True).stdout.split())
    named = {}
    for path in _tracked_docs():
        for m in re.finditer(r"(?:modelstack|components)@(v\d+\.\d+\.\d+)\b", path.read_text(encoding="utf-8")):
            named.setdefault(m.group(1), []).append(path.relative_to(ROOT).as_posix())
    assert {t: where for t, where in named.items() if t not in tags} == {}


def test_make_release_needs_a_version():
    p = subprocess.run(["make", "-s", "release"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "make release VERSION=x.y.z" in p.stderr


def test_the_release_workflow_checks_the_pushed_tag_before_testing_it():
    import yaml

    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    assert wf[True] == {"push": {"tags": ["v*"]}}  # PyYAML reads the key `on` as True
    runs = [s.get("run", "") for s in wf["jobs"]["release"]["steps"]]
    check = next(i for i, r in enumerate(runs) if 'tools/release.py check "$GITHUB_REF_NAME"' in r)
    assert check < runs.index("make test")
