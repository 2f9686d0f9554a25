"""Every pinned chart is held to the upstream facts recorded for it (render/charts.py, data/UPSTREAM.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelstack.config.schema import EKS_STANDARD_SUPPORT_END, KUBERNETES_VERSIONS
from modelstack.render import charts
from modelstack.render.charts import CHARTS, CLUSTER_AUTOSCALER, STOPPED_REGISTRIES

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = (ROOT / "components" / "data" / "UPSTREAM.md").read_text()
ALL = {**{f"cluster-autoscaler@{m}": c for m, c in CLUSTER_AUTOSCALER.items()},
       **{n: c for n, c in CHARTS.items() if n != "cluster-autoscaler"}}


def _minor(v: str) -> tuple[int, int]:
    major, minor = v.split(".")[:2]
    return int(major), int(minor)


@pytest.mark.parametrize("minor", KUBERNETES_VERSIONS)
def test_cluster_autoscaler_minor_equals_the_cluster_minor(minor):
    c = CLUSTER_AUTOSCALER[minor]
    assert c.app_minor == minor
    # The image the chart runs is its app version: no override across minors.
    assert [i.rsplit(":", 1)[1] for i in c.images] == [f"v{c.app_version}"]


def test_cluster_autoscaler_1_35_has_the_dra_rbac_chart():
    # cluster-autoscaler 1.35 always watches resource.k8s.io objects; charts grant them from 9.54.0 on.
    assert tuple(map(int, CLUSTER_AUTOSCALER["1.35"].version.split("."))) >= (9, 54, 0)


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_supported_kubernetes_minor_is_in_the_charts_range(name):
    low, high = ALL[name].kubernetes
    lo_ok = [v for v in KUBERNETES_VERSIONS if low is None or _minor(v) >= _minor(low)]
    hi_ok = [v for v in KUBERNETES_VERSIONS if high is None or _minor(v) <= _minor(high)]
    if name.startswith("cluster-autoscaler@"):
        assert (low, high) == (name.split("@")[1],) * 2
    else:
        assert lo_ok == hi_ok == list(KUBERNETES_VERSIONS), (name, ALL[name].kubernetes)


@pytest.mark.parametrize("name", sorted(ALL))
def test_no_image_from_a_registry_that_stopped_serving(name):
    for image in ALL[name].images:
        assert not any(image.startswith(r + "/") for r in STOPPED_REGISTRIES), image
        assert re.match(r"^[a-z0-9.-]+\.[a-z]{2,}(/[a-z0-9._-]+)+:[\w.-]+$", image), f"{image}: registry/repo:tag"


def test_the_registry_check_catches_the_add_on_image_of_0_10_0():
    # The kube-rbac-proxy sidecar keda-add-ons-http <= 0.11.1 ran (chart 0.10.0 values.yaml).
    assert any("gcr.io/kubebuilder/kube-rbac-proxy:v0.13.0".startswith(r + "/") for r in STOPPED_REGISTRIES)


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_pin_is_recorded_in_the_facts_file(name):
    c = ALL[name]
    chart_name = name.split("@")[0]
    assert chart_name in UPSTREAM
    assert c.version in UPSTREAM and c.app_version.lstrip("v") in UPSTREAM
    for image in c.images:
        assert image in UPSTREAM, image
    repo = c.source.split("@")[0]
    assert repo in UPSTREAM, repo


def test_supported_minors_have_an_eks_support_date_and_one_chart_each():
    assert KUBERNETES_VERSIONS == tuple(CLUSTER_AUTOSCALER)
    assert CHARTS["cluster-autoscaler"] == CLUSTER_AUTOSCALER[KUBERNETES_VERSIONS[-1]]
    assert set(KUBERNETES_VERSIONS) <= set(EKS_STANDARD_SUPPORT_END)
    assert len({c.version for c in CLUSTER_AUTOSCALER.values()}) == len(CLUSTER_AUTOSCALER)


def test_the_http_add_on_pin_is_past_the_changes_we_depend_on():
    v = tuple(map(int, CHARTS["keda-add-ons-http"].version.split(".")))
    assert v >= (0, 14, 0)  # InterceptorRoute and per-route timeouts
    assert v >= (0, 12, 2)  # /readyz on the admin port (our ALB health check)


@pytest.mark.parametrize("name, minor, expected", [
    ("cluster-autoscaler", "1.34", "9.53.0"), ("cluster-autoscaler", "1.35", "9.59.0"), ("keda", "1.34", "2.20.2")])
def test_chart_for_a_minor(name, minor, expected):
    assert charts.chart(name, minor).version == expected


def test_the_load_balancer_controller_policy_is_the_one_of_the_pinned_app_version():
    import hashlib

    data = ROOT / "components" / "data"
    digest = hashlib.sha256((data / "aws_load_balancer_controller_iam_policy.json").read_bytes()).hexdigest()
    note = (data / "aws_load_balancer_controller_iam_policy.md").read_text()
    assert f"sha256 `{digest}`" in note and digest in UPSTREAM
    assert f"tag: `{CHARTS['aws-load-balancer-controller'].app_version}`" in note
