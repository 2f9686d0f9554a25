"""planner/llm.py: an LLM model planned end to end (architecture, sizing, engine command line, probes, autoscaling,
cold start), and its bad input reported like every config error."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from modelstack.capacity import llm as sizing_llm
from modelstack.capacity import pricing
from modelstack.config.schema import CONFIG_KEY, ConfigError
from modelstack.planner import llm as planner_llm
from modelstack.planner.capacity import plan_platform
from modelstack.render import timeouts, vllm
from modelstack.serving import model_api
from modelstack import program

TODAY = date(2026, 12, 3)
LLAMA_8B = {"num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "hidden_size": 4096,
            "intermediate_size": 14336, "vocab_size": 128256, "max_position_embeddings": 131072,
            "tie_word_embeddings": False, "torch_dtype": "bfloat16"}
LLAMA_70B = {**LLAMA_8B, "num_hidden_layers": 80, "num_attention_heads": 64, "hidden_size": 8192,
             "intermediate_size": 28672}


def stack(tmp_path: Path, llm: dict, env: str = "dev", doc: dict = LLAMA_8B, **model) -> tuple[dict, str]:
    """A models-only stack file in tmp_path with one LLM `chat` (config.json beside it), and the file's path."""
    (tmp_path / "chat.config.json").write_text(json.dumps(doc))
    body = {"llm": {"weights": "s3://weights-bucket/chat", "config_file": "chat.config.json", "max_model_len": 8192,
                    **llm}, "autoscaling": {"min_replicas": 1, "max_replicas": 2}, **model}
    values = {"aws:region": "us-east-1", CONFIG_KEY: {
        "environment": env, "team": "ml", "cluster": {"name": "c1"}, "capacity": {"spot": False},
        "models": {"chat": body}}}
    return values, str(tmp_path / f"Pulumi.{env}.yaml")


def planned(tmp_path, llm=None, **kw):
    values, source = stack(tmp_path, llm or {}, **kw)
    return plan_platform("dev", values, source, TODAY)


def test_the_plan_sizes_the_llm_and_its_node_group_takes_the_chosen_type(tmp_path):
    platform, capacity = planned(tmp_path, {"max_num_seqs": 16})
    p = capacity.llms["chat"]
    assert (p.option.itype.name, p.option.degree) == ("g6e.xlarge", 1)  # tests/capacity/test_llm.py: by hand
    group = next(g for g in capacity.groups if "chat" in g.models)
    assert group.instance_types[0] == "g6e.xlarge"
    m = platform.config.models["chat"]
    assert m.compute.gpu == 1 and m.compute.gpu_models == ["l40s"] and m.compute.shm == "1Gi"
    assert m.command == list(vllm.COMMAND) and m.args[0] == "/models/chat"
    assert m.autoscaling.signal == "llm" and m.autoscaling.target_in_flight == 16 and m.max_concurrency == 16


@pytest.mark.parametrize("env, itype, degree, memory", [
    # dev and staging allow g4dn/g5/g6/g6e only (the gpu-instance-families policy): four L40S are 4.6 GiB short per
    # GPU (tests/capacity/test_llm.py), eight hold 16.4 + 5 + 2 GiB each of 40.2
    ("dev", "g6e.48xlarge", 8, 44.703),
    # prod adds p4d and p5: eight 40 GB A100s (p4d.24xlarge, $21.96/h) beat eight L40S ($30.13/h) and one p5
    ("prod", "p4d.24xlarge", 8, 40),
])
def test_seventy_b_gets_eight_gpus_and_a_shm_and_grace_to_match(tmp_path, env, itype, degree, memory):
    platform, capacity = planned(tmp_path, {"max_num_seqs": 16, "shutdown_timeout": "5m"}, doc=LLAMA_70B, env=env)
    p = capacity.llms["chat"]
    assert (p.option.itype.name, p.option.degree) == (itype, degree)
    m = platform.config.models["chat"]
    a = dict(zip(m.args[1::2], m.args[2::2]))
    assert a["--tensor-parallel-size"] == str(degree) and a["--shutdown-timeout"] == "300"
    assert m.compute.gpu == degree and m.compute.shm == f"{degree}Gi" and m.compute.min_gpu_memory_gib == memory
    assert m.termination_grace_period_seconds == m.pre_stop.sleep_seconds + 300 + timeouts.EXIT_MARGIN_SECONDS
    assert next(g for g in capacity.groups if "chat" in g.models).instance_types[0] == itype


def test_the_start_up_probe_and_the_cold_start_cover_the_weights(tmp_path):
    platform, capacity = planned(tmp_path, doc=LLAMA_70B)
    p = capacity.llms["chat"]
    w = p.architecture.weight_bytes
    assert p.copy_seconds >= w / planner_llm.S3_COPY_BYTES_PER_SECOND
    assert p.load_seconds >= w / planner_llm.LOAD_BYTES_PER_SECOND
    m = platform.config.models["chat"]
    sp = m.startup_probe
    assert sp.period_seconds * sp.failure_threshold >= p.startup_seconds
    assert m.cold_start == p.cold_start_seconds == p.node_seconds + p.image_pull_seconds + p.startup_seconds
    env = dict(m.env)
    assert int(env[vllm.ENGINE_READY_ENV]) >= p.startup_seconds


def test_rendered_objects_hold_the_request_for_the_whole_cold_start(tmp_path):
    platform, capacity = planned(tmp_path, doc=LLAMA_70B)
    args = program.model_args(platform, "chat", platform.config.models["chat"], capacity)
    plan = model_api.resolve("chat", args)
    p = capacity.llms["chat"]
    route = plan.objects["interceptor_route"]["spec"]
    assert int(route["timeouts"]["readiness"].rstrip("s")) >= p.cold_start_seconds
    assert plan.ingress_settings.idle_timeout_seconds >= p.cold_start_seconds + plan.response_seconds
    pod = plan.objects["deployment"]["spec"]["template"]["spec"]
    init = pod["initContainers"][0]
    assert init["command"][-2:] == ["s3://weights-bucket/chat", "/models/chat"]
    cache = next(v for v in pod["volumes"] if v["name"] == "cache")
    assert float(cache["emptyDir"]["sizeLimit"].rstrip("Gi")) * 2 ** 30 >= p.architecture.weight_bytes
    # the OpenAI API answers at /v1/...: the proxy takes the route's /chat off first
    assert "replace-path '^/chat/?(.*)$'" in "".join(plan.objects["proxy_config"]["data"].values())
    triggers = plan.objects["scaled_object"]["spec"]["triggers"]
    assert vllm.METRIC_WAITING in triggers[0]["metadata"]["query"]
    assert plan.objects["service"]["metadata"]["annotations"]["prometheus.io/port"] == str(args["port"])
    assert args["aws"]["statements"][-2:] == [
        {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::weights-bucket/chat/*"]},
        {"actions": ["s3:ListBucket"], "resources": ["arn:aws:s3:::weights-bucket"]}]


def test_only_types_with_instance_store_nvme_hold_s3_weights(tmp_path):
    _, capacity = planned(tmp_path, {"max_num_seqs": 4})
    assert capacity.llms["chat"].option.itype.local_nvme_gb > 0


def test_spot_pools_are_priced_at_spot(tmp_path):
    values, source = stack(tmp_path, {})
    values[CONFIG_KEY]["capacity"] = {"spot": True}
    _, capacity = plan_platform("dev", values, source, TODAY)
    o = capacity.llms["chat"].option
    assert capacity.llms["chat"].spot and o.node_usd_per_hour == pricing.price_book("us-east-1").spot(o.itype)


def errors(tmp_path, llm=None, **kw) -> list[str]:
    values, source = stack(tmp_path, llm or {}, **kw)
    with pytest.raises(ConfigError) as e:
        plan_platform("dev", values, source, TODAY)
    return [i.render() for i in e.value.issues]


def test_nothing_on_one_node_is_a_config_error_at_the_llm_key(tmp_path):
    (msg,) = errors(tmp_path, {"max_model_len": 131072, "max_num_seqs": 64}, doc=LLAMA_70B)
    assert msg.startswith(f"{CONFIG_KEY}.models.chat.llm: got 64 x 131,072 tokens of 70.6B parameters")
    assert "nothing fits one node" in msg


def test_max_model_len_past_the_models_context_is_refused(tmp_path):
    (msg,) = errors(tmp_path, {"max_model_len": 262144})
    assert "models.chat.llm.max_model_len: got 262144" in msg and "131,072" in msg


def test_a_missing_or_broken_config_json_names_the_file(tmp_path):
    (msg,) = errors(tmp_path, {"config_file": "nope.json"})
    assert "models.chat.llm.config_file: got 'nope.json'" in msg
    (msg,) = errors(tmp_path, doc={**LLAMA_8B, "num_key_value_heads": 5})
    assert "models.chat.llm.config_file" in msg and "kv_heads dividing attention_heads" in msg


def test_schema_errors_name_the_key(tmp_path):
    arch = {"layers": 32, "attention_heads": 32, "hidden_size": 4096, "vocab_size": 32000, "intermediate_size": 11008}
    assert errors(tmp_path, {"architecture": arch}) == [
        f"{CONFIG_KEY}.models.chat.llm: got both config_file and architecture; allowed: exactly one of config_file "
        "(the model's config.json) and architecture"]
    (msg,) = errors(tmp_path, {"gpu_memory_utilization": 1.5})
    assert msg == f"{CONFIG_KEY}.models.chat.llm.gpu_memory_utilization: got 1.5; allowed: a number <= 0.98"
    (msg,) = errors(tmp_path, command=["python"])
    assert msg.startswith(f"{CONFIG_KEY}.models.chat: got command with llm; allowed: no command, args")


def test_signal_llm_is_only_for_llm_models(tmp_path):
    values, source = stack(tmp_path, {})
    values[CONFIG_KEY]["models"]["web"] = {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1",
                                           "autoscaling": {"signal": "llm"}}
    with pytest.raises(ConfigError) as e:
        plan_platform("dev", values, source, TODAY)
    assert any("models.web.autoscaling.signal: got 'llm' on a model without llm" in i.render() for i in e.value.issues)


def test_the_plan_row_states_the_memory_budget():
    a = sizing_llm.Architecture(32, 32, 8, 4096, 128256, 128, 14336)
    s = sizing_llm.Settings(8192, 16)
    cat = pricing.catalog()
    o = sizing_llm.Option(cat["g6e.xlarge"], 1, 1, 1.861, sizing_llm.budget(a, s, 44.703, 1))
    p = planner_llm.LlmPlan("chat", o, a, s, False, "s3://b/c", 1, 2, 3, 4, 5)
    r = p.row()
    assert (r["weights_gib"], r["kv_gib"], r["overhead_gib"]) == (14.96, 16.0, 2.0)
    assert r["cold_start"]["total"] == 15 and r["usd_per_replica_hour"] == 1.861
    lines = planner_llm.table({"chat": p})
    assert "1 x l40s" in "\n".join(lines) and all(len(line) <= 120 for line in lines)


@pytest.mark.parametrize("budget", [1, 95, 1000, 2350, 10_000])
def test_the_start_up_probe_covers_any_budget_within_the_schemas_bounds(budget):
    p = planner_llm.startup_probe(planner_llm.cfg.HttpGet(path="/health"), budget)
    assert p.period_seconds * p.failure_threshold >= budget and p.failure_threshold <= 100
    assert p.period_seconds * (p.failure_threshold - 1) < budget  # no more than one period beyond it


def test_another_vllm_tag_is_a_warning_naming_the_checked_release(tmp_path):
    platform, _ = planned(tmp_path, image="123456789012.dkr.ecr.us-east-1.amazonaws.com/vllm/vllm-openai:v0.30.0")
    (w,) = [w for w in platform.warnings if w.path.endswith("models.chat.image")]
    assert "v0.30.0" in w.given and f"vLLM {vllm.VERSION}" in w.allowed
    pinned, _ = planned(tmp_path, image=f"123456789012.dkr.ecr.us-east-1.amazonaws.com/vllm/vllm-openai:v{vllm.VERSION}")
    assert not [w for w in pinned.warnings if w.path.endswith("models.chat.image")]


def test_under_cluster_autoscaler_the_llms_node_group_puts_the_kubelet_on_the_instance_stores(tmp_path):
    values, source = stack(tmp_path, {}, doc=LLAMA_70B)
    values[CONFIG_KEY]["cluster"]["provisioner"] = "cluster-autoscaler"
    platform, capacity = plan_platform("dev", values, source, TODAY)
    group = next(g for g in capacity.groups if "chat" in g.models)
    args = program._node_group_args(platform, group, _FakeCluster(), {}, capacity)
    # s3:// weights without the node cache: the RAID, not the cache's folder (nothing more in the user data, so an
    # existing LLM group's launch template is what it was)
    assert args["instance_store_policy"] == "RAID0" and "weights_cache" not in args
    other = next(g for g in capacity.groups if g.kind == "system")
    assert "instance_store_policy" not in program._node_group_args(platform, other, _FakeCluster(), {}, capacity)


class _FakeCluster:
    cluster_name = node_role_arn = private_subnet_ids = kubernetes_version = "x"


def test_the_engine_drains_the_longest_request_by_default(tmp_path):
    platform, _ = planned(tmp_path, response_timeout="15m")
    m = platform.config.models["chat"]
    a = dict(zip(m.args[1::2], m.args[2::2]))
    assert a["--shutdown-timeout"] == "900"
    assert m.termination_grace_period_seconds == m.pre_stop.sleep_seconds + 900 + timeouts.EXIT_MARGIN_SECONDS


def test_hugging_face_weights_are_downloaded_by_the_engine_within_its_budget(tmp_path):
    platform, capacity = planned(tmp_path, {"weights": "hf://meta-llama/Llama-3.1-8B-Instruct"})
    p, m = capacity.llms["chat"], platform.config.models["chat"]
    assert m.args[0] == "meta-llama/Llama-3.1-8B-Instruct" and m.aws is None
    assert p.copy_seconds >= p.architecture.weight_bytes / planner_llm.HF_DOWNLOAD_BYTES_PER_SECOND
    assert planner_llm.model_api_extras(p) == {}


def test_under_karpenter_only_node_cache_classes_carry_the_cache_folders_user_data(tmp_path):
    platform, capacity = planned(tmp_path, doc=LLAMA_70B)  # s3:// weights, no node cache
    (cls,) = program.llm_nvme_classes(capacity)
    assert program.llm_nvme_classes(capacity, node_cache=True) == set()
    volume = program.node_classes(capacity)[cls]
    assert program.node_class_args(cls, volume, raid0=True) == {
        **program.node_class_args(cls, volume), "instance_store_policy": "RAID0"}  # no userData: no drift
    assert program.node_class_args(cls, volume, raid0=True, weights_cache=True)["weights_cache"] is True
