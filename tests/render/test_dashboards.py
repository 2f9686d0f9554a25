"""Dashboards of every shipped stack: valid against Grafana 12.3.1's dashboard schema, every query valid PromQL.

The schema: `@grafana/schema` 12.3.1 (npm; the package Grafana publishes from its repository at that version) types
the classic dashboard JSON as `Dashboard` in `dist/types/raw/dashboard/x/dashboard_types.gen.d.ts`, generated from
Grafana's `kinds/dashboard/dashboard_kind.cue`. TypeScript 5.9.3 checks each dashboard literal with
`satisfies Dashboard` (required fields, types, enums and, for literals, no unknown key). The grafana/grafana Go module
is not served by the Go module proxy, so Grafana itself is not run here. `make test` installs both packages in
.tools/grafana-schema; the queries go through the real promtool (tools/gotools.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import gotools
from modelstack.render import dashboards
from observability_stacks import observability
from stacks import ROOT, STACKS

SCHEMA_DIR = ROOT / ".tools" / "grafana-schema"
TSC = SCHEMA_DIR / "node_modules" / "typescript" / "bin" / "tsc"
DASHBOARD_TYPES = "@grafana/schema/dist/types/raw/dashboard/x/dashboard_types.gen"
needs_schema = pytest.mark.skipif(
    not TSC.exists() and not os.environ.get("MODELSTACK_REQUIRE_GRAFANA_SCHEMA"),
    reason="@grafana/schema and typescript not installed (make test installs them in .tools/grafana-schema)")


def _all() -> dict[str, dict]:
    out = {}
    for env in STACKS:
        _, obs = observability(env)
        out.update({f"{env}/{n}": d for n, d in obs.dashboards.items()})
    return out


def _typecheck(boards: dict[str, dict], tmp: Path) -> subprocess.CompletedProcess:
    lines = [f'import type {{ Dashboard }} from "{DASHBOARD_TYPES}";', ""]
    for i, (name, d) in enumerate(sorted(boards.items())):
        lines.append(f"// {name}")
        lines.append(f"export const d{i} = {json.dumps(d, indent=1)} satisfies Dashboard;")
    (tmp / "dashboards.ts").write_text("\n".join(lines) + "\n")
    (tmp / "tsconfig.json").write_text(json.dumps({"compilerOptions": {
        "strict": True, "noEmit": True, "module": "commonjs", "moduleResolution": "node", "target": "es2022",
        "typeRoots": [], "types": [], "baseUrl": ".", "paths": {"@grafana/schema/*": [str(SCHEMA_DIR / "node_modules/@grafana/schema/*")]},
        "skipLibCheck": True}, "files": ["dashboards.ts"]}))
    node = shutil.which("node") or "node"
    return subprocess.run([node, str(TSC), "-p", "tsconfig.json"], cwd=tmp, capture_output=True, text=True, timeout=300)


@needs_schema
def test_the_schema_package_is_the_pinned_grafana_version():
    pkg = json.loads((SCHEMA_DIR / "node_modules/@grafana/schema/package.json").read_text())
    assert pkg["version"] == "12.3.1"
    from modelstack.render.charts import CHARTS

    assert CHARTS["grafana"].app_version == pkg["version"]
    src = (SCHEMA_DIR / "node_modules/@grafana/schema/dist/esm/raw/dashboard/x/dashboard_types.gen.mjs").read_text()
    assert re.search(r"schemaVersion: (\d+)", src).group(1) == str(dashboards.SCHEMA_VERSION)


@needs_schema
def test_every_dashboard_of_every_stack_matches_grafanas_schema(tmp_path):
    boards = _all()
    assert len(boards) >= len(STACKS) * 2
    p = _typecheck(boards, tmp_path)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]


@needs_schema
def test_the_schema_check_rejects_a_wrong_dashboard(tmp_path):
    # Guards the check above: an unknown key and a wrong type are reported.
    good = next(iter(_all().values()))
    panel = {**good["panels"][0], "gridPoz": {"h": 1}}
    bad = {"a": {**good, "panelz": []}, "b": {**good, "schemaVersion": "42"}, "c": {**good, "panels": [panel]}}
    p = _typecheck(bad, tmp_path)
    assert p.returncode != 0
    assert "'\"panelz\"' does not exist" in p.stdout and "'\"gridPoz\"' does not exist in type 'Panel'" in p.stdout
    assert "Type 'string' is not assignable to type 'number'" in p.stdout


def test_every_dashboard_query_is_valid_promql(tmp_path):
    exprs = sorted({t["expr"] for d in _all().values() for p in d["panels"] for t in p["targets"]})
    # Grafana substitutes its range variables before querying; give them a value promtool can parse.
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard:q{i}", "expr": e.replace("$__rate_interval", "1m").replace("$__range", "6h")}
        for i, e in enumerate(exprs)]}]}
    (tmp_path / "q.yml").write_text(yaml.safe_dump(rules))
    p = subprocess.run([str(gotools.build("promtool")), "check", "rules", "q.yml"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.parametrize("env", STACKS)
def test_one_dashboard_per_model_and_one_for_the_cluster(env):
    platform, obs = observability(env)
    assert set(obs.dashboards) == {"cluster.json"} | {f"model-{m}.json" for m in platform.config.models}
    uids = [d["uid"] for d in obs.dashboards.values()]
    assert len(set(uids)) == len(uids) and all(len(u) <= 40 for u in uids)
    for name, m in platform.config.models.items():
        d = obs.dashboards[f"model-{name}.json"]
        titles = [p["title"] for p in d["panels"]]
        gpu = m.compute.gpu > 0
        assert ("GPU utilisation" in titles) == gpu and ("GPU memory" in titles) == gpu
        assert {"Requests per second", "Errors and refusals per second", "In flight and queued", "Replicas"} <= set(titles)
        # every query of a model's dashboard is about that model only
        for p in d["panels"]:
            for t in p["targets"]:
                assert f'"{name}' in t["expr"] or f'"{name}(' in t["expr"], t["expr"]
    spot_panel = obs.dashboards["cluster.json"]["panels"][2]["title"]
    assert spot_panel == ("Spot interruption warnings" if platform.config.cluster.provisioner == "karpenter"
                          else "SPOT nodes removed (any cause)")


def test_a_new_model_gets_its_own_dashboard():
    base = dashboards.dashboards("c", "dev", [dashboards.ModelDashboard("a", "models")], karpenter=True)
    more = dashboards.dashboards("c", "dev", [dashboards.ModelDashboard("a", "models"),
                                              dashboards.ModelDashboard("b", "models")], karpenter=True)
    assert set(more) - set(base) == {"model-b.json"}
    assert more["model-a.json"] == base["model-a.json"]  # adding a model does not touch another's dashboard


def test_long_names_keep_uids_unique_and_short():
    a = dashboards.uid("a-very-long-cluster-name-here", "a-very-long-model-name-number-one")
    b = dashboards.uid("a-very-long-cluster-name-here", "a-very-long-model-name-number-two")
    assert a != b and len(a) <= 40 and len(b) <= 40
