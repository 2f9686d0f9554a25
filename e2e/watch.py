"""Records, per model, the fewest ready replicas at any moment: from watch streams, so every transition is seen.

A replica counts as ready when its pod has condition Ready=True, is not being deleted, and its node still exists
(after a Node is deleted its pods keep their last status until the pod garbage collector removes them; they serve
nothing, so they are not counted). Pods and nodes are each listed once and then followed with a watch from that
list's resourceVersion; the counts are recomputed after every event.
"""

from __future__ import annotations

import threading

from kube import Kube

MODEL_LABEL = "modelstack.io/model"


def _ready(pod: dict, nodes: set[str]) -> bool:
    if pod["metadata"].get("deletionTimestamp") or pod["spec"].get("nodeName") not in nodes:
        return False
    conds = {c["type"]: c["status"] for c in (pod.get("status") or {}).get("conditions") or []}
    return conds.get("Ready") == "True"


def _count(pods: dict[str, dict], nodes: set[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pod in pods.values():
        model = (pod["metadata"].get("labels") or {}).get(MODEL_LABEL)
        if model:
            counts[model] = counts.get(model, 0) + (1 if _ready(pod, nodes) else 0)
    return counts


def ready_by_model(kube: Kube, namespace: str) -> dict[str, int]:
    """One snapshot (used to wait for recovery)."""
    nodes = {n["metadata"]["name"] for n in kube.items("/api/v1/nodes")}
    pods = {p["metadata"]["name"]: p for p in kube.items(f"/api/v1/namespaces/{namespace}/pods")}
    return _count(pods, nodes)


class Watcher:
    """Follows pods of `namespace` and all nodes until stopped; `min_ready[model]` is the lowest count seen."""

    def __init__(self, kube: Kube, namespace: str, models: list[str]):
        self.kube, self.namespace, self.models = kube, namespace, models
        self.min_ready: dict[str, int] = {}
        self.samples = 0  # events processed
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._pods: dict[str, dict] = {}
        self._nodes: set[str] = set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _update(self) -> None:
        counts = _count(self._pods, self._nodes)
        for m in self.models:
            n = counts.get(m, 0)
            self.min_ready[m] = min(self.min_ready.get(m, n), n)
        self.samples += 1

    def _follow(self, list_path: str, apply, reset, synced: threading.Event) -> None:
        while not self._stop.is_set():
            try:
                listed = self.kube.get(list_path)
                rv = listed["metadata"]["resourceVersion"]
                with self._lock:
                    reset(listed["items"])
                    self._update()
                synced.set()
                sep = "&" if "?" in list_path else "?"
                for ev in self.kube.stream(f"{list_path}{sep}watch=1&resourceVersion={rv}&timeoutSeconds=600"):
                    if self._stop.is_set():
                        return
                    if ev.get("type") == "ERROR":
                        break  # e.g. resourceVersion too old: list again
                    with self._lock:
                        apply(ev["type"], ev["object"])
                        self._update()
            except Exception as e:  # the API server going away at the end of the run, mostly
                if not self._stop.is_set():
                    self.errors.append(str(e))
                    self._stop.wait(0.2)

    def _apply_pod(self, kind: str, pod: dict) -> None:
        name = pod["metadata"]["name"]
        if kind == "DELETED":
            self._pods.pop(name, None)
        else:
            self._pods[name] = pod

    def _apply_node(self, kind: str, node: dict) -> None:
        name = node["metadata"]["name"]
        if kind == "DELETED":
            self._nodes.discard(name)
        else:
            self._nodes.add(name)

    def _reset_pods(self, items: list[dict]) -> None:
        self._pods = {p["metadata"]["name"]: p for p in items}

    def _reset_nodes(self, items: list[dict]) -> None:
        self._nodes = {n["metadata"]["name"] for n in items}

    def __enter__(self) -> "Watcher":
        # Each follower lists (state = that list), then watches from the list's resourceVersion.
        # Nodes first, so the first pod count already knows which nodes exist.
        for path, apply, reset in (("/api/v1/nodes", self._apply_node, self._reset_nodes),
                                   (f"/api/v1/namespaces/{self.namespace}/pods", self._apply_pod, self._reset_pods)):
            synced = threading.Event()
            t = threading.Thread(target=self._follow, args=(path, apply, reset, synced), daemon=True)
            t.start()
            self._threads.append(t)
            if not synced.wait(30):
                raise RuntimeError(f"watcher could not list {path}")
        with self._lock:
            self.min_ready = {}  # count from the moment both lists are in
            self._update()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()  # the threads are daemons blocked on their streams; they end with the process
