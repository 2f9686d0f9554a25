"""Issue 19: defects of the real path that an offline plan can still show, held on the shipped stacks and on variants
built from them (a 32-character cluster name on Karpenter, a user taint on GPU groups, a Prometheus volume, prod as
shipped for route hosts and the interceptor's drain)."""

from __future__ import annotations

import copy

import pytest

from modelstack.config.schema import CONFIG_KEY
from modelstack.render import timeouts
from test_plan import ENVS, plan_of, values


def _with(env: str, **cluster) -> dict:
    vals = copy.deepcopy(values(env))
    vals[CONFIG_KEY]["cluster"].update(cluster)
    return vals


def _of(doc: dict, typ: str) -> list:
    return [r for r in doc["_resources"] if r.type == typ]


@pytest.fixture(scope="module")
def plans() -> dict[str, dict]:
    return {env: plan_of(env) for env in ENVS}


# ------------------------------------------------------------------------------- 9: one rule for every Helm release

@pytest.mark.parametrize("env", ENVS)
def test_every_helm_release_waits_the_same_time_budget(plans, env):
    releases = _of(plans[env], "kubernetes:helm.sh/v3:Release")
    assert releases
    late = {r.name: r.inputs.get("timeout") for r in releases
            if r.inputs.get("timeout") != timeouts.HELM_RELEASE_TIMEOUT_SECONDS}
    assert late == {}


def test_the_karpenter_release_waits_as_long_as_the_others():
    """prod on Karpenter, with Neuron and logging: every kind of release the program makes."""
    doc = plan_of("prod", _with("prod", provisioner="karpenter"))
    names = {r.name: r.inputs.get("timeout") for r in _of(doc, "kubernetes:helm.sh/v3:Release")}
    assert names["models-prod-karpenter-release"] == timeouts.HELM_RELEASE_TIMEOUT_SECONDS
    assert set(names.values()) == {timeouts.HELM_RELEASE_TIMEOUT_SECONDS}


# ------------------------------------------------------------ 11: node groups outlive the node role's permissions

@pytest.mark.parametrize("env", ENVS)
def test_node_groups_depend_on_every_policy_attachment_of_the_node_role(plans, env):
    """`pulumi destroy` deletes dependents first: a node group (and its draining nodes) must go before the policies
    its nodes run on (CNI, ECR pull, joining the cluster)."""
    doc = plans[env]
    cluster = values(env)[CONFIG_KEY]["cluster"]["name"]
    attachments = {r.urn for r in _of(doc, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                   if r.parent and r.parent.endswith(f"modelstack:index:Cluster::{cluster}")}
    assert len(attachments) >= 4
    groups = _of(doc, "aws:eks/nodeGroup:NodeGroup")
    assert groups
    for g in groups:
        assert attachments <= set(g.dependencies), g.name
