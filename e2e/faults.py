"""Fault scenarios run against the real scheduler and controllers, each measured by a Watcher.

- spot-loss:  every SPOT node is deleted at once (a spot reclaim: EKS deletes the Node of a terminated instance).
- zone-loss:  every node of one zone is deleted at once.
- drain:      every node of another zone is cordoned and drained through the eviction API (as `kubectl drain`:
              an eviction refused with 429 by a PodDisruptionBudget is retried), then deleted.
After each scenario the deleted nodes are re-created (kwok makes them Ready) so the next one starts from full
capacity. Node loss is involuntary: a PDB cannot stop it, so "pdb_held" there says whether ready replicas stayed
within the PDB's budget (desired - maxUnavailable) anyway; for the drain the API server enforces it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kube import Kube
from watch import Watcher, ready_by_model

SPOT = ("eks.amazonaws.com/capacityType", "SPOT")
ZONE = "topology.kubernetes.io/zone"


@dataclass
class ModelFacts:
    name: str
    desired: int
    pdb_max_unavailable: int


def wait_until(pred, timeout: float, interval: float = 0.5) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        try:
            if pred():
                return True
        except Exception:
            pass
        time.sleep(interval)
    return False


def all_ready(kube: Kube, ns: str, models: list[ModelFacts]) -> bool:
    counts = ready_by_model(kube, ns)
    return all(counts.get(m.name, 0) >= m.desired for m in models)


def create_nodes(kube: Kube, nodes: list[dict]) -> None:
    for n in nodes:
        kube.apply("/api/v1/nodes", n)


def nodes_ready(kube: Kube, names: set[str]) -> bool:
    ready = set()
    for n in kube.items("/api/v1/nodes"):
        conds = {c["type"]: c["status"] for c in n.get("status", {}).get("conditions") or []}
        if conds.get("Ready") == "True" and not n["spec"].get("unschedulable"):
            ready.add(n["metadata"]["name"])
    return names <= ready


def drain_node(kube: Kube, name: str, timeout: float) -> bool:
    """Cordon, then evict every pod on the node (retrying while a PDB says no). True when the node is empty."""
    kube.patch(f"/api/v1/nodes/{name}", {"spec": {"unschedulable": True}})
    end = time.time() + timeout
    while time.time() < end:
        pods = [p for p in kube.items(f"/api/v1/pods?fieldSelector=spec.nodeName%3D{name}")
                if not p["metadata"].get("deletionTimestamp")]
        if not pods:
            return True
        for p in pods:
            md = p["metadata"]
            kube.post_status(f"/api/v1/namespaces/{md['namespace']}/pods/{md['name']}/eviction", {
                "apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": md["name"], "namespace": md["namespace"]}})
        time.sleep(1)
    return False


def run_scenario(kube: Kube, ns: str, models: list[ModelFacts], all_nodes: list[dict], scenario: str,
                 victims: list[dict], recover_timeout: float = 300) -> list[dict]:
    """Apply one fault to `victims` (node objects), measure, restore. Returns one result per model."""
    names = [v["metadata"]["name"] for v in victims]
    drained_ok = True
    started = time.time()
    with Watcher(kube, ns, [m.name for m in models]) as w:
        if scenario == "drain":
            for n in names:  # cordon all first, so evicted pods do not land on the next node to drain
                kube.patch(f"/api/v1/nodes/{n}", {"spec": {"unschedulable": True}})
            for n in names:
                drained_ok &= drain_node(kube, n, timeout=recover_timeout)
        for n in names:
            kube.delete(f"/api/v1/nodes/{n}")
        recovered = wait_until(lambda: all_ready(kube, ns, models), recover_timeout)
        recovery_seconds = round(time.time() - started, 1)
        time.sleep(1)
    # Restore capacity for the next scenario.
    create_nodes(kube, victims)
    wait_until(lambda: nodes_ready(kube, set(names)), 120)
    results = []
    for m in models:
        min_ready = w.min_ready.get(m.name, 0)
        results.append({
            "scenario": scenario, "model": m.name, "desired": m.desired, "min_ready": min_ready,
            "pdb_held": min_ready >= m.desired - m.pdb_max_unavailable,
            "recovered": recovered, "recovery_seconds": recovery_seconds,
            "nodes_removed": len(names), **({"drain_completed": drained_ok} if scenario == "drain" else {}),
        })
    return results


def victims_for(scenario: str, nodes: list[dict]) -> list[dict]:
    def lab(n, k):
        return n["metadata"]["labels"].get(k)
    if scenario == "spot-loss":
        return [n for n in nodes if lab(n, SPOT[0]) == SPOT[1]]
    if scenario == "zone-loss":
        return [n for n in nodes if lab(n, ZONE) == "us-east-1a"]
    if scenario == "drain":
        return [n for n in nodes if lab(n, ZONE) == "us-east-1b" and lab(n, "modelstack.io/node-pool") != "system"]
    raise ValueError(scenario)
