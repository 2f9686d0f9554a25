"""Policy config: defaults, level overrides, thresholds, the schema, and the shipped per-env files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from modelstack.policies import engine
from modelstack.policies.engine import PolicyConfig, PolicyConfigError, Violation, evaluate, has_mandatory
from policy_stacks import bad_stack, find, good_stack

POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"


def test_defaults_without_config() -> None:
    cfg = PolicyConfig.from_mapping(None)
    rule = engine.rule("max-nodes-per-group")
    assert cfg.level(rule) == "mandatory"
    assert cfg.params(rule) == {"max_nodes": {"dev": 10, "staging": 20, "prod": 100, "default": 20}}
    assert cfg.level(engine.rule("spot-in-non-prod")) == "advisory"


def test_every_rule_has_a_documented_default_for_each_threshold() -> None:
    for rule in engine.rules():
        assert rule.level in ("advisory", "mandatory")
        assert rule.description and rule.why
        for name, param in rule.params.items():
            jsonschema.validate(param.default, param.schema)
            assert param.description, (rule.id, name)


def test_level_overrides_follow_pulumi_precedence() -> None:
    rule = engine.rule("liveness-probe")
    assert PolicyConfig.from_mapping({"all": "mandatory"}).level(rule) == "mandatory"
    assert PolicyConfig.from_mapping({"all": "mandatory", "liveness-probe": "advisory"}).level(rule) == "advisory"
    assert PolicyConfig.from_mapping({"liveness-probe": {"enforcementLevel": "disabled"}}).level(rule) == "disabled"
    assert PolicyConfig.from_mapping({"liveness-probe": "remediate"}).level(rule) == "mandatory"


def test_level_override_changes_reported_level_and_disabled_skips() -> None:
    stack = bad_stack()
    levels = {v.policy: v.level for v in evaluate(stack, {"min-replicas": "advisory"}, "prod")}
    assert levels["min-replicas"] == "advisory"
    assert "min-replicas" not in {v.policy for v in evaluate(stack, {"min-replicas": "disabled"}, "prod")}
    everything_advisory = evaluate(stack, {"all": "advisory"}, "prod")
    assert everything_advisory and not has_mandatory(everything_advisory)


def test_thresholds_merge_over_defaults() -> None:
    cfg = PolicyConfig.from_mapping({"max-nodes-per-group": {"max_nodes": {"dev": 3}}})
    assert cfg.params(engine.rule("max-nodes-per-group")) == {"max_nodes": {"dev": 3}}
    stack = good_stack("dev")
    assert not evaluate(stack, None, "dev")
    hits = evaluate(stack, {"max-nodes-per-group": {"max_nodes": {"dev": 3}}}, "dev")
    assert [v.policy for v in hits] == ["max-nodes-per-group"]
    assert "at most 3 in dev" in hits[0].message


def test_max_nodes_default_applies_to_environments_not_listed() -> None:
    hits = evaluate(good_stack("dev"), {"max-nodes-per-group": {"max_nodes": {"prod": 100, "default": 3}}}, "dev")
    assert [(v.policy, v.message) for v in hits] == [("max-nodes-per-group", "scalingConfig.maxSize is 4; at most 3 in dev")]


def test_gpu_families_of_an_environment_without_a_list_are_refused() -> None:
    hits = evaluate(good_stack("dev"), {"gpu-instance-families": {"allowed_families": {"prod": ["g5"]}}}, "dev")
    assert [(v.policy, v.message) for v in hits] == [
        ("gpu-instance-families", "no accelerated instance families are allowed in environment 'dev': none are set "
                                  "for it; set `gpu-instance-families.allowed_families.dev` in policies/config.dev.json "
                                  "(e.g. [\"g4dn\", \"g5\"])")]


def test_require_digest_reports_tagged_images() -> None:
    assert not [v for v in evaluate(good_stack("dev"), None, "dev") if v.policy == "image-pinned"]
    hits = [v for v in evaluate(good_stack("dev"), {"image-pinned": {"require_digest": True}}, "dev") if v.policy == "image-pinned"]
    assert hits and all("is not pinned to a digest" in v.message for v in hits)


@pytest.mark.parametrize("image, registry", [
    ("localhost/m:1", "localhost"), ("registry:5000/m:1", "registry:5000"), ("pytorch/torchserve:0.12", "docker.io"),
    ("ubuntu:24.04", "docker.io"), ("Public.ECR.aws/m/x:1", "public.ecr.aws"),
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1", "123456789012.dkr.ecr.us-east-1.amazonaws.com"),
])
def test_image_registry_is_the_host_docker_would_use(image: str, registry: str) -> None:
    from modelstack.policies.security import image_registry

    assert image_registry(image) == registry


def test_min_replicas_threshold_and_environments() -> None:
    stack = good_stack("staging")
    assert evaluate(stack, None, "staging") == []
    assert not [v for v in evaluate(stack, {"min-replicas": {"environments": ["staging"], "min_replicas": 3}}, "staging")
                if v.policy == "min-replicas"]  # 2 autoscaled + 1 on-demand floor
    cfg = {"min-replicas": {"environments": ["staging", "prod"], "min_replicas": 4}}
    hits = {v.message for v in evaluate(stack, cfg, "staging") if v.policy == "min-replicas"}
    assert hits == {"model sentiment keeps at least 3 replica(s) (sentiment spec.minReplicas 2; "
                    "sentiment-on-demand spec.replicas 1); at least 4 in staging"}


def test_wildcard_exceptions_are_configurable() -> None:
    stack = good_stack("staging")
    hits = evaluate(stack, {"iam-no-wildcard-actions": {"exceptions": ["ec2:Describe*"]}}, "staging")
    assert [v.message for v in hits] == ["policy statement Discover allows wildcard action 'autoscaling:Describe*'"]


def test_environment_argument_wins_over_config_and_tags() -> None:
    stack = good_stack("dev")
    find(stack, "ms-cluster")["inputs"]["endpointPublicAccess"] = True
    config = {"eks-private-endpoint": {"environment": "prod"}}
    assert [v.policy for v in evaluate(stack, config, None)] == ["eks-private-endpoint"]
    assert evaluate(stack, config, "dev") == []


@pytest.mark.parametrize("config,error", [
    ({"no-such-policy": "mandatory"}, "no-such-policy"),
    ({"all": "block"}, 'all: "block": not a level; allowed: advisory, mandatory, remediate, disabled'),
    ({"min-replicas": "strict"}, "min-replicas"),
    ({"min-replicas": {"min_replicas": "two"}}, "min-replicas"),
    ({"min-replicas": {"min_replica": 2}}, "min-replicas"),
    ({"max-nodes-per-group": {"max_nodes": {"dev": -1}}}, "max-nodes-per-group"),
])
def test_invalid_config_is_rejected_with_its_path(config: dict, error: str) -> None:
    with pytest.raises(PolicyConfigError) as exc:
        PolicyConfig.from_mapping(config)
    assert any(error in e for e in exc.value.errors), exc.value.errors


def test_all_config_errors_are_reported_at_once() -> None:
    with pytest.raises(PolicyConfigError) as exc:
        PolicyConfig.from_mapping({"all": "block", "nope": "advisory"})
    assert len(exc.value.errors) == 2


def test_schemas_are_valid_draft7() -> None:
    jsonschema.Draft7Validator.check_schema(engine.config_schema())
    for rule in engine.rules():
        jsonschema.Draft7Validator.check_schema(engine.policy_schema(rule))


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_shipped_config_files_are_generated_and_valid(env: str) -> None:
    path = POLICIES_DIR / f"config.{env}.json"
    data = json.loads(path.read_text())
    assert data == engine.pack_config(env), f"regenerate: python -m modelstack.policies.engine config {env}"
    jsonschema.validate(data, engine.config_schema())
    cfg = PolicyConfig.load(path)
    assert {cfg.environment(r) for r in engine.rules()} == {env}
    # As Pulumi does it: each policy's config, defaults filled in, validates against that policy's schema.
    for rule in engine.rules():
        merged = {**rule.defaults(), **data[rule.id]}
        jsonschema.validate(merged, engine.policy_schema(rule))


def test_violation_json_shape() -> None:
    v = Violation("min-replicas", "urn:x", "too few", "mandatory", "reliability")
    assert v.to_json() == {"policy": "min-replicas", "resource": "urn:x", "message": "too few",
                           "level": "mandatory", "category": "reliability"}
    assert str(v) == "[mandatory] min-replicas: urn:x: too few"


def test_evaluate_accepts_a_policy_config_object_and_records() -> None:
    cfg = PolicyConfig.load(POLICIES_DIR / "config.prod.json")
    violations = evaluate(bad_stack(), cfg, "prod")
    assert has_mandatory(violations)
    assert all(isinstance(v, Violation) for v in violations)


def test_malformed_inputs_are_tolerated() -> None:
    broken = good_stack("dev")
    broken.append({"urn": "urn:pulumi:dev::p::kubernetes:apps/v1:Deployment::x", "type": "kubernetes:apps/v1:Deployment",
                   "name": "x", "parent": None, "inputs": {"metadata": {"labels": {"modelstack.io/environment": "dev"}},
                                                           "spec": {"template": {"spec": {"containers": "oops"}}}}})
    evaluate(broken, None, "dev")  # malformed input is tolerated, not a crash


def test_importing_the_pack_does_not_start_a_server() -> None:
    import modelstack.policies.pack as pack

    assert len(pack.build_policies()) == len(engine.rules())
    main = (POLICIES_DIR / "__main__.py").read_text()
    assert "PolicyPack(" in main and "def " not in main


def test_readme_documents_every_rule_with_its_level() -> None:
    readme = (POLICIES_DIR / "README.md").read_text()
    for rule in engine.rules():
        assert f"| `{rule.id}` | {rule.level} |" in readme, rule.id
    for action in engine.rule("iam-no-wildcard-actions").defaults()["exceptions"]:
        assert f"`{action}`" in readme
