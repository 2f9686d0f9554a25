"""Policies that explain themselves: an environment outside dev/staging/prod takes its nearest tier's defaults (or
is told which file and key to set), a bad policy config names key, value and what is allowed, and the registry
allow-list says how to add a registry."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from modelstack.policies import engine, pack
from modelstack.policies.engine import PolicyConfig, PolicyConfigError, evaluate
from policy_stacks import bad_stack, find, good_stack, pod


def _messages(hits, policy):
    return [v.message for v in hits if v.policy == policy]


def test_a_sandbox_environment_takes_dev_s_gpu_families():
    stack = good_stack("sandbox")  # a g5 GPU node group, as the planner chooses in dev
    assert evaluate(stack, None, "sandbox") == []
    find(stack, "ms-gpu-a10g")["inputs"]["instanceTypes"] = ["p5.48xlarge"]
    assert _messages(evaluate(stack, None, "sandbox"), "gpu-instance-families") == [
        "instance type p5.48xlarge (family p5) is not allowed in sandbox (as dev, its nearest tier); allowed: g4dn, "
        "g5, g6, g6e, inf2 (to allow it, set `gpu-instance-families.allowed_families.sandbox` in "
        "policies/config.sandbox.json)"]


def test_a_sandbox_list_of_its_own_wins_over_its_tier():
    stack = good_stack("sandbox")
    config = {"gpu-instance-families": {"allowed_families": {"sandbox": ["g6"]}}}
    assert _messages(evaluate(stack, config, "sandbox"), "gpu-instance-families") == [
        "instance type g5.xlarge (family g5) is not allowed in sandbox; allowed: g6 (to allow it, set "
        "`gpu-instance-families.allowed_families.sandbox` in policies/config.sandbox.json)"]


def test_an_environment_named_like_no_tier_is_told_the_file_and_key():
    hits = evaluate(good_stack("blue"), None, "blue")
    assert _messages(hits, "gpu-instance-families") == [
        "no accelerated instance families are allowed in environment 'blue': it is not a documented tier (dev, "
        "staging, prod) nor named like one, and none are set for it; set "
        "`gpu-instance-families.allowed_families.blue` in policies/config.blue.json (e.g. [\"g4dn\", \"g5\"])"]
    # Following the message clears it.
    fixed = {"gpu-instance-families": {"allowed_families": {"blue": ["g5"]}}}
    assert _messages(evaluate(good_stack("blue"), fixed, "blue"), "gpu-instance-families") == []


def test_production_gets_the_prod_rules():
    stack = bad_stack()
    for r in stack:  # the same bad prod stack, its environment called "production"
        for tags in (r["inputs"].get("tags"), r["inputs"].get("metadata", {}).get("labels")):
            if isinstance(tags, dict):
                for k in ("environment", "modelstack.io/environment"):
                    if k in tags:
                        tags[k] = "production"
    as_prod = {v.policy for v in evaluate(bad_stack(), None, "prod")}
    as_production = {v.policy for v in evaluate(stack, None, "production")}
    assert "min-replicas" in as_production and "eks-private-endpoint" in as_production
    assert as_production == as_prod


def test_the_registry_message_says_where_to_allow_a_registry():
    stack = good_stack("dev")
    pod(find(stack, "sentiment", "Deployment"))["containers"][0]["image"] = "ghcr.io/acme/sentiment:1.4.2"
    [message] = _messages(evaluate(stack, None, "dev"), "allowed-image-registries")
    assert message.startswith("container server: image 'ghcr.io/acme/sentiment:1.4.2' is from ghcr.io, not an "
                              "allowed registry (*.dkr.ecr.*.amazonaws.com, public.ecr.aws, nvcr.io, registry.k8s.io)")
    assert "add 'ghcr.io' (a host glob) to `allowed-image-registries.allowed_registries` in policies/config.dev.json" \
        in message
    # Doing what it says: the defaults kept, ghcr.io added.
    rule = engine.rule("allowed-image-registries")
    allowed = [*rule.defaults()["allowed_registries"], "ghcr.io"]
    config = {"allowed-image-registries": {"allowed_registries": allowed}}
    assert _messages(evaluate(stack, config, "dev"), "allowed-image-registries") == []


@pytest.mark.parametrize("config, problem", [
    ({"gpu-instance-family": "mandatory"},
     "gpu-instance-family: not a policy of this pack; did you mean 'gpu-instance-families'? policies: all, "),
    ({"min-replicas": "strict"}, 'min-replicas: "strict": not a level; allowed: advisory, mandatory, remediate, disabled'),
    ({"min-replicas": {"min_replica": 2}},
     "min-replicas.min_replica: not a setting of min-replicas; did you mean 'min_replicas'? settings: environment, "),
    ({"min-replicas": {"min_replicas": "two"}}, 'min-replicas.min_replicas: "two": allowed: an integer >= 1'),
    ({"gpu-instance-families": {"allowed_families": ["g5"]}},
     'gpu-instance-families.allowed_families: ["g5"]: allowed: an object of environment (or `default`) to a list of '
     'strings'),
    ({"gpu-instance-families": {"allowed_families": {"sandbox": ["g5", 4]}}},
     "gpu-instance-families.allowed_families.sandbox[1]: 4: allowed: a string"),
    ({"max-nodes-per-group": {"max_nodes": {"dev": -1}}}, "max-nodes-per-group.max_nodes.dev: -1: allowed: an integer >= 0"),
    ({"lb-tls": {"enforcementLevel": "block"}}, 'lb-tls.enforcementLevel: "block": allowed: one of advisory, mandatory'),
    ([], "(whole file): []: a policy config is a JSON object"),
])
def test_config_problems_name_key_value_and_what_is_allowed(config, problem):
    problems = engine.config_problems(config)
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_a_config_error_names_its_file(tmp_path):
    bad = tmp_path / "config.sandbox.json"
    bad.write_text(json.dumps({"gpu-instance-families": {"allowed_familes": {"sandbox": ["g5"]}}}))
    with pytest.raises(PolicyConfigError) as exc:
        PolicyConfig.load(bad)
    assert str(exc.value).startswith(f"policy config {bad}: 1 problem(s)\n  gpu-instance-families.allowed_familes: ")
    bad.write_text('{"all": "advisory",}')
    with pytest.raises(PolicyConfigError) as exc:
        PolicyConfig.load(bad)
    assert exc.value.errors[0].startswith("not JSON: ")


def test_validate_exits_2_with_every_problem_and_0_on_the_shipped_files(tmp_path, capsys):
    from pathlib import Path

    bad = tmp_path / "config.qa.json"
    bad.write_text(json.dumps({"all": "strict", "nope": "advisory"}))
    assert engine.main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"policy config {bad}: 2 problem(s)" in err and 'all: "strict": not a level' in err
    assert "Traceback" not in err
    shipped = sorted(str(p) for p in (Path(__file__).resolve().parents[2] / "policies").glob("config.*.json"))
    assert len(shipped) == 3 and engine.main(["validate", *shipped]) == 0


@pytest.mark.parametrize("policy", ["min-replicas", "gpu-instance-families"])  # a stack rule and a resource rule
def test_the_pack_reports_a_bad_policy_config_instead_of_running_the_rule(policy):
    built = {p.name: p for p in pack.build_policies()}[policy]
    reported: list[tuple[str, object]] = []
    config = {"environment": "prod", "min_replica": 2} if policy == "min-replicas" else \
        {"environment": "prod", "allowed_families": {"prod": "g5"}}
    if policy == "min-replicas":
        args = SimpleNamespace(get_config=lambda: config, resources=[])
    else:
        args = SimpleNamespace(get_config=lambda: config, resource_type="aws:eks/nodeGroup:NodeGroup", props={},
                               urn="urn:x", name="x")
    built.validate(args, lambda message, urn: reported.append((message, urn)))
    assert [m for m, _ in reported] == [
        "policy config (the --policy-pack-config file): " + engine.config_problems({policy: config})[0]]
    assert ("min_replica: not a setting" if policy == "min-replicas" else
            'allowed_families.prod: "g5": allowed: a list of strings') in reported[0][0]
