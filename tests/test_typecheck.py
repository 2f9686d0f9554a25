"""mypy in `make test`: strict on components/, ignores only for third-party modules without types, and a baseline
that lets no new finding through."""

from __future__ import annotations

import tomllib
from pathlib import Path

import typecheck

ROOT = Path(__file__).resolve().parents[1]
LINE = 'components/plan/diff.py:31: error: Returning Any from function declared to return "int"  [no-any-return]'


def test_mypy_is_strict_and_ignores_only_third_party_modules():
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert mypy["strict"] is True
    for o in mypy["overrides"]:
        modules = o["module"] if isinstance(o["module"], list) else [o["module"]]
        if o.get("ignore_missing_imports") or o.get("follow_imports") == "skip" or o.get("ignore_errors"):
            assert not o.get("ignore_errors"), o  # no module of ours is exempt
            assert all(not m.startswith("modelstack") for m in modules), o


def test_a_finding_is_keyed_by_file_code_and_message_not_line():
    assert typecheck.finding_key(LINE) == ('components/plan/diff.py: [no-any-return] Returning Any from function '
                                           'declared to return "int"')
    assert typecheck.finding_key(LINE.replace(":31:", ":99:")) == typecheck.finding_key(LINE)
    assert typecheck.finding_key("Found 1 error in 1 file (checked 79 source files)") is None
    assert typecheck.finding_key('components/x.py:3: note: "print" defined here') is None


def test_only_findings_beyond_the_baseline_are_new_and_fixed_ones_are_stale():
    key = typecheck.finding_key(LINE)
    other = LINE.replace("diff.py", "report.py")
    assert typecheck.compare([LINE], [key]) == ([], [])
    assert typecheck.compare([LINE, LINE], [key]) == ([LINE], [])  # counted: a second one is new
    assert typecheck.compare([other], [key]) == ([other], [key])
    assert typecheck.compare([], [key]) == ([], [key])


def test_the_baseline_is_empty():
    # Issue 21: components/ is mypy clean; a finding is fixed, not added to the baseline.
    assert typecheck.read_baseline() == []


def test_the_link_tree_has_the_installed_layout():
    typecheck.link_tree()
    pkg = ROOT / ".tools" / "typecheck" / "modelstack"
    assert (pkg / "cli.py").resolve() == ROOT / "components" / "cli.py"
    assert (pkg / "policies" / "engine.py").resolve() == ROOT / "policies" / "engine.py"
    assert not (pkg / "policies" / "venv").exists()
