"""render/managed_grafana.py (pure): remote write, the IAM documents of both sides, the data source."""

from __future__ import annotations

import pytest

from modelstack.render import iam, managed_grafana as amg

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
