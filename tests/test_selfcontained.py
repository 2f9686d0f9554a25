"""A fresh clone anywhere must work: no tracked file points outside the clone (a folder beside it, a machine path)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: What a tracked file must not name: a folder beside the clone, or a path of one machine.
OUTSIDE = re.compile(
    r"\.\./shared\b"                        # a folder beside the clone
    r"|(?<![\w.-])shared/(?:upstream|OFFLINE|STYLE|CORTEX|REAL_NODE|pricing|hooks)\b"
    r"|(?<![\w.-])/(?:work|root|home|Users|opt/wheels)/"   # machine paths
)

#: Files that spell the patterns themselves.
ALLOWED = {"tests/test_selfcontained.py"}


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, timeout=60, check=True).stdout
    return [ROOT / p for p in out.decode().split("\0") if p]


def offending_lines(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        rel = path.relative_to(ROOT).as_posix()
        if rel in ALLOWED or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue  # binary
        for n, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{rel}:{n}: {line.strip()[:160]}")
    return found


def test_no_tracked_file_names_a_path_outside_the_clone():
    assert offending_lines(tracked_files()) == []


def test_the_check_finds_each_kind_of_outside_path(tmp_path, monkeypatch):
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    lines = ["see ../shared/upstream/crds/keda", "copies in shared/upstream/SOURCES.md", "/work/main/.venv/bin/pip",
             "HOME=/root/.cache", "cd /home/me/x", "ok: templates/shared/runtime/eni-max-pods.txt",
             "ok: the shared ALB", "ok: https://example.com/work/x", "ok: out/work/x"]
    f = tmp_path / "doc.md"
    f.write_text("\n".join(lines) + "\n")
    assert [x.split(":", 2)[1] for x in offending_lines([f])] == ["1", "2", "3", "4", "5"]
