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
    ({"grafana": "yes"}, f"{P}.grafana", "'yes'",
     "true (Grafana on the system pool), false, or managed (Amazon Managed Grafana)"),
    ({"grafana": 1}, f"{P}.grafana", "1", "true (Grafana on the system pool), false, or managed (Amazon Managed Grafana)"),
    ({"prometheus": False, "grafana": "managed"}, P, "grafana: managed or alerts.receivers with prometheus: false",
     "prometheus: true (dashboards and alerts read the Prometheus modelstack installs), or grafana: false and no alerts.receivers"),
    ({"managed_grafana": {}}, P, "managed_grafana with grafana unset", "managed_grafana only with grafana: managed"),
    ({"grafana": True, "managed_grafana": {}}, P, "managed_grafana with grafana true",
     "managed_grafana only with grafana: managed"),
    ({"grafana": "managed", "managed_grafana": {"authentication": ["SAML"]}}, f"{P}.managed_grafana",
     "SAML without saml", "a saml block exactly when authentication includes SAML"),
    ({"grafana": "managed", "managed_grafana": {"saml": {"idp_metadata_url": "https://idp/m", "editor_role_values": ["e"]}}},
     f"{P}.managed_grafana", "saml without SAML in authentication", "a saml block exactly when authentication includes SAML"),
    ({"grafana": "managed", "managed_grafana": {"authentication": ["AWS_SSO", "AWS_SSO"]}}, f"{P}.managed_grafana",
     "authentication ['AWS_SSO', 'AWS_SSO']", "each of AWS_SSO and SAML at most once"),
    ({"grafana": "managed", "managed_grafana": {"authentication": ["OKTA"]}}, f"{P}.managed_grafana.authentication[0]",
     "'OKTA'", "one of 'AWS_SSO' or 'SAML'"),
    ({"grafana": "managed", "managed_grafana": {"workspace_id": "g-0123456789", "authentication": ["SAML"]}},
     f"{P}.managed_grafana", "authentication with workspace_id",
     "workspace_id alone (an existing workspace keeps its own sign-in and users)"),
    ({"grafana": "managed", "managed_grafana": {"workspace_role_name": "amg"}}, f"{P}.managed_grafana",
     "workspace_role_name without workspace_id",
     "workspace_role_name only with workspace_id (modelstack makes a created workspace's role)"),
    ({"grafana": "managed", "managed_grafana": {"workspace_id": "ws-1"}}, f"{P}.managed_grafana.workspace_id", "'ws-1'",
     "a string matching ^g-[0-9a-f]{10}$"),
    ({"grafana": "managed", "managed_grafana": {"groups": {"ADMIN": ["alice"]}}}, f"{P}.managed_grafana.groups",
     "ADMIN: 'alice'", "IAM Identity Center group ids (the identity store's GroupId, such as "
     "90676d2b5c-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d)"),
    ({"grafana": "managed", "managed_grafana": {"authentication": ["SAML"], "groups": {"VIEWER": []},
                                                "saml": {"idp_metadata_url": "https://idp/m", "editor_role_values": ["e"]}}},
     f"{P}.managed_grafana", "groups without AWS_SSO", "groups only with AWS_SSO in authentication"),
    ({"grafana": "managed", "managed_grafana": {"remote_write": "some"}}, f"{P}.managed_grafana.remote_write", "'some'",
     "one of 'dashboards' or 'all'"),
    ({"grafana": "managed", "managed_grafana": {"active_viewers": -1}}, f"{P}.managed_grafana.active_viewers", "-1",
     "an integer >= 0"),
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


def test_managed_grafana_defaults_and_options():
    obs = _load({"grafana": "managed"}).config.cluster.observability
    m = obs.grafana_managed
    assert obs.grafana_enabled and (m.authentication, m.saml, m.workspace_id, m.active_editors) == (["AWS_SSO"], None, None, 1)
    assert _load({}).config.cluster.observability.grafana_managed is None
    saml = {"idp_metadata_url": "https://idp.example.com/m", "editor_role_values": ["ml"]}
    m = _load({"grafana": "managed", "managed_grafana": {"authentication": ["AWS_SSO", "SAML"], "saml": saml}}
              ).config.cluster.observability.grafana_managed
    assert m.saml.role_assertion == "role" and m.saml.editor_role_values == ["ml"]
    m = _load({"grafana": "managed", "managed_grafana": {"workspace_id": "g-0123456789", "workspace_role_name": "amg"}}
              ).config.cluster.observability.grafana_managed
    assert (m.workspace_id, m.workspace_role_name) == ("g-0123456789", "amg")


def test_managed_grafana_problems_in_one_report():
    with pytest.raises(ConfigError) as e:
        _load({"grafana": "managed", "managed_grafana": {"active_editors": -1, "workspace_id": "x"},
               "alerts": {"error_rate": 2}})
    assert len(e.value.issues) == 3


def test_the_readme_managed_grafana_examples_load():
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    part = text.split("**Amazon Managed Grafana**", 1)[1]
    full, existing = re.findall(r"```yaml\n(.*?)```", part, re.S)[:2]
    obs = yaml.safe_load(full)["cluster"]["observability"]
    m = _load(obs).config.cluster.observability.grafana_managed
    assert m.authentication == ["AWS_SSO", "SAML"] and m.saml.editor_role_values == ["ml-engineers"]
    assert (m.remote_write, m.active_editors, m.active_viewers) == ("dashboards", 3, 10)
    m = _load({"grafana": "managed", **yaml.safe_load(existing)}).config.cluster.observability.grafana_managed
    assert (m.workspace_id, m.workspace_role_name) == ("g-0123456789", "shared-grafana-role")
