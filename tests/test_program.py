"""The stack program's mapping from config to component args (modelstack.program)."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from modelstack import labels, manifests, program
from modelstack.capacity import plan_capacity
from modelstack.config import CONFIG_KEY, load_platform
from test_config import stack_values


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
    route = next(r for r in result.resources if r.inputs.get("kind") == "HTTPScaledObject" and r.name.startswith("sentiment"))
    assert "models.example.com" in route.inputs["spec"]["hosts"]


# ------------------------------------------------------------------ capacity plan: groups and fixed cost inputs

def test_prod_capacity_plan_adds_an_on_demand_fallback_one_priority_below_each_spot_pool():
    p, cap = _platform("prod")
    got = [(g.name, g.pool, g.capacity_type, g.priority, g.min_size, g.max_size) for g in cap.groups]
    # From stacks/Pulumi.prod.yaml: system 50 (default), cpu 60, gpu 50, gpu-large 40; fallbacks one below, min 0.
    assert got == [
        ("system", "system", "ON_DEMAND", 50, 3, 6),
        ("cpu", "cpu", "SPOT", 60, 0, 20), ("cpu-on-demand", "cpu", "ON_DEMAND", 59, 0, 20),
        ("gpu", "gpu", "SPOT", 50, 0, 8), ("gpu-on-demand", "gpu", "ON_DEMAND", 49, 0, 8),
        ("gpu-large", "gpu-large", "SPOT", 40, 0, 4), ("gpu-large-on-demand", "gpu-large", "ON_DEMAND", 39, 0, 4),
    ]
    # The on-demand floors (sentiment's on_demand_base 2, every other model 1) each fit on one node.
    assert {g.name: (g.nodes_min, g.nodes_max) for g in cap.groups if g.name.endswith("-on-demand")} == {
        "cpu-on-demand": (1, 1), "gpu-on-demand": (1, 1), "gpu-large-on-demand": (1, 1)}
    assert {m: (pl.node_group, pl.spot, pl.on_demand_base, pl.accelerator) for m, pl in cap.placements.items()} == {
        "sentiment": ("cpu", True, 2, "none"), "sentiment-canary": ("cpu", True, 1, "none"),
        "image-classifier": ("gpu", True, 1, "gpu"), "llm-chat": ("gpu-large", True, 1, "gpu")}
    ci = cap.cost_inputs
    assert (ci.control_planes, ci.nat_gateways, ci.kms_keys) == (1, 3, 1)  # per_az NAT in 3 zones, one secrets key
    assert [(lb.kind, lb.name) for lb in ci.load_balancers] == [("alb", "models-prod-models")]


def test_fallback_of_a_priority_1_pool_stays_at_1():
    _, cap = _platform("prod", lambda c: c["node_groups"]["cpu"].update(priority=1))
    assert {g.name: g.priority for g in cap.groups if g.pool == "cpu"} == {"cpu": 1, "cpu-on-demand": 1}


def test_min_size_is_a_floor_under_the_nodes_the_models_need():
    _, cap = _platform("dev", lambda c: c["node_groups"]["cpu"].update(min_size=4))
    cpu = next(g for g in cap.groups if g.name == "cpu")
    assert cpu.nodes_min == 4
    assert next(g for g in cap.cost_inputs.node_groups if g.name == "cpu").nodes_min == 4
    # A spot pool's min_size is the spot group's floor; its on-demand fallback keeps min_size 0.
    _, cap = _platform("prod", lambda c: c["node_groups"]["cpu"].update(min_size=4))
    assert {g.name: (g.min_size, g.nodes_min) for g in cap.groups if g.pool == "cpu"} == {
        "cpu": (4, 4), "cpu-on-demand": (0, 1)}


@pytest.mark.parametrize("nat, secrets, expected", [("none", True, (0, 1)), ("single", False, (1, 0)), ("per_az", True, (2, 1))])
def test_nat_gateways_and_kms_keys_follow_the_vpc_and_encryption_config(nat, secrets, expected):
    def mutate(c):
        c["cluster"]["vpc"].update(nat=nat, az_count=2)
        c["cluster"]["secrets_encryption"] = secrets

    _, cap = _platform("dev", mutate)
    assert (cap.cost_inputs.nat_gateways, cap.cost_inputs.kms_keys) == expected


@pytest.mark.parametrize("day, extended", [(date(2026, 12, 2), False), (date(2026, 12, 3), True)])
def test_control_plane_is_billed_at_the_extended_rate_after_standard_support_ends(day, extended):
    # 1.34's EKS standard support ends on 2026-12-02 (endoflife.date/amazon-eks).
    p, _ = _platform("prod", lambda c: c["cluster"].update(kubernetes_version="1.34"))
    cap = plan_capacity(p, day)
    assert cap.cost_inputs.extended_support is extended
    from modelstack.cost import estimate

    row = next(r for r in estimate(cap.cost_inputs).rows if r.resource == "eks control plane")
    assert row.unit_usd_per_hour_on_demand == (0.60 if extended else 0.10)


def test_a_cluster_handle_puts_a_model_api_on_its_cluster(run):
    from modelstack.handle import ClusterHandle
    from modelstack.model_api import ModelAPI

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


@pytest.mark.parametrize("version, day, expected", [
    ("1.35", date(2026, 11, 22), None),
    ("1.34", date(2026, 10, 2), None),  # 61 days before the end
    ("1.34", date(2026, 10, 3), "Kubernetes 1.34 leaves EKS standard support on 2026-12-02 (60 days): the control "
                                "plane's price rises to the extended-support rate then; upgrade to 1.35 "
                                "(cluster.kubernetes_version, one minor at a time)"),
    ("1.34", date(2026, 12, 2), "Kubernetes 1.34 leaves EKS standard support on 2026-12-02 (0 days): the control "
                                "plane's price rises to the extended-support rate then; upgrade to 1.35 "
                                "(cluster.kubernetes_version, one minor at a time)"),
    ("1.32", date(2026, 12, 3), "Kubernetes 1.32 left EKS standard support on 2026-03-23: the control plane is billed "
                                "at the extended-support rate; upgrade to 1.33 (cluster.kubernetes_version, one minor "
                                "at a time)"),
    ("1.35", date(2027, 3, 28), "Kubernetes 1.35 left EKS standard support on 2027-03-27: the control plane is billed "
                                "at the extended-support rate"),
])
def test_support_note_warns_before_and_after_standard_support_ends(version, day, expected):
    from modelstack.capacity import support_note

    assert support_note(version, day) == expected


def test_support_note_reaches_the_capacity_plan():
    _, cap = _platform("prod", lambda c: c["cluster"].update(kubernetes_version="1.34"))
    assert cap.notes and cap.notes[0].startswith("Kubernetes 1.34 leaves EKS standard support on 2026-12-02 (10 days)")
    _, cap = _platform("prod")
    assert cap.notes == ()
