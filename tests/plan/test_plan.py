"""The offline plan of the shipped stacks: what `modelstack plan` shows for dev, staging and prod."""

from __future__ import annotations

import copy
import itertools
import json
from datetime import date
from pathlib import Path

import pytest
import yaml

from modelstack import cli

import crd_schema
from modelstack.render import labels
from modelstack.config.schema import CONFIG_KEY

ROOT = Path(__file__).resolve().parents[2]
ENVS = ("dev", "staging", "prod")
TODAY = date(2026, 11, 22)


def values(env: str) -> dict:
    return yaml.safe_load((ROOT / "stacks" / f"Pulumi.{env}.yaml").read_text())["config"]


def plan_of(env: str, vals: dict | None = None) -> dict:
    doc = cli.plan(env, vals or values(env), f"stacks/Pulumi.{env}.yaml", ROOT, today=TODAY)
    doc.pop("_summary")
    doc["_resources"] = doc.pop("_run").resources
    return doc


@pytest.fixture(scope="module")
def plans() -> dict[str, dict]:
    return {env: plan_of(env) for env in ENVS}


def of_type(doc: dict, typ: str) -> list[dict]:
    return [r for r in doc["resources"] if r["type"] == typ]


def one(doc: dict, typ: str, name: str) -> dict:
    found = [r for r in of_type(doc, typ) if r["name"] == name]
    assert len(found) == 1, (typ, name, [r["name"] for r in of_type(doc, typ)])
    return found[0]


# ------------------------------------------------------------------ plan.json shape (foundation issue)

@pytest.mark.parametrize("env", ENVS)
def test_plan_json_has_the_promised_fields(plans, env):
    doc = plans[env]
    assert doc["stack"] == env and doc["kind"] == "offline-plan" and "not a `pulumi preview`" in doc["note"]
    for r in doc["resources"]:
        assert set(r) >= {"urn", "type", "name", "parent", "inputs"}
    for g in doc["node_groups"]:
        assert set(g) >= {"name", "instance_types", "capacity_type", "min_size", "max_size", "gpu"}
    for m in doc["models"]:
        assert set(m) >= {"name", "node_group", "replicas", "requests"}
        assert set(m["replicas"]) >= {"min", "max"} and set(m["requests"]) >= {"cpu", "memory", "gpu"}
    assert set(doc["cost"]["usd_per_hour"]) == {"min", "max"} and set(doc["cost"]["usd_per_month"]) == {"min", "max"}
    assert set(doc["policy"]) >= {"violations"}
    json.dumps({k: v for k, v in doc.items() if not k.startswith("_")})


@pytest.mark.parametrize("env", ENVS)
def test_models_run_where_config_says_with_their_replicas(plans, env):
    cfg = values(env)[CONFIG_KEY]
    got = {m["name"]: m for m in plans[env]["models"]}
    assert set(got) == set(cfg["models"])
    for name, m in cfg["models"].items():
        assert got[name]["node_group"] == m["node_group"]
        assert got[name]["replicas"]["min"] == m["autoscaling"]["min_replicas"]
        assert got[name]["replicas"]["max"] == m["autoscaling"]["max_replicas"]
        assert got[name]["requests"]["gpu"] == m["compute"].get("gpu", 0)
        assert got[name]["image"] == m["image"]
        assert got[name]["path"] == f"/{name}"
        assert got[name]["signal"] == m["autoscaling"].get("signal", "in_flight")


def test_every_resource_is_parented_to_a_component_except_stack_level_namespaces(plans):
    for doc in plans.values():
        top = [r for r in doc["resources"] if r["parent"].endswith("::" + doc["stack"]) and "pulumi:pulumi:Stack" in r["parent"]]
        assert {r["type"] for r in top} <= {
            "modelstack:index:Network", "modelstack:index:Cluster", "modelstack:index:NodeGroup",
            "modelstack:index:ClusterAutoscaler", "modelstack:index:PlatformAddons", "modelstack:index:ModelAPI",
            "modelstack:index:TrafficSplitter", "kubernetes:core/v1:Namespace"}


def test_urns_are_unique_and_the_plan_is_deterministic(plans):
    again = plan_of("dev")
    assert [r["urn"] for r in again["resources"]] == [r["urn"] for r in plans["dev"]["resources"]]
    assert len({r["urn"] for r in again["resources"]}) == len(again["resources"])
    assert again["cost"] == plans["dev"]["cost"]


# ------------------------------------------------------------------ cluster issue: done means

def _node_groups(doc):
    """By base name (the EKS name less its digest of the replacing inputs)."""
    return {r["inputs"]["labels"][labels.NODE_GROUP_LABEL]: r for r in of_type(doc, "aws:eks/nodeGroup:NodeGroup")}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_cluster_done_means(plans, env):
    doc = plans[env]
    cluster = of_type(doc, "eks:index:Cluster")
    assert len(cluster) == 1
    eks = cluster[0]["inputs"]
    assert eks["encryptionConfigKeyArn"].startswith("arn:aws:kms:")
    assert one(doc, "aws:kms/key:Key", f"models-{env}-secrets")["inputs"]["enableKeyRotation"] is True
    groups = _node_groups(doc)
    gpu = groups[f"models-{env}-gpu"]["inputs"]
    assert gpu["amiType"] == "AL2023_x86_64_NVIDIA"
    assert {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"} in gpu["taints"]
    spot = groups[f"models-{env}-cpu"]["inputs"]
    assert spot["capacityType"] == "SPOT" and len(spot["instanceTypes"]) >= 3
    # scale from zero: every group with min 0 tells cluster-autoscaler its labels, taints and GPUs
    tags = of_type(doc, "aws:autoscaling/tag:Tag")
    from_zero = [r for r in of_type(doc, "aws:eks/nodeGroup:NodeGroup") if r["inputs"]["scalingConfig"]["minSize"] == 0]
    # min_size 0 in both stacks' config: cpu, gpu, gpu-large (and, in prod, their on-demand fallbacks)
    assert {f"models-{env}-{g}" for g in ("cpu", "gpu", "gpu-large")} <= {r["inputs"]["labels"][labels.NODE_GROUP_LABEL]
                                                                          for r in from_zero}
    for r in from_zero:
        asg = f"eks-{r['inputs']['nodeGroupName']}-asg"
        keys = {t["inputs"]["tag"]["key"]: t["inputs"]["tag"]["value"] for t in tags if t["inputs"]["autoscalingGroupName"] == asg}
        pool = r["inputs"]["labels"][labels.NODE_POOL_LABEL]
        assert keys[f"k8s.io/cluster-autoscaler/node-template/label/{labels.NODE_POOL_LABEL}"] == pool, asg
        for taint in r["inputs"].get("taints", []):
            assert f"k8s.io/cluster-autoscaler/node-template/taint/{taint['key']}" in keys
        if r["inputs"]["amiType"].endswith("NVIDIA"):
            assert keys["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"] == "1"
    ca = [r for r in of_type(doc, "kubernetes:helm.sh/v3:Release") if r["inputs"].get("chart") == "cluster-autoscaler"]
    # one autoscaler of managed groups, unless Karpenter provisions (then none: two would both buy for one pod)
    karpenter = values(env)[CONFIG_KEY]["cluster"].get("provisioner", "karpenter") == "karpenter"
    assert len(ca) == (0 if karpenter else 1)
    for r in ca:
        assert "priority" in r["inputs"]["values"]["extraArgs"]["expander"]
        assert r["inputs"]["values"]["expanderPriorities"]
    nat = of_type(doc, "aws:ec2/natGateway:NatGateway")
    if env == "prod":
        assert len(nat) == 3 and eks["endpointPrivateAccess"] is True and eks["endpointPublicAccess"] is False
    else:
        assert len(nat) == 1 and eks["endpointPublicAccess"] is True and eks["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_priority_expander_prefers_spot_then_on_demand_fallback(plans):
    ca = [r for r in of_type(plans["prod"], "kubernetes:helm.sh/v3:Release") if r["inputs"].get("chart") == "cluster-autoscaler"][0]
    prio = {int(k): v for k, v in ca["inputs"]["values"]["expanderPriorities"].items()}

    def score(group: str) -> int:
        return next(p for p, pats in prio.items() if any(f"eks-models\\-prod\\-{group}-[" in x for x in pats))

    assert score("cpu") > score("cpu\\-on\\-demand")
    assert score("gpu") > score("gpu\\-on\\-demand")


def test_kubernetes_version_bump_changes_versions_only():
    old = copy.deepcopy(values("prod"))
    old[CONFIG_KEY]["cluster"]["kubernetes_version"] = "1.34"
    before = plan_of("prod", old)
    vals = copy.deepcopy(values("prod"))
    vals[CONFIG_KEY]["cluster"]["kubernetes_version"] = "1.35"
    after = plan_of("prod", vals)
    assert [r["urn"] for r in after["resources"]] == [r["urn"] for r in before["resources"]]
    changed = {}
    for a, b in zip(before["resources"], after["resources"]):
        if a["inputs"] != b["inputs"]:
            changed[a["type"]] = changed.get(a["type"], 0) + 1
    assert changed["eks:index:Cluster"] == 1
    assert changed["aws:eks/nodeGroup:NodeGroup"] == len(_node_groups(before))
    assert set(changed) <= {"eks:index:Cluster", "aws:eks/nodeGroup:NodeGroup", "aws:eks/addon:Addon",
                            "kubernetes:helm.sh/v3:Release"}
    for a, b in zip(before["resources"], after["resources"]):
        if a["type"] == "aws:eks/nodeGroup:NodeGroup":
            assert (a["inputs"]["version"], b["inputs"]["version"]) == ("1.34", "1.35")
            assert {k: v for k, v in a["inputs"].items() if k != "version"} == {k: v for k, v in b["inputs"].items() if k != "version"}


# ------------------------------------------------------------------ model API issue: done means

@pytest.mark.parametrize("env", ENVS)
def test_every_model_has_deployment_service_autoscaler_and_pdb(plans, env):
    doc = plans[env]
    for name in values(env)[CONFIG_KEY]["models"]:
        kinds = {r["inputs"].get("kind") for r in doc["resources"]
                 if r["parent"] and r["parent"].endswith(f"modelstack:index:ModelAPI::{name}")}
        assert {"Deployment", "Service", "ScaledObject", "PodDisruptionBudget"} <= kinds, (name, kinds)


@pytest.mark.parametrize("env", ENVS)
def test_gpu_models_request_and_limit_gpus_and_tolerate_the_taint(plans, env):
    for r in of_type(plans[env], "kubernetes:apps/v1:Deployment"):
        pod = r["inputs"]["spec"]["template"]["spec"]
        model = next(c for c in pod["containers"] if c["name"] == "model")
        gpus = model["resources"].get("limits", {}).get("nvidia.com/gpu")
        if r["inputs"]["metadata"]["labels"][labels.MODEL_LABEL] in ("image-classifier", "llm-chat"):
            assert gpus == model["resources"]["requests"]["nvidia.com/gpu"] == "1"
            assert {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in pod["tolerations"]
        else:
            assert gpus is None


def test_autoscaler_carries_target_and_behaviour(plans):
    so = one(plans["dev"], "kubernetes:keda.sh/v1alpha1:ScaledObject", "llm-chat-scaled-object")["inputs"]["spec"]
    behavior = so["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 600  # downscale_stabilization: 10m
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 60
    assert so["minReplicaCount"] == 1 and so["maxReplicaCount"] == 2
    http = one(plans["dev"], "kubernetes:http.keda.sh/v1beta1:InterceptorRoute", "llm-chat-http-route")["inputs"]["spec"]
    assert json.dumps(http).count('"targetValue": 8') == 1  # target_in_flight: 8


def test_prod_rollouts_never_drop_below_ready_and_spread_across_zones(plans):
    for r in of_type(plans["prod"], "kubernetes:apps/v1:Deployment"):
        spec = r["inputs"]["spec"]
        assert str(spec["strategy"]["rollingUpdate"]["maxUnavailable"]) == "0"
        spread = spec["template"]["spec"]["topologySpreadConstraints"]
        assert any(c["topologyKey"] == labels.ZONE_LABEL and c["whenUnsatisfiable"] == "DoNotSchedule" for c in spread)


def test_prod_models_on_spot_keep_an_on_demand_floor(plans):
    floors = {r["inputs"]["metadata"]["labels"][labels.MODEL_LABEL]: r["inputs"]["spec"]["replicas"]
              for r in of_type(plans["prod"], "kubernetes:apps/v1:Deployment")
              if r["inputs"]["metadata"]["labels"].get(labels.CAPACITY_LABEL) == "on-demand"}
    assert floors == {"sentiment": 2, "sentiment-canary": 1, "image-classifier": 1, "llm-chat": 1}


def test_one_shared_load_balancer_and_a_path_per_model(plans):
    ingresses = [r["inputs"] for r in of_type(plans["staging"], "kubernetes:networking.k8s.io/v1:Ingress")]
    groups = {i["metadata"]["annotations"]["alb.ingress.kubernetes.io/group.name"] for i in ingresses}
    assert groups == {"models-staging-models"}
    paths = [p["path"] for i in ingresses for rule in i["spec"]["rules"] for p in rule["http"]["paths"]]
    assert sorted(paths) == ["/image-classifier", "/llm-chat", "/sentiment", "/sentiment-canary", "/sentiment-live"]


@pytest.mark.parametrize("env", ENVS)
def test_out_manifests_pass_strict_schema_validation(tmp_path, env):
    kv = pytest.importorskip("kubernetes_validate")
    assert cli.main(["plan", env, "--project-dir", str(ROOT), "--out", str(tmp_path)]) in (0,)
    version = values(env)[CONFIG_KEY]["cluster"]["kubernetes_version"]
    files = sorted(tmp_path.glob("*.yaml"))
    assert {f.name for f in files} >= {"sentiment.yaml", "llm-chat.yaml"}
    checked = 0
    for f in files:
        for doc in yaml.safe_load_all(f.read_text()):
            if doc["apiVersion"].startswith(("keda.sh/", "http.keda.sh/")):
                continue  # CRDs: not in the official schemas
            if doc["apiVersion"].startswith(("karpenter.sh/", "karpenter.k8s.aws/")):
                crd = {"NodePool": "karpenter.sh_nodepools.yaml", "EC2NodeClass": "karpenter.k8s.aws_ec2nodeclasses.yaml"}
                assert crd_schema.errors(doc, crd_schema.crd_path("karpenter", "v1.14.1", crd[doc["kind"]])) == []
                checked += 1
                continue
            kv.validate(doc, f"{version}.0", strict=True)
            checked += 1
    assert checked >= 15
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["stack"] == env


def test_json_flag_writes_the_plan_document(plans, tmp_path, capsys):
    target = tmp_path / "dev.json"
    assert cli.main(["plan", "dev", "--project-dir", str(ROOT), "--json", str(target)]) == 0
    assert capsys.readouterr().out.endswith(f"wrote {target}\n")
    doc = json.loads(target.read_text())
    assert doc["stack"] == "dev" and doc["kind"] == "offline-plan"
    assert [r["urn"] for r in doc["resources"]] == [r["urn"] for r in plans["dev"]["resources"]]
    assert not [k for k in doc if k.startswith("_")]


# ------------------------------------------------------------------ cost issue: done means

@pytest.mark.parametrize("env", ENVS)
def test_cost_object_and_table(plans, env, capsys):
    cost = plans[env]["cost"]
    assert 0 < cost["usd_per_hour"]["min"] <= cost["usd_per_hour"]["max"]
    assert cost["usd_per_month"]["max"] == pytest.approx(cost["usd_per_hour"]["max"] * 730, rel=1e-6)
    groups = {g["name"] for g in plans[env]["node_groups"]}
    assert {f"models-{env}-{n}" for n in cost["node_groups"]} == groups
    for g in cost["node_groups"].values():
        assert set(g) >= {"nodes", "instance_type"} and set(g["nodes"]) == {"min", "max"}
    assert cli.main(["plan", env, "--project-dir", str(ROOT)]) == 0
    out = capsys.readouterr().out
    assert "OFFLINE PLAN" in out and "your cluster will cost $" in out and "eks control plane" in out


# ------------------------------------------------------------------ guardrails issue: done means

@pytest.mark.parametrize("env", ENVS)
def test_shipped_stacks_have_no_mandatory_violation(plans, env):
    assert [v for v in plans[env]["policy"]["violations"] if v["level"] == "mandatory"] == []


def test_bad_stack_fixture_exits_1_with_violations_named(capsys):
    code = cli.main(["plan", "prod", "--project-dir", str(ROOT), "--stack-file", str(ROOT / "tests/fixtures/Pulumi.bad.yaml")])
    captured = capsys.readouterr()
    assert code == 1
    named = {line.split("]")[1].split(":")[0].strip() for line in captured.out.splitlines() if line.startswith("  [mandatory]")}
    assert {"eks-private-endpoint", "lb-cidr-allowlist", "allowed-image-registries",  # security
            "min-replicas",  # reliability
            "gpu-instance-families", "max-nodes-per-group"} <= named, named  # cost
    assert "mandatory policy violation(s): the plan is rejected" in captured.err


# ------------------------------------------------------------------ CLI errors

def test_bad_config_exits_2_with_one_report_and_no_traceback(tmp_path, capsys):
    vals = copy.deepcopy(values("dev"))
    p = vals[CONFIG_KEY]
    p["models"]["sentiment"]["autoscalling"] = {}
    p["models"]["sentiment"]["autoscaling"]["min_replicas"] = -1
    p["models"]["llm-chat"]["node_group"] = "cpu"
    bad = tmp_path / "Pulumi.dev.yaml"
    bad.write_text(yaml.safe_dump({"config": vals}))
    code = cli.main(["plan", "dev", "--project-dir", str(ROOT), "--stack-file", str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"stack 'dev' ({bad}): 3 configuration errors")
    assert "Traceback" not in err and "nothing was planned" in err


def test_unknown_stack_exits_2(capsys):
    assert cli.main(["plan", "qa", "--project-dir", str(ROOT)]) == 2
    err = capsys.readouterr().err  # read once: a second readouterr() returns only what was printed since
    present = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
    assert {"dev", "staging", "prod"} <= set(present)
    assert err == (f"modelstack: stack 'qa': no config file {ROOT / 'stacks' / 'Pulumi.qa.yaml'}; "
                   f"stacks here: {', '.join(present)}\n")


def test_project_is_found_from_a_subfolder():
    assert cli.find_project(ROOT / "tests" / "fixtures" / "urns") == ROOT


def test_no_project_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["plan", "dev"]) == 2
    assert capsys.readouterr().err == (f"modelstack: no Pulumi.yaml in {tmp_path} or any parent folder; "
                                       "run from the project or pass --project-dir\n")


def test_sizing_problem_is_a_config_error(tmp_path, capsys):
    vals = copy.deepcopy(values("dev"))
    vals[CONFIG_KEY]["node_groups"]["cpu"]["max_size"] = 1
    bad = tmp_path / "Pulumi.dev.yaml"
    bad.write_text(yaml.safe_dump({"config": vals}))
    assert cli.main(["plan", "dev", "--project-dir", str(ROOT), "--stack-file", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "modelstack:platform.node_groups.cpu.max_size: got 1; allowed: at least 2: the max_replicas of sentiment need 2" in err


def test_as_of_prices_extended_support_from_the_day_it_starts(tmp_path):
    def control_plane(day: str) -> float:
        out = tmp_path / f"{day}.json"
        stack = tmp_path / "Pulumi.prod.yaml"
        vals = copy.deepcopy(values("prod"))
        vals[CONFIG_KEY]["cluster"]["kubernetes_version"] = "1.34"
        stack.write_text(yaml.safe_dump({"config": vals}))
        assert cli.main(["plan", "prod", "--project-dir", str(ROOT), "--stack-file", str(stack), "--json", str(out),
                         "--as-of", day]) == 0
        rows = json.loads(out.read_text())["cost"]["rows"]
        return next(r["usd_per_hour"]["min"] for r in rows if r["resource"] == "eks control plane")

    # Kubernetes 1.34's EKS standard support ends on 2026-12-02
    assert (control_plane("2026-12-02"), control_plane("2026-12-03")) == (0.1, 0.6)


def test_capacity_notes_reach_plan_json_and_the_summary(plans, capsys):
    notes = plans["prod"]["capacity"]["gpu-large"]["notes"]
    assert notes and "fewer than min_types=3" in notes[0] and "g6e.xlarge" in notes[0]
    assert [n.split(":")[0] for n in plans["prod"]["capacity"]["system"]["notes"]] == ["sized 3 (min_size 3)"]
    assert cli.main(["plan", "prod", "--project-dir", str(ROOT)]) == 0
    assert f"note on gpu-large: {notes[0]}" in " ".join(capsys.readouterr().out.split())


def test_a_region_without_price_data_plans_at_us_east_1_prices_and_says_so(capsys, tmp_path):
    vals = copy.deepcopy(values("dev"))
    vals["aws:region"] = "eu-west-1"
    doc = plan_of("dev", vals)
    assert doc["cost"]["region"] == "eu-west-1"
    assert any("us-east-1 price, not a price for this region" in a for a in doc["cost"]["assumptions"])
    assert any("eu-west-1's (Spot Advisor)" in a for a in doc["cost"]["assumptions"])
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(yaml.safe_dump({"config": vals}))
    assert cli.main(["plan", "dev", "--project-dir", str(ROOT), "--stack-file", str(stack)]) == 0
    assert "in eu-west-1 (at us-east-1 prices: this region's prices are not in the data)" in " ".join(capsys.readouterr().out.split())


def test_plan_json_carries_cluster_notes(plans):
    # 1.35 is far from the end of its standard support on TODAY (the prod layout's advice is a note too)
    assert not any(n.startswith("Kubernetes") for n in plans["prod"]["notes"])
    vals = copy.deepcopy(values("prod"))
    vals[CONFIG_KEY]["cluster"]["kubernetes_version"] = "1.34"
    assert plan_of("prod", vals)["notes"][0].startswith("Kubernetes 1.34 leaves EKS standard support on 2026-12-02")


def test_dev_installs_prometheus_and_the_dcgm_exporter_that_gpu_signals_query(plans):
    from modelstack.cluster.addons import PROMETHEUS_ADDRESS
    releases = {r["inputs"]["chart"]: r for r in of_type(plans["dev"], "kubernetes:helm.sh/v3:Release")}
    prom, dcgm = releases["prometheus"], releases["dcgm-exporter"]  # dev has GPU node groups
    assert (prom["inputs"]["namespace"], prom["inputs"]["values"]["server"]["fullnameOverride"],
            prom["inputs"]["values"]["server"]["service"]["servicePort"]) == ("monitoring", "prometheus-server", 80)
    assert dcgm["inputs"]["values"]["nodeSelector"] == {labels.GPU_PRESENT_LABEL: "true"}
    vals = copy.deepcopy(values("dev"))
    vals[CONFIG_KEY]["models"]["image-classifier"]["autoscaling"] = {
        "min_replicas": 1, "max_replicas": 3, "signal": "gpu", "target_utilization": 70}
    so = one(plan_of("dev", vals), "kubernetes:keda.sh/v1alpha1:ScaledObject",
             "image-classifier-scaled-object")["inputs"]["spec"]
    (trigger,) = so["triggers"]
    assert trigger["metadata"]["serverAddress"] == PROMETHEUS_ADDRESS == "http://prometheus-server.monitoring.svc:80"
    assert 'pod=~"image-classifier-[a-z0-9]+-[a-z0-9]+"' in trigger["metadata"]["query"]


def test_observability_off_installs_neither(plans):
    vals = copy.deepcopy(values("dev"))
    vals[CONFIG_KEY]["cluster"]["observability"] = {"prometheus": False}
    charts = {r["inputs"]["chart"] for r in of_type(plan_of("dev", vals), "kubernetes:helm.sh/v3:Release")}
    assert not {"prometheus", "dcgm-exporter"} & charts and "keda" in charts


def test_node_group_priority_and_the_derived_fallback_priority_are_in_the_plan(plans, capsys):
    cfg = values("prod")[CONFIG_KEY]["node_groups"]
    cluster = values("prod")[CONFIG_KEY]["cluster"]["name"]
    got = {g["name"]: g["priority"] for g in plans["prod"]["node_groups"]}
    want = {}
    for name, g in cfg.items():
        want[f"{cluster}-{name}"] = g.get("priority", 50)
        if g.get("spot") and g.get("on_demand_fallback"):
            want[f"{cluster}-{name}-on-demand"] = g.get("priority", 50) - 1
    assert got == want
    assert all(g["expander_score"] // 1000 == g["priority"] for g in plans["prod"]["node_groups"])
    assert cli.main(["plan", "prod", "--project-dir", str(ROOT)]) == 0
    out = capsys.readouterr().out
    head = next(line for line in out.splitlines() if line.startswith("name ") and "priority" in line)
    row = next(line for line in out.splitlines() if line.startswith(f"{cluster}-cpu-on-demand "))
    col = head.index("priority")
    assert row[col:].split()[0] == str(want[f"{cluster}-cpu-on-demand"])


def test_traffic_splits_reach_plan_json_and_the_summary(plans, capsys):
    cfg = values("prod")[CONFIG_KEY]["traffic_splits"]
    got = {s["name"]: (s["path"], {b["service"]: b["weight"] for b in s["backends"]}) for s in plans["prod"]["traffic_splits"]}
    assert got == {name: (s.get("path") or f"/{name}", s["backends"]) for name, s in cfg.items()}
    assert plans["dev"]["traffic_splits"] == []
    assert cli.main(["plan", "prod", "--project-dir", str(ROOT)]) == 0
    out = capsys.readouterr().out
    ((name, split),) = cfg.items()
    line = next(line for line in out.splitlines() if line.startswith(name + " "))
    assert line.split(None, 2)[1:] == [f"/{name}", ", ".join(f"{b} {w}%" for b, w in split["backends"].items())]


def test_accelerator_chips_of_gpu_and_inferentia_groups_and_models(plans, capsys, tmp_path):
    from modelstack.capacity.pricing import catalog

    gpu = next(g for g in plans["dev"]["node_groups"] if g["pool"] == "gpu")
    t = catalog()[gpu["instance_types"][0]]
    assert gpu["accelerators"] == {"kind": "gpu", "count": t.gpu_count, "model": t.gpu_model, "neuroncores": 0}
    vals = copy.deepcopy(values("dev"))
    p = vals[CONFIG_KEY]
    p["node_groups"]["neuron"] = {"kind": "inferentia", "instance_types": ["inf2.xlarge"], "max_size": 2}
    p["models"]["translate"] = {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/translate:1.0.0",
                                "node_group": "neuron", "compute": {"cpu": "2", "memory": "8Gi", "inferentia": 1},
                                "autoscaling": {"min_replicas": 1, "max_replicas": 2}}
    doc = plan_of("dev", vals)
    inf = next(g for g in doc["node_groups"] if g["pool"] == "neuron")
    assert inf["accelerators"] == {"kind": "neuron", "count": 1, "model": "inferentia2", "neuroncores": 2}
    assert next(m for m in doc["models"] if m["name"] == "translate")["requests"]["neuron"] == 1
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(yaml.safe_dump({"config": vals}))
    assert cli.main(["plan", "dev", "--project-dir", str(ROOT), "--stack-file", str(stack)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("name ") and "accel./node" in line)
    start, end = lines[head].index("accel./node"), lines[head].index("ami")
    at = next(i for i, line in enumerate(lines) if line.startswith("models-dev-neuron "))
    # The row and the continuation lines its wrapped cells take (the table fits 120 columns); the cell read by column.
    row = [lines[at]] + list(itertools.takewhile(lambda line: line.startswith(" "), lines[at + 1:]))
    assert all(len(line) <= 120 for line in row)
    assert " ".join(" ".join(line[start:end] for line in row).split()) == "1 inferentia2 (2 NeuronCores)"
    assert " 1 neuron " in next(line for line in out.splitlines() if line.startswith("translate "))
    assert " 1 gpu " in next(line for line in out.splitlines() if line.startswith("image-classifier "))


def test_config_warnings_reach_plan_json_and_the_summary(capsys, tmp_path):
    vals = copy.deepcopy(values("dev"))
    vals[CONFIG_KEY]["models"]["sentiment"]["autoscaling"]["downscale_tolerance"] = 0.2
    doc = plan_of("dev", vals)
    assert [w["path"] for w in doc["warnings"]] == [f"{CONFIG_KEY}.models.sentiment.autoscaling.downscale_tolerance"]
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(yaml.safe_dump({"config": vals}))
    assert cli.main(["plan", "dev", "--project-dir", str(ROOT), "--stack-file", str(stack)]) == 0
    out = capsys.readouterr().out
    assert "config warnings: 1 setting(s) without effect" in out
    assert f"  {CONFIG_KEY}.models.sentiment.autoscaling.downscale_tolerance: got 0.2; allowed: has no effect" in out


# ------------------------------------------------------------------ time budgets on the slowest path (issue 11)

def _seconds(text: str) -> int:
    assert text.endswith("s"), text
    return int(text[:-1])


@pytest.mark.parametrize("env", ENVS)
def test_timeouts_cover_the_slowest_path_we_plan(plans, env):
    """Scale from zero onto a node group at size 0: node + pull + start-up probe, then the response."""
    from modelstack.render import timeouts
    doc = plans[env]
    routes = {r["name"]: r for r in of_type(doc, "kubernetes:http.keda.sh/v1beta1:InterceptorRoute")}
    ingresses = of_type(doc, "kubernetes:networking.k8s.io/v1:Ingress")
    idle = {r["inputs"]["metadata"]["annotations"]["alb.ingress.kubernetes.io/load-balancer-attributes"] for r in ingresses}
    assert len(idle) == 1, idle  # one load balancer: one value on every Ingress of the group
    idle_s = int(idle.pop().split("=")[1])
    checked = 0
    for name, m in values(env)[CONFIG_KEY]["models"].items():
        probe = m.get("startup_probe") or m.get("liveness_probe") or m.get("readiness_probe") or {}
        startup = timeouts.probe_budget(probe.get("initial_delay_seconds", 0), probe.get("period_seconds", 10 if probe else 5),
                                        probe.get("failure_threshold", 3))
        accel = "gpu" if m.get("compute", {}).get("gpu") else "none"
        slowest = timeouts.NODE_READY_SECONDS[accel] + timeouts.IMAGE_PULL_SECONDS[accel] + startup
        dep = one(doc, "kubernetes:apps/v1:Deployment", f"{name}-deployment")
        assert _seconds(dep["options"]["custom_timeouts"]["create"]) >= slowest
        assert _seconds(dep["options"]["custom_timeouts"]["update"]) >= slowest
        assert dep["inputs"]["spec"]["progressDeadlineSeconds"] >= slowest
        route = routes.get(f"{name}-http-route")
        if route is None:  # not signal in_flight: no interceptor on the path, the model answers the ALB itself
            assert m["autoscaling"]["signal"] != "in_flight"
            assert idle_s >= slowest
        else:
            t = route["inputs"]["spec"]["timeouts"]
            assert _seconds(t["readiness"]) >= slowest
            assert idle_s >= _seconds(t["readiness"]) + _seconds(t["responseHeader"])
        checked += 1
    assert checked == len(values(env)[CONFIG_KEY]["models"]) > 0


# ------------------------------------------------------------------ Karpenter issue: done means

def _with(env: str, **cluster) -> dict:
    vals = copy.deepcopy(values(env))
    vals[CONFIG_KEY]["cluster"].update(cluster)
    return vals


def _required(pod_spec: dict, key: str) -> list:
    terms = pod_spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    return [v for t in terms for e in t["matchExpressions"] if e["key"] == key for v in e["values"]]


def test_dev_plans_with_karpenter_and_every_model_lands_on_a_node_pool(plans):
    doc = plans["dev"]
    assert doc["policy"]["mandatory"] == 0
    pools = {p["name"]: p for p in doc["node_pools"]}
    assert set(pools) == {"cpu", "gpu", "gpu-large"}
    assert all(p["limits"].get("cpu") and p["budgets"] == ["50%"] for p in pools.values())
    templates = {r.inputs["metadata"]["name"]: r.inputs["spec"]["template"]["metadata"]["labels"]
                 for r in doc["_resources"] if r.type == "kubernetes:karpenter.sh/v1:NodePool"}
    for r in doc["_resources"]:
        if r.type == "kubernetes:apps/v1:Deployment" and r.inputs["metadata"]["namespace"] == "models":
            wanted = _required(r.inputs["spec"]["template"]["spec"], labels.NODE_POOL_LABEL)
            assert any(t[labels.NODE_POOL_LABEL] in wanted for t in templates.values()), r.name
    kinds = {r.type for r in doc["_resources"]}
    assert {"aws:sqs/queue:Queue", "aws:eks/podIdentityAssociation:PodIdentityAssociation",
            "aws:eks/accessEntry:AccessEntry", "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"} <= kinds


def test_prod_on_karpenter_keeps_its_on_demand_floors_schedulable_and_budgets_small():
    doc = plan_of("prod", _with("prod", provisioner="karpenter"))
    assert doc["policy"]["mandatory"] == 0, doc["policy"]["violations"]
    pools = [r.inputs for r in doc["_resources"] if r.type == "kubernetes:karpenter.sh/v1:NodePool"]
    on_demand = {p["spec"]["template"]["metadata"]["labels"][labels.NODE_POOL_LABEL] for p in pools
                 if p["spec"]["template"]["metadata"]["labels"].get(labels.CAPACITY_TYPE_LABEL) == "ON_DEMAND"}
    floors = [r for r in doc["_resources"] if r.type == "kubernetes:apps/v1:Deployment"
              and r.inputs["metadata"]["labels"].get(labels.CAPACITY_LABEL) == "on-demand"]
    assert floors
    for f in floors:
        spec = f.inputs["spec"]["template"]["spec"]
        assert _required(spec, labels.CAPACITY_TYPE_LABEL) == ["ON_DEMAND"]
        assert set(_required(spec, labels.NODE_POOL_LABEL)) <= on_demand, f.name
    assert all(p["spec"]["disruption"]["budgets"] == [{"nodes": "10%"}] for p in pools)
    assert not [r for r in doc["_resources"] if r.type == "modelstack:index:ClusterAutoscaler"]
    assert {r.inputs["labels"][labels.NODE_GROUP_LABEL] for r in doc["_resources"]
            if r.type == "aws:eks/nodeGroup:NodeGroup"} == {"models-prod-system"}
    # three system nodes: both controller replicas get a node of their own
    release = next(r for r in doc["_resources"] if r.name == "models-prod-karpenter-release")
    assert release.inputs["values"]["replicas"] == 2


def test_keeping_node_groups_drops_their_floor_so_they_can_drain():
    doc = plan_of("prod", _with("prod", provisioner="karpenter", karpenter={"keep_node_groups": True}))
    sizes = {r.inputs["labels"][labels.NODE_GROUP_LABEL]: r.inputs["scalingConfig"]["minSize"] for r in doc["_resources"]
             if r.type == "aws:eks/nodeGroup:NodeGroup"}
    # nothing scales a managed group with Karpenter: the system group runs at its max_size, the old groups keep
    # the nodes they have (min 0), and cluster-autoscaler is gone (upstream's migration order)
    # The system group at what its add-ons need or its min_size (3), not its max_size (6).
    assert sizes["models-prod-system"] == 3 and sizes["models-prod-cpu"] == 0
    assert len(sizes) == 7
    assert not [r for r in doc["_resources"] if r.type == "modelstack:index:ClusterAutoscaler"]


def test_irsa_controller_identity_from_config():
    doc = plan_of("dev", _with("dev", karpenter={"controller_identity": "irsa"}))
    # The Karpenter controller's association is gone; logging and model roles keep theirs.
    assert not [r for r in doc["_resources"] if r.type == "aws:eks/podIdentityAssociation:PodIdentityAssociation"
                and "karpenter" in r.name]
    release = next(r for r in doc["_resources"] if r.name == "models-dev-karpenter-release")
    assert "eks.amazonaws.com/role-arn" in release.inputs["values"]["serviceAccount"]["annotations"]


def test_models_table_counts_every_container_of_the_pod() -> None:
    from modelstack.plan.report import _pod_requests
    got = _pod_requests([{"name": "model", "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}},
                         {"name": "proxy", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}},
                         {"name": "tfs", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}])
    assert got == {"cpu": "1600m", "memory": "3200Mi", "containers": ["model", "proxy", "tfs"]}


# ------------------------------------------------------------------------------------------ regions and their prices

NEW_REGIONS = ("eu-central-1", "ap-southeast-1", "sa-east-1")
#: Types the us-east-1-priced dev plan chooses (cpu, gpu, gpu-large): the test price files say the region lacks them.
NOT_OFFERED = frozenset({"m6i.xlarge", "g4dn.xlarge", "g6e.xlarge"})


def price_doc(region: str, missing=NOT_OFFERED, factor: float = 1.25) -> dict:
    """A region price file as `modelstack prices refresh` writes it: every catalog type at `factor` × its us-east-1
    price, spot in three zones at 30/35/40% of that, and the `missing` types not offered."""
    from modelstack.capacity import pricing, refresh
    types = {}
    for name, t in pricing.catalog().items():
        if t.on_demand_usd_per_hour is None:
            types[name] = {"offered": name not in missing}
            continue
        od = round(t.on_demand_usd_per_hour * factor, 6)
        types[name] = {"offered": name not in missing, "on_demand_usd_per_hour": od,
                       "spot_usd_per_hour": {f"{region}{z}": round(od * f, 6) for z, f in zip("abc", (0.3, 0.35, 0.4))}}
    return {"format": 1, "region": region, "date": "2026-12-01", "fetched_at": "2026-12-01T09:00:00Z",
            "sources": dict(refresh.SOURCES), "instance_types": types}


def project_with_prices(tmp_path: Path, region: str, doc: dict | None = None) -> Path:
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "policies").mkdir()
    for f in (ROOT / "policies").glob("config.*.json"):
        (tmp_path / "policies" / f.name).write_text(f.read_text())
    (tmp_path / "prices").mkdir()
    (tmp_path / "prices" / f"{region}.json").write_text(json.dumps(doc or price_doc(region)))
    return tmp_path


def in_region(region: str, env: str = "dev") -> dict:
    vals = copy.deepcopy(values(env))
    vals["aws:region"] = region
    return vals


def chosen_types(doc: dict) -> set[str]:
    out = {t for g in doc["capacity"].values() for t in g["instance_types"]}
    for g in doc["cost"]["node_groups"].values():
        out |= {k.split("/")[0] for v in g["nodes_by_type"].values() for k in v}
    for r in of_type(doc, "aws:eks/nodeGroup:NodeGroup"):
        out |= set(r["inputs"].get("instanceTypes") or [])
    pools = [r for r in doc["resources"] if r["inputs"].get("kind") == "NodePool"]
    assert pools or not doc["cost"]["node_groups"]
    for r in pools:
        for req in r["inputs"]["spec"]["template"]["spec"]["requirements"]:
            if req["key"] == "node.kubernetes.io/instance-type":
                out |= set(req["values"])
    return out


@pytest.mark.parametrize("region", NEW_REGIONS)
def test_dev_plans_in_a_region_without_price_data_at_named_us_east_1_prices(region, tmp_path, capsys):
    assert not (ROOT / "prices" / f"{region}.json").exists()
    doc = plan_of("dev", in_region(region))
    p = doc["cost"]["prices"]
    assert doc["cost"]["region"] == region and p["region"] == region
    assert p["fallback"] is True and p["price_region"] == "us-east-1" and p["file"] is None and p["date"] == "2026-07-20"
    assert f"no price data for {region}: us-east-1 prices used instead" in p["summary"]
    assert any(f"which instance types {region} offers is not checked" in a for a in doc["cost"]["assumptions"])
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(yaml.safe_dump({"config": in_region(region)}))
    assert cli.main(["plan", "dev", "--project-dir", str(ROOT), "--stack-file", str(stack)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"in {region} (at us-east-1 prices: this region's prices are not in the data)" in out
    assert f"prices: no price data for {region}: us-east-1 prices used instead" in out
    assert f"run `modelstack prices refresh --region {region}`" in out


@pytest.mark.parametrize("region", NEW_REGIONS)
def test_dev_plans_in_a_region_with_its_price_file_and_never_a_type_it_lacks(region, tmp_path, capsys):
    fallback = plan_of("dev", in_region(region))
    assert NOT_OFFERED <= chosen_types(fallback)  # without data these are the picks, so the test means something
    project = project_with_prices(tmp_path, region)
    doc = cli.plan("dev", in_region(region), "stacks/Pulumi.dev.yaml", project, today=TODAY)
    p = doc["cost"]["prices"]
    assert p["fallback"] is False and p["price_region"] == region and p["date"] == "2026-12-01"
    assert p["file"] == f"prices/{region}.json" and "pricing:GetProducts" in p["source"]["on_demand"]
    assert not chosen_types(doc) & NOT_OFFERED
    assert any(a.startswith(f"on-demand EC2 prices: {region}, Linux, shared tenancy, AWS Price List Query API")
               for a in doc["cost"]["assumptions"])
    summary = " ".join(doc["_summary"].split())
    assert f"prices: {region} prices fetched 2026-12-01 from the AWS APIs (prices/{region}.json)" in summary
    assert "at us-east-1 prices" not in summary
    # The file's prices are the ones used: the explicit system group's m7i.large at 1.25 × its us-east-1 price.
    row = next(r for r in doc["cost"]["rows"] if r["resource"] == "nodegroup system")
    from modelstack.capacity import pricing
    assert row["unit_usd_per_hour"]["on_demand"] == round(pricing.catalog()["m7i.large"].on_demand_usd_per_hour * 1.25, 6)


def test_a_declared_type_the_region_does_not_offer_is_refused_with_one_report(tmp_path, capsys):
    region = "sa-east-1"
    project = project_with_prices(tmp_path, region, price_doc(region, missing=NOT_OFFERED | {"m7i.large"}))
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(yaml.safe_dump({"config": in_region(region)}))
    assert cli.main(["plan", "dev", "--project-dir", str(project), "--stack-file", str(stack)]) == 2
    err = capsys.readouterr().err
    assert err.count("configuration error") == 1 and "Traceback" not in err
    assert f"{CONFIG_KEY}.node_groups.system.instance_types: got m7i.large; allowed: types {region} offers" in " ".join(err.split())


def test_prices_file_names_the_file_and_a_bad_one_is_a_config_error(tmp_path, capsys):
    region = "ap-southeast-1"
    (tmp_path / "elsewhere.json").write_text(json.dumps(price_doc(region)))
    vals = in_region(region)
    vals[CONFIG_KEY]["prices_file"] = str(tmp_path / "elsewhere.json")
    doc = plan_of("dev", vals)
    assert doc["cost"]["prices"]["file"].endswith("elsewhere.json") and not chosen_types(doc) & NOT_OFFERED
    for bad, why in ((tmp_path / "missing.json", "cannot be read"), (tmp_path / "eu.json", "holds prices for eu-central-1")):
        if "eu" in bad.name:
            bad.write_text(json.dumps(price_doc("eu-central-1")))
        vals[CONFIG_KEY]["prices_file"] = str(bad)
        stack = tmp_path / "Pulumi.dev.yaml"
        stack.write_text(yaml.safe_dump({"config": vals}))
        assert cli.main(["plan", "dev", "--project-dir", str(ROOT), "--stack-file", str(stack)]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert f"{CONFIG_KEY}.prices_file: got" in err and why in err and "Traceback" not in err


def test_a_region_where_eks_does_not_run_is_refused(tmp_path, capsys):
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(yaml.safe_dump({"config": in_region("eu-middle-9")}))
    assert cli.main(["plan", "dev", "--project-dir", str(ROOT), "--stack-file", str(stack)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "stack 'dev'" in err and "aws:region: got 'eu-middle-9'; allowed: an AWS region where EKS runs: one of" in err
    assert "eu-central-1" in err and "Traceback" not in err


def test_a_broken_default_price_file_is_one_config_error(tmp_path, capsys):
    region = "eu-central-1"
    project = project_with_prices(tmp_path, region)
    (project / "prices" / f"{region}.json").write_text("{not json")
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(yaml.safe_dump({"config": in_region(region)}))
    assert cli.main(["plan", "dev", "--project-dir", str(project), "--stack-file", str(stack)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("configuration error") == 1 and "Traceback" not in err
    assert f"price file prices/{region}.json: got not JSON" in err
    assert f"`modelstack prices refresh --region {region}`" in err


def test_the_prometheus_price_metrics_use_the_region_file(tmp_path):
    from modelstack.capacity import pricing
    from modelstack.ops.observability import prices
    from modelstack.planner.capacity import plan_platform
    region = "ap-southeast-1"
    platform, capacity = plan_platform("dev", in_region(region), "stacks/Pulumi.dev.yaml", TODAY,
                                       project_with_prices(tmp_path, region))
    got = {(p.instance_type, p.capacity_type): p.usd_per_hour for p in prices(platform, capacity)}
    assert got[("m7i.large", "ON_DEMAND")] == round(pricing.catalog()["m7i.large"].on_demand_usd_per_hour * 1.25, 6)
    assert not {t for t, _ in got} & NOT_OFFERED
