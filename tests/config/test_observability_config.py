"""cluster.observability.grafana / alerts: each bad input and its exact message (exit-2 report, all at once)."""

from __future__ import annotations

import copy

import pytest

from modelstack.config.load import load_platform
from modelstack.config.schema import CONFIG_KEY, ConfigError
from stacks import stack_values

P = f"{CONFIG_KEY}.cluster.observability"


def _load(obs: dict):
    v = copy.deepcopy(stack_values("prod"))
    v[CONFIG_KEY]["cluster"]["observability"] = obs
    return load_platform("prod", v, "stacks/Pulumi.prod.yaml")


@pytest.mark.parametrize("obs,path,given,allowed", [
    ({"alerts": {"receivers": {"pager": {"kind": "pagerduty"}}}}, f"{P}.alerts.receivers.pager",
     "no secret, no key", "pagerduty takes secret and key"),
    ({"alerts": {"receivers": {"ops": {"kind": "sns", "topic_arn": "arn:aws:sns:us-east-1:123456789012:a", "secret": "s"}}}},
     f"{P}.alerts.receivers.ops", "secret (not used by sns)", "sns takes topic_arn"),
    ({"alerts": {"receivers": {"x": {"kind": "email"}}}}, f"{P}.alerts.receivers.x.kind", "'email'",
     "one of 'sns', 'slack', 'pagerduty' or 'webhook'"),
    ({"alerts": {"error_rate": 0}}, f"{P}.alerts.error_rate", "0", "a number > 0"),
    ({"prometheus": False, "grafana": True}, P, "grafana: true or alerts.receivers with prometheus: false",
     "prometheus: true (dashboards and alerts read the Prometheus modelstack installs), or grafana: false and no alerts.receivers"),
])
def test_bad_observability_config(obs, path, given, allowed):
    with pytest.raises(ConfigError) as e:
        _load(obs)
    issues = {i.path: i for i in e.value.issues}
    assert path in issues, e.value.render()
    assert issues[path].given == given and issues[path].allowed == allowed


def test_every_problem_in_one_report():
    with pytest.raises(ConfigError) as e:
        _load({"alerts": {"error_rate": 2, "receivers": {"a": {"kind": "slack"}, "b": {"kind": "sns"}}}})
    assert len(e.value.issues) == 3


def test_grafana_follows_prometheus_and_receivers_are_kept():
    assert _load({}).config.cluster.observability.grafana_enabled
    assert not _load({"prometheus": False}).config.cluster.observability.grafana_enabled
    p = _load({"alerts": {"receivers": {"team": {"kind": "slack", "secret": "alert-receivers", "key": "url",
                                                 "channel": "#ml"}}}})
    r = p.config.cluster.observability.alerts.receivers["team"]
    assert (r.kind, r.secret, r.key, r.channel, r.severities) == ("slack", "alert-receivers", "url", "#ml",
                                                                    ["critical", "warning"])
