"""The stack program wires observability: rules and Alertmanager on the prometheus release, the SNS role bound before
it installs, Grafana after it, the outputs `get` reads, and the plan's listing (under Pulumi's mocks)."""

from __future__ import annotations

import copy

from modelstack import program
from modelstack.config.schema import CONFIG_KEY
from modelstack.plan import report
from stacks import stack_values

TOPIC = "arn:aws:sns:us-east-1:123456789012:model-alerts"


def test_sns_receiver_gets_its_role_before_the_prometheus_release(run):
    vals = copy.deepcopy(stack_values("prod"))
    vals[CONFIG_KEY]["cluster"]["observability"] = {"alerts": {"receivers": {
        "oncall": {"kind": "sns", "topic_arn": TOPIC, "severities": ["critical"]}}}}
    r = run(program.main, "prod", vals)
    assoc = r.named("models-prod-addons-alertmanager", "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert (assoc.inputs["serviceAccount"], assoc.inputs["namespace"]) == ("alertmanager", "monitoring")
    policy = r.named("models-prod-addons-alertmanager", "aws:iam/rolePolicy:RolePolicy")
    assert TOPIC in policy.inputs["policy"] and "sns:Publish" in policy.inputs["policy"]
    prom = r.named("models-prod-addons-prometheus")
    assert assoc.urn in prom.dependencies and policy.urn in prom.dependencies  # credentials before the pods
    am = prom.inputs["values"]["alertmanager"]
    assert am["enabled"] and am["serviceAccount"]["name"] == "alertmanager"
    assert [x["name"] for x in am["config"]["receivers"]] == ["modelstack-null", "oncall"]
    # Alertmanager keeps a claim: it names the encrypted class, which the EBS CSI driver add-on serves.
    assert am["persistence"]["storageClass"] == "modelstack-gp3"
    assert r.named("models-prod-addons-ebs-csi-driver", "aws:eks/addon:Addon")
    assert r.named("models-prod-addons-storage-class").urn in prom.dependencies
    listed = {o["what"] for o in report.observability(r.resources)}
    assert {"prometheus server", "kube-state-metrics", "alertmanager", "grafana", "grafana dashboards"} <= listed


def test_without_receivers_no_alertmanager_and_outputs_for_get(run):
    r = run(program.main, "dev", stack_values("dev"))
    prom = next(x for x in r.resources if x.name.endswith("-addons-prometheus"))
    assert "alertmanager" not in prom.inputs["values"] or not prom.inputs["values"]["alertmanager"].get("enabled")
    assert prom.inputs["values"]["serverFiles"]["alerting_rules.yml"]["groups"]
    assert not [x for x in r.resources if x.name.endswith("-addons-alertmanager")]
    assert set(r.exports["models"]) == set(stack_values("dev")[CONFIG_KEY]["models"])
    assert r.exports["observability"]["prometheus"] == {"namespace": "monitoring", "service": "prometheus-server", "port": 80}
    assert r.exports["region"] == "us-east-1"
