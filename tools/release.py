"""Release tags: `vX.Y.Z`, made only when pyproject.toml's version and the policy pack's version both say X.Y.Z.

    python tools/release.py check TAG       exit 1 unless TAG is v<version> of both (the release workflow, on tag push)
    python tools/release.py tag VERSION     check, then `git tag -a vVERSION` on a clean HEAD (`make release`);
                                            pushing it (`git push origin vVERSION`) is left to you

Installs then pin to the tag: `pip install "modelstack @ git+<repo URL>@vX.Y.Z"`.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


class ReleaseError(Exception):
    pass


def versions(root: Path) -> dict[str, str]:
    """Where a version is written -> the version it says."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    pack = yaml.safe_load((root / "policies" / "PulumiPolicy.yaml").read_text(encoding="utf-8")).get("version")
    return {"pyproject.toml [project] version": str(project), "policies/PulumiPolicy.yaml version": str(pack)}


def check(tag: str, root: Path = ROOT) -> str:
    """The version of `tag` (vX.Y.Z) when every versioned file says it; ReleaseError naming each that does not."""
    if not tag.startswith("v") or not SEMVER.match(tag[1:]):
        raise ReleaseError(f"tag {tag!r}: a release tag is v<major>.<minor>.<patch>, e.g. v0.2.0")
    version = tag[1:]
    wrong = [f"{where} is {found!r}" for where, found in versions(root).items() if found != version]
    if wrong:
        raise ReleaseError(f"tag {tag}: " + "; ".join(wrong) + f". Set both to {version!r} and commit first.")
    return version


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def tag(version: str, root: Path = ROOT) -> str:
    """Create the annotated tag v`version` on HEAD; ReleaseError when the files disagree, the tree is not clean
    or the tag exists."""
    name = f"v{version}"
    check(name, root)
    if _git(root, "status", "--porcelain", "--untracked-files=no").strip():
        raise ReleaseError("the work tree has uncommitted changes: a tag names a commit, commit them first")
    if _git(root, "tag", "--list", name).strip():
        raise ReleaseError(f"tag {name} exists already")
    _git(root, "tag", "-a", name, "-m", f"modelstack {version}")
    return name


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tools/release.py", description=__doc__.split("\n", 1)[0])
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("check").add_argument("tag")
    sub.add_parser("tag").add_argument("version")
    args = ap.parse_args(argv)
    try:
        if args.command == "check":
            print(f"{args.tag}: pyproject.toml and the policy pack both say {check(args.tag)}")
        else:
            name = tag(args.version)
            print(f"tagged {name}; publish it with: git push origin {name}")
    except ReleaseError as e:
        print(f"release: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
