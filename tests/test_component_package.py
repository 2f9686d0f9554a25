"""modelstack as a Pulumi component package for other languages: the schema Pulumi would infer, offline."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
import yaml
from pulumi.provider.experimental.component import ComponentProvider

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def schema() -> dict:
    host = runpy.run_path(str(ROOT / "components" / "__main__.py"), run_name="not_main")
    provider = ComponentProvider(host["COMPONENTS"], "modelstack")
    return json.loads(provider.schema)


def test_plugin_manifest_is_a_python_plugin():
    manifest = yaml.safe_load((ROOT / "components" / "PulumiPlugin.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    assert (ROOT / "components" / "requirements.txt").read_text().splitlines()[-1] == "-e .."


def test_schema_has_model_api_and_node_group_with_their_inputs(schema):
    assert schema["name"] == "modelstack"
    resources = schema["resources"]
    assert set(resources) == {"modelstack:index:ModelAPI", "modelstack:index:NodeGroup", "modelstack:index:TrafficSplitter"}
    api = resources["modelstack:index:ModelAPI"]
    assert api["isComponent"] is True
    assert api["requiredInputs"] == ["image"]
    assert {"image", "compute", "autoscaling", "placement", "ingress", "updateStrategy", "readinessProbe",
            "kubeconfig"} <= set(api["inputProperties"])
    assert {"endpoint", "serviceName", "namespace"} <= set(api["properties"])
    auto = schema["types"]["modelstack:index:AutoscalingArgs"]["properties"]
    assert {"minReplicas", "maxReplicas", "targetInFlight", "maxUpscaleFactor", "scaleToZero", "signal"} <= set(auto)
    ng = resources["modelstack:index:NodeGroup"]
    assert sorted(ng["requiredInputs"]) == ["clusterName", "instanceTypes", "nodeRoleArn", "subnetIds"]
    assert {"capacityType", "kind", "nodePool", "priority", "minSize", "maxSize", "taints"} <= set(ng["inputProperties"])
    assert ng["inputProperties"]["instanceTypes"]["type"] == "array"


def test_descriptions_come_from_the_field_docstrings(schema):
    props = schema["resources"]["modelstack:index:NodeGroup"]["inputProperties"]
    assert "Default 50" in props["priority"]["description"]
