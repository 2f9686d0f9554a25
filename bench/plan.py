"""How long the offline plan takes and how much memory it needs, as the number of models grows.

    python bench/plan.py [--models 10 100 300 1000]

Each run validates a platform (the dev stack's cluster and node groups, plus N CPU models spread over the
cpu pool), sizes it, runs the whole stack program under Pulumi's mocks and evaluates every policy: what
`modelstack plan` does. Prints a cold start, then seconds and peak Python memory (tracemalloc) per size; nothing is asserted.
"""

from __future__ import annotations

import argparse
import copy
import time
import tracemalloc
from datetime import date
from pathlib import Path

import yaml

from modelstack import cli
from modelstack.config.schema import CONFIG_KEY

ROOT = Path(__file__).resolve().parents[1]


def platform_with(models: int) -> dict:
    values = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    values = copy.deepcopy(values)
    p = values[CONFIG_KEY]
    template = p["models"]["sentiment"]
    p["models"] = {f"model-{i:04d}": {**copy.deepcopy(template), "image": template["image"].replace("sentiment", f"m{i}")}
                   for i in range(models)}
    for m in p["models"].values():
        m["autoscaling"] = {"min_replicas": 1, "max_replicas": 2, "target_in_flight": 4}
    p["node_groups"]["cpu"]["max_size"] = 1000
    return values


def run(values: dict) -> dict:
    return cli.plan("dev", values, "bench", ROOT, today=date(2026, 11, 22))


def measure(models: int) -> tuple[float, float, int]:
    """Seconds of a run without tracing, then peak traced memory of a second run (tracing slows it down)."""
    values = platform_with(models)
    start = time.perf_counter()
    doc = run(values)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    run(values)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**20, len(doc["resources"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, nargs="+", default=[10, 100, 300, 1000])
    args = ap.parse_args()
    start = time.perf_counter()
    run(platform_with(1))
    print(f"cold start (imports, price table, first plan of 1 model): {time.perf_counter() - start:.2f} s")
    print(f"{'models':>7} {'resources':>10} {'seconds':>9} {'peak MiB':>9} {'ms/model':>9} {'ms/resource':>12}")
    for n in args.models:
        seconds, peak, resources = measure(n)
        print(f"{n:>7} {resources:>10} {seconds:>9.2f} {peak:>9.1f} {1000 * seconds / n:>9.1f} "
              f"{1000 * seconds / resources:>12.2f}")


if __name__ == "__main__":
    main()
