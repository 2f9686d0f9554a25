"""Upgrades in place: bumping the Kubernetes version changes versions only, never resource identities."""
import re

import pytest

from cluster_fixtures import addon_versions, outputs, platform  # noqa: F401


def _diff(a: dict, b: dict, path: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        p = f"{path}.{k}" if path else k
        x, y = a.get(k), b.get(k)
        if isinstance(x, dict) and isinstance(y, dict):
            out += _diff(x, y, p)
        elif x != y:
            out.append(p)
    return out


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_134_to_135_changes_only_versions(run, env):
    old = run(platform(env, "1.34"), stack=env, outputs=outputs)
    new = run(platform(env, "1.35"), stack=env, outputs=outputs)
    assert [(r.type, r.name) for r in old.resources] and \
        sorted((r.type, r.name) for r in old.resources) == sorted((r.type, r.name) for r in new.resources)
    before = {r.urn: r.inputs for r in old.resources}
    changed = {}
    for r in new.resources:
        d = _diff(before[r.urn], r.inputs)
        if d:
            changed[(r.type, r.name)] = d
    expected = {("eks:index:Cluster", "main-eks"): ["version"],
                ("aws:eks/addon:Addon", "addons-coredns"): ["addonVersion"],
                ("aws:eks/addon:Addon", "addons-pod-identity-agent"): ["addonVersion"],
                # cluster-autoscaler follows the cluster minor: the chart pinned for 1.35 (app 1.35.0).
                ("kubernetes:helm.sh/v3:Release", "autoscaler-release"): ["version"]}
    for ng in ("system", "cpu-spot", "cpu-on-demand", "gpu"):
        expected[("aws:eks/nodeGroup:NodeGroup", f"{ng}-ng")] = ["version"]
    assert changed == expected
    ng = {r.name: r.inputs for r in new.of_type("aws:eks/nodeGroup:NodeGroup")}
    assert {n: i["version"] for n, i in ng.items()} == {f"{g}-ng": "1.35" for g in ("system", "cpu-spot", "cpu-on-demand", "gpu")}
    # The EKS name is the base and a digest of the replacing inputs: a version bump leaves it (and the group) alone.
    assert all(re.fullmatch(rf"{n[:-3]}-[0-9a-f]{{7}}", i["nodeGroupName"]) for n, i in ng.items())


def test_the_autoscaler_chart_moves_with_the_minor(run):
    old = run(platform("dev", "1.34"), stack="dev", outputs=outputs)
    new = run(platform("dev", "1.35"), stack="dev", outputs=outputs)
    assert [r.named("autoscaler-release").inputs["version"] for r in (old, new)] == ["9.53.0", "9.59.0"]
