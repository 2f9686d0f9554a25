"""The stack program's mapping from config to component args (modelstack.program)."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from modelstack.render import labels, manifests
from modelstack import program
from modelstack.planner.capacity import plan_capacity
from modelstack.config.load import load_platform
from modelstack.config.schema import CONFIG_KEY
from stacks import stack_values


def _platform(env: str, mutate=None):
    vals = copy.deepcopy(stack_values(env))
    if mutate:
        mutate(vals[CONFIG_KEY])
    p = load_platform(env, vals)
    return p, plan_capacity(p, date(2026, 11, 22))


def test_prod_defaults_never_drop_below_ready_and_spread_strictly():
    p, cap = _platform("prod")
    args = program.model_args(p, "image-classifier", p.config.models["image-classifier"], cap)
    assert args["update_strategy"] == {"max_surge": "25%", "max_unavailable": "0"}
    assert args["placement"]["strict_zone_spread"] is True
    assert args["placement"]["on_demand_base"] == 1 and args["placement"]["spot"] is True


def test_dev_keeps_cortex_rollout_defaults_and_no_floor():
    p, cap = _platform("dev")
    args = program.model_args(p, "sentiment", p.config.models["sentiment"], cap)
    assert args["update_strategy"] == {"max_surge": "25%", "max_unavailable": "25%"}
    assert args["placement"]["on_demand_base"] == 0 and args["placement"]["strict_zone_spread"] is False
    assert args["autoscaling"]["target_in_flight"] == 4
    assert args["autoscaling"]["downscale_stabilization_seconds"] == 300  # Cortex default "5m"
    assert args["ingress"]["path"] == "/sentiment" and args["ingress"]["group_name"] == "models-dev-models"


def test_target_in_flight_defaults_to_max_concurrency():
    p, cap = _platform("dev", lambda c: c["models"]["sentiment"]["autoscaling"].pop("target_in_flight"))
    assert program.model_args(p, "sentiment", p.config.models["sentiment"], cap)["autoscaling"]["target_in_flight"] == 4.0


def test_gpu_memory_keeps_pods_off_smaller_gpus_in_a_mixed_pool():
    def mutate(c):
        c["node_groups"]["gpu"].pop("selection")
        c["node_groups"]["gpu"]["instance_types"] = ["g5.xlarge", "g6.xlarge", "g4dn.xlarge"]
        c["models"]["image-classifier"]["compute"]["min_gpu_memory_gib"] = 20

    p, cap = _platform("dev", mutate)
    args = program.model_args(p, "image-classifier", p.config.models["image-classifier"], cap)
    assert args["placement"]["instance_types"] == ["g5.xlarge", "g6.xlarge"]  # T4 has 16 GiB
    spec = manifests.ModelSpec(name="m", namespace="models", containers=(), instance_types=("g5.xlarge",))
    terms = manifests.affinity(spec)["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert {"key": labels.INSTANCE_TYPE_LABEL, "operator": "In", "values": ["g5.xlarge"]} in terms[0]["matchExpressions"]


def test_no_type_restriction_when_every_type_fits():
    p, cap = _platform("dev")
    assert "instance_types" not in program.model_args(p, "image-classifier", p.config.models["image-classifier"], cap)["placement"]


def test_node_groups_of_a_foreign_cluster_become_an_eks_nodegroup_affinity():
    spec = manifests.ModelSpec(name="m", namespace="models", containers=(), node_groups=("ng-a", "ng-b"))
    terms = manifests.affinity(spec)["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"] == [{"key": "eks.amazonaws.com/nodegroup", "operator": "In", "values": ["ng-a", "ng-b"]}]


def test_config_errors_become_a_run_error_without_traceback(run):
    import pulumi

    vals = copy.deepcopy(stack_values("dev"))
    vals[CONFIG_KEY]["models"]["sentiment"]["autoscaling"]["min_replicas"] = -1
    with pytest.raises(pulumi.RunError) as e:
        run(program.main, "dev", vals)
    assert str(e.value).startswith("stack 'dev' (stacks/Pulumi.dev.yaml): 1 configuration error")


def test_schema_and_capacity_errors_reach_pulumi_in_one_report(run):
    import pulumi

    vals = copy.deepcopy(stack_values("dev"))
    vals[CONFIG_KEY]["models"]["llm-chat"]["autoscaling"]["min_replicas"] = -1
    vals[CONFIG_KEY]["node_groups"]["cpu"]["max_size"] = 1  # found by the capacity planner, not the schema
    with pytest.raises(pulumi.RunError) as e:
        run(program.main, "dev", vals)
    lines = str(e.value).splitlines()
    assert lines[0] == "stack 'dev' (stacks/Pulumi.dev.yaml): 2 configuration errors"
    assert lines[1].startswith(f"  - {CONFIG_KEY}.models.llm-chat.autoscaling.min_replicas: got -1")
    assert lines[2].startswith(f"  - {CONFIG_KEY}.node_groups.cpu.max_size: got 1; allowed: at least 2")


def test_config_warnings_are_pulumi_warnings(run, monkeypatch):
    import pulumi

    said: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: said.append(msg))
    vals = copy.deepcopy(stack_values("dev"))
    vals[CONFIG_KEY]["models"]["sentiment"]["autoscaling"]["upscale_tolerance"] = 0.01
    run(program.main, "dev", vals)
    assert [m for m in said if m.startswith(CONFIG_KEY)] == [
        f"{CONFIG_KEY}.models.sentiment.autoscaling.upscale_tolerance: got 0.01; allowed: has no effect: the "
        "cluster-wide HPA tolerance (0.1) applies (behavior.*.tolerance is feature-gated on EKS and KEDA's "
        "ScaledObject does not carry it); remove it"]


def test_custom_hosts_reach_the_model_route_and_network_policy_reaches_the_cni(run):
    def mutate(c):
        c["cluster"]["load_balancer"]["hosts"] = ["models.example.com"]
        c["cluster"]["network_policy"] = True

    p, cap = _platform("dev", mutate)
    assert program.model_args(p, "sentiment", p.config.models["sentiment"], cap)["ingress"]["hosts"] == ["models.example.com"]
    vals = copy.deepcopy(stack_values("dev"))
    mutate(vals[CONFIG_KEY])
    result = run(program.main, "dev", vals)
    eks = result.named("models-dev-eks", "eks:index:Cluster")
    assert eks.inputs["vpcCniOptions"]["enableNetworkPolicy"] is True
    route = next(r for r in result.resources if r.inputs.get("kind") == "InterceptorRoute" and r.name.startswith("sentiment"))
    assert "models.example.com" in route.inputs["spec"]["rules"][0]["hosts"]


def test_a_cluster_handle_puts_a_model_api_on_its_cluster(run):
    from modelstack.cluster.handle import ClusterHandle
    from modelstack.serving.model_api import ModelAPI

    def stack():
        handle = ClusterHandle.existing(
            "payments", cluster_name="payments", kubernetes_version="1.35", kubeconfig='{"apiVersion": "v1"}',
            oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/x", oidc_provider_url="https://x",
            node_role_arn="arn:aws:iam::123456789012:role/nodes", node_role_name="nodes", vpc_id="vpc-0123456789abcdef0",
            private_subnet_ids=["subnet-0123456789abcdef0"])
        ModelAPI("scorer", {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/scorer:1.0.0"}, handle.options())

    result = run(stack)
    provider = result.named("payments", "pulumi:providers:kubernetes")
    deployment = next(r for r in result.resources if r.type == "kubernetes:apps/v1:Deployment")
    assert deployment.provider.startswith(provider.urn + "::")


def test_platform_config_that_is_not_json_is_reported_not_a_traceback(run):
    import pulumi

    with pytest.raises(pulumi.RunError) as e:
        run(program.main, "dev", {"aws:region": "us-east-1", CONFIG_KEY: "not a mapping"})
    assert "modelstack:platform: got 'not a mapping'; allowed: a mapping with environment, team, cluster" in str(e.value)


def _neuron(c):
    c["node_groups"]["neuron"] = {"kind": "inferentia", "instance_types": ["inf2.xlarge"], "min_size": 0, "max_size": 2}
    c["models"]["translate"] = {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/translate:1.0.0",
                                "node_group": "neuron", "autoscaling": {"min_replicas": 1, "max_replicas": 2},
                                "compute": {"cpu": "2", "memory": "8Gi", "inferentia": 1, "hugepages": "256Mi"},
                                "sidecars": {"tokenizer": {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tok:2",
                                                           "port": 9000, "compute": {"cpu": "500m", "memory": "1Gi"},
                                                           "readiness_probe": {"http_get": {"path": "/ready"}}}}}


def test_inferentia_groups_bring_the_neuron_device_plugin_and_models_ask_for_devices(run):
    vals = copy.deepcopy(stack_values("staging"))
    _neuron(vals[CONFIG_KEY])
    result = run(program.main, "staging", vals)
    plugin = result.named("models-staging-addons-neuron-device-plugin")
    assert plugin.inputs["chart"] == "oci://public.ecr.aws/neuron/neuron-helm-chart"
    dep = next(r for r in result.resources if r.name == "translate-deployment")
    pod = dep.inputs["spec"]["template"]["spec"]
    server = pod["containers"][0]
    assert server["resources"]["limits"]["aws.amazon.com/neuron"] == "1"
    assert server["resources"]["limits"]["hugepages-2Mi"] == "256Mi"
    assert {"key": "aws.amazon.com/neuron", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in pod["tolerations"]
    assert [c["name"] for c in pod["containers"]] == ["model", "proxy", "tokenizer"]
    assert pod["containers"][2]["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 9000}
    without = run(program.main, "staging", copy.deepcopy(stack_values("staging")))
    assert not [r for r in without.resources if r.name.endswith("neuron-device-plugin")]


def test_a_user_taint_on_an_inferentia_group_is_tolerated_by_the_neuron_plugin_and_its_models(run):
    vals = copy.deepcopy(stack_values("staging"))
    _neuron(vals[CONFIG_KEY])
    taint = {"key": "dedicated", "value": "translate", "effect": "NoExecute"}
    vals[CONFIG_KEY]["node_groups"]["neuron"]["taints"] = [taint]
    result = run(program.main, "staging", vals)
    exact = {"operator": "Equal", **taint}
    plugin = result.named("models-staging-addons-neuron-device-plugin").inputs["values"]["devicePlugin"]["tolerations"]
    assert exact in plugin
    assert {"key": "aws.amazon.com/neuron", "operator": "Exists", "effect": "NoSchedule"} in plugin
    pod = next(r for r in result.resources if r.name == "translate-deployment").inputs["spec"]["template"]["spec"]
    assert exact in pod["tolerations"]
    other = next(r for r in result.resources if r.name == "sentiment-deployment").inputs["spec"]["template"]["spec"]
    assert exact not in (other.get("tolerations") or [])


def test_every_container_counts_in_sizing():
    from modelstack.config.checks import pod_requests
    p, _ = _platform("staging", _neuron)
    req = pod_requests(p.config.models["translate"])
    # server 2 CPU / 8 GiB + proxy 100m / 128 MiB + tokenizer 500m / 1 GiB
    assert (req.cpu_millicores, req.memory_mib, req.inferentia) == (2600, 8192 + 128 + 1024, 1)


def test_logging_retention_defaults_per_environment(run):
    for env, days in (("dev", 7), ("staging", 30), ("prod", 90)):
        p, _ = _platform(env)
        assert program.log_retention_days(p) == days
    p, _ = _platform("prod", lambda c: c["cluster"].__setitem__("logging", {"retention_days": 365}))
    assert program.log_retention_days(p) == 365
    result = run(program.main, "dev", copy.deepcopy(stack_values("dev")))
    group = result.named("models-dev-logging-log-group")
    assert group.inputs["retentionInDays"] == 7 and group.inputs["name"] == "/aws/eks/models-dev/models"


def test_dev_llm_chat_reads_its_weights_with_a_role_of_its_own(run):
    result = run(program.main, "dev", copy.deepcopy(stack_values("dev")))
    assoc = result.named("llm-chat-pod-identity")
    assert (assoc.inputs["clusterName"], assoc.inputs["namespace"], assoc.inputs["serviceAccount"]) == (
        "models-dev", "models", "llm-chat")
    policy = __import__("json").loads(result.named("llm-chat-inline-policy").inputs["policy"])
    assert [s["Action"] for s in policy["Statement"]] == [["s3:GetObject"], ["s3:ListBucket"]]
    others = [r for r in result.resources if r.name in ("sentiment-pod-identity", "sentiment-role")]
    assert others == []
    sa = result.named("sentiment-service-account")
    assert sa.inputs["automountServiceAccountToken"] is False


def test_a_plan_runs_the_capacity_plan_once_and_hands_it_to_the_program(monkeypatch):
    from modelstack import cli
    from modelstack.planner import capacity

    calls: list[str] = []
    real = capacity.plan_platform

    def counted(stack, *a, **k):
        calls.append(stack)
        return real(stack, *a, **k)

    monkeypatch.setattr(cli, "plan_platform", counted)
    monkeypatch.setattr(program, "plan_platform", counted)
    doc = cli.plan("dev", copy.deepcopy(stack_values("dev")), "stacks/Pulumi.dev.yaml", today=date(2026, 11, 22))
    assert calls == ["dev"]
    assert any(r["type"] == "aws:eks/nodeGroup:NodeGroup" for r in doc["resources"])


def test_a_handed_plan_of_other_config_is_not_used(run):
    vals = copy.deepcopy(stack_values("dev"))
    p, cap = _platform("dev")
    stale = program.Planned("dev", {"not": "this stack's config"}, p, cap)
    vals[CONFIG_KEY]["models"]["sentiment"]["autoscaling"]["max_replicas"] = 7
    result = run(lambda: program.main(stale), "dev", vals)
    so = next(r for r in result.resources if r.inputs.get("kind") == "ScaledObject" and r.name.startswith("sentiment"))
    assert so.inputs["spec"]["maxReplicaCount"] == 7  # planned again from the config the program read


def _queue_models(c):
    c["models"]["sentiment"]["kind"] = "async"
    c["models"]["sentiment"]["queue"] = {"max_receives": 4}
    c["models"]["sentiment"]["autoscaling"].pop("target_in_flight")
    c["models"]["image-classifier"]["kind"] = "batch"


def test_models_of_kind_async_and_batch_become_queue_apis_scaled_by_an_identity_of_keda(run):
    values = copy.deepcopy(stack_values("dev"))
    _queue_models(values[CONFIG_KEY])
    result = run(program.main, "dev", values)
    assert result.named("sentiment", "modelstack:index:AsyncModelAPI")
    assert result.named("image-classifier", "modelstack:index:BatchModelAPI")
    assert result.named("llm-chat", "modelstack:index:ModelAPI")  # realtime stays a ModelAPI
    # The workers keep the planner's placement; the gateway runs on the system pool.
    def affinity(name):
        dep = result.named(f"{name}-deployment", "kubernetes:apps/v1:Deployment")
        return dep.inputs["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"]
    pools = lambda exprs: [e["values"] for e in exprs if e["key"] == labels.NODE_POOL_LABEL]  # noqa: E731
    p, capacity = _platform("dev", _queue_models)
    assert pools(affinity("sentiment-workers")) == [[capacity.placements["sentiment"].pool]]
    assert pools(affinity("sentiment-gateway")) == [["system"]]
    # min_replicas 1 in the stack file is kept; scaling is on the queue, with KEDA's own role behind it.
    so = result.named("sentiment-workers-scaled-object").inputs["spec"]
    assert so["minReplicaCount"] == 1 and so["triggers"][0]["type"] == "aws-sqs-queue"
    assoc = result.named("models-dev-keda-identity-pod-identity")
    assert (assoc.inputs["namespace"], assoc.inputs["serviceAccount"]) == ("keda", "keda-operator")
    keda_role = result.named("models-dev-keda-identity-role")
    trust = __import__("json").loads(result.named("sentiment-queue-scaler-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"AWS": keda_role.outputs["arn"]}
    addons = result.named("models-dev-addons", "modelstack:index:PlatformAddons")
    assert assoc.urn in addons.dependencies  # depends_on a component is on its resources (the SDK expands it)
    assert set(result.exports["queues"]) == {"sentiment", "image-classifier"}
    assert "sentiment" in result.exports["endpoints"] and "image-classifier" not in result.exports["endpoints"]


def test_realtime_stacks_have_no_keda_identity_nor_queues_output(run):
    result = run(program.main, "dev", copy.deepcopy(stack_values("dev")))
    assert not [r for r in result.resources if r.type == "modelstack:index:KedaIdentity"]
    assert "queues" not in result.exports


def test_the_queue_consumer_counts_in_sizing():
    p, _ = _platform("dev")
    q, _ = _platform("dev", _queue_models)
    from modelstack.config.checks import pod_requests
    plain, queued = pod_requests(p.config.models["sentiment"]), pod_requests(q.config.models["sentiment"])
    assert queued.cpu_millicores - plain.cpu_millicores == 100
