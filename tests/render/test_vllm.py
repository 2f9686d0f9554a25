"""render/vllm.py: the pinned engine, its command line, metric names and paths, held to vLLM's own definitions at
the pinned release (components/data/vllm_facts.json, generated from the wheel by tools/vllm_facts.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from modelstack.capacity import llm as sizing_llm
from modelstack.config import schema
from modelstack.data import read_text
from modelstack.render import autoscaling, vllm

ROOT = Path(__file__).resolve().parents[2]
FACTS = json.loads(read_text("vllm_facts.json"))
FLAGS = set(FACTS["engine_flags"]) | set(FACTS["server_flags"])


def engine(**kw) -> vllm.EngineArgs:
    base = dict(model="/models/chat", served_model_name="chat", tensor_parallel_size=4, max_model_len=8192,
                max_num_seqs=16, gpu_memory_utilization=0.9)
    return vllm.EngineArgs(**{**base, **kw})


def test_the_facts_are_of_the_pinned_release_and_the_image_follows_it():
    assert FACTS["version"] == vllm.VERSION and FACTS["tag"] == f"v{vllm.VERSION}"
    assert vllm.IMAGE.endswith(f"/vllm/vllm-openai:{FACTS['tag']}")
    assert vllm.COMMAND[0] in FACTS["console_scripts"]


@pytest.mark.parametrize("field, flag", sorted(vllm.FLAGS.items()))
def test_every_rendered_flag_is_one_vllm_defines(field, flag):
    assert flag in FLAGS, f"{flag} ({field}) is not an argument of vllm {vllm.VERSION}"


def test_args_render_every_setting_after_the_model_path():
    a = vllm.args(engine(shutdown_timeout_seconds=600))
    assert a[0] == "/models/chat"
    pairs = dict(zip(a[1::2], a[2::2]))
    assert pairs == {"--served-model-name": "chat", "--tensor-parallel-size": "4", "--max-model-len": "8192",
                     "--max-num-seqs": "16", "--gpu-memory-utilization": "0.9", "--port": "8000",
                     "--shutdown-timeout": "600"}
    assert all(f in FLAGS for f in pairs)


def test_kv_cache_dtype_and_quantization_only_when_set():
    assert "--kv-cache-dtype" not in vllm.args(engine())
    a = vllm.args(engine(kv_cache_dtype="fp8", quantization="fp8"))
    assert a[a.index("--kv-cache-dtype") + 1] == "fp8" and a[a.index("--quantization") + 1] == "fp8"


def test_the_config_offers_only_kv_cache_types_vllm_takes():
    offered = schema.LlmConfig.model_fields["kv_cache_dtype"].annotation.__args__
    assert set(offered) <= set(FACTS["kv_cache_dtypes"])


def test_metric_names_routes_and_the_engine_timeout_default_are_vllms():
    assert {vllm.METRIC_RUNNING, vllm.METRIC_WAITING} <= set(FACTS["metrics"])
    assert {vllm.HEALTH_PATH, vllm.METRICS_PATH} <= set(FACTS["routes"])
    assert int(FACTS["env_defaults"][vllm.ENGINE_READY_ENV]) == vllm.ENGINE_READY_DEFAULT_SECONDS


def test_gpu_thresholds_of_the_sizing_are_vllms():
    assert sizing_llm.MIN_CAPABILITY == FACTS["gpu_capability"]["bfloat16_min"]
    assert sizing_llm.FP8_CAPABILITY == FACTS["gpu_capability"]["fp8_min"]


def test_the_llm_trigger_queries_the_engine_metrics_of_the_model_service():
    k = autoscaling.Knobs(signal="llm", target_in_flight=16.0, min_replicas=1, max_replicas=4)
    t = autoscaling.Target(deployment="chat", namespace="models", container="model", interceptor_route="chat",
                           prometheus_address="http://prom:80")
    engine_trigger, wake = autoscaling.triggers(k, t)
    q = engine_trigger["metadata"]["query"]
    assert vllm.METRIC_RUNNING in q and vllm.METRIC_WAITING in q and 'service="chat"' in q and 'namespace="models"' in q
    assert engine_trigger["metricType"] == "AverageValue" and engine_trigger["metadata"]["threshold"] == "16"
    assert wake["type"] == "external-push" and wake["metadata"]["interceptorRoute"] == "chat"
    assert not autoscaling.Knobs(signal="llm", min_replicas=0, scale_to_zero=True).problems()


def test_shm_grows_with_tensor_parallel():
    assert [vllm.shm_size(t) for t in (1, 2, 8)] == ["1Gi", "2Gi", "8Gi"]


def test_the_facts_file_is_what_the_cached_wheel_says():
    sys.path.insert(0, str(ROOT / "tools"))
    import vllm_facts
    if not vllm_facts.wheel_path().is_file():
        pytest.skip(f"the pinned wheel is not cached: `make vllm-wheel` "
                    f"({vllm_facts.wheel_path()})")
    assert vllm_facts.text(vllm_facts.facts(vllm_facts.fetch())) == read_text("vllm_facts.json")
