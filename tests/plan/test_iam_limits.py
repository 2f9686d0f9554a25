"""Every IAM document and name the shipped stacks render fits IAM's limits, also with the longest cluster name the
schema allows: the offline plan cannot see these, `pulumi up` fails on them (issue 19, What 4).

Limits (components/render/iam.py, sources in data/UPSTREAM.md "IAM quotas"): a managed policy 6,144 characters, a
role's inline policies 10,240 together, a trust policy 2,048 (default quota), all counted without white space; a
role name 64 characters, a policy name 128; 10 managed policies per role (default quota). Names Pulumi generates
add "-" and 7 hex characters to the resource's name.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict

import pytest

from modelstack.config.schema import CONFIG_KEY
from modelstack.render import iam
from test_plan import ENVS, plan_of, values

LONGEST_NAME = "c" + "x" * 30 + "d"
"""32 characters: the longest `cluster.name` the schema allows (a DNS label of at most 32)."""


def variant(env: str, *, name: str | None = None, karpenter: bool = False, irsa: bool = False,
            volume: bool = False, managed: bool = False) -> dict:
    vals = copy.deepcopy(values(env))
    cluster = vals[CONFIG_KEY]["cluster"]
    if name:
        cluster["name"] = name
    if karpenter:
        cluster["provisioner"] = "karpenter"
    if irsa:  # IRSA trust policies name the OIDC provider: the longest trust documents modelstack writes
        cluster.setdefault("karpenter", {})["controller_identity"] = "irsa"
        cluster.setdefault("logging", {})["credentials"] = "irsa"
    if volume:  # the EBS CSI driver's role
        cluster.setdefault("observability", {})["volume_size"] = "20Gi"
    if managed:  # Amazon Managed Grafana: the remote-write and workspace roles
        cluster.setdefault("observability", {})["grafana"] = "managed"
    return vals


VARIANTS = [(env, {}) for env in ENVS] + [
    (env, kw) for env in ENVS for kw in ({"name": LONGEST_NAME}, {"name": LONGEST_NAME, "karpenter": True},
                                         {"name": LONGEST_NAME, "karpenter": True, "irsa": True, "volume": True,
                                          "managed": True})]


def _physical(r) -> str:
    """The name IAM gets: the explicit one, else Pulumi's auto-name (resource name + "-" + 7 hex characters)."""
    given = r.inputs.get("name")
    return given if given else r.name + "x" * iam.AUTONAME_SUFFIX_CHARS


def iam_problems(resources) -> list[str]:
    out = []
    roles = {r.name: r for r in resources if r.type == "aws:iam/role:Role"}
    # RolePolicy takes the role's id, RolePolicyAttachment its name: map both back to the role.
    by_ref = {}
    for r in roles.values():
        by_ref[r.outputs.get("name", r.name)] = r.name
        by_ref[f"{r.name}-id"] = r.name
    inline: dict[str, int] = defaultdict(int)
    attached: dict[str, int] = defaultdict(int)
    for r in resources:
        if r.type == "aws:iam/policy:Policy":
            size = iam.policy_size(r.inputs["policy"])
            if size > iam.MANAGED_POLICY_MAX_CHARS:
                out.append(f"{r.name}: managed policy of {size} characters > {iam.MANAGED_POLICY_MAX_CHARS}")
            if len(_physical(r)) > iam.POLICY_NAME_MAX_CHARS:
                out.append(f"{r.name}: policy name of {len(_physical(r))} characters > {iam.POLICY_NAME_MAX_CHARS}")
        elif r.type == "aws:iam/rolePolicy:RolePolicy":
            inline[by_ref[r.inputs["role"]]] += iam.policy_size(r.inputs["policy"])
            if len(_physical(r)) > iam.POLICY_NAME_MAX_CHARS:
                out.append(f"{r.name}: inline policy name too long")
        elif r.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
            attached[by_ref[r.inputs["role"]]] += 1
        elif r.type == "aws:iam/role:Role":
            size = iam.policy_size(r.inputs["assumeRolePolicy"])
            if size > iam.TRUST_POLICY_MAX_CHARS:
                out.append(f"{r.name}: trust policy of {size} characters > {iam.TRUST_POLICY_MAX_CHARS}")
            if len(_physical(r)) > iam.ROLE_NAME_MAX_CHARS:
                out.append(f"{r.name}: role name of {len(_physical(r))} characters > {iam.ROLE_NAME_MAX_CHARS}")
            for p in r.inputs.get("inlinePolicies") or []:
                inline[r.name] += iam.policy_size(p.get("policy", ""))
    for role, size in inline.items():
        if size > iam.ROLE_INLINE_POLICIES_MAX_CHARS:
            out.append(f"{role}: inline policies of {size} characters > {iam.ROLE_INLINE_POLICIES_MAX_CHARS}")
    for role, n in attached.items():
        if n > iam.MANAGED_POLICIES_PER_ROLE:
            out.append(f"{role}: {n} managed policies attached > {iam.MANAGED_POLICIES_PER_ROLE}")
    return out


@pytest.mark.parametrize("env,kw", VARIANTS, ids=[f"{e}-{'-'.join(k) or 'shipped'}" for e, k in VARIANTS])
def test_every_iam_document_and_name_of_the_plan_fits_iams_limits(env, kw):
    doc = plan_of(env, variant(env, **kw))
    resources = doc["_resources"]
    kinds = {r.type for r in resources}
    assert {"aws:iam/role:Role", "aws:iam/policy:Policy"} <= kinds  # the check has something to check
    if kw.get("karpenter"):
        assert any(r.name.endswith("-karpenter-controller") and r.type == "aws:iam/policy:Policy" for r in resources)
    if kw.get("managed"):
        assert {r.name for r in resources if r.type == "aws:iam/role:Role"} >= {
            f"{kw['name']}-amg-remote-write", f"{kw['name']}-amg-grafana"}
    assert iam_problems(resources) == []


def test_pulumi_eks_own_service_role_fits_with_the_longest_name():
    """The EKS service role pulumi-eks creates inside `<cluster>-eks` (not visible in the offline plan): pulumi-eks
    v4.3.0 `nodejs/eks/cluster/cluster.ts` names it `${name}-eksRole`, and `servicerole.ts` registers the IAM role as
    `${name}-role`, auto-named."""
    logical = f"{LONGEST_NAME}-eks-eksRole-role"
    assert len(logical) + iam.AUTONAME_SUFFIX_CHARS <= iam.ROLE_NAME_MAX_CHARS


def test_the_check_catches_an_oversized_merged_controller_policy():
    """The check is not vacuous: the one merged Karpenter policy of before the split fails it at 32 characters."""
    doc = plan_of("dev", variant("dev", name=LONGEST_NAME))
    resources = doc["_resources"]
    merged = {"Version": "2012-10-17", "Statement": [
        st for r in resources if r.type == "aws:iam/policy:Policy" and "-karpenter-controller" in r.name
        for st in json.loads(r.inputs["policy"])["Statement"]]}
    fake = copy.copy(next(r for r in resources if r.name.endswith("-karpenter-controller")
                          and r.type == "aws:iam/policy:Policy"))
    fake.inputs = {**fake.inputs, "policy": json.dumps(merged)}
    assert [p for p in iam_problems([fake]) if "managed policy of" in p]


def test_policy_size_counts_what_iam_counts():
    assert iam.policy_size('{"a": [ "b",\n "c" ]}') == len('{"a":["b","c"]}')
    assert iam.policy_size({"Version": "2012-10-17"}) == len('{"Version":"2012-10-17"}')
