"""A replace-forcing change of the Kubernetes layer, previewed by the real engine and planned offline: the two
must agree on what is replaced and what is created.

The change moves one model to another namespace (config `namespaces.<model>`): every namespaced object of it is
replaced (the Kubernetes provider replaces on metadata.namespace) and the new Namespace is created. The engine's
`pulumi preview --json` steps are compared with `modelstack diff` of two `modelstack plan --program` runs of the
same program and stack, before and after. Nothing is applied: the config is set back afterwards.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from modelstack.plan import diff as plan_diff

REPLACE_OPS = ("replace", "create-replacement", "delete-replaced")
TARGET_NAMESPACE = "models-moved"


def _offline(venv_bin: Path, stack_dir: Path, stack: str, config: dict[str, Any], out: Path, name: str) -> dict:
    cfg = out / f"offline-{name}.yaml"
    cfg.write_text(yaml.safe_dump({"config": config}))
    plan = out / f"offline-{name}.json"
    p = subprocess.run([str(venv_bin / "modelstack"), "plan", "--program", str(stack_dir), "--stack", stack,
                        "--config", str(cfg), "--json", str(plan)], capture_output=True, text=True, timeout=600)
    (out / f"offline-{name}.log").write_text(p.stdout + p.stderr)
    if p.returncode not in (0, 1) or not plan.is_file():
        raise RuntimeError(f"offline plan {name} failed (exit {p.returncode}): {(p.stdout + p.stderr)[-1500:]}")
    return json.loads(plan.read_text())


def run(pl: Any, venv_bin: Path, stack_dir: Path, stack: str, project: str, model: str, images: dict[str, str],
        out: Path) -> dict[str, Any]:
    """Preview the move for real, plan it offline twice, compare; the stack's config is restored."""
    out.mkdir(parents=True, exist_ok=True)
    base = {f"{project}:kubeconfig": "offline", f"{project}:images": dict(images)}
    moved = {**base, f"{project}:namespaces": {model: TARGET_NAMESPACE}}
    pl.run("config", "set", "--path", f"namespaces.{model}", TARGET_NAMESPACE)
    try:
        pl.run("preview", "--diff", log_name="preview-diff-namespace-move")
        steps = json.loads(pl.run("preview", "--json", log_name="preview-json-namespace-move").stdout).get("steps") or []
    finally:
        pl.run("config", "rm", "namespaces")
    engine_replaced = sorted({s["urn"] for s in steps if s.get("op") in REPLACE_OPS})
    engine_created = sorted({s["urn"] for s in steps if s.get("op") == "create"})
    d = plan_diff.diff(_offline(venv_bin, stack_dir, stack, base, out, "before"),
                       _offline(venv_bin, stack_dir, stack, moved, out, "after"))
    offline_replaced = sorted(c.urn for c in d.changes if c.action == "replace")
    offline_created = sorted(c.urn for c in d.changes if c.action == "create")
    unknown = sorted(c.urn for c in d.changes if c.action == "unknown")
    return {"model": model, "to_namespace": TARGET_NAMESPACE,
            "engine_replaced": len(engine_replaced), "offline_replaced": len(offline_replaced),
            "engine_created": len(engine_created), "offline_created": len(offline_created),
            "only_engine": sorted(set(engine_replaced) - set(offline_replaced)),
            "only_offline": sorted(set(offline_replaced) - set(engine_replaced)),
            "created_differ": sorted(set(engine_created) ^ set(offline_created)), "unknown": unknown,
            "agree": engine_replaced == offline_replaced and engine_created == offline_created and not unknown
            and bool(engine_replaced)}
