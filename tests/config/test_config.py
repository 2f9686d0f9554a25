"""Stack config validation: each bad input and the exact line it is reported with."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from modelstack.config.load import load_platform
from stacks import stack_values
from modelstack.planner.capacity import plan_platform
from modelstack.config.schema import CONFIG_KEY, HTTP_PATH_RULE, IMAGE_RULE, ConfigError, Platform

ROOT = Path(__file__).resolve().parents[2]
P = CONFIG_KEY


def issues_of(mutate, env: str = "dev") -> list[str]:
    values = copy.deepcopy(stack_values(env))
    mutate(values, values[CONFIG_KEY])
    with pytest.raises(ConfigError) as e:
        plan_platform(env, values, f"stacks/Pulumi.{env}.yaml")
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
              "termination_grace_period_seconds, networking, response_timeout, cold_start, sidecars, aws, llm, kind, queue")

CASES = [
    ("model port taken by the proxy", _set("models.sentiment.port", 8888),
     f"{P}.models.sentiment.port: got 8888; allowed: a port other than 8888 and 8404 (the proxy's)"),
    ("sidecar named proxy", _set("models.sentiment.sidecars", {"proxy": {"image": "r.io/x:1"}}),
     f"{P}.models.sentiment.sidecars.proxy: got 'proxy'; allowed: a sidecar name other than model and proxy "
     "(modelstack's own containers)"),
    ("sidecar port taken by the server", _set("models.sentiment.sidecars", {"tfs": {"image": "r.io/x:1", "port": 8080}}),
     f"{P}.models.sentiment.sidecars.tfs.port: got 8080; allowed: a port no other container of the pod uses "
     "(the model server has it)"),
    ("sidecar probe without a port", _set("models.sentiment.sidecars", {"tfs": {"image": "r.io/x:1",
                                                                                "readiness_probe": {"tcp_socket": {}}}}),
     f"{P}.models.sentiment.sidecars.tfs.readiness_probe: got a probe without a port on a sidecar without a port; "
     "allowed: a probe port, or the sidecar's port"),
    ("aws access without permissions", _set("models.sentiment.aws", {}),
     f"{P}.models.sentiment.aws: got no policy_arns and no statements; allowed: policy_arns and/or statements "
     "(what the model may do)"),
    ("aws wildcard without opt-in", _set("models.sentiment.aws", {"statements": [
        {"actions": ["s3:*"], "resources": ["arn:aws:s3:::b/*"]}]}),
     f"{P}.models.sentiment.aws.statements: got wildcard actions s3:*; allowed: named actions (s3:GetObject), or "
     "allow_wildcard_actions: true to opt in (flagged outside dev)"),
    ("aws bad action", _set("models.sentiment.aws", {"statements": [{"actions": ["GetObject"], "resources": ["*"]}]}),
     f"{P}.models.sentiment.aws.statements[0].actions: got a list; allowed: IAM actions such as s3:GetObject (bad: 'GetObject')"),
    ("aws bad policy arn", _set("models.sentiment.aws", {"policy_arns": ["AmazonS3ReadOnlyAccess"]}),
     f"{P}.models.sentiment.aws.policy_arns: got a list; allowed: IAM policy ARNs such as "
     "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess (bad: 'AmazonS3ReadOnlyAccess')"),
    ("log retention CloudWatch refuses", _set("cluster.logging.retention_days", 10),
     f"{P}.cluster.logging.retention_days: got 10; allowed: a CloudWatch retention: 1, 3, 5, 7, 14, 30, 60, 90, 120, "
     "150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"),
    ("unknown model key", _set("models.sentiment.autoscalling", {}),
     f"{P}.models.sentiment.autoscalling: got unknown key 'autoscalling'; allowed: one of the keys {MODEL_KEYS}"),
    ("unknown top key", _set("clusters", {}),
     f"{P}.clusters: got unknown key 'clusters'; allowed: one of the keys environment, team, tags, cluster, node_groups, capacity, models, traffic_splits, prices_file"),
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
     f"{P}.models.sentiment.autoscaling.signal: got 'qps'; allowed: one of 'in_flight', 'cpu', 'gpu', 'prometheus' or 'llm'"),
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
     f"{P}.models.sentiment.image: got 'sentiment'; allowed: an image reference with a registry host and a tag or digest, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:1.4.2 (a registry host first: without one the runtime pulls from Docker Hub)"),
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
     f"{P}.node_groups.system.instance_types: got 'm7i.lage'; allowed: an instance type from the price table (data/ec2_instances.csv), e.g. m7i.large, m7i.xlarge, m7i.8xlarge; 'm7i.lage' is not an EC2 instance type"),
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
     f"{P}.cluster.kubernetes_version: got '1.20'; allowed: one of '1.34' or '1.35'"),
    ("chart without upstream facts", _set("cluster.charts.keda", "2.17.2"),
     f"{P}.cluster.charts.keda: got '2.17.2'; allowed: one of '2.20.2'"),
    ("autoscaler chart of another minor", _set("cluster.charts.cluster_autoscaler", "9.53.0"),
     f"{P}.cluster.charts.cluster_autoscaler: got '9.53.0'; allowed: '9.59.0', the chart of app 1.35.0 for Kubernetes 1.35 "
     "(the autoscaler's minor must equal the cluster's), or unset"),
    ("http add-on chart with a stopped registry", _set("cluster.charts.keda_http_add_on", "0.10.0"),
     f"{P}.cluster.charts.keda_http_add_on: got '0.10.0'; allowed: one of '0.15.0'"),
    ("response timeout", _set("models.sentiment.response_timeout", "0s"),
     f"{P}.models.sentiment.response_timeout: got '0s'; allowed: a duration of at least 1 s, such as '90s' or '10m'"),
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
     f"{P}.models.sentiment.readiness_probe.http_get.path: got 'healthz'; allowed: {HTTP_PATH_RULE}"),
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
    # Inputs that crashed with a traceback before (issue 16)
    ("probe without handler", _set("models.sentiment.liveness_probe", {}),
     f"{P}.models.sentiment.liveness_probe: got no handler; allowed: exactly one of http_get, tcp_socket, exec"),
    ("probe with two handlers", _set("models.sentiment.readiness_probe", {"http_get": {"path": "/h"}, "tcp_socket": {}}),
     f"{P}.models.sentiment.readiness_probe: got http_get and tcp_socket; allowed: exactly one of http_get, tcp_socket, exec"),
    ("pre_stop with two handlers", _set("models.sentiment.pre_stop", {"exec": {"command": ["drain"]}, "http_get": {"path": "/quit"}}),
     f"{P}.models.sentiment.pre_stop: got exec and http_get; allowed: at most one of exec, http_get"),
    ("pre_stop null", _set("models.sentiment.pre_stop", None),
     f"{P}.models.sentiment.pre_stop: got None; allowed: a mapping of keys to values"),
    ("pre_stop sleep not below grace", _set("models.sentiment.pre_stop", {"sleep_seconds": 60}),
     f"{P}.models.sentiment.termination_grace_period_seconds: got 60 with a pre_stop sleep of 60 s; allowed: more than pre_stop.sleep_seconds: the grace period must leave time to drain in-flight requests"),
    ("path with trailing slash", _set("models.sentiment.networking", {"path": "/sentiment/"}),
     f"{P}.models.sentiment.networking.path: got '/sentiment/'; allowed: a URL path such as /sentiment (starts with '/', no trailing '/', characters A-Z a-z 0-9 . _ ~ / -)"),
    ("model in default namespace", _set("models.sentiment.namespace", "default"),
     f"{P}.models.sentiment.namespace: got 'default'; allowed: a namespace of your own, not default, a kube-* namespace (reserved for Kubernetes) or keda, logging, monitoring (modelstack's add-ons)"),
    ("internet-facing without allow-list", _set("cluster.load_balancer.allowed_cidrs", []),
     f"{P}.cluster.load_balancer.allowed_cidrs: got nothing for an internet-facing load balancer; allowed: an allow-list of CIDR blocks (0.0.0.0/0 must be written out to open it to everyone)"),
    # Values that were accepted silently and would fail in AWS or Kubernetes, or not apply (issue 16)
    ("shm above memory", _set("models.sentiment.compute.shm", "4Gi"),
     f"{P}.models.sentiment.compute.shm: got '4Gi' with memory '2Gi'; allowed: at most memory (2Gi): /dev/shm is a memory-backed volume counted against the container's memory limit"),
    ("tag key with aws prefix", _set("tags", {"AWS:owner": "me"}),
     f"{P}.tags.AWS:owner: got 'AWS:owner'; allowed: a key that does not start with 'aws:' (reserved for AWS in any case)"),
    ("tag key too long", _set("tags", {"k" * 129: "v"}),
     f"{P}.tags.{'k' * 129}: got '{'k' * 129}'; allowed: a tag key of 1 to 128 characters: letters, digits, spaces and + - = . _ : / @"),
    ("tag key with a bad character", _set("tags", {"cost*center": "v"}),
     f"{P}.tags.cost*center: got 'cost*center'; allowed: a tag key of 1 to 128 characters: letters, digits, spaces and + - = . _ : / @"),
    ("tag value too long", _set("tags", {"owner": "v" * 257}),
     f"{P}.tags.owner: got a value of 257 characters; allowed: a tag value of at most 256 characters: letters, digits, spaces and + - = . _ : / @"),
    ("tag modelstack sets", _set("tags", {"team": "other"}),
     f"{P}.tags.team: got 'team'; allowed: a key modelstack does not set itself (environment, team, managed-by, model come from the config)"),
    ("too many tags", _set("tags", {f"t{i}": "v" for i in range(47)}),
     f"{P}.tags: got 47 tags; allowed: at most 46: AWS allows 50 tags per resource and modelstack sets 4 (environment, team, managed-by, model)"),
    ("label key syntax", _set("node_groups.cpu.labels", {"team name": "nlp"}),
     f"{P}.node_groups.cpu.labels.team name: got 'team name'; allowed: a Kubernetes label key: an optional DNS-subdomain prefix and '/', then at most 63 characters a-z, A-Z, 0-9, '-', '_', '.', starting and ending alphanumeric"),
    ("label key reserved prefix", _set("node_groups.cpu.labels", {"node-role.kubernetes.io/worker": "true"}),
     f"{P}.node_groups.cpu.labels.node-role.kubernetes.io/worker: got 'node-role.kubernetes.io/worker'; allowed: a key outside the kubernetes.io and k8s.io prefixes (reserved for Kubernetes: the NodeRestriction admission plugin refuses them on a node) and modelstack.io (modelstack's own labels)"),
    ("label value syntax", _set("node_groups.cpu.labels", {"team": "-nlp"}),
     f"{P}.node_groups.cpu.labels.team: got '-nlp'; allowed: a Kubernetes label value: empty, or at most 63 characters a-z, A-Z, 0-9, '-', '_', '.', starting and ending alphanumeric"),
    ("taint key syntax", _set("node_groups.cpu.taints", [{"key": "dedicated/", "value": "nlp"}]),
     f"{P}.node_groups.cpu.taints[0].key: got 'dedicated/'; allowed: a Kubernetes taint key: an optional DNS-subdomain prefix and '/', then at most 63 characters a-z, A-Z, 0-9, '-', '_', '.', starting and ending alphanumeric"),
    ("model in kube-system", _set("models.sentiment.namespace", "kube-system"),
     f"{P}.models.sentiment.namespace: got 'kube-system'; allowed: a namespace of your own, not default, a kube-* namespace (reserved for Kubernetes) or keda, logging, monitoring (modelstack's add-ons)"),
    ("model in an add-on namespace", _set("models.sentiment.namespace", "keda"),
     f"{P}.models.sentiment.namespace: got 'keda'; allowed: a namespace of your own, not default, a kube-* namespace (reserved for Kubernetes) or keda, logging, monitoring (modelstack's add-ons)"),
    ("x86 and arm in one group", lambda v, p: (p["node_groups"]["cpu"].pop("selection"), p["node_groups"]["cpu"].update(instance_types=["m6i.xlarge", "m6g.xlarge"])),
     f"{P}.node_groups.cpu.instance_types: got m6i.xlarge=amd64, m6g.xlarge=arm64; allowed: types of one architecture (amd64 or arm64): a managed node group runs one AMI type"),
    ("gp3 iops above size", _set("node_groups.cpu.root_volume", {"size_gib": 20, "iops": 12000}),
     f"{P}.node_groups.cpu.root_volume.iops: got 12000 on 20 GiB; allowed: at most 10000 (500 IOPS per GiB on gp3), or a larger size_gib"),
    ("gp3 throughput above iops", _set("node_groups.cpu.root_volume", {"throughput": 1000}),
     f"{P}.node_groups.cpu.root_volume.throughput: got 1000 MiB/s with 3000 IOPS; allowed: at most 750 MiB/s (0.25 MiB/s per provisioned IOPS on gp3), or more iops"),
    ("iops on gp2", _set("node_groups.cpu.root_volume", {"type": "gp2", "iops": 4000}),
     f"{P}.node_groups.cpu.root_volume.iops: got 4000 on a gp2 volume; allowed: iops only with type: gp3 (gp2 performance follows its size and is not provisioned)"),
    ("no nat for a new vpc", _set("cluster.vpc.nat", "none"),
     f"{P}.cluster.vpc.nat: got 'none' for a new VPC; allowed: single or per_az: nodes run in the private subnets and, without a NAT gateway, have no route to pull images or reach the EKS API (modelstack creates no VPC endpoints); bring a VPC with endpoints as vpc.existing instead"),
    ("target in flight above what a replica holds", _set("models.sentiment.autoscaling.target_in_flight", 200),
     f"{P}.models.sentiment.autoscaling.target_in_flight: got 200; allowed: at most max_concurrency + max_queue_length (4 + 100 = 104): the proxy answers 503 beyond that, so a replica never holds more requests in flight and the autoscaler would never reach the target"),
    ("real type the table does not price", _set("node_groups.system.instance_types", ["m5d.metal"]),
     f"{P}.node_groups.system.instance_types: got 'm5d.metal'; allowed: a type from the price table: m5d.metal is a real EC2 type that the table does not price (data/ec2_known_unpriced.txt; no sourced price or allocatable figures); priced m5d types: m5d.large, m5d.xlarge, m5d.2xlarge, m5d.4xlarge, m5d.8xlarge"),
    ("real type of a family the table does not price", _set("node_groups.system.instance_types", ["trn2.48xlarge"]),
     f"{P}.node_groups.system.instance_types: got 'trn2.48xlarge'; allowed: a type from the price table: trn2.48xlarge is a real EC2 type that the table does not price (data/ec2_known_unpriced.txt; no sourced price or allocatable figures)"),
    ("response timeout beyond the load balancer's idle maximum", _set("models.sentiment.response_timeout", "500m"),
     f"{P}.models.sentiment.response_timeout: got '500m' after a cold start of 360 s and up to 60 s in the proxy's queue (30420 s in all); allowed: a cold start, queue wait and response_timeout of at most 4000 s (the load balancer's maximum idle timeout): shorten response_timeout, cold_start or the start-up probe"),
    # issue 19, 5: EKS keeps one access entry per principal and makes the creator's itself
    ("cluster creator with less than cluster-admin", _set("cluster.access_entries.ci", {"principal_arn": "arn:aws:iam::123456789012:role/ci",
                                                       "access": "admin", "cluster_creator": True}),
     f"{P}.cluster.access_entries.ci.access: got 'admin' for the cluster creator; allowed: cluster-admin, cluster-wide: "
     "what the creator's bootstrap entry grants (modelstack creates no entry for it)"),
    ("one principal in two entries", _set("cluster.access_entries.again", {
        "principal_arn": "arn:aws:iam::123456789012:role/platform-admins", "access": "view"}),
     f"{P}.cluster.access_entries.again.principal_arn: got 'arn:aws:iam::123456789012:role/platform-admins'; allowed: a "
     "principal no other entry names (access_entries.platform-admins has it): EKS allows one access entry per principal"),
    # A capacity problem in the same report as the schema's
    ("max_size too small", _set("node_groups.cpu.max_size", 1),
     f"{P}.node_groups.cpu.max_size: got 1; allowed: at least 2: the max_replicas of sentiment need 2 m6i.xlarge nodes"),
    # Bad input, round 2 (issue 19): coerced, rounded, built against the README, or a traceback later on
    ("quoted port", _set("models.sentiment.port", "8080"),
     f"{P}.models.sentiment.port: got '8080'; allowed: an integer, without quotes (8080 rather than '8080')"),
    ("port as a float", _set("models.sentiment.port", 8080.0),
     f"{P}.models.sentiment.port: got 8080.0; allowed: an integer, written without a decimal point (8080)"),
    ("port as a boolean", _set("models.sentiment.port", True),
     f"{P}.models.sentiment.port: got true; allowed: an integer, not true or false"),
    ("spot as a string", _set("node_groups.cpu.spot", "yes"),
     f"{P}.node_groups.cpu.spot: got 'yes'; allowed: true or false, unquoted (YAML 1.2, as Pulumi reads the stack file: yes, no, on, off and quoted values are strings)"),
    ("spot as a number", _set("node_groups.cpu.spot", 1),
     f"{P}.node_groups.cpu.spot: got 1; allowed: true or false (not 0 or 1)"),
    ("quoted replicas", _set("models.sentiment.autoscaling.max_replicas", "6"),
     f"{P}.models.sentiment.autoscaling.max_replicas: got '6'; allowed: an integer, without quotes (6 rather than '6')"),
    ("quoted gpu memory", _set("models.llm-chat.compute.min_gpu_memory_gib", "40"),
     f"{P}.models.llm-chat.compute.min_gpu_memory_gib: got '40'; allowed: a number, without quotes (40 rather than '40'; with pulumi config set --path, add --type float)"),
    ("infinite gpu memory", _set("models.llm-chat.compute.min_gpu_memory_gib", float("inf")),
     f"{P}.models.llm-chat.compute.min_gpu_memory_gib: got inf; allowed: a finite number (not .inf or .nan)"),
    ("quoted retention", _set("cluster.logging.retention_days", "30"),
     f"{P}.cluster.logging.retention_days: got '30'; allowed: an integer, without quotes (30 rather than '30')"),
    ("cpu as a boolean", _set("models.sentiment.compute.cpu", True),
     f"{P}.models.sentiment.compute.cpu: got true; allowed: CPU quantity must be a string like '500m' or '2', or a number of cores; got True"),
    ("env value not a string", _set("models.sentiment.env", {"WORKERS": 4}),
     f"{P}.models.sentiment.env.WORKERS: got 4; allowed: a string: quote it ('4')"),
    ("zero memory", _set("models.sentiment.compute.memory", "0"),
     f"{P}.models.sentiment.compute.memory: got '0'; allowed: a memory quantity > 0 such as '512Mi' or '2Gi'"),
    ("zero shm", _set("models.llm-chat.compute.shm", "0Gi"),
     f"{P}.models.llm-chat.compute.shm: got '0Gi'; allowed: a size > 0 such as '1Gi' for /dev/shm, or no shm key (the container runtime's default /dev/shm)"),
    ("zero hugepages", _set("models.sentiment.compute.hugepages", "0"),
     f"{P}.models.sentiment.compute.hugepages: got '0'; allowed: a size > 0 such as '256Mi', or no hugepages key (none)"),
    ("zero sidecar memory", _set("models.sentiment.sidecars", {"tfs": {"image": "r.io/x:1", "compute": {"memory": "0Mi"}}}),
     f"{P}.models.sentiment.sidecars.tfs.compute.memory: got '0Mi'; allowed: a memory quantity > 0 such as '512Mi' or '2Gi'"),
    ("5 MB image", _set("models.sentiment.image", "r.io/x:" + "1" * 5_000_000),
     f"{P}.models.sentiment.image: got a string of 5,000,007 characters starting {('r.io/x:' + '1' * 17)!r}; allowed: "
     f"{IMAGE_RULE} (at most 780 characters)"),
    ("image tag over 128", _set("models.sentiment.image", "r.io/x:" + "t" * 129),
     f"{P}.models.sentiment.image: got a string of 136 characters starting {('r.io/x:' + 't' * 17)!r}; allowed: "
     f"{IMAGE_RULE} (a tag of at most 128 characters (129 given))"),
    ("image path over 255", _set("models.sentiment.image", "r.io/" + "a/" * 127 + "ab:1"),
     f"{P}.models.sentiment.image: got a string of 263 characters starting {('r.io/' + 'a/' * 10)[:24]!r}; allowed: "
     f"{IMAGE_RULE} (a repository path of at most 255 characters (256 given))"),
    ("image path with uppercase", _set("models.sentiment.image", "r.io/Team/x:1"),
     f"{P}.models.sentiment.image: got 'r.io/Team/x:1'; allowed: {IMAGE_RULE} (a repository path of lowercase a-z and 0-9 "
     "components joined by '/', '.', '_', '__' or '-')"),
    ("image path with an empty component", _set("models.sentiment.image", "r.io/team//x:1"),
     f"{P}.models.sentiment.image: got 'r.io/team//x:1'; allowed: {IMAGE_RULE} (a repository path of lowercase a-z and 0-9 "
     "components joined by '/', '.', '_', '__' or '-')"),
    ("image on docker hub", _set("models.sentiment.image", "team/x:1"),
     f"{P}.models.sentiment.image: got 'team/x:1'; allowed: {IMAGE_RULE} (a registry host first: without one the runtime pulls from Docker Hub)"),
    ("image without tag", _set("models.sentiment.image", "r.io/x"),
     f"{P}.models.sentiment.image: got 'r.io/x'; allowed: {IMAGE_RULE} (a tag or digest (no implicit :latest))"),
    ("image tag starting with a dot", _set("models.sentiment.image", "r.io/x:.1"),
     f"{P}.models.sentiment.image: got 'r.io/x:.1'; allowed: {IMAGE_RULE} (a tag of A-Z a-z 0-9 _ . - not starting with '.' or '-')"),
    ("image digest too short", _set("models.sentiment.image", "r.io/x@sha256:abc"),
     f"{P}.models.sentiment.image: got 'r.io/x@sha256:abc'; allowed: {IMAGE_RULE} (a digest sha256:<64 lowercase hex digits> (or sha384:<96>, sha512:<128>))"),
    ("sidecar image bounded too", _set("models.sentiment.sidecars", {"tfs": {"image": "r.io/x:" + "1" * 200}}),
     f"{P}.models.sentiment.sidecars.tfs.image: got a string of 207 characters starting {('r.io/x:' + '1' * 17)!r}; allowed: "
     f"{IMAGE_RULE} (a tag of at most 128 characters (200 given))"),
    ("argument past execve's limit", _set("models.sentiment.args", ["--x", "a" * 131072]),
     f"{P}.models.sentiment.args: got a list; allowed: arguments of at most 131,071 bytes each (execve's MAX_ARG_STRLEN, NUL included; item 1 has 131,072)"),
    ("env variable past execve's limit", _set("models.sentiment.env", {"BLOB": "é" * 65534}),  # 5 + 2 x 65534 bytes
     f"{P}.models.sentiment.env: got a mapping; allowed: variables of at most 131,071 bytes as NAME=value (execve's "
     "MAX_ARG_STRLEN, NUL included; 'BLOB' has 131,073)"),
    ("probe path with a space", lambda v, p: (p["models"]["sentiment"]["autoscaling"].update(signal="cpu", target_utilization=60),
                                              p["models"]["sentiment"]["readiness_probe"]["http_get"].update(path="/health z")),
     f"{P}.models.sentiment.readiness_probe.http_get.path: got '/health z'; allowed: {HTTP_PATH_RULE}"),
    ("spot system group", _set("node_groups.system.spot", True),
     f"{P}.node_groups.system.spot: got true on the system group; allowed: false (the default): the system group is "
     "on-demand; it runs the controllers and add-ons every model depends on, which a spot interruption would take down"),
    ("second system group", _set("node_groups.system-b", {"kind": "system", "instance_types": ["m7i.large"], "min_size": 1}),
     f"{P}.node_groups.system-b.kind: got 'system' again ('system' is the system group); allowed: one node group of kind "
     "system: the platform add-ons run on one, and a second would keep nodes nothing is scheduled on; use kind cpu for more capacity"),
    ("fractional target in flight", _set("models.sentiment.autoscaling.target_in_flight", 0.5),
     f"{P}.models.sentiment.autoscaling.target_in_flight: got 0.5; allowed: a whole number of requests >= 1 (the HTTP "
     "add-on's concurrency target, InterceptorRoute scalingMetric.concurrency.targetValue, is an integer)"),
    ("target in flight 2.5", _set("models.sentiment.autoscaling.target_in_flight", 2.5),
     f"{P}.models.sentiment.autoscaling.target_in_flight: got 2.5; allowed: a whole number of requests >= 1 (the HTTP "
     "add-on's concurrency target, InterceptorRoute scalingMetric.concurrency.targetValue, is an integer)"),
    ("upscale factor off a whole percent", _set("models.sentiment.autoscaling.max_upscale_factor", 1.333),
     f"{P}.models.sentiment.autoscaling.max_upscale_factor: got 1.333; allowed: a factor whose step is a whole percent, "
     "such as 1.5 (up to +50%) per 15 s: the HPA's Percent policy takes integers (1.333 would be 33%)"),
    ("downscale factor off a whole percent", _set("models.sentiment.autoscaling.max_downscale_factor", 0.999),
     f"{P}.models.sentiment.autoscaling.max_downscale_factor: got 0.999; allowed: a factor whose step is a whole percent, "
     "such as 0.75 (down to -25%) per 15 s: the HPA's Percent policy takes integers (0.999 would be 0%)"),
    ("unknown family in a selection", _set("node_groups.cpu.selection.families", ["m6i", "m99x"]),
     f"{P}.node_groups.cpu.selection.families: got 'm99x'; allowed: instance families in the price table, e.g. m7i, c7a, g6, g5"),
    ("unknown gpu model in a selection", _set("node_groups.gpu.selection.gpu_models", ["a10g", "b300"]),
     f"{P}.node_groups.gpu.selection.gpu_models: got 'b300'; allowed: GPU models in the price table: a100, a10g, h100, "
     "h200, l4, l40s, nvidia tesla v100, t4, v100"),
    ("access entry namespace", _set("cluster.access_entries.ml-engineers.namespaces", ["models", "ML Team"]),
     f"{P}.cluster.access_entries.ml-engineers.namespaces: got a list; allowed: Kubernetes namespace names: a-z, 0-9 "
     "and '-', at most 63 characters, '*' as a wildcard (dev-*) (bad: 'ML Team')"),
    ("prometheus query past the request line", lambda v, p: p["models"]["sentiment"]["autoscaling"].update(
        signal="prometheus", prometheus_query="x" * 70000, prometheus_threshold=5),
     f"{P}.models.sentiment.autoscaling.prometheus_query: got a string of 70,000 characters starting 'xxxxxxxxxxxxxxxxxxxxxxxx'; "
     "allowed: a string of at most 65,536 characters"),
    ("stabilization beyond the HPA's hour", _set("models.llm-chat.autoscaling.downscale_stabilization", "2h"),
     f"{P}.models.llm-chat.autoscaling.downscale_stabilization: got '2h'; allowed: a duration of at most 60m (the HPA's "
     "stabilizationWindowSeconds limit)"),
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
    # Round 2 (issue 19): what strict types and the new bounds still take
    ("cpu as a number of cores", _set("models.sentiment.compute.cpu", 0.5)),
    ("an integer where a number is allowed", _set("models.llm-chat.compute.min_gpu_memory_gib", 40)),
    ("factor of a whole percent", _set("models.sentiment.autoscaling.max_upscale_factor", 2)),
    ("an hour of stabilization", _set("models.sentiment.autoscaling.downscale_stabilization", "1h")),
    ("image by digest", _set("models.sentiment.image", "r.io/team/x@sha256:" + "a" * 64)),
    ("image by tag and digest", _set("models.sentiment.image", "r.io/x:1.4.2@sha512:" + "0" * 128)),
    ("image on a registry with a port", _set("models.sentiment.image", "registry.internal:5000/team__a/x-y.z:v1_2")),
    ("image on localhost", _set("models.sentiment.image", "localhost/x:dev")),
    ("image path and tag at their maximum", _set("models.sentiment.image", "r.io/" + "a" * 255 + ":" + "t" * 128)),
    ("namespace wildcard", _set("cluster.access_entries.ml-engineers.namespaces", ["team-*"])),
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
    # 256 CPUs for the server plus the proxy's 100m: every container of the pod counts.
    assert "a replica that fits none of" in line and "256100m" in line.replace(",", ""), line
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
    assert "aws:region: got 'mars-1'; allowed: an AWS region where EKS runs: one of af-south-1, " in text
    assert "eu-central-1" in text and "sa-east-1" in text and "us-west-2" in text


def test_unknown_namespace_key_and_missing_platform():
    with pytest.raises(ConfigError) as e:
        load_platform("dev", {"aws:region": "us-east-1", "modelstack:models": {}})
    assert [i.render() for i in e.value.issues] == [
        "modelstack:models: got unknown key 'modelstack:models'; allowed: only modelstack:platform in the modelstack namespace",
        "modelstack:platform: got nothing; allowed: a mapping with environment, team, cluster, node_groups, models",
    ]


#: Every stack in stacks/ (the shipped three and any a user adds, as the README invites).
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_in_stacks_is_valid_and_sized(stack):
    platform, capacity = plan_platform(stack, stack_values(stack), f"stacks/Pulumi.{stack}.yaml")
    assert platform.stack == stack and platform.config.node_groups
    assert {g.pool for g in capacity.groups} == set(platform.config.node_groups)


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
    assert (c.prometheus, c.dcgm_exporter) == (None, None)  # unset: modelstack's pins
    assert (c.version("prometheus", "1.35"), c.version("dcgm-exporter", "1.35")) == ("29.27.0", "4.8.2")


def test_observability_can_be_turned_off_and_sized():
    values = copy.deepcopy(stack_values("dev"))
    values[CONFIG_KEY]["cluster"]["observability"] = {"prometheus": False, "retention": "2w", "volume_size": "50Gi"}
    o = load_platform("dev", values).config.cluster.observability
    assert (o.prometheus, o.retention, o.volume_size) == (False, "2w", "50Gi")


@pytest.mark.parametrize("key,value", [("retention", "15 days"), ("volume_size", "20GB"), ("promethues", True)])
def test_bad_observability_is_reported_with_its_path(key, value):
    issues = issues_of(_set(f"cluster.observability.{key}", value))
    assert len(issues) == 1 and issues[0].startswith(f"{P}.cluster.observability.{key}: got "), issues


# ------------------------------------------------------------------ provisioner (Karpenter issue)

KARPENTER_CASES = [
    ("cluster.provisioner", "fargate", "one of 'karpenter' or 'cluster-autoscaler'"),
    ("cluster.karpenter.controller_identity", "kiam", "one of 'pod-identity' or 'irsa'"),
    ("cluster.karpenter.consolidation_policy", "Always", "one of 'WhenEmpty' or 'WhenEmptyOrUnderutilized'"),
    ("cluster.karpenter.consolidate_after", "5 minutes", "a duration such as 30s, 5m or 1h30m"),
    ("cluster.karpenter.disruption_budget", "150%", "a share of nodes such as '10%' or a node count such as '2'"),
    ("cluster.karpenter.expire_after", "30d", "a duration in hours such as 720h (30 days), or Never"),
    ("cluster.karpenter.ami_version", "2025.10", "latest or an AL2023 EKS AMI release such as v20251016"),
]


@pytest.mark.parametrize("path,value,allowed", KARPENTER_CASES, ids=[c[0] for c in KARPENTER_CASES])
def test_bad_provisioner_options_are_reported_exactly(path, value, allowed):
    assert issues_of(_set(path, value)) == [f"{P}.{path}: got {value!r}; allowed: {allowed}"]


def test_unknown_karpenter_key_lists_the_keys():
    assert issues_of(_set("cluster.karpenter.keep_groups", True)) == [
        f"{P}.cluster.karpenter.keep_groups: got unknown key 'keep_groups'; allowed: one of the keys controller_identity, "
        "consolidation_policy, consolidate_after, disruption_budget, expire_after, ami_version, keep_node_groups"]


def test_keeping_node_groups_is_a_karpenter_migration_step():
    assert issues_of(_set("cluster.provisioner", "cluster-autoscaler")) == [
        f"{P}.cluster.karpenter.keep_node_groups: got true with provisioner cluster-autoscaler; allowed: true only with "
        "cluster.provisioner karpenter (it keeps the old node groups during the migration to it)"]


def test_new_stacks_default_to_karpenter_and_shipped_stacks_choose():
    values = copy.deepcopy(stack_values("dev"))
    values[CONFIG_KEY]["cluster"].pop("provisioner")
    values[CONFIG_KEY]["cluster"].pop("karpenter")
    c = load_platform("dev", values).config.cluster
    assert (c.provisioner, c.karpenter.controller_identity, c.karpenter.keep_node_groups) == ("karpenter", "pod-identity", False)
    assert c.charts.karpenter is None and c.charts.version("karpenter", c.kubernetes_version) == "1.14.1"
    chosen = {env: load_platform(env, stack_values(env)).config.cluster.provisioner for env in ("dev", "staging", "prod")}
    assert chosen == {"dev": "karpenter", "staging": "cluster-autoscaler", "prod": "cluster-autoscaler"}


def test_edge_values_of_karpenter_options_are_accepted():
    values = copy.deepcopy(stack_values("dev"))
    values[CONFIG_KEY]["cluster"]["karpenter"] = {"consolidate_after": "1h30m", "disruption_budget": "0",
                                                  "expire_after": "Never", "ami_version": "v20251016"}
    k = load_platform("dev", values).config.cluster.karpenter
    assert (k.consolidate_after, k.disruption_budget, k.expire_after, k.ami_version) == ("1h30m", "0", "Never", "v20251016")


def test_a_neuron_type_that_does_not_exist_is_still_refused():
    # The suggestions follow the price table (inf1/trn1/trn2 rows arrive with it); the refusal does not.
    (line,) = issues_of(_set("node_groups.neuron", {"kind": "inferentia", "instance_types": ["inf.xlarge"]}))
    assert line.startswith(f"{P}.node_groups.neuron.instance_types: got 'inf.xlarge'; allowed: an instance type "
                           "from the price table (data/ec2_instances.csv), e.g. inf")


def test_capacity_problems_come_in_the_same_report_as_schema_problems():
    def mutate(v, p):
        p["node_groups"]["cpu"]["max_size"] = 1  # the optimizer finds this one
        p["node_groups"]["system"]["instance_types"] = ["m7i.lage"]  # the schema checks find this one
        p["models"]["llm-chat"]["autoscaling"]["min_replicas"] = -1

    got = issues_of(mutate)
    assert [g.split(":")[1].strip() for g in got] == [
        "platform.models.llm-chat.autoscaling.min_replicas", "platform.node_groups.system.instance_types",
        "platform.node_groups.cpu.max_size"], got


def test_capacity_checks_skip_groups_whose_models_are_invalid():
    # sentiment is broken, so the cpu group it runs on is not sized: no second, derived error about cpu
    def mutate(v, p):
        p["node_groups"]["cpu"]["max_size"] = 1
        p["models"]["sentiment"]["compute"]["cpu"] = "lots"

    got = issues_of(mutate)
    assert len(got) == 1 and ".models.sentiment.compute.cpu: got 'lots'" in got[0], got


def test_prod_max_surge_zero_with_the_default_max_unavailable_is_refused():
    got = issues_of(lambda v, p: p["models"]["sentiment"].update(update_strategy={"max_surge": 0}), env="prod")
    assert f"{P}.models.sentiment.update_strategy.max_surge: got 0 in prod, where max_unavailable defaults to 0; allowed: max_surge above 0, or max_unavailable above 0, or a rollout cannot progress" in got, got


def test_settings_without_effect_are_warnings_in_the_platform():
    values = copy.deepcopy(stack_values("dev"))
    a = values[CONFIG_KEY]["models"]["sentiment"]["autoscaling"]
    a.update(upscale_tolerance=0.02, signal="cpu", target_utilization=60)
    p = load_platform("dev", values)
    assert [w.render() for w in p.warnings] == [
        f"{P}.models.sentiment.autoscaling.upscale_tolerance: got 0.02; allowed: has no effect: the cluster-wide HPA "
        "tolerance (0.1) applies (behavior.*.tolerance is feature-gated on EKS and KEDA's ScaledObject does not carry it); remove it",
        f"{P}.models.sentiment.autoscaling.target_in_flight: got 4 with signal cpu; allowed: has no effect: only signal "
        "in_flight scales on requests in flight; remove it",
    ]
    assert load_platform("dev", stack_values("dev")).warnings == ()


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


def test_only_one_access_entry_may_be_the_cluster_creator():
    def two(values, p):
        for key in ("a", "b"):
            p["cluster"]["access_entries"][key] = {"principal_arn": f"arn:aws:iam::123456789012:role/{key}",
                                                   "access": "cluster-admin", "cluster_creator": True}
    got = issues_of(two)
    assert (f"{P}.cluster.access_entries: got cluster_creator on a, b; allowed: at most one entry: only one principal "
            "creates the cluster") in got, got


# ---- models.<name>.kind and models.<name>.queue (async and batch APIs) ------------------------------------------


def test_model_kind_must_be_one_of_three():
    assert issues_of(_set("models.sentiment.kind", "stream")) == [
        f"{P}.models.sentiment.kind: got 'stream'; allowed: one of 'realtime', 'async' or 'batch'"]


def test_queue_settings_are_validated_together():
    found = issues_of(lambda v, p: p["models"]["sentiment"].update(
        kind="async", queue={"max_receives": 0, "message_timeout": "13h", "retention": 3}))
    assert f"{P}.models.sentiment.queue.max_receives: got 0; allowed: an integer >= 1" in found
    assert any(i.startswith(f"{P}.models.sentiment.queue.message_timeout: got '13h'") and "12h" in i for i in found)
    assert any(i.startswith(f"{P}.models.sentiment.queue.retention: got unknown key") for i in found)


def test_queue_needs_an_async_or_batch_kind():
    assert issues_of(_set("models.sentiment.queue", {"max_receives": 5})) == [
        f"{P}.models.sentiment: got queue with kind realtime; allowed: queue only with kind async or batch"]


def test_queue_models_take_no_signal_and_batch_no_path():
    found = issues_of(lambda v, p: p["models"]["sentiment"].update(
        kind="batch", networking={"path": "/score"}, autoscaling={"signal": "cpu", "target_utilization": 50}))
    assert len(found) == 1 and "autoscaling.signal 'cpu' with kind batch" in found[0]
    found = issues_of(lambda v, p: p["models"]["sentiment"].update(kind="batch", networking={"path": "/score"}))
    assert found == [f"{P}.models.sentiment: got networking.path with kind batch; allowed: no path: batch jobs "
                     "come through the queue"]


def test_async_kind_is_valid_with_defaults():
    values = copy.deepcopy(stack_values("dev"))
    values[CONFIG_KEY]["models"]["sentiment"]["kind"] = "async"
    del values[CONFIG_KEY]["models"]["sentiment"]["autoscaling"]["target_in_flight"]
    platform = load_platform("dev", values)
    m = platform.config.models["sentiment"]
    assert m.kind == "async" and m.queue is None


def test_an_on_demand_floor_needs_min_replicas_on_async_and_batch_workers():
    # Without min_replicas the workers scale on the queue from zero, where a floor cannot stand.
    def floor(given_min):
        def mutate(v, p):
            auto = {"max_replicas": 6, "on_demand_base": 1, **({"min_replicas": 1} if given_min else {})}
            p["models"]["sentiment"].update(kind="async", autoscaling=auto)
        return mutate

    assert f"{P}.models.sentiment.autoscaling.on_demand_base: got 1; allowed: 0 for a async model whose workers " \
           "scale from zero (min_replicas not given); give min_replicas to keep a floor of workers" in issues_of(floor(False))
    assert not any("scale from zero" in i for i in issues_of(floor(True)))
