"""Shared taint helpers: exact tolerations for node taints, without repeating what a broader toleration covers."""

from __future__ import annotations

from modelstack.render import labels


def test_each_taint_gets_one_exact_toleration_after_the_base_ones():
    taints = [labels.GPU_TAINT, {"key": "team", "value": "vision", "effect": "NoSchedule"},
              {"key": "team", "value": "vision", "effect": "NoSchedule"}, {"key": "spot", "effect": "NoExecute"}]
    out = labels.tolerations_for(taints, {"key": "CriticalAddonsOnly", "operator": "Exists"})
    assert out == [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                   {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
                   {"key": "team", "operator": "Equal", "value": "vision", "effect": "NoSchedule"},
                   {"key": "spot", "operator": "Equal", "value": "", "effect": "NoExecute"}]


def test_a_taint_a_base_toleration_already_matches_adds_nothing():
    exists = {"key": "aws.amazon.com/neuron", "operator": "Exists", "effect": "NoSchedule"}
    assert labels.tolerations_for([labels.NEURON_TAINT], exists) == [exists]
    # same key, other effect: not covered
    assert len(labels.tolerations_for([{**labels.NEURON_TAINT, "effect": "NoExecute"}], exists)) == 2
    assert labels.tolerations_for([labels.GPU_TAINT], {"operator": "Exists"}) == [{"operator": "Exists"}]
