"""What Karpenter would cost against managed node groups, per shipped stack, from the same optimizer.

    python bench/karpenter.py

For each stack in stacks/: the cost estimate with one instance shape per node group (cluster-autoscaler, what
`modelstack plan` prints for `provisioner: cluster-autoscaler`) and with Karpenter's simulation (a type chosen for
min replicas and one for max replicas, no idle `min_size` nodes), in USD per hour at min and at max replicas, and
the per-pool picks. Figures only; nothing is asserted. Prices are the price table's (see components/data/).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml

from modelstack.capacity.cost import estimate
from modelstack.config.load import load_platform
from modelstack.planner.capacity import plan_capacity
from modelstack.planner.karpenter import plan_karpenter

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    print(f"{'stack':8} {'one shape $/h (min - max)':>28} {'karpenter $/h (min - max)':>28} {'change at min':>14} {'at max':>8}")
    picks = []
    for env in ("dev", "staging", "prod"):
        values = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{env}.yaml").read_text())["config"]
        platform = load_platform(env, values)
        capacity = plan_capacity(platform, date(2026, 11, 22))
        one, kp_plan = estimate(capacity.cost_inputs), plan_karpenter(platform, capacity)
        kp = estimate(kp_plan.cost_inputs)
        pct = lambda a, b: f"{100 * (b - a) / a:+.1f}%"  # noqa: E731
        print(f"{env:8} {one.usd_per_hour_min:>13.4f} - {one.usd_per_hour_max:<12.4f} "
              f"{kp.usd_per_hour_min:>13.4f} - {kp.usd_per_hour_max:<12.4f} "
              f"{pct(one.usd_per_hour_min, kp.usd_per_hour_min):>14} {pct(one.usd_per_hour_max, kp.usd_per_hour_max):>8}")
        for s in kp_plan.simulations.values():
            picks.append(f"  {env}/{s.name}: {s.nodes_at_min} x {s.type_at_min} at min, {s.nodes_at_max} x {s.type_at_max} "
                         f"at max ({s.capacity_type.lower()})")
    print("\nKarpenter's picks:")
    print("\n".join(picks))


if __name__ == "__main__":
    main()
