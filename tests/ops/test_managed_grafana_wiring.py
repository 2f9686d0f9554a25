"""`grafana: managed` in the stack program (Pulumi mocks, offline plan): AMP and AMG replace the in-cluster Grafana,
the prometheus release remote-writes to AMP only once its ServiceAccount is bound, and the plan lists and prices it."""

from __future__ import annotations

import copy
import json

import pytest

from modelstack import program
from modelstack.capacity import cost, pricing
from modelstack.config.schema import CONFIG_KEY
from modelstack.plan import report
from modelstack.plan.runner import run_program
from modelstack.planner.capacity import plan_platform
from policies import engine
from stacks import stack_values

NAME = "models-prod-amg"


def _values(managed: dict | None = None, **obs):
    vals = copy.deepcopy(stack_values("prod"))
    o = {"grafana": "managed", **obs}
    if managed is not None:
        o["managed_grafana"] = managed
    vals[CONFIG_KEY]["cluster"]["observability"] = o
    return vals


@pytest.fixture(scope="module")
def managed_run():
    return run_program(program.main, "prod", _values())  # one program run serves the module


def test_the_in_cluster_grafana_gives_way_to_amg(managed_run):
    r = managed_run
    charts = {x.inputs.get("chart") for x in r.resources if x.type == "kubernetes:helm.sh/v3:Release"}
    assert "grafana" not in charts and "prometheus" in charts
    assert not [x for x in r.resources if x.type == "kubernetes:core/v1:ConfigMap"
                and x.inputs["metadata"]["name"] == "modelstack-dashboards"]
    comp = r.named(NAME, "modelstack:index:ManagedObservability")
    boards = [x for x in r.resources if x.type == "grafana:oss/dashboard:Dashboard"]
    platform, _ = plan_platform("prod", _values(), "stacks/Pulumi.prod.yaml")
    # One dashboard per model and one for the cluster, all under the component.
    assert len(boards) == len(platform.config.models) + 1 and all(b.parent == comp.urn for b in boards)
    titles = {json.loads(b.inputs["configJson"])["title"] for b in boards}
    assert {f"models-prod / {m}" for m in platform.config.models} | {"models-prod / cluster"} == titles


def test_prometheus_remote_writes_after_its_service_account_is_bound(managed_run):
    r = managed_run
    prom = r.named("models-prod-addons-prometheus")
    amp = r.named(f"{NAME}-prometheus", "aws:amp/workspace:Workspace")
    (rw,) = prom.inputs["values"]["server"]["remoteWrite"]
    assert (rw["url"], rw["sigv4"]) == (amp.outputs["prometheusEndpoint"] + "api/v1/remote_write", {"region": "us-east-1"})
    # By default only what the dashboards read is sent (AMP bills every sample).
    (keep,) = rw["write_relabel_configs"]
    assert keep["action"] == "keep" and keep["source_labels"] == ["__name__"]
    kept = set(keep["regex"].split("|"))
    assert {"haproxy_frontend_http_requests_total", "kube_node_labels", "modelstack:node_price_usd_per_hour",
            "DCGM_FI_DEV_GPU_UTIL"} <= kept and "sum" not in kept and "rate" not in kept
    assoc = r.named(f"{NAME}-remote-write", "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert assoc.urn in prom.dependencies
    # The rest of the chart's values stay (rules, kube-state-metrics).
    assert prom.inputs["values"]["serverFiles"]["alerting_rules.yml"]["groups"]


def test_policies_pass_and_the_plan_lists_it(managed_run):
    violations = list(engine.evaluate(managed_run.resources, engine.pack_config("prod")))
    assert not [v for v in violations if v.level == "mandatory"], violations
    listed = [o["what"] for o in report.observability(managed_run.resources)]
    assert {"amazon managed prometheus", "amazon managed grafana", "managed grafana dashboards"} <= set(listed)
    assert "grafana" not in listed and "grafana dashboards" not in listed


def test_system_group_no_longer_holds_a_grafana_pod():
    _, managed = plan_platform("prod", _values(), "stacks/Pulumi.prod.yaml")
    _, in_cluster = plan_platform("prod", stack_values("prod"), "stacks/Pulumi.prod.yaml")
    assert any(w.startswith("grafana ") for w in in_cluster.system.workloads)
    assert not any(w.startswith("grafana ") for w in managed.system.workloads)


def test_cost_counts_users_and_samples_of_this_stack():
    _, cap = plan_platform("prod", _values({"active_editors": 3, "active_viewers": 10}), "stacks/Pulumi.prod.yaml")
    m = cap.cost_inputs.managed_grafana
    assert (m.editors, m.viewers, m.workspaces, m.scrape_interval_seconds) == (3, 10, 1, 15)
    assert m.nodes_max == sum(g.nodes_max for g in cap.cost_inputs.node_groups)
    est = cost.estimate(cap.cost_inputs)
    rows = {r.resource: r for r in est.rows}
    assert rows["managed grafana editor licences"].usd_per_hour_max * 730 == pytest.approx(3 * 9.0)
    assert rows["managed grafana viewer licences"].usd_per_hour_max * 730 == pytest.approx(10 * 5.0)
    assert rows["amp samples ingested"].usd_per_hour_max == pytest.approx(
        m.active_series(True) * 3600 / 15 * pricing.AMP_USD_PER_10M_SAMPLES / 1e7)
    # An existing workspace's licences are its owner's bill; the samples are still this stack's.
    _, cap = plan_platform("prod", _values({"workspace_id": "g-0123456789"}), "stacks/Pulumi.prod.yaml")
    rows = {r.resource for r in cost.estimate(cap.cost_inputs).rows}
    assert "amp samples ingested" in rows and "managed grafana editor licences" not in rows


def test_an_existing_workspace_is_provisioned_not_created(run):
    r = run(program.main, "prod", _values({"workspace_id": "g-0123456789", "workspace_role_name": "amg-ws"}))
    assert not [x for x in r.resources if x.type == "aws:grafana/workspace:Workspace"]
    assert r.named(f"{NAME}-grafana-query", "aws:iam/rolePolicy:RolePolicy").inputs["role"] == "amg-ws"
    assert [x for x in r.resources if x.type == "grafana:oss/dashboard:Dashboard"]


def test_remote_write_all_sends_every_series(run):
    r = run(program.main, "prod", _values({"remote_write": "all"}))
    (rw,) = r.named("models-prod-addons-prometheus").inputs["values"]["server"]["remoteWrite"]
    assert "write_relabel_configs" not in rw


def test_the_observability_table_does_not_depend_on_registration_order(managed_run):
    """The mocks register what an apply makes in the order its inputs resolve; the plan's table must not move."""
    rows = report.observability(managed_run.resources)
    assert report.observability(list(reversed(managed_run.resources))) == rows
    assert [r["what"] for r in rows] == sorted((r["what"] for r in rows), key=report.OBSERVABILITY_ROWS.index)
    titles = next(r["detail"] for r in rows if r["what"] == "managed grafana dashboards").split(", ")
    assert titles == sorted(titles) and len(titles) > 1
