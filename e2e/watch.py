"""Polls the API server and records, per model, the fewest ready replicas seen.

A replica counts as ready when its pod has condition Ready=True, is not being deleted, and its node still exists
(after a Node is deleted its pods keep their last status until the pod garbage collector removes them; they serve
nothing, so they are not counted).
"""

from __future__ import annotations

import threading
import time

from kube import Kube

MODEL_LABEL = "modelstack.io/model"


def ready_by_model(kube: Kube, namespace: str) -> dict[str, int]:
    nodes = {n["metadata"]["name"] for n in kube.items("/api/v1/nodes")}
    counts: dict[str, int] = {}
    for pod in kube.items(f"/api/v1/namespaces/{namespace}/pods"):
        model = (pod["metadata"].get("labels") or {}).get(MODEL_LABEL)
        if not model:
            continue
        counts.setdefault(model, 0)
        if pod["metadata"].get("deletionTimestamp") or pod["spec"].get("nodeName") not in nodes:
            continue
        conds = {c["type"]: c["status"] for c in (pod.get("status") or {}).get("conditions") or []}
        if conds.get("Ready") == "True":
            counts[model] += 1
    return counts


class Watcher:
    """Samples ready replicas per model every `interval` seconds in a thread until stopped."""

    def __init__(self, kube: Kube, namespace: str, models: list[str], interval: float = 0.1):
        self.kube, self.namespace, self.models, self.interval = kube, namespace, models, interval
        self.min_ready: dict[str, int] = {}
        self.samples = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                counts = ready_by_model(self.kube, self.namespace)
                for m in self.models:
                    n = counts.get(m, 0)
                    self.min_ready[m] = min(self.min_ready.get(m, n), n)
                self.samples += 1
            except Exception:
                self.errors += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> "Watcher":
        self._thread.start()
        time.sleep(self.interval * 2)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
