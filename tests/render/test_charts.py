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


# ------------------------------------------------------------------- issue 19, 10: no stale version in the prose

_VERSION = r"v?(\d+\.\d+\.\d+(?:\.\d+)?)"


def _versions_of(name: str) -> set[str]:
    """What a version written next to a chart's name may be: one of its pinned chart versions, app versions or image
    tags (`aws-for-fluent-bit 3.2.1` is the app, `device plugin 2.31.0.0` an image)."""
    pins = [c for c in CLUSTER_AUTOSCALER.values()] if name == "cluster-autoscaler" else [CHARTS[name]]
    out = set()
    for c in pins:
        out |= {c.version, c.app_version.lstrip("v"), *(i.rsplit(":", 1)[1].lstrip("v").split("-")[0] for i in c.images)}
    return out


def stale_versions(text: str) -> list[str]:
    """Chart versions written next to a chart's name (in the same line, a few words on) that are not its pins."""
    out = []
    for name in CHARTS:
        for m in re.finditer(rf"(?<![\w-]){re.escape(name)}(?![\w-])[ \w()-]{{0,16}}?\b{_VERSION}", text):
            if m.group(1) not in _versions_of(name):
                out.append(m.group(0))
    return out


def test_version_numbers_written_next_to_a_chart_in_the_code_are_its_pins():
    found = {str(p.relative_to(ROOT)): stale_versions(p.read_text())
             for p in [*(ROOT / "components").rglob("*.py"), ROOT / "README.md"]}
    assert {p: v for p, v in found.items() if v} == {}


#: PlatformAddons args whose default is a chart's pin.
ADDON_VERSION_ARGS = {"metrics_server_version": "metrics-server",
                      "load_balancer_controller_version": "aws-load-balancer-controller", "keda_version": "keda",
                      "keda_http_add_on_version": "keda-add-ons-http",
                      "nvidia_device_plugin_version": "nvidia-device-plugin", "neuron_version": "neuron-helm-chart",
                      "prometheus_version": "prometheus", "dcgm_exporter_version": "dcgm-exporter"}
COMPONENT_VERSION_ARGS = {("addons.py", k): v for k, v in ADDON_VERSION_ARGS.items()} | {
    ("karpenter.py", "chart_version"): "karpenter", ("logging.py", "chart_version"): "aws-for-fluent-bit"}


def _field_docs(path: Path) -> dict[str, str]:
    """Field docstrings of the TypedDicts of a module: the string literal right after each annotated field."""
    import ast
    out = {}
    for cls in ast.walk(ast.parse(path.read_text())):
        if isinstance(cls, ast.ClassDef):
            body = cls.body
            for a, b in zip(body, body[1:]):
                if isinstance(a, ast.AnnAssign) and isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant):
                    out[a.target.id] = str(b.value.value)
    return out


def test_every_chart_version_arg_states_the_pin_as_its_default():
    cluster = ROOT / "components" / "cluster"
    for (module, arg), name in COMPONENT_VERSION_ARGS.items():
        doc = _field_docs(cluster / module)[arg]
        m = re.search(r'Default "([^"]+)"', doc)
        assert m and m.group(1) == CHARTS[name].version, (module, arg, doc)
    # and no other chart-version arg escapes the check
    for module in ("addons.py", "karpenter.py", "logging.py", "autoscaler.py"):
        for arg, doc in _field_docs(cluster / module).items():
            if re.search(r'Default "\d+\.\d+\.\d+"', doc):
                assert (module, arg) in COMPONENT_VERSION_ARGS, (module, arg)


def test_the_facts_file_calls_only_the_pins_pinned():
    """A line of UPSTREAM.md that calls a version the pin (or the current one) names the pinned version."""
    bad = []
    for line in UPSTREAM.splitlines():
        if re.search(r"(?i)\bcurrent pin\b|\(pinned[;)]|\bcurrently\b", line):
            pins = {v for n in CHARTS for v in _versions_of(n)}
            named = re.findall(_VERSION, line)
            if named and not set(named) & pins:
                bad.append(line)
    assert bad == []


def test_the_staleness_checks_catch_what_main_had():
    assert stale_versions("Charts: cluster-autoscaler 9.46.6 (kubernetes/autoscaler), keda 2.17.2 and") == [
        "cluster-autoscaler 9.46.6", "keda 2.17.2"]
    assert stale_versions("keda-add-ons-http 0.15.0, nvidia-device-plugin 0.20.0, aws-for-fluent-bit 3.2.1") == []
