"""The managed-Grafana pins hold to the facts read upstream (components/data/UPSTREAM.md "Amazon Managed Grafana"):
the installed SDKs say what the component relies on, and the record names where each fact was read."""

from __future__ import annotations

import importlib.util
import inspect
import json
from pathlib import Path

import pulumi_aws as aws
import pulumiverse_grafana as grafana

from modelstack.render import addon_values, managed_grafana as amg

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = (ROOT / "components" / "data" / "UPSTREAM.md").read_text()
SECTION = UPSTREAM.split("## Amazon Managed Grafana and AMP", 1)[1].split("\n## ", 1)[0]


def _plugin_version(package: str) -> str:
    spec = importlib.util.find_spec(package)
    return json.loads((Path(spec.origin).parent / "pulumi-plugin.json").read_text())["version"]


def test_the_grafana_provider_is_the_version_whose_source_was_read():
    pin = next(line.split("==")[1] for line in (ROOT / "requirements" / "upstream.txt").read_text().splitlines()
               if line.startswith("pulumiverse-grafana=="))
    assert _plugin_version("pulumiverse_grafana") == pin == "2.38.0"
    facts = json.loads((ROOT / "components" / "data" / "replace_on.json").read_text())["sources"]
    assert facts["pulumiverse-grafana"]["version"] == pin
    assert f"pulumiverse-grafana {pin}" in SECTION and "terraform-provider-grafana/v4 v4.44.0" in SECTION
    assert facts["terraform-provider-grafana"]["version"] == "v4.44.0"


def test_the_workspace_version_and_token_life_are_what_the_aws_sdk_allows():
    src = inspect.getsource(aws.grafana.WorkspaceArgs)
    supported = src.split("Supported values are", 1)[1].split("If not specified", 1)[0]
    assert f"`{amg.GRAFANA_VERSION}`" in supported, supported
    token = inspect.getsource(aws.grafana.WorkspaceServiceAccountToken)
    assert "up to 30 days" in token and amg.TOKEN_SECONDS_TO_LIVE == 30 * 24 * 3600
    workspace = inspect.getsource(aws.grafana.Workspace)
    assert "CUSTOMER_MANAGED" in workspace and "grafana.amazonaws.com" in workspace


def test_the_grafana_sdk_takes_the_arguments_the_component_passes():
    for cls, args in ((grafana.oss.DataSource, ("type", "uid", "url", "is_default", "access_mode", "json_data_encoded")),
                      (grafana.oss.Folder, ("title", "uid")),
                      (grafana.oss.Dashboard, ("config_json", "folder", "overwrite", "message")),
                      (grafana.Provider, ("url", "auth"))):
        src = inspect.getsource(cls._internal_init)
        assert all(f" {a}:" in src or f"({a}:" in src or f"{a}=" in src for a in args), cls


def test_the_remote_write_role_is_bound_to_the_charts_server_service_account():
    # serviceAccounts.server.name "" -> the server's fullname, which our fullnameOverride sets.
    values = addon_values.prometheus("system")
    assert values["server"]["fullnameOverride"] == amg.PROMETHEUS_SERVICE_ACCOUNT
    assert "serviceAccounts" not in values
    assert "prometheus-29.27.0" in SECTION and "`prometheus-server`" in SECTION
    assert "prometheus/sigv4 v0.4.1" in SECTION and "LoadDefaultConfig" in SECTION
    assert f"{addon_values.SCRAPE_INTERVAL_SECONDS}s" == values["server"]["global"]["scrape_interval"]
