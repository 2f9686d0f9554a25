"""Stack config validation: each bad input and the exact line it is reported with."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from modelstack.config.load import load_platform
from modelstack.config.schema import CONFIG_KEY, ConfigError, Platform

ROOT = Path(__file__).resolve().parents[2]
P = CONFIG_KEY


def stack_values(env: str = "dev") -> dict:
    return yaml.safe_load((ROOT / "stacks" / f"Pulumi.{env}.yaml").read_text())["config"]


def issues_of(mutate, env: str = "dev") -> list[str]:
    values = copy.deepcopy(stack_values(env))
    mutate(values, values[CONFIG_KEY])
    with pytest.raises(ConfigError) as e:
        load_platform(env, values, f"stacks/Pulumi.{env}.yaml")
    return [i.render() for i in e.value.issues]


def _set(path: str, value):
    def f(values, p):
        node = p
        keys = path.split(".")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return f


def _del(path: str):
    def f(values, p):
        node = p
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[k]
        del node[keys[-1]]
    return f


MODEL_KEYS = ("image, command, args, env, port, compute, node_group, namespace, team, max_concurrency, max_queue_length, "
              "autoscaling, update_strategy, readiness_probe, liveness_probe, startup_probe, pre_stop, "
              "termination_grace_period_seconds, networking")

CASES = [
    ("unknown model key", _set("models.sentiment.autoscalling", {}),
     f"{P}.models.sentiment.autoscalling: got unknown key 'autoscalling'; allowed: one of the keys {MODEL_KEYS}"),
    ("unknown top key", _set("clusters", {}),
     f"{P}.clusters: got unknown key 'clusters'; allowed: one of the keys environment, team, tags, cluster, node_groups, capacity, models, traffic_splits"),
    ("negative min replicas", _set("models.sentiment.autoscaling.min_replicas", -1),
     f"{P}.models.sentiment.autoscaling.min_replicas: got -1; allowed: an integer >= 0"),
    ("max replicas zero", _set("models.sentiment.autoscaling.max_replicas", 0),
     f"{P}.models.sentiment.autoscaling.max_replicas: got 0; allowed: an integer >= 1"),
    ("min above max", _set("models.sentiment.autoscaling.min_replicas", 7),
     f"{P}.models.sentiment.autoscaling.min_replicas: got 7; allowed: at most max_replicas (6)"),
    ("init outside range", _set("models.sentiment.autoscaling.init_replicas", 9),
     f"{P}.models.sentiment.autoscaling.init_replicas: got 9; allowed: between min_replicas (1) and max_replicas (6)"),
    ("min zero without opt-in", _set("models.sentiment.autoscaling.min_replicas", 0),
     f"{P}.models.sentiment.autoscaling.min_replicas: got 0 without scale_to_zero; allowed: min_replicas >= 1, or scale_to_zero: true to opt in to cold starts"),
    ("scale to zero with min 1", _set("models.sentiment.autoscaling.scale_to_zero", True),
     f"{P}.models.sentiment.autoscaling.scale_to_zero: got true with min_replicas 1; allowed: scale_to_zero: true only with min_replicas: 0"),
    ("upscale factor", _set("models.sentiment.autoscaling.max_upscale_factor", 1.0),
     f"{P}.models.sentiment.autoscaling.max_upscale_factor: got 1.0; allowed: a number > 1"),
    ("downscale factor", _set("models.sentiment.autoscaling.max_downscale_factor", 1.2),
     f"{P}.models.sentiment.autoscaling.max_downscale_factor: got 1.2; allowed: a number < 1"),
    ("bad window", _set("models.sentiment.autoscaling.window", "a minute"),
     f"{P}.models.sentiment.autoscaling.window: got 'a minute'; allowed: a duration such as 60, '60s', '5m' or '1h'"),
    ("short window", _set("models.sentiment.autoscaling.window", "5s"),
     f"{P}.models.sentiment.autoscaling.window: got '5s'; allowed: at least 10 seconds (the autoscaler samples every 10 s)"),
    ("unknown signal", _set("models.sentiment.autoscaling.signal", "qps"),
     f"{P}.models.sentiment.autoscaling.signal: got 'qps'; allowed: one of 'in_flight', 'cpu', 'gpu' or 'prometheus'"),
    ("cpu signal without target", _set("models.sentiment.autoscaling.signal", "cpu"),
     f"{P}.models.sentiment.autoscaling.target_utilization: got nothing; allowed: a percentage from 1 to 100, required with signal cpu"),
    ("gpu signal on cpu model", lambda v, p: p["models"]["sentiment"]["autoscaling"].update(signal="gpu", target_utilization=70),
     f"{P}.models.sentiment.autoscaling.signal: got 'gpu' on a model without GPUs; allowed: in_flight, cpu or prometheus"),
    ("prometheus without query", _set("models.sentiment.autoscaling.signal", "prometheus"),
     f"{P}.models.sentiment.autoscaling.prometheus_query: got nothing; allowed: prometheus_query and prometheus_threshold, required with signal prometheus"),
    ("bad cpu quantity", _set("models.sentiment.compute.cpu", "lots"),
     f"{P}.models.sentiment.compute.cpu: got 'lots'; allowed: CPU quantity 'lots' is not valid: use millicores ('500m') or cores ('2', '0.5')"),
    ("negative gpu", _set("models.sentiment.compute.gpu", -1),
     f"{P}.models.sentiment.compute.gpu: got -1; allowed: an integer >= 0"),
    ("gpu memory without gpu", _set("models.sentiment.compute.min_gpu_memory_gib", 16),
     f"{P}.models.sentiment.compute.min_gpu_memory_gib: got 16.0; allowed: min_gpu_memory_gib only with gpu >= 1"),
    ("image without registry", _set("models.sentiment.image", "sentiment"),
     f"{P}.models.sentiment.image: got 'sentiment'; allowed: an image reference with a registry host and a tag or digest, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:1.4.2"),
    ("bad port", _set("models.sentiment.port", 70000),
     f"{P}.models.sentiment.port: got 70000; allowed: an integer <= 65535"),
    ("gpu model on cpu group", _set("models.llm-chat.node_group", "cpu"),
     f"{P}.models.llm-chat.node_group: got 'cpu' (a node group with no GPUs) for a GPU model; allowed: a GPU node group: gpu, gpu-large"),
    ("cpu model on gpu group", _set("models.sentiment.node_group", "gpu"),
     f"{P}.models.sentiment.node_group: got 'gpu' (a GPU node group) for a CPU-only model; allowed: a CPU node group: cpu"),
    ("model on system group", _set("models.sentiment.node_group", "system"),
     f"{P}.models.sentiment.node_group: got 'system' (the system group); allowed: a cpu, gpu or inferentia group; the system group runs only platform add-ons: a CPU node group: cpu"),
    ("unknown node group", _set("models.sentiment.node_group", "cpus"),
     f"{P}.models.sentiment.node_group: got 'cpus'; allowed: one of the node groups cpu, gpu, gpu-large, system"),
    ("bad model name", lambda v, p: p["models"].update({"Sentiment_V2": p["models"]["sentiment"]}),
     f"{P}.models.Sentiment_V2: got 'Sentiment_V2'; allowed: a lowercase DNS label: a-z, 0-9 and '-', starting with a letter, at most 32 characters"),
    ("path collision", _set("models.llm-chat.networking", {"path": "/sentiment"}),
     f"{P}.models.llm-chat.networking.path: got '/sentiment'; allowed: a path no other model or traffic split uses (model 'sentiment' has it)"),
    ("split weights", _set("traffic_splits", {"live": {"backends": {"sentiment": 60, "llm-chat": 30}}}),
     f"{P}.traffic_splits.live.backends: got weights summing to 90; allowed: weights summing to exactly 100"),
    ("split backend on in-flight signal", _set("traffic_splits", {"live": {"backends": {"sentiment": 50, "llm-chat": 50}}}),
     f"{P}.traffic_splits.live.backends.sentiment: got model 'sentiment' with signal in_flight; allowed: backends that "
     "autoscale on cpu, gpu or prometheus without scale_to_zero: the load balancer splits straight to the models' "
     "Services, past the in-flight counter that drives in_flight scaling and wakes a model from zero"),
    ("split across namespaces", lambda v, p: (p["models"]["sentiment"].update(namespace="nlp"), p["models"]["sentiment"]["autoscaling"].update(signal="cpu", target_utilization=60), p["models"]["llm-chat"]["autoscaling"].update(signal="cpu", target_utilization=60), p.update(traffic_splits={"live": {"backends": {"sentiment": 50, "llm-chat": 50}}})),
     f"{P}.traffic_splits.live.backends: got backends in namespaces models, nlp; allowed: backends in one namespace (a load balancer rule forwards to Services of its Ingress's namespace)"),
    ("split unknown backend", _set("traffic_splits", {"live": {"backends": {"sentiment": 50, "nope": 50}}}),
     f"{P}.traffic_splits.live.backends.nope: got 'nope'; allowed: a model of this stack: image-classifier, llm-chat, sentiment"),
    ("split weight range", _set("traffic_splits", {"live": {"backends": {"sentiment": 150}}}),
     f"{P}.traffic_splits.live.backends: got a mapping; allowed: weights from 0 to 100 (backend 'sentiment' has 150)"),
    ("node group min above max", _set("node_groups.cpu.min_size", 11),
     f"{P}.node_groups.cpu.min_size: got 11; allowed: at most max_size (10)"),
    ("unknown instance type", _set("node_groups.system.instance_types", ["m7i.lage"]),
     f"{P}.node_groups.system.instance_types: got 'm7i.lage'; allowed: an instance type from the price table (data/ec2_instances.csv), e.g. m7i.large, m7i.xlarge, m7i.8xlarge"),
    ("gpu type in cpu group", _set("node_groups.system.instance_types", ["g5.xlarge"]),
     f"{P}.node_groups.system.instance_types: got 'g5.xlarge'; allowed: instance types without accelerators for a system node group"),
    ("unequal spot shapes", lambda v, p: (p["node_groups"]["cpu"].pop("selection"), p["node_groups"]["cpu"].update(instance_types=["m6i.xlarge", "c6i.2xlarge"])),
     f"{P}.node_groups.cpu.instance_types: got m6i.xlarge=4vCPU/16GiB, c6i.2xlarge=8vCPU/16GiB; allowed: types of one shape (same vCPU, memory and GPUs): cluster-autoscaler sizes a group from one type"),
    ("types and selection", _set("node_groups.cpu.instance_types", ["m6i.xlarge"]),
     f"{P}.node_groups.cpu.selection: got a selection next to instance_types; allowed: either instance_types (used as given) or selection (the optimizer chooses), not both"),
    ("fallback on on-demand group", _set("node_groups.system.on_demand_fallback", True),
     f"{P}.node_groups.system.on_demand_fallback: got true on an on-demand group; allowed: on_demand_fallback only on a spot group (spot: true)"),
    ("no system group", _del("node_groups.system"),
     f"{P}.node_groups: got no group of kind 'system'; allowed: at least one node group with kind: system, where the platform add-ons run"),
    ("bad kind", _set("node_groups.cpu.kind", "tpu"),
     f"{P}.node_groups.cpu.kind: got 'tpu'; allowed: one of 'system', 'cpu', 'gpu' or 'inferentia'"),
    ("priority range", _set("node_groups.cpu.priority", 101),
     f"{P}.node_groups.cpu.priority: got 101; allowed: an integer <= 100"),
    ("gp3 iops range", _set("node_groups.gpu.root_volume.iops", 100),
     f"{P}.node_groups.gpu.root_volume.iops: got 100; allowed: an integer >= 3000"),
    ("kubernetes version", _set("cluster.kubernetes_version", "1.20"),
     f"{P}.cluster.kubernetes_version: got '1.20'; allowed: one of '1.32', '1.33', '1.34' or '1.35'"),
    ("bad vpc cidr", _set("cluster.vpc.cidr", "10.0.0.1/16"),
     f"{P}.cluster.vpc.cidr: got '10.0.0.1/16'; allowed: a CIDR block such as 10.0.0.0/16 (10.0.0.1/16 has host bits set)"),
    ("az count", _set("cluster.vpc.az_count", 4),
     f"{P}.cluster.vpc.az_count: got 4; allowed: an integer <= 3"),
    ("nat mode", _set("cluster.vpc.nat", "double"),
     f"{P}.cluster.vpc.nat: got 'double'; allowed: one of 'none', 'single' or 'per_az'"),
    ("access entry arn", _set("cluster.access_entries.platform-admins.principal_arn", "platform-admins"),
     f"{P}.cluster.access_entries.platform-admins.principal_arn: got 'platform-admins'; allowed: a string matching ^arn:aws[a-z-]*:iam::\\d{{12}}:(role|user)/[\\w+=,.@/-]+$"),
    ("missing cluster name", _del("cluster.name"),
     f"{P}.cluster.name: got nothing; allowed: a value (this key is required)"),
    ("endpoint cidr", _set("cluster.endpoint.public_access_cidrs", ["everyone"]),
     f"{P}.cluster.endpoint.public_access_cidrs: got a list; allowed: a CIDR block such as 10.0.0.0/16 ('everyone' does not appear to be an IPv4 or IPv6 network)"),
    ("lb host", _set("cluster.load_balancer.hosts", ["https://models.example.com"]),
     f"{P}.cluster.load_balancer.hosts: got a list; allowed: DNS names such as models.example.com (bad: 'https://models.example.com')"),
    ("lb scheme", _set("cluster.load_balancer.scheme", "public"),
     f"{P}.cluster.load_balancer.scheme: got 'public'; allowed: one of 'internet-facing' or 'internal'"),
    ("update strategy both zero", _set("models.sentiment.update_strategy", {"max_surge": 0, "max_unavailable": 0}),
     f"{P}.models.sentiment.update_strategy: got max_surge 0 and max_unavailable 0; allowed: at least one of them above 0, or a rollout cannot progress"),
    ("update strategy percent", _set("models.sentiment.update_strategy", {"max_surge": "150%"}),
     f"{P}.models.sentiment.update_strategy.max_surge: got '150%'; allowed: a count >= 0 or a percentage such as '25%'"),
    ("on-demand base without fallback", _set("models.sentiment.autoscaling.on_demand_base", 1),
     f"{P}.models.sentiment.autoscaling.on_demand_base: got 1; allowed: on_demand_base only on a spot node group with on_demand_fallback: true ('cpu' is not)"),
    ("probe port", _set("models.sentiment.readiness_probe", {"http_get": {"path": "healthz"}}),
     f"{P}.models.sentiment.readiness_probe.http_get.path: got 'healthz'; allowed: a string matching ^/"),
    ("wrong type for replicas", _set("models.sentiment.autoscaling.max_replicas", "many"),
     f"{P}.models.sentiment.autoscaling.max_replicas: got 'many'; allowed: an integer"),
    ("on-demand base not below max", lambda v, p: (p["node_groups"]["cpu"].update(on_demand_fallback=True),
                                                  p["models"]["sentiment"]["autoscaling"].update(on_demand_base=6)),
     f"{P}.models.sentiment.autoscaling.on_demand_base: got 6; allowed: less than max_replicas (6): the rest autoscales on spot"),
    ("on-demand base with scale to zero", lambda v, p: (
        p["node_groups"]["cpu"].update(on_demand_fallback=True),
        p["models"]["sentiment"]["autoscaling"].update(on_demand_base=1, min_replicas=0, scale_to_zero=True)),
     f"{P}.models.sentiment.autoscaling.on_demand_base: got 1; allowed: 0 with scale_to_zero (a floor of replicas never scales to zero)"),
    ("scale to zero on cpu signal", lambda v, p: p["models"]["sentiment"]["autoscaling"].update(
        min_replicas=0, scale_to_zero=True, signal="cpu", target_utilization=50),
     f"{P}.models.sentiment.autoscaling.signal: got 'cpu'; allowed: in_flight or prometheus with scale_to_zero (utilization of zero replicas is undefined)"),
    ("prometheus without threshold", lambda v, p: p["models"]["sentiment"]["autoscaling"].update(
        signal="prometheus", prometheus_query="sum(rate(x[1m]))"),
     f"{P}.models.sentiment.autoscaling.prometheus_query: got no prometheus_threshold; allowed: prometheus_query and prometheus_threshold, required with signal prometheus"),
    ("split backend scaling to zero", lambda v, p: (
        p["models"]["sentiment"]["autoscaling"].update(signal="prometheus", prometheus_query="sum(x)", prometheus_threshold=5,
                                                       min_replicas=0, scale_to_zero=True),
        p.update(traffic_splits={"live": {"backends": {"sentiment": 100}}})),
     f"{P}.traffic_splits.live.backends.sentiment: got model 'sentiment' with signal prometheus and scale_to_zero; allowed: backends that "
     "autoscale on cpu, gpu or prometheus without scale_to_zero: the load balancer splits straight to the models' "
     "Services, past the in-flight counter that drives in_flight scaling and wakes a model from zero"),
    ("update strategy both zero percent", _set("models.sentiment.update_strategy", {"max_surge": "0%", "max_unavailable": "0%"}),
     f"{P}.models.sentiment.update_strategy: got max_surge 0 and max_unavailable 0; allowed: at least one of them above 0, or a rollout cannot progress"),
]


@pytest.mark.parametrize("name,mutate,expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_reported_exactly(name, mutate, expected):
    got = issues_of(mutate)
    assert expected in got, "\n".join(got)


# Values right on a limit are accepted: each of these alone leaves the dev stack valid.
EDGES = [
    ("node group min equals max", _set("node_groups.cpu.min_size", 10)),
    ("min replicas equal max", _set("models.sentiment.autoscaling.min_replicas", 6)),
    ("init replicas at max", _set("models.sentiment.autoscaling.init_replicas", 6)),
    ("on-demand base one below max", lambda v, p: (p["node_groups"]["cpu"].update(on_demand_fallback=True),
                                                   p["models"]["sentiment"]["autoscaling"].update(on_demand_base=5))),
    ("ten second window", _set("models.sentiment.autoscaling.window", "10s")),
    ("priority 100", _set("node_groups.cpu.priority", 100)),
    ("port 65535", _set("models.sentiment.port", 65535)),
    ("one rollout knob zero", _set("models.sentiment.update_strategy", {"max_surge": 0, "max_unavailable": 1})),
]


@pytest.mark.parametrize("name,mutate", EDGES, ids=[e[0] for e in EDGES])
def test_values_on_a_limit_are_accepted(name, mutate):
    values = copy.deepcopy(stack_values("dev"))
    mutate(values, values[CONFIG_KEY])
    assert isinstance(load_platform("dev", values, "stacks/Pulumi.dev.yaml"), Platform)


def test_gpu_and_inferentia_together_is_a_config_error():
    got = issues_of(_set("models.image-classifier.compute.inferentia", 1))
    assert f"{P}.models.image-classifier.compute: got gpu: 1 and inferentia: 1; allowed: gpu or inferentia, not both" in got


def test_table_has_at_least_thirty_cases():
    assert len(CASES) >= 30


def test_replica_that_fits_no_instance_type_names_the_reason():
    got = issues_of(_set("models.image-classifier.compute.cpu", "256"))
    line = next(g for g in got if ".models.image-classifier.compute:" in g)
    assert "a replica that fits none of" in line and "256000m" in line.replace(",", ""), line
    assert line.endswith("allowed: requests within the allocatable capacity of at least one of the group's instance types")


def test_done_means_three_problems_in_one_report():
    def mutate(v, p):
        p["models"]["sentiment"]["autoscalling"] = {}
        p["models"]["sentiment"]["autoscaling"]["min_replicas"] = -2
        p["models"]["llm-chat"]["node_group"] = "cpu"

    got = issues_of(mutate)
    assert len(got) == 3, got
    assert any("unknown key 'autoscalling'" in g for g in got)
    assert any("autoscaling.min_replicas: got -2" in g for g in got)
    assert any("llm-chat.node_group: got 'cpu' (a node group with no GPUs) for a GPU model" in g for g in got)


def test_report_names_stack_and_file():
    values = copy.deepcopy(stack_values("prod"))
    values["aws:region"] = "mars-1"
    with pytest.raises(ConfigError) as e:
        load_platform("prod", values, "stacks/Pulumi.prod.yaml")
    text = e.value.render()
    assert text.splitlines()[0] == "stack 'prod' (stacks/Pulumi.prod.yaml): 1 configuration error"
    assert "aws:region: got 'mars-1'; allowed: one of us-east-1, us-west-2, eu-west-1" in text


def test_unknown_namespace_key_and_missing_platform():
    with pytest.raises(ConfigError) as e:
        load_platform("dev", {"aws:region": "us-east-1", "modelstack:models": {}})
    assert [i.render() for i in e.value.issues] == [
        "modelstack:models: got unknown key 'modelstack:models'; allowed: only modelstack:platform in the modelstack namespace",
        "modelstack:platform: got nothing; allowed: a mapping with environment, team, cluster, node_groups, models",
    ]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_shipped_stacks_are_valid(env):
    p = load_platform(env, stack_values(env))
    assert isinstance(p, Platform)
    assert p.config.environment == env
    kinds = {m.compute.gpu > 0 for m in p.config.models.values()}
    assert kinds == {True, False}  # CPU and GPU models in every stack


def test_prod_is_private_and_highly_available():
    c = load_platform("prod", stack_values("prod")).config
    assert c.cluster.endpoint.private and not c.cluster.endpoint.public
    assert c.cluster.vpc.nat == "per_az" and c.cluster.vpc.az_count == 3
    assert all(g.on_demand_fallback for g in c.node_groups.values() if g.spot)
    assert all(m.autoscaling.min_replicas >= 2 for m in c.models.values())


def test_three_example_models_cpu_gpu_and_large_gpu():
    c = load_platform("dev", stack_values("dev")).config
    assert c.models["sentiment"].compute.gpu == 0
    assert c.models["image-classifier"].compute.gpu == 1
    assert c.models["llm-chat"].compute.min_gpu_memory_gib == 40


def test_observability_defaults_install_a_small_prometheus():
    o = load_platform("dev", stack_values("dev")).config.cluster.observability
    assert (o.prometheus, o.retention, o.volume_size) == (True, "1d", None)
    c = load_platform("dev", stack_values("dev")).config.cluster.charts
    assert (c.prometheus, c.dcgm_exporter) == ("29.27.0", "4.8.2")


def test_observability_can_be_turned_off_and_sized():
    values = copy.deepcopy(stack_values("dev"))
    values[CONFIG_KEY]["cluster"]["observability"] = {"prometheus": False, "retention": "2w", "volume_size": "50Gi"}
    o = load_platform("dev", values).config.cluster.observability
    assert (o.prometheus, o.retention, o.volume_size) == (False, "2w", "50Gi")


@pytest.mark.parametrize("key,value", [("retention", "15 days"), ("volume_size", "20GB"), ("promethues", True)])
def test_bad_observability_is_reported_with_its_path(key, value):
    issues = issues_of(_set(f"cluster.observability.{key}", value))
    assert len(issues) == 1 and issues[0].startswith(f"{P}.cluster.observability.{key}: got "), issues


@pytest.mark.parametrize("mutate,expected", [
    (lambda v, p: p["models"]["sentiment"].pop("node_group"),
     "modelstack:platform.models.sentiment.node_group: got nothing; allowed: one of the node groups cpu, gpu, "
     "gpu-large, system (or leave out node_groups and the planner designs the groups)"),
    (lambda v, p: p["models"]["sentiment"]["compute"].update(gpu_models=["l4"]),
     "modelstack:platform.models.sentiment.compute.gpu_models: got ['l4']; allowed: gpu_models only with gpu >= 1"),
    (lambda v, p: p["models"]["llm-chat"]["compute"].update(gpu_models=["b200"]),
     "modelstack:platform.models.llm-chat.compute.gpu_models: got 'b200'; allowed: GPU models in the price table: "),
], ids=["declared groups need a model's node_group", "gpu_models without gpu", "unknown gpu model"])
def test_node_group_and_gpu_model_issues(mutate, expected):
    got = issues_of(mutate)
    assert any(g.startswith(expected) for g in got), "\n".join(got)


def test_a_models_only_stack_loads_without_node_groups():
    values = copy.deepcopy(stack_values("dev"))
    p = values[CONFIG_KEY]
    p.pop("node_groups")
    for m in p["models"].values():
        m.pop("node_group")
    p["capacity"] = {"spot": True, "exclude_families": ["m5"]}
    platform = load_platform("dev", values)
    assert platform.config.node_groups == {} and platform.config.capacity.spot is True
    assert all(m.node_group is None for m in platform.config.models.values())
