"""render/managed_grafana.py (pure): remote write, the IAM documents of both sides, the data source."""

from __future__ import annotations

import pytest

import json

from modelstack.render import dashboards, iam, managed_grafana as amg

ARN = "arn:aws:aps:eu-west-1:123456789012:workspace/ws-abc"
ENDPOINT = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-abc/"


def test_remote_write_goes_to_the_workspace_signed_in_its_region():
    assert amg.remote_write(ENDPOINT, "eu-west-1") == [{
        "url": "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-abc/api/v1/remote_write",
        "sigv4": {"region": "eu-west-1"}}]
    # Without the trailing slash AMP's endpoints carry, the path is the same.
    assert amg.remote_write(ENDPOINT.rstrip("/"), "eu-west-1")[0]["url"].endswith("/ws-abc/api/v1/remote_write")
    with pytest.raises(ValueError, match="https://"):
        amg.remote_write("http://aps/ws", "eu-west-1")


@pytest.mark.parametrize("policy, actions", [
    (amg.remote_write_policy, ["aps:RemoteWrite"]),
    (amg.query_policy, ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"]),
])
def test_each_role_gets_named_actions_on_the_one_workspace(policy, actions):
    doc = policy(ARN)
    assert doc["Statement"] == [{"Effect": "Allow", "Action": actions, "Resource": [ARN]}]
    assert not iam.wildcard_actions(doc)


def test_the_grafana_role_trusts_the_service_for_this_account_only():
    (st,) = amg.workspace_trust_policy("210987654321")["Statement"]
    assert st["Principal"] == {"Service": "grafana.amazonaws.com"} and st["Action"] == "sts:AssumeRole"
    assert st["Condition"] == {"StringEquals": {"aws:SourceAccount": "210987654321"}}


def test_data_source_signs_with_the_workspace_role_at_the_scrape_step():
    js = amg.datasource_json("ap-south-1", 30)
    assert (js["sigV4Auth"], js["sigV4AuthType"], js["sigV4Region"], js["timeInterval"]) == (
        True, "workspace-iam-role", "ap-south-1", "30s")


def test_grafana_url_from_the_workspace_endpoint():
    assert amg.grafana_url("g-1.grafana-workspace.us-east-1.amazonaws.com") == \
        "https://g-1.grafana-workspace.us-east-1.amazonaws.com"
    assert amg.grafana_url("https://g-1.example") == "https://g-1.example"


def test_each_stack_has_its_own_data_source_and_folder_and_its_dashboards_point_at_it():
    assert amg.datasource_uid("a-prod") != amg.datasource_uid("b-prod")
    assert amg.folder("a-prod") != amg.folder("b-prod") and amg.folder("a-prod")[1] == "modelstack a-prod"
    board = dashboards.dashboards("models-prod", "prod", [dashboards.ModelDashboard("sentiment", "models")],
                                  karpenter=True)
    for text in (dashboards.to_json(d) for d in board.values()):
        moved = json.loads(amg.retarget(text, "ms-x-amp"))
        refs = []

        def collect(v):
            if isinstance(v, dict):
                if "datasource" in v:
                    refs.append(v["datasource"])
                for x in v.values():
                    collect(x)
            elif isinstance(v, list):
                for x in v:
                    collect(x)
        collect(moved)
        assert refs and all(r == {"type": "prometheus", "uid": "ms-x-amp"} for r in refs)
        # Nothing else changes: the uid put back gives the generated dashboard.
        back = json.dumps(moved).replace('"ms-x-amp"', json.dumps(dashboards.DATASOURCE_UID))
        assert json.loads(back) == json.loads(text)


def test_metric_names_are_what_the_queries_read_not_functions_labels_or_variables():
    boards = [{"panels": [{"targets": [
        {"expr": 'sum by (pod) (rate(http_requests_total{code=~"5..",job="a"}[$__rate_interval]))'},
        {"expr": 'a_metric / on (node) group_left b:recorded_rule offset 5m'},
        {"expr": 'count(up{x="sum(fake_metric)"}) and bool_metric'}]}],
        "templating": {"list": [{"query": "label_values(kube_pod_info, namespace)", "definition": "kube_node_info"}]}}]
    names = amg.metric_names(boards)
    assert {"http_requests_total", "a_metric", "b:recorded_rule", "up", "bool_metric", "kube_pod_info",
            "kube_node_info"} <= set(names)
    assert not {"sum", "rate", "by", "on", "group_left", "offset", "count", "and", "fake_metric", "code", "job",
                "__rate_interval", "label_values"} & set(names)
    # Grouping labels may come along (harmless: no series has that name).
    assert set(names) <= {"http_requests_total", "a_metric", "b:recorded_rule", "up", "bool_metric", "kube_pod_info",
                          "kube_node_info", "pod", "node", "namespace"}


def test_keep_regex_is_escaped_sorted_and_never_empty():
    (rw,) = amg.remote_write(ENDPOINT, "eu-west-1", ["b:rule", "a.b", "b:rule"])
    assert rw["write_relabel_configs"][0]["regex"] == "a\\.b|b:rule"
    with pytest.raises(ValueError, match="nothing"):
        amg.remote_write(ENDPOINT, "eu-west-1", [])
