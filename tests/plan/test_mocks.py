"""The recording mocks and the runner: how registrations are decoded, and what a run leaves behind."""

from __future__ import annotations

import gc
import json
import random
from typing import Any

from google.protobuf import json_format, struct_pb2

from modelstack.plan import mocks
from modelstack.plan.runner import fewer_collections


def _from_json(value: Any) -> Any:
    """What a registration's inputs mean, read from their JSON form (MessageToDict): the reference decoder."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return mocks._DROP if value == mocks._UNKNOWN else value
    if isinstance(value, list):
        return [None if (v := _from_json(x)) is mocks._DROP else v for x in value]
    if isinstance(value, dict):
        sig = value.get(mocks._SIG)
        if sig == mocks._SECRET:
            return mocks.SECRET_MASK
        if sig == mocks._RESOURCE:
            return value.get("urn", "")
        if sig == mocks._OUTPUT:
            if value.get("secret"):
                return mocks.SECRET_MASK
            return _from_json(value["value"]) if "value" in value else mocks._DROP
        return {k: d for k, v in value.items() if (d := _from_json(v)) is not mocks._DROP}
    return value


def _random_value(rng: random.Random, depth: int) -> Any:
    r = rng.random()
    if depth > 4 or r < 0.3:
        return rng.choice(["a", "", mocks._UNKNOWN, 1, 2.5, 3.0, True, False, None, -7])
    if r < 0.5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if r < 0.6:
        return {mocks._SIG: mocks._SECRET, "value": _random_value(rng, depth + 1)}
    if r < 0.7:
        return {mocks._SIG: mocks._RESOURCE, "urn": rng.choice(["urn:pulumi:dev::p::t::n", mocks._UNKNOWN, 3])}
    if r < 0.8:
        out: dict[str, Any] = {mocks._SIG: mocks._OUTPUT}
        if rng.random() < 0.7:
            out["value"] = _random_value(rng, depth + 1)
        if rng.random() < 0.5:
            out["secret"] = rng.choice([True, False, "", "x", 0, 1])
        return out
    if r < 0.85:
        return {mocks._SIG: rng.choice([3, "not a signature", True])}
    return {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randint(0, 5))}


def test_structs_decode_as_their_json_form_does():
    rng = random.Random(7)
    for _ in range(2000):
        value = {f"k{i}": _random_value(rng, 0) for i in range(rng.randint(0, 5))}
        struct = struct_pb2.Struct()
        struct.update(value)
        expected = _from_json(json_format.MessageToDict(struct))
        got = mocks.decode_struct(struct)
        assert json.dumps(got) == json.dumps(expected)  # same values, same key order (plan.json keeps it)


def test_responses_take_non_json_state_through_json():
    struct = mocks._response({"a": (1, 2), 3: "x"})
    assert json_format.MessageToDict(struct) == {"a": [1, 2], "3": "x"}


def test_collector_settings_are_restored_after_a_plan_also_on_failure():
    before = gc.get_threshold()
    try:
        with fewer_collections():
            with fewer_collections():
                assert gc.get_threshold()[0] > before[0]
            assert gc.get_threshold()[0] > before[0]  # an inner use does not end the outer one
            raise RuntimeError("the plan failed")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
