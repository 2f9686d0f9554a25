"""Environment names to the documented tier whose defaults they take."""

from __future__ import annotations

import pytest

from modelstack.render import tiers


@pytest.mark.parametrize("env, tier", [
    ("dev", "dev"), ("staging", "staging"), ("prod", "prod"), ("PROD", "prod"),
    ("sandbox", "dev"), ("test", "dev"), ("team-a-dev", "dev"), ("local_experiment", "dev"),
    ("qa", "staging"), ("uat-eu", "staging"), ("preprod", "staging"), ("pre-prod", "staging"),
    ("production", "prod"), ("prod-eu-west-1", "prod"), ("live", "prod"),
    ("prod-test", "prod"),     # parts of two tiers: the strictest wins
    ("qa.sandbox", "staging"),
    ("blue", None), ("eu-west-1", None), ("", None), (None, None),
])
def test_tier_of_reads_the_nearest_documented_tier_from_the_name(env, tier):
    assert tiers.tier_of(env) == tier


def test_lookup_prefers_the_environment_then_its_tier_then_default():
    table = {"dev": 1, "prod": 3, "default": 9, "sandbox": 5}
    assert tiers.lookup(table, "sandbox") == ("sandbox", 5)
    assert tiers.lookup(table, "test") == ("dev", 1)
    assert tiers.lookup(table, "production") == ("prod", 3)
    assert tiers.lookup(table, "blue") == ("default", 9)
    assert tiers.lookup({"dev": 1}, "blue") == (None, None)


def test_note_names_the_tier_or_the_file_and_key_to_set():
    assert tiers.note("dev", "policies/config.dev.json") is None
    near = tiers.note("sandbox", "policies/config.sandbox.json")
    assert near and "takes dev's defaults" in near and "policies/config.sandbox.json" in near
    far = tiers.note("blue", "policies/config.blue.json")
    assert far and "near none" in far and "gpu-instance-families.allowed_families.blue" in far
    assert "policies/config.blue.json" in far
