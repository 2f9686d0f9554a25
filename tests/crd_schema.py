"""Strict validation of rendered custom resources against the upstream CRDs of the versions we pin.

The CRD files come from tools/upstream.py: the upstream Go module at the chart pin's app version, checksummed
and cached outside the clone (fetched on first use).

The CRD's `openAPIV3Schema` is a structural schema; an API server prunes unknown fields silently, which
would hide a misspelt key. Here every object schema that lists `properties` and does not preserve unknown
fields rejects anything else, so an unknown field is an error. What JSON Schema cannot express is mapped:
`nullable`, `x-kubernetes-int-or-string`. CEL rules (`x-kubernetes-validations`) are not evaluated here; the
real API server in `make e2e` evaluates them.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import jsonschema
import upstream
import yaml

#: CRD project directory names some tests use -> the chart (tools/upstream.py UPSTREAMS) that ships them.
PROJECTS = {"keda": "keda", "keda-http-add-on": "keda-add-ons-http", "karpenter": "karpenter"}

#: API group -> the chart whose pinned app version names the CRD version.
GROUPS = {"keda.sh": "keda", "http.keda.sh": "keda-add-ons-http", "karpenter.sh": "karpenter",
          "karpenter.k8s.aws": "karpenter"}


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    s = {k: v for k, v in schema.items() if not k.startswith("x-kubernetes-validations")}
    if s.pop("x-kubernetes-int-or-string", False):
        s.pop("type", None)
        s["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if s.pop("nullable", False) and "type" in s:
        s["type"] = [s["type"], "null"]
    if "properties" in s:
        s["properties"] = {k: _strict(v) for k, v in s["properties"].items()}
        if not s.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in s:
            s["additionalProperties"] = False
    if isinstance(s.get("additionalProperties"), dict):
        s["additionalProperties"] = _strict(s["additionalProperties"])
    if isinstance(s.get("items"), dict):
        s["items"] = _strict(s["items"])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in s:
            s[key] = [_strict(x) for x in s[key]]
    return s


@functools.lru_cache(maxsize=None)
def _crd(path: str) -> dict[str, Any]:
    doc = yaml.safe_load(Path(path).read_text())
    assert doc["kind"] == "CustomResourceDefinition", path
    return doc


def crd_path(project: str, version: str, filename: str) -> Path:
    """Path of one upstream CRD file, e.g. ("keda-http-add-on", "v0.15.0", "http.keda.sh_httpscaledobjects.yaml").

    `version` must be the one the chart pin names: a test written for another version fails here, saying so.
    """
    chart = PROJECTS[project]
    pinned = upstream.version(chart)
    if version != pinned:
        raise AssertionError(f"{project} {version} requested, but chart {chart} pins {pinned}: the test predates the "
                             "pin (use crd_file(api_version, kind), which follows it)")
    path = upstream.crd_dir(chart) / filename
    if not path.is_file():
        raise AssertionError(f"{chart} {pinned} ships no {filename} (has {[p.name for p in upstream.crd_files(chart)]})")
    return path


def crd_file(api_version: str, kind: str) -> Path:
    """The upstream CRD file defining `kind` in `api_version`'s group, at the version the chart pin names."""
    group = api_version.split("/")[0]
    chart = GROUPS[group]
    for f in upstream.crd_files(chart):
        spec = _crd(str(f))["spec"]
        if spec["group"] == group and spec["names"]["kind"] == kind:
            return f
    raise AssertionError(f"{chart} {upstream.version(chart)} ships no CRD for {group}/{kind}")


def schema_for(path: Path, api_version: str, kind: str) -> dict[str, Any]:
    """The strict JSON Schema for `kind` at `api_version` (group/version) in one CRD file."""
    crd = _crd(str(path))
    spec = crd["spec"]
    group, _, version = api_version.partition("/")
    if spec["group"] != group or spec["names"]["kind"] != kind:
        raise ValueError(f"{path.name} defines {spec['group']}/{spec['names']['kind']}, not {group}/{kind}")
    for v in spec["versions"]:
        if v["name"] == version:
            if not v.get("served", False):
                raise ValueError(f"{api_version} {kind} is not served by {path.name}")
            schema = _strict(copy.deepcopy(v["schema"]["openAPIV3Schema"]))
            # metadata is validated by the API server's ObjectMeta, not by the CRD schema.
            schema.setdefault("properties", {})["metadata"] = {"type": "object"}
            return schema
    raise ValueError(f"{path.name} has no version {version!r} (has {[v['name'] for v in spec['versions']]})")


def errors(obj: dict[str, Any], path: Path) -> list[str]:
    """Every schema error of one rendered object, as 'field.path: message' (empty when it is valid)."""
    schema = schema_for(path, obj["apiVersion"], obj["kind"])
    validator = jsonschema.Draft7Validator(schema)
    return sorted(f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(obj))

