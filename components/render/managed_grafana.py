"""Amazon Managed Grafana (AMG) reading Amazon Managed Service for Prometheus (AMP): the in-cluster Prometheus's
remote write, the IAM documents of both sides and the Grafana data source (pure; ManagedObservability wires them).

Facts (components/data/UPSTREAM.md "Amazon Managed Grafana"):
- prometheus chart 29.27.0 `server.remoteWrite` is written into prometheus.yml's `remote_write` as given (only `url`
  goes through `tpl`); the server's ServiceAccount is `prometheus-server` (`serviceAccounts.server.create` true,
  name "" -> the server's fullname, our `server.fullnameOverride`).
- Prometheus 3.14.0 (the chart's app) signs remote writes with `sigv4` from prometheus/sigv4 v0.4.1, which loads
  credentials with aws-sdk-go-v2's default chain (`config.LoadDefaultConfig`): the container-credentials endpoint
  EKS Pod Identity injects is in it. Service name `aps`.
- AMP's query actions are the four of the AWS managed policy AmazonPrometheusQueryAccess; remote write is
  `aps:RemoteWrite`. Both are scoped to the workspace ARN.
- AMG created through the API takes `permission_type` CUSTOMER_MANAGED and a role the service `grafana.amazonaws.com`
  assumes; the Prometheus data source then signs with that role (`sigV4AuthType` "workspace-iam-role", as
  aws-observability/terraform-aws-observability-accelerator provisions it).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Optional, Sequence

from modelstack.render import dashboards, iam

REMOTE_WRITE_PATH = "api/v1/remote_write"
"""Appended to the AMP workspace's `prometheus_endpoint` (which ends with '/')."""
PROMETHEUS_SERVICE_ACCOUNT = "prometheus-server"
"""The prometheus chart's server ServiceAccount (our fullnameOverride), bound to the remote-write role."""
GRAFANA_SERVICE = "grafana.amazonaws.com"
GRAFANA_VERSION = "12.4"
"""AMG workspace version: the dashboards are Grafana 12 JSON (render/dashboards.py, schema 12.3.1). 13.x moves SigV4
Prometheus data sources to a separate plugin."""
QUERY_ACTIONS = ("aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata")
REMOTE_WRITE_ACTIONS = ("aps:RemoteWrite",)
TOKEN_SECONDS_TO_LIVE = 30 * 24 * 3600
"""The longest a workspace service-account token may live (30 days, pulumi-aws WorkspaceServiceAccountToken)."""


def remote_write(prometheus_endpoint: str, region: str, keep: Optional[Sequence[str]] = None) -> list[dict[str, Any]]:
    """`server.remoteWrite` of the prometheus chart: samples to the AMP workspace, signed with SigV4 in `region` by the
    credentials the server's pod gets from EKS Pod Identity. `keep`: only series of these metric names (a
    `write_relabel_configs` keep on `__name__`; Prometheus anchors the regex); None: every series."""
    if not prometheus_endpoint.startswith("https://"):
        raise ValueError(f"an AMP prometheus_endpoint starts with https://, got {prometheus_endpoint!r}")
    entry: dict[str, Any] = {"url": prometheus_endpoint.rstrip("/") + "/" + REMOTE_WRITE_PATH, "sigv4": {"region": region}}
    if keep is not None:
        if not keep:
            raise ValueError("remote write keeping no metric would send nothing")
        entry["write_relabel_configs"] = [{"source_labels": ["__name__"], "action": "keep",
                                           "regex": "|".join(re.escape(n) for n in sorted(set(keep)))}]
    return [entry]


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_SELECTORS = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]|\$\w+")
_NAME = re.compile(r"(?<![A-Za-z0-9_:.])[A-Za-z_:][A-Za-z0-9_:]*(?![A-Za-z0-9_:]|\s*\()")
"""A name not called as a function (`sum(`, `rate(`, `by (`) and not the tail of a number or duration (`5m`, `1e9`)."""
_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or",
                       "unless", "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                       "bottomk", "topk", "quantile", "limitk", "limit_ratio"})
"""Binary and aggregation operators, which may stand before `by (...)` rather than `(`."""


def metric_names(dashboards_: Iterable[dict[str, Any]]) -> list[str]:
    """Every metric a dashboard's queries may read (panel targets' `expr`, template variables' `query`/`definition`):
    the PromQL names outside strings, label matchers, ranges and `$variables`, less function calls and keywords.
    Grouping labels come along too: keeping a name no series has costs nothing, missing one would blank a panel."""
    exprs: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                if k in ("expr", "query", "definition") and isinstance(x, str):
                    exprs.append(x)
                else:
                    walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    for d in dashboards_:
        walk(d)
    names: set[str] = set()
    for e in exprs:
        bare = _SELECTORS.sub(" ", _STRINGS.sub(" ", e))
        names.update(m.group(0) for m in _NAME.finditer(bare) if m.group(0) not in _KEYWORDS)
    return sorted(names)


def remote_write_policy(workspace_arn: str) -> dict[str, Any]:
    """The prometheus-server role: remote write to this one workspace."""
    return iam.statements_policy([{"actions": REMOTE_WRITE_ACTIONS, "resources": [workspace_arn]}])


def query_policy(workspace_arn: str) -> dict[str, Any]:
    """The Grafana workspace role: read this one AMP workspace."""
    return iam.statements_policy([{"actions": QUERY_ACTIONS, "resources": [workspace_arn]}])


def workspace_trust_policy(account_id: str) -> dict[str, Any]:
    """The AMG workspace role's trust: the Grafana service, for workspaces of this account only (confused-deputy
    guard `aws:SourceAccount`)."""
    return {"Version": iam.POLICY_VERSION, "Statement": [{
        "Effect": "Allow", "Principal": {"Service": GRAFANA_SERVICE}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}}]}


def datasource_json(region: str, scrape_interval_seconds: int) -> dict[str, Any]:
    """`jsonData` of the Prometheus data source every dashboard names (uid dashboards.DATASOURCE_UID)."""
    return {"httpMethod": "POST", "sigV4Auth": True, "sigV4AuthType": "workspace-iam-role", "sigV4Region": region,
            "timeInterval": f"{scrape_interval_seconds}s"}


def datasource_uid(stack: str) -> str:
    """The data source's uid in the workspace, one per stack: several stacks may share an existing workspace."""
    return dashboards.uid(stack, "amp")


def folder(stack: str) -> tuple[str, str]:
    """(uid, title) of the folder the stack's dashboards go in, one per stack for the same reason."""
    return dashboards.uid(stack, "folder"), f"{dashboards.FOLDER} {stack}"


def retarget(dashboard_json: str, uid: str) -> str:
    """A generated dashboard with every reference to the provisioned data source (dashboards.DATASOURCE_UID) pointed
    at `uid` instead; everything else as it was."""
    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            if v.get("uid") == dashboards.DATASOURCE_UID and v.get("type") == dashboards.DATASOURCE["type"]:
                return {**v, "uid": uid}
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v
    return json.dumps(walk(json.loads(dashboard_json)), sort_keys=True)


def grafana_url(endpoint: str) -> str:
    """The workspace's `endpoint` (a host name) as the URL the Grafana provider and users open."""
    return endpoint if endpoint.startswith("https://") else f"https://{endpoint}"
