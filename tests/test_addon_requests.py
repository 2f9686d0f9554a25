"""data/addon_requests.json: the CPU/memory requests of every platform add-on workload, held to the chart pins
(render/charts.py) and to the values modelstack passes (render/addon_values.py, render/karpenter.py)."""

from __future__ import annotations

import json
import re

import pytest

from modelstack import data
from modelstack.render import addon_values, karpenter
from modelstack.render.charts import CHARTS, CLUSTER_AUTOSCALER, known_versions

FACTS = json.loads(data.read_text("addon_requests.json"))
WORKLOADS = FACTS["workloads"]
HELM = [w for w in WORKLOADS if w["installed_by"] == "helm"]

#: Managed add-ons modelstack creates: cluster/addons.py (coredns, pod identity agent, EBS CSI driver) and, through
#: pulumi-eks, cluster/control_plane.py (vpc-cni).
EKS_ADDONS = {"coredns", "eks-pod-identity-agent", addon_values.EBS_CSI_ADDON, "vpc-cni"}

SOURCE = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+)@(?P<ref>[\w.-]+):(?P<path>\S+)")


def _pin_ref(source: str) -> tuple[str, str]:
    """(owner/repo, ref) of a Chart.source string, "owner/repo@ref:path..."."""
    m = SOURCE.match(source)
    assert m, source
    return m["repo"], m["ref"]


def _refs_agree(a: str, b: str) -> bool:
    """The same tag, or the same commit written at two lengths."""
    sha = re.compile(r"[0-9a-f]{7,40}")
    return a == b or (bool(sha.fullmatch(a) and sha.fullmatch(b)) and (a.startswith(b) or b.startswith(a)))


def test_every_pinned_chart_and_version_has_its_workloads():
    pins = {(name, c.version) for name, c in CHARTS.items()} | {("cluster-autoscaler", c.version)
                                                                for c in CLUSTER_AUTOSCALER.values()}
    assert pins <= {(w["chart"], w["chart_version"]) for w in HELM}


@pytest.mark.parametrize("w", HELM, ids=lambda w: f"{w['chart']}-{w['chart_version']}-{w['workload']}")
def test_a_helm_workload_names_a_pinned_version_read_where_the_pin_was(w):
    assert w["chart"] in CHARTS, w["chart"]
    assert w["chart_version"] in known_versions(w["chart"])
    pin = next(c for c in [CHARTS[w["chart"]], *CLUSTER_AUTOSCALER.values()] if c.version == w["chart_version"])
    repo, ref = _pin_ref(pin.source)
    m = SOURCE.match(w["source"])
    assert m and m["repo"] == repo, (w["source"], pin.source)
    if "subchart" not in w:  # a subchart is read at its own tag (the parent's Chart.lock), in the same repository
        assert _refs_agree(m["ref"], ref), (w["source"], pin.source)


def test_the_eks_addons_are_the_ones_modelstack_installs():
    assert {w["chart"] for w in WORKLOADS if w["installed_by"] == "eks-addon"} == EKS_ADDONS
    assert {w["installed_by"] for w in WORKLOADS} == {"helm", "eks-addon"}


@pytest.mark.parametrize("w", WORKLOADS, ids=lambda w: w["workload"])
def test_every_entry_has_a_source_with_tag_and_path_and_well_formed_requests(w):
    m = SOURCE.match(w["source"])
    assert m, w["source"]
    assert any(s["repo"] == m["repo"] and _refs_agree(s["ref"], m["ref"]) for s in FACTS["sources"].values()), w["source"]
    assert w["kind"] in {"Deployment", "StatefulSet", "DaemonSet"}
    if w["kind"] == "DaemonSet":
        assert w["replicas"] in (None, 0) and w["placement"] != "system" and not w["distinct_nodes"]
    else:
        assert isinstance(w["replicas"], int) and w["replicas"] >= 0
    req = w["requests"]
    assert req["cpu"] is None or re.fullmatch(r"\d+m", req["cpu"]), req
    assert req["memory"] is None or re.fullmatch(r"\d+Mi", req["memory"]), req
    # the pod's requests are the sum of its containers'; "none" only when no container asks for anything
    assert w["requests_status"] in {"set", "none"}
    cpu = sum(int(c["cpu"][:-1]) for c in w["containers"] if c["cpu"])
    mem = sum(int(c["memory"][:-2]) * (1024 if c["memory"].endswith("Gi") else 1) for c in w["containers"] if c["memory"])
    assert (int(req["cpu"][:-1]) if req["cpu"] else 0, int(req["memory"][:-2]) if req["memory"] else 0) == (cpu, mem)
    assert (w["requests_status"] == "none") == (req == {"cpu": None, "memory": None})


def _one(workload: str) -> dict:
    (w,) = [w for w in WORKLOADS if w["workload"] == workload]
    return w


def test_replicas_and_requests_are_the_ones_our_values_set():
    k = karpenter.helm_values("c", "q", "system")
    assert _one("karpenter")["replicas"] == k["replicas"]
    assert _one("karpenter")["containers"][0]["cpu"] == k["controller"]["resources"]["requests"]["cpu"]
    assert _one("karpenter")["containers"][0]["memory"] == k["controller"]["resources"]["requests"]["memory"]
    assert _one("metrics-server")["replicas"] == addon_values.metrics_server("system")["replicas"]
    lbc = addon_values.load_balancer_controller("c", "r", "vpc", "arn", "system")
    assert _one("aws-load-balancer-controller")["replicas"] == lbc["replicaCount"]
    assert _one("coredns")["replicas"] == addon_values.coredns_configuration("system")["replicaCount"]
    prom = addon_values.prometheus("system")
    off = {"prometheus-prometheus-pushgateway": "prometheus-pushgateway",
           "prometheus-prometheus-node-exporter": "prometheus-node-exporter"}
    for workload, key in off.items():
        assert prom[key] == {"enabled": False} and _one(workload)["replicas"] == 0


def test_only_the_karpenter_controller_needs_a_node_per_replica():
    assert {w["workload"] for w in WORKLOADS if w["distinct_nodes"]} == {"karpenter"}
