"""Helm values for what observability adds: rule files, kube-state-metrics and Alertmanager on the prometheus chart,
and the Grafana chart's values (pure).

prometheus chart 29.27.0 (prometheus-community/helm-charts `charts/prometheus/`): `serverFiles` entries are
written with `toYaml` (no `tpl`), so `{{ $value }}` in rule annotations reaches Prometheus untouched; its
`prometheus.yml` already loads `/etc/config/alerting_rules.yml` and `recording_rules.yml`; with
`alertmanager.enabled` it discovers the subchart's pods (port 9093). kube-state-metrics 8.4.0 (app 2.20.0):
`metricLabelsAllowlist` entries are `<resource>=[label,...]`; its Service carries `prometheus.io/scrape`
(`prometheusScrape: true`), so the chart's `kubernetes-service-endpoints` job scrapes it. alertmanager 1.42.0 (app
v0.34.0): `config` is written as alertmanager.yml, `extraSecretMounts`, `serviceAccount.name`.

grafana chart 10.5.15 (grafana/helm-charts `charts/grafana/`, app 12.3.1): `datasources` and
`dashboardProviders` are provisioning files; `dashboardsConfigMaps: {<provider>: <ConfigMap>}` mounts a
ConfigMap at `/var/lib/grafana/dashboards/<provider>` (inline `dashboards` would add a curl init container from
Docker Hub; a ConfigMap of ours does not).
"""

from __future__ import annotations

from typing import Any, Optional

from modelstack.render import alerts, dashboards, metrics
from modelstack.render.addon_values import system_placement

GRAFANA = "grafana"
"""The Grafana Deployment and Service name (`fullnameOverride`)."""
GRAFANA_PORT = 80
DASHBOARD_PROVIDER = "modelstack"
DASHBOARDS_CONFIG_MAP = "modelstack-dashboards"


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` merged over `base` (nested mappings merged, anything else replaced), as Helm merges values."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def prometheus_values(system_pool: str, alerting: dict[str, Any], recording: dict[str, Any],
                      routing: Optional[alerts.AlertRouting]) -> dict[str, Any]:
    """What observability adds to the prometheus release's values: the rule files, kube-state-metrics (replicas,
    pod phases, node labels for the rules and dashboards), and with receivers the Alertmanager that sends alerts."""
    allow = ",".join(metrics.NODE_LABELS_ALLOWLIST)
    values: dict[str, Any] = {
        "serverFiles": {"alerting_rules.yml": alerting, "recording_rules.yml": recording},
        "kube-state-metrics": {"enabled": True, "metricLabelsAllowlist": [f"nodes=[{allow}]"],
                               **system_placement(system_pool)},
    }
    if routing is not None and routing.receivers:
        values["alertmanager"] = {
            "enabled": True, **system_placement(system_pool),
            "config": {"enabled": True, **alerts.alertmanager_config(routing)},
            "extraSecretMounts": alerts.secret_mounts(routing),
            "serviceAccount": {"create": True, "name": alerts.ALERTMANAGER_SERVICE_ACCOUNT},
        }
    return values


def grafana_values(system_pool: str, prometheus_url: str) -> dict[str, Any]:
    """Grafana on the system pool: the in-cluster Prometheus as its one data source, our dashboards provisioned
    read-only from DASHBOARDS_CONFIG_MAP. No persistence: everything it shows is provisioned again on a restart."""
    return {
        "fullnameOverride": GRAFANA,
        **system_placement(system_pool),
        "service": {"port": GRAFANA_PORT},
        "persistence": {"enabled": False},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        "datasources": {"datasources.yaml": {"apiVersion": 1, "datasources": [{
            "name": "Prometheus", "type": "prometheus", "uid": dashboards.DATASOURCE_UID, "url": prometheus_url,
            "access": "proxy", "isDefault": True, "editable": False}]}},
        "dashboardProviders": {"dashboardproviders.yaml": {"apiVersion": 1, "providers": [{
            "name": DASHBOARD_PROVIDER, "orgId": 1, "folder": dashboards.FOLDER, "type": "file",
            "disableDeletion": True, "editable": False, "allowUiUpdates": False,
            "options": {"path": f"/var/lib/grafana/dashboards/{DASHBOARD_PROVIDER}"}}]}},
        "dashboardsConfigMaps": {DASHBOARD_PROVIDER: DASHBOARDS_CONFIG_MAP},
        "grafana.ini": {"analytics": {"check_for_updates": False, "reporting_enabled": False}},
    }
