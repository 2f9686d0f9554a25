"""examples/: another team's stack composing a ModelAPI into a cluster modelstack did not build, planned offline."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
import yaml

from modelstack import cli
from modelstack.plan import composed
from modelstack.plan import diff as plan_diff
from modelstack.plan.mocks import SECRET_MASK
from modelstack.policies.engine import evaluate
from modelstack.render import labels

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "existing-cluster"
KUBECONFIG = json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": [{"name": "payments"}]})


def test_existing_cluster_example_plans_offline(run):
    project = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())["name"]
    config = yaml.safe_load((EXAMPLE / "Pulumi.dev.yaml").read_text())["config"]
    config[f"{project}:kubeconfig"] = KUBECONFIG  # the stack file holds a ciphertext only the Pulumi CLI can open
    result = run(lambda: runpy.run_path(str(EXAMPLE / "__main__.py")), "dev", config, project=project)

    types = [r.type for r in result.resources]
    assert not [t for t in types if t.startswith(("aws:", "eks:"))]  # nothing of the cluster is (re)built
    api = result.named("fraud-scorer", "modelstack:index:ModelAPI")
    children = result.children(api)
    provider = next(r for r in children if r.type == "pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] in (KUBECONFIG, SECRET_MASK)
    kinds = {r.inputs.get("kind") for r in children}
    assert {"Deployment", "Service", "ScaledObject", "PodDisruptionBudget", "Ingress", "ServiceAccount"} <= kinds
    deployment = next(r for r in children if r.inputs.get("kind") == "Deployment")
    assert deployment.provider.startswith(provider.urn)
    terms = deployment.inputs["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"]
    assert {"key": labels.EKS_NODEGROUP_LABEL, "operator": "In", "values": ["payments-cpu-a", "payments-cpu-b"]} in terms
    assert deployment.inputs["metadata"]["labels"][labels.TEAM_LABEL] == "payments"
    assert result.exports["endpoint"].endswith("/fraud-scorer")


def test_example_is_about_ten_lines_of_code():
    code = [line for line in (EXAMPLE / "__main__.py").read_text().splitlines() if line.strip() and not line.startswith('"""')]
    assert len(code) <= 14


# ---- `modelstack plan --program DIR`: every example planned as its team would, and one change diffed ---------------


EXAMPLES = sorted(p for p in EXAMPLE.parent.iterdir() if (p / "Pulumi.yaml").is_file())
TEAM = EXAMPLE.parent / "team-model"


def _plan(tmp_path, *args: str, name: str = "plan.json") -> tuple[int, dict]:
    out = tmp_path / name
    rc = cli.main(["plan", *args, "--json", str(out)])
    return rc, json.loads(out.read_text()) if out.is_file() else {}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_plans_offline_with_its_own_stack_file(example, tmp_path, capsys):
    several = len(list(example.glob("Pulumi.*.yaml"))) > 1  # then the test plans its dev stack
    rc, doc = _plan(tmp_path, "--program", str(example), *(["--stack", "dev"] if several else []))
    text = capsys.readouterr().out
    assert rc == 0, text
    assert doc["kind"] == "offline-plan" and doc["stack"] == "dev"
    assert doc["program"]["main"] == "__main__.py"
    assert doc["models"] and all(m["replicas"]["max"] > 0 for m in doc["models"])
    assert doc["policy"]["mandatory"] == 0, doc["policy"]["violations"]
    assert "your program (__main__.py of project" in text and "Traceback" not in text


def test_at_least_two_examples():
    assert {"existing-cluster", "team-model"} <= {p.name for p in EXAMPLES}


def test_a_change_to_a_composed_program_is_diffed(tmp_path, capsys):
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/reranker:1.5.0"
    assert _plan(tmp_path, "--program", str(TEAM), name="before.json")[0] == 0
    assert _plan(tmp_path, "--program", str(TEAM), "--set", f"image={image}", "--set", "max_size=4",
                 name="after.json")[0] == 0
    d = plan_diff.summarize(str(tmp_path / "before.json"), str(tmp_path / "after.json"))
    changed = [(c.action, c.type, c.name) for c in d.changes]
    assert changed == [("update", "kubernetes:apps/v1:Deployment", "reranker-deployment")]
    assert cli.main(["diff", str(tmp_path / "before.json"), str(tmp_path / "after.json"), "--fail-on-replace"]) == 0
    assert "reranker:1.5.0" in capsys.readouterr().out


def test_team_model_composes_a_node_group_handle_and_model(tmp_path):
    """The traps of issue 21 in one program: handle.options(depends_on=...), placement.node_pool from a NodeGroup's
    Output, tags on every AWS resource, and a cost from the node group it registers."""
    doc = cli.plan_program(str(TEAM))
    run = doc["_run"]
    api = run.named("reranker", "modelstack:index:ModelAPI")
    group = run.named("search-cpu", "modelstack:index:NodeGroup")
    # depends_on a component is on its resources (the SDK expands it): the managed node group among them
    assert next(r.urn for r in run.children(group) if r.type == "aws:eks/nodeGroup:NodeGroup") in api.dependencies
    deployment = next(r for r in run.children(api) if r.inputs.get("kind") == "Deployment")
    assert deployment.provider.startswith(run.named("platform", "pulumi:providers:kubernetes").urn)
    terms = deployment.inputs["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"]
    assert {"key": labels.NODE_POOL_LABEL, "operator": "In", "values": ["search-cpu"]} in terms
    assert [m["node_group"] for m in doc["models"]] == ["search-cpu"]
    assert not [v for v in doc["policy"]["violations"] if v["policy"] == "cost-allocation-tags"]
    cost = doc["cost"]
    [name] = [g["name"] for g in doc["node_groups"]]  # the managed node group's physical name
    assert name.startswith("search-cpu") and list(cost["node_groups"]) == [name]
    # min_size 0, but the model's one minimum replica (2.1 vCPU, 6.1 GiB with its proxy) needs one node at min
    assert cost["node_groups"][name]["nodes"] == {"min": 1, "max": 4}
    assert any(f"{name}: 1 node(s) at min" in n for n in doc["notes"])
    assert cost["node_groups"][name]["capacity_type"] == "SPOT"
    assert 0 < cost["usd_per_hour"]["max"] < 1
    # The program's own policy config says its cluster's autoscaler runs elsewhere; without it, the plan warns.
    assert not [v for v in doc["policy"]["violations"] if v["policy"] == "node-group-autoscaled"]
    empty = tmp_path / "policy.json"
    empty.write_text("{}")
    warned = cli.plan_program(str(TEAM), policy_file=str(empty))["policy"]["violations"]
    assert [v["level"] for v in warned if v["policy"] == "node-group-autoscaled"] == ["advisory"]


def test_evaluate_takes_the_runners_resources_as_they_come():
    run = cli.plan_program(str(TEAM))["_run"]
    assert evaluate(run.resources) == evaluate([r.to_json() for r in run.resources])
    with pytest.raises(TypeError, match="to_json"):
        evaluate([object()])


def test_secure_values_are_placeholders_and_set_gives_a_value(tmp_path, capsys):
    rc, doc = _plan(tmp_path, "--program", str(EXAMPLE))
    assert rc == 0
    provider = next(r for r in doc["resources"] if r["type"] == "pulumi:providers:kubernetes")
    assert provider["inputs"]["kubeconfig"] == SECRET_MASK
    assert any("fraud-scoring:kubeconfig" in n and composed.SECRET_PLACEHOLDER in n for n in doc["notes"])
    capsys.readouterr()
    rc, doc = _plan(tmp_path, "--program", str(EXAMPLE), "--set", f"kubeconfig={KUBECONFIG}", name="set.json")
    assert rc == 0 and not any("secure" in n for n in doc["notes"])
    provider = next(r for r in doc["resources"] if r["type"] == "pulumi:providers:kubernetes")
    assert provider["inputs"]["kubeconfig"] in (KUBECONFIG, SECRET_MASK)
    cost_text = capsys.readouterr().out.split("\ncost:\n", 1)[1]
    assert cost_text.startswith("none: nothing this program registers is priced")
    assert doc["cost"] is None


def test_config_file_and_stack_name(tmp_path):
    config = yaml.safe_load((EXAMPLE / "Pulumi.dev.yaml").read_text())
    config["config"]["fraud-scoring:image"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud-scorer:9.9.9"
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(yaml.safe_dump(config))
    rc, doc = _plan(tmp_path, "--program", str(EXAMPLE), "--config", str(path))
    assert rc == 0 and doc["stack"] == "staging"
    assert [m["image"] for m in doc["models"]] == [config["config"]["fraud-scoring:image"]]
    deployment = next(r for r in doc["resources"] if r["type"] == "kubernetes:apps/v1:Deployment")
    assert deployment["inputs"]["metadata"]["labels"][labels.ENVIRONMENT_LABEL] == "staging"


def _program(tmp_path, code: str, name: str = "mine"):
    d = tmp_path / name
    d.mkdir()
    (d / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n")
    if code:
        (d / "__main__.py").write_text(code)
    return d


@pytest.mark.parametrize("setup, message", [
    (lambda t: t / "nowhere", "no such folder"),
    (lambda t: t, "no Pulumi.yaml"),
    (lambda t: _program(t, ""), "no __main__.py to run"),
    (lambda t: _program(t, "import pulumi\npulumi.Config().require('image')\n"),
     "Missing required configuration variable 'mine:image'"),
    (lambda t: _program(t, "def f():\n    raise ValueError('no model today')\nf()\n"),
     "raised ValueError: no model today (at __main__.py:2"),
    (lambda t: _program(t, "import pulumi_aws as aws\naws.s3.Bucket('b').arn.apply(lambda a: 1 / 0)\n"),
     "raised ZeroDivisionError: division by zero"),
    (lambda t: _program(t, "import sys\nsys.exit(3)\n"), "raised SystemExit: 3"),
])
def test_bad_programs_exit_2_with_a_message_and_no_traceback(tmp_path, capsys, setup, message):
    rc = cli.main(["plan", "--program", str(setup(tmp_path))])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and "Traceback" not in err


def test_a_program_without_modelstack_components_still_plans(tmp_path, capsys):
    d = _program(tmp_path, "import pulumi, pulumi_aws as aws\n"
                           "aws.s3.Bucket('logs', tags={'team': 'data', 'environment': 'dev'})\n"
                           "aws.kms.Key('k', enable_key_rotation=True, tags={'team': 'data', 'environment': 'dev'})\n")
    rc, doc = _plan(tmp_path, "--program", str(d))
    assert rc == 0
    assert doc["models"] == [] and doc["node_groups"] == []
    assert [r["resource"] for r in doc["cost"]["rows"]] == ["kms keys"]
    assert doc["cost"]["usd_per_hour"]["min"] == doc["cost"]["usd_per_hour"]["max"] > 0  # the KMS key
    assert "node groups: none registered" in capsys.readouterr().out


def test_program_options_need_program(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["plan", "dev", "--config", "x.yaml"])
    assert e.value.code == 2
    assert "only with --program" in capsys.readouterr().err


def test_local_modules_of_a_program_do_not_leak_into_the_next(tmp_path):
    for name, value in (("one", "1"), ("two", "2")):
        d = _program(tmp_path, "import pulumi\nimport helper\npulumi.export('v', helper.V)\n", name)
        (d / "helper.py").write_text(f"V = {value}\n")
        assert cli.plan_program(str(d))["_run"].exports == {"v": int(value)}


# ---- the component API traps of issue 21, each on its own ---------------------------------------------------------

def _handle():
    from modelstack import ClusterHandle

    return ClusterHandle.existing("c", cluster_name="c", kubernetes_version="1.35", kubeconfig=KUBECONFIG,
                                  oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/x",
                                  oidc_provider_url="https://x", node_role_arn="arn:aws:iam::123456789012:role/n",
                                  node_role_name="n", vpc_id="vpc-1", private_subnet_ids=["subnet-1"])


def test_handle_options_takes_resource_option_keywords(run):
    import pulumi

    from modelstack import ModelAPI

    def program():
        handle = _handle()
        cm = pulumi.ComponentResource("test:index:Thing", "thing")
        opts = handle.options(depends_on=[cm], protect=True)
        assert opts.providers == {"kubernetes": handle.provider} and opts.protect is True
        merged = handle.options(pulumi.ResourceOptions(ignore_changes=["x"]), depends_on=[cm])
        assert merged.ignore_changes == ["x"] and merged.depends_on == [cm]
        with pytest.raises(TypeError, match="as keywords"):
            handle.options({"depends_on": [cm]})
        with pytest.raises(TypeError, match="Kubernetes provider itself"):
            handle.options(provider=handle.provider)
        ModelAPI("m", {"image": "public.ecr.aws/x/m:1", "ingress": {"group_name": "g"}}, opts)

    result = run(program)
    assert result.named("m", "modelstack:index:ModelAPI").options["protect"] is True


def test_placement_node_pool_may_be_an_output(run):
    import pulumi

    from modelstack import ModelAPI

    def program():
        ModelAPI("m", {"image": "public.ecr.aws/x/m:1", "ingress": {"group_name": "g"}, "kubeconfig": KUBECONFIG,
                       "placement": {"node_pool": pulumi.Output.from_input("gpu").apply(lambda p: p + "-a")}})

    result = run(program)
    deployment = result.named("m-deployment", "kubernetes:apps/v1:Deployment")
    terms = deployment.inputs["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"]
    assert {"key": labels.NODE_POOL_LABEL, "operator": "In", "values": ["gpu-a"]} in terms


def test_the_stack_program_planned_as_a_program_registers_what_the_stack_plan_does(tmp_path):
    """`--program` on modelstack's own project (main: stacks/) runs the same program as `modelstack plan dev`: the
    same resources, the same policy result; only the cost differs, read from resources instead of planned."""
    root = EXAMPLE.parents[1]
    stack = cli.main(["plan", "dev", "--project-dir", str(root), "--json", str(tmp_path / "stack.json")])
    program = cli.main(["plan", "--program", str(root), "--stack", "dev", "--json", str(tmp_path / "program.json"),
                        "--policy-config", str(root / "policies" / "config.dev.json")])
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("stack.json", "program.json"))
    assert stack == program == 0
    assert a["resources"] == b["resources"]
    # the expander priority is the capacity plan's in a stack plan (no cluster-autoscaler release to read it from here)
    strip = lambda groups: [{k: v for k, v in g.items() if k != "priority"} for g in groups]  # noqa: E731
    assert strip(a["node_groups"]) == strip(b["node_groups"])
    assert a["node_pools"] == b["node_pools"] and a["models"] == b["models"] and a["policy"] == b["policy"]
    assert sorted(b["cost"]["node_groups"]) == sorted([g["name"] for g in b["node_groups"]] +
                                                      [p["name"] for p in b["node_pools"]])


def test_stack_references_read_the_outputs_given_offline(tmp_path, capsys):
    d = _program(tmp_path, "import pulumi\nref = pulumi.StackReference('org/platform/dev')\n"
                           "pulumi.export('cluster', ref.require_output('cluster_name'))\n")
    assert cli.main(["plan", "--program", str(d)]) == 2
    err = capsys.readouterr().err
    assert "KeyError: 'cluster_name'" in err and "--stack-outputs org/platform/dev=FILE" in err
    assert "Traceback" not in err
    outputs = tmp_path / "platform.json"
    outputs.write_text(json.dumps({"cluster_name": "models-dev"}))
    doc = cli.plan_program(str(d), stack_outputs=[f"org/platform/dev={outputs}"])
    assert doc["_run"].exports == {"cluster": "models-dev"}
    assert not [n for n in doc["notes"] if "stack reference" in n]
    d2 = _program(tmp_path, "import pulumi\npulumi.export('c', pulumi.StackReference('a/b/c').get_output('x'))\n", "two")
    assert any("stack reference a/b/c: no outputs given offline" in n for n in cli.plan_program(str(d2))["notes"])
    for bad in ("org/platform/dev", f"org/platform/dev={tmp_path / 'none.json'}"):
        assert cli.main(["plan", "--program", str(d), "--stack-outputs", bad]) == 2
        assert "--stack-outputs" in capsys.readouterr().err


# ---- examples/cortex-queues: Cortex's AsyncAPI and BatchAPI examples as models of kind async and batch -----------


QUEUES = EXAMPLE.parent / "cortex-queues"


def test_cortex_queue_examples_plan_offline_with_queues_gateways_and_costs(tmp_path, capsys):
    rc, doc = _plan(tmp_path, "--program", str(QUEUES))
    text = capsys.readouterr().out
    assert rc == 0, text
    comps = {(r["type"], r["name"]) for r in doc["resources"]}
    for name in ("text-generator", "iris-classifier"):
        assert ("modelstack:index:AsyncModelAPI", name) in comps
        assert ("modelstack:index:ModelAPI", f"{name}-gateway") in comps
    assert ("modelstack:index:BatchModelAPI", "image-classifier") in comps
    assert not any(n == "image-classifier-gateway" for _, n in comps)
    models = {m["name"]: m for m in doc["models"]}
    assert models["text-generator"]["signal"] == "aws-sqs-queue" and models["text-generator"]["replicas"]["min"] == 0
    assert models["text-generator-gateway"]["path"] == "/text-generator"
    apis = {a["name"]: a for a in doc["queue_apis"]}
    assert apis["image-classifier"]["max_receives"] == 2 and apis["image-classifier"]["result_expiry_days"] == 14
    assert apis["text-generator"]["example_dollars"] > 0 and "queue-backed APIs" in text
    assert doc["policy"]["mandatory"] == 0, doc["policy"]["violations"]


def test_a_queue_setting_change_updates_in_place(tmp_path, capsys):
    import shutil
    copy = tmp_path / "cortex-queues"
    shutil.copytree(QUEUES, copy)
    assert _plan(tmp_path, "--program", str(copy), name="before.json")[0] == 0
    stack = copy / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("queue: {max_receives: 2, result_expiry_days: 14}",
                                               "queue: {max_receives: 4, result_expiry_days: 14}"))
    assert _plan(tmp_path, "--program", str(copy), name="after.json")[0] == 0
    d = plan_diff.summarize(str(tmp_path / "before.json"), str(tmp_path / "after.json"))
    changed = {(c.action, c.type, c.name) for c in d.changes}
    assert ("update", "aws:sqs/queue:Queue", "image-classifier-queue-queue") in changed
    capsys.readouterr()
    assert cli.main(["diff", str(tmp_path / "before.json"), str(tmp_path / "after.json"), "--fail-on-replace"]) == 0
