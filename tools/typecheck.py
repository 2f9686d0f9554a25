"""mypy over the package as it is imported: `modelstack` (components/) with `modelstack.policies` (policies/).

The editable install maps those folders to the import names with an import hook, which mypy does not follow. So
this builds a tree of symbolic links with the installed layout (`.tools/typecheck/modelstack/...`, rebuilt on each
run), runs mypy on it with the settings of `[tool.mypy]` in pyproject.toml, and names the findings by their
source paths (components/..., policies/...).

    python tools/typecheck.py [MYPY ARGS...]      exit status: mypy's
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / ".tools" / "typecheck"
PACKAGE = TREE / "modelstack"
#: Import name -> source folder (pyproject's package-dir).
SOURCES = {PACKAGE: ROOT / "components", PACKAGE / "policies": ROOT / "policies"}
SKIP = {"__pycache__", "venv"}


def link_tree() -> None:
    """`.tools/typecheck/modelstack/` with one link per source file or folder, in the installed layout."""
    shutil.rmtree(TREE, ignore_errors=True)
    for target, source in SOURCES.items():
        target.mkdir(parents=True, exist_ok=True)
        for entry in sorted(source.iterdir()):
            if entry.name in SKIP or entry.name.startswith("."):
                continue
            if entry.is_file() and entry.suffix not in (".py", ".typed"):
                continue
            (target / entry.name).symlink_to(os.path.relpath(entry, target))


def source_path(line: str) -> str:
    """A mypy output line with the link tree's path replaced by the source path."""
    prefix = os.path.relpath(PACKAGE, ROOT) + os.sep
    if not line.startswith(prefix):
        return line
    rest = line[len(prefix):]
    folder = "policies" if rest.startswith("policies" + os.sep) else "components"
    return (rest if folder == "policies" else f"components{os.sep}{rest}")


def main(argv: list[str]) -> int:
    link_tree()
    env = {**os.environ, "MYPYPATH": str(TREE)}
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                           "-p", "modelstack", *argv], cwd=ROOT, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        print(source_path(line))
    sys.stderr.write(proc.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
