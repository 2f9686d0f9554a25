"""examples/llm-platform: its dev and prod stacks plan offline, render vLLM arguments vLLM defines, a KEDA trigger on
the engine's metrics, and timeouts its cold-start budget covers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from modelstack import cli
from modelstack.data import read_text
from modelstack.render import vllm

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "llm-platform"
FACTS = json.loads(read_text("vllm_facts.json"))
FLAGS = set(FACTS["engine_flags"]) | set(FACTS["server_flags"])


@pytest.fixture(scope="module", params=["dev", "prod"])
def planned(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    rc = cli.main(["plan", request.param, "--project-dir", str(EXAMPLE), "--json", str(out / "plan.json"),
                   "--out", str(out / "manifests")])
    assert rc == 0
    objects = [d for f in sorted((out / "manifests").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
    return json.loads((out / "plan.json").read_text()), objects


def of_kind(objects, kind, name=None):
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def test_every_llm_is_sized_and_the_plan_is_clean(planned):
    doc, _ = planned
    stack = yaml.safe_load((EXAMPLE / f"Pulumi.{doc['stack']}.yaml").read_text())["config"]["modelstack:platform"]
    assert set(doc["llms"]) == set(stack["models"])
    assert doc["policy"]["mandatory"] == 0, doc["policy"]["violations"]
    for row in doc["llms"].values():
        assert row["headroom_gib"] >= 0 and row["gpus"] in (1, 2, 4, 8)


def test_engine_arguments_are_vllms(planned):
    doc, objects = planned
    for name, row in doc["llms"].items():
        (dep,) = of_kind(objects, "Deployment", name)
        c = dep["spec"]["template"]["spec"]["containers"][0]
        assert c["command"] == list(vllm.COMMAND)
        flags = [a for a in c["args"] if a.startswith("--")]
        assert flags and set(flags) <= FLAGS
        args = dict(zip(c["args"][1::2], c["args"][2::2]))
        assert int(args["--tensor-parallel-size"]) == row["tensor_parallel"] == int(
            c["resources"]["limits"]["nvidia.com/gpu"])


def test_keda_scales_on_the_engines_queue(planned):
    doc, objects = planned
    for name in doc["llms"]:
        (so,) = of_kind(objects, "ScaledObject", name)
        prom = [t for t in so["spec"]["triggers"] if t["type"] == "prometheus"]
        assert prom and vllm.METRIC_WAITING in prom[0]["metadata"]["query"]
        assert vllm.METRIC_RUNNING in prom[0]["metadata"]["query"]
        assert not any("DCGM" in t["metadata"].get("query", "") for t in so["spec"]["triggers"])


def test_the_cold_start_budget_covers_the_timeouts(planned):
    doc, objects = planned
    for name, row in doc["llms"].items():
        cold = row["cold_start"]["total"]
        (route,) = of_kind(objects, "InterceptorRoute", name)
        assert int(route["spec"]["timeouts"]["readiness"].rstrip("s")) >= cold
        (dep,) = of_kind(objects, "Deployment", name)
        assert dep["spec"]["progressDeadlineSeconds"] >= cold
        sp = dep["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
        startup = row["cold_start"]["weights_copy"] + row["cold_start"]["weights_load"] + row["cold_start"]["engine_init"]
        assert sp["periodSeconds"] * sp["failureThreshold"] >= startup
    idle = [int(o["metadata"]["annotations"]["alb.ingress.kubernetes.io/load-balancer-attributes"]
                .split("idle_timeout.timeout_seconds=")[1].split(",")[0])
            for o in of_kind(objects, "Ingress") if "alb.ingress.kubernetes.io/load-balancer-attributes" in
            (o["metadata"].get("annotations") or {})]
    assert idle and min(idle) >= max(r["cold_start"]["total"] for r in doc["llms"].values())


def test_the_llm_node_class_caches_on_instance_store_nvme(planned):
    _, objects = planned
    classes = of_kind(objects, "EC2NodeClass")
    assert any(c["spec"].get("instanceStorePolicy") == "RAID0" for c in classes)


def test_the_readme_shows_the_dev_plan_as_it_is():
    from modelstack.planner import llm as planner_llm
    from modelstack.planner.capacity import plan_platform

    values = yaml.safe_load((EXAMPLE / "Pulumi.dev.yaml").read_text())["config"]
    _, capacity = plan_platform("dev", values, str(EXAMPLE / "Pulumi.dev.yaml"), project=EXAMPLE)
    lines = planner_llm.table({"chat": capacity.llms["chat"]})
    readme = (EXAMPLE.parents[1] / "README.md").read_text()
    for line in lines:
        assert f"# {line}" in readme, line


def test_the_weights_are_cached_once_per_node_read_only_for_the_engine(planned):
    from modelstack.render import node_templates

    doc, objects = planned
    for name, row in doc["llms"].items():
        pod = of_kind(objects, "Deployment", name)[0]["spec"]["template"]["spec"]
        (vol,) = [v for v in pod["volumes"] if "hostPath" in v]
        assert vol["hostPath"] == {"path": node_templates.WEIGHTS_CACHE_ROOT, "type": "Directory"}
        (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == vol["name"]]
        assert mount["readOnly"] is True and row["weights_path"] == f"{vol['hostPath']['path']}/{mount['subPath']}"
        assert row["cold_start"]["warm_node"] < row["cold_start"]["total"]
    classes = [c for c in of_kind(objects, "EC2NodeClass") if c["spec"].get("instanceStorePolicy") == "RAID0"]
    assert classes and all(c["spec"]["userData"] == node_templates.weights_cache_user_data() for c in classes)


def test_the_node_cache_namespace_admits_hostpath_and_still_warns_at_restricted(planned):
    _, objects = planned
    (ns,) = of_kind(objects, "Namespace", "models")
    psa = {k.rsplit("/", 1)[1]: v for k, v in ns["metadata"]["labels"].items() if k.startswith("pod-security.")}
    assert psa == {"enforce": "privileged", "warn": "restricted", "audit": "restricted"}
