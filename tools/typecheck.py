"""mypy over the package as it is imported: `modelstack` (components/) with `modelstack.policies` (policies/).

The editable install maps those folders to the import names with an import hook, which mypy does not follow. So
this builds a tree of symbolic links with the installed layout (`.tools/typecheck/modelstack/...`, rebuilt on each
run), runs mypy on it with the settings of `[tool.mypy]` in pyproject.toml, and names the findings by their
source paths (components/..., policies/...).

    python tools/typecheck.py [MYPY ARGS...]      exit 1 on a finding not in the baseline
    python tools/typecheck.py --update-baseline   write the findings there are now as the baseline

The baseline (tools/mypy_baseline.txt) lists findings left to fix, by file, code and message (not line, so edits
elsewhere in a file do not move them): only a finding that is not there fails. A fixed finding is reported as
stale, to be removed with --update-baseline; the file shrinks to empty as the last ones are fixed.
"""

from __future__ import annotations

import os
import re
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
BASELINE = ROOT / "tools" / "mypy_baseline.txt"
FINDING = re.compile(r"^(?P<path>[^:\s]+\.py):\d+: error: (?P<message>.*?)\s+\[(?P<code>[a-z-]+)\]$")


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


def finding_key(line: str) -> str | None:
    """`path: [code] message` of a mypy error line (None for other lines): what the baseline holds."""
    m = FINDING.match(line)
    return f"{m['path']}: [{m['code']}] {m['message']}" if m else None


def read_baseline(path: Path = BASELINE) -> list[str]:
    if not path.is_file():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]


def compare(lines: list[str], baseline: list[str]) -> tuple[list[str], list[str]]:
    """(new findings, stale baseline entries), each finding counted as often as it occurs."""
    left = list(baseline)
    new = []
    for line in lines:
        key = finding_key(line)
        if key is None:
            continue
        if key in left:
            left.remove(key)
        else:
            new.append(line)
    return new, left


def main(argv: list[str]) -> int:
    update = "--update-baseline" in argv
    argv = [a for a in argv if a != "--update-baseline"]
    link_tree()
    env = {**os.environ, "MYPYPATH": str(TREE)}
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                           "-p", "modelstack", *argv], cwd=ROOT, env=env, capture_output=True, text=True)
    sys.stderr.write(proc.stderr)
    if proc.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash)
        print(proc.stdout)
        return proc.returncode
    lines = [source_path(line) for line in proc.stdout.splitlines()]
    if update:
        keys = sorted(k for k in map(finding_key, lines) if k)
        BASELINE.write_text("# mypy findings left to fix (tools/typecheck.py --update-baseline); only others fail.\n"
                            + "".join(k + "\n" for k in keys), encoding="utf-8")
        print(f"wrote {len(keys)} finding(s) to {BASELINE.relative_to(ROOT)}")
        return 0
    new, stale = compare(lines, read_baseline())
    for line in new:
        print(line)
    for key in stale:
        print(f"fixed (remove it from the baseline: --update-baseline): {key}")
    known = sum(1 for k in map(finding_key, lines) if k) - len(new)
    print(f"mypy: {len(new)} new finding(s), {known} known in {BASELINE.relative_to(ROOT)}"
          + (f", {len(stale)} fixed" if stale else ""))
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
