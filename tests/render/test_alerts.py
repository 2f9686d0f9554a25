"""Alert and price rules of every shipped stack, checked and unit-tested by the real promtool (Prometheus 3.14.0, the
chart pin's app version, built from its Go module by tools/gotools.py); Alertmanager configs checked by amtool 0.34.0.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

import gotools
from modelstack.render import alerts
from observability_stacks import observability
from stacks import STACKS


@pytest.fixture(scope="session")
def promtool() -> Path:
    return gotools.build("promtool")


@pytest.fixture(scope="session")
def amtool() -> Path:
    return gotools.build("amtool")


def _run(tool: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(tool), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_tools_are_the_pinned_versions(promtool, amtool):
    assert "version 3.14.0" in _run(promtool, "--version", cwd=Path.cwd()).stdout
    assert "version 0.34.0" in _run(amtool, "--version", cwd=Path.cwd()).stdout


@pytest.mark.parametrize("env", STACKS)
def test_every_shipped_stack_renders_rules_promtool_accepts(env, promtool, tmp_path):
    platform, obs = observability(env)
    (tmp_path / "alerting.yml").write_text(yaml.safe_dump(obs.alerting))
    (tmp_path / "recording.yml").write_text(yaml.safe_dump(obs.recording))
    p = _run(promtool, "check", "rules", "alerting.yml", "recording.yml", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    groups = {g["name"]: g for g in obs.alerting["groups"]}
    assert set(groups) == {f"modelstack-{m}" for m in platform.config.models}
    for name, m in platform.config.models.items():
        names = [r["alert"] for r in groups[f"modelstack-{name}"]["rules"]]
        want = ["ModelErrorRateHigh", "ModelLatencyAboveTimeout", "ModelPodsPendingTooLong"]
        assert names == want + (["ModelScaleFromZeroFailed"] if m.autoscaling.scale_to_zero else [])
    # one price series per (type, capacity) the stack can run, each a positive constant
    prices = obs.recording["groups"][0]["rules"]
    assert prices and all(float(r["expr"][len("vector("):-1]) > 0 for r in prices)


def _model(**kw) -> alerts.ModelAlerting:
    return alerts.ModelAlerting(**{"model": "sentiment", "namespace": "models", "response_seconds": 600,
                                   "cold_start_seconds": 300, "scale_to_zero": True, **kw})


def _series(metric: str, labels: dict[str, str], values: str) -> dict:
    sel = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {"series": f"{metric}{{{sel}}}", "values": values}


PROXY = {"modelstack_io_model": "sentiment", "namespace": "models", "proxy": "model", "pod": "sentiment-7d4f9-abcde"}


def test_promtool_unit_tests_of_the_error_rate_and_pending_alerts(promtool, tmp_path):
    rules = alerts.alerting_rules([_model()], alerts.Thresholds(error_rate=0.05))
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    lbl = {"model": "sentiment", "namespace": "models"}
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [
        {   # 10 req/s, 1 in 10 answered 5xx from minute 0: fires once it held 5 minutes (first rate at 1m)
            "interval": "1m",
            "input_series": [
                _series("haproxy_frontend_http_requests_total", PROXY, "0+600x20"),
                _series("haproxy_frontend_http_responses_total", {**PROXY, "code": "5xx"}, "0+60x20"),
                # another model's errors must not count
                _series("haproxy_frontend_http_responses_total",
                        {**PROXY, "modelstack_io_model": "sentiment-canary", "pod": "sentiment-canary-1-a", "code": "5xx"},
                        "0+600x20"),
            ],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "ModelErrorRateHigh", "exp_alerts": []},
                {"eval_time": "7m", "alertname": "ModelErrorRateHigh", "exp_alerts": [
                    {"exp_labels": {**lbl, "severity": "critical"},
                     "exp_annotations": {
                         "summary": "sentiment: 10% of requests answered 5xx",
                         "description": "More than 5% of sentiment's requests got a 5xx for 5m (model errors, "
                                        "timeouts, and 503s when every replica is full)."}}]},
            ]},
        {   # 1 in 100 answered 5xx: under the threshold, never fires
            "interval": "1m",
            "input_series": [
                _series("haproxy_frontend_http_requests_total", PROXY, "0+600x20"),
                _series("haproxy_frontend_http_responses_total", {**PROXY, "code": "5xx"}, "0+6x20"),
            ],
            "alert_rule_test": [{"eval_time": "15m", "alertname": "ModelErrorRateHigh", "exp_alerts": []}]},
        {   # one pod Pending for 8 minutes (budget 300 s), another only 3 minutes, a canary pod for 8
            "interval": "1m",
            "input_series": [
                _series("kube_pod_status_phase", {"namespace": "models", "pod": "sentiment-7d4f9-abcde", "phase": "Pending"},
                        "1x10"),
                _series("kube_pod_status_phase", {"namespace": "models", "pod": "sentiment-on-demand-5c8b7-xyz12",
                                                  "phase": "Pending"}, "1x3 0x7"),
                _series("kube_pod_status_phase", {"namespace": "models", "pod": "sentiment-canary-5c8b7-xyz12",
                                                  "phase": "Pending"}, "1x10"),
            ],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "ModelPodsPendingTooLong", "exp_alerts": []},
                {"eval_time": "6m", "alertname": "ModelPodsPendingTooLong", "exp_alerts": [
                    {"exp_labels": {**lbl, "severity": "warning", "pod": "sentiment-7d4f9-abcde"},
                     "exp_annotations": {
                         "summary": "sentiment: pod sentiment-7d4f9-abcde Pending longer than the 300s cold-start budget",
                         "description": "Its node did not arrive (capacity, quota, spot availability) or it cannot be "
                                        "scheduled; see `modelstack get sentiment` for its events."}}]},
            ]},
        {   # scaled from zero: 1 desired, none available for 6 minutes -> fires after the 300 s budget
            "interval": "1m",
            "input_series": [
                _series("kube_deployment_spec_replicas", {"namespace": "models", "deployment": "sentiment"}, "0 0 1x8"),
                _series("kube_deployment_status_replicas_available", {"namespace": "models", "deployment": "sentiment"},
                        "0x10"),
            ],
            "alert_rule_test": [
                {"eval_time": "6m", "alertname": "ModelScaleFromZeroFailed", "exp_alerts": []},
                {"eval_time": "8m", "alertname": "ModelScaleFromZeroFailed", "exp_alerts": [
                    {"exp_labels": {**lbl, "severity": "critical"},
                     "exp_annotations": {
                         "summary": "sentiment: scaled up from zero but no replica is available after 300s",
                         "description": "Requests held by the interceptor time out. Check the pod's events (image "
                                        "pull, node launch, start-up probe)."}}]},
            ]},
    ]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    p = _run(promtool, "test", "rules", "tests.yml", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS" in p.stdout


def test_promtool_fails_a_wrong_expectation(promtool, tmp_path):
    # Guards the test above: promtool really evaluates (an alert expected where none fires is a failure).
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(alerts.alerting_rules([_model()])))
    tests = {"rule_files": ["rules.yml"], "tests": [{"interval": "1m", "input_series": [
        _series("haproxy_frontend_http_requests_total", PROXY, "0+600x20")],
        "alert_rule_test": [{"eval_time": "10m", "alertname": "ModelErrorRateHigh",
                             "exp_alerts": [{"exp_labels": {"model": "sentiment", "namespace": "models",
                                                            "severity": "critical"}}]}]}]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))
    assert _run(promtool, "test", "rules", "tests.yml", cwd=tmp_path).returncode != 0


ROUTING = alerts.AlertRouting((
    alerts.Receiver("oncall-sns", "sns", ("critical",), topic_arn="arn:aws:sns:us-east-1:123456789012:model-alerts"),
    alerts.Receiver("team-slack", "slack", channel="#ml-alerts", secret="alert-receivers", key="slack-url"),
    alerts.Receiver("pager", "pagerduty", ("critical",), secret="alert-receivers", key="pagerduty-key"),
    alerts.Receiver("hook", "webhook", ("warning",), secret="hooks", key="url"),
), region="us-east-1")


def test_alertmanager_config_passes_amtool(amtool, tmp_path):
    cfg = alerts.alertmanager_config(ROUTING)
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(cfg))
    p = _run(amtool, "check-config", "alertmanager.yml", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    # every receiver gets the alerts of its severities, none of the others
    routes = {r["receiver"]: r for r in cfg["route"]["routes"]}
    assert routes["oncall-sns"]["matchers"] == ['severity=~"critical"']
    assert routes["team-slack"]["matchers"] == ['severity=~"critical|warning"']
    assert all(r["continue"] for r in routes.values())
    assert cfg["route"]["receiver"] == alerts.NULL_RECEIVER
    slack = next(r for r in cfg["receivers"] if r["name"] == "team-slack")["slack_configs"][0]
    assert slack["api_url_file"] == "/etc/alertmanager/secrets/alert-receivers/slack-url"
    mounts = alerts.secret_mounts(ROUTING)
    assert [m["secretName"] for m in mounts] == ["alert-receivers", "hooks"]


def test_amtool_routes_alerts_by_severity(amtool, tmp_path):
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(alerts.alertmanager_config(ROUTING)))

    def route(severity: str) -> str:
        p = _run(amtool, "config", "routes", "test", "--config.file=alertmanager.yml", f"severity={severity}",
                 "alertname=ModelErrorRateHigh", cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        return p.stdout.strip()

    assert route("critical") == "oncall-sns,team-slack,pager"
    assert route("warning") == "team-slack,hook"


def test_routing_problems_are_refused():
    bad = alerts.AlertRouting((alerts.Receiver("a", "sns"), alerts.Receiver("a", "slack", secret="s", key="k")))
    with pytest.raises(ValueError, match="sns needs topic_arn.*receiver 'a' given twice"):
        alerts.alertmanager_config(bad)
