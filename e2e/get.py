"""`modelstack get` against the run's API server: the stack (JSON) and one model (text), through the real CLI.

The stack's outputs come from `pulumi stack output` (run by modelstack itself, with the run's backend), the cluster's
state from the API server. No Prometheus runs here, so every metric must be reported unavailable with a reason, never
a number. Writes out/e2e/get-<stack>.json, get-<stack>.txt (the table) and get-<model>.txt (the README's samples).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

MODEL = "sentiment"


def _modelstack(pl, venv_bin: Path, stack_dir: Path, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(venv_bin / "modelstack"), "get", *args, "--project-dir", str(stack_dir), "--kubeconfig", str(kubeconfig)]
    return subprocess.run(cmd, env=pl.env, capture_output=True, text=True, timeout=300)


def check(doc: dict, text: str, platform, desired: dict[str, int]) -> list[str]:
    """What must hold for `get` (each problem one line)."""
    f = []
    models = {m["model"]: m for m in doc.get("models", [])}
    if set(models) != set(platform.config.models):
        f.append(f"get: models {sorted(models)} != the stack's {sorted(platform.config.models)}")
    if doc.get("prometheus", {}).get("available") is not False or not doc["prometheus"].get("reason"):
        f.append("get: no Prometheus runs here, yet get did not say it is unavailable (with a reason)")
    for name, m in models.items():
        r = m["replicas"]
        if r["ready"] < desired.get(name, 1) or r["desired"] < desired.get(name, 1) or r["up_to_date"] != r["desired"]:
            f.append(f"get: {name} replicas {r} (want at least {desired.get(name)} ready, all up to date)")
        if m["rollout"]["state"] != "complete":
            f.append(f"get: {name} rollout {m['rollout']['state']}")
        if not m["image"] or m["image"] != platform.config.models[name].image and name != MODEL:
            f.append(f"get: {name} image {m['image']!r}")
        s = m["scaling"]
        if s["min"] != platform.config.models[name].autoscaling.min_replicas or \
                s["max"] != platform.config.models[name].autoscaling.max_replicas:
            f.append(f"get: {name} scaling min/max {s['min']}/{s['max']} != config")
        if any(isinstance(v, (int, float)) for k, v in m["metrics"].items() if k not in ("available",)):
            f.append(f"get: {name} printed metric numbers without Prometheus")
        lat = m.get("latency") or {}
        if lat.get("available") is not False or not lat.get("reason"):
            f.append(f"get: {name} latency percentiles {lat} without a load balancer (want unavailable, with a reason)")
        if not m["cost"]["usd_per_hour"] > 0:
            f.append(f"get: {name} cost {m['cost']}")
        if not m["endpoint"] and not m.get("endpoint_note"):
            f.append(f"get: {name} has no endpoint and no note why")
    if f"{MODEL}-canary" in text:
        f.append(f"get {MODEL}: shows another model's objects ({MODEL}-canary)")
    for needle in ("pods:", "nodes:", "events:", "not available", "rollout", MODEL):
        if needle not in text:
            f.append(f"get {MODEL}: output lacks {needle!r}")
    return f


def run(pl, venv_bin: Path, stack_dir: Path, stack: str, kubeconfig: Path, out: Path, platform) -> dict:
    t0 = time.time()
    js = _modelstack(pl, venv_bin, stack_dir, kubeconfig, stack, "--json")
    table = _modelstack(pl, venv_bin, stack_dir, kubeconfig, stack)
    txt = _modelstack(pl, venv_bin, stack_dir, kubeconfig, MODEL, "--stack", stack)
    seconds = round(time.time() - t0, 1)
    res: dict = {"seconds": seconds, "failures": []}
    for name, p in (("stack --json", js), ("stack", table), (MODEL, txt)):
        if p.returncode != 0:
            res["failures"].append(f"modelstack get {name} exited {p.returncode}: {p.stderr.strip()[-500:]}")
    if res["failures"]:
        return res
    doc = json.loads(js.stdout)
    (out / f"get-{stack}.json").write_text(js.stdout)
    (out / f"get-{stack}.txt").write_text(table.stdout)
    (out / f"get-{MODEL}.txt").write_text(txt.stdout)
    desired = {n: m.autoscaling.min_replicas for n, m in platform.config.models.items()}
    res["failures"] = check(doc, txt.stdout, platform, desired)
    res["failures"] += [f"get {stack}: the table lacks {n}" for n in platform.config.models if n not in table.stdout]
    res["models"] = len(doc["models"])
    res["prometheus"] = doc["prometheus"]
    return res
