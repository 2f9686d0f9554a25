"""The real KEDA and HTTP add-on that `make e2e` deploys: upstream's kustomize trees at the pins, with our values.

No cluster: the trees come from the module zips tools/upstream.py holds to their recorded h1 (the same cache as the
CRD tests), rendered by e2e/kustomize.py and e2e/addons.py as the run applies them.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "e2e"), str(ROOT / "tools")]

import addons  # noqa: E402
import kustomize  # noqa: E402
import upstream  # noqa: E402
from modelstack.render import addon_values, labels, timeouts  # noqa: E402
from modelstack.render.charts import CHARTS  # noqa: E402

NODE = {"kubernetes.io/hostname": "e2e-real-node"}
NODE_TAINT = {"key": "e2e/real", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
PLACEMENT = {"nodeSelector": NODE, "tolerations": [NODE_TAINT]}
DRAIN = 1560


@pytest.fixture(scope="module")
def trees() -> dict[str, dict[str, bytes]]:
    return {c: upstream.module_tree(c, "config") for c in ("keda", "keda-add-ons-http")}


@pytest.fixture(scope="module")
def rendered(trees) -> dict[str, list[dict]]:
    values = addon_values.keda_charts("system", DRAIN)
    refs = addons.images(upstream.version("keda"), upstream.version("keda-add-ons-http"))
    return {"keda": addons.render_keda(trees["keda"], values["keda"], refs, PLACEMENT),
            "keda-add-ons-http": addons.render_http_add_on(trees["keda-add-ons-http"], values["keda-add-ons-http"],
                                                           refs, PLACEMENT)}


def by(objs: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


# --- the renderer itself -------------------------------------------------------------------------------------------

def tree(**files: str) -> dict[str, bytes]:
    return {k.replace("__", "/"): v.encode() for k, v in files.items()}


def test_name_prefix_follows_references_as_kustomize_does():
    files = tree(
        **{"base/kustomization.yaml": "namespace: ns\nnamePrefix: p-\nresources: [r.yaml]\n",
           "base/r.yaml": """
kind: ServiceAccount
apiVersion: v1
metadata: {name: sa}
---
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: role}
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: b}
roleRef: {kind: ClusterRole, name: role}
subjects: [{kind: ServiceAccount, name: sa}, {kind: ServiceAccount, name: other, namespace: x}]
---
kind: Deployment
apiVersion: apps/v1
metadata: {name: d}
spec: {selector: {matchLabels: {a: b}}, template: {spec: {serviceAccountName: sa, containers: []}}}
"""})
    objs = kustomize.build(files, "base")
    assert by(objs, "ServiceAccount")["p-sa"]["metadata"]["namespace"] == "ns"
    crb = by(objs, "ClusterRoleBinding")["p-b"]
    assert "namespace" not in crb["metadata"]
    assert crb["roleRef"]["name"] == "p-role"
    # A subject that names a ServiceAccount of the tree takes its new name and namespace; another stays as it was.
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "p-sa", "namespace": "ns"},
                               {"kind": "ServiceAccount", "name": "other", "namespace": "x"}]
    assert by(objs, "Deployment")["p-d"]["spec"]["template"]["spec"]["serviceAccountName"] == "p-sa"


def test_an_unsupported_kustomization_key_is_refused_with_the_file_named():
    files = tree(**{"t/kustomization.yaml": "resources: []\nreplicas: [{name: x, count: 2}]\n"})
    with pytest.raises(kustomize.KustomizeError, match=r"t/kustomization.yaml: unsupported kustomization keys \['replicas'\]"):
        kustomize.build(files, "t")


def test_json_patch_add_append_and_remove():
    doc = {"a": {"l": [1]}, "b": 1}
    kustomize.json_patch(doc, {"op": "add", "path": "/a/l/-", "value": 2})
    kustomize.json_patch(doc, {"op": "remove", "path": "/b"})
    kustomize.json_patch(doc, {"op": "add", "path": "/a/m", "value": True})
    assert doc == {"a": {"l": [1, 2], "m": True}}
    with pytest.raises(kustomize.KustomizeError):
        kustomize.json_patch(doc, {"op": "replace", "path": "/nope", "value": 0})


# --- the upstream trees at the pins --------------------------------------------------------------------------------

def test_the_trees_are_read_at_the_chart_pins_app_versions():
    assert upstream.version("keda") == "v" + CHARTS["keda"].app_version.lstrip("v")
    assert upstream.version("keda-add-ons-http") == "v" + CHARTS["keda-add-ons-http"].app_version.lstrip("v")


def test_every_upstream_component_is_deployed_with_a_local_image_of_the_chart_name(rendered):
    keda, http = by(rendered["keda"], "Deployment"), by(rendered["keda-add-ons-http"], "Deployment")
    assert set(keda) == {"keda-operator", "keda-metrics-apiserver"}
    assert set(http) == {"keda-add-ons-http-interceptor", "keda-add-ons-http-operator", "keda-add-ons-http-scaler"}
    kv, hv = CHARTS["keda"].app_version.lstrip("v"), CHARTS["keda-add-ons-http"].app_version.lstrip("v")
    want = {"keda-operator": f"ghcr.io/kedacore/keda:{kv}",
            "keda-metrics-apiserver": f"ghcr.io/kedacore/keda-metrics-apiserver:{kv}",
            "keda-add-ons-http-interceptor": f"ghcr.io/kedacore/http-add-on-interceptor:{hv}",
            "keda-add-ons-http-operator": f"ghcr.io/kedacore/http-add-on-operator:{hv}",
            "keda-add-ons-http-scaler": f"ghcr.io/kedacore/http-add-on-scaler:{hv}"}
    for name, d in {**keda, **http}.items():
        (c,) = d["spec"]["template"]["spec"]["containers"]
        assert (c["image"], c["imagePullPolicy"]) == (want[name], "Never"), name
        assert d["metadata"]["namespace"] == "keda"


def test_references_inside_the_rendered_trees_resolve(rendered):
    objs = rendered["keda"] + rendered["keda-add-ons-http"]
    sas = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in objs if o["kind"] == "ServiceAccount"}
    services = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in objs if o["kind"] == "Service"}
    roles = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs
             if o["kind"] in ("Role", "ClusterRole")}
    for d in (o for o in objs if o["kind"] == "Deployment"):
        assert ("keda", d["spec"]["template"]["spec"]["serviceAccountName"]) in sas
        # Every Service the env names (scaler, interceptor admin) exists, and selects this tree's pods.
        for e in d["spec"]["template"]["spec"]["containers"][0].get("env", []):
            if e["name"].endswith("_SERVICE"):
                assert ("keda", e["value"]) in services, e
    for b in (o for o in objs if o["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        for s in b["subjects"]:
            if s["kind"] == "ServiceAccount" and s["namespace"] == "keda":
                assert (s["namespace"], s["name"]) in sas, b["metadata"]["name"]
        rr = b["roleRef"]
        builtin = rr["name"].startswith("system:") or rr["name"] == "extension-apiserver-authentication-reader"
        ns = b["metadata"].get("namespace") if rr["kind"] == "Role" else None
        assert builtin or (rr["kind"], ns, rr["name"]) in roles, b["metadata"]["name"]
    (api,) = by(objs, "APIService").values()
    assert (api["spec"]["service"]["namespace"], api["spec"]["service"]["name"]) in services
    pods = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"] for d in by(objs, "Deployment").values()}
    for (ns, name) in services:
        sel = by(objs, "Service")[name]["spec"]["selector"]
        assert any(sel.items() <= lab.items() for lab in pods.values()), name


def test_the_services_our_objects_name_are_the_trees_services(rendered):
    # ModelAPI's ScaledObjects push to this scaler and its InterceptorRoutes' Ingress targets this proxy.
    from modelstack.render import autoscaling
    services = by(rendered["keda-add-ons-http"], "Service")
    host, port = autoscaling.DEFAULT_EXTERNAL_SCALER.rsplit(":", 1)
    name, ns = host.split(".")
    assert services[name]["metadata"]["namespace"] == ns and int(port) in {p["port"] for p in services[name]["spec"]["ports"]}
    assert 8080 in {p["port"] for p in services["keda-add-ons-http-interceptor-proxy"]["spec"]["ports"]}


def test_the_interceptor_runs_with_the_timeouts_and_drain_platform_addons_renders(rendered):
    http = addon_values.keda_charts("system", DRAIN)["keda-add-ons-http"]
    env = addons.env_of(rendered["keda-add-ons-http"], "keda-add-ons-http-interceptor")
    assert env["KEDA_HTTP_READINESS_TIMEOUT"] == f"{timeouts.INTERCEPTOR_READINESS_SECONDS}s"
    assert env["KEDA_HTTP_RESPONSE_HEADER_TIMEOUT"] == f"{timeouts.INTERCEPTOR_RESPONSE_HEADER_SECONDS}s"
    assert env["KEDA_HTTP_SHUTDOWN_DELAY"] == f"{timeouts.INTERCEPTOR_SHUTDOWN_DELAY_SECONDS}s"
    assert env["KEDA_HTTP_DRAIN_TIMEOUT"] == f"{DRAIN}s"
    # Every interceptor value we set reaches the pod (as env, or as its grace period).
    for key, value in http["interceptor"].items():
        if key in addons.CHART_ENV:
            assert env[addons.CHART_ENV[key]] == value, key
    dep = by(rendered["keda-add-ons-http"], "Deployment")["keda-add-ons-http-interceptor"]
    assert dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == \
        timeouts.INTERCEPTOR_SHUTDOWN_DELAY_SECONDS + DRAIN + timeouts.EXIT_MARGIN_SECONDS
    assert env["KEDA_HTTP_PROXY_PORT"] == "8080"  # upstream's own env stays


def test_the_env_names_are_the_ones_the_interceptor_reads_at_the_pin():
    src = upstream.module_tree("keda-add-ons-http", "interceptor/config")
    read = {m for name, b in src.items() if name.endswith(".go") and not name.endswith("_test.go")
            for m in re.findall(r'env:"([A-Z_]+)', b.decode())}
    assert set(addons.CHART_ENV.values()) <= read


def test_add_ons_tolerate_our_system_taint_and_sit_on_the_given_node(rendered):
    for d in by(rendered["keda"] + rendered["keda-add-ons-http"], "Deployment").values():
        spec = d["spec"]["template"]["spec"]
        assert labels.k8s_taint(labels.SYSTEM_TAINT) in spec["tolerations"] and NODE_TAINT in spec["tolerations"]
        assert spec["nodeSelector"] == {"kubernetes.io/os": "linux", **NODE}


def test_without_a_placement_the_system_pool_is_selected(trees):
    values = addon_values.keda_charts("system")
    refs = addons.images("v2.20.2", "v0.15.0")
    objs = addons.render_keda(trees["keda"], values["keda"], refs)
    for d in by(objs, "Deployment").values():
        assert d["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux",
                                                                 labels.NODE_POOL_LABEL: "system"}


def test_a_value_the_renderer_cannot_apply_is_refused(trees):
    values = addon_values.keda_charts("system")["keda-add-ons-http"]
    bad = {**values, "interceptor": {**values["interceptor"], "replicas": {"min": 3}}}
    with pytest.raises(ValueError, match=r"interceptor: \['replicas'\] not applied"):
        addons.render_http_add_on(trees["keda-add-ons-http"], bad, addons.images("v2.20.2", "v0.15.0"))


def test_keda_ships_every_crd_its_operator_watches(rendered):
    crds = set(by(rendered["keda"], "CustomResourceDefinition"))
    assert {"scaledobjects.keda.sh", "cloudeventsources.eventing.keda.sh"} <= crds
    # config/crd's patches applied (kedacore/keda#4976: stabilization window bounds).
    so = by(rendered["keda"], "CustomResourceDefinition")["scaledobjects.keda.sh"]
    beh = so["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["advanced"][
        "properties"]["horizontalPodAutoscalerConfig"]["properties"]["behavior"]["properties"]
    assert beh["scaleDown"]["properties"]["stabilizationWindowSeconds"]["maximum"] == 3600


def test_the_e2e_builds_the_add_ons_at_the_chart_pins():
    env = dict(line.split("#", 1)[0].strip().split("=", 1) for line in (ROOT / "e2e" / "versions.env").read_text().splitlines()
               if "=" in line.split("#", 1)[0])
    assert env["KEDA_VERSION"] == upstream.version("keda")
    assert env["HTTP_ADDON_VERSION"] == upstream.version("keda-add-ons-http")


# --- the scenarios' checks -----------------------------------------------------------------------------------------

def good_serving() -> dict:
    import scaling
    return {"addons": {"ready": True, "external_metrics_api": True},
            "scale_from_zero": {"failed": 0, "requests": 60, "failures_by_kind": {}, "held": 31,
                                "first_replica_ready_seconds": scaling.STARTUP_SECONDS + 4.0, "back_to_zero": True,
                                "cooldown": scaling.ZERO_COOLDOWN,
                                "light_traffic": {"drops_to_zero": 0, "cold_starts": 0, "interval_seconds": 5}},
            "autoscale": {"scaled": True, "replicas_before": 1, "replicas_after": 3, "max_replicas": 3, "failed": 0,
                          "requests": 200, "failures_by_kind": {}},
            "interceptor_overhead": {"failed": 0, "requests_each": 300, "added_p50_ms": 0.4},
            "queue_scale": {"steps": [{"depth": 5, "expected": 3, "replicas": 3, "reached": True},
                                      {"depth": 11, "expected": 4, "replicas": 4, "reached": True}],
                            "back_to_zero": True, "cooldown_seconds": scaling.QUEUE_COOLDOWN_SECONDS}}


def test_the_scaling_checks_pass_figures_that_hold():
    import scaling
    assert scaling.checks(good_serving()) == []


@pytest.mark.parametrize("path, value, message", [
    (("scale_from_zero", "failed"), 2, "serving scale_from_zero: 2 of 60 failed"),
    (("scale_from_zero", "held"), 0, "no request held through a 30 s start-up"),
    (("scale_from_zero", "first_replica_ready_seconds"), 5.0, "no request held through a 30 s start-up"),
    (("scale_from_zero", "back_to_zero"), False, "not back to 0 after the 30s cooldown"),
    (("scale_from_zero", "light_traffic"), {"drops_to_zero": 1, "cold_starts": 1, "interval_seconds": 5},
     "light traffic (1 request / 5 s) still dropped to zero 1 times"),
    (("autoscale", "replicas_after"), 1, "serving autoscale: replicas 1 -> 1"),
    (("autoscale", "failed"), 3, "serving autoscale: 3 of 200 requests failed"),
    (("addons", "external_metrics_api"), False, "real KEDA / HTTP add-on not up"),
    (("queue_scale", "steps"), [{"depth": 5, "expected": 3, "replicas": 1, "reached": False}],
     "serving queue_scale: depth 5 -> 1 workers, KEDA's formula gives 3"),
    (("queue_scale", "back_to_zero"), False, "serving queue_scale: not back to 0"),
    (("interceptor_overhead", "failed"), 2, "serving interceptor_overhead: 2 of 600 requests failed"),
])
def test_the_scaling_checks_name_a_figure_that_does_not_hold(path, value, message):
    import scaling
    s = good_serving()
    s[path[0]][path[1]] = value
    assert any(message in f for f in scaling.checks(s)), scaling.checks(s)


def test_without_the_add_ons_the_scaling_scenarios_fail_the_run():
    import scaling
    assert scaling.checks({}) == ["real KEDA / HTTP add-on not deployed"]


def test_the_e2e_deploys_the_keda_values_the_stack_program_installs(run):
    """e2e/scaling.py renders KEDA and the HTTP add-on with the platform's values: the very values the stack program
    hands to the two Helm releases (the same drain over the same routes)."""
    import copy
    from datetime import date

    import scaling
    from modelstack import program
    from modelstack.config.load import load_platform
    from modelstack.planner.capacity import plan_capacity
    from stacks import stack_values

    vals = copy.deepcopy(stack_values("dev"))
    platform = load_platform("dev", vals)
    values = scaling.platform_values(platform, plan_capacity(platform, date(2026, 11, 22)))
    r = run(program.main, "dev", vals)
    for release, chart in (("models-dev-addons-keda", "keda"), ("models-dev-addons-keda-http", "keda-add-ons-http")):
        assert r.named(release, "kubernetes:helm.sh/v3:Release").inputs["values"] == values[chart], chart


def test_the_queue_scenario_expects_what_kedas_formula_gives_for_its_steps():
    """The steps' depths give distinct worker counts below and at the cap, so the run tells the formula from a
    scaler that only wakes one worker, or one that ignores the cap."""
    import scaling
    from modelstack.render import autoscaling
    t = autoscaling.QueueTarget(queue_url="http://x/1/q", region="us-east-1", authentication=scaling.QUEUE_AUTH,
                                queue_length=scaling.QUEUE_LENGTH)
    k = autoscaling.Knobs(min_replicas=0, max_replicas=scaling.QUEUE_MAX, scale_to_zero=True,
                          signal=autoscaling.QUEUE_SIGNAL)
    first, total = scaling.QUEUE_STEPS[0], sum(scaling.QUEUE_STEPS)
    want = [autoscaling.queue_replicas(first, t, k, 0), autoscaling.queue_replicas(total, t, k, 3)]
    assert 1 < want[0] < scaling.QUEUE_MAX and want[1] == scaling.QUEUE_MAX < -(-total // scaling.QUEUE_LENGTH)


def test_the_queue_workers_model_renders_kedas_sqs_trigger_at_the_relay():
    import scaling

    class Queue:
        queue_url, endpoint = "http://10.9.8.2:4000/123456789012/serve-queue", "http://10.9.8.2:4000"

    m = scaling.models("e2e/real", Queue())[scaling.QUEUE]
    assert m["overrides"]["queue_scaling"]["endpoint"] == Queue.endpoint
    assert scaling.QUEUE not in scaling.models("e2e/real")


def test_the_e2e_stack_plans_the_queue_workers_with_kedas_sqs_trigger_and_their_auth():
    """e2e/stack with the driver's `serving` and `queue_auth` config, planned offline as `pulumi up` runs it: the
    workers' ScaledObject reads the relay's SQS from zero with the TriggerAuthentication of test keys it names."""
    import json

    import scaling
    from modelstack import cli

    class Queue:
        queue_url, endpoint = "http://10.9.8.2:4000/123456789012/serve-queue", "http://10.9.8.2:4000"

    doc = cli.plan_program(str(ROOT / "e2e" / "stack"), stack="e2e", overrides=[
        "kubeconfig=x", f"serving={json.dumps(scaling.models('e2e/real', Queue()))}",
        f"queue_auth={json.dumps(scaling.QueueBackend.auth(None, 'models'))}"])  # type: ignore[arg-type]
    (so,) = [r for r in doc["resources"] if r["type"].endswith(":ScaledObject") and scaling.QUEUE in r["urn"]]
    spec = so["inputs"]["spec"]
    (trig,) = spec["triggers"]
    assert trig["metadata"]["awsEndpoint"] == Queue.endpoint and trig["metadata"]["queueURL"] == Queue.queue_url
    assert trig["metadata"]["queueLength"] == str(scaling.QUEUE_LENGTH) and trig["authenticationRef"]["name"] == scaling.QUEUE_AUTH
    assert (spec["minReplicaCount"], spec["maxReplicaCount"], spec["cooldownPeriod"]) == (
        0, scaling.QUEUE_MAX, scaling.QUEUE_COOLDOWN_SECONDS)
    (ta,) = [r for r in doc["resources"] if r["type"].endswith(":TriggerAuthentication")]
    assert ta["inputs"]["metadata"] == {"name": scaling.QUEUE_AUTH, "namespace": "models"}
    assert {p["parameter"] for p in ta["inputs"]["spec"]["secretTargetRef"]} == {"awsAccessKeyID", "awsSecretAccessKey"}


def test_a_real_runs_report_holds_and_its_table_has_a_row_per_serving_scenario():
    """tests/fixtures/e2e_report.json is `out/e2e/report.json` of a passing `make e2e` (2026-12-04): its figures
    hold under today's checks, and the printed table names every serving scenario with its figures; a scenario
    that failed shows its error instead, and the run fails."""
    import copy
    import json

    import report
    data = json.loads((ROOT / "tests" / "fixtures" / "e2e_report.json").read_text())
    rep = report.Report()
    rep.data = copy.deepcopy(data)
    assert rep.check() == []
    table = rep.table()
    scenarios = ("rollout", "limits", "dns", "overhead", "scale_from_zero", "autoscale", "interceptor_overhead",
                 "queue_scale")
    for key in scenarios:
        (line,) = [x for x in table.splitlines() if x.split("  ")[0] == f"serving {key}"]
        assert "error" not in line
    assert "depth 5 -> 3 workers (formula 3)" in table and table.endswith("all figures hold")
    rep.data = copy.deepcopy(data)
    rep.data["serving"]["queue_scale"] = {"error": "RuntimeError: SQS (moto): down"}
    assert any("serving queue_scale: RuntimeError" in f for f in rep.check())
    (line,) = [x for x in rep.table().splitlines() if x.startswith("serving queue_scale ")]
    assert line.endswith("error: RuntimeError: SQS (moto): down")
