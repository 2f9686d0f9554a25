"""ManagedObservability under Pulumi mocks: AMP, the remote-write role bound to prometheus-server, AMG with its query
role, the Grafana provider driven by a workspace service-account token, the data source and every dashboard."""

from __future__ import annotations

import json

from modelstack.cluster.handle import ClusterHandle
from modelstack.cluster.managed_observability import ManagedObservability
from modelstack.render import dashboards, managed_grafana as amg

from cluster_fixtures import OIDC_ARN, OIDC_URL, outputs  # noqa: F401

BOARDS = {f"{n}.json": json.dumps({"uid": dashboards.uid("prod", n), "title": n, "panels": []})
          for n in ("cluster", "model-sentiment")}


def _run(run, extra=None):
    def prog():
        h = ClusterHandle.existing("k8s", cluster_name="models-prod", kubernetes_version="1.35", kubeconfig="{}",
                                   oidc_provider_arn=OIDC_ARN, oidc_provider_url=OIDC_URL,
                                   node_role_arn="arn:aws:iam::123456789012:role/n", node_role_name="n",
                                   vpc_id="vpc-1", private_subnet_ids=["subnet-a"])
        obs = ManagedObservability("obs", {"handle": h, "region": "us-east-1", "dashboards": BOARDS,
                                           "tags": {"team": "ml"}, **(extra or {})})
        obs.remote_write.apply(lambda rw: seen.update(remote_write=rw))
        obs.grafana_url.apply(lambda u: seen.update(url=u))

    seen: dict = {}
    r = run(prog, outputs=outputs)
    return r, seen


def _policy(r, name):
    return json.loads(r.named(name, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])


def test_inventory_under_the_component(run):
    r, _ = _run(run)
    comp = r.named("obs", "modelstack:index:ManagedObservability")
    assert sorted((x.type, x.name) for x in r.children(comp)) == sorted([
        ("aws:amp/workspace:Workspace", "obs-prometheus"),
        ("aws:iam/role:Role", "obs-remote-write"),
        ("aws:iam/rolePolicy:RolePolicy", "obs-remote-write"),
        ("aws:eks/podIdentityAssociation:PodIdentityAssociation", "obs-remote-write"),
        ("aws:iam/role:Role", "obs-grafana"),
        ("aws:iam/rolePolicy:RolePolicy", "obs-grafana-query"),
        ("aws:grafana/workspace:Workspace", "obs-grafana"),
        ("aws:grafana/workspaceServiceAccount:WorkspaceServiceAccount", "obs-provisioner"),
        ("aws:grafana/workspaceServiceAccountToken:WorkspaceServiceAccountToken", "obs-provisioner"),
        ("pulumi:providers:grafana", "obs-grafana"),
        ("grafana:oss/dataSource:DataSource", "obs-prometheus"),
        ("grafana:oss/folder:Folder", "obs-dashboards"),
        ("grafana:oss/dashboard:Dashboard", "obs-cluster"),
        ("grafana:oss/dashboard:Dashboard", "obs-model-sentiment"),
    ])


def test_least_privilege_on_the_one_amp_workspace(run):
    r, _ = _run(run)
    amp_arn = r.named("obs-prometheus", "aws:amp/workspace:Workspace").outputs["arn"]
    write = _policy(r, "obs-remote-write")["Statement"]
    assert write == [{"Effect": "Allow", "Action": ["aps:RemoteWrite"], "Resource": [amp_arn]}]
    query = _policy(r, "obs-grafana-query")["Statement"]
    assert query == [{"Effect": "Allow", "Action": list(amg.QUERY_ACTIONS), "Resource": [amp_arn]}]
    trust = json.loads(r.named("obs-grafana", "aws:iam/role:Role").inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "grafana.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    pod = json.loads(r.named("obs-remote-write", "aws:iam/role:Role").inputs["assumeRolePolicy"])["Statement"][0]
    assert pod["Principal"] == {"Service": "pods.eks.amazonaws.com"}


def test_prometheus_server_is_bound_before_remote_write_resolves(run):
    r, seen = _run(run)
    assoc = r.named("obs-remote-write", "aws:eks/podIdentityAssociation:PodIdentityAssociation").inputs
    assert (assoc["clusterName"], assoc["namespace"], assoc["serviceAccount"]) == (
        "models-prod", "monitoring", "prometheus-server")
    endpoint = r.named("obs-prometheus", "aws:amp/workspace:Workspace").outputs["prometheusEndpoint"]
    assert seen["remote_write"] == [{"url": endpoint + "api/v1/remote_write", "sigv4": {"region": "us-east-1"}}]
    # The association waits for its policy: a pod bound to a role without it would be refused its first writes.
    deps = r.named("obs-remote-write", "aws:eks/podIdentityAssociation:PodIdentityAssociation").dependencies
    assert any(d.endswith("aws:iam/rolePolicy:RolePolicy::obs-remote-write") for d in deps), deps


def test_workspace_and_what_is_provisioned_into_it(run):
    r, seen = _run(run)
    ws = r.named("obs-grafana", "aws:grafana/workspace:Workspace")
    assert ws.inputs["authenticationProviders"] == ["AWS_SSO"]
    assert (ws.inputs["permissionType"], ws.inputs["accountAccessType"], ws.inputs["grafanaVersion"]) == (
        "CUSTOMER_MANAGED", "CURRENT_ACCOUNT", amg.GRAFANA_VERSION)
    assert ws.inputs["roleArn"] == r.named("obs-grafana", "aws:iam/role:Role").outputs["arn"]
    assert ws.inputs["tags"] == {"team": "ml"}
    assert seen["url"] == "https://" + ws.outputs["endpoint"]
    provider = r.named("obs-grafana", "pulumi:providers:grafana")
    assert provider.inputs["url"] == seen["url"] and provider.inputs["auth"] == "[secret]"
    token = r.named("obs-provisioner", "aws:grafana/workspaceServiceAccountToken:WorkspaceServiceAccountToken").inputs
    assert token["secondsToLive"] == 30 * 24 * 3600
    sa = r.named("obs-provisioner", "aws:grafana/workspaceServiceAccount:WorkspaceServiceAccount").inputs
    assert sa["grafanaRole"] == "ADMIN"
    ds = r.named("obs-prometheus", "grafana:oss/dataSource:DataSource")
    assert ds.inputs["uid"] == amg.datasource_uid("obs") != dashboards.DATASOURCE_UID and ds.inputs["type"] == "prometheus"
    assert ds.inputs["url"] == r.named("obs-prometheus", "aws:amp/workspace:Workspace").outputs["prometheusEndpoint"]
    assert json.loads(ds.inputs["jsonDataEncoded"])["sigV4AuthType"] == "workspace-iam-role"
    folder = r.named("obs-dashboards", "grafana:oss/folder:Folder")
    assert (folder.inputs["uid"], folder.inputs["title"]) == amg.folder("obs")
    for n, text in BOARDS.items():
        d = r.named(f"obs-{n.removesuffix('.json')}", "grafana:oss/dashboard:Dashboard")
        assert d.inputs["configJson"] == amg.retarget(text, ds.inputs["uid"]) and d.inputs["folder"] == folder.inputs["uid"]
        assert d.provider and d.provider.startswith(provider.urn)
    assert ds.provider.startswith(provider.urn)


def test_saml_and_identity_center_groups(run):
    group = "90676d2b5c-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
    r, _ = _run(run, {"authentication_providers": ["AWS_SSO", "SAML"],
                      "saml": {"idp_metadata_url": "https://idp.example.com/metadata", "editor_role_values": ["ml"]},
                      "groups": {"ADMIN": [group], "VIEWER": []}})
    saml = r.named("obs-saml", "aws:grafana/workspaceSamlConfiguration:WorkspaceSamlConfiguration").inputs
    assert (saml["idpMetadataUrl"], saml["editorRoleValues"], saml["roleAssertion"]) == (
        "https://idp.example.com/metadata", ["ml"], "role")
    admins = r.named("obs-admins", "aws:grafana/roleAssociation:RoleAssociation").inputs
    assert (admins["role"], admins["groupIds"]) == ("ADMIN", [group])
    assert not [x for x in r.resources if x.name == "obs-viewers"]


def test_an_existing_workspace_gets_only_the_provisioning(run):
    r, seen = _run(run, {"existing_workspace_id": "g-0123456789", "existing_workspace_role_name": "amg-role"})
    types = {x.type for x in r.resources}
    assert "aws:grafana/workspace:Workspace" not in types
    assert not [x for x in r.resources if x.type == "aws:iam/role:Role" and x.name == "obs-grafana"]
    assert r.named("obs-grafana-query", "aws:iam/rolePolicy:RolePolicy").inputs["role"] == "amg-role"
    assert r.named("obs-provisioner",
                   "aws:grafana/workspaceServiceAccount:WorkspaceServiceAccount").inputs["workspaceId"] == "g-0123456789"
    assert seen["url"] == "https://g-0123456789.grafana-workspace.us-east-1.amazonaws.com"


def test_only_the_named_metrics_are_remote_written_when_asked(run):
    _, seen = _run(run, {"remote_write_metrics": ["kube_node_labels", "modelstack:node_price_usd_per_hour"]})
    (rw,) = seen["remote_write"]
    assert rw["write_relabel_configs"] == [{"source_labels": ["__name__"], "action": "keep",
                                            "regex": "kube_node_labels|modelstack:node_price_usd_per_hour"}]
