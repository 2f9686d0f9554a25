"""KEDA and the HTTP add-on as real pods: their own upstream manifests at the pinned versions, with our values.

The manifests are the kustomize trees in the Go modules of the chart pins' app versions (tools/upstream.py: the
module zip held to its recorded h1), built by e2e/kustomize.py:
- KEDA `github.com/kedacore/keda/v2@v2.20.2` `config/minimal`: namespace, CRDs, RBAC, the operator and the metrics
  API server (upstream's `config/default` without the admission webhooks, which the e2e does not deploy).
- HTTP add-on `github.com/kedacore/http-add-on@v0.15.0` `config/default`: CRDs, interceptor, operator, scaler.

On top, what PlatformAddons gives the charts (`addon_values.keda_charts`), mapped to the fields the chart templates
set from those values (kedacore/charts `http-add-on/templates/interceptor/deployment.yaml` at keda-add-ons-http
0.15.0, `c4b92e9`, see CHART_ENV): interceptor timeouts and drain as env, its grace period, tolerations. And what
only the e2e changes: local images (imported into containerd, `imagePullPolicy: Never`) under the names the charts
pull, and the placement (`placement`: a nodeSelector naming the run's real node instead of the system pool, since
one real node stands in for every pool, and a toleration of that node's taint). Pure: no cluster, no network; tests/test_e2e_addons.py holds it to the upstream trees.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import kustomize

KEDA_TREE = "config/minimal"
HTTP_ADD_ON_TREE = "config/default"

#: Chart value (under `interceptor.`) -> the interceptor env var its template sets from it (chart 0.15.0 template
#: above; the names are the ones `interceptor/config/{timeouts,serving}.go` @v0.15.0 read).
CHART_ENV = {
    "requestTimeout": "KEDA_HTTP_REQUEST_TIMEOUT",
    "responseHeaderTimeout": "KEDA_HTTP_RESPONSE_HEADER_TIMEOUT",
    "readinessTimeout": "KEDA_HTTP_READINESS_TIMEOUT",
    "tcpConnectTimeout": "KEDA_HTTP_CONNECT_TIMEOUT",
    "shutdownDelay": "KEDA_HTTP_SHUTDOWN_DELAY",
    "drainTimeout": "KEDA_HTTP_DRAIN_TIMEOUT",
}
#: Chart values this renderer knows how to apply; any other key in our values is refused (it would be lost).
PLACEMENT_KEYS = {"nodeSelector", "tolerations"}
INTERCEPTOR_KEYS = PLACEMENT_KEYS | set(CHART_ENV) | {"terminationGracePeriodSeconds"}

#: Upstream Deployment name -> (chart values section, container image the chart runs; its tag is the app version).
KEDA_DEPLOYMENTS = {"keda-operator": ("", "ghcr.io/kedacore/keda"),
                    "keda-metrics-apiserver": ("", "ghcr.io/kedacore/keda-metrics-apiserver")}
HTTP_ADD_ON_DEPLOYMENTS = {"keda-add-ons-http-interceptor": ("interceptor", "ghcr.io/kedacore/http-add-on-interceptor"),
                           "keda-add-ons-http-operator": ("operator", "ghcr.io/kedacore/http-add-on-operator"),
                           "keda-add-ons-http-scaler": ("scaler", "ghcr.io/kedacore/http-add-on-scaler")}


def images(keda_version: str, http_add_on_version: str) -> dict[str, str]:
    """Deployment name -> the image reference the chart pulls for it (ghcr.io/kedacore/...:<app version>)."""
    out = {d: f"{img}:{keda_version.lstrip('v')}" for d, (_, img) in KEDA_DEPLOYMENTS.items()}
    out.update({d: f"{img}:{http_add_on_version.lstrip('v')}" for d, (_, img) in HTTP_ADD_ON_DEPLOYMENTS.items()})
    return out


def _check_keys(section: str, values: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValueError(f"chart values {section or '(top level)'}: {unknown} not applied by e2e/addons.py "
                         f"(it applies {sorted(allowed)})")


def _place(spec: dict, values: Mapping[str, Any], placement: Mapping[str, Any]) -> None:
    """Tolerations and nodeSelector as the chart sets them (os=linux + ours); with a `placement`, its nodeSelector
    replaces the pool and its tolerations are added to ours."""
    tolerations = copy.deepcopy(list(values.get("tolerations") or spec.get("tolerations") or []))
    tolerations += [t for t in placement.get("tolerations", []) if t not in tolerations]
    if tolerations:
        spec["tolerations"] = tolerations
    selector = {**spec.get("nodeSelector", {}), "kubernetes.io/os": "linux", **(values.get("nodeSelector") or {})}
    if placement.get("nodeSelector"):
        selector = {"kubernetes.io/os": "linux", **placement["nodeSelector"]}
    spec["nodeSelector"] = selector


def _deployments(objs: list[dict], names: Mapping[str, Any], tree: str) -> dict[str, dict]:
    found = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Deployment"}
    if set(found) != set(names):
        raise ValueError(f"{tree}: Deployments {sorted(found)}, expected {sorted(names)}")
    return found


def _local_image(dep: dict, image: str) -> None:
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    c["image"] = image
    c["imagePullPolicy"] = "Never"


def render_keda(files: Mapping[str, bytes], values: Mapping[str, Any], image_refs: Mapping[str, str],
                placement: Mapping[str, Any] = {}) -> list[dict]:
    """KEDA's operator and metrics API server from `config/minimal`, with the `keda` chart values we set."""
    _check_keys("", values, PLACEMENT_KEYS)
    objs = kustomize.build(files, KEDA_TREE)
    for name, dep in _deployments(objs, KEDA_DEPLOYMENTS, KEDA_TREE).items():
        _local_image(dep, image_refs[name])
        _place(dep["spec"]["template"]["spec"], values, placement)
        if name == "keda-operator":
            # No admission webhooks here: the operator must not wait to patch their configuration (the chart passes
            # `--enable-webhook-patching={{ .Values.webhooks.enabled }}`, keda/templates/manager/deployment.yaml).
            dep["spec"]["template"]["spec"]["containers"][0]["args"].append("--enable-webhook-patching=false")
    return objs


def render_http_add_on(files: Mapping[str, bytes], values: Mapping[str, Any], image_refs: Mapping[str, str],
                       placement: Mapping[str, Any] = {}) -> list[dict]:
    """The HTTP add-on from `config/default`, with the `keda-add-ons-http` chart values we set."""
    _check_keys("", values, {"operator", "scaler", "interceptor"})
    objs = kustomize.build(files, HTTP_ADD_ON_TREE)
    for name, dep in _deployments(objs, HTTP_ADD_ON_DEPLOYMENTS, HTTP_ADD_ON_TREE).items():
        section = HTTP_ADD_ON_DEPLOYMENTS[name][0]
        v = values.get(section) or {}
        _check_keys(section, v, INTERCEPTOR_KEYS if section == "interceptor" else PLACEMENT_KEYS)
        _local_image(dep, image_refs[name])
        spec = dep["spec"]["template"]["spec"]
        _place(spec, v, placement)
        if section != "interceptor":
            continue
        (c,) = spec["containers"]
        env = [e for e in c.get("env", []) if e["name"] not in {CHART_ENV[k] for k in v if k in CHART_ENV}]
        env += [{"name": CHART_ENV[k], "value": str(v[k])} for k in CHART_ENV if v.get(k)]
        c["env"] = env
        if "terminationGracePeriodSeconds" in v:
            spec["terminationGracePeriodSeconds"] = int(v["terminationGracePeriodSeconds"])
    return objs


def env_of(objs: list[dict], deployment: str) -> dict[str, str]:
    """The literal env of a Deployment's one container (for the report and the tests)."""
    dep = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == deployment)
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}
