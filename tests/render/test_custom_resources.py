"""Every custom resource modelstack renders, validated strictly against the upstream CRD of the version we pin.

The CRDs are the upstream Go module's files at v<app version> of the chart pin (render/charts.py), fetched and
checksummed by tools/upstream.py; bumping a chart brings its CRDs, and a version with no recorded checksum fails
here, naming the command that records it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crd_schema import GROUPS, crd_file, errors
from modelstack import cli

from model_variants import rendered

ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted(p.name.split(".")[1] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))


def custom(objs: list[dict]) -> list[dict]:
    return [o for o in objs if o["apiVersion"].split("/")[0] in GROUPS]


def test_rendered_model_variants_match_the_crds():
    kinds = {}
    for name, objs in rendered().items():
        for o in custom(objs):
            assert errors(o, crd_file(o["apiVersion"], o["kind"])) == [], (name, o["kind"])
            kinds.setdefault(o["kind"], []).append(name)
    assert sorted(kinds["ScaledObject"]) == sorted(n for n in rendered() if n != "split")
    assert kinds["InterceptorRoute"]  # the in_flight variants


@pytest.mark.parametrize("stack", STACKS)
def test_every_custom_resource_of_a_shipped_stack_matches_its_crd(stack):
    values = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    doc = cli.plan(stack, values, f"stacks/Pulumi.{stack}.yaml", ROOT)
    kinds = set()
    for r in doc["resources"]:
        i = r["inputs"]
        if r["type"].startswith("kubernetes:") and "apiVersion" in i and i["apiVersion"].split("/")[0] in GROUPS:
            obj = {k: i[k] for k in ("apiVersion", "kind", "metadata", "spec") if k in i}
            assert errors(obj, crd_file(i["apiVersion"], i["kind"])) == [], r["name"]
            kinds.add(i["kind"])
    assert {"ScaledObject", "InterceptorRoute"} <= kinds


def test_an_unknown_field_is_an_error():
    # Guards the validator: an API server would prune this silently.
    route = next(o for objs in rendered().values() for o in objs if o["kind"] == "InterceptorRoute")
    bad = {**route, "spec": {**route["spec"], "timeout": {"readiness": "1s"}}}
    assert errors(bad, crd_file(bad["apiVersion"], bad["kind"])) == [
        "spec: Additional properties are not allowed ('timeout' was unexpected)"]


def test_a_missing_required_field_is_an_error():
    so = next(o for objs in rendered().values() for o in objs if o["kind"] == "ScaledObject")
    bad = {**so, "spec": {k: v for k, v in so["spec"].items() if k != "scaleTargetRef"}}
    assert errors(bad, crd_file(bad["apiVersion"], bad["kind"])) == ["spec: 'scaleTargetRef' is a required property"]
