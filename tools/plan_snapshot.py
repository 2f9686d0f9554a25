"""Everything an offline plan produces, written to a folder, so two versions of the code can be compared byte for byte.

    .venv/bin/python tools/plan_snapshot.py DIR          # write DIR/<case>/...
    .venv/bin/python tools/plan_snapshot.py DIR --check  # write to a temporary folder, compare with DIR, exit 1 on a difference

Cases: the shipped stacks (stacks/Pulumi.<env>.yaml), the bench portfolio (bench/plan.py's platform at 10 and 100
models), the models-only portfolio of tests/test_scale.py (the planner designs the groups), and the examples
planned with `--program`. For each: plan.json and the summary as `modelstack plan` prints them, every manifest
(sorted: as `--out` writes them but in a fixed order), every recorded resource with its outputs and dependencies (more than plan.json holds), and the diff of
each bench portfolio against the next size. Meant for changes that must not change the plan (speed work): run it
on the commit before, then with --check on the change.
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import importlib.util
import io
import json
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TODAY = "2026-11-22"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _recorded(run) -> list[dict]:
    """Every recorded resource, by URN, its dependencies sorted: the order of registration varies from run to run
    (the SDK registers resources as their inputs resolve) and the SDK collects dependencies in a set."""
    return sorted(({**r.to_json(), "outputs": r.outputs, "custom": r.custom, "remote": r.remote,
                    "dependencies": sorted(r.dependencies)} for r in run.resources), key=lambda r: r["urn"])


def _manifests(run, out: Path) -> None:
    """Each component's manifests as `--out` writes them, its documents sorted (their order follows registration)."""
    from modelstack.plan import report

    out.mkdir(parents=True, exist_ok=True)
    for comp, docs in sorted(report.manifests_by_component(run.resources).items()):
        texts = sorted(json.dumps(d, indent=1, default=str) for d in docs)
        (out / f"{comp}.json").write_text("\n".join(texts) + "\n")


def _write_doc(doc: dict, out: Path) -> None:
    from modelstack.plan import report

    run = doc.pop("_run")
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.txt").write_text(doc.pop("_summary") + "\n")
    report.dump_json(doc, out / "plan.json")
    (out / "recorded.json").write_text(json.dumps(_recorded(run), indent=1, default=str) + "\n")
    _manifests(run, out / "manifests")


def _cli(argv: list[str], out: Path, dest: Path) -> None:
    from modelstack import cli

    text = io.StringIO()
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
        code = cli.main(argv)
    (out / "cli.txt").write_text(f"exit {code}\n" + text.getvalue().replace(str(dest), "DEST"))


def snapshot(dest: Path) -> None:
    from modelstack import cli

    sys.path.insert(0, str(ROOT / "tests"))
    bench = _load(ROOT / "bench" / "plan.py", "bench_plan")
    scale = _load(ROOT / "tests" / "test_scale.py", "test_scale")
    for stack in ("dev", "staging", "prod"):
        out = dest / stack
        _cli(["plan", stack, "--project-dir", str(ROOT), "--as-of", TODAY, "--json", str(out / "cli-plan.json")], out, dest)
        path = cli.stack_file(ROOT, stack)
        doc = cli.plan(stack, cli.read_stack_values(path, stack), str(path.relative_to(ROOT)), ROOT,
                       today=date.fromisoformat(TODAY), recorded=cli.read_recorded(path, stack, ROOT))
        _write_doc(doc, out)
    for example in sorted(p.name for p in (ROOT / "examples").iterdir() if (p / "Pulumi.yaml").is_file()):
        out = dest / f"example-{example}"
        _cli(["plan", "--program", str(ROOT / "examples" / example), "--as-of", TODAY,
              "--json", str(out / "cli-plan.json")], out, dest)
    sizes = (10, 11, 100)
    for n in sizes:
        _write_doc(bench.run(bench.platform_with(n)), dest / f"bench-{n}")
    for n in (10, 100):
        doc = cli.plan("dev", scale.platform_with(n, False), "bench", ROOT, today=date.fromisoformat(TODAY))
        _write_doc(doc, dest / f"models-only-{n}")
    for a, b in zip(sizes, sizes[1:]):
        out = dest / f"diff-bench-{a}-{b}"
        _cli(["diff", str(dest / f"bench-{a}" / "plan.json"), str(dest / f"bench-{b}" / "plan.json"),
              "--json", str(out / "diff.json")], out, dest)
    _cli(["diff", str(dest / "staging" / "plan.json"), str(dest / "prod" / "plan.json")], dest / "diff-staging-prod", dest)


def _canonical(value: object) -> object:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def _how(a: Path, b: Path) -> str:
    """`in order only` when two JSON files hold the same values once every list is sorted, else `in content`."""
    if a.suffix != ".json":
        return "in content"
    try:
        same = _canonical(json.loads(a.read_text())) == _canonical(json.loads(b.read_text()))
    except ValueError:
        return "in content"
    return "in order only" if same else "in content"


def differences(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b)
    out = [f"only in {cmp.left}: {x}" for x in cmp.left_only] + [f"only in {cmp.right}: {x}" for x in cmp.right_only]
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    out += [f"differs {_how(a / x, b / x)}: {Path(a, x)}" for x in mismatch + errors]
    for sub in cmp.common_dirs:
        out += differences(a / sub, b / sub)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--check", action="store_true", help="compare a fresh snapshot with DIR instead of writing DIR")
    args = ap.parse_args()
    if not args.check:
        snapshot(Path(args.dir))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        snapshot(Path(tmp))
        diffs = differences(Path(args.dir), Path(tmp))
        filecmp.clear_cache()
    print("\n".join(diffs) if diffs else f"identical to {args.dir}")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
