"""Managed observability: an Amazon Managed Service for Prometheus workspace the in-cluster Prometheus remote-writes
to, and Amazon Managed Grafana reading it with the generated dashboards (`cluster.observability.grafana: managed`).

The in-cluster Prometheus stays (KEDA queries it, the alert rules run in it); this component adds where its samples
go and who shows them. Documents and values come from render/managed_grafana.py.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional, Sequence, TypedDict

import pulumi
import pulumi_aws as aws
import pulumiverse_grafana as grafana
from typing_extensions import NotRequired

from modelstack.cluster.handle import ClusterHandle, inherited_depends_on
from modelstack.render import addon_values, iam, managed_grafana as amg
from modelstack.render.charts import CHARTS

TYPE = "modelstack:index:ManagedObservability"


class SamlArgs(TypedDict):
    idp_metadata_url: str
    """The identity provider's metadata URL. Required."""
    editor_role_values: Sequence[str]
    """Role assertion values that make a user Editor. Required (at least one)."""
    admin_role_values: NotRequired[Sequence[str]]
    """Values that make a user Admin. Default none."""
    role_assertion: NotRequired[str]
    """The assertion attribute holding the role. Default "role"."""


class ManagedObservabilityArgs(TypedDict):
    handle: ClusterHandle
    """The cluster whose prometheus-server ServiceAccount gets the remote-write role. Required."""
    region: str
    """AWS region of the workspaces (the cluster's). Required."""
    dashboards: Mapping[str, str]
    """Dashboard JSON by file name (render/dashboards.py). Required."""
    authentication_providers: NotRequired[Sequence[str]]
    """AWS_SSO, SAML or both, for a workspace this creates. Default ["AWS_SSO"]."""
    saml: NotRequired[SamlArgs]
    """With SAML: how the workspace trusts the identity provider. Default none."""
    groups: NotRequired[Mapping[str, Sequence[str]]]
    """IAM Identity Center group ids by workspace role (ADMIN, EDITOR, VIEWER). Default none."""
    existing_workspace_id: NotRequired[str]
    """Provision into this AMG workspace instead of creating one (then no workspace, role, SAML or groups are made
    here). Default: create one."""
    existing_workspace_role_name: NotRequired[str]
    """With `existing_workspace_id`: its IAM role, given an inline policy to query the AMP workspace. Default none."""
    remote_write_metrics: NotRequired[Sequence[str]]
    """Only series of these metric names are remote-written (render/managed_grafana.metric_names of the dashboards).
    Default: every series."""
    prometheus_namespace: NotRequired[str]
    """Namespace of the prometheus release. Default the chart pin's ("monitoring")."""
    scrape_interval_seconds: NotRequired[int]
    """The in-cluster Prometheus's scrape interval (the data source's minimum step). Default 15."""
    token_seconds_to_live: NotRequired[int]
    """Life of the workspace service-account token the Grafana provider uses. Default 30 days (the most AMG allows)."""
    tags: NotRequired[dict[str, str]]
    """AWS tags on every AWS resource. Default none."""


class ManagedObservability(pulumi.ComponentResource):
    """AMP workspace; prometheus-server's remote-write role through EKS Pod Identity; AMG workspace (or an existing
    one), its query role, a service account whose token drives the Grafana provider; the data source, a folder and
    the dashboards in it, each named from `name` so that stacks can share one workspace.

    Create it before PlatformAddons and merge `remote_write` into the prometheus release's `server.remoteWrite`: that
    output resolves only after the Pod Identity association exists, so the server's pod starts with credentials.
    """

    prometheus_workspace_arn: pulumi.Output[str]
    remote_write: pulumi.Output[list[dict[str, Any]]]
    """The prometheus chart's `server.remoteWrite` list."""
    grafana_url: pulumi.Output[str]
    """https:// URL of the AMG workspace."""
    grafana_workspace_id: pulumi.Output[str]
    dashboard_uids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: ManagedObservabilityArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE, name, None, opts)
        h = args["handle"]
        region = args["region"]
        tags = dict(args.get("tags") or {})
        child = pulumi.ResourceOptions(parent=self, depends_on=inherited_depends_on(opts))
        namespace = args.get("prometheus_namespace") or CHARTS["prometheus"].namespace
        keep = list(args["remote_write_metrics"]) if args.get("remote_write_metrics") is not None else None

        amp = aws.amp.Workspace(f"{name}-prometheus", alias=name, tags=tags, opts=child)

        writer = aws.iam.Role(f"{name}-remote-write", assume_role_policy=iam.to_json(iam.pod_identity_trust_policy()),
                              description="prometheus-server: remote write to the stack's AMP workspace (pod identity)",
                              tags=tags, opts=child)
        write_policy = aws.iam.RolePolicy(f"{name}-remote-write", role=writer.id, opts=child, policy=amp.arn.apply(
            lambda arn: iam.to_json(amg.remote_write_policy(arn))))
        association = aws.eks.PodIdentityAssociation(
            f"{name}-remote-write", cluster_name=h.cluster_name, namespace=namespace,
            service_account=amg.PROMETHEUS_SERVICE_ACCOUNT, role_arn=writer.arn, tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*inherited_depends_on(opts), write_policy]))
        self.remote_write = pulumi.Output.all(amp.prometheus_endpoint, association.association_arn).apply(
            lambda a: amg.remote_write(a[0], region, keep))

        existing = args.get("existing_workspace_id")
        if existing:
            workspace_id: pulumi.Output[str] = pulumi.Output.from_input(existing)
            endpoint = aws.grafana.get_workspace_output(workspace_id=existing).endpoint
            if args.get("existing_workspace_role_name"):
                aws.iam.RolePolicy(f"{name}-grafana-query", role=args["existing_workspace_role_name"], opts=child,
                                   policy=amp.arn.apply(lambda arn: iam.to_json(amg.query_policy(arn))))
        else:
            account = aws.get_caller_identity_output().account_id
            reader = aws.iam.Role(f"{name}-grafana", assume_role_policy=account.apply(
                lambda a: iam.to_json(amg.workspace_trust_policy(a))),
                description="Amazon Managed Grafana: query the stack's AMP workspace", tags=tags, opts=child)
            query = aws.iam.RolePolicy(f"{name}-grafana-query", role=reader.id, opts=child, policy=amp.arn.apply(
                lambda arn: iam.to_json(amg.query_policy(arn))))
            providers = list(args.get("authentication_providers") or ["AWS_SSO"])
            ws = aws.grafana.Workspace(
                f"{name}-grafana", name=name, description=f"modelstack dashboards of {name}",
                account_access_type="CURRENT_ACCOUNT", authentication_providers=providers,
                permission_type="CUSTOMER_MANAGED", role_arn=reader.arn, grafana_version=amg.GRAFANA_VERSION,
                data_sources=["PROMETHEUS"], tags=tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*inherited_depends_on(opts), query]))
            workspace_id, endpoint = ws.id, ws.endpoint
            saml = args.get("saml")
            if saml:
                aws.grafana.WorkspaceSamlConfiguration(
                    f"{name}-saml", workspace_id=ws.id, idp_metadata_url=saml["idp_metadata_url"],
                    editor_role_values=list(saml["editor_role_values"]),
                    admin_role_values=list(saml.get("admin_role_values") or []),
                    role_assertion=saml.get("role_assertion") or "role", opts=child)
            for role, ids in sorted((args.get("groups") or {}).items()):
                if ids:
                    aws.grafana.RoleAssociation(f"{name}-{role.lower()}s", workspace_id=ws.id, role=role,
                                                group_ids=list(ids), opts=child)

        account_sa = aws.grafana.WorkspaceServiceAccount(
            f"{name}-provisioner", name=f"{name}-provisioner", grafana_role="ADMIN", workspace_id=workspace_id, opts=child)
        token = aws.grafana.WorkspaceServiceAccountToken(
            f"{name}-provisioner", name=f"{name}-provisioner", service_account_id=account_sa.service_account_id,
            seconds_to_live=args.get("token_seconds_to_live", amg.TOKEN_SECONDS_TO_LIVE), workspace_id=workspace_id,
            opts=child)
        self.grafana_url = endpoint.apply(amg.grafana_url)
        provider = grafana.Provider(f"{name}-grafana", url=self.grafana_url, auth=token.key,
                                    opts=pulumi.ResourceOptions(parent=self))
        on_grafana = pulumi.ResourceOptions(parent=self, provider=provider)
        source_uid = amg.datasource_uid(name)
        grafana.oss.DataSource(
            f"{name}-prometheus", name=f"Prometheus {name}", type="prometheus", uid=source_uid,
            url=amp.prometheus_endpoint, is_default=True, access_mode="proxy",
            json_data_encoded=json.dumps(amg.datasource_json(region, args.get(
                "scrape_interval_seconds", addon_values.SCRAPE_INTERVAL_SECONDS)), sort_keys=True),
            opts=on_grafana)
        folder_uid, folder_title = amg.folder(name)
        folder = grafana.oss.Folder(f"{name}-dashboards", title=folder_title, uid=folder_uid, opts=on_grafana)
        uids = []
        for file_name, text in sorted(args["dashboards"].items()):
            uid = json.loads(text)["uid"]
            uids.append(uid)
            grafana.oss.Dashboard(f"{name}-{file_name.removesuffix('.json')}", config_json=amg.retarget(text, source_uid),
                                  folder=folder.uid,
                                  overwrite=True, message="modelstack (pulumi up)", opts=on_grafana)
        self.prometheus_workspace_arn = amp.arn
        self.grafana_workspace_id = workspace_id
        self.dashboard_uids = pulumi.Output.from_input(sorted(uids))
        self.register_outputs({"prometheus_workspace_arn": self.prometheus_workspace_arn,
                               "grafana_url": self.grafana_url, "grafana_workspace_id": self.grafana_workspace_id,
                               "dashboard_uids": self.dashboard_uids})
