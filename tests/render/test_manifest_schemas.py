"""Rendered model API objects against the official Kubernetes schemas (strict), KEDA's CRD models, and checkov.

- Built-in kinds: kubernetes-validate, strict (unknown fields fail), every supported version (config.KUBERNETES_VERSIONS).
- KEDA ScaledObject: not in the official schemas. Validated against cloudcoil-models-keda (pydantic models generated
  from KEDA's CRD OpenAPI schema) with unknown fields forbidden; skipped when that dev dependency is absent.
- Custom resources (ScaledObject, InterceptorRoute): strictly against the upstream CRDs at the pinned versions, in
  tests/render/test_custom_resources.py.
- checkov: failures must be a subset of components/CHECKOV_EXCEPTIONS.md.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from model_variants import MODELS, rendered
from modelstack.config.schema import KUBERNETES_VERSIONS

kubernetes_validate = pytest.importorskip("kubernetes_validate")

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
EXCEPTIONS_MD = ROOT / "components" / "CHECKOV_EXCEPTIONS.md"

def builtin(objs: list[dict]) -> list[dict]:
    return [o for o in objs if not o["apiVersion"].startswith(("keda.sh/", "http.keda.sh/"))]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_builtin_kinds_are_valid_in_strict_mode(version: str) -> None:
    checked = 0
    for name, objs in rendered().items():
        for o in builtin(objs):
            kubernetes_validate.validate(o, f"{version}.0", strict=True)
            checked += 1
    assert checked >= 25


def test_every_kind_is_covered() -> None:
    kinds = {o["kind"] for objs in rendered().values() for o in objs}
    assert kinds == {"ServiceAccount", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "Ingress",
                     "ScaledObject", "InterceptorRoute"}


def _strict_keda():
    keda = pytest.importorskip("cloudcoil.models.keda.v1alpha1",
                               reason="cloudcoil-models-keda (KEDA CRD models) is not installed: add it to the dev extras")
    from cloudcoil import apimachinery
    import pydantic

    classes = [c for m in (keda, apimachinery) for c in vars(m).values()
               if inspect.isclass(c) and issubclass(c, pydantic.BaseModel) and c.__module__ == m.__name__]
    for c in classes:
        c.model_config["extra"] = "forbid"
    for c in classes:
        c.model_rebuild(force=True)
    return keda


def test_scaled_objects_match_kedas_crd() -> None:
    keda = _strict_keda()
    n = 0
    for objs in rendered().values():
        for o in objs:
            if o["kind"] == "ScaledObject":
                keda.ScaledObject.model_validate(o)
                n += 1
    assert n == len(MODELS)


def _exceptions() -> set[str]:
    return set(re.findall(r"^\| (CKV_K8S_\d+) \|", EXCEPTIONS_MD.read_text(), flags=re.M))


def test_checkov_failures_are_documented_exceptions(tmp_path: Path) -> None:
    if not CHECKOV.exists():
        pytest.skip(f"checkov is not installed at {CHECKOV.relative_to(ROOT)}: `make test` installs it")
    for name, objs in rendered().items():
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump_all(objs, sort_keys=False))
    proc = subprocess.run([str(CHECKOV), "-d", str(tmp_path), "--framework", "kubernetes", "--skip-download",
                           "--quiet", "-o", "json"], capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip(), proc.stderr
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = {(f["check_id"], f["resource"]) for r in reports for f in r.get("results", {}).get("failed_checks", [])}
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    assert passed > 100, "checkov scanned nothing"
    undocumented = sorted(f for f in failed if f[0] not in _exceptions())
    assert undocumented == []


def test_exception_list_is_short_and_justified() -> None:
    assert _exceptions() == {"CKV_K8S_11", "CKV_K8S_12", "CKV_K8S_13", "CKV_K8S_8", "CKV_K8S_35", "CKV_K8S_38",
                             "CKV_K8S_43"}
