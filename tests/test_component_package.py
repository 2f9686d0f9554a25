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


def test_the_package_ships_py_typed():
    """PEP 561: without the marker, mypy and pyright skip modelstack's annotations (`import modelstack` is Any)."""
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in meta["tool"]["setuptools"]["package-data"]["modelstack"]
    assert (ROOT / "components" / "py.typed").is_file()
    assert meta["tool"]["setuptools"]["package-dir"]["modelstack"] == "components"


def test_every_component_argument_states_its_default():
    import component_args

    missing = [f"{comp}.{name}" for comp in component_args.COMPONENTS for name, required, doc in component_args.fields(comp)
               if not required and "Default" not in doc]
    assert missing == []


def test_readme_lists_every_component_argument_with_its_default():
    import component_args

    readme = (ROOT / "README.md").read_text()
    assert component_args.current(readme) == component_args.render(), \
        "regenerate: .venv/bin/python tools/component_args.py --write"
    section = component_args.current(readme)
    for comp in component_args.COMPONENTS:
        for name, _, _ in component_args.fields(comp):
            assert f"| `{name}` |" in section


def test_readme_components_table_names_tags_where_a_component_takes_them():
    import component_args

    readme = (ROOT / "README.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line for line in readme.splitlines()
            if line.startswith("| `") and line.split("|")[1].strip().strip("`") in component_args.COMPONENTS}
    assert set(rows) == set(component_args.COMPONENTS)
    for comp in component_args.COMPONENTS:
        if any(name == "tags" for name, _, _ in component_args.fields(comp)):
            assert "`tags` (none" in rows[comp], comp
    assert "cost-allocation-tags" in readme.split("## Components", 1)[1].split("##", 1)[0]
